/* The core library's sequence functions: reduce, map, filter, range,
 * apply, sort, take, partition and the rest, and lazy sequences' own
 * (lazy-seq, realized?).
 *
 * Over finite collections all are eager: what Clojure returns as a lazy
 * seq is returned here as a complete list (mapv and filterv give vectors,
 * built in place through a transient); it prints and compares the same.
 * Given a lazy sequence (which may be infinite), map, filter, concat and
 * the others that make a sequence from a sequence give a lazy sequence:
 * the prelude's ivm.lazy/ version (LAZY_FROM). Those that stop early
 * (take, first, nth, some, take-while's lazy version...) realize only what
 * they look at; the rest (count, reduce, into, sort...) realize it all. */
#include "compiler/core_internal.h"
#include "ivm/opcodes.h"

/* ---- Helpers ----------------------------------------------------------- */

/* (ivm.core/lazy-seq* thunk): what (lazy-seq body...) compiles to, thunk
 * being (fn [] body...). */
NATIVE(n_lazy_seq)
{
    (void)nargs;
    if (!ivm_core_is_fn(args[0]))
        return ivm_raise_type(vm, "lazy-seq needs a function", args[0]);
    *result = ivm_lazy_new(&vm->heap, args[0]);
    return IVM_OK;
}

/* What for's expansion asks of its first sequence (expand.c). */
NATIVE(n_lazy_p)
{
    (void)vm, (void)nargs;
    *result = ivm_bool(ivm_is_lazy(args[0]));
    return IVM_OK;
}

NATIVE(n_realized_p)
{
    (void)nargs;
    if (!ivm_is_lazy(args[0]))
        return ivm_raise_type(vm, "realized? takes a lazy sequence", args[0]);
    *result = ivm_bool(ivm_lazy_realized(args[0]));
    return IVM_OK;
}

static ivm_status count_arg(ivm_vm *vm, ivm_value v, int64_t *out)
{
    if (!ivm_is_int(v))
        return ivm_raise_type(vm, "a count must be an integer", v);
    *out = ivm_int_value(v);
    return IVM_OK;
}

/* Calls pred on x; *yes is its truthiness. */
static ivm_status test(ivm_vm *vm, ivm_value pred, ivm_value x, bool *yes)
{
    ivm_value r;
    CHECK(ivm_core_call1(vm, pred, x, &r));
    *yes = ivm_truthy(r);
    return IVM_OK;
}

/* Finishes a native that collected its result in w: on success the list of
 * w's items, always freeing w. */
static ivm_status finish_list(ivm_vm *vm, ivm_status st, ivm_worklist *w, ivm_value *result)
{
    if (st == IVM_OK)
        *result = ivm_core_list(&vm->heap, w->items, w->len);
    ivm_worklist_free(w);
    return st;
}

/* ---- reduce ------------------------------------------------------------ */

NATIVE(n_reduce)
{
    ivm_value f = args[0], acc = IVM_NIL, x;
    ivm_core_iter it;
    if (ivm_is_lazy(args[nargs - 1]) && !ivm_core_is_native_fn(vm, f, ivm_core_conj_native)) {
        /* realized as it goes, its head let go (a spent argument,
         * opcodes.h): a long sequence reduces in constant memory */
        CHECK(ivm_core_iter_init_lazy(vm, &it, args[nargs - 1]));
        ((ivm_value *)args)[nargs - 1] = IVM_NIL;
        ivm_root(vm, &it.c.u.list);
    } else {
        CHECK(ivm_core_iter_init(vm, &it, args[nargs - 1]));
    }
    ivm_root(vm, &acc);
    if (nargs == 2) {
        if (!ivm_core_iter_next(&vm->heap, &it, &acc))
            return ivm_core_call(vm, f, 0, NULL, result);
    } else {
        acc = args[1];
    }
    /* (reduce conj coll xs) builds in place, as into does */
    if (ivm_core_is_native_fn(vm, f, ivm_core_conj_native) &&
        (ivm_is_vector(acc) || ivm_is_map(acc) || ivm_is_set(acc))) {
        ivm_core_builder b;
        CHECK(ivm_core_builder_init(vm, &b, acc));
        while (ivm_core_iter_next(&vm->heap, &it, &x))
            CHECK(ivm_core_builder_add(vm, &b, x));
        *result = ivm_core_builder_finish(vm, &b);
        return IVM_OK;
    }
    /* A native function over a vector: straight to its C function, chunk
     * by chunk, without the general call path for every element. */
    if (ivm_is_native(f) && ivm_is_vector(args[nargs - 1])) {
        const ivm_native_def *d = vm->rt->natives[ivm_imm_payload(f)];
        if (d->min_args <= 2 && d->max_args >= 2) {
            ivm_value v = args[nargs - 1], pair[2];
            uint64_t i = nargs == 2 ? 1 : 0, n = ivm_vec_count(v);
            while (i < n) {
                uint32_t len;
                const ivm_value *chunk = ivm_vec_chunk(v, i, &len);
                for (uint32_t k = 0; k < len; k++) {
                    pair[0] = acc;
                    pair[1] = chunk[k];
                    /* called directly: its roots end here, as
                     * call_native would end them */
                    uint32_t roots = ivm_roots_count(vm);
                    ivm_status st = d->fn(vm, pair, 2, &acc);
                    ivm_roots_restore(vm, roots);
                    CHECK(st);
                }
                i += len;
            }
            *result = acc;
            return IVM_OK;
        }
    }
    while (ivm_core_iter_next(&vm->heap, &it, &x))
        CHECK(ivm_core_call2(vm, f, acc, x, &acc));
    *result = acc;
    return IVM_OK;
}

