/* Mutation fuzzing of the loader, verifier, disassembler and interpreter:
 * the .ivc of every example takes 10,000 random single-byte mutations (half
 * with the CRC and length field recomputed, so they reach the verifier)
 * and 1,000 random truncations (half with the length field and CRC fixed
 * up), from a fixed seed. Every case is loaded in this process (a crash
 * names the case on stderr); to keep the suite fast only the cases that
 * load go on, each in a forked child through the C API with a 16 MiB heap:
 * load again, disassemble and reassemble (the bytes must come back
 * identical), then run the entry with a soft deadline (SIGINT after 4 ms,
 * which the VM must honour at a safepoint) and a hard one (SIGALRM after
 * 2 s). A child must end with status 0 (ran), 1 (runtime error or heap
 * exhausted) or 130 (interrupted); hard timeouts are tolerated but
 * counted; anything else (a signal, an assertion, a round-trip mismatch, a
 * refusal of what loaded in the parent) fails the test.
 *
 * A second test does the same with 2,000 random programs built from
 * random instructions with small operands (tests always followed by a JMP),
 * so that much of what the verifier lets through is odd but runnable code:
 * calls of non-functions, closures over random registers and captures,
 * variadic callees, loops, recursion through globals. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ivm/ivc.h"
#include "ivm/opcodes.h"
#include "ivm/platform.h"
#include "support.h"

#define MUTATIONS 10000
#define TRUNCATIONS 1000
#define IN_FLIGHT 4
#define TICK_US 4000     /* 4 ms: the soft deadline */
#define HARD_TICKS 500   /* 2 s */

enum {
    CHILD_RAN = 0,
    CHILD_ERROR = 1,
    CHILD_DISASM_FAILED = 3,   /* the disassembly does not assemble */
    CHILD_DISASM_MISMATCH = 4, /* it assembles to other bytes */
    CHILD_REFUSED = 65,        /* not expected: the parent loaded it */
    CHILD_INTERRUPTED = 130,
};

static volatile sig_atomic_t ticks;

static void on_tick(int sig)
{
    (void)sig;
    if (++ticks == 1) {
        kill(getpid(), SIGINT); /* the VM's handler sets its flag */
    } else if (ticks >= HARD_TICKS) {
        signal(SIGALRM, SIG_DFL);
        raise(SIGALRM);
    }
}

static _Noreturn void child(const uint8_t *d, size_t len)
{
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
        dup2(null, 1);
        dup2(null, 2);
    }
    ivm_vm vm;
    if (!ivm_vm_init(&vm, (size_t)16 << 20, IVM_ARENA_LAZY))
        _exit(70);
    ivm_load_error e;
    const ivm_module *m;
    if (!ivm_load(&vm, d, len, &m, &e))
        _exit(CHILD_REFUSED);
    /* the disassembly of anything that loads reassembles to the same bytes */
    ivm_buf text = {0}, again = {0}, err = {0};
    ivm_disassemble(m, &text);
    if (!ivm_assemble(&vm, text.data, text.len, "mutant.ivs", &again, &err))
        _exit(CHILD_DISASM_FAILED);
    if (again.len != len || memcmp(again.data, d, len) != 0)
        _exit(CHILD_DISASM_MISMATCH);
    ivm_platform_install_interrupt_handler();
    struct sigaction sa = {.sa_handler = on_tick};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, TICK_US}, {0, TICK_US}};
    setitimer(ITIMER_REAL, &it, NULL);
    ivm_value result;
    ivm_status st = ivm_call(&vm, ivm_module_entry(&vm, m), 0, NULL, &result);
    _exit(st == IVM_OK ? CHILD_RAN : st == IVM_ERROR ? CHILD_ERROR : CHILD_INTERRUPTED);
}

/* ---- Cases ------------------------------------------------------------- */

typedef struct fuzz_case {
    const char *example;
    int index;
    const char *what; /* "mutation" or "truncation" */
    size_t offset;    /* mutated byte, or new length */
    uint8_t from, to;
    bool fixed; /* length and CRC recomputed */
} fuzz_case;

typedef struct stats {
    unsigned ran, error, refused, interrupted, hard_timeouts, failures;
} stats;

static void put32(uint8_t *d, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        d[at + i] = (uint8_t)(v >> (8 * i));
}

