/*
 * tests/unit/log/test_log_lines.c: the event line and the working sinks.
 *
 * Owns: the shape of a line (ts, level, event, execution_id, the caller's
 * fields, reserved keys), level filtering, fd / file / callback sinks alone
 * and together, a logger with no sinks, a NULL logger, threads sharing a
 * logger, a callback that logs, the API's argument errors, execution ids,
 * and that nothing leaks a descriptor.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "log_test_util.h"

static int fds_at_start;
static const char *dir;

/* ---- helpers ---------------------------------------------------------------- */

typedef struct pipe_logger {
    viv_logger *lg;
    int rd, wr;
} pipe_logger;

static void pipe_logger_open(pipe_logger *p)
{
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    p->rd = fds[0];
    p->wr = fds[1];
    viv_error err;
    assert_int_equal(viv_logger_new(&p->lg, &err), VIV_OK);
    assert_int_equal(viv_logger_add_fd(p->lg, p->wr, &err), VIV_OK);
}

/* Free the logger, close the write end and parse what came through. */
static json_t *pipe_logger_close(pipe_logger *p)
{
    viv_logger_free(p->lg);
    close(p->wr);
    char *text = lt_read_all(p->rd, NULL);
    close(p->rd);
    assert_non_null(text);
    json_t *lines = lt_parse_lines(text);
    free(text);
    assert_non_null(lines);
    return lines;
}

typedef struct seen {
    viv_log_level level;
    char event[128];
    char json[4096];
} seen;

typedef struct recorder {
    seen ev[64];
    size_t n;
    viv_logger *emit_into; /* if set, the callback also logs to this */
} recorder;

static void record(void *user, viv_log_level level, const char *event, const char *json)
{
    recorder *r = user;
    if (r->n < 64) {
        r->ev[r->n].level = level;
        snprintf(r->ev[r->n].event, sizeof r->ev[r->n].event, "%s", event);
        snprintf(r->ev[r->n].json, sizeof r->ev[r->n].json, "%s", json);
        r->n++;
    }
    if (r->emit_into != NULL) {
        viv_log_emit(r->emit_into, VIV_LOG_ERROR, "test.from_callback", NULL, NULL);
    }
}

/* ---- the line --------------------------------------------------------------- */

static void test_line_shape(void **state)
{
    pipe_logger p;
    pipe_logger_open(&p);
    viv_logger_set_level(p.lg, VIV_LOG_DEBUG);

    json_t *fields =
        json_pack("{s:s, s:I, s:b, s:{s:I}, s:[s,s], s:n}", "runtime", "python", "fuel_budget",
                  (json_int_t)5000000000, "success", 1, "policy", "memory_bytes",
                  (json_int_t)128000000, "env_keys", "A", "B", "session_id");
    assert_non_null(fields);
    const viv_log_level levels[] = {VIV_LOG_DEBUG, VIV_LOG_INFO, VIV_LOG_WARNING, VIV_LOG_ERROR};
    const char *names[] = {"debug", "info", "warning", "error"};
    for (size_t i = 0; i < 4; i++) {
        viv_log_emit(p.lg, levels[i], VIV_EV_EXECUTION_START, "0123456789abcdef0123456789abcdef",
                     fields);
    }
    viv_log_emit(p.lg, VIV_LOG_INFO, VIV_EV_SESSION_CREATED, NULL, NULL);
    /* The caller's object is untouched: no reserved keys were added to it. */
    assert_int_equal(json_object_size(fields), 6);
    assert_null(json_object_get(fields, "ts"));
    assert_int_equal(fields->refcount, 1);
    assert_int_equal(viv_logger_dropped(p.lg), 0);

    json_t *lines = pipe_logger_close(&p);
    assert_int_equal(json_array_size(lines), 5);
    for (size_t i = 0; i < 4; i++) {
        json_t *o = json_array_get(lines, i);
        assert_true(lt_ts_valid(lt_str(o, "ts")));
        assert_string_equal(lt_str(o, "level"), names[i]);
        assert_string_equal(lt_str(o, "event"), "sandbox.execution.start");
        assert_string_equal(lt_str(o, "execution_id"), "0123456789abcdef0123456789abcdef");
        assert_string_equal(lt_str(o, "runtime"), "python");
        assert_int_equal(json_integer_value(json_object_get(o, "fuel_budget")), 5000000000);
        assert_true(json_is_true(json_object_get(o, "success")));
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(o, "policy"), "memory_bytes")),
            128000000);
        assert_int_equal(json_array_size(json_object_get(o, "env_keys")), 2);
        assert_true(json_is_null(json_object_get(o, "session_id")));
        /* The four reserved keys come first, then the caller's, in order. */
        const char *order[] = {"ts", "level", "event", "execution_id", "runtime", "fuel_budget"};
        void *it = json_object_iter(o);
        for (size_t k = 0; k < 6; k++, it = json_object_iter_next(o, it)) {
            assert_non_null(it);
            assert_string_equal(json_object_iter_key(it), order[k]);
        }
    }
    json_t *last = json_array_get(lines, 4);
    assert_null(json_object_get(last, "execution_id"));
    assert_int_equal(json_object_size(last), 3);
    json_decref(lines);
    json_decref(fields);
}

