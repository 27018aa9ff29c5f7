/* The concurrent collector's driver (--gc=concurrent): its thread, the
 * handshakes that bring it each thread's roots, and its cycles. gc.h
 * describes a cycle, its evacuation and why they are enough; this file
 * decides when threads hand over or fix, and when each phase is done.
 * tests/model/concurrent_mark.pml models the marking protocol for spin.
 *
 * Handshake rounds: the collector raises rt->hs_round; every VM takes part
 * at its next safepoint, or when it is about to run a process (before the
 * process, so that what the process builds lies in regions born in the
 * cycle), and the collector does it for a parked VM, claimed so that the
 * VM cannot wake up halfway. Marking: the first round of a cycle only
 * acknowledges the barriers; in the next a VM hands over its roots
 * (handshake_roots); in every round, what its barriers shaded. Marking is
 * done when a round ends with every VM's roots handed over, every process
 * record scanned, and nothing newly marked by what the round brought.
 * Evacuation (rt->evac_pass set): the first round retires every cursor;
 * in the next ones each VM fixes its roots and what it built since its
 * last handshake (handshake_evac), until a round finds no old reference.
 * Between handshakes, a VM does at its safepoints, a region at a time,
 * what its next handshake would (step).
 *
 * A VM in gc_hold (the compiler runs macros while the forms it compiles
 * are rooted nowhere) takes no part until it leaves it: the cycle waits.
 *
 * Locking: rt->lock guards the collector's state below (gc_asked,
 * gc_running, gc_shutdown) and the thread list; hs_round and each VM's
 * hs_done are atomic. */
#include "bytecode/vm.h"

#include "ivm/platform.h"

#define WAIT_NS 200000 /* the collector looks at parked VMs this often */
#define EVAC_ROUNDS 32                 /* an evacuation that needs more is given up */
#define EVAC_ROUND_NS 1000000000u      /* and so is one whose round takes longer */
/* Short of memory during a cycle, a thread that has taken no more regions
 * than this since its roots handshake goes on (light). */
#define IVM_PACE_LIGHT_REGIONS 4

/* ---- Handshakes (any thread) ------------------------------------------- */

/* Records the time since *t as the handshake's `part`; *t becomes now. */
static void note_part(ivm_runtime *rt, ivm_gc_handshake_part part, uint64_t *t)
{
    uint64_t now = ivm_platform_now_ns();
    ivm_gc_note_handshake_part(&rt->gc, part, now - *t);
    *t = now;
}

/* Marks from, or fixes (v->cfixing), vm's roots and the records of the
 * processes it runs; the slots above each stack's top are cleared, since
 * they were not visited. */
static void visit_roots(ivm_vm *vm, ivm_gc *v, uint32_t tag, uint64_t *t)
{
    ivm_runtime *rt = vm->rt;
    ivm_vm_thread_roots(vm, v);
    note_part(rt, IVM_GC_HS_ROOTS, t);
    if (rt->vm_roots_hook)
        rt->vm_roots_hook(rt->hook_context, vm, v, tag);
    ivm_stack_clear_running(vm);
    note_part(rt, IVM_GC_HS_RECORDS, t);
}

/* vm's roots, those of the processes it runs, and the fields of what it
 * built since the cycle began; then its cursor starts a region born in the
 * cycle. By vm's own thread, or by the collector while vm is parked. */
static void handshake_roots(ivm_vm *vm, uint32_t cycle)
{
    ivm_runtime *rt = vm->rt;
    ivm_gc *v = vm->gc_visitor;
    v->walk = __atomic_load_n(&rt->gc.walk, __ATOMIC_RELAXED);
    uint64_t t = ivm_platform_now_ns();
    visit_roots(vm, v, cycle, &t);
    ivm_gc_trace_since(v, &vm->heap.bump);
    ivm_arena_retire(vm->heap.arena, &vm->heap.bump);
    note_part(rt, IVM_GC_HS_TRACE, &t);
    vm->taken_at_roots = vm->heap.bump.taken;
    vm->roots_cycle = cycle;
}

/* An evacuation's handshake: the first only retires vm's cursor (every
 * region walkable; its barriers forward from now on); the later ones fix
 * vm's roots, its processes' records and what it built since the last.
 * False when vm is inside a native's call back into the VM, whose C
 * variables may hold old references: it takes part once out of it. */
