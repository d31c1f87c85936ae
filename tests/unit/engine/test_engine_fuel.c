/*
 * tests/unit/engine: fuel. The charge for a known loop matches the metering
 * rules exactly, is deterministic and affine in the iteration count; a budget
 * that is too small ends the run as out of fuel with the whole budget spent,
 * and an infinite loop cannot escape it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine_test_util.h"

/* See wat/fuel_loop.wat for the derivation. */
static int64_t loop_cost(uint32_t n) { return 9 * (int64_t)n + 7; }

static et_result fuel_loop(uint32_t n, int64_t budget)
{
    et_run r = {.artifact = "fuel_loop.so", .limits = et_default_limits()};
    r.limits.fuel = budget;
    r.params[0] = n;
    r.timeout_s = 30;
    et_result res;
    et_execute(&r, &res);
    return res;
}

static int64_t consumed(uint32_t n)
{
    et_result res = fuel_loop(n, 1000000000);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_RETURNED, NULL);
    return res.rep.out.fuel_consumed;
}

static void test_charge_matches_the_metering_rules(void **state)
{
    (void)state;
    static const uint32_t ns[] = {0, 1, 2, 1000, 123457};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        int64_t c = consumed(ns[i]);
        if (c != loop_cost(ns[i])) {
            fail_msg("%u iterations consumed %lld fuel, expected %lld", ns[i], (long long)c,
                     (long long)loop_cost(ns[i]));
        }
    }
}

static void test_charge_is_affine_and_deterministic(void **state)
{
    (void)state;
    int64_t c1 = consumed(1000), c2 = consumed(2000), c3 = consumed(3000);
    assert_int_equal(c2 - c1, c3 - c2);
    assert_true(c2 > c1);
    assert_int_equal(consumed(1000), c1);
    assert_int_equal(consumed(2000), c2);
}

static void test_small_budget_runs_out(void **state)
{
    (void)state;
    et_result res = fuel_loop(1000, 5000);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_OUT_OF_FUEL, NULL);
    assert_int_equal(res.rep.out.fuel_consumed, 5000);
    assert_non_null(strstr(res.rep.out.message, "5000"));
}

/* The exact cost suffices; one unit less does not (the last charge is the
 * loop header's, which is checked). */
static void test_budget_boundary(void **state)
{
    (void)state;
    int64_t need = loop_cost(1000);
    et_result res = fuel_loop(1000, need);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_RETURNED, NULL);
    assert_int_equal(res.rep.out.fuel_consumed, need);

    res = fuel_loop(1000, need - 1);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_OUT_OF_FUEL, NULL);
    assert_int_equal(res.rep.out.fuel_consumed, need - 1);

    /* A budget of 1 does not even pay for the entry segment. */
    res = fuel_loop(1000, 1);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_OUT_OF_FUEL, NULL);
    assert_int_equal(res.rep.out.fuel_consumed, 1);
    assert_int_equal(res.rep.import_calls, 0);
}

static void test_infinite_loop_runs_out(void **state)
{
    (void)state;
    /* host.wat mode 6 is (loop (br 0)); mode 7 also stores to memory. */
    for (uint32_t mode = 6; mode <= 7; mode++) {
        et_run r = {.artifact = "host.so", .limits = et_default_limits()};
        r.params[0] = mode;
        r.limits.fuel = 1000000;
        r.timeout_s = 20;
        et_result res;
        et_execute(&r, &res);
        et_assert_completed(&res, VIV_ENGINE_OK);
        et_assert_end(&res, VIV_END_OUT_OF_FUEL, "fuel budget of 1000000 exhausted");
        assert_int_equal(res.rep.out.fuel_consumed, 1000000);
        assert_int_equal(res.rep.nnotes, 0);
        assert_true(res.rep.run_seconds < 5.0);
    }
}

/* A trap is not out of fuel even though the metering check and a genuine
 * `unreachable` end the same way; the fuel counted is spent, not the budget,
 * and the same run counts the same. */
static void test_trap_reports_fuel_spent(void **state)
{
    (void)state;
    et_run r = {.artifact = "traps.so", .limits = et_default_limits()};
    r.params[0] = 9; /* unreachable */
    et_result res;
    et_execute(&r, &res);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_TRAP, "unreachable executed");
    int64_t spent = res.rep.out.fuel_consumed;
    assert_true(spent > 0);
    assert_true(spent < 1000);

    et_execute(&r, &res);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_TRAP, "unreachable executed");
    assert_int_equal(res.rep.out.fuel_consumed, spent);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_charge_matches_the_metering_rules),
        cmocka_unit_test(test_charge_is_affine_and_deterministic),
        cmocka_unit_test(test_small_budget_runs_out),
        cmocka_unit_test(test_budget_boundary),
        cmocka_unit_test(test_infinite_loop_runs_out),
        cmocka_unit_test(test_trap_reports_fuel_spent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
