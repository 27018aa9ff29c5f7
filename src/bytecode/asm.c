/* The assembler: .ivs text to .ivc bytes (the format is described in
 * asm.h), plus the lexical rules the disassembler shares so that what it
 * prints reads back unchanged.
 *
 * One pass, line by line, stopping at the first error. Each prototype is
 * collected in a builder (scratch arrays on the bootstrap allocator); at
 * its .end its jumps are resolved and it becomes an arena prototype. The
 * finished module goes through ivm_write_ivc, so the file format is encoded
 * in one place only, and the loader then verifies the bytes: this file
 * checks only what it needs to build them (syntax, names, field ranges).
 *
 * Values under construction are held only by the scratch arrays, which the
 * collector cannot see: the assembler relies on allocation not collecting. */
#include "bytecode/asm.h"
#include "ivm/ivc.h"
#include "ivm/opcodes.h"
#include "ivm/platform.h"
#include "values/regex.h"

#define ITEMS(buf, type) ((type *)(void *)(buf).data)
#define COUNT(buf, type) ((uint32_t)((buf).len / sizeof(type)))

/* ---- Name maps --------------------------------------------------------- */

static uint32_t name_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* The slot holding `name`, or the free slot where it belongs. */
static ivm_name_entry *find_slot(ivm_name_entry *slots, uint32_t capacity,
                                 const char *name, size_t len)
{
    uint32_t mask = capacity - 1;
    for (uint32_t i = name_hash(name, len) & mask;; i = (i + 1) & mask)
        if (!slots[i].name ||
            (slots[i].len == len && memcmp(slots[i].name, name, len) == 0))
            return &slots[i];
}

void ivm_name_map_free(ivm_name_map *m)
{
    ivm_platform_free(m->slots);
    memset(m, 0, sizeof *m);
}

uint32_t ivm_name_map_get(const ivm_name_map *m, const char *name, size_t len)
{
    if (m->capacity == 0)
        return IVM_NAME_ABSENT;
    ivm_name_entry *e = find_slot(m->slots, m->capacity, name, len);
    return e->name ? e->value : IVM_NAME_ABSENT;
}

static void name_map_grow(ivm_name_map *m)
{
    uint32_t capacity = m->capacity ? m->capacity * 2 : 16;
    ivm_name_entry *slots = ivm_platform_calloc(capacity, sizeof *slots);
    if (!slots)
        ivm_platform_exit(70);
    for (uint32_t i = 0; i < m->capacity; i++)
        if (m->slots[i].name)
            *find_slot(slots, capacity, m->slots[i].name, m->slots[i].len) = m->slots[i];
    ivm_platform_free(m->slots);
    m->slots = slots;
    m->capacity = capacity;
}

void ivm_name_map_put(ivm_name_map *m, const char *name, size_t len, uint32_t value)
{
    if (((size_t)m->count + 1) * 2 > m->capacity)
        name_map_grow(m);
    *find_slot(m->slots, m->capacity, name, len) =
        (ivm_name_entry){name, (uint32_t)len, value};
    m->count++;
}

/* ---- Characters and words ---------------------------------------------- */

typedef struct span {
    const char *p;
    size_t len;
} span;

