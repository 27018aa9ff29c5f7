/* Values: the value word, object headers, the type table, construction,
 * structural equality, hashing and EDN printing.
 *
 * The value word (64 bits) is tagged in its low bits:
 *
 *   ........ ........ ........ .......1   integer, 63-bit signed: word >> 1
 *   ........ ........ ........ ......10   float held inline ("flonum")
 *   PPPPPPPP PPPPPPPP ........ SSSSS100   immediate: subtype S, payload P
 *   00000000 00000000 00000000 00000000   nil
 *   AAAAAAAA AAAAAAAA AAAAAAAA AAAAA000   reference to an arena object
 *
 * Integers outside 63 bits and doubles whose exponent does not fit the
 * flonum encoding (Ruby's: exponents near 1.0, i.e. about 1e-77..1e77, plus
 * +0.0) are boxed in the arena. Invariant: an integer that fits 63 bits is
 * never boxed, so two integers are equal iff their words are equal unless
 * both are boxed. Doubles carry no such promise (a flonum and a boxed float
 * are compared by value).
 *
 * Every arena object starts with one header word:
 *   bits  0..7   kind (ivm_kind)
 *   bits  8..15  reserved for the collector (mark bits live in a side
 *                bitmap, so that marking never writes an object)
 *   bits 16..31  kind-specific small field
 *   bits 32..63  size of the whole object in 8-byte words
 *
 * Equality and hashing are structural and never look at addresses, so the
 * collector may copy any object and no program can tell (design brief,
 * point 2). Atoms and regexes, equal only to themselves as in Clojure,
 * carry an id for that. Hashes follow Clojure's hasheq where Clojure defines them. */
#ifndef IVM_VALUE_H
#define IVM_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arena/arena.h"

typedef uint64_t ivm_value;
typedef struct ivm_heap ivm_heap; /* where values are built: below */

/* ---- What a value is --------------------------------------------------- */

typedef enum ivm_type {
    IVM_T_NIL,
    IVM_T_BOOL,
    IVM_T_INT,
    IVM_T_FLOAT,
    IVM_T_CHAR,
    IVM_T_STRING,
    IVM_T_BYTES,
    IVM_T_SYMBOL,
    IVM_T_KEYWORD,
    IVM_T_LIST, /* the empty list and cons cells */
    IVM_T_PROTO,
    IVM_T_FUNCTION, /* closures and native functions */
    /* reserved for later layers */
    IVM_T_VECTOR,
    IVM_T_MAP,
    IVM_T_SET,
    IVM_T_ATOM,
    IVM_T_PID,
    IVM_T_TRANSIENT, /* a vector, map or set being built in place */
    IVM_T_EXCEPTION, /* ex-info's value */
    IVM_T_REGEX,     /* a compiled regular expression (values/regex.h) */
    IVM_T_LAZY,      /* a lazy sequence */
    IVM_T_COUNT
} ivm_type;

/* The kind byte of an object header. IVM_FILLER_TYPE (0xff, arena.h)
 * marks unused space in a region.
 *
 * Layout rule the collector will rely on: an object is its header, then
 * the raw (non-value) words of its kind, then value words up to the end of
 * the object (the header's size). Boxed numbers, strings, symbols,
 * keywords and bytes are raw throughout; a cons has one raw word (its
 * count); a closure none. Prototypes alone mix the two and are traced by
 * their own layout (function.h). */
typedef enum ivm_kind {
    IVM_K_BOXED_INT = 1,
    IVM_K_BOXED_FLOAT,
    IVM_K_STRING,
    IVM_K_BYTES,
    IVM_K_SYMBOL,
    IVM_K_KEYWORD,
    IVM_K_CONS,
    IVM_K_PROTO,
    IVM_K_CLOSURE,
    IVM_K_MULTIFN,   /* a function of several arities (function.h) */
    IVM_K_EXCEPTION, /* what ex-info makes: message, data, cause */
    IVM_K_ATOM,      /* an atom's identity (and a shared atom's cell) */
    IVM_K_REGEX = 13, /* a regex: its id and pattern (values/regex.h) */
    IVM_K_LAZY = 14, /* a lazy sequence node (ivm_lazy) */
    IVM_K_VECTOR = 16, /* 16..23: persistent vectors (values/vector.h) */
    IVM_K_VECTOR_LAST = 23,
    IVM_K_MAP = 24, /* 24..31: hash maps and sets (values/map.h) */
    IVM_K_MAP_LAST = 31,
    IVM_K_KIND_LIMIT = 32, /* every kind of value object is below this */
    /* Collector-only headers: never the kind of a reachable value. */
    IVM_K_DEAD = 0xfd,      /* verify mode's poison over an unreachable object */
    IVM_K_FORWARDED = 0xfe, /* an evacuated object: bits 8.. hold its copy */
    IVM_K_FILLER = IVM_FILLER_TYPE
} ivm_kind;

