/*
 * tests/unit/sandbox/test_execution.c: executions through the public API
 * only, as a library user sees them: cancellation from another thread, and
 * a token triggered before the start, and the warm path (a pool of forked
 * interpreters) against the cold one.
 */
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>

#include "vivarium.h"

static viv_sandbox *make_sandbox(double timeout_s)
{
    viv_error err = {0};
    viv_policy *p = NULL;
    viv_sandbox *sb = NULL;
    assert_int_equal(viv_policy_new(&p, &err), VIV_OK);
    assert_int_equal(viv_policy_set_timeout_seconds(p, timeout_s, &err), VIV_OK);
    assert_int_equal(viv_policy_set_fuel_budget(p, (int64_t)1e13, &err), VIV_OK);
    viv_status st = viv_sandbox_create(p, VIV_TEST_GUEST, &sb, &err);
    if (st != VIV_OK) {
        fail_msg("sandbox: %s", err.message);
    }
    viv_policy_free(p);
    return sb;
}

/* Triggers the token once the guest has printed (so the loop is running,
 * however slow start-up is on a loaded machine), after delay_ms. */
struct trigger_later {
    viv_cancel *token;
    unsigned delay_ms;
    volatile int started;
    volatile int running;
};

static void *trigger_after_delay(void *arg)
{
    struct trigger_later *t = arg;
    __atomic_store_n(&t->running, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 6000 && !__atomic_load_n(&t->started, __ATOMIC_ACQUIRE); i++) {
        usleep(10 * 1000);
    }
    usleep(t->delay_ms * 1000u);
    viv_cancel_trigger(t->token);
    return NULL;
}

static void note_output(void *user, int stream, const char *bytes, size_t len)
{
    struct trigger_later *t = user;
    if (stream == 1 && memmem(bytes, len, "started", 7) != NULL) {
        __atomic_store_n(&t->started, 1, __ATOMIC_RELEASE);
    }
}

static void test_cancel_stops_a_busy_loop(void **state)
{
    (void)state;
    viv_sandbox *sb = make_sandbox(20);
    viv_error err = {0};
    viv_cancel *token = NULL;
    assert_int_equal(viv_cancel_create(&token, &err), VIV_OK);
    assert_false(viv_cancel_triggered(token));
    struct trigger_later t = {token, 200, 0, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, trigger_after_delay, &t), 0);
    /* Fork only once the thread has started: a thread still setting
     * itself up may hold the sanitizer allocator's lock, which a child
     * forked at that moment inherits locked (gcc's libasan does not take
     * it around fork). glibc's malloc, in production builds, does. */
    while (!__atomic_load_n(&t.running, __ATOMIC_ACQUIRE)) {
        usleep(1000);
    }
    static const char code[] = "print('started', flush=True)\nwhile True: pass\n";
    viv_exec_options eo = {.cancel = token, .on_output = note_output, .user = &t};
    viv_result *r = NULL;
    assert_int_equal(viv_sandbox_execute(sb, code, strlen(code), &eo, &r, &err), VIV_OK);
    double took = viv_result_duration_ms(r) / 1000.0;
    pthread_join(th, NULL);
    assert_true(viv_cancel_triggered(token));
    assert_int_equal(viv_result_trap_reason(r), VIV_TRAP_CANCELLED);
    assert_string_equal(viv_trap_reason_name(VIV_TRAP_CANCELLED), "cancelled");
    assert_false(viv_result_success(r));
    assert_true(viv_result_trapped(r));
    /* Output produced before the cancel is kept. */
    assert_non_null(strstr(viv_result_stdout(r, NULL), "started"));
    assert_non_null(strstr(viv_result_stderr(r, NULL), "Execution trapped: cancelled"));
    /* Well before the 20 s deadline: the cancel, not the timeout, stopped it. */
    assert_true(took < 15.0);
    viv_result_free(r);

    /* The token stays triggered until reset: the next run stops before it
     * starts, and prints nothing. */
    static const char hello[] = "print('should not run')\n";
    assert_int_equal(viv_sandbox_execute(sb, hello, strlen(hello), &eo, &r, &err), VIV_OK);
    assert_int_equal(viv_result_trap_reason(r), VIV_TRAP_CANCELLED);
    assert_null(strstr(viv_result_stdout(r, NULL), "should not run"));
    viv_result_free(r);

    viv_cancel_reset(token);
    assert_false(viv_cancel_triggered(token));
    assert_int_equal(viv_sandbox_execute(sb, hello, strlen(hello), &eo, &r, &err), VIV_OK);
    assert_true(viv_result_success(r));
    assert_string_equal(viv_result_stdout(r, NULL), "should not run\n");
    viv_result_free(r);
    viv_cancel_destroy(token);
    viv_sandbox_destroy(sb);
}

