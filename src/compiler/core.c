/* The core library's shared machinery (core_internal.h: errors, iteration,
 * in-place builders, conj/assoc/get/count/into, calling function-like
 * values, compare) and its natives on numbers and predicates, random
 * numbers (rand, rand-int, shuffle) and Java's exception constructors
 * (Exception. ...) with .getMessage. The other natives live in
 * core_coll.c, core_seq.c, core_string.c and core_regex.c. */
#include <math.h>

#include "compiler/compile.h"
#include "compiler/core_internal.h"

void ivm_core_install(ivm_vm *vm)
{
    ivm_vm_add_natives(vm, ivm_core_num_natives, ivm_core_num_native_count);
    ivm_vm_add_natives(vm, ivm_core_coll_natives, ivm_core_coll_native_count);
    ivm_vm_add_natives(vm, ivm_core_seq_natives, ivm_core_seq_native_count);
    ivm_vm_add_natives(vm, ivm_core_string_natives, ivm_core_string_native_count);
    ivm_vm_add_natives(vm, ivm_core_regex_natives, ivm_core_regex_native_count);
}

/* ---- Errors ------------------------------------------------------------ */

void ivm_core_add_short(ivm_vm *vm, ivm_buf *b, ivm_value v)
{
    size_t start = b->len;
    ivm_print(&vm->heap, b, v, true);
    if (b->len - start > 60) { /* a huge value would drown the message */
        b->len = start + 57;
        while ((b->data[b->len] & 0xc0) == 0x80) /* not inside a character */
            b->len--;
        ivm_buf_add_cstr(b, "...");
    }
}

ivm_status ivm_core_raise_with(ivm_vm *vm, const char *message, ivm_value v)
{
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, message);
    ivm_core_add_short(vm, &b, v);
    return ivm_raise_buf(vm, &b);
}

ivm_status ivm_core_raise_index(ivm_vm *vm, int64_t i, uint64_t len)
{
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, "Index ");
    ivm_buf_add_int(&b, i);
    ivm_buf_add_cstr(&b, " out of bounds for length ");
    ivm_buf_add_int(&b, (int64_t)len);
    return ivm_raise_buf(vm, &b);
}

ivm_status ivm_core_transient_status(ivm_vm *vm, ivm_transient_status s)
{
    switch (s) {
    case IVM_TRANSIENT_OK: return IVM_OK;
    case IVM_TRANSIENT_FROZEN: return ivm_raise(vm, "Transient used after persistent! call");
    default: return ivm_raise(vm, "Transient used by a process other than its owner");
    }
}

/* ---- Values ------------------------------------------------------------ */

ivm_value ivm_core_list(ivm_heap *h, const ivm_value *items, size_t n)
{
    ivm_value list = IVM_EMPTY_LIST;
    for (size_t i = n; i-- > 0;)
        list = ivm_cons_new(h, items[i], list);
    return list;
}

ivm_value ivm_core_list_of(ivm_heap *h, ivm_worklist *w)
{
    ivm_value list = ivm_core_list(h, w->items, w->len);
    ivm_worklist_free(w);
    return list;
}

ivm_value ivm_core_entry(ivm_heap *h, ivm_value k, ivm_value v)
{
    ivm_value kv[2] = {k, v};
    return ivm_vec_from(h, kv, 2);
}

bool ivm_core_is_pair(ivm_value v) { return ivm_is_vector(v) && ivm_vec_count(v) == 2; }

ivm_value ivm_core_buf_string(ivm_vm *vm, ivm_buf *b)
{
    ivm_value s = ivm_string(&vm->heap, b->data ? b->data : "", b->len);
    ivm_buf_free(b);
    return s;
}

void ivm_core_add_str(ivm_vm *vm, ivm_buf *b, ivm_value v) { ivm_add_str(vm, b, v); }

size_t ivm_core_cp_offset(const ivm_str *s, uint64_t index)
{
    if (s->aux == s->len) /* ASCII */
        return (size_t)index;
    size_t off = 0;
    for (uint64_t i = 0; i < index && off < s->len; i++) {
        uint8_t c = s->bytes[off];
        off += c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    }
    return off;
}

/* ---- Iteration --------------------------------------------------------- */

enum { IT_DONE, IT_CURSOR, IT_MAP, IT_STRING, IT_BYTES };

bool ivm_core_seqable(ivm_value v)
{
    return v == IVM_NIL || ivm_walk_kind_of(v) != IVM_WALK_LEAF ||
           ivm_is_kind(v, IVM_K_STRING) || ivm_is_kind(v, IVM_K_BYTES);
}

static ivm_status lazy_walk(ivm_vm *vm, ivm_value seq, uint64_t n, ivm_value *out,
                            uint64_t *passed);

/* Realizes every node of a lazy sequence (it must be finite). The native
 * walking it may already hold values nothing roots (a builder begun, a
 * list of results), so no collection runs meanwhile: the garbage the
 * realization makes waits for the next safepoint. */
static ivm_status realize_all(ivm_vm *vm, ivm_value seq)
{
    ivm_value end;
    vm->gc_hold++;
    ivm_status st = lazy_walk(vm, seq, UINT64_MAX, &end, NULL);
    vm->gc_hold--;
    return st;
}

ivm_status ivm_core_iter_init(ivm_vm *vm, ivm_core_iter *it, ivm_value coll)
{
    if (ivm_is_lazy(coll)) /* all of it now: the walk then runs no code */
        CHECK(realize_all(vm, coll));
    return ivm_core_iter_init_lazy(vm, it, coll);
}

ivm_status ivm_core_iter_init_lazy(ivm_vm *vm, ivm_core_iter *it, ivm_value coll)
{
    it->kind = IT_DONE;
    if (coll == IVM_NIL)
        return IVM_OK;
    ivm_walk_kind k = ivm_walk_kind_of(coll);
    if (k != IVM_WALK_LEAF) {
        ivm_cursor_init(&it->c, coll);
        it->kind = k == IVM_WALK_MAP ? IT_MAP : IT_CURSOR;
        return IVM_OK;
    }
    if (ivm_is_kind(coll, IVM_K_STRING) || ivm_is_kind(coll, IVM_K_BYTES)) {
        const ivm_str *s = ivm_as_str(coll);
        it->p = s->bytes;
        it->end = s->bytes + s->len;
        it->kind = ivm_is_kind(coll, IVM_K_STRING) ? IT_STRING : IT_BYTES;
        return IVM_OK;
    }
    return ivm_raise_type(vm, "Don't know how to create ISeq from this value", coll);
}

bool ivm_core_iter_next(ivm_heap *h, ivm_core_iter *it, ivm_value *x)
{
    ivm_value k, v;
    switch (it->kind) {
    case IT_CURSOR: return ivm_cursor_next(&it->c, x, &v);
    case IT_MAP:
        if (!ivm_cursor_next(&it->c, &k, &v))
            return false;
        *x = ivm_core_entry(h, k, v);
        return true;
    case IT_STRING:
        if (it->p >= it->end)
            return false;
        *x = ivm_char(ivm_utf8_next(&it->p));
        return true;
    case IT_BYTES:
        if (it->p >= it->end)
            return false;
        *x = ivm_fixnum(*it->p++);
        return true;
    default: return false;
    }
}

