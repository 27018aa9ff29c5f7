/* Regular expressions: the regex value (IVM_K_REGEX), the shared cache of
 * compiled patterns, and a matcher with java.util.regex.Matcher's rules.
 * The engine is PCRE2 (8-bit, UTF mode, JIT where the machine has it); the
 * patterns are Java's, translated on the way in (regex.c says what is
 * translated, what is refused, and README.md what still differs).
 *
 * A regex value is an arena object: header | id | pattern (a string). It
 * holds no pointer to compiled code: the collector may move it, and it
 * frees nothing when it drops it. Compiled code lives in the heap's regex
 * cache (bootstrap memory), keyed by the pattern's text, so any copy of
 * the value finds it again; an entry no matcher uses may be evicted, and
 * is compiled again from the text when next needed.
 *
 * Identity: as in Clojure, (= #"a" #"a") is false and a regex equals only
 * itself. "Itself" cannot be an address here (the collector moves
 * objects), so each regex made (read, loaded, re-pattern) takes a fresh id
 * from the heap (ivm_heap_shared.last_regex_id) and equality compares ids:
 * every copy of one regex is equal to it, two regexes made apart never
 * are. The hash is the pattern's (a function of the text only: equal
 * regexes have equal patterns), so hashing is deterministic however the
 * ids were handed out between threads.
 *
 * Threads: the cache is shared by every scheduler thread behind its own
 * mutex; compiled code is read-only once made and matched from several
 * threads at once, each match with match data of its own. */
#ifndef IVM_REGEX_H
#define IVM_REGEX_H

#include "values/value.h"

typedef struct ivm_regex {
    ivm_header h;
    uint64_t id;       /* identity: unique among the regexes of a heap */
    ivm_value pattern; /* the Java pattern text, a string */
} ivm_regex;

static inline bool ivm_is_regex(ivm_value v) { return ivm_is_kind(v, IVM_K_REGEX); }
static inline ivm_regex *ivm_as_regex(ivm_value v)
{
    IVM_ASSERT(ivm_is_regex(v));
    return (ivm_regex *)(uintptr_t)v;
}
static inline const ivm_str *ivm_regex_pattern(ivm_value v)
{
    return ivm_as_str(ivm_as_regex(v)->pattern);
}

/* The cache, made and freed with the heap (value.c). NULL when out of
 * memory. */
struct ivm_regex_cache *ivm_regex_cache_new(void);
void ivm_regex_cache_free(struct ivm_regex_cache *c);

/* A regex of the pattern string `pattern`, compiled (into the cache) to
 * check it: false, with a message such as `missing closing parenthesis
 * at index 1 in #"("` appended to err, when it is not a valid pattern. */
bool ivm_regex_new(ivm_heap *h, ivm_value pattern, ivm_value *out, ivm_buf *err);

/* ---- Matching -----------------------------------------------------------
 *
 * A matcher walks one subject string as java.util.regex.Matcher does: each
 * find starts where the last match ended, one character further after an
 * empty match, and sees the whole subject (lookbehind, ^ and \b look
 * before the start). The subject's bytes must stay where they are while it
 * is used: a native holds them between safepoints, or roots the string
 * while it calls back into the VM (collections then do not move). */

typedef struct ivm_regex_entry ivm_regex_entry;

typedef struct ivm_matcher {
    ivm_heap *heap;
    ivm_regex_entry *entry; /* the cache entry in use (counted, not evicted) */
    void *data;             /* this matcher's pcre2_match_data */
    const uint8_t *subject;
    size_t len;
    size_t next;     /* where the next find starts; len + 1 when done */
    uint32_t groups; /* capturing groups in the pattern */
} ivm_matcher;

/* Starts matching regex against subject[0..len) (valid UTF-8). whole: every
 * match must span the whole subject (Matcher.matches). False, with a
 * message in err, only when memory runs out or the cached code had to be
 * compiled again and could not be. Free with ivm_matcher_free either way. */
bool ivm_matcher_init(ivm_matcher *m, ivm_heap *h, ivm_value regex, bool whole,
                      const uint8_t *subject, size_t len, ivm_buf *err);
void ivm_matcher_free(ivm_matcher *m);
/* The next match: 1 found, 0 no more, -1 the engine gave up (the match or
 * memory limit: catastrophic backtracking), with a message in err. */
int ivm_matcher_find(ivm_matcher *m, ivm_buf *err);
/* Group g (0: the whole match) of the last match, as byte offsets; false
 * when the group took no part in it. */
bool ivm_matcher_group(const ivm_matcher *m, uint32_t g, size_t *start, size_t *end);
/* The number of the group named name[0..len), or -1 when there is none. */
int ivm_matcher_group_named(const ivm_matcher *m, const uint8_t *name, size_t len);

#endif
