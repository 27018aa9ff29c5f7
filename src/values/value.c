/* Values: type table, construction, interning, equality and hashing.
 * Printing lives in print.c. */
#include "values/value.h"

#include "ivm/platform.h"
#include "values/function.h"
#include "values/map.h"
#include "values/regex.h"
#include "values/vector.h"
#include "values/walk.h"
#include "values/worklist.h"

/* ---- Types ------------------------------------------------------------- */

static const char *const type_names[IVM_T_COUNT] = {
    [IVM_T_NIL] = "nil",         [IVM_T_BOOL] = "boolean",
    [IVM_T_INT] = "integer",     [IVM_T_FLOAT] = "float",
    [IVM_T_CHAR] = "character",  [IVM_T_STRING] = "string",
    [IVM_T_BYTES] = "bytes",     [IVM_T_SYMBOL] = "symbol",
    [IVM_T_KEYWORD] = "keyword", [IVM_T_LIST] = "list",
    [IVM_T_PROTO] = "prototype", [IVM_T_FUNCTION] = "function",
    [IVM_T_VECTOR] = "vector",   [IVM_T_MAP] = "map",
    [IVM_T_SET] = "set",         [IVM_T_ATOM] = "atom",
    [IVM_T_PID] = "pid",         [IVM_T_TRANSIENT] = "transient",
    [IVM_T_EXCEPTION] = "exception", [IVM_T_REGEX] = "regex",
    [IVM_T_LAZY] = "lazy sequence",
};

const char *ivm_type_name(ivm_type t)
{
    return t < IVM_T_COUNT ? type_names[t] : "unknown";
}

ivm_type ivm_type_of(ivm_value v)
{
    if (ivm_is_fixnum(v))
        return IVM_T_INT;
    if (ivm_is_flonum(v))
        return IVM_T_FLOAT;
    if (v == IVM_NIL)
        return IVM_T_NIL;
    if (ivm_is_imm(v)) {
        switch (ivm_imm_sub(v)) {
        case IVM_IMM_TRUE:
        case IVM_IMM_FALSE: return IVM_T_BOOL;
        case IVM_IMM_EMPTY_LIST: return IVM_T_LIST;
        case IVM_IMM_CHAR: return IVM_T_CHAR;
        case IVM_IMM_NATIVE: return IVM_T_FUNCTION;
        case IVM_IMM_PID: return IVM_T_PID;
        default: return IVM_T_NIL;
        }
    }
    switch (ivm_obj_kind(v)) {
    case IVM_K_BOXED_INT: return IVM_T_INT;
    case IVM_K_BOXED_FLOAT: return IVM_T_FLOAT;
    case IVM_K_STRING: return IVM_T_STRING;
    case IVM_K_BYTES: return IVM_T_BYTES;
    case IVM_K_SYMBOL: return IVM_T_SYMBOL;
    case IVM_K_KEYWORD: return IVM_T_KEYWORD;
    case IVM_K_CONS: return IVM_T_LIST;
    case IVM_K_PROTO: return IVM_T_PROTO;
    case IVM_K_CLOSURE: case IVM_K_MULTIFN: return IVM_T_FUNCTION;
    case IVM_K_EXCEPTION: return IVM_T_EXCEPTION;
    case IVM_K_ATOM: return IVM_T_ATOM;
    case IVM_K_REGEX: return IVM_T_REGEX;
    case IVM_K_LAZY: return IVM_T_LAZY;
    case IVM_K_VEC: case IVM_K_VEC_SUB: return IVM_T_VECTOR;
    case IVM_K_MAP_ROOT: case IVM_K_ARRAY_MAP: return IVM_T_MAP;
    case IVM_K_SET_ROOT: return IVM_T_SET;
    case IVM_K_VEC_TRANSIENT: case IVM_K_MAP_TRANSIENT: case IVM_K_SET_TRANSIENT:
        return IVM_T_TRANSIENT;
    default: return IVM_T_NIL;
    }
}

/* ---- Layouts, for the collector ---------------------------------------- */

