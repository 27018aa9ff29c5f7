/* Loader and verifier for .ivc images (format: ivm/ivc.h).
 *
 * Untrusted input enters here. Every count is checked against the bytes
 * that remain before anything is allocated, every operand against its kind
 * (opcodes.h) before anything runs, so no file can make ivm read or write
 * memory it does not own. Errors name the byte offset where they were found.
 *
 * The values built while loading are held only by this file's locals until
 * the module is registered; the collector issue must root them here. */
#include "bytecode/vm.h"
#include "ivm/ivc.h"
#include "ivm/opcodes.h"
#include "ivm/platform.h"
#include "values/regex.h"

typedef struct reader {
    const uint8_t *start, *p, *end;
    ivm_load_error *err;
    bool failed;
} reader;

/* ---- Error messages ---------------------------------------------------- */

typedef struct msg { char *s; size_t len, cap; } msg;

static void msg_add(msg *m, const char *s)
{
    while (*s && m->len + 1 < m->cap)
        m->s[m->len++] = *s++;
    m->s[m->len] = '\0';
}

static void msg_add_int(msg *m, int64_t i)
{
    char tmp[24];
    int n = 0;
    uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
    do tmp[n++] = (char)('0' + u % 10); while ((u /= 10) != 0);
    if (i < 0)
        tmp[n++] = '-';
    char out[25];
    for (int k = 0; k < n; k++)
        out[k] = tmp[n - 1 - k];
    out[n] = '\0';
    msg_add(m, out);
}

/* Fails at byte `at` with a message of up to three parts and two numbers:
 * fail(r, at, "register ", 9, " out of range, ", 4, " registers"). A part
 * may be NULL; numbers are printed only after a non-NULL part. */
static bool fail_at(reader *r, const uint8_t *at, const char *a, int64_t x,
                    const char *b, int64_t y, const char *c)
{
    if (r->failed)
        return false;
    r->failed = true;
    r->err->offset = (size_t)(at - r->start);
    msg m = {r->err->message, 0, sizeof r->err->message};
    msg_add(&m, a);
    if (b) {
        msg_add_int(&m, x);
        msg_add(&m, b);
        if (c) {
            msg_add_int(&m, y);
            msg_add(&m, c);
        }
    }
    return false;
}

static bool fail(reader *r, const char *what)
{
    return fail_at(r, r->p, what, 0, NULL, 0, NULL);
}

/* ---- Reading ----------------------------------------------------------- */

static bool need(reader *r, size_t n)
{
    if ((size_t)(r->end - r->p) >= n)
        return true;
    return fail(r, "unexpected end of file");
}

static uint8_t read_u8(reader *r)
{
    return need(r, 1) ? *r->p++ : 0;
}

