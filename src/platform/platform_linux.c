/* Linux implementation of include/ivm/platform.h, except for the crash and
 * interrupt handlers (crash.c): virtual memory, the counted bootstrap
 * allocator over jemalloc, clocks, output and whole-file I/O, shortest
 * round-trip formatting and strict parsing of doubles, threads, mutexes and
 * condition variables.
 *
 * Failures the caller can act on are returned. A failing call that can only
 * mean a broken invariant (munmap of our own reservation, unlocking a mutex
 * we hold) ends in ivm_linux_fatal, which aborts into the crash handler. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "ivm/platform.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jemalloc/jemalloc.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older headers lack it */
#endif

#include "platform/linux.h"

/* Writes "ivm: WHAT failed: REASON" to stderr and aborts, which the crash
 * handler (when installed) turns into a backtrace and exit status 70. */
_Noreturn void ivm_linux_fatal(const char *what, int err)
{
    char line[256];
    int n = snprintf(line, sizeof line, "ivm: %s failed: %s\n", what,
                     strerror(err));
    if (n > 0)
        ivm_platform_write(IVM_STDERR, line,
                           (size_t)n < sizeof line ? (size_t)n
                                                   : sizeof line - 1);
    abort();
}

/* ---- Virtual memory ---------------------------------------------------- */

size_t ivm_platform_page_size(void)
{
    static atomic_size_t cached;
    size_t size = atomic_load_explicit(&cached, memory_order_relaxed);
    if (size == 0) {
        long v = sysconf(_SC_PAGESIZE);
        if (v <= 0)
            ivm_linux_fatal("sysconf(_SC_PAGESIZE)", errno);
        size = (size_t)v;
        atomic_store_explicit(&cached, size, memory_order_relaxed);
    }
    return size;
}

static uintptr_t round_down(uintptr_t x, size_t to) { return x & ~(uintptr_t)(to - 1); }
static uintptr_t round_up(uintptr_t x, size_t to) { return round_down(x + to - 1, to); }

