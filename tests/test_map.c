/* Maps and sets (src/values/map.c): random sequences of operations
 * (assoc, dissoc, get, conj, disj, contains, merge, and bursts of transient
 * operations ended by persistent!) checked against a reference model at
 * sizes crossing every trie level (32, 1,024, 32,768 and 1,048,576 entries)
 * and under test hashes that force full collisions; keys of every value
 * type; canonical layout (the same entries, inserted in any order or left
 * after removals, give tries that ivm_map_equal_push finds equal); old
 * versions reading as before after later updates; transients' freezing,
 * ownership and isolation from the map they came from; merge; the arena
 * bytes a 1,000,000-entry integer map and set cost. And Clojure's order:
 * array maps of up to 8 entries in insertion order (replacement in place,
 * dissoc, the 9th key making a hash map for good, transients, against an
 * ordered model), equality and hashes of array and hash maps alike, and
 * hash maps and sets iterating as Clojure 1.11's print them (every model
 * comparison checks the order by hash; concrete cases against Clojure's
 * own output, collisions included). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "values/map.h"

static ivm_heap heap;

static void setup(void)
{
    cr_assert(ivm_heap_init(&heap, (size_t)4 << 30, IVM_ARENA_LAZY));
}
static void teardown(void) { ivm_heap_destroy(&heap); }

TestSuite(map, .init = setup, .fini = teardown, .timeout = 300);

/* ---- Helpers ----------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void) /* xorshift64* */
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1du;
}
static size_t below(size_t n) { return (size_t)(rnd() % n); }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static ivm_value fix(int64_t i) { return ivm_fixnum(i); }
static ivm_value str(const char *s) { return ivm_string(&heap, s, strlen(s)); }
static ivm_value kw(const char *s) { return ivm_keyword(&heap, s, strlen(s)); }
static ivm_value sym(const char *s) { return ivm_symbol(&heap, s, strlen(s)); }
static ivm_value flt(double d) { return ivm_float(&heap, d); }

static ivm_value list2(ivm_value a, ivm_value b)
{
    return ivm_cons_new(&heap, a, ivm_cons_new(&heap, b, IVM_EMPTY_LIST));
}

/* A map or a set, through one interface: sets hold key k with "value" k. */
static ivm_value c_empty(bool set) { return set ? ivm_set_empty(&heap) : ivm_map_empty(&heap); }
static bool c_is_set(ivm_value m) { return ivm_is_set(m); }
static uint64_t c_count(ivm_value m) { return c_is_set(m) ? ivm_set_count(m) : ivm_map_count(m); }
static ivm_value c_add(ivm_value m, ivm_value k, ivm_value v)
{
    return c_is_set(m) ? ivm_set_conj(&heap, m, k) : ivm_map_assoc(&heap, m, k, v);
}
static ivm_value c_remove(ivm_value m, ivm_value k)
{
    return c_is_set(m) ? ivm_set_disj(&heap, m, k) : ivm_map_dissoc(&heap, m, k);
}
static bool c_get(ivm_value m, ivm_value k, ivm_value *v)
{
    if (!c_is_set(m))
        return ivm_map_get(&heap, m, k, v);
    *v = k;
    return ivm_set_contains(&heap, m, k);
}

/* Transient operations that must succeed. */
static void tr_add(ivm_value t, ivm_value k, ivm_value v)
{
    ivm_transient_status st = ivm_is_transient_set(t) ? ivm_tset_conj(&heap, t, 1, k)
                                                      : ivm_tmap_assoc(&heap, t, 1, k, v);
    cr_assert_eq(st, IVM_TRANSIENT_OK);
}
static void tr_remove(ivm_value t, ivm_value k)
{
    ivm_transient_status st = ivm_is_transient_set(t) ? ivm_tset_disj(&heap, t, 1, k)
                                                      : ivm_tmap_dissoc(&heap, t, 1, k);
    cr_assert_eq(st, IVM_TRANSIENT_OK);
}
static bool tr_get(ivm_value t, ivm_value k, ivm_value *v)
{
    bool found = false;
    ivm_transient_status st;
    if (ivm_is_transient_set(t)) {
        *v = k;
        st = ivm_tset_contains(&heap, t, 1, k, &found);
    } else {
        st = ivm_tmap_get(&heap, t, 1, k, &found, v);
    }
    cr_assert_eq(st, IVM_TRANSIENT_OK);
    return found;
}
static uint64_t tr_count(ivm_value t)
{
    uint64_t n = 0;
    cr_assert_eq(ivm_tmap_count(t, 1, &n), IVM_TRANSIENT_OK);
    return n;
}
static ivm_value tr_persistent(ivm_value t)
{
    ivm_value m = IVM_NIL;
    cr_assert_eq(ivm_tmap_persistent(&heap, t, 1, &m), IVM_TRANSIENT_OK);
    return m;
}

/* ---- Reference model: keys 0..universe-1, values >= 0 ----------------- */

typedef struct model {
    size_t universe;
    int64_t *val; /* -1: absent. Sets store 0. */
    size_t count;
    bool set;
} model;

static void model_init(model *md, size_t universe, bool set)
{
    md->universe = universe;
    md->val = malloc(universe * sizeof *md->val);
    memset(md->val, 0xff, universe * sizeof *md->val);
    md->count = 0;
    md->set = set;
}

static void model_put(model *md, int64_t k, int64_t v)
{
    md->count += md->val[k] < 0;
    md->val[k] = md->set ? 0 : v;
}

static void model_del(model *md, int64_t k)
{
    md->count -= md->val[k] >= 0;
    md->val[k] = -1;
}

/* What the model says c_get must give for key k. */
static void expect_get(ivm_value m, const int64_t *vals, int64_t k)
{
    ivm_value v;
    bool found = c_get(m, fix(k), &v);
    cr_assert_eq(found, vals[k] >= 0, "key %lld: found %d", (long long)k, found);
    if (found)
        cr_assert_eq(v, c_is_set(m) ? fix(k) : fix(vals[k]), "key %lld", (long long)k);
}

/* ---- Clojure's iteration order ---------------------------------------- */

static uint32_t test_key_hash(ivm_value k)
{
    return heap.key_hash_for_tests ? heap.key_hash_for_tests(k) : ivm_hash(k);
}

/* Clojure's hash maps and sets (BitmapIndexedNode, ArrayNode) visit a
 * node's positions (hash >>> shift) & 31 in increasing order, shift 0 at
 * the root, a child's subtree at its position: keys come sorted by their
 * hash's 5-bit chunks, the lowest chunk most significant. This is that
 * order as one number: chunks 0..5 at bits 31..27, ..., 6..2, and the
 * 2-bit chunk at shift 30 in bits 1..0. */
static uint32_t clojure_rank(uint32_t h)
{
    uint32_t r = 0;
    for (unsigned i = 0; i < 6; i++)
        r |= ((h >> (5 * i)) & 31u) << (27 - 5 * i);
    return r | (h >> 30);
}

/* A hash map or set iterates in Clojure's order: nil first, then by rank,
 * equal ranks (full collisions) together. */
static void expect_clojure_order(ivm_value m)
{
    if (ivm_is_array_map(m))
        return;
    ivm_map_iter it;
    ivm_map_iter_init(&it, m);
    ivm_value k, prev = IVM_NIL;
    bool first = true;
    while (ivm_map_iter_next(&it, &k, NULL)) {
        if (!first) {
            cr_assert_neq(k, IVM_NIL, "nil comes first");
            if (prev != IVM_NIL) {
                uint32_t a = clojure_rank(test_key_hash(prev)), b = clojure_rank(test_key_hash(k));
                cr_assert_leq(a, b, "out of order: hashes %08x then %08x",
                              test_key_hash(prev), test_key_hash(k));
            }
        }
        first = false;
        prev = k;
    }
}

/* m holds exactly what vals (count entries) says: iteration visits each
 * entry once, in Clojure's order, and every invariant holds. */
static void expect_contents(ivm_value m, const int64_t *vals, size_t universe, size_t count)
{
    cr_assert(ivm_map_valid(&heap, m));
    expect_clojure_order(m);
    cr_assert_eq(c_count(m), count);
    uint8_t *seen = calloc(universe, 1);
    ivm_map_iter it;
    ivm_map_iter_init(&it, m);
    ivm_value k, v;
    size_t n = 0;
    while (ivm_map_iter_next(&it, &k, &v)) {
        cr_assert(ivm_is_fixnum(k));
        int64_t i = ivm_fixnum_value(k);
        cr_assert(i >= 0 && (size_t)i < universe && !seen[i] && vals[i] >= 0,
                  "key %lld", (long long)i);
        seen[i] = 1;
        cr_assert_eq(v, c_is_set(m) ? k : fix(vals[i]));
        n++;
    }
    cr_assert_eq(n, count);
    free(seen);
}

/* ---- Old versions ------------------------------------------------------ */

#define SNAPSHOTS 48
#define PROBES 16
#define FULL_SNAPSHOT_UNIVERSE 4096

typedef struct snapshot {
    ivm_value m;
    size_t count;
    int64_t keys[PROBES], vals[PROBES];
    int64_t *full; /* a copy of the model when the universe is small */
} snapshot;

typedef struct snapshots {
    snapshot s[SNAPSHOTS];
    size_t n;
} snapshots;

