/* Maps and sets: array maps, CHAMP tries, their transients, iteration in
 * Clojure's order, the structural half of equality and an invariant
 * checker. map.h describes the layouts and the invariants this file keeps.
 *
 * An array map is changed by copying it whole (persistent) or in place
 * (a transient's own copy); the 9th key hands its entries to a trie.
 * Every change (assoc, dissoc, conj, disj, merge) runs through one recursive
 * descent, node_assoc or node_dissoc, whose depth is at most the 7 trie
 * levels plus a collision node. With edit 0 it copies the path it changes
 * (persistent update); with a transient's id it writes in place the nodes
 * that carry that id. Copies are allocated after the children they point
 * to, so persistent updates keep the heap's age order; writes in place do
 * not (see map.h). */
#include "values/map.h"

#include "ivm/platform.h"

/* ---- Nodes ------------------------------------------------------------- */

typedef struct node {
    ivm_header h; /* small field: entry width */
    uint32_t datamap;
    uint32_t nodemap;
    uint64_t edit;
    uint64_t words[]; /* root: count, then slots; inner node: slots */
} node;

typedef struct coll {
    ivm_header h; /* small field: entry width */
    uint64_t edit;
    ivm_value slots[];
} coll;

typedef struct transient {
    ivm_header h;
    uint64_t owner;
    uint64_t edit; /* 0 once frozen */
    ivm_value root;
} transient;

typedef struct amap {
    ivm_header h; /* small field: entry width, 2 */
    uint64_t edit;
    uint64_t count;
    ivm_value slots[]; /* count entries in order, then nil */
} amap;

#define LAST_SHIFT 30 /* shift of the 7th level; keys below it collide */

static inline node *as_node(ivm_value v) { return (node *)(uintptr_t)v; }
static inline coll *as_coll(ivm_value v) { return (coll *)(uintptr_t)v; }
static inline transient *as_transient(ivm_value v) { return (transient *)(uintptr_t)v; }
static inline amap *as_amap(ivm_value v) { return (amap *)(uintptr_t)v; }
static inline ivm_value value_of(const void *p) { return (ivm_value)(uintptr_t)p; }

static inline unsigned kind_of(ivm_header h) { return (unsigned)(h & 0xff); }
static inline unsigned width_of(ivm_value v) { return ivm_header_small(*ivm_obj_header(v)); }
static inline bool is_coll(ivm_value v) { return ivm_obj_kind(v) == IVM_K_MAP_COLLISION; }
static inline bool is_amap(ivm_value v) { return ivm_obj_kind(v) == IVM_K_ARRAY_MAP; }
static inline bool is_root(const node *n) { return kind_of(n->h) != IVM_K_MAP_NODE; }
static inline bool is_map_or_set(ivm_value v) { return ivm_is_map(v) || ivm_is_set(v); }

static inline ivm_value *slots(node *n) { return (ivm_value *)n->words + is_root(n); }
static inline uint64_t *root_count(node *n)
{
    IVM_ASSERT(is_root(n));
    return &n->words[0];
}
/* Slots allocated, used or not. */
static inline unsigned capacity(const node *n)
{
    return ivm_header_words(n->h) - (unsigned)(sizeof(node) / 8) - is_root(n);
}
static inline unsigned coll_len(const coll *c)
{
    return ivm_header_words(c->h) - (unsigned)(sizeof(coll) / 8);
}
/* Entries allocated, used or not. */
static inline unsigned amap_capacity(const amap *a)
{
    return (ivm_header_words(a->h) - (unsigned)(sizeof(amap) / 8)) / 2;
}
/* Entries of a map or set value (an array map or a root node). */
static inline uint64_t entries_of(ivm_value m)
{
    return is_amap(m) ? as_amap(m)->count : *root_count(as_node(m));
}

/* __builtin_popcount would call libgcc, which the core may not use. */
static inline unsigned popcount(uint32_t x)
{
    x -= (x >> 1) & 0x55555555u;
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0fu;
    return (x * 0x01010101u) >> 24;
}

static inline uint32_t bitpos(uint32_t hash, unsigned shift)
{
    return (uint32_t)1 << ((hash >> shift) & 31);
}
static inline unsigned index_below(uint32_t map, uint32_t bit) { return popcount(map & (bit - 1)); }
/* Slots used: the entries, then the children. */
static inline unsigned node_len(const node *n, unsigned w)
{
    return popcount(n->datamap) * w + popcount(n->nodemap);
}
static inline unsigned entry_index(const node *n, uint32_t bit, unsigned w)
{
    return index_below(n->datamap, bit) * w;
}
static inline unsigned child_index(const node *n, uint32_t bit, unsigned w)
{
    return popcount(n->datamap) * w + index_below(n->nodemap, bit);
}

static inline uint32_t key_hash(const ivm_heap *h, ivm_value k)
{
    return h->key_hash_for_tests ? h->key_hash_for_tests(k) : ivm_hash(k);
}

/* ivm_equal, without the call when neither is an arena object: immediates
 * are equal only when their words are (an integer that fits a fixnum is
 * never boxed, and a flonum's encoding is unique). */
static inline bool keys_equal(ivm_value a, ivm_value b)
{
    if (!ivm_is_obj(a) && !ivm_is_obj(b))
        return a == b;
    return ivm_equal(a, b);
}

static inline void put_entry(ivm_value *e, unsigned w, ivm_value k, ivm_value v)
{
    e[0] = k;
    if (w == 2)
        e[1] = v;
}

/* The slot index of k in a, or -1. */
static int amap_find(const amap *a, ivm_value k)
{
    for (unsigned i = 0; i < 2 * a->count; i += 2)
        if (keys_equal(a->slots[i], k))
            return (int)i;
    return -1;
}

