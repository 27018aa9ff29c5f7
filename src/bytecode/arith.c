/* Arithmetic and comparison on numbers, beyond the interpreter's inline
 * fixnum fast paths: boxed integers, floats, mixed operands, overflow and
 * division by zero, all with Clojure's meaning (see opcodes.h). */
#include <math.h>

#include "bytecode/vm.h"
#include "ivm/opcodes.h"

static const char *op_symbol(unsigned op)
{
    switch (op) {
    case IVM_OP_ADD: return "+";
    case IVM_OP_SUB: return "-";
    case IVM_OP_MUL: return "*";
    case IVM_OP_DIV: return "/";
    case IVM_OP_QUOT: return "quot";
    case IVM_OP_REM: return "rem";
    default: return "mod";
    }
}

static bool is_number(ivm_value v) { return ivm_is_int(v) || ivm_is_float(v); }

static double as_double(ivm_value v)
{
    return ivm_is_float(v) ? ivm_float_value(v) : (double)ivm_int_value(v);
}

static ivm_status raise_operand(ivm_vm *vm, unsigned op, ivm_value bad)
{
    const char *sym = op_symbol(op);
    char what[40] = "the operands of ";
    size_t n = ivm_cstr_len(what);
    for (size_t i = 0; sym[i] && n + 1 < sizeof what; i++)
        what[n++] = sym[i];
    memcpy(what + n, " must be numbers", sizeof " must be numbers");
    return ivm_raise_type(vm, what, bad);
}

static ivm_status int_arith(ivm_vm *vm, unsigned op, int64_t x, int64_t y,
                            ivm_value *out)
{
    int64_t r;
    bool overflow = false;
    if (op >= IVM_OP_DIV && y == 0)
        return ivm_raise(vm, "Divide by zero");
    switch (op) {
    case IVM_OP_ADD: overflow = __builtin_add_overflow(x, y, &r); break;
    case IVM_OP_SUB: overflow = __builtin_sub_overflow(x, y, &r); break;
    case IVM_OP_MUL: overflow = __builtin_mul_overflow(x, y, &r); break;
    case IVM_OP_DIV:
        if (y == -1) {
            overflow = __builtin_sub_overflow(0, x, &r);
        } else if (x % y == 0) {
            r = x / y;
        } else {
            *out = ivm_float(&vm->heap, (double)x / (double)y);
            return IVM_OK;
        }
        break;
    case IVM_OP_QUOT:
        if (y == -1)
            overflow = __builtin_sub_overflow(0, x, &r);
        else
            r = x / y;
        break;
    case IVM_OP_REM: r = y == -1 ? 0 : x % y; break;
    default: /* MOD: the sign of the divisor */
        r = y == -1 ? 0 : x % y;
        if (r != 0 && (r < 0) != (y < 0))
            r += y;
        break;
    }
    if (overflow)
        return ivm_raise(vm, "integer overflow");
    *out = ivm_int(&vm->heap, r);
    return IVM_OK;
}

static ivm_status float_arith(ivm_vm *vm, unsigned op, double x, double y,
                              ivm_value *out)
{
    double r;
    if (op >= IVM_OP_QUOT && y == 0)
        return ivm_raise(vm, "Divide by zero");
    switch (op) {
    case IVM_OP_ADD: r = x + y; break;
    case IVM_OP_SUB: r = x - y; break;
    case IVM_OP_MUL: r = x * y; break;
    case IVM_OP_DIV: r = x / y; break;
    case IVM_OP_QUOT: r = trunc(x / y); break;
    case IVM_OP_REM: r = fmod(x, y); break;
    default:
        r = fmod(x, y);
        if (r != 0 && (r < 0) != (y < 0))
            r += y;
        break;
    }
    *out = ivm_float(&vm->heap, r);
    return IVM_OK;
}

ivm_status ivm_arith(ivm_vm *vm, unsigned op, ivm_value a, ivm_value b,
                     ivm_value *out)
{
    int64_t r; /* two small integers whose sum fits: what (reduce + xs) does */
    if (op == IVM_OP_ADD && (a & b & 1) && !__builtin_add_overflow((int64_t)a, (int64_t)b - 1, &r)) {
        *out = (ivm_value)r;
        return IVM_OK;
    }
    if (ivm_is_int(a) && ivm_is_int(b))
        return int_arith(vm, op, ivm_int_value(a), ivm_int_value(b), out);
    if (!is_number(a))
        return raise_operand(vm, op, a);
    if (!is_number(b))
        return raise_operand(vm, op, b);
    return float_arith(vm, op, as_double(a), as_double(b), out);
}

ivm_status ivm_less(ivm_vm *vm, ivm_value a, ivm_value b, bool or_equal,
                    bool *out)
{
    if (ivm_is_int(a) && ivm_is_int(b)) {
        int64_t x = ivm_int_value(a), y = ivm_int_value(b);
        *out = or_equal ? x <= y : x < y;
        return IVM_OK;
    }
    if (!is_number(a))
        return ivm_raise_type(vm, "only numbers can be compared", a);
    if (!is_number(b))
        return ivm_raise_type(vm, "only numbers can be compared", b);
    double x = as_double(a), y = as_double(b);
    *out = or_equal ? x <= y : x < y;
    return IVM_OK;
}
