/*
 * e2e_run.c: `vivarium run` as a user sees it. Programs given with -c, as a
 * file and on stdin; exit statuses and how --json mirrors them; tracebacks;
 * the standard library the guest ships; extra argv; usage errors; missing
 * and uncompiled guest modules; the shape of the JSON result, including
 * output that is not UTF-8.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_harness.h"

static void test_print_two(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "-c", "print(1+1)");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "2\n");
    assert_int_equal(r.out_len, 2);
    assert_string_equal(r.err, "");
    e2e_run_free(&r);
}

/* The suite runs twice, cold and with VIVARIUM_WARM=1; each run must take
 * the path it claims, or the comparison proves nothing. */
static void test_runs_on_the_path_the_suite_claims(void **state)
{
    (void)state;
    const char *want = getenv("VIVARIUM_WARM");
    bool warm = want != NULL && strcmp(want, "1") == 0;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "-c", "print(1)");
    e2e_expect_exit(&r, 0);
    json_t *meta = json_object_get(e2e_json(&r), "metadata");
    assert_non_null(meta);
    assert_int_equal(e2e_jbool(meta, "warm"), warm);
    e2e_run_free(&r);
}

static void test_sys_exit_status(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "-c", "import sys; sys.exit(3)");
    e2e_expect_exit(&r, 3);
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "-c", "import sys; sys.exit(0)");
    e2e_expect_exit(&r, 0);
    e2e_run_free(&r);
}

static void test_os_exit_status(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "-c", "import os; print('bye', flush=True); os._exit(7)");
    e2e_expect_exit(&r, 7);
    json_t *j = e2e_json(&r);
    assert_int_equal(e2e_jint(j, "exit_code"), 7);
    assert_false(e2e_jbool(j, "success"));
    assert_false(e2e_jbool(j, "trapped"));
    assert_string_equal(e2e_jstr(j, "stdout"), "bye\n");
    e2e_run_free(&r);
}

/* Statuses above 123 would collide with the CLI's own 124-127. */
static void test_high_exit_status_is_clamped(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "-c", "import sys; sys.exit(200)");
    e2e_expect_exit(&r, 123);
    e2e_run_free(&r);
}

static void test_uncaught_exception(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "-c", "raise ValueError(\"boom\")");
    e2e_expect_exit(&r, 1);
    e2e_expect_in("stderr", r.err, "Traceback");
    e2e_expect_in("stderr", r.err, "ValueError: boom");
    assert_string_equal(r.out, "");
    e2e_run_free(&r);
}

static void test_uncaught_exception_json(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "-c", "raise ValueError(\"boom\")");
    e2e_expect_exit(&r, 1);
    json_t *j = e2e_json(&r);
    assert_false(e2e_jbool(j, "success"));
    assert_int_equal(e2e_jint(j, "exit_code"), 1);
    assert_false(e2e_jbool(j, "trapped"));
    e2e_expect_in("JSON stderr", e2e_jstr(j, "stderr"), "Traceback");
    e2e_expect_in("JSON stderr", e2e_jstr(j, "stderr"), "ValueError: boom");
    /* In --json mode the guest's output lives only inside the object. */
    assert_string_equal(r.err, "");
    e2e_run_free(&r);
}

/* The program must not be wrapped or prefixed in a way that shifts the
 * line numbers the user reads in a traceback. */
static void test_traceback_line_numbers(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "-c", "a = 1\nb = 2\nraise RuntimeError('third line')\n");
    e2e_expect_exit(&r, 1);
    e2e_expect_in("stderr", r.err, "line 3, in <module>");
    e2e_expect_in("stderr", r.err, "RuntimeError: third line");
    e2e_expect_not_in("stderr", r.err, "line 1,");
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "-c",
            "def inner():\n"
            "    return 1 / 0\n"
            "\n"
            "\n"
            "inner()\n");
    e2e_expect_exit(&r, 1);
    e2e_expect_in("stderr", r.err, "line 5, in <module>");
    e2e_expect_in("stderr", r.err, "line 2, in inner");
    e2e_expect_in("stderr", r.err, "ZeroDivisionError");
    e2e_run_free(&r);
}

