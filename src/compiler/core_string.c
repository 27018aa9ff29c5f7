/* The core library's natives on strings, names and files: subs, name,
 * namespace, keyword, symbol; the clojure.string functions, registered
 * under their full names ("clojure.string/join"; the compiler resolves the
 * str/ alias); format (Java's String.format, as Clojure's; printf is the
 * prelude's); slurp and spit.
 *
 * Strings are UTF-8 and index by code point. Separators and matches are
 * literal strings (or characters), or regexes: split, replace and
 * replace-first hand those to core_regex.c.
 * Case mapping covers ASCII, Latin-1, Latin Extended-A, Greek and
 * Cyrillic one code point at a time (no ß -> SS, no final sigma, no
 * Turkish dotted i); trimming and blank? use Java's Character.isWhitespace. */
#include "compiler/core_internal.h"
#include "values/regex.h"

/* ---- Helpers ----------------------------------------------------------- */

static ivm_status want_string(ivm_vm *vm, ivm_value v, const char *fn, const ivm_str **out)
{
    if (ivm_core_is_string(v)) {
        *out = ivm_as_str(v);
        return IVM_OK;
    }
    ivm_buf what = {0};
    ivm_buf_add_cstr(&what, fn);
    ivm_buf_add_cstr(&what, " expects a string");
    ivm_status st = ivm_raise_type(vm, what.data, v);
    ivm_buf_free(&what);
    return st;
}

/* The string Java's toString makes of v, for the clojure.string functions
 * that call it on their argument (upper-case, index-of, replace, ...:
 * (upper-case :k) is ":K"); nil is an error, as there. */
static ivm_status want_text(ivm_vm *vm, ivm_value v, const char *fn, const ivm_str **out)
{
    if (ivm_core_is_string(v) || v == IVM_NIL)
        return want_string(vm, v, fn, out);
    ivm_buf b = {0};
    ivm_core_add_str(vm, &b, v);
    *out = ivm_as_str(ivm_core_buf_string(vm, &b));
    return IVM_OK;
}

/* A string or character argument as UTF-8 bytes (tmp holds a character). */
static bool text_of(ivm_value v, uint8_t tmp[4], const uint8_t **p, size_t *len)
{
    if (ivm_core_is_string(v)) {
        *p = ivm_as_str(v)->bytes;
        *len = ivm_as_str(v)->len;
        return true;
    }
    if (ivm_type_of(v) != IVM_T_CHAR)
        return false;
    ivm_buf b = {0};
    ivm_buf_add_utf8(&b, ivm_imm_payload(v));
    *len = b.len;
    memcpy(tmp, b.data, b.len);
    ivm_buf_free(&b);
    *p = tmp;
    return true;
}

static ivm_value substring(ivm_vm *vm, const ivm_str *s, size_t from, size_t to)
{
    return ivm_string(&vm->heap, s->bytes + from, to - from);
}

/* The byte offset of the first occurrence of needle at or after `from`,
 * or SIZE_MAX. Valid UTF-8 only ever matches on character boundaries. */
static size_t find(const uint8_t *h, size_t hlen, const uint8_t *n, size_t nlen, size_t from)
{
    if (nlen == 0)
        return from <= hlen ? from : SIZE_MAX;
    for (size_t i = from; i + nlen <= hlen; i++)
        if (h[i] == n[0] && memcmp(h + i, n, nlen) == 0)
            return i;
    return SIZE_MAX;
}

static size_t char_len(uint8_t lead) { return lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4; }

static uint32_t code_points(const uint8_t *s, size_t len)
{
    uint32_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += (s[i] & 0xc0) != 0x80;
    return n;
}

/* Character.isWhitespace */
static bool is_space(uint32_t c)
{
    if (c <= 0x20)
        return c == ' ' || (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x1f);
    return c == 0x1680 || (c >= 0x2000 && c <= 0x2006) || (c >= 0x2008 && c <= 0x200a) ||
           c == 0x2028 || c == 0x2029 || c == 0x205f || c == 0x3000;
}

/* ---- subs, name, keyword, symbol --------------------------------------- */

NATIVE(n_subs)
{
    const ivm_str *s;
    CHECK(want_string(vm, args[0], "subs", &s));
    for (uint32_t i = 1; i < nargs; i++)
        if (!ivm_is_int(args[i]))
            return ivm_raise_type(vm, "subs expects integer indices", args[i]);
    int64_t start = ivm_int_value(args[1]);
    int64_t end = nargs == 3 ? ivm_int_value(args[2]) : (int64_t)s->aux;
    if (start < 0 || end > (int64_t)s->aux || start > end) {
        ivm_buf b = {0};
        ivm_buf_add_cstr(&b, "begin ");
        ivm_buf_add_int(&b, start);
        ivm_buf_add_cstr(&b, ", end ");
        ivm_buf_add_int(&b, end);
        ivm_buf_add_cstr(&b, ", length ");
        ivm_buf_add_int(&b, s->aux);
        return ivm_raise_buf(vm, &b);
    }
    *result = substring(vm, s, ivm_core_cp_offset(s, (uint64_t)start),
                        ivm_core_cp_offset(s, (uint64_t)end));
    return IVM_OK;
}

static bool is_keyword_or_symbol(ivm_value v)
{
    return ivm_is_kind(v, IVM_K_KEYWORD) || ivm_is_kind(v, IVM_K_SYMBOL);
}

NATIVE(n_name)
{
    (void)nargs;
    ivm_value v = args[0];
    if (ivm_core_is_string(v)) {
        *result = v;
        return IVM_OK;
    }
    if (!is_keyword_or_symbol(v))
        return ivm_core_raise_with(vm, "Doesn't support name: ", v);
    const ivm_str *s = ivm_as_str(v);
    size_t start = s->aux ? s->aux + 1 : 0;
    *result = substring(vm, s, start, s->len);
    return IVM_OK;
}

NATIVE(n_namespace)
{
    (void)nargs;
    ivm_value v = args[0];
    if (!is_keyword_or_symbol(v))
        return ivm_core_raise_with(vm, "Doesn't support namespace: ", v);
    const ivm_str *s = ivm_as_str(v);
    *result = s->aux ? substring(vm, s, 0, s->aux) : IVM_NIL;
    return IVM_OK;
}

