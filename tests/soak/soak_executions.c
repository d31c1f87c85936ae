/*
 * tests/soak/soak_executions.c: thousands of executions in one process, and
 * the parent gives every resource back.
 *
 * Uses only the public API (vivarium.h). Runs N executions (default 2000)
 * through three sandboxes that live for the whole test:
 *
 *   - most runs: `print(1)` in a fixed workspace directory;
 *   - every 10th run: a program that spins until its fuel runs out
 *     (trap_reason out_of_fuel);
 *   - every 10th run, offset by 5: `print(1)` plus a file written in a
 *     temporary workspace (the policy's default), which must be gone after.
 *
 * Every result is checked. The parent's open descriptors (/proc/self/fd)
 * must be exactly the baseline taken before the first execution, checked
 * every 100 runs and at the end; its resident set (VmRSS) must grow by less
 * than 10 MB between run 100 and the end; no child process may be left
 * behind and the private TMPDIR must be empty at the end.
 *
 * Prints the timings and the fd and memory figures. A missing guest module
 * fails the test.
 *
 * Usage: soak_executions [GUEST.wasm [N]]
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vivarium.h"

#ifndef SOAK_DEFAULT_WASM
#define SOAK_DEFAULT_WASM "python.wasm"
#endif

#define RSS_GROWTH_MAX_KB (10 * 1024)
#define TRAP_FUEL 400000000LL /* CPython starts in ~250M; a spin does not end */

static int failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Open descriptors of this process, minus the one opendir uses to count. */
static int open_fds(void)
{
    int n = count_entries("/proc/self/fd");
    return n < 0 ? -1 : n - 1;
}

static void list_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[300], target[4096];
        snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(p, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        fprintf(stderr, "    fd %s -> %s\n", e->d_name, target);
    }
    closedir(d);
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    return kb;
}

static viv_sandbox *make_sandbox(const char *wasm, const char *workspace, int64_t fuel)
{
    viv_error err = {0};
    viv_policy *p = NULL;
    viv_sandbox *sb = NULL;
    if (viv_policy_new(&p, &err) != VIV_OK ||
        (workspace != NULL && viv_policy_set_workspace(p, workspace, &err) != VIV_OK) ||
        viv_policy_set_fuel_budget(p, fuel, &err) != VIV_OK ||
        viv_policy_set_timeout_seconds(p, 20, &err) != VIV_OK ||
        viv_sandbox_create(p, wasm, &sb, &err) != VIV_OK) {
        fprintf(stderr, "cannot set up a sandbox: %s: %s\n", viv_status_name(err.status),
                err.message);
        exit(2);
    }
    viv_policy_free(p);
    return sb;
}

static const char *reason_of(const viv_result *r)
{
    const char *name = viv_trap_reason_name(viv_result_trap_reason(r));
    return name != NULL ? name : "none";
}

enum kind { PLAIN, TRAPPING, TEMPORARY };

static const char code_plain[] = "print(1)\n";
static const char code_trap[] = "while True:\n    pass\n";
static const char code_temp[] = "open('/app/note.txt', 'w').write('x' * 1000)\nprint(1)\n";

