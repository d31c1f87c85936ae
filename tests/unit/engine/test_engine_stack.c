/*
 * tests/unit/engine: the guest's own native stack. Deep recursion works,
 * runaway recursion is the trap "call stack exhausted" (never a SIGSEGV of
 * the process), and limits.stack_bytes sets how deep the guest can go.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine_test_util.h"

static et_result recurse(uint32_t limit, size_t stack_bytes)
{
    et_run r = {.artifact = "recurse.so", .limits = et_default_limits()};
    r.limits.fuel = (int64_t)1 << 50;
    r.limits.stack_bytes = stack_bytes;
    r.params[0] = limit;
    et_result res;
    et_execute(&r, &res);
    return res;
}

/* down(d) = down(d + 1) + 6d, down(limit) = limit. */
static uint32_t expected_sum(uint32_t limit) { return limit + 3u * limit * (limit - 1); }

static void test_deep_recursion_returns(void **state)
{
    (void)state;
    et_result res = recurse(10000, 0);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_RETURNED, NULL);
    const et_report *rep = &res.rep;
    /* Notes at depth 1024, 2048, ... 9216, then deepest and the sum. */
    assert_int_equal(rep->nnotes, 9 + 2);
    assert_int_equal(rep->notes[8].value, 9216);
    assert_int_equal(rep->notes[9].value, 10000);
    assert_int_equal(rep->notes[10].value, expected_sum(10000));
}

static uint32_t runaway_depth(size_t stack_bytes)
{
    et_result res = recurse(0, stack_bytes);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_TRAP, "call stack exhausted");
    const et_report *rep = &res.rep;
    assert_true(rep->nnotes >= 1);
    assert_true(rep->out.fuel_consumed > 0);
    assert_true(rep->out.fuel_consumed < ((int64_t)1 << 50));
    return rep->last_note.value;
}

static void test_runaway_recursion_default_stack(void **state)
{
    (void)state;
    uint32_t depth = runaway_depth(0);
    /* 128 MiB holds far more than the 10,000 levels that must work. */
    assert_true(depth > 100000);
}

static void test_runaway_recursion_small_stack(void **state)
{
    (void)state;
    uint32_t small = runaway_depth((size_t)1 << 20);
    uint32_t big = runaway_depth((size_t)16 << 20);
    print_message("runaway depth: %u levels in 1 MiB, %u in 16 MiB\n", small, big);
    /* The depth scales with the stack given: 16 times the stack, well over
     * 8 times the depth. */
    assert_true(small >= 1024);
    assert_true(big > 8 * (uint64_t)small);
}

/* A bounded recursion too deep for a small stack traps there, and the same
 * recursion returns with the default stack (see above). */
static void test_small_stack_limits_bounded_recursion(void **state)
{
    (void)state;
    et_result res = recurse(200000, (size_t)1 << 20);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_TRAP, "call stack exhausted");
    res = recurse(200000, 0);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_RETURNED, NULL);
    assert_int_equal(res.rep.last_note.value, expected_sum(200000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deep_recursion_returns),
        cmocka_unit_test(test_runaway_recursion_default_stack),
        cmocka_unit_test(test_runaway_recursion_small_stack),
        cmocka_unit_test(test_small_stack_limits_bounded_recursion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
