/* Values (src/values): the tagged word (fixnums and boxed integers at the
 * 62-bit boundary and at int64's limits, flonums and boxed floats including
 * 0.0, -0.0, subnormals, infinities and NaN payloads), Clojure's `=`,
 * hashes that agree with it and match Clojure's hasheq (computed here by an
 * independent transcription of clojure.lang.Murmur3 and Util with Java's
 * int semantics), EDN printing (pr and print) with floats as Java's
 * Double.toString, and iterative walks over a 1,000,000-deep list. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "values/value.h"

static ivm_heap heap;

static void setup(void) { cr_assert(ivm_heap_init(&heap, (size_t)256 << 20, IVM_ARENA_LAZY)); }
static void teardown(void) { ivm_heap_destroy(&heap); }

TestSuite(values, .init = setup, .fini = teardown);

static ivm_value str(const char *s) { return ivm_string(&heap, s, strlen(s)); }
static ivm_value sym(const char *s) { return ivm_symbol(&heap, s, strlen(s)); }
static ivm_value kw(const char *s) { return ivm_keyword(&heap, s, strlen(s)); }
static ivm_value num(int64_t i) { return ivm_int(&heap, i); }
static ivm_value flt(double d) { return ivm_float(&heap, d); }
static ivm_value cons(ivm_value a, ivm_value d) { return ivm_cons_new(&heap, a, d); }

/* (list a b c ...) from a NULL-free array */
static ivm_value list(size_t n, const ivm_value *items)
{
    ivm_value l = IVM_EMPTY_LIST;
    for (size_t i = n; i-- > 0;)
        l = cons(items[i], l);
    return l;
}
#define LIST(...) list(sizeof((ivm_value[]){__VA_ARGS__}) / sizeof(ivm_value), (ivm_value[]){__VA_ARGS__})

static char *pr(ivm_value v)
{
    ivm_buf b = {0};
    ivm_print(&heap, &b, v, true);
    char *s = t_strndup(b.data ? b.data : "", b.len);
    ivm_buf_free(&b);
    return s;
}

static char *prn(ivm_value v) /* print, not readably */
{
    ivm_buf b = {0};
    ivm_print(&heap, &b, v, false);
    char *s = t_strndup(b.data ? b.data : "", b.len);
    ivm_buf_free(&b);
    return s;
}