/* --- warm against cold ----------------------------------------------------- */

typedef struct pair {
    viv_sandbox *cold, *warm;
    viv_warm_pool *pool;
} pair;

static pair make_pair(void (*tune)(viv_policy *))
{
    viv_error err = {0};
    viv_policy *p = NULL;
    pair pr = {0};
    assert_int_equal(viv_policy_new(&p, &err), VIV_OK);
    assert_int_equal(viv_policy_set_timeout_seconds(p, 10, &err), VIV_OK);
    if (tune != NULL) {
        tune(p);
    }
    if (viv_sandbox_create(p, VIV_TEST_GUEST, &pr.cold, &err) != VIV_OK ||
        viv_sandbox_create(p, VIV_TEST_GUEST, &pr.warm, &err) != VIV_OK) {
        fail_msg("sandbox: %s", err.message);
    }
    viv_policy_free(p);
    assert_int_equal(viv_warm_pool_create(NULL, &pr.pool, &err), VIV_OK);
    viv_sandbox_set_warm_pool(pr.warm, pr.pool);
    if (viv_sandbox_prewarm(pr.warm, &err) != VIV_OK) {
        fail_msg("prewarm: %s", err.message);
    }
    return pr;
}

static void free_pair(pair *pr)
{
    viv_sandbox_destroy(pr->cold);
    viv_sandbox_destroy(pr->warm);
    viv_warm_pool_destroy(pr->pool);
}

static viv_result *exec_on(viv_sandbox *sb, const char *code, const viv_exec_options *eo)
{
    viv_error err = {0};
    viv_result *r = NULL;
    if (viv_sandbox_execute(sb, code, strlen(code), eo, &r, &err) != VIV_OK) {
        fail_msg("execute: %s", err.message);
    }
    return r;
}

static void assert_same(const char *code, const viv_result *c, const viv_result *w)
{
    if (strcmp(viv_result_stdout(c, NULL), viv_result_stdout(w, NULL)) != 0 ||
        strcmp(viv_result_stderr(c, NULL), viv_result_stderr(w, NULL)) != 0 ||
        viv_result_exit_code(c) != viv_result_exit_code(w) ||
        viv_result_trap_reason(c) != viv_result_trap_reason(w) ||
        viv_result_success(c) != viv_result_success(w) ||
        viv_result_stdout_truncated(c) != viv_result_stdout_truncated(w)) {
        fail_msg("cold and warm differ for:\n%s\n-- cold: exit %d %s\n%s\n%s\n-- warm: exit %d "
                 "%s\n%s\n%s",
                 code, viv_result_exit_code(c),
                 viv_trap_reason_name(viv_result_trap_reason(c)) ?: "-", viv_result_stdout(c, NULL),
                 viv_result_stderr(c, NULL), viv_result_exit_code(w),
                 viv_trap_reason_name(viv_result_trap_reason(w)) ?: "-", viv_result_stdout(w, NULL),
                 viv_result_stderr(w, NULL));
    }
}

