// Whole-program micro-benchmarks: compile and run small ivm Lisp snippets
// in a VM set up as `ivm run` sets it up, and the set-up itself.
#include <cstring>

#include "common.hpp"

using namespace ivmb;

namespace {

// Naive Fibonacci: calls and integer arithmetic. Its value is 2583 (the
// sum of fib 0..16).
const char kFib[] =
    "(defn fib [n] (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))\n"
    "(reduce + (map fib (range 17)))\n";

// Collections: a vector by mapv, a map by frequencies, a filter and a sum.
// Its value is 4 + 161700 = 161704. (fn [x] ...), not #(...), which the
// reader lacked when this was written.
const char kColl[] =
    "(let [v (mapv (fn [x] (* x x)) (range 100))\n"
    "      f (frequencies (map (fn [x] (mod x 7)) v))]\n"
    "  (+ (count f) (reduce + (filter even? v))))\n";

const char *snippet(int64_t which) { return which == 0 ? kFib : kColl; }
const char *snippet_name(int64_t which) { return which == 0 ? "fib" : "collections"; }
int64_t snippet_value(int64_t which) { return which == 0 ? 2583 : 161704; }

// Compiles the snippet to bytecode, loads (verifies) it and runs it, in
// one VM; every iteration compiles afresh.
void CompileRun(benchmark::State &state)
{
    Vm vm;
    const char *src = snippet(state.range(0));
    state.SetLabel(snippet_name(state.range(0)));
    uint64_t before = arena_bytes(vm.heap());
    for (auto _ : state) {
        ivm_value v = vm.eval(src);
        if (!ivm_is_fixnum(v) || ivm_fixnum_value(v) != snippet_value(state.range(0)))
            die("compile-run: wrong value");
    }
    bytes_per_op(state, vm.heap(), before);
}
BENCHMARK(CompileRun)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->Iterations(3000);

// Compiling alone: source text to .ivc bytes, neither loaded nor run.
void Compile(benchmark::State &state)
{
    Vm vm;
    const char *src = snippet(state.range(0));
    state.SetLabel(snippet_name(state.range(0)));
    size_t len = std::strlen(src);
    for (auto _ : state) {
        ivm_buf ivc = {}, err = {};
        if (!ivm_compile(vm.get(), src, len, "bench", &ivc, &err))
            die("compile failed");
        benchmark::DoNotOptimize(ivc.data);
        ivm_buf_free(&ivc);
        ivm_buf_free(&err);
    }
}
BENCHMARK(Compile)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->Iterations(3000);

// A VM from nothing to ready: heap reservation (1 GiB, the CLI's
// default), natives, core library and prelude; then torn down.
void VmInit(benchmark::State &state)
{
    for (auto _ : state) {
        Vm vm(IVM_DEFAULT_HEAP_BYTES, IVM_ARENA_LAZY);
        benchmark::DoNotOptimize(vm.get());
    }
}
BENCHMARK(VmInit)->Unit(benchmark::kMicrosecond);

} // namespace
