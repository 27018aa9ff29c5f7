/* The .ivc writer (the exact inverse of the loader) and the checksum. */
#include "bytecode/vm.h"
#include "ivm/ivc.h"
#include "ivm/platform.h"
#include "values/regex.h"

uint32_t ivm_crc32(const uint8_t *data, size_t len)
{
    uint32_t table[256]; /* 2 KiB of work per file: cheaper than sharing it */
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < len; i++)
        crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
    return crc ^ 0xffffffffu;
}

static void put_u8(ivm_buf *b, uint8_t v) { ivm_buf_add(b, &v, 1); }

static void put_u32(ivm_buf *b, uint32_t v)
{
    uint8_t t[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    ivm_buf_add(b, t, 4);
}

static void put_u64(ivm_buf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_str(ivm_buf *b, ivm_value s)
{
    put_u32(b, ivm_as_str(s)->len);
    ivm_buf_add(b, ivm_as_str(s)->bytes, ivm_as_str(s)->len);
}

static uint32_t proto_index(const ivm_module *m, ivm_value proto)
{
    for (uint32_t i = 0; i < m->nprotos; i++)
        if (m->protos[i] == proto)
            return i;
    return UINT32_MAX; /* not in this module: the loader will refuse it */
}

/* Constants are data the loader built, so their nesting is bounded by
 * IVC_MAX_NESTING and plain recursion is safe here. */
static void put_const(const ivm_module *m, ivm_buf *b, ivm_value v)
{
    switch (ivm_type_of(v)) {
    case IVM_T_NIL: put_u8(b, IVC_NIL); break;
    case IVM_T_BOOL: put_u8(b, v == IVM_TRUE ? IVC_TRUE : IVC_FALSE); break;
    case IVM_T_INT: put_u8(b, IVC_INT); put_u64(b, (uint64_t)ivm_int_value(v)); break;
    case IVM_T_FLOAT: put_u8(b, IVC_FLOAT); put_u64(b, ivm_float_bits(v)); break;
    case IVM_T_STRING: put_u8(b, IVC_STRING); put_str(b, v); break;
    case IVM_T_SYMBOL: put_u8(b, IVC_SYMBOL); put_str(b, v); break;
    case IVM_T_KEYWORD: put_u8(b, IVC_KEYWORD); put_str(b, v); break;
    case IVM_T_BYTES: put_u8(b, IVC_BYTES); put_str(b, v); break;
    case IVM_T_CHAR: put_u8(b, IVC_CHAR); put_u32(b, ivm_imm_payload(v)); break;
    case IVM_T_PROTO: put_u8(b, IVC_PROTO); put_u32(b, proto_index(m, v)); break;
    case IVM_T_REGEX: put_u8(b, IVC_REGEX); put_str(b, ivm_as_regex(v)->pattern); break;
    case IVM_T_LIST:
        put_u8(b, IVC_LIST);
        put_u32(b, (uint32_t)ivm_list_count(v));
        for (; v != IVM_EMPTY_LIST; v = ivm_as_cons(v)->rest)
            put_const(m, b, ivm_as_cons(v)->first);
        break;
    default: put_u8(b, IVC_TAG_COUNT); break; /* unwritable: refused on load */
    }
}

static void put_proto(const ivm_module *m, ivm_buf *b, ivm_proto *p)
{
    uint8_t flags = (p->name ? IVC_PROTO_NAMED : 0) |
                    (p->flags & IVM_PROTO_VARIADIC ? IVC_PROTO_VARIADIC : 0);
    put_u8(b, flags);
    if (p->name)
        put_str(b, p->name);
    put_u8(b, p->nparams);
    put_u8(b, p->nregs);
    put_u8(b, p->ncaps);
    for (uint32_t i = 0; i < p->ncaps; i++) {
        put_u8(b, ivm_proto_caps(p)[i].kind);
        put_u8(b, ivm_proto_caps(p)[i].index);
    }
    put_u32(b, p->nconsts);
    for (uint32_t i = 0; i < p->nconsts; i++)
        put_const(m, b, ivm_proto_consts(p)[i]);
    put_u32(b, p->ncode);
    for (uint32_t i = 0; i < p->ncode; i++)
        put_u32(b, ivm_proto_code(p)[i]);
    put_u32(b, p->nlines);
    for (uint32_t i = 0; i < p->nlines; i++) {
        put_u32(b, ivm_proto_lines(p)[i].pc);
        put_u32(b, ivm_proto_lines(p)[i].line);
    }
}

void ivm_write_ivc(const ivm_module *m, ivm_buf *out)
{
    size_t start = out->len;
    ivm_buf_add(out, IVC_MAGIC, IVC_MAGIC_LEN);
    uint8_t version[4] = {IVC_VERSION_MAJOR & 0xff, IVC_VERSION_MAJOR >> 8,
                          IVC_VERSION_MINOR & 0xff, IVC_VERSION_MINOR >> 8};
    ivm_buf_add(out, version, 4);
    put_u32(out, 0); /* flags */
    put_u32(out, 0); /* length, patched below */
    put_str(out, m->source);
    put_u32(out, m->nprotos);
    put_u32(out, m->entry);
    for (uint32_t i = 0; i < m->nprotos; i++)
        put_proto(m, out, ivm_as_proto(m->protos[i]));
    uint32_t len = (uint32_t)(out->len - start + 4);
    uint8_t *len_at = (uint8_t *)out->data + start + 12;
    len_at[0] = (uint8_t)len; len_at[1] = (uint8_t)(len >> 8);
    len_at[2] = (uint8_t)(len >> 16); len_at[3] = (uint8_t)(len >> 24);
    put_u32(out, ivm_crc32((const uint8_t *)out->data + start, out->len - start));
}
