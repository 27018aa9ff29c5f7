/* The collector: mark bitmap, marking, region selection, evacuation with
 * forwarding, reference fixing, the growth policy and statistics. The
 * verifier lives in verify.c. See gc.h for the phases and invariants. */
#include "gc/gc.h"

#include "ivm/platform.h"
#include "values/map.h"
#include "values/vector.h"

#define SLICE_BYTES (IVM_REGION_SIZE / 64) /* mark bits of one region */

enum { MODE_MARK, MODE_FIX, MODE_VERIFY };

/* ---- The mark bitmap --------------------------------------------------- */

static inline size_t word_of(const ivm_gc *gc, const void *p)
{
    return (size_t)((const char *)p - gc->heap->arena->base) >> 3;
}

static inline bool is_marked(const ivm_gc *gc, const void *p)
{
    size_t w = word_of(gc, p);
    return gc->marks[w >> 3] & (1u << (w & 7));
}

/* Sets the bit; false if it was set already. */
static inline bool set_mark(ivm_gc *gc, const void *p)
{
    size_t w = word_of(gc, p);
    uint8_t bit = (uint8_t)(1u << (w & 7));
    if (gc->marks[w >> 3] & bit)
        return false;
    gc->marks[w >> 3] |= bit;
    return true;
}

static void clear_slice(ivm_gc *gc, uint32_t region)
{
    memset(gc->marks + (size_t)region * SLICE_BYTES, 0, SLICE_BYTES);
}

bool ivm_gc_is_marked(const ivm_gc *gc, ivm_value v)
{
    return ivm_is_obj(v) && ivm_arena_contains(gc->heap->arena, (void *)(uintptr_t)v) &&
           is_marked(gc, (void *)(uintptr_t)v);
}

/* ---- Set-up ------------------------------------------------------------ */

bool ivm_gc_init(ivm_gc *gc, ivm_heap *heap)
{
    memset(gc, 0, sizeof *gc);
    gc->heap = heap;
    ivm_arena *a = heap->arena;
    gc->marks_bytes = (size_t)a->nregions * SLICE_BYTES;
    gc->marks = ivm_platform_reserve(gc->marks_bytes, ivm_platform_page_size());
    gc->stack_cap = 1u << 14;
    gc->stack = ivm_platform_malloc(gc->stack_cap * sizeof *gc->stack);
    gc->evacuating = ivm_platform_calloc(a->nregions, sizeof *gc->evacuating);
    gc->evac_index = ivm_platform_malloc(a->nregions * sizeof *gc->evac_index);
    if (gc->evac_index)
        memset(gc->evac_index, 0xff, a->nregions * sizeof *gc->evac_index);
    gc->to_regions = ivm_platform_calloc(a->nregions, sizeof *gc->to_regions);
    gc->kept = ivm_platform_calloc(a->nregions, sizeof *gc->kept);
    gc->to.region = UINT32_MAX;
    gc->black = IVM_GC_NO_BLACK;
    gc->inbox_lock = ivm_platform_mutex_new();
    if (!gc->marks || !gc->stack || !gc->evacuating || !gc->to_regions || !gc->kept ||
        !gc->inbox_lock || !gc->evac_index) {
        ivm_gc_destroy(gc);
        return false;
    }
    a->collect_at = IVM_GC_MIN_BUDGET;
    gc->reserve_regions = a->nregions / 16 > 2 ? a->nregions / 16 : 2;
    a->reserve_regions = gc->reserve_regions;
    return true;
}

void ivm_gc_destroy(ivm_gc *gc)
{
    if (gc->marks)
        ivm_platform_release(gc->marks, gc->marks_bytes);
    ivm_platform_free(gc->stack);
    ivm_platform_free(gc->evacuating);
    ivm_platform_free(gc->to_regions);
    ivm_platform_free(gc->kept);
    ivm_arena_bump_destroy(&gc->to);
    ivm_platform_free(gc->inbox);
    ivm_platform_free(gc->spare);
    ivm_platform_free(gc->evac_index);
    ivm_platform_free(gc->evac_to);
    if (gc->inbox_lock)
        ivm_platform_mutex_free(gc->inbox_lock);
    memset(gc, 0, sizeof *gc);
}

bool ivm_gc_init_visitor(ivm_gc *v, ivm_gc *collector)
{
    memset(v, 0, sizeof *v);
    v->heap = collector->heap;
    v->handoff = true;
    v->collector = collector;
    v->black = IVM_GC_NO_BLACK;
    v->stack_cap = 256;
    v->stack = ivm_platform_malloc(v->stack_cap * sizeof *v->stack);
    return v->stack != NULL;
}

void ivm_gc_destroy_visitor(ivm_gc *v)
{
    ivm_platform_free(v->stack);
    memset(v, 0, sizeof *v);
}

void ivm_gc_set_roots(ivm_gc *gc, ivm_gc_roots_fn roots, void *context)
{
    gc->roots = roots;
    gc->roots_context = context;
}

void ivm_gc_set_stress(ivm_gc *gc, uint32_t every)
{
    ivm_arena_set_stress(gc->heap->arena, &gc->heap->bump, every);
}

static void cfix_slot(ivm_gc *v, ivm_value *slot);
static void walk_since(ivm_gc *v, ivm_bump *b, void (*fn)(ivm_gc *, char *, char *));

/* ---- Marking ----------------------------------------------------------- */

static void push(ivm_gc *gc, ivm_value v)
{
    if (gc->stack_len == gc->stack_cap) {
        size_t cap = gc->stack_cap * 2;
        ivm_value *s = ivm_platform_realloc(gc->stack, cap * sizeof *s);
        if (!s) {
            ivm_platform_write(IVM_STDERR, "ivm: out of memory for the collector's mark stack\n", 51);
            ivm_platform_exit(70);
        }
        gc->stack = s;
        gc->stack_cap = cap;
    }
    gc->stack[gc->stack_len++] = v;
}

/* Sets the object's bit and stacks it, without reading it: its header is
 * read later (drain), once a prefetch has had time to bring it in. */
static inline bool is_black(const ivm_gc *gc, const void *o)
{
    const ivm_arena *a = gc->heap->arena;
    return a->regions[ivm_arena_region_of(a, o)].born == gc->black;
}