static void test_compact_one_line(void **state)
{
    pipe_logger p;
    pipe_logger_open(&p);
    /* Control characters and newlines in values are escaped: one line. */
    json_t *fields = json_pack("{s:s, s:f}", "message", "a\nb\r\"c\"\t\x01", "duration_ms", 12.5);
    viv_log_emit(p.lg, VIV_LOG_INFO, "test.compact", NULL, fields);
    json_decref(fields);
    viv_logger_free(p.lg);
    close(p.wr);
    char *text = lt_read_all(p.rd, NULL);
    close(p.rd);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"message\":\"a\\nb\\r\\\"c\\\"\\t\\u0001\""));
    assert_non_null(strstr(text, "\"duration_ms\":12.5}"));
    assert_null(strstr(text, ": "));
    assert_null(strstr(text, ", "));
    char *nl = strchr(text, '\n');
    assert_non_null(nl);
    assert_int_equal(nl[1], '\0');
    free(text);
}

static void test_reserved_keys_win(void **state)
{
    pipe_logger p;
    pipe_logger_open(&p);
    json_t *fields = json_pack("{s:s, s:s, s:s, s:s, s:i}", "ts", "yesterday", "level", "debug",
                               "event", "forged", "execution_id", "forged", "n", 7);
    viv_log_emit(p.lg, VIV_LOG_WARNING, "test.real", "abc", fields);
    viv_log_emit(p.lg, VIV_LOG_WARNING, "test.real", NULL, fields);
    json_decref(fields);
    json_t *lines = pipe_logger_close(&p);
    assert_int_equal(json_array_size(lines), 2);
    json_t *o = json_array_get(lines, 0);
    assert_true(lt_ts_valid(lt_str(o, "ts")));
    assert_string_equal(lt_str(o, "level"), "warning");
    assert_string_equal(lt_str(o, "event"), "test.real");
    assert_string_equal(lt_str(o, "execution_id"), "abc");
    assert_int_equal(json_integer_value(json_object_get(o, "n")), 7);
    /* Without an execution id the caller's "execution_id" is still not
     * taken for ours: it is reserved. */
    o = json_array_get(lines, 1);
    assert_string_equal(lt_str(o, "event"), "test.real");
    assert_null(json_object_get(o, "execution_id"));
    json_decref(lines);
}

static void test_invalid_utf8_repaired(void **state)
{
    pipe_logger p;
    pipe_logger_open(&p);
    viv_log_emit(p.lg, VIV_LOG_INFO, "test.bad\xff", "id\xc0\xaf", NULL);
    json_t *lines = pipe_logger_close(&p);
    assert_int_equal(json_array_size(lines), 1);
    json_t *o = json_array_get(lines, 0);
    assert_string_equal(lt_str(o, "event"), "test.bad\xEF\xBF\xBD");
    assert_string_equal(lt_str(o, "execution_id"), "id\xEF\xBF\xBD\xEF\xBF\xBD");
    json_decref(lines);
}

