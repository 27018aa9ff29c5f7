/* The collector, phase by phase: roots, marking, region selection,
 * evacuation, forwarding, reference rewriting, the return of regions to
 * the free list, large objects, the growth policy, stress mode and the
 * verifier; then whole bytecode programs that collect as they run.
 *
 * Each test builds its heap by hand in a fresh VM of T_HEAP_BYTES and
 * roots what it keeps with ivm_root / ivm_root_list (the host's rule). */
#include <criterion/criterion.h>
#include <string.h>

#include "gc/gc.h"
#include "support.h"
#include "values/vector.h"

static ivm_vm *fresh(void)
{
    t_vm_reset();
    return t_vm();
}

static ivm_region *region_of(ivm_vm *vm, ivm_value v)
{
    ivm_arena *a = vm->heap.arena;
    return &a->regions[ivm_arena_region_of(a, (void *)(uintptr_t)v)];
}

static void verify_ok(ivm_vm *vm)
{
    char why[200];
    cr_assert(ivm_gc_verify(&vm->rt->gc, why, sizeof why), "verify: %s", why);
}

/* A list of n conses whose elements are 0..n-1. */
static ivm_value list_of(ivm_vm *vm, int64_t n)
{
    ivm_value l = IVM_EMPTY_LIST;
    for (int64_t i = n; i-- > 0;)
        l = ivm_cons_new(&vm->heap, ivm_fixnum(i), l);
    return l;
}

static int64_t sum_list(ivm_value l)
{
    int64_t s = 0;
    for (; l != IVM_EMPTY_LIST; l = ivm_as_cons(l)->rest)
        s += ivm_fixnum_value(ivm_as_cons(l)->first);
    return s;
}

/* ---- Roots and marking ------------------------------------------------- */

Test(gc, marks_what_the_roots_reach_and_nothing_else)
{
    ivm_vm *vm = fresh();
    ivm_value kept = list_of(vm, 1000), dropped = list_of(vm, 1000);
    ivm_root(vm, &kept);
    ivm_gc_collect(&vm->rt->gc, false);
    for (ivm_value l = kept; l != IVM_EMPTY_LIST; l = ivm_as_cons(l)->rest)
        cr_assert(ivm_gc_is_marked(&vm->rt->gc, l));
    cr_assert_not(ivm_gc_is_marked(&vm->rt->gc, dropped));
    cr_assert_not(ivm_gc_is_marked(&vm->rt->gc, ivm_as_cons(dropped)->rest));
    verify_ok(vm);
}

Test(gc, every_kind_of_root_is_traced)
{
    ivm_vm *vm = fresh();
    ivm_value g = ivm_string(&vm->heap, "global", 6);
    ivm_global_set(vm, "g", g);
    ivm_value err = ivm_string(&vm->heap, "error", 5);
    vm->error = err;
    ivm_value on_stack = ivm_string(&vm->heap, "stack", 5);
    ivm_value sym = ivm_symbol_cstr(&vm->heap, "an-interned-symbol");
    ivm_value c = ivm_string(&vm->heap, "c root", 6);
    ivm_root(vm, &c);
    ivm_worklist w;
    ivm_worklist_init(&w);
    ivm_worklist_push(&w, ivm_string(&vm->heap, "in a list", 9));
    ivm_root_list(vm, &w);
    /* the stack counts only below its top frame's registers */
    const ivm_module *m = t_load_text(vm, ".proto main regs=3\n  LOADNIL r0, 2\n  RET r0\n.end\n");
    vm->stack[0] = on_stack;
    vm->frames[0] = (ivm_frame){ivm_module_entry(vm, m), 0, 0};
    vm->nframes = 1;
    ivm_gc_collect(&vm->rt->gc, false);
    vm->nframes = 0;
    cr_assert(ivm_gc_is_marked(&vm->rt->gc, g));
    cr_assert(ivm_gc_is_marked(&vm->rt->gc, err));
    cr_assert(ivm_gc_is_marked(&vm->rt->gc, on_stack));
    cr_assert(ivm_gc_is_marked(&vm->rt->gc, sym));
    cr_assert(ivm_gc_is_marked(&vm->rt->gc, c));
    cr_assert(ivm_gc_is_marked(&vm->rt->gc, w.items[0]));
    cr_assert(ivm_gc_is_marked(&vm->rt->gc, m->protos[0]), "a loaded prototype");
    vm->error = IVM_NIL;
    ivm_roots_restore(vm, 0);
    ivm_worklist_free(&w);
}

