/* The disassembler: a loaded module as .ivs text (format in asm.h) that
 * the assembler turns back into the same bytes.
 *
 * Everything is printed explicitly (register counts, every constant as a
 * .const line, constant operands as kN), so reassembly depends on none of
 * the assembler's defaults or its constant deduplication; the values shown
 * beside kN operands are comments for people. The module comes from the
 * loader, so it is verified: operands are in range, jumps land inside their
 * function, constants nest at most IVC_MAX_NESTING deep (which bounds the
 * recursion in print_const) and every prototype constant is in the module. */
#include "bytecode/asm.h"
#include "ivm/opcodes.h"
#include "ivm/platform.h"
#include "values/regex.h"

typedef struct disasm {
    const ivm_module *m;
    ivm_buf *out;
    bool *named; /* per prototype: its name is its ID (else _pINDEX) */
} disasm;

static ivm_proto *proto_at(const disasm *d, uint32_t i) { return ivm_as_proto(d->m->protos[i]); }

/* ---- Constants --------------------------------------------------------- */

static void print_string(ivm_buf *out, ivm_value v)
{
    ivm_buf_add_string_literal(out, ivm_as_str(v)->bytes, ivm_as_str(v)->len, true);
}

static bool reads_back(const ivm_buf *text, uint64_t bits)
{
    double d;
    uint64_t back;
    if (!ivm_platform_parse_double(text->data, text->len, &d))
        return false;
    memcpy(&back, &d, sizeof back);
    return back == bits;
}

/* The shortest decimal text when it reads back as the same bits; the
 * canonical infinities and NaN by name; anything else as #float 0xBITS. */
static void print_float(ivm_buf *out, ivm_value v)
{
    uint64_t bits = ivm_float_bits(v);
    if (bits == 0x7ff0000000000000u) {
        ivm_buf_add_cstr(out, "##Inf");
        return;
    }
    if (bits == 0xfff0000000000000u) {
        ivm_buf_add_cstr(out, "##-Inf");
        return;
    }
    if (bits == 0x7ff8000000000000u) {
        ivm_buf_add_cstr(out, "##NaN");
        return;
    }
    ivm_buf text = {0};
    ivm_buf_add_float(&text, ivm_float_value(v));
    if (reads_back(&text, bits)) {
        ivm_buf_add(out, text.data, text.len);
    } else {
        uint8_t big_endian[8];
        for (int i = 0; i < 8; i++)
            big_endian[i] = (uint8_t)(bits >> (56 - 8 * i));
        ivm_buf_add_cstr(out, "#float 0x");
        ivm_buf_add_hex(out, big_endian, 8);
    }
    ivm_buf_free(&text);
}

static void print_char(ivm_buf *out, uint32_t c)
{
    const char *name = ivm_char_name(c);
    if (name) {
        ivm_buf_add_char(out, '\\');
        ivm_buf_add_cstr(out, name);
    } else if (c > ' ' && c < 0x7f) {
        ivm_buf_add_char(out, '\\');
        ivm_buf_add_char(out, (char)c);
    } else {
        ivm_buf_add_cstr(out, "#char ");
        ivm_buf_add_int(out, c);
    }
}

/* 'name and :name, or #symbol "..." and #keyword "..." for names that
 * cannot be written bare. */
static void print_name(ivm_buf *out, ivm_value v, bool keyword)
{
    const ivm_str *s = ivm_as_str(v);
    if (ivm_asm_plain_name(s->bytes, s->len)) {
        ivm_buf_add_char(out, keyword ? ':' : '\'');
        ivm_buf_add(out, s->bytes, s->len);
    } else {
        ivm_buf_add_cstr(out, keyword ? "#keyword " : "#symbol ");
        print_string(out, v);
    }
}

static void print_bytes(ivm_buf *out, ivm_value v)
{
    const ivm_str *s = ivm_as_str(v);
    ivm_buf_add_cstr(out, "#bytes \"");
    ivm_buf_add_hex(out, s->bytes, s->len);
    ivm_buf_add_char(out, '"');
}

static void print_id(const disasm *d, uint32_t i)
{
    if (d->named[i]) {
        const ivm_str *name = ivm_as_str(proto_at(d, i)->name);
        ivm_buf_add(d->out, name->bytes, name->len);
    } else {
        ivm_buf_add_cstr(d->out, "_p");
        ivm_buf_add_int(d->out, i);
    }
}

static uint32_t proto_index(const disasm *d, ivm_value proto)
{
    uint32_t i = 0;
    while (d->m->protos[i] != proto)
        i++;
    return i;
}