static uint64_t bits_of(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* ---- Tagging ----------------------------------------------------------- */

Test(values, fixnums_and_boxed_integers_round_trip)
{
    static const int64_t cases[] = {
        0, 1, -1, 42, -42, 32767, -32768,
        IVM_FIXNUM_MAX, IVM_FIXNUM_MIN, IVM_FIXNUM_MAX - 1, IVM_FIXNUM_MIN + 1,
        IVM_FIXNUM_MAX + 1, IVM_FIXNUM_MIN - 1, IVM_FIXNUM_MAX + 2, IVM_FIXNUM_MIN - 2,
        INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1,
        (int64_t)1 << 62, -((int64_t)1 << 62), ((int64_t)1 << 62) + 12345,
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t x = cases[i];
        ivm_value v = num(x);
        bool fits = x >= IVM_FIXNUM_MIN && x <= IVM_FIXNUM_MAX;
        cr_assert_eq(ivm_is_fixnum(v), fits, "%lld: fixnum iff it fits 63 bits", (long long)x);
        cr_assert_eq(ivm_is_obj(v), !fits, "%lld: boxed iff it does not fit", (long long)x);
        cr_assert(ivm_is_int(v));
        cr_assert_not(ivm_is_float(v));
        cr_assert_eq(ivm_type_of(v), IVM_T_INT);
        cr_assert_eq(ivm_int_value(v), x, "%lld round trips", (long long)x);
        cr_assert_str_eq(pr(v), t_fmt("%lld", (long long)x));
    }
    cr_assert_eq(IVM_FIXNUM_MAX, ((int64_t)1 << 62) - 1);
    cr_assert_eq(IVM_FIXNUM_MIN, -((int64_t)1 << 62));
    /* random fixnums: the encoding is value * 2 + 1 */
    uint64_t s = 88172645463325252u;
    for (int i = 0; i < 100000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        int64_t x = (int64_t)s >> 1;
        ivm_value v = num(x);
        cr_assert_eq(ivm_int_value(v), x);
        if (ivm_is_fixnum(v))
            cr_assert_eq(v, ((uint64_t)x << 1) | 1);
    }
}

Test(values, floats_round_trip_bit_for_bit)
{
    static const double cases[] = {
        0.0, -0.0, 1.0, -1.0, 0.1, 1.5, -2.5, 3.141592653589793, 1e10, 1e-10,
        1e77, 1e-77, 1e300, -1e300, 5e-324, -5e-324, 2.2250738585072014e-308,
        1.7976931348623157e308, INFINITY, -INFINITY,
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ivm_value v = flt(cases[i]);
        cr_assert(ivm_is_float(v));
        cr_assert_not(ivm_is_int(v));
        cr_assert_eq(ivm_type_of(v), IVM_T_FLOAT);
        cr_assert_eq(bits_of(ivm_float_value(v)), bits_of(cases[i]), "%a round trips", cases[i]);
    }
    /* flonums cover exponents near 1.0 and +0.0; the rest are boxed */
    cr_assert(ivm_is_flonum(flt(0.0)));
    cr_assert(ivm_is_flonum(flt(1.0)));
    cr_assert(ivm_is_flonum(flt(-1.0)));
    cr_assert(ivm_is_flonum(flt(0.1)));
    cr_assert(ivm_is_flonum(flt(1e10)));
    cr_assert(ivm_is_flonum(flt(-2.5)));
    cr_assert(ivm_is_obj(flt(-0.0)));
    cr_assert(ivm_is_obj(flt(1e300)));
    cr_assert(ivm_is_obj(flt(5e-324)));
    cr_assert(ivm_is_obj(flt(INFINITY)));
    cr_assert(ivm_is_obj(flt(NAN)));
    /* the bit pattern flonum +0.0 borrows is boxed, and still round trips */
    ivm_value odd = flt(from_bits(0x3000000000000000u));
    cr_assert(ivm_is_obj(odd));
    cr_assert_eq(bits_of(ivm_float_value(odd)), 0x3000000000000000u);
    cr_assert_eq(ivm_float_value(flt(0.0)), 0.0);
    cr_assert_not(signbit(ivm_float_value(flt(0.0))));
    cr_assert(signbit(ivm_float_value(flt(-0.0))));
    /* NaNs keep their payload and sign */
    static const uint64_t nans[] = {0x7ff8000000000000u, 0x7ff0000000000001u,
                                    0xfff8000000000000u, 0x7ff8dead0000beefu};
    for (size_t i = 0; i < 4; i++) {
        ivm_value v = flt(from_bits(nans[i]));
        cr_assert_eq(bits_of(ivm_float_value(v)), nans[i]);
    }
    /* every bit pattern round trips (random ones plus the flonum edges) */
    uint64_t s = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 200000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        uint64_t b = s;
        if (i % 4 == 1) /* bias towards the flonum range */
            b = (b & 0x8fffffffffffffffu) | ((uint64_t)(3 + (i & 1)) << 60);
        ivm_value v = flt(from_bits(b));
        cr_assert_eq(bits_of(ivm_float_value(v)), b, "bits %016llx", (unsigned long long)b);
    }
    static const uint64_t edges[] = {0x3000000000000001u, 0x4fffffffffffffffu,
                                     0x2fffffffffffffffu, 0x5000000000000000u,
                                     0xb000000000000000u, 0xcfffffffffffffffu};
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq(bits_of(ivm_float_value(flt(from_bits(edges[i])))), edges[i]);
}

