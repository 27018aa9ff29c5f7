/* Regexes (src/values/regex.c): Java patterns translated for PCRE2 (each
 * rewrite, and each refusal with its message and index); the matcher's
 * Java rules (where a find starts after an empty match, whole-subject
 * matches, groups that took no part, named groups); identity and hashing
 * of regex values; the cache (entries held by a matcher survive any number
 * of evictions, several threads compiling and matching at once); and the
 * limits: catastrophic backtracking gives up with an error, deep
 * backtracking over a long subject moves to a bigger JIT stack. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "values/regex.h"

static ivm_heap heap;

static void setup(void) { cr_assert(ivm_heap_init(&heap, (size_t)1 << 30, IVM_ARENA_LAZY)); }
static void teardown(void) { ivm_heap_destroy(&heap); }

TestSuite(regex, .init = setup, .fini = teardown, .timeout = 120);

/* ---- Helpers ----------------------------------------------------------- */

static ivm_value regex(const char *pattern)
{
    ivm_buf err = {0};
    ivm_value r;
    cr_assert(ivm_regex_new(&heap, ivm_string(&heap, pattern, strlen(pattern)), &r, &err),
              "#\"%s\": %s", pattern, err.data);
    ivm_buf_free(&err);
    return r;
}

/* The message ivm_regex_new gives, or "ok". Test-owned. */
static char *compile_error(const char *pattern)
{
    ivm_buf err = {0};
    ivm_value r;
    bool ok = ivm_regex_new(&heap, ivm_string(&heap, pattern, strlen(pattern)), &r, &err);
    char *s = t_strndup(ok ? "ok" : err.data, ok ? 2 : err.len);
    ivm_buf_free(&err);
    return s;
}

/* Every match of pattern in subject, as "[a][b]...", each group after the
 * whole match separated by '|', '-' for a group that took no part. */
static char *matches(const char *pattern, const char *subject, bool whole)
{
    ivm_matcher m;
    ivm_buf err = {0}, out = {0};
    ivm_buf_add(&out, "", 0);
    cr_assert(ivm_matcher_init(&m, &heap, regex(pattern), whole, (const uint8_t *)subject,
                               strlen(subject), &err));
    int found;
    while ((found = ivm_matcher_find(&m, &err)) > 0) {
        ivm_buf_add_char(&out, '[');
        for (uint32_t g = 0; g <= m.groups; g++) {
            size_t from, to;
            if (g)
                ivm_buf_add_char(&out, '|');
            if (ivm_matcher_group(&m, g, &from, &to))
                ivm_buf_add(&out, subject + from, to - from);
            else
                ivm_buf_add_char(&out, '-');
        }
        ivm_buf_add_char(&out, ']');
        if (whole)
            break;
    }
    cr_assert_geq(found, 0, "%s", err.data);
    ivm_matcher_free(&m);
    char *s = t_strndup(out.data, out.len);
    ivm_buf_free(&out);
    ivm_buf_free(&err);
    return s;
}

static void expect(const char *pattern, const char *subject, const char *want)
{
    char *got = matches(pattern, subject, false);
    cr_expect_str_eq(got, want, "#\"%s\" on \"%s\": %s", pattern, subject, got);
}

static void expect_error(const char *pattern, const char *message)
{
    char *got = compile_error(pattern);
    cr_expect_str_eq(got, message, "#\"%s\": %s", pattern, got);
}

/* ---- Java's syntax ----------------------------------------------------- */

Test(regex, java_escapes_are_translated)
{
    expect("\\u00e9+", "caf\xc3\xa9\xc3\xa9!", "[\xc3\xa9\xc3\xa9]");
    expect("\\uD83D\\uDE00", "a\xf0\x9f\x98\x80", "[\xf0\x9f\x98\x80]"); /* a surrogate pair */
    expect("\\0101\\0377?\\07", "A\a", "[A\a]");
    expect("\\0411", "!1", "[!1]"); /* \041 then 1: 4 > 3 ends the octal */
    expect("\\x41\\x{42}", "AB", "[AB]");
    expect("\\Q\\u0041(\\E+", "\\u0041((", "[\\u0041((]"); /* nothing inside \Q..\E */
    expect("[\\u0061-\\u0063]+", "xabcx", "[abc]");
    expect("\\cJ", "\n", "[\n]");
    expect("(a)\\11", "aa1", "[aa1|a]");    /* \1 then 1: one group so far */
    expect("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)\\11", "abcdefghijkk", "[abcdefghijkk|a|b|c|d|e|f|g|h|i|j|k]");
    expect("(?<n>a)\\1", "aa", "[aa|a]");
}

