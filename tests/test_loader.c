/* The .ivc loader and verifier (src/bytecode/load.c, format in
 * include/ivm/ivc.h): every kind of malformed file is refused with its
 * message and the byte offset where the problem is, and nothing crashes.
 * Files are made by a small byte builder here (length field and CRC always
 * recomputed, so that the intended check is the one that fires), or by
 * assembling a valid program and patching it: every prefix of a valid file,
 * bad magic, versions, flags, checksum, length, register / constant / jump /
 * count / capture operands, arity, GETGLOBAL and CLOSURE constant kinds,
 * tests without their JMP, code falling off the end, forward prototype
 * references, invalid UTF-8, constant tags, regex patterns, nesting, line
 * tables, the entry prototype's shape and trailing bytes. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ivm/ivc.h"
#include "ivm/opcodes.h"
#include "support.h"

/* ---- A byte builder ---------------------------------------------------- */

typedef struct bb {
    uint8_t d[8192];
    size_t n;
} bb;

static void u8(bb *b, uint8_t v)
{
    cr_assert(b->n < sizeof b->d);
    b->d[b->n++] = v;
}
static void u16(bb *b, uint16_t v) { u8(b, (uint8_t)v), u8(b, (uint8_t)(v >> 8)); }
static void u32(bb *b, uint32_t v) { u16(b, (uint16_t)v), u16(b, (uint16_t)(v >> 16)); }
static void u64(bb *b, uint64_t v) { u32(b, (uint32_t)v), u32(b, (uint32_t)(v >> 32)); }
static void raw(bb *b, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        u8(b, ((const uint8_t *)p)[i]);
}
static void str(bb *b, const char *s) { u32(b, (uint32_t)strlen(s)), raw(b, s, strlen(s)); }

static void put32_at(uint8_t *d, size_t at, uint32_t v)
{
    d[at] = (uint8_t)v, d[at + 1] = (uint8_t)(v >> 8);
    d[at + 2] = (uint8_t)(v >> 16), d[at + 3] = (uint8_t)(v >> 24);
}

/* Makes the length field and the CRC of a whole file right again. */
static void fix(uint8_t *d, size_t len)
{
    put32_at(d, 12, (uint32_t)len);
    put32_at(d, len - 4, ivm_crc32(d, len - 4));
}

#define ABC(op, a, b, c) IVM_ENCODE_ABC(IVM_OP_##op, a, b, c)
#define ABX(op, a, bx) IVM_ENCODE_ABX(IVM_OP_##op, a, bx)
#define ASBX(op, a, sbx) IVM_ENCODE_ASBX(IVM_OP_##op, a, sbx)
#define SJ(sj) IVM_ENCODE_SJ(IVM_OP_JMP, sj)

typedef struct pspec {
    uint8_t flags;
    const char *name; /* with flags & IVC_PROTO_NAMED */
    uint8_t nparams, nregs, ncaps;
    uint8_t caps[4][2];
    uint32_t nconsts;
    const bb *k; /* the constants' bytes */
    uint32_t ncode;
    uint32_t code[16];
    uint32_t nlines;
    uint32_t lines[4][2];
} pspec;

/* Offsets of each prototype's parts in the last file built. */
static size_t proto_at[8], shape_at[8], consts_at[8], code_at[8], lines_at[8];
static size_t entry_field_at;

static void put_proto(bb *b, size_t i, const pspec *p)
{
    proto_at[i] = b->n;
    u8(b, p->flags);
    if (p->flags & IVC_PROTO_NAMED)
        str(b, p->name);
    shape_at[i] = b->n;
    u8(b, p->nparams), u8(b, p->nregs), u8(b, p->ncaps);
    for (int c = 0; c < p->ncaps; c++)
        u8(b, p->caps[c][0]), u8(b, p->caps[c][1]);
    u32(b, p->nconsts);
    consts_at[i] = b->n;
    if (p->k)
        raw(b, p->k->d, p->k->n);
    u32(b, p->ncode);
    code_at[i] = b->n;
    for (uint32_t c = 0; c < p->ncode; c++)
        u32(b, p->code[c]);
    u32(b, p->nlines);
    lines_at[i] = b->n;
    for (uint32_t l = 0; l < p->nlines; l++)
        u32(b, p->lines[l][0]), u32(b, p->lines[l][1]);
}

/* A whole file: the given prototypes, entry, source; length and CRC set. */
static size_t build(bb *b, const char *source, uint32_t entry, size_t n, const pspec *protos)
{
    b->n = 0;
    raw(b, IVC_MAGIC, 4);
    u16(b, IVC_VERSION_MAJOR), u16(b, IVC_VERSION_MINOR);
    u32(b, 0), u32(b, 0);
    str(b, source);
    u32(b, (uint32_t)n);
    entry_field_at = b->n;
    u32(b, entry);
    for (size_t i = 0; i < n; i++)
        put_proto(b, i, &protos[i]);
    u32(b, 0);
    fix(b->d, b->n);
    return b->n;
}

