/* Derived forms, destructuring and compile-time facts about globals
 * (expand.h). The code the rewrites produce calls the core library by its
 * ivm.core/ names, which no local can shadow (locals are never
 * qualified), so (let [first 1] (doseq ...)) still works. */
#include "compiler/expand.h"

#include <stdarg.h>

#include "ivm/ivc.h"
#include "ivm/platform.h"
#include "values/map.h"
#include "values/vector.h"

#define ITEMS(buf, type) ((type *)(void *)(buf).data)
#define COUNT(buf, type) ((uint32_t)((buf).len / sizeof(type)))

void ivm_expander_init(ivm_expander *ex, ivm_vm *vm)
{
    *ex = (ivm_expander){.vm = vm, .h = &vm->heap, .def_name = IVM_NIL};
    ex->ns = ivm_symbol_cstr(ex->h, "user");
}

void ivm_expander_free(ivm_expander *ex)
{
    ivm_buf_free(&ex->error);
    ivm_buf_free(&ex->defined);
    ivm_buf_free(&ex->aliases);
}

static bool fail(ivm_expander *ex, const char *a, ivm_value v, const char *b)
{
    ex->error.len = 0;
    ivm_buf_add_cstr(&ex->error, a);
    if (v)
        ivm_print(ex->h, &ex->error, v, true);
    if (b)
        ivm_buf_add_cstr(&ex->error, b);
    return false;
}

/* ---- Building forms ---------------------------------------------------- */

static ivm_value sym(ivm_expander *ex, const char *name) { return ivm_symbol_cstr(ex->h, name); }

/* (a b c ...) from n values. */
static ivm_value list(ivm_expander *ex, int n, ...)
{
    ivm_value items[16];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        items[i] = va_arg(ap, ivm_value);
    va_end(ap);
    ivm_value l = IVM_EMPTY_LIST;
    for (int i = n; i-- > 0;)
        l = ivm_cons_new(ex->h, items[i], l);
    return l;
}

static ivm_value cons(ivm_expander *ex, ivm_value a, ivm_value l) { return ivm_cons_new(ex->h, a, l); }
static ivm_value first(ivm_value l) { return ivm_as_cons(l)->first; }
static ivm_value rest(ivm_value l) { return ivm_as_cons(l)->rest; }
static uint32_t len(ivm_value l) { return (uint32_t)ivm_list_count(l); }
static ivm_value second(ivm_value l) { return first(rest(l)); }

/* (do forms...) */
static ivm_value do_form(ivm_expander *ex, ivm_value forms) { return cons(ex, sym(ex, "do"), forms); }

static bool sym_is(ivm_value v, const char *name) { return ivm_is_named(v, IVM_K_SYMBOL, name); }

static bool kw_is(ivm_value v, const char *name) { return ivm_is_named(v, IVM_K_KEYWORD, name); }

ivm_value ivm_expand_gensym(ivm_expander *ex)
{
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, "g ");
    ivm_buf_add_int(&b, ++ex->gensyms);
    ivm_value s = ivm_symbol(ex->h, b.data, b.len);
    ivm_buf_free(&b);
    return s;
}

static ivm_value core(ivm_expander *ex, const char *name)
{
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, "ivm.core/");
    ivm_buf_add_cstr(&b, name);
    ivm_value s = ivm_symbol(ex->h, b.data, b.len);
    ivm_buf_free(&b);
    return s;
}

/* ---- Collections ------------------------------------------------------- */

/* Whether a quoted constant holds a vector, map or set anywhere, which
 * .ivc constants cannot (so it is built at run time). Quoted data nests
 * no deeper than the reader allows. */
#define MAX_QUOTED_DEPTH 2000

/* 1 if v must be built at run time (it holds a collection, or nests
 * deeper than .ivc constants may), 0 if it can be a constant, -1 if it
 * nests too deep to compile at all. */
static int holds_collection(ivm_value v, unsigned depth)
{
    if (ivm_is_vector(v) || ivm_is_map(v) || ivm_is_set(v))
        return 1;
    if (depth > MAX_QUOTED_DEPTH)
        return -1;
    if (ivm_is_cons(v) && depth >= IVC_MAX_NESTING) /* still look for -1 */
        return holds_collection(ivm_as_cons(v)->first, depth + 1) < 0 ? -1 : 1;
    for (; ivm_is_cons(v); v = ivm_as_cons(v)->rest) {
        int r = holds_collection(ivm_as_cons(v)->first, depth + 1);
        if (r)
            return r;
    }
    return 0;
}

static ivm_value build(ivm_expander *ex, ivm_value coll, bool quoted)
{
    const char *maker = ivm_is_vector(coll) ? "vector"
                        : ivm_is_map(coll)  ? "array-map"
                        : ivm_is_set(coll)  ? "hash-set"
                                            : "list";
    ivm_value items = IVM_EMPTY_LIST;
    ivm_value quote = sym(ex, "quote");
    /* gather in order, then build the list back to front */
    ivm_buf all = {0};
    if (ivm_is_list(coll)) {
        for (ivm_value l = coll; l != IVM_EMPTY_LIST; l = rest(l)) {
            ivm_value x = first(l);
            ivm_buf_add(&all, &x, sizeof x);
        }
    } else if (ivm_is_vector(coll)) {
        for (uint64_t i = 0; i < ivm_vec_count(coll); i++) {
            ivm_value x = ivm_vec_nth(coll, i);
            ivm_buf_add(&all, &x, sizeof x);
        }
    } else {
        ivm_map_iter it;
        ivm_value k, v;
        ivm_map_iter_init(&it, coll);
        while (ivm_map_iter_next(&it, &k, &v)) {
            ivm_buf_add(&all, &k, sizeof k);
            if (ivm_is_map(coll))
                ivm_buf_add(&all, &v, sizeof v);
        }
    }
    for (uint32_t i = COUNT(all, ivm_value); i-- > 0;) {
        ivm_value x = ITEMS(all, ivm_value)[i];
        if (quoted) /* the caller checked the depth with ivm_expand_needs_building */
            x = holds_collection(x, 0) ? build(ex, x, true) : list(ex, 2, quote, x);
        items = cons(ex, x, items);
    }
    ivm_buf_free(&all);
    return cons(ex, core(ex, maker), items);
}

ivm_value ivm_expand_collection(ivm_expander *ex, ivm_value coll) { return build(ex, coll, false); }
ivm_value ivm_expand_quoted_collection(ivm_expander *ex, ivm_value coll) { return build(ex, coll, true); }

int ivm_expand_needs_building(ivm_value quoted) { return holds_collection(quoted, 0); }

/* ---- Destructuring ----------------------------------------------------- */

static bool destructure_vector(ivm_expander *ex, ivm_value pattern, ivm_value value,
                               ivm_value *pairs)
{
    ivm_buf out = {0};
    uint64_t n = ivm_vec_count(pattern);
    int64_t index = 0;
    bool ok = true;
    for (uint64_t i = 0; i < n && ok; i++) {
        ivm_value p = ivm_vec_nth(pattern, i), init;
        if (sym_is(p, "&") && i + 1 < n) {
            p = ivm_vec_nth(pattern, ++i);
            init = list(ex, 3, core(ex, "nthnext"), value, ivm_fixnum(index));
        } else if (kw_is(p, "as") && i + 1 < n) {
            p = ivm_vec_nth(pattern, ++i);
            init = value;
        } else if (sym_is(p, "&") || kw_is(p, "as")) {
            ok = fail(ex, "", p, " must be followed by a binding in a vector pattern");
            break;
        } else {
            init = list(ex, 4, core(ex, "nth"), value, ivm_fixnum(index++), IVM_NIL);
        }
        ivm_buf_add(&out, &p, sizeof p);
        ivm_buf_add(&out, &init, sizeof init);
    }
    *pairs = IVM_EMPTY_LIST;
    for (uint32_t i = COUNT(out, ivm_value); ok && i-- > 0;)
        *pairs = cons(ex, ITEMS(out, ivm_value)[i], *pairs);
    ivm_buf_free(&out);
    return ok;
}

