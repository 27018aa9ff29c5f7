/* A growable stack of value words for the iterative walks (equality,
 * hashing, printing): nesting depth costs heap, never C stack. The first
 * 64 entries live inside the struct, so shallow walks allocate nothing. */
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

#endif
