/* The process natives: spawn, self, send, receive, receive-if, sleep,
 * join, fork, link, monitor, trap-exits, and atoms (atom, deref, swap!,
 * reset!, compare-and-set!). A native that must wait returns what
 * ivm_proc_wait says: IVM_BLOCKED ends the slice and the native is called
 * again when the process is woken, so each one checks first whether its
 * wait is over. */
#include "process/process.h"

#include "ivm/platform.h"
#include "values/map.h"
#include "values/vector.h"

#define NATIVE(name)                                                           \
    static ivm_status name(ivm_vm *vm, const ivm_value *args, uint32_t nargs, \
                           ivm_value *result)

/* The running process, or an error naming the native that needs one. */
static ivm_status running(ivm_vm *vm, const char *what, ivm_worker **w, ivm_proc **p)
{
    *w = ivm_worker_of(vm);
    *p = vm->proc;
    if (*p)
        return IVM_OK;
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, what);
    ivm_buf_add_cstr(&b, " needs a running process");
    return ivm_raise_buf(vm, &b);
}

/* The process pid names (the table is read without the lock, and records
 * are never freed while the scheduler lives). */
static ivm_status target(ivm_vm *vm, ivm_value pid, ivm_proc **out)
{
    *out = ivm_proc_of(ivm_sched_of(vm), pid);
    return *out ? IVM_OK : ivm_raise_type(vm, "expected a pid", pid);
}

/* Milliseconds as a deadline; false (with the error raised) if ms is not a
 * number. */
static ivm_status deadline_of(ivm_vm *vm, ivm_value ms, uint64_t *deadline)
{
    double d;
    if (ivm_is_int(ms))
        d = (double)ivm_int_value(ms);
    else if (ivm_is_float(ms))
        d = ivm_float_value(ms);
    else
        return ivm_raise_type(vm, "a time in milliseconds must be a number", ms);
    if (!(d > 0))
        d = 0;
    if (d > 1e12)
        d = 1e12;
    *deadline = ivm_platform_now_ns() + (uint64_t)(d * 1e6);
    return IVM_OK;
}

/* ---- Processes --------------------------------------------------------- */

NATIVE(n_spawn)
{
    ivm_worker *w = ivm_worker_of(vm);
    ivm_value rest = ivm_vec_from(&vm->heap, args + 1, nargs - 1);
    ivm_vm_flush_lines(vm); /* what it printed comes before what they print */
    ivm_sched_lock(w->sched);
    ivm_proc *p = ivm_proc_new(w);
    if (p) {
        p->fn = args[0];
        p->args = rest;
        ivm_proc_start(w, p);
    }
    ivm_sched_unlock(w->sched);
    if (!p)
        return ivm_raise(vm, "too many processes");
    *result = ivm_pid(p->id);
    return IVM_OK;
}

NATIVE(n_self)
{
    (void)args, (void)nargs;
    ivm_worker *w;
    ivm_proc *p;
    ivm_status st = running(vm, "self", &w, &p);
    if (st == IVM_OK)
        *result = ivm_pid(p->id);
    return st;
}

NATIVE(n_send)
{
    (void)nargs;
    ivm_worker *w = ivm_worker_of(vm);
    ivm_proc *to;
    ivm_status st = target(vm, args[0], &to);
    if (st != IVM_OK)
        return st;
    ivm_vm_flush_lines(vm); /* what it printed comes before what the receiver prints */
    ivm_sched_lock(w->sched);
    ivm_proc_send(w, to, args[1]);
    ivm_sched_unlock(w->sched);
    *result = args[1];
    return IVM_OK;
}

/* Takes message m (after prev, or the first) out of p's own messages (no
 * lock needed: they are p's). */
static ivm_value take(ivm_vm *vm, ivm_proc *p, ivm_msg *prev, ivm_msg *m)
{
    if (prev)
        prev->next = m->next;
    else
        p->head = m->next;
    if (p->tail == &m->next)
        p->tail = prev ? &prev->next : &p->head;
    ivm_value v = m->value;
    ivm_msg_free(ivm_worker_of(vm), m);
    return v;
}