/* The default of a name in an :or map, as a third argument to get. */
static ivm_value with_default(ivm_expander *ex, ivm_value get, ivm_value name, ivm_value defaults)
{
    ivm_value d;
    if (defaults && ivm_map_get(ex->h, defaults, name, &d))
        return ivm_cons_new(ex->h, first(get),
                            list(ex, 3, second(get), first(rest(rest(get))), d));
    return get;
}

/* :keys, :strs, :syms, or :ns/keys and :ns/syms: the kind and the
 * namespace (a string of ns_len bytes) their names get. */
static bool keys_directive(ivm_value k, char *kind, const uint8_t **ns, uint32_t *ns_len)
{
    if (!ivm_is_kind(k, IVM_K_KEYWORD))
        return false;
    const ivm_str *s = ivm_as_str(k);
    const uint8_t *name = s->aux ? s->bytes + s->aux + 1 : s->bytes;
    size_t len = s->aux ? s->len - s->aux - 1 : s->len;
    if (len != 4 || (memcmp(name, "keys", 4) && memcmp(name, "strs", 4) && memcmp(name, "syms", 4)))
        return false;
    *kind = (char)name[1]; /* e, t or y */
    *ns = s->bytes;
    *ns_len = s->aux;
    return *kind != 't' || !s->aux;
}

/* The key one name of a :keys-like vector looks up, and the local it binds. */
static bool keys_entry(ivm_expander *ex, ivm_value entry, char kind, const uint8_t *ns,
                       uint32_t ns_len, ivm_value *key, ivm_value *local)
{
    if (!ivm_is_kind(entry, IVM_K_SYMBOL) && !(kind == 'e' && ivm_is_kind(entry, IVM_K_KEYWORD)))
        return fail(ex, "", entry, " cannot be bound by :keys, :strs or :syms");
    const ivm_str *s = ivm_as_str(entry);
    const uint8_t *name = s->aux ? s->bytes + s->aux + 1 : s->bytes;
    size_t name_len = s->aux ? s->len - s->aux - 1 : s->len;
    *local = ivm_symbol(ex->h, name, name_len);
    ivm_buf full = {0};
    if (s->aux) /* the entry's own namespace */
        ivm_buf_add(&full, s->bytes, s->len);
    else if (ns_len) { /* the directive's */
        ivm_buf_add(&full, ns, ns_len);
        ivm_buf_add_char(&full, '/');
        ivm_buf_add(&full, name, name_len);
    } else {
        ivm_buf_add(&full, name, name_len);
    }
    *key = kind == 'e'   ? ivm_keyword(ex->h, full.data, full.len)
           : kind == 't' ? ivm_string(ex->h, full.data, full.len)
                         : list(ex, 2, sym(ex, "quote"), ivm_symbol(ex->h, full.data, full.len));
    ivm_buf_free(&full);
    return true;
}

/* {:keys [a b] :or {b 2} :as m, x :x}: the value is first made a map
 * (keyword arguments arrive as a seq), then each name gets its key. */
static bool destructure_map(ivm_expander *ex, ivm_value pattern, ivm_value value,
                            ivm_value *pairs)
{
    ivm_value defaults = 0;
    ivm_map_get(ex->h, pattern, ivm_keyword(ex->h, "or", 2), &defaults);
    if (defaults && !ivm_is_map(defaults))
        return fail(ex, ":or must be followed by a map, not ", defaults, NULL);
    ivm_buf out = {0};
    ivm_value m = ivm_expand_gensym(ex), init = list(ex, 2, core(ex, "destructure-map"), value);
    ivm_buf_add(&out, &m, sizeof m);
    ivm_buf_add(&out, &init, sizeof init);
    ivm_map_iter it;
    ivm_value k, v;
    bool ok = true;
    ivm_map_iter_init(&it, pattern);
    while (ok && ivm_map_iter_next(&it, &k, &v)) {
        char kind;
        const uint8_t *ns;
        uint32_t ns_len;
        if (kw_is(k, "or"))
            continue;
        if (kw_is(k, "as")) {
            ivm_buf_add(&out, &v, sizeof v);
            ivm_buf_add(&out, &value, sizeof value);
        } else if (keys_directive(k, &kind, &ns, &ns_len)) {
            if (!ivm_is_vector(v)) {
                ok = fail(ex, "", k, " must be followed by a vector of names");
                break;
            }
            for (uint64_t i = 0; ok && i < ivm_vec_count(v); i++) {
                ivm_value key, local;
                ok = keys_entry(ex, ivm_vec_nth(v, i), kind, ns, ns_len, &key, &local);
                if (!ok)
                    break;
                ivm_value get = with_default(ex, list(ex, 3, core(ex, "get"), m, key), local, defaults);
                ivm_buf_add(&out, &local, sizeof local);
                ivm_buf_add(&out, &get, sizeof get);
            }
        } else { /* {name :key}: k is the binding, v the key */
            ivm_value get = list(ex, 3, core(ex, "get"), m, v);
            if (ivm_is_kind(k, IVM_K_SYMBOL))
                get = with_default(ex, get, k, defaults);
            ivm_buf_add(&out, &k, sizeof k);
            ivm_buf_add(&out, &get, sizeof get);
        }
    }
    *pairs = IVM_EMPTY_LIST;
    for (uint32_t i = COUNT(out, ivm_value); ok && i-- > 0;)
        *pairs = cons(ex, ITEMS(out, ivm_value)[i], *pairs);
    ivm_buf_free(&out);
    return ok;
}

bool ivm_expand_destructure(ivm_expander *ex, ivm_value pattern, ivm_value value,
                            ivm_value *pairs)
{
    if (ivm_is_vector(pattern))
        return destructure_vector(ex, pattern, value, pairs);
    if (ivm_is_map(pattern))
        return destructure_map(ex, pattern, value, pairs);
    return fail(ex, "Unsupported binding form: ", pattern, NULL);
}

/* ---- Globals ----------------------------------------------------------- */

static ivm_global_fact *fact(const ivm_expander *ex, ivm_value name)
{
    for (uint32_t i = COUNT(ex->defined, ivm_global_fact); i-- > 0;)
        if (ITEMS(ex->defined, ivm_global_fact)[i].name == name)
            return &ITEMS(ex->defined, ivm_global_fact)[i];
    return NULL;
}

ivm_value ivm_expand_alias(ivm_expander *ex, ivm_value s)
{
    uint32_t ns_len = ivm_as_str(s)->aux;
    if (!ns_len)
        return s;
    const ivm_str *str = ivm_as_str(s);
    ivm_value alias = ivm_symbol(ex->h, str->bytes, ns_len), target = 0;
    if (alias == ex->ns || sym_is(alias, "clojure.core")) /* what syntax quote writes */
        return ivm_symbol(ex->h, str->bytes + ns_len + 1, str->len - ns_len - 1);
    for (uint32_t i = 0; i + 1 < COUNT(ex->aliases, ivm_value); i += 2)
        if (ITEMS(ex->aliases, ivm_value)[i] == alias)
            target = ITEMS(ex->aliases, ivm_value)[i + 1];
    if (!target && sym_is(alias, "str")) /* as if clojure.string were required :as str */
        target = sym(ex, "clojure.string");
    if (!target)
        return s;
    ivm_buf b = {0};
    ivm_buf_add(&b, ivm_as_str(target)->bytes, ivm_as_str(target)->len);
    ivm_buf_add(&b, str->bytes + ns_len, str->len - ns_len);
    ivm_value full = ivm_symbol(ex->h, b.data, b.len);
    ivm_buf_free(&b);
    return full;
}

/* The arities of (fn name? [params] ...) or (fn name? ([params] ...) ...). */
static bool fn_arities(ivm_value init, ivm_global_fact *f)
{
    if (!ivm_is_cons(init) || !(sym_is(first(init), "fn") || sym_is(first(init), "fn*")))
        return false;
    ivm_value l = rest(init);
    if (l != IVM_EMPTY_LIST && ivm_is_kind(first(l), IVM_K_SYMBOL))
        l = rest(l);
    ivm_value arities = l != IVM_EMPTY_LIST && ivm_is_vector(first(l)) ? IVM_EMPTY_LIST : l;
    f->fixed = 0;
    f->variadic = -1;
    for (ivm_value a = arities == IVM_EMPTY_LIST ? l : first(arities);;) {
        ivm_value params = ivm_is_vector(a) ? a : ivm_is_cons(a) ? first(a) : IVM_NIL;
        if (!ivm_is_vector(params))
            return false;
        uint64_t n = ivm_vec_count(params);
        bool rest_arity = n >= 2 && sym_is(ivm_vec_nth(params, n - 2), "&");
        if (rest_arity)
            f->variadic = (int32_t)(n - 2);
        else if (n < 32)
            f->fixed |= 1u << n;
        if (arities == IVM_EMPTY_LIST || (arities = rest(arities)) == IVM_EMPTY_LIST)
            break;
        a = first(arities);
    }
    return true;
}