static void test_level_filter(void **state)
{
    pipe_logger p;
    pipe_logger_open(&p);
    /* Default: info. */
    assert_false(viv_log_enabled(p.lg, VIV_LOG_DEBUG));
    assert_true(viv_log_enabled(p.lg, VIV_LOG_INFO));
    viv_log_emit(p.lg, VIV_LOG_DEBUG, "test.d1", NULL, NULL);
    viv_log_emit(p.lg, VIV_LOG_INFO, "test.i1", NULL, NULL);
    viv_logger_set_level(p.lg, VIV_LOG_WARNING);
    viv_log_emit(p.lg, VIV_LOG_INFO, "test.i2", NULL, NULL);
    viv_log_emit(p.lg, VIV_LOG_WARNING, "test.w2", NULL, NULL);
    viv_log_emit(p.lg, VIV_LOG_ERROR, "test.e2", NULL, NULL);
    viv_logger_set_level(p.lg, VIV_LOG_ERROR);
    viv_log_emit(p.lg, VIV_LOG_WARNING, "test.w3", NULL, NULL);
    viv_log_emit(p.lg, VIV_LOG_ERROR, "test.e3", NULL, NULL);
    /* An out-of-range level is ignored by set_level and by emit. */
    viv_logger_set_level(p.lg, (viv_log_level)42);
    viv_log_emit(p.lg, (viv_log_level)42, "test.bogus", NULL, NULL);
    viv_log_emit(p.lg, (viv_log_level)-1, "test.bogus", NULL, NULL);
    viv_log_emit(p.lg, VIV_LOG_ERROR, NULL, NULL, NULL); /* no event name */
    viv_logger_set_level(p.lg, VIV_LOG_DEBUG);
    viv_log_emit(p.lg, VIV_LOG_DEBUG, "test.d4", NULL, NULL);
    assert_int_equal(viv_logger_dropped(p.lg), 0);
    json_t *lines = pipe_logger_close(&p);
    const char *want[] = {"test.i1", "test.w2", "test.e2", "test.e3", "test.d4"};
    assert_int_equal(json_array_size(lines), 5);
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(lt_str(json_array_get(lines, i), "event"), want[i]);
    }
    json_decref(lines);
}

/* ---- sinks -------------------------------------------------------------------- */

static void test_file_appends(void **state)
{
    char path[600];
    snprintf(path, sizeof path, "%s/events.jsonl", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"already\":\"here\"}\n", f);
    fclose(f);
    chmod(path, 0640);

    for (int round = 0; round < 2; round++) {
        viv_logger *lg;
        assert_int_equal(viv_logger_new(&lg, NULL), VIV_OK);
        assert_int_equal(viv_logger_add_file(lg, path, NULL), VIV_OK);
        viv_log_emit(lg, VIV_LOG_INFO, round ? "test.second" : "test.first", NULL, NULL);
        viv_logger_free(lg);
    }
    char *text = lt_read_file(path, NULL);
    assert_non_null(text);
    json_t *lines = lt_parse_lines(text);
    free(text);
    assert_non_null(lines);
    assert_int_equal(json_array_size(lines), 3);
    assert_string_equal(lt_str(json_array_get(lines, 0), "already"), "here");
    assert_string_equal(lt_str(json_array_get(lines, 1), "event"), "test.first");
    assert_string_equal(lt_str(json_array_get(lines, 2), "event"), "test.second");
    json_decref(lines);
    /* An existing file keeps its mode. */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    unlink(path);

    /* A new file is created 0600 whatever the umask. */
    mode_t old = umask(0);
    viv_logger *lg;
    assert_int_equal(viv_logger_new(&lg, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_file(lg, path, NULL), VIV_OK);
    umask(old);
    viv_logger_free(lg);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 0);
    unlink(path);
}