static void snapshot_take(snapshots *ss, ivm_value m, const model *md, int64_t last_key)
{
    snapshot *s = &ss->s[ss->n < SNAPSHOTS ? ss->n++ : below(SNAPSHOTS)];
    free(s->full);
    s->m = m;
    s->count = md->count;
    s->full = NULL;
    for (int i = 0; i < PROBES; i++) {
        s->keys[i] = i == 0 ? last_key : (int64_t)below(md->universe);
        s->vals[i] = md->val[s->keys[i]];
    }
    if (md->universe <= FULL_SNAPSHOT_UNIVERSE) {
        s->full = malloc(md->universe * sizeof *s->full);
        memcpy(s->full, md->val, md->universe * sizeof *s->full);
    }
}

static void snapshots_check(const snapshots *ss, size_t universe)
{
    for (size_t j = 0; j < ss->n; j++) {
        const snapshot *s = &ss->s[j];
        cr_assert_eq(c_count(s->m), s->count);
        if (s->full) {
            expect_contents(s->m, s->full, universe, s->count);
            continue;
        }
        for (int i = 0; i < PROBES; i++) {
            ivm_value v;
            bool found = c_get(s->m, fix(s->keys[i]), &v);
            cr_assert_eq(found, s->vals[i] >= 0);
            if (found && !c_is_set(s->m))
                cr_assert_eq(v, fix(s->vals[i]));
        }
    }
}

static void snapshots_free(snapshots *ss)
{
    for (size_t j = 0; j < ss->n; j++)
        free(ss->s[j].full);
}

/* ---- Random operations ------------------------------------------------- */

typedef struct run {
    bool set;
    size_t size;         /* grown to this many entries first */
    size_t ops;          /* then this many mixed operations */
    size_t check_every;  /* full comparisons with the model */
    bool grow_transient; /* grow through one transient */
    uint32_t (*hash)(ivm_value key);
} run;

static int64_t random_value(void) { return (int64_t)(rnd() >> 24); }

/* One change through the persistent interface, checked. */
static ivm_value step_add(ivm_value m, model *md, int64_t k, int64_t v)
{
    bool same = md->val[k] >= 0 && (md->set || md->val[k] == v);
    ivm_value r = c_add(m, fix(k), fix(v));
    model_put(md, k, v);
    if (same)
        cr_assert_eq(r, m, "an assoc that changes nothing gives the same map");
    cr_assert_eq(c_count(r), md->count);
    expect_get(r, md->val, k);
    return r;
}

static ivm_value step_remove(ivm_value m, model *md, int64_t k)
{
    bool absent = md->val[k] < 0;
    ivm_value r = c_remove(m, fix(k));
    model_del(md, k);
    if (absent)
        cr_assert_eq(r, m, "removing an absent key gives the same map");
    cr_assert_eq(c_count(r), md->count);
    expect_get(r, md->val, k);
    return r;
}

/* Merges m with a small map or set of random entries, either way round
 * (the second argument's entries win), checked. */
static ivm_value step_merge(ivm_value m, model *md)
{
    ivm_value other = c_empty(md->set);
    size_t n = 1 + below(8);
    for (size_t i = 0; i < n; i++)
        other = c_add(other, fix((int64_t)below(md->universe)), fix(random_value()));
    bool m_wins = below(2);
    ivm_value r = m_wins ? ivm_map_merge(&heap, other, m) : ivm_map_merge(&heap, m, other);
    ivm_map_iter it;
    ivm_value k, v;
    ivm_map_iter_init(&it, other);
    while (ivm_map_iter_next(&it, &k, &v)) {
        int64_t i = ivm_fixnum_value(k);
        if (!m_wins || md->val[i] < 0)
            model_put(md, i, ivm_fixnum_value(v));
    }
    cr_assert_eq(c_count(r), md->count);
    ivm_map_iter_init(&it, other);
    while (ivm_map_iter_next(&it, &k, &v))
        expect_get(r, md->val, ivm_fixnum_value(k));
    return r;
}

/* Random operations on transient t, checked against md as they go: of
 * every 10, `adds` add a key, one reads one and the rest remove one. Stops
 * after `ops` operations or once md holds `until` entries. */
static size_t transient_steps(ivm_value t, model *md, unsigned adds, size_t ops, size_t until)
{
    size_t n = 0;
    for (; n < ops && md->count < until; n++) {
        int64_t k = (int64_t)below(md->universe);
        unsigned r = (unsigned)below(10);
        ivm_value v;
        if (r < adds) {
            int64_t x = random_value();
            tr_add(t, fix(k), fix(x));
            model_put(md, k, x);
        } else if (r == adds) {
            bool found = tr_get(t, fix(k), &v);
            cr_assert_eq(found, md->val[k] >= 0);
            if (found && !md->set)
                cr_assert_eq(v, fix(md->val[k]));
        } else {
            tr_remove(t, fix(k));
            model_del(md, k);
        }
        cr_assert_eq(tr_count(t), md->count);
    }
    return n;
}

static void run_ops(const run *cfg)
{
    heap.key_hash_for_tests = cfg->hash;
    model md;
    model_init(&md, 2 * cfg->size, cfg->set);
    snapshots ss = {.n = 0};
    ivm_value m = c_empty(cfg->set);
    size_t total = 0;

    /* Grow: mostly additions. */
    if (cfg->grow_transient) {
        ivm_value t = ivm_map_transient(&heap, m, 1);
        total += transient_steps(t, &md, 8, SIZE_MAX, cfg->size);
        m = tr_persistent(t);
    }
    for (; md.count < cfg->size; total++) {
        int64_t k = (int64_t)below(md.universe);
        unsigned r = (unsigned)below(10);
        if (r < 8)
            m = step_add(m, &md, k, random_value());
        else if (r < 9)
            m = step_remove(m, &md, k);
        else
            expect_get(m, md.val, k);
    }
    expect_contents(m, md.val, md.universe, md.count);

    /* Mixed operations around that size. */
    size_t snapshot_every = cfg->ops / SNAPSHOTS + 1;
    for (size_t op = 0; op < cfg->ops; op++, total++) {
        int64_t k = (int64_t)below(md.universe);
        unsigned r = (unsigned)below(100);
        if (r < 30) {
            m = step_add(m, &md, k, random_value());
        } else if (r < 35) { /* the value it already has, if any */
            m = step_add(m, &md, k, md.val[k] >= 0 ? md.val[k] : random_value());
        } else if (r < 57) {
            m = step_remove(m, &md, k);
        } else if (r < 82) {
            expect_get(m, md.val, k);
        } else if (r < 87) {
            m = step_merge(m, &md);
        } else {
            /* A burst through a transient, then persistent!. */
            ivm_value source = m;
            size_t source_count = md.count;
            ivm_value t = ivm_map_transient(&heap, m, 1), v = IVM_NIL;
            transient_steps(t, &md, 4, 1 + below(64), SIZE_MAX);
            m = tr_persistent(t);
            cr_assert_eq(c_count(m), md.count);
            cr_assert_eq(c_count(source), source_count);
            cr_assert_eq(ivm_tmap_persistent(&heap, t, 1, &v), IVM_TRANSIENT_FROZEN);
        }
        if (op % snapshot_every == 0)
            snapshot_take(&ss, m, &md, k);
        if (cfg->check_every && op % cfg->check_every == cfg->check_every - 1) {
            expect_contents(m, md.val, md.universe, md.count);
            snapshots_check(&ss, md.universe);
        }
    }
    expect_contents(m, md.val, md.universe, md.count);
    snapshots_check(&ss, md.universe);
    cr_assert_geq(total, 100000);
    snapshots_free(&ss);
    free(md.val);
    heap.key_hash_for_tests = NULL;
}

/* ---- Test hashes (they agree with = on the integer keys they get) ------ */

static int64_t key_int(ivm_value k) { return ivm_fixnum_value(k); }
static uint32_t hash_ident(ivm_value k) { return (uint32_t)key_int(k); }
static uint32_t hash_mod7(ivm_value k) { return (uint32_t)(key_int(k) % 7); }
static uint32_t hash_one(ivm_value k) { (void)k; return 0x5bd1e995u; }
/* Keys 3i, 3i+1, 3i+2 collide in full, among well spread hashes. */
static uint32_t hash_thirds(ivm_value k) { return ivm_hash(fix(key_int(k) / 3)); }
/* Low 21 bits zero: long single-child chains above the branching levels. */
static uint32_t hash_high(ivm_value k) { return (uint32_t)key_int(k) << 21; }

/* ---- Property runs ----------------------------------------------------- */

Test(map, random_ops_32)
{
    run_ops(&(run){.size = 32, .ops = 100000, .check_every = 97});
}

Test(map, random_ops_1024)
{
    run_ops(&(run){.size = 1024, .ops = 100000, .check_every = 5000});
}

Test(map, random_ops_32768)
{
    run_ops(&(run){.size = 32768, .ops = 100000, .check_every = 25000,
                   .grow_transient = true});
}

Test(map, random_ops_1048576)
{
    run_ops(&(run){.size = 1 << 20, .ops = 100000, .grow_transient = true});
}

Test(map, set_random_ops_1024)
{
    run_ops(&(run){.set = true, .size = 1024, .ops = 100000, .check_every = 5000});
}

Test(map, set_random_ops_32768)
{
    run_ops(&(run){.set = true, .size = 32768, .ops = 100000, .check_every = 25000,
                   .grow_transient = true});
}

Test(map, collisions_key_mod_7)
{
    run_ops(&(run){.size = 1024, .ops = 100000, .check_every = 25000, .hash = hash_mod7});
}

