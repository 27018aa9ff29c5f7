/* Persistent maps and sets: array maps (Clojure's PersistentArrayMap) for
 * small maps, CHAMP tries (Steindorfer and Vinju, "Optimizing Hash-Array
 * Mapped Tries for Fast and Lean Immutable JVM Collections", OOPSLA 2015)
 * for hash maps and all sets, their transients, iteration and the
 * structural half of their equality. Owns kinds IVM_K_MAP..IVM_K_MAP_LAST.
 *
 * Array maps. Small maps are array maps, as in Clojure: the empty map is
 * one, and one holds at most IVM_ARRAY_MAP_MAX (8) entries, in insertion
 * order. assoc of a present key replaces the value where it stands; dissoc
 * removes the entry and keeps the others in order; assoc of a 9th key
 * turns the map into a hash map, which never turns back (dissoc leaves a
 * hash map a hash map, at any size). A transient of an array map stays an
 * array map while it holds at most 8 entries and becomes a hash map
 * beyond, as Clojure's TransientArrayMap does; like it, its dissoc moves
 * the last entry into the place of the one removed. Sets are always
 * hashed, as Clojure's are.
 *
 * Hash maps and sets. A map or set value is the root node of its trie.
 * Each node splits the 32-bit hash of its keys into 5-bit chunks, one per
 * level (shifts 0, 5, ..., 30; the last chunk has 2 bits): the chunk of
 * hash h at shift s is (h >> s) & 31, Clojure's mask(). A key whose chunk
 * no other key of the node shares is stored inline, the others go down to
 * a child node. Keys whose full hashes are equal end in a collision node
 * below the 7th level.
 *
 * Layouts (value.h's rule: header, raw words, then value words):
 *
 *   array map (IVM_K_ARRAY_MAP):
 *     header            small field: entry width, always 2
 *     edit              raw: id of the transient that may write it
 *     count             raw: entries used, 0..8
 *     entries           values: count (key, value) pairs, insertion order
 *     unused slots      values, nil: room a transient left to grow into
 *
 *   root node (IVM_K_MAP_ROOT, IVM_K_SET_ROOT), inner node (IVM_K_MAP_NODE):
 *     header            small field: entry width, 2 (key, value) or 1 (key)
 *     datamap, nodemap  raw: two 32-bit bitmaps over the chunk values
 *     edit              raw: id of the transient that may write the node
 *     count             raw, root only: entries in the whole trie
 *     entries           values: popcount(datamap) entries in chunk order
 *     children          values: popcount(nodemap) nodes in chunk order
 *     unused slots      values, nil: room a transient left to grow into
 *
 *   collision node (IVM_K_MAP_COLLISION), always exactly full:
 *     header            small field: entry width
 *     edit              raw
 *     entries           values: at least two, all of one full hash, in the
 *                       order they arrived
 *
 *   transient (IVM_K_MAP_TRANSIENT, IVM_K_SET_TRANSIENT):
 *     header, owner (raw: the builder's process id), edit (raw: this
 *     transient's id, 0 once persistent! froze it), root (value: an array
 *     map or a root node, whose count is kept current).
 *
 * Canonical shape: a node below the root always holds at least two
 * entries in its subtree; a subtree that drops to one entry is pulled back
 * inline into its parent (and up a chain of single-child nodes). So where a
 * key sits depends only on the hashes of the keys present, never on the
 * order of insertions and removals: inline at the first level where no
 * other key shares its chunks so far, or in the collision node of its full
 * hash (whose order alone is arrival order). Equal keys hash equally
 * (ivm_hash agrees with ivm_equal, and key_hash_for_tests must too), so two
 * equal hash maps have the same bitmaps at every node and equal keys in
 * the same slots: that is what lets ivm_map_equal_push walk two tries in
 * lockstep.
 *
 * Iteration order is Clojure's. An array map gives its entries in order.
 * A hash map or set gives first the entry of the key nil, if any (Clojure
 * keeps it beside the trie), then, in each node, chunk values 0..31 in
 * increasing order: at each one the inline entry or the whole child
 * subtree (Clojure's BitmapIndexedNode and ArrayNode, whose shapes are
 * not canonical, order their entries the same way: by the hash's chunks,
 * lowest chunk first). Inside a collision node both keep arrival order;
 * Clojure's transient dissoc moves the last colliding entry into the
 * removed one's place, and so does this one's.
 *
 * Immutability: a node is never written once a persistent value can reach
 * it, with one exception. A transient gets a fresh id (ivm_heap_transient_id,
 * never reused); the nodes it allocates carry that id, and it may write in
 * place exactly the nodes that carry its id, while it is live. Every other
 * node it touches it copies first. persistent! clears the transient's id,
 * so nothing can write those nodes again: the value it returns is as
 * immutable as one built by path copying. Nodes built outside a transient
 * carry id 0, which no transient has. (Array maps follow the same rule.)
 *
 * Age order (design brief, point 1): path copying allocates each copy after
 * the children it points to, so persistent updates only make new nodes
 * point to older ones. Writes in place do not keep that order: a
 * transient's node may come to point to younger nodes, keys and values,
 * and so may the value persistent! (or ivm_map_merge, which builds the
 * same way) returns. For the collector a transient and the nodes carrying
 * its id are mutable things, like atoms. */
