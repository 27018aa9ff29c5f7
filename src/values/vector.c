/* Persistent vectors (vector.h): the trie algorithms, written once for
 * persistent and transient use, subvector views, chunked reading and the
 * transient interface. */
#include "values/vector.h"

/* A vector's fields, taken out of its root object (persistent or
 * transient) so that one algorithm serves both. */
typedef struct vstate {
    uint64_t count;
    unsigned shift;
    ivm_value root, tail;
} vstate;

static const vstate EMPTY = {0, IVM_VEC_BITS, IVM_NIL, IVM_NIL};

static ivm_value val(const void *p) { return (ivm_value)(uintptr_t)p; }

static ivm_vec_node *as_node(ivm_value v)
{
    IVM_ASSERT(ivm_is_kind(v, IVM_K_VEC_NODE));
    return (ivm_vec_node *)(uintptr_t)v;
}
static ivm_vec *as_vec(ivm_value v)
{
    IVM_ASSERT(ivm_is_kind(v, IVM_K_VEC));
    return (ivm_vec *)(uintptr_t)v;
}
static ivm_vec_sub *as_sub(ivm_value v)
{
    IVM_ASSERT(ivm_is_kind(v, IVM_K_VEC_SUB));
    return (ivm_vec_sub *)(uintptr_t)v;
}
static ivm_tvec *as_tvec(ivm_value v)
{
    IVM_ASSERT(ivm_is_transient_vector(v));
    return (ivm_tvec *)(uintptr_t)v;
}

static vstate load(const ivm_vec *v)
{
    return (vstate){v->count, ivm_header_small(v->h), v->root, v->tail};
}

static ivm_value publish(ivm_heap *h, const vstate *s)
{
    ivm_vec *v = ivm_heap_alloc(h, IVM_K_VEC, s->shift, sizeof *v);
    v->count = s->count;
    v->root = s->root;
    v->tail = s->tail;
    return val(v);
}

/* ---- Shape: what the count says about the trie ------------------------- */

/* Elements held in the trie; the tail holds the other 1..32 (or none). */
static uint64_t tailoff(uint64_t count)
{
    return count < IVM_VEC_WIDTH ? 0 : ((count - 1) >> IVM_VEC_BITS) << IVM_VEC_BITS;
}

/* Slots used by the node at `level` on the path to element i of a trie of
 * `size` elements (i < size). Leaves are full, so only nodes on the
 * rightmost path use fewer than 32: as many as reach element size - 1. */
static unsigned used_slots(uint64_t size, uint64_t i, unsigned level)
{
    uint64_t span = (uint64_t)IVM_VEC_WIDTH << level; /* a full node's elements */
    uint64_t below = size - (i & ~(span - 1));
    return below >= span ? IVM_VEC_WIDTH : (unsigned)(((below - 1) >> level) + 1);
}

/* The leaf (or the tail) holding element i < count. */
static ivm_vec_node *node_for(const vstate *s, uint64_t i)
{
    if (i >= tailoff(s->count))
        return as_node(s->tail);
    ivm_value n = s->root;
    for (unsigned level = s->shift; level > 0; level -= IVM_VEC_BITS)
        n = as_node(n)->slots[(i >> level) & IVM_VEC_MASK];
    return as_node(n);
}

/* ---- Nodes and who may change them -------------------------------------- */

static unsigned capacity(const ivm_vec_node *n) { return ivm_header_words(n->h) - 2; }

/* A node of nil slots with room for `need` of them. A transient's node
 * (edit != 0) gets room for 32, so that the transient can fill it in
 * place later; a persistent one gets exactly `need`. */
static ivm_vec_node *node_new(ivm_heap *h, unsigned need, uint64_t edit)
{
    unsigned cap = edit ? IVM_VEC_WIDTH : need;
    ivm_vec_node *n = ivm_heap_alloc(h, IVM_K_VEC_NODE, 0,
                                     sizeof *n + cap * sizeof(ivm_value));
    n->edit = edit;
    memset(n->slots, 0, cap * sizeof(ivm_value));
    return n;
}

/* Node n (nil when keep is 0) in a form that `edit` may change: n itself
 * when it belongs to that transient, else a new node holding n's first
 * `keep` slots with room for `need` >= keep. Persistent callers pass edit
 * 0 and always get the copy. This is the only place that decides whether
 * a node may be changed in place, and it relies on vector.h's invariant:
 * an active transient's id is carried by its own nodes alone. */
