/*
 * e2e_harness.c: spawn the CLI under test, feed it, collect what it did,
 * and small file helpers for the end-to-end tests.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "e2e_harness.h"

#ifndef VIV_E2E_CLI
#error "VIV_E2E_CLI must name the vivarium executable"
#endif

#define DEFAULT_WATCHDOG_S 60.0
/* After a kill, how long to wait for the pipes to close before giving up
 * on whatever descendant may still hold them. */
#define DRAIN_AFTER_KILL_S 5.0

const char *e2e_cli(void) { return VIV_E2E_CLI; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct buf {
    char *data;
    size_t len, cap;
} buf;

static void buf_append(buf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *d = realloc(b->data, cap);
        assert_non_null(d);
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* Returns false at EOF or on a hard error. */
static bool drain_fd(int fd, buf *b)
{
    char chunk[65536];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n > 0) {
        buf_append(b, chunk, (size_t)n);
        return true;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return true;
    }
    return false;
}

/* The environment is built from nothing: the CLI must not depend on
 * anything the test runner happens to export, and the confinement tests
 * need to know exactly what the host side held. The one exception is
 * VIVARIUM_GUEST, the guest a CTest variant runs the suite against. */
static char **build_env(const e2e_opts *o)
{
    static char guest[128];
    const char *g = getenv("VIVARIUM_GUEST");
    snprintf(guest, sizeof guest, "VIVARIUM_GUEST=%s", g != NULL ? g : "");
    const char *const base[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", guest};
    size_t nextra = 0;
    bool own_guest = false; /* the test sets VIVARIUM_GUEST itself */
    if (o != NULL && o->env != NULL) {
        while (o->env[nextra] != NULL) {
            own_guest |= strncmp(o->env[nextra], "VIVARIUM_GUEST=", 15) == 0;
            nextra++;
        }
    }
    size_t nbase = sizeof base / sizeof base[0] - (own_guest ? 1 : 0);
    char **env = calloc(nbase + nextra + 3, sizeof *env);
    assert_non_null(env);
    for (size_t i = 0; i < nbase; i++) {
        env[i] = (char *)base[i];
    }
    /* The settings passed through: which path (cold, warm or served) the whole
     * suite runs on. */
    static const char warm[] = "VIVARIUM_WARM=1";
    const char *want_warm = getenv("VIVARIUM_WARM");
    if (want_warm != NULL && strcmp(want_warm, "1") == 0) {
        env[nbase++] = (char *)warm;
    }
    /* Or through a `vivarium serve` (the e2e_*_served variants). */
    static char served[4200];
    const char *sock = getenv("VIVARIUM_SOCKET");
    if (sock != NULL && *sock != '\0' && strlen(sock) < 4096) {
        snprintf(served, sizeof served, "VIVARIUM_SOCKET=%s", sock);
        env[nbase++] = served;
    }
    for (size_t i = 0; i < nextra; i++) {
        env[nbase + i] = (char *)o->env[i];
    }
    return env;
}

void e2e_exec(e2e_run *r, const e2e_opts *o, const char *const *argv)
{
    memset(r, 0, sizeof *r);
    /* A guest that stops reading its stdin must not kill the test. */
    signal(SIGPIPE, SIG_IGN);

    size_t argc = 0;
    while (argv[argc] != NULL) {
        argc++;
    }
    char **full = calloc(argc + 2, sizeof *full);
    assert_non_null(full);
    full[0] = (char *)e2e_cli();
    for (size_t i = 0; i < argc; i++) {
        full[i + 1] = (char *)argv[i];
    }
    char **env = build_env(o);

    int in[2], out[2], err[2];
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(err, O_CLOEXEC), 0);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    /* Own process group, so the watchdog can take down anything the CLI
     * forked; default signal dispositions, undoing our SIGPIPE ignore. */
    sigset_t def, mask;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigemptyset(&mask);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setsigmask(&attr, &mask);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETSIGMASK);

    pid_t pid;
    double start = now_s();
    int rc = posix_spawn(&pid, full[0], &fa, &attr, full, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    free(full);
    free(env);
    if (rc != 0) {
        fail_msg("posix_spawn %s: %s", e2e_cli(), strerror(rc));
    }

    const char *feed = o ? o->stdin_data : NULL;
    size_t feed_left = feed ? o->stdin_len : 0;
    int in_fd = in[1];
    if (feed_left == 0) {
        close(in_fd);
        in_fd = -1;
    } else {
        fcntl(in_fd, F_SETFL, O_NONBLOCK);
    }
    double limit = (o && o->watchdog_s > 0) ? o->watchdog_s : DEFAULT_WATCHDOG_S;
    double deadline = start + limit;

    buf bo = {0}, be = {0};
    int out_fd = out[0], err_fd = err[0];
    while (out_fd >= 0 || err_fd >= 0) {
        struct pollfd pf[3];
        int n = 0, io = -1, ie = -1, ii = -1;
        if (out_fd >= 0) {
            io = n;
            pf[n++] = (struct pollfd){.fd = out_fd, .events = POLLIN};
        }
        if (err_fd >= 0) {
            ie = n;
            pf[n++] = (struct pollfd){.fd = err_fd, .events = POLLIN};
        }
        if (in_fd >= 0) {
            ii = n;
            pf[n++] = (struct pollfd){.fd = in_fd, .events = POLLOUT};
        }
        double left = deadline - now_s();
        if (left <= 0) {
            if (r->killed) {
                break; /* a descendant still holds the pipes; stop waiting */
            }
            kill(-pid, SIGKILL);
            r->killed = true;
            deadline = now_s() + DRAIN_AFTER_KILL_S;
            continue;
        }
        int pr = poll(pf, (nfds_t)n, (int)(left * 1000) + 1);
        if (pr < 0 && errno != EINTR) {
            fail_msg("poll: %s", strerror(errno));
        }
        if (pr <= 0) {
            continue;
        }
        if (io >= 0 && pf[io].revents && !drain_fd(out_fd, &bo)) {
            close(out_fd);
            out_fd = -1;
        }
        if (ie >= 0 && pf[ie].revents && !drain_fd(err_fd, &be)) {
            close(err_fd);
            err_fd = -1;
        }
        if (ii >= 0 && pf[ii].revents) {
            ssize_t w = (pf[ii].revents & POLLOUT) ? write(in_fd, feed, feed_left) : -1;
            if (w > 0) {
                feed += w;
                feed_left -= (size_t)w;
            }
            if (feed_left == 0 || (w < 0 && errno != EAGAIN && errno != EINTR)) {
                close(in_fd);
                in_fd = -1;
            }
        }
    }
    if (out_fd >= 0) {
        close(out_fd);
    }
    if (err_fd >= 0) {
        close(err_fd);
    }
    if (in_fd >= 0) {
        close(in_fd);
    }

    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    r->elapsed_s = now_s() - start;
    assert_int_equal(w, pid);
    if (WIFEXITED(status)) {
        r->exit_code = WEXITSTATUS(status);
    } else {
        r->exit_code = -1;
        r->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
    if (bo.data == NULL) {
        buf_append(&bo, "", 0);
    }
    if (be.data == NULL) {
        buf_append(&be, "", 0);
    }
    r->out = bo.data;
    r->out_len = bo.len;
    r->err = be.data;
    r->err_len = be.len;
}

void e2e_run_free(e2e_run *r)
{
    free(r->out);
    free(r->err);
    if (r->json != NULL) {
        json_decref(r->json);
    }
    memset(r, 0, sizeof *r);
}

void e2e_expect_exit(const e2e_run *r, int code)
{
    if (r->exit_code != code) {
        fail_msg("expected exit %d, got %d (signal %d, killed %d)\n"
                 "stdout: %.2000s\nstderr: %.2000s",
                 code, r->exit_code, r->term_signal, (int)r->killed, r->out, r->err);
    }
}

void e2e_expect_in(const char *what, const char *hay, const char *needle)
{
    if (hay == NULL || strstr(hay, needle) == NULL) {
        fail_msg("%s does not contain \"%s\":\n%.4000s", what, needle, hay ? hay : "(null)");
    }
}

void e2e_expect_not_in(const char *what, const char *hay, const char *needle)
{
    if (hay != NULL && strstr(hay, needle) != NULL) {
        fail_msg("%s unexpectedly contains \"%s\":\n%.4000s", what, needle, hay);
    }
}

json_t *e2e_json(e2e_run *r)
{
    if (r->json != NULL) {
        return r->json;
    }
    json_error_t je;
    /* A field written twice is a malformed result; NUL is legal guest
     * output and must survive as \u0000. */
    r->json = json_loadb(r->out, r->out_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (r->json == NULL || !json_is_object(r->json)) {
        fail_msg("--json output is not one JSON object (%s at %d:%d); exit %d\n"
                 "stdout: %.2000s\nstderr: %.2000s",
                 je.text, je.line, je.column, r->exit_code, r->out, r->err);
    }
    return r->json;
}

static json_t *jget(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        fail_msg("JSON result has no \"%s\"", key);
    }
    return v;
}

bool e2e_jbool(json_t *obj, const char *key)
{
    json_t *v = jget(obj, key);
    if (!json_is_boolean(v)) {
        fail_msg("JSON \"%s\" is not a boolean", key);
    }
    return json_is_true(v);
}

int64_t e2e_jint(json_t *obj, const char *key)
{
    json_t *v = jget(obj, key);
    if (!json_is_integer(v)) {
        fail_msg("JSON \"%s\" is not an integer", key);
    }
    return (int64_t)json_integer_value(v);
}

const char *e2e_jstr(json_t *obj, const char *key)
{
    json_t *v = jget(obj, key);
    if (!json_is_string(v)) {
        fail_msg("JSON \"%s\" is not a string", key);
    }
    return json_string_value(v);
}

bool e2e_jnull(json_t *obj, const char *key) { return json_is_null(jget(obj, key)); }

bool e2e_ends_with(const char *b, size_t len, const char *suffix)
{
    if (len > 0 && b[len - 1] == '\n') {
        len--;
    }
    size_t n = strlen(suffix);
    return len >= n && memcmp(b + len - n, suffix, n) == 0;
}

void e2e_mkdtemp(char *dir_out)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir_out, PATH_MAX, "%s/viv-e2e-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir_out) == NULL) {
        fail_msg("mkdtemp %s: %s", dir_out, strerror(errno));
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP) {
        rmdir(path);
    } else {
        unlink(path);
    }
    return 0;
}

void e2e_rmtree(const char *dir)
{
    if (dir != NULL && dir[0] != '\0') {
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

void e2e_path(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    assert_true(n > 0 && n < PATH_MAX);
}

void e2e_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fail_msg("cannot create %s: %s", path, strerror(errno));
    }
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

char *e2e_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        buf_append(&b, chunk, n);
    }
    fclose(f);
    if (b.data == NULL) {
        buf_append(&b, "", 0);
    }
    if (len != NULL) {
        *len = b.len;
    }
    return b.data;
}

int e2e_count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (prefix == NULL || strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

int e2e_setup_tmp(void **state)
{
    char *dir = malloc(PATH_MAX);
    if (dir == NULL) {
        return -1;
    }
    e2e_mkdtemp(dir);
    *state = dir;
    return 0;
}

int e2e_teardown_tmp(void **state)
{
    e2e_rmtree(*state);
    free(*state);
    *state = NULL;
    return 0;
}