#ifndef IVM_MAP_H
#define IVM_MAP_H

#include "values/value.h"
#include "values/worklist.h"

typedef enum ivm_map_kind {
    IVM_K_MAP_ROOT = IVM_K_MAP, /* a persistent map: its root node */
    IVM_K_SET_ROOT,             /* a persistent set: its root node */
    IVM_K_MAP_NODE,             /* an inner node of either */
    IVM_K_MAP_COLLISION,        /* keys of one full hash, of either */
    IVM_K_MAP_TRANSIENT,
    IVM_K_SET_TRANSIENT,
    IVM_K_ARRAY_MAP,            /* a persistent map of at most 8 entries */
} ivm_map_kind;

_Static_assert((int)IVM_K_ARRAY_MAP <= (int)IVM_K_MAP_LAST, "map kinds overflow their range");

/* Levels of CHAMP nodes (shifts 0..30); collision nodes hang below. */
#define IVM_MAP_LEVELS 7
/* Entries an array map holds at most. */
#define IVM_ARRAY_MAP_MAX 8

/* ---- Persistent maps --------------------------------------------------- */

/* An empty array map. */
ivm_value ivm_map_empty(ivm_heap *h);
/* An empty hash map: it stays hashed whatever its size (Clojure's
 * hash-map builds one). */
ivm_value ivm_map_empty_hashed(ivm_heap *h);
static inline bool ivm_is_map(ivm_value v)
{
    return ivm_is_obj(v) &&
           (ivm_obj_kind(v) == IVM_K_ARRAY_MAP || ivm_obj_kind(v) == IVM_K_MAP_ROOT);
}
static inline bool ivm_is_array_map(ivm_value v) { return ivm_is_kind(v, IVM_K_ARRAY_MAP); }
uint64_t ivm_map_count(ivm_value m);
/* m with k mapped to v; m itself when k already maps to the word v. */
ivm_value ivm_map_assoc(ivm_heap *h, ivm_value m, ivm_value k, ivm_value v);
/* m without k; m itself when k is absent. */
ivm_value ivm_map_dissoc(ivm_heap *h, ivm_value m, ivm_value k);
/* False when k is absent. */
bool ivm_map_get(const ivm_heap *h, ivm_value m, ivm_value k, ivm_value *out);
/* a with b's entries added (b's win); two sets give their union: Clojure's
 * (merge a b), so b's new keys follow a's in an array map, and the result
 * is an array map exactly when adding b's entries one by one to a would
 * give one. Adds them in place on the copies it makes (as a transient
 * would); when the result is hashed, adds the smaller side's entries to
 * the larger one (so keys of one full hash may then sit in their collision
 * node in another order than Clojure's). Returns a or b when that is the
 * result. */
ivm_value ivm_map_merge(ivm_heap *h, ivm_value a, ivm_value b);

/* ---- Persistent sets --------------------------------------------------- */

ivm_value ivm_set_empty(ivm_heap *h);
static inline bool ivm_is_set(ivm_value v) { return ivm_is_kind(v, IVM_K_SET_ROOT); }
uint64_t ivm_set_count(ivm_value s);
ivm_value ivm_set_conj(ivm_heap *h, ivm_value s, ivm_value k); /* s if present */
ivm_value ivm_set_disj(ivm_heap *h, ivm_value s, ivm_value k); /* s if absent */
bool ivm_set_contains(const ivm_heap *h, ivm_value s, ivm_value k);

/* ---- Iteration --------------------------------------------------------- */

/* Walks a map or a set without allocating, in Clojure's order (above): an
 * array map's entries in order; a hash map's or set's nil key first, then
 * by chunk value at each node, depth first, a child's subtree at its
 * chunk's place among the node's entries. Equal hash maps and sets give
 * the same order except inside collision nodes. The map must stay
 * reachable while the iterator is in use. */
