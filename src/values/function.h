/* Function prototypes and closures: the code values.
 *
 * A prototype is one arena object holding everything about one function:
 * its constants, the global slot each symbol constant names, its code, its
 * line table and its capture descriptors, laid out back to back after the
 * fixed fields (no interior pointers, so the collector may move it). The
 * bytecode loader builds prototypes; the interpreter runs them.
 *
 * A closure is a prototype plus the values it captured when it was made.
 * Locals never change, so captures are plain copies: no upvalue boxes. */
#ifndef IVM_FUNCTION_H
#define IVM_FUNCTION_H

#include "values/value.h"

enum { IVM_PROTO_VARIADIC = 1 };
enum { IVM_CAPTURE_REGISTER = 0, IVM_CAPTURE_CAPTURE = 1 };

typedef struct ivm_capture { uint8_t kind, index; } ivm_capture;
typedef struct ivm_line { uint32_t pc, line; } ivm_line;

typedef struct ivm_proto {
    ivm_header h;
    ivm_value name;   /* string, or nil for an anonymous function */
    ivm_value source; /* file name string, or nil */
    uint8_t nparams;  /* fixed parameters */
    uint8_t flags;    /* IVM_PROTO_VARIADIC: the rest arrive as a list in
                         register nparams */
    uint8_t nregs;
    uint8_t ncaps;
    uint32_t ncode, nconsts, nlines;
    /* then: ivm_value consts[nconsts]; uint32_t gslots[nconsts];
     *       uint32_t code[ncode]; ivm_line lines[nlines];
     *       ivm_capture caps[ncaps]; */
} ivm_proto;

typedef struct ivm_closure {
    ivm_header h;
    ivm_value proto;
    ivm_value caps[]; /* proto->ncaps values */
} ivm_closure;

/* A function of several arities: one closure per arity, at most one of
 * them variadic; the header's small field is their number. A call picks
 * the fixed arity that matches the argument count, else the variadic one
 * if it takes that many (as Clojure does). */
typedef struct ivm_multifn {
    ivm_header h;
    ivm_value arities[]; /* closures */
} ivm_multifn;

#define IVM_NO_GLOBAL UINT32_MAX

static inline ivm_proto *ivm_as_proto(ivm_value v)
{
    IVM_ASSERT(ivm_is_kind(v, IVM_K_PROTO));
    return (ivm_proto *)(uintptr_t)v;
}
static inline ivm_closure *ivm_as_closure(ivm_value v)
{
    IVM_ASSERT(ivm_is_kind(v, IVM_K_CLOSURE));
    return (ivm_closure *)(uintptr_t)v;
}

static inline ivm_multifn *ivm_as_multifn(ivm_value v)
{
    IVM_ASSERT(ivm_is_kind(v, IVM_K_MULTIFN));
    return (ivm_multifn *)(uintptr_t)v;
}
static inline uint32_t ivm_multifn_count(ivm_value v)
{
    return ivm_header_small(*ivm_obj_header(v));
}

static inline ivm_value *ivm_proto_consts(ivm_proto *p) { return (ivm_value *)(p + 1); }
static inline uint32_t *ivm_proto_gslots(ivm_proto *p)
{
    return (uint32_t *)(ivm_proto_consts(p) + p->nconsts);
}
static inline uint32_t *ivm_proto_code(ivm_proto *p) { return ivm_proto_gslots(p) + p->nconsts; }
static inline ivm_line *ivm_proto_lines(ivm_proto *p)
{
    return (ivm_line *)(ivm_proto_code(p) + p->ncode);
}
static inline ivm_capture *ivm_proto_caps(ivm_proto *p)
{
    return (ivm_capture *)(ivm_proto_lines(p) + p->nlines);
}

/* A prototype with room for the given counts; every constant is nil, every
 * global slot IVM_NO_GLOBAL and everything else zero until the builder (the
 * loader) fills it in, before anyone else can see it. */
ivm_value ivm_proto_new(ivm_heap *h, uint32_t nconsts, uint32_t ncode,
                        uint32_t nlines, uint32_t ncaps);

/* A closure over `proto` with every capture nil; the builder fills them. */
ivm_value ivm_closure_new(ivm_heap *h, ivm_value proto);

/* The source line of the instruction at `pc` (0 if the table says none). */
uint32_t ivm_proto_line_at(ivm_proto *p, uint32_t pc);

/* A function of the given closures' arities (n >= 1). */
ivm_value ivm_multifn_new(ivm_heap *h, const ivm_value *closures, uint32_t n);
/* The closure of a multi-arity function that takes nargs, or nil. */
ivm_value ivm_multifn_select(ivm_value multifn, uint32_t nargs);

/* The prototype of a closure (of a multi-arity function's first arity); a
 * prototype is its own. */
ivm_value ivm_function_proto(ivm_value closure_or_proto);

#endif