static uint32_t read_u32(reader *r)
{
    if (!need(r, 4))
        return 0;
    uint32_t v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 |
                 (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
    r->p += 4;
    return v;
}

static uint64_t read_u64(reader *r)
{
    uint64_t lo = read_u32(r);
    return lo | (uint64_t)read_u32(r) << 32;
}

/* A count of items of at least `item_bytes` each that must fit in what is
 * left of the file: bounds every allocation by the file's size. */
static uint32_t read_count(reader *r, size_t item_bytes, const char *what)
{
    const uint8_t *at = r->p;
    uint32_t n = read_u32(r);
    if (!r->failed && (uint64_t)n * item_bytes > (uint64_t)(r->end - r->p))
        fail_at(r, at, what, 0, NULL, 0, NULL);
    return r->failed ? 0 : n;
}

static const uint8_t *read_bytes(reader *r, uint32_t *len)
{
    *len = read_count(r, 1, "length runs past the end of the file");
    const uint8_t *s = r->p;
    r->p += *len;
    return s;
}

static const uint8_t *read_text(reader *r, uint32_t *len)
{
    const uint8_t *at = r->p;
    const uint8_t *s = read_bytes(r, len);
    if (!r->failed && !ivm_utf8_valid(s, *len))
        fail_at(r, at, "text is not valid UTF-8", 0, NULL, 0, NULL);
    return s;
}

/* ---- Constants --------------------------------------------------------- */

typedef struct loading {
    ivm_vm *vm;
    reader r;
    ivm_value *protos; /* loaded so far */
    uint32_t nprotos_loaded;
    ivm_value source;
} loading;

static ivm_value read_const(loading *L, unsigned depth);

static ivm_value read_list(loading *L, unsigned depth)
{
    reader *r = &L->r;
    uint32_t n = read_count(r, 1, "list length runs past the end of the file");
    if (r->failed || n == 0)
        return IVM_EMPTY_LIST;
    ivm_value *items = ivm_platform_malloc(n * sizeof *items);
    if (!items)
        ivm_platform_exit(70);
    for (uint32_t i = 0; i < n && !r->failed; i++)
        items[i] = read_const(L, depth + 1);
    ivm_value list = IVM_EMPTY_LIST;
    if (!r->failed)
        for (uint32_t i = n; i-- > 0;)
            list = ivm_cons_new(&L->vm->heap, items[i], list);
    ivm_platform_free(items);
    return list;
}

static ivm_value read_const(loading *L, unsigned depth)
{
    reader *r = &L->r;
    ivm_heap *h = &L->vm->heap;
    const uint8_t *at = r->p;
    if (depth > IVC_MAX_NESTING) {
        fail(r, "constant nested too deeply");
        return IVM_NIL;
    }
    uint8_t tag = read_u8(r);
    uint32_t len;
    const uint8_t *s;
    switch (tag) {
    case IVC_NIL: return IVM_NIL;
    case IVC_TRUE: return IVM_TRUE;
    case IVC_FALSE: return IVM_FALSE;
    case IVC_INT: return ivm_int(h, (int64_t)read_u64(r));
    case IVC_FLOAT: {
        uint64_t bits = read_u64(r);
        double d;
        memcpy(&d, &bits, sizeof d);
        return ivm_float(h, d);
    }
    case IVC_STRING:
        s = read_text(r, &len);
        return r->failed ? IVM_NIL : ivm_string(h, s, len);
    case IVC_SYMBOL:
    case IVC_KEYWORD:
        s = read_text(r, &len);
        if (!r->failed && len == 0)
            fail_at(r, at, "empty symbol or keyword", 0, NULL, 0, NULL);
        if (r->failed)
            return IVM_NIL;
        return tag == IVC_SYMBOL ? ivm_symbol(h, s, len) : ivm_keyword(h, s, len);
    case IVC_PROTO: {
        uint32_t i = read_u32(r);
        if (!r->failed && i >= L->nprotos_loaded)
            fail_at(r, at, "prototype constant ", i,
                    " does not name an earlier prototype", 0, NULL);
        return r->failed ? IVM_NIL : L->protos[i];
    }
    case IVC_BYTES:
        s = read_bytes(r, &len);
        return r->failed ? IVM_NIL : ivm_bytes(h, s, len);
    case IVC_CHAR: {
        uint32_t cp = read_u32(r);
        if (!r->failed && (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)))
            fail_at(r, at, "character ", cp, " is not a Unicode scalar value", 0, NULL);
        return ivm_char(cp);
    }
    case IVC_LIST: return read_list(L, depth);
    case IVC_REGEX: {
        s = read_text(r, &len);
        if (r->failed)
            return IVM_NIL;
        ivm_value re = IVM_NIL;
        ivm_buf why = {0};
        ivm_buf_add_cstr(&why, "regex constant: ");
        if (!ivm_regex_new(h, ivm_string(h, s, len), &re, &why))
            fail_at(r, at, why.data, 0, NULL, 0, NULL);
        ivm_buf_free(&why);
        return re;
    }
    default:
        if (!r->failed)
            fail_at(r, at, "unknown constant tag ", tag, "", 0, NULL);
        return IVM_NIL;
    }
}

