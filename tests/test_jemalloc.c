/* Values never come from malloc, and neither does collecting them: a
 * value-heavy program (consing a 100,000-element list, then summing its
 * integers and a float through the first/rest natives), with the collector
 * running every 20,000 allocations, run a second time after a warm-up
 * (the mark stack has grown by then), makes no call to
 * the bootstrap allocator and no jemalloc allocation on this thread
 * (thread.allocated). The jemalloc half is skipped, saying so, only where
 * jemalloc cannot report (ivm_platform_thread_allocated_bytes() is
 * UINT64_MAX, e.g. under a sanitizer's allocator). */
#include <criterion/criterion.h>

#include "ivm/platform.h"
#include "support.h"

static const char value_heavy[] =
    ".proto main\n"
    "  LOADNIL r0, 0\n"           /* the list */
    "  LOADI r1, 0\n"             /* i */
    "  LOADK r2, 100000\n"        /* n; calls go above the live registers */
    "build:\n"
    "  LT r1, r2, 0\n"
    "  JMP sum\n"
    "  GETGLOBAL r10, cons\n"
    "  MOVE r11, r1\n"
    "  MOVE r12, r0\n"
    "  CALL r10, 2\n"
    "  MOVE r0, r10\n"
    "  ADDI r1, r1, 1\n"
    "  JMP build\n"
    "sum:\n"
    "  LOADI r1, 0\n"             /* integer sum */
    "  LOADK r2, 0.0\n"           /* float sum */
    "  LOADK r6, ()\n"
    "  LOADK r7, 0.5\n"
    "  LOADK r8, 1e300\n"         /* a boxed float: allocates in the arena */
    "loop:\n"
    "  EQ r0, r6, 1\n"
    "  JMP done\n"
    "  GETGLOBAL r10, first\n"
    "  MOVE r11, r0\n"
    "  CALL r10, 1\n"
    "  ADD r1, r1, r10\n"
    "  ADD r2, r2, r7\n"
    "  MUL r9, r8, r7\n"
    "  GETGLOBAL r10, rest\n"
    "  MOVE r11, r0\n"
    "  CALL r10, 1\n"
    "  MOVE r0, r10\n"
    "  JMP loop\n"
    "done:\n"
    "  GETGLOBAL r10, list\n"
    "  MOVE r11, r1\n"
    "  MOVE r12, r2\n"
    "  MOVE r13, r9\n"
    "  CALL r10, 3\n"
    "  RET r10\n"
    ".end\n";

/* Whether jemalloc serves ivm_platform_malloc here, so that its
 * thread.allocated statistic can see allocations at all: not where jemalloc
 * cannot report, nor where a sanitizer's allocator interposes malloc. */
static bool jemalloc_sees_allocations(void)
{
    uint64_t before = ivm_platform_thread_allocated_bytes();
    if (before == UINT64_MAX)
        return false;
    void *p = ivm_platform_malloc(100000);
    cr_assert_not_null(p);
    ((volatile char *)p)[0] = 1;
    uint64_t after = ivm_platform_thread_allocated_bytes();
    ivm_platform_free(p);
    return after - before >= 100000;
}

Test(jemalloc, value_heavy_loop_makes_no_malloc)
{
    ivm_vm *vm = t_vm();
    const ivm_module *m = t_load_text(vm, value_heavy);
    ivm_value entry = ivm_module_entry(vm, m), result = IVM_NIL;
    ivm_root(vm, &entry); /* kept across calls: the host's root rule */
    /* the collector runs too: every 20,000 allocations, checking the heap */
    ivm_vm_gc_debug(vm, true, 20000);
    cr_assert_eq(ivm_call(vm, entry, 0, NULL, &result), IVM_OK, "warm-up run failed");
    cr_assert_str_eq(t_pr(vm, result, true), "(4999950000 50000.0 5.0E299)");
    uint64_t arena_before = vm->heap.arena->bytes_allocated;

    uint64_t calls_before = ivm_platform_bootstrap_calls();
    uint64_t bytes_before = ivm_platform_thread_allocated_bytes();
    ivm_status st = ivm_call(vm, entry, 0, NULL, &result);
    uint64_t bytes_after = ivm_platform_thread_allocated_bytes();
    uint64_t calls_after = ivm_platform_bootstrap_calls();

    cr_assert_eq(st, IVM_OK);
    cr_assert_str_eq(t_pr(vm, result, true), "(4999950000 50000.0 5.0E299)");
    cr_assert_geq(vm->rt->gc.stats.collections, 10, "only %llu collections",
                  (unsigned long long)vm->rt->gc.stats.collections);
    /* the values went to the arena: 100,000 conses of 32 bytes at least */
    cr_assert_geq(vm->heap.arena->bytes_allocated - arena_before, (uint64_t)100000 * 32);
    cr_assert_eq(calls_after, calls_before,
                 "the run made %llu bootstrap allocator calls",
                 (unsigned long long)(calls_after - calls_before));
    if (bytes_before == UINT64_MAX || !jemalloc_sees_allocations()) {
        cr_log_info("jemalloc's thread.allocated cannot see allocations here (%s): the jemalloc "
                    "half of this test is skipped (the bootstrap-call half ran)",
                    bytes_before == UINT64_MAX ? "it reports UINT64_MAX"
                                               : "malloc is not jemalloc's, e.g. under ASan");
        return;
    }
    cr_assert_eq(bytes_after, bytes_before, "jemalloc handed this thread %llu bytes during the run",
                 (unsigned long long)(bytes_after - bytes_before));
}

/* The counters themselves work: an allocation through the platform is
 * seen by both (by thread.allocated only where jemalloc is the allocator:
 * AddressSanitizer brings its own). */
Test(jemalloc, counters_see_allocations)
{
    uint64_t calls = ivm_platform_bootstrap_calls();
    void *p = ivm_platform_malloc(100000);
    cr_assert_not_null(p);
    cr_assert_eq(ivm_platform_bootstrap_calls(), calls + 1);
    p = ivm_platform_realloc(p, 200000);
    cr_assert_not_null(p);
    cr_assert_eq(ivm_platform_bootstrap_calls(), calls + 2);
    ivm_platform_free(p);
    p = ivm_platform_calloc(10, 10);
    cr_assert_eq(ivm_platform_bootstrap_calls(), calls + 3);
    ivm_platform_free(p);
    cr_assert_eq(ivm_platform_bootstrap_calls(), calls + 3, "free is not counted");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    cr_log_info("a sanitizer's allocator serves malloc: thread.allocated is not checked");
#else
    cr_assert_neq(ivm_platform_thread_allocated_bytes(), UINT64_MAX,
                  "jemalloc cannot report thread.allocated");
    cr_assert(jemalloc_sees_allocations(), "thread.allocated did not grow by a 100000-byte malloc");
#endif
}