Test(gc, live_bytes_are_counted_per_region)
{
    ivm_vm *vm = fresh();
    ivm_value l = list_of(vm, 100);
    ivm_root(vm, &l);
    ivm_gc_collect(&vm->rt->gc, false);
    /* 100 conses of 32 bytes, all in the region they were built in */
    cr_assert_eq(region_of(vm, l)->live_bytes >= 100 * 32, true);
    uint64_t before = vm->rt->gc.stats.live_bytes;
    ivm_value more = list_of(vm, 100);
    ivm_root(vm, &more);
    ivm_gc_collect(&vm->rt->gc, false);
    cr_assert_eq(vm->rt->gc.stats.live_bytes - before, 100 * 32);
}

Test(gc, a_deep_structure_marks_without_recursion)
{
    ivm_vm *vm = fresh();
    /* a 300,000-deep nest of one-element vectors */
    ivm_value v = IVM_NIL;
    for (int i = 0; i < 300000; i++)
        v = ivm_vec_conj(&vm->heap, ivm_vec_empty(&vm->heap), v);
    ivm_root(vm, &v);
    ivm_gc_collect(&vm->rt->gc, true);
    verify_ok(vm);
    int depth = 0;
    for (ivm_value x = v; x != IVM_NIL; x = ivm_vec_nth(x, 0))
        depth++;
    cr_assert_eq(depth, 300000);
}

/* ---- Selection, evacuation, forwarding, rewriting ---------------------- */

Test(gc, empty_regions_are_freed_and_their_memory_returned)
{
    ivm_vm *vm = fresh();
    ivm_arena *a = vm->heap.arena;
    uint32_t in_use = a->regions_in_use;
    list_of(vm, 200000); /* 6.4 MB of garbage: about 25 regions */
    cr_assert_geq(a->regions_in_use, in_use + 24);
    uint32_t free_before = a->nfree;
    ivm_gc_collect(&vm->rt->gc, false);
    cr_assert_leq(a->regions_in_use, in_use + 1, "%u regions in use, %u before",
                  a->regions_in_use, in_use);
    cr_assert_geq(a->nfree, free_before + 23, "the free list got the regions back: %u, %u before",
                  a->nfree, free_before);
    cr_assert_geq(vm->rt->gc.stats.regions_freed, 23);
    for (uint32_t k = 0; k < a->nfree; k++)
        cr_assert_eq(a->regions[a->free_list[k]].state, IVM_REGION_FREE);
    /* the next allocations reuse them */
    uint32_t fresh_mark = a->fresh;
    list_of(vm, 100000);
    cr_assert_eq(a->fresh, fresh_mark, "freed regions are taken before untouched ones");
}

/* Fills about `regions` regions with conses of which every `keep`th is
 * kept (pushed on w, which it makes and roots); returns how many. */
static size_t build_sparse(ivm_vm *vm, ivm_worklist *w, int regions, int keep)
{
    ivm_worklist_init(w);
    ivm_root_list(vm, w);
    size_t n = (size_t)regions * IVM_REGION_SIZE / 32, kept = 0;
    for (size_t i = 0; i < n; i++) {
        ivm_value c = ivm_cons_new(&vm->heap, ivm_fixnum((int64_t)i), IVM_EMPTY_LIST);
        if (i % (size_t)keep == 0) {
            ivm_worklist_push(w, c);
            kept++;
        }
    }
    return kept;
}

