/*
 * tests/unit/policy/toml_conformance.c: runs the toml-test TOML 1.0.0 cases
 * against viv_toml.
 *
 * Owns: reading files-toml-1.0.0, converting our document tree to
 * toml-test's tagged JSON and comparing it with the expected .json beside
 * each valid case, and checking that every invalid case is rejected with a
 * position. Usage: toml_conformance <toml-test dir>. Prints one line per
 * failing case and ends with "N passed, N failed"; exits 1 on any failure,
 * including a missing suite (the repository guarantees it is there).
 */
#include "policy/toml.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* jansson cannot hold NUL inside object keys, yet TOML keys may contain it.
 * Both sides therefore spell NUL as two Unicode noncharacters that no test
 * case uses, which keeps the comparison exact. */
#define NUL_STANDIN      "\xEF\xB7\x90\xEF\xB7\x91" /* U+FDD0 U+FDD1 */
#define NUL_STANDIN_JSON "\\uFDD0\\uFDD1"

static char *replace_nul(const char *s, size_t len, size_t *outlen)
{
    size_t extra = strlen(NUL_STANDIN) - 1, nuls = 0;
    for (size_t i = 0; i < len; i++)
        nuls += s[i] == '\0';
    char *out = malloc(len + nuls * extra + 1), *o = out;
    if (!out)
        abort();
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\0') {
            memcpy(o, NUL_STANDIN, strlen(NUL_STANDIN));
            o += strlen(NUL_STANDIN);
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    *outlen = (size_t)(o - out);
    return out;
}

/* Rewrites each \u0000 escape in JSON text, skipping escaped backslashes. */
static char *json_replace_nul(const char *s, size_t len, size_t *outlen)
{
    char *out = malloc(len * 2 + 1), *o = out;
    if (!out)
        abort();
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 5 < len && memcmp(s + i + 1, "u0000", 5) == 0) {
            memcpy(o, NUL_STANDIN_JSON, strlen(NUL_STANDIN_JSON));
            o += strlen(NUL_STANDIN_JSON);
            i += 5;
        } else if (s[i] == '\\' && i + 1 < len) {
            *o++ = s[i++];
            *o++ = s[i];
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    *outlen = (size_t)(o - out);
    return out;
}

static json_t *tagged(const char *type, json_t *value)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "value", value);
    return o;
}

static json_t *to_json(const viv_toml_value *v)
{
    char buf[64];
    size_t len;
    switch (viv_toml_type_of(v)) {
    case VIV_TOML_TABLE: {
        json_t *o = json_object();
        for (size_t i = 0; i < viv_toml_table_count(v); i++) {
            const char *k = viv_toml_table_key(v, i, &len);
            char *key = replace_nul(k, len, &len);
            json_object_setn_new(o, key, len, to_json(viv_toml_table_value(v, i)));
            free(key);
        }
        return o;
    }
    case VIV_TOML_ARRAY: {
        json_t *a = json_array();
        for (size_t i = 0; i < viv_toml_array_len(v); i++)
            json_array_append_new(a, to_json(viv_toml_array_item(v, i)));
        return a;
    }
    case VIV_TOML_STRING: {
        const char *s = viv_toml_string(v, &len);
        char *str = replace_nul(s, len, &len);
        json_t *j = tagged("string", json_stringn(str, len));
        free(str);
        return j;
    }
    case VIV_TOML_INTEGER: {
        int64_t i = 0;
        viv_toml_int(v, &i);
        snprintf(buf, sizeof buf, "%" PRId64, i);
        return tagged("integer", json_string(buf));
    }
    case VIV_TOML_FLOAT: {
        double d = 0;
        viv_toml_float(v, &d);
        if (isnan(d))
            snprintf(buf, sizeof buf, "nan");
        else if (isinf(d))
            snprintf(buf, sizeof buf, "%sinf", d < 0 ? "-" : "");
        else
            snprintf(buf, sizeof buf, "%.17g", d);
        return tagged("float", json_string(buf));
    }
    case VIV_TOML_BOOL: {
        bool b = false;
        viv_toml_bool(v, &b);
        return tagged("bool", json_string(b ? "true" : "false"));
    }
    case VIV_TOML_DATETIME:
        return tagged("datetime", json_string(viv_toml_datetime(v)));
    case VIV_TOML_DATETIME_LOCAL:
        return tagged("datetime-local", json_string(viv_toml_datetime(v)));
    case VIV_TOML_DATE_LOCAL:
        return tagged("date-local", json_string(viv_toml_datetime(v)));
    case VIV_TOML_TIME_LOCAL:
        return tagged("time-local", json_string(viv_toml_datetime(v)));
    case VIV_TOML_NONE:
        break;
    }
    return json_null();
}

/* A tagged scalar is an object holding exactly two strings, type and value;
 * a TOML table with those keys would hold tagged objects instead. */
