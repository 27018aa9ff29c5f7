/* The arena (src/arena): reservation and rounding, bump allocation and its
 * alignment, region boundaries (filler objects, walkable regions, byte
 * accounting), large objects on spans of their own, freeing and reusing
 * regions, --heap size parsing, and exhaustion: the out-of-memory hook
 * in-process (forked) and the CLI's message for a full 16 MiB heap. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena/arena.h"
#include "support.h"

#define R IVM_REGION_SIZE
#define HEAP16 ((size_t)16 << 20)

/* The arena under test; released after each test even when an assertion
 * fails midway. */
static ivm_arena a;

static void release(void)
{
    if (a.base)
        ivm_arena_destroy(&a);
}

TestSuite(arena, .fini = release);

static ivm_bump empty_bump(void) { return (ivm_bump){.region = UINT32_MAX}; }

/* Gives an allocated block a header as ivm_heap_alloc would (kind 1), so
 * that regions can be walked. */
static void *alloc_obj(ivm_arena *ar, ivm_bump *b, size_t bytes)
{
    void *p = ivm_arena_alloc(ar, b, bytes);
    uint64_t h = 1u | ((uint64_t)(bytes / 8) << 32);
    memcpy(p, &h, 8);
    return p;
}

static uint64_t header_at(const char *p)
{
    uint64_t h;
    memcpy(&h, p, 8);
    return h;
}

Test(arena, init_rounds_and_aligns)
{
    cr_assert(ivm_arena_init(&a, HEAP16, IVM_ARENA_LAZY));
    cr_assert_eq(a.bytes, HEAP16);
    cr_assert_eq(a.nregions, 64);
    cr_assert_eq((uintptr_t)a.base % ((size_t)2 << 20), 0, "the reservation is 2 MiB-aligned");
    cr_assert_eq(a.fresh, 0);
    cr_assert_eq(a.nfree, 0);
    cr_assert_eq(a.regions_in_use, 0);
    cr_assert_eq(a.bytes_allocated, 0);
    for (uint32_t i = 0; i < a.nregions; i++)
        cr_assert_eq(a.regions[i].state, IVM_REGION_FREE);
    ivm_arena_destroy(&a);

    cr_assert(ivm_arena_init(&a, 1, IVM_ARENA_LAZY));
    cr_assert_eq(a.bytes, IVM_MIN_HEAP_BYTES, "below the minimum rounds up to it");
    ivm_arena_destroy(&a);

    cr_assert(ivm_arena_init(&a, HEAP16 + 1, IVM_ARENA_LAZY));
    cr_assert_eq(a.bytes, HEAP16 + R, "rounds up to whole regions");
    cr_assert_eq(a.nregions, 65);
    ivm_arena_destroy(&a);
}

Test(arena, bump_allocation_is_contiguous_and_aligned)
{
    cr_assert(ivm_arena_init(&a, HEAP16, IVM_ARENA_LAZY));
    ivm_bump b = empty_bump();
    char *p0 = ivm_arena_alloc(&a, &b, 8);
    cr_assert_eq(p0, a.base, "the first object starts region 0");
    cr_assert_eq(b.region, 0);
    cr_assert_eq(a.regions[0].state, IVM_REGION_ALLOCATING);
    cr_assert_eq(a.regions_in_use, 1);
    char *prev = p0;
    size_t prev_size = 8;
    static const size_t sizes[] = {16, 24, 8, 4096, 40, 65536, 8, 32};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = ivm_arena_alloc(&a, &b, sizes[i]);
        cr_assert_eq((uintptr_t)p % 8, 0);
        cr_assert_eq(p, prev + prev_size, "bump allocation is contiguous");
        prev = p;
        prev_size = sizes[i];
    }
    cr_assert(ivm_arena_contains(&a, prev));
    cr_assert_not(ivm_arena_contains(&a, a.base + a.bytes));
    cr_assert_not(ivm_arena_contains(&a, a.base - 1));
    cr_assert_eq(ivm_arena_region_of(&a, prev), 0);
    /* the memory is usable */
    memset(p0, 0xab, (size_t)(prev + prev_size - p0));
    ivm_arena_destroy(&a);
}

