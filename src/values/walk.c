/* Cursors over the elements of any collection (walk.h). */
#include "values/walk.h"

void ivm_cursor_init(ivm_cursor *c, ivm_value coll)
{
    c->kind = ivm_walk_kind_of(coll);
    switch (c->kind) {
    case IVM_WALK_LIST: c->u.list = coll; break;
    case IVM_WALK_VECTOR: ivm_vec_iter_init(&c->u.vec, coll); break;
    case IVM_WALK_MAP:
    case IVM_WALK_SET: ivm_map_iter_init(&c->u.map, coll); break;
    default: IVM_ASSERT(!"not a collection"); break;
    }
}

void ivm_cursor_init_pair(ivm_cursor *c, ivm_value first, ivm_value second)
{
    c->kind = IVM_WALK_PAIR;
    c->u.pair.items[0] = first;
    c->u.pair.items[1] = second;
    c->u.pair.next = 0;
}

bool ivm_cursor_next(ivm_cursor *c, ivm_value *x, ivm_value *y)
{
    switch (c->kind) {
    case IVM_WALK_LIST:
        if (c->u.list == IVM_EMPTY_LIST)
            return false;
        *x = ivm_as_cons(c->u.list)->first;
        c->u.list = ivm_as_cons(c->u.list)->rest;
        return true;
    case IVM_WALK_VECTOR: return ivm_vec_iter_next(&c->u.vec, x);
    case IVM_WALK_MAP:
    case IVM_WALK_SET: return ivm_map_iter_next(&c->u.map, x, y);
    case IVM_WALK_PAIR:
        if (c->u.pair.next == 2)
            return false;
        *x = c->u.pair.items[c->u.pair.next++];
        return true;
    default: return false;
    }
}