Test(gc, sparse_regions_are_evacuated_and_references_rewritten)
{
    ivm_vm *vm = fresh();
    ivm_worklist w;
    size_t kept = build_sparse(vm, &w, 8, 10); /* 10% live */
    ivm_value first = w.items[0];
    uint32_t first_region = ivm_arena_region_of(vm->heap.arena, (void *)(uintptr_t)first);
    ivm_gc_collect(&vm->rt->gc, true);
    verify_ok(vm);
    cr_assert_geq(vm->rt->gc.stats.regions_evacuated, 7);
    cr_assert_eq(vm->rt->gc.stats.objects_copied >= kept - kept / 8, true, "copied %llu of %zu",
                 (unsigned long long)vm->rt->gc.stats.objects_copied, kept);
    cr_assert_eq(vm->heap.arena->regions[first_region].state, IVM_REGION_FREE,
                 "the evacuated region went back to the free list");
    cr_assert_neq(w.items[0], first, "the root was rewritten to the copy");
    for (size_t i = 0; i < w.len; i++)
        cr_assert_eq(ivm_fixnum_value(ivm_as_cons(w.items[i])->first), (int64_t)(i * 10));
    ivm_roots_restore(vm, 0);
    ivm_worklist_free(&w);
}

Test(gc, dense_regions_stay_where_they_are)
{
    ivm_vm *vm = fresh();
    ivm_value l = list_of(vm, 50000); /* 1.6 MB, every cons live */
    ivm_root(vm, &l);
    ivm_value before = l;
    ivm_gc_collect(&vm->rt->gc, true);
    cr_assert_eq(l, before);
    cr_assert_eq(vm->rt->gc.stats.objects_copied, 0);
    cr_assert_eq(sum_list(l), (int64_t)50000 * 49999 / 2);
}

Test(gc, an_object_reached_twice_is_copied_once)
{
    ivm_vm *vm = fresh();
    ivm_worklist w;
    build_sparse(vm, &w, 4, 20);
    ivm_value shared = w.items[3];
    ivm_value a = shared, b = shared;
    ivm_value holder = ivm_vec_conj(&vm->heap, ivm_vec_empty(&vm->heap), shared);
    ivm_root(vm, &a);
    ivm_root(vm, &b);
    ivm_root(vm, &holder);
    ivm_gc_collect(&vm->rt->gc, true);
    verify_ok(vm);
    cr_assert_neq(a, shared, "moved");
    cr_assert_eq(a, b, "both roots lead to the one copy");
    cr_assert_eq(a, w.items[3]);
    cr_assert_eq(ivm_vec_nth(holder, 0), a, "a field of a kept object was rewritten too");
    ivm_roots_restore(vm, 0);
    ivm_worklist_free(&w);
}

Test(gc, copies_of_copies_are_fixed_in_cheney_order)
{
    ivm_vm *vm = fresh();
    /* a list whose conses are spread thinly over many regions: each copy
     * refers to the next cons, which is copied when the copy is scanned */
    ivm_value l = IVM_EMPTY_LIST;
    for (int i = 0; i < 2000; i++) {
        l = ivm_cons_new(&vm->heap, ivm_fixnum(i), l);
        for (int k = 0; k < 40; k++) /* garbage between them */
            ivm_cons_new(&vm->heap, IVM_NIL, IVM_EMPTY_LIST);
    }
    ivm_root(vm, &l);
    ivm_gc_collect(&vm->rt->gc, true);
    verify_ok(vm);
    cr_assert_geq(vm->rt->gc.stats.objects_copied, 1900);
    cr_assert_eq(sum_list(l), (int64_t)2000 * 1999 / 2);
    cr_assert_eq(ivm_list_count(l), 2000);
}

Test(gc, a_collection_that_may_not_move_copies_nothing)
{
    ivm_vm *vm = fresh();
    ivm_worklist w;
    build_sparse(vm, &w, 4, 10);
    ivm_value first = w.items[0];
    ivm_gc_collect(&vm->rt->gc, false);
    cr_assert_eq(w.items[0], first);
    cr_assert_eq(vm->rt->gc.stats.objects_copied, 0);
    verify_ok(vm);
    ivm_roots_restore(vm, 0);
    ivm_worklist_free(&w);
}

