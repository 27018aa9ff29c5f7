/* The core library's natives on collections themselves: counting, getting
 * and changing (conj, assoc, dissoc, get-in, update-in, ...), the seq
 * basics (first, rest, next, cons, seq), constructors and conversions
 * (vec, set, into, zipmap, frequencies, group-by, merge), explicit
 * transients (transient, conj!, ..., persistent!) and bytes.
 *
 * Whatever builds a vector, map or set from many elements does it through
 * a transient owned by IVM_CORE_OWNER (core_internal.h's builders), so no
 * intermediate persistent version is made. */
#include "compiler/core_internal.h"

/* ---- Counting and getting ---------------------------------------------- */

NATIVE(n_count)
{
    (void)nargs;
    uint64_t n;
    ivm_value coll = args[0];
    ((ivm_value *)args)[0] = IVM_NIL; /* spent (opcodes.h): a lazy one's head is let go */
    CHECK(ivm_core_count(vm, coll, &n));
    *result = ivm_int(&vm->heap, (int64_t)n);
    return IVM_OK;
}

NATIVE(n_get)
{
    if (!ivm_core_get(vm, args[0], args[1], result))
        *result = nargs == 3 ? args[2] : IVM_NIL;
    return IVM_OK;
}

NATIVE(n_get_in)
{
    ivm_value m = args[0], not_found = nargs == 3 ? args[2] : IVM_NIL;
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, args[1]));
    ivm_value k;
    while (ivm_core_iter_next(&vm->heap, &it, &k))
        if (!ivm_core_get(vm, m, k, &m)) {
            *result = not_found;
            return IVM_OK;
        }
    *result = m;
    return IVM_OK;
}

NATIVE(n_contains_p)
{
    (void)nargs;
    ivm_value c = args[0], k = args[1], ignored;
    if (c == IVM_NIL) {
        *result = IVM_FALSE;
        return IVM_OK;
    }
    if (ivm_is_map(c) || ivm_is_set(c) || ivm_is_vector(c) ||
        ivm_is_kind(c, IVM_K_STRING) || ivm_is_kind(c, IVM_K_BYTES)) {
        *result = ivm_bool(ivm_core_get(vm, c, k, &ignored));
        return IVM_OK;
    }
    if (ivm_core_is_transient(c)) {
        uint64_t n; /* a frozen transient raises */
        CHECK(ivm_core_count(vm, c, &n));
        *result = ivm_bool(ivm_core_get(vm, c, k, &ignored));
        return IVM_OK;
    }
    return ivm_raise_type(vm, "contains? not supported on this type", c);
}

static ivm_status want_index(ivm_vm *vm, ivm_value v)
{
    return ivm_is_int(v) ? IVM_OK : ivm_raise_type(vm, "an index must be an integer", v);
}

NATIVE(n_nth)
{
    ivm_value c = args[0];
    CHECK(want_index(vm, args[1]));
    int64_t i = ivm_int_value(args[1]);
    uint64_t n;
    if (c == IVM_NIL) {
        *result = nargs == 3 ? args[2] : IVM_NIL;
        return IVM_OK;
    }
    if (ivm_is_lazy(c)) {
        ivm_value at;
        ((ivm_value *)args)[0] = IVM_NIL; /* spent (opcodes.h): the head is not kept */
        CHECK(ivm_core_lazy_skip(vm, c, i < 0 ? 0 : (uint64_t)i, &at));
        if (ivm_is_lazy(at))
            CHECK(ivm_lazy_realize(vm, at));
        if (i >= 0 && ivm_is_lazy(at) && ivm_as_lazy(at)->rest != IVM_UNBOUND) {
            *result = ivm_as_lazy(at)->first;
            return IVM_OK;
        }
        if (i >= 0 && ivm_is_cons(at)) {
            *result = ivm_as_cons(at)->first;
            return IVM_OK;
        }
        n = (uint64_t)i; /* short: the index is past its end */
    } else if (ivm_is_list(c)) {
        n = ivm_list_count(c);
        if (i >= 0 && (uint64_t)i < n) {
            for (int64_t j = 0; j < i; j++)
                c = ivm_as_cons(c)->rest;
            *result = ivm_as_cons(c)->first;
            return IVM_OK;
        }
    } else if (ivm_is_vector(c) || ivm_is_kind(c, IVM_K_STRING) ||
               ivm_is_kind(c, IVM_K_BYTES) || ivm_is_transient_vector(c)) {
        CHECK(ivm_core_count(vm, c, &n));
        if (ivm_core_get(vm, c, args[1], result))
            return IVM_OK;
    } else {
        return ivm_raise_type(vm, "nth not supported on this type", c);
    }
    if (nargs == 3) {
        *result = args[2];
        return IVM_OK;
    }
    return ivm_core_raise_index(vm, i, n);
}

/* ---- conj, assoc, dissoc, disj ----------------------------------------- */

ivm_status ivm_core_conj_native(ivm_vm *vm, const ivm_value *args,
                                uint32_t nargs, ivm_value *result)
{
    if (nargs == 0) {
        *result = ivm_vec_empty(&vm->heap);
        return IVM_OK;
    }
    if (nargs == 1) {
        *result = args[0];
        return IVM_OK;
    }
    if (nargs == 2)
        return ivm_core_conj(vm, args[0], args[1], result);
    ivm_core_builder b;
    CHECK(ivm_core_builder_init(vm, &b, args[0]));
    for (uint32_t i = 1; i < nargs; i++)
        CHECK(ivm_core_builder_add(vm, &b, args[i]));
    *result = ivm_core_builder_finish(vm, &b);
    return IVM_OK;
}