static const char *const same_programs[] = {
    "print(1)",
    "import sys, os\nprint(sys.argv, __name__, __file__, sorted(os.environ))",
    "import sys\nprint(sys.stdin.read().upper())",
    "raise ValueError('boom')",
    "def f():\n    raise KeyError('deep')\ntry:\n    f()\nexcept KeyError as e:\n"
    "    raise RuntimeError('chained') from e",
    "import sys\nsys.exit(3)",
    "import sys\nsys.exit('bye')",
    "raise SystemExit",
    "x = (",
    "print('a')\nimport sys\nprint('b', file=sys.stderr)\nprint(undefined_name)",
    "import atexit\natexit.register(lambda: print('at exit'))\nprint('main')",
    "class A:\n    def __del__(self):\n        print('released')\na = A()",
    "f = open('/app/out.txt', 'w')\nf.write('unflushed')\n",
    "import os\nos.mkdir('/app/d')\nprint(sorted(os.listdir('/app')))",
    "open('/etc/passwd')",
    "print('x' * 5000)",
    "while True: pass",
    "def f(): return f()\nf()",
    "import time\ntime.sleep(30)",
    "b = bytearray(200 * 1024 * 1024)",
    "import json, re, csv, io\nw = csv.writer(io.StringIO())\n"
    "print(json.dumps({'k': re.sub('a', 'b', 'aaa')}))",
    "import pickle\nclass P: pass\nprint(type(pickle.loads(pickle.dumps(P()))).__name__)",
};

static void tune_limits(viv_policy *p)
{
    viv_error err = {0};
    assert_int_equal(viv_policy_set_fuel_budget(p, 1000000000, &err), VIV_OK);
    assert_int_equal(viv_policy_set_timeout_seconds(p, 2, &err), VIV_OK);
    assert_int_equal(viv_policy_set_memory_bytes(p, 96 << 20, &err), VIV_OK);
    assert_int_equal(viv_policy_set_stdout_max_bytes(p, 1000, &err), VIV_OK);
}

static void test_warm_matches_cold(void **state)
{
    (void)state;
    pair pr = make_pair(tune_limits);
    static const uint8_t input[] = "from stdin";
    viv_exec_options eo = {.stdin_data = input, .stdin_len = sizeof input - 1};
    for (size_t i = 0; i < sizeof same_programs / sizeof *same_programs; i++) {
        viv_result *c = exec_on(pr.cold, same_programs[i], &eo);
        viv_result *w = exec_on(pr.warm, same_programs[i], &eo);
        assert_false(viv_result_warm(c));
        if (!viv_result_warm(w)) {
            fail_msg("not served warm: %s", same_programs[i]);
        }
        assert_same(same_programs[i], c, w);
        viv_result_free(c);
        viv_result_free(w);
    }
    free_pair(&pr);
}

static void test_warm_fuel_counts_only_the_execution(void **state)
{
    (void)state;
    pair pr = make_pair(NULL);
    viv_result *c = exec_on(pr.cold, "print(1)", NULL);
    viv_result *w = exec_on(pr.warm, "print(1)", NULL);
    assert_true(viv_result_warm(w));
    /* Cold pays CPython's start-up (tens of millions with our guest, hundreds
     * with the npm one); warm does not. */
    assert_true(viv_result_fuel_consumed(c) > 20000000);
    assert_true(viv_result_fuel_consumed(c) > 10 * viv_result_fuel_consumed(w));
    assert_true(viv_result_fuel_consumed(w) < 20000000);
    assert_true(viv_result_fuel_consumed(w) > 0);
    viv_result *w2 = exec_on(pr.warm, "print(1)", NULL);
    assert_int_equal(viv_result_fuel_consumed(w), viv_result_fuel_consumed(w2));
    viv_result_free(c);
    viv_result_free(w);
    viv_result_free(w2);
    free_pair(&pr);
}

/* Execution A leaves state everywhere it can; B, in another session, must
 * see exactly what a first execution sees. */
