/* The VM's life cycle, its roots for the collector, globals, errors and
 * buffered output. */
#include "bytecode/vm.h"

#include <stddef.h>

#include "ivm/platform.h"

/* ---- Life cycle -------------------------------------------------------- */

_Static_assert(offsetof(ivm_vm, heap) == 0, "native_name finds the VM from its heap");

static const char *native_name(const ivm_heap *h, uint32_t index)
{
    const ivm_vm *vm = (const ivm_vm *)h; /* the heap is the VM's first member */
    return index < vm->rt->nnatives ? vm->rt->natives[index]->name : "native";
}

static void add_size(ivm_buf *b, size_t bytes)
{
    if (bytes >= ((size_t)1 << 30) && bytes % ((size_t)1 << 30) == 0) {
        ivm_buf_add_int(b, (int64_t)(bytes >> 30));
        ivm_buf_add_cstr(b, " GiB");
    } else {
        ivm_buf_add_int(b, (int64_t)(bytes >> 20));
        ivm_buf_add_cstr(b, " MiB");
    }
}

static _Noreturn void out_of_memory(void *context, size_t heap_bytes)
{
    ivm_vm *vm = context;
    ivm_vm_flush(vm);
    ivm_buf msg = {0};
    ivm_buf_add_cstr(&msg, "ivm: out of memory: the ");
    add_size(&msg, heap_bytes);
    ivm_buf_add_cstr(&msg, " heap is full (see --heap); ");
    add_size(&msg, vm->rt->gc.stats.live_bytes);
    ivm_buf_add_cstr(&msg, " were live after the last of ");
    ivm_buf_add_int(&msg, (int64_t)vm->rt->gc.stats.collections);
    ivm_buf_add_cstr(&msg, " collections\n");
    ivm_platform_write(IVM_STDERR, msg.data, msg.len);
    ivm_platform_exit(1);
}

/* ---- Roots ------------------------------------------------------------- */

/* One thread's roots: its running stack, its error and trace, and what its
 * natives rooted. */
void ivm_vm_thread_roots(ivm_vm *vm, ivm_gc *gc)
{
    ivm_stack_visit_running(vm, gc);
    ivm_gc_visit(gc, &vm->error);
    for (uint32_t i = 0; i < vm->ntrace; i++)
        ivm_gc_visit(gc, &vm->trace[i].function);
    for (uint32_t i = 0; i < vm->nc_roots; i++) {
        if (vm->c_roots[i].slot)
            ivm_gc_visit(gc, vm->c_roots[i].slot);
        else
            ivm_gc_visit_range(gc, vm->c_roots[i].list->items, vm->c_roots[i].list->len);
    }
}

void ivm_vm_shared_roots(ivm_runtime *rt, ivm_gc *gc)
{
    for (uint32_t i = 0; i < rt->nglobals; i++) {
        ivm_gc_visit(gc, &rt->globals[i].name);
        ivm_gc_visit(gc, &rt->globals[i].value);
    }
    for (uint32_t i = 0; i < rt->nmodules; i++) {
        ivm_gc_visit(gc, &rt->modules[i]->source);
        ivm_gc_visit_range(gc, rt->modules[i]->protos, rt->modules[i]->nprotos);
    }
}

static void runtime_roots(void *context, ivm_gc *gc)
{
    ivm_runtime *rt = context;
    ivm_vm_shared_roots(rt, gc);
    for (uint32_t i = 0; i < rt->nvms; i++)
        ivm_vm_thread_roots(rt->vms[i], gc);
    if (rt->roots_hook)
        rt->roots_hook(rt->hook_context, gc);
}

static void add_c_root(ivm_vm *vm, ivm_c_root root)
{
    if (vm->nc_roots == IVM_MAX_C_ROOTS) {
        ivm_platform_write(IVM_STDERR, "ivm: internal error: too many C roots\n", 38);
        ivm_platform_exit(70);
    }
    vm->c_roots[vm->nc_roots++] = root;
}

void ivm_root(ivm_vm *vm, ivm_value *slot) { add_c_root(vm, (ivm_c_root){slot, NULL}); }
void ivm_root_list(ivm_vm *vm, ivm_worklist *list) { add_c_root(vm, (ivm_c_root){NULL, list}); }

