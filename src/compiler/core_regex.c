/* The core library's regex natives: re-pattern, re-find, re-matches,
 * re-seq, and the regex forms of clojure.string/split, replace and
 * replace-first (core_string.c hands them a regex argument). The engine
 * and Java's matching rules are values/regex.h's.
 *
 * A match is Clojure's re-groups of it: the matched string when the
 * pattern has no groups, else the vector [whole g1 g2 ...] with nil for a
 * group that took no part. re-seq is eager (a list, or nil for no match),
 * as ivm's other sequence functions are. There are no matcher objects:
 * re-matcher and re-groups, which need one, are not offered, nor
 * (re-find matcher). */
#include "compiler/core_internal.h"
#include "values/regex.h"

/* ---- Arguments --------------------------------------------------------- */

static ivm_status want_regex(ivm_vm *vm, ivm_value v, const char *fn)
{
    if (ivm_is_regex(v))
        return IVM_OK;
    ivm_buf what = {0};
    ivm_buf_add_cstr(&what, fn);
    ivm_buf_add_cstr(&what, " expects a regex");
    ivm_status st = ivm_raise_type(vm, what.data, v);
    ivm_buf_free(&what);
    return st;
}

static ivm_status want_text(ivm_vm *vm, ivm_value v, const char *fn)
{
    if (ivm_core_is_string(v))
        return IVM_OK;
    ivm_buf what = {0};
    ivm_buf_add_cstr(&what, fn);
    ivm_buf_add_cstr(&what, " expects a string");
    ivm_status st = ivm_raise_type(vm, what.data, v);
    ivm_buf_free(&what);
    return st;
}

/* Starts m on regex and the string s; raises on failure (m is then
 * already freed). */
static ivm_status start(ivm_vm *vm, ivm_matcher *m, ivm_value regex, ivm_value s, bool whole)
{
    ivm_buf err = {0};
    const ivm_str *str = ivm_as_str(s);
    if (ivm_matcher_init(m, &vm->heap, regex, whole, str->bytes, str->len, &err))
        return IVM_OK;
    ivm_matcher_free(m);
    return ivm_raise_buf(vm, &err);
}

/* The next match: 1, 0 at the end, or -1 with the error raised (and m
 * freed). */
static int find(ivm_vm *vm, ivm_matcher *m, ivm_status *st)
{
    ivm_buf err = {0};
    int found = ivm_matcher_find(m, &err);
    if (found < 0) {
        ivm_matcher_free(m);
        *st = ivm_raise_buf(vm, &err);
    }
    return found;
}

static ivm_value group_value(ivm_vm *vm, const ivm_matcher *m, uint32_t g)
{
    size_t from, to;
    if (!ivm_matcher_group(m, g, &from, &to))
        return IVM_NIL;
    return ivm_string(&vm->heap, m->subject + from, to - from);
}

/* Clojure's re-groups of the last match. */
static ivm_value match_value(ivm_vm *vm, const ivm_matcher *m)
{
    if (m->groups == 0)
        return group_value(vm, m, 0);
    ivm_worklist w;
    ivm_worklist_init(&w);
    for (uint32_t g = 0; g <= m->groups; g++)
        ivm_worklist_push(&w, group_value(vm, m, g));
    ivm_value v = ivm_vec_from(&vm->heap, w.items, w.len);
    ivm_worklist_free(&w);
    return v;
}

/* ---- re-pattern, re-find, re-matches, re-seq --------------------------- */

NATIVE(n_re_pattern)
{
    (void)nargs;
    if (ivm_is_regex(args[0])) {
        *result = args[0];
        return IVM_OK;
    }
    CHECK(want_text(vm, args[0], "re-pattern"));
    ivm_buf err = {0};
    if (ivm_regex_new(&vm->heap, args[0], result, &err)) {
        ivm_buf_free(&err);
        return IVM_OK;
    }
    return ivm_raise_buf(vm, &err);
}

/* re-find and re-matches: the first match, or the whole string's. */
static ivm_status first_match(ivm_vm *vm, const ivm_value *args, bool whole, const char *fn,
                              ivm_value *result)
{
    CHECK(want_regex(vm, args[0], fn));
    CHECK(want_text(vm, args[1], fn));
    ivm_matcher m;
    CHECK(start(vm, &m, args[0], args[1], whole));
    ivm_status st = IVM_OK;
    int found = find(vm, &m, &st);
    if (found < 0)
        return st;
    *result = found ? match_value(vm, &m) : IVM_NIL;
    ivm_matcher_free(&m);
    return IVM_OK;
}