typedef struct ivm_map_iter_frame {
    const ivm_value *entry;    /* the next inline entry not yet given */
    const ivm_value *child;    /* the next child */
    uint32_t datamap, nodemap; /* chunk bits of those not yet visited */
} ivm_map_iter_frame;
typedef struct ivm_map_iter {
    const ivm_value *entry, *run_end; /* entries to give next, in order */
    const ivm_value *first; /* the nil key's entry: given first, then skipped */
    bool first_pending;
    unsigned width;
    unsigned depth; /* trie nodes with entries or children left, below */
    ivm_map_iter_frame at[IVM_MAP_LEVELS];
} ivm_map_iter;

void ivm_map_iter_init(ivm_map_iter *it, ivm_value map_or_set);
/* False when done. For a set *val gets the key again. val may be NULL. */
bool ivm_map_iter_next(ivm_map_iter *it, ivm_value *key, ivm_value *val);

/* ---- Equality support -------------------------------------------------- */

/* Compares two maps or two sets structurally, except for their keys and
 * values. When either is an array map (so both have at most 8 entries if
 * equal): both maps, the same count, and each key of one found in the
 * other, by ivm_equal; pushes each pair of values (a's first). Else: same
 * kind, count, and bitmaps at every node. Pushes each pair of
 * keys and of values in corresponding slots onto w (ivm_worklist_push2),
 * for the caller to compare; a and b are equal iff this returns true and
 * every pushed pair is equal. Returns false as soon as the shapes differ,
 * leaving what it pushed so far on w for the caller to drop.
 * Identical subtrees are skipped (equal to themselves, as ivm_equal treats
 * an identical collection). Collision nodes, whose order is not canonical,
 * are matched with ivm_equal on their keys (a recursion only through keys
 * that collide in full); their values are pushed. */
bool ivm_map_equal_push(ivm_value a, ivm_value b, ivm_worklist *w);

/* ---- Checks and statistics -------------------------------------------- */

/* Arena bytes held by the trie's nodes or the array map (not by its keys
 * and values). */
uint64_t ivm_map_node_bytes(ivm_value map_or_set);
/* Checks every invariant above of a map or set (tests and the heap
 * verifier): keys where their hashes put them, canonical shape, distinct
 * keys, the count (at most 8 in an array map), nil in unused slots, edit
 * ids already handed out. */
bool ivm_map_valid(const ivm_heap *h, ivm_value map_or_set);

/* ---- Transients -------------------------------------------------------- */

#ifndef IVM_TRANSIENT_STATUS_DEFINED
#define IVM_TRANSIENT_STATUS_DEFINED
typedef enum ivm_transient_status {
    IVM_TRANSIENT_OK,
    IVM_TRANSIENT_FROZEN,    /* used after persistent! */
    IVM_TRANSIENT_NOT_OWNER, /* used by a process other than its builder */
} ivm_transient_status;
#endif

/* A transient copy of a map or set, to be changed in place by the process
 * `owner` alone. m itself never changes. */
ivm_value ivm_map_transient(ivm_heap *h, ivm_value m, uint64_t owner);
static inline bool ivm_is_transient_map(ivm_value v) { return ivm_is_kind(v, IVM_K_MAP_TRANSIENT); }
static inline bool ivm_is_transient_set(ivm_value v) { return ivm_is_kind(v, IVM_K_SET_TRANSIENT); }

/* Each checks, in this order, that t is not frozen and that owner built it,
 * and does nothing else unless it returns IVM_TRANSIENT_OK. */
ivm_transient_status ivm_tmap_assoc(ivm_heap *h, ivm_value t, uint64_t owner,
                                    ivm_value k, ivm_value v);
ivm_transient_status ivm_tmap_dissoc(ivm_heap *h, ivm_value t, uint64_t owner,
                                     ivm_value k);
/* *found tells whether k is present; *out (map) gets its value. */
ivm_transient_status ivm_tmap_get(const ivm_heap *h, ivm_value t, uint64_t owner,
                                  ivm_value k, bool *found, ivm_value *out);
ivm_transient_status ivm_tset_conj(ivm_heap *h, ivm_value t, uint64_t owner,
                                   ivm_value k);
ivm_transient_status ivm_tset_disj(ivm_heap *h, ivm_value t, uint64_t owner,
                                   ivm_value k);
ivm_transient_status ivm_tset_contains(const ivm_heap *h, ivm_value t,
                                       uint64_t owner, ivm_value k, bool *found);
/* These two take transient maps and sets alike. */
ivm_transient_status ivm_tmap_count(ivm_value t, uint64_t owner, uint64_t *out);
/* Freezes t and gives its contents as a persistent map or set. */
ivm_transient_status ivm_tmap_persistent(ivm_heap *h, ivm_value t, uint64_t owner,
                                         ivm_value *out);

#endif
