/* The interpreter: the dispatch loop, calls and returns, and ivm_call.
 *
 * Frames: a call of R[A] with B arguments makes the callee's R[0] the
 * caller's R[A+1], so arguments are never copied; the result goes to the
 * callee slot, stack[base - 1], which is the caller's R[A].
 *
 * The loop caches the instruction pointer, the register window, the
 * constants and the running prototype in locals. Only calls and returns
 * change them (the stack never moves; see vm.h), and LOAD_FRAME reloads
 * them. SAVE_PC stores the resume point in the frame before anything that
 * can fail or inspect frames (errors, natives, safepoints).
 *
 * Safepoints: a reduction budget is spent at every call and every backward
 * jump; when it runs out, safepoint() runs. That is the one place where a
 * process may be descheduled and where the collector may look at roots. */
#include "bytecode/vm.h"
#include "ivm/opcodes.h"
#include "ivm/platform.h"
#include "values/map.h"
#include "values/vector.h"

#if defined(__GNUC__) && !defined(IVM_SWITCH_DISPATCH)
#define IVM_COMPUTED_GOTO 1
#endif

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* `live`: the running frame's live registers (vm.h, top_live). The caller
 * reloads its frame afterwards: a collection may have moved the running
 * closure and its prototype. Out of line: it is the slow path of every
 * reduction in the dispatch loop. */
static __attribute__((noinline)) ivm_status safepoint(ivm_vm *vm, uint32_t live)
{
    vm->top_live = live;
    /* While a concurrent cycle runs, safepoints come IVM_CYCLE_SAFEPOINTS
     * times as often (a handshake traces or fixes what its thread built
     * since its last safepoint: the pause is bounded by that), and a
     * process may be preempted only at every IVM_CYCLE_SAFEPOINTS-th, so
     * that slices stay as long. */
    bool slice_over = true;
    if (ivm_heap_no_edits(&vm->heap) && vm->budget_reset >= IVM_CYCLE_SAFEPOINTS) {
        vm->budget = vm->budget_reset / IVM_CYCLE_SAFEPOINTS;
        slice_over = ++vm->cycle_safepoints % IVM_CYCLE_SAFEPOINTS == 0;
    } else {
        vm->budget = vm->budget_reset;
    }
    if (ivm_arena_collect_requested(vm->heap.arena) || ivm_vm_collector_due(vm))
        ivm_vm_collect(vm);
    vm->top_live = UINT32_MAX;
    if (ivm_platform_interrupted())
        return IVM_INTERRUPTED;
    return slice_over && ivm_vm_preempted(vm) && ivm_may_block(vm) ? IVM_YIELD : IVM_OK;
}

/* ---- Calls ------------------------------------------------------------- */

static ivm_status stack_overflow(ivm_vm *vm) { return ivm_raise(vm, "stack overflow"); }

/* Checks a call of closure `fn` whose nargs arguments lie at stack[*base..]
 * (its callee slot below them) and packs the rest arguments of a variadic
 * function into a list. A call that does not fit in the segment moves to
 * a new one (vm.h), with the callee and arguments: *base changes. A tail
 * call's frame, the top one, is dropped from the old segment first. */
static ivm_status prepare_call(ivm_vm *vm, ivm_value fn, uint32_t *base_io,
                               uint32_t nargs, bool tail)
{
    ivm_proto *p = ivm_as_proto(ivm_as_closure(fn)->proto);
    bool variadic = p->flags & IVM_PROTO_VARIADIC;
    if (nargs != p->nparams && (!variadic || nargs < p->nparams))
        return ivm_raise_arity(vm, fn, nargs);
    uint32_t base = *base_io;
    /* a segment's last slot stays free (ivm_call's result may go there) */
    if ((uint64_t)base + p->nregs >= vm->slot_cap || vm->nframes + !tail > vm->frame_cap) {
        ivm_value *from = &vm->stack[base - 1];
        uint32_t need = 1 + (nargs > p->nregs ? nargs : p->nregs);
        if (tail)
            vm->nframes--;
        ivm_status st = ivm_stack_grow(vm, base - 1, need);
        if (st != IVM_OK) {
            vm->nframes += tail;
            return st;
        }
        memcpy(vm->stack, from, (nargs + 1) * sizeof *from);
        base = *base_io = 1;
        if (nargs + 1 > vm->stack_high)
            vm->stack_high = nargs + 1;
    }
    if (base + p->nregs > vm->stack_high)
        vm->stack_high = base + p->nregs;
    if (variadic) {
        ivm_value rest = IVM_NIL;
        if (nargs > p->nparams) {
            rest = IVM_EMPTY_LIST;
            for (uint32_t i = nargs; i-- > p->nparams;)
                rest = ivm_cons_new(&vm->heap, vm->stack[base + i], rest);
        }
        vm->stack[base + p->nparams] = rest;
    }
    return IVM_OK;
}

/* The closure a multi-arity function runs for nargs, or an arity error. */
static ivm_status select_arity(ivm_vm *vm, ivm_value *fn, uint32_t nargs)
{
    ivm_value c = ivm_multifn_select(*fn, nargs);
    if (c == IVM_NIL)
        return ivm_raise_arity(vm, *fn, nargs);
    *fn = c;
    return IVM_OK;
}

