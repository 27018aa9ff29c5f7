/* Processes and the scheduler, through programs run as the main process:
 * mailbox order and selective receive, timers in deadline order,
 * preemption, waits held inside natives, fork's constant cost (the stack
 * is frozen, not copied), atoms private and shared, links and monitors,
 * deadlock, the collector with many processes' stacks and mailboxes, and
 * (test_process_mt: the same file on two scheduler threads) work stealing. */
#include <criterion/criterion.h>
#include <string.h>

#include "compiler/compile.h"
#include "compiler/core.h"
#include "process/process.h"
#include "support.h"
#include "values/vector.h"

static ivm_vm vm;
static ivm_sched sched;

/* (test/stack): [depth, frames in the current segment] of the caller. */
static ivm_status n_stack(ivm_vm *v, const ivm_value *args, uint32_t nargs, ivm_value *result)
{
    (void)args, (void)nargs;
    ivm_value items[2] = {ivm_fixnum(ivm_stack_depth(v)), ivm_fixnum(v->nframes)};
    *result = ivm_vec_from(&v->heap, items, 2);
    return IVM_OK;
}
/* (test/worker): the index of the scheduler thread running the caller. */
static ivm_status n_worker(ivm_vm *v, const ivm_value *args, uint32_t nargs, ivm_value *result)
{
    (void)args, (void)nargs;
    *result = ivm_fixnum(ivm_worker_of(v)->index);
    return IVM_OK;
}
static const ivm_native_def test_natives[] = {{"test/stack", n_stack, 0, 0},
                                              {"test/worker", n_worker, 0, 0}};

static void setup(void)
{
    cr_assert(ivm_vm_init(&vm, (size_t)256 << 20, IVM_ARENA_LAZY));
    ivm_core_install(&vm);
    ivm_compiler_install(&vm);
    cr_assert(ivm_sched_init(&sched, &vm, IVM_TEST_SCHEDULERS));
    ivm_vm_add_natives(&vm, test_natives, 2);
}

static void teardown(void)
{
    ivm_sched_destroy(&sched);
    ivm_vm_destroy(&vm);
}

TestSuite(process, .init = setup, .fini = teardown, .timeout = 60);

/* Runs a program as the main process: its value as pr prints it, or
 * "error: MESSAGE". */
static char *run(const char *text)
{
    ivm_buf ivc = {0}, err = {0};
    if (!ivm_compile(&vm, text, strlen(text), "test", &ivc, &err))
        cr_assert_fail("does not compile: %.*s", (int)err.len, err.data);
    const ivm_module *m;
    ivm_load_error le;
    cr_assert(ivm_load(&vm, (const uint8_t *)ivc.data, ivc.len, &m, &le), "%s", le.message);
    ivm_value result;
    ivm_status st = ivm_sched_run_main(&sched, ivm_module_entry(&vm, m), &result);
    ivm_buf_free(&ivc);
    ivm_buf_free(&err);
    if (st == IVM_ERROR)
        return t_fmt("error: %s", t_pr(&vm, vm.error, false));
    cr_assert_eq(st, IVM_OK);
    return t_pr(&vm, result, true);
}

Test(process, mailbox_is_fifo_and_receive_if_leaves_the_rest_in_order)
{
    cr_assert_str_eq(run("(let [me (self)]"
                         "  (dotimes [i 6] (send me i))"
                         "  (let [odd (receive-if odd?) odd2 (receive-if odd?)]"
                         "    [odd odd2 (receive) (receive) (receive) (receive)"
                         "     (receive-if odd? 0 :none) (receive 0 :empty)]))"),
                     "[1 3 0 2 4 5 :none :empty]");
}

Test(process, messages_are_references_not_copies)
{
    /* a 100,000-entry map goes there and back; the same object returns */
    cr_assert_str_eq(run("(let [m (into {} (map (fn [i] [i i]) (range 100000)))"
                         "      me (self)"
                         "      echo (spawn (fn [] (let [[from v] (receive)] (send from v))))]"
                         "  (send echo [me m])"
                         "  (let [back (receive)] [(count back) (= back m)]))"),
                     "[100000 true]");
}

Test(process, timers_wake_sleepers_in_deadline_order)
{
    cr_assert_str_eq(run("(let [me (self)]"
                         "  (doseq [ms [30 10 20]] (spawn (fn [] (sleep ms) (send me ms))))"
                         "  [(receive) (receive) (receive)])"),
                     "[10 20 30]");
}

Test(process, a_busy_loop_does_not_starve_the_others)
{
    cr_assert_str_eq(run("(let [me (self)]"
                         "  (spawn (fn [] (loop [i 0] (recur (inc i)))))"
                         "  (spawn (fn [] (send me (reduce + (range 100000)))))"
                         "  (receive))"),
                     "4999950000");
}