/* "ns/name" (or "name" when ns is nil) from (f ns name) */
static ivm_status qualified(ivm_vm *vm, const ivm_value *args, const char *fn, ivm_buf *b)
{
    const ivm_str *ns = NULL, *name;
    if (args[0] != IVM_NIL)
        CHECK(want_string(vm, args[0], fn, &ns));
    CHECK(want_string(vm, args[1], fn, &name));
    if (ns) {
        ivm_buf_add(b, ns->bytes, ns->len);
        ivm_buf_add_char(b, '/');
    }
    ivm_buf_add(b, name->bytes, name->len);
    return IVM_OK;
}

/* (keyword x): keywords, symbols and strings; nil for anything else, as
 * Clojure. (keyword ns name) */
NATIVE(n_keyword)
{
    ivm_heap *h = &vm->heap;
    if (nargs == 2) {
        ivm_buf b = {0};
        ivm_status st = qualified(vm, args, "keyword", &b);
        if (st == IVM_OK)
            *result = ivm_keyword(h, b.data ? b.data : "", b.len);
        ivm_buf_free(&b);
        return st;
    }
    ivm_value v = args[0];
    if (ivm_is_kind(v, IVM_K_KEYWORD))
        *result = v;
    else if (ivm_is_kind(v, IVM_K_SYMBOL) || ivm_core_is_string(v))
        *result = ivm_keyword(h, ivm_as_str(v)->bytes, ivm_as_str(v)->len);
    else
        *result = IVM_NIL;
    return IVM_OK;
}

NATIVE(n_symbol)
{
    ivm_heap *h = &vm->heap;
    if (nargs == 2) {
        ivm_buf b = {0};
        ivm_status st = qualified(vm, args, "symbol", &b);
        if (st == IVM_OK)
            *result = ivm_symbol(h, b.data ? b.data : "", b.len);
        ivm_buf_free(&b);
        return st;
    }
    ivm_value v = args[0];
    if (ivm_is_kind(v, IVM_K_SYMBOL))
        *result = v;
    else if (ivm_is_kind(v, IVM_K_KEYWORD) || ivm_core_is_string(v))
        *result = ivm_symbol(h, ivm_as_str(v)->bytes, ivm_as_str(v)->len);
    else
        return ivm_raise_type(vm, "no conversion to symbol", v);
    return IVM_OK;
}

/* ---- clojure.string: split, join --------------------------------------- */

/* Java's String.split on a literal separator (or, for split-lines, on
 * "\r?\n"): an empty separator splits between characters; limit > 0 makes
 * at most limit parts, limit 0 drops trailing empty parts, limit < 0 keeps
 * them; no match at all gives [s]. */
static ivm_value split(ivm_vm *vm, const ivm_str *s, const uint8_t *sep, size_t seplen,
                       bool lines, int64_t limit)
{
    ivm_worklist cuts; /* start, end byte offsets of each part, as fixnums */
    ivm_worklist_init(&cuts);
    size_t start = 0, pos = 0;
    bool matched = false;
    for (;;) {
        if (limit > 0 && (int64_t)(cuts.len / 2) == limit - 1)
            break;
        size_t at, end;
        if (seplen == 0) { /* a zero-width match after each character */
            if (pos >= s->len)
                break;
            at = end = pos + char_len(s->bytes[pos]);
        } else {
            at = find(s->bytes, s->len, sep, seplen, pos);
            if (at == SIZE_MAX)
                break;
            end = at + seplen;
            if (lines && at > start && s->bytes[at - 1] == '\r')
                at--;
        }
        matched = true;
        ivm_worklist_push2(&cuts, ivm_fixnum((int64_t)start), ivm_fixnum((int64_t)at));
        start = pos = end;
    }
    ivm_worklist_push2(&cuts, ivm_fixnum((int64_t)start), ivm_fixnum((int64_t)s->len));
    if (matched && limit == 0)
        while (cuts.len && ivm_fixnum_value(cuts.items[cuts.len - 1]) ==
                               ivm_fixnum_value(cuts.items[cuts.len - 2]))
            cuts.len -= 2;
    ivm_core_builder b;
    ivm_core_builder_vector(vm, &b);
    for (size_t i = 0; i < cuts.len; i += 2)
        ivm_core_builder_add(vm, &b, substring(vm, s, (size_t)ivm_fixnum_value(cuts.items[i]),
                                               (size_t)ivm_fixnum_value(cuts.items[i + 1])));
    ivm_worklist_free(&cuts);
    return ivm_core_builder_finish(vm, &b);
}

NATIVE(n_split)
{
    const ivm_str *s;
    CHECK(want_string(vm, args[0], "clojure.string/split", &s));
    if (ivm_is_regex(args[1]))
        return ivm_core_regex_split(vm, args, nargs, result);
    uint8_t tmp[4];
    const uint8_t *sep;
    size_t seplen;
    if (!text_of(args[1], tmp, &sep, &seplen))
        return ivm_raise_type(vm, "clojure.string/split expects a string separator", args[1]);
    int64_t limit = 0;
    if (nargs == 3) {
        if (!ivm_is_int(args[2]))
            return ivm_raise_type(vm, "clojure.string/split expects an integer limit", args[2]);
        limit = ivm_int_value(args[2]);
    }
    *result = split(vm, s, sep, seplen, false, limit);
    return IVM_OK;
}

NATIVE(n_split_lines)
{
    (void)nargs;
    const ivm_str *s;
    CHECK(want_string(vm, args[0], "clojure.string/split-lines", &s));
    *result = split(vm, s, (const uint8_t *)"\n", 1, true, 0);
    return IVM_OK;
}

NATIVE(n_join)
{
    ivm_value coll = args[nargs - 1];
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, coll));
    ivm_buf sep = {0}, b = {0};
    if (nargs == 2)
        ivm_core_add_str(vm, &sep, args[0]);
    ivm_value x;
    for (bool first = true; ivm_core_iter_next(&vm->heap, &it, &x); first = false) {
        if (!first && sep.len)
            ivm_buf_add(&b, sep.data, sep.len);
        ivm_core_add_str(vm, &b, x);
    }
    ivm_buf_free(&sep);
    *result = ivm_core_buf_string(vm, &b);
    return IVM_OK;
}

/* ---- clojure.string: trimming, case ------------------------------------ */

enum { TRIM_LEFT = 1, TRIM_RIGHT = 2 };

