/* What the core library's files (core.c, core_coll.c, core_seq.c,
 * core_string.c, core_regex.c) share: iteration over any seqable value, growable value
 * arrays, transient builders, error helpers and their native tables. Not
 * part of the core's interface (core.h). */
#ifndef IVM_CORE_INTERNAL_H
#define IVM_CORE_INTERNAL_H

#include "compiler/core.h"
#include "ivm/platform.h"
#include "values/map.h"
#include "values/vector.h"
#include "values/walk.h"
#include "values/worklist.h"

#define NATIVE(name)                                                           \
    static ivm_status name(ivm_vm *vm, const ivm_value *args, uint32_t nargs, \
                           ivm_value *result)
#define ANY UINT32_MAX
/* Returns a failed status unchanged (IVM_ERROR or IVM_INTERRUPTED). */
#define CHECK(expr)                                                            \
    do {                                                                       \
        ivm_status check_status_ = (expr);                                     \
        if (check_status_ != IVM_OK)                                           \
            return check_status_;                                              \
    } while (0)

/* ---- Native tables, one per file --------------------------------------- */

extern const ivm_native_def ivm_core_num_natives[];
extern const uint32_t ivm_core_num_native_count;
extern const ivm_native_def ivm_core_coll_natives[];
extern const uint32_t ivm_core_coll_native_count;
extern const ivm_native_def ivm_core_seq_natives[];
extern const uint32_t ivm_core_seq_native_count;
extern const ivm_native_def ivm_core_string_natives[];
extern const uint32_t ivm_core_string_native_count;
extern const ivm_native_def ivm_core_regex_natives[];
extern const uint32_t ivm_core_regex_native_count;

/* The regex forms of clojure.string/split (args: s regex [limit]) and
 * replace / replace-first (args: s regex replacement), core_regex.c's;
 * core_string.c's natives call them when given a regex. */
ivm_status ivm_core_regex_split(ivm_vm *vm, const ivm_value *args, uint32_t nargs,
                                ivm_value *result);
ivm_status ivm_core_regex_replace(ivm_vm *vm, const ivm_value *args, bool all,
                                  const char *fn, ivm_value *result);

/* ---- Errors ------------------------------------------------------------ */

/* message + v as pr writes it (cut at 60 bytes): "Argument must be an
 * integer: 1.5". Always IVM_ERROR. */
ivm_status ivm_core_raise_with(ivm_vm *vm, const char *message, ivm_value v);
/* "Index 5 out of bounds for length 3" */
ivm_status ivm_core_raise_index(ivm_vm *vm, int64_t i, uint64_t len);
/* IVM_OK for IVM_TRANSIENT_OK; otherwise raises Clojure's message. */
ivm_status ivm_core_transient_status(ivm_vm *vm, ivm_transient_status s);
/* Appends pr of v, cut at 60 bytes (on a character boundary) with "...". */
void ivm_core_add_short(ivm_vm *vm, ivm_buf *b, ivm_value v);

/* ---- Values ------------------------------------------------------------ */

static inline bool ivm_core_is_string(ivm_value v) { return ivm_is_kind(v, IVM_K_STRING); }
static inline bool ivm_core_is_number(ivm_value v) { return ivm_is_int(v) || ivm_is_float(v); }
/* Natives, closures and multi-arity functions. */
static inline bool ivm_core_is_fn(ivm_value v) { return ivm_type_of(v) == IVM_T_FUNCTION; }
static inline bool ivm_core_is_transient(ivm_value v)
{
    return ivm_is_transient_vector(v) || ivm_is_transient_map(v) || ivm_is_transient_set(v);
}
/* A list of items[0..n) (items may be NULL when n is 0). */
ivm_value ivm_core_list(ivm_heap *h, const ivm_value *items, size_t n);
/* A list of the worklist's items, which is then freed. */
ivm_value ivm_core_list_of(ivm_heap *h, ivm_worklist *w);
/* The map entry [k v]. */
ivm_value ivm_core_entry(ivm_heap *h, ivm_value k, ivm_value v);
/* A 2-element vector (or subvector): a map entry's shape. */
bool ivm_core_is_pair(ivm_value v);
/* The string of the buffer's bytes (valid UTF-8); frees the buffer. */
ivm_value ivm_core_buf_string(ivm_vm *vm, ivm_buf *b);
/* Appends v as str does (ivm_add_str, bytecode/vm.h). */
void ivm_core_add_str(ivm_vm *vm, ivm_buf *b, ivm_value v);
/* The byte offset of code point `index` (<= its count) of a string. */
size_t ivm_core_cp_offset(const ivm_str *s, uint64_t index);

/* ---- Iteration over anything seqable ----------------------------------- */

/* nil, lists, vectors, maps (entries as [k v] vectors), sets, strings
 * (characters) and bytes (integers 0..255). */
typedef struct ivm_core_iter {
    int kind;
    ivm_cursor c;
    const uint8_t *p, *end;
} ivm_core_iter;