/* The slot index of k in c, or -1. */
static int coll_find(const coll *c, ivm_value k, unsigned w)
{
    unsigned len = coll_len(c);
    for (unsigned i = 0; i < len; i += w)
        if (keys_equal(c->slots[i], k))
            return (int)i;
    return -1;
}

/* ---- One change to a trie ---------------------------------------------- */

typedef struct change {
    ivm_heap *h;
    /* Nodes carrying this id are written in place; 0 copies every node. */
    uint64_t edit;
    unsigned width; /* 2 for maps, 1 for sets */
    bool keep_old;  /* assoc leaves an existing entry as it is (merge) */
    ivm_value key, val;
    uint32_t hash; /* of key */
    bool resized;  /* the key was added (assoc) or removed (dissoc) */
    /* node_dissoc: the one entry left in a subtree that returned 0 */
    ivm_value rest_key, rest_val;
} change;

/* The hash is left for root_assoc and root_dissoc to fill in: an array
 * map needs none. */
static change change_of(ivm_heap *h, uint64_t edit, ivm_value root, ivm_value k,
                        ivm_value v)
{
    return (change){.h = h, .edit = edit, .width = width_of(root), .key = k, .val = v};
}

static bool editable(const change *c, uint64_t edit)
{
    return c->edit != 0 && edit == c->edit && !ivm_heap_no_edits(c->h);
}

/* Slots to allocate for `len` used ones, where the node had `old_len`:
 * exactly len, except that a transient's growing node gets half as much
 * again to grow into in place, since the copies it would otherwise make at
 * each insertion are garbage. New nodes are exact: most stay at two
 * entries. Building a 1M-entry integer map this way allocates 51 bytes
 * per entry, 31 of them in the final trie; exact copies, 125 and 26. */
static unsigned room_for(const change *c, unsigned len, unsigned old_len)
{
    return c->edit && len > old_len ? len + len / 2 + 2 : len;
}

/* A node with `cap` slots whose caller fills in the bitmaps, `len` slots
 * and (root) count. */
static node *node_alloc(const change *c, unsigned kind, unsigned len, unsigned cap)
{
    unsigned root = kind != IVM_K_MAP_NODE;
    node *n = ivm_heap_alloc(c->h, kind, c->width,
                             sizeof(node) + 8 * (size_t)(root + cap));
    n->edit = c->edit;
    memset(slots(n) + len, 0, 8 * (size_t)(cap - len));
    return n;
}

static coll *coll_alloc(const change *c, unsigned len)
{
    coll *n = ivm_heap_alloc(c->h, IVM_K_MAP_COLLISION, c->width,
                             sizeof(coll) + 8 * (size_t)len);
    n->edit = c->edit;
    return n;
}

/* n with the slots [rpos, rpos+rn) removed and then a gap of `in` slots
 * opened at ipos (counted after the removal), for the caller to fill along
 * with the bitmaps. That is n itself when the change may write n and n has
 * the room, a copy otherwise. Slots a node stops using are cleared, so an
 * unused slot always holds nil. */
static node *node_splice(const change *c, node *n, unsigned rpos, unsigned rn,
                         unsigned ipos, unsigned in)
{
    unsigned len = node_len(n, c->width), keep = len - rn, newlen = keep + in;
    ivm_value *s = slots(n);
    node *m = n;
    if (editable(c, n->edit) && newlen <= capacity(n)) {
        if (rn)
            memmove(s + rpos, s + rpos + rn, 8 * (size_t)(keep - rpos));
    } else {
        m = node_alloc(c, kind_of(n->h), newlen, room_for(c, newlen, len));
        m->datamap = n->datamap;
        m->nodemap = n->nodemap;
        if (is_root(n))
            *root_count(m) = *root_count(n);
        memcpy(slots(m), s, 8 * (size_t)rpos);
        memcpy(slots(m) + rpos, s + rpos + rn, 8 * (size_t)(keep - rpos));
    }
    ivm_value *d = slots(m);
    if (in)
        memmove(d + ipos + in, d + ipos, 8 * (size_t)(keep - ipos));
    if (m == n && newlen < len)
        memset(d + newlen, 0, 8 * (size_t)(len - newlen));
    return m;
}

static node *set_slot(const change *c, node *n, unsigned i, ivm_value v)
{
    node *m = node_splice(c, n, 0, 0, 0, 0);
    slots(m)[i] = v;
    return m;
}

static node *insert_entry(const change *c, node *n, uint32_t bit)
{
    unsigned at = entry_index(n, bit, c->width);
    node *m = node_splice(c, n, 0, 0, at, c->width);
    m->datamap |= bit;
    put_entry(slots(m) + at, c->width, c->key, c->val);
    return m;
}

static node *remove_entry(const change *c, node *n, uint32_t bit)
{
    unsigned at = entry_index(n, bit, c->width);
    node *m = node_splice(c, n, at, c->width, 0, 0);
    m->datamap &= ~bit;
    return m;
}

/* Replaces the entry at bit by a child. */
static node *entry_to_child(const change *c, node *n, uint32_t bit, ivm_value child)
{
    unsigned w = c->width, at = entry_index(n, bit, w);
    unsigned to = (popcount(n->datamap) - 1) * w + index_below(n->nodemap, bit);
    node *m = node_splice(c, n, at, w, to, 1);
    m->datamap &= ~bit;
    m->nodemap |= bit;
    slots(m)[to] = child;
    return m;
}

/* Replaces the child at bit by the entry (k, v). */
static node *child_to_entry(const change *c, node *n, uint32_t bit, ivm_value k,
                            ivm_value v)
{
    unsigned w = c->width, from = child_index(n, bit, w);
    unsigned at = entry_index(n, bit, w); /* entries come before children */
    node *m = node_splice(c, n, from, 1, at, w);
    m->datamap |= bit;
    m->nodemap &= ~bit;
    put_entry(slots(m) + at, w, k, v);
    return m;
}

