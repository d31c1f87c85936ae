/*
 * bench/warm_bench.c: the fast-start benchmarks of issue #8, each run side
 * by side with native CPython and printed as a ratio, with the issue's
 * targets next to the measured figures.
 *
 *   warm_bench VIVARIUM NATIVE_PYTHON GUEST_WASM [RUNS]
 *
 * 1. `print(1)` end to end through the CLI (`vivarium run --socket`, a
 *    `vivarium serve` started here) against `NATIVE -c 'print(1)'`, the two
 *    alternating so both see the same load: p50 and p99 of RUNS runs.
 * 2. The same through the library in a loop (one sandbox on a warm pool).
 * 3. `import json, re, csv` plus a small transform, both ways.
 * 4. Throughput with 2 workers: library threads, separate CLI processes,
 *    and native processes for scale.
 * 5. The server's memory (PSS, shared pages counted once) once idle.
 *
 * Until the warm interpreter is in place executions are served cold; the
 * "warm" column says which one was measured. Nothing here passes or fails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "proto.h"
#include "vivarium.h"

extern char **environ;

static const char *viv_cli, *native, *guest;
static char sock[256];
static volatile pid_t server_pid;

/* An interrupted bench takes its server down with it. */
static void on_stop(int sig)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static pid_t spawn(char *const argv[], bool quiet)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (quiet) {
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    }
    pid_t pid = -1;
    if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
        pid = -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

/* Wall time of one process, start to exit; negative if it failed. */
static double time_process(char *const argv[])
{
    double t0 = now_ms();
    pid_t pid = spawn(argv, false);
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        return -1;
    }
    return now_ms() - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static void report(const char *name, double *viv, double *nat, size_t n, const char *target)
{
    double v50 = pct(viv, n, 0.5), v99 = pct(viv, n, 0.99);
    double n50 = pct(nat, n, 0.5), n99 = pct(nat, n, 0.99);
    printf("%-38s p50 %8.2f ms (native %7.2f, %5.2fx)  p99 %8.2f ms (native %7.2f, %5.2fx)\n", name,
           v50, n50, v50 / n50, v99, n99, v99 / n99);
    printf("%-38s target: %s\n", "", target);
}

static const char import_code[] =
    "import json, re, csv, io\n"
    "rows = list(csv.reader(io.StringIO('a,b\\n1,x-1\\n2,y-22\\n3,z-333\\n')))\n"
    "out = [{'n': int(r[0]), 'tail': re.sub(r'\\D', '', r[1])} for r in rows[1:]]\n"
    "print(json.dumps(out))\n";

/* ---- CLI side by side ------------------------------------------------------ */

static void bench_cli(const char *name, const char *code, size_t runs, const char *target)
{
    double *v = calloc(runs, sizeof *v), *n = calloc(runs, sizeof *n);
    char *viv_argv[] = {(char *)viv_cli, "run", "--socket", sock, "-c", (char *)code, NULL};
    char *nat_argv[] = {(char *)native, "-c", (char *)code, NULL};
    size_t ok = 0;
    for (size_t i = 0; i < runs; i++) {
        double a = time_process(nat_argv), b = time_process(viv_argv);
        if (a > 0 && b > 0) {
            n[ok] = a;
            v[ok++] = b;
        }
    }
    if (ok == 0) {
        printf("%-38s failed (is the guest compiled?)\n", name);
    } else {
        report(name, v, n, ok, target);
    }
    free(v);
    free(n);
}

/* ---- library loop ------------------------------------------------------------ */

static viv_sandbox *make_sandbox(viv_warm_pool *pool)
{
    viv_error err = {0};
    viv_policy *p = NULL;
    viv_sandbox *sb = NULL;
    if (viv_policy_new(&p, &err) != VIV_OK || viv_sandbox_create(p, guest, &sb, &err) != VIV_OK) {
        fprintf(stderr, "warm_bench: %s\n", err.message);
        viv_policy_free(p);
        return NULL;
    }
    viv_policy_free(p);
    viv_sandbox_set_warm_pool(sb, pool);
    if (viv_sandbox_prewarm(sb, &err) != VIV_OK) {
        printf("  (library: prewarm failed, serving cold: %s)\n", err.message);
    }
    return sb;
}