static void test_callback_sink(void **state)
{
    recorder *r = calloc(1, sizeof *r);
    assert_non_null(r);
    viv_logger *lg;
    assert_int_equal(viv_logger_new(&lg, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_callback(lg, record, r, NULL), VIV_OK);
    json_t *fields = json_pack("{s:s}", "session_id", "s1");
    viv_log_emit(lg, VIV_LOG_WARNING, VIV_EV_SECURITY_INVALID_SESSION_ID, "e1", fields);
    viv_log_emit(lg, VIV_LOG_DEBUG, "test.filtered", NULL, NULL);
    viv_log_emit(lg, VIV_LOG_ERROR, VIV_EV_PRUNE_ERROR, NULL, fields);
    json_decref(fields);
    viv_logger_free(lg);

    assert_int_equal(r->n, 2);
    assert_int_equal(r->ev[0].level, VIV_LOG_WARNING);
    assert_string_equal(r->ev[0].event, "sandbox.security.invalid_session_id");
    assert_int_equal(r->ev[1].level, VIV_LOG_ERROR);
    assert_string_equal(r->ev[1].event, "sandbox.session.prune.error");
    for (size_t i = 0; i < r->n; i++) {
        /* One line of JSON without the newline. */
        assert_null(strchr(r->ev[i].json, '\n'));
        json_t *o = json_loads(r->ev[i].json, 0, NULL);
        assert_non_null(o);
        assert_string_equal(lt_str(o, "event"), r->ev[i].event);
        assert_string_equal(lt_str(o, "session_id"), "s1");
        json_decref(o);
    }
    free(r);
}

static void test_several_sinks(void **state)
{
    recorder *r1 = calloc(1, sizeof *r1), *r2 = calloc(1, sizeof *r2);
    assert_non_null(r1);
    assert_non_null(r2);
    char path[600];
    snprintf(path, sizeof path, "%s/several.jsonl", dir);
    pipe_logger p;
    pipe_logger_open(&p);
    assert_int_equal(viv_logger_add_callback(p.lg, record, r1, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_file(p.lg, path, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_callback(p.lg, record, r2, NULL), VIV_OK);
    viv_log_emit(p.lg, VIV_LOG_INFO, "test.one", "x", NULL);
    viv_log_emit(p.lg, VIV_LOG_ERROR, "test.two", "x", NULL);
    assert_int_equal(viv_logger_dropped(p.lg), 0);
    json_t *lines = pipe_logger_close(&p);

    char *text = lt_read_file(path, NULL);
    assert_non_null(text);
    json_t *flines = lt_parse_lines(text);
    free(text);
    assert_non_null(flines);
    assert_int_equal(json_array_size(lines), 2);
    assert_int_equal(json_array_size(flines), 2);
    assert_int_equal(r1->n, 2);
    assert_int_equal(r2->n, 2);
    for (size_t i = 0; i < 2; i++) {
        /* Every sink got the very same line. */
        char *a = json_dumps(json_array_get(lines, i), JSON_COMPACT);
        char *b = json_dumps(json_array_get(flines, i), JSON_COMPACT);
        assert_string_equal(a, b);
        assert_string_equal(a, r1->ev[i].json);
        assert_string_equal(a, r2->ev[i].json);
        free(a);
        free(b);
    }
    json_decref(lines);
    json_decref(flines);
    unlink(path);
    free(r1);
    free(r2);
}

static void test_zero_sinks_and_null_logger(void **state)
{
    viv_logger *lg;
    assert_int_equal(viv_logger_new(&lg, NULL), VIV_OK);
    assert_false(viv_log_enabled(lg, VIV_LOG_ERROR));
    json_t *fields = json_pack("{s:i}", "n", 1);
    for (int i = 0; i < 10; i++) {
        viv_log_emit(lg, VIV_LOG_ERROR, "test.nowhere", "x", fields);
    }
    assert_int_equal(viv_logger_dropped(lg), 0);
    viv_logger_free(lg);

    viv_log_emit(NULL, VIV_LOG_ERROR, "test.nowhere", "x", fields);
    assert_false(viv_log_enabled(NULL, VIV_LOG_ERROR));
    assert_int_equal(viv_logger_dropped(NULL), 0);
    viv_logger_set_level(NULL, VIV_LOG_DEBUG);
    viv_logger_free(NULL);
    assert_int_equal(fields->refcount, 1);
    json_decref(fields);
}

static void test_errno_preserved(void **state)
{
    pipe_logger p;
    pipe_logger_open(&p);
    errno = ERANGE;
    viv_log_emit(p.lg, VIV_LOG_INFO, "test.errno", NULL, NULL);
    assert_int_equal(errno, ERANGE);
    char id[VIV_LOG_EXECUTION_ID_LEN + 1];
    viv_log_new_execution_id(id);
    assert_int_equal(errno, ERANGE);
    json_decref(pipe_logger_close(&p));
}

static void test_callback_reentry(void **state)
{
    /* A callback that logs to its own logger must neither deadlock nor
     * recurse: the inner event is dropped and counted. Logging to another
     * logger from a callback works. */
    recorder *r = calloc(1, sizeof *r), *inner = calloc(1, sizeof *inner);
    assert_non_null(r);
    assert_non_null(inner);
    viv_logger *lg, *other;
    assert_int_equal(viv_logger_new(&lg, NULL), VIV_OK);
    assert_int_equal(viv_logger_new(&other, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_callback(other, record, inner, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_callback(lg, record, r, NULL), VIV_OK);
    r->emit_into = lg;
    viv_log_emit(lg, VIV_LOG_INFO, "test.outer", NULL, NULL);
    assert_int_equal(r->n, 1);
    assert_int_equal(viv_logger_dropped(lg), 1);
    r->emit_into = other;
    viv_log_emit(lg, VIV_LOG_INFO, "test.outer", NULL, NULL);
    assert_int_equal(r->n, 2);
    assert_int_equal(inner->n, 1);
    assert_string_equal(inner->ev[0].event, "test.from_callback");
    assert_int_equal(viv_logger_dropped(lg), 1);
    viv_logger_free(lg);
    viv_logger_free(other);
    free(r);
    free(inner);
}

/* A callback that tries to add a sink to the logger delivering to it. */
static viv_status add_from_callback_status;
static void add_from_callback(void *user, viv_log_level level, const char *event, const char *json)
{
    viv_error err;
    add_from_callback_status = viv_logger_add_fd(user, 2, &err);
}

static void test_add_from_callback_refused(void **state)
{
    viv_logger *lg;
    assert_int_equal(viv_logger_new(&lg, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_callback(lg, add_from_callback, lg, NULL), VIV_OK);
    add_from_callback_status = VIV_OK;
    viv_log_emit(lg, VIV_LOG_INFO, "test.add", NULL, NULL);
    assert_int_equal(add_from_callback_status, VIV_EINVAL);
    viv_logger_free(lg);
}

/* ---- threads ------------------------------------------------------------------ */

#define THREADS    4
#define PER_THREAD 250

typedef struct worker {
    viv_logger *lg;
    int id;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    char pad[600];
    memset(pad, 'a' + w->id, sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < PER_THREAD; i++) {
        json_t *f = json_pack("{s:i, s:i, s:s}", "thread", w->id, "seq", i, "pad", pad);
        viv_log_emit(w->lg, VIV_LOG_INFO, "test.thread", NULL, f);
        json_decref(f);
    }
    return NULL;
}

static size_t counted;
static void count_cb(void *user, viv_log_level level, const char *event, const char *json)
{
    counted++; /* runs under the logger's mutex */
}

static void test_threads_share_logger(void **state)
{
    char path[600];
    snprintf(path, sizeof path, "%s/threads.jsonl", dir);
    viv_logger *lg;
    assert_int_equal(viv_logger_new(&lg, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_file(lg, path, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_callback(lg, count_cb, NULL, NULL), VIV_OK);
    counted = 0;
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){lg, i};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    assert_int_equal(viv_logger_dropped(lg), 0);
    viv_logger_free(lg);
    assert_int_equal(counted, THREADS * PER_THREAD);

    char *text = lt_read_file(path, NULL);
    assert_non_null(text);
    json_t *lines = lt_parse_lines(text);
    free(text);
    assert_non_null(lines);
    assert_int_equal(json_array_size(lines), THREADS * PER_THREAD);
    int next[THREADS] = {0};
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o)
    {
        int th = (int)json_integer_value(json_object_get(o, "thread"));
        assert_in_range(th, 0, THREADS - 1);
        assert_int_equal(json_integer_value(json_object_get(o, "seq")), next[th]);
        next[th]++;
    }
    json_decref(lines);
    unlink(path);
}

/* ---- API errors ------------------------------------------------------------- */

static void test_api_errors(void **state)
{
    viv_error err;
    assert_int_equal(viv_logger_new(NULL, &err), VIV_EINVAL);
    assert_int_equal(err.status, VIV_EINVAL);

    viv_logger *lg;
    assert_int_equal(viv_logger_new(&lg, &err), VIV_OK);

    assert_int_equal(viv_logger_add_fd(NULL, 1, &err), VIV_EINVAL);
    assert_int_equal(viv_logger_add_fd(lg, -1, &err), VIV_EINVAL);
    assert_non_null(strstr(err.message, "not an open file descriptor"));
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    assert_int_equal(viv_logger_add_fd(lg, fds[0], &err), VIV_EINVAL);
    assert_non_null(strstr(err.message, "not open for writing"));
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(viv_logger_add_fd(lg, fds[0], &err), VIV_EINVAL); /* now closed */

    assert_int_equal(viv_logger_add_file(NULL, "/tmp/x", &err), VIV_EINVAL);
    assert_int_equal(viv_logger_add_file(lg, NULL, &err), VIV_EINVAL);
    assert_int_equal(viv_logger_add_file(lg, "", &err), VIV_EINVAL);
    char path[600];
    snprintf(path, sizeof path, "%s/no/such/dir/events.jsonl", dir);
    assert_int_equal(viv_logger_add_file(lg, path, &err), VIV_ENOENT);
    assert_string_equal(err.path, path);
    assert_int_equal(viv_logger_add_file(lg, dir, &err), VIV_EHOST); /* a directory */
    assert_string_equal(err.path, dir);

    assert_int_equal(viv_logger_add_syslog(NULL, NULL, &err), VIV_EINVAL);
    assert_int_equal(viv_logger_add_syslog(lg, "", &err), VIV_EINVAL);
    assert_string_equal(err.field, "ident");
    assert_int_equal(viv_logger_add_syslog(lg, "bad ident", &err), VIV_EINVAL);
    assert_int_equal(viv_logger_add_syslog(lg, "bad:ident", &err), VIV_EINVAL);
    assert_int_equal(viv_logger_add_syslog(lg, "new\nline", &err), VIV_EINVAL);
    char longid[60];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    assert_int_equal(viv_logger_add_syslog(lg, longid, &err), VIV_EINVAL);

    assert_int_equal(viv_logger_add_callback(NULL, record, NULL, &err), VIV_EINVAL);
    assert_int_equal(viv_logger_add_callback(lg, NULL, NULL, &err), VIV_EINVAL);
    /* err may be NULL. */
    assert_int_equal(viv_logger_add_callback(lg, NULL, NULL, NULL), VIV_EINVAL);

    /* None of the failures added a sink. */
    assert_false(viv_log_enabled(lg, VIV_LOG_ERROR));
    viv_logger_free(lg);
}

static void test_level_names(void **state)
{
    assert_string_equal(viv_log_level_name(VIV_LOG_DEBUG), "debug");
    assert_string_equal(viv_log_level_name(VIV_LOG_INFO), "info");
    assert_string_equal(viv_log_level_name(VIV_LOG_WARNING), "warning");
    assert_string_equal(viv_log_level_name(VIV_LOG_ERROR), "error");
    assert_null(viv_log_level_name((viv_log_level)9));
}

static void test_execution_ids(void **state)
{
    char a[VIV_LOG_EXECUTION_ID_LEN + 1], b[VIV_LOG_EXECUTION_ID_LEN + 1];
    memset(a, 'Z', sizeof a);
    viv_log_new_execution_id(a);
    viv_log_new_execution_id(b);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    assert_int_equal(strspn(b, "0123456789abcdef"), 32);
    assert_string_not_equal(a, b);
}

static void test_many_loggers_no_fd_leak(void **state)
{
    char path[600];
    snprintf(path, sizeof path, "%s/leak.jsonl", dir);
    int before = lt_count_fds();
    for (int i = 0; i < 50; i++) {
        viv_logger *lg;
        assert_int_equal(viv_logger_new(&lg, NULL), VIV_OK);
        assert_int_equal(viv_logger_add_file(lg, path, NULL), VIV_OK);
        assert_int_equal(viv_logger_add_file(lg, path, NULL), VIV_OK);
        assert_int_equal(viv_logger_add_fd(lg, 2, NULL), VIV_OK);
        viv_logger_set_level(lg, VIV_LOG_ERROR);
        viv_log_emit(lg, VIV_LOG_INFO, "test.filtered", NULL, NULL);
        viv_logger_free(lg);
    }
    assert_int_equal(lt_count_fds(), before);
    /* The borrowed descriptor is still open. */
    assert_true(fcntl(2, F_GETFD) >= 0);
    unlink(path);
}

static int group_setup(void **state)
{
    fds_at_start = lt_count_fds();
    dir = lt_temp_dir("lines");
    return dir == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    rmdir(dir);
    int now = lt_count_fds();
    if (now != fds_at_start) {
        fprintf(stderr, "descriptor leak: %d open at start, %d at the end\n", fds_at_start, now);
        return -1;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_shape),
        cmocka_unit_test(test_compact_one_line),
        cmocka_unit_test(test_reserved_keys_win),
        cmocka_unit_test(test_invalid_utf8_repaired),
        cmocka_unit_test(test_level_filter),
        cmocka_unit_test(test_file_appends),
        cmocka_unit_test(test_callback_sink),
        cmocka_unit_test(test_several_sinks),
        cmocka_unit_test(test_zero_sinks_and_null_logger),
        cmocka_unit_test(test_errno_preserved),
        cmocka_unit_test(test_callback_reentry),
        cmocka_unit_test(test_add_from_callback_refused),
        cmocka_unit_test(test_threads_share_logger),
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test(test_level_names),
        cmocka_unit_test(test_execution_ids),
        cmocka_unit_test(test_many_loggers_no_fd_leak),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