Test(values, immediates)
{
    cr_assert_eq(ivm_type_of(IVM_NIL), IVM_T_NIL);
    cr_assert_eq(ivm_type_of(IVM_TRUE), IVM_T_BOOL);
    cr_assert_eq(ivm_type_of(IVM_FALSE), IVM_T_BOOL);
    cr_assert_eq(ivm_type_of(IVM_EMPTY_LIST), IVM_T_LIST);
    cr_assert_eq(ivm_type_of(ivm_char(0x1F600)), IVM_T_CHAR);
    cr_assert_eq(ivm_imm_payload(ivm_char(0x10ffff)), 0x10ffff);
    cr_assert_eq(ivm_type_of(str("x")), IVM_T_STRING);
    cr_assert_eq(ivm_type_of(sym("x")), IVM_T_SYMBOL);
    cr_assert_eq(ivm_type_of(kw("x")), IVM_T_KEYWORD);
    cr_assert_eq(ivm_type_of(ivm_bytes(&heap, "x", 1)), IVM_T_BYTES);
    cr_assert_eq(ivm_type_of(cons(IVM_NIL, IVM_EMPTY_LIST)), IVM_T_LIST);
    cr_assert_not(ivm_truthy(IVM_NIL));
    cr_assert_not(ivm_truthy(IVM_FALSE));
    cr_assert(ivm_truthy(IVM_TRUE));
    cr_assert(ivm_truthy(num(0)));
    cr_assert(ivm_truthy(IVM_EMPTY_LIST));
    cr_assert(ivm_truthy(str("")));
    cr_assert_eq(ivm_as_str(str("h\xc3\xa9llo \xf0\x9f\x98\x80"))->aux, 7, "code points");
    cr_assert_eq(ivm_list_count(LIST(num(1), num(2), num(3))), 3);
    cr_assert_eq(ivm_list_count(IVM_EMPTY_LIST), 0);
}

/* ---- Equality ---------------------------------------------------------- */

static void assert_equal(ivm_value a, ivm_value b)
{
    cr_assert(ivm_equal(a, b), "expected (= %s %s)", pr(a), pr(b));
    cr_assert(ivm_equal(b, a), "expected (= %s %s)", pr(b), pr(a));
    cr_assert_eq(ivm_hash(a), ivm_hash(b), "equal values %s and %s hash differently",
                 pr(a), pr(b));
}

static void assert_unequal(ivm_value a, ivm_value b)
{
    cr_assert_not(ivm_equal(a, b), "expected (not= %s %s)", pr(a), pr(b));
    cr_assert_not(ivm_equal(b, a), "expected (not= %s %s)", pr(b), pr(a));
}

Test(values, equality_of_numbers)
{
    assert_equal(num(1), num(1));
    assert_unequal(num(1), flt(1.0));
    assert_unequal(num(0), flt(0.0));
    assert_unequal(num(1), num(2));
    assert_equal(num(INT64_MAX), num(INT64_MAX)); /* two separate boxes */
    assert_equal(num(INT64_MIN), num(INT64_MIN));
    assert_unequal(num(INT64_MAX), num(INT64_MIN));
    assert_unequal(num(IVM_FIXNUM_MAX), num(IVM_FIXNUM_MAX + 1));
    assert_equal(flt(1.5), flt(1.5));
    assert_equal(flt(1e300), flt(1e300));
    assert_equal(flt(0.0), flt(-0.0));
    assert_equal(flt(INFINITY), flt(INFINITY));
    assert_unequal(flt(INFINITY), flt(-INFINITY));
    ivm_value nan = flt(NAN);
    cr_assert_not(ivm_equal(nan, nan), "NaN is not = to itself");
    assert_unequal(nan, flt(NAN));
    /* a boxed float equals the flonum of the same value */
    assert_equal(ivm_float_box(&heap, 1.0), flt(1.0));
    assert_equal(ivm_float_box(&heap, 0.0), flt(-0.0));
    assert_unequal(ivm_float_box(&heap, 1.0), num(1));
}

Test(values, equality_of_other_values)
{
    assert_equal(IVM_NIL, IVM_NIL);
    assert_unequal(IVM_NIL, IVM_FALSE);
    assert_unequal(IVM_NIL, IVM_EMPTY_LIST);
    assert_unequal(IVM_TRUE, IVM_FALSE);
    assert_equal(ivm_char('a'), ivm_char('a'));
    assert_unequal(ivm_char('a'), ivm_char('b'));
    assert_unequal(ivm_char('a'), str("a"));
    assert_equal(str("abc"), str("abc"));
    assert_equal(str(""), str(""));
    assert_equal(str("h\xc3\xa9"), str("h\xc3\xa9"));
    assert_unequal(str("abc"), str("abd"));
    assert_unequal(str("abc"), str("ab"));
    assert_unequal(str("abc"), sym("abc"));
    assert_unequal(sym("abc"), kw("abc"));
    assert_unequal(str("ab"), ivm_bytes(&heap, "ab", 2));
    assert_equal(ivm_bytes(&heap, "a\0b", 3), ivm_bytes(&heap, "a\0b", 3));
    cr_assert_eq(sym("foo"), sym("foo"), "symbols are interned");
    cr_assert_eq(kw("ns/foo"), kw("ns/foo"), "keywords are interned");
    cr_assert_neq(sym("foo"), kw("foo"));
    assert_equal(sym("a/b"), sym("a/b"));
    assert_unequal(sym("a/b"), sym("a/c"));
}

