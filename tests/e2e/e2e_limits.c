/*
 * e2e_limits.c: the limits `vivarium run` enforces while the guest runs.
 * Memory cap (MemoryError and the memory_limit trap; a cap below the
 * guest's initial memory is a policy error); stdout/stderr caps and their
 * truncation flags; the fuel budget (out_of_fuel, accounting, determinism,
 * runaway recursion); wall-clock deadlines (sleeping and spinning guests,
 * fractional seconds); output written before a trap is kept.
 *
 * The only timing assertions are the deadline bounds the CLI promises,
 * with slack for a loaded two-core machine.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e_harness.h"

/* A 1 s deadline must end the run well before this. */
#define DEADLINE_SLACK_S 3.0
/* The guest needs a few hundred million units of fuel to start; this
 * budget lets a loop actually run before the budget ends it. */
#define FUEL_PAST_STARTUP   "1500000000"
#define FUEL_PAST_STARTUP_N 1500000000LL

static void expect_not_crashed(const e2e_run *r)
{
    if (r->term_signal != 0 || r->killed) {
        fail_msg("CLI died by signal %d (watchdog kill: %d)\nstderr: %.2000s", r->term_signal,
                 (int)r->killed, r->err);
    }
}

/* ---- memory ------------------------------------------------------------- */

static void test_memory_limit_trap(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--memory", "64M", "-c", "x=bytearray(300*1024*1024)");
    e2e_expect_exit(&r, 126);
    e2e_expect_in("stderr", r.err, "MemoryError");
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--json", "--memory", "64M", "-c", "x=bytearray(300*1024*1024)");
    e2e_expect_exit(&r, 126);
    json_t *j = e2e_json(&r);
    assert_false(e2e_jbool(j, "success"));
    assert_true(e2e_jbool(j, "trapped"));
    assert_string_equal(e2e_jstr(j, "trap_reason"), "memory_limit");
    e2e_expect_in("JSON stderr", e2e_jstr(j, "stderr"), "MemoryError");
    assert_int_equal(e2e_jint(j, "memory_limit_bytes"), 64 * 1024 * 1024);
    assert_true(e2e_jint(j, "memory_used_bytes") <= 64 * 1024 * 1024);
    e2e_run_free(&r);
}

/* Memory that fits is usable: the cap is not a fixed small arena. */
static void test_memory_within_limit(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "--memory", "96M", "-c",
            "x = bytearray(48*1024*1024); x[-1] = 7; print(len(x), x[-1])");
    e2e_expect_exit(&r, 0);
    json_t *j = e2e_json(&r);
    assert_string_equal(e2e_jstr(j, "stdout"), "50331648 7\n");
    assert_true(e2e_jint(j, "memory_used_bytes") >= 48 * 1024 * 1024);
    assert_true(e2e_jint(j, "memory_used_bytes") <= 96 * 1024 * 1024);
    e2e_run_free(&r);
}

static void test_memory_below_initial(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--memory", "1M", "-c", "print(1)");
    e2e_expect_exit(&r, 125);
    e2e_expect_in("stderr", r.err, "memory");
    assert_int_equal(r.out_len, 0);
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--json", "--memory", "1M", "-c", "print(1)");
    e2e_expect_exit(&r, 125);
    e2e_expect_in("stderr", r.err, "memory");
    assert_int_equal(r.out_len, 0);
    e2e_run_free(&r);
}

/* ---- output caps -------------------------------------------------------- */

static void expect_all_x(const char *what, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 'x') {
            fail_msg("%s byte %zu is 0x%02x, not 'x'", what, i, (unsigned char)p[i]);
        }
    }
}

static void test_stdout_cap(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--stdout-max", "100", "-c", "print(\"x\"*10000)");
    e2e_expect_exit(&r, 0);
    assert_true(r.out_len <= 100);
    assert_true(r.out_len > 0);
    expect_all_x("stdout", r.out, r.out_len);
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--json", "--stdout-max", "100", "-c", "print(\"x\"*10000)");
    e2e_expect_exit(&r, 0);
    json_t *j = e2e_json(&r);
    assert_true(e2e_jbool(j, "stdout_truncated"));
    assert_false(e2e_jbool(j, "stderr_truncated"));
    const char *out = e2e_jstr(j, "stdout");
    assert_true(strlen(out) <= 100);
    expect_all_x("JSON stdout", out, strlen(out));
    e2e_run_free(&r);
}

