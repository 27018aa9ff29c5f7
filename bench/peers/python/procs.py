"""Issue 6's process benchmarks in Python, with asyncio tasks (Python's
lightweight concurrency: coroutines on one event loop, one OS thread), the
peer of bench/programs/procs.iv for two of its benchmarks (same arguments,
same stdout, the same "# name value" timing lines, here on stderr as the
Erlang peer's). A task's mailbox is an asyncio.Queue; a send is put_nowait,
a receive `await inbox.get()`. One benchmark per run:

  spawn N        (default 100000) create N tasks that each wait on their
                 mailbox; time the creation loop (asyncio.create_task: the
                 task is scheduled, and starts waiting at the loop's next
                 turn, as a spawned Erlang or ivm process starts when a
                 scheduler gets to it), let them all reach their receive,
                 measure memory per task, then stop them all and wait until
                 every one has ended (asyncio.gather).
                 stdout: "spawned N"
                 stderr: # spawn_us_per_process, # bytes_per_process
                 (growth of resident memory, from /proc/self/statm, from
                 before the loop to when all wait, divided by N; absent
                 where there is no /proc), # stop_us_per_process
  ring N HOPS    (defaults 10000 1000000) a ring of N tasks; an integer
                 token goes round it, incremented at each hop (one send to
                 the next task's mailbox), until HOPS hops.
                 stdout: "ring N HOPS", then the final token (= HOPS)
                 stderr: # ring_msgs_per_sec

Other benchmarks of procs.iv (bigmsg, spawnmap, fork) have no Python peer:
the program prints a usage line on stderr and exits with status 2. Times
are wall time between time.monotonic_ns() readings.
    python3 bench/peers/python/procs.py ring 10000 1000000
    python3 bench/peers/python/procs.py spawn 100000
"""
import asyncio
import os
import sys
import time

now_ns = time.monotonic_ns


def report(name, value):
    print("# %s %.3f" % (name, value), file=sys.stderr)


def resident_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None


# ---- spawn N ----------------------------------------------------------------

async def waiter(inbox):
    while await inbox.get() != "stop":
        pass


async def spawn_bench(n):
    r0 = resident_bytes()
    t0 = now_ns()
    inboxes = []
    tasks = []
    for _ in range(n):
        inbox = asyncio.Queue()
        inboxes.append(inbox)
        tasks.append(asyncio.create_task(waiter(inbox)))
    t1 = now_ns()
    await asyncio.sleep(0)  # every task runs to its first receive
    r1 = resident_bytes()
    t2 = now_ns()
    for inbox in inboxes:
        inbox.put_nowait("stop")
    await asyncio.gather(*tasks)
    t3 = now_ns()
    print("spawned", n)
    sys.stdout.flush()
    report("spawn_us_per_process", (t1 - t0) / 1000 / max(n, 1))
    if r0 is not None and r1 is not None:
        report("bytes_per_process", (r1 - r0) / max(n, 1))
    report("stop_us_per_process", (t3 - t2) / 1000 / max(n, 1))


# ---- ring N HOPS ------------------------------------------------------------

# A node passes the token on, one more hop counted, until it has made hops
# hops; the node that receives it then hands it to main.
async def ring_node(inbox, main, hops):
    kind, nxt = await inbox.get()  # ("next", the next node's mailbox)
    while True:
        t = await inbox.get()
        if t == "stop":
            return
        if t == hops:
            main.put_nowait(("done", t))
        else:
            nxt.put_nowait(t + 1)


async def ring(n, hops):
    main = asyncio.Queue()
    inboxes = [asyncio.Queue() for _ in range(n)]
    tasks = [asyncio.create_task(ring_node(q, main, hops)) for q in inboxes]
    for q, nxt in zip(inboxes, inboxes[1:] + inboxes[:1]):
        q.put_nowait(("next", nxt))
    t0 = now_ns()
    inboxes[0].put_nowait(0)
    _, token = await main.get()
    t1 = now_ns()
    for q in inboxes:
        q.put_nowait("stop")
    await asyncio.gather(*tasks)
    print("ring", n, hops)
    print(token)
    sys.stdout.flush()
    report("ring_msgs_per_sec", hops / (max(t1 - t0, 1) / 1e9))


# ---- main -------------------------------------------------------------------

def arg(i, default):
    return int(sys.argv[i + 1]) if len(sys.argv) > i + 1 else default


def main():
    bench = sys.argv[1] if len(sys.argv) > 1 else None
    if bench == "spawn":
        asyncio.run(spawn_bench(arg(1, 100000)))
    elif bench == "ring":
        asyncio.run(ring(arg(1, 10000), arg(2, 1000000)))
    else:
        print("usage: procs.py spawn [N] | ring [N HOPS]"
              " (bigmsg, spawnmap and fork have no Python peer)", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
