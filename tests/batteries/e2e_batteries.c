/*
 * e2e_batteries.c: the batteries through the CLI, as an agent sees them.
 * Every package does real work in the guest (smoke.py), vivarium_utils is
 * exercised in the guest (utils_test.py), the guidance in the result names
 * the available packages, suggests a fuel budget and explains mounts, and a
 * guest without a batteries tree (or a policy that takes its paths) still
 * runs and says why it has no packages.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_harness.h"

/* Large enough for every package on the -O0 guest (sympy alone is ~7.3e9). */
#define BIG_FUEL "200000000000"

static json_t *meta(json_t *j, const char *key)
{
    json_t *m = json_object_get(json_object_get(j, "metadata"), key);
    if (m == NULL) {
        fail_msg("metadata.%s is missing", key);
    }
    return m;
}

static bool array_has(json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) {
            return true;
        }
    }
    return false;
}

static void expect_guest_tests_pass(e2e_run *r, int want_passed)
{
    char want[64];
    snprintf(want, sizeof want, "%d passed, 0 failed", want_passed);
    if (!e2e_ends_with(r->out, r->out_len, want)) {
        fail_msg("guest tests: wanted \"%s\"\nstdout:\n%s\nstderr:\n%s", want, r->out, r->err);
    }
    e2e_expect_exit(r, 0);
}

static void test_every_package_works(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--fuel", BIG_FUEL, "--timeout", "600", VIV_BATTERIES_TESTS "/smoke.py");
    expect_guest_tests_pass(&r, 24);
    e2e_run_free(&r);
}

static void test_manifest_in_metadata(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "-c", "print(1)");
    e2e_expect_exit(&r, 0);
    json_t *b = meta(e2e_json(&r), "batteries");
    assert_true(e2e_jbool(b, "available"));
    assert_string_equal(e2e_jstr(b, "path"), "/usr/local/lib/python3.12/site-packages");
    static const char *const want[] = {
        "openpyxl",       "et_xmlfile", "xlsxwriter", "pypdf",    "odf",   "tabulate", "jinja2",
        "markupsafe",     "markdown",   "dateutil",   "six",      "attr",  "tomli",    "defusedxml",
        "yaml",           "bs4",        "html5lib",   "networkx", "sympy", "mpmath",   "pytz",
        "vivarium_utils",
    };
    json_t *pk = json_object_get(b, "packages");
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        if (!array_has(pk, want[i])) {
            fail_msg("metadata.batteries.packages lacks %s", want[i]);
        }
    }
    e2e_run_free(&r);
}

/* The acceptance runs. The default budget (5e9) holds jinja2 and
 * the first import line; sympy's import alone needs ~7.3e9 on this guest,
 * so that line gets an explicit budget. */
static void test_acceptance_runs(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "-c",
            "import jinja2\n"
            "print(jinja2.Template('Hello {{ who }}!').render(who='world'))\n");
    e2e_expect_exit(&r, 0);
    json_t *j = e2e_json(&r);
    assert_string_equal(e2e_jstr(j, "stdout"), "Hello world!\n");
    print_message("import jinja2 + render, cold: %lld fuel, %.0f ms\n",
                  (long long)e2e_jint(j, "fuel_consumed"),
                  json_real_value(json_object_get(j, "duration_ms")));
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--fuel", "30000000000", "-c",
            "import sympy\nprint(sympy.integrate(sympy.Symbol('x')**2))");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "x**3/3\n");
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--fuel", BIG_FUEL, "--timeout", "300", "-c",
            "import openpyxl, jinja2, yaml, sympy, networkx, bs4, tabulate, dateutil, pypdf, "
            "markdown\nprint('imported')");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "imported\n");
    e2e_run_free(&r);
}

static void test_missing_module_names_packages(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "-c", "import pandas");
    e2e_expect_exit(&r, 1);
    json_t *j = e2e_json(&r);
    assert_false(e2e_jbool(j, "success"));
    json_t *h = meta(j, "hint");
    assert_string_equal(e2e_jstr(h, "type"), "module_not_found");
    assert_string_equal(e2e_jstr(h, "module"), "pandas");
    json_t *avail = json_object_get(h, "available_packages");
    assert_true(array_has(avail, "jinja2") && array_has(avail, "sympy") &&
                array_has(avail, "yaml"));
    assert_true(json_array_size(json_object_get(h, "steps")) > 0);
    e2e_run_free(&r);

    /* A module that prints the same words but exits cleanly gets no hint. */
    E2E_RUN(&r, "run", "--json", "-c",
            "import sys; sys.stderr.write(\"ModuleNotFoundError: No module named 'x'\\n\")");
    e2e_expect_exit(&r, 0);
    assert_null(json_object_get(json_object_get(e2e_json(&r), "metadata"), "hint"));
    e2e_run_free(&r);
}

static void test_out_of_fuel_suggests_budget(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "--fuel", "400000000", "-c", "import sympy");
    e2e_expect_exit(&r, 126);
    json_t *j = e2e_json(&r);
    assert_string_equal(e2e_jstr(j, "trap_reason"), "out_of_fuel");
    json_t *f = meta(j, "fuel");
    assert_string_equal(e2e_jstr(f, "status"), "exhausted");
    assert_int_equal(e2e_jint(f, "suggested_budget"), 800000000);
    json_t *h = meta(j, "hint");
    assert_string_equal(e2e_jstr(h, "type"), "out_of_fuel");
    assert_int_equal(e2e_jint(h, "suggested_budget"), 800000000);
    e2e_run_free(&r);

    /* A run that finished near its budget gets a measured suggestion. */
    E2E_RUN(&r, "run", "--json", "--fuel", "270000000", "-c", "pass");
    e2e_expect_exit(&r, 0);
    j = e2e_json(&r);
    f = meta(j, "fuel");
    int64_t used = e2e_jint(j, "fuel_consumed");
    double u = (double)used / 270000000.0;
    const char *want = u < 0.5    ? "efficient"
                       : u < 0.75 ? "moderate"
                       : u < 0.9  ? "warning"
                                  : "critical";
    assert_string_equal(e2e_jstr(f, "status"), want);
    if (u >= 0.75) {
        assert_string_equal(e2e_jstr(f, "suggestion_basis"), "measured");
        assert_true(e2e_jint(f, "suggested_budget") >= 2 * used);
    }
    e2e_run_free(&r);
}

