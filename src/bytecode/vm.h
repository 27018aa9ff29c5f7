/* The bytecode layer's state: the VM, loaded modules, the interpreter's
 * frames, globals, errors and the native functions.
 *
 * One error mechanism: every operation that can fail returns an
 * ivm_status. IVM_ERROR means a value has been thrown: it is in vm->error,
 * and vm->trace holds the frames it passed through (innermost first).
 * Nothing unwinds the C stack by other means (the core has no setjmp). */
#ifndef IVM_VM_H
#define IVM_VM_H

#include "gc/gc.h"
#include "values/function.h"
#include "values/value.h"
#include "values/worklist.h"

typedef enum ivm_status {
    IVM_OK,
    IVM_ERROR,       /* vm->error holds the thrown value */
    IVM_INTERRUPTED, /* SIGINT reached a safepoint */
    /* Process control, only where a process may be descheduled (at the top
     * level of its run, vm->run_base): */
    IVM_BLOCKED, /* a native must wait; the call is made again on resume */
    IVM_YIELD,   /* the process gives way; it resumes where it stopped */
    IVM_RELOAD,  /* a native moved the running frames (fork): go on from
                    the top frame as it now is, its result already there */
} ivm_status;

/* A loaded .ivc file: its prototypes in file order. */
typedef struct ivm_module {
    ivm_value source; /* string (possibly empty) */
    uint32_t nprotos;
    uint32_t entry;
    ivm_value *protos; /* bootstrap memory; the values are roots */
} ivm_module;

typedef struct ivm_frame {
    ivm_value closure; /* the running closure */
    uint32_t pc;       /* where it resumes, while it is not the top frame */
    uint32_t base;     /* index of its R[0] in its segment's slots */
} ivm_frame;

/* The first slot past a frame's registers. */
static inline uint32_t ivm_frame_end(const ivm_frame *f)
{
    return f->base + ivm_as_proto(ivm_as_closure(f->closure)->proto)->nregs;
}

/* An active TRY: where an error in frame `frame` (or a callee) goes. */
typedef struct ivm_handler {
    uint32_t frame;    /* the frame's depth (0: the bottom frame of the stack) */
    uint32_t catch_pc; /* in that frame's code */
    uint8_t reg;       /* gets the thrown value */
} ivm_handler;

/* ---- Stacks (stack.c) ---------------------------------------------------
 *
 * A stack is a chain of segments, each a block of frames and of the value
 * slots their registers live in. Segments never move, so a pointer into one
 * (a native's args) stays valid while the stack grows: a call that does not
 * fit starts a new segment, copying only the callee and its arguments, and
 * its return carries the result back (ret_slot). A segment's bottom frame
 * has its base at 1: slot 0 is its callee slot. A segment's last slot is
 * never a register (a call that would reach it moves on), so that a call
 * from C made just above the top frame always has a slot for its result.
 *
 * A segment is live (owned by one stack, written as it runs) or frozen
 * (immutable, shared, reference-counted). Freezing a stack's segments
 * (ivm_stack_freeze, for fork) costs the same whatever the depth: each
 * holder then gets a fresh live segment whose `prev` is the frozen one, and
 * returning into a frozen frame copies that one frame into the live
 * segment first (Hieb, Dybvig and Bruggeman, PLDI 1990).
 *
 * Invariant: every slot of a live segment below `high` holds a valid value
 * (fresh segments are zeroed: nil); slots past the live frames hold stale
 * values, which the collector clears rather than traces. */
typedef struct ivm_segment ivm_segment;
struct ivm_segment {
    ivm_segment *prev;     /* the caller of frames[0] lives there; NULL: none */
    uint32_t prev_nframes; /* frames of prev below this segment (a frozen prev
                              may hold more: they belong to later callers) */
    uint32_t ret_slot;     /* prev's slot that frames[0]'s result goes to */
    uint32_t depth_below;  /* frames in all the segments below */
    uint32_t slots_below;  /* slots of all the segments below (the limit) */
    uint32_t nframes;      /* frames in use (the VM's copy while current) */
    uint32_t high;         /* see the invariant above (ditto) */
    uint32_t slot_cap, frame_cap;
    uint32_t refs;         /* frozen: holders (atomic) */
    uint32_t visited;      /* frozen: the collector's last visit */
    bool frozen;
    ivm_frame *frames;     /* frame_cap frames, after the slots */
    ivm_value slots[];
};