static void test_stdlib_imports(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "-c",
            "import json, re, sqlite3, zlib, decimal, hashlib\n"
            "print('imported')\n");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "imported\n");
    e2e_run_free(&r);
}

static void test_sqlite_in_memory(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "-c",
            "import sqlite3\n"
            "db = sqlite3.connect(':memory:')\n"
            "db.execute('create table t (k text primary key, v integer)')\n"
            "db.executemany('insert into t values (?, ?)',\n"
            "               [('a', 3), ('b', 4), ('c', 35)])\n"
            "print(db.execute('select sum(v), count(*) from t where v > 3').fetchone())\n"
            "print(db.execute(\"select k from t order by v desc limit 1\").fetchone()[0])\n");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "(39, 2)\nc\n");
    e2e_run_free(&r);
}

static void test_zlib_hashlib_decimal_answers(void **state)
{
    (void)state;
    e2e_run r;
    /* The expected values were computed with a host CPython. */
    E2E_RUN(&r, "run", "-c",
            "import zlib, hashlib, decimal, json, re\n"
            "data = b'vivarium ' * 1000\n"
            "packed = zlib.compress(data, 9)\n"
            "print(len(packed) < len(data), zlib.decompress(packed) == data)\n"
            "print(zlib.crc32(b'vivarium'))\n"
            "print(hashlib.sha256(b'abc').hexdigest())\n"
            "print(decimal.Decimal('0.1') + decimal.Decimal('0.2'))\n"
            "print(json.dumps({'b': [1, 2], 'a': None}, sort_keys=True))\n"
            "print(re.sub(r'(\\d+)', r'<\\1>', 'a1b22'))\n");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "True True\n"
                               "2405561991\n"
                               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
                               "0.3\n"
                               "{\"a\": null, \"b\": [1, 2]}\n"
                               "a<1>b<22>\n");
    e2e_run_free(&r);
}

static void test_program_from_stdin(void **state)
{
    (void)state;
    static const char prog[] = "import sys\nprint(6 * 7)\nprint(sys.argv[1:])\n";
    e2e_opts o = {.stdin_data = prog, .stdin_len = sizeof prog - 1};
    e2e_run r;
    e2e_exec(&r, &o, E2E_ARGV("run", "-", "x"));
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "42\n['x']\n");
    e2e_run_free(&r);
}

static void test_program_from_file(void **state)
{
    char file[PATH_MAX];
    e2e_path(file, *state, "my_prog.py");
    e2e_write(file, "print('from file')\n"
                    "import sys\n"
                    "print(sys.argv[1:])\n"
                    "raise KeyError('k')\n");
    e2e_run r;
    E2E_RUN(&r, "run", file, "one", "two words");
    e2e_expect_exit(&r, 1);
    assert_string_equal(r.out, "from file\n['one', 'two words']\n");
    e2e_expect_in("stderr", r.err, "my_prog.py\", line 4");
    e2e_expect_in("stderr", r.err, "KeyError: 'k'");
    /* Only the basename: the host path of the file is none of the guest's
     * business. */
    e2e_expect_not_in("stderr", r.err, (const char *)*state);
    e2e_run_free(&r);
}

/* Source the interpreter rejects is the guest's error, reported like any
 * other exception, not a failure of the CLI. */
