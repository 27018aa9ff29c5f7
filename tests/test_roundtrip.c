/* Assembly round trips: every example (examples/NAME.ivs) and programs
 * that use every constant kind, every opcode, captures, variadic and anonymous
 * prototypes, awkward names, explicit constants and line tables are
 * assembled, loaded, written back (ivm_write_ivc gives the same bytes),
 * disassembled and reassembled to identical bytes, and disassembling again
 * gives identical text. The same through the CLI:
 * `ivm disasm a.ivc | ivm asm - -o b.ivc` leaves b.ivc identical. And the
 * assembler's errors: "FILE:LINE:COL: message" for each kind of mistake. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ivm/opcodes.h"
#include "support.h"

/* Checks the whole round trip; returns the disassembly. */
static char *roundtrip(const char *name, const char *text, size_t len)
{
    ivm_vm *vm = t_vm();
    ivm_buf a = {0}, b = {0}, err = {0}, w = {0}, d = {0}, d2 = {0};
    cr_assert(ivm_assemble(vm, text, len, name, &a, &err), "%s does not assemble: %s", name,
              err.data);
    ivm_load_error le;
    const ivm_module *m, *m2;
    cr_assert(ivm_load(vm, (const uint8_t *)a.data, a.len, &m, &le),
              "%s: the assembler's output is refused at byte %zu: %s", name, le.offset, le.message);
    ivm_write_ivc(m, &w);
    cr_assert(w.len == a.len && memcmp(w.data, a.data, a.len) == 0,
              "%s: ivm_write_ivc of the loaded module differs from the file", name);
    ivm_disassemble(m, &d);
    cr_assert(ivm_assemble(vm, d.data, d.len, "disassembly.ivs", &b, &err),
              "%s: the disassembly does not assemble: %s\n--- disassembly ---\n%s", name, err.data,
              d.data);
    cr_assert_eq(b.len, a.len, "%s: reassembled to %zu bytes, not %zu\n--- disassembly ---\n%s",
                 name, b.len, a.len, d.data);
    for (size_t i = 0; i < a.len; i++)
        cr_assert_eq((uint8_t)b.data[i], (uint8_t)a.data[i],
                     "%s: reassembled bytes differ first at byte %zu\n--- disassembly ---\n%s", name,
                     i, d.data);
    cr_assert(ivm_load(vm, (const uint8_t *)b.data, b.len, &m2, &le));
    ivm_disassemble(m2, &d2);
    cr_assert_str_eq(d2.data, d.data, "%s: disassembling again gives other text", name);
    char *text_out = t_strndup(d.data, d.len);
    ivm_buf_free(&a), ivm_buf_free(&b), ivm_buf_free(&err), ivm_buf_free(&w);
    ivm_buf_free(&d), ivm_buf_free(&d2);
    return text_out;
}

static void roundtrip_text(const char *name, const char *text)
{
    roundtrip(name, text, strlen(text));
}

Test(roundtrip, examples)
{
    char **paths;
    size_t n = t_examples(&paths);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *text = (const char *)t_read_file(paths[i], &len);
        roundtrip(paths[i], text, len);
    }
}