static ivm_vec_node *editable(ivm_heap *h, ivm_value n, unsigned keep,
                              unsigned need, uint64_t edit)
{
    if (edit != 0 && n != IVM_NIL && as_node(n)->edit == edit && !ivm_heap_no_edits(h)) {
        IVM_ASSERT(capacity(as_node(n)) == IVM_VEC_WIDTH);
        return as_node(n);
    }
    ivm_vec_node *c = node_new(h, need, edit);
    if (keep)
        memcpy(c->slots, as_node(n)->slots, keep * sizeof(ivm_value));
    return c;
}

/* Node n of `used` slots without its last one (cleared when changed in
 * place, so that nothing stays reachable through it). */
static ivm_vec_node *without_last(ivm_heap *h, ivm_value n, unsigned used,
                                  uint64_t edit)
{
    ivm_vec_node *c = editable(h, n, used - 1, used - 1, edit);
    if (capacity(c) >= used)
        c->slots[used - 1] = IVM_NIL;
    return c;
}

/* ---- Growing: conj and bulk append ------------------------------------- */

/* A chain of single-slot nodes from `level` down to `leaf`. */
static ivm_value new_path(ivm_heap *h, unsigned level, ivm_value leaf, uint64_t edit)
{
    ivm_value n = leaf;
    for (; level > 0; level -= IVM_VEC_BITS) {
        ivm_vec_node *p = node_new(h, 1, edit);
        p->slots[0] = n;
        n = val(p);
    }
    return n;
}

/* `node`, at `level` on the rightmost path of a trie of `size` elements
 * (size > 0, a multiple of 32, with room under the root), with `leaf`
 * appended as elements [size, size + 32). */
static ivm_value push_into(ivm_heap *h, ivm_value node, unsigned level,
                           uint64_t size, ivm_value leaf, uint64_t edit)
{
    unsigned used = used_slots(size, size - 1, level);
    unsigned sub = (unsigned)(size >> level) & IVM_VEC_MASK; /* used - 1 or used */
    ivm_value child;
    if (level == IVM_VEC_BITS)
        child = leaf; /* leaves are full: the new one takes a fresh slot */
    else if (sub < used)
        child = push_into(h, as_node(node)->slots[sub], level - IVM_VEC_BITS,
                          size, leaf, edit);
    else
        child = new_path(h, level - IVM_VEC_BITS, leaf, edit);
    ivm_vec_node *c = editable(h, node, used, sub + 1, edit);
    c->slots[sub] = child;
    return val(c);
}

/* Moves the full tail into the trie, which grows a level when its root is
 * full. Leaves s->tail nil until the caller stores the next element. */
static void push_tail(ivm_heap *h, vstate *s, uint64_t edit)
{
    uint64_t size = s->count - IVM_VEC_WIDTH; /* elements in the trie */
    if (s->root == IVM_NIL) {
        s->root = new_path(h, s->shift, s->tail, edit);
    } else if (size == (uint64_t)IVM_VEC_WIDTH << s->shift) {
        ivm_vec_node *r = node_new(h, 2, edit);
        r->slots[0] = s->root;
        r->slots[1] = new_path(h, s->shift, s->tail, edit);
        s->root = val(r);
        s->shift += IVM_VEC_BITS;
    } else {
        s->root = push_into(h, s->root, s->shift, size, s->tail, edit);
    }
    s->tail = IVM_NIL;
}

/* Appends items[0..n), a tail's worth at a time. */
static void append(ivm_heap *h, vstate *s, const ivm_value *items, uint64_t n,
                   uint64_t edit)
{
    while (n > 0) {
        unsigned in_tail = (unsigned)(s->count - tailoff(s->count));
        if (in_tail == IVM_VEC_WIDTH) {
            push_tail(h, s, edit);
            in_tail = 0;
        }
        unsigned k = IVM_VEC_WIDTH - in_tail;
        if (k > n)
            k = (unsigned)n;
        ivm_vec_node *t = editable(h, s->tail, in_tail, in_tail + k, edit);
        memcpy(t->slots + in_tail, items, k * sizeof(ivm_value));
        s->tail = val(t);
        s->count += k;
        items += k;
        n -= k;
    }
}

/* ---- Replacing: assoc -------------------------------------------------- */

