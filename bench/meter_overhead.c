/*
 * bench/meter_overhead.c: what fuel metering costs.
 *
 * Runs the same compute workload through two builds of the same guest, one
 * metered (the normal artifact) and one compiled without the fuel pass,
 * alternating so both see the same machine load, and prints the medians and
 * their ratio. The unmetered build is compiled on first use and cached like
 * any artifact (a cold compile takes about 5 minutes).
 *
 * This is the one program that runs a guest without fuel enforcement; it
 * reaches the library's internals to do so, and is never installed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "sandbox_internal.h"

static const char default_workload[] = "x = 0\n"
                                       "for i in range(3_000_000):\n"
                                       "    x += i\n"
                                       "print(x)\n";

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void progress(void *user, const char *step, unsigned no, unsigned steps, double t, bool done)
{
    (void)user;
    if (done || ((int)t % 30) == 0) {
        fprintf(stderr, "[%u/%u] %s ... %.0fs%s\n", no, steps, step, t, done ? " done" : "");
    }
}

/* argv[3] replaces it, e.g. a short loop to count instructions under callgrind. */
static const char *workload = default_workload;

static double run_once(viv_sandbox *sb, char *out, size_t outlen)
{
    viv_result *r = NULL;
    viv_error err = {0};
    if (viv_sandbox_execute(sb, workload, strlen(workload), NULL, &r, &err) != VIV_OK) {
        fprintf(stderr, "meter_overhead: %s\n", err.message);
        exit(1);
    }
    size_t n;
    const char *text = viv_result_stdout(r, &n);
    snprintf(out, outlen, "%.*s", (int)n, text);
    if (!viv_result_success(r)) {
        fprintf(stderr, "meter_overhead: the workload failed: %s\n", viv_result_trap_message(r));
        exit(1);
    }
    double ms = viv_result_duration_ms(r);
    viv_result_free(r);
    return ms;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: meter_overhead GUEST.wasm [RUNS [CODE]]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 10;
    if (runs < 1 || runs > 1000) {
        runs = 10;
    }
    if (argc > 3) {
        workload = argv[3];
    }
    viv_engine_compile_options co = {.wasm_path = argv[1], .unmetered = true, .progress = progress};
    viv_engine_compile_result cres;
    char msg[1024];
    if (viv_engine_compile(&co, &cres, msg, sizeof msg) != VIV_ENGINE_OK) {
        fprintf(stderr, "meter_overhead: %s\n", msg);
        return 1;
    }
    viv_error err = {0};
    viv_policy *p = NULL;
    viv_sandbox *metered = NULL, *plain = NULL;
    if (viv_policy_new(&p, &err) != VIV_OK ||
        viv_policy_set_fuel_budget(p, INT64_MAX / 4, &err) != VIV_OK ||
        viv_policy_set_timeout_seconds(p, 0, &err) != VIV_OK ||
        viv_sandbox_create(p, argv[1], &metered, &err) != VIV_OK ||
        viv_sandbox_create(p, argv[1], &plain, &err) != VIV_OK ||
        viv_sandbox_use_unmetered(plain, cres.artifact_path, &err) != VIV_OK) {
        fprintf(stderr, "meter_overhead: %s\n", err.message);
        return 1;
    }
    double *m = calloc((size_t)runs, sizeof *m), *u = calloc((size_t)runs, sizeof *u);
    char out_m[64], out_u[64];
    for (int i = 0; i < runs && m && u; i++) {
        m[i] = run_once(metered, out_m, sizeof out_m);
        u[i] = run_once(plain, out_u, sizeof out_u);
        if (strcmp(out_m, out_u) != 0) {
            fprintf(stderr, "meter_overhead: outputs differ: %s vs %s\n", out_m, out_u);
            return 1;
        }
    }
    double mm = median(m, runs), mu = median(u, runs);
    printf("metering overhead (%s, %d paired runs, medians):\n",
           workload == default_workload ? "3M-iteration loop" : "custom workload", runs);
    printf("  unmetered %9.1f ms   metered %9.1f ms   ratio %.3fx (target <= 1.15x)\n", mu, mm,
           mm / mu);
    free(m);
    free(u);
    viv_sandbox_destroy(metered);
    viv_sandbox_destroy(plain);
    viv_policy_free(p);
    return 0;
}