static ivm_status push_handler(ivm_vm *vm, uint32_t frame, uint32_t catch_pc,
                               unsigned reg)
{
    if (vm->nhandlers == vm->handlers_cap) {
        uint32_t cap = vm->handlers_cap ? vm->handlers_cap * 2 : 16;
        if (cap > IVM_MAX_FRAMES)
            return ivm_raise(vm, "too many nested try forms");
        ivm_handler *h = ivm_platform_realloc(vm->handlers, cap * sizeof *h);
        if (!h)
            ivm_platform_exit(70);
        vm->handlers = h;
        vm->handlers_cap = cap;
    }
    vm->handlers[vm->nhandlers++] = (ivm_handler){frame, catch_pc, (uint8_t)reg};
    return IVM_OK;
}

/* Drops the handlers of frames at or above depth `frame` (they are
 * returning). */
static void drop_handlers(ivm_vm *vm, uint32_t frame)
{
    while (vm->nhandlers && vm->handlers[vm->nhandlers - 1].frame >= frame)
        vm->nhandlers--;
}

/* The failure of a lazy node's realization inside a walk, which reads as
 * the sequence's end there (ivm_lazy_force): reported once the native or
 * instruction that walked is done. */
static ivm_status take_force_status(ivm_vm *vm)
{
    ivm_status st = vm->force_status;
    vm->force_status = IVM_OK;
    return st;
}

static ivm_status call_native(ivm_vm *vm, ivm_value fn, const ivm_value *args,
                              uint32_t nargs, ivm_value *result)
{
    const ivm_native_def *def = vm->rt->natives[ivm_imm_payload(fn)];
    if (nargs < def->min_args || nargs > def->max_args)
        return ivm_raise_arity(vm, fn, nargs);
    uint32_t roots = vm->nc_roots; /* a native's roots end with it */
    ivm_status st = def->fn(vm, args, nargs, result);
    vm->nc_roots = roots;
    if (UNLIKELY(vm->force_status != IVM_OK))
        st = st == IVM_OK ? take_force_status(vm) : (take_force_status(vm), st);
    return st;
}

/* ---- Lazy sequences ---------------------------------------------------- */

/* The VM this thread last ran code on: the values layer realizes lazy
 * nodes without one in hand (ivm_lazy_force_hook). */
static _Thread_local ivm_vm *thread_vm;

/* What a thunk returned, as a sequence: a lazy node as it is, nil, () and
 * lists as they are, anything else through seq (vectors, maps, strings...).
 * The result is a lazy node, a list or nil. */
static ivm_status as_seq(ivm_vm *vm, ivm_value *v)
{
    if (*v == IVM_NIL || ivm_is_list(*v) || ivm_is_lazy(*v))
        return IVM_OK;
    ivm_value seq = vm->globals[ivm_global_slot(vm, ivm_symbol_cstr(&vm->heap, "seq"))].value;
    if (seq == IVM_UNBOUND)
        return ivm_raise_type(vm, "a lazy sequence's body must give a seq, got", *v);
    return ivm_call(vm, seq, 1, v, v);
}

/* Realizes node. A thunk may give another unrealized node, whose thunk
 * then runs here too (a loop, not a recursion: lazy-seq of lazy-seq of ...
 * nests without bound); every node of the chain gets the final result.
 * Objects must not move meanwhile (C walkers hold addresses), so the
 * nested call counts one deeper than it is. */
static ivm_status realize(ivm_vm *vm, ivm_value node)
{
    ivm_worklist chain; /* nodes waiting for the result */
    ivm_worklist_init(&chain);
    ivm_root_list(vm, &chain);
    ivm_value r = node;
    ivm_root(vm, &r);
    ivm_status st = IVM_OK;
    vm->nested_calls++;
    while (st == IVM_OK && ivm_is_lazy(r) && !ivm_lazy_realized(r)) {
        ivm_worklist_push(&chain, r);
        ivm_value thunk = __atomic_load_n(&ivm_as_lazy(r)->thunk, __ATOMIC_ACQUIRE);
        if (thunk == IVM_NIL) /* another thread realized it meanwhile */
            break;
        st = ivm_call(vm, thunk, 0, NULL, &r);
        if (st == IVM_OK)
            st = as_seq(vm, &r);
    }
    vm->nested_calls--;
    if (st == IVM_OK) {
        ivm_value first = IVM_NIL, rest = IVM_UNBOUND;
        if (ivm_is_lazy(r)) {
            first = ivm_as_lazy(r)->first;
            rest = ivm_as_lazy(r)->rest;
        } else if (ivm_is_cons(r)) {
            first = ivm_as_cons(r)->first;
            rest = ivm_as_cons(r)->rest;
        }
        first = ivm_vm_barrier(vm, first); /* the nodes are mutable cells */
        rest = ivm_vm_barrier(vm, rest);
        for (size_t i = 0; i < chain.len; i++)
            if (!ivm_lazy_realized(chain.items[i])) {
                ivm_vm_shade(vm, __atomic_load_n(&ivm_as_lazy(chain.items[i])->thunk,
                                                 __ATOMIC_ACQUIRE));
                ivm_lazy_set(chain.items[i], first, rest);
            }
    }
    ivm_worklist_free(&chain);
    return st;
}

