/* Persistent vectors (src/values/vector.c): a property test of random
 * operation sequences (conj, assoc, pop, nth, peek, subvectors and further
 * operations on them, transient conj!/assoc!/pop! then persistent!)
 * against a plain C array, oscillating across every trie level (32, 1,024,
 * 32,768 and 1,048,576 elements), with a sample of older versions re-read
 * after every update; every shape change at the level boundaries, step by
 * step; subvector views (O(1), views of the original, sharing); chunked
 * iteration; transients (FROZEN after persistent!, NOT_OWNER for another
 * process, the original never changes, two transients of one vector stay
 * apart); and the arena bytes per element of a 1,000,000-element vector of
 * small integers (at most 12). Fixed seed, xorshift PRNG. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdlib.h>
#include <string.h>

#include "values/vector.h"

static ivm_heap heap;

/* The arena never frees yet: every version the tests make stays. */
static void setup(void) { cr_assert(ivm_heap_init(&heap, (size_t)4 << 30, IVM_ARENA_LAZY)); }
static void teardown(void) { ivm_heap_destroy(&heap); }

TestSuite(vector, .init = setup, .fini = teardown);

/* ---- Randomness and elements ------------------------------------------- */

static uint64_t rng = 0x2545f4914f6cdd1du;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }
static uint64_t min_u(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* A value never stored before, so that every write is told apart; now
 * and then an arena object rather than a fixnum. */
static ivm_value fresh(void)
{
    static int64_t n;
    n++;
    return n % 16 == 0 ? ivm_int_box(&heap, n) : ivm_fixnum(n);
}

/* ---- The reference model: a plain array -------------------------------- */

typedef struct model {
    ivm_value *a;
    uint64_t n, cap;
} model;

static void m_reserve(model *m, uint64_t n)
{
    if (n <= m->cap)
        return;
    m->cap = n * 2 + 16;
    m->a = realloc(m->a, m->cap * sizeof(ivm_value));
    cr_assert(m->a);
}

static void m_set(model *m, uint64_t i, ivm_value x)
{
    if (i == m->n) {
        m_reserve(m, m->n + 1);
        m->n++;
    }
    m->a[i] = x;
}

static void m_push(model *m, ivm_value x) { m_set(m, m->n, x); }

/* A new model of src's elements [start, end). */
static model m_range(const model *src, uint64_t start, uint64_t end)
{
    model m = {0};
    m_reserve(&m, end - start);
    if (end > start) /* src->a may be NULL, which memcpy may not get */
        memcpy(m.a, src->a + start, (end - start) * sizeof(ivm_value));
    m.n = end - start;
    return m;
}

static void m_slice(model *m, uint64_t start, uint64_t end)
{
    if (end > start)
        memmove(m->a, m->a + start, (end - start) * sizeof(ivm_value));
    m->n = end - start;
}

static void m_free(model *m)
{
    free(m->a);
    *m = (model){0};
}

static ivm_value m_last(const model *m) { return m->n ? m->a[m->n - 1] : IVM_NIL; }

/* ---- Checks ------------------------------------------------------------ */

/* vector.h's invariants for a trie node at `level` whose first element is
 * element `base` of a trie of `size` elements: the slots the size implies
 * are used (leaves full), every later slot is nil. */
static void check_node(ivm_value n, unsigned level, uint64_t size, uint64_t base)
{
    cr_assert(ivm_is_kind(n, IVM_K_VEC_NODE));
    const ivm_vec_node *node = (const ivm_vec_node *)(uintptr_t)n;
    uint64_t per_slot = (uint64_t)1 << level;
    uint64_t used = min_u(32, (size - base + per_slot - 1) / per_slot);
    uint32_t cap = ivm_header_words(node->h) - 2;
    cr_assert(cap >= used && cap <= 32, "capacity %u for %lu slots", cap, used);
    if (level == 0)
        cr_assert_eq(used, 32, "a leaf in the trie is full");
    for (uint32_t i = 0; i < cap; i++) {
        if (i >= used)
            cr_assert_eq(node->slots[i], IVM_NIL, "slot %u past the used %lu", i, used);
        else if (level > 0)
            check_node(node->slots[i], level - 5, size, base + i * per_slot);
    }
}

/* The invariants of a whole vector (persistent or transient fields). */
static void check_trie(uint64_t count, unsigned shift, ivm_value root, ivm_value tail)
{
    uint64_t tailoff = count < 32 ? 0 : (count - 1) / 32 * 32;
    cr_assert(shift >= 5 && shift % 5 == 0);
    if (tailoff == 0) {
        cr_assert_eq(root, IVM_NIL);
        cr_assert_eq(shift, 5);
    } else {
        cr_assert_leq(tailoff, (uint64_t)32 << shift);
        cr_assert(shift == 5 || tailoff > (uint64_t)1 << shift, "the shift is minimal");
        check_node(root, shift, tailoff, 0);
    }
    if (count == 0) {
        cr_assert_eq(tail, IVM_NIL);
        return;
    }
    /* The tail as if it were the trie's next leaf, holding count - tailoff. */
    uint64_t in_tail = count - tailoff;
    cr_assert(ivm_is_kind(tail, IVM_K_VEC_NODE));
    const ivm_vec_node *t = (const ivm_vec_node *)(uintptr_t)tail;
    uint32_t cap = ivm_header_words(t->h) - 2;
    cr_assert(cap >= in_tail && cap <= 32);
    for (uint32_t i = (uint32_t)in_tail; i < cap; i++)
        cr_assert_eq(t->slots[i], IVM_NIL, "tail slot %u past the used %lu", i, in_tail);
}

/* The shape of v; of a view, its fields, and the trie under it only when
 * that is not much larger than the view (a check costs what it reads). */
static void check_shape(ivm_value v)
{
    if (ivm_is_kind(v, IVM_K_VEC_SUB)) {
        const ivm_vec_sub *sv = (const ivm_vec_sub *)(uintptr_t)v;
        cr_assert(ivm_is_kind(sv->vec, IVM_K_VEC), "a view views a plain vector");
        cr_assert(sv->start <= sv->end && sv->end <= ivm_vec_count(sv->vec));
        if (ivm_vec_count(sv->vec) > 2 * (sv->end - sv->start) + 4096)
            return;
        v = sv->vec;
    }
    const ivm_vec *vec = (const ivm_vec *)(uintptr_t)v;
    check_trie(vec->count, ivm_header_small(vec->h), vec->root, vec->tail);
}

static void check_transient_shape(ivm_value t)
{
    const ivm_tvec *tv = (const ivm_tvec *)(uintptr_t)t;
    check_trie(tv->count, (unsigned)tv->shift, tv->root, tv->tail);
}

/* Every element, through chunks and through the iterator, and the shape. */
static void check_full(ivm_value v, const model *m)
{
    cr_assert(ivm_is_vector(v));
    check_shape(v);
    cr_assert_eq(ivm_vec_count(v), m->n);
    cr_assert_eq(ivm_vec_peek(v), m_last(m));
    for (uint64_t i = 0; i < m->n;) {
        uint32_t len;
        const ivm_value *c = ivm_vec_chunk(v, i, &len);
        if (len < 1 || len > 32 || i + len > m->n)
            cr_assert_fail("chunk at %lu of %lu: bad length %u", i, m->n, len);
        if (ivm_is_kind(v, IVM_K_VEC) && (i + len) % 32 != 0 && i + len != m->n)
            cr_assert_fail("chunk at %lu stops inside a leaf (length %u)", i, len);
        if (memcmp(c, m->a + i, len * sizeof(ivm_value)) != 0)
            cr_assert_fail("elements %lu..%lu differ from the model", i, i + len);
        i += len;
    }
    ivm_vec_iter it;
    ivm_vec_iter_init(&it, v);
    ivm_value x;
    uint64_t k = 0;
    while (ivm_vec_iter_next(&it, &x)) {
        if (k >= m->n || x != m->a[k])
            cr_assert_fail("iteration differs at %lu", k);
        k++;
    }
    cr_assert_eq(k, m->n);
}

/* The count, the ends and `probes` random elements. */
static void check_some(ivm_value v, const model *m, int probes)
{
    cr_assert(ivm_is_vector(v));
    cr_assert_eq(ivm_vec_count(v), m->n);
    cr_assert_eq(ivm_vec_peek(v), m_last(m));
    if (m->n == 0)
        return;
    cr_assert_eq(ivm_vec_nth(v, 0), m->a[0]);
    for (int k = 0; k < probes; k++) {
        uint64_t i = below(m->n);
        if (ivm_vec_nth(v, i) != m->a[i])
            cr_assert_fail("element %lu of %lu differs from the model", i, m->n);
    }
}

static uint64_t arena_bytes(void)
{
    ivm_arena_retire(heap.arena, &heap.bump); /* the cursor's rest is filler */
    return heap.arena->bytes_allocated;
}

/* ---- Property test ------------------------------------------------------ */

#define NSAMPLES 6

typedef struct version {
    ivm_value v;
    model m;
} version;

typedef struct prop {
    ivm_value v; /* the current version: a vector or a subvector */
    model m;
    version old[NSAMPLES]; /* older versions, v == 0 until filled */
    uint64_t ops;          /* operations done on vectors */
    uint64_t growth_ops;   /* of which conj! to reach a phase's size */
    uint64_t sampled;      /* ops when the last sample was taken */
} prop;

/* After every update: the sampled older versions still read as before. */
static void updated(prop *p)
{
    p->ops++;
    for (int k = 0; k < NSAMPLES; k++)
        if (p->old[k].v)
            check_some(p->old[k].v, &p->old[k].m, 2);
    /* A new sample now and then, less often when copying it costs more. */
    if (p->ops - p->sampled >= 500 + p->m.n / 256) {
        version *s = &p->old[below(NSAMPLES)];
        s->v = p->v;
        m_free(&s->m);
        s->m = m_range(&p->m, 0, p->m.n);
        p->sampled = p->ops;
    }
}

static void op_conj(prop *p)
{
    ivm_value x = fresh();
    p->v = ivm_vec_conj(&heap, p->v, x);
    m_push(&p->m, x);
    cr_assert_eq(ivm_vec_peek(p->v), x);
    updated(p);
}

static void op_pop(prop *p)
{
    if (p->m.n == 0) {
        op_conj(p);
        return;
    }
    p->v = ivm_vec_pop(&heap, p->v);
    p->m.n--;
    cr_assert_eq(ivm_vec_count(p->v), p->m.n);
    cr_assert_eq(ivm_vec_peek(p->v), m_last(&p->m));
    updated(p);
}

static void op_assoc(prop *p)
{
    uint64_t i = below(p->m.n + 1);
    ivm_value x = fresh();
    p->v = ivm_vec_assoc(&heap, p->v, i, x);
    m_set(&p->m, i, x);
    cr_assert_eq(ivm_vec_nth(p->v, i), x);
    updated(p);
}

static void op_read(prop *p)
{
    check_some(p->v, &p->m, 8);
    p->ops++;
}

/* The current version becomes a view of itself less a few elements at
 * either end; later operations then work on the view. */
static void op_subvec(prop *p)
{
    uint64_t n = p->m.n;
    uint64_t start = below(min_u(n, 3) + 1);
    uint64_t end = n - below(min_u(n - start, 3) + 1);
    p->v = ivm_vec_subvec(&heap, p->v, start, end);
    m_slice(&p->m, start, end);
    check_shape(p->v);
    updated(p);
}

/* A view of a random window, then operations on it (further views of it
 * included), checked against a copy of the window. */
static void op_window(prop *p)
{
    uint64_t n = p->m.n;
    uint64_t start = below(n + 1);
    uint64_t end = start + below(min_u(n - start, 2000) + 1);
    ivm_value w = ivm_vec_subvec(&heap, p->v, start, end);
    model wm = m_range(&p->m, start, end);
    check_full(w, &wm);
    for (uint64_t k = 1 + below(20); k > 0; k--) {
        uint64_t r = below(10);
        if (r < 3 || wm.n == 0) {
            ivm_value x = fresh();
            w = ivm_vec_conj(&heap, w, x);
            m_push(&wm, x);
        } else if (r < 5) {
            w = ivm_vec_pop(&heap, w);
            wm.n--;
        } else if (r < 8) {
            uint64_t i = below(wm.n + 1);
            ivm_value x = fresh();
            w = ivm_vec_assoc(&heap, w, i, x);
            m_set(&wm, i, x);
        } else {
            uint64_t s = below(wm.n + 1), e = s + below(wm.n - s + 1);
            w = ivm_vec_subvec(&heap, w, s, e);
            m_slice(&wm, s, e);
        }
        check_shape(w);
        check_some(w, &wm, 4);
        p->ops++;
    }
    check_full(w, &wm);
    check_some(p->v, &p->m, 8); /* the window's vector did not change */
    m_free(&wm);
}

static void expect(ivm_transient_status got, ivm_transient_status want)
{
    cr_assert_eq(got, want, "transient status %d, expected %d", got, want);
}

/* Every transient operation answers `want` and changes nothing. */
static void refused(ivm_value t, uint64_t owner, ivm_transient_status want)
{
    uint64_t n = 12345;
    ivm_value x = 99, out = 77;
    expect(ivm_tvec_count(t, owner, &n), want);
    expect(ivm_tvec_nth(t, owner, 0, &x), want);
    expect(ivm_tvec_conj(&heap, t, owner, ivm_fixnum(1)), want);
    expect(ivm_tvec_assoc(&heap, t, owner, 0, ivm_fixnum(1)), want);
    expect(ivm_tvec_pop(&heap, t, owner), want);
    expect(ivm_tvec_persistent(&heap, t, owner, &out), want);
    cr_assert(n == 12345 && x == 99 && out == 77, "a refused call wrote its output");
}

/* A transient of the current version, changed in place by conj!, assoc!
 * and pop!, then made persistent; the version it came from is unchanged
 * (compared against probes taken before). */
static void op_transient(prop *p, bool up)
{
    enum { PROBES = 16 };
    ivm_value before = p->v;
    uint64_t before_n = p->m.n, at[PROBES];
    ivm_value was[PROBES], before_last = m_last(&p->m);
    for (int k = 0; k < PROBES; k++) {
        at[k] = below(before_n);
        was[k] = before_n ? p->m.a[at[k]] : IVM_NIL;
    }

    ivm_value t = ivm_vec_transient(&heap, p->v, 1);
    cr_assert(ivm_is_transient_vector(t) && !ivm_is_vector(t));
    for (uint64_t k = 1 + below(100); k > 0; k--) {
        uint64_t r = below(10), n;
        if (r < (up ? 5u : 2u) || p->m.n == 0) {
            ivm_value x = fresh();
            expect(ivm_tvec_conj(&heap, t, 1, x), IVM_TRANSIENT_OK);
            m_push(&p->m, x);
        } else if (r < 6) {
            expect(ivm_tvec_pop(&heap, t, 1), IVM_TRANSIENT_OK);
            p->m.n--;
        } else {
            uint64_t i = below(p->m.n + 1);
            ivm_value x = fresh();
            expect(ivm_tvec_assoc(&heap, t, 1, i, x), IVM_TRANSIENT_OK);
            m_set(&p->m, i, x);
        }
        expect(ivm_tvec_count(t, 1, &n), IVM_TRANSIENT_OK);
        cr_assert_eq(n, p->m.n);
        if (n > 0) {
            uint64_t i = below(n);
            ivm_value x;
            expect(ivm_tvec_nth(t, 1, i, &x), IVM_TRANSIENT_OK);
            cr_assert_eq(x, p->m.a[i]);
        }
        p->ops++;
    }
    if (p->m.n <= 40000 || below(100) == 0)
        check_transient_shape(t);
    if (below(8) == 0)
        refused(t, 2, IVM_TRANSIENT_NOT_OWNER);
    expect(ivm_tvec_persistent(&heap, t, 1, &p->v), IVM_TRANSIENT_OK);
    if (below(8) == 0)
        refused(t, 1, IVM_TRANSIENT_FROZEN);

    cr_assert_eq(ivm_vec_count(before), before_n);
    cr_assert_eq(ivm_vec_peek(before), before_last);
    for (int k = 0; k < PROBES && before_n > 0; k++)
        cr_assert_eq(ivm_vec_nth(before, at[k]), was[k], "the transient changed its original");
    check_some(p->v, &p->m, 8);
    updated(p);
}

/* Brings the current version to n elements with conj! (n >= its count). */
static void grow_to(prop *p, uint64_t n)
{
    ivm_value t = ivm_vec_transient(&heap, p->v, 1);
    while (p->m.n < n) {
        ivm_value x = fresh();
        expect(ivm_tvec_conj(&heap, t, 1, x), IVM_TRANSIENT_OK);
        m_push(&p->m, x);
        p->ops++;
        p->growth_ops++;
    }
    expect(ivm_tvec_persistent(&heap, t, 1, &p->v), IVM_TRANSIENT_OK);
    check_full(p->v, &p->m);
}

/* One random step; `up` says whether the size is drifting up or down. */
static void step(prop *p, bool up)
{
    uint64_t r = below(1000);
    /* Turning a large version into a view costs the next transient a copy
     * of every element (the arena never frees), so it stays rare there. */
    uint64_t views = p->m.n <= 40000 ? 20 : 1;
    if (r < 450)
        up ? op_conj(p) : op_pop(p);
    else if (r < 600)
        up ? op_pop(p) : op_conj(p);
    else if (r < 780)
        op_assoc(p);
    else if (r < 850)
        op_read(p);
    else if (r < 930)
        op_transient(p, up);
    else if (r < 980)
        op_window(p);
    else if (r < 980 + views)
        op_subvec(p);
    else
        op_read(p);
}

Test(vector, random_operations_match_a_model_across_every_level, .timeout = 120)
{
    static const uint64_t levels[] = {32, 1024, 32768, 1048576};
    enum { STEPS = 30000, MARGIN = 100 };
    prop p = {.v = ivm_vec_empty(&heap)};
    for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
        uint64_t lo = levels[l] > MARGIN ? levels[l] - MARGIN : 0;
        uint64_t hi = levels[l] + MARGIN; /* the level changes at +33 */
        grow_to(&p, lo);
        bool up = true;
        uint64_t crossings = 0;
        for (int s = 0; s < STEPS; s++) {
            if (up && p.m.n >= hi)
                up = false, crossings++;
            else if (!up && p.m.n <= lo)
                up = true, crossings++;
            step(&p, up);
            if (s % 5000 == 0)
                check_full(p.v, &p.m);
        }
        check_full(p.v, &p.m);
        for (int k = 0; k < NSAMPLES; k++)
            if (p.old[k].v)
                check_full(p.old[k].v, &p.old[k].m);
        cr_assert_geq(crossings, 10, "the size crossed level %lu only %lu times",
                      levels[l], crossings);
    }
    cr_log_info("vector property test: %lu operations (%lu of them conj! to reach "
                "each level)", p.ops, p.growth_ops);
    cr_assert_geq(p.ops - p.growth_ops, 100000);
    m_free(&p.m);
    for (int k = 0; k < NSAMPLES; k++)
        m_free(&p.old[k].m);
}