static void test_bad_source(void **state)
{
    char file[PATH_MAX];
    e2e_path(file, *state, "nul.py");
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite("print(1)\0\n", 1, 10, f), 10);
    assert_int_equal(fclose(f), 0);
    /* CPython 3.11.2 (our own guest, Debian's version) still reads a file up
     * to its first NUL; later versions refuse it (gh-96670). The guest under
     * test says which it is. */
    e2e_run r;
    E2E_RUN(&r, "run", "-c", "import sys; print(sys.version_info[1])");
    e2e_expect_exit(&r, 0);
    bool reads_to_nul = strcmp(r.out, "11\n") == 0;
    e2e_run_free(&r);
    E2E_RUN(&r, "run", file);
    if (reads_to_nul) {
        e2e_expect_exit(&r, 0);
        assert_string_equal(r.out, "1\n");
    } else {
        e2e_expect_exit(&r, 1);
        e2e_expect_in("stderr", r.err, "SyntaxError");
        assert_string_equal(r.out, "");
    }
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--json", "-c", "print('a\xff')");
    e2e_expect_exit(&r, 1);
    e2e_expect_in("JSON stderr", e2e_jstr(e2e_json(&r), "stderr"), "SyntaxError");
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "-c", "def f(:\n  pass\n");
    e2e_expect_exit(&r, 1);
    e2e_expect_in("stderr", r.err, "SyntaxError");
    e2e_expect_in("stderr", r.err, "line 1");
    e2e_run_free(&r);
}

static void test_missing_file_program(void **state)
{
    char file[PATH_MAX];
    e2e_path(file, *state, "absent.py");
    e2e_run r;
    E2E_RUN(&r, "run", file);
    e2e_expect_exit(&r, 125);
    e2e_expect_in("stderr", r.err, "absent.py");
    assert_string_equal(r.out, "");
    e2e_run_free(&r);
}

/* Everything after the program is the program's, even if it looks like an
 * option of the CLI. */
static void test_args_reach_sys_argv(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "-c", "import sys; print(sys.argv[1:])", "a", "b c", "--json", "-c");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "['a', 'b c', '--json', '-c']\n");
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "-c", "import sys; print(len(sys.argv))");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "1\n");
    e2e_run_free(&r);
}

static void expect_usage_error(const char *const *argv, const char *needle)
{
    e2e_run r;
    e2e_exec(&r, NULL, argv);
    e2e_expect_exit(&r, 125);
    assert_string_equal(r.out, "");
    if (needle != NULL) {
        e2e_expect_in("stderr", r.err, needle);
    }
    e2e_run_free(&r);
}

static void test_usage_errors(void **state)
{
    (void)state;
    expect_usage_error(E2E_ARGV("run", "--bogus", "-c", "print(1)"), "bogus");
    expect_usage_error(E2E_ARGV("run", "--memory", "lots", "-c", "print(1)"), "--memory");
    expect_usage_error(E2E_ARGV("run", "--memory", "12Q", "-c", "print(1)"), "--memory");
    expect_usage_error(E2E_ARGV("run"), "program");
    expect_usage_error(E2E_ARGV("run", "--json"), NULL);
    expect_usage_error(E2E_ARGV("run", "--fuel", "-1", "-c", "print(1)"), "fuel_budget");
    expect_usage_error(E2E_ARGV("run", "--timeout", "-1", "-c", "print(1)"), "timeout_seconds");
    expect_usage_error(E2E_ARGV("run", "--timeout", "soon", "-c", "print(1)"), "--timeout");
    expect_usage_error(E2E_ARGV("run", "--env", "NOEQUALS", "-c", "print(1)"), "--env");
}

/* Policy errors are found before anything runs: the program would leave a
 * file in the workspace if it had. */