/* A stack that is not running: what a process keeps while descheduled. */
typedef struct ivm_stack {
    ivm_segment *seg;
    ivm_handler *handlers; /* innermost last */
    uint32_t nhandlers, handlers_cap;
} ivm_stack;

typedef struct ivm_global {
    ivm_value name;  /* symbol */
    ivm_value value; /* IVM_UNBOUND until set */
} ivm_global;

typedef struct ivm_trace_entry {
    ivm_value function; /* closure or native */
    uint32_t pc;
} ivm_trace_entry;

#define IVM_TRACE_MAX 32
#define IVM_MAX_FRAMES (1u << 20) /* a stack's depth */
#define IVM_MAX_STACK (1u << 24)  /* a stack's value slots */
/* Segment sizes: a process's first segment, the VM's own stack's, and the
 * most a segment grows to (each new segment doubles its caller's). Builds
 * with IVM_TINY_SEGMENTS (CMake option) make them tiny, so that the tests
 * cross segment edges everywhere. */
#ifdef IVM_TINY_SEGMENTS
#define IVM_SEGMENT_SLOTS 8
#define IVM_HOST_STACK_SLOTS 8
#define IVM_SEGMENT_MAX_SLOTS 32
#else
#define IVM_SEGMENT_SLOTS 16
#define IVM_HOST_STACK_SLOTS 1024
#define IVM_SEGMENT_MAX_SLOTS (1u << 20)
#endif
#define IVM_MAX_NESTED_CALLS 200  /* natives calling back into the VM */
#define IVM_REDUCTION_BUDGET 4000 /* calls and back jumps per slice */
#define IVM_CYCLE_SAFEPOINTS 8 /* safepoints per slice while a concurrent cycle runs */
#define IVM_MAX_C_ROOTS 4096      /* values rooted by suspended natives */
#define IVM_MAX_GLOBALS (1u << 22) /* the globals' fixed reservation */

typedef struct ivm_native_def ivm_native_def;

/* A value C code keeps across a call back into the VM: one slot, or the
 * items of a worklist (read when the collector runs, so it may grow). */
typedef struct ivm_c_root {
    ivm_value *slot;
    ivm_worklist *list;
} ivm_c_root;

typedef struct ivm_vm ivm_vm;

/* What the scheduler threads share: the natives, globals and loaded
 * modules, the collector, and the list of every thread's VM, which a
 * collection stops (see ivm_vm_collect). Made by ivm_vm_init with the
 * first thread's VM; ivm_vm_init_thread adds a VM for another thread.
 *
 * Natives are added only before a second thread starts. Globals live in a
 * fixed reservation, so that a thread's pointer to them stays valid while
 * another defines a new one; their values are read and written with
 * relaxed atomics. */