NATIVE(n_re_find) { (void)nargs; return first_match(vm, args, false, "re-find", result); }
NATIVE(n_re_matches) { (void)nargs; return first_match(vm, args, true, "re-matches", result); }

NATIVE(n_re_seq)
{
    (void)nargs;
    CHECK(want_regex(vm, args[0], "re-seq"));
    CHECK(want_text(vm, args[1], "re-seq"));
    ivm_matcher m;
    CHECK(start(vm, &m, args[0], args[1], false));
    ivm_worklist w;
    ivm_worklist_init(&w);
    ivm_status st = IVM_OK;
    int found;
    while ((found = find(vm, &m, &st)) > 0)
        ivm_worklist_push(&w, match_value(vm, &m));
    if (found < 0) {
        ivm_worklist_free(&w);
        return st;
    }
    ivm_matcher_free(&m);
    /* an empty worklist holds no memory: nothing to free for nil */
    *result = w.len ? ivm_core_list_of(&vm->heap, &w) : IVM_NIL;
    return IVM_OK;
}

/* ---- clojure.string ---------------------------------------------------- */

/* Java's Pattern.split: a zero-width match at the very start makes no
 * leading empty part; limit > 0 makes at most limit parts, 0 drops the
 * trailing empty ones, < 0 keeps them; no match at all gives [s]. */
ivm_status ivm_core_regex_split(ivm_vm *vm, const ivm_value *args, uint32_t nargs,
                                ivm_value *result)
{
    int64_t limit = 0;
    if (nargs == 3) {
        if (!ivm_is_int(args[2]))
            return ivm_raise_type(vm, "clojure.string/split expects an integer limit", args[2]);
        limit = ivm_int_value(args[2]);
    }
    ivm_matcher m;
    CHECK(start(vm, &m, args[1], args[0], false));
    ivm_worklist parts;
    ivm_worklist_init(&parts);
    size_t index = 0;
    ivm_status st = IVM_OK;
    int found = 0;
    while ((limit <= 0 || (int64_t)parts.len < limit - 1) && (found = find(vm, &m, &st)) != 0) {
        if (found < 0) {
            ivm_worklist_free(&parts);
            return st;
        }
        size_t from, to;
        ivm_matcher_group(&m, 0, &from, &to);
        if (index == 0 && from == 0 && to == 0)
            continue;
        ivm_worklist_push(&parts, ivm_string(&vm->heap, m.subject + index, from - index));
        index = to;
    }
    if (index == 0) {
        parts.len = 0;
        ivm_worklist_push(&parts, args[0]);
    } else {
        ivm_worklist_push(&parts, ivm_string(&vm->heap, m.subject + index, m.len - index));
        if (limit == 0)
            while (parts.len && ivm_as_str(parts.items[parts.len - 1])->len == 0)
                parts.len--;
    }
    ivm_matcher_free(&m);
    *result = ivm_vec_from(&vm->heap, parts.items, parts.len);
    ivm_worklist_free(&parts);
    return IVM_OK;
}

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static bool is_alnum(uint8_t c) { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }

/* The group ${name} refers to: Java's checks and messages. */
static ivm_status named_group(ivm_vm *vm, const ivm_matcher *m, const uint8_t *name,
                              size_t len, int64_t *group)
{
    *group = is_digit(name[0]) ? -1 : ivm_matcher_group_named(m, name, len);
    if (*group >= 0)
        return IVM_OK;
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, is_digit(name[0]) ? "capturing group name {" : "No group with name {");
    ivm_buf_add(&b, name, len);
    ivm_buf_add_cstr(&b, is_digit(name[0]) ? "} starts with digit character" : "}");
    return ivm_raise_buf(vm, &b);
}

/* Appends Java's Matcher.appendReplacement expansion of repl for the
 * last match: $n (the longest group number that exists, first digit
 * always), ${name}, \c for c itself; a group that took no part adds
 * nothing. Raises Java's messages for a bad reference. */
