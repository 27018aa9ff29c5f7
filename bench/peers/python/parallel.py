"""Issue 8's parallel workload in Python, the peer of
bench/programs/parallel.iv and bench/peers/erlang/parallel.erl (same
arguments, same stdout, the same "# name value" timing line, here on stderr
as the Erlang peer's):

  parallel.py [P N [W]]   (defaults 8 33) P tasks each compute a naive,
                          doubly recursive fib(N) in a multiprocessing.Pool
                          (CPython's threads share one interpreter lock, so
                          parallel CPU work in Python means OS processes).
                          W is the pool's size, the number of worker
                          processes (default P, one per task); W plays the
                          part of ivm's --schedulers and Erlang's +S.
                          The answers come back in task order (pool.map).
                          stdout: "parallel P N", then the sum of the P
                          answers (= P * fib(N))
                          stderr: # parallel_ms (wall time from creating the
                          pool, which starts the worker processes, Python's
                          spawn, to the last answer; the pool's shutdown
                          comes after the clock stops)

    python3 bench/peers/python/parallel.py 8 33
"""
import multiprocessing
import sys
import time


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def main():
    args = [int(a) for a in sys.argv[1:]]
    p = args[0] if len(args) > 0 else 8
    n = args[1] if len(args) > 1 else 33
    w = args[2] if len(args) > 2 else p
    t0 = time.monotonic_ns()
    pool = multiprocessing.Pool(processes=max(w, 1))
    answers = pool.map(fib, [n] * p, chunksize=1)
    t1 = time.monotonic_ns()
    pool.close()
    pool.join()
    print("parallel", p, n)
    print(sum(answers))
    sys.stdout.flush()
    print("# parallel_ms %.3f" % ((t1 - t0) / 1e6), file=sys.stderr)


if __name__ == "__main__":
    main()
