/*
 * src/policy/toml.c: the TOML 1.0.0 parser and its document tree.
 *
 * Owns: UTF-8 validation of the whole input, the recursive-descent parser,
 * the table/array/scalar tree and its accessors, and the redefinition rules
 * that decide which tables may still be extended (and how).
 *
 * Error handling is by return code: every parse_* function returns 0 or -1,
 * and the first failure is recorded in the parser. A function that fails
 * frees whatever it allocated and has not yet attached to the tree; anything
 * already attached is freed with the root, so no path leaks.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strtod_l, newlocale */
#endif

#include "toml.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The allocation-failure test builds this file with its own realloc so it
 * can make the Nth allocation fail; production builds use libc directly. */
#ifdef VIV_TOML_TEST_ALLOC
void *viv_toml_test_realloc(void *ptr, size_t size);
void viv_toml_test_free(void *ptr);
#define toml_realloc viv_toml_test_realloc
#define toml_free    viv_toml_test_free
#else
#define toml_realloc realloc
#define toml_free    free
#endif

/* How a table or array came to exist decides what may still be done to it;
 * see the TOML 1.0.0 sections on tables, dotted keys and inline tables. */
enum {
    F_DEFINED = 1u << 0,  /* named by its own [header] */
    F_IMPLICIT = 1u << 1, /* created as a prefix of some [a.b.c] header */
    F_DOTTED = 1u << 2,   /* created by a dotted key (a.b = 1) */
    F_INLINE = 1u << 3,   /* an inline table or inside one: immutable */
    F_AOT = 1u << 4,      /* array created by [[header]]: may grow */
};

/* Below this many keys a linear scan beats hashing; above it a hash index
 * keeps documents with many keys from going quadratic. */
#define INDEX_THRESHOLD 8

typedef struct {
    char *key;
    size_t len;
    viv_toml_value *val;
} entry;

struct viv_toml_value {
    viv_toml_type type;
    uint8_t flags;
    uint16_t depth;
    union {
        struct {
            entry *e;
            size_t n, cap;
            uint32_t *idx; /* open addressing, slot = entry index + 1 */
            size_t idx_cap;
        } t;
        struct {
            viv_toml_value **v;
            size_t n, cap;
        } a;
        struct {
            char *s;
            size_t len;
        } s;
        int64_t i;
        double f;
        bool b;
    } u;
};

typedef struct {
    const unsigned char *s;
    size_t len;
    size_t pos;
    size_t bom; /* bytes of BOM skipped, ignored when counting columns */
    viv_toml_error *err;
    bool failed;
    locale_t c_locale; /* created on first float; strtod must not follow
                          whatever locale the host program set */
    viv_toml_value *root;
    viv_toml_value *cur; /* table that key/value lines currently go into */
} parser;

typedef struct {
    char *b;
    size_t n, cap;
} sbuf;

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

