/*
 * tests/unit/sandbox/test_guidance.c: fuel analysis and failure hints
 * (src/sandbox/guidance.c), from the inputs a real run produces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "guidance.h"

static const char *status_of(int64_t consumed, int64_t budget, bool oof)
{
    static char buf[32];
    json_t *f = viv_guidance_fuel(consumed, budget, oof);
    assert_non_null(f);
    snprintf(buf, sizeof buf, "%s", json_string_value(json_object_get(f, "status")));
    json_decref(f);
    return buf;
}

static void test_fuel_status_bands(void **state)
{
    (void)state;
    assert_string_equal(status_of(0, 1000, false), "efficient");
    assert_string_equal(status_of(499, 1000, false), "efficient");
    assert_string_equal(status_of(500, 1000, false), "moderate");
    assert_string_equal(status_of(749, 1000, false), "moderate");
    assert_string_equal(status_of(750, 1000, false), "warning");
    assert_string_equal(status_of(899, 1000, false), "warning");
    assert_string_equal(status_of(900, 1000, false), "critical");
    assert_string_equal(status_of(999, 1000, false), "critical");
    assert_string_equal(status_of(1000, 1000, false), "exhausted");
    /* The trap decides even if the counter stopped short of the budget. */
    assert_string_equal(status_of(990, 1000, true), "exhausted");
}

static void test_fuel_suggestion(void **state)
{
    (void)state;
    json_t *f = viv_guidance_fuel(600, 1000, false);
    assert_null(json_object_get(f, "suggested_budget"));
    assert_true(json_real_value(json_object_get(f, "utilisation")) == 0.6);
    json_decref(f);

    /* Warning: twice what was measured, two significant digits. */
    f = viv_guidance_fuel(7260450687LL, 8000000000LL, false);
    assert_string_equal(json_string_value(json_object_get(f, "status")), "critical");
    assert_int_equal(json_integer_value(json_object_get(f, "suggested_budget")), 15000000000LL);
    assert_string_equal(json_string_value(json_object_get(f, "suggestion_basis")), "measured");
    json_decref(f);

    /* Exhausted: only a lower bound was measured. */
    f = viv_guidance_fuel(5000000000LL, 5000000000LL, true);
    assert_int_equal(json_integer_value(json_object_get(f, "suggested_budget")), 10000000000LL);
    assert_string_equal(json_string_value(json_object_get(f, "suggestion_basis")), "lower_bound");
    json_decref(f);

    assert_int_equal(viv_guidance_suggest_budget(123), 250);
    assert_int_equal(viv_guidance_suggest_budget(1), 2);
    assert_int_equal(viv_guidance_suggest_budget(INT64_MAX / 2 + 1), INT64_MAX);
    assert_null(viv_guidance_fuel(1, 0, false));
}

static bool parse(const char *err, viv_exception_line *ex)
{
    return viv_guidance_parse_exception(err, strlen(err), ex);
}

static void test_parse_exception(void **state)
{
    (void)state;
    viv_exception_line ex;
    assert_true(parse("Traceback (most recent call last):\n"
                      "  File \"/.vivarium/main.py\", line 1, in <module>\n"
                      "    import nope\n"
                      "ModuleNotFoundError: No module named 'nope'\n",
                      &ex));
    assert_string_equal(ex.type, "ModuleNotFoundError");
    assert_string_equal(ex.message, "No module named 'nope'");

    /* Chained: the last traceback is the one that ended the program. */
    assert_true(parse("Traceback (most recent call last):\n  File \"x\", line 1\nKeyError: 'a'\n\n"
                      "During handling of the above exception, another exception occurred:\n\n"
                      "Traceback (most recent call last):\n  File \"x\", line 3\n"
                      "    raise mod.Custom('bad')\nmod.Custom: bad\n",
                      &ex));
    assert_string_equal(ex.type, "mod.Custom");
    assert_string_equal(ex.message, "bad");

    /* No message at all. */
    assert_true(
        parse("Traceback (most recent call last):\n  File \"x\"\nKeyboardInterrupt\n", &ex));
    assert_string_equal(ex.type, "KeyboardInterrupt");
    assert_string_equal(ex.message, "");

    /* Words alone are not a traceback. */
    assert_false(parse("ModuleNotFoundError: No module named 'nope'\n", &ex));
    assert_false(parse("print said: Traceback (most recent call last):\nFoo: bar\n", &ex));
    /* A header with nothing after it, or a line that is no exception. */
    assert_false(parse("Traceback (most recent call last):\n  File \"x\"\n", &ex));
    assert_false(
        parse("Traceback (most recent call last):\n  File \"x\"\n-- not an exception\n", &ex));
}

