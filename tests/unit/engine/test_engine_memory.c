/*
 * tests/unit/engine: linear memory under the policy's cap, the module's own
 * maximum, and what attach_memory hands the WASI layer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine_test_util.h"

#define PAGE ((uint64_t)VIV_WASM_PAGE)

static et_result grow_run(const char *artifact, uint32_t delta, uint64_t memory_bytes)
{
    et_run r = {.artifact = artifact, .limits = et_default_limits()};
    r.limits.memory_bytes = memory_bytes;
    r.params[0] = delta;
    et_result res;
    et_execute(&r, &res);
    return res;
}

/* The guest grows page by page from 1 and sees -1 exactly when the next page
 * would exceed the 4-page cap. */
static void test_grow_stops_at_the_cap(void **state)
{
    (void)state;
    et_result res = grow_run("grow.so", 1, 4 * PAGE);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_EXIT, NULL);
    const et_report *rep = &res.rep;
    assert_int_equal(rep->out.exit_code, 3); /* 1->2, 2->3, 3->4 */
    assert_int_equal(rep->nnotes, 1);
    assert_int_equal(rep->notes[0].value, 4);           /* memory.size */
    assert_int_equal(rep->notes[0].mem_size, 4 * PAGE); /* as WASI sees it */
    assert_int_equal(rep->out.memory_pages, 4);
    assert_true(rep->out.memory_cap_hit);
}

static void test_grow_by_two_stops_below_the_cap(void **state)
{
    (void)state;
    et_result res = grow_run("grow.so", 2, 4 * PAGE);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_EXIT, NULL);
    assert_int_equal(res.rep.out.exit_code, 1); /* 1->3; 3->5 refused */
    assert_int_equal(res.rep.notes[0].value, 3);
    assert_int_equal(res.rep.out.memory_pages, 3);
    assert_true(res.rep.out.memory_cap_hit);
}

/* A cap that is not a whole number of pages rounds down. */
static void test_partial_page_cap_rounds_down(void **state)
{
    (void)state;
    et_result res = grow_run("grow.so", 1, 4 * PAGE + PAGE - 1);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_EXIT, NULL);
    assert_int_equal(res.rep.out.exit_code, 3);
    assert_int_equal(res.rep.out.memory_pages, 4);
    assert_true(res.rep.out.memory_cap_hit);
}

static void test_cap_below_initial_memory_is_refused(void **state)
{
    (void)state;
    static const struct {
        const char *artifact;
        uint64_t bytes;
    } cases[] = {
        {"grow_max.so", 1 * PAGE}, /* 2 initial pages */
        {"grow_max.so", 2 * PAGE - 1},
        {"grow.so", 0}, /* 1 initial page */
        {"grow.so", PAGE - 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        et_result res = grow_run(cases[i].artifact, 1, cases[i].bytes);
        et_assert_completed(&res, res.rep.run_status);
        const et_report *rep = &res.rep;
        if (rep->run_status == VIV_ENGINE_OK) {
            fail_msg("%s with a cap of %llu bytes ran (end %d, \"%s\")", cases[i].artifact,
                     (unsigned long long)cases[i].bytes, (int)rep->out.end, rep->out.message);
        }
        et_assert_end(&res, VIV_END_HOST_ERROR, NULL);
        assert_non_null(strstr(rep->out.message, "memory"));
        /* The guest never ran. */
        assert_int_equal(rep->import_calls, 0);
        assert_int_equal(rep->attach_calls, 0);
        assert_int_equal(rep->out.fuel_consumed, 0);
    }
}

/* The module declares 2 pages and a maximum of 3; the cap of 4 does not lift
 * the module's own limit, and a refusal by that limit is not the cap's. */
static void test_module_maximum_below_the_cap(void **state)
{
    (void)state;
    et_result res = grow_run("grow_max.so", 1, 4 * PAGE);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_EXIT, NULL);
    assert_int_equal(res.rep.out.exit_code, 1); /* 2->3; 3->4 refused by the module */
    assert_int_equal(res.rep.notes[0].value, 3);
    assert_int_equal(res.rep.out.memory_pages, 3);
    assert_false(res.rep.out.memory_cap_hit);
}

/* A grow past both the module's maximum (3) and the cap (4) is refused by the
 * module's maximum whatever the cap: raising the memory limit would not help,
 * so it is not reported as hitting the cap. */
static void test_module_maximum_refuses_a_grow_past_both(void **state)
{
    (void)state;
    et_result res = grow_run("grow_max.so", 100, 4 * PAGE);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_RETURNED, NULL); /* proc_exit(0): no grow succeeded */
    assert_int_equal(res.rep.out.exit_code, 0);
    assert_int_equal(res.rep.out.memory_pages, 2);
    assert_false(res.rep.out.memory_cap_hit);
}

/* attach_memory comes before _start (no import ran before it), once, with
 * the initial memory in place; the pointers it gives follow memory.grow. */
static void test_attach_memory_follows_growth(void **state)
{
    (void)state;
    et_run r = {.artifact = "attach.so", .limits = et_default_limits()};
    et_result res;
    et_execute(&r, &res);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_RETURNED, NULL);
    const et_report *rep = &res.rep;
    assert_int_equal(rep->attach_calls, 1);
    assert_int_equal(rep->imports_before_attach, 0);
    assert_int_equal(rep->ctx_mismatches, 0);
    assert_true(rep->data_at_attach);
    assert_int_equal(rep->size_at_attach, PAGE);
    assert_int_equal(rep->nnotes, 2);
    assert_int_equal(rep->notes[0].value, 100);
    assert_int_equal(rep->notes[0].mem_size, PAGE);
    assert_int_equal(rep->notes[0].byte, 0xAB);
    assert_int_equal(rep->notes[1].value, 3 * PAGE - 1);
    assert_int_equal(rep->notes[1].mem_size, 3 * PAGE);
    assert_int_equal(rep->notes[1].byte, 0xCD);
    assert_int_equal(rep->out.memory_pages, 3);
    assert_false(rep->out.memory_cap_hit);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_stops_at_the_cap),
        cmocka_unit_test(test_grow_by_two_stops_below_the_cap),
        cmocka_unit_test(test_partial_page_cap_rounds_down),
        cmocka_unit_test(test_cap_below_initial_memory_is_refused),
        cmocka_unit_test(test_module_maximum_below_the_cap),
        cmocka_unit_test(test_module_maximum_refuses_a_grow_past_both),
        cmocka_unit_test(test_attach_memory_follows_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
