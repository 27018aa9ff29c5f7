/* Derived forms and what the compiler knows about names.
 *
 * The expander rewrites derived forms (defn, when, cond, case, and, or,
 * ->, ->>, if-let, when-let, dotimes, doseq, time, comment, declare, ns,
 * syntax quote, and the program's own macros: see Macros below)
 * into the special forms the compiler handles, turns destructuring
 * patterns into plain bindings, and keeps the compile-time facts about
 * globals: which are defined, with which arities, and which built-in names
 * still mean the built-in (so + may become an ADD instruction).
 *
 * Every function that can fail returns false (or -1) and leaves a message
 * in ex->error for the compiler to report at the current position. */
#ifndef IVM_EXPAND_H
#define IVM_EXPAND_H

#include "bytecode/vm.h"

typedef struct ivm_global_fact {
    ivm_value name;     /* symbol */
    uint32_t fixed;     /* bit n: takes exactly n arguments (n < 32) */
    int32_t variadic;   /* takes this many or more; -1 if no rest arity */
    bool known_arities; /* the value is a fn form we saw */
} ivm_global_fact;

typedef struct ivm_expander {
    ivm_vm *vm;
    ivm_heap *h;
    ivm_buf error;   /* the last failure's message, NUL-terminated */
    ivm_buf defined; /* ivm_global_fact: globals this compilation defines */
    ivm_buf aliases; /* ivm_value pairs: alias symbol, namespace symbol */
    uint32_t gensyms;
    ivm_value ns;       /* symbol: the namespace (ns ...) named; user by default */
    ivm_value def_name; /* string: the def being compiled (names its fn), or nil */
} ivm_expander;

void ivm_expander_init(ivm_expander *ex, ivm_vm *vm);
void ivm_expander_free(ivm_expander *ex);

/* 1: form was a derived form, rewritten into *out; 0: it is not one;
 * -1: it is malformed. */
int ivm_expand(ivm_expander *ex, ivm_value form, ivm_value *out);

/* A fresh symbol no program can write (it has a space in its name). */
ivm_value ivm_expand_gensym(ivm_expander *ex);
/* prefix, a number no other call returns, suffix: what gensym and the
 * auto-gensyms x# of syntax quote (x__N__auto__) are named. */
ivm_value ivm_expand_fresh_symbol(ivm_heap *h, const void *prefix, size_t len, const char *suffix);

/* ---- Macros -------------------------------------------------------------
 *
 * `x (read as (ivm.core/syntax-quote x)) expands as Clojure's reader
 * expands it: symbols are qualified (clojure.core/ for the core's names,
 * the file's namespace for the rest; special forms stay bare), x# is an
 * auto-gensym, ~x and ~@x insert values. ivm_expand_alias strips those
 * qualifiers again, so the expansion compiles.
 *
 * A macro is a function (defmacro's) the compiler calls on the forms of a
 * call, at compile time; its result is compiled instead. */

/* The macro `name` names, or 0. */
ivm_value ivm_expand_macro(ivm_expander *ex, ivm_value name);
/* Makes name a macro (fn a function), or no longer one (IVM_UNBOUND). */
void ivm_expand_set_macro(ivm_expander *ex, ivm_value name, ivm_value fn);
/* Calls the macro on the arguments of form; false (with a message) if it
 * throws. Collections are held off meanwhile (vm->gc_hold). */
bool ivm_expand_call_macro(ivm_expander *ex, ivm_value macro, ivm_value form, ivm_value *out);

/* Rewrites a destructuring pattern bound to the value named `value` into a
 * list (pattern1 init1 pattern2 init2 ...) of simpler bindings. */
bool ivm_expand_destructure(ivm_expander *ex, ivm_value pattern, ivm_value value,
                            ivm_value *pairs);

/* [a b], {k v}, #{a} as forms that build them at run time. */
ivm_value ivm_expand_collection(ivm_expander *ex, ivm_value coll);
/* '[a b] and friends: the same with every element quoted. */
ivm_value ivm_expand_quoted_collection(ivm_expander *ex, ivm_value coll);
/* Whether quoted data holds a vector, map or set (so it must be built
 * by ivm_expand_quoted_collection rather than be a constant): 1 or 0, or
 * -1 when it nests too deep to compile. */
int ivm_expand_needs_building(ivm_value quoted);

/* ---- Globals ----------------------------------------------------------- */

/* The global a symbol names once (ns ...) aliases are applied: str/join is
 * clojure.string/join. */
ivm_value ivm_expand_alias(ivm_expander *ex, ivm_value sym);
/* Records (def name init) and, for a fn form, its arities. */
void ivm_expand_define(ivm_expander *ex, ivm_value name, ivm_value init);
bool ivm_expand_defined(const ivm_expander *ex, ivm_value name);
/* Whether a built-in name (+, <, inc, not ...) still means the built-in:
 * not redefined by this compilation or an earlier one. */
bool ivm_expand_intrinsic(const ivm_expander *ex, ivm_value sym);
/* False (with a message) when form calls a global of known arities with a
 * number of arguments none of them takes. */
bool ivm_expand_check_arity(ivm_expander *ex, ivm_value form);

#endif