static ivm_status trim(ivm_vm *vm, ivm_value v, int sides, const char *fn, ivm_value *result)
{
    const ivm_str *s;
    CHECK(want_string(vm, v, fn, &s));
    size_t from = 0, to = s->len;
    if (sides & TRIM_LEFT)
        while (from < to) {
            const uint8_t *p = s->bytes + from;
            if (!is_space(ivm_utf8_next(&p)))
                break;
            from = (size_t)(p - s->bytes);
        }
    if (sides & TRIM_RIGHT)
        while (to > from) {
            size_t at = to - 1;
            while ((s->bytes[at] & 0xc0) == 0x80)
                at--;
            const uint8_t *p = s->bytes + at;
            if (!is_space(ivm_utf8_next(&p)))
                break;
            to = at;
        }
    *result = from == 0 && to == s->len ? v : substring(vm, s, from, to);
    return IVM_OK;
}

NATIVE(n_trim) { (void)nargs; return trim(vm, args[0], TRIM_LEFT | TRIM_RIGHT, "clojure.string/trim", result); }
NATIVE(n_triml) { (void)nargs; return trim(vm, args[0], TRIM_LEFT, "clojure.string/triml", result); }
NATIVE(n_trimr) { (void)nargs; return trim(vm, args[0], TRIM_RIGHT, "clojure.string/trimr", result); }

/* Latin Extended-A pairs: upper case at even code points in these runs,
 * at odd ones in the others. */
static bool latin_a_upper_even(uint32_t c)
{
    return (c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177);
}
static bool latin_a_upper_odd(uint32_t c)
{
    return (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e);
}

static uint32_t to_upper(uint32_t c)
{
    if (c < 0x80)
        return c >= 'a' && c <= 'z' ? c - 32 : c;
    if (c >= 0xe0 && c <= 0xfe && c != 0xf7) return c - 32;
    if (c == 0xff) return 0x178;
    if (latin_a_upper_even(c)) return c & ~1u;
    if (latin_a_upper_odd(c)) return (c & 1) ? c : c - 1;
    if (c == 0x3c2) return 0x3a3; /* final sigma */
    if (c >= 0x3b1 && c <= 0x3c9) return c - 32;
    if (c >= 0x430 && c <= 0x44f) return c - 32;
    if (c >= 0x450 && c <= 0x45f) return c - 80;
    return c;
}

static uint32_t to_lower(uint32_t c)
{
    if (c < 0x80)
        return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if (c >= 0xc0 && c <= 0xde && c != 0xd7) return c + 32;
    if (c == 0x178) return 0xff;
    if (c == 0x130) return 'i';
    if (latin_a_upper_even(c)) return c | 1;
    if (latin_a_upper_odd(c)) return (c & 1) ? c + 1 : c;
    if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) return c + 32;
    if (c >= 0x410 && c <= 0x42f) return c + 32;
    if (c >= 0x400 && c <= 0x40f) return c + 80;
    return c;
}

/* Maps the case of s[from..to) into b. */
static void map_case(ivm_buf *b, const ivm_str *s, size_t from, size_t to, bool upper)
{
    const uint8_t *p = s->bytes + from, *end = s->bytes + to;
    while (p < end) {
        uint32_t c = ivm_utf8_next(&p);
        ivm_buf_add_utf8(b, upper ? to_upper(c) : to_lower(c));
    }
}

static ivm_status change_case(ivm_vm *vm, ivm_value v, bool upper, ivm_value *result)
{
    const ivm_str *s;
    CHECK(want_text(vm, v, upper ? "clojure.string/upper-case" : "clojure.string/lower-case", &s));
    ivm_buf b = {0};
    map_case(&b, s, 0, s->len, upper);
    *result = ivm_core_buf_string(vm, &b);
    return IVM_OK;
}

NATIVE(n_upper_case) { (void)nargs; return change_case(vm, args[0], true, result); }
NATIVE(n_lower_case) { (void)nargs; return change_case(vm, args[0], false, result); }

/* The first character upper case, the rest lower case. */
NATIVE(n_capitalize)
{
    (void)nargs;
    const ivm_str *s;
    CHECK(want_text(vm, args[0], "clojure.string/capitalize", &s));
    ivm_buf b = {0};
    size_t first = s->len ? char_len(s->bytes[0]) : 0;
    map_case(&b, s, 0, first, true);
    map_case(&b, s, first, s->len, false);
    *result = ivm_core_buf_string(vm, &b);
    return IVM_OK;
}

NATIVE(n_str_reverse)
{
    (void)nargs;
    const ivm_str *s;
    CHECK(want_string(vm, args[0], "clojure.string/reverse", &s));
    ivm_buf b = {0};
    for (size_t to = s->len; to > 0;) {
        size_t at = to - 1;
        while ((s->bytes[at] & 0xc0) == 0x80)
            at--;
        ivm_buf_add(&b, s->bytes + at, to - at);
        to = at;
    }
    *result = ivm_core_buf_string(vm, &b);
    return IVM_OK;
}

NATIVE(n_blank_p)
{
    (void)nargs;
    if (args[0] == IVM_NIL) {
        *result = IVM_TRUE;
        return IVM_OK;
    }
    const ivm_str *s;
    CHECK(want_string(vm, args[0], "clojure.string/blank?", &s));
    const uint8_t *p = s->bytes, *end = s->bytes + s->len;
    bool blank = true;
    while (p < end && blank)
        blank = is_space(ivm_utf8_next(&p));
    *result = ivm_bool(blank);
    return IVM_OK;
}

/* (trim-newline s): s without the \n and \r characters at its end. */
NATIVE(n_trim_newline)
{
    (void)nargs;
    const ivm_str *s;
    CHECK(want_string(vm, args[0], "clojure.string/trim-newline", &s));
    size_t to = s->len;
    while (to > 0 && (s->bytes[to - 1] == '\n' || s->bytes[to - 1] == '\r'))
        to--;
    *result = to == s->len ? args[0] : substring(vm, s, 0, to);
    return IVM_OK;
}

/* (escape s cmap): each character c of s replaced by (str (cmap c)) where
 * that is truthy; cmap is a map or any function of a character. */
NATIVE(n_escape)
{
    (void)nargs;
    const ivm_str *s;
    CHECK(want_string(vm, args[0], "clojure.string/escape", &s));
    ivm_value cmap = args[1];
    ivm_buf b = {0};
    for (size_t at = 0; at < s->len;) {
        const uint8_t *p = s->bytes + at;
        uint32_t c = ivm_utf8_next(&p);
        ivm_value r;
        ivm_status st = ivm_core_call1(vm, cmap, ivm_char(c), &r);
        if (st != IVM_OK) {
            ivm_buf_free(&b);
            return st;
        }
        if (ivm_truthy(r))
            ivm_core_add_str(vm, &b, r);
        else
            ivm_buf_add(&b, s->bytes + at, (size_t)(p - (s->bytes + at)));
        at = (size_t)(p - s->bytes);
    }
    *result = ivm_core_buf_string(vm, &b);
    return IVM_OK;
}