static ivm_status odd_pairs(ivm_vm *vm, const char *fn)
{
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, fn);
    ivm_buf_add_cstr(&b, " expects even number of arguments after map/vector, found odd number");
    return ivm_raise_buf(vm, &b);
}

NATIVE(n_assoc)
{
    if (nargs % 2 == 0)
        return odd_pairs(vm, "assoc");
    ivm_value m = args[0];
    for (uint32_t i = 1; i < nargs; i += 2)
        CHECK(ivm_core_assoc(vm, m, args[i], args[i + 1], &m));
    *result = m;
    return IVM_OK;
}

NATIVE(n_dissoc)
{
    ivm_value m = args[0];
    if (m != IVM_NIL && !ivm_is_map(m))
        return ivm_raise_type(vm, "dissoc expects a map", m);
    for (uint32_t i = 1; i < nargs && m != IVM_NIL; i++)
        m = ivm_map_dissoc(&vm->heap, m, args[i]);
    *result = m;
    return IVM_OK;
}

NATIVE(n_disj)
{
    ivm_value s = args[0];
    if (s != IVM_NIL && !ivm_is_set(s))
        return ivm_raise_type(vm, "disj expects a set", s);
    for (uint32_t i = 1; i < nargs && s != IVM_NIL; i++)
        s = ivm_set_disj(&vm->heap, s, args[i]);
    *result = s;
    return IVM_OK;
}

/* assoc-in and update-in: the maps along the path are looked up first,
 * then rebuilt from the innermost out (no C recursion). An empty path is
 * the key nil, as in Clojure. With f, the innermost value becomes
 * (f old extra...); otherwise it is `value`. */
static ivm_status update_path(ivm_vm *vm, ivm_value m, ivm_value path, ivm_value f,
                              ivm_value value, const ivm_value *extra,
                              uint32_t nextra, ivm_value *result)
{
    ivm_worklist keys, maps;
    ivm_worklist_init(&keys);
    ivm_worklist_init(&maps);
    uint32_t roots = ivm_roots_count(vm);
    ivm_root_list(vm, &keys);
    ivm_root_list(vm, &maps);
    ivm_status st = ivm_core_collect(vm, path, &keys);
    if (st == IVM_OK && keys.len == 0)
        ivm_worklist_push(&keys, IVM_NIL);
    if (st == IVM_OK) {
        ivm_value at = m;
        for (size_t i = 0; i < keys.len; i++) {
            ivm_worklist_push(&maps, at);
            if (!ivm_core_get(vm, at, keys.items[i], &at))
                at = IVM_NIL;
        }
        if (f != IVM_UNBOUND) {
            ivm_worklist call;
            ivm_worklist_init(&call);
            ivm_worklist_push(&call, at);
            for (uint32_t i = 0; i < nextra; i++)
                ivm_worklist_push(&call, extra[i]);
            st = ivm_core_call(vm, f, (uint32_t)call.len, call.items, &value);
            ivm_worklist_free(&call);
        }
        for (size_t i = keys.len; st == IVM_OK && i-- > 0;)
            st = ivm_core_assoc(vm, maps.items[i], keys.items[i], value, &value);
    }
    ivm_roots_restore(vm, roots);
    ivm_worklist_free(&keys);
    ivm_worklist_free(&maps);
    if (st == IVM_OK)
        *result = value;
    return st;
}

NATIVE(n_assoc_in)
{
    (void)nargs;
    return update_path(vm, args[0], args[1], IVM_UNBOUND, args[2], NULL, 0, result);
}

NATIVE(n_update_in)
{
    return update_path(vm, args[0], args[1], args[2], IVM_NIL, args + 3, nargs - 3, result);
}

NATIVE(n_update)
{
    ivm_value path = ivm_cons_new(&vm->heap, args[1], IVM_EMPTY_LIST);
    return update_path(vm, args[0], path, args[2], IVM_NIL, args + 3, nargs - 3, result);
}

/* ---- Seq basics -------------------------------------------------------- */

NATIVE(n_first)
{
    (void)nargs;
    ivm_value c = args[0];
    *result = IVM_NIL;
    if (ivm_is_cons(c)) {
        *result = ivm_as_cons(c)->first;
        return IVM_OK;
    }
    if (ivm_is_vector(c)) {
        if (ivm_vec_count(c))
            *result = ivm_vec_nth(c, 0);
        return IVM_OK;
    }
    ivm_core_iter it;
    CHECK(ivm_core_iter_init_lazy(vm, &it, c));
    ivm_core_iter_next(&vm->heap, &it, result);
    return IVM_OK;
}

NATIVE(n_second)
{
    (void)nargs;
    ivm_core_iter it;
    CHECK(ivm_core_iter_init_lazy(vm, &it, args[0]));
    *result = IVM_NIL;
    if (ivm_core_iter_next(&vm->heap, &it, result))
        if (!ivm_core_iter_next(&vm->heap, &it, result))
            *result = IVM_NIL;
    return IVM_OK;
}

