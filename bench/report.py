#!/usr/bin/env python3
"""bench/run's report writer: Markdown tables and gnuplot plots from what
bench/run measured. Not meant to be run by hand; each subcommand prints
Markdown on stdout.

  report.py table NAME JSON... --rss RSSFILE --summary TSV
      one hyperfine JSON per command (the first command is ivm's): a table
      of median, min - max, peak RSS and ratio to ivm; appends
      "bench<TAB>peer<TAB>ivm/peer" lines to TSV for the summary.
  report.py inprog RECORDS TITLE --summary TSV [--only BENCH-PREFIX...]
      records of in-program timings, "bench<TAB>who<TAB>metric<TAB>value"
      (several runs each): medians (min - max) and ratio to ivm.
  report.py summary TSV       the summary list, losses first.
  report.py parallel RECORDS OUTDIR P N
  report.py forkplot RECORDS OUTDIR
  report.py ringplot RECORDS OUTDIR
  report.py gcplot RECORDS OUTDIR
  report.py micro JSON
"""
import collections
import json
import os
import re
import statistics
import subprocess
import sys


def label(cmd):
    """A peer's name, from its command line."""
    w = cmd.split()
    exe = os.path.basename(w[0]) if w else ""
    if exe == "taskset":
        return label(" ".join(w[2:]))
    if exe == "ivm":
        return "ivm"
    if exe == "lua5.4":
        return "Lua 5.4"
    if exe == "luajit":
        return "LuaJIT (interpreter)" if "-joff" in w else "LuaJIT (JIT)"
    if exe.startswith("python"):
        return "Python 3"
    if exe == "erl":
        return "Erlang (1 scheduler)" if "+S" in w and w[w.index("+S") + 1].split(":")[0] == "1" else "Erlang"
    if exe == "clojure":
        return "Clojure"
    if exe == "fork_cost":
        return "Unix fork"
    return exe


def fmt_time(s):
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"


def fmt_kib(k):
    if k is None:
        return ""
    k = float(k)
    return f"{k / 1024:.1f} MiB" if k >= 1024 else f"{k:.0f} KiB"


def args_after(argv, flag):
    if flag not in argv:
        return None
    return argv[argv.index(flag) + 1]


def table(argv):
    name = argv[0]
    files = [a for a in argv[1:argv.index("--rss")]]
    rss = [l.strip() for l in open(args_after(argv, "--rss"))]
    summary = args_after(argv, "--summary")
    rs = [json.load(open(f))["results"][0] for f in files]
    base = statistics.median(rs[0]["times"])
    out = [f"## {name}\n",
           f"Median and range of at least {min(len(r['times']) for r in rs)} runs each (hyperfine, after warm-up);"
           " peak RSS from one more run under `/usr/bin/time -f %M`; ratio = the command's"
           " median over ivm's (above 1: ivm is faster).\n",
           "| command | median | min – max | peak RSS | ratio to ivm |", "|---|---|---|---|---|"]
    with open(summary, "a") as tsv:
        for i, r in enumerate(rs):
            m = statistics.median(r["times"])
            out.append(f"| `{r['command']}` | {fmt_time(m)} | {fmt_time(r['min'])} – {fmt_time(r['max'])}"
                       f" | {fmt_kib(rss[i] if i < len(rss) else None)} | {m / base:.2f} |")
            if i > 0 and label(r["command"]) != "ivm":
                print(f"{name}\t{label(r['command'])}\t{base / m}", file=tsv)
    print("\n".join(out) + "\n")


def read_records(path):
    vals = collections.OrderedDict()
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 4:
            continue
        bench, who, metric, value = parts[:4]
        try:
            vals.setdefault((bench, metric, who), []).append(float(value))
        except ValueError:
            pass
    return vals


def higher_is_better(metric):
    return metric.endswith("per_sec") or metric.endswith("_per_s")


def fmt_num(x):
    if abs(x) >= 1e7:
        return f"{x:.3e}"
    return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:.4g}"


NAMES = {"ivm": "ivm", "erlang": "Erlang", "lua": "Lua 5.4", "python": "Python 3", "unix": "Unix fork"}


def who_name(who):
    base, _, at = who.partition("@")
    return NAMES.get(base, base) + (f" on {at} schedulers" if at else "")


def comparable(metric):
    """Metrics the summary compares: times (lower is better), rates."""
    return higher_is_better(metric) or re.search(r"_(us|ms|ns|s)(_|$)", metric) is not None