/* ---- clojure.string: searching and replacing --------------------------- */

enum { HAS_ANYWHERE, HAS_PREFIX, HAS_SUFFIX };

static ivm_status has(ivm_vm *vm, const ivm_value *args, int where, const char *fn,
                      ivm_value *result)
{
    const ivm_str *s, *sub;
    CHECK(want_text(vm, args[0], fn, &s));
    CHECK(want_string(vm, args[1], fn, &sub));
    bool yes = sub->len <= s->len;
    if (yes && where == HAS_PREFIX)
        yes = memcmp(s->bytes, sub->bytes, sub->len) == 0;
    else if (yes && where == HAS_SUFFIX)
        yes = memcmp(s->bytes + s->len - sub->len, sub->bytes, sub->len) == 0;
    else if (yes)
        yes = find(s->bytes, s->len, sub->bytes, sub->len, 0) != SIZE_MAX;
    *result = ivm_bool(yes);
    return IVM_OK;
}

NATIVE(n_includes_p) { (void)nargs; return has(vm, args, HAS_ANYWHERE, "clojure.string/includes?", result); }
NATIVE(n_starts_with_p) { (void)nargs; return has(vm, args, HAS_PREFIX, "clojure.string/starts-with?", result); }
NATIVE(n_ends_with_p) { (void)nargs; return has(vm, args, HAS_SUFFIX, "clojure.string/ends-with?", result); }

/* (index-of s value) (index-of s value from): a code point index or nil */
NATIVE(n_index_of)
{
    const ivm_str *s;
    CHECK(want_text(vm, args[0], "clojure.string/index-of", &s));
    uint8_t tmp[4];
    const uint8_t *sub;
    size_t sublen;
    if (!text_of(args[1], tmp, &sub, &sublen))
        return ivm_raise_type(vm, "clojure.string/index-of expects a string or character", args[1]);
    int64_t from = 0;
    if (nargs == 3) {
        if (!ivm_is_int(args[2]))
            return ivm_raise_type(vm, "clojure.string/index-of expects an integer start", args[2]);
        from = ivm_int_value(args[2]);
    }
    *result = IVM_NIL;
    if (from > (int64_t)s->aux) /* as Java's indexOf: "" is found at the end */
        from = (int64_t)s->aux;
    size_t at = find(s->bytes, s->len, sub, sublen,
                     ivm_core_cp_offset(s, from < 0 ? 0 : (uint64_t)from));
    if (at != SIZE_MAX)
        *result = ivm_fixnum(code_points(s->bytes, at));
    return IVM_OK;
}

/* (last-index-of s value) (last-index-of s value from): where the last
 * occurrence starting at or before `from` begins (Java's lastIndexOf), or nil. */
NATIVE(n_last_index_of)
{
    const ivm_str *s;
    CHECK(want_text(vm, args[0], "clojure.string/last-index-of", &s));
    uint8_t tmp[4];
    const uint8_t *sub;
    size_t sublen;
    if (!text_of(args[1], tmp, &sub, &sublen))
        return ivm_raise_type(vm, "clojure.string/last-index-of expects a string or character", args[1]);
    int64_t from = (int64_t)s->aux;
    if (nargs == 3) {
        if (!ivm_is_int(args[2]))
            return ivm_raise_type(vm, "clojure.string/last-index-of expects an integer start", args[2]);
        from = ivm_int_value(args[2]);
    }
    *result = IVM_NIL;
    if (from < 0)
        return IVM_OK;
    size_t limit = ivm_core_cp_offset(s, from > (int64_t)s->aux ? s->aux : (uint64_t)from);
    size_t best = SIZE_MAX;
    for (size_t at = find(s->bytes, s->len, sub, sublen, 0); at != SIZE_MAX && at <= limit;
         at = at < s->len ? find(s->bytes, s->len, sub, sublen, at + char_len(s->bytes[at])) : SIZE_MAX)
        best = at;
    if (best != SIZE_MAX)
        *result = ivm_fixnum(code_points(s->bytes, best));
    return IVM_OK;
}

/* replace and replace-first with a literal match: both strings or both
 * characters. An empty match inserts the replacement between characters
 * (and at both ends), as Java's String.replace. */
static ivm_status replace(ivm_vm *vm, const ivm_value *args, bool all, const char *fn,
                          ivm_value *result)
{
    const ivm_str *s;
    CHECK(want_text(vm, args[0], fn, &s));
    if (ivm_is_regex(args[1])) { /* on the string form of args[0], rooted: a
                                    function replacement runs code */
        ivm_value with_text[3] = {(ivm_value)(uintptr_t)s, args[1], args[2]};
        ivm_root(vm, &with_text[0]);
        return ivm_core_regex_replace(vm, with_text, all, fn, result);
    }
    uint8_t t1[4], t2[4];
    const uint8_t *match, *repl;
    size_t mlen, rlen;
    bool chars = ivm_type_of(args[1]) == IVM_T_CHAR && ivm_type_of(args[2]) == IVM_T_CHAR;
    bool strings = ivm_core_is_string(args[1]) && ivm_core_is_string(args[2]);
    if (!chars && !strings)
        return ivm_core_raise_with(vm, "Invalid match arg: ", args[1]);
    text_of(args[1], t1, &match, &mlen);
    text_of(args[2], t2, &repl, &rlen);
    ivm_buf b = {0};
    size_t pos = 0;
    for (;;) {
        size_t at = find(s->bytes, s->len, match, mlen, pos);
        if (at == SIZE_MAX)
            break;
        ivm_buf_add(&b, s->bytes + pos, at - pos);
        ivm_buf_add(&b, repl, rlen);
        pos = at + mlen;
        if (mlen == 0) { /* step over one character */
            if (pos >= s->len) {
                pos = s->len;
                break;
            }
            size_t n = char_len(s->bytes[pos]);
            ivm_buf_add(&b, s->bytes + pos, n);
            pos += n;
            if (pos == s->len && all) {
                ivm_buf_add(&b, repl, rlen);
                break;
            }
        }
        if (!all)
            break;
    }
    ivm_buf_add(&b, s->bytes + pos, s->len - pos);
    *result = ivm_core_buf_string(vm, &b);
    return IVM_OK;
}

NATIVE(n_replace) { (void)nargs; return replace(vm, args, true, "clojure.string/replace", result); }
NATIVE(n_replace_first) { (void)nargs; return replace(vm, args, false, "clojure.string/replace-first", result); }

