/*
 * tests/unit/log/test_log_paths.c: the truncation rules for paths in events.
 *
 * Owns: viv_log_path_list (at most 20 entries, NULL entries skipped) and
 * viv_log_path (at most 140 characters, then the marker "…[+N chars]";
 * characters are code points; invalid UTF-8 becomes U+FFFD), and that the
 * results serialise inside an event line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "log_test_util.h"

#define MARK "\xE2\x80\xA6" /* … */

/* n copies of unit (a UTF-8 character) as a new string. */
static char *repeat(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    char *s = malloc(u * n + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        memcpy(s + i * u, unit, u);
    }
    s[u * n] = '\0';
    return s;
}

static void check_path(const char *in, const char *want)
{
    json_t *v = viv_log_path(in);
    assert_non_null(v);
    assert_true(json_is_string(v));
    assert_string_equal(json_string_value(v), want);
    json_decref(v);
}

static void test_list_caps_at_20(void **state)
{
    char names[25][16];
    const char *paths[25];
    for (int i = 0; i < 25; i++) {
        snprintf(names[i], sizeof names[i], "out/f%02d.txt", i);
        paths[i] = names[i];
    }
    json_t *arr = viv_log_path_list(paths, 25);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), VIV_LOG_MAX_PATHS);
    assert_int_equal(VIV_LOG_MAX_PATHS, 20);
    for (size_t i = 0; i < 20; i++) {
        assert_string_equal(json_string_value(json_array_get(arr, i)), names[i]);
    }
    json_decref(arr);

    /* Exactly 20 and fewer are kept whole. */
    arr = viv_log_path_list(paths, 20);
    assert_int_equal(json_array_size(arr), 20);
    json_decref(arr);
    arr = viv_log_path_list(paths, 3);
    assert_int_equal(json_array_size(arr), 3);
    json_decref(arr);
}

static void test_list_empty_and_nulls(void **state)
{
    json_t *arr = viv_log_path_list(NULL, 0);
    assert_non_null(arr);
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), 0);
    json_decref(arr);

    const char *paths[23] = {"a", NULL, "b"};
    for (int i = 3; i < 23; i++) {
        paths[i] = "x";
    }
    arr = viv_log_path_list(paths, 23);
    /* The NULL is skipped and does not use up a place. */
    assert_int_equal(json_array_size(arr), 20);
    assert_string_equal(json_string_value(json_array_get(arr, 0)), "a");
    assert_string_equal(json_string_value(json_array_get(arr, 1)), "b");
    assert_string_equal(json_string_value(json_array_get(arr, 2)), "x");
    json_decref(arr);

    json_t *v = viv_log_path(NULL);
    assert_true(json_is_null(v));
    json_decref(v);
}

static void test_long_path_cut(void **state)
{
    /* 200 characters: the first 140, then the marker for the other 60. */
    char *p200 = repeat("a", 200);
    memcpy(p200, "/app/", 5);
    char *want = malloc(200);
    assert_non_null(want);
    snprintf(want, 200, "%.140s" MARK "[+60 chars]", p200);
    check_path(p200, want);
    json_t *v = viv_log_path(p200);
    /* 140 + "…" (3 bytes) + "[+60 chars]" (11) */
    assert_int_equal(strlen(json_string_value(v)), 140 + 3 + 11);
    json_decref(v);

    /* Within a list too. */
    const char *paths[] = {"short", p200};
    json_t *arr = viv_log_path_list(paths, 2);
    assert_string_equal(json_string_value(json_array_get(arr, 0)), "short");
    assert_string_equal(json_string_value(json_array_get(arr, 1)), want);
    json_decref(arr);
    free(p200);
    free(want);
}

static void test_cut_boundaries(void **state)
{
    char *p140 = repeat("b", 140);
    check_path(p140, p140); /* exactly 140: untouched */
    char *p141 = repeat("b", 141);
    char want[300];
    snprintf(want, sizeof want, "%s" MARK "[+1 chars]", p140);
    check_path(p141, want);
    char *p5000 = repeat("c", 5000);
    char *c140 = repeat("c", 140);
    snprintf(want, sizeof want, "%s" MARK "[+4860 chars]", c140);
    check_path(p5000, want);
    check_path("", "");
    free(p140);
    free(p141);
    free(p5000);
    free(c140);
}