Test(regex, java_property_names)
{
    expect("\\p{Lower}+", "ab\xc3\xa9", "[ab]"); /* ASCII only, as in Java */
    expect("\\P{Lower}+", "ab\xc3\xa9Z", "[\xc3\xa9Z]");
    expect("[\\p{Upper}\\d]+", "aB1c", "[B1]");
    expect("[^\\p{Alpha}]+", "ab12", "[12]");
    expect("[\\P{Digit}]+", "12ab", "[ab]");
    expect("\\p{Punct}\\p{Space}\\p{XDigit}", "x! f", "[! f]");
    expect("\\p{IsLatin}+", "ab\xce\xb1", "[ab]");
    expect("\\p{IsLu}\\p{L}", "aBc", "[Bc]");
    expect("\\p{gc=Lu}", "aB", "[B]");
    expect("\\p{javaLowerCase}+", "aB\xc3\xa9", "[a][\xc3\xa9]");
    expect("\\pL+", "1ab", "[ab]");
    expect_error("\\p{javaMirrored}", "this java.lang.Character property is not supported near "
                                      "index 0 in regex #\"\\p{javaMirrored}\"");
    expect_error("\\p{Lower", "unclosed character family near index 0 in regex #\"\\p{Lower\"");
    expect_error("\\p{InGreek}", "unknown property after \\P or \\p near index 11 in regex "
                                 "#\"\\p{InGreek}\""); /* no blocks in PCRE2 */
}

Test(regex, java_inline_flags)
{
    expect("(?i)ab", "xAB", "[AB]");
    expect("(?i)\xc3\xa9", "\xc3\x89\xc3\xa9", "[\xc3\xa9]"); /* ASCII folding only */
    expect("(?i)\\u00e9\\x{e9}\\xe9\\0351", "\xc3\x89\xc3\x89\xc3\x89\xc3\x89", "");
    expect("(?iu)\xc3\xa9", "\xc3\x89", "[\xc3\x89]");
    expect("(?i)(?u)\xc3\xa9", "\xc3\x89", "[\xc3\x89]");
    expect("(?i:\xc3\xa9)\xc3\xa9|x", "\xc3\xa9\xc3\xa9", "[\xc3\xa9\xc3\xa9]");
    expect("((?iu)\xc3\xa9)\xc3\xa9", "\xc3\x89\xc3\x89 \xc3\x89\xc3\xa9", "[\xc3\x89\xc3\xa9|\xc3\x89]");
    expect("(?U)(?i)\xc3\xa9", "\xc3\x89", "[\xc3\x89]"); /* (?U) implies (?u) */
    expect("(?iu:a)b", "Ab AB", "[Ab]");
    expect("(?U)\\w+", "h\xc3\xa9llo", "[h\xc3\xa9llo]");
    expect("\\w+", "h\xc3\xa9llo", "[h][llo]");
    expect("\\b\\w+\\b", "caf\xc3\xa9 au", "[au]"); /* Java 17: \b sees letters, \w ASCII */
    expect("(?U)\\b\\w+\\b", "caf\xc3\xa9 au", "[caf\xc3\xa9][au]");
    expect("\\B", "ab \xc3\xa9", "[]");
    expect("(?d)a.", "a\ra\n", "[a\r]"); /* only \n ends a line */
    expect("a.", "a\ra\n", "");
    expect("(?x) a b # c\n c", "abc", "[abc]");
    expect("(?-i)a(?i)b", "aB AB", "[aB]");
    expect_error("a(?U)", "(?U) is supported only at the start of a pattern near index 3 in regex "
                          "#\"a(?U)\"");
    expect_error("(?U:a)", "(?U) is supported only at the start of a pattern near index 2 in "
                           "regex #\"(?U:a)\"");
    expect_error("(?n)a", "unknown inline modifier near index 2 in regex #\"(?n)a\"");
    expect_error("(?|a)", "unknown inline modifier near index 2 in regex #\"(?|a)\"");
    expect_error("(?#c)", "unknown inline modifier near index 2 in regex #\"(?#c)\"");
    expect_error("(*UTF)a", "dangling meta character '*' near index 1 in regex #\"(*UTF)a\"");
}