/* Fills region 0 with 8 + 4 * 65528 bytes (24 left over), then allocates
 * one more 65528-byte object: it must start region 1, and region 0 must end
 * in a 24-byte filler so that it can be walked. */
Test(arena, crossing_a_region_writes_filler)
{
    cr_assert(ivm_arena_init(&a, HEAP16, IVM_ARENA_LAZY));
    ivm_bump b = empty_bump();
    const size_t big = 65528; /* just under a quarter region: not large */
    alloc_obj(&a, &b, 8);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ivm_arena_region_of(&a, alloc_obj(&a, &b, big)), 0);
    cr_assert_eq((size_t)(b.limit - b.ptr), 24);
    char *p = alloc_obj(&a, &b, big);
    cr_assert_eq(p, ivm_arena_region_start(&a, 1), "the next object starts region 1");
    cr_assert_eq(b.region, 1);
    cr_assert_eq(a.regions[0].state, IVM_REGION_FULL);
    cr_assert_eq(a.regions[0].used, R);
    cr_assert_eq(a.regions[1].state, IVM_REGION_ALLOCATING);
    cr_assert_eq(a.regions_in_use, 2);
    cr_assert_eq(a.regions_high_water, 2);

    /* the filler covers the last 24 bytes of region 0 */
    uint64_t filler = header_at(a.base + R - 24);
    cr_assert_eq(filler & 0xff, IVM_FILLER_TYPE);
    cr_assert_eq(filler >> 32, 3, "filler size in words");

    /* region 0 walks from its start to `used` through the headers */
    size_t off = 0, objects = 0;
    while (off < a.regions[0].used) {
        uint64_t h = header_at(a.base + off);
        cr_assert_neq(h >> 32, 0, "zero-sized object at offset %zu", off);
        off += (size_t)(h >> 32) * 8;
        objects++;
    }
    cr_assert_eq(off, R, "the walk ends exactly at the region end");
    cr_assert_eq(objects, 6, "5 objects and 1 filler");

    /* retiring the cursor leaves every allocated byte counted, filler not */
    ivm_arena_retire(&a, &b);
    cr_assert_eq(b.region, UINT32_MAX);
    cr_assert_null(b.ptr);
    cr_assert_eq(a.regions[1].state, IVM_REGION_FULL);
    cr_assert_eq(a.bytes_allocated, 8 + 5 * big);
    uint64_t tail = header_at(ivm_arena_region_start(&a, 1) + big);
    cr_assert_eq(tail & 0xff, IVM_FILLER_TYPE);
    cr_assert_eq((tail >> 32) * 8, R - big);
    ivm_arena_destroy(&a);
}

Test(arena, exact_fit_needs_no_filler)
{
    cr_assert(ivm_arena_init(&a, HEAP16, IVM_ARENA_LAZY));
    ivm_bump b = empty_bump();
    for (int i = 0; i < 4; i++)
        alloc_obj(&a, &b, R / 4);
    cr_assert_eq(b.ptr, b.limit, "region 0 is exactly full");
    cr_assert_eq(b.region, 0);
    char *p = alloc_obj(&a, &b, 8);
    cr_assert_eq(p, ivm_arena_region_start(&a, 1));
    cr_assert_eq(a.regions[0].state, IVM_REGION_FULL);
    ivm_arena_retire(&a, &b);
    cr_assert_eq(a.bytes_allocated, R + 8);
    ivm_arena_destroy(&a);
}