static void test_warm_executions_do_not_leak(void **state)
{
    (void)state;
    pair pr = make_pair(NULL);
    viv_error err = {0};
    char root[] = "/tmp/viv-leak-XXXXXX";
    assert_non_null(mkdtemp(root));
    viv_session_store *store = NULL;
    assert_int_equal(viv_session_store_open(root, &store, &err), VIV_OK);
    static const char probe[] =
        "import os, sys, random\n"
        "fds = []\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        os.fstat(fd)\n"
        "        fds.append(fd)\n"
        "    except OSError:\n"
        "        pass\n"
        "print('secret' in globals(), os.environ.get('LEAK'), sys.argv, fds,\n"
        "      'leaked_mod' in sys.modules, getattr(sys, 'leak', None),\n"
        "      sorted(os.listdir('/app')))\n"
        "print(random.random() != 0.5)\n";
    static const char polluter[] = "import os, sys, types\n"
                                   "secret = 42\n"
                                   "os.environ['LEAK'] = 'yes'\n"
                                   "sys.argv.append('leak')\n"
                                   "sys.leak = True\n"
                                   "sys.modules['leaked_mod'] = types.ModuleType('leaked_mod')\n"
                                   "held = [open('/app/held.txt', 'w') for _ in range(5)]\n"
                                   "fd = os.open('/app/raw.txt', os.O_WRONLY | os.O_CREAT)\n"
                                   "os.write(fd, b'x')\n"
                                   "import random\n"
                                   "random.seed(0.5)\n"
                                   "print('unflushed', end='')\n";
    viv_exec_options a = {.sessions = store, .session_id = "session-a"};
    viv_exec_options b = {.sessions = store, .session_id = "session-b"};
    viv_result *first = exec_on(pr.warm, probe, &b);
    viv_result *pol = exec_on(pr.warm, polluter, &a);
    viv_result *after = exec_on(pr.warm, probe, &b);
    assert_true(viv_result_warm(first) && viv_result_warm(pol) && viv_result_warm(after));
    assert_true(viv_result_success(pol));
    assert_string_equal(viv_result_stdout(pol, NULL), "unflushed");
    assert_string_equal(viv_result_stdout(first, NULL), viv_result_stdout(after, NULL));
    /* (The open descriptors are the mounts, as in any first execution.) */
    assert_non_null(strstr(viv_result_stdout(after, NULL), "False None ['/.vivarium/main.py'] ["));
    assert_non_null(strstr(viv_result_stdout(after, NULL), "] False None []\nTrue\n"));
    viv_result_free(first);
    viv_result_free(pol);
    viv_result_free(after);
    viv_session_store_close(store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
    free_pair(&pr);
}

/* Kill every child of this process: between executions, that is the
 * zygote. Returns how many were killed. */
static int kill_children(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    FILE *f = fopen(path, "r");
    int n = 0, pid;
    while (f != NULL && fscanf(f, "%d", &pid) == 1) {
        kill(pid, SIGKILL);
        n++;
    }
    if (f != NULL) {
        fclose(f);
    }
    return n;
}

static void test_a_dead_zygote_is_replaced(void **state)
{
    (void)state;
    pair pr = make_pair(NULL);
    viv_result *r = exec_on(pr.warm, "print(1)", NULL);
    assert_true(viv_result_warm(r));
    viv_result_free(r);
    assert_true(kill_children() >= 1);
    usleep(100 * 1000);
    /* The next execution must not fail because of it: cold or warm, the
     * result is right; and soon it is warm again. */
    bool warm_again = false;
    for (int i = 0; i < 3; i++) {
        r = exec_on(pr.warm, "print(6 * 7)", NULL);
        assert_true(viv_result_success(r));
        assert_string_equal(viv_result_stdout(r, NULL), "42\n");
        warm_again = viv_result_warm(r);
        viv_result_free(r);
    }
    assert_true(warm_again);
    free_pair(&pr);
}

static void test_warm_pool_rejects_bad_preimports(void **state)
{
    (void)state;
    viv_error err = {0};
    viv_warm_pool *pool = NULL;
    const char *bad[] = {"json", "os; import socket"};
    viv_warm_options o = {.preimports = bad, .npreimports = 2};
    assert_int_equal(viv_warm_pool_create(&o, &pool, &err), VIV_EINVAL);
    assert_null(pool);
    assert_string_equal(err.field, "preimports");
}

/* A policy without a fixed hash seed cannot share one interpreter's: it is
 * served cold, with the reason available from prewarm. */
static void unfix_hash_seed(viv_policy *p)
{
    viv_error err = {0};
    assert_int_equal(viv_policy_set_env(p, "PYTHONHASHSEED", "random", &err), VIV_OK);
}

static void test_random_hash_seed_runs_cold(void **state)
{
    (void)state;
    viv_error err = {0};
    viv_policy *p = NULL;
    viv_sandbox *sb = NULL;
    viv_warm_pool *pool = NULL;
    assert_int_equal(viv_policy_new(&p, &err), VIV_OK);
    unfix_hash_seed(p);
    assert_int_equal(viv_sandbox_create(p, VIV_TEST_GUEST, &sb, &err), VIV_OK);
    assert_int_equal(viv_warm_pool_create(NULL, &pool, &err), VIV_OK);
    viv_sandbox_set_warm_pool(sb, pool);
    assert_int_equal(viv_sandbox_prewarm(sb, &err), VIV_EPOLICY);
    assert_non_null(strstr(err.message, "PYTHONHASHSEED"));
    viv_result *r = exec_on(sb, "print(hash('abc') != 0)", NULL);
    assert_false(viv_result_warm(r));
    assert_string_equal(viv_result_stdout(r, NULL), "True\n");
    viv_result_free(r);
    viv_sandbox_destroy(sb);
    viv_warm_pool_destroy(pool);
    viv_policy_free(p);
}

/* --- interpreter state (docs/state.md) ----------------------------------------- */

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (d != NULL && readdir(d) != NULL) {
        n++;
    }
    if (d != NULL) {
        closedir(d);
    }
    return n;
}

