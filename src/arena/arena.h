/* Arena: the one reservation every value lives in.
 *
 * The arena reserves one range of address space up front (--heap, 1 GiB by
 * default) without committing it, and cuts it into fixed-size regions. A
 * region table records, per region, its state and the live bytes the last
 * collection found in it. Small objects are bump-allocated from the region a
 * bump cursor owns; an object larger than a quarter region gets a span of
 * whole regions of its own (large objects are never moved).
 *
 * Invariants the collector relies on:
 *  - every object starts with an 8-byte header holding its size in words, so
 *    a region can be walked from its start to its `used` mark;
 *  - the space a cursor leaves unused when it moves to a new region is
 *    covered by a filler object (type IVM_FILLER_TYPE), so walks never need
 *    to know where a cursor stopped;
 *  - a region in state FREE holds no object; it stays committed (so that
 *    reusing it costs no page faults) until ivm_arena_trim returns it;
 *  - a region's `used` is IVM_REGION_SIZE once it is FULL, and the bytes
 *    below a cursor's ptr while it is ALLOCATING (see ivm_arena_used).
 *
 * Exhaustion is reported through the arena's out-of-memory hook, which the
 * VM sets; it does not return. */
#ifndef IVM_ARENA_H
#define IVM_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ivm/platform.h"

#define IVM_REGION_SHIFT 18u                     /* 256 KiB regions */
#define IVM_REGION_SIZE ((size_t)1 << IVM_REGION_SHIFT)
#define IVM_LARGE_OBJECT_BYTES (IVM_REGION_SIZE / 4)
#define IVM_DEFAULT_HEAP_BYTES ((size_t)1 << 30)
#define IVM_MIN_HEAP_BYTES ((size_t)16 << 20)
/* The header word's type byte for filler objects (see values/value.h). */
#define IVM_FILLER_TYPE 0xffu

typedef enum ivm_region_state {
    IVM_REGION_FREE,       /* holds nothing; physical pages may be released */
    IVM_REGION_ALLOCATING, /* a bump cursor is filling it */
    IVM_REGION_FULL,       /* filled; walkable up to `used` */
    IVM_REGION_EVACUATING, /* being emptied by the collector */
    IVM_REGION_LARGE,      /* first region of a large object's span */
    IVM_REGION_LARGE_TAIL, /* later regions of that span */
} ivm_region_state;

typedef struct ivm_region {
    uint8_t state;       /* ivm_region_state */
    bool committed;      /* FREE: its memory is still backed (see trim) */
    uint32_t used;       /* bytes from the region start holding objects */
    uint32_t live_bytes; /* found live by the last mark */
    uint32_t span;       /* IVM_REGION_LARGE: regions in the span */
    uint32_t born;       /* the arena's cycle when a cursor took it */
} ivm_region;

/* A bump cursor: [ptr, end) is free space in one region. The fast path
 * allocates below `limit`, which is `end` except in stress mode, where it
 * is kept at `ptr` so that every allocation takes the slow path (and is
 * counted there). */
typedef struct ivm_bump {
    char *ptr;
    char *limit;
    char *end;
    uint32_t region; /* index of the region the cursor fills, or UINT32_MAX */
    /* The regions (and large spans) this cursor took while a concurrent
     * cycle runs, since the arena's cycle last changed (or the collector
     * restarted the list), its current one included: a handshake traces
     * or fixes what its thread built since. */
    uint32_t *since;
    uint32_t nsince, since_cap;
    uint32_t since_done; /* the collector's walks are done with since[0..] */
    uint32_t since_off;  /* and with since[since_done]'s first bytes */
    uint32_t since_cycle;
    uint32_t taken; /* regions this cursor has taken, ever (wraps around) */
} ivm_bump;

/* How the arena's memory is committed. First touch of a fresh page costs
 * about 10 us on the VMs this was measured on; bench/arena-modes measures
 * what the alternatives buy. */
typedef enum ivm_arena_mode {
    IVM_ARENA_LAZY,     /* pages committed by the host on first touch */
    IVM_ARENA_HUGE,     /* as LAZY, with the host asked for huge pages */
    IVM_ARENA_PREFAULT, /* a region's pages committed when a cursor takes it */
} ivm_arena_mode;

typedef void (*ivm_oom_hook)(void *context, size_t heap_bytes);

typedef struct ivm_arena {
    char *base;
    size_t bytes;
    uint32_t nregions;
    ivm_region *regions;
    uint32_t fresh;      /* regions at and above this were never handed out */
    uint32_t *free_list; /* indices of FREE regions below `fresh`: reused
                            last-freed first, so the committed ones first */
    uint32_t nfree;
    uint32_t free_committed; /* FREE regions still committed */
    uint64_t bytes_allocated; /* total handed out, filler excluded */
    uint32_t regions_in_use;
    uint32_t regions_high_water;
    ivm_arena_mode mode;
    ivm_oom_hook oom;
    void *oom_context;

    /* When to collect. The allocator never collects itself (only a
     * safepoint may: the collector must know every root); it raises
     * collect_requested, which the next safepoint sees, once
     * bytes_allocated passes collect_at, once fewer than reserve_regions
     * free regions are left, or (stress mode) every stress_every
     * allocations. Checked on the slow path only. */
    uint64_t collect_at;
    uint32_t reserve_regions;
    uint32_t stress_every; /* 0: off */
    uint32_t stress_count;
    bool collect_requested; /* read and written atomically: see below */
    bool collecting; /* the collector's own copies: no accounting, no requests */
    /* The collector's cycle count (written under the lock): a region or
     * span records it when taken (ivm_region.born). */
    uint32_t cycle;
    /* A concurrent cycle marks: the mutators' barriers are on (atomic). */
    bool marking;
    /* A concurrent cycle marks or evacuates: transients' nodes are copied
     * instead of edited in place (atomic). */
    bool no_edits;
    /* Guards everything above but base, bytes, nregions and mode (fixed)
     * and collect_requested (atomic), for the slow path: cursors belong to
     * their threads and the fast path takes no lock. The collector runs
     * with every other thread stopped and needs no lock. */
    ivm_mutex *lock;
} ivm_arena;

