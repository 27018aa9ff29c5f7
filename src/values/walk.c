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

uint64_t ivm_sequential_count(ivm_value v)
{
    if (ivm_is_vector(v))
        return ivm_vec_count(v);
    uint64_t n = 0;
    while (ivm_is_lazy(v)) { /* the lazy part, then the list it may end in */
        if (!ivm_lazy_force(v) || ivm_as_lazy(v)->rest == IVM_UNBOUND)
            return n;
        n++;
        v = ivm_as_lazy(v)->rest;
    }
    return n + (ivm_is_list(v) ? ivm_list_count(v) : 0);
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
        if (ivm_is_lazy(c->u.list)) {
            if (!ivm_lazy_force(c->u.list))
                return false;
            ivm_lazy *l = ivm_as_lazy(c->u.list);
            if (l->rest == IVM_UNBOUND)
                return false;
            *x = l->first;
            c->u.list = l->rest;
            return true;
        }
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
