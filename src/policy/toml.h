/*
 * src/policy/toml: a TOML 1.0.0 parser for Vivarium's policy files.
 *
 * Owns: turning a byte buffer into a generic, read-only document tree and
 * rejecting everything the TOML 1.0.0 specification does not allow (invalid
 * UTF-8, bad escapes, out-of-range numbers and dates, key redefinitions...).
 *
 * Does not own: what a policy means. The policy layer walks the tree this
 * module returns and applies its own schema.
 *
 * The parser is a pure function of its input: no globals, no I/O, no
 * callbacks. It never reads outside [text, text + len), bounds container
 * nesting at VIV_TOML_MAX_DEPTH and reports every failure (including running
 * out of memory) through viv_toml_error instead of aborting.
 *
 * Values returned by the accessors are owned by the document and live until
 * viv_toml_free() on the root. Accessors are total: given NULL or a value of
 * the wrong type they return 0 / NULL / false rather than crashing, so callers
 * can chain lookups and check once at the end.
 */
#ifndef VIV_POLICY_TOML_H
#define VIV_POLICY_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tables and arrays nested deeper than this are rejected, which keeps the
 * recursive parser and the recursive free within a small, fixed stack. */
#define VIV_TOML_MAX_DEPTH 128

typedef enum {
    VIV_TOML_TABLE,
    VIV_TOML_ARRAY,
    VIV_TOML_STRING,
    VIV_TOML_INTEGER,
    VIV_TOML_FLOAT,
    VIV_TOML_BOOL,
    VIV_TOML_DATETIME,       /* offset date-time, e.g. 1979-05-27T07:32:00Z */
    VIV_TOML_DATETIME_LOCAL, /* 1979-05-27T07:32:00 */
    VIV_TOML_DATE_LOCAL,     /* 1979-05-27 */
    VIV_TOML_TIME_LOCAL,     /* 07:32:00 */
    VIV_TOML_NONE,           /* only from viv_toml_type_of(NULL) */
} viv_toml_type;

typedef struct viv_toml_value viv_toml_value;

typedef struct {
    int line;   /* 1-based */
    int column; /* 1-based, counted in Unicode code points */
    char message[256];
} viv_toml_error;

/*
 * Parses `len` bytes of `text` (which need not be NUL-terminated). On success
 * returns 0 and stores the root table in *out. On failure returns -1, sets
 * *out to NULL and, if `err` is not NULL, fills it with the position of the
 * problem and a message.
 */
int viv_toml_parse(const char *text, size_t len, viv_toml_value **out, viv_toml_error *err);

/* Frees a whole document. Only call it on a root returned by viv_toml_parse. */
void viv_toml_free(viv_toml_value *root);

viv_toml_type viv_toml_type_of(const viv_toml_value *v);

/* Tables keep their keys in the order they first appeared in the document.
 * Keys are UTF-8 and may contain NUL (a quoted key can hold "\u0000"), so
 * each comes with its length; they are also NUL-terminated for convenience. */
size_t viv_toml_table_count(const viv_toml_value *table);
const char *viv_toml_table_key(const viv_toml_value *table, size_t i, size_t *len);
const viv_toml_value *viv_toml_table_value(const viv_toml_value *table, size_t i);
/* Lookup of one key (not a dotted path). NULL when absent. */
const viv_toml_value *viv_toml_table_get(const viv_toml_value *table, const char *key);
const viv_toml_value *viv_toml_table_getn(const viv_toml_value *table, const char *key, size_t len);

size_t viv_toml_array_len(const viv_toml_value *array);
const viv_toml_value *viv_toml_array_item(const viv_toml_value *array, size_t i);

/* UTF-8 bytes of a STRING, NUL-terminated, but may also contain NUL: use
 * *len when it matters. Line breaks inside multi-line strings read as "\n"
 * even when the file uses CRLF, so a policy means the same on any platform
 * (the spec leaves this normalisation to the parser). */
const char *viv_toml_string(const viv_toml_value *v, size_t *len);
bool viv_toml_int(const viv_toml_value *v, int64_t *out);
bool viv_toml_float(const viv_toml_value *v, double *out);
bool viv_toml_bool(const viv_toml_value *v, bool *out);

/*
 * Canonical text of any of the four date/time types: "T" as the date-time
 * separator, upper-case "Z", fractional seconds as written, numeric offsets
 * as written ("+00:00" stays as is). The value has already been validated
 * (month lengths, leap years, 00-60 seconds, offsets within +-23:59).
 */
const char *viv_toml_datetime(const viv_toml_value *v);

#endif