static void locate(const parser *p, size_t pos, int *line, int *col)
{
    long l = 1, c = 1;
    if (pos > p->len)
        pos = p->len;
    for (size_t i = p->bom; i < pos; i++) {
        if (p->s[i] == '\n') {
            if (l < INT_MAX)
                l++;
            c = 1;
        } else if ((p->s[i] & 0xC0) != 0x80 && c < INT_MAX) {
            c++;
        }
    }
    *line = (int)l;
    *col = (int)c;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int
fail_at(parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    p->failed = true;
    if (p->err) {
        va_list ap;
        locate(p, pos, &p->err->line, &p->err->column);
        va_start(ap, fmt);
        vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int oom(parser *p) { return fail_at(p, p->pos, "out of memory"); }

/* Describes the byte at pos for messages, without echoing raw control
 * characters or partial UTF-8 into the error text. */
static const char *describe(const parser *p, size_t pos, char buf[24])
{
    if (pos >= p->len)
        return "end of input";
    unsigned c = p->s[pos];
    if (c == '\n')
        return "end of line";
    if (c >= 0x21 && c < 0x7F)
        snprintf(buf, 24, "'%c'", (char)c);
    else if (c == ' ')
        snprintf(buf, 24, "space");
    else
        snprintf(buf, 24, "byte 0x%02X", c);
    if (c >= 0xC0) {
        /* Input has passed UTF-8 validation, so name the character. */
        size_t n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
        if (p->len - pos > n) {
            uint32_t cp = c & (0x3Fu >> n);
            for (size_t k = 1; k <= n; k++)
                cp = (cp << 6) | (p->s[pos + k] & 0x3Fu);
            snprintf(buf, 24, "U+%04X", (unsigned)cp);
        }
    }
    return buf;
}

/* ------------------------------------------------------------------------
 * Tree
 * ------------------------------------------------------------------------ */

static void free_value(viv_toml_value *v)
{
    if (!v)
        return;
    switch (v->type) {
    case VIV_TOML_TABLE:
        for (size_t i = 0; i < v->u.t.n; i++) {
            toml_free(v->u.t.e[i].key);
            free_value(v->u.t.e[i].val);
        }
        toml_free(v->u.t.e);
        toml_free(v->u.t.idx);
        break;
    case VIV_TOML_ARRAY:
        for (size_t i = 0; i < v->u.a.n; i++)
            free_value(v->u.a.v[i]);
        toml_free(v->u.a.v);
        break;
    case VIV_TOML_STRING:
    case VIV_TOML_DATETIME:
    case VIV_TOML_DATETIME_LOCAL:
    case VIV_TOML_DATE_LOCAL:
    case VIV_TOML_TIME_LOCAL:
        toml_free(v->u.s.s);
        break;
    default:
        break;
    }
    toml_free(v);
}

static viv_toml_value *new_value(parser *p, viv_toml_type type)
{
    viv_toml_value *v = toml_realloc(NULL, sizeof *v);
    if (!v) {
        oom(p);
        return NULL;
    }
    memset(v, 0, sizeof *v);
    v->type = type;
    return v;
}

/* Containers carry their depth so that every way of nesting (headers,
 * dotted keys, inline values) hits the same limit. */
static viv_toml_value *new_container(parser *p, viv_toml_type type, int depth, size_t pos)
{
    if (depth > VIV_TOML_MAX_DEPTH) {
        fail_at(p, pos, "nesting deeper than %d tables/arrays", VIV_TOML_MAX_DEPTH);
        return NULL;
    }
    viv_toml_value *v = new_value(p, type);
    if (v)
        v->depth = (uint16_t)depth;
    return v;
}

static uint64_t hash_key(const char *k, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ull;
    }
    return h;
}

static viv_toml_value *table_find(const viv_toml_value *t, const char *key, size_t len)
{
    if (t->u.t.idx) {
        size_t mask = t->u.t.idx_cap - 1;
        for (size_t h = hash_key(key, len) & mask;; h = (h + 1) & mask) {
            uint32_t slot = t->u.t.idx[h];
            if (!slot)
                return NULL;
            const entry *e = &t->u.t.e[slot - 1];
            if (e->len == len && memcmp(e->key, key, len) == 0)
                return e->val;
        }
    }
    for (size_t i = 0; i < t->u.t.n; i++) {
        const entry *e = &t->u.t.e[i];
        if (e->len == len && memcmp(e->key, key, len) == 0)
            return e->val;
    }
    return NULL;
}

static void index_put(uint32_t *idx, size_t cap, const entry *e, uint32_t slot)
{
    size_t mask = cap - 1;
    size_t h = hash_key(e->key, e->len) & mask;
    while (idx[h])
        h = (h + 1) & mask;
    idx[h] = slot;
}

/* Takes ownership of key and val only when it succeeds. The caller has
 * already checked that the key is new. */
static int table_insert(parser *p, viv_toml_value *t, char *key, size_t len, viv_toml_value *val)
{
    if (t->u.t.n >= UINT32_MAX / 4)
        return fail_at(p, p->pos, "too many keys in one table");
    if (t->u.t.n == t->u.t.cap) {
        size_t cap = t->u.t.cap ? t->u.t.cap * 2 : 4;
        entry *e = toml_realloc(t->u.t.e, cap * sizeof *e);
        if (!e)
            return oom(p);
        t->u.t.e = e;
        t->u.t.cap = cap;
    }
    size_t n = t->u.t.n + 1;
    if (n > INDEX_THRESHOLD) {
        if (t->u.t.idx_cap < 2 * n) {
            size_t cap = t->u.t.idx_cap ? t->u.t.idx_cap : 16;
            while (cap < 2 * n)
                cap *= 2;
            uint32_t *idx = toml_realloc(NULL, cap * sizeof *idx);
            if (!idx)
                return oom(p);
            memset(idx, 0, cap * sizeof *idx);
            for (size_t i = 0; i < t->u.t.n; i++)
                index_put(idx, cap, &t->u.t.e[i], (uint32_t)(i + 1));
            toml_free(t->u.t.idx);
            t->u.t.idx = idx;
            t->u.t.idx_cap = cap;
        }
    }
    entry *e = &t->u.t.e[t->u.t.n];
    e->key = key;
    e->len = len;
    e->val = val;
    if (t->u.t.idx)
        index_put(t->u.t.idx, t->u.t.idx_cap, e, (uint32_t)n);
    t->u.t.n = n;
    return 0;
}

/* Takes ownership of val only when it succeeds. */
static int array_push(parser *p, viv_toml_value *a, viv_toml_value *val)
{
    if (a->u.a.n == a->u.a.cap) {
        size_t cap = a->u.a.cap ? a->u.a.cap * 2 : 4;
        if (cap > SIZE_MAX / sizeof *a->u.a.v)
            return oom(p);
        viv_toml_value **v = toml_realloc(a->u.a.v, cap * sizeof *v);
        if (!v)
            return oom(p);
        a->u.a.v = v;
        a->u.a.cap = cap;
    }
    a->u.a.v[a->u.a.n++] = val;
    return 0;
}

/* Once an inline table is closed, it and the tables its dotted keys created
 * are frozen. Nested inline tables are already frozen, which also bounds the
 * work here. */
static void freeze(viv_toml_value *t)
{
    t->flags |= F_INLINE;
    for (size_t i = 0; i < t->u.t.n; i++) {
        viv_toml_value *c = t->u.t.e[i].val;
        if (c->type == VIV_TOML_TABLE && !(c->flags & F_INLINE))
            freeze(c);
    }
}

static const char *type_name(const viv_toml_value *v)
{
    switch (v->type) {
    case VIV_TOML_TABLE:
        return "a table";
    case VIV_TOML_ARRAY:
        return (v->flags & F_AOT) ? "an array of tables" : "an array";
    case VIV_TOML_STRING:
        return "a string";
    case VIV_TOML_INTEGER:
        return "an integer";
    case VIV_TOML_FLOAT:
        return "a float";
    case VIV_TOML_BOOL:
        return "a boolean";
    default:
        return "a date/time";
    }
}

/* ------------------------------------------------------------------------
 * Characters
 * ------------------------------------------------------------------------ */

static int peek(const parser *p) { return p->pos < p->len ? p->s[p->pos] : -1; }

static int peek_at(const parser *p, size_t off)
{
    return p->len - p->pos > off ? p->s[p->pos + off] : -1;
}

static bool is_digit(int c) { return c >= '0' && c <= '9'; }

static bool is_bare(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '_';
}

/* Control characters the spec forbids in comments and strings (tab is the
 * one exception; newlines are handled by the callers). */
static bool is_control(int c) { return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7F; }

/* What may directly follow a scalar value. */
static bool is_value_end(int c)
{
    return c < 0 || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '#' || c == ',' ||
           c == ']' || c == '}';
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
        p->pos++;
}

static bool eat_newline(parser *p)
{
    if (peek(p) == '\n') {
        p->pos++;
        return true;
    }
    if (peek(p) == '\r' && peek_at(p, 1) == '\n') {
        p->pos += 2;
        return true;
    }
    return false;
}

/* At '#': consumes the comment up to (not including) its newline. */
static int skip_comment(parser *p)
{
    p->pos++;
    while (p->pos < p->len) {
        int c = p->s[p->pos];
        if (c == '\n')
            return 0;
        if (c == '\r') {
            if (peek_at(p, 1) == '\n')
                return 0;
            return fail_at(p, p->pos,
                           "carriage return not followed by "
                           "a newline in comment");
        }
        if (is_control(c))
            return fail_at(p, p->pos, "control character 0x%02X in comment", (unsigned)c);
        p->pos++;
    }
    return 0;
}

/* Whitespace, comments and newlines, as allowed between array elements. */
static int skip_ws_comments_newlines(parser *p)
{
    for (;;) {
        skip_ws(p);
        if (peek(p) == '#') {
            if (skip_comment(p))
                return -1;
        }
        if (!eat_newline(p))
            return 0;
    }
}

static int check_utf8(parser *p)
{
    const unsigned char *s = p->s;
    size_t i = 0;
    while (i < p->len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return fail_at(p, i, "invalid UTF-8 (byte 0x%02X)", c);
        }
        if (p->len - i <= n)
            return fail_at(p, i, "truncated UTF-8 sequence");
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return fail_at(p, i, "invalid UTF-8 sequence");
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min)
            return fail_at(p, i, "overlong UTF-8 sequence");
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail_at(p, i, "UTF-8 encodes an invalid code point");
        i += n + 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Strings
 * ------------------------------------------------------------------------ */

static int sb_put(parser *p, sbuf *b, const void *data, size_t n)
{
    if (b->cap - b->n <= n) { /* keeps room for the final NUL */
        size_t cap = b->cap ? b->cap : 32;
        while (cap - b->n <= n) {
            if (cap > SIZE_MAX / 2)
                return oom(p);
            cap *= 2;
        }
        char *nb = toml_realloc(b->b, cap);
        if (!nb)
            return oom(p);
        b->b = nb;
        b->cap = cap;
    }
    memcpy(b->b + b->n, data, n);
    b->n += n;
    return 0;
}

static int sb_putc(parser *p, sbuf *b, char c) { return sb_put(p, b, &c, 1); }

/* Hands the buffer to the caller as a NUL-terminated string. */
static int sb_finish(parser *p, sbuf *b, char **out, size_t *len)
{
    if (!b->b && sb_put(p, b, "", 0))
        return -1;
    b->b[b->n] = '\0';
    *out = b->b;
    *len = b->n;
    b->b = NULL;
    return 0;
}

static int put_utf8(parser *p, sbuf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return sb_put(p, b, u, n);
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* At a backslash inside a basic string. */
static int parse_escape(parser *p, sbuf *b)
{
    size_t at = p->pos;
    int c = peek_at(p, 1);
    char simple = 0;
    switch (c) {
    case 'b':
        simple = '\b';
        break;
    case 't':
        simple = '\t';
        break;
    case 'n':
        simple = '\n';
        break;
    case 'f':
        simple = '\f';
        break;
    case 'r':
        simple = '\r';
        break;
    case '"':
        simple = '"';
        break;
    case '\\':
        simple = '\\';
        break;
    case 'u':
    case 'U': {
        size_t digits = c == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t i = 0; i < digits; i++) {
            int h = hex_value(peek_at(p, 2 + i));
            if (h < 0)
                return fail_at(p, at, "\\%c escape needs %zu hex digits", (char)c, digits);
            cp = (cp << 4) | (uint32_t)h;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail_at(p, at,
                           "\\%c escape is not a Unicode scalar "
                           "value",
                           (char)c);
        p->pos += 2 + digits;
        return put_utf8(p, b, cp);
    }
    case -1:
        return fail_at(p, at, "unterminated string");
    default: {
        char d[24];
        return fail_at(p, at,
                       "invalid escape sequence: backslash followed "
                       "by %s",
                       describe(p, p->pos + 1, d));
    }
    }
    p->pos += 2;
    return sb_putc(p, b, simple);
}

/* Copies the run of bytes that need no special treatment in a string body:
 * anything but the quote, backslash, control characters and newlines. */
static int copy_plain(parser *p, sbuf *b, int quote, bool escapes)
{
    size_t start = p->pos;
    while (p->pos < p->len) {
        int c = p->s[p->pos];
        if (c == quote || (escapes && c == '\\') || is_control(c))
            break;
        p->pos++;
    }
    return sb_put(p, b, p->s + start, p->pos - start);
}

/* A one-line basic ("...") or literal ('...') string. */
static int parse_line_string(parser *p, char **out, size_t *len)
{
    int quote = p->s[p->pos];
    bool escapes = quote == '"';
    size_t open = p->pos;
    sbuf b = {0};
    p->pos++;
    for (;;) {
        int c = peek(p);
        if (c < 0 || c == '\n' || (c == '\r' && peek_at(p, 1) == '\n')) {
            fail_at(p, open, "unterminated string");
            goto fail;
        }
        if (c == quote) {
            p->pos++;
            break;
        }
        if (escapes && c == '\\') {
            if (parse_escape(p, &b))
                goto fail;
        } else if (is_control(c)) {
            fail_at(p, p->pos, "control character 0x%02X in string", (unsigned)c);
            goto fail;
        } else if (copy_plain(p, &b, quote, escapes)) {
            goto fail;
        }
    }
    if (sb_finish(p, &b, out, len))
        goto fail;
    return 0;
fail:
    toml_free(b.b);
    return -1;
}

/* A multi-line basic ("""...""") or literal ('''...''') string. */
static int parse_ml_string(parser *p, char **out, size_t *len)
{
    int quote = p->s[p->pos];
    bool escapes = quote == '"';
    size_t open = p->pos;
    sbuf b = {0};
    p->pos += 3;
    /* A newline right after the opening delimiter is not content. */
    eat_newline(p);
    for (;;) {
        int c = peek(p);
        if (c < 0) {
            fail_at(p, open, "unterminated multi-line string");
            goto fail;
        }
        if (c == quote) {
            /* Up to two quotes may sit right before the closing three. */
            size_t n = 0;
            while (peek_at(p, n) == quote && n < 6)
                n++;
            if (n >= 6 || (n >= 3 && peek_at(p, n) == quote)) {
                fail_at(p, p->pos,
                        "too many quotes in a row in multi-line "
                        "string");
                goto fail;
            }
            if (n >= 3) {
                for (size_t i = 3; i < n; i++)
                    if (sb_putc(p, &b, (char)quote))
                        goto fail;
                p->pos += n;
                break;
            }
            if (sb_put(p, &b, p->s + p->pos, n))
                goto fail;
            p->pos += n;
        } else if (escapes && c == '\\') {
            /* A backslash ending a line swallows all whitespace up to the
             * next visible character, across any number of lines. */
            size_t j = p->pos + 1;
            while (j < p->len && (p->s[j] == ' ' || p->s[j] == '\t'))
                j++;
            if (j < p->len &&
                (p->s[j] == '\n' || (p->s[j] == '\r' && j + 1 < p->len && p->s[j + 1] == '\n'))) {
                p->pos = j;
                for (;;) {
                    skip_ws(p);
                    if (!eat_newline(p))
                        break;
                }
            } else if (parse_escape(p, &b)) {
                goto fail;
            }
        } else if (c == '\n' || c == '\r') {
            /* Newlines are normalised to LF so that a policy reads the same
             * whichever platform it was edited on. */
            if (!eat_newline(p)) {
                fail_at(p, p->pos,
                        "carriage return not followed by a "
                        "newline in string");
                goto fail;
            }
            if (sb_putc(p, &b, '\n'))
                goto fail;
        } else if (is_control(c)) {
            fail_at(p, p->pos, "control character 0x%02X in string", (unsigned)c);
            goto fail;
        } else if (copy_plain(p, &b, quote, escapes)) {
            goto fail;
        }
    }
    if (sb_finish(p, &b, out, len))
        goto fail;
    return 0;
fail:
    toml_free(b.b);
    return -1;
}

static bool at_triple(const parser *p)
{
    int q = peek(p);
    return peek_at(p, 1) == q && peek_at(p, 2) == q;
}

/* ------------------------------------------------------------------------
 * Keys
 * ------------------------------------------------------------------------ */

/* One key segment (bare, "basic" or 'literal'), returned as an owned,
 * NUL-terminated buffer. */
static int parse_simple_key(parser *p, char **out, size_t *len)
{
    int c = peek(p);
    if (c == '"' || c == '\'') {
        if (at_triple(p))
            return fail_at(p, p->pos, "a multi-line string cannot be a key");
        return parse_line_string(p, out, len);
    }
    if (!is_bare(c)) {
        char d[24];
        return fail_at(p, p->pos, "expected a key, found %s", describe(p, p->pos, d));
    }
    size_t start = p->pos;
    while (is_bare(peek(p)))
        p->pos++;
    size_t n = p->pos - start;
    char *k = toml_realloc(NULL, n + 1);
    if (!k)
        return oom(p);
    memcpy(k, p->s + start, n);
    k[n] = '\0';
    *out = k;
    *len = n;
    return 0;
}

/* ------------------------------------------------------------------------
 * Numbers
 * ------------------------------------------------------------------------ */

static bool is_digit_base(int c, int base)
{
    if (base == 16)
        return hex_value(c) >= 0;
    return c >= '0' && c < '0' + base;
}

/* Digits in `base`, with single underscores allowed only between digits. */
static bool scan_digits(const unsigned char *t, size_t n, size_t *i, int base)
{
    size_t j = *i;
    if (j >= n || !is_digit_base(t[j], base))
        return false;
    j++;
    while (j < n) {
        if (is_digit_base(t[j], base))
            j++;
        else if (t[j] == '_' && j + 1 < n && is_digit_base(t[j + 1], base))
            j += 2;
        else
            break;
    }
    *i = j;
    return true;
}

/* Magnitude of already-validated digits; false on uint64 overflow. */
static bool accumulate(const unsigned char *t, size_t from, size_t to, int base, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = from; i < to; i++) {
        if (t[i] == '_')
            continue;
        uint64_t d = (uint64_t)hex_value(t[i]);
        if (v > (UINT64_MAX - d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + d;
    }
    *out = v;
    return true;
}

static bool is_number_char(int c) { return is_bare(c) || c == '+' || c == '.'; }

static int to_double(parser *p, size_t at, const unsigned char *t, size_t n, double *out)
{
    char small[128];
    char *buf = small;
    if (n >= sizeof small) {
        buf = toml_realloc(NULL, n + 1);
        if (!buf)
            return oom(p);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] != '_')
            buf[k++] = (char)t[i];
    buf[k] = '\0';
    if (!p->c_locale) {
        p->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
        if (!p->c_locale) {
            if (buf != small)
                toml_free(buf);
            return oom(p);
        }
    }
    char *end;
    errno = 0;
    double d = strtod_l(buf, &end, p->c_locale);
    bool whole = *end == '\0';
    bool range = errno == ERANGE && isinf(d);
    if (buf != small)
        toml_free(buf);
    if (!whole)
        return fail_at(p, at, "invalid float");
    if (range)
        return fail_at(p, at, "float out of range");
    *out = d;
    return 0;
}

static int parse_number(parser *p, viv_toml_value **out)
{
    size_t at = p->pos, end = p->pos;
    while (end < p->len && is_number_char(p->s[end]))
        end++;
    if (end == at) {
        char d[24];
        return fail_at(p, at, "expected a value, found %s", describe(p, at, d));
    }
    const unsigned char *t = p->s + at;
    size_t n = end - at, i = 0;
    bool neg = false, sign = false;
    if (t[0] == '+' || t[0] == '-') {
        sign = true;
        neg = t[0] == '-';
        i = 1;
    }

    viv_toml_value *v;
    if (n - i == 3 && (memcmp(t + i, "inf", 3) == 0 || memcmp(t + i, "nan", 3) == 0)) {
        if (!(v = new_value(p, VIV_TOML_FLOAT)))
            return -1;
        if (t[i] == 'i')
            v->u.f = neg ? -INFINITY : INFINITY;
        else
            v->u.f = neg ? -NAN : NAN;
        goto done;
    }

    if (!sign && n >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'o' || t[1] == 'b')) {
        int base = t[1] == 'x' ? 16 : t[1] == 'o' ? 8 : 2;
        i = 2;
        if (!scan_digits(t, n, &i, base) || i != n)
            return fail_at(p, at, "invalid %s integer",
                           base == 16  ? "hexadecimal"
                           : base == 8 ? "octal"
                                       : "binary");
        uint64_t mag;
        if (!accumulate(t, 2, n, base, &mag) || mag > INT64_MAX)
            return fail_at(p, at, "integer does not fit in 64 bits");
        if (!(v = new_value(p, VIV_TOML_INTEGER)))
            return -1;
        v->u.i = (int64_t)mag;
        goto done;
    }

    size_t int_start = i;
    if (i < n && !is_digit(t[i]))
        return fail_at(p, at,
                       "expected a value (bare words other than "
                       "true, false, inf and nan need quotes)");
    if (!scan_digits(t, n, &i, 10))
        return fail_at(p, at, "invalid number");
    size_t int_end = i;
    if (t[int_start] == '0' && int_end - int_start > 1)
        return fail_at(p, at, "leading zeros are not allowed");
    bool is_float = false;
    if (i < n && t[i] == '.') {
        i++;
        if (!scan_digits(t, n, &i, 10))
            return fail_at(p, at,
                           "a decimal point must be followed by "
                           "digits");
        is_float = true;
    }
    if (i < n && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        if (i < n && (t[i] == '+' || t[i] == '-'))
            i++;
        if (!scan_digits(t, n, &i, 10))
            return fail_at(p, at, "an exponent must have digits");
        is_float = true;
    }
    if (i != n)
        return fail_at(p, at, "invalid number");

    if (is_float) {
        double d = 0.0;
        if (to_double(p, at, t, n, &d))
            return -1;
        if (!(v = new_value(p, VIV_TOML_FLOAT)))
            return -1;
        v->u.f = d;
    } else {
        uint64_t mag;
        if (!accumulate(t, int_start, n, 10, &mag) ||
            mag > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
            return fail_at(p, at, "integer does not fit in 64 bits");
        if (!(v = new_value(p, VIV_TOML_INTEGER)))
            return -1;
        /* Negating in unsigned arithmetic keeps INT64_MIN well-defined. */
        v->u.i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    }
done:
    p->pos = end;
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------------
 * Dates and times
 * ------------------------------------------------------------------------ */

static bool digits_at(const unsigned char *s, size_t avail, size_t i, size_t n)
{
    if (avail < i + n)
        return false;
    for (size_t k = 0; k < n; k++)
        if (!is_digit(s[i + k]))
            return false;
    return true;
}

static int num2(const unsigned char *s) { return (s[0] - '0') * 10 + (s[1] - '0'); }

static bool looks_like_date(const parser *p)
{
    const unsigned char *s = p->s + p->pos;
    size_t avail = p->len - p->pos;
    return digits_at(s, avail, 0, 4) && avail > 4 && s[4] == '-';
}

static bool looks_like_time(const unsigned char *s, size_t avail)
{
    return digits_at(s, avail, 0, 2) && avail > 2 && s[2] == ':';
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
        return 29;
    return days[month - 1];
}

/* Validates HH:MM:SS[.frac] at s + *i and advances *i past it. */
static int scan_time(parser *p, const unsigned char *s, size_t avail, size_t *i)
{
    size_t at = p->pos + *i, j = *i;
    if (!digits_at(s, avail, j, 2) || avail <= j + 2 || s[j + 2] != ':' ||
        !digits_at(s, avail, j + 3, 2) || avail <= j + 5 || s[j + 5] != ':' ||
        !digits_at(s, avail, j + 6, 2))
        return fail_at(p, at, "invalid time: expected HH:MM:SS");
    if (num2(s + j) > 23)
        return fail_at(p, at, "hour out of range");
    if (num2(s + j + 3) > 59)
        return fail_at(p, at, "minute out of range");
    if (num2(s + j + 6) > 60)
        return fail_at(p, at, "second out of range");
    j += 8;
    if (j < avail && s[j] == '.') {
        j++;
        if (!digits_at(s, avail, j, 1))
            return fail_at(p, at,
                           "fractional seconds need digits after "
                           "the '.'");
        while (j < avail && is_digit(s[j]))
            j++;
    }
    *i = j;
    return 0;
}

static int parse_datetime(parser *p, viv_toml_value **out)
{
    const unsigned char *s = p->s + p->pos;
    size_t avail = p->len - p->pos, i = 0, at = p->pos;
    bool has_date = false, has_time = false, has_offset = false;

    if (looks_like_date(p)) {
        if (!digits_at(s, avail, 5, 2) || avail <= 7 || s[7] != '-' || !digits_at(s, avail, 8, 2))
            return fail_at(p, at, "invalid date: expected YYYY-MM-DD");
        int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
        int month = num2(s + 5), day = num2(s + 8);
        if (month < 1 || month > 12)
            return fail_at(p, at, "month out of range");
        if (day < 1 || day > days_in_month(year, month))
            return fail_at(p, at, "day out of range for the month");
        has_date = true;
        i = 10;
        /* A space separates date and time only if a time follows it;
         * otherwise it is just whitespace after a local date. */
        if (i < avail && (s[i] == 'T' || s[i] == 't' ||
                          (s[i] == ' ' && looks_like_time(s + i + 1, avail - i - 1)))) {
            i++;
            has_time = true;
        }
    } else {
        has_time = true;
    }
    if (has_time && scan_time(p, s, avail, &i))
        return -1;
    if (has_date && has_time && i < avail) {
        if (s[i] == 'Z' || s[i] == 'z') {
            i++;
            has_offset = true;
        } else if (s[i] == '+' || s[i] == '-') {
            if (!digits_at(s, avail, i + 1, 2) || avail <= i + 3 || s[i + 3] != ':' ||
                !digits_at(s, avail, i + 4, 2))
                return fail_at(p, at + i, "invalid offset: expected +HH:MM");
            if (num2(s + i + 1) > 23 || num2(s + i + 4) > 59)
                return fail_at(p, at + i, "offset out of range");
            i += 6;
            has_offset = true;
        }
    }
    if (i < avail && !is_value_end(s[i])) {
        char d[24];
        return fail_at(p, at + i, "unexpected %s after date/time", describe(p, at + i, d));
    }

    viv_toml_type type = !has_date    ? VIV_TOML_TIME_LOCAL
                         : !has_time  ? VIV_TOML_DATE_LOCAL
                         : has_offset ? VIV_TOML_DATETIME
                                      : VIV_TOML_DATETIME_LOCAL;
    viv_toml_value *v = new_value(p, type);
    if (!v)
        return -1;
    /* The canonical text is the source with its case and separator fixed,
     * so it has the same length. */
    char *text = toml_realloc(NULL, i + 1);
    if (!text) {
        toml_free(v);
        return oom(p);
    }
    for (size_t k = 0; k < i; k++) {
        char c = (char)s[k];
        if (c == 't' || (c == ' ' && k == 10))
            c = 'T';
        else if (c == 'z')
            c = 'Z';
        text[k] = c;
    }
    text[i] = '\0';
    v->u.s.s = text;
    v->u.s.len = i;
    p->pos += i;
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------ */

static int parse_keyval(parser *p, viv_toml_value *tbl);
static int parse_value(parser *p, int depth, viv_toml_value **out);

static int parse_array(parser *p, int depth, viv_toml_value **out)
{
    viv_toml_value *a = new_container(p, VIV_TOML_ARRAY, depth, p->pos);
    if (!a)
        return -1;
    p->pos++;
    for (;;) {
        if (skip_ws_comments_newlines(p))
            goto fail;
        if (peek(p) == ']')
            break;
        viv_toml_value *v;
        if (parse_value(p, depth + 1, &v))
            goto fail;
        if (array_push(p, a, v)) {
            free_value(v);
            goto fail;
        }
        if (skip_ws_comments_newlines(p))
            goto fail;
        if (peek(p) == ',') {
            p->pos++;
            continue;
        }
        if (peek(p) == ']')
            break;
        char d[24];
        fail_at(p, p->pos, "expected ',' or ']' in array, found %s", describe(p, p->pos, d));
        goto fail;
    }
    p->pos++;
    *out = a;
    return 0;
fail:
    free_value(a);
    return -1;
}

static int parse_inline_table(parser *p, int depth, viv_toml_value **out)
{
    viv_toml_value *t = new_container(p, VIV_TOML_TABLE, depth, p->pos);
    if (!t)
        return -1;
    p->pos++;
    skip_ws(p);
    if (peek(p) != '}') {
        for (;;) {
            skip_ws(p);
            if (parse_keyval(p, t))
                goto fail;
            skip_ws(p);
            if (peek(p) == ',') {
                p->pos++;
                skip_ws(p);
                if (peek(p) == '}') {
                    fail_at(p, p->pos, "trailing comma in inline table");
                    goto fail;
                }
                continue;
            }
            if (peek(p) == '}')
                break;
            char d[24];
            fail_at(p, p->pos,
                    "expected ',' or '}' in inline table, found "
                    "%s (inline tables must fit on one line)",
                    describe(p, p->pos, d));
            goto fail;
        }
    }
    p->pos++;
    freeze(t);
    *out = t;
    return 0;
fail:
    free_value(t);
    return -1;
}

static int parse_string_value(parser *p, viv_toml_value **out)
{
    char *s;
    size_t len;
    int rc = at_triple(p) ? parse_ml_string(p, &s, &len) : parse_line_string(p, &s, &len);
    if (rc)
        return -1;
    viv_toml_value *v = new_value(p, VIV_TOML_STRING);
    if (!v) {
        toml_free(s);
        return -1;
    }
    v->u.s.s = s;
    v->u.s.len = len;
    *out = v;
    return 0;
}

static int parse_bool(parser *p, viv_toml_value **out)
{
    bool val;
    size_t n;
    if (p->len - p->pos >= 4 && memcmp(p->s + p->pos, "true", 4) == 0) {
        val = true;
        n = 4;
    } else if (p->len - p->pos >= 5 && memcmp(p->s + p->pos, "false", 5) == 0) {
        val = false;
        n = 5;
    } else {
        return fail_at(p, p->pos,
                       "expected a value (bare words other than "
                       "true, false, inf and nan need quotes)");
    }
    if (!is_value_end(peek_at(p, n)))
        return fail_at(p, p->pos,
                       "expected a value (bare words other than "
                       "true, false, inf and nan need quotes)");
    viv_toml_value *v = new_value(p, VIV_TOML_BOOL);
    if (!v)
        return -1;
    v->u.b = val;
    p->pos += n;
    *out = v;
    return 0;
}

/* `depth` is the depth the value will have once attached. */
static int parse_value(parser *p, int depth, viv_toml_value **out)
{
    int c = peek(p);
    switch (c) {
    case '"':
    case '\'':
        return parse_string_value(p, out);
    case 't':
    case 'f':
        return parse_bool(p, out);
    case '[':
        return parse_array(p, depth, out);
    case '{':
        return parse_inline_table(p, depth, out);
    default:
        if (looks_like_date(p) || looks_like_time(p->s + p->pos, p->len - p->pos))
            return parse_datetime(p, out);
        return parse_number(p, out);
    }
}

/*
 * key = value, into `tbl` (the current table or an inline table). Dotted
 * keys walk or create tables; they may only walk tables that were
 * themselves created by dotted keys in this same table, never ones made by
 * a [header], an inline table, or an array.
 */
static int parse_keyval(parser *p, viv_toml_value *tbl)
{
    size_t kpos = p->pos;
    char *k;
    size_t kl;
    if (parse_simple_key(p, &k, &kl))
        return -1;
    skip_ws(p);
    while (peek(p) == '.') {
        p->pos++;
        skip_ws(p);
        viv_toml_value *child = table_find(tbl, k, kl);
        if (!child) {
            child = new_container(p, VIV_TOML_TABLE, tbl->depth + 1, kpos);
            if (!child) {
                toml_free(k);
                return -1;
            }
            child->flags = F_DOTTED;
            if (table_insert(p, tbl, k, kl, child)) {
                toml_free(k);
                free_value(child);
                return -1;
            }
        } else {
            toml_free(k);
            if (child->type != VIV_TOML_TABLE)
                return fail_at(p, kpos,
                               "cannot use a dotted key here: the "
                               "key is already %s",
                               type_name(child));
            if (child->flags & F_INLINE)
                return fail_at(p, kpos, "cannot add keys to an inline table");
            if (!(child->flags & F_DOTTED))
                return fail_at(p, kpos,
                               "cannot add keys with a dotted key "
                               "to a table defined by a [header]");
        }
        tbl = child;
        kpos = p->pos;
        if (parse_simple_key(p, &k, &kl))
            return -1;
        skip_ws(p);
    }
    if (peek(p) != '=') {
        char d[24];
        toml_free(k);
        return fail_at(p, p->pos, "expected '=' after key, found %s", describe(p, p->pos, d));
    }
    p->pos++;
    skip_ws(p);
    if (table_find(tbl, k, kl)) {
        toml_free(k);
        return fail_at(p, kpos, "duplicate key");
    }
    viv_toml_value *v;
    if (parse_value(p, tbl->depth + 1, &v)) {
        toml_free(k);
        return -1;
    }
    if (table_insert(p, tbl, k, kl, v)) {
        toml_free(k);
        free_value(v);
        return -1;
    }
    return 0;
}

/* [a.b.c] or [[a.b.c]]: makes the named table the current one. */
static int parse_header(parser *p)
{
    size_t start = p->pos;
    bool aot = peek_at(p, 1) == '[';
    p->pos += aot ? 2 : 1;
    skip_ws(p);
    viv_toml_value *tbl = p->root;
    for (;;) {
        size_t kpos = p->pos;
        char *k;
        size_t kl;
        if (parse_simple_key(p, &k, &kl))
            return -1;
        skip_ws(p);
        viv_toml_value *child = table_find(tbl, k, kl);
        if (peek(p) == '.') {
            p->pos++;
            skip_ws(p);
            if (!child) {
                child = new_container(p, VIV_TOML_TABLE, tbl->depth + 1, kpos);
                if (!child) {
                    toml_free(k);
                    return -1;
                }
                child->flags = F_IMPLICIT;
                if (table_insert(p, tbl, k, kl, child)) {
                    toml_free(k);
                    free_value(child);
                    return -1;
                }
            } else {
                toml_free(k);
                if (child->type == VIV_TOML_ARRAY && (child->flags & F_AOT)) {
                    /* Sub-tables attach to the latest element. */
                    child = child->u.a.v[child->u.a.n - 1];
                } else if (child->type != VIV_TOML_TABLE) {
                    return fail_at(p, kpos, "key is already %s, not a table", type_name(child));
                } else if (child->flags & F_INLINE) {
                    return fail_at(p, kpos, "cannot extend an inline table");
                }
            }
            tbl = child;
            continue;
        }

        /* Last segment. */
        if (peek(p) != ']' || (aot && peek_at(p, 1) != ']')) {
            toml_free(k);
            char d[24];
            return fail_at(p, p->pos,
                           "expected '%s' to close the table "
                           "header, found %s",
                           aot ? "]]" : "]", describe(p, p->pos, d));
        }
        p->pos += aot ? 2 : 1;

        if (!aot) {
            if (!child) {
                child = new_container(p, VIV_TOML_TABLE, tbl->depth + 1, kpos);
                if (!child) {
                    toml_free(k);
                    return -1;
                }
                if (table_insert(p, tbl, k, kl, child)) {
                    toml_free(k);
                    free_value(child);
                    return -1;
                }
            } else {
                toml_free(k);
                if (child->type != VIV_TOML_TABLE)
                    return fail_at(p, start,
                                   "cannot define table: key is "
                                   "already %s",
                                   type_name(child));
                if (child->flags & F_DOTTED)
                    return fail_at(p, start,
                                   "table already defined with "
                                   "dotted keys");
                if (child->flags & F_INLINE)
                    return fail_at(p, start,
                                   "table already defined as an "
                                   "inline table");
                if (child->flags & F_DEFINED)
                    return fail_at(p, start, "table defined more than once");
            }
            child->flags = F_DEFINED;
            p->cur = child;
            return 0;
        }

        if (!child) {
            child = new_container(p, VIV_TOML_ARRAY, tbl->depth + 1, kpos);
            if (!child) {
                toml_free(k);
                return -1;
            }
            child->flags = F_AOT;
            if (table_insert(p, tbl, k, kl, child)) {
                toml_free(k);
                free_value(child);
                return -1;
            }
        } else {
            toml_free(k);
            if (child->type != VIV_TOML_ARRAY || !(child->flags & F_AOT))
                return fail_at(p, start,
                               "cannot define array of tables: "
                               "key is already %s",
                               type_name(child));
        }
        viv_toml_value *elem = new_container(p, VIV_TOML_TABLE, child->depth + 1, kpos);
        if (!elem)
            return -1;
        elem->flags = F_DEFINED;
        if (array_push(p, child, elem)) {
            free_value(elem);
            return -1;
        }
        p->cur = elem;
        return 0;
    }
}

static int parse_document(parser *p)
{
    for (;;) {
        skip_ws(p);
        int c = peek(p);
        if (c < 0)
            return 0;
        if (c == '[') {
            if (parse_header(p))
                return -1;
        } else if (c != '#' && c != '\n' && c != '\r') {
            if (parse_keyval(p, p->cur))
                return -1;
        }
        skip_ws(p);
        if (peek(p) == '#' && skip_comment(p))
            return -1;
        if (peek(p) < 0)
            return 0;
        if (!eat_newline(p)) {
            char d[24];
            if (peek(p) == '\r')
                return fail_at(p, p->pos,
                               "carriage return not followed by "
                               "a newline");
            return fail_at(p, p->pos, "expected end of line, found %s", describe(p, p->pos, d));
        }
    }
}

/* ------------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------------ */

int viv_toml_parse(const char *text, size_t len, viv_toml_value **out, viv_toml_error *err)
{
    parser p;
    memset(&p, 0, sizeof p);
    p.s = (const unsigned char *)(text ? text : "");
    p.len = text ? len : 0;
    p.err = err;
    if (err) {
        err->line = 0;
        err->column = 0;
        err->message[0] = '\0';
    }
    if (out)
        *out = NULL;
    if (!out) {
        fail_at(&p, 0, "no place to store the document");
        return -1;
    }
    if (p.len >= 3 && memcmp(p.s, "\xEF\xBB\xBF", 3) == 0)
        p.bom = p.pos = 3;
    if (check_utf8(&p))
        return -1;
    p.root = new_container(&p, VIV_TOML_TABLE, 0, 0);
    if (!p.root)
        return -1;
    p.root->flags = F_DEFINED;
    p.cur = p.root;
    int rc = parse_document(&p);
    if (p.c_locale)
        freelocale(p.c_locale);
    if (rc) {
        free_value(p.root);
        return -1;
    }
    *out = p.root;
    return 0;
}

void viv_toml_free(viv_toml_value *root) { free_value(root); }

viv_toml_type viv_toml_type_of(const viv_toml_value *v) { return v ? v->type : VIV_TOML_NONE; }

size_t viv_toml_table_count(const viv_toml_value *t)
{
    return t && t->type == VIV_TOML_TABLE ? t->u.t.n : 0;
}

const char *viv_toml_table_key(const viv_toml_value *t, size_t i, size_t *len)
{
    if (!t || t->type != VIV_TOML_TABLE || i >= t->u.t.n) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = t->u.t.e[i].len;
    return t->u.t.e[i].key;
}

const viv_toml_value *viv_toml_table_value(const viv_toml_value *t, size_t i)
{
    if (!t || t->type != VIV_TOML_TABLE || i >= t->u.t.n)
        return NULL;
    return t->u.t.e[i].val;
}

const viv_toml_value *viv_toml_table_getn(const viv_toml_value *t, const char *key, size_t len)
{
    if (!t || t->type != VIV_TOML_TABLE || !key)
        return NULL;
    return table_find(t, key, len);
}

const viv_toml_value *viv_toml_table_get(const viv_toml_value *t, const char *key)
{
    return key ? viv_toml_table_getn(t, key, strlen(key)) : NULL;
}

size_t viv_toml_array_len(const viv_toml_value *a)
{
    return a && a->type == VIV_TOML_ARRAY ? a->u.a.n : 0;
}

const viv_toml_value *viv_toml_array_item(const viv_toml_value *a, size_t i)
{
    if (!a || a->type != VIV_TOML_ARRAY || i >= a->u.a.n)
        return NULL;
    return a->u.a.v[i];
}

const char *viv_toml_string(const viv_toml_value *v, size_t *len)
{
    if (!v || v->type != VIV_TOML_STRING) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = v->u.s.len;
    return v->u.s.s;
}

bool viv_toml_int(const viv_toml_value *v, int64_t *out)
{
    if (!v || v->type != VIV_TOML_INTEGER)
        return false;
    if (out)
        *out = v->u.i;
    return true;
}

bool viv_toml_float(const viv_toml_value *v, double *out)
{
    if (!v || v->type != VIV_TOML_FLOAT)
        return false;
    if (out)
        *out = v->u.f;
    return true;
}

bool viv_toml_bool(const viv_toml_value *v, bool *out)
{
    if (!v || v->type != VIV_TOML_BOOL)
        return false;
    if (out)
        *out = v->u.b;
    return true;
}

const char *viv_toml_datetime(const viv_toml_value *v)
{
    if (!v || (v->type != VIV_TOML_DATETIME && v->type != VIV_TOML_DATETIME_LOCAL &&
               v->type != VIV_TOML_DATE_LOCAL && v->type != VIV_TOML_TIME_LOCAL))
        return NULL;
    return v->u.s.s;
}