Test(map, set_collisions_key_mod_7)
{
    run_ops(&(run){.set = true, .size = 1024, .ops = 100000, .check_every = 25000,
                   .hash = hash_mod7, .grow_transient = true});
}

Test(map, collisions_all_keys_one_hash)
{
    run_ops(&(run){.size = 100, .ops = 100000, .check_every = 5000, .hash = hash_one});
}

Test(map, collisions_in_threes)
{
    run_ops(&(run){.size = 32768, .ops = 100000, .check_every = 25000,
                   .hash = hash_thirds, .grow_transient = true});
}

Test(map, long_chains)
{
    run_ops(&(run){.size = 1024, .ops = 100000, .check_every = 5000, .hash = hash_high});
}

/* ---- Keys of every type ------------------------------------------------ */

/* Keys that are pairwise unequal; a second call builds equal ones anew. */
static size_t make_keys(ivm_value *k)
{
    size_t n = 0;
    k[n++] = IVM_NIL;
    k[n++] = IVM_TRUE;
    k[n++] = IVM_FALSE;
    k[n++] = fix(0);
    k[n++] = fix(1);
    k[n++] = fix(-1);
    k[n++] = ivm_int(&heap, IVM_FIXNUM_MAX);
    k[n++] = ivm_int(&heap, IVM_FIXNUM_MAX + 1); /* boxed */
    k[n++] = ivm_int(&heap, INT64_MIN);          /* boxed */
    k[n++] = flt(1.0);                            /* (= 1 1.0) is false */
    k[n++] = flt(0.0);
    k[n++] = flt(1.5);
    k[n++] = flt(1e300);   /* boxed */
    k[n++] = flt(-2.5e-300); /* boxed */
    k[n++] = ivm_char('a');
    k[n++] = str("a");
    k[n++] = str("");
    k[n++] = str("h\xc3\xa9llo");
    k[n++] = ivm_bytes(&heap, "a", 1);
    k[n++] = kw("a");
    k[n++] = kw("ns/a");
    k[n++] = sym("a");
    k[n++] = sym("ns/a");
    k[n++] = IVM_EMPTY_LIST;
    k[n++] = list2(fix(1), fix(2));
    k[n++] = list2(flt(1.0), fix(2));
    k[n++] = list2(list2(fix(1), IVM_EMPTY_LIST), str("a"));
    return n;
}

static void keys_of_every_type(bool set)
{
    ivm_value a[32], b[32];
    size_t n = make_keys(a);
    cr_assert_eq(make_keys(b), n);
    ivm_value m = c_empty(set);
    for (size_t i = 0; i < n; i++)
        m = c_add(m, a[i], fix((int64_t)i));
    cr_assert(ivm_map_valid(&heap, m));
    cr_assert_eq(c_count(m), n);
    for (size_t i = 0; i < n; i++) {
        ivm_value v;
        cr_assert(c_get(m, b[i], &v), "key %zu", i);
        cr_assert(ivm_equal(v, set ? a[i] : fix((int64_t)i)), "key %zu", i);
        cr_assert_eq(c_add(m, b[i], fix((int64_t)i)), m, "key %zu", i);
    }
    /* -0.0 = 0.0: the same key. */
    ivm_value z = c_add(m, flt(-0.0), fix(99));
    cr_assert_eq(c_count(z), n);
    ivm_value v;
    cr_assert(c_get(z, flt(0.0), &v));
    if (!set)
        cr_assert_eq(v, fix(99));
    cr_assert(!c_get(m, flt(2.0), &v) && !c_get(m, str("b"), &v) &&
              !c_get(m, list2(fix(2), fix(1)), &v) && !c_get(m, kw("b"), &v));
    /* NaN equals nothing, itself included: each assoc adds an entry that
     * no lookup finds. */
    ivm_value nan = flt(__builtin_nan(""));
    ivm_value with_nan = c_add(c_add(m, nan, fix(1)), nan, fix(2));
    cr_assert_eq(c_count(with_nan), n + 2);
    cr_assert(!c_get(with_nan, nan, &v) && ivm_map_valid(&heap, with_nan));
    /* Remove through the equal copies, in a random order. */
    for (size_t left = n; left > 0; left--) {
        size_t i = below(left);
        m = c_remove(m, b[i]);
        b[i] = b[left - 1];
        cr_assert_eq(c_count(m), left - 1);
        cr_assert(ivm_map_valid(&heap, m));
    }
}

Test(map, keys_of_every_type) { keys_of_every_type(false); }
Test(map, set_keys_of_every_type) { keys_of_every_type(true); }

/* Key number i of a pool of mixed types, built anew at each call. */
static ivm_value pool_key(size_t i)
{
    char name[32];
    snprintf(name, sizeof name, "k%zu", i);
    switch (i % 7) {
    case 0: return fix((int64_t)i);
    case 1: return flt((double)i + 0.25);
    case 2: return str(name);
    case 3: return kw(name);
    case 4: return sym(name);
    case 5: return list2(fix((int64_t)i), str("x"));
    default: return ivm_int(&heap, IVM_FIXNUM_MAX + (int64_t)i);
    }
}

Test(map, random_ops_on_mixed_keys)
{
    enum { POOL = 3000, OPS = 30000 };
    static int64_t vals[POOL];
    memset(vals, 0xff, sizeof vals);
    size_t count = 0;
    ivm_value m = ivm_map_empty(&heap), t = IVM_NIL;
    for (size_t op = 0; op < OPS; op++) {
        size_t i = below(POOL);
        unsigned r = (unsigned)below(10);
        if (op % 1000 == 0) { /* alternate persistent and transient stretches */
            m = t == IVM_NIL ? m : tr_persistent(t);
            t = op % 2000 ? ivm_map_transient(&heap, m, 1) : IVM_NIL;
        }
        ivm_value v;
        if (r < 5) {
            int64_t x = random_value();
            count += vals[i] < 0;
            vals[i] = x;
            if (t == IVM_NIL)
                m = ivm_map_assoc(&heap, m, pool_key(i), fix(x));
            else
                tr_add(t, pool_key(i), fix(x));
        } else if (r < 8) {
            count -= vals[i] >= 0;
            vals[i] = -1;
            if (t == IVM_NIL)
                m = ivm_map_dissoc(&heap, m, pool_key(i));
            else
                tr_remove(t, pool_key(i));
        }
        bool found = t == IVM_NIL ? ivm_map_get(&heap, m, pool_key(i), &v)
                                  : tr_get(t, pool_key(i), &v);
        cr_assert_eq(found, vals[i] >= 0, "key %zu", i);
        if (found)
            cr_assert_eq(v, fix(vals[i]));
        cr_assert_eq(t == IVM_NIL ? ivm_map_count(m) : tr_count(t), count);
    }
    if (t != IVM_NIL)
        m = tr_persistent(t);
    cr_assert(ivm_map_valid(&heap, m));
    for (size_t i = 0; i < POOL; i++) {
        ivm_value v;
        cr_assert_eq(ivm_map_get(&heap, m, pool_key(i), &v), vals[i] >= 0);
    }
}

/* ---- Canonical layout -------------------------------------------------- */

/* Whether every pair ivm_map_equal_push left on w is equal; empties w. */
static bool pushed_pairs_equal(ivm_worklist *w)
{
    bool all = true;
    while (w->len > 0) {
        ivm_value b = ivm_worklist_pop(w), a = ivm_worklist_pop(w);
        all = all && ivm_equal(a, b);
    }
    return all;
}

typedef enum { SHAPE_DIFFERS, SHAPE_SAME_VALUES_DIFFER, EQUAL } comparison;

static comparison compare(ivm_value a, ivm_value b)
{
    ivm_worklist w;
    ivm_worklist_init(&w);
    comparison r = SHAPE_DIFFERS;
    if (ivm_map_equal_push(a, b, &w))
        r = pushed_pairs_equal(&w) ? EQUAL : SHAPE_SAME_VALUES_DIFFER;
    ivm_worklist_free(&w);
    return r;
}

static void shuffle(int64_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = below(i);
        int64_t x = a[i - 1];
        a[i - 1] = a[j];
        a[j] = x;
    }
}

/* The same `size` entries built four ways: inserted in one order; in
 * another through a transient mixed with extra keys removed afterwards; in
 * a third with the extras removed persistently; merged from two halves. */
