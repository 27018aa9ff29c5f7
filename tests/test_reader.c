/* The reader (src/compiler/reader.c): every piece of syntax read and
 * printed back with pr (nil, booleans, integers in every base with int64's
 * limits and one past them, floats printing as Clojure's, ##Inf ##-Inf
 * ##NaN, strings and their escapes, characters, keywords, symbols, lists,
 * vectors, maps, sets, regexes, comments, #!, #_, quote, deref, metadata); every
 * error message with its exact FILE:LINE:COL (columns in code points) and
 * the incomplete flag a REPL relies on; where top-level forms start; the
 * position table for list and vector elements and collections' brackets;
 * 1,000,000-deep nesting, read without C recursion; and 200,000 random and
 * mutated inputs (fixed seed) that must never crash. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/reader.h"
#include "support.h"
#include "values/map.h"
#include "values/regex.h"
#include "values/vector.h"

static ivm_heap heap;
static ivm_positions positions;

static void setup(void) { cr_assert(ivm_heap_init(&heap, (size_t)1 << 30, IVM_ARENA_LAZY)); }
static void teardown(void)
{
    ivm_positions_free(&positions);
    ivm_heap_destroy(&heap);
}

TestSuite(reader, .init = setup, .fini = teardown, .timeout = 300);

/* ---- Helpers ----------------------------------------------------------- */

#define FILE_NAME "t.iv"

/* Reads every form of text[0..len): their pr texts joined by spaces, or
 * "ERROR " and the message at the first error. Test-owned. */
static char *read_all_n(const char *text, size_t len)
{
    ivm_reader r;
    ivm_reader_init(&r, &heap, text, len, FILE_NAME, &positions);
    ivm_buf out = {0}, err = {0};
    ivm_buf_add(&out, "", 0);
    ivm_value form;
    ivm_source_pos where;
    int got;
    while ((got = ivm_read(&r, &form, &where, &err)) == 1) {
        if (out.len)
            ivm_buf_add_char(&out, ' ');
        ivm_print(&heap, &out, form, true);
    }
    if (got < 0) {
        out.len = 0;
        ivm_buf_add_cstr(&out, "ERROR ");
        ivm_buf_add(&out, err.data, err.len);
    }
    char *s = t_strndup(out.data, out.len);
    ivm_buf_free(&out);
    ivm_buf_free(&err);
    return s;
}

static char *read_all(const char *text) { return read_all_n(text, strlen(text)); }

static void expect(const char *text, const char *printed)
{
    char *got = read_all(text);
    cr_expect_str_eq(got, printed, "reading [%s] gave [%s]", text, got);
}

/* Reading `text` fails with exactly `message` (FILE:LINE:COL included). */
static void expect_error(const char *text, const char *message)
{
    char *got = read_all(text);
    cr_expect_str_eq(got, t_fmt("ERROR %s", message), "reading [%s] gave [%s]", text, got);
}

/* The one form in text. */
static ivm_value read_one(const char *text, ivm_source_pos *where)
{
    ivm_reader r;
    ivm_reader_init(&r, &heap, text, strlen(text), FILE_NAME, &positions);
    ivm_buf err = {0};
    ivm_value form;
    ivm_source_pos at;
    int got = ivm_read(&r, &form, where ? where : &at, &err);
    cr_assert_eq(got, 1, "reading [%s]: %s", text, err.data ? err.data : "end of input");
    ivm_buf_free(&err);
    return form;
}

static ivm_source_pos pos_of(ivm_value container, uint32_t index)
{
    ivm_source_pos p = {0, 0};
    cr_assert(ivm_positions_get(&positions, container, index, &p),
              "no position for index %u", index);
    return p;
}

#define EXPECT_POS(p, l, c)                                                    \
    cr_expect((p).line == (l) && (p).col == (c), "position %u:%u, expected %u:%u", \
              (p).line, (p).col, (unsigned)(l), (unsigned)(c))

static uint64_t rng = 0x2545f4914f6cdd1du;
static uint64_t rnd(void) /* xorshift64* */
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1du;
}

/* ---- Scalars ----------------------------------------------------------- */

Test(reader, scalars_print_back)
{
    expect("[1 2.5 \"s\" :k sym \\a nil]", "[1 2.5 \"s\" :k sym \\a nil]");
    expect("nil true false", "nil true false");
    expect("nil/x true? falsey", "nil/x true? falsey");
    expect("", "");
    expect("   \n\t,,, ", "");
}

Test(reader, integers_in_every_base)
{
    expect("0 -0 +0 42 -42 +42 0N 5N -5N", "0 0 0 42 -42 42 0 5 -5");
    expect("0xff 0XFF 0xDeadBeef -0x10 0x10N", "255 255 3735928559 -16 16");
    expect("017 -017 00 0777N", "15 -15 0 511");
    expect("2r1010 -2r101 8r17 16rff 36rZZ 36rzz 10r99 36rN 2R11", "10 -5 15 255 1295 1295 99 23 3");
    /* 62-bit fixnums and boxed integers alike */
    expect("4611686018427387903 4611686018427387904 -4611686018427387905",
           "4611686018427387903 4611686018427387904 -4611686018427387905");
}

