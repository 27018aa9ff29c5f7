#!/bin/sh
# Checks that the portable core (libivm_core.a) calls nothing outside the
# platform interface (ivm_platform_*), memcpy/memmove/memset/memcmp, a
# fixed list of libm functions and a fixed list of PCRE2 functions (the
# regex library: a library, not the OS), these from values/regex.c only:
# every undefined symbol of the archive must be one of those or be defined
# by the archive itself.
# usage: core_symbols.sh NM LIBIVM_CORE.a
set -eu
NM=${1:?usage: core_symbols.sh NM LIBRARY}
LIB=${2:?usage: core_symbols.sh NM LIBRARY}
[ -f "$LIB" ] || { echo "core_symbols: no such library: $LIB" >&2; exit 1; }

# nm -P: "NAME TYPE [VALUE SIZE]"; archive member headers end in ':' or ']:'.
defined=$("$NM" -P --defined-only "$LIB" | awk 'NF >= 2 && $1 !~ /:$/ { print $1 }' | sort -u)
undefined=$("$NM" -P -u "$LIB" | awk 'NF >= 2 && $1 !~ /:$/ { print $1 }' | sort -u)

libm="acos acosf asin asinf atan atanf atan2 atan2f cbrt cbrtf ceil ceilf
cos cosf cosh coshf copysign copysignf exp expf exp2 exp2f expm1 expm1f
fabs fabsf floor floorf fma fmaf fmax fmaxf fmin fminf fmod fmodf frexp
frexpf hypot hypotf ldexp ldexpf log logf log10 log10f log1p log1pf log2
log2f lround llround modf modff nearbyint nearbyintf nextafter nextafterf
pow powf remainder remainderf rint rintf round roundf sin sinf sinh sinhf
sqrt sqrtf tan tanf tanh tanhf trunc truncf"

# PCRE2's 8-bit API (pcre2.h maps pcre2_x to pcre2_x_8).
pcre2="code_free compile compile_context_create compile_context_free
general_context_create general_context_free get_error_message
get_ovector_pointer jit_compile jit_stack_assign jit_stack_create
jit_stack_free match match_context_copy match_context_create
match_context_free match_data_create_from_pattern match_data_free
pattern_info set_heap_limit set_newline substring_number_from_name"

bad=""
for sym in $undefined; do
  ok=no
  for p in $pcre2; do
    [ "$sym" = "pcre2_${p}_8" ] && { ok=yes; break; }
  done
  if [ $ok = yes ]; then
    users=$("$NM" -A -u "$LIB" 2>/dev/null | grep -w "U $sym\$" | grep -v "regex\.c\.o:" || true)
    [ -z "$users" ] && continue
    echo "core_symbols: $sym is used outside values/regex.c:" >&2
    echo "$users" | sed 's/^/    /' >&2
    bad="$bad $sym"
    continue
  fi
  case "$sym" in
    ivm_platform_*|memcpy|memmove|memset|memcmp|_GLOBAL_OFFSET_TABLE_) continue ;;
  esac
  ok=no
  for m in $libm; do
    [ "$sym" = "$m" ] && { ok=yes; break; }
  done
  [ $ok = yes ] && continue
  if printf '%s\n' "$defined" | grep -qxF "$sym"; then
    continue
  fi
  bad="$bad $sym"
done

if [ -n "$bad" ]; then
  echo "core_symbols: $LIB uses symbols outside the platform interface:" >&2
  for sym in $bad; do
    echo "  $sym" >&2
    "$NM" -A -u "$LIB" 2>/dev/null | grep -w "U $sym\$" | sed 's/^/    /' >&2 || true
  done
  exit 1
fi
count=$(printf '%s\n' "$undefined" | grep -c . || true)
echo "core_symbols: ok ($count undefined symbols, all allowed)"
