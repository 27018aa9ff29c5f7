/* The collector: precise marking from the roots, then defragmentation by
 * evacuating the sparse regions, with a heap verifier and statistics. It
 * works in two ways: a stop-the-world collection (ivm_gc_collect, below),
 * and concurrent cycles beside the mutators (the sections "Concurrent
 * cycles" and "Concurrent evacuation" at the end; bytecode/collector.c
 * drives them).
 *
 * A stop-the-world collection (the caller stops every mutator at a
 * safepoint first):
 *  1. (The collecting thread's bump cursor, gc->heap's, keeps its region,
 *     which is walked up to the cursor and is never evacuated; the VM has
 *     the other threads' cursors retire theirs first.)
 *  2. Mark: from every root, set the object's bit in a side bitmap (one
 *     bit per arena word, at the object's header) and add its size to its
 *     region's live bytes. Marking never writes an object, so readers of
 *     values are never disturbed (the concurrent stage relies on it).
 *  3. Select: a FULL region with no live byte is freed at once; a large
 *     span whose object is unmarked is freed; when the collection may move
 *     objects, FULL regions whose live bytes are under IVM_GC_EVACUATE_PCT
 *     percent of a region become candidates, sparsest first, as many as
 *     the free regions can take.
 *  4. Evacuate and fix: every root and every value word of every live
 *     object outside the candidates that refers into a candidate is
 *     rewritten to the object's copy, made on first sight in a fresh
 *     region (its header in the old place becomes a forwarding header);
 *     copies are scanned in turn (Cheney's order).
 *  5. The candidates go back to the free list and their memory back to
 *     the host.
 *
 * Roots: the collector visits the symbol table itself; everything else is
 * the embedder's (the VM's) business: it passes a function that calls
 * ivm_gc_visit on each slot holding a value (and may be called twice per
 * collection, once to mark and once to fix). A collection that may not
 * move objects (because C code holds values it cannot update, see the
 * VM's root rule) only marks and frees.
 *
 * Invariants relied on:
 *  - a value word that refers to an object holds the address of its
 *    header (no interior references);
 *  - the bits of an object that is not reachable are never set, and the
 *    value words of an unmarked object are never read (they may refer to
 *    freed regions);
 *  - outside a collection, the bitmap bits of a FREE region are clear. */
#ifndef IVM_GC_H
#define IVM_GC_H

#include "values/function.h"
#include "values/value.h"

#define IVM_GC_EVACUATE_PCT 70      /* regions at most this full are evacuated */
#define IVM_GC_GROWTH 2             /* collect after allocating GROWTH x live */
#define IVM_GC_MIN_BUDGET ((uint64_t)64 << 20) /* but never more often than this */
#define IVM_GC_PAUSE_BUCKETS 512    /* log-linear histogram of pauses */
#define IVM_GC_NO_BLACK UINT32_MAX  /* ivm_gc.black outside concurrent cycles */

typedef struct ivm_gc ivm_gc;
/* Calls ivm_gc_visit(gc, slot) for every root slot of the embedder. */
typedef void (*ivm_gc_roots_fn)(void *context, ivm_gc *gc);

/* The parts of a handshake, timed apart (ivm_gc_note_handshake_part). */
typedef enum {
    IVM_GC_HS_ROOTS,   /* the thread's own roots */
    IVM_GC_HS_RECORDS, /* the records of the processes it runs */
    IVM_GC_HS_TRACE,   /* tracing what it built since the cycle began */
    IVM_GC_HS_FIX,     /* fixing what it built since its last handshake */
    IVM_GC_HANDSHAKE_PARTS
} ivm_gc_handshake_part;

typedef struct ivm_gc_stats {
    uint64_t collections;
    uint64_t moving_collections; /* those allowed to evacuate */
    uint64_t pause_total_ns, pause_max_ns;
    uint32_t pause_histogram[IVM_GC_PAUSE_BUCKETS];
    uint64_t bytes_copied;
    uint64_t objects_copied;
    uint64_t regions_evacuated;
    uint64_t regions_freed;   /* found empty, evacuated, or large spans */
    uint64_t live_bytes;      /* after the last collection */
    uint64_t verified_objects; /* checked by verify mode, all collections */
    /* Concurrent cycles: their durations, and the handshakes' pauses
     * (each a thread's, at its safepoint; counted atomically). */
    uint64_t cycles;
    uint64_t cycle_total_ns, cycle_max_ns;
    uint64_t evac_bytes, evac_regions, evac_rounds, evac_aborted;
    uint64_t handshakes;
    uint64_t handshake_max_ns;
    /* The longest time one handshake spent on each part of its work. */
    uint64_t handshake_part_max_ns[IVM_GC_HANDSHAKE_PARTS];
    uint64_t stalls, stall_total_ns, stall_max_ns; /* waits for a cycle, short of memory */
    uint32_t handshake_histogram[IVM_GC_PAUSE_BUCKETS];
} ivm_gc_stats;