Test(values, equality_of_lists)
{
    assert_equal(IVM_EMPTY_LIST, IVM_EMPTY_LIST);
    assert_equal(LIST(num(1), num(2), num(3)), LIST(num(1), num(2), num(3)));
    assert_unequal(LIST(num(1), num(2), num(3)), LIST(num(1), num(2)));
    assert_unequal(LIST(num(1), num(2)), LIST(num(1), num(3)));
    assert_unequal(LIST(num(1)), LIST(flt(1.0)));
    assert_unequal(LIST(IVM_NIL), IVM_EMPTY_LIST);
    assert_unequal(LIST(IVM_EMPTY_LIST), IVM_EMPTY_LIST);
    assert_equal(LIST(LIST(num(1)), num(2), LIST(LIST(str("x")), IVM_EMPTY_LIST)),
                 LIST(LIST(num(1)), num(2), LIST(LIST(str("x")), IVM_EMPTY_LIST)));
    assert_unequal(LIST(LIST(num(1)), num(2)), LIST(LIST(flt(1.0)), num(2)));
    assert_unequal(LIST(LIST(num(1), num(2))), LIST(num(1), num(2)));
    assert_equal(LIST(num(INT64_MAX), flt(-0.0)), LIST(num(INT64_MAX), flt(0.0)));
    ivm_value nan = flt(NAN);
    /* two lists holding the same NaN differ, as the NaNs do */
    assert_unequal(LIST(num(1), nan), LIST(num(1), nan));
}

/* Interning survives the table's growth: thousands of names, looked up
 * again, give the same words. */
Test(values, interning_many_names)
{
    static ivm_value syms[5000], kws[5000];
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "name-%d", i);
        syms[i] = sym(name);
        kws[i] = kw(name);
        cr_assert_neq(syms[i], kws[i]);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "name-%d", i);
        cr_assert_eq(sym(name), syms[i], "symbol %s re-interned as another object", name);
        cr_assert_eq(kw(name), kws[i], "keyword %s re-interned as another object", name);
        cr_assert_str_eq(pr(syms[i]), name);
    }
    cr_assert_geq(heap.shared->interned.count, 10000);
}

/* ---- Hashing: an independent transcription of Clojure's -------------- */