void *ivm_platform_reserve(size_t bytes, size_t align)
{
    size_t page = ivm_platform_page_size();
    if (align < page)
        align = page;
    if (bytes == 0 || (align & (align - 1)) != 0 || bytes > SIZE_MAX - align)
        return NULL;
    bytes = round_up(bytes, page);
    /* Over-reserve by align - page so that an aligned start fits, then give
     * back the slack on both sides. */
    size_t raw_size = bytes + (align - page);
    void *raw = mmap(NULL, raw_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uintptr_t start = (uintptr_t)raw;
    uintptr_t base = round_up(start, align);
    size_t head = base - start;
    size_t tail = raw_size - head - bytes;
    if (head != 0 && munmap(raw, head) != 0)
        ivm_linux_fatal("munmap", errno);
    if (tail != 0 && munmap((void *)(base + bytes), tail) != 0)
        ivm_linux_fatal("munmap", errno);
    return (void *)base;
}

void ivm_platform_release(void *base, size_t bytes)
{
    if (munmap(base, bytes) != 0)
        ivm_linux_fatal("munmap", errno);
}

void ivm_platform_decommit(void *p, size_t bytes)
{
    /* MADV_DONTNEED works on whole pages; zero the partial pages at either
     * end by hand so that the whole range reads back as zeros. */
    size_t page = ivm_platform_page_size();
    uintptr_t start = (uintptr_t)p, end = start + bytes;
    uintptr_t inner_start = round_up(start, page);
    uintptr_t inner_end = round_down(end, page);
    if (inner_start >= inner_end) {
        memset(p, 0, bytes);
        return;
    }
    memset(p, 0, inner_start - start);
    memset((void *)inner_end, 0, end - inner_end);
    if (madvise((void *)inner_start, inner_end - inner_start, MADV_DONTNEED) != 0)
        ivm_linux_fatal("madvise(MADV_DONTNEED)", errno);
}

void ivm_platform_prefault(void *p, size_t bytes)
{
    static atomic_bool no_populate; /* kernel older than 5.14 */
    if (bytes == 0)
        return;
    size_t page = ivm_platform_page_size();
    uintptr_t start = round_down((uintptr_t)p, page);
    uintptr_t end = round_up((uintptr_t)p + bytes, page);
    if (!atomic_load_explicit(&no_populate, memory_order_relaxed)) {
        if (madvise((void *)start, end - start, MADV_POPULATE_WRITE) == 0)
            return;
        if (errno != EINVAL)
            return; /* out of memory now: the later touch will say so */
        atomic_store_explicit(&no_populate, true, memory_order_relaxed);
    }
    /* An atomic add of zero is a write fault that keeps the contents. */
    for (uintptr_t q = start; q < end; q += page)
        atomic_fetch_add_explicit((_Atomic unsigned char *)q, 0,
                                  memory_order_relaxed);
}

bool ivm_platform_advise_huge(void *p, size_t bytes)
{
    size_t page = ivm_platform_page_size();
    uintptr_t start = round_down((uintptr_t)p, page);
    uintptr_t end = round_up((uintptr_t)p + bytes, page);
    return start == end ||
           madvise((void *)start, end - start, MADV_HUGEPAGE) == 0;
}

size_t ivm_platform_resident_bytes(void)
{
    /* /proc/self/statm: "size resident shared text lib data dt", in pages. */
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char text[128];
    ssize_t n;
    do
        n = read(fd, text, sizeof text - 1);
    while (n < 0 && errno == EINTR);
    if (close(fd) != 0 || n <= 0)
        return 0;
    text[n] = '\0';
    const char *s = strchr(text, ' ');
    if (s == NULL || *++s < '0' || *s > '9')
        return 0;
    size_t pages = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        pages = pages * 10 + (size_t)(*s - '0');
    return pages * ivm_platform_page_size();
}

/* ---- Bootstrap allocator (jemalloc) ------------------------------------ */

static atomic_uint_fast64_t bootstrap_calls;

static void count_bootstrap_call(void)
{
    atomic_fetch_add_explicit(&bootstrap_calls, 1, memory_order_relaxed);
}

void *ivm_platform_malloc(size_t bytes)
{
    count_bootstrap_call();
    return malloc(bytes);
}

void *ivm_platform_calloc(size_t count, size_t bytes)
{
    count_bootstrap_call();
    return calloc(count, bytes);
}

/* Process memory: a jemalloc arena of its own whose extents are advised
 * to the kernel as huge pages, used through one explicit thread cache per
 * thread (the automatic one would mix in blocks of the default arena).
 * The default arena stays on small pages, and so do this arena's first
 * 8 MiB: a program with few processes keeps its small resident set. Sanitizer builds use plain calloc, so
 * that the sanitizers see these blocks too. */
#ifdef IVM_SANITIZED
void *ivm_platform_proc_calloc(size_t bytes)
{
    count_bootstrap_call();
    return calloc(1, bytes);
}

void ivm_platform_proc_free(void *p) { free(p); }
#else
static extent_hooks_t *default_extent_hooks;
static extent_hooks_t proc_extent_hooks;
static unsigned proc_arena; /* 0 (the default arena): none was made */
static pthread_once_t proc_arena_once = PTHREAD_ONCE_INIT;
static _Thread_local unsigned proc_tcache_plus_1;
static atomic_size_t proc_extent_bytes;
#define PROC_SMALL_PAGES_BYTES ((size_t)8 << 20)

static void *proc_extent_alloc(extent_hooks_t *hooks, void *new_addr, size_t size,
                               size_t alignment, bool *zero, bool *commit, unsigned arena)
{
    (void)hooks;
    void *p = default_extent_hooks->alloc(default_extent_hooks, new_addr, size, alignment,
                                          zero, commit, arena);
    /* the first few MiB stay on small pages: a program with a handful of
     * processes keeps a small resident set */
    if (p != NULL && atomic_fetch_add(&proc_extent_bytes, size) >= PROC_SMALL_PAGES_BYTES)
        madvise(p, size, MADV_HUGEPAGE); /* advice: may be ignored */
    return p;
}

static void make_proc_arena(void)
{
    size_t size = sizeof default_extent_hooks;
    if (mallctl("arena.0.extent_hooks", &default_extent_hooks, &size, NULL, 0) != 0)
        return;
    proc_extent_hooks = *default_extent_hooks;
    proc_extent_hooks.alloc = proc_extent_alloc;
    extent_hooks_t *hooks = &proc_extent_hooks;
    unsigned arena;
    size = sizeof arena;
    if (mallctl("arenas.create", &arena, &size, &hooks, sizeof hooks) == 0)
        proc_arena = arena;
}

/* mallocx flags for process memory; 0 when jemalloc made no arena (then
 * plain calloc and free serve, for every block alike). */
static int proc_flags(void)
{
    pthread_once(&proc_arena_once, make_proc_arena);
    if (proc_arena == 0)
        return 0;
    if (proc_tcache_plus_1 == 0) {
        unsigned tcache;
        size_t size = sizeof tcache;
        if (mallctl("tcache.create", &tcache, &size, NULL, 0) != 0)
            return MALLOCX_ARENA(proc_arena) | MALLOCX_TCACHE_NONE;
        proc_tcache_plus_1 = tcache + 1;
    }
    return MALLOCX_ARENA(proc_arena) | MALLOCX_TCACHE(proc_tcache_plus_1 - 1);
}

void *ivm_platform_proc_calloc(size_t bytes)
{
    count_bootstrap_call();
    int flags = proc_flags();
    return flags ? mallocx(bytes, flags | MALLOCX_ZERO) : calloc(1, bytes);
}

void ivm_platform_proc_free(void *p)
{
    if (p == NULL)
        return;
    int flags = proc_flags();
    if (flags)
        dallocx(p, flags);
    else
        free(p);
}
#endif

void *ivm_platform_realloc(void *p, size_t bytes)
{
    count_bootstrap_call();
    return realloc(p, bytes);
}

void ivm_platform_free(void *p) { free(p); }

uint64_t ivm_platform_bootstrap_calls(void)
{
    return atomic_load_explicit(&bootstrap_calls, memory_order_relaxed);
}

uint64_t ivm_platform_thread_allocated_bytes(void)
{
    /* thread.allocatedp points at jemalloc's own per-thread counter, so one
     * mallctl per thread is enough. */
    static _Thread_local uint64_t *counter;
    if (counter == NULL) {
        size_t size = sizeof counter;
        if (mallctl("thread.allocatedp", &counter, &size, NULL, 0) != 0 ||
            counter == NULL)
            return UINT64_MAX;
    }
    return *counter;
}

/* ---- Time -------------------------------------------------------------- */

/* Linux lets a timed wait end up to 50 us late by default (timer slack),
 * to batch wake-ups; a process's `(receive 1 ...)` or `(sleep ...)` wants
 * its worker back on time. Set for the main thread before main runs;
 * threads inherit it from the thread that starts them. */
__attribute__((constructor)) static void precise_timers(void)
{
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL); /* best effort */
}