ivm_status ivm_lazy_realize(ivm_vm *vm, ivm_value node)
{
    if (ivm_lazy_realized(node))
        return IVM_OK;
    uint32_t roots = vm->nc_roots;
    ivm_status st = realize(vm, node);
    vm->nc_roots = roots;
    return st;
}

static bool force_on_this_thread(ivm_value node)
{
    ivm_vm *vm = thread_vm;
    if (!vm)
        return false;
    ivm_status st = ivm_lazy_realize(vm, node);
    if (st != IVM_OK && vm->force_status == IVM_OK)
        vm->force_status = st;
    return st == IVM_OK;
}

void ivm_lazy_install(ivm_vm *vm)
{
    thread_vm = vm;
    ivm_lazy_force_hook = force_on_this_thread;
}

void ivm_lazy_forget(ivm_vm *vm)
{
    if (thread_vm == vm)
        thread_vm = NULL;
}

/* A global read before it is bound: it may be the compiler's to define on
 * first use (a prelude section, for a file compiled in another VM). */
static ivm_status unbound_global(ivm_vm *vm, ivm_value name, ivm_value *slot, ivm_value *value)
{
    if (vm->rt->autoload_hook && vm->rt->autoload_hook(vm, name)) {
        *value = __atomic_load_n(slot, __ATOMIC_RELAXED);
        if (*value != IVM_UNBOUND)
            return IVM_OK;
    }
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, "unbound global: ");
    ivm_print(&vm->heap, &b, name, false);
    return ivm_raise_buf(vm, &b);
}

/* Keywords, maps, sets and vectors are functions, as in Clojure:
 * (:k m), (:k m default), (m k), (m k default), (#{..} x), ([..] i). */
static ivm_status call_value(ivm_vm *vm, ivm_value fn, const ivm_value *args,
                             uint32_t nargs, ivm_value *result)
{
    bool keyword = ivm_is_kind(fn, IVM_K_KEYWORD);
    if (!keyword && !ivm_is_map(fn) && !ivm_is_set(fn) && !ivm_is_vector(fn))
        return ivm_raise_type(vm, "only functions can be called", fn);
    if (nargs < 1 || nargs > 2 || (ivm_is_vector(fn) && nargs != 1))
        return ivm_raise_arity(vm, fn, nargs);
    ivm_value coll = keyword ? args[0] : fn, key = keyword ? fn : args[0];
    ivm_value missing = nargs == 2 ? args[1] : IVM_NIL;
    if (ivm_is_vector(coll)) {
        if (!ivm_is_int(key))
            return ivm_raise_type(vm, "a vector's index must be an integer", key);
        int64_t i = ivm_int_value(key);
        if (i < 0 || (uint64_t)i >= ivm_vec_count(coll))
            return ivm_raise(vm, "Index out of bounds");
        *result = ivm_vec_nth(coll, (uint64_t)i);
    } else if (ivm_is_map(coll)) {
        if (!ivm_map_get(&vm->heap, coll, key, result))
            *result = missing;
    } else if (ivm_is_set(coll)) {
        *result = ivm_set_contains(&vm->heap, coll, key) ? key : missing;
    } else {
        *result = missing;
    }
    return IVM_OK;
}

/* Records the frames above depth `stop` in the error's trace, innermost
 * first, after whatever deeper frames (from nested calls) are already
 * there. */
static void record_trace(ivm_vm *vm, uint32_t stop)
{
    uint32_t depth = ivm_stack_depth(vm);
    if (depth <= stop)
        return;
    uint32_t keep = IVM_TRACE_MAX - vm->ntrace;
    if (depth - stop > keep)
        vm->trace_dropped += depth - stop - keep;
    else
        keep = depth - stop;
    for (uint32_t i = 0; i < keep; i++) {
        const ivm_frame *f = ivm_stack_frame_at(vm, depth - 1 - i);
        vm->trace[vm->ntrace++] = (ivm_trace_entry){f->closure, f->pc ? f->pc - 1 : 0};
    }
}

/* ---- The loop ---------------------------------------------------------- */

#define A IVM_GET_A(ins)
#define B IVM_GET_B(ins)
#define C IVM_GET_C(ins)
#define BX IVM_GET_BX(ins)

#define LOAD_FRAME()                                                           \
    do {                                                                       \
        f = &vm->frames[vm->nframes - 1];                                      \
        p = ivm_as_proto(ivm_as_closure(f->closure)->proto);                   \
        code = ivm_proto_code(p);                                              \
        K = ivm_proto_consts(p);                                               \
        R = vm->stack + f->base;                                               \
        pc = code + f->pc;                                                     \
    } while (0)
#define SAVE_PC() (f->pc = (uint32_t)(pc - code))
/* Raise-and-unwind: `st` is the failed status. */
#define CHECK(expr)                                                            \
    do {                                                                       \
        st = (expr);                                                           \
        if (UNLIKELY(st != IVM_OK))                                            \
            goto fail;                                                         \
    } while (0)
