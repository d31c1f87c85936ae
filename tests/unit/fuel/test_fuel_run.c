/*
 * tests/unit/fuel: behaviour of instrumented modules under wabt's tools.
 * wasm-validate must accept every output; wasm-interp must give the same
 * results metered and unmetered, trap with `unreachable` when fuel runs out,
 * and consume exactly the fuel computed by hand in wat/accounting.wat.
 *
 * wasm-interp cannot write the fuel global before a call, so budgets are set
 * through the global's initial value (viv_fuel_instrument_initial).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuel_pass.h"
#include "fuel_test_util.h"

#define WASM(name)  FUEL_TEST_WASM_DIR "/" name ".wasm"
#define OUT_OF_FUEL "error: unreachable executed"

static char *interp(const char *path)
{
    const char *argv[] = {WASM_INTERP, "--run-all-exports", path, NULL};
    char *out;
    int rc = t_run(argv, &out);
    if (rc != 0)
        fail_msg("wasm-interp %s exited %d:\n%s", path, rc, out);
    return out;
}

static char *interp_metered(const char *path, int64_t budget)
{
    const char *metered = t_tmp_path("metered.wasm");
    t_instrument_file(path, metered, budget);
    return interp(metered);
}

static void expect_output(const char *path, int64_t budget, const char *want)
{
    char *got = interp_metered(path, budget);
    if (strcmp(got, want) != 0)
        fail_msg("%s with budget %lld:\n--- got\n%s--- want\n%s", path, (long long)budget, got,
                 want);
    free(got);
}

static void validate(const char *path)
{
    const char *argv[] = {WASM_VALIDATE, path, NULL};
    char *out;
    int rc = t_run(argv, &out);
    if (rc != 0)
        fail_msg("wasm-validate %s:\n%s", path, out);
    free(out);
}

static void test_constructs_validate(void **state)
{
    const char *out = t_tmp_path("constructs.fuel.wasm");
    validate(WASM("constructs"));
    t_instrument_file(WASM("constructs"), out, 0);
    validate(out);
}

#ifdef WASM2C
/* wasm2c is what consumes the output in production. */
static void test_constructs_wasm2c(void **state)
{
    const char *in = t_tmp_path("constructs.fuel.wasm");
    const char *c = t_tmp_path("constructs.fuel.c");
    t_instrument_file(WASM("constructs"), in, 0);
    const char *argv[] = {WASM2C, in, "-o", c, NULL};
    char *out;
    int rc = t_run(argv, &out);
    if (rc != 0)
        fail_msg("wasm2c:\n%s", out);
    free(out);
    size_t len;
    char *src = (char *)t_read_file(c, &len);
    src[len] = '\0';
    assert_non_null(strstr(src, "vivarium_fuel"));
    free(src);
}
#endif

static void test_behaviour_unchanged(void **state)
{
    char *plain = interp(WASM("behaviour"));
    /* Sanity: the module really computes and traps as intended. */
    assert_non_null(strstr(plain, "fib() => i32:610\n"));
    assert_non_null(strstr(plain, "sieve() => i32:168\n"));
    assert_non_null(strstr(plain, "trap_unreachable() => error: unreachable executed\n"));
    assert_non_null(strstr(plain, "trap_div() => error: integer divide by zero\n"));
    char *metered = interp_metered(WASM("behaviour"), INT64_C(1) << 40);
    assert_string_equal(metered, plain);
    free(plain);
    free(metered);
}

/* The global starts at 0: the first charge makes it negative. */
static void test_fresh_module_has_no_fuel(void **state)
{
    char *got = interp_metered(WASM("behaviour"), 0);
    assert_true(strncmp(got, "fib() => " OUT_OF_FUEL "\n", strlen("fib() => " OUT_OF_FUEL)) == 0);
    free(got);
}

/*
 * Totals from the comments in wat/accounting.wat: a_sum 128, b_fib 134,
 * c_classify 20. A budget equal to the running total must just suffice; one
 * less must trap at that export's final probe.
 */
static void test_exact_accounting(void **state)
{
    expect_output(WASM("accounting"), 282,
                  "a_sum() => i32:55\nb_fib() => i32:5\nc_classify() => i32:60\n");
    expect_output(WASM("accounting"), 281,
                  "a_sum() => i32:55\nb_fib() => i32:5\nc_classify() => " OUT_OF_FUEL "\n");
    expect_output(WASM("accounting"), 262,
                  "a_sum() => i32:55\nb_fib() => i32:5\nc_classify() => " OUT_OF_FUEL "\n");
    expect_output(WASM("accounting"), 128,
                  "a_sum() => i32:55\nb_fib() => " OUT_OF_FUEL "\nc_classify() => " OUT_OF_FUEL
                  "\n");
    expect_output(WASM("accounting"), 127,
                  "a_sum() => " OUT_OF_FUEL "\nb_fib() => " OUT_OF_FUEL
                  "\nc_classify() => " OUT_OF_FUEL "\n");
    expect_output(WASM("accounting"), 1000000,
                  "a_sum() => i32:55\nb_fib() => i32:5\nc_classify() => i32:60\n");
}

/*
 * Runs `module` under budgets at each running total of its exports (which
 * run in order and share the fuel global) and one unit below: at a total the
 * exports so far succeed; one unit less and the last of them runs out, and
 * so does every export after it.
 */
