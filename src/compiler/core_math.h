/* clojure.math and java.lang.Math (core_math.c). */
#ifndef IVM_CORE_MATH_H
#define IVM_CORE_MATH_H

#include "bytecode/vm.h"

/* Binds clojure.math/sqrt, pow, floor, ... and PI and E, and the same
 * under java.lang.Math's names (Math/sqrt, Math/PI, ...). */
void ivm_core_math_install(ivm_vm *vm);

#endif
