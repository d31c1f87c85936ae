/*
 * tests/unit/sandbox/test_execution.c: executions through the public API
 * only, as a library user sees them: cancellation from another thread, and
 * a token triggered before the start.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vivarium.h"

static viv_sandbox *make_sandbox(double timeout_s)
{
    viv_error err = {0};
    viv_policy *p = NULL;
    viv_sandbox *sb = NULL;
    assert_int_equal(viv_policy_new(&p, &err), VIV_OK);
    assert_int_equal(viv_policy_set_timeout_seconds(p, timeout_s, &err), VIV_OK);
    assert_int_equal(viv_policy_set_fuel_budget(p, (int64_t)1e13, &err), VIV_OK);
    viv_status st = viv_sandbox_create(p, VIV_TEST_GUEST, &sb, &err);
    if (st != VIV_OK) {
        fail_msg("sandbox: %s", err.message);
    }
    viv_policy_free(p);
    return sb;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct trigger_later {
    viv_cancel *token;
    unsigned delay_ms;
};

static void *trigger_after_delay(void *arg)
{
    struct trigger_later *t = arg;
    usleep(t->delay_ms * 1000u);
    viv_cancel_trigger(t->token);
    return NULL;
}

static void test_cancel_stops_a_busy_loop(void **state)
{
    (void)state;
    viv_sandbox *sb = make_sandbox(20);
    viv_error err = {0};
    viv_cancel *token = NULL;
    assert_int_equal(viv_cancel_create(&token, &err), VIV_OK);
    assert_false(viv_cancel_triggered(token));
    struct trigger_later t = {token, 400};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, trigger_after_delay, &t), 0);
    static const char code[] = "print('started', flush=True)\nwhile True: pass\n";
    viv_exec_options eo = {.cancel = token};
    viv_result *r = NULL;
    double t0 = now_s();
    assert_int_equal(viv_sandbox_execute(sb, code, strlen(code), &eo, &r, &err), VIV_OK);
    double took = now_s() - t0;
    pthread_join(th, NULL);
    assert_true(viv_cancel_triggered(token));
    assert_int_equal(viv_result_trap_reason(r), VIV_TRAP_CANCELLED);
    assert_string_equal(viv_trap_reason_name(VIV_TRAP_CANCELLED), "cancelled");
    assert_false(viv_result_success(r));
    assert_true(viv_result_trapped(r));
    /* Output produced before the cancel is kept. */
    assert_non_null(strstr(viv_result_stdout(r, NULL), "started"));
    assert_non_null(strstr(viv_result_stderr(r, NULL), "Execution trapped: cancelled"));
    /* Well before the 20 s deadline: the cancel, not the timeout, stopped it. */
    assert_true(took < 3.0);
    viv_result_free(r);

    /* The token stays triggered until reset: the next run stops before it
     * starts, and prints nothing. */
    static const char hello[] = "print('should not run')\n";
    assert_int_equal(viv_sandbox_execute(sb, hello, strlen(hello), &eo, &r, &err), VIV_OK);
    assert_int_equal(viv_result_trap_reason(r), VIV_TRAP_CANCELLED);
    assert_null(strstr(viv_result_stdout(r, NULL), "should not run"));
    viv_result_free(r);

    viv_cancel_reset(token);
    assert_false(viv_cancel_triggered(token));
    assert_int_equal(viv_sandbox_execute(sb, hello, strlen(hello), &eo, &r, &err), VIV_OK);
    assert_true(viv_result_success(r));
    assert_string_equal(viv_result_stdout(r, NULL), "should not run\n");
    viv_result_free(r);
    viv_cancel_destroy(token);
    viv_sandbox_destroy(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_stops_a_busy_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
