/*
 * e2e_serve.c: `vivarium serve` and `vivarium run --socket` as a user sees
 * them.
 *
 * Owns: that a run through the server gives what a local run gives (output,
 * exit status, trap reason, JSON result) over a set of programs; that the
 * request's own policy is the one applied; the socket's permissions and the
 * refusal of other users and of unsafe directories; overload; cancelling
 * with SIGINT and by hanging up; parallel sessions and serialised ones;
 * malformed frames; the silent local fallback; and the orderly shutdown.
 *
 * One server runs for the whole group (started in the group setup); tests
 * that need other limits start their own.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_harness.h"
#include "proto.h"

extern char **environ;

/* The group's server. */
static char dir[PATH_MAX];       /* 0700 scratch directory */
static char sock[PATH_MAX + 16]; /* dir/s.sock */
static char serve_log[PATH_MAX + 16];
static pid_t server_pid = -1;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start `vivarium ARGV...` in the background, output to files (NULL:
 * /dev/null). */
static pid_t spawn_cli(const char *const *argv, const char *out_path, const char *err_path)
{
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
    static char *env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path ? err_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawn(&pid, full[0], &fa, &attr, full, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(full);
    assert_int_equal(rc, 0);
    return pid;
}

/* Exit status, or 1000 + signal; fails the test if it does not end in
 * limit_s seconds (and kills it). */
static int wait_exit(pid_t pid, double limit_s)
{
    double end = now_s() + limit_s;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
        }
        if (now_s() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("process %ld did not end within %.0f s", (long)pid, limit_s);
        }
        usleep(10000);
    }
}

static int connect_to(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path) {
        close(fd);
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        return fd;
    }
    int e = errno;
    if (fd >= 0) {
        close(fd);
    }
    errno = e;
    return -1;
}

