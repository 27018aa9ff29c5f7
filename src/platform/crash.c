/* Linux crash and interrupt handling: the fatal-signal handler that prints
 * "ivm: internal error", a libunwind backtrace and the registered bytecode
 * description before exiting with status 70; the per-thread alternate
 * signal stacks it runs on; and the SIGINT flag the interpreter polls.
 *
 * Everything reachable from a signal handler here is async-signal-safe:
 * write(2) (through ivm_platform_write, which uses only write and poll),
 * hand-rolled formatting, lock-free atomics, libunwind's local unwinder and
 * _exit. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define UNW_LOCAL_ONLY

#include "ivm/platform.h"

#include <errno.h>
#include <libunwind.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "platform/linux.h"

_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_POINTER_LOCK_FREE == 2,
               "signal handlers rely on lock-free atomics");

enum {
    EXIT_INTERNAL_ERROR = 70,
    EXIT_INTERRUPTED = 130,
    SIGNAL_STACK_BYTES = 64 * 1024,
    MAX_FRAMES = 64,
    DESCRIPTION_BYTES = 256,
    REPORT_TIMEOUT_S = 10,
};

static atomic_bool crash_handler_installed;
static _Atomic(ivm_crash_describer) describer;
static _Atomic(void *) describer_context;
/* Set by the first thread to report a crash; later ones wait for it. */
static atomic_flag reporting = ATOMIC_FLAG_INIT;
/* Set while this thread runs the crash handler, to catch a fault in it. */
static _Thread_local volatile sig_atomic_t crashing_here;
/* This thread's alternate signal stack mapping (guard page first). */
static _Thread_local char *signal_stack;

static atomic_int interrupted;

/* ---- Async-signal-safe line formatting --------------------------------- */

struct line {
    char text[512];
    size_t len;
};

static void put_str(struct line *l, const char *s)
{
    while (*s != '\0' && l->len < sizeof l->text)
        l->text[l->len++] = *s++;
}

static void put_uint(struct line *l, uintmax_t v, unsigned base)
{
    char digits[sizeof v * 8];
    size_t n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v != 0);
    while (n > 0 && l->len < sizeof l->text)
        l->text[l->len++] = digits[--n];
}

static void put_hex(struct line *l, uintmax_t v)
{
    put_str(l, "0x");
    put_uint(l, v, 16);
}

static void flush_line(struct line *l)
{
    ivm_platform_write(IVM_STDERR, l->text, l->len);
    l->len = 0;
}

/* ---- Crash handler ----------------------------------------------------- */

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    default: return "?";
    }
}

/* Walks the stack from the interrupted frame, which libunwind reads from
 * the signal's ucontext, so frame #0 is where the signal struck. */
static void print_backtrace(struct line *l, void *ucontext)
{
    unw_cursor_t cursor;
    if (unw_init_local2(&cursor, ucontext, UNW_INIT_SIGNAL_FRAME) != 0) {
        put_str(l, "  (no backtrace available)\n");
        flush_line(l);
        return;
    }
    for (int frame = 0; frame < MAX_FRAMES; frame++) {
        char name[256];
        unw_word_t offset, ip;
        put_str(l, "  #");
        put_uint(l, (uintmax_t)frame, 10);
        put_str(l, " ");
        int found = unw_get_proc_name(&cursor, name, sizeof name, &offset);
        if (found == 0 || found == -UNW_ENOMEM) { /* ENOMEM: truncated */
            name[sizeof name - 1] = '\0';
            put_str(l, name);
            put_str(l, "+");
            put_hex(l, offset);
        } else if (unw_get_reg(&cursor, UNW_REG_IP, &ip) == 0) {
            put_hex(l, ip);
        } else {
            put_str(l, "?");
        }
        put_str(l, "\n");
        flush_line(l);
        if (unw_step(&cursor) <= 0)
            return;
    }
    put_str(l, "  ...\n");
    flush_line(l);
}

static void print_description(struct line *l)
{
    ivm_crash_describer describe = atomic_load(&describer);
    if (describe == NULL)
        return;
    char text[DESCRIPTION_BYTES];
    text[0] = '\0';
    describe(atomic_load(&describer_context), text, sizeof text);
    text[sizeof text - 1] = '\0';
    if (text[0] == '\0')
        return;
    put_str(l, "  in bytecode: ");
    put_str(l, text);
    put_str(l, "\n");
    flush_line(l);
}