NATIVE(n_reduce_kv)
{
    (void)nargs;
    ivm_value f = args[0], acc = args[1], coll = args[2], call[3];
    ivm_root(vm, &acc);
    if (coll == IVM_NIL) {
        *result = acc;
        return IVM_OK;
    }
    if (ivm_is_map(coll)) {
        ivm_map_iter it;
        ivm_map_iter_init(&it, coll);
        while (ivm_map_iter_next(&it, &call[1], &call[2])) {
            call[0] = acc;
            CHECK(ivm_core_call(vm, f, 3, call, &acc));
        }
    } else if (ivm_is_vector(coll)) {
        ivm_vec_iter it;
        ivm_vec_iter_init(&it, coll);
        for (int64_t i = 0; ivm_vec_iter_next(&it, &call[2]); i++) {
            call[0] = acc;
            call[1] = ivm_fixnum(i);
            CHECK(ivm_core_call(vm, f, 3, call, &acc));
        }
    } else {
        return ivm_raise_type(vm, "reduce-kv expects a map or a vector", coll);
    }
    *result = acc;
    return IVM_OK;
}

/* ---- map, filter and friends ------------------------------------------- */

/* map over one or more collections up to the shortest; into a list, or a
 * vector when as_vector. */
static ivm_status map_impl(ivm_vm *vm, const ivm_value *args, uint32_t nargs,
                           bool as_vector, ivm_value *result)
{
    ivm_value f = args[0];
    uint32_t ncolls = nargs - 1;
    ivm_core_iter one, *its = &one;
    if (ncolls > 1) {
        its = ivm_platform_malloc(ncolls * sizeof *its);
        if (!its)
            ivm_platform_exit(70);
    }
    ivm_worklist call, out;
    ivm_worklist_init(&call);
    ivm_worklist_init(&out);
    ivm_core_builder b = {0};
    if (as_vector)
        ivm_core_builder_vector(vm, &b);
    uint32_t roots = ivm_roots_count(vm); /* a helper: ends its own roots */
    ivm_root_list(vm, &call);
    ivm_root_list(vm, &out);
    ivm_root(vm, &b.v);
    ivm_status st = IVM_OK;
    for (uint32_t i = 0; i < ncolls && st == IVM_OK; i++) {
        st = ivm_core_iter_init(vm, &its[i], args[1 + i]);
        ivm_worklist_push(&call, IVM_NIL);
    }
    while (st == IVM_OK) {
        bool more = true;
        for (uint32_t i = 0; i < ncolls && more; i++)
            more = ivm_core_iter_next(&vm->heap, &its[i], &call.items[i]);
        if (!more)
            break;
        ivm_value y;
        st = ivm_core_call(vm, f, ncolls, call.items, &y);
        if (st == IVM_OK) {
            if (as_vector)
                st = ivm_core_builder_add(vm, &b, y);
            else
                ivm_worklist_push(&out, y);
        }
    }
    ivm_roots_restore(vm, roots);
    if (its != &one)
        ivm_platform_free(its);
    ivm_worklist_free(&call);
    if (as_vector) {
        if (st == IVM_OK)
            *result = ivm_core_builder_finish(vm, &b);
        ivm_worklist_free(&out);
        return st;
    }
    return finish_list(vm, st, &out, result);
}

/* Given only its function, a sequence function is a transducer: the
 * prelude's ivm.xf/ version. */
#define TRANSDUCER(name)                                                       \
    do {                                                                       \
        if (nargs == 1)                                                        \
            return ivm_core_call_prelude(vm, "ivm.xf/" name, args, nargs, result); \
    } while (0)

/* A native whose sequence arguments, from args[from] on, include a lazy
 * sequence gives a lazy sequence too: the prelude's ivm.lazy/ version. */
#define LAZY_FROM(name, from)                                                  \
    do {                                                                       \
        if (ivm_core_any_lazy(args + (from), nargs - (from)))                  \
            return ivm_core_call_lazy(vm, name, args, nargs, result);          \
    } while (0)

NATIVE(n_map)
{
    TRANSDUCER("map");
    LAZY_FROM("map", 1);
    return map_impl(vm, args, nargs, false, result);
}
NATIVE(n_mapv) { return map_impl(vm, args, nargs, true, result); }

enum { KEEP_TRUTHY, KEEP_FALSY };

static ivm_status filter_impl(ivm_vm *vm, ivm_value pred, ivm_value coll, int mode,
                              bool as_vector, ivm_value *result)
{
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, coll));
    ivm_worklist out;
    ivm_worklist_init(&out);
    ivm_core_builder b = {0};
    if (as_vector)
        ivm_core_builder_vector(vm, &b);
    ivm_root_list(vm, &out); /* natives only call this: their roots end with them */
    ivm_root(vm, &b.v);
    ivm_status st = IVM_OK;
    ivm_value x;
    bool yes;
    while (st == IVM_OK && ivm_core_iter_next(&vm->heap, &it, &x)) {
        st = test(vm, pred, x, &yes);
        if (st != IVM_OK || yes != (mode == KEEP_TRUTHY))
            continue;
        if (as_vector)
            st = ivm_core_builder_add(vm, &b, x);
        else
            ivm_worklist_push(&out, x);
    }
    if (as_vector) {
        if (st == IVM_OK)
            *result = ivm_core_builder_finish(vm, &b);
        ivm_worklist_free(&out);
        return st;
    }
    return finish_list(vm, st, &out, result);
}