static inline void mark_value(ivm_gc *gc, ivm_value v)
{
    if (!ivm_is_obj(v))
        return;
    ivm_header *o = ivm_obj_header(v);
    IVM_ASSERT(ivm_arena_contains(gc->heap->arena, o));
    if (gc->black != IVM_GC_NO_BLACK && is_black(gc, o))
        return;
    if (!set_mark(gc, o))
        return;
    push(gc, v);
}

/* Scans the stacked objects. Each popped object waits in a small ring
 * while PREFETCH_AHEAD others are fetched, so that reading its header is
 * rarely a cache miss (which, one per object, was most of marking). */
#define PREFETCH_AHEAD 8
static void drain(ivm_gc *gc)
{
    ivm_arena *a = gc->heap->arena;
    ivm_value ring[PREFETCH_AHEAD];
    unsigned head = 0, waiting = 0;
    for (;;) {
        if (gc->stack_len && waiting < PREFETCH_AHEAD) {
            ivm_value v = gc->stack[--gc->stack_len];
            __builtin_prefetch(ivm_obj_header(v));
            ring[(head + waiting++) % PREFETCH_AHEAD] = v;
            continue;
        }
        if (waiting == 0)
            break;
        ivm_header *o = ivm_obj_header(ring[head]);
        head = (head + 1) % PREFETCH_AHEAD;
        waiting--;
        ivm_header h = *o;
        IVM_ASSERT(ivm_kind_is_value(h & 0xff));
        uint32_t bytes = ivm_header_words(h) * 8u;
        if (bytes <= IVM_LARGE_OBJECT_BYTES) /* else alone in a span */
            a->regions[ivm_arena_region_of(a, o)].live_bytes += bytes;
        gc->stats.live_bytes += bytes;
        /* An atom's cell, a lazy node or a transient may be stored to
         * meanwhile; what they store is published with release stores. */
        IVM_GC_FOR_EACH_SLOT(o, slot, mark_value(gc, __atomic_load_n(slot, __ATOMIC_ACQUIRE)));
    }
}

/* ---- Evacuation -------------------------------------------------------- */

static inline bool in_evacuating(const ivm_gc *gc, ivm_value v)
{
    const ivm_arena *a = gc->heap->arena;
    return ivm_is_obj(v) &&
           a->regions[ivm_arena_region_of(a, (void *)(uintptr_t)v)].state ==
               IVM_REGION_EVACUATING;
}

/* The copy of v (an object in an evacuating region), made on first sight.
 * The old header becomes IVM_K_FORWARDED with the copy's address above
 * the kind byte (arena addresses fit in 56 bits). */
static ivm_value forward(ivm_gc *gc, ivm_value v)
{
    ivm_header *o = ivm_obj_header(v);
    ivm_header h = *o;
    if ((h & 0xff) == IVM_K_FORWARDED)
        return (ivm_value)(h >> 8);
    ivm_arena *a = gc->heap->arena;
    size_t bytes = (size_t)ivm_header_words(h) * 8;
    ivm_header *copy = ivm_arena_alloc(a, &gc->to, bytes);
    if (gc->nto == 0 || gc->to_regions[gc->nto - 1] != gc->to.region)
        gc->to_regions[gc->nto++] = gc->to.region;
    memcpy(copy, o, bytes);
    set_mark(gc, copy);
    a->regions[gc->to.region].live_bytes += (uint32_t)bytes;
    IVM_ASSERT(((uint64_t)(uintptr_t)copy >> 56) == 0);
    *o = IVM_K_FORWARDED | ((uint64_t)(uintptr_t)copy << 8);
    gc->stats.bytes_copied += bytes;
    gc->stats.objects_copied++;
    return (ivm_value)(uintptr_t)copy;
}

static inline void fix_slot(ivm_gc *gc, ivm_value *slot)
{
    if (in_evacuating(gc, *slot))
        *slot = forward(gc, *slot);
}

static void fix_object(ivm_gc *gc, ivm_header *o)
{
    IVM_GC_FOR_EACH_SLOT(o, slot, fix_slot(gc, slot));
}

/* Fixes the live objects of the regions kept in place (gc->kept). */
static void fix_kept_regions(ivm_gc *gc)
{
    ivm_arena *a = gc->heap->arena;
    for (uint32_t k = 0; k < gc->nkept; k++) {
        uint32_t i = gc->kept[k];
        ivm_region *r = &a->regions[i];
        char *p = ivm_arena_region_start(a, i);
        if (r->state == IVM_REGION_LARGE) {
            fix_object(gc, (ivm_header *)p);
            continue;
        }
        if (r->live_bytes == 0)
            continue;
        char *end = ivm_arena_used_end(a, &gc->heap->bump, i);
        while (p < end) {
            ivm_header *o = (ivm_header *)p;
            if (is_marked(gc, o))
                fix_object(gc, o);
            p += (size_t)ivm_header_words(*o) * 8;
        }
    }
}

/* Cheney's scan over the copies: they are all live, and fixing them may
 * copy more, which lands behind the scan. */
static void fix_copies(ivm_gc *gc)
{
    ivm_arena *a = gc->heap->arena;
    for (uint32_t k = 0; k < gc->nto; k++) {
        uint32_t region = gc->to_regions[k];
        char *p = ivm_arena_region_start(a, region);
        for (;;) {
            char *end = gc->to.region == region
                            ? gc->to.ptr
                            : ivm_arena_region_start(a, region) + a->regions[region].used;
            if (p >= end)
                break;
            ivm_header *o = (ivm_header *)p;
            p += (size_t)ivm_header_words(*o) * 8;
            if ((*o & 0xff) != IVM_K_FILLER)
                fix_object(gc, o);
        }
    }
}

/* ---- Selection --------------------------------------------------------- */

static void free_region(ivm_gc *gc, uint32_t i)
{
    clear_slice(gc, i);
    ivm_arena_free_region(gc->heap->arena, i);
    gc->stats.regions_freed++;
}

/* The regions whose live objects stay where they are, listed before any
 * copy is made (copies may land in regions freed just now). */
