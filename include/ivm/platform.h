/* ivm platform interface: everything the portable core needs from the OS.
 *
 * The core (arena, values, gc, bytecode, ...) is freestanding C: it calls
 * only the functions declared here, memcpy/memmove/memset/memcmp and libm.
 * A test runs `nm -u` on the core library to keep it that way. Porting ivm
 * to another host (bare metal, a Minix-style service) means writing one new
 * implementation of this header; the Linux one lives in src/platform/.
 *
 * Conventions: functions that can fail return false (or NULL) and never
 * print; the caller decides what the user sees. Nothing here allocates in
 * the arena. */
#ifndef IVM_PLATFORM_H
#define IVM_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Virtual memory ---------------------------------------------------- */

/* Reserves `bytes` of address space, readable and writable but not backed
 * by memory until touched (MAP_NORESERVE on Linux), aligned to `align`
 * (a power of two, at least the page size). NULL when the host refuses. */
void *ivm_platform_reserve(size_t bytes, size_t align);
/* Gives back a whole reservation made by ivm_platform_reserve. */
void ivm_platform_release(void *base, size_t bytes);
/* Returns the physical memory behind [p, p+bytes) to the host; the range
 * stays reserved and reads back as zeros when touched again. */
void ivm_platform_decommit(void *p, size_t bytes);
/* Touches [p, p+bytes) ahead of use so that first-touch page faults are
 * taken now rather than on the allocation path. */
void ivm_platform_prefault(void *p, size_t bytes);
/* Asks the host to back [p, p+bytes) with huge pages where it can.
 * Returns false when the host has no such thing; it is only advice. */
bool ivm_platform_advise_huge(void *p, size_t bytes);
size_t ivm_platform_page_size(void);
/* Resident set size of this OS process in bytes (0 if unknown). */
size_t ivm_platform_resident_bytes(void);

/* ---- Bootstrap allocator (jemalloc) ------------------------------------ */

/* For runtime tables, loader buffers and the compiler's working data;
 * never for values. Every call is counted (ivm_platform_bootstrap_calls). */
void *ivm_platform_malloc(size_t bytes);
void *ivm_platform_calloc(size_t count, size_t bytes);
void *ivm_platform_realloc(void *p, size_t bytes);
void ivm_platform_free(void *p);
/* The same for process memory (process records, stack segments, message
 * nodes): many small blocks made and dropped at the rate processes are
 * spawned, so they come from memory on huge pages where the host has
 * them (fresh 4 KiB pages cost half of a spawn). Zeroed; counted too. */
void *ivm_platform_proc_calloc(size_t bytes);
void ivm_platform_proc_free(void *p);
/* Number of malloc/calloc/realloc calls made through this interface. */
uint64_t ivm_platform_bootstrap_calls(void);
/* Bytes jemalloc has ever handed to the calling thread (its
 * thread.allocated statistic), or UINT64_MAX if jemalloc cannot say. */
uint64_t ivm_platform_thread_allocated_bytes(void);

/* ---- Time -------------------------------------------------------------- */

uint64_t ivm_platform_now_ns(void); /* monotonic clock */
void ivm_platform_sleep_ns(uint64_t ns);

/* ---- Output and files -------------------------------------------------- */

enum { IVM_STDOUT = 1, IVM_STDERR = 2 };
/* Writes all of buf to stdout or stderr (retrying short writes). */
void ivm_platform_write(int stream, const void *buf, size_t len);

/* Reads a whole file ("-" is standard input) into a buffer from
 * ivm_platform_malloc. On failure returns false and points *error at a
 * static description ("No such file or directory"). */
bool ivm_platform_read_file(const char *path, uint8_t **data, size_t *len,
                            const char **error);
/* Writes a whole file ("-" is standard output), replacing it. */
bool ivm_platform_write_file(const char *path, const void *data, size_t len,
                             const char **error);

/* ---- Interactive input (the REPL) -------------------------------------- */

/* Whether stdin (IVM_STDIN) or stdout/stderr is a terminal. */
enum { IVM_STDIN = 0 };
bool ivm_platform_is_terminal(int stream);
/* Reads one line from stdin, without its newline, into a buffer from
 * ivm_platform_malloc; NULL at end of input. On a terminal it offers line
 * editing and history through libedit when that library can be loaded
 * (it is loaded on first use, so programs that never read lines do not
 * pay for it); otherwise it prints the prompt and reads plainly. */