struct ivm_gc {
    ivm_heap *heap;
    ivm_gc_roots_fn roots;
    void *roots_context;

    /* One mark bit per arena word: reserved whole, committed as touched. */
    uint8_t *marks;
    size_t marks_bytes;

    /* Objects marked but not yet scanned. Kept between collections, so
     * that a collection allocates nothing once the stack has grown. */
    ivm_value *stack;
    size_t stack_len, stack_cap;

    /* Per collection: regions chosen for evacuation and the regions their
     * copies went to, in order (index lists sized to the region table). */
    uint32_t *evacuating;
    uint32_t nevacuating;
    uint32_t *to_regions;
    uint32_t nto;
    uint32_t *kept; /* regions whose live objects stay in place */
    uint32_t nkept;
    ivm_bump to; /* where copies go */
    /* What ivm_gc_visit does: fix references, check them, or mark. */
    bool fixing, verifying;
    /* Counts root walks: a root shared by many holders (a frozen stack
     * segment) is walked once per walk, by whoever first sees it. */
    uint32_t walk;
    const char *verify_failed; /* the first bad root verify found */
    ivm_value verify_failed_value;

    /* Concurrent cycles (see below). A thread's visitor (handoff) only
     * stacks what it visits, for ivm_gc_hand_over to give its collector;
     * the collector takes what was handed over from its inbox. */
    bool handoff;
    struct ivm_gc *collector;
    uint32_t cycle; /* cycles begun, stop-the-world collections included */
    uint32_t black; /* the concurrent cycle whose new regions are live whole */
    ivm_mutex *inbox_lock;
    /* Concurrent evacuation: the evacuated regions' index (UINT32_MAX: not
     * evacuated) and, per evacuated region and block, where the copy of
     * the first live object starting in the block lies (the block's
     * other live objects follow it in order); references visitors found
     * unfixed (atomic); whether the barriers forward (atomic). */
    uint32_t *evac_index;
    char **evac_to;
    uint64_t evac_found;
    bool evacuating_now;
    bool cfixing; /* a visitor that fixes references to evacuated objects */
    ivm_value *inbox, *spare; /* spare: the inbox's other buffer */
    size_t inbox_len, inbox_cap, spare_cap;
    uint64_t cycle_start_ns;

    bool verify;    /* walk and check the heap after every collection */
    uint32_t reserve_regions; /* free regions the growth policy keeps back */
    /* The next collection returns all free memory beyond the minimum
     * budget to the host, not only what the next budget will not use. */
    bool release_memory;
    ivm_gc_stats stats;
};

/* Runs `body` with `slot` pointing at each value word of object o, by
 * value.h's layout rule (prototypes by function.h's layout). */
#define IVM_GC_FOR_EACH_SLOT(o, slot, body)                                           \
    do {                                                                       \
        ivm_header h_ = *(o);                                                  \
        unsigned first_ = ivm_kind_first_value[h_ & 0xff];                     \
        if (first_ == IVM_PROTO_LAYOUT) {                                           \
            ivm_proto *p_ = (ivm_proto *)(o);                                  \
            ivm_value *c_ = ivm_proto_consts(p_);                              \
            ivm_value *slot = &p_->name;                                       \
            body;                                                              \
            slot = &p_->source;                                                \
            body;                                                              \
            for (uint32_t i_ = 0; i_ < p_->nconsts; i_++) {                    \
                slot = &c_[i_];                                                \
                body;                                                          \
            }                                                                  \
        } else if (first_ != 0) {                                              \
            ivm_value *w_ = (ivm_value *)(o);                                  \
            uint32_t n_ = ivm_header_words(h_);                                \
            for (uint32_t i_ = first_; i_ < n_; i_++) {                        \
                ivm_value *slot = &w_[i_];                                     \
                body;                                                          \
            }                                                                  \
        }                                                                      \
    } while (0)

/* Sets the collector up for the heap; false if the host refuses memory.
 * Until ivm_gc_set_roots, only the symbol table is a root. */