NATIVE(n_filter)
{
    TRANSDUCER("filter");
    LAZY_FROM("filter", 1);
    return filter_impl(vm, args[0], args[1], KEEP_TRUTHY, false, result);
}
NATIVE(n_filterv) { (void)nargs; return filter_impl(vm, args[0], args[1], KEEP_TRUTHY, true, result); }
NATIVE(n_remove)
{
    TRANSDUCER("remove");
    LAZY_FROM("remove", 1);
    return filter_impl(vm, args[0], args[1], KEEP_FALSY, false, result);
}

/* (keep f coll): the non-nil results of f */
NATIVE(n_keep)
{
    TRANSDUCER("keep");
    LAZY_FROM("keep", 1);
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, args[1]));
    ivm_worklist out;
    ivm_worklist_init(&out);
    ivm_root_list(vm, &out);
    ivm_status st = IVM_OK;
    ivm_value x, y;
    while (st == IVM_OK && ivm_core_iter_next(&vm->heap, &it, &x)) {
        st = ivm_core_call1(vm, args[0], x, &y);
        if (st == IVM_OK && y != IVM_NIL)
            ivm_worklist_push(&out, y);
    }
    return finish_list(vm, st, &out, result);
}

NATIVE(n_map_indexed)
{
    LAZY_FROM("map-indexed", 1);
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, args[1]));
    ivm_worklist out;
    ivm_worklist_init(&out);
    ivm_root_list(vm, &out);
    ivm_status st = IVM_OK;
    ivm_value call[2], y;
    for (int64_t i = 0; st == IVM_OK && ivm_core_iter_next(&vm->heap, &it, &call[1]); i++) {
        call[0] = ivm_int(&vm->heap, i);
        st = ivm_core_call(vm, args[0], 2, call, &y);
        if (st == IVM_OK)
            ivm_worklist_push(&out, y);
    }
    return finish_list(vm, st, &out, result);
}

/* (mapcat f & colls): (apply concat (map f colls)) */
NATIVE(n_mapcat)
{
    TRANSDUCER("mapcat");
    LAZY_FROM("mapcat", 1);
    ivm_value mapped;
    CHECK(map_impl(vm, args, nargs, false, &mapped));
    ivm_worklist out;
    ivm_worklist_init(&out);
    ivm_status st = IVM_OK;
    for (ivm_value l = mapped; st == IVM_OK && l != IVM_EMPTY_LIST; l = ivm_as_cons(l)->rest)
        st = ivm_core_collect(vm, ivm_as_cons(l)->first, &out);
    return finish_list(vm, st, &out, result);
}

NATIVE(n_run_bang)
{
    (void)nargs;
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, args[1]));
    ivm_value x, ignored;
    while (ivm_core_iter_next(&vm->heap, &it, &x))
        CHECK(ivm_core_call1(vm, args[0], x, &ignored));
    *result = IVM_NIL;
    return IVM_OK;
}

/* doall and dorun: with nothing lazy, a collection is already realised. */
NATIVE(n_doall)
{
    if (!ivm_core_seqable(args[nargs - 1]))
        return ivm_raise_type(vm, "Don't know how to create ISeq from this value", args[nargs - 1]);
    *result = args[nargs - 1];
    return IVM_OK;
}

NATIVE(n_dorun)
{
    CHECK(n_doall(vm, args, nargs, result));
    *result = IVM_NIL;
    return IVM_OK;
}

/* ---- some, every?, not-any? -------------------------------------------- */

NATIVE(n_some)
{
    (void)nargs;
    ivm_core_iter it;
    CHECK(ivm_core_iter_init_lazy(vm, &it, args[1]));
    ivm_value x, r;
    while (ivm_core_iter_next(&vm->heap, &it, &x)) {
        CHECK(ivm_core_call1(vm, args[0], x, &r));
        if (ivm_truthy(r)) {
            *result = r;
            return IVM_OK;
        }
    }
    *result = IVM_NIL;
    return IVM_OK;
}

NATIVE(n_every_p)
{
    (void)nargs;
    ivm_core_iter it;
    CHECK(ivm_core_iter_init_lazy(vm, &it, args[1]));
    ivm_value x;
    bool yes;
    *result = IVM_TRUE;
    while (ivm_core_iter_next(&vm->heap, &it, &x)) {
        CHECK(test(vm, args[0], x, &yes));
        if (!yes) {
            *result = IVM_FALSE;
            break;
        }
    }
    return IVM_OK;
}

NATIVE(n_not_any_p)
{
    CHECK(n_some(vm, args, nargs, result));
    *result = ivm_bool(!ivm_truthy(*result));
    return IVM_OK;
}

/* ---- range ------------------------------------------------------------- */