static void list_kept(ivm_gc *gc, uint32_t nregions)
{
    ivm_arena *a = gc->heap->arena;
    gc->nkept = 0;
    for (uint32_t i = 0; i < nregions; i++)
        if (a->regions[i].state == IVM_REGION_FULL || a->regions[i].state == IVM_REGION_LARGE ||
            a->regions[i].state == IVM_REGION_ALLOCATING)
            gc->kept[gc->nkept++] = i;
}

/* Frees what holds nothing live; when moving, picks the sparse regions to
 * evacuate, sparsest first, as many as the free regions can take (a
 * quarter of a region's room is held back for the space a copy leaves at
 * a region's end). */
static void select_regions(ivm_gc *gc, uint32_t nregions, bool may_move)
{
    ivm_arena *a = gc->heap->arena;
    gc->nevacuating = 0;
    for (uint32_t i = 0; i < nregions; i++) {
        ivm_region *r = &a->regions[i];
        if ((r->state == IVM_REGION_FULL && r->live_bytes == 0) ||
            (r->state == IVM_REGION_LARGE && !is_marked(gc, ivm_arena_region_start(a, i))))
            free_region(gc, i);
    }
    if (!may_move)
        return;
    enum { BUCKETS = 16 };
    uint64_t room = (uint64_t)ivm_arena_free_regions(a) * (IVM_REGION_SIZE / 4 * 3);
    uint64_t limit = (uint64_t)IVM_REGION_SIZE * IVM_GC_EVACUATE_PCT / 100;
    for (unsigned b = 0; b < BUCKETS; b++) {
        for (uint32_t i = 0; i < nregions; i++) {
            ivm_region *r = &a->regions[i];
            if (r->state != IVM_REGION_FULL || r->live_bytes > limit ||
                (uint64_t)r->live_bytes * BUCKETS / IVM_REGION_SIZE != b)
                continue;
            if (r->live_bytes > room)
                goto done;
            room -= r->live_bytes;
            r->state = IVM_REGION_EVACUATING;
            gc->evacuating[gc->nevacuating++] = i;
        }
    }
done:
    list_kept(gc, nregions);
}

static void evacuate(ivm_gc *gc)
{
    ivm_arena *a = gc->heap->arena;
    uint64_t allocated = a->bytes_allocated; /* copies are not allocation */
    a->collecting = true;
    gc->nto = 0;
    gc->fixing = true;
    ivm_gc_visit_roots(gc);
    fix_kept_regions(gc);
    fix_copies(gc);
    gc->fixing = false;
    ivm_arena_retire(a, &gc->to);
    a->collecting = false;
    a->bytes_allocated = allocated;
    for (uint32_t k = 0; k < gc->nevacuating; k++)
        free_region(gc, gc->evacuating[k]);
    gc->stats.regions_evacuated += gc->nevacuating;
}

/* ---- Policy and statistics --------------------------------------------- */

static unsigned pause_bucket(uint64_t ns)
{
    if (ns < 8)
        return (unsigned)ns;
    unsigned e = 63u - (unsigned)__builtin_clzll(ns);
    return (e - 2) * 8 + (unsigned)((ns >> (e - 3)) & 7);
}

static uint64_t bucket_floor(unsigned b)
{
    if (b < 8)
        return b;
    unsigned e = b / 8 + 2;
    return (uint64_t)(8 + b % 8) << (e - 3);
}

/* Collect again once the program has allocated GROWTH times what is live
 * (at least MIN_BUDGET), but early enough to leave the reserve free. */
static void set_next_collection(ivm_gc *gc)
{
    ivm_arena *a = gc->heap->arena;
    uint64_t budget = gc->stats.live_bytes * IVM_GC_GROWTH;
    if (budget < IVM_GC_MIN_BUDGET)
        budget = IVM_GC_MIN_BUDGET;
    uint64_t free_bytes = (uint64_t)ivm_arena_free_regions(a) * IVM_REGION_SIZE;
    uint64_t reserve = (uint64_t)gc->reserve_regions * IVM_REGION_SIZE;
    uint64_t room = free_bytes > reserve ? free_bytes - reserve : 0;
    /* A concurrent cycle needs room for what the program allocates while
     * it runs: it starts when half of the room is left. */
    if (gc->black != IVM_GC_NO_BLACK)
        room /= 2;
    if (budget > room)
        budget = room > IVM_REGION_SIZE ? room : IVM_REGION_SIZE;
    a->collect_at = a->bytes_allocated + budget;
    /* Short of the reserve, collect again when half of what is free now
     * is gone, not at every region: the program progresses, and the heap
     * runs out only after a collection found nothing more to free. */
    uint32_t free_regions = ivm_arena_free_regions(a);
    a->reserve_regions = gc->reserve_regions < free_regions / 2 ? gc->reserve_regions
                                                                 : free_regions / 2;
    /* Free regions for the next budget stay committed: the program will
     * fill them before the next collection, and faulting them back in
     * would cost more than the collection itself (gc_churn, 200 MB live:
     * 28 s of system time in 93 s against 4 s in 65 s). The rest goes back
     * to the host; all but the minimum budget when the program asked
     * (ivm/gc, like Go's FreeOSMemory). */
    uint64_t keep = gc->release_memory ? IVM_GC_MIN_BUDGET : budget;
    gc->release_memory = false;
    ivm_arena_trim(a, (uint32_t)(keep / IVM_REGION_SIZE) + 1);
}

void ivm_gc_collect(ivm_gc *gc, bool may_move)
{
    uint64_t start = ivm_platform_now_ns();
    ivm_arena *a = gc->heap->arena;
    ivm_arena_clear_request(a);
    gc->black = IVM_GC_NO_BLACK;
    ivm_arena_set_cycle(a, ++gc->cycle);
    uint32_t nregions = a->fresh; /* copies go to new regions: not walked */
    for (uint32_t i = 0; i < nregions; i++) {
        ivm_region *r = &a->regions[i];
        if (r->state == IVM_REGION_FULL || r->state == IVM_REGION_LARGE ||
            r->state == IVM_REGION_ALLOCATING)
            clear_slice(gc, i);
        r->live_bytes = 0;
    }

    gc->stats.live_bytes = 0;
    ivm_gc_visit_roots(gc);
    drain(gc);

    select_regions(gc, nregions, may_move);
    if (gc->nevacuating)
        evacuate(gc);
    set_next_collection(gc);

    uint64_t pause = ivm_platform_now_ns() - start;
    gc->stats.collections++;
    gc->stats.moving_collections += may_move;
    gc->stats.pause_total_ns += pause;
    if (pause > gc->stats.pause_max_ns)
        gc->stats.pause_max_ns = pause;
    gc->stats.pause_histogram[pause_bucket(pause)]++;

    if (gc->verify)
        ivm_gc_verify_or_exit(gc, "collection", gc->stats.collections);
}