static int32_t rotl(int32_t x, int r) { return (int32_t)(((uint32_t)x << r) | ((uint32_t)x >> (32 - r))); }
static int32_t imul(int32_t a, int32_t b) { return (int32_t)((uint32_t)a * (uint32_t)b); }
static int32_t iadd(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
/* Java's >> on int is arithmetic, >>> logical */
static int32_t sra(int32_t x, int r) { return x < 0 ? ~(int32_t)(~(uint32_t)x >> r) : (int32_t)((uint32_t)x >> r); }
static int32_t srl(int32_t x, int r) { return (int32_t)((uint32_t)x >> r); }

static int32_t mixK1(int32_t k1)
{
    k1 = imul(k1, (int32_t)0xcc9e2d51);
    k1 = rotl(k1, 15);
    return imul(k1, 0x1b873593);
}
static int32_t mixH1(int32_t h1, int32_t k1)
{
    h1 ^= k1;
    h1 = rotl(h1, 13);
    return iadd(imul(h1, 5), (int32_t)0xe6546b64);
}
static int32_t fmix(int32_t h1, int32_t length)
{
    h1 ^= length;
    h1 ^= srl(h1, 16);
    h1 = imul(h1, (int32_t)0x85ebca6b);
    h1 ^= srl(h1, 13);
    h1 = imul(h1, (int32_t)0xc2b2ae35);
    h1 ^= srl(h1, 16);
    return h1;
}
static int32_t hashInt(int32_t input)
{
    if (input == 0)
        return 0;
    return fmix(mixH1(0, mixK1(input)), 4);
}
static int32_t hashLong(int64_t input)
{
    if (input == 0)
        return 0;
    int32_t low = (int32_t)(uint32_t)(uint64_t)input;
    int32_t high = (int32_t)(uint32_t)((uint64_t)input >> 32);
    int32_t h1 = mixH1(0, mixK1(low));
    h1 = mixH1(h1, mixK1(high));
    return fmix(h1, 8);
}
static int32_t mixCollHash(int32_t hash, int32_t count)
{
    return fmix(mixH1(0, mixK1(hash)), count);
}
/* UTF-16 code units of a UTF-8 string */
static size_t utf16(const char *s, uint16_t *out)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c;
        if (*p < 0x80) c = *p++;
        else if (*p < 0xe0) { c = (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f); p += 2; }
        else if (*p < 0xf0) { c = (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f); p += 3; }
        else { c = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 | (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f); p += 4; }
        if (c >= 0x10000) {
            c -= 0x10000;
            out[n++] = (uint16_t)(0xd800 + (c >> 10));
            out[n++] = (uint16_t)(0xdc00 + (c & 0x3ff));
        } else {
            out[n++] = (uint16_t)c;
        }
    }
    return n;
}
static int32_t javaStringHashCode(const char *s)
{
    uint16_t u[256];
    size_t n = utf16(s, u);
    int32_t h = 0;
    for (size_t i = 0; i < n; i++)
        h = iadd(imul(31, h), u[i]);
    return h;
}
static int32_t hashUnencodedChars(const char *s)
{
    uint16_t u[256];
    int32_t len = (int32_t)utf16(s, u);
    int32_t h1 = 0;
    for (int32_t i = 1; i < len; i += 2) {
        int32_t k1 = (int32_t)((uint32_t)u[i - 1] | ((uint32_t)u[i] << 16));
        h1 = mixH1(h1, mixK1(k1));
    }
    if (len & 1)
        h1 ^= mixK1(u[len - 1]);
    return fmix(h1, 2 * len);
}
/* clojure.lang.Util.hashCombine: `seed >> 2` is an int shift in Java */
static int32_t hashCombine(int32_t seed, int32_t hash)
{
    seed ^= iadd(iadd(iadd(hash, (int32_t)0x9e3779b9), (int32_t)((uint32_t)seed << 6)), sra(seed, 2));
    return seed;
}
/* Symbol.hasheq: hashCombine(hashUnencodedChars(name), Util.hash(ns)) */
static int32_t symbolHasheq(const char *ns, const char *name)
{
    return hashCombine(hashUnencodedChars(name), ns ? javaStringHashCode(ns) : 0);
}
static int32_t doubleHashCode(double d)
{
    uint64_t b = bits_of(d);
    return (int32_t)(uint32_t)(b ^ (b >> 32));
}

static int32_t h(ivm_value v) { return (int32_t)ivm_hash(v); }

Test(values, hash_reference_implementation_sanity)
{
    /* values printed by a Clojure REPL: the transcription above is right */
    cr_assert_eq(hashLong(1), 1392991556);
    cr_assert_eq(javaStringHashCode("hello"), 99162322);
}

