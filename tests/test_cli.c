/* The ivm command line (src/cli/main.c), run as a child process with its
 * stdout, stderr and exit status captured: the examples, --help and
 * --version, usage errors (exit 2), unreadable input (66), unwritable
 * output (73), malformed
 * bytecode and assembly (65, with the byte offset or FILE:LINE:COL),
 * runtime errors (1, with the trace), SIGINT (130), *command-line-args*,
 * asm then run, standard input, large buffered output, and the resident
 * memory of a running program with a 1 GiB heap. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

static const char *example(const char *name) { return t_fmt("%s/examples/%s", IVM_SOURCE_DIR, name); }

/* Writes `text` to a file in the test's directory; returns its path. */
static const char *file_with(const char *name, const char *text)
{
    const char *path = t_path(t_temp_dir(), name);
    t_write_file(path, text, strlen(text));
    return path;
}

static bool starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static const char usage_line[] = "usage: ivm [options] run FILE [ARGS...]";

/* A usage error: status 2, the message, then the usage text. */
static void expect_usage_error(t_proc *p, const char *message)
{
    cr_assert_eq(p->code, 2, "exit status %d; stderr: %s", p->code, p->err);
    const char *first = t_fmt("ivm: %s\n", message);
    cr_assert(starts_with(p->err, first), "stderr:\n%s\nexpected it to start with:\n%s", p->err, first);
    cr_assert_not_null(strstr(p->err, usage_line), "no usage text after the message:\n%s", p->err);
    cr_assert_str_eq(p->out, "");
}

/* ---- The examples ------------------------------------------------------ */

Test(cli, hello)
{
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "run", example("hello.ivs"), NULL), 0, "%s", p.err);
    cr_assert_str_eq(p.out, "Hello, world!\n");
    cr_assert_str_eq(p.err, "");
}

Test(cli, fib)
{
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "run", example("fib.ivs"), NULL), 0, "%s", p.err);
    cr_assert_str_eq(p.out, "832040\n");
    cr_assert_str_eq(p.err, "");
}

Test(cli, count)
{
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "run", example("count.ivs"), NULL), 0, "%s", p.err);
    cr_assert_str_eq(p.out, "4999999950000000\n");
}

Test(cli, heap_and_arena_options)
{
    static const char *const modes[] = {"lazy", "huge", "prefault"};
    for (int i = 0; i < 3; i++) {
        t_proc p;
        int code = t_ivm(&p, NULL, "--arena", modes[i], "--heap", "512M", "run",
                         example("hello.ivs"), NULL);
        cr_assert_eq(code, 0, "--arena %s: %s", modes[i], p.err);
        cr_assert_str_eq(p.out, "Hello, world!\n");
    }
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "--heap", "16M", "run", example("fib.ivs"), NULL), 0, "%s", p.err);
    cr_assert_str_eq(p.out, "832040\n");
}

/* ---- Help, version, usage errors -------------------------------------- */

Test(cli, help_and_version)
{
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "--help", NULL), 0);
    cr_assert(starts_with(p.out, usage_line), "stdout: %s", p.out);
    cr_assert_not_null(strstr(p.out, "--heap SIZE"));
    cr_assert_str_eq(p.err, "");
    cr_assert_eq(t_ivm(&p, NULL, "-h", NULL), 0);
    cr_assert(starts_with(p.out, usage_line));
    cr_assert_eq(t_ivm(&p, NULL, "--version", NULL), 0);
    cr_assert(starts_with(p.out, "ivm ") && strstr(p.out, "(bytecode format 1.0)\n"),
              "stdout: %s", p.out);
    cr_assert_str_eq(p.err, "");
}

