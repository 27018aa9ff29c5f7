/* The heap verifier (IVM_GC_VERIFY=1 runs it after every collection).
 *
 * It walks every region in use and checks that the region parses into
 * objects of valid kinds up to its end, that no region is still being
 * evacuated, and that every value word of every marked (live) object and
 * every root refers to a marked object of a value kind in a live region.
 * Right after a collection, the marked objects are exactly the live ones,
 * so this finds any reference the collector failed to fix and any live
 * object it failed to keep.
 *
 * It also poisons what the collection found dead: each unmarked object's
 * header becomes IVM_K_DEAD (keeping its size, so the region still
 * parses) and its words an address no program can read. C code that kept
 * a value without rooting it then fails at once (a Debug build's kind
 * assertions, or a fault) instead of reading stale memory later. */
#include "gc/gc.h"

#include "ivm/platform.h"

#define POISON_WORD 0xdbdbdbdbdbdbdbd8u /* a non-canonical address */

typedef struct check {
    ivm_gc *gc;
    char *why;
    size_t n;
    bool ok;
} check;

static void fail(check *c, const char *what, const void *where, ivm_value v)
{
    if (!c->ok)
        return;
    c->ok = false;
    ivm_buf b = {0};
    ivm_buf_add_cstr(&b, what);
    ivm_buf_add_cstr(&b, " (at arena offset ");
    ivm_buf_add_int(&b, where ? (int64_t)((const char *)where - c->gc->heap->arena->base) : -1);
    ivm_buf_add_cstr(&b, ", value 0x");
    uint8_t bytes[8];
    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t)(v >> (56 - 8 * i));
    ivm_buf_add_hex(&b, bytes, 8);
    ivm_buf_add_char(&b, ')');
    size_t len = b.len < c->n - 1 ? b.len : c->n - 1;
    memcpy(c->why, b.data, len);
    c->why[len] = '\0';
    ivm_buf_free(&b);
}

/* Why the reference v (found at `where`) is bad, or NULL if it is good. */
static const char *bad_reference(const ivm_gc *gc, ivm_value v)
{
    const ivm_arena *a = gc->heap->arena;
    if (!ivm_is_obj(v))
        return NULL;
    const void *p = (const void *)(uintptr_t)v;
    if (!ivm_arena_contains(a, p))
        return "a reference outside the arena";
    unsigned state = a->regions[ivm_arena_region_of(a, p)].state;
    if (state != IVM_REGION_FULL && state != IVM_REGION_ALLOCATING &&
        state != IVM_REGION_LARGE)
        return "a reference into a region that is not live";
    if (!ivm_gc_is_live(gc, v))
        return "a reference to an object the collection did not keep";
    if (!ivm_kind_is_value(ivm_obj_kind(v)))
        return "a reference to something that is not a value";
    return NULL;
}

static void check_object(check *c, ivm_header *o)
{
    IVM_GC_FOR_EACH_SLOT(o, slot, {
        const char *why = bad_reference(c->gc, *slot);
        if (why)
            fail(c, why, slot, *slot);
    });
}

static void poison(ivm_header *o)
{
    uint32_t n = ivm_header_words(*o);
    *o = ivm_make_header(IVM_K_DEAD, 0, (size_t)n * 8);
    for (uint32_t i = 1; i < n; i++)
        ((uint64_t *)o)[i] = POISON_WORD;
}

/* Walks [p, end) object by object. */
static void check_objects(check *c, char *p, char *end)
{
    while (p < end && c->ok) {
        ivm_header *o = (ivm_header *)p;
        unsigned kind = *o & 0xff;
        uint32_t n = ivm_header_words(*o);
        if (n == 0 || (size_t)(end - p) < (size_t)n * 8) {
            fail(c, "an object whose size runs past its region", p, *o);
            return;
        }
        if (kind != IVM_K_FILLER && kind != IVM_K_DEAD) {
            if (!ivm_kind_is_value(kind)) {
                fail(c, "a header of no value kind", p, *o);
                return;
            }
            if (ivm_gc_is_live(c->gc, (ivm_value)(uintptr_t)p)) {
                check_object(c, o);
                c->gc->stats.verified_objects++;
            } else {
                poison(o);
            }
        }
        p += (size_t)n * 8;
    }
}

bool ivm_gc_verify_slot(ivm_gc *gc, ivm_value *slot)
{
    const char *why = bad_reference(gc, *slot);
    if (why && !gc->verify_failed) {
        gc->verify_failed = why;
        gc->verify_failed_value = *slot;
    }
    return why == NULL;
}

bool ivm_gc_verify(ivm_gc *gc, char *why, size_t n)
{
    ivm_arena *a = gc->heap->arena;
    check c = {gc, why, n, true};
    for (uint32_t i = 0; i < a->fresh && c.ok; i++) {
        ivm_region *r = &a->regions[i];
        char *start = ivm_arena_region_start(a, i);
        switch (r->state) {
        case IVM_REGION_FREE:
        case IVM_REGION_LARGE_TAIL:
            break;
        case IVM_REGION_EVACUATING:
            fail(&c, "a region left in evacuation", start, 0);
            break;
        case IVM_REGION_LARGE: {
            uint32_t words = ivm_header_words(*(ivm_header *)start);
            if ((size_t)words * 8 > (size_t)r->span * IVM_REGION_SIZE) {
                fail(&c, "a large object larger than its span", start, *(ivm_header *)start);
                break;
            }
            check_objects(&c, start, start + (size_t)words * 8);
            break;
        }
        default:
            check_objects(&c, start, ivm_arena_used_end(a, &gc->heap->bump, i));
            break;
        }
    }
    /* the roots */
    gc->verify_failed = NULL;
    gc->verifying = true;
    ivm_gc_visit_roots(gc);
    gc->verifying = false;
    if (gc->verify_failed) {
        ivm_buf b = {0};
        ivm_buf_add_cstr(&b, "root holds ");
        ivm_buf_add_cstr(&b, gc->verify_failed);
        fail(&c, b.data, NULL, gc->verify_failed_value);
        ivm_buf_free(&b);
    }
    return c.ok;
}
