/* The compiler: forms (from the reader) to prototypes, then .ivc bytes.
 *
 * One pass over each form. Every function being compiled has a fn_state:
 * its code, constants, line table, capture descriptors, and its locals,
 * which live in registers allocated in stack order (a local's register is
 * below every temporary made while it is in scope). An expression is
 * compiled into a destination register, in one of two contexts: for its
 * value (it falls through to the next instruction with the value in the
 * register) or for a return (every path ends in RET or TAILCALL). `recur`
 * is allowed only in the tail of a loop or fn, which the context also
 * tracks.
 *
 * Derived forms (defn, when, cond, ->, ...) and syntax quote are
 * rewritten into special forms by expand.c before they are compiled;
 * macros (defmacro) are functions run while compiling (eval_now), and a
 * name the prelude defines in a section not yet compiled is compiled on
 * first use (ivm_compiler_autoload).
 *
 * The forms and the prototypes under construction are held only by this
 * file's structures, which the collector cannot see: compilation relies on
 * allocation not collecting, and code run while compiling runs with
 * collections held off (vm->gc_hold). */
#include "compiler/compile.h"

#include "compiler/core_math.h"
#include "compiler/expand.h"
#include "compiler/prelude.h"
#include "compiler/reader.h"
#include "ivm/ivc.h"
#include "ivm/opcodes.h"
#include "ivm/platform.h"
#include "values/map.h"
#include "values/vector.h"

#define MAX_REGS 255
#define MAX_CONSTS 65536
/* Forms nest at most this deep: compiling recurses on the C stack (about
 * 2 KiB a level), and the reader accepts any depth. */
#define MAX_DEPTH 2000

typedef struct local {
    ivm_value name; /* symbol */
    uint8_t reg;
} local;

typedef struct loop_target {
    uint32_t pc;   /* where recur jumps */
    uint8_t first; /* the loop's registers */
    uint8_t count;
    const ivm_value *names; /* the symbol bound to each register, or 0 */
    /* A rotated loop, (loop [...] (if test then else)): recur repeats the
     * test and jumps to `body_pc` while it holds, else to the else branch
     * (else_pc once known; until then its JMPs wait in else_jumps). */
    ivm_value test; /* 0: not rotated */
    uint32_t body_pc, else_pc;
    ivm_buf *else_jumps;
} loop_target;

typedef struct fn_state {
    struct fn_state *parent;
    ivm_buf code;     /* uint32_t */
    ivm_buf consts;   /* ivm_value */
    ivm_buf lines;    /* ivm_line */
    ivm_buf caps;     /* ivm_capture */
    ivm_buf capnames; /* ivm_value: what each capture is called */
    ivm_buf locals;   /* local */
    uint32_t free_reg, max_reg;
    uint8_t nparams;
    bool variadic;
    ivm_value name;      /* string, or nil */
    ivm_value self_name; /* symbol meaning the function itself, or 0 */
    loop_target loop;    /* the innermost recur target */
    uint32_t last_line;
} fn_state;

typedef struct compiler {
    ivm_vm *vm;
    ivm_heap *h;
    const char *file;
    ivm_positions positions;
    ivm_buf *err;
    bool failed;
    fn_state *fn;
    ivm_buf protos; /* ivm_value: finished prototypes, children first */
    ivm_source_pos at; /* the innermost position known */
    uint32_t depth;    /* of compile_expr calls */
    uint32_t loads;    /* of (load ...) being compiled */
    ivm_value source;  /* file name string */
    ivm_expander ex;
    /* (def name (fn ...)) forms at the top level, not yet run at compile
     * time: a macro called later may call them (in Clojure they have run
     * by then), so they run, once each, before the next macro call. */
    ivm_buf pending_defs; /* ivm_value */
    bool nested;          /* eval_now's: runs one form, records none */
} compiler;

typedef struct ctx {
    bool ret;      /* the value is returned from the function */
    bool recur_ok; /* in the tail of a loop or fn */
} ctx;

static const ctx VALUE = {false, false};

#define ITEMS(buf, type) ((type *)(void *)(buf).data)
#define COUNT(buf, type) ((uint32_t)((buf).len / sizeof(type)))
#define TRY(x)                                                                 \
    do {                                                                       \
        if (!(x))                                                              \
            return false;                                                      \
    } while (0)

/* ---- Errors ------------------------------------------------------------ */

static bool fail(compiler *c, const char *a, ivm_value v, const char *b)
{
    if (c->failed)
        return false;
    c->failed = true;
    ivm_buf_add_cstr(c->err, c->file);
    ivm_buf_add_char(c->err, ':');
    ivm_buf_add_int(c->err, c->at.line);
    ivm_buf_add_char(c->err, ':');
    ivm_buf_add_int(c->err, c->at.col);
    ivm_buf_add_cstr(c->err, ": ");
    ivm_buf_add_cstr(c->err, a);
    if (v)
        ivm_print(c->h, c->err, v, true);
    if (b)
        ivm_buf_add_cstr(c->err, b);
    return false;
}

/* Moves the error position to where `container` (or its element) was read. */
static void locate(compiler *c, ivm_value container, uint32_t index)
{
    ivm_source_pos p;
    if (ivm_positions_get(&c->positions, container, index, &p))
        c->at = p;
}

/* ---- Emitting ---------------------------------------------------------- */

static void push(ivm_buf *b, const void *item, size_t size) { ivm_buf_add(b, item, size); }

static uint32_t pc_of(compiler *c) { return COUNT(c->fn->code, uint32_t); }

static uint32_t emit(compiler *c, uint32_t ins)
{
    fn_state *f = c->fn;
    if (c->at.line && c->at.line != f->last_line) {
        ivm_line l = {pc_of(c), c->at.line};
        ivm_line *lines = ITEMS(f->lines, ivm_line);
        uint32_t n = COUNT(f->lines, ivm_line);
        if (n && lines[n - 1].pc == l.pc)
            lines[n - 1] = l;
        else
            push(&f->lines, &l, sizeof l);
        f->last_line = c->at.line;
    }
    uint32_t pc = pc_of(c);
    push(&f->code, &ins, sizeof ins);
    return pc;
}

static uint32_t emit_abc(compiler *c, unsigned op, unsigned a, unsigned b, unsigned cc)
{
    return emit(c, IVM_ENCODE_ABC(op, a, b & 0xff, cc & 0xff));
}

static uint32_t emit_jump(compiler *c) { return emit(c, IVM_ENCODE_SJ(IVM_OP_JMP, 0)); }

/* Points the jump (JMP, or TRY's handler) at `at` to `target`. */
static bool patch(compiler *c, uint32_t at, uint32_t target)
{
    uint32_t *ins = &ITEMS(c->fn->code, uint32_t)[at];
    int64_t off = (int64_t)target - (int64_t)at - 1;
    if (IVM_GET_OP(*ins) == IVM_OP_TRY) {
        if (off < -IVM_SBX_BIAS || off >= IVM_SBX_BIAS)
            return fail(c, "try body too large", 0, NULL);
        *ins = IVM_ENCODE_ASBX(IVM_OP_TRY, IVM_GET_A(*ins), (int)off);
    } else {
        if (off < IVM_SJ_MIN || off > IVM_SJ_MAX)
            return fail(c, "function too large", 0, NULL);
        *ins = IVM_ENCODE_SJ(IVM_GET_OP(*ins), (int)off);
    }
    return true;
}

static bool patch_here(compiler *c, uint32_t at) { return patch(c, at, pc_of(c)); }

static bool alloc_reg(compiler *c, uint32_t *reg)
{
    fn_state *f = c->fn;
    if (f->free_reg >= MAX_REGS)
        return fail(c, "function too complex: more than 255 registers", 0, NULL);
    *reg = f->free_reg++;
    if (f->free_reg > f->max_reg)
        f->max_reg = f->free_reg;
    return true;
}

static bool same_constant(ivm_value a, ivm_value b)
{
    return a == b || (ivm_type_of(a) == ivm_type_of(b) && ivm_type_of(a) != IVM_T_FLOAT &&
                      ivm_type_of(a) != IVM_T_PROTO && ivm_equal(a, b));
}

static bool add_const(compiler *c, ivm_value v, uint32_t *index)
{
    fn_state *f = c->fn;
    uint32_t n = COUNT(f->consts, ivm_value);
    for (uint32_t i = 0; i < n; i++)
        if (same_constant(ITEMS(f->consts, ivm_value)[i], v)) {
            *index = i;
            return true;
        }
    if (n >= MAX_CONSTS)
        return fail(c, "function too large: more than 65536 constants", 0, NULL);
    push(&f->consts, &v, sizeof v);
    *index = n;
    return true;
}

static bool emit_load_const(compiler *c, ivm_value v, uint32_t dest)
{
    if (v == IVM_NIL) {
        emit_abc(c, IVM_OP_LOADNIL, dest, 0, 0);
    } else if (v == IVM_TRUE || v == IVM_FALSE) {
        emit_abc(c, v == IVM_TRUE ? IVM_OP_LOADTRUE : IVM_OP_LOADFALSE, dest, 0, 0);
    } else if (ivm_is_fixnum(v) && ivm_fixnum_value(v) >= -IVM_SBX_BIAS &&
               ivm_fixnum_value(v) < IVM_SBX_BIAS) {
        emit(c, IVM_ENCODE_ASBX(IVM_OP_LOADI, dest, (int)ivm_fixnum_value(v)));
    } else {
        uint32_t k;
        TRY(add_const(c, v, &k));
        emit(c, IVM_ENCODE_ABX(IVM_OP_LOADK, dest, k));
    }
    return true;
}