uint64_t ivm_platform_now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        ivm_linux_fatal("clock_gettime", errno);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ivm_platform_sleep_ns(uint64_t ns)
{
    struct timespec left = {.tv_sec = (time_t)(ns / 1000000000u),
                            .tv_nsec = (long)(ns % 1000000000u)};
    /* A SIGINT cuts the sleep short so that the VM reaches its next
     * safepoint (and reports the interrupt) promptly. */
    while (nanosleep(&left, &left) != 0) {
        if (errno != EINTR)
            ivm_linux_fatal("nanosleep", errno);
        if (ivm_platform_interrupted())
            return;
    }
}

/* ---- Output and files -------------------------------------------------- */

/* Writes all of buf to fd. Returns 0 or the errno that stopped it. */
static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n == 0) {
            return EIO;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            /* Inherited a non-blocking descriptor: wait until it drains. */
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                return errno;
        } else if (errno != EINTR) {
            return errno;
        }
    }
    return 0;
}

void ivm_platform_write(int stream, const void *buf, size_t len)
{
    /* Nobody is left to tell when stdout or stderr itself fails. */
    (void)write_all(stream == IVM_STDERR ? STDERR_FILENO : STDOUT_FILENO, buf,
                    len);
}

static bool fail(const char **error, int err)
{
    *error = strerror(err);
    return false;
}