ivm_status ivm_core_collect(ivm_vm *vm, ivm_value coll, ivm_worklist *w)
{
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, coll));
    ivm_value x;
    while (ivm_core_iter_next(&vm->heap, &it, &x))
        ivm_worklist_push(w, x);
    return IVM_OK;
}

ivm_status ivm_core_seq_count(ivm_vm *vm, ivm_value coll, uint64_t *out)
{
    if (!ivm_core_seqable(coll))
        return ivm_raise_type(vm, "Don't know how to create ISeq from this value", coll);
    return ivm_core_count(vm, coll, out);
}

/* ---- Lazy sequences ---------------------------------------------------- */

/* The walk under ivm_core_lazy_skip; *passed (if not NULL) says how many
 * elements it went past, lazy nodes and list cells alike. */
static ivm_status lazy_walk(ivm_vm *vm, ivm_value seq, uint64_t n, ivm_value *out,
                            uint64_t *passed)
{
    uint32_t roots = ivm_roots_count(vm); /* seq's root ends here, not with the native */
    ivm_root(vm, &seq);
    ivm_status st = IVM_OK;
    uint64_t left = n;
    for (; left && ivm_is_lazy(seq); left--) {
        st = ivm_lazy_realize(vm, seq);
        if (st != IVM_OK)
            break;
        if (ivm_as_lazy(seq)->rest == IVM_UNBOUND) {
            seq = IVM_EMPTY_LIST;
            break;
        }
        seq = ivm_as_lazy(seq)->rest;
    }
    for (; st == IVM_OK && left && ivm_is_cons(seq); left--)
        seq = ivm_as_cons(seq)->rest;
    ivm_roots_restore(vm, roots);
    *out = seq;
    if (passed)
        *passed = n - left;
    return st;
}

ivm_status ivm_core_lazy_skip(ivm_vm *vm, ivm_value seq, uint64_t n, ivm_value *out)
{
    return lazy_walk(vm, seq, n, out, NULL);
}

bool ivm_core_any_lazy(const ivm_value *args, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (ivm_is_lazy(args[i]))
            return true;
    return false;
}

ivm_status ivm_core_call_prelude(ivm_vm *vm, const char *name, const ivm_value *args,
                                 uint32_t nargs, ivm_value *result)
{
    ivm_value sym = ivm_symbol_cstr(&vm->heap, name);
    uint32_t slot = ivm_global_slot(vm, sym);
    if (vm->globals[slot].value == IVM_UNBOUND) /* the prelude's section, loaded now */
        ivm_compiler_autoload(vm, sym);
    ivm_value fn = vm->globals[slot].value;
    if (fn == IVM_UNBOUND)
        return ivm_raise(vm, "this needs the compiler's prelude, which is not installed");
    /* The arguments move into the callee's frame; their slots, spent
     * (opcodes.h), are cleared, so that a sequence made here is what keeps
     * them: once it is realized past them, they can go. */
    ivm_worklist copy;
    ivm_worklist_init(&copy);
    for (uint32_t i = 0; i < nargs; i++) {
        ivm_worklist_push(&copy, args[i]);
        ((ivm_value *)args)[i] = IVM_NIL;
    }
    ivm_status st = ivm_call(vm, fn, nargs, copy.items, result);
    ivm_worklist_free(&copy);
    return st;
}

ivm_status ivm_core_call_lazy(ivm_vm *vm, const char *name, const ivm_value *args,
                              uint32_t nargs, ivm_value *result)
{
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, "ivm.lazy/");
    ivm_buf_add_cstr(&b, name);
    ivm_buf_add_char(&b, '\0');
    ivm_status st = ivm_core_call_prelude(vm, b.data, args, nargs, result);
    ivm_buf_free(&b);
    return st;
}

/* ---- Counting, getting, conj and assoc --------------------------------- */

ivm_status ivm_core_count(ivm_vm *vm, ivm_value v, uint64_t *out)
{
    if (v == IVM_NIL)
        *out = 0;
    else if (ivm_is_lazy(v)) /* only the node being passed is rooted */
        return lazy_walk(vm, v, UINT64_MAX, &v, out);
    else if (ivm_is_list(v))
        *out = ivm_list_count(v);
    else if (ivm_is_vector(v))
        *out = ivm_vec_count(v);
    else if (ivm_is_map(v))
        *out = ivm_map_count(v);
    else if (ivm_is_set(v))
        *out = ivm_set_count(v);
    else if (ivm_is_kind(v, IVM_K_STRING))
        *out = ivm_as_str(v)->aux;
    else if (ivm_is_kind(v, IVM_K_BYTES))
        *out = ivm_as_str(v)->len;
    else if (ivm_is_transient_vector(v))
        return ivm_core_transient_status(vm, ivm_tvec_count(v, IVM_CORE_OWNER, out));
    else if (ivm_is_transient_map(v) || ivm_is_transient_set(v))
        return ivm_core_transient_status(vm, ivm_tmap_count(v, IVM_CORE_OWNER, out));
    else
        return ivm_raise_type(vm, "count not supported on this type", v);
    return IVM_OK;
}

bool ivm_core_get(ivm_vm *vm, ivm_value coll, ivm_value k, ivm_value *out)
{
    ivm_heap *h = &vm->heap;
    if (ivm_is_map(coll))
        return ivm_map_get(h, coll, k, out);
    if (ivm_is_set(coll)) {
        if (!ivm_set_contains(h, coll, k))
            return false;
        *out = k;
        return true;
    }
    if (ivm_is_transient_map(coll) || ivm_is_transient_set(coll)) {
        bool found = false;
        ivm_transient_status s =
            ivm_is_transient_map(coll)
                ? ivm_tmap_get(h, coll, IVM_CORE_OWNER, k, &found, out)
                : ivm_tset_contains(h, coll, IVM_CORE_OWNER, k, &found);
        if (s != IVM_TRANSIENT_OK || !found)
            return false;
        if (ivm_is_transient_set(coll))
            *out = k;
        return true;
    }
    if (!ivm_is_int(k))
        return false;
    int64_t i = ivm_int_value(k);
    if (i < 0)
        return false;
    if (ivm_is_vector(coll)) {
        if ((uint64_t)i >= ivm_vec_count(coll))
            return false;
        *out = ivm_vec_nth(coll, (uint64_t)i);
        return true;
    }
    if (ivm_is_transient_vector(coll)) {
        uint64_t n;
        if (ivm_tvec_count(coll, IVM_CORE_OWNER, &n) != IVM_TRANSIENT_OK || (uint64_t)i >= n)
            return false;
        return ivm_tvec_nth(coll, IVM_CORE_OWNER, (uint64_t)i, out) == IVM_TRANSIENT_OK;
    }
    if (ivm_is_kind(coll, IVM_K_STRING)) {
        const ivm_str *s = ivm_as_str(coll);
        if ((uint64_t)i >= s->aux)
            return false;
        const uint8_t *p = s->bytes + ivm_core_cp_offset(s, (uint64_t)i);
        *out = ivm_char(ivm_utf8_next(&p));
        return true;
    }
    if (ivm_is_kind(coll, IVM_K_BYTES)) {
        const ivm_str *s = ivm_as_str(coll);
        if ((uint64_t)i >= s->len)
            return false;
        *out = ivm_fixnum(s->bytes[i]);
        return true;
    }
    return false;
}