/* ---- format ------------------------------------------------------------ */

/* Java's Formatter, as Clojure's format reaches it (String.format): a
 * specifier is %[index$][flags][width][.precision]conversion, checked as
 * Java checks it (a misplaced flag, a missing width or a missing argument
 * is an error, never a guess). The argument types are Java's: %d %o %x
 * take integers only, %e %f %g floats only, %c characters only; nil
 * prints "null" under every conversion but %b. Floats round half up on
 * the shortest decimal digits that read back (Double.toString's), not on
 * the binary value: (format "%.2f" 1.005) is "1.01", as in Clojure.
 * Not supported (an error): %h, %a, %t (dates). Widths count code points
 * where Java counts UTF-16 units (they differ beyond the BMP only). */

enum {
    FL_MINUS = 1, FL_HASH = 2, FL_PLUS = 4, FL_SPACE = 8,
    FL_ZERO = 16, FL_COMMA = 32, FL_PAREN = 64, FL_PREVIOUS = 128,
};
static const char flag_chars[] = "-#+ 0,(<";

/* Width and precision stop here: Java's limit is 2^31, but a string that
 * long is never what a program means. */
#define FORMAT_MAX_WIDTH (1 << 24)

typedef struct fspec {
    const uint8_t *text; /* the specifier, from its '%', for messages */
    size_t text_len;
    int64_t index;       /* an explicit argument index (from 1), or 0 */
    unsigned flags;      /* FL_... */
    int64_t width, prec; /* -1 when absent */
    char conv;           /* lower case */
    bool upper;          /* the conversion was upper case */
} fspec;

static ivm_status spec_error(ivm_vm *vm, const fspec *sp, const char *before, const char *after)
{
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, "format: ");
    ivm_buf_add_cstr(&b, before);
    ivm_buf_add(&b, sp->text, sp->text_len);
    ivm_buf_add_cstr(&b, after);
    return ivm_raise_buf(vm, &b);
}

static ivm_status flag_error(ivm_vm *vm, const fspec *sp, unsigned bad)
{
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, "format: the flag '");
    for (int i = 0; flag_chars[i]; i++)
        if (bad & (1u << i)) {
            ivm_buf_add_char(&b, flag_chars[i]);
            break;
        }
    ivm_buf_add_cstr(&b, "' cannot be used with %");
    ivm_buf_add_char(&b, sp->upper ? (char)(sp->conv - 32) : sp->conv);
    ivm_buf_add_cstr(&b, " in ");
    ivm_buf_add(&b, sp->text, sp->text_len);
    return ivm_raise_buf(vm, &b);
}

/* Reads decimal digits at *p into *out (capped); false when there are none. */
static bool read_count(const uint8_t **p, const uint8_t *end, int64_t *out)
{
    const uint8_t *s = *p;
    int64_t n = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        if (n <= FORMAT_MAX_WIDTH)
            n = n * 10 + (*s - '0');
        s++;
    }
    if (s == *p)
        return false;
    *p = s;
    *out = n;
    return true;
}

/* Parses the specifier at *p (just after its '%') and checks it as Java's
 * Formatter does: which flags, widths and precisions each conversion takes. */
static ivm_status parse_spec(ivm_vm *vm, const uint8_t **p, const uint8_t *end, fspec *sp)
{
    const uint8_t *s = *p;
    *sp = (fspec){.text = s - 1, .width = -1, .prec = -1};
    const uint8_t *digits = s;
    int64_t n;
    bool indexed = false;
    if (read_count(&s, end, &n) && s < end && *s == '$') {
        sp->index = n;
        indexed = true;
        s++;
    } else {
        s = digits; /* a width, or the 0 flag */
    }
    for (; s < end; s++) {
        int f = 0;
        while (flag_chars[f] && flag_chars[f] != *s)
            f++;
        if (!flag_chars[f])
            break;
        unsigned bit = 1u << f;
        if (sp->flags & bit) {
            sp->text_len = (size_t)(s + 1 - sp->text);
            return spec_error(vm, sp, "a flag is repeated in ", "");
        }
        sp->flags |= bit;
    }
    read_count(&s, end, &sp->width);
    bool bad_prec = false;
    if (s < end && *s == '.') {
        s++;
        bad_prec = !read_count(&s, end, &sp->prec);
    }
    if (s >= end || bad_prec) {
        sp->text_len = (size_t)(s - sp->text);
        return spec_error(vm, sp, "the specifier ", " has no conversion");
    }
    uint8_t c = *s++;
    sp->text_len = (size_t)(s - sp->text);
    *p = s;
    if (sp->width > FORMAT_MAX_WIDTH || sp->prec > FORMAT_MAX_WIDTH)
        return spec_error(vm, sp, "the width or precision of ", " is too large");
    if (indexed && sp->index == 0)
        return spec_error(vm, sp, "argument indices start at 1, in ", "");
    sp->upper = c >= 'A' && c <= 'Z';
    sp->conv = (char)(sp->upper ? c + 32 : c);
    if (c == '%' || c == 'n') {
        sp->conv = (char)c;
        sp->upper = false;
    }
    unsigned fl = sp->flags & ~FL_PREVIOUS;
    switch (c) {
    case 'b': case 'B': case 's': case 'S': case 'c': case 'C':
        if (c != 'c' && c != 'C')
            ;
        else if (sp->prec >= 0)
            return spec_error(vm, sp, "", " cannot have a precision");
        if (fl & ~FL_MINUS)
            return flag_error(vm, sp, fl & ~FL_MINUS);
        break;
    case 'd': case 'o': case 'x': case 'X': case 'e': case 'E':
    case 'f': case 'g': case 'G':
        if ((fl & FL_PLUS) && (fl & FL_SPACE))
            return spec_error(vm, sp, "the flags '+' and ' ' cannot be combined, in ", "");
        if ((fl & FL_MINUS) && (fl & FL_ZERO))
            return spec_error(vm, sp, "the flags '-' and '0' cannot be combined, in ", "");
        if (sp->conv == 'd' || sp->conv == 'o' || sp->conv == 'x') {
            if (sp->prec >= 0)
                return spec_error(vm, sp, "", " cannot have a precision");
            unsigned bad = sp->conv == 'd' ? FL_HASH : FL_PLUS | FL_SPACE | FL_COMMA | FL_PAREN;
            if (fl & bad)
                return flag_error(vm, sp, fl & bad);
        } else if (sp->conv == 'e' && (fl & FL_COMMA)) {
            return flag_error(vm, sp, FL_COMMA);
        } else if (sp->conv == 'g' && (fl & FL_HASH)) {
            return flag_error(vm, sp, FL_HASH);
        }
        break;
    case '%': /* '<' is no exception here: these take no argument */
        if (sp->prec >= 0)
            return spec_error(vm, sp, "", " cannot have a precision");
        if (sp->flags & ~FL_MINUS)
            return flag_error(vm, sp, sp->flags & ~FL_MINUS);
        break;
    case 'n':
        if (sp->width >= 0 || sp->prec >= 0 || sp->flags)
            return spec_error(vm, sp, "", " takes no flags, width or precision");
        break;
    case 'h': case 'H': case 'a': case 'A': case 't': case 'T':
        return spec_error(vm, sp, "the conversion ", " is not supported by ivm");
    default:
        return spec_error(vm, sp, "unknown conversion in ", "");
    }
    if ((fl & (FL_MINUS | FL_ZERO)) && sp->width < 0)
        return spec_error(vm, sp, "", " needs a width");
    return IVM_OK;
}