/* metadata.state of a result, as a new reference, or NULL. */
static json_t *state_meta(const viv_result *r)
{
    char *text = NULL;
    viv_error err = {0};
    assert_int_equal(viv_result_to_json(r, &text, &err), VIV_OK);
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);
    free(text);
    assert_non_null(o);
    json_t *st = json_object_get(json_object_get(o, "metadata"), "state");
    json_incref(st);
    json_decref(o);
    return st;
}

static viv_session_store *temp_store(char root[32])
{
    snprintf(root, 32, "/tmp/viv-state-XXXXXX");
    assert_non_null(mkdtemp(root));
    viv_session_store *store = NULL;
    viv_error err = {0};
    assert_int_equal(viv_session_store_open(root, &store, &err), VIV_OK);
    return store;
}

static void drop_store(viv_session_store *store, const char *root)
{
    viv_session_store_close(store);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

/* The session runner is invisible: every program gives what it gives
 * without state, cold; and on a live interpreter, apart from what a live
 * interpreter keeps on purpose (objects stay alive, so no __del__ and no
 * exit handlers at the end of an execution). */
static void test_state_runner_is_transparent(void **state)
{
    (void)state;
    pair pr = make_pair(tune_limits);
    char root[32];
    viv_session_store *store = temp_store(root);
    static const uint8_t input[] = "from stdin";
    viv_exec_options plain = {.stdin_data = input, .stdin_len = sizeof input - 1};
    for (size_t i = 0; i < sizeof same_programs / sizeof *same_programs; i++) {
        char id[32];
        snprintf(id, sizeof id, "cold-%zu", i);
        viv_exec_options eo = plain;
        eo.sessions = store;
        eo.session_id = id;
        viv_result *c = exec_on(pr.cold, same_programs[i], &plain);
        viv_result *s = exec_on(pr.cold, same_programs[i], &eo);
        assert_same(same_programs[i], c, s);
        bool keeps_objects = strstr(same_programs[i], "__del__") != NULL ||
                             strstr(same_programs[i], "atexit") != NULL;
        if (!keeps_objects) {
            snprintf(id, sizeof id, "live-%zu", i);
            viv_result *w = exec_on(pr.warm, same_programs[i], &eo);
            assert_true(viv_result_warm(w));
            assert_same(same_programs[i], c, w);
            viv_result_free(w);
        }
        viv_result_free(c);
        viv_result_free(s);
    }
    drop_store(store, root);
    free_pair(&pr);
}

/* A live interpreter keeps everything, each execution with its own fresh
 * budget; when it ends, the next starts from the saved state; and the
 * library holds no descriptor more than before once the pool is gone. */
static void test_live_session_keeps_everything(void **state)
{
    (void)state;
    int fds_before = open_fds();
    pair pr = make_pair(NULL);
    char root[32];
    viv_session_store *store = temp_store(root);
    viv_exec_options eo = {.sessions = store, .session_id = "L"};
    viv_result *r = exec_on(pr.warm, "g = (i for i in range(3))\nnext(g)\nx = 5\n", &eo);
    assert_true(viv_result_success(r));
    json_t *st = state_meta(r);
    assert_true(json_is_true(json_object_get(st, "live")));
    assert_true(json_is_false(json_object_get(st, "resumed")));
    json_decref(st);
    int64_t first_fuel = viv_result_fuel_consumed(r);
    viv_result_free(r);

    r = exec_on(pr.warm, "print(next(g), x)", &eo);
    assert_string_equal(viv_result_stdout(r, NULL), "1 5\n");
    st = state_meta(r);
    assert_true(json_is_true(json_object_get(st, "resumed")));
    json_decref(st);
    /* Its own budget: not the previous execution's plus its own. */
    assert_true(viv_result_fuel_consumed(r) < first_fuel + 20000000);
    viv_result_free(r);

    /* os._exit ends the interpreter: nothing is saved by this run, and the
     * next one starts from the state the previous run saved. */
    r = exec_on(pr.warm, "x = 6\nimport os\nos._exit(0)", &eo);
    st = state_meta(r);
    assert_true(json_is_false(json_object_get(st, "live")));
    json_decref(st);
    viv_result_free(r);
    r = exec_on(pr.warm, "print(x, 'g' in globals())", &eo);
    assert_string_equal(viv_result_stdout(r, NULL), "5 False\n");
    st = state_meta(r);
    assert_true(json_is_false(json_object_get(st, "resumed")));
    json_decref(st);
    viv_result_free(r);

    /* An unclosed file's buffered data reaches the workspace at the end of
     * the execution, as it would when the interpreter exits. */
    r = exec_on(pr.warm, "f = open('/app/log.txt', 'w')\nf.write('kept')\n", &eo);
    viv_result_free(r);
    char path[96];
    snprintf(path, sizeof path, "%s/L/workspace/log.txt", root);
    FILE *f = fopen(path, "r");
    char buf[16] = {0};
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "kept");

    drop_store(store, root);
    free_pair(&pr);
    assert_int_equal(open_fds(), fds_before);
}