/* Occurrences of needle in the group server's log. */
static int count_in_log(const char *needle)
{
    int n = 0;
    char *log = e2e_slurp(serve_log, NULL);
    for (const char *p = log; p != NULL && (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    free(log);
    return n;
}

/* Wait until the group server's log holds more than `before` of needle. */
static void wait_log_count(const char *needle, int before)
{
    double end = now_s() + 30;
    while (count_in_log(needle) <= before) {
        assert_true(now_s() < end);
        usleep(20000);
    }
}

static pid_t start_server(const char *path, const char *const *extra)
{
    const char *argv[32] = {"serve", "--socket", path, "--log", serve_log};
    size_t n = 5;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 31; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    char err_path[PATH_MAX + 16];
    snprintf(err_path, sizeof err_path, "%s.stderr", path);
    pid_t pid = spawn_cli(argv, NULL, err_path);
    double end = now_s() + 60;
    while (now_s() < end) {
        int fd = connect_to(path);
        if (fd >= 0) {
            close(fd);
            return pid;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fail_msg("vivarium serve exited early (status %d)", status);
        }
        usleep(20000);
    }
    kill(pid, SIGKILL);
    fail_msg("vivarium serve did not listen on %s", path);
    return -1;
}

static void stop_server(pid_t pid, const char *path)
{
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(wait_exit(pid, 60), 0);
    struct stat st;
    assert_int_equal(lstat(path, &st), -1); /* the socket is gone */
}

static int group_setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/viv_e2e_serve_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(sock, sizeof sock, "%s/s.sock", dir);
    snprintf(serve_log, sizeof serve_log, "%s/serve.log", dir);
    server_pid = start_server(sock, E2E_ARGV("--max-concurrent", "4"));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    e2e_rmtree(dir);
    return 0;
}

/* ---- identical results -------------------------------------------------- */

/* Fields that must agree between the two paths (timing, ids and temporary
 * paths may not). */
static const char *const same_fields[] = {
    "success",         "exit_code",          "stdout",
    "stderr",          "stdout_truncated",   "stderr_truncated",
    "trapped",         "trap_reason",        "trap_message",
    "fuel_budget",     "memory_limit_bytes", "session_id",
    "files_created",   "files_modified",     "files_deleted",
    "files_truncated",
};

/* Run argv locally and through the server (plain and --json) and compare. */
static void compare_modes(const e2e_opts *o, const char *const *argv, int modes)
{
    size_t n = 0;
    while (argv[n] != NULL && n < 30) {
        n++;
    }
    for (int json = 0; json < modes; json++) {
        /* argv: run [--json] [--socket S] ARGS... */
        e2e_run local, remote;
        const char *l[40], *r[40];
        size_t k = 0;
        l[k++] = "run";
        if (json) {
            l[k++] = "--json";
        }
        memcpy(r, l, sizeof l);
        size_t kr = k;
        r[kr++] = "--socket";
        r[kr++] = sock;
        for (size_t i = 0; i < n; i++) {
            l[k++] = argv[i];
            r[kr++] = argv[i];
        }
        l[k] = NULL;
        r[kr] = NULL;
        e2e_exec(&local, o, l);
        e2e_exec(&remote, o, r);
        if (local.exit_code != remote.exit_code) {
            fail_msg("%s: exit %d locally, %d through the server\nlocal stderr: %s\nremote "
                     "stderr: %s",
                     argv[n - 1], local.exit_code, remote.exit_code, local.err, remote.err);
        }
        if (!json) {
            assert_int_equal(local.out_len, remote.out_len);
            assert_memory_equal(local.out, remote.out, local.out_len);
            assert_int_equal(local.err_len, remote.err_len);
            assert_memory_equal(local.err, remote.err, local.err_len);
        } else {
            json_t *a = e2e_json(&local), *b = e2e_json(&remote);
            for (size_t i = 0; i < sizeof same_fields / sizeof *same_fields; i++) {
                json_t *va = json_object_get(a, same_fields[i]);
                json_t *vb = json_object_get(b, same_fields[i]);
                if (!json_equal(va, vb)) {
                    char *sa = json_dumps(va, JSON_ENCODE_ANY),
                         *sb = json_dumps(vb, JSON_ENCODE_ANY);
                    fail_msg("%s: field %s differs: local %s, remote %s", argv[n - 1],
                             same_fields[i], sa, sb);
                }
            }
            /* The same key set, so nothing was added or lost on the way. */
            assert_int_equal(json_object_size(a), json_object_size(b));
        }
        e2e_run_free(&local);
        e2e_run_free(&remote);
    }
}

static void compare_paths(const e2e_opts *o, const char *const *argv) { compare_modes(o, argv, 2); }

#define COMPARE(...) compare_paths(NULL, E2E_ARGV(__VA_ARGS__))
/* Failures before anything runs print no JSON: plain mode only. */
#define COMPARE_ERROR(...) compare_modes(NULL, E2E_ARGV(__VA_ARGS__), 1)

static void test_same_as_local(void **state)
{
    (void)state;
    COMPARE("-c", "print('hello')");
    COMPARE("-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)");
    COMPARE("-c", "import sys; sys.exit(200)");
    COMPARE("-c", "def f():\n    raise ValueError('boom')\nf()\n");
    COMPARE("--fuel", "2000000", "-c", "while True: pass");
    COMPARE("--timeout", "0.5", "--fuel", "900000000000", "-c", "while True: pass");
    COMPARE("--memory", "48M", "-c", "x = bytearray(200_000_000)");
    COMPARE("--stdout-max", "10", "-c", "print('x' * 100)");
    COMPARE("--env", "GREETING=hi there", "-c",
            "import os, sys; print(sorted(os.environ.items())); print(sys.argv)", "a", "b c");
    COMPARE("-c", "import sys; sys.stdout.buffer.write(b'\\xff\\xfe raw\\n')");
}

/* Errors before anything runs: the same message and status both ways. */
static void test_same_errors_as_local(void **state)
{
    (void)state;
    COMPARE_ERROR("--workspace", "/nonexistent-dir", "-c", "print(1)");
    COMPARE_ERROR("--wasm", "/nonexistent.wasm", "-c", "print(1)");
    COMPARE_ERROR("--memory", "1000", "-c", "print(1)");
    COMPARE_ERROR("--session", "bad/id", "-c", "print(1)");
    COMPARE_ERROR("--mount", "/nonexistent-dir:/m", "-c", "print(1)");
    COMPARE_ERROR("--fuel", "0", "-c", "print(1)");
}

static void test_same_as_local_stdin_and_files(void **state)
{
    char *tmp = *state;
    char path[PATH_MAX], prog[PATH_MAX], cwd[PATH_MAX];
    e2e_path(path, tmp, "input.txt");
    e2e_write(path, "line one\nline two\n");
    e2e_path(prog, tmp, "prog.py");
    e2e_write(prog, "import sys\ndata = sys.stdin.read()\nprint(len(data), data.split())\n"
                    "raise SystemExit(data.count('line'))\n");
    COMPARE("--stdin", path, prog);
    /* Relative paths mean the client's directory, not the server's. */
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmp), 0);
    COMPARE("--stdin", "input.txt", "prog.py");
    e2e_opts o = {.stdin_data = "piped\n", .stdin_len = 6};
    compare_paths(&o, E2E_ARGV("--stdin", "-", "-c", "import sys; print(sys.stdin.read()[::-1])"));
    assert_int_equal(chdir(cwd), 0);
}

