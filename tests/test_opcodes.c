/* The instruction set (include/ivm/opcodes.h), one opcode at a time,
 * through the whole path: assemble, load (verify), ivm_call. Every opcode
 * is covered with its edge cases: int64 overflow, the 62-bit fixnum
 * boundary, mixed int/float arithmetic, exact and inexact DIV, division by
 * zero, Clojure's quot/rem/mod signs, tests with k = 0 and 1, closures over
 * registers and captures, variadic functions, arity errors, calling
 * non-functions, unbound globals, constant-space tail calls, clean stack
 * overflow, natives and their output, error traces, and interrupts. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ivm/opcodes.h"
#include "ivm/platform.h"
#include "support.h"

#define MAIN(body) ".proto main\n" body ".end\n"

/* Runs `OP r0, r1, r2` on the two literals. */
static t_result binop(const char *op, const char *x, const char *y)
{
    return t_run(t_fmt(".proto main\n  LOADK r1, %s\n  LOADK r2, %s\n  %s r0, r1, r2\n  RET r0\n.end\n",
                       x, y, op));
}

static void expect_binop(const char *op, const char *x, const char *y, const char *want)
{
    t_result r = binop(op, x, y);
    cr_assert_eq(r.status, IVM_OK, "%s %s %s failed: %s", op, x, y, r.message);
    cr_assert_str_eq(r.pr, want, "%s %s %s gave %s, not %s", op, x, y, r.pr, want);
}

static void expect_binop_error(const char *op, const char *x, const char *y, const char *message)
{
    t_result r = binop(op, x, y);
    cr_assert_eq(r.status, IVM_ERROR, "%s %s %s returned %s instead of failing", op, x, y, r.pr);
    cr_assert_str_eq(r.message, message, "%s %s %s: error \"%s\", not \"%s\"", op, x, y,
                     r.message, message);
}

/* Runs `setup`, then `test` and its JMP: "taken" or "skipped". */
static const char *branch(const char *setup, const char *test)
{
    t_result r = t_run(t_fmt(".proto main regs=16\n%s\n  %s\n  JMP yes\n"
                             "  LOADK r15, \"skipped\"\n  RET r15\n"
                             "yes:\n  LOADK r15, \"taken\"\n  RET r15\n.end\n",
                             setup, test));
    cr_assert_eq(r.status, IVM_OK, "%s after %s failed: %s", test, setup, r.message);
    return t_pr(t_vm(), r.value, false);
}

static void expect_branch(const char *setup, const char *test, const char *want)
{
    const char *got = branch(setup, test);
    cr_assert_str_eq(got, want, "%s after {%s}: the jump was %s, expected %s", test, setup,
                     got, want);
}

static void expect_branch_error(const char *setup, const char *test, const char *message)
{
    t_result r = t_run(t_fmt(".proto main regs=16\n%s\n  %s\n  JMP yes\n  LOADNIL r15, 0\n"
                             "yes:\n  RET r15\n.end\n", setup, test));
    cr_assert_eq(r.status, IVM_ERROR, "%s after {%s} did not fail", test, setup);
    cr_assert_str_eq(r.message, message);
}

/* The instruction set this file covers, test by test. A new opcode makes
 * this fail until it has tests here. */
Test(opcodes, every_opcode_has_tests)
{
    static const char *const covered[] = {
        "MOVE", "LOADK", "LOADI", "LOADNIL", "LOADTRUE", "LOADFALSE", "GETGLOBAL",
        "SETGLOBAL", "GETCAP", "CLOSURE", "ADD", "SUB", "MUL", "DIV", "QUOT", "REM", "MOD",
        "ADDI", "NEG", "NOT", "EQ", "LT", "LE", "EQI", "LTI", "LEI", "GTI", "GEI", "TEST",
        "LOOPLT", "JMP", "CALL", "TAILCALL", "RET", "MULTIFN", "TRY", "ENDTRY", "THROW",
        "SELF", "VECTOR",
    };
    size_t n = sizeof covered / sizeof covered[0];
    for (int op = 0; op < IVM_OP_COUNT; op++) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(covered[i], ivm_op_table[op].name) == 0;
        cr_assert(found, "opcode %s has no tests in test_opcodes.c", ivm_op_table[op].name);
    }
    cr_assert_eq((size_t)IVM_OP_COUNT, n, "an opcode listed here no longer exists");
}

/* ---- Loads and moves --------------------------------------------------- */

Test(opcodes, move)
{
    t_expect(MAIN("  LOADI r1, 5\n  MOVE r0, r1\n  LOADI r1, 6\n  RET r0\n"), "5");
    t_expect(MAIN("  LOADK r3, \"s\"\n  MOVE r0, r3\n  RET r0\n"), "\"s\"");
}

Test(opcodes, loadk_every_constant_kind)
{
    t_expect(MAIN("  LOADK r0, 9223372036854775807\n  RET r0\n"), "9223372036854775807");
    t_expect(MAIN("  LOADK r0, -9223372036854775808\n  RET r0\n"), "-9223372036854775808");
    t_expect(MAIN("  LOADK r0, 4611686018427387904\n  RET r0\n"), "4611686018427387904");
    t_expect(MAIN("  LOADK r0, 0x7fff\n  RET r0\n"), "32767");
    t_expect(MAIN("  LOADK r0, 2.5\n  RET r0\n"), "2.5");
    t_expect(MAIN("  LOADK r0, -0.0\n  RET r0\n"), "-0.0");
    t_expect(MAIN("  LOADK r0, 1e300\n  RET r0\n"), "1.0E300");
    t_expect(MAIN("  LOADK r0, ##Inf\n  RET r0\n"), "##Inf");
    t_expect(MAIN("  LOADK r0, ##-Inf\n  RET r0\n"), "##-Inf");
    t_expect(MAIN("  LOADK r0, ##NaN\n  RET r0\n"), "##NaN");
    t_expect(MAIN("  LOADK r0, \"a\\n\\\"b\\u00e9\"\n  RET r0\n"), "\"a\\n\\\"b\xc3\xa9\"");
    t_expect(MAIN("  LOADK r0, :kw\n  RET r0\n"), ":kw");
    t_expect(MAIN("  LOADK r0, :ns/kw\n  RET r0\n"), ":ns/kw");
    t_expect(MAIN("  LOADK r0, 'sym\n  RET r0\n"), "sym");
    t_expect(MAIN("  LOADK r0, nil\n  RET r0\n"), "nil");
    t_expect(MAIN("  LOADK r0, true\n  RET r0\n"), "true");
    t_expect(MAIN("  LOADK r0, false\n  RET r0\n"), "false");
    t_expect(MAIN("  LOADK r0, \\c\n  RET r0\n"), "\\c");
    t_expect(MAIN("  LOADK r0, \\newline\n  RET r0\n"), "\\newline");
    t_expect(MAIN("  LOADK r0, #char 233\n  RET r0\n"), "\\\xc3\xa9");
    t_expect(MAIN("  LOADK r0, #bytes \"00ff\"\n  RET r0\n"), "#ivm/bytes \"00ff\"");
    t_expect(MAIN("  LOADK r0, ()\n  RET r0\n"), "()");
    t_expect(MAIN("  LOADK r0, (1 2.5 \"s\" :k 's \\c nil true false () (1 (2)))\n  RET r0\n"),
             "(1 2.5 \"s\" :k s \\c nil true false () (1 (2)))");
    t_expect(".proto f\n  RET r0\n.end\n" MAIN("  LOADK r0, #proto f\n  RET r0\n"),
             "#prototype[f]");
    /* an explicit constant by index */
    t_expect(".proto main\n  .const 77\n  .const \"x\"\n  LOADK r0, k1\n  RET r0\n.end\n", "\"x\"");
}

Test(opcodes, loadi_extremes)
{
    t_expect(MAIN("  LOADI r0, 32767\n  RET r0\n"), "32767");
    t_expect(MAIN("  LOADI r0, -32768\n  RET r0\n"), "-32768");
    t_expect(MAIN("  LOADI r0, 0\n  RET r0\n"), "0");
    t_expect(MAIN("  LOADI r0, -1\n  RET r0\n"), "-1");
}

Test(opcodes, loadnil_loadtrue_loadfalse)
{
    /* LOADNIL rA, B clears B + 1 registers and no more */
    t_expect(MAIN("  GETGLOBAL r0, list\n  LOADI r1, 1\n  LOADI r2, 2\n  LOADI r3, 3\n"
                  "  LOADI r4, 4\n  LOADNIL r1, 1\n  CALL r0, 4\n  RET r0\n"),
             "(nil nil 3 4)");
    t_expect(MAIN("  GETGLOBAL r0, list\n  LOADI r1, 1\n  LOADI r2, 2\n  LOADNIL r2, 0\n"
                  "  CALL r0, 2\n  RET r0\n"),
             "(1 nil)");
    t_expect(MAIN("  LOADTRUE r0\n  RET r0\n"), "true");
    t_expect(MAIN("  LOADFALSE r0\n  RET r0\n"), "false");
}

/* ---- Globals ----------------------------------------------------------- */

