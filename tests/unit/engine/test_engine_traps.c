/*
 * tests/unit/engine: every kind of wasm trap ends the run as VIV_END_TRAP with
 * its own message, stops the guest at the trapping instruction, and leaves
 * the child alive to report it (see wat/traps.wat for the modes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine_test_util.h"

#define MSG_OOB         "out of bounds memory access"
#define MSG_DIV0        "integer divide by zero"
#define MSG_OVERFLOW    "integer overflow"
#define MSG_CONVERSION  "invalid conversion to integer"
#define MSG_INDIRECT    "indirect call type mismatch or null entry"
#define MSG_UNREACHABLE "unreachable executed"

static void expect_trap(uint32_t mode, uint32_t a, uint32_t b, const char *message)
{
    et_run r = {.artifact = "traps.so", .limits = et_default_limits()};
    r.params[0] = mode;
    r.params[1] = a;
    r.params[2] = b;
    et_result res;
    et_execute(&r, &res);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_TRAP, message);
    const et_report *rep = &res.rep;
    /* The guest got as far as the trapping instruction and no further. */
    if (rep->nnotes != 1) {
        fail_msg("mode %u: the guest made %u notes, expected 1 (last %u)", mode, rep->nnotes,
                 rep->last_note.value);
    }
    assert_int_equal(rep->notes[0].value, 1);
    assert_false(rep->proc_exit_called);
    /* Fuel was spent but not exhausted, so the trap is the guest's own. */
    assert_true(rep->out.fuel_consumed > 0);
    assert_true(rep->out.fuel_consumed < r.limits.fuel);
    assert_int_equal(rep->out.memory_pages, 1);
    assert_int_equal(rep->unexpected_imports, 0);
}

static void test_load_past_memory_end(void **state)
{
    (void)state;
    expect_trap(0, VIV_WASM_PAGE, 0, MSG_OOB);
}

static void test_load_at_far_end_of_address_space(void **state)
{
    (void)state;
    expect_trap(1, 0xffffffffu, 0, MSG_OOB);
}

static void test_load_straddling_memory_end(void **state)
{
    (void)state;
    expect_trap(0, VIV_WASM_PAGE - 2, 0, MSG_OOB);
}

static void test_store_past_memory_end(void **state)
{
    (void)state;
    expect_trap(2, VIV_WASM_PAGE, 0, MSG_OOB);
}

static void test_memory_fill_past_end(void **state)
{
    (void)state;
    expect_trap(10, VIV_WASM_PAGE - 6, 0, MSG_OOB);
}

static void test_div_by_zero(void **state)
{
    (void)state;
    expect_trap(3, 7, 0, MSG_DIV0);
}

static void test_rem_by_zero(void **state)
{
    (void)state;
    expect_trap(12, 7, 0, MSG_DIV0);
}

static void test_div_overflow(void **state)
{
    (void)state;
    expect_trap(4, 0x80000000u, 0xffffffffu, MSG_OVERFLOW);
}

static void test_trunc_nan(void **state)
{
    (void)state;
    expect_trap(5, 0x7fc00000u, 0, MSG_CONVERSION); /* quiet NaN */
}

static void test_trunc_out_of_range(void **state)
{
    (void)state;
    expect_trap(11, 0x4f32d05eu, 0, MSG_OVERFLOW); /* 3e9f */
}

static void test_call_indirect_wrong_signature(void **state)
{
    (void)state;
    expect_trap(6, 5, 0, MSG_INDIRECT);
}

static void test_call_indirect_null_slot(void **state)
{
    (void)state;
    expect_trap(7, 0, 0, MSG_INDIRECT);
}

static void test_call_indirect_past_table_end(void **state)
{
    (void)state;
    expect_trap(8, 0, 0, MSG_INDIRECT);
}

/* A genuine `unreachable` with fuel left is a trap, not running out of fuel
 * (the metering pass uses the same instruction). */
static void test_unreachable(void **state)
{
    (void)state;
    expect_trap(9, 0, 0, MSG_UNREACHABLE);
}

/* The loads above are what trap: in range they run. */
static void test_in_range_operations_do_not_trap(void **state)
{
    (void)state;
    static const struct {
        uint32_t mode, a, b;
    } ok[] = {
        {0, VIV_WASM_PAGE - 4, 0},
        {2, VIV_WASM_PAGE - 4, 0},
        {10, VIV_WASM_PAGE - 16, 0},
        {3, 7, 2},
        {4, 0x80000000u, 1},
        {5, 0x40400000u, 0}, /* 3.0f */
        {12, 7, 2},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        et_run r = {.artifact = "traps.so", .limits = et_default_limits()};
        r.params[0] = ok[i].mode;
        r.params[1] = ok[i].a;
        r.params[2] = ok[i].b;
        et_result res;
        et_execute(&r, &res);
        et_assert_completed(&res, VIV_ENGINE_OK);
        et_assert_end(&res, VIV_END_RETURNED, NULL);
        assert_int_equal(res.rep.nnotes, 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_past_memory_end),
        cmocka_unit_test(test_load_at_far_end_of_address_space),
        cmocka_unit_test(test_load_straddling_memory_end),
        cmocka_unit_test(test_store_past_memory_end),
        cmocka_unit_test(test_memory_fill_past_end),
        cmocka_unit_test(test_div_by_zero),
        cmocka_unit_test(test_rem_by_zero),
        cmocka_unit_test(test_div_overflow),
        cmocka_unit_test(test_trunc_nan),
        cmocka_unit_test(test_trunc_out_of_range),
        cmocka_unit_test(test_call_indirect_wrong_signature),
        cmocka_unit_test(test_call_indirect_null_slot),
        cmocka_unit_test(test_call_indirect_past_table_end),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_in_range_operations_do_not_trap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