/* A reduction; `live` is how many of the running frame's registers hold
 * values at this point (vm.h, top_live). */
#define REDUCE_LIVE(live)                                                      \
    do {                                                                       \
        if (UNLIKELY(--budget <= 0)) {                                         \
            SAVE_PC();                                                         \
            CHECK(safepoint(vm, (live)));                                      \
            LOAD_FRAME();                                                      \
            budget = vm->budget;                                               \
        }                                                                      \
    } while (0)
/* At a backward jump any register may be live. */
#define REDUCE() REDUCE_LIVE(UINT32_MAX)
/* On entry to a function only its parameters are. */
#define REDUCE_ENTRY() REDUCE_LIVE((uint32_t)p->nparams + (p->flags & IVM_PROTO_VARIADIC ? 1u : 0u))
/* After a call of a native at R[A], registers up to A (its result) are:
 * a call may overwrite every register from R[A] up (opcodes.h), so what
 * lies above is spent. Stops at once for a requested collection: natives
 * may allocate without bound between reductions. */
#define POLL_AFTER_CALL()                                                      \
    do {                                                                       \
        if (UNLIKELY(ivm_arena_collect_requested(vm->heap.arena)))                        \
            budget = 1;                                                        \
        REDUCE_LIVE(A + 1u);                                                   \
    } while (0)
/* The JMP after a test: taken when the outcome equals k. */
#define COND_JUMP(cond, k)                                                     \
    do {                                                                       \
        if ((cond) == (k)) {                                                   \
            int off_ = IVM_GET_SJ(*pc);                                        \
            pc += 1 + off_;                                                    \
            if (off_ < 0)                                                      \
                REDUCE();                                                      \
        } else {                                                               \
            pc++;                                                              \
        }                                                                      \
        NEXT;                                                                  \
    } while (0)
#define BOTH_FIXNUMS(x, y) ((x) & (y) & 1)
#define FLONUM_OP(x, y, op)                                                    \
    ivm_float(&vm->heap, ivm_float_value(x) op ivm_float_value(y))

#ifdef IVM_COMPUTED_GOTO
#define CASE(name) L_##name:
#define NEXT                                                                   \
    do {                                                                       \
        ins = *pc++;                                                           \
        goto *dispatch[IVM_GET_OP(ins)];                                       \
    } while (0)
#define DISPATCH_BEGIN NEXT;
#define DISPATCH_END
#else
#define CASE(name) case IVM_OP_##name:
#define NEXT goto next_instruction
#define DISPATCH_BEGIN                                                         \
    next_instruction:                                                          \
    ins = *pc++;                                                               \
    switch (IVM_GET_OP(ins)) {
#define DISPATCH_END                                                           \
    default: __builtin_unreachable();                                          \
    }
#endif

/* The frame count of the current segment at which a return needs a look
 * (ivm_stack_returned): where the run's `stop` depth lies, or the
 * segment's bottom. */
static inline uint32_t floor_of(const ivm_vm *vm, uint32_t stop)
{
    return stop > vm->depth_below ? stop - vm->depth_below : 0;
}

/* Runs until the stack's depth drops back to `stop`, or until a process
 * stops at a safepoint (ivm_resume). `resuming`: the top frame is not at
 * its entry but where such a stop left it. */