typedef struct ivm_runtime {
    /* Native functions by index (the payload of a native value). */
    const ivm_native_def **natives;
    uint32_t nnatives, natives_cap;

    ivm_global *globals; /* IVM_MAX_GLOBALS reserved, committed as used */
    uint32_t nglobals;
    uint32_t core_globals; /* globals below this slot are the core's own */
    uint32_t nmacros;      /* macros ever defined (the compiler's; 0: skip lookups) */
    /* The compiler refuses defmacro (which runs code as it compiles): set
     * where untrusted input is compiled but must not run (the fuzzer). */
    bool compile_time_code_off;
    /* The compiler's prelude sections compiled on first use: 0 not yet, 1
     * being compiled, 2 done (atomic; see ivm_compiler_autoload), and the
     * compiler's hook that does it for a global read unbound (true if it
     * defined something). */
    uint8_t prelude_sections[8];
    bool (*autoload_hook)(ivm_vm *vm, ivm_value name);
    uint32_t *global_index; /* open addressing over globals; UINT32_MAX empty */
    uint32_t global_index_cap;

    ivm_module **modules; /* each separately allocated: pointers stay valid */
    uint32_t nmodules;

    ivm_gc gc;

    /* Guards the global index, the modules, the thread list and the
     * stop-the-world state below. */
    ivm_mutex *lock;
    ivm_cond *stopped_cond; /* a thread stopped or parked: the collector looks */
    ivm_cond *resume_cond;  /* a collection ended */
    ivm_mutex *out_lock;    /* one thread writes standard output at a time */
    ivm_vm **vms;
    uint32_t nvms, vms_cap;
    uint32_t active;      /* VMs not parked */
    uint32_t waiting;     /* active VMs stopped for the collection (the
                             collector resets it as it lets them go) */
    bool stopping;        /* a thread collects once the others stop */
    uint64_t epoch;       /* collections ended */

    /* The processes layer's roots: every process record, its stack and
     * mailbox; and what it clears after a collection. */
    void (*roots_hook)(void *context, ivm_gc *gc);
    void (*after_collect_hook)(void *context);
    void *hook_context;

    /* The concurrent collector (collector.c; --gc=concurrent). The state
     * below is guarded by `lock`, but hs_round (atomic). */
    bool gc_concurrent;
    ivm_thread *collector;
    ivm_cond *gc_wake;      /* a cycle is asked for, or a handshake done */
    ivm_cond *gc_done_cond; /* a cycle ended */
    bool gc_asked, gc_running, gc_shutdown;
    bool gc_full; /* (ivm/gc) asked for a stop-the-world collection (atomic) */
    uint64_t gc_cycles_done;
    uint32_t hs_round; /* handshake rounds asked for */
    /* While the collector evacuates: the evacuation's number, and its
     * round's pass (0 otherwise: handshakes are marking's). */
    uint32_t evac_id, evac_pass;
    /* The processes layer's part in a cycle: the records of the processes
     * vm runs (its own thread's handshake), and every record not yet
     * scanned in `cycle` that no worker runs (the collector's thread);
     * scan_procs_hook returns how many it had to leave to their workers. */
    void (*vm_roots_hook)(void *context, ivm_vm *vm, ivm_gc *visitor, uint32_t cycle);
    uint32_t (*scan_procs_hook)(void *context, ivm_gc *gc, uint32_t cycle);
} ivm_runtime;

/* One thread's VM: its heap cursor, running stack, error, output buffer
 * and the process it runs. Natives receive it. */
struct ivm_vm {
    ivm_heap heap; /* first: the heap's native namer finds the VM from it */
    ivm_runtime *rt;
    bool owns_rt;
    bool parked; /* at a safepoint outside the interpreter (see ivm_vm_park) */
    ivm_global *globals; /* rt->globals (it never moves) */

    /* The running stack (see ivm_segment): its current segment, with
     * copies of that segment's fields the interpreter reads on every call
     * and return. The stack never moves under a native: see above.
     * stack_high: no slot of the current segment at or above it has been
     * written since the last collection (calls that reach past it go
     * through prepare_call, which raises it); the collector clears
     * [top, stack_high). */
    ivm_segment *seg;
    ivm_value *stack;  /* seg->slots */
    ivm_frame *frames; /* seg->frames */
    uint32_t nframes;  /* seg's frames in use */
    uint32_t stack_high;
    uint32_t frame_cap, slot_cap, depth_below; /* seg's */
    ivm_segment *spare; /* the last segment left, kept for the next overflow */
    /* How many of the top frame's registers hold live values at the
     * safepoint where a collection runs (UINT32_MAX: all of them). It
     * rests on the bytecode contract (opcodes.h): a function's registers
     * past its parameters hold nothing on entry, and a CALL at R[A] may
     * overwrite every register from R[A] up (a native's result aside, the
     * collector clears them). A frame below the top is live up to its
     * callee's slot. Registers outside these windows are cleared, not
     * traced, so that stale temporaries keep nothing alive. */
    uint32_t top_live;
    /* Invariant: every handler belongs to a live frame, innermost last
     * (returns drop their frame's handlers). */
    ivm_handler *handlers;
    uint32_t nhandlers, handlers_cap;
    uint32_t nested_calls;