Test(reader, integer_limits_and_one_past)
{
    expect("9223372036854775807 -9223372036854775808", "9223372036854775807 -9223372036854775808");
    expect("0x7fffffffffffffff -0x8000000000000000", "9223372036854775807 -9223372036854775808");
    expect("0777777777777777777777 -01000000000000000000000",
           "9223372036854775807 -9223372036854775808");
    expect("2r111111111111111111111111111111111111111111111111111111111111111",
           "9223372036854775807");
    expect("36r1y2p0ij32e8e7 9223372036854775807N", "9223372036854775807 9223372036854775807");
    expect_error("9223372036854775808", "t.iv:1:1: integer too large: 9223372036854775808");
    expect_error("-9223372036854775809", "t.iv:1:1: integer too large: -9223372036854775809");
    expect_error("[1 0x8000000000000000]", "t.iv:1:4: integer too large: 0x8000000000000000");
    expect_error("-0x8000000000000001", "t.iv:1:1: integer too large: -0x8000000000000001");
    expect_error("01000000000000000000000", "t.iv:1:1: integer too large: 01000000000000000000000");
    expect_error("36r1y2p0ij32e8e8", "t.iv:1:1: integer too large: 36r1y2p0ij32e8e8");
    expect_error("99999999999999999999999999N", "t.iv:1:1: integer too large: 99999999999999999999999999N");
}

Test(reader, invalid_numbers_and_ratios)
{
    expect_error("08", "t.iv:1:1: invalid number: 08");
    expect_error("1abc", "t.iv:1:1: invalid number: 1abc");
    expect_error("0x", "t.iv:1:1: invalid number: 0x");
    expect_error("0xg", "t.iv:1:1: invalid number: 0xg");
    expect_error("2r102", "t.iv:1:1: invalid number: 2r102");
    expect_error("37r1", "t.iv:1:1: invalid number: 37r1");
    expect_error("1r0", "t.iv:1:1: invalid number: 1r0");
    expect_error("10r5N", "t.iv:1:1: invalid number: 10r5N");
    expect_error("1.5.2", "t.iv:1:1: invalid number: 1.5.2");
    expect_error("1e", "t.iv:1:1: invalid number: 1e");
    expect_error("1e+", "t.iv:1:1: invalid number: 1e+");
    expect_error("1.5N", "t.iv:1:1: invalid number: 1.5N");
    expect_error("1/x", "t.iv:1:1: invalid number: 1/x");
    expect_error("1/2", "t.iv:1:1: ratios are not supported: 1/2");
    expect_error("(a -3/4)", "t.iv:1:4: ratios are not supported: -3/4");
    /* a sign without a digit after it is a symbol */
    expect("+ - +a -> -.5 +.5", "+ - +a -> -.5 +.5");
}

Test(reader, floats_print_as_clojure)
{
    expect("1.5 -2e10 1e-3 1e10 1E10 1e+2", "1.5 -2.0E10 0.001 1.0E10 1.0E10 100.0");
    expect("2.5M 1M -3M 1. 1.e2 -1.5e-2M +1.5", "2.5 1.0 -3.0 1.0 100.0 -0.015 1.5");
    expect("0.0 -0.0 0.1 1234567.0 12345678.0 1e-4", "0.0 -0.0 0.1 1234567.0 1.2345678E7 1.0E-4");
    expect("1e400 -1e400 1e-400", "##Inf ##-Inf 0.0");
    expect("##Inf ##-Inf ##NaN [##Inf]", "##Inf ##-Inf ##NaN [##Inf]");
    expect("00.5 09.5", "0.5 9.5");
    cr_expect(ivm_is_float(read_one("1.0", NULL)));
    cr_expect(ivm_is_int(read_one("1", NULL)));
    expect_error("##Foo", "t.iv:1:1: unknown symbolic value: ##Foo");
    expect_error("[##]", "t.iv:1:2: unknown symbolic value: ##");
}

Test(reader, strings_and_escapes)
{
    expect("\"\"", "\"\"");
    expect("\"a\\nb\\tc\\rd\\be\\ff\\\"g\\\\h\"", "\"a\\nb\\tc\\rd\\be\\ff\\\"g\\\\h\"");
    expect("\"\\u00e9\\u0041\\u20AC\"", "\"éA€\"");
    expect("\"\\uD83D\\uDE00\"", "\"\xf0\x9f\x98\x80\"");
    expect("\"\\101\\7\\377x\"", "\"A\a\xc3\xbfx\"");
    expect("\"line 1\nline 2\"", "\"line 1\\nline 2\"");
    expect("\"é ü 日本\"", "\"é ü 日本\"");
    expect("\"a\"\"b\"", "\"a\" \"b\"");
    cr_expect_eq(ivm_type_of(read_one("\"x\"", NULL)), IVM_T_STRING);
    /* \0 gives a NUL inside the string */
    ivm_value nul = read_one("\"a\\0b\"", NULL);
    cr_expect_eq(ivm_as_str(nul)->len, 3);
    cr_expect_eq(ivm_as_str(nul)->bytes[1], 0);
}

Test(reader, string_errors)
{
    expect_error("\"\\q\"", "t.iv:1:2: unsupported escape character: \\q");
    expect_error("\"ab\\é\"", "t.iv:1:4: unsupported escape character: \\é");
    expect_error("\"\\8\"", "t.iv:1:2: unsupported escape character: \\8");
    expect_error("\"\\u12\"", "t.iv:1:2: invalid unicode escape: \\u must be followed by four hex digits");
    expect_error("\"\\u12G4\"", "t.iv:1:2: invalid unicode escape: \\u must be followed by four hex digits");
    expect_error("\"\\uD800\"", "t.iv:1:2: unpaired surrogate in string: \\uD800");
    expect_error("\"x\\uD800\\u0041\"", "t.iv:1:3: unpaired surrogate in string: \\uD800");
    expect_error("\"\\uDC00\\uD800\"", "t.iv:1:2: unpaired surrogate in string: \\uDC00");
    expect_error("\"\\400\"", "t.iv:1:2: octal escape sequence must be in range [0, 377]");
    expect_error("(\"ab\xff\")", "t.iv:1:2: invalid UTF-8 in string");
    expect_error("\"\xed\xa0\x80\"", "t.iv:1:1: invalid UTF-8 in string");
}

