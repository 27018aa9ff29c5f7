/* The compiler: ivm Lisp source to .ivc bytecode.
 *
 * A whole file becomes one module whose entry function runs the file's
 * top-level forms in order and returns the value of the last one. The
 * bytes go through the loader like any other .ivc file, so the verifier
 * checks what the compiler made too. Errors are "FILE:LINE:COL: message". */
#ifndef IVM_COMPILE_H
#define IVM_COMPILE_H

#include "bytecode/vm.h"

/* Compiles source text into .ivc bytes (appended to out). False on a read
 * or compile error, described in err. Globals the program defines become
 * known to later compilations in the same VM (the REPL relies on it). */
bool ivm_compile(ivm_vm *vm, const char *text, size_t len, const char *filename,
                 ivm_buf *out, ivm_buf *err);

/* The natives the compiled code relies on besides the core library
 * (ex-info, ex-message, ex-data, nthnext for destructuring, nano-time),
 * and the prelude's base (prelude.h). */
void ivm_compiler_install(ivm_vm *vm);

/* Compiles and runs the prelude section that defines `name` (a symbol),
 * if there is one and it has not been: true if it did, or another thread
 * did meanwhile. The compiler calls it for a name it cannot resolve, the
 * core for the lazy versions of its functions. */
bool ivm_compiler_autoload(ivm_vm *vm, ivm_value name);

#endif
