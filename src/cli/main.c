/* The ivm command line: run, asm, disasm, and the options they share.
 *
 * Exit statuses (also in the README): 0 success, 1 the program failed,
 * 2 usage error, 65 malformed input file, 66 input file unreadable,
 * 70 internal error, 73 output file cannot be written, 130 interrupted. */
#include "bytecode/asm.h"
#include "bytecode/vm.h"
#include "cli/repl.h"
#include "compiler/compile.h"
#include "compiler/core.h"
#include "process/process.h"
#include "values/vector.h"
#include "ivm/ivc.h"
#include "ivm/platform.h"

#define IVM_VERSION "0.1.0"

enum {
    EXIT_PROGRAM_ERROR = 1,
    EXIT_USAGE = 2,
    EXIT_MALFORMED = 65,
    EXIT_NO_INPUT = 66,
    EXIT_INTERNAL = 70,
    EXIT_CANNOT_CREATE = 73,
    EXIT_INTERRUPTED = 130,
};

static const char usage_text[] =
    "usage: ivm [options] run FILE [ARGS...]   run a program: source (.iv), bytecode\n"
    "                                          (.ivc) or assembly (.ivs)\n"
    "       ivm [options] -e EXPR [ARGS...]    evaluate source text, print its value\n"
    "       ivm [options] compile FILE [-o OUT] compile source into .ivc bytecode\n"
    "       ivm [options] asm FILE [-o OUT]    assemble .ivs text into .ivc bytecode\n"
    "       ivm [options] disasm FILE [-o OUT] print .ivc bytecode as .ivs text\n"
    "       ivm [options] repl                 read, evaluate and print (plain `ivm`\n"
    "                                          on a terminal does the same)\n"
    "       ivm --help | --version\n"
    "\n"
    "FILE may be - for standard input.\n"
    "options:\n"
    "  --heap SIZE   size of the value arena, e.g. 512M, 1G, 4G (default 1G)\n"
    "  --arena MODE  how arena memory is committed: huge (default: ask for\n"
    "                transparent huge pages), lazy (4 KiB pages on first touch)\n"
    "                or prefault (commit each region when the allocator takes it)\n"
    "  --gc=MODE     the collector: concurrent (default: marks beside the\n"
    "                running processes, which stop only to hand over their\n"
    "                roots) or stw (stops every process for each collection)\n"
    "  --gc-stats    at exit, print what the collector did to standard error\n"
    "  --schedulers N  scheduler threads running processes, 1 to 1024\n"
    "                (default: the number of cores)\n"
    "\n"
    "environment:\n"
    "  IVM_GC_VERIFY=1  check the whole heap after every collection\n"
    "  IVM_GC_STRESS=N  collect (at the next safepoint) every N allocations\n";

/* ---- Messages ---------------------------------------------------------- */

static void say(const char *a, const char *b, const char *c)
{
    ivm_buf m = {0};
    ivm_buf_add_cstr(&m, "ivm: ");
    ivm_buf_add_cstr(&m, a);
    if (b)
        ivm_buf_add_cstr(&m, b);
    if (c)
        ivm_buf_add_cstr(&m, c);
    ivm_buf_add_char(&m, '\n');
    ivm_platform_write(IVM_STDERR, m.data, m.len);
    ivm_buf_free(&m);
}

static int usage_error(const char *a, const char *b)
{
    say(a, b, NULL);
    ivm_platform_write(IVM_STDERR, usage_text, sizeof usage_text - 1);
    return EXIT_USAGE;
}

static bool same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = ivm_cstr_len(s), k = ivm_cstr_len(suffix);
    return n >= k && same(s + n - k, suffix);
}

/* ---- Options ----------------------------------------------------------- */

typedef struct options {
    const char *expr; /* -e */
    size_t heap_bytes;
    ivm_arena_mode arena_mode;
    bool gc_stats;
    bool gc_stw; /* --gc=stw */
    uint32_t schedulers; /* 0: the number of cores */
    const char *command;
    const char *file;
    const char *output;
    int nargs; /* program arguments after FILE (run) */
    char **args;
} options;