static void test_same_as_local_sessions(void **state)
{
    char *tmp = *state;
    char sessions[PATH_MAX];
    e2e_path(sessions, tmp, "sessions");
    /* Each path gets its own session; both runs of each are compared. */
    const char *writer = "open('/app/note.txt', 'w').write('kept'); print('wrote')";
    const char *reader = "print(open('/app/note.txt').read())";
    for (int step = 0; step < 2; step++) {
        e2e_run a, b;
        const char *code = step == 0 ? writer : reader;
        E2E_RUN(&a, "run", "--json", "--sessions-dir", sessions, "--session", "local1", "-c", code);
        E2E_RUN(&b, "run", "--json", "--socket", sock, "--sessions-dir", sessions, "--session",
                "remote1", "-c", code);
        e2e_expect_exit(&a, 0);
        e2e_expect_exit(&b, 0);
        json_t *ja = e2e_json(&a), *jb = e2e_json(&b);
        assert_string_equal(e2e_jstr(ja, "stdout"), e2e_jstr(jb, "stdout"));
        assert_true(
            json_equal(json_object_get(ja, "files_created"), json_object_get(jb, "files_created")));
        assert_string_equal(e2e_jstr(jb, "session_id"), "remote1");
        e2e_run_free(&a);
        e2e_run_free(&b);
    }
    char note[PATH_MAX + 64];
    snprintf(note, sizeof note, "%s/remote1/workspace/note.txt", sessions);
    char *text = e2e_slurp(note, NULL);
    assert_non_null(text);
    assert_string_equal(text, "kept");
    free(text);
}

/* ---- the caller's policy --------------------------------------------------- */

static void test_policy_is_the_callers(void **state)
{
    char *tmp = *state;
    char path[PATH_MAX], s2[PATH_MAX], pol[PATH_MAX];
    e2e_path(pol, tmp, "server.toml");
    e2e_write(pol, "fuel_budget = 1000\n[env]\nWHO = \"server\"\n");
    e2e_path(s2, tmp, "p.sock");
    pid_t pid = start_server(s2, E2E_ARGV("--policy", pol));
    e2e_run r;
    E2E_RUN(&r, "run", "--socket", s2, "--env", "WHO=client", "-c",
            "import os; print(os.environ.get('WHO'), os.environ.get('PYTHONHASHSEED'))");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "client 0\n");
    e2e_run_free(&r);
    /* Keys the caller's policy lacks stay unset, even if the server's has them. */
    e2e_path(path, tmp, "client.toml");
    e2e_write(path, "fuel_budget = 3000000\n");
    E2E_RUN(&r, "run", "--json", "--socket", s2, "--policy", path, "-c", "while True: pass");
    e2e_expect_exit(&r, 126);
    json_t *j = e2e_json(&r);
    assert_string_equal(e2e_jstr(j, "trap_reason"), "out_of_fuel");
    assert_int_equal(e2e_jint(j, "fuel_budget"), 3000000);
    e2e_run_free(&r);
    stop_server(pid, s2);
}