/* The subtree at `shift` holding (k, v), whose hash is h1, and the change's
 * key, a different key. Built bottom up, so that parents are younger than
 * their children. */
static ivm_value pair_node(const change *c, ivm_value k, ivm_value v, uint32_t h1,
                           unsigned shift)
{
    unsigned w = c->width;
    if (shift > LAST_SHIFT) {
        coll *n = coll_alloc(c, 2 * w);
        put_entry(n->slots, w, k, v);
        put_entry(n->slots + w, w, c->key, c->val);
        return value_of(n);
    }
    uint32_t b1 = bitpos(h1, shift), b2 = bitpos(c->hash, shift);
    if (b1 == b2) {
        ivm_value child = pair_node(c, k, v, h1, shift + 5);
        node *n = node_alloc(c, IVM_K_MAP_NODE, 1, 1);
        n->datamap = 0;
        n->nodemap = b1;
        slots(n)[0] = child;
        return value_of(n);
    }
    node *n = node_alloc(c, IVM_K_MAP_NODE, 2 * w, 2 * w);
    n->datamap = b1 | b2;
    n->nodemap = 0;
    put_entry(slots(n) + (b1 < b2 ? 0 : w), w, k, v);
    put_entry(slots(n) + (b1 < b2 ? w : 0), w, c->key, c->val);
    return value_of(n);
}

/* ---- Assoc ------------------------------------------------------------- */

/* Each returns the subtree with the change made: the same node when there
 * was nothing to change or it was changed in place, else a new one. */
static ivm_value sub_assoc(change *c, ivm_value sub, unsigned shift);

static ivm_value coll_assoc(change *c, coll *n)
{
    unsigned w = c->width, len = coll_len(n);
    int i = coll_find(n, c->key, w);
    if (i >= 0) {
        if (w == 1 || c->keep_old || n->slots[i + 1] == c->val)
            return value_of(n);
        coll *m = n;
        if (!editable(c, n->edit)) {
            m = coll_alloc(c, len);
            memcpy(m->slots, n->slots, 8 * (size_t)len);
        }
        m->slots[i + 1] = c->val;
        return value_of(m);
    }
    coll *m = coll_alloc(c, len + w);
    memcpy(m->slots, n->slots, 8 * (size_t)len);
    put_entry(m->slots + len, w, c->key, c->val);
    c->resized = true;
    return value_of(m);
}

static ivm_value node_assoc(change *c, node *n, unsigned shift)
{
    unsigned w = c->width;
    uint32_t bit = bitpos(c->hash, shift);
    if (n->datamap & bit) {
        unsigned i = entry_index(n, bit, w);
        ivm_value k = slots(n)[i], v = slots(n)[i + w - 1];
        if (keys_equal(k, c->key)) {
            if (w == 1 || c->keep_old || v == c->val)
                return value_of(n);
            return value_of(set_slot(c, n, i + 1, c->val));
        }
        ivm_value child = pair_node(c, k, v, key_hash(c->h, k), shift + 5);
        c->resized = true;
        return value_of(entry_to_child(c, n, bit, child));
    }
    if (n->nodemap & bit) {
        unsigned i = child_index(n, bit, w);
        ivm_value child = slots(n)[i];
        ivm_value sub = sub_assoc(c, child, shift + 5);
        return sub == child ? value_of(n) : value_of(set_slot(c, n, i, sub));
    }
    c->resized = true;
    return value_of(insert_entry(c, n, bit));
}

static ivm_value sub_assoc(change *c, ivm_value sub, unsigned shift)
{
    return is_coll(sub) ? coll_assoc(c, as_coll(sub)) : node_assoc(c, as_node(sub), shift);
}

/* ---- Dissoc ------------------------------------------------------------ */

/* Each returns the subtree without the change's key: the same node when the
 * key is absent or it was removed in place, a new node, or 0 when a subtree
 * below the root is left with a single entry. That entry is then in
 * rest_key/rest_val and the parent must hold it inline where the subtree
 * was: it shares the removed key's hash chunks above the subtree, so it
 * belongs at the same bit. This is what keeps the shape canonical. */
static ivm_value sub_dissoc(change *c, ivm_value sub, unsigned shift);

static void keep_rest(change *c, const ivm_value *entry)
{
    c->rest_key = entry[0];
    c->rest_val = entry[c->width - 1];
}

static ivm_value coll_dissoc(change *c, coll *n)
{
    unsigned w = c->width, len = coll_len(n);
    int found = coll_find(n, c->key, w);
    if (found < 0)
        return value_of(n);
    unsigned i = (unsigned)found;
    c->resized = true;
    if (len == 2 * w) {
        keep_rest(c, n->slots + (i == 0 ? w : 0));
        return 0;
    }
    coll *m = coll_alloc(c, len - w);
    if (c->edit) { /* as Clojure's transients: the last entry fills the gap */
        memcpy(m->slots, n->slots, 8 * (size_t)(len - w));
        if (i != len - w)
            memcpy(m->slots + i, n->slots + len - w, 8 * (size_t)w);
    } else {
        memcpy(m->slots, n->slots, 8 * (size_t)i);
        memcpy(m->slots + i, n->slots + i + w, 8 * (size_t)(len - i - w));
    }
    return value_of(m);
}

static ivm_value node_dissoc(change *c, node *n, unsigned shift)
{
    unsigned w = c->width;
    uint32_t bit = bitpos(c->hash, shift);
    if (n->datamap & bit) {
        unsigned i = entry_index(n, bit, w);
        if (!keys_equal(slots(n)[i], c->key))
            return value_of(n);
        c->resized = true;
        if (shift > 0 && n->nodemap == 0 && popcount(n->datamap) == 2) {
            keep_rest(c, slots(n) + (i == 0 ? w : 0));
            return 0;
        }
        return value_of(remove_entry(c, n, bit));
    }
    if (!(n->nodemap & bit))
        return value_of(n);
    unsigned i = child_index(n, bit, w);
    ivm_value child = slots(n)[i];
    ivm_value sub = sub_dissoc(c, child, shift + 5);
    if (sub == child)
        return value_of(n);
    if (sub)
        return value_of(set_slot(c, n, i, sub));
    if (shift > 0 && n->datamap == 0 && n->nodemap == bit)
        return 0; /* a chain: the single entry moves further up */
    return value_of(child_to_entry(c, n, bit, c->rest_key, c->rest_val));
}

