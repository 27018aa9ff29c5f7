/* The scheduler: process records, the run queue, timers, slices, waits,
 * the ends of processes (links, monitors, joiners, crash reports), and
 * the processes' roots. process.h describes the model. */
#include "process/process.h"

#include "ivm/platform.h"
#include "values/map.h"
#include "values/vector.h"

static _Noreturn void out_of_memory(void)
{
    static const char m[] = "ivm: out of memory for process records\n";
    ivm_platform_write(IVM_STDERR, m, sizeof m - 1);
    ivm_platform_exit(70);
}

static void *grow(void *p, uint32_t *cap, size_t item)
{
    uint32_t n = *cap ? *cap * 2 : 16;
    p = ivm_platform_realloc(p, n * item);
    if (!p)
        out_of_memory();
    *cap = n;
    return p;
}

void ivm_pid_list_push(ivm_pid_list *l, uint32_t id)
{
    if (l->len == l->cap)
        l->ids = grow(l->ids, &l->cap, sizeof *l->ids);
    l->ids[l->len++] = id;
}

bool ivm_pid_list_add(ivm_pid_list *l, uint32_t id)
{
    for (uint32_t i = 0; i < l->len; i++)
        if (l->ids[i] == id)
            return false;
    ivm_pid_list_push(l, id);
    return true;
}

void ivm_pid_list_remove(ivm_pid_list *l, uint32_t id)
{
    for (uint32_t i = 0; i < l->len; i++)
        if (l->ids[i] == id) {
            l->ids[i] = l->ids[--l->len];
            return;
        }
}

static void pid_list_free(ivm_pid_list *l)
{
    ivm_platform_free(l->ids);
    *l = (ivm_pid_list){0};
}

ivm_sched *ivm_sched_of(ivm_vm *vm) { return vm->hook_context; }

ivm_proc *ivm_proc_of(ivm_sched *s, ivm_value pid)
{
    uint32_t id = ivm_imm_payload(pid);
    return ivm_is_pid(pid) && id > 0 && id < s->nprocs ? s->procs[id] : NULL;
}

/* ---- Run queue and timers ---------------------------------------------- */

static void enqueue(ivm_sched *s, ivm_proc *p)
{
    if (p->in_queue || p->held)
        return;
    p->in_queue = true;
    p->next_run = NULL;
    if (s->run_tail)
        s->run_tail->next_run = p;
    else
        s->run_head = p;
    s->run_tail = p;
    s->vm->preempt = true;
}

static ivm_proc *dequeue(ivm_sched *s)
{
    ivm_proc *p = s->run_head;
    if (p) {
        s->run_head = p->next_run;
        if (!s->run_head)
            s->run_tail = NULL;
        p->in_queue = false;
    }
    return p;
}

/* Makes a waiting process runnable (a held one goes on from its wait). */
static void wake(ivm_sched *s, ivm_proc *p)
{
    if (p->state != IVM_PROC_WAITING)
        return;
    p->state = IVM_PROC_RUNNABLE;
    enqueue(s, p);
}

static void timer_push(ivm_sched *s, ivm_timer t)
{
    if (s->ntimers == s->timers_cap)
        s->timers = grow(s->timers, &s->timers_cap, sizeof *s->timers);
    uint32_t i = s->ntimers++;
    while (i > 0 && s->timers[(i - 1) / 2].deadline > t.deadline) {
        s->timers[i] = s->timers[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->timers[i] = t;
}

static ivm_timer timer_pop(ivm_sched *s)
{
    ivm_timer top = s->timers[0], last = s->timers[--s->ntimers];
    uint32_t i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= s->ntimers)
            break;
        if (c + 1 < s->ntimers && s->timers[c + 1].deadline < s->timers[c].deadline)
            c++;
        if (last.deadline <= s->timers[c].deadline)
            break;
        s->timers[i] = s->timers[c];
        i = c;
    }
    if (s->ntimers)
        s->timers[i] = last;
    return top;
}

/* Wakes the processes whose deadline has passed; says whether it woke
 * any (a held one is not in the run queue). */