Test(reader, characters)
{
    expect("\\a \\Z \\0 \\( \\) \\[ \\\" \\\\ \\; \\, \\é \\日",
           "\\a \\Z \\0 \\( \\) \\[ \\\" \\\\ \\; \\, \\é \\日");
    expect("\\newline \\space \\tab \\return \\backspace \\formfeed",
           "\\newline \\space \\tab \\return \\backspace \\formfeed");
    expect("\\u0041 \\u00e9 \\u00E9 \\o101 \\o7 \\o377 \\u \\o", "\\A \\é \\é \\A \\\a \\ÿ \\u \\o");
    expect("[\\a] (\\b)\\c{\\d 1}", "[\\a] (\\b) \\c {\\d 1}");
    expect("\\a\\b", "\\a \\b");
    expect("\\ ", "\\space");
    cr_expect_eq(read_one("\\u263A", NULL), ivm_char(0x263a));
    expect_error("\\ab", "t.iv:1:1: unsupported character: \\ab");
    expect_error("[1 \\newlines]", "t.iv:1:4: unsupported character: \\newlines");
    expect_error("\\éa", "t.iv:1:1: unsupported character: \\éa");
    expect_error("\\u12", "t.iv:1:1: invalid unicode character: \\u12");
    expect_error("\\u12345", "t.iv:1:1: invalid unicode character: \\u12345");
    expect_error("\\uzzzz", "t.iv:1:1: invalid unicode character: \\uzzzz");
    expect_error("\\uD800", "t.iv:1:1: invalid character constant: \\uD800");
    expect_error("\\o400", "t.iv:1:1: octal escape sequence must be in range [0, 377]");
    expect_error("\\o9", "t.iv:1:1: invalid octal character: \\o9");
    expect_error("\\o1234", "t.iv:1:1: invalid octal character: \\o1234");
    expect_error("\\", "t.iv:1:2: EOF while reading character, starting at line 1 col 1");
}

Test(reader, keywords)
{
    expect(":a :ns/a :a.b/c-d :1 :a1 :- :/ :a? :a->b :*x* :a.b.c :日本", ":a :ns/a :a.b/c-d :1 :a1 :- :/ :a? :a->b :*x* :a.b.c :日本");
    cr_expect_eq(read_one(":ns/a", NULL), ivm_keyword(&heap, "ns/a", 4));
    expect_error("::a", "t.iv:1:1: auto-resolved keywords are not supported: ::a");
    expect_error("[::ns/a]", "t.iv:1:2: auto-resolved keywords are not supported: ::ns/a");
    expect_error(":", "t.iv:1:1: invalid token: :");
    expect_error(":a:", "t.iv:1:1: invalid token: :a:");
    expect_error(":a/", "t.iv:1:1: invalid token: :a/");
    expect_error(":a::b", "t.iv:1:1: invalid token: :a::b");
    expect_error(":a/1", "t.iv:1:1: invalid token: :a/1");
}

Test(reader, symbols)
{
    expect("a ns/name / clojure.core// + - * ! _ ? < > = . .. .5x a.b a'b a# %1 %",
           "a ns/name / clojure.core// + - * ! _ ? < > = . .. .5x a.b a'b a# %1 %");
    expect("->> <= not= empty? swap! *out* a-b_c a:b λ x1 a/b/c", "->> <= not= empty? swap! *out* a-b_c a:b λ x1 a/b/c");
    ivm_value s = read_one("ns/name", NULL);
    cr_expect_eq(s, ivm_symbol(&heap, "ns/name", 7));
    cr_expect_eq(ivm_as_str(s)->aux, 2); /* the namespace's length */
    expect_error("a/", "t.iv:1:1: invalid token: a/");
    expect_error("/a", "t.iv:1:1: invalid token: /a");
    expect_error("//", "t.iv:1:1: invalid token: //");
    expect_error("a::b", "t.iv:1:1: invalid token: a::b");
    expect_error("a:", "t.iv:1:1: invalid token: a:");
    expect_error("a:/b", "t.iv:1:1: invalid token: a:/b");
    expect_error("a/1", "t.iv:1:1: invalid token: a/1");
    expect_error("(f \xff)", "t.iv:1:4: invalid UTF-8");
}

/* ---- Collections ------------------------------------------------------- */