NATIVE(n_ffirst)
{
    (void)nargs;
    ivm_value f;
    CHECK(n_first(vm, args, 1, &f));
    return n_first(vm, &f, 1, result);
}

NATIVE(n_last)
{
    (void)nargs;
    ivm_value c = args[0], x;
    *result = IVM_NIL;
    if (ivm_is_vector(c)) {
        *result = ivm_vec_peek(c);
        return IVM_OK;
    }
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, c));
    while (ivm_core_iter_next(&vm->heap, &it, &x))
        *result = x;
    return IVM_OK;
}

/* The elements of coll after the first `skip`, as a list (the list itself
 * for a list). */
static ivm_status rest_list(ivm_vm *vm, ivm_value coll, uint64_t skip, ivm_value *out)
{
    if (ivm_is_lazy(coll)) { /* the rest as it is, realized or not */
        CHECK(ivm_core_lazy_skip(vm, coll, skip, out));
        if (ivm_is_lazy(*out) && ivm_lazy_realized(*out) && ivm_as_lazy(*out)->rest == IVM_UNBOUND)
            *out = IVM_EMPTY_LIST;
        return IVM_OK;
    }
    if (coll == IVM_NIL || ivm_is_list(coll)) {
        ivm_value l = coll == IVM_NIL ? IVM_EMPTY_LIST : coll;
        for (; skip && l != IVM_EMPTY_LIST; skip--)
            l = ivm_as_cons(l)->rest;
        *out = l;
        return IVM_OK;
    }
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, coll));
    ivm_worklist w;
    ivm_worklist_init(&w);
    ivm_value x;
    while (ivm_core_iter_next(&vm->heap, &it, &x))
        if (skip)
            skip--;
        else
            ivm_worklist_push(&w, x);
    *out = ivm_core_list_of(&vm->heap, &w);
    return IVM_OK;
}

NATIVE(n_rest) { (void)nargs; return rest_list(vm, args[0], 1, result); }

/* What next and seq give for a rest: nil when it is empty (realizing it). */
static ivm_status seq_of_rest(ivm_vm *vm, ivm_value *v)
{
    if (ivm_is_lazy(*v)) {
        CHECK(ivm_lazy_realize(vm, *v));
        if (ivm_as_lazy(*v)->rest == IVM_UNBOUND)
            *v = IVM_NIL;
    }
    if (*v == IVM_EMPTY_LIST)
        *v = IVM_NIL;
    return IVM_OK;
}

NATIVE(n_next)
{
    (void)nargs;
    CHECK(rest_list(vm, args[0], 1, result));
    return seq_of_rest(vm, result);
}

static ivm_status count_arg(ivm_vm *vm, ivm_value v, int64_t *out)
{
    if (!ivm_is_int(v))
        return ivm_raise_type(vm, "a count must be an integer", v);
    *out = ivm_int_value(v);
    return IVM_OK;
}

NATIVE(n_nthrest)
{
    (void)nargs;
    int64_t n = 0;
    CHECK(count_arg(vm, args[1], &n));
    uint64_t count = 0;
    if (n > 0)
        CHECK(ivm_core_seq_count(vm, args[0], &count));
    if (n <= 0 || count == 0) { /* the collection itself, as Clojure: (nthrest nil 1) is nil */
        *result = args[0];
        return IVM_OK;
    }
    return rest_list(vm, args[0], (uint64_t)n, result);
}

NATIVE(n_nthnext)
{
    (void)nargs;
    int64_t n = 0;
    CHECK(count_arg(vm, args[1], &n));
    ivm_value coll = args[0];
    ((ivm_value *)args)[0] = IVM_NIL; /* spent (opcodes.h): the head is not kept */
    CHECK(rest_list(vm, coll, n < 0 ? 0 : (uint64_t)n, result));
    return seq_of_rest(vm, result);
}

NATIVE(n_seq)
{
    (void)nargs;
    ivm_value c = args[0];
    if (ivm_is_cons(c)) {
        *result = c;
        return IVM_OK;
    }
    CHECK(rest_list(vm, c, 0, result));
    return seq_of_rest(vm, result);
}

NATIVE(n_cons)
{
    (void)nargs;
    ivm_value rest;
    CHECK(rest_list(vm, args[1], 0, &rest));
    *result = ivm_is_lazy(rest) ? ivm_lazy_cons(&vm->heap, args[0], rest)
                                : ivm_cons_new(&vm->heap, args[0], rest);
    return IVM_OK;
}

NATIVE(n_peek)
{
    (void)nargs;
    ivm_value c = args[0];
    if (c == IVM_NIL || c == IVM_EMPTY_LIST)
        *result = IVM_NIL;
    else if (ivm_is_cons(c))
        *result = ivm_as_cons(c)->first;
    else if (ivm_is_vector(c))
        *result = ivm_vec_peek(c);
    else
        return ivm_raise_type(vm, "peek not supported on this type", c);
    return IVM_OK;
}