static bool is_scalar(const json_t *o)
{
    return json_is_object(o) && json_object_size(o) == 2 &&
           json_is_string(json_object_get(o, "type")) &&
           json_is_string(json_object_get(o, "value"));
}

static bool parse_float(const char *s, double *out)
{
    if (strcmp(s, "nan") == 0 || strcmp(s, "+nan") == 0 || strcmp(s, "-nan") == 0) {
        *out = NAN;
        return true;
    }
    if (strcmp(s, "inf") == 0 || strcmp(s, "+inf") == 0) {
        *out = INFINITY;
        return true;
    }
    if (strcmp(s, "-inf") == 0) {
        *out = -INFINITY;
        return true;
    }
    char *end;
    *out = strtod(s, &end);
    return *s && *end == '\0';
}

/* toml-test compares date-times as times, so spellings that mean the same
 * instant must compare equal: 'T' or space, case of T/Z, trailing zeros in
 * the fraction ("56.6" vs "56.600"), and Z vs +00:00. */
static void normalise_datetime(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *s = in; *s && n + 1 < cap; s++) {
        char c = (char)toupper((unsigned char)*s);
        out[n++] = (c == ' ') ? 'T' : c;
    }
    out[n] = '\0';
    char *dot = strchr(out, '.');
    if (dot) {
        char *end = dot + 1;
        while (isdigit((unsigned char)*end))
            end++;
        char *last = end;
        while (last > dot + 1 && last[-1] == '0')
            last--;
        if (last == dot + 1)
            last = dot;
        memmove(last, end, strlen(end) + 1);
    }
    size_t len = strlen(out);
    if (len >= 6 &&
        (strcmp(out + len - 6, "+00:00") == 0 || strcmp(out + len - 6, "-00:00") == 0) &&
        strchr(out, 'T'))
        strcpy(out + len - 6, "Z");
}

static bool same_scalar(const json_t *got, const json_t *want, char *why, size_t whylen)
{
    const char *gt = json_string_value(json_object_get(got, "type"));
    const char *wt = json_string_value(json_object_get(want, "type"));
    const json_t *gvj = json_object_get(got, "value");
    const json_t *wvj = json_object_get(want, "value");
    const char *gv = json_string_value(gvj);
    const char *wv = json_string_value(wvj);
    if (strcmp(gt, wt) != 0) {
        snprintf(why, whylen, "type %s, want %s (value %s, want %s)", gt, wt, gv, wv);
        return false;
    }
    bool ok;
    if (strcmp(wt, "integer") == 0) {
        char *e1, *e2;
        long long a = strtoll(gv, &e1, 10), b = strtoll(wv, &e2, 10);
        ok = !*e1 && !*e2 && a == b;
    } else if (strcmp(wt, "float") == 0) {
        double a, b;
        ok = parse_float(gv, &a) && parse_float(wv, &b) &&
             ((isnan(a) && isnan(b)) || (a == b && signbit(a) == signbit(b)));
    } else if (strcmp(wt, "string") == 0 || strcmp(wt, "bool") == 0) {
        ok = json_string_length(gvj) == json_string_length(wvj) &&
             memcmp(gv, wv, json_string_length(wvj)) == 0;
    } else {
        char a[256], b[256];
        normalise_datetime(gv, a, sizeof a);
        normalise_datetime(wv, b, sizeof b);
        ok = strcmp(a, b) == 0;
    }
    if (!ok)
        snprintf(why, whylen, "%s %s, want %s", wt, gv, wv);
    return ok;
}

static bool same(const json_t *got, const json_t *want, char *path, size_t pathlen, char *why,
                 size_t whylen)
{
    size_t plen = strlen(path);
    if (is_scalar(want)) {
        if (!is_scalar(got)) {
            snprintf(why, whylen,
                     "at %s: got a table or array, want a "
                     "scalar",
                     path);
            return false;
        }
        char detail[256];
        if (!same_scalar(got, want, detail, sizeof detail)) {
            snprintf(why, whylen, "at %s: %s", path, detail);
            return false;
        }
        return true;
    }
    if (json_is_object(want)) {
        if (!json_is_object(got) || is_scalar(got)) {
            snprintf(why, whylen, "at %s: want a table", path);
            return false;
        }
        if (json_object_size(got) != json_object_size(want)) {
            snprintf(why, whylen, "at %s: %zu keys, want %zu", path, json_object_size(got),
                     json_object_size(want));
            return false;
        }
        for (void *it = json_object_iter((json_t *)want); it;
             it = json_object_iter_next((json_t *)want, it)) {
            const char *k = json_object_iter_key(it);
            size_t klen = json_object_iter_key_len(it);
            const json_t *g = json_object_getn(got, k, klen);
            snprintf(path + plen, pathlen - plen, ".%s", k);
            if (!g) {
                snprintf(why, whylen, "missing key %s", path);
                return false;
            }
            if (!same(g, json_object_iter_value(it), path, pathlen, why, whylen))
                return false;
            path[plen] = '\0';
        }
        return true;
    }
    if (json_is_array(want)) {
        if (!json_is_array(got)) {
            snprintf(why, whylen, "at %s: want an array", path);
            return false;
        }
        if (json_array_size(got) != json_array_size(want)) {
            snprintf(why, whylen, "at %s: %zu items, want %zu", path, json_array_size(got),
                     json_array_size(want));
            return false;
        }
        for (size_t i = 0; i < json_array_size(want); i++) {
            snprintf(path + plen, pathlen - plen, "[%zu]", i);
            if (!same(json_array_get(got, i), json_array_get(want, i), path, pathlen, why, whylen))
                return false;
            path[plen] = '\0';
        }
        return true;
    }
    snprintf(why, whylen, "at %s: unexpected JSON in the expected file", path);
    return false;
}