static ivm_status map_conj(ivm_vm *vm, ivm_value map, ivm_value x, ivm_value *out)
{
    if (x == IVM_NIL) {
        *out = map;
    } else if (ivm_core_is_pair(x)) {
        *out = ivm_map_assoc(&vm->heap, map, ivm_vec_nth(x, 0), ivm_vec_nth(x, 1));
    } else if (ivm_is_map(x)) {
        *out = ivm_map_merge(&vm->heap, map, x);
    } else {
        return ivm_core_raise_with(vm, "Vector arg to map conj must be a pair, got: ", x);
    }
    return IVM_OK;
}

ivm_status ivm_core_conj(ivm_vm *vm, ivm_value coll, ivm_value x, ivm_value *out)
{
    ivm_heap *h = &vm->heap;
    if (coll == IVM_NIL || ivm_is_list(coll))
        *out = ivm_cons_new(h, x, coll == IVM_NIL ? IVM_EMPTY_LIST : coll);
    else if (ivm_is_lazy(coll))
        *out = ivm_lazy_cons(h, x, coll);
    else if (ivm_is_vector(coll))
        *out = ivm_vec_conj(h, coll, x);
    else if (ivm_is_set(coll))
        *out = ivm_set_conj(h, coll, x);
    else if (ivm_is_map(coll))
        return map_conj(vm, coll, x, out);
    else
        return ivm_raise_type(vm, "conj not supported on this type", coll);
    return IVM_OK;
}

ivm_status ivm_core_assoc(ivm_vm *vm, ivm_value coll, ivm_value k, ivm_value v,
                          ivm_value *out)
{
    ivm_heap *h = &vm->heap;
    if (coll == IVM_NIL) {
        *out = ivm_map_assoc(h, ivm_map_empty(h), k, v);
        return IVM_OK;
    }
    if (ivm_is_map(coll)) {
        *out = ivm_map_assoc(h, coll, k, v);
        return IVM_OK;
    }
    if (ivm_is_vector(coll) || ivm_is_kind(coll, IVM_K_BYTES)) {
        if (!ivm_is_int(k))
            return ivm_core_raise_with(vm, "Key must be integer: ", k);
        int64_t i = ivm_int_value(k);
        if (ivm_is_vector(coll)) {
            uint64_t n = ivm_vec_count(coll);
            if (i < 0 || (uint64_t)i > n)
                return ivm_core_raise_index(vm, i, n);
            *out = ivm_vec_assoc(h, coll, (uint64_t)i, v);
            return IVM_OK;
        }
        const ivm_str *s = ivm_as_str(coll);
        if (i < 0 || (uint64_t)i >= s->len)
            return ivm_core_raise_index(vm, i, s->len);
        if (!ivm_is_int(v) || ivm_int_value(v) < 0 || ivm_int_value(v) > 255)
            return ivm_raise_type(vm, "a byte must be an integer from 0 to 255", v);
        ivm_value copy = ivm_bytes(h, s->bytes, s->len);
        ivm_as_str(copy)->bytes[i] = (uint8_t)ivm_int_value(v);
        *out = copy;
        return IVM_OK;
    }
    return ivm_raise_type(vm, "assoc not supported on this type", coll);
}

bool ivm_core_is_native_fn(ivm_vm *vm, ivm_value f, ivm_native_fn fn)
{
    return ivm_is_native(f) && ivm_imm_payload(f) < vm->rt->nnatives &&
           vm->rt->natives[ivm_imm_payload(f)]->fn == fn;
}

/* ---- Builders ---------------------------------------------------------- */

void ivm_core_builder_vector(ivm_vm *vm, ivm_core_builder *b)
{
    b->kind = IVM_CORE_B_VEC;
    b->v = ivm_vec_transient(&vm->heap, ivm_vec_empty(&vm->heap), IVM_CORE_OWNER);
}

ivm_status ivm_core_builder_init(ivm_vm *vm, ivm_core_builder *b, ivm_value coll)
{
    ivm_heap *h = &vm->heap;
    if (coll == IVM_NIL || ivm_is_list(coll)) {
        b->kind = IVM_CORE_B_LIST;
        b->v = coll == IVM_NIL ? IVM_EMPTY_LIST : coll;
    } else if (ivm_is_vector(coll)) {
        b->kind = IVM_CORE_B_VEC;
        b->v = ivm_vec_transient(h, coll, IVM_CORE_OWNER);
    } else if (ivm_is_map(coll) || ivm_is_set(coll)) {
        b->kind = ivm_is_map(coll) ? IVM_CORE_B_MAP : IVM_CORE_B_SET;
        b->v = ivm_map_transient(h, coll, IVM_CORE_OWNER);
    } else {
        return ivm_raise_type(vm, "conj not supported on this type", coll);
    }
    return IVM_OK;
}

ivm_status ivm_core_builder_add(ivm_vm *vm, ivm_core_builder *b, ivm_value x)
{
    ivm_heap *h = &vm->heap;
    switch (b->kind) {
    case IVM_CORE_B_LIST: b->v = ivm_cons_new(h, x, b->v); return IVM_OK;
    case IVM_CORE_B_VEC: return ivm_core_transient_status(vm, ivm_tvec_conj(h, b->v, IVM_CORE_OWNER, x));
    case IVM_CORE_B_SET: return ivm_core_transient_status(vm, ivm_tset_conj(h, b->v, IVM_CORE_OWNER, x));
    default: break;
    }
    if (x == IVM_NIL)
        return IVM_OK;
    if (ivm_core_is_pair(x))
        return ivm_core_transient_status(
            vm, ivm_tmap_assoc(h, b->v, IVM_CORE_OWNER, ivm_vec_nth(x, 0), ivm_vec_nth(x, 1)));
    if (ivm_is_map(x)) {
        ivm_map_iter it;
        ivm_value k, v;
        ivm_map_iter_init(&it, x);
        while (ivm_map_iter_next(&it, &k, &v))
            CHECK(ivm_core_transient_status(vm, ivm_tmap_assoc(h, b->v, IVM_CORE_OWNER, k, v)));
        return IVM_OK;
    }
    return ivm_core_raise_with(vm, "Vector arg to map conj must be a pair, got: ", x);
}