/* `node` (at `level` in a trie of `size` elements) with element i set. */
static ivm_value assoc_into(ivm_heap *h, ivm_value node, unsigned level,
                            uint64_t size, uint64_t i, ivm_value x, uint64_t edit)
{
    unsigned used = used_slots(size, i, level);
    unsigned sub = (unsigned)(i >> level) & IVM_VEC_MASK;
    ivm_value child = x;
    if (level > 0)
        child = assoc_into(h, as_node(node)->slots[sub], level - IVM_VEC_BITS,
                           size, i, x, edit);
    ivm_vec_node *c = editable(h, node, used, used, edit);
    c->slots[sub] = child;
    return val(c);
}

static void assoc(ivm_heap *h, vstate *s, uint64_t i, ivm_value x, uint64_t edit)
{
    IVM_ASSERT(i <= s->count);
    uint64_t off = tailoff(s->count);
    if (i == s->count) {
        append(h, s, &x, 1, edit);
    } else if (i >= off) {
        unsigned n = (unsigned)(s->count - off);
        ivm_vec_node *t = editable(h, s->tail, n, n, edit);
        t->slots[i & IVM_VEC_MASK] = x;
        s->tail = val(t);
    } else {
        s->root = assoc_into(h, s->root, s->shift, off, i, x, edit);
    }
}

/* ---- Shrinking: pop ---------------------------------------------------- */

/* `node` (at `level` in a trie of `size` elements) without the trie's last
 * leaf; nil when nothing is left under it. */
static ivm_value pop_leaf(ivm_heap *h, ivm_value node, unsigned level,
                          uint64_t size, uint64_t edit)
{
    unsigned used = used_slots(size, size - 1, level);
    ivm_value child = IVM_NIL;
    if (level > IVM_VEC_BITS)
        child = pop_leaf(h, as_node(node)->slots[used - 1], level - IVM_VEC_BITS,
                         size, edit);
    if (child != IVM_NIL) {
        ivm_vec_node *c = editable(h, node, used, used, edit);
        c->slots[used - 1] = child;
        return val(c);
    }
    return used == 1 ? IVM_NIL : val(without_last(h, node, used, edit));
}

static void pop(ivm_heap *h, vstate *s, uint64_t edit)
{
    IVM_ASSERT(s->count > 0);
    if (s->count == 1) {
        *s = EMPTY;
        return;
    }
    uint64_t off = tailoff(s->count);
    unsigned in_tail = (unsigned)(s->count - off);
    if (in_tail > 1) {
        s->tail = val(without_last(h, s->tail, in_tail, edit));
    } else {
        /* The trie's last leaf becomes the tail. */
        s->tail = val(node_for(s, off - 1));
        s->root = pop_leaf(h, s->root, s->shift, off, edit);
        /* Keep the shift minimal: a root left with one slot steps down. */
        if (s->shift > IVM_VEC_BITS &&
            used_slots(off - IVM_VEC_WIDTH, 0, s->shift) == 1) {
            s->root = as_node(s->root)->slots[0];
            s->shift -= IVM_VEC_BITS;
        }
    }
    s->count--;
}

/* ---- Persistent vectors ------------------------------------------------ */

/* The tail in exact size: a transient leaves room in it. */
static ivm_value trimmed_tail(ivm_heap *h, const vstate *s)
{
    if (s->count == 0)
        return IVM_NIL;
    unsigned n = (unsigned)(s->count - tailoff(s->count));
    if (capacity(as_node(s->tail)) == n)
        return s->tail;
    ivm_vec_node *t = node_new(h, n, 0);
    memcpy(t->slots, as_node(s->tail)->slots, n * sizeof(ivm_value));
    return val(t);
}

ivm_value ivm_vec_empty(ivm_heap *h) { return publish(h, &EMPTY); }

ivm_value ivm_vec_from(ivm_heap *h, const ivm_value *items, size_t n)
{
    if (n <= IVM_VEC_WIDTH) {
        /* all in the tail, sized to fit: no transient node to trim (that
         * cost [a b] 336 bytes for the 64 it keeps) */
        vstate s = EMPTY;
        if (n) {
            ivm_vec_node *t = node_new(h, (unsigned)n, 0);
            memcpy(t->slots, items, n * sizeof *items);
            s.count = n;
            s.tail = val(t);
        }
        return publish(h, &s);
    }
    /* A transient without a root object: the id is taken and never seen
     * again, so the nodes are frozen as soon as this returns. */
    uint64_t edit = ivm_heap_transient_id(h);
    vstate s = EMPTY;
    append(h, &s, items, n, edit);
    s.tail = trimmed_tail(h, &s);
    return publish(h, &s);
}

/* The vector under v (v itself, or a subvector's), with i moved from v's
 * indices to its own and *end set to where v ends in it. */