static void fix(uint8_t *d, size_t len)
{
    put32(d, 12, (uint32_t)len);
    put32(d, len - 4, ivm_crc32(d, len - 4));
}

static uint64_t rng = 0x2545f4914f6cdd1du;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* The case being loaded in this process, named if the loader crashes. */
static char current_case[256];

static void say_current_case(void)
{
    static const char intro[] = "\nfuzz: crashed in this process on ";
    if (write(2, intro, sizeof intro - 1) < 0 || write(2, current_case, strlen(current_case)) < 0 ||
        write(2, "\n", 1) < 0)
        return;
}

static void on_crash(int sig)
{
    say_current_case();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* AddressSanitizer calls this before its report. */
void __asan_on_error(void);
void __asan_on_error(void) { say_current_case(); }

typedef struct slot {
    pid_t pid;
    fuzz_case c;
} slot;

static void describe(const fuzz_case *c, char *buf, size_t size)
{
    if (c->what[0] == 'p')
        snprintf(buf, size, "random program %d (seed %#llx)", c->index, (unsigned long long)c->offset);
    else if (c->what[0] == 'm')
        snprintf(buf, size, "%s, mutation %d: byte %zu %02x -> %02x%s", c->example, c->index,
                 c->offset, c->from, c->to, c->fixed ? " (length and CRC fixed)" : "");
    else
        snprintf(buf, size, "%s, truncation %d: %zu bytes%s", c->example, c->index, c->offset,
                 c->fixed ? " (length and CRC fixed)" : "");
}

static void classify(int status, const fuzz_case *c, stats *st)
{
    if (WIFEXITED(status)) {
        switch (WEXITSTATUS(status)) {
        case CHILD_RAN: st->ran++; return;
        case CHILD_ERROR: st->error++; return;
        case CHILD_INTERRUPTED: st->interrupted++; return;
        default: break;
        }
    } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
        st->hard_timeouts++;
        return;
    }
    if (st->failures++ >= 20)
        return;
    char what[200];
    describe(c, what, sizeof what);
    if (WIFSIGNALED(status))
        cr_log_error("%s: killed by signal %d (%s)", what, WTERMSIG(status),
                     strsignal(WTERMSIG(status)));
    else
        cr_log_error("%s: exit status %d%s", what, WEXITSTATUS(status),
                     WEXITSTATUS(status) == CHILD_DISASM_FAILED ? " (its disassembly does not assemble)"
                     : WEXITSTATUS(status) == CHILD_DISASM_MISMATCH ? " (its disassembly reassembles to other bytes)"
                     : "");
}

/* Waits for any child and records how it ended; returns its slot. */
static slot *reap_one(slot *slots, stats *st)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, 0)) < 0)
        cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
    for (int i = 0; i < IN_FLIGHT; i++)
        if (slots[i].pid == pid) {
            classify(status, &slots[i].c, st);
            slots[i].pid = 0;
            return &slots[i];
        }
    cr_assert_fail("waitpid returned an unknown child %d", (int)pid);
    return NULL;
}

/* Runs one case in a child, keeping at most IN_FLIGHT children running. */
static void launch(slot *slots, stats *st, const fuzz_case *c, const uint8_t *d, size_t len)
{
    slot *s = NULL;
    for (int i = 0; i < IN_FLIGHT && !s; i++)
        if (!slots[i].pid)
            s = &slots[i];
    if (!s)
        s = reap_one(slots, st);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0)
        child(d, len);
    s->pid = pid;
    s->c = *c;
}

static bool any_running(const slot *slots)
{
    for (int i = 0; i < IN_FLIGHT; i++)
        if (slots[i].pid)
            return true;
    return false;
}

