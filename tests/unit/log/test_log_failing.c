/*
 * tests/unit/log/test_log_failing.c: sinks that fail.
 *
 * Owns: a closed descriptor, a pipe whose reader is gone (with SIGPIPE at
 * its default action, which would kill this process if it were raised and
 * left pending), a non-blocking pipe that stays full (bounded wait, then a
 * drop) and one left with half a line (the next line starts on a fresh
 * line). In every case emission returns, viv_logger_dropped() counts the
 * loss, and the other sinks still get the event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "log_test_util.h"

static int fds_at_start;

static size_t calls;
static void count_cb(void *user, viv_log_level level, const char *event, const char *json)
{
    calls++;
}

static bool sigpipe_pending(void)
{
    sigset_t pending;
    assert_int_equal(sigpending(&pending), 0);
    return sigismember(&pending, SIGPIPE) == 1;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_closed_fd(void **state)
{
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    /* A descriptor that is valid when added, closed before the event. */
    int doomed = fcntl(fds[1], F_DUPFD_CLOEXEC, 100);
    assert_true(doomed >= 100);
    viv_logger *lg;
    assert_int_equal(viv_logger_new(&lg, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_fd(lg, doomed, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_callback(lg, count_cb, NULL, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_fd(lg, fds[1], NULL), VIV_OK);
    close(doomed);
    calls = 0;
    viv_log_emit(lg, VIV_LOG_ERROR, "test.closed", NULL, NULL);
    viv_log_emit(lg, VIV_LOG_ERROR, "test.closed", NULL, NULL);
    assert_int_equal(viv_logger_dropped(lg), 2);
    assert_int_equal(calls, 2);
    viv_logger_free(lg);
    close(fds[1]);
    char *text = lt_read_all(fds[0], NULL);
    close(fds[0]);
    json_t *lines = lt_parse_lines(text);
    free(text);
    assert_non_null(lines);
    assert_int_equal(json_array_size(lines), 2);
    json_decref(lines);
}

static void test_broken_pipe(void **state)
{
    /* SIGPIPE's default action terminates the process: make sure that is
     * what it is, so a leaked SIGPIPE would end this test. */
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
    sigemptyset(&dfl.sa_mask);
    assert_int_equal(sigaction(SIGPIPE, &dfl, &old), 0);

    int dead[2], good[2];
    assert_int_equal(pipe2(dead, O_CLOEXEC), 0);
    assert_int_equal(pipe2(good, O_CLOEXEC), 0);
    close(dead[0]); /* nobody will ever read */
    viv_logger *lg;
    assert_int_equal(viv_logger_new(&lg, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_fd(lg, dead[1], NULL), VIV_OK);
    assert_int_equal(viv_logger_add_fd(lg, good[1], NULL), VIV_OK);
    assert_int_equal(viv_logger_add_callback(lg, count_cb, NULL, NULL), VIV_OK);
    calls = 0;
    for (int i = 0; i < 5; i++) {
        viv_log_emit(lg, VIV_LOG_WARNING, "test.epipe", NULL, NULL);
    }
    assert_int_equal(viv_logger_dropped(lg), 5);
    assert_int_equal(calls, 5);
    assert_false(sigpipe_pending());
    /* SIGPIPE is not left blocked either. */
    sigset_t mask;
    assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &mask), 0);
    assert_false(sigismember(&mask, SIGPIPE));

    /* A SIGPIPE that was already pending (and blocked) before emission
     * belongs to the application: it is left pending. */
    sigset_t pipe_set, saved;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &pipe_set, &saved), 0);
    assert_int_equal(raise(SIGPIPE), 0);
    assert_true(sigpipe_pending());
    viv_log_emit(lg, VIV_LOG_WARNING, "test.epipe", NULL, NULL);
    assert_int_equal(viv_logger_dropped(lg), 6);
    assert_true(sigpipe_pending());
    assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &mask), 0);
    assert_true(sigismember(&mask, SIGPIPE)); /* the caller's mask is back */
    const struct timespec zero = {0, 0};
    assert_int_equal(sigtimedwait(&pipe_set, NULL, &zero), SIGPIPE);
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &saved, NULL), 0);

    viv_logger_free(lg);
    close(dead[1]);
    close(good[1]);
    char *text = lt_read_all(good[0], NULL);
    close(good[0]);
    json_t *lines = lt_parse_lines(text);
    free(text);
    assert_non_null(lines);
    assert_int_equal(json_array_size(lines), 6);
    json_decref(lines);
    assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
}