static bool finish(compiler *c, uint32_t dest, ctx x)
{
    if (x.ret)
        emit_abc(c, IVM_OP_RET, dest, 0, 0);
    return true;
}

/* ---- Names ------------------------------------------------------------- */

static bool sym_is(ivm_value v, const char *name) { return ivm_is_named(v, IVM_K_SYMBOL, name); }

/* A built-in's name as written by a program (+) or by the expander
 * (ivm.core/+). */
static bool op_is(ivm_value v, const char *name)
{
    if (sym_is(v, name))
        return true;
    if (!ivm_is_kind(v, IVM_K_SYMBOL))
        return false;
    const ivm_str *s = ivm_as_str(v);
    size_t n = ivm_cstr_len(name);
    return s->len == 9 + n && memcmp(s->bytes, "ivm.core/", 9) == 0 &&
           memcmp(s->bytes + 9, name, n) == 0;
}

static bool find_local(fn_state *f, ivm_value name, uint32_t *reg)
{
    for (uint32_t i = COUNT(f->locals, local); i-- > 0;)
        if (ITEMS(f->locals, local)[i].name == name) {
            *reg = ITEMS(f->locals, local)[i].reg;
            return true;
        }
    return false;
}

static bool add_local(compiler *c, ivm_value name, uint32_t reg)
{
    local l = {name, (uint8_t)reg};
    push(&c->fn->locals, &l, sizeof l);
    return true;
}

typedef enum { NAME_NONE, NAME_REG, NAME_CAP, NAME_SELF } name_kind;

/* A capture of the creating function's own self (a named fn referred to
 * from a fn inside it): the creator has no register holding itself, so
 * this index stands in until it makes the closure, when it puts SELF in a
 * register and points the capture there (see capture_self). */
#define SELF_CAPTURE 255

/* Where `name` lives as seen from f: a register, a capture (added on the
 * way down from the function that has it), or the function itself. */
static name_kind resolve(compiler *c, fn_state *f, ivm_value name, uint32_t *where)
{
    if (find_local(f, name, where))
        return NAME_REG;
    for (uint32_t i = 0; i < COUNT(f->capnames, ivm_value); i++)
        if (ITEMS(f->capnames, ivm_value)[i] == name) {
            *where = i;
            return NAME_CAP;
        }
    if (f->self_name == name)
        return NAME_SELF;
    if (!f->parent)
        return NAME_NONE;
    uint32_t outer;
    name_kind k = resolve(c, f->parent, name, &outer);
    if (k == NAME_NONE)
        return NAME_NONE;
    if (k == NAME_SELF) /* the enclosing function itself: see SELF_CAPTURE */
        outer = SELF_CAPTURE;
    uint32_t n = COUNT(f->caps, ivm_capture);
    if (n >= 255) {
        fail(c, "function captures too many values", 0, NULL);
        return NAME_NONE;
    }
    ivm_capture cap = {k == NAME_CAP ? IVM_CAPTURE_CAPTURE : IVM_CAPTURE_REGISTER, (uint8_t)outer};
    push(&f->caps, &cap, sizeof cap);
    push(&f->capnames, &name, sizeof name);
    *where = n;
    return NAME_CAP;
}

/* Whether name is a local of this function or one it is nested in: then
 * it shadows special forms, derived forms and intrinsics. */
static bool is_local(compiler *c, ivm_value name)
{
    uint32_t unused;
    for (fn_state *f = c->fn; f; f = f->parent) {
        if (find_local(f, name, &unused) || f->self_name == name)
            return true;
        for (uint32_t i = 0; i < COUNT(f->capnames, ivm_value); i++)
            if (ITEMS(f->capnames, ivm_value)[i] == name)
                return true;
    }
    return false;
}

/* The global a symbol names: ns/name through the aliases of (ns ...). */
static ivm_value global_name(compiler *c, ivm_value sym)
{
    return ivm_expand_alias(&c->ex, sym);
}

static bool global_known(compiler *c, ivm_value name)
{
    if (ivm_expand_defined(&c->ex, name))
        return true;
    uint32_t slot = ivm_global_slot(c->vm, name);
    return c->vm->globals[slot].value != IVM_UNBOUND;
}

static bool compile_symbol(compiler *c, ivm_value sym, uint32_t dest, ctx x)
{
    uint32_t where;
    switch (resolve(c, c->fn, sym, &where)) {
    case NAME_REG:
        if (x.ret)
            return finish(c, where, x);
        if (where != dest)
            emit_abc(c, IVM_OP_MOVE, dest, where, 0);
        return true;
    case NAME_CAP:
        emit_abc(c, IVM_OP_GETCAP, dest, where, 0);
        return finish(c, dest, x);
    case NAME_SELF:
        emit_abc(c, IVM_OP_SELF, dest, 0, 0);
        return finish(c, dest, x);
    default:
        break;
    }
    if (c->failed)
        return false;
    ivm_value name = global_name(c, sym);
    if (!global_known(c, name) && !(ivm_compiler_autoload(c->vm, name) && global_known(c, name)))
        return fail(c, "Unable to resolve symbol: ", sym, " in this context");
    uint32_t k;
    TRY(add_const(c, name, &k));
    emit(c, IVM_ENCODE_ABX(IVM_OP_GETGLOBAL, dest, k));
    return finish(c, dest, x);
}

/* ---- Forms ------------------------------------------------------------- */

static bool compile_expr(compiler *c, ivm_value form, uint32_t dest, ctx x);

static uint32_t list_len(ivm_value l) { return (uint32_t)ivm_list_count(l); }
static ivm_value nth_form(ivm_value l, uint32_t i)
{
    while (i--)
        l = ivm_as_cons(l)->rest;
    return ivm_as_cons(l)->first;
}
static ivm_value rest_form(ivm_value l) { return ivm_as_cons(l)->rest; }

/* A register holding form's value: a local's own register when form is a
 * local symbol, else a new temporary. */
static bool operand(compiler *c, ivm_value form, uint32_t *reg)
{
    if (ivm_is_kind(form, IVM_K_SYMBOL) && find_local(c->fn, form, reg))
        return true;
    TRY(alloc_reg(c, reg));
    return compile_expr(c, form, *reg, VALUE);
}

/* Compiles the forms of a list in order into consecutive registers from a
 * fresh `base` (a call's function and arguments). */
static bool compile_into_consecutive(compiler *c, ivm_value forms, uint32_t *base, uint32_t *n)
{
    *n = 0;
    *base = c->fn->free_reg;
    for (ivm_value l = forms; l != IVM_EMPTY_LIST; l = ivm_as_cons(l)->rest) {
        uint32_t r;
        TRY(alloc_reg(c, &r));
        locate(c, l, 0);
        TRY(compile_expr(c, ivm_as_cons(l)->first, r, VALUE));
        (*n)++;
    }
    return true;
}

/* Whether dest is the highest register in use and holds no local: then a
 * call may use it as its base, and its result lands where it is wanted. */
static bool is_top_temp(compiler *c, uint32_t dest)
{
    fn_state *f = c->fn;
    if (dest + 1 != f->free_reg)
        return false;
    for (uint32_t i = 0; i < COUNT(f->locals, local); i++)
        if (ITEMS(f->locals, local)[i].reg == dest)
            return false;
    return true;
}

static bool compile_call(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    uint32_t saved = c->fn->free_reg, base, n;
    ivm_value head = ivm_as_cons(form)->first;
    if (ivm_is_kind(head, IVM_K_SYMBOL) && !is_local(c, head) && !ivm_expand_check_arity(&c->ex, form))
        return fail(c, c->ex.error.data, 0, NULL);
    if (!x.ret && is_top_temp(c, dest))
        c->fn->free_reg = dest; /* build the call in place */
    TRY(compile_into_consecutive(c, form, &base, &n));
    if (n - 1 > 255)
        return fail(c, "too many arguments (more than 255)", 0, NULL);
    if (x.ret) {
        emit_abc(c, IVM_OP_TAILCALL, base, n - 1, 0);
    } else {
        emit_abc(c, IVM_OP_CALL, base, n - 1, 0);
        if (dest != base)
            emit_abc(c, IVM_OP_MOVE, dest, base, 0);
    }
    c->fn->free_reg = saved;
    return true;
}

/* ---- Conditions -------------------------------------------------------- */

static bool small_int(ivm_value v, int lo, int hi)
{
    return ivm_is_fixnum(v) && ivm_fixnum_value(v) >= lo && ivm_fixnum_value(v) <= hi;
}

/* The comparison intrinsic a test form is, if any: (< a b), (= a 0) ... */
static int comparison(compiler *c, ivm_value form)
{
    static const char *const names[] = {"<", "<=", ">", ">=", "=", NULL};
    if (!ivm_is_cons(form) || list_len(form) != 3)
        return -1;
    ivm_value head = ivm_as_cons(form)->first;
    for (int i = 0; names[i]; i++)
        if (op_is(head, names[i]) && !is_local(c, head) && ivm_expand_intrinsic(&c->ex, head))
            return i;
    return -1;
}

/* Emits a test of `form` and the JMP taken when the test's truth equals
 * `when`; *jump gets that JMP's pc for patching. */
