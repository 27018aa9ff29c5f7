/* The scheduler: process records, the workers and their run queues, work
 * stealing, timers, slices, waits, the ends of processes (links, monitors,
 * joiners, crash reports), and the processes' roots. process.h describes
 * the model and the locking. */
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

ivm_worker *ivm_worker_of(ivm_vm *vm) { return vm->hook_context; }
ivm_sched *ivm_sched_of(ivm_vm *vm) { return ivm_worker_of(vm)->sched; }

ivm_proc *ivm_proc_of(ivm_sched *s, ivm_value pid)
{
    uint32_t id = ivm_imm_payload(pid);
    uint32_t n = __atomic_load_n(&s->nprocs, __ATOMIC_ACQUIRE);
    return ivm_is_pid(pid) && id > 0 && id < n ? s->procs[id] : NULL;
}

/* ---- The lock ---------------------------------------------------------- */

/* Contended: spins, giving the processor up now and then (the holder may
 * have been descheduled). */
void ivm_sched_lock_slow(ivm_sched *s)
{
    uint32_t backoff = 1;
    for (uint32_t i = 1;; i++) {
        if (!__atomic_load_n(&s->lock_word, __ATOMIC_RELAXED) &&
            !__atomic_exchange_n(&s->lock_word, true, __ATOMIC_ACQUIRE))
            return;
        if (i % 1024 == 0) {
            ivm_platform_yield();
            continue;
        }
        /* back off, longer each time, so that the holder's cache line is
         * not taken from it on every turn */
        for (uint32_t k = 0; k < backoff; k++)
            ivm_platform_cpu_relax();
        if (backoff < 64)
            backoff *= 2;
    }
}

/* ---- Run queues and timers --------------------------------------------- */

/* A worker's idle flag and queue length are written under the lock and
 * read without it by spinning workers (spin). */
static void set_idle(ivm_worker *w, bool idle)
{
    __atomic_store_n(&w->idle, idle, __ATOMIC_RELAXED);
}

/* Locked: w sleeps (the scheduler's lock released meanwhile) until rouse
 * or, with a timeout (ns, 0: none), until it passes, or spuriously: the
 * callers look again. `asleep` is set under the scheduler's lock and
 * cleared by rouse before it signals under w's sleep lock, so that no
 * wake-up is lost. */
static void sleep_locked(ivm_worker *w, uint64_t timeout_ns)
{
    ivm_sched *s = w->sched;
    __atomic_store_n(&w->asleep, true, __ATOMIC_RELAXED);
    ivm_sched_unlock(s);
    ivm_platform_mutex_lock(w->sleep_lock);
    if (__atomic_load_n(&w->asleep, __ATOMIC_ACQUIRE)) {
        if (timeout_ns)
            ivm_platform_cond_timedwait(w->wake, w->sleep_lock, timeout_ns);
        else
            ivm_platform_cond_wait(w->wake, w->sleep_lock);
    }
    ivm_platform_mutex_unlock(w->sleep_lock);
    ivm_sched_lock(s);
    __atomic_store_n(&w->asleep, false, __ATOMIC_RELAXED);
}

/* Locked: ends w's sleep, if it sleeps. */
static void rouse(ivm_worker *w)
{
    if (!__atomic_load_n(&w->asleep, __ATOMIC_RELAXED))
        return;
    __atomic_store_n(&w->asleep, false, __ATOMIC_RELEASE);
    ivm_platform_mutex_lock(w->sleep_lock);
    ivm_platform_cond_signal(w->wake);
    ivm_platform_mutex_unlock(w->sleep_lock);
}

/* Wakes worker w if it waits for work (or for its held process). */
static void wake_worker(ivm_sched *s, ivm_worker *w)
{
    if (!w->idle)
        return;
    set_idle(w, false);
    s->nidle--;
    rouse(w);
}

/* Wakes some idle worker, to steal. */
static void wake_idle(ivm_sched *s)
{
    for (uint32_t i = 0; i < s->nworkers && s->nidle; i++) {
        ivm_worker *o = s->workers[i];
        if (o->idle && !(s->paused && i > 0)) {
            wake_worker(s, o);
            return;
        }
    }
}

/* Queues p on w (the worker that made it runnable: a message's receiver
 * runs where its sender ran, so a chain of messages stays on one thread
 * until there is work to share). */
static void enqueue(ivm_worker *w, ivm_proc *p)
{
    if (p->in_queue || p->held || p->on_cpu)
        return;
    ivm_sched *s = w->sched;
    p->in_queue = true;
    p->next_run = NULL;
    if (w->run_tail)
        w->run_tail->next_run = p;
    else
        w->run_head = p;
    w->run_tail = p;
    __atomic_store_n(&w->nrun, w->nrun + 1, __ATOMIC_RELAXED);
    s->nrunnable++;
    ivm_vm_set_preempt(w->vm, true);
    /* one waiting process is for w itself, which is about to run it (or
     * runs it next slice); more are work to share */
    if (w->nrun >= 2 && s->nidle)
        wake_idle(s);
}