static bool resumed(const viv_result *r)
{
    json_t *st = state_meta(r);
    bool yes = json_is_true(json_object_get(st, "resumed"));
    if (getenv("VIV_TEST_VERBOSE") != NULL) {
        char *t = json_dumps(st, 0);
        print_message("state: %s warm %d\n", t, viv_result_warm(r));
        free(t);
    }
    json_decref(st);
    return yes;
}

/* The live-interpreter cap and idle time: the least recently used idle
 * one makes room, an idle one ends, and the sessions go on from their
 * saved state. */
static void test_live_interpreters_are_evicted(void **state)
{
    (void)state;
    viv_error err = {0};
    viv_sandbox *sb = make_sandbox(10);
    viv_warm_pool *pool = NULL;
    viv_warm_options o = {.max_live = 1, .live_idle_s = 1.5};
    assert_int_equal(viv_warm_pool_create(&o, &pool, &err), VIV_OK);
    viv_sandbox_set_warm_pool(sb, pool);
    char root[32];
    viv_session_store *store = temp_store(root);
    viv_exec_options a = {.sessions = store, .session_id = "A"};
    viv_exec_options b = {.sessions = store, .session_id = "B"};
    viv_result *r = exec_on(sb, "x = 'a'", &a);
    viv_result_free(r);
    r = exec_on(sb, "print(x)", &a);
    assert_true(resumed(r));
    viv_result_free(r);
    r = exec_on(sb, "x = 'b'", &b); /* A makes room */
    viv_result_free(r);
    r = exec_on(sb, "print(x)", &a);
    assert_string_equal(viv_result_stdout(r, NULL), "a\n");
    assert_false(resumed(r));
    viv_result_free(r);
    r = exec_on(sb, "print(x)", &a);
    assert_true(resumed(r));
    viv_result_free(r);
    usleep(2000 * 1000);
    r = exec_on(sb, "print(x)", &a); /* idle too long */
    assert_string_equal(viv_result_stdout(r, NULL), "a\n");
    assert_false(resumed(r));
    viv_result_free(r);
    drop_store(store, root);
    viv_sandbox_destroy(sb);
    viv_warm_pool_destroy(pool);
    viv_warm_options bad = {.live_idle_s = -1};
    assert_int_equal(viv_warm_pool_create(&bad, &pool, &err), VIV_EINVAL);
    assert_string_equal(err.field, "live_idle_s");
}

