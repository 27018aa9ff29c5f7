/* concurrent_mark.pml -- a Promela model of ivm's concurrent marking
 * protocol (src/gc/gc.h "Concurrent cycles", src/bytecode/collector.c,
 * the barriers in src/bytecode/interp.c, vm.c and process/natives.c).
 *
 * What it models: one concurrent cycle, run by a collector beside two
 * mutator threads.
 *  - Objects 1..7, each with one immutable field, except object 1, an
 *    atom: its field is the one mutable cell. The atom is a shared root
 *    (as if a global held it), so both mutators may always use it; the
 *    collector marks it after round 0 and reads its cell whenever it
 *    traces it. Objects 2..5 exist before the cycle (2 -> 3, 4 -> 5, the
 *    cell holds 2, mutator 0 holds 4); 6 and 7 may be allocated.
 *  - Each mutator has two registers (its roots) and does, in any order
 *    and interleaving: read a held object's field into a register, drop a
 *    register, read the cell into a register, store a register into the
 *    cell (the barrier: load the `marking` flag, then, one step later,
 *    swap the cell -- a CAS -- shading the replaced and the stored value
 *    when the flag was on), allocate an object whose field is a register,
 *    and take part in a handshake round when one is due (a safepoint;
 *    never in the middle of a store).
 *  - Allocation colours: before the cycle, white; after the thread's root
 *    handshake, black (its cursor was retired: a region born in the
 *    cycle); in between, either white (the cursor's old region, born
 *    before the cycle) or black and on the thread's `since` list (a
 *    region it took after the cycle began).
 *  - Handshakes (collector.c handshake()): a thread's first one in the
 *    cycle only acknowledges that its barriers are on and drops what it
 *    shaded before; its next one hands over its registers and the fields
 *    of the objects on its `since` list (ivm_gc_trace_since), then its
 *    shade buffer; later ones hand over the shade buffer.
 *  - The collector (collector.c cycle()): turns marking on; round 0, waits
 *    for every ack; marks the shared root; rounds 1..: raises the round,
 *    and until every thread took part, takes the inbox, marks what it
 *    brought (black objects are never marked) and traces gray objects one
 *    at a time, in any order; then once more; stops when every thread has
 *    handed over its roots and the round marked nothing new (the gray
 *    count after taking the inbox, as ivm_gc_cycle_mark counts).
 *  - Each mutator takes at most STEPS actions (handshakes are not
 *    counted; default 2: about 10 million states, 15-25 s; -DSTEPS=3 is
 *    well over 100 million). Every broken variant below fails within 2.
 *  - Sweep: frees every object neither marked nor black. The safety
 *    property is asserted at that instant: every object reachable from a
 *    register or from the shared root is marked or black.
 *
 * What it abstracts away: more than one cycle (marks start clear);
 * regions (freeing is per object, a superset of what per-region freeing
 * frees, so a safe model is conservative); processes, their records,
 * migration between workers, scan_procs/scan_before_slice (a mutator
 * stands for a thread and the process it runs); parked threads (the
 * collector's handshake for a parked thread is the same atomic step);
 * mailboxes (append-only, shaded by the sender: a special case of the
 * cell's barrier); globals (snapshotted right after round 0: a special
 * case of the atom, traced at any time); lazy nodes and transients;
 * gc_hold and threads added in the middle of a cycle; memory ordering
 * (sequential consistency: the acquire/release atomics and locks in the C
 * code are assumed to provide it for these accesses); liveness (only
 * safety is checked; a mutator may never reach a safepoint).
 *
 * Broken variants (each should fail with an assertion violation):
 *   -DNO_ACK      the collector does not wait for round 0's acks (and
 *                 nothing is dropped): a store whose flag check saw
 *                 marking off may land after the cell was traced
 *   -DNO_DELETE   the barrier does not shade the replaced value
 *   -DNO_INSERT   the barrier does not shade the stored value
 *   -DNO_SINCE    the root handshake does not trace what the thread built
 *                 since the cycle began
 *   -DNO_QUIET    marking stops once every root was handed over, without
 *                 a quiet round
 *   -DLATE_DROP   a thread drops its shade buffer at its root handshake
 *                 too (not only at its ack)
 *
 * Run (tests/model/run.sh does this for the real protocol and the broken
 * variants):
 *   spin -a [-DNO_ACK ...] concurrent_mark.pml && cc -O2 -o pan pan.c &&
 *   ./pan -m1000000
 * "errors: 0" is a pass; an assertion violation leaves a trail that
 * `spin -t -p concurrent_mark.pml` replays.
 */