static ivm_proc *dequeue(ivm_worker *w)
{
    ivm_proc *p = w->run_head;
    if (p) {
        w->run_head = p->next_run;
        if (!w->run_head)
            w->run_tail = NULL;
        p->in_queue = false;
        __atomic_store_n(&w->nrun, w->nrun - 1, __ATOMIC_RELAXED);
        w->sched->nrunnable--;
    }
    return p;
}

/* Whether w may steal from o: a worker keeps the process it queued last
 * for itself (a message's receiver, most often, which it runs next, on a
 * warm cache), unless it is idle (paused) and cannot run it. */
static bool may_steal_from(const ivm_worker *o)
{
    uint32_t n = __atomic_load_n(&o->nrun, __ATOMIC_RELAXED);
    return n >= 2 || (n >= 1 && __atomic_load_n(&o->idle, __ATOMIC_RELAXED));
}

/* Moves half of the longest queue it may steal from to w's; says whether
 * it took any. */
static bool steal(ivm_worker *w)
{
    ivm_sched *s = w->sched;
    ivm_worker *victim = NULL;
    for (uint32_t i = 1; i < s->nworkers; i++) {
        ivm_worker *o = s->workers[(w->index + i) % s->nworkers];
        if (may_steal_from(o) && (!victim || o->nrun > victim->nrun))
            victim = o;
    }
    if (!victim)
        return false;
    for (uint32_t n = victim->idle ? victim->nrun : victim->nrun / 2; n > 0; n--) {
        ivm_proc *p = dequeue(victim);
        enqueue(w, p);
    }
    return true;
}

/* Makes a waiting process runnable on w; a held one goes on from its
 * wait, on the worker that holds it. */