bool ivm_platform_read_file(const char *path, uint8_t **data, size_t *len,
                            const char **error)
{
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(error, errno);
    /* Size the buffer from a regular file's length, one byte over so that
     * the read that sees end-of-file needs no growth; pipes and files that
     * report no length (/proc) start at 64 KiB and double. */
    struct stat st;
    size_t cap = 64 * 1024;
    int err = 0;
    if (fstat(fd, &st) != 0)
        err = errno;
    else if (S_ISREG(st.st_mode) && st.st_size > 0 &&
             (uintmax_t)st.st_size < SIZE_MAX)
        cap = (size_t)st.st_size + 1;
    uint8_t *buf = err == 0 ? ivm_platform_malloc(cap) : NULL;
    if (err == 0 && buf == NULL)
        err = ENOMEM;
    size_t used = 0;
    while (err == 0) {
        if (used == cap) {
            uint8_t *bigger = cap <= SIZE_MAX / 2
                                  ? ivm_platform_realloc(buf, cap * 2)
                                  : NULL;
            if (bigger == NULL) {
                err = ENOMEM;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + used, cap - used);
        if (n > 0)
            used += (size_t)n;
        else if (n == 0)
            break;
        else if (errno != EINTR)
            err = errno;
    }
    if (!is_stdin && close(fd) != 0 && err == 0)
        err = errno;
    if (err != 0) {
        ivm_platform_free(buf);
        return fail(error, err);
    }
    *data = buf;
    *len = used;
    return true;
}

bool ivm_platform_write_file(const char *path, const void *data, size_t len,
                             const char **error)
{
    if (strcmp(path, "-") == 0) {
        int err = write_all(STDOUT_FILENO, data, len);
        return err == 0 || fail(error, err);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return fail(error, errno);
    int err = write_all(fd, data, len);
    /* close reports delayed write errors (NFS, quota): keep the first. */
    if (close(fd) != 0 && err == 0)
        err = errno;
    return err == 0 || fail(error, err);
}

/* ---- Numbers ----------------------------------------------------------- */

int ivm_platform_shortest_digits(double d, char digits[24], int *exp10)
{
    /* "%.*e" is correctly rounded, so the first precision whose text reads
     * back as d gives the shortest digits (precision 16, i.e. 17 significant
     * digits, always does). Starting at two digits, as Java does, picks 4.9
     * over 5 for 4.9E-324, where both read back. */
    char text[32];
    for (int precision = 1;; precision++) {
        snprintf(text, sizeof text, "%.*e", precision, d);
        if (precision == 16 || strtod(text, NULL) == d)
            break;
    }
    /* text is "D[.DDD]e[+-]XX"; d = D.DDD * 10^XX = 0.DDDD * 10^(XX+1). */
    int n = 0;
    const char *s = text;
    for (; *s != 'e'; s++)
        if (*s >= '0' && *s <= '9')
            digits[n++] = *s;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    s++;
    bool negative = *s == '-';
    s++; /* the sign: %e always writes one */
    int e = 0;
    for (; *s != '\0'; s++)
        e = e * 10 + (*s - '0');
    *exp10 = (negative ? -e : e) + 1;
    return n;
}

/* Length of the run of decimal digits at the start of s[0..len). */
static size_t digit_run(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

bool ivm_platform_parse_double(const char *text, size_t len, double *out)
{
    /* Accept exactly [+-]? digits ( "." digits )? ( [eE] [+-]? digits )?,
     * which rules out space, hex floats, "inf" and "nan" before strtod
     * sees the text. Out-of-range values are not syntax errors: they read
     * as infinity or (at worst) zero, as strtod rounds them. */
    size_t i = 0, run;
    if (i < len && (text[i] == '+' || text[i] == '-'))
        i++;
    if ((run = digit_run(text + i, len - i)) == 0)
        return false;
    i += run;
    if (i < len && text[i] == '.') {
        i++;
        if ((run = digit_run(text + i, len - i)) == 0)
            return false;
        i += run;
    }
    if (i < len && (text[i] == 'e' || text[i] == 'E')) {
        i++;
        if (i < len && (text[i] == '+' || text[i] == '-'))
            i++;
        if ((run = digit_run(text + i, len - i)) == 0)
            return false;
        i += run;
    }
    if (i != len)
        return false;

    /* strtod needs a NUL terminator; very long literals go to the heap. */
    char local[512];
    char *copy = len < sizeof local ? local : malloc(len + 1);
    if (copy == NULL)
        return false;
    memcpy(copy, text, len);
    copy[len] = '\0';
    char *end;
    double value = strtod(copy, &end);
    bool whole = end == copy + len;
    if (copy != local)
        free(copy);
    if (!whole)
        return false;
    *out = value;
    return true;
}

/* ---- Process-wide ------------------------------------------------------ */

static void (*exit_hook)(void *context, int status);
static void *exit_hook_context;

void ivm_platform_set_exit_hook(void (*hook)(void *context, int status), void *context)
{
    exit_hook = hook;
    exit_hook_context = context;
}

_Noreturn void ivm_platform_exit(int status)
{
    void (*hook)(void *, int) = exit_hook;
    exit_hook = NULL; /* once: a hook that exits does not loop */
    if (hook)
        hook(exit_hook_context, status);
    _exit(status);
}

const char *ivm_platform_getenv(const char *name) { return getenv(name); }

_Noreturn void ivm_platform_assert_failed(const char *expr, const char *file,
                                          int line)
{
    char text[512];
    int n = snprintf(text, sizeof text, "ivm: assertion failed: %s at %s:%d\n",
                     expr, file, line);
    if (n > 0)
        ivm_platform_write(IVM_STDERR, text,
                           (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
    abort();
}

/* ---- Interactive input ------------------------------------------------- */

bool ivm_platform_is_terminal(int stream) { return isatty(stream) == 1; }

/* libedit's readline and add_history, found on first use (or not). */
static char *(*editline_readline)(const char *);
static int (*editline_add_history)(const char *);

static void load_editline(void)
{
    static bool tried;
    if (tried)
        return;
    tried = true;
    if (!isatty(0) || !isatty(1))
        return;
    void *lib = dlopen("libedit.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return;
    editline_readline = (char *(*)(const char *))dlsym(lib, "readline");
    editline_add_history = (int (*)(const char *))dlsym(lib, "add_history");
    if (!editline_readline)
        editline_add_history = NULL;
}

char *ivm_platform_read_line(const char *prompt)
{
    load_editline();
    if (editline_readline) {
        char *line = editline_readline(prompt); /* libc malloc, not ours */
        if (!line)
            return NULL;
        char *copy = ivm_platform_malloc(strlen(line) + 1);
        if (copy)
            memcpy(copy, line, strlen(line) + 1);
        free(line);
        return copy;
    }
    ivm_platform_write(IVM_STDOUT, prompt, strlen(prompt));
    size_t len = 0, cap = 128;
    char *buf = ivm_platform_malloc(cap);
    for (;;) {
        char c;
        ssize_t n = read(0, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || c == '\n') {
            if (n <= 0 && len == 0) {
                ivm_platform_free(buf);
                return NULL;
            }
            buf[len] = '\0';
            return buf;
        }
        if (len + 2 > cap) {
            cap *= 2;
            char *bigger = ivm_platform_realloc(buf, cap);
            if (!bigger) {
                ivm_platform_free(buf);
                return NULL;
            }
            buf = bigger;
        }
        buf[len++] = c;
    }
}

void ivm_platform_add_history(const char *line)
{
    if (editline_add_history)
        editline_add_history(line);
}

/* ---- Threads ----------------------------------------------------------- */

struct ivm_thread {
    pthread_t handle;
    void (*fn)(void *);
    void *arg;
};

struct ivm_mutex {
    pthread_mutex_t lock;
};

struct ivm_cond {
    pthread_cond_t cond;
};

static void *thread_main(void *self)
{
    ivm_thread *t = self;
    /* Its own signal stack, so a stack overflow here is reported too. */
    ivm_linux_thread_signal_stack_enter();
    t->fn(t->arg);
    ivm_linux_thread_signal_stack_leave();
    return NULL;
}

ivm_thread *ivm_platform_thread_start(void (*fn)(void *), void *arg)
{
    ivm_thread *t = malloc(sizeof *t);
    if (t == NULL)
        return NULL;
    t->fn = fn;
    t->arg = arg;
    if (pthread_create(&t->handle, NULL, thread_main, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void ivm_platform_thread_join(ivm_thread *t)
{
    int err = pthread_join(t->handle, NULL);
    if (err != 0)
        ivm_linux_fatal("pthread_join", err);
    free(t);
}

unsigned ivm_platform_cpu_count(void)
{
    /* The CPUs this process may run on (taskset, container cpusets), not
     * every CPU the machine has. */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return (unsigned)n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

void ivm_platform_yield(void) { sched_yield(); }

/* Adaptive mutexes spin a little before sleeping in the kernel: the VM's
 * locks (the arena's slow path, interning, the runtime's) are held for
 * far less time than a sleep and a wake-up cost. */
ivm_mutex *ivm_platform_mutex_new(void)
{
    ivm_mutex *m = malloc(sizeof *m);
    pthread_mutexattr_t attr;
    if (m == NULL || pthread_mutexattr_init(&attr) != 0) {
        free(m);
        return NULL;
    }
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    int err = pthread_mutex_init(&m->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    if (err != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void ivm_platform_mutex_free(ivm_mutex *m)
{
    int err = pthread_mutex_destroy(&m->lock);
    if (err != 0)
        ivm_linux_fatal("pthread_mutex_destroy", err);
    free(m);
}

void ivm_platform_mutex_lock(ivm_mutex *m)
{
    int err = pthread_mutex_lock(&m->lock);
    if (err != 0)
        ivm_linux_fatal("pthread_mutex_lock", err);
}

void ivm_platform_mutex_unlock(ivm_mutex *m)
{
    int err = pthread_mutex_unlock(&m->lock);
    if (err != 0)
        ivm_linux_fatal("pthread_mutex_unlock", err);
}

ivm_cond *ivm_platform_cond_new(void)
{
    /* Timed waits measure against CLOCK_MONOTONIC, like ivm_platform_now_ns,
     * so setting the wall clock does not stretch or cut them. */
    ivm_cond *c = malloc(sizeof *c);
    if (c == NULL)
        return NULL;
    pthread_condattr_t attr;
    bool ok = pthread_condattr_init(&attr) == 0;
    if (ok) {
        ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
             pthread_cond_init(&c->cond, &attr) == 0;
        int err = pthread_condattr_destroy(&attr);
        if (err != 0)
            ivm_linux_fatal("pthread_condattr_destroy", err);
    }
    if (!ok) {
        free(c);
        return NULL;
    }
    return c;
}

void ivm_platform_cond_free(ivm_cond *c)
{
    int err = pthread_cond_destroy(&c->cond);
    if (err != 0)
        ivm_linux_fatal("pthread_cond_destroy", err);
    free(c);
}

void ivm_platform_cond_wait(ivm_cond *c, ivm_mutex *m)
{
    int err = pthread_cond_wait(&c->cond, &m->lock);
    if (err != 0)
        ivm_linux_fatal("pthread_cond_wait", err);
}

bool ivm_platform_cond_timedwait(ivm_cond *c, ivm_mutex *m,
                                 uint64_t timeout_ns)
{
    uint64_t deadline = ivm_platform_now_ns();
    deadline = timeout_ns > UINT64_MAX - deadline ? UINT64_MAX
                                                  : deadline + timeout_ns;
    struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000000u),
                          .tv_nsec = (long)(deadline % 1000000000u)};
    int err = pthread_cond_timedwait(&c->cond, &m->lock, &ts);
    if (err == ETIMEDOUT)
        return false;
    if (err != 0)
        ivm_linux_fatal("pthread_cond_timedwait", err);
    return true;
}

void ivm_platform_cond_signal(ivm_cond *c)
{
    int err = pthread_cond_signal(&c->cond);
    if (err != 0)
        ivm_linux_fatal("pthread_cond_signal", err);
}

void ivm_platform_cond_broadcast(ivm_cond *c)
{
    int err = pthread_cond_broadcast(&c->cond);
    if (err != 0)
        ivm_linux_fatal("pthread_cond_broadcast", err);
}
