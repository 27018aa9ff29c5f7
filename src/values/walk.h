/* Walking collections without C recursion: one cursor type over the
 * elements of lists, vectors, maps and sets, used by equality, hashing and
 * printing (value.c, print.c). Each of those keeps its own explicit stack of
 * cursors, so nesting depth costs heap, never C stack. */
#ifndef IVM_WALK_H
#define IVM_WALK_H

#include "values/map.h"
#include "values/value.h"
#include "values/vector.h"

typedef enum ivm_walk_kind {
    IVM_WALK_LEAF,   /* not a collection */
    IVM_WALK_LIST,   /* sequential: a list, or a lazy sequence (realized as walked) */
    IVM_WALK_VECTOR, /* sequential */
    IVM_WALK_MAP,    /* yields key and value */
    IVM_WALK_SET,
    IVM_WALK_PAIR,   /* two given values in order: a map entry */
} ivm_walk_kind;

typedef struct ivm_cursor {
    ivm_walk_kind kind;
    union {
        ivm_value list; /* a list or a lazy node */
        ivm_vec_iter vec;
        ivm_map_iter map;
        struct { ivm_value items[2]; unsigned next; } pair;
    } u;
} ivm_cursor;

static inline ivm_walk_kind ivm_walk_kind_of(ivm_value v)
{
    if (ivm_is_list(v) || ivm_is_lazy(v))
        return IVM_WALK_LIST;
    if (ivm_is_vector(v))
        return IVM_WALK_VECTOR;
    if (ivm_is_map(v))
        return IVM_WALK_MAP;
    if (ivm_is_set(v))
        return IVM_WALK_SET;
    return IVM_WALK_LEAF;
}

static inline bool ivm_is_sequential(ivm_walk_kind k)
{
    return k == IVM_WALK_LIST || k == IVM_WALK_VECTOR;
}

/* Elements of a list, lazy sequence (realizing it all) or vector; 0 for
 * anything else. */
uint64_t ivm_sequential_count(ivm_value v);

/* Starts a cursor over a collection (ivm_walk_kind_of(coll) != LEAF). */
void ivm_cursor_init(ivm_cursor *c, ivm_value coll);
/* Starts a cursor over two values: a map entry [key value]. */
void ivm_cursor_init_pair(ivm_cursor *c, ivm_value first, ivm_value second);
/* The next element (for maps: *x the key, *y the value); false at the end.
 * A cursor over a lazy sequence realizes it as it goes (ivm_lazy_force); a
 * realization that fails ends the walk (the VM holds the error, and
 * reports it when the native that walked returns). */
bool ivm_cursor_next(ivm_cursor *c, ivm_value *x, ivm_value *y);

#endif