static void test_stderr_cap(void **state)
{
    (void)state;
    static const char prog[] = "import sys; sys.stderr.write('x'*10000); print('done')";
    e2e_run r;
    E2E_RUN(&r, "run", "--stderr-max", "100", "-c", prog);
    e2e_expect_exit(&r, 0);
    assert_true(r.err_len <= 100);
    assert_true(r.err_len > 0);
    expect_all_x("stderr", r.err, r.err_len);
    /* The stdout stream has its own cap. */
    assert_string_equal(r.out, "done\n");
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--json", "--stderr-max", "100", "-c", prog);
    e2e_expect_exit(&r, 0);
    json_t *j = e2e_json(&r);
    assert_true(e2e_jbool(j, "stderr_truncated"));
    assert_false(e2e_jbool(j, "stdout_truncated"));
    assert_true(strlen(e2e_jstr(j, "stderr")) <= 100);
    assert_string_equal(e2e_jstr(j, "stdout"), "done\n");
    e2e_run_free(&r);
}

/* Exactly at the cap is not truncation. */
static void test_output_at_cap_not_truncated(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "--stdout-max", "100", "-c", "print('x'*99)");
    e2e_expect_exit(&r, 0);
    json_t *j = e2e_json(&r);
    assert_false(e2e_jbool(j, "stdout_truncated"));
    assert_int_equal(strlen(e2e_jstr(j, "stdout")), 100);
    e2e_run_free(&r);
}

/* A cap that cuts a multi-byte character must still give valid JSON with
 * only the bytes before the cut. */
static void test_cap_inside_utf8_character(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "--stdout-max", "5", "-c", "print('\\u00e9' * 10)");
    e2e_expect_exit(&r, 0);
    json_t *j = e2e_json(&r);
    assert_true(e2e_jbool(j, "stdout_truncated"));
    const char *out = e2e_jstr(j, "stdout");
    assert_memory_equal(out, "\xc3\xa9\xc3\xa9", 4);
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--stdout-max", "5", "-c", "print('\\u00e9' * 10)");
    e2e_expect_exit(&r, 0);
    assert_int_equal(r.out_len, 5);
    assert_memory_equal(r.out, "\xc3\xa9\xc3\xa9\xc3", 5);
    e2e_run_free(&r);
}

static void test_endless_printing_is_bounded(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--stdout-max", "1000", "--fuel", FUEL_PAST_STARTUP, "-c",
            "while True: print('spam')");
    e2e_expect_exit(&r, 126);
    assert_true(r.out_len <= 1000);
    assert_true(r.out_len > 0);
    e2e_expect_in("stdout", r.out, "spam\n");
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--stdout-max", "1000", "--timeout", "1", "--fuel", "1000000000000", "-c",
            "while True: print('spam')");
    e2e_expect_exit(&r, 124);
    assert_true(r.out_len <= 1000);
    assert_true(r.elapsed_s < DEADLINE_SLACK_S);
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--json", "--stdout-max", "1000", "--stderr-max", "500", "--fuel",
            FUEL_PAST_STARTUP, "-c",
            "import sys\nwhile True:\n  print('spam')\n  sys.stderr.write('eggs\\n')\n");
    e2e_expect_exit(&r, 126);
    json_t *j = e2e_json(&r);
    assert_true(e2e_jbool(j, "stdout_truncated"));
    assert_true(e2e_jbool(j, "stderr_truncated"));
    assert_true(strlen(e2e_jstr(j, "stdout")) <= 1000);
    /* The trap notice is the CLI's, not the guest's: it may come on top of
     * the guest's capped stderr, but only that. */
    assert_true(strlen(e2e_jstr(j, "stderr")) <=
                500 + strlen("\nExecution trapped: out_of_fuel\n"));
    e2e_run_free(&r);
}

/* ---- fuel --------------------------------------------------------------- */

static void test_out_of_fuel(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--fuel", "1000000", "-c", "while True: pass");
    e2e_expect_exit(&r, 126);
    if (!e2e_ends_with(r.err, r.err_len, "Execution trapped: out_of_fuel")) {
        fail_msg("stderr does not end with the trap notice:\n%s", r.err);
    }
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--json", "--fuel", "1000000", "-c", "while True: pass");
    e2e_expect_exit(&r, 126);
    json_t *j = e2e_json(&r);
    assert_false(e2e_jbool(j, "success"));
    assert_true(e2e_jbool(j, "trapped"));
    assert_string_equal(e2e_jstr(j, "trap_reason"), "out_of_fuel");
    int64_t used = e2e_jint(j, "fuel_consumed");
    if (used < 990000 || used > 1000000) {
        fail_msg("fuel_consumed %lld not in [990000, 1000000]", (long long)used);
    }
    assert_int_equal(e2e_jint(j, "fuel_budget"), 1000000);
    const char *err = e2e_jstr(j, "stderr");
    if (!e2e_ends_with(err, strlen(err), "Execution trapped: out_of_fuel")) {
        fail_msg("JSON stderr does not end with the trap notice:\n%s", err);
    }
    e2e_run_free(&r);
}