static bool handshake_evac(ivm_vm *vm, uint32_t pass)
{
    ivm_runtime *rt = vm->rt;
    ivm_gc *v = vm->gc_visitor;
    uint32_t id = __atomic_load_n(&rt->evac_id, __ATOMIC_ACQUIRE);
    if (vm->evac_ack != id) {
        ivm_arena_restart_since(vm->heap.arena, &vm->heap.bump);
        vm->evac_ack = id;
        return true;
    }
    if (vm->nested_calls > 1)
        return false;
    v->walk = __atomic_load_n(&rt->gc.walk, __ATOMIC_RELAXED);
    v->evac_found = 0;
    v->cfixing = true;
    uint64_t t = ivm_platform_now_ns();
    visit_roots(vm, v, pass, &t);
    v->cfixing = false;
    ivm_gc_evac_fix_since(v, &vm->heap.bump);
    ivm_arena_restart_since(vm->heap.arena, &vm->heap.bump);
    note_part(rt, IVM_GC_HS_FIX, &t);
    __atomic_add_fetch(&rt->gc.evac_found, v->evac_found, __ATOMIC_RELAXED);
    return true;
}

/* Between handshakes, at a safepoint: what this thread's next handshake
 * would trace or fix in what it built since the last step, done now, so
 * that the handshake itself stays short; or, when its handshakes have
 * nothing more to trace or fix, the walks' place moved on. */
static void step(ivm_vm *vm)
{
    ivm_runtime *rt = vm->rt;
    ivm_gc *v = vm->gc_visitor;
    ivm_bump *b = &vm->heap.bump;
    uint32_t pass = __atomic_load_n(&rt->evac_pass, __ATOMIC_ACQUIRE);
    if (pass && vm->evac_ack == __atomic_load_n(&rt->evac_id, __ATOMIC_ACQUIRE)) {
        v->evac_found = 0;
        ivm_gc_evac_fix_since(v, b);
        __atomic_add_fetch(&rt->gc.evac_found, v->evac_found, __ATOMIC_RELAXED);
        return;
    }
    if (!pass && ivm_gc_marking(&rt->gc)) {
        uint32_t cycle = __atomic_load_n(&rt->gc.cycle, __ATOMIC_ACQUIRE);
        if (vm->barrier_cycle != cycle)
            return; /* not yet: the collector reads nothing before the ack */
        if (vm->roots_cycle != cycle) {
            ivm_gc_trace_since(v, b);
            ivm_gc_hand_over(v);
            return;
        }
    }
    /* roots handed over, or no cycle: the evacuation's first handshake
     * starts the list again */
    ivm_gc_skip_since(v, b);
}

/* The first handshake of a cycle only says that this thread's barriers
 * are on (what it shaded before belongs to an earlier cycle: dropped);
 * the later ones hand over its roots, then what it shaded. */
static bool handshake(ivm_vm *vm, uint32_t round)
{
    ivm_runtime *rt = vm->rt;
    uint32_t pass = __atomic_load_n(&rt->evac_pass, __ATOMIC_ACQUIRE);
    if (pass) {
        if (!handshake_evac(vm, pass))
            return false;
    } else {
        uint32_t cycle = __atomic_load_n(&rt->gc.cycle, __ATOMIC_ACQUIRE);
        if (vm->barrier_cycle != cycle) {
            vm->gc_visitor->stack_len = 0;
            vm->barrier_cycle = cycle;
        } else {
            if (vm->roots_cycle != cycle)
                handshake_roots(vm, cycle);
            ivm_gc_hand_over(vm->gc_visitor);
        }
    }
    __atomic_store_n(&vm->hs_done, round, __ATOMIC_RELEASE);
    return true;
}

void ivm_vm_handshake(ivm_vm *vm)
{
    ivm_runtime *rt = vm->rt;
    if (vm->gc_hold || vm->parked)
        return;
    uint32_t round = __atomic_load_n(&rt->hs_round, __ATOMIC_ACQUIRE);
    if (round == __atomic_load_n(&vm->hs_done, __ATOMIC_RELAXED)) {
        if (ivm_arena_since_pending(&vm->heap.bump, IVM_STEP_BYTES))
            step(vm);
        return;
    }
    uint64_t start = ivm_platform_now_ns();
    if (!handshake(vm, round))
        return;
    ivm_gc_note_handshake(&rt->gc, ivm_platform_now_ns() - start);
    ivm_platform_mutex_lock(rt->lock);
    ivm_platform_cond_signal(rt->gc_wake);
    ivm_platform_mutex_unlock(rt->lock);
}

void ivm_vm_shade(ivm_vm *vm, ivm_value v)
{
    if (ivm_gc_marking(&vm->rt->gc))
        ivm_gc_shade(vm->gc_visitor, v);
}

