/*
 * e2e_state.c: sessions that remember (docs/state.md), as the CLI shows
 * them: functions and globals across separate invocations, what could not
 * be kept and why, a garbage state file set aside with an event, forks,
 * the json and off modes, and refusals. Through `vivarium serve`
 * ($VIVARIUM_SOCKET) the same suite also checks the live interpreter:
 * generators and imports persist, and a trap falls back to the saved state.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_harness.h"

static bool served(void)
{
    const char *s = getenv("VIVARIUM_SOCKET");
    return s != NULL && *s != '\0';
}

/* One run in session id of the store at root; code as -c; --json. The
 * result object is returned (owned by r: free r after use). */
static json_t *run_in(e2e_run *r, const char *root, const char *id, const char *code,
                      const char *const *extra)
{
    const char *argv[32];
    size_t n = 0;
    argv[n++] = "run";
    argv[n++] = "--json";
    argv[n++] = "--sessions-dir";
    argv[n++] = root;
    argv[n++] = "--session";
    argv[n++] = id;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 28; i++) {
        argv[n++] = extra[i];
    }
    argv[n++] = "-c";
    argv[n++] = code;
    argv[n] = NULL;
    e2e_exec(r, NULL, argv);
    return e2e_json(r);
}

static json_t *state_of(json_t *result)
{
    json_t *meta = json_object_get(result, "metadata");
    json_t *state = json_object_get(meta, "state");
    if (!json_is_object(state)) {
        fail_msg("no metadata.state in the result");
    }
    return state;
}

static bool names_contain(json_t *arr, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0) {
            return true;
        }
    }
    return false;
}

static void expect_stdout(e2e_run *r, json_t *res, const char *want)
{
    const char *out = e2e_jstr(res, "stdout");
    if (strcmp(out, want) != 0) {
        fail_msg("stdout %s, expected %s; stderr: %s", out, want, e2e_jstr(res, "stderr"));
    }
    (void)r;
}

/* The first acceptance: a function and a global defined in one
 * CLI invocation are there in the next, with no server. */
static void test_functions_and_globals_survive(void **state)
{
    char root[PATH_MAX];
    e2e_path(root, *state, "sessions");
    e2e_run r;
    json_t *res = run_in(&r, root, "S", "x = 41\ndef inc(v): return v+1\n", NULL);
    assert_true(e2e_jbool(res, "success"));
    json_t *st = state_of(res);
    assert_string_equal(e2e_jstr(st, "mode"), "durable");
    assert_true(e2e_jbool(st, "saved"));
    assert_true(names_contain(json_object_get(st, "persisted"), "inc"));
    e2e_run_free(&r);

    res = run_in(&r, root, "S", "print(inc(x))", NULL);
    assert_true(e2e_jbool(res, "success"));
    expect_stdout(&r, res, "42\n");
    e2e_run_free(&r);

    /* And a class with a method, an instance of it, and an import. */
    res =
        run_in(&r, root, "S",
               "import json as j\nclass C:\n    def twice(self, v): return 2 * v\nc = C()\n", NULL);
    assert_true(e2e_jbool(res, "success"));
    e2e_run_free(&r);
    res = run_in(&r, root, "S", "print(c.twice(inc(x)), j.dumps([1]))", NULL);
    assert_true(e2e_jbool(res, "success"));
    expect_stdout(&r, res, "84 [1]\n");
    e2e_run_free(&r);
}

/* What cannot be pickled is named with its reason, and the rest is kept.
 * Through serve the live interpreter keeps even that. */
