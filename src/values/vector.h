/* Persistent vectors: Clojure's PersistentVector (Bagwell's 32-way trie
 * with a tail, as Hickey built it), constant-time subvector views, and
 * transients that build a vector in place. This header and vector.c own
 * the arena kinds IVM_K_VEC .. IVM_K_VEC_TRANSIENT (16..19 of the vector
 * range in value.h).
 *
 * A vector of `count` elements keeps its last 1..32 elements in a tail
 * node and the others, tailoff(count) = ((count - 1) / 32) * 32 of them,
 * in a trie whose leaves hold 32 elements each. Element i lives in the
 * tail when i >= tailoff, else in the leaf reached from the root by the
 * 5-bit digits of i from bit `shift` down to bit 5. Every operation below
 * is O(log32 count) or better (but for a transient of a subvector), and
 * recurses no deeper than the trie (at most 13 levels).
 *
 * Object layouts, each obeying value.h's rule (header, raw words, then
 * value words to the end of the object):
 *
 *   IVM_K_VEC           header (small field: shift) | count
 *                       | root, tail
 *   IVM_K_VEC_NODE      header | edit | slots[capacity]
 *   IVM_K_VEC_SUB       header | start, end | vec
 *   IVM_K_VEC_TRANSIENT header | edit, owner, count, shift | root, tail
 *
 * so the collector traces 1, 1, 2 and 4 raw words respectively and every
 * word after them as a value (nil slots included). A node's capacity is
 * its size in words less 2.
 *
 * Invariants (vector.c relies on them; the collector and a heap verifier
 * may check them):
 *  - root is nil iff tailoff(count) == 0, and shift is then 5; tail is
 *    nil iff count == 0.
 *  - shift >= 5 and is minimal: shift == 5 or the root uses at least two
 *    slots. A node at level L (root at level shift, leaves at level 0)
 *    indexes its slots by bits L..L+4 of the element index.
 *  - Every leaf in the trie is full. A node's used slots are not stored
 *    but derived from the count (only nodes on the rightmost path of the
 *    trie are partial); slots past them are nil.
 *  - Persistent operations size every node they build to the slots it
 *    uses. Nodes a transient builds have capacity 32, so that it can fill
 *    them in place.
 *  - A subvector's vec is always an IVM_K_VEC (a subvector of a subvector
 *    views the original), and start <= end <= that vector's count.
 *
 * Values are immutable once published. The one exception is transients:
 * a transient takes a fresh id (ivm_heap_transient_id, never 0, never
 * reused) as its `edit`, and the nodes it builds carry that id. A node may
 * be changed in place only by the transient whose edit equals the node's
 * edit, and only while that transient is active; persistent! (which hands
 * the nodes over to a persistent vector) sets the transient's edit to 0,
 * so no one can ever change those nodes again. Nodes built by persistent
 * operations carry edit 0 and are never changed.
 *
 * For the collector: while a transient is active, its root object and its
 * nodes (edit == its edit) are mutable and may refer to values younger
 * than themselves, against the heap's age order; they must be treated like
 * atoms (remembered) until persistent!. A vector made by persistent! keeps
 * those nodes, so its leaves may refer to elements younger than the leaf.
 *
 * Iteration reads a vector chunk by chunk (ivm_vec_chunk, ivm_vec_iter):
 * the pointers it returns point into arena objects, so they must not be
 * held across anything that can move objects (a collection, later). */
#ifndef IVM_VECTOR_H
#define IVM_VECTOR_H

#include "values/value.h"

enum {
    IVM_K_VEC = IVM_K_VECTOR, /* a persistent vector */
    IVM_K_VEC_NODE,           /* a trie node: internal node, leaf or tail */
    IVM_K_VEC_SUB,            /* a subvector: a view of a range of a vector */
    IVM_K_VEC_TRANSIENT,      /* a transient vector's (mutable) root */
};
_Static_assert((int)IVM_K_VEC_TRANSIENT <= (int)IVM_K_VECTOR_LAST, "vector kinds fit their range");

#define IVM_VEC_BITS 5u
#define IVM_VEC_WIDTH 32u
#define IVM_VEC_MASK 31u

typedef struct ivm_vec {
    ivm_header h; /* small field: shift */
    uint64_t count;
    ivm_value root; /* IVM_K_VEC_NODE, or nil */
    ivm_value tail; /* IVM_K_VEC_NODE, or nil */
} ivm_vec;

typedef struct ivm_vec_node {
    ivm_header h;
    uint64_t edit; /* the transient that built it, or 0 */
    ivm_value slots[];
} ivm_vec_node;

typedef struct ivm_vec_sub {
    ivm_header h;
    uint64_t start, end;
    ivm_value vec; /* IVM_K_VEC */
} ivm_vec_sub;