    /* While not 0, a safepoint does not collect: the compiler runs macros
     * while the forms it compiles are rooted nowhere. */
    uint32_t gc_hold;
    /* A lazy node's realization failed inside a walk (ivm_lazy_force): the
     * native or instruction that walked fails with it when done. */
    ivm_status force_status;

    ivm_value error; /* the thrown value while status is IVM_ERROR */
    ivm_trace_entry trace[IVM_TRACE_MAX];
    uint32_t ntrace;
    uint32_t trace_dropped; /* frames beyond IVM_TRACE_MAX */

    ivm_buf out; /* buffered standard output; see ivm_vm_flush */
    uint32_t capturing; /* inside with-out-str: out is its text, never flushed */
    int32_t budget;
    int32_t budget_reset; /* IVM_REDUCTION_BUDGET; 1 in stress mode */
    uint32_t cycle_safepoints; /* counts safepoints during concurrent cycles */

    ivm_c_root c_roots[IVM_MAX_C_ROOTS];
    uint32_t nc_roots;

    /* The processes layer's view (NULL/0 without it): the running process,
     * the nested_calls level of its top-level run (where it may block or
     * yield), whether others wait to run (a safepoint then yields: another
     * thread may set it, so it is read and written atomically), and the
     * layer's context for this thread. */
    struct ivm_proc *proc;
    uint32_t proc_id; /* its id; 1 (the main process's) when none runs */
    uint32_t run_base;
    bool preempt;
    void *hook_context;

    /* Concurrent cycles: what this thread hands over (its roots, what its
     * barriers shaded), the last handshake round it took part in (atomic)
     * and the last cycle it handed its roots over in. */
    ivm_gc *gc_visitor;
    uint32_t hs_done;
    uint32_t roots_cycle;
    uint32_t barrier_cycle; /* the last cycle it said its barriers were on in */
    uint32_t evac_ack;      /* the last evacuation it retired its cursor for */
    uint32_t taken_at_roots; /* heap.bump.taken when it handed its roots over */
    bool gc_claimed; /* parked, its handshake done by the collector (rt->lock) */
};

bool ivm_vm_init(ivm_vm *vm, size_t heap_bytes, ivm_arena_mode mode);
/* A VM for another thread over main's runtime (its heap, globals and
 * collector). The thread starts parked: ivm_vm_unpark before it runs. */
bool ivm_vm_init_thread(ivm_vm *vm, ivm_vm *main);
/* Destroys a VM; the one made by ivm_vm_init destroys the runtime, after
 * every other thread's VM. */
void ivm_vm_destroy(ivm_vm *vm);

/* Whether the concurrent collector has work for this thread's safepoint:
 * a handshake it waits for, or more than IVM_STEP_BYTES built since its
 * last one, whose objects its next handshake would trace or fix (done at
 * the safepoint instead, so that a handshake's pause is bounded by what a
 * thread builds between two safepoints). */
#define IVM_STEP_BYTES 32768
static inline bool ivm_vm_collector_due(const ivm_vm *vm)
{
    return __atomic_load_n(&vm->rt->hs_round, __ATOMIC_RELAXED) !=
               __atomic_load_n(&vm->hs_done, __ATOMIC_RELAXED) ||
           ivm_arena_since_pending(&vm->heap.bump, IVM_STEP_BYTES);
}

static inline bool ivm_vm_preempted(const ivm_vm *vm)
{
    return __atomic_load_n(&vm->preempt, __ATOMIC_RELAXED);
}
static inline void ivm_vm_set_preempt(ivm_vm *vm, bool on)
{
    __atomic_store_n(&vm->preempt, on, __ATOMIC_RELAXED);
}

/* ---- Collection -------------------------------------------------------- */

/* The root rule for C code. The collector runs only at a safepoint of the
 * interpreter, never inside an allocation, so C code that does not call
 * back into the VM needs no roots at all. C code that holds a value in a
 * C variable across ivm_call (or anything that calls it) must either have
 * received it in its args (the VM's stack, a root) or root the variable:
 * ivm_root(vm, &v) or, for a worklist of values, ivm_root_list(vm, &w).
 * A native's roots are dropped when it returns (the interpreter restores
 * the root count), so natives never pop them; host code (tests, the CLI)
 * uses ivm_roots_count / ivm_roots_restore.
 *
 * While any native is suspended in a call back into the VM, a collection
 * does not move objects: C code may hold interior pointers (iterators) and
 * copies of values it cannot update. The roots only keep values alive.
 * A collection at a safepoint with no native suspended may evacuate.
 * Debug builds with IVM_GC_VERIFY poison unreachable objects, so a value
 * that should have been rooted fails its kind assertion when next used. */