Test(arena, large_objects_get_their_own_spans)
{
    cr_assert(ivm_arena_init(&a, HEAP16, IVM_ARENA_LAZY));
    ivm_bump b = empty_bump();

    char *one = ivm_arena_alloc(&a, &b, IVM_LARGE_OBJECT_BYTES + 8);
    cr_assert_eq(one, ivm_arena_region_start(&a, 0), "a large object starts its region");
    cr_assert_eq(a.regions[0].state, IVM_REGION_LARGE);
    cr_assert_eq(a.regions[0].span, 1);
    cr_assert_eq(a.regions[0].used, IVM_LARGE_OBJECT_BYTES + 8);
    cr_assert_null(b.ptr, "a large allocation leaves the bump cursor alone");
    cr_assert_eq(b.region, UINT32_MAX);

    char *four = ivm_arena_alloc(&a, &b, 3 * R + 8);
    cr_assert_eq(four, ivm_arena_region_start(&a, 1));
    cr_assert_eq(a.regions[1].state, IVM_REGION_LARGE);
    cr_assert_eq(a.regions[1].span, 4);
    cr_assert_eq(a.regions[1].used, R);
    for (uint32_t k = 2; k < 5; k++)
        cr_assert_eq(a.regions[k].state, IVM_REGION_LARGE_TAIL);
    memset(four, 0x5a, 3 * R + 8); /* all of it is usable */
    cr_assert_eq(a.regions_in_use, 1 + 4);
    cr_assert_eq(a.bytes_allocated, IVM_LARGE_OBJECT_BYTES + 8 + 3 * R + 8);

    /* exactly a quarter region is still small: it goes to a bump region */
    char *quarter = ivm_arena_alloc(&a, &b, IVM_LARGE_OBJECT_BYTES);
    cr_assert_eq(quarter, ivm_arena_region_start(&a, 5));
    cr_assert_eq(a.regions[5].state, IVM_REGION_ALLOCATING);
    cr_assert_eq(b.region, 5);
    ivm_arena_destroy(&a);
}

/* arena.h: "an object larger than a quarter region gets a span of whole
 * regions of its own (large objects are never moved)" -- also when the
 * bump cursor happens to have room for it. */
Test(arena, large_object_bypasses_a_cursor_with_room)
{
    cr_assert(ivm_arena_init(&a, HEAP16, IVM_ARENA_LAZY));
    ivm_bump b = empty_bump();
    alloc_obj(&a, &b, 16); /* the cursor now has R - 16 bytes of room */
    char *cursor = b.ptr;
    char *one = ivm_arena_alloc(&a, &b, IVM_LARGE_OBJECT_BYTES + 8);
    uint32_t i = ivm_arena_region_of(&a, one);
    cr_assert_neq(i, 0, "a %zu-byte object was bump-allocated inside small-object region 0",
                  IVM_LARGE_OBJECT_BYTES + 8);
    cr_assert_eq(one, ivm_arena_region_start(&a, i));
    cr_assert_eq(a.regions[i].state, IVM_REGION_LARGE);
    cr_assert_eq(b.ptr, cursor, "the bump cursor did not move");
    ivm_arena_destroy(&a);
}

/* Exhausts the untouched part of the arena with single-region large
 * objects, frees three neighbours and checks that they are reused: first
 * fit for a two-region span, the free list for a bump region. */
Test(arena, freed_regions_are_reused)
{
    cr_assert(ivm_arena_init(&a, HEAP16, IVM_ARENA_LAZY));
    ivm_bump b = empty_bump();
    char *objs[64];
    for (int i = 0; i < 64; i++) {
        objs[i] = ivm_arena_alloc(&a, &b, IVM_LARGE_OBJECT_BYTES + 8);
        cr_assert_eq(ivm_arena_region_of(&a, objs[i]), (uint32_t)i);
        memset(objs[i], 0xee, IVM_LARGE_OBJECT_BYTES + 8);
    }
    cr_assert_eq(a.fresh, 64);
    cr_assert_eq(a.regions_in_use, 64);

    ivm_arena_free_region(&a, 10);
    ivm_arena_free_region(&a, 11);
    ivm_arena_free_region(&a, 12);
    cr_assert_eq(a.regions_in_use, 61);
    cr_assert_eq(a.regions_high_water, 64);
    cr_assert_eq(a.nfree, 3);
    cr_assert_eq(a.free_committed, 3, "freed regions stay committed until trimmed");
    ivm_arena_trim(&a, 1); /* the longest-free go back first */
    cr_assert_eq(a.free_committed, 1);
    cr_assert_not(a.regions[10].committed);
    cr_assert_not(a.regions[11].committed);
    cr_assert(a.regions[12].committed);
    ivm_arena_trim(&a, 0);
    for (uint32_t i = 10; i <= 12; i++) {
        cr_assert_eq(a.regions[i].state, IVM_REGION_FREE);
        const unsigned char *p = (const unsigned char *)objs[i];
        for (size_t k = 0; k < IVM_LARGE_OBJECT_BYTES + 8; k += 4093)
            cr_assert_eq(p[k], 0, "a trimmed region reads back as zeros");
    }

    char *two = ivm_arena_alloc(&a, &b, R + 8);
    cr_assert_eq(two, ivm_arena_region_start(&a, 10), "first fit reuses regions 10-11");
    cr_assert_eq(a.regions[10].state, IVM_REGION_LARGE);
    cr_assert_eq(a.regions[10].span, 2);
    cr_assert_eq(a.regions[11].state, IVM_REGION_LARGE_TAIL);
    cr_assert_eq(a.nfree, 1, "the span's regions left the free list");

    char *small = ivm_arena_alloc(&a, &b, 64);
    cr_assert_eq(small, ivm_arena_region_start(&a, 12), "the bump cursor takes free region 12");
    cr_assert_eq(a.nfree, 0);
    cr_assert_eq(a.regions_in_use, 64);

    /* a freed multi-region span goes back whole */
    ivm_arena_free_region(&a, 10);
    cr_assert_eq(a.regions[10].state, IVM_REGION_FREE);
    cr_assert_eq(a.regions[11].state, IVM_REGION_FREE);
    cr_assert_eq(a.nfree, 2);
    cr_assert_eq(a.regions_in_use, 62);
    ivm_arena_destroy(&a);
}