static void test_unpicklable_is_listed(void **state)
{
    char root[PATH_MAX];
    e2e_path(root, *state, "sessions");
    e2e_run r;
    json_t *res = run_in(&r, root, "U",
                         "import json as j\n"
                         "g = (i for i in range(3))\n"
                         "next(g)\n"
                         "h = ((lambda: k) for k in range(2))\n"
                         "f = open('/app/notes.txt', 'w')\n"
                         "kept = {'a': [1, 2]}\n",
                         NULL);
    assert_true(e2e_jbool(res, "success"));
    json_t *st = state_of(res);
    json_t *np = json_object_get(st, "not_persisted");
    assert_true(json_is_string(json_object_get(np, "g")));
    e2e_expect_in("reason for g", json_string_value(json_object_get(np, "g")), "generator");
    assert_true(json_is_string(json_object_get(np, "h")));
    assert_true(json_is_string(json_object_get(np, "f")));
    assert_null(json_object_get(np, "kept"));
    assert_true(names_contain(json_object_get(st, "persisted"), "kept"));
    e2e_run_free(&r);

    if (served()) {
        /* The live acceptance. */
        res = run_in(&r, root, "U", "print(next(g), j.dumps([1]))", NULL);
        assert_true(e2e_jbool(res, "success"));
        expect_stdout(&r, res, "1 [1]\n");
        assert_true(e2e_jbool(state_of(res), "resumed"));
        e2e_run_free(&r);
    } else {
        res = run_in(&r, root, "U", "print(kept['a'], j.dumps([1]), 'g' in globals())", NULL);
        assert_true(e2e_jbool(res, "success"));
        expect_stdout(&r, res, "[1, 2] [1] False\n");
        assert_false(e2e_jbool(state_of(res), "resumed"));
        e2e_run_free(&r);
    }
}

/* Garbage in place of the saved state: the run still succeeds, with empty
 * state, a reset notice and an event, and the file is set aside. */
static void test_garbage_state_is_set_aside(void **state)
{
    char root[PATH_MAX], log[PATH_MAX], file[PATH_MAX], dir[PATH_MAX];
    e2e_path(root, *state, "sessions");
    e2e_path(log, *state, "events.jsonl");
    e2e_run r;
    json_t *res = run_in(&r, root, "G", "x = 1", NULL);
    assert_true(e2e_jbool(res, "success"));
    e2e_run_free(&r);
    /* Through serve, the live interpreter would not read the file: a trap
     * ends it first, so that the next run starts from the file. */
    if (served()) {
        res = run_in(&r, root, "G", "while True: pass", E2E_ARGV("--fuel", "50000000"));
        e2e_run_free(&r);
    }
    e2e_path(dir, root, "G");
    e2e_path(file, dir, "state");
    assert_true(access(file, F_OK) == 0);
    e2e_write(file, "\x80\x04this is not a state file at all\n");

    res = run_in(&r, root, "G", "print('x' in globals())", E2E_ARGV("--log", log));
    assert_true(e2e_jbool(res, "success"));
    expect_stdout(&r, res, "False\n");
    json_t *reset = json_object_get(state_of(res), "reset");
    assert_true(json_is_object(reset));
    assert_true(strlen(e2e_jstr(reset, "reason")) > 0);
    const char *aside = e2e_jstr(reset, "set_aside");
    size_t len = 0;
    char *kept = e2e_slurp(aside, &len);
    assert_non_null(kept);
    e2e_expect_in("the set-aside file", kept, "not a state file");
    free(kept);
    e2e_run_free(&r);

    size_t loglen = 0;
    char *events = e2e_slurp(log, &loglen);
    assert_non_null(events);
    e2e_expect_in("event log", events, "\"event\":\"sandbox.session.state_reset\"");
    free(events);

    /* And the session goes on normally. */
    res = run_in(&r, root, "G", "y = 2", NULL);
    assert_true(e2e_jbool(res, "success"));
    e2e_run_free(&r);
    res = run_in(&r, root, "G", "print(y)", NULL);
    expect_stdout(&r, res, "2\n");
    e2e_run_free(&r);
}