static ivm_value sub_dissoc(change *c, ivm_value sub, unsigned shift)
{
    return is_coll(sub) ? coll_dissoc(c, as_coll(sub)) : node_dissoc(c, as_node(sub), shift);
}

/* ---- Roots ------------------------------------------------------------- */

/* The root after the change, its count updated (a root never returns 0). */
static node *root_assoc(change *c, node *root)
{
    c->hash = key_hash(c->h, c->key);
    uint64_t count = *root_count(root);
    node *r = as_node(node_assoc(c, root, 0));
    if (c->resized)
        *root_count(r) = count + 1;
    return r;
}

static node *root_dissoc(change *c, node *root)
{
    c->hash = key_hash(c->h, c->key);
    uint64_t count = *root_count(root);
    node *r = as_node(node_dissoc(c, root, 0));
    if (c->resized)
        *root_count(r) = count - 1;
    return r;
}

static ivm_value empty_root(ivm_heap *h, unsigned kind, unsigned width)
{
    change c = {.h = h, .width = width};
    node *n = node_alloc(&c, kind, 0, 0);
    n->datamap = n->nodemap = 0;
    *root_count(n) = 0;
    return value_of(n);
}

/* ---- Array maps -------------------------------------------------------- */

/* An array map of `count` entries, for the caller to fill in, with room
 * for `cap`. */
static amap *amap_alloc(const change *c, unsigned count, unsigned cap)
{
    amap *a = ivm_heap_alloc(c->h, IVM_K_ARRAY_MAP, 2, sizeof(amap) + 16 * (size_t)cap);
    a->edit = c->edit;
    a->count = count;
    memset(a->slots + 2 * count, 0, 16 * (size_t)(cap - count));
    return a;
}

/* a itself when the change may write it and it has room for `need`
 * entries, else a copy of it with that room: exactly `need` for a
 * persistent change, more to grow into for a transient (as room_for). */
static amap *amap_writable(const change *c, amap *a, unsigned need)
{
    if (editable(c, a->edit) && need <= amap_capacity(a))
        return a;
    unsigned cap = need;
    if (c->edit) {
        cap = need + need / 2 + 2;
        cap = cap < IVM_ARRAY_MAP_MAX ? cap : IVM_ARRAY_MAP_MAX;
    }
    amap *m = amap_alloc(c, (unsigned)a->count, cap);
    memcpy(m->slots, a->slots, 16 * (size_t)a->count);
    return m;
}

/* The 9th key: a's entries, in its order, then the change's key go into a
 * trie built under the change's edit (in place for a transient, by path
 * copying for a persistent assoc). */
static node *amap_promote(change *c, const amap *a)
{
    node *root = node_alloc(c, IVM_K_MAP_ROOT, 0, 0);
    root->datamap = root->nodemap = 0;
    *root_count(root) = 0;
    for (unsigned i = 0; i < 2 * a->count; i += 2) {
        change e = *c;
        e.key = a->slots[i];
        e.val = a->slots[i + 1];
        e.keep_old = false;
        e.resized = false;
        root = root_assoc(&e, root);
    }
    c->resized = false;
    return root_assoc(c, root);
}

/* As node_assoc, for a whole array map: the map after the change, which
 * may be a trie's root. */
static ivm_value amap_assoc(change *c, amap *a)
{
    int found = amap_find(a, c->key);
    if (found >= 0) {
        unsigned i = (unsigned)found;
        if (c->keep_old || a->slots[i + 1] == c->val)
            return value_of(a);
        amap *m = amap_writable(c, a, (unsigned)a->count);
        m->slots[i + 1] = c->val;
        return value_of(m);
    }
    if (a->count == IVM_ARRAY_MAP_MAX)
        return value_of(amap_promote(c, a));
    c->resized = true;
    amap *m = amap_writable(c, a, (unsigned)a->count + 1);
    m->slots[2 * m->count] = c->key;
    m->slots[2 * m->count + 1] = c->val;
    m->count++;
    return value_of(m);
}

/* A persistent dissoc keeps the order of the rest; a transient's, like
 * Clojure's TransientArrayMap, moves the last entry into the gap. */
static ivm_value amap_dissoc(change *c, amap *a)
{
    int found = amap_find(a, c->key);
    if (found < 0)
        return value_of(a);
    unsigned i = (unsigned)found, n = (unsigned)a->count;
    c->resized = true;
    if (c->edit) {
        amap *m = amap_writable(c, a, n);
        m->slots[i] = m->slots[2 * n - 2];
        m->slots[i + 1] = m->slots[2 * n - 1];
        m->slots[2 * n - 2] = m->slots[2 * n - 1] = IVM_NIL;
        m->count--;
        return value_of(m);
    }
    amap *m = amap_alloc(c, n - 1, n - 1);
    memcpy(m->slots, a->slots, 8 * (size_t)i);
    memcpy(m->slots + i, a->slots + i + 2, 8 * (size_t)(2 * n - i - 2));
    return value_of(m);
}

/* ---- Any map or set ---------------------------------------------------- */

static ivm_value any_assoc(change *c, ivm_value m)
{
    return is_amap(m) ? amap_assoc(c, as_amap(m)) : value_of(root_assoc(c, as_node(m)));
}

static ivm_value any_dissoc(change *c, ivm_value m)
{
    return is_amap(m) ? amap_dissoc(c, as_amap(m)) : value_of(root_dissoc(c, as_node(m)));
}