static void test_full_nonblocking_pipe(void **state)
{
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    /* Fill the pipe. */
    char chunk[4096];
    memset(chunk, 'f', sizeof chunk);
    size_t filled = 0;
    for (;;) {
        ssize_t n = write(fds[1], chunk, sizeof chunk);
        if (n < 0) {
            assert_true(errno == EAGAIN);
            break;
        }
        filled += (size_t)n;
    }
    viv_logger *lg;
    assert_int_equal(viv_logger_new(&lg, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_fd(lg, fds[1], NULL), VIV_OK);
    assert_int_equal(viv_logger_add_callback(lg, count_cb, NULL, NULL), VIV_OK);
    calls = 0;
    double t0 = now_s();
    viv_log_emit(lg, VIV_LOG_ERROR, "test.full", NULL, NULL);
    double waited = now_s() - t0;
    /* A bounded wait (about a second), then the line is dropped. */
    assert_true(waited >= 0.9);
    assert_true(waited < 10.0);
    assert_int_equal(viv_logger_dropped(lg), 1);
    assert_int_equal(calls, 1);

    /* Drain it: the next event goes through whole. */
    size_t got;
    char *junk = lt_read_available(fds[0], &got);
    assert_int_equal(got, filled);
    free(junk);
    viv_log_emit(lg, VIV_LOG_ERROR, "test.after", NULL, NULL);
    assert_int_equal(viv_logger_dropped(lg), 1);
    char *text = lt_read_available(fds[0], &got);
    json_t *lines = lt_parse_lines(text);
    free(text);
    assert_non_null(lines);
    assert_int_equal(json_array_size(lines), 1);
    assert_string_equal(lt_str(json_array_get(lines, 0), "event"), "test.after");
    json_decref(lines);
    viv_logger_free(lg);
    close(fds[0]);
    close(fds[1]);
}

static void test_torn_line_resynchronised(void **state)
{
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    char chunk[4096];
    memset(chunk, 'f', sizeof chunk);
    chunk[sizeof chunk - 1] = '\n';
    size_t filled = 0;
    while (write(fds[1], chunk, sizeof chunk) > 0) {
        filled += sizeof chunk;
    }
    /* Free two pages, then log a line far bigger than that: it goes out in
     * part and the rest never fits. */
    char *junk = malloc(8192);
    assert_non_null(junk);
    assert_int_equal(read(fds[0], junk, 8192), 8192);
    free(junk);
    char *big = malloc(40000);
    assert_non_null(big);
    memset(big, 'b', 39999);
    big[39999] = '\0';
    json_t *fields = json_pack("{s:s}", "big", big);
    free(big);
    viv_logger *lg;
    assert_int_equal(viv_logger_new(&lg, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_fd(lg, fds[1], NULL), VIV_OK);
    viv_log_emit(lg, VIV_LOG_INFO, "test.torn", NULL, fields);
    json_decref(fields);
    assert_int_equal(viv_logger_dropped(lg), 1);

    /* Drain everything, then the next line must stand on its own line. */
    size_t got;
    char *text = lt_read_available(fds[0], &got);
    assert_true(got > filled - 8192); /* part of the torn line went out */
    assert_int_equal(text[got - 1], 'b');
    free(text);
    viv_log_emit(lg, VIV_LOG_INFO, "test.whole", NULL, NULL);
    assert_int_equal(viv_logger_dropped(lg), 1);
    text = lt_read_available(fds[0], &got);
    assert_int_equal(text[0], '\n'); /* ends the torn line */
    json_t *lines = lt_parse_lines(text + 1);
    free(text);
    assert_non_null(lines);
    assert_int_equal(json_array_size(lines), 1);
    assert_string_equal(lt_str(json_array_get(lines, 0), "event"), "test.whole");
    json_decref(lines);
    /* And the one after that has no extra newline. */
    viv_log_emit(lg, VIV_LOG_INFO, "test.next", NULL, NULL);
    text = lt_read_available(fds[0], &got);
    assert_int_equal(text[0], '{');
    free(text);
    viv_logger_free(lg);
    close(fds[0]);
    close(fds[1]);
}

static void test_only_failing_sinks(void **state)
{
    /* All sinks failing is still not an error for the caller. */
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    close(fds[0]);
    viv_logger *lg;
    assert_int_equal(viv_logger_new(&lg, NULL), VIV_OK);
    assert_int_equal(viv_logger_add_fd(lg, fds[1], NULL), VIV_OK);
    assert_int_equal(viv_logger_add_fd(lg, fds[1], NULL), VIV_OK);
    for (int i = 0; i < 100; i++) {
        viv_log_emit(lg, VIV_LOG_INFO, "test.nowhere", NULL, NULL);
    }
    assert_int_equal(viv_logger_dropped(lg), 200);
    assert_false(sigpipe_pending());
    viv_logger_free(lg);
    close(fds[1]);
}

static int group_setup(void **state)
{
    fds_at_start = lt_count_fds();
    return 0;
}

static int group_teardown(void **state)
{
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
        cmocka_unit_test(test_closed_fd),
        cmocka_unit_test(test_broken_pipe),
        cmocka_unit_test(test_full_nonblocking_pipe),
        cmocka_unit_test(test_torn_line_resynchronised),
        cmocka_unit_test(test_only_failing_sinks),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