/* Returns 0, or the exit status of a usage error. */
static int parse_options(int argc, char **argv, options *o)
{
    /* Huge pages halve the run time of allocation-heavy programs for 2 MiB
     * more resident memory at start (bench/run arena). */
    *o = (options){.heap_bytes = IVM_DEFAULT_HEAP_BYTES, .arena_mode = IVM_ARENA_HUGE};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((o->file && same(o->command, "run")) || (o->expr && !o->command)) {
            /* the program's own args */
            o->args = argv + i;
            o->nargs = argc - i;
            break;
        }
        if (same(a, "--heap")) {
            if (i + 1 >= argc)
                return usage_error("--heap needs a size, such as 512M or 4G", NULL);
            if (!ivm_arena_parse_size(argv[++i], &o->heap_bytes))
                return usage_error("bad --heap size: ", argv[i]);
        } else if (same(a, "--schedulers")) {
            if (i + 1 >= argc)
                return usage_error("--schedulers needs a number of threads, 1 to 1024", NULL);
            const char *n = argv[++i];
            uint32_t v = 0;
            for (const char *c = n; *c >= '0' && *c <= '9' && v <= 1024; c++)
                v = v * 10 + (uint32_t)(*c - '0');
            size_t digits = 0;
            while (n[digits] >= '0' && n[digits] <= '9')
                digits++;
            if (digits == 0 || n[digits] != '\0' || v < 1 || v > 1024)
                return usage_error("bad --schedulers count (1 to 1024): ", n);
            o->schedulers = v;
        } else if (same(a, "--gc-stats")) {
            o->gc_stats = true;
        } else if (same(a, "--gc") || (a[0] == '-' && a[1] == '-' && a[2] == 'g' && a[3] == 'c' &&
                                       a[4] == '=')) {
            const char *m = a[4] == '=' ? a + 5 : NULL;
            if (!m && i + 1 >= argc)
                return usage_error("--gc needs a mode: concurrent or stw", NULL);
            if (!m)
                m = argv[++i];
            if (same(m, "stw") || same(m, "concurrent"))
                o->gc_stw = same(m, "stw");
            else
                return usage_error("bad --gc mode (concurrent or stw): ", m);
        } else if (same(a, "--arena")) {
            if (i + 1 >= argc)
                return usage_error("--arena needs a mode: lazy, huge or prefault", NULL);
            const char *m = argv[++i];
            if (same(m, "lazy"))
                o->arena_mode = IVM_ARENA_LAZY;
            else if (same(m, "huge"))
                o->arena_mode = IVM_ARENA_HUGE;
            else if (same(m, "prefault"))
                o->arena_mode = IVM_ARENA_PREFAULT;
            else
                return usage_error("bad --arena mode (lazy, huge or prefault): ", m);
        } else if (same(a, "-e")) {
            if (o->command || o->expr)
                return usage_error("-e takes the place of a command", NULL);
            if (i + 1 >= argc)
                return usage_error("-e needs an expression", NULL);
            o->expr = argv[++i];
        } else if (same(a, "-o")) {
            if (!o->command || same(o->command, "run"))
                return usage_error("-o is for asm and disasm", NULL);
            if (i + 1 >= argc)
                return usage_error("-o needs a file name", NULL);
            o->output = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option: ", a);
        } else if (!o->command) {
            if (!same(a, "run") && !same(a, "asm") && !same(a, "disasm") && !same(a, "compile") &&
                !same(a, "repl"))
                return usage_error("unknown command: ", a);
            o->command = a;
        } else if (!o->file && !same(o->command, "repl")) {
            o->file = a;
        } else {
            return usage_error("unexpected argument: ", a);
        }
    }
    if (o->expr || (o->command && same(o->command, "repl")))
        return o->file ? usage_error("repl takes no file: ", o->file) : 0;
    if (!o->command)
        return usage_error("no command given", NULL);
    if (!o->file)
        return usage_error("no input file given", NULL);
    return 0;
}

/* ---- Reading programs -------------------------------------------------- */

static bool is_bytecode(const uint8_t *data, size_t len)
{
    return len >= IVC_MAGIC_LEN && memcmp(data, IVC_MAGIC, IVC_MAGIC_LEN) == 0;
}

