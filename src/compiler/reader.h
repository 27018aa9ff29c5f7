/* The reader: ivm's language text (EDN as Clojure reads it) to values in
 * the arena, and the table of source positions the compiler reports errors
 * with.
 *
 * Syntax: nil true false; integers (42, -7, 0xff, 017 octal, 2r1010 radix,
 * 5N), floats (1.5, -2e10, 1., 2.5M, ##Inf ##-Inf ##NaN); "strings" with
 * \n \t \r \b \f \" \\ \uXXXX \NNN; characters (\a \newline \space \tab
 * \return \backspace \formfeed \uXXXX \oNNN); :keywords and :ns/keywords;
 * symbols (ns/name, /); (lists) [vectors] {maps} #{sets}; ; comments, #!
 * comments (a shebang line), commas as whitespace; #_ discards the next
 * form; 'x is (quote x), @x is (deref x), `x is (ivm.core/syntax-quote x)
 * (the compiler expands it), ~x is (clojure.core/unquote x) and ~@x is
 * (clojure.core/unquote-splicing x); #(...) is an anonymous function;
 * #"regex" is the text as written, compiled at once (a bad pattern is a
 * read error); ^meta form reads as form (the metadata is read and
 * dropped). Integers beyond 64 bits, ratios, ::auto keywords, #? and
 * tagged literals are errors that say so.
 *
 * Nesting is read with an explicit stack: depth costs heap, never C stack,
 * and has no limit. */
#ifndef IVM_READER_H
#define IVM_READER_H

#include "values/value.h"

/* Where a form starts: 1-based line and column; columns count code points
 * (a tab is one column). */
typedef struct ivm_source_pos {
    uint32_t line, col;
} ivm_source_pos;

/* ---- Positions of the forms read ----------------------------------------
 *
 * Keyed by (container, index), the container being an object's value word:
 *   (the cons cell whose `first` is an element of a list, 0)
 *   (a vector, element index)
 *   (a list's first cons, a vector, map or set, IVM_POS_OPEN): where the
 *   collection's opening bracket is.
 * The empty list () is no object and gets no entry. 'x and @x are lists
 * too: (quote x) is at the quote mark, and so is its symbol `quote`.
 *
 * Keys are addresses: the table holds only while the forms are not moved
 * (no collection runs between reading and compiling them). A zeroed
 * ivm_positions is an empty table. */

#define IVM_POS_OPEN UINT32_MAX

typedef struct ivm_position_slot {
    ivm_value container; /* 0: an empty slot */
    uint32_t index;
    ivm_source_pos pos;
} ivm_position_slot;

typedef struct ivm_positions {
    ivm_position_slot *slots; /* open addressing, bootstrap memory */
    uint32_t capacity;        /* a power of two, or 0 */
    uint32_t count;
} ivm_positions;

void ivm_positions_free(ivm_positions *t);
/* Records (or replaces) a position: the compiler may add its own for the
 * forms it builds. */
void ivm_positions_put(ivm_positions *t, ivm_value container, uint32_t index,
                       ivm_source_pos pos);
/* False when nothing is recorded for (container, index). */
bool ivm_positions_get(const ivm_positions *t, ivm_value container,
                       uint32_t index, ivm_source_pos *out);

/* ---- Reading ----------------------------------------------------------- */

typedef struct ivm_reader {
    ivm_heap *heap;
    const char *text, *p, *end; /* p: the next byte to read */
    const char *filename;
    ivm_positions *positions; /* NULL: record nothing */
    /* The last position computed (positions are counted lazily). */
    const char *mark;
    ivm_source_pos mark_pos;
    /* Set by a failed ivm_read when the input ended inside a form or a
     * string: a REPL may read another line and try the whole text again. */
    bool incomplete;
} ivm_reader;

/* Reads text[0..len) (which need not end in a NUL). The reader keeps
 * pointers to text and filename, which must outlive it; it owns no memory
 * and needs no freeing. positions may be NULL. */
void ivm_reader_init(ivm_reader *r, ivm_heap *h, const char *text, size_t len,
                     const char *filename, ivm_positions *positions);

/* Reads the next form. 1: a form, in *form, with where it starts in
 * *where; 0: end of input (only whitespace and comments were left); -1: an
 * error, with "FILE:LINE:COL: message" appended to err. After an error the
 * reader must not be used again. */
int ivm_read(ivm_reader *r, ivm_value *form, ivm_source_pos *where, ivm_buf *err);

#endif