static void test_policy_errors_run_nothing(void **state)
{
    const char *tmp = *state;
    char ws[PATH_MAX], marker[PATH_MAX], missing[PATH_MAX], file[PATH_MAX];
    char mount_rel[PATH_MAX + 16], mount_app[PATH_MAX + 16];
    e2e_path(ws, tmp, "ws");
    assert_int_equal(mkdir(ws, 0755), 0);
    e2e_path(marker, ws, "ran");
    e2e_path(missing, tmp, "missing");
    e2e_path(file, tmp, "file");
    e2e_write(file, "not a directory");
    snprintf(mount_rel, sizeof mount_rel, "%s:extra", tmp);
    snprintf(mount_app, sizeof mount_app, "%s:/app", tmp);
    static const char prog[] = "open('/app/ran', 'w').write('ran')";
    const char *const *cases[] = {
        E2E_ARGV("run", "--workspace", ws, "--data", missing, "-c", prog),
        E2E_ARGV("run", "--workspace", ws, "--data", file, "-c", prog),
        E2E_ARGV("run", "--workspace", ws, "--mount", mount_rel, "-c", prog),
        E2E_ARGV("run", "--workspace", ws, "--mount", mount_app, "-c", prog),
        E2E_ARGV("run", "--workspace", ws, "--fuel", "0", "-c", prog),
        E2E_ARGV("run", "--workspace", ws, "--memory", "0", "-c", prog),
        E2E_ARGV("run", "--workspace", ws, "--stdout-max", "0", "-c", prog),
        E2E_ARGV("run", "--workspace", ws, "--json", "--stderr-max", "-5", "-c", prog),
        E2E_ARGV("run", "--workspace", missing, "-c", prog),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        e2e_run r;
        e2e_exec(&r, NULL, cases[i]);
        e2e_expect_exit(&r, 125);
        assert_string_equal(r.out, "");
        assert_true(r.err_len > 0);
        e2e_run_free(&r);
        if (access(marker, F_OK) == 0) {
            fail_msg("case %zu: the program ran despite the policy error", i);
        }
    }
    assert_int_equal(access(missing, F_OK), -1);
}

/* A usage error with --json is still a usage error: nothing ran, so there is
 * no result object to print. */
static void test_usage_error_with_json(void **state)
{
    (void)state;
    expect_usage_error(E2E_ARGV("run", "--json", "--fuel", "-1", "-c", "print(1)"), "fuel_budget");
}

/* Output well past a pipe buffer arrives whole and in order. */
static void test_large_output_exact(void **state)
{
    (void)state;
    static const char prog[] = "import sys\n"
                               "for i in range(100000):\n"
                               "    sys.stdout.write('%07d\\n' % i)\n";
    e2e_run r;
    E2E_RUN(&r, "run", "-c", prog);
    e2e_expect_exit(&r, 0);
    assert_int_equal(r.out_len, 800000);
    for (size_t i = 0; i < 100000; i += 9973) {
        char want[16];
        snprintf(want, sizeof want, "%07zu\n", i);
        assert_memory_equal(r.out + i * 8, want, 8);
    }
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--json", "-c", prog);
    e2e_expect_exit(&r, 0);
    json_t *j = e2e_json(&r);
    assert_int_equal(json_string_length(json_object_get(j, "stdout")), 800000);
    assert_false(e2e_jbool(j, "stdout_truncated"));
    e2e_run_free(&r);
}

static void test_help(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--help");
    e2e_expect_exit(&r, 0);
    e2e_expect_in("help", r.out, "Usage: vivarium run");
    e2e_run_free(&r);
}

static void test_wasm_missing(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--wasm", "/nonexistent/x.wasm", "-c", "print(1)");
    e2e_expect_exit(&r, 127);
    e2e_expect_in("stderr", r.err, "/nonexistent/x.wasm");
    assert_string_equal(r.out, "");
    e2e_run_free(&r);
}

static void test_wasm_without_artifact(void **state)
{
    char wasm[PATH_MAX], env_cache[PATH_MAX + 32];
    e2e_path(wasm, *state, "tiny.wasm");
    /* A valid, empty module: magic and version. */
    FILE *f = fopen(wasm, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite("\0asm\1\0\0\0", 1, 8, f), 8);
    assert_int_equal(fclose(f), 0);
    /* An empty private cache, so nothing compiled earlier can be found. */
    snprintf(env_cache, sizeof env_cache, "VIVARIUM_CACHE_DIR=%s", (char *)*state);
    e2e_opts o = {.env = E2E_ENV(env_cache)};
    e2e_run r;
    e2e_exec(&r, &o, E2E_ARGV("run", "--wasm", wasm, "-c", "print(1)"));
    e2e_expect_exit(&r, 127);
    e2e_expect_in("stderr", r.err, "vivarium compile");
    e2e_expect_in("stderr", r.err, "tiny.wasm");
    assert_string_equal(r.out, "");
    e2e_run_free(&r);
}