static ivm_status range_ints(ivm_vm *vm, int64_t start, int64_t end, int64_t step,
                             ivm_value *result)
{
    uint64_t count = 0;
    if (step > 0 && start < end) {
        uint64_t span = (uint64_t)end - (uint64_t)start, s = (uint64_t)step;
        count = span / s + (span % s != 0);
    } else if (step < 0 && start > end) {
        uint64_t span = (uint64_t)start - (uint64_t)end, s = 0 - (uint64_t)step;
        count = span / s + (span % s != 0);
    } else if (step == 0 && start != end) { /* start, forever, as in Clojure */
        ivm_value x = ivm_int(&vm->heap, start);
        return ivm_core_call_lazy(vm, "repeat", &x, 1, result);
    }
    ivm_value list = IVM_EMPTY_LIST;
    for (uint64_t i = count; i-- > 0;) /* wrapping arithmetic: the result fits */
        list = ivm_cons_new(&vm->heap,
                            ivm_int(&vm->heap, (int64_t)((uint64_t)start + i * (uint64_t)step)),
                            list);
    *result = list;
    return IVM_OK;
}

/* (range end) (range start end) (range start end step): integers, or
 * floats by repeated addition as Clojure does ((range 0 1 0.25)). */
NATIVE(n_range)
{
    if (nargs == 0)
        return ivm_core_call_lazy(vm, "range", args, nargs, result);
    for (uint32_t i = 0; i < nargs; i++)
        if (!ivm_core_is_number(args[i]))
            return ivm_raise_type(vm, "range expects numbers", args[i]);
    ivm_value start = nargs == 1 ? ivm_fixnum(0) : args[0];
    ivm_value end = nargs == 1 ? args[0] : args[1];
    ivm_value step = nargs == 3 ? args[2] : ivm_fixnum(1);
    if (ivm_is_int(start) && ivm_is_int(end) && ivm_is_int(step))
        return range_ints(vm, ivm_int_value(start), ivm_int_value(end),
                          ivm_int_value(step), result);
    bool up, down, zero;
    CHECK(ivm_less(vm, ivm_fixnum(0), step, false, &up));
    CHECK(ivm_less(vm, step, ivm_fixnum(0), false, &down));
    zero = !up && !down;
    if (zero) {
        bool lt, gt;
        CHECK(ivm_less(vm, start, end, false, &lt));
        CHECK(ivm_less(vm, end, start, false, &gt));
        if (lt || gt) /* start, forever, as in Clojure */
            return ivm_core_call_lazy(vm, "repeat", &args[0], 1, result);
        *result = IVM_EMPTY_LIST;
        return IVM_OK;
    }
    ivm_worklist out;
    ivm_worklist_init(&out);
    ivm_status st = IVM_OK;
    for (ivm_value x = start; st == IVM_OK;) {
        bool in;
        st = ivm_less(vm, x, end, false, &in);
        if (st != IVM_OK)
            break;
        if (down)
            st = ivm_less(vm, end, x, false, &in);
        if (st != IVM_OK || !in)
            break;
        ivm_worklist_push(&out, x);
        st = ivm_arith(vm, IVM_OP_ADD, x, step, &x);
    }
    return finish_list(vm, st, &out, result);
}

/* (repeat n x) and (repeatedly n f) */
NATIVE(n_repeat)
{
    if (nargs == 1)
        return ivm_core_call_lazy(vm, "repeat", args, nargs, result);
    int64_t n = 0;
    CHECK(count_arg(vm, args[0], &n));
    ivm_value list = IVM_EMPTY_LIST;
    for (int64_t i = 0; i < n; i++)
        list = ivm_cons_new(&vm->heap, args[1], list);
    *result = list;
    return IVM_OK;
}

NATIVE(n_repeatedly)
{
    if (nargs == 1)
        return ivm_core_call_lazy(vm, "repeatedly", args, nargs, result);
    int64_t n = 0;
    CHECK(count_arg(vm, args[0], &n));
    ivm_worklist out;
    ivm_worklist_init(&out);
    ivm_root_list(vm, &out);
    ivm_status st = IVM_OK;
    for (int64_t i = 0; i < n && st == IVM_OK; i++) {
        ivm_value y;
        st = ivm_core_call(vm, args[1], 0, NULL, &y);
        if (st == IVM_OK)
            ivm_worklist_push(&out, y);
    }
    return finish_list(vm, st, &out, result);
}

/* ---- apply, concat, reverse -------------------------------------------- */

NATIVE(n_apply)
{
    ivm_worklist w;
    ivm_worklist_init(&w);
    for (uint32_t i = 1; i + 1 < nargs; i++)
        ivm_worklist_push(&w, args[i]);
    ivm_status st = ivm_core_collect(vm, args[nargs - 1], &w);
    if (st == IVM_OK && w.len > IVM_MAX_STACK)
        st = ivm_raise(vm, "apply: too many arguments");
    if (st == IVM_OK)
        st = ivm_core_call(vm, args[0], (uint32_t)w.len, w.items, result);
    ivm_worklist_free(&w);
    return st;
}

/* A list of every element of every argument; a last argument that is a
 * list becomes the tail, shared. */