static bool cond_jump(compiler *c, ivm_value form, bool when, uint32_t *jump)
{
    uint32_t saved = c->fn->free_reg;
    if (ivm_is_cons(form) && list_len(form) == 2 && op_is(ivm_as_cons(form)->first, "not") &&
        !is_local(c, ivm_as_cons(form)->first) &&
        ivm_expand_intrinsic(&c->ex, ivm_as_cons(form)->first)) {
        if (c->depth >= MAX_DEPTH)
            return fail(c, "form nested too deeply (more than 2000 levels)", 0, NULL);
        c->depth++;
        bool ok = cond_jump(c, nth_form(form, 1), !when, jump);
        c->depth--;
        return ok;
    }
    int cmp = comparison(c, form);
    if (cmp >= 0) {
        ivm_value a = nth_form(form, 1), b = nth_form(form, 2);
        uint32_t ra, rb;
        TRY(operand(c, a, &ra));
        if (small_int(b, -128, 127)) {
            static const unsigned imm_ops[] = {IVM_OP_LTI, IVM_OP_LEI, IVM_OP_GTI, IVM_OP_GEI, IVM_OP_EQI};
            emit_abc(c, imm_ops[cmp], ra, (unsigned)ivm_fixnum_value(b), when);
        } else {
            TRY(operand(c, b, &rb));
            switch (cmp) {
            case 0: emit_abc(c, IVM_OP_LT, ra, rb, when); break;
            case 1: emit_abc(c, IVM_OP_LE, ra, rb, when); break;
            case 2: emit_abc(c, IVM_OP_LT, rb, ra, when); break;
            case 3: emit_abc(c, IVM_OP_LE, rb, ra, when); break;
            default: emit_abc(c, IVM_OP_EQ, ra, rb, when); break;
            }
        }
    } else {
        uint32_t r;
        TRY(operand(c, form, &r));
        emit_abc(c, IVM_OP_TEST, r, when, 0);
    }
    *jump = emit_jump(c);
    c->fn->free_reg = saved;
    return true;
}

static bool compile_if(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    uint32_t n = list_len(form);
    if (n < 3 || n > 4)
        return fail(c, n < 3 ? "Too few arguments to if" : "Too many arguments to if", 0, NULL);
    uint32_t to_else, to_end = 0;
    TRY(cond_jump(c, nth_form(form, 1), false, &to_else));
    TRY(compile_expr(c, nth_form(form, 2), dest, x));
    if (!x.ret)
        to_end = emit_jump(c);
    TRY(patch_here(c, to_else));
    TRY(compile_expr(c, n == 4 ? nth_form(form, 3) : IVM_NIL, dest, x));
    return x.ret || patch_here(c, to_end);
}

/* A comparison used for its value: true or false into dest. */
static bool compile_comparison_value(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    uint32_t to_false, to_end;
    TRY(cond_jump(c, form, false, &to_false));
    emit_abc(c, IVM_OP_LOADTRUE, dest, 0, 0);
    to_end = emit_jump(c);
    TRY(patch_here(c, to_false));
    emit_abc(c, IVM_OP_LOADFALSE, dest, 0, 0);
    TRY(patch_here(c, to_end));
    return finish(c, dest, x);
}

/* ---- Arithmetic intrinsics ---------------------------------------------- */

/* (+ a b ...), (- a b), (* a b), (inc a), (dec a), (not a), (quot a b) ...
 * as instructions when the name still means the built-in function. */
static int compile_arith(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    static const struct { const char *name; unsigned op; } ops[] = {
        {"+", IVM_OP_ADD}, {"-", IVM_OP_SUB}, {"*", IVM_OP_MUL}, {"/", IVM_OP_DIV},
        {"quot", IVM_OP_QUOT}, {"rem", IVM_OP_REM}, {"mod", IVM_OP_MOD},
    };
    ivm_value head = ivm_as_cons(form)->first;
    if (!ivm_is_kind(head, IVM_K_SYMBOL) || is_local(c, head) ||
        !ivm_expand_intrinsic(&c->ex, head))
        return -1;
    uint32_t n = list_len(form) - 1, saved = c->fn->free_reg, ra, rb;
    if ((op_is(head, "inc") || op_is(head, "dec")) && n == 1) {
        TRY(operand(c, nth_form(form, 1), &ra));
        emit_abc(c, IVM_OP_ADDI, dest, ra, op_is(head, "inc") ? 1 : (unsigned)-1);
    } else if (op_is(head, "not") && n == 1) {
        TRY(operand(c, nth_form(form, 1), &ra));
        emit_abc(c, IVM_OP_NOT, dest, ra, 0);
    } else if (op_is(head, "-") && n == 1) {
        TRY(operand(c, nth_form(form, 1), &ra));
        emit_abc(c, IVM_OP_NEG, dest, ra, 0);
    } else {
        int i = 0;
        while (i < 7 && !op_is(head, ops[i].name))
            i++;
        bool folds = i < 3; /* + - * take any number of arguments */
        if (i == 7 || n < 2 || (!folds && n != 2))
            return -1;
        TRY(operand(c, nth_form(form, 1), &ra));
        uint32_t partial = UINT32_MAX; /* the running result of a fold */
        for (uint32_t k = 2; k <= n; k++) {
            ivm_value b = nth_form(form, k);
            /* never into ra: it may be a local's own register */
            if (k < n && partial == UINT32_MAX)
                TRY(alloc_reg(c, &partial));
            uint32_t into = k == n ? dest : partial;
            if ((ops[i].op == IVM_OP_ADD || ops[i].op == IVM_OP_SUB) && small_int(b, -127, 127)) {
                int64_t imm = ivm_fixnum_value(b) * (ops[i].op == IVM_OP_SUB ? -1 : 1);
                emit_abc(c, IVM_OP_ADDI, into, ra, (unsigned)imm);
            } else {
                TRY(operand(c, b, &rb));
                emit_abc(c, ops[i].op, into, ra, rb);
            }
            ra = into;
        }
    }
    c->fn->free_reg = saved;
    return finish(c, dest, x);
}

/* (vector a b ...), which vector literals expand to, as one VECTOR
 * instruction when the name still means the built-in function. */
static int compile_vector(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    ivm_value head = ivm_as_cons(form)->first;
    uint32_t n = list_len(form) - 1;
    if (!op_is(head, "vector") || is_local(c, head) || !ivm_expand_intrinsic(&c->ex, head) ||
        n > 255)
        return -1;
    uint32_t saved = c->fn->free_reg, base = dest, count = 0;
    if (n)
        TRY(compile_into_consecutive(c, rest_form(form), &base, &count));
    emit_abc(c, IVM_OP_VECTOR, dest, base, count);
    c->fn->free_reg = saved;
    return finish(c, dest, x);
}

/* ---- Special forms ----------------------------------------------------- */

static bool compile_body(compiler *c, ivm_value forms, uint32_t dest, ctx x)
{
    if (forms == IVM_EMPTY_LIST)
        return compile_expr(c, IVM_NIL, dest, x);
    for (ivm_value l = forms; l != IVM_EMPTY_LIST; l = rest_form(l)) {
        bool last = rest_form(l) == IVM_EMPTY_LIST;
        locate(c, l, 0);
        uint32_t saved = c->fn->free_reg;
        TRY(compile_expr(c, ivm_as_cons(l)->first, dest, last ? x : VALUE));
        c->fn->free_reg = saved;
    }
    return true;
}

static bool compile_def(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    uint32_t n = list_len(form);
    ivm_value name = n >= 2 ? nth_form(form, 1) : IVM_NIL;
    if (n < 2 || n > 4 || !ivm_is_kind(name, IVM_K_SYMBOL))
        return fail(c, "def needs a symbol and at most a docstring and a value", 0, NULL);
    ivm_value init = n == 2 ? IVM_NIL : nth_form(form, n - 1);
    ivm_expand_define(&c->ex, name, init);
    if (ivm_expand_macro(&c->ex, name)) /* a function now */
        ivm_expand_set_macro(&c->ex, name, IVM_UNBOUND);
    if (!c->nested && !c->fn->parent && COUNT(c->fn->locals, local) == 0 && ivm_is_cons(init) &&
        (sym_is(ivm_as_cons(init)->first, "fn") || sym_is(ivm_as_cons(init)->first, "fn*")))
        push(&c->pending_defs, &form, sizeof form);
    c->ex.def_name = ivm_string(c->h, ivm_as_str(name)->bytes, ivm_as_str(name)->len);
    bool ok = compile_expr(c, init, dest, VALUE);
    c->ex.def_name = IVM_NIL;
    TRY(ok);
    uint32_t k;
    TRY(add_const(c, name, &k));
    emit(c, IVM_ENCODE_ABX(IVM_OP_SETGLOBAL, dest, k));
    return finish(c, dest, x);
}

static bool compile_quote(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    if (list_len(form) != 2)
        return fail(c, "quote takes one form", 0, NULL);
    ivm_value q = nth_form(form, 1);
    int building = ivm_expand_needs_building(q);
    if (building < 0)
        return fail(c, "quoted form nested too deeply (more than 2000 levels)", 0, NULL);
    if (building) /* built at run time */
        return compile_expr(c, ivm_expand_quoted_collection(&c->ex, q), dest, x);
    TRY(emit_load_const(c, q, dest));
    return finish(c, dest, x);
}

/* The pairs of a binding vector, checked. */
static bool bindings(compiler *c, ivm_value form, const char *what, ivm_value *vec)
{
    *vec = list_len(form) >= 2 ? nth_form(form, 1) : IVM_NIL;
    if (!ivm_is_vector(*vec))
        return fail(c, what, 0, " requires a vector for its binding");
    if (ivm_vec_count(*vec) % 2)
        return fail(c, what, 0, " requires an even number of forms in binding vector");
    return true;
}

static bool bind_pattern(compiler *c, ivm_value pattern, uint32_t value_reg);

/* Binds a new local for `pattern` (a symbol, or a destructuring vector or
 * map) to the value compiled from `init`. */
static bool bind_init(compiler *c, ivm_value pattern, ivm_value init)
{
    uint32_t r;
    TRY(alloc_reg(c, &r));
    TRY(compile_expr(c, init, r, VALUE));
    return bind_pattern(c, pattern, r);
}