#define NIL   0
#define ATOM  1
#define NOBJ  8             /* 0 is nil; objects 1..7 */
#define FIRST_NEW 6         /* objects 6 and 7 may be allocated */
#ifndef STEPS
#define STEPS 2             /* actions per mutator (handshakes not counted) */
#endif
#define BIT(o) (1 << (o))
#define HAS(set, o) (((set) >> (o)) & 1)
/* the fields of the objects older than the cycle: constants (2 -> 3,
 * 4 -> 5), so that reading one touches no shared variable */
#define OLDF(o) ((o) == 2 -> 3 : ((o) == 4 -> 5 : NIL))
#define FIELD(o) ((o) == ATOM -> cell : ((o) < FIRST_NEW -> OLDF(o) : nf[(o) - FIRST_NEW]))

byte cell = 2;              /* the atom's cell: the one mutable word */
byte nf[2];                 /* the fields of objects 6 and 7, once built */
byte nalloc = FIRST_NEW;    /* the next object to allocate */

bool cyc;                   /* the cycle began (the arena's cycle changed) */
bool marking;               /* the barriers' flag */
bool done;                  /* swept */
bool due[2];                /* a round waits for mutator m (hs_done != hs_round) */
bool acked[2];              /* barrier_cycle == cycle */
bool rootsdone[2];          /* roots_cycle == cycle */

byte inbox;                 /* handed over, not yet taken by the collector */
byte marked;
byte gray;
byte black;                 /* born in the cycle: live, never traced */
byte freed;

/* the collector's mark_value: black and marked objects are left alone */
inline mark(x) {
    if
    :: x != NIL && !HAS(black, x) && !HAS(marked, x) ->
        marked = marked | BIT(x);
        gray = gray | BIT(x)
    :: else -> skip
    fi
}

/* into the mutator's shade buffer */
inline shade(x) {
    if
    :: x != NIL -> buf = buf | BIT(x)
    :: else -> skip
    fi
}

/* collector.c handshake(), at the mutator's safepoint (or the
 * collector's, for a parked thread): one atomic step. */
inline handshake() {
    if
    :: !acked[m] ->
        buf = 0;
        acked[m] = true
    :: else ->
        if
        :: !rootsdone[m] ->
#ifdef LATE_DROP
            buf = 0;
#endif
            shade(r0);
            shade(r1);
#ifndef NO_SINCE
            o = FIRST_NEW;
            do
            :: o < NOBJ ->
                if
                :: HAS(since, o) -> shade(nf[o - FIRST_NEW])
                :: else -> skip
                fi;
                o++
            :: else -> break
            od;
            o = 0;
#endif
            rootsdone[m] = true
        :: else -> skip
        fi;
        inbox = inbox | buf;
        buf = 0
    fi;
    due[m] = false
}

/* a value into either register */
inline put(x) {
    if
    :: r0 = x
    :: r1 = x
    fi
}

/* v becomes either register's value */
inline take(v) {
    if
    :: v = r0
    :: v = r1
    fi
}

/* everything reachable from x, in reach */
inline reach_from(x) {
    reach = reach | BIT(x);
    k = 0;
    do
    :: k < NOBJ ->
        o = 1;
        do
        :: o < NOBJ ->
            if
            :: HAS(reach, o) -> f = FIELD(o); reach = reach | BIT(f); f = 0
            :: else -> skip
            fi;
            o++
        :: else -> break
        od;
        k++
    :: else -> break
    od;
    reach = reach & ~BIT(NIL)
}