static const ivm_vec *resolve(ivm_value v, uint64_t *i, uint64_t *end)
{
    if (ivm_is_kind(v, IVM_K_VEC_SUB)) {
        const ivm_vec_sub *sv = as_sub(v);
        *i += sv->start;
        *end = sv->end;
        return as_vec(sv->vec);
    }
    *end = as_vec(v)->count;
    return as_vec(v);
}

uint64_t ivm_vec_count(ivm_value v)
{
    if (ivm_is_kind(v, IVM_K_VEC_SUB))
        return as_sub(v)->end - as_sub(v)->start;
    return as_vec(v)->count;
}

ivm_value ivm_vec_nth(ivm_value v, uint64_t i)
{
    uint64_t end;
    vstate s = load(resolve(v, &i, &end));
    IVM_ASSERT(i < end);
    return node_for(&s, i)->slots[i & IVM_VEC_MASK];
}

ivm_value ivm_vec_peek(ivm_value v)
{
    uint64_t n = ivm_vec_count(v);
    return n == 0 ? IVM_NIL : ivm_vec_nth(v, n - 1);
}

const ivm_value *ivm_vec_chunk(ivm_value v, uint64_t i, uint32_t *len)
{
    uint64_t end;
    vstate s = load(resolve(v, &i, &end));
    IVM_ASSERT(i < end);
    uint64_t stop = i >= tailoff(s.count) ? s.count : (i | IVM_VEC_MASK) + 1;
    *len = (uint32_t)((stop < end ? stop : end) - i);
    return node_for(&s, i)->slots + (i & IVM_VEC_MASK);
}

ivm_value ivm_vec_subvec(ivm_heap *h, ivm_value v, uint64_t start, uint64_t end)
{
    IVM_ASSERT(start <= end && end <= ivm_vec_count(v));
    if (start == 0 && end == ivm_vec_count(v))
        return v;
    if (ivm_is_kind(v, IVM_K_VEC_SUB)) {
        start += as_sub(v)->start;
        end += as_sub(v)->start;
        v = as_sub(v)->vec;
    }
    if (start == 0 && end == as_vec(v)->count)
        return v;
    ivm_vec_sub *sv = ivm_heap_alloc(h, IVM_K_VEC_SUB, 0, sizeof *sv);
    sv->start = start;
    sv->end = end;
    sv->vec = v;
    return val(sv);
}

ivm_value ivm_vec_assoc(ivm_heap *h, ivm_value v, uint64_t i, ivm_value x)
{
    if (ivm_is_kind(v, IVM_K_VEC_SUB)) {
        /* Conj on a view that ends before its vector does overwrites the
         * element after it, which the view does not show. */
        const ivm_vec_sub *sv = as_sub(v);
        IVM_ASSERT(i <= sv->end - sv->start);
        ivm_value under = ivm_vec_assoc(h, sv->vec, sv->start + i, x);
        uint64_t end = sv->start + i == sv->end ? sv->end + 1 : sv->end;
        return ivm_vec_subvec(h, under, sv->start, end);
    }
    vstate s = load(as_vec(v));
    assoc(h, &s, i, x, 0);
    return publish(h, &s);
}

ivm_value ivm_vec_conj(ivm_heap *h, ivm_value v, ivm_value x)
{
    return ivm_vec_assoc(h, v, ivm_vec_count(v), x);
}

ivm_value ivm_vec_pop(ivm_heap *h, ivm_value v)
{
    if (ivm_is_kind(v, IVM_K_VEC_SUB)) {
        const ivm_vec_sub *sv = as_sub(v);
        IVM_ASSERT(sv->end > sv->start);
        return sv->end - sv->start == 1
                   ? ivm_vec_empty(h)
                   : ivm_vec_subvec(h, sv->vec, sv->start, sv->end - 1);
    }
    vstate s = load(as_vec(v));
    pop(h, &s, 0);
    return publish(h, &s);
}

/* ---- Transients -------------------------------------------------------- */

static vstate tload(const ivm_tvec *t)
{
    return (vstate){t->count, (unsigned)t->shift, t->root, t->tail};
}