static bool bind_pattern(compiler *c, ivm_value pattern, uint32_t value_reg)
{
    if (ivm_is_kind(pattern, IVM_K_SYMBOL)) {
        if (ivm_as_str(pattern)->aux) /* ns/name */
            return fail(c, "Can't let qualified name: ", pattern, NULL);
        return add_local(c, pattern, value_reg);
    }
    /* a destructuring pattern: rewrite into plain bindings of the value
     * (nested patterns recurse through bind_init: count the depth) */
    if (c->depth >= MAX_DEPTH)
        return fail(c, "binding pattern nested too deeply (more than 2000 levels)", 0, NULL);
    ivm_value value = ivm_expand_gensym(&c->ex), pairs;
    TRY(add_local(c, value, value_reg));
    if (!ivm_expand_destructure(&c->ex, pattern, value, &pairs))
        return fail(c, c->ex.error.data, 0, NULL);
    c->depth++;
    bool ok = true;
    for (ivm_value l = pairs; ok && l != IVM_EMPTY_LIST; l = rest_form(rest_form(l)))
        ok = bind_init(c, ivm_as_cons(l)->first, nth_form(l, 1));
    c->depth--;
    return ok;
}

static bool compile_let(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    ivm_value vec;
    TRY(bindings(c, form, "let", &vec));
    fn_state *f = c->fn;
    uint32_t saved_reg = f->free_reg, saved_locals = COUNT(f->locals, local);
    for (uint64_t i = 0; i < ivm_vec_count(vec); i += 2) {
        locate(c, vec, (uint32_t)i);
        TRY(bind_init(c, ivm_vec_nth(vec, i), ivm_vec_nth(vec, i + 1)));
    }
    TRY(compile_body(c, rest_form(rest_form(form)), dest, x));
    f->locals.len = saved_locals * sizeof(local);
    f->free_reg = saved_reg;
    return true;
}

/* A loop body that is one (if test then else?) with a plain `if`. */
static bool is_rotatable(compiler *c, ivm_value body)
{
    if (body == IVM_EMPTY_LIST || rest_form(body) != IVM_EMPTY_LIST)
        return false;
    ivm_value form = ivm_as_cons(body)->first;
    return ivm_is_cons(form) && sym_is(ivm_as_cons(form)->first, "if") &&
           !is_local(c, ivm_as_cons(form)->first) && list_len(form) >= 3 && list_len(form) <= 4;
}

/* (if (< i big-constant) ...): the constant goes into a register before
 * the loop, so the test repeated at each recur can fuse with the step. */
static bool hoist_constant_bound(compiler *c, ivm_value *test)
{
    if (comparison(c, *test) < 0)
        return true;
    ivm_value bound = nth_form(*test, 2);
    if (ivm_is_cons(bound) || ivm_is_kind(bound, IVM_K_SYMBOL) || small_int(bound, -128, 127))
        return true;
    uint32_t r;
    TRY(alloc_reg(c, &r));
    TRY(emit_load_const(c, bound, r));
    ivm_value name = ivm_expand_gensym(&c->ex);
    TRY(add_local(c, name, r));
    ivm_value t = *test;
    *test = ivm_cons_new(c->h, ivm_as_cons(t)->first,
                         ivm_cons_new(c->h, nth_form(t, 1), ivm_cons_new(c->h, name, IVM_EMPTY_LIST)));
    return true;
}

/* The loop's body as test, then, else, where each recur repeats the test
 * at the bottom: one jump an iteration instead of two. */
static bool compile_rotated(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    fn_state *f = c->fn;
    ivm_value test = nth_form(form, 1);
    TRY(hoist_constant_bound(c, &test));
    uint32_t to_else, to_end = 0;
    TRY(cond_jump(c, test, false, &to_else));
    ivm_buf else_jumps = {0};
    f->loop.test = test;
    f->loop.body_pc = pc_of(c);
    f->loop.else_pc = UINT32_MAX;
    f->loop.else_jumps = &else_jumps;
    bool ok = compile_expr(c, nth_form(form, 2), dest, x);
    if (ok && !x.ret)
        to_end = emit_jump(c);
    ok = ok && patch_here(c, to_else);
    f->loop.else_pc = pc_of(c);
    for (uint32_t i = 0; ok && i < COUNT(else_jumps, uint32_t); i++)
        ok = patch_here(c, ITEMS(else_jumps, uint32_t)[i]);
    ivm_buf_free(&else_jumps);
    f->loop.else_jumps = NULL;
    ok = ok && compile_expr(c, list_len(form) == 4 ? nth_form(form, 3) : IVM_NIL, dest, x);
    return ok && (x.ret || patch_here(c, to_end));
}

/* The bottom of a rotated loop: the test again, jumping back to the body
 * while it holds; an (i += k) step and an (< i n) test fuse into LOOPLT. */
static bool recur_rotated(compiler *c, uint32_t assignments_from)
{
    loop_target *t = &c->fn->loop;
    uint32_t *code = ITEMS(c->fn->code, uint32_t);
    uint32_t last = pc_of(c) - 1, back;
    int cmp = comparison(c, t->test);
    uint32_t rb;
    if (cmp == 0 && pc_of(c) > assignments_from && IVM_GET_OP(code[last]) == IVM_OP_ADDI &&
        IVM_GET_A(code[last]) == IVM_GET_B(code[last]) &&
        ivm_is_kind(nth_form(t->test, 1), IVM_K_SYMBOL) &&
        ivm_is_kind(nth_form(t->test, 2), IVM_K_SYMBOL) &&
        find_local(c->fn, nth_form(t->test, 1), &rb) && rb == IVM_GET_A(code[last]) &&
        find_local(c->fn, nth_form(t->test, 2), &rb)) {
        code[last] = IVM_ENCODE_ABC(IVM_OP_LOOPLT, IVM_GET_A(code[last]), rb, IVM_GET_C(code[last]));
        back = emit_jump(c);
    } else {
        TRY(cond_jump(c, t->test, true, &back));
    }
    TRY(patch(c, back, t->body_pc));
    uint32_t j = emit_jump(c);
    if (t->else_pc != UINT32_MAX)
        return patch(c, j, t->else_pc);
    ivm_buf_add(t->else_jumps, &j, sizeof j);
    return true;
}

static bool compile_loop(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    ivm_value vec;
    TRY(bindings(c, form, "loop", &vec));
    fn_state *f = c->fn;
    uint32_t saved_reg = f->free_reg, saved_locals = COUNT(f->locals, local);
    uint32_t n = (uint32_t)ivm_vec_count(vec) / 2, first = f->free_reg;
    /* the loop's values in consecutive registers, bound after all are set */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r;
        TRY(alloc_reg(c, &r));
        locate(c, vec, 2 * i);
        TRY(compile_expr(c, ivm_vec_nth(vec, 2 * i + 1), r, VALUE));
        ivm_value pattern = ivm_vec_nth(vec, 2 * i);
        if (ivm_is_kind(pattern, IVM_K_SYMBOL))
            TRY(add_local(c, pattern, r));
    }
    loop_target saved_loop = f->loop;
    ivm_value names[128] = {0};
    if (n > 128)
        return fail(c, "loop binds too many names", 0, NULL);
    bool all_symbols = true;
    for (uint32_t i = 0; i < n; i++) {
        ivm_value pattern = ivm_vec_nth(vec, 2 * i);
        if (ivm_is_kind(pattern, IVM_K_SYMBOL))
            names[i] = pattern;
        else
            all_symbols = false;
    }
    f->loop = (loop_target){pc_of(c), (uint8_t)first, (uint8_t)n, names, 0, 0, 0, NULL};
    ivm_value body = rest_form(rest_form(form));
    ctx inner = {x.ret, true};
    bool ok;
    if (all_symbols && is_rotatable(c, body)) {
        ok = compile_rotated(c, ivm_as_cons(body)->first, dest, inner);
    } else {
        for (uint32_t i = 0; i < n; i++) { /* destructuring rebinds each time */
            ivm_value pattern = ivm_vec_nth(vec, 2 * i);
            if (!ivm_is_kind(pattern, IVM_K_SYMBOL))
                TRY(bind_pattern(c, pattern, first + i));
        }
        ok = compile_body(c, body, dest, inner);
    }
    f->loop = saved_loop;
    f->locals.len = saved_locals * sizeof(local);
    f->free_reg = saved_reg;
    return ok;
}

/* Whether form mentions the symbol (anywhere: a conservative answer). */
static bool mentions(ivm_value form, ivm_value sym)
{
    if (form == sym)
        return true;
    if (ivm_is_cons(form)) {
        for (; form != IVM_EMPTY_LIST; form = ivm_as_cons(form)->rest)
            if (mentions(ivm_as_cons(form)->first, sym))
                return true;
        return false;
    }
    if (ivm_is_vector(form)) {
        for (uint64_t i = 0; i < ivm_vec_count(form); i++)
            if (mentions(ivm_vec_nth(form, i), sym))
                return true;
        return false;
    }
    return ivm_is_map(form) || ivm_is_set(form); /* not worth a look */
}

/* Side-effect free and cheap: a name, a constant, or + - * inc dec of such
 * (recur may then evaluate its arguments in any order). */
static bool simple(compiler *c, ivm_value form, int depth)
{
    if (!ivm_is_cons(form))
        return !ivm_is_vector(form) && !ivm_is_map(form) && !ivm_is_set(form);
    ivm_value head = ivm_as_cons(form)->first;
    static const char *const pure[] = {"+", "-", "*", "inc", "dec", NULL};
    bool ok = false;
    for (int i = 0; pure[i]; i++)
        ok = ok || op_is(head, pure[i]);
    if (!ok || depth > 4 || is_local(c, head) || !ivm_expand_intrinsic(&c->ex, head))
        return false;
    for (ivm_value l = ivm_as_cons(form)->rest; l != IVM_EMPTY_LIST; l = ivm_as_cons(l)->rest)
        if (!simple(c, ivm_as_cons(l)->first, depth + 1))
            return false;
    return true;
}