void ivm_gc_verify_or_exit(ivm_gc *gc, const char *after, uint64_t n)
{
    char why[200];
    if (ivm_gc_verify(gc, why, sizeof why))
        return;
    ivm_buf m = {0};
    ivm_buf_add_cstr(&m, "ivm: heap verification failed after ");
    ivm_buf_add_cstr(&m, after);
    ivm_buf_add_char(&m, ' ');
    ivm_buf_add_int(&m, (int64_t)n);
    ivm_buf_add_cstr(&m, ": ");
    ivm_buf_add_cstr(&m, why);
    ivm_buf_add_char(&m, '\n');
    ivm_platform_write(IVM_STDERR, m.data, m.len);
    ivm_platform_exit(70);
}

/* ---- Concurrent evacuation (gc.h) -------------------------------------- */

#define EVAC_BLOCK 512u
#define EVAC_BLOCKS (IVM_REGION_SIZE / EVAC_BLOCK)

static inline uint32_t evac_index_of(const ivm_gc *gc, const void *p)
{
    const ivm_arena *a = gc->heap->arena;
    /* atomic: the barriers read it while the collector sets it up and
     * clears it (they then look up addresses outside it: a settled
     * evacuation leaves no thread an old reference) */
    return ivm_arena_contains(a, p)
               ? __atomic_load_n(&gc->evac_index[ivm_arena_region_of(a, p)], __ATOMIC_RELAXED)
               : UINT32_MAX;
}

ivm_value ivm_gc_forward(const ivm_gc *gc, ivm_value v)
{
    if (!ivm_is_obj(v))
        return v;
    const char *o = (const char *)(uintptr_t)v;
    uint32_t e = evac_index_of(gc, o);
    if (e == UINT32_MAX)
        return v;
    const ivm_arena *a = gc->heap->arena;
    const char *start = ivm_arena_region_start(a, ivm_arena_region_of(a, o));
    size_t block = (size_t)(o - start) / EVAC_BLOCK;
    char *to = gc->evac_to[(size_t)e * EVAC_BLOCKS + block];
    /* the live objects starting in the block before o, in order */
    for (const char *p = start + block * EVAC_BLOCK; p < o; p += 8)
        if (is_marked(gc, p))
            to += (size_t)ivm_header_words(*(const ivm_header *)p) * 8;
    IVM_ASSERT(to && is_marked(gc, o));
    return (ivm_value)(uintptr_t)to;
}

/* Objects whose words a program may still change: they must stay where
 * programs find them. */
static bool is_mutable(const ivm_header *o)
{
    switch (*o & 0xff) {
    case IVM_K_ATOM:
        return ((const ivm_atom *)o)->shared;
    case IVM_K_LAZY:
        return __atomic_load_n(&((const ivm_lazy *)o)->thunk, __ATOMIC_ACQUIRE) != IVM_NIL;
    case IVM_K_VEC_TRANSIENT:
    case IVM_K_MAP_TRANSIENT:
    case IVM_K_SET_TRANSIENT:
        return true;
    default:
        return false;
    }
}

/* Whether region i may be evacuated: no live mutable object, and no live
 * object so large that a block's copies would not fit a region's quarter. */
static bool evacuable(ivm_gc *gc, uint32_t i)
{
    ivm_arena *a = gc->heap->arena;
    char *p = ivm_arena_region_start(a, i), *end = p + a->regions[i].used;
    while (p < end) {
        ivm_header *o = (ivm_header *)p;
        size_t n = (size_t)ivm_header_words(*o) * 8;
        if (is_marked(gc, p) && (is_mutable(o) || n > IVM_LARGE_OBJECT_BYTES - EVAC_BLOCK))
            return false;
        p += n;
    }
    return true;
}

/* Copies region i's live objects, block by block: those starting in one
 * block go to one allocation, so that they stay together. */
static void copy_region(ivm_gc *gc, uint32_t i, uint32_t e)
{
    ivm_arena *a = gc->heap->arena;
    char *start = ivm_arena_region_start(a, i), *end = start + a->regions[i].used;
    char **to = &gc->evac_to[(size_t)e * EVAC_BLOCKS];
    for (char *p = start; p < end;) {
        size_t block = (size_t)(p - start) / EVAC_BLOCK;
        char *bend = start + (block + 1) * EVAC_BLOCK, *q = p;
        size_t total = 0;
        for (; q < end && q < bend; q += (size_t)ivm_header_words(*(ivm_header *)q) * 8)
            if (is_marked(gc, q))
                total += (size_t)ivm_header_words(*(ivm_header *)q) * 8;
        to[block] = NULL;
        if (total) {
            char *dst = ivm_arena_alloc(a, &gc->to, total);
            to[block] = dst;
            for (char *r = p; r < q; r += (size_t)ivm_header_words(*(ivm_header *)r) * 8)
                if (is_marked(gc, r)) {
                    size_t n = (size_t)ivm_header_words(*(ivm_header *)r) * 8;
                    memcpy(dst, r, n);
                    dst += n;
                }
            gc->stats.evac_bytes += total;
        }
        p = q;
    }
}

