/* Arena: reservation, region table, bump cursors, large-object spans, and
 * the requests for a collection. See arena.h for the invariants.
 * Each scheduler thread has its own cursor; the region table and the
 * counters are guarded by the arena's lock, which only the slow path takes
 * (once per region). */
#include "arena/arena.h"

#include <string.h>

#include "ivm/platform.h"

#define IVM_HUGE_PAGE_BYTES ((size_t)2 << 20)

bool ivm_arena_init(ivm_arena *a, size_t bytes, ivm_arena_mode mode)
{
    memset(a, 0, sizeof *a);
    if (bytes < IVM_MIN_HEAP_BYTES)
        bytes = IVM_MIN_HEAP_BYTES;
    bytes = (bytes + IVM_REGION_SIZE - 1) & ~(IVM_REGION_SIZE - 1);
    a->base = ivm_platform_reserve(bytes, IVM_HUGE_PAGE_BYTES);
    if (!a->base)
        return false;
    a->mode = mode;
    if (mode == IVM_ARENA_HUGE)
        ivm_platform_advise_huge(a->base, bytes); /* advice: may be ignored */
    a->bytes = bytes;
    a->nregions = (uint32_t)(bytes >> IVM_REGION_SHIFT);
    a->regions = ivm_platform_calloc(a->nregions, sizeof *a->regions);
    a->free_list = ivm_platform_calloc(a->nregions, sizeof *a->free_list);
    a->lock = ivm_platform_mutex_new();
    if (!a->regions || !a->free_list || !a->lock) {
        ivm_arena_destroy(a);
        return false;
    }
    return true;
}

void ivm_arena_destroy(ivm_arena *a)
{
    if (a->base)
        ivm_platform_release(a->base, a->bytes);
    ivm_platform_free(a->regions);
    ivm_platform_free(a->free_list);
    if (a->lock)
        ivm_platform_mutex_free(a->lock);
    memset(a, 0, sizeof *a);
}

void ivm_arena_set_oom_hook(ivm_arena *a, ivm_oom_hook hook, void *context)
{
    a->oom = hook;
    a->oom_context = context;
}

static _Noreturn void out_of_memory(ivm_arena *a)
{
    if (a->oom)
        a->oom(a->oom_context, a->bytes);
    ivm_platform_exit(1); /* a hook must not return; be safe if it does */
}

static void note_in_use(ivm_arena *a, uint32_t n)
{
    __atomic_store_n(&a->regions_in_use, a->regions_in_use + n, __ATOMIC_RELAXED);
    if (a->regions_in_use > a->regions_high_water)
        a->regions_high_water = a->regions_in_use;
    if (!a->collecting && (a->bytes_allocated >= a->collect_at ||
                           ivm_arena_free_regions(a) < a->reserve_regions))
        ivm_arena_request_collection(a);
}

/* One free region, from the free list first so that the address range in
 * use stays compact, then from the untouched part of the reservation. */
static uint32_t take_region(ivm_arena *a)
{
    uint32_t i;
    if (a->nfree > 0) {
        i = a->free_list[--a->nfree];
        if (a->regions[i].committed)
            a->free_committed--;
    } else if (a->fresh < a->nregions)
        i = a->fresh++;
    else
        out_of_memory(a);
    note_in_use(a, 1);
    return i;
}

/* `n` contiguous free regions: untouched space first (cheap), then a
 * first-fit scan of the table. Regions at and above `fresh` are FREE in
 * the table too, so a run may start among freed regions and extend into
 * untouched ones. */
static uint32_t take_span(ivm_arena *a, uint32_t n)
{
    uint32_t start = a->fresh;
    if (a->nregions - a->fresh < n) {
        for (start = 0; start + n <= a->nregions;) {
            uint32_t run = 0;
            while (run < n && a->regions[start + run].state == IVM_REGION_FREE)
                run++;
            if (run == n)
                break;
            start += run + 1;
        }
        if (start + n > a->nregions)
            out_of_memory(a);
        /* unlink the span's previously used regions from the free list */
        uint32_t kept = 0;
        for (uint32_t k = 0; k < a->nfree; k++) {
            uint32_t r = a->free_list[k];
            if (r < start || r >= start + n)
                a->free_list[kept++] = r;
            else if (a->regions[r].committed)
                a->free_committed--;
        }
        a->nfree = kept;
    }
    if (start + n > a->fresh)
        a->fresh = start + n;
    note_in_use(a, n);
    return start;
}