/* Compiles recur arguments straight into the loop's registers where that
 * is safe: all arguments simple, and no argument still to come reads the
 * register being written. Marks what it did in done[]. */
static bool assign_in_place(compiler *c, const ivm_value *args, uint32_t n, bool *done)
{
    const loop_target *t = &c->fn->loop;
    for (uint32_t k = 0; k < n; k++)
        if (!simple(c, args[k], 0))
            return true;
    for (bool progress = true; progress;) {
        progress = false;
        for (uint32_t k = 0; k < n; k++) {
            if (done[k] || !t->names[k])
                continue;
            bool read_later = false;
            for (uint32_t j = 0; j < n && !read_later; j++)
                read_later = j != k && !done[j] && mentions(args[j], t->names[k]);
            if (read_later)
                continue;
            /* (recur i ...) keeps i as it is, unless a let has shadowed
             * the name: then i is that let's value */
            uint32_t reg;
            if (!find_local(c->fn, args[k], &reg) || reg != t->first + k)
                TRY(compile_expr(c, args[k], t->first + k, VALUE));
            done[k] = progress = true;
        }
    }
    return true;
}

static bool compile_recur(compiler *c, ivm_value form, ctx x)
{
    fn_state *f = c->fn;
    if (!x.recur_ok)
        return fail(c, "Can only recur from tail position", 0, NULL);
    uint32_t n = list_len(form) - 1;
    if (n != f->loop.count) {
        ivm_buf m = {0};
        ivm_buf_add_cstr(&m, "Mismatched argument count to recur, expected: ");
        ivm_buf_add_int(&m, f->loop.count);
        ivm_buf_add_cstr(&m, " args, got: ");
        ivm_buf_add_int(&m, n);
        fail(c, m.data, 0, NULL);
        ivm_buf_free(&m);
        return false;
    }
    uint32_t saved = f->free_reg, base, count, assignments_from = pc_of(c);
    bool done[256] = {false};
    ivm_value args[256];
    uint32_t i = 0;
    for (ivm_value l = rest_form(form); l != IVM_EMPTY_LIST; l = rest_form(l))
        args[i++] = ivm_as_cons(l)->first;
    TRY(assign_in_place(c, args, n, done));
    ivm_value left = IVM_EMPTY_LIST; /* the rest go through temporaries */
    for (uint32_t k = n; k-- > 0;)
        if (!done[k])
            left = ivm_cons_new(c->h, args[k], left);
    TRY(compile_into_consecutive(c, left, &base, &count));
    for (uint32_t k = 0, t = 0; k < n; k++)
        if (!done[k])
            emit_abc(c, IVM_OP_MOVE, f->loop.first + k, base + t++, 0);
    f->free_reg = saved;
    if (f->loop.test)
        return recur_rotated(c, assignments_from);
    uint32_t j = emit_jump(c);
    return patch(c, j, f->loop.pc);
}

static bool compile_do(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    return compile_body(c, rest_form(form), dest, x);
}

static bool compile_throw(compiler *c, ivm_value form)
{
    if (list_len(form) != 2)
        return fail(c, "throw takes one value", 0, NULL);
    uint32_t r, saved = c->fn->free_reg;
    TRY(operand(c, nth_form(form, 1), &r));
    emit_abc(c, IVM_OP_THROW, r, 0, 0);
    c->fn->free_reg = saved;
    return true;
}

/* ---- Functions --------------------------------------------------------- */

static void fn_free(fn_state *f)
{
    ivm_buf_free(&f->code);
    ivm_buf_free(&f->consts);
    ivm_buf_free(&f->lines);
    ivm_buf_free(&f->caps);
    ivm_buf_free(&f->capnames);
    ivm_buf_free(&f->locals);
}

static void copy_out(void *to, const ivm_buf *b)
{
    if (b->len) /* an empty buffer has no data pointer */
        memcpy(to, b->data, b->len);
}

/* Makes the finished function's prototype and records it. */
static ivm_value make_proto(compiler *c, fn_state *f)
{
    ivm_value v = ivm_proto_new(c->h, COUNT(f->consts, ivm_value), COUNT(f->code, uint32_t),
                                COUNT(f->lines, ivm_line), COUNT(f->caps, ivm_capture));
    ivm_proto *p = ivm_as_proto(v);
    p->name = f->name;
    p->source = c->source;
    p->nparams = f->nparams;
    p->flags = f->variadic ? IVM_PROTO_VARIADIC : 0;
    p->nregs = (uint8_t)(f->max_reg ? f->max_reg : 1);
    copy_out(ivm_proto_consts(p), &f->consts);
    copy_out(ivm_proto_code(p), &f->code);
    copy_out(ivm_proto_lines(p), &f->lines);
    copy_out(ivm_proto_caps(p), &f->caps);
    push(&c->protos, &v, sizeof v);
    return v;
}

/* One arity: ([params] body...). Returns its prototype. */
static bool compile_arity(compiler *c, ivm_value name, ivm_value self, ivm_value params,
                          ivm_value body, ivm_value *proto)
{
    if (!ivm_is_vector(params))
        return fail(c, "Parameter declaration ", params, " should be a vector");
    fn_state f = {.parent = c->fn, .name = name, .self_name = self};
    c->fn = &f;
    uint64_t np = ivm_vec_count(params);
    uint32_t fixed = 0;
    bool ok = true;
    ivm_value rest = 0;
    for (uint64_t i = 0; i < np && ok; i++) {
        ivm_value p = ivm_vec_nth(params, i);
        if (sym_is(p, "&")) {
            if (i + 2 != np)
                ok = fail(c, "a single rest parameter must follow &", 0, NULL);
            else
                rest = ivm_vec_nth(params, i + 1);
            break;
        }
        fixed++;
    }
    if (ok && fixed > 20)
        ok = fail(c, "Can't specify more than 20 params", 0, NULL);
    uint32_t r;
    for (uint32_t i = 0; i < fixed + (rest != 0) && ok; i++)
        ok = alloc_reg(c, &r);
    f.nparams = (uint8_t)fixed;
    f.variadic = rest != 0;
    ivm_value names[21] = {0};
    for (uint32_t i = 0; i < fixed + (rest != 0) && i < 21; i++) {
        ivm_value p = i < fixed ? ivm_vec_nth(params, i) : rest;
        names[i] = ivm_is_kind(p, IVM_K_SYMBOL) ? p : 0;
    }
    f.loop = (loop_target){.count = (uint8_t)(fixed + (rest != 0)), .names = names};
    for (uint32_t i = 0; i < fixed && ok; i++)
        ok = bind_pattern(c, ivm_vec_nth(params, i), i);
    if (ok && rest)
        ok = bind_pattern(c, rest, fixed);
    uint32_t dest;
    if (ok)
        ok = alloc_reg(c, &dest) && compile_body(c, body, dest, (ctx){true, true});
    c->fn = f.parent;
    if (ok)
        *proto = make_proto(c, &f);
    fn_free(&f);
    return ok;
}

/* Points a new prototype's SELF_CAPTURE descriptors at `reg`, the
 * register its CLOSURE will write, after putting the running function
 * there with SELF (CLOSURE reads its captures before it writes). */
static void capture_self(compiler *c, ivm_value proto, uint32_t reg)
{
    ivm_proto *p = ivm_as_proto(proto);
    bool loaded = false;
    for (uint32_t i = 0; i < p->ncaps; i++) {
        ivm_capture *cap = &ivm_proto_caps(p)[i];
        if (cap->kind != IVM_CAPTURE_REGISTER || cap->index != SELF_CAPTURE)
            continue;
        if (!loaded)
            emit_abc(c, IVM_OP_SELF, reg, 0, 0);
        loaded = true;
        cap->index = (uint8_t)reg;
    }
}

/* (fn name? [params] body...) or (fn name? ([params] body...) ...) */
static bool compile_fn(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    ivm_value l = rest_form(form), name = IVM_NIL, self = 0;
    if (l != IVM_EMPTY_LIST && ivm_is_kind(ivm_as_cons(l)->first, IVM_K_SYMBOL)) {
        self = ivm_as_cons(l)->first;
        const ivm_str *s = ivm_as_str(self);
        name = ivm_string(c->h, s->bytes, s->len);
        l = rest_form(l);
    }
    ivm_value display = name != IVM_NIL ? name : c->ex.def_name;
    ivm_value arities = l;
    if (l != IVM_EMPTY_LIST && ivm_is_vector(ivm_as_cons(l)->first))
        arities = ivm_cons_new(c->h, l, IVM_EMPTY_LIST); /* one arity */
    uint32_t n = list_len(arities);
    if (n == 0)
        return fail(c, "fn needs a parameter vector", 0, NULL);
    uint32_t saved = c->fn->free_reg, base = c->fn->free_reg;
    for (ivm_value a = arities; a != IVM_EMPTY_LIST; a = rest_form(a)) {
        ivm_value arity = ivm_as_cons(a)->first;
        if (!ivm_is_cons(arity))
            return fail(c, "each arity of fn must be a list ([params] body...)", 0, NULL);
        ivm_value proto;
        TRY(compile_arity(c, display, self, ivm_as_cons(arity)->first, rest_form(arity), &proto));
        uint32_t k, r;
        TRY(add_const(c, proto, &k));
        TRY(alloc_reg(c, &r));
        capture_self(c, proto, n == 1 ? dest : r);
        emit(c, IVM_ENCODE_ABX(IVM_OP_CLOSURE, n == 1 ? dest : r, k));
    }
    if (n > 1)
        emit_abc(c, IVM_OP_MULTIFN, dest, base, n);
    c->fn->free_reg = saved;
    return finish(c, dest, x);
}