ivm_value ivm_core_builder_finish(ivm_vm *vm, ivm_core_builder *b)
{
    ivm_value out = b->v;
    if (b->kind == IVM_CORE_B_VEC)
        ivm_tvec_persistent(&vm->heap, b->v, IVM_CORE_OWNER, &out);
    else if (b->kind != IVM_CORE_B_LIST)
        ivm_tmap_persistent(&vm->heap, b->v, IVM_CORE_OWNER, &out);
    return out;
}

ivm_status ivm_core_into(ivm_vm *vm, ivm_value to, ivm_value from, ivm_value *out)
{
    ivm_core_builder b;
    CHECK(ivm_core_builder_init(vm, &b, to));
    if (b.kind == IVM_CORE_B_MAP && ivm_is_map(from)) { /* no [k v] vectors on the way */
        CHECK(ivm_core_builder_add(vm, &b, from));
    } else {
        ivm_core_iter it;
        CHECK(ivm_core_iter_init(vm, &it, from));
        ivm_value x;
        while (ivm_core_iter_next(&vm->heap, &it, &x))
            CHECK(ivm_core_builder_add(vm, &b, x));
    }
    *out = ivm_core_builder_finish(vm, &b);
    if (to == IVM_NIL && *out == IVM_EMPTY_LIST) /* (into nil ()) is nil */
        *out = IVM_NIL;
    return IVM_OK;
}

/* ---- Calling ----------------------------------------------------------- */

ivm_status ivm_core_call(ivm_vm *vm, ivm_value f, uint32_t nargs,
                         const ivm_value *args, ivm_value *result)
{
    if (ivm_core_is_fn(f))
        return ivm_call(vm, f, nargs, args, result);
    bool lookup = ivm_is_kind(f, IVM_K_KEYWORD) || ivm_is_map(f) || ivm_is_set(f);
    if (lookup || ivm_is_vector(f)) {
        if (nargs < 1 || nargs > (lookup ? 2u : 1u))
            return ivm_raise_arity(vm, f, nargs);
        if (lookup) {
            bool found = ivm_is_kind(f, IVM_K_KEYWORD) ? ivm_core_get(vm, args[0], f, result)
                                                       : ivm_core_get(vm, f, args[0], result);
            if (!found)
                *result = nargs == 2 ? args[1] : IVM_NIL;
            return IVM_OK;
        }
        if (!ivm_is_int(args[0]))
            return ivm_core_raise_with(vm, "Key must be integer: ", args[0]);
        int64_t i = ivm_int_value(args[0]);
        if (i < 0 || (uint64_t)i >= ivm_vec_count(f))
            return ivm_core_raise_index(vm, i, ivm_vec_count(f));
        *result = ivm_vec_nth(f, (uint64_t)i);
        return IVM_OK;
    }
    return ivm_call(vm, f, nargs, args, result); /* raises "only functions ..." */
}

/* ---- compare ----------------------------------------------------------- */

static ivm_status incomparable(ivm_vm *vm, ivm_value a, ivm_value b)
{
    ivm_buf m = {0};
    ivm_buf_add_cstr(&m, "Cannot compare ");
    ivm_buf_add_cstr(&m, ivm_type_name(ivm_type_of(a)));
    ivm_buf_add_char(&m, ' ');
    ivm_core_add_short(vm, &m, a);
    ivm_buf_add_cstr(&m, " with ");
    ivm_buf_add_cstr(&m, ivm_type_name(ivm_type_of(b)));
    ivm_buf_add_char(&m, ' ');
    ivm_core_add_short(vm, &m, b);
    return ivm_raise_buf(vm, &m);
}

/* Java's String.compareTo over the UTF-16 code units of two UTF-8 texts. */
static int64_t compare_text(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    ivm_utf16_cursor x = {a, a + alen, 0}, y = {b, b + blen, 0};
    uint32_t ux, uy;
    for (;;) {
        bool hx = ivm_utf16_next(&x, &ux), hy = ivm_utf16_next(&y, &uy);
        if (!hx || !hy) {
            int64_t rest = 0;
            if (hx)
                for (rest = 1; ivm_utf16_next(&x, &ux);) rest++;
            if (hy)
                for (rest = -1; ivm_utf16_next(&y, &uy);) rest--;
            return rest;
        }
        if (ux != uy)
            return (int64_t)ux - (int64_t)uy;
    }
}

/* Symbol.compareTo: no namespace first, then namespaces, then names. */
static int64_t compare_named(const ivm_str *a, const ivm_str *b)
{
    uint32_t na = a->aux, nb = b->aux;
    if (na != 0 || nb != 0) {
        if (na == 0) return -1;
        if (nb == 0) return 1;
        int64_t c = compare_text(a->bytes, na, b->bytes, nb);
        if (c)
            return c;
    }
    size_t sa = na ? na + 1 : 0, sb = nb ? nb + 1 : 0;
    return compare_text(a->bytes + sa, a->len - sa, b->bytes + sb, b->len - sb);
}

/* Compares two values of which at most one is a vector. */
static ivm_status compare_leaf(ivm_vm *vm, ivm_value a, ivm_value b, int64_t *out)
{
    if (a == IVM_NIL || b == IVM_NIL) {
        *out = a == b ? 0 : a == IVM_NIL ? -1 : 1;
        return IVM_OK;
    }
    if (ivm_core_is_number(a) && ivm_core_is_number(b)) {
        if (ivm_is_int(a) && ivm_is_int(b)) {
            int64_t x = ivm_int_value(a), y = ivm_int_value(b);
            *out = x < y ? -1 : x > y;
        } else {
            double x = ivm_is_int(a) ? (double)ivm_int_value(a) : ivm_float_value(a);
            double y = ivm_is_int(b) ? (double)ivm_int_value(b) : ivm_float_value(b);
            *out = x < y ? -1 : x > y;
        }
        return IVM_OK;
    }
    ivm_type ta = ivm_type_of(a);
    if (ta != ivm_type_of(b))
        return incomparable(vm, a, b);
    switch (ta) {
    case IVM_T_STRING: {
        const ivm_str *x = ivm_as_str(a), *y = ivm_as_str(b);
        *out = compare_text(x->bytes, x->len, y->bytes, y->len);
        return IVM_OK;
    }
    case IVM_T_KEYWORD:
    case IVM_T_SYMBOL: *out = compare_named(ivm_as_str(a), ivm_as_str(b)); return IVM_OK;
    case IVM_T_BOOL: *out = a == b ? 0 : a == IVM_TRUE ? 1 : -1; return IVM_OK;
    case IVM_T_CHAR:
        *out = (int64_t)ivm_imm_payload(a) - (int64_t)ivm_imm_payload(b);
        return IVM_OK;
    default: return incomparable(vm, a, b);
    }
}

typedef struct cmp_frame { ivm_vec_iter a, b; } cmp_frame;