/* A fork is a copy of the workspace and of the saved state. */
static void test_fork_copies_state(void **state)
{
    (void)state;
    viv_sandbox *sb = make_sandbox(10);
    char root[32];
    viv_session_store *store = temp_store(root);
    viv_error err = {0};
    viv_exec_options a = {.sessions = store, .session_id = "A"};
    viv_exec_options b = {.sessions = store, .session_id = "B"};
    viv_result *r = exec_on(sb, "def f(): return 41\nopen('/app/w.txt', 'w').write('w')\n", &a);
    viv_result_free(r);
    assert_int_equal(viv_session_fork(store, "A", "B", &err), VIV_OK);
    assert_int_equal(viv_session_fork(store, "A", "B", &err), VIV_EEXIST);
    assert_int_equal(viv_session_fork(store, "nope", "C", &err), VIV_ENOENT);
    assert_int_equal(viv_session_fork(store, "A", "../x", &err), VIV_EINVAL);
    r = exec_on(sb, "y = f() + 1\nprint(y, open('/app/w.txt').read())", &b);
    assert_string_equal(viv_result_stdout(r, NULL), "42 w\n");
    viv_result_free(r);
    r = exec_on(sb, "print('y' in globals())", &a);
    assert_string_equal(viv_result_stdout(r, NULL), "False\n");
    viv_result_free(r);
    drop_store(store, root);
    viv_sandbox_destroy(sb);
}

/* A mode that needs a session, without one: refused before anything runs. */
static void test_state_needs_a_session(void **state)
{
    (void)state;
    viv_error err = {0};
    viv_policy *p = NULL;
    viv_sandbox *sb = NULL;
    assert_int_equal(viv_policy_new(&p, &err), VIV_OK);
    assert_int_equal(viv_policy_set_persist_state(p, VIV_STATE_DURABLE, &err), VIV_OK);
    assert_int_equal(viv_policy_set_persist_state(p, (viv_state_mode)42, &err), VIV_EPOLICY);
    assert_string_equal(err.field, "persist_state");
    assert_int_equal(viv_sandbox_create(p, VIV_TEST_GUEST, &sb, &err), VIV_OK);
    viv_result *r = NULL;
    assert_int_equal(viv_sandbox_execute(sb, "print(1)", 8, NULL, &r, &err), VIV_EPOLICY);
    assert_string_equal(err.field, "persist_state");
    assert_null(r);
    viv_state_mode m;
    assert_int_equal(viv_state_mode_parse("json", &m, &err), VIV_OK);
    assert_int_equal(m, VIV_STATE_JSON);
    assert_int_equal(viv_state_mode_parse("sometimes", &m, &err), VIV_EPOLICY);
    assert_string_equal(viv_state_mode_name(VIV_STATE_LIVE), "live");
    viv_sandbox_destroy(sb);
    viv_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_stops_a_busy_loop),
        cmocka_unit_test(test_warm_matches_cold),
        cmocka_unit_test(test_warm_fuel_counts_only_the_execution),
        cmocka_unit_test(test_warm_executions_do_not_leak),
        cmocka_unit_test(test_a_dead_zygote_is_replaced),
        cmocka_unit_test(test_warm_pool_rejects_bad_preimports),
        cmocka_unit_test(test_random_hash_seed_runs_cold),
        cmocka_unit_test(test_state_runner_is_transparent),
        cmocka_unit_test(test_live_session_keeps_everything),
        cmocka_unit_test(test_live_interpreters_are_evicted),
        cmocka_unit_test(test_fork_copies_state),
        cmocka_unit_test(test_state_needs_a_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
