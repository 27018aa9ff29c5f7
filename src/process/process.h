/* Processes: process records, mailboxes, private atoms' tables, links and
 * monitors, timers, and the scheduler that runs processes on the VM.
 *
 * A process is a stack (bytecode/vm.h: segments, so that fork costs the
 * same at any depth), a mailbox of value references (a message is never
 * copied), and a table of its private atoms' values (a persistent map:
 * fork copies one pointer). The scheduler runs one process at a time on
 * the VM's thread, a slice at a time: a process stops at a safepoint when
 * another waits to run (preemption after IVM_REDUCTION_BUDGET reductions),
 * when it must wait (receive, sleep, join), or when it ends.
 *
 * A process waits by returning IVM_BLOCKED from the native that must wait;
 * the interpreter then stops with the call still to make, and makes it
 * again when the process resumes. Inside a native's call back into the VM
 * (a function passed to map or reduce) the C stack cannot be given up: the
 * process is then held, and the scheduler runs the others from inside the
 * wait until the held one can go on (ivm_proc.held).
 *
 * Invariants:
 *  - a process is in the run queue at most once (in_queue), and only while
 *    RUNNABLE and not held;
 *  - the running process's stack is the VM's running stack; every other
 *    started process keeps its own in `stack`, and the VM's own stack is in
 *    ivm_sched.host while any process runs;
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

typedef struct ivm_proc {
    uint32_t id;
    uint8_t state;      /* ivm_proc_state */
    bool started;       /* its call is on its stack */
    bool in_queue;
    bool held;          /* waiting inside a native (see above) */
    bool trap_exits;
    bool crashed;       /* ended by an error */
    bool timed_out;     /* its wait's deadline passed */
    bool scanning;      /* receive-if is calling its predicate */
    bool killed;        /* held when a link's crash ended it: result says why */
    uint64_t deadline;  /* of its wait, in ns; 0: none */
    uint32_t wait_gen;  /* counts waits: stale timers are ignored */
    ivm_stack stack;    /* while not running */
    ivm_value fn, args; /* before it starts: what it runs (args a vector) */
    ivm_msg *head, **tail;
    uint32_t nmsgs;
    ivm_value atoms;    /* private atoms: id -> value; nil: none */
    ivm_value result;   /* DONE: its value, or its error */
    ivm_pid_list links, monitors, joiners;
    ivm_buf partial;    /* its output line not yet ended, while not running */
    struct ivm_proc *next_run;
} ivm_proc;

typedef struct ivm_timer {
    uint64_t deadline;
    uint32_t proc, gen;
} ivm_timer;

typedef struct ivm_sched {
    ivm_vm *vm;
    ivm_proc **procs; /* by id; [0] unused */
    uint32_t nprocs, procs_cap;
    ivm_proc *run_head, *run_tail;
    ivm_timer *timers; /* a binary min-heap by deadline */
    uint32_t ntimers, timers_cap;
    ivm_stack host;    /* the VM's own stack, while a process runs */
    ivm_buf host_partial;
    uint64_t last_atom_id;
    ivm_msg *free_msgs; /* message nodes for reuse */
    ivm_value kw_down, kw_exit, kw_normal; /* interned keywords */
} ivm_sched;

/* Attaches a scheduler to the VM and adds the process natives. */
bool ivm_sched_init(ivm_sched *s, ivm_vm *vm);
void ivm_sched_destroy(ivm_sched *s);

/* Runs fn as the main process (reused across calls, so that the REPL's
 * atoms live on) until it ends, with the others alongside; returns how it
 * ended: IVM_OK with *result, IVM_ERROR with the error in vm->error (and
 * its trace), or IVM_INTERRUPTED. Processes still running when the main
 * one ends stay where they are. */
ivm_status ivm_sched_run_main(ivm_sched *s, ivm_value fn, ivm_value *result);

/* The process natives: spawn, self, send, receive, receive-if, sleep,
 * join, fork, link, monitor, trap-exits, and the atoms (atom, deref,
 * swap!, reset!, compare-and-set!). */
extern const ivm_native_def ivm_process_natives[];
extern const uint32_t ivm_process_native_count;

/* For the natives (process.c's own): */
ivm_sched *ivm_sched_of(ivm_vm *vm);
ivm_proc *ivm_proc_of(ivm_sched *s, ivm_value pid);
ivm_proc *ivm_proc_spawn(ivm_sched *s, ivm_value fn, ivm_value args);
void ivm_proc_send(ivm_sched *s, ivm_proc *to, ivm_value v);
/* What a monitor or a trapping link receives: [tag #pid[id] reason]. */
ivm_value ivm_sched_signal(ivm_sched *s, ivm_value tag, uint32_t id, ivm_value reason);
/* Waits (blocking or, inside a native, held) until the running process is
 * woken: IVM_BLOCKED to return from the native, IVM_OK to look again. */
ivm_status ivm_proc_wait(ivm_sched *s, ivm_proc *p);
void ivm_proc_wait_until(ivm_sched *s, ivm_proc *p, uint64_t deadline);
/* The wait is over (the native returns): clears its state. */
void ivm_proc_wait_done(ivm_proc *p);
/* Adds id unless it is there already (links, joiners); push adds it again
 * (monitors: each call of monitor gets its own :down, as in Erlang). */
bool ivm_pid_list_add(ivm_pid_list *l, uint32_t id);
void ivm_pid_list_push(ivm_pid_list *l, uint32_t id);
void ivm_pid_list_remove(ivm_pid_list *l, uint32_t id);

#endif
