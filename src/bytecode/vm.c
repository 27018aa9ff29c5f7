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
    return index < vm->nnatives ? vm->natives[index]->name : "native";
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
    add_size(&msg, vm->gc.stats.live_bytes);
    ivm_buf_add_cstr(&msg, " were live after the last of ");
    ivm_buf_add_int(&msg, (int64_t)vm->gc.stats.collections);
    ivm_buf_add_cstr(&msg, " collections\n");
    ivm_platform_write(IVM_STDERR, msg.data, msg.len);
    ivm_platform_exit(1);
}

/* ---- Roots ------------------------------------------------------------- */

static void vm_roots(void *context, ivm_gc *gc)
{
    ivm_vm *vm = context;
    ivm_stack_visit_running(vm, gc);
    for (uint32_t i = 0; i < vm->nglobals; i++) {
        ivm_gc_visit(gc, &vm->globals[i].name);
        ivm_gc_visit(gc, &vm->globals[i].value);
    }
    for (uint32_t i = 0; i < vm->nmodules; i++) {
        ivm_gc_visit(gc, &vm->modules[i]->source);
        ivm_gc_visit_range(gc, vm->modules[i]->protos, vm->modules[i]->nprotos);
    }
    ivm_gc_visit(gc, &vm->error);
    for (uint32_t i = 0; i < vm->ntrace; i++)
        ivm_gc_visit(gc, &vm->trace[i].function);
    for (uint32_t i = 0; i < vm->nc_roots; i++) {
        if (vm->c_roots[i].slot)
            ivm_gc_visit(gc, vm->c_roots[i].slot);
        else
            ivm_gc_visit_range(gc, vm->c_roots[i].list->items, vm->c_roots[i].list->len);
    }
    if (vm->roots_hook)
        vm->roots_hook(vm->hook_context, gc);
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

void ivm_vm_collect(ivm_vm *vm)
{
    /* Outside any native (the host's own ivm_call is nested_calls 1),
     * nothing but the roots refers to objects: they may move. */
    ivm_gc_collect(&vm->gc, vm->nested_calls <= 1);
    ivm_stack_clear_running(vm);
    if (vm->after_collect_hook)
        vm->after_collect_hook(vm->hook_context);
    vm->top_live = UINT32_MAX;
}

void ivm_vm_gc_debug(ivm_vm *vm, bool verify, uint32_t stress_every)
{
    vm->gc.verify = verify;
    ivm_gc_set_stress(&vm->gc, stress_every);
    vm->budget = vm->budget_reset = stress_every ? 1 : IVM_REDUCTION_BUDGET;
}

bool ivm_vm_init(ivm_vm *vm, size_t heap_bytes, ivm_arena_mode mode)
{
    memset(vm, 0, sizeof *vm);
    if (!ivm_heap_init(&vm->heap, heap_bytes, mode))
        return false;
    vm->heap.native_name = native_name;
    ivm_arena_set_oom_hook(&vm->heap.arena, out_of_memory, vm);
    ivm_stack host;
    bool stack_ok = ivm_stack_init(&host, IVM_HOST_STACK_SLOTS);
    if (stack_ok) {
        ivm_stack none;
        ivm_stack_switch(vm, &none, &host);
    }
    vm->global_index_cap = 256;
    vm->global_index = ivm_platform_malloc(vm->global_index_cap * sizeof(uint32_t));
    if (!stack_ok || !vm->global_index) {
        ivm_vm_destroy(vm);
        return false;
    }
    memset(vm->global_index, 0xff, vm->global_index_cap * sizeof(uint32_t));
    if (!ivm_gc_init(&vm->gc, &vm->heap)) {
        ivm_vm_destroy(vm);
        return false;
    }
    ivm_gc_set_roots(&vm->gc, vm_roots, vm);
    vm->budget = vm->budget_reset = IVM_REDUCTION_BUDGET;
    vm->top_live = UINT32_MAX;
    vm->proc_id = 1;
    ivm_vm_add_natives(vm, ivm_base_natives, ivm_base_native_count);
    return true;
}

void ivm_vm_add_natives(ivm_vm *vm, const ivm_native_def *defs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (vm->nnatives == vm->natives_cap) {
            uint32_t cap = vm->natives_cap ? vm->natives_cap * 2 : 64;
            const ivm_native_def **t = ivm_platform_realloc(vm->natives, cap * sizeof *t);
            if (!t)
                ivm_platform_exit(70);
            vm->natives = t;
            vm->natives_cap = cap;
        }
        vm->natives[vm->nnatives] = &defs[i];
        ivm_global_set(vm, defs[i].name, ivm_native(vm->nnatives++));
    }
}