Test(opcodes, setglobal_getglobal)
{
    t_expect(MAIN("  LOADI r0, 7\n  SETGLOBAL r0, my-var\n  LOADNIL r0, 0\n"
                  "  GETGLOBAL r1, my-var\n  RET r1\n"),
             "7");
    /* globals are shared by modules loaded into the same VM */
    t_expect(MAIN("  LOADK r0, \"kept\"\n  SETGLOBAL r0, shared\n  RET r0\n"), "\"kept\"");
    t_expect(MAIN("  GETGLOBAL r0, shared\n  RET r0\n"), "\"kept\"");
    /* a native's global can be redefined */
    t_expect(MAIN("  LOADI r0, 1\n  SETGLOBAL r0, inc\n  GETGLOBAL r1, inc\n  RET r1\n"), "1");
    /* natives are bound from the start */
    t_expect(MAIN("  GETGLOBAL r0, println\n  RET r0\n"), "#function[println]");
}

/* Hundreds of globals: past the initial sizes of the global table and its
 * index, each keeps its own value. */
Test(opcodes, many_globals)
{
    ivm_buf b = {0};
    char line[96];
    ivm_buf_add_cstr(&b, ".proto main regs=3\n");
    for (int i = 0; i < 700; i++) {
        snprintf(line, sizeof line, "  LOADK r0, %d\n  SETGLOBAL r0, global-%d\n", i * 3, i);
        ivm_buf_add_cstr(&b, line);
    }
    ivm_buf_add_cstr(&b, "  LOADI r1, 0\n");
    for (int i = 0; i < 700; i++) {
        snprintf(line, sizeof line, "  GETGLOBAL r0, global-%d\n  ADD r1, r1, r0\n", i);
        ivm_buf_add_cstr(&b, line);
    }
    ivm_buf_add_cstr(&b, "  RET r1\n.end\n");
    char *text = t_strndup(b.data, b.len);
    ivm_buf_free(&b);
    t_expect(text, "733950"); /* 3 * (0 + 1 + ... + 699) */
    /* a second module sees the same globals */
    t_expect(MAIN("  GETGLOBAL r0, global-699\n  RET r0\n"), "2097");
}

Test(opcodes, unbound_global)
{
    t_result r = t_run(MAIN("  GETGLOBAL r0, no-such-thing\n  RET r0\n"));
    cr_assert_eq(r.status, IVM_ERROR);
    cr_assert_str_eq(r.message, "unbound global: no-such-thing");
    /* SETGLOBAL of another name does not bind this one */
    r = t_run(MAIN("  LOADI r0, 1\n  SETGLOBAL r0, bound-one\n  GETGLOBAL r0, unbound-one\n  RET r0\n"));
    cr_assert_eq(r.status, IVM_ERROR);
    cr_assert_str_eq(r.message, "unbound global: unbound-one");
}

/* ---- Closures ---------------------------------------------------------- */

/* main (r0 = 10, r1 = 20) makes `middle` over its r0 and r1; middle(5)
 * makes `inner` over its capture 0, capture 1 and register 0 (5). */
static const char nested_closures[] =
    ".proto inner\n"
    "  .capture cap 0\n"
    "  .capture cap 1\n"
    "  .capture reg 0\n"
    "  GETGLOBAL r0, list\n"
    "  GETCAP r1, 0\n"
    "  GETCAP r2, 1\n"
    "  GETCAP r3, 2\n"
    "  CALL r0, 3\n"
    "  RET r0\n"
    ".end\n"
    ".proto middle params=1\n"
    "  .capture reg 0\n"
    "  .capture reg 1\n"
    "  CLOSURE r1, inner\n"
    "  RET r1\n"
    ".end\n"
    ".proto main\n"
    "  LOADI r0, 10\n"
    "  LOADI r1, 20\n"
    "  CLOSURE r2, middle\n"
    "  LOADI r0, 11\n" /* captures are copies: middle keeps 10 */
    "  LOADI r3, 5\n"
    "  CALL r2, 1\n"
    "  CALL r2, 0\n"
    "  RET r2\n"
    ".end\n";

Test(opcodes, closure_and_getcap)
{
    t_expect(nested_closures, "(10 20 5)");
    t_expect(".proto f\n  RET r0\n.end\n" MAIN("  CLOSURE r0, f\n  RET r0\n"), "#function[f]");
    t_expect(".proto f anonymous\n  RET r0\n.end\n" MAIN("  CLOSURE r0, f\n  RET r0\n"),
             "#function[fn]");
    t_expect(".proto f name=\"my f\"\n  RET r0\n.end\n" MAIN("  CLOSURE r0, f\n  RET r0\n"),
             "#function[my f]");
}

Test(opcodes, closures_made_in_a_loop_keep_their_own_values)
{
    /* three closures over i = 0, 1, 2, called afterwards */
    t_expect(".proto get\n  .capture reg 1\n  GETCAP r0, 0\n  RET r0\n.end\n"
             ".proto main regs=12\n"
             "  LOADI r1, 0\n"
             "  CLOSURE r2, get\n"
             "  LOADI r1, 1\n"
             "  CLOSURE r3, get\n"
             "  LOADI r1, 2\n"
             "  CLOSURE r4, get\n"
             "  MOVE r6, r2\n  CALL r6, 0\n"
             "  MOVE r7, r3\n  CALL r7, 0\n"
             "  MOVE r8, r4\n  CALL r8, 0\n"
             "  GETGLOBAL r5, list\n  CALL r5, 3\n  RET r5\n.end\n",
             "(0 1 2)");
}

/* ---- Arithmetic -------------------------------------------------------- */

Test(opcodes, add)
{
    expect_binop("ADD", "1", "2", "3");
    expect_binop("ADD", "-5", "3", "-2");
    expect_binop("ADD", "4611686018427387903", "1", "4611686018427387904");
    expect_binop("ADD", "-4611686018427387904", "-1", "-4611686018427387905");
    expect_binop("ADD", "4611686018427387904", "-4611686018427387904", "0");
    expect_binop("ADD", "9223372036854775807", "-1", "9223372036854775806");
    expect_binop("ADD", "9223372036854775806", "1", "9223372036854775807");
    expect_binop("ADD", "-4611686018427387904", "-4611686018427387904", "-9223372036854775808");
    expect_binop_error("ADD", "9223372036854775807", "1", "integer overflow");
    expect_binop_error("ADD", "-9223372036854775808", "-1", "integer overflow");
    expect_binop_error("ADD", "4611686018427387904", "4611686018427387904", "integer overflow");
    expect_binop("ADD", "1", "1.5", "2.5");
    expect_binop("ADD", "1.5", "1", "2.5");
    expect_binop("ADD", "0.1", "0.2", "0.30000000000000004");
    expect_binop("ADD", "1e300", "1e300", "2.0E300");
    expect_binop("ADD", "1e308", "1e308", "##Inf");
    expect_binop("ADD", "9223372036854775807", "0.5", "9.223372036854776E18");
    expect_binop("ADD", "-0.0", "-0.0", "-0.0");
    expect_binop_error("ADD", "\"a\"", "1", "the operands of + must be numbers, got string: \"a\"");
    expect_binop_error("ADD", "1", "nil", "the operands of + must be numbers, got nil: nil");
}

Test(opcodes, sub)
{
    expect_binop("SUB", "5", "7", "-2");
    expect_binop("SUB", "-4611686018427387904", "1", "-4611686018427387905");
    expect_binop("SUB", "4611686018427387904", "1", "4611686018427387903");
    expect_binop("SUB", "-9223372036854775807", "1", "-9223372036854775808");
    expect_binop_error("SUB", "-9223372036854775808", "1", "integer overflow");
    expect_binop_error("SUB", "9223372036854775807", "-1", "integer overflow");
    expect_binop_error("SUB", "0", "-9223372036854775808", "integer overflow");
    expect_binop("SUB", "1.5", "2", "-0.5");
    expect_binop("SUB", "2", "0.5", "1.5");
    expect_binop("SUB", "0.0", "0.0", "0.0");
    expect_binop_error("SUB", ":a", "1", "the operands of - must be numbers, got keyword: :a");
}

Test(opcodes, mul)
{
    expect_binop("MUL", "6", "7", "42");
    expect_binop("MUL", "-6", "7", "-42");
    expect_binop("MUL", "0", "-9223372036854775808", "0");
    expect_binop("MUL", "2147483648", "2147483648", "4611686018427387904");
    expect_binop("MUL", "-2147483648", "2147483648", "-4611686018427387904");
    expect_binop("MUL", "3037000499", "3037000499", "9223372030926249001");
    expect_binop("MUL", "-1", "9223372036854775807", "-9223372036854775807");
    expect_binop("MUL", "4611686018427387904", "-2", "-9223372036854775808");
    expect_binop_error("MUL", "3037000500", "3037000500", "integer overflow");
    expect_binop_error("MUL", "-9223372036854775808", "-1", "integer overflow");
    expect_binop_error("MUL", "4294967296", "4294967296", "integer overflow");
    expect_binop_error("MUL", "4611686018427387904", "2", "integer overflow");
    expect_binop("MUL", "2.5", "2", "5.0");
    expect_binop("MUL", "1e200", "1e200", "##Inf");
    expect_binop("MUL", "0", "-1.0", "-0.0");
    expect_binop_error("MUL", "2", "\"x\"", "the operands of * must be numbers, got string: \"x\"");
}