/* Kept beside the layouts in value.h, vector.h and map.h: 1 + raw words. */
const uint8_t ivm_kind_first_value[256] = {
    [IVM_K_CONS] = 2,             /* count | first, rest */
    [IVM_K_PROTO] = IVM_PROTO_LAYOUT,
    [IVM_K_CLOSURE] = 1,          /* proto, caps */
    [IVM_K_MULTIFN] = 1,          /* arities */
    [IVM_K_EXCEPTION] = 1,        /* message, data, cause */
    [IVM_K_ATOM] = 3,             /* id, owner | shared | cell */
    [IVM_K_REGEX] = 2,            /* id | pattern */
    [IVM_K_LAZY] = 1,             /* thunk, first, rest */
    [IVM_K_VEC] = 2,              /* count | root, tail */
    [IVM_K_VEC_NODE] = 2,         /* edit | slots */
    [IVM_K_VEC_SUB] = 3,          /* start, end | vec */
    [IVM_K_VEC_TRANSIENT] = 5,    /* edit, owner, count, shift | root, tail */
    [IVM_K_MAP_ROOT] = 4,         /* bitmaps, edit, count | slots */
    [IVM_K_SET_ROOT] = 4,
    [IVM_K_MAP_NODE] = 3,         /* bitmaps, edit | slots */
    [IVM_K_MAP_COLLISION] = 2,    /* edit | slots */
    [IVM_K_MAP_TRANSIENT] = 3,    /* owner, edit | root */
    [IVM_K_SET_TRANSIENT] = 3,
    [IVM_K_ARRAY_MAP] = 3,        /* edit, count | slots */
};

bool ivm_kind_is_value(unsigned kind)
{
    switch (kind) {
    case IVM_K_BOXED_INT: case IVM_K_BOXED_FLOAT: case IVM_K_STRING:
    case IVM_K_BYTES: case IVM_K_SYMBOL: case IVM_K_KEYWORD:
        return true;
    default:
        return kind < IVM_K_KIND_LIMIT && ivm_kind_first_value[kind] != 0;
    }
}

/* ---- Heap -------------------------------------------------------------- */

bool ivm_heap_init(ivm_heap *h, size_t arena_bytes, ivm_arena_mode mode)
{
    memset(h, 0, sizeof *h);
    h->bump.region = UINT32_MAX;
    h->owner = true;
    ivm_heap_shared *sh = h->shared = ivm_platform_calloc(1, sizeof *sh);
    if (!sh)
        return false;
    h->arena = &sh->arena;
    sh->interned.capacity = 1024;
    sh->interned.slots = ivm_platform_calloc(sh->interned.capacity, sizeof(ivm_value));
    sh->intern_lock = ivm_platform_mutex_new();
    sh->regexes = ivm_regex_cache_new();
    if (!sh->interned.slots || !sh->intern_lock || !sh->regexes ||
        !ivm_arena_init(&sh->arena, arena_bytes, mode)) {
        ivm_heap_destroy(h);
        return false;
    }
    return true;
}

void ivm_heap_init_thread(ivm_heap *h, const ivm_heap *main)
{
    *h = *main;
    h->owner = false;
    h->bump = (ivm_bump){.region = UINT32_MAX};
}

void ivm_heap_destroy(ivm_heap *h)
{
    ivm_heap_shared *sh = h->shared;
    ivm_arena_bump_destroy(&h->bump);
    if (h->owner && sh) {
        ivm_platform_free(sh->interned.slots);
        if (sh->intern_lock)
            ivm_platform_mutex_free(sh->intern_lock);
        ivm_regex_cache_free(sh->regexes);
        if (sh->arena.base)
            ivm_arena_destroy(&sh->arena);
        ivm_platform_free(sh);
    }
    memset(h, 0, sizeof *h);
}

ivm_value ivm_int_box(ivm_heap *h, int64_t i)
{
    ivm_boxed_int *b = ivm_heap_alloc(h, IVM_K_BOXED_INT, 0, sizeof *b);
    b->i = i;
    return (ivm_value)(uintptr_t)b;
}

ivm_value ivm_float_box(ivm_heap *h, double d)
{
    ivm_boxed_float *b = ivm_heap_alloc(h, IVM_K_BOXED_FLOAT, 0, sizeof *b);
    b->d = d;
    return (ivm_value)(uintptr_t)b;
}

/* ---- Clojure's Murmur3 (clojure.lang.Murmur3), on 32-bit words --------- */