bool ivm_gc_evac_begin(ivm_gc *gc)
{
    ivm_arena *a = gc->heap->arena;
    /* the sparse regions born before the cycle, sparsest first, as many
     * as the free regions can take (as select_regions) */
    enum { BUCKETS = 16 };
    uint64_t limit = (uint64_t)IVM_REGION_SIZE * IVM_GC_EVACUATE_PCT / 100;
    /* The candidates, listed under the lock (the table changes as the
     * program takes regions); regions born before the cycle stay as they
     * are meanwhile (every cursor left them at its handshake). */
    ivm_platform_mutex_lock(a->lock);
    uint64_t room = (uint64_t)ivm_arena_free_regions(a) * (IVM_REGION_SIZE / 4 * 3);
    room = room > (uint64_t)gc->reserve_regions * IVM_REGION_SIZE / 2
               ? room - (uint64_t)gc->reserve_regions * IVM_REGION_SIZE / 2
               : 0;
    gc->nkept = 0;
    for (uint32_t i = 0; i < a->fresh; i++) {
        ivm_region *r = &a->regions[i];
        if (r->state == IVM_REGION_FULL && r->born != gc->cycle && r->live_bytes <= limit)
            gc->kept[gc->nkept++] = i;
    }
    ivm_platform_mutex_unlock(a->lock);
    gc->nevacuating = 0;
    for (unsigned b = 0; b < BUCKETS && room > 0; b++)
        for (uint32_t k = 0; k < gc->nkept; k++) {
            uint32_t i = gc->kept[k];
            uint32_t live = a->regions[i].live_bytes; /* the collector's own field */
            if ((uint64_t)live * BUCKETS / IVM_REGION_SIZE != b)
                continue;
            if (live > room)
                break;
            if (!evacuable(gc, i))
                continue;
            room -= live;
            gc->evacuating[gc->nevacuating++] = i;
        }
    if (gc->nevacuating == 0)
        return false;
    char **to = ivm_platform_realloc(gc->evac_to, (size_t)gc->nevacuating * EVAC_BLOCKS * sizeof *to);
    if (!to) /* not worth dying for: no evacuation this time */
        return (gc->nevacuating = 0);
    gc->evac_to = to;
    uint64_t copied = gc->stats.evac_bytes;
    for (uint32_t e = 0; e < gc->nevacuating; e++) {
        /* the program takes free regions meanwhile: stop short of them */
        if (ivm_arena_free_regions(a) < gc->reserve_regions / 4 + 2) {
            gc->nevacuating = e;
            break;
        }
        copy_region(gc, gc->evacuating[e], e);
    }
    if (gc->nevacuating == 0) {
        ivm_arena_retire(a, &gc->to);
        return false;
    }
    ivm_arena_retire(a, &gc->to);
    ivm_platform_mutex_lock(a->lock); /* copies are not the program's allocation */
    a->bytes_allocated -= gc->stats.evac_bytes - copied;
    ivm_platform_mutex_unlock(a->lock);
    for (uint32_t e = 0; e < gc->nevacuating; e++) /* published by the flag below */
        __atomic_store_n(&gc->evac_index[gc->evacuating[e]], e, __ATOMIC_RELAXED);
    __atomic_store_n(&gc->evacuating_now, true, __ATOMIC_RELEASE);
    gc->stats.evac_regions += gc->nevacuating;
    return true;
}

/* Rewrites one slot that refers to an old copy; counts it in `found`.
 * Programs read the slot meanwhile with plain loads: each sees the old or
 * the new copy, the same value (the design's one intended data race, which
 * ThreadSanitizer is told not to watch). */
#if defined(__SANITIZE_THREAD__)
__attribute__((no_sanitize_thread))
#endif
static inline void cfix_ref(const ivm_gc *gc, ivm_value *slot, uint64_t *found)
{
    ivm_value v = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!ivm_is_obj(v) || evac_index_of(gc, (void *)(uintptr_t)v) == UINT32_MAX)
        return;
    ivm_value to = ivm_gc_forward(gc, v);
    /* a program may store into a mutable cell meanwhile: its store wins */
    __atomic_compare_exchange_n(slot, &v, to, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
    (*found)++;
}

static void cfix_slot(ivm_gc *v, ivm_value *slot)
{
    uint64_t found = 0;
    cfix_ref(v->collector ? v->collector : v, slot, &found);
    if (found) /* the collector's own count is shared */
        __atomic_add_fetch(&v->evac_found, found, __ATOMIC_RELAXED);
}

static void cfix_objects(const ivm_gc *gc, char *p, char *end, bool all, uint64_t *found)
{
    while (p < end) {
        ivm_header *o = (ivm_header *)p;
        p += (size_t)ivm_header_words(*o) * 8;
        if ((*o & 0xff) != IVM_K_FILLER && (all || is_marked(gc, o)))
            IVM_GC_FOR_EACH_SLOT(o, slot, cfix_ref(gc, slot, found));
    }
}

void ivm_gc_evac_fix_heap(ivm_gc *gc)
{
    ivm_arena *a = gc->heap->arena;
    uint64_t found = 0;
    /* The regions filled when every thread retired its cursor (just now):
     * what is built from now on, its threads fix (ivm_gc_evac_fix_since). */
    ivm_platform_mutex_lock(a->lock);
    gc->nkept = 0;
    for (uint32_t i = 0; i < a->fresh; i++)
        if ((a->regions[i].state == IVM_REGION_FULL || a->regions[i].state == IVM_REGION_LARGE) &&
            gc->evac_index[i] == UINT32_MAX)
            gc->kept[gc->nkept++] = i;
    ivm_platform_mutex_unlock(a->lock);
    for (uint32_t k = 0; k < gc->nkept; k++) {
        uint32_t i = gc->kept[k];
        ivm_region *r = &a->regions[i]; /* stays as it is: only the collector frees */
        /* built in the cycle (the copies too): all live; before it: the
         * marked ones */
        bool all = r->born == gc->cycle;
        char *start = ivm_arena_region_start(a, i);
        if (r->state == IVM_REGION_LARGE && (all || is_marked(gc, start)))
            cfix_objects(gc, start, start + (size_t)ivm_header_words(*(ivm_header *)start) * 8,
                         true, &found);
        else if (r->state == IVM_REGION_FULL && (all || r->live_bytes))
            cfix_objects(gc, start, start + r->used, all, &found);
    }
    __atomic_add_fetch(&gc->evac_found, found, __ATOMIC_RELAXED);
}

static void fix_built(ivm_gc *v, char *p, char *end)
{
    uint64_t found = 0;
    cfix_objects(v->collector, p, end, true, &found);
    v->evac_found += found;
}

void ivm_gc_evac_fix_since(ivm_gc *v, ivm_bump *b)
{
    walk_since(v, b, fix_built);
}