Test(cli, usage_errors)
{
    t_proc p;
    t_ivm(&p, NULL, NULL);
    expect_usage_error(&p, "no command given");
    t_ivm(&p, NULL, "frob", "x", NULL);
    expect_usage_error(&p, "unknown command: frob");
    t_ivm(&p, NULL, "--frob", "run", "x.ivs", NULL);
    expect_usage_error(&p, "unknown option: --frob");
    t_ivm(&p, NULL, "run", NULL);
    expect_usage_error(&p, "no input file given");
    t_ivm(&p, NULL, "run", example("hello.ivs"), "-o", "x", NULL);
    cr_assert_eq(p.code, 0, "after FILE, -o is the program's argument: %s", p.err);
    t_ivm(&p, NULL, "run", "-o", "x", example("hello.ivs"), NULL);
    expect_usage_error(&p, "-o is for asm and disasm");
    t_ivm(&p, NULL, "asm", example("hello.ivs"), "-o", NULL);
    expect_usage_error(&p, "-o needs a file name");
    t_ivm(&p, NULL, "asm", "a.ivs", "b.ivs", NULL);
    expect_usage_error(&p, "unexpected argument: b.ivs");
    t_ivm(&p, NULL, "asm", "-", NULL);
    expect_usage_error(&p, "reading standard input needs -o OUT");
    t_ivm(&p, NULL, "--help", "run", NULL);
    expect_usage_error(&p, "unknown option: --help");
}

Test(cli, bad_option_values)
{
    static const char *const bad[] = {"0", "abc", "1X", "1M", "64K", "15M", "1.5G", "-1G", "",
                                      "99999999999999999999", "1048576G"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t_proc p;
        t_ivm(&p, NULL, "--heap", bad[i], "run", example("hello.ivs"), NULL);
        expect_usage_error(&p, t_fmt("bad --heap size: %s", bad[i]));
    }
    t_proc p;
    t_ivm(&p, NULL, "--heap", NULL);
    expect_usage_error(&p, "--heap needs a size, such as 512M or 4G");
    t_ivm(&p, NULL, "--arena", "eager", "run", example("hello.ivs"), NULL);
    expect_usage_error(&p, "bad --arena mode (lazy, huge or prefault): eager");
    static const char *const bad_counts[] = {"0", "abc", "1025", "-1", "", "2x"};
    for (size_t i = 0; i < sizeof bad_counts / sizeof bad_counts[0]; i++) {
        t_ivm(&p, NULL, "--schedulers", bad_counts[i], "run", example("hello.ivs"), NULL);
        expect_usage_error(&p, t_fmt("bad --schedulers count (1 to 1024): %s", bad_counts[i]));
    }
    t_ivm(&p, NULL, "--schedulers", NULL);
    expect_usage_error(&p, "--schedulers needs a number of threads, 1 to 1024");
    t_ivm(&p, NULL, "--gc-stats=1", "run", example("hello.ivs"), NULL);
    expect_usage_error(&p, "unknown option: --gc-stats=1");
    t_ivm(&p, NULL, "--gc=parallel", "run", example("hello.ivs"), NULL);
    expect_usage_error(&p, "bad --gc mode (concurrent or stw): parallel");
    t_ivm(&p, NULL, "--gc", "", "run", example("hello.ivs"), NULL);
    expect_usage_error(&p, "bad --gc mode (concurrent or stw): ");
    t_ivm(&p, NULL, "--gc", NULL);
    expect_usage_error(&p, "--gc needs a mode: concurrent or stw");
    t_ivm(&p, NULL, "-e", NULL);
    expect_usage_error(&p, "-e needs an expression");
}

/* ---- Bad input --------------------------------------------------------- */

Test(cli, unreadable_input)
{
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "run", "/nonexistent/x.ivs", NULL), 66);
    cr_assert_str_eq(p.err, "ivm: /nonexistent/x.ivs: No such file or directory\n");
    cr_assert_str_eq(p.out, "");
    cr_assert_eq(t_ivm(&p, NULL, "disasm", "/nonexistent/x.ivc", NULL), 66);
    cr_assert_str_eq(p.err, "ivm: /nonexistent/x.ivc: No such file or directory\n");
    const char *dir = t_temp_dir();
    cr_assert_eq(t_ivm(&p, NULL, "run", dir, NULL), 66, "a directory: %d %s", p.code, p.err);
    cr_assert_str_eq(p.err, t_fmt("ivm: %s: Is a directory\n", dir));
}

