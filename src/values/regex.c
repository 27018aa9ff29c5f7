/* Regexes (regex.h): Java patterns translated for PCRE2, the shared cache
 * of compiled code, regex values and the matcher.
 *
 * Why a translation: PCRE2 and java.util.regex agree on most syntax
 * (classes, quantifiers, possessive and lazy forms, atomic groups,
 * lookaround, named groups, \Q..\E, \R, \X, \h, \v) but a few spellings
 * mean something else or nothing in PCRE2. The pass below rewrites what
 * has a PCRE2 equivalent and refuses, with a message, what would silently
 * match differently. Rewritten:
 *   \uXXXX (and surrogate pairs), Java's octal \0n \0nn \0mnn: \x{...}
 *   \11 after fewer than 11 groups: \g{1}1 (Java's backreference rule;
 *     PCRE2 would read an octal escape)
 *   $ and \Z: never between the CR and the LF of a CRLF
 *   \b and \B outside (?U): Java 17's, where any Unicode letter or digit
 *     is a word character though \w is ASCII
 *   \p{Lower} and the other ASCII POSIX names: [[:lower:]] ([:lower:] in
 *     a class); \p{IsLatin} \p{IsLu} \p{IsAlphabetic} drop "Is";
 *     \p{gc=Lu} \p{general_category=Lu} drop the key; \p{javaLowerCase},
 *     javaUpperCase, javaAlphabetic, javaLetter, javaDigit, javaTitleCase,
 *     javaIdeographic: the Unicode property they test
 *   under (?i) without (?u), a character beyond ASCII outside a class:
 *     (?-i:c), as Java folds only ASCII then; (?u) itself is dropped
 *     (PCRE2's caseless matching is Unicode already), the flags being
 *     tracked per group
 *   (?U) and (?d): (*UCP) and (*LF), only in the flag groups that open a
 *     pattern (PCRE2 cannot switch them midway; elsewhere refused)
 * Refused, as Java refuses them: other inline flags (PCRE2's n, J), (?|
 * (?R) (?# (?P (?C ..., (* verbs, escapes of letters Java does not know
 * (\K \g \o \C ...), \E outside \Q, \b in a class, \x without two hex
 * digits or {...}, a { that starts no {n}, {n,} or {n,m} (PCRE2 reads it
 * as a letter); other java* property names. Refused, as PCRE2 has no
 * equivalent: class union [a[b]] and intersection [a&&b], \N{name}.
 * Patterns compile in UTF mode, any Unicode newline sequence as a line
 * terminator (Java's set, plus VT and FF), \C forbidden (it could split a
 * character, and every ivm string is valid UTF-8). README.md lists what
 * still differs.
 *
 * Memory: PCRE2 allocates through the platform allocator (a general
 * context); the JIT's executable pages come from PCRE2 itself. */
#include "values/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "ivm/platform.h"

/* ---- Java to PCRE2 ----------------------------------------------------- */

typedef struct xlate {
    const uint8_t *s;
    size_t len, i;       /* i: the next source byte */
    ivm_buf out;         /* the PCRE2 pattern, without its prefix */
    ivm_buf marks;       /* uint32 pairs: output offset, source offset */
    const char *error;   /* set on failure, with error_at (source offset) */
    size_t error_at;
    bool ucp, lf;        /* (?U), (?d) at the start */
    bool comments;       /* (?x) was turned on: # starts a comment */
    uint32_t groups;     /* capturing groups opened so far */
    uint8_t flags;       /* FLAG_I, FLAG_U: in force at the cursor */
    ivm_buf outer;       /* the flags of each open group's outside */
} xlate;

enum { FLAG_I = 1, FLAG_U = 2 };

static bool x_fail(xlate *x, size_t at, const char *message)
{
    x->error = message;
    x->error_at = at;
    return false;
}

/* Appends output that stands for the source from byte `from` on. */
static void x_emit(xlate *x, size_t from, const void *p, size_t n)
{
    uint32_t pair[2] = {(uint32_t)x->out.len, (uint32_t)from};
    ivm_buf_add(&x->marks, pair, sizeof pair);
    ivm_buf_add(&x->out, p, n);
}

static void x_emit_cstr(xlate *x, size_t from, const char *s)
{
    x_emit(x, from, s, ivm_cstr_len(s));
}

static size_t utf8_len(uint8_t lead) { return lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4; }

/* Copies n source bytes unchanged. */
static void x_copy(xlate *x, size_t n)
{
    if (x->i + n > x->len)
        n = x->len - x->i;
    x_emit(x, x->i, x->s + x->i, n);
    x->i += n;
}

static void x_copy_char(xlate *x) { x_copy(x, utf8_len(x->s[x->i])); }