/* Every safepoint reads this: a relaxed load, one plain read. */
/* Bytes b's thread built that its `since` walks have not yet been over:
 * more than `bytes`? (Full regions left behind count whole.) */
static inline bool ivm_arena_since_pending(const ivm_bump *b, size_t bytes)
{
    if (b->nsince > b->since_done + 1)
        return true;
    if (b->nsince == b->since_done || b->since[b->since_done] != b->region || !b->ptr)
        return false;
    size_t filled = IVM_REGION_SIZE - (size_t)(b->end - b->ptr);
    return filled > b->since_off + bytes;
}

static inline bool ivm_arena_collect_requested(const ivm_arena *a)
{
    return __atomic_load_n(&a->collect_requested, __ATOMIC_RELAXED);
}
static inline void ivm_arena_request_collection(ivm_arena *a)
{
    __atomic_store_n(&a->collect_requested, true, __ATOMIC_RELAXED);
}
static inline void ivm_arena_clear_request(ivm_arena *a)
{
    __atomic_store_n(&a->collect_requested, false, __ATOMIC_RELAXED);
}


/* Reserves `bytes` (rounded up to whole regions), aligned to 2 MiB so that
 * huge pages can back it. False if the host refuses the reservation. */
bool ivm_arena_init(ivm_arena *a, size_t bytes, ivm_arena_mode mode);
void ivm_arena_destroy(ivm_arena *a);
void ivm_arena_set_oom_hook(ivm_arena *a, ivm_oom_hook hook, void *context);

void *ivm_arena_alloc_slow(ivm_arena *a, ivm_bump *b, size_t bytes);
/* The slow path without stress-mode counting: a fresh region or span. */
void *ivm_arena_alloc_slow_region(ivm_arena *a, ivm_bump *b, size_t bytes);

/* Allocates `bytes` (a multiple of 8, at least 8) of uninitialised memory.
 * The fast path is one compare and one pointer increment: for the fixed
 * sizes most objects have, the compiler folds the large-object test away. */
static inline void *ivm_arena_alloc(ivm_arena *a, ivm_bump *b, size_t bytes)
{
    IVM_ASSERT(bytes >= 8 && bytes % 8 == 0);
    char *p = b->ptr;
    if (bytes <= IVM_LARGE_OBJECT_BYTES && (size_t)(b->limit - p) >= bytes) {
        b->ptr = p + bytes;
        return p;
    }
    return ivm_arena_alloc_slow(a, b, bytes);
}

/* Gives the rest of the cursor's region back as filler; the cursor is
 * empty afterwards. Called before walking the heap and at shutdown. */
void ivm_arena_retire(ivm_arena *a, ivm_bump *b);
/* Retires b and starts its `since` list again, empty. */
void ivm_arena_restart_since(ivm_arena *a, ivm_bump *b);
/* Frees the cursor's `since` list (its region stays as it is). */
void ivm_arena_bump_destroy(ivm_bump *b);
/* Starts cycle `c`: regions taken from now on have born == c. */
void ivm_arena_set_cycle(ivm_arena *a, uint32_t c);

/* Turns stress mode on (every > 0) or off for allocations made through b
 * from now on: a collection is requested every `every` allocations. */
void ivm_arena_set_stress(ivm_arena *a, ivm_bump *b, uint32_t every);

/* Regions neither free nor never used. */
static inline uint32_t ivm_arena_free_regions(const ivm_arena *a)
{
    /* atomic: read without the lock (ivm/memory, the concurrent
     * collector's heuristics), written under it */
    return a->nregions - __atomic_load_n(&a->regions_in_use, __ATOMIC_RELAXED);
}

/* Whether fewer than half of the regions the growth policy keeps back are
 * free (the concurrent collector's mutators then wait for its cycle). */
bool ivm_arena_short(ivm_arena *a);

/* Returns a region (or a large span starting at `index`) to the free list,
 * still committed. The collector's business. */
void ivm_arena_free_region(ivm_arena *a, uint32_t index);
/* Gives the memory of free regions back to the host, longest-free first,
 * until at most `keep` free regions stay committed. */
void ivm_arena_trim(ivm_arena *a, uint32_t keep);

/* The end of the objects in region i: the cursor's ptr while b fills it. */
static inline char *ivm_arena_used_end(const ivm_arena *a, const ivm_bump *b, uint32_t i)
{
    char *start = a->base + ((size_t)i << IVM_REGION_SHIFT);
    if (b && b->region == i && b->ptr)
        return b->ptr;
    return start + a->regions[i].used;
}

static inline bool ivm_arena_contains(const ivm_arena *a, const void *p)
{
    return (const char *)p >= a->base && (const char *)p < a->base + a->bytes;
}

static inline uint32_t ivm_arena_region_of(const ivm_arena *a, const void *p)
{
    return (uint32_t)(((const char *)p - a->base) >> IVM_REGION_SHIFT);
}

static inline char *ivm_arena_region_start(const ivm_arena *a, uint32_t i)
{
    return a->base + ((size_t)i << IVM_REGION_SHIFT);
}

/* Parses a size such as "512M", "1G", "4G", "65536" (bytes) or "64K".
 * False for anything else or for sizes below IVM_MIN_HEAP_BYTES. */
bool ivm_arena_parse_size(const char *text, size_t *out);

#endif
