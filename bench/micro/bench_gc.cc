// Micro-benchmarks of the collector (issue 8; phases in src/gc/gc.h): a
// full collection of a dense heap at three live-set sizes (marking and
// region selection: nothing is sparse enough to move), and one collection
// of a heap where every other object is garbage (every region half live),
// without moving (mark and select only) and moving (mark, then evacuate
// the sparse regions and fix the references).
//
// The live set is a vector of N maps of 8 fixnum entries, built through
// the C API in a bare VM (no core library: the symbol table is nearly the
// only other root) and rooted with ivm_root. Every collection's live
// bytes are checked against the first's, and the maps' contents after it.
// Counters: live_MiB (the collector's live bytes, the VM's own included),
// bytes_per_second (live bytes traced per second), and for the sparse
// heap copied_MiB and evacuated (regions) per collection.
#include <chrono>

#include "common.hpp"

using namespace ivmb;

namespace {

constexpr int64_t kEntries = 8;

// {0 id, 1 id+1, ..., 7 id+7}, built through a transient.
ivm_value small_map(ivm_heap *h, int64_t id)
{
    ivm_value t = ivm_map_transient(h, ivm_map_empty(h), kOwner);
    for (int64_t k = 0; k < kEntries; k++)
        check(ivm_tmap_assoc(h, t, kOwner, ivm_fixnum(k), ivm_fixnum(id + k)));
    ivm_value m;
    check(ivm_tmap_persistent(h, t, kOwner, &m));
    return m;
}

// A vector of n maps (map i holds i + k at k). Sparse: a map that nothing
// keeps is made after each kept one, so the regions end up half live.
ivm_value build_live(ivm_heap *h, int64_t n, bool sparse)
{
    ivm_value t = ivm_vec_transient(h, ivm_vec_empty(h), kOwner);
    for (int64_t i = 0; i < n; i++) {
        check(ivm_tvec_conj(h, t, kOwner, small_map(h, i)));
        if (sparse)
            small_map(h, -1);
    }
    ivm_value v;
    check(ivm_tvec_persistent(h, t, kOwner, &v));
    return v;
}

// Whether v is still the vector build_live made: its count, and every
// 97th map's first and last entries (and the last map's).
bool live_ok(ivm_heap *h, ivm_value v, int64_t n)
{
    if (ivm_vec_count(v) != uint64_t(n))
        return false;
    for (int64_t i = 0; i < n; i = (i + 97 < n || i == n - 1) ? i + 97 : n - 1) {
        ivm_value m = ivm_vec_nth(v, uint64_t(i)), x;
        if (!ivm_map_get(h, m, ivm_fixnum(0), &x) || x != ivm_fixnum(i))
            return false;
        if (!ivm_map_get(h, m, ivm_fixnum(kEntries - 1), &x) ||
            x != ivm_fixnum(i + kEntries - 1))
            return false;
    }
    return true;
}

bool verify(ivm_gc *gc, benchmark::State &state)
{
    char why[200];
    if (ivm_gc_verify(gc, why, sizeof why))
        return true;
    state.SkipWithError(why);
    return false;
}

// A full (may move) collection of a dense heap of N live maps, repeated:
// after the first (untimed) collection has cleared the build's garbage,
// each one marks everything and finds almost nothing to free or move. (At
// the time of writing each one evacuates one region again, about 33 KiB:
// the region the previous one's copies went to, under the evacuation
// threshold; more than one region per collection fails the benchmark.)
void GcFull(benchmark::State &state)
{
    const int64_t n = state.range(0);
    Vm vm(kReserve, IVM_ARENA_LAZY, false);
    ivm_gc *gc = vm.gc();
    ivm_value live = build_live(vm.heap(), n, false);
    ivm_root(vm.get(), &live);
    ivm_gc_collect(gc, true);
    if (!verify(gc, state))
        return;
    const uint64_t want = gc->stats.live_bytes;
    const uint64_t copied = gc->stats.bytes_copied;
    const uint64_t evacuated0 = gc->stats.regions_evacuated;
    for (auto _ : state) {
        ivm_gc_collect(gc, true);
        if (gc->stats.live_bytes != want) {
            state.SkipWithError("live bytes changed");
            break;
        }
    }
    if (!live_ok(vm.heap(), live, n))
        state.SkipWithError("the live set is wrong after collecting");
    double per = double(state.iterations() ? state.iterations() : 1);
    double evacuated = double(gc->stats.regions_evacuated - evacuated0) / per;
    if (evacuated > 1)
        state.SkipWithError("a dense heap's collection evacuated more than one region");
    state.SetBytesProcessed(int64_t(want) * state.iterations());
    state.counters["live_MiB"] = double(want) / (1 << 20);
    state.counters["copied_KiB"] = double(gc->stats.bytes_copied - copied) / 1024 / per;
    state.counters["evacuated"] = evacuated;
}
BENCHMARK(GcFull)->ArgName("maps")->Arg(10000)->Arg(100000)->Arg(k1M)
    ->Unit(benchmark::kMillisecond)->Iterations(20);

// One collection of a heap where every other map is garbage, timed alone
// (the heap is rebuilt, untimed, before each: the last one is dropped and
// collected away first). may_move 0: mark and select only (no region is
// empty, so nothing is freed); 1: the half-live regions are evacuated too
// (copies go to fresh regions, whose first touch is in the time).
void GcSparse(benchmark::State &state)
{
    const int64_t n = state.range(0);
    const bool may_move = state.range(1);
    Vm vm(kReserve, IVM_ARENA_LAZY, false);
    ivm_gc *gc = vm.gc();
    ivm_value live = IVM_NIL;
    ivm_root(vm.get(), &live);
    uint64_t want = 0, copied = 0, evacuated = 0;
    bool first = true;
    for (auto _ : state) {
        live = IVM_NIL;
        ivm_gc_collect(gc, false);
        live = build_live(vm.heap(), n, true);
        uint64_t bytes0 = gc->stats.bytes_copied, regions0 = gc->stats.regions_evacuated;
        auto t0 = std::chrono::steady_clock::now();
        ivm_gc_collect(gc, may_move);
        auto t1 = std::chrono::steady_clock::now();
        state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
        copied += gc->stats.bytes_copied - bytes0;
        evacuated += gc->stats.regions_evacuated - regions0;
        if (first && !verify(gc, state))
            break;
        if (first)
            want = gc->stats.live_bytes;
        first = false;
        if (gc->stats.live_bytes != want) {
            state.SkipWithError("live bytes differ between identical heaps");
            break;
        }
        if (may_move != (gc->stats.bytes_copied != bytes0)) {
            state.SkipWithError(may_move ? "nothing was evacuated" : "a non-moving collection moved");
            break;
        }
        if (!live_ok(vm.heap(), live, n)) {
            state.SkipWithError("the live set is wrong after collecting");
            break;
        }
    }
    state.SetBytesProcessed(int64_t(want) * state.iterations());
    state.counters["live_MiB"] = double(want) / (1 << 20);
    state.counters["copied_MiB"] =
        benchmark::Counter(double(copied) / (1 << 20), benchmark::Counter::kAvgIterations);
    state.counters["evacuated"] =
        benchmark::Counter(double(evacuated), benchmark::Counter::kAvgIterations);
}
BENCHMARK(GcSparse)->ArgNames({"maps", "may_move"})->ArgsProduct({{10000, 100000}, {0, 1}})
    ->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(10);

} // namespace