static void write_filler(char *p, size_t bytes)
{
    uint64_t header = IVM_FILLER_TYPE | ((uint64_t)(bytes / 8) << 32);
    memcpy(p, &header, sizeof header);
}

static void retire(ivm_arena *a, ivm_bump *b)
{
    if (b->region == UINT32_MAX || !b->ptr)
        return;
    size_t rest = (size_t)(b->end - b->ptr);
    if (rest > 0) {
        write_filler(b->ptr, rest);
        a->bytes_allocated -= rest;
    }
    ivm_region *r = &a->regions[b->region];
    r->state = IVM_REGION_FULL;
    r->used = IVM_REGION_SIZE;
    b->ptr = b->limit = b->end = NULL;
    b->region = UINT32_MAX;
}

void ivm_arena_retire(ivm_arena *a, ivm_bump *b)
{
    ivm_platform_mutex_lock(a->lock);
    retire(a, b);
    ivm_platform_mutex_unlock(a->lock);
}

static void *slow_region(ivm_arena *a, ivm_bump *b, size_t bytes);

/* Counts region i (or the span it starts), just taken by b, and adds it
 * to b's `since` list, which starts again when the cycle has changed.
 * (Only regions born in the cycle are listed: older ones hold dead
 * objects whose references may be stale.) */
static void note_taken(ivm_arena *a, ivm_bump *b, uint32_t i)
{
    b->taken += a->regions[i].state == IVM_REGION_LARGE ? a->regions[i].span : 1;
    if (b->since_cycle != a->cycle) {
        b->since_cycle = a->cycle;
        b->nsince = b->since_done = b->since_off = 0;
    }
    if (!__atomic_load_n(&a->no_edits, __ATOMIC_RELAXED)) /* no concurrent cycle runs */
        return;
    if (b->nsince == b->since_cap) {
        uint32_t cap = b->since_cap ? b->since_cap * 2 : 16;
        uint32_t *l = ivm_platform_realloc(b->since, cap * sizeof *l);
        if (!l)
            out_of_memory(a);
        b->since = l;
        b->since_cap = cap;
    }
    b->since[b->nsince++] = i;
}

void ivm_arena_restart_since(ivm_arena *a, ivm_bump *b)
{
    ivm_platform_mutex_lock(a->lock);
    retire(a, b);
    b->since_cycle = a->cycle;
    b->nsince = b->since_done = b->since_off = 0;
    ivm_platform_mutex_unlock(a->lock);
}

void ivm_arena_bump_destroy(ivm_bump *b)
{
    ivm_platform_free(b->since);
    b->since = NULL;
    b->nsince = b->since_cap = 0;
}

bool ivm_arena_short(ivm_arena *a)
{
    ivm_platform_mutex_lock(a->lock);
    bool short_ = ivm_arena_free_regions(a) < a->reserve_regions / 2;
    ivm_platform_mutex_unlock(a->lock);
    return short_;
}

void ivm_arena_set_cycle(ivm_arena *a, uint32_t c)
{
    ivm_platform_mutex_lock(a->lock);
    a->cycle = c;
    ivm_platform_mutex_unlock(a->lock);
}

void ivm_arena_set_stress(ivm_arena *a, ivm_bump *b, uint32_t every)
{
    a->stress_every = every;
    a->stress_count = 0;
    b->limit = every ? b->ptr : b->end;
}

/* Stress mode: counts the allocation, requests a collection every
 * stress_every of them, and keeps the fast path shut. */
static void *stress_alloc(ivm_arena *a, ivm_bump *b, size_t bytes)
{
    if (!a->collecting && ++a->stress_count >= a->stress_every) {
        a->stress_count = 0;
        ivm_arena_request_collection(a);
    }
    char *p = b->ptr;
    if (bytes > IVM_LARGE_OBJECT_BYTES || !p || (size_t)(b->end - p) < bytes) {
        p = slow_region(a, b, bytes);
    } else {
        b->ptr = p + bytes;
    }
    b->limit = b->ptr;
    return p;
}

