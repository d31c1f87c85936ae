/*
 * tests/unit/policy/toml_api_test.c: cmocka tests of the viv_toml API.
 *
 * Owns: the behaviour the conformance suite does not pin down: accessors and
 * their tolerance of NULL / wrong types, key order, error positions, the
 * nesting limit, NUL inside strings and keys, int64 and float range checks,
 * input that is not NUL-terminated, and large tables (hash index).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/toml.h"

static viv_toml_value *parse_ok(const char *text)
{
    viv_toml_value *doc = NULL;
    viv_toml_error err;
    int rc = viv_toml_parse(text, strlen(text), &doc, &err);
    if (rc != 0)
        print_error("unexpected parse error %d:%d: %s\n", err.line, err.column, err.message);
    assert_int_equal(rc, 0);
    assert_non_null(doc);
    return doc;
}

static viv_toml_error parse_bad(const char *text)
{
    viv_toml_value *doc = (viv_toml_value *)&doc; /* must be reset */
    viv_toml_error err;
    memset(&err, 0x55, sizeof err);
    assert_int_equal(viv_toml_parse(text, strlen(text), &doc, &err), -1);
    assert_null(doc);
    assert_true(err.line >= 1);
    assert_true(err.column >= 1);
    assert_true(strlen(err.message) > 0);
    return err;
}

static void assert_error_at(const char *text, int line, int column, const char *fragment)
{
    viv_toml_error err = parse_bad(text);
    if (err.line != line || err.column != column || !strstr(err.message, fragment))
        print_error("got %d:%d '%s', want %d:%d '...%s...'\n", err.line, err.column, err.message,
                    line, column, fragment);
    assert_int_equal(err.line, line);
    assert_int_equal(err.column, column);
    assert_non_null(strstr(err.message, fragment));
}

static void test_lookups(void **state)
{
    (void)state;
    viv_toml_value *doc = parse_ok("title = \"vivarium\"\n"
                                   "[limits]\n"
                                   "memory = 0x10_0000\n"
                                   "ratio = 0.5\n"
                                   "strict = true\n"
                                   "paths = ['/tmp', \"/var\"]\n"
                                   "[[mount]]\n"
                                   "src = 'a'\n"
                                   "[[mount]]\n"
                                   "src = 'b'\n"
                                   "when = 2024-02-29T12:00:00z\n");
    size_t len;
    int64_t i;
    double d;
    bool b;

    assert_int_equal(viv_toml_type_of(doc), VIV_TOML_TABLE);
    assert_string_equal(viv_toml_string(viv_toml_table_get(doc, "title"), &len), "vivarium");
    assert_int_equal(len, 8);

    const viv_toml_value *limits = viv_toml_table_get(doc, "limits");
    assert_true(viv_toml_int(viv_toml_table_get(limits, "memory"), &i));
    assert_int_equal(i, 0x100000);
    assert_true(viv_toml_float(viv_toml_table_get(limits, "ratio"), &d));
    assert_true(d == 0.5);
    assert_true(viv_toml_bool(viv_toml_table_get(limits, "strict"), &b));
    assert_true(b);
    const viv_toml_value *paths = viv_toml_table_get(limits, "paths");
    assert_int_equal(viv_toml_array_len(paths), 2);
    assert_string_equal(viv_toml_string(viv_toml_array_item(paths, 1), NULL), "/var");
    assert_null(viv_toml_array_item(paths, 2));

    const viv_toml_value *mounts = viv_toml_table_get(doc, "mount");
    assert_int_equal(viv_toml_type_of(mounts), VIV_TOML_ARRAY);
    assert_int_equal(viv_toml_array_len(mounts), 2);
    const viv_toml_value *m1 = viv_toml_array_item(mounts, 1);
    assert_string_equal(viv_toml_string(viv_toml_table_get(m1, "src"), NULL), "b");
    const viv_toml_value *when = viv_toml_table_get(m1, "when");
    assert_int_equal(viv_toml_type_of(when), VIV_TOML_DATETIME);
    assert_string_equal(viv_toml_datetime(when), "2024-02-29T12:00:00Z");

    /* Wrong types and missing values are NULL / false, never a crash. */
    assert_null(viv_toml_table_get(doc, "missing"));
    assert_null(viv_toml_table_get(limits, "memory.x"));
    assert_false(viv_toml_int(viv_toml_table_get(limits, "ratio"), &i));
    assert_false(viv_toml_bool(NULL, &b));
    assert_null(viv_toml_string(viv_toml_table_get(limits, "memory"), &len));
    assert_int_equal(len, 0);
    assert_int_equal(viv_toml_type_of(NULL), VIV_TOML_NONE);
    assert_int_equal(viv_toml_table_count(paths), 0);
    assert_int_equal(viv_toml_array_len(limits), 0);
    assert_null(viv_toml_table_key(doc, 99, &len));
    assert_null(viv_toml_table_value(NULL, 0));
    assert_null(viv_toml_datetime(viv_toml_table_get(doc, "title")));
    viv_toml_free(doc);
    viv_toml_free(NULL);
}

