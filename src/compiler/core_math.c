/* clojure.math: the functions of Clojure 1.11's clojure.math namespace
 * that map onto libm, registered under their full names; and the same
 * functions under the names of java.lang.Math's static methods as Clojure
 * calls them (Math/sqrt, Math/PI), with Math's own types where they
 * differ: Math/abs, Math/max and Math/min keep integers integers, and
 * Math/round takes only floats, as Clojure's reflective call finds no
 * overload for a long (nor for Math/max of a long and a double). */
#include <math.h>

#include "compiler/core_math.h"

static ivm_status number_arg(ivm_vm *vm, ivm_value v, double *out)
{
    if (ivm_is_int(v))
        *out = (double)ivm_int_value(v);
    else if (ivm_is_float(v))
        *out = ivm_float_value(v);
    else
        return ivm_raise_type(vm, "clojure.math and Math functions take numbers", v);
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

/* Java's cbrt (StrictMath's: fdlibm's s_cbrt.c, error under 0.667 ulp),
 * bit for bit: libm's is often an ulp away from it (glibc's cbrt(27.0) is
 * 3.0000000000000004). fdlibm is Sun's, "Permission to use, copy, modify,
 * and distribute this software is freely granted, provided that this
 * notice is preserved." */
static uint32_t high_word(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return (uint32_t)(b >> 32);
}

static double with_high_word(double d, uint32_t hi)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    b = (b & 0xffffffffu) | (uint64_t)hi << 32;
    memcpy(&d, &b, 8);
    return d;
}

static double cube_root(double x)
{
    const uint32_t B1 = 715094163, B2 = 696219795;
    const double C = 5.42857142857142815906e-01, D = -7.05306122448979611050e-01,
                 E = 1.41428571428571436819e+00, F = 1.60714285714285720630e+00,
                 G = 3.57142857142857150787e-01;
    uint32_t hx = high_word(x), sign = hx & 0x80000000u;
    hx ^= sign;
    if (hx >= 0x7ff00000u)
        return x + x; /* NaN and infinities are their own */
    if (x == 0)
        return x;
    x = with_high_word(x, hx); /* |x| */
    double t = 0.0;
    if (hx < 0x00100000u) { /* subnormal */
        t = 0x1.0p54 * x;
        t = with_high_word(t, high_word(t) / 3 + B2);
    } else {
        t = with_high_word(t, hx / 3 + B1);
    }
    double r = t * t / x; /* to 23 bits */
    double s = C + r * t;
    t *= G + F / (s + E + D / s);
    uint64_t b; /* chopped to 20 bits, and made larger than cbrt(x) */
    memcpy(&b, &t, 8);
    b = (b & ~(uint64_t)0xffffffffu) + ((uint64_t)1 << 32);
    memcpy(&t, &b, 8);
    s = t * t; /* exact */
    r = x / s; /* one Newton step to 53 bits */
    double w = t + t;
    r = (r - t) / (w + r);
    t = t + t * r;
    return with_high_word(t, high_word(t) | sign);
}

UNARY(m_sqrt, sqrt(x))
UNARY(m_cbrt, cube_root(x))
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

/* Java's Math.round: the closest long, ties toward positive infinity; NaN
 * is 0 and the ends saturate. (Not floor(x + 0.5): the sum rounds up for
 * 0.49999999999999994.) */
static ivm_value round_to_long(ivm_heap *h, double x)
{
    if (x != x)
        return ivm_int(h, 0);
    double r = floor(x);
    if (x - r >= 0.5) /* exact: below 2^52 the fraction is, above it is 0 */
        r += 1;
    if (r >= 9223372036854775807.0)
        return ivm_int(h, INT64_MAX);
    if (r <= -9223372036854775808.0)
        return ivm_int(h, INT64_MIN);
    return ivm_int(h, (int64_t)r);
}

static ivm_status m_round(ivm_vm *vm, const ivm_value *args, uint32_t nargs, ivm_value *result)
{
    (void)nargs;
    double x;
    if (number_arg(vm, args[0], &x) != IVM_OK)
        return IVM_ERROR;
    *result = round_to_long(&vm->heap, x);
    return IVM_OK;
}

/* ---- java.lang.Math ------------------------------------------------------ */

