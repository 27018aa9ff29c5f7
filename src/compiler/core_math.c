/* clojure.math: the functions of Clojure 1.11's clojure.math namespace
 * that map onto libm, registered under their full names. */
#include <math.h>

#include "compiler/core_math.h"

static ivm_status number_arg(ivm_vm *vm, ivm_value v, double *out)
{
    if (ivm_is_int(v))
        *out = (double)ivm_int_value(v);
    else if (ivm_is_float(v))
        *out = ivm_float_value(v);
    else
        return ivm_raise_type(vm, "clojure.math functions take numbers", v);
    return IVM_OK;
}

#define UNARY(cname, expr)                                                     \
    static ivm_status cname(ivm_vm *vm, const ivm_value *args, uint32_t nargs, \
                            ivm_value *result)                                 \
    {                                                                          \
        (void)nargs;                                                           \
        double x;                                                              \
        if (number_arg(vm, args[0], &x) != IVM_OK)                             \
            return IVM_ERROR;                                                  \
        *result = ivm_float(&vm->heap, (expr));                                \
        return IVM_OK;                                                         \
    }

UNARY(m_sqrt, sqrt(x))
UNARY(m_cbrt, cbrt(x))
UNARY(m_floor, floor(x))
UNARY(m_ceil, ceil(x))
UNARY(m_rint, rint(x))
UNARY(m_exp, exp(x))
UNARY(m_log, log(x))
UNARY(m_log10, log10(x))
UNARY(m_sin, sin(x))
UNARY(m_cos, cos(x))
UNARY(m_tan, tan(x))
UNARY(m_asin, asin(x))
UNARY(m_acos, acos(x))
UNARY(m_atan, atan(x))
UNARY(m_signum, x > 0 ? 1.0 : x < 0 ? -1.0 : x)

static ivm_status m_pow(ivm_vm *vm, const ivm_value *args, uint32_t nargs, ivm_value *result)
{
    (void)nargs;
    double x, y;
    if (number_arg(vm, args[0], &x) != IVM_OK || number_arg(vm, args[1], &y) != IVM_OK)
        return IVM_ERROR;
    *result = ivm_float(&vm->heap, pow(x, y));
    return IVM_OK;
}

static ivm_status m_atan2(ivm_vm *vm, const ivm_value *args, uint32_t nargs, ivm_value *result)
{
    (void)nargs;
    double y, x;
    if (number_arg(vm, args[0], &y) != IVM_OK || number_arg(vm, args[1], &x) != IVM_OK)
        return IVM_ERROR;
    *result = ivm_float(&vm->heap, atan2(y, x));
    return IVM_OK;
}

/* Java's Math.round: the closest long, ties toward positive infinity. */
static ivm_status m_round(ivm_vm *vm, const ivm_value *args, uint32_t nargs, ivm_value *result)
{
    (void)nargs;
    double x;
    if (number_arg(vm, args[0], &x) != IVM_OK)
        return IVM_ERROR;
    double r = floor(x + 0.5);
    if (x != x)
        r = 0;
    if (r >= 9223372036854775807.0)
        *result = ivm_int(&vm->heap, INT64_MAX);
    else if (r <= -9223372036854775808.0)
        *result = ivm_int(&vm->heap, INT64_MIN);
    else
        *result = ivm_int(&vm->heap, (int64_t)r);
    return IVM_OK;
}

static const ivm_native_def math_natives[] = {
    {"clojure.math/sqrt", m_sqrt, 1, 1},   {"clojure.math/cbrt", m_cbrt, 1, 1},
    {"clojure.math/floor", m_floor, 1, 1}, {"clojure.math/ceil", m_ceil, 1, 1},
    {"clojure.math/rint", m_rint, 1, 1},   {"clojure.math/exp", m_exp, 1, 1},
    {"clojure.math/log", m_log, 1, 1},     {"clojure.math/log10", m_log10, 1, 1},
    {"clojure.math/sin", m_sin, 1, 1},     {"clojure.math/cos", m_cos, 1, 1},
    {"clojure.math/tan", m_tan, 1, 1},     {"clojure.math/asin", m_asin, 1, 1},
    {"clojure.math/acos", m_acos, 1, 1},   {"clojure.math/atan", m_atan, 1, 1},
    {"clojure.math/signum", m_signum, 1, 1}, {"clojure.math/pow", m_pow, 2, 2},
    {"clojure.math/atan2", m_atan2, 2, 2}, {"clojure.math/round", m_round, 1, 1},
};

void ivm_core_math_install(ivm_vm *vm)
{
    ivm_vm_add_natives(vm, math_natives, sizeof math_natives / sizeof math_natives[0]);
    ivm_global_set(vm, "clojure.math/PI", ivm_float(&vm->heap, 3.141592653589793));
    ivm_global_set(vm, "clojure.math/E", ivm_float(&vm->heap, 2.718281828459045));
}
