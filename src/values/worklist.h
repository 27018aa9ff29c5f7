/* Growable stacks for the iterative walks (equality, hashing, printing):
 * nesting depth costs heap, never C stack. A worklist holds value words; a
 * frame stack holds fixed-size records (a walk's cursors). Both keep their
 * first entries inside the struct, so shallow walks allocate nothing. */
#ifndef IVM_WORKLIST_H
#define IVM_WORKLIST_H

#include "ivm/platform.h"
#include "values/value.h"

#define IVM_WORKLIST_INLINE 64

typedef struct ivm_worklist {
    ivm_value *items;
    size_t len, cap;
    ivm_value inline_items[IVM_WORKLIST_INLINE];
} ivm_worklist;

static inline void ivm_worklist_init(ivm_worklist *w)
{
    w->items = w->inline_items;
    w->len = 0;
    w->cap = IVM_WORKLIST_INLINE;
}

static inline void ivm_worklist_free(ivm_worklist *w)
{
    if (w->items != w->inline_items)
        ivm_platform_free(w->items);
}

void ivm_worklist_grow(ivm_worklist *w);

static inline void ivm_worklist_push(ivm_worklist *w, ivm_value v)
{
    if (w->len == w->cap)
        ivm_worklist_grow(w);
    w->items[w->len++] = v;
}

static inline void ivm_worklist_push2(ivm_worklist *w, ivm_value a, ivm_value b)
{
    ivm_worklist_push(w, a);
    ivm_worklist_push(w, b);
}

static inline ivm_value ivm_worklist_pop(ivm_worklist *w) { return w->items[--w->len]; }

/* ---- Frame stacks ------------------------------------------------------ */

#define IVM_FRAMES_INLINE_BYTES 2048

typedef struct ivm_frame_stack {
    char *items;
    size_t len, cap; /* in frames */
    size_t size;     /* bytes per frame */
    _Alignas(16) char inline_items[IVM_FRAMES_INLINE_BYTES];
} ivm_frame_stack;

static inline void ivm_frames_init(ivm_frame_stack *s, size_t frame_size)
{
    s->items = s->inline_items;
    s->len = 0;
    s->size = frame_size;
    s->cap = IVM_FRAMES_INLINE_BYTES / frame_size;
}

static inline void ivm_frames_free(ivm_frame_stack *s)
{
    if (s->items != s->inline_items)
        ivm_platform_free(s->items);
}

void ivm_frames_grow(ivm_frame_stack *s);

/* A new top frame (uninitialised). Pointers to frames stay valid only
 * until the next push. */
static inline void *ivm_frames_push(ivm_frame_stack *s)
{
    if (s->len == s->cap)
        ivm_frames_grow(s);
    return s->items + s->size * s->len++;
}

static inline void *ivm_frames_top(ivm_frame_stack *s)
{
    return s->len ? s->items + s->size * (s->len - 1) : NULL;
}

static inline void ivm_frames_pop(ivm_frame_stack *s) { s->len--; }

#endif