Test(cli, unwritable_output)
{
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "asm", example("hello.ivs"), "-o", "/nonexistent/x.ivc", NULL), 73);
    cr_assert_str_eq(p.err, "ivm: /nonexistent/x.ivc: No such file or directory\n");
    char *ivc = t_path(t_temp_dir(), "unwritable.ivc");
    cr_assert_eq(t_ivm(&p, NULL, "asm", example("hello.ivs"), "-o", ivc, NULL), 0, "%s", p.err);
    cr_assert_eq(t_ivm(&p, NULL, "disasm", ivc, "-o", "/nonexistent/x.ivs", NULL), 73);
    cr_assert_str_eq(p.err, "ivm: /nonexistent/x.ivs: No such file or directory\n");
}

Test(cli, malformed_bytecode)
{
    /* a valid file with its major version raised to 2 and its CRC fixed */
    const char *src = file_with("v.ivs", ".proto main\n  RET r0\n.end\n");
    const char *ivc = t_path(t_temp_dir(), "v.ivc");
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "asm", src, "-o", ivc, NULL), 0, "%s", p.err);
    size_t len;
    uint8_t *d = t_read_file(ivc, &len);
    d[4] = 2;
    uint32_t crc = ivm_crc32(d, len - 4);
    for (int i = 0; i < 4; i++)
        d[len - 4 + i] = (uint8_t)(crc >> (8 * i));
    t_write_file(ivc, d, len);
    cr_assert_eq(t_ivm(&p, NULL, "run", ivc, NULL), 65);
    cr_assert_str_eq(p.err, t_fmt("ivm: %s: byte 4: bytecode format version 2.0 is newer than "
                                  "this ivm supports (1.0)\n", ivc));
    cr_assert_eq(t_ivm(&p, NULL, "disasm", ivc, NULL), 65);
    cr_assert_str_eq(p.out, "");
    /* damaged: the checksum catches it */
    d[4] = 1;
    d[20] ^= 0xff;
    t_write_file(ivc, d, len);
    cr_assert_eq(t_ivm(&p, NULL, "run", ivc, NULL), 65);
    cr_assert_str_eq(p.err, t_fmt("ivm: %s: byte %zu: checksum mismatch: the file is damaged\n",
                                  ivc, len - 4));
    /* truncated */
    t_write_file(ivc, d, 10);
    cr_assert_eq(t_ivm(&p, NULL, "run", ivc, NULL), 65);
    cr_assert_str_eq(p.err, t_fmt("ivm: %s: byte 8: unexpected end of file\n", ivc));
    /* assembly that assembles but does not verify */
    const char *bad = file_with("noverify.ivs", ".proto main\n  TEST r0, 1\n  RET r0\n.end\n");
    cr_assert_eq(t_ivm(&p, NULL, "run", bad, NULL), 65);
    cr_assert(starts_with(p.err, t_fmt("ivm: %s: byte ", bad)) &&
                  strstr(p.err, ": a test instruction must be followed by JMP\n"),
              "stderr: %s", p.err);
    cr_assert_eq(t_ivm(&p, NULL, "asm", bad, "-o", t_path(t_temp_dir(), "nv.ivc"), NULL), 65);
    cr_assert_eq(access(t_path(t_temp_dir(), "nv.ivc"), F_OK), -1, "asm wrote a file it refused");
    /* neither bytecode nor assembly: source, whatever the file is called */
    const char *txt = file_with("prog.clj", "(println 1)\n");
    cr_assert_eq(t_ivm(&p, NULL, "run", txt, NULL), 0, "%s", p.err);
    cr_assert_str_eq(p.out, "1\n");
    const char *unbalanced = file_with("bad.clj", "(println 1\n");
    cr_assert_eq(t_ivm(&p, NULL, "run", unbalanced, NULL), 65);
    cr_assert_str_eq(p.err, t_fmt("ivm: %s:2:1: EOF while reading, starting at line 1 col 1\n",
                                  unbalanced));
    cr_assert_eq(t_ivm(&p, NULL, "disasm", example("hello.ivs"), NULL), 65);
    cr_assert_str_eq(p.err, t_fmt("ivm: %s: not an ivm bytecode file (bad magic number)\n",
                                  example("hello.ivs")));
}