def inprog(argv):
    vals = read_records(argv[0])
    title = argv[1]
    summary = args_after(argv, "--summary")
    only = argv[argv.index("--only") + 1:] if "--only" in argv else None
    print(title + "\n")
    print("| benchmark | metric | system | median (min – max) | ratio to ivm |\n|---|---|---|---|---|")
    tsv = open(summary, "a") if summary else None
    for (bench, metric, who), v in vals.items():
        if only and not any(bench.startswith(o) for o in only):
            continue
        med = statistics.median(v)
        at = who.partition("@")[2]
        ivm = vals.get((bench, metric, "ivm" + (f"@{at}" if at else "")))
        ratio = ""
        if ivm and not who.startswith("ivm") and statistics.median(ivm):
            ratio = f"{med / statistics.median(ivm):.2f}"
            if tsv and med and comparable(metric):
                r = statistics.median(ivm) / med
                if higher_is_better(metric):
                    r = 1 / r
                print(f"{bench} ({metric})\t{who_name(who)}\t{r}", file=tsv)
        if metric == "peak_rss_kib":
            rng = f"{fmt_kib(med)} ({fmt_kib(min(v))} – {fmt_kib(max(v))})"
        elif len(v) > 1:
            rng = f"{fmt_num(med)} ({fmt_num(min(v))} – {fmt_num(max(v))})"
        else:
            rng = fmt_num(med)
        print(f"| {bench} | {metric} | {who} | {rng} | {ratio} |")
    print()


def summary(argv):
    rows = []
    for line in open(argv[0]):
        bench, peer, r = line.rstrip("\n").split("\t")
        rows.append((float(r), bench, peer))
    rows.sort(reverse=True)
    print("## Summary\n")
    print("Each line compares ivm's median with one peer's (whole-program wall time,"
          " or the in-program metric named); losses first.\n")
    for r, bench, peer in rows:
        worse, better = ("worse", "better") if "late" in bench or "pause" in bench else ("slower", "faster")
        if r >= 1.05:
            print(f"- ivm is **{r:.1f}× {worse}** than {peer} on {bench}")
        elif r <= 1 / 1.05:
            print(f"- ivm is {1 / r:.1f}× {better} than {peer} on {bench}")
        else:
            print(f"- ivm is about as fast as {peer} on {bench} ({r:.2f})")
    print()


def gnuplot(outdir, name, body):
    for kind, term in (("svg", "svg size 720,460 dynamic font 'sans,12'"),
                       ("png", "pngcairo size 720,460 font 'sans,10'")):
        script = f'set terminal {term}\nset output "{outdir}/{name}.{kind}"\n{body}\n'
        subprocess.run(["gnuplot"], input=script, text=True, check=True)


def med(vals, key):
    v = vals.get(key)
    return statistics.median(v) if v else None


def parallel(argv):
    allvals = read_records(argv[0])
    outdir, p, n = argv[1], argv[2], argv[3]
    summary = args_after(argv, "--summary")
    rss = {w: statistics.median(v) for (_, metric, w), v in allvals.items() if metric == "peak_rss_kib"}
    vals = {k: v for k, v in allvals.items() if k[1] != "peak_rss_kib"}
    whos = list(dict.fromkeys(w.split("@")[0] for (_, _, w) in vals))
    counts = sorted({int(w.split("@")[1]) for (_, _, w) in vals})
    m = {w: statistics.median(v) for (_, _, w), v in vals.items()}
    mm = {w: (min(v), max(v)) for (_, _, w), v in vals.items()}
    print(f"## parallel\n\n{p} processes each compute a naive (fib {n}) (bench/programs/parallel.iv and its"
          " peers), timed inside the program from the first spawn to the last answer: median of the runs"
          " in ms (min – max), the speed-up over the same system on one scheduler thread"
          " (`ivm --schedulers S`, `erl +S S:S`, Python's pool of S under `taskset` on S cores),"
          " peak RSS, and the time over ivm's on as many schedulers.\n")
    print("| schedulers | " + " | ".join(f"{who_name(w)} ms | speed-up | peak RSS" + (" | / ivm" if w != "ivm" else "")
                                          for w in whos) + " |")
    print("|---|" + "".join("---|---|---|" + ("---|" if w != "ivm" else "") for w in whos))
    dat = os.path.join(outdir, "parallel.dat")
    tsv = open(summary, "a") if summary else None
    with open(dat, "w") as f:
        for s in counts:
            cells, ups = [], []
            for w in whos:
                k = f"{w}@{s}"
                if k not in m:
                    cells += [""] * (3 if w == "ivm" else 4)
                    ups.append("NaN")
                    continue
                up = m[f"{w}@1"] / m[k] if f"{w}@1" in m else float("nan")
                cells += [f"{m[k]:.1f} ({mm[k][0]:.1f} – {mm[k][1]:.1f})", f"{up:.2f}", fmt_kib(rss.get(k))]
                if w != "ivm":
                    ratio = m[k] / m[f"ivm@{s}"] if f"ivm@{s}" in m else float("nan")
                    cells.append(f"{ratio:.2f}")
                    if tsv and f"ivm@{s}" in m:
                        print(f"parallel on {s} scheduler(s)\t{who_name(w)}\t{m[f'ivm@{s}'] / m[k]}", file=tsv)
                ups.append(f"{up}")
            print(f"| {s} | " + " | ".join(cells) + " |")
            print(s, *ups, file=f)
    plots = ", \\\n     ".join(f'"{dat}" using 1:{i + 2} with linespoints pointtype {7 - i} title "{who_name(w)}"'
                              for i, w in enumerate(whos))
    gnuplot(outdir, "parallel", f"""set title "parallel: {p} processes x naive (fib {n})"
set xlabel "scheduler threads"
set ylabel "speed-up over one scheduler"
set key top left
set grid
set xrange [0.8:{counts[-1]} + 0.2]
set yrange [0:{counts[-1]} + 0.5]
set xtics ({",".join(map(str, counts))})
plot x title "ideal" dashtype 2 linecolor rgb "gray", \\
     {plots}""")
    os.remove(dat)
    print("\n![speed-up against scheduler count](parallel.svg) ([PNG](parallel.png))\n")