void ivm_gc_evac_end(ivm_gc *gc, bool release)
{
    ivm_arena *a = gc->heap->arena;
    __atomic_store_n(&gc->evacuating_now, false, __ATOMIC_RELEASE);
    __atomic_store_n(&a->no_edits, false, __ATOMIC_RELEASE);
    if (gc->nevacuating == 0)
        return;
    ivm_platform_mutex_lock(a->lock);
    for (uint32_t e = 0; e < gc->nevacuating; e++) {
        uint32_t i = gc->evacuating[e];
        __atomic_store_n(&gc->evac_index[i], UINT32_MAX, __ATOMIC_RELAXED);
        if (release) {
            gc->stats.live_bytes -= a->regions[i].live_bytes; /* counted in the copies */
            free_region(gc, i);
        }
    }
    if (release) /* the next budget, and the freed memory back to the host */
        set_next_collection(gc);
    ivm_platform_mutex_unlock(a->lock);
    if (!release)
        gc->stats.evac_aborted++;
    gc->nevacuating = 0;
}

/* ---- The visitor ------------------------------------------------------- */

void ivm_gc_visit_roots(ivm_gc *gc)
{
    gc->walk++;
    ivm_gc_visit_range(gc, gc->heap->shared->interned.slots, gc->heap->shared->interned.capacity);
    if (gc->roots)
        gc->roots(gc->roots_context, gc);
}

void ivm_gc_visit(ivm_gc *gc, ivm_value *slot)
{
    if (gc->cfixing)
        cfix_slot(gc, slot);
    else if (gc->handoff)
        ivm_gc_shade(gc, *slot);
    else if (gc->fixing)
        fix_slot(gc, slot);
    else if (gc->verifying)
        ivm_gc_verify_slot(gc, slot);
    else /* a concurrent cycle reads globals that may be stored to */
        mark_value(gc, __atomic_load_n(slot, __ATOMIC_ACQUIRE));
}

/* ---- Concurrent cycles ------------------------------------------------- */

/* What lies in a region born in the cycle is never marked (mark_value
 * skips it), and needs no tracing from a barrier: what its builder built
 * before its handshake, the handshake traces (ivm_gc_trace_since); what
 * it built after holds only what the builder could reach then. Dropping
 * it here keeps a transient's barrier (four values per edit, mostly new
 * nodes) from filling the handover with millions of useless values. The
 * cycle is read after the marking flag's acquire, which publishes it. */
void ivm_gc_shade(ivm_gc *v, ivm_value x)
{
    if (ivm_is_obj(x) && !is_black(v->collector ? v->collector : v, ivm_obj_header(x)))
        push(v, x);
}

/* Stacks the fields of the objects in [p, end). */
static void trace_objects(ivm_gc *v, char *p, char *end)
{
    while (p < end) {
        ivm_header *o = (ivm_header *)p;
        p += (size_t)ivm_header_words(*o) * 8;
        if ((*o & 0xff) != IVM_K_FILLER)
            IVM_GC_FOR_EACH_SLOT(o, slot, ivm_gc_shade(v, *slot));
    }
}

/* Applies fn to the objects of b's `since` regions that its walks have
 * not been over yet, up to b's cursor, and moves the walks' place on.
 * Only b's thread, at a safepoint (every object below the cursor is
 * whole), or the collector while b's is parked. */
static void walk_since(ivm_gc *v, ivm_bump *b, void (*fn)(ivm_gc *, char *, char *))
{
    ivm_arena *a = v->heap->arena;
    ivm_platform_mutex_lock(a->lock); /* for the cycle and the table */
    bool current = b->since_cycle == a->cycle;
    ivm_platform_mutex_unlock(a->lock);
    for (uint32_t k = b->since_done; current && k < b->nsince; k++) {
        uint32_t i = b->since[k];
        char *start = ivm_arena_region_start(a, i);
        if (a->regions[i].state == IVM_REGION_LARGE) {
            fn(v, start, start + (size_t)ivm_header_words(*(ivm_header *)start) * 8);
        } else {
            char *end = ivm_arena_used_end(a, b, i);
            fn(v, start + (k == b->since_done ? b->since_off : 0), end);
            if (b->region == i && b->ptr) { /* the one it fills: again later */
                b->since_done = k;
                b->since_off = (uint32_t)(end - start);
                break;
            }
        }
        b->since_done = k + 1;
        b->since_off = 0;
    }
}

void ivm_gc_trace_since(ivm_gc *v, ivm_bump *b)
{
    walk_since(v, b, trace_objects);
}

static void skip_objects(ivm_gc *v, char *p, char *end)
{
    (void)v, (void)p, (void)end;
}

void ivm_gc_skip_since(ivm_gc *v, ivm_bump *b)
{
    walk_since(v, b, skip_objects);
}

void ivm_gc_hand_over(ivm_gc *v)
{
    ivm_gc *gc = v->collector;
    if (v->stack_len == 0)
        return;
    ivm_platform_mutex_lock(gc->inbox_lock);
    if (gc->inbox_len + v->stack_len > gc->inbox_cap) {
        size_t cap = gc->inbox_cap ? gc->inbox_cap : 1024;
        while (cap < gc->inbox_len + v->stack_len)
            cap *= 2;
        ivm_value *in = ivm_platform_realloc(gc->inbox, cap * sizeof *in);
        if (!in) {
            ivm_platform_write(IVM_STDERR, "ivm: out of memory for the collector's inbox\n", 46);
            ivm_platform_exit(70);
        }
        gc->inbox = in;
        gc->inbox_cap = cap;
    }
    memcpy(gc->inbox + gc->inbox_len, v->stack, v->stack_len * sizeof *v->stack);
    gc->inbox_len += v->stack_len;
    ivm_platform_mutex_unlock(gc->inbox_lock);
    v->stack_len = 0;
}