void ivm_expand_define(ivm_expander *ex, ivm_value name, ivm_value init)
{
    ivm_global_fact f = {.name = name};
    f.known_arities = fn_arities(init, &f);
    ivm_global_fact *old = fact(ex, name);
    if (old)
        *old = f;
    else
        ivm_buf_add(&ex->defined, &f, sizeof f);
}

bool ivm_expand_defined(const ivm_expander *ex, ivm_value name) { return fact(ex, name) != NULL; }

/* The native a global is bound to now, or NULL. */
static const ivm_native_def *global_native(const ivm_expander *ex, ivm_value name)
{
    ivm_vm *vm = ex->vm;
    uint32_t slot = ivm_global_slot(vm, name);
    ivm_value v = vm->globals[slot].value;
    return ivm_is_native(v) ? vm->rt->natives[ivm_imm_payload(v)] : NULL;
}

bool ivm_expand_intrinsic(const ivm_expander *ex, ivm_value s)
{
    if (ivm_as_str(s)->aux) /* ivm.core/+ in expanded code always means + */
        return true;
    if (fact(ex, s))
        return false;
    const ivm_native_def *d = global_native(ex, s);
    const ivm_str *str = ivm_as_str(s);
    return d && ivm_cstr_len(d->name) == str->len && memcmp(d->name, str->bytes, str->len) == 0;
}

static bool arity_error(ivm_expander *ex, uint32_t n, ivm_value head)
{
    ex->error.len = 0;
    ivm_buf_add_cstr(&ex->error, "Wrong number of args (");
    ivm_buf_add_int(&ex->error, n);
    ivm_buf_add_cstr(&ex->error, ") passed to: ");
    ivm_print(ex->h, &ex->error, head, false);
    return false;
}

bool ivm_expand_check_arity(ivm_expander *ex, ivm_value form)
{
    ivm_value head = first(form);
    if (!ivm_is_kind(head, IVM_K_SYMBOL))
        return true;
    uint32_t n = len(form) - 1;
    ivm_value name = ivm_expand_alias(ex, head);
    ivm_global_fact *f = fact(ex, name);
    if (f) {
        bool fits = (n < 32 && (f->fixed >> n) & 1) || (f->variadic >= 0 && n >= (uint32_t)f->variadic);
        return !f->known_arities || fits || arity_error(ex, n, head);
    }
    const ivm_native_def *d = global_native(ex, name);
    if (d && (n < d->min_args || n > d->max_args))
        return arity_error(ex, n, head);
    return true;
}

/* ---- Derived forms ----------------------------------------------------- */

static bool need(ivm_expander *ex, ivm_value form, uint32_t min, const char *what)
{
    if (len(form) >= min)
        return true;
    return fail(ex, what, 0, NULL);
}

/* (defn name doc? attrs? [params] body...) -> (def name (fn name ...)) */
static int expand_defn(ivm_expander *ex, ivm_value form, ivm_value *out)
{
    if (!need(ex, form, 3, "defn needs a name and a parameter vector or arities"))
        return -1;
    ivm_value name = second(form), l = rest(rest(form));
    if (!ivm_is_kind(name, IVM_K_SYMBOL))
        return fail(ex, "First argument to defn must be a symbol", 0, NULL), -1;
    if (l != IVM_EMPTY_LIST && ivm_is_kind(first(l), IVM_K_STRING))
        l = rest(l);
    if (l != IVM_EMPTY_LIST && ivm_is_map(first(l)))
        l = rest(l);
    ivm_value fn = cons(ex, sym(ex, "fn"), cons(ex, name, l));
    *out = list(ex, 3, sym(ex, "def"), name, fn);
    return 1;
}

/* (cond t1 e1 t2 e2 ...): nested ifs, built from the last clause out. */
static int expand_cond(ivm_expander *ex, ivm_value clauses, ivm_value *out)
{
    if (len(clauses) % 2)
        return fail(ex, "cond requires an even number of forms", 0, NULL), -1;
    ivm_buf items = {0};
    for (ivm_value l = clauses; l != IVM_EMPTY_LIST; l = rest(l)) {
        ivm_value x = first(l);
        ivm_buf_add(&items, &x, sizeof x);
    }
    *out = IVM_NIL;
    for (uint32_t i = COUNT(items, ivm_value); i >= 2; i -= 2)
        *out = list(ex, 4, sym(ex, "if"), ITEMS(items, ivm_value)[i - 2],
                    ITEMS(items, ivm_value)[i - 1], *out);
    ivm_buf_free(&items);
    return 1;
}

/* (case x k e ... default?): constants compared with =, a list of
 * constants matching any of them. */
static int expand_case(ivm_expander *ex, ivm_value form, ivm_value *out)
{
    if (!need(ex, form, 2, "case needs an expression"))
        return -1;
    ivm_value g = ivm_expand_gensym(ex), quote = sym(ex, "quote"), eq = core(ex, "=");
    ivm_value clauses = rest(rest(form));
    ivm_buf items = {0};
    for (ivm_value l = clauses; l != IVM_EMPTY_LIST; l = rest(l)) {
        ivm_value x = first(l);
        ivm_buf_add(&items, &x, sizeof x);
    }
    uint32_t n = COUNT(items, ivm_value);
    ivm_value *it = ITEMS(items, ivm_value);
    ivm_value body = n % 2 ? it[n - 1]
                           : list(ex, 2, sym(ex, "throw"),
                                  list(ex, 3, core(ex, "str"), ivm_string(ex->h, "No matching clause: ", 20), g));
    for (uint32_t i = n - n % 2; i >= 2; i -= 2) {
        ivm_value key = it[i - 2], test;
        if (ivm_is_cons(key)) { /* (k1 k2 ...): any of them */
            ivm_value alts = IVM_EMPTY_LIST;
            for (ivm_value k = key; k != IVM_EMPTY_LIST; k = rest(k))
                alts = cons(ex, list(ex, 3, eq, g, list(ex, 2, quote, first(k))), alts);
            test = cons(ex, sym(ex, "or"), alts);
        } else {
            test = list(ex, 3, eq, g, list(ex, 2, quote, key));
        }
        body = list(ex, 4, sym(ex, "if"), test, it[i - 1], body);
    }
    ivm_buf_free(&items);
    *out = list(ex, 3, sym(ex, "let"), ivm_vec_from(ex->h, (ivm_value[]){g, second(form)}, 2), body);
    return 1;
}

/* (and a b ...) and (or a b ...), keeping each value once. */
static int expand_and_or(ivm_expander *ex, ivm_value form, bool is_and, ivm_value *out)
{
    ivm_value args = rest(form);
    if (args == IVM_EMPTY_LIST) {
        *out = is_and ? IVM_TRUE : IVM_NIL;
        return 1;
    }
    if (rest(args) == IVM_EMPTY_LIST) {
        *out = first(args);
        return 1;
    }
    ivm_value g = ivm_expand_gensym(ex);
    ivm_value more = cons(ex, first(form), rest(args));
    ivm_value test = is_and ? list(ex, 4, sym(ex, "if"), g, more, g)
                            : list(ex, 4, sym(ex, "if"), g, g, more);
    *out = list(ex, 3, sym(ex, "let"), ivm_vec_from(ex->h, (ivm_value[]){g, first(args)}, 2), test);
    return 1;
}

