/* EDN printing (pr and print) and the byte buffer it writes into.
 * Numbers print as Clojure prints them: integers in decimal, floats as
 * Java's Double.toString, infinities and NaN as ##Inf, ##-Inf, ##NaN;
 * regexes as #"pattern" by pr and print alike, as Clojure's do. */
#include "ivm/platform.h"
#include "values/function.h"
#include "values/regex.h"
#include "values/value.h"
#include "values/walk.h"
#include "values/worklist.h"

/* ---- Buffer ------------------------------------------------------------ */

void ivm_buf_free(ivm_buf *b)
{
    ivm_platform_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void ivm_buf_add(ivm_buf *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *d = ivm_platform_realloc(b->data, cap);
        if (!d)
            ivm_platform_exit(70);
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void ivm_buf_add_cstr(ivm_buf *b, const char *s) { ivm_buf_add(b, s, ivm_cstr_len(s)); }
void ivm_buf_add_char(ivm_buf *b, char c) { ivm_buf_add(b, &c, 1); }

void ivm_buf_add_int(ivm_buf *b, int64_t i)
{
    char tmp[24];
    int n = 0;
    uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (i < 0)
        tmp[sizeof tmp - 1 - n++] = '-';
    ivm_buf_add(b, tmp + sizeof tmp - n, (size_t)n);
}

void ivm_buf_add_utf8(ivm_buf *b, uint32_t c)
{
    char t[4];
    if (c < 0x80) { t[0] = (char)c; ivm_buf_add(b, t, 1); return; }
    if (c < 0x800) {
        t[0] = (char)(0xc0 | (c >> 6)); t[1] = (char)(0x80 | (c & 0x3f));
        ivm_buf_add(b, t, 2);
        return;
    }
    if (c < 0x10000) {
        t[0] = (char)(0xe0 | (c >> 12)); t[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        t[2] = (char)(0x80 | (c & 0x3f));
        ivm_buf_add(b, t, 3);
        return;
    }
    t[0] = (char)(0xf0 | (c >> 18)); t[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    t[2] = (char)(0x80 | ((c >> 6) & 0x3f)); t[3] = (char)(0x80 | (c & 0x3f));
    ivm_buf_add(b, t, 4);
}

/* Java's Double.toString: plain notation with at least one digit after the
 * point for 1e-3 <= |d| < 1e7, otherwise D.DDDE±N. */
void ivm_buf_add_float(ivm_buf *b, double d)
{
    if (d != d) { ivm_buf_add_cstr(b, "NaN"); return; }
    if (d < 0 || (d == 0 && 1 / d < 0)) {
        ivm_buf_add_char(b, '-');
        d = -d;
    }
    if (d == 0) { ivm_buf_add_cstr(b, "0.0"); return; }
    if (d > 1.7976931348623157e308) { ivm_buf_add_cstr(b, "Infinity"); return; }
    char digits[24];
    int exp10;
    int n = ivm_platform_shortest_digits(d, digits, &exp10);
    /* d = 0.DIGITS * 10^exp10, i.e. D.IGITS * 10^(exp10-1) */
    int sci = exp10 - 1;
    if (d >= 1e-3 && d < 1e7) {
        if (exp10 <= 0) {
            ivm_buf_add_cstr(b, "0.");
            for (int i = 0; i < -exp10; i++)
                ivm_buf_add_char(b, '0');
            ivm_buf_add(b, digits, (size_t)n);
        } else if (n <= exp10) {
            ivm_buf_add(b, digits, (size_t)n);
            for (int i = n; i < exp10; i++)
                ivm_buf_add_char(b, '0');
            ivm_buf_add_cstr(b, ".0");
        } else {
            ivm_buf_add(b, digits, (size_t)exp10);
            ivm_buf_add_char(b, '.');
            ivm_buf_add(b, digits + exp10, (size_t)(n - exp10));
        }
        return;
    }
    ivm_buf_add_char(b, digits[0]);
    ivm_buf_add_char(b, '.');
    if (n > 1)
        ivm_buf_add(b, digits + 1, (size_t)(n - 1));
    else
        ivm_buf_add_char(b, '0');
    ivm_buf_add_char(b, 'E');
    ivm_buf_add_int(b, sci);
}

/* ---- Printing ---------------------------------------------------------- */

static const struct char_name {
    const char *name;
    uint32_t c;
} char_names[] = {
    {"newline", '\n'},  {"space", ' '},      {"tab", '\t'},
    {"return", '\r'},   {"backspace", '\b'}, {"formfeed", '\f'},
};

const char *ivm_char_name(uint32_t c)
{
    for (size_t i = 0; i < sizeof char_names / sizeof char_names[0]; i++)
        if (char_names[i].c == c)
            return char_names[i].name;
    return NULL;
}

bool ivm_char_named(const char *name, size_t len, uint32_t *c)
{
    for (size_t i = 0; i < sizeof char_names / sizeof char_names[0]; i++)
        if (ivm_cstr_len(char_names[i].name) == len &&
            memcmp(char_names[i].name, name, len) == 0) {
            *c = char_names[i].c;
            return true;
        }
    return false;
}

static const char hex_digits[] = "0123456789abcdef";

void ivm_buf_add_hex(ivm_buf *b, const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char pair[2] = {hex_digits[bytes[i] >> 4], hex_digits[bytes[i] & 15]};
        ivm_buf_add(b, pair, 2);
    }
}

void ivm_buf_add_string_literal(ivm_buf *b, const uint8_t *s, size_t len,
                                bool escape_controls)
{
    ivm_buf_add_char(b, '"');
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        const char *esc;
        switch (s[i]) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\t': esc = "\\t"; break;
        case '\r': esc = "\\r"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (!escape_controls || (s[i] >= 0x20 && s[i] != 0x7f))
                continue;
            esc = NULL;
        }
        ivm_buf_add(b, s + start, i - start);
        if (esc) {
            ivm_buf_add_cstr(b, esc);
        } else {
            ivm_buf_add_cstr(b, "\\u00");
            ivm_buf_add_hex(b, s + i, 1);
        }
        start = i + 1;
    }
    ivm_buf_add(b, s + start, len - start);
    ivm_buf_add_char(b, '"');
}

static void print_float(ivm_buf *out, double d)
{
    if (d != d)
        ivm_buf_add_cstr(out, "##NaN");
    else if (d > 1.7976931348623157e308)
        ivm_buf_add_cstr(out, "##Inf");
    else if (d < -1.7976931348623157e308)
        ivm_buf_add_cstr(out, "##-Inf");
    else
        ivm_buf_add_float(out, d);
}

static void print_function(const ivm_heap *h, ivm_buf *out, ivm_value v,
                           const char *prefix)
{
    ivm_buf_add_cstr(out, prefix);
    if (ivm_is_native(v)) {
        ivm_buf_add_cstr(out, h->native_name ? h->native_name(h, ivm_imm_payload(v)) : "native");
    } else {
        ivm_proto *p = ivm_as_proto(ivm_function_proto(v));
        if (p->name)
            ivm_buf_add(out, ivm_as_str(p->name)->bytes, ivm_as_str(p->name)->len);
        else
            ivm_buf_add_cstr(out, "fn");
    }
    ivm_buf_add_char(out, ']');
}

/* #"pattern", read back as the same pattern: Clojure's print-method for
 * Pattern. An escaped character is copied with its backslash; a bare "
 * becomes \", or \E\"\Q inside \Q...\E, where a backslash is literal. */
static void print_regex(ivm_buf *out, ivm_value v)
{
    const ivm_str *p = ivm_regex_pattern(v);
    ivm_buf_add_cstr(out, "#\"");
    bool quoted = false;
    for (size_t i = 0; i < p->len; i++) {
        uint8_t c = p->bytes[i];
        if (c == '\\' && i + 1 < p->len) {
            uint8_t d = p->bytes[++i];
            ivm_buf_add_char(out, '\\');
            ivm_buf_add_char(out, (char)d); /* a continuation byte goes out as it came */
            quoted = quoted ? d != 'E' : d == 'Q';
        } else if (c == '"') {
            ivm_buf_add_cstr(out, quoted ? "\\E\\\"\\Q" : "\\\"");
        } else {
            ivm_buf_add_char(out, (char)c);
        }
    }
    ivm_buf_add_char(out, '"');
}

/* Prints a value that is not a non-empty list. */
static void print_leaf(const ivm_heap *h, ivm_buf *out, ivm_value v, bool readably)
{
    switch (ivm_type_of(v)) {
    case IVM_T_NIL: ivm_buf_add_cstr(out, "nil"); break;
    case IVM_T_BOOL: ivm_buf_add_cstr(out, v == IVM_TRUE ? "true" : "false"); break;
    case IVM_T_PID:
        ivm_buf_add_cstr(out, "#pid[");
        ivm_buf_add_int(out, ivm_imm_payload(v));
        ivm_buf_add_char(out, ']');
        break;
    case IVM_T_ATOM:
        ivm_buf_add_cstr(out, "#atom[");
        ivm_buf_add_int(out, (int64_t)ivm_as_atom(v)->id);
        ivm_buf_add_char(out, ']');
        break;
    case IVM_T_INT: ivm_buf_add_int(out, ivm_int_value(v)); break;
    case IVM_T_FLOAT: print_float(out, ivm_float_value(v)); break;
    case IVM_T_CHAR: {
        uint32_t c = ivm_imm_payload(v);
        if (readably) {
            ivm_buf_add_char(out, '\\');
            const char *name = ivm_char_name(c);
            if (name) {
                ivm_buf_add_cstr(out, name);
                break;
            }
        }
        ivm_buf_add_utf8(out, c);
        break;
    }
    case IVM_T_STRING: {
        const ivm_str *str = ivm_as_str(v);
        if (readably)
            ivm_buf_add_string_literal(out, str->bytes, str->len, false);
        else
            ivm_buf_add(out, str->bytes, str->len);
        break;
    }
    case IVM_T_SYMBOL: {
        const ivm_str *s = ivm_as_str(v);
        ivm_buf_add(out, s->bytes, s->len);
        break;
    }
    case IVM_T_KEYWORD: {
        const ivm_str *s = ivm_as_str(v);
        ivm_buf_add_char(out, ':');
        ivm_buf_add(out, s->bytes, s->len);
        break;
    }
    case IVM_T_BYTES: {
        const ivm_str *s = ivm_as_str(v);
        ivm_buf_add_cstr(out, "#ivm/bytes \"");
        ivm_buf_add_hex(out, s->bytes, s->len);
        ivm_buf_add_char(out, '"');
        break;
    }
    case IVM_T_LIST: ivm_buf_add_cstr(out, "()"); break;
    case IVM_T_FUNCTION: print_function(h, out, v, "#function["); break;
    case IVM_T_PROTO: print_function(h, out, v, "#prototype["); break;
    case IVM_T_TRANSIENT: ivm_buf_add_cstr(out, "#transient[]"); break;
    case IVM_T_REGEX: print_regex(out, v); break;
    default: ivm_buf_add_cstr(out, "#ivm/unknown[]"); break;
    }
}

/* Collections are printed with an explicit stack of cursors, one per
 * collection still open: [1 2], (1 2), {:a 1, :b 2}, #{1 2}. A map entry
 * is a pair frame with no brackets and a space between key and value. */
typedef struct print_frame {
    ivm_cursor cursor;
    const char *separator;
    const char *close;
    bool first;
} print_frame;

static void open_frame(ivm_frame_stack *s, ivm_buf *out, ivm_value coll)
{
    print_frame *f = ivm_frames_push(s);
    ivm_cursor_init(&f->cursor, coll);
    f->first = true;
    f->separator = " ";
    switch (f->cursor.kind) {
    case IVM_WALK_LIST: ivm_buf_add_char(out, '('); f->close = ")"; break;
    case IVM_WALK_VECTOR: ivm_buf_add_char(out, '['); f->close = "]"; break;
    case IVM_WALK_MAP: ivm_buf_add_char(out, '{'); f->close = "}"; f->separator = ", "; break;
    default: ivm_buf_add_cstr(out, "#{"); f->close = "}"; break;
    }
}

/* ex-info's value prints as Clojure's #error map, shortened to its cause
 * and data: #error {:cause "boom", :data {:a 1}}. The data is a frame of
 * its own, so it may nest as deep as any value. */
static void open_exception(ivm_frame_stack *s, const ivm_heap *h, ivm_buf *out,
                           ivm_value v, bool readably)
{
    ivm_exception *e = ivm_as_exception(v);
    ivm_buf_add_cstr(out, "#error {:cause ");
    print_leaf(h, out, e->message, readably);
    ivm_buf_add_cstr(out, ", :data ");
    print_frame *f = ivm_frames_push(s);
    ivm_cursor_init_pair(&f->cursor, IVM_NIL, e->data);
    f->cursor.u.pair.next = 1; /* only the data */
    f->first = true;
    f->separator = "";
    f->close = "}";
}

/* Opens whatever x needs: a frame for a collection or an exception, or
 * prints a leaf at once. */
static void print_value(ivm_frame_stack *s, const ivm_heap *h, ivm_buf *out,
                        ivm_value x, bool readably)
{
    if (ivm_walk_kind_of(x) != IVM_WALK_LEAF)
        open_frame(s, out, x);
    else if (ivm_is_kind(x, IVM_K_EXCEPTION))
        open_exception(s, h, out, x, readably);
    else
        print_leaf(h, out, x, readably);
}

void ivm_print(const ivm_heap *h, ivm_buf *out, ivm_value v, bool readably)
{
    ivm_frame_stack s;
    ivm_frames_init(&s, sizeof(print_frame));
    print_value(&s, h, out, v, readably);
    while (s.len) {
        print_frame *f = ivm_frames_top(&s);
        ivm_value x, y;
        if (!ivm_cursor_next(&f->cursor, &x, &y)) {
            ivm_buf_add_cstr(out, f->close);
            ivm_frames_pop(&s);
            continue;
        }
        if (!f->first)
            ivm_buf_add_cstr(out, f->separator);
        f->first = false;
        if (f->cursor.kind == IVM_WALK_MAP) {
            print_frame *e = ivm_frames_push(&s);
            ivm_cursor_init_pair(&e->cursor, x, y);
            e->first = true;
            e->separator = " ";
            e->close = "";
        } else {
            print_value(&s, h, out, x, readably);
        }
    }
    ivm_frames_free(&s);
}