/* ---- the socket -------------------------------------------------------------- */

static void test_socket_owner_only(void **state)
{
    (void)state;
    struct stat st;
    assert_int_equal(lstat(sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_uid, geteuid());
}

static void test_unsafe_places_refused(void **state)
{
    char *tmp = *state;
    char open_dir[PATH_MAX], path[PATH_MAX + 16], file[PATH_MAX];
    e2e_run r;
    /* A directory others may write to. */
    e2e_path(open_dir, tmp, "open");
    assert_int_equal(mkdir(open_dir, 0700), 0);
    assert_int_equal(chmod(open_dir, 0777), 0);
    snprintf(path, sizeof path, "%s/s.sock", open_dir);
    E2E_RUN(&r, "serve", "--socket", path);
    e2e_expect_exit(&r, 125);
    e2e_expect_in("stderr", r.err, "writable by others");
    e2e_run_free(&r);
    /* A path that is not a socket is never removed. */
    e2e_path(file, tmp, "plain");
    e2e_write(file, "keep me");
    E2E_RUN(&r, "serve", "--socket", file);
    e2e_expect_exit(&r, 125);
    e2e_expect_in("stderr", r.err, "not a socket");
    e2e_run_free(&r);
    char *text = e2e_slurp(file, NULL);
    assert_string_equal(text, "keep me");
    free(text);
    /* A live server is not displaced. */
    E2E_RUN(&r, "serve", "--socket", sock);
    e2e_expect_exit(&r, 125);
    e2e_expect_in("stderr", r.err, "already listening");
    e2e_run_free(&r);
}

static void test_stale_socket_replaced(void **state)
{
    char *tmp = *state;
    char path[PATH_MAX];
    e2e_path(path, tmp, "stale.sock");
    /* A socket nobody listens on, as a killed server leaves behind. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof a.sun_path);
    memcpy(a.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    close(fd);
    pid_t pid = start_server(path, NULL);
    e2e_run r;
    E2E_RUN(&r, "run", "--socket", path, "-c", "print('ok')");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "ok\n");
    e2e_run_free(&r);
    stop_server(pid, path);
}

/* Another uid: the file mode keeps it out, and when root opens the mode
 * anyway, the server's peer-credential check still refuses it. */
static void test_other_uid_refused(void **state)
{
    char *tmp = *state;
    if (geteuid() != 0) {
        skip();
    }
    char path[PATH_MAX], sub[PATH_MAX];
    assert_int_equal(chmod(tmp, 0711), 0); /* so that only the socket's own mode counts */
    e2e_path(sub, tmp, "uid");
    assert_int_equal(mkdir(sub, 0700), 0);
    e2e_path(path, sub, "s.sock");
    pid_t pid = start_server(path, NULL);
    for (int opened = 0; opened < 2; opened++) {
        if (opened) {
            assert_int_equal(chmod(sub, 0711), 0);
            assert_int_equal(chmod(path, 0777), 0);
        }
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0) {
                _exit(90);
            }
            int fd = connect_to(path);
            if (fd < 0) {
                _exit(errno == EACCES ? 10 : 91);
            }
            /* Connected: the server must answer with a refusal and hang up. */
            char kind, *payload = NULL;
            size_t len;
            int rc = viv_frame_read(fd, 1 << 20, &kind, &payload, &len, NULL);
            bool refused = rc == 1 && strstr(payload, "permission denied") != NULL;
            free(payload);
            rc = viv_frame_read(fd, 1 << 20, &kind, &payload, &len, NULL);
            _exit(refused && rc == 0 ? 20 : 92);
        }
        int status;
        waitpid(child, &status, 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), opened ? 20 : 10);
    }
    stop_server(pid, path);
}

/* ---- concurrency, overload, cancel -------------------------------------------- */