Test(gc, large_objects_are_kept_in_place_or_freed)
{
    ivm_vm *vm = fresh();
    ivm_arena *a = vm->heap.arena;
    char text[200000];
    memset(text, 'x', sizeof text);
    ivm_value big = ivm_string(&vm->heap, text, sizeof text);
    ivm_value gone = ivm_string(&vm->heap, text, sizeof text);
    cr_assert_eq(region_of(vm, big)->state, IVM_REGION_LARGE);
    ivm_root(vm, &big);
    ivm_value before = big;
    uint32_t gone_region = ivm_arena_region_of(a, (void *)(uintptr_t)gone);
    ivm_gc_collect(&vm->rt->gc, true);
    verify_ok(vm);
    cr_assert_eq(big, before, "large objects never move");
    cr_assert_eq(ivm_as_str(big)->len, sizeof text);
    cr_assert_eq(a->regions[gone_region].state, IVM_REGION_FREE);
}

/* ---- Policy, stress, verify -------------------------------------------- */

Test(gc, the_next_collection_follows_the_growth_policy)
{
    ivm_vm *vm = fresh();
    ivm_value l = list_of(vm, 300000); /* 9.6 MB live */
    ivm_root(vm, &l);
    ivm_gc_collect(&vm->rt->gc, true);
    ivm_arena *a = vm->heap.arena;
    uint64_t live = vm->rt->gc.stats.live_bytes;
    cr_assert_geq(live, 300000 * 32);
    /* 2 x live (at least the minimum), unless that would eat into the
     * reserve of a 64 MiB heap */
    uint64_t room = (uint64_t)(ivm_arena_free_regions(a) - vm->rt->gc.reserve_regions) * IVM_REGION_SIZE;
    uint64_t want = live * IVM_GC_GROWTH > IVM_GC_MIN_BUDGET ? live * IVM_GC_GROWTH : IVM_GC_MIN_BUDGET;
    if (want > room)
        want = room;
    cr_assert_eq(a->collect_at - a->bytes_allocated, want);
    cr_assert_not(a->collect_requested);
    list_of(vm, (int64_t)(want / 32) + IVM_REGION_SIZE / 16);
    cr_assert(a->collect_requested, "allocating the budget asks for a collection");
}

Test(gc, stress_mode_asks_for_a_collection_every_n_allocations)
{
    ivm_vm *vm = fresh();
    ivm_arena *a = vm->heap.arena;
    ivm_gc_set_stress(&vm->rt->gc, 7);
    for (int round = 0; round < 3; round++) {
        a->collect_requested = false;
        for (int i = 0; i < 6; i++)
            ivm_cons_new(&vm->heap, IVM_NIL, IVM_EMPTY_LIST);
        cr_assert_not(a->collect_requested, "round %d: asked after 6", round);
        ivm_cons_new(&vm->heap, IVM_NIL, IVM_EMPTY_LIST);
        cr_assert(a->collect_requested, "round %d: not asked after 7", round);
    }
    ivm_gc_set_stress(&vm->rt->gc, 0);
}

Test(gc, verify_finds_a_reference_into_a_freed_region)
{
    ivm_vm *vm = fresh();
    ivm_value holder = ivm_vec_conj(&vm->heap, ivm_vec_empty(&vm->heap), IVM_NIL);
    ivm_root(vm, &holder);
    ivm_value doomed = list_of(vm, 200000); /* regions that will be freed */
    ivm_gc_collect(&vm->rt->gc, true);
    verify_ok(vm);
    /* break the heap behind the collector's back */
    ivm_vec_node *tail = (ivm_vec_node *)(uintptr_t)((ivm_vec *)(uintptr_t)holder)->tail;
    tail->slots[0] = doomed;
    char why[200];
    cr_assert_not(ivm_gc_verify(&vm->rt->gc, why, sizeof why));
    cr_assert(strstr(why, "not live") || strstr(why, "did not keep"), "%s", why);
    tail->slots[0] = IVM_NIL;
}