/* ---- Shapes at the level boundaries, one step at a time ---------------- */

Test(vector, every_step_up_and_down_across_two_levels)
{
    enum { N = 1024 + 32 + 40 }; /* the root grows a level at 1,057 */
    model m = {0};
    ivm_value v = ivm_vec_empty(&heap), versions[N + 1];
    versions[0] = v;
    check_full(v, &m);
    for (int i = 0; i < N; i++) {
        ivm_value x = fresh();
        v = ivm_vec_conj(&heap, v, x);
        m_push(&m, x);
        check_full(v, &m);
        versions[i + 1] = v;
        check_full(ivm_vec_from(&heap, m.a, m.n), &m);
    }
    /* Every version kept its elements; popping walks back through them. */
    for (int i = N; i > 0; i--) {
        m.n = (uint64_t)i;
        check_full(versions[i], &m);
        v = ivm_vec_pop(&heap, v);
        m.n--;
        check_full(v, &m);
    }
    cr_assert_eq(((ivm_vec *)(uintptr_t)v)->root, IVM_NIL);
    cr_assert_eq(((ivm_vec *)(uintptr_t)v)->tail, IVM_NIL);
    m_free(&m);
}

Test(vector, shift_grows_and_shrinks_with_the_trie)
{
    static const struct { uint64_t n; unsigned shift; } shapes[] = {
        {0, 5}, {32, 5}, {33, 5}, {1056, 5}, {1057, 10}, {32800, 10},
        {32801, 15}, {1048608, 15}, {1048609, 20},
    };
    model m = {0};
    ivm_value t = ivm_vec_transient(&heap, ivm_vec_empty(&heap), 1);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        while (m.n < shapes[k].n) {
            ivm_value x = fresh();
            expect(ivm_tvec_conj(&heap, t, 1, x), IVM_TRANSIENT_OK);
            m_push(&m, x);
        }
        cr_assert_eq(((ivm_tvec *)(uintptr_t)t)->shift, shapes[k].shift, "at %lu", m.n);
    }
    ivm_value v;
    expect(ivm_tvec_persistent(&heap, t, 1, &v), IVM_TRANSIENT_OK);
    check_full(v, &m);
    /* Down again: pop! most of the way, the last steps with pop. */
    for (size_t k = sizeof shapes / sizeof shapes[0]; k-- > 0;) {
        t = ivm_vec_transient(&heap, v, 1);
        for (; m.n > shapes[k].n + 40; m.n--)
            expect(ivm_tvec_pop(&heap, t, 1), IVM_TRANSIENT_OK);
        expect(ivm_tvec_persistent(&heap, t, 1, &v), IVM_TRANSIENT_OK);
        for (; m.n > shapes[k].n; m.n--)
            v = ivm_vec_pop(&heap, v);
        cr_assert_eq(ivm_header_small(*ivm_obj_header(v)), shapes[k].shift, "at %lu", m.n);
        check_some(v, &m, 64);
    }
    m_free(&m);
}