ivm_status ivm_core_compare(ivm_vm *vm, ivm_value a, ivm_value b, int64_t *out)
{
    if (!ivm_is_vector(a) || !ivm_is_vector(b))
        return compare_leaf(vm, a, b, out);
    /* Vectors, nested as deep as they go, without C recursion. */
    ivm_frame_stack s;
    ivm_frames_init(&s, sizeof(cmp_frame));
    ivm_status st = IVM_OK;
    *out = 0;
    for (;;) {
        if (ivm_is_vector(a) && ivm_is_vector(b)) {
            uint64_t na = ivm_vec_count(a), nb = ivm_vec_count(b);
            if (na != nb) {
                *out = na < nb ? -1 : 1;
                break;
            }
            cmp_frame *f = ivm_frames_push(&s);
            ivm_vec_iter_init(&f->a, a);
            ivm_vec_iter_init(&f->b, b);
        } else {
            st = compare_leaf(vm, a, b, out);
            if (st != IVM_OK || *out != 0)
                break;
        }
        /* the next pair of elements, closing finished vectors */
        bool more = false;
        while (s.len) {
            cmp_frame *f = ivm_frames_top(&s);
            if (ivm_vec_iter_next(&f->a, &a)) {
                ivm_vec_iter_next(&f->b, &b);
                more = true;
                break;
            }
            ivm_frames_pop(&s);
        }
        if (!more)
            break;
    }
    ivm_frames_free(&s);
    return st;
}

/* ---- Numbers ----------------------------------------------------------- */

static double num_double(ivm_value v)
{
    return ivm_is_int(v) ? (double)ivm_int_value(v) : ivm_float_value(v);
}

static ivm_status want_number(ivm_vm *vm, ivm_value v, const char *what)
{
    return ivm_core_is_number(v) ? IVM_OK : ivm_raise_type(vm, what, v);
}

static ivm_status want_int(ivm_vm *vm, ivm_value v, const char *what)
{
    return ivm_is_int(v) ? IVM_OK : ivm_raise_type(vm, what, v);
}

NATIVE(n_num_equal)
{
    bool holds = true;
    for (uint32_t i = 0; i < nargs; i++)
        CHECK(want_number(vm, args[i], "== expects numbers"));
    for (uint32_t i = 1; i < nargs && holds; i++) {
        ivm_value a = args[i - 1], b = args[i];
        if (ivm_is_int(a) && ivm_is_int(b))
            holds = ivm_int_value(a) == ivm_int_value(b);
        else
            holds = num_double(a) == num_double(b);
    }
    *result = ivm_bool(holds);
    return IVM_OK;
}

/* zero? pos? neg?: the sign of a number */
static ivm_status sign_test(ivm_vm *vm, ivm_value v, const char *what, int want,
                            ivm_value *result)
{
    CHECK(want_number(vm, v, what));
    int sign;
    if (ivm_is_int(v)) {
        int64_t i = ivm_int_value(v);
        sign = i < 0 ? -1 : i > 0;
    } else {
        double d = ivm_float_value(v);
        sign = d < 0 ? -1 : d > 0 ? 1 : d == 0 ? 0 : 2; /* NaN: none */
    }
    *result = ivm_bool(sign == want);
    return IVM_OK;
}

NATIVE(n_zero) { (void)nargs; return sign_test(vm, args[0], "zero? expects a number", 0, result); }
NATIVE(n_pos) { (void)nargs; return sign_test(vm, args[0], "pos? expects a number", 1, result); }
NATIVE(n_neg) { (void)nargs; return sign_test(vm, args[0], "neg? expects a number", -1, result); }

static ivm_status parity(ivm_vm *vm, ivm_value v, int want, ivm_value *result)
{
    if (!ivm_is_int(v))
        return ivm_core_raise_with(vm, "Argument must be an integer: ", v);
    *result = ivm_bool((ivm_int_value(v) & 1) == want);
    return IVM_OK;
}

NATIVE(n_even) { (void)nargs; return parity(vm, args[0], 0, result); }
NATIVE(n_odd) { (void)nargs; return parity(vm, args[0], 1, result); }

static bool is_nan(ivm_value v) { return ivm_is_float(v) && ivm_float_value(v) != ivm_float_value(v); }

/* Clojure's Numbers.max/min: NaN wins, and a tie goes to the later one. */
static ivm_status min_max(ivm_vm *vm, const ivm_value *args, uint32_t nargs,
                          bool max, ivm_value *result)
{
    const char *what = max ? "max expects numbers" : "min expects numbers";
    ivm_value best = args[0];
    CHECK(want_number(vm, best, what));
    for (uint32_t i = 1; i < nargs; i++) {
        ivm_value x = args[i];
        CHECK(want_number(vm, x, what));
        if (is_nan(best))
            continue;
        bool keep;
        if (is_nan(x))
            keep = false;
        else
            CHECK(max ? ivm_less(vm, x, best, false, &keep) : ivm_less(vm, best, x, false, &keep));
        if (!keep)
            best = x;
    }
    *result = best;
    return IVM_OK;
}

NATIVE(n_max) { return min_max(vm, args, nargs, true, result); }
NATIVE(n_min) { return min_max(vm, args, nargs, false, result); }

NATIVE(n_abs)
{
    (void)nargs;
    ivm_value v = args[0];
    CHECK(want_number(vm, v, "abs expects a number"));
    if (ivm_is_float(v)) {
        *result = ivm_float(&vm->heap, fabs(ivm_float_value(v)));
        return IVM_OK;
    }
    int64_t i = ivm_int_value(v);
    if (i == INT64_MIN)
        return ivm_raise(vm, "integer overflow");
    *result = ivm_int(&vm->heap, i < 0 ? -i : i);
    return IVM_OK;
}

enum { BIT_AND, BIT_OR, BIT_XOR };

static ivm_status bit_fold(ivm_vm *vm, const ivm_value *args, uint32_t nargs,
                           int op, ivm_value *result)
{
    uint64_t acc = 0;
    for (uint32_t i = 0; i < nargs; i++) {
        CHECK(want_int(vm, args[i], "bit operations expect integers"));
        uint64_t x = (uint64_t)ivm_int_value(args[i]);
        if (i == 0)
            acc = x;
        else
            acc = op == BIT_AND ? acc & x : op == BIT_OR ? acc | x : acc ^ x;
    }
    *result = ivm_int(&vm->heap, (int64_t)acc);
    return IVM_OK;
}

NATIVE(n_bit_and) { return bit_fold(vm, args, nargs, BIT_AND, result); }
NATIVE(n_bit_or) { return bit_fold(vm, args, nargs, BIT_OR, result); }
NATIVE(n_bit_xor) { return bit_fold(vm, args, nargs, BIT_XOR, result); }

NATIVE(n_bit_not)
{
    (void)nargs;
    CHECK(want_int(vm, args[0], "bit operations expect integers"));
    *result = ivm_int(&vm->heap, ~ivm_int_value(args[0]));
    return IVM_OK;
}