static void test_insertion_order(void **state)
{
    (void)state;
    viv_toml_value *doc = parse_ok("zeta = 1\n"
                                   "alpha.x = 2\n"
                                   "mid = { c = 1, a = 2, b.z = 3 }\n"
                                   "[later.deep]\n"
                                   "[beta]\n"
                                   "[later]\n"
                                   "k = 1\n");
    static const char *const want[] = {"zeta", "alpha", "mid", "later", "beta"};
    assert_int_equal(viv_toml_table_count(doc), 5);
    for (size_t i = 0; i < 5; i++) {
        size_t len;
        const char *k = viv_toml_table_key(doc, i, &len);
        assert_string_equal(k, want[i]);
        assert_int_equal(len, strlen(want[i]));
        assert_ptr_equal(viv_toml_table_value(doc, i), viv_toml_table_get(doc, want[i]));
    }
    const viv_toml_value *mid = viv_toml_table_get(doc, "mid");
    assert_string_equal(viv_toml_table_key(mid, 0, NULL), "c");
    assert_string_equal(viv_toml_table_key(mid, 1, NULL), "a");
    assert_string_equal(viv_toml_table_key(mid, 2, NULL), "b");
    const viv_toml_value *later = viv_toml_table_get(doc, "later");
    assert_string_equal(viv_toml_table_key(later, 0, NULL), "deep");
    assert_string_equal(viv_toml_table_key(later, 1, NULL), "k");
    viv_toml_free(doc);
}

static void test_error_positions(void **state)
{
    (void)state;
    assert_error_at("a = 1\nb = 2\na = 3\n", 3, 1, "duplicate key");
    assert_error_at("a = 1\nb = \"open\n", 2, 5, "unterminated string");
    assert_error_at("[t]\nx = [1, 2\ny = 3\n", 3, 1, "expected ',' or ']'");
    assert_error_at("k = \"bad \\q escape\"", 1, 10, "escape");
    assert_error_at("k = 1 2\n", 1, 7, "expected end of line");
    assert_error_at("[a]\n[a]\n", 2, 1, "defined more than once");
    assert_error_at("t = {a = 1,}\n", 1, 12, "trailing comma");
    assert_error_at("d = 2023-02-29\n", 1, 5, "day out of range");
    assert_error_at("s = \"\xC3\x28\"\n", 1, 6, "UTF-8");
    /* Columns count characters, not bytes. */
    assert_error_at("\"\xC3\xA9\xC3\xA9\" = nope\n", 1, 8, "expected a value");
    assert_error_at("a = 1\r\nb = \r\n", 2, 5, "expected a value");
    assert_error_at("a = 1\rb = 2\n", 1, 6, "carriage return");
}