static void canonical(bool set, size_t size, uint32_t (*hash)(ivm_value))
{
    heap.key_hash_for_tests = hash;
    size_t universe = 4 * size + 8, extra = size / 2 + 1;
    int64_t *keys = malloc(universe * sizeof *keys);
    for (size_t i = 0; i < universe; i++)
        keys[i] = (int64_t)i;
    shuffle(keys, universe); /* keys[0..size) go in, the next `extra` go away */
    int64_t *order = malloc((size + extra) * sizeof *order);

    ivm_value a = c_empty(set);
    memcpy(order, keys, size * sizeof *order);
    shuffle(order, size);
    for (size_t i = 0; i < size; i++)
        a = c_add(a, fix(order[i]), fix(3 * order[i]));

    memcpy(order, keys, (size + extra) * sizeof *order);
    shuffle(order, size + extra);
    ivm_value t = ivm_map_transient(&heap, c_empty(set), 1), c = c_empty(set);
    for (size_t i = 0; i < size + extra; i++) {
        tr_add(t, fix(order[i]), fix(3 * order[i]));
        c = c_add(c, fix(order[i]), fix(3 * order[i]));
    }
    for (size_t i = size; i < size + extra; i++) {
        tr_remove(t, fix(keys[i]));
        c = c_remove(c, fix(keys[i]));
    }
    ivm_value b = tr_persistent(t);

    ivm_value lo = c_empty(set), hi = c_empty(set);
    for (size_t i = 0; i < size; i++) {
        if (i % 2)
            lo = c_add(lo, fix(keys[i]), fix(3 * keys[i]));
        else
            hi = c_add(hi, fix(keys[i]), fix(3 * keys[i]));
    }
    ivm_value d = ivm_map_merge(&heap, lo, hi);

    ivm_value all[] = {a, b, c, d};
    for (int i = 0; i < 4; i++) {
        cr_assert(ivm_map_valid(&heap, all[i]));
        cr_assert_eq(c_count(all[i]), size);
        for (int j = 0; j < 4; j++)
            cr_assert_eq(compare(all[i], all[j]), EQUAL, "size %zu: %d vs %d", size, i, j);
    }

    /* One value changed: same shape, a pushed pair differs. One key
     * swapped for another: not equal. One key fewer: shapes differ. */
    if (!set)
        cr_assert_eq(compare(a, ivm_map_assoc(&heap, b, fix(keys[0]), fix(-1))),
                     SHAPE_SAME_VALUES_DIFFER);
    ivm_value swapped = c_add(c_remove(b, fix(keys[0])), fix(keys[size]), fix(3 * keys[size]));
    cr_assert_neq(compare(a, swapped), EQUAL);
    cr_assert_eq(compare(a, c_remove(b, fix(keys[0]))), SHAPE_DIFFERS);
    free(order);
    free(keys);
    heap.key_hash_for_tests = NULL;
}

Test(map, same_entries_same_shape)
{
    static const size_t sizes[] = {1, 2, 33, 1000, 20000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        canonical(false, sizes[i], NULL);
        canonical(true, sizes[i], NULL);
    }
}

Test(map, same_entries_same_shape_with_collisions)
{
    canonical(false, 300, hash_mod7);
    canonical(true, 300, hash_mod7);
    canonical(false, 40, hash_one);
    canonical(false, 3000, hash_thirds);
    canonical(true, 3000, hash_thirds);
    canonical(false, 1000, hash_high);
}

Test(map, equal_push_on_kinds_and_empties)
{
    ivm_value m = ivm_map_assoc(&heap, ivm_map_empty(&heap), fix(1), fix(1));
    ivm_value s = ivm_set_conj(&heap, ivm_set_empty(&heap), fix(1));
    cr_assert_eq(compare(m, s), SHAPE_DIFFERS);
    cr_assert_eq(compare(ivm_map_empty(&heap), ivm_map_empty(&heap)), EQUAL);
    cr_assert_eq(compare(ivm_set_empty(&heap), ivm_set_empty(&heap)), EQUAL);
    cr_assert_eq(compare(ivm_map_empty(&heap), ivm_set_empty(&heap)), SHAPE_DIFFERS);
    /* Root datamaps equal (empty), nodemaps not: {0 32} and {1 33} under
     * the identity hash, whose children have equal datamaps. */
    heap.key_hash_for_tests = hash_ident;
    ivm_value x = ivm_map_assoc(&heap, ivm_map_assoc(&heap, ivm_map_empty(&heap), fix(0), fix(0)),
                                fix(32), fix(0));
    ivm_value y = ivm_map_assoc(&heap, ivm_map_assoc(&heap, ivm_map_empty(&heap), fix(1), fix(0)),
                                fix(33), fix(0));
    cr_assert_eq(compare(x, y), SHAPE_DIFFERS);
    heap.key_hash_for_tests = NULL;
    /* An identical map pushes nothing. */
    ivm_worklist w;
    ivm_worklist_init(&w);
    cr_assert(ivm_map_equal_push(m, m, &w));
    cr_assert_eq(w.len, 0);
    ivm_worklist_free(&w);
}

/* ---- Transients -------------------------------------------------------- */

Test(map, transient_used_after_persistent_is_frozen)
{
    ivm_value t = ivm_map_transient(&heap, ivm_map_empty(&heap), 1);
    tr_add(t, fix(1), fix(2));
    ivm_value m = tr_persistent(t), v = IVM_NIL;
    bool found;
    uint64_t n;
    cr_assert_eq(ivm_tmap_assoc(&heap, t, 1, fix(3), fix(4)), IVM_TRANSIENT_FROZEN);
    cr_assert_eq(ivm_tmap_dissoc(&heap, t, 1, fix(1)), IVM_TRANSIENT_FROZEN);
    cr_assert_eq(ivm_tmap_get(&heap, t, 1, fix(1), &found, &v), IVM_TRANSIENT_FROZEN);
    cr_assert_eq(ivm_tmap_count(t, 1, &n), IVM_TRANSIENT_FROZEN);
    cr_assert_eq(ivm_tmap_persistent(&heap, t, 1, &v), IVM_TRANSIENT_FROZEN);
    cr_assert_eq(ivm_tmap_assoc(&heap, t, 2, fix(3), fix(4)), IVM_TRANSIENT_FROZEN);
    cr_assert_eq(ivm_map_count(m), 1);
    cr_assert(ivm_map_get(&heap, m, fix(1), &v) && v == fix(2));

    ivm_value ts = ivm_map_transient(&heap, ivm_set_empty(&heap), 1);
    cr_assert(ivm_is_transient_set(ts) && !ivm_is_transient_map(ts));
    cr_assert_eq(ivm_tset_conj(&heap, ts, 1, fix(5)), IVM_TRANSIENT_OK);
    ivm_value s = tr_persistent(ts);
    cr_assert_eq(ivm_tset_conj(&heap, ts, 1, fix(6)), IVM_TRANSIENT_FROZEN);
    cr_assert_eq(ivm_tset_disj(&heap, ts, 1, fix(5)), IVM_TRANSIENT_FROZEN);
    cr_assert_eq(ivm_tset_contains(&heap, ts, 1, fix(5), &found), IVM_TRANSIENT_FROZEN);
    cr_assert_eq(ivm_tmap_count(ts, 1, &n), IVM_TRANSIENT_FROZEN);
    cr_assert(ivm_is_set(s) && ivm_set_count(s) == 1 && ivm_set_contains(&heap, s, fix(5)));
}

Test(map, transient_of_another_owner_refuses)
{
    ivm_value m = ivm_map_empty(&heap);
    for (int64_t i = 0; i < 100; i++)
        m = ivm_map_assoc(&heap, m, fix(i), fix(i));
    ivm_value t = ivm_map_transient(&heap, m, 7), v = IVM_NIL;
    bool found;
    uint64_t n = 0;
    cr_assert_eq(ivm_tmap_assoc(&heap, t, 8, fix(1000), fix(1)), IVM_TRANSIENT_NOT_OWNER);
    cr_assert_eq(ivm_tmap_dissoc(&heap, t, 8, fix(1)), IVM_TRANSIENT_NOT_OWNER);
    cr_assert_eq(ivm_tmap_get(&heap, t, 8, fix(1), &found, &v), IVM_TRANSIENT_NOT_OWNER);
    cr_assert_eq(ivm_tmap_count(t, 8, &n), IVM_TRANSIENT_NOT_OWNER);
    cr_assert_eq(ivm_tmap_persistent(&heap, t, 8, &v), IVM_TRANSIENT_NOT_OWNER);
    cr_assert_eq(ivm_tmap_count(t, 7, &n), IVM_TRANSIENT_OK);
    cr_assert_eq(n, 100);
    cr_assert_eq(ivm_tmap_get(&heap, t, 7, fix(1), &found, &v), IVM_TRANSIENT_OK);
    cr_assert(found && v == fix(1));
    cr_assert_eq(ivm_tmap_persistent(&heap, t, 7, &v), IVM_TRANSIENT_OK);
    cr_assert_eq(v, m, "a transient that changed nothing gives its source back");
    cr_assert_eq(ivm_tmap_count(t, 8, &n), IVM_TRANSIENT_FROZEN);

    ivm_value ts = ivm_map_transient(&heap, ivm_set_empty(&heap), 7);
    cr_assert_eq(ivm_tset_conj(&heap, ts, 8, fix(1)), IVM_TRANSIENT_NOT_OWNER);
    cr_assert_eq(ivm_tset_disj(&heap, ts, 8, fix(1)), IVM_TRANSIENT_NOT_OWNER);
    cr_assert_eq(ivm_tset_contains(&heap, ts, 8, fix(1), &found), IVM_TRANSIENT_NOT_OWNER);
    cr_assert_eq(IVM_TRANSIENT_OK, 0);
    cr_assert_eq(IVM_TRANSIENT_FROZEN, 1);
    cr_assert_eq(IVM_TRANSIENT_NOT_OWNER, 2);
}

/* A copy of md changed by `ops` random transient operations on m. */
static ivm_value transient_burst(ivm_value m, model *md, size_t ops)
{
    ivm_value t = ivm_map_transient(&heap, m, 1);
    transient_steps(t, md, 6, ops, SIZE_MAX);
    return tr_persistent(t);
}