static uint32_t rotl32(uint32_t x, unsigned r) { return (x << r) | (x >> (32 - r)); }
static uint32_t mix_k1(uint32_t k1) { return rotl32(k1 * 0xcc9e2d51u, 15) * 0x1b873593u; }
static uint32_t mix_h1(uint32_t h1, uint32_t k1)
{
    return rotl32(h1 ^ k1, 13) * 5 + 0xe6546b64u;
}
static uint32_t fmix(uint32_t h1, uint32_t length)
{
    h1 ^= length;
    h1 ^= h1 >> 16;
    h1 *= 0x85ebca6bu;
    h1 ^= h1 >> 13;
    h1 *= 0xc2b2ae35u;
    h1 ^= h1 >> 16;
    return h1;
}
static uint32_t hash_int32(uint32_t x) { return x == 0 ? 0 : fmix(mix_h1(0, mix_k1(x)), 4); }
static uint32_t hash_long(int64_t i)
{
    if (i == 0)
        return 0;
    uint64_t u = (uint64_t)i;
    uint32_t h1 = mix_h1(0, mix_k1((uint32_t)u));
    h1 = mix_h1(h1, mix_k1((uint32_t)(u >> 32)));
    return fmix(h1, 8);
}
static uint32_t mix_coll_hash(uint32_t hash, uint32_t count)
{
    return fmix(mix_h1(0, mix_k1(hash)), count);
}

