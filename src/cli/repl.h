/* The interactive REPL (`ivm repl`, or plain `ivm` on a terminal). */
#ifndef IVM_REPL_H
#define IVM_REPL_H

#include "bytecode/vm.h"

/* Reads, evaluates and prints until end of input; returns the exit status. */
int ivm_repl(ivm_vm *vm);

#endif