static bool fire_timers(ivm_sched *s, uint64_t now)
{
    bool woke = false;
    while (s->ntimers && s->timers[0].deadline <= now) {
        ivm_timer t = timer_pop(s);
        ivm_proc *p = s->procs[t.proc];
        if (p->state == IVM_PROC_WAITING && p->wait_gen == t.gen) {
            p->timed_out = true;
            wake(s, p);
            woke = true;
        }
    }
    return woke;
}

/* ---- Waiting ----------------------------------------------------------- */

void ivm_proc_wait_until(ivm_sched *s, ivm_proc *p, uint64_t deadline)
{
    if (p->deadline)
        return; /* armed by the first try */
    p->deadline = deadline;
    timer_push(s, (ivm_timer){deadline, p->id, p->wait_gen});
}

void ivm_proc_wait_done(ivm_proc *p)
{
    p->deadline = 0;
    p->timed_out = false;
    p->wait_gen++;
}

static bool run_one(ivm_sched *s);

ivm_status ivm_proc_wait(ivm_sched *s, ivm_proc *p)
{
    p->state = IVM_PROC_WAITING;
    if (ivm_may_block(s->vm))
        return IVM_BLOCKED; /* the slice ends; the call is made again */
    /* Inside a native: run the others from here until p is woken. */
    p->held = true;
    ivm_status st = IVM_OK;
    while (st == IVM_OK && p->state == IVM_PROC_WAITING) {
        if (!run_one(s))
            st = ivm_raise(s->vm, "deadlock: this process waits and no other process can wake it");
        else if (ivm_platform_interrupted())
            st = IVM_INTERRUPTED;
    }
    if (st == IVM_OK && p->killed) /* a link's crash woke it */
        st = ivm_raise_value(s->vm, p->result);
    p->held = false;
    p->state = IVM_PROC_RUNNING;
    if (st == IVM_ERROR)
        ivm_proc_wait_done(p);
    return st;
}

/* ---- Processes --------------------------------------------------------- */

ivm_proc *ivm_proc_spawn(ivm_sched *s, ivm_value fn, ivm_value args)
{
    if (s->nprocs == UINT32_MAX)
        return NULL;
    if (s->nprocs == s->procs_cap)
        s->procs = grow(s->procs, &s->procs_cap, sizeof *s->procs);
    ivm_proc *p = ivm_platform_calloc(1, sizeof *p);
    if (!p)
        out_of_memory();
    p->id = s->nprocs;
    s->procs[s->nprocs++] = p;
    p->fn = fn;
    p->args = args;
    p->tail = &p->head;
    p->state = IVM_PROC_RUNNABLE;
    enqueue(s, p);
    return p;
}

void ivm_proc_send(ivm_sched *s, ivm_proc *to, ivm_value v)
{
    if (to->state == IVM_PROC_DONE)
        return; /* as in Erlang: a message to a dead process is dropped */
    ivm_msg *m = s->free_msgs;
    if (m)
        s->free_msgs = m->next;
    else if (!(m = ivm_platform_malloc(sizeof *m)))
        out_of_memory();
    m->value = v;
    m->next = NULL;
    *to->tail = m;
    to->tail = &m->next;
    to->nmsgs++;
    wake(s, to);
}

static void free_mailbox(ivm_sched *s, ivm_proc *p)
{
    while (p->head) {
        ivm_msg *m = p->head;
        p->head = m->next;
        m->next = s->free_msgs;
        s->free_msgs = m;
    }
    p->tail = &p->head;
    p->nmsgs = 0;
}

ivm_value ivm_sched_signal(ivm_sched *s, ivm_value tag, uint32_t id, ivm_value reason)
{
    ivm_value items[3] = {tag, ivm_pid(id), reason};
    return ivm_vec_from(&s->vm->heap, items, 3);
}

static void end_process(ivm_sched *s, ivm_proc *p, bool crashed, ivm_value reason);

/* p ended (reason :normal, or its error): tells its joiners, monitors and
 * links. A link that does not trap exits ends with the same error. */