bool ivm_gc_init(ivm_gc *gc, ivm_heap *heap);
void ivm_gc_destroy(ivm_gc *gc);
void ivm_gc_set_roots(ivm_gc *gc, ivm_gc_roots_fn roots, void *context);
/* Stress mode: a collection is requested every `every` allocations. */
void ivm_gc_set_stress(ivm_gc *gc, uint32_t every);

/* Collects now. `may_move`: objects may be evacuated (no C code holds a
 * reference the roots do not cover). */
void ivm_gc_collect(ivm_gc *gc, bool may_move);

/* The object v refers to or, while a collection fixes references, its
 * copy if it has been moved (its old header is then a forwarding one).
 * Root walks that read objects to find their roots (a frame's size from
 * its closure) read through this. */
static inline ivm_value ivm_gc_resolve(ivm_value v)
{
    ivm_header h = *ivm_obj_header(v);
    return (h & 0xff) == IVM_K_FORWARDED ? (ivm_value)(h >> 8) : v;
}

/* For the embedder's roots function: marks from, or fixes, one slot. */
void ivm_gc_visit(ivm_gc *gc, ivm_value *slot);
static inline void ivm_gc_visit_range(ivm_gc *gc, ivm_value *slots, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ivm_gc_visit(gc, &slots[i]);
}

/* The collector's own files: ivm_gc_visit on every root (the symbol table,
 * then the embedder's), and verify mode's check of one root slot. */
void ivm_gc_visit_roots(ivm_gc *gc);
bool ivm_gc_verify_slot(ivm_gc *gc, ivm_value *slot);

/* Whether the object at v was marked by the last collection (tests). */
bool ivm_gc_is_marked(const ivm_gc *gc, ivm_value v);

/* Checks the whole heap as verify mode does: every region parses into
 * objects of valid kinds; every value word of a marked object and every
 * root refers to a marked object in a live region. On failure writes what
 * was wrong into `why` (at most `n` bytes) and returns false. */
bool ivm_gc_verify(ivm_gc *gc, char *why, size_t n);
/* Verifies, or says why not on standard error and exits (status 70):
 * "after <after> <n>". */
void ivm_gc_verify_or_exit(ivm_gc *gc, const char *after, uint64_t n);

/* Appends the --gc-stats report. */
void ivm_gc_report(const ivm_gc *gc, ivm_buf *out);

/* ---- Concurrent cycles --------------------------------------------------
 * Marking beside the mutators. The collector's driver (bytecode/collector.c)
 * runs a cycle c on its own thread:
 *  1. ivm_gc_cycle_begin: regions taken from now on are born in c and live
 *     whole (black: never marked, never freed in c); the marks of older
 *     regions are cleared; the arena's `marking` flag turns the mutators'
 *     barriers on. The collector marks the global roots itself.
 *  2. Each thread, at its next safepoint (the driver does it for a parked
 *     one), hands over through its visitor: its roots, those of the
 *     process it runs (each process's record is scanned once per cycle,
 *     by the collector or by the worker about to run it), and the fields
 *     of every object it built since c began (ivm_gc_trace_since: a value
 *     built before its builder's handshake may be the only path to an
 *     older one); then it retires its cursor, so that what it builds from
 *     now on lies in regions born in c.
 *  3. Barriers, while marking: a send, an atom's store, a global's store
 *     and a lazy node's realization shade (ivm_gc_shade) what they store
 *     and what they replace; transient nodes are copied, not edited.
 *  4. ivm_gc_cycle_mark marks from what was handed over. Marking is done
 *     when every thread has handed over its roots, every process record
 *     was scanned, and a further round of handovers (the shaded values)
 *     brought nothing unmarked.
 *  5. ivm_gc_cycle_end frees regions born before c with nothing marked
 *     and unmarked large objects, and turns the barriers off.
 * Why it is enough: a mutator holds an object older than c only if it was
 * in its roots at its handshake, reachable from an object older than c
 * that is marked (marking is transitive, and objects never change), built
 * into an object it made before its handshake (traced), or taken from a
 * mutable cell or a message, whose stores are shaded. Nothing is moved in
 * a concurrent cycle: references never change. */

bool ivm_gc_init_visitor(ivm_gc *v, ivm_gc *collector);
void ivm_gc_destroy_visitor(ivm_gc *v);
/* Whether a concurrent cycle marks (the mutators' barriers are on). */
static inline bool ivm_gc_marking(const ivm_gc *gc)
{
    return __atomic_load_n(&gc->heap->arena->marking, __ATOMIC_ACQUIRE);
}
/* A barrier: v keeps x for its next handover. */
void ivm_gc_shade(ivm_gc *v, ivm_value x);
/* Stacks the fields of every object b's thread built since the cycle
 * began (its `since` regions) that no earlier call went over: a thread
 * spreads the work over its safepoints before its handshake
 * (ivm_vm_handshake), which then has only the rest to do. */