/* The first of p's own messages that satisfies pred (called without the
 * lock: it runs code), taken out; *found says whether there was one. */
static ivm_status scan(ivm_vm *vm, ivm_proc *p, ivm_value pred, bool *found, ivm_value *out)
{
    ivm_msg *prev = NULL;
    *found = false;
    for (ivm_msg *m = p->head; m; prev = m, m = m->next) {
        ivm_value r;
        p->scanning = true;
        ivm_status st = ivm_call(vm, pred, 1, &m->value, &r);
        p->scanning = false;
        if (st != IVM_OK)
            return st;
        if (ivm_truthy(r)) {
            *out = take(vm, p, prev, m);
            *found = true;
            return IVM_OK;
        }
    }
    return IVM_OK;
}

/* The common part of receive and receive-if: `pred` nil takes the first
 * message; `timeout` (ms) nil waits for ever. */
static ivm_status receive(ivm_vm *vm, ivm_value pred, ivm_value timeout,
                          ivm_value missing, ivm_value *result)
{
    ivm_worker *w;
    ivm_proc *p;
    ivm_status st = running(vm, "receive", &w, &p);
    if (st != IVM_OK)
        return st;
    ivm_sched *s = w->sched;
    if (p->scanning)
        return ivm_raise(vm, "receive inside a receive-if predicate");
    uint64_t deadline = 0;
    if (timeout != IVM_NIL && (st = deadline_of(vm, timeout, &deadline)) != IVM_OK)
        return st;
    /* the first message, already its own, in a wait without a timer (so
     * there is no wait to end): no lock */
    if (pred == IVM_NIL && p->head && !p->deadline) {
        *result = take(vm, p, NULL, p->head);
        return IVM_OK;
    }
    for (;;) {
        bool found = false;
        if (pred != IVM_NIL && (st = scan(vm, p, pred, &found, result)) != IVM_OK) {
            ivm_sched_lock(s);
            ivm_proc_wait_done(p);
            ivm_sched_unlock(s);
            return st;
        }
        ivm_sched_lock(s);
        if (p->deadline) /* set by the first try */
            deadline = p->deadline;
        if (!found && pred == IVM_NIL) {
            ivm_proc_take_inbox(p);
            if ((found = p->head != NULL))
                *result = take(vm, p, NULL, p->head);
        }
        if (found) {
            ivm_proc_wait_done(p);
            ivm_sched_unlock(s);
            return IVM_OK;
        }
        if (p->in_head) { /* new messages for the predicate */
            ivm_proc_take_inbox(p);
            ivm_sched_unlock(s);
            continue;
        }
        if (timeout != IVM_NIL && (p->timed_out || ivm_platform_now_ns() >= deadline)) {
            *result = missing;
            ivm_proc_wait_done(p);
            ivm_sched_unlock(s);
            return IVM_OK;
        }
        if (timeout != IVM_NIL)
            ivm_proc_wait_until(w, p, deadline);
        if ((st = ivm_proc_wait(w, p)) != IVM_OK) /* unlocks */
            return st;
    }
}

NATIVE(n_receive)
{
    if (nargs == 1)
        return ivm_raise(vm, "receive takes no argument, or a timeout in ms and a default");
    return receive(vm, IVM_NIL, nargs ? args[0] : IVM_NIL, nargs ? args[1] : IVM_NIL, result);
}

NATIVE(n_receive_if)
{
    if (nargs == 2)
        return ivm_raise(vm, "receive-if takes a predicate, or a predicate, a timeout in ms and a default");
    return receive(vm, args[0], nargs > 1 ? args[1] : IVM_NIL, nargs > 1 ? args[2] : IVM_NIL,
                   result);
}