/* ---- Basics, views and chunks ------------------------------------------ */

Test(vector, empty_and_small)
{
    ivm_value e = ivm_vec_empty(&heap);
    cr_assert(ivm_is_vector(e) && !ivm_is_transient_vector(e));
    cr_assert(!ivm_is_vector(ivm_fixnum(1)) && !ivm_is_vector(IVM_NIL));
    cr_assert_eq(ivm_vec_count(e), 0);
    cr_assert_eq(ivm_vec_peek(e), IVM_NIL);
    cr_assert_eq(ivm_vec_count(ivm_vec_from(&heap, NULL, 0)), 0);

    ivm_value v = ivm_vec_conj(&heap, e, ivm_fixnum(7));
    cr_assert_eq(ivm_vec_count(e), 0, "conj left the empty vector alone");
    cr_assert_eq(ivm_vec_count(v), 1);
    cr_assert_eq(ivm_vec_nth(v, 0), ivm_fixnum(7));
    cr_assert_eq(ivm_vec_peek(v), ivm_fixnum(7));
    ivm_value w = ivm_vec_assoc(&heap, v, 1, ivm_fixnum(8)); /* i == count: conj */
    cr_assert_eq(ivm_vec_count(w), 2);
    cr_assert_eq(ivm_vec_nth(w, 1), ivm_fixnum(8));
    cr_assert_eq(ivm_vec_count(ivm_vec_pop(&heap, v)), 0);

    /* A persistent vector's nodes are sized to what they hold. */
    ivm_value three = ivm_vec_from(&heap, (ivm_value[]){1, 3, 5}, 3);
    ivm_value tail = ((ivm_vec *)(uintptr_t)three)->tail;
    cr_assert_eq(ivm_header_words(*ivm_obj_header(tail)), 2 + 3);
    cr_assert_eq(ivm_header_words(*ivm_obj_header(three)), 4);
}