/* Where an object's values are (the layout rule above): by kind, the index
 * of its first value word (1 + its raw words), which runs to the end of the
 * object; 0 for kinds with no value words and for anything that is not a
 * value kind. Prototypes, the one kind that mixes, say IVM_PROTO_LAYOUT and
 * are traced by their own layout (function.h). */
#define IVM_PROTO_LAYOUT 0xffu
extern const uint8_t ivm_kind_first_value[256];
/* A valid object header of a value kind, as the collector's verifier
 * checks it. */
bool ivm_kind_is_value(unsigned kind);

enum {
    IVM_IMM_TRUE = 1,
    IVM_IMM_FALSE,
    IVM_IMM_EMPTY_LIST,
    IVM_IMM_CHAR,    /* payload: Unicode code point */
    IVM_IMM_NATIVE,  /* payload: index in the native function table */
    IVM_IMM_UNBOUND, /* a global slot with no value; never seen by programs */
    IVM_IMM_PID,     /* payload: a process id (processes layer) */
};

#define IVM_IMM(sub, payload)                                                  \
    ((ivm_value)(((uint64_t)(payload) << 32) | ((uint64_t)(sub) << 3) | 4u))
#define IVM_NIL ((ivm_value)0)
#define IVM_TRUE IVM_IMM(IVM_IMM_TRUE, 0)
#define IVM_FALSE IVM_IMM(IVM_IMM_FALSE, 0)
#define IVM_EMPTY_LIST IVM_IMM(IVM_IMM_EMPTY_LIST, 0)
#define IVM_UNBOUND IVM_IMM(IVM_IMM_UNBOUND, 0)

#define IVM_FIXNUM_MIN (-((int64_t)1 << 62))
#define IVM_FIXNUM_MAX (((int64_t)1 << 62) - 1)

static inline bool ivm_is_fixnum(ivm_value v) { return v & 1; }
static inline bool ivm_is_flonum(ivm_value v) { return (v & 3) == 2; }
static inline bool ivm_is_imm(ivm_value v) { return (v & 7) == 4; }
static inline bool ivm_is_obj(ivm_value v) { return (v & 7) == 0 && v != 0; }
static inline unsigned ivm_imm_sub(ivm_value v) { return (v >> 3) & 31; }
static inline uint32_t ivm_imm_payload(ivm_value v) { return (uint32_t)(v >> 32); }
static inline bool ivm_truthy(ivm_value v) { return v != IVM_NIL && v != IVM_FALSE; }
static inline ivm_value ivm_bool(bool b) { return b ? IVM_TRUE : IVM_FALSE; }
static inline ivm_value ivm_fixnum(int64_t i) { return ((uint64_t)i << 1) | 1; }
static inline int64_t ivm_fixnum_value(ivm_value v) { return (int64_t)v >> 1; }
static inline ivm_value ivm_char(uint32_t cp) { return IVM_IMM(IVM_IMM_CHAR, cp); }
static inline ivm_value ivm_native(uint32_t i) { return IVM_IMM(IVM_IMM_NATIVE, i); }
static inline bool ivm_is_native(ivm_value v)
{
    return ivm_is_imm(v) && ivm_imm_sub(v) == IVM_IMM_NATIVE;
}
/* A process id: an immediate, so pids compare with = and cost nothing. */
static inline ivm_value ivm_pid(uint32_t id) { return IVM_IMM(IVM_IMM_PID, id); }
static inline bool ivm_is_pid(ivm_value v)
{
    return ivm_is_imm(v) && ivm_imm_sub(v) == IVM_IMM_PID;
}

/* ---- Objects ----------------------------------------------------------- */

typedef uint64_t ivm_header;