/* --guest NAME: unknown or malformed names are refused before anything
 * runs, --guest and --wasm exclude each other, and the npm guest is always
 * reachable by its name whatever $VIVARIUM_GUEST says. */
static void test_guest_selection(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--guest", "no-such-guest", "-c", "print(1)");
    e2e_expect_exit(&r, 127);
    e2e_expect_in("stderr", r.err, "no guest named 'no-such-guest'");
    assert_string_equal(r.out, "");
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--guest", "../guest", "-c", "print(1)");
    e2e_expect_exit(&r, 127);
    assert_string_equal(r.out, "");
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--guest", "python3.12-npm", "--wasm", "/x.wasm", "-c", "print(1)");
    e2e_expect_exit(&r, 125);
    e2e_expect_in("stderr", r.err, "exclude each other");
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--guest", "python3.12-npm", "-c",
            "import sys; print(sys.version_info[:2])");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "(3, 12)\n");
    e2e_run_free(&r);

    e2e_opts o = {.env = E2E_ENV("VIVARIUM_GUEST=no-such-guest")};
    e2e_exec(&r, &o, E2E_ARGV("run", "-c", "print(1)"));
    e2e_expect_exit(&r, 127);
    e2e_expect_in("stderr", r.err, "no-such-guest");
    e2e_run_free(&r);
}

/* --json changes what is printed, never the exit status. */
static void test_json_keeps_exit_status(void **state)
{
    (void)state;
    static const struct {
        const char *code;
        const char *fuel;
        int status;
    } cases[] = {
        {"print('ok')", "5000000000", 0},
        {"import sys; sys.exit(3)", "5000000000", 3},
        {"import sys; sys.exit(200)", "5000000000", 123},
        {"raise ValueError('boom')", "5000000000", 1},
        {"while True: pass", "1000000", 126},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        e2e_run plain, js;
        E2E_RUN(&plain, "run", "--fuel", cases[i].fuel, "-c", cases[i].code);
        E2E_RUN(&js, "run", "--json", "--fuel", cases[i].fuel, "-c", cases[i].code);
        e2e_expect_exit(&plain, cases[i].status);
        e2e_expect_exit(&js, cases[i].status);
        e2e_json(&js);
        e2e_run_free(&plain);
        e2e_run_free(&js);
    }
}