static void test_overload_is_a_clear_error(void **state)
{
    char *tmp = *state;
    char path[PATH_MAX], outs[3][PATH_MAX], errs[3][PATH_MAX];
    e2e_path(path, tmp, "busy.sock");
    pid_t pid = start_server(path, E2E_ARGV("--max-concurrent", "1", "--max-queued", "1"));
    /* Three overlapping runs against one slot and one place in the queue:
     * whatever the order they arrive in, exactly one is turned away. */
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "busy%d.out", i);
        e2e_path(outs[i], tmp, name);
        snprintf(name, sizeof name, "busy%d.err", i);
        e2e_path(errs[i], tmp, name);
        kids[i] = spawn_cli(
            E2E_ARGV("run", "--socket", path, "-c", "import time; time.sleep(4); print('done')"),
            outs[i], errs[i]);
    }
    int refused = 0, done = 0;
    for (int i = 0; i < 3; i++) {
        int status = wait_exit(kids[i], 90);
        char *out = e2e_slurp(outs[i], NULL), *err = e2e_slurp(errs[i], NULL);
        assert_non_null(out);
        assert_non_null(err);
        if (status == 125) {
            e2e_expect_in("stderr", err, "overloaded");
            assert_string_equal(out, "");
            refused++;
        } else {
            assert_int_equal(status, 0);
            assert_string_equal(out, "done\n");
            done++;
        }
        free(out);
        free(err);
    }
    assert_int_equal(refused, 1);
    assert_int_equal(done, 2);
    stop_server(pid, path);
}

static void test_sigint_cancels_remote_run(void **state)
{
    char *tmp = *state;
    char out[PATH_MAX], err[PATH_MAX], ws[PATH_MAX], marker[PATH_MAX];
    e2e_path(out, tmp, "int.out");
    e2e_path(err, tmp, "int.err");
    e2e_path(ws, tmp, "int-ws");
    assert_int_equal(mkdir(ws, 0700), 0);
    e2e_path(marker, ws, "started");
    double t0 = now_s();
    pid_t kid = spawn_cli(E2E_ARGV("run", "--json", "--socket", sock, "--workspace", ws, "-c",
                                   "import time\nprint('started', flush=True)\n"
                                   "open('/app/started', 'w').close()\ntime.sleep(60)"),
                          out, err);
    /* --json holds output back; the guest's marker file says it is asleep. */
    struct stat st;
    while (stat(marker, &st) != 0) {
        assert_true(now_s() - t0 < 60);
        usleep(20000);
    }
    assert_int_equal(kill(kid, SIGINT), 0);
    assert_int_equal(wait_exit(kid, 30), 130);
    assert_true(now_s() - t0 < 50); /* not the 60 s sleep */
    size_t len;
    char *text = e2e_slurp(out, &len);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    assert_string_equal(e2e_jstr(j, "trap_reason"), "cancelled");
    assert_string_equal(e2e_jstr(j, "stdout"), "started\n");
    json_decref(j);
    free(text);
}

static void send_request(int fd, const char *policy, const char *code)
{
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    json_t *msg = json_pack("{s:s, s:i, s:s, s:s, s:[], s:b}", "type", "execute", "version",
                            VIV_PROTO_VERSION, "policy", policy, "cwd", cwd, "args", "stream", 1);
    assert_int_equal(viv_frame_write_json(fd, msg), 0);
    assert_int_equal(viv_frame_write(fd, VIV_FRAME_CODE, code, strlen(code)), 0);
    assert_int_equal(viv_frame_write(fd, VIV_FRAME_STDIN, "", 0), 0);
    json_decref(msg);
}

/* Frames up to the final control frame: stdout gathered into out. */
static json_t *read_reply(int fd, char *out, size_t cap)
{
    out[0] = '\0';
    for (;;) {
        char kind, *payload;
        size_t len;
        assert_int_equal(viv_frame_read(fd, 1 << 24, &kind, &payload, &len, NULL), 1);
        if (kind == VIV_FRAME_JSON) {
            json_t *o = json_loadb(payload, len, 0, NULL);
            free(payload);
            assert_non_null(o);
            return o;
        }
        if (kind == VIV_FRAME_STDOUT) {
            assert_true(strlen(out) + len < cap);
            strcat(out, payload);
        }
        free(payload);
    }
}

/* A persistent client: requests one after another on one connection, each
 * under its own policy, and an error about one request (a bad policy)
 * leaves the connection usable. */