/* (-> x (f a) g) is (g (f x a)); ->> puts x last. */
static int expand_thread(ivm_expander *ex, ivm_value form, bool last, ivm_value *out)
{
    if (!need(ex, form, 2, "-> needs a value"))
        return -1;
    ivm_value x = second(form);
    for (ivm_value l = rest(rest(form)); l != IVM_EMPTY_LIST; l = rest(l)) {
        ivm_value step = first(l);
        if (!ivm_is_cons(step)) {
            x = list(ex, 2, step, x);
            continue;
        }
        if (!last) {
            x = cons(ex, first(step), cons(ex, x, rest(step)));
            continue;
        }
        ivm_buf items = {0};
        for (ivm_value s = step; s != IVM_EMPTY_LIST; s = rest(s)) {
            ivm_value e = first(s);
            ivm_buf_add(&items, &e, sizeof e);
        }
        ivm_value built = cons(ex, x, IVM_EMPTY_LIST);
        for (uint32_t i = COUNT(items, ivm_value); i-- > 0;)
            built = cons(ex, ITEMS(items, ivm_value)[i], built);
        ivm_buf_free(&items);
        x = built;
    }
    *out = x;
    return 1;
}

static bool binding_pair(ivm_expander *ex, ivm_value form, const char *what, ivm_value *b, ivm_value *init)
{
    ivm_value v = len(form) >= 2 ? second(form) : IVM_NIL;
    if (!ivm_is_vector(v) || ivm_vec_count(v) != 2)
        return fail(ex, what, 0, " requires a vector of one binding");
    *b = ivm_vec_nth(v, 0);
    *init = ivm_vec_nth(v, 1);
    return true;
}

/* (if-let [b init] then else?) and (when-let [b init] body...); with
 * `some`, if-some and when-some, which test for nil rather than truth. */
static int expand_if_let(ivm_expander *ex, ivm_value form, bool is_when, bool some, ivm_value *out)
{
    ivm_value b, init;
    if (!binding_pair(ex, form, (const char *)ivm_as_str(first(form))->bytes, &b, &init))
        return -1;
    ivm_value g = ivm_expand_gensym(ex), body = rest(rest(form));
    ivm_value then = is_when ? do_form(ex, body) : body != IVM_EMPTY_LIST ? first(body) : IVM_NIL;
    ivm_value otherwise = !is_when && body != IVM_EMPTY_LIST && rest(body) != IVM_EMPTY_LIST
                              ? second(body) : IVM_NIL;
    ivm_value inner = list(ex, 3, sym(ex, "let"), ivm_vec_from(ex->h, (ivm_value[]){b, g}, 2), then);
    ivm_value test = some ? list(ex, 2, core(ex, "nil?"), g) : g;
    ivm_value branches = some ? list(ex, 4, sym(ex, "if"), test, otherwise, inner)
                              : list(ex, 4, sym(ex, "if"), test, inner, otherwise);
    *out = list(ex, 3, sym(ex, "let"), ivm_vec_from(ex->h, (ivm_value[]){g, init}, 2), branches);
    return 1;
}

/* (dotimes [i n] body...) */
static int expand_dotimes(ivm_expander *ex, ivm_value form, ivm_value *out)
{
    ivm_value i, n;
    if (!binding_pair(ex, form, "dotimes", &i, &n))
        return -1;
    ivm_value g = ivm_expand_gensym(ex);
    ivm_value step = list(ex, 2, sym(ex, "recur"), list(ex, 3, core(ex, "+"), i, ivm_fixnum(1)));
    ivm_value body = do_form(ex, rest(rest(form)));
    ivm_value loop = list(ex, 3, sym(ex, "loop"), ivm_vec_from(ex->h, (ivm_value[]){i, ivm_fixnum(0)}, 2),
                          list(ex, 3, sym(ex, "if"), list(ex, 3, core(ex, "<"), i, g),
                               list(ex, 3, sym(ex, "do"), body, step)));
    *out = list(ex, 3, sym(ex, "let"), ivm_vec_from(ex->h, (ivm_value[]){g, n}, 2), loop);
    return 1;
}

/* (doseq [x xs :let [..] :when t :while u y ys] body...): nested loops
 * over seqs. The modifiers after a binding apply, in order, inside its
 * loop: :let binds, :when skips to the next element, :while ends the loop. */
static ivm_value doseq_from(ivm_expander *ex, ivm_value bindings, uint64_t i, ivm_value body);

/* The body of binding i's loop from modifier j on: `next` is the recur to
 * the next element. */
static ivm_value doseq_step(ivm_expander *ex, ivm_value bindings, uint64_t j, ivm_value body,
                            ivm_value next)
{
    ivm_value k = j < ivm_vec_count(bindings) ? ivm_vec_nth(bindings, j) : IVM_NIL;
    bool modifier = kw_is(k, "let") || kw_is(k, "when") || kw_is(k, "while");
    if (!modifier)
        return list(ex, 3, sym(ex, "do"), doseq_from(ex, bindings, j, body), next);
    ivm_value x = ivm_vec_nth(bindings, j + 1);
    ivm_value inner = doseq_step(ex, bindings, j + 2, body, next);
    if (kw_is(k, "let"))
        return list(ex, 3, sym(ex, "let"), x, inner);
    return list(ex, 4, sym(ex, "if"), x, inner, kw_is(k, "when") ? next : IVM_NIL);
}

static ivm_value doseq_from(ivm_expander *ex, ivm_value bindings, uint64_t i, ivm_value body)
{
    if (i >= ivm_vec_count(bindings))
        return body;
    ivm_value b = ivm_vec_nth(bindings, i), x = ivm_vec_nth(bindings, i + 1);
    ivm_value s = ivm_expand_gensym(ex);
    ivm_value next = list(ex, 2, sym(ex, "recur"), list(ex, 2, core(ex, "next"), s));
    ivm_value each = list(ex, 3, sym(ex, "let"),
                          ivm_vec_from(ex->h, (ivm_value[]){b, list(ex, 2, core(ex, "first"), s)}, 2),
                          doseq_step(ex, bindings, i + 2, body, next));
    return list(ex, 3, sym(ex, "loop"),
                ivm_vec_from(ex->h, (ivm_value[]){s, list(ex, 2, core(ex, "seq"), x)}, 2),
                list(ex, 3, sym(ex, "if"), s, each));
}

/* doseq_from nests one loop (and one C call) per binding pair. */
#define MAX_SEQ_BINDINGS 512

static int expand_doseq(ivm_expander *ex, ivm_value form, ivm_value *out)
{
    ivm_value v = len(form) >= 2 ? second(form) : IVM_NIL;
    if (!ivm_is_vector(v) || ivm_vec_count(v) % 2)
        return fail(ex, "doseq requires a vector with an even number of forms", 0, NULL), -1;
    if (ivm_vec_count(v) > 2 * MAX_SEQ_BINDINGS)
        return fail(ex, "doseq takes at most 512 bindings", 0, NULL), -1;
    *out = list(ex, 3, sym(ex, "do"), doseq_from(ex, v, 0, do_form(ex, rest(rest(form)))), IVM_NIL);
    return 1;
}

/* (as-> x name step...): each step sees the previous value as name. */
static int expand_as(ivm_expander *ex, ivm_value form, ivm_value *out)
{
    if (!need(ex, form, 3, "as-> needs a value and a name"))
        return -1;
    ivm_value name = first(rest(rest(form)));
    ivm_buf b = {0};
    ivm_value x = second(form);
    ivm_buf_add(&b, &name, sizeof name);
    ivm_buf_add(&b, &x, sizeof x);
    for (ivm_value l = rest(rest(rest(form))); l != IVM_EMPTY_LIST; l = rest(l)) {
        ivm_value step = first(l);
        ivm_buf_add(&b, &name, sizeof name);
        ivm_buf_add(&b, &step, sizeof step);
    }
    ivm_value v = ivm_vec_from(ex->h, ITEMS(b, ivm_value), COUNT(b, ivm_value));
    ivm_buf_free(&b);
    *out = list(ex, 3, sym(ex, "let"), v, name);
    return 1;
}