/* ---- try --------------------------------------------------------------- */

/* (catch Class e body...), (catch :default e body...) or (catch e body...) */
static bool catch_parts(compiler *c, ivm_value clause, ivm_value *sym, ivm_value *body)
{
    uint32_t n = list_len(clause);
    ivm_value a = n > 1 ? nth_form(clause, 1) : IVM_NIL;
    ivm_value b = n > 2 ? nth_form(clause, 2) : IVM_NIL;
    if (ivm_is_kind(b, IVM_K_SYMBOL) && (ivm_is_kind(a, IVM_K_SYMBOL) || ivm_is_kind(a, IVM_K_KEYWORD))) {
        *sym = b;
        *body = rest_form(rest_form(rest_form(clause)));
    } else if (ivm_is_kind(a, IVM_K_SYMBOL)) {
        *sym = a;
        *body = rest_form(rest_form(clause));
    } else {
        return fail(c, "catch needs a name for the error: (catch Exception e body...)", 0, NULL);
    }
    return true;
}

static bool compile_try(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    ivm_value body = IVM_EMPTY_LIST, catch_clause = 0, finally = 0;
    ivm_value items[256];
    uint32_t nbody = 0;
    for (ivm_value l = rest_form(form); l != IVM_EMPTY_LIST; l = rest_form(l)) {
        ivm_value f = ivm_as_cons(l)->first;
        ivm_value head = ivm_is_cons(f) ? ivm_as_cons(f)->first : IVM_NIL;
        if (sym_is(head, "catch")) {
            if (!catch_clause)
                catch_clause = f; /* ivm catches everything with the first */
        } else if (sym_is(head, "finally")) {
            finally = f;
        } else if (catch_clause || finally) {
            return fail(c, "only catch and finally clauses may follow the body of try", 0, NULL);
        } else if (nbody < 256) {
            items[nbody++] = f;
        } else {
            return fail(c, "try body too long", 0, NULL);
        }
    }
    for (uint32_t i = nbody; i-- > 0;)
        body = ivm_cons_new(c->h, items[i], body);
    fn_state *f = c->fn;
    uint32_t saved = f->free_reg, err_reg, to_end;
    TRY(alloc_reg(c, &err_reg));
    uint32_t try_pc = emit(c, IVM_ENCODE_ASBX(IVM_OP_TRY, err_reg, 0));
    if (finally) { /* the body and the catch run under a handler for finally */
        ivm_value inner; /* (try body... catch) or (do body...) */
        if (catch_clause) {
            inner = ivm_cons_new(c->h, catch_clause, IVM_EMPTY_LIST);
            for (uint32_t i = nbody; i-- > 0;)
                inner = ivm_cons_new(c->h, items[i], inner);
            inner = ivm_cons_new(c->h, ivm_as_cons(form)->first, inner);
        } else {
            inner = ivm_cons_new(c->h, ivm_symbol_cstr(c->h, "do"), body);
        }
        TRY(compile_expr(c, inner, dest, VALUE));
        emit_abc(c, IVM_OP_ENDTRY, 0, 0, 0);
        uint32_t scratch;
        TRY(alloc_reg(c, &scratch));
        TRY(compile_body(c, rest_form(finally), scratch, VALUE));
        to_end = emit_jump(c);
        TRY(patch_here(c, try_pc));
        TRY(compile_body(c, rest_form(finally), scratch, VALUE));
        emit_abc(c, IVM_OP_THROW, err_reg, 0, 0);
    } else {
        TRY(compile_body(c, body, dest, VALUE));
        emit_abc(c, IVM_OP_ENDTRY, 0, 0, 0);
        to_end = emit_jump(c);
        TRY(patch_here(c, try_pc));
        if (catch_clause) {
            ivm_value sym, handler;
            TRY(catch_parts(c, catch_clause, &sym, &handler));
            uint32_t saved_locals = COUNT(f->locals, local);
            TRY(add_local(c, sym, err_reg));
            TRY(compile_body(c, handler, dest, VALUE));
            f->locals.len = saved_locals * sizeof(local);
        } else {
            emit_abc(c, IVM_OP_THROW, err_reg, 0, 0);
        }
    }
    TRY(patch_here(c, to_end));
    f->free_reg = saved;
    return finish(c, dest, x);
}

/* ---- Macros ------------------------------------------------------------ */

static void fn_free(fn_state *f);
static ivm_value make_proto(compiler *c, fn_state *f);

/* Compiles form into a module of its own and runs it now, giving its
 * value: defmacro's function, and the top-level functions a macro may
 * call. The nested compilation shares this one's expander and positions
 * (taken over and handed back: it is strictly nested). Collections are
 * held off while it runs, since the forms being compiled are rooted
 * nowhere; the module is kept by the VM, like every module loaded. */
static bool eval_now(compiler *c, ivm_value form, ivm_value *result)
{
    compiler sub = {.vm = c->vm, .h = c->h, .file = c->file, .positions = c->positions,
                    .err = c->err, .at = c->at, .loads = c->loads, .source = c->source,
                    .ex = c->ex, .nested = true};
    fn_state entry = {.name = ivm_string(c->h, "macro", 5)};
    sub.fn = &entry;
    uint32_t dest;
    bool ok = alloc_reg(&sub, &dest) && compile_expr(&sub, form, dest, VALUE);
    if (ok) {
        emit_abc(&sub, IVM_OP_RET, dest, 0, 0);
        make_proto(&sub, &entry);
    }
    fn_free(&entry);
    c->ex = sub.ex;
    c->positions = sub.positions;
    ivm_buf_free(&sub.pending_defs);
    ivm_buf ivc = {0};
    if (ok) {
        ivm_module m = {c->source, COUNT(sub.protos, ivm_value), COUNT(sub.protos, ivm_value) - 1,
                        ITEMS(sub.protos, ivm_value)};
        ivm_write_ivc(&m, &ivc);
    }
    ivm_buf_free(&sub.protos);
    if (!ok) {
        c->failed = true;
        return false;
    }
    const ivm_module *m;
    ivm_load_error le;
    ok = ivm_load(c->vm, (const uint8_t *)ivc.data, ivc.len, &m, &le);
    ivm_buf_free(&ivc);
    if (!ok)
        return fail(c, "internal error: a macro's module does not load: ", 0, le.message);
    c->vm->gc_hold++;
    ivm_status st = ivm_call(c->vm, ivm_module_entry(c->vm, m), 0, NULL, result);
    c->vm->gc_hold--;
    if (st != IVM_OK) {
        ivm_buf msg = {0};
        ivm_format_error(c->vm, &msg);
        while (msg.len && msg.data[msg.len - 1] == '\n')
            msg.len--;
        ivm_buf_add_char(&msg, '\0');
        fail(c, "error at compile time: ", 0, msg.data);
        ivm_buf_free(&msg);
        return false;
    }
    return true;
}

/* Runs the top-level function definitions not yet run (see pending_defs). */
static bool run_pending_defs(compiler *c)
{
    ivm_buf defs = c->pending_defs; /* taken: a def's own macro calls find none */
    c->pending_defs = (ivm_buf){0};
    bool ok = true;
    for (uint32_t i = 0; ok && i < COUNT(defs, ivm_value); i++) {
        ivm_value ignored;
        ok = eval_now(c, ITEMS(defs, ivm_value)[i], &ignored);
    }
    ivm_buf_free(&defs);
    return ok;
}

static bool compile_macro_call(compiler *c, ivm_value macro, ivm_value form, uint32_t dest, ctx x)
{
    ivm_value expanded;
    TRY(run_pending_defs(c));
    if (!ivm_expand_call_macro(&c->ex, macro, form, &expanded))
        return fail(c, c->ex.error.data, 0, NULL);
    if (ivm_is_obj(expanded))
        ivm_positions_put(&c->positions, expanded, IVM_POS_OPEN, c->at);
    return compile_expr(c, expanded, dest, x);
}

/* (defmacro name doc? attrs? [params] body...) or with arities: its
 * function is made now, as defn would make it, and called on the forms of
 * every later call of name. The form's own value is nil. */
static bool compile_defmacro(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    if (c->vm->rt->compile_time_code_off)
        return fail(c, "defmacro is off in this VM: it would run code while compiling", 0, NULL);
    ivm_value as_defn = ivm_cons_new(c->h, ivm_symbol_cstr(c->h, "defn"), rest_form(form)), def;
    if (ivm_expand(&c->ex, as_defn, &def) < 0) {
        ivm_buf *e = &c->ex.error;
        if (e->len > 4 && memcmp(e->data, "defn", 4) == 0) /* "defn needs ..." */
            return fail(c, "defmacro", 0, e->data + 4);
        return fail(c, e->data, 0, NULL);
    }
    ivm_value name = nth_form(def, 1), fn;
    c->ex.def_name = ivm_string(c->h, ivm_as_str(name)->bytes, ivm_as_str(name)->len);
    bool ok = eval_now(c, nth_form(def, 2), &fn);
    c->ex.def_name = IVM_NIL;
    TRY(ok);
    ivm_expand_set_macro(&c->ex, name, fn);
    emit_abc(c, IVM_OP_LOADNIL, dest, 0, 0);
    return finish(c, dest, x);
}

/* ---- Dispatch ---------------------------------------------------------- */

static bool compile_load(compiler *c, ivm_value form, uint32_t dest, ctx x);