Test(regex, what_pcre2_would_read_otherwise_is_refused)
{
    expect_error("[a&&[b]]", "character class intersection (&&) is not supported near index 2 "
                             "in regex #\"[a&&[b]]\"");
    expect_error("[a[b]]", "nested character classes (union) are not supported near index 2 in "
                           "regex #\"[a[b]]\"");
    expect_error("a\\Kb", "illegal/unsupported escape sequence near index 1 in regex #\"a\\Kb\"");
    expect_error("[\\b]", "illegal/unsupported escape sequence near index 1 in regex #\"[\\b]\"");
    expect_error("a\\E", "illegal/unsupported escape sequence near index 1 in regex #\"a\\E\"");
    expect_error("\\N{SPACE}", "\\N{name} is not supported near index 0 in regex #\"\\N{SPACE}\"");
    expect_error("\\xg", "illegal hexadecimal escape sequence near index 0 in regex #\"\\xg\"");
    expect_error("\\uzzzz", "illegal Unicode escape sequence near index 0 in regex #\"\\uzzzz\"");
    expect_error("\\09", "illegal octal escape sequence near index 0 in regex #\"\\09\"");
    expect_error("a{,2}", "illegal repetition near index 1 in regex #\"a{,2}\"");
    expect_error("x{a}", "illegal repetition near index 1 in regex #\"x{a}\"");
    expect("a{2}b{1,}c{0,1}", "aabc", "[aabc]");
    expect("[{]}", "{}", "[{}]");
    expect("[]a]+", "a]", "[a]]"); /* ] first in a class is a member */
    expect("[^]]", "]x", "[x]");
}

Test(regex, pcre2_errors_name_the_index_in_the_java_pattern)
{
    expect_error("(", "missing closing parenthesis near index 1 in regex #\"(\"");
    expect_error("\\u00e9(", "missing closing parenthesis near index 7 in regex #\"\\u00e9(\"");
    expect_error("\xc3\xa9\xc3\xa9[", "missing terminating ] for character class near index 3 "
                                      "in regex #\"\xc3\xa9\xc3\xa9[\"");
    expect_error("*a", "quantifier does not follow a repeatable item near index 0 in regex #\"*a\"");
    expect_error("\\", "\\ at end of pattern near index 1 in regex #\"\\\"");
    expect_error("\\uD800", "disallowed Unicode code point (>= 0xd800 && <= 0xdfff) near index 0 "
                            "in regex #\"\\uD800\"");
    char *long_error = compile_error("0123456789012345678901234567890123456789012345678901234567890123456789(");
    cr_expect_str_eq(long_error, "missing closing parenthesis near index 71 in regex "
                                 "#\"012345678901234567890123456789012345678901234567890123456...\"");
}

/* ---- Java's matching rules --------------------------------------------- */

Test(regex, finds_follow_java_matcher)
{
    expect("x*", "axx", "[][xx][]");
    expect("", "ab", "[][][]");
    expect("a*?", "aa", "[][][]");
    expect("\\b", "ab cd", "[][][][]");
    expect("(?<=a)b", "abab", "[b][b]");
    expect("^a", "aa", "[a]");
    expect("(?m)^a", "a\na", "[a][a]");
    expect("\xc3\xa9|", "\xc3\xa9x", "[\xc3\xa9][][]"); /* an empty match steps one character */
    expect("a$", "a\r\n", "[a]");   /* before a final line terminator, as Java */
    expect("a$", "a\xe2\x80\xa8", "[a]"); /* U+2028 ends a line too */
    expect("$", "a\r\n", "[][]");   /* not between the CR and LF, as Java */
    expect("\\Z", "a\r\n", "[][]");
    expect("(?m)$", "a\r\nb", "[][]");
    expect("[$]", "$", "[$]");
    expect("(a)|(b)", "ab", "[a|a|-][b|-|b]");
    expect("(?<y>\\d+)-(?<m>\\d+)", "2024-05", "[2024-05|2024|05]");
}

