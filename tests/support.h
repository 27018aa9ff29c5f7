/* Helpers shared by every test executable: a VM per test process,
 * assembling, loading and running .ivs text, files, and child processes
 * (the ivm binary) with their output captured.
 *
 * Everything these helpers allocate is released when the test process
 * exits (before LeakSanitizer looks), so tests need not free results. */
#ifndef IVM_TEST_SUPPORT_H
#define IVM_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bytecode/asm.h"
#include "bytecode/vm.h"

#ifndef IVM_BINARY
#error "IVM_BINARY (path of the built ivm executable) must be defined"
#endif
#ifndef IVM_SOURCE_DIR
#error "IVM_SOURCE_DIR (the source tree) must be defined"
#endif

/* The heap the tests' VMs get: small, since nothing here needs more. */
#define T_HEAP_BYTES ((size_t)64 << 20)

/* ---- VMs and programs -------------------------------------------------- */

/* The calling process's VM, created on first use. */
ivm_vm *t_vm(void);
/* Replaces it with a fresh one (globals, modules and heap all new). */
void t_vm_reset(void);

/* Assembles `text` (named "test.ivs" in messages). On failure returns
 * false and, when err is not NULL, sets *err to the assembler's message. */
bool t_assemble(ivm_vm *vm, const char *text, ivm_buf *ivc, char **err);
/* Assembles or fails the test; returns the .ivc bytes (ivc->data). */
void t_assemble_ok(ivm_vm *vm, const char *text, ivm_buf *ivc);
/* Assembles and loads `text`, or fails the test with the message. */
const ivm_module *t_load_text(ivm_vm *vm, const char *text);

typedef struct t_result {
    ivm_status status;
    ivm_value value; /* the result (IVM_OK) or the thrown value (IVM_ERROR) */
    char *pr;        /* value as pr writes it */
    char *message;   /* IVM_ERROR: the thrown value as print writes it */
    char *report;    /* IVM_ERROR: ivm_format_error's text */
    char *out;       /* what the program printed (vm->out), which is emptied */
} t_result;

/* Assembles, loads and calls the entry of `text` in `vm`. */
t_result t_run_in(ivm_vm *vm, const char *text);
/* The same in t_vm(). */
t_result t_run(const char *text);
/* Runs text and asserts that it returns a value that prints (pr) as `pr`. */
void t_expect(const char *text, const char *pr);
/* Runs text and asserts that it throws exactly `message`. */
void t_expect_error(const char *text, const char *message);

/* v as pr (readably) or print writes it; the string is test-owned. */
char *t_pr(ivm_vm *vm, ivm_value v, bool readably);
/* printf into a test-owned string. */
char *t_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A copy of n bytes, NUL-terminated, test-owned. */
char *t_strndup(const char *s, size_t n);

/* ---- Files ------------------------------------------------------------- */

/* A whole file (NUL-terminated), or the test fails. Test-owned. */
uint8_t *t_read_file(const char *path, size_t *len);
void t_write_file(const char *path, const void *data, size_t len);
/* A fresh directory under $TMPDIR or /tmp, removed (with its files) at
 * exit. */
const char *t_temp_dir(void);
/* dir/name, test-owned. */
char *t_path(const char *dir, const char *name);
/* The examples' .ivs files, sorted; returns how many. */
size_t t_examples(char ***paths);

/* ---- Child processes --------------------------------------------------- */

typedef struct t_proc {
    pid_t pid;
    int out_fd, err_fd;
    char *out, *err; /* captured, NUL-terminated */
    size_t out_len, err_len;
    int status; /* waitpid's */
    int code;   /* exit status, or -N when killed by signal N */
} t_proc;

/* Starts argv[0] (a path) with stdout and stderr captured and stdin read
 * from stdin_path (NULL: /dev/null). */
void t_proc_start(t_proc *p, const char *const argv[], const char *stdin_path);
/* Collects output until the child exits; fails the test (killing it) if it
 * takes longer than timeout_s. */
void t_proc_finish(t_proc *p, double timeout_s);
/* Runs the ivm binary with the given arguments (a NULL-terminated list)
 * to completion within 60 s; returns p->code. */
int t_ivm(t_proc *p, const char *stdin_path, ...) __attribute__((sentinel));
/* Waits (at most timeout_s) until the child has installed a handler for
 * signal `sig` (its SigCgt in /proc), so that a signal sent now is caught. */
void t_wait_for_handler(pid_t pid, int sig, double timeout_s);
/* A field of /proc/PID/status in kB ("VmRSS"), or -1. */
long t_proc_status_kb(pid_t pid, const char *field);

/* Seconds on the monotonic clock. */
double t_now(void);

#endif
