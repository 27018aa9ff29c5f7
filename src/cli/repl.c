/* The interactive REPL: read a form (more lines while it is unfinished),
 * compile it, run it, print its value with prn, keep going after errors.
 * Definitions stay in the one VM between lines; *1, *2 and *3 hold the
 * last values. */
#include "cli/repl.h"

#include "compiler/compile.h"
#include "compiler/reader.h"
#include "process/process.h"
#include "ivm/platform.h"

/* Whether text holds only complete forms (an error other than running out
 * of input counts as complete: compiling it reports the error). */
static bool complete(ivm_vm *vm, const ivm_buf *text)
{
    ivm_reader r;
    ivm_reader_init(&r, &vm->heap, text->data, text->len, "repl", NULL);
    ivm_buf err = {0};
    ivm_value form;
    ivm_source_pos where;
    int got;
    while ((got = ivm_read(&r, &form, &where, &err)) > 0)
        ;
    ivm_buf_free(&err);
    return got == 0 || !r.incomplete;
}

static void say_error(ivm_vm *vm, ivm_buf *message)
{
    ivm_vm_flush(vm);
    ivm_platform_write(IVM_STDERR, message->data, message->len);
}

/* Compiles, loads and runs one entry of the REPL; prints its value. */
static void evaluate(ivm_vm *vm, const ivm_buf *text)
{
    ivm_buf ivc = {0}, err = {0};
    const ivm_module *module;
    ivm_load_error le;
    if (!ivm_compile(vm, text->data, text->len, "repl", &ivc, &err)) {
        ivm_buf_add_char(&err, '\n');
        say_error(vm, &err);
    } else if (!ivm_load(vm, (const uint8_t *)ivc.data, ivc.len, &module, &le)) {
        ivm_buf_add_cstr(&err, "ivm: internal error: the compiler made bad bytecode: ");
        ivm_buf_add_cstr(&err, le.message);
        ivm_buf_add_char(&err, '\n');
        say_error(vm, &err);
    } else {
        ivm_value result;
        ivm_status st = ivm_sched_run_main(ivm_sched_of(vm), ivm_module_entry(vm, module), &result);
        if (st == IVM_OK)
            st = ivm_vm_print(vm, result, true);
        if (st == IVM_OK) {
            ivm_vm_write(vm, "\n", 1);
            uint32_t s1 = ivm_global_slot(vm, ivm_symbol_cstr(&vm->heap, "*1"));
            uint32_t s2 = ivm_global_slot(vm, ivm_symbol_cstr(&vm->heap, "*2"));
            ivm_global_set(vm, "*3", vm->globals[s2].value);
            ivm_global_set(vm, "*2", vm->globals[s1].value);
            ivm_global_set(vm, "*1", result);
        } else if (st == IVM_ERROR) {
            ivm_format_error(vm, &err);
            say_error(vm, &err);
        } else {
            ivm_buf_add_cstr(&err, "ivm: interrupted\n");
            say_error(vm, &err);
        }
        ivm_vm_flush(vm);
    }
    ivm_buf_free(&ivc);
    ivm_buf_free(&err);
}

int ivm_repl(ivm_vm *vm)
{
    ivm_global_set(vm, "*1", IVM_NIL);
    ivm_global_set(vm, "*2", IVM_NIL);
    ivm_global_set(vm, "*3", IVM_NIL);
    ivm_buf text = {0};
    for (;;) {
        char *line = ivm_platform_read_line(text.len ? "  #_=> " : "user=> ");
        if (!line)
            break;
        ivm_buf_add_cstr(&text, line);
        ivm_buf_add_char(&text, '\n');
        ivm_platform_free(line);
        if (!complete(vm, &text))
            continue;
        text.data[text.len - 1] = '\0'; /* the history gets the entry without its newline */
        ivm_platform_add_history(text.data);
        text.data[text.len - 1] = '\n';
        evaluate(vm, &text);
        text.len = 0;
    }
    ivm_buf_free(&text);
    if (ivm_platform_is_terminal(IVM_STDOUT))
        ivm_platform_write(IVM_STDOUT, "\n", 1);
    return 0;
}
