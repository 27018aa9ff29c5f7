/* The core library's natives on strings, names and files: subs, name,
 * namespace, keyword, symbol; the clojure.string functions, registered
 * under their full names ("clojure.string/join"; the compiler resolves the
 * str/ alias); slurp and spit.
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
    CHECK(want_string(vm, v, upper ? "clojure.string/upper-case" : "clojure.string/lower-case", &s));
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
    CHECK(want_string(vm, args[0], "clojure.string/capitalize", &s));
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

/* ---- clojure.string: searching and replacing --------------------------- */

enum { HAS_ANYWHERE, HAS_PREFIX, HAS_SUFFIX };

static ivm_status has(ivm_vm *vm, const ivm_value *args, int where, const char *fn,
                      ivm_value *result)
{
    const ivm_str *s, *sub;
    CHECK(want_string(vm, args[0], fn, &s));
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
    CHECK(want_string(vm, args[0], "clojure.string/index-of", &s));
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
    if (from > (int64_t)s->aux)
        return IVM_OK;
    size_t at = find(s->bytes, s->len, sub, sublen,
                     ivm_core_cp_offset(s, from < 0 ? 0 : (uint64_t)from));
    if (at != SIZE_MAX)
        *result = ivm_fixnum(code_points(s->bytes, at));
    return IVM_OK;
}

/* replace and replace-first with a literal match: both strings or both
 * characters. An empty match inserts the replacement between characters
 * (and at both ends), as Java's String.replace. */
static ivm_status replace(ivm_vm *vm, const ivm_value *args, bool all, const char *fn,
                          ivm_value *result)
{
    const ivm_str *s;
    CHECK(want_string(vm, args[0], fn, &s));
    if (ivm_is_regex(args[1]))
        return ivm_core_regex_replace(vm, args, all, fn, result);
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

const ivm_native_def ivm_core_string_natives[] = {
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
    {"clojure.string/includes?", n_includes_p, 2, 2},
    {"clojure.string/starts-with?", n_starts_with_p, 2, 2},
    {"clojure.string/ends-with?", n_ends_with_p, 2, 2},
    {"clojure.string/index-of", n_index_of, 2, 3},
    {"clojure.string/replace", n_replace, 3, 3},
    {"clojure.string/replace-first", n_replace_first, 3, 3},
    {"slurp", n_slurp, 1, 1},
    {"spit", n_spit, 2, ANY},
};
const uint32_t ivm_core_string_native_count = sizeof ivm_core_string_natives / sizeof ivm_core_string_natives[0];
