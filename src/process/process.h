/* Processes: process records, mailboxes, private atoms' tables, links and
 * monitors, timers, and the M:N scheduler that runs processes on
 * scheduler threads (workers).
 *
 * A process is a stack (bytecode/vm.h: segments, so that fork costs the
 * same at any depth), a mailbox of value references (a message is never
 * copied), and a table of its private atoms' values (a persistent map:
 * fork copies one pointer). Each worker is an OS thread with its own VM
 * (bytecode/vm.h: a cursor into the shared heap, a running stack) and its
 * own run queue; the main thread is worker 0. A worker runs one process at
 * a time, a slice at a time: a process stops at a safepoint when another
 * waits to run (preemption after IVM_REDUCTION_BUDGET reductions), when it
 * must wait (receive, sleep, join), or when it ends. A worker whose queue
 * is empty steals half of another's; one with nothing to steal parks (the
 * collector need not wait for it) until woken.
 *
 * A process waits by returning IVM_BLOCKED from the native that must wait;
 * the interpreter then stops with the call still to make, and makes it
 * again when the process resumes. Inside a native's call back into the VM
 * (a function passed to map or reduce) the C stack cannot be given up: the
 * process is then held, and its worker runs others from inside the wait
 * until the held one can go on (ivm_proc.held).
 *
 * Locking: the scheduler's lock guards the run queues, the timers, the
 * process table and, in every record, the fields marked (L) below. The
 * other fields belong to the process itself (the worker running it), or
 * are fixed once it starts. The lock is never held across a call into the
 * interpreter (a safepoint may stop the thread for a collection), and it is
 * taken before the runtime's lock (ivm_vm_park), never after.
 *
 * Invariants:
 *  - a process is in a run queue at most once (in_queue), and only while
 *    RUNNABLE, not held and not on a worker (on_cpu);
 *  - a process whose stack is some worker's running stack has stack_in_vm
 *    set; every other started process keeps its own in `stack`, and a
 *    worker's own stack is in its `host` while a process runs there;
 *  - a DONE process keeps only its result (for join): its stack, mailbox
 *    and atoms are gone. */
#ifndef IVM_PROCESS_H
#define IVM_PROCESS_H

#include "bytecode/vm.h"

typedef enum ivm_proc_state {
    IVM_PROC_RUNNABLE,
    IVM_PROC_RUNNING,
    IVM_PROC_WAITING,
    IVM_PROC_DONE,
} ivm_proc_state;

typedef struct ivm_msg {
    struct ivm_msg *next;
    ivm_value value;
} ivm_msg;

/* A list of process ids (links, monitors, joiners). */
typedef struct ivm_pid_list {
    uint32_t *ids;
    uint32_t len, cap;
} ivm_pid_list;

typedef struct ivm_worker ivm_worker;

typedef struct ivm_proc {
    uint32_t id;
    uint32_t wait_gen;  /* counts waits: stale timers are ignored (L) */
    uint16_t held_on;   /* held: the index of the worker whose C stack holds it (L) */
    uint8_t state;      /* ivm_proc_state (L) */
    bool started;       /* its call is on its stack */
    bool in_queue;      /* (L) */
    bool on_cpu;        /* a worker runs it, between dequeue and slice end (L) */
    bool stack_in_vm;   /* its stack is its worker's running stack */
    bool held;          /* waiting inside a native (see above) (L) */
    bool trap_exits;    /* (L) */
    bool crashed;       /* ended by an error (L) */
    bool timed_out;     /* its wait's deadline passed (L) */
    bool scanning;      /* receive-if is calling its predicate */
    bool killed;        /* held when a link's crash ended it: result says why (L) */
    uint64_t deadline;  /* of its wait, in ns; 0: none (L) */
    ivm_stack stack;    /* while not running */
    ivm_value fn, args; /* before it starts: what it runs (args a vector) */
    /* Its mailbox: messages it has looked at (its own), then the inbox
     * senders append to (L). */
    ivm_msg *head, **tail;
    ivm_msg *in_head, **in_tail;
    ivm_value atoms;    /* private atoms: id -> value; nil: none */
    ivm_value result;   /* DONE: its value, or its error (L) */
    ivm_pid_list links, monitors, joiners; /* (L) */
    ivm_buf *partial;   /* its output line not yet ended, while not running; NULL: none */
    struct ivm_proc *next_run; /* (L) */
    /* The held process its worker runs it inside the wait of (see held),
     * while it runs; NULL: none. */
    struct ivm_proc *outer;
    /* The collector's cycle in which its record was last scanned (atomic:
     * the worker running it writes it, the collector reads it locked). */
    uint32_t scanned;
} ivm_proc;

#define IVM_MAX_PROCS (1u << 24) /* process ids, the main one's included */
#define IVM_FREE_MSGS_MAX 4096

typedef struct ivm_timer {
    uint64_t deadline;
    uint32_t proc, gen;
} ivm_timer;

struct ivm_worker {
    struct ivm_sched *sched;
    ivm_vm *vm;          /* worker 0: the main VM; the others' own */
    uint32_t index;
    ivm_proc *run_head, *run_tail; /* (L) */
    uint32_t nrun;       /* (L; spinning workers read it without) */
    bool idle;           /* waiting for work (L; ditto) */
    bool asleep;         /* in sleep_locked (see there) */
    ivm_mutex *sleep_lock;
    ivm_cond *wake;
    ivm_stack host;      /* the VM's own stack, while a process runs */
    ivm_buf *host_partial;
    ivm_thread *thread;  /* NULL for worker 0 */
    /* Spare message nodes, its own: nodes made by one worker and freed by
     * another go back to the allocator past IVM_FREE_MSGS_MAX. */
    ivm_msg *free_msgs;
    uint32_t nfree_msgs;
};