static ivm_status run(ivm_vm *vm, uint32_t stop, bool resuming)
{
#ifdef IVM_COMPUTED_GOTO
    static const void *const dispatch[IVM_OP_COUNT] = {
#define IVM_OPCODE_LABEL(name, fmt, a, b, c) [IVM_OP_##name] = &&L_##name,
        IVM_OPCODES(IVM_OPCODE_LABEL)
#undef IVM_OPCODE_LABEL
    };
#endif
    ivm_frame *f;
    ivm_proto *p;
    const uint32_t *code, *pc;
    const ivm_value *K;
    ivm_value *R;
    uint32_t ins;
    ivm_status st;
    int32_t budget = vm->budget;
    uint32_t floor = floor_of(vm, stop);
    thread_vm = vm;
    LOAD_FRAME();
    /* entry from C: a native calling back in may allocate much */
    if (UNLIKELY(ivm_arena_collect_requested(vm->heap.arena)))
        budget = 1;
    if (!resuming) {
        REDUCE_ENTRY();
    } else if (UNLIKELY(ivm_arena_collect_requested(vm->heap.arena))) {
        /* a collection only: yielding here again would make no progress */
        ivm_vm_collect(vm);
        LOAD_FRAME();
    }

    DISPATCH_BEGIN

    CASE(MOVE) { R[A] = R[B]; NEXT; }
    CASE(LOADK) { R[A] = K[BX]; NEXT; }
    CASE(LOADI) { R[A] = ivm_fixnum(IVM_GET_SBX(ins)); NEXT; }
    CASE(LOADNIL) {
        for (unsigned i = 0; i <= B; i++)
            R[A + i] = IVM_NIL;
        NEXT;
    }
    CASE(LOADTRUE) { R[A] = IVM_TRUE; NEXT; }
    CASE(LOADFALSE) { R[A] = IVM_FALSE; NEXT; }
    CASE(GETGLOBAL) {
        ivm_value *slot = &vm->globals[ivm_proto_gslots(p)[BX]].value;
        ivm_value v = __atomic_load_n(slot, __ATOMIC_RELAXED);
        if (UNLIKELY(v == IVM_UNBOUND)) {
            SAVE_PC();
            CHECK(unbound_global(vm, K[BX], slot, &v));
        }
        R[A] = v;
        NEXT;
    }
    CASE(SETGLOBAL) {
        ivm_value *g = &vm->globals[ivm_proto_gslots(p)[BX]].value;
        if (UNLIKELY(ivm_heap_no_edits(&vm->heap))) /* a concurrent cycle runs */
            ivm_global_store(vm, g, R[A]);
        else
            __atomic_store_n(g, R[A], __ATOMIC_RELEASE); /* the collector reads it */
        NEXT;
    }
    CASE(GETCAP) { R[A] = ivm_as_closure(f->closure)->caps[B]; NEXT; }
    CASE(SELF) { R[A] = R[-1]; NEXT; } /* the callee slot holds it until RET */
    CASE(CLOSURE) {
        ivm_value child = K[BX];
        ivm_value c = ivm_closure_new(&vm->heap, child);
        ivm_capture *caps = ivm_proto_caps(ivm_as_proto(child));
        ivm_value *from_caps = ivm_as_closure(f->closure)->caps;
        for (unsigned i = 0; i < ivm_as_proto(child)->ncaps; i++)
            ivm_as_closure(c)->caps[i] = caps[i].kind == IVM_CAPTURE_REGISTER
                                             ? R[caps[i].index]
                                             : from_caps[caps[i].index];
        R[A] = c;
        NEXT;
    }
    CASE(ADD) {
        ivm_value x = R[B], y = R[C];
        int64_t r;
        if (LIKELY(BOTH_FIXNUMS(x, y)) &&
            !__builtin_add_overflow((int64_t)x, (int64_t)y - 1, &r)) {
            R[A] = (ivm_value)r;
        } else if (ivm_is_flonum(x) && ivm_is_flonum(y)) {
            R[A] = FLONUM_OP(x, y, +);
        } else {
            SAVE_PC();
            CHECK(ivm_arith(vm, IVM_OP_ADD, x, y, &R[A]));
        }
        NEXT;
    }
    CASE(SUB) {
        ivm_value x = R[B], y = R[C];
        int64_t r;
        if (LIKELY(BOTH_FIXNUMS(x, y)) &&
            !__builtin_sub_overflow((int64_t)x, (int64_t)y - 1, &r)) {
            R[A] = (ivm_value)r;
        } else if (ivm_is_flonum(x) && ivm_is_flonum(y)) {
            R[A] = FLONUM_OP(x, y, -);
        } else {
            SAVE_PC();
            CHECK(ivm_arith(vm, IVM_OP_SUB, x, y, &R[A]));
        }
        NEXT;
    }
    CASE(MUL) {
        ivm_value x = R[B], y = R[C];
        int64_t r;
        if (LIKELY(BOTH_FIXNUMS(x, y)) &&
            !__builtin_mul_overflow(ivm_fixnum_value(x), (int64_t)y - 1, &r)) {
            R[A] = (ivm_value)r | 1; /* x * (2y) = 2xy: the tag bit is 0 */
        } else if (ivm_is_flonum(x) && ivm_is_flonum(y)) {
            R[A] = FLONUM_OP(x, y, *);
        } else {
            SAVE_PC();
            CHECK(ivm_arith(vm, IVM_OP_MUL, x, y, &R[A]));
        }
        NEXT;
    }
    CASE(DIV) { SAVE_PC(); CHECK(ivm_arith(vm, IVM_OP_DIV, R[B], R[C], &R[A])); NEXT; }
    CASE(QUOT) { SAVE_PC(); CHECK(ivm_arith(vm, IVM_OP_QUOT, R[B], R[C], &R[A])); NEXT; }
    CASE(REM) {
        ivm_value x = R[B], y = R[C];
        if (LIKELY(BOTH_FIXNUMS(x, y)) && ivm_fixnum_value(y) > 0) {
            R[A] = ivm_fixnum(ivm_fixnum_value(x) % ivm_fixnum_value(y));
        } else {
            SAVE_PC();
            CHECK(ivm_arith(vm, IVM_OP_REM, x, y, &R[A]));
        }
        NEXT;
    }
    CASE(MOD) { SAVE_PC(); CHECK(ivm_arith(vm, IVM_OP_MOD, R[B], R[C], &R[A])); NEXT; }
    CASE(ADDI) {
        ivm_value x = R[B];
        int64_t r;
        if (LIKELY(ivm_is_fixnum(x)) &&
            !__builtin_add_overflow((int64_t)x, (int64_t)IVM_GET_SC(ins) * 2, &r)) {
            R[A] = (ivm_value)r;
        } else {
            SAVE_PC();
            CHECK(ivm_arith(vm, IVM_OP_ADD, x, ivm_fixnum(IVM_GET_SC(ins)), &R[A]));
        }
        NEXT;
    }
    CASE(NEG) {
        ivm_value x = R[B];
        if (ivm_is_int(x)) {
            int64_t r;
            SAVE_PC();
            if (__builtin_sub_overflow(0, ivm_int_value(x), &r))
                CHECK(ivm_raise(vm, "integer overflow"));
            R[A] = ivm_int(&vm->heap, r);
        } else if (ivm_is_float(x)) {
            R[A] = ivm_float(&vm->heap, -ivm_float_value(x));
        } else {
            SAVE_PC();
            CHECK(ivm_raise_type(vm, "the operand of - must be a number", x));
        }
        NEXT;
    }
    CASE(NOT) { R[A] = ivm_bool(!ivm_truthy(R[B])); NEXT; }
    CASE(EQ) {
        ivm_value x = R[A], y = R[B];
        bool eq; /* an identical lazy sequence is equal without a look */
        if (x == y) {
            eq = !ivm_is_obj(x) || ivm_equal(x, y);
        } else if (BOTH_FIXNUMS(x, y)) {
            eq = false;
        } else {
            SAVE_PC(); /* a lazy sequence may be realized */
            eq = ivm_equal(x, y);
            if (UNLIKELY(vm->force_status != IVM_OK))
                CHECK(take_force_status(vm));
        }
        COND_JUMP(eq, C);
    }
    CASE(LT) {
        ivm_value x = R[A], y = R[B];
        bool lt;
        if (LIKELY(BOTH_FIXNUMS(x, y))) {
            lt = (int64_t)x < (int64_t)y;
        } else {
            SAVE_PC();
            CHECK(ivm_less(vm, x, y, false, &lt));
        }
        COND_JUMP(lt, C);
    }
    CASE(LE) {
        ivm_value x = R[A], y = R[B];
        bool le;
        if (LIKELY(BOTH_FIXNUMS(x, y))) {
            le = (int64_t)x <= (int64_t)y;
        } else {
            SAVE_PC();
            CHECK(ivm_less(vm, x, y, true, &le));
        }
        COND_JUMP(le, C);
    }
    /* A boxed integer never equals a small immediate (value.h), and Clojure's
     * = never equates a float with an integer. */
    CASE(EQI) { COND_JUMP(R[A] == ivm_fixnum(IVM_GET_SB(ins)), C); }
#define COMPARE_IMMEDIATE(cmp, x_first, or_equal)                              \
    do {                                                                       \
        ivm_value x = R[A], y = ivm_fixnum(IVM_GET_SB(ins));                   \
        bool r_;                                                               \
        if (LIKELY(ivm_is_fixnum(x))) {                                        \
            r_ = (int64_t)x cmp (int64_t)y;                                    \
        } else {                                                               \
            SAVE_PC();                                                         \
            CHECK(x_first ? ivm_less(vm, x, y, or_equal, &r_)                  \
                          : ivm_less(vm, y, x, or_equal, &r_));                \
        }                                                                      \
        COND_JUMP(r_, C);                                                      \
    } while (0)
    CASE(LTI) { COMPARE_IMMEDIATE(<, true, false); }
    CASE(LEI) { COMPARE_IMMEDIATE(<=, true, true); }
    CASE(GTI) { COMPARE_IMMEDIATE(>, false, false); }
    CASE(GEI) { COMPARE_IMMEDIATE(>=, false, true); }
    CASE(TEST) { COND_JUMP(ivm_truthy(R[A]), B); }
    CASE(LOOPLT) {
        ivm_value x = R[A], y = R[B];
        int64_t r;
        bool lt;
        if (LIKELY(BOTH_FIXNUMS(x, y)) &&
            !__builtin_add_overflow((int64_t)x, (int64_t)IVM_GET_SC(ins) * 2, &r)) {
            R[A] = (ivm_value)r;
            lt = r < (int64_t)y;
        } else {
            SAVE_PC();
            CHECK(ivm_arith(vm, IVM_OP_ADD, x, ivm_fixnum(IVM_GET_SC(ins)), &R[A]));
            CHECK(ivm_less(vm, R[A], y, false, &lt));
        }
        COND_JUMP(lt, true);
    }
    CASE(JMP) {
        int off = IVM_GET_SJ(ins);
        pc += off;
        if (off < 0)
            REDUCE();
        NEXT;
    }
    CASE(CALL) {
        ivm_value fn = R[A];
        uint32_t nargs = B;
        SAVE_PC();
        if (UNLIKELY(!ivm_is_kind(fn, IVM_K_CLOSURE))) {
            if (!ivm_is_kind(fn, IVM_K_MULTIFN)) { /* natives, keywords, collections */
                CHECK(ivm_is_native(fn) ? call_native(vm, fn, &R[A + 1], nargs, &R[A])
                                        : call_value(vm, fn, &R[A + 1], nargs, &R[A]));
                POLL_AFTER_CALL();
                NEXT;
            }
            CHECK(select_arity(vm, &fn, nargs));
        }
        uint32_t base = f->base + A + 1;
        ivm_proto *np = ivm_as_proto(ivm_as_closure(fn)->proto);
        if (UNLIKELY(np->nparams != nargs || (np->flags & IVM_PROTO_VARIADIC) ||
                     base + np->nregs > vm->stack_high ||
                     vm->nframes >= vm->frame_cap)) {
            CHECK(prepare_call(vm, fn, &base, nargs, false));
            floor = floor_of(vm, stop);
        }
        vm->frames[vm->nframes++] = (ivm_frame){fn, 0, base};
        LOAD_FRAME();
        REDUCE_ENTRY();
        NEXT;
    }
    CASE(TAILCALL) {
        ivm_value fn = R[A];
        uint32_t nargs = B;
        SAVE_PC();
        if (UNLIKELY(vm->nhandlers))
            drop_handlers(vm, ivm_stack_depth(vm) - 1);
        if (UNLIKELY(!ivm_is_kind(fn, IVM_K_CLOSURE))) {
            if (!ivm_is_kind(fn, IVM_K_MULTIFN)) {
                CHECK(ivm_is_native(fn) ? call_native(vm, fn, &R[A + 1], nargs, &R[-1])
                                        : call_value(vm, fn, &R[A + 1], nargs, &R[-1]));
                goto return_from_frame;
            }
            CHECK(select_arity(vm, &fn, nargs));
        }
        /* slide the callee and its arguments down over this frame */
        memmove(R - 1, R + A, (nargs + 1) * sizeof *R);
        uint32_t base = f->base;
        ivm_segment *seg = vm->seg;
        CHECK(prepare_call(vm, fn, &base, nargs, true));
        if (UNLIKELY(vm->seg != seg)) { /* moved to a new segment */
            vm->frames[vm->nframes++] = (ivm_frame){fn, 0, base};
            floor = floor_of(vm, stop);
        } else {
            f->closure = fn;
            f->pc = 0;
        }
        LOAD_FRAME();
        REDUCE_ENTRY();
        NEXT;
    }
    CASE(RET) {
        R[-1] = R[A];
    return_from_frame:
        if (UNLIKELY(vm->nhandlers))
            drop_handlers(vm, ivm_stack_depth(vm) - 1);
        if (UNLIKELY(--vm->nframes == floor)) {
            if (ivm_stack_returned(vm, stop)) {
                vm->budget = budget;
                return IVM_OK;
            }
            floor = floor_of(vm, stop);
        }
        LOAD_FRAME();
        NEXT;
    }

    CASE(MULTIFN) {
        for (unsigned i = 0; i < C; i++)
            if (!ivm_is_kind(R[B + i], IVM_K_CLOSURE)) {
                SAVE_PC();
                CHECK(ivm_raise_type(vm, "MULTIFN takes closures", R[B + i]));
            }
        R[A] = ivm_multifn_new(&vm->heap, &R[B], C);
        NEXT;
    }
    CASE(TRY) {
        SAVE_PC();
        CHECK(push_handler(vm, ivm_stack_depth(vm) - 1, f->pc + (uint32_t)IVM_GET_SBX(ins), A));
        NEXT;
    }
    CASE(ENDTRY) {
        if (vm->nhandlers && vm->handlers[vm->nhandlers - 1].frame == ivm_stack_depth(vm) - 1)
            vm->nhandlers--;
        NEXT;
    }
    CASE(VECTOR) {
        R[A] = ivm_vec_from(&vm->heap, &R[B], C);
        NEXT;
    }
    CASE(THROW) {
        SAVE_PC();
        st = ivm_raise_value(vm, R[A]);
        goto fail;
    }

    DISPATCH_END

fail:
    if (st == IVM_RELOAD) {
        IVM_ASSERT(ivm_may_block(vm) && stop == 0);
        if (ivm_stack_depth(vm) == 0) { /* a tail call's fork: all returned */
            vm->budget = budget;
            return IVM_OK;
        }
        floor = floor_of(vm, stop);
        LOAD_FRAME();
        NEXT;
    }
    if (st == IVM_BLOCKED || st == IVM_YIELD) {
        /* a process stops (ivm_resume): a blocked native is called again
         * when it resumes; after a yield the frame may have moved (fork),
         * so `f` is not touched */
        IVM_ASSERT(ivm_may_block(vm));
        if (st == IVM_BLOCKED)
            f->pc = (uint32_t)(pc - code) - 1;
        vm->budget = vm->budget_reset; /* its next slice is a full one */
        return st;
    }
    /* An error goes to the innermost handler of a frame this run owns;
     * handlers of frames below `stop` belong to an outer run. */
    if (st == IVM_ERROR && vm->nhandlers &&
        vm->handlers[vm->nhandlers - 1].frame >= stop) {
        ivm_handler h = vm->handlers[--vm->nhandlers];
        ivm_stack_unwind(vm, h.frame + 1);
        floor = floor_of(vm, stop);
        LOAD_FRAME();
        pc = code + h.catch_pc;
        R[h.reg] = vm->error;
        NEXT;
    }
    vm->budget = budget;
    if (st == IVM_ERROR)
        record_trace(vm, stop);
    drop_handlers(vm, stop);
    ivm_stack_unwind(vm, stop);
    return st;
}