Test(opcodes, div)
{
    expect_binop("DIV", "6", "3", "2");
    expect_binop("DIV", "-6", "3", "-2");
    expect_binop("DIV", "0", "5", "0");
    expect_binop("DIV", "7", "2", "3.5");
    expect_binop("DIV", "-7", "2", "-3.5");
    expect_binop("DIV", "1", "3", "0.3333333333333333");
    expect_binop("DIV", "6.0", "3", "2.0");
    expect_binop("DIV", "9223372036854775807", "-1", "-9223372036854775807");
    expect_binop("DIV", "-9223372036854775808", "1", "-9223372036854775808");
    expect_binop("DIV", "-9223372036854775808", "2", "-4611686018427387904");
    expect_binop("DIV", "9223372036854775807", "2", "4.611686018427388E18");
    expect_binop_error("DIV", "-9223372036854775808", "-1", "integer overflow");
    expect_binop_error("DIV", "1", "0", "Divide by zero");
    expect_binop_error("DIV", "0", "0", "Divide by zero");
    expect_binop("DIV", "1.0", "0", "##Inf");
    expect_binop("DIV", "-1", "0.0", "##-Inf");
    expect_binop("DIV", "0.0", "0", "##NaN");
    expect_binop_error("DIV", "1", "true", "the operands of / must be numbers, got boolean: true");
}

Test(opcodes, quot)
{
    expect_binop("QUOT", "7", "2", "3");
    expect_binop("QUOT", "-7", "2", "-3");
    expect_binop("QUOT", "7", "-2", "-3");
    expect_binop("QUOT", "-7", "-2", "3");
    expect_binop("QUOT", "9223372036854775807", "10", "922337203685477580");
    expect_binop("QUOT", "-9223372036854775808", "1", "-9223372036854775808");
    expect_binop_error("QUOT", "-9223372036854775808", "-1", "integer overflow");
    expect_binop_error("QUOT", "1", "0", "Divide by zero");
    expect_binop("QUOT", "7.5", "2", "3.0");
    expect_binop("QUOT", "-7.5", "2", "-3.0");
    expect_binop_error("QUOT", "1.0", "0.0", "Divide by zero");
    expect_binop_error("QUOT", "1", "0.0", "Divide by zero");
}

Test(opcodes, rem)
{
    expect_binop("REM", "7", "2", "1");
    expect_binop("REM", "-7", "2", "-1");
    expect_binop("REM", "7", "-2", "1");
    expect_binop("REM", "-7", "-2", "-1");
    expect_binop("REM", "6", "3", "0");
    expect_binop("REM", "4611686018427387903", "10", "3");
    expect_binop("REM", "9223372036854775807", "10", "7");
    expect_binop("REM", "-9223372036854775808", "10", "-8");
    expect_binop("REM", "-9223372036854775808", "-1", "0");
    expect_binop_error("REM", "1", "0", "Divide by zero");
    expect_binop("REM", "7.5", "2", "1.5");
    expect_binop("REM", "-7.5", "2", "-1.5");
    expect_binop_error("REM", "5", "0.0", "Divide by zero");
}

Test(opcodes, mod)
{
    expect_binop("MOD", "-7", "2", "1");
    expect_binop("MOD", "7", "-2", "-1");
    expect_binop("MOD", "-7", "-2", "-1");
    expect_binop("MOD", "7", "2", "1");
    expect_binop("MOD", "-6", "2", "0");
    expect_binop("MOD", "6", "-3", "0");
    expect_binop("MOD", "-9223372036854775808", "-1", "0");
    expect_binop("MOD", "-9223372036854775808", "9223372036854775807", "9223372036854775806");
    expect_binop("MOD", "-1", "9223372036854775807", "9223372036854775806");
    expect_binop_error("MOD", "1", "0", "Divide by zero");
    expect_binop("MOD", "-7.5", "2", "0.5");
    expect_binop("MOD", "7.5", "-2", "-0.5");
    expect_binop_error("MOD", "1.0", "0", "Divide by zero");
}

Test(opcodes, addi)
{
    t_expect(MAIN("  LOADI r1, 5\n  ADDI r0, r1, 127\n  RET r0\n"), "132");
    t_expect(MAIN("  LOADI r1, 5\n  ADDI r0, r1, -128\n  RET r0\n"), "-123");
    t_expect(MAIN("  LOADK r1, 4611686018427387903\n  ADDI r0, r1, 1\n  RET r0\n"),
             "4611686018427387904");
    t_expect(MAIN("  LOADK r1, 4611686018427387904\n  ADDI r0, r1, -1\n  RET r0\n"),
             "4611686018427387903");
    t_expect(MAIN("  LOADK r1, -4611686018427387904\n  ADDI r0, r1, -1\n  RET r0\n"),
             "-4611686018427387905");
    t_expect(MAIN("  LOADK r1, 1.5\n  ADDI r0, r1, 1\n  RET r0\n"), "2.5");
    t_expect_error(MAIN("  LOADK r1, 9223372036854775807\n  ADDI r0, r1, 1\n  RET r0\n"),
                   "integer overflow");
    t_expect_error(MAIN("  LOADK r1, -9223372036854775808\n  ADDI r0, r1, -1\n  RET r0\n"),
                   "integer overflow");
    t_expect_error(MAIN("  LOADK r1, \"a\"\n  ADDI r0, r1, 1\n  RET r0\n"),
                   "the operands of + must be numbers, got string: \"a\"");
}

Test(opcodes, neg)
{
    t_expect(MAIN("  LOADI r1, 5\n  NEG r0, r1\n  RET r0\n"), "-5");
    t_expect(MAIN("  LOADI r1, -5\n  NEG r0, r1\n  RET r0\n"), "5");
    t_expect(MAIN("  LOADI r1, 0\n  NEG r0, r1\n  RET r0\n"), "0");
    t_expect(MAIN("  LOADK r1, -4611686018427387904\n  NEG r0, r1\n  RET r0\n"),
             "4611686018427387904");
    t_expect(MAIN("  LOADK r1, 9223372036854775807\n  NEG r0, r1\n  RET r0\n"),
             "-9223372036854775807");
    t_expect_error(MAIN("  LOADK r1, -9223372036854775808\n  NEG r0, r1\n  RET r0\n"),
                   "integer overflow");
    t_expect(MAIN("  LOADK r1, 1.5\n  NEG r0, r1\n  RET r0\n"), "-1.5");
    t_expect(MAIN("  LOADK r1, 0.0\n  NEG r0, r1\n  RET r0\n"), "-0.0");
    t_expect(MAIN("  LOADK r1, -0.0\n  NEG r0, r1\n  RET r0\n"), "0.0");
    t_expect(MAIN("  LOADK r1, ##Inf\n  NEG r0, r1\n  RET r0\n"), "##-Inf");
    t_expect(MAIN("  LOADK r1, 1e300\n  NEG r0, r1\n  RET r0\n"), "-1.0E300");
    t_expect_error(MAIN("  LOADK r1, \"x\"\n  NEG r0, r1\n  RET r0\n"),
                   "the operand of - must be a number, got string: \"x\"");
}

Test(opcodes, not)
{
    t_expect(MAIN("  LOADNIL r1, 0\n  NOT r0, r1\n  RET r0\n"), "true");
    t_expect(MAIN("  LOADFALSE r1\n  NOT r0, r1\n  RET r0\n"), "true");
    t_expect(MAIN("  LOADTRUE r1\n  NOT r0, r1\n  RET r0\n"), "false");
    t_expect(MAIN("  LOADI r1, 0\n  NOT r0, r1\n  RET r0\n"), "false");
    t_expect(MAIN("  LOADK r1, ()\n  NOT r0, r1\n  RET r0\n"), "false");
    t_expect(MAIN("  LOADK r1, \"\"\n  NOT r0, r1\n  RET r0\n"), "false");
}

/* Results that fit 63 bits are fixnums again, whatever produced them. */
Test(opcodes, fixnum_boundary_results_are_normalised)
{
    static const char *const programs[] = {
        MAIN("  LOADK r1, 4611686018427387904\n  ADDI r0, r1, -1\n  RET r0\n"),
        MAIN("  LOADK r1, 4611686018427387904\n  LOADK r2, 4611686018427387903\n  SUB r0, r1, r2\n  RET r0\n"),
        MAIN("  LOADK r1, 9223372036854775807\n  LOADI r2, 0\n  MUL r0, r1, r2\n  RET r0\n"),
        MAIN("  LOADK r1, 4611686018427387904\n  NEG r0, r1\n  RET r0\n"),
        MAIN("  LOADK r1, 9223372036854775806\n  LOADI r2, 2\n  DIV r0, r1, r2\n  RET r0\n"),
        MAIN("  LOADK r1, 9223372036854775807\n  LOADI r2, 3\n  QUOT r0, r1, r2\n  RET r0\n"),
        MAIN("  LOADK r1, 9223372036854775807\n  LOADI r2, 10\n  REM r0, r1, r2\n  RET r0\n"),
        MAIN("  LOADK r1, -9223372036854775808\n  LOADI r2, 10\n  MOD r0, r1, r2\n  RET r0\n"),
    };
    static const int64_t want[] = {
        4611686018427387903, 1, 0, -4611686018427387904, 4611686018427387903,
        3074457345618258602, 7, 2,
    };
    for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
        t_result r = t_run(programs[i]);
        cr_assert_eq(r.status, IVM_OK, "program %zu: %s", i, r.message);
        cr_assert(ivm_is_fixnum(r.value), "program %zu: %s is boxed", i, r.pr);
        cr_assert_eq(ivm_int_value(r.value), want[i], "program %zu gave %s", i, r.pr);
    }
    /* and EQI, which compares words, sees them */
    expect_branch("  LOADK r1, 4611686018427387904\n  LOADK r2, 4611686018427387903\n  SUB r0, r1, r2",
                  "EQI r0, 1, 1", "taken");
}