NATIVE(n_pop)
{
    (void)nargs;
    ivm_value c = args[0];
    if (c == IVM_NIL)
        *result = IVM_NIL;
    else if (c == IVM_EMPTY_LIST)
        return ivm_raise(vm, "Can't pop empty list");
    else if (ivm_is_cons(c))
        *result = ivm_as_cons(c)->rest;
    else if (ivm_is_vector(c)) {
        if (ivm_vec_count(c) == 0)
            return ivm_raise(vm, "Can't pop empty vector");
        *result = ivm_vec_pop(&vm->heap, c);
    } else
        return ivm_raise_type(vm, "pop not supported on this type", c);
    return IVM_OK;
}

NATIVE(n_empty)
{
    (void)nargs;
    ivm_value c = args[0];
    ivm_heap *h = &vm->heap;
    *result = ivm_is_list(c)     ? IVM_EMPTY_LIST
              : ivm_is_vector(c) ? ivm_vec_empty(h)
              : ivm_is_map(c)    ? ivm_map_empty(h)
              : ivm_is_set(c)    ? ivm_set_empty(h)
                                 : IVM_NIL;
    return IVM_OK;
}

NATIVE(n_not_empty)
{
    (void)nargs;
    uint64_t n;
    CHECK(ivm_core_seq_count(vm, args[0], &n));
    *result = n ? args[0] : IVM_NIL;
    return IVM_OK;
}

/* ---- Constructors and conversions -------------------------------------- */

NATIVE(n_list) { *result = ivm_core_list(&vm->heap, args, nargs); return IVM_OK; }

NATIVE(n_vector)
{
    *result = ivm_vec_from(&vm->heap, args, nargs);
    return IVM_OK;
}

/* A map of the key/value arguments, built in place from `empty`. */
static ivm_status build_map(ivm_vm *vm, const ivm_value *args, uint32_t nargs,
                            ivm_value empty, ivm_value *result)
{
    if (nargs % 2) {
        ivm_buf b = {0};
        ivm_buf_add_cstr(&b, "No value supplied for key: ");
        ivm_core_add_short(vm, &b, args[nargs - 1]);
        return ivm_raise_buf(vm, &b);
    }
    ivm_heap *h = &vm->heap;
    ivm_value t = ivm_map_transient(h, empty, IVM_CORE_OWNER);
    for (uint32_t i = 0; i < nargs; i += 2)
        ivm_tmap_assoc(h, t, IVM_CORE_OWNER, args[i], args[i + 1]);
    ivm_tmap_persistent(h, t, IVM_CORE_OWNER, result);
    return IVM_OK;
}

/* (hash-map ...) is hashed at any size, as Clojure's; map literals and
 * (array-map ...) keep the order of their first eight keys. */
NATIVE(n_hash_map) { return build_map(vm, args, nargs, ivm_map_empty_hashed(&vm->heap), result); }
NATIVE(n_array_map) { return build_map(vm, args, nargs, ivm_map_empty(&vm->heap), result); }

NATIVE(n_hash_set)
{
    ivm_heap *h = &vm->heap;
    ivm_value t = ivm_map_transient(h, ivm_set_empty(h), IVM_CORE_OWNER);
    for (uint32_t i = 0; i < nargs; i++)
        ivm_tset_conj(h, t, IVM_CORE_OWNER, args[i]);
    ivm_tmap_persistent(h, t, IVM_CORE_OWNER, result);
    return IVM_OK;
}

NATIVE(n_vec)
{
    (void)nargs;
    if (ivm_is_vector(args[0])) {
        *result = args[0];
        return IVM_OK;
    }
    return ivm_core_into(vm, ivm_vec_empty(&vm->heap), args[0], result);
}

NATIVE(n_set)
{
    (void)nargs;
    if (ivm_is_set(args[0])) {
        *result = args[0];
        return IVM_OK;
    }
    return ivm_core_into(vm, ivm_set_empty(&vm->heap), args[0], result);
}

NATIVE(n_into)
{
    if (nargs == 0) {
        *result = ivm_vec_empty(&vm->heap);
        return IVM_OK;
    }
    if (nargs == 1) {
        *result = args[0];
        return IVM_OK;
    }
    if (nargs == 3) /* (into to xform from) */
        return ivm_core_call_prelude(vm, "ivm.xf/into", args, nargs, result);
    return ivm_core_into(vm, args[0], args[1], result);
}

/* keys and vals: lists, nil for an empty map */
static ivm_status keys_or_vals(ivm_vm *vm, ivm_value m, bool keys, ivm_value *result)
{
    *result = IVM_NIL;
    if (m == IVM_NIL)
        return IVM_OK;
    if (!ivm_is_map(m))
        return ivm_raise_type(vm, keys ? "keys expects a map" : "vals expects a map", m);
    ivm_worklist w;
    ivm_worklist_init(&w);
    ivm_map_iter it;
    ivm_value k, v;
    ivm_map_iter_init(&it, m);
    while (ivm_map_iter_next(&it, &k, &v))
        ivm_worklist_push(&w, keys ? k : v);
    if (w.len)
        *result = ivm_core_list(&vm->heap, w.items, w.len);
    ivm_worklist_free(&w);
    return IVM_OK;
}

NATIVE(n_keys) { (void)nargs; return keys_or_vals(vm, args[0], true, result); }
NATIVE(n_vals) { (void)nargs; return keys_or_vals(vm, args[0], false, result); }

NATIVE(n_key)
{
    (void)nargs;
    if (!ivm_core_is_pair(args[0]))
        return ivm_raise_type(vm, "key expects a map entry", args[0]);
    *result = ivm_vec_nth(args[0], 0);
    return IVM_OK;
}