/* ---- Entry from C ------------------------------------------------------ */

/* Puts the call of closure fn on the stack above the top frame (a native
 * that calls back in has its arguments there), in a new segment if its
 * callee and arguments do not fit (prepare_call moves them on when its
 * registers do not). *ret: the slot of the current segment its result
 * will be in. */
/* `callee` is the function as called (a multi-arity function's callee
 * slot keeps it, which SELF reads), fn the closure that runs. */
static ivm_status push_call(ivm_vm *vm, ivm_value callee, ivm_value fn, uint32_t nargs,
                            const ivm_value *args, uint32_t *ret)
{
    uint32_t top = vm->nframes ? ivm_frame_end(&vm->frames[vm->nframes - 1]) : 0;
    uint32_t stop = ivm_stack_depth(vm);
    *ret = top;
    ivm_status st;
    if ((uint64_t)top + 1 + nargs >= vm->slot_cap) {
        /* The result comes back to slot top; stack_high covers it, but
         * stays below slot_cap: the CALL fast path trusts a frame ending at
         * stack_high to leave the segment's last slot free (prepare_call). */
        if (top + 1 > vm->stack_high)
            vm->stack_high = top + 1 < vm->slot_cap ? top + 1 : vm->slot_cap - 1;
        st = ivm_stack_grow(vm, top, 1 + nargs);
        if (st != IVM_OK)
            return st;
        top = 0;
    }
    if (top + 1 + nargs > vm->stack_high)
        vm->stack_high = top + 1 + nargs;
    vm->stack[top] = callee;
    if (nargs) /* args may be NULL when there are none */
        memcpy(&vm->stack[top + 1], args, nargs * sizeof *args);
    uint32_t base = top + 1;
    st = prepare_call(vm, fn, &base, nargs, false);
    if (st != IVM_OK) {
        ivm_stack_unwind(vm, stop);
        return st;
    }
    vm->frames[vm->nframes++] = (ivm_frame){fn, 0, base};
    return IVM_OK;
}