/* ---- Verification ------------------------------------------------------ */

static bool is_test(unsigned op)
{
    return (op >= IVM_OP_EQ && op <= IVM_OP_GEI) || op == IVM_OP_TEST ||
           op == IVM_OP_LOOPLT;
}

static bool ends_flow(unsigned op)
{
    return op == IVM_OP_RET || op == IVM_OP_TAILCALL || op == IVM_OP_JMP ||
           op == IVM_OP_THROW;
}

/* The closure a CLOSURE makes captures from the running frame: check the
 * child's descriptors against the parent's registers and captures. */
static bool check_captures(reader *r, const uint8_t *at, ivm_proto *parent,
                           ivm_proto *child)
{
    ivm_capture *caps = ivm_proto_caps(child);
    for (uint32_t i = 0; i < child->ncaps; i++) {
        if (caps[i].kind == IVM_CAPTURE_REGISTER && caps[i].index >= parent->nregs)
            return fail_at(r, at, "closure captures register ", caps[i].index,
                           " but the function has ", parent->nregs, " registers");
        if (caps[i].kind == IVM_CAPTURE_CAPTURE && caps[i].index >= parent->ncaps)
            return fail_at(r, at, "closure captures capture ", caps[i].index,
                           " but the function has ", parent->ncaps, " captures");
    }
    return true;
}

static bool check_operand(loading *L, ivm_proto *p, const uint8_t *at,
                          uint32_t pc, uint32_t ins, ivm_operand_kind kind,
                          unsigned value, unsigned a)
{
    reader *r = &L->r;
    ivm_value *k = ivm_proto_consts(p);
    switch (kind) {
    case IVM_OPK__:
        return value == 0 || fail_at(r, at, "unused operand is ", value, ", not 0", 0, NULL);
    case IVM_OPK_R:
        return value < p->nregs ||
               fail_at(r, at, "register r", value, " out of range (the function has ",
                       p->nregs, " registers)");
    case IVM_OPK_K:
    case IVM_OPK_G:
    case IVM_OPK_P:
        if (value >= p->nconsts)
            return fail_at(r, at, "constant k", value, " out of range (the function has ",
                           p->nconsts, " constants)");
        if (kind == IVM_OPK_G) {
            if (!ivm_is_kind(k[value], IVM_K_SYMBOL))
                return fail_at(r, at, "constant k", value, " names no global (not a symbol)", 0, NULL);
            ivm_proto_gslots(p)[value] = ivm_global_slot(L->vm, k[value]);
        }
        if (kind == IVM_OPK_P) {
            if (!ivm_is_kind(k[value], IVM_K_PROTO))
                return fail_at(r, at, "constant k", value, " is not a prototype", 0, NULL);
            return check_captures(r, at, p, ivm_as_proto(k[value]));
        }
        return true;
    case IVM_OPK_C:
        return value < p->ncaps ||
               fail_at(r, at, "capture ", value, " out of range (the function has ",
                       p->ncaps, " captures)");
    case IVM_OPK_N:
        if (IVM_GET_OP(ins) == IVM_OP_VECTOR) { /* elements R[B..B+C-1] */
            unsigned first = IVM_GET_B(ins);
            return first + value <= p->nregs ||
                   fail_at(r, at, "VECTOR needs registers r", first,
                           " and on inside the function's ", p->nregs, " registers");
        }
        if (IVM_GET_OP(ins) == IVM_OP_MULTIFN) { /* closures R[B..B+C-1] */
            unsigned first = IVM_GET_B(ins);
            return (value >= 1 && first + value - 1 < p->nregs) ||
                   fail_at(r, at, "MULTIFN needs 1 or more registers from r", first,
                           " inside the function's ", p->nregs, " registers");
        }
        return a + value < p->nregs ||
               fail_at(r, at, "registers up to r", a + value,
                       " out of range (the function has ", p->nregs, " registers)");
    case IVM_OPK_I:
        return true;
    case IVM_OPK_k:
        return value <= 1 || fail_at(r, at, "flag is ", value, ", not 0 or 1", 0, NULL);
    case IVM_OPK_J: {
        bool sj = ivm_op_table[IVM_GET_OP(ins)].format == IVM_FMT_SJ;
        int64_t target = (int64_t)pc + 1 + (sj ? IVM_GET_SJ(ins) : IVM_GET_SBX(ins));
        return (target >= 0 && target < p->ncode) ||
               fail_at(r, at, "jump to ", target, " outside the function (0..",
                       (int64_t)p->ncode - 1, ")");
    }
    }
    return fail_at(r, at, "bad operand kind", 0, NULL, 0, NULL);
}