/* ---- Stopping the world ------------------------------------------------- */

/* The collection itself, by `vm`'s thread once every other thread stopped
 * or parked. The others' cursors give their regions up (filler for the
 * rest), so that every region but this thread's is walkable to its end. */
static void collect_stopped(ivm_vm *vm)
{
    ivm_runtime *rt = vm->rt;
    /* Outside any native (the host's own ivm_call is nested_calls 1),
     * nothing but the roots refers to objects: they may move. */
    bool may_move = true;
    for (uint32_t i = 0; i < rt->nvms; i++) {
        ivm_vm *t = rt->vms[i];
        may_move = may_move && t->nested_calls <= 1;
        if (t != vm)
            ivm_arena_retire(vm->heap.arena, &t->heap.bump);
    }
    rt->gc.heap = &vm->heap;
    __atomic_store_n(&rt->gc_full, false, __ATOMIC_RELAXED);
    ivm_gc_collect(&rt->gc, may_move);
    for (uint32_t i = 0; i < rt->nvms; i++)
        ivm_stack_clear_running(rt->vms[i]);
    if (rt->after_collect_hook)
        rt->after_collect_hook(rt->hook_context);
}

void ivm_vm_collect(ivm_vm *vm)
{
    ivm_runtime *rt = vm->rt;
    if (vm->gc_hold) /* the arena keeps asking; a later safepoint collects */
        return;
    if (rt->gc_concurrent && ivm_vm_concurrent_collect(vm))
        return;
    ivm_platform_mutex_lock(rt->lock);
    if (rt->stopping) { /* another thread collects: stop here until it is done */
        uint64_t epoch = rt->epoch;
        rt->waiting++;
        ivm_platform_cond_signal(rt->stopped_cond);
        while (rt->epoch == epoch)
            ivm_platform_cond_wait(rt->resume_cond, rt->lock);
        ivm_platform_mutex_unlock(rt->lock);
        vm->top_live = UINT32_MAX;
        return;
    }
    if ((rt->nvms > 1 && !ivm_arena_collect_requested(vm->heap.arena)) || rt->gc_running) {
        ivm_platform_mutex_unlock(rt->lock); /* served by another thread */
        return;
    }
    rt->stopping = true;
    while (rt->waiting + 1 < rt->active)
        ivm_platform_cond_wait(rt->stopped_cond, rt->lock);
    ivm_platform_mutex_unlock(rt->lock);
    collect_stopped(vm);
    ivm_platform_mutex_lock(rt->lock);
    /* the waiters leave without a word: a next collection must not count
     * one that has not yet woken as stopped */
    rt->waiting = 0;
    rt->stopping = false;
    rt->epoch++;
    ivm_platform_cond_broadcast(rt->resume_cond);
    ivm_platform_mutex_unlock(rt->lock);
    vm->top_live = UINT32_MAX;
}

void ivm_vm_park(ivm_vm *vm)
{
    ivm_runtime *rt = vm->rt;
    ivm_platform_mutex_lock(rt->lock);
    IVM_ASSERT(!vm->parked);
    vm->parked = true;
    rt->active--;
    if (rt->stopping)
        ivm_platform_cond_signal(rt->stopped_cond);
    ivm_platform_mutex_unlock(rt->lock);
}

void ivm_vm_unpark(ivm_vm *vm)
{
    ivm_runtime *rt = vm->rt;
    ivm_platform_mutex_lock(rt->lock);
    IVM_ASSERT(vm->parked);
    while (rt->stopping || vm->gc_claimed)
        ivm_platform_cond_wait(rt->resume_cond, rt->lock);
    vm->parked = false;
    rt->active++;
    ivm_platform_mutex_unlock(rt->lock);
}

void ivm_vm_gc_debug(ivm_vm *vm, bool verify, uint32_t stress_every)
{
    ivm_runtime *rt = vm->rt;
    rt->gc.verify = verify;
    ivm_gc_set_stress(&rt->gc, stress_every);
    for (uint32_t i = 0; i < rt->nvms; i++) /* every thread's, while none runs */
        rt->vms[i]->budget = rt->vms[i]->budget_reset = stress_every ? 1 : IVM_REDUCTION_BUDGET;
}