void ivm_root(ivm_vm *vm, ivm_value *slot);
void ivm_root_list(ivm_vm *vm, ivm_worklist *list);
static inline uint32_t ivm_roots_count(const ivm_vm *vm) { return vm->nc_roots; }
static inline void ivm_roots_restore(ivm_vm *vm, uint32_t count) { vm->nc_roots = count; }

/* Collects now (the interpreter calls it at a safepoint when the arena has
 * asked for a collection). With several threads, the first to come stops
 * the others (each at its next safepoint, or parked) and collects; the
 * others wait here until it is done.
 * While a thread is parked it is at a safepoint outside the interpreter
 * (its roots are in its VM and the process records): it neither reads nor
 * writes values or process records until ivm_vm_unpark, which waits for a
 * collection in progress to end. */
void ivm_vm_collect(ivm_vm *vm);
/* Roots for the collector's driver: one thread's (its running stack,
 * error, trace and C roots) and those no thread owns (globals, modules). */
void ivm_vm_thread_roots(ivm_vm *vm, ivm_gc *gc);
void ivm_vm_shared_roots(ivm_runtime *rt, ivm_gc *gc);

/* The concurrent collector (collector.c). ivm_collector_start turns it on
 * for the runtime (--gc=concurrent): collections requested from then on
 * are its cycles. */
bool ivm_collector_start(ivm_runtime *rt);
/* Ends its thread (once a cycle under way has stopped, freeing nothing it
 * has not finished); the runtime's collections are stop-the-world ones
 * from then on. */
void ivm_collector_stop(ivm_runtime *rt);
/* At a safepoint, in concurrent mode: takes part in a handshake round if
 * one waits for this thread, and asks for a cycle if the arena wants one.
 * False when the caller must collect with the world stopped instead. */
bool ivm_vm_concurrent_collect(ivm_vm *vm);
/* Takes part in a handshake round if one waits for this thread (and the
 * thread is not in gc_hold). */
void ivm_vm_handshake(ivm_vm *vm);
/* The barrier on stores into mutable cells (atoms, globals, lazy nodes,
 * mailboxes): while a concurrent cycle marks, keeps v for the collector. */
void ivm_vm_shade(ivm_vm *vm, ivm_value v);
/* The barrier's other half, while the collector evacuates: what a store
 * into a mutable cell must store instead of v (its copy, if it has one). */
ivm_value ivm_vm_forward(ivm_vm *vm, ivm_value v);
/* Both halves for a value stored into a mutable cell: shades v, and gives
 * what to store instead (its copy while the collector evacuates). */
ivm_value ivm_vm_barrier(ivm_vm *vm, ivm_value v);
void ivm_vm_park(ivm_vm *vm);
void ivm_vm_unpark(ivm_vm *vm);
/* Turns on the collector's debugging modes (IVM_GC_VERIFY, IVM_GC_STRESS). */
void ivm_vm_gc_debug(ivm_vm *vm, bool verify, uint32_t stress_every);

/* ---- Stacks (stack.c) ---------------------------------------------------- */

/* The running stack's depth: frames in all its segments. */
static inline uint32_t ivm_stack_depth(const ivm_vm *vm) { return vm->depth_below + vm->nframes; }
/* A fresh, empty stack; false if memory ran out. */
bool ivm_stack_init(ivm_stack *s, uint32_t slots);
/* Frees a stack that is not running (frozen segments are released). */
void ivm_stack_free(ivm_stack *s);
/* Makes `s` the running stack, and saves the running one into `save`. */
void ivm_stack_switch(ivm_vm *vm, ivm_stack *save, ivm_stack *s);
/* Starts a new segment above the current one, for a call needing `need`
 * slots whose result goes to the current segment's slot ret_slot; the new
 * segment is empty. IVM_ERROR (stack overflow) past the limits. */
