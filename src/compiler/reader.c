/* The reader (reader.h): text to values, one form at a time, with an
 * explicit stack of the collections and prefixes still open; and the table
 * of source positions it fills. Owns the language's syntax: tokens,
 * numbers, strings, characters, names, dispatch forms and their errors. */
#include "compiler/reader.h"
#include "values/walk.h"

#include <math.h> /* INFINITY and NAN: constants, no libm call */

#include "ivm/platform.h"
#include "values/map.h"
#include "values/regex.h"
#include "values/vector.h"
#include "values/worklist.h"

/* ---- The position table ------------------------------------------------ */

static uint32_t slot_hash(ivm_value container, uint32_t index)
{
    uint64_t x = container ^ ((uint64_t)index * 0x9e3779b97f4a7c15u);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdu;
    x ^= x >> 33;
    return (uint32_t)x;
}

/* The slot holding (container, index), or the empty one where it goes. */
static ivm_position_slot *find_slot(ivm_position_slot *slots, uint32_t capacity,
                                    ivm_value container, uint32_t index)
{
    uint32_t mask = capacity - 1;
    for (uint32_t i = slot_hash(container, index) & mask;; i = (i + 1) & mask) {
        ivm_position_slot *s = &slots[i];
        if (s->container == 0 || (s->container == container && s->index == index))
            return s;
    }
}

static void positions_grow(ivm_positions *t)
{
    uint32_t capacity = t->capacity ? t->capacity * 2 : 64;
    ivm_position_slot *slots = ivm_platform_calloc(capacity, sizeof *slots);
    if (!slots)
        ivm_platform_exit(70);
    for (uint32_t i = 0; i < t->capacity; i++) {
        const ivm_position_slot *s = &t->slots[i];
        if (s->container)
            *find_slot(slots, capacity, s->container, s->index) = *s;
    }
    ivm_platform_free(t->slots);
    t->slots = slots;
    t->capacity = capacity;
}

void ivm_positions_free(ivm_positions *t)
{
    ivm_platform_free(t->slots);
    *t = (ivm_positions){0};
}

void ivm_positions_put(ivm_positions *t, ivm_value container, uint32_t index,
                       ivm_source_pos pos)
{
    IVM_ASSERT(container != 0);
    if ((uint64_t)(t->count + 1) * 4 > (uint64_t)t->capacity * 3)
        positions_grow(t);
    ivm_position_slot *s = find_slot(t->slots, t->capacity, container, index);
    if (!s->container) {
        s->container = container;
        s->index = index;
        t->count++;
    }
    s->pos = pos;
}

bool ivm_positions_get(const ivm_positions *t, ivm_value container,
                       uint32_t index, ivm_source_pos *out)
{
    if (t->capacity == 0 || container == 0)
        return false;
    const ivm_position_slot *s = find_slot(t->slots, t->capacity, container, index);
    if (!s->container)
        return false;
    *out = s->pos;
    return true;
}

/* ---- Characters and tokens --------------------------------------------- */