static bool is_alpha(uint8_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}
static bool is_octal(uint8_t c) { return c >= '0' && c <= '7'; }

/* \x{HEX} for code point cp, standing for the source from `from`. */
static void x_emit_code_point(xlate *x, size_t from, uint32_t cp)
{
    char tmp[16] = "\\x{";
    int n = 3, digits = 0;
    for (uint32_t v = cp; v || digits == 0; v >>= 4)
        digits++;
    for (int k = digits - 1; k >= 0; k--)
        tmp[n++] = "0123456789abcdef"[(cp >> (4 * k)) & 15];
    tmp[n++] = '}';
    x_emit(x, from, tmp, (size_t)n);
}

/* Java's (?i) without (?u) folds ASCII letters only: a literal beyond
 * ASCII must then match itself alone (outside a class: inside one, PCRE2
 * still adds its other cases). */
static bool x_exact_case(const xlate *x, bool in_class, uint32_t cp)
{
    return !in_class && cp >= 0x80 && (x->flags & (FLAG_I | FLAG_U)) == FLAG_I;
}

/* A character given by its code point, from an escape. */
static void x_emit_literal(xlate *x, size_t from, uint32_t cp, bool in_class)
{
    bool exact = x_exact_case(x, in_class, cp);
    if (exact)
        x_emit_cstr(x, from, "(?-i:");
    x_emit_code_point(x, from, cp);
    if (exact)
        x_emit_cstr(x, from, ")");
}