ivm_status ivm_stack_grow(ivm_vm *vm, uint32_t ret_slot, uint32_t need);
/* The current segment's frame count reached the run's floor (see run in
 * interp.c): carries the result in slot 0 of an empty segment down to its
 * caller. True when the stack is back at depth `stop`. */
bool ivm_stack_returned(ivm_vm *vm, uint32_t stop);
/* Drops every frame at depth `depth` and above (errors unwinding). */
void ivm_stack_unwind(ivm_vm *vm, uint32_t depth);
/* The frame at `depth` (0: bottom) and its segment, for traces. */
const ivm_frame *ivm_stack_frame_at(const ivm_vm *vm, uint32_t depth);
/* Freezes the running stack and gives it a fresh segment above the frozen
 * one; `copy` (if not NULL) gets a second such stack, sharing the frozen
 * segments. Then both resume their top frame: the value `result` (resp.
 * `copy_result`) goes to register `ret` of that frame, or, with
 * IVM_RET_TAIL, the top frame returns it (a tail call made the fork). False
 * if memory ran out. */
#define IVM_RET_TAIL UINT32_MAX
bool ivm_stack_fork(ivm_vm *vm, ivm_stack *copy, uint32_t ret, ivm_value result,
                    ivm_value copy_result);
/* Root walks, for the VM's roots: the running stack (its top frame live up
 * to top_live) or a saved one; then, after the collection, the clearing of
 * the stale slots the walk skipped. */
void ivm_stack_visit_running(ivm_vm *vm, ivm_gc *gc);
void ivm_stack_visit_saved(const ivm_stack *s, ivm_gc *gc);
void ivm_stack_clear_running(ivm_vm *vm);
void ivm_stack_clear_saved(ivm_stack *s);

/* ---- Globals ----------------------------------------------------------- */

/* The slot of the global named by symbol `name`, created unbound if new. */
uint32_t ivm_global_slot(ivm_vm *vm, ivm_value name);
void ivm_global_set(ivm_vm *vm, const char *name, ivm_value value);
/* Stores into a global's slot with the collector's barrier (what it
 * replaces shaded too); SETGLOBAL's way while a concurrent cycle runs. */
void ivm_global_store(ivm_vm *vm, ivm_value *slot, ivm_value value);

/* ---- Errors ------------------------------------------------------------ */

/* Throw a string message (starting a fresh trace). Always IVM_ERROR. */
ivm_status ivm_raise(ivm_vm *vm, const char *message);
ivm_status ivm_raise_value(ivm_vm *vm, ivm_value error);
ivm_status ivm_raise_type(ivm_vm *vm, const char *what, ivm_value got);
/* Throws the text of b as a string, and frees b. */
ivm_status ivm_raise_buf(ivm_vm *vm, ivm_buf *b);
ivm_status ivm_raise_arity(ivm_vm *vm, ivm_value fn, uint32_t nargs);
/* Writes the error and its trace, as the CLI shows them, into out. */
void ivm_format_error(ivm_vm *vm, ivm_buf *out);

/* ---- Output ------------------------------------------------------------ */

void ivm_vm_write(ivm_vm *vm, const void *data, size_t len);
/* Host code's print of a value into the output buffer: a lazy sequence in
 * it is realized (v is rooted meanwhile); if that fails, nothing is
 * printed and the error is returned (vm->error). */
ivm_status ivm_vm_print(ivm_vm *vm, ivm_value v, bool readably);
void ivm_vm_flush(ivm_vm *vm);
/* Writes the whole lines buffered, keeping an unfinished last one. */
void ivm_vm_flush_lines(ivm_vm *vm);
/* The length of the buffered output's whole lines (up to its last '\n'). */
size_t ivm_vm_lines_end(const ivm_vm *vm);
/* Appends v as (str v) does: nil as nothing, strings and characters as
 * their text, regexes as their pattern, floats as Java's toString,
 * everything else as pr prints it. */
void ivm_add_str(ivm_vm *vm, ivm_buf *b, ivm_value v);

/* ---- Calls ------------------------------------------------------------- */