static void *alloc_large(ivm_arena *a, ivm_bump *b, size_t bytes)
{
    uint32_t n = (uint32_t)((bytes + IVM_REGION_SIZE - 1) >> IVM_REGION_SHIFT);
    if (n > a->nregions)
        out_of_memory(a);
    uint32_t i = take_span(a, n);
    a->regions[i] = (ivm_region){.state = IVM_REGION_LARGE,
                                 .used = (uint32_t)(bytes < IVM_REGION_SIZE
                                                        ? bytes
                                                        : IVM_REGION_SIZE),
                                 .span = n,
                                 .born = a->cycle};
    for (uint32_t k = 1; k < n; k++)
        a->regions[i + k] = (ivm_region){.state = IVM_REGION_LARGE_TAIL};
    a->bytes_allocated += bytes;
    note_taken(a, b, i);
    return ivm_arena_region_start(a, i);
}

void *ivm_arena_alloc_slow(ivm_arena *a, ivm_bump *b, size_t bytes)
{
    ivm_platform_mutex_lock(a->lock);
    void *p = a->stress_every && !a->collecting ? stress_alloc(a, b, bytes)
                                                 : slow_region(a, b, bytes);
    ivm_platform_mutex_unlock(a->lock);
    return p;
}

void *ivm_arena_alloc_slow_region(ivm_arena *a, ivm_bump *b, size_t bytes)
{
    ivm_platform_mutex_lock(a->lock);
    void *p = slow_region(a, b, bytes);
    ivm_platform_mutex_unlock(a->lock);
    return p;
}

static void *slow_region(ivm_arena *a, ivm_bump *b, size_t bytes)
{
    if (bytes > IVM_LARGE_OBJECT_BYTES)
        return alloc_large(a, b, bytes);
    /* b->region is UINT32_MAX for a cursor that never had a region; a zeroed
     * cursor (region 0, NULL pointers) is treated the same way. */
    if (b->ptr)
        retire(a, b);
    uint32_t i = take_region(a);
    char *start = ivm_arena_region_start(a, i);
    if (a->mode == IVM_ARENA_PREFAULT)
        ivm_platform_prefault(start, IVM_REGION_SIZE);
    a->regions[i] = (ivm_region){.state = IVM_REGION_ALLOCATING, .born = a->cycle};
    note_taken(a, b, i);
    b->region = i;
    b->ptr = start + bytes;
    b->limit = b->end = start + IVM_REGION_SIZE;
    a->bytes_allocated += IVM_REGION_SIZE; /* filler is counted back out */
    return start;
}

void ivm_arena_free_region(ivm_arena *a, uint32_t index)
{
    IVM_ASSERT(index < a->fresh);
    IVM_ASSERT(a->regions[index].state != IVM_REGION_FREE &&
               a->regions[index].state != IVM_REGION_LARGE_TAIL);
    uint32_t n = a->regions[index].state == IVM_REGION_LARGE
                     ? a->regions[index].span
                     : 1;
    for (uint32_t k = 0; k < n; k++) {
        a->regions[index + k] = (ivm_region){.state = IVM_REGION_FREE, .committed = true};
        a->free_list[a->nfree++] = index + k;
    }
    a->free_committed += n;
    __atomic_store_n(&a->regions_in_use, a->regions_in_use - n, __ATOMIC_RELAXED);
}

void ivm_arena_trim(ivm_arena *a, uint32_t keep)
{
    for (uint32_t k = 0; k < a->nfree && a->free_committed > keep; k++) {
        ivm_region *r = &a->regions[a->free_list[k]];
        if (!r->committed)
            continue;
        ivm_platform_decommit(ivm_arena_region_start(a, a->free_list[k]), IVM_REGION_SIZE);
        r->committed = false;
        a->free_committed--;
    }
}

bool ivm_arena_parse_size(const char *text, size_t *out)
{
    uint64_t n = 0;
    const char *p = text;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (UINT64_MAX - 9) / 10)
            return false;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    unsigned shift = 0;
    switch (*p) {
    case '\0': break;
    case 'K': case 'k': shift = 10; p++; break;
    case 'M': case 'm': shift = 20; p++; break;
    case 'G': case 'g': shift = 30; p++; break;
    default: return false;
    }
    if (*p == 'i' && shift)
        p++;
    if (*p == 'B' && shift)
        p++;
    if (*p != '\0' || n > ((uint64_t)1 << 46) >> shift)
        return false;
    n <<= shift;
    if (n < IVM_MIN_HEAP_BYTES)
        return false;
    *out = (size_t)n;
    return true;
}