static void transients_leave_their_source_alone(bool set)
{
    model m0, m1, m2;
    size_t universe = 20000;
    model_init(&m0, universe, set);
    ivm_value base = transient_burst(c_empty(set), &m0, 10000);
    m1 = m0;
    m1.val = malloc(universe * sizeof *m1.val);
    memcpy(m1.val, m0.val, universe * sizeof *m1.val);
    ivm_value p1 = transient_burst(base, &m1, 20000);
    expect_contents(base, m0.val, universe, m0.count);
    expect_contents(p1, m1.val, universe, m1.count);
    /* A transient of the result, and persistent updates of it, leave it
     * alone too: its nodes carry a frozen transient's id. */
    m2 = m1;
    m2.val = malloc(universe * sizeof *m2.val);
    memcpy(m2.val, m1.val, universe * sizeof *m2.val);
    ivm_value p2 = transient_burst(p1, &m2, 20000);
    ivm_value q = p1;
    for (int64_t k = 0; k < 2000; k++)
        q = c_add(q, fix(k), fix(k + 1));
    expect_contents(base, m0.val, universe, m0.count);
    expect_contents(p1, m1.val, universe, m1.count);
    expect_contents(p2, m2.val, universe, m2.count);
    free(m0.val);
    free(m1.val);
    free(m2.val);
}

Test(map, transients_leave_their_source_alone) { transients_leave_their_source_alone(false); }
Test(map, set_transients_leave_their_source_alone) { transients_leave_their_source_alone(true); }

/* ---- Merge ------------------------------------------------------------- */

Test(map, merge_second_argument_wins)
{
    ivm_value a = ivm_map_empty(&heap), b = ivm_map_empty(&heap), v;
    for (int64_t i = 0; i < 100; i++)
        a = ivm_map_assoc(&heap, a, fix(i), fix(i));
    for (int64_t i = 50; i < 5050; i++)
        b = ivm_map_assoc(&heap, b, fix(i), fix(-i));
    ivm_value ab = ivm_map_merge(&heap, a, b), ba = ivm_map_merge(&heap, b, a);
    cr_assert(ivm_map_valid(&heap, ab) && ivm_map_valid(&heap, ba));
    cr_assert_eq(ivm_map_count(ab), 5050);
    cr_assert_eq(ivm_map_count(ba), 5050);
    for (int64_t i = 0; i < 5050; i++) {
        cr_assert(ivm_map_get(&heap, ab, fix(i), &v));
        cr_assert_eq(v, fix(i < 50 ? i : -i));
        cr_assert(ivm_map_get(&heap, ba, fix(i), &v));
        cr_assert_eq(v, fix(i < 100 ? i : -i));
    }
    cr_assert_eq(ivm_map_count(a), 100);
    cr_assert_eq(ivm_map_count(b), 5000);
    cr_assert(ivm_map_get(&heap, b, fix(60), &v) && v == fix(-60));
    cr_assert_eq(ivm_map_merge(&heap, a, ivm_map_empty(&heap)), a);
    cr_assert_eq(ivm_map_merge(&heap, ivm_map_empty(&heap), b), b);

    ivm_value s = ivm_set_empty(&heap), r = ivm_set_empty(&heap);
    for (int64_t i = 0; i < 300; i++) {
        s = ivm_set_conj(&heap, s, fix(i));
        r = ivm_set_conj(&heap, r, fix(i + 200));
    }
    ivm_value u = ivm_map_merge(&heap, s, r);
    cr_assert(ivm_is_set(u) && ivm_set_count(u) == 500 && ivm_map_valid(&heap, u));
}

/* ---- Iteration --------------------------------------------------------- */

Test(map, iteration_of_empty_and_of_sets)
{
    ivm_map_iter it;
    ivm_value k, v;
    ivm_map_iter_init(&it, ivm_map_empty(&heap));
    cr_assert(!ivm_map_iter_next(&it, &k, &v));
    ivm_value s = ivm_set_conj(&heap, ivm_set_empty(&heap), str("x"));
    ivm_map_iter_init(&it, s);
    cr_assert(ivm_map_iter_next(&it, &k, NULL));
    cr_assert(ivm_equal(k, str("x")));
    cr_assert(!ivm_map_iter_next(&it, &k, &v));
}

/* ---- Size -------------------------------------------------------------- */

Test(map, bytes_per_entry_of_a_million_integers)
{
    enum { N = 1000000 };
    uint64_t before = heap.arena->bytes_allocated;
    double t0 = now_s();
    ivm_value t = ivm_map_transient(&heap, ivm_map_empty(&heap), 1);
    for (int64_t i = 0; i < N; i++)
        tr_add(t, fix(i), fix(i));
    ivm_value m = tr_persistent(t);
    double t1 = now_s();
    uint64_t built = heap.arena->bytes_allocated - before;
    for (int64_t i = 0; i < N; i++) {
        ivm_value v;
        if (!ivm_map_get(&heap, m, fix(i), &v) || v != fix(i))
            cr_assert_fail("key %lld", (long long)i);
    }
    double t2 = now_s();

    before = heap.arena->bytes_allocated;
    ivm_value p = ivm_map_empty(&heap);
    for (int64_t i = 0; i < N; i++)
        p = ivm_map_assoc(&heap, p, fix(i), fix(i));
    double t3 = now_s();
    uint64_t built_p = heap.arena->bytes_allocated - before;
    cr_assert_eq(compare(m, p), EQUAL);

    before = heap.arena->bytes_allocated;
    ivm_value ts = ivm_map_transient(&heap, ivm_set_empty(&heap), 1);
    for (int64_t i = 0; i < N; i++)
        tr_add(ts, fix(i), IVM_NIL);
    ivm_value s = tr_persistent(ts);
    uint64_t built_s = heap.arena->bytes_allocated - before;

    double live = (double)ivm_map_node_bytes(m) / N, live_p = (double)ivm_map_node_bytes(p) / N;
    double live_s = (double)ivm_map_node_bytes(s) / N;
    cr_log_info("1M-entry integer map through a transient: %.1f bytes/entry allocated, "
                "%.1f in the final trie (%.0f ms build, %.0f ms to get every key)",
                (double)built / N, live, (t1 - t0) * 1e3, (t2 - t1) * 1e3);
    cr_log_info("1M-entry integer map by persistent assoc: %.1f bytes/entry allocated, "
                "%.1f in the final trie (%.0f ms)",
                (double)built_p / N, live_p, (t3 - t2) * 1e3);
    cr_log_info("1M-entry integer set through a transient: %.1f bytes/entry allocated, "
                "%.1f in the final trie",
                (double)built_s / N, live_s);
    cr_assert_leq(live, 40.0);
    cr_assert_leq((double)built / N, 80.0);
    cr_assert_eq(ivm_set_count(s), N);
}

/* ---- Array maps -------------------------------------------------------- */

/* How v prints (pr), as a malloc'd C string. */
static char *printed(ivm_value v)
{
    ivm_buf b = {0};
    ivm_print(&heap, &b, v, true);
    char *s = malloc(b.len + 1);
    memcpy(s, b.data, b.len);
    s[b.len] = 0;
    ivm_buf_free(&b);
    return s;
}

static void expect_printed(ivm_value v, const char *want)
{
    char *got = printed(v);
    cr_assert_str_eq(got, want);
    free(got);
}

static ivm_value assoc_fix(ivm_value m, int64_t k, int64_t v)
{
    return ivm_map_assoc(&heap, m, fix(k), fix(v));
}

static ivm_value kw_map(const char *const *keys, size_t n, int64_t first_val)
{
    ivm_value m = ivm_map_empty(&heap);
    for (size_t i = 0; i < n; i++)
        m = ivm_map_assoc(&heap, m, kw(keys[i]), fix(first_val + (int64_t)i));
    return m;
}

static const char *const nine[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};

/* Whether a and b are equal both ways, and hash alike when they are. */
static bool equal_both_ways(ivm_value a, ivm_value b)
{
    bool ab = ivm_equal(a, b), ba = ivm_equal(b, a);
    cr_assert_eq(ab, ba);
    if (ab)
        cr_assert_eq(ivm_hash(a), ivm_hash(b));
    return ab;
}

Test(map, array_map_keeps_insertion_order)
{
    static const char *const zyx[] = {"z", "y", "x"};
    ivm_value m = kw_map(zyx, 3, 1);
    cr_assert(ivm_is_array_map(m) && ivm_is_map(m) && ivm_map_valid(&heap, m));
    expect_printed(ivm_map_empty(&heap), "{}");
    expect_printed(m, "{:z 1, :y 2, :x 3}");
    /* Clojure: (assoc {:z 1 :y 2 :x 3} :y 20 :w 4) => {:z 1, :y 20, :x 3, :w 4} */
    ivm_value r = ivm_map_assoc(&heap, ivm_map_assoc(&heap, m, kw("y"), fix(20)), kw("w"), fix(4));
    expect_printed(r, "{:z 1, :y 20, :x 3, :w 4}");
    expect_printed(m, "{:z 1, :y 2, :x 3}");
    cr_assert(ivm_is_array_map(r) && ivm_map_valid(&heap, r) && ivm_map_count(r) == 4);
    /* The same value, an absent key: the same map. */
    cr_assert_eq(ivm_map_assoc(&heap, m, kw("y"), fix(2)), m);
    cr_assert_eq(ivm_map_dissoc(&heap, m, kw("q")), m);
    /* dissoc keeps the others in order: (dissoc (zipmap (range 8) (range 8)) 2) */
    ivm_value e = ivm_map_empty(&heap);
    for (int64_t i = 0; i < 8; i++)
        e = assoc_fix(e, i, i);
    cr_assert(ivm_is_array_map(e) && ivm_map_valid(&heap, e));
    ivm_value d = ivm_map_dissoc(&heap, e, fix(2));
    expect_printed(d, "{0 0, 1 1, 3 3, 4 4, 5 5, 6 6, 7 7}");
    expect_printed(ivm_map_dissoc(&heap, d, fix(0)), "{1 1, 3 3, 4 4, 5 5, 6 6, 7 7}");
    expect_printed(ivm_map_dissoc(&heap, d, fix(7)), "{0 0, 1 1, 3 3, 4 4, 5 5, 6 6}");
    expect_printed(e, "{0 0, 1 1, 2 2, 3 3, 4 4, 5 5, 6 6, 7 7}");
    /* Re-adding a removed key puts it last. */
    expect_printed(assoc_fix(d, 2, 9), "{0 0, 1 1, 3 3, 4 4, 5 5, 6 6, 7 7, 2 9}");
    ivm_value one = assoc_fix(ivm_map_empty(&heap), 5, 6);
    ivm_value none = ivm_map_dissoc(&heap, one, fix(5));
    cr_assert(ivm_is_array_map(none) && ivm_map_count(none) == 0 && ivm_map_valid(&heap, none));
    expect_printed(none, "{}");
    ivm_value v;
    cr_assert(ivm_map_get(&heap, r, kw("y"), &v) && v == fix(20));
    cr_assert(!ivm_map_get(&heap, r, kw("q"), &v));
}