typedef struct ivm_sched {
    ivm_vm *vm;        /* the main thread's */
    bool lock_word;    /* the scheduler's lock: see ivm_sched_lock */
    ivm_worker **workers;
    uint32_t nworkers;
    uint32_t nidle;    /* (L) */
    uint32_t nrunnable; /* in all the run queues (L) */
    bool started;      /* the worker threads run */
    bool paused;       /* between ivm_sched_run_main calls: workers 1.. take nothing (L) */
    bool shutdown;     /* (L) */
    ivm_worker *timer_keeper; /* the idle worker that sleeps until the next timer (L) */
    uint64_t keeper_deadline; /* (L) */
    /* By id ([0] unused), in a fixed reservation: read without the lock,
     * up to nprocs (atomic); appended to under it. */
    ivm_proc **procs;
    uint32_t nprocs;
    ivm_timer *timers; /* a binary min-heap by deadline (L) */
    uint32_t ntimers, timers_cap;
    uint64_t last_atom_id; /* atomic */
    ivm_value kw_down, kw_exit, kw_normal; /* interned keywords */
    /* The trace of the error that ended the main process, from the worker
     * it ended on, for the CLI's report (L). */
    ivm_trace_entry main_trace[IVM_TRACE_MAX];
    uint32_t main_ntrace, main_trace_dropped;
} ivm_sched;

/* Attaches a scheduler with `workers` threads (the main one included; at
 * least 1) to the VM and adds the process natives. The other threads start
 * with the first ivm_sched_run_main. */
bool ivm_sched_init(ivm_sched *s, ivm_vm *vm, uint32_t workers);
/* Stops the worker threads and frees every record. */
void ivm_sched_destroy(ivm_sched *s);

/* Runs fn as the main process (reused across calls, so that the REPL's
 * atoms live on) until it ends, with the others alongside; returns how it
 * ended: IVM_OK with *result, IVM_ERROR with the error in vm->error (and
 * its trace), or IVM_INTERRUPTED. Processes still running when the main
 * one ends stay where they are: the other workers finish their slices and
 * pause until the next call. */
ivm_status ivm_sched_run_main(ivm_sched *s, ivm_value fn, ivm_value *result);

/* The process natives: spawn, self, send, receive, receive-if, sleep,
 * join, fork, link, monitor, trap-exits, and the atoms (atom, deref,
 * swap!, reset!, compare-and-set!). */
extern const ivm_native_def ivm_process_natives[];
extern const uint32_t ivm_process_native_count;

/* For the natives (process.c's own). "Locked": the caller holds s->lock. */
ivm_worker *ivm_worker_of(ivm_vm *vm);
ivm_sched *ivm_sched_of(ivm_vm *vm);
/* The scheduler's lock is a spin lock: it is held for a few hundred
 * nanoseconds at most, and its release is one plain store. With one
 * worker no other thread touches the scheduler: no lock at all. */
void ivm_sched_lock_slow(ivm_sched *s);
static inline void ivm_sched_lock(ivm_sched *s)
{
    if (s->nworkers > 1 && __atomic_exchange_n(&s->lock_word, true, __ATOMIC_ACQUIRE))
        ivm_sched_lock_slow(s);
}
static inline void ivm_sched_unlock(ivm_sched *s)
{
    if (s->nworkers > 1)
        __atomic_store_n(&s->lock_word, false, __ATOMIC_RELEASE);
}
/* The process a pid names, or NULL (no lock needed). */
ivm_proc *ivm_proc_of(ivm_sched *s, ivm_value pid);
/* Locked: a new process record (NULL: too many), not yet runnable; then
 * ivm_proc_start makes it runnable on w, or ivm_proc_discard ends it. */
ivm_proc *ivm_proc_new(ivm_worker *w);
void ivm_proc_start(ivm_worker *w, ivm_proc *p);
void ivm_proc_discard(ivm_worker *w, ivm_proc *p);
/* Locked: appends v to to's inbox and wakes it. */
void ivm_proc_send(ivm_worker *w, ivm_proc *to, ivm_value v);
/* Locked: moves p's inbox to the end of its own messages. */
void ivm_proc_take_inbox(ivm_proc *p);
/* Gives a message node back to w's spare nodes (no lock needed). */
void ivm_msg_free(ivm_worker *w, ivm_msg *m);
/* What a monitor or a trapping link receives: [tag #pid[id] reason]. */
ivm_value ivm_sched_signal(ivm_vm *vm, ivm_value tag, uint32_t id, ivm_value reason);
/* Locked on entry, unlocked on return: waits (blocking or, inside a
 * native, held) until the running process is woken: IVM_BLOCKED to return
 * from the native, IVM_OK to look again. */
ivm_status ivm_proc_wait(ivm_worker *w, ivm_proc *p);
/* Locked: arms p's wait's timer (once per wait). */
void ivm_proc_wait_until(ivm_worker *w, ivm_proc *p, uint64_t deadline);
/* Locked: the wait is over (the native returns): clears its state. */
void ivm_proc_wait_done(ivm_proc *p);
/* Adds id unless it is there already (links, joiners); push adds it again
 * (monitors: each call of monitor gets its own :down, as in Erlang). */
bool ivm_pid_list_add(ivm_pid_list *l, uint32_t id);
void ivm_pid_list_push(ivm_pid_list *l, uint32_t id);
void ivm_pid_list_remove(ivm_pid_list *l, uint32_t id);

#endif