NATIVE(n_val)
{
    (void)nargs;
    if (!ivm_core_is_pair(args[0]))
        return ivm_raise_type(vm, "val expects a map entry", args[0]);
    *result = ivm_vec_nth(args[0], 1);
    return IVM_OK;
}

NATIVE(n_find)
{
    (void)nargs;
    ivm_value m = args[0], v;
    if (m != IVM_NIL && !ivm_is_map(m) && !ivm_is_vector(m))
        return ivm_raise_type(vm, "find expects a map", m);
    *result = ivm_core_get(vm, m, args[1], &v) ? ivm_core_entry(&vm->heap, args[1], v) : IVM_NIL;
    return IVM_OK;
}

/* (select-keys m keys): m is a map, a vector (by index) or nil, as find. */
NATIVE(n_select_keys)
{
    (void)nargs;
    ivm_value m = args[0], k, v;
    if (m != IVM_NIL && !ivm_is_map(m) && !ivm_is_vector(m))
        return ivm_raise_type(vm, "select-keys expects a map", m);
    ivm_heap *h = &vm->heap;
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, args[1]));
    ivm_value t = ivm_map_transient(h, ivm_map_empty(h), IVM_CORE_OWNER);
    while (ivm_core_iter_next(h, &it, &k))
        if (m != IVM_NIL && ivm_core_get(vm, m, k, &v))
            ivm_tmap_assoc(h, t, IVM_CORE_OWNER, k, v);
    ivm_tmap_persistent(h, t, IVM_CORE_OWNER, result);
    return IVM_OK;
}

NATIVE(n_zipmap)
{
    (void)nargs;
    ivm_heap *h = &vm->heap;
    ivm_core_iter ks, vs;
    CHECK(ivm_core_iter_init(vm, &ks, args[0]));
    CHECK(ivm_core_iter_init(vm, &vs, args[1]));
    ivm_value t = ivm_map_transient(h, ivm_map_empty(h), IVM_CORE_OWNER), k, v;
    while (ivm_core_iter_next(h, &ks, &k) && ivm_core_iter_next(h, &vs, &v))
        ivm_tmap_assoc(h, t, IVM_CORE_OWNER, k, v);
    ivm_tmap_persistent(h, t, IVM_CORE_OWNER, result);
    return IVM_OK;
}

NATIVE(n_merge)
{
    bool any = false;
    for (uint32_t i = 0; i < nargs; i++)
        any = any || ivm_truthy(args[i]);
    *result = IVM_NIL;
    if (!any)
        return IVM_OK;
    ivm_value acc = args[0];
    for (uint32_t i = 1; i < nargs; i++) {
        if (!ivm_truthy(acc))
            acc = ivm_map_empty(&vm->heap);
        CHECK(ivm_core_conj(vm, acc, args[i], &acc));
    }
    *result = acc;
    return IVM_OK;
}

NATIVE(n_merge_with)
{
    ivm_heap *h = &vm->heap;
    ivm_value f = args[0];
    bool any = false;
    for (uint32_t i = 1; i < nargs; i++) {
        any = any || ivm_truthy(args[i]);
        if (ivm_truthy(args[i]) && !ivm_is_map(args[i]))
            return ivm_raise_type(vm, "merge-with expects maps", args[i]);
    }
    *result = IVM_NIL;
    if (!any)
        return IVM_OK;
    ivm_value base = ivm_truthy(args[1]) ? args[1] : ivm_map_empty(h);
    ivm_value t = ivm_map_transient(h, base, IVM_CORE_OWNER);
    ivm_root(vm, &t);
    for (uint32_t i = 2; i < nargs; i++) {
        if (!ivm_truthy(args[i]))
            continue;
        ivm_map_iter it;
        ivm_value k, v, old;
        bool found;
        ivm_map_iter_init(&it, args[i]);
        while (ivm_map_iter_next(&it, &k, &v)) {
            ivm_tmap_get(h, t, IVM_CORE_OWNER, k, &found, &old);
            if (found)
                CHECK(ivm_core_call2(vm, f, old, v, &v));
            ivm_tmap_assoc(h, t, IVM_CORE_OWNER, k, v);
        }
    }
    ivm_tmap_persistent(h, t, IVM_CORE_OWNER, result);
    return IVM_OK;
}

/* update-vals and update-keys (Clojure 1.11). Over a vector, as Clojure's
 * reduce-kv sees one: update-vals gives a vector, update-keys a map from
 * (f index). */
static ivm_status update_vector(ivm_vm *vm, ivm_value vec, ivm_value f, bool keys,
                                ivm_value *result)
{
    ivm_heap *h = &vm->heap;
    ivm_core_builder b;
    if (keys) {
        b.kind = IVM_CORE_B_MAP;
        b.v = ivm_map_transient(h, ivm_map_empty(h), IVM_CORE_OWNER);
    } else {
        ivm_core_builder_vector(vm, &b);
    }
    ivm_root(vm, &b.v);
    uint64_t n = ivm_vec_count(vec);
    for (uint64_t i = 0; i < n; i++) {
        ivm_value x = ivm_vec_nth(vec, i), y;
        if (keys) {
            CHECK(ivm_core_call1(vm, f, ivm_int(h, (int64_t)i), &y));
            CHECK(ivm_core_transient_status(vm, ivm_tmap_assoc(h, b.v, IVM_CORE_OWNER, y, x)));
        } else {
            CHECK(ivm_core_call1(vm, f, x, &y));
            CHECK(ivm_core_builder_add(vm, &b, y));
        }
    }
    *result = ivm_core_builder_finish(vm, &b);
    return IVM_OK;
}