static double time_exec(viv_sandbox *sb, const char *code, bool *warm)
{
    viv_error err = {0};
    viv_result *res = NULL;
    double t0 = now_ms();
    if (viv_sandbox_execute(sb, code, strlen(code), NULL, &res, &err) != VIV_OK) {
        return -1;
    }
    double t = now_ms() - t0;
    bool good = viv_result_success(res);
    *warm = viv_result_warm(res);
    viv_result_free(res);
    return good ? t : -1;
}

static void bench_lib(viv_sandbox *sb, const char *name, const char *code, size_t runs,
                      const char *target)
{
    double *v = calloc(runs, sizeof *v), *n = calloc(runs, sizeof *n);
    char *nat_argv[] = {(char *)native, "-c", (char *)code, NULL};
    size_t ok = 0, warm = 0;
    for (size_t i = 0; i < runs; i++) {
        bool w = false;
        double a = time_process(nat_argv), b = time_exec(sb, code, &w);
        if (a > 0 && b > 0) {
            n[ok] = a;
            v[ok++] = b;
            warm += w;
        }
    }
    if (ok == 0) {
        printf("%-38s failed\n", name);
    } else {
        report(name, v, n, ok, target);
        printf("%-38s warm executions: %zu of %zu\n", "", warm, ok);
    }
    free(v);
    free(n);
}

/* ---- throughput ---------------------------------------------------------------- */

typedef struct worker {
    viv_warm_pool *pool;
    viv_sandbox *sb;
    int mode; /* 0 library, 1 CLI processes, 2 native processes, 3 persistent serve client */
    size_t count, done;
} worker;

static int connect_server(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, sock, strlen(sock) + 1);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* One print(1) over an open connection, as a persistent client would. */
static bool serve_exec(int fd, const char *policy_toml)
{
    json_t *msg =
        json_pack("{s:s, s:i, s:s, s:s, s:[], s:b}", "type", "execute", "version",
                  VIV_PROTO_VERSION, "policy", policy_toml, "cwd", "/", "args", "stream", 1);
    bool ok = msg != NULL && viv_frame_write_json(fd, msg) == 0 &&
              viv_frame_write(fd, VIV_FRAME_CODE, "print(1)", 8) == 0 &&
              viv_frame_write(fd, VIV_FRAME_STDIN, "", 0) == 0;
    json_decref(msg);
    while (ok) {
        char kind, *payload;
        size_t len;
        if (viv_frame_read(fd, VIV_PROTO_MAX_FRAME, &kind, &payload, &len, NULL) != 1) {
            return false;
        }
        bool last = kind == VIV_FRAME_JSON;
        if (last) {
            ok = strstr(payload, "\"type\":\"result\"") != NULL;
        }
        free(payload);
        if (last) {
            break;
        }
    }
    return ok;
}