Test(fuzz, mutated_examples_never_crash, .timeout = 280)
{
    char **paths;
    size_t n = t_examples(&paths);
    uint8_t *ivc[16];
    size_t len[16];
    cr_assert_leq(n, 16);
    for (size_t i = 0; i < n; i++) {
        size_t tlen;
        const char *text = (const char *)t_read_file(paths[i], &tlen);
        ivm_buf b = {0}, err = {0};
        cr_assert(ivm_assemble(t_vm(), text, tlen, paths[i], &b, &err), "%s: %s", paths[i], err.data);
        ivc[i] = (uint8_t *)t_strndup(b.data, b.len);
        len[i] = b.len;
        ivm_buf_free(&b);
        ivm_buf_free(&err);
    }
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        signal(fatal[i], on_crash);
    slot slots[IN_FLIGHT] = {{0}};
    stats st = {0};
    uint8_t *d = malloc(65536);
    cr_assert_not_null(d);
    double start = t_now();
    for (int k = 0; k < MUTATIONS + TRUNCATIONS; k++) {
        size_t e = (size_t)k % n;
        cr_assert_lt(len[e], 65536);
        memcpy(d, ivc[e], len[e]);
        fuzz_case c = {.example = paths[e], .index = k, .fixed = next() & 1};
        size_t dlen = len[e];
        if (k < MUTATIONS) {
            c.what = "mutation";
            c.offset = (size_t)(next() % len[e]);
            c.from = d[c.offset];
            c.to = (uint8_t)(c.from ^ (1 + next() % 255));
            d[c.offset] = c.to;
            if (c.fixed)
                fix(d, dlen);
        } else {
            c.what = "truncation";
            c.index = k - MUTATIONS;
            dlen = (size_t)(next() % len[e]);
            c.offset = dlen;
            if (c.fixed && dlen >= 20)
                fix(d, dlen);
            else
                c.fixed = false;
        }
        describe(&c, current_case, sizeof current_case);
        if (k % 500 == 0)
            t_vm_reset(); /* what refused files left in the heap */
        ivm_load_error le;
        const ivm_module *m;
        if (!ivm_load(t_vm(), d, dlen, &m, &le)) {
            cr_assert_leq(le.offset, dlen, "%s: error offset %zu past the end", current_case, le.offset);
            cr_assert_neq(le.message[0], '\0', "%s: no message", current_case);
            st.refused++;
            continue;
        }
        launch(slots, &st, &c, d, dlen);
    }
    current_case[0] = '\0';
    while (any_running(slots))
        reap_one(slots, &st);
    free(d);
    double took = t_now() - start;
    cr_log_info("%d cases in %.1f s: %u ran, %u runtime errors, %u refused, %u interrupted "
                "at the soft deadline, %u hard timeouts, %u failures",
                MUTATIONS + TRUNCATIONS, took, st.ran, st.error, st.refused, st.interrupted,
                st.hard_timeouts, st.failures);
    cr_assert_eq(st.failures, 0, "%u cases crashed or misbehaved (the first are listed above)",
                 st.failures);
    /* the fuzzing reached every stage */
    cr_assert_gt(st.refused, 1000);
    cr_assert_gt(st.ran + st.error + st.interrupted, 100);
    cr_assert_eq(st.ran + st.error + st.refused + st.interrupted + st.hard_timeouts,
                 MUTATIONS + TRUNCATIONS);
}

/* ---- Random programs --------------------------------------------------- */

typedef struct bytes {
    uint8_t d[4096];
    size_t n;
} bytes;

static void b8(bytes *b, uint8_t v) { b->d[b->n++] = v; }
static void b32(bytes *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b8(b, (uint8_t)(v >> (8 * i)));
}
static void b64(bytes *b, uint64_t v) { b32(b, (uint32_t)v), b32(b, (uint32_t)(v >> 32)); }
static void bstr(bytes *b, const char *s)
{
    b32(b, (uint32_t)strlen(s));
    for (; *s; s++)
        b8(b, (uint8_t)*s);
}

static uint64_t prng;
static uint32_t pick(uint32_t n)
{
    prng ^= prng << 13;
    prng ^= prng >> 7;
    prng ^= prng << 17;
    return (uint32_t)(prng % n);
}

static bool is_test_op(unsigned op)
{
    return (op >= IVM_OP_EQ && op <= IVM_OP_GEI) || op == IVM_OP_TEST || op == IVM_OP_LOOPLT;
}

/* What a function offers its random instructions. */
typedef struct shape {
    uint32_t nconsts;
    uint32_t symbol;  /* index of a symbol constant */
    int proto;        /* index of a prototype constant, or -1 */
    uint32_t ncaps;
} shape;

