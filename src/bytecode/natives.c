/* The native functions every program starts with, bound as globals under
 * Clojure's names: output, lists, equality, hashing and numbers. The
 * language issue's core library grows from here. */
#include "bytecode/vm.h"
#include "ivm/opcodes.h"
#include "ivm/platform.h"
#include "values/map.h"
#include "values/regex.h"

#define NATIVE(name)                                                           \
    static ivm_status name(ivm_vm *vm, const ivm_value *args, uint32_t nargs, \
                           ivm_value *result)

/* ---- Output ------------------------------------------------------------ */

static ivm_status print_args(ivm_vm *vm, const ivm_value *args, uint32_t nargs,
                             bool readably, bool newline, ivm_value *result)
{
    ivm_buf *out = &vm->out;
    size_t mark = out->len;
    for (uint32_t i = 0; i < nargs; i++) {
        if (i)
            ivm_buf_add_char(out, ' ');
        ivm_print(&vm->heap, out, args[i], readably);
    }
    if (vm->force_status != IVM_OK) { /* a lazy sequence failed: print nothing */
        if (out->len >= mark)
            out->len = mark;
        return IVM_OK; /* call_native reports it */
    }
    if (newline)
        ivm_buf_add_char(out, '\n');
    ivm_vm_write(vm, "", 0); /* flushes when the buffer is full */
    *result = IVM_NIL;
    return IVM_OK;
}

NATIVE(n_print) { return print_args(vm, args, nargs, false, false, result); }
NATIVE(n_println) { return print_args(vm, args, nargs, false, true, result); }
NATIVE(n_pr) { return print_args(vm, args, nargs, true, false, result); }
NATIVE(n_prn) { return print_args(vm, args, nargs, true, true, result); }

void ivm_add_str(ivm_vm *vm, ivm_buf *b, ivm_value v)
{
    if (v == IVM_NIL)
        return;
    if (ivm_is_float(v))
        ivm_buf_add_float(b, ivm_float_value(v));
    else if (ivm_is_regex(v))
        ivm_buf_add(b, ivm_regex_pattern(v)->bytes, ivm_regex_pattern(v)->len);
    else
        ivm_print(&vm->heap, b, v,
                  !(ivm_is_kind(v, IVM_K_STRING) || ivm_type_of(v) == IVM_T_CHAR));
}

static ivm_value buf_to_string(ivm_vm *vm, ivm_buf *b)
{
    ivm_value s = ivm_string(&vm->heap, b->data ? b->data : "", b->len);
    ivm_buf_free(b);
    return s;
}

NATIVE(n_str)
{
    ivm_buf b = {0};
    for (uint32_t i = 0; i < nargs; i++)
        ivm_add_str(vm, &b, args[i]);
    *result = buf_to_string(vm, &b);
    return IVM_OK;
}

NATIVE(n_pr_str)
{
    ivm_buf b = {0};
    for (uint32_t i = 0; i < nargs; i++) {
        if (i)
            ivm_buf_add_char(&b, ' ');
        ivm_print(&vm->heap, &b, args[i], true);
    }
    *result = buf_to_string(vm, &b);
    return IVM_OK;
}

/* ---- Lists ------------------------------------------------------------- */

NATIVE(n_list)
{
    ivm_value list = IVM_EMPTY_LIST;
    for (uint32_t i = nargs; i-- > 0;)
        list = ivm_cons_new(&vm->heap, args[i], list);
    *result = list;
    return IVM_OK;
}

static ivm_status as_list(ivm_vm *vm, ivm_value v, ivm_value *list)
{
    if (v == IVM_NIL) {
        *list = IVM_EMPTY_LIST;
        return IVM_OK;
    }
    if (!ivm_is_list(v))
        return ivm_raise_type(vm, "expected a list or nil", v);
    *list = v;
    return IVM_OK;
}

NATIVE(n_cons)
{
    (void)nargs;
    ivm_value rest = IVM_NIL;
    if (as_list(vm, args[1], &rest) != IVM_OK)
        return IVM_ERROR;
    *result = ivm_cons_new(&vm->heap, args[0], rest);
    return IVM_OK;
}

NATIVE(n_first)
{
    (void)nargs;
    ivm_value list = IVM_NIL;
    if (as_list(vm, args[0], &list) != IVM_OK)
        return IVM_ERROR;
    *result = list == IVM_EMPTY_LIST ? IVM_NIL : ivm_as_cons(list)->first;
    return IVM_OK;
}

