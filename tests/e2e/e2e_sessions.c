/*
 * e2e_sessions.c: sessions, workspace changes and structured events, as the
 * CLI shows them: created-then-retrieved, the changed-file lists by
 * content, escape events, host-side path refusals, prune, and a JSON-lines
 * log that parses with every required field.
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

/* Every line of a JSON-lines log, parsed; fails the test on a bad line. */
static json_t *read_log(const char *path)
{
    size_t len;
    char *text = e2e_slurp(path, &len);
    json_t *lines = json_array();
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        if (o == NULL || !json_is_object(o)) {
            fail_msg("log line is not a JSON object (%s): %.200s", jerr.text, line);
        }
        json_array_append_new(lines, o);
    }
    free(text);
    return lines;
}

static size_t count_events(json_t *lines, const char *event)
{
    size_t n = 0, i;
    json_t *o;
    json_array_foreach(lines, i, o) { n += strcmp(e2e_jstr(o, "event"), event) == 0; }
    return n;
}

static json_t *first_event(json_t *lines, const char *event)
{
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o)
    {
        if (strcmp(e2e_jstr(o, "event"), event) == 0) {
            return o;
        }
    }
    fail_msg("no %s event in the log", event);
    return NULL;
}

static void test_created_then_retrieved(void **state)
{
    const char *tmp = *state;
    char root[PATH_MAX], log[PATH_MAX];
    e2e_path(root, tmp, "sessions");
    e2e_path(log, tmp, "events.jsonl");
    for (int i = 0; i < 2; i++) {
        e2e_run r;
        E2E_RUN(&r, "run", "--sessions-dir", root, "--session", "S", "--log", log, "-c",
                "print('hi')");
        e2e_expect_exit(&r, 0);
        e2e_run_free(&r);
    }
    json_t *lines = read_log(log);
    size_t i;
    json_t *o;
    int created_at = -1, retrieved_at = -1;
    json_array_foreach(lines, i, o)
    {
        const char *ev = e2e_jstr(o, "event");
        if (strcmp(ev, "sandbox.session.created") == 0 && created_at < 0) {
            created_at = (int)i;
            assert_string_equal(e2e_jstr(o, "session_id"), "S");
        }
        if (strcmp(ev, "sandbox.session.retrieved") == 0 && retrieved_at < 0) {
            retrieved_at = (int)i;
        }
    }
    assert_int_equal(count_events(lines, "sandbox.session.created"), 1);
    assert_int_equal(count_events(lines, "sandbox.session.retrieved"), 1);
    assert_true(created_at >= 0 && retrieved_at > created_at);
    json_decref(lines);
}

static void test_changes_by_content(void **state)
{
    const char *tmp = *state;
    char root[PATH_MAX], log[PATH_MAX];
    e2e_path(root, tmp, "sessions");
    e2e_path(log, tmp, "events.jsonl");
    e2e_run r;
    E2E_RUN(&r, "run", "--sessions-dir", root, "--session", "chg", "-c",
            "open('/app/b.txt','w').write('aaaa')\nopen('/app/c.txt','w').write('bye')");
    e2e_expect_exit(&r, 0);
    e2e_run_free(&r);
    /* Same length, rewritten at once: only content can tell. */
    E2E_RUN(&r, "run", "--sessions-dir", root, "--session", "chg", "--log", log, "--json", "-c",
            "import os\nopen('/app/a.txt','w').write('new')\n"
            "open('/app/b.txt','w').write('bbbb')\nos.remove('/app/c.txt')");
    e2e_expect_exit(&r, 0);
    json_t *j = e2e_json(&r);
    json_t *created = json_object_get(j, "files_created");
    json_t *modified = json_object_get(j, "files_modified");
    json_t *deleted = json_object_get(j, "files_deleted");
    assert_int_equal(json_array_size(created), 1);
    assert_int_equal(json_array_size(modified), 1);
    assert_int_equal(json_array_size(deleted), 1);
    assert_string_equal(json_string_value(json_array_get(created, 0)), "a.txt");
    assert_string_equal(json_string_value(json_array_get(modified, 0)), "b.txt");
    assert_string_equal(json_string_value(json_array_get(deleted, 0)), "c.txt");
    assert_string_equal(e2e_jstr(j, "session_id"), "chg");
    e2e_run_free(&r);

    json_t *lines = read_log(log);
    json_t *done = first_event(lines, "sandbox.execution.complete");
    assert_int_equal(e2e_jint(done, "files_created_count"), 1);
    assert_int_equal(e2e_jint(done, "files_modified_count"), 1);
    assert_int_equal(e2e_jint(done, "files_deleted_count"), 1);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(done, "files_created"), 0)), "a.txt");
    json_decref(lines);
}