/* Text on standard input is assembly when it starts (after blanks and ;
 * comments) with a directive such as .proto; source never does. */
static bool looks_like_assembly(const char *text, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (text[i] == ';')
            while (i < len && text[i] != '\n')
                i++;
        else if (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')
            i++;
        else
            return text[i] == '.';
    }
    return false;
}

/* Assembles (.ivs) or compiles (anything else) text into .ivc bytes. */
static int translate(ivm_vm *vm, const char *text, size_t len, const char *name,
                     bool assembly, ivm_buf *ivc)
{
    ivm_buf err = {0};
    bool ok = assembly ? ivm_assemble(vm, text, len, name, ivc, &err)
                       : ivm_compile(vm, text, len, name, ivc, &err);
    if (!ok)
        say(err.data, NULL, NULL);
    ivm_buf_free(&err);
    return ok ? 0 : EXIT_MALFORMED;
}

/* Reads FILE and turns it into .ivc bytes in *ivc: bytecode as it is,
 * .ivs text assembled, other text compiled as source. Returns 0 or an
 * exit status, having said why. */
static int read_program(ivm_vm *vm, const char *file, bool must_be_bytecode,
                        ivm_buf *ivc)
{
    uint8_t *data;
    size_t len;
    const char *why;
    if (!ivm_platform_read_file(file, &data, &len, &why)) {
        say(file, ": ", why);
        return EXIT_NO_INPUT;
    }
    int status = 0;
    if (is_bytecode(data, len)) {
        ivm_buf_add(ivc, data, len);
    } else if (must_be_bytecode) {
        say(file, ": not an ivm bytecode file (bad magic number)", NULL);
        status = EXIT_MALFORMED;
    } else {
        bool assembly = ends_with(file, ".ivs") ||
                        (same(file, "-") && looks_like_assembly((const char *)data, len));
        status = translate(vm, (const char *)data, len, file, assembly, ivc);
    }
    ivm_platform_free(data);
    return status;
}

static int load(ivm_vm *vm, const char *file, const ivm_buf *ivc,
                const ivm_module **module)
{
    ivm_load_error err;
    if (ivm_load(vm, (const uint8_t *)ivc->data, ivc->len, module, &err))
        return 0;
    ivm_buf m = {0};
    ivm_buf_add_cstr(&m, file);
    ivm_buf_add_cstr(&m, ": byte ");
    ivm_buf_add_int(&m, (int64_t)err.offset);
    ivm_buf_add_cstr(&m, ": ");
    ivm_buf_add_cstr(&m, err.message);
    say(m.data, NULL, NULL);
    ivm_buf_free(&m);
    return EXIT_MALFORMED;
}

/* ---- Commands ---------------------------------------------------------- */

static ivm_vm *crashing_vm;

/* Tells the crash handler which bytecode function was running. */
static void describe_crash(void *context, char *buf, size_t size)
{
    (void)context;
    ivm_vm *vm = crashing_vm;
    if (!vm || vm->nframes == 0 || size < 2)
        return;
    ivm_frame *f = &vm->frames[vm->nframes - 1];
    ivm_proto *p = ivm_as_proto(ivm_function_proto(f->closure));
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, "function ");
    if (p->name)
        ivm_print(&vm->heap, &b, p->name, false);
    else
        ivm_buf_add_cstr(&b, "fn");
    ivm_buf_add_cstr(&b, ", near pc ");
    ivm_buf_add_int(&b, f->pc);
    size_t n = b.len < size - 1 ? b.len : size - 1;
    memcpy(buf, b.data, n);
    buf[n] = '\0';
    ivm_buf_free(&b);
}

/* *command-line-args*: a vector of strings, or nil when there are none. */
static void bind_args(ivm_vm *vm, const options *o)
{
    ivm_value args = IVM_NIL;
    if (o->nargs) {
        args = ivm_vec_empty(&vm->heap);
        for (int i = 0; i < o->nargs; i++)
            args = ivm_vec_conj(&vm->heap, args,
                                ivm_string(&vm->heap, o->args[i], ivm_cstr_len(o->args[i])));
    }
    ivm_global_set(vm, "*command-line-args*", args);
}