/* ---- Life cycle of a thread's VM and of the runtime --------------------- */

static bool add_thread(ivm_runtime *rt, ivm_vm *vm)
{
    ivm_platform_mutex_lock(rt->lock);
    bool ok = true;
    if (rt->nvms == rt->vms_cap) {
        uint32_t cap = rt->vms_cap ? rt->vms_cap * 2 : 8;
        ivm_vm **t = ivm_platform_realloc(rt->vms, cap * sizeof *t);
        if (t) {
            rt->vms = t;
            rt->vms_cap = cap;
        }
        ok = t != NULL;
    }
    if (ok) {
        rt->vms[rt->nvms++] = vm;
        if (!vm->parked)
            rt->active++;
    }
    ivm_platform_mutex_unlock(rt->lock);
    return ok;
}

static void remove_thread(ivm_runtime *rt, ivm_vm *vm)
{
    ivm_platform_mutex_lock(rt->lock);
    for (uint32_t i = 0; i < rt->nvms; i++)
        if (rt->vms[i] == vm) {
            rt->vms[i] = rt->vms[--rt->nvms];
            if (!vm->parked)
                rt->active--;
            break;
        }
    ivm_platform_mutex_unlock(rt->lock);
}

static void heap_shade(ivm_heap *h, ivm_value v) { ivm_vm_shade((ivm_vm *)h, v); }
static ivm_value heap_forward(ivm_heap *h, ivm_value v) { return ivm_vm_forward((ivm_vm *)h, v); }

/* A thread's own parts: its host stack and its place in the thread list. */
static bool init_thread_parts(ivm_vm *vm)
{
    vm->globals = vm->rt->globals;
    vm->heap.native_name = native_name;
    vm->budget = vm->budget_reset = IVM_REDUCTION_BUDGET;
    vm->top_live = UINT32_MAX;
    vm->proc_id = 1;
    ivm_stack host;
    if (!ivm_stack_init(&host, IVM_HOST_STACK_SLOTS))
        return false;
    ivm_stack none;
    ivm_stack_switch(vm, &none, &host);
    vm->gc_visitor = ivm_platform_malloc(sizeof *vm->gc_visitor);
    if (!vm->gc_visitor || !ivm_gc_init_visitor(vm->gc_visitor, &vm->rt->gc))
        return false;
    vm->gc_visitor->heap = &vm->heap;
    vm->heap.shade = heap_shade;
    vm->heap.forward = heap_forward;
    return add_thread(vm->rt, vm);
}

static bool init_runtime(ivm_runtime *rt, ivm_heap *heap)
{
    rt->lock = ivm_platform_mutex_new();
    rt->out_lock = ivm_platform_mutex_new();
    rt->stopped_cond = ivm_platform_cond_new();
    rt->resume_cond = ivm_platform_cond_new();
    rt->globals = ivm_platform_reserve((size_t)IVM_MAX_GLOBALS * sizeof(ivm_global), 0);
    rt->global_index_cap = 256;
    rt->global_index = ivm_platform_malloc(rt->global_index_cap * sizeof(uint32_t));
    if (!rt->lock || !rt->out_lock || !rt->stopped_cond || !rt->resume_cond || !rt->globals ||
        !rt->global_index || !ivm_gc_init(&rt->gc, heap))
        return false;
    memset(rt->global_index, 0xff, rt->global_index_cap * sizeof(uint32_t));
    ivm_gc_set_roots(&rt->gc, runtime_roots, rt);
    return true;
}

static void destroy_runtime(ivm_runtime *rt)
{
    ivm_collector_stop(rt);
    if (rt->gc_wake)
        ivm_platform_cond_free(rt->gc_wake);
    if (rt->gc_done_cond)
        ivm_platform_cond_free(rt->gc_done_cond);
    for (uint32_t i = 0; i < rt->nmodules; i++) {
        ivm_platform_free(rt->modules[i]->protos);
        ivm_platform_free(rt->modules[i]);
    }
    ivm_platform_free(rt->modules);
    ivm_platform_free(rt->natives);
    if (rt->globals)
        ivm_platform_release(rt->globals, (size_t)IVM_MAX_GLOBALS * sizeof(ivm_global));
    ivm_platform_free(rt->global_index);
    ivm_platform_free(rt->vms);
    if (rt->gc.heap)
        ivm_gc_destroy(&rt->gc);
    if (rt->lock)
        ivm_platform_mutex_free(rt->lock);
    if (rt->out_lock)
        ivm_platform_mutex_free(rt->out_lock);
    if (rt->stopped_cond)
        ivm_platform_cond_free(rt->stopped_cond);
    if (rt->resume_cond)
        ivm_platform_cond_free(rt->resume_cond);
    ivm_platform_free(rt);
}