static void print_const(const disasm *d, ivm_value v)
{
    ivm_buf *out = d->out;
    switch (ivm_type_of(v)) {
    case IVM_T_NIL: ivm_buf_add_cstr(out, "nil"); break;
    case IVM_T_BOOL: ivm_buf_add_cstr(out, v == IVM_TRUE ? "true" : "false"); break;
    case IVM_T_INT: ivm_buf_add_int(out, ivm_int_value(v)); break;
    case IVM_T_FLOAT: print_float(out, v); break;
    case IVM_T_CHAR: print_char(out, ivm_imm_payload(v)); break;
    case IVM_T_STRING: print_string(out, v); break;
    case IVM_T_SYMBOL: print_name(out, v, false); break;
    case IVM_T_KEYWORD: print_name(out, v, true); break;
    case IVM_T_BYTES: print_bytes(out, v); break;
    case IVM_T_REGEX:
        ivm_buf_add_cstr(out, "#regex ");
        print_string(out, ivm_as_regex(v)->pattern);
        break;
    case IVM_T_PROTO:
        ivm_buf_add_cstr(out, "#proto ");
        print_id(d, proto_index(d, v));
        break;
    case IVM_T_LIST:
        ivm_buf_add_char(out, '(');
        for (ivm_value l = v; l != IVM_EMPTY_LIST; l = ivm_as_cons(l)->rest) {
            if (l != v)
                ivm_buf_add_char(out, ' ');
            print_const(d, ivm_as_cons(l)->first);
        }
        ivm_buf_add_char(out, ')');
        break;
    default: /* the loader makes no other constant; this one fails to assemble */
        ivm_buf_add_cstr(out, "#unknown");
        break;
    }
}

/* ---- Prototypes -------------------------------------------------------- */

/* A prototype's name is its ID when the assembler reads it back as one and
 * no other prototype has the same name. */
static bool *choose_ids(const ivm_module *m)
{
    bool *named = ivm_platform_calloc(m->nprotos, sizeof *named);
    if (!named)
        ivm_platform_exit(70);
    ivm_name_map seen = {0};
    for (uint32_t i = 0; i < m->nprotos; i++) {
        ivm_value name = ivm_as_proto(m->protos[i])->name;
        if (name == IVM_NIL || !ivm_asm_plain_id(ivm_as_str(name)->bytes, ivm_as_str(name)->len))
            continue;
        const char *text = (const char *)ivm_as_str(name)->bytes;
        uint32_t len = ivm_as_str(name)->len;
        uint32_t first = ivm_name_map_get(&seen, text, len);
        if (first == IVM_NAME_ABSENT) {
            ivm_name_map_put(&seen, text, len, i);
            named[i] = true;
        } else {
            named[first] = false;
        }
    }
    ivm_name_map_free(&seen);
    return named;
}

static void print_header(const disasm *d, uint32_t i)
{
    ivm_buf *out = d->out;
    ivm_proto *p = proto_at(d, i);
    ivm_buf_add_cstr(out, ".proto ");
    print_id(d, i);
    ivm_buf_add_cstr(out, " params=");
    ivm_buf_add_int(out, p->nparams);
    ivm_buf_add_cstr(out, " regs=");
    ivm_buf_add_int(out, p->nregs);
    if (p->flags & IVM_PROTO_VARIADIC)
        ivm_buf_add_cstr(out, " variadic");
    if (!d->named[i] && p->name) {
        ivm_buf_add_cstr(out, " name=");
        print_string(out, p->name);
    }
    if (!d->named[i] && !p->name)
        ivm_buf_add_cstr(out, " anonymous");
    ivm_buf_add_char(out, '\n');
}

static void print_tables(const disasm *d, ivm_proto *p)
{
    ivm_buf *out = d->out;
    for (uint32_t i = 0; i < p->ncaps; i++) {
        const ivm_capture *c = &ivm_proto_caps(p)[i];
        ivm_buf_add_cstr(out, c->kind == IVM_CAPTURE_REGISTER ? "  .capture reg " : "  .capture cap ");
        ivm_buf_add_int(out, c->index);
        ivm_buf_add_char(out, '\n');
    }
    for (uint32_t i = 0; i < p->nconsts; i++) {
        ivm_buf_add_cstr(out, "  .const ");
        print_const(d, ivm_proto_consts(p)[i]);
        ivm_buf_add_cstr(out, " ; k");
        ivm_buf_add_int(out, i);
        ivm_buf_add_char(out, '\n');
    }
}

/* ---- Code -------------------------------------------------------------- */

static bool is_constant(ivm_operand_kind k)
{
    return k == IVM_OPK_K || k == IVM_OPK_G || k == IVM_OPK_P;
}

/* An instruction's operands in slots A, B, C of the opcode table. */
typedef struct operands {
    const ivm_op_info *info;
    ivm_operand_kind kind[3];
    int64_t v[3]; /* signed kinds sign-extended */
} operands;