static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_letter(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int to_upper(int c) { return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c; }
static bool is_blank(int c) { return c == ' ' || c == '\t' || c == '\r'; }

static int hex_value(int c)
{
    if (is_digit(c))
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/* Prototype IDs, labels, mnemonics and bare global names. */
static bool is_id_char(int c)
{
    switch (c) {
    case '_': case '-': case '?': case '!': case '*': case '+':
    case '<': case '>': case '=': case '/': case '.':
        return true;
    default:
        return is_letter(c) || is_digit(c);
    }
}

/* Everything a number token may hold; its syntax is checked afterwards. */
static bool is_number_char(int c)
{
    return is_letter(c) || is_digit(c) || c == '.' || c == '+' || c == '-';
}

/* Symbol and keyword names: anything but space, controls and delimiters.
 * Bytes from 0x80 up are checked as UTF-8 where they are read. */
static bool is_name_byte(int c)
{
    return c > ' ' && c != 0x7f && c != '(' && c != ')' && c != '"' &&
           c != ';' && c != ',';
}

static bool is_number_start(const char *p, const char *end)
{
    if (p < end && (*p == '-' || *p == '+'))
        p++;
    return p < end && is_digit(*p);
}

static bool all_digits(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_digit(p[i]))
            return false;
    return len > 0;
}

static const char *skip_while(const char *p, const char *end, bool (*pred)(int))
{
    while (p < end && pred((uint8_t)*p))
        p++;
    return p;
}

static bool span_is(span s, const char *word)
{
    return s.len == ivm_cstr_len(word) && memcmp(s.p, word, s.len) == 0;
}

static bool span_equal(span a, span b)
{
    return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

/* kN: a constant index where a constant may stand. */
static bool is_index_word(span w)
{
    return w.len > 1 && w.p[0] == 'k' && all_digits(w.p + 1, w.len - 1);
}

bool ivm_asm_plain_id(const uint8_t *name, size_t len)
{
    span w = {(const char *)name, len};
    if (len == 0 || is_number_start(w.p, w.p + len) || w.p[0] == '.' ||
        skip_while(w.p, w.p + len, is_id_char) != w.p + len)
        return false;
    bool generated = len > 2 && w.p[0] == '_' && w.p[1] == 'p' && all_digits(w.p + 2, len - 2);
    return !generated && !is_index_word(w) && !span_is(w, "nil") &&
           !span_is(w, "true") && !span_is(w, "false");
}

bool ivm_asm_plain_name(const uint8_t *name, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_name_byte(name[i]))
            return false;
    return len > 0;
}

/* ---- Numbers ----------------------------------------------------------- */

/* Whether the token has 0x (and something after it) at i, after a sign. */
static bool has_hex_prefix(span t, size_t i)
{
    return t.len - i > 2 && t.p[i] == '0' && (t.p[i + 1] | 0x20) == 'x';
}

/* Reads an integer token: an optional sign, then decimal digits or 0x and
 * hex digits. Returns NULL, or what is wrong with it. */
static const char *read_int(span t, int64_t *out)
{
    size_t i = t.len > 0 && (t.p[0] == '-' || t.p[0] == '+');
    bool negative = i && t.p[0] == '-';
    unsigned base = 10;
    if (has_hex_prefix(t, i)) {
        base = 16;
        i += 2;
    }
    if (i == t.len)
        return "expected an integer";
    uint64_t limit = negative ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1;
    uint64_t magnitude = 0;
    for (; i < t.len; i++) {
        int d = hex_value((uint8_t)t.p[i]);
        if (d < 0 || (unsigned)d >= base)
            return "expected an integer";
        if (magnitude > (limit - (unsigned)d) / base)
            return "integer out of range";
        magnitude = magnitude * base + (unsigned)d;
    }
    *out = negative ? -(int64_t)(magnitude - 1) - 1 : (int64_t)magnitude;
    return NULL;
}

/* A token in the syntax of #float's argument: 0x and 1 to 16 hex digits. */
static bool read_bits(span t, uint64_t *out)
{
    if (t.len < 3 || t.len > 18 || t.p[0] != '0' || (t.p[1] | 0x20) != 'x')
        return false;
    *out = 0;
    for (size_t i = 2; i < t.len; i++) {
        int d = hex_value((uint8_t)t.p[i]);
        if (d < 0)
            return false;
        *out = *out << 4 | (unsigned)d;
    }
    return true;
}

static bool is_float_text(span t)
{
    size_t i = t.len > 0 && (t.p[0] == '-' || t.p[0] == '+');
    if (has_hex_prefix(t, i))
        return false;
    for (; i < t.len; i++)
        if (t.p[i] == '.' || t.p[i] == 'e' || t.p[i] == 'E')
            return true;
    return false;
}

static ivm_value float_from_bits(ivm_heap *h, uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return ivm_float(h, d);
}

/* ---- The assembler's state --------------------------------------------- */

/* An instruction as written: its jump offsets are known only at .end. */
typedef struct pending {
    uint8_t op;
    int32_t v[3]; /* the operands in slots A, B, C of the opcode table */
} pending;

typedef struct fixup {
    uint32_t pc;
    unsigned slot;
    span label;
} fixup;

/* The prototype between .proto and .end. */
typedef struct builder {
    span id;
    ivm_value name;
    bool name_set, variadic;
    int nparams, nregs;  /* -1 until given */
    uint32_t regs_used;  /* the highest register an operand names, plus 1 */
    const char *regs_used_at; /* the operand that names it */
    ivm_buf consts;      /* ivm_value */
    ivm_buf code;        /* pending */
    ivm_buf lines;       /* ivm_line */
    ivm_buf caps;        /* ivm_capture */
    ivm_buf fixups;      /* fixup */
    ivm_buf krefs;       /* span: the kN operands, checked at .end */
    const char *line_at; /* the last .line directive */
    ivm_name_map labels; /* label -> pc */
} builder;

typedef struct assembler {
    ivm_heap *heap;
    const char *text, *p, *end; /* p: the cursor */
    const char *filename;
    ivm_buf *err;
    ivm_value source;
    const char *source_at; /* the .source directive, or NULL */
    span entry;            /* the .entry ID; entry.p is NULL without one */
    ivm_buf protos;        /* ivm_value: the finished prototypes */
    ivm_name_map ids;      /* prototype ID -> index in protos */
    bool in_proto;
    builder b;
    ivm_buf items; /* ivm_value: elements of the lists being read */
    ivm_buf chars; /* the string literal being decoded */
} assembler;

static void push_value(ivm_buf *b, ivm_value v) { ivm_buf_add(b, &v, sizeof v); }

static void builder_free(builder *b)
{
    ivm_buf_free(&b->consts);
    ivm_buf_free(&b->code);
    ivm_buf_free(&b->lines);
    ivm_buf_free(&b->caps);
    ivm_buf_free(&b->fixups);
    ivm_buf_free(&b->krefs);
    ivm_name_map_free(&b->labels);
    memset(b, 0, sizeof *b);
}

/* ---- Errors ------------------------------------------------------------ */

/* Starts the error message "FILE:LINE:COL: " for the text at `at`
 * (columns count code points) and returns the buffer to finish it in. */
static ivm_buf *error_at(assembler *as, const char *at)
{
    int64_t line = 1, col = 1;
    for (const char *p = as->text; p < at; p++) {
        if (*p == '\n') {
            line++;
            col = 1;
        } else if ((*p & 0xc0) != 0x80) {
            col++;
        }
    }
    ivm_buf_add_cstr(as->err, as->filename);
    ivm_buf_add_char(as->err, ':');
    ivm_buf_add_int(as->err, line);
    ivm_buf_add_char(as->err, ':');
    ivm_buf_add_int(as->err, col);
    ivm_buf_add_cstr(as->err, ": ");
    return as->err;
}

static bool fail(assembler *as, const char *at, const char *message)
{
    ivm_buf_add_cstr(error_at(as, at), message);
    return false;
}

static bool fail_name(assembler *as, const char *at, const char *before,
                      span name, const char *after)
{
    ivm_buf *e = error_at(as, at);
    ivm_buf_add_cstr(e, before);
    ivm_buf_add(e, name.p, name.len);
    ivm_buf_add_cstr(e, after);
    return false;
}

static bool fail_range(assembler *as, const char *at, const char *what,
                       int64_t lo, int64_t hi)
{
    ivm_buf *e = error_at(as, at);
    ivm_buf_add_cstr(e, what);
    ivm_buf_add_cstr(e, " out of range (");
    ivm_buf_add_int(e, lo);
    ivm_buf_add_cstr(e, "..");
    ivm_buf_add_int(e, hi);
    ivm_buf_add_char(e, ')');
    return false;
}

/* ---- The cursor -------------------------------------------------------- */

static int peek_at(const assembler *as, size_t k)
{
    return (size_t)(as->end - as->p) > k ? (uint8_t)as->p[k] : -1;
}

static int peek(const assembler *as) { return peek_at(as, 0); }

static bool accept(assembler *as, char c)
{
    if (peek(as) != (uint8_t)c)
        return false;
    as->p++;
    return true;
}

static void skip_blanks(assembler *as) { as->p = skip_while(as->p, as->end, is_blank); }

static bool at_line_end(const assembler *as)
{
    int c = peek(as);
    return c < 0 || c == '\n' || c == ';';
}

static span scan(assembler *as, bool (*pred)(int))
{
    span s = {as->p, 0};
    as->p = skip_while(as->p, as->end, pred);
    s.len = (size_t)(as->p - s.p);
    return s;
}

static bool parse_integer(assembler *as, int64_t *v)
{
    const char *at = as->p;
    const char *why = read_int(scan(as, is_number_char), v);
    return !why || fail(as, at, why);
}

static bool parse_integer_in(assembler *as, const char *what, int64_t lo,
                             int64_t hi, int64_t *v)
{
    const char *at = as->p;
    if (!parse_integer(as, v))
        return false;
    return (*v >= lo && *v <= hi) || fail_range(as, at, what, lo, hi);
}

/* The decoding buffer, emptied (and allocated, so its data is not NULL). */
static ivm_buf *empty_chars(assembler *as)
{
    as->chars.len = 0;
    ivm_buf_add(&as->chars, "", 0);
    return &as->chars;
}

/* ---- Constants --------------------------------------------------------- */

static bool parse_literal(assembler *as, unsigned depth,
                          ivm_operand_kind bare, ivm_value *out);

static bool parse_unicode_escape(assembler *as, const char *at)
{
    uint32_t c = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_value(peek(as));
        if (d < 0)
            return fail(as, at, "\\u needs four hex digits");
        c = c << 4 | (unsigned)d;
        as->p++;
    }
    if (c >= 0xd800 && c <= 0xdfff)
        return fail(as, at, "\\u escape of a surrogate (write the character itself)");
    ivm_buf_add_utf8(&as->chars, c);
    return true;
}