Test(map, array_map_becomes_a_hash_map_at_the_ninth_key)
{
    ivm_value m8 = kw_map(nine, 8, 0);
    cr_assert(ivm_is_array_map(m8) && ivm_map_count(m8) == 8);
    expect_printed(m8, "{:a 0, :b 1, :c 2, :d 3, :e 4, :f 5, :g 6, :h 7}");
    /* Replacing a value in a full array map keeps it one. */
    ivm_value r8 = ivm_map_assoc(&heap, m8, kw("a"), fix(10));
    cr_assert(ivm_is_array_map(r8));
    expect_printed(r8, "{:a 10, :b 1, :c 2, :d 3, :e 4, :f 5, :g 6, :h 7}");
    /* Clojure: (zipmap [:a :b :c :d :e :f :g :h :i] (range)) */
    ivm_value m9 = ivm_map_assoc(&heap, m8, kw("i"), fix(8));
    cr_assert(!ivm_is_array_map(m9) && ivm_is_map(m9) && ivm_map_valid(&heap, m9));
    cr_assert_eq(ivm_map_count(m9), 9);
    expect_printed(m9, "{:e 4, :g 6, :c 2, :h 7, :b 1, :d 3, :f 5, :i 8, :a 0}");
    expect_printed(m8, "{:a 0, :b 1, :c 2, :d 3, :e 4, :f 5, :g 6, :h 7}");
    /* A hash map stays one as it shrinks. Clojure:
     * (dissoc (zipmap ...) :a :b :c :d :e :f) => {:g 6, :h 7, :i 8}, a
     * PersistentHashMap. */
    ivm_value s = m9;
    for (int i = 0; i < 6; i++)
        s = ivm_map_dissoc(&heap, s, kw(nine[i]));
    cr_assert(!ivm_is_array_map(s) && ivm_map_valid(&heap, s));
    expect_printed(s, "{:g 6, :h 7, :i 8}");
    ivm_value z = s;
    for (int i = 6; i < 9; i++)
        z = ivm_map_dissoc(&heap, z, kw(nine[i]));
    cr_assert(!ivm_is_array_map(z) && ivm_map_count(z) == 0 && ivm_map_valid(&heap, z));
    expect_printed(z, "{}");
    z = ivm_map_assoc(&heap, z, kw("a"), fix(1));
    cr_assert(!ivm_is_array_map(z) && ivm_map_count(z) == 1);
    /* A hashed empty map: Clojure's (apply hash-map (range 10)). */
    ivm_value hm = ivm_map_empty_hashed(&heap);
    cr_assert(ivm_is_map(hm) && !ivm_is_array_map(hm) && ivm_map_valid(&heap, hm));
    for (int64_t i = 0; i < 10; i += 2)
        hm = assoc_fix(hm, i, i + 1);
    expect_printed(hm, "{0 1, 4 5, 6 7, 2 3, 8 9}");
}

/* Clojure's transients of array maps: into, frequencies, dissoc!. */
Test(map, transient_array_maps)
{
    ivm_value src = ivm_map_empty(&heap);
    ivm_value t = ivm_map_transient(&heap, src, 1);
    for (int64_t i = 0; i < 8; i++)
        tr_add(t, fix(i), fix(i));
    cr_assert_eq(tr_count(t), 8);
    ivm_value v;
    cr_assert(tr_get(t, fix(7), &v) && v == fix(7));
    ivm_value m8 = tr_persistent(t);
    cr_assert(ivm_is_array_map(m8) && ivm_map_valid(&heap, m8));
    cr_assert_eq(ivm_map_count(src), 0);
    /* (persistent! (reduce conj! (transient {}) (map vector (range 8) (range)))) */
    expect_printed(m8, "{0 0, 1 1, 2 2, 3 3, 4 4, 5 5, 6 6, 7 7}");
    /* ... (dissoc! 2): the last entry fills the gap, as in Clojure. */
    t = ivm_map_transient(&heap, m8, 1);
    tr_remove(t, fix(2));
    ivm_value d = tr_persistent(t);
    expect_printed(d, "{0 0, 1 1, 7 7, 3 3, 4 4, 5 5, 6 6}");
    expect_printed(m8, "{0 0, 1 1, 2 2, 3 3, 4 4, 5 5, 6 6, 7 7}");
    cr_assert(ivm_is_array_map(d) && ivm_map_valid(&heap, d));
    /* (frequencies [1 1 2]) => {1 2, 2 1} */
    t = ivm_map_transient(&heap, ivm_map_empty(&heap), 1);
    int64_t xs[] = {1, 1, 2};
    for (int i = 0; i < 3; i++) {
        bool found = tr_get(t, fix(xs[i]), &v);
        tr_add(t, fix(xs[i]), fix(found ? ivm_fixnum_value(v) + 1 : 1));
    }
    ivm_value f = tr_persistent(t);
    cr_assert(ivm_is_array_map(f));
    expect_printed(f, "{1 2, 2 1}");
    /* The 9th key: a hash map, which stays one in the transient as it
     * shrinks. (into {} (map vector (range 20) (range 20))) */
    t = ivm_map_transient(&heap, ivm_map_empty(&heap), 1);
    for (int64_t i = 0; i < 20; i++)
        tr_add(t, fix(i), fix(i));
    ivm_value m20 = tr_persistent(t);
    cr_assert(!ivm_is_array_map(m20) && ivm_map_valid(&heap, m20));
    expect_printed(m20, "{0 0, 7 7, 1 1, 4 4, 15 15, 13 13, 6 6, 17 17, 3 3, 12 12, "
                        "2 2, 19 19, 11 11, 9 9, 5 5, 14 14, 16 16, 10 10, 18 18, 8 8}");
    t = ivm_map_transient(&heap, m8, 1);
    tr_add(t, fix(8), fix(8));
    for (int64_t i = 0; i < 7; i++)
        tr_remove(t, fix(i));
    ivm_value h2 = tr_persistent(t);
    cr_assert(!ivm_is_array_map(h2) && ivm_map_count(h2) == 2 && ivm_map_valid(&heap, h2));
    expect_printed(m8, "{0 0, 1 1, 2 2, 3 3, 4 4, 5 5, 6 6, 7 7}");
    /* Replacing values in place, in a transient of a full array map. */
    t = ivm_map_transient(&heap, m8, 1);
    for (int64_t i = 0; i < 8; i++)
        tr_add(t, fix(i), fix(-i));
    ivm_value neg = tr_persistent(t);
    cr_assert(ivm_is_array_map(neg));
    expect_printed(neg, "{0 0, 1 -1, 2 -2, 3 -3, 4 -4, 5 -5, 6 -6, 7 -7}");
    expect_printed(m8, "{0 0, 1 1, 2 2, 3 3, 4 4, 5 5, 6 6, 7 7}");
}