static void notify(ivm_sched *s, ivm_proc *p)
{
    ivm_value reason = p->crashed ? p->result : s->kw_normal;
    for (uint32_t i = 0; i < p->joiners.len; i++)
        wake(s, s->procs[p->joiners.ids[i]]);
    for (uint32_t i = 0; i < p->monitors.len; i++)
        ivm_proc_send(s, s->procs[p->monitors.ids[i]],
                      ivm_sched_signal(s, s->kw_down, p->id, reason));
    for (uint32_t i = 0; i < p->links.len; i++) {
        ivm_proc *l = s->procs[p->links.ids[i]];
        if (l->state == IVM_PROC_DONE)
            continue;
        ivm_pid_list_remove(&l->links, p->id);
        if (l->trap_exits)
            ivm_proc_send(s, l, ivm_sched_signal(s, s->kw_exit, p->id, reason));
        else if (p->crashed)
            end_process(s, l, true, reason);
    }
    pid_list_free(&p->joiners);
    pid_list_free(&p->monitors);
    pid_list_free(&p->links);
}

/* Ends a process that is not running (a link's crash took it). A held
 * one is inside a native on the C stack: it ends when its wait returns. */
static void end_process(ivm_sched *s, ivm_proc *p, bool crashed, ivm_value reason)
{
    if (p->state == IVM_PROC_DONE)
        return;
    if (p->held) { /* its wait raises the error (ivm_proc_wait) */
        p->killed = true;
        p->result = reason;
        wake(s, p);
        return;
    }
    p->state = IVM_PROC_DONE;
    p->crashed = crashed;
    p->result = reason;
    if (p->started)
        ivm_stack_free(&p->stack);
    free_mailbox(s, p);
    p->atoms = p->fn = p->args = IVM_NIL;
    ivm_buf_free(&p->partial);
    notify(s, p);
}

/* Whether someone takes care of p's crash: a monitor, or a link that
 * traps exits. Otherwise it is reported. */
static bool crash_handled(ivm_sched *s, ivm_proc *p)
{
    if (p->monitors.len)
        return true;
    for (uint32_t i = 0; i < p->links.len; i++)
        if (s->procs[p->links.ids[i]]->trap_exits)
            return true;
    return false;
}

static void report_crash(ivm_sched *s, ivm_proc *p)
{
    ivm_vm *vm = s->vm;
    ivm_buf m = {0};
    ivm_format_error(vm, &m);
    /* "ivm: error: MESSAGE..." becomes "ivm: process #pid[N] crashed: MESSAGE..." */
    ivm_buf out = {0};
    ivm_buf_add_cstr(&out, "ivm: process #pid[");
    ivm_buf_add_int(&out, p->id);
    ivm_buf_add_cstr(&out, "] crashed: ");
    size_t skip = sizeof "ivm: error: " - 1;
    ivm_buf_add(&out, m.data + skip, m.len - skip);
    ivm_vm_flush(vm);
    ivm_platform_write(IVM_STDERR, out.data, out.len);
    ivm_buf_free(&m);
    ivm_buf_free(&out);
}

/* ---- Slices ------------------------------------------------------------ */

/* Moves the unfinished last line of the output buffer into `keep`, or
 * back: a line is written whole, whichever processes share it. */
static void stash_partial(ivm_vm *vm, ivm_buf *keep)
{
    size_t end = vm->out.len;
    while (end > 0 && vm->out.data[end - 1] != '\n')
        end--;
    if (end < vm->out.len) {
        ivm_buf_add(keep, vm->out.data + end, vm->out.len - end);
        vm->out.len = end;
    }
}

static void unstash_partial(ivm_vm *vm, ivm_buf *keep)
{
    if (keep->len) {
        ivm_buf_add(&vm->out, keep->data, keep->len);
        keep->len = 0;
    }
}

static ivm_status start(ivm_sched *s, ivm_proc *p, ivm_value *result)
{
    ivm_vm *vm = s->vm;
    uint32_t n = ivm_is_vector(p->args) ? (uint32_t)ivm_vec_count(p->args) : 0;
    ivm_value small[8], *args = n <= 8 ? small : ivm_platform_malloc(n * sizeof *args);
    if (!args)
        out_of_memory();
    for (uint32_t i = 0; i < n; i++)
        args[i] = ivm_vec_nth(p->args, i);
    ivm_value fn = p->fn;
    p->fn = p->args = IVM_NIL;
    p->started = true;
    ivm_status st = ivm_start_call(vm, fn, n, args, result);
    if (args != small)
        ivm_platform_free(args);
    if (st == IVM_OK && ivm_stack_depth(vm) > 0) /* else a native ran */
        st = ivm_resume(vm, true, result);
    return st;
}