Test(process, a_wait_inside_a_native_callback_runs_the_others)
{
    /* receive inside reduce's function: the process is held while the
     * sender runs */
    cr_assert_str_eq(run("(let [me (self)]"
                         "  (spawn (fn [] (dotimes [i 5] (sleep 1) (send me i))))"
                         "  (reduce (fn [acc _] (+ acc (receive))) 0 (range 5)))"),
                     "10");
}

Test(process, fork_freezes_the_stack_instead_of_copying_it)
{
    /* 5,000 frames deep, fork leaves one frame (the forking one) in the
     * running segment of each process: the rest is shared, frozen */
    cr_assert_str_eq(run("(defn deep [n] (if (zero? n)"
                         "                 (let [child (fork) s (test/stack)]"
                         "                   (if child [:parent s (join child)] [:child s]))"
                         "                 (let [r (deep (dec n))] r)))"
                         "(deep 5000)"),
                     "[:parent [5002 1] [:child [5002 1]]]");
}

Test(process, fork_in_tail_position_returns_in_both)
{
    cr_assert_str_eq(run("(defn f [] (fork))"
                         "(let [c (f)] (if c [:parent (join c)] :child))"),
                     "[:parent :child]");
}

Test(process, fork_inside_a_native_callback_is_an_error)
{
    cr_assert(strstr(run("(mapv (fn [_] (fork)) [1])"), "error: fork inside a function called by a native"));
}

Test(process, private_atoms_are_copied_on_fork_and_refused_to_others)
{
    cr_assert_str_eq(run("(let [a (atom 1) c (fork)]"
                         "  (swap! a + (if c 10 100))"
                         "  (if c [@a (join c)] @a))"),
                     "[11 101]");
    char *r = run("(let [a (atom 1)] (join (spawn (fn [] @a))))");
    cr_assert(strstr(r, "error: atom #atom[") && strstr(r, "only an atom made with (atom v :shared true)"),
              "%s", r);
}

Test(process, shared_atom_loses_no_update)
{
    cr_assert_str_eq(run("(let [a (atom 0 :shared true)"
                         "      ps (mapv (fn [_] (spawn (fn [] (dotimes [_ 2000] (swap! a inc))))) (range 20))]"
                         "  (doseq [p ps] (join p))"
                         "  [@a (compare-and-set! a 40000 7) (compare-and-set! a 40000 8) @a (reset! a 3)])"),
                     "[40000 true false 7 3]");
}

Test(process, idle_workers_steal_runnable_processes)
{
    /* eight busy processes queued on the main thread's worker: with a
     * second worker, it steals some of them (each notes every worker it
     * ran on); with one, all run on worker 0 */
    char *workers = run("(let [ps (mapv (fn [_] (spawn (fn [] (loop [i 0 seen #{}]"
                        "                                 (if (< i 300000) (recur (inc i) (conj seen (test/worker))) seen)))))"
                        "                (range 8))]"
                        "  (vec (sort (reduce into #{} (map join ps)))))");
    cr_assert_str_eq(workers, IVM_TEST_SCHEDULERS == 1 ? "[0]" : "[0 1]");
}

Test(process, links_end_partners_unless_they_trap_exits)
{
    cr_assert_str_eq(run("(let [me (self)"
                         "      victim (spawn (fn [] (receive)))"
                         "      bomb (spawn (fn [] (link victim) (send me :linked) (receive) (throw (ex-info \"boom\" {}))))]"
                         "  (monitor victim)"
                         "  (receive)"
                         "  (send bomb :go)"
                         "  (let [[tag pid reason] (receive)] [tag (= pid victim) (ex-message reason)]))"),
                     "[:down true \"boom\"]");
    cr_assert_str_eq(run("(trap-exits true)"
                         "(let [p (spawn (fn [] (receive) (/ 1 0)))]"
                         "  (link p) (send p :go)"
                         "  (let [[tag pid reason] (receive)] [tag (= pid p) reason]))"),
                     "[:exit true \"Divide by zero\"]");
}

Test(process, deadlock_is_an_error_not_a_hang)
{
    cr_assert_str_eq(run("(receive)"),
                     "error: deadlock: the main process waits and no other process can wake it");
}

Test(process, collections_see_every_process_stack_and_mailbox)
{
    ivm_vm_gc_debug(&vm, true, 0);
    cr_assert_str_eq(run("(let [me (self)"
                         "      ps (mapv (fn [i] (spawn (fn [] (let [v (vec (range i))] (receive) (send me (count v))))))"
                         "                (range 200))]"
                         "  (dotimes [i 200] (send me (vec (range i))))"
                         "  (ivm/gc)"
                         "  (let [mine (reduce + (map (fn [_] (count (receive))) (range 200)))]"
                         "    (doseq [p ps] (send p :go))"
                         "    (ivm/gc)"
                         "    [mine (reduce + (map (fn [_] (receive)) (range 200)))]))"),
                     "[19900 19900]");
    ivm_vm_gc_debug(&vm, false, 0);
}