/* The entry of k (its key slot), or NULL. */
static const ivm_value *lookup(const ivm_heap *h, ivm_value root, ivm_value k)
{
    if (is_amap(root)) {
        int i = amap_find(as_amap(root), k);
        return i < 0 ? NULL : as_amap(root)->slots + i;
    }
    uint32_t hash = key_hash(h, k);
    unsigned w = width_of(root);
    node *n = as_node(root);
    for (unsigned shift = 0;; shift += 5) {
        uint32_t bit = bitpos(hash, shift);
        if (n->datamap & bit) {
            const ivm_value *e = slots(n) + entry_index(n, bit, w);
            return keys_equal(e[0], k) ? e : NULL;
        }
        if (!(n->nodemap & bit))
            return NULL;
        ivm_value child = slots(n)[child_index(n, bit, w)];
        if (is_coll(child)) {
            int i = coll_find(as_coll(child), k, w);
            return i < 0 ? NULL : as_coll(child)->slots + i;
        }
        n = as_node(child);
    }
}

/* ---- Persistent maps and sets ------------------------------------------ */

ivm_value ivm_map_empty(ivm_heap *h)
{
    change c = {.h = h, .width = 2};
    return value_of(amap_alloc(&c, 0, 0));
}
ivm_value ivm_map_empty_hashed(ivm_heap *h) { return empty_root(h, IVM_K_MAP_ROOT, 2); }
ivm_value ivm_set_empty(ivm_heap *h) { return empty_root(h, IVM_K_SET_ROOT, 1); }

uint64_t ivm_map_count(ivm_value m)
{
    IVM_ASSERT(ivm_is_map(m));
    return entries_of(m);
}

uint64_t ivm_set_count(ivm_value s)
{
    IVM_ASSERT(ivm_is_set(s));
    return *root_count(as_node(s));
}

static ivm_value persistent_assoc(ivm_heap *h, ivm_value m, ivm_value k, ivm_value v)
{
    change c = change_of(h, 0, m, k, v);
    return any_assoc(&c, m);
}

static ivm_value persistent_dissoc(ivm_heap *h, ivm_value m, ivm_value k)
{
    change c = change_of(h, 0, m, k, IVM_NIL);
    return any_dissoc(&c, m);
}

ivm_value ivm_map_assoc(ivm_heap *h, ivm_value m, ivm_value k, ivm_value v)
{
    IVM_ASSERT(ivm_is_map(m));
    return persistent_assoc(h, m, k, v);
}

ivm_value ivm_map_dissoc(ivm_heap *h, ivm_value m, ivm_value k)
{
    IVM_ASSERT(ivm_is_map(m));
    return persistent_dissoc(h, m, k);
}

bool ivm_map_get(const ivm_heap *h, ivm_value m, ivm_value k, ivm_value *out)
{
    IVM_ASSERT(ivm_is_map(m));
    const ivm_value *e = lookup(h, m, k);
    if (e)
        *out = e[1];
    return e != NULL;
}

ivm_value ivm_set_conj(ivm_heap *h, ivm_value s, ivm_value k)
{
    IVM_ASSERT(ivm_is_set(s));
    return persistent_assoc(h, s, k, IVM_NIL);
}

ivm_value ivm_set_disj(ivm_heap *h, ivm_value s, ivm_value k)
{
    IVM_ASSERT(ivm_is_set(s));
    return persistent_dissoc(h, s, k);
}

bool ivm_set_contains(const ivm_heap *h, ivm_value s, ivm_value k)
{
    IVM_ASSERT(ivm_is_set(s));
    return lookup(h, s, k) != NULL;
}

/* Builds in place under a fresh transient id that nothing keeps: once this
 * returns, no one can write the nodes it made. Clojure's merge adds b's
 * entries to a in b's order. Where the result is a trie whatever the order
 * (two tries, or b a trie of more than 8 entries: a's array map would
 * overflow on the way), its order is the hashes', so the smaller side's
 * entries go into the larger one, with keep_old when that is b (its
 * entries win). */
ivm_value ivm_map_merge(ivm_heap *h, ivm_value a, ivm_value b)
{
    IVM_ASSERT(is_map_or_set(a) && is_map_or_set(b) && ivm_is_set(a) == ivm_is_set(b));
    uint64_t na = entries_of(a), nb = entries_of(b);
    bool b_hashed_anyway = !is_amap(b) && (!is_amap(a) || nb > IVM_ARRAY_MAP_MAX);
    if (nb == 0)
        return a;
    if (na == 0 && (is_amap(b) ? is_amap(a) : b_hashed_anyway))
        return b;
    bool onto_b = b_hashed_anyway && nb > na;
    change c = {.h = h, .edit = ivm_heap_transient_id(h), .width = width_of(a),
                .keep_old = onto_b};
    ivm_value root = onto_b ? b : a;
    ivm_map_iter it;
    ivm_map_iter_init(&it, onto_b ? a : b);
    while (ivm_map_iter_next(&it, &c.key, &c.val)) {
        c.resized = false;
        root = any_assoc(&c, root);
    }
    return root;
}

/* ---- Transients -------------------------------------------------------- */

ivm_value ivm_map_transient(ivm_heap *h, ivm_value m, uint64_t owner)
{
    IVM_ASSERT(is_map_or_set(m));
    unsigned kind = ivm_is_map(m) ? IVM_K_MAP_TRANSIENT : IVM_K_SET_TRANSIENT;
    transient *t = ivm_heap_alloc(h, kind, 0, sizeof *t);
    t->owner = owner;
    t->edit = ivm_heap_transient_id(h);
    t->root = m;
    return value_of(t);
}