static bool run_valid(const char *dir, const char *name, char *why, size_t whylen)
{
    char path[4096];
    size_t len;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        snprintf(why, whylen, "path too long");
        return false;
    }
    char *text = read_file(path, &len);
    if (!text) {
        snprintf(why, whylen, "cannot read %.512s", path);
        return false;
    }
    viv_toml_value *doc;
    viv_toml_error err;
    int rc = viv_toml_parse(text, len, &doc, &err);
    free(text);
    if (rc != 0) {
        snprintf(why, whylen, "rejected at %d:%d: %s", err.line, err.column, err.message);
        return false;
    }
    /* name ends in ".toml"; the expected document sits beside it. */
    snprintf(path, sizeof path, "%s/%.*s.json", dir, (int)(strlen(name) - 5), name);
    json_error_t jerr;
    json_t *want = NULL;
    char *raw = read_file(path, &len);
    if (raw) {
        size_t jlen;
        char *cooked = json_replace_nul(raw, len, &jlen);
        want = json_loadb(cooked, jlen, 0, &jerr);
        free(cooked);
        free(raw);
    } else {
        snprintf(jerr.text, sizeof jerr.text, "cannot read");
    }
    if (!want) {
        snprintf(why, whylen, "cannot load %.512s: %.160s", path, jerr.text);
        viv_toml_free(doc);
        return false;
    }
    json_t *got = to_json(doc);
    viv_toml_free(doc);
    char where[1024] = "$";
    bool ok = same(got, want, where, sizeof where, why, whylen);
    json_decref(got);
    json_decref(want);
    return ok;
}

static bool run_invalid(const char *dir, const char *name, char *why, size_t whylen)
{
    char path[4096];
    size_t len;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        snprintf(why, whylen, "path too long");
        return false;
    }
    char *text = read_file(path, &len);
    if (!text) {
        snprintf(why, whylen, "cannot read %.512s", path);
        return false;
    }
    viv_toml_value *doc;
    viv_toml_error err;
    int rc = viv_toml_parse(text, len, &doc, &err);
    free(text);
    if (rc == 0) {
        viv_toml_free(doc);
        snprintf(why, whylen, "accepted an invalid document");
        return false;
    }
    if (err.line < 1 || err.column < 1 || err.message[0] == '\0') {
        snprintf(why, whylen, "rejected without a position or message");
        return false;
    }
    if (getenv("TOML_TEST_VERBOSE"))
        printf("ok   %s: %d:%d: %s\n", name, err.line, err.column, err.message);
    return true;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <toml-test dir>\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    char list[4096];
    snprintf(list, sizeof list, "%s/files-toml-1.0.0", dir);
    FILE *f = fopen(list, "r");
    if (!f) {
        printf("FAIL: toml-test suite not found (%s)\n", list);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    int passed = 0, failed = 0, valid = 0, valid_ok = 0, invalid = 0, invalid_ok = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        size_t n = strlen(line);
        if (n < 5 || strcmp(line + n - 5, ".toml") != 0)
            continue;
        char why[1024] = "";
        bool ok;
        if (strncmp(line, "valid/", 6) == 0) {
            valid++;
            ok = run_valid(dir, line, why, sizeof why);
            valid_ok += ok;
        } else if (strncmp(line, "invalid/", 8) == 0) {
            invalid++;
            ok = run_invalid(dir, line, why, sizeof why);
            invalid_ok += ok;
        } else {
            continue;
        }
        if (ok) {
            passed++;
        } else {
            failed++;
            printf("FAIL %s: %s\n", line, why);
        }
    }
    fclose(f);
    if (valid == 0 || invalid == 0) {
        printf("FAIL: files-toml-1.0.0 lists no valid or no invalid cases\n");
        failed++;
    }
    printf("valid %d/%d, invalid %d/%d\n", valid_ok, valid, invalid_ok, invalid);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