bool ivm_vm_init(ivm_vm *vm, size_t heap_bytes, ivm_arena_mode mode)
{
    memset(vm, 0, sizeof *vm);
    if (!ivm_heap_init(&vm->heap, heap_bytes, mode))
        return false;
    ivm_arena_set_oom_hook(vm->heap.arena, out_of_memory, vm);
    vm->rt = ivm_platform_calloc(1, sizeof *vm->rt);
    vm->owns_rt = vm->rt != NULL;
    if (!vm->rt || !init_runtime(vm->rt, &vm->heap) || !init_thread_parts(vm)) {
        ivm_vm_destroy(vm);
        return false;
    }
    ivm_vm_add_natives(vm, ivm_base_natives, ivm_base_native_count);
    ivm_lazy_install(vm);
    return true;
}

bool ivm_vm_init_thread(ivm_vm *vm, ivm_vm *main)
{
    memset(vm, 0, sizeof *vm);
    ivm_heap_init_thread(&vm->heap, &main->heap);
    vm->rt = main->rt;
    vm->parked = true;
    if (!init_thread_parts(vm)) {
        ivm_vm_destroy(vm);
        return false;
    }
    vm->budget = vm->budget_reset = main->budget_reset;
    return true;
}

void ivm_vm_add_natives(ivm_vm *vm, const ivm_native_def *defs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (vm->rt->nnatives == vm->rt->natives_cap) {
            uint32_t cap = vm->rt->natives_cap ? vm->rt->natives_cap * 2 : 64;
            const ivm_native_def **t = ivm_platform_realloc(vm->rt->natives, cap * sizeof *t);
            if (!t)
                ivm_platform_exit(70);
            vm->rt->natives = t;
            vm->rt->natives_cap = cap;
        }
        vm->rt->natives[vm->rt->nnatives] = &defs[i];
        ivm_global_set(vm, defs[i].name, ivm_native(vm->rt->nnatives++));
    }
}

void ivm_vm_destroy(ivm_vm *vm)
{
    ivm_lazy_forget(vm);
    if (vm->rt)
        remove_thread(vm->rt, vm);
    ivm_platform_free(vm->handlers);
    if (vm->seg) {
        ivm_stack running = {vm->seg, NULL, 0, 0};
        vm->seg->nframes = vm->nframes;
        ivm_stack_free(&running);
    }
    ivm_platform_proc_free(vm->spare);
    ivm_buf_free(&vm->out);
    if (vm->gc_visitor) {
        ivm_gc_destroy_visitor(vm->gc_visitor);
        ivm_platform_free(vm->gc_visitor);
    }
    if (vm->owns_rt) {
        IVM_ASSERT(vm->rt->nvms == 0); /* the other threads' VMs went first */
        destroy_runtime(vm->rt);
    }
    ivm_heap_destroy(&vm->heap);
    memset(vm, 0, sizeof *vm);
}

/* ---- Globals ----------------------------------------------------------- */

static void global_index_insert(ivm_runtime *rt, uint32_t slot)
{
    uint32_t mask = rt->global_index_cap - 1;
    uint32_t i = ivm_hash(rt->globals[slot].name) & mask;
    while (rt->global_index[i] != UINT32_MAX)
        i = (i + 1) & mask;
    rt->global_index[i] = slot;
}

static void global_index_grow(ivm_runtime *rt)
{
    ivm_platform_free(rt->global_index);
    rt->global_index_cap *= 2;
    rt->global_index = ivm_platform_malloc(rt->global_index_cap * sizeof(uint32_t));
    if (!rt->global_index)
        ivm_platform_exit(70);
    memset(rt->global_index, 0xff, rt->global_index_cap * sizeof(uint32_t));
    for (uint32_t s = 0; s < rt->nglobals; s++)
        global_index_insert(rt, s);
}