Test(reader, collections)
{
    expect("() [] {} #{}", "() [] {} #{}");
    expect("(1 (2 [3 (4)]) [])", "(1 (2 [3 (4)]) [])");
    expect("{:a 1}", "{:a 1}");
    expect("#{1}", "#{1}");
    expect("[1,2,,3,]", "[1 2 3]");
    expect("{:a [1 {:b #{:c}}]}", "{:a [1 {:b #{:c}}]}");
    expect("(a)(b)[c]", "(a) (b) [c]");
    ivm_value m = read_one("{:a 1, :b 2, \"c\" [3], nil nil}", NULL);
    cr_assert(ivm_is_map(m));
    cr_expect_eq(ivm_map_count(m), 4);
    ivm_value v;
    cr_expect(ivm_map_get(&heap, m, ivm_keyword(&heap, "b", 1), &v) && v == ivm_fixnum(2));
    cr_expect(ivm_map_valid(&heap, m));
    ivm_value s = read_one("#{1 \"1\" 1.0 \\1 :1}", NULL);
    cr_assert(ivm_is_set(s));
    cr_expect_eq(ivm_set_count(s), 5);
    cr_expect(ivm_set_contains(&heap, s, ivm_char('1')));
    ivm_value vec = read_one("[a b c]", NULL);
    cr_assert(ivm_is_vector(vec));
    cr_expect_eq(ivm_vec_count(vec), 3);
    cr_expect_eq(ivm_list_count(read_one("(a b c d)", NULL)), 4);
}

Test(reader, large_collections)
{
    enum { N = 20000 };
    ivm_buf text = {0};
    ivm_buf_add_cstr(&text, "[{");
    for (int i = 0; i < N; i++) {
        ivm_buf_add_int(&text, i);
        ivm_buf_add_cstr(&text, " \"v\" ");
    }
    ivm_buf_add_cstr(&text, "} #{");
    for (int i = 0; i < N; i++) {
        ivm_buf_add_int(&text, -i);
        ivm_buf_add_char(&text, ' ');
    }
    ivm_buf_add_cstr(&text, "} [");
    for (int i = 0; i < N; i++)
        ivm_buf_add_cstr(&text, "x ");
    ivm_buf_add_cstr(&text, "]]");
    ivm_value v = read_one(text.data, NULL);
    ivm_buf_free(&text);
    ivm_value m = ivm_vec_nth(v, 0), s = ivm_vec_nth(v, 1), xs = ivm_vec_nth(v, 2);
    cr_expect_eq(ivm_map_count(m), N);
    cr_expect(ivm_map_valid(&heap, m));
    cr_expect_eq(ivm_set_count(s), N);
    cr_expect(ivm_map_valid(&heap, s));
    cr_expect_eq(ivm_vec_count(xs), N);
    cr_expect_eq(ivm_vec_nth(xs, N - 1), ivm_symbol(&heap, "x", 1));
}

Test(reader, map_and_set_errors)
{
    expect_error("{:a}", "t.iv:1:1: map literal must contain an even number of forms");
    expect_error("[1\n {:a 1 :b}]", "t.iv:2:2: map literal must contain an even number of forms");
    expect_error("{:a 1 :a 2}", "t.iv:1:7: duplicate key: :a");
    expect_error("{[1 2] 1\n [1 2] 2}", "t.iv:2:2: duplicate key: [1 2]");
    expect_error("{\"k\" 1 \"k\" 2}", "t.iv:1:8: duplicate key: \"k\"");
    expect_error("#{1 2 1}", "t.iv:1:7: duplicate key: 1");
    expect_error("#{[1] (1)}", "t.iv:1:7: duplicate key: (1)");
    /* 1 and 1.0 are different keys, as in Clojure */
    expect("#{1}", "#{1}");
    cr_expect_eq(ivm_set_count(read_one("#{1 1.0}", NULL)), 2);
}

/* ---- Comments and prefixes --------------------------------------------- */

Test(reader, comments)
{
    expect("; only a comment", "");
    expect("; a\n1 ; b\n;c\n2;d", "1 2");
    expect("[1 ; ]\n 2]", "[1 2]");
    expect("#!/usr/bin/env ivm run\n(println 1)", "(println 1)");
    expect("#!shebang", "");
    expect("1 #! comment (\n2", "1 2");
    expect("\"; not a comment\"", "\"; not a comment\"");
}

Test(reader, discard)
{
    expect("#_ 1 2", "2");
    expect("#_1", "");
    expect("#_#_ 1 2 3", "3");
    expect("#_ #_ #_ a b c", "");
    expect("[1 #_ 2 3]", "[1 3]");
    expect("[1 #_ [2 (3)] 4]", "[1 4]");
    expect("(a #_b)", "(a)");
    expect("{:a #_ :b 1}", "{:a 1}");
    expect("'#_a b", "(quote b)");
    expect("#_'a b", "b");
    expect_error("[#_]", "t.iv:1:4: unmatched delimiter: ]");
    expect_error("#_", "t.iv:1:3: EOF while reading, starting at line 1 col 1");
}

Test(reader, quote_and_deref)
{
    expect("'x", "(quote x)");
    expect("''x", "(quote (quote x))");
    expect("'(1 2)", "(quote (1 2))");
    expect("@a", "(deref a)");
    expect("@'a '@a", "(deref (quote a)) (quote (deref a))");
    expect("'[a @b]", "(quote [a (deref b)])");
    expect("(f 'x)", "(f (quote x))");
    expect("' x", "(quote x)");
    expect("a'b 'a'b", "a'b (quote a'b)");
    expect_error("(')", "t.iv:1:3: unmatched delimiter: )");
    expect_error("'", "t.iv:1:2: EOF while reading, starting at line 1 col 1");
    expect_error("(a @", "t.iv:1:5: EOF while reading, starting at line 1 col 4");
}