proctype Mutator(byte m; byte r0; byte r1) {
    byte buf;                   /* the shade buffer (a set of objects) */
    byte since;                 /* black objects built before the root handshake */
    byte steps;                 /* actions taken, at most STEPS */
    byte o, v, old, k, f, reach;
    bool flag;
end:
    do
    :: done -> break
    :: d_step { !done && due[m] -> handshake() }
    /* read a held object's field (registers never hold the atom) */
    :: atomic { steps < STEPS && r0 != NIL && r0 < FIRST_NEW -> steps++; v = OLDF(r0); put(v); v = NIL }
    :: atomic { steps < STEPS && r1 != NIL && r1 < FIRST_NEW -> steps++; v = OLDF(r1); put(v); v = NIL }
    :: atomic {
        steps < STEPS && r0 >= FIRST_NEW -> steps++;
        assert(!HAS(freed, r0));
        v = nf[r0 - FIRST_NEW]; put(v); v = NIL
       }
    :: atomic {
        steps < STEPS && r1 >= FIRST_NEW -> steps++;
        assert(!HAS(freed, r1));
        v = nf[r1 - FIRST_NEW]; put(v); v = NIL
       }
    /* drop a register */
    :: atomic { steps < STEPS -> steps++; put(NIL) }
    /* read the cell */
    :: atomic { !done && steps < STEPS -> steps++; v = cell; put(v); v = NIL }
    /* store into the cell: the flag, then (a separate step) the swap */
    :: atomic { !done && steps < STEPS -> steps++; take(v); flag = marking };
       atomic {
        old = cell;
        cell = v;
        if
        :: flag ->
#ifndef NO_DELETE
            shade(old);
#endif
#ifndef NO_INSERT
            shade(v);
#endif
            skip
        :: else -> skip
        fi;
        old = NIL; v = NIL; flag = false
       }
    /* allocate an object whose field is a register */
    :: atomic {
        !done && steps < STEPS && nalloc < NOBJ -> steps++;
        o = nalloc; nalloc++;
        take(v); nf[o - FIRST_NEW] = v; v = NIL;
        if
        :: rootsdone[m] -> black = black | BIT(o)
        :: !rootsdone[m] && cyc -> /* old region, or one born in the cycle */
            if
            :: skip
            :: black = black | BIT(o); since = since | BIT(o)
            fi
        :: else -> skip
        fi;
        put(o);
        o = 0
       }
    od;
    /* the property, for this mutator's registers (it does nothing
     * between the sweep and here but drop registers or read fields) */
    skip;
    d_step {
        reach = 0;
        reach_from(r0);
        reach_from(r1);
        assert((reach & freed) == 0)
    }
}

/* traces every gray object but the atom, transitively: they are
 * immutable, and what the collector marks is seen by no mutator, so the
 * order and the moment do not matter; only the moment the atom's cell is
 * read does (a step of its own, below) */
inline close() {
    k = 0;
    do
    :: k < NOBJ ->
        o = 2;
        do
        :: o < NOBJ ->
            if
            :: HAS(gray, o) ->
                gray = gray & ~BIT(o);
                f = FIELD(o);
                mark(f);
                f = 0
            :: else -> skip
            fi;
            o++
        :: else -> break
        od;
        k++
    :: else -> break
    od;
    k = 0; o = 0
}

/* ivm_gc_cycle_mark: takes the inbox and marks what it brought; counts
 * the gray ones; drains */
inline cycle_mark() {
    skip;
    d_step {
        k = 1;
        do
        :: k < NOBJ ->
            if
            :: HAS(inbox, k) -> mark(k)
            :: else -> skip
            fi;
            k++
        :: else -> break
        od;
        inbox = 0;
        if
        :: gray != 0 -> newmark = true
        :: else -> skip
        fi;
        close()
    };
    if
    :: HAS(gray, ATOM) ->
        d_step {
            gray = gray & ~BIT(ATOM);
            mark(cell);
            close()
        }
    :: else -> skip
    fi
}

proctype Collector() {
    byte k, o, f, reach;
    bool newmark;

    /* ivm_gc_cycle_begin */
    atomic { cyc = true; marking = true };
    /* round 0 */
    atomic { due[0] = true; due[1] = true };
#ifndef NO_ACK
    (!due[0] && !due[1]);
#endif
    /* mark_shared_roots */
    d_step { mark(ATOM) };
    do
    :: atomic { due[0] = true; due[1] = true; newmark = false };
       do
       :: cycle_mark()
       :: !due[0] && !due[1] -> break
       od;
       cycle_mark();
       if
#ifdef NO_QUIET
       :: rootsdone[0] && rootsdone[1] -> break
#else
       :: rootsdone[0] && rootsdone[1] && !newmark -> break
#endif
       :: else -> skip
       fi
    od;

    /* ivm_gc_cycle_end: frees what is neither marked nor black; the
     * property, for what the shared root reaches (the mutators check
     * their registers' after this) */
    skip;
    d_step {
        freed = ~(marked | black) & ~BIT(NIL);
        done = true;
        reach = 0;
        reach_from(ATOM);
        assert((reach & freed) == 0)
    }
}

init {
    atomic {
#ifdef NO_ACK
        acked[0] = true;
        acked[1] = true;
#endif
        run Collector();
        run Mutator(0, 4, NIL);
        run Mutator(1, NIL, NIL)
    }
}