/* A fork is a copy: what the fork sets, the original does not see. */
static void test_fork_is_a_copy(void **state)
{
    char root[PATH_MAX];
    e2e_path(root, *state, "sessions");
    e2e_run r;
    json_t *res = run_in(&r, root, "ORIG", "x = 1", NULL);
    assert_true(e2e_jbool(res, "success"));
    e2e_run_free(&r);
    E2E_RUN(&r, "session", "--sessions-dir", root, "fork", "ORIG", "COPY");
    e2e_expect_exit(&r, 0);
    e2e_run_free(&r);

    res = run_in(&r, root, "COPY", "y = 1\nprint(x)", NULL);
    expect_stdout(&r, res, "1\n");
    e2e_run_free(&r);
    res = run_in(&r, root, "ORIG", "print('y' in globals(), x)", NULL);
    expect_stdout(&r, res, "False 1\n");
    e2e_run_free(&r);
    res = run_in(&r, root, "COPY", "print(y, x)", NULL);
    expect_stdout(&r, res, "1 1\n");
    e2e_run_free(&r);

    /* Onto an existing session, or from a missing one: refused. */
    E2E_RUN(&r, "session", "--sessions-dir", root, "fork", "ORIG", "COPY");
    e2e_expect_exit(&r, 1);
    e2e_expect_in("stderr", r.err, "exists already");
    e2e_run_free(&r);
    E2E_RUN(&r, "session", "--sessions-dir", root, "fork", "NOPE", "OTHER");
    e2e_expect_exit(&r, 1);
    e2e_run_free(&r);
}

/* --state json keeps JSON-serialisable globals in a readable file. */
static void test_json_mode(void **state)
{
    char root[PATH_MAX], dir[PATH_MAX], file[PATH_MAX];
    e2e_path(root, *state, "sessions");
    e2e_run r;
    json_t *res =
        run_in(&r, root, "J", "d = {'a': [1, 2]}\ns = {1}\n", E2E_ARGV("--state", "json"));
    assert_true(e2e_jbool(res, "success"));
    json_t *st = state_of(res);
    assert_string_equal(e2e_jstr(st, "mode"), "json");
    assert_true(json_is_string(json_object_get(json_object_get(st, "not_persisted"), "s")));
    e2e_run_free(&r);

    e2e_path(dir, root, "J");
    e2e_path(file, dir, "state");
    json_error_t jerr;
    json_t *saved = json_load_file(file, 0, &jerr);
    if (saved == NULL) {
        fail_msg("the json state file does not parse: %s", jerr.text);
    }
    json_t *globals = json_object_get(saved, "globals");
    assert_true(json_is_object(json_object_get(globals, "d")));
    json_decref(saved);

    res = run_in(&r, root, "J", "print(d['a'])", E2E_ARGV("--state", "json"));
    expect_stdout(&r, res, "[1, 2]\n");
    e2e_run_free(&r);
}

/* --state off keeps nothing; a mode that needs a session without one is
 * refused, naming the field; a bad mode is a usage error. */
static void test_off_and_refusals(void **state)
{
    char root[PATH_MAX], policy[PATH_MAX];
    e2e_path(root, *state, "sessions");
    e2e_run r;
    json_t *res = run_in(&r, root, "O", "x = 1", E2E_ARGV("--state", "off"));
    assert_true(e2e_jbool(res, "success"));
    assert_null(json_object_get(json_object_get(res, "metadata"), "state"));
    e2e_run_free(&r);
    res = run_in(&r, root, "O", "print('x' in globals())", E2E_ARGV("--state", "off"));
    expect_stdout(&r, res, "False\n");
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--state", "durable", "-c", "print(1)");
    e2e_expect_exit(&r, 125);
    e2e_expect_in("stderr", r.err, "persist_state");
    e2e_run_free(&r);

    E2E_RUN(&r, "run", "--state", "forever", "-c", "print(1)");
    e2e_expect_exit(&r, 125);
    e2e_expect_in("stderr", r.err, "persist_state");
    e2e_run_free(&r);

    e2e_path(policy, *state, "p.toml");
    e2e_write(policy, "persist_state = \"sometimes\"\n");
    E2E_RUN(&r, "run", "--policy", policy, "-c", "print(1)");
    e2e_expect_exit(&r, 125);
    e2e_expect_in("stderr", r.err, "persist_state");
    e2e_run_free(&r);

    /* Without a session, the default keeps nothing and says nothing. */
    E2E_RUN(&r, "run", "--json", "-c", "print(1)");
    e2e_expect_exit(&r, 0);
    json_t *plain = e2e_json(&r);
    assert_null(json_object_get(json_object_get(plain, "metadata"), "state"));
    e2e_run_free(&r);
}