Test(cli, assembly_errors)
{
    const char *path = file_with("bad.ivs", "; a comment\n  .proto main\n    FROB r0\n  .end\n");
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "run", path, NULL), 65);
    cr_assert_str_eq(p.err, t_fmt("ivm: %s:3:5: unknown instruction FROB\n", path));
    cr_assert_str_eq(p.out, "");
    path = file_with("bad2.ivs", ".proto main\n  LOADK r0, \"unterminated\n  RET r0\n.end\n");
    cr_assert_eq(t_ivm(&p, NULL, "asm", path, "-o", t_path(t_temp_dir(), "bad2.ivc"), NULL), 65);
    cr_assert_str_eq(p.err, t_fmt("ivm: %s:2:13: unterminated string\n", path));
    /* columns count characters, not bytes */
    path = file_with("bad3.ivs", ".proto main\n  LOADK r0, \"\xc3\xa9\xc3\xa9\" FROB\n.end\n");
    cr_assert_eq(t_ivm(&p, NULL, "run", path, NULL), 65);
    cr_assert_str_eq(p.err, t_fmt("ivm: %s:2:18: unexpected text at the end of the line\n", path));
}

/* ---- Running programs -------------------------------------------------- */

Test(cli, runtime_error_with_trace)
{
    const char *path = file_with("err.ivs",
                                 ".source \"err.ivs\"\n"
                                 ".proto f params=1\n"
                                 "  .line 3\n"
                                 "  LOADI r1, 0\n"
                                 "  DIV r2, r0, r1\n"
                                 "  RET r2\n"
                                 ".end\n"
                                 ".proto main\n"
                                 "  .line 10\n"
                                 "  GETGLOBAL r0, println\n"
                                 "  LOADK r1, \"before\"\n"
                                 "  CALL r0, 1\n"
                                 "  .line 12\n"
                                 "  CLOSURE r0, f\n"
                                 "  LOADI r1, 1\n"
                                 "  CALL r0, 1\n"
                                 "  RET r0\n"
                                 ".end\n");
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "run", path, NULL), 1, "%s", p.err);
    cr_assert_str_eq(p.out, "before\n", "output before the error is flushed");
    cr_assert_str_eq(p.err, "ivm: error: Divide by zero\n"
                            "  at f (err.ivs:3)\n"
                            "  at main (err.ivs:12)\n");
}

/* -e prints the value: a lazy one is realized then, and an error there is
 * the program's (status 1, nothing of the value printed). */
Test(cli, eval_prints_lazy_values)
{
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "-e", "(take 3 (iterate inc 5))", NULL), 0, "%s", p.err);
    cr_assert_str_eq(p.out, "(5 6 7)\n");
    cr_assert_eq(t_ivm(&p, NULL, "-e", "(println :before) (map #(/ 10 %) (cons 0 (range)))", NULL), 1,
                 "%s", p.err);
    cr_assert_str_eq(p.out, ":before\n");
    cr_assert(starts_with(p.err, "ivm: error: Divide by zero\n"), "stderr: %s", p.err);
}