static void test_escape_is_a_security_event(void **state)
{
    const char *tmp = *state;
    char log[PATH_MAX];
    e2e_path(log, tmp, "events.jsonl");
    e2e_run r;
    E2E_RUN(&r, "run", "--log", log, "-c",
            "try:\n    open('/app/../x')\nexcept OSError as e:\n    print('refused', e.errno)");
    e2e_expect_exit(&r, 0);
    e2e_expect_in("stdout", r.out, "refused");
    e2e_run_free(&r);
    json_t *lines = read_log(log);
    json_t *ev = first_event(lines, "sandbox.security.path_escape");
    assert_string_equal(e2e_jstr(ev, "level"), "warning");
    assert_true(strlen(e2e_jstr(ev, "execution_id")) == 32);
    json_decref(lines);
}

static void test_host_paths_are_confined(void **state)
{
    const char *tmp = *state;
    char root[PATH_MAX];
    e2e_path(root, tmp, "sessions");
    e2e_run r;
    E2E_RUN(&r, "session", "--sessions-dir", root, "new", "--id", "S");
    e2e_expect_exit(&r, 0);
    e2e_run_free(&r);
    const char *bad[] = {"../../etc/passwd", "/etc/passwd", "a/../../x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        E2E_RUN(&r, "session", "--sessions-dir", root, "read", "S", bad[i]);
        assert_int_not_equal(r.exit_code, 0);
        e2e_expect_not_in("stdout", r.out, "root:");
        e2e_run_free(&r);
    }
    E2E_RUN(&r, "session", "--sessions-dir", root, "read", "S/../x", "a");
    assert_int_not_equal(r.exit_code, 0);
    e2e_run_free(&r);
}

static void test_write_read_and_run(void **state)
{
    const char *tmp = *state;
    char root[PATH_MAX];
    e2e_path(root, tmp, "sessions");
    e2e_run r;
    e2e_opts o = {.stdin_data = "from the host", .stdin_len = 13};
    e2e_exec(&r, &o, E2E_ARGV("session", "--sessions-dir", root, "write", "W", "in/note.txt"));
    /* Writing into a session that does not exist yet is refused. */
    assert_int_not_equal(r.exit_code, 0);
    e2e_run_free(&r);
    E2E_RUN(&r, "session", "--sessions-dir", root, "new", "--id", "W");
    e2e_run_free(&r);
    e2e_exec(&r, &o, E2E_ARGV("session", "--sessions-dir", root, "write", "W", "in/note.txt"));
    e2e_expect_exit(&r, 0);
    e2e_run_free(&r);
    E2E_RUN(&r, "run", "--sessions-dir", root, "--session", "W", "-c",
            "print(open('/app/in/note.txt').read())\nopen('/app/out.txt','w').write('42')");
    e2e_expect_exit(&r, 0);
    e2e_expect_in("stdout", r.out, "from the host");
    e2e_run_free(&r);
    E2E_RUN(&r, "session", "--sessions-dir", root, "read", "W", "out.txt");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "42");
    e2e_run_free(&r);
    E2E_RUN(&r, "session", "--sessions-dir", root, "files", "W", "--pattern", "*.txt");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "out.txt\n");
    e2e_run_free(&r);
}

static void test_prune_dry_run_deletes_nothing(void **state)
{
    const char *tmp = *state;
    char root[PATH_MAX], p1[PATH_MAX], p2[PATH_MAX];
    e2e_path(root, tmp, "sessions");
    e2e_run r;
    E2E_RUN(&r, "session", "--sessions-dir", root, "new", "--id", "old1");
    e2e_run_free(&r);
    E2E_RUN(&r, "session", "--sessions-dir", root, "new", "--id", "old2");
    e2e_run_free(&r);
    sleep(1);
    E2E_RUN(&r, "session", "--sessions-dir", root, "prune", "--older-than", "0s", "--dry-run");
    e2e_expect_exit(&r, 0);
    e2e_expect_in("stdout", r.out, "old1");
    e2e_expect_in("stdout", r.out, "old2");
    e2e_run_free(&r);
    e2e_path(p1, root, "old1");
    e2e_path(p2, root, "old2");
    assert_int_equal(access(p1, F_OK), 0);
    assert_int_equal(access(p2, F_OK), 0);
    E2E_RUN(&r, "session", "--sessions-dir", root, "prune", "--older-than", "0s");
    e2e_expect_exit(&r, 0);
    e2e_run_free(&r);
    assert_int_not_equal(access(p1, F_OK), 0);
    assert_int_not_equal(access(p2, F_OK), 0);
}