static const char every_constant[] =
    "; every kind of constant, written every way\n"
    ".source \"constants.ivs\"\n"
    ".proto anon anonymous\n"
    "  LOADNIL r0, 0\n"
    "  RET r0\n"
    ".end\n"
    ".proto consts regs=4\n"
    "  .line 7\n"
    "  .const nil\n"
    "  .const true\n"
    "  .const false\n"
    "  .const 0\n"
    "  .const -1\n"
    "  .const 32767\n"
    "  .const 4611686018427387903\n"
    "  .const 4611686018427387904\n"
    "  .const -4611686018427387905\n"
    "  .const -9223372036854775808\n"
    "  .const 9223372036854775807\n"
    "  .const 0x7f\n"
    "  .const -0x10\n"
    "  .const 1.5\n"
    "  .const -2.25e-3\n"
    "  .const 0.0\n"
    "  .const -0.0\n"
    "  .const 0.1\n"
    "  .const 1e300\n"
    "  .const 5e-324\n"
    "  .const 1.7976931348623157e308\n"
    "  .const 123456789.125\n"
    "  .const ##Inf\n"
    "  .const ##-Inf\n"
    "  .const ##NaN\n"
    "  .const #float 0x7ff8000000000001\n"
    "  .const #float 0xfff8000000000000\n"
    "  .const #float 0x3ff0000000000000\n"
    "  .const \"plain\"\n"
    "  .const \"\"\n"
    "  .const \"esc \\n \\t \\r \\b \\f \\\" \\\\ \\u0001 \\u007f \\u00e9 \xc3\xa9 \xf0\x9f\x98\x80 ; not a comment\"\n"
    "  .const :kw\n"
    "  .const :ns/kw\n"
    "  .const :a.b/c-d?!*+<>=\n"
    "  .const 'sym\n"
    "  .const 'ns/sym\n"
    "  .const '/\n"
    "  .const '\xc3\xa9t\xc3\xa9\n"
    "  .const #symbol \"with space\"\n"
    "  .const #keyword \"a(b)\"\n"
    "  .const #symbol \"semi;colon\"\n"
    "  .const \\a\n"
    "  .const \\Z\n"
    "  .const \\0\n"
    "  .const \\newline\n"
    "  .const \\space\n"
    "  .const \\tab\n"
    "  .const \\return\n"
    "  .const \\backspace\n"
    "  .const \\formfeed\n"
    "  .const \\(\n"
    "  .const \\;\n"
    "  .const \\\\\n"
    "  .const #char 0\n"
    "  .const #char 127\n"
    "  .const #char 233\n"
    "  .const #char 1114111\n"
    "  .const #bytes \"\"\n"
    "  .const #bytes \"00ff7f80\"\n"
    "  .const #proto anon\n"
    "  .const #regex \"a\\\\d+ \\\" \xc3\xa9\"\n"
    "  .const #regex \"a\\\\d+ \\\" \xc3\xa9\"\n" /* two regexes, never one */
    "  .const ()\n"
    "  .const (())\n"
    "  .const (1 (2.5 (\"x\" :k 'y)) () nil #proto anon \\c #bytes \"01\" ##NaN)\n"
    "  .const 7\n"
    "  .const 7\n" /* explicit constants are not deduplicated */
    "  LOADK r0, k0\n"
    "  .line 9\n"
    "  LOADK r1, 7\n"
    "  LOADK r2, \"fresh literal\"\n"
    "  LOADK r3, (1 2)\n"
    "  LOADK r2, #regex \"x\"\n"
    "  LOADK r2, #regex \"x\"\n"
    "  RET r0\n"
    ".end\n";

Test(roundtrip, every_constant_kind)
{
    roundtrip_text("constants.ivs", every_constant);
}

static const char every_opcode[] =
    ".source \"opcodes.ivs\"\n"
    ".entry main\n"
    ".proto anon anonymous regs=1\n"
    "  LOADNIL r0, 0\n"
    "  RET r0\n"
    ".end\n"
    ".proto leaf params=1 regs=3\n"
    "  .capture reg 1\n"
    "  .capture cap 0\n"
    "  .line 2\n"
    "  GETCAP r1, 0\n"
    "  GETCAP r2, 1\n"
    "  ADD r1, r1, r2\n"
    "  RET r1\n"
    ".end\n"
    ".proto mid params=2 variadic name=\"a middle one\"\n"
    "  .capture reg 0\n"
    "  .line 10\n"
    "  CLOSURE r3, leaf\n"
    "  RET r3\n"
    ".end\n"
    ".proto main\n"
    "  .line 100\n"
    "  LOADI r0, 1\n"
    "  LOADI r1, 2\n"
    "  CLOSURE r2, mid\n"
    "  TAILCALL r2, 0\n"
    ".end\n"
    ".proto ops regs=10\n"
    "  .line 1\n"
    "  MOVE r0, r1\n"
    "  LOADK r0, \"k\"\n"
    "  LOADI r0, -32768\n"
    "  LOADI r1, 32767\n"
    "  LOADNIL r0, 9\n"
    "  LOADTRUE r2\n"
    "  LOADFALSE r3\n"
    "  .line 2\n"
    "  .line 3\n" /* replaces the .line 2 at the same pc */
    "  GETGLOBAL r4, println\n"
    "  SETGLOBAL r4, my-global\n"
    "  GETGLOBAL r4, *weird-name?!\n"
    "  CLOSURE r5, anon\n"
    "  ADD r0, r1, r2\n"
    "  SUB r0, r1, r2\n"
    "  MUL r0, r1, r2\n"
    "  DIV r0, r1, r2\n"
    "  QUOT r0, r1, r2\n"
    "  REM r0, r1, r2\n"
    "  MOD r0, r1, r2\n"
    "  ADDI r0, r1, -128\n"
    "  ADDI r0, r1, 127\n"
    "  NEG r0, r1\n"
    "  NOT r0, r1\n"
    "top:\n"
    "  EQ r0, r1, 1\n"
    "  JMP top\n"
    "  LT r0, r1, 0\n"
    "  JMP fwd\n"
    "  LE r0, r1, 1\n"
    "  JMP fwd\n"
    "  EQI r0, -128, 0\n"
    "  JMP fwd\n"
    "  LTI r0, 127, 1\n"
    "  JMP fwd\n"
    "  LEI r0, 0, 1\n"
    "  JMP fwd\n"
    "  GTI r0, 5, 0\n"
    "  JMP fwd\n"
    "  GEI r0, -5, 1\n"
    "  JMP fwd\n"
    "  TEST r0, 1\n"
    "  JMP fwd\n"
    "  TEST r0, 0\n"
    "  JMP fwd\n"
    "  LOOPLT r0, r1, 3\n"
    "  JMP top\n"
    "  lonely: JMP lonely\n"
    "fwd:\n"
    "  CALL r4, 2\n"
    "  CALL r4, 0\n"
    "  MULTIFN r0, r5, 2\n"
    "  VECTOR r0, r5, 2\n"
    "  VECTOR r1, r1, 0\n"
    "  SELF r2\n"
    "  TRY r3, top\n"
    "  ENDTRY\n"
    "  TAILCALL r4, 5\n"
    "  THROW r1\n"
    ".end\n";