Test(opcodes, doubling_across_the_fixnum_boundary)
{
    /* r0 doubles 62 times: 2^62, one past the largest fixnum */
    static const char doubling[] =
        ".proto main\n"
        "  LOADI r0, 1\n"
        "  LOADI r1, 0\n"
        "loop:\n"
        "  ADD r0, r0, r0\n"
        "  ADDI r1, r1, 1\n"
        "  LTI r1, %d, 1\n"
        "  JMP loop\n"
        "  RET r0\n"
        ".end\n";
    t_expect(t_fmt(doubling, 61), "2305843009213693952");
    t_expect(t_fmt(doubling, 62), "4611686018427387904");
    t_expect_error(t_fmt(doubling, 63), "integer overflow");
    /* and back down through it by subtraction */
    t_expect(".proto main\n"
             "  LOADK r0, 4611686018427387910\n"
             "  LOADI r1, 0\n"
             "loop:\n"
             "  ADDI r0, r0, -1\n"
             "  ADDI r1, r1, 1\n"
             "  LTI r1, 20, 1\n"
             "  JMP loop\n"
             "  RET r0\n"
             ".end\n",
             "4611686018427387890");
}

/* ---- Tests and jumps --------------------------------------------------- */

Test(opcodes, eq)
{
    expect_branch("  LOADI r0, 1\n  LOADI r1, 1", "EQ r0, r1, 1", "taken");
    expect_branch("  LOADI r0, 1\n  LOADI r1, 1", "EQ r0, r1, 0", "skipped");
    expect_branch("  LOADI r0, 1\n  LOADI r1, 2", "EQ r0, r1, 0", "taken");
    expect_branch("  LOADI r0, 1\n  LOADI r1, 2", "EQ r0, r1, 1", "skipped");
    expect_branch("  LOADI r0, 1\n  LOADK r1, 1.0", "EQ r0, r1, 1", "skipped");
    expect_branch("  LOADK r0, 0.0\n  LOADK r1, -0.0", "EQ r0, r1, 1", "taken");
    expect_branch("  LOADK r0, ##NaN\n  MOVE r1, r0", "EQ r0, r1, 1", "skipped");
    expect_branch("  LOADK r0, \"ab\"\n  LOADK r1, \"ab\"", "EQ r0, r1, 1", "taken");
    expect_branch("  LOADK r0, \"ab\"\n  LOADK r1, 'ab", "EQ r0, r1, 1", "skipped");
    expect_branch("  LOADK r0, :a\n  LOADK r1, :a", "EQ r0, r1, 1", "taken");
    expect_branch("  LOADNIL r0, 0\n  LOADFALSE r1", "EQ r0, r1, 1", "skipped");
    expect_branch("  LOADNIL r0, 0\n  LOADK r1, ()", "EQ r0, r1, 1", "skipped");
    /* two separately made boxes of the same integer */
    expect_branch("  LOADK r0, 9223372036854775807\n  LOADK r1, 9223372036854775806\n"
                  "  ADDI r1, r1, 1",
                  "EQ r0, r1, 1", "taken");
    /* a constant list and one built at run time */
    expect_branch("  LOADK r0, (1 (2 \"x\"))\n  GETGLOBAL r3, list\n  LOADI r4, 2\n"
                  "  LOADK r5, \"x\"\n  CALL r3, 2\n  GETGLOBAL r1, list\n  LOADI r2, 1\n"
                  "  CALL r1, 2",
                  "EQ r0, r1, 1", "taken");
}

Test(opcodes, lt_le)
{
    expect_branch("  LOADI r0, 1\n  LOADI r1, 2", "LT r0, r1, 1", "taken");
    expect_branch("  LOADI r0, 2\n  LOADI r1, 1", "LT r0, r1, 1", "skipped");
    expect_branch("  LOADI r0, 2\n  LOADI r1, 1", "LT r0, r1, 0", "taken");
    expect_branch("  LOADI r0, 1\n  LOADI r1, 1", "LT r0, r1, 1", "skipped");
    expect_branch("  LOADI r0, 1\n  LOADI r1, 1", "LE r0, r1, 1", "taken");
    expect_branch("  LOADI r0, 2\n  LOADI r1, 1", "LE r0, r1, 1", "skipped");
    expect_branch("  LOADI r0, -3\n  LOADI r1, -2", "LE r0, r1, 1", "taken");
    expect_branch("  LOADI r0, 1\n  LOADK r1, 1.5", "LT r0, r1, 1", "taken");
    expect_branch("  LOADK r0, 1.5\n  LOADI r1, 1", "LT r0, r1, 1", "skipped");
    expect_branch("  LOADK r0, 1.0\n  LOADI r1, 1", "LE r0, r1, 1", "taken");
    expect_branch("  LOADK r0, 4611686018427387903\n  LOADK r1, 4611686018427387904",
                  "LT r0, r1, 1", "taken");
    expect_branch("  LOADK r0, -9223372036854775808\n  LOADK r1, -4611686018427387904",
                  "LT r0, r1, 1", "taken");
    expect_branch("  LOADK r0, 9223372036854775807\n  LOADK r1, -9223372036854775808",
                  "LT r0, r1, 1", "skipped");
    expect_branch("  LOADK r0, 9223372036854775806\n  LOADK r1, 9223372036854775807",
                  "LE r0, r1, 1", "taken");
    expect_branch("  LOADK r0, ##NaN\n  LOADI r1, 1", "LT r0, r1, 1", "skipped");
    expect_branch("  LOADK r0, ##NaN\n  LOADI r1, 1", "LE r0, r1, 1", "skipped");
    expect_branch("  LOADI r0, 1\n  LOADK r1, ##NaN", "LE r0, r1, 1", "skipped");
    expect_branch("  LOADK r0, ##-Inf\n  LOADK r1, -9223372036854775808", "LT r0, r1, 1", "taken");
    expect_branch_error("  LOADK r0, \"a\"\n  LOADI r1, 1", "LT r0, r1, 1",
                        "only numbers can be compared, got string: \"a\"");
    expect_branch_error("  LOADI r0, 1\n  LOADNIL r1, 0", "LE r0, r1, 1",
                        "only numbers can be compared, got nil: nil");
}

Test(opcodes, eqi)
{
    expect_branch("  LOADI r0, 5", "EQI r0, 5, 1", "taken");
    expect_branch("  LOADI r0, 5", "EQI r0, 5, 0", "skipped");
    expect_branch("  LOADI r0, 4", "EQI r0, 5, 0", "taken");
    expect_branch("  LOADI r0, -128", "EQI r0, -128, 1", "taken");
    expect_branch("  LOADI r0, 127", "EQI r0, 127, 1", "taken");
    expect_branch("  LOADK r0, 5.0", "EQI r0, 5, 1", "skipped");
    expect_branch("  LOADNIL r0, 0", "EQI r0, 0, 1", "skipped");
    expect_branch("  LOADK r0, 4611686018427387904", "EQI r0, 0, 1", "skipped");
}

Test(opcodes, lti_lei_gti_gei)
{
    expect_branch("  LOADI r0, 4", "LTI r0, 5, 1", "taken");
    expect_branch("  LOADI r0, 5", "LTI r0, 5, 1", "skipped");
    expect_branch("  LOADI r0, 5", "LTI r0, 5, 0", "taken");
    expect_branch("  LOADI r0, -129", "LTI r0, -128, 1", "taken");
    expect_branch("  LOADK r0, 1.5", "LTI r0, 2, 1", "taken");
    expect_branch("  LOADK r0, -9223372036854775808", "LTI r0, 0, 1", "taken");
    expect_branch("  LOADK r0, 9223372036854775807", "LTI r0, 0, 1", "skipped");
    expect_branch("  LOADI r0, 5", "LEI r0, 5, 1", "taken");
    expect_branch("  LOADI r0, 6", "LEI r0, 5, 1", "skipped");
    expect_branch("  LOADK r0, 4.5", "LEI r0, 5, 1", "taken");
    expect_branch("  LOADK r0, 5.0", "LEI r0, 5, 1", "taken");
    expect_branch("  LOADI r0, 6", "GTI r0, 5, 1", "taken");
    expect_branch("  LOADI r0, 5", "GTI r0, 5, 1", "skipped");
    expect_branch("  LOADI r0, 5", "GTI r0, 5, 0", "taken");
    expect_branch("  LOADK r0, 9223372036854775807", "GTI r0, 127, 1", "taken");
    expect_branch("  LOADK r0, -4611686018427387905", "GTI r0, -128, 1", "skipped");
    expect_branch("  LOADK r0, 5.5", "GTI r0, 5, 1", "taken");
    expect_branch("  LOADK r0, ##NaN", "GTI r0, 0, 1", "skipped");
    expect_branch("  LOADI r0, 5", "GEI r0, 5, 1", "taken");
    expect_branch("  LOADI r0, 4", "GEI r0, 5, 1", "skipped");
    expect_branch("  LOADI r0, 4", "GEI r0, 5, 0", "taken");
    expect_branch("  LOADK r0, -4.5", "GEI r0, -5, 1", "taken");
    expect_branch("  LOADK r0, ##Inf", "GEI r0, 127, 1", "taken");
    expect_branch_error("  LOADK r0, \"a\"", "LTI r0, 1, 1",
                        "only numbers can be compared, got string: \"a\"");
    expect_branch_error("  LOADK r0, :k", "GEI r0, 1, 1",
                        "only numbers can be compared, got keyword: :k");
}