/* Runs p until it stops; returns how. The process running before (a held
 * one, or none) is put back afterwards. */
static ivm_status slice(ivm_sched *s, ivm_proc *p, ivm_value *result)
{
    ivm_vm *vm = s->vm;
    ivm_proc *outer = vm->proc;
    ivm_stack *outer_stack = outer ? &outer->stack : &s->host;
    ivm_buf *outer_partial = outer ? &outer->partial : &s->host_partial;
    stash_partial(vm, outer_partial);
    if (!p->started && !ivm_stack_init(&p->stack, IVM_SEGMENT_SLOTS))
        out_of_memory();
    ivm_stack_switch(vm, outer_stack, &p->stack);
    unstash_partial(vm, &p->partial);
    vm->proc = p;
    vm->proc_id = p->id;
    p->state = IVM_PROC_RUNNING;
    vm->preempt = s->run_head != NULL || s->ntimers > 0;
    ivm_status st = p->started ? ivm_resume(vm, false, result) : start(s, p, result);
    if (st == IVM_ERROR) {
        p->crashed = true;
        p->result = vm->error;
        if (p->id != 1 && !crash_handled(s, p)) /* the main one's is the CLI's */
            report_crash(s, p);
    }
    stash_partial(vm, &p->partial);
    if (st == IVM_OK || st == IVM_ERROR) { /* its last words, out now */
        unstash_partial(vm, &p->partial);
        ivm_vm_flush(vm);
    }
    ivm_stack_switch(vm, &p->stack, outer_stack);
    unstash_partial(vm, outer_partial);
    vm->proc = outer;
    vm->proc_id = outer ? outer->id : 1;
    vm->preempt = outer && (s->run_head != NULL || s->ntimers > 0);
    if (st == IVM_YIELD) {
        p->state = IVM_PROC_RUNNABLE;
        enqueue(s, p);
    } else if (st == IVM_OK || st == IVM_ERROR) {
        ivm_value reason = st == IVM_OK ? *result : vm->error;
        end_process(s, p, st == IVM_ERROR, reason);
    }
    /* IVM_BLOCKED: the native left it WAITING (or a timer already woke it) */
    return st;
}

/* Runs one slice of some runnable process, first waking those whose
 * timers are due; sleeps until the next timer when nothing can run.
 * False when nothing can run and nothing will wake. */
static bool run_one(ivm_sched *s)
{
    if (s->ntimers && fire_timers(s, ivm_platform_now_ns()) && !s->run_head)
        return true; /* only a held process woke: its wait goes on */
    ivm_proc *p;
    while ((p = dequeue(s)) && p->state != IVM_PROC_RUNNABLE)
        ; /* ended while queued */
    if (!p) {
        if (!s->ntimers)
            return false;
        uint64_t now = ivm_platform_now_ns();
        if (s->timers[0].deadline > now)
            ivm_platform_sleep_ns(s->timers[0].deadline - now);
        return true;
    }
    ivm_value result;
    slice(s, p, &result);
    return true;
}

/* ---- The main process -------------------------------------------------- */