/* Every commit mode hands out the same usable memory. */
Test(arena, every_commit_mode_allocates)
{
    static const ivm_arena_mode modes[] = {IVM_ARENA_LAZY, IVM_ARENA_HUGE, IVM_ARENA_PREFAULT};
    for (size_t m = 0; m < 3; m++) {
            cr_assert(ivm_arena_init(&a, HEAP16, modes[m]), "mode %zu", m);
        cr_assert_eq(a.mode, modes[m]);
        ivm_bump b = empty_bump();
        for (int i = 0; i < 3 * 8; i++) { /* three regions' worth */
            char *p = alloc_obj(&a, &b, R / 8);
            memset(p + 8, i, R / 8 - 8);
        }
        char *big = ivm_arena_alloc(&a, &b, 2 * R);
        memset(big, 1, 2 * R);
        cr_assert_eq(a.regions_in_use, 3 + 2, "mode %zu", m);
        ivm_arena_retire(&a, &b);
        cr_assert_eq(a.bytes_allocated, 5 * R, "mode %zu", m);
        ivm_arena_destroy(&a);
    }
}

Test(arena, parse_size)
{
    size_t n = 0;
    cr_assert(ivm_arena_parse_size("512M", &n));
    cr_assert_eq(n, (size_t)512 << 20);
    cr_assert(ivm_arena_parse_size("1G", &n));
    cr_assert_eq(n, (size_t)1 << 30);
    cr_assert(ivm_arena_parse_size("4G", &n));
    cr_assert_eq(n, (size_t)4 << 30);
    cr_assert(ivm_arena_parse_size("16M", &n));
    cr_assert_eq(n, IVM_MIN_HEAP_BYTES);
    cr_assert(ivm_arena_parse_size("16777216", &n));
    cr_assert_eq(n, (size_t)16777216);
    cr_assert(ivm_arena_parse_size("32768K", &n));
    cr_assert_eq(n, (size_t)32 << 20);

    static const char *const bad[] = {
        "64K",        /* below the 16 MiB minimum */
        "65536",      /* likewise, in bytes */
        "15M", "16777215", "0", "0G",
        "", "abc", "M", "G1", "1X", "1GG", "-1G", "+1G", " 1G", "1G ", "1.5G",
        "1e9", "0x100000000",
        "99999999999999999999999", /* overflows 64 bits */
        "1048576G",                /* 1 PiB */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(ivm_arena_parse_size(bad[i], &n), "accepted \"%s\"", bad[i]);
}

/* ---- Exhaustion -------------------------------------------------------- */

static void oom_hook_exits(void *context, size_t heap_bytes)
{
    (void)context;
    _exit(heap_bytes == HEAP16 ? 42 : 43);
}

static void oom_hook_returns(void *context, size_t heap_bytes)
{
    *(size_t *)context = heap_bytes;
}

/* Runs fn in a child process and returns its wait status. */
static int in_child(void (*fn)(int), int arg)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        alarm(20);
        fn(arg);
        _exit(99); /* fn returned: the arena did not stop */
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return status;
}