Test(opcodes, test)
{
    expect_branch("  LOADNIL r0, 0", "TEST r0, 1", "skipped");
    expect_branch("  LOADFALSE r0", "TEST r0, 1", "skipped");
    expect_branch("  LOADTRUE r0", "TEST r0, 1", "taken");
    expect_branch("  LOADI r0, 0", "TEST r0, 1", "taken");
    expect_branch("  LOADK r0, ()", "TEST r0, 1", "taken");
    expect_branch("  LOADK r0, \"\"", "TEST r0, 1", "taken");
    expect_branch("  LOADNIL r0, 0", "TEST r0, 0", "taken");
    expect_branch("  LOADTRUE r0", "TEST r0, 0", "skipped");
}

/* LOOPLT rA, rB, sC: rA += sC, then jump while rA < rB */
Test(opcodes, looplt)
{
    t_expect(".proto main\n  LOADI r0, 0\n  LOADI r1, 0\n  LOADI r2, 10\nloop:\n"
             "  ADD r0, r0, r1\n  LOOPLT r1, r2, 1\n  JMP loop\n"
             "  GETGLOBAL r3, list\n  MOVE r4, r0\n  MOVE r5, r1\n  CALL r3, 2\n  RET r3\n.end\n",
             "(45 10)");
    expect_branch("  LOADI r0, 5\n  LOADI r1, 6", "LOOPLT r0, r1, 1", "skipped");
    expect_branch("  LOADI r0, 4\n  LOADI r1, 6", "LOOPLT r0, r1, 1", "taken");
    expect_branch("  LOADI r0, 5\n  LOADI r1, 6", "LOOPLT r0, r1, -1", "taken");
    expect_branch("  LOADI r0, 5\n  LOADI r1, 200", "LOOPLT r0, r1, 127", "taken");
    expect_branch("  LOADI r0, 5\n  LOADI r1, -200", "LOOPLT r0, r1, -128", "skipped");
    expect_branch("  LOADK r0, 0.5\n  LOADI r1, 2", "LOOPLT r0, r1, 1", "taken");
    expect_branch("  LOADK r0, 1.5\n  LOADI r1, 2", "LOOPLT r0, r1, 1", "skipped");
    expect_branch("  LOADK r0, 4611686018427387903\n  LOADK r1, 9223372036854775807",
                  "LOOPLT r0, r1, 1", "taken");
    expect_branch("  LOADK r0, 9223372036854775805\n  LOADK r1, 9223372036854775807",
                  "LOOPLT r0, r1, 1", "taken");
    expect_branch("  LOADK r0, 9223372036854775806\n  LOADK r1, 9223372036854775807",
                  "LOOPLT r0, r1, 1", "skipped");
    expect_branch_error("  LOADK r0, 9223372036854775807\n  LOADK r1, 9223372036854775807",
                        "LOOPLT r0, r1, 1", "integer overflow");
    expect_branch_error("  LOADI r0, 1\n  LOADNIL r1, 0", "LOOPLT r0, r1, 1",
                        "only numbers can be compared, got nil: nil");
    expect_branch_error("  LOADK r0, \"i\"\n  LOADI r1, 5", "LOOPLT r0, r1, 1",
                        "the operands of + must be numbers, got string: \"i\"");
    /* the counter is updated, across the fixnum boundary too */
    t_expect(MAIN("  LOADK r0, 4611686018427387903\n  LOADK r1, 9223372036854775807\n"
                  "  LOOPLT r0, r1, 1\n  JMP out\nout:\n  RET r0\n"),
             "4611686018427387904");
    t_expect(MAIN("  LOADI r0, 7\n  LOADI r1, 0\n  LOOPLT r0, r1, -3\n  JMP out\nout:\n  RET r0\n"), "4");
}

Test(opcodes, jmp_forward_and_backward)
{
    /* sum 1..100 with a backward jump, skipping a poison instruction with
     * a forward one */
    t_expect(".proto main\n"
             "  LOADI r0, 0\n"
             "  LOADI r1, 1\n"
             "loop:\n"
             "  ADD r0, r0, r1\n"
             "  ADDI r1, r1, 1\n"
             "  JMP over\n"
             "  LOADI r0, -1000\n"
             "over:\n"
             "  LEI r1, 100, 1\n"
             "  JMP loop\n"
             "  RET r0\n"
             ".end\n",
             "5050");
}

/* Functions compare structurally: closures of the same prototype over
 * equal values are =, and hash alike; natives equal only themselves. */
static const char closures_to_compare[] =
    ".proto two\n  .capture reg 0\n  .capture reg 1\n  RET r0\n.end\n"
    ".proto none\n  RET r0\n.end\n";

Test(opcodes, function_equality)
{
    /* two closures of `two` over (1 2), one over (1 3) */
    t_expect(t_fmt("%s" MAIN("  LOADI r0, 1\n  LOADI r1, 2\n  CLOSURE r2, two\n  CLOSURE r3, two\n"
                             "  LOADI r1, 3\n  CLOSURE r4, two\n"
                             "  GETGLOBAL r5, list\n"
                             "  GETGLOBAL r6, =\n  MOVE r7, r2\n  MOVE r8, r3\n  CALL r6, 2\n"
                             "  GETGLOBAL r7, =\n  MOVE r8, r2\n  MOVE r9, r4\n  CALL r7, 2\n"
                             "  GETGLOBAL r8, hash\n  MOVE r9, r2\n  CALL r8, 1\n"
                             "  GETGLOBAL r9, hash\n  MOVE r10, r3\n  CALL r9, 1\n"
                             "  EQ r8, r9, 1\n  JMP same\n  LOADFALSE r8\n  JMP out\n"
                             "same:\n  LOADTRUE r8\n"
                             "out:\n  CALL r5, 3\n  RET r5\n"), closures_to_compare),
             "(true false true)");
    expect_branch("  GETGLOBAL r0, println\n  GETGLOBAL r1, println", "EQ r0, r1, 1", "taken");
    expect_branch("  GETGLOBAL r0, println\n  GETGLOBAL r1, prn", "EQ r0, r1, 1", "skipped");
}

/* Closures of prototypes with different capture counts: the comparison
 * must not read captures the other closure does not have. Here the
 * closure without captures is followed in the heap by an 8-byte string,
 * whose length word would be read as a pointer. */
Test(opcodes, closures_with_different_capture_counts_are_unequal)
{
    t_expect(t_fmt("%s" MAIN("  LOADI r0, 1\n  LOADI r1, 2\n  CLOSURE r2, two\n  CLOSURE r3, none\n"
                             "  GETGLOBAL r4, str\n  LOADK r5, \"12345678\"\n  CALL r4, 1\n"
                             "  GETGLOBAL r4, =\n  MOVE r5, r2\n  MOVE r6, r3\n  CALL r4, 2\n  RET r4\n"),
                   closures_to_compare),
             "false");
    t_expect(t_fmt("%s" MAIN("  LOADI r0, 1\n  LOADI r1, 2\n  CLOSURE r2, two\n  CLOSURE r3, none\n"
                             "  GETGLOBAL r4, str\n  LOADK r5, \"12345678\"\n  CALL r4, 1\n"
                             "  GETGLOBAL r4, =\n  MOVE r5, r3\n  MOVE r6, r2\n  CALL r4, 2\n  RET r4\n"),
                   closures_to_compare),
             "false");
}

/* ---- Calls ------------------------------------------------------------- */

static const char add2[] = ".proto add2 params=2\n  ADD r2, r0, r1\n  RET r2\n.end\n";

