/*
 * tests/unit/policy/policy_emit_test.c: cmocka tests of viv_policy_to_toml.
 *
 * Owns: the round trip the serve protocol relies on: a policy written as
 * TOML and loaded over a fresh policy with its env cleared comes back equal
 * field by field, for defaults and for a policy with every field changed,
 * including strings that need escaping; and the refusals (non-UTF-8).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy.h"

static char dir[PATH_MAX];

static int setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof tmpl, "%s/viv_policy_emit_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(tmpl) == NULL || realpath(tmpl, dir) == NULL) {
        return -1;
    }
    static const char *const subs[] = {"ws \"quoted\"", "data\\dir", "m:1", "m\t2"};
    for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
        char p[PATH_MAX + 64];
        snprintf(p, sizeof p, "%s/%s", dir, subs[i]);
        if (mkdir(p, 0700) != 0) {
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void expect_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        assert_ptr_equal(a, b);
    } else {
        assert_string_equal(a, b);
    }
}

static void expect_equal(const viv_policy *a, const viv_policy *b)
{
    assert_int_equal(a->fuel_budget, b->fuel_budget);
    assert_int_equal(a->memory_bytes, b->memory_bytes);
    assert_int_equal(a->stdout_max_bytes, b->stdout_max_bytes);
    assert_int_equal(a->stderr_max_bytes, b->stderr_max_bytes);
    assert_true(a->timeout_seconds == b->timeout_seconds);
    expect_str(a->workspace, b->workspace);
    expect_str(a->guest_mount_path, b->guest_mount_path);
    expect_str(a->data_dir, b->data_dir);
    expect_str(a->guest_data_path, b->guest_data_path);
    assert_int_equal(a->nmounts, b->nmounts);
    for (size_t i = 0; i < a->nmounts; i++) {
        expect_str(a->mounts[i].host, b->mounts[i].host);
        expect_str(a->mounts[i].guest, b->mounts[i].guest);
    }
    assert_int_equal(a->nenv, b->nenv);
    for (size_t i = 0; i < a->nenv; i++) {
        expect_str(a->env[i].key, b->env[i].key);
        expect_str(a->env[i].value, b->env[i].value);
    }
    assert_int_equal(a->argc, b->argc);
    for (size_t i = 0; i < a->argc; i++) {
        expect_str(a->argv[i], b->argv[i]);
    }
    assert_int_equal(a->preserve_logs, b->preserve_logs);
    assert_int_equal(a->require_kernel_isolation, b->require_kernel_isolation);
}

/* Emit p, load it back the documented way, compare, and check that the
 * reloaded policy emits the same text. */
static void round_trip(const viv_policy *p)
{
    char *text = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    viv_error err = {0};
    assert_int_equal(viv_policy_to_toml(p, &text, &len, &err), VIV_OK);
    assert_int_equal(strlen(text), len);
    viv_policy *q = NULL;
    assert_int_equal(viv_policy_new(&q, NULL), VIV_OK);
    viv_policy_clear_env(q);
    viv_status st = viv_policy_load_toml_string(q, text, len, "/nonexistent-base", &err);
    if (st != VIV_OK) {
        fprintf(stderr, "load failed: %s (field %s)\n%s\n", err.message, err.field, text);
    }
    assert_int_equal(st, VIV_OK);
    expect_equal(p, q);
    assert_int_equal(viv_policy_to_toml(q, &again, &len2, &err), VIV_OK);
    assert_string_equal(text, again);
    free(text);
    free(again);
    viv_policy_free(q);
}

static void test_defaults_round_trip(void **state)
{
    viv_policy *p = NULL;
    assert_int_equal(viv_policy_new(&p, NULL), VIV_OK);
    round_trip(p);
    viv_policy_free(p);
}