Test(roundtrip, every_opcode)
{
    char *d = roundtrip("opcodes.ivs", every_opcode, strlen(every_opcode));
    /* every mnemonic shows up in the disassembly */
    for (int op = 0; op < IVM_OP_COUNT; op++) {
        const char *name = t_fmt(" %s ", ivm_op_table[op].name);
        const char *bare = t_fmt(" %s\n", ivm_op_table[op].name); /* no operands */
        cr_assert(strstr(d, name) || strstr(d, bare), "%s missing from the disassembly:\n%s", name, d);
    }
}

/* Prototype names that cannot serve as IDs, duplicates and collisions
 * with the generated _pN IDs. */
Test(roundtrip, awkward_prototype_names)
{
    roundtrip_text("names.ivs",
                   ".proto a name=\"dup\"\n  RET r0\n.end\n"
                   ".proto b name=\"dup\"\n  RET r0\n.end\n"
                   ".proto c name=\"k1\"\n  RET r0\n.end\n"
                   ".proto d name=\"nil\"\n  RET r0\n.end\n"
                   ".proto e name=\".end\"\n  RET r0\n.end\n"
                   ".proto f name=\"has space\"\n  RET r0\n.end\n"
                   ".proto g name=\"_p0\"\n  RET r0\n.end\n"
                   ".proto h name=\"42\"\n  RET r0\n.end\n"
                   ".proto i name=\"\"\n  RET r0\n.end\n"
                   ".proto j name=\"quote\\\"d\\n\"\n  RET r0\n.end\n"
                   ".proto k anonymous\n  RET r0\n.end\n"
                   ".proto main\n  .const #proto a\n  .const #proto b\n  .const #proto c\n"
                   "  .const #proto d\n  .const #proto e\n  .const #proto f\n  .const #proto g\n"
                   "  .const #proto h\n  .const #proto i\n  .const #proto j\n  .const #proto k\n"
                   "  CLOSURE r0, k0\n  CLOSURE r0, k6\n  CLOSURE r0, k10\n  RET r0\n.end\n");
}

/* Wide programs: constant indices past 255 (the 16-bit Bx field), many
 * registers, a long jump. */
Test(roundtrip, wide_program)
{
    ivm_buf b = {0};
    char line[64];
    ivm_buf_add_cstr(&b, ".source \"\"\n.proto main regs=255\n");
    for (int i = 0; i < 300; i++) {
        snprintf(line, sizeof line, "  .const %d\n", i * 1000);
        ivm_buf_add_cstr(&b, line);
    }
    ivm_buf_add_cstr(&b, "  LOADK r254, k299\n  JMP far\n");
    for (int i = 0; i < 2000; i++) {
        snprintf(line, sizeof line, "  MOVE r%d, r%d\n", i % 255, (i * 7) % 255);
        ivm_buf_add_cstr(&b, line);
    }
    ivm_buf_add_cstr(&b, "far:\n  RET r254\n.end\n");
    char *text = t_strndup(b.data, b.len);
    ivm_buf_free(&b);
    roundtrip_text("wide.ivs", text);
    t_expect(text, "299000");
}