Test(opcodes, call_closures)
{
    t_expect(t_fmt("%s" MAIN("  CLOSURE r0, add2\n  LOADI r1, 3\n  LOADI r2, 4\n  CALL r0, 2\n  RET r0\n"), add2),
             "7");
    t_expect(".proto k\n  LOADI r0, 9\n  RET r0\n.end\n" MAIN("  CLOSURE r0, k\n  CALL r0, 0\n  RET r0\n"),
             "9");
    /* the callee's registers lie above the caller's: r0 survives a callee
     * that writes all of its own */
    t_expect(".proto clobber params=1 regs=8\n"
             "  LOADI r1, -1\n  LOADI r2, -1\n  LOADI r3, -1\n  LOADI r4, -1\n"
             "  LOADI r5, -1\n  LOADI r6, -1\n  LOADI r7, -1\n  ADDI r0, r0, 1\n  RET r0\n.end\n"
             MAIN("  LOADI r0, 100\n  CLOSURE r1, clobber\n  LOADI r2, 1\n  CALL r1, 1\n"
                  "  ADD r0, r0, r1\n  RET r0\n"),
             "102");
    /* a function value passed as an argument and called */
    t_expect(t_fmt("%s.proto apply2 params=3\n  MOVE r3, r0\n  MOVE r4, r1\n  MOVE r5, r2\n"
                   "  CALL r3, 2\n  RET r3\n.end\n"
                   MAIN("  CLOSURE r0, apply2\n  CLOSURE r1, add2\n  LOADI r2, 20\n  LOADI r3, 22\n"
                        "  CALL r0, 3\n  RET r0\n"), add2),
             "42");
}

Test(opcodes, call_natives)
{
    t_expect(MAIN("  GETGLOBAL r0, list\n  LOADI r1, 1\n  LOADK r2, \"two\"\n  LOADK r3, :three\n"
                  "  CALL r0, 3\n  RET r0\n"),
             "(1 \"two\" :three)");
    t_expect(MAIN("  GETGLOBAL r0, list\n  CALL r0, 0\n  RET r0\n"), "()");
    t_expect(MAIN("  GETGLOBAL r0, +\n  LOADI r1, 1\n  LOADI r2, 2\n  LOADI r3, 3\n  CALL r0, 3\n  RET r0\n"),
             "6");
    t_expect(MAIN("  GETGLOBAL r0, str\n  LOADK r1, \"a\"\n  LOADI r2, 1\n  LOADK r3, 1.5\n"
                  "  LOADNIL r4, 0\n  LOADK r5, \\c\n  LOADK r6, :k\n  CALL r0, 6\n  RET r0\n"),
             "\"a11.5c:k\"");
    t_expect(MAIN("  GETGLOBAL r0, cons\n  LOADI r1, 1\n  LOADNIL r2, 0\n  CALL r0, 2\n  RET r0\n"),
             "(1)");
    t_expect(MAIN("  GETGLOBAL r0, count\n  LOADK r1, (1 2 3)\n  CALL r0, 1\n  RET r0\n"), "3");
}

Test(opcodes, natives_write_to_the_output_buffer)
{
    t_result r = t_run(MAIN("  GETGLOBAL r0, println\n  LOADK r1, \"hi\"\n  LOADI r2, 1\n"
                            "  LOADK r3, :k\n  LOADK r4, \\c\n  CALL r0, 4\n"
                            "  GETGLOBAL r0, prn\n  LOADK r1, \"hi\"\n  LOADK r2, \\c\n  CALL r0, 2\n"
                            "  GETGLOBAL r0, print\n  LOADK r1, \"a\"\n  CALL r0, 1\n"
                            "  GETGLOBAL r0, pr\n  LOADK r1, \"b\"\n  CALL r0, 1\n"
                            "  RET r0\n"));
    cr_assert_eq(r.status, IVM_OK, "%s", r.message);
    cr_assert_str_eq(r.out, "hi 1 :k c\n\"hi\" \\c\na\"b\"");
    cr_assert_str_eq(r.pr, "nil", "println & co return nil");
}

Test(opcodes, tailcall_closures_and_natives)
{
    t_expect(MAIN("  GETGLOBAL r0, list\n  LOADI r1, 1\n  LOADI r2, 2\n  TAILCALL r0, 2\n"), "(1 2)");
    t_expect(t_fmt("%s" MAIN("  CLOSURE r0, add2\n  LOADI r1, 30\n  LOADI r2, 12\n  TAILCALL r0, 2\n"), add2),
             "42");
    /* a tail call to a function with more arguments and registers */
    t_expect(".proto three params=3 regs=9\n  LOADI r8, 0\n  ADD r3, r0, r1\n  ADD r3, r3, r2\n  RET r3\n.end\n"
             ".proto one params=1\n  GETGLOBAL r1, three\n  MOVE r2, r0\n  LOADI r3, 10\n"
             "  LOADI r4, 100\n  TAILCALL r1, 3\n.end\n"
             MAIN("  CLOSURE r0, three\n  SETGLOBAL r0, three\n  CLOSURE r0, one\n  LOADI r1, 1\n"
                  "  CALL r0, 1\n  RET r0\n"),
             "111");
}

static const char tail_loop[] =
    ".proto loop params=2\n"
    "  EQI r0, 0, 1\n"
    "  JMP done\n"
    "  GETGLOBAL r2, loop\n"
    "  ADDI r3, r0, -1\n"
    "  ADDI r4, r1, 1\n"
    "  TAILCALL r2, 2\n"
    "done:\n"
    "  RET r1\n"
    ".end\n"
    ".proto main\n"
    "  CLOSURE r0, loop\n"
    "  SETGLOBAL r0, loop\n"
    "  LOADK r1, 10000000\n"
    "  LOADI r2, 0\n"
    "  CALL r0, 2\n"
    "  RET r0\n"
    ".end\n";

Test(opcodes, tail_calls_run_in_constant_stack)
{
    /* 10,000,000 calls deep would need ten times the frame limit */
    t_expect(tail_loop, "10000000");
    cr_assert_eq(t_vm()->nframes, 0);
}

Test(opcodes, mutual_tail_recursion)
{
    t_expect(".proto is-even params=1\n  EQI r0, 0, 1\n  JMP yes\n  GETGLOBAL r1, is-odd\n"
             "  ADDI r2, r0, -1\n  TAILCALL r1, 1\nyes:\n  LOADTRUE r1\n  RET r1\n.end\n"
             ".proto is-odd params=1\n  EQI r0, 0, 1\n  JMP no\n  GETGLOBAL r1, is-even\n"
             "  ADDI r2, r0, -1\n  TAILCALL r1, 1\nno:\n  LOADFALSE r1\n  RET r1\n.end\n"
             MAIN("  CLOSURE r0, is-even\n  SETGLOBAL r0, is-even\n  CLOSURE r0, is-odd\n"
                  "  SETGLOBAL r0, is-odd\n  GETGLOBAL r0, is-even\n  LOADK r1, 2000001\n"
                  "  CALL r0, 1\n  RET r0\n"),
             "false");
}

static const char variadic_fn[] =
    ".proto v params=1 variadic\n"
    "  GETGLOBAL r2, list\n"
    "  MOVE r3, r0\n"
    "  MOVE r4, r1\n"
    "  CALL r2, 2\n"
    "  RET r2\n"
    ".end\n";

Test(opcodes, variadic_functions_get_the_rest_as_a_list)
{
    t_expect(t_fmt("%s" MAIN("  CLOSURE r0, v\n  LOADI r1, 1\n  CALL r0, 1\n  RET r0\n"), variadic_fn),
             "(1 nil)");
    t_expect(t_fmt("%s" MAIN("  CLOSURE r0, v\n  LOADI r1, 1\n  LOADI r2, 2\n  CALL r0, 2\n  RET r0\n"),
                   variadic_fn),
             "(1 (2))");
    t_expect(t_fmt("%s" MAIN("  CLOSURE r0, v\n  LOADI r1, 1\n  LOADI r2, 2\n  LOADK r3, \"x\"\n"
                             "  CALL r0, 3\n  RET r0\n"), variadic_fn),
             "(1 (2 \"x\"))");
    t_expect(t_fmt("%s" MAIN("  CLOSURE r0, v\n  LOADI r1, 1\n  LOADI r2, 2\n  LOADI r3, 3\n"
                             "  TAILCALL r0, 3\n"), variadic_fn),
             "(1 (2 3))");
    t_expect(".proto all params=0 variadic\n  RET r0\n.end\n"
             MAIN("  CLOSURE r0, all\n  CALL r0, 0\n  RET r0\n"),
             "nil");
    t_expect(".proto all params=0 variadic\n  RET r0\n.end\n"
             MAIN("  CLOSURE r0, all\n  LOADI r1, 1\n  LOADI r2, 2\n  LOADI r3, 3\n  LOADI r4, 4\n"
                  "  CALL r0, 4\n  RET r0\n"),
             "(1 2 3 4)");
    t_expect_error(t_fmt("%s" MAIN("  CLOSURE r0, v\n  CALL r0, 0\n  RET r0\n"), variadic_fn),
                   "wrong number of args (0) passed to #function[v]");
}