static ivm_status java_round(ivm_vm *vm, const ivm_value *args, uint32_t nargs, ivm_value *result)
{
    (void)nargs;
    if (!ivm_is_float(args[0]))
        return ivm_raise_type(vm, "Math/round expects a float (Math has no round of a long)",
                              args[0]);
    *result = round_to_long(&vm->heap, ivm_float_value(args[0]));
    return IVM_OK;
}

/* Math.abs(long) wraps: the most negative long is its own absolute value. */
static ivm_status java_abs(ivm_vm *vm, const ivm_value *args, uint32_t nargs, ivm_value *result)
{
    (void)nargs;
    ivm_value v = args[0];
    if (ivm_is_int(v)) {
        uint64_t i = (uint64_t)ivm_int_value(v);
        *result = ivm_int(&vm->heap, (int64_t)((int64_t)i < 0 ? 0 - i : i));
    } else if (ivm_is_float(v)) {
        *result = ivm_float(&vm->heap, fabs(ivm_float_value(v)));
    } else {
        return ivm_raise_type(vm, "Math/abs expects a number", v);
    }
    return IVM_OK;
}

/* Math.max and Math.min of two longs or two doubles: NaN wins, and -0.0
 * is below 0.0. */
static ivm_status java_max_min(ivm_vm *vm, const ivm_value *args, bool max, ivm_value *result)
{
    ivm_value a = args[0], b = args[1];
    if (ivm_is_int(a) && ivm_is_int(b)) {
        int64_t x = ivm_int_value(a), y = ivm_int_value(b);
        *result = (max ? x >= y : x <= y) ? a : b;
        return IVM_OK;
    }
    if (!ivm_is_float(a) || !ivm_is_float(b)) {
        ivm_value bad = ivm_is_int(a) || ivm_is_float(a) ? b : a;
        return ivm_raise_type(vm, max ? "Math/max expects two integers or two floats"
                                      : "Math/min expects two integers or two floats", bad);
    }
    double x = ivm_float_value(a), y = ivm_float_value(b);
    if (x != x)
        *result = a;
    else if (x == 0 && y == 0)
        *result = (signbit(x) != 0) == max ? b : a;
    else
        *result = (max ? x >= y : x <= y) ? a : b;
    return IVM_OK;
}

static ivm_status java_max(ivm_vm *vm, const ivm_value *args, uint32_t nargs, ivm_value *result)
{
    (void)nargs;
    return java_max_min(vm, args, true, result);
}

static ivm_status java_min(ivm_vm *vm, const ivm_value *args, uint32_t nargs, ivm_value *result)
{
    (void)nargs;
    return java_max_min(vm, args, false, result);
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
    /* java.lang.Math's methods with one double overload: clojure.math's */
    {"Math/sqrt", m_sqrt, 1, 1},           {"Math/cbrt", m_cbrt, 1, 1},
    {"Math/floor", m_floor, 1, 1},         {"Math/ceil", m_ceil, 1, 1},
    {"Math/rint", m_rint, 1, 1},           {"Math/exp", m_exp, 1, 1},
    {"Math/log", m_log, 1, 1},             {"Math/log10", m_log10, 1, 1},
    {"Math/sin", m_sin, 1, 1},             {"Math/cos", m_cos, 1, 1},
    {"Math/tan", m_tan, 1, 1},             {"Math/asin", m_asin, 1, 1},
    {"Math/acos", m_acos, 1, 1},           {"Math/atan", m_atan, 1, 1},
    {"Math/pow", m_pow, 2, 2},             {"Math/atan2", m_atan2, 2, 2},
    /* and those with overloads by type */
    {"Math/round", java_round, 1, 1},      {"Math/abs", java_abs, 1, 1},
    {"Math/max", java_max, 2, 2},          {"Math/min", java_min, 2, 2},
};

void ivm_core_math_install(ivm_vm *vm)
{
    ivm_vm_add_natives(vm, math_natives, sizeof math_natives / sizeof math_natives[0]);
    ivm_global_set(vm, "clojure.math/PI", ivm_float(&vm->heap, 3.141592653589793));
    ivm_global_set(vm, "clojure.math/E", ivm_float(&vm->heap, 2.718281828459045));
    ivm_global_set(vm, "Math/PI", ivm_float(&vm->heap, 3.141592653589793));
    ivm_global_set(vm, "Math/E", ivm_float(&vm->heap, 2.718281828459045));
}