static bool parse_escape(assembler *as)
{
    const char *at = as->p++;
    char c;
    switch (peek(as)) {
    case 'n': c = '\n'; break;
    case 't': c = '\t'; break;
    case 'r': c = '\r'; break;
    case 'b': c = '\b'; break;
    case 'f': c = '\f'; break;
    case '"': c = '"'; break;
    case '\\': c = '\\'; break;
    case 'u': as->p++; return parse_unicode_escape(as, at);
    default: return fail(as, at, "unknown escape in string");
    }
    as->p++;
    ivm_buf_add_char(&as->chars, c);
    return true;
}

/* Reads "..." into as->chars: valid UTF-8 by construction. */
static bool parse_text(assembler *as)
{
    const char *open = as->p;
    if (!accept(as, '"'))
        return fail(as, open, "expected a string");
    ivm_buf *chars = empty_chars(as);
    for (;;) {
        int c = peek(as);
        if (c < 0 || c == '\n')
            return fail(as, open, "unterminated string");
        if (c == '"') {
            as->p++;
            return true;
        }
        if (c == '\\') {
            if (!parse_escape(as))
                return false;
            continue;
        }
        size_t n = ivm_utf8_char_len(as->p, as->end);
        if (n == 0)
            return fail(as, as->p, "invalid UTF-8 in string");
        ivm_buf_add(chars, as->p, n);
        as->p += n;
    }
}

static ivm_value make_name(ivm_heap *h, bool keyword, const void *name, size_t len)
{
    return keyword ? ivm_keyword(h, name, len) : ivm_symbol(h, name, len);
}

/* 'name or :name */
static bool parse_sigil_name(assembler *as, bool keyword, ivm_value *out)
{
    const char *at = as->p++;
    const char *start = as->p;
    while (is_name_byte(peek(as))) {
        size_t n = ivm_utf8_char_len(as->p, as->end);
        if (n == 0)
            return fail(as, as->p, "invalid UTF-8 in name");
        as->p += n;
    }
    if (as->p == start)
        return fail(as, at, keyword ? "expected a keyword name after ':'"
                                    : "expected a symbol name after '");
    *out = make_name(as->heap, keyword, start, (size_t)(as->p - start));
    return true;
}

/* \c, or \name for the named characters (ivm_char_named). A run of word
 * characters is one token, so \u00e9 is an error rather than \u and 00e9. */
static bool parse_char(assembler *as, ivm_value *out)
{
    const char *at = as->p++;
    int c = peek(as);
    if (c < 0x21 || c > 0x7e)
        return fail(as, at, "expected a character after \\ (write others as #char N)");
    span w = is_id_char(c) ? scan(as, is_id_char) : (span){as->p++, 1};
    if (w.len == 1) {
        *out = ivm_char((uint32_t)c);
        return true;
    }
    uint32_t named;
    if (ivm_char_named(w.p, w.len, &named)) {
        *out = ivm_char(named);
        return true;
    }
    return fail_name(as, at, "unknown character name \\", w, "");
}

static bool parse_number(assembler *as, ivm_value *out)
{
    const char *at = as->p;
    span t = scan(as, is_number_char);
    if (is_float_text(t)) {
        double d;
        if (!ivm_platform_parse_double(t.p, t.len, &d))
            return fail(as, at, "invalid number");
        *out = ivm_float(as->heap, d);
        return true;
    }
    int64_t i;
    const char *why = read_int(t, &i);
    if (why)
        return fail(as, at, why);
    *out = ivm_int(as->heap, i);
    return true;
}