/* success is true only for exit status 0 with no trap. */
static void test_json_success_semantics(void **state)
{
    (void)state;
    static const struct {
        const char *code;
        const char *fuel;
        bool success;
    } cases[] = {
        {"print('ok')", "5000000000", true},
        {"import sys; sys.exit(0)", "5000000000", true},
        {"import sys; sys.exit()", "5000000000", true},
        {"import sys; sys.exit(2)", "5000000000", false},
        {"raise SystemExit('message')", "5000000000", false},
        {"raise ValueError('boom')", "5000000000", false},
        {"while True: pass", "1000000", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        e2e_run r;
        E2E_RUN(&r, "run", "--json", "--fuel", cases[i].fuel, "-c", cases[i].code);
        json_t *j = e2e_json(&r);
        if (e2e_jbool(j, "success") != cases[i].success) {
            fail_msg("%s: success should be %d\n%s", cases[i].code, (int)cases[i].success, r.out);
        }
        assert_int_equal(cases[i].success, r.exit_code == 0);
        e2e_run_free(&r);
    }
}

static const char *const result_fields[] = {
    "success",
    "exit_code",
    "stdout",
    "stderr",
    "stdout_truncated",
    "stderr_truncated",
    "trapped",
    "trap_reason",
    "trap_message",
    "memory_used_bytes",
    "memory_limit_bytes",
    "duration_ms",
    "fuel_consumed",
    "fuel_budget",
};

static void test_json_fields_clean_run(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "-c", "print(1+1)");
    e2e_expect_exit(&r, 0);
    json_t *j = e2e_json(&r);
    for (size_t i = 0; i < sizeof result_fields / sizeof result_fields[0]; i++) {
        if (json_object_get(j, result_fields[i]) == NULL) {
            fail_msg("JSON result lacks \"%s\": %s", result_fields[i], r.out);
        }
    }
    assert_true(e2e_jbool(j, "success"));
    assert_int_equal(e2e_jint(j, "exit_code"), 0);
    assert_string_equal(e2e_jstr(j, "stdout"), "2\n");
    assert_string_equal(e2e_jstr(j, "stderr"), "");
    assert_false(e2e_jbool(j, "stdout_truncated"));
    assert_false(e2e_jbool(j, "stderr_truncated"));
    assert_false(e2e_jbool(j, "trapped"));
    assert_true(e2e_jnull(j, "trap_reason"));
    assert_true(e2e_jnull(j, "trap_message"));
    assert_true(e2e_jint(j, "memory_used_bytes") > 0);
    assert_true(e2e_jint(j, "memory_used_bytes") <= e2e_jint(j, "memory_limit_bytes"));
    assert_int_equal(e2e_jint(j, "memory_limit_bytes"), 128000000);
    assert_true(json_is_number(json_object_get(j, "duration_ms")));
    assert_true(json_number_value(json_object_get(j, "duration_ms")) >= 0);
    assert_true(e2e_jint(j, "fuel_consumed") > 0);
    assert_int_equal(e2e_jint(j, "fuel_budget"), 10000000000LL);
    /* Exactly one object and nothing else on stdout. */
    assert_true(r.out_len > 0 && r.out[r.out_len - 1] == '\n');
    e2e_run_free(&r);
}

static void test_json_fields_trapped_run(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "--fuel", "1000000", "-c", "while True: pass");
    e2e_expect_exit(&r, 126);
    json_t *j = e2e_json(&r);
    for (size_t i = 0; i < sizeof result_fields / sizeof result_fields[0]; i++) {
        if (json_object_get(j, result_fields[i]) == NULL) {
            fail_msg("JSON result lacks \"%s\": %s", result_fields[i], r.out);
        }
    }
    assert_true(e2e_jbool(j, "trapped"));
    assert_string_equal(e2e_jstr(j, "trap_reason"), "out_of_fuel");
    assert_true(strlen(e2e_jstr(j, "trap_message")) > 0);
    e2e_run_free(&r);
}

/* Bytes that are not UTF-8 must not break the JSON document. */
static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++) {
        n += *s == c;
    }
    return n;
}

static void test_non_utf8_output(void **state)
{
    (void)state;
    static const char prog[] = "import sys\n"
                               "sys.stdout.buffer.write(b'A\\xff\\xfeB')\n"
                               "sys.stdout.flush()\n"
                               "sys.stderr.buffer.write(b'\\xc3\\x28\\x80')\n";
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "-c", prog);
    e2e_expect_exit(&r, 0);
    json_t *j = e2e_json(&r);
    const char *out = e2e_jstr(j, "stdout");
    assert_true(out[0] == 'A' && strlen(out) >= 3 && out[strlen(out) - 1] == 'B');
    e2e_jstr(j, "stderr");
    e2e_run_free(&r);

    /* Without --json the bytes pass through untouched. */
    E2E_RUN(&r, "run", "-c", prog);
    e2e_expect_exit(&r, 0);
    assert_int_equal(r.out_len, 4);
    assert_memory_equal(r.out,
                        "A\xff\xfe"
                        "B",
                        4);
    assert_int_equal(r.err_len, 3);
    assert_memory_equal(r.err, "\xc3\x28\x80", 3);
    e2e_run_free(&r);
}