static void test_empty_and_arguments(void **state)
{
    (void)state;
    viv_toml_value *doc = NULL;
    viv_toml_error err;
    assert_int_equal(viv_toml_parse("", 0, &doc, &err), 0);
    assert_int_equal(viv_toml_table_count(doc), 0);
    viv_toml_free(doc);
    assert_int_equal(viv_toml_parse(NULL, 0, &doc, NULL), 0);
    viv_toml_free(doc);
    assert_int_equal(viv_toml_parse("a = 1", 5, NULL, &err), -1);
    /* A byte-order mark is allowed only at the very start. */
    doc = parse_ok("\xEF\xBB\xBFk = 1\n");
    viv_toml_free(doc);
    assert_error_at("k = 1\n\xEF\xBB\xBF", 2, 1, "U+FEFF");
}

static void test_nesting_limit(void **state)
{
    (void)state;
    char buf[8192];
    viv_toml_value *doc;
    viv_toml_error err;

    /* The array value of a root key sits at depth 1. */
    size_t n = 0;
    n += (size_t)snprintf(buf, sizeof buf, "a = ");
    for (int i = 0; i < VIV_TOML_MAX_DEPTH; i++)
        buf[n++] = '[';
    for (int i = 0; i < VIV_TOML_MAX_DEPTH; i++)
        buf[n++] = ']';
    assert_int_equal(viv_toml_parse(buf, n, &doc, &err), 0);
    viv_toml_free(doc);

    n = (size_t)snprintf(buf, sizeof buf, "a = ");
    for (int i = 0; i < VIV_TOML_MAX_DEPTH + 1; i++)
        buf[n++] = '[';
    for (int i = 0; i < VIV_TOML_MAX_DEPTH + 1; i++)
        buf[n++] = ']';
    assert_int_equal(viv_toml_parse(buf, n, &doc, &err), -1);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 5 + VIV_TOML_MAX_DEPTH);
    assert_non_null(strstr(err.message, "nesting"));

    /* Unclosed and absurdly deep: must fail cleanly, not blow the stack. */
    char *deep = malloc(1 << 20);
    assert_non_null(deep);
    memcpy(deep, "x = ", 4);
    memset(deep + 4, '{', (1 << 20) - 4);
    for (size_t i = 4; i < (1 << 20) - 8; i += 8)
        memcpy(deep + i, "{ a = [ ", 8);
    assert_int_equal(viv_toml_parse(deep, 1 << 20, &doc, &err), -1);
    assert_non_null(strstr(err.message, "nesting"));
    free(deep);

    /* Dotted keys and headers count towards the same limit. */
    n = 0;
    for (int i = 0; i < VIV_TOML_MAX_DEPTH + 1; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "k.");
    n += (size_t)snprintf(buf + n, sizeof buf - n, "v = 1\n");
    assert_int_equal(viv_toml_parse(buf, n, &doc, &err), -1);
    assert_non_null(strstr(err.message, "nesting"));

    n = (size_t)snprintf(buf, sizeof buf, "[");
    for (int i = 0; i < VIV_TOML_MAX_DEPTH; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "k.");
    n += (size_t)snprintf(buf + n, sizeof buf - n, "v]\n");
    assert_int_equal(viv_toml_parse(buf, n, &doc, &err), -1);
    assert_non_null(strstr(err.message, "nesting"));
}

static void test_embedded_nul(void **state)
{
    (void)state;
    viv_toml_value *doc = parse_ok("s = \"a\\u0000b\"\n"
                                   "\"k\\u0000x\" = 1\n"
                                   "m = \"\"\"x\\U00000000\"\"\"\n");
    size_t len;
    const char *s = viv_toml_string(viv_toml_table_get(doc, "s"), &len);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "a\0b", 4); /* still NUL-terminated */
    assert_null(viv_toml_table_get(doc, "k"));
    const viv_toml_value *k = viv_toml_table_getn(doc, "k\0x", 3);
    int64_t i;
    assert_true(viv_toml_int(k, &i));
    assert_int_equal(i, 1);
    const char *key = viv_toml_table_key(doc, 1, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(key, "k\0x", 3);
    s = viv_toml_string(viv_toml_table_get(doc, "m"), &len);
    assert_int_equal(len, 2);
    viv_toml_free(doc);

    /* A raw NUL byte in the document is a control character, not the end. */
    static const char raw[] = "s = \"a\0b\"\n";
    viv_toml_error err;
    assert_int_equal(viv_toml_parse(raw, sizeof raw - 1, &doc, &err), -1);
    assert_int_equal(err.column, 7);
}