/* Runs a module's entry; with `print`, prints its value unless nil. */
static int run_module(ivm_vm *vm, const ivm_module *module, bool print)
{
    crashing_vm = vm;
    ivm_platform_set_crash_describer(describe_crash, NULL);
    ivm_value result;
    ivm_status st = ivm_sched_run_main(ivm_sched_of(vm), ivm_module_entry(vm, module), &result);
    if (st == IVM_OK && print && result != IVM_NIL && (st = ivm_vm_print(vm, result, true)) == IVM_OK)
        ivm_vm_write(vm, "\n", 1);
    ivm_vm_flush(vm);
    if (st == IVM_INTERRUPTED) {
        say("interrupted", NULL, NULL);
        return EXIT_INTERRUPTED;
    }
    if (st == IVM_ERROR) {
        ivm_buf m = {0};
        ivm_format_error(vm, &m);
        ivm_platform_write(IVM_STDERR, m.data, m.len);
        ivm_buf_free(&m);
        return EXIT_PROGRAM_ERROR;
    }
    return 0;
}

static int run_command(ivm_vm *vm, const options *o)
{
    ivm_buf ivc = {0};
    const ivm_module *module;
    int status = read_program(vm, o->file, false, &ivc);
    if (!status)
        status = load(vm, o->file, &ivc, &module);
    ivm_buf_free(&ivc);
    return status ? status : run_module(vm, module, false);
}

static int eval_command(ivm_vm *vm, const options *o)
{
    ivm_buf ivc = {0};
    const ivm_module *module;
    int status = translate(vm, o->expr, ivm_cstr_len(o->expr), "-e", false, &ivc);
    if (!status)
        status = load(vm, "-e", &ivc, &module);
    ivm_buf_free(&ivc);
    return status ? status : run_module(vm, module, true);
}

static int write_output(const char *file, const ivm_buf *b)
{
    const char *why;
    if (ivm_platform_write_file(file, b->data ? b->data : "", b->len, &why))
        return 0;
    say(file, ": ", why);
    return EXIT_CANNOT_CREATE;
}

/* The default output of `asm x.ivs` (`compile x.iv`) is x.ivc beside it. */
static char *default_ivc_name(const char *file)
{
    size_t n = ivm_cstr_len(file);
    if (ends_with(file, ".ivs"))
        n -= 4;
    else if (ends_with(file, ".iv"))
        n -= 3;
    char *name = ivm_platform_malloc(n + 5);
    if (!name)
        ivm_platform_exit(EXIT_INTERNAL);
    memcpy(name, file, n);
    memcpy(name + n, ".ivc", 5);
    return name;
}

/* asm and compile: text to .ivc, verified before it is written. */
static int translate_command(ivm_vm *vm, const options *o)
{
    if (same(o->file, "-") && !o->output)
        return usage_error("reading standard input needs -o OUT", NULL);
    uint8_t *data;
    size_t len;
    const char *why;
    if (!ivm_platform_read_file(o->file, &data, &len, &why)) {
        say(o->file, ": ", why);
        return EXIT_NO_INPUT;
    }
    ivm_buf ivc = {0};
    const ivm_module *module;
    int status = translate(vm, (const char *)data, len, o->file, same(o->command, "asm"), &ivc);
    ivm_platform_free(data);
    if (!status) /* verify what was assembled before writing it out */
        status = load(vm, o->file, &ivc, &module);
    if (!status) {
        char *name = o->output ? NULL : default_ivc_name(o->file);
        status = write_output(o->output ? o->output : name, &ivc);
        ivm_platform_free(name);
    }
    ivm_buf_free(&ivc);
    return status;
}

static int disasm_command(ivm_vm *vm, const options *o)
{
    ivm_buf ivc = {0}, text = {0};
    const ivm_module *module;
    int status = read_program(vm, o->file, true, &ivc);
    if (!status)
        status = load(vm, o->file, &ivc, &module);
    if (!status) {
        ivm_disassemble(module, &text);
        status = write_output(o->output ? o->output : "-", &text);
    }
    ivm_buf_free(&ivc);
    ivm_buf_free(&text);
    return status;
}