void ivm_gc_cycle_begin(ivm_gc *gc)
{
    ivm_arena *a = gc->heap->arena;
    gc->cycle_start_ns = ivm_platform_now_ns();
    ivm_platform_mutex_lock(a->lock);
    /* atomic: threads read it unlocked (ivm_vm_concurrent_collect) */
    __atomic_store_n(&gc->cycle, gc->cycle + 1, __ATOMIC_RELEASE);
    gc->black = gc->cycle;
    a->cycle = gc->cycle;
    for (uint32_t i = 0; i < a->fresh; i++) {
        ivm_region *r = &a->regions[i];
        if (r->born == gc->cycle)
            continue;
        if (r->state == IVM_REGION_FULL || r->state == IVM_REGION_LARGE ||
            r->state == IVM_REGION_ALLOCATING)
            clear_slice(gc, i);
        r->live_bytes = 0;
    }
    gc->stats.live_bytes = 0;
    /* what was handed over since the last cycle's marking ended belongs
     * to no cycle: it may refer to what that cycle freed */
    ivm_platform_mutex_lock(gc->inbox_lock);
    gc->inbox_len = 0;
    ivm_platform_mutex_unlock(gc->inbox_lock);
    __atomic_store_n(&a->no_edits, true, __ATOMIC_RELEASE);
    __atomic_store_n(&a->marking, true, __ATOMIC_RELEASE);
    ivm_platform_mutex_unlock(a->lock);
}

uint64_t ivm_gc_cycle_mark(ivm_gc *gc)
{
    /* the inbox is swapped for the spare, so that handovers never wait
     * for marking */
    ivm_platform_mutex_lock(gc->inbox_lock);
    ivm_value *in = gc->inbox;
    size_t n = gc->inbox_len, cap = gc->inbox_cap;
    gc->inbox = gc->spare;
    gc->inbox_cap = gc->spare_cap;
    gc->inbox_len = 0;
    ivm_platform_mutex_unlock(gc->inbox_lock);
    for (size_t i = 0; i < n; i++)
        mark_value(gc, in[i]);
    gc->spare = in;
    gc->spare_cap = cap;
    uint64_t marked = gc->stack_len;
    drain(gc);
    return marked;
}

bool ivm_gc_cycle_end(ivm_gc *gc)
{
    ivm_arena *a = gc->heap->arena;
    ivm_platform_mutex_lock(a->lock);
    for (uint32_t i = 0; i < a->fresh; i++) {
        ivm_region *r = &a->regions[i];
        if (r->born == gc->cycle)
            continue;
        if ((r->state == IVM_REGION_FULL && r->live_bytes == 0) ||
            (r->state == IVM_REGION_LARGE && !is_marked(gc, ivm_arena_region_start(a, i))))
            free_region(gc, i);
    }
    /* what was built meanwhile counts as live until the next cycle */
    for (uint32_t i = 0; i < a->fresh; i++)
        if (a->regions[i].born == gc->cycle && a->regions[i].state != IVM_REGION_FREE &&
            a->regions[i].state != IVM_REGION_LARGE_TAIL)
            gc->stats.live_bytes += a->regions[i].state == IVM_REGION_LARGE
                                        ? a->regions[i].used
                                        : IVM_REGION_SIZE;
    bool short_ = ivm_arena_free_regions(a) < gc->reserve_regions;
    set_next_collection(gc);
    __atomic_store_n(&a->marking, false, __ATOMIC_RELEASE);
    ivm_platform_mutex_unlock(a->lock);
    uint64_t ns = ivm_platform_now_ns() - gc->cycle_start_ns;
    gc->stats.cycles++;
    gc->stats.cycle_total_ns += ns;
    if (ns > gc->stats.cycle_max_ns)
        gc->stats.cycle_max_ns = ns;
    return short_;
}

void ivm_gc_cycle_abandon(ivm_gc *gc)
{
    __atomic_store_n(&gc->heap->arena->marking, false, __ATOMIC_RELEASE);
    __atomic_store_n(&gc->heap->arena->no_edits, false, __ATOMIC_RELEASE);
    gc->stack_len = 0;
}