/* ---- Assembler errors -------------------------------------------------- */

static void expect_asm_error(const char *text, const char *message)
{
    ivm_buf out = {0}, err = {0};
    bool ok = ivm_assemble(t_vm(), text, strlen(text), "e.ivs", &out, &err);
    cr_assert_not(ok, "assembled, expected \"%s\"\n--- program ---\n%s", message, text);
    cr_assert_str_eq(err.data, message, "\n--- program ---\n%s", text);
    ivm_buf_free(&out);
    ivm_buf_free(&err);
}

Test(roundtrip, assembler_errors)
{
    expect_asm_error(".proto main\n  FROB r0\n.end\n", "e.ivs:2:3: unknown instruction FROB");
    expect_asm_error(".proto main\n  MOVE r0\n  RET r0\n.end\n", "e.ivs:2:10: MOVE takes 2 operands");
    expect_asm_error(".proto main\n  MOVE r0, r1, r2\n  RET r0\n.end\n", "e.ivs:2:14: MOVE takes 2 operands");
    expect_asm_error(".proto main\n  MOVE r256, r1\n  RET r0\n.end\n", "e.ivs:2:8: register out of range (0..255)");
    expect_asm_error(".proto main\n  MOVE r0 r1\n  RET r0\n.end\n", "e.ivs:2:11: expected ',' between operands");
    expect_asm_error(".proto main\n  JMP nowhere\n.end\n", "e.ivs:2:7: undefined label nowhere");
    /* found by tests/fuzz/run asm: the assembler wrote a file the loader refused */
    expect_asm_error(".proto main\n  .const 'println\n  GETGLOBAL r0, k4\n  LOADK r1, k0\n  RET r0\n.end\n",
                     "e.ivs:3:17: constant k4 does not exist (the prototype has 1 constant)");
    expect_asm_error(".proto main\n  LOADK r0, k0\n  RET r0\n.end\n",
                     "e.ivs:2:13: constant k0 does not exist (the prototype has 0 constants)");
    /* found by tests/fuzz/run asm: regs= smaller than the registers used */
    expect_asm_error(".proto main regs=2\n  LOADI r2, 0\n  RET r0\n.end\n",
                     "e.ivs:2:9: register r2 is past the prototype's regs=2");
    expect_asm_error(".proto main\nx:\nx:\n  RET r0\n.end\n", "e.ivs:3:1: duplicate label x");
    expect_asm_error(".proto main\n  CLOSURE r0, later\n  RET r0\n.end\n.proto later\n  RET r0\n.end\n",
                     "e.ivs:2:15: define prototype later before the function that uses it");
    expect_asm_error(".proto main\n  CLOSURE r0, nope\n  RET r0\n.end\n", "e.ivs:2:15: undefined prototype nope");
    expect_asm_error(".proto main\n  RET r0\n", "e.ivs:3:1: missing .end of prototype main");
    expect_asm_error(".proto main\n.proto inner\n", "e.ivs:2:1: missing .end of prototype main");
    expect_asm_error("  RET r0\n", "e.ivs:1:3: instruction outside .proto");
    expect_asm_error(".proto main\n  LOADK r0, \"bad \\q\"\n  RET r0\n.end\n", "e.ivs:2:18: unknown escape in string");
    expect_asm_error(".proto main\n  LOADK r0, \"open\n  RET r0\n.end\n", "e.ivs:2:13: unterminated string");
    expect_asm_error(".proto main\n  LOADK r0, 9223372036854775808\n  RET r0\n.end\n", "e.ivs:2:13: integer out of range");
    expect_asm_error(".proto main\n  LOADK r0, -9223372036854775809\n  RET r0\n.end\n", "e.ivs:2:13: integer out of range");
    expect_asm_error(".proto main\n  LOADI r0, 32768\n  RET r0\n.end\n", "e.ivs:2:13: immediate out of range (-32768..32767)");
    expect_asm_error(".proto main\n  ADDI r0, r0, 128\n  RET r0\n.end\n", "e.ivs:2:16: immediate out of range (-128..127)");
    expect_asm_error(".proto main\n  EQ r0, r0, 2\n  JMP x\nx:\n  RET r0\n.end\n", "e.ivs:2:14: flag out of range (0..1)");
    expect_asm_error(".frob\n", "e.ivs:1:1: unknown directive .frob");
    expect_asm_error("", "e.ivs:1:1: no prototypes (expected .proto)");
    expect_asm_error("; only a comment\n", "e.ivs:2:1: no prototypes (expected .proto)");
    expect_asm_error(".proto main params=1 params=2\n  RET r0\n.end\n", "e.ivs:1:22: duplicate attribute params");
    expect_asm_error(".entry nope\n.proto main\n  RET r0\n.end\n", "e.ivs:1:8: undefined prototype nope");
    expect_asm_error(".proto main\n  LOADK r0, (1 2\n  RET r0\n.end\n", "e.ivs:2:13: unterminated list");
    expect_asm_error(".proto main\n  LOADK r0, \\nope\n  RET r0\n.end\n", "e.ivs:2:13: unknown character name \\nope");
    expect_asm_error(".proto main\n  .line 1\n  RET r0\n  .line 2\n.end\n", "e.ivs:4:3: .line after the last instruction");
    /* lines and columns count from 1, columns in characters */
    expect_asm_error("\n\n.proto main\n  LOADK r0, \"\xc3\xa9\" FROB\n.end\n",
                     "e.ivs:4:17: unexpected text at the end of the line");
}