def forkplot(argv):
    """Records: bench "size SIZE", who ivm-fork / ivm-spawnmap / erlang-spawnmap / unix."""
    vals = read_records(argv[0])
    outdir = argv[1]
    series = [("ivm fork (deep)", "ivm", "fork_deep_us"),
              ("ivm fork (shallow)", "ivm", "fork_shallow_us"),
              ("ivm spawn capturing the map", "ivm", "spawn_capturing_map_us"),
              ("Erlang spawn capturing the map", "erlang", "spawn_capturing_map_us"),
              ("Unix fork() of as much memory", "unix", "unix_fork_us")]
    sizes = sorted({int(float(b.split()[1])) for (b, _, _) in vals if b.startswith("size ")})
    dat = os.path.join(outdir, "fork.dat")
    print("## Fork and spawn against state size\n")
    print("Microseconds per fork or spawn (median of the runs) of a process holding a map of SIZE"
          " integer keys: ivm's fork (`procs.iv fork SIZE DEPTH N`), ivm's and Erlang's spawn of a"
          " closure capturing the map (`procs.iv spawnmap SIZE N`, `procs.erl`), and Unix fork() of a"
          " process that has touched as many MB as ivm's peak RSS at that size (`fork_cost.c MB N`).\n")
    print("| SIZE | " + " | ".join(s[0] for s in series) + " |\n|---|" + "---|" * len(series))
    with open(dat, "w") as f:
        for size in sizes:
            row = [med(vals, (f"size {size}", metric, who)) for _, who, metric in series]
            print(f"| {size:,} | " + " | ".join("" if x is None else f"{x:.4g}" for x in row) + " |")
            print(size, *["NaN" if x is None else x for x in row], file=f)
    plots = ", \\\n     ".join(f'"{dat}" using 1:{i + 2} with linespoints pointtype {i + 4} title "{s[0]}"'
                              for i, s in enumerate(series))
    gnuplot(outdir, "fork", f"""set title "fork / spawn time against state size"
set xlabel "map size (entries)"
set ylabel "µs per fork or spawn"
set logscale xy
set offsets graph 0.05, graph 0.05, 0, 0
set key top left
set grid
plot {plots}""")
    os.remove(dat)
    print("\n![fork and spawn time against state size](fork.svg) ([PNG](fork.png))\n")