static inline ivm_header *ivm_obj_header(ivm_value v) { return (ivm_header *)(uintptr_t)v; }
static inline unsigned ivm_obj_kind(ivm_value v) { return (unsigned)(*ivm_obj_header(v) & 0xff); }
static inline uint32_t ivm_header_words(ivm_header h) { return (uint32_t)(h >> 32); }
static inline unsigned ivm_header_small(ivm_header h) { return (unsigned)((h >> 16) & 0xffff); }
static inline ivm_header ivm_make_header(unsigned kind, unsigned small, size_t bytes)
{
    return (ivm_header)kind | ((ivm_header)small << 16) |
           ((ivm_header)(bytes / 8) << 32);
}

typedef struct ivm_boxed_int { ivm_header h; int64_t i; } ivm_boxed_int;
typedef struct ivm_boxed_float { ivm_header h; double d; } ivm_boxed_float;

/* Strings, symbols, keywords and bytes share one layout. `aux` is the
 * number of code points for strings, the length of the namespace part
 * (0 if none) for symbols and keywords, and unused for bytes. The bytes are
 * followed by a NUL that is not counted in `len`. */
typedef struct ivm_str {
    ivm_header h;
    uint32_t len;
    uint32_t hash;
    uint32_t aux;
    uint32_t reserved;
    uint8_t bytes[];
} ivm_str;

/* What ex-info builds: a thrown value with a message and data. */
typedef struct ivm_exception {
    ivm_header h;
    ivm_value message; /* string */
    ivm_value data;    /* a map, or nil */
    ivm_value cause;   /* another thrown value, or nil */
} ivm_exception;

ivm_value ivm_exception_new(ivm_heap *h, ivm_value message, ivm_value data,
                            ivm_value cause);

/* An atom. Its identity is immutable: an id, and the process that owns it.
 * A private atom's value lives in its owner's table (the processes layer:
 * fork copies that table, so parent and child each see their own value);
 * a shared atom's value is `cell`, the one word of the heap a program can
 * change, only by compare-and-set. Atoms are equal only to themselves. */
typedef struct ivm_atom {
    ivm_header h;
    uint64_t id;
    uint32_t owner; /* the creating process's id */
    uint32_t shared;
    ivm_value cell; /* shared atoms only */
} ivm_atom;

ivm_value ivm_atom_new(ivm_heap *h, uint64_t id, uint32_t owner, bool shared,
                       ivm_value value);
static inline ivm_atom *ivm_as_atom(ivm_value v) { return (ivm_atom *)(uintptr_t)v; }
static inline ivm_exception *ivm_as_exception(ivm_value v)
{
    return (ivm_exception *)(uintptr_t)v;
}

/* A lazy sequence: a node that becomes, the first time something looks
 * at it, either empty or a first element and the rest of the sequence (a
 * list, or another lazy node). Until then `thunk` is the function of no
 * arguments that computes it.
 *
 * This is the one place besides atoms where the heap changes after a
 * value is built: realizing a node caches its result in it, and the
 * result is newer than the node. The cache is written like a shared
 * atom's cell: first and rest are stored first, then thunk is cleared
 * with a release store, and readers load thunk with acquire; two threads
 * that realize one node at once both compute it, the last store wins, and
 * pure code cannot tell them apart. The collector traces all three words
 * (the concurrent collector must treat a realization as it treats an
 * atom's swap: a barrier on the cell, none on reads).
 *
 * Realizing needs the VM (it calls thunk): the values layer reaches it
 * through ivm_lazy_force_hook, which the VM sets, so that printing,
 * equality, hashing and the collection walks realize lazy nodes as they
 * go. */
typedef struct ivm_lazy {
    ivm_header h;
    ivm_value thunk; /* nil once realized */
    ivm_value first;
    ivm_value rest;  /* IVM_UNBOUND: realized empty */
} ivm_lazy;

/* Realizes a lazy node on the calling thread's VM: false when that
 * failed (the VM holds the error) or no VM runs on this thread. */
extern bool (*ivm_lazy_force_hook)(ivm_value node);

ivm_value ivm_lazy_new(ivm_heap *h, ivm_value thunk);
/* A node realized already: (cons first rest) onto a lazy rest. */
ivm_value ivm_lazy_cons(ivm_heap *h, ivm_value first, ivm_value rest);
/* Realizes node if it is not yet (ivm_lazy_force_hook); true if it is now. */
bool ivm_lazy_force(ivm_value node);

typedef struct ivm_cons {
    ivm_header h;
    uint64_t count;
    ivm_value first;
    ivm_value rest; /* a list: IVM_EMPTY_LIST or another cons */
} ivm_cons;