static void test_one_connection_many_requests(void **state)
{
    (void)state;
    int fd = connect_to(sock);
    assert_true(fd >= 0);
    char out[256];
    send_request(fd, "fuel_budget = 5000000000\n[env]\nX = \"1\"\n",
                 "import os; print(os.environ['X'])");
    json_t *o = read_reply(fd, out, sizeof out);
    assert_string_equal(e2e_jstr(o, "type"), "result");
    assert_int_equal(e2e_jint(o, "exit_status"), 0);
    assert_string_equal(out, "1\n");
    json_decref(o);

    send_request(fd, "fuel_budget = -5\n", "print(2)");
    o = read_reply(fd, out, sizeof out);
    assert_string_equal(e2e_jstr(o, "type"), "error");
    assert_string_equal(e2e_jstr(o, "field"), "fuel_budget");
    json_decref(o);

    send_request(fd, "fuel_budget = 1000000\n", "while True: pass");
    o = read_reply(fd, out, sizeof out);
    assert_string_equal(e2e_jstr(o, "type"), "result");
    assert_int_equal(e2e_jint(o, "exit_status"), 126);
    json_t *res = json_loads(e2e_jstr(o, "result"), 0, NULL);
    assert_string_equal(e2e_jstr(res, "trap_reason"), "out_of_fuel");
    json_decref(res);
    json_decref(o);

    send_request(fd, "", "import os; print(sorted(os.environ))");
    o = read_reply(fd, out, sizeof out);
    assert_string_equal(e2e_jstr(o, "type"), "result");
    /* None of the policy defaults came back (the sandbox may still add
     * what the runtime itself needs, such as TMPDIR). */
    e2e_expect_not_in("env", out, "PYTHONHASHSEED");
    e2e_expect_not_in("env", out, "'X'");
    json_decref(o);
    close(fd);
}

/* A client that hangs up mid-run cancels its execution. */
static void test_hang_up_cancels(void **state)
{
    (void)state;
    int fd = connect_to(sock);
    assert_true(fd >= 0);
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    json_t *msg = json_pack("{s:s, s:i, s:s, s:s, s:[], s:b}", "type", "execute", "version",
                            VIV_PROTO_VERSION, "policy", "timeout_seconds = 120.0\n", "cwd", cwd,
                            "args", "stream", 1);
    const char *code = "import sys\nprint('hangup-marker', flush=True)\nwhile True: pass\n";
    int before = count_in_log("\"trap_reason\":\"cancelled\"");
    assert_int_equal(viv_frame_write_json(fd, msg), 0);
    assert_int_equal(viv_frame_write(fd, VIV_FRAME_CODE, code, strlen(code)), 0);
    assert_int_equal(viv_frame_write(fd, VIV_FRAME_STDIN, "", 0), 0);
    json_decref(msg);
    /* Output arrives in chunks as the guest writes; wait for the marker
     * line, so the loop is known to be running. */
    char seen[256] = "";
    while (strstr(seen, "hangup-marker\n") == NULL) {
        char kind, *payload;
        size_t len;
        assert_int_equal(viv_frame_read(fd, 1 << 20, &kind, &payload, &len, NULL), 1);
        assert_int_equal(kind, VIV_FRAME_STDOUT);
        assert_true(strlen(seen) + len < sizeof seen);
        strcat(seen, payload);
        free(payload);
    }
    close(fd);
    /* The server logs the execution as cancelled, long before its deadline. */
    wait_log_count("\"trap_reason\":\"cancelled\"", before);
}

/* Each run prints when it started and ended (guest clock): different
 * sessions overlap, one session's runs do not. */
static void run_pair(const char *tmp, const char *s1, const char *s2, double out[2][2])
{
    char sessions[PATH_MAX], paths[2][PATH_MAX];
    e2e_path(sessions, tmp, "par-sessions");
    const char *code = "import time\na = time.time()\ntime.sleep(2.5)\nprint(a, time.time())";
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "par%d.out", i);
        e2e_path(paths[i], tmp, name);
        kids[i] = spawn_cli(E2E_ARGV("run", "--socket", sock, "--sessions-dir", sessions,
                                     "--session", i == 0 ? s1 : s2, "-c", code),
                            paths[i], NULL);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(wait_exit(kids[i], 60), 0);
        char *text = e2e_slurp(paths[i], NULL);
        assert_non_null(text);
        assert_int_equal(sscanf(text, "%lf %lf", &out[i][0], &out[i][1]), 2);
        free(text);
    }
}

