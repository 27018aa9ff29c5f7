/* Shared test helpers (see support.h). */
#include "support.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- Cleanup at exit --------------------------------------------------- */

static void **owned;
static size_t nowned, owned_cap;
static ivm_vm *the_vm;
static char *temp_dir;
static pid_t temp_dir_owner;
static bool cleanup_registered;

static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    remove(path);
    return 0;
}

static void cleanup(void)
{
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    free(owned);
    owned = NULL;
    nowned = owned_cap = 0;
    if (the_vm) {
        ivm_vm_destroy(the_vm);
        free(the_vm);
        the_vm = NULL;
    }
    if (temp_dir && temp_dir_owner == getpid())
        nftw(temp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(temp_dir);
    temp_dir = NULL;
}

static void need_cleanup(void)
{
    if (!cleanup_registered) {
        cleanup_registered = true;
        atexit(cleanup);
    }
}

static void *own(void *p)
{
    need_cleanup();
    if (!p)
        cr_assert_fail("out of memory in the test itself");
    if (nowned == owned_cap) {
        owned_cap = owned_cap ? owned_cap * 2 : 64;
        owned = realloc(owned, owned_cap * sizeof *owned);
        cr_assert_not_null(owned);
    }
    owned[nowned++] = p;
    return p;
}

char *t_strndup(const char *s, size_t n)
{
    char *c = own(malloc(n + 1));
    if (n)
        memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

char *t_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0, "vasprintf failed");
    return own(s);
}

/* ---- VMs and programs -------------------------------------------------- */

ivm_vm *t_vm(void)
{
    if (!the_vm) {
        need_cleanup();
        the_vm = malloc(sizeof *the_vm);
        cr_assert_not_null(the_vm);
        cr_assert(ivm_vm_init(the_vm, T_HEAP_BYTES, IVM_ARENA_LAZY), "ivm_vm_init failed");
    }
    return the_vm;
}

void t_vm_reset(void)
{
    if (the_vm) {
        ivm_vm_destroy(the_vm);
        free(the_vm);
        the_vm = NULL;
    }
    t_vm();
}

bool t_assemble(ivm_vm *vm, const char *text, ivm_buf *ivc, char **err)
{
    ivm_buf e = {0};
    bool ok = ivm_assemble(vm, text, strlen(text), "test.ivs", ivc, &e);
    if (err)
        *err = ok ? NULL : t_strndup(e.data ? e.data : "", e.len);
    ivm_buf_free(&e);
    return ok;
}

void t_assemble_ok(ivm_vm *vm, const char *text, ivm_buf *ivc)
{
    char *err;
    if (!t_assemble(vm, text, ivc, &err))
        cr_assert_fail("assembly failed: %s\n--- program ---\n%s", err, text);
}

const ivm_module *t_load_text(ivm_vm *vm, const char *text)
{
    ivm_buf ivc = {0};
    t_assemble_ok(vm, text, &ivc);
    ivm_load_error le;
    const ivm_module *m = NULL;
    bool ok = ivm_load(vm, (const uint8_t *)ivc.data, ivc.len, &m, &le);
    ivm_buf_free(&ivc);
    if (!ok)
        cr_assert_fail("load failed at byte %zu: %s\n--- program ---\n%s",
                       le.offset, le.message, text);
    return m;
}

char *t_pr(ivm_vm *vm, ivm_value v, bool readably)
{
    ivm_buf b = {0};
    ivm_print(&vm->heap, &b, v, readably);
    char *s = t_strndup(b.data ? b.data : "", b.len);
    ivm_buf_free(&b);
    return s;
}

t_result t_run_in(ivm_vm *vm, const char *text)
{
    const ivm_module *m = t_load_text(vm, text);
    t_result r = {0};
    r.status = ivm_call(vm, ivm_module_entry(vm, m), 0, NULL, &r.value);
    r.out = t_strndup(vm->out.data ? vm->out.data : "", vm->out.len);
    vm->out.len = 0;
    if (r.status == IVM_ERROR) {
        r.value = vm->error;
        r.message = t_pr(vm, vm->error, false);
        ivm_buf b = {0};
        ivm_format_error(vm, &b);
        r.report = t_strndup(b.data, b.len);
        ivm_buf_free(&b);
    }
    r.pr = t_pr(vm, r.value, true);
    return r;
}

t_result t_run(const char *text) { return t_run_in(t_vm(), text); }

void t_expect(const char *text, const char *pr)
{
    t_result r = t_run(text);
    if (r.status != IVM_OK)
        cr_assert_fail("expected %s, but the program failed: %s\n--- program ---\n%s",
                       pr, r.report ? r.report : "(interrupted)", text);
    cr_assert_str_eq(r.pr, pr, "expected %s, got %s\n--- program ---\n%s", pr,
                     r.pr, text);
}

void t_expect_error(const char *text, const char *message)
{
    t_result r = t_run(text);
    if (r.status != IVM_ERROR)
        cr_assert_fail("expected the error \"%s\", but the program %s %s\n--- program ---\n%s",
                       message, r.status == IVM_OK ? "returned" : "was interrupted",
                       r.pr, text);
    cr_assert_str_eq(r.message, message, "expected the error \"%s\", got \"%s\"\n--- program ---\n%s",
                     message, r.message, text);
}

/* ---- Files ------------------------------------------------------------- */