static void tstore(ivm_heap *h, ivm_tvec *t, const vstate *s)
{
    /* The barrier: what is replaced too, since the new nodes (built in
     * the cycle, never traced) share the old ones' children. */
    ivm_heap_shade(h, t->root);
    ivm_heap_shade(h, t->tail);
    t->count = s->count;
    t->shift = s->shift;
    /* a concurrent collector may read them meanwhile */
    __atomic_store_n(&t->root, ivm_heap_forward(h, s->root), __ATOMIC_RELEASE);
    __atomic_store_n(&t->tail, ivm_heap_forward(h, s->tail), __ATOMIC_RELEASE);
    ivm_heap_shade(h, s->root);
    ivm_heap_shade(h, s->tail);
}

ivm_value ivm_vec_transient(ivm_heap *h, ivm_value v, uint64_t owner)
{
    uint64_t edit = ivm_heap_transient_id(h);
    vstate s = EMPTY;
    if (ivm_is_kind(v, IVM_K_VEC)) {
        s = load(as_vec(v));
    } else {
        /* A view's elements need not start at a leaf boundary: copy them. */
        uint64_t n = ivm_vec_count(v);
        for (uint64_t i = 0; i < n;) {
            uint32_t len;
            const ivm_value *chunk = ivm_vec_chunk(v, i, &len);
            append(h, &s, chunk, len, edit);
            i += len;
        }
    }
    ivm_tvec *t = ivm_heap_alloc(h, IVM_K_VEC_TRANSIENT, 0, sizeof *t);
    t->edit = edit;
    t->owner = owner;
    t->root = t->tail = IVM_NIL; /* tstore's barrier reads them */
    tstore(h, t, &s);
    return val(t);
}

/* Whether `owner` may use t now (FROZEN takes precedence). */
static ivm_transient_status usable(ivm_value t, uint64_t owner)
{
    const ivm_tvec *tv = as_tvec(t);
    if (tv->edit == 0)
        return IVM_TRANSIENT_FROZEN;
    return tv->owner == owner ? IVM_TRANSIENT_OK : IVM_TRANSIENT_NOT_OWNER;
}

ivm_transient_status ivm_tvec_count(ivm_value t, uint64_t owner, uint64_t *out)
{
    ivm_transient_status st = usable(t, owner);
    if (st == IVM_TRANSIENT_OK)
        *out = as_tvec(t)->count;
    return st;
}

ivm_transient_status ivm_tvec_nth(ivm_value t, uint64_t owner, uint64_t i,
                                  ivm_value *out)
{
    ivm_transient_status st = usable(t, owner);
    if (st == IVM_TRANSIENT_OK) {
        vstate s = tload(as_tvec(t));
        IVM_ASSERT(i < s.count);
        *out = node_for(&s, i)->slots[i & IVM_VEC_MASK];
    }
    return st;
}

ivm_transient_status ivm_tvec_assoc(ivm_heap *h, ivm_value t, uint64_t owner,
                                    uint64_t i, ivm_value x)
{
    ivm_transient_status st = usable(t, owner);
    if (st == IVM_TRANSIENT_OK) {
        ivm_tvec *tv = as_tvec(t);
        vstate s = tload(tv);
        assoc(h, &s, i, x, tv->edit);
        tstore(h, tv, &s);
    }
    return st;
}

ivm_transient_status ivm_tvec_conj(ivm_heap *h, ivm_value t, uint64_t owner,
                                   ivm_value x)
{
    ivm_transient_status st = usable(t, owner);
    if (st == IVM_TRANSIENT_OK) {
        ivm_tvec *tv = as_tvec(t);
        vstate s = tload(tv);
        append(h, &s, &x, 1, tv->edit);
        tstore(h, tv, &s);
    }
    return st;
}

ivm_transient_status ivm_tvec_pop(ivm_heap *h, ivm_value t, uint64_t owner)
{
    ivm_transient_status st = usable(t, owner);
    if (st == IVM_TRANSIENT_OK) {
        ivm_tvec *tv = as_tvec(t);
        vstate s = tload(tv);
        pop(h, &s, tv->edit);
        tstore(h, tv, &s);
    }
    return st;
}

ivm_transient_status ivm_tvec_persistent(ivm_heap *h, ivm_value t,
                                         uint64_t owner, ivm_value *out)
{
    ivm_transient_status st = usable(t, owner);
    if (st != IVM_TRANSIENT_OK)
        return st;
    ivm_tvec *tv = as_tvec(t);
    vstate s = tload(tv);
    s.tail = trimmed_tail(h, &s);
    *out = publish(h, &s);
    /* Frozen: no one holds this id any more, so its nodes never change
     * again; dropping the references lets them go with the vector. */
    tv->edit = 0;
    tstore(h, tv, &EMPTY);
    return st;
}