/* Java's long shifts: the distance is taken modulo 64. */
enum { SHIFT_LEFT, SHIFT_RIGHT, SHIFT_URIGHT };

static ivm_status shift(ivm_vm *vm, const ivm_value *args, int kind, ivm_value *result)
{
    CHECK(want_int(vm, args[0], "bit operations expect integers"));
    CHECK(want_int(vm, args[1], "bit operations expect integers"));
    uint64_t x = (uint64_t)ivm_int_value(args[0]);
    unsigned n = (unsigned)(ivm_int_value(args[1]) & 63);
    int64_t r;
    if (kind == SHIFT_LEFT)
        r = (int64_t)(x << n);
    else if (kind == SHIFT_URIGHT)
        r = (int64_t)(x >> n);
    else
        r = ivm_int_value(args[0]) >> n;
    *result = ivm_int(&vm->heap, r);
    return IVM_OK;
}

NATIVE(n_shl) { (void)nargs; return shift(vm, args, SHIFT_LEFT, result); }
NATIVE(n_shr) { (void)nargs; return shift(vm, args, SHIFT_RIGHT, result); }
NATIVE(n_ushr) { (void)nargs; return shift(vm, args, SHIFT_URIGHT, result); }

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* Long.valueOf: [+-]?[0-9]+ within 64 bits, or nil. */
NATIVE(n_parse_long)
{
    (void)nargs;
    if (!ivm_core_is_string(args[0]))
        return ivm_raise_type(vm, "Expected string", args[0]);
    const ivm_str *s = ivm_as_str(args[0]);
    size_t i = 0;
    bool neg = false;
    *result = IVM_NIL;
    if (i < s->len && (s->bytes[i] == '+' || s->bytes[i] == '-'))
        neg = s->bytes[i++] == '-';
    if (i == s->len)
        return IVM_OK;
    int64_t acc = 0; /* negative, so that INT64_MIN fits */
    for (; i < s->len; i++) {
        if (!is_digit(s->bytes[i]))
            return IVM_OK;
        if (__builtin_mul_overflow(acc, 10, &acc) ||
            __builtin_sub_overflow(acc, s->bytes[i] - '0', &acc))
            return IVM_OK;
    }
    if (!neg && acc == INT64_MIN)
        return IVM_OK;
    *result = ivm_int(&vm->heap, neg ? acc : -acc);
    return IVM_OK;
}

/* Double.valueOf's decimal syntax: surrounding characters <= ' ' ignored,
 * [+-]? then NaN, Infinity, or digits with an optional point (at least one
 * digit in all), an optional exponent and an optional [fFdD] suffix.
 * Hexadecimal floats are not read (nil). */
NATIVE(n_parse_double)
{
    (void)nargs;
    if (!ivm_core_is_string(args[0]))
        return ivm_raise_type(vm, "Expected string", args[0]);
    const ivm_str *str = ivm_as_str(args[0]);
    const uint8_t *s = str->bytes;
    size_t i = 0, n = str->len;
    *result = IVM_NIL;
    while (i < n && s[i] <= ' ')
        i++;
    while (n > i && s[n - 1] <= ' ')
        n--;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (n - i == 3 && memcmp(s + i, "NaN", 3) == 0) {
        *result = ivm_float(&vm->heap, NAN);
        return IVM_OK;
    }
    if (n - i == 8 && memcmp(s + i, "Infinity", 8) == 0) {
        *result = ivm_float(&vm->heap, neg ? -INFINITY : INFINITY);
        return IVM_OK;
    }
    if (n > i && (s[n - 1] == 'f' || s[n - 1] == 'F' || s[n - 1] == 'd' || s[n - 1] == 'D'))
        n--;
    size_t int_start = i;
    while (i < n && is_digit(s[i]))
        i++;
    size_t int_end = i, frac_start = i, frac_end = i;
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && is_digit(s[i]))
            i++;
        frac_end = i;
    }
    if (int_end == int_start && frac_end == frac_start)
        return IVM_OK;
    size_t exp_start = i;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t digits = i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == digits)
            return IVM_OK;
    }
    if (i != n)
        return IVM_OK;
    /* the platform reads [+-]?D+(.D+)?([eE][+-]?D+)? */
    ivm_buf t = {0};
    if (neg)
        ivm_buf_add_char(&t, '-');
    if (int_end > int_start)
        ivm_buf_add(&t, s + int_start, int_end - int_start);
    else
        ivm_buf_add_char(&t, '0');
    if (frac_end > frac_start) {
        ivm_buf_add_char(&t, '.');
        ivm_buf_add(&t, s + frac_start, frac_end - frac_start);
    }
    ivm_buf_add(&t, s + exp_start, n - exp_start);
    double d;
    bool ok = ivm_platform_parse_double(t.data, t.len, &d);
    ivm_buf_free(&t);
    if (ok)
        *result = ivm_float(&vm->heap, d);
    return IVM_OK;
}

NATIVE(n_nano_time)
{
    (void)args;
    (void)nargs;
    *result = ivm_int(&vm->heap, (int64_t)ivm_platform_now_ns());
    return IVM_OK;
}

NATIVE(n_compare)
{
    (void)nargs;
    int64_t c;
    CHECK(ivm_core_compare(vm, args[0], args[1], &c));
    *result = ivm_int(&vm->heap, c);
    return IVM_OK;
}

/* (long x) and (int x): integers from numbers (truncating toward zero) and
 * characters, as Clojure's RT.longCast and RT.intCast: a float beyond the
 * range is an error, except that NaN is 0 and 2^63 (the double nearest
 * Long.MAX_VALUE) saturates; int's range is 32 bits. */
static ivm_status to_integer(ivm_vm *vm, ivm_value v, bool is_int, ivm_value *result)
{
    const char *range = is_int ? "Value out of range for int: " : "Value out of range for long: ";
    double lo = is_int ? -2147483648.0 : -9223372036854775808.0;
    double hi = is_int ? 2147483647.0 : 9223372036854775808.0;
    if (ivm_is_int(v)) {
        int64_t i = ivm_int_value(v);
        if (is_int && (i < INT32_MIN || i > INT32_MAX))
            return ivm_core_raise_with(vm, range, v);
        *result = v;
    } else if (ivm_type_of(v) == IVM_T_CHAR) {
        *result = ivm_fixnum(ivm_imm_payload(v));
    } else if (ivm_is_float(v)) {
        double d = ivm_float_value(v);
        if (d < lo || d > hi)
            return ivm_core_raise_with(vm, range, v);
        *result = ivm_int(&vm->heap, d != d ? 0 : d >= 9223372036854775807.0 ? INT64_MAX : (int64_t)d);
    } else {
        return ivm_raise_type(vm, "cannot convert to an integer", v);
    }
    return IVM_OK;
}

NATIVE(n_long) { (void)nargs; return to_integer(vm, args[0], false, result); }
NATIVE(n_int) { (void)nargs; return to_integer(vm, args[0], true, result); }