static ivm_status update_entries(ivm_vm *vm, ivm_value m, ivm_value f, bool keys,
                                 ivm_value *result)
{
    ivm_heap *h = &vm->heap;
    if (m == IVM_NIL)
        m = ivm_map_empty(h);
    if (ivm_is_vector(m))
        return update_vector(vm, m, f, keys, result);
    if (!ivm_is_map(m))
        return ivm_raise_type(vm, keys ? "update-keys expects a map" : "update-vals expects a map", m);
    ivm_value t = ivm_map_transient(h, keys ? ivm_map_empty(h) : m, IVM_CORE_OWNER);
    ivm_root(vm, &t); /* natives only call this: the root ends with them */
    ivm_root(vm, &m);
    ivm_map_iter it;
    ivm_value k, v;
    ivm_map_iter_init(&it, m);
    while (ivm_map_iter_next(&it, &k, &v)) {
        if (keys)
            CHECK(ivm_core_call1(vm, f, k, &k));
        else
            CHECK(ivm_core_call1(vm, f, v, &v));
        ivm_tmap_assoc(h, t, IVM_CORE_OWNER, k, v);
    }
    ivm_tmap_persistent(h, t, IVM_CORE_OWNER, result);
    return IVM_OK;
}

NATIVE(n_update_vals) { (void)nargs; return update_entries(vm, args[0], args[1], false, result); }
NATIVE(n_update_keys) { (void)nargs; return update_entries(vm, args[0], args[1], true, result); }

NATIVE(n_subvec)
{
    ivm_value v = args[0];
    if (!ivm_is_vector(v))
        return ivm_raise_type(vm, "subvec expects a vector", v);
    CHECK(want_index(vm, args[1]));
    uint64_t n = ivm_vec_count(v);
    int64_t start = ivm_int_value(args[1]), end = (int64_t)n;
    if (nargs == 3) {
        CHECK(want_index(vm, args[2]));
        end = ivm_int_value(args[2]);
    }
    if (end < 0 || (uint64_t)end > n)
        return ivm_core_raise_index(vm, end, n);
    if (start < 0 || start > end)
        return ivm_core_raise_index(vm, start, (uint64_t)end);
    *result = ivm_vec_subvec(&vm->heap, v, (uint64_t)start, (uint64_t)end);
    return IVM_OK;
}

NATIVE(n_frequencies)
{
    (void)nargs;
    ivm_heap *h = &vm->heap;
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, args[0]));
    ivm_value t = ivm_map_transient(h, ivm_map_empty(h), IVM_CORE_OWNER), x, n;
    bool found;
    while (ivm_core_iter_next(h, &it, &x)) {
        ivm_tmap_get(h, t, IVM_CORE_OWNER, x, &found, &n);
        ivm_tmap_assoc(h, t, IVM_CORE_OWNER, x,
                       found ? ivm_int(h, ivm_int_value(n) + 1) : ivm_fixnum(1));
    }
    ivm_tmap_persistent(h, t, IVM_CORE_OWNER, result);
    return IVM_OK;
}

/* Each group grows as a transient vector; the map holds the group's index
 * until the end, when each index is replaced (in place) by its vector. */
NATIVE(n_group_by)
{
    (void)nargs;
    ivm_heap *h = &vm->heap;
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, args[1]));
    ivm_value t = ivm_map_transient(h, ivm_map_empty(h), IVM_CORE_OWNER), x, k, index;
    ivm_worklist groups; /* key, transient vector, key, ... */
    ivm_worklist_init(&groups);
    ivm_root(vm, &t);
    ivm_root_list(vm, &groups);
    ivm_status st = IVM_OK;
    bool found;
    while (ivm_core_iter_next(h, &it, &x)) {
        st = ivm_core_call1(vm, args[0], x, &k);
        if (st != IVM_OK)
            break;
        ivm_tmap_get(h, t, IVM_CORE_OWNER, k, &found, &index);
        if (!found) {
            index = ivm_fixnum((int64_t)groups.len / 2);
            ivm_tmap_assoc(h, t, IVM_CORE_OWNER, k, index);
            ivm_worklist_push2(&groups, k, ivm_vec_transient(h, ivm_vec_empty(h), IVM_CORE_OWNER));
        }
        ivm_tvec_conj(h, groups.items[2 * ivm_fixnum_value(index) + 1], IVM_CORE_OWNER, x);
    }
    if (st == IVM_OK) {
        for (size_t i = 0; i < groups.len; i += 2) {
            ivm_value v;
            ivm_tvec_persistent(h, groups.items[i + 1], IVM_CORE_OWNER, &v);
            ivm_tmap_assoc(h, t, IVM_CORE_OWNER, groups.items[i], v);
        }
        ivm_tmap_persistent(h, t, IVM_CORE_OWNER, result);
    }
    ivm_worklist_free(&groups);
    return st;
}

