/*
 * tests/unit/engine: a fault in host code during a run is a host bug, not a
 * guest trap. The engine's fault handler must let it kill the process with
 * the real signal, so the parent sees WIFSIGNALED rather than a TRAP outcome.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "engine_test_util.h"

static void expect_killed_by_sigsegv(uint32_t mode)
{
    et_run r = {.artifact = "host.so", .limits = et_default_limits()};
    r.params[0] = mode;
    r.timeout_s = 30;
    et_result res;
    et_execute(&r, &res);
    assert_false(res.timed_out);
    const et_report *rep = &res.rep;
    if (!WIFSIGNALED(res.wait_status)) {
        fail_msg("the child was not killed by a signal (exit status %d; run_returned=%d, "
                 "end %d: \"%s\")",
                 WIFEXITED(res.wait_status) ? WEXITSTATUS(res.wait_status) : -1, rep->run_returned,
                 (int)rep->out.end, rep->out.message);
    }
    assert_int_equal(WTERMSIG(res.wait_status), SIGSEGV);
    assert_true(rep->run_called);
    assert_false(rep->run_returned);
    /* It died in the import, which the guest reached. */
    assert_int_equal(rep->import_calls, 2); /* param(0), then the faulting import */
    assert_int_equal(rep->nnotes, 0);
}

static void test_null_dereference_in_import(void **state)
{
    (void)state;
    expect_killed_by_sigsegv(4);
}

static void test_protected_page_read_in_import(void **state)
{
    (void)state;
    expect_killed_by_sigsegv(5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_dereference_in_import),
        cmocka_unit_test(test_protected_page_read_in_import),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