NATIVE(n_concat)
{
    LAZY_FROM("concat", 0);
    ivm_worklist w;
    ivm_worklist_init(&w);
    ivm_value tail = IVM_EMPTY_LIST;
    uint32_t n = nargs;
    if (n && ivm_is_list(args[n - 1]))
        tail = args[--n];
    ivm_status st = IVM_OK;
    for (uint32_t i = 0; i < n && st == IVM_OK; i++)
        st = ivm_core_collect(vm, args[i], &w);
    if (st == IVM_OK) {
        ivm_value list = tail;
        for (size_t i = w.len; i-- > 0;)
            list = ivm_cons_new(&vm->heap, w.items[i], list);
        *result = list;
    }
    ivm_worklist_free(&w);
    return st;
}

NATIVE(n_reverse)
{
    (void)nargs;
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, args[0]));
    ivm_value list = IVM_EMPTY_LIST, x;
    while (ivm_core_iter_next(&vm->heap, &it, &x))
        list = ivm_cons_new(&vm->heap, x, list);
    *result = list;
    return IVM_OK;
}

NATIVE(n_interleave)
{
    LAZY_FROM("interleave", 0);
    ivm_worklist out;
    ivm_worklist_init(&out);
    ivm_core_iter one, *its = &one;
    if (nargs > 1) {
        its = ivm_platform_malloc(nargs * sizeof *its);
        if (!its)
            ivm_platform_exit(70);
    }
    ivm_status st = IVM_OK;
    for (uint32_t i = 0; i < nargs && st == IVM_OK; i++)
        st = ivm_core_iter_init(vm, &its[i], args[i]);
    size_t round = 0;
    while (st == IVM_OK && nargs) {
        bool more = true;
        ivm_value x;
        for (uint32_t i = 0; i < nargs && more; i++) {
            more = ivm_core_iter_next(&vm->heap, &its[i], &x);
            if (more)
                ivm_worklist_push(&out, x);
        }
        if (!more) {
            out.len = round; /* drop the incomplete round */
            break;
        }
        round = out.len;
    }
    if (its != &one)
        ivm_platform_free(its);
    return finish_list(vm, st, &out, result);
}

NATIVE(n_interpose)
{
    (void)nargs;
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, args[1]));
    ivm_worklist out;
    ivm_worklist_init(&out);
    ivm_value x;
    while (ivm_core_iter_next(&vm->heap, &it, &x)) {
        if (out.len)
            ivm_worklist_push(&out, args[0]);
        ivm_worklist_push(&out, x);
    }
    return finish_list(vm, IVM_OK, &out, result);
}

/* flatten: the non-sequential leaves of nested lists and vectors, in
 * order, without C recursion. */
NATIVE(n_flatten)
{
    (void)nargs;
    ivm_worklist out;
    ivm_worklist_init(&out);
    if (ivm_is_sequential(ivm_walk_kind_of(args[0]))) {
        ivm_frame_stack s;
        ivm_frames_init(&s, sizeof(ivm_cursor));
        ivm_cursor_init(ivm_frames_push(&s), args[0]);
        while (s.len) {
            ivm_value x, y;
            if (!ivm_cursor_next(ivm_frames_top(&s), &x, &y)) {
                ivm_frames_pop(&s);
            } else if (ivm_is_sequential(ivm_walk_kind_of(x))) {
                ivm_cursor_init(ivm_frames_push(&s), x);
            } else {
                ivm_worklist_push(&out, x);
            }
        }
        ivm_frames_free(&s);
    }
    return finish_list(vm, IVM_OK, &out, result);
}

/* ---- take, drop and their kin ------------------------------------------ */

NATIVE(n_take)
{
    int64_t n = 0;
    CHECK(count_arg(vm, args[0], &n));
    LAZY_FROM("take", 1); /* (take 10000000 (range)) is never all there at once */
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, args[1]));
    ivm_worklist out;
    ivm_worklist_init(&out);
    ivm_value x;
    for (int64_t i = 0; i < n && ivm_core_iter_next(&vm->heap, &it, &x); i++)
        ivm_worklist_push(&out, x);
    return finish_list(vm, IVM_OK, &out, result);
}

NATIVE(n_drop)
{
    LAZY_FROM("drop", 1);
    int64_t n = 0;
    CHECK(count_arg(vm, args[0], &n));
    ivm_value c = args[1];
    if (ivm_is_list(c) || c == IVM_NIL) { /* share the tail */
        ivm_value l = c == IVM_NIL ? IVM_EMPTY_LIST : c;
        for (int64_t i = 0; i < n && l != IVM_EMPTY_LIST; i++)
            l = ivm_as_cons(l)->rest;
        *result = l;
        return IVM_OK;
    }
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, c));
    ivm_worklist out;
    ivm_worklist_init(&out);
    ivm_value x;
    for (int64_t i = 0; ivm_core_iter_next(&vm->heap, &it, &x); i++)
        if (i >= n)
            ivm_worklist_push(&out, x);
    return finish_list(vm, IVM_OK, &out, result);
}

/* take-last: nil when empty, as Clojure; drop-last: a list */
NATIVE(n_take_last)
{
    (void)nargs;
    int64_t n = 0;
    CHECK(count_arg(vm, args[0], &n));
    ivm_worklist all;
    ivm_worklist_init(&all);
    ivm_status st = ivm_core_collect(vm, args[1], &all);
    *result = IVM_NIL;
    if (st == IVM_OK && n > 0 && all.len) {
        size_t k = (uint64_t)n < all.len ? (size_t)n : all.len;
        *result = ivm_core_list(&vm->heap, all.items + all.len - k, k);
    }
    ivm_worklist_free(&all);
    return st;
}