/* ---- Explicit transients ----------------------------------------------- */

NATIVE(n_transient)
{
    (void)nargs;
    ivm_value c = args[0];
    if (ivm_is_vector(c))
        *result = ivm_vec_transient(&vm->heap, c, IVM_CORE_OWNER);
    else if (ivm_is_map(c) || ivm_is_set(c))
        *result = ivm_map_transient(&vm->heap, c, IVM_CORE_OWNER);
    else
        return ivm_raise_type(vm, "transient not supported on this type", c);
    return IVM_OK;
}

#define TSTATUS(expr) CHECK(ivm_core_transient_status(vm, (expr)))

NATIVE(n_conj_bang)
{
    ivm_heap *h = &vm->heap;
    if (nargs == 0) {
        *result = ivm_vec_transient(h, ivm_vec_empty(h), IVM_CORE_OWNER);
        return IVM_OK;
    }
    ivm_value t = args[0];
    *result = t;
    if (nargs == 1)
        return IVM_OK;
    ivm_value x = args[1];
    if (ivm_is_transient_vector(t)) {
        TSTATUS(ivm_tvec_conj(h, t, IVM_CORE_OWNER, x));
    } else if (ivm_is_transient_set(t)) {
        TSTATUS(ivm_tset_conj(h, t, IVM_CORE_OWNER, x));
    } else if (ivm_is_transient_map(t)) {
        uint64_t n;
        TSTATUS(ivm_tmap_count(t, IVM_CORE_OWNER, &n));
        ivm_core_builder b = {.kind = IVM_CORE_B_MAP, .v = t};
        return ivm_core_builder_add(vm, &b, x);
    } else {
        return ivm_raise_type(vm, "conj! expects a transient", t);
    }
    return IVM_OK;
}

NATIVE(n_assoc_bang)
{
    ivm_heap *h = &vm->heap;
    ivm_value t = args[0];
    if (nargs % 2 == 0)
        return odd_pairs(vm, "assoc!");
    for (uint32_t i = 1; i < nargs; i += 2) {
        if (ivm_is_transient_map(t)) {
            TSTATUS(ivm_tmap_assoc(h, t, IVM_CORE_OWNER, args[i], args[i + 1]));
        } else if (ivm_is_transient_vector(t)) {
            uint64_t n;
            TSTATUS(ivm_tvec_count(t, IVM_CORE_OWNER, &n));
            if (!ivm_is_int(args[i]))
                return ivm_core_raise_with(vm, "Key must be integer: ", args[i]);
            int64_t j = ivm_int_value(args[i]);
            if (j < 0 || (uint64_t)j > n)
                return ivm_core_raise_index(vm, j, n);
            TSTATUS(ivm_tvec_assoc(h, t, IVM_CORE_OWNER, (uint64_t)j, args[i + 1]));
        } else {
            return ivm_raise_type(vm, "assoc! expects a transient map or vector", t);
        }
    }
    *result = t;
    return IVM_OK;
}

NATIVE(n_dissoc_bang)
{
    ivm_value t = args[0];
    if (!ivm_is_transient_map(t))
        return ivm_raise_type(vm, "dissoc! expects a transient map", t);
    uint64_t n;
    TSTATUS(ivm_tmap_count(t, IVM_CORE_OWNER, &n));
    for (uint32_t i = 1; i < nargs; i++)
        TSTATUS(ivm_tmap_dissoc(&vm->heap, t, IVM_CORE_OWNER, args[i]));
    *result = t;
    return IVM_OK;
}

NATIVE(n_disj_bang)
{
    ivm_value t = args[0];
    if (!ivm_is_transient_set(t))
        return ivm_raise_type(vm, "disj! expects a transient set", t);
    uint64_t n;
    TSTATUS(ivm_tmap_count(t, IVM_CORE_OWNER, &n));
    for (uint32_t i = 1; i < nargs; i++)
        TSTATUS(ivm_tset_disj(&vm->heap, t, IVM_CORE_OWNER, args[i]));
    *result = t;
    return IVM_OK;
}

NATIVE(n_pop_bang)
{
    (void)nargs;
    ivm_value t = args[0];
    if (!ivm_is_transient_vector(t))
        return ivm_raise_type(vm, "pop! expects a transient vector", t);
    uint64_t n;
    TSTATUS(ivm_tvec_count(t, IVM_CORE_OWNER, &n));
    if (n == 0)
        return ivm_raise(vm, "Can't pop empty vector");
    TSTATUS(ivm_tvec_pop(&vm->heap, t, IVM_CORE_OWNER));
    *result = t;
    return IVM_OK;
}

NATIVE(n_persistent_bang)
{
    (void)nargs;
    ivm_value t = args[0];
    if (ivm_is_transient_vector(t))
        TSTATUS(ivm_tvec_persistent(&vm->heap, t, IVM_CORE_OWNER, result));
    else if (ivm_is_transient_map(t) || ivm_is_transient_set(t))
        TSTATUS(ivm_tmap_persistent(&vm->heap, t, IVM_CORE_OWNER, result));
    else
        return ivm_raise_type(vm, "persistent! expects a transient", t);
    return IVM_OK;
}

/* ---- Bytes ------------------------------------------------------------- */