static bool verify_code(loading *L, ivm_proto *p, const uint8_t *code_at)
{
    reader *r = &L->r;
    const uint32_t *code = ivm_proto_code(p);
    for (uint32_t pc = 0; pc < p->ncode; pc++) {
        uint32_t ins = code[pc];
        const uint8_t *at = code_at + 4 * (size_t)pc;
        unsigned op = IVM_GET_OP(ins);
        if (op >= IVM_OP_COUNT)
            return fail_at(r, at, "unknown opcode ", op, "", 0, NULL);
        const ivm_op_info *info = &ivm_op_table[op];
        unsigned a = IVM_GET_A(ins);
        bool ok;
        switch (info->format) {
        case IVM_FMT_ABC:
            ok = check_operand(L, p, at, pc, ins, info->a, a, a) &&
                 check_operand(L, p, at, pc, ins, info->b, IVM_GET_B(ins), a) &&
                 check_operand(L, p, at, pc, ins, info->c, IVM_GET_C(ins), a);
            break;
        case IVM_FMT_ABX:
        case IVM_FMT_ASBX:
            ok = check_operand(L, p, at, pc, ins, info->a, a, a) &&
                 check_operand(L, p, at, pc, ins, info->b, IVM_GET_BX(ins), a);
            break;
        default: /* IVM_FMT_SJ */
            ok = check_operand(L, p, at, pc, ins, info->a, 0, 0);
            break;
        }
        if (!ok)
            return false;
        if (is_test(op) && (pc + 1 >= p->ncode || IVM_GET_OP(code[pc + 1]) != IVM_OP_JMP))
            return fail_at(r, at, "a test instruction must be followed by JMP", 0, NULL, 0, NULL);
        if (!ends_flow(op) && pc + 1 >= p->ncode)
            return fail_at(r, at, "code runs off the end of the function", 0, NULL, 0, NULL);
    }
    return true;
}

/* ---- Prototypes -------------------------------------------------------- */

static void fill_words(uint32_t *dst, const uint8_t *src, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++, src += 4)
        dst[i] = (uint32_t)src[0] | (uint32_t)src[1] << 8 |
                 (uint32_t)src[2] << 16 | (uint32_t)src[3] << 24;
}