static ivm_transient_status check(ivm_value t, uint64_t owner)
{
    IVM_ASSERT(ivm_is_transient_map(t) || ivm_is_transient_set(t));
    if (as_transient(t)->edit == 0)
        return IVM_TRANSIENT_FROZEN;
    return as_transient(t)->owner == owner ? IVM_TRANSIENT_OK : IVM_TRANSIENT_NOT_OWNER;
}

static ivm_transient_status transient_change(ivm_heap *h, ivm_value tv, uint64_t owner,
                                             ivm_value k, ivm_value v, bool add)
{
    ivm_transient_status st = check(tv, owner);
    if (st != IVM_TRANSIENT_OK)
        return st;
    transient *t = as_transient(tv);
    change c = change_of(h, t->edit, t->root, k, v);
    ivm_value root = add ? any_assoc(&c, t->root) : any_dissoc(&c, t->root);
    /* the barrier: the old root too, whose children the new one shares */
    ivm_heap_shade(h, t->root);
    /* a concurrent collector may read it */
    __atomic_store_n(&t->root, ivm_heap_forward(h, root), __ATOMIC_RELEASE);
    ivm_heap_shade(h, root);
    return IVM_TRANSIENT_OK;
}

static ivm_transient_status transient_lookup(const ivm_heap *h, ivm_value t,
                                             uint64_t owner, ivm_value k,
                                             const ivm_value **entry)
{
    ivm_transient_status st = check(t, owner);
    if (st == IVM_TRANSIENT_OK)
        *entry = lookup(h, as_transient(t)->root, k);
    return st;
}

ivm_transient_status ivm_tmap_assoc(ivm_heap *h, ivm_value t, uint64_t owner,
                                    ivm_value k, ivm_value v)
{
    IVM_ASSERT(ivm_is_transient_map(t));
    return transient_change(h, t, owner, k, v, true);
}

ivm_transient_status ivm_tmap_dissoc(ivm_heap *h, ivm_value t, uint64_t owner,
                                     ivm_value k)
{
    IVM_ASSERT(ivm_is_transient_map(t));
    return transient_change(h, t, owner, k, IVM_NIL, false);
}

ivm_transient_status ivm_tmap_get(const ivm_heap *h, ivm_value t, uint64_t owner,
                                  ivm_value k, bool *found, ivm_value *out)
{
    IVM_ASSERT(ivm_is_transient_map(t));
    const ivm_value *e;
    ivm_transient_status st = transient_lookup(h, t, owner, k, &e);
    if (st == IVM_TRANSIENT_OK) {
        *found = e != NULL;
        if (e)
            *out = e[1];
    }
    return st;
}

ivm_transient_status ivm_tset_conj(ivm_heap *h, ivm_value t, uint64_t owner,
                                   ivm_value k)
{
    IVM_ASSERT(ivm_is_transient_set(t));
    return transient_change(h, t, owner, k, IVM_NIL, true);
}

ivm_transient_status ivm_tset_disj(ivm_heap *h, ivm_value t, uint64_t owner,
                                   ivm_value k)
{
    IVM_ASSERT(ivm_is_transient_set(t));
    return transient_change(h, t, owner, k, IVM_NIL, false);
}

ivm_transient_status ivm_tset_contains(const ivm_heap *h, ivm_value t,
                                       uint64_t owner, ivm_value k, bool *found)
{
    IVM_ASSERT(ivm_is_transient_set(t));
    const ivm_value *e;
    ivm_transient_status st = transient_lookup(h, t, owner, k, &e);
    if (st == IVM_TRANSIENT_OK)
        *found = e != NULL;
    return st;
}

ivm_transient_status ivm_tmap_count(ivm_value t, uint64_t owner, uint64_t *out)
{
    ivm_transient_status st = check(t, owner);
    if (st == IVM_TRANSIENT_OK)
        *out = entries_of(as_transient(t)->root);
    return st;
}

/* From here on no one holds the id, so no node of the result is written
 * again. */
ivm_transient_status ivm_tmap_persistent(ivm_heap *h, ivm_value t, uint64_t owner,
                                         ivm_value *out)
{
    (void)h;
    ivm_transient_status st = check(t, owner);
    if (st != IVM_TRANSIENT_OK)
        return st;
    as_transient(t)->edit = 0;
    *out = as_transient(t)->root;
    return IVM_TRANSIENT_OK;
}

/* ---- Walks ------------------------------------------------------------- */

/* Node walks (node_bytes, equality) visit a node, then its children, depth
 * first, keeping per level the children still to visit. The root is at
 * level 0 and only CHAMP nodes (levels 0..6) have children, so
 * IVM_MAP_LEVELS cursors suffice. */
typedef struct ivm_map_cursor { const ivm_value *next, *end; } ivm_map_cursor;

static void push_children(ivm_map_cursor *stack, unsigned *depth, ivm_value v,
                          unsigned w)
{
    if (is_coll(v) || as_node(v)->nodemap == 0)
        return;
    IVM_ASSERT(*depth < IVM_MAP_LEVELS);
    node *n = as_node(v);
    const ivm_value *first = slots(n) + popcount(n->datamap) * w;
    stack[(*depth)++] = (ivm_map_cursor){first, first + popcount(n->nodemap)};
}

/* The next node to visit, or false when the walk is over. */
static bool next_node(ivm_map_cursor *stack, unsigned *depth, ivm_value *v)
{
    while (*depth > 0 && stack[*depth - 1].next == stack[*depth - 1].end)
        (*depth)--;
    if (*depth == 0)
        return false;
    *v = *stack[*depth - 1].next++;
    return true;
}

/* Iteration, in Clojure's order (map.h), gives runs of entries that lie
 * side by side: an array map's or a collision node's entries, or a trie
 * node's inline entries between two of its children (both groups are in
 * chunk order). For each trie node on the path it keeps a frame: where its
 * next inline entry and its next child are, and the chunk bits of those
 * not yet visited. A frame goes as soon as nothing is left in it, so only
 * trie nodes (levels 0..6) have one. */

