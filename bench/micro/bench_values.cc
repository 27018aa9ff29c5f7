// Micro-benchmarks of the values layer (issue 4, "Benchmarks"): the
// allocation fast path, cons, persistent vectors and hash maps at 1K and
// 1M elements, transients, equality and hashing, and bytes per element.
//
// The arena never frees yet, so every benchmark that allocates runs a
// fixed number of iterations (->Iterations) on a heap of its own, which it
// destroys at the end; the memory that loop will use is committed before
// the clock starts (prefault_for). Each reports arena_B/op, the arena
// bytes one operation allocated (garbage included: nothing is collected).
//
// Elements and keys are small integers (fixnums: immediate, no allocation
// of their own). "Random" indices and keys come from a xorshift stream,
// whose cost (about 1 ns) is inside every timing.
#include "common.hpp"

using namespace ivmb;

namespace {

// ---- Allocation ------------------------------------------------------------

// ivm_heap_alloc of 32 bytes (the size of a cons), header written: the
// inline fast path, one compare and one add, plus one slow path (a new
// region) every 8192 allocations.
void Alloc32(benchmark::State &state)
{
    Heap h;
    bool first_touch = state.range(0);
    if (!first_touch)
        prefault_next(h, size_t(state.max_iterations) * 32 + (4u << 20));
    uint64_t before = h.bytes();
    for (auto _ : state) {
        void *p = ivm_heap_alloc(h, IVM_K_CONS, 0, 32);
        benchmark::DoNotOptimize(p);
    }
    bytes_per_op(state, h, before);
}
BENCHMARK(Alloc32)->ArgName("first_touch")->Arg(0)->Arg(1)->Iterations(1 << 23);

// Building a list one cons at a time.
void Cons(benchmark::State &state)
{
    Heap h;
    prefault_next(h, size_t(state.max_iterations) * 32 + (4u << 20));
    uint64_t before = h.bytes();
    ivm_value list = IVM_EMPTY_LIST;
    int64_t i = 0;
    for (auto _ : state)
        list = ivm_cons_new(h, ivm_fixnum(i++), list);
    benchmark::DoNotOptimize(list);
    if (ivm_list_count(list) != uint64_t(state.iterations()))
        die("cons: wrong count");
    bytes_per_op(state, h, before);
}
BENCHMARK(Cons)->Iterations(1 << 23);

// ---- Persistent vectors -----------------------------------------------------

// conj onto a vector of N elements, growing it to 2N and starting again
// from the N-element vector: the amortized cost of conj at that size.
void VecConj(benchmark::State &state)
{
    Heap h;
    const int64_t n = state.range(0);
    const ivm_value base = build_vec(h, n);
    prefault_for(state, h, [&](int i) { ivm_vec_conj(h, base, ivm_fixnum(i)); });
    uint64_t before = h.bytes();
    ivm_value v = base;
    int64_t k = 0;
    for (auto _ : state) {
        v = ivm_vec_conj(h, v, ivm_fixnum(k));
        if (++k == n) {
            k = 0;
            v = base;
        }
    }
    benchmark::DoNotOptimize(v);
    bytes_per_op(state, h, before);
}
BENCHMARK(VecConj)->Arg(k1K)->Arg(k1M)->Iterations(1 << 20);

// nth at a random index of an N-element vector.
void VecNth(benchmark::State &state)
{
    Heap h;
    const int64_t n = state.range(0);
    const ivm_value v = build_vec(h, n);
    Rng rng;
    uint64_t sum = 0;
    for (auto _ : state)
        sum += ivm_vec_nth(v, rng.below(uint64_t(n)));
    benchmark::DoNotOptimize(sum);
}
BENCHMARK(VecNth)->Arg(k1K)->Arg(k1M);

// assoc at a random index of an N-element vector (a new version; the
// original is kept): one path of the trie copied.
void VecAssoc(benchmark::State &state)
{
    Heap h;
    const int64_t n = state.range(0);
    const ivm_value base = build_vec(h, n);
    Rng rng;
    prefault_for(state, h, [&](int i) {
        ivm_vec_assoc(h, base, rng.below(uint64_t(n)), ivm_fixnum(i));
    });
    uint64_t before = h.bytes();
    int64_t i = 0;
    for (auto _ : state) {
        ivm_value v = ivm_vec_assoc(h, base, rng.below(uint64_t(n)), ivm_fixnum(i++));
        benchmark::DoNotOptimize(v);
    }
    bytes_per_op(state, h, before);
}
BENCHMARK(VecAssoc)->Arg(k1K)->Arg(k1M)->Iterations(1 << 18);

// pop from an N-element vector down to N/2, then again from N.
void VecPop(benchmark::State &state)
{
    Heap h;
    const int64_t n = state.range(0);
    const ivm_value base = build_vec(h, n);
    prefault_for(state, h, [&](int) { ivm_vec_pop(h, base); });
    uint64_t before = h.bytes();
    ivm_value v = base;
    int64_t k = 0;
    for (auto _ : state) {
        v = ivm_vec_pop(h, v);
        if (++k == n / 2) {
            k = 0;
            v = base;
        }
    }
    benchmark::DoNotOptimize(v);
    bytes_per_op(state, h, before);
}
BENCHMARK(VecPop)->Arg(k1K)->Arg(k1M)->Iterations(1 << 20);

// ---- Persistent hash maps (CHAMP) --------------------------------------------

// assoc of a new integer key into a map of N integer keys, growing it to
// 2N and starting again from the N-entry map.
void MapAssoc(benchmark::State &state)
{
    Heap h;
    const int64_t n = state.range(0);
    const ivm_value base = build_map(h, n);
    prefault_for(state, h, [&](int i) {
        ivm_map_assoc(h, base, ivm_fixnum(n + i), ivm_fixnum(i));
    });
    uint64_t before = h.bytes();
    ivm_value m = base;
    int64_t k = 0;
    for (auto _ : state) {
        m = ivm_map_assoc(h, m, ivm_fixnum(n + k), ivm_fixnum(k));
        if (++k == n) {
            k = 0;
            m = base;
        }
    }
    benchmark::DoNotOptimize(m);
    bytes_per_op(state, h, before);
}
BENCHMARK(MapAssoc)->Arg(k1K)->Arg(k1M)->Iterations(1 << 18);

// assoc of a random key already present, to a new value.
void MapAssocReplace(benchmark::State &state)
{
    Heap h;
    const int64_t n = state.range(0);
    const ivm_value base = build_map(h, n);
    Rng rng;
    prefault_for(state, h, [&](int i) {
        ivm_map_assoc(h, base, ivm_fixnum(int64_t(rng.below(uint64_t(n)))), ivm_fixnum(-i - 1));
    });
    uint64_t before = h.bytes();
    int64_t i = 0;
    for (auto _ : state) {
        ivm_value m = ivm_map_assoc(h, base, ivm_fixnum(int64_t(rng.below(uint64_t(n)))),
                                    ivm_fixnum(-(++i)));
        benchmark::DoNotOptimize(m);
    }
    bytes_per_op(state, h, before);
}
BENCHMARK(MapAssocReplace)->Arg(k1K)->Arg(k1M)->Iterations(1 << 18);

// get of a random key present in a map of N integer keys.
void MapGet(benchmark::State &state)
{
    Heap h;
    const int64_t n = state.range(0);
    const ivm_value m = build_map(h, n);
    Rng rng;
    int64_t found = 0;
    for (auto _ : state) {
        ivm_value out;
        found += ivm_map_get(h, m, ivm_fixnum(int64_t(rng.below(uint64_t(n)))), &out);
        benchmark::DoNotOptimize(out);
    }
    if (found != state.iterations())
        die("map get: a key is missing");
}
BENCHMARK(MapGet)->Arg(k1K)->Arg(k1M);

// get of a key absent from the map.
void MapGetMiss(benchmark::State &state)
{
    Heap h;
    const int64_t n = state.range(0);
    const ivm_value m = build_map(h, n);
    Rng rng;
    int64_t found = 0;
    for (auto _ : state) {
        ivm_value out;
        found += ivm_map_get(h, m, ivm_fixnum(n + int64_t(rng.below(uint64_t(n)))), &out);
        benchmark::DoNotOptimize(out);
    }
    if (found != 0)
        die("map get: found an absent key");
}
BENCHMARK(MapGetMiss)->Arg(k1K)->Arg(k1M);

// dissoc of a random key present in the map (a new version each time).
void MapDissoc(benchmark::State &state)
{
    Heap h;
    const int64_t n = state.range(0);
    const ivm_value base = build_map(h, n);
    Rng rng;
    prefault_for(state, h, [&](int) {
        ivm_map_dissoc(h, base, ivm_fixnum(int64_t(rng.below(uint64_t(n)))));
    });
    uint64_t before = h.bytes();
    for (auto _ : state) {
        ivm_value m = ivm_map_dissoc(h, base, ivm_fixnum(int64_t(rng.below(uint64_t(n)))));
        benchmark::DoNotOptimize(m);
    }
    bytes_per_op(state, h, before);
}
BENCHMARK(MapDissoc)->Arg(k1K)->Arg(k1M)->Iterations(1 << 18);

// ---- Transients -------------------------------------------------------------

// conj! into a transient vector, from empty to N elements, then again
// from an empty one.
void TransientConj(benchmark::State &state)
{
    Heap h;
    const int64_t n = state.range(0);
    const ivm_value empty = ivm_vec_empty(h);
    prefault_next(h, size_t(state.max_iterations) * 10 + (16u << 20));
    uint64_t before = h.bytes();
    ivm_value t = ivm_vec_transient(h, empty, kOwner);
    int64_t k = 0;
    for (auto _ : state) {
        check(ivm_tvec_conj(h, t, kOwner, ivm_fixnum(k)));
        if (++k == n) {
            k = 0;
            t = ivm_vec_transient(h, empty, kOwner);
        }
    }
    bytes_per_op(state, h, before);
}
BENCHMARK(TransientConj)->Arg(k1K)->Arg(k1M)->Iterations(1 << 22);

// assoc! at a random index of a transient of an N-element vector (each
// leaf is copied once, at its first change; after that, in place).
void TransientVecAssoc(benchmark::State &state)
{
    Heap h;
    const int64_t n = state.range(0);
    const ivm_value t = ivm_vec_transient(h, build_vec(h, n), kOwner);
    Rng rng;
    int64_t i = 0;
    for (auto _ : state)
        check(ivm_tvec_assoc(h, t, kOwner, rng.below(uint64_t(n)), ivm_fixnum(i++)));
}
BENCHMARK(TransientVecAssoc)->Arg(k1K)->Arg(k1M);

// assoc! of new integer keys into a transient map, from empty to N
// entries, then again from an empty one.
void TransientMapAssoc(benchmark::State &state)
{
    Heap h;
    const int64_t n = state.range(0);
    const ivm_value empty = ivm_map_empty(h);
    ivm_value probe = IVM_NIL;
    prefault_for(state, h, [&](int i) {
        if (i == 0)
            probe = ivm_map_transient(h, empty, kOwner);
        check(ivm_tmap_assoc(h, probe, kOwner, ivm_fixnum(i), ivm_fixnum(i)));
    });
    uint64_t before = h.bytes();
    ivm_value t = ivm_map_transient(h, empty, kOwner);
    int64_t k = 0;
    for (auto _ : state) {
        check(ivm_tmap_assoc(h, t, kOwner, ivm_fixnum(k), ivm_fixnum(k)));
        if (++k == n) {
            k = 0;
            t = ivm_map_transient(h, empty, kOwner);
        }
    }
    bytes_per_op(state, h, before);
}
BENCHMARK(TransientMapAssoc)->Arg(k1K)->Arg(k1M)->Iterations(1 << 21);

// ---- Equality and hashing ---------------------------------------------------

// = of two equal 1K vectors built separately (no shared nodes, so every
// element is compared).
void VecEqual(benchmark::State &state)
{
    Heap h;
    const int64_t n = state.range(0);
    ivm_value a = build_vec(h, n), b = build_vec(h, n);
    for (auto _ : state) {
        bool eq = ivm_equal(a, b);
        benchmark::DoNotOptimize(eq);
        if (!eq)
            die("vector equality: not equal");
    }
}
BENCHMARK(VecEqual)->Arg(k1K);

// hash of a 1K vector (vectors do not cache their hash: every element is
// hashed each time).
void VecHash(benchmark::State &state)
{
    Heap h;
    const ivm_value v = build_vec(h, state.range(0));
    for (auto _ : state) {
        uint32_t x = ivm_hash(v);
        benchmark::DoNotOptimize(x);
    }
}
BENCHMARK(VecHash)->Arg(k1K);

// ---- Bytes per element (issue 4: at most 12 for a 1M vector of small
// integers) ---------------------------------------------------------------
//
// Each builds one 1M structure (the time is that build, its memory
// committed ahead) and reports:
//   arena_B/elem  arena bytes the build allocated, per element
//   live_B/elem   bytes of the objects the result holds, per element
// They agree for in-place (transient) builds; a persistent build's arena
// bytes include every intermediate version.

void VecBytes(benchmark::State &state)
{
    const int64_t n = k1M;
    const bool persistent = state.range(0);
    auto build = [&](ivm_heap *h) {
        if (!persistent)
            return build_vec(h, n);
        ivm_value v = ivm_vec_empty(h);
        for (int64_t i = 0; i < n; i++)
            v = ivm_vec_conj(h, v, ivm_fixnum(i));
        return v;
    };
    uint64_t arena, live = 0;
    { /* an untimed build tells how much memory to commit ahead */
        Heap h;
        uint64_t before = h.bytes();
        build(h);
        arena = h.bytes() - before;
    }
    for (auto _ : state) {
        state.PauseTiming();
        {
            Heap h;
            h.prefault(arena + (4u << 20));
            uint64_t before = h.bytes();
            state.ResumeTiming();
            ivm_value v = build(h);
            state.PauseTiming();
            arena = h.bytes() - before;
            live = vec_live_bytes(v);
            if (ivm_vec_count(v) != uint64_t(n) || ivm_vec_nth(v, n - 1) != ivm_fixnum(n - 1))
                die("vector build: wrong contents");
        }
        state.ResumeTiming();
    }
    state.counters["arena_B/elem"] = double(arena) / double(n);
    state.counters["live_B/elem"] = double(live) / double(n);
}
BENCHMARK(VecBytes)->ArgName("persistent_conj")->Arg(0)->Arg(1)->Iterations(3)
    ->Unit(benchmark::kMillisecond);

void MapBytes(benchmark::State &state)
{
    const int64_t n = k1M;
    const bool persistent = state.range(0);
    auto build = [&](ivm_heap *h) {
        if (!persistent)
            return build_map(h, n);
        ivm_value m = ivm_map_empty(h);
        for (int64_t i = 0; i < n; i++)
            m = ivm_map_assoc(h, m, ivm_fixnum(i), ivm_fixnum(i));
        return m;
    };
    uint64_t arena, live = 0;
    { /* an untimed build tells how much memory to commit ahead */
        Heap h;
        uint64_t before = h.bytes();
        build(h);
        arena = h.bytes() - before;
    }
    for (auto _ : state) {
        state.PauseTiming();
        {
            Heap h;
            h.prefault(arena + (4u << 20));
            uint64_t before = h.bytes();
            state.ResumeTiming();
            ivm_value m = build(h);
            state.PauseTiming();
            arena = h.bytes() - before;
            live = ivm_map_node_bytes(m);
            if (ivm_map_count(m) != uint64_t(n))
                die("map build: wrong count");
        }
        state.ResumeTiming();
    }
    state.counters["arena_B/elem"] = double(arena) / double(n);
    state.counters["live_B/elem"] = double(live) / double(n);
}
BENCHMARK(MapBytes)->ArgName("persistent_assoc")->Arg(0)->Arg(1)->Iterations(3)
    ->Unit(benchmark::kMillisecond);

} // namespace