Test(vector, subvectors_are_views_of_the_original)
{
    enum { N = 5000 };
    model m = {0};
    for (int i = 0; i < N; i++)
        m_push(&m, fresh());
    ivm_value v = ivm_vec_from(&heap, m.a, m.n);
    cr_assert_eq(ivm_vec_subvec(&heap, v, 0, N), v, "the whole range is the vector");

    uint64_t b0 = arena_bytes();
    ivm_value s = ivm_vec_subvec(&heap, v, 100, 4000);
    ivm_value ss = ivm_vec_subvec(&heap, s, 33, 3000);
    cr_assert_eq(arena_bytes() - b0, 2 * sizeof(ivm_vec_sub), "views are O(1)");
    cr_assert_eq(((ivm_vec_sub *)(uintptr_t)ss)->vec, v, "a view of a view views the original");
    cr_assert_eq(ivm_vec_subvec(&heap, ss, 0, ivm_vec_count(ss)), ss);

    model sm = m_range(&m, 133, 3100);
    check_full(ss, &sm);

    /* Conj on a view that ends inside its vector overwrites the element
     * after it in a new vector; at the vector's end it conjs. Both share. */
    ivm_value x = fresh();
    b0 = arena_bytes();
    ivm_value c = ivm_vec_conj(&heap, ss, x);
    cr_assert_lt(arena_bytes() - b0, 1024, "conj on a view copies one path");
    m_push(&sm, x);
    check_full(c, &sm);
    check_full(v, &m);

    ivm_value tail_view = ivm_vec_subvec(&heap, v, 10, N);
    ivm_value y = fresh();
    ivm_value c2 = ivm_vec_conj(&heap, tail_view, y);
    cr_assert_eq(((ivm_vec *)(uintptr_t)((ivm_vec_sub *)(uintptr_t)c2)->vec)->root,
                 ((ivm_vec *)(uintptr_t)v)->root, "conj at the end shares the trie");
    model tm = m_range(&m, 10, N);
    m_push(&tm, y);
    check_full(c2, &tm);

    /* Popping a view narrows it; popping its last element empties it. */
    ivm_value one = ivm_vec_subvec(&heap, v, 7, 8);
    ivm_value none = ivm_vec_pop(&heap, one);
    cr_assert(ivm_is_vector(none));
    cr_assert_eq(ivm_vec_count(none), 0);
    ivm_value empty_view = ivm_vec_subvec(&heap, v, 9, 9);
    cr_assert_eq(ivm_vec_count(empty_view), 0);
    cr_assert_eq(ivm_vec_peek(empty_view), IVM_NIL);
    ivm_value z = fresh();
    ivm_value from_empty = ivm_vec_conj(&heap, empty_view, z);
    cr_assert_eq(ivm_vec_count(from_empty), 1);
    cr_assert_eq(ivm_vec_nth(from_empty, 0), z);
    check_full(v, &m);
    m_free(&m);
    m_free(&sm);
    m_free(&tm);
}