static const viv_guidance_mount default_mounts[] = {
    {"/app", true},
    {"/data", false},
    {"/usr/local/lib/python3.12/site-packages", false},
    {"/.vivarium", false},
};
static const char *const modules[] = {"jinja2", "sympy", "yaml"};

static viv_guidance_input failed_with(const char *err)
{
    viv_guidance_input in = {
        .exit_code = 1,
        .fuel_consumed = 100,
        .fuel_budget = 1000,
        .memory_limit = 128000000,
        .timeout_seconds = 30,
        .stderr_data = err,
        .stderr_len = strlen(err),
        .workspace_guest = "/app",
        .data_guest = "/data",
        .mounts = default_mounts,
        .nmounts = 4,
        .batteries = true,
        .modules = modules,
        .nmodules = 3,
    };
    return in;
}

#define TB "Traceback (most recent call last):\n  File \"/.vivarium/main.py\", line 1\n    x\n"

static const char *hint_type(const viv_guidance_input *in)
{
    static char buf[64];
    json_t *h = viv_guidance_hint(in);
    snprintf(buf, sizeof buf, "%s", h ? json_string_value(json_object_get(h, "type")) : "(none)");
    json_decref(h);
    return buf;
}

static void test_hint_module_not_found(void **state)
{
    (void)state;
    viv_guidance_input in = failed_with(TB "ModuleNotFoundError: No module named 'pandas'\n");
    json_t *h = viv_guidance_hint(&in);
    assert_non_null(h);
    assert_string_equal(json_string_value(json_object_get(h, "type")), "module_not_found");
    assert_string_equal(json_string_value(json_object_get(h, "module")), "pandas");
    json_t *avail = json_object_get(h, "available_packages");
    assert_int_equal(json_array_size(avail), 3);
    assert_string_equal(json_string_value(json_array_get(avail, 1)), "sympy");
    assert_true(json_array_size(json_object_get(h, "steps")) >= 1);
    assert_non_null(json_string_value(json_object_get(h, "example")));
    json_decref(h);

    /* A submodule of an available package is said to be that. */
    in = failed_with(TB "ModuleNotFoundError: No module named 'sympy.nothere'\n");
    h = viv_guidance_hint(&in);
    assert_non_null(strstr(json_string_value(json_object_get(h, "message")), "sympy is available"));
    json_decref(h);

    /* Without batteries the list is empty and a step says why. */
    in = failed_with(TB "ModuleNotFoundError: No module named 'yaml'\n");
    in.batteries = false;
    in.nmodules = 0;
    h = viv_guidance_hint(&in);
    assert_int_equal(json_array_size(json_object_get(h, "available_packages")), 0);
    assert_non_null(
        strstr(json_string_value(json_array_get(json_object_get(h, "steps"), 0)), "no batteries"));
    json_decref(h);

    /* Other import failures, or the words outside a traceback, give nothing. */
    in = failed_with(TB "ImportError: cannot import name 'x' from 'os'\n");
    assert_string_equal(hint_type(&in), "(none)");
    in = failed_with("ModuleNotFoundError: No module named 'pandas'\n");
    assert_string_equal(hint_type(&in), "(none)");
    in = failed_with(TB "ModuleNotFoundError: No module named 'a b'\n");
    assert_string_equal(hint_type(&in), "(none)");
    /* The traceback must have ended the program. */
    in = failed_with(TB "ModuleNotFoundError: No module named 'pandas'\n");
    in.exit_code = 0;
    assert_string_equal(hint_type(&in), "(none)");
    in.exit_code = 1;
    in.stderr_truncated = true;
    assert_string_equal(hint_type(&in), "(none)");
}