/* Whether a line after the cursor is ".proto ID". */
static bool defined_later(const assembler *as, span id)
{
    for (const char *p = as->p; p < as->end; p++) {
        if (*p != '\n')
            continue;
        const char *d = skip_while(p + 1, as->end, is_blank);
        if (as->end - d < 6 || memcmp(d, ".proto", 6) != 0)
            continue;
        const char *name = skip_while(d + 6, as->end, is_blank);
        span later = {name, (size_t)(skip_while(name, as->end, is_id_char) - name)};
        if (name > d + 6 && span_equal(later, id))
            return true;
    }
    return false;
}

/* A prototype constant: the prototype must be finished already, because
 * .ivc lets a prototype refer only to earlier ones. */
static bool proto_ref(assembler *as, span id, ivm_value *out)
{
    uint32_t i = ivm_name_map_get(&as->ids, id.p, id.len);
    if (i != IVM_NAME_ABSENT) {
        *out = ITEMS(as->protos, ivm_value)[i];
        return true;
    }
    if (as->in_proto && span_equal(id, as->b.id))
        return fail_name(as, id.p, "prototype ", id,
                         " cannot refer to itself (use a capture or a global)");
    if (defined_later(as, id))
        return fail_name(as, id.p, "define prototype ", id,
                         " before the function that uses it");
    return fail_name(as, id.p, "undefined prototype ", id, "");
}

static bool parse_special_float(assembler *as, const char *at, ivm_value *out)
{
    span w = scan(as, is_id_char);
    uint64_t bits;
    if (span_is(w, "Inf"))
        bits = 0x7ff0000000000000u;
    else if (span_is(w, "-Inf"))
        bits = 0xfff0000000000000u;
    else if (span_is(w, "NaN"))
        bits = 0x7ff8000000000000u;
    else
        return fail(as, at, "expected ##Inf, ##-Inf or ##NaN");
    *out = float_from_bits(as->heap, bits);
    return true;
}

static bool parse_float_bits(assembler *as, ivm_value *out)
{
    const char *at = as->p;
    uint64_t bits;
    if (!read_bits(scan(as, is_number_char), &bits))
        return fail(as, at, "expected 0x and up to 16 hex digits after #float");
    *out = float_from_bits(as->heap, bits);
    return true;
}

static bool parse_code_point(assembler *as, ivm_value *out)
{
    const char *at = as->p;
    int64_t c;
    if (!parse_integer_in(as, "code point", 0, 0x10ffff, &c))
        return false;
    if (c >= 0xd800 && c <= 0xdfff)
        return fail(as, at, "a surrogate is not a character");
    *out = ivm_char((uint32_t)c);
    return true;
}

static bool parse_bytes(assembler *as, ivm_value *out)
{
    if (!accept(as, '"'))
        return fail(as, as->p, "expected \"hex pairs\" after #bytes");
    ivm_buf *bytes = empty_chars(as);
    while (!accept(as, '"')) {
        int hi = hex_value(peek(as)), lo = hex_value(peek_at(as, 1));
        if (hi < 0 || lo < 0)
            return fail(as, as->p, "expected two hex digits or '\"'");
        ivm_buf_add_char(bytes, (char)(hi << 4 | lo));
        as->p += 2;
    }
    *out = ivm_bytes(as->heap, bytes->data, bytes->len);
    return true;
}

/* #tag argument, or ##Inf, ##-Inf, ##NaN */
static bool parse_tagged(assembler *as, ivm_value *out)
{
    const char *at = as->p++;
    if (accept(as, '#'))
        return parse_special_float(as, at, out);
    span tag = scan(as, is_letter);
    skip_blanks(as);
    if (span_is(tag, "float"))
        return parse_float_bits(as, out);
    if (span_is(tag, "char"))
        return parse_code_point(as, out);
    if (span_is(tag, "bytes"))
        return parse_bytes(as, out);
    bool keyword = span_is(tag, "keyword");
    if (keyword || span_is(tag, "symbol")) {
        if (!parse_text(as))
            return false;
        *out = make_name(as->heap, keyword, as->chars.data, as->chars.len);
        return true;
    }
    if (span_is(tag, "regex")) {
        const char *text_at = as->p;
        if (!parse_text(as))
            return false;
        ivm_value pattern = ivm_string(as->heap, as->chars.data, as->chars.len);
        ivm_buf why = {0};
        bool ok = ivm_regex_new(as->heap, pattern, out, &why);
        if (!ok)
            ivm_buf_add(error_at(as, text_at), why.data, why.len);
        ivm_buf_free(&why);
        return ok;
    }
    if (span_is(tag, "proto")) {
        span id = scan(as, is_id_char);
        return id.len ? proto_ref(as, id, out)
                      : fail(as, as->p, "expected a prototype ID after #proto");
    }
    return fail_name(as, at, "unknown tag #", tag, "");
}

static bool parse_list(assembler *as, unsigned depth, ivm_value *out)
{
    const char *open = as->p++;
    uint32_t base = COUNT(as->items, ivm_value);
    for (;;) {
        skip_blanks(as);
        if (accept(as, ')'))
            break;
        if (at_line_end(as))
            return fail(as, open, "unterminated list");
        ivm_value v;
        if (!parse_literal(as, depth + 1, IVM_OPK_K, &v))
            return false;
        push_value(&as->items, v);
    }
    ivm_value list = IVM_EMPTY_LIST;
    for (uint32_t i = COUNT(as->items, ivm_value); i > base; i--)
        list = ivm_cons_new(as->heap, ITEMS(as->items, ivm_value)[i - 1], list);
    as->items.len = base * sizeof(ivm_value);
    *out = list;
    return true;
}

/* A bare word: nil, true, false; in a G operand any other word is a
 * symbol, in a P operand a prototype ID. */
static bool parse_word(assembler *as, span w, ivm_operand_kind bare, ivm_value *out)
{
    if (span_is(w, "nil"))
        *out = IVM_NIL;
    else if (span_is(w, "true"))
        *out = IVM_TRUE;
    else if (span_is(w, "false"))
        *out = IVM_FALSE;
    else if (bare == IVM_OPK_G)
        *out = ivm_symbol(as->heap, w.p, w.len);
    else if (bare == IVM_OPK_P)
        return proto_ref(as, w, out);
    else
        return fail_name(as, w.p, "expected a constant, not ", w, "");
    return true;
}