static void expect_totals(const char *module, int n, const char *const names[],
                          const char *const results[], const int64_t totals[])
{
    char want[1024], line[128];
    want[0] = '\0';
    for (int i = 0; i < n; i++) {
        snprintf(line, sizeof line, "%s() => %s\n", names[i], results[i]);
        strcat(want, line);
    }
    char *plain = interp(module);
    assert_string_equal(plain, want);
    free(plain);
    expect_output(module, totals[n - 1] + 1000, want);
    for (int k = 0; k < n; k++) {
        for (int64_t budget = totals[k] - 1; budget <= totals[k]; budget++) {
            want[0] = '\0';
            for (int i = 0; i < n; i++) {
                bool ok = i < k || (i == k && budget == totals[k]);
                snprintf(line, sizeof line, "%s() => %s\n", names[i],
                         ok ? results[i] : OUT_OF_FUEL);
                strcat(want, line);
            }
            expect_output(module, budget, want);
        }
    }
}

/* wat/merging.wat: constructs paid for before they are entered, and not. */
static void test_merging_exact(void **state)
{
    static const char *const names[] = {"a_clamp", "b_abs", "c_count_down", "d_nested", "e_early"};
    static const char *const results[] = {"i32:150", "i32:8", "i32:4", "i32:6", "i32:15"};
    static const int64_t totals[] = {22, 42, 82, 102, 115};
    expect_totals(WASM("merging"), 5, names, results, totals);
}

/*
 * wat/refunds.wat: a_refunds costs exactly 64, z_gauge 60. The gauge pins
 * the total: with 124 it just succeeds, with 123 only it runs out (the
 * advance a_refunds pays before its exits is at most 6, well within 59).
 * Below 64 a_refunds itself cannot finish.
 */
static void test_refunds_exact(void **state)
{
    static const char ok[] = "a_refunds() => i32:23\nz_gauge() =>\n";
    char *plain = interp(WASM("refunds"));
    assert_string_equal(plain, ok);
    free(plain);
    expect_output(WASM("refunds"), 124, ok);
    expect_output(WASM("refunds"), 1000, ok);
    expect_output(WASM("refunds"), 123, "a_refunds() => i32:23\nz_gauge() => " OUT_OF_FUEL "\n");
    expect_output(WASM("refunds"), 63,
                  "a_refunds() => " OUT_OF_FUEL "\nz_gauge() => " OUT_OF_FUEL "\n");
}

/* wat/callsite.wat: entries paid by direct callers, not by call_indirect. */
static void test_callsite_exact(void **state)
{
    static const char *const names[] = {"a_direct", "b_indirect", "c_mixed", "d_chain"};
    static const char *const results[] = {"i32:8", "i32:18", "i32:3", "i32:5"};
    static const int64_t totals[] = {16, 30, 48, 58};
    expect_totals(WASM("callsite"), 4, names, results, totals);
}

static void test_infinite_loop_runs_out(void **state)
{
    expect_output(WASM("spin_loop"), 1000, "spin() => " OUT_OF_FUEL "\n");
    expect_output(WASM("spin_loop"), 3000000, "spin() => " OUT_OF_FUEL "\n");
    expect_output(WASM("spin_call"), 1000, "spin_call() => " OUT_OF_FUEL "\n");
}

static void test_recursion_runs_out(void **state)
{
    char *plain = interp(WASM("recurse"));
    assert_string_equal(plain, "recurse() => error: call stack exhausted\n");
    free(plain);
    expect_output(WASM("recurse"), 100, "recurse() => " OUT_OF_FUEL "\n");
}

static void test_cli(void **state)
{
    const char *out = t_tmp_path("cli.wasm");
    char *msg;
    const char *ok[] = {VIV_FUEL_CLI, WASM("constructs"), out, NULL};
    assert_int_equal(t_run(ok, &msg), 0);
    assert_non_null(strstr(msg, "11 functions"));
    free(msg);
    validate(out);

    const char *budget[] = {VIV_FUEL_CLI, "--initial", "500", WASM("spin_loop"), out, NULL};
    assert_int_equal(t_run(budget, NULL), 0);
    char *run = interp(out);
    assert_string_equal(run, "spin() => " OUT_OF_FUEL "\n");
    free(run);

    const char *garbage[] = {VIV_FUEL_CLI, FUEL_TEST_WAT_DIR "/spin_loop.wat", out, NULL};
    assert_int_equal(t_run(garbage, &msg), 1);
    assert_non_null(strstr(msg, "magic"));
    free(msg);

    const char *missing[] = {VIV_FUEL_CLI, FUEL_TEST_WAT_DIR "/no-such.wasm", out, NULL};
    assert_int_equal(t_run(missing, NULL), 1);

    const char *usage[] = {VIV_FUEL_CLI, WASM("constructs"), NULL};
    assert_int_equal(t_run(usage, &msg), 2);
    assert_non_null(strstr(msg, "usage"));
    free(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constructs_validate),
#ifdef WASM2C
        cmocka_unit_test(test_constructs_wasm2c),
#endif
        cmocka_unit_test(test_behaviour_unchanged),
        cmocka_unit_test(test_fresh_module_has_no_fuel),
        cmocka_unit_test(test_exact_accounting),
        cmocka_unit_test(test_merging_exact),
        cmocka_unit_test(test_callsite_exact),
        cmocka_unit_test(test_refunds_exact),
        cmocka_unit_test(test_infinite_loop_runs_out),
        cmocka_unit_test(test_recursion_runs_out),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