/* *max = the larger of *max and ns (any thread). */
static void atomic_max(uint64_t *max, uint64_t ns)
{
    uint64_t seen = __atomic_load_n(max, __ATOMIC_RELAXED);
    while (ns > seen &&
           !__atomic_compare_exchange_n(max, &seen, ns, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

void ivm_gc_note_handshake(ivm_gc *gc, uint64_t ns)
{
    __atomic_add_fetch(&gc->stats.handshakes, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&gc->stats.handshake_histogram[pause_bucket(ns)], 1, __ATOMIC_RELAXED);
    atomic_max(&gc->stats.handshake_max_ns, ns);
}

void ivm_gc_note_handshake_part(ivm_gc *gc, ivm_gc_handshake_part part, uint64_t ns)
{
    atomic_max(&gc->stats.handshake_part_max_ns[part], ns);
}

void ivm_gc_note_stall(ivm_gc *gc, uint64_t ns)
{
    __atomic_add_fetch(&gc->stats.stalls, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&gc->stats.stall_total_ns, ns, __ATOMIC_RELAXED);
    atomic_max(&gc->stats.stall_max_ns, ns);
}

bool ivm_gc_is_live(const ivm_gc *gc, ivm_value v)
{
    return ivm_gc_is_marked(gc, v) ||
           (ivm_is_obj(v) && gc->black != IVM_GC_NO_BLACK && is_black(gc, (void *)(uintptr_t)v));
}

/* ---- Report ------------------------------------------------------------ */

static void add_ms(ivm_buf *b, uint64_t ns)
{
    ivm_buf_add_int(b, (int64_t)(ns / 1000000));
    ivm_buf_add_char(b, '.');
    uint64_t frac = ns / 1000 % 1000;
    ivm_buf_add_char(b, (char)('0' + frac / 100));
    ivm_buf_add_char(b, (char)('0' + frac / 10 % 10));
    ivm_buf_add_char(b, (char)('0' + frac % 10));
    ivm_buf_add_cstr(b, " ms");
}

static void add_mib(ivm_buf *b, uint64_t bytes)
{
    uint64_t tenths = bytes * 10 / (1u << 20);
    ivm_buf_add_int(b, (int64_t)(tenths / 10));
    ivm_buf_add_char(b, '.');
    ivm_buf_add_char(b, (char)('0' + tenths % 10));
    ivm_buf_add_cstr(b, " MiB");
}

/* The pause below which `permille` of the n pauses of histogram h fall
 * (max: the longest). */
static uint64_t pause_percentile(const uint32_t *h, uint64_t n, uint64_t max, unsigned permille)
{
    if (n == 0)
        return 0;
    uint64_t want = (n * permille + 999) / 1000, seen = 0;
    for (unsigned b = 0; b < IVM_GC_PAUSE_BUCKETS; b++) {
        seen += h[b];
        if (seen >= want) {
            uint64_t hi = bucket_floor(b + 1);
            return hi < max ? hi : max;
        }
    }
    return max;
}

/* "\ngc: LABEL: N, total T ms, longest M ms" */
static void add_times(ivm_buf *b, const char *label, uint64_t n, uint64_t total_ns, uint64_t max_ns)
{
    ivm_buf_add_cstr(b, "\ngc: ");
    ivm_buf_add_cstr(b, label);
    ivm_buf_add_cstr(b, ": ");
    ivm_buf_add_int(b, (int64_t)n);
    ivm_buf_add_cstr(b, ", total ");
    add_ms(b, total_ns);
    ivm_buf_add_cstr(b, ", longest ");
    add_ms(b, max_ns);
}

static void add_us(ivm_buf *b, uint64_t ns)
{
    ivm_buf_add_int(b, (int64_t)(ns / 1000));
    ivm_buf_add_char(b, '.');
    ivm_buf_add_char(b, (char)('0' + ns / 100 % 10));
    ivm_buf_add_cstr(b, " us");
}

void ivm_gc_report(const ivm_gc *gc, ivm_buf *out)
{
    const ivm_gc_stats *s = &gc->stats;
    const ivm_arena *a = gc->heap->arena;
    ivm_buf_add_cstr(out, "gc: collections: ");
    ivm_buf_add_int(out, (int64_t)s->collections);
    ivm_buf_add_cstr(out, " (");
    ivm_buf_add_int(out, (int64_t)s->moving_collections);
    ivm_buf_add_cstr(out, " could move objects)\ngc: pause: total ");
    add_ms(out, s->pause_total_ns);
    ivm_buf_add_cstr(out, ", longest ");
    add_ms(out, s->pause_max_ns);
    ivm_buf_add_cstr(out, ", p50 ");
    add_ms(out, pause_percentile(s->pause_histogram, s->collections, s->pause_max_ns, 500));
    ivm_buf_add_cstr(out, ", p99 ");
    add_ms(out, pause_percentile(s->pause_histogram, s->collections, s->pause_max_ns, 990));
    if (s->cycles) {
        add_times(out, "concurrent cycles", s->cycles, s->cycle_total_ns, s->cycle_max_ns);
        ivm_buf_add_cstr(out, ", mean ");
        add_ms(out, s->cycle_total_ns / s->cycles);
        ivm_buf_add_cstr(out, "\ngc: handshake pauses: ");
        ivm_buf_add_int(out, (int64_t)s->handshakes);
        ivm_buf_add_cstr(out, ", p50 ");
        add_us(out, pause_percentile(s->handshake_histogram, s->handshakes, s->handshake_max_ns, 500));
        ivm_buf_add_cstr(out, ", p99 ");
        add_us(out, pause_percentile(s->handshake_histogram, s->handshakes, s->handshake_max_ns, 990));
        ivm_buf_add_cstr(out, ", longest ");
        add_us(out, s->handshake_max_ns);
        static const char *const parts[IVM_GC_HANDSHAKE_PARTS] = {
            "own roots", "process records", "tracing what it built",
            "fixing what it built"};
        ivm_buf_add_cstr(out, "\ngc: longest handshake parts:");
        for (unsigned k = 0; k < IVM_GC_HANDSHAKE_PARTS; k++) {
            ivm_buf_add_cstr(out, k ? ", " : " ");
            ivm_buf_add_cstr(out, parts[k]);
            ivm_buf_add_char(out, ' ');
            add_us(out, s->handshake_part_max_ns[k]);
        }
        add_times(out, "waits for a cycle, short of memory", s->stalls, s->stall_total_ns,
                  s->stall_max_ns);
        ivm_buf_add_cstr(out, "\ngc: evacuated by concurrent cycles: ");
        add_mib(out, s->evac_bytes);
        ivm_buf_add_cstr(out, " from ");
        ivm_buf_add_int(out, (int64_t)s->evac_regions);
        ivm_buf_add_cstr(out, " regions, in ");
        ivm_buf_add_int(out, (int64_t)s->evac_rounds);
        ivm_buf_add_cstr(out, " handshake rounds (");
        ivm_buf_add_int(out, (int64_t)s->evac_aborted);
        ivm_buf_add_cstr(out, " evacuations given up)");
    }
    ivm_buf_add_cstr(out, "\ngc: allocated: ");
    add_mib(out, a->bytes_allocated);
    ivm_buf_add_cstr(out, "\ngc: copied: ");
    add_mib(out, s->bytes_copied);
    ivm_buf_add_cstr(out, " in ");
    ivm_buf_add_int(out, (int64_t)s->objects_copied);
    ivm_buf_add_cstr(out, " objects\ngc: regions: ");
    ivm_buf_add_int(out, (int64_t)s->regions_evacuated);
    ivm_buf_add_cstr(out, " evacuated, ");
    ivm_buf_add_int(out, (int64_t)s->regions_freed);
    ivm_buf_add_cstr(out, " freed (");
    ivm_buf_add_int(out, IVM_REGION_SIZE / 1024);
    ivm_buf_add_cstr(out, " KiB each)\ngc: live after the last collection: ");
    add_mib(out, s->live_bytes);
    ivm_buf_add_cstr(out, "\ngc: heap: high-water ");
    add_mib(out, (uint64_t)a->regions_high_water * IVM_REGION_SIZE);
    ivm_buf_add_cstr(out, ", in use at exit ");
    add_mib(out, (uint64_t)a->regions_in_use * IVM_REGION_SIZE);
    ivm_buf_add_cstr(out, ", reserved ");
    add_mib(out, a->bytes);
    ivm_buf_add_char(out, '\n');
    if (gc->verify) {
        ivm_buf_add_cstr(out, "gc: verified ");
        ivm_buf_add_int(out, (int64_t)s->verified_objects);
        ivm_buf_add_cstr(out, " live objects after every collection\n");
    }
}