Test(vector, chunks_run_to_the_end_of_a_leaf_or_view)
{
    enum { N = 1000 };
    ivm_value items[N];
    for (int i = 0; i < N; i++)
        items[i] = ivm_fixnum(i);
    ivm_value v = ivm_vec_from(&heap, items, N);
    uint64_t tailoff = (N - 1) / 32 * 32;
    for (uint64_t i = 0; i < N; i++) {
        uint32_t len;
        const ivm_value *c = ivm_vec_chunk(v, i, &len);
        uint64_t want = i >= tailoff ? N - i : 32 - i % 32;
        cr_assert_eq(len, want, "chunk at %lu", i);
        cr_assert_eq(c[0], items[i]);
    }
    ivm_value s = ivm_vec_subvec(&heap, v, 45, 70);
    uint32_t len;
    cr_assert_eq(*ivm_vec_chunk(s, 0, &len), items[45]);
    cr_assert_eq(len, 64 - 45, "a view's chunk follows its vector's leaves");
    cr_assert_eq(*ivm_vec_chunk(s, 19, &len), items[64]);
    cr_assert_eq(len, 70 - 64, "and stops at the view's end");
}

/* ---- Transients -------------------------------------------------------- */

Test(vector, transient_refuses_use_after_persistent_and_by_others)
{
    ivm_value t = ivm_vec_transient(&heap, ivm_vec_from(&heap, (ivm_value[]){3, 5}, 2), 1);
    refused(t, 2, IVM_TRANSIENT_NOT_OWNER);
    expect(ivm_tvec_conj(&heap, t, 1, ivm_fixnum(9)), IVM_TRANSIENT_OK);
    ivm_value v;
    expect(ivm_tvec_persistent(&heap, t, 1, &v), IVM_TRANSIENT_OK);
    refused(t, 1, IVM_TRANSIENT_FROZEN);
    refused(t, 2, IVM_TRANSIENT_FROZEN); /* frozen comes first */
    model m = {.a = (ivm_value[]){3, 5, ivm_fixnum(9)}, .n = 3};
    check_full(v, &m);

    ivm_value e;
    ivm_value te = ivm_vec_transient(&heap, ivm_vec_empty(&heap), 1);
    expect(ivm_tvec_persistent(&heap, te, 1, &e), IVM_TRANSIENT_OK);
    cr_assert_eq(ivm_vec_count(e), 0);
}