ivm_value ivm_vm_forward(ivm_vm *vm, ivm_value v)
{
    const ivm_gc *gc = &vm->rt->gc;
    return ivm_gc_evacuating(gc) ? ivm_gc_forward(gc, v) : v;
}

ivm_value ivm_vm_barrier(ivm_vm *vm, ivm_value v)
{
    ivm_vm_shade(vm, v);
    return ivm_vm_forward(vm, v);
}

/* ---- Asking for cycles (mutators, at safepoints) ------------------------ */

/* Locked: wakes the collector for a cycle unless one runs. */
static void ask_cycle(ivm_runtime *rt)
{
    if (!rt->gc_running && !rt->gc_shutdown) {
        rt->gc_asked = true;
        ivm_platform_cond_signal(rt->gc_wake);
    }
}

/* Short of memory during a cycle: whether vm may go on with what
 * the reserve holds instead of waiting for the cycle: it took no more than
 * IVM_PACE_LIGHT_REGIONS since its roots handshake, and as many are left
 * for every thread. The pacing falls on the threads that allocate; one
 * that allocates little (a process that sleeps and wakes, say) is not
 * held up with them. */
static bool light(const ivm_vm *vm)
{
    const ivm_runtime *rt = vm->rt;
    return vm->roots_cycle == __atomic_load_n(&rt->gc.cycle, __ATOMIC_ACQUIRE) &&
           vm->heap.bump.taken - vm->taken_at_roots <= IVM_PACE_LIGHT_REGIONS &&
           ivm_arena_free_regions(vm->heap.arena) > IVM_PACE_LIGHT_REGIONS * rt->nvms;
}

bool ivm_vm_concurrent_collect(ivm_vm *vm)
{
    ivm_runtime *rt = vm->rt;
    ivm_arena *a = vm->heap.arena;
    ivm_vm_handshake(vm);
    if (!ivm_arena_collect_requested(a))
        return true;
    if (__atomic_load_n(&rt->gc_full, __ATOMIC_RELAXED))
        return false; /* kept asking until the world stops for it */
    ivm_platform_mutex_lock(rt->lock);
    if (rt->stopping || rt->gc_shutdown) { /* the collector verifies, or is gone */
        ivm_platform_mutex_unlock(rt->lock);
        return false;
    }
    ivm_arena_clear_request(a);
    /* Short of memory: the thread waits for the cycle (parked, so that
     * the collector can do its handshakes), unless it is light (below);
     * when no cycle runs and memory is still short, the caller collects
     * with the world stopped (which can compact). */
    bool low = ivm_arena_short(a), running = rt->gc_running;
    bool wait = low && running && !light(vm);
    uint64_t done = rt->gc_cycles_done;
    if (!low)
        ask_cycle(rt);
    else if (!running)
        ivm_arena_request_collection(a);
    ivm_platform_mutex_unlock(rt->lock);
    if (!wait)
        return !low || running;
    uint64_t start = ivm_platform_now_ns();
    ivm_vm_park(vm);
    ivm_platform_mutex_lock(rt->lock);
    while (rt->gc_cycles_done == done && rt->gc_running)
        ivm_platform_cond_wait(rt->gc_done_cond, rt->lock);
    ivm_platform_mutex_unlock(rt->lock);
    ivm_vm_unpark(vm);
    ivm_gc_note_stall(&rt->gc, ivm_platform_now_ns() - start);
    return true;
}

/* ---- The collector's thread --------------------------------------------- */

/* Locked: does the handshake of every parked VM that has not taken part in
 * the round (claimed, so that it cannot unpark meanwhile; the lock is let
 * go, since the processes layer takes its own lock first); whether every
 * VM has. */
static bool round_done(ivm_runtime *rt, uint32_t round)
{
    bool done = true;
    for (uint32_t i = 0; i < rt->nvms; i++) {
        ivm_vm *vm = rt->vms[i];
        if (__atomic_load_n(&vm->hs_done, __ATOMIC_ACQUIRE) == round)
            continue;
        if (!vm->parked || vm->gc_hold) {
            done = false;
            continue;
        }
        vm->gc_claimed = true;
        ivm_platform_mutex_unlock(rt->lock);
        bool took_part = handshake(vm, round);
        ivm_platform_mutex_lock(rt->lock);
        vm->gc_claimed = false;
        ivm_platform_cond_broadcast(rt->resume_cond);
        if (!took_part) {
            done = false;
            continue;
        }
        i = UINT32_MAX; /* the list may have changed: again from the start */
        done = true;
    }
    return done;
}

