/*
 * tests/unit/sandbox/test_isolation.c: the jail as a real execution sees it.
 *
 * Runs the real guest through the library built with the test-only hooks
 * (VIV_TEST_HOOKS) and checks, from outside, what the second wall does:
 * the live child shows seccomp and no_new_privs, a direct host open() after
 * the jail is up fails with EACCES (Landlock), and a runtime crash becomes
 * host_error without harming the next execution.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox_internal.h"

static viv_sandbox *make_sandbox(void)
{
    viv_error err = {0};
    viv_policy *p = NULL;
    viv_sandbox *sb = NULL;
    assert_int_equal(viv_policy_new(&p, &err), VIV_OK);
    viv_status st = viv_sandbox_create(p, VIV_TEST_GUEST, &sb, &err);
    if (st != VIV_OK) {
        fail_msg("sandbox: %s", err.message);
    }
    viv_policy_free(p);
    return sb;
}

static viv_result *run(viv_sandbox *sb, const char *code)
{
    viv_error err = {0};
    viv_result *r = NULL;
    viv_status st = viv_sandbox_execute(sb, code, strlen(code), NULL, &r, &err);
    if (st != VIV_OK) {
        fail_msg("execute: %s", err.message);
    }
    return r;
}

static void test_host_open_after_jail_is_refused(void **state)
{
    (void)state;
    viv_sandbox *sb = make_sandbox();
    setenv("VIVARIUM_TEST_HOOK", "open:/etc/hostname", 1);
    viv_result *r = run(sb, "print(1)");
    unsetenv("VIVARIUM_TEST_HOOK");
    /* The file exists and root could open it: only Landlock says no. */
    assert_int_equal(access("/etc/hostname", R_OK), 0);
    assert_int_equal(r->test_hook_errno, EACCES);
    assert_true(r->jail.landlock_applied);
    assert_true(r->jail.seccomp_applied);
    assert_true(r->jail.no_new_privs);
    assert_true(viv_result_success(r));
    viv_result_free(r);
    viv_sandbox_destroy(sb);
}

static void test_runtime_crash_is_a_host_error(void **state)
{
    (void)state;
    viv_sandbox *sb = make_sandbox();
    setenv("VIVARIUM_TEST_HOOK", "crash", 1);
    viv_result *r = run(sb, "print(1)");
    unsetenv("VIVARIUM_TEST_HOOK");
    assert_int_equal(viv_result_trap_reason(r), VIV_TRAP_HOST_ERROR);
    assert_false(viv_result_success(r));
    assert_true(viv_result_trapped(r));
    assert_non_null(strstr(viv_result_trap_message(r), "signal"));
    viv_result_free(r);

    /* The parent and the sandbox carry on. */
    r = run(sb, "print(6*7)");
    size_t n;
    const char *out = viv_result_stdout(r, &n);
    assert_true(viv_result_success(r));
    assert_string_equal(out, "42\n");
    viv_result_free(r);
    viv_sandbox_destroy(sb);
}

typedef struct slow_run {
    viv_sandbox *sb;
    viv_result *result;
    volatile int guest_up;
} slow_run;

static void note_up(void *user, int stream, const char *bytes, size_t len)
{
    (void)stream, (void)bytes, (void)len;
    __atomic_store_n(&((slow_run *)user)->guest_up, 1, __ATOMIC_RELEASE);
}

static void *run_slowly(void *arg)
{
    slow_run *s = arg;
    viv_error err = {0};
    static const char code[] = "import time\nprint('up', flush=True)\ntime.sleep(2)\nprint('done')";
    viv_exec_options eo = {.on_output = note_up, .user = s};
    viv_sandbox_execute(s->sb, code, sizeof code - 1, &eo, &s->result, &err);
    return NULL;
}

/* Any child of this process (the execution's), from /proc/self/task. */
static pid_t find_child(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    pid_t child = 0;
    while (d != NULL && child == 0 && (e = readdir(d)) != NULL) {
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            int pid;
            if (fscanf(f, "%d", &pid) == 1) {
                child = pid;
            }
            fclose(f);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return child;
}

static void test_live_child_is_jailed(void **state)
{
    (void)state;
    slow_run s = {.sb = make_sandbox()};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_slowly, &s), 0);
    /* Nothing here allocates until the child is forked and its guest runs:
     * a child forked while this thread holds the sanitizer allocator's
     * lock inherits it locked (gcc's libasan does not take it around fork). */
    for (int i = 0; i < 3000 && !__atomic_load_n(&s.guest_up, __ATOMIC_ACQUIRE); i++) {
        usleep(10000);
    }
    bool seccomp = false, nnp = false;
    /* Poll until the child is up and jailed (the jail comes before the
     * guest, and the guest then sleeps for 2 s). */
    for (int i = 0; i < 150 && !(seccomp && nnp); i++) {
        usleep(10000);
        pid_t child = find_child();
        if (child == 0) {
            continue;
        }
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", (int)child);
        FILE *f = fopen(path, "r");
        while (f != NULL && fgets(line, sizeof line, f) != NULL) {
            seccomp |= strcmp(line, "Seccomp:\t2\n") == 0;
            nnp |= strcmp(line, "NoNewPrivs:\t1\n") == 0;
        }
        if (f != NULL) {
            fclose(f);
        }
    }
    pthread_join(t, NULL);
    assert_true(seccomp);
    assert_true(nnp);
    assert_non_null(s.result);
    assert_true(viv_result_success(s.result));
    viv_result_free(s.result);
    viv_sandbox_destroy(s.sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_open_after_jail_is_refused),
        cmocka_unit_test(test_runtime_crash_is_a_host_error),
        cmocka_unit_test(test_live_child_is_jailed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