/* Four hex digits at s[at..]: the value, or -1. */
static int32_t hex4_at(const xlate *x, size_t at)
{
    if (at + 4 > x->len)
        return -1;
    int32_t v = 0;
    for (size_t k = 0; k < 4; k++) {
        int d = hex_value(x->s[at + k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* \uXXXX, and \uHHHH\uLLLL for a surrogate pair. A lone surrogate goes to
 * PCRE2 as one (which refuses it: no ivm string holds one). */
static bool x_unicode(xlate *x, bool in_class)
{
    size_t at = x->i;
    int32_t cp = hex4_at(x, at + 2);
    if (cp < 0)
        return x_fail(x, at, "illegal Unicode escape sequence");
    x->i += 6;
    if (cp >= 0xd800 && cp <= 0xdbff && x->i + 1 < x->len && x->s[x->i] == '\\' &&
        x->s[x->i + 1] == 'u') {
        int32_t low = hex4_at(x, x->i + 2);
        if (low >= 0xdc00 && low <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            x->i += 6;
        }
    }
    x_emit_literal(x, at, (uint32_t)cp, in_class);
    return true;
}

/* Java's octal escape: \0n, \0nn or \0mnn (m at most 3). */
static bool x_octal(xlate *x, bool in_class)
{
    size_t at = x->i, p = at + 2;
    if (p >= x->len || !is_octal(x->s[p]))
        return x_fail(x, at, "illegal octal escape sequence");
    uint32_t v = x->s[p++] - (uint32_t)'0';
    if (p < x->len && is_octal(x->s[p])) {
        v = v * 8 + (x->s[p++] - (uint32_t)'0');
        if (p < x->len && is_octal(x->s[p]) && x->s[at + 2] <= '3')
            v = v * 8 + (x->s[p++] - (uint32_t)'0');
    }
    x->i = p;
    x_emit_literal(x, at, v, in_class);
    return true;
}

/* \xhh or \x{h...h} */
static bool x_hex(xlate *x, bool in_class)
{
    size_t at = x->i, p = at + 2;
    uint32_t cp = 0;
    if (p < x->len && x->s[p] == '{') {
        size_t digits = 0;
        for (p++; p < x->len && hex_value(x->s[p]) >= 0 && digits < 8; p++, digits++)
            cp = cp * 16 + (uint32_t)hex_value(x->s[p]);
        if (digits == 0 || p >= x->len || x->s[p] != '}')
            return x_fail(x, at, "illegal hexadecimal escape sequence");
        p++;
    } else if (p + 1 < x->len && hex_value(x->s[p]) >= 0 && hex_value(x->s[p + 1]) >= 0) {
        cp = (uint32_t)(hex_value(x->s[p]) * 16 + hex_value(x->s[p + 1]));
        p += 2;
    } else {
        return x_fail(x, at, "illegal hexadecimal escape sequence");
    }
    if (cp > 0x10ffff) { /* PCRE2 says so, and where */
        x_copy(x, p - at);
        return true;
    }
    x->i = p;
    x_emit_literal(x, at, cp, in_class);
    return true;
}

static bool name_is(const uint8_t *name, size_t len, const char *word)
{
    return len == ivm_cstr_len(word) && memcmp(name, word, len) == 0;
}

static bool starts_with(const uint8_t *name, size_t len, const char *prefix)
{
    size_t n = ivm_cstr_len(prefix);
    return len >= n && memcmp(name, prefix, n) == 0;
}

/* Java's POSIX classes (US-ASCII only unless (?U)) and PCRE2's names. */
static const char *const posix_names[][2] = {
    {"Lower", "lower"}, {"Upper", "upper"}, {"ASCII", "ascii"}, {"Alpha", "alpha"},
    {"Digit", "digit"}, {"Alnum", "alnum"}, {"Punct", "punct"}, {"Graph", "graph"},
    {"Print", "print"}, {"Blank", "blank"}, {"Cntrl", "cntrl"}, {"XDigit", "xdigit"},
    {"Space", "space"},
};

/* java.lang.Character's predicates that are one Unicode property. */
static const char *const java_names[][2] = {
    {"javaLowerCase", "Lowercase"}, {"javaUpperCase", "Uppercase"},
    {"javaAlphabetic", "Alphabetic"}, {"javaLetter", "L"}, {"javaDigit", "Nd"},
    {"javaTitleCase", "Lt"}, {"javaIdeographic", "Ideographic"},
};

/* \p{Name}, \P{Name}, \pL */
static bool x_property(xlate *x, bool in_class)
{
    size_t at = x->i;
    bool negated = x->s[at + 1] == 'P';
    const uint8_t *name;
    size_t len, next;
    if (at + 2 >= x->len)
        return x_fail(x, at, "illegal character family");
    if (x->s[at + 2] == '{') {
        size_t close = at + 3;
        while (close < x->len && x->s[close] != '}')
            close++;
        if (close >= x->len)
            return x_fail(x, at, "unclosed character family");
        name = x->s + at + 3;
        len = close - (at + 3);
        next = close + 1;
    } else {
        name = x->s + at + 2;
        len = utf8_len(*name);
        next = at + 2 + len;
    }
    x->i = next;
    for (size_t k = 0; k < sizeof posix_names / sizeof posix_names[0]; k++)
        if (name_is(name, len, posix_names[k][0])) {
            x_emit_cstr(x, at, in_class ? "[:" : negated ? "[^[:" : "[[:");
            if (in_class && negated)
                x_emit_cstr(x, at, "^");
            x_emit_cstr(x, at, posix_names[k][1]);
            x_emit_cstr(x, at, in_class ? ":]" : ":]]");
            return true;
        }
    const char *mapped = NULL;
    for (size_t k = 0; k < sizeof java_names / sizeof java_names[0]; k++)
        if (name_is(name, len, java_names[k][0]))
            mapped = java_names[k][1];
    if (!mapped && starts_with(name, len, "java"))
        return x_fail(x, at, "this java.lang.Character property is not supported");
    static const char *const keys[] = {"Is", "gc=", "general_category=", NULL};
    for (int k = 0; !mapped && keys[k]; k++)
        if (starts_with(name, len, keys[k])) {
            size_t n = ivm_cstr_len(keys[k]);
            name += n;
            len -= n;
            break;
        }
    x_emit_cstr(x, at, negated ? "\\P{" : "\\p{");
    if (mapped)
        x_emit_cstr(x, at, mapped);
    else
        x_emit(x, at, name, len);
    x_emit_cstr(x, at, "}");
    return true;
}

/* $ and \Z may match before a final line terminator, but Java's never
 * match between the CR and the LF of a CRLF, where PCRE2's would. */
#define NOT_IN_CRLF "(?!(?<=\\r)\\n)"

/* What Java 17's \b and \B take for a word character: a letter, a digit
 * or _ (Character.isLetterOrDigit: Unicode, where \w is ASCII), or a
 * non-spacing mark (Java: one that follows a word character). PCRE2's \b
 * follows its \w, as Java's does from Java 19 on and in (?U). */
#define JAVA_WORD "[\\p{L}\\p{Nd}\\p{Mn}_]"

/* The letters Java's regexes give a meaning to after a backslash (besides
 * Q, u, 0, p, P, N and Z, handled on their own); any other letter, \E
 * outside \Q...\E among them, is an error there. */
static bool java_escape_letter(uint8_t c)
{
    for (const char *p = "tnrfaecdDhHsSvVwWbBAGzRXkx"; *p; p++)
        if (*p == c)
            return true;
    return false;
}

/* \n: Java takes the first digit, then each next one while the number
 * names a group already opened (\11 after one group is \1 then "1",
 * where PCRE2 would read an octal tab). */
static bool x_backreference(xlate *x)
{
    size_t at = x->i, p = at + 2;
    uint32_t n = x->s[at + 1] - (uint32_t)'0';
    while (p < x->len && x->s[p] >= '0' && x->s[p] <= '9' &&
           n * 10 + (x->s[p] - (uint32_t)'0') <= x->groups)
        n = n * 10 + (x->s[p++] - (uint32_t)'0');
    char tmp[24] = "\\g{";
    size_t k = 3;
    char digits[12];
    int nd = 0;
    do digits[nd++] = (char)('0' + n % 10); while ((n /= 10) != 0);
    while (nd)
        tmp[k++] = digits[--nd];
    tmp[k++] = '}';
    x->i = p;
    x_emit(x, at, tmp, k);
    return true;
}

static bool x_escape(xlate *x, bool in_class)
{
    size_t at = x->i;
    if (at + 1 >= x->len) { /* PCRE2 says "\ at end of pattern" */
        x_copy(x, 1);
        return true;
    }
    uint8_t d = x->s[at + 1];
    switch (d) {
    case 'Q': { /* verbatim up to \E */
        size_t end = at + 2;
        while (end < x->len && !(x->s[end] == '\\' && end + 1 < x->len && x->s[end + 1] == 'E'))
            end++;
        x_copy(x, end < x->len ? end + 2 - at : x->len - at);
        return true;
    }
    case 'u': return x_unicode(x, in_class);
    case '0': return x_octal(x, in_class);
    case 'x': return x_hex(x, in_class);
    case 'p': case 'P': return x_property(x, in_class);
    case 'N': return x_fail(x, at, "\\N{name} is not supported");
    case 'Z':
        x->i += 2;
        x_emit_cstr(x, at, NOT_IN_CRLF "\\Z");
        return true;
    case 'b': case 'B':
        if (in_class)
            return x_fail(x, at, "illegal/unsupported escape sequence");
        if (x->ucp || (at + 2 < x->len && x->s[at + 2] == '{'))
            break;
        x->i += 2;
        x_emit_cstr(x, at, d == 'b' ? "(?:(?<=" JAVA_WORD ")(?!" JAVA_WORD ")|(?<!" JAVA_WORD
                                      ")(?=" JAVA_WORD "))"
                                    : "(?:(?<=" JAVA_WORD ")(?=" JAVA_WORD ")|(?<!" JAVA_WORD
                                      ")(?!" JAVA_WORD "))");
        return true;
    case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
        if (!in_class)
            return x_backreference(x);
        x_copy(x, 2);
        return true;
    default:
        if (is_alpha(d) && !java_escape_letter(d))
            return x_fail(x, at, "illegal/unsupported escape sequence");
        break;
    }
    x_copy(x, 1);
    x_copy_char(x);
    if (d == 'c' && x->i < x->len) /* \cX: X is taken as it is */
        x_copy_char(x);
    return true;
}

/* A group opens: what its inline flags change, its close undoes. */
static void x_open(xlate *x) { ivm_buf_add(&x->outer, &x->flags, 1); }

static void x_close(xlate *x)
{
    if (x->outer.len) /* else an unmatched ), which PCRE2 reports */
        x->flags = (uint8_t)x->outer.data[--x->outer.len];
}

/* After "(?": a group kind PCRE2 spells as Java does, or inline flags.
 * `leading`: only flag groups came before, from the pattern's start. */
static bool x_group(xlate *x, bool *leading)
{
    size_t at = x->i, p = at + 2;
    uint8_t c = p < x->len ? x->s[p] : 0;
    if (c == ':' || c == '=' || c == '!' || c == '>') {
        x_open(x);
        x_copy(x, 3);
        *leading = false;
        return true;
    }
    if (c == '<') { /* lookbehind, or a named group (PCRE2 checks the name) */
        bool behind = p + 1 < x->len && (x->s[p + 1] == '=' || x->s[p + 1] == '!');
        x->groups += !behind;
        x_open(x);
        x_copy(x, behind ? 4 : 3);
        *leading = false;
        return true;
    }
    if (!is_alpha(c) && c != '-')
        return x_fail(x, p, "unknown inline modifier");
    size_t q = p;
    while (q < x->len && (is_alpha(x->s[q]) || x->s[q] == '-'))
        q++;
    if (q >= x->len || (x->s[q] != ')' && x->s[q] != ':'))
        return x_fail(x, q < x->len ? q : p, "unknown inline modifier");
    bool alone = x->s[q] == ')'; /* (?flags) rather than (?flags:X) */
    if (!alone)
        x_open(x); /* the flags below hold inside the group only */
    char on[8], off[8];
    size_t non = 0, noff = 0;
    bool minus = false;
    for (size_t k = p; k < q; k++) {
        uint8_t f = x->s[k];
        if (f == '-') {
            if (minus)
                return x_fail(x, k, "unknown inline modifier");
            minus = true;
        } else if (f == 'i' || f == 'm' || f == 's' || f == 'x') {
            bool seen = false;
            for (size_t j = 0; j < non; j++)
                seen = seen || on[j] == (char)f;
            for (size_t j = 0; j < noff; j++)
                seen = seen || off[j] == (char)f;
            if (!seen) {
                if (minus)
                    off[noff++] = (char)f;
                else
                    on[non++] = (char)f;
            }
            if (f == 'x')
                x->comments = !minus;
            if (f == 'i')
                x->flags = minus ? x->flags & ~FLAG_I : x->flags | FLAG_I;
        } else if (f == 'd' || f == 'U') {
            bool *flag = f == 'd' ? &x->lf : &x->ucp;
            if (minus ? *flag : !(*leading && alone))
                return x_fail(x, k, f == 'd' ? "(?d) is supported only at the start of a pattern"
                                             : "(?U) is supported only at the start of a pattern");
            if (!minus)
                *flag = true;
            if (f == 'U' && !minus)
                x->flags |= FLAG_U; /* (?U) implies (?u) */
        } else if (f == 'u') { /* PCRE2's caseless matching is Unicode already */
            x->flags = minus ? x->flags & ~FLAG_U : x->flags | FLAG_U;
        } else {
            return x_fail(x, k, "unknown inline modifier");
        }
    }
    x->i = q + 1;
    if (non || noff) {
        x_emit_cstr(x, at, "(?");
        x_emit(x, at, on, non);
        if (noff) {
            x_emit_cstr(x, at, "-");
            x_emit(x, at, off, noff);
        }
        x_emit_cstr(x, at, alone ? ")" : ":");
    } else if (!alone) {
        x_emit_cstr(x, at, "(?:");
    }
    *leading = *leading && alone;
    return true;
}

/* Whether {n}, {n,} or {n,m} starts at `at`: Java reads any other {
 * outside a class as a bad quantifier, where PCRE2 takes it literally. */
static bool is_repetition(const xlate *x, size_t at)
{
    size_t p = at + 1, digits = 0;
    while (p < x->len && x->s[p] >= '0' && x->s[p] <= '9')
        p++, digits++;
    if (digits == 0)
        return false;
    if (p < x->len && x->s[p] == ',')
        for (p++; p < x->len && x->s[p] >= '0' && x->s[p] <= '9';)
            p++;
    return p < x->len && x->s[p] == '}';
}

/* Rewrites x->s into x->out; false with x->error set when the pattern
 * uses what PCRE2 cannot do as Java does. */
static bool translate(xlate *x)
{
    bool in_class = false, leading = true;
    size_t class_body = 0; /* where a class's first member starts */
    while (x->i < x->len) {
        size_t at = x->i;
        uint8_t c = x->s[at];
        uint8_t next = at + 1 < x->len ? x->s[at + 1] : 0;
        if (c == '\\') {
            leading = false;
            if (!x_escape(x, in_class))
                return false;
        } else if (in_class) {
            if (c == '[')
                return x_fail(x, at, "nested character classes (union) are not supported");
            if (c == '&' && next == '&')
                return x_fail(x, at, "character class intersection (&&) is not supported");
            if (c == ']' && at != class_body)
                in_class = false;
            x_copy_char(x);
        } else if (c == '[') {
            leading = false;
            in_class = true;
            x_copy(x, next == '^' ? 2 : 1);
            class_body = x->i;
        } else if (c == '(' && next == '*') {
            return x_fail(x, at + 1, "dangling meta character '*'");
        } else if (c == '(' && next == '?') {
            if (!x_group(x, &leading))
                return false;
        } else if (c == '$') {
            leading = false;
            x->i++;
            x_emit_cstr(x, at, NOT_IN_CRLF "$");
        } else if (c == '{' && !is_repetition(x, at)) {
            return x_fail(x, at, "illegal repetition");
        } else if (c == '#' && x->comments) { /* a comment: to the line's end */
            size_t end = at;
            while (end < x->len && x->s[end] != '\n')
                end++;
            x_copy(x, end - at);
        } else if (c >= 0x80 && x_exact_case(x, false, c)) {
            leading = false;
            x_emit_cstr(x, at, "(?-i:");
            x_copy_char(x);
            x_emit_cstr(x, at, ")");
        } else {
            if (!(x->comments && (c == ' ' || (c >= '\t' && c <= '\r'))))
                leading = false;
            if (c == '(') {
                x->groups++;
                x_open(x);
            } else if (c == ')') {
                x_close(x);
            }
            x_copy_char(x);
        }
    }
    return true;
}

/* The source offset that output offset `at` came from. */
static size_t source_offset(const xlate *x, size_t at)
{
    const uint32_t *pairs = (const uint32_t *)(const void *)x->marks.data;
    size_t n = x->marks.len / (2 * sizeof(uint32_t)), best = n ? pairs[1] : 0;
    for (size_t k = 0; k < n && pairs[2 * k] <= at; k++)
        best = pairs[2 * k + 1];
    if (n && at >= x->out.len)
        best = x->len;
    return best;
}

/* "MESSAGE near index N in regex #"PATTERN"" (N in code points). */
static void add_error(ivm_buf *err, const char *message, const uint8_t *s, size_t len,
                      size_t at)
{
    size_t index = 0;
    for (size_t k = 0; k < at && k < len; k++)
        index += (s[k] & 0xc0) != 0x80;
    ivm_buf_add_cstr(err, message);
    ivm_buf_add_cstr(err, " near index ");
    ivm_buf_add_int(err, (int64_t)index);
    ivm_buf_add_cstr(err, " in regex #\"");
    size_t shown = len;
    if (shown > 60) { /* a huge pattern would drown the message */
        shown = 57;
        while (shown && (s[shown] & 0xc0) == 0x80)
            shown--;
    }
    ivm_buf_add(err, s, shown);
    ivm_buf_add_cstr(err, shown < len ? "...\"" : "\"");
}

/* ---- The cache --------------------------------------------------------- */

enum {
    CACHE_BUCKETS = 512,
    CACHE_LIMIT = 256,              /* entries kept; unused ones beyond go */
    HEAP_LIMIT_KIB = 128 * 1024,    /* the interpreter's backtracking memory */
    BIG_STACK = 128 << 20,          /* the JIT's, when 32 KiB is not enough */
};

struct ivm_regex_entry {
    ivm_regex_entry *next; /* in its bucket */
    pcre2_code *code;
    uint64_t used;         /* the cache's clock at its last acquire */
    uint32_t refs;         /* matchers using it now */
    uint32_t hash;
    uint32_t groups;
    bool whole;            /* compiled anchored at both ends */
    uint32_t len;
    uint8_t text[];        /* the Java pattern */
};

struct ivm_regex_cache {
    ivm_mutex *lock; /* guards everything below but the contexts */
    pcre2_general_context *general;
    pcre2_compile_context *compile;
    pcre2_match_context *match;
    ivm_regex_entry *buckets[CACHE_BUCKETS];
    uint32_t count;
    uint64_t clock;
};

static void *pcre_malloc(PCRE2_SIZE bytes, void *data)
{
    (void)data;
    return ivm_platform_malloc(bytes);
}

static void pcre_free(void *p, void *data)
{
    (void)data;
    ivm_platform_free(p);
}

struct ivm_regex_cache *ivm_regex_cache_new(void)
{
    struct ivm_regex_cache *c = ivm_platform_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->lock = ivm_platform_mutex_new();
    c->general = pcre2_general_context_create(pcre_malloc, pcre_free, NULL);
    c->compile = pcre2_compile_context_create(c->general);
    c->match = pcre2_match_context_create(c->general);
    if (!c->lock || !c->general || !c->compile || !c->match) {
        ivm_regex_cache_free(c);
        return NULL;
    }
    pcre2_set_newline(c->compile, PCRE2_NEWLINE_ANY);
    pcre2_set_heap_limit(c->match, HEAP_LIMIT_KIB);
    return c;
}

static void entry_free(ivm_regex_entry *e)
{
    pcre2_code_free(e->code);
    ivm_platform_free(e);
}

void ivm_regex_cache_free(struct ivm_regex_cache *c)
{
    if (!c)
        return;
    for (uint32_t b = 0; b < CACHE_BUCKETS; b++)
        for (ivm_regex_entry *e = c->buckets[b], *next; e; e = next) {
            next = e->next;
            entry_free(e);
        }
    pcre2_match_context_free(c->match);
    pcre2_compile_context_free(c->compile);
    pcre2_general_context_free(c->general);
    if (c->lock)
        ivm_platform_mutex_free(c->lock);
    ivm_platform_free(c);
}

/* Compiles a translated pattern; NULL with the message in err. */
static pcre2_code *compile_code(struct ivm_regex_cache *c, const xlate *x, bool whole,
                                ivm_buf *err)
{
    ivm_buf pattern = {0};
    ivm_buf_add_cstr(&pattern, x->ucp ? "(*UCP)" : "");
    ivm_buf_add_cstr(&pattern, x->lf ? "(*LF)" : "");
    size_t prefix = pattern.len;
    ivm_buf_add(&pattern, x->out.data ? x->out.data : "", x->out.len);
    uint32_t options = PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C |
                       (whole ? PCRE2_ANCHORED | PCRE2_ENDANCHORED : 0);
    int code_error;
    PCRE2_SIZE offset;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)(pattern.data ? pattern.data : ""),
                                     pattern.len, options, &code_error, &offset, c->compile);
    ivm_buf_free(&pattern);
    if (!code) {
        PCRE2_UCHAR message[160];
        if (pcre2_get_error_message(code_error, message, sizeof message) < 0)
            message[0] = 0;
        size_t at = offset > prefix ? source_offset(x, offset - prefix) : 0;
        add_error(err, (const char *)message, x->s, x->len, at);
        return NULL;
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* the interpreter if it fails */
    return code;
}

/* Translates and compiles; NULL with the message in err on failure. */
static ivm_regex_entry *compile_entry(struct ivm_regex_cache *c, const uint8_t *s,
                                      size_t len, uint32_t hash, bool whole, ivm_buf *err)
{
    xlate x = {.s = s, .len = len};
    pcre2_code *code = NULL;
    if (translate(&x))
        code = compile_code(c, &x, whole, err);
    else
        add_error(err, x.error, s, len, x.error_at);
    ivm_buf_free(&x.out);
    ivm_buf_free(&x.marks);
    ivm_buf_free(&x.outer);
    if (!code)
        return NULL;
    ivm_regex_entry *e = ivm_platform_malloc(sizeof *e + len);
    if (!e) {
        pcre2_code_free(code);
        ivm_buf_add_cstr(err, "out of memory compiling a regex");
        return NULL;
    }
    *e = (ivm_regex_entry){.code = code, .hash = hash, .whole = whole, .len = (uint32_t)len};
    memcpy(e->text, s, len);
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &e->groups);
    return e;
}

static ivm_regex_entry *lookup(struct ivm_regex_cache *c, const uint8_t *s, size_t len,
                               uint32_t hash, bool whole)
{
    for (ivm_regex_entry *e = c->buckets[hash & (CACHE_BUCKETS - 1)]; e; e = e->next)
        if (e->hash == hash && e->whole == whole && e->len == len && memcmp(e->text, s, len) == 0)
            return e;
    return NULL;
}

/* Drops the least recently used entry no matcher holds. */
static void evict_one(struct ivm_regex_cache *c)
{
    ivm_regex_entry **victim = NULL;
    for (uint32_t b = 0; b < CACHE_BUCKETS; b++)
        for (ivm_regex_entry **p = &c->buckets[b]; *p; p = &(*p)->next)
            if ((*p)->refs == 0 && (!victim || (*p)->used < (*victim)->used))
                victim = p;
    if (victim) {
        ivm_regex_entry *e = *victim;
        *victim = e->next;
        entry_free(e);
        c->count--;
    }
}

/* The compiled code of a pattern, held until release_entry. Compiles
 * outside the lock (JIT compilation takes tens of microseconds), so two
 * threads may compile the same pattern at once: the second to return
 * keeps the first's. */
static ivm_regex_entry *acquire(ivm_heap *h, const ivm_str *p, bool whole, ivm_buf *err)
{
    struct ivm_regex_cache *c = h->shared->regexes;
    uint32_t hash = p->hash ^ (whole ? 0x9e3779b9u : 0);
    ivm_platform_mutex_lock(c->lock);
    ivm_regex_entry *e = lookup(c, p->bytes, p->len, hash, whole);
    if (e) {
        e->refs++;
        e->used = ++c->clock;
        ivm_platform_mutex_unlock(c->lock);
        return e;
    }
    ivm_platform_mutex_unlock(c->lock);
    ivm_regex_entry *fresh = compile_entry(c, p->bytes, p->len, hash, whole, err);
    if (!fresh)
        return NULL;
    ivm_platform_mutex_lock(c->lock);
    e = lookup(c, p->bytes, p->len, hash, whole);
    if (e) {
        entry_free(fresh);
    } else {
        e = fresh;
        ivm_regex_entry **bucket = &c->buckets[hash & (CACHE_BUCKETS - 1)];
        e->next = *bucket;
        *bucket = e;
        c->count++;
    }
    e->refs++; /* before any eviction: e is in use */
    e->used = ++c->clock;
    if (c->count > CACHE_LIMIT)
        evict_one(c);
    ivm_platform_mutex_unlock(c->lock);
    return e;
}

static void release_entry(ivm_heap *h, ivm_regex_entry *e)
{
    struct ivm_regex_cache *c = h->shared->regexes;
    ivm_platform_mutex_lock(c->lock);
    e->refs--;
    ivm_platform_mutex_unlock(c->lock);
}

/* ---- Values ------------------------------------------------------------ */

bool ivm_regex_new(ivm_heap *h, ivm_value pattern, ivm_value *out, ivm_buf *err)
{
    ivm_regex_entry *e = acquire(h, ivm_as_str(pattern), false, err);
    if (!e)
        return false;
    release_entry(h, e); /* it stays cached for the first match */
    ivm_regex *r = ivm_heap_alloc(h, IVM_K_REGEX, 0, sizeof *r);
    r->id = __atomic_add_fetch(&h->shared->last_regex_id, 1, __ATOMIC_RELAXED);
    r->pattern = pattern;
    *out = (ivm_value)(uintptr_t)r;
    return true;
}

/* ---- Matching ---------------------------------------------------------- */

bool ivm_matcher_init(ivm_matcher *m, ivm_heap *h, ivm_value regex, bool whole,
                      const uint8_t *subject, size_t len, ivm_buf *err)
{
    *m = (ivm_matcher){.heap = h, .subject = subject, .len = len};
    m->entry = acquire(h, ivm_regex_pattern(regex), whole, err);
    if (!m->entry)
        return false;
    m->groups = m->entry->groups;
    m->data = pcre2_match_data_create_from_pattern(m->entry->code, h->shared->regexes->general);
    if (!m->data) {
        ivm_buf_add_cstr(err, "out of memory matching a regex");
        return false;
    }
    return true;
}

void ivm_matcher_free(ivm_matcher *m)
{
    if (m->data)
        pcre2_match_data_free(m->data);
    if (m->entry)
        release_entry(m->heap, m->entry);
    m->data = NULL;
    m->entry = NULL;
}

/* The JIT's code runs on a 32 KiB stack of the thread's by default: deep
 * backtracking ((a|b)* over a long subject) runs out of it. It then runs
 * again on a stack of its own that grows up to BIG_STACK (address space
 * reserved, touched only as it grows), made for this one match. */
static int match_on_big_stack(ivm_matcher *m, pcre2_match_context *shared)
{
    struct ivm_regex_cache *c = m->heap->shared->regexes;
    pcre2_jit_stack *stack = pcre2_jit_stack_create(64 * 1024, BIG_STACK, c->general);
    pcre2_match_context *context = stack ? pcre2_match_context_copy(shared) : NULL;
    int rc = PCRE2_ERROR_NOMEMORY;
    if (context) {
        pcre2_jit_stack_assign(context, NULL, stack);
        rc = pcre2_match(m->entry->code, m->subject, m->len, m->next, PCRE2_NO_UTF_CHECK,
                         m->data, context);
    }
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
    return rc;
}

int ivm_matcher_find(ivm_matcher *m, ivm_buf *err)
{
    if (m->next > m->len)
        return 0;
    pcre2_match_context *context = m->heap->shared->regexes->match;
    int rc = pcre2_match(m->entry->code, m->subject, m->len, m->next, PCRE2_NO_UTF_CHECK,
                         m->data, context);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = match_on_big_stack(m, context);
    if (rc < 0) {
        m->next = m->len + 1;
        if (rc == PCRE2_ERROR_NOMATCH)
            return 0;
        PCRE2_UCHAR message[160];
        if (pcre2_get_error_message(rc, message, sizeof message) < 0)
            message[0] = 0;
        ivm_buf_add_cstr(err, "regex match gave up: ");
        ivm_buf_add_cstr(err, (const char *)message);
        return -1;
    }
    /* Java's Matcher.find: on from the match's end, one character further
     * after an empty match. */
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->data);
    size_t start = ov[0], end = ov[1];
    if (end > start)
        m->next = end;
    else
        m->next = end < m->len ? end + utf8_len(m->subject[end]) : m->len + 1;
    return 1;
}

bool ivm_matcher_group(const ivm_matcher *m, uint32_t g, size_t *start, size_t *end)
{
    if (g > m->groups)
        return false;
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->data);
    if (ov[2 * g] == PCRE2_UNSET)
        return false;
    *start = ov[2 * g];
    *end = ov[2 * g + 1];
    return true;
}

int ivm_matcher_group_named(const ivm_matcher *m, const uint8_t *name, size_t len)
{
    char tmp[128];
    if (len >= sizeof tmp)
        return -1;
    memcpy(tmp, name, len);
    tmp[len] = 0;
    int n = pcre2_substring_number_from_name(m->entry->code, (PCRE2_SPTR)tmp);
    return n > 0 ? n : -1;
}