/* One operand of `kind`, nearly always in range. */
static uint32_t operand(const shape *f, ivm_operand_kind kind, uint32_t a)
{
    bool wild = pick(50) == 0;
    switch (kind) {
    case IVM_OPK_R: return pick(wild ? 10 : 8);
    case IVM_OPK_N: return wild || a >= 8 ? pick(9) : pick(8 - a);
    case IVM_OPK_K: return pick(f->nconsts + wild);
    case IVM_OPK_G: return wild ? pick(f->nconsts + 1) : f->symbol;
    case IVM_OPK_P: return wild || f->proto < 0 ? pick(f->nconsts + 1) : (uint32_t)f->proto;
    case IVM_OPK_C: return wild || !f->ncaps ? pick(3) : pick(f->ncaps);
    case IVM_OPK_I: return (uint8_t)(int8_t)(pick(9) - 4);
    case IVM_OPK_k: return pick(wild ? 3 : 2);
    default: return wild ? pick(2) : 0;
    }
}

static uint32_t random_instruction(const shape *f, uint32_t pc, uint32_t ncode)
{
    unsigned op;
    do /* no CLOSURE without a prototype, no GETCAP without captures */
        op = pick(IVM_OP_COUNT);
    while ((op == IVM_OP_CLOSURE && f->proto < 0) || (op == IVM_OP_GETCAP && !f->ncaps));
    const ivm_op_info *info = &ivm_op_table[op];
    uint32_t a = operand(f, info->a, 0);
    if (op == IVM_OP_MULTIFN) { /* closures in R[B..B+C-1] */
        uint32_t first = pick(8);
        return IVM_ENCODE_ABC(op, a, first, 1 + pick(8 - first));
    }
    if (info->b == IVM_OPK_J) /* TRY: a handler somewhere in the function */
        return IVM_ENCODE_ASBX(op, a, (int)pick(ncode) - (int)pc - 1);
    switch (info->format) {
    case IVM_FMT_ABC:
        return IVM_ENCODE_ABC(op, a, operand(f, info->b, a) & 0xff, operand(f, info->c, a) & 0xff);
    case IVM_FMT_ABX:
        return IVM_ENCODE_ABX(op, a, operand(f, info->b, a));
    case IVM_FMT_ASBX:
        return IVM_ENCODE_ASBX(op, a, (int)pick(2001) - 1000);
    default: /* a jump somewhere in the function */
        return IVM_ENCODE_SJ(op, (int)pick(ncode) - (int)pc - 1);
    }
}

/* `prologue` instructions, then `body` random ones (a test takes its
 * JMP along), then a RET or TAILCALL. */
static void random_code(bytes *b, const shape *f, const uint32_t *prologue, uint32_t nprologue,
                        uint32_t body)
{
    uint32_t code[64];
    uint32_t n = 0;
    for (; n < nprologue; n++)
        code[n] = prologue[n];
    while (n < nprologue + body) {
        uint32_t ins = random_instruction(f, n, nprologue + body);
        code[n++] = ins;
        if (is_test_op(IVM_GET_OP(ins))) { /* skip nothing, or the next instruction */
            code[n] = IVM_ENCODE_SJ(IVM_OP_JMP, n + 1 < nprologue + body ? (int)pick(2) : 0);
            n++;
        }
    }
    code[n++] = pick(4) ? IVM_ENCODE_ABC(IVM_OP_RET, pick(8), 0, 0)
                        : IVM_ENCODE_ABC(IVM_OP_TAILCALL, pick(4), pick(3), 0);
    b32(b, n);
    for (uint32_t i = 0; i < n; i++)
        b32(b, code[i]);
    b32(b, 1), b32(b, 0), b32(b, 7); /* line table: line 7 from pc 0 */
}

/* A file of two prototypes: a callee (random shape, captures and code)
 * and the entry, which can make closures of it and call globals. */