/* Runs natives, multi-arity functions and callable values at once; for a
 * closure says *is_closure and leaves fn the closure to call. */
static ivm_status call_direct(ivm_vm *vm, ivm_value *fn, uint32_t nargs,
                              const ivm_value *args, ivm_value *result,
                              bool *is_closure)
{
    *is_closure = false;
    if (ivm_is_native(*fn))
        return call_native(vm, *fn, args, nargs, result);
    if (ivm_is_kind(*fn, IVM_K_MULTIFN)) {
        ivm_status st = select_arity(vm, fn, nargs);
        if (st != IVM_OK)
            return st;
    }
    if (!ivm_is_kind(*fn, IVM_K_CLOSURE))
        return call_value(vm, *fn, args, nargs, result);
    *is_closure = true;
    return IVM_OK;
}

ivm_status ivm_call(ivm_vm *vm, ivm_value fn, uint32_t nargs,
                    const ivm_value *args, ivm_value *result)
{
    bool closure;
    ivm_value callee = fn;
    ivm_status st = call_direct(vm, &fn, nargs, args, result, &closure);
    if (st != IVM_OK || !closure)
        return st;
    if (vm->nested_calls >= IVM_MAX_NESTED_CALLS)
        return stack_overflow(vm);
    ivm_segment *seg = vm->seg;
    uint32_t stop = ivm_stack_depth(vm), ret;
    st = push_call(vm, callee, fn, nargs, args, &ret);
    if (st != IVM_OK)
        return st;
    vm->nested_calls++;
    st = run(vm, stop, false);
    vm->nested_calls--;
    IVM_ASSERT(st != IVM_BLOCKED && st != IVM_YIELD);
    /* back in the caller's segment: the result is in its callee slot */
    IVM_ASSERT(vm->seg == seg);
    (void)seg;
    if (st == IVM_OK)
        *result = vm->stack[ret];
    return st;
}

ivm_status ivm_start_call(ivm_vm *vm, ivm_value fn, uint32_t nargs,
                          const ivm_value *args, ivm_value *result)
{
    IVM_ASSERT(ivm_stack_depth(vm) == 0);
    bool closure;
    ivm_value callee = fn;
    ivm_status st = call_direct(vm, &fn, nargs, args, result, &closure);
    if (st != IVM_OK || !closure)
        return st;
    uint32_t ret;
    return push_call(vm, callee, fn, nargs, args, &ret);
}

ivm_status ivm_resume(ivm_vm *vm, bool at_entry, ivm_value *result)
{
    if (ivm_stack_depth(vm) == 0) { /* a fork's tail call left no frame */
        *result = vm->stack[0];
        return IVM_OK;
    }
    uint32_t run_base = vm->run_base;
    vm->run_base = ++vm->nested_calls;
    ivm_status st = run(vm, 0, !at_entry);
    vm->nested_calls--;
    vm->run_base = run_base;
    if (st == IVM_OK)
        *result = vm->stack[0];
    return st;
}