Test(reader, metadata_is_read_and_dropped)
{
    expect("^:private x", "x");
    expect("^{:a 1} [1]", "[1]");
    expect("^String ^:dynamic x", "x");
    expect("#^:a x", "x");
    expect("(def ^:dynamic *x* 1)", "(def *x* 1)");
    expect("(defn ^{:doc \"d\"} f [^long n] n)", "(defn f [n] n)");
    expect("'^:m x", "(quote x)");
    expect_error("^:a", "t.iv:1:4: EOF while reading, starting at line 1 col 1");
    expect_error("[^:a]", "t.iv:1:5: unmatched delimiter: ]");
}

/* #(...) reads as the fn Clojure makes of it: %N are the parameters (% is
 * %1, bound by a let), %& the rest; nesting is an error, as in Clojure. */
Test(reader, anonymous_function_literals)
{
    expect("#(+ % 1)", "(fn* [%1] (let [% %1] (+ % 1)))");
    expect("[1 #(x)]", "[1 (fn* [] (x))]");
    expect("#(f %2 [%1 {:k %3}] %&)", "(fn* [%1 %2 %3 & %&] (f %2 [%1 {:k %3}] %&))");
    expect_error("#(a #(b))", "t.iv:1:5: Nested #()s are not allowed");
    expect_error("#(a", "t.iv:1:4: EOF while reading, starting at line 1 col 1");
}

/* The compiler expands syntax quote (expand.c); the reader only marks it. */
Test(reader, syntax_quote_and_unquote)
{
    expect("`x", "(ivm.core/syntax-quote x)");
    expect("`(a ~b ~@c)",
           "(ivm.core/syntax-quote (a (clojure.core/unquote b) (clojure.core/unquote-splicing c)))");
    expect("~ @x", "(clojure.core/unquote (deref x))");
    expect("`[~'x]", "(ivm.core/syntax-quote [(clojure.core/unquote (quote x))])");
    expect_error("`", "t.iv:1:2: EOF while reading, starting at line 1 col 1");
    expect_error("(a ~)", "t.iv:1:5: unmatched delimiter: )");
}

/* #"...": the pattern is the text as written (a backslash keeps the
 * character after it, so \" stays in the pattern and does not end it);
 * pr prints it back as Clojure does. A bad pattern is a read error at the
 * #, naming the place in the pattern (in code points). */
Test(reader, regex_literals)
{
    expect("#\"a\\d+\"", "#\"a\\d+\"");
    expect("#\"\\\"\" #\"\"", "#\"\\\"\" #\"\"");
    expect("[#\"x\" #\"é\\s\"]", "[#\"x\" #\"é\\s\"]");
    expect("#\"a\nb\"", "#\"a\nb\""); /* a raw newline stays one */
    ivm_value r = read_one("#\"\\u00e9\\\"\"", NULL);
    cr_assert(ivm_type_of(r) == IVM_T_REGEX);
    cr_expect_str_eq(t_strndup((const char *)ivm_regex_pattern(r)->bytes, ivm_regex_pattern(r)->len),
                     "\\u00e9\\\"");
    cr_expect(!ivm_equal(r, read_one("#\"\\u00e9\\\"\"", NULL)), "two literals are two regexes");
    cr_expect(ivm_equal(r, r));
    expect_error("(f #\"a(b\")", "t.iv:1:4: missing closing parenthesis near index 3 in regex #\"a(b\"");
    expect_error("\n  #\"é[\"", "t.iv:2:3: missing terminating ] for character class near index 2 in regex #\"é[\"");
    expect_error("#\"[a&&b]\"", "t.iv:1:1: character class intersection (&&) is not supported near index 2 in regex #\"[a&&b]\"");
    expect_error("#\"a\\qb\"", "t.iv:1:1: illegal/unsupported escape sequence near index 1 in regex #\"a\\qb\"");
    expect_error("#\"x{,3}\"", "t.iv:1:1: illegal repetition near index 1 in regex #\"x{,3}\"");
    expect_error("#\"ab", "t.iv:1:5: EOF while reading regex, starting at line 1 col 1");
    expect_error("#\"ab\\\"", "t.iv:1:7: EOF while reading regex, starting at line 1 col 1");
    expect_error("#\"\xff\"", "t.iv:1:1: invalid UTF-8 in regex");
}

Test(reader, unsupported_dispatch_forms)
{
    expect_error("#?(:clj 1)", "t.iv:1:1: reader conditionals are not supported yet");
    expect_error("#?@(:clj [1])", "t.iv:1:1: reader conditionals are not supported yet");
    expect_error("#=x", "t.iv:1:1: unknown dispatch macro #=");
    expect_error("#'x", "t.iv:1:1: unknown dispatch macro #'");
    expect_error("#inst \"2020\"", "t.iv:1:1: unknown dispatch macro #i");
    expect_error("#é", "t.iv:1:1: unknown dispatch macro #é");
    expect_error("# x", "t.iv:1:1: unknown dispatch macro #");
    expect_error("#", "t.iv:1:2: EOF while reading, starting at line 1 col 1");
}

/* ---- Delimiters, end of input, positions in messages -------------------- */

Test(reader, unmatched_delimiters)
{
    expect_error(")", "t.iv:1:1: unmatched delimiter: )");
    expect_error("1 2 ]", "t.iv:1:5: unmatched delimiter: ]");
    expect_error("(]", "t.iv:1:2: unmatched delimiter: ]");
    expect_error("[1 2)", "t.iv:1:5: unmatched delimiter: )");
    expect_error("{:a 1]", "t.iv:1:6: unmatched delimiter: ]");
    expect_error("#{1)", "t.iv:1:4: unmatched delimiter: )");
    expect_error("(a\n  (b))\n  }", "t.iv:3:3: unmatched delimiter: }");
}