/* Starts on node v: true with its entries as the run for a collision node
 * or an array map, false with a new frame for a trie node (none for an
 * empty one). */
static bool iter_enter(ivm_map_iter *it, ivm_value v)
{
    if (is_coll(v) || is_amap(v)) {
        it->entry = is_coll(v) ? as_coll(v)->slots : as_amap(v)->slots;
        it->run_end = it->entry + (is_coll(v) ? coll_len(as_coll(v)) : 2 * as_amap(v)->count);
        return true;
    }
    node *n = as_node(v);
    if ((n->datamap | n->nodemap) == 0)
        return false; /* an empty root */
    IVM_ASSERT(it->depth < IVM_MAP_LEVELS);
    const ivm_value *s = slots(n);
    it->at[it->depth++] = (ivm_map_iter_frame){s, s + popcount(n->datamap) * it->width,
                                               n->datamap, n->nodemap};
    return false;
}

/* Sets the next run; false when the walk is over. */
static bool next_run(ivm_map_iter *it)
{
    unsigned w = it->width;
    while (it->depth > 0) {
        ivm_map_iter_frame *f = &it->at[it->depth - 1];
        /* The entries below the next child (all the rest if none). */
        uint32_t c = f->nodemap & (0u - f->nodemap);
        uint32_t below = f->datamap & (c - 1);
        if (below) {
            it->entry = f->entry;
            f->entry += popcount(below) * w;
            it->run_end = f->entry;
            f->datamap ^= below;
            if ((f->datamap | f->nodemap) == 0)
                it->depth--;
            return true;
        }
        ivm_value child = *f->child++;
        f->nodemap ^= c;
        if ((f->datamap | f->nodemap) == 0)
            it->depth--; /* done with this node: the child takes its frame */
        if (iter_enter(it, child) && it->entry != it->run_end)
            return true;
    }
    return false;
}

/* The entry of the key nil in a trie, or NULL. Clojure's hash maps keep
 * that entry beside their trie and give it first. nil hashes to 0, so it
 * is at chunk 0 all the way down (under a test hash it may be elsewhere:
 * then it is simply visited in its place). */
static const ivm_value *nil_entry(ivm_value v, unsigned w)
{
    for (;;) {
        if (is_coll(v)) {
            int i = coll_find(as_coll(v), IVM_NIL, w);
            return i < 0 ? NULL : as_coll(v)->slots + i;
        }
        node *n = as_node(v);
        if (n->datamap & 1)
            return slots(n)[0] == IVM_NIL ? slots(n) : NULL;
        if (!(n->nodemap & 1))
            return NULL;
        v = slots(n)[child_index(n, 1, w)];
    }
}

void ivm_map_iter_init(ivm_map_iter *it, ivm_value m)
{
    IVM_ASSERT(is_map_or_set(m));
    it->width = width_of(m);
    it->first = is_amap(m) ? NULL : nil_entry(m, it->width);
    it->first_pending = it->first != NULL;
    it->depth = 0;
    it->entry = it->run_end = NULL;
    iter_enter(it, m);
}

bool ivm_map_iter_next(ivm_map_iter *it, ivm_value *key, ivm_value *val)
{
    const ivm_value *e;
    if (it->first_pending) {
        it->first_pending = false;
        e = it->first;
    } else {
        do { /* the nil key's entry was given first: skipped in its place */
            if (it->entry == it->run_end && !next_run(it))
                return false;
            e = it->entry;
            it->entry += it->width;
        } while (e == it->first);
    }
    *key = e[0];
    if (val)
        *val = e[it->width - 1];
    return true;
}

uint64_t ivm_map_node_bytes(ivm_value m)
{
    IVM_ASSERT(is_map_or_set(m));
    if (is_amap(m))
        return 8 * (uint64_t)ivm_header_words(*ivm_obj_header(m));
    ivm_map_cursor stack[IVM_MAP_LEVELS];
    unsigned depth = 0, w = width_of(m);
    uint64_t bytes = 0;
    ivm_value v = m;
    do {
        bytes += 8 * (uint64_t)ivm_header_words(*ivm_obj_header(v));
        push_children(stack, &depth, v, w);
    } while (next_node(stack, &depth, &v));
    return bytes;
}

/* ---- Equality ---------------------------------------------------------- */

/* Collision nodes hold their entries in arrival order: match keys by
 * ivm_equal (the keys of one node are distinct, so equal lengths and a
 * match for each key make a one-to-one pairing), push the values. */
static bool coll_equal_push(const coll *x, const coll *y, unsigned w, ivm_worklist *wl)
{
    unsigned len = coll_len(x);
    if (len != coll_len(y))
        return false;
    for (unsigned i = 0; i < len; i += w) {
        int j = coll_find(y, x->slots[i], w);
        if (j < 0)
            return false;
        if (w == 2)
            ivm_worklist_push2(wl, x->slots[i + 1], y->slots[j + 1]);
    }
    return true;
}

/* Two nodes at the same place in their tries: equal bitmaps, then the
 * entries pairwise. Both are collision nodes or neither, since that
 * depends only on the level. */
static bool node_equal_push(ivm_value a, ivm_value b, unsigned w, ivm_worklist *wl)
{
    IVM_ASSERT(is_coll(a) == is_coll(b));
    if (is_coll(a))
        return coll_equal_push(as_coll(a), as_coll(b), w, wl);
    node *x = as_node(a), *y = as_node(b);
    if (x->datamap != y->datamap || x->nodemap != y->nodemap)
        return false;
    unsigned n = popcount(x->datamap) * w;
    for (unsigned i = 0; i < n; i++)
        ivm_worklist_push2(wl, slots(x)[i], slots(y)[i]);
    return true;
}

/* With an array map on either side, equal counts leave at most 8 entries
 * on the other: each of its keys is looked for in the array map, by
 * ivm_equal (keys are distinct on each side, so equal counts and a match
 * for each key make a one-to-one pairing). No hash is needed, so no heap. */