static ivm_status expand(ivm_vm *vm, const ivm_matcher *m, const ivm_str *repl, ivm_buf *out)
{
    const uint8_t *r = repl->bytes;
    size_t n = repl->len, i = 0;
    while (i < n) {
        uint8_t c = r[i];
        if (c == '\\') {
            if (++i == n)
                return ivm_raise(vm, "character to be escaped is missing");
            size_t len = ivm_utf8_char_len((const char *)r + i, (const char *)r + n);
            ivm_buf_add(out, r + i, len);
            i += len;
            continue;
        }
        if (c != '$') {
            ivm_buf_add(out, r + i++, 1);
            continue;
        }
        if (++i == n)
            return ivm_raise(vm, "Illegal group reference: group index is missing");
        int64_t group;
        if (r[i] == '{') {
            size_t name = ++i;
            while (i < n && is_alnum(r[i]))
                i++;
            if (i == name)
                return ivm_raise(vm, "named capturing group has 0 length name");
            if (i == n || r[i] != '}')
                return ivm_raise(vm, "named capturing group is missing trailing '}'");
            CHECK(named_group(vm, m, r + name, i - name, &group));
            i++;
        } else {
            if (!is_digit(r[i]))
                return ivm_raise(vm, "Illegal group reference");
            group = r[i++] - '0';
            while (i < n && is_digit(r[i]) && group * 10 + (r[i] - '0') <= m->groups)
                group = group * 10 + (r[i++] - '0');
            if (group > m->groups) {
                ivm_buf b = {0};
                ivm_buf_add_cstr(&b, "No group ");
                ivm_buf_add_int(&b, group);
                return ivm_raise_buf(vm, &b);
            }
        }
        size_t from, to;
        if (ivm_matcher_group(m, (uint32_t)group, &from, &to))
            ivm_buf_add(out, m->subject + from, to - from);
    }
    return IVM_OK;
}

/* What replaces the last match: repl expanded, or (f match), which must
 * be a string (taken literally). */
static ivm_status replacement(ivm_vm *vm, const ivm_matcher *m, ivm_value repl, const char *fn,
                              ivm_buf *out)
{
    if (ivm_core_is_string(repl))
        return expand(vm, m, ivm_as_str(repl), out);
    ivm_value got;
    CHECK(ivm_core_call1(vm, repl, match_value(vm, m), &got));
    if (!ivm_core_is_string(got)) {
        ivm_buf what = {0};
        ivm_buf_add_cstr(&what, fn);
        ivm_buf_add_cstr(&what, " expects the replacement function to return a string");
        ivm_status st = ivm_raise_type(vm, what.data, got);
        ivm_buf_free(&what);
        return st;
    }
    ivm_buf_add(out, ivm_as_str(got)->bytes, ivm_as_str(got)->len);
    return IVM_OK;
}

/* (replace s regex repl) and replace-first: Matcher.replaceAll and
 * replaceFirst for a string repl, Clojure's replace-by for anything else
 * (a function of the match, which may be a map or keyword as well). */
ivm_status ivm_core_regex_replace(ivm_vm *vm, const ivm_value *args, bool all, const char *fn,
                                  ivm_value *result)
{
    ivm_matcher m;
    CHECK(start(vm, &m, args[1], args[0], false));
    ivm_buf out = {0};
    size_t copied = 0;
    ivm_status st = IVM_OK;
    int found;
    while ((found = find(vm, &m, &st)) > 0) {
        size_t from, to;
        ivm_matcher_group(&m, 0, &from, &to);
        ivm_buf_add(&out, m.subject + copied, from - copied);
        copied = to;
        st = replacement(vm, &m, args[2], fn, &out);
        if (st != IVM_OK || !all)
            break;
    }
    if (found < 0 || st != IVM_OK) {
        ivm_buf_free(&out);
        if (found >= 0)
            ivm_matcher_free(&m);
        return st;
    }
    ivm_buf_add(&out, m.subject + copied, m.len - copied);
    ivm_matcher_free(&m);
    *result = ivm_core_buf_string(vm, &out);
    return IVM_OK;
}

const ivm_native_def ivm_core_regex_natives[] = {
    {"re-pattern", n_re_pattern, 1, 1},
    {"re-find", n_re_find, 2, 2},
    {"re-matches", n_re_matches, 2, 2},
    {"re-seq", n_re_seq, 2, 2},
};
const uint32_t ivm_core_regex_native_count = sizeof ivm_core_regex_natives / sizeof ivm_core_regex_natives[0];