Test(cli, command_line_args)
{
    const char *path = file_with("args.ivs", ".proto main\n  GETGLOBAL r0, prn\n"
                                             "  GETGLOBAL r1, *command-line-args*\n  CALL r0, 1\n  RET r0\n.end\n");
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "run", path, "a", "b c", "--heap", "-o", "", "\xc3\xa9", NULL), 0,
                 "%s", p.err);
    cr_assert_str_eq(p.out, "[\"a\" \"b c\" \"--heap\" \"-o\" \"\" \"\xc3\xa9\"]\n");
    cr_assert_eq(t_ivm(&p, NULL, "run", path, NULL), 0, "%s", p.err);
    cr_assert_str_eq(p.out, "nil\n");
    cr_assert_eq(t_ivm(&p, NULL, "--heap", "32M", "run", path, "x", NULL), 0, "%s", p.err);
    cr_assert_str_eq(p.out, "[\"x\"]\n");
}

/* Source that reads *command-line-args* compiles ahead of time too. */
Test(cli, compiled_source_reads_command_line_args)
{
    const char *src = file_with("cla.iv", "(prn *command-line-args*)\n");
    const char *ivc = t_path(t_temp_dir(), "cla.ivc");
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "compile", src, "-o", ivc, NULL), 0, "%s", p.err);
    cr_assert_eq(t_ivm(&p, NULL, "run", ivc, "a", "b", NULL), 0, "%s", p.err);
    cr_assert_str_eq(p.out, "[\"a\" \"b\"]\n");
}

/* Reducing and counting long lazy sequences runs in constant memory: the
 * spent head is let go and collections run while they are realized. Each
 * sequence here would fill the 16 MiB heap if it were kept whole. */
Test(cli, long_lazy_sequences_in_a_small_heap, .timeout = 120)
{
    const char *src = file_with("long.iv", "(println (reduce + (take-while #(< % 300000) (iterate inc 0)))\n"
                                           "         (count (take-while #(< % 300000) (iterate inc 0)))\n"
                                           "         (reduce + (map inc (take 300000 (range)))))\n");
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "--heap", "16M", "run", src, NULL), 0, "%s", p.err);
    cr_assert_str_eq(p.out, "44999850000 300000 45000150000\n");
}

/* The prelude's sections are compiled on first use: a .ivc made by one VM
 * that calls iterate and for* finds them defined in another. */
Test(cli, compiled_source_finds_prelude_sections)
{
    const char *src = file_with("lazy.iv", "(prn (take 3 (iterate inc 1)) (for [x [1 2]] x) (condp = 1 1 :a :b))\n");
    const char *ivc = t_path(t_temp_dir(), "lazy.ivc");
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "compile", src, "-o", ivc, NULL), 0, "%s", p.err);
    cr_assert_eq(t_ivm(&p, NULL, "run", ivc, NULL), 0, "%s", p.err);
    cr_assert_str_eq(p.out, "(1 2 3) (1 2) :a\n");
}

Test(cli, asm_then_run)
{
    const char *src = file_with("seven.ivs", ".proto main\n  GETGLOBAL r0, println\n  LOADI r1, 7\n"
                                             "  CALL r0, 1\n  RET r0\n.end\n");
    const char *ivc = t_path(t_temp_dir(), "seven.ivc");
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "asm", src, "-o", ivc, NULL), 0, "%s", p.err);
    cr_assert_str_eq(p.out, "");
    cr_assert_str_eq(p.err, "");
    cr_assert_eq(t_ivm(&p, NULL, "run", ivc, NULL), 0, "%s", p.err);
    cr_assert_str_eq(p.out, "7\n");
    /* bytecode is recognised by its magic number, whatever the name */
    const char *renamed = t_path(t_temp_dir(), "seven.bin");
    size_t len;
    uint8_t *d = t_read_file(ivc, &len);
    t_write_file(renamed, d, len);
    cr_assert_eq(t_ivm(&p, NULL, "run", renamed, NULL), 0, "%s", p.err);
    cr_assert_str_eq(p.out, "7\n");
    /* standard input: bytecode and assembly */
    cr_assert_eq(t_ivm(&p, ivc, "run", "-", NULL), 0, "%s", p.err);
    cr_assert_str_eq(p.out, "7\n");
    cr_assert_eq(t_ivm(&p, src, "run", "-", NULL), 0, "%s", p.err);
    cr_assert_str_eq(p.out, "7\n");
    cr_assert_eq(t_ivm(&p, ivc, "disasm", "-", NULL), 0, "%s", p.err);
    cr_assert_not_null(strstr(p.out, "GETGLOBAL r0, k0"), "%s", p.out);
}