/* (some-> x f g) and (some->> x f g): thread while the value is not nil. */
static int expand_some_thread(ivm_expander *ex, ivm_value form, bool last, ivm_value *out)
{
    if (!need(ex, form, 2, "some-> needs a value"))
        return -1;
    ivm_value x = second(form);
    ivm_value g = ivm_expand_gensym(ex);
    ivm_value threader = sym(ex, last ? "->>" : "->");
    ivm_value steps = rest(rest(form));
    /* built from the last step back: (let [g x] (if (nil? g) nil (some-> (-> g step1) step2...))) */
    if (steps == IVM_EMPTY_LIST) {
        *out = x;
        return 1;
    }
    ivm_value next = list(ex, 3, threader, g, first(steps));
    ivm_value more = cons(ex, first(form), cons(ex, next, rest(steps)));
    *out = list(ex, 3, sym(ex, "let"), ivm_vec_from(ex->h, (ivm_value[]){g, x}, 2),
                list(ex, 4, sym(ex, "if"), list(ex, 2, core(ex, "nil?"), g), IVM_NIL, more));
    return 1;
}

/* (cond-> x test step ...) and cond->>: apply each step whose test holds. */
static int expand_cond_thread(ivm_expander *ex, ivm_value form, bool last, ivm_value *out)
{
    if (!need(ex, form, 2, "cond-> needs a value") || len(form) % 2)
        return fail(ex, "cond-> needs a value and pairs of tests and steps", 0, NULL), -1;
    ivm_value g = ivm_expand_gensym(ex), threader = sym(ex, last ? "->>" : "->");
    ivm_buf b = {0};
    ivm_value x = second(form);
    ivm_buf_add(&b, &g, sizeof g);
    ivm_buf_add(&b, &x, sizeof x);
    for (ivm_value l = rest(rest(form)); l != IVM_EMPTY_LIST; l = rest(rest(l))) {
        ivm_value step = list(ex, 4, sym(ex, "if"), first(l), list(ex, 3, threader, g, second(l)), g);
        ivm_buf_add(&b, &g, sizeof g);
        ivm_buf_add(&b, &step, sizeof step);
    }
    ivm_value v = ivm_vec_from(ex->h, ITEMS(b, ivm_value), COUNT(b, ivm_value));
    ivm_buf_free(&b);
    *out = list(ex, 3, sym(ex, "let"), v, g);
    return 1;
}

/* (assert x) and (assert x message) */
static int expand_assert(ivm_expander *ex, ivm_value form, ivm_value *out)
{
    if (len(form) < 2 || len(form) > 3)
        return fail(ex, "assert takes a test and an optional message", 0, NULL), -1;
    ivm_buf text = {0};
    ivm_buf_add_cstr(&text, "Assert failed: ");
    if (len(form) == 3) {
        ivm_print(ex->h, &text, first(rest(rest(form))), false);
        ivm_buf_add_char(&text, '\n');
    }
    ivm_print(ex->h, &text, second(form), true);
    ivm_value message = ivm_string(ex->h, text.data, text.len);
    ivm_buf_free(&text);
    *out = list(ex, 4, sym(ex, "if"), second(form), IVM_NIL,
                list(ex, 2, sym(ex, "throw"), list(ex, 3, core(ex, "ex-info"), message, ivm_map_empty(ex->h))));
    return 1;
}

/* Whether form holds a (for ...) anywhere. */
static bool holds_for(ivm_value form, unsigned depth)
{
    if (depth > MAX_QUOTED_DEPTH)
        return true;
    if (ivm_is_vector(form)) {
        for (uint64_t i = 0; i < ivm_vec_count(form); i++)
            if (holds_for(ivm_vec_nth(form, i), depth + 1))
                return true;
        return false;
    }
    if (!ivm_is_cons(form))
        return false;
    if (sym_is(first(form), "for"))
        return true;
    for (; ivm_is_cons(form); form = rest(form))
        if (holds_for(first(form), depth + 1))
            return true;
    return false;
}

/* (for [x xs :let [..] :when t :while u y ys ...] body) is
 *   (ivm.core/for* (fn [g] (let [x g] MODIFIERS)) xs)
 * where the function gives the results for one element of xs: the
 * modifiers (:let binds; :when false gives (); :while false gives
 * :ivm.core/for-stop, which ends the walk) around (list body), or around
 * (for [y ys ...] body) when more bindings follow. for* (the prelude's)
 * walks xs eagerly into a list, or lazily when xs is a lazy sequence.
 *
 * A small for whose body holds no other for is faster as loops written
 * out: (let [c xs] (if (lazy? c) (for* ...) (EAGER c))), EAGER being a
 * doseq that conj!es each body's value onto a transient vector, made a
 * list at the end. That writes the body twice, so it is kept to such fors:
 * nested ones would double at each level. */
#define FOR_INLINE_PAIRS 4

static int expand_for(ivm_expander *ex, ivm_value form, ivm_value *out)
{
    ivm_value v = len(form) == 3 ? second(form) : IVM_NIL;
    if (!ivm_is_vector(v) || ivm_vec_count(v) % 2)
        return fail(ex, "for requires a vector with an even number of forms and one body", 0, NULL), -1;
    uint64_t n = ivm_vec_count(v), j = 2;
    if (n > 2 * MAX_SEQ_BINDINGS) /* each binding's rest is a vector of its own */
        return fail(ex, "for takes at most 512 bindings", 0, NULL), -1;
    if (n == 0 || ivm_is_kind(ivm_vec_nth(v, 0), IVM_K_KEYWORD))
        return fail(ex, "for needs a binding before its modifiers", 0, NULL), -1;
    while (j < n && ivm_is_kind(ivm_vec_nth(v, j), IVM_K_KEYWORD))
        j += 2;
    ivm_value body = first(rest(rest(form))), inner;
    if (j < n) {
        ivm_buf more = {0};
        for (uint64_t k = j; k < n; k++) {
            ivm_value x = ivm_vec_nth(v, k);
            ivm_buf_add(&more, &x, sizeof x);
        }
        ivm_value rest_v = ivm_vec_from(ex->h, ITEMS(more, ivm_value), COUNT(more, ivm_value));
        ivm_buf_free(&more);
        inner = list(ex, 3, sym(ex, "for"), rest_v, body);
    } else {
        inner = list(ex, 2, core(ex, "list"), body);
    }
    ivm_value stop = ivm_keyword(ex->h, "ivm.core/for-stop", 17);
    for (uint64_t k = j; k > 2;) { /* the modifiers, innermost first */
        k -= 2;
        ivm_value key = ivm_vec_nth(v, k), x = ivm_vec_nth(v, k + 1);
        if (kw_is(key, "let"))
            inner = list(ex, 3, sym(ex, "let"), x, inner);
        else if (kw_is(key, "when") || kw_is(key, "while"))
            inner = list(ex, 4, sym(ex, "if"), x, inner, kw_is(key, "when") ? IVM_EMPTY_LIST : stop);
        else
            return fail(ex, "Invalid 'for' keyword ", key, NULL), -1;
    }
    ivm_value g = ivm_expand_gensym(ex);
    ivm_value each = list(ex, 3, sym(ex, "fn"), ivm_vec_from(ex->h, &g, 1),
                          list(ex, 3, sym(ex, "let"),
                               ivm_vec_from(ex->h, (ivm_value[]){ivm_vec_nth(v, 0), g}, 2), inner));
    if (n > 2 * FOR_INLINE_PAIRS || holds_for(body, 0)) {
        *out = list(ex, 3, core(ex, "for*"), each, ivm_vec_nth(v, 1));
        return 1;
    }
    ivm_value coll = ivm_expand_gensym(ex), acc = ivm_expand_gensym(ex);
    ivm_value loops = doseq_from(ex, ivm_vec_assoc(ex->h, v, 1, coll), 0,
                                 list(ex, 3, core(ex, "conj!"), acc, body));
    ivm_value start = list(ex, 2, core(ex, "transient"), ivm_vec_empty(ex->h));
    ivm_value result = list(ex, 3, core(ex, "apply"), core(ex, "list"),
                            list(ex, 2, core(ex, "persistent!"), acc));
    ivm_value eager = list(ex, 4, sym(ex, "let"), ivm_vec_from(ex->h, (ivm_value[]){acc, start}, 2),
                           loops, result);
    ivm_value branch = list(ex, 4, sym(ex, "if"), list(ex, 2, core(ex, "lazy?"), coll),
                            list(ex, 3, core(ex, "for*"), each, coll), eager);
    *out = list(ex, 3, sym(ex, "let"), ivm_vec_from(ex->h, (ivm_value[]){coll, ivm_vec_nth(v, 1)}, 2),
                branch);
    return 1;
}