static void wake(ivm_worker *w, ivm_proc *p)
{
    if (p->state != IVM_PROC_WAITING)
        return;
    p->state = IVM_PROC_RUNNABLE;
    if (p->held)
        wake_worker(w->sched, w->sched->workers[p->held_on]);
    else
        enqueue(w, p);
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

/* Wakes the processes whose deadline has passed, onto w. */
static void fire_timers(ivm_worker *w, uint64_t now)
{
    ivm_sched *s = w->sched;
    while (s->ntimers && s->timers[0].deadline <= now) {
        ivm_timer t = timer_pop(s);
        ivm_proc *p = s->procs[t.proc];
        if (p->state == IVM_PROC_WAITING && p->wait_gen == t.gen) {
            p->timed_out = true;
            wake(w, p);
        }
    }
}

/* ---- Waiting ----------------------------------------------------------- */

void ivm_proc_wait_until(ivm_worker *w, ivm_proc *p, uint64_t deadline)
{
    ivm_sched *s = w->sched;
    if (p->deadline)
        return; /* armed by the first try */
    p->deadline = deadline;
    timer_push(s, (ivm_timer){deadline, p->id, p->wait_gen});
    /* the worker that sleeps until the next timer must wake sooner; busy
     * workers must look at the timers between slices */
    if (s->timer_keeper && deadline < s->keeper_deadline)
        wake_worker(s, s->timer_keeper);
    else if (!s->timer_keeper && s->nidle)
        wake_idle(s);
    for (uint32_t i = 0; i < s->nworkers; i++)
        if (!s->workers[i]->idle)
            ivm_vm_set_preempt(s->workers[i]->vm, true);
}

void ivm_proc_wait_done(ivm_proc *p)
{
    p->deadline = 0;
    p->timed_out = false;
    p->wait_gen++;
}

static bool run_one(ivm_worker *w, bool may_report);
static void scan_before_slice(ivm_worker *w, ivm_proc *p);

ivm_status ivm_proc_wait(ivm_worker *w, ivm_proc *p)
{
    ivm_sched *s = w->sched;
    p->state = IVM_PROC_WAITING;
    if (ivm_may_block(w->vm)) {
        ivm_sched_unlock(s);
        return IVM_BLOCKED; /* the slice ends; the call is made again */
    }
    /* Inside a native: run others from here until p is woken. */
    p->held = true;
    p->held_on = (uint16_t)w->index;
    ivm_status st = IVM_OK;
    while (st == IVM_OK && p->state == IVM_PROC_WAITING) {
        if (!run_one(w, true))
            st = ivm_raise(w->vm, s->shutdown ? "the runtime is shutting down"
                                              : "deadlock: this process waits and no other process can wake it");
        else if (ivm_platform_interrupted())
            st = IVM_INTERRUPTED;
    }
    if (st == IVM_OK && p->killed) /* a link's crash woke it */
        st = ivm_raise_value(w->vm, p->result);
    p->held = false;
    p->state = IVM_PROC_RUNNING;
    if (st == IVM_ERROR)
        ivm_proc_wait_done(p);
    ivm_sched_unlock(s);
    return st;
}

/* ---- Processes --------------------------------------------------------- */

static void end_process(ivm_worker *w, ivm_proc *p, bool crashed, ivm_value reason);

ivm_proc *ivm_proc_new(ivm_worker *w)
{
    ivm_sched *s = w->sched;
    if (s->nprocs == IVM_MAX_PROCS)
        return NULL;
    ivm_proc *p = ivm_platform_proc_calloc(sizeof *p);
    if (!p)
        out_of_memory();
    p->id = s->nprocs;
    s->procs[p->id] = p;
    /* published: ivm_proc_of reads the table without the lock */
    __atomic_store_n(&s->nprocs, p->id + 1, __ATOMIC_RELEASE);
    p->fn = p->args = p->atoms = p->result = IVM_NIL;
    p->tail = &p->head;
    p->in_tail = &p->in_head;
    p->state = IVM_PROC_WAITING; /* for nothing: ivm_proc_start */
    /* What it starts with, its maker holds: if the collector has its
     * maker's roots, it has these (gc.h, concurrent cycles). */
    if (w->vm->proc)
        p->scanned = __atomic_load_n(&w->vm->proc->scanned, __ATOMIC_RELAXED);
    return p;
}

void ivm_proc_start(ivm_worker *w, ivm_proc *p)
{
    p->state = IVM_PROC_RUNNABLE;
    enqueue(w, p);
}

void ivm_proc_discard(ivm_worker *w, ivm_proc *p)
{
    end_process(w, p, false, IVM_NIL);
}

void ivm_proc_send(ivm_worker *w, ivm_proc *to, ivm_value v)
{
    if (to->state == IVM_PROC_DONE)
        return; /* as in Erlang: a message to a dead process is dropped */
    ivm_msg *m = w->free_msgs;
    if (m) {
        w->free_msgs = m->next;
        w->nfree_msgs--;
    } else if (!(m = ivm_platform_proc_calloc(sizeof *m))) {
        out_of_memory();
    }
    m->value = ivm_vm_barrier(w->vm, v);
    m->next = NULL;
    *to->in_tail = m;
    to->in_tail = &m->next;
    wake(w, to);
}

void ivm_proc_take_inbox(ivm_proc *p)
{
    if (!p->in_head)
        return;
    *p->tail = p->in_head;
    p->tail = p->in_tail;
    p->in_head = NULL;
    p->in_tail = &p->in_head;
}

/* Frees an unfinished output line kept for a process or a worker. */
static void drop_partial(ivm_buf **keep)
{
    if (*keep) {
        ivm_buf_free(*keep);
        ivm_platform_free(*keep);
        *keep = NULL;
    }
}

void ivm_msg_free(ivm_worker *w, ivm_msg *m)
{
    if (w->nfree_msgs >= IVM_FREE_MSGS_MAX) {
        ivm_platform_proc_free(m);
        return;
    }
    m->next = w->free_msgs;
    w->free_msgs = m;
    w->nfree_msgs++;
}

static void free_mailbox(ivm_worker *w, ivm_proc *p)
{
    ivm_proc_take_inbox(p);
    while (p->head) {
        ivm_msg *m = p->head;
        p->head = m->next;
        ivm_msg_free(w, m);
    }
    p->tail = &p->head;
}

ivm_value ivm_sched_signal(ivm_vm *vm, ivm_value tag, uint32_t id, ivm_value reason)
{
    ivm_value items[3] = {tag, ivm_pid(id), reason};
    return ivm_vec_from(&vm->heap, items, 3);
}

/* p ended (reason :normal, or its error): tells its joiners, monitors and
 * links. A link that does not trap exits ends with the same error. */
static void notify(ivm_worker *w, ivm_proc *p)
{
    ivm_sched *s = w->sched;
    ivm_value reason = p->crashed ? p->result : s->kw_normal;
    for (uint32_t i = 0; i < p->joiners.len; i++)
        wake(w, s->procs[p->joiners.ids[i]]);
    for (uint32_t i = 0; i < p->monitors.len; i++)
        ivm_proc_send(w, s->procs[p->monitors.ids[i]],
                      ivm_sched_signal(w->vm, s->kw_down, p->id, reason));
    for (uint32_t i = 0; i < p->links.len; i++) {
        ivm_proc *l = s->procs[p->links.ids[i]];
        if (l->state == IVM_PROC_DONE)
            continue;
        ivm_pid_list_remove(&l->links, p->id);
        if (l->trap_exits)
            ivm_proc_send(w, l, ivm_sched_signal(w->vm, s->kw_exit, p->id, reason));
        else if (p->crashed)
            end_process(w, l, true, reason);
    }
    pid_list_free(&p->joiners);
    pid_list_free(&p->monitors);
    pid_list_free(&p->links);
}

/* Ends a process (locked). One on a worker (a link's crash took it) ends
 * when its slice ends: it is marked killed, and a held one's wait raises
 * the error (ivm_proc_wait). */
static void end_process(ivm_worker *w, ivm_proc *p, bool crashed, ivm_value reason)
{
    ivm_sched *s = w->sched;
    if (p->state == IVM_PROC_DONE)
        return;
    if (p->held || p->on_cpu) { /* it ends when its wait or its slice ends */
        p->killed = true;
        p->result = reason;
        wake(w, p);
        for (uint32_t i = 0; i < s->nworkers; i++)
            ivm_vm_set_preempt(s->workers[i]->vm, true);
        return;
    }
    p->state = IVM_PROC_DONE;
    p->crashed = crashed;
    p->result = reason;
    if (p->id == 1 && crashed) { /* w's trace is the error's */
        memcpy(s->main_trace, w->vm->trace, sizeof s->main_trace);
        s->main_ntrace = w->vm->ntrace;
        s->main_trace_dropped = w->vm->trace_dropped;
    }
    if (p->started)
        ivm_stack_free(&p->stack);
    free_mailbox(w, p);
    p->atoms = p->fn = p->args = IVM_NIL;
    drop_partial(&p->partial);
    notify(w, p);
    if (p->id == 1) { /* run_main, on worker 0, looks */
        ivm_vm_set_preempt(s->workers[0]->vm, true);
        wake_worker(s, s->workers[0]);
    }
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

static void report_crash(ivm_vm *vm, ivm_proc *p)
{
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

/* Moves the unfinished last line of the output buffer into *keep (made
 * when needed), or back (*keep freed): a line is written whole, whichever
 * processes share it. */
static void stash_partial(ivm_vm *vm, ivm_buf **keep)
{
    size_t end = ivm_vm_lines_end(vm);
    if (end == vm->out.len)
        return;
    if (!*keep && !(*keep = ivm_platform_calloc(1, sizeof **keep)))
        out_of_memory();
    ivm_buf_add(*keep, vm->out.data + end, vm->out.len - end);
    vm->out.len = end;
}

static void unstash_partial(ivm_vm *vm, ivm_buf **keep)
{
    if (*keep)
        ivm_buf_add(&vm->out, (*keep)->data, (*keep)->len);
    drop_partial(keep);
}

static ivm_status start(ivm_vm *vm, ivm_proc *p, ivm_value *result)
{
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

/* Whether w has reason to stop a slice early: others wait, or timers. */
static bool others_wait(ivm_worker *w)
{
    return w->run_head != NULL || w->sched->ntimers > 0;
}

/* Runs p (dequeued by w, on_cpu) until it stops, then puts it where its
 * state says: unlocked on entry, locked on return. The process running
 * before on w (a held one, or none) is put back afterwards. */
static void slice(ivm_worker *w, ivm_proc *p)
{
    ivm_sched *s = w->sched;
    ivm_vm *vm = w->vm;
    ivm_proc *outer = vm->proc;
    ivm_stack *outer_stack = outer ? &outer->stack : &w->host;
    ivm_buf **outer_partial = outer ? &outer->partial : &w->host_partial;
    stash_partial(vm, outer_partial);
    if (!p->started && !ivm_stack_init(&p->stack, IVM_SEGMENT_SLOTS))
        out_of_memory();
    ivm_stack_switch(vm, outer_stack, &p->stack);
    if (outer)
        outer->stack_in_vm = false;
    p->stack_in_vm = true;
    unstash_partial(vm, &p->partial);
    vm->proc = p;
    vm->proc_id = p->id;
    p->outer = outer;
    ivm_value result = IVM_NIL;
    ivm_status st = p->started ? ivm_resume(vm, false, &result) : start(vm, p, &result);
    bool report = false;
    if (st == IVM_ERROR) {
        ivm_sched_lock(s);
        report = p->id != 1 && !crash_handled(s, p) && !p->killed; /* the main one's is the CLI's */
        ivm_sched_unlock(s);
        if (report)
            report_crash(vm, p);
    }
    /* Its whole lines go out now (it may run on another worker next: its
     * lines must not overtake each other), its unfinished one with it
     * (or out now if it ended). */
    stash_partial(vm, &p->partial);
    if (st == IVM_OK || st == IVM_ERROR)
        unstash_partial(vm, &p->partial);
    ivm_vm_flush(vm);
    ivm_stack_switch(vm, &p->stack, outer_stack);
    p->stack_in_vm = false;
    if (outer)
        outer->stack_in_vm = true;
    unstash_partial(vm, outer_partial);
    vm->proc = outer;
    vm->proc_id = outer ? outer->id : 1;
    p->outer = NULL;

    ivm_sched_lock(s);
    p->on_cpu = false;
    ivm_vm_set_preempt(vm, outer && others_wait(w));
    if (st == IVM_OK || st == IVM_ERROR) {
        ivm_value reason = st == IVM_OK ? result : vm->error;
        end_process(w, p, st == IVM_ERROR, reason);
    } else if (p->killed) { /* a link's crash ended it while it ran */
        end_process(w, p, true, p->result);
    } else if (st == IVM_YIELD || st == IVM_INTERRUPTED) {
        p->state = IVM_PROC_RUNNABLE;
        enqueue(w, p);
        if (st == IVM_INTERRUPTED) /* run_main, on worker 0, ends the program */
            wake_worker(s, s->workers[0]);
    } else if (p->state == IVM_PROC_RUNNABLE) { /* IVM_BLOCKED, and woken since */
        enqueue(w, p);
    }
}

/* Locked: whether nothing can run any more: every other worker waits, no
 * process is runnable (a woken held one makes its worker busy) and no
 * timer is armed. */
static bool deadlocked(ivm_sched *s)
{
    return s->nidle + 1 == s->nworkers && s->nrunnable == 0 && s->ntimers == 0;
}

/* How long an idle worker spins, watching for work, before it sleeps:
 * a worker that sleeps and is woken costs two system calls, more than
 * most slices take. */
#define IVM_IDLE_SPIN_NS 50000
#define IVM_INTERRUPT_POLL_NS 100000000

static bool can_steal(const ivm_worker *w)
{
    for (uint32_t k = 0; k < w->sched->nworkers; k++)
        if (w->sched->workers[k] != w && may_steal_from(w->sched->workers[k]))
            return true;
    return false;
}

/* Unlocked, parked: spins until w is woken, work it may steal appears, or
 * the spin's time is up. */
static void spin(ivm_worker *w)
{
    uint64_t until = ivm_platform_now_ns() + IVM_IDLE_SPIN_NS;
    for (uint32_t i = 0;; i++) {
        if (!__atomic_load_n(&w->idle, __ATOMIC_RELAXED))
            return;
        if (can_steal(w))
            return;
        if ((i & 63) == 63 && ivm_platform_now_ns() >= until)
            return;
        ivm_platform_cpu_relax();
    }
}

/* The keeper of the timers sleeps until this long before the next
 * deadline, then watches the clock: waking a sleeping thread takes tens
 * of microseconds, more on a virtual machine, and a process that asked to
 * wait 1 ms should not wait 1.05. At most this much CPU per deadline. */
#define IVM_TIMER_SPIN_NS 100000

/* Unlocked, idle: spins until `deadline`, or until w is woken. */
static void spin_until(ivm_worker *w, uint64_t deadline)
{
    while (__atomic_load_n(&w->idle, __ATOMIC_RELAXED) && ivm_platform_now_ns() < deadline)
        ivm_platform_cpu_relax();
}

/* How long w may sleep, for a wait of ns (0: for ever): the main thread
 * looks at SIGINT every so often, since the signal does not end a wait
 * and the thread it interrupted may be busy. */
static uint64_t poll_bound(const ivm_worker *w, uint64_t ns)
{
    return w->index == 0 && (ns == 0 || ns > IVM_INTERRUPT_POLL_NS) ? IVM_INTERRUPT_POLL_NS : ns;
}

/* Locked: w waits for work, parked (a collection need not wait for it),
 * until woken, or until the next timer if it keeps them. */
static void idle_wait(ivm_worker *w)
{
    ivm_sched *s = w->sched;
    ivm_vm_flush(w->vm); /* whole lines: see stash_partial */
    set_idle(w, true);
    s->nidle++;
    bool paused = s->paused && w->index > 0;
    if (paused)
        rouse(s->workers[0]); /* run_main waits for this */
    bool keeper = !paused && s->ntimers && !s->timer_keeper;
    if (s->nworkers == 1) { /* nothing but a timer can wake it (no lock is taken) */
        uint64_t now = ivm_platform_now_ns();
        if (keeper && s->timers[0].deadline > now + IVM_TIMER_SPIN_NS)
            ivm_platform_sleep_ns(poll_bound(w, s->timers[0].deadline - now - IVM_TIMER_SPIN_NS));
        if (keeper)
            spin_until(w, s->timers[0].deadline);
        set_idle(w, false);
        s->nidle--;
        return;
    }
    ivm_vm_park(w->vm);
    if (!paused && !keeper) {
        ivm_sched_unlock(s);
        spin(w);
        ivm_sched_lock(s);
    }
    if (!w->idle || (!paused && can_steal(w)) || s->shutdown) {
        /* woken, or work to steal: no sleep */
    } else if (keeper) {
        s->timer_keeper = w;
        s->keeper_deadline = s->timers[0].deadline;
        uint64_t now = ivm_platform_now_ns();
        if (s->keeper_deadline > now + IVM_TIMER_SPIN_NS)
            sleep_locked(w, poll_bound(w, s->keeper_deadline - now - IVM_TIMER_SPIN_NS));
        if (w->idle && s->keeper_deadline <= ivm_platform_now_ns() + IVM_TIMER_SPIN_NS) {
            ivm_sched_unlock(s);
            spin_until(w, s->keeper_deadline);
            ivm_sched_lock(s);
        }
        s->timer_keeper = NULL;
    } else {
        sleep_locked(w, poll_bound(w, 0));
    }
    if (w->idle) { /* a timeout, a spurious wake-up, or work seen */
        set_idle(w, false);
        s->nidle--;
    }
    ivm_sched_unlock(s);
    ivm_vm_unpark(w->vm); /* may wait for a collection to end */
    ivm_sched_lock(s);
}

/* Locked on entry and on return: runs one slice of some runnable process
 * on w, first waking those whose timers are due; waits when there is
 * none. False when w should stop: the runtime shuts down or (may_report:
 * w can raise it in its process) nothing can run any more. */
static bool run_one(ivm_worker *w, bool may_report)
{
    ivm_sched *s = w->sched;
    if (s->shutdown)
        return false;
    if (s->ntimers)
        fire_timers(w, ivm_platform_now_ns());
    ivm_proc *p = NULL;
    if (!(s->paused && w->index > 0)) {
        while ((p = dequeue(w)) && p->state != IVM_PROC_RUNNABLE)
            ; /* ended while queued */
        if (!p && steal(w))
            while ((p = dequeue(w)) && p->state != IVM_PROC_RUNNABLE)
                ;
    }
    ivm_proc *holder = w->vm->proc; /* a held process waits in this call */
    if (!p && holder && holder->state != IVM_PROC_WAITING)
        return true; /* it was woken: its wait goes on */
    if (!p) {
        bool stuck = !(s->paused && w->index > 0) && deadlocked(s);
        if (stuck && may_report)
            return false;
        if (stuck) /* wake one that can say so: the main thread */
            wake_worker(s, s->workers[0]);
        idle_wait(w);
        return true;
    }
    p->on_cpu = true;
    p->state = IVM_PROC_RUNNING;
    ivm_proc_take_inbox(p); /* its messages are its own while it runs here */
    ivm_vm_set_preempt(w->vm, others_wait(w));
    ivm_sched_unlock(s);
    if (ivm_heap_no_edits(&w->vm->heap)) /* the collector marks or evacuates */
        scan_before_slice(w, p);
    slice(w, p);
    return true;
}

/* ---- Worker threads ---------------------------------------------------- */

static void worker_main(void *arg)
{
    ivm_worker *w = arg;
    ivm_vm_unpark(w->vm);
    ivm_sched_lock(w->sched);
    while (run_one(w, false))
        ;
    ivm_sched_unlock(w->sched);
    ivm_vm_flush(w->vm);
    ivm_vm_park(w->vm);
}

static ivm_worker *new_worker(ivm_sched *s, ivm_vm *vm, uint32_t index)
{
    ivm_worker *w = ivm_platform_calloc(1, sizeof *w);
    if (!w || !(w->wake = ivm_platform_cond_new()) || !(w->sleep_lock = ivm_platform_mutex_new()))
        out_of_memory();
    w->sched = s;
    w->vm = vm;
    w->index = index;
    vm->hook_context = w;
    return w;
}

/* Starts workers 1.. on their threads, each with a VM of its own. */
static void start_workers(ivm_sched *s)
{
    s->started = true;
    for (uint32_t i = 1; i < s->nworkers; i++) {
        ivm_worker *w = s->workers[i];
        w->thread = ivm_platform_thread_start(worker_main, w);
        if (!w->thread) {
            static const char m[] = "ivm: cannot start a scheduler thread\n";
            ivm_platform_write(IVM_STDERR, m, sizeof m - 1);
            ivm_platform_exit(70);
        }
    }
}

/* Run_main is over: the other workers finish their slices and wait. The
 * main thread is parked meanwhile (their slices may collect). */
static void pause_workers(ivm_sched *s)
{
    ivm_worker *w0 = s->workers[0];
    ivm_sched_lock(s);
    s->paused = true;
    for (uint32_t i = 1; i < s->nworkers; i++)
        ivm_vm_set_preempt(s->workers[i]->vm, true);
    if (s->nidle < s->nworkers - 1) {
        ivm_vm_park(w0->vm);
        while (s->nidle < s->nworkers - 1)
            sleep_locked(w0, 0);
        ivm_sched_unlock(s);
        ivm_vm_unpark(w0->vm);
        ivm_sched_lock(s);
    }
    ivm_sched_unlock(s);
}

static void resume_workers(ivm_sched *s)
{
    ivm_sched_lock(s);
    s->paused = false;
    for (uint32_t i = 1; i < s->nworkers; i++)
        wake_worker(s, s->workers[i]);
    ivm_sched_unlock(s);
    if (!s->started && s->nworkers > 1)
        start_workers(s);
}

/* ---- The main process -------------------------------------------------- */

ivm_status ivm_sched_run_main(ivm_sched *s, ivm_value fn, ivm_value *result)
{
    ivm_vm *vm = s->vm;
    ivm_worker *w0 = s->workers[0];
    IVM_ASSERT(vm->proc == NULL);
    /* the main process is id 1, made again for each run (the REPL's
     * forms) with the atoms of the last */
    ivm_sched_lock(s);
    ivm_proc *main;
    if (s->nprocs > 1) {
        main = s->procs[1];
        ivm_value atoms = main->atoms;
        end_process(w0, main, false, IVM_NIL);
        drop_partial(&main->partial);
        pid_list_free(&main->links);
        *main = (ivm_proc){.id = 1, .tail = &main->head, .in_tail = &main->in_head,
                           .state = IVM_PROC_RUNNABLE};
        main->atoms = atoms;
        enqueue(w0, main);
    } else {
        main = ivm_proc_new(w0);
        ivm_proc_start(w0, main);
    }
    main->fn = fn;
    main->args = IVM_NIL;
    ivm_sched_unlock(s);
    resume_workers(s);
    ivm_status st = IVM_OK;
    ivm_sched_lock(s);
    while (main->state != IVM_PROC_DONE) {
        if (ivm_platform_interrupted()) {
            st = IVM_INTERRUPTED;
            break;
        }
        if (!run_one(w0, true)) {
            ivm_vm_flush(vm);
            st = ivm_raise(vm, "deadlock: the main process waits and no other process can wake it");
            break;
        }
    }
    ivm_sched_unlock(s);
    pause_workers(s);
    if (st != IVM_OK)
        return st;
    if (ivm_platform_interrupted())
        return IVM_INTERRUPTED;
    if (main->crashed) {
        vm->error = main->result;
        memcpy(vm->trace, s->main_trace, sizeof vm->trace);
        vm->ntrace = s->main_ntrace;
        vm->trace_dropped = s->main_trace_dropped;
        return IVM_ERROR;
    }
    *result = main->result;
    return IVM_OK;
}

/* ---- Roots ------------------------------------------------------------- */

/* A process record's roots: its result, and unless it is DONE its stack
 * (when saved), what it is to run, its atoms and its mailbox. The inbox
 * (L): the caller holds the lock, or no other thread runs. */
static void visit_record(ivm_gc *gc, ivm_proc *p)
{
    ivm_gc_visit(gc, &p->result);
    if (p->state == IVM_PROC_DONE)
        return;
    if (p->started && !p->stack_in_vm)
        ivm_stack_visit_saved(&p->stack, gc);
    ivm_gc_visit(gc, &p->fn);
    ivm_gc_visit(gc, &p->args);
    ivm_gc_visit(gc, &p->atoms);
    for (ivm_msg *m = p->head; m; m = m->next)
        ivm_gc_visit(gc, &m->value);
    for (ivm_msg *m = p->in_head; m; m = m->next)
        ivm_gc_visit(gc, &m->value);
}

static void visit_sched(ivm_sched *s, ivm_gc *gc)
{
    ivm_gc_visit(gc, &s->kw_down);
    ivm_gc_visit(gc, &s->kw_exit);
    ivm_gc_visit(gc, &s->kw_normal);
    for (uint32_t i = 0; i < s->main_ntrace; i++)
        ivm_gc_visit(gc, &s->main_trace[i].function);
}

/* Every thread is stopped or parked: no lock is needed. */
static void roots(void *context, ivm_gc *gc)
{
    ivm_sched *s = context;
    for (uint32_t i = 0; i < s->nworkers; i++)
        if (s->workers[i]->vm->proc) /* the VM's own stack is put away */
            ivm_stack_visit_saved(&s->workers[i]->host, gc);
    for (uint32_t i = 1; i < s->nprocs; i++)
        visit_record(gc, s->procs[i]);
    visit_sched(s, gc);
}

/* ---- Concurrent cycles (gc.h) ------------------------------------------ */

static uint32_t gc_cycle(ivm_vm *vm)
{
    return __atomic_load_n(&vm->rt->gc.cycle, __ATOMIC_ACQUIRE);
}

/* Locked: scans p's record into gc once in `cycle`, its saved stack's
 * stale slots cleared (only p's worker, or the collector while no worker
 * runs p, may). */
static void scan_record(ivm_gc *gc, ivm_proc *p, uint32_t cycle)
{
    if (__atomic_load_n(&p->scanned, __ATOMIC_RELAXED) == cycle)
        return;
    visit_record(gc, p);
    if (p->state != IVM_PROC_DONE && p->started && !p->stack_in_vm)
        ivm_stack_clear_saved(&p->stack);
    __atomic_store_n(&p->scanned, cycle, __ATOMIC_RELAXED);
}

/* A VM's handshake (its own thread, or the collector while it is parked
 * and claimed): the host stack put away under the process it runs, and
 * the records of that process (its stack is the VM's, which the VM
 * visits) and of the held ones it runs inside. */
static void vm_roots(void *context, ivm_vm *vm, ivm_gc *v, uint32_t cycle)
{
    ivm_sched *s = context;
    ivm_worker *w = ivm_worker_of(vm);
    if (!vm->proc)
        return;
    ivm_stack_visit_saved(&w->host, v);
    ivm_sched_lock(s);
    for (ivm_proc *p = vm->proc; p; p = p->outer)
        scan_record(v, p, cycle);
    ivm_sched_unlock(s);
}

/* The collector: every record not yet scanned in `cycle` that no worker
 * runs, a few at a time under the lock; how many were left (running). */
static uint32_t scan_procs(void *context, ivm_gc *gc, uint32_t cycle)
{
    ivm_sched *s = context;
    uint32_t left = 0;
    uint32_t n = __atomic_load_n(&s->nprocs, __ATOMIC_ACQUIRE);
    ivm_sched_lock(s);
    visit_sched(s, gc);
    for (uint32_t i = 1; i < n; i++) {
        if ((i & 63) == 0) { /* let the workers at the lock */
            ivm_sched_unlock(s);
            ivm_sched_lock(s);
        }
        ivm_proc *p = s->procs[i];
        if (__atomic_load_n(&p->scanned, __ATOMIC_RELAXED) == cycle)
            continue;
        if (p->on_cpu)
            left++;
        else
            scan_record(gc, p, cycle);
    }
    ivm_sched_unlock(s);
    return left;
}

/* Unlocked, p on_cpu and not yet running: first the VM's handshake if one
 * waits (so that what p builds lies in regions born in the cycle), then
 * p's record, handed over before p runs. */
static void scan_before_slice(ivm_worker *w, ivm_proc *p)
{
    ivm_vm *vm = w->vm;
    ivm_vm_handshake(vm);
    uint32_t pass = __atomic_load_n(&vm->rt->evac_pass, __ATOMIC_ACQUIRE);
    if (pass) { /* evacuating: p's record gets the copies before p runs */
        ivm_gc *v = vm->gc_visitor;
        v->walk = __atomic_load_n(&vm->rt->gc.walk, __ATOMIC_RELAXED);
        v->evac_found = 0;
        v->cfixing = true;
        ivm_sched_lock(w->sched);
        scan_record(v, p, pass);
        ivm_sched_unlock(w->sched);
        v->cfixing = false;
        __atomic_add_fetch(&vm->rt->gc.evac_found, v->evac_found, __ATOMIC_RELAXED);
        return;
    }
    uint32_t cycle = gc_cycle(vm);
    if (!ivm_gc_marking(&vm->rt->gc) || __atomic_load_n(&p->scanned, __ATOMIC_RELAXED) == cycle ||
        vm->roots_cycle != cycle)
        return; /* marking is over, or p is scanned, or is to be with vm's roots */
    ivm_sched_lock(w->sched);
    scan_record(vm->gc_visitor, p, cycle);
    ivm_sched_unlock(w->sched);
    ivm_gc_hand_over(vm->gc_visitor);
}

static void after_collect(void *context)
{
    ivm_sched *s = context;
    for (uint32_t i = 0; i < s->nworkers; i++)
        if (s->workers[i]->vm->proc)
            ivm_stack_clear_saved(&s->workers[i]->host);
    for (uint32_t i = 1; i < s->nprocs; i++) {
        ivm_proc *p = s->procs[i];
        if (p->state != IVM_PROC_DONE && p->started && !p->stack_in_vm)
            ivm_stack_clear_saved(&p->stack);
    }
}

/* ---- Life cycle -------------------------------------------------------- */

bool ivm_sched_init(ivm_sched *s, ivm_vm *vm, uint32_t workers)
{
    *s = (ivm_sched){.vm = vm, .nprocs = 1, .nworkers = workers ? workers : 1};
    s->workers = ivm_platform_calloc(s->nworkers, sizeof *s->workers);
    if (!s->workers)
        return false;
    s->procs = ivm_platform_reserve((size_t)IVM_MAX_PROCS * sizeof *s->procs, 0);
    if (!s->procs)
        return false;
    s->kw_down = ivm_keyword(&vm->heap, "down", 4);
    s->kw_exit = ivm_keyword(&vm->heap, "exit", 4);
    s->kw_normal = ivm_keyword(&vm->heap, "normal", 6);
    ivm_vm_add_natives(vm, ivm_process_natives, ivm_process_native_count);
    s->workers[0] = new_worker(s, vm, 0);
    for (uint32_t i = 1; i < s->nworkers; i++) {
        ivm_vm *t = ivm_platform_malloc(sizeof *t);
        if (!t || !ivm_vm_init_thread(t, vm))
            return false;
        s->workers[i] = new_worker(s, t, i);
        set_idle(s->workers[i], true); /* until started: run_main wakes it */
        s->nidle++;
    }
    s->paused = true;
    vm->rt->roots_hook = roots;
    vm->rt->after_collect_hook = after_collect;
    vm->rt->vm_roots_hook = vm_roots;
    vm->rt->scan_procs_hook = scan_procs;
    vm->rt->hook_context = s;
    return true;
}

static void free_msgs(ivm_msg *m)
{
    while (m) {
        ivm_msg *next = m->next;
        ivm_platform_proc_free(m);
        m = next;
    }
}

void ivm_sched_destroy(ivm_sched *s)
{
    ivm_collector_stop(s->vm->rt); /* its cycles look at the workers' VMs */
    ivm_sched_lock(s);
    s->shutdown = true;
    for (uint32_t i = 1; i < s->nworkers; i++)
        wake_worker(s, s->workers[i]);
    ivm_sched_unlock(s);
    for (uint32_t i = 1; i < s->nworkers; i++) {
        ivm_worker *w = s->workers[i];
        if (w->thread)
            ivm_platform_thread_join(w->thread);
        ivm_vm_destroy(w->vm);
        ivm_platform_free(w->vm);
    }
    for (uint32_t i = 1; i < s->nprocs; i++) {
        ivm_proc *p = s->procs[i];
        if (p->started && p->state != IVM_PROC_DONE)
            ivm_stack_free(&p->stack);
        drop_partial(&p->partial);
        pid_list_free(&p->links);
        pid_list_free(&p->monitors);
        pid_list_free(&p->joiners);
        free_msgs(p->head);
        free_msgs(p->in_head);
        ivm_platform_proc_free(p);
    }
    for (uint32_t i = 0; i < s->nworkers; i++) {
        drop_partial(&s->workers[i]->host_partial);
        free_msgs(s->workers[i]->free_msgs);
        ivm_platform_cond_free(s->workers[i]->wake);
        ivm_platform_mutex_free(s->workers[i]->sleep_lock);
        ivm_platform_free(s->workers[i]);
    }
    ivm_platform_free(s->workers);
    ivm_platform_release(s->procs, (size_t)IVM_MAX_PROCS * sizeof *s->procs);
    ivm_platform_free(s->timers);
    s->vm->rt->roots_hook = NULL;
    s->vm->rt->after_collect_hook = NULL;
    s->vm->rt->vm_roots_hook = NULL;
    s->vm->rt->scan_procs_hook = NULL;
    s->vm->rt->hook_context = NULL;
    s->vm->hook_context = NULL;
}