/* Appends s with spaces to the specifier's width (after it for '-'). */
static void justify(ivm_buf *out, const fspec *sp, const char *s, size_t len)
{
    int64_t pad = sp->width - (int64_t)code_points((const uint8_t *)s, len);
    if (!(sp->flags & FL_MINUS))
        for (; pad > 0; pad--)
            ivm_buf_add_char(out, ' ');
    ivm_buf_add(out, s, len);
    for (; pad > 0; pad--)
        ivm_buf_add_char(out, ' ');
}

/* Upper-cases b's text from byte `from` on (%S, %B, %C, %X, %E, %G). */
static void upper_from(ivm_buf *b, size_t from)
{
    ivm_buf up = {0};
    const uint8_t *p = (const uint8_t *)b->data + from, *end = (const uint8_t *)b->data + b->len;
    while (p < end)
        ivm_buf_add_utf8(&up, to_upper(ivm_utf8_next(&p)));
    b->len = from;
    if (up.len)
        ivm_buf_add(b, up.data, up.len);
    ivm_buf_free(&up);
}

/* Java's leading and trailing signs of a number. */
static void add_sign(ivm_buf *b, const fspec *sp, bool neg)
{
    if (neg)
        ivm_buf_add_char(b, (sp->flags & FL_PAREN) ? '(' : '-');
    else if (sp->flags & FL_PLUS)
        ivm_buf_add_char(b, '+');
    else if (sp->flags & FL_SPACE)
        ivm_buf_add_char(b, ' ');
}

/* Appends the magnitude m (digits, maybe a point and more digits) with
 * ',' between groups of three integer digits for the ',' flag, then with
 * the '0' flag pads b with zeros after its sign (from byte `begin`) until
 * it is `width` long (Formatter.localizedMagnitude). */
static void add_magnitude(ivm_buf *b, const fspec *sp, const char *m, size_t len, size_t begin,
                          int64_t width)
{
    size_t int_len = 0;
    while (int_len < len && m[int_len] != '.')
        int_len++;
    for (size_t i = 0; i < int_len; i++) {
        if ((sp->flags & FL_COMMA) && i > 0 && (int_len - i) % 3 == 0)
            ivm_buf_add_char(b, ',');
        ivm_buf_add_char(b, m[i]);
    }
    ivm_buf_add(b, m + int_len, len - int_len);
    if ((sp->flags & FL_ZERO) && width >= 0 && (int64_t)b->len < width) {
        size_t pad = (size_t)width - b->len, tail = b->len - begin;
        for (size_t i = 0; i < pad; i++)
            ivm_buf_add_char(b, '0');
        memmove(b->data + begin + pad, b->data + begin, tail);
        memset(b->data + begin, '0', pad);
    }
}

/* Digits of an unsigned integer in base 8, 10 or 16, into d (24 bytes). */
static size_t utoa(uint64_t x, unsigned base, char d[24])
{
    char t[24];
    size_t n = 0;
    do {
        t[n++] = "0123456789abcdef"[x % base];
        x /= base;
    } while (x);
    for (size_t i = 0; i < n; i++)
        d[i] = t[n - 1 - i];
    return n;
}

static void format_integer(ivm_buf *b, const fspec *sp, int64_t v)
{
    char d[24];
    if (sp->conv == 'd') {
        bool neg = v < 0;
        add_sign(b, sp, neg);
        size_t n = utoa(neg ? 0 - (uint64_t)v : (uint64_t)v, 10, d);
        int64_t width = sp->width >= 0 && neg && (sp->flags & FL_PAREN) ? sp->width - 1 : sp->width;
        add_magnitude(b, sp, d, n, b->len, width);
        if (neg && (sp->flags & FL_PAREN))
            ivm_buf_add_char(b, ')');
        return;
    }
    size_t n = utoa((uint64_t)v, sp->conv == 'o' ? 8 : 16, d);
    size_t prefix = !(sp->flags & FL_HASH) ? 0 : sp->conv == 'o' ? 1 : 2;
    ivm_buf_add(b, "0x", prefix);
    if (sp->flags & FL_ZERO)
        for (int64_t pad = sp->width - (int64_t)(n + prefix); pad > 0; pad--)
            ivm_buf_add_char(b, '0');
    ivm_buf_add(b, d, n);
}

/* Java's FormattedFloatingDecimal.applyPrecision: rounds the *n digits of
 * 0.DIGITS x 10^exp half up to their first `keep`; returns the exponent,
 * which grows when 9s carry. *n becomes 0 when the value rounds to 0. */
static int round_digits(char *digits, int *n, int exp, int keep)
{
    if (keep >= *n || keep < 0)
        return keep < 0 ? (*n = 0, exp) : exp;
    if (keep == 0) {
        if (digits[0] < '5') {
            *n = 0;
            return exp;
        }
        digits[0] = '1';
        *n = 1;
        return exp + 1;
    }
    bool up = digits[keep] >= '5';
    *n = keep;
    if (!up)
        return exp;
    int i = keep - 1;
    while (i >= 0 && digits[i] == '9')
        i--;
    if (i < 0) {
        digits[0] = '1';
        *n = 1;
        return exp + 1;
    }
    digits[i]++;
    *n = i + 1;
    return exp;
}

static char digit_at(const char *digits, int n, int i) { return i >= 0 && i < n ? digits[i] : '0'; }

