/* libFuzzer targets for everything that reads untrusted input: the bytecode
 * loader and verifier, the reader, the compiler and the assembler. One
 * source, built once per target with IVM_FUZZ_TARGET set to its name
 * (tests/fuzz/run builds and runs them; see tests/fuzz/README).
 *
 * Besides "never crash", each target checks a property the project
 * promises, and aborts (a finding) when it fails:
 *   loader:   (with its checksum made right) a file the loader accepts is
 *             written back (ivm_write_ivc) to the very same bytes;
 *   reader:   nothing but no crash (and no hang: libFuzzer's -timeout);
 *   compiler: what the compiler accepts, the verifier accepts;
 *   asm:      the disassembly of an assembled file that loads assembles
 *             back to the same bytes. (Whether code is sound, such as
 *             not running off its end, is the verifier's to say: the
 *             assembler checks operands, not control flow.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytecode/asm.h"
#include "bytecode/vm.h"
#include "compiler/compile.h"
#include "compiler/core.h"
#include "compiler/reader.h"
#include "ivm/platform.h"

#define HEAP ((size_t)64 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void finding(const char *what)
{
    ivm_platform_write(IVM_STDERR, "fuzz finding: ", 14);
    ivm_platform_write(IVM_STDERR, what, strlen(what));
    ivm_platform_write(IVM_STDERR, "\n", 1);
    abort();
}

static inline bool same(const ivm_buf *b, const uint8_t *data, size_t size)
{
    return b->len == size && memcmp(b->data, data, size) == 0;
}

/* One input filled the heap by itself: a finding (abort, so that libFuzzer
 * keeps the input), since compiling or reading input of at most
 * -max_len bytes should never need 64 MiB. */
static _Noreturn void heap_full(void *context, size_t heap_bytes)
{
    (void)context, (void)heap_bytes;
    finding("one input filled the heap");
}

/* A VM for many inputs, renewed before its heap or its module list grows
 * too large (nothing runs, so nothing collects). */
static ivm_vm *vm_for_input(bool with_language)
{
    static ivm_vm *vm;
    if (vm && (vm->rt->nmodules > 256 || vm->heap.arena->regions_in_use > vm->heap.arena->nregions / 2)) {
        ivm_vm_destroy(vm);
        free(vm);
        vm = NULL;
    }
    if (!vm) {
        vm = malloc(sizeof *vm);
        if (!vm || !ivm_vm_init(vm, HEAP, IVM_ARENA_LAZY))
            abort();
        ivm_arena_set_oom_hook(vm->heap.arena, heap_full, NULL);
        if (with_language) {
            ivm_core_install(vm);
            ivm_compiler_install(vm);
            /* compile, never run: a macro may loop or exit */
            vm->rt->compile_time_code_off = true;
        }
    }
    return vm;
}

#if defined(IVM_FUZZ_LOADER)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ivm_vm *vm = vm_for_input(false);
    /* The checksum would stop nearly every mutation at the door: give the
     * input a correct one, so that the fuzzer reaches the verifier (the
     * unit tests check that a bad checksum is refused). */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    if (size >= 8) {
        uint32_t crc = ivm_crc32(copy, size - 4);
        for (int i = 0; i < 4; i++)
            copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    }
    const ivm_module *m;
    ivm_load_error err;
    if (ivm_load(vm, copy, size, &m, &err)) {
        ivm_buf again = {0};
        ivm_write_ivc(m, &again);
        if (!same(&again, copy, size))
            finding("a loaded file is not written back to the same bytes");
        ivm_buf_free(&again);
    }
    free(copy);
    return 0;
}
#elif defined(IVM_FUZZ_READER)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ivm_vm *vm = vm_for_input(false);
    ivm_reader r;
    ivm_reader_init(&r, &vm->heap, (const char *)data, size, "fuzz.iv", NULL);
    ivm_value form;
    ivm_source_pos where;
    ivm_buf err = {0}, out = {0};
    while (ivm_read(&r, &form, &where, &err) == 1) {
        out.len = 0;
        ivm_print(&vm->heap, &out, form, true);
    }
    ivm_buf_free(&err);
    ivm_buf_free(&out);
    return 0;
}
#elif defined(IVM_FUZZ_COMPILER)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ivm_vm *vm = vm_for_input(true);
    ivm_buf ivc = {0}, err = {0};
    if (ivm_compile(vm, (const char *)data, size, "fuzz.iv", &ivc, &err)) {
        const ivm_module *m;
        ivm_load_error le;
        if (!ivm_load(vm, (const uint8_t *)ivc.data, ivc.len, &m, &le))
            finding(le.message);
    }
    ivm_buf_free(&ivc);
    ivm_buf_free(&err);
    return 0;
}
#elif defined(IVM_FUZZ_ASM)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ivm_vm *vm = vm_for_input(false);
    ivm_buf ivc = {0}, err = {0};
    if (ivm_assemble(vm, (const char *)data, size, "fuzz.ivs", &ivc, &err)) {
        const ivm_module *m;
        ivm_load_error le;
        if (!ivm_load(vm, (const uint8_t *)ivc.data, ivc.len, &m, &le)) {
            ivm_buf_free(&ivc);
            ivm_buf_free(&err);
            return 0;
        }
        ivm_buf text = {0}, again = {0}, err2 = {0};
        ivm_disassemble(m, &text);
        if (!ivm_assemble(vm, text.data, text.len, "fuzz.ivs", &again, &err2))
            finding("the disassembly does not assemble");
        if (!same(&again, (const uint8_t *)ivc.data, ivc.len))
            finding("the disassembly assembles to other bytes");
        ivm_buf_free(&text);
        ivm_buf_free(&again);
        ivm_buf_free(&err2);
    }
    ivm_buf_free(&ivc);
    ivm_buf_free(&err);
    return 0;
}
#else
#error "define one of IVM_FUZZ_LOADER, IVM_FUZZ_READER, IVM_FUZZ_COMPILER, IVM_FUZZ_ASM"
#endif
