/* The core library: the native functions of ivm's language, under
 * Clojure's names and with Clojure's meaning (issue 3, "Core library";
 * issue 4 for collections, strings and bytes, and transients).
 *
 * ivm_core_install binds every one of them as a global of the VM, on top
 * of the bytecode layer's own natives (bytecode/natives.c: output, =,
 * hash, arithmetic). Where both define a name (list, cons, first, rest,
 * count) the core's version, which handles every collection, wins.
 *
 * Deliberate differences from Clojure: everything is eager, so map,
 * filter, remove, range, take, drop, concat, reverse, sort, sort-by,
 * distinct, interpose, partition, seq, rest, keys and vals return lists
 * (printed as (...)), built in full; (range) and other infinite sequences
 * are errors. A "seq" of a vector, map, set, string or bytes is a fresh
 * list of its elements (O(n)); of a list, the list itself.
 *
 * Functions as arguments (map, filter, reduce, sort-by, update, ...) may
 * be any function value, and also keywords, maps, sets and vectors, which
 * look their argument up as they do in Clojure ((map :a xs)). An error
 * inside such a function reaches the caller of the native unchanged.
 *
 * The core is freestanding C, like the rest of ivm_core: files go through
 * ivm_platform_read_file / ivm_platform_write_file, time through
 * ivm_platform_now_ns. */
#ifndef IVM_CORE_H
#define IVM_CORE_H

#include "bytecode/vm.h"

/* Binds every core native as a global of vm. Call once, after
 * ivm_vm_init. */
void ivm_core_install(ivm_vm *vm);

/* The process id that builds transients: the running process's (1, the
 * main process's, when none runs). Both the in-place builders inside the
 * core (into, vec, frequencies, ...) and the explicit transient, conj!,
 * ..., persistent! use it, so a transient another process reaches (a
 * message, or a fork's copy of the stack) is refused there, not shared. */
#define IVM_CORE_OWNER ((uint64_t)vm->proc_id)

/* Clojure's compare: nil before everything, numbers by value (1 and 1.0
 * compare equal), strings as Java's String.compareTo (UTF-16 code units;
 * the result is the difference of the first differing units, or of the
 * lengths), keywords and symbols by namespace then name, booleans false
 * first, characters by code point (their difference), vectors by length
 * then element by element. Anything else, and two values of different
 * types, raise an error. *out is negative, zero or positive. */
ivm_status ivm_core_compare(ivm_vm *vm, ivm_value a, ivm_value b, int64_t *out);

/* Calls f as the core's higher-order functions do: functions through
 * ivm_call, and keywords, maps and sets (get) and vectors (nth) as in
 * Clojure. */
ivm_status ivm_core_call(ivm_vm *vm, ivm_value f, uint32_t nargs,
                         const ivm_value *args, ivm_value *result);

#endif