Test(cli, large_output_arrives_whole)
{
    /* 20,000 lines (about 110 KiB): more than the output buffer holds */
    const char *path = file_with("lines.ivs", ".proto main\n  LOADI r0, 0\n  LOADK r1, 20000\nloop:\n"
                                              "  GETGLOBAL r2, println\n  MOVE r3, r0\n  CALL r2, 1\n"
                                              "  ADDI r0, r0, 1\n  LT r0, r1, 1\n  JMP loop\n  RET r0\n.end\n");
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "run", path, NULL), 0, "%s", p.err);
    size_t want = 0;
    for (int i = 0; i < 20000; i++)
        want += (size_t)snprintf(NULL, 0, "%d\n", i);
    cr_assert_eq(p.out_len, want);
    char *q = p.out;
    for (int i = 0; i < 20000; i++) {
        char line[16];
        int n = snprintf(line, sizeof line, "%d\n", i);
        cr_assert(strncmp(q, line, (size_t)n) == 0, "line %d is wrong", i);
        q += n;
    }
}

/* ---- Signals and memory ------------------------------------------------ */

static const char loop_forever[] = ".proto main\nloop:\n  JMP loop\n.end\n";

Test(cli, sigint_interrupts)
{
    const char *path = file_with("forever.ivs", loop_forever);
    const char *argv[] = {IVM_BINARY, "run", path, NULL};
    t_proc p;
    t_proc_start(&p, argv, NULL);
    t_wait_for_handler(p.pid, SIGINT, 20);
    usleep(200 * 1000);
    cr_assert_eq(kill(p.pid, SIGINT), 0);
    t_proc_finish(&p, 20);
    cr_assert_eq(p.code, 130, "exit status %d; stderr: %s", p.code, p.err);
    cr_assert_str_eq(p.err, "ivm: interrupted\n");
    cr_assert_str_eq(p.out, "");
}

/* A program that loops forever after start-up keeps a small resident set,
 * whatever the arena mode, although the heap reserves 1 GiB. */
Test(cli, resident_memory_stays_small)
{
    const char *path = file_with("forever.ivs", loop_forever);
    static const char *const modes[] = {"huge", "lazy", "prefault"};
    for (int i = 0; i < 3; i++) {
        const char *argv[] = {IVM_BINARY, "--arena", modes[i], "run", path, NULL};
        t_proc p;
        t_proc_start(&p, argv, NULL);
        t_wait_for_handler(p.pid, SIGINT, 20);
        usleep(200 * 1000);
        long rss = t_proc_status_kb(p.pid, "VmRSS");
        long hwm = t_proc_status_kb(p.pid, "VmHWM");
        long size = t_proc_status_kb(p.pid, "VmSize");
        kill(p.pid, SIGKILL);
        t_proc_finish(&p, 20);
        cr_assert_eq(p.code, -SIGKILL, "the loop ended by itself (%d): %s", p.code, p.err);
        cr_assert_gt(rss, 0, "no VmRSS read");
        cr_assert_lt(rss, 64 * 1024, "--arena %s: VmRSS %ld kB", modes[i], rss);
        cr_assert_lt(hwm, 64 * 1024, "--arena %s: VmHWM %ld kB", modes[i], hwm);
        cr_assert_gt(size, 1024 * 1024, "--arena %s: VmSize %ld kB: the 1 GiB heap is not reserved",
                     modes[i], size);
    }
}