/* An entry prototype that returns 42. */
static const pspec ret42 = {.nregs = 1, .ncode = 2, .code = {ASBX(LOADI, 0, 42), ABC(RET, 0, 0, 0)}};

/* main = the code given, with `regs` registers and the constants in k. */
static size_t build_main(bb *b, uint8_t regs, const bb *k, uint32_t nconsts, uint32_t ncode,
                         const uint32_t *code)
{
    pspec p = {.nregs = regs, .k = k, .nconsts = nconsts, .ncode = ncode};
    if (ncode)
        memcpy(p.code, code, ncode * sizeof *code);
    return build(b, "t.iv", 0, 1, &p);
}

/* ---- Checking ---------------------------------------------------------- */

static ivm_load_error try_load(const uint8_t *d, size_t len, bool *ok)
{
    ivm_load_error e;
    memset(&e, 0x55, sizeof e);
    const ivm_module *m = NULL;
    *ok = ivm_load(t_vm(), d, len, &m, &e);
    return e;
}

static void expect_refused(const uint8_t *d, size_t len, size_t offset, const char *message)
{
    bool ok;
    ivm_load_error e = try_load(d, len, &ok);
    cr_assert_not(ok, "accepted a file that should fail with \"%s\"", message);
    cr_assert_str_eq(e.message, message, "message \"%s\" at byte %zu; expected \"%s\" at byte %zu",
                     e.message, e.offset, message, offset);
    cr_assert_eq(e.offset, offset, "\"%s\" reported at byte %zu, expected byte %zu", message,
                 e.offset, offset);
}

static const ivm_module *expect_loads(const uint8_t *d, size_t len)
{
    ivm_load_error e;
    const ivm_module *m = NULL;
    bool ok = ivm_load(t_vm(), d, len, &m, &e);
    cr_assert(ok, "refused at byte %zu: %s", e.offset, e.message);
    return m;
}

static ivm_value run_module(const ivm_module *m)
{
    ivm_value r = IVM_NIL;
    cr_assert_eq(ivm_call(t_vm(), ivm_module_entry(t_vm(), m), 0, NULL, &r), IVM_OK);
    return r;
}

static uint8_t *assemble_file(const char *text, size_t *len)
{
    ivm_buf ivc = {0};
    t_assemble_ok(t_vm(), text, &ivc);
    uint8_t *d = (uint8_t *)t_strndup(ivc.data, ivc.len);
    *len = ivc.len;
    ivm_buf_free(&ivc);
    return d;
}

/* ---- The builder itself makes loadable files -------------------------- */

Test(loader, builder_sanity)
{
    bb b;
    size_t len = build(&b, "t.iv", 0, 1, &ret42);
    cr_assert_eq(run_module(expect_loads(b.d, len)), ivm_fixnum(42));
    /* and the writer gives back the same bytes */
    const ivm_module *m = expect_loads(b.d, len);
    ivm_buf out = {0};
    ivm_write_ivc(m, &out);
    cr_assert_eq(out.len, len);
    cr_assert_arr_eq(out.data, b.d, len);
    ivm_buf_free(&out);
}

/* ---- The header -------------------------------------------------------- */

Test(loader, every_prefix_of_a_valid_file_is_refused)
{
    size_t len;
    uint8_t *full = assemble_file(".source \"p.iv\"\n.proto f params=1\n  .line 3\n  ADDI r1, r0, 1\n"
                                  "  RET r1\n.end\n.proto main\n  CLOSURE r0, f\n  LOADK r1, (1 \"s\" :k)\n"
                                  "  GETGLOBAL r2, println\n  LOADK r3, 2.5\n  RET r1\n.end\n", &len);
    expect_loads(full, len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *d = malloc(n ? n : 1);
        memcpy(d, full, n);
        bool ok;
        ivm_load_error e = try_load(d, n, &ok);
        free(d);
        cr_assert_not(ok, "a %zu-byte prefix loaded", n);
        const char *want;
        size_t at;
        if (n < 4)
            want = "not an ivm bytecode file (bad magic number)", at = 0;
        else if (n < 8)
            want = "unexpected end of file", at = n;
        else if (n < 12)
            want = "unexpected end of file", at = 8;
        else if (n < 16)
            want = "unexpected end of file", at = 12;
        else
            want = t_fmt("file length field says %zu bytes but the file has %zu", len, n), at = 12;
        cr_assert_str_eq(e.message, want, "prefix %zu", n);
        cr_assert_eq(e.offset, at, "prefix %zu: offset %zu", n, e.offset);
    }
    /* with the length field and CRC made right, every shortened body is
     * still refused (by the parser, at some byte inside the file) */
    for (size_t n = 16; n < len - 4; n++) {
        uint8_t *d = malloc(n + 4);
        memcpy(d, full, n);
        fix(d, n + 4);
        bool ok;
        ivm_load_error e = try_load(d, n + 4, &ok);
        free(d);
        cr_assert_not(ok, "a body of %zu bytes loaded", n);
        cr_assert_leq(e.offset, n + 4, "body %zu: offset %zu", n, e.offset);
        cr_assert_neq(e.message[0], '\0');
    }
}