bool ivm_core_seqable(ivm_value v);
/* Raises "Don't know how to create ISeq ..." for anything not seqable.
 * A lazy sequence is realized whole first, so that the walk runs no code
 * (which could collect what the caller holds unrooted: builders, lists of
 * results). */
ivm_status ivm_core_iter_init(ivm_vm *vm, ivm_core_iter *it, ivm_value coll);
/* The same, but a lazy sequence is realized as the walk reaches it: for
 * the natives that may stop early on an infinite one (first, take, some),
 * which hold nothing unrooted but the sequence's own elements. */
ivm_status ivm_core_iter_init_lazy(ivm_vm *vm, ivm_core_iter *it, ivm_value coll);
bool ivm_core_iter_next(ivm_heap *h, ivm_core_iter *it, ivm_value *x);
/* Appends every element of coll to w (initialised by the caller). */
ivm_status ivm_core_collect(ivm_vm *vm, ivm_value coll, ivm_worklist *w);
/* Elements of a seqable value in O(1) where it knows them, else by walking
 * (lists know theirs). Raises for what is not seqable. */
ivm_status ivm_core_seq_count(ivm_vm *vm, ivm_value coll, uint64_t *out);

/* ---- Lazy sequences ---------------------------------------------------- */

/* The sequence after the first n elements of seq (a lazy node), realizing
 * the n nodes it passes (not the one it stops at): a lazy node, a list, or
 * () when seq is shorter. Only the node being passed is rooted, so a
 * caller that let go of seq's head (a native clearing its spent argument,
 * opcodes.h) walks a long sequence in constant memory. */
ivm_status ivm_core_lazy_skip(ivm_vm *vm, ivm_value seq, uint64_t n, ivm_value *out);
/* Whether any of args[0..n) is a lazy sequence. */
bool ivm_core_any_lazy(const ivm_value *args, uint32_t n);
/* Calls the prelude's function `name` (compiling its section first if
 * need be), clearing the spent argument slots. */
ivm_status ivm_core_call_prelude(ivm_vm *vm, const char *name, const ivm_value *args,
                                 uint32_t nargs, ivm_value *result);
/* Calls the lazy version of a core function, the global ivm.lazy/NAME
 * (the prelude's, written with lazy-seq): what map, filter, concat and the
 * like do when given a lazy sequence, which may be infinite. */
ivm_status ivm_core_call_lazy(ivm_vm *vm, const char *name, const ivm_value *args,
                              uint32_t nargs, ivm_value *result);

/* ---- Building in place ------------------------------------------------- */

/* conj onto a collection, one element at a time: through a transient for
 * vectors, maps and sets; by cons for lists and nil. */
enum { IVM_CORE_B_LIST, IVM_CORE_B_VEC, IVM_CORE_B_MAP, IVM_CORE_B_SET };
typedef struct ivm_core_builder {
    int kind; /* IVM_CORE_B_... */
    ivm_value v; /* the transient, or the list so far */
} ivm_core_builder;

ivm_status ivm_core_builder_init(ivm_vm *vm, ivm_core_builder *b, ivm_value coll);
ivm_status ivm_core_builder_add(ivm_vm *vm, ivm_core_builder *b, ivm_value x);
ivm_value ivm_core_builder_finish(ivm_vm *vm, ivm_core_builder *b);
/* A fresh vector builder. */
void ivm_core_builder_vector(ivm_vm *vm, ivm_core_builder *b);

/* ---- Shared collection operations -------------------------------------- */

ivm_status ivm_core_conj(ivm_vm *vm, ivm_value coll, ivm_value x, ivm_value *out);
ivm_status ivm_core_assoc(ivm_vm *vm, ivm_value coll, ivm_value k, ivm_value v,
                          ivm_value *out);
/* get: false when coll has no such key (or is not something get reads). */
bool ivm_core_get(ivm_vm *vm, ivm_value coll, ivm_value k, ivm_value *out);
/* (into to from) */
ivm_status ivm_core_into(ivm_vm *vm, ivm_value to, ivm_value from, ivm_value *out);
/* The count of a collection, string, bytes or transient; raises
 * "count not supported on this type" otherwise. */
ivm_status ivm_core_count(ivm_vm *vm, ivm_value v, uint64_t *out);
/* A native of the core, by its C function: lets reduce recognise conj. */
bool ivm_core_is_native_fn(ivm_vm *vm, ivm_value f, ivm_native_fn fn);
ivm_status ivm_core_conj_native(ivm_vm *vm, const ivm_value *args,
                                uint32_t nargs, ivm_value *result);

static inline ivm_status ivm_core_call1(ivm_vm *vm, ivm_value f, ivm_value a,
                                        ivm_value *out)
{
    return ivm_core_call(vm, f, 1, &a, out);
}
static inline ivm_status ivm_core_call2(ivm_vm *vm, ivm_value f, ivm_value a,
                                        ivm_value b, ivm_value *out)
{
    ivm_value args[2] = {a, b};
    return ivm_core_call(vm, f, 2, args, out);
}

#endif