/* conj!, assoc! and pop! at random on a transient of `v` (whose elements
 * are `m`), checked against tm; returns the persistent! result. */
static ivm_value churn(ivm_value v, model *tm, uint64_t steps)
{
    ivm_value t = ivm_vec_transient(&heap, v, 1);
    for (uint64_t k = 0; k < steps; k++) {
        uint64_t r = below(10);
        if (r < 4 || tm->n == 0) {
            ivm_value x = fresh();
            expect(ivm_tvec_conj(&heap, t, 1, x), IVM_TRANSIENT_OK);
            m_push(tm, x);
        } else if (r < 7) {
            expect(ivm_tvec_pop(&heap, t, 1), IVM_TRANSIENT_OK);
            tm->n--;
        } else {
            uint64_t i = below(tm->n + 1);
            ivm_value x = fresh();
            expect(ivm_tvec_assoc(&heap, t, 1, i, x), IVM_TRANSIENT_OK);
            m_set(tm, i, x);
        }
    }
    check_transient_shape(t);
    ivm_value out;
    expect(ivm_tvec_persistent(&heap, t, 1, &out), IVM_TRANSIENT_OK);
    check_full(out, tm);
    return out;
}

Test(vector, a_transient_never_changes_its_original)
{
    static const uint64_t sizes[] = {0, 5, 32, 33, 64, 1000, 1057, 1100, 33000, 40000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        model m = {0};
        for (uint64_t i = 0; i < sizes[k]; i++)
            m_push(&m, fresh());
        ivm_value v = ivm_vec_from(&heap, m.a, m.n);
        /* Two transients of one vector, then one of a persistent! result
         * (whose nodes a finished transient built). */
        model tm = m_range(&m, 0, m.n);
        ivm_value a = churn(v, &tm, 3000);
        model tm2 = m_range(&m, 0, m.n);
        ivm_value b = churn(v, &tm2, 3000);
        check_full(v, &m);
        check_full(a, &tm);
        model tm3 = m_range(&tm, 0, tm.n);
        churn(a, &tm3, 3000);
        check_full(a, &tm);
        check_full(b, &tm2);
        check_full(v, &m);
        m_free(&m);
        m_free(&tm);
        m_free(&tm2);
        m_free(&tm3);
    }
}