NATIVE(n_sleep)
{
    (void)nargs;
    ivm_worker *w;
    ivm_proc *p;
    ivm_status st = running(vm, "sleep", &w, &p);
    uint64_t deadline;
    if (st != IVM_OK || (st = deadline_of(vm, args[0], &deadline)) != IVM_OK)
        return st;
    for (;;) {
        ivm_sched_lock(w->sched);
        if (p->timed_out || (!p->deadline && ivm_platform_now_ns() >= deadline)) {
            ivm_proc_wait_done(p);
            ivm_sched_unlock(w->sched);
            *result = IVM_NIL;
            return IVM_OK;
        }
        ivm_proc_wait_until(w, p, deadline);
        if ((st = ivm_proc_wait(w, p)) != IVM_OK) /* unlocks */
            return st;
    }
}

NATIVE(n_join)
{
    (void)nargs;
    ivm_worker *w;
    ivm_proc *p, *t;
    ivm_status st = running(vm, "join", &w, &p);
    if (st != IVM_OK || (st = target(vm, args[0], &t)) != IVM_OK)
        return st;
    if (t == p)
        return ivm_raise(vm, "a process cannot join itself");
    for (;;) {
        ivm_sched_lock(w->sched);
        if (t->state == IVM_PROC_DONE) {
            ivm_proc_wait_done(p);
            bool crashed = t->crashed;
            ivm_value r = t->result;
            ivm_sched_unlock(w->sched);
            if (crashed)
                return ivm_raise_value(vm, r);
            *result = r;
            return IVM_OK;
        }
        ivm_pid_list_add(&t->joiners, p->id);
        if ((st = ivm_proc_wait(w, p)) != IVM_OK) /* unlocks */
            return st;
    }
}

/* (fork): the running process's stack is frozen (constant time, whatever
 * its depth) and both processes go on from this call: the child with nil,
 * the parent with the child's pid (IVM_RELOAD: the interpreter picks the
 * parent's frame up from its new segment). */
NATIVE(n_fork)
{
    (void)args, (void)nargs;
    ivm_worker *w;
    ivm_proc *p;
    ivm_status st = running(vm, "fork", &w, &p);
    if (st != IVM_OK)
        return st;
    if (!ivm_may_block(vm))
        return ivm_raise(vm, "fork inside a function called by a native (map, reduce, sort...) "
                             "is not supported: fork from the process's own code");
    ivm_sched_lock(w->sched);
    ivm_proc *child = ivm_proc_new(w);
    ivm_sched_unlock(w->sched);
    if (!child)
        return ivm_raise(vm, "too many processes");
    const ivm_frame *f = &vm->frames[vm->nframes - 1];
    /* a call leaves the result in a register; a tail call in the frame's
     * own callee slot, below its registers */
    uint32_t ret = result < &vm->stack[f->base] ? IVM_RET_TAIL
                                                 : (uint32_t)(result - &vm->stack[f->base]);
    bool forked = ivm_stack_fork(vm, &child->stack, ret, ivm_pid(child->id), IVM_NIL);
    ivm_sched_lock(w->sched);
    if (forked) {
        child->atoms = p->atoms;
        child->started = true;
        ivm_proc_start(w, child);
    } else {
        ivm_proc_discard(w, child);
    }
    ivm_sched_unlock(w->sched);
    return forked ? IVM_RELOAD : ivm_raise(vm, "out of memory for stacks");
}

NATIVE(n_link)
{
    (void)nargs;
    ivm_worker *w;
    ivm_proc *p, *t;
    ivm_status st = running(vm, "link", &w, &p);
    if (st != IVM_OK || (st = target(vm, args[0], &t)) != IVM_OK)
        return st;
    ivm_sched *s = w->sched;
    *result = IVM_TRUE;
    if (t == p)
        return IVM_OK;
    ivm_sched_lock(s);
    if (t->state == IVM_PROC_DONE) { /* as if it ended now */
        ivm_value reason = t->result;
        bool crashed = t->crashed;
        if (crashed && p->trap_exits)
            ivm_proc_send(w, p, ivm_sched_signal(vm, s->kw_exit, t->id, reason));
        ivm_sched_unlock(s);
        return crashed && !p->trap_exits ? ivm_raise_value(vm, reason) : IVM_OK;
    }
    ivm_pid_list_add(&p->links, t->id);
    ivm_pid_list_add(&t->links, p->id);
    ivm_sched_unlock(s);
    return IVM_OK;
}

