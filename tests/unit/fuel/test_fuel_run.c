/*
 * tests/unit/fuel: behaviour of instrumented modules under wabt's tools.
 * wasm-validate must accept every output; wasm-interp must give the same
 * results metered and unmetered, trap with `unreachable` when fuel runs out
 * or the interrupt global is set, consume exactly the fuel computed by hand
 * in wat/accounting.wat and wat/exits.wat, and leave the fuel global exact
 * wherever fuel pass v2 promises it (fuel_pass.h).
 *
 * wasm-interp cannot write the globals before a call, so budgets (and the
 * interrupt) are set through their initial values (viv_fuel_instrument_opts).
 * What the fuel global holds at a trap is read from wasm-interp's --trace,
 * which prints the value of every global.set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

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

/* Runs `path` metered with --trace; the trace is the returned string. */
static char *trace_metered(const char *path, int64_t budget, int32_t interrupt)
{
    const char *metered = t_tmp_path("traced.wasm");
    t_instrument_file_interrupted(path, metered, budget, interrupt);
    const char *argv[] = {WASM_INTERP, "--run-all-exports", "--trace", metered, NULL};
    char *out;
    int rc = t_run(argv, &out);
    if (rc != 0)
        fail_msg("wasm-interp --trace %s exited %d:\n%s", metered, rc, out);
    return out;
}

/* The value of the last `global.set $<global>` in a trace (printed unsigned). */
static int64_t last_global_set(const char *trace, unsigned global)
{
    char needle[32];
    (void)snprintf(needle, sizeof needle, "| global.set $%u, ", global);
    const char *last = NULL;
    for (const char *p = strstr(trace, needle); p; p = strstr(p + 1, needle))
        last = p;
    if (!last) {
        fail_msg("no \"%s\" in the trace", needle);
        return 0;
    }
    return (int64_t)strtoull(last + strlen(needle), NULL, 10);
}

/*
 * True if the trace executes `unreachable` once, right after a global.set:
 * the trap of a check, which stores $f into $fuel first.
 */
static bool trapped_in_check(const char *trace)
{
    const char *u = strstr(trace, "| unreachable\n");
    if (!u || strstr(u + 1, "| unreachable\n"))
        return false;
    const char *line = u;
    while (line > trace && line[-1] != '\n')
        line--;
    if (line == trace)
        return false;
    const char *prev = line - 1;
    while (prev > trace && prev[-1] != '\n')
        prev--;
    const char *bar = strstr(prev, "| ");
    return bar && bar < line && strncmp(bar, "| global.set $", 14) == 0;
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
    assert_non_null(strstr(src, "vivarium_interrupt"));
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
 * Totals from the comments in wat/exits.wat. Each line is exact only if the
 * callee left the fuel global exact on the way out it took (return, br or
 * br_if or br_table to the function label, fallthrough, through calls and a
 * loop), and, after a call, only if $f is reloaded before a br_if or
 * br_table that could leave but does not. The budgets check the running
 * total as in accounting.
 */
static void test_exits_keep_global_exact(void **state)
{
    static const char lines[] = "return_taken() => i64:11, i32:11\n"
                                "return_fallthrough() => i64:10, i32:12\n"
                                "br_taken() => i64:11, i32:21\n"
                                "br_fallthrough() => i64:10, i32:22\n"
                                "br_if_taken() => i64:10, i32:31\n"
                                "br_if_fallthrough() => i64:11, i32:32\n"
                                "br_table_inner() => i64:12, i32:42\n"
                                "br_table_out() => i64:10, i32:41\n"
                                "nested() => i64:25, i32:74\n"
                                "count() => i64:59, i32:93\n"
                                "call_br_if_stays() => i64:16, i32:52\n"
                                "call_br_table_stays() => i64:16, i32:62\n";
    char want[1024];
    (void)snprintf(want, sizeof want, "%sz_probe() =>\n", lines);
    expect_output(WASM("exits"), 201, want);
    expect_output(WASM("exits"), INT64_C(1) << 40, want);
    (void)snprintf(want, sizeof want, "%sz_probe() => " OUT_OF_FUEL "\n", lines);
    expect_output(WASM("exits"), 200, want);
}

/* An out-of-fuel trap leaves the exact overdrawn value in the global. */
static void test_overdrawn_value(void **state)
{
    /* The header charges 1 per round: 1000 rounds, then -1. */
    char *t = trace_metered(WASM("spin_loop"), 1000, 0);
    assert_true(trapped_in_check(t));
    assert_int_equal(last_global_set(t, 0), -1);
    free(t);
    /* The wrapper costs 2, each recursion 4: 98 = 24 * 4 + 2, so -2. */
    t = trace_metered(WASM("recurse"), 100, 0);
    assert_true(trapped_in_check(t));
    assert_int_equal(last_global_set(t, 0), -2);
    free(t);
    /* One short of accounting's total: the probe's entry check sees -1. */
    t = trace_metered(WASM("accounting"), 281, 0);
    assert_true(trapped_in_check(t));
    assert_int_equal(last_global_set(t, 0), -1);
    free(t);
}

/*
 * The interrupt global stops a guest that has fuel to spare, at the first
 * check it reaches: the value stored before the trap says which check.
 */
static void test_interrupt(void **state)
{
    const int64_t plenty = INT64_C(1) << 40;
    /* Interrupted from the start: the entry check (cost 0 so far) traps and
     * the loop never goes round. */
    char *t = trace_metered(WASM("spin_loop"), plenty, 1);
    assert_true(trapped_in_check(t));
    assert_int_equal(last_global_set(t, 0), plenty);
    assert_null(strstr(t, "| br @"));
    assert_non_null(strstr(t, "spin() => " OUT_OF_FUEL "\n"));
    free(t);

    /* Interrupted after the entry check: the loop header's check traps
     * (entry 2 + header 1) before the first back edge. */
    t = trace_metered(WASM("interrupt"), plenty, 0);
    assert_true(trapped_in_check(t));
    assert_int_equal(last_global_set(t, 0), plenty - 3);
    assert_null(strstr(t, "| br @"));
    assert_non_null(strstr(t, "spin_interrupted() => " OUT_OF_FUEL "\n"));
    free(t);

    /* Every function checks it on entry, and it stays set. */
    const char *metered = t_tmp_path("interrupted.wasm");
    t_instrument_file_interrupted(WASM("behaviour"), metered, plenty, 1);
    char *got = interp(metered);
    size_t exports = 0;
    for (const char *p = got; (p = strstr(p, "() => ")) != NULL; p++) {
        exports++;
        assert_int_equal(strncmp(p + 6, OUT_OF_FUEL "\n", strlen(OUT_OF_FUEL) + 1), 0);
    }
    assert_int_equal(exports, 13);
    free(got);
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
        cmocka_unit_test(test_exits_keep_global_exact),
        cmocka_unit_test(test_overdrawn_value),
        cmocka_unit_test(test_interrupt),
        cmocka_unit_test(test_infinite_loop_runs_out),
        cmocka_unit_test(test_recursion_runs_out),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