static uint32_t global_slot_locked(ivm_runtime *rt, ivm_value name)
{
    uint32_t mask = rt->global_index_cap - 1;
    for (uint32_t i = ivm_hash(name) & mask; rt->global_index[i] != UINT32_MAX;
         i = (i + 1) & mask)
        if (ivm_equal(rt->globals[rt->global_index[i]].name, name))
            return rt->global_index[i];
    if (rt->nglobals == IVM_MAX_GLOBALS) {
        static const char m[] = "ivm: too many globals\n";
        ivm_platform_write(IVM_STDERR, m, sizeof m - 1);
        ivm_platform_exit(70);
    }
    uint32_t slot = rt->nglobals;
    rt->globals[slot] = (ivm_global){name, IVM_UNBOUND};
    rt->nglobals++;
    if (rt->nglobals * 2 > rt->global_index_cap)
        global_index_grow(rt);
    else
        global_index_insert(rt, slot);
    return slot;
}

uint32_t ivm_global_slot(ivm_vm *vm, ivm_value name)
{
    ivm_platform_mutex_lock(vm->rt->lock);
    uint32_t slot = global_slot_locked(vm->rt, name);
    ivm_platform_mutex_unlock(vm->rt->lock);
    return slot;
}

void ivm_global_store(ivm_vm *vm, ivm_value *slot, ivm_value value)
{
    ivm_vm_shade(vm, __atomic_load_n(slot, __ATOMIC_RELAXED));
    __atomic_store_n(slot, ivm_vm_barrier(vm, value), __ATOMIC_RELEASE);
}

void ivm_global_set(ivm_vm *vm, const char *name, ivm_value value)
{
    uint32_t slot = ivm_global_slot(vm, ivm_symbol_cstr(&vm->heap, name));
    ivm_global_store(vm, &vm->globals[slot].value, value);
}

/* ---- Errors ------------------------------------------------------------ */

ivm_status ivm_raise_value(ivm_vm *vm, ivm_value error)
{
    vm->error = error;
    vm->ntrace = 0;
    vm->trace_dropped = 0;
    return IVM_ERROR;
}

ivm_status ivm_raise(ivm_vm *vm, const char *message)
{
    return ivm_raise_value(vm, ivm_string(&vm->heap, message, ivm_cstr_len(message)));
}

ivm_status ivm_raise_buf(ivm_vm *vm, ivm_buf *b)
{
    ivm_value error = ivm_string(&vm->heap, b->data ? b->data : "", b->len);
    ivm_buf_free(b);
    return ivm_raise_value(vm, error);
}

ivm_status ivm_raise_type(ivm_vm *vm, const char *what, ivm_value got)
{
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, what);
    ivm_buf_add_cstr(&b, ", got ");
    ivm_buf_add_cstr(&b, ivm_type_name(ivm_type_of(got)));
    ivm_buf_add_cstr(&b, ": ");
    size_t start = b.len;
    ivm_print(&vm->heap, &b, got, true);
    if (b.len - start > 60) { /* a huge value would drown the message */
        b.len = start + 57;
        while ((b.data[b.len] & 0xc0) == 0x80) /* not inside a character */
            b.len--;
        ivm_buf_add_cstr(&b, "...");
    }
    return ivm_raise_buf(vm, &b);
}

ivm_status ivm_raise_arity(ivm_vm *vm, ivm_value fn, uint32_t nargs)
{
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, "wrong number of args (");
    ivm_buf_add_int(&b, nargs);
    ivm_buf_add_cstr(&b, ") passed to ");
    ivm_print(&vm->heap, &b, fn, true);
    return ivm_raise_buf(vm, &b);
}