/* The inverse of the assembler's encoding. */
static operands decode(uint32_t ins)
{
    const ivm_op_info *info = &ivm_op_table[IVM_GET_OP(ins)];
    operands o = {info, {info->a, info->b, info->c}, {0, 0, 0}};
    switch (info->format) {
    case IVM_FMT_ABC: {
        const unsigned bytes[3] = {IVM_GET_A(ins), IVM_GET_B(ins), IVM_GET_C(ins)};
        for (int k = 0; k < 3; k++)
            o.v[k] = o.kind[k] == IVM_OPK_I || o.kind[k] == IVM_OPK_J
                         ? (int64_t)(int8_t)bytes[k]
                         : (int64_t)bytes[k];
        break;
    }
    case IVM_FMT_ABX: o.v[0] = IVM_GET_A(ins); o.v[1] = IVM_GET_BX(ins); break;
    case IVM_FMT_ASBX: o.v[0] = IVM_GET_A(ins); o.v[1] = IVM_GET_SBX(ins); break;
    default: o.v[0] = IVM_GET_SJ(ins); break;
    }
    return o;
}

static bool *jump_targets(ivm_proto *p)
{
    bool *targets = ivm_platform_calloc(p->ncode, sizeof *targets);
    if (!targets)
        ivm_platform_exit(70);
    for (uint32_t pc = 0; pc < p->ncode; pc++) {
        operands o = decode(ivm_proto_code(p)[pc]);
        for (int k = 0; k < 3; k++)
            if (o.kind[k] == IVM_OPK_J)
                targets[pc + 1 + o.v[k]] = true;
    }
    return targets;
}

static void print_operand(ivm_buf *out, ivm_operand_kind kind, int64_t v, uint32_t pc)
{
    switch (kind) {
    case IVM_OPK_R: ivm_buf_add_char(out, 'r'); break;
    case IVM_OPK_K: case IVM_OPK_G: case IVM_OPK_P: ivm_buf_add_char(out, 'k'); break;
    case IVM_OPK_J: ivm_buf_add_char(out, 'L'); v += pc + 1; break;
    default: break;
    }
    ivm_buf_add_int(out, v);
}

static void print_instruction(const disasm *d, ivm_proto *p, uint32_t pc)
{
    ivm_buf *out = d->out;
    operands o = decode(ivm_proto_code(p)[pc]);
    ivm_buf_add_cstr(out, "  ");
    ivm_buf_add_cstr(out, o.info->name);
    const char *separator = " ";
    for (int k = 0; k < 3; k++) {
        if (o.kind[k] == IVM_OPK__)
            continue;
        ivm_buf_add_cstr(out, separator);
        separator = ", ";
        print_operand(out, o.kind[k], o.v[k], pc);
    }
    separator = " ; "; /* the constants' values, as a comment */
    for (int k = 0; k < 3; k++) {
        if (!is_constant(o.kind[k]))
            continue;
        ivm_buf_add_cstr(out, separator);
        separator = ", ";
        print_const(d, ivm_proto_consts(p)[o.v[k]]);
    }
    ivm_buf_add_char(out, '\n');
}

/* Labels L<pc> before jump targets, .line where a line-table pair starts. */
static void print_code(const disasm *d, ivm_proto *p)
{
    ivm_buf *out = d->out;
    bool *targets = jump_targets(p);
    const ivm_line *lines = ivm_proto_lines(p);
    uint32_t next_line = 0;
    for (uint32_t pc = 0; pc < p->ncode; pc++) {
        if (targets[pc]) {
            ivm_buf_add_char(out, 'L');
            ivm_buf_add_int(out, pc);
            ivm_buf_add_cstr(out, ":\n");
        }
        if (next_line < p->nlines && lines[next_line].pc == pc) {
            ivm_buf_add_cstr(out, "  .line ");
            ivm_buf_add_int(out, lines[next_line++].line);
            ivm_buf_add_char(out, '\n');
        }
        print_instruction(d, p, pc);
    }
    ivm_platform_free(targets);
}

void ivm_disassemble(const ivm_module *m, ivm_buf *out)
{
    disasm d = {m, out, choose_ids(m)};
    ivm_buf_add_cstr(out, ".source ");
    print_string(out, m->source);
    ivm_buf_add_cstr(out, "\n.entry ");
    print_id(&d, m->entry);
    ivm_buf_add_char(out, '\n');
    for (uint32_t i = 0; i < m->nprotos; i++) {
        ivm_buf_add_char(out, '\n');
        print_header(&d, i);
        print_tables(&d, proto_at(&d, i));
        print_code(&d, proto_at(&d, i));
        ivm_buf_add_cstr(out, ".end\n");
    }
    ivm_platform_free(d.named);
}
