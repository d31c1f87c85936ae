/*
 * tests/unit/engine: how a run ends when nothing goes wrong: returning from
 * _start, proc_exit, output through an import, the WASI context and memory
 * reaching the imports, and runs that must be refused before the guest
 * starts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine_test_util.h"

static et_run host_run(uint32_t mode)
{
    et_run r = {.artifact = "host.so", .limits = et_default_limits()};
    r.params[0] = mode;
    return r;
}

static void assert_clean_host_calls(const et_report *rep)
{
    assert_int_equal(rep->unexpected_imports, 0);
    assert_int_equal(rep->ctx_mismatches, 0);
    assert_int_equal(rep->attach_calls, 1);
    assert_int_equal(rep->imports_before_attach, 0);
}

static void test_return_from_start(void **state)
{
    (void)state;
    et_run r = host_run(0);
    et_result res;
    et_execute(&r, &res);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_RETURNED, NULL);
    const et_report *rep = &res.rep;
    assert_int_equal(rep->out.exit_code, 0);
    assert_false(rep->proc_exit_called);
    /* The guest ran to its end. */
    assert_int_equal(rep->nnotes, 1);
    assert_int_equal(rep->notes[0].value, 1000);
    assert_true(rep->out.fuel_consumed > 0);
    assert_true(rep->out.fuel_consumed < r.limits.fuel);
    assert_int_equal(rep->out.memory_pages, 1);
    assert_false(rep->out.memory_cap_hit);
    assert_clean_host_calls(rep);
}

static void test_proc_exit_zero_is_a_return(void **state)
{
    (void)state;
    et_run r = host_run(1);
    r.params[1] = 0;
    et_result res;
    et_execute(&r, &res);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_RETURNED, NULL);
    assert_int_equal(res.rep.out.exit_code, 0);
    assert_true(res.rep.proc_exit_called);
    /* proc_exit does not return to the guest. */
    assert_int_equal(res.rep.nnotes, 0);
    assert_clean_host_calls(&res.rep);
}

static void test_proc_exit_code(void **state)
{
    (void)state;
    static const uint32_t codes[] = {7, 1, 255, 0x12345678u};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        et_run r = host_run(1);
        r.params[1] = codes[i];
        et_result res;
        et_execute(&r, &res);
        et_assert_completed(&res, VIV_ENGINE_OK);
        et_assert_end(&res, VIV_END_EXIT, NULL);
        assert_int_equal(res.rep.out.exit_code, codes[i]);
        assert_int_equal(res.rep.nnotes, 0);
        assert_true(res.rep.out.fuel_consumed > 0);
        assert_clean_host_calls(&res.rep);
    }
}

/* fd_write reads the iovecs and bytes through the attached memory and stores
 * nwritten back; the guest exits with what it read back. */
static void test_output_through_an_import(void **state)
{
    (void)state;
    et_run r = host_run(3);
    et_result res;
    et_execute(&r, &res);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_EXIT, NULL);
    assert_int_equal(res.rep.out.exit_code, 12);
    assert_int_equal(res.rep.nwritten, 12);
    assert_memory_equal(res.rep.written, "hello, host\n", 12);
    assert_clean_host_calls(&res.rep);
}

static void test_nonpositive_fuel_is_refused(void **state)
{
    (void)state;
    static const int64_t budgets[] = {0, -1, INT64_MIN};
    for (size_t i = 0; i < sizeof budgets / sizeof *budgets; i++) {
        et_run r = host_run(0);
        r.limits.fuel = budgets[i];
        et_result res;
        et_execute(&r, &res);
        et_assert_completed(&res, VIV_ENGINE_EINVALID);
        et_assert_end(&res, VIV_END_HOST_ERROR, NULL);
        assert_non_null(strstr(res.rep.out.message, "fuel"));
        assert_int_equal(res.rep.import_calls, 0);
        assert_int_equal(res.rep.attach_calls, 0);
    }
}

/* A wasm start function runs at instantiation, before the engine has set the
 * fuel budget and attached memory. The engine must either run it under the
 * budget, so that _start sees its effect, or refuse the module saying why;
 * blaming the guest for an `unreachable` it does not contain is neither. */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_return_from_start),
        cmocka_unit_test(test_proc_exit_zero_is_a_return),
        cmocka_unit_test(test_proc_exit_code),
        cmocka_unit_test(test_output_through_an_import),
        cmocka_unit_test(test_nonpositive_fuel_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