/* (bytes x): a string's UTF-8, bytes themselves, or a collection of
 * integers 0..255. */
NATIVE(n_bytes)
{
    (void)nargs;
    ivm_value x = args[0];
    if (ivm_is_kind(x, IVM_K_BYTES)) {
        *result = x;
        return IVM_OK;
    }
    if (ivm_core_is_string(x)) {
        *result = ivm_bytes(&vm->heap, ivm_as_str(x)->bytes, ivm_as_str(x)->len);
        return IVM_OK;
    }
    if (!ivm_core_seqable(x))
        return ivm_raise_type(vm, "bytes expects a string or a collection of integers 0..255", x);
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, x));
    ivm_buf b = {0};
    ivm_value e;
    while (ivm_core_iter_next(&vm->heap, &it, &e)) {
        if (!ivm_is_int(e) || ivm_int_value(e) < 0 || ivm_int_value(e) > 255) {
            ivm_buf_free(&b);
            return ivm_raise_type(vm, "a byte must be an integer from 0 to 255", e);
        }
        ivm_buf_add_char(&b, (char)(uint8_t)ivm_int_value(e));
    }
    *result = ivm_bytes(&vm->heap, b.data ? b.data : "", b.len);
    ivm_buf_free(&b);
    return IVM_OK;
}

NATIVE(n_bytes_to_string)
{
    (void)nargs;
    ivm_value x = args[0];
    if (!ivm_is_kind(x, IVM_K_BYTES))
        return ivm_raise_type(vm, "bytes->string expects bytes", x);
    const ivm_str *s = ivm_as_str(x);
    if (!ivm_utf8_valid(s->bytes, s->len))
        return ivm_raise(vm, "bytes->string: the bytes are not valid UTF-8");
    *result = ivm_string(&vm->heap, s->bytes, s->len);
    return IVM_OK;
}

NATIVE(n_string_to_bytes)
{
    (void)nargs;
    ivm_value x = args[0];
    if (!ivm_core_is_string(x))
        return ivm_raise_type(vm, "string->bytes expects a string", x);
    *result = ivm_bytes(&vm->heap, ivm_as_str(x)->bytes, ivm_as_str(x)->len);
    return IVM_OK;
}

const ivm_native_def ivm_core_coll_natives[] = {
    {"count", n_count, 1, 1},
    {"get", n_get, 2, 3},
    {"get-in", n_get_in, 2, 3},
    {"contains?", n_contains_p, 2, 2},
    {"nth", n_nth, 2, 3},
    {"conj", ivm_core_conj_native, 0, ANY},
    {"assoc", n_assoc, 3, ANY},
    {"dissoc", n_dissoc, 1, ANY},
    {"disj", n_disj, 1, ANY},
    {"assoc-in", n_assoc_in, 3, 3},
    {"update-in", n_update_in, 3, ANY},
    {"update", n_update, 3, ANY},
    {"first", n_first, 1, 1},
    {"second", n_second, 1, 1},
    {"ffirst", n_ffirst, 1, 1},
    {"last", n_last, 1, 1},
    {"rest", n_rest, 1, 1},
    {"next", n_next, 1, 1},
    {"nthrest", n_nthrest, 2, 2},
    {"nthnext", n_nthnext, 2, 2},
    {"seq", n_seq, 1, 1},
    {"cons", n_cons, 2, 2},
    {"peek", n_peek, 1, 1},
    {"pop", n_pop, 1, 1},
    {"empty", n_empty, 1, 1},
    {"not-empty", n_not_empty, 1, 1},
    {"list", n_list, 0, ANY},
    {"vector", n_vector, 0, ANY},
    {"hash-map", n_hash_map, 0, ANY},
    {"array-map", n_array_map, 0, ANY},
    {"hash-set", n_hash_set, 0, ANY},
    {"vec", n_vec, 1, 1},
    {"set", n_set, 1, 1},
    {"into", n_into, 0, 3},
    {"keys", n_keys, 1, 1},
    {"vals", n_vals, 1, 1},
    {"key", n_key, 1, 1},
    {"val", n_val, 1, 1},
    {"find", n_find, 2, 2},
    {"select-keys", n_select_keys, 2, 2},
    {"zipmap", n_zipmap, 2, 2},
    {"merge", n_merge, 0, ANY},
    {"merge-with", n_merge_with, 1, ANY},
    {"update-vals", n_update_vals, 2, 2},
    {"update-keys", n_update_keys, 2, 2},
    {"subvec", n_subvec, 2, 3},
    {"frequencies", n_frequencies, 1, 1},
    {"group-by", n_group_by, 2, 2},
    {"transient", n_transient, 1, 1},
    {"conj!", n_conj_bang, 0, 2},
    {"assoc!", n_assoc_bang, 3, ANY},
    {"dissoc!", n_dissoc_bang, 1, ANY},
    {"disj!", n_disj_bang, 1, ANY},
    {"pop!", n_pop_bang, 1, 1},
    {"persistent!", n_persistent_bang, 1, 1},
    {"bytes", n_bytes, 1, 1},
    {"bytes->string", n_bytes_to_string, 1, 1},
    {"string->bytes", n_string_to_bytes, 1, 1},
};
const uint32_t ivm_core_coll_native_count = sizeof ivm_core_coll_natives / sizeof ivm_core_coll_natives[0];