/* Every character the guest can print survives the trip through JSON:
 * control characters, NUL, quotes, backslashes, characters outside the BMP;
 * and byte sequences that are not valid UTF-8 (surrogates, overlong forms,
 * code points past U+10FFFF, a truncated sequence) still give valid JSON
 * with the valid bytes around them intact. */
static void test_json_escaping(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "-c",
            "import sys; sys.stdout.write('a\\x00b\\x01\\t\"\\\\\\x7f\\u2028\\U0001F600\\n')");
    e2e_expect_exit(&r, 0);
    json_t *out = json_object_get(e2e_json(&r), "stdout");
    static const char want[] = "a\0b\x01\t\"\\\x7f\xe2\x80\xa8\xf0\x9f\x98\x80\n";
    assert_true(json_is_string(out));
    assert_int_equal(json_string_length(out), sizeof want - 1);
    assert_memory_equal(json_string_value(out), want, sizeof want - 1);
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--json", "-c",
            "import sys; sys.stdout.buffer.write("
            "b'<\\xed\\xa0\\x80|\\xf4\\x90\\x80\\x80|\\xc0\\xaf|\\xe2\\x82')");
    e2e_expect_exit(&r, 0);
    const char *s = e2e_jstr(e2e_json(&r), "stdout");
    assert_true(s[0] == '<');
    assert_int_equal(count_char(s, '|'), 3);
    e2e_run_free(&r);
}

/* Unicode in, Unicode out, whatever the host locale (the harness runs the
 * CLI with LC_ALL=C). */
static void test_unicode_round_trip(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--json", "-c", "s = 'h\\u00e9llo \\u2603'; print(s, len(s))");
    e2e_expect_exit(&r, 0);
    assert_string_equal(e2e_jstr(e2e_json(&r), "stdout"), "h\xc3\xa9llo \xe2\x98\x83 7\n");
    e2e_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_print_two),
        cmocka_unit_test(test_runs_on_the_path_the_suite_claims),
        cmocka_unit_test(test_sys_exit_status),
        cmocka_unit_test(test_os_exit_status),
        cmocka_unit_test(test_high_exit_status_is_clamped),
        cmocka_unit_test(test_uncaught_exception),
        cmocka_unit_test(test_uncaught_exception_json),
        cmocka_unit_test(test_traceback_line_numbers),
        cmocka_unit_test(test_stdlib_imports),
        cmocka_unit_test(test_sqlite_in_memory),
        cmocka_unit_test(test_zlib_hashlib_decimal_answers),
        cmocka_unit_test(test_program_from_stdin),
        cmocka_unit_test_setup_teardown(test_program_from_file, e2e_setup_tmp, e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_bad_source, e2e_setup_tmp, e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_missing_file_program, e2e_setup_tmp, e2e_teardown_tmp),
        cmocka_unit_test(test_args_reach_sys_argv),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_usage_error_with_json),
        cmocka_unit_test_setup_teardown(test_policy_errors_run_nothing, e2e_setup_tmp,
                                        e2e_teardown_tmp),
        cmocka_unit_test(test_large_output_exact),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_wasm_missing),
        cmocka_unit_test_setup_teardown(test_wasm_without_artifact, e2e_setup_tmp,
                                        e2e_teardown_tmp),
        cmocka_unit_test(test_guest_selection),
        cmocka_unit_test(test_json_keeps_exit_status),
        cmocka_unit_test(test_json_success_semantics),
        cmocka_unit_test(test_json_fields_clean_run),
        cmocka_unit_test(test_json_fields_trapped_run),
        cmocka_unit_test(test_non_utf8_output),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_unicode_round_trip),
    };
    return cmocka_run_group_tests_name("e2e_run", tests, NULL, NULL);
}