NATIVE(n_drop_last)
{
    int64_t n = 1;
    if (nargs == 2)
        CHECK(count_arg(vm, args[0], &n));
    ivm_worklist all;
    ivm_worklist_init(&all);
    ivm_status st = ivm_core_collect(vm, args[nargs - 1], &all);
    if (n > 0)
        all.len = (uint64_t)n < all.len ? all.len - (size_t)n : 0;
    return finish_list(vm, st, &all, result);
}

NATIVE(n_butlast)
{
    ivm_value l;
    CHECK(n_drop_last(vm, args, nargs, &l));
    *result = l == IVM_EMPTY_LIST ? IVM_NIL : l;
    return IVM_OK;
}

NATIVE(n_take_nth)
{
    LAZY_FROM("take-nth", 1);
    int64_t n = 0;
    CHECK(count_arg(vm, args[0], &n));
    if (n <= 0) /* the first element, forever, as in Clojure */
        return ivm_core_call_lazy(vm, "take-nth", args, nargs, result);
    ivm_worklist all;
    ivm_worklist_init(&all);
    ivm_status st = ivm_core_collect(vm, args[1], &all);
    size_t k = 0;
    for (size_t i = 0; st == IVM_OK && i < all.len; i += (size_t)n)
        all.items[k++] = all.items[i];
    all.len = k;
    return finish_list(vm, st, &all, result);
}

/* Collects coll into all (initialised here; the caller frees it) and
 * counts in *n its leading elements that satisfy pred. */
static ivm_status collect_while(ivm_vm *vm, ivm_value pred, ivm_value coll,
                                ivm_worklist *all, size_t *n)
{
    ivm_worklist_init(all);
    *n = 0;
    CHECK(ivm_core_collect(vm, coll, all));
    bool yes = true;
    for (; *n < all->len; ++*n) {
        CHECK(test(vm, pred, all->items[*n], &yes));
        if (!yes)
            break;
    }
    return IVM_OK;
}

/* [(the first k) (the rest)] of what all holds. */
static ivm_value split_pair(ivm_vm *vm, const ivm_worklist *all, size_t k)
{
    return ivm_core_entry(&vm->heap, ivm_core_list(&vm->heap, all->items, k),
                          ivm_core_list(&vm->heap, all->items + k, all->len - k));
}

NATIVE(n_take_while)
{
    LAZY_FROM("take-while", 1);
    ivm_worklist all;
    size_t n;
    ivm_status st = collect_while(vm, args[0], args[1], &all, &n);
    all.len = n;
    return finish_list(vm, st, &all, result);
}

NATIVE(n_drop_while)
{
    LAZY_FROM("drop-while", 1);
    ivm_worklist all;
    size_t n;
    ivm_status st = collect_while(vm, args[0], args[1], &all, &n);
    if (st == IVM_OK)
        *result = ivm_core_list(&vm->heap, all.items + n, all.len - n);
    ivm_worklist_free(&all);
    return st;
}

/* split-at and split-with: [(take ...) (drop ...)] */
NATIVE(n_split_at)
{
    (void)nargs;
    int64_t n = 0;
    CHECK(count_arg(vm, args[0], &n));
    ivm_worklist all;
    ivm_worklist_init(&all);
    ivm_status st = ivm_core_collect(vm, args[1], &all);
    if (st == IVM_OK)
        *result = split_pair(vm, &all, n <= 0 ? 0 : (uint64_t)n < all.len ? (size_t)n : all.len);
    ivm_worklist_free(&all);
    return st;
}

NATIVE(n_split_with)
{
    (void)nargs;
    ivm_worklist all;
    size_t k;
    ivm_status st = collect_while(vm, args[0], args[1], &all, &k);
    if (st == IVM_OK)
        *result = split_pair(vm, &all, k);
    ivm_worklist_free(&all);
    return st;
}

/* ---- distinct, partition ----------------------------------------------- */

NATIVE(n_distinct)
{
    LAZY_FROM("distinct", 0);
    ivm_heap *h = &vm->heap;
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, args[0]));
    ivm_value seen = ivm_map_transient(h, ivm_set_empty(h), IVM_CORE_OWNER), x;
    ivm_worklist out;
    ivm_worklist_init(&out);
    while (ivm_core_iter_next(h, &it, &x)) {
        bool found;
        ivm_tset_contains(h, seen, IVM_CORE_OWNER, x, &found);
        if (!found) {
            ivm_tset_conj(h, seen, IVM_CORE_OWNER, x);
            ivm_worklist_push(&out, x);
        }
    }
    return finish_list(vm, IVM_OK, &out, result);
}

NATIVE(n_distinct_p)
{
    ivm_heap *h = &vm->heap;
    ivm_value seen = ivm_map_transient(h, ivm_set_empty(h), IVM_CORE_OWNER);
    *result = IVM_TRUE;
    for (uint32_t i = 0; i < nargs; i++) {
        bool found;
        ivm_tset_contains(h, seen, IVM_CORE_OWNER, args[i], &found);
        if (found) {
            *result = IVM_FALSE;
            break;
        }
        ivm_tset_conj(h, seen, IVM_CORE_OWNER, args[i]);
    }
    return IVM_OK;
}

/* (partition n coll) (partition n step coll) (partition n step pad coll)
 * and (partition-all n coll) (partition-all n step coll): lists of lists.
 * partition drops an incomplete last chunk unless pad fills it (possibly
 * still short); partition-all keeps it. */