Test(opcodes, arity_errors)
{
    t_expect_error(t_fmt("%s" MAIN("  CLOSURE r0, add2\n  LOADI r1, 1\n  CALL r0, 1\n  RET r0\n"), add2),
                   "wrong number of args (1) passed to #function[add2]");
    t_expect_error(t_fmt("%s" MAIN("  CLOSURE r0, add2\n  LOADI r1, 1\n  LOADI r2, 2\n  LOADI r3, 3\n"
                                   "  CALL r0, 3\n  RET r0\n"), add2),
                   "wrong number of args (3) passed to #function[add2]");
    t_expect_error(t_fmt("%s" MAIN("  CLOSURE r0, add2\n  LOADI r1, 1\n  TAILCALL r0, 1\n"), add2),
                   "wrong number of args (1) passed to #function[add2]");
    t_expect_error(MAIN("  GETGLOBAL r0, cons\n  LOADI r1, 1\n  CALL r0, 1\n  RET r0\n"),
                   "wrong number of args (1) passed to #function[cons]");
    t_expect_error(MAIN("  GETGLOBAL r0, first\n  TAILCALL r0, 0\n"),
                   "wrong number of args (0) passed to #function[first]");
    t_expect_error(".proto f anonymous\n  RET r0\n.end\n"
                   MAIN("  CLOSURE r0, f\n  LOADI r1, 1\n  LOADI r2, 2\n  CALL r0, 2\n  RET r0\n"),
                   "wrong number of args (2) passed to #function[fn]");
}

Test(opcodes, calling_a_non_function)
{
    t_expect_error(MAIN("  LOADI r0, 5\n  CALL r0, 0\n  RET r0\n"),
                   "only functions can be called, got integer: 5");
    t_expect_error(MAIN("  LOADNIL r0, 0\n  LOADI r1, 1\n  CALL r0, 1\n  RET r0\n"),
                   "only functions can be called, got nil: nil");
    t_expect_error(MAIN("  LOADK r0, \"f\"\n  TAILCALL r0, 0\n"),
                   "only functions can be called, got string: \"f\"");
    t_expect_error(".proto f\n  RET r0\n.end\n" MAIN("  LOADK r0, #proto f\n  CALL r0, 0\n  RET r0\n"),
                   "only functions can be called, got prototype: #prototype[f]");
}

static const char deep_recursion[] =
    ".source \"deep.ivs\"\n"
    ".proto down params=1\n"
    "  .line 3\n"
    "  GETGLOBAL r1, down\n"
    "  ADDI r2, r0, 1\n"
    "  CALL r1, 1\n"
    "  RET r1\n"
    ".end\n"
    ".proto main\n"
    "  .line 9\n"
    "  CLOSURE r0, down\n"
    "  SETGLOBAL r0, down\n"
    "  LOADI r1, 0\n"
    "  CALL r0, 1\n"
    "  RET r0\n"
    ".end\n";

Test(opcodes, deep_recursion_overflows_cleanly)
{
    t_result r = t_run(deep_recursion);
    cr_assert_eq(r.status, IVM_ERROR);
    cr_assert_str_eq(r.message, "stack overflow");
    cr_assert_eq(t_vm()->nframes, 0, "the frames are gone after the error");
    /* the trace: the 32 innermost frames, then a count of the rest */
    const char *first = "ivm: error: stack overflow\n  at down (deep.ivs:3)\n  at down (deep.ivs:3)\n";
    cr_assert(strncmp(r.report, first, strlen(first)) == 0, "report starts: %.200s", r.report);
    const char *last = t_fmt("\n  ... %u more frames\n", IVM_MAX_FRAMES - IVM_TRACE_MAX);
    size_t n = strlen(r.report), k = strlen(last);
    cr_assert(n > k && strcmp(r.report + n - k, last) == 0, "report ends: %s",
              r.report + (n > 200 ? n - 200 : 0));
    /* the VM still works */
    t_expect(MAIN("  LOADI r0, 1\n  RET r0\n"), "1");
    t_expect(tail_loop, "10000000");
}

/* Deep recursion through frames with many registers runs out of stack
 * slots (not frames) first: also a clean "stack overflow". */
Test(opcodes, stack_slots_overflow_cleanly)
{
    t_result r = t_run(".proto wide params=1 regs=255\n"
                       "  GETGLOBAL r253, wide\n"
                       "  MOVE r254, r0\n"
                       "  CALL r253, 1\n"
                       "  RET r253\n"
                       ".end\n"
                       MAIN("  CLOSURE r0, wide\n  SETGLOBAL r0, wide\n  LOADI r1, 0\n"
                            "  CALL r0, 1\n  RET r0\n"));
    cr_assert_eq(r.status, IVM_ERROR);
    cr_assert_str_eq(r.message, "stack overflow");
    cr_assert_eq(t_vm()->nframes, 0);
    t_expect(MAIN("  LOADI r0, 2\n  RET r0\n"), "2");
}

/* A value too long for an error message is cut short with "...", and the
 * message stays valid UTF-8 (strings must be). */
Test(opcodes, long_values_in_messages_are_cut_cleanly)
{
    char text[400] = "a";
    for (int i = 0; i < 100; i++)
        strcat(text, "\xc3\xa9"); /* é */
    t_result r = t_run(t_fmt(MAIN("  LOADK r1, \"%s\"\n  LOADI r2, 1\n  ADD r0, r1, r2\n  RET r0\n"), text));
    cr_assert_eq(r.status, IVM_ERROR);
    const char *prefix = "the operands of + must be numbers, got string: \"a\xc3\xa9";
    cr_assert(strncmp(r.message, prefix, strlen(prefix)) == 0, "message: %s", r.message);
    size_t n = strlen(r.message);
    cr_assert(n > 3 && strcmp(r.message + n - 3, "...") == 0, "message: %s", r.message);
    cr_assert_lt(n, strlen(prefix) + 70, "the value was not cut short: %s", r.message);
    cr_assert(ivm_utf8_valid((const uint8_t *)r.message, n),
              "the message is not valid UTF-8 (cut inside a character): %s", r.message);
    cr_assert_eq(ivm_as_str(r.value)->len, n);
    cr_assert(ivm_utf8_valid(ivm_as_str(r.value)->bytes, ivm_as_str(r.value)->len));
}

Test(opcodes, error_trace_names_functions_and_lines)
{
    t_result r = t_run(".source \"trace.ivs\"\n"
                       ".proto inner params=1\n"
                       "  .line 10\n"
                       "  LOADI r1, 0\n"
                       "  .line 11\n"
                       "  DIV r2, r0, r1\n"
                       "  RET r2\n"
                       ".end\n"
                       ".proto middle params=1\n"
                       "  .line 15\n"
                       "  GETGLOBAL r1, inner\n"
                       "  MOVE r2, r0\n"
                       "  CALL r1, 1\n"
                       "  RET r1\n"
                       ".end\n"
                       ".proto main\n"
                       "  .line 20\n"
                       "  CLOSURE r0, inner\n"
                       "  SETGLOBAL r0, inner\n"
                       "  CLOSURE r0, middle\n"
                       "  LOADI r1, 5\n"
                       "  .line 21\n"
                       "  CALL r0, 1\n"
                       "  RET r0\n"
                       ".end\n");
    cr_assert_eq(r.status, IVM_ERROR);
    cr_assert_str_eq(r.report, "ivm: error: Divide by zero\n"
                               "  at inner (trace.ivs:11)\n"
                               "  at middle (trace.ivs:15)\n"
                               "  at main (trace.ivs:21)\n");
}

/* Without a line table the trace shows pcs; without a source, pcs only;
 * natives have no frame. */
Test(opcodes, error_trace_without_lines_or_source)
{
    t_result r = t_run(".source \"nolines.ivs\"\n"
                       ".proto f params=1\n  LOADI r1, 1\n  NEG r2, r0\n  RET r2\n.end\n"
                       MAIN("  CLOSURE r0, f\n  LOADK r1, \"s\"\n  CALL r0, 1\n  RET r0\n"));
    cr_assert_eq(r.status, IVM_ERROR);
    cr_assert_str_eq(r.report, "ivm: error: the operand of - must be a number, got string: \"s\"\n"
                               "  at f (nolines.ivs, pc 1)\n"
                               "  at main (nolines.ivs, pc 2)\n");
    r = t_run(".proto f params=1\n  .line 4\n  NEG r2, r0\n  RET r2\n.end\n"
              MAIN("  CLOSURE r0, f\n  LOADK r1, :k\n  CALL r0, 1\n  RET r0\n"));
    cr_assert_eq(r.status, IVM_ERROR);
    cr_assert_str_eq(r.report, "ivm: error: the operand of - must be a number, got keyword: :k\n"
                               "  at f (pc 0)\n"
                               "  at main (pc 2)\n");
    r = t_run(".source \"n.ivs\"\n"
              MAIN("  .line 3\n  GETGLOBAL r0, cons\n  LOADI r1, 1\n  LOADI r2, 2\n  CALL r0, 2\n  RET r0\n"));
    cr_assert_eq(r.status, IVM_ERROR);
    cr_assert_str_eq(r.report, "ivm: error: expected a list or nil, got integer: 2\n"
                               "  at main (n.ivs:3)\n");
}

Test(opcodes, ivm_call_from_c)
{
    ivm_vm *vm = t_vm();
    t_result r = t_run(t_fmt("%s" MAIN("  CLOSURE r0, add2\n  RET r0\n"), add2));
    cr_assert_eq(r.status, IVM_OK);
    ivm_value fn = r.value, result = IVM_NIL;
    ivm_value args[3] = {ivm_fixnum(40), ivm_fixnum(2), ivm_fixnum(0)};
    cr_assert_eq(ivm_call(vm, fn, 2, args, &result), IVM_OK);
    cr_assert_eq(result, ivm_fixnum(42));
    cr_assert_eq(ivm_call(vm, fn, 3, args, &result), IVM_ERROR);
    cr_assert_str_eq(t_pr(vm, vm->error, false), "wrong number of args (3) passed to #function[add2]");
    /* natives directly */
    ivm_value list = vm->globals[ivm_global_slot(vm, ivm_symbol_cstr(&vm->heap, "list"))].value;
    cr_assert_eq(ivm_call(vm, list, 2, args, &result), IVM_OK);
    cr_assert_str_eq(t_pr(vm, result, true), "(40 2)");
    cr_assert_eq(ivm_call(vm, ivm_fixnum(1), 0, NULL, &result), IVM_ERROR);
    cr_assert_eq(vm->nframes, 0);
}