Test(values, hash_of_scalars_matches_clojure)
{
    cr_assert_eq(h(IVM_NIL), 0);
    cr_assert_eq(h(IVM_TRUE), 1231);
    cr_assert_eq(h(IVM_FALSE), 1237);
    cr_assert_eq(h(num(1)), 1392991556);
    static const int64_t ints[] = {0, 1, -1, 2, 42, -42, 1000000, IVM_FIXNUM_MAX,
                                   IVM_FIXNUM_MIN, IVM_FIXNUM_MAX + 1, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        cr_assert_eq(h(num(ints[i])), hashLong(ints[i]), "(hash %lld)", (long long)ints[i]);
    static const double dbls[] = {1.0, 1.5, -2.5, 0.1, 1e300, 5e-324, INFINITY};
    for (size_t i = 0; i < sizeof dbls / sizeof dbls[0]; i++)
        cr_assert_eq(h(flt(dbls[i])), doubleHashCode(dbls[i]), "(hash %g)", dbls[i]);
    cr_assert_eq(h(flt(0.0)), 0);
    cr_assert_eq(h(flt(-0.0)), h(flt(0.0)), "-0.0 = 0.0, so their hashes agree");
    cr_assert_eq(h(ivm_char('a')), 97);
    cr_assert_eq(h(ivm_char(0xe9)), 0xe9);
}

Test(values, hash_of_strings_matches_clojure)
{
    static const char *const cases[] = {"", "a", "ab", "abc", "hello", "Hello, world!",
                                        "h\xc3\xa9llo", "\xf0\x9f\x98\x80", "x\xf0\x9f\x98\x80y"};
    cr_assert_eq(h(str("a")), 1455541201); /* Clojure's (hash "a") */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(h(str(cases[i])), hashInt(javaStringHashCode(cases[i])),
                     "(hash \"%s\")", cases[i]);
}

Test(values, hash_of_symbols_and_keywords_matches_clojure)
{
    static const char *const names[] = {"a", "b", "x", "foo", "bar", "println", "map",
                                        "+", "*command-line-args*", "hello-world", "\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int32_t want = symbolHasheq(NULL, names[i]);
        cr_assert_eq(h(sym(names[i])), want, "(hash '%s): got %d, Clojure gives %d",
                     names[i], h(sym(names[i])), want);
        cr_assert_eq(h(kw(names[i])), iadd(want, (int32_t)0x9e3779b9),
                     "(hash :%s): got %d, Clojure gives %d", names[i], h(kw(names[i])),
                     iadd(want, (int32_t)0x9e3779b9));
    }
    cr_assert_eq(h(sym("clojure.core/map")), symbolHasheq("clojure.core", "map"));
    cr_assert_eq(h(sym("my.ns/x")), symbolHasheq("my.ns", "x"));
    cr_assert_eq(h(kw("my.ns/x")), iadd(symbolHasheq("my.ns", "x"), (int32_t)0x9e3779b9));
    /* "/" alone is a name, not a namespace separator */
    cr_assert_eq(h(sym("/")), symbolHasheq(NULL, "/"));
}

Test(values, hash_of_lists_matches_clojure)
{
    cr_assert_eq(h(IVM_EMPTY_LIST), mixCollHash(1, 0));
    int32_t h123 = 1;
    for (int i = 1; i <= 3; i++)
        h123 = iadd(imul(31, h123), hashLong(i));
    cr_assert_eq(h(LIST(num(1), num(2), num(3))), mixCollHash(h123, 3));
    /* ((1) "a" ()) */
    int32_t inner = mixCollHash(iadd(31, hashLong(1)), 1);
    int32_t acc = 1;
    acc = iadd(imul(31, acc), inner);
    acc = iadd(imul(31, acc), hashInt(javaStringHashCode("a")));
    acc = iadd(imul(31, acc), mixCollHash(1, 0));
    cr_assert_eq(h(LIST(LIST(num(1)), str("a"), IVM_EMPTY_LIST)), mixCollHash(acc, 3));
}

/* ---- Printing ---------------------------------------------------------- */

Test(values, print_floats_as_java)
{
    static const struct { double d; const char *text; } cases[] = {
        {1.0, "1.0"}, {0.1, "0.1"}, {1e10, "1.0E10"}, {1e-4, "1.0E-4"},
        {0.001, "0.001"}, {1234567.0, "1234567.0"}, {1e7, "1.0E7"},
        {9999999.0, "9999999.0"}, {-0.0, "-0.0"}, {0.0, "0.0"}, {1.5, "1.5"},
        {-2.5, "-2.5"}, {100.0, "100.0"}, {0.30000000000000004, "0.30000000000000004"},
        {12345678.9, "1.23456789E7"}, {1e300, "1.0E300"}, {-1e-300, "-1.0E-300"},
        {123.456, "123.456"}, {0.00123, "0.00123"}, {9.0e-4, "9.0E-4"},
        {1.7976931348623157e308, "1.7976931348623157E308"}, {1e21, "1.0E21"},
        {1e23, "1.0E23"}, {3.141592653589793, "3.141592653589793"},
        {INFINITY, "##Inf"}, {-INFINITY, "##-Inf"}, {NAN, "##NaN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_str_eq(pr(flt(cases[i].d)), cases[i].text, "%.17g printed as %s, not %s",
                         cases[i].d, pr(flt(cases[i].d)), cases[i].text);
        cr_assert_str_eq(prn(flt(cases[i].d)), cases[i].text);
    }
}

/* For random doubles: the printed text reads back as the same double, is
 * plain (with a digit after the point) exactly for 1e-3 <= |d| < 1e7 and
 * computerized (D.DDDE[-]N) otherwise, with at most 17 significant
 * digits. */
Test(values, printed_floats_read_back)
{
    uint64_t s = 0x853c49e6748fea9bu;
    for (int i = 0; i < 100000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        double d;
        if (i % 3 == 0) /* uniform bit patterns */
            d = from_bits(s);
        else if (i % 3 == 1) /* near the plain/scientific boundaries */
            d = ldexp((double)(s >> 11), -53) * (i & 4 ? 1e7 : 1e-3) * (i & 8 ? 1 : 10);
        else /* integers and short decimals */
            d = (double)(int64_t)(s % 2000000001) / (double)(1 + s % 1000);
        if (isnan(d) || isinf(d))
            continue;
        char *text = pr(flt(d));
        char buf[64];
        cr_assert_lt(strlen(text), sizeof buf);
        strcpy(buf, text);
        char *e = strchr(buf, 'E');
        double a = fabs(d);
        bool plain = a >= 1e-3 && a < 1e7;
        if (plain || d == 0) {
            cr_assert_null(e, "%s should be plain", text);
        } else {
            cr_assert_not_null(e, "%.17g printed as %s, expected D.DDDE[-]N", d, text);
            *e = 'e';
            cr_assert(e[1] == '-' || (e[1] >= '0' && e[1] <= '9'), "%s", text);
        }
        char *dot = strchr(buf, '.');
        cr_assert(dot && dot[1] >= '0' && dot[1] <= '9', "%s has no digit after a point", text);
        if (!plain && d != 0)
            cr_assert(dot - buf == 1 + (d < 0), "%s: one digit before the point", text);
        int digits = 0;
        bool leading = true;
        for (char *c = buf; *c && *c != 'e'; c++)
            if (*c >= '0' && *c <= '9') {
                if (*c != '0')
                    leading = false;
                digits += !leading;
            }
        cr_assert_leq(digits, 18, "%s", text);
        cr_assert_eq(bits_of(strtod(buf, NULL)), bits_of(d), "%.17g printed as %s, which reads back as %.17g",
                     d, text, strtod(buf, NULL));
    }
}

/* Java prints Double.MIN_VALUE as 4.9E-324 (its digit selection prefers
 * the two-digit decimal closest to the value over the one-digit 5E-324). */
Test(values, print_min_subnormal_as_java)
{
    cr_assert_str_eq(pr(flt(5e-324)), "4.9E-324");
}

Test(values, print_scalars)
{
    cr_assert_str_eq(pr(IVM_NIL), "nil");
    cr_assert_str_eq(pr(IVM_TRUE), "true");
    cr_assert_str_eq(pr(IVM_FALSE), "false");
    cr_assert_str_eq(pr(num(0)), "0");
    cr_assert_str_eq(pr(num(-17)), "-17");
    cr_assert_str_eq(pr(num(INT64_MAX)), "9223372036854775807");
    cr_assert_str_eq(pr(num(INT64_MIN)), "-9223372036854775808");
    cr_assert_str_eq(pr(num(IVM_FIXNUM_MAX + 1)), "4611686018427387904");
    cr_assert_str_eq(pr(kw("foo")), ":foo");
    cr_assert_str_eq(pr(kw("ns/foo")), ":ns/foo");
    cr_assert_str_eq(prn(kw("foo")), ":foo");
    cr_assert_str_eq(pr(sym("foo")), "foo");
    cr_assert_str_eq(pr(sym("ns/foo")), "ns/foo");
    cr_assert_str_eq(prn(sym("foo")), "foo");
    cr_assert_str_eq(pr(ivm_bytes(&heap, "\x00\xff\x10", 3)), "#ivm/bytes \"00ff10\"");
}

Test(values, print_strings_and_chars)
{
    ivm_value s = str("a\"b\\c\nd\te\rf\bg\fh");
    cr_assert_str_eq(pr(s), "\"a\\\"b\\\\c\\nd\\te\\rf\\bg\\fh\"");
    cr_assert_str_eq(prn(s), "a\"b\\c\nd\te\rf\bg\fh");
    cr_assert_str_eq(pr(str("")), "\"\"");
    cr_assert_str_eq(prn(str("")), "");
    cr_assert_str_eq(pr(str("h\xc3\xa9llo \xf0\x9f\x98\x80")), "\"h\xc3\xa9llo \xf0\x9f\x98\x80\"");
    cr_assert_str_eq(pr(ivm_char('a')), "\\a");
    cr_assert_str_eq(prn(ivm_char('a')), "a");
    cr_assert_str_eq(pr(ivm_char('\n')), "\\newline");
    cr_assert_str_eq(prn(ivm_char('\n')), "\n");
    cr_assert_str_eq(pr(ivm_char(' ')), "\\space");
    cr_assert_str_eq(pr(ivm_char('\t')), "\\tab");
    cr_assert_str_eq(pr(ivm_char('\r')), "\\return");
    cr_assert_str_eq(pr(ivm_char('\b')), "\\backspace");
    cr_assert_str_eq(pr(ivm_char('\f')), "\\formfeed");
    cr_assert_str_eq(pr(ivm_char(0xe9)), "\\\xc3\xa9");
    cr_assert_str_eq(pr(ivm_char(0x1F600)), "\\\xf0\x9f\x98\x80");
    cr_assert_str_eq(pr(ivm_char('\\')), "\\\\");
}

Test(values, print_lists)
{
    cr_assert_str_eq(pr(IVM_EMPTY_LIST), "()");
    cr_assert_str_eq(pr(LIST(num(1), num(2), num(3))), "(1 2 3)");
    cr_assert_str_eq(pr(LIST(IVM_NIL)), "(nil)");
    ivm_value mixed = LIST(str("a"), ivm_char('b'), kw("c"), sym("d"), flt(1.0), IVM_EMPTY_LIST);
    cr_assert_str_eq(pr(mixed), "(\"a\" \\b :c d 1.0 ())");
    cr_assert_str_eq(prn(mixed), "(a b :c d 1.0 ())");
    ivm_value nested = LIST(LIST(num(1)), LIST(num(2), LIST(num(3), LIST(str("x\n")))), IVM_EMPTY_LIST);
    cr_assert_str_eq(pr(nested), "((1) (2 (3 (\"x\\n\"))) ())");
    cr_assert_str_eq(prn(nested), "((1) (2 (3 (x\n))) ())");
    cr_assert_str_eq(pr(LIST(LIST(LIST(IVM_EMPTY_LIST)))), "(((())))");
}

/* ---- Deep structures: the walks are iterative ------------------------- */

#define DEPTH 1000000

/* (((...(leaf)...))) with DEPTH lists around leaf. */
static ivm_value deep(ivm_value leaf)
{
    ivm_value v = cons(leaf, IVM_EMPTY_LIST);
    for (int i = 1; i < DEPTH; i++)
        v = cons(v, IVM_EMPTY_LIST);
    return v;
}

Test(values, deep_nesting_prints_compares_and_hashes)
{
    ivm_value a = deep(IVM_EMPTY_LIST);
    ivm_value b = deep(IVM_EMPTY_LIST);
    ivm_value c = deep(num(1));

    ivm_buf out = {0};
    ivm_print(&heap, &out, a, true);
    cr_assert_eq(out.len, 2 * (size_t)DEPTH + 2);
    for (size_t i = 0; i <= DEPTH; i++)
        cr_assert_eq(out.data[i], '(', "byte %zu", i);
    for (size_t i = DEPTH + 1; i < out.len; i++)
        cr_assert_eq(out.data[i], ')', "byte %zu", i);
    ivm_buf_free(&out);

    cr_assert(ivm_equal(a, b));
    cr_assert_not(ivm_equal(a, c));
    cr_assert_not(ivm_equal(c, a));

    int32_t want = mixCollHash(1, 0); /* () */
    for (int i = 0; i < DEPTH; i++)
        want = mixCollHash(iadd(31, want), 1);
    cr_assert_eq(h(a), want);
    cr_assert_eq(h(b), want);
    cr_assert_neq(h(c), want);
}

Test(values, long_lists_print_compare_and_hash)
{
    ivm_value a = IVM_EMPTY_LIST, b = IVM_EMPTY_LIST;
    int32_t acc = 1;
    for (int i = 0; i < DEPTH; i++) {
        a = cons(num(i % 10), a);
        b = cons(num(i % 10), b);
    }
    for (uint64_t i = 0; i < DEPTH; i++)
        acc = iadd(imul(31, acc), hashLong((int64_t)((DEPTH - 1 - i) % 10)));
    cr_assert_eq(ivm_list_count(a), DEPTH);
    cr_assert(ivm_equal(a, b));
    cr_assert_eq(h(a), mixCollHash(acc, DEPTH));
    ivm_buf out = {0};
    ivm_print(&heap, &out, a, true);
    cr_assert_eq(out.len, 2 * (size_t)DEPTH + 1);
    ivm_buf_free(&out);
}