Test(map, array_and_hash_maps_with_equal_entries_are_equal)
{
    /* An array map and a hash map of the same entries, in another order. */
    ivm_value arr = ivm_map_empty(&heap), hm = ivm_map_empty_hashed(&heap);
    for (int64_t i = 0; i < 8; i++) {
        arr = assoc_fix(arr, i, 10 * i);
        hm = assoc_fix(hm, 7 - i, 10 * (7 - i));
    }
    cr_assert(ivm_is_array_map(arr) && !ivm_is_array_map(hm));
    cr_assert(equal_both_ways(arr, hm));
    cr_assert_eq(compare(arr, hm), EQUAL);
    /* Two array maps in different orders. */
    ivm_value rev = ivm_map_empty(&heap);
    for (int64_t i = 7; i >= 0; i--)
        rev = assoc_fix(rev, i, 10 * i);
    cr_assert(ivm_is_array_map(rev) && equal_both_ways(arr, rev));
    /* A value differs; a key differs; a key more. */
    cr_assert(!equal_both_ways(arr, assoc_fix(hm, 3, 0)));
    cr_assert_eq(compare(arr, assoc_fix(hm, 3, 0)), SHAPE_SAME_VALUES_DIFFER);
    cr_assert(!equal_both_ways(assoc_fix(ivm_map_dissoc(&heap, arr, fix(3)), 30, 30), hm));
    cr_assert(!equal_both_ways(ivm_map_dissoc(&heap, arr, fix(3)), hm));
    cr_assert(!equal_both_ways(arr, assoc_fix(arr, 100, 1)));
    /* After promotion and after dissoc back to 8 entries. */
    ivm_value m9 = assoc_fix(arr, 8, 80);
    cr_assert(!ivm_is_array_map(m9));
    ivm_value back = ivm_map_dissoc(&heap, m9, fix(8));
    cr_assert(!ivm_is_array_map(back) && equal_both_ways(back, arr) && equal_both_ways(back, rev));
    ivm_value back0 = ivm_map_dissoc(&heap, m9, fix(0)), arr0 = ivm_map_dissoc(&heap, arr, fix(0));
    cr_assert(!equal_both_ways(back0, arr0));
    cr_assert(equal_both_ways(back0, assoc_fix(arr0, 8, 80)));
    cr_assert(equal_both_ways(ivm_map_dissoc(&heap, back0, fix(8)), arr0));
    /* Empty maps of both kinds; a map is never a set. */
    ivm_value empty_h = ivm_map_dissoc(&heap, assoc_fix(ivm_map_empty_hashed(&heap), 1, 1), fix(1));
    cr_assert(equal_both_ways(ivm_map_empty(&heap), empty_h));
    cr_assert(equal_both_ways(ivm_map_empty(&heap), ivm_map_empty(&heap)));
    cr_assert(!equal_both_ways(ivm_map_empty(&heap), ivm_set_empty(&heap)));
    cr_assert(!equal_both_ways(assoc_fix(ivm_map_empty(&heap), 1, 1),
                               ivm_set_conj(&heap, ivm_set_empty(&heap), fix(1))));
    cr_assert_eq(compare(ivm_map_empty(&heap), ivm_set_empty(&heap)), SHAPE_DIFFERS);
    /* As values and keys of other maps, and with nested maps as values. */
    ivm_value outer_a = ivm_map_assoc(&heap, ivm_map_empty(&heap), arr, hm);
    ivm_value outer_b = ivm_map_assoc(&heap, ivm_map_empty_hashed(&heap), back, rev);
    cr_assert(equal_both_ways(outer_a, outer_b));
    ivm_value got;
    cr_assert(ivm_map_get(&heap, outer_b, rev, &got) && ivm_equal(got, arr));
    /* Keys of every type, both ways round. */
    ivm_value ka[32], kb[32];
    size_t n = make_keys(ka);
    make_keys(kb);
    for (size_t start = 0; start + 8 <= n; start += 8) {
        ivm_value a = ivm_map_empty(&heap), b = ivm_map_empty_hashed(&heap);
        for (size_t i = 0; i < 8; i++) {
            a = ivm_map_assoc(&heap, a, ka[start + i], fix((int64_t)i));
            b = ivm_map_assoc(&heap, b, kb[start + 7 - i], fix((int64_t)(7 - i)));
        }
        cr_assert(ivm_is_array_map(a) && ivm_map_valid(&heap, a));
        cr_assert(equal_both_ways(a, b), "keys from %zu", start);
    }
}

Test(map, merge_of_array_maps)
{
    static const char *const zy[] = {"z", "y"};
    ivm_value a = kw_map(zy, 1, 1); /* {:z 1} */
    ivm_value b = ivm_map_assoc(&heap, ivm_map_assoc(&heap, ivm_map_empty(&heap), kw("y"), fix(2)),
                                kw("z"), fix(3));
    /* Clojure: (merge {:z 1} {:y 2 :z 3}) => {:z 3, :y 2} */
    ivm_value m = ivm_map_merge(&heap, a, b);
    expect_printed(m, "{:z 3, :y 2}");
    cr_assert(ivm_is_array_map(m) && ivm_map_valid(&heap, m));
    expect_printed(a, "{:z 1}");
    /* Overflowing into a hash map, and merging into a big hash map. */
    ivm_value a8 = kw_map(nine, 8, 0), i1 = kw_map(nine + 8, 1, 8);
    ivm_value m9 = ivm_map_merge(&heap, a8, i1);
    cr_assert(!ivm_is_array_map(m9) && ivm_map_valid(&heap, m9));
    expect_printed(m9, "{:e 4, :g 6, :c 2, :h 7, :b 1, :d 3, :f 5, :i 8, :a 0}");
    ivm_value big = ivm_map_empty(&heap);
    for (int64_t i = 0; i < 20; i++)
        big = assoc_fix(big, i, i);
    ivm_value small = assoc_fix(assoc_fix(ivm_map_empty(&heap), 3, -3), 100, 1);
    ivm_value sb = ivm_map_merge(&heap, small, big), bs = ivm_map_merge(&heap, big, small), v;
    cr_assert(ivm_map_valid(&heap, sb) && ivm_map_valid(&heap, bs) && !ivm_is_array_map(sb));
    cr_assert(ivm_map_count(sb) == 21 && ivm_map_count(bs) == 21);
    cr_assert(ivm_map_get(&heap, sb, fix(3), &v) && v == fix(3));
    cr_assert(ivm_map_get(&heap, bs, fix(3), &v) && v == fix(-3));
    expect_clojure_order(sb);
    /* Empty sides: the other one, where that is what Clojure gives. */
    cr_assert_eq(ivm_map_merge(&heap, a, ivm_map_empty(&heap)), a);
    cr_assert_eq(ivm_map_merge(&heap, ivm_map_empty(&heap), b), b);
    cr_assert_eq(ivm_map_merge(&heap, ivm_map_empty(&heap), big), big);
    /* {} merged with a small hash map: an array map in its order. */
    ivm_value hm = assoc_fix(assoc_fix(ivm_map_empty_hashed(&heap), 2, 3), 0, 1);
    ivm_value e_hm = ivm_map_merge(&heap, ivm_map_empty(&heap), hm);
    cr_assert(ivm_is_array_map(e_hm) && equal_both_ways(e_hm, hm));
    ivm_value hm_e = ivm_map_merge(&heap, ivm_map_empty_hashed(&heap), b);
    cr_assert(!ivm_is_array_map(hm_e) && equal_both_ways(hm_e, b));
}

/* ---- Clojure's order --------------------------------------------------- */

/* The expected strings are what Clojure 1.11.1 prints (clojure -M file.clj
 * with the expression in each comment), checked on this machine. The
 * order comes from the hashes (hasheq, which ivm_hash follows) and the
 * rule in expect_clojure_order; nil comes first. */

static ivm_value set_of(const ivm_value *xs, size_t n)
{
    ivm_value t = ivm_map_transient(&heap, ivm_set_empty(&heap), 1);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(ivm_tset_conj(&heap, t, 1, xs[i]), IVM_TRANSIENT_OK);
    ivm_value s = tr_persistent(t);
    expect_clojure_order(s);
    cr_assert(ivm_map_valid(&heap, s));
    return s;
}

static ivm_value set_of_ints(int64_t from, int64_t to, int64_t step)
{
    ivm_value xs[64];
    size_t n = 0;
    for (int64_t i = from; i < to; i += step)
        xs[n++] = fix(i);
    return set_of(xs, n);
}

Test(map, hash_sets_iterate_in_clojures_order)
{
    /* (hash-set 1 2 3 33 65 100) */
    ivm_value xs[] = {fix(1), fix(2), fix(3), fix(33), fix(65), fix(100)};
    expect_printed(set_of(xs, 6), "#{65 1 33 100 3 2}");
    /* (into #{} (range 40)) */
    expect_printed(set_of_ints(0, 40, 1),
                   "#{0 7 20 27 1 24 39 4 15 21 31 32 33 13 22 36 29 6 28 25 34 17 3 12 "
                   "2 23 35 19 11 9 5 14 26 16 38 30 10 18 37 8}");
    /* (into #{} (map #(* % 1024) (range 40))) */
    expect_printed(set_of_ints(0, 40 * 1024, 1024),
                   "#{0 8192 4096 15360 28672 3072 22528 20480 14336 32768 34816 13312 "
                   "29696 19456 26624 35840 1024 30720 24576 7168 33792 39936 37888 "
                   "25600 11264 27648 18432 6144 12288 36864 21504 23552 9216 17408 5120 "
                   "38912 10240 2048 31744 16384}");
    /* (apply hash-set (range -5 5)) */
    expect_printed(set_of_ints(-5, 5, 1), "#{0 -4 1 -2 4 -1 -3 3 2 -5}");
    /* (into #{} (cons nil (range 10))): nil first */
    ivm_value ys[11] = {IVM_NIL};
    for (int i = 0; i < 10; i++)
        ys[i + 1] = fix(i);
    expect_printed(set_of(ys, 11), "#{nil 0 7 1 4 6 3 2 9 5 8}");
    /* (into #{} ["a" "b" "c" "foo" "bar" "baz" "qux" "quux" "corge" "grault"]) */
    const char *words[] = {"a", "b", "c", "foo", "bar", "baz", "qux", "quux", "corge", "grault"};
    ivm_value ws[10];
    for (int i = 0; i < 10; i++)
        ws[i] = str(words[i]);
    expect_printed(set_of(ws, 10),
                   "#{\"grault\" \"foo\" \"bar\" \"baz\" \"corge\" \"a\" \"b\" \"quux\" \"qux\" \"c\"}");
    /* (into #{} [nil "a" :a 'a 1 1.5 \c true false "" :ns/k]) */
    ivm_value mixed[] = {IVM_NIL, str("a"), kw("a"), sym("a"), fix(1), flt(1.5), ivm_char('c'),
                         IVM_TRUE, IVM_FALSE, str(""), kw("ns/k")};
    expect_printed(set_of(mixed, 11), "#{nil \"\" 1.5 \\c 1 a :ns/k true \"a\" false :a}");
}