Test(gc, verify_poisons_what_it_found_dead)
{
    ivm_vm *vm = fresh();
    ivm_value dead = ivm_cons_new(&vm->heap, ivm_fixnum(1), IVM_EMPTY_LIST);
    ivm_value live = ivm_cons_new(&vm->heap, ivm_fixnum(2), IVM_EMPTY_LIST);
    ivm_root(vm, &live);
    ivm_gc_collect(&vm->rt->gc, false);
    verify_ok(vm);
    cr_assert_eq(ivm_obj_kind(dead), IVM_K_DEAD);
    cr_assert_eq(ivm_obj_kind(live), IVM_K_CONS);
}

/* ---- Whole programs ---------------------------------------------------- */

/* conses a 1000-element list, drops it, 300 times; returns the last sum
 * (calls at r12, above every register it keeps) */
static const char churn[] =
    ".proto main regs=16\n"
    "  LOADI r10, 0\n"           /* round */
    "  LOADK r11, 1000\n"
    "  LOADK r9, 300\n"
    "round:\n"
    "  LOADK r0, ()\n"
    "  LOADI r1, 0\n"
    "build:\n"
    "  LT r1, r11, 0\n"
    "  JMP sum\n"
    "  GETGLOBAL r12, cons\n"
    "  MOVE r13, r1\n"
    "  MOVE r14, r0\n"
    "  CALL r12, 2\n"
    "  MOVE r0, r12\n"
    "  ADDI r1, r1, 1\n"
    "  JMP build\n"
    "sum:\n"
    "  LOADI r2, 0\n"
    "  LOADK r6, ()\n"
    "loop:\n"
    "  EQ r0, r6, 1\n"
    "  JMP next\n"
    "  GETGLOBAL r12, first\n"
    "  MOVE r13, r0\n"
    "  CALL r12, 1\n"
    "  ADD r2, r2, r12\n"
    "  GETGLOBAL r12, rest\n"
    "  MOVE r13, r0\n"
    "  CALL r12, 1\n"
    "  MOVE r0, r12\n"
    "  JMP loop\n"
    "next:\n"
    "  ADDI r10, r10, 1\n"
    "  LT r10, r9, 0\n"
    "  JMP done\n"
    "  JMP round\n"
    "done:\n"
    "  RET r2\n"
    ".end\n";

Test(gc, a_program_collects_under_stress_and_verify)
{
    ivm_vm *vm = fresh();
    ivm_vm_gc_debug(vm, true, 500);
    t_result r = t_run_in(vm, churn);
    cr_assert_eq(r.status, IVM_OK, "%s", r.report ? r.report : "");
    cr_assert_str_eq(r.pr, "499500");
    cr_assert_geq(vm->rt->gc.stats.collections, 100, "%llu collections",
                  (unsigned long long)vm->rt->gc.stats.collections);
    cr_assert_geq(vm->rt->gc.stats.verified_objects, 1000);
    ivm_vm_gc_debug(vm, false, 0);
}

Test(gc, stale_stack_slots_are_cleared_after_a_collection)
{
    ivm_vm *vm = fresh();
    uint32_t stale = vm->slot_cap - 2;
    vm->stack[stale] = ivm_string(&vm->heap, "stale", 5);
    vm->stack_high = stale + 1;
    ivm_vm_collect(vm);
    cr_assert_eq(vm->stack[stale], IVM_NIL);
    cr_assert_eq(vm->stack_high, 0);
}