static void test_invalid_session_id(void **state)
{
    const char *tmp = *state;
    char root[PATH_MAX], log[PATH_MAX];
    e2e_path(root, tmp, "sessions");
    e2e_path(log, tmp, "events.jsonl");
    e2e_run r;
    E2E_RUN(&r, "run", "--sessions-dir", root, "--session", "../evil", "--log", log, "-c", "1");
    assert_int_equal(r.exit_code, 125);
    e2e_expect_in("stderr", r.err, "session");
    e2e_run_free(&r);
    json_t *lines = read_log(log);
    first_event(lines, "sandbox.security.invalid_session_id");
    json_decref(lines);
    /* Nothing was made on disk for the bad id. */
    char evil[PATH_MAX];
    e2e_path(evil, tmp, "evil");
    assert_int_not_equal(access(evil, F_OK), 0);
}

static void test_hundred_runs_log_parses(void **state)
{
    const char *tmp = *state;
    char log[PATH_MAX];
    e2e_path(log, tmp, "events.jsonl");
    for (int i = 0; i < 100; i++) {
        e2e_run r;
        E2E_RUN(&r, "run", "--log", log, "-c", i % 10 == 9 ? "raise SystemExit(2)" : "print(1)");
        assert_int_equal(r.exit_code, i % 10 == 9 ? 2 : 0);
        e2e_run_free(&r);
    }
    static const char *const start_fields[] = {"ts",      "level",      "event", "execution_id",
                                               "runtime", "session_id", "policy"};
    static const char *const complete_fields[] = {"ts",
                                                  "level",
                                                  "event",
                                                  "execution_id",
                                                  "runtime",
                                                  "session_id",
                                                  "success",
                                                  "exit_code",
                                                  "trap_reason",
                                                  "duration_ms",
                                                  "fuel_consumed",
                                                  "memory_used_bytes",
                                                  "stdout_bytes",
                                                  "stderr_bytes",
                                                  "stdout_truncated",
                                                  "stderr_truncated",
                                                  "files_created_count",
                                                  "files_modified_count",
                                                  "files_deleted_count",
                                                  "files_created",
                                                  "files_modified",
                                                  "files_deleted"};
    json_t *lines = read_log(log);
    assert_int_equal(count_events(lines, "sandbox.execution.start"), 100);
    assert_int_equal(count_events(lines, "sandbox.execution.complete"), 100);
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o)
    {
        const char *ev = e2e_jstr(o, "event");
        bool start = strcmp(ev, "sandbox.execution.start") == 0;
        bool done = strcmp(ev, "sandbox.execution.complete") == 0;
        const char *const *fields = start ? start_fields : complete_fields;
        size_t n = start  ? sizeof start_fields / sizeof *start_fields
                   : done ? sizeof complete_fields / sizeof *complete_fields
                          : 0;
        for (size_t k = 0; k < n; k++) {
            if (json_object_get(o, fields[k]) == NULL) {
                fail_msg("%s line %zu lacks %s", ev, i, fields[k]);
            }
        }
        if (start) {
            json_t *policy = json_object_get(o, "policy");
            assert_non_null(json_object_get(policy, "env_keys"));
            assert_null(json_object_get(policy, "env"));
        }
    }
    json_decref(lines);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_created_then_retrieved, e2e_setup_tmp,
                                        e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_changes_by_content, e2e_setup_tmp, e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_escape_is_a_security_event, e2e_setup_tmp,
                                        e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_host_paths_are_confined, e2e_setup_tmp,
                                        e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_write_read_and_run, e2e_setup_tmp, e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_prune_dry_run_deletes_nothing, e2e_setup_tmp,
                                        e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_invalid_session_id, e2e_setup_tmp, e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_hundred_runs_log_parses, e2e_setup_tmp,
                                        e2e_teardown_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