/* The roots no thread owns: the symbol table (under its lock: interning
 * grows it), the globals and the modules. Values they gain during the
 * cycle are shaded (globals) or were built in it (symbols, modules). */
static void mark_shared_roots(ivm_runtime *rt)
{
    ivm_gc *gc = &rt->gc;
    ivm_heap_shared *sh = gc->heap->shared;
    ivm_platform_mutex_lock(sh->intern_lock);
    ivm_gc_visit_range(gc, sh->interned.slots, sh->interned.capacity);
    ivm_platform_mutex_unlock(sh->intern_lock);
    ivm_platform_mutex_lock(rt->lock);
    ivm_vm_shared_roots(rt, gc);
    ivm_platform_mutex_unlock(rt->lock);
}

/* Stops every VM at a safepoint (or parked) and checks the heap. */
static void verify_stopped(ivm_runtime *rt)
{
    ivm_platform_mutex_lock(rt->lock);
    rt->stopping = true;
    ivm_arena_request_collection(rt->gc.heap->arena);
    while (rt->waiting < rt->active && !rt->gc_shutdown)
        ivm_platform_cond_wait(rt->stopped_cond, rt->lock);
    bool stopped = !rt->gc_shutdown;
    ivm_platform_mutex_unlock(rt->lock);
    if (stopped) {
        for (uint32_t i = 0; i < rt->nvms; i++)
            ivm_arena_retire(rt->gc.heap->arena, &rt->vms[i]->heap.bump);
        ivm_gc_verify_or_exit(&rt->gc, "concurrent cycle", rt->gc.stats.cycles);
    }
    ivm_platform_mutex_lock(rt->lock);
    ivm_arena_clear_request(rt->gc.heap->arena);
    rt->waiting = 0;
    rt->stopping = false;
    rt->epoch++;
    ivm_platform_cond_broadcast(rt->resume_cond);
    ivm_platform_mutex_unlock(rt->lock);
}

/* Asks for a handshake round and waits until every VM has taken part;
 * while `marking`, marks what comes in and scans process records. The
 * number of objects newly marked; *unscanned: records left to workers. */
static uint64_t run_round(ivm_runtime *rt, bool marking, uint32_t *unscanned)
{
    ivm_gc *gc = &rt->gc;
    uint32_t round = __atomic_add_fetch(&rt->hs_round, 1, __ATOMIC_ACQ_REL);
    uint64_t marked = 0;
    *unscanned = 0;
    for (uint64_t start = ivm_platform_now_ns();;) {
        if (!marking && rt->evac_pass && ivm_platform_now_ns() - start > EVAC_ROUND_NS) {
            *unscanned = 1; /* an evacuation round that does not end */
            break;
        }
        if (marking) {
            marked += ivm_gc_cycle_mark(gc);
            if (rt->scan_procs_hook)
                *unscanned = rt->scan_procs_hook(rt->hook_context, gc, gc->cycle);
        }
        ivm_platform_mutex_lock(rt->lock);
        if (rt->gc_shutdown) { /* an unfinished round: nothing may be freed */
            ivm_platform_mutex_unlock(rt->lock);
            *unscanned = 1;
            return marked;
        }
        bool done = round_done(rt, round);
        if (!done)
            ivm_platform_cond_timedwait(rt->gc_wake, rt->lock, WAIT_NS);
        ivm_platform_mutex_unlock(rt->lock);
        if (done)
            break;
    }
    return marking ? marked + ivm_gc_cycle_mark(gc) : 0;
}

/* The collector's part of an evacuation round: the records no worker runs
 * and the roots no thread owns; and whether the round found nothing. */
static bool fix_shared(ivm_runtime *rt, uint32_t pass)
{
    ivm_gc *gc = &rt->gc;
    gc->cfixing = true;
    mark_shared_roots(rt); /* fixes, in this mode */
    uint32_t left = rt->scan_procs_hook ? rt->scan_procs_hook(rt->hook_context, gc, pass) : 0;
    gc->cfixing = false;
    return left == 0 && __atomic_load_n(&gc->evac_found, __ATOMIC_ACQUIRE) == 0;
}

/* Copies the sparse regions' live objects and moves every reference to
 * the copies (gc.h, concurrent evacuation), then frees the old regions. */