Test(reader, end_of_input_inside_a_form)
{
    expect_error("(1 2", "t.iv:1:5: EOF while reading, starting at line 1 col 1");
    expect_error("(a\n  [b", "t.iv:2:5: EOF while reading, starting at line 2 col 3");
    expect_error("(a\n  [b]\n", "t.iv:3:1: EOF while reading, starting at line 1 col 1");
    expect_error("{:a 1", "t.iv:1:6: EOF while reading, starting at line 1 col 1");
    expect_error("#{", "t.iv:1:3: EOF while reading, starting at line 1 col 1");
    expect_error("(a ; comment )", "t.iv:1:15: EOF while reading, starting at line 1 col 1");
    expect_error("\"abc", "t.iv:1:5: EOF while reading string, starting at line 1 col 1");
    expect_error("(x\n \"ab\ncd", "t.iv:3:3: EOF while reading string, starting at line 2 col 2");
    expect_error("\"abc\\", "t.iv:1:6: EOF while reading string, starting at line 1 col 1");
}

Test(reader, incomplete_flag_for_a_repl)
{
    static const struct { const char *text; bool incomplete; } cases[] = {
        {"(1 2", true}, {"\"ab", true}, {"'", true}, {"#_", true}, {"\\", true},
        {"#\"ab", true}, {"#\"(\"", false},
        {"[1 {:a", true}, {"#", true}, {"(1))", false}, {"\\ab", false},
        {"{:a}", false}, {"1/2", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ivm_reader r;
        ivm_reader_init(&r, &heap, cases[i].text, strlen(cases[i].text), FILE_NAME, NULL);
        ivm_buf err = {0};
        ivm_value form;
        ivm_source_pos where;
        int got;
        while ((got = ivm_read(&r, &form, &where, &err)) == 1)
            ;
        cr_expect_eq(got, -1, "[%s]", cases[i].text);
        cr_expect_eq(r.incomplete, cases[i].incomplete, "[%s]", cases[i].text);
        ivm_buf_free(&err);
    }
}

Test(reader, columns_count_code_points_and_tabs_count_one)
{
    expect_error("é )", "t.iv:1:3: unmatched delimiter: )");
    expect_error("\"日本語\" )", "t.iv:1:7: unmatched delimiter: )");
    expect_error("\t)", "t.iv:1:2: unmatched delimiter: )");
    expect_error("a\n\t\tb é\t]", "t.iv:2:7: unmatched delimiter: ]");
    expect_error("; é\n\r\n  )", "t.iv:3:3: unmatched delimiter: )");
}

Test(reader, errors_are_appended_and_named_by_file)
{
    ivm_reader r;
    ivm_reader_init(&r, &heap, "(a", 2, "dir/prog.iv", NULL);
    ivm_buf err = {0};
    ivm_buf_add_cstr(&err, "ivm: ");
    ivm_value form;
    ivm_source_pos where;
    cr_expect_eq(ivm_read(&r, &form, &where, &err), -1);
    cr_expect_str_eq(err.data, "ivm: dir/prog.iv:1:3: EOF while reading, starting at line 1 col 1");
    ivm_buf_free(&err);
}

Test(reader, text_need_not_end_in_nul)
{
    cr_expect_str_eq(read_all_n("(1 2)xyz", 5), "(1 2)");
    cr_expect_str_eq(read_all_n("abc", 2), "ab");
    cr_expect_str_eq(read_all_n("\"ab\"", 3), "ERROR t.iv:1:4: EOF while reading string, starting at line 1 col 1");
    cr_expect_str_eq(read_all_n("12345", 2), "12");
    cr_expect_str_eq(read_all_n("\\newline", 2), "\\n");
}

/* ---- Where forms are --------------------------------------------------- */

Test(reader, top_level_forms_and_where_they_start)
{
    const char *text = "1 (2)\n  [3] 'x\n\n#_ skip é \"s\" ; c\n";
    ivm_reader r;
    ivm_reader_init(&r, &heap, text, strlen(text), FILE_NAME, NULL);
    ivm_buf err = {0};
    ivm_value form;
    ivm_source_pos where;
    static const uint32_t expected[][2] = {{1, 1}, {1, 3}, {2, 3}, {2, 7}, {4, 9}, {4, 11}};
    for (size_t i = 0; i < 6; i++) {
        cr_assert_eq(ivm_read(&r, &form, &where, &err), 1);
        EXPECT_POS(where, expected[i][0], expected[i][1]);
    }
    cr_expect_eq(ivm_read(&r, &form, &where, &err), 0);
    cr_expect_eq(ivm_read(&r, &form, &where, &err), 0, "end of input stays the end");
    cr_expect_eq(err.len, 0);
}

Test(reader, positions_of_list_elements)
{
    ivm_value list = read_one("(a b\n c)", NULL);
    EXPECT_POS(pos_of(list, IVM_POS_OPEN), 1, 1);
    ivm_value cell = list;
    static const uint32_t expected[][2] = {{1, 2}, {1, 4}, {2, 2}};
    for (size_t i = 0; i < 3; i++, cell = ivm_as_cons(cell)->rest)
        EXPECT_POS(pos_of(cell, 0), expected[i][0], expected[i][1]);

    ivm_value nested = read_one("  ((f)\n   [g])", NULL);
    ivm_value inner = ivm_as_cons(nested)->first;
    EXPECT_POS(pos_of(nested, 0), 1, 4);
    EXPECT_POS(pos_of(inner, IVM_POS_OPEN), 1, 4);
    EXPECT_POS(pos_of(inner, 0), 1, 5);
    EXPECT_POS(pos_of(ivm_as_cons(nested)->rest, 0), 2, 4);
    ivm_source_pos p;
    cr_expect(!ivm_positions_get(&positions, IVM_EMPTY_LIST, IVM_POS_OPEN, &p),
              "() is no object and has no position");
}

Test(reader, positions_of_vector_elements_and_brackets)
{
    ivm_value v = read_one("[x [y]\n\t z {:a 1} #{2}]", NULL);
    EXPECT_POS(pos_of(v, IVM_POS_OPEN), 1, 1);
    EXPECT_POS(pos_of(v, 0), 1, 2);
    EXPECT_POS(pos_of(v, 1), 1, 4);
    EXPECT_POS(pos_of(v, 2), 2, 3);
    EXPECT_POS(pos_of(v, 3), 2, 5);
    EXPECT_POS(pos_of(v, 4), 2, 12);
    ivm_value inner = ivm_vec_nth(v, 1);
    EXPECT_POS(pos_of(inner, IVM_POS_OPEN), 1, 4);
    EXPECT_POS(pos_of(inner, 0), 1, 5);
    EXPECT_POS(pos_of(ivm_vec_nth(v, 3), IVM_POS_OPEN), 2, 5);
    EXPECT_POS(pos_of(ivm_vec_nth(v, 4), IVM_POS_OPEN), 2, 12);
    ivm_source_pos p;
    cr_expect(!ivm_positions_get(&positions, v, 5, &p));
}

Test(reader, positions_of_quote_and_meta)
{
    ivm_value q = read_one("(f\n 'x)", NULL);
    ivm_value quoted = ivm_as_cons(ivm_as_cons(q)->rest)->first;
    EXPECT_POS(pos_of(ivm_as_cons(q)->rest, 0), 2, 2);
    EXPECT_POS(pos_of(quoted, IVM_POS_OPEN), 2, 2);
    EXPECT_POS(pos_of(quoted, 0), 2, 2);
    EXPECT_POS(pos_of(ivm_as_cons(quoted)->rest, 0), 2, 3);

    ivm_source_pos where;
    ivm_value m = read_one("  ^:a [1]", &where);
    EXPECT_POS(where, 1, 7); /* metadata dropped: the form's own position */
    EXPECT_POS(pos_of(m, 0), 1, 8);
}

Test(reader, position_table)
{
    ivm_positions t = {0};
    ivm_source_pos p;
    cr_expect(!ivm_positions_get(&t, 8, 0, &p));
    enum { N = 100000 };
    for (uint32_t i = 0; i < N; i++)
        ivm_positions_put(&t, (ivm_value)(0x10000 + 8 * (i / 4)), i % 4, (ivm_source_pos){i, i + 1});
    ivm_positions_put(&t, 0x10000, IVM_POS_OPEN, (ivm_source_pos){7, 8});
    ivm_positions_put(&t, 0x10000, 1, (ivm_source_pos){9, 9});
    cr_expect_eq(t.count, N + 1);
    for (uint32_t i = 2; i < N; i++) {
        cr_assert(ivm_positions_get(&t, (ivm_value)(0x10000 + 8 * (i / 4)), i % 4, &p));
        cr_assert(p.line == i && p.col == i + 1);
    }
    cr_expect(ivm_positions_get(&t, 0x10000, 1, &p) && p.line == 9);
    cr_expect(ivm_positions_get(&t, 0x10000, IVM_POS_OPEN, &p) && p.line == 7);
    cr_expect(!ivm_positions_get(&t, 0x10000, 4, &p));
    ivm_positions_free(&t);
    cr_expect(!ivm_positions_get(&t, 0x10000, 1, &p));
}

/* ---- Depth and garbage ------------------------------------------------- */

#define DEEP 1000000

static char *repeat(const char *open, const char *middle, const char *close, size_t n)
{
    size_t lo = strlen(open), lm = strlen(middle), lc = strlen(close);
    char *s = malloc(n * (lo + lc) + lm + 1);
    cr_assert(s);
    char *p = s;
    for (size_t i = 0; i < n; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, middle, lm);
    p += lm;
    for (size_t i = 0; i < n; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    return s;
}

Test(reader, million_deep_nesting_reads_without_c_recursion)
{
    char *text = repeat("(", "x", ")", DEEP);
    ivm_value v = read_one(text, NULL);
    size_t depth = 0;
    for (; ivm_is_cons(v); depth++)
        v = ivm_as_cons(v)->first;
    cr_expect_eq(depth, DEEP);
    cr_expect_eq(v, ivm_symbol(&heap, "x", 1));
    free(text);

    text = repeat("[", "", "]", DEEP);
    v = read_one(text, NULL);
    for (depth = 0; ivm_vec_count(v) == 1; depth++)
        v = ivm_vec_nth(v, 0);
    cr_expect_eq(depth, DEEP - 1);
    free(text);

    text = repeat("'", "y", "", DEEP);
    v = read_one(text, NULL);
    for (depth = 0; ivm_is_cons(v); depth++)
        v = ivm_as_cons(ivm_as_cons(v)->rest)->first;
    cr_expect_eq(depth, DEEP);
    free(text);
}

Test(reader, million_deep_unclosed_nesting_is_an_error)
{
    char *text = repeat("(", "", "", DEEP);
    cr_expect_str_eq(read_all(text), "ERROR t.iv:1:1000001: EOF while reading, starting at line 1 col 1000000");
    free(text);
    text = repeat("{#{[", "", "", DEEP / 3);
    cr_expect_str_eq(read_all(text),
                     t_fmt("ERROR t.iv:1:%d: EOF while reading, starting at line 1 col %d",
                           4 * (DEEP / 3) + 1, 4 * (DEEP / 3)));
    free(text);
    text = repeat("(", "", "]", DEEP);
    cr_expect_str_eq(read_all(text), "ERROR t.iv:1:1000001: unmatched delimiter: ]");
    free(text);
}

/* Reads text to its end and checks that the reader kept its promises:
 * 1, 0 or -1, a message naming the file at an error, and a form that
 * prints. Returns ivm_read's last answer. */
static int read_garbage(const char *text, size_t len, ivm_buf *out)
{
    ivm_reader r;
    ivm_reader_init(&r, &heap, text, len, FILE_NAME, &positions);
    ivm_value form;
    ivm_source_pos where;
    int got;
    out->len = 0;
    while ((got = ivm_read(&r, &form, &where, out)) == 1) {
        cr_assert(where.line >= 1 && where.col >= 1);
        out->len = 0;
        ivm_print(&heap, out, form, true);
        out->len = 0;
    }
    cr_assert(got == 0 || got == -1);
    if (got < 0)
        cr_assert(out->len > 5 && memcmp(out->data, FILE_NAME ":", 5) == 0, "message: %s", out->data);
    return got;
}

Test(reader, random_input_never_crashes)
{
    static const char alphabet[] = "()[]{}#_'@^`~\\\";:,/.+-0123456789abcxNMrRe \n\tuo!?=%&*é";
    enum { INPUTS = 100000, MAX_LEN = 48 };
    char text[MAX_LEN];
    ivm_buf out = {0};
    int counts[3] = {0};
    rng = 0x2545f4914f6cdd1du;
    for (int i = 0; i < INPUTS; i++) {
        size_t len = (size_t)(rnd() % MAX_LEN);
        for (size_t k = 0; k < len; k++) {
            uint64_t x = rnd();
            text[k] = x % 8 == 0 ? (char)(x >> 8) : alphabet[(x >> 8) % (sizeof alphabet - 1)];
        }
        counts[read_garbage(text, len, &out) + 1]++;
    }
    ivm_buf_free(&out);
    cr_log_info("random inputs: %d errors, %d read to the end", counts[0], counts[1]);
    cr_expect(counts[0] > 0 && counts[1] > 0);
}

Test(reader, mutated_programs_never_crash)
{
    static const char *seeds[] = {
        "(defn fib [n] (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))",
        "{:a [1 2.5 \"s\\n\\u00e9\" \\a \\newline] #{:x 'y} @z ^:m w #_ skip}",
        "(let [{:keys [a b] :or {b 2}} m] (str a \"\\\"\" b 0x1F 2r101 36rZZ 1e10 ##NaN))",
        "#!/bin/ivm\n; comment\n(println \"hi\" 'x :ns/k ns/sym / 017 5N 2.5M)",
        "(re-seq #\"(?i)(\\w+)@([a-z]+)\\.\\u0063om|[^\\s\\p{Lower}]{2,}\" #\"\\\"\\Q(\\E\")",
    };
    enum { ROUNDS = 100000 };
    ivm_buf out = {0};
    char text[256];
    rng = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < ROUNDS; i++) {
        const char *seed = seeds[i % (sizeof seeds / sizeof seeds[0])];
        size_t len = strlen(seed);
        memcpy(text, seed, len);
        for (int m = (int)(rnd() % 4); m >= 0; m--) {
            uint64_t x = rnd();
            size_t at = (size_t)(x >> 16) % len;
            switch (x % 4) {
            case 0: text[at] = (char)(x >> 8); break;                                /* replace */
            case 1: memmove(text + at, text + at + 1, len - at - 1); len--; break; /* delete */
            case 2: if (len < sizeof text) { memmove(text + at + 1, text + at, len - at); text[at] = "()[]{}\"\\#'"[(x >> 8) % 10]; len++; } break;
            default: len = at; break;                                            /* truncate */
            }
            if (len == 0)
                break;
        }
        read_garbage(text, len, &out);
    }
    ivm_buf_free(&out);
}

Test(reader, reading_speed)
{
    /* A 1 MB program-like text: how long reading and recording takes. */
    ivm_buf text = {0};
    while (text.len < (1u << 20))
        ivm_buf_add_cstr(&text, "(defn f [x y] (let [z (+ x 1.5)] {:a z, :b \"str\\n\" :c [x y 'q]}))\n");
    ivm_reader r;
    ivm_reader_init(&r, &heap, text.data, text.len, FILE_NAME, &positions);
    ivm_buf err = {0};
    ivm_value form;
    ivm_source_pos where;
    size_t forms = 0;
    double t0 = t_now();
    while (ivm_read(&r, &form, &where, &err) == 1)
        forms++;
    double dt = t_now() - t0;
    cr_expect_eq(err.len, 0);
    cr_log_info("read %zu forms (%zu bytes) in %.1f ms: %.0f MB/s, %u positions", forms,
                text.len, dt * 1e3, (double)text.len / dt / 1e6, positions.count);
    ivm_buf_free(&text);
}