static ivm_status partition_impl(ivm_vm *vm, const ivm_value *args, uint32_t nargs,
                                 bool all_chunks, ivm_value *result)
{
    int64_t n = 0, step;
    CHECK(count_arg(vm, args[0], &n));
    step = n;
    if (nargs >= 3)
        CHECK(count_arg(vm, args[1], &step));
    bool padded = nargs == 4;
    ivm_worklist items, pad, out;
    ivm_worklist_init(&items);
    ivm_worklist_init(&pad);
    ivm_worklist_init(&out);
    ivm_status st = ivm_core_collect(vm, args[nargs - 1], &items);
    if (st == IVM_OK && padded)
        st = ivm_core_collect(vm, args[2], &pad);
    if (st == IVM_OK && items.len && (n <= 0 || step <= 0))
        st = ivm_raise(vm, "partition with a size or step <= 0 is not supported (Clojure's is an endless seq of empty partitions)");
    ivm_heap *h = &vm->heap;
    for (size_t i = 0; st == IVM_OK && i < items.len; i += (size_t)step) {
        size_t left = items.len - i;
        if ((uint64_t)n <= left) {
            ivm_worklist_push(&out, ivm_core_list(h, items.items + i, (size_t)n));
        } else if (all_chunks) {
            ivm_worklist_push(&out, ivm_core_list(h, items.items + i, left));
        } else {
            if (padded) {
                size_t from_pad = (uint64_t)n - left < pad.len ? (size_t)n - left : pad.len;
                ivm_value chunk = ivm_core_list(h, pad.items, from_pad);
                for (size_t j = left; j-- > 0;)
                    chunk = ivm_cons_new(h, items.items[i + j], chunk);
                ivm_worklist_push(&out, chunk);
            }
            break;
        }
        if ((uint64_t)step >= left)
            break;
    }
    ivm_worklist_free(&items);
    ivm_worklist_free(&pad);
    return finish_list(vm, st, &out, result);
}

NATIVE(n_partition)
{
    LAZY_FROM("partition", nargs - 1);
    return partition_impl(vm, args, nargs, false, result);
}
NATIVE(n_partition_all)
{
    LAZY_FROM("partition-all", nargs - 1);
    return partition_impl(vm, args, nargs, true, result);
}

/* ---- sort -------------------------------------------------------------- */

/* comp is IVM_UNBOUND for compare. A function comparator may answer a
 * number (its sign) or a boolean, as Clojure's fns do: (comp a b) true
 * means a first; false asks (comp b a). */
typedef struct sorter {
    ivm_vm *vm;
    ivm_value comp;
} sorter;

static ivm_status sort_compare(sorter *s, ivm_value a, ivm_value b, int64_t *out)
{
    if (s->comp == IVM_UNBOUND)
        return ivm_core_compare(s->vm, a, b, out);
    ivm_value r;
    CHECK(ivm_core_call2(s->vm, s->comp, a, b, &r));
    if (r == IVM_TRUE) {
        *out = -1;
    } else if (r == IVM_FALSE) {
        CHECK(ivm_core_call2(s->vm, s->comp, b, a, &r));
        *out = ivm_truthy(r) ? 1 : 0;
    } else if (ivm_is_int(r)) {
        int64_t i = ivm_int_value(r);
        *out = i < 0 ? -1 : i > 0;
    } else if (ivm_is_float(r)) {
        double d = ivm_float_value(r);
        *out = d <= -1 ? -1 : d >= 1; /* Java's intValue truncates */
    } else {
        return ivm_raise_type(s->vm, "a comparator must return a number or a boolean", r);
    }
    return IVM_OK;
}

/* A stable merge sort of n records of w values, keyed by each record's
 * first value. */
static ivm_status merge_sort(sorter *s, ivm_value *a, size_t n, size_t w)
{
    if (n < 2)
        return IVM_OK;
    ivm_value *tmp = ivm_platform_malloc(n * w * sizeof *tmp);
    if (!tmp)
        ivm_platform_exit(70);
    ivm_value *src = a, *dst = tmp;
    /* while it merges, an element may be only in tmp */
    uint32_t roots = ivm_roots_count(s->vm);
    ivm_worklist tmp_root = {.items = tmp, .len = n * w, .cap = n * w};
    memset(tmp, 0, n * w * sizeof *tmp);
    ivm_root_list(s->vm, &tmp_root);
    ivm_status st = IVM_OK;
    for (size_t width = 1; width < n && st == IVM_OK; width *= 2) {
        for (size_t lo = 0; lo < n && st == IVM_OK; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                int64_t c;
                st = sort_compare(s, src[i * w], src[j * w], &c);
                if (st != IVM_OK)
                    break;
                size_t from = c > 0 ? j++ : i++;
                memcpy(dst + k++ * w, src + from * w, w * sizeof *src);
            }
            if (st != IVM_OK)
                break;
            memcpy(dst + k * w, src + i * w, (mid - i) * w * sizeof *src);
            k += mid - i;
            memcpy(dst + k * w, src + j * w, (hi - j) * w * sizeof *src);
        }
        ivm_value *t = src;
        src = dst;
        dst = t;
    }
    if (st == IVM_OK && src != a)
        memcpy(a, src, n * w * sizeof *a);
    ivm_roots_restore(s->vm, roots);
    ivm_platform_free(tmp);
    return st;
}