uint8_t *t_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    uint8_t *data = malloc(cap);
    cr_assert_not_null(data);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            data = realloc(data, cap);
            cr_assert_not_null(data);
        }
        size_t k = fread(data + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0)
            break;
    }
    cr_assert(!ferror(f), "cannot read %s", path);
    fclose(f);
    data[n] = 0;
    if (len)
        *len = n;
    return own(data);
}

void t_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(data, 1, len, f), len, "cannot write %s", path);
    cr_assert_eq(fclose(f), 0, "cannot write %s", path);
}

const char *t_temp_dir(void)
{
    if (!temp_dir || temp_dir_owner != getpid()) {
        need_cleanup();
        const char *tmp = getenv("TMPDIR");
        char *templ = NULL;
        cr_assert(asprintf(&templ, "%s/ivm-test-XXXXXX", tmp && *tmp ? tmp : "/tmp") > 0);
        cr_assert_not_null(mkdtemp(templ), "mkdtemp: %s", strerror(errno));
        temp_dir = templ;
        temp_dir_owner = getpid();
    }
    return temp_dir;
}

char *t_path(const char *dir, const char *name) { return t_fmt("%s/%s", dir, name); }

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t t_examples(char ***paths)
{
    const char *dir = IVM_SOURCE_DIR "/examples";
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    size_t n = 0, cap = 16;
    char **list = own(malloc(cap * sizeof *list));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".ivs") != 0)
            continue;
        if (n == cap)
            cr_assert_fail("more than %zu examples", cap);
        list[n++] = t_path(dir, e->d_name);
    }
    closedir(d);
    qsort(list, n, sizeof *list, compare_strings);
    cr_assert(n > 0, "no examples/*.ivs found");
    *paths = list;
    return n;
}

/* ---- Child processes --------------------------------------------------- */

double t_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void t_proc_start(t_proc *p, const char *const argv[], const char *stdin_path)
{
    memset(p, 0, sizeof *p);
    int out[2], err[2];
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int in = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
            _exit(127);
        /* a clean slate: what the test runner blocked or ignored must not
         * leak into the program under test */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    p->pid = pid;
    p->out_fd = out[0];
    p->err_fd = err[0];
}

static void append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        while (*len + n + 1 > *cap)
            *cap = *cap ? *cap * 2 : 4096;
        *buf = realloc(*buf, *cap);
        cr_assert_not_null(*buf);
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

void t_proc_finish(t_proc *p, double timeout_s)
{
    size_t out_cap = 0, err_cap = 0;
    char *out = NULL, *err = NULL;
    size_t out_len = 0, err_len = 0;
    append(&out, &out_len, &out_cap, "", 0);
    append(&err, &err_len, &err_cap, "", 0);
    double deadline = t_now() + timeout_s;
    bool timed_out = false;
    int fds[2] = {p->out_fd, p->err_fd};
    while (fds[0] >= 0 || fds[1] >= 0) {
        double left = deadline - t_now();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfd[2];
        nfds_t n = 0;
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0)
                pfd[n++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        int r = poll(pfd, n, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        cr_assert(r >= 0, "poll: %s", strerror(errno));
        for (nfds_t k = 0; k < n; k++) {
            if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char chunk[65536];
            ssize_t got = read(pfd[k].fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR)
                continue;
            int i = pfd[k].fd == fds[0] ? 0 : 1;
            if (got <= 0) {
                close(fds[i]);
                fds[i] = -1;
            } else if (i == 0) {
                append(&out, &out_len, &out_cap, chunk, (size_t)got);
            } else {
                append(&err, &err_len, &err_cap, chunk, (size_t)got);
            }
        }
    }
    if (timed_out) {
        kill(p->pid, SIGKILL);
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0)
                close(fds[i]);
    }
    while (waitpid(p->pid, &p->status, 0) < 0)
        cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
    p->out = own(out);
    p->err = own(err);
    p->out_len = out_len;
    p->err_len = err_len;
    p->code = WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -WTERMSIG(p->status);
    if (timed_out)
        cr_assert_fail("the child process took more than %.1f s; stderr so far:\n%s",
                       timeout_s, err);
}

int t_ivm(t_proc *p, const char *stdin_path, ...)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = IVM_BINARY;
    va_list ap;
    va_start(ap, stdin_path);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        cr_assert(n < 63, "too many arguments");
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    t_proc_start(p, argv, stdin_path);
    t_proc_finish(p, 60);
    return p->code;
}

long t_proc_status_kb(pid_t pid, const char *field)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            kb = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

void t_wait_for_handler(pid_t pid, int sig, double timeout_s)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    double deadline = t_now() + timeout_s;
    unsigned long long bit = 1ull << (sig - 1);
    char exe[64], want[4096], got[4096];
    snprintf(exe, sizeof exe, "/proc/%d/exe", (int)pid);
    cr_assert_not_null(realpath(IVM_BINARY, want));
    while (t_now() < deadline) {
        /* until the exec, /proc shows the test's own handlers */
        ssize_t n = readlink(exe, got, sizeof got - 1);
        if (n <= 0 || (got[n] = '\0', strcmp(got, want) != 0)) {
            usleep(2000);
            continue;
        }
        FILE *f = fopen(path, "r");
        if (f) {
            char line[256];
            unsigned long long caught = 0;
            while (fgets(line, sizeof line, f))
                if (strncmp(line, "SigCgt:", 7) == 0)
                    caught = strtoull(line + 7, NULL, 16);
            fclose(f);
            if (caught & bit)
                return;
        }
        usleep(2000);
    }
    cr_assert_fail("process %d did not install a handler for signal %d within %.1f s",
                   (int)pid, sig, timeout_s);
}