/* A constant at list nesting `depth`; `bare` is the operand kind that
 * decides what a bare word means (IVM_OPK_K: only nil, true, false). */
static bool parse_literal(assembler *as, unsigned depth,
                          ivm_operand_kind bare, ivm_value *out)
{
    if (depth > IVC_MAX_NESTING) {
        ivm_buf *e = error_at(as, as->p);
        ivm_buf_add_cstr(e, "constant nested deeper than ");
        ivm_buf_add_int(e, IVC_MAX_NESTING);
        ivm_buf_add_cstr(e, " lists");
        return false;
    }
    switch (peek(as)) {
    case '"':
        if (!parse_text(as))
            return false;
        *out = ivm_string(as->heap, as->chars.data, as->chars.len);
        return true;
    case ':': return parse_sigil_name(as, true, out);
    case '\'': return parse_sigil_name(as, false, out);
    case '\\': return parse_char(as, out);
    case '#': return parse_tagged(as, out);
    case '(': return parse_list(as, depth, out);
    default: break;
    }
    if (is_number_start(as->p, as->end))
        return parse_number(as, out);
    span w = scan(as, is_id_char);
    if (w.len == 0)
        return fail(as, as->p, "expected a constant");
    return parse_word(as, w, bare, out);
}

/* Whether two constants are written as the same bytes (so one can stand
 * for both). Recursion is bounded by IVC_MAX_NESTING. */
static bool same_const(ivm_value a, ivm_value b)
{
    if (a == b)
        return true;
    ivm_type t = ivm_type_of(a);
    if (t != ivm_type_of(b))
        return false;
    switch (t) {
    case IVM_T_INT: return ivm_int_value(a) == ivm_int_value(b);
    case IVM_T_FLOAT: return ivm_float_bits(a) == ivm_float_bits(b);
    case IVM_T_STRING:
    case IVM_T_BYTES:
        return ivm_as_str(a)->len == ivm_as_str(b)->len &&
               memcmp(ivm_as_str(a)->bytes, ivm_as_str(b)->bytes, ivm_as_str(a)->len) == 0;
    case IVM_T_LIST:
        if (ivm_list_count(a) != ivm_list_count(b))
            return false;
        for (; a != IVM_EMPTY_LIST; a = ivm_as_cons(a)->rest, b = ivm_as_cons(b)->rest)
            if (!same_const(ivm_as_cons(a)->first, ivm_as_cons(b)->first))
                return false;
        return true;
    default: /* nil, booleans, characters, prototypes and the interned
                symbols and keywords are the same only as the same word */
        return false;
    }
}

/* The index of an equal constant, appended if there is none. */
static uint32_t add_const(assembler *as, ivm_value v)
{
    uint32_t n = COUNT(as->b.consts, ivm_value);
    for (uint32_t i = 0; i < n; i++)
        if (same_const(ITEMS(as->b.consts, ivm_value)[i], v))
            return i;
    push_value(&as->b.consts, v);
    return n;
}

/* ---- Instructions ------------------------------------------------------ */

/* The values an operand of `kind` may take in `slot` of `format`. */
static void slot_range(ivm_op_format format, unsigned slot, ivm_operand_kind kind,
                       int64_t *lo, int64_t *hi)
{
    unsigned bits = format == IVM_FMT_SJ ? 24 : format != IVM_FMT_ABC && slot == 1 ? 16 : 8;
    int64_t values = (int64_t)1 << bits;
    bool is_signed = kind == IVM_OPK_I || kind == IVM_OPK_J;
    *lo = is_signed ? -values / 2 : 0;
    *hi = kind == IVM_OPK_k ? 1 : is_signed ? values / 2 - 1 : values - 1;
}

static const char *kind_name(ivm_operand_kind kind)
{
    switch (kind) {
    case IVM_OPK_R: return "register";
    case IVM_OPK_K: case IVM_OPK_G: case IVM_OPK_P: return "constant index";
    case IVM_OPK_C: return "capture index";
    case IVM_OPK_N: return "count";
    case IVM_OPK_I: return "immediate";
    case IVM_OPK_k: return "flag";
    default: return "jump";
    }
}

static uint32_t encode(const pending *ins)
{
    uint32_t a = (uint32_t)ins->v[0], b = (uint32_t)ins->v[1], c = (uint32_t)ins->v[2];
    switch (ivm_op_table[ins->op].format) {
    case IVM_FMT_ABC: return IVM_ENCODE_ABC(ins->op, a & 0xff, b & 0xff, c & 0xff);
    case IVM_FMT_ABX: return IVM_ENCODE_ABX(ins->op, a, b);
    case IVM_FMT_ASBX: return IVM_ENCODE_ASBX(ins->op, a, ins->v[1]);
    default: return IVM_ENCODE_SJ(ins->op, ins->v[0]);
    }
}

static bool parse_register(assembler *as, int64_t *v)
{
    const char *at = as->p;
    if (!accept(as, 'r') || !is_digit(peek(as)))
        return fail(as, at, "expected a register (rN)");
    return parse_integer(as, v);
}

/* A K, G or P operand: kN, or a constant to find or add. */
static bool parse_const_operand(assembler *as, ivm_operand_kind kind, int64_t *v)
{
    const char *at = as->p;
    span w = {at, (size_t)(skip_while(at, as->end, is_id_char) - at)};
    if (is_index_word(w)) {
        as->p += w.len;
        const char *why = read_int((span){w.p + 1, w.len - 1}, v);
        if (why)
            return fail(as, at, why);
        ivm_buf_add(&as->b.krefs, &w, sizeof w); /* .const may come later */
        return true;
    }
    ivm_value value;
    if (!parse_literal(as, 0, kind, &value))
        return false;
    *v = add_const(as, value);
    return true;
}