Test(loader, bad_magic)
{
    bb b;
    size_t len = build(&b, "", 0, 1, &ret42);
    b.d[3] = 'D';
    fix(b.d, len);
    expect_refused(b.d, len, 0, "not an ivm bytecode file (bad magic number)");
    expect_refused((const uint8_t *)"hello, world", 12, 0, "not an ivm bytecode file (bad magic number)");
    expect_refused((const uint8_t *)"", 0, 0, "not an ivm bytecode file (bad magic number)");
}

Test(loader, versions)
{
    size_t len;
    uint8_t *d = assemble_file(".proto main\n  RET r0\n.end\n", &len);
    d[4] = 2, d[5] = 0, d[6] = 0, d[7] = 0;
    fix(d, len);
    expect_refused(d, len, 4, "bytecode format version 2.0 is newer than this ivm supports (1.0)");
    d[4] = 1, d[6] = 1;
    fix(d, len);
    expect_refused(d, len, 4, "bytecode format version 1.1 is newer than this ivm supports (1.0)");
    d[4] = 0x01, d[5] = 0x01, d[6] = 0;
    fix(d, len);
    expect_refused(d, len, 4, "bytecode format version 257.0 is newer than this ivm supports (1.0)");
    d[4] = 0, d[5] = 0, d[6] = 9;
    fix(d, len);
    expect_refused(d, len, 4, "unsupported bytecode format version 0.9 (this ivm supports 1.0)");
    d[4] = 1, d[6] = 0;
    fix(d, len);
    expect_loads(d, len);
}

Test(loader, flags_checksum_and_length)
{
    bb b;
    size_t len = build(&b, "src", 0, 1, &ret42);
    b.d[8] = 1;
    fix(b.d, len);
    expect_refused(b.d, len, 8, "unknown file flags");
    b.d[8] = 0;
    fix(b.d, len);

    /* a damaged byte anywhere in the body, CRC not recomputed */
    for (size_t i = 16; i < len - 4; i++) {
        b.d[i] ^= 0x40;
        expect_refused(b.d, len, len - 4, "checksum mismatch: the file is damaged");
        b.d[i] ^= 0x40;
    }
    /* a damaged CRC */
    b.d[len - 1] ^= 1;
    expect_refused(b.d, len, len - 4, "checksum mismatch: the file is damaged");
    b.d[len - 1] ^= 1;
    expect_loads(b.d, len);

    /* the length field disagrees with the file */
    put32_at(b.d, 12, (uint32_t)len + 1);
    put32_at(b.d, len - 4, ivm_crc32(b.d, len - 4));
    expect_refused(b.d, len, 12, t_fmt("file length field says %zu bytes but the file has %zu",
                                       len + 1, len));
    /* a byte appended */
    fix(b.d, len);
    b.d[len] = 0;
    expect_refused(b.d, len + 1, 12, t_fmt("file length field says %zu bytes but the file has %zu",
                                           len, len + 1));
}

Test(loader, file_structure)
{
    bb b;
    /* no prototypes */
    build(&b, "", 0, 0, NULL);
    expect_refused(b.d, b.n, 20, "the file has no prototypes");
    /* entry out of range */
    size_t len = build(&b, "", 3, 1, &ret42);
    expect_refused(b.d, len, entry_field_at, "entry prototype 3 out of range (1 prototypes)");
    /* bytes after the last prototype (before the CRC) */
    len = build(&b, "", 0, 1, &ret42);
    memmove(b.d + len - 3, b.d + len - 4, 4);
    b.d[len - 4] = 0;
    fix(b.d, len + 1);
    expect_refused(b.d, len + 1, len - 4, "unexpected bytes after the last prototype");
    /* a prototype count larger than the file could hold */
    len = build(&b, "", 0, 1, &ret42);
    put32_at(b.d, 20, 1000);
    fix(b.d, len);
    expect_refused(b.d, len, 20, "prototype count runs past the end of the file");
    /* a source name running past the end */
    len = build(&b, "abc", 0, 1, &ret42);
    put32_at(b.d, 16, 5000);
    fix(b.d, len);
    expect_refused(b.d, len, 16, "length runs past the end of the file");
}

