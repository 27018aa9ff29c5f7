/* Function prototypes and closures: construction and lookups. */
#include "values/function.h"

static size_t proto_bytes(uint32_t nconsts, uint32_t ncode, uint32_t nlines,
                          uint32_t ncaps)
{
    return sizeof(ivm_proto) + (size_t)nconsts * (sizeof(ivm_value) + 4) +
           (size_t)ncode * 4 + (size_t)nlines * sizeof(ivm_line) +
           (size_t)ncaps * sizeof(ivm_capture);
}

ivm_value ivm_proto_new(ivm_heap *h, uint32_t nconsts, uint32_t ncode,
                        uint32_t nlines, uint32_t ncaps)
{
    size_t bytes = proto_bytes(nconsts, ncode, nlines, ncaps);
    ivm_proto *p = ivm_heap_alloc(h, IVM_K_PROTO, 0, bytes);
    memset((char *)p + sizeof p->h, 0, ((bytes + 7) & ~(size_t)7) - sizeof p->h);
    p->nconsts = nconsts;
    p->ncode = ncode;
    p->nlines = nlines;
    p->ncaps = (uint8_t)ncaps;
    uint32_t *gslots = ivm_proto_gslots(p);
    for (uint32_t i = 0; i < nconsts; i++)
        gslots[i] = IVM_NO_GLOBAL;
    return (ivm_value)(uintptr_t)p;
}

ivm_value ivm_closure_new(ivm_heap *h, ivm_value proto)
{
    uint32_t n = ivm_as_proto(proto)->ncaps;
    ivm_closure *c = ivm_heap_alloc(h, IVM_K_CLOSURE, 0,
                                    sizeof(ivm_closure) + n * sizeof(ivm_value));
    c->proto = proto;
    for (uint32_t i = 0; i < n; i++)
        c->caps[i] = IVM_NIL;
    return (ivm_value)(uintptr_t)c;
}

uint32_t ivm_proto_line_at(ivm_proto *p, uint32_t pc)
{
    ivm_line *lines = ivm_proto_lines(p);
    uint32_t lo = 0, hi = p->nlines, line = 0;
    while (lo < hi) { /* the last entry whose pc <= the wanted pc */
        uint32_t mid = lo + (hi - lo) / 2;
        if (lines[mid].pc <= pc) {
            line = lines[mid].line;
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return line;
}

ivm_value ivm_multifn_new(ivm_heap *h, const ivm_value *closures, uint32_t n)
{
    ivm_multifn *m = ivm_heap_alloc(h, IVM_K_MULTIFN, n,
                                    sizeof(ivm_multifn) + n * sizeof(ivm_value));
    memcpy(m->arities, closures, n * sizeof(ivm_value));
    return (ivm_value)(uintptr_t)m;
}

ivm_value ivm_multifn_select(ivm_value multifn, uint32_t nargs)
{
    ivm_value variadic = IVM_NIL;
    for (uint32_t i = 0; i < ivm_multifn_count(multifn); i++) {
        ivm_value c = ivm_as_multifn(multifn)->arities[i];
        ivm_proto *p = ivm_as_proto(ivm_as_closure(c)->proto);
        if (p->flags & IVM_PROTO_VARIADIC) {
            if (nargs >= p->nparams)
                variadic = c;
        } else if (p->nparams == nargs) {
            return c;
        }
    }
    return variadic;
}

ivm_value ivm_function_proto(ivm_value v)
{
    if (ivm_is_kind(v, IVM_K_MULTIFN))
        v = ivm_as_multifn(v)->arities[0];
    return ivm_is_kind(v, IVM_K_CLOSURE) ? ivm_as_closure(v)->proto : v;
}