NATIVE(n_monitor)
{
    (void)nargs;
    ivm_worker *w;
    ivm_proc *p, *t;
    ivm_status st = running(vm, "monitor", &w, &p);
    if (st != IVM_OK || (st = target(vm, args[0], &t)) != IVM_OK)
        return st;
    ivm_sched *s = w->sched;
    ivm_sched_lock(s);
    if (t->state == IVM_PROC_DONE)
        ivm_proc_send(w, p, ivm_sched_signal(vm, s->kw_down, t->id,
                                             t->crashed ? t->result : s->kw_normal));
    else
        ivm_pid_list_push(&t->monitors, p->id);
    ivm_sched_unlock(s);
    *result = args[0];
    return IVM_OK;
}

NATIVE(n_trap_exits)
{
    (void)nargs;
    ivm_worker *w;
    ivm_proc *p;
    ivm_status st = running(vm, "trap-exits", &w, &p);
    if (st != IVM_OK)
        return st;
    ivm_sched_lock(w->sched);
    *result = ivm_bool(p->trap_exits);
    p->trap_exits = ivm_truthy(args[0]);
    ivm_sched_unlock(w->sched);
    return IVM_OK;
}

/* ---- Atoms ------------------------------------------------------------- */

NATIVE(n_atom)
{
    ivm_worker *w;
    ivm_proc *p;
    ivm_status st = running(vm, "atom", &w, &p);
    if (st != IVM_OK)
        return st;
    bool shared = false;
    for (uint32_t i = 1; i < nargs; i += 2) {
        ivm_value k = args[i];
        if (!ivm_is_kind(k, IVM_K_KEYWORD) || i + 1 >= nargs)
            return ivm_raise_type(vm, "atom takes a value and options (:shared true)", k);
        if (ivm_as_str(k)->len == 6 && !memcmp(ivm_as_str(k)->bytes, "shared", 6))
            shared = ivm_truthy(args[i + 1]);
        else if (!(ivm_as_str(k)->len == 4 && !memcmp(ivm_as_str(k)->bytes, "meta", 4)) &&
                 !(ivm_as_str(k)->len == 9 && !memcmp(ivm_as_str(k)->bytes, "validator", 9)))
            return ivm_raise_type(vm, "unknown atom option", k);
    }
    uint64_t id = __atomic_add_fetch(&w->sched->last_atom_id, 1, __ATOMIC_RELAXED);
    ivm_value a = ivm_atom_new(&vm->heap, id, p->id, shared, args[0]);
    if (!shared) {
        ivm_value table = p->atoms == IVM_NIL ? ivm_map_empty(&vm->heap) : p->atoms;
        p->atoms = ivm_map_assoc(&vm->heap, table, ivm_int(&vm->heap, (int64_t)id), args[0]);
    }
    *result = a;
    return IVM_OK;
}

static ivm_status not_an_atom(ivm_vm *vm, ivm_value v)
{
    return ivm_raise_type(vm, "expected an atom", v);
}

/* The value of atom a as the running process sees it. */
static ivm_status atom_get(ivm_vm *vm, ivm_value a, ivm_value *out)
{
    if (!ivm_is_kind(a, IVM_K_ATOM))
        return not_an_atom(vm, a);
    ivm_atom *at = ivm_as_atom(a);
    if (at->shared) {
        *out = __atomic_load_n(&at->cell, __ATOMIC_ACQUIRE);
        return IVM_OK;
    }
    ivm_proc *p = vm->proc;
    if (p && p->atoms != IVM_NIL &&
        ivm_map_get(&vm->heap, p->atoms, ivm_int(&vm->heap, (int64_t)at->id), out))
        return IVM_OK;
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, "atom #atom[");
    ivm_buf_add_int(&b, (int64_t)at->id);
    ivm_buf_add_cstr(&b, "] belongs to process #pid[");
    ivm_buf_add_int(&b, at->owner);
    ivm_buf_add_cstr(&b, "]: only an atom made with (atom v :shared true) can be used by other processes");
    return ivm_raise_buf(vm, &b);
}

