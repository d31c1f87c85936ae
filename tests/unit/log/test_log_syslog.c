/*
 * tests/unit/log/test_log_syslog.c: the syslog(3) sink, end to end.
 *
 * syslog(3) always writes to /dev/log. To receive what it sends without
 * touching the machine's logging, each check runs in a child process with a
 * private mount namespace (unshare(CLONE_NEWNS), "/" made recursively
 * private) in which a fresh tmpfs covers /dev; the child binds its own
 * AF_UNIX datagram socket at /dev/log there. Covering all of /dev works
 * whatever /dev/log is on the host (a socket, a symlink into journald, or
 * absent) and creates nothing in the host's /dev. The child needs nothing
 * else from /dev: the logger never calls openlog(), so no LOG_CONS.
 *
 * Without the privilege to do that (not root, no CAP_SYS_ADMIN, a seccomp
 * filter), the tests are skipped and say so on stderr.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "log_test_util.h"

#define SKIP_STATUS 77

static int fds_at_start;
static int skipped; /* tests skipped: main then exits 77 (CTest: Skipped) */

/* Checks inside the child: report and exit non-zero. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)

/* In the child: a private /dev with our socket at /dev/log. Returns the
 * socket; exits with SKIP_STATUS when the namespace cannot be had. */
static int fake_dev_log(void)
{
    if (unshare(CLONE_NEWNS) != 0) {
        fprintf(stderr, "unshare(CLONE_NEWNS): %s\n", strerror(errno));
        _exit(SKIP_STATUS);
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        fprintf(stderr, "making / private: %s\n", strerror(errno));
        _exit(SKIP_STATUS);
    }
    if (mount("viv-log-test", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") != 0) {
        fprintf(stderr, "tmpfs on /dev: %s\n", strerror(errno));
        _exit(SKIP_STATUS);
    }
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK(s >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, "/dev/log");
    CHECK(bind(s, (struct sockaddr *)&addr, sizeof addr) == 0);
    struct timeval tv = {.tv_sec = 5};
    CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    closelog(); /* no connection inherited from anywhere */
    return s;
}

/* Receive one datagram as a string; NULL if none came within the timeout. */
static char *receive(int s)
{
    static char buf[70000];
    ssize_t n = recv(s, buf, sizeof buf - 1, 0);
    if (n < 0) {
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* A datagram is "<PRI>TIMESTAMP TAG: IDENT[PID]: JSON". Check the priority
 * and our part; return the parsed JSON. */
static json_t *check_message(const char *msg, int pri, const char *ident)
{
    CHECK(msg != NULL);
    char head[16];
    snprintf(head, sizeof head, "<%d>", pri);
    if (strncmp(msg, head, strlen(head)) != 0) {
        fprintf(stderr, "wanted %s: %s\n", head, msg);
        _exit(1);
    }
    char ours[80];
    snprintf(ours, sizeof ours, " %s[%ld]: {", ident, (long)getpid());
    const char *at = strstr(msg, ours);
    if (at == NULL) {
        fprintf(stderr, "no \"%s\" in: %s\n", ours, msg);
        _exit(1);
    }
    const char *json = strchr(at, '{');
    json_error_t jerr;
    json_t *o = json_loads(json, 0, &jerr);
    if (o == NULL) {
        fprintf(stderr, "not JSON (%s): %s\n", jerr.text, json);
        _exit(1);
    }
    return o;
}

static void run_levels_child(void)
{
    int s = fake_dev_log();
    viv_logger *lg;
    CHECK(viv_logger_new(&lg, NULL) == VIV_OK);
    CHECK(viv_logger_add_syslog(lg, "viv-test", NULL) == VIV_OK);
    viv_logger_set_level(lg, VIV_LOG_DEBUG);

    const viv_log_level levels[] = {VIV_LOG_DEBUG, VIV_LOG_INFO, VIV_LOG_WARNING, VIV_LOG_ERROR};
    /* LOG_USER (8) + LOG_DEBUG 7, LOG_INFO 6, LOG_WARNING 4, LOG_ERR 3 */
    const int pri[] = {15, 14, 12, 11};
    const char *names[] = {"debug", "info", "warning", "error"};
    json_t *fields = json_pack("{s:s}", "session_id", "abc");
    for (int i = 0; i < 4; i++) {
        viv_log_emit(lg, levels[i], VIV_EV_SECURITY_PATH_ESCAPE, "feedface", fields);
        json_t *o = check_message(receive(s), pri[i], "viv-test");
        CHECK(strcmp(lt_str(o, "event"), "sandbox.security.path_escape") == 0);
        CHECK(strcmp(lt_str(o, "level"), names[i]) == 0);
        CHECK(strcmp(lt_str(o, "execution_id"), "feedface") == 0);
        CHECK(strcmp(lt_str(o, "session_id"), "abc") == 0);
        CHECK(lt_ts_valid(lt_str(o, "ts")));
        json_decref(o);
    }
    /* Filtered events send nothing. */
    viv_logger_set_level(lg, VIV_LOG_ERROR);
    viv_log_emit(lg, VIV_LOG_WARNING, "test.filtered", NULL, NULL);
    viv_log_emit(lg, VIV_LOG_ERROR, "test.passes", NULL, NULL);
    json_t *o = check_message(receive(s), 11, "viv-test");
    CHECK(strcmp(lt_str(o, "event"), "test.passes") == 0);
    json_decref(o);
    CHECK(viv_logger_dropped(lg) == 0);
    json_decref(fields);
    viv_logger_free(lg);
    close(s);
    _exit(0);
}

static void run_idents_child(void)
{
    int s = fake_dev_log();
    /* Two loggers with different idents, interleaved: each message names
     * its own, since nothing process-wide (openlog) is involved. */
    viv_logger *a, *b;
    CHECK(viv_logger_new(&a, NULL) == VIV_OK);
    CHECK(viv_logger_new(&b, NULL) == VIV_OK);
    CHECK(viv_logger_add_syslog(a, NULL, NULL) == VIV_OK); /* "vivarium" */
    CHECK(viv_logger_add_syslog(b, "tenant-b", NULL) == VIV_OK);
    for (int i = 0; i < 3; i++) {
        viv_log_emit(a, VIV_LOG_INFO, "test.a", NULL, NULL);
        json_t *o = check_message(receive(s), 14, "vivarium");
        CHECK(strcmp(lt_str(o, "event"), "test.a") == 0);
        json_decref(o);
        viv_log_emit(b, VIV_LOG_WARNING, "test.b", NULL, NULL);
        o = check_message(receive(s), 12, "tenant-b");
        CHECK(strcmp(lt_str(o, "event"), "test.b") == 0);
        json_decref(o);
    }
    /* A syslog sink beside an fd sink: both get the event. */
    int fds[2];
    CHECK(pipe(fds) == 0);
    CHECK(viv_logger_add_fd(b, fds[1], NULL) == VIV_OK);
    viv_log_emit(b, VIV_LOG_ERROR, "test.both", NULL, NULL);
    json_t *o = check_message(receive(s), 11, "tenant-b");
    CHECK(strcmp(lt_str(o, "event"), "test.both") == 0);
    json_decref(o);
    char line[4096];
    ssize_t n = read(fds[0], line, sizeof line - 1);
    CHECK(n > 0 && line[n - 1] == '\n');
    line[n] = '\0';
    CHECK(strstr(line, "\"event\":\"test.both\"") != NULL);

    /* Big events arrive whole. */
    char *pad = malloc(20001);
    CHECK(pad != NULL);
    memset(pad, 'z', 20000);
    pad[20000] = '\0';
    json_t *f = json_pack("{s:s}", "pad", pad);
    viv_log_emit(a, VIV_LOG_INFO, "test.big", NULL, f);
    o = check_message(receive(s), 14, "vivarium");
    CHECK(strlen(lt_str(o, "pad")) == 20000);
    json_decref(o);
    json_decref(f);
    free(pad);

    viv_logger_free(a);
    viv_logger_free(b);
    close(fds[0]);
    close(fds[1]);
    close(s);
    _exit(0);
}

/* Run fn in a child; skip when it could not set up the namespace. */
static void in_child(void (*fn)(void))
{
    struct stat before, after;
    int had_before = lstat("/dev/log", &before);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fn();
        _exit(1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* The host's /dev/log is exactly as it was. */
    int has_after = lstat("/dev/log", &after);
    assert_int_equal(had_before, has_after);
    if (had_before == 0) {
        assert_int_equal(before.st_ino, after.st_ino);
        assert_int_equal(before.st_dev, after.st_dev);
    }
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == SKIP_STATUS) {
        fprintf(stderr, "SKIPPED: the syslog test needs a private mount namespace "
                        "(root or CAP_SYS_ADMIN) to put its own socket at /dev/log\n");
        skipped++;
        skip();
    }
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_syslog_levels(void **state) { in_child(run_levels_child); }

static void test_syslog_idents(void **state) { in_child(run_idents_child); }

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
        cmocka_unit_test(test_syslog_levels),
        cmocka_unit_test(test_syslog_idents),
    };
    int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
    return failed == 0 && skipped > 0 ? SKIP_STATUS : failed;
}