static bool parse_jump(assembler *as, unsigned slot)
{
    span label = scan(as, is_id_char);
    if (label.len == 0)
        return fail(as, as->p, "expected a label");
    fixup f = {COUNT(as->b.code, pending), slot, label};
    ivm_buf_add(&as->b.fixups, &f, sizeof f);
    return true;
}

/* What the default register count must cover (and a given one too). */
static void note_register(assembler *as, uint32_t r, const char *at)
{
    if (r + 1 > as->b.regs_used) {
        as->b.regs_used = r + 1;
        as->b.regs_used_at = at;
    }
}

static bool parse_operand(assembler *as, ivm_op_format format, unsigned slot,
                          ivm_operand_kind kind, pending *ins)
{
    const char *at = as->p;
    int64_t v, lo, hi;
    bool ok;
    switch (kind) {
    case IVM_OPK_J: return parse_jump(as, slot);
    case IVM_OPK_R: ok = parse_register(as, &v); break;
    case IVM_OPK_K: case IVM_OPK_G: case IVM_OPK_P: ok = parse_const_operand(as, kind, &v); break;
    default: ok = parse_integer(as, &v); break;
    }
    if (!ok)
        return false;
    slot_range(format, slot, kind, &lo, &hi);
    if (v < lo || v > hi)
        return fail_range(as, at, kind_name(kind), lo, hi);
    ins->v[slot] = (int32_t)v;
    if (kind == IVM_OPK_R)
        note_register(as, (uint32_t)v, at);
    else if (kind == IVM_OPK_N && (ins->op == IVM_OP_MULTIFN || ins->op == IVM_OP_VECTOR))
        /* R[B..B+C-1] */
        note_register(as, (uint32_t)(ins->v[1] + (v > 0 ? v - 1 : 0)), at);
    else if (kind == IVM_OPK_N) /* R[A..A+N] must exist */
        note_register(as, (uint32_t)(ins->v[0] + v), at);
    return true;
}

static bool fail_arity(assembler *as, const char *at, const ivm_op_info *info, unsigned n)
{
    ivm_buf *e = error_at(as, at);
    ivm_buf_add_cstr(e, info->name);
    ivm_buf_add_cstr(e, " takes ");
    ivm_buf_add_int(e, n);
    ivm_buf_add_cstr(e, n == 1 ? " operand" : " operands");
    return false;
}

static int find_opcode(span w)
{
    for (int op = 0; op < IVM_OP_COUNT; op++) {
        const char *name = ivm_op_table[op].name;
        size_t i = 0;
        while (i < w.len && name[i] && to_upper(w.p[i]) == name[i])
            i++;
        if (i == w.len && !name[i])
            return op;
    }
    return -1;
}

static bool parse_instruction(assembler *as, span mnemonic)
{
    int op = find_opcode(mnemonic);
    if (op < 0)
        return fail_name(as, mnemonic.p, "unknown instruction ", mnemonic, "");
    if (!as->in_proto)
        return fail(as, mnemonic.p, "instruction outside .proto");
    const ivm_op_info *info = &ivm_op_table[op];
    const ivm_operand_kind kinds[3] = {info->a, info->b, info->c};
    unsigned want = (kinds[0] != IVM_OPK__) + (kinds[1] != IVM_OPK__) + (kinds[2] != IVM_OPK__);
    pending ins = {.op = (uint8_t)op};
    unsigned n = 0;
    for (unsigned slot = 0; slot < 3; slot++) {
        if (kinds[slot] == IVM_OPK__)
            continue;
        skip_blanks(as);
        if (at_line_end(as))
            return fail_arity(as, as->p, info, want);
        if (n++ > 0) {
            if (!accept(as, ','))
                return fail(as, as->p, "expected ',' between operands");
            skip_blanks(as);
        }
        if (!parse_operand(as, info->format, slot, kinds[slot], &ins))
            return false;
    }
    skip_blanks(as);
    if (peek(as) == ',')
        return fail_arity(as, as->p, info, want);
    ivm_buf_add(&as->b.code, &ins, sizeof ins);
    return true;
}

static bool define_label(assembler *as, span label)
{
    if (!as->in_proto)
        return fail(as, label.p, "label outside .proto");
    if (ivm_name_map_get(&as->b.labels, label.p, label.len) != IVM_NAME_ABSENT)
        return fail_name(as, label.p, "duplicate label ", label, "");
    ivm_name_map_put(&as->b.labels, label.p, label.len, COUNT(as->b.code, pending));
    return true;
}

/* ---- Prototypes -------------------------------------------------------- */

static bool set_name(assembler *as, const char *at, ivm_value name)
{
    if (as->b.name_set)
        return fail(as, at, "name given twice (name= or anonymous)");
    as->b.name_set = true;
    as->b.name = name;
    return true;
}

/* params=N or regs=N */
static bool parse_count_attribute(assembler *as, span attr, const char *what,
                                  int *field)
{
    if (*field >= 0)
        return fail_name(as, attr.p, "duplicate attribute ", attr, "");
    if (!accept(as, '='))
        return fail_name(as, as->p, "expected '=' after ", attr, "");
    int64_t v;
    if (!parse_integer_in(as, what, 0, 255, &v))
        return false;
    *field = (int)v;
    return true;
}

static bool parse_attribute(assembler *as)
{
    builder *b = &as->b;
    span attr = scan(as, is_letter);
    if (span_is(attr, "params"))
        return parse_count_attribute(as, attr, "parameter count", &b->nparams);
    if (span_is(attr, "regs"))
        return parse_count_attribute(as, attr, "register count", &b->nregs);
    if (span_is(attr, "anonymous"))
        return set_name(as, attr.p, IVM_NIL);
    if (span_is(attr, "variadic")) {
        if (b->variadic)
            return fail_name(as, attr.p, "duplicate attribute ", attr, "");
        b->variadic = true;
        return true;
    }
    if (span_is(attr, "name")) {
        if (!accept(as, '='))
            return fail_name(as, as->p, "expected '=' after ", attr, "");
        return parse_text(as) &&
               set_name(as, attr.p, ivm_string(as->heap, as->chars.data, as->chars.len));
    }
    if (attr.len == 0)
        return fail(as, as->p, "expected an attribute (params=, regs=, variadic, name=, anonymous)");
    return fail_name(as, attr.p, "unknown attribute ", attr, "");
}