void ivm_gc_trace_since(ivm_gc *v, ivm_bump *b);
/* Moves the walks' place past what b's thread built so far, when there is
 * nothing to trace or fix in it (its handshake is done). */
void ivm_gc_skip_since(ivm_gc *v, ivm_bump *b);
/* Gives v's stacked values to its collector. */
void ivm_gc_hand_over(ivm_gc *v);
void ivm_gc_cycle_begin(ivm_gc *gc);
/* Marks from what was handed over; the number of objects newly marked. */
uint64_t ivm_gc_cycle_mark(ivm_gc *gc);
/* True when the cycle left fewer free regions than the growth policy's
 * reserve: marking alone cannot help then (the heap is fragmented or
 * full), and a compacting collection should follow. */
bool ivm_gc_cycle_end(ivm_gc *gc);
/* Ends a cycle whose marking could not finish (shutdown): frees nothing. */
void ivm_gc_cycle_abandon(ivm_gc *gc);
/* ---- Concurrent evacuation ----------------------------------------------
 * After a cycle's marking (ivm_gc_cycle_end), on the collector's thread:
 *  1. ivm_gc_evac_begin picks sparse regions born before the cycle that
 *     hold no mutable object (a shared atom, an unrealized lazy node, a
 *     transient), and copies their live objects into fresh regions. The
 *     old copies stay as they are: a program reading one meanwhile reads
 *     the same value. Copies of a region's objects keep their order, so
 *     a small side table (evac_to) finds any copy (ivm_gc_forward).
 *  2. The driver's first handshake round turns the threads' barriers to
 *     forwarding: a store into a mutable cell (atom, global, lazy node,
 *     transient, mailbox) stores the copy (ivm_heap_forward); every thread
 *     retires its cursor, so that every region is walkable.
 *  3. ivm_gc_evac_fix_heap rewrites, with single compare-and-swaps, each
 *     reference to an old copy in every live object: marked ones, those
 *     built in the cycle, the copies.
 *  4. Rounds: each thread fixes its roots, the records of the processes
 *     it runs and what it built since its last handshake; the collector
 *     fixes the other records and the shared roots. A round in which no
 *     one found an old reference ends it: a thread can only hold an old
 *     reference after its handshake by reading it from something built
 *     before another's handshake in the same round, which that handshake
 *     finds (the epoch: every thread has passed a safepoint since the
 *     last rewrite). ivm_gc_evac_end then frees the old regions.
 *  A thread inside a native's call back into the VM (nested_calls > 1)
 *  may hold old references in C variables: its handshake waits until it
 *  leaves it. Evacuation that does not settle is abandoned: the old
 *  regions stay (both copies are valid), and the next cycle sorts it out,
 *  except that identity (identical?, compare-and-set!) no longer sees one
 *  copy through the other. */
bool ivm_gc_evac_begin(ivm_gc *gc);
void ivm_gc_evac_fix_heap(ivm_gc *gc);
/* The copy of v if it lies in an evacuated region, else v (any thread). */
ivm_value ivm_gc_forward(const ivm_gc *gc, ivm_value v);
static inline bool ivm_gc_evacuating(const ivm_gc *gc)
{
    return __atomic_load_n(&gc->evacuating_now, __ATOMIC_ACQUIRE);
}
/* A visitor fixes what b's thread built since its last handshake (as
 * ivm_gc_trace_since walks it), counting old references in evac_found. */
void ivm_gc_evac_fix_since(ivm_gc *v, ivm_bump *b);
/* Frees the evacuated regions (release) or gives them up (the copies
 * stay too); the barriers stop forwarding and transients edit again. */
void ivm_gc_evac_end(ivm_gc *gc, bool release);

/* Records one handshake's pause (any thread). */
void ivm_gc_note_handshake(ivm_gc *gc, uint64_t ns);
/* Records how long one handshake spent on one part of its work. */
void ivm_gc_note_handshake_part(ivm_gc *gc, ivm_gc_handshake_part part, uint64_t ns);
/* Records a thread's wait for a cycle to end, short of memory. */
void ivm_gc_note_stall(ivm_gc *gc, uint64_t ns);
/* Whether the object at v is live after the last cycle: marked, or built
 * during the last concurrent cycle. */
bool ivm_gc_is_live(const ivm_gc *gc, ivm_value v);

#endif