/* Calls any function value with the given arguments. */
ivm_status ivm_call(ivm_vm *vm, ivm_value fn, uint32_t nargs,
                    const ivm_value *args, ivm_value *result);

/* A process's run, in steps: ivm_start_call puts the call of fn on the
 * running stack, which must be empty; ivm_resume runs it until it returns
 * (IVM_OK, *result its value), fails (IVM_ERROR, the stack emptied), or
 * stops at a safepoint (IVM_BLOCKED or IVM_YIELD): then the next
 * ivm_resume goes on. `at_entry`: the first ivm_resume after
 * ivm_start_call. A native (fn itself) runs at once in ivm_start_call,
 * which then says IVM_OK with *result set, or its error. */
ivm_status ivm_start_call(ivm_vm *vm, ivm_value fn, uint32_t nargs,
                          const ivm_value *args, ivm_value *result);
ivm_status ivm_resume(ivm_vm *vm, bool at_entry, ivm_value *result);
/* Whether the running code may block or yield (a process, at the top
 * level of its run, not inside a native's call back into the VM). */
static inline bool ivm_may_block(const ivm_vm *vm)
{
    return vm->proc && vm->nested_calls == vm->run_base;
}

/* ---- Lazy sequences ---------------------------------------------------- */

/* Realizes a lazy node (see ivm_lazy in values/value.h): runs its thunk,
 * and the thunks of the nodes that gives, until a list, nil or a realized
 * node comes; the result is cached in every node of the chain. */
ivm_status ivm_lazy_realize(ivm_vm *vm, ivm_value node);
/* Lets the values layer realize lazy nodes (printing, equality, hashing,
 * walks) on the VM that runs on the calling thread; ivm_vm_init calls it. */
void ivm_lazy_install(ivm_vm *vm);
/* ivm_vm_destroy: the thread no longer runs vm. */
void ivm_lazy_forget(ivm_vm *vm);

/* ---- Loading ----------------------------------------------------------- */

typedef struct ivm_load_error {
    size_t offset;    /* byte offset in the file */
    char message[200];
} ivm_load_error;

/* Loads and verifies a .ivc image. On success the module is kept by the VM
 * (its prototypes are roots) and *module points at it. */
bool ivm_load(ivm_vm *vm, const uint8_t *data, size_t len,
              const ivm_module **module, ivm_load_error *err);
/* A closure of the module's entry prototype. */
ivm_value ivm_module_entry(ivm_vm *vm, const ivm_module *module);
/* Serialises a module back to .ivc bytes: the exact inverse of ivm_load. */
void ivm_write_ivc(const ivm_module *module, ivm_buf *out);
/* CRC-32 (IEEE 802.3), the .ivc checksum. */
uint32_t ivm_crc32(const uint8_t *data, size_t len);

/* ---- Natives ----------------------------------------------------------- */

/* A native reads its arguments from args (valid for the whole call: the
 * stack never moves) and writes its result to *result. */
typedef ivm_status (*ivm_native_fn)(ivm_vm *vm, const ivm_value *args,
                                    uint32_t nargs, ivm_value *result);
struct ivm_native_def {
    const char *name;
    ivm_native_fn fn;
    uint32_t min_args;
    uint32_t max_args; /* UINT32_MAX: variadic */
};

/* Binds each native as a global of its name. `defs` must outlive the VM
 * (static tables). The VM starts with the bytecode layer's own natives;
 * higher layers (the core library) add theirs. */
void ivm_vm_add_natives(ivm_vm *vm, const ivm_native_def *defs, uint32_t n);

/* The bytecode layer's natives: output, lists, equality, numbers. */
extern const ivm_native_def ivm_base_natives[];
extern const uint32_t ivm_base_native_count;

/* Arithmetic shared by the interpreter's slow paths and the natives. */
ivm_status ivm_arith(ivm_vm *vm, unsigned opcode, ivm_value a, ivm_value b,
                     ivm_value *out);
/* *out := a < b (or a <= b when or_equal), numbers only. */
ivm_status ivm_less(ivm_vm *vm, ivm_value a, ivm_value b, bool or_equal,
                    bool *out);

#endif