static void test_mount_hints(void **state)
{
    char *tmp = *state;
    char data[PATH_MAX], csv[PATH_MAX];
    e2e_path(data, tmp, "data");
    assert_int_equal(mkdir(data, 0755), 0);
    e2e_path(csv, data, "in.csv");
    e2e_write(csv, "a\n");
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "--data", data, "-c", "open('/data/out.csv', 'w')");
    e2e_expect_exit(&r, 1);
    json_t *h = meta(e2e_json(&r), "hint");
    assert_string_equal(e2e_jstr(h, "type"), "read_only_mount");
    assert_string_equal(e2e_jstr(h, "example"), "open('/app/out.csv', 'w')");
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--json", "-c", "open('/home/user/in.csv')");
    e2e_expect_exit(&r, 1);
    h = meta(e2e_json(&r), "hint");
    assert_string_equal(e2e_jstr(h, "type"), "path_outside_mounts");
    assert_string_equal(e2e_jstr(h, "path"), "/home/user/in.csv");
    e2e_run_free(&r);
}

static void test_vivarium_utils_in_guest(void **state)
{
    char *tmp = *state;
    char ws[PATH_MAX], data[PATH_MAX], csv[PATH_MAX];
    e2e_path(ws, tmp, "ws");
    e2e_path(data, tmp, "data");
    assert_int_equal(mkdir(ws, 0755), 0);
    assert_int_equal(mkdir(data, 0755), 0);
    e2e_path(csv, data, "in.csv");
    e2e_write(csv, "name,qty\napple,3\n\"pear, green\",10\n");
    e2e_run r;
    E2E_RUN(&r, "run", "--workspace", ws, "--data", data, "--fuel", "50000000000",
            VIV_BATTERIES_TESTS "/utils_test.py");
    expect_guest_tests_pass(&r, 10);
    e2e_run_free(&r);
}

/* A guest module with no tree beside it: runs work, without packages. */
static void test_without_batteries(void **state)
{
    char *tmp = *state;
    char wasm[PATH_MAX], real[PATH_MAX];
    e2e_path(wasm, tmp, "python.wasm");
    snprintf(real, sizeof real, "%s", VIV_GUEST_WASM);
    assert_int_equal(symlink(real, wasm), 0);
    /* The compiled artifact is found beside the module, as installed. */
    char so[PATH_MAX], real_so[PATH_MAX];
    e2e_path(so, tmp, "python.so");
    snprintf(real_so, sizeof real_so, "%s", VIV_GUEST_DIR "/python.so");
    assert_int_equal(symlink(real_so, so), 0);
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "--wasm", wasm, "-c", "import yaml");
    e2e_expect_exit(&r, 1);
    json_t *j = e2e_json(&r);
    json_t *b = meta(j, "batteries");
    assert_false(e2e_jbool(b, "available"));
    e2e_expect_in("reason", e2e_jstr(b, "reason"), "no batteries tree");
    json_t *h = meta(j, "hint");
    assert_string_equal(e2e_jstr(h, "type"), "module_not_found");
    assert_int_equal(json_array_size(json_object_get(h, "available_packages")), 0);
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--wasm", wasm, "-c", "print(6*7)");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "42\n");
    e2e_run_free(&r);
}

/* A policy that mounts its own directory at a batteries path wins. */
static void test_policy_mount_wins(void **state)
{
    char *tmp = *state;
    char mine[PATH_MAX], spec[PATH_MAX + 64];
    e2e_path(mine, tmp, "zones");
    assert_int_equal(mkdir(mine, 0755), 0);
    snprintf(spec, sizeof spec, "%s:/usr/share/zoneinfo", mine);
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "--mount", spec, "-c",
            "import os; print(os.listdir('/usr/share/zoneinfo'))");
    e2e_expect_exit(&r, 0);
    json_t *j = e2e_json(&r);
    assert_string_equal(e2e_jstr(j, "stdout"), "[]\n");
    json_t *b = meta(j, "batteries");
    assert_false(e2e_jbool(b, "available"));
    e2e_expect_in("reason", e2e_jstr(b, "reason"), "collides");
    e2e_run_free(&r);
}

int main(void)
{
    if (access(VIV_GUEST_DIR "/batteries/COMPLETE", R_OK) != 0) {
        fprintf(stderr,
                "no batteries tree at %s/batteries: build it with "
                "guest/batteries/build.sh (tools/bootstrap does)\n",
                VIV_GUEST_DIR);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_in_metadata),
        cmocka_unit_test(test_missing_module_names_packages),
        cmocka_unit_test(test_out_of_fuel_suggests_budget),
        cmocka_unit_test_setup_teardown(test_mount_hints, e2e_setup_tmp, e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_vivarium_utils_in_guest, e2e_setup_tmp,
                                        e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_without_batteries, e2e_setup_tmp, e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_policy_mount_wins, e2e_setup_tmp, e2e_teardown_tmp),
        cmocka_unit_test(test_acceptance_runs),
        cmocka_unit_test(test_every_package_works),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