static void report_timed_out(int sig)
{
    (void)sig;
    _exit(EXIT_INTERNAL_ERROR);
}

static void crash_handler(int sig, siginfo_t *info, void *ucontext)
{
    (void)info;
    /* SA_NODEFER lets a fault in the report come back here: give up. */
    if (crashing_here)
        _exit(EXIT_INTERNAL_ERROR);
    crashing_here = 1;
    /* Another thread is already reporting, and will end the process. */
    if (atomic_flag_test_and_set(&reporting))
        for (;;)
            pause();
    /* If the unwinder hangs (a crash inside the dynamic loader, holding its
     * lock), still exit rather than hang. Nothing to do if this fails. */
    struct sigaction timeout = {.sa_handler = report_timed_out};
    if (sigaction(SIGALRM, &timeout, NULL) == 0)
        alarm(REPORT_TIMEOUT_S);

    struct line l = {.len = 0};
    put_str(&l, "ivm: internal error (signal ");
    put_uint(&l, (uintmax_t)sig, 10);
    put_str(&l, ", ");
    put_str(&l, signal_name(sig));
    put_str(&l, ")\n");
    flush_line(&l);
    print_backtrace(&l, ucontext);
    print_description(&l);
    _exit(EXIT_INTERNAL_ERROR);
}

void ivm_linux_thread_signal_stack_enter(void)
{
    /* Best effort: without its own stack the handler still runs, it just
     * cannot report this thread overflowing its stack. */
    if (!atomic_load(&crash_handler_installed) || signal_stack != NULL)
        return;
    size_t guard = ivm_platform_page_size();
    char *base = mmap(NULL, guard + SIGNAL_STACK_BYTES, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base == MAP_FAILED)
        return;
    stack_t stack = {.ss_sp = base + guard, .ss_size = SIGNAL_STACK_BYTES};
    if (mprotect(base, guard, PROT_NONE) != 0 || sigaltstack(&stack, NULL) != 0) {
        if (munmap(base, guard + SIGNAL_STACK_BYTES) != 0)
            ivm_linux_fatal("munmap", errno);
        return;
    }
    signal_stack = base;
}

void ivm_linux_thread_signal_stack_leave(void)
{
    if (signal_stack == NULL)
        return;
    stack_t off = {.ss_flags = SS_DISABLE};
    if (sigaltstack(&off, NULL) != 0)
        ivm_linux_fatal("sigaltstack", errno);
    if (munmap(signal_stack, ivm_platform_page_size() + SIGNAL_STACK_BYTES) != 0)
        ivm_linux_fatal("munmap", errno);
    signal_stack = NULL;
}

void ivm_platform_install_crash_handler(void)
{
    atomic_store(&crash_handler_installed, true);
    ivm_linux_thread_signal_stack_enter();
    struct sigaction action = {
        .sa_sigaction = crash_handler,
        .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER,
    };
    sigemptyset(&action.sa_mask);
    static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        if (sigaction(fatal_signals[i], &action, NULL) != 0)
            ivm_linux_fatal("sigaction", errno);
}

void ivm_platform_set_crash_describer(ivm_crash_describer describe,
                                      void *context)
{
    /* Clear first, so that a crash on this thread in between never pairs
     * the old describer with the new context. */
    atomic_store(&describer, NULL);
    atomic_store(&describer_context, context);
    atomic_store(&describer, describe);
}

/* ---- Interrupt handler ------------------------------------------------- */

static void interrupt_handler(int sig)
{
    (void)sig;
    if (atomic_exchange(&interrupted, 1) != 0) {
        static const char message[] = "ivm: interrupted\n";
        ivm_platform_write(IVM_STDERR, message, sizeof message - 1);
        _exit(EXIT_INTERRUPTED);
    }
}

void ivm_platform_install_interrupt_handler(void)
{
    struct sigaction action = {.sa_handler = interrupt_handler,
                               .sa_flags = SA_RESTART};
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGINT, &action, NULL) != 0)
        ivm_linux_fatal("sigaction", errno);
}

bool ivm_platform_interrupted(void)
{
    return atomic_load_explicit(&interrupted, memory_order_relaxed) != 0;
}
