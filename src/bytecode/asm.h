/* The .ivs assembly text: assembler (text to .ivc bytes) and disassembler
 * (loaded module to text). The disassembler's output assembles back to the
 * exact bytes it came from, so .ivs is a lossless view of .ivc.
 *
 * The format, by example:
 *
 *   ; comment to end of line
 *   .source "fib.iv"            ; optional, before the first .proto
 *   .entry main                 ; optional; default: the last prototype
 *
 *   .proto fib params=1 regs=4  ; also: variadic, name="...", anonymous
 *     .capture reg 0            ; capture the creator's register 0
 *     .capture cap 1            ; capture the creator's capture 1
 *     .const 42                 ; constant k0 (explicit constants append)
 *     .line 12                  ; source line of the instructions that follow
 *   loop:
 *     LTI r0, 2, 0
 *     JMP done                  ; J: a label of the same prototype
 *     LOADK r2, "hello"         ; K: a literal (deduplicated) or kN
 *     GETGLOBAL r3, println     ; G: a bare name is a symbol
 *     CLOSURE r0, fib           ; P: a prototype defined earlier
 *   done:
 *     RET r0
 *   .end
 *
 * Constants: nil true false, integers (decimal or 0x hex), floats (##Inf,
 * ##-Inf, ##NaN, #float 0xBITS), "strings" (\n \t \r \b \f \" \\ \uXXXX),
 * :keywords, 'symbols, characters (\a \newline \space \tab \return
 * \backspace \formfeed, #char N), #bytes "hex", #regex "pattern" (each
 * one a constant of its own), #proto ID, lists (a b c).
 * Symbols and keywords whose names cannot be written bare are
 * #symbol "..." and #keyword "...". */
#ifndef IVM_ASM_H
#define IVM_ASM_H

#include "bytecode/vm.h"

/* Assembles .ivs text into .ivc bytes (appended to out). On error returns
 * false and writes "FILE:LINE:COL: message" into err. Only the syntax is
 * checked here: the loader verifies the bytes. */
bool ivm_assemble(ivm_vm *vm, const char *text, size_t len,
                  const char *filename, ivm_buf *out, ivm_buf *err);

/* Writes a loaded (so verified) module as .ivs text that ivm_assemble turns
 * back into the exact same .ivc bytes. */
void ivm_disassemble(const ivm_module *m, ivm_buf *out);

/* ---- Shared by the assembler and the disassembler ---------------------- */

/* True when the assembler reads `name` written bare as a prototype ID,
 * wherever an ID may stand (not a number, nil, true, false, kN or _pN),
 * and it does not look like a directive (a leading '.'). */
bool ivm_asm_plain_id(const uint8_t *name, size_t len);
/* True when 'name and :name read back as a symbol and keyword of `name`. */
bool ivm_asm_plain_name(const uint8_t *name, size_t len);

/* A map from names to numbers (labels, prototype IDs). The names are not
 * copied: they must outlive the map. A zeroed map is empty. */
typedef struct ivm_name_entry {
    const char *name; /* NULL: free slot */
    uint32_t len;
    uint32_t value;
} ivm_name_entry;

typedef struct ivm_name_map {
    ivm_name_entry *slots;
    uint32_t capacity; /* 0 or a power of two */
    uint32_t count;
} ivm_name_map;

#define IVM_NAME_ABSENT UINT32_MAX

void ivm_name_map_free(ivm_name_map *m);
/* The value of `name`, or IVM_NAME_ABSENT. */
uint32_t ivm_name_map_get(const ivm_name_map *m, const char *name, size_t len);
/* Adds a name that is not in the map yet. */
void ivm_name_map_put(ivm_name_map *m, const char *name, size_t len, uint32_t value);

#endif