static ivm_value read_proto(loading *L)
{
    reader *r = &L->r;
    ivm_heap *h = &L->vm->heap;
    const uint8_t *at = r->p;
    uint8_t flags = read_u8(r);
    if (!r->failed && (flags & ~(IVC_PROTO_NAMED | IVC_PROTO_VARIADIC)))
        fail_at(r, at, "unknown prototype flags ", flags, "", 0, NULL);
    ivm_value name = IVM_NIL;
    if (flags & IVC_PROTO_NAMED) {
        uint32_t len;
        const uint8_t *s = read_text(r, &len);
        if (!r->failed)
            name = ivm_string(h, s, len);
    }
    const uint8_t *shape_at = r->p;
    uint8_t nparams = read_u8(r), nregs = read_u8(r), ncaps = read_u8(r);
    bool variadic = flags & IVC_PROTO_VARIADIC;
    if (!r->failed && (nregs == 0 || nregs < nparams + variadic))
        fail_at(r, shape_at, "too few registers (", nregs, ") for the parameters (",
                nparams + variadic, ")");
    ivm_capture caps[256];
    for (uint32_t i = 0; i < ncaps && !r->failed; i++) {
        const uint8_t *cap_at = r->p;
        caps[i].kind = read_u8(r);
        caps[i].index = read_u8(r);
        if (!r->failed && caps[i].kind > IVM_CAPTURE_CAPTURE)
            fail_at(r, cap_at, "unknown capture kind ", caps[i].kind, "", 0, NULL);
    }
    uint32_t nconsts = read_count(r, 1, "constant count runs past the end of the file");
    ivm_value *consts = ivm_platform_malloc((nconsts ? nconsts : 1) * sizeof *consts);
    if (!consts)
        ivm_platform_exit(70);
    for (uint32_t i = 0; i < nconsts && !r->failed; i++)
        consts[i] = read_const(L, 0);
    const uint8_t *ncode_at = r->p;
    uint32_t ncode = read_count(r, 4, "code length runs past the end of the file");
    if (!r->failed && ncode == 0)
        fail_at(r, ncode_at, "a function has no code", 0, NULL, 0, NULL);
    const uint8_t *code_at = r->p;
    r->p += 4 * (size_t)ncode;
    uint32_t nlines = read_count(r, 8, "line table runs past the end of the file");
    const uint8_t *lines_at = r->p;
    r->p += 8 * (size_t)nlines;
    ivm_value result = IVM_NIL;
    if (!r->failed) {
        result = ivm_proto_new(h, nconsts, ncode, nlines, ncaps);
        ivm_proto *p = ivm_as_proto(result);
        p->name = name;
        p->source = L->source;
        p->nparams = nparams;
        p->nregs = nregs;
        p->flags = variadic ? IVM_PROTO_VARIADIC : 0;
        memcpy(ivm_proto_consts(p), consts, nconsts * sizeof *consts);
        memcpy(ivm_proto_caps(p), caps, ncaps * sizeof *caps);
        fill_words(ivm_proto_code(p), code_at, ncode);
        fill_words((uint32_t *)ivm_proto_lines(p), lines_at, 2 * nlines);
        for (uint32_t i = 0; i < nlines && !r->failed; i++) {
            ivm_line *l = &ivm_proto_lines(p)[i];
            if (l->pc >= ncode || (i > 0 && l->pc <= l[-1].pc))
                fail_at(r, lines_at + 8 * (size_t)i, "line table entry for pc ", l->pc,
                        " is out of order or past the code", 0, NULL);
        }
        if (!r->failed)
            verify_code(L, p, code_at);
    }
    ivm_platform_free(consts);
    return result;
}

/* ---- Files ------------------------------------------------------------- */