static void test_sessions_parallel_and_serialised(void **state)
{
    char *tmp = *state;
    double t[2][2];
    run_pair(tmp, "par-a", "par-b", t);
    /* Overlap: each started before the other ended. */
    assert_true(t[0][0] < t[1][1] && t[1][0] < t[0][1]);
    run_pair(tmp, "same", "same", t);
    assert_true(t[0][1] <= t[1][0] || t[1][1] <= t[0][0]);
}

/* ---- robustness ---------------------------------------------------------------- */

static void test_malformed_frames_do_not_kill(void **state)
{
    (void)state;
    /* Raw bytes, then JSON control frames that are well framed but wrong. */
    static const struct {
        const char *bytes;
        size_t len;
    } junk[] = {
        {"\xff\xff\xff\xff", 4},             /* absurd length */
        {"\0\0\0\0", 4},                     /* empty frame */
        {"\0\0\0\5Jnotj", 9},                /* not JSON */
        {"\0\0\0\3Xab", 7},                  /* unknown kind */
        {"\0\0\0\x14J{\"type\":\"exec", 17}, /* cut short */
        {"\0\0", 2},                         /* half a header */
    };
    static const char *const bad_json[] = {
        "[1, 2]",
        "{\"type\": \"nope\"}",
        "{\"type\": \"execute\"}",
        "{\"type\": \"execute\", \"version\": 99}",
        "{\"type\": \"execute\", \"version\": 1, \"policy\": 7, \"cwd\": \"/\"}",
        "{\"type\": \"execute\", \"version\": 1, \"policy\": \"fuel_budget = -1\", \"cwd\": \"/\"}",
        "{\"type\": \"execute\", \"version\": 1, \"policy\": \"\", \"cwd\": \"relative\"}",
        "{\"type\": \"execute\", \"version\": 1, \"policy\": \"\", \"cwd\": \"/\", \"args\": [1]}",
    };
    size_t njunk = sizeof junk / sizeof *junk, nbad = sizeof bad_json / sizeof *bad_json;
    for (size_t i = 0; i < njunk + nbad; i++) {
        int fd = connect_to(sock);
        assert_true(fd >= 0);
        if (i < njunk) {
            assert_int_equal(write(fd, junk[i].bytes, junk[i].len), (ssize_t)junk[i].len);
        } else {
            const char *t = bad_json[i - njunk];
            assert_int_equal(viv_frame_write(fd, VIV_FRAME_JSON, t, strlen(t)), 0);
            /* The server may already have answered and hung up. */
            (void)viv_frame_write(fd, VIV_FRAME_CODE, "print(1)", 8);
            (void)viv_frame_write(fd, VIV_FRAME_STDIN, "", 0);
        }
        shutdown(fd, SHUT_WR);
        char kind, *payload = NULL;
        size_t len;
        /* An error frame (or a hang-up); never a result, never a crash. */
        int rc = viv_frame_read(fd, 1 << 20, &kind, &payload, &len, NULL);
        if (rc == 1) {
            assert_int_equal(kind, VIV_FRAME_JSON);
            e2e_expect_in("reply", payload, "\"type\":\"error\"");
        }
        free(payload);
        close(fd);
    }
    e2e_run r;
    E2E_RUN(&r, "run", "--socket", sock, "-c", "print('alive')");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "alive\n");
    e2e_run_free(&r);
    assert_int_equal(kill(server_pid, 0), 0);
}