uint32_t ivm_utf8_next(const uint8_t **p)
{
    const uint8_t *s = *p;
    uint32_t c = s[0];
    if (c < 0x80) { *p = s + 1; return c; }
    if (c < 0xe0) { *p = s + 2; return ((c & 0x1f) << 6) | (s[1] & 0x3f); }
    if (c < 0xf0) {
        *p = s + 3;
        return ((c & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
    }
    *p = s + 4;
    return ((c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
           ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
}

bool ivm_utf16_next(ivm_utf16_cursor *c, uint32_t *unit)
{
    if (c->low) { *unit = c->low; c->low = 0; return true; }
    if (c->p >= c->end) return false;
    uint32_t cp = ivm_utf8_next(&c->p);
    if (cp < 0x10000) { *unit = cp; return true; }
    cp -= 0x10000;
    *unit = 0xd800 + (cp >> 10);
    c->low = 0xdc00 + (cp & 0x3ff);
    return true;
}

/* java.lang.String.hashCode */
static uint32_t java_string_hash(const uint8_t *s, size_t len)
{
    ivm_utf16_cursor c = {s, s + len, 0};
    uint32_t h = 0, unit;
    while (ivm_utf16_next(&c, &unit))
        h = 31 * h + unit;
    return h;
}

/* clojure.lang.Murmur3.hashUnencodedChars */
static uint32_t hash_unencoded_chars(const uint8_t *s, size_t len)
{
    ivm_utf16_cursor c = {s, s + len, 0};
    uint32_t h1 = 0, n = 0, a, b;
    while (ivm_utf16_next(&c, &a)) {
        n++;
        if (!ivm_utf16_next(&c, &b)) {
            h1 ^= mix_k1(a);
            break;
        }
        n++;
        h1 = mix_h1(h1, mix_k1(a | (b << 16)));
    }
    return fmix(h1, 2 * n);
}

/* clojure.lang.Util.hashCombine; Java's >> on an int is arithmetic. */
static uint32_t hash_combine(uint32_t seed, uint32_t hash)
{
    return seed ^ (hash + 0x9e3779b9u + (seed << 6) + (uint32_t)((int32_t)seed >> 2));
}

/* Symbol.hasheq: hashCombine(hashUnencodedChars(name), ns.hashCode()) */
static uint32_t symbol_hash(const uint8_t *s, size_t len, uint32_t ns_len)
{
    if (ns_len == 0)
        return hash_combine(hash_unencoded_chars(s, len), 0);
    return hash_combine(hash_unencoded_chars(s + ns_len + 1, len - ns_len - 1),
                        java_string_hash(s, ns_len));
}

/* ---- Strings and interned names ---------------------------------------- */

bool ivm_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint32_t min, cp;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xe0) == 0xc0) { n = 1; min = 0x80; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { n = 2; min = 0x800; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { n = 3; min = 0x10000; cp = c & 0x07; }
        else return false;
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

size_t ivm_utf8_char_len(const char *p, const char *end)
{
    uint8_t c = (uint8_t)*p;
    size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    if ((size_t)(end - p) < n || !ivm_utf8_valid((const uint8_t *)p, n))
        return 0;
    return n;
}

static uint32_t count_code_points(const uint8_t *s, size_t len)
{
    uint32_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += (s[i] & 0xc0) != 0x80;
    return n;
}

static ivm_str *new_str(ivm_heap *h, unsigned kind, const void *bytes, size_t len)
{
    ivm_str *s = ivm_heap_alloc(h, kind, 0, sizeof(ivm_str) + len + 1);
    s->len = (uint32_t)len;
    s->reserved = 0;
    memcpy(s->bytes, bytes, len);
    s->bytes[len] = 0;
    return s;
}

ivm_value ivm_string(ivm_heap *h, const void *bytes, size_t len)
{
    ivm_str *s = new_str(h, IVM_K_STRING, bytes, len);
    s->hash = hash_int32(java_string_hash(s->bytes, len));
    s->aux = count_code_points(s->bytes, len);
    return (ivm_value)(uintptr_t)s;
}

ivm_value ivm_bytes(ivm_heap *h, const void *bytes, size_t len)
{
    ivm_str *s = new_str(h, IVM_K_BYTES, bytes, len);
    uint32_t hash = 1;
    for (size_t i = 0; i < len; i++)
        hash = 31 * hash + hash_long((int8_t)s->bytes[i]);
    s->hash = mix_coll_hash(hash, (uint32_t)len);
    s->aux = 0;
    return (ivm_value)(uintptr_t)s;
}

/* The namespace part of "ns/name" is everything before the first '/',
 * unless the name is "/" itself or the slash is the first byte. */
static uint32_t namespace_length(const uint8_t *s, size_t len)
{
    for (size_t i = 1; i + 1 < len; i++)
        if (s[i] == '/')
            return (uint32_t)i;
    return 0;
}

static uint32_t name_hash(unsigned kind, const uint8_t *s, size_t len)
{
    uint32_t h = symbol_hash(s, len, namespace_length(s, len));
    return kind == IVM_K_KEYWORD ? h + 0x9e3779b9u : h;
}

static bool intern_matches(ivm_value v, unsigned kind, const void *name, size_t len)
{
    ivm_str *s = ivm_as_str(v);
    return ivm_obj_kind(v) == kind && s->len == len && memcmp(s->bytes, name, len) == 0;
}

static void intern_grow(ivm_intern_table *t)
{
    uint32_t cap = t->capacity * 2;
    ivm_value *slots = ivm_platform_calloc(cap, sizeof *slots);
    if (!slots)
        ivm_platform_exit(70);
    for (uint32_t i = 0; i < t->capacity; i++) {
        ivm_value v = t->slots[i];
        if (!v)
            continue;
        uint32_t j = ivm_as_str(v)->hash & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = v;
    }
    ivm_platform_free(t->slots);
    t->slots = slots;
    t->capacity = cap;
}

static ivm_value intern(ivm_heap *h, unsigned kind, const void *name, size_t len)
{
    ivm_intern_table *t = &h->shared->interned;
    uint32_t hash = name_hash(kind, name, len);
    ivm_platform_mutex_lock(h->shared->intern_lock);
    uint32_t mask = t->capacity - 1;
    uint32_t i = hash & mask;
    for (; t->slots[i]; i = (i + 1) & mask)
        if (ivm_as_str(t->slots[i])->hash == hash &&
            intern_matches(t->slots[i], kind, name, len)) {
            ivm_value found = t->slots[i];
            ivm_platform_mutex_unlock(h->shared->intern_lock);
            return found;
        }
    ivm_str *s = new_str(h, kind, name, len);
    s->hash = hash;
    s->aux = namespace_length(s->bytes, len);
    ivm_value v = (ivm_value)(uintptr_t)s;
    t->slots[i] = v;
    if (++t->count * 4 > t->capacity * 3)
        intern_grow(t);
    ivm_platform_mutex_unlock(h->shared->intern_lock);
    return v;
}

ivm_value ivm_symbol(ivm_heap *h, const void *name, size_t len)
{
    return intern(h, IVM_K_SYMBOL, name, len);
}

ivm_value ivm_keyword(ivm_heap *h, const void *name, size_t len)
{
    return intern(h, IVM_K_KEYWORD, name, len);
}

/* ---- Exceptions -------------------------------------------------------- */

ivm_value ivm_exception_new(ivm_heap *h, ivm_value message, ivm_value data,
                            ivm_value cause)
{
    ivm_exception *e = ivm_heap_alloc(h, IVM_K_EXCEPTION, 0, sizeof *e);
    e->message = message;
    e->data = data;
    e->cause = cause;
    return (ivm_value)(uintptr_t)e;
}

ivm_value ivm_atom_new(ivm_heap *h, uint64_t id, uint32_t owner, bool shared,
                       ivm_value value)
{
    ivm_atom *a = ivm_heap_alloc(h, IVM_K_ATOM, 0, sizeof *a);
    a->id = id;
    a->owner = owner;
    a->shared = shared;
    a->cell = shared ? value : IVM_NIL;
    return (ivm_value)(uintptr_t)a;
}

/* ---- Lazy sequences ----------------------------------------------------- */

ivm_value ivm_lazy_new(ivm_heap *h, ivm_value thunk)
{
    ivm_lazy *l = ivm_heap_alloc(h, IVM_K_LAZY, 0, sizeof *l);
    l->thunk = thunk;
    l->first = IVM_NIL;
    l->rest = IVM_UNBOUND;
    return (ivm_value)(uintptr_t)l;
}

ivm_value ivm_lazy_cons(ivm_heap *h, ivm_value first, ivm_value rest)
{
    ivm_lazy *l = ivm_heap_alloc(h, IVM_K_LAZY, 0, sizeof *l);
    l->thunk = IVM_NIL;
    l->first = first;
    l->rest = rest;
    return (ivm_value)(uintptr_t)l;
}

bool (*ivm_lazy_force_hook)(ivm_value node);

bool ivm_lazy_force(ivm_value node)
{
    if (ivm_lazy_realized(node))
        return true;
    return ivm_lazy_force_hook && ivm_lazy_force_hook(node);
}

/* ---- Lists ------------------------------------------------------------- */

ivm_value ivm_cons_new(ivm_heap *h, ivm_value first, ivm_value rest)
{
    ivm_cons *c = ivm_heap_alloc(h, IVM_K_CONS, 0, sizeof *c);
    c->first = first;
    c->rest = rest;
    c->count = ivm_list_count(rest) + 1;
    return (ivm_value)(uintptr_t)c;
}

/* ---- Equality ---------------------------------------------------------- */

/* Prototypes are equal when they have the same shape and code (their
 * constants and names are compared by the caller's walk). */
static bool proto_same_code(ivm_proto *x, ivm_proto *y)
{
    return x->nparams == y->nparams && x->flags == y->flags &&
           x->nregs == y->nregs && x->ncaps == y->ncaps &&
           x->ncode == y->ncode && x->nconsts == y->nconsts &&
           memcmp(ivm_proto_code(x), ivm_proto_code(y), 4 * (size_t)x->ncode) == 0 &&
           memcmp(ivm_proto_caps(x), ivm_proto_caps(y),
                  sizeof(ivm_capture) * x->ncaps) == 0;
}

static bool str_equal(ivm_value a, ivm_value b)
{
    ivm_str *x = ivm_as_str(a), *y = ivm_as_str(b);
    return x->len == y->len && x->hash == y->hash &&
           memcmp(x->bytes, y->bytes, x->len) == 0;
}

/* Compares two values of which at most one is a collection (walk.h): the
 * whole answer, except for functions and prototypes, whose parts it pushes
 * onto w for the caller's walk. */
static bool leaf_equal(ivm_value a, ivm_value b, ivm_worklist *w)
{
    if (a == b && !ivm_is_kind(a, IVM_K_BOXED_FLOAT))
        return true;
    ivm_type ta = ivm_type_of(a);
    if (ta != ivm_type_of(b))
        return false;
    switch (ta) {
    case IVM_T_INT: return ivm_int_value(a) == ivm_int_value(b);
    case IVM_T_FLOAT: return ivm_float_value(a) == ivm_float_value(b);
    case IVM_T_STRING: case IVM_T_BYTES: case IVM_T_SYMBOL: case IVM_T_KEYWORD:
        return str_equal(a, b);
    case IVM_T_ATOM: return ivm_as_atom(a)->id == ivm_as_atom(b)->id;
    case IVM_T_REGEX: return ivm_as_regex(a)->id == ivm_as_regex(b)->id; /* regex.h */
    case IVM_T_PROTO: {
        ivm_proto *x = ivm_as_proto(a), *y = ivm_as_proto(b);
        if (!proto_same_code(x, y))
            return false;
        ivm_worklist_push2(w, x->name, y->name);
        for (uint32_t i = 0; i < x->nconsts; i++)
            ivm_worklist_push2(w, ivm_proto_consts(x)[i], ivm_proto_consts(y)[i]);
        return true;
    }
    case IVM_T_EXCEPTION: { /* compared by their parts, as values */
        ivm_exception *x = ivm_as_exception(a), *y = ivm_as_exception(b);
        ivm_worklist_push2(w, x->message, y->message);
        ivm_worklist_push2(w, x->data, y->data);
        ivm_worklist_push2(w, x->cause, y->cause);
        return true;
    }
    case IVM_T_FUNCTION: { /* natives are equal only to themselves */
        if (ivm_is_native(a) || ivm_is_native(b))
            return false;
        if (ivm_is_kind(a, IVM_K_MULTIFN) || ivm_is_kind(b, IVM_K_MULTIFN)) {
            if (!ivm_is_kind(a, IVM_K_MULTIFN) || !ivm_is_kind(b, IVM_K_MULTIFN) ||
                ivm_multifn_count(a) != ivm_multifn_count(b))
                return false;
            for (uint32_t i = 0; i < ivm_multifn_count(a); i++)
                ivm_worklist_push2(w, ivm_as_multifn(a)->arities[i], ivm_as_multifn(b)->arities[i]);
            return true;
        }
        ivm_closure *x = ivm_as_closure(a), *y = ivm_as_closure(b);
        if (ivm_as_proto(x->proto)->ncaps != ivm_as_proto(y->proto)->ncaps)
            return false;
        ivm_worklist_push2(w, x->proto, y->proto);
        for (uint32_t i = 0; i < ivm_as_proto(x->proto)->ncaps; i++)
            ivm_worklist_push2(w, x->caps[i], y->caps[i]);
        return true;
    }
    default: /* nil, booleans, chars, an empty list: equal only if identical */
        return false;
    }
}

/* Compares two lists or vectors element by element, deciding leaves at
 * once and pushing pairs of collections for later. */
static bool sequential_equal(ivm_value a, ivm_value b, ivm_worklist *w)
{
    if (ivm_sequential_count(a) != ivm_sequential_count(b))
        return false;
    ivm_cursor ca, cb;
    ivm_cursor_init(&ca, a);
    ivm_cursor_init(&cb, b);
    ivm_value x, y, unused;
    while (ivm_cursor_next(&ca, &x, &unused) && ivm_cursor_next(&cb, &y, &unused)) {
        if (ivm_walk_kind_of(x) != IVM_WALK_LEAF || ivm_walk_kind_of(y) != IVM_WALK_LEAF)
            ivm_worklist_push2(w, x, y);
        else if (!leaf_equal(x, y, w))
            return false;
    }
    return true;
}

/* One pair of the walk: decided, or split into pairs pushed onto w. */
static bool step_equal(ivm_value a, ivm_value b, ivm_worklist *w)
{
    if (a == b && !ivm_is_kind(a, IVM_K_BOXED_FLOAT))
        return true; /* identical: even a collection holding NaN is = itself */
    ivm_walk_kind ka = ivm_walk_kind_of(a), kb = ivm_walk_kind_of(b);
    if (ka == IVM_WALK_LEAF || kb == IVM_WALK_LEAF)
        return leaf_equal(a, b, w);
    if (ivm_is_sequential(ka) && ivm_is_sequential(kb))
        return sequential_equal(a, b, w);
    if (ka == kb) /* two maps or two sets */
        return ivm_map_equal_push(a, b, w);
    return false;
}

bool ivm_equal(ivm_value a, ivm_value b)
{
    ivm_worklist w;
    ivm_worklist_init(&w);
    bool result = step_equal(a, b, &w);
    while (result && w.len) {
        b = ivm_worklist_pop(&w);
        a = ivm_worklist_pop(&w);
        result = step_equal(a, b, &w);
    }
    ivm_worklist_free(&w);
    return result;
}

/* ---- Hashing ----------------------------------------------------------- */

static uint32_t hash_double(double d)
{
    if (d == 0.0)
        return 0; /* -0.0 = 0.0 */
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return (uint32_t)(bits ^ (bits >> 32));
}

/* The hash of a value that is not a collection (a leaf of the walk below). */
static uint32_t hash_leaf(ivm_value v)
{
    switch (ivm_type_of(v)) {
    case IVM_T_NIL: return 0;
    case IVM_T_BOOL: return v == IVM_TRUE ? 1231 : 1237;
    case IVM_T_INT: return hash_long(ivm_int_value(v));
    case IVM_T_FLOAT: return hash_double(ivm_float_value(v));
    case IVM_T_CHAR: return ivm_imm_payload(v);
    case IVM_T_PID: return hash_int32(ivm_imm_payload(v));
    case IVM_T_ATOM: return hash_long((int64_t)ivm_as_atom(v)->id);
    case IVM_T_STRING: case IVM_T_BYTES: case IVM_T_SYMBOL: case IVM_T_KEYWORD:
        return ivm_as_str(v)->hash;
    case IVM_T_EXCEPTION: return hash_combine(ivm_hash(ivm_as_exception(v)->message), 0x45);
    case IVM_T_REGEX: return hash_combine(ivm_regex_pattern(v)->hash, 0x52); /* regex.h */
    case IVM_T_FUNCTION:
    case IVM_T_PROTO: {
        if (ivm_is_native(v))
            return hash_int32(ivm_imm_payload(v) + 1);
        /* a closure hashes as its prototype, which equal closures share in
         * value */
        ivm_proto *p = ivm_as_proto(ivm_function_proto(v));
        uint32_t name = p->name ? ivm_as_str(p->name)->hash : 0;
        return hash_combine(hash_combine(name, p->ncode), p->nconsts);
    }
    default: return 0;
    }
}

/* Collections hash as Clojure's: lists, vectors and map entries with
 * hashOrdered, sets and maps (over their entries) with hashUnordered. The
 * walk keeps one frame per collection being hashed. */
typedef struct hash_frame {
    ivm_cursor cursor;
    uint32_t hash; /* running: 31h + x for ordered, h + x for unordered */
    uint32_t count;
} hash_frame;

static void hash_frame_start(ivm_frame_stack *s, ivm_value coll)
{
    hash_frame *f = ivm_frames_push(s);
    ivm_cursor_init(&f->cursor, coll);
    f->hash = ivm_is_sequential(f->cursor.kind) ? 1 : 0;
    f->count = 0;
}

static void hash_frame_add(hash_frame *f, uint32_t h)
{
    bool ordered = ivm_is_sequential(f->cursor.kind) || f->cursor.kind == IVM_WALK_PAIR;
    f->hash = ordered ? 31 * f->hash + h : f->hash + h;
    f->count++;
}

uint32_t ivm_hash(ivm_value v)
{
    if (ivm_walk_kind_of(v) == IVM_WALK_LEAF)
        return hash_leaf(v);
    ivm_frame_stack s;
    ivm_frames_init(&s, sizeof(hash_frame));
    hash_frame_start(&s, v);
    for (;;) {
        hash_frame *f = ivm_frames_top(&s);
        ivm_value x, y;
        if (!ivm_cursor_next(&f->cursor, &x, &y)) {
            uint32_t h = mix_coll_hash(f->hash, f->count);
            ivm_frames_pop(&s);
            if (s.len == 0) {
                ivm_frames_free(&s);
                return h;
            }
            hash_frame_add(ivm_frames_top(&s), h);
        } else if (f->cursor.kind == IVM_WALK_MAP) {
            hash_frame *e = ivm_frames_push(&s); /* the entry [x y] */
            ivm_cursor_init_pair(&e->cursor, x, y);
            e->hash = 1;
            e->count = 0;
        } else if (ivm_walk_kind_of(x) == IVM_WALK_LEAF) {
            hash_frame_add(f, hash_leaf(x));
        } else {
            hash_frame_start(&s, x);
        }
    }
}

void ivm_frames_grow(ivm_frame_stack *s)
{
    size_t cap = s->cap * 2;
    char *items = ivm_platform_malloc(cap * s->size);
    if (!items)
        ivm_platform_exit(70);
    memcpy(items, s->items, s->len * s->size);
    ivm_frames_free(s);
    s->items = items;
    s->cap = cap;
}

void ivm_worklist_grow(ivm_worklist *w)
{
    size_t cap = w->cap * 2;
    ivm_value *items = ivm_platform_malloc(cap * sizeof *items);
    if (!items)
        ivm_platform_exit(70);
    memcpy(items, w->items, w->len * sizeof *items);
    ivm_worklist_free(w);
    w->items = items;
    w->cap = cap;
}