static bool check_header(reader *r, size_t len)
{
    if (len < IVC_MAGIC_LEN || memcmp(r->p, IVC_MAGIC, IVC_MAGIC_LEN) != 0)
        return fail(r, "not an ivm bytecode file (bad magic number)");
    r->p += IVC_MAGIC_LEN;
    const uint8_t *at = r->p;
    uint32_t major = read_u8(r) | (uint32_t)read_u8(r) << 8;
    uint32_t minor = read_u8(r) | (uint32_t)read_u8(r) << 8;
    if (r->failed)
        return false;
    if (major != IVC_VERSION_MAJOR || minor > IVC_VERSION_MINOR) {
        bool newer = major > IVC_VERSION_MAJOR ||
                     (major == IVC_VERSION_MAJOR && minor > IVC_VERSION_MINOR);
        return fail_at(r, at, newer ? "bytecode format version " : "unsupported bytecode format version ",
                       major, ".", minor,
                       newer ? " is newer than this ivm supports (1.0)"
                             : " (this ivm supports 1.0)");
    }
    at = r->p;
    if (read_u32(r) != 0 && !r->failed)
        return fail_at(r, at, "unknown file flags", 0, NULL, 0, NULL);
    at = r->p;
    uint32_t stated = read_u32(r);
    if (!r->failed && stated != len)
        return fail_at(r, at, "file length field says ", stated, " bytes but the file has ",
                       (int64_t)len, "");
    if (r->failed || !need(r, 4))
        return false;
    const uint8_t *crc_at = r->start + len - 4;
    uint32_t stored = (uint32_t)crc_at[0] | (uint32_t)crc_at[1] << 8 |
                      (uint32_t)crc_at[2] << 16 | (uint32_t)crc_at[3] << 24;
    if (stored != ivm_crc32(r->start, len - 4))
        return fail_at(r, crc_at, "checksum mismatch: the file is damaged", 0, NULL, 0, NULL);
    r->end = crc_at; /* the checksum is not part of the body */
    return true;
}

static const ivm_module *register_module(ivm_vm *vm, const ivm_module *m)
{
    ivm_module **mods = ivm_platform_realloc(vm->rt->modules, (vm->rt->nmodules + 1) * sizeof *mods);
    ivm_module *copy = ivm_platform_malloc(sizeof *copy);
    if (!mods || !copy)
        ivm_platform_exit(70);
    *copy = *m;
    vm->rt->modules = mods;
    mods[vm->rt->nmodules++] = copy;
    return copy;
}

bool ivm_load(ivm_vm *vm, const uint8_t *data, size_t len,
              const ivm_module **module, ivm_load_error *err)
{
    loading L = {.vm = vm, .r = {data, data, data + len, err, false}};
    reader *r = &L.r;
    err->offset = 0;
    err->message[0] = '\0';
    if (len > UINT32_MAX)
        return fail(r, "file too large");
    if (!check_header(r, len))
        return false;
    uint32_t slen;
    const uint8_t *s = read_text(r, &slen);
    if (r->failed)
        return false;
    L.source = ivm_string(&vm->heap, s, slen);
    const uint8_t *at = r->p;
    uint32_t nprotos = read_count(r, 8, "prototype count runs past the end of the file");
    const uint8_t *entry_at = r->p;
    uint32_t entry = read_u32(r);
    if (r->failed)
        return false;
    if (nprotos == 0)
        return fail_at(r, at, "the file has no prototypes", 0, NULL, 0, NULL);
    if (entry >= nprotos)
        return fail_at(r, entry_at, "entry prototype ", entry, " out of range (", nprotos,
                       " prototypes)");
    L.protos = ivm_platform_malloc(nprotos * sizeof *L.protos);
    if (!L.protos)
        ivm_platform_exit(70);
    for (uint32_t i = 0; i < nprotos && !r->failed; i++) {
        L.protos[i] = read_proto(&L);
        L.nprotos_loaded = i + 1;
    }
    if (!r->failed && r->p != r->end)
        fail(r, "unexpected bytes after the last prototype");
    if (!r->failed) {
        ivm_proto *e = ivm_as_proto(L.protos[entry]);
        if (e->nparams || (e->flags & IVM_PROTO_VARIADIC) || e->ncaps)
            fail_at(r, entry_at, "the entry prototype must take no parameters and capture nothing",
                    0, NULL, 0, NULL);
    }
    if (r->failed) {
        ivm_platform_free(L.protos);
        return false;
    }
    ivm_module m = {L.source, nprotos, entry, L.protos};
    *module = register_module(vm, &m);
    return true;
}

ivm_value ivm_module_entry(ivm_vm *vm, const ivm_module *module)
{
    return ivm_closure_new(&vm->heap, module->protos[module->entry]);
}