Test(regex, whole_subject_matches)
{
    cr_expect_str_eq(matches("a|ab", "ab", true), "[ab]"); /* backtracks into the alternatives */
    cr_expect_str_eq(matches("a", "ab", true), "");
    cr_expect_str_eq(matches("(\\d)(\\d)?", "7", true), "[7|7|-]");
    cr_expect_str_eq(matches("", "", true), "[]");
    cr_expect_str_eq(matches("a*", "aaab", true), "");
}

Test(regex, named_groups)
{
    ivm_matcher m;
    ivm_buf err = {0};
    const char *s = "k=v";
    cr_assert(ivm_matcher_init(&m, &heap, regex("(?<key>\\w)=(?<value>\\w)"), false,
                               (const uint8_t *)s, 3, &err));
    cr_expect_eq(ivm_matcher_group_named(&m, (const uint8_t *)"value", 5), 2);
    cr_expect_eq(ivm_matcher_group_named(&m, (const uint8_t *)"key", 3), 1);
    cr_expect_eq(ivm_matcher_group_named(&m, (const uint8_t *)"nope", 4), -1);
    ivm_matcher_free(&m);
}

/* ---- Values ------------------------------------------------------------ */

Test(regex, identity_equality_and_hash)
{
    ivm_value a = regex("a+"), b = regex("a+"), c = regex("b");
    cr_expect(ivm_equal(a, a));
    cr_expect(!ivm_equal(a, b), "two regexes of one pattern are two regexes");
    cr_expect_eq(ivm_hash(a), ivm_hash(b), "the hash is the pattern's");
    cr_expect_neq(ivm_hash(a), ivm_hash(c));
    cr_expect_neq(ivm_hash(a), ivm_hash(ivm_as_regex(a)->pattern));
    /* a copy (what the collector makes) is the same regex */
    ivm_regex *copy = ivm_heap_alloc(&heap, IVM_K_REGEX, 0, sizeof *copy);
    *copy = *ivm_as_regex(a);
    cr_expect(ivm_equal(a, (ivm_value)(uintptr_t)copy));
    cr_expect_eq(ivm_type_of(a), IVM_T_REGEX);
    cr_expect_str_eq(ivm_type_name(IVM_T_REGEX), "regex");
    cr_expect(ivm_kind_is_value(IVM_K_REGEX));
    cr_expect_eq(ivm_kind_first_value[IVM_K_REGEX], 2);
}