Test(map, hash_maps_iterate_in_clojures_order)
{
    /* (into {} (map vector (cons nil (range 10)) (range))) */
    ivm_value t = ivm_map_transient(&heap, ivm_map_empty(&heap), 1);
    tr_add(t, IVM_NIL, fix(0));
    for (int64_t i = 0; i < 10; i++)
        tr_add(t, fix(i), fix(i + 1));
    ivm_value m = tr_persistent(t);
    expect_clojure_order(m);
    expect_printed(m, "{nil 0, 0 1, 7 8, 1 2, 4 5, 6 7, 3 4, 2 3, 9 10, 5 6, 8 9}");
    /* (into {} (map vector (range 0 3200 100) (range))): 32 entries, a
     * second level under most root positions */
    t = ivm_map_transient(&heap, ivm_map_empty(&heap), 1);
    for (int64_t i = 0; i < 32; i++)
        tr_add(t, fix(100 * i), fix(i));
    m = tr_persistent(t);
    expect_clojure_order(m);
    expect_printed(m, "{0 0, 2100 21, 3000 30, 2200 22, 1300 13, 300 3, 2900 29, 2400 24, "
                      "600 6, 1400 14, 1000 10, 3100 31, 2000 20, 2500 25, 500 5, 1800 18, "
                      "1700 17, 1900 19, 100 1, 1200 12, 800 8, 1600 16, 1500 15, 2800 28, "
                      "1100 11, 200 2, 2600 26, 2300 23, 900 9, 700 7, 400 4, 2700 27}");
    /* (hash-set [1 2] '(3) #{4} {5 6} 7): collections as keys */
    ivm_value inner_set = ivm_set_conj(&heap, ivm_set_empty(&heap), fix(4));
    ivm_value inner_map = assoc_fix(ivm_map_empty(&heap), 5, 6);
    ivm_value coll_keys[] = {list2(fix(1), fix(2)), ivm_cons_new(&heap, fix(3), IVM_EMPTY_LIST),
                             inner_set, inner_map, fix(7)};
    /* A list (1 2) hashes as the vector [1 2] does; it prints as a list. */
    expect_printed(set_of(coll_keys, 5), "#{7 (3) {5 6} #{4} (1 2)}");
}

/* Full collisions: "AaAa", "BBBB", "AaBB" and "BBAa" have one Java
 * hashCode, so one hasheq (295916583), in Clojure as here. Clojure's
 * collision nodes keep arrival order; its transients' disj! and dissoc!
 * move the last colliding entry into the gap:
 *   (let [s (into #{} ["AaAa" "BBBB" "AaBB" "BBAa" "x"])]
 *     s                                    #{"AaAa" "BBBB" "AaBB" "BBAa" "x"}
 *     (disj s "BBBB")                      #{"AaAa" "AaBB" "BBAa" "x"}
 *     (persistent! (disj! (transient s) "BBBB"))  #{"AaAa" "BBAa" "AaBB" "x"}
 *     (conj (disj s "BBBB") "BBBB"))       #{"AaAa" "AaBB" "BBAa" "BBBB" "x"}
 *   (let [m (hash-map "AaAa" 1 "BBBB" 2 "AaBB" 3 "BBAa" 4)]
 *     m                                    {"AaAa" 1, "BBBB" 2, "AaBB" 3, "BBAa" 4}
 *     (dissoc m "AaAa")                    {"BBBB" 2, "AaBB" 3, "BBAa" 4}
 *     (persistent! (dissoc! (transient m) "AaAa")))  {"BBAa" 4, "BBBB" 2, "AaBB" 3} */
Test(map, collisions_iterate_in_clojures_order)
{
    const char *words[] = {"AaAa", "BBBB", "AaBB", "BBAa", "x"};
    ivm_value ws[5];
    for (int i = 0; i < 5; i++)
        ws[i] = str(words[i]);
    cr_assert_eq(ivm_hash(ws[0]), 295916583u);
    cr_assert_eq(ivm_hash(ws[1]), 295916583u);
    ivm_value s = set_of(ws, 5);
    expect_printed(s, "#{\"AaAa\" \"BBBB\" \"AaBB\" \"BBAa\" \"x\"}");
    ivm_value s1 = ivm_set_disj(&heap, s, str("BBBB"));
    expect_printed(s1, "#{\"AaAa\" \"AaBB\" \"BBAa\" \"x\"}");
    ivm_value t = ivm_map_transient(&heap, s, 1);
    tr_remove(t, str("BBBB"));
    expect_printed(tr_persistent(t), "#{\"AaAa\" \"BBAa\" \"AaBB\" \"x\"}");
    expect_printed(ivm_set_conj(&heap, s1, str("BBBB")),
                   "#{\"AaAa\" \"AaBB\" \"BBAa\" \"BBBB\" \"x\"}");
    expect_printed(s, "#{\"AaAa\" \"BBBB\" \"AaBB\" \"BBAa\" \"x\"}");

    ivm_value m = ivm_map_empty_hashed(&heap);
    for (int i = 0; i < 4; i++)
        m = ivm_map_assoc(&heap, m, ws[i], fix(i + 1));
    expect_printed(m, "{\"AaAa\" 1, \"BBBB\" 2, \"AaBB\" 3, \"BBAa\" 4}");
    expect_printed(ivm_map_dissoc(&heap, m, str("AaAa")), "{\"BBBB\" 2, \"AaBB\" 3, \"BBAa\" 4}");
    t = ivm_map_transient(&heap, m, 1);
    tr_remove(t, str("AaAa"));
    expect_printed(tr_persistent(t), "{\"BBAa\" 4, \"BBBB\" 2, \"AaBB\" 3}");
}

/* ---- Array maps against an ordered model ------------------------------- */

/* Random persistent and transient operations on maps of keys 0..11,
 * checked against a list in Clojure's order: appended, replaced in place,
 * removed in order (persistent) or by moving the last entry into the gap
 * (transient), until a 9th key makes it a hash map for good. */
typedef struct ordered {
    int64_t k[16], v[16];
    size_t n;
    bool hashed;
} ordered;

static int ordered_find(const ordered *o, int64_t k)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->k[i] == k)
            return (int)i;
    return -1;
}

static void ordered_put(ordered *o, int64_t k, int64_t v)
{
    int i = ordered_find(o, k);
    if (i >= 0) {
        o->v[i] = v;
        return;
    }
    if (o->n == IVM_ARRAY_MAP_MAX)
        o->hashed = true;
    o->k[o->n] = k;
    o->v[o->n++] = v;
}

static void ordered_del(ordered *o, int64_t k, bool transient)
{
    int i = ordered_find(o, k);
    if (i < 0)
        return;
    if (transient && !o->hashed) {
        o->k[i] = o->k[o->n - 1];
        o->v[i] = o->v[o->n - 1];
    } else {
        memmove(o->k + i, o->k + i + 1, (o->n - (size_t)i - 1) * sizeof *o->k);
        memmove(o->v + i, o->v + i + 1, (o->n - (size_t)i - 1) * sizeof *o->v);
    }
    o->n--;
}

static void expect_ordered(ivm_value m, const ordered *o)
{
    cr_assert(ivm_map_valid(&heap, m));
    cr_assert_eq(ivm_is_array_map(m), !o->hashed);
    cr_assert_eq(ivm_map_count(m), o->n);
    ivm_map_iter it;
    ivm_map_iter_init(&it, m);
    ivm_value k, v;
    if (o->hashed) { /* the order is the hashes': just the contents */
        expect_clojure_order(m);
        size_t n = 0;
        while (ivm_map_iter_next(&it, &k, &v)) {
            int i = ordered_find(o, ivm_fixnum_value(k));
            cr_assert(i >= 0 && v == fix(o->v[i]));
            n++;
        }
        cr_assert_eq(n, o->n);
        return;
    }
    for (size_t i = 0; i < o->n; i++) {
        cr_assert(ivm_map_iter_next(&it, &k, &v));
        cr_assert_eq(k, fix(o->k[i]), "entry %zu", i);
        cr_assert_eq(v, fix(o->v[i]), "entry %zu", i);
    }
    cr_assert(!ivm_map_iter_next(&it, &k, &v));
}

Test(map, array_maps_against_an_ordered_model)
{
    for (int round = 0; round < 2000; round++) {
        ordered o = {.n = 0};
        ivm_value m = ivm_map_empty(&heap);
        ivm_value kept = m;
        ordered kept_o = o;
        for (int op = 0; op < 40; op++) {
            int64_t k = (int64_t)below(12), v = (int64_t)below(4);
            unsigned r = (unsigned)below(10);
            if (r < 5) {
                m = assoc_fix(m, k, v);
                ordered_put(&o, k, v);
            } else if (r < 8) {
                m = ivm_map_dissoc(&heap, m, fix(k));
                ordered_del(&o, k, false);
            } else {
                ivm_value t = ivm_map_transient(&heap, m, 1);
                for (size_t j = 1 + below(6); j > 0; j--) {
                    k = (int64_t)below(12);
                    if (below(2)) {
                        tr_add(t, fix(k), fix(v));
                        ordered_put(&o, k, v);
                    } else {
                        tr_remove(t, fix(k));
                        ordered_del(&o, k, true);
                    }
                    cr_assert_eq(tr_count(t), o.n);
                }
                m = tr_persistent(t);
            }
            expect_ordered(m, &o);
            if (op == 10) {
                kept = m;
                kept_o = o;
            }
        }
        expect_ordered(kept, &kept_o); /* old versions unchanged */
    }
}