/* A budget that lets the interpreter start, so the loop itself burns it. */
static void test_out_of_fuel_in_user_loop(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "--fuel", FUEL_PAST_STARTUP, "-c",
            "print('started')\nwhile True: pass");
    e2e_expect_exit(&r, 126);
    json_t *j = e2e_json(&r);
    assert_string_equal(e2e_jstr(j, "stdout"), "started\n");
    assert_string_equal(e2e_jstr(j, "trap_reason"), "out_of_fuel");
    int64_t used = e2e_jint(j, "fuel_consumed");
    assert_true(used <= FUEL_PAST_STARTUP_N);
    assert_true(used >= FUEL_PAST_STARTUP_N / 100 * 99);
    e2e_run_free(&r);
}

static void check_recursion_ends_sanely(const char *fuel, const char *prog)
{
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "--fuel", fuel, "-c", prog);
    expect_not_crashed(&r);
    json_t *j = e2e_json(&r);
    if (r.exit_code == 126) {
        assert_string_equal(e2e_jstr(j, "trap_reason"), "out_of_fuel");
    } else if (r.exit_code == 1) {
        e2e_expect_in("JSON stderr", e2e_jstr(j, "stderr"), "RecursionError");
    } else {
        fail_msg("fuel %s: exit %d, expected 126 (out_of_fuel) or 1 (RecursionError)\n%s", fuel,
                 r.exit_code, r.out);
    }
    assert_false(e2e_jbool(j, "success"));
    e2e_run_free(&r);
}

static void test_runaway_recursion(void **state)
{
    (void)state;
    static const char prog[] = "def f(): return f()\nf()\n";
    check_recursion_ends_sanely("1000000", prog);
    check_recursion_ends_sanely("300000000", prog);
    check_recursion_ends_sanely(FUEL_PAST_STARTUP, prog);
}

/* Deeper than CPython's own limit allows: the sandbox, not the interpreter,
 * has to stop it, and must do so without taking the host down. */
static void test_deep_recursion_never_crashes(void **state)
{
    (void)state;
    static const char *const progs[] = {
        "import sys\nsys.setrecursionlimit(10**6)\ndef f(n): return f(n+1)\nf(0)\n",
        "import sys\nsys.setrecursionlimit(10**6)\n"
        "class A:\n  def __getattr__(s, n): return getattr(s, n)\nA().x\n",
        "import sys\nsys.setrecursionlimit(10**6)\nx = []\n"
        "for i in range(200000): x = [x]\nprint(len(repr(x)))\n",
    };
    for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++) {
        e2e_run r;
        E2E_RUN(&r, "run", "--json", "--fuel", FUEL_PAST_STARTUP, "-c", progs[i]);
        expect_not_crashed(&r);
        json_t *j = e2e_json(&r);
        if (r.exit_code != 1 && r.exit_code != 126) {
            fail_msg("exit %d for:\n%s\n%s", r.exit_code, progs[i], r.out);
        }
        json_t *reason = json_object_get(j, "trap_reason");
        if (json_is_string(reason) && strcmp(json_string_value(reason), "host_error") == 0) {
            fail_msg("host_error for:\n%s\n%s", progs[i], r.out);
        }
        assert_false(e2e_jbool(j, "success"));
        e2e_run_free(&r);
    }
}

static int64_t fuel_of(const char *prog)
{
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "-c", prog);
    e2e_expect_exit(&r, 0);
    int64_t used = e2e_jint(e2e_json(&r), "fuel_consumed");
    e2e_run_free(&r);
    return used;
}

static void test_fuel_is_deterministic(void **state)
{
    (void)state;
    static const char loop[] = "t = 0\nfor i in range(200000):\n    t += i * i\nprint(t)\n";
    static const char dicts[] = "d = {str(i): i for i in range(5000)}\nprint(sum(d.values()))\n";
    int64_t a = fuel_of(loop), b = fuel_of(loop);
    assert_int_equal(a, b);
    /* The loop really is accounted for, not just the start-up. */
    assert_true(a > fuel_of("t = 0\nprint(t)\n"));
    /* String hashing is seeded the same way every run. */
    assert_int_equal(fuel_of(dicts), fuel_of(dicts));
}

static void test_fuel_accounting(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "-c", "print(1)");
    e2e_expect_exit(&r, 0);
    json_t *j = e2e_json(&r);
    assert_int_equal(e2e_jint(j, "fuel_budget"), 10000000000LL);
    int64_t used = e2e_jint(j, "fuel_consumed");
    assert_true(used > 0);
    assert_true(used < 10000000000LL / 8);
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--json", "--fuel", "3000000007", "-c", "print(1)");
    e2e_expect_exit(&r, 0);
    j = e2e_json(&r);
    assert_int_equal(e2e_jint(j, "fuel_budget"), 3000000007LL);
    assert_true(e2e_jint(j, "fuel_consumed") <= 3000000007LL);
    e2e_run_free(&r);
}