static size_t random_program(bytes *b)
{
    static const char *const globals[] = {"g", "list", "cons", "first", "+", "println", "str", "="};
    b->n = 0;
    for (const char *m = IVC_MAGIC; *m; m++)
        b8(b, (uint8_t)*m);
    b8(b, 1), b8(b, 0), b8(b, 0), b8(b, 0);
    b32(b, 0), b32(b, 0);
    bstr(b, "random.ivs");
    b32(b, 2), b32(b, 1);
    /* proto 0 */
    uint8_t nparams = (uint8_t)pick(3), variadic = (uint8_t)pick(2);
    b8(b, (uint8_t)(IVC_PROTO_NAMED | (variadic ? IVC_PROTO_VARIADIC : 0)));
    bstr(b, "callee");
    b8(b, nparams), b8(b, 8);
    uint8_t ncaps = (uint8_t)pick(3);
    b8(b, ncaps);
    for (int i = 0; i < ncaps; i++) /* the entry's registers */
        b8(b, 0), b8(b, (uint8_t)pick(8));
    b32(b, 3);
    b8(b, IVC_INT), b64(b, (uint64_t)(int64_t)((int)pick(11) - 5));
    b8(b, IVC_SYMBOL), bstr(b, globals[pick(8)]);
    b8(b, IVC_FLOAT), b64(b, 0x3ff8000000000000u); /* 1.5 */
    shape callee = {.nconsts = 3, .symbol = 1, .proto = -1, .ncaps = ncaps};
    random_code(b, &callee, NULL, 0, 2 + pick(8));
    /* proto 1: the entry */
    b8(b, IVC_PROTO_NAMED);
    bstr(b, "main");
    b8(b, 0), b8(b, 8), b8(b, 0);
    b32(b, 6);
    b8(b, IVC_PROTO), b32(b, 0);
    b8(b, IVC_SYMBOL), bstr(b, globals[pick(8)]);
    b8(b, IVC_SYMBOL), bstr(b, "g");
    b8(b, IVC_INT), b64(b, (uint64_t)INT64_MAX - pick(3));
    b8(b, IVC_STRING), bstr(b, "s");
    b8(b, IVC_LIST), b32(b, 2), b8(b, IVC_INT), b64(b, 1), b8(b, IVC_NIL);
    shape entry = {.nconsts = 6, .symbol = 1 + pick(2), .proto = 0, .ncaps = 0};
    const uint32_t prologue[] = {
        IVM_ENCODE_ASBX(IVM_OP_LOADI, 0, (int)pick(21) - 10),
        IVM_ENCODE_ASBX(IVM_OP_LOADI, 1, (int)pick(21) - 10),
        IVM_ENCODE_ABX(IVM_OP_LOADK, 2, 3),
        IVM_ENCODE_ABX(IVM_OP_CLOSURE, 3, 0),
        IVM_ENCODE_ABX(IVM_OP_SETGLOBAL, 3, 2), /* g: the callee */
        IVM_ENCODE_ABX(IVM_OP_GETGLOBAL, 4, 1),
        IVM_ENCODE_ABX(IVM_OP_LOADK, 5, 5),
        IVM_ENCODE_ABX(IVM_OP_LOADK, 6, 4),
        IVM_ENCODE_ASBX(IVM_OP_LOADI, 7, (int)pick(5)),
    };
    random_code(b, &entry, prologue, sizeof prologue / sizeof prologue[0], 4 + pick(12));
    b32(b, 0); /* the CRC, set by fix() */
    fix(b->d, b->n);
    return b->n;
}

Test(fuzz, random_programs_never_crash, .timeout = 280)
{
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        signal(fatal[i], on_crash);
    slot slots[IN_FLIGHT] = {{0}};
    stats st = {0};
    bytes b;
    enum { PROGRAMS = 2000 };
    for (int k = 0; k < PROGRAMS; k++) {
        uint64_t seed = 0x9e3779b97f4a7c15u * (uint64_t)(k + 1);
        fuzz_case c = {.example = "", .index = k, .what = "program", .offset = (size_t)seed};
        describe(&c, current_case, sizeof current_case);
        prng = seed;
        size_t len = random_program(&b);
        if (k % 500 == 0)
            t_vm_reset();
        ivm_load_error le;
        const ivm_module *m;
        if (!ivm_load(t_vm(), b.d, len, &m, &le)) {
            st.refused++;
            continue;
        }
        launch(slots, &st, &c, b.d, len);
    }
    current_case[0] = '\0';
    while (any_running(slots))
        reap_one(slots, &st);
    cr_log_info("%d random programs: %u ran, %u runtime errors, %u refused, %u interrupted at "
                "the soft deadline, %u hard timeouts, %u failures",
                PROGRAMS, st.ran, st.error, st.refused, st.interrupted, st.hard_timeouts, st.failures);
    cr_assert_eq(st.failures, 0, "%u programs crashed or misbehaved (the first are listed above)",
                 st.failures);
    cr_assert_gt(st.ran + st.error + st.interrupted, 1000, "too few programs got past the verifier");
}
