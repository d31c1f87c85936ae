/*
 * tests/unit/engine: the wall-clock deadline. A spinning guest with fuel to
 * spare is stopped soon after limits.deadline_ns; an import can end the run
 * the same way with viv_engine_deadline_reached(); and a run that finishes
 * first leaves no timer behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "engine_test_util.h"

#define MSG_DEADLINE "wall-clock deadline reached"
#define HUGE_FUEL    ((int64_t)1000000000000000000)

#define SPIN       6 /* (loop (br 0)) */
#define SPIN_STORE 7 /* a loop that also stores to linear memory */

static et_run spin_run(uint32_t mode, int64_t deadline_in_ms)
{
    et_run r = {.artifact = "host.so", .limits = et_default_limits()};
    r.params[0] = mode;
    r.limits.fuel = HUGE_FUEL;
    r.deadline_in_ms = deadline_in_ms;
    r.timeout_s = 5;
    return r;
}

static void expect_stopped_at_deadline(uint32_t mode)
{
    et_run r = spin_run(mode, 200);
    et_result res;
    et_execute(&r, &res);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_TIMEOUT, MSG_DEADLINE);
    const et_report *rep = &res.rep;
    print_message("stopped after %.3f s, %lld fuel\n", rep->run_seconds,
                  (long long)rep->out.fuel_consumed);
    assert_true(rep->run_seconds >= 0.19);
    assert_true(rep->run_seconds < 1.0);
    /* Fuel is what the guest spent before the deadline, not the budget. */
    assert_true(rep->out.fuel_consumed > 0);
    assert_true(rep->out.fuel_consumed < HUGE_FUEL);
    assert_int_equal(rep->nnotes, 0);
}

/* The guest's loop touches memory, so its code cannot keep the fuel counter
 * in a register. */
static void test_deadline_stops_a_guest_spinning_on_memory(void **state)
{
    (void)state;
    expect_stopped_at_deadline(SPIN_STORE);
}

/* The tightest loop there is: nothing but the metering charge and check. A
 * hostile module can write it, and the deadline is the only thing that stops
 * it when the fuel budget is large. */
static void test_deadline_stops_a_tight_loop(void **state)
{
    (void)state;
    expect_stopped_at_deadline(SPIN);
}

static void test_deadline_already_past(void **state)
{
    (void)state;
    et_run r = spin_run(SPIN, -1);
    et_result res;
    et_execute(&r, &res);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_TIMEOUT, MSG_DEADLINE);
    assert_true(res.rep.run_seconds < 1.0);
}

/* The test host's poll_oneoff calls viv_engine_deadline_reached(). */
static void test_import_reports_deadline(void **state)
{
    (void)state;
    et_run r = {.artifact = "host.so", .limits = et_default_limits()};
    r.params[0] = 2;
    et_result res;
    et_execute(&r, &res);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_TIMEOUT, MSG_DEADLINE);
    /* The import did not return to the guest. */
    assert_int_equal(res.rep.nnotes, 0);
    assert_true(res.rep.out.fuel_consumed > 0);
    assert_true(res.rep.out.fuel_consumed < r.limits.fuel);
}

/* A guest that finishes before its deadline returns normally, and the timer
 * does not outlive the run: SIGALRM's default action would kill the child
 * while it lingers past the deadline. */
static void test_finished_run_leaves_no_timer(void **state)
{
    (void)state;
    et_run r = {.artifact = "host.so", .limits = et_default_limits()};
    r.params[0] = 0;
    r.deadline_in_ms = 100;
    r.linger_ms = 400;
    et_result res;
    et_execute(&r, &res);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_RETURNED, NULL);
    assert_int_equal(res.rep.nnotes, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline_stops_a_guest_spinning_on_memory),
        cmocka_unit_test(test_deadline_stops_a_tight_loop),
        cmocka_unit_test(test_deadline_already_past),
        cmocka_unit_test(test_import_reports_deadline),
        cmocka_unit_test(test_finished_run_leaves_no_timer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