NATIVE(n_rest)
{
    (void)nargs;
    ivm_value list = IVM_NIL;
    if (as_list(vm, args[0], &list) != IVM_OK)
        return IVM_ERROR;
    *result = list == IVM_EMPTY_LIST ? IVM_EMPTY_LIST : ivm_as_cons(list)->rest;
    return IVM_OK;
}

NATIVE(n_count)
{
    (void)nargs;
    ivm_value v = args[0];
    uint64_t n;
    if (v == IVM_NIL)
        n = 0;
    else if (ivm_is_list(v))
        n = ivm_list_count(v);
    else if (ivm_is_kind(v, IVM_K_STRING))
        n = ivm_as_str(v)->aux;
    else if (ivm_is_kind(v, IVM_K_BYTES))
        n = ivm_as_str(v)->len;
    else
        return ivm_raise_type(vm, "count not supported on this type", v);
    *result = ivm_int(&vm->heap, (int64_t)n);
    return IVM_OK;
}

/* ---- Equality and identity --------------------------------------------- */

NATIVE(n_equal)
{
    for (uint32_t i = 1; i < nargs; i++)
        if (!ivm_equal(args[0], args[i])) {
            *result = IVM_FALSE;
            return IVM_OK;
        }
    (void)vm;
    *result = IVM_TRUE;
    return IVM_OK;
}

NATIVE(n_not_equal)
{
    n_equal(vm, args, nargs, result);
    *result = ivm_bool(*result == IVM_FALSE);
    return IVM_OK;
}

NATIVE(n_hash)
{
    (void)nargs;
    *result = ivm_fixnum((int32_t)ivm_hash(args[0]));
    (void)vm;
    return IVM_OK;
}

NATIVE(n_identity) { (void)vm; (void)nargs; *result = args[0]; return IVM_OK; }
NATIVE(n_is_nil) { (void)vm; (void)nargs; *result = ivm_bool(args[0] == IVM_NIL); return IVM_OK; }
NATIVE(n_not) { (void)vm; (void)nargs; *result = ivm_bool(!ivm_truthy(args[0])); return IVM_OK; }

/* ---- Numbers ----------------------------------------------------------- */

/* (+ a b c) folds left; (+) and (*) give their identity, (- a) negates and
 * (/ a) inverts, as in Clojure. */
static ivm_status fold(ivm_vm *vm, unsigned op, const ivm_value *args,
                       uint32_t nargs, ivm_value *result)
{
    if (nargs == 2) /* the common case, as in (reduce + xs) */
        return ivm_arith(vm, op, args[0], args[1], result);
    if (nargs == 0) {
        *result = ivm_fixnum(op == IVM_OP_MUL);
        return IVM_OK;
    }
    ivm_value acc = args[0];
    uint32_t i = 1;
    if (nargs == 1) {
        if (op == IVM_OP_SUB || op == IVM_OP_DIV) {
            acc = ivm_fixnum(op == IVM_OP_DIV);
            i = 0;
        } else {
            return ivm_arith(vm, op, acc, ivm_fixnum(op == IVM_OP_MUL), result);
        }
    }
    for (; i < nargs; i++)
        if (ivm_arith(vm, op, acc, args[i], &acc) != IVM_OK)
            return IVM_ERROR;
    *result = acc;
    return IVM_OK;
}

NATIVE(n_add) { return fold(vm, IVM_OP_ADD, args, nargs, result); }
NATIVE(n_sub) { return fold(vm, IVM_OP_SUB, args, nargs, result); }
NATIVE(n_mul) { return fold(vm, IVM_OP_MUL, args, nargs, result); }
NATIVE(n_div) { return fold(vm, IVM_OP_DIV, args, nargs, result); }
NATIVE(n_quot) { (void)nargs; return ivm_arith(vm, IVM_OP_QUOT, args[0], args[1], result); }
NATIVE(n_rem) { (void)nargs; return ivm_arith(vm, IVM_OP_REM, args[0], args[1], result); }
NATIVE(n_mod) { (void)nargs; return ivm_arith(vm, IVM_OP_MOD, args[0], args[1], result); }
NATIVE(n_inc) { (void)nargs; return ivm_arith(vm, IVM_OP_ADD, args[0], ivm_fixnum(1), result); }
NATIVE(n_dec) { (void)nargs; return ivm_arith(vm, IVM_OP_SUB, args[0], ivm_fixnum(1), result); }

/* (< a b c) holds when every neighbouring pair does; a single argument
 * must still be a number. */