typedef struct ivm_tvec {
    ivm_header h;
    uint64_t edit; /* this transient's id; 0 once persistent! froze it */
    uint64_t owner; /* the process that may use it */
    uint64_t count;
    uint64_t shift;
    ivm_value root, tail;
} ivm_tvec;

/* ---- Persistent vectors and subvectors --------------------------------- */

/* True for vectors and subvectors (not for transients). */
static inline bool ivm_is_vector(ivm_value v)
{
    return ivm_is_kind(v, IVM_K_VEC) || ivm_is_kind(v, IVM_K_VEC_SUB);
}

ivm_value ivm_vec_empty(ivm_heap *h);
/* A vector of items[0..n), built in place through a transient. */
ivm_value ivm_vec_from(ivm_heap *h, const ivm_value *items, size_t n);

uint64_t ivm_vec_count(ivm_value v);
/* Element i; i < count. */
ivm_value ivm_vec_nth(ivm_value v, uint64_t i);
/* The last element, or nil when v is empty. */
ivm_value ivm_vec_peek(ivm_value v);

/* v with x added at the end. */
ivm_value ivm_vec_conj(ivm_heap *h, ivm_value v, ivm_value x);
/* v with element i replaced by x; i <= count, and i == count is conj. */
ivm_value ivm_vec_assoc(ivm_heap *h, ivm_value v, uint64_t i, ivm_value x);
/* v without its last element; count > 0. */
ivm_value ivm_vec_pop(ivm_heap *h, ivm_value v);
/* Elements [start, end) of v in O(1): a view that shares v's nodes (and
 * keeps all of them alive); start <= end <= count. Conj and assoc on a
 * view build a new vector from the one under it (one path copied, the
 * element just past the view being free to overwrite) and return a view
 * of that. */
ivm_value ivm_vec_subvec(ivm_heap *h, ivm_value v, uint64_t start, uint64_t end);

/* The contiguous run of elements that starts at index i (i < count) and
 * goes to the end of its leaf, the tail or the subvector: *len (1..32)
 * elements. Equality, hashing and printing walk a vector with this. */
const ivm_value *ivm_vec_chunk(ivm_value v, uint64_t i, uint32_t *len);

/* Reads a vector front to back without allocating:
 *   ivm_vec_iter it; ivm_value x;
 *   ivm_vec_iter_init(&it, v);
 *   while (ivm_vec_iter_next(&it, &x)) ...                              */
typedef struct ivm_vec_iter {
    ivm_value vec;
    uint64_t next, count;   /* index of the element after the chunk */
    const ivm_value *chunk; /* the rest of the current chunk */
    uint32_t left;          /* elements left in it */
} ivm_vec_iter;

static inline void ivm_vec_iter_init(ivm_vec_iter *it, ivm_value v)
{
    *it = (ivm_vec_iter){.vec = v, .count = ivm_vec_count(v)};
}

static inline bool ivm_vec_iter_next(ivm_vec_iter *it, ivm_value *out)
{
    if (it->left == 0) {
        if (it->next == it->count)
            return false;
        it->chunk = ivm_vec_chunk(it->vec, it->next, &it->left);
        it->next += it->left;
    }
    it->left--;
    *out = *it->chunk++;
    return true;
}

/* ---- Transients -------------------------------------------------------- */

/* Transient operations answer an ivm_transient_status (value.h), checked
 * in this order: a frozen transient answers FROZEN to everyone, then a
 * process other than its owner gets NOT_OWNER; either way nothing happens. */

static inline bool ivm_is_transient_vector(ivm_value v)
{
    return ivm_is_kind(v, IVM_K_VEC_TRANSIENT);
}

/* A transient holding v's elements, usable by process `owner` only. It
 * shares v's nodes (copying each at its first change), so v never changes.
 * O(1) for a vector; a subvector's elements are copied (O(its count)). */
ivm_value ivm_vec_transient(ivm_heap *h, ivm_value v, uint64_t owner);

ivm_transient_status ivm_tvec_count(ivm_value t, uint64_t owner, uint64_t *out);
/* Element i; i < count. */
ivm_transient_status ivm_tvec_nth(ivm_value t, uint64_t owner, uint64_t i,
                                  ivm_value *out);
/* conj!, assoc! (i <= count; i == count is conj!) and pop! (count > 0):
 * change t in place. */
ivm_transient_status ivm_tvec_conj(ivm_heap *h, ivm_value t, uint64_t owner,
                                   ivm_value x);
ivm_transient_status ivm_tvec_assoc(ivm_heap *h, ivm_value t, uint64_t owner,
                                    uint64_t i, ivm_value x);
ivm_transient_status ivm_tvec_pop(ivm_heap *h, ivm_value t, uint64_t owner);
/* persistent!: *out is a persistent vector of t's elements, in O(1); t is
 * frozen, and every later use of it answers IVM_TRANSIENT_FROZEN. */
ivm_transient_status ivm_tvec_persistent(ivm_heap *h, ivm_value t,
                                         uint64_t owner, ivm_value *out);

#endif