void ivm_vm_destroy(ivm_vm *vm)
{
    for (uint32_t i = 0; i < vm->nmodules; i++) {
        ivm_platform_free(vm->modules[i]->protos);
        ivm_platform_free(vm->modules[i]);
    }
    ivm_platform_free(vm->modules);
    ivm_platform_free(vm->natives);
    ivm_platform_free(vm->handlers);
    ivm_platform_free(vm->globals);
    ivm_platform_free(vm->global_index);
    if (vm->seg) {
        ivm_stack running = {vm->seg, NULL, 0, 0};
        vm->seg->nframes = vm->nframes;
        ivm_stack_free(&running);
    }
    ivm_platform_free(vm->spare);
    ivm_buf_free(&vm->out);
    if (vm->gc.heap)
        ivm_gc_destroy(&vm->gc);
    ivm_heap_destroy(&vm->heap);
    memset(vm, 0, sizeof *vm);
}

/* ---- Globals ----------------------------------------------------------- */

static void global_index_insert(ivm_vm *vm, uint32_t slot)
{
    uint32_t mask = vm->global_index_cap - 1;
    uint32_t i = ivm_hash(vm->globals[slot].name) & mask;
    while (vm->global_index[i] != UINT32_MAX)
        i = (i + 1) & mask;
    vm->global_index[i] = slot;
}

static void global_index_grow(ivm_vm *vm)
{
    ivm_platform_free(vm->global_index);
    vm->global_index_cap *= 2;
    vm->global_index = ivm_platform_malloc(vm->global_index_cap * sizeof(uint32_t));
    if (!vm->global_index)
        ivm_platform_exit(70);
    memset(vm->global_index, 0xff, vm->global_index_cap * sizeof(uint32_t));
    for (uint32_t s = 0; s < vm->nglobals; s++)
        global_index_insert(vm, s);
}

uint32_t ivm_global_slot(ivm_vm *vm, ivm_value name)
{
    uint32_t mask = vm->global_index_cap - 1;
    for (uint32_t i = ivm_hash(name) & mask; vm->global_index[i] != UINT32_MAX;
         i = (i + 1) & mask)
        if (ivm_equal(vm->globals[vm->global_index[i]].name, name))
            return vm->global_index[i];
    if (vm->nglobals == vm->globals_cap) {
        uint32_t cap = vm->globals_cap ? vm->globals_cap * 2 : 256;
        ivm_global *g = ivm_platform_realloc(vm->globals, cap * sizeof *g);
        if (!g)
            ivm_platform_exit(70);
        vm->globals = g;
        vm->globals_cap = cap;
    }
    uint32_t slot = vm->nglobals++;
    vm->globals[slot] = (ivm_global){name, IVM_UNBOUND};
    if (vm->nglobals * 2 > vm->global_index_cap)
        global_index_grow(vm);
    else
        global_index_insert(vm, slot);
    return slot;
}

void ivm_global_set(ivm_vm *vm, const char *name, ivm_value value)
{
    uint32_t slot = ivm_global_slot(vm, ivm_symbol_cstr(&vm->heap, name));
    vm->globals[slot].value = value; /* after the call: it may move globals */
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

void ivm_vm_write(ivm_vm *vm, const void *data, size_t len)
{
    ivm_buf_add(&vm->out, data, len);
    if (vm->out.len >= IVM_OUT_FLUSH_BYTES)
        ivm_vm_flush(vm);
}

void ivm_vm_flush(ivm_vm *vm)
{
    if (vm->out.len) {
        ivm_platform_write(IVM_STDOUT, vm->out.data, vm->out.len);
        vm->out.len = 0;
    }
}