static bool begin_proto(assembler *as, const char *at)
{
    (void)at;
    span id = scan(as, is_id_char);
    if (id.len == 0)
        return fail(as, as->p, "expected a prototype ID after .proto");
    if (ivm_name_map_get(&as->ids, id.p, id.len) != IVM_NAME_ABSENT)
        return fail_name(as, id.p, "duplicate prototype ", id, "");
    builder *b = &as->b;
    as->in_proto = true;
    b->id = id;
    b->nparams = b->nregs = -1;
    for (;;) {
        skip_blanks(as);
        if (at_line_end(as))
            break;
        if (!parse_attribute(as))
            return false;
    }
    if (!b->name_set)
        b->name = ivm_string(as->heap, id.p, id.len);
    if (b->nparams < 0)
        b->nparams = 0;
    return true;
}

/* Every kN names one of the prototype's constants. */
static bool check_const_refs(assembler *as)
{
    builder *b = &as->b;
    uint32_t nconsts = COUNT(b->consts, ivm_value);
    for (uint32_t i = 0; i < COUNT(b->krefs, span); i++) {
        span w = ITEMS(b->krefs, span)[i];
        int64_t k;
        read_int((span){w.p + 1, w.len - 1}, &k);
        if (k >= nconsts) {
            ivm_buf *e = error_at(as, w.p);
            ivm_buf_add_cstr(e, "constant ");
            ivm_buf_add(e, w.p, w.len);
            ivm_buf_add_cstr(e, " does not exist (the prototype has ");
            ivm_buf_add_int(e, nconsts);
            ivm_buf_add_cstr(e, nconsts == 1 ? " constant)" : " constants)");
            return false;
        }
    }
    return true;
}

static bool resolve_jumps(assembler *as)
{
    builder *b = &as->b;
    pending *code = ITEMS(b->code, pending);
    for (uint32_t i = 0; i < COUNT(b->fixups, fixup); i++) {
        fixup *f = &ITEMS(b->fixups, fixup)[i];
        uint32_t target = ivm_name_map_get(&b->labels, f->label.p, f->label.len);
        if (target == IVM_NAME_ABSENT)
            return fail_name(as, f->label.p, "undefined label ", f->label, "");
        int64_t offset = (int64_t)target - ((int64_t)f->pc + 1), lo, hi;
        slot_range(ivm_op_table[code[f->pc].op].format, f->slot, IVM_OPK_J, &lo, &hi);
        if (offset < lo || offset > hi)
            return fail_name(as, f->label.p, "jump to ", f->label, " is too far");
        code[f->pc].v[f->slot] = (int32_t)offset;
    }
    return true;
}

/* regs=N, or what the operands and parameters need. */
static bool choose_nregs(assembler *as, uint8_t *nregs)
{
    builder *b = &as->b;
    uint32_t n = (uint32_t)b->nregs;
    if (b->nregs < 0) {
        uint32_t params = (uint32_t)b->nparams + b->variadic;
        n = b->regs_used > params ? b->regs_used : params;
        if (n == 0)
            n = 1;
    }
    if (n > 255)
        return fail_name(as, b->id.p, "prototype ", b->id,
                         " needs more than 255 registers");
    if (b->regs_used > n) {
        ivm_buf *e = error_at(as, b->regs_used_at);
        ivm_buf_add_cstr(e, "register r");
        ivm_buf_add_int(e, b->regs_used - 1);
        ivm_buf_add_cstr(e, " is past the prototype's regs=");
        ivm_buf_add_int(e, n);
        return false;
    }
    *nregs = (uint8_t)n;
    return true;
}

static void copy_buf(void *dst, const ivm_buf *b)
{
    if (b->len)
        memcpy(dst, b->data, b->len);
}

static ivm_value build_proto(assembler *as, uint8_t nregs)
{
    builder *b = &as->b;
    uint32_t ncode = COUNT(b->code, pending);
    ivm_value v = ivm_proto_new(as->heap, COUNT(b->consts, ivm_value), ncode,
                                COUNT(b->lines, ivm_line), COUNT(b->caps, ivm_capture));
    ivm_proto *p = ivm_as_proto(v);
    p->name = b->name;
    p->source = as->source;
    p->nparams = (uint8_t)b->nparams;
    p->nregs = nregs;
    p->flags = b->variadic ? IVM_PROTO_VARIADIC : 0;
    copy_buf(ivm_proto_consts(p), &b->consts);
    copy_buf(ivm_proto_lines(p), &b->lines);
    copy_buf(ivm_proto_caps(p), &b->caps);
    for (uint32_t pc = 0; pc < ncode; pc++)
        ivm_proto_code(p)[pc] = encode(&ITEMS(b->code, pending)[pc]);
    return v;
}

static bool end_proto(assembler *as, const char *at)
{
    (void)at;
    builder *b = &as->b;
    uint32_t nlines = COUNT(b->lines, ivm_line);
    if (nlines && ITEMS(b->lines, ivm_line)[nlines - 1].pc == COUNT(b->code, pending))
        return fail(as, b->line_at, ".line after the last instruction");
    uint8_t nregs;
    if (!resolve_jumps(as) || !check_const_refs(as) || !choose_nregs(as, &nregs))
        return false;
    ivm_name_map_put(&as->ids, b->id.p, b->id.len, COUNT(as->protos, ivm_value));
    push_value(&as->protos, build_proto(as, nregs));
    builder_free(b);
    as->in_proto = false;
    return true;
}

/* ---- Directives -------------------------------------------------------- */