/* (letfn [(f [x] ...) (g ([a] ...) ([a b] ...))] body...). Functions may
 * call each other, but a closure cannot refer to one made after it (the
 * value graph has no cycles): so one named bundle function B makes them,
 * (B i) being the i-th, and each arity of each function first binds its
 * siblings by calling B (itself it reaches through its own name):
 *   (let [B (fn B [i] (if (= i 0) (fn f [x] (let [g (B 1)] ...)) ...))
 *         f (B 0) g (B 1)]
 *     body...) */
static int expand_letfn(ivm_expander *ex, ivm_value form, ivm_value *out)
{
    ivm_value specs = len(form) >= 2 ? second(form) : IVM_NIL;
    if (!ivm_is_vector(specs))
        return fail(ex, "letfn requires a vector for its binding", 0, NULL), -1;
    uint64_t n = ivm_vec_count(specs);
    if (n > 256)
        return fail(ex, "letfn binds at most 256 functions", 0, NULL), -1;
    for (uint64_t i = 0; i < n; i++) {
        ivm_value spec = ivm_vec_nth(specs, i);
        if (!ivm_is_cons(spec) || !ivm_is_kind(first(spec), IVM_K_SYMBOL) || len(spec) < 2)
            return fail(ex, "letfn binds functions written (name [params] body...), got: ", spec, NULL), -1;
    }
    ivm_value bundle = ivm_expand_gensym(ex), index = ivm_expand_gensym(ex);
    ivm_value made = IVM_NIL; /* (B i) for i out of range: never called */
    for (uint64_t i = n; i-- > 0;) {
        ivm_value spec = ivm_vec_nth(specs, i), name = first(spec);
        ivm_buf siblings = {0};
        for (uint64_t j = 0; j < n; j++) {
            if (j == i)
                continue;
            ivm_value pair[2] = {first(ivm_vec_nth(specs, j)), list(ex, 2, bundle, ivm_fixnum((int64_t)j))};
            ivm_buf_add(&siblings, pair, sizeof pair);
        }
        ivm_value binds = ivm_vec_from(ex->h, ITEMS(siblings, ivm_value), COUNT(siblings, ivm_value));
        ivm_buf_free(&siblings);
        /* each arity ([params] body...) gets its body wrapped */
        bool one = ivm_is_vector(second(spec));
        ivm_value arities = one ? list(ex, 1, rest(spec)) : rest(spec), wrapped = IVM_EMPTY_LIST;
        ivm_buf all = {0};
        for (ivm_value l = arities; l != IVM_EMPTY_LIST; l = rest(l)) {
            ivm_value a = first(l);
            if (!ivm_is_cons(a) || !ivm_is_vector(first(a))) {
                ivm_buf_free(&all);
                return fail(ex, "letfn: an arity must be ([params] body...), got: ", a, NULL), -1;
            }
            a = list(ex, 2, first(a), cons(ex, sym(ex, "let"), cons(ex, binds, rest(a))));
            ivm_buf_add(&all, &a, sizeof a);
        }
        for (uint32_t k = COUNT(all, ivm_value); k-- > 0;)
            wrapped = cons(ex, ITEMS(all, ivm_value)[k], wrapped);
        ivm_buf_free(&all);
        ivm_value fn = one ? cons(ex, sym(ex, "fn"), cons(ex, name, first(wrapped)))
                           : cons(ex, sym(ex, "fn"), cons(ex, name, wrapped));
        made = list(ex, 4, sym(ex, "if"), list(ex, 3, core(ex, "="), index, ivm_fixnum((int64_t)i)), fn, made);
    }
    ivm_buf outer = {0};
    ivm_value b0[2] = {bundle, list(ex, 4, sym(ex, "fn"), bundle, ivm_vec_from(ex->h, &index, 1), made)};
    ivm_buf_add(&outer, b0, sizeof b0);
    for (uint64_t i = 0; i < n; i++) {
        ivm_value pair[2] = {first(ivm_vec_nth(specs, i)), list(ex, 2, bundle, ivm_fixnum((int64_t)i))};
        ivm_buf_add(&outer, pair, sizeof pair);
    }
    ivm_value binds = ivm_vec_from(ex->h, ITEMS(outer, ivm_value), COUNT(outer, ivm_value));
    ivm_buf_free(&outer);
    *out = cons(ex, sym(ex, "let"), cons(ex, binds, rest(rest(form))));
    return 1;
}

/* (time expr): prints "Elapsed time: N msecs" with prn, as Clojure does. */
static int expand_time(ivm_expander *ex, ivm_value form, ivm_value *out)
{
    if (!need(ex, form, 2, "time needs an expression"))
        return -1;
    ivm_value t = ivm_expand_gensym(ex), r = ivm_expand_gensym(ex);
    ivm_value now = list(ex, 1, core(ex, "nano-time"));
    ivm_value ms = list(ex, 3, core(ex, "/"), list(ex, 3, core(ex, "-"), now, t), ivm_float(ex->h, 1e6));
    ivm_value say = list(ex, 2, core(ex, "prn"),
                         list(ex, 4, core(ex, "str"), ivm_string(ex->h, "Elapsed time: ", 14), ms,
                              ivm_string(ex->h, " msecs", 6)));
    *out = list(ex, 4, sym(ex, "let"), ivm_vec_from(ex->h, (ivm_value[]){t, now, r, second(form)}, 4),
                say, r);
    return 1;
}

/* The libraries of a (:require ...) clause or a (require ...) call: each
 * lib, [lib :as alias], or either quoted. Records the aliases of the
 * built-in namespaces; requiring anything else is an error. */
static bool require_libs(ivm_expander *ex, ivm_value specs)
{
    static const char *const known[] = {"clojure.string", "clojure.set", "clojure.math",
                                        "clojure.walk", NULL};
    for (ivm_value r = specs; r != IVM_EMPTY_LIST; r = rest(r)) {
        ivm_value spec = first(r);
        if (ivm_is_cons(spec) && sym_is(first(spec), "quote") && len(spec) == 2)
            spec = second(spec);
        ivm_value lib = spec;
        if (ivm_is_vector(spec) && ivm_vec_count(spec) == 0)
            return fail(ex, "require expects a library name, got: ", spec, NULL);
        if (ivm_is_vector(spec))
            lib = ivm_vec_nth(spec, 0);
        if (ivm_is_cons(lib) && sym_is(first(lib), "quote"))
            lib = second(lib);
        bool ok = false;
        for (int k = 0; known[k]; k++)
            ok = ok || sym_is(lib, known[k]);
        if (!ok)
            return fail(ex, "Could not locate ", lib,
                        " (ivm provides clojure.string, clojure.set, clojure.math and clojure.walk)");
        for (uint64_t i = 1; ivm_is_vector(spec) && i + 1 < ivm_vec_count(spec); i += 2)
            if (kw_is(ivm_vec_nth(spec, i), "as")) {
                ivm_value pair[2] = {ivm_vec_nth(spec, i + 1), lib};
                ivm_buf_add(&ex->aliases, pair, sizeof pair);
            }
    }
    return true;
}

/* (ns name (:require [lib :as alias] ...)): the namespace that syntax
 * quote qualifies with, and the aliases of require_libs. */
static int expand_ns(ivm_expander *ex, ivm_value form, ivm_value *out)
{
    if (ivm_list_count(form) < 2)
        return fail(ex, "ns expects a namespace name (a symbol)", IVM_NIL, NULL), -1;
    if (!ivm_is_kind(second(form), IVM_K_SYMBOL))
        return fail(ex, "ns expects a namespace name (a symbol), got: ", second(form), NULL), -1;
    ex->ns = second(form);
    for (ivm_value l = rest(rest(form)); l != IVM_EMPTY_LIST; l = rest(l)) {
        ivm_value clause = first(l);
        if (ivm_is_cons(clause) && kw_is(first(clause), "require") && !require_libs(ex, rest(clause)))
            return -1;
    }
    *out = IVM_NIL;
    return 1;
}

/* ---- Syntax quote ------------------------------------------------------ */