Test(loader, invalid_utf8)
{
    static const char *const bad[] = {
        "\xff", "a\x80", "\xc0\x80" /* overlong NUL */, "\xe0\x80\x80",
        "\xed\xa0\x80" /* a surrogate */, "\xf4\x90\x80\x80" /* past U+10FFFF */,
        "\xe2\x82" /* cut short */, "ok\xc3",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bb b, k = {.n = 0};
        u8(&k, IVC_STRING), str(&k, bad[i]);
        build_main(&b, 1, &k, 1, 1, (uint32_t[]){ABC(RET, 0, 0, 0)});
        expect_refused(b.d, b.n, consts_at[0] + 1, "text is not valid UTF-8");
        /* the same bytes as a source name, a prototype name, a symbol */
        build(&b, bad[i], 0, 1, &ret42);
        expect_refused(b.d, b.n, 16, "text is not valid UTF-8");
        pspec named = ret42;
        named.flags = IVC_PROTO_NAMED;
        named.name = bad[i];
        build(&b, "", 0, 1, &named);
        expect_refused(b.d, b.n, proto_at[0] + 1, "text is not valid UTF-8");
        k.n = 0;
        u8(&k, IVC_SYMBOL), str(&k, bad[i]);
        build_main(&b, 1, &k, 1, 1, (uint32_t[]){ABC(RET, 0, 0, 0)});
        expect_refused(b.d, b.n, consts_at[0] + 1, "text is not valid UTF-8");
    }
    /* valid multi-byte text is fine */
    bb b, k = {.n = 0};
    u8(&k, IVC_STRING), str(&k, "h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    build_main(&b, 1, &k, 1, 2, (uint32_t[]){ABX(LOADK, 0, 0), ABC(RET, 0, 0, 0)});
    cr_assert_str_eq(t_pr(t_vm(), run_module(expect_loads(b.d, b.n)), true),
                     "\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

/* ---- Constants --------------------------------------------------------- */

Test(loader, constants)
{
    bb b, k;
    /* unknown tag */
    k.n = 0;
    u8(&k, IVC_NIL), u8(&k, IVC_TAG_COUNT);
    build_main(&b, 1, &k, 2, 1, (uint32_t[]){ABC(RET, 0, 0, 0)});
    expect_refused(b.d, b.n, consts_at[0] + 1, "unknown constant tag 13");
    /* a regex is compiled as it loads: a bad pattern is refused there */
    k.n = 0;
    u8(&k, IVC_REGEX), str(&k, "a\\d+\"");
    build_main(&b, 1, &k, 1, 2, (uint32_t[]){ABX(LOADK, 0, 0), ABC(RET, 0, 0, 0)});
    cr_assert_str_eq(t_pr(t_vm(), run_module(expect_loads(b.d, b.n)), true), "#\"a\\d+\\\"\"");
    k.n = 0;
    u8(&k, IVC_REGEX), str(&k, "a(");
    build_main(&b, 1, &k, 1, 1, (uint32_t[]){ABC(RET, 0, 0, 0)});
    expect_refused(b.d, b.n, consts_at[0],
                   "regex constant: missing closing parenthesis near index 2 in regex #\"a(\"");
    k.n = 0;
    u8(&k, IVC_REGEX), str(&k, "\xc3");
    build_main(&b, 1, &k, 1, 1, (uint32_t[]){ABC(RET, 0, 0, 0)});
    expect_refused(b.d, b.n, consts_at[0] + 1, "text is not valid UTF-8");
    /* characters must be Unicode scalar values */
    k.n = 0;
    u8(&k, IVC_CHAR), u32(&k, 0xd800);
    build_main(&b, 1, &k, 1, 1, (uint32_t[]){ABC(RET, 0, 0, 0)});
    expect_refused(b.d, b.n, consts_at[0], "character 55296 is not a Unicode scalar value");
    k.n = 0;
    u8(&k, IVC_CHAR), u32(&k, 0x110000);
    build_main(&b, 1, &k, 1, 1, (uint32_t[]){ABC(RET, 0, 0, 0)});
    expect_refused(b.d, b.n, consts_at[0], "character 1114112 is not a Unicode scalar value");
    /* empty names */
    k.n = 0;
    u8(&k, IVC_KEYWORD), str(&k, "");
    build_main(&b, 1, &k, 1, 1, (uint32_t[]){ABC(RET, 0, 0, 0)});
    expect_refused(b.d, b.n, consts_at[0], "empty symbol or keyword");
    /* a constant count past the end of the file */
    build_main(&b, 1, NULL, 0xffffffffu, 1, (uint32_t[]){ABC(RET, 0, 0, 0)});
    expect_refused(b.d, b.n, consts_at[0] - 4, "constant count runs past the end of the file");
    /* a list longer than the file */
    k.n = 0;
    u8(&k, IVC_LIST), u32(&k, 100000);
    build_main(&b, 1, &k, 1, 1, (uint32_t[]){ABC(RET, 0, 0, 0)});
    expect_refused(b.d, b.n, consts_at[0] + 1, "list length runs past the end of the file");
    /* bytes longer than the file */
    k.n = 0;
    u8(&k, IVC_BYTES), u32(&k, 100000);
    build_main(&b, 1, &k, 1, 1, (uint32_t[]){ABC(RET, 0, 0, 0)});
    expect_refused(b.d, b.n, consts_at[0] + 1, "length runs past the end of the file");
    /* a constant cut short by the end of the body: the integer's 8 bytes
     * take 2 of its own, ncode and 2 bytes of nlines, leaving 2 bytes where
     * ncode is then read */
    k.n = 0;
    u8(&k, IVC_INT), u16(&k, 7);
    build_main(&b, 1, &k, 1, 0, NULL);
    expect_refused(b.d, b.n, b.n - 4 - 2, "unexpected end of file");
}

/* Lists nest at most IVC_MAX_NESTING deep. */
Test(loader, constant_nesting)
{
    for (int depth = 60; depth <= 70; depth++) {
        bb b, k = {.n = 0};
        for (int i = 0; i < depth; i++)
            u8(&k, IVC_LIST), u32(&k, 1);
        u8(&k, IVC_NIL);
        build_main(&b, 1, &k, 1, 1, (uint32_t[]){ABC(RET, 0, 0, 0)});
        bool ok;
        ivm_load_error e = try_load(b.d, b.n, &ok);
        /* depth lists around nil: nil sits at nesting depth `depth` */
        if (depth <= IVC_MAX_NESTING) {
            cr_assert(ok, "%d nested lists refused: %s", depth, e.message);
        } else {
            cr_assert_not(ok, "%d nested lists accepted", depth);
            cr_assert_str_eq(e.message, "constant nested too deeply");
            cr_assert_eq(e.offset, consts_at[0] + 5 * (IVC_MAX_NESTING + 1), "depth %d", depth);
        }
    }
}

Test(loader, prototype_constants_refer_only_backwards)
{
    bb b, k = {.n = 0};
    /* proto 0 refers to proto 1 */
    u8(&k, IVC_PROTO), u32(&k, 1);
    pspec two[2] = {
        {.nregs = 1, .k = &k, .nconsts = 1, .ncode = 1, .code = {ABC(RET, 0, 0, 0)}},
        ret42,
    };
    build(&b, "", 1, 2, two);
    expect_refused(b.d, b.n, consts_at[0], "prototype constant 1 does not name an earlier prototype");
    /* a prototype refers to itself */
    k.n = 0;
    u8(&k, IVC_PROTO), u32(&k, 0);
    build(&b, "", 0, 1, &two[0]);
    expect_refused(b.d, b.n, consts_at[0], "prototype constant 0 does not name an earlier prototype");
    /* backwards is fine, and CLOSURE of it runs */
    k.n = 0;
    u8(&k, IVC_PROTO), u32(&k, 0);
    pspec ok2[2] = {
        ret42,
        {.nregs = 1, .k = &k, .nconsts = 1, .ncode = 3,
         .code = {ABX(CLOSURE, 0, 0), ABC(CALL, 0, 0, 0), ABC(RET, 0, 0, 0)}},
    };
    build(&b, "", 1, 2, ok2);
    cr_assert_eq(run_module(expect_loads(b.d, b.n)), ivm_fixnum(42));
}

/* ---- Prototypes -------------------------------------------------------- */

Test(loader, prototype_shape)
{
    bb b;
    pspec p = ret42;
    p.flags = 4;
    build(&b, "", 0, 1, &p);
    expect_refused(b.d, b.n, proto_at[0], "unknown prototype flags 4");

    p = ret42;
    p.nregs = 0;
    build(&b, "", 0, 1, &p);
    expect_refused(b.d, b.n, shape_at[0], "too few registers (0) for the parameters (0)");

    /* nregs < nparams, in a non-entry prototype */
    pspec two[2] = {ret42, ret42};
    two[0].nparams = 2, two[0].nregs = 1;
    build(&b, "", 1, 2, two);
    expect_refused(b.d, b.n, shape_at[0], "too few registers (1) for the parameters (2)");
    /* a variadic function needs a register for the rest */
    two[0].flags = IVC_PROTO_VARIADIC, two[0].nparams = 1, two[0].nregs = 1;
    build(&b, "", 1, 2, two);
    expect_refused(b.d, b.n, shape_at[0], "too few registers (1) for the parameters (2)");
    two[0].nregs = 2;
    build(&b, "", 1, 2, two);
    expect_loads(b.d, b.n);

    /* no code */
    p = ret42;
    p.ncode = 0;
    build(&b, "", 0, 1, &p);
    expect_refused(b.d, b.n, code_at[0] - 4, "a function has no code");
    /* a code length larger than the file */
    p = ret42;
    build(&b, "", 0, 1, &p);
    put32_at(b.d, code_at[0] - 4, 1000);
    fix(b.d, b.n);
    expect_refused(b.d, b.n, code_at[0] - 4, "code length runs past the end of the file");

    /* unknown capture kind */
    p = ret42;
    p.ncaps = 1, p.caps[0][0] = 2, p.caps[0][1] = 0;
    two[0] = p, two[1] = ret42;
    build(&b, "", 1, 2, two);
    expect_refused(b.d, b.n, shape_at[0] + 3, "unknown capture kind 2");
}

Test(loader, line_tables)
{
    bb b;
    pspec p = ret42;
    p.nlines = 2, p.lines[0][0] = 0, p.lines[0][1] = 5, p.lines[1][0] = 1, p.lines[1][1] = 6;
    build(&b, "", 0, 1, &p);
    expect_loads(b.d, b.n);
    p.lines[1][0] = 0; /* not increasing */
    build(&b, "", 0, 1, &p);
    expect_refused(b.d, b.n, lines_at[0] + 8, "line table entry for pc 0 is out of order or past the code");
    p.nlines = 1, p.lines[0][0] = 2; /* past the code */
    build(&b, "", 0, 1, &p);
    expect_refused(b.d, b.n, lines_at[0], "line table entry for pc 2 is out of order or past the code");
    /* a line table longer than the file */
    p.nlines = 1, p.lines[0][0] = 0;
    build(&b, "", 0, 1, &p);
    put32_at(b.d, lines_at[0] - 4, 0x10000000);
    fix(b.d, b.n);
    expect_refused(b.d, b.n, lines_at[0] - 4, "line table runs past the end of the file");
}

Test(loader, the_entry_prototype)
{
    bb b;
    pspec p = ret42;
    p.nparams = 1;
    build(&b, "", 0, 1, &p);
    expect_refused(b.d, b.n, entry_field_at,
                   "the entry prototype must take no parameters and capture nothing");
    p = ret42;
    p.flags = IVC_PROTO_VARIADIC;
    build(&b, "", 0, 1, &p);
    expect_refused(b.d, b.n, entry_field_at,
                   "the entry prototype must take no parameters and capture nothing");
    p = ret42;
    p.ncaps = 1;
    build(&b, "", 0, 1, &p);
    expect_refused(b.d, b.n, entry_field_at,
                   "the entry prototype must take no parameters and capture nothing");
}

/* ---- Instructions ------------------------------------------------------ */

/* main with 2 registers and constants (5 'sym :kw); the instruction under
 * test first, then RET r0. */
static void expect_code_refused(uint32_t ins, const char *message)
{
    bb b, k = {.n = 0};
    u8(&k, IVC_INT), u64(&k, 5);
    u8(&k, IVC_SYMBOL), str(&k, "sym");
    u8(&k, IVC_KEYWORD), str(&k, "kw");
    build_main(&b, 2, &k, 3, 2, (uint32_t[]){ins, ABC(RET, 0, 0, 0)});
    expect_refused(b.d, b.n, code_at[0], message);
}

static void expect_code_loads(uint32_t ins)
{
    bb b, k = {.n = 0};
    u8(&k, IVC_INT), u64(&k, 5);
    u8(&k, IVC_SYMBOL), str(&k, "sym");
    u8(&k, IVC_KEYWORD), str(&k, "kw");
    build_main(&b, 2, &k, 3, 2, (uint32_t[]){ins, ABC(RET, 0, 0, 0)});
    expect_loads(b.d, b.n);
}

Test(loader, register_operands)
{
    expect_code_loads(ABC(MOVE, 1, 0, 0));
    expect_code_refused(ABC(MOVE, 2, 0, 0), "register r2 out of range (the function has 2 registers)");
    expect_code_refused(ABC(MOVE, 0, 255, 0), "register r255 out of range (the function has 2 registers)");
    expect_code_refused(ABC(ADD, 0, 1, 2), "register r2 out of range (the function has 2 registers)");
    expect_code_refused(ABC(NEG, 0, 7, 0), "register r7 out of range (the function has 2 registers)");
    expect_code_refused(ASBX(LOADI, 9, 1), "register r9 out of range (the function has 2 registers)");
    /* the last instruction's register is checked too */
    bb b;
    build_main(&b, 2, NULL, 0, 1, (uint32_t[]){ABC(RET, 2, 0, 0)});
    expect_refused(b.d, b.n, code_at[0], "register r2 out of range (the function has 2 registers)");
}

Test(loader, count_operands)
{
    expect_code_loads(ABC(LOADNIL, 0, 1, 0));
    expect_code_refused(ABC(LOADNIL, 0, 2, 0), "registers up to r2 out of range (the function has 2 registers)");
    expect_code_refused(ABC(LOADNIL, 1, 1, 0), "registers up to r2 out of range (the function has 2 registers)");
    expect_code_refused(ABC(CALL, 0, 2, 0), "registers up to r2 out of range (the function has 2 registers)");
    expect_code_refused(ABC(CALL, 1, 255, 0), "registers up to r256 out of range (the function has 2 registers)");
    /* VECTOR's elements are R[B..B+C-1]; none at all is a valid count */
    expect_code_loads(ABC(VECTOR, 0, 0, 2));
    expect_code_loads(ABC(VECTOR, 0, 1, 1));
    expect_code_loads(ABC(VECTOR, 1, 1, 0));
    expect_code_refused(ABC(VECTOR, 0, 1, 2),
                        "VECTOR needs registers r1 and on inside the function's 2 registers");
    bb b;
    build_main(&b, 2, NULL, 0, 1, (uint32_t[]){ABC(TAILCALL, 1, 1, 0)});
    expect_refused(b.d, b.n, code_at[0], "registers up to r2 out of range (the function has 2 registers)");
}

Test(loader, constant_operands)
{
    expect_code_loads(ABX(LOADK, 0, 2));
    expect_code_refused(ABX(LOADK, 0, 3), "constant k3 out of range (the function has 3 constants)");
    expect_code_refused(ABX(LOADK, 0, 65535), "constant k65535 out of range (the function has 3 constants)");
    /* GETGLOBAL and SETGLOBAL need a symbol */
    expect_code_loads(ABX(SETGLOBAL, 0, 1));
    expect_code_refused(ABX(GETGLOBAL, 0, 0), "constant k0 names no global (not a symbol)");
    expect_code_refused(ABX(GETGLOBAL, 0, 2), "constant k2 names no global (not a symbol)");
    expect_code_refused(ABX(SETGLOBAL, 0, 0), "constant k0 names no global (not a symbol)");
    expect_code_refused(ABX(GETGLOBAL, 0, 3), "constant k3 out of range (the function has 3 constants)");
    /* CLOSURE needs a prototype */
    expect_code_refused(ABX(CLOSURE, 0, 0), "constant k0 is not a prototype");
    expect_code_refused(ABX(CLOSURE, 0, 1), "constant k1 is not a prototype");
}

Test(loader, jumps_flags_and_unused_operands)
{
    expect_code_refused(SJ(1), "jump to 2 outside the function (0..1)");
    expect_code_refused(SJ(-2), "jump to -1 outside the function (0..1)");
    expect_code_refused(SJ(IVM_SJ_MAX), "jump to 8388608 outside the function (0..1)");
    expect_code_refused(SJ(IVM_SJ_MIN), "jump to -8388607 outside the function (0..1)");
    expect_code_loads(SJ(0));
    /* a JMP to itself is a legal (if endless) loop */
    bb b;
    build_main(&b, 1, NULL, 0, 1, (uint32_t[]){SJ(-1)});
    expect_loads(b.d, b.n);
    /* test flags are 0 or 1 */
    build_main(&b, 2, NULL, 0, 3, (uint32_t[]){ABC(EQ, 0, 1, 2), SJ(0), ABC(RET, 0, 0, 0)});
    expect_refused(b.d, b.n, code_at[0], "flag is 2, not 0 or 1");
    build_main(&b, 2, NULL, 0, 3, (uint32_t[]){ABC(TEST, 0, 2, 0), SJ(0), ABC(RET, 0, 0, 0)});
    expect_refused(b.d, b.n, code_at[0], "flag is 2, not 0 or 1");
    /* unused operands must be zero */
    expect_code_refused(ABC(MOVE, 0, 1, 1), "unused operand is 1, not 0");
    expect_code_refused(ABC(LOADTRUE, 0, 3, 0), "unused operand is 3, not 0");
    expect_code_refused(ABC(NOT, 0, 1, 9), "unused operand is 9, not 0");
    build_main(&b, 2, NULL, 0, 1, (uint32_t[]){ABC(RET, 0, 1, 0)});
    expect_refused(b.d, b.n, code_at[0], "unused operand is 1, not 0");
    /* unknown opcodes */
    expect_code_refused(IVM_OP_COUNT, t_fmt("unknown opcode %d", IVM_OP_COUNT));
    expect_code_refused(0xff, "unknown opcode 255");
}

Test(loader, tests_must_be_followed_by_jmp)
{
    bb b;
    static const uint32_t tests[] = {
        ABC(EQ, 0, 1, 1), ABC(LT, 0, 1, 0), ABC(LE, 0, 1, 1), ABC(EQI, 0, 5, 1),
        ABC(LTI, 0, 5, 1), ABC(LEI, 0, 5, 1), ABC(GTI, 0, 5, 1), ABC(GEI, 0, 5, 1),
        ABC(TEST, 0, 1, 0), ABC(LOOPLT, 0, 1, 1),
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        const char *name = ivm_op_table[IVM_GET_OP(tests[i])].name;
        build_main(&b, 2, NULL, 0, 3, (uint32_t[]){tests[i], ABC(RET, 0, 0, 0), ABC(RET, 0, 0, 0)});
        expect_refused(b.d, b.n, code_at[0], "a test instruction must be followed by JMP");
        build_main(&b, 2, NULL, 0, 2, (uint32_t[]){ABC(RET, 0, 0, 0), tests[i]});
        expect_refused(b.d, b.n, code_at[0] + 4, "a test instruction must be followed by JMP");
        build_main(&b, 2, NULL, 0, 3, (uint32_t[]){tests[i], SJ(0), ABC(RET, 0, 0, 0)});
        bool ok;
        ivm_load_error e = try_load(b.d, b.n, &ok);
        cr_assert(ok, "%s followed by JMP refused: %s", name, e.message);
    }
}

Test(loader, code_must_not_fall_off_the_end)
{
    bb b;
    build_main(&b, 1, NULL, 0, 1, (uint32_t[]){ASBX(LOADI, 0, 1)});
    expect_refused(b.d, b.n, code_at[0], "code runs off the end of the function");
    build_main(&b, 2, NULL, 0, 2, (uint32_t[]){ABC(RET, 0, 0, 0), ABC(CALL, 0, 1, 0)});
    expect_refused(b.d, b.n, code_at[0] + 4, "code runs off the end of the function");
    /* RET, TAILCALL and JMP may end a function */
    build_main(&b, 2, NULL, 0, 1, (uint32_t[]){ABC(TAILCALL, 0, 1, 0)});
    expect_loads(b.d, b.n);
    build_main(&b, 1, NULL, 0, 2, (uint32_t[]){ABC(RET, 0, 0, 0), SJ(-2)});
    expect_loads(b.d, b.n);
}

Test(loader, captures)
{
    bb b, k = {.n = 0};
    /* proto 0 captures register 5 and is made by a 2-register main */
    u8(&k, IVC_PROTO), u32(&k, 0);
    pspec two[2] = {
        {.nregs = 1, .ncaps = 1, .caps = {{0, 5}}, .ncode = 2,
         .code = {ABC(GETCAP, 0, 0, 0), ABC(RET, 0, 0, 0)}},
        {.nregs = 2, .k = &k, .nconsts = 1, .ncode = 2,
         .code = {ABX(CLOSURE, 0, 0), ABC(RET, 0, 0, 0)}},
    };
    build(&b, "", 1, 2, two);
    expect_refused(b.d, b.n, code_at[1], "closure captures register 5 but the function has 2 registers");
    two[0].caps[0][1] = 1;
    build(&b, "", 1, 2, two);
    expect_loads(b.d, b.n);
    /* capturing a capture of a function that has none */
    two[0].caps[0][0] = 1, two[0].caps[0][1] = 0;
    build(&b, "", 1, 2, two);
    expect_refused(b.d, b.n, code_at[1], "closure captures capture 0 but the function has 0 captures");
    /* GETCAP beyond the function's own captures */
    two[0].caps[0][0] = 0;
    two[0].code[0] = ABC(GETCAP, 0, 1, 0);
    build(&b, "", 1, 2, two);
    expect_refused(b.d, b.n, code_at[0], "capture 1 out of range (the function has 1 captures)");
    build_main(&b, 1, NULL, 0, 2, (uint32_t[]){ABC(GETCAP, 0, 0, 0), ABC(RET, 0, 0, 0)});
    expect_refused(b.d, b.n, code_at[0], "capture 0 out of range (the function has 0 captures)");
}

/* A file refused for one reason leaves the VM as it was: the next one
 * loads and runs. */
Test(loader, refusal_leaves_the_vm_usable)
{
    bb b;
    for (int i = 0; i < 100; i++) {
        build_main(&b, 2, NULL, 0, 2, (uint32_t[]){ABC(MOVE, 5, 0, 0), ABC(RET, 0, 0, 0)});
        bool ok;
        try_load(b.d, b.n, &ok);
        cr_assert_not(ok);
    }
    cr_assert_eq(t_vm()->rt->nmodules, 0);
    build(&b, "", 0, 1, &ret42);
    cr_assert_eq(run_module(expect_loads(b.d, b.n)), ivm_fixnum(42));
    cr_assert_eq(t_vm()->rt->nmodules, 1);
}