Test(opcodes, interrupt_stops_a_loop_at_a_safepoint)
{
    ivm_platform_install_interrupt_handler();
    cr_assert_not(ivm_platform_interrupted());
    raise(SIGINT);
    cr_assert(ivm_platform_interrupted());
    t_result r = t_run(MAIN("loop:\n  JMP loop\n"));
    cr_assert_eq(r.status, IVM_INTERRUPTED);
    cr_assert_eq(t_vm()->nframes, 0);
}

/* ---- Multi-arity functions --------------------------------------------- */

static const char arities[] =
    ".proto one params=1 regs=2\n  LOADK r1, :one\n  RET r1\n.end\n"
    ".proto two params=2 regs=3\n  ADD r2, r0, r1\n  RET r2\n.end\n"
    ".proto many params=2 regs=3 variadic\n  RET r2\n.end\n";

Test(opcodes, multifn_picks_the_arity)
{
    const char *make = "  CLOSURE r1, one\n  CLOSURE r2, two\n  MULTIFN r0, r1, 2\n";
    t_expect(t_fmt("%s" MAIN("%s  LOADI r1, 5\n  CALL r0, 1\n  RET r0\n"), arities, make), ":one");
    t_expect(t_fmt("%s" MAIN("%s  LOADI r1, 5\n  LOADI r2, 6\n  CALL r0, 2\n  RET r0\n"), arities, make), "11");
    t_expect_error(t_fmt("%s" MAIN("%s  CALL r0, 0\n  RET r0\n"), arities, make),
                   "wrong number of args (0) passed to #function[one]");
    /* a fixed arity wins over the variadic one; the variadic takes the rest */
    const char *with_rest = "  CLOSURE r1, many\n  CLOSURE r2, two\n  MULTIFN r0, r1, 2\n";
    t_expect(t_fmt("%s" MAIN("%s  LOADI r1, 1\n  LOADI r2, 2\n  CALL r0, 2\n  RET r0\n"), arities, with_rest),
             "3");
    t_expect(t_fmt("%s" MAIN("%s  LOADI r1, 1\n  LOADI r2, 2\n  LOADI r3, 3\n  LOADI r4, 4\n"
                             "  CALL r0, 4\n  RET r0\n"), arities, with_rest),
             "(3 4)");
    /* and in tail position */
    t_expect(t_fmt("%s" MAIN("%s  LOADI r1, 5\n  TAILCALL r0, 1\n"), arities, make), ":one");
    t_expect_error(MAIN("  LOADI r1, 1\n  MULTIFN r0, r1, 1\n  RET r0\n"),
                   "MULTIFN takes closures, got integer: 1");
}

/* ---- Errors: TRY, ENDTRY, THROW ---------------------------------------- */

Test(opcodes, throw_and_catch_in_one_frame)
{
    t_expect(MAIN("  TRY r0, caught\n  LOADK r1, :boom\n  THROW r1\n  LOADI r0, 1\n  RET r0\n"
                  "caught:\n  RET r0\n"),
             ":boom");
    /* uncaught, any value can be thrown */
    t_expect_error(MAIN("  LOADK r1, \"plain message\"\n  THROW r1\n"), "plain message");
    /* after ENDTRY the handler is gone */
    t_expect_error(MAIN("  TRY r0, caught\n  ENDTRY\n  LOADK r1, \"later\"\n  THROW r1\n"
                        "caught:\n  RET r0\n"),
                   "later");
}

static const char thrower[] =
    ".proto bad params=1 regs=2\n  LOADK r1, \"x\"\n  ADD r1, r0, r1\n  RET r1\n.end\n";

Test(opcodes, errors_from_callees_and_natives_are_caught)
{
    t_expect(t_fmt("%s" MAIN("  TRY r0, caught\n  CLOSURE r1, bad\n  LOADI r2, 1\n  CALL r1, 1\n"
                             "  ENDTRY\n  RET r1\ncaught:\n  RET r0\n"), thrower),
             "\"the operands of + must be numbers, got string: \\\"x\\\"\"");
    t_expect(MAIN("  TRY r0, caught\n  GETGLOBAL r1, first\n  LOADI r2, 7\n  CALL r1, 1\n  ENDTRY\n"
                  "  RET r1\ncaught:\n  RET r0\n"),
             "\"expected a list or nil, got integer: 7\"");
    /* nested handlers: the inner one catches (and is gone: its catch code
     * runs under the outer one), the outer one catches the next throw */
    t_expect(MAIN("  TRY r0, outer\n  TRY r1, inner\n  LOADK r2, :one\n  THROW r2\n"
                  "inner:\n  LOADK r2, :two\n  THROW r2\n"
                  "outer:\n  RET r0\n"),
             ":two");
}

Test(opcodes, a_return_drops_the_frames_handlers)
{
    /* `leaky` returns with its TRY still active; a later error in main
     * must not jump into leaky's dead frame */
    t_expect_error(".proto leaky regs=2\n  TRY r0, h\n  LOADI r1, 1\n  RET r1\nh:\n  RET r0\n.end\n"
                   MAIN("  CLOSURE r0, leaky\n  CALL r0, 0\n  LOADK r1, \"after\"\n  THROW r1\n"),
                   "after");
    cr_assert_eq(t_vm()->nhandlers, 0);
    /* and the same through a tail call */
    t_expect_error(".proto leaky regs=3\n  TRY r0, h\n  GETGLOBAL r1, list\n  TAILCALL r1, 0\nh:\n  RET r0\n.end\n"
                   MAIN("  CLOSURE r0, leaky\n  CALL r0, 0\n  LOADK r1, \"after\"\n  THROW r1\n"),
                   "after");
    cr_assert_eq(t_vm()->nhandlers, 0);
}

/* ---- SELF -------------------------------------------------------------- */

/* A named fn refers to itself through SELF: the value it was called as,
 * so a multi-arity function sees all its arities. */
Test(opcodes, self_is_the_function_as_called)
{
    t_expect(".proto countdown params=1 regs=3\n  EQI r0, 0, 1\n  JMP done\n  SELF r1\n"
             "  ADDI r2, r0, -1\n  TAILCALL r1, 1\ndone:\n  LOADK r0, :done\n  RET r0\n.end\n"
             MAIN("  CLOSURE r0, countdown\n  LOADI r1, 100\n  CALL r0, 1\n  RET r0\n"),
             ":done");
    t_expect(".proto one params=1 regs=4\n  SELF r1\n  MOVE r2, r0\n  LOADI r3, 10\n  TAILCALL r1, 2\n.end\n"
             ".proto two params=2 regs=3\n  ADD r2, r0, r1\n  RET r2\n.end\n"
             MAIN("  CLOSURE r1, one\n  CLOSURE r2, two\n  MULTIFN r0, r1, 2\n  LOADI r1, 5\n"
                  "  CALL r0, 1\n  RET r0\n"),
             "15");
}

/* VECTOR builds what vector literals mean: R[B..B+C-1] in order, from none
 * to more than one tail node's worth. */
Test(opcodes, vector)
{
    t_expect(MAIN("  LOADI r1, 1\n  LOADK r2, \"two\"\n  LOADNIL r3, 0\n  VECTOR r0, r1, 3\n  RET r0\n"),
             "[1 \"two\" nil]");
    t_expect(MAIN("  VECTOR r0, r0, 0\n  RET r0\n"), "[]");
    /* the destination may be one of the elements */
    t_expect(MAIN("  LOADI r0, 7\n  LOADI r1, 8\n  VECTOR r0, r0, 2\n  RET r0\n"), "[7 8]");
    ivm_buf text = {0};
    ivm_buf_add_cstr(&text, ".proto main regs=41\n");
    for (int i = 1; i <= 40; i++) {
        ivm_buf_add_cstr(&text, "  LOADI r");
        ivm_buf_add_int(&text, i);
        ivm_buf_add_cstr(&text, ", ");
        ivm_buf_add_int(&text, i);
        ivm_buf_add_char(&text, '\n');
    }
    ivm_buf_add_cstr(&text, "  VECTOR r0, r1, 40\n  RET r0\n.end\n");
    ivm_buf_add_char(&text, '\0');
    ivm_buf want = {0};
    for (int i = 1; i <= 40; i++) {
        ivm_buf_add_char(&want, i == 1 ? '[' : ' ');
        ivm_buf_add_int(&want, i);
    }
    ivm_buf_add_cstr(&want, "]");
    ivm_buf_add_char(&want, '\0');
    t_expect(text.data, want.data);
    ivm_buf_free(&text);
    ivm_buf_free(&want);
}

