// Micro-benchmarks of processes (issue 8): spawn of a process that exits
// (spawn, run, exit, join), fork (the child gets nil and returns, the
// parent joins it), fork alone at depth 1 and 1000 (the child then waits
// forever), a send/receive round trip between two processes, and the same
// round trip carrying a map of 1K or 1M entries (a message is a
// reference: its size must not matter).
//
// Each benchmark loads, once, a small ivm program whose top level is one
// call doing K operations, and each iteration runs that module as the main
// process under the scheduler (as `ivm run` does), so compiling stays out
// of the timing and the per-run set-up is shared by K operations; the
// "op" counter is the time per operation. Every run's value is checked.
// Process records are never reused (ids grow), so the benchmarks that
// make processes run a fixed number of iterations. Times are wall-clock
// (with 2 workers the other thread works too).
#include <string>

#include "common.hpp"

using namespace ivmb;

namespace {

const char kDefs[] =
    // spawn n processes that return their argument; join them all: the sum
    "(defn ret [x] x)\n"
    "(defn spawn-join [n]\n"
    "  (let [pids (loop [i 0 acc []]\n"
    "               (if (< i n) (recur (inc i) (conj acc (spawn ret i))) acc))]\n"
    "    (loop [i 0 s 0]\n"
    "      (if (< i n) (recur (inc i) (+ s (join (nth pids i)))) s))))\n"
    // fork n children, each of which returns its i; join them all: the sum
    "(defn fork-join [n]\n"
    "  (loop [i 0 kids []]\n"
    "    (if (< i n)\n"
    "      (if-let [c (fork)] (recur (inc i) (conj kids c)) i)\n"
    "      (loop [j 0 s 0]\n"
    "        (if (< j n) (recur (inc j) (+ s (join (nth kids j)))) s)))))\n"
    // fork n children that wait forever (never joined); n
    "(defn fork-park [n]\n"
    "  (loop [i 0] (if (< i n) (if (fork) (recur (inc i)) (receive)) n)))\n"
    // calls (f n) d frames deep
    "(defn deep [d f n] (if (zero? d) (f n) (+ 0 (deep (dec d) f n))))\n"
    // echo sends back what it receives until :stop
    "(defn echo [parent]\n"
    "  (loop []\n"
    "    (let [v (receive)]\n"
    "      (if (identical? v :stop) :stopped (do (send parent v) (recur))))))\n"
    // n round trips of payload; how many came back identical (the same object)
    "(defn ping-pong [n payload]\n"
    "  (let [e (spawn echo (self))]\n"
    "    (loop [i 0 same 0]\n"
    "      (if (< i n)\n"
    "        (do (send e payload)\n"
    "            (recur (inc i) (if (identical? (receive) payload) (inc same) same)))\n"
    "        (do (send e :stop) (join e) same)))))\n";

// Runs `body` (a call doing k operations, whose value must be `want`) once
// per iteration in a scheduler of `workers` threads; `big`, if not nil, is
// bound to the global `big` first.
void run_ops(benchmark::State &state, uint32_t workers, const std::string &body, int64_t k,
             int64_t want, int64_t big_entries = -1)
{
    Sched s(workers);
    if (big_entries >= 0)
        ivm_global_set(s.vm().get(), "big", build_map(s.vm().heap(), big_entries));
    s.run(kDefs);
    const ivm_module *m = s.vm().load(body);
    for (auto _ : state) {
        ivm_value v = s.run(m);
        if (!ivm_is_fixnum(v) || ivm_fixnum_value(v) != want) {
            state.SkipWithError("wrong value");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations() * k);
    state.counters["op"] =
        benchmark::Counter(double(k), benchmark::Counter::kIsIterationInvariantRate |
                                          benchmark::Counter::kInvert);
}

constexpr int64_t kProcs = 1000;   // processes made per iteration
constexpr int64_t kTrips = 10000;  // round trips per iteration

// spawn + run + exit + join of one process (the parent keeps the pids in a
// vector and joins them after spawning all K).
void Spawn(benchmark::State &state)
{
    run_ops(state, 1, "(spawn-join " + std::to_string(kProcs) + ")", kProcs,
            kProcs * (kProcs - 1) / 2);
}
BENCHMARK(Spawn)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(200);

// fork of a one-frame process (run in a spawned process), the child's
// return and exit, and the parent's join.
void Fork(benchmark::State &state)
{
    run_ops(state, 1, "(join (spawn fork-join " + std::to_string(kProcs) + "))", kProcs,
            kProcs * (kProcs - 1) / 2);
}
BENCHMARK(Fork)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(200);

// fork alone, at a stack depth of 1 or 1000 frames: the child runs until
// it waits in receive, where it stays (its stack is frozen and shared, not
// copied, so the depth should not matter). Once per K forks the time also
// holds the descent to that depth and the parent's return through the
// frozen frames (each copied back into a live segment as it returns).
void ForkDeep(benchmark::State &state)
{
    std::string k = std::to_string(kProcs);
    run_ops(state, 1, "(join (spawn deep " + std::to_string(state.range(0)) + " fork-park " + k + "))",
            kProcs, kProcs);
}
BENCHMARK(ForkDeep)->ArgName("depth")->Arg(1)->Arg(1000)->Unit(benchmark::kMillisecond)
    ->UseRealTime()->Iterations(100);

// One round trip: send a fixnum to an echo process, receive it back.
// With 2 workers the echo process may run on the other thread.
void PingPong(benchmark::State &state)
{
    run_ops(state, uint32_t(state.range(0)),
            "(ping-pong " + std::to_string(kTrips) + " 7)", kTrips, kTrips);
}
BENCHMARK(PingPong)->ArgName("workers")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same round trip carrying a map of N entries (built once, before the
// clock starts); the program counts the replies identical to the map sent.
void PingPongMap(benchmark::State &state)
{
    int64_t n = state.range(0);
    run_ops(state, 1, "(ping-pong " + std::to_string(kTrips) + " big)", kTrips, kTrips, n);
}
BENCHMARK(PingPongMap)->ArgName("entries")->Arg(k1K)->Arg(k1M)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
