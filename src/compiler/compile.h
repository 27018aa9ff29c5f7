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
 * (ex-info, ex-message, ex-data, nthnext for destructuring, nano-time). */
void ivm_compiler_install(ivm_vm *vm);

#endif