static void test_int64_range(void **state)
{
    (void)state;
    viv_toml_value *doc = parse_ok("max = 9_223_372_036_854_775_807\n"
                                   "min = -9223372036854775808\n"
                                   "hex = 0x7FFF_FFFF_FFFF_FFFF\n"
                                   "oct = 0o777\n"
                                   "bin = 0b1010\n"
                                   "neg0 = -0\n");
    int64_t i;
    assert_true(viv_toml_int(viv_toml_table_get(doc, "max"), &i));
    assert_true(i == INT64_MAX);
    assert_true(viv_toml_int(viv_toml_table_get(doc, "min"), &i));
    assert_true(i == INT64_MIN);
    assert_true(viv_toml_int(viv_toml_table_get(doc, "hex"), &i));
    assert_true(i == INT64_MAX);
    assert_true(viv_toml_int(viv_toml_table_get(doc, "oct"), &i));
    assert_int_equal(i, 511);
    assert_true(viv_toml_int(viv_toml_table_get(doc, "bin"), &i));
    assert_int_equal(i, 10);
    viv_toml_free(doc);

    assert_error_at("a = 9223372036854775808\n", 1, 5, "64 bits");
    assert_error_at("a = -9223372036854775809\n", 1, 5, "64 bits");
    assert_error_at("a = 99999999999999999999999\n", 1, 5, "64 bits");
    assert_error_at("a = 0x8000000000000000\n", 1, 5, "64 bits");
    assert_error_at("a = 0xFFFFFFFFFFFFFFFFF\n", 1, 5, "64 bits");
    assert_error_at("a = 1e400\n", 1, 5, "out of range");
}

static void test_floats(void **state)
{
    (void)state;
    viv_toml_value *doc = parse_ok("a = -inf\nb = +nan\nc = 6.02e+23\n"
                                   "d = 1_000.000_1\ne = -0.0\nf = 1e-400\n");
    double d;
    assert_true(viv_toml_float(viv_toml_table_get(doc, "a"), &d));
    assert_true(d < 0 && d * 2 == d);
    assert_true(viv_toml_float(viv_toml_table_get(doc, "b"), &d));
    assert_true(d != d);
    assert_true(viv_toml_float(viv_toml_table_get(doc, "c"), &d));
    assert_true(d == 6.02e23);
    assert_true(viv_toml_float(viv_toml_table_get(doc, "d"), &d));
    assert_true(d == 1000.0001);
    assert_true(viv_toml_float(viv_toml_table_get(doc, "f"), &d));
    assert_true(d == 0.0); /* underflow rounds to zero; only overflow fails */
    viv_toml_free(doc);
}

static void test_not_nul_terminated(void **state)
{
    (void)state;
    /* Only the first 5 bytes belong to the document. */
    char *buf = malloc(5);
    assert_non_null(buf);
    memcpy(buf, "a = 1", 5);
    viv_toml_value *doc;
    viv_toml_error err;
    assert_int_equal(viv_toml_parse(buf, 5, &doc, &err), 0);
    int64_t i;
    assert_true(viv_toml_int(viv_toml_table_get(doc, "a"), &i));
    assert_int_equal(i, 1);
    viv_toml_free(doc);
    /* Truncations in the middle of every token must be clean errors. */
    static const char full[] = "k = \"\"\"x\\u00e9\"\"\"\nt = 1979-05-27T07:32:00"
                               "+01:00\n[[a.b]]\nf = 1.5e3\ni = {x=[1,2]}\n";
    for (size_t n = 0; n <= sizeof full - 1; n++) {
        char *part = malloc(n ? n : 1);
        assert_non_null(part);
        memcpy(part, full, n);
        if (viv_toml_parse(part, n, &doc, &err) == 0)
            viv_toml_free(doc);
        free(part);
    }
    free(buf);
}