static void add_trace_line(ivm_vm *vm, ivm_buf *out, const ivm_trace_entry *t)
{
    ivm_buf_add_cstr(out, "\n  at ");
    if (ivm_is_native(t->function)) {
        ivm_buf_add_cstr(out, native_name(&vm->heap, ivm_imm_payload(t->function)));
        ivm_buf_add_cstr(out, " (native)");
        return;
    }
    ivm_proto *p = ivm_as_proto(ivm_function_proto(t->function));
    if (p->name)
        ivm_print(&vm->heap, out, p->name, false);
    else
        ivm_buf_add_cstr(out, "fn");
    /* (FILE:LINE) when the line table knows the line, else (FILE, pc N) */
    ivm_buf_add_cstr(out, " (");
    bool has_source = p->source && ivm_as_str(p->source)->len;
    if (has_source)
        ivm_print(&vm->heap, out, p->source, false);
    uint32_t line = ivm_proto_line_at(p, t->pc);
    if (has_source && line) {
        ivm_buf_add_char(out, ':');
        ivm_buf_add_int(out, line);
    } else {
        ivm_buf_add_cstr(out, has_source ? ", pc " : "pc ");
        ivm_buf_add_int(out, t->pc);
    }
    ivm_buf_add_char(out, ')');
}

void ivm_format_error(ivm_vm *vm, ivm_buf *out)
{
    ivm_buf_add_cstr(out, "ivm: error: ");
    ivm_value e = vm->error;
    if (ivm_is_kind(e, IVM_K_EXCEPTION)) { /* ex-info: its message, then its data */
        ivm_print(&vm->heap, out, ivm_as_exception(e)->message, false);
        if (ivm_as_exception(e)->data != IVM_NIL) {
            ivm_buf_add_char(out, ' ');
            ivm_print(&vm->heap, out, ivm_as_exception(e)->data, true);
        }
    } else {
        ivm_print(&vm->heap, out, e, !ivm_is_kind(e, IVM_K_STRING));
    }
    for (uint32_t i = 0; i < vm->ntrace; i++)
        add_trace_line(vm, out, &vm->trace[i]);
    if (vm->trace_dropped) {
        ivm_buf_add_cstr(out, "\n  ... ");
        ivm_buf_add_int(out, vm->trace_dropped);
        ivm_buf_add_cstr(out, " more frames");
    }
    ivm_buf_add_char(out, '\n');
}

/* ---- Output ------------------------------------------------------------ */

#define IVM_OUT_FLUSH_BYTES (64u << 10)

ivm_status ivm_vm_print(ivm_vm *vm, ivm_value v, bool readably)
{
    uint32_t roots = ivm_roots_count(vm);
    ivm_root(vm, &v); /* realizing a lazy sequence runs code, which may collect */
    size_t mark = vm->out.len;
    ivm_print(&vm->heap, &vm->out, v, readably);
    ivm_roots_restore(vm, roots);
    ivm_status st = vm->force_status;
    vm->force_status = IVM_OK;
    if (st != IVM_OK && vm->out.len >= mark)
        vm->out.len = mark;
    return st;
}

void ivm_vm_write(ivm_vm *vm, const void *data, size_t len)
{
    ivm_buf_add(&vm->out, data, len);
    if (vm->out.len >= IVM_OUT_FLUSH_BYTES)
        ivm_vm_flush(vm);
}

size_t ivm_vm_lines_end(const ivm_vm *vm)
{
    size_t end = vm->out.len;
    while (end > 0 && vm->out.data[end - 1] != '\n')
        end--;
    return end;
}

void ivm_vm_flush_lines(ivm_vm *vm)
{
    size_t end = ivm_vm_lines_end(vm);
    if (end == 0 || vm->capturing)
        return;
    ivm_platform_mutex_lock(vm->rt->out_lock);
    ivm_platform_write(IVM_STDOUT, vm->out.data, end);
    ivm_platform_mutex_unlock(vm->rt->out_lock);
    memmove(vm->out.data, vm->out.data + end, vm->out.len - end);
    vm->out.len -= end;
}

void ivm_vm_flush(ivm_vm *vm)
{
    if (vm->out.len && !vm->capturing) {
        /* whole lines from each thread (see the scheduler's stash), and
         * one write at a time, so that lines never interleave */
        ivm_platform_mutex_lock(vm->rt->out_lock);
        ivm_platform_write(IVM_STDOUT, vm->out.data, vm->out.len);
        ivm_platform_mutex_unlock(vm->rt->out_lock);
        vm->out.len = 0;
    }
}