static bool amap_equal_push(ivm_value a, ivm_value b, ivm_worklist *wl)
{
    if (!ivm_is_map(a) || !ivm_is_map(b) || entries_of(a) != entries_of(b))
        return false;
    bool arr_is_b = is_amap(b);
    const amap *arr = as_amap(arr_is_b ? b : a);
    ivm_map_iter it;
    ivm_value k, v;
    ivm_map_iter_init(&it, arr_is_b ? a : b);
    while (ivm_map_iter_next(&it, &k, &v)) {
        int j = amap_find(arr, k);
        if (j < 0)
            return false;
        if (arr_is_b)
            ivm_worklist_push2(wl, v, arr->slots[j + 1]);
        else
            ivm_worklist_push2(wl, arr->slots[j + 1], v);
    }
    return true;
}

/* Two tries: the two walks stay in step, equal bitmaps giving equal
 * stacks. */
bool ivm_map_equal_push(ivm_value a, ivm_value b, ivm_worklist *wl)
{
    IVM_ASSERT(is_map_or_set(a) && is_map_or_set(b));
    if (a == b)
        return true;
    if (is_amap(a) || is_amap(b))
        return amap_equal_push(a, b, wl);
    if (ivm_obj_kind(a) != ivm_obj_kind(b) ||
        *root_count(as_node(a)) != *root_count(as_node(b)))
        return false;
    unsigned w = width_of(a), da = 0, db = 0;
    ivm_map_cursor sa[IVM_MAP_LEVELS], sb[IVM_MAP_LEVELS];
    do {
        if (a == b)
            continue;
        if (!node_equal_push(a, b, w, wl))
            return false;
        push_children(sa, &da, a, w);
        push_children(sb, &db, b, w);
    } while (next_node(sa, &da, &a) && next_node(sb, &db, &b));
    return true;
}

/* ---- Invariant checks -------------------------------------------------- */

typedef struct verify {
    const ivm_heap *h;
    unsigned width;
    uint64_t entries;
} verify;

/* Keys of the subtree at `shift` must agree with `path` on the hash bits
 * below shift. */
static bool path_ok(uint32_t hash, uint32_t path, unsigned shift)
{
    return shift >= 32 || ((hash ^ path) & (((uint32_t)1 << shift) - 1)) == 0;
}

static bool coll_valid(verify *v, const coll *n, uint32_t path)
{
    unsigned len = coll_len(n);
    if (len < 2 * v->width || len % v->width != 0)
        return false;
    for (unsigned i = 0; i < len; i += v->width) {
        if (key_hash(v->h, n->slots[i]) != path)
            return false;
        for (unsigned j = 0; j < i; j += v->width)
            if (keys_equal(n->slots[j], n->slots[i]))
                return false;
    }
    v->entries += len / v->width;
    return true;
}

static bool sub_valid(verify *v, ivm_value sub, uint32_t path, unsigned shift);

static bool node_valid(verify *v, node *n, uint32_t path, unsigned shift)
{
    unsigned w = v->width, nd = popcount(n->datamap), len = node_len(n, w);
    if ((n->datamap & n->nodemap) || len > capacity(n) ||
        n->edit > ivm_heap_last_transient_id(v->h) || ivm_header_small(n->h) != w)
        return false;
    if (shift > 0 && n->nodemap == 0 && nd < 2)
        return false; /* a subtree that should have been inlined */
    if (shift == LAST_SHIFT && (n->datamap | n->nodemap) > 0xf)
        return false; /* only 2 hash bits left */
    for (unsigned i = len; i < capacity(n); i++)
        if (slots(n)[i] != IVM_NIL)
            return false;
    for (uint32_t bit = 1; bit; bit <<= 1) {
        uint32_t chunk = (uint32_t)popcount(bit - 1) << shift;
        if (n->datamap & bit) {
            uint32_t hash = key_hash(v->h, slots(n)[entry_index(n, bit, w)]);
            if (!path_ok(hash, path | chunk, shift + 5))
                return false;
            v->entries++;
        } else if ((n->nodemap & bit) &&
                   !sub_valid(v, slots(n)[child_index(n, bit, w)], path | chunk, shift + 5)) {
            return false;
        }
    }
    return true;
}

/* Recursion as deep as the trie: 8 calls at most. */
static bool sub_valid(verify *v, ivm_value sub, uint32_t path, unsigned shift)
{
    if (ivm_header_small(*ivm_obj_header(sub)) != v->width)
        return false;
    if (is_coll(sub))
        return shift > LAST_SHIFT && coll_valid(v, as_coll(sub), path);
    return ivm_obj_kind(sub) == IVM_K_MAP_NODE && shift <= LAST_SHIFT &&
           node_valid(v, as_node(sub), path, shift);
}

static bool amap_valid(const ivm_heap *h, const amap *a)
{
    if (a->count > IVM_ARRAY_MAP_MAX || a->count > amap_capacity(a) ||
        a->edit > ivm_heap_last_transient_id(h))
        return false;
    for (unsigned i = 2 * (unsigned)a->count; i < 2 * amap_capacity(a); i++)
        if (a->slots[i] != IVM_NIL)
            return false;
    for (unsigned i = 0; i < 2 * a->count; i += 2)
        for (unsigned j = 0; j < i; j += 2)
            if (keys_equal(a->slots[j], a->slots[i]))
                return false;
    return true;
}

bool ivm_map_valid(const ivm_heap *h, ivm_value m)
{
    if (!is_map_or_set(m) || width_of(m) != (ivm_is_map(m) ? 2u : 1u))
        return false;
    if (is_amap(m))
        return amap_valid(h, as_amap(m));
    verify v = {h, width_of(m), 0};
    return node_valid(&v, as_node(m), 0, 0) && v.entries == *root_count(as_node(m));
}