static inline bool ivm_is_kind(ivm_value v, unsigned k) { return ivm_is_obj(v) && ivm_obj_kind(v) == k; }
static inline ivm_str *ivm_as_str(ivm_value v)
{
    IVM_ASSERT(ivm_is_obj(v) && ivm_obj_kind(v) >= IVM_K_STRING && ivm_obj_kind(v) <= IVM_K_KEYWORD);
    return (ivm_str *)(uintptr_t)v;
}
static inline ivm_cons *ivm_as_cons(ivm_value v)
{
    IVM_ASSERT(ivm_is_kind(v, IVM_K_CONS));
    return (ivm_cons *)(uintptr_t)v;
}
static inline bool ivm_is_cons(ivm_value v) { return ivm_is_kind(v, IVM_K_CONS); }
static inline bool ivm_is_list(ivm_value v) { return v == IVM_EMPTY_LIST || ivm_is_cons(v); }
static inline bool ivm_is_lazy(ivm_value v) { return ivm_is_kind(v, IVM_K_LAZY); }
static inline ivm_lazy *ivm_as_lazy(ivm_value v)
{
    IVM_ASSERT(ivm_is_lazy(v));
    return (ivm_lazy *)(uintptr_t)v;
}
static inline bool ivm_lazy_realized(ivm_value v)
{
    return __atomic_load_n(&ivm_as_lazy(v)->thunk, __ATOMIC_ACQUIRE) == IVM_NIL;
}
/* Stores a realization (see ivm_lazy): rest IVM_UNBOUND for empty. */
static inline void ivm_lazy_set(ivm_value v, ivm_value first, ivm_value rest)
{
    ivm_lazy *l = ivm_as_lazy(v);
    /* release: a concurrent collector reads them without the thunk */
    __atomic_store_n(&l->first, first, __ATOMIC_RELEASE);
    __atomic_store_n(&l->rest, rest, __ATOMIC_RELEASE);
    __atomic_store_n(&l->thunk, IVM_NIL, __ATOMIC_RELEASE);
}

ivm_type ivm_type_of(ivm_value v);
const char *ivm_type_name(ivm_type t);

/* ---- The heap: where values are built ---------------------------------- */

/* The names native functions print with (set by the bytecode layer). */
typedef const char *(*ivm_native_namer)(const ivm_heap *h, uint32_t index);

typedef struct ivm_intern_table {
    ivm_value *slots; /* open addressing; 0 = empty */
    uint32_t capacity; /* a power of two */
    uint32_t count;
} ivm_intern_table;

/* What the heaps of all scheduler threads share: the arena, the interned
 * names (under intern_lock), the transient and regex ids (atomic) and the
 * compiled regexes (under the cache's own lock, values/regex.h). */
typedef struct ivm_heap_shared {
    ivm_arena arena;
    ivm_intern_table interned; /* symbols and keywords; a root */
    ivm_mutex *intern_lock;
    uint64_t last_transient_id;
    uint64_t last_regex_id;
    struct ivm_regex_cache *regexes; /* bootstrap memory, not values */
} ivm_heap_shared;

/* One thread's view of the heap: its own bump cursor over the shared
 * arena. ivm_heap_init makes the shared part (the heap owns it);
 * ivm_heap_init_thread gives another thread a heap over the same one. */
struct ivm_heap {
    ivm_arena *arena;       /* &shared->arena */
    ivm_heap_shared *shared;
    ivm_bump bump;
    bool owner;             /* made the shared part: destroys it */
    ivm_native_namer native_name;
    /* Tests only: replaces ivm_hash for hash map and set keys, to force
     * collisions. NULL in normal use. */
    uint32_t (*key_hash_for_tests)(ivm_value key);
    /* The collector's barriers (the VM's; NULL without one): see
     * ivm_heap_shade and ivm_heap_forward. */
    void (*shade)(ivm_heap *h, ivm_value v);
    ivm_value (*forward)(ivm_heap *h, ivm_value v);
};

static inline bool ivm_heap_marking(const ivm_heap *h)
{
    return __atomic_load_n(&h->arena->marking, __ATOMIC_ACQUIRE);
}

/* Whether a concurrent cycle marks or evacuates: a transient's nodes are
 * then copied, not edited in place (gc.h). */
static inline bool ivm_heap_no_edits(const ivm_heap *h)
{
    return __atomic_load_n(&h->arena->no_edits, __ATOMIC_ACQUIRE);
}

/* A store into a mutable object (a transient's own fields) gives what it
 * stores to the barrier while a concurrent cycle marks. */
