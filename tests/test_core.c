/* The core library (src/compiler/core*.c): every native it installs,
 * called through ivm_call as a program would call it, with arguments
 * written as EDN and results compared with what Clojure prints for the
 * same call (or, for hash maps and sets whose order may differ from
 * Clojure's, by equality with the expected value). Covers numbers and
 * compare, predicates, strings and clojure.string, collections and the seq
 * functions on every kind of collection (nil, empty, strings, maps as [k v]
 * entries), higher-order functions given natives, keywords and sets as
 * functions, explicit transients and their FROZEN / NOT_OWNER errors,
 * bytes, slurp and spit, error messages for bad arguments, and 1M-element
 * builds (vec, into, reduce) that must stay fast.
 *
 * Arguments are read by a small EDN reader below; a bare symbol at the top
 * level of an argument list stands for the global of that name (a
 * function), while 'x is the symbol itself. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/compile.h"
#include "compiler/core.h"
#include "support.h"
#include "values/map.h"
#include "values/vector.h"

static ivm_vm vm;

static void setup(void)
{
    cr_assert(ivm_vm_init(&vm, (size_t)1 << 30, IVM_ARENA_LAZY));
    ivm_core_install(&vm);
    ivm_compiler_install(&vm); /* the prelude: lazy sequences */
}

static void teardown(void) { ivm_vm_destroy(&vm); }

TestSuite(core, .init = setup, .fini = teardown);

/* ---- A small EDN reader for the tests ---------------------------------- */

typedef struct reader { const char *p; } reader;

static void skip_space(reader *r)
{
    while (*r->p && (isspace((unsigned char)*r->p) || *r->p == ','))
        r->p++;
}

static bool is_delim(char c) { return !c || isspace((unsigned char)c) || strchr("()[]{},\"", c); }

static ivm_value read_form(reader *r);

static ivm_value read_seq(reader *r, char close, size_t *n, ivm_value **items)
{
    size_t cap = 8;
    *items = malloc(cap * sizeof **items);
    *n = 0;
    for (;;) {
        skip_space(r);
        cr_assert(*r->p, "unterminated collection in test EDN");
        if (*r->p == close) {
            r->p++;
            return IVM_NIL;
        }
        if (*n == cap)
            *items = realloc(*items, (cap *= 2) * sizeof **items);
        (*items)[(*n)++] = read_form(r);
    }
}