int main(int argc, char **argv)
{
    const char *wasm = argc > 1 ? argv[1] : SOAK_DEFAULT_WASM;
    long total = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
    if (total < 200) {
        fprintf(stderr, "need at least 200 executions\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (access(wasm, R_OK) != 0) {
        printf("no guest module at %s (tools/bootstrap builds it)\n", wasm);
        return 1;
    }

    /* A private TMPDIR, so leftovers of temporary workspaces are visible. */
    char tmpdir[] = "/tmp/viv-soak-XXXXXX";
    char workspace[sizeof tmpdir + 16];
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(workspace, sizeof workspace, "%s/ws", tmpdir);
    char tmp_for_lib[sizeof tmpdir + 16];
    snprintf(tmp_for_lib, sizeof tmp_for_lib, "%s/tmp", tmpdir);
    if (mkdir(workspace, 0700) != 0 || mkdir(tmp_for_lib, 0700) != 0) {
        perror("mkdir");
        return 2;
    }
    setenv("TMPDIR", tmp_for_lib, 1);

    viv_sandbox *plain = make_sandbox(wasm, workspace, 5000000000LL);
    viv_sandbox *trapping = make_sandbox(wasm, workspace, TRAP_FUEL);
    viv_sandbox *temporary = make_sandbox(wasm, NULL, 5000000000LL);

    int fd_base = open_fds();
    long rss_start = rss_kb(), rss_100 = -1, rss_peak = 0;
    printf("# baseline: %d open fds, VmRSS %ld kB\n", fd_base, rss_start);

    double t0 = now_s(), tmin[3] = {1e9, 1e9, 1e9}, tmax[3] = {0}, tsum[3] = {0};
    long count[3] = {0};
    long fd_failures = 0;
    for (long i = 0; i < total; i++) {
        enum kind k = i % 10 == 9 ? TRAPPING : i % 10 == 4 ? TEMPORARY : PLAIN;
        viv_sandbox *sb = k == TRAPPING ? trapping : k == TEMPORARY ? temporary : plain;
        const char *code = k == TRAPPING ? code_trap : k == TEMPORARY ? code_temp : code_plain;
        viv_result *r = NULL;
        viv_error err = {0};
        double t = now_s();
        viv_status st = viv_sandbox_execute(sb, code, strlen(code), NULL, &r, &err);
        t = now_s() - t;
        CHECK(st == VIV_OK, "run %ld: %s: %s", i, viv_status_name(st), err.message);
        if (st != VIV_OK) {
            if (failures > 20)
                break;
            continue;
        }
        tsum[k] += t;
        count[k]++;
        tmin[k] = t < tmin[k] ? t : tmin[k];
        tmax[k] = t > tmax[k] ? t : tmax[k];
        size_t len;
        const char *out = viv_result_stdout(r, &len);
        if (k == TRAPPING) {
            CHECK(viv_result_trap_reason(r) == VIV_TRAP_OUT_OF_FUEL, "run %ld: trap %s (%s)", i,
                  reason_of(r), viv_result_trap_message(r));
        } else {
            CHECK(viv_result_success(r), "run %ld: not a success: %s %s", i,
                  reason_of(r), viv_result_trap_message(r));
            CHECK(len == 2 && memcmp(out, "1\n", 2) == 0, "run %ld: stdout '%.*s'", i, (int)len,
                  out);
        }
        if (k == TEMPORARY) {
            const char *ws = viv_result_workspace_path(r);
            struct stat st_ws;
            CHECK(ws != NULL && stat(ws, &st_ws) != 0, "run %ld: temporary workspace %s left",
                  i, ws ? ws : "(null)");
            CHECK(viv_result_files_count(r, VIV_FILES_CREATED) == 1,
                  "run %ld: %zu files created", i, viv_result_files_count(r, VIV_FILES_CREATED));
        }
        viv_result_free(r);

        long rss = rss_kb();
        rss_peak = rss > rss_peak ? rss : rss_peak;
        if (i + 1 == 100)
            rss_100 = rss;
        if ((i + 1) % 100 == 0) {
            int fds = open_fds();
            if (fds != fd_base && fd_failures++ < 3) {
                CHECK(fds == fd_base, "after %ld runs: %d open fds, baseline %d", i + 1, fds,
                      fd_base);
                list_fds();
            }
            if ((i + 1) % 500 == 0)
                printf("# %ld runs, %.1f s, %d fds, VmRSS %ld kB\n", i + 1, now_s() - t0, fds,
                       rss);
        }
        if (failures > 20) {
            fprintf(stderr, "too many failures; stopping\n");
            break;
        }
    }
    double elapsed = now_s() - t0;

    viv_sandbox_destroy(plain);
    viv_sandbox_destroy(trapping);
    viv_sandbox_destroy(temporary);

    int fd_end = open_fds();
    long rss_end = rss_kb();
    CHECK(fd_end == fd_base, "at the end: %d open fds, baseline %d", fd_end, fd_base);
    if (fd_end != fd_base)
        list_fds();
    CHECK(rss_100 > 0 && rss_end - rss_100 < RSS_GROWTH_MAX_KB,
          "VmRSS grew from %ld kB (run 100) to %ld kB", rss_100, rss_end);
    int left = count_entries(tmp_for_lib);
    CHECK(left == 0, "%d entries left in TMPDIR %s", left, tmp_for_lib);
    errno = 0;
    CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD, "child processes left behind");

    long runs = count[0] + count[1] + count[2];
    static const char *names[3] = {"print(1)", "out_of_fuel", "temp workspace"};
    printf("# %ld executions in %.1f s (%.1f ms each on average)\n", runs, elapsed,
           runs ? elapsed * 1000 / (double)runs : 0.0);
    for (int k = 0; k < 3; k++) {
        if (count[k] > 0)
            printf("#   %-15s %5ld runs  avg %6.1f ms  min %6.1f  max %6.1f\n", names[k],
                   count[k], tsum[k] * 1000 / (double)count[k], tmin[k] * 1000,
                   tmax[k] * 1000);
    }
    printf("# fds: baseline %d, end %d; VmRSS: start %ld kB, run 100 %ld kB, end %ld kB "
           "(growth %+ld kB), peak %ld kB\n",
           fd_base, fd_end, rss_start, rss_100, rss_end, rss_end - rss_100, rss_peak);

    /* Clean up the fixed workspace and the private TMPDIR. */
    char note[sizeof workspace + 16];
    snprintf(note, sizeof note, "%s/note.txt", workspace);
    unlink(note);
    rmdir(workspace);
    rmdir(tmp_for_lib);
    rmdir(tmpdir);

    printf("%s: %d failures\n", failures == 0 ? "PASS" : "FAIL", failures);
    return failures == 0 ? 0 : 1;
}