static ivm_status chain(ivm_vm *vm, const ivm_value *args, uint32_t nargs,
                        bool swap, bool or_equal, ivm_value *result)
{
    bool holds = true, r;
    if (nargs == 1 && ivm_less(vm, args[0], args[0], true, &r) != IVM_OK)
        return IVM_ERROR;
    for (uint32_t i = 1; i < nargs; i++) {
        ivm_value x = swap ? args[i] : args[i - 1], y = swap ? args[i - 1] : args[i];
        if (ivm_less(vm, x, y, or_equal, &r) != IVM_OK)
            return IVM_ERROR;
        holds = holds && r;
    }
    *result = ivm_bool(holds);
    return IVM_OK;
}

NATIVE(n_lt) { return chain(vm, args, nargs, false, false, result); }
NATIVE(n_le) { return chain(vm, args, nargs, false, true, result); }
NATIVE(n_gt) { return chain(vm, args, nargs, true, false, result); }
NATIVE(n_ge) { return chain(vm, args, nargs, true, true, result); }

#define ANY UINT32_MAX
/* ---- The collector, from programs ------------------------------------- */

/* (ivm/gc): a collection runs as soon as this native returns (natives
 * cannot collect: the interpreter does, at the safepoint after a call),
 * and gives the host back every free region beyond the minimum budget.
 * It is a full one, with the world stopped, under either collector: it
 * compacts as far as it can, once the concurrent cycle under way ends. */
static ivm_status n_gc(ivm_vm *vm, const ivm_value *args, uint32_t nargs, ivm_value *result)
{
    (void)args, (void)nargs;
    __atomic_store_n(&vm->rt->gc_full, true, __ATOMIC_RELAXED);
    ivm_arena_request_collection(vm->heap.arena);
    vm->rt->gc.release_memory = true;
    *result = IVM_NIL;
    return IVM_OK;
}

/* (ivm/memory): a map of what the heap and the process hold, in bytes. */
static ivm_status n_memory(ivm_vm *vm, const ivm_value *args, uint32_t nargs, ivm_value *result)
{
    (void)args, (void)nargs;
    ivm_heap *h = &vm->heap;
    const ivm_arena *a = h->arena;
    const ivm_gc_stats *s = &vm->rt->gc.stats;
    struct { const char *key; uint64_t value; } rows[] = {
        {"resident", ivm_platform_resident_bytes()},
        {"heap-in-use", (uint64_t)a->regions_in_use * IVM_REGION_SIZE},
        {"heap-high-water", (uint64_t)a->regions_high_water * IVM_REGION_SIZE},
        {"live-after-last-gc", s->live_bytes},
        {"allocated", a->bytes_allocated},
        {"collections", s->collections + s->cycles},
    };
    ivm_value m = ivm_map_empty(h);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        m = ivm_map_assoc(h, m, ivm_keyword(h, rows[i].key, ivm_cstr_len(rows[i].key)),
                          ivm_int(h, (int64_t)rows[i].value));
    *result = m;
    return IVM_OK;
}

const ivm_native_def ivm_base_natives[] = {
    {"print", n_print, 0, ANY},   {"println", n_println, 0, ANY},
    {"pr", n_pr, 0, ANY},         {"prn", n_prn, 0, ANY},
    {"str", n_str, 0, ANY},       {"pr-str", n_pr_str, 0, ANY},
    {"list", n_list, 0, ANY},     {"cons", n_cons, 2, 2},
    {"first", n_first, 1, 1},     {"rest", n_rest, 1, 1},
    {"count", n_count, 1, 1},     {"=", n_equal, 1, ANY},
    {"not=", n_not_equal, 1, ANY}, {"hash", n_hash, 1, 1},
    {"identity", n_identity, 1, 1}, {"nil?", n_is_nil, 1, 1},
    {"not", n_not, 1, 1},         {"+", n_add, 0, ANY},
    {"-", n_sub, 1, ANY},         {"*", n_mul, 0, ANY},
    {"/", n_div, 1, ANY},         {"quot", n_quot, 2, 2},
    {"rem", n_rem, 2, 2},         {"mod", n_mod, 2, 2},
    {"inc", n_inc, 1, 1},         {"dec", n_dec, 1, 1},
    {"<", n_lt, 1, ANY},          {"<=", n_le, 1, ANY},
    {">", n_gt, 1, ANY},          {">=", n_ge, 1, ANY},
    {"ivm/gc", n_gc, 0, 0},       {"ivm/memory", n_memory, 0, 0},
};
const uint32_t ivm_base_native_count = sizeof ivm_base_natives / sizeof ivm_base_natives[0];