Test(vector, transient_of_a_view)
{
    model m = {0};
    for (int i = 0; i < 3000; i++)
        m_push(&m, fresh());
    ivm_value v = ivm_vec_from(&heap, m.a, m.n);
    ivm_value s = ivm_vec_subvec(&heap, v, 77, 2500);
    model sm = m_range(&m, 77, 2500);
    churn(s, &sm, 2000);
    check_full(v, &m);
    model view = m_range(&m, 77, 2500);
    check_full(s, &view);
    m_free(&m);
    m_free(&sm);
    m_free(&view);
}

/* ---- Size --------------------------------------------------------------- */

/* Bytes of the objects of a trie node (at `level`) and everything under it. */
static uint64_t trie_bytes(ivm_value n, unsigned level)
{
    const ivm_vec_node *node = (const ivm_vec_node *)(uintptr_t)n;
    uint32_t words = ivm_header_words(node->h);
    uint64_t bytes = (uint64_t)words * 8;
    for (uint32_t i = 0; level > 0 && i < words - 2; i++)
        if (node->slots[i] != IVM_NIL)
            bytes += trie_bytes(node->slots[i], level - 5);
    return bytes;
}

static uint64_t vector_bytes(ivm_value v)
{
    const ivm_vec *vec = (const ivm_vec *)(uintptr_t)v;
    uint64_t bytes = sizeof *vec + trie_bytes(vec->tail, 0);
    if (vec->root != IVM_NIL)
        bytes += trie_bytes(vec->root, ivm_header_small(vec->h));
    return bytes;
}