ivm_status ivm_sched_run_main(ivm_sched *s, ivm_value fn, ivm_value *result)
{
    ivm_vm *vm = s->vm;
    IVM_ASSERT(vm->proc == NULL);
    /* the main process is id 1, made again for each run (the REPL's
     * forms) with the atoms of the last */
    ivm_value atoms = IVM_NIL;
    ivm_proc *main;
    if (s->nprocs > 1) {
        main = s->procs[1];
        atoms = main->atoms;
        end_process(s, main, false, IVM_NIL);
        ivm_buf_free(&main->partial);
        pid_list_free(&main->links);
        *main = (ivm_proc){.id = 1, .tail = &main->head, .state = IVM_PROC_RUNNABLE};
        main->atoms = atoms;
        enqueue(s, main);
    } else {
        main = ivm_proc_spawn(s, IVM_NIL, IVM_NIL);
    }
    main->fn = fn;
    main->args = IVM_NIL;
    while (main->state != IVM_PROC_DONE) {
        if (ivm_platform_interrupted())
            return IVM_INTERRUPTED;
        if (!run_one(s)) {
            ivm_vm_flush(vm);
            return ivm_raise(vm, "deadlock: the main process waits and no other process can wake it");
        }
    }
    if (ivm_platform_interrupted())
        return IVM_INTERRUPTED;
    if (main->crashed) {
        vm->error = main->result; /* the trace is still the crash's */
        return IVM_ERROR;
    }
    *result = main->result;
    return IVM_OK;
}

/* ---- Roots ------------------------------------------------------------- */

static void roots(void *context, ivm_gc *gc)
{
    ivm_sched *s = context;
    ivm_vm *vm = s->vm;
    if (vm->proc) /* the VM's own stack is put away */
        ivm_stack_visit_saved(&s->host, gc);
    for (uint32_t i = 1; i < s->nprocs; i++) {
        ivm_proc *p = s->procs[i];
        ivm_gc_visit(gc, &p->result);
        if (p->state == IVM_PROC_DONE)
            continue;
        if (p->started && p != vm->proc)
            ivm_stack_visit_saved(&p->stack, gc);
        ivm_gc_visit(gc, &p->fn);
        ivm_gc_visit(gc, &p->args);
        ivm_gc_visit(gc, &p->atoms);
        for (ivm_msg *m = p->head; m; m = m->next)
            ivm_gc_visit(gc, &m->value);
    }
    ivm_gc_visit(gc, &s->kw_down);
    ivm_gc_visit(gc, &s->kw_exit);
    ivm_gc_visit(gc, &s->kw_normal);
}

static void after_collect(void *context)
{
    ivm_sched *s = context;
    if (s->vm->proc)
        ivm_stack_clear_saved(&s->host);
    for (uint32_t i = 1; i < s->nprocs; i++) {
        ivm_proc *p = s->procs[i];
        if (p->state != IVM_PROC_DONE && p->started && p != s->vm->proc)
            ivm_stack_clear_saved(&p->stack);
    }
}

/* ---- Life cycle -------------------------------------------------------- */

bool ivm_sched_init(ivm_sched *s, ivm_vm *vm)
{
    *s = (ivm_sched){.vm = vm, .nprocs = 1};
    s->procs = grow(NULL, &s->procs_cap, sizeof *s->procs);
    s->procs[0] = NULL;
    s->kw_down = ivm_keyword(&vm->heap, "down", 4);
    s->kw_exit = ivm_keyword(&vm->heap, "exit", 4);
    s->kw_normal = ivm_keyword(&vm->heap, "normal", 6);
    vm->roots_hook = roots;
    vm->after_collect_hook = after_collect;
    vm->hook_context = s;
    ivm_vm_add_natives(vm, ivm_process_natives, ivm_process_native_count);
    return true;
}

void ivm_sched_destroy(ivm_sched *s)
{
    for (uint32_t i = 1; i < s->nprocs; i++) {
        ivm_proc *p = s->procs[i];
        if (p->started && p->state != IVM_PROC_DONE)
            ivm_stack_free(&p->stack);
        ivm_buf_free(&p->partial);
        pid_list_free(&p->links);
        pid_list_free(&p->monitors);
        pid_list_free(&p->joiners);
        ivm_msg *m = p->head;
        while (m) {
            ivm_msg *next = m->next;
            ivm_platform_free(m);
            m = next;
        }
        ivm_platform_free(p);
    }
    while (s->free_msgs) {
        ivm_msg *next = s->free_msgs->next;
        ivm_platform_free(s->free_msgs);
        s->free_msgs = next;
    }
    ivm_platform_free(s->procs);
    ivm_platform_free(s->timers);
    ivm_buf_free(&s->host_partial);
    s->vm->roots_hook = NULL;
    s->vm->after_collect_hook = NULL;
    s->vm->hook_context = NULL;
}