static bool parse_source(assembler *as, const char *at)
{
    if (as->source_at)
        return fail(as, at, "duplicate .source");
    if (as->protos.len)
        return fail(as, at, ".source must come before the first .proto");
    if (!parse_text(as))
        return false;
    as->source = ivm_string(as->heap, as->chars.data, as->chars.len);
    as->source_at = at;
    return true;
}

static bool parse_entry(assembler *as, const char *at)
{
    if (as->entry.p)
        return fail(as, at, "duplicate .entry");
    as->entry = scan(as, is_id_char);
    return as->entry.len || fail(as, as->p, "expected a prototype ID after .entry");
}

static bool parse_capture(assembler *as, const char *at)
{
    span kind = scan(as, is_letter);
    ivm_capture cap;
    if (span_is(kind, "reg"))
        cap.kind = IVM_CAPTURE_REGISTER;
    else if (span_is(kind, "cap"))
        cap.kind = IVM_CAPTURE_CAPTURE;
    else
        return fail(as, kind.p, "expected reg or cap after .capture");
    skip_blanks(as);
    int64_t index;
    if (!parse_integer_in(as, "capture index", 0, 255, &index))
        return false;
    if (COUNT(as->b.caps, ivm_capture) == 255)
        return fail(as, at, "too many captures (at most 255)");
    cap.index = (uint8_t)index;
    ivm_buf_add(&as->b.caps, &cap, sizeof cap);
    return true;
}

static bool parse_const(assembler *as, const char *at)
{
    (void)at;
    ivm_value v;
    if (!parse_literal(as, 0, IVM_OPK_K, &v))
        return false;
    push_value(&as->b.consts, v);
    return true;
}

/* Records (pc, line); a second .line at the same pc replaces the first. */
static bool parse_line_directive(assembler *as, const char *at)
{
    builder *b = &as->b;
    int64_t line;
    if (!parse_integer_in(as, "line", 0, UINT32_MAX, &line))
        return false;
    ivm_line pair = {COUNT(b->code, pending), (uint32_t)line};
    uint32_t n = COUNT(b->lines, ivm_line);
    if (n && ITEMS(b->lines, ivm_line)[n - 1].pc == pair.pc)
        ITEMS(b->lines, ivm_line)[n - 1] = pair;
    else
        ivm_buf_add(&b->lines, &pair, sizeof pair);
    b->line_at = at;
    return true;
}

static const struct directive {
    const char *name;
    bool (*parse)(assembler *as, const char *at);
    bool in_proto; /* allowed only between .proto and .end, or only outside */
} directives[] = {
    {"source", parse_source, false},       {"entry", parse_entry, false},
    {"proto", begin_proto, false},         {"end", end_proto, true},
    {"capture", parse_capture, true},      {"const", parse_const, true},
    {"line", parse_line_directive, true},
};

static bool parse_directive(assembler *as)
{
    const char *at = as->p++;
    span name = scan(as, is_letter);
    skip_blanks(as);
    for (size_t i = 0; i < sizeof directives / sizeof directives[0]; i++) {
        const struct directive *d = &directives[i];
        if (!span_is(name, d->name))
            continue;
        if (d->in_proto && !as->in_proto)
            return fail_name(as, at, ".", name, " outside .proto");
        if (!d->in_proto && as->in_proto)
            return fail_name(as, at, "missing .end of prototype ", as->b.id, "");
        return d->parse(as, at);
    }
    return fail_name(as, at, "unknown directive .", name, "");
}

/* ---- Lines and the module ---------------------------------------------- */

/* One line: labels, then a directive or an instruction, or nothing. */
static bool parse_line(assembler *as)
{
    for (;;) {
        skip_blanks(as);
        if (at_line_end(as))
            return true;
        if (peek(as) == '.')
            return parse_directive(as);
        span word = scan(as, is_id_char);
        if (word.len == 0)
            return fail(as, as->p, "expected an instruction, a label or a directive");
        if (!accept(as, ':'))
            return parse_instruction(as, word);
        if (!define_label(as, word))
            return false;
    }
}

static bool end_line(assembler *as)
{
    skip_blanks(as);
    if (peek(as) == ';')
        while (as->p < as->end && *as->p != '\n')
            as->p++;
    if (as->p == as->end)
        return true;
    if (*as->p != '\n')
        return fail(as, as->p, "unexpected text at the end of the line");
    as->p++;
    return true;
}

static bool finish_module(assembler *as, ivm_buf *out)
{
    uint32_t n = COUNT(as->protos, ivm_value);
    if (as->in_proto)
        return fail_name(as, as->end, "missing .end of prototype ", as->b.id, "");
    if (n == 0)
        return fail(as, as->end, "no prototypes (expected .proto)");
    uint32_t entry = n - 1;
    if (as->entry.p) {
        entry = ivm_name_map_get(&as->ids, as->entry.p, as->entry.len);
        if (entry == IVM_NAME_ABSENT)
            return fail_name(as, as->entry.p, "undefined prototype ", as->entry, "");
    }
    ivm_module m = {as->source, n, entry, ITEMS(as->protos, ivm_value)};
    ivm_write_ivc(&m, out);
    return true;
}

bool ivm_assemble(ivm_vm *vm, const char *text, size_t len,
                  const char *filename, ivm_buf *out, ivm_buf *err)
{
    assembler as = {
        .heap = &vm->heap, .text = text, .p = text, .end = text + len,
        .filename = filename, .err = err,
    };
    bool ok = true;
    if (len > UINT32_MAX) /* keeps every count and line number in 32 bits */
        ok = fail(&as, text, "file too large");
    else
        as.source = ivm_string(as.heap, "", 0);
    while (ok && as.p < as.end)
        ok = parse_line(&as) && end_line(&as);
    ok = ok && finish_module(&as, out);
    builder_free(&as.b);
    ivm_buf_free(&as.protos);
    ivm_buf_free(&as.items);
    ivm_buf_free(&as.chars);
    ivm_name_map_free(&as.ids);
    return ok;
}