NATIVE(n_sort)
{
    sorter s = {vm, nargs == 2 ? args[0] : IVM_UNBOUND};
    ivm_worklist all;
    ivm_worklist_init(&all);
    ivm_root_list(vm, &all);
    ivm_status st = ivm_core_collect(vm, args[nargs - 1], &all);
    if (st == IVM_OK)
        st = merge_sort(&s, all.items, all.len, 1);
    return finish_list(vm, st, &all, result);
}

/* (sort-by keyfn coll) (sort-by keyfn comp coll): sorts [key element]
 * records, calling keyfn once per element. */
NATIVE(n_sort_by)
{
    sorter s = {vm, nargs == 3 ? args[1] : IVM_UNBOUND};
    ivm_core_iter it;
    CHECK(ivm_core_iter_init(vm, &it, args[nargs - 1]));
    ivm_worklist recs;
    ivm_worklist_init(&recs);
    ivm_root_list(vm, &recs);
    ivm_status st = IVM_OK;
    ivm_value x, k;
    while (st == IVM_OK && ivm_core_iter_next(&vm->heap, &it, &x)) {
        st = ivm_core_call1(vm, args[0], x, &k);
        if (st == IVM_OK)
            ivm_worklist_push2(&recs, k, x);
    }
    if (st == IVM_OK)
        st = merge_sort(&s, recs.items, recs.len / 2, 2);
    size_t n = recs.len / 2;
    for (size_t i = 0; i < n; i++)
        recs.items[i] = recs.items[2 * i + 1];
    recs.len = n;
    return finish_list(vm, st, &recs, result);
}

/* (max-key k x & more) (min-key k x & more): ties go to the later one */
static ivm_status extreme_key(ivm_vm *vm, const ivm_value *args, uint32_t nargs,
                              bool max, ivm_value *result)
{
    ivm_value best = args[1], best_key = IVM_NIL;
    ivm_root(vm, &best_key); /* natives only call this: the root ends with them */
    CHECK(ivm_core_call1(vm, args[0], best, &best_key));
    for (uint32_t i = 2; i < nargs; i++) {
        ivm_value k;
        bool keep;
        CHECK(ivm_core_call1(vm, args[0], args[i], &k));
        CHECK(max ? ivm_less(vm, k, best_key, false, &keep)
                  : ivm_less(vm, best_key, k, false, &keep));
        if (!keep) {
            best = args[i];
            best_key = k;
        }
    }
    *result = best;
    return IVM_OK;
}

NATIVE(n_max_key) { return extreme_key(vm, args, nargs, true, result); }
NATIVE(n_min_key) { return extreme_key(vm, args, nargs, false, result); }

const ivm_native_def ivm_core_seq_natives[] = {
    {"reduce", n_reduce, 2, 3},
    {"reduce-kv", n_reduce_kv, 3, 3},
    {"map", n_map, 1, ANY},
    {"mapv", n_mapv, 2, ANY},
    {"filter", n_filter, 1, 2},
    {"filterv", n_filterv, 2, 2},
    {"remove", n_remove, 1, 2},
    {"keep", n_keep, 1, 2},
    {"map-indexed", n_map_indexed, 2, 2},
    {"mapcat", n_mapcat, 1, ANY},
    {"run!", n_run_bang, 2, 2},
    {"doall", n_doall, 1, 2},
    {"dorun", n_dorun, 1, 2},
    {"some", n_some, 2, 2},
    {"every?", n_every_p, 2, 2},
    {"not-any?", n_not_any_p, 2, 2},
    {"range", n_range, 0, 3},
    {"repeat", n_repeat, 1, 2},
    {"ivm.core/lazy-seq*", n_lazy_seq, 1, 1},
    {"realized?", n_realized_p, 1, 1},
    {"ivm.core/lazy?", n_lazy_p, 1, 1},
    {"repeatedly", n_repeatedly, 1, 2},
    {"apply", n_apply, 2, ANY},
    {"concat", n_concat, 0, ANY},
    {"reverse", n_reverse, 1, 1},
    {"interleave", n_interleave, 0, ANY},
    {"interpose", n_interpose, 2, 2},
    {"flatten", n_flatten, 1, 1},
    {"take", n_take, 2, 2},
    {"drop", n_drop, 2, 2},
    {"take-last", n_take_last, 2, 2},
    {"drop-last", n_drop_last, 1, 2},
    {"butlast", n_butlast, 1, 1},
    {"take-nth", n_take_nth, 2, 2},
    {"take-while", n_take_while, 2, 2},
    {"drop-while", n_drop_while, 2, 2},
    {"split-at", n_split_at, 2, 2},
    {"split-with", n_split_with, 2, 2},
    {"distinct", n_distinct, 1, 1},
    {"distinct?", n_distinct_p, 1, ANY},
    {"partition", n_partition, 2, 4},
    {"partition-all", n_partition_all, 2, 3},
    {"sort", n_sort, 1, 2},
    {"sort-by", n_sort_by, 2, 3},
    {"max-key", n_max_key, 2, ANY},
    {"min-key", n_min_key, 2, ANY},
};
const uint32_t ivm_core_seq_native_count = sizeof ivm_core_seq_natives / sizeof ivm_core_seq_natives[0];