Test(gc, stats_report_names_every_figure)
{
    ivm_vm *vm = fresh();
    list_of(vm, 1000);
    ivm_gc_collect(&vm->rt->gc, true);
    ivm_buf b = {0};
    ivm_gc_report(&vm->rt->gc, &b);
    ivm_buf_add_char(&b, '\0');
    const char *want[] = {"collections: 1", "longest", "p50", "p99", "allocated:", "copied:",
                          "evacuated", "freed", "live after the last collection:", "high-water"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_assert(strstr(b.data, want[i]), "no '%s' in:\n%s", want[i], b.data);
    ivm_buf_free(&b);
}

Test(gc, programs_can_ask_for_a_collection_and_read_memory_figures)
{
    t_proc p;
    int code = t_ivm(&p, NULL, "-e",
                     "(let [before (ivm/memory) big (vec (range 300000))]"
                     "  (ivm/gc)"
                     "  (let [after (ivm/memory)]"
                     "    [(- (:collections after) (:collections before))"
                     "     (every? pos? (vals (dissoc after :collections)))"
                     "     (>= (:live-after-last-gc after) (* 8 300000))"
                     "     (count big)]))",
                     NULL);
    cr_assert_eq(code, 0, "stderr: %s", p.err);
    cr_assert_str_eq(p.out, "[1 true true 300000]\n");
}

Test(gc, gc_stats_are_printed_at_exit_even_through_exit)
{
    t_proc p;
    int code = t_ivm(&p, NULL, "--gc-stats", "-e", "(ivm/gc) (exit 3)", NULL);
    cr_assert_eq(code, 3);
    cr_assert(strstr(p.err, "gc: collections: 1 (1 could move objects)\n"), "stderr: %s", p.err);
    cr_assert(strstr(p.err, "gc: live after the last collection: "), "stderr: %s", p.err);
}

Test(gc, bad_debug_settings_are_usage_errors)
{
    t_proc p;
    setenv("IVM_GC_STRESS", "ten", 1);
    int code = t_ivm(&p, NULL, "-e", "1", NULL);
    unsetenv("IVM_GC_STRESS");
    cr_assert_eq(code, 2);
    cr_assert_str_eq(p.err, "ivm: IVM_GC_STRESS must be a number of allocations from 1 to "
                            "4294967295, not: ten\n");
}

/* What a call leaves in the registers from its own up (undefined after
 * it, opcodes.h), and what a callee's frame left in a new frame's
 * registers, is cleared rather than kept alive. Here a million-element vector lives only
 * in such stale registers when the collection runs. */
Test(gc, stale_registers_of_compiled_code_keep_nothing_alive)
{
    t_proc p;
    int code = t_ivm(&p, NULL, "-e",
                     "(defn f [] (vec (range 1000000)))"
                     "(defn g [v] [(count v) 1])"
                     "(defn h [] (ivm/gc) (:live-after-last-gc (ivm/memory)))"
                     "(let [a (count (f)) _ (ivm/gc) b (:live-after-last-gc (ivm/memory))"
                     "      [c] (g (f)) d (h)]"
                     "  [a (< b 1000000) c (< d 1000000)])",
                     NULL);
    cr_assert_eq(code, 0, "stderr: %s", p.err);
    cr_assert_str_eq(p.out, "[1000000 true 1000000 true]\n");
}

/* Free regions stay committed up to the next budget, unless the program
 * asked for memory back (ivm/gc sets release_memory). Heap of 1 GiB here,
 * so that the budget is not capped by the reserve. */
Test(gc, free_memory_goes_back_beyond_the_budget_or_on_request)
{
    ivm_vm big;
    cr_assert(ivm_vm_init(&big, (size_t)1 << 30, IVM_ARENA_LAZY));
    ivm_arena *a = big.heap.arena;
    ivm_value keep = list_of(&big, 1600000); /* 51 MB live: a 102 MB budget */
    ivm_root(&big, &keep);
    list_of(&big, 8000000); /* 256 MB of garbage */
    ivm_gc_collect(&big.rt->gc, true);
    uint64_t budget = big.rt->gc.stats.live_bytes * IVM_GC_GROWTH;
    cr_assert_gt(budget, IVM_GC_MIN_BUDGET);
    uint32_t budget_regions = (uint32_t)(budget / IVM_REGION_SIZE) + 1;
    uint32_t min_regions = (uint32_t)(IVM_GC_MIN_BUDGET / IVM_REGION_SIZE) + 1;
    cr_assert_eq(a->free_committed, budget_regions, "%u committed free regions, want %u",
                 a->free_committed, budget_regions);
    /* the same garbage again, then a requested release */
    list_of(&big, 8000000);
    big.rt->gc.release_memory = true;
    ivm_gc_collect(&big.rt->gc, true);
    cr_assert_eq(a->free_committed, min_regions, "%u committed free regions, want %u",
                 a->free_committed, min_regions);
    cr_assert_not(big.rt->gc.release_memory, "a request is served once");
    ivm_vm_destroy(&big);
}

/* ---- The concurrent collector (through the CLI: it needs the scheduler) - */

/* n, as --gc-stats prints it after `label` (-1 if absent). */
static double stat_after(const char *err, const char *label)
{
    const char *at = strstr(err, label);
    return at ? strtod(at + strlen(label), NULL) : -1;
}

/* Half of a 40 MB heap of strings dies, then churn: cycles run back to
 * back, mark beside the program, and evacuate the half-empty regions;
 * verify checks the heap after each one. */
static const char fragmenting[] =
    "(defn build [n] (loop [i 0 v []] (if (< i n)"
    "  (recur (inc i) (conj v (str \"item-\" i \"-\" (apply str (repeat 100 \"x\"))))) v)))"
    "(defn odds [v] (persistent! (reduce (fn [t i] (conj! t (nth v i))) (transient [])"
    "  (range 1 (count v) 2))))"
    "(defn churn [v n] (loop [i 0 acc 0] (if (< i n)"
    "  (recur (inc i) (+ acc (count (str (nth v (mod (* i 7) (count v))) i)))) acc)))"
    "(let [v (odds (build 200000))] [(count v) (churn v 200000) (nth v 99999)])";

Test(gc, concurrent_cycles_mark_and_evacuate_beside_the_program)
{
    t_proc p;
    setenv("IVM_GC_VERIFY", "1", 1);
    setenv("IVM_GC_STRESS", "20000", 1);
    int code = t_ivm(&p, NULL, "--gc=concurrent", "--gc-stats", "-e", fragmenting, NULL);
    unsetenv("IVM_GC_VERIFY");
    unsetenv("IVM_GC_STRESS");
    cr_assert_eq(code, 0, "stderr: %s", p.err);
    cr_assert(strstr(p.out, "[100000 ") && strstr(p.out, " \"item-199999-xxx"), "out: %s", p.out);
    cr_assert_gt(stat_after(p.err, "gc: concurrent cycles: "), 1, "stderr: %s", p.err);
    cr_assert_gt(stat_after(p.err, "gc: evacuated by concurrent cycles: "), 0, "stderr: %s",
                 p.err);
    cr_assert_gt(stat_after(p.err, "gc: verified "), 0, "stderr: %s", p.err);
}

Test(gc, the_stop_the_world_collector_runs_no_cycles)
{
    t_proc p;
    setenv("IVM_GC_STRESS", "20000", 1);
    int code = t_ivm(&p, NULL, "--gc=stw", "--gc-stats", "-e", fragmenting, NULL);
    unsetenv("IVM_GC_STRESS");
    cr_assert_eq(code, 0, "stderr: %s", p.err);
    cr_assert_null(strstr(p.err, "concurrent cycles"), "stderr: %s", p.err);
    cr_assert_gt(stat_after(p.err, "gc: collections: "), 1, "stderr: %s", p.err);
}

/* A value and its copy are one value: compare-and-set! on a shared atom
 * and identical? agree while cycles move what they hold (the program may
 * hold the old copy while the cell holds the new one). */
Test(gc, identity_holds_across_evacuation)
{
    t_proc p;
    setenv("IVM_GC_VERIFY", "1", 1);
    setenv("IVM_GC_STRESS", "3000", 1);
    int code = t_ivm(&p, NULL, "--gc=concurrent", "-e",
                     "(def a (atom nil :shared true))"
                     "(loop [i 0 ok 0] (if (< i 3000)"
                     "  (let [v (vec (range (mod i 50)))]"
                     "    (reset! a v)"
                     "    (dotimes [_ 20] (vec (repeat 30 i)))"
                     "    (recur (inc i) (+ ok (if (and (identical? v @a) (compare-and-set! a v i)) 1 0))))"
                     "  ok))",
                     NULL);
    unsetenv("IVM_GC_VERIFY");
    unsetenv("IVM_GC_STRESS");
    cr_assert_eq(code, 0, "stderr: %s", p.err);
    cr_assert_str_eq(p.out, "3000\n");
}