/* Clojure's special forms: syntax quote leaves them unqualified. */
static bool special_form(ivm_value s)
{
    static const char *const names[] = {
        "def", "if", "do", "let*", "loop*", "recur", "fn*", "quote", "var", "throw", "try",
        "catch", "finally", "new", "set!", ".", "&", "letfn*", "case*", "monitor-enter",
        "monitor-exit", "import*", "deftype*", "reify*", NULL};
    for (int i = 0; names[i]; i++)
        if (sym_is(s, names[i]))
            return true;
    return false;
}

/* The names the expander rewrites, and the compiler's own forms that are
 * clojure.core macros in Clojure: syntax quote writes them clojure.core/. */
static const char *const core_forms[] = {
    "defn", "defn-", "defmacro", "when", "when-not", "if-not", "cond", "case", "and", "or",
    "->", "->>", "if-let", "when-let", "dotimes", "doseq", "time", "for", "if-some", "when-some",
    "as->", "some->", "some->>", "cond->", "cond->>", "assert", "ns", "comment", "declare",
    "let", "loop", "fn", "letfn", "load", "lazy-seq", "require", NULL};

static bool core_name(const ivm_expander *ex, ivm_value s)
{
    for (int i = 0; core_forms[i]; i++)
        if (sym_is(s, core_forms[i]))
            return true;
    if (ivm_expand_defined(ex, s))
        return false;
    ivm_vm *vm = ex->vm;
    uint32_t slot = ivm_global_slot(vm, s); /* natives installed later are the core's too */
    return slot < vm->rt->core_globals || ivm_is_native(vm->globals[slot].value);
}

/* One syntax quote's auto-gensyms: x# is the same symbol throughout it. */
typedef struct sq_state {
    ivm_buf gensyms; /* ivm_value pairs: x#, x__N__auto__ */
    uint32_t depth;
    uint32_t nesting; /* syntax quotes around this one */
} sq_state;

/* Each syntax quote inside another multiplies the code (the outer one
 * quotes the inner one's expansion), as in Clojure: past this many the
 * form is refused rather than grown without bound. */
#define MAX_SYNTAX_QUOTE_NESTING 4

static uint64_t next_gensym_id; /* atomic: threads compile (macroexpand at run time) */

ivm_value ivm_expand_fresh_symbol(ivm_heap *h, const void *prefix, size_t len, const char *suffix)
{
    ivm_buf b = {0};
    ivm_buf_add(&b, prefix, len);
    ivm_buf_add_int(&b, (int64_t)__atomic_add_fetch(&next_gensym_id, 1, __ATOMIC_RELAXED));
    ivm_buf_add_cstr(&b, suffix);
    ivm_value s = ivm_symbol(h, b.data, b.len);
    ivm_buf_free(&b);
    return s;
}

/* What a symbol under syntax quote becomes: x# an auto-gensym, a special
 * form itself, a core name clojure.core/name, anything else ns/name. */
static ivm_value sq_symbol(ivm_expander *ex, sq_state *st, ivm_value s)
{
    const ivm_str *str = ivm_as_str(s);
    if (str->aux || special_form(s) || str->bytes[0] == '.' || str->bytes[str->len - 1] == '.')
        return s;
    if (str->len > 1 && str->bytes[str->len - 1] == '#') {
        for (uint32_t i = 0; i < COUNT(st->gensyms, ivm_value); i += 2)
            if (ITEMS(st->gensyms, ivm_value)[i] == s)
                return ITEMS(st->gensyms, ivm_value)[i + 1];
        ivm_buf prefix = {0};
        ivm_buf_add(&prefix, str->bytes, str->len - 1);
        ivm_buf_add_cstr(&prefix, "__");
        ivm_value pair[2] = {s, ivm_expand_fresh_symbol(ex->h, prefix.data, prefix.len, "__auto__")};
        ivm_buf_free(&prefix);
        ivm_buf_add(&st->gensyms, pair, sizeof pair);
        return pair[1];
    }
    ivm_value ns = core_name(ex, s) ? sym(ex, "clojure.core") : ex->ns;
    ivm_buf b = {0};
    ivm_buf_add(&b, ivm_as_str(ns)->bytes, ivm_as_str(ns)->len);
    ivm_buf_add_char(&b, '/');
    ivm_buf_add(&b, str->bytes, str->len);
    ivm_value q = ivm_symbol(ex->h, b.data, b.len);
    ivm_buf_free(&b);
    return q;
}

static bool is_call_of(ivm_value form, const char *head)
{
    return ivm_is_cons(form) && sym_is(first(form), head) && len(form) == 2;
}

static bool syntax_quote(ivm_expander *ex, sq_state *st, ivm_value form, ivm_value *out);

/* The elements of a collection under syntax quote: each x as x' when
 * nothing is spliced (*spliced false), else as the arguments of concat:
 * (list x') for each x and the form itself for ~@form. */
static bool sq_parts(ivm_expander *ex, sq_state *st, const ivm_value *items, uint32_t n,
                     ivm_value *parts, bool *spliced)
{
    *spliced = false;
    for (uint32_t i = 0; i < n; i++)
        *spliced = *spliced || is_call_of(items[i], "clojure.core/unquote-splicing");
    *parts = IVM_EMPTY_LIST;
    for (uint32_t i = n; i-- > 0;) {
        ivm_value x = items[i], part;
        if (is_call_of(x, "clojure.core/unquote-splicing")) {
            part = second(x);
        } else {
            if (!syntax_quote(ex, st, x, &part))
                return false;
            if (*spliced)
                part = list(ex, 2, core(ex, "list"), part);
        }
        *parts = cons(ex, part, *parts);
    }
    return true;
}

/* The elements of a list, vector, map (keys and values in turn) or set. */
static void sq_items(ivm_value coll, ivm_buf *items)
{
    if (ivm_is_list(coll)) {
        for (ivm_value l = coll; l != IVM_EMPTY_LIST; l = rest(l)) {
            ivm_value x = first(l);
            ivm_buf_add(items, &x, sizeof x);
        }
    } else if (ivm_is_vector(coll)) {
        for (uint64_t i = 0; i < ivm_vec_count(coll); i++) {
            ivm_value x = ivm_vec_nth(coll, i);
            ivm_buf_add(items, &x, sizeof x);
        }
    } else {
        ivm_map_iter it;
        ivm_value k, v;
        ivm_map_iter_init(&it, coll);
        while (ivm_map_iter_next(&it, &k, &v)) {
            ivm_buf_add(items, &k, sizeof k);
            if (ivm_is_map(coll))
                ivm_buf_add(items, &v, sizeof v);
        }
    }
}

/* `form as Clojure's reader expands it: code that builds the form with
 * ~x evaluated and ~@xs spliced; (seq (concat ...)) only where something
 * is spliced, (list ...) otherwise (the same value). */
static bool syntax_quote(ivm_expander *ex, sq_state *st, ivm_value form, ivm_value *out)
{
    if (st->depth++ > MAX_QUOTED_DEPTH)
        return fail(ex, "syntax-quoted form nested too deeply", 0, NULL);
    bool ok = true;
    if (ivm_is_kind(form, IVM_K_SYMBOL)) {
        *out = list(ex, 2, sym(ex, "quote"), sq_symbol(ex, st, form));
    } else if (is_call_of(form, "clojure.core/unquote")) {
        *out = second(form);
    } else if (is_call_of(form, "clojure.core/unquote-splicing")) {
        ok = fail(ex, "splice not in list", 0, NULL);
    } else if (is_call_of(form, "ivm.core/syntax-quote")) { /* the inner one first, as Clojure reads */
        ivm_value inner;
        sq_state fresh = {.nesting = st->nesting + 1};
        if (fresh.nesting >= MAX_SYNTAX_QUOTE_NESTING) {
            st->depth--;
            return fail(ex, "syntax quote nested more than 4 deep", 0, NULL);
        }
        ok = syntax_quote(ex, &fresh, second(form), &inner) && syntax_quote(ex, st, inner, out);
        ivm_buf_free(&fresh.gensyms);
    } else if (form == IVM_EMPTY_LIST) {
        *out = list(ex, 1, core(ex, "list"));
    } else if (ivm_is_cons(form) || ivm_is_vector(form) || ivm_is_map(form) || ivm_is_set(form)) {
        ivm_buf items = {0};
        sq_items(form, &items);
        ivm_value parts;
        bool spliced;
        ok = sq_parts(ex, st, ITEMS(items, ivm_value), COUNT(items, ivm_value), &parts, &spliced);
        ivm_buf_free(&items);
        if (ok) {
            ivm_value built = spliced ? list(ex, 2, core(ex, "seq"), cons(ex, core(ex, "concat"), parts))
                                      : cons(ex, core(ex, "list"), parts);
            const char *maker = ivm_is_vector(form) ? "vector" : ivm_is_map(form) ? "hash-map"
                                : ivm_is_set(form)  ? "hash-set" : NULL;
            if (maker && spliced)
                built = list(ex, 3, core(ex, "apply"), core(ex, maker), built);
            else if (maker)
                built = cons(ex, core(ex, maker), parts);
            *out = built;
        }
    } else {
        *out = form; /* numbers, strings, keywords, characters, nil, booleans */
    }
    st->depth--;
    return ok;
}