Test(vector, a_million_small_integers_take_at_most_12_bytes_each)
{
    enum { N = 1000000 };
    ivm_value *items = malloc(N * sizeof *items);
    cr_assert(items);
    for (int i = 0; i < N; i++)
        items[i] = ivm_fixnum(i);
    model m = {.a = items, .n = N};

    uint64_t b0 = arena_bytes();
    ivm_value v = ivm_vec_from(&heap, items, N);
    uint64_t from_bytes = arena_bytes() - b0;
    check_full(v, &m);

    b0 = arena_bytes();
    ivm_value t = ivm_vec_transient(&heap, ivm_vec_empty(&heap), 1);
    for (int i = 0; i < N; i++)
        expect(ivm_tvec_conj(&heap, t, 1, items[i]), IVM_TRANSIENT_OK);
    ivm_value tv;
    expect(ivm_tvec_persistent(&heap, t, 1, &tv), IVM_TRANSIENT_OK);
    uint64_t transient_bytes = arena_bytes() - b0;
    check_full(tv, &m);

    /* One persistent conj at a time leaves every older version behind in
     * the arena; what the last one holds is measured by walking it. */
    ivm_value c = ivm_vec_empty(&heap);
    for (int i = 0; i < N; i++)
        c = ivm_vec_conj(&heap, c, items[i]);
    check_full(c, &m);
    uint64_t conj_bytes = vector_bytes(c);
    cr_assert_eq(vector_bytes(v), from_bytes, "the walk counts what was allocated");

    cr_log_info("vector of 1,000,000 small integers, arena bytes per element: "
                "%.3f (vec_from), %.3f (transient conj!), %.3f (persistent conj, live)",
                (double)from_bytes / N, (double)transient_bytes / N, (double)conj_bytes / N);
    cr_assert_leq(from_bytes, 12 * (uint64_t)N);
    cr_assert_leq(transient_bytes, 12 * (uint64_t)N);
    cr_assert_leq(conj_bytes, 12 * (uint64_t)N);
    free(items);
}

/* A literal's worth of elements is built straight into a tail of its size:
 * [a b] is the 32-byte vector and a 32-byte node, nothing more (it once
 * filled a 32-slot node first and kept a trimmed copy: 336 bytes). */
Test(vector, small_vectors_allocate_only_what_they_keep)
{
    ivm_value items[32];
    for (int i = 0; i < 32; i++)
        items[i] = ivm_fixnum(i);
    for (size_t n = 0; n <= 32; n++) {
        arena_bytes();
        uint64_t before = heap.arena->bytes_allocated;
        ivm_value v = ivm_vec_from(&heap, items, n);
        uint64_t used = heap.arena->bytes_allocated - before - (uint64_t)(heap.bump.end - heap.bump.ptr);
        uint64_t want = sizeof(ivm_vec) + (n ? sizeof(ivm_vec_node) + n * sizeof(ivm_value) : 0);
        cr_assert_eq(used, want, "n=%zu: %llu bytes, want %llu", n, (unsigned long long)used,
                     (unsigned long long)want);
        cr_assert_eq(ivm_vec_count(v), n);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(ivm_vec_nth(v, i), items[i]);
        /* and it grows as any vector does */
        v = ivm_vec_conj(&heap, v, ivm_fixnum(99));
        cr_assert_eq(ivm_vec_nth(v, n), ivm_fixnum(99));
    }
}