char *ivm_platform_read_line(const char *prompt);
/* Adds a line to the editing history (nothing without libedit). */
void ivm_platform_add_history(const char *line);

/* ---- Numbers the core does not format or parse itself ------------------ */

/* The shortest decimal digits that read back as exactly `d` (finite, > 0),
 * choosing among them as Java's Double.toString does (the closest with at
 * least two significant digits, trailing zeros then dropped):
 * writes them to digits (no dot, no sign, NUL-terminated, at most 17) and
 * sets *exp10 so that d = 0.DIGITS * 10^exp10. Returns the digit count. */
int ivm_platform_shortest_digits(double d, char digits[24], int *exp10);
/* Parses a complete decimal floating-point literal of `len` bytes
 * (strtod syntax, no surrounding space). False if it is not one. */
bool ivm_platform_parse_double(const char *text, size_t len, double *out);

/* ---- Process-wide ------------------------------------------------------ */

_Noreturn void ivm_platform_exit(int status);
/* A function ivm_platform_exit calls first, once (the CLI's --gc-stats
 * report); NULL for none. */
void ivm_platform_set_exit_hook(void (*hook)(void *context, int status), void *context);
/* The value of an environment variable, or NULL. */
const char *ivm_platform_getenv(const char *name);

/* Reports a failed internal assertion ("ivm: assertion failed: EXPR at
 * FILE:LINE") and aborts into the crash handler (exit status 70). */
_Noreturn void ivm_platform_assert_failed(const char *expr, const char *file,
                                          int line);

/* Internal assertions: checked in Debug builds, compiled out of Release
 * (NDEBUG). Untrusted input is never checked with these: the loader, the
 * assembler and the CLI check it always. */
#ifdef NDEBUG
#define IVM_ASSERT(expr) ((void)0)
#else
#define IVM_ASSERT(expr)                                                       \
    ((expr) ? (void)0 : ivm_platform_assert_failed(#expr, __FILE__, __LINE__))
#endif

/* Installs the crash handler: on SIGSEGV, SIGBUS, SIGILL, SIGFPE or
 * SIGABRT it prints "ivm: internal error (signal N, NAME)", a backtrace with
 * function names and offsets, and whatever `describe` (if set) writes about
 * the current bytecode function and offset, then exits with status 70. It
 * runs on its own signal stack, so a C stack overflow is reported too. */
typedef void (*ivm_crash_describer)(void *context, char *buf, size_t size);
void ivm_platform_install_crash_handler(void);
void ivm_platform_set_crash_describer(ivm_crash_describer describe,
                                      void *context);

/* SIGINT: the first one sets a flag that the interpreter polls at its
 * safepoints (ivm_platform_interrupted); the VM then ends with status 130
 * and a one-line message. A second SIGINT ends the process at once. */
void ivm_platform_install_interrupt_handler(void);
bool ivm_platform_interrupted(void);

/* ---- Threads (the scheduler builds on these) --------------------------- */

typedef struct ivm_thread ivm_thread;
typedef struct ivm_mutex ivm_mutex;
typedef struct ivm_cond ivm_cond;

ivm_thread *ivm_platform_thread_start(void (*fn)(void *), void *arg);
void ivm_platform_thread_join(ivm_thread *t);
unsigned ivm_platform_cpu_count(void);

/* Gives the processor to another thread (a spin lock's holder). */
void ivm_platform_yield(void);
/* A hint to the processor inside a spin-wait loop (an instruction, not a
 * call into the host). */
static inline void ivm_platform_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
ivm_mutex *ivm_platform_mutex_new(void);
void ivm_platform_mutex_free(ivm_mutex *m);
void ivm_platform_mutex_lock(ivm_mutex *m);
void ivm_platform_mutex_unlock(ivm_mutex *m);

ivm_cond *ivm_platform_cond_new(void);
void ivm_platform_cond_free(ivm_cond *c);
void ivm_platform_cond_wait(ivm_cond *c, ivm_mutex *m);
/* Waits at most timeout_ns; false when the time ran out. */
bool ivm_platform_cond_timedwait(ivm_cond *c, ivm_mutex *m,
                                 uint64_t timeout_ns);
void ivm_platform_cond_signal(ivm_cond *c);
void ivm_platform_cond_broadcast(ivm_cond *c);

/* Atomics are C11 <stdatomic.h>, a freestanding header: no wrapper here. */

#endif
