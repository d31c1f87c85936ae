/*
 * e2e_batteries.c: the batteries through the CLI, as an agent sees them.
 * Every package does real work in the guest (smoke.py), vivarium_utils is
 * exercised in the guest (utils_test.py), the guidance in the result names
 * the available packages, suggests a fuel budget and explains mounts, and a
 * guest without a batteries tree (or a policy that takes its paths) still
 * runs and says why it has no packages.
 *
 * It runs against whichever guest the CLI picks ($VIVARIUM_GUEST, else the
 * default): the guest says which it is (its cache tag and site-packages),
 * and the acceptance is checked where it is promised, on our own
 * CPython 3.11 guest: the import line and sympy under the default policy,
 * and a cold `import jinja2` under 500 million fuel.
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

/* Large enough for every package on the -O0 npm guest (sympy alone is
 * ~7.3e9 there). */
#define BIG_FUEL "200000000000"

/* The guest under test, as it describes itself (see main). */
static struct {
    char cache_tag[32]; /* sys.implementation.cache_tag */
    char site[256];     /* sysconfig purelib: where the packages belong */
    char dir[PATH_MAX]; /* its directory on the host (module, artifact) */
    bool ours;          /* our own CPython 3.11 (guest/cpython) */
} guest;

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
    /* Mounted at the guest's own purelib, which its `site` puts on sys.path. */
    assert_string_equal(e2e_jstr(b, "path"), guest.site);
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

/* The acceptance runs. On our own guest every one of them runs
 * under the default policy (10e9 fuel); the -O0 npm guest needs ~15e9 for the
 * import line and ~7.3e9 for sympy, so there they get explicit budgets. */
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
    e2e_run_free(&r);

    /* Fuel is deterministic: one cold run is the measurement. */
    E2E_RUN(&r, "run", "--json", "-c", "import jinja2");
    e2e_expect_exit(&r, 0);
    j = e2e_json(&r);
    int64_t jinja = e2e_jint(j, "fuel_consumed");
    /* The promise is for a cold run: a warm one does not count start-up. */
    bool warm = e2e_jbool(json_object_get(j, "metadata"), "warm");
    print_message("%s: import jinja2, %s: %lld fuel\n", guest.cache_tag, warm ? "warm" : "cold",
                  (long long)jinja);
    if (guest.ours && !warm) {
        if (jinja >= 500000000) {
            fail_msg("import jinja2 cost %lld fuel cold on our guest; the promise is < 5e8",
                     (long long)jinja);
        }
    }
    e2e_run_free(&r);

    if (guest.ours) {
        E2E_RUN(&r, "run", "-c", "import sympy\nprint(sympy.integrate(sympy.Symbol('x')**2))");
    } else {
        E2E_RUN(&r, "run", "--fuel", "30000000000", "-c",
                "import sympy\nprint(sympy.integrate(sympy.Symbol('x')**2))");
    }
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "x**3/3\n");
    e2e_run_free(&r);

    static const char line[] = "import openpyxl, jinja2, yaml, sympy, networkx, bs4, tabulate, "
                               "dateutil, pypdf, markdown\nprint('imported')";
    if (guest.ours) {
        E2E_RUN(&r, "run", "--json", "-c", line);
    } else {
        E2E_RUN(&r, "run", "--json", "--fuel", BIG_FUEL, "--timeout", "300", "-c", line);
    }
    j = e2e_json(&r);
    print_message("%s: the import line: %lld fuel (budget %lld)\n", guest.cache_tag,
                  (long long)e2e_jint(j, "fuel_consumed"), (long long)e2e_jint(j, "fuel_budget"));
    if (!e2e_jbool(j, "success")) {
        fail_msg("the import line failed: trap %s\nstderr:\n%s",
                 json_string_value(json_object_get(j, "trap_reason")), e2e_jstr(j, "stderr"));
    }
    assert_string_equal(e2e_jstr(j, "stdout"), "imported\n");
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

    /* A run that finished near its budget gets a measured suggestion. The
     * guests differ in what an empty program costs, so the budget is set
     * from a first run (fuel is deterministic) to land at ~88%. */
    E2E_RUN(&r, "run", "--json", "-c", "pass");
    e2e_expect_exit(&r, 0);
    int64_t pass_fuel = e2e_jint(e2e_json(&r), "fuel_consumed");
    e2e_run_free(&r);
    char budget[32];
    int64_t b = pass_fuel * 100 / 88;
    snprintf(budget, sizeof budget, "%lld", (long long)b);
    E2E_RUN(&r, "run", "--json", "--fuel", budget, "-c", "pass");
    e2e_expect_exit(&r, 0);
    j = e2e_json(&r);
    f = meta(j, "fuel");
    int64_t used = e2e_jint(j, "fuel_consumed");
    assert_int_equal(used, pass_fuel);
    double u = (double)used / (double)b;
    assert_true(u >= 0.75 && u < 0.9);
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

/* A guest module with no tree beside it: runs work, without packages. The
 * guest's other files (artifact; descriptor and stdlib for ours) are linked
 * beside it, as installed. */
static void test_without_batteries(void **state)
{
    char *tmp = *state;
    static const char *const files[] = {"python.wasm", "python.so", "python.guest", "lib"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char real[PATH_MAX + 64], link[PATH_MAX];
        snprintf(real, sizeof real, "%s/%s", guest.dir, files[i]);
        e2e_path(link, tmp, files[i]);
        if (access(real, F_OK) == 0) {
            assert_int_equal(symlink(real, link), 0);
        }
    }
    char wasm[PATH_MAX];
    e2e_path(wasm, tmp, "python.wasm");
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

/* Asks the guest the CLI picks which it is, and finds its directory on the
 * host: the npm guest is build/guest/, ours build/guest/python3.11/. */
static int identify_guest(void)
{
    e2e_run r;
    const char *const argv[] = {
        "run", "--json", "-c",
        "import sys, sysconfig\n"
        "print(sys.implementation.cache_tag, sysconfig.get_paths()['purelib'])",
        NULL};
    memset(&r, 0, sizeof r);
    e2e_exec(&r, NULL, argv);
    json_t *j = r.exit_code == 0 ? e2e_json(&r) : NULL;
    const char *out = j ? json_string_value(json_object_get(j, "stdout")) : NULL;
    if (out == NULL || sscanf(out, "%31s %255s", guest.cache_tag, guest.site) != 2) {
        fprintf(stderr, "cannot ask the guest what it is (exit %d):\n%s%s\n", r.exit_code,
                r.out ? r.out : "", r.err ? r.err : "");
        e2e_run_free(&r);
        return -1;
    }
    e2e_run_free(&r);
    guest.ours = strcmp(guest.cache_tag, "cpython-311") == 0;
    snprintf(guest.dir, sizeof guest.dir, "%s", guest.ours ? VIV_OWN_GUEST_DIR : VIV_GUEST_DIR);
    return 0;
}

int main(void)
{
    if (identify_guest() != 0) {
        return 1;
    }
    char complete[PATH_MAX + 32];
    snprintf(complete, sizeof complete, "%s/batteries/COMPLETE", guest.dir);
    if (access(complete, R_OK) != 0) {
        fprintf(stderr,
                "no batteries tree at %s/batteries: build it with "
                "guest/batteries/build.sh (tools/bootstrap does)\n",
                guest.dir);
        return 1;
    }
    fprintf(stderr, "guest: %s (%s), packages at %s\n", guest.cache_tag, guest.dir, guest.site);
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
