// Helpers shared by the micro-benchmarks: building the structures they
// start from, keeping page faults out of timed loops, and the counters.
#ifndef IVM_BENCH_COMMON_HPP
#define IVM_BENCH_COMMON_HPP

#include <benchmark/benchmark.h>

#include <algorithm>

#include "ivm.hpp"

namespace ivmb {

// The process id transients are built for (the VM is process 1 until
// there is a scheduler: compiler/core.h, IVM_CORE_OWNER).
constexpr uint64_t kOwner = 1;

// The sizes of issue 4: 1K and 1M elements or entries.
constexpr int64_t k1K = 1000;
constexpr int64_t k1M = 1000000;

inline void check(ivm_transient_status s)
{
    if (s != IVM_TRANSIENT_OK)
        die("transient operation refused");
}

// [0, 1, ..., n-1] as fixnums, built in place through a transient (so the
// arena holds the vector and nothing else).
inline ivm_value build_vec(ivm_heap *h, int64_t n)
{
    ivm_value t = ivm_vec_transient(h, ivm_vec_empty(h), kOwner);
    for (int64_t i = 0; i < n; i++)
        check(ivm_tvec_conj(h, t, kOwner, ivm_fixnum(i)));
    ivm_value v;
    check(ivm_tvec_persistent(h, t, kOwner, &v));
    return v;
}

// {0 0, 1 1, ..., n-1 n-1}, built in place through a transient.
inline ivm_value build_map(ivm_heap *h, int64_t n)
{
    ivm_value t = ivm_map_transient(h, ivm_map_empty(h), kOwner);
    for (int64_t i = 0; i < n; i++)
        check(ivm_tmap_assoc(h, t, kOwner, ivm_fixnum(i), ivm_fixnum(i)));
    ivm_value m;
    check(ivm_tmap_persistent(h, t, kOwner, &m));
    return m;
}

// Arena bytes of a vector's own objects (header, trie nodes, tail), found
// by walking it: what the vector keeps alive, garbage excluded.
inline uint64_t vec_node_bytes_at(ivm_value node, unsigned level)
{
    uint64_t bytes = 8 * uint64_t(ivm_header_words(*ivm_obj_header(node)));
    if (level > 0) {
        auto *n = reinterpret_cast<const ivm_vec_node *>(uintptr_t(node));
        uint32_t cap = ivm_header_words(n->h) - 2;
        for (uint32_t i = 0; i < cap && n->slots[i] != IVM_NIL; i++)
            bytes += vec_node_bytes_at(n->slots[i], level - IVM_VEC_BITS);
    }
    return bytes;
}

inline uint64_t vec_live_bytes(ivm_value v)
{
    auto *vec = reinterpret_cast<const ivm_vec *>(uintptr_t(v));
    uint64_t bytes = 8 * uint64_t(ivm_header_words(vec->h));
    if (vec->root != IVM_NIL)
        bytes += vec_node_bytes_at(vec->root, ivm_header_small(vec->h));
    if (vec->tail != IVM_NIL)
        bytes += vec_node_bytes_at(vec->tail, 0);
    return bytes;
}

// Before a timed loop that allocates: runs `probe` (one representative
// operation) a few times to learn its bytes per operation, then commits
// that much memory times the iterations ahead, so the loop measures the
// data structure and not the kernel's first-touch page faults (about
// 10 us a page on the VMs this was written on; see Alloc32/first_touch).
template <class Probe>
void prefault_for(benchmark::State &state, ivm_heap *h, Probe probe)
{
    constexpr int kProbes = 256;
    uint64_t before = arena_bytes(h);
    for (int i = 0; i < kProbes; i++)
        probe(i);
    uint64_t per_op = (arena_bytes(h) - before) / kProbes + 16;
    uint64_t want = per_op * uint64_t(state.max_iterations) * 5 / 4 + (4u << 20);
    prefault_next(h, std::min<uint64_t>(want, uint64_t(3) << 30));
}

// The arena bytes the timed loop allocated, per iteration, as a counter.
inline void bytes_per_op(benchmark::State &state, ivm_heap *h, uint64_t before)
{
    state.counters["arena_B/op"] =
        double(arena_bytes(h) - before) / double(state.iterations());
}

} // namespace ivmb

#endif