static void test_many_keys(void **state)
{
    (void)state;
    enum { N = 2000 };
    size_t cap = N * 32, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (int i = 0; i < N; i++)
        n += (size_t)snprintf(buf + n, cap - n, "key%d = %d\n", i, i);
    viv_toml_value *doc;
    viv_toml_error err;
    assert_int_equal(viv_toml_parse(buf, n, &doc, &err), 0);
    assert_int_equal(viv_toml_table_count(doc), N);
    for (int i = 0; i < N; i++) {
        char key[32];
        int64_t v;
        snprintf(key, sizeof key, "key%d", i);
        assert_true(viv_toml_int(viv_toml_table_get(doc, key), &v));
        assert_int_equal(v, i);
        assert_string_equal(viv_toml_table_key(doc, (size_t)i, NULL), key);
    }
    viv_toml_free(doc);
    /* Duplicates are still found once the hash index is in use. */
    n += (size_t)snprintf(buf + n, cap - n, "key1234 = 0\n");
    assert_int_equal(viv_toml_parse(buf, n, &doc, &err), -1);
    assert_int_equal(err.line, N + 1);
    free(buf);
}

static void test_strings_and_dates(void **state)
{
    (void)state;
    viv_toml_value *doc = parse_ok("ml = \"\"\"\r\none\r\ntwo \\\r\n   three\"\"\"\n"
                                   "lit = '''a\\b''''\n"
                                   "esc = \"\\t\\u00E9\\U0001F600\"\n"
                                   "dt = 1979-05-27 07:32:00.5+01:00\n"
                                   "ld = 1979-05-27\n"
                                   "lt = 07:32:00\n"
                                   "ldt = 1979-05-27t07:32:00\n");
    size_t len;
    assert_string_equal(viv_toml_string(viv_toml_table_get(doc, "ml"), &len), "one\ntwo three");
    assert_string_equal(viv_toml_string(viv_toml_table_get(doc, "lit"), NULL), "a\\b'");
    assert_string_equal(viv_toml_string(viv_toml_table_get(doc, "esc"), NULL),
                        "\t\xC3\xA9\xF0\x9F\x98\x80");
    const viv_toml_value *v = viv_toml_table_get(doc, "dt");
    assert_int_equal(viv_toml_type_of(v), VIV_TOML_DATETIME);
    assert_string_equal(viv_toml_datetime(v), "1979-05-27T07:32:00.5+01:00");
    v = viv_toml_table_get(doc, "ld");
    assert_int_equal(viv_toml_type_of(v), VIV_TOML_DATE_LOCAL);
    assert_string_equal(viv_toml_datetime(v), "1979-05-27");
    v = viv_toml_table_get(doc, "lt");
    assert_int_equal(viv_toml_type_of(v), VIV_TOML_TIME_LOCAL);
    v = viv_toml_table_get(doc, "ldt");
    assert_int_equal(viv_toml_type_of(v), VIV_TOML_DATETIME_LOCAL);
    assert_string_equal(viv_toml_datetime(v), "1979-05-27T07:32:00");
    viv_toml_free(doc);

    assert_error_at("s = \"\\uD800\"\n", 1, 6, "Unicode scalar");
    assert_error_at("s = \"\\U00110000\"\n", 1, 6, "Unicode scalar");
    assert_error_at("d = 1900-02-29\n", 1, 5, "day out of range");
    doc = parse_ok("d = 2000-02-29\nt = 23:59:60\n");
    viv_toml_free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_insertion_order),
        cmocka_unit_test(test_error_positions),
        cmocka_unit_test(test_empty_and_arguments),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_int64_range),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_not_nul_terminated),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_strings_and_dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