static void test_hint_paths(void **state)
{
    (void)state;
    viv_guidance_input in =
        failed_with(TB "FileNotFoundError: [Errno 44] No such file or directory: '/etc/passwd'\n");
    json_t *h = viv_guidance_hint(&in);
    assert_string_equal(json_string_value(json_object_get(h, "type")), "path_outside_mounts");
    assert_string_equal(json_string_value(json_object_get(h, "path")), "/etc/passwd");
    assert_int_equal(json_array_size(json_object_get(h, "mounts")), 4);
    json_decref(h);

    /* A missing file inside the workspace is just missing. */
    in = failed_with(TB "FileNotFoundError: [Errno 44] No such file or directory: '/app/x.csv'\n");
    assert_string_equal(hint_type(&in), "(none)");
    /* A prefix that is not a directory boundary is outside. */
    in = failed_with(TB "FileNotFoundError: [Errno 44] No such file or directory: '/apple'\n");
    assert_string_equal(hint_type(&in), "path_outside_mounts");
    /* Relative paths resolve against /. */
    in = failed_with(TB "FileNotFoundError: [Errno 44] No such file or directory: 'out.txt'\n");
    h = viv_guidance_hint(&in);
    assert_string_equal(json_string_value(json_object_get(h, "type")), "path_outside_mounts");
    assert_non_null(strstr(json_string_value(json_object_get(h, "message")), "relative"));
    json_decref(h);

    /* Writes to read-only mounts (EROFS is 69 in WASI). */
    in = failed_with(TB "OSError: [Errno 69] Read-only file system: '/data/out.csv'\n");
    h = viv_guidance_hint(&in);
    assert_string_equal(json_string_value(json_object_get(h, "type")), "read_only_mount");
    assert_non_null(strstr(json_string_value(json_object_get(h, "message")), "(/data)"));
    assert_string_equal(json_string_value(json_object_get(h, "example")),
                        "open('/app/out.csv', 'w')");
    json_decref(h);
    in = failed_with(TB "OSError: [Errno 69] Read-only file system: '/.vivarium/main.py'\n");
    assert_string_equal(hint_type(&in), "read_only_mount");

    /* A quote inside the path makes Python use double quotes. */
    in = failed_with(TB "FileNotFoundError: [Errno 44] No such file or directory: \"/etc/it's\"\n");
    h = viv_guidance_hint(&in);
    assert_string_equal(json_string_value(json_object_get(h, "path")), "/etc/it's");
    json_decref(h);
    /* Escapes that cannot be read back are not guessed at. */
    in = failed_with(TB "FileNotFoundError: [Errno 44] No such file or directory: '/etc/\\x00'\n");
    assert_string_equal(hint_type(&in), "(none)");
    /* Not an OSError shape. */
    in = failed_with(TB "ValueError: [Errno 44] No such file or directory: '/etc/passwd'\n");
    assert_string_equal(hint_type(&in), "(none)");
    in = failed_with(TB "FileNotFoundError: /etc/passwd\n");
    assert_string_equal(hint_type(&in), "(none)");
}

static void test_hint_traps(void **state)
{
    (void)state;
    viv_guidance_input in = failed_with("");
    in.exit_code = -1;
    in.trapped = true;
    in.reason = VIV_TRAP_OUT_OF_FUEL;
    in.fuel_consumed = in.fuel_budget = 5000000000LL;
    json_t *h = viv_guidance_hint(&in);
    assert_string_equal(json_string_value(json_object_get(h, "type")), "out_of_fuel");
    assert_int_equal(json_integer_value(json_object_get(h, "suggested_budget")), 10000000000LL);
    assert_non_null(strstr(json_string_value(json_object_get(h, "example")), "10000000000"));
    json_decref(h);

    in.reason = VIV_TRAP_MEMORY_LIMIT;
    h = viv_guidance_hint(&in);
    assert_string_equal(json_string_value(json_object_get(h, "type")), "memory_limit");
    assert_non_null(strstr(json_string_value(json_object_get(h, "example")), "256000000"));
    json_decref(h);
    in.memory_limit = (uint64_t)4 << 30; /* at the ceiling: no raise suggested past it */
    h = viv_guidance_hint(&in);
    assert_non_null(strstr(json_string_value(json_object_get(h, "example")), "4294967296"));
    json_decref(h);

    in.reason = VIV_TRAP_TIMEOUT;
    assert_string_equal(hint_type(&in), "timeout");
    in.reason = VIV_TRAP_TRAP;
    assert_string_equal(hint_type(&in), "(none)");
    in.reason = VIV_TRAP_HOST_ERROR;
    assert_string_equal(hint_type(&in), "(none)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuel_status_bands), cmocka_unit_test(test_fuel_suggestion),
        cmocka_unit_test(test_parse_exception),   cmocka_unit_test(test_hint_module_not_found),
        cmocka_unit_test(test_hint_paths),        cmocka_unit_test(test_hint_traps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