static inline void ivm_heap_shade(ivm_heap *h, ivm_value v)
{
    if (h->shade && ivm_heap_marking(h))
        h->shade(h, v);
}

/* And stores the copy of what it stores while the collector evacuates. */
static inline ivm_value ivm_heap_forward(ivm_heap *h, ivm_value v)
{
    return h->forward && ivm_heap_no_edits(h) ? h->forward(h, v) : v;
}

bool ivm_heap_init(ivm_heap *h, size_t arena_bytes, ivm_arena_mode mode);
void ivm_heap_init_thread(ivm_heap *h, const ivm_heap *main);
void ivm_heap_destroy(ivm_heap *h);

/* A fresh id for a transient (in-place) build: the nodes a transient made
 * carry its id and only it may change them. 0 is never used. */
static inline uint64_t ivm_heap_transient_id(ivm_heap *h)
{
    return __atomic_add_fetch(&h->shared->last_transient_id, 1, __ATOMIC_RELAXED);
}
static inline uint64_t ivm_heap_last_transient_id(const ivm_heap *h)
{
    return __atomic_load_n(&h->shared->last_transient_id, __ATOMIC_RELAXED);
}

/* Allocates an object of `bytes` (rounded up to 8) and writes its header. */
static inline void *ivm_heap_alloc(ivm_heap *h, unsigned kind, unsigned small,
                                   size_t bytes)
{
    bytes = (bytes + 7) & ~(size_t)7;
    ivm_header *o = ivm_arena_alloc(h->arena, &h->bump, bytes);
    *o = ivm_make_header(kind, small, bytes);
    return o;
}

/* What a transient (in-place) operation on a vector, map or set says. */
#define IVM_TRANSIENT_STATUS_DEFINED
typedef enum ivm_transient_status {
    IVM_TRANSIENT_OK,
    IVM_TRANSIENT_FROZEN,    /* used after persistent! */
    IVM_TRANSIENT_NOT_OWNER, /* used by a process other than its owner */
} ivm_transient_status;

/* ---- Numbers ----------------------------------------------------------- */

ivm_value ivm_int_box(ivm_heap *h, int64_t i);
static inline ivm_value ivm_int(ivm_heap *h, int64_t i)
{
    if (i >= IVM_FIXNUM_MIN && i <= IVM_FIXNUM_MAX)
        return ivm_fixnum(i);
    return ivm_int_box(h, i);
}
static inline bool ivm_is_int(ivm_value v)
{
    return ivm_is_fixnum(v) || ivm_is_kind(v, IVM_K_BOXED_INT);
}
static inline int64_t ivm_int_value(ivm_value v)
{
    IVM_ASSERT(ivm_is_int(v));
    return ivm_is_fixnum(v) ? ivm_fixnum_value(v)
                            : ((ivm_boxed_int *)(uintptr_t)v)->i;
}

ivm_value ivm_float_box(ivm_heap *h, double d);
static inline ivm_value ivm_float(ivm_heap *h, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    unsigned top = (unsigned)(bits >> 60) & 7;
    if (bits != 0x3000000000000000u && (top == 3 || top == 4))
        return (((bits << 3) | (bits >> 61)) & ~(uint64_t)1) | 2;
    if (bits == 0)
        return 0x8000000000000002u;
    return ivm_float_box(h, d);
}
static inline bool ivm_is_float(ivm_value v)
{
    return ivm_is_flonum(v) || ivm_is_kind(v, IVM_K_BOXED_FLOAT);
}
static inline double ivm_float_value(ivm_value v)
{
    if (!ivm_is_flonum(v))
        return ((ivm_boxed_float *)(uintptr_t)v)->d;
    if (v == 0x8000000000000002u)
        return 0.0;
    uint64_t b63 = v >> 63;
    uint64_t t = (2 - b63) | (v & ~(uint64_t)3);
    uint64_t bits = (t >> 3) | (t << 61);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* The IEEE 754 bits of a float value (what .ivc files record). */
static inline uint64_t ivm_float_bits(ivm_value v)
{
    double d = ivm_float_value(v);
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return bits;
}

/* ---- Strings, bytes, symbols, keywords --------------------------------- */

/* A new string holding a copy of `bytes` (which must be valid UTF-8; see
 * ivm_utf8_valid). */
ivm_value ivm_string(ivm_heap *h, const void *bytes, size_t len);
ivm_value ivm_bytes(ivm_heap *h, const void *bytes, size_t len);
/* Interned: the same name always gives an equal value. */
ivm_value ivm_symbol(ivm_heap *h, const void *name, size_t len);
ivm_value ivm_keyword(ivm_heap *h, const void *name, size_t len);
/* strlen, which the freestanding core may not call. */
static inline size_t ivm_cstr_len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}
/* Whether v is the symbol or keyword (kind) spelled `name`. */
static inline bool ivm_is_named(ivm_value v, unsigned kind, const char *name)
{
    if (!ivm_is_kind(v, kind))
        return false;
    const ivm_str *s = (const ivm_str *)(uintptr_t)v;
    size_t n = ivm_cstr_len(name);
    return s->len == n && memcmp(s->bytes, name, n) == 0;
}
/* Decodes one code point from valid UTF-8 at *p, advancing it. */
uint32_t ivm_utf8_next(const uint8_t **p);
/* The length of the valid UTF-8 sequence starting at p (before end), or 0
 * when there is none (for readers of untrusted text). */
