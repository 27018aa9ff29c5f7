// A thin C++ wrapper of ivm's C API for the micro-benchmarks: the C
// headers under extern "C", and RAII owners for a heap, a VM and a
// scheduler.
//
// ivm's headers are C11. Three C11 keywords have C++ spellings, given here
// before the headers are read. The headers' inline functions also convert
// void * implicitly (C allows it, C++ does not); bench/CMakeLists.txt
// compiles with -fpermissive and names src/ and include/ as system
// directories, so those conversions compile without a warning.
#ifndef IVM_BENCH_IVM_HPP
#define IVM_BENCH_IVM_HPP

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#define _Noreturn [[noreturn]]
#define _Static_assert static_assert
#define _Alignas alignas
extern "C" {
#include "arena/arena.h"
#include "bytecode/vm.h"
#include "compiler/compile.h"
#include "compiler/core.h"
#include "gc/gc.h"
#include "process/process.h"
#include "values/map.h"
#include "values/value.h"
#include "values/vector.h"
}
#undef _Noreturn
#undef _Static_assert
#undef _Alignas

namespace ivmb {

// Every benchmark gets its own reservation; the arena never frees yet, so
// the reservation is large and what a benchmark allocates is bounded by
// its iteration count.
constexpr size_t kReserve = size_t(8) << 30;

[[noreturn]] inline void die(const char *what)
{
    std::fprintf(stderr, "ivm bench: %s\n", what);
    std::exit(1);
}

// Exact arena bytes handed out so far: retires the bump cursor first, so
// the unused rest of its region (filler) is not counted. The next
// allocation takes a fresh region.
inline uint64_t arena_bytes(ivm_heap *h)
{
    ivm_arena_retire(h->arena, &h->bump);
    return h->arena->bytes_allocated;
}

// Commits the `bytes` of the reservation that the next allocations will
// use (regions are handed out in address order while nothing is freed),
// so that first-touch page faults stay out of the timed loop.
inline void prefault_next(ivm_heap *h, size_t bytes)
{
    char *from = h->bump.ptr ? h->bump.ptr
                             : ivm_arena_region_start(h->arena, h->arena->fresh);
    char *end = h->arena->base + h->arena->bytes;
    if (from + bytes > end)
        bytes = size_t(end - from);
    ivm_platform_prefault(from, bytes);
}

class Heap {
  public:
    explicit Heap(size_t reserve = kReserve, ivm_arena_mode mode = IVM_ARENA_LAZY)
    {
        if (!ivm_heap_init(&h_, reserve, mode))
            die("ivm_heap_init failed");
    }
    ~Heap() { ivm_heap_destroy(&h_); }
    Heap(const Heap &) = delete;
    Heap &operator=(const Heap &) = delete;

    ivm_heap *get() { return &h_; }
    operator ivm_heap *() { return &h_; }
    uint64_t bytes() { return arena_bytes(&h_); }
    void prefault(size_t bytes) { prefault_next(&h_, bytes); }

  private:
    ivm_heap h_;
};

// A VM with the core library and the compiler's natives, as `ivm run`
// sets it up; or, with core false, a bare one (natives only, as the
// collector's tests use it).
class Vm {
  public:
    explicit Vm(size_t reserve = kReserve, ivm_arena_mode mode = IVM_ARENA_LAZY,
                bool core = true)
    {
        if (!ivm_vm_init(&vm_, reserve, mode))
            die("ivm_vm_init failed");
        if (core) {
            ivm_core_install(&vm_);
            ivm_compiler_install(&vm_);
        }
    }
    ~Vm() { ivm_vm_destroy(&vm_); }
    Vm(const Vm &) = delete;
    Vm &operator=(const Vm &) = delete;

    ivm_vm *get() { return &vm_; }
    ivm_heap *heap() { return &vm_.heap; }
    ivm_gc *gc() { return &vm_.rt->gc; }

    // Compiles and loads source text (the module is the VM's: its
    // prototypes are roots). Dies with the error on failure.
    const ivm_module *load(const std::string &src)
    {
        ivm_buf ivc = {}, err = {};
        if (!ivm_compile(&vm_, src.data(), src.size(), "bench", &ivc, &err))
            die(err.data ? err.data : "compile error");
        const ivm_module *module;
        ivm_load_error lerr;
        if (!ivm_load(&vm_, reinterpret_cast<const uint8_t *>(ivc.data), ivc.len,
                      &module, &lerr))
            die(lerr.message);
        ivm_buf_free(&ivc);
        ivm_buf_free(&err);
        return module;
    }

    // Writes the pending error and its trace to stderr, then dies.
    [[noreturn]] void die_with_error(const char *what)
    {
        ivm_buf m = {};
        ivm_format_error(&vm_, &m);
        std::fwrite(m.data, 1, m.len, stderr);
        die(what);
    }

    // Compiles, loads and runs source text; returns the value of its last
    // form. Dies with the error on failure.
    ivm_value eval(const std::string &src)
    {
        const ivm_module *module = load(src);
        ivm_value result;
        if (ivm_call(&vm_, ivm_module_entry(&vm_, module), 0, nullptr, &result) != IVM_OK)
            die_with_error("program failed");
        return result;
    }

  private:
    ivm_vm vm_;
};

// A VM (core library and compiler) with a scheduler of `workers` threads,
// the main one included, as `ivm run --schedulers N` sets it up. Programs
// run as the main process, so spawn, send, receive and fork work.
class Sched {
  public:
    explicit Sched(uint32_t workers = 1)
    {
        if (!ivm_sched_init(&s_, vm_.get(), workers))
            die("ivm_sched_init failed");
    }
    ~Sched() { ivm_sched_destroy(&s_); } // before vm_'s destructor
    Sched(const Sched &) = delete;
    Sched &operator=(const Sched &) = delete;

    Vm &vm() { return vm_; }

    // Runs a loaded module's top level as the main process; returns its
    // value. Dies with the error on failure.
    ivm_value run(const ivm_module *module)
    {
        ivm_value result;
        if (ivm_sched_run_main(&s_, ivm_module_entry(vm_.get(), module), &result) != IVM_OK)
            vm_.die_with_error("program failed");
        return result;
    }
    ivm_value run(const std::string &src) { return run(vm_.load(src)); }

  private:
    Vm vm_;
    ivm_sched s_;
};

// A fast, reproducible stream of indices in [0, n).
class Rng {
  public:
    explicit Rng(uint64_t seed = 0x9e3779b97f4a7c15u) : s_(seed | 1) {}
    uint64_t next()
    {
        s_ ^= s_ << 13;
        s_ ^= s_ >> 7;
        s_ ^= s_ << 17;
        return s_;
    }
    uint64_t below(uint64_t n) { return uint64_t((__uint128_t)(next() >> 32) * n >> 32); }

  private:
    uint64_t s_;
};

} // namespace ivmb

#endif