static bool compile_list(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    locate(c, form, IVM_POS_OPEN);
    ivm_value head = ivm_as_cons(form)->first;
    if (ivm_is_kind(head, IVM_K_SYMBOL) && !is_local(c, head)) {
        ivm_value plain = ivm_expand_alias(&c->ex, head); /* clojure.core/let is let */
        if (plain != head && !ivm_as_str(plain)->aux) {
            head = plain;
            form = ivm_cons_new(c->h, head, rest_form(form));
        }
        ivm_value macro = ivm_expand_macro(&c->ex, head), expanded;
        if (macro)
            return compile_macro_call(c, macro, form, dest, x);
        if (sym_is(head, "defmacro"))
            return compile_defmacro(c, form, dest, x);
        int e = ivm_expand(&c->ex, form, &expanded);
        if (e < 0)
            return fail(c, c->ex.error.data, 0, NULL);
        if (e > 0) {
            if (ivm_is_obj(expanded)) /* errors in it point at the original */
                ivm_positions_put(&c->positions, expanded, IVM_POS_OPEN, c->at);
            return compile_expr(c, expanded, dest, x);
        }
        if (sym_is(head, "if")) return compile_if(c, form, dest, x);
        if (sym_is(head, "do")) return compile_do(c, form, dest, x);
        if (sym_is(head, "let") || sym_is(head, "let*")) return compile_let(c, form, dest, x);
        if (sym_is(head, "loop") || sym_is(head, "loop*")) return compile_loop(c, form, dest, x);
        if (sym_is(head, "recur")) return compile_recur(c, form, x);
        if (sym_is(head, "fn") || sym_is(head, "fn*")) return compile_fn(c, form, dest, x);
        if (sym_is(head, "def")) return compile_def(c, form, dest, x);
        if (sym_is(head, "quote")) return compile_quote(c, form, dest, x);
        if (sym_is(head, "try")) return compile_try(c, form, dest, x);
        if (sym_is(head, "throw")) return compile_throw(c, form);
        if (sym_is(head, "load") && !ivm_expand_defined(&c->ex, head))
            return compile_load(c, form, dest, x);
        if (sym_is(head, "catch") || sym_is(head, "finally"))
            return fail(c, "", head, " outside try");
        if (comparison(c, form) >= 0)
            return compile_comparison_value(c, form, dest, x);
        int a = compile_arith(c, form, dest, x);
        if (a < 0)
            a = compile_vector(c, form, dest, x);
        if (a >= 0)
            return a;
        ivm_value name = global_name(c, head); /* a prelude macro or function not yet loaded */
        if (!global_known(c, name) && ivm_compiler_autoload(c->vm, name))
            return compile_list(c, form, dest, x);
    }
    return compile_call(c, form, dest, x);
}

static bool compile_expr(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    if (c->failed)
        return false;
    if (ivm_is_cons(form)) {
        if (c->depth >= MAX_DEPTH)
            return fail(c, "form nested too deeply (more than 2000 levels)", 0, NULL);
        c->depth++;
        bool ok = compile_list(c, form, dest, x);
        c->depth--;
        return ok;
    }
    if (ivm_is_kind(form, IVM_K_SYMBOL))
        return compile_symbol(c, form, dest, x);
    if (ivm_is_vector(form) || ivm_is_map(form) || ivm_is_set(form)) {
        locate(c, form, IVM_POS_OPEN);
        return compile_expr(c, ivm_expand_collection(&c->ex, form), dest, x);
    }
    TRY(emit_load_const(c, form, dest));
    return finish(c, dest, x);
}

/* ---- Files ------------------------------------------------------------- */

/* Reads and compiles every form of a text, in order, into dest. */
static bool compile_text(compiler *c, const char *text, size_t len, uint32_t dest)
{
    ivm_reader r;
    ivm_reader_init(&r, c->h, text, len, c->file, &c->positions);
    for (;;) {
        ivm_value form;
        ivm_source_pos where;
        int got = ivm_read(&r, &form, &where, c->err);
        if (got <= 0) {
            if (got < 0)
                c->failed = true;
            return got == 0;
        }
        c->at = where;
        TRY(compile_expr(c, form, dest, VALUE));
    }
}

/* (load "path"): the file, found relative to the one being compiled, is
 * compiled in place, so what it defines is known to the forms after it
 * and `ivm compile` makes one self-contained file. */
static bool compile_load(compiler *c, ivm_value form, uint32_t dest, ctx x)
{
    ivm_value path = list_len(form) == 2 ? nth_form(form, 1) : IVM_NIL;
    if (!ivm_is_kind(path, IVM_K_STRING))
        return fail(c, "load takes one literal path string", 0, NULL);
    if (c->loads >= 32)
        return fail(c, "load nested more than 32 deep (a file loading itself?)", 0, NULL);
    ivm_buf full = {0};
    const ivm_str *p = ivm_as_str(path);
    size_t dir = ivm_cstr_len(c->file);
    while (dir > 0 && c->file[dir - 1] != '/')
        dir--;
    if (p->len == 0 || p->bytes[0] != '/')
        ivm_buf_add(&full, c->file, dir);
    ivm_buf_add(&full, p->bytes, p->len);
    uint8_t *text;
    size_t len;
    const char *why;
    if (!ivm_platform_read_file(full.data, &text, &len, &why)) {
        fail(c, "cannot load ", ivm_string(c->h, full.data, full.len), NULL);
        ivm_buf_add_cstr(c->err, ": ");
        ivm_buf_add_cstr(c->err, why);
        ivm_buf_free(&full);
        return false;
    }
    const char *outer_file = c->file;
    ivm_value outer_source = c->source;
    ivm_source_pos outer_at = c->at;
    c->file = full.data;
    c->source = ivm_string(c->h, full.data, full.len);
    c->loads++;
    emit_abc(c, IVM_OP_LOADNIL, dest, 0, 0);
    bool ok = compile_text(c, (const char *)text, len, dest);
    c->loads--;
    c->file = outer_file; /* errors were written out already, naming full */
    c->source = outer_source;
    c->at = outer_at;
    ivm_platform_free(text);
    ivm_buf_free(&full);
    return ok && finish(c, dest, x);
}

static bool compile_forms(compiler *c, const char *text, size_t len)
{
    fn_state entry = {.name = ivm_string(c->h, "main", 4)};
    c->fn = &entry;
    uint32_t dest;
    bool ok = alloc_reg(c, &dest);
    emit_abc(c, IVM_OP_LOADNIL, dest, 0, 0);
    ok = ok && compile_text(c, text, len, dest);
    if (ok) {
        emit_abc(c, IVM_OP_RET, dest, 0, 0);
        make_proto(c, &entry);
    }
    c->fn = NULL;
    fn_free(&entry);
    return ok;
}

bool ivm_compile(ivm_vm *vm, const char *text, size_t len, const char *filename,
                 ivm_buf *out, ivm_buf *err)
{
    compiler c = {.vm = vm, .h = &vm->heap, .file = filename, .err = err};
    c.source = ivm_string(c.h, filename, ivm_cstr_len(filename));
    ivm_expander_init(&c.ex, vm);
    bool ok = compile_forms(&c, text, len);
    if (ok) {
        ivm_module m = {c.source, COUNT(c.protos, ivm_value), COUNT(c.protos, ivm_value) - 1,
                        ITEMS(c.protos, ivm_value)};
        ivm_write_ivc(&m, out);
    }
    ivm_expander_free(&c.ex);
    ivm_positions_free(&c.positions);
    ivm_buf_free(&c.protos);
    ivm_buf_free(&c.pending_defs);
    return ok;
}

/* ---- Natives the compiled code needs ----------------------------------- */

#define NATIVE(name)                                                           \
    static ivm_status name(ivm_vm *vm, const ivm_value *args, uint32_t nargs, \
                           ivm_value *result)

/* (ex-info msg data) and (ex-info msg data cause) */
NATIVE(n_ex_info)
{
    if (args[0] != IVM_NIL && !ivm_is_kind(args[0], IVM_K_STRING))
        return ivm_raise_type(vm, "ex-info's message must be a string or nil", args[0]);
    if (args[1] != IVM_NIL && !ivm_is_map(args[1]))
        return ivm_raise_type(vm, "ex-info's data must be a map", args[1]);
    *result = ivm_exception_new(&vm->heap, args[0], args[1], nargs > 2 ? args[2] : IVM_NIL);
    return IVM_OK;
}

/* The message of an ex-info, or of an error ivm raised (a string). */
NATIVE(n_ex_message)
{
    (void)vm, (void)nargs;
    ivm_value e = args[0];
    *result = ivm_is_kind(e, IVM_K_EXCEPTION) ? ivm_as_exception(e)->message
              : ivm_is_kind(e, IVM_K_STRING)  ? e
                                              : IVM_NIL;
    return IVM_OK;
}

NATIVE(n_ex_data)
{
    (void)vm, (void)nargs;
    *result = ivm_is_kind(args[0], IVM_K_EXCEPTION) ? ivm_as_exception(args[0])->data : IVM_NIL;
    return IVM_OK;
}

NATIVE(n_ex_cause)
{
    (void)vm, (void)nargs;
    *result = ivm_is_kind(args[0], IVM_K_EXCEPTION) ? ivm_as_exception(args[0])->cause : IVM_NIL;
    return IVM_OK;
}

/* What map destructuring looks into: a seq of keyword arguments becomes a
 * map (a seq holding one map is that map), anything else stays as it is. */