size_t ivm_utf8_char_len(const char *p, const char *end);
/* Walks the UTF-16 code units Java would see for valid UTF-8 text (for
 * Java-compatible hashing and comparison): {text, text + len, 0}. */
typedef struct ivm_utf16_cursor { const uint8_t *p, *end; uint32_t low; } ivm_utf16_cursor;
bool ivm_utf16_next(ivm_utf16_cursor *c, uint32_t *unit);
static inline ivm_value ivm_symbol_cstr(ivm_heap *h, const char *name)
{
    return ivm_symbol(h, name, ivm_cstr_len(name));
}
bool ivm_utf8_valid(const uint8_t *s, size_t len);
/* True for strings, symbols, keywords and bytes (the ivm_str layout). */
static inline bool ivm_is_str_like(ivm_value v)
{
    if (!ivm_is_obj(v))
        return false;
    unsigned k = ivm_obj_kind(v);
    return k == IVM_K_STRING || k == IVM_K_BYTES || k == IVM_K_SYMBOL ||
           k == IVM_K_KEYWORD;
}

/* ---- Lists ------------------------------------------------------------- */

ivm_value ivm_cons_new(ivm_heap *h, ivm_value first, ivm_value rest);
static inline uint64_t ivm_list_count(ivm_value list)
{
    return list == IVM_EMPTY_LIST ? 0 : ivm_as_cons(list)->count;
}

/* ---- Equality, hashing, printing --------------------------------------- */

/* Clojure's `=`: structural, 1 and 1.0 differ, NaN differs from itself.
 * Iterative: depth of nesting costs heap, not C stack. */
bool ivm_equal(ivm_value a, ivm_value b);
/* Agrees with ivm_equal; Clojure's hasheq where Clojure defines it. */
uint32_t ivm_hash(ivm_value v);

/* A growable byte buffer on the bootstrap allocator. */
typedef struct ivm_buf {
    char *data;
    size_t len;
    size_t cap;
} ivm_buf;

void ivm_buf_free(ivm_buf *b);
void ivm_buf_add(ivm_buf *b, const void *data, size_t len);
void ivm_buf_add_cstr(ivm_buf *b, const char *s);
void ivm_buf_add_char(ivm_buf *b, char c);
void ivm_buf_add_int(ivm_buf *b, int64_t i);
void ivm_buf_add_float(ivm_buf *b, double d); /* as Java's Double.toString */
void ivm_buf_add_utf8(ivm_buf *b, uint32_t code_point);

/* Appends bytes as lowercase hex pairs. */
void ivm_buf_add_hex(ivm_buf *b, const uint8_t *bytes, size_t len);
/* Appends a double-quoted string literal: " \ and \n \t \r \b \f escaped;
 * with escape_controls, other control characters as \uXXXX too (a line-
 * oriented format needs that; pr, like Clojure's, prints them raw). */
void ivm_buf_add_string_literal(ivm_buf *b, const uint8_t *s, size_t len,
                                bool escape_controls);
/* The names of characters written \name: "newline", "space", "tab",
 * "return", "backspace", "formfeed". NULL for other characters. */
const char *ivm_char_name(uint32_t c);
/* The character a \name stands for; false if `name` is no such name. */
bool ivm_char_named(const char *name, size_t len, uint32_t *c);

/* Appends v as EDN. `readably` is pr (strings quoted, chars as \c);
 * otherwise print (strings and chars as their text), at every depth. */
void ivm_print(const ivm_heap *h, ivm_buf *out, ivm_value v, bool readably);

#endif
