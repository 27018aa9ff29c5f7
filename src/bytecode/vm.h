/* The bytecode layer's state: the VM, loaded modules, the interpreter's
 * frames, globals, errors and the native functions.
 *
 * One error mechanism: every operation that can fail returns an
 * ivm_status. IVM_ERROR means a value has been thrown: it is in vm->error,
 * and vm->trace holds the frames it passed through (innermost first).
 * Nothing unwinds the C stack by other means (the core has no setjmp). */
#ifndef IVM_VM_H
#define IVM_VM_H

#include "values/function.h"
#include "values/value.h"

typedef enum ivm_status {
    IVM_OK,
    IVM_ERROR,       /* vm->error holds the thrown value */
    IVM_INTERRUPTED, /* SIGINT reached a safepoint */
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
    uint32_t base;     /* stack index of its R[0] */
} ivm_frame;

/* An active TRY: where an error in frame `frame` (or a callee) goes. */
typedef struct ivm_handler {
    uint32_t frame;    /* index in frames */
    uint32_t catch_pc; /* in that frame's code */
    uint8_t reg;       /* gets the thrown value */
} ivm_handler;

typedef struct ivm_global {
    ivm_value name;  /* symbol */
    ivm_value value; /* IVM_UNBOUND until set */
} ivm_global;

typedef struct ivm_trace_entry {
    ivm_value function; /* closure or native */
    uint32_t pc;
} ivm_trace_entry;

#define IVM_TRACE_MAX 32
#define IVM_MAX_FRAMES (1u << 20)
#define IVM_MAX_STACK (1u << 24)  /* value slots */
#define IVM_MAX_NESTED_CALLS 200  /* natives calling back into the VM */
#define IVM_REDUCTION_BUDGET 4000 /* calls and back jumps per slice */

typedef struct ivm_native_def ivm_native_def;

typedef struct ivm_vm {
    ivm_heap heap; /* first: the heap's native namer finds the VM from it */

    /* Native functions by index (the payload of a native value). */
    const ivm_native_def **natives;
    uint32_t nnatives, natives_cap;

    ivm_global *globals;
    uint32_t nglobals, globals_cap;
    uint32_t *global_index; /* open addressing over globals; UINT32_MAX empty */
    uint32_t global_index_cap;

    /* Both reserved whole (IVM_MAX_STACK slots, IVM_MAX_FRAMES frames) and
     * committed by the host as they are touched, so they never move and a
     * pointer into them stays valid across calls.
     * Invariant: every stack slot holds a valid value (fresh pages read as
     * zero, which is nil), so no bytecode can read garbage through a
     * register. Slots above the live top keep stale values; the collector
     * must clear them (not trace them) when it scans this stack. */
    ivm_value *stack;
    ivm_frame *frames;
    uint32_t nframes;
    /* Invariant: every handler belongs to a live frame, innermost last
     * (returns drop their frame's handlers). */
    ivm_handler *handlers;
    uint32_t nhandlers, handlers_cap;
    uint32_t nested_calls;

    ivm_module **modules; /* each separately allocated: pointers stay valid */
    uint32_t nmodules;

    ivm_value error; /* the thrown value while status is IVM_ERROR */
    ivm_trace_entry trace[IVM_TRACE_MAX];
    uint32_t ntrace;
    uint32_t trace_dropped; /* frames beyond IVM_TRACE_MAX */

    ivm_buf out; /* buffered standard output; see ivm_vm_flush */
    int32_t budget;
} ivm_vm;

bool ivm_vm_init(ivm_vm *vm, size_t heap_bytes, ivm_arena_mode mode);
void ivm_vm_destroy(ivm_vm *vm);

/* ---- Globals ----------------------------------------------------------- */

/* The slot of the global named by symbol `name`, created unbound if new. */
uint32_t ivm_global_slot(ivm_vm *vm, ivm_value name);
void ivm_global_set(ivm_vm *vm, const char *name, ivm_value value);

/* ---- Errors ------------------------------------------------------------ */

/* Throw a string message (starting a fresh trace). Always IVM_ERROR. */
ivm_status ivm_raise(ivm_vm *vm, const char *message);
ivm_status ivm_raise_value(ivm_vm *vm, ivm_value error);
ivm_status ivm_raise_type(ivm_vm *vm, const char *what, ivm_value got);
ivm_status ivm_raise_arity(ivm_vm *vm, ivm_value fn, uint32_t nargs);
/* Writes the error and its trace, as the CLI shows them, into out. */
void ivm_format_error(ivm_vm *vm, ivm_buf *out);

/* ---- Output ------------------------------------------------------------ */

void ivm_vm_write(ivm_vm *vm, const void *data, size_t len);
void ivm_vm_flush(ivm_vm *vm);

/* ---- Calls ------------------------------------------------------------- */

/* Calls any function value with the given arguments. */
ivm_status ivm_call(ivm_vm *vm, ivm_value fn, uint32_t nargs,
                    const ivm_value *args, ivm_value *result);

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