/* Whitespace as Java's Character.isWhitespace has it in ASCII, and commas. */
static bool is_blank(uint8_t c)
{
    return c == ' ' || c == ',' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* Clojure's terminating macro characters: they end a token. */
static bool is_terminator(uint8_t c)
{
    switch (c) {
    case '"': case ';': case '@': case '^': case '`': case '~': case '\\':
    case '(': case ')': case '[': case ']': case '{': case '}':
        return true;
    default:
        return false;
    }
}

static bool is_token_char(uint8_t c) { return !is_blank(c) && !is_terminator(c); }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* The value of a digit in bases up to 36; 36 or more for anything else. */
static unsigned digit_value(char c)
{
    if (is_digit(c))
        return (unsigned)(c - '0');
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return (unsigned)((c | 0x20) - 'a' + 10);
    return 36;
}

static size_t digit_run(const char *p, const char *end)
{
    size_t n = 0;
    while (p + n < end && is_digit(p[n]))
        n++;
    return n;
}

static bool span_is(const char *p, size_t len, const char *word)
{
    return len == ivm_cstr_len(word) && memcmp(p, word, len) == 0;
}

/* Four hex digits at p: false if they are not there. */
static bool hex4(const char *p, const char *end, uint32_t *out)
{
    if (end - p < 4)
        return false;
    *out = 0;
    for (int i = 0; i < 4; i++) {
        unsigned d = digit_value(p[i]);
        if (d >= 16)
            return false;
        *out = *out << 4 | d;
    }
    return true;
}

static bool is_surrogate(uint32_t c) { return c >= 0xd800 && c <= 0xdfff; }

/* ---- The reader's state ------------------------------------------------ */

void ivm_reader_init(ivm_reader *r, ivm_heap *h, const char *text, size_t len,
                     const char *filename, ivm_positions *positions)
{
    *r = (ivm_reader){
        .heap = h,
        .text = text,
        .p = text,
        .end = text + len,
        .filename = filename,
        .positions = positions,
        .mark = text,
        .mark_pos = {1, 1},
    };
}

/* The line and column of `at`, counted on from the last one asked for
 * (from the start when `at` is before it). */
static ivm_source_pos pos_at(ivm_reader *r, const char *at)
{
    if (at < r->mark) {
        r->mark = r->text;
        r->mark_pos = (ivm_source_pos){1, 1};
    }
    ivm_source_pos pos = r->mark_pos;
    for (const char *q = r->mark; q < at; q++) {
        if (*q == '\n') {
            pos.line++;
            pos.col = 1;
        } else if ((*q & 0xc0) != 0x80) {
            pos.col++;
        }
    }
    r->mark = at;
    r->mark_pos = pos;
    return pos;
}

/* What is open: a collection whose elements are being read, or a prefix
 * waiting for the form it applies to. */
typedef enum frame_kind {
    F_LIST,
    F_VECTOR,
    F_MAP,
    F_SET,
    F_FN,      /* #( ... ): an anonymous function literal */
    F_QUOTE,   /* 'x */
    F_DEREF,   /* @x */
    F_SYNTAX_QUOTE,     /* `x */
    F_UNQUOTE,          /* ~x */
    F_UNQUOTE_SPLICING, /* ~@x */
    F_DISCARD, /* #_x */
    F_META,    /* ^meta x */
} frame_kind;

typedef struct frame {
    frame_kind kind;
    bool meta_read;     /* F_META: the metadata is read, the form is next */
    size_t base;        /* the collection's first element in the item stack */
    ivm_source_pos pos; /* of the opening bracket or the prefix */
} frame;

/* One call of ivm_read. */
typedef struct ctx {
    ivm_reader *r;
    ivm_buf *err;
    ivm_frame_stack frames;  /* frame */
    ivm_worklist items;      /* the elements of the open collections */
    ivm_frame_stack item_at; /* ivm_source_pos of each element */
    ivm_buf chars;           /* the string literal or float being decoded */
} ctx;

/* What reading one item gives. The values are ivm_read's. */
enum { R_ERROR = -1, R_NONE = 0, R_VALUE = 1 };

static int outcome(bool ok) { return ok ? R_VALUE : R_ERROR; }

static void record(ctx *c, ivm_value container, uint32_t index, ivm_source_pos pos)
{
    if (c->r->positions && ivm_is_obj(container))
        ivm_positions_put(c->r->positions, container, index, pos);
}

static void push_item(ctx *c, ivm_value v, ivm_source_pos pos)
{
    ivm_worklist_push(&c->items, v);
    *(ivm_source_pos *)ivm_frames_push(&c->item_at) = pos;
}

static ivm_source_pos item_pos(const ctx *c, size_t i)
{
    return ((const ivm_source_pos *)(const void *)c->item_at.items)[i];
}

/* ---- Errors ------------------------------------------------------------ */

/* Starts "FILE:LINE:COL: " and returns the buffer to finish the message in. */
static ivm_buf *error_at(ctx *c, ivm_source_pos pos)
{
    ivm_buf_add_cstr(c->err, c->r->filename);
    ivm_buf_add_char(c->err, ':');
    ivm_buf_add_int(c->err, pos.line);
    ivm_buf_add_char(c->err, ':');
    ivm_buf_add_int(c->err, pos.col);
    ivm_buf_add_cstr(c->err, ": ");
    return c->err;
}

static bool fail_at(ctx *c, ivm_source_pos pos, const char *message)
{
    ivm_buf_add_cstr(error_at(c, pos), message);
    return false;
}

static bool fail(ctx *c, const char *at, const char *message)
{
    return fail_at(c, pos_at(c->r, at), message);
}

/* message, then the text [at, at + len) (valid UTF-8). */
static bool fail_text(ctx *c, const char *at, const char *message, size_t len)
{
    ivm_buf *e = error_at(c, pos_at(c->r, at));
    ivm_buf_add_cstr(e, message);
    ivm_buf_add(e, at, len);
    return false;
}

/* The input ended inside something that started at `start`. */
static bool fail_eof(ctx *c, const char *what, ivm_source_pos start)
{
    ivm_buf *e = error_at(c, pos_at(c->r, c->r->end));
    ivm_buf_add_cstr(e, what);
    ivm_buf_add_cstr(e, ", starting at line ");
    ivm_buf_add_int(e, start.line);
    ivm_buf_add_cstr(e, " col ");
    ivm_buf_add_int(e, start.col);
    c->r->incomplete = true;
    return false;
}

/* ---- Skipping ---------------------------------------------------------- */

static void skip_line(ivm_reader *r)
{
    while (r->p < r->end && *r->p != '\n')
        r->p++;
}

static void skip_blank(ivm_reader *r)
{
    while (r->p < r->end) {
        if (*r->p == ';')
            skip_line(r);
        else if (is_blank((uint8_t)*r->p))
            r->p++;
        else
            return;
    }
}

/* Moves the cursor from `from` to the end of the token and checks that
 * the text from `start` there is UTF-8. */
static bool scan_token(ctx *c, const char *start, const char *from)
{
    ivm_reader *r = c->r;
    r->p = from;
    while (r->p < r->end && is_token_char((uint8_t)*r->p))
        r->p++;
    return ivm_utf8_valid((const uint8_t *)start, (size_t)(r->p - start)) ||
           fail(c, start, "invalid UTF-8");
}

/* ---- Numbers ----------------------------------------------------------- */

typedef enum num_status { NUM_OK, NUM_INVALID, NUM_TOO_LARGE } num_status;

/* Digits [p, p+n) in `base`, negated when `negative`. An invalid digit
 * outranks overflow. */
static num_status parse_digits(const char *p, size_t n, unsigned base,
                               bool negative, int64_t *out)
{
    uint64_t limit = negative ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1;
    uint64_t m = 0;
    bool too_large = false;
    if (n == 0)
        return NUM_INVALID;
    for (size_t i = 0; i < n; i++) {
        unsigned d = digit_value(p[i]);
        if (d >= base)
            return NUM_INVALID;
        if (m > (limit - d) / base)
            too_large = true;
        else
            m = m * base + d;
    }
    if (too_large)
        return NUM_TOO_LARGE;
    *out = negative && m ? -(int64_t)(m - 1) - 1 : (int64_t)m;
    return NUM_OK;
}

/* Where the digits of RADIXrDIGITS start (radix [1-9][0-9]?), or 0. */
static size_t radix_digits(const char *s, size_t n)
{
    if (n < 3 || s[0] < '1' || s[0] > '9')
        return 0;
    if ((s[1] | 0x20) == 'r')
        return 2;
    return n > 3 && is_digit(s[1]) && (s[2] | 0x20) == 'r' ? 3 : 0;
}

/* An integer as Clojure writes them, without its sign: 0, decimal, 0x
 * hex, 0 octal (each with an optional N suffix), or radix 2..36. */
static num_status parse_integer(const char *s, size_t n, bool negative, int64_t *out)
{
    size_t digits = radix_digits(s, n);
    if (digits) { /* an N here is a digit (36rN), as in Clojure's pattern */
        unsigned radix = digits == 2 ? (unsigned)(s[0] - '0')
                                     : (unsigned)((s[0] - '0') * 10 + (s[1] - '0'));
        if (radix < 2 || radix > 36)
            return NUM_INVALID;
        return parse_digits(s + digits, n - digits, radix, negative, out);
    }
    n -= s[n - 1] == 'N';
    if (n >= 2 && s[0] == '0' && (s[1] | 0x20) == 'x')
        return parse_digits(s + 2, n - 2, 16, negative, out);
    if (n >= 2 && s[0] == '0')
        return parse_digits(s + 1, n - 1, 8, negative, out);
    return parse_digits(s, n, 10, negative, out);
}

/* DIGITS/DIGITS */
static bool is_ratio(const char *s, const char *end)
{
    size_t num = digit_run(s, end);
    if (num == 0 || s + num == end || s[num] != '/')
        return false;
    size_t den = digit_run(s + num + 1, end);
    return den > 0 && s + num + 1 + den == end;
}

/* [+-]? DIGITS ('.' DIGITS?)? ([eE] [+-]? DIGITS)? M? as a double: the
 * text goes to ivm_platform_parse_double without its M and without a dot
 * that no digit follows. */
static bool parse_float(ctx *c, const char *at, size_t len, double *out)
{
    const char *end = at + len;
    const char *p = at + (*at == '+' || *at == '-');
    const char *lone_dot = NULL;
    size_t run = digit_run(p, end);
    if (run == 0)
        return false;
    p += run;
    const char *digits_end = p;
    if (p < end && *p == '.') {
        run = digit_run(p + 1, end);
        lone_dot = run ? NULL : p;
        p += 1 + run;
    }
    if (p < end && (*p | 0x20) == 'e') {
        p += 1 + (p + 1 < end && (p[1] == '+' || p[1] == '-'));
        if ((run = digit_run(p, end)) == 0)
            return false;
        p += run;
    }
    const char *text_end = p;
    if (p < end && *p == 'M')
        p++;
    if (p != end || p == digits_end)
        return false; /* digits alone are an integer's (08 is no number) */
    c->chars.len = 0;
    ivm_buf_add(&c->chars, at, (size_t)((lone_dot ? lone_dot : text_end) - at));
    if (lone_dot)
        ivm_buf_add(&c->chars, lone_dot + 1, (size_t)(text_end - lone_dot - 1));
    return ivm_platform_parse_double(c->chars.data, c->chars.len, out);
}

/* A token that starts with a digit, or a sign and a digit. */
static bool read_number(ctx *c, const char *at, size_t len, ivm_value *v)
{
    bool negative = *at == '-';
    size_t sign = *at == '-' || *at == '+';
    const char *s = at + sign;
    size_t n = len - sign;
    int64_t i;
    switch (parse_integer(s, n, negative, &i)) {
    case NUM_OK:
        *v = ivm_int(c->r->heap, i);
        return true;
    case NUM_TOO_LARGE:
        return fail_text(c, at, "integer too large: ", len);
    case NUM_INVALID:
        break;
    }
    if (is_ratio(s, at + len))
        return fail_text(c, at, "ratios are not supported: ", len);
    double d;
    if (!parse_float(c, at, len, &d))
        return fail_text(c, at, "invalid number: ", len);
    *v = ivm_float(c->r->heap, d);
    return true;
}

/* ---- Symbols, keywords, nil, true, false ------------------------------- */

static bool has_double_colon(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (s[i] == ':' && s[i + 1] == ':')
            return true;
    return false;
}

/* Clojure's rule (LispReader.matchSymbol): an optional namespace and '/',
 * then a name. Neither part is empty or starts with '/' or a digit (but a
 * keyword's first part may start with a digit: :1 is a keyword); the name
 * is "/" or has no '/'; the namespace does not end in ':' nor the token;
 * no "::" after the first character. */
static bool valid_name(const char *s, size_t len)
{
    bool keyword = *s == ':';
    const char *p = s + keyword;
    size_t n = len - keyword;
    if (n == 0 || s[len - 1] == ':' || has_double_colon(s + 1, len - 1))
        return false;
    if (n == 1 && *p == '/')
        return true;
    size_t slash = n; /* where the namespace ends; n: no namespace */
    if (n >= 3 && p[n - 1] == '/' && p[n - 2] == '/')
        slash = n - 2;
    else
        for (size_t i = n; slash == n && i-- > 0;)
            if (p[i] == '/')
                slash = i;
    bool first_ok = *p != '/' && (keyword || !is_digit(*p));
    if (slash == n)
        return first_ok;
    return first_ok && slash > 0 && p[slash - 1] != ':' && slash + 1 < n &&
           !is_digit(p[slash + 1]);
}

static bool read_name(ctx *c, const char *at, size_t len, ivm_value *v)
{
    ivm_heap *h = c->r->heap;
    if (span_is(at, len, "nil") || span_is(at, len, "true") || span_is(at, len, "false")) {
        *v = *at == 'n' ? IVM_NIL : ivm_bool(*at == 't');
        return true;
    }
    if (len >= 2 && at[0] == ':' && at[1] == ':')
        return fail_text(c, at, "auto-resolved keywords are not supported: ", len);
    if (!valid_name(at, len))
        return fail_text(c, at, "invalid token: ", len);
    *v = *at == ':' ? ivm_keyword(h, at + 1, len - 1) : ivm_symbol(h, at, len);
    return true;
}

static bool read_token(ctx *c, ivm_value *v)
{
    const char *at = c->r->p;
    if (!scan_token(c, at, at))
        return false;
    size_t len = (size_t)(c->r->p - at);
    bool signed_digit = len > 1 && (*at == '+' || *at == '-') && is_digit(at[1]);
    if (is_digit(*at) || signed_digit)
        return read_number(c, at, len, v);
    return read_name(c, at, len, v);
}

/* ---- Strings ----------------------------------------------------------- */

/* The \uXXXX escape whose backslash is at `at` (the cursor is past the
 * u). A high surrogate must be followed by \u and a low one: the pair is
 * one code point. */
static bool read_unicode_escape(ctx *c, const char *at)
{
    ivm_reader *r = c->r;
    uint32_t cp, low;
    if (!hex4(r->p, r->end, &cp))
        return fail(c, at, "invalid unicode escape: \\u must be followed by four hex digits");
    r->p += 4;
    if (cp >= 0xd800 && cp <= 0xdbff && r->end - r->p >= 6 && r->p[0] == '\\' &&
        r->p[1] == 'u' && hex4(r->p + 2, r->end, &low) && low >= 0xdc00 && low <= 0xdfff) {
        r->p += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
    }
    if (is_surrogate(cp))
        return fail_text(c, at, "unpaired surrogate in string: ", 6);
    ivm_buf_add_utf8(&c->chars, cp);
    return true;
}

/* \NNN: one to three octal digits, at most 377. */
static bool read_octal_escape(ctx *c, const char *at)
{
    ivm_reader *r = c->r;
    uint32_t cp = 0;
    for (int n = 0; n < 3 && r->p < r->end && *r->p >= '0' && *r->p <= '7'; n++)
        cp = cp * 8 + (uint32_t)(*r->p++ - '0');
    if (cp > 0377)
        return fail(c, at, "octal escape sequence must be in range [0, 377]");
    ivm_buf_add_utf8(&c->chars, cp);
    return true;
}

/* The escape whose backslash is at `at` (the cursor just after it). */
static bool read_escape(ctx *c, const char *at)
{
    ivm_reader *r = c->r;
    static const char from[] = "ntrbf\"\\", to[] = "\n\t\r\b\f\"\\";
    for (size_t i = 0; from[i]; i++)
        if (*r->p == from[i]) {
            r->p++;
            ivm_buf_add_char(&c->chars, to[i]);
            return true;
        }
    if (*r->p == 'u') {
        r->p++;
        return read_unicode_escape(c, at);
    }
    if (*r->p >= '0' && *r->p <= '7')
        return read_octal_escape(c, at);
    return fail_text(c, at, "unsupported escape character: ", 1 + ivm_utf8_char_len(r->p, r->end));
}

static bool read_string(ctx *c, ivm_value *v)
{
    ivm_reader *r = c->r;
    const char *open = r->p++;
    c->chars.len = 0;
    ivm_buf_add(&c->chars, "", 0);
    for (;;) {
        const char *run = r->p;
        while (r->p < r->end && *r->p != '"' && *r->p != '\\')
            r->p++;
        if (!ivm_utf8_valid((const uint8_t *)run, (size_t)(r->p - run)))
            return fail(c, open, "invalid UTF-8 in string");
        ivm_buf_add(&c->chars, run, (size_t)(r->p - run));
        bool ends = r->p == r->end || (*r->p == '\\' && r->p + 1 == r->end);
        if (ends)
            return fail_eof(c, "EOF while reading string", pos_at(r, open));
        if (*r->p++ == '"')
            break;
        if (!read_escape(c, r->p - 1))
            return false;
    }
    *v = ivm_string(r->heap, c->chars.data, c->chars.len);
    return true;
}

/* #"...": the text between the quotes is the pattern as written (a
 * backslash keeps the character after it, so \" does not end it; no
 * escape is decoded), compiled now, as Clojure does, so that a bad
 * pattern is an error of the read. */
static bool read_regex(ctx *c, ivm_value *v)
{
    ivm_reader *r = c->r;
    const char *open = r->p;
    const char *q = open + 2;
    while (q < r->end && *q != '"')
        q += *q == '\\' && q + 1 < r->end ? 2 : 1;
    if (q >= r->end)
        return fail_eof(c, "EOF while reading regex", pos_at(r, open));
    size_t len = (size_t)(q - (open + 2));
    if (!ivm_utf8_valid((const uint8_t *)open + 2, len))
        return fail(c, open, "invalid UTF-8 in regex");
    r->p = q + 1;
    ivm_value pattern = ivm_string(r->heap, open + 2, len);
    ivm_buf why = {0};
    bool ok = ivm_regex_new(r->heap, pattern, v, &why);
    if (!ok)
        ivm_buf_add(error_at(c, pos_at(r, open)), why.data, why.len);
    ivm_buf_free(&why);
    return ok;
}

/* ---- Characters -------------------------------------------------------- */

/* \uXXXX: not a surrogate. */
static bool unicode_char(ctx *c, const char *at, size_t len, uint32_t *cp)
{
    if (len != 6 || !hex4(at + 2, at + len, cp))
        return fail_text(c, at, "invalid unicode character: ", len);
    return !is_surrogate(*cp) || fail_text(c, at, "invalid character constant: ", len);
}

/* \oNNN: one to three octal digits, at most 377. */
static bool octal_char(ctx *c, const char *at, size_t len, uint32_t *cp)
{
    if (len > 5)
        return fail_text(c, at, "invalid octal character: ", len);
    *cp = 0;
    for (size_t i = 2; i < len; i++) {
        if (at[i] < '0' || at[i] > '7')
            return fail_text(c, at, "invalid octal character: ", len);
        *cp = *cp * 8 + (uint32_t)(at[i] - '0');
    }
    return *cp <= 0377 || fail(c, at, "octal escape sequence must be in range [0, 377]");
}

/* The character a token \XY... of two or more code points stands for. */
static bool char_token(ctx *c, const char *at, size_t len, uint32_t *cp)
{
    if (ivm_char_named(at + 1, len - 1, cp))
        return true;
    if (at[1] == 'u')
        return unicode_char(c, at, len, cp);
    if (at[1] == 'o')
        return octal_char(c, at, len, cp);
    return fail_text(c, at, "unsupported character: ", len);
}

/* \c, \name, \uXXXX, \oNNN: the character and the token chars after it
 * make one token, so \ab is an error rather than \a and b. */
static bool read_char(ctx *c, ivm_value *v)
{
    ivm_reader *r = c->r;
    const char *at = r->p;
    if (at + 1 == r->end)
        return fail_eof(c, "EOF while reading character", pos_at(r, at));
    size_t first = ivm_utf8_char_len(at + 1, r->end);
    if (!scan_token(c, at, at + 1 + (first ? first : 1)))
        return false;
    size_t len = (size_t)(r->p - at);
    uint32_t cp;
    if (len == 1 + first)
        cp = ivm_utf8_next(&(const uint8_t *){(const uint8_t *)at + 1});
    else if (!char_token(c, at, len, &cp))
        return false;
    *v = ivm_char(cp);
    return true;
}

/* ---- Collections ------------------------------------------------------- */

static bool is_collection(frame_kind k) { return k <= F_FN; }

static char closer_of(frame_kind k)
{
    return k == F_LIST || k == F_FN ? ')' : k == F_VECTOR ? ']' : is_collection(k) ? '}' : 0;
}

/* Opens a collection or a prefix of `skip` bytes. */
static int open_frame(ctx *c, frame_kind kind, ivm_source_pos pos, size_t skip)
{
    c->r->p += skip;
    *(frame *)ivm_frames_push(&c->frames) = (frame){kind, false, c->items.len, pos};
    return R_NONE;
}

static ivm_value build_list(ctx *c, const frame *f)
{
    ivm_value list = IVM_EMPTY_LIST;
    for (size_t i = c->items.len; i-- > f->base;) {
        list = ivm_cons_new(c->r->heap, c->items.items[i], list);
        record(c, list, 0, item_pos(c, i));
    }
    record(c, list, IVM_POS_OPEN, f->pos);
    return list;
}

static ivm_value build_vector(ctx *c, const frame *f)
{
    size_t n = c->items.len - f->base;
    ivm_value v = ivm_vec_from(c->r->heap, c->items.items + f->base, n);
    for (size_t i = 0; i < n; i++)
        record(c, v, (uint32_t)i, item_pos(c, f->base + i));
    record(c, v, IVM_POS_OPEN, f->pos);
    return v;
}

/* The highest %N an anonymous function literal's body uses (% is %1),
 * and whether it uses % and %&. Walks nested collections iteratively. */
static void scan_args(ivm_value body, unsigned *max, bool *bare, bool *rest)
{
    ivm_worklist w;
    ivm_worklist_init(&w);
    ivm_worklist_push(&w, body);
    while (w.len) {
        ivm_value v = ivm_worklist_pop(&w);
        if (ivm_walk_kind_of(v) != IVM_WALK_LEAF) {
            ivm_cursor cur;
            ivm_value x, y;
            ivm_cursor_init(&cur, v);
            while (ivm_cursor_next(&cur, &x, &y)) {
                ivm_worklist_push(&w, x);
                if (cur.kind == IVM_WALK_MAP)
                    ivm_worklist_push(&w, y);
            }
            continue;
        }
        if (!ivm_is_kind(v, IVM_K_SYMBOL) || ivm_as_str(v)->bytes[0] != '%')
            continue;
        const ivm_str *s = ivm_as_str(v);
        if (s->len == 1) {
            *bare = true;
            if (*max < 1)
                *max = 1;
        } else if (s->len == 2 && s->bytes[1] == '&') {
            *rest = true;
        } else if (s->len == 2 && s->bytes[1] >= '1' && s->bytes[1] <= '9') {
            if (*max < (unsigned)(s->bytes[1] - '0'))
                *max = (unsigned)(s->bytes[1] - '0');
        }
    }
    ivm_worklist_free(&w);
}

/* #(f % %2 %&) is (fn* [%1 %2 & %&] (let [% %1] (f % %2 %&))), the let
 * only when % itself is used. */
static ivm_value build_fn_literal(ctx *c, const frame *f)
{
    ivm_heap *h = c->r->heap;
    ivm_value body = build_list(c, f);
    unsigned max = 0;
    bool bare = false, rest = false;
    scan_args(body, &max, &bare, &rest);
    ivm_value params[12];
    size_t n = 0;
    char name[3] = {'%', '1', 0};
    for (unsigned i = 1; i <= max; i++) {
        name[1] = (char)('0' + i);
        params[n++] = ivm_symbol(h, name, 2);
    }
    if (rest) {
        params[n++] = ivm_symbol(h, "&", 1);
        params[n++] = ivm_symbol(h, "%&", 2);
    }
    if (bare) {
        ivm_value binding[2] = {ivm_symbol(h, "%", 1), params[0]};
        ivm_value let = ivm_cons_new(h, ivm_symbol(h, "let", 3),
                                     ivm_cons_new(h, ivm_vec_from(h, binding, 2),
                                                  ivm_cons_new(h, body, IVM_EMPTY_LIST)));
        record(c, let, IVM_POS_OPEN, f->pos);
        body = let;
    }
    ivm_value fn = ivm_cons_new(h, ivm_symbol(h, "fn*", 3),
                                ivm_cons_new(h, ivm_vec_from(h, params, n),
                                             ivm_cons_new(h, body, IVM_EMPTY_LIST)));
    record(c, fn, IVM_POS_OPEN, f->pos);
    return fn;
}

/* Transients built by the reader belong to no process. */
#define READER_OWNER 0

static uint64_t transient_count(ivm_value t)
{
    uint64_t n = 0;
    ivm_tmap_count(t, READER_OWNER, &n);
    return n;
}

/* A map or a set: an error for an odd number of map forms or a key given
 * twice (as in Clojure). */
static bool build_hashed(ctx *c, const frame *f, ivm_value *out)
{
    ivm_heap *h = c->r->heap;
    bool map = f->kind == F_MAP;
    if (map && (c->items.len - f->base) % 2)
        return fail_at(c, f->pos, "map literal must contain an even number of forms");
    ivm_value t = ivm_map_transient(h, map ? ivm_map_empty(h) : ivm_set_empty(h), READER_OWNER);
    for (size_t i = f->base; i < c->items.len; i += map ? 2 : 1) {
        uint64_t before = transient_count(t);
        ivm_value key = c->items.items[i];
        if (map)
            ivm_tmap_assoc(h, t, READER_OWNER, key, c->items.items[i + 1]);
        else
            ivm_tset_conj(h, t, READER_OWNER, key);
        if (transient_count(t) == before) {
            ivm_buf *e = error_at(c, item_pos(c, i));
            ivm_buf_add_cstr(e, "duplicate key: ");
            ivm_print(h, e, key, true);
            return false;
        }
    }
    ivm_tmap_persistent(h, t, READER_OWNER, out);
    record(c, *out, IVM_POS_OPEN, f->pos);
    return true;
}

/* A closing bracket: ends the collection on top of the stack, which must
 * be the one it closes. */
static bool close_frame(ctx *c, ivm_value *v, ivm_source_pos *pos)
{
    const char *at = c->r->p++;
    frame *top = ivm_frames_top(&c->frames);
    if (!top || closer_of(top->kind) != *at)
        return fail_text(c, at, "unmatched delimiter: ", 1);
    frame f = *top;
    ivm_frames_pop(&c->frames);
    *pos = f.pos;
    bool ok = true;
    if (f.kind == F_LIST)
        *v = build_list(c, &f);
    else if (f.kind == F_FN)
        *v = build_fn_literal(c, &f);
    else if (f.kind == F_VECTOR)
        *v = build_vector(c, &f);
    else
        ok = build_hashed(c, &f, v);
    c->items.len = f.base;
    c->item_at.len = f.base;
    return ok;
}

/* (name x), with x's position and the prefix's for the list and name. */
static ivm_value wrap(ctx *c, const char *name, ivm_value x, ivm_source_pos at,
                      ivm_source_pos x_at)
{
    ivm_heap *h = c->r->heap;
    ivm_value rest = ivm_cons_new(h, x, IVM_EMPTY_LIST);
    ivm_value list = ivm_cons_new(h, ivm_symbol_cstr(h, name), rest);
    record(c, rest, 0, x_at);
    record(c, list, 0, at);
    record(c, list, IVM_POS_OPEN, at);
    return list;
}

/* The head of the list a prefix reads as: 'x is (quote x), and so on.
 * Syntax quote is expanded by the compiler (expand.c), not here. */
static const char *prefix_name(frame_kind kind)
{
    switch (kind) {
    case F_QUOTE: return "quote";
    case F_DEREF: return "deref";
    case F_SYNTAX_QUOTE: return "ivm.core/syntax-quote";
    case F_UNQUOTE: return "clojure.core/unquote";
    default: return "clojure.core/unquote-splicing";
    }
}

/* Hands a finished form to whatever is open: a collection takes it as an
 * element, a prefix applies to it (and hands the result on), #_ drops it.
 * True when nothing is open: the form is a whole top-level form. */
static bool deliver(ctx *c, ivm_value *v, ivm_source_pos *pos)
{
    for (;;) {
        frame *f = ivm_frames_top(&c->frames);
        if (!f)
            return true;
        if (is_collection(f->kind)) {
            push_item(c, *v, *pos);
            return false;
        }
        if (f->kind == F_META && !f->meta_read) {
            f->meta_read = true; /* and the metadata is dropped */
            return false;
        }
        frame done = *f;
        ivm_frames_pop(&c->frames);
        if (done.kind == F_DISCARD)
            return false;
        if (done.kind != F_META) {
            *v = wrap(c, prefix_name(done.kind), *v, done.pos, *pos);
            *pos = done.pos;
        }
    }
}

/* ---- Dispatch ---------------------------------------------------------- */

/* ##Inf, ##-Inf, ##NaN */
static bool read_symbolic_value(ctx *c, ivm_value *v)
{
    const char *at = c->r->p;
    if (!scan_token(c, at, at + 2))
        return false;
    size_t len = (size_t)(c->r->p - at);
    double d;
    if (span_is(at + 2, len - 2, "Inf"))
        d = INFINITY;
    else if (span_is(at + 2, len - 2, "-Inf"))
        d = -INFINITY;
    else if (span_is(at + 2, len - 2, "NaN"))
        d = NAN;
    else
        return fail_text(c, at, "unknown symbolic value: ", len);
    *v = ivm_float(c->r->heap, d);
    return true;
}

/* What follows '#'. */
static int read_dispatch(ctx *c, ivm_value *v, ivm_source_pos pos)
{
    ivm_reader *r = c->r;
    const char *at = r->p;
    if (at + 1 == r->end)
        return outcome(fail_eof(c, "EOF while reading", pos));
    switch (at[1]) {
    case '{': return open_frame(c, F_SET, pos, 2);
    case '_': return open_frame(c, F_DISCARD, pos, 2);
    case '^': return open_frame(c, F_META, pos, 2);
    case '!': skip_line(r); return R_NONE;
    case '#': return outcome(read_symbolic_value(c, v));
    case '(':
        for (size_t i = 0; i < c->frames.len; i++)
            if (((frame *)(void *)(c->frames.items + i * c->frames.size))->kind == F_FN)
                return outcome(fail(c, at, "Nested #()s are not allowed"));
        return open_frame(c, F_FN, pos, 2);
    case '"': return outcome(read_regex(c, v));
    case '?': return outcome(fail(c, at, "reader conditionals are not supported yet"));
    default: /* named with the character after '#' when it is visible */
        return outcome(fail_text(c, at, "unknown dispatch macro ",
                                 (uint8_t)at[1] > ' ' ? 1 + ivm_utf8_char_len(at + 1, r->end) : 1));
    }
}

/* Reads what starts at the cursor (not blank): a form (R_VALUE, at *pos),
 * or an opening bracket, prefix or comment (R_NONE). */
static int read_item(ctx *c, ivm_value *v, ivm_source_pos *pos)
{
    ivm_reader *r = c->r;
    *pos = pos_at(r, r->p);
    switch (*r->p) {
    case '(': return open_frame(c, F_LIST, *pos, 1);
    case '[': return open_frame(c, F_VECTOR, *pos, 1);
    case '{': return open_frame(c, F_MAP, *pos, 1);
    case '\'': return open_frame(c, F_QUOTE, *pos, 1);
    case '@': return open_frame(c, F_DEREF, *pos, 1);
    case '^': return open_frame(c, F_META, *pos, 1);
    case ')': case ']': case '}': return outcome(close_frame(c, v, pos));
    case '"': return outcome(read_string(c, v));
    case '\\': return outcome(read_char(c, v));
    case '#': return read_dispatch(c, v, *pos);
    case '`': return open_frame(c, F_SYNTAX_QUOTE, *pos, 1);
    case '~':
        if (r->p + 1 < r->end && r->p[1] == '@')
            return open_frame(c, F_UNQUOTE_SPLICING, *pos, 2);
        return open_frame(c, F_UNQUOTE, *pos, 1);
    default: return outcome(read_token(c, v));
    }
}

static int read_form(ctx *c, ivm_value *form, ivm_source_pos *where)
{
    ivm_reader *r = c->r;
    for (;;) {
        skip_blank(r);
        if (r->p == r->end) {
            frame *open = ivm_frames_top(&c->frames);
            return open ? outcome(fail_eof(c, "EOF while reading", open->pos)) : R_NONE;
        }
        ivm_value v;
        ivm_source_pos pos;
        int got = read_item(c, &v, &pos);
        if (got == R_ERROR)
            return R_ERROR;
        if (got == R_VALUE && deliver(c, &v, &pos)) {
            *form = v;
            *where = pos;
            return R_VALUE;
        }
    }
}

int ivm_read(ivm_reader *r, ivm_value *form, ivm_source_pos *where, ivm_buf *err)
{
    ctx c;
    c.r = r;
    c.err = err;
    c.chars = (ivm_buf){0};
    ivm_frames_init(&c.frames, sizeof(frame));
    ivm_worklist_init(&c.items);
    ivm_frames_init(&c.item_at, sizeof(ivm_source_pos));
    r->incomplete = false;
    int result = read_form(&c, form, where);
    ivm_frames_free(&c.frames);
    ivm_worklist_free(&c.items);
    ivm_frames_free(&c.item_at);
    ivm_buf_free(&c.chars);
    return result;
}
