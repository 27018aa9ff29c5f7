/* Stacks: segments, a call that overflows its segment, a return that
 * underflows it (into a live segment or a frozen one), unwinding, fork's
 * freezing, and the stack's roots. vm.h describes the model.
 *
 * The running stack's current segment is mirrored in the VM's fields
 * (stack, frames, nframes, stack_high, caps, depth_below): `leave` writes
 * the counts back before the segment stops being current, `enter` loads
 * them. A segment that is not current has the authoritative counts. */
#include "bytecode/vm.h"
#include "ivm/platform.h"

/* Frames a segment of `slots` slots has room for: a frame takes its callee
 * slot and its registers, rarely fewer than four slots in all (a segment
 * whose frames run out first moves on like one whose slots do). */
static uint32_t frames_for(uint32_t slots) { return slots / 4 + 2; }

static ivm_segment *segment_new(uint32_t slots)
{
    uint32_t frames = frames_for(slots);
    size_t bytes = sizeof(ivm_segment) + (size_t)slots * sizeof(ivm_value) +
                   (size_t)frames * sizeof(ivm_frame);
    ivm_segment *s = ivm_platform_proc_calloc(bytes);
    if (!s)
        return NULL;
    s->slot_cap = slots;
    s->frame_cap = frames;
    s->frames = (ivm_frame *)(s->slots + slots);
    return s;
}

static void leave(ivm_vm *vm)
{
    vm->seg->nframes = vm->nframes;
    vm->seg->high = vm->stack_high;
}

static void enter(ivm_vm *vm, ivm_segment *s)
{
    vm->seg = s;
    vm->stack = s->slots;
    vm->frames = s->frames;
    vm->nframes = s->nframes;
    vm->stack_high = s->high;
    vm->frame_cap = s->frame_cap;
    vm->slot_cap = s->slot_cap;
    vm->depth_below = s->depth_below;
}