static void test_every_field_round_trips(void **state)
{
    viv_policy *p = NULL;
    char path[PATH_MAX + 64];
    assert_int_equal(viv_policy_new(&p, NULL), VIV_OK);
    assert_int_equal(viv_policy_set_fuel_budget(p, 123456789012LL, NULL), VIV_OK);
    assert_int_equal(viv_policy_set_memory_bytes(p, 64LL << 20, NULL), VIV_OK);
    assert_int_equal(viv_policy_set_stdout_max_bytes(p, 7, NULL), VIV_OK);
    assert_int_equal(viv_policy_set_stderr_max_bytes(p, 9, NULL), VIV_OK);
    /* A value with no short decimal form. */
    assert_int_equal(viv_policy_set_timeout_seconds(p, 0.1 + 0.2, NULL), VIV_OK);
    snprintf(path, sizeof path, "%s/ws \"quoted\"", dir);
    assert_int_equal(viv_policy_set_workspace(p, path, NULL), VIV_OK);
    snprintf(path, sizeof path, "%s/data\\dir", dir);
    assert_int_equal(viv_policy_set_data_dir(p, path, NULL), VIV_OK);
    assert_int_equal(viv_policy_set_guest_mount_path(p, "/work", NULL), VIV_OK);
    assert_int_equal(viv_policy_set_guest_data_path(p, "/in put", NULL), VIV_OK);
    snprintf(path, sizeof path, "%s/m:1", dir);
    assert_int_equal(viv_policy_add_mount(p, path, "/m1", NULL), VIV_OK);
    snprintf(path, sizeof path, "%s/m\t2", dir);
    assert_int_equal(viv_policy_add_mount(p, path, "/m2", NULL), VIV_OK);
    viv_policy_clear_env(p);
    assert_int_equal(viv_policy_set_env(p, "A.B", "x=\"y\"\n\\z", NULL), VIV_OK);
    assert_int_equal(viv_policy_set_env(p, "EMPTY", "", NULL), VIV_OK);
    assert_int_equal(viv_policy_set_env(p, "UNI", "h\xC3\xA9llo \xF0\x9F\x90\x8D", NULL), VIV_OK);
    const char *argv[] = {"python", "-I", "-c\x7f"};
    assert_int_equal(viv_policy_set_argv(p, argv, 3, NULL), VIV_OK);
    assert_int_equal(viv_policy_set_preserve_logs(p, true, NULL), VIV_OK);
    assert_int_equal(viv_policy_set_require_kernel_isolation(p, true, NULL), VIV_OK);
    round_trip(p);
    viv_policy_free(p);
}

static void test_whole_timeouts(void **state)
{
    const double values[] = {0, 1, 30, 1e-5, 86400.5, 1e15};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        viv_policy *p = NULL;
        assert_int_equal(viv_policy_new(&p, NULL), VIV_OK);
        if (viv_policy_set_timeout_seconds(p, values[i], NULL) == VIV_OK) {
            round_trip(p);
        }
        viv_policy_free(p);
    }
}

static void test_cleared_env_stays_cleared(void **state)
{
    viv_policy *p = NULL;
    assert_int_equal(viv_policy_new(&p, NULL), VIV_OK);
    viv_policy_clear_env(p);
    char *text = NULL;
    assert_int_equal(viv_policy_to_toml(p, &text, NULL, NULL), VIV_OK);
    assert_null(strstr(text, "PYTHONHASHSEED"));
    free(text);
    round_trip(p);
    viv_policy_free(p);
}

static void test_non_utf8_refused(void **state)
{
    viv_policy *p = NULL;
    assert_int_equal(viv_policy_new(&p, NULL), VIV_OK);
    assert_int_equal(viv_policy_set_env(p, "BAD", "\xff\xfe", NULL), VIV_OK);
    char *text = (char *)"unchanged";
    viv_error err = {0};
    assert_int_equal(viv_policy_to_toml(p, &text, NULL, &err), VIV_EINVAL);
    assert_null(text);
    assert_string_equal(err.field, "env");
    viv_policy_free(p);
}

static void test_null_arguments(void **state)
{
    char *text = NULL;
    viv_error err = {0};
    assert_int_equal(viv_policy_to_toml(NULL, &text, NULL, &err), VIV_EINVAL);
    viv_policy *p = NULL;
    assert_int_equal(viv_policy_new(&p, NULL), VIV_OK);
    assert_int_equal(viv_policy_to_toml(p, NULL, NULL, &err), VIV_EINVAL);
    viv_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_round_trip),
        cmocka_unit_test(test_every_field_round_trips),
        cmocka_unit_test(test_whole_timeouts),
        cmocka_unit_test(test_cleared_env_stays_cleared),
        cmocka_unit_test(test_non_utf8_refused),
        cmocka_unit_test(test_null_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