/* arg 0: small objects; 1: large objects; 2: a span bigger than the arena;
 * 3: small objects with a hook that (wrongly) returns. */
static void exhaust(int how)
{
    if (!ivm_arena_init(&a, HEAP16, IVM_ARENA_LAZY))
        _exit(98);
    size_t returned = 0;
    if (how == 3)
        ivm_arena_set_oom_hook(&a, oom_hook_returns, &returned);
    else
        ivm_arena_set_oom_hook(&a, oom_hook_exits, NULL);
    ivm_bump b = {.region = UINT32_MAX};
    if (how == 2)
        ivm_arena_alloc(&a, &b, HEAP16 + R);
    for (size_t i = 0; i < 100000000; i++)
        ivm_arena_alloc(&a, &b, how == 1 ? R + 8 : 4096);
}

Test(arena, out_of_memory_calls_the_hook)
{
    for (int how = 0; how <= 2; how++) {
        int status = in_child(exhaust, how);
        cr_assert(WIFEXITED(status), "case %d: the child died of signal %d", how,
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        cr_assert_eq(WEXITSTATUS(status), 42,
                     "case %d: exit status %d (42: hook called with the heap size; "
                     "43: wrong size; 99: allocation never failed)",
                     how, WEXITSTATUS(status));
    }
}

Test(arena, a_returning_hook_still_stops)
{
    int status = in_child(exhaust, 3);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 1, "the arena exits with status 1 itself");
}

static const char cons_forever[] =
    "; conses onto a list forever: the heap must run out\n"
    ".proto main regs=4\n"
    "  LOADNIL r0, 0\n"
    "loop:\n"
    "  GETGLOBAL r1, cons\n"
    "  LOADI r2, 1\n"
    "  MOVE r3, r0\n"
    "  CALL r1, 2\n"
    "  MOVE r0, r1\n"
    "  JMP loop\n"
    ".end\n";

/* A span may start in freed regions just below the untouched part of the
 * reservation and run on into it: 64 regions, 62 taken, region 61 freed;
 * regions 61, 62 and 63 are free and contiguous, so a 3-region object fits
 * there. Exit status: 0 placed at 61, 2 placed elsewhere, 42 "out of
 * memory" although it fits. */
static void span_across_fresh_boundary(int unused)
{
    (void)unused;
    if (!ivm_arena_init(&a, HEAP16, IVM_ARENA_LAZY))
        _exit(98);
    ivm_arena_set_oom_hook(&a, oom_hook_exits, NULL);
    ivm_bump b = {.region = UINT32_MAX};
    for (int i = 0; i < 62; i++)
        ivm_arena_alloc(&a, &b, IVM_LARGE_OBJECT_BYTES + 8);
    ivm_arena_free_region(&a, 61);
    char *p = ivm_arena_alloc(&a, &b, 2 * R + 8);
    _exit(p == ivm_arena_region_start(&a, 61) ? 0 : 2);
}

Test(arena, span_may_extend_into_untouched_regions)
{
    int status = in_child(span_across_fresh_boundary, 0);
    cr_assert(WIFEXITED(status));
    cr_assert_neq(WEXITSTATUS(status), 42,
                  "out of memory for a 3-region object while regions 61-63 were free");
    cr_assert_eq(WEXITSTATUS(status), 0, "exit status %d", WEXITSTATUS(status));
}

Test(arena, cli_reports_a_full_heap)
{
    const char *path = t_path(t_temp_dir(), "cons.ivs");
    t_write_file(path, cons_forever, strlen(cons_forever));
    t_proc p;
    int code = t_ivm(&p, NULL, "--heap", "16M", "run", path, NULL);
    cr_assert_eq(code, 1, "exit status %d; stderr: %s", code, p.err);
    /* the list it conses stays live: collections run, then it is full */
    const char *want = "ivm: out of memory: the 16 MiB heap is full (see --heap); ";
    cr_assert(strncmp(p.err, want, strlen(want)) == 0, "stderr: %s", p.err);
    cr_assert(strstr(p.err, " MiB were live after the last of ") != NULL, "stderr: %s", p.err);
    cr_assert(strstr(p.err, " collections\n") != NULL && !strstr(p.err, "of 0 collections"),
              "stderr: %s", p.err);
    cr_assert_str_eq(p.out, "");
}