static void test_cut_counts_characters(void **state)
{
    /* 150 two-byte characters: 140 of them kept, none split. */
    char *e150 = repeat("\xC3\xA9", 150);
    char *e140 = repeat("\xC3\xA9", 140);
    char want[600];
    snprintf(want, sizeof want, "%s" MARK "[+10 chars]", e140);
    check_path(e150, want);
    /* 139 ASCII + one 4-byte character + 5 more: the emoji is the 140th. */
    char *mixed = malloc(200);
    assert_non_null(mixed);
    memset(mixed, 'm', 139);
    memcpy(mixed + 139, "\xF0\x9F\x98\x80", 4);
    memcpy(mixed + 143, "nnnnn", 6);
    char *m139 = repeat("m", 139);
    snprintf(want, sizeof want, "%s\xF0\x9F\x98\x80" MARK "[+5 chars]", m139);
    check_path(mixed, want);
    free(e150);
    free(e140);
    free(mixed);
    free(m139);
}

static void test_invalid_utf8(void **state)
{
    /* Each bad byte is one U+FFFD (one character). */
    check_path("ok\xff/x", "ok\xEF\xBF\xBD/x");
    check_path("\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD");                 /* overlong "/" */
    check_path("\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); /* surrogate */
    check_path("\xF4\x90\x80\x80x",
               "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDx"); /* > U+10FFFF */
    check_path("cut\xE2\x82", "cut\xEF\xBF\xBD\xEF\xBF\xBD");        /* truncated sequence */
    check_path("\xE2\x82\xAC", "\xE2\x82\xAC");                      /* € is fine */
    /* 200 bad bytes: 140 replacements, then the marker. */
    char *bad = repeat("\xFE", 200);
    char *rep = repeat("\xEF\xBF\xBD", 140);
    char want[1000];
    snprintf(want, sizeof want, "%s" MARK "[+60 chars]", rep);
    check_path(bad, want);
    free(bad);
    free(rep);
}

static void test_in_an_event(void **state)
{
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    viv_logger *lg;
    assert_int_equal(viv_logger_new(&lg, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_fd(lg, fds[1], NULL), VIV_OK);
    char *longp = repeat("d", 300);
    const char *paths[30];
    for (int i = 0; i < 30; i++) {
        paths[i] = i == 0 ? longp : "w\xffx";
    }
    json_t *f = json_object();
    json_object_set_new(f, "files_created_count", json_integer(30));
    json_object_set_new(f, "files_created", viv_log_path_list(paths, 30));
    viv_log_emit(lg, VIV_LOG_INFO, VIV_EV_EXECUTION_COMPLETE, "e", f);
    json_decref(f);
    viv_logger_free(lg);
    close(fds[1]);
    char *text = lt_read_all(fds[0], NULL);
    close(fds[0]);
    json_t *lines = lt_parse_lines(text);
    free(text);
    assert_non_null(lines);
    json_t *o = json_array_get(lines, 0);
    assert_int_equal(json_integer_value(json_object_get(o, "files_created_count")), 30);
    json_t *arr = json_object_get(o, "files_created");
    assert_int_equal(json_array_size(arr), 20);
    const char *first = json_string_value(json_array_get(arr, 0));
    assert_non_null(strstr(first, MARK "[+160 chars]"));
    assert_string_equal(json_string_value(json_array_get(arr, 1)), "w\xEF\xBF\xBDx");
    json_decref(lines);
    free(longp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_caps_at_20),       cmocka_unit_test(test_list_empty_and_nulls),
        cmocka_unit_test(test_long_path_cut),         cmocka_unit_test(test_cut_boundaries),
        cmocka_unit_test(test_cut_counts_characters), cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_in_an_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