/* ---- deadlines ---------------------------------------------------------- */

static void test_timeout_sleeping_guest(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "--timeout", "1", "-c", "import time; time.sleep(60)");
    e2e_expect_exit(&r, 124);
    if (r.elapsed_s >= DEADLINE_SLACK_S) {
        fail_msg("1 s deadline took %.2f s", r.elapsed_s);
    }
    json_t *j = e2e_json(&r);
    assert_false(e2e_jbool(j, "success"));
    assert_true(e2e_jbool(j, "trapped"));
    assert_string_equal(e2e_jstr(j, "trap_reason"), "timeout");
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--timeout", "1", "-c", "import time; time.sleep(60)");
    e2e_expect_exit(&r, 124);
    if (r.elapsed_s >= DEADLINE_SLACK_S) {
        fail_msg("1 s deadline took %.2f s", r.elapsed_s);
    }
    e2e_run_free(&r);
}

static void test_timeout_spinning_guest(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--timeout", "1", "--fuel", "1000000000000", "-c", "while True: pass");
    e2e_expect_exit(&r, 124);
    if (r.elapsed_s >= DEADLINE_SLACK_S) {
        fail_msg("1 s deadline took %.2f s", r.elapsed_s);
    }
    e2e_expect_in("stderr", r.err, "timeout");
    e2e_run_free(&r);
}

static void test_timeout_fractional(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "--timeout", "0.5", "--fuel", "1000000000000", "-c",
            "while True: pass");
    e2e_expect_exit(&r, 124);
    if (r.elapsed_s >= DEADLINE_SLACK_S) {
        fail_msg("0.5 s deadline took %.2f s", r.elapsed_s);
    }
    assert_string_equal(e2e_jstr(e2e_json(&r), "trap_reason"), "timeout");
    e2e_run_free(&r);
}

/* 0 means no deadline, not an immediate one. */
static void test_timeout_zero_means_none(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--timeout", "0", "-c", "import time; time.sleep(0.2); print('slept')");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "slept\n");
    e2e_run_free(&r);
}

static void test_output_before_trap_is_kept(void **state)
{
    (void)state;
    static const char prog[] = "print(\"hi\")\nwhile True: pass\n";
    e2e_run r;
    E2E_RUN(&r, "run", "--fuel", FUEL_PAST_STARTUP, "-c", prog);
    e2e_expect_exit(&r, 126);
    assert_string_equal(r.out, "hi\n");
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--timeout", "1", "--fuel", "1000000000000", "-c", prog);
    e2e_expect_exit(&r, 124);
    assert_string_equal(r.out, "hi\n");
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--json", "--timeout", "1", "--fuel", "1000000000000", "-c", prog);
    e2e_expect_exit(&r, 124);
    assert_string_equal(e2e_jstr(e2e_json(&r), "stdout"), "hi\n");
    e2e_run_free(&r);

    /* Not only print(): a write with no newline, and stderr. */
    E2E_RUN(&r, "run", "--json", "--fuel", FUEL_PAST_STARTUP, "-c",
            "import sys\nsys.stdout.write('partial')\nsys.stderr.write('warn')\n"
            "while True: pass\n");
    e2e_expect_exit(&r, 126);
    json_t *j = e2e_json(&r);
    assert_string_equal(e2e_jstr(j, "stdout"), "partial");
    e2e_expect_in("JSON stderr", e2e_jstr(j, "stderr"), "warn");
    e2e_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_limit_trap),
        cmocka_unit_test(test_memory_within_limit),
        cmocka_unit_test(test_memory_below_initial),
        cmocka_unit_test(test_stdout_cap),
        cmocka_unit_test(test_stderr_cap),
        cmocka_unit_test(test_output_at_cap_not_truncated),
        cmocka_unit_test(test_cap_inside_utf8_character),
        cmocka_unit_test(test_endless_printing_is_bounded),
        cmocka_unit_test(test_out_of_fuel),
        cmocka_unit_test(test_out_of_fuel_in_user_loop),
        cmocka_unit_test(test_runaway_recursion),
        cmocka_unit_test(test_deep_recursion_never_crashes),
        cmocka_unit_test(test_fuel_is_deterministic),
        cmocka_unit_test(test_fuel_accounting),
        cmocka_unit_test(test_timeout_sleeping_guest),
        cmocka_unit_test(test_timeout_spinning_guest),
        cmocka_unit_test(test_timeout_fractional),
        cmocka_unit_test(test_timeout_zero_means_none),
        cmocka_unit_test(test_output_before_trap_is_kept),
    };
    return cmocka_run_group_tests_name("e2e_limits", tests, NULL, NULL);
}