NATIVE(n_destructure_map)
{
    (void)nargs;
    ivm_value v = args[0];
    if (!ivm_is_cons(v)) {
        *result = v;
        return IVM_OK;
    }
    if (ivm_list_count(v) == 1 && ivm_is_map(ivm_as_cons(v)->first)) {
        *result = ivm_as_cons(v)->first;
        return IVM_OK;
    }
    if (ivm_list_count(v) % 2)
        return ivm_raise_type(vm, "keyword arguments must come in pairs", v);
    ivm_value m = ivm_map_empty(&vm->heap);
    for (; v != IVM_EMPTY_LIST; v = ivm_as_cons(ivm_as_cons(v)->rest)->rest)
        m = ivm_map_assoc(&vm->heap, m, ivm_as_cons(v)->first,
                          ivm_as_cons(ivm_as_cons(v)->rest)->first);
    *result = m;
    return IVM_OK;
}

/* (exit n): ends the program with status n, its output written out. */
NATIVE(n_exit)
{
    (void)nargs, (void)result;
    if (!ivm_is_int(args[0]) || ivm_int_value(args[0]) < 0 || ivm_int_value(args[0]) > 255)
        return ivm_raise_type(vm, "exit takes a status from 0 to 255", args[0]);
    ivm_vm_flush(vm);
    ivm_platform_exit((int)ivm_int_value(args[0]));
}

/* (gensym) is G__N, (gensym prefix) prefixN, as in Clojure. */
NATIVE(n_gensym)
{
    if (nargs == 0) {
        *result = ivm_expand_fresh_symbol(&vm->heap, "G__", 3, "");
        return IVM_OK;
    }
    if (!ivm_is_kind(args[0], IVM_K_STRING) && !ivm_is_kind(args[0], IVM_K_SYMBOL))
        return ivm_raise_type(vm, "gensym's prefix must be a string or a symbol", args[0]);
    const ivm_str *p = ivm_as_str(args[0]);
    *result = ivm_expand_fresh_symbol(&vm->heap, p->bytes, p->len, "");
    return IVM_OK;
}

/* One step of expansion of form, by an expander of its own; the same form
 * when it is not a macro call (ok false: the macro threw). */
static ivm_status expand_once(ivm_vm *vm, ivm_value form, ivm_value *out)
{
    *out = form;
    if (!ivm_is_cons(form) || !ivm_is_kind(ivm_as_cons(form)->first, IVM_K_SYMBOL))
        return IVM_OK;
    ivm_expander ex;
    ivm_expander_init(&ex, vm);
    ivm_value head = ivm_expand_alias(&ex, ivm_as_cons(form)->first);
    ivm_value macro = ivm_expand_macro(&ex, head);
    if (!macro && ivm_compiler_autoload(vm, head)) /* a prelude macro not yet compiled */
        macro = ivm_expand_macro(&ex, head);
    int e = macro ? (ivm_expand_call_macro(&ex, macro, form, out) ? 1 : -1)
                  : ivm_expand(&ex, ivm_cons_new(&vm->heap, head, ivm_as_cons(form)->rest), out);
    ivm_status st = IVM_OK;
    if (e < 0)
        st = ivm_raise(vm, ex.error.data);
    else if (e == 0)
        *out = form;
    ivm_expander_free(&ex);
    return st;
}

NATIVE(n_macroexpand_1)
{
    (void)nargs;
    return expand_once(vm, args[0], result);
}

/* Expands until the form is no macro call. */
NATIVE(n_macroexpand)
{
    (void)nargs;
    ivm_value form = args[0];
    ivm_root(vm, &form);
    for (;;) {
        ivm_value next;
        if (expand_once(vm, form, &next) != IVM_OK)
            return IVM_ERROR;
        if (next == form) {
            *result = form;
            return IVM_OK;
        }
        form = next;
    }
}

/* (read-string s): the first form of s, as the reader reads source. */
NATIVE(n_read_string)
{
    (void)nargs;
    if (!ivm_is_kind(args[0], IVM_K_STRING))
        return ivm_raise_type(vm, "read-string takes a string", args[0]);
    const ivm_str *text = ivm_as_str(args[0]);
    ivm_reader r;
    ivm_reader_init(&r, &vm->heap, (const char *)text->bytes, text->len, "read-string", NULL);
    ivm_buf err = {0};
    ivm_source_pos where;
    int got = ivm_read(&r, result, &where, &err);
    if (got > 0)
        return IVM_OK;
    if (got == 0)
        return ivm_raise(vm, "EOF while reading");
    return ivm_raise_buf(vm, &err);
}

static const ivm_native_def compiler_natives[] = {
    {"read-string", n_read_string, 1, 1},
    {"gensym", n_gensym, 0, 1},
    {"macroexpand-1", n_macroexpand_1, 1, 1},
    {"macroexpand", n_macroexpand, 1, 1},
    {"exit", n_exit, 1, 1},
    {"ivm.core/destructure-map", n_destructure_map, 1, 1},
    {"ex-info", n_ex_info, 2, 3},
    {"ex-message", n_ex_message, 1, 1},
    {"ex-data", n_ex_data, 1, 1},
    {"ex-cause", n_ex_cause, 1, 1},
};

/* The names the expander's code calls, bound under ivm.core/ so that no
 * local can shadow them. */
static const char *const expander_calls[] = {
    "vector", "array-map", "hash-set", "list", "nth", "nthnext", "get", "=", "str", "+", "-", "/",
    "<", "first", "next", "seq", "nano-time", "prn", "conj!", "transient", "persistent!",
    "apply", "nil?", "ex-info", "concat", "hash-map", "cons", "rest",
};

/* Compiles and runs a part of the prelude; a failure is a bug in ivm
 * itself. It may run inside another compilation (ivm_compiler_autoload),
 * whose forms are rooted nowhere: no collection meanwhile. */
static void run_prelude(ivm_vm *vm, const char *text, const char *name)
{
    ivm_buf ivc = {0}, err = {0};
    const ivm_module *m;
    ivm_load_error le;
    ivm_value result;
    bool code_off = vm->rt->compile_time_code_off; /* the prelude's macros are trusted */
    vm->rt->compile_time_code_off = false;
    bool ok = ivm_compile(vm, text, ivm_cstr_len(text), name, &ivc, &err) &&
              ivm_load(vm, (const uint8_t *)ivc.data, ivc.len, &m, &le);
    vm->rt->compile_time_code_off = code_off;
    if (ok) {
        vm->gc_hold++;
        ok = ivm_call(vm, ivm_module_entry(vm, m), 0, NULL, &result) == IVM_OK;
        vm->gc_hold--;
    }
    if (!ok) {
        ivm_platform_write(IVM_STDERR, "ivm: internal error: the prelude failed\n", 40);
        ivm_platform_write(IVM_STDERR, err.data, err.len);
        ivm_platform_exit(70);
    }
    ivm_buf_free(&ivc);
    ivm_buf_free(&err);
}

/* The next of a prelude section's space-separated names (*name, *len);
 * false after the last. */
static bool next_section_name(const char **p, const char **name, size_t *len)
{
    if (!**p)
        return false;
    size_t n = 0;
    while ((*p)[n] && (*p)[n] != ' ')
        n++;
    *name = *p;
    *len = n;
    *p += n + ((*p)[n] == ' ');
    return true;
}

void ivm_compiler_install(ivm_vm *vm)
{
    ivm_vm_add_natives(vm, compiler_natives, sizeof compiler_natives / sizeof compiler_natives[0]);
    ivm_buf name = {0};
    for (size_t i = 0; i < sizeof expander_calls / sizeof expander_calls[0]; i++) {
        uint32_t from = ivm_global_slot(vm, ivm_symbol_cstr(&vm->heap, expander_calls[i]));
        name.len = 0;
        ivm_buf_add_cstr(&name, "ivm.core/");
        ivm_buf_add_cstr(&name, expander_calls[i]);
        ivm_global_set(vm, name.data, vm->globals[from].value);
    }
    ivm_buf_free(&name);
    ivm_core_math_install(vm);
    run_prelude(vm, ivm_prelude, "prelude");
    vm->rt->autoload_hook = ivm_compiler_autoload;
    /* the sections' names are the core's too, though they are defined later */
    for (size_t i = 0; i < sizeof ivm_prelude_sections / sizeof ivm_prelude_sections[0]; i++) {
        const char *p = ivm_prelude_sections[i].names, *each;
        size_t n;
        while (next_section_name(&p, &each, &n))
            if (each[n - 1] != '/')
                ivm_global_slot(vm, ivm_symbol(&vm->heap, each, n));
    }
    vm->rt->core_globals = vm->rt->nglobals;
}

/* Whether a section's names (prelude.h) include name: itself, or its
 * namespace written "ns/". */
static bool section_defines(const char *names, const ivm_str *name)
{
    const char *p = names, *each;
    size_t n;
    while (next_section_name(&p, &each, &n)) {
        bool prefix = each[n - 1] == '/';
        if (prefix ? name->len > n && memcmp(name->bytes, each, n) == 0
                   : name->len == n && memcmp(name->bytes, each, n) == 0)
            return true;
    }
    return false;
}

bool ivm_compiler_autoload(ivm_vm *vm, ivm_value name)
{
    const ivm_str *s = ivm_as_str(name);
    for (size_t i = 0; i < sizeof ivm_prelude_sections / sizeof ivm_prelude_sections[0]; i++) {
        if (!section_defines(ivm_prelude_sections[i].names, s))
            continue;
        uint8_t *state = &vm->rt->prelude_sections[i], expected = 0;
        if (__atomic_compare_exchange_n(state, &expected, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            run_prelude(vm, ivm_prelude_sections[i].text, "prelude");
            __atomic_store_n(state, 2, __ATOMIC_RELEASE);
            return true;
        }
        while (__atomic_load_n(state, __ATOMIC_ACQUIRE) == 1) /* another thread compiles it */
            ivm_platform_yield();
        return false; /* loaded before: the name is not what it defines */
    }
    return false;
}