/* Sets atom a to `to` if it still holds `from` (the same value, not an
 * equal one); *done says whether it did. */
static ivm_status atom_cas(ivm_vm *vm, ivm_value a, ivm_value from, ivm_value to, bool *done)
{
    ivm_value now;
    ivm_status st = atom_get(vm, a, &now); /* checks the atom is ours */
    if (st != IVM_OK)
        return st;
    ivm_atom *at = ivm_as_atom(a);
    if (at->shared) {
        /* While the collector evacuates, the cell and `from` may each be
         * the old copy or the new one of the same value: the same, then.
         * The cell gets the copy of `to`. */
        ivm_value stored = ivm_vm_forward(vm, to), want = ivm_vm_forward(vm, from);
        ivm_value seen = from;
        while (!(*done = __atomic_compare_exchange_n(&at->cell, &seen, stored, false,
                                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) &&
               seen != from && ivm_vm_forward(vm, seen) == want)
            from = seen;
        if (*done) { /* the barrier on the one mutable word */
            ivm_vm_shade(vm, from);
            ivm_vm_shade(vm, to);
        }
        return IVM_OK;
    }
    *done = now == from;
    if (*done)
        vm->proc->atoms = ivm_map_assoc(&vm->heap, vm->proc->atoms,
                                        ivm_int(&vm->heap, (int64_t)at->id), to);
    return IVM_OK;
}

NATIVE(n_deref)
{
    (void)nargs;
    return atom_get(vm, args[0], result);
}

NATIVE(n_reset)
{
    (void)nargs;
    for (;;) {
        ivm_value old;
        bool done;
        ivm_status st = atom_get(vm, args[0], &old);
        if (st == IVM_OK)
            st = atom_cas(vm, args[0], old, args[1], &done);
        if (st != IVM_OK)
            return st;
        if (done) {
            *result = args[1];
            return IVM_OK;
        }
    }
}

NATIVE(n_compare_and_set)
{
    (void)nargs;
    bool done;
    ivm_status st = atom_cas(vm, args[0], args[1], args[2], &done);
    if (st == IVM_OK)
        *result = ivm_bool(done);
    return st;
}

/* (swap! a f & args): f of the value and args, retried until no other
 * update came in between; never loses an update. */
NATIVE(n_swap)
{
    ivm_value call[64];
    if (nargs > 63)
        return ivm_raise(vm, "swap! takes at most 61 extra arguments");
    for (uint32_t i = 2; i < nargs; i++)
        call[i - 1] = args[i];
    ivm_root(vm, &call[0]);
    for (;;) {
        ivm_value old, now;
        bool done;
        ivm_status st = atom_get(vm, args[0], &old);
        if (st != IVM_OK)
            return st;
        call[0] = old;
        st = ivm_call(vm, args[1], nargs - 1, call, &now);
        if (st == IVM_OK)
            st = atom_cas(vm, args[0], old, now, &done);
        if (st != IVM_OK)
            return st;
        if (done) {
            *result = now;
            return IVM_OK;
        }
    }
}

const ivm_native_def ivm_process_natives[] = {
    {"spawn", n_spawn, 1, UINT32_MAX},
    {"self", n_self, 0, 0},
    {"send", n_send, 2, 2},
    {"receive", n_receive, 0, 2},
    {"receive-if", n_receive_if, 1, 3},
    {"sleep", n_sleep, 1, 1},
    {"join", n_join, 1, 1},
    {"fork", n_fork, 0, 0},
    {"link", n_link, 1, 1},
    {"monitor", n_monitor, 1, 1},
    {"trap-exits", n_trap_exits, 1, 1},
    {"atom", n_atom, 1, UINT32_MAX},
    {"deref", n_deref, 1, 1},
    {"reset!", n_reset, 2, 2},
    {"compare-and-set!", n_compare_and_set, 3, 3},
    {"swap!", n_swap, 2, UINT32_MAX},
};
const uint32_t ivm_process_native_count =
    sizeof ivm_process_natives / sizeof ivm_process_natives[0];