def ringplot(argv):
    vals = read_records(argv[0])
    outdir = argv[1]
    whos = list(dict.fromkeys(w for (b, _, w) in vals if b.startswith("ring ")))
    ns = sorted({int(b.split()[1]) for (b, _, _) in vals if b.startswith("ring ")})
    dat = os.path.join(outdir, "ring.dat")
    print("## Ring throughput against process count\n")
    print("Millions of messages a second (median of the runs) through a ring of N processes"
          " (`procs.iv ring N HOPS`, its peers the same), one scheduler thread.\n")
    print("| N | " + " | ".join(map(who_name, whos)) + " |\n|---|" + "---|" * len(whos))
    with open(dat, "w") as f:
        for n in ns:
            row = [med(vals, (f"ring {n}", "ring_msgs_per_sec", w)) for w in whos]
            print(f"| {n:,} | " + " | ".join("" if x is None else f"{x / 1e6:.2f}" for x in row) + " |")
            print(n, *["NaN" if x is None else x / 1e6 for x in row], file=f)
    plots = ", \\\n     ".join(f'"{dat}" using 1:{i + 2} with linespoints pointtype {i + 5} title "{who_name(w)}"'
                              for i, w in enumerate(whos))
    gnuplot(outdir, "ring", f"""set title "ring throughput against process count"
set xlabel "processes in the ring"
set ylabel "million messages / s"
set logscale x
set yrange [0:*]
set key top right
set grid
plot {plots}""")
    os.remove(dat)
    print("\n![ring throughput against process count](ring.svg) ([PNG](ring.png))\n")


def gcplot(argv):
    vals = read_records(argv[0])
    outdir = argv[1]
    whos = list(dict.fromkeys(w for (_, _, w) in vals))
    rows = []
    for w in whos:
        for what, prefix, unit in (("probe lateness", "probe_late_", 1e-3),
                                   ("stop-the-world pause", "gc_pause_", 1),
                                   ("handshake pause", "gc_handshake_", 1e-3)):
            keys = [f"{prefix}p50_{'us' if unit != 1 else 'ms'}", f"{prefix}p99_{'us' if unit != 1 else 'ms'}",
                    f"{prefix}max_{'us' if unit != 1 else 'ms'}" if unit != 1 else "gc_pause_longest_ms"]
            got = [None] * 3
            for (b, metric, who2), v in vals.items():
                if who2 == w and metric in keys:
                    got[keys.index(metric)] = statistics.median(v) * unit
            if any(x is not None for x in got):
                rows.append((f"{w} {what}", got))
    dat = os.path.join(outdir, "gc.dat")
    print("## Collector pauses\n")
    print("The gc_latency program (`gc_latency.iv LIVE-MB OPS`, `gc_latency.erl`): how late a probe"
          " process wakes up (p50, p99, max; a pause shows as lateness), and, for ivm, the"
          " collector's own pauses from `--gc-stats`: its stop-the-world collections' and, for the"
          " concurrent collector, the threads' handshakes (a thread's own pause at its safepoint,"
          " the operating system's descheduling included), in ms (median over the runs),"
          " per collector mode. The concurrent collector's waits for a cycle when memory runs"
          " short are the `gc_waits` rows below.\n")
    print("| system | p50 ms | p99 ms | max ms |\n|---|---|---|---|")
    with open(dat, "w") as f:
        for name, got in rows:
            print(f"| {name} | " + " | ".join("" if x is None else f"{x:.3f}" for x in got) + " |")
            print('"' + name.replace('"', "") + '"', *["NaN" if x is None else max(x, 1e-3) for x in got], file=f)
    gnuplot(outdir, "gc", f"""set title "pause / lateness percentiles per collector"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "ms (log)"
set logscale y
set yrange [0.001:*]
set xtics rotate by -25
set key top left
set grid ytics
plot "{dat}" using 2:xtic(1) title "p50", "" using 3 title "p99", "" using 4 title "max" """)
    os.remove(dat)
    print("\n![pause percentiles per collector mode](gc.svg) ([PNG](gc.png))\n")


def micro(argv):
    d = json.load(open(argv[0]))
    std = {"name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
           "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit",
           "aggregate_name", "aggregate_unit", "label", "error_occurred", "error_message"}
    print("## micro\n")
    print(f"Google Benchmark (bench/micro, `build-bench/bench/ivm_micro`), {d['context'].get('date', '')};"
          " full results in [micro.json](micro.json).\n")
    print("| name | time per iteration | CPU per iteration | iterations | counters |\n|---|---|---|---|---|")
    for b in d["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        ctr = ", ".join(f"{k} {fmt_num(v)}" for k, v in b.items() if k not in std and isinstance(v, (int, float)))
        print(f"| {b['name']} | {b['real_time']:.4g} {b['time_unit']} | {b['cpu_time']:.4g} {b['time_unit']}"
              f" | {b['iterations']} | {ctr} |")
    print()


if __name__ == "__main__":
    cmd, rest = sys.argv[1], sys.argv[2:]
    {"table": table, "inprog": inprog, "summary": summary, "parallel": parallel, "forkplot": forkplot,
     "ringplot": ringplot, "gcplot": gcplot, "micro": micro}[cmd](rest)