/* 0.DIGITS x 10^exp in plain notation with `prec` decimals. */
static void fixed(ivm_buf *m, const char *digits, int n, int exp, int64_t prec, bool point)
{
    if (exp <= 0 || n == 0)
        ivm_buf_add_char(m, '0');
    else
        for (int i = 0; i < exp; i++)
            ivm_buf_add_char(m, digit_at(digits, n, i));
    if (prec > 0 || point)
        ivm_buf_add_char(m, '.');
    for (int64_t i = 0; i < prec; i++)
        ivm_buf_add_char(m, n == 0 ? '0' : digit_at(digits, n, exp + (int)i));
}

/* D.DDD (prec decimals) into m, and the exponent's "+NN" into e. */
static void scientific(ivm_buf *m, ivm_buf *e, const char *digits, int n, int exp, int64_t prec,
                       bool point)
{
    ivm_buf_add_char(m, n ? digits[0] : '0');
    if (prec > 0 || point)
        ivm_buf_add_char(m, '.');
    for (int64_t i = 1; i <= prec; i++)
        ivm_buf_add_char(m, digit_at(digits, n, (int)i));
    int x = n ? exp - 1 : 0;
    ivm_buf_add_char(e, x < 0 ? '-' : '+');
    if (x < 0)
        x = -x;
    if (x < 10)
        ivm_buf_add_char(e, '0');
    ivm_buf_add_int(e, x);
}

static void format_float(ivm_buf *b, const fspec *sp, double v)
{
    if (v != v) {
        ivm_buf_add_cstr(b, "NaN");
        return;
    }
    bool neg = v < 0 || (v == 0 && 1 / v < 0);
    double a = neg ? -v : v;
    add_sign(b, sp, neg);
    if (a > 1.7976931348623157e308) {
        ivm_buf_add_cstr(b, "Infinity");
    } else {
        char digits[24];
        int exp = 0, n = 0;
        if (a != 0)
            n = ivm_platform_shortest_digits(a, digits, &exp);
        bool point = (sp->flags & FL_HASH) != 0;
        ivm_buf m = {0}, e = {0};
        if (sp->conv == 'f') {
            int64_t prec = sp->prec < 0 ? 6 : sp->prec;
            exp = round_digits(digits, &n, exp, exp + (int)prec);
            fixed(&m, digits, n, exp, prec, point && prec == 0);
        } else if (sp->conv == 'e') {
            int64_t prec = sp->prec < 0 ? 6 : sp->prec;
            exp = round_digits(digits, &n, exp, 1 + (int)prec);
            scientific(&m, &e, digits, n, exp, prec, point && prec == 0);
        } else { /* g */
            int64_t prec = sp->prec < 0 ? 6 : sp->prec == 0 ? 1 : sp->prec;
            if (n == 0) {
                fixed(&m, digits, 0, 0, prec - 1, false);
            } else {
                exp = round_digits(digits, &n, exp, (int)prec);
                if (exp - 1 < -4 || exp - 1 >= prec)
                    scientific(&m, &e, digits, n, exp, prec - 1, false);
                else
                    fixed(&m, digits, n, exp, prec - exp, false);
            }
        }
        int64_t width = sp->width;
        if (width >= 0 && e.len)
            width -= (int64_t)e.len + 1;
        if (width >= 0 && neg && (sp->flags & FL_PAREN))
            width--;
        add_magnitude(b, sp, m.data, m.len, b->len, width);
        if (e.len) {
            ivm_buf_add_char(b, 'e');
            ivm_buf_add(b, e.data, e.len);
        }
        ivm_buf_free(&m);
        ivm_buf_free(&e);
    }
    if (neg && (sp->flags & FL_PAREN))
        ivm_buf_add_char(b, ')');
}

/* The text of one specifier's conversion of x into b (unjustified). */
static ivm_status convert(ivm_vm *vm, ivm_buf *b, const fspec *sp, ivm_value x)
{
    ivm_buf_add_cstr(b, ""); /* b->data is never NULL below */
    char conv = sp->conv;
    if (conv == 'b') {
        ivm_buf_add_cstr(b, x == IVM_NIL || x == IVM_FALSE ? "false" : "true");
    } else if (x == IVM_NIL) {
        ivm_buf_add_cstr(b, "null");
    } else if (conv == 's') {
        ivm_core_add_str(vm, b, x);
    } else if (conv == 'c') {
        if (ivm_type_of(x) != IVM_T_CHAR)
            return ivm_raise_type(vm, "format: %c expects a character", x);
        ivm_buf_add_utf8(b, ivm_imm_payload(x));
    } else if (conv == 'd' || conv == 'o' || conv == 'x') {
        if (!ivm_is_int(x))
            return ivm_raise_type(vm, conv == 'd' ? "format: %d expects an integer"
                                      : conv == 'o' ? "format: %o expects an integer"
                                                    : "format: %x expects an integer", x);
        format_integer(b, sp, ivm_int_value(x));
    } else {
        if (!ivm_is_float(x))
            return ivm_raise_type(vm, conv == 'e' ? "format: %e expects a float"
                                      : conv == 'f' ? "format: %f expects a float"
                                                    : "format: %g expects a float", x);
        format_float(b, sp, ivm_float_value(x));
    }
    if (sp->prec >= 0 && (conv == 's' || conv == 'b')) { /* at most prec characters */
        size_t at = 0;
        for (int64_t i = 0; i < sp->prec && at < b->len; i++)
            at += char_len((uint8_t)b->data[at]);
        if (at < b->len)
            b->len = at;
    }
    if (sp->upper)
        upper_from(b, 0);
    return IVM_OK;
}

static ivm_status format(ivm_vm *vm, const ivm_value *args, uint32_t nargs, ivm_buf *out)
{
    const ivm_str *f;
    CHECK(want_string(vm, args[0], "format", &f));
    const uint8_t *p = f->bytes, *end = f->bytes + f->len;
    uint32_t next = 1, last = 0; /* args[next] is the next ordinary argument */
    ivm_buf t = {0};
    while (p < end) {
        const uint8_t *pct = p;
        while (pct < end && *pct != '%')
            pct++;
        if (pct == end) {
            ivm_buf_add(out, p, (size_t)(end - p));
            break;
        }
        ivm_buf_add(out, p, (size_t)(pct - p));
        p = pct + 1;
        fspec sp;
        ivm_status st = parse_spec(vm, &p, end, &sp);
        if (st == IVM_OK && sp.conv == 'n') {
            ivm_buf_add_char(out, '\n');
            continue;
        }
        if (st == IVM_OK && sp.conv == '%') {
            justify(out, &sp, "%", 1);
            continue;
        }
        uint32_t i = 0;
        if (st == IVM_OK) {
            if (sp.flags & FL_PREVIOUS)
                i = last;
            else if (sp.index > 0)
                i = sp.index < (int64_t)nargs ? (uint32_t)sp.index : nargs;
            else
                i = next++;
            if (i == 0 || i >= nargs)
                st = spec_error(vm, &sp, "no argument left for ", "");
        }
        if (st == IVM_OK) {
            last = i;
            t.len = 0;
            st = convert(vm, &t, &sp, args[i]);
        }
        if (st != IVM_OK) {
            ivm_buf_free(&t);
            return st;
        }
        justify(out, &sp, t.data, t.len);
    }
    ivm_buf_free(&t);
    return IVM_OK;
}