NATIVE(n_double)
{
    (void)nargs;
    CHECK(want_number(vm, args[0], "cannot convert to a float"));
    *result = ivm_float(&vm->heap, num_double(args[0]));
    return IVM_OK;
}

/* (char x): a character, or the code point x (a float is truncated, as
 * Clojure's RT.charCast does). Characters are code points, so x may go
 * past Clojure's \uffff up to U+10FFFF, but not be a surrogate. */
NATIVE(n_char)
{
    (void)nargs;
    ivm_value v = args[0];
    if (ivm_type_of(v) == IVM_T_CHAR) {
        *result = v;
        return IVM_OK;
    }
    int64_t c;
    if (ivm_is_int(v)) {
        c = ivm_int_value(v);
    } else if (ivm_is_float(v)) {
        double d = ivm_float_value(v);
        c = d != d ? 0 : d > -1 && d < 1114112.0 ? (int64_t)d : -1;
    } else {
        return ivm_raise_type(vm, "cannot convert to a character", v);
    }
    if (c < 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return ivm_core_raise_with(vm, "Value out of range for char: ", v);
    *result = ivm_char((uint32_t)c);
    return IVM_OK;
}

NATIVE(n_boolean) { (void)vm; (void)nargs; *result = ivm_bool(ivm_truthy(args[0])); return IVM_OK; }

/* ---- Random numbers ----------------------------------------------------- */

/* One generator for the whole OS process: rand promises no particular
 * sequence, so schedulers on several threads share it through one atomic
 * counter (SplitMix64: each call takes the next step of a Weyl sequence
 * and scrambles it), seeded once from the clock. */
static uint64_t rand_counter, rand_seed;

static uint64_t rand_u64(void)
{
    uint64_t seed = __atomic_load_n(&rand_seed, __ATOMIC_RELAXED);
    if (!seed) {
        uint64_t want = ivm_platform_now_ns() | 1, none = 0;
        __atomic_compare_exchange_n(&rand_seed, &none, want, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED);
        seed = __atomic_load_n(&rand_seed, __ATOMIC_RELAXED);
    }
    uint64_t z = seed + __atomic_add_fetch(&rand_counter, 0x9e3779b97f4a7c15u, __ATOMIC_RELAXED);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), as Math.random. */
static double rand_double(void) { return (double)(rand_u64() >> 11) * 0x1.0p-53; }

/* (rand) (rand n): a float in [0, n), n defaulting to 1. */
NATIVE(n_rand)
{
    double n = 1;
    if (nargs == 1) {
        CHECK(want_number(vm, args[0], "rand expects a number"));
        n = num_double(args[0]);
    }
    *result = ivm_float(&vm->heap, n * rand_double());
    return IVM_OK;
}

/* (rand-int n): (int (rand n)), an integer between 0 (inclusive) and n. */
NATIVE(n_rand_int)
{
    (void)nargs;
    CHECK(want_number(vm, args[0], "rand-int expects a number"));
    double d = num_double(args[0]) * rand_double();
    if (!(d > -9223372036854775808.0 && d < 9223372036854775808.0))
        return ivm_core_raise_with(vm, "Value out of range for long: ", ivm_float(&vm->heap, d));
    *result = ivm_int(&vm->heap, (int64_t)d);
    return IVM_OK;
}

/* (shuffle coll): a vector of coll's elements in a random order. coll is
 * a list, vector or set (a java.util.Collection in Clojure: not a map,
 * string or nil). */
NATIVE(n_shuffle)
{
    (void)nargs;
    ivm_value coll = args[0];
    if (!(ivm_is_list(coll) || ivm_is_vector(coll) || ivm_is_set(coll)))
        return ivm_raise_type(vm, "shuffle expects a list, vector or set", coll);
    ivm_worklist w;
    ivm_worklist_init(&w);
    ivm_status st = ivm_core_collect(vm, coll, &w);
    if (st == IVM_OK) {
        for (size_t i = w.len; i > 1; i--) { /* Fisher-Yates */
            size_t j = (size_t)(((unsigned __int128)rand_u64() * i) >> 64);
            ivm_value t = w.items[i - 1];
            w.items[i - 1] = w.items[j];
            w.items[j] = t;
        }
        *result = ivm_vec_from(&vm->heap, w.items, w.len);
    }
    ivm_worklist_free(&w);
    return st;
}

/* ---- Java's exceptions -------------------------------------------------- */

/* (Exception. msg), (RuntimeException. msg), ... and (Exception. msg
 * cause): the constructors Clojure programs call most, as natives bound
 * under those names (the reader reads "Exception." as a symbol). Each
 * makes ex-info's value with nil data, so ex-message, ex-data and
 * ex-cause read it and every catch clause catches it. The class is not
 * kept: ivm has no classes, and (catch C e ...) catches everything. */
NATIVE(n_exception_new)
{
    ivm_value msg = nargs > 0 ? args[0] : IVM_NIL, cause = nargs > 1 ? args[1] : IVM_NIL;
    if (msg != IVM_NIL && !ivm_core_is_string(msg))
        return ivm_raise_type(vm, "an exception's message must be a string or nil", msg);
    *result = ivm_exception_new(&vm->heap, msg, IVM_NIL, cause);
    return IVM_OK;
}

/* (.getMessage e): the message of an exception or ex-info, or the text
 * of an error ivm raised itself (a string). */
NATIVE(n_get_message)
{
    (void)nargs;
    ivm_value e = args[0];
    if (ivm_is_kind(e, IVM_K_EXCEPTION))
        *result = ivm_as_exception(e)->message;
    else if (ivm_core_is_string(e))
        *result = e;
    else
        return ivm_raise_type(vm, ".getMessage expects an exception", e);
    return IVM_OK;
}

NATIVE(n_get_cause)
{
    (void)nargs;
    ivm_value e = args[0];
    if (ivm_is_kind(e, IVM_K_EXCEPTION))
        *result = ivm_as_exception(e)->cause;
    else if (ivm_core_is_string(e))
        *result = IVM_NIL;
    else
        return ivm_raise_type(vm, ".getCause expects an exception", e);
    return IVM_OK;
}

/* ---- Predicates -------------------------------------------------------- */

#define PREDICATE(cname, test)                                                 \
    NATIVE(cname)                                                              \
    {                                                                          \
        (void)vm;                                                              \
        (void)nargs;                                                           \
        ivm_value v = args[0];                                                 \
        *result = ivm_bool(test);                                              \
        return IVM_OK;                                                         \
    }

PREDICATE(n_some_p, v != IVM_NIL)
PREDICATE(n_true_p, v == IVM_TRUE)
PREDICATE(n_false_p, v == IVM_FALSE)
PREDICATE(n_number_p, ivm_core_is_number(v))
PREDICATE(n_integer_p, ivm_is_int(v))
PREDICATE(n_float_p, ivm_is_float(v))
PREDICATE(n_string_p, ivm_core_is_string(v))
PREDICATE(n_keyword_p, ivm_is_kind(v, IVM_K_KEYWORD))
PREDICATE(n_symbol_p, ivm_is_kind(v, IVM_K_SYMBOL))
PREDICATE(n_vector_p, ivm_is_vector(v))
PREDICATE(n_map_p, ivm_is_map(v))
PREDICATE(n_set_p, ivm_is_set(v))
PREDICATE(n_list_p, ivm_is_list(v))
PREDICATE(n_seq_p, ivm_is_list(v) || ivm_is_lazy(v))
PREDICATE(n_fn_p, ivm_core_is_fn(v))
PREDICATE(n_coll_p, ivm_walk_kind_of(v) != IVM_WALK_LEAF)
PREDICATE(n_sequential_p, ivm_is_sequential(ivm_walk_kind_of(v)))
PREDICATE(n_associative_p, ivm_is_map(v) || ivm_is_vector(v))
PREDICATE(n_boolean_p, v == IVM_TRUE || v == IVM_FALSE)
PREDICATE(n_char_p, ivm_type_of(v) == IVM_T_CHAR)
PREDICATE(n_bytes_p, ivm_is_kind(v, IVM_K_BYTES))
PREDICATE(n_nat_int_p, ivm_is_int(v) && ivm_int_value(v) >= 0)
PREDICATE(n_pos_int_p, ivm_is_int(v) && ivm_int_value(v) > 0)
PREDICATE(n_neg_int_p, ivm_is_int(v) && ivm_int_value(v) < 0)

NATIVE(n_nan_p)
{
    (void)nargs;
    CHECK(want_number(vm, args[0], "NaN? expects a number"));
    *result = ivm_bool(is_nan(args[0]));
    return IVM_OK;
}

NATIVE(n_infinite_p)
{
    (void)nargs;
    CHECK(want_number(vm, args[0], "infinite? expects a number"));
    *result = ivm_bool(ivm_is_float(args[0]) && isinf(ivm_float_value(args[0])));
    return IVM_OK;
}

/* (empty? x): nothing to seq over; strings and bytes count too. */
NATIVE(n_empty_p)
{
    (void)nargs;
    if (ivm_is_lazy(args[0])) { /* only its first node: it may be infinite */
        CHECK(ivm_lazy_realize(vm, args[0]));
        *result = ivm_bool(ivm_as_lazy(args[0])->rest == IVM_UNBOUND);
        return IVM_OK;
    }
    uint64_t n;
    CHECK(ivm_core_seq_count(vm, args[0], &n));
    *result = ivm_bool(n == 0);
    return IVM_OK;
}

/* Whether a and b are one value: the same immediate or the same object.
 * While the concurrent collector evacuates, one may be the other's copy:
 * compared through forwarding (gc.h). */
NATIVE(n_identical_p)
{
    (void)nargs;
    *result = ivm_bool(ivm_vm_forward(vm, args[0]) == ivm_vm_forward(vm, args[1]));
    return IVM_OK;
}

const ivm_native_def ivm_core_num_natives[] = {
    {"identical?", n_identical_p, 2, 2},
    {"==", n_num_equal, 1, ANY},
    {"zero?", n_zero, 1, 1},
    {"pos?", n_pos, 1, 1},
    {"neg?", n_neg, 1, 1},
    {"even?", n_even, 1, 1},
    {"odd?", n_odd, 1, 1},
    {"max", n_max, 1, ANY},
    {"min", n_min, 1, ANY},
    {"abs", n_abs, 1, 1},
    {"bit-and", n_bit_and, 2, ANY},
    {"bit-or", n_bit_or, 2, ANY},
    {"bit-xor", n_bit_xor, 2, ANY},
    {"bit-not", n_bit_not, 1, 1},
    {"bit-shift-left", n_shl, 2, 2},
    {"bit-shift-right", n_shr, 2, 2},
    {"unsigned-bit-shift-right", n_ushr, 2, 2},
    {"parse-long", n_parse_long, 1, 1},
    {"parse-double", n_parse_double, 1, 1},
    {"nano-time", n_nano_time, 0, 0},
    {"compare", n_compare, 2, 2},
    {"int", n_int, 1, 1},
    {"long", n_long, 1, 1},
    {"double", n_double, 1, 1},
    {"char", n_char, 1, 1},
    {"boolean", n_boolean, 1, 1},
    {"some?", n_some_p, 1, 1},
    {"true?", n_true_p, 1, 1},
    {"false?", n_false_p, 1, 1},
    {"number?", n_number_p, 1, 1},
    {"integer?", n_integer_p, 1, 1},
    {"int?", n_integer_p, 1, 1},
    {"float?", n_float_p, 1, 1},
    {"double?", n_float_p, 1, 1},
    {"string?", n_string_p, 1, 1},
    {"keyword?", n_keyword_p, 1, 1},
    {"symbol?", n_symbol_p, 1, 1},
    {"vector?", n_vector_p, 1, 1},
    {"map?", n_map_p, 1, 1},
    {"set?", n_set_p, 1, 1},
    {"list?", n_list_p, 1, 1},
    {"seq?", n_seq_p, 1, 1},
    {"fn?", n_fn_p, 1, 1},
    {"coll?", n_coll_p, 1, 1},
    {"sequential?", n_sequential_p, 1, 1},
    {"associative?", n_associative_p, 1, 1},
    {"boolean?", n_boolean_p, 1, 1},
    {"char?", n_char_p, 1, 1},
    {"bytes?", n_bytes_p, 1, 1},
    {"nat-int?", n_nat_int_p, 1, 1},
    {"pos-int?", n_pos_int_p, 1, 1},
    {"neg-int?", n_neg_int_p, 1, 1},
    {"NaN?", n_nan_p, 1, 1},
    {"infinite?", n_infinite_p, 1, 1},
    {"empty?", n_empty_p, 1, 1},
    {"rand", n_rand, 0, 1},
    {"rand-int", n_rand_int, 1, 1},
    {"shuffle", n_shuffle, 1, 1},
    {"Throwable.", n_exception_new, 0, 2},
    {"Exception.", n_exception_new, 0, 2},
    {"RuntimeException.", n_exception_new, 0, 2},
    {"IllegalArgumentException.", n_exception_new, 0, 2},
    {"IllegalStateException.", n_exception_new, 0, 2},
    {"ArithmeticException.", n_exception_new, 0, 1},
    {"UnsupportedOperationException.", n_exception_new, 0, 2},
    {"IndexOutOfBoundsException.", n_exception_new, 0, 1},
    {"NullPointerException.", n_exception_new, 0, 1},
    {"ClassCastException.", n_exception_new, 0, 1},
    {"NumberFormatException.", n_exception_new, 0, 1},
    {"Error.", n_exception_new, 0, 2},
    {".getMessage", n_get_message, 1, 1},
    {".getCause", n_get_cause, 1, 1},
};
const uint32_t ivm_core_num_native_count = sizeof ivm_core_num_natives / sizeof ivm_core_num_natives[0];