/* Line numbers, tracebacks and sys.argv are the user's, also with state. */
static void test_program_is_the_users(void **state)
{
    char root[PATH_MAX];
    e2e_path(root, *state, "sessions");
    e2e_run r;
    json_t *res = run_in(&r, root, "T", "import sys\nprint(sys.argv)\n\n1/0\n", NULL);
    assert_false(e2e_jbool(res, "success"));
    expect_stdout(&r, res, "['/.vivarium/main.py']\n");
    const char *err = e2e_jstr(res, "stderr");
    e2e_expect_in("traceback", err, "File \"/.vivarium/main.py\", line 4, in <module>");
    e2e_expect_not_in("traceback", err, "_vivarium");
    e2e_run_free(&r);
    /* A failing run still saves what it defined before failing. */
    res = run_in(&r, root, "T", "a = 5\nraise SystemExit(3)\n", NULL);
    assert_int_equal(e2e_jint(res, "exit_code"), 3);
    e2e_run_free(&r);
    res = run_in(&r, root, "T", "print(a)", NULL);
    expect_stdout(&r, res, "5\n");
    e2e_run_free(&r);
}

/* Each execution reads its own stdin, also in a live interpreter: what a
 * previous one left unread is not part of it. */
static void test_each_run_reads_its_own_stdin(void **state)
{
    char root[PATH_MAX];
    e2e_path(root, *state, "sessions");
    const char *argv1[] = {"run", "--json", "--sessions-dir", root, "--session", "I", "--stdin",
                           "-",   "-c",     "print(input())", NULL};
    e2e_opts o1 = {.stdin_data = "abc\ndef\n", .stdin_len = 8};
    e2e_run r;
    e2e_exec(&r, &o1, argv1);
    json_t *res = e2e_json(&r);
    expect_stdout(&r, res, "abc\n");
    e2e_run_free(&r);
    e2e_opts o2 = {.stdin_data = "xyz\n", .stdin_len = 4};
    e2e_exec(&r, &o2, argv1);
    res = e2e_json(&r);
    expect_stdout(&r, res, "xyz\n");
    e2e_run_free(&r);
}

/* A trap ends a live interpreter; the next run starts from the saved
 * state (and without a server, from the saved state anyway). */
static void test_trap_keeps_previous_state(void **state)
{
    char root[PATH_MAX];
    e2e_path(root, *state, "sessions");
    e2e_run r;
    json_t *res = run_in(&r, root, "F", "x = 5", NULL);
    assert_true(e2e_jbool(res, "success"));
    e2e_run_free(&r);
    res = run_in(&r, root, "F", "x = 6\nwhile True: pass", E2E_ARGV("--fuel", "50000000"));
    assert_false(e2e_jbool(res, "success"));
    assert_string_equal(e2e_jstr(res, "trap_reason"), "out_of_fuel");
    assert_false(e2e_jbool(state_of(res), "saved"));
    e2e_run_free(&r);
    res = run_in(&r, root, "F", "print(x)", NULL);
    assert_true(e2e_jbool(res, "success"));
    expect_stdout(&r, res, "5\n");
    assert_false(e2e_jbool(state_of(res), "resumed"));
    e2e_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_functions_and_globals_survive, e2e_setup_tmp,
                                        e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_unpicklable_is_listed, e2e_setup_tmp,
                                        e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_garbage_state_is_set_aside, e2e_setup_tmp,
                                        e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_fork_is_a_copy, e2e_setup_tmp, e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_json_mode, e2e_setup_tmp, e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_off_and_refusals, e2e_setup_tmp, e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_program_is_the_users, e2e_setup_tmp, e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_trap_keeps_previous_state, e2e_setup_tmp,
                                        e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_each_run_reads_its_own_stdin, e2e_setup_tmp,
                                        e2e_teardown_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