NATIVE(n_format)
{
    ivm_buf b = {0};
    ivm_status st = format(vm, args, nargs, &b);
    if (st != IVM_OK) {
        ivm_buf_free(&b);
        return st;
    }
    *result = ivm_core_buf_string(vm, &b);
    return IVM_OK;
}

/* ---- Files ------------------------------------------------------------- */

static ivm_status want_path(ivm_vm *vm, ivm_value v, const char *fn, const char **path)
{
    const ivm_str *s;
    CHECK(want_string(vm, v, fn, &s));
    if (find(s->bytes, s->len, (const uint8_t *)"", 1, 0) != SIZE_MAX)
        return ivm_core_raise_with(vm, "a file name cannot contain a NUL character: ", v);
    *path = (const char *)s->bytes; /* NUL-terminated (value.h) */
    return IVM_OK;
}

static ivm_status file_error(ivm_vm *vm, const char *path, const char *error)
{
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, path);
    ivm_buf_add_cstr(&b, " (");
    ivm_buf_add_cstr(&b, error ? error : "I/O error");
    ivm_buf_add_char(&b, ')');
    return ivm_raise_buf(vm, &b);
}

/* (slurp path): the whole file, which must be UTF-8, as a string. */
NATIVE(n_slurp)
{
    (void)nargs;
    const char *path;
    CHECK(want_path(vm, args[0], "slurp", &path));
    uint8_t *data = NULL;
    size_t len = 0;
    const char *error = NULL;
    if (!ivm_platform_read_file(path, &data, &len, &error))
        return file_error(vm, path, error);
    ivm_status st = IVM_OK;
    if (!ivm_utf8_valid(data, len))
        st = file_error(vm, path, "not valid UTF-8");
    else
        *result = ivm_string(&vm->heap, data ? (const char *)data : "", len);
    ivm_platform_free(data);
    return st;
}

/* (spit path x & options): writes (str x); :append true adds to the end. */
NATIVE(n_spit)
{
    const char *path;
    CHECK(want_path(vm, args[0], "spit", &path));
    if (nargs % 2)
        return ivm_raise(vm, "spit expects options as keyword value pairs");
    bool append = false;
    for (uint32_t i = 2; i < nargs; i += 2)
        if (ivm_is_named(args[i], IVM_K_KEYWORD, "append"))
            append = ivm_truthy(args[i + 1]);
    ivm_buf b = {0};
    const char *error = NULL;
    if (append) {
        uint8_t *old = NULL;
        size_t len = 0;
        if (ivm_platform_read_file(path, &old, &len, &error))
            ivm_buf_add(&b, old, len);
        ivm_platform_free(old);
    }
    ivm_core_add_str(vm, &b, args[1]);
    if (path[0] == '-' && path[1] == '\0')
        ivm_vm_flush(vm); /* the platform's "-" is standard output */
    bool ok = ivm_platform_write_file(path, b.data ? b.data : "", b.len, &error);
    ivm_buf_free(&b);
    if (!ok)
        return file_error(vm, path, error);
    *result = IVM_NIL;
    return IVM_OK;
}

/* (ivm.core/with-out-str* f): what f prints, as a string (with-out-str's
 * body is f). Nothing is flushed meanwhile (vm->capturing); a process
 * cannot yield inside a native's call, so the output is f's alone. */
NATIVE(n_with_out_str)
{
    (void)nargs;
    ivm_buf saved = vm->out;
    vm->out = (ivm_buf){0};
    vm->capturing++;
    ivm_status st = ivm_call(vm, args[0], 0, NULL, result);
    vm->capturing--;
    ivm_buf captured = vm->out;
    vm->out = saved;
    if (st != IVM_OK) {
        ivm_buf_free(&captured);
        return st;
    }
    *result = ivm_core_buf_string(vm, &captured);
    return IVM_OK;
}

const ivm_native_def ivm_core_string_natives[] = {
    {"ivm.core/with-out-str*", n_with_out_str, 1, 1},
    {"subs", n_subs, 2, 3},
    {"name", n_name, 1, 1},
    {"namespace", n_namespace, 1, 1},
    {"keyword", n_keyword, 1, 2},
    {"symbol", n_symbol, 1, 2},
    {"clojure.string/split", n_split, 2, 3},
    {"clojure.string/split-lines", n_split_lines, 1, 1},
    {"clojure.string/join", n_join, 1, 2},
    {"clojure.string/trim", n_trim, 1, 1},
    {"clojure.string/triml", n_triml, 1, 1},
    {"clojure.string/trimr", n_trimr, 1, 1},
    {"clojure.string/upper-case", n_upper_case, 1, 1},
    {"clojure.string/lower-case", n_lower_case, 1, 1},
    {"clojure.string/capitalize", n_capitalize, 1, 1},
    {"clojure.string/reverse", n_str_reverse, 1, 1},
    {"clojure.string/blank?", n_blank_p, 1, 1},
    {"clojure.string/trim-newline", n_trim_newline, 1, 1},
    {"clojure.string/escape", n_escape, 2, 2},
    {"clojure.string/includes?", n_includes_p, 2, 2},
    {"clojure.string/starts-with?", n_starts_with_p, 2, 2},
    {"clojure.string/ends-with?", n_ends_with_p, 2, 2},
    {"clojure.string/index-of", n_index_of, 2, 3},
    {"clojure.string/last-index-of", n_last_index_of, 2, 3},
    {"clojure.string/replace", n_replace, 3, 3},
    {"clojure.string/replace-first", n_replace_first, 3, 3},
    {"format", n_format, 1, ANY},
    {"slurp", n_slurp, 1, 1},
    {"spit", n_spit, 2, ANY},
};
const uint32_t ivm_core_string_native_count = sizeof ivm_core_string_natives / sizeof ivm_core_string_natives[0];