static int expand_syntax_quote(ivm_expander *ex, ivm_value form, ivm_value *out)
{
    sq_state st = {0};
    bool ok = syntax_quote(ex, &st, second(form), out);
    ivm_buf_free(&st.gensyms);
    return ok ? 1 : -1;
}

/* ---- Macros ------------------------------------------------------------- */

/* A macro lives in a global of its own, named "macro NAME" (no program can
 * write that symbol), so that the collector keeps its function alive and
 * later compilations (the REPL's) see it. */
static ivm_value macro_slot_name(ivm_expander *ex, ivm_value name)
{
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, "macro ");
    ivm_buf_add(&b, ivm_as_str(name)->bytes, ivm_as_str(name)->len);
    ivm_value s = ivm_symbol(ex->h, b.data, b.len);
    ivm_buf_free(&b);
    return s;
}

ivm_value ivm_expand_macro(ivm_expander *ex, ivm_value name)
{
    if (!ex->vm->rt->nmacros || !ivm_is_kind(name, IVM_K_SYMBOL))
        return 0;
    ivm_value v = ex->vm->globals[ivm_global_slot(ex->vm, macro_slot_name(ex, name))].value;
    return v == IVM_UNBOUND ? 0 : v;
}

void ivm_expand_set_macro(ivm_expander *ex, ivm_value name, ivm_value fn)
{
    ivm_vm *vm = ex->vm;
    uint32_t slot = ivm_global_slot(vm, macro_slot_name(ex, name));
    vm->globals[slot].value = fn;
    if (fn != IVM_UNBOUND)
        vm->rt->nmacros++;
}

/* The message of the error a macro raised. */
static void error_text(ivm_expander *ex, ivm_buf *b)
{
    ivm_value e = ex->vm->error;
    if (ivm_is_kind(e, IVM_K_EXCEPTION) && ivm_is_kind(ivm_as_exception(e)->message, IVM_K_STRING))
        e = ivm_as_exception(e)->message;
    if (ivm_is_kind(e, IVM_K_STRING))
        ivm_buf_add(b, ivm_as_str(e)->bytes, ivm_as_str(e)->len);
    else
        ivm_print(ex->h, b, e, true);
}

bool ivm_expand_call_macro(ivm_expander *ex, ivm_value macro, ivm_value form, ivm_value *out)
{
    ivm_vm *vm = ex->vm;
    ivm_buf args = {0};
    for (ivm_value l = rest(form); l != IVM_EMPTY_LIST; l = rest(l)) {
        ivm_value x = first(l);
        ivm_buf_add(&args, &x, sizeof x);
    }
    vm->gc_hold++; /* the forms being compiled are rooted nowhere */
    ivm_status st = ivm_call(vm, macro, COUNT(args, ivm_value), ITEMS(args, ivm_value), out);
    vm->gc_hold--;
    ivm_buf_free(&args);
    if (st == IVM_OK)
        return true;
    ivm_buf msg = {0};
    ivm_buf_add_cstr(&msg, "error while expanding macro ");
    ivm_print(ex->h, &msg, first(form), true);
    ivm_buf_add_cstr(&msg, ": ");
    error_text(ex, &msg);
    ivm_buf_add_char(&msg, '\0');
    fail(ex, msg.data, 0, NULL);
    ivm_buf_free(&msg);
    return false;
}

int ivm_expand(ivm_expander *ex, ivm_value form, ivm_value *out)
{
    ivm_value head = first(form), args = rest(form);
    if (sym_is(head, "defn") || sym_is(head, "defn-"))
        return expand_defn(ex, form, out);
    if (sym_is(head, "ivm.core/syntax-quote"))
        return need(ex, form, 2, "syntax quote needs a form") ? expand_syntax_quote(ex, form, out) : -1;
    if (sym_is(head, "when") || sym_is(head, "when-not")) {
        if (!need(ex, form, 2, "when needs a test"))
            return -1;
        ivm_value body = do_form(ex, rest(args));
        *out = sym_is(head, "when") ? list(ex, 3, sym(ex, "if"), first(args), body)
                                    : list(ex, 4, sym(ex, "if"), first(args), IVM_NIL, body);
        return 1;
    }
    if (sym_is(head, "if-not")) {
        if (len(form) < 3 || len(form) > 4)
            return fail(ex, "if-not takes a test, a then and an optional else", 0, NULL), -1;
        ivm_value otherwise = len(form) == 4 ? first(rest(rest(args))) : IVM_NIL;
        *out = list(ex, 4, sym(ex, "if"), first(args), otherwise, second(args));
        return 1;
    }
    if (sym_is(head, "cond"))
        return expand_cond(ex, args, out);
    if (sym_is(head, "case"))
        return expand_case(ex, form, out);
    if (sym_is(head, "and") || sym_is(head, "or"))
        return expand_and_or(ex, form, sym_is(head, "and"), out);
    if (sym_is(head, "->") || sym_is(head, "->>"))
        return expand_thread(ex, form, sym_is(head, "->>"), out);
    if (sym_is(head, "if-let") || sym_is(head, "when-let"))
        return expand_if_let(ex, form, sym_is(head, "when-let"), false, out);
    if (sym_is(head, "dotimes"))
        return expand_dotimes(ex, form, out);
    if (sym_is(head, "doseq"))
        return expand_doseq(ex, form, out);
    if (sym_is(head, "time"))
        return expand_time(ex, form, out);
    if (sym_is(head, "for"))
        return expand_for(ex, form, out);
    if (sym_is(head, "if-some") || sym_is(head, "when-some"))
        return expand_if_let(ex, form, sym_is(head, "when-some"), true, out);
    if (sym_is(head, "as->"))
        return expand_as(ex, form, out);
    if (sym_is(head, "some->") || sym_is(head, "some->>"))
        return expand_some_thread(ex, form, sym_is(head, "some->>"), out);
    if (sym_is(head, "cond->") || sym_is(head, "cond->>"))
        return expand_cond_thread(ex, form, sym_is(head, "cond->>"), out);
    if (sym_is(head, "assert"))
        return expand_assert(ex, form, out);
    if (sym_is(head, "letfn"))
        return expand_letfn(ex, form, out);
    if (sym_is(head, "lazy-seq")) { /* (ivm.core/lazy-seq* (fn [] body...)) */
        *out = list(ex, 2, core(ex, "lazy-seq*"),
                    cons(ex, sym(ex, "fn"), cons(ex, ivm_vec_empty(ex->h), args)));
        return 1;
    }
    if (sym_is(head, "ns"))
        return expand_ns(ex, form, out);
    if (sym_is(head, "require") && !ivm_expand_defined(ex, head)) {
        *out = IVM_NIL;
        return require_libs(ex, args) ? 1 : -1;
    }
    if (sym_is(head, "comment")) {
        *out = IVM_NIL;
        return 1;
    }
    if (sym_is(head, "declare")) {
        for (ivm_value l = args; l != IVM_EMPTY_LIST; l = rest(l))
            if (ivm_is_kind(first(l), IVM_K_SYMBOL))
                ivm_expand_define(ex, first(l), IVM_NIL);
        *out = IVM_NIL;
        return 1;
    }
    return 0;
}