static ivm_value read_form(reader *r)
{
    ivm_heap *h = &vm.heap;
    skip_space(r);
    char c = *r->p;
    cr_assert(c, "unexpected end of test EDN");
    size_t n;
    ivm_value *items, v;
    if (c == '(' || c == '[' || c == '{' || (c == '#' && r->p[1] == '{')) {
        r->p += c == '#' ? 2 : 1;
        read_seq(r, c == '(' ? ')' : c == '[' ? ']' : '}', &n, &items);
        if (c == '(') {
            v = IVM_EMPTY_LIST;
            for (size_t i = n; i-- > 0;)
                v = ivm_cons_new(h, items[i], v);
        } else if (c == '[') {
            v = ivm_vec_from(h, items, n);
        } else if (c == '{') {
            v = ivm_map_empty(h);
            for (size_t i = 0; i + 1 < n; i += 2)
                v = ivm_map_assoc(h, v, items[i], items[i + 1]);
        } else {
            v = ivm_set_empty(h);
            for (size_t i = 0; i < n; i++)
                v = ivm_set_conj(h, v, items[i]);
        }
        free(items);
        return v;
    }
    if (c == '"') {
        char *buf = malloc(strlen(r->p) + 1);
        size_t len = 0;
        for (r->p++; *r->p != '"'; r->p++) {
            cr_assert(*r->p, "unterminated string in test EDN");
            if (*r->p == '\\') {
                r->p++;
                buf[len++] = *r->p == 'n' ? '\n' : *r->p == 't' ? '\t' : *r->p == 'r' ? '\r' : *r->p;
            } else {
                buf[len++] = *r->p;
            }
        }
        r->p++;
        v = ivm_string(h, buf, len);
        free(buf);
        return v;
    }
    if (c == '\\') { /* \a \newline \space \é */
        const char *start = ++r->p;
        do
            r->p++;
        while (!is_delim(*r->p));
        uint32_t cp;
        if (ivm_char_named(start, (size_t)(r->p - start), &cp))
            return ivm_char(cp);
        const uint8_t *s = (const uint8_t *)start;
        cp = s[0] < 0x80 ? s[0] : s[0] < 0xe0 ? ((s[0] & 0x1fu) << 6) | (s[1] & 0x3f)
                                              : ((s[0] & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3f);
        return ivm_char(cp);
    }
    if (c == '\'') {
        r->p++;
        return read_form(r);
    }
    const char *start = r->p;
    while (!is_delim(*r->p))
        r->p++;
    size_t len = (size_t)(r->p - start);
    char *tok = strndup(start, len);
    if (strcmp(tok, "##NaN") == 0)
        v = ivm_float(h, 0.0 / 0.0);
    else if (strcmp(tok, "##Inf") == 0)
        v = ivm_float(h, 1.0 / 0.0);
    else if (strcmp(tok, "nil") == 0)
        v = IVM_NIL;
    else if (strcmp(tok, "true") == 0)
        v = IVM_TRUE;
    else if (strcmp(tok, "false") == 0)
        v = IVM_FALSE;
    else if (tok[0] == ':')
        v = ivm_keyword(h, tok + 1, len - 1);
    else if (isdigit((unsigned char)tok[0]) || ((tok[0] == '-' || tok[0] == '+') && isdigit((unsigned char)tok[1]))) {
        if (strpbrk(tok, ".eE"))
            v = ivm_float(h, strtod(tok, NULL));
        else
            v = ivm_int(h, strtoll(tok, NULL, 10));
    } else {
        v = ivm_symbol(h, tok, len);
    }
    free(tok);
    return v;
}

static ivm_value rd(const char *text)
{
    reader r = {text};
    return read_form(&r);
}

static ivm_value global(const char *name)
{
    ivm_value v = vm.globals[ivm_global_slot(&vm, ivm_symbol_cstr(&vm.heap, name))].value;
    cr_assert_neq(v, IVM_UNBOUND, "no global %s", name);
    return v;
}

/* The arguments in text: EDN forms, a bare top-level symbol standing for
 * its global. */
static size_t read_args(const char *text, ivm_value *args, size_t max)
{
    reader r = {text};
    size_t n = 0;
    for (;;) {
        skip_space(&r);
        if (!*r.p)
            return n;
        cr_assert(n < max);
        bool quoted = *r.p == '\'';
        ivm_value v = read_form(&r);
        if (!quoted && ivm_is_kind(v, IVM_K_SYMBOL))
            v = global((const char *)ivm_as_str(v)->bytes);
        args[n++] = v;
    }
}

static char *pr(ivm_value v, bool readably)
{
    ivm_buf b = {0};
    ivm_print(&vm.heap, &b, v, readably);
    char *s = t_strndup(b.data ? b.data : "", b.len);
    ivm_buf_free(&b);
    return s;
}

static ivm_status call_v(const char *fn, const ivm_value *args, size_t n, ivm_value *out)
{
    return ivm_call(&vm, global(fn), (uint32_t)n, args, out);
}

/* (fn args...) must succeed; its value. */
static ivm_value call(const char *fn, const char *argtext)
{
    ivm_value args[16], out = IVM_NIL;
    size_t n = read_args(argtext, args, 16);
    ivm_status st = call_v(fn, args, n, &out);
    cr_assert_eq(st, IVM_OK, "(%s %s) failed: %s", fn, argtext,
                 st == IVM_ERROR ? pr(vm.error, false) : "interrupted");
    return out;
}

/* (fn args...) prints (pr) as expected. */
static void expect(const char *expected, const char *fn, const char *argtext)
{
    char *got = pr(call(fn, argtext), true);
    cr_assert_str_eq(got, expected, "(%s %s) gave %s, expected %s", fn, argtext, got, expected);
}

/* (fn args...) equals the value `expected` reads as. */
static void expect_eq(const char *expected, const char *fn, const char *argtext)
{
    ivm_value got = call(fn, argtext);
    cr_assert(ivm_equal(got, rd(expected)), "(%s %s) gave %s, expected %s", fn, argtext,
              pr(got, true), expected);
}

/* (fn args...) throws exactly the message. */
static void expect_error(const char *message, const char *fn, const char *argtext)
{
    ivm_value args[16], out = IVM_NIL;
    size_t n = read_args(argtext, args, 16);
    ivm_status st = call_v(fn, args, n, &out);
    cr_assert_eq(st, IVM_ERROR, "(%s %s) should fail but gave %s", fn, argtext, pr(out, true));
    char *got = pr(vm.error, false);
    cr_assert_str_eq(got, message, "(%s %s) threw \"%s\", expected \"%s\"", fn, argtext, got, message);
}

/* Binds a global so that later argument lists can name it. */
static void let(const char *name, ivm_value v) { ivm_global_set(&vm, name, v); }

/* ---- Numbers ----------------------------------------------------------- */

Test(core, numeric_equality_and_signs)
{
    expect("true", "==", "1 1.0");
    expect("false", "==", "1 2");
    expect("true", "==", "2 2 2.0");
    expect("true", "==", "5");
    expect_error("== expects numbers, got string: \"a\"", "==", "1 \"a\"");
    expect("true", "zero?", "0");
    expect("true", "zero?", "0.0");
    expect("false", "zero?", "3");
    expect("true", "pos?", "0.5");
    expect("false", "pos?", "-1");
    expect("true", "neg?", "-1.5");
    expect("false", "neg?", "0");
    expect_error("zero? expects a number, got nil: nil", "zero?", "nil");
    expect("true", "even?", "-2");
    expect("false", "even?", "3");
    expect("true", "odd?", "3");
    expect("true", "even?", "0");
    expect_error("Argument must be an integer: 1.5", "even?", "1.5");
    expect_error("Argument must be an integer: :a", "odd?", ":a");
}

Test(core, min_max_abs)
{
    expect("3", "max", "1 3 2");
    expect("1", "min", "3 1 2");
    expect("2.5", "max", "1 2.5");
    expect("1.0", "max", "1 1.0"); /* a tie goes to the later, as Clojure */
    expect("-7", "min", "-7");
    expect("##NaN", "max", "1 ##NaN 3");
    expect_error("max expects numbers, got keyword: :a", "max", "1 :a");
    expect("5", "abs", "-5");
    expect("2.5", "abs", "-2.5");
    expect("0", "abs", "0");
    expect_error("abs expects a number, got string: \"x\"", "abs", "\"x\"");
    expect_error("integer overflow", "abs", "-9223372036854775808");
}

Test(core, bits)
{
    expect("8", "bit-and", "12 10");
    expect("0", "bit-and", "12 10 1");
    expect("14", "bit-or", "12 10");
    expect("6", "bit-xor", "12 10");
    expect("-1", "bit-not", "0");
    expect("1024", "bit-shift-left", "1 10");
    expect("1", "bit-shift-left", "1 64"); /* Java masks the distance */
    expect("4611686018427387904", "bit-shift-left", "1 62");
    expect("-9223372036854775808", "bit-shift-left", "1 63");
    expect("-4", "bit-shift-right", "-16 2");
    expect("4611686018427387903", "unsigned-bit-shift-right", "-1 2");
    expect_error("bit operations expect integers, got float: 1.5", "bit-and", "1.5 1");
    expect_error("bit operations expect integers, got nil: nil", "bit-shift-left", "1 nil");
}

Test(core, parse_long_and_double)
{
    expect("42", "parse-long", "\"42\"");
    expect("-7", "parse-long", "\"-7\"");
    expect("7", "parse-long", "\"+7\"");
    expect("-9223372036854775808", "parse-long", "\"-9223372036854775808\"");
    expect("9223372036854775807", "parse-long", "\"9223372036854775807\"");
    expect("nil", "parse-long", "\"9223372036854775808\"");
    expect("nil", "parse-long", "\"4.2\"");
    expect("nil", "parse-long", "\"\"");
    expect("nil", "parse-long", "\"-\"");
    expect("nil", "parse-long", "\" 1\"");
    expect_error("Expected string, got integer: 5", "parse-long", "5");
    expect("1.5", "parse-double", "\"1.5\"");
    expect("1.0E10", "parse-double", "\"1e10\"");
    expect("2.0", "parse-double", "\" 2 \"");
    expect("0.5", "parse-double", "\".5\"");
    expect("1.0", "parse-double", "\"1.\"");
    expect("-2.5E-7", "parse-double", "\"-2.5e-7\"");
    expect("1.5", "parse-double", "\"1.5f\"");
    expect("##NaN", "parse-double", "\"NaN\"");
    expect("##-Inf", "parse-double", "\"-Infinity\"");
    expect("nil", "parse-double", "\"x\"");
    expect("nil", "parse-double", "\".\"");
    expect("nil", "parse-double", "\"1e\"");
    expect("nil", "parse-double", "\"\"");
    expect_error("Expected string, got nil: nil", "parse-double", "nil");
}

Test(core, nano_time_is_monotonic)
{
    ivm_value a = call("nano-time", ""), b = call("nano-time", "");
    cr_assert(ivm_is_int(a) && ivm_is_int(b));
    cr_assert_geq(ivm_int_value(b), ivm_int_value(a));
    cr_assert_gt(ivm_int_value(a), 0);
}

Test(core, compare_as_clojure)
{
    expect("-1", "compare", "1 2");
    expect("0", "compare", "2 2.0");
    expect("1", "compare", "2.5 1");
    expect("-2", "compare", "\"a\" \"c\"");
    expect("1", "compare", "\"abc\" \"ab\"");
    expect("0", "compare", "\"é\" \"é\"");
    expect("-1", "compare", ":a :b");
    expect("1", "compare", ":a/b :b");
    expect("-1", "compare", "'x/a 'y/a");
    expect("-1", "compare", "nil 1");
    expect("1", "compare", "\"a\" nil");
    expect("0", "compare", "nil nil");
    expect("-1", "compare", "false true");
    expect("-2", "compare", "\\a \\c");
    expect("-1", "compare", "[1 2] [1 3]");
    expect("1", "compare", "[1 2 3] [9]");
    expect("0", "compare", "[[1 [2]] 3] [[1 [2]] 3]");
    expect("-1", "compare", "[[1 [2]] 3] [[1 [3]] 0]");
    expect_error("Cannot compare integer 1 with string \"a\"", "compare", "1 \"a\"");
    expect_error("Cannot compare list (1) with list (2)", "compare", "(1) (2)");
    expect_error("Cannot compare map {} with map {}", "compare", "{} {}");
}

Test(core, conversions)
{
    expect("1", "int", "1.9");
    expect("-1", "long", "-1.9");
    expect("97", "int", "\\a");
    expect("2.0", "double", "2");
    expect("\\a", "char", "97");
    expect("true", "boolean", "0");
    expect("false", "boolean", "nil");
    expect_error("cannot convert to an integer, got string: \"1\"", "long", "\"1\"");
}

/* ---- Predicates -------------------------------------------------------- */

Test(core, predicates)
{
    expect("true", "some?", "false");
    expect("false", "some?", "nil");
    expect("true", "true?", "true");
    expect("false", "true?", "1");
    expect("true", "false?", "false");
    expect("false", "false?", "nil");
    expect("true", "number?", "1.5");
    expect("false", "number?", "\"1\"");
    expect("true", "integer?", "1");
    expect("false", "integer?", "1.0");
    expect("true", "float?", "1.0");
    expect("true", "string?", "\"\"");
    expect("false", "string?", "\\a");
    expect("true", "keyword?", ":a");
    expect("true", "symbol?", "'a");
    expect("false", "symbol?", ":a");
    expect("true", "vector?", "[]");
    expect("false", "vector?", "()");
    expect("true", "map?", "{}");
    expect("true", "set?", "#{}");
    expect("true", "list?", "()");
    expect("true", "list?", "(1)");
    expect("false", "list?", "[1]");
    expect("true", "seq?", "(1)");
    expect("true", "fn?", "inc");
    expect("false", "fn?", ":a");
    expect("true", "coll?", "{}");
    expect("false", "coll?", "\"abc\"");
    expect("true", "sequential?", "[1]");
    expect("true", "boolean?", "false");
    expect("true", "char?", "\\a");
    expect("true", "nat-int?", "0");
    expect("true", "pos-int?", "1");
    expect("true", "neg-int?", "-1");
    expect("true", "NaN?", "##NaN");
    expect("true", "infinite?", "##Inf");
    expect("true", "empty?", "nil");
    expect("true", "empty?", "[]");
    expect("true", "empty?", "\"\"");
    expect("false", "empty?", "{:a 1}");
    expect("false", "empty?", "\"a\"");
    expect_error("Don't know how to create ISeq from this value, got integer: 1", "empty?", "1");
    /* the map of (map inc xs) is a list: Clojure's seq? */
    let("xs", call("map", "inc [1 2]"));
    expect("true", "seq?", "xs");
}

/* ---- Strings ----------------------------------------------------------- */

Test(core, subs_name_keyword_symbol)
{
    expect("5", "count", "\"héllo\"");
    expect("\"él\"", "subs", "\"héllo\" 1 3");
    expect("\"llo\"", "subs", "\"hello\" 2");
    expect("\"\"", "subs", "\"abc\" 3");
    expect_error("begin 0, end 10, length 3", "subs", "\"abc\" 0 10");
    expect_error("begin 2, end 1, length 3", "subs", "\"abc\" 2 1");
    expect_error("subs expects a string, got keyword: :a", "subs", ":a 0");
    expect("\\é", "nth", "\"héllo\" 1");
    expect("\\o", "nth", "\"héllo\" 4");
    expect("\"b\"", "name", ":a/b");
    expect("\"x\"", "name", "'x");
    expect("\"s\"", "name", "\"s\"");
    expect_error("Doesn't support name: 1", "name", "1");
    expect("\"a\"", "namespace", ":a/b");
    expect("nil", "namespace", ":b");
    expect(":a", "keyword", "\"a\"");
    expect(":ns/a", "keyword", "\"ns\" \"a\"");
    expect(":a", "keyword", "nil \"a\"");
    expect(":x", "keyword", "'x");
    expect(":k", "keyword", ":k");
    expect("nil", "keyword", "1");
    expect("a", "symbol", "\"a\"");
    expect("ns/a", "symbol", "\"ns\" \"a\"");
    expect("k", "symbol", ":k");
    expect_error("no conversion to symbol, got integer: 1", "symbol", "1");
    /* keyword and symbol name the same as the reader's */
    cr_assert(ivm_equal(call("keyword", "\"ns\" \"a\""), rd(":ns/a")));
    expect("\"ns\"", "namespace", "'ns/a");
}

Test(core, string_split_and_join)
{
    expect("[\"a\" \"b\" \"\" \"c\"]", "clojure.string/split", "\"a,b,,c,,\" \",\"");
    expect("[\"a\" \"b\" \"c\"]", "clojure.string/split", "\"abc\" \"\"");
    expect("[\"\"]", "clojure.string/split", "\"\" \",\"");
    expect("[]", "clojure.string/split", "\",\" \",\"");
    expect("[\"abc\"]", "clojure.string/split", "\"abc\" \",\"");
    expect("[\"a\" \"b,c\"]", "clojure.string/split", "\"a,b,c\" \",\" 2");
    expect("[\"a\" \"\" \"\"]", "clojure.string/split", "\"a,,\" \",\" -1");
    expect("[\"a\" \"b\"]", "clojure.string/split", "\"a::b\" \"::\"");
    expect("[\"h\" \"llo\"]", "clojure.string/split", "\"héllo\" \\é");
    expect_error("clojure.string/split expects a string, got nil: nil", "clojure.string/split", "nil \",\"");
    expect("[\"a\" \"b\" \"\" \"c\"]", "clojure.string/split-lines", "\"a\\nb\\r\\n\\nc\\n\\n\"");
    expect("[\"\"]", "clojure.string/split-lines", "\"\"");
    expect("\"123\"", "clojure.string/join", "[1 2 3]");
    expect("\"1, a, , :k, [\\\"s\\\"]\"", "clojure.string/join", "\", \" [1 \"a\" nil :k [\"s\"]]");
    expect("\"\"", "clojure.string/join", "\"-\" []");
    expect("\"a1b\"", "clojure.string/join", "1 \"ab\"");
    expect("\"1.0-x\"", "clojure.string/join", "\\- [1.0 'x]");
}

Test(core, string_trim_case_and_search)
{
    expect("\"a b\"", "clojure.string/trim", "\"  a b \\n\\t\"");
    expect("\"a \"", "clojure.string/triml", "\"  a \"");
    expect("\"  a\"", "clojure.string/trimr", "\"  a \"");
    expect("\"\"", "clojure.string/trim", "\"   \"");
    expect("\"HÉLLO, ΣΑΣ, ЖУК\"", "clojure.string/upper-case", "\"héllo, σας, жук\"");
    expect("\"àb łódź\"", "clojure.string/lower-case", "\"ÀB ŁÓDŹ\"");
    expect("\"Hello\"", "clojure.string/capitalize", "\"hELLO\"");
    expect("\"olléh\"", "clojure.string/reverse", "\"héllo\"");
    expect("true", "clojure.string/blank?", "nil");
    expect("true", "clojure.string/blank?", "\" \\n\"");
    expect("false", "clojure.string/blank?", "\" a\"");
    expect("true", "clojure.string/includes?", "\"héllo\" \"él\"");
    expect("false", "clojure.string/includes?", "\"hello\" \"x\"");
    expect("true", "clojure.string/includes?", "\"hello\" \"\"");
    expect("true", "clojure.string/starts-with?", "\"hello\" \"he\"");
    expect("false", "clojure.string/starts-with?", "\"he\" \"hello\"");
    expect("true", "clojure.string/ends-with?", "\"hello\" \"lo\"");
    expect("false", "clojure.string/ends-with?", "\"hello\" \"he\"");
    expect_error("clojure.string/includes? expects a string, got character: \\a",
                 "clojure.string/includes?", "\"abc\" \\a");
    expect("2", "clojure.string/index-of", "\"héllo\" \"l\"");
    expect("3", "clojure.string/index-of", "\"héllo\" \\l 3");
    expect("nil", "clojure.string/index-of", "\"hello\" \"z\"");
    expect("\"a+b+c\"", "clojure.string/replace", "\"a-b-c\" \"-\" \"+\"");
    expect("\"xaxbx\"", "clojure.string/replace", "\"ab\" \"\" \"x\"");
    expect("\"ayby\"", "clojure.string/replace", "\"aXbX\" \\X \\y");
    expect("\"a+b-c\"", "clojure.string/replace-first", "\"a-b-c\" \"-\" \"+\"");
    expect("\"hello\"", "clojure.string/replace", "\"hello\" \"z\" \"y\"");
    expect_error("Invalid match arg: 1", "clojure.string/replace", "\"a\" 1 \"b\"");
    /* Clojure's upper-case calls toString on its argument; nil is an error */
    expect("\":A\"", "clojure.string/upper-case", ":a");
    expect_error("clojure.string/upper-case expects a string, got nil: nil",
                 "clojure.string/upper-case", "nil");
}

/* ---- Collections: reading ---------------------------------------------- */

Test(core, count_everything)
{
    expect("0", "count", "nil");
    expect("2", "count", "[1 2]");
    expect("2", "count", "(1 2)");
    expect("0", "count", "()");
    expect("1", "count", "{:a 1}");
    expect("3", "count", "#{1 2 3}");
    expect("5", "count", "\"héllo\"");
    expect_error("count not supported on this type, got integer: 5", "count", "5");
    expect_error("wrong number of args (0) passed to #function[count]", "count", "");
}

Test(core, get_and_friends)
{
    expect("1", "get", "{:a 1} :a");
    expect("0", "get", "{:a 1} :b 0");
    expect("nil", "get", "{:a 1} :b");
    expect("2", "get", "[1 2] 1");
    expect("nil", "get", "[1 2] 5");
    expect("nil", "get", "[1 2] -1");
    expect(":d", "get", "[1 2] :x :d");
    expect("1", "get", "#{1} 1");
    expect("nil", "get", "#{1} 2");
    expect("nil", "get", "nil :a");
    expect(":d", "get", "nil :a :d");
    expect("\\b", "get", "\"abc\" 1");
    expect("nil", "get", "5 :a");
    expect("1", "get-in", "{:a {:b 1}} [:a :b]");
    expect("2", "get-in", "{:a [1 2]} [:a 1]");
    expect(":nf", "get-in", "{:a 1} [:x :y] :nf");
    expect("nil", "get-in", "{:a 1} [:x :y]");
    expect("{:a 1}", "get-in", "{:a 1} []");
    expect("true", "contains?", "{:a 1} :a");
    expect("true", "contains?", "{:a nil} :a");
    expect("false", "contains?", "{:a 1} :b");
    expect("true", "contains?", "[1 2] 1");
    expect("false", "contains?", "[1 2] 2");
    expect("false", "contains?", "[1 2] :a");
    expect("true", "contains?", "#{1} 1");
    expect("false", "contains?", "nil 1");
    expect("true", "contains?", "\"ab\" 1");
    expect_error("contains? not supported on this type, got integer: 5", "contains?", "5 1");
    expect("2", "nth", "[1 2 3] 1");
    expect_error("Index 5 out of bounds for length 3", "nth", "[1 2 3] 5");
    expect_error("Index -1 out of bounds for length 3", "nth", "[1 2 3] -1");
    expect(":d", "nth", "[1] 5 :d");
    expect("2", "nth", "(1 2) 1");
    expect_error("Index 2 out of bounds for length 2", "nth", "(1 2) 2");
    expect("\\c", "nth", "\"abc\" 2");
    expect("nil", "nth", "nil 0");
    expect_error("nth not supported on this type, got map: {:a 1}", "nth", "{:a 1} 0");
    expect_error("an index must be an integer, got keyword: :a", "nth", "[1] :a");
    expect("(:a)", "keys", "{:a 1}");
    expect("(1)", "vals", "{:a 1}");
    expect("nil", "keys", "{}");
    expect("nil", "vals", "nil");
    expect_error("keys expects a map, got vector: [1]", "keys", "[1]");
    expect_eq("(:a :b)", "sort", "(:b :a)"); /* sanity of the helper */
    ivm_value ks = call("keys", "{:a 1 :b 2 :c 3}");
    let("ks", ks);
    expect("(:a :b :c)", "sort", "ks");
    expect("[:a 1]", "find", "{:a 1} :a");
    expect("nil", "find", "{:a 1} :b");
    expect(":a", "key", "[:a 1]");
    expect("1", "val", "[:a 1]");
    expect_eq("{:a 1 :c 3}", "select-keys", "{:a 1 :b 2 :c 3} [:a :c :d]");
}

Test(core, first_rest_next_last)
{
    expect("1", "first", "[1 2]");
    expect("1", "first", "(1 2)");
    expect("nil", "first", "nil");
    expect("nil", "first", "[]");
    expect("nil", "first", "()");
    expect("[:a 1]", "first", "{:a 1}");
    expect("\\a", "first", "\"ab\"");
    expect("nil", "first", "\"\"");
    expect("5", "first", "#{5}");
    expect_error("Don't know how to create ISeq from this value, got integer: 5", "first", "5");
    expect("2", "second", "[1 2 3]");
    expect("nil", "second", "[1]");
    expect("\\b", "second", "\"ab\"");
    expect("1", "ffirst", "[[1 2]]");
    expect("(2 3)", "rest", "[1 2 3]");
    expect("(2 3)", "rest", "(1 2 3)");
    expect("()", "rest", "nil");
    expect("()", "rest", "[1]");
    expect("()", "rest", "[]");
    expect("(\\b)", "rest", "\"ab\"");
    expect("nil", "next", "[1]");
    expect("nil", "next", "nil");
    expect("(2)", "next", "[1 2]");
    expect("3", "last", "[1 2 3]");
    expect("2", "last", "(1 2)");
    expect("nil", "last", "nil");
    expect("nil", "last", "[]");
    expect("\\c", "last", "\"abc\"");
    expect("(3)", "nthrest", "[1 2 3] 2");
    expect("[1 2 3]", "nthrest", "[1 2 3] 0");
    expect("nil", "nthnext", "[1 2 3] 3");
    expect("(2 3)", "nthnext", "(1 2 3) 1");
}

Test(core, map_entries_and_sets_as_seqs)
{
    /* one-entry maps print the same in any order */
    expect("([:a 1])", "seq", "{:a 1}");
    ivm_value entries = call("seq", "{:a 1 :b 2}");
    cr_assert_eq(ivm_list_count(entries), 2);
    let("es", entries);
    expect("([:a 1] [:b 2])", "sort", "es");
    expect("nil", "next", "{:a 1}");
    expect("()", "rest", "#{2}");
}

Test(core, seq_cons_concat)
{
    expect("nil", "seq", "[]");
    expect("nil", "seq", "nil");
    expect("nil", "seq", "\"\"");
    expect("nil", "seq", "{}");
    expect("(1 2)", "seq", "[1 2]");
    expect("(1)", "seq", "(1)");
    expect("(\\a \\b)", "seq", "\"ab\"");
    expect("(1)", "seq", "#{1}");
    expect_error("Don't know how to create ISeq from this value, got keyword: :a", "seq", ":a");
    expect("(0 1 2)", "cons", "0 [1 2]");
    expect("(1)", "cons", "1 nil");
    expect("(0 1)", "cons", "0 (1)");
    expect("(0 \\a)", "cons", "0 \"a\"");
    expect("(1 2 \\a \\b 3)", "concat", "[1] (2) nil \"ab\" #{3}");
    expect("()", "concat", "");
    expect("(1 2)", "concat", "[1] (2)");
    expect_error("Don't know how to create ISeq from this value, got integer: 1", "concat", "[1] 1");
}

Test(core, peek_pop_empty)
{
    expect("2", "peek", "[1 2]");
    expect("1", "peek", "(1 2)");
    expect("nil", "peek", "[]");
    expect("nil", "peek", "nil");
    expect_error("peek not supported on this type, got set: #{}", "peek", "#{}");
    expect("[1]", "pop", "[1 2]");
    expect("(2)", "pop", "(1 2)");
    expect("nil", "pop", "nil");
    expect_error("Can't pop empty vector", "pop", "[]");
    expect_error("Can't pop empty list", "pop", "()");
    expect("[]", "empty", "[1]");
    expect("{}", "empty", "{:a 1}");
    expect("#{}", "empty", "#{1}");
    expect("()", "empty", "(1)");
    expect("nil", "empty", "nil");
    expect("nil", "empty", "\"abc\"");
    expect("nil", "not-empty", "[]");
    expect("[1]", "not-empty", "[1]");
    expect("nil", "not-empty", "\"\"");
    expect("\"a\"", "not-empty", "\"a\"");
    expect("nil", "not-empty", "nil");
}

/* ---- Collections: building --------------------------------------------- */

Test(core, conj_assoc_dissoc_disj)
{
    expect("[1 2 3]", "conj", "[1] 2 3");
    expect("(3 2 1)", "conj", "(1) 2 3");
    expect("(1)", "conj", "nil 1");
    expect("[]", "conj", "");
    expect("[1]", "conj", "[1]");
    expect_eq("{:a 1 :b 2}", "conj", "{:a 1} [:b 2]");
    expect_eq("{:a 1 :b 2 :c 3}", "conj", "{:a 1} {:b 2 :c 3}");
    expect("{:a 1}", "conj", "{:a 1} nil");
    expect("#{1}", "conj", "#{} 1 1");
    expect_error("Vector arg to map conj must be a pair, got: [1]", "conj", "{} [1]");
    expect_error("conj not supported on this type, got string: \"a\"", "conj", "\"a\" 1");
    expect("{:a 1}", "assoc", "{} :a 1");
    expect("{:a 1}", "assoc", "nil :a 1");
    expect_eq("{:a 1 :b 2}", "assoc", "{:a 0} :a 1 :b 2");
    expect("[1 2 3]", "assoc", "[1 2] 2 3");
    expect("[9 2]", "assoc", "[1 2] 0 9");
    expect_error("Index 5 out of bounds for length 2", "assoc", "[1 2] 5 0");
    expect_error("Key must be integer: :a", "assoc", "[1 2] :a 0");
    expect_error("assoc expects even number of arguments after map/vector, found odd number",
                 "assoc", "{} :a 1 :b");
    expect_error("assoc not supported on this type, got integer: 1", "assoc", "1 :a 1");
    expect_error("wrong number of args (2) passed to #function[assoc]", "assoc", "{} :a");
    expect("{:b 2}", "dissoc", "{:a 1 :b 2} :a");
    expect("{}", "dissoc", "{:a 1 :b 2} :a :b :c");
    expect("{:a 1}", "dissoc", "{:a 1}");
    expect("nil", "dissoc", "nil :a");
    expect_error("dissoc expects a map, got vector: [1]", "dissoc", "[1] 0");
    expect("#{2}", "disj", "#{1 2} 1");
    expect("#{}", "disj", "#{1 2} 1 2 3");
    expect("nil", "disj", "nil 1");
    expect_error("disj expects a set, got map: {}", "disj", "{} 1");
}

Test(core, assoc_in_update_update_in)
{
    expect("{:a {:b 1}}", "assoc-in", "{} [:a :b] 1");
    expect("{:a {:b 1}}", "assoc-in", "nil [:a :b] 1");
    expect("{:a [9 2]}", "assoc-in", "{:a [1 2]} [:a 0] 9");
    expect("{nil 1}", "assoc-in", "{} [] 1");
    expect_error("assoc not supported on this type, got integer: 5", "assoc-in", "{:a 5} [:a :b] 1");
    expect("{:a 2}", "update", "{:a 1} :a inc");
    expect("{:a 31}", "update", "{:a 1} :a + 10 20");
    expect("[2 2]", "update", "[1 2] 0 inc");
    expect("{:a (1)}", "update", "{} :a conj 1");
    expect_error("the operands of + must be numbers, got nil: nil", "update", "{} :a inc");
    expect("{:a {:b 2}}", "update-in", "{:a {:b 1}} [:a :b] inc");
    expect("{:a {:b 11}}", "update-in", "{:a {:b 1}} [:a :b] + 4 6");
    expect("{:a [1 {:c (1)}]}", "update-in", "{:a [1 {}]} [:a 1 :c] conj 1");
    expect("{nil (1)}", "update-in", "{} [] conj 1");
}

Test(core, constructors)
{
    expect("(1 2)", "list", "1 2");
    expect("()", "list", "");
    expect("[]", "vector", "");
    expect("[1 \"a\" nil]", "vector", "1 \"a\" nil");
    expect("{:a 1}", "hash-map", ":a 1");
    expect("{}", "hash-map", "");
    expect_eq("{:a 1 :b 2}", "hash-map", ":a 0 :b 2 :a 1");
    expect_error("No value supplied for key: :b", "hash-map", ":a 1 :b");
    expect_eq("#{1 2}", "hash-set", "1 1 2");
    expect("#{}", "hash-set", "");
    expect("[1 2]", "vec", "(1 2)");
    expect("[]", "vec", "nil");
    expect("[[:a 1]]", "vec", "{:a 1}");
    expect("[\\a \\b]", "vec", "\"ab\"");
    expect("[1 2]", "vec", "[1 2]");
    expect_error("Don't know how to create ISeq from this value, got integer: 1", "vec", "1");
    expect("#{1}", "set", "[1 1]");
    expect("#{}", "set", "nil");
    expect_eq("#{1 2}", "set", "#{1 2}");
}

Test(core, into_merge_zipmap)
{
    expect("[1 2]", "into", "[] (1 2)");
    expect("[0 1 2]", "into", "[0] [1 2]");
    expect("(3 2 1)", "into", "(1) [2 3]");
    expect("(2 1)", "into", "nil [1 2]");
    expect("{:a 1}", "into", "{} [[:a 1]]");
    expect_eq("{:a 1 :b 2}", "into", "{:a 1} {:b 2}");
    expect("#{1}", "into", "#{} [1 1]");
    expect("[[:a 1]]", "into", "[] {:a 1}");
    expect("[]", "into", "");
    expect("[1]", "into", "[1]");
    expect_error("Vector arg to map conj must be a pair, got: 1", "into", "{} [1]");
    expect_error("conj not supported on this type, got integer: 5", "into", "5 [1]");
    expect_eq("{:a 1 :b 2}", "merge", "{:a 1} {:b 2} nil");
    expect("{:a 2}", "merge", "{:a 1} {:a 2}");
    expect("nil", "merge", "");
    expect("nil", "merge", "nil nil");
    expect("{:a 1}", "merge", "nil {:a 1}");
    expect("{:a 1}", "merge", "{:a 1}");
    expect_eq("{:a 3 :b 3}", "merge-with", "+ {:a 1} {:a 2 :b 3}");
    expect_eq("{:a 6}", "merge-with", "+ {:a 1} nil {:a 2} {:a 3}");
    expect("nil", "merge-with", "+ nil");
    expect_error("merge-with expects maps, got vector: [1]", "merge-with", "+ {} [1]");
    expect_eq("{:a 1 :b 2}", "zipmap", "[:a :b] [1 2 3]");
    expect("{}", "zipmap", "[] [1]");
    expect_eq("{:a 2 :b 3}", "update-vals", "{:a 1 :b 2} inc");
    expect_eq("{2 :a}", "update-keys", "{1 :a} inc");
}

Test(core, subvec_frequencies_group_by)
{
    expect("[2 3]", "subvec", "[1 2 3 4] 1 3");
    expect("[2 3]", "subvec", "[1 2 3] 1");
    expect("[]", "subvec", "[1 2 3] 3");
    expect_error("Index 5 out of bounds for length 3", "subvec", "[1 2 3] 2 5");
    expect_error("Index 2 out of bounds for length 1", "subvec", "[1 2 3] 2 1");
    expect_error("subvec expects a vector, got list: (1)", "subvec", "(1) 0");
    expect_eq("{1 2, 2 1}", "frequencies", "[1 1 2]");
    expect("{:a 3}", "frequencies", "[:a :a :a]");
    expect("{}", "frequencies", "[]");
    expect_eq("{\\a 2 \\b 1}", "frequencies", "\"aba\"");
    expect_eq("{true [1 3], false [2]}", "group-by", "odd? [1 2 3]");
    expect_eq("{1 [\"a\" \"c\"], 2 [\"bb\"]}", "group-by", "count [\"a\" \"bb\" \"c\"]");
    expect("{}", "group-by", "odd? []");
    expect("{1 [{:k 1} {:k 1}]}", "group-by", ":k [{:k 1} {:k 1}]");
    expect_error("Argument must be an integer: :x", "group-by", "odd? [:x]");
}

/* ---- Higher-order and sequence functions ------------------------------- */

Test(core, reduce_and_reduce_kv)
{
    expect("6", "reduce", "+ [1 2 3]");
    expect("0", "reduce", "+ []");
    expect("5", "reduce", "+ [5]");
    expect("13", "reduce", "+ 10 [1 2]");
    expect("10", "reduce", "+ 10 nil");
    expect("[1 2]", "reduce", "conj [] (1 2)");
    expect("[[:a 1]]", "reduce", "conj [] {:a 1}");
    expect("#{1 2}", "reduce", "conj #{1} [2 2]");
    expect("(2 1)", "reduce", "conj () [1 2]");
    expect("6", "reduce", "max [3 6 2]");
    expect_error("the operands of + must be numbers, got keyword: :a", "reduce", "+ [1 :a]");
    expect_eq("{:a 1 :b 2}", "reduce-kv", "assoc {} {:a 1 :b 2}");
    expect_eq("{0 :x, 1 :y}", "reduce-kv", "assoc {} [:x :y]");
    expect("7", "reduce-kv", "assoc 7 nil");
    expect_error("reduce-kv expects a map or a vector, got list: (1)", "reduce-kv", "assoc {} (1)");
}

Test(core, map_filter_remove)
{
    expect("(2 3)", "map", "inc [1 2]");
    expect("(11 22)", "map", "+ [1 2] [10 20 30]");
    expect("(111)", "map", "+ [1] [10] [100]");
    expect("()", "map", "inc nil");
    expect("(1 nil)", "map", ":a [{:a 1} {}]");
    expect("(true false)", "map", "some? [1 nil]");
    expect("(\"[:a 1]\")", "map", "str {:a 1}");
    expect("(nil 2)", "map", "#{2} [1 2]");
    expect("(:b)", "map", "{1 :b} [1]");
    expect("(\\b)", "map", "[\\a \\b] [1]");
    expect_error("only functions can be called, got integer: 1", "map", "1 [1]");
    expect_error("the operands of + must be numbers, got string: \"a\"", "map", "inc [1 \"a\"]");
    expect("[2 3]", "mapv", "inc (1 2)");
    expect("[]", "mapv", "inc []");
    expect("[4 6]", "mapv", "+ [1 2] [3 4]");
    expect("(1 3)", "filter", "odd? [1 2 3]");
    expect("()", "filter", "odd? nil");
    expect("([:a 1])", "filter", "vector? {:a 1}");
    expect("[2 4]", "filterv", "even? [1 2 3 4]");
    expect("(2)", "remove", "odd? [1 2 3]");
    expect("(1 3)", "keep", ":a [{:a 1} {:b 2} {:a 3}]");
    expect("([0 :a] [1 :b])", "map-indexed", "vector [:a :b]");
    expect("(1 2 3 4)", "mapcat", "identity [[1 2] [3 4]]");
    expect("(1 3 2 4)", "mapcat", "list [1 2] [3 4]");
    expect("nil", "run!", "inc [1 2]");
    expect("[1 2]", "doall", "[1 2]");
    expect("nil", "dorun", "[1 2]");
}

Test(core, some_every_not_any)
{
    expect("true", "some", "even? [1 2 3]");
    expect("2", "some", "#{2 3} [1 2]");
    expect("nil", "some", "even? []");
    expect("nil", "some", "even? [1]");
    expect("true", "every?", "odd? [1 3]");
    expect("false", "every?", "odd? [1 2]");
    expect("true", "every?", "odd? []");
    expect("true", "not-any?", "odd? [2 4]");
    expect("false", "not-any?", "odd? [2 3]");
}

Test(core, range_repeat)
{
    expect("(0 1 2)", "range", "3");
    expect("()", "range", "0");
    expect("()", "range", "-3");
    expect("(1 2 3)", "range", "1 4");
    expect("(10 7 4 1)", "range", "10 0 -3");
    expect("()", "range", "0 10 -1");
    expect("()", "range", "1 1 0");
    expect("(0 0.25 0.5 0.75)", "range", "0 1 0.25");
    expect("(0 0.1 0.2 0.30000000000000004 0.4 0.5 0.6 0.7 0.7999999999999999 "
           "0.8999999999999999 0.9999999999999999)",
           "range", "0 1 0.1");
    expect("(0.5 1.5)", "range", "0.5 2");
    expect("(9223372036854775805 9223372036854775806)", "range",
           "9223372036854775805 9223372036854775807");
    expect("()", "range", "5 5 0"); /* the infinite ones: tests/lang/lazy_*.iv */
    expect_error("range expects numbers, got keyword: :a", "range", ":a");
    expect("(:x :x)", "repeat", "2 :x");
    expect("()", "repeat", "0 :x");
    expect("(() ())", "repeatedly", "2 list");
}

Test(core, repeatedly_calls_each_time)
{
    ivm_value l = call("repeatedly", "3 vector");
    cr_assert_str_eq(pr(l, true), "([] [] [])");
}

Test(core, apply_concat_reverse_interleave)
{
    expect("10", "apply", "+ 1 2 [3 4]");
    expect("\"\"", "apply", "str []");
    expect("3", "apply", "max [3 1 2]");
    expect("[1 2 3]", "apply", "vector 1 (2 3)");
    expect("{:a 1}", "apply", "hash-map [:a 1]");
    expect_error("Don't know how to create ISeq from this value, got integer: 2", "apply", "+ 1 2");
    expect_error("wrong number of args (3) passed to #function[inc]", "apply", "inc [1 2 3]");
    expect("(3 2 1)", "reverse", "[1 2 3]");
    expect("()", "reverse", "nil");
    expect("(\\b \\a)", "reverse", "\"ab\"");
    expect("(1 :a 2 :b)", "interleave", "[1 2 3] [:a :b]");
    expect("()", "interleave", "");
    expect("(\"a\" \", \" \"b\")", "interpose", "\", \" [\"a\" \"b\"]");
    expect("()", "interpose", "0 []");
    expect("(1)", "interpose", "0 [1]");
    expect("(1 2 3 4)", "flatten", "[1 [2 (3)] [[4]]]");
    expect("()", "flatten", "nil");
    expect("({:a 1})", "flatten", "[{:a 1}]");
}

Test(core, take_drop_and_kin)
{
    expect("(1 2)", "take", "2 [1 2 3]");
    expect("(1)", "take", "5 [1]");
    expect("()", "take", "0 [1]");
    expect("()", "take", "-1 [1]");
    expect("(\\a)", "take", "1 \"ab\"");
    expect_error("a count must be an integer, got nil: nil", "take", "nil [1]");
    expect("(2 3)", "drop", "1 [1 2 3]");
    expect("()", "drop", "5 [1]");
    expect("(1 2)", "drop", "-1 (1 2)");
    expect("(1 3)", "take-while", "odd? [1 3 4 5]");
    expect("()", "take-while", "odd? []");
    expect("(4 5)", "drop-while", "odd? [1 3 4 5]");
    expect("(2 3)", "take-last", "2 [1 2 3]");
    expect("nil", "take-last", "2 []");
    expect("(1 2)", "drop-last", "[1 2 3]");
    expect("(1)", "drop-last", "2 [1 2 3]");
    expect("(1 2)", "butlast", "[1 2 3]");
    expect("nil", "butlast", "[1]");
    expect("(0 2 4)", "take-nth", "2 [0 1 2 3 4 5]");
    expect("[(1 2) (3)]", "split-at", "2 [1 2 3]");
    expect("[(1) (2 3)]", "split-with", "odd? [1 2 3]");
}

Test(core, distinct_partition)
{
    expect("(1 2 3)", "distinct", "[1 2 1 3 2]");
    expect("()", "distinct", "nil");
    expect("([1] [2])", "distinct", "[[1] [2] [1]]");
    expect("([1])", "distinct", "[[1] (1)]");
    expect("true", "distinct?", "1 2 3");
    expect("false", "distinct?", "1 2 1");
    expect("((1 2) (3 4))", "partition", "2 [1 2 3 4 5]");
    expect("((1 2) (2 3))", "partition", "2 1 [1 2 3]");
    expect("((1 2) (4 5))", "partition", "2 3 [1 2 3 4 5 6]");
    expect("((1 2 3) (4 :a))", "partition", "3 3 [:a] [1 2 3 4]");
    expect("((1 2 3) (4 :a :b))", "partition", "3 3 [:a :b :c] [1 2 3 4]");
    expect("()", "partition", "2 []");
    expect("()", "partition", "3 [1 2]");
    expect_error("partition with a size or step <= 0 is not supported (Clojure's is an endless seq of empty partitions)",
                 "partition", "0 [1]");
    expect("((1 2) (3))", "partition-all", "2 [1 2 3]");
    expect("((1 2) (2 3) (3))", "partition-all", "2 1 [1 2 3]");
}

Test(core, sort_and_sort_by)
{
    expect("(1 2 3)", "sort", "[3 1 2]");
    expect("(3 2 1)", "sort", "> [3 1 2]");
    expect("(1 2 3)", "sort", "compare (3 2 1)");
    expect("(\"a\" \"b\" \"c\")", "sort", "[\"b\" \"c\" \"a\"]");
    expect("(nil 1 2.5 3)", "sort", "[3 nil 2.5 1]");
    expect("([:a 2] [:b 1])", "sort", "{:b 1 :a 2}");
    expect("([1] [0 0])", "sort", "[[0 0] [1]]");
    expect("()", "sort", "nil");
    expect("(\\a \\b)", "sort", "\"ba\"");
    expect_error("Cannot compare integer 1 with string \"a\"", "sort", "[1 \"a\"]");
    expect_error("a comparator must return a number or a boolean, got nil: nil", "sort", "get [[1] [2]]");
    expect("(\"b\" \"cc\" \"aaa\")", "sort-by", "count [\"aaa\" \"b\" \"cc\"]");
    expect("([2 :b] [1 :a])", "sort-by", "first > [[1 :a] [2 :b]]");
    /* stable */
    expect("([0 :z] [0 :y] [1 :a] [1 :b])", "sort-by", "first [[1 :a] [0 :z] [1 :b] [0 :y]]");
    expect("({:n 1} {:n 2})", "sort-by", ":n [{:n 2} {:n 1}]");
    expect("\"b\"", "max-key", "count \"a\" \"b\"");
    expect("\"ccc\"", "max-key", "count \"a\" \"ccc\" \"bb\"");
    expect("\"a\"", "min-key", "count \"ccc\" \"a\" \"bb\"");
}

Test(core, sort_is_stable_and_fast)
{
    /* 100,000 elements in reverse, then 2-element vectors with equal keys */
    ivm_value n = ivm_fixnum(100000), z = ivm_fixnum(0), m1 = ivm_fixnum(-1);
    ivm_value args[3] = {n, z, m1}, r, sorted;
    cr_assert_eq(call_v("range", args, 3, &r), IVM_OK);
    cr_assert_eq(call_v("sort", &r, 1, &sorted), IVM_OK);
    cr_assert_eq(ivm_list_count(sorted), 100000);
    ivm_value l = sorted;
    for (int64_t i = 1; i <= 100000; i++, l = ivm_as_cons(l)->rest)
        cr_assert_eq(ivm_int_value(ivm_as_cons(l)->first), i);
}

/* ---- Transients -------------------------------------------------------- */

Test(core, explicit_transients)
{
    let("t", call("transient", "[1]"));
    expect("#transient[]", "conj!", "t 2");
    expect("2", "count", "t");
    expect("2", "nth", "t 1");
    expect("1", "get", "t 0");
    expect("#transient[]", "assoc!", "t 0 9 2 3");
    expect("#transient[]", "pop!", "t");
    expect("[9 2]", "persistent!", "t");
    expect_error("Transient used after persistent! call", "conj!", "t 3");
    expect_error("Transient used after persistent! call", "persistent!", "t");
    expect_error("Transient used after persistent! call", "count", "t");
    expect_error("Transient used after persistent! call", "pop!", "t");
    expect_error("Transient used after persistent! call", "assoc!", "t 0 1");

    let("m", call("transient", "{:a 1}"));
    call("assoc!", "m :b 2 :c 3");
    call("dissoc!", "m :a");
    call("conj!", "m [:d 4]");
    expect("2", "get", "m :b");
    expect("true", "contains?", "m :c");
    expect_eq("{:b 2 :c 3 :d 4}", "persistent!", "m");
    expect_error("Transient used after persistent! call", "assoc!", "m :a 1");
    expect_error("Transient used after persistent! call", "dissoc!", "m :a");

    let("s", call("transient", "#{1 2}"));
    call("conj!", "s 3");
    call("disj!", "s 1");
    expect_eq("#{2 3}", "persistent!", "s");
    expect_error("Transient used after persistent! call", "disj!", "s 2");

}

Test(core, transient_errors)
{
    expect_error("transient not supported on this type, got list: (1)", "transient", "(1)");
    expect_error("conj! expects a transient, got vector: []", "conj!", "[] 1");
    expect_error("persistent! expects a transient, got map: {}", "persistent!", "{}");
    let("t", call("transient", "[]"));
    expect_error("Can't pop empty vector", "pop!", "t");
    expect_error("Index 3 out of bounds for length 0", "assoc!", "t 3 1");
    expect_error("assoc! expects even number of arguments after map/vector, found odd number",
                 "assoc!", "t 0 1 2");
    expect_error("dissoc! expects a transient map, got transient: #transient[]", "dissoc!", "t 0");
    /* a transient built by another process */
    let("other", ivm_vec_transient(&vm.heap, ivm_vec_empty(&vm.heap), 2));
    expect_error("Transient used by a process other than its owner", "conj!", "other 1");
    expect_error("Transient used by a process other than its owner", "persistent!", "other");
    let("other-map", ivm_map_transient(&vm.heap, ivm_map_empty(&vm.heap), 2));
    expect_error("Transient used by a process other than its owner", "assoc!", "other-map :a 1");
    expect_error("Transient used by a process other than its owner", "count", "other-map");
}

Test(core, empty_conj_bang_makes_a_vector_transient)
{
    let("t", call("conj!", ""));
    call("conj!", "t 1");
    expect("[1]", "persistent!", "t");
}

/* ---- Bytes ------------------------------------------------------------- */

Test(core, bytes)
{
    expect("#ivm/bytes \"0102ff\"", "bytes", "[1 2 255]");
    expect("#ivm/bytes \"68c3a9\"", "bytes", "\"hé\"");
    expect("#ivm/bytes \"\"", "bytes", "[]");
    expect("#ivm/bytes \"0102\"", "bytes", "(1 2)");
    expect_error("a byte must be an integer from 0 to 255, got integer: 256", "bytes", "[256]");
    expect_error("a byte must be an integer from 0 to 255, got integer: -1", "bytes", "[-1]");
    expect_error("bytes expects a string or a collection of integers 0..255, got integer: 5",
                 "bytes", "5");
    let("b", call("bytes", "[1 2 3]"));
    expect("3", "count", "b");
    expect("2", "nth", "b 1");
    expect_error("Index 3 out of bounds for length 3", "nth", "b 3");
    expect("3", "get", "b 2");
    expect("#ivm/bytes \"010903\"", "assoc", "b 1 9");
    expect("#ivm/bytes \"010203\"", "identity", "b"); /* unchanged */
    expect_error("a byte must be an integer from 0 to 255, got integer: 300", "assoc", "b 0 300");
    expect_error("Index 3 out of bounds for length 3", "assoc", "b 3 1");
    expect("[1 2 3]", "vec", "b");
    expect("(1 2 3)", "seq", "b");
    expect("1", "first", "b");
    expect("true", "bytes?", "b");
}

Test(core, bytes_and_strings)
{
    let("b", call("string->bytes", "\"hé\""));
    expect("#ivm/bytes \"68c3a9\"", "identity", "b");
    expect("\"hé\"", "bytes->string", "b");
    let("bad", call("bytes", "[255]"));
    expect_error("bytes->string: the bytes are not valid UTF-8", "bytes->string", "bad");
    expect_error("bytes->string expects bytes, got string: \"a\"", "bytes->string", "\"a\"");
    expect_error("string->bytes expects a string, got nil: nil", "string->bytes", "nil");
}

/* ---- Files ------------------------------------------------------------- */

Test(core, slurp_and_spit)
{
    const char *dir = t_temp_dir();
    char *path = t_path(dir, "f.txt");
    let("path", ivm_string(&vm.heap, path, strlen(path)));
    expect("nil", "spit", "path \"héllo\"");
    expect("\"héllo\"", "slurp", "path");
    expect("nil", "spit", "path [1 2] :append true");
    expect("\"héllo[1 2]\"", "slurp", "path");
    expect("nil", "spit", "path 42");
    expect("\"42\"", "slurp", "path");
    char *missing = t_path(dir, "missing.txt");
    let("missing", ivm_string(&vm.heap, missing, strlen(missing)));
    expect_error(t_fmt("%s (No such file or directory)", missing), "slurp", "missing");
    char *bad = t_path(dir, "bad.txt");
    t_write_file(bad, "\xff\xfe", 2);
    let("bad", ivm_string(&vm.heap, bad, strlen(bad)));
    expect_error(t_fmt("%s (not valid UTF-8)", bad), "slurp", "bad");
    char *nodir = t_path(dir, "no/such/dir.txt");
    let("nodir", ivm_string(&vm.heap, nodir, strlen(nodir)));
    expect_error(t_fmt("%s (No such file or directory)", nodir), "spit", "nodir \"x\"");
    expect_error("slurp expects a string, got integer: 1", "slurp", "1");
}

/* ---- Large builds ------------------------------------------------------ */

Test(core, million_element_builds)
{
    double start = t_now();
    ivm_value n = ivm_fixnum(1000000), r, v, w, sum;
    cr_assert_eq(call_v("range", &n, 1, &r), IVM_OK);
    cr_assert_eq(call_v("vec", &r, 1, &v), IVM_OK);
    cr_assert(ivm_is_vector(v));
    cr_assert_eq(ivm_vec_count(v), 1000000);
    cr_assert_eq(ivm_int_value(ivm_vec_nth(v, 999999)), 999999);
    ivm_value into_args[2] = {ivm_vec_empty(&vm.heap), v};
    cr_assert_eq(call_v("into", into_args, 2, &w), IVM_OK);
    cr_assert(ivm_equal(v, w));
    ivm_value plus = global("+"), reduce_args[2] = {plus, v};
    cr_assert_eq(call_v("reduce", reduce_args, 2, &sum), IVM_OK);
    cr_assert_eq(ivm_int_value(sum), 499999500000);
    ivm_value conj_args[3] = {global("conj"), ivm_vec_empty(&vm.heap), r};
    cr_assert_eq(call_v("reduce", conj_args, 3, &w), IVM_OK);
    cr_assert(ivm_equal(v, w));
    ivm_value mapv_args[2] = {global("inc"), v};
    cr_assert_eq(call_v("mapv", mapv_args, 2, &w), IVM_OK);
    cr_assert_eq(ivm_int_value(ivm_vec_nth(w, 999999)), 1000000);
    ivm_value set_args[2] = {ivm_set_empty(&vm.heap), ivm_vec_subvec(&vm.heap, v, 0, 200000)};
    cr_assert_eq(call_v("into", set_args, 2, &w), IVM_OK);
    cr_assert_eq(ivm_set_count(w), 200000);
    cr_assert_eq(call_v("frequencies", &set_args[1], 1, &w), IVM_OK);
    cr_assert_eq(ivm_map_count(w), 200000);
    double took = t_now() - start;
    cr_assert_lt(took, 15.0, "1M-element builds took %.1f s", took);
}

/* ---- No argument crashes a native -------------------------------------- */

/* Every core native (not spit, which writes files), called with every
 * combination of up to two arguments from a varied sample, of three from a
 * smaller one and of four from a smaller one still, answers a value or an
 * error: no crash and no failed assertion, whatever the types. */
Test(core, no_argument_crashes_a_native)
{
    static const char *const texts[] = {
        "nil", "[1 [2] 3]", "inc", "0", "\"héllo\"", "{:a 1}", "(1 2)", "#{1}", "-1",
        "3", "2.5", "##NaN", "true", "\\a", "\"\"", ":k", "'s", "()", "[]", "{}",
        "[[1 2]]", "+", "vector", "[:a 1]",
    };
    enum { NTEXTS = sizeof texts / sizeof texts[0] };
    ivm_value s[NTEXTS + 6];
    size_t n = 0;
    for (; n < NTEXTS; n++)
        cr_assert_eq(read_args(texts[n], &s[n], 1), 1);
    s[n++] = call("transient", "[1 2]");
    s[n++] = call("transient", "{:a 1}");
    s[n++] = call("transient", "#{1}");
    ivm_value frozen = call("transient", "[]");
    cr_assert_eq(call_v("persistent!", &frozen, 1, &(ivm_value){0}), IVM_OK);
    s[n++] = frozen;
    s[n++] = call("bytes", "[1 2 255]");
    s[n++] = ivm_vec_subvec(&vm.heap, rd("[1 2 3 4]"), 1, 3);
    for (uint32_t i = ivm_base_native_count; i < vm.rt->nnatives; i++) {
        const ivm_native_def *def = vm.rt->natives[i];
        if (strcmp(def->name, "spit") == 0)
            continue;
        ivm_value fn = ivm_native(i), a[4], out;
        ivm_call(&vm, fn, 0, NULL, &out);
        for (size_t x = 0; x < n; x++) {
            a[0] = s[x];
            ivm_call(&vm, fn, 1, a, &out);
            for (size_t y = 0; y < n; y++) {
                a[1] = s[y];
                ivm_call(&vm, fn, 2, a, &out);
                for (size_t z = 0; z < 12 && x < 12 && y < 12; z++) {
                    a[2] = s[z];
                    ivm_call(&vm, fn, 3, a, &out);
                    for (size_t w = 0; w < 5 && x < 5 && y < 5 && z < 5; w++) {
                        a[3] = s[w];
                        ivm_call(&vm, fn, 4, a, &out);
                    }
                }
            }
        }
        vm.out.len = 0; /* nothing here prints, but be sure */
    }
}

/* ---- Errors from functions pass through unchanged ---------------------- */

static ivm_status throw_it(ivm_vm *v, const ivm_value *args, uint32_t nargs, ivm_value *result)
{
    (void)args, (void)nargs, (void)result;
    return ivm_raise_value(v, ivm_keyword(&v->heap, "boom", 4));
}

static ivm_status interrupt_it(ivm_vm *v, const ivm_value *args, uint32_t nargs, ivm_value *result)
{
    (void)v, (void)args, (void)nargs, (void)result;
    return IVM_INTERRUPTED;
}

static const ivm_native_def test_natives[] = {
    {"throw-it", throw_it, 0, UINT32_MAX},
    {"interrupt-it", interrupt_it, 0, UINT32_MAX},
};

Test(core, function_errors_pass_through_unchanged)
{
    ivm_vm_add_natives(&vm, test_natives, 2);
    static const char *const calls[][2] = {
        {"map", "F [1]"}, {"mapv", "F [1]"}, {"filter", "F [1]"}, {"filterv", "F [1]"},
        {"remove", "F [1]"}, {"reduce", "F [1 2]"}, {"reduce", "F 0 [1]"}, {"reduce", "F []"},
        {"reduce-kv", "F 0 {:a 1}"}, {"reduce-kv", "F 0 [1]"}, {"apply", "F [1]"},
        {"update", "{} :a F"}, {"update-in", "{} [:a] F"}, {"sort", "F [2 1]"},
        {"sort-by", "F [2 1]"}, {"group-by", "F [1]"}, {"merge-with", "F {:a 1} {:a 2}"},
        {"some", "F [1]"}, {"every?", "F [1]"}, {"not-any?", "F [1]"}, {"take-while", "F [1]"},
        {"drop-while", "F [1]"}, {"keep", "F [1]"}, {"map-indexed", "F [1]"},
        {"mapcat", "F [1]"}, {"run!", "F [1]"}, {"repeatedly", "1 F"}, {"max-key", "F 1 2"},
        {"update-vals", "{:a 1} F"}, {"update-keys", "{:a 1} F"}, {"split-with", "F [1]"},
    };
    for (int kind = 0; kind < 2; kind++) {
        let("F", global(kind ? "interrupt-it" : "throw-it"));
        for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
            ivm_value args[8], out;
            size_t n = read_args(calls[i][1], args, 8);
            vm.error = IVM_NIL;
            ivm_status st = call_v(calls[i][0], args, n, &out);
            cr_assert_eq(st, kind ? IVM_INTERRUPTED : IVM_ERROR, "(%s %s) gave status %d",
                         calls[i][0], calls[i][1], st);
            if (!kind)
                cr_assert_str_eq(pr(vm.error, true), ":boom", "(%s %s)", calls[i][0], calls[i][1]);
        }
    }
}