static void test_fallback_when_nothing_listens(void **state)
{
    char *tmp = *state;
    char path[PATH_MAX], log[PATH_MAX];
    e2e_path(path, tmp, "nobody.sock");
    e2e_path(log, tmp, "client.log");
    e2e_run r;
    const char *env[] = {NULL, NULL};
    char var[PATH_MAX + 32];
    snprintf(var, sizeof var, "VIVARIUM_SOCKET=%s", path);
    env[0] = var;
    e2e_opts o = {.env = env};
    e2e_exec(&r, &o, E2E_ARGV("run", "--log", log, "-c", "print('local')"));
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "local\n");
    assert_string_equal(r.err, "");
    e2e_run_free(&r);
    char *text = e2e_slurp(log, NULL);
    assert_non_null(text);
    e2e_expect_in("client log", text, "serve.client.fallback");
    e2e_expect_in("client log", text, "sandbox.execution.complete");
    free(text);
    /* And through the variable when a server listens. */
    snprintf(var, sizeof var, "VIVARIUM_SOCKET=%s", sock);
    int before = count_in_log("sandbox.execution.complete");
    char log2[PATH_MAX];
    e2e_path(log2, tmp, "client2.log");
    e2e_exec(&r, &o, E2E_ARGV("run", "--log", log2, "-c", "print('via env')"));
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "via env\n");
    e2e_run_free(&r);
    assert_int_equal(count_in_log("sandbox.execution.complete"), before + 1);
    /* The client's --log still gets the execution's events, from the server. */
    text = e2e_slurp(log2, NULL);
    assert_non_null(text);
    e2e_expect_in("client log", text, "sandbox.execution.start");
    e2e_expect_in("client log", text, "sandbox.execution.complete");
    e2e_expect_not_in("client log", text, "serve.client.fallback");
    free(text);
}

static void test_shutdown_lets_running_finish(void **state)
{
    char *tmp = *state;
    char path[PATH_MAX], out[PATH_MAX];
    e2e_path(path, tmp, "stop.sock");
    e2e_path(out, tmp, "stop.out");
    pid_t pid = start_server(path, E2E_ARGV("--grace", "20"));
    int before = count_in_log("sandbox.execution.start");
    pid_t kid = spawn_cli(
        E2E_ARGV("run", "--socket", path, "-c", "import time; time.sleep(1.5); print('finished')"),
        out, NULL);
    /* The execution is under way when the server is told to stop. */
    wait_log_count("sandbox.execution.start", before);
    stop_server(pid, path);
    assert_int_equal(wait_exit(kid, 30), 0);
    char *text = e2e_slurp(out, NULL);
    assert_string_equal(text, "finished\n");
    free(text);
}

/* A client connected when the server is told to stop gets an answer: its
 * result, or "retry locally"; never a dropped connection. */
static void test_shutdown_answers_waiting_clients(void **state)
{
    char *tmp = *state;
    char path[PATH_MAX];
    e2e_path(path, tmp, "answer.sock");
    pid_t pid = start_server(path, NULL);
    int fd = connect_to(path);
    assert_true(fd >= 0);
    assert_int_equal(kill(pid, SIGTERM), 0);
    send_request(fd, "", "print('answered')");
    char out[256];
    json_t *o = read_reply(fd, out, sizeof out);
    const char *type = e2e_jstr(o, "type");
    if (strcmp(type, "error") == 0) {
        assert_true(e2e_jbool(o, "retry_local"));
    } else {
        assert_string_equal(type, "result");
        assert_string_equal(out, "answered\n");
    }
    json_decref(o);
    close(fd);
    assert_int_equal(wait_exit(pid, 60), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, e2e_setup_tmp, e2e_teardown_tmp)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_same_as_local),
        T(test_same_errors_as_local),
        T(test_same_as_local_stdin_and_files),
        T(test_same_as_local_sessions),
        T(test_policy_is_the_callers),
        T(test_socket_owner_only),
        T(test_unsafe_places_refused),
        T(test_stale_socket_replaced),
        T(test_other_uid_refused),
        T(test_overload_is_a_clear_error),
        T(test_sigint_cancels_remote_run),
        T(test_one_connection_many_requests),
        T(test_hang_up_cancels),
        T(test_sessions_parallel_and_serialised),
        T(test_malformed_frames_do_not_kill),
        T(test_fallback_when_nothing_listens),
        T(test_shutdown_lets_running_finish),
        T(test_shutdown_answers_waiting_clients),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