/* ---- Through the CLI --------------------------------------------------- */

static void cli_roundtrip(const char *source_path, const char *tag)
{
    const char *dir = t_temp_dir();
    char *a = t_path(dir, t_fmt("%s-a.ivc", tag));
    char *b = t_path(dir, t_fmt("%s-b.ivc", tag));
    char *dis = t_path(dir, t_fmt("%s-d.ivs", tag));
    char *dis2 = t_path(dir, t_fmt("%s-d2.ivs", tag));
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "asm", source_path, "-o", a, NULL), 0, "asm %s: %s", source_path, p.err);
    cr_assert_str_eq(p.out, "");
    cr_assert_eq(t_ivm(&p, NULL, "disasm", a, NULL), 0, "disasm: %s", p.err);
    t_write_file(dis, p.out, p.out_len);
    const char *text = p.out;
    cr_assert_eq(t_ivm(&p, dis, "asm", "-", "-o", b, NULL), 0, "asm -: %s", p.err);
    size_t alen, blen;
    uint8_t *ad = t_read_file(a, &alen), *bd = t_read_file(b, &blen);
    cr_assert_eq(alen, blen, "%s: %zu bytes, then %zu", source_path, alen, blen);
    cr_assert_arr_eq(ad, bd, alen, "%s: the bytes changed in the round trip", source_path);
    /* disasm -o writes the same text */
    cr_assert_eq(t_ivm(&p, NULL, "disasm", b, "-o", dis2, NULL), 0, "%s", p.err);
    cr_assert_str_eq((const char *)t_read_file(dis2, NULL), text);
    /* and the CLI's assembler agrees with the library */
    size_t slen;
    const char *src = (const char *)t_read_file(source_path, &slen);
    ivm_buf lib = {0}, err = {0};
    cr_assert(ivm_assemble(t_vm(), src, slen, source_path, &lib, &err));
    cr_assert_eq(lib.len, alen);
    cr_assert_arr_eq(lib.data, ad, alen);
    ivm_buf_free(&lib);
    ivm_buf_free(&err);
}

Test(roundtrip, cli_examples)
{
    char **paths;
    size_t n = t_examples(&paths);
    for (size_t i = 0; i < n; i++)
        cli_roundtrip(paths[i], t_fmt("ex%zu", i));
}

Test(roundtrip, cli_every_constant_and_opcode)
{
    const char *dir = t_temp_dir();
    char *c = t_path(dir, "constants.ivs"), *o = t_path(dir, "opcodes.ivs");
    t_write_file(c, every_constant, strlen(every_constant));
    t_write_file(o, every_opcode, strlen(every_opcode));
    cli_roundtrip(c, "c");
    cli_roundtrip(o, "o");
}

Test(roundtrip, cli_default_output_name)
{
    const char *dir = t_temp_dir();
    char *src = t_path(dir, "prog.ivs");
    static const char text[] = ".proto main\n  LOADI r0, 3\n  RET r0\n.end\n";
    t_write_file(src, text, strlen(text));
    t_proc p;
    cr_assert_eq(t_ivm(&p, NULL, "asm", src, NULL), 0, "%s", p.err);
    size_t len;
    uint8_t *ivc = t_read_file(t_path(dir, "prog.ivc"), &len);
    cr_assert(len > 16 && memcmp(ivc, "\x7fIVC", 4) == 0, "prog.ivc was not written");
}