static void hold(ivm_segment *s)
{
    if (s)
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

/* Frees a chain from s down: live segments belong to it; a frozen one is
 * freed when its last holder lets go. */
static void release(ivm_segment *s)
{
    while (s) {
        if (s->frozen && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
            return;
        ivm_segment *prev = s->prev;
        ivm_platform_proc_free(s);
        s = prev;
    }
}

/* Keeps an emptied segment for the next overflow (a call at a segment's
 * edge in a loop would otherwise allocate on every iteration). */
static void keep_spare(ivm_vm *vm, ivm_segment *s)
{
    s->prev = NULL;
    if (vm->spare && vm->spare->slot_cap > s->slot_cap) {
        ivm_platform_proc_free(s);
        return;
    }
    ivm_platform_proc_free(vm->spare);
    vm->spare = s;
}

static _Noreturn void out_of_stack_memory(void)
{
    static const char m[] = "ivm: out of memory for process stacks\n";
    ivm_platform_write(IVM_STDERR, m, sizeof m - 1);
    ivm_platform_exit(70);
}

/* A segment with at least `need` slots, the spare if it is large enough. */
static ivm_segment *take_segment(ivm_vm *vm, uint32_t want, uint32_t need)
{
    ivm_segment *s = vm->spare;
    if (s && s->slot_cap >= need) {
        vm->spare = NULL;
        memset(s->slots, 0, (size_t)s->high * sizeof(ivm_value));
        s->nframes = s->high = 0;
        return s;
    }
    s = segment_new(want > need ? want : need);
    if (!s)
        out_of_stack_memory();
    return s;
}

/* Frames below s: those its link sees, and those below them. */
static uint32_t link_depth(const ivm_segment *s)
{
    return s->prev ? s->prev->depth_below + s->prev_nframes : 0;
}

/* Drops the link from s to the frozen segment below it when s sees none of
 * its frames: s then links to what that segment linked to. */
static void skip_spent_frozen(ivm_segment *s)
{
    while (s->prev && s->prev->frozen && s->prev_nframes == 0) {
        ivm_segment *fz = s->prev;
        s->prev = fz->prev;
        s->prev_nframes = fz->prev_nframes;
        s->ret_slot = fz->ret_slot;
        hold(fz->prev);
        release(fz);
    }
}

/* s is empty and its prev frozen, with prev_nframes >= 1 visible: copies
 * the top visible frame into s (at base 1) and, when `with_result`, puts
 * `result` where that frame's callee returns to. Returns s, or a larger
 * segment that replaced it. */
static ivm_segment *resume_frozen(ivm_vm *vm, ivm_segment *s, bool with_result,
                                  ivm_value result)
{
    ivm_segment *fz = s->prev;
    uint32_t k = s->prev_nframes - 1;
    const ivm_frame *src = &fz->frames[k];
    uint32_t first = src->base - 1, n = ivm_frame_end(src) - first;
    if (n >= s->slot_cap) {
        ivm_segment *bigger = take_segment(vm, n * 2, n + 1);
        bigger->prev = s->prev;
        bigger->ret_slot = s->ret_slot;
        bigger->slots_below = s->slots_below;
        ivm_platform_proc_free(s);
        s = bigger;
    }
    memcpy(s->slots, fz->slots + first, (size_t)n * sizeof(ivm_value));
    if (with_result)
        s->slots[s->ret_slot - first] = result;
    s->frames[0] = (ivm_frame){src->closure, src->pc, 1};
    s->nframes = 1;
    if (s->high < n)
        s->high = n;
    s->depth_below = fz->depth_below + k;
    if (k > 0) {
        s->prev_nframes = k;
        s->ret_slot = first;
    } else {
        s->prev_nframes = 0; /* skip_spent_frozen moves the link down */
        skip_spent_frozen(s);
    }
    return s;
}

bool ivm_stack_init(ivm_stack *s, uint32_t slots)
{
    *s = (ivm_stack){0};
    s->seg = segment_new(slots);
    return s->seg != NULL;
}

void ivm_stack_free(ivm_stack *s)
{
    release(s->seg);
    ivm_platform_free(s->handlers);
    *s = (ivm_stack){0};
}

void ivm_stack_switch(ivm_vm *vm, ivm_stack *save, ivm_stack *s)
{
    if (vm->seg)
        leave(vm);
    *save = (ivm_stack){vm->seg, vm->handlers, vm->nhandlers, vm->handlers_cap};
    enter(vm, s->seg);
    vm->handlers = s->handlers;
    vm->nhandlers = s->nhandlers;
    vm->handlers_cap = s->handlers_cap;
    *s = (ivm_stack){0};
}

ivm_status ivm_stack_grow(ivm_vm *vm, uint32_t ret_slot, uint32_t need)
{
    uint32_t depth = ivm_stack_depth(vm);
    uint64_t below = (uint64_t)vm->seg->slots_below + vm->slot_cap;
    if (depth >= IVM_MAX_FRAMES || below + need > IVM_MAX_STACK)
        return ivm_raise(vm, "stack overflow");
    uint32_t want = vm->slot_cap * 2;
    if (want > IVM_SEGMENT_MAX_SLOTS)
        want = IVM_SEGMENT_MAX_SLOTS;
    ivm_segment *s = take_segment(vm, want, need + 1);
    /* the depth limit falls inside a segment, not at its end */
    s->frame_cap = frames_for(s->slot_cap);
    if (s->frame_cap > IVM_MAX_FRAMES - depth)
        s->frame_cap = IVM_MAX_FRAMES - depth;
    leave(vm);
    s->prev = vm->seg;
    s->prev_nframes = vm->nframes;
    s->ret_slot = ret_slot;
    s->depth_below = depth;
    s->slots_below = (uint32_t)below;
    s->frozen = false;
    enter(vm, s);
    return IVM_OK;
}

/* The current segment is empty, its bottom frame's result in slot 0:
 * makes the caller's segment current (or copies the caller's frame out of
 * a frozen one), with the result in its place. */
static void pop_segment(ivm_vm *vm)
{
    ivm_segment *s = vm->seg, *prev = s->prev;
    ivm_value result = s->slots[0];
    if (!prev->frozen) {
        prev->slots[s->ret_slot] = result;
        leave(vm);
        keep_spare(vm, s);
        enter(vm, prev);
        return;
    }
    leave(vm);
    enter(vm, resume_frozen(vm, s, true, result));
}

bool ivm_stack_returned(ivm_vm *vm, uint32_t stop)
{
    if (vm->nframes > 0)
        return true; /* the floor was above the segment's bottom: at stop */
    for (;;) {
        skip_spent_frozen(vm->seg);
        if (!vm->seg->prev)
            return true;
        pop_segment(vm);
        if (vm->nframes > 0)
            return ivm_stack_depth(vm) == stop;
    }
}

void ivm_stack_unwind(ivm_vm *vm, uint32_t depth)
{
    while (vm->seg->prev && (depth == 0 || vm->depth_below >= depth)) {
        ivm_segment *s = vm->seg, *prev = s->prev;
        vm->nframes = 0;
        leave(vm);
        if (!prev->frozen) {
            keep_spare(vm, s);
            enter(vm, prev);
        } else if (depth > prev->depth_below) { /* the new top is in prev */
            s->prev_nframes = depth - prev->depth_below;
            enter(vm, resume_frozen(vm, s, false, IVM_NIL));
            return;
        } else {
            s->prev_nframes = 0;
            skip_spent_frozen(s);
            s->depth_below = link_depth(s);
            enter(vm, s);
        }
    }
    vm->nframes = depth - vm->depth_below;
}

const ivm_frame *ivm_stack_frame_at(const ivm_vm *vm, uint32_t depth)
{
    if (depth >= vm->depth_below)
        return &vm->frames[depth - vm->depth_below];
    const ivm_segment *s = vm->seg;
    while (depth < s->depth_below)
        s = s->prev;
    return &s->frames[depth - s->depth_below];
}

/* ---- Fork --------------------------------------------------------------- */

/* A fresh live segment above frozen `top`, resumed in top's top frame
 * with `result` in that frame's register `ret`; or, when ret is
 * IVM_RET_TAIL (the fork was the frame's tail call), resumed in the frame
 * below with the result as the top frame's. An empty segment (slot 0 the
 * result) when no frame is left. */
static ivm_segment *resume_above(ivm_vm *vm, ivm_segment *top, uint32_t ret,
                                 ivm_value result)
{
    ivm_segment *s = take_segment(vm, IVM_SEGMENT_SLOTS, 1);
    const ivm_frame *f = &top->frames[top->nframes - 1];
    bool tail = ret == IVM_RET_TAIL;
    s->prev = top;
    s->prev_nframes = top->nframes - tail;
    s->ret_slot = tail ? f->base - 1 : f->base + ret;
    s->slots_below = top->slots_below + top->slot_cap;
    s->frozen = false;
    skip_spent_frozen(s);
    s->depth_below = link_depth(s);
    if (s->prev)
        return resume_frozen(vm, s, true, result);
    s->slots[0] = result;
    s->high = 1;
    return s;
}

/* Freezes the live segments from s down: each is held by the link from
 * the segment above it. */
static void freeze(ivm_segment *s)
{
    for (; s && !s->frozen; s = s->prev) {
        s->frozen = true;
        s->refs = 1;
    }
}

/* Fork's fast path, when the forking frame is the only one in its segment
 * (a fork in a loop: from the second on): the parent keeps its segment,
 * live, and only the child gets a copy of the frame, in a fresh segment
 * linked to the (now frozen) segments below. */
static bool fork_lone_frame(ivm_vm *vm, ivm_stack *copy, uint32_t ret, ivm_value result,
                            ivm_value copy_result)
{
    ivm_segment *top = vm->seg;
    const ivm_frame *f = &top->frames[0];
    uint32_t n = ivm_frame_end(f);
    freeze(top->prev);
    hold(top->prev); /* and the child's link */
    ivm_segment *c = take_segment(vm, IVM_SEGMENT_SLOTS, n + 1);
    memcpy(c->slots, top->slots, (size_t)n * sizeof(ivm_value));
    c->slots[f->base + ret] = copy_result;
    c->frames[0] = *f;
    c->nframes = 1;
    c->high = n;
    c->prev = top->prev;
    c->prev_nframes = top->prev_nframes;
    c->ret_slot = top->ret_slot;
    c->slots_below = top->slots_below;
    c->depth_below = top->depth_below;
    c->frozen = false;
    copy->seg = c;
    vm->stack[f->base + ret] = result;
    return true;
}

bool ivm_stack_fork(ivm_vm *vm, ivm_stack *copy, uint32_t ret, ivm_value result,
                    ivm_value copy_result)
{
    IVM_ASSERT(vm->nframes > 0);
    leave(vm);
    ivm_segment *top = vm->seg;
    bool lone = copy && vm->nframes == 1 && ret != IVM_RET_TAIL;
    if (!lone) {
        freeze(top);
        top->refs = copy ? 2 : 1;
    }
    if (copy) {
        *copy = (ivm_stack){0};
        if (vm->nhandlers) {
            copy->handlers = ivm_platform_malloc(vm->nhandlers * sizeof *vm->handlers);
            if (!copy->handlers)
                return false;
            memcpy(copy->handlers, vm->handlers, vm->nhandlers * sizeof *vm->handlers);
            copy->nhandlers = copy->handlers_cap = vm->nhandlers;
        }
        if (lone)
            return fork_lone_frame(vm, copy, ret, result, copy_result);
        copy->seg = resume_above(vm, top, ret, copy_result);
    }
    enter(vm, resume_above(vm, top, ret, result));
    return true;
}

/* ---- Roots -------------------------------------------------------------- */

/* The end of the registers of a segment's top frame. Read during root
 * walks, when the closure or its prototype may have moved already. */
static uint32_t frames_end(const ivm_segment *s, uint32_t nframes)
{
    if (nframes == 0)
        return 0;
    const ivm_frame *f = &s->frames[nframes - 1];
    ivm_value proto = ivm_as_closure(ivm_gc_resolve(f->closure))->proto;
    return f->base + ivm_as_proto(ivm_gc_resolve(proto))->nregs;
}

/* Frozen segments are shared: each is walked once per root walk. */
static void visit_frozen(ivm_gc *gc, ivm_segment *fz)
{
    /* threads handing their roots over concurrently may meet here */
    for (; fz && __atomic_exchange_n(&fz->visited, gc->walk, __ATOMIC_RELAXED) != gc->walk;
         fz = fz->prev) {
        ivm_gc_visit_range(gc, fz->slots, frames_end(fz, fz->nframes));
        for (uint32_t i = 0; i < fz->nframes; i++)
            ivm_gc_visit(gc, &fz->frames[i].closure);
    }
}

/* The live segments from s down (s's registers up to `end`), then the
 * frozen ones. */
static void visit_chain(ivm_gc *gc, ivm_segment *s, uint32_t end)
{
    for (;;) {
        ivm_gc_visit_range(gc, s->slots, end);
        for (uint32_t i = 0; i < s->nframes; i++)
            ivm_gc_visit(gc, &s->frames[i].closure);
        s = s->prev;
        if (!s)
            return;
        if (s->frozen) {
            visit_frozen(gc, s);
            return;
        }
        end = frames_end(s, s->nframes);
    }
}

/* Clears the stale slots of the live segments below s (see the invariant
 * in vm.h): what lies past their top frame's registers. */
static void clear_below(ivm_segment *s)
{
    for (s = s->prev; s && !s->frozen; s = s->prev) {
        uint32_t end = frames_end(s, s->nframes);
        if (s->high > end)
            memset(s->slots + end, 0, (s->high - end) * sizeof(ivm_value));
        s->high = end;
    }
}

/* The end of the running stack's live slots: the top frame's registers
 * up to top_live (vm.h); every frame below is live up to its callee. */
static uint32_t running_end(const ivm_vm *vm)
{
    uint32_t end = frames_end(vm->seg, vm->nframes);
    if (vm->nframes) {
        uint32_t base = vm->frames[vm->nframes - 1].base;
        if (vm->top_live < end - base)
            end = base + vm->top_live;
    }
    return end;
}

void ivm_stack_visit_running(ivm_vm *vm, ivm_gc *gc)
{
    leave(vm);
    visit_chain(gc, vm->seg, running_end(vm));
}

void ivm_stack_visit_saved(const ivm_stack *s, ivm_gc *gc)
{
    visit_chain(gc, s->seg, frames_end(s->seg, s->seg->nframes));
}

void ivm_stack_clear_running(ivm_vm *vm)
{
    uint32_t top = running_end(vm);
    if (vm->stack_high > top)
        memset(vm->stack + top, 0, (vm->stack_high - top) * sizeof *vm->stack);
    /* the top frame may write all of its registers without a check */
    uint32_t end = frames_end(vm->seg, vm->nframes);
    vm->stack_high = end > top ? end : top;
    clear_below(vm->seg);
}

void ivm_stack_clear_saved(ivm_stack *s)
{
    ivm_segment *seg = s->seg;
    uint32_t end = frames_end(seg, seg->nframes);
    if (seg->high > end)
        memset(seg->slots + end, 0, (seg->high - end) * sizeof(ivm_value));
    seg->high = end;
    clear_below(seg);
}