static void report_gc(void *context, int status)
{
    (void)status;
    ivm_vm *vm = context;
    ivm_vm_flush(vm);
    ivm_collector_stop(vm->rt); /* its figures stay still */
    ivm_buf b = {0};
    ivm_gc_report(&vm->rt->gc, &b);
    ivm_platform_write(IVM_STDERR, b.data, b.len);
    ivm_buf_free(&b);
}

/* IVM_GC_VERIFY and IVM_GC_STRESS; 0, or a usage error's exit status. */
static int gc_debug_from_environment(ivm_vm *vm)
{
    const char *verify = ivm_platform_getenv("IVM_GC_VERIFY");
    const char *stress = ivm_platform_getenv("IVM_GC_STRESS");
    bool on = verify && verify[0] && !same(verify, "0");
    uint64_t every = 0;
    if (stress && stress[0]) {
        for (const char *p = stress; *p; p++) {
            if (*p < '0' || *p > '9' || every > UINT32_MAX / 10) {
                say("IVM_GC_STRESS must be a number of allocations from 1 to 4294967295, not: ",
                    stress, NULL);
                return EXIT_USAGE;
            }
            every = every * 10 + (uint64_t)(*p - '0');
        }
        if (every == 0 || every > UINT32_MAX) {
            say("IVM_GC_STRESS must be a number of allocations from 1 to 4294967295, not: ",
                stress, NULL);
            return EXIT_USAGE;
        }
    }
    if (on || every)
        ivm_vm_gc_debug(vm, on, (uint32_t)every);
    return 0;
}

int main(int argc, char **argv)
{
    ivm_platform_install_crash_handler();
    ivm_platform_install_interrupt_handler();
    if (argc == 2 && (same(argv[1], "--help") || same(argv[1], "-h"))) {
        ivm_platform_write(IVM_STDOUT, usage_text, sizeof usage_text - 1);
        return 0;
    }
    if (argc == 2 && same(argv[1], "--version")) {
        static const char v[] = "ivm " IVM_VERSION " (bytecode format 1.0)\n";
        ivm_platform_write(IVM_STDOUT, v, sizeof v - 1);
        return 0;
    }
    options o;
    int status;
    if (argc == 1 && ivm_platform_is_terminal(IVM_STDIN))
        o = (options){.command = "repl", .heap_bytes = IVM_DEFAULT_HEAP_BYTES,
                      .arena_mode = IVM_ARENA_HUGE};
    else if ((status = parse_options(argc, argv, &o)) != 0)
        return status;
    ivm_vm vm;
    if (!ivm_vm_init(&vm, o.heap_bytes, o.arena_mode)) {
        say("cannot reserve the heap; try a smaller --heap", NULL, NULL);
        return EXIT_INTERNAL;
    }
    if ((status = gc_debug_from_environment(&vm)) != 0)
        ivm_platform_exit(status); /* as below: the OS reclaims the VM */
    if (o.gc_stats)
        ivm_platform_set_exit_hook(report_gc, &vm);
    ivm_core_install(&vm);
    ivm_compiler_install(&vm);
    static ivm_sched sched;
    uint32_t schedulers = o.schedulers ? o.schedulers : ivm_platform_cpu_count();
    if (!ivm_sched_init(&sched, &vm, schedulers < 1 ? 1 : schedulers) ||
        (!o.gc_stw && !ivm_collector_start(vm.rt))) {
        say("cannot start the scheduler", NULL, NULL);
        return EXIT_INTERNAL;
    }
    bind_args(&vm, &o); /* every command: compile must resolve the name too */
    if (o.expr)
        status = eval_command(&vm, &o);
    else if (same(o.command, "repl"))
        status = ivm_repl(&vm);
    else if (same(o.command, "run"))
        status = run_command(&vm, &o);
    else if (same(o.command, "disasm"))
        status = disasm_command(&vm, &o);
    else
        status = translate_command(&vm, &o);
    /* Exit without tearing the VM down: the OS reclaims it all at once. */
    ivm_platform_exit(status);
}