Test(regex, printing)
{
    static const char *const cases[][2] = {
        {"a\\d", "#\"a\\d\""},
        {"a\"b", "#\"a\\\"b\""},          /* a bare quote gets its backslash */
        {"a\\\"b", "#\"a\\\"b\""},        /* an escaped one keeps its own */
        {"\\Qa\"b\\E", "#\"\\Qa\\E\\\"\\Qb\\E\""},
        {"\xc3\xa9\n", "#\"\xc3\xa9\n\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ivm_buf out = {0};
        ivm_print(&heap, &out, regex(cases[i][0]), true);
        cr_expect_str_eq(t_strndup(out.data, out.len), cases[i][1]);
        out.len = 0;
        ivm_print(&heap, &out, regex(cases[i][0]), false); /* print as pr */
        cr_expect_str_eq(t_strndup(out.data, out.len), cases[i][1]);
        ivm_buf_free(&out);
    }
}

/* ---- The cache and its limits ------------------------------------------ */

Test(regex, a_held_entry_survives_evictions)
{
    ivm_matcher m;
    ivm_buf err = {0};
    const char *s = "xx ab12 yy";
    cr_assert(ivm_matcher_init(&m, &heap, regex("([a-z]+)(\\d+)"), false, (const uint8_t *)s,
                               strlen(s), &err));
    for (int i = 0; i < 2000; i++) { /* far past the cache's 256 entries */
        char p[32];
        snprintf(p, sizeof p, "p%d(x|y)+", i);
        char *got = matches(p, "p7xy", false);
        cr_assert_str_eq(got, i == 7 ? "[p7xy|y]" : "");
    }
    cr_assert_eq(ivm_matcher_find(&m, &err), 1);
    size_t from, to;
    cr_assert(ivm_matcher_group(&m, 2, &from, &to));
    cr_expect_eq(from, 5);
    cr_expect_eq(to, 7);
    ivm_matcher_free(&m);
    cr_expect_str_eq(matches("([a-z]+)(\\d+)", s, false), "[ab12|ab|12]");
}

Test(regex, catastrophic_backtracking_gives_up)
{
    char s[64];
    memset(s, 'a', 40);
    s[40] = 0;
    ivm_matcher m;
    ivm_buf err = {0};
    cr_assert(ivm_matcher_init(&m, &heap, regex("(a+)+[bc]"), false, (const uint8_t *)s, 40, &err));
    cr_expect_eq(ivm_matcher_find(&m, &err), -1);
    cr_expect_str_eq(t_strndup(err.data, err.len), "regex match gave up: match limit exceeded");
    cr_expect_eq(ivm_matcher_find(&m, &err), 0, "a matcher that gave up finds nothing more");
    ivm_matcher_free(&m);
    ivm_buf_free(&err);
}

Test(regex, deep_backtracking_moves_to_a_bigger_stack)
{
    enum { N = 400000 };
    char *s = malloc(N + 1);
    for (int i = 0; i < N; i++)
        s[i] = "ab"[i % 2];
    s[N] = 0;
    ivm_matcher m;
    ivm_buf err = {0};
    cr_assert(ivm_matcher_init(&m, &heap, regex("(a|b)*"), false, (const uint8_t *)s, N, &err));
    cr_assert_eq(ivm_matcher_find(&m, &err), 1, "%s", err.data);
    size_t from, to;
    cr_assert(ivm_matcher_group(&m, 0, &from, &to));
    cr_expect_eq(to - from, N);
    ivm_matcher_free(&m);
    free(s);
}

/* Several threads compile and match at once, over more patterns than the
 * cache keeps: every answer stays right (and ThreadSanitizer or ASan would
 * see a race or a freed entry in use). */
static void *churn(void *arg)
{
    int t = (int)(intptr_t)arg;
    ivm_heap h;
    ivm_heap_init_thread(&h, &heap);
    for (int i = 0; i < 3000; i++) {
        char p[48], s[48];
        int k = (i * 7 + t) % 400;
        snprintf(p, sizeof p, "(k%d)=(\\d+)", k);
        snprintf(s, sizeof s, "x k%d=%d y", k, i);
        ivm_buf err = {0};
        ivm_value r;
        if (!ivm_regex_new(&h, ivm_string(&h, p, strlen(p)), &r, &err))
            return "compile failed";
        ivm_matcher m;
        if (!ivm_matcher_init(&m, &h, r, false, (const uint8_t *)s, strlen(s), &err))
            return "init failed";
        size_t from, to;
        bool ok = ivm_matcher_find(&m, &err) == 1 && ivm_matcher_group(&m, 2, &from, &to) &&
                  (int)strtol(s + from, NULL, 10) == i;
        ivm_matcher_free(&m);
        ivm_buf_free(&err);
        if (!ok)
            return "wrong match";
    }
    return NULL;
}

Test(regex, threads_share_the_cache)
{
    enum { THREADS = 4 };
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++)
        cr_assert_eq(pthread_create(&threads[t], NULL, churn, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++) {
        void *why;
        pthread_join(threads[t], &why);
        cr_expect_null(why, "thread %d: %s", t, (char *)why);
    }
}