static void evacuate(ivm_runtime *rt)
{
    ivm_gc *gc = &rt->gc;
    bool settled = false;
    if (ivm_gc_evac_begin(gc)) {
        uint32_t stuck;
        __atomic_add_fetch(&rt->evac_id, 1, __ATOMIC_RELEASE);
        __atomic_store_n(&rt->evac_pass, 0x80000000u, __ATOMIC_RELEASE);
        run_round(rt, false, &stuck); /* cursors retired, barriers forward */
        ivm_gc_evac_fix_heap(gc);
        for (uint32_t k = 0; k < EVAC_ROUNDS && !stuck && !settled; k++) {
            __atomic_store_n(&gc->evac_found, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&gc->walk, gc->walk + 1, __ATOMIC_RELAXED);
            uint32_t pass = 0x80000000u | (k + 1) | (gc->cycle << 8);
            __atomic_store_n(&rt->evac_pass, pass, __ATOMIC_RELEASE);
            run_round(rt, false, &stuck);
            settled = !stuck && fix_shared(rt, pass);
            gc->stats.evac_rounds++;
        }
        __atomic_store_n(&rt->evac_pass, 0, __ATOMIC_RELEASE);
    }
    ivm_gc_evac_end(gc, settled);
}

/* A cycle. Nothing is traced before every thread has its barriers on (the
 * first round): a barrier checks the flag and then stores, and a thread
 * that saw the flag off must finish its store before the collector reads
 * what it stores into. */
static void cycle(ivm_runtime *rt)
{
    ivm_gc *gc = &rt->gc;
    ivm_gc_cycle_begin(gc);
    /* frozen stack segments are shared: walked once each in the cycle */
    __atomic_store_n(&gc->walk, gc->walk + 1, __ATOMIC_RELAXED);
    uint32_t unscanned;
    run_round(rt, false, &unscanned);
    mark_shared_roots(rt);
    for (;;) {
        uint64_t marked = run_round(rt, true, &unscanned);
        bool roots = true;
        ivm_platform_mutex_lock(rt->lock);
        for (uint32_t i = 0; i < rt->nvms; i++)
            roots = roots && rt->vms[i]->roots_cycle == gc->cycle;
        bool stop = rt->gc_shutdown;
        ivm_platform_mutex_unlock(rt->lock);
        if (stop) { /* shutting down: marking is incomplete, free nothing */
            ivm_gc_cycle_abandon(gc);
            return;
        }
        if (roots && unscanned == 0 && marked == 0)
            break;
    }
    bool short_ = ivm_gc_cycle_end(gc);
    evacuate(rt);
    short_ = short_ && ivm_arena_free_regions(gc->heap->arena) < gc->reserve_regions;
    if (gc->verify)
        verify_stopped(rt);
    if (short_) { /* compact, with the world stopped */
        __atomic_store_n(&rt->gc_full, true, __ATOMIC_RELAXED);
        ivm_arena_request_collection(gc->heap->arena);
    }
}

static void collector_main(void *arg)
{
    ivm_runtime *rt = arg;
    ivm_platform_mutex_lock(rt->lock);
    for (;;) {
        while ((!rt->gc_asked || rt->stopping) && !rt->gc_shutdown)
            ivm_platform_cond_wait(rt->gc_wake, rt->lock);
        if (rt->gc_shutdown)
            break;
        rt->gc_asked = false;
        rt->gc_running = true;
        ivm_platform_mutex_unlock(rt->lock);
        cycle(rt);
        ivm_platform_mutex_lock(rt->lock);
        rt->gc_running = false;
        rt->gc_cycles_done++;
        ivm_platform_cond_broadcast(rt->gc_done_cond);
    }
    ivm_platform_mutex_unlock(rt->lock);
}

bool ivm_collector_start(ivm_runtime *rt)
{
    rt->gc_wake = ivm_platform_cond_new();
    rt->gc_done_cond = ivm_platform_cond_new();
    if (!rt->gc_wake || !rt->gc_done_cond)
        return false;
    rt->gc_concurrent = true;
    rt->collector = ivm_platform_thread_start(collector_main, rt);
    return rt->collector != NULL;
}

void ivm_collector_stop(ivm_runtime *rt)
{
    if (rt->collector) {
        ivm_platform_mutex_lock(rt->lock);
        rt->gc_shutdown = true;
        ivm_platform_cond_broadcast(rt->gc_wake);
        ivm_platform_cond_broadcast(rt->stopped_cond); /* verify_stopped */
        ivm_platform_mutex_unlock(rt->lock);
        ivm_platform_thread_join(rt->collector);
        rt->collector = NULL;
    }
}