static void *work(void *arg)
{
    worker *w = arg;
    if (w->mode == 3) {
        viv_policy *p = NULL;
        char *toml = NULL;
        int fd = connect_server();
        if (fd >= 0 && viv_policy_new(&p, NULL) == VIV_OK &&
            viv_policy_to_toml(p, &toml, NULL, NULL) == VIV_OK) {
            for (size_t i = 0; i < w->count; i++) {
                w->done += serve_exec(fd, toml);
            }
        }
        free(toml);
        viv_policy_free(p);
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    char *viv_argv[] = {(char *)viv_cli, "run", "--socket", sock, "-c", "print(1)", NULL};
    char *nat_argv[] = {(char *)native, "-c", "print(1)", NULL};
    for (size_t i = 0; i < w->count; i++) {
        bool warm;
        double t = w->mode == 0   ? time_exec(w->sb, "print(1)", &warm)
                   : w->mode == 1 ? time_process(viv_argv)
                                  : time_process(nat_argv);
        w->done += t > 0;
    }
    return NULL;
}

static double throughput(viv_warm_pool *pool, int mode, size_t per_worker)
{
    worker w[2] = {{pool, NULL, mode, per_worker, 0}, {pool, NULL, mode, per_worker, 0}};
    for (int i = 0; mode == 0 && i < 2; i++) {
        if ((w[i].sb = make_sandbox(pool)) == NULL) {
            return -1;
        }
    }
    pthread_t t[2];
    double t0 = now_ms();
    for (int i = 0; i < 2; i++) {
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    double secs = (now_ms() - t0) / 1e3;
    for (int i = 0; i < 2; i++) {
        viv_sandbox_destroy(w[i].sb);
    }
    return (double)(w[0].done + w[1].done) / secs;
}

/* ---- the server ------------------------------------------------------------------ */

static bool server_ready(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, sock, strlen(sock) + 1);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

/* PSS in kB of pid and its descendants: shared pages are split between
 * the processes sharing them, so the sum counts them once. */
static long pss_tree_kb(pid_t root)
{
    long total = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        char path[300], line[256];
        pid_t pid = (pid_t)atol(e->d_name);
        if (pid <= 0) {
            continue;
        }
        /* Is root an ancestor (or pid itself)? */
        pid_t p = pid;
        for (int depth = 0; p > 1 && p != root && depth < 16; depth++) {
            snprintf(path, sizeof path, "/proc/%d/stat", (int)p);
            FILE *f = fopen(path, "r");
            int ppid = 0;
            if (f == NULL || fscanf(f, "%*d (%*[^)]) %*c %d", &ppid) != 1) {
                ppid = 0;
            }
            if (f != NULL) {
                fclose(f);
            }
            p = (pid_t)ppid;
        }
        if (p != root) {
            continue;
        }
        snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
        FILE *f = fopen(path, "r");
        while (f != NULL && fgets(line, sizeof line, f) != NULL) {
            long kb;
            if (sscanf(line, "Pss: %ld kB", &kb) == 1) {
                total += kb;
            }
        }
        if (f != NULL) {
            fclose(f);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return total;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: warm_bench VIVARIUM NATIVE_PYTHON GUEST_WASM [RUNS]\n");
        return 2;
    }
    viv_cli = argv[1];
    native = argv[2];
    guest = argv[3];
    size_t runs = argc > 4 ? (size_t)atol(argv[4]) : 200;
    if (runs < 2) {
        runs = 2;
    }
    char dir[] = "/tmp/viv_warm_bench_XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(sock, sizeof sock, "%s/s.sock", dir);
    char *serve_argv[] = {(char *)viv_cli, "serve",       "--socket", sock,
                          "--wasm",        (char *)guest, NULL};
    pid_t server = spawn(serve_argv, false);
    server_pid = server;
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    double t0 = now_ms();
    while (!server_ready() && now_ms() - t0 < 120e3) {
        usleep(5000);
    }
    if (!server_ready()) {
        fprintf(stderr, "warm_bench: vivarium serve did not start\n");
        kill(server, SIGTERM);
        return 1;
    }
    printf("server ready after %.0f ms; %zu runs per figure\n\n", now_ms() - t0, runs);

    bench_cli("print(1), CLI via serve", "print(1)", runs,
              "p50 <= 0.3x native python3.12 -c 'print(1)'");
    bench_cli("import json,re,csv + transform, CLI", import_code, runs, "(no target; for scale)");

    viv_error err = {0};
    viv_warm_pool *pool = NULL;
    if (viv_warm_pool_create(NULL, &pool, &err) != VIV_OK) {
        fprintf(stderr, "warm_bench: %s\n", err.message);
    } else {
        viv_sandbox *sb = make_sandbox(pool);
        if (sb != NULL) {
            bench_lib(sb, "print(1), library loop", "print(1)", runs,
                      "p50 <= 4 ms per execution (aim: 2 ms)");
            bench_lib(sb, "import json,re,csv + transform, lib", import_code, runs,
                      "(no target; for scale)");
            viv_sandbox_destroy(sb);
        }
        size_t per = runs / 2 > 10 ? runs / 2 : 10;
        double lib = throughput(pool, 0, per);
        double cli = throughput(pool, 1, per);
        double persistent = throughput(pool, 3, per);
        double nat = throughput(pool, 2, per);
        printf("\nthroughput, 2 workers, print(1), %zu executions in all:\n", 2 * per);
        printf("  library       %8.1f exec/s  (%5.2fx native)   target >= 300/s\n", lib, lib / nat);
        printf("  CLI processes %8.1f exec/s  (%5.2fx native)   target >= 120/s\n", cli, cli / nat);
        printf("  serve client  %8.1f exec/s  (%5.2fx native)   target >= 300/s (one connection "
               "per worker)\n",
               persistent, persistent / nat);
        printf("  native        %8.1f exec/s\n", nat);
        viv_warm_pool_destroy(pool);
    }

    long kb = pss_tree_kb(server);
    printf("\nserver memory when idle (PSS, server and its children): %.1f MB   "
           "target <= 64 MB per warm interpreter\n",
           (double)kb / 1024.0);
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    rmdir(dir);
    return 0;
}
