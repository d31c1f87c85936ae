/*
 * src/cli/run.c: `vivarium run`.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char run_usage[] =
    "Usage: vivarium run [OPTIONS] (-c CODE | FILE | -) [ARGS...]\n"
    "\n"
    "Run Python code inside the WebAssembly sandbox and pass its output through.\n"
    "\n"
    "Program:\n"
    "  -c, --code CODE        run CODE\n"
    "  FILE                   run the Python file FILE\n"
    "  -                      read the program from standard input\n"
    "  ARGS                   extra sys.argv entries for the program\n"
    "\n"
    "Limits:\n"
    "      --fuel N           instruction budget (default 5000000000)\n"
    "      --memory SIZE      linear memory cap, bytes or K/M/G (default 128000000)\n"
    "      --timeout SECONDS  wall-clock deadline, fractions allowed; 0 = none (default 30)\n"
    "      --stdout-max SIZE  stdout cap; the rest is dropped and flagged (default 2000000)\n"
    "      --stderr-max SIZE  stderr cap (default 1000000)\n"
    "\n"
    "Files and environment:\n"
    "      --workspace DIR    host directory mounted read-write at /app\n"
    "                         (default: a fresh temporary directory, removed afterwards)\n"
    "      --data DIR         host directory mounted read-only at /data\n"
    "      --mount HOST:GUEST extra read-only mount (repeatable)\n"
    "      --env KEY=VALUE    environment variable for the guest (repeatable); the guest\n"
    "                         sees these plus the policy defaults and nothing of the host\n"
    "\n"
    "Other:\n"
    "      --wasm PATH        guest module to run (default: the bundled CPython 3.12)\n"
    "      --json             print one JSON result object instead of the output\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit status: the guest's own status (0-123; higher statuses are reported as 123),\n"
    "124 timeout, 125 usage or policy error (nothing ran), 126 stopped by a trap or a\n"
    "limit, 127 guest module not found or not compiled. --json keeps the same status.\n";

enum {
    OPT_FUEL = 256,
    OPT_MEMORY,
    OPT_TIMEOUT,
    OPT_STDOUT_MAX,
    OPT_STDERR_MAX,
    OPT_WORKSPACE,
    OPT_DATA,
    OPT_MOUNT,
    OPT_ENV,
    OPT_WASM,
    OPT_JSON,
};

static const struct option run_options[] = {
    {"code", required_argument, NULL, 'c'},
    {"fuel", required_argument, NULL, OPT_FUEL},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"stdout-max", required_argument, NULL, OPT_STDOUT_MAX},
    {"stderr-max", required_argument, NULL, OPT_STDERR_MAX},
    {"workspace", required_argument, NULL, OPT_WORKSPACE},
    {"data", required_argument, NULL, OPT_DATA},
    {"mount", required_argument, NULL, OPT_MOUNT},
    {"env", required_argument, NULL, OPT_ENV},
    {"wasm", required_argument, NULL, OPT_WASM},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void stream_output(void *user, int stream, const char *bytes, size_t len)
{
    (void)user;
    FILE *f = stream == 1 ? stdout : stderr;
    fwrite(bytes, 1, len, f);
    fflush(f);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "vivarium run: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'vivarium run --help'.\n");
    return VIV_EXIT_USAGE;
}

/* Apply one policy option; returns VIV_OK or the failing status. */
static viv_status apply_option(viv_policy *p, int opt, const char *arg, viv_error *err,
                               bool *parse_failed)
{
    int64_t n;
    *parse_failed = false;
    switch (opt) {
    case OPT_FUEL:
        if (!viv_cli_parse_int(arg, &n)) {
            *parse_failed = true;
            return VIV_EINVAL;
        }
        return viv_policy_set_fuel_budget(p, n, err);
    case OPT_MEMORY:
        if (!viv_cli_parse_size(arg, &n)) {
            *parse_failed = true;
            return VIV_EINVAL;
        }
        return viv_policy_set_memory_bytes(p, n, err);
    case OPT_STDOUT_MAX:
        if (!viv_cli_parse_size(arg, &n)) {
            *parse_failed = true;
            return VIV_EINVAL;
        }
        return viv_policy_set_stdout_max_bytes(p, n, err);
    case OPT_STDERR_MAX:
        if (!viv_cli_parse_size(arg, &n)) {
            *parse_failed = true;
            return VIV_EINVAL;
        }
        return viv_policy_set_stderr_max_bytes(p, n, err);
    case OPT_TIMEOUT: {
        char *end;
        double secs = strtod(arg, &end);
        if (end == arg || *end != '\0') {
            *parse_failed = true;
            return VIV_EINVAL;
        }
        return viv_policy_set_timeout_seconds(p, secs, err);
    }
    case OPT_WORKSPACE:
        return viv_policy_set_workspace(p, arg, err);
    case OPT_DATA:
        return viv_policy_set_data_dir(p, arg, err);
    case OPT_MOUNT: {
        const char *colon = strrchr(arg, ':');
        if (colon == NULL || colon == arg || colon[1] == '\0') {
            *parse_failed = true;
            return VIV_EINVAL;
        }
        char host[4096];
        snprintf(host, sizeof host, "%.*s", (int)(colon - arg), arg);
        return viv_policy_add_mount(p, host, colon + 1, err);
    }
    case OPT_ENV: {
        const char *eq = strchr(arg, '=');
        if (eq == NULL || eq == arg) {
            *parse_failed = true;
            return VIV_EINVAL;
        }
        char key[1024];
        snprintf(key, sizeof key, "%.*s", (int)(eq - arg), arg);
        return viv_policy_set_env(p, key, eq + 1, err);
    }
    default:
        return VIV_OK;
    }
}

int viv_cli_run(int argc, char **argv)
{
    const char *code = NULL, *wasm = NULL;
    bool json = false;
    viv_error err = {0};
    viv_policy *policy = NULL;
    viv_status st = viv_policy_new(&policy, &err);
    if (st != VIV_OK) {
        return viv_cli_fail("run", st, &err);
    }
    int rc = VIV_EXIT_USAGE;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+c:h", run_options, NULL)) != -1) {
        bool parse_failed = false;
        switch (opt) {
        case 'c':
            code = optarg;
            break;
        case 'h':
            fputs(run_usage, stdout);
            rc = 0;
            goto out;
        case OPT_WASM:
            wasm = optarg;
            break;
        case OPT_JSON:
            json = true;
            break;
        case '?':
            fprintf(stderr, "Try 'vivarium run --help'.\n");
            goto out;
        default:
            st = apply_option(policy, opt, optarg, &err, &parse_failed);
            if (parse_failed) {
                char what[64];
                snprintf(what, sizeof what, "--%s", run_options[opt - OPT_FUEL + 1].name);
                fprintf(stderr, "vivarium run: invalid value for %s: '%s'\n", what, optarg);
                goto out;
            }
            if (st != VIV_OK) {
                rc = viv_cli_fail("run", st, &err);
                goto out;
            }
        }
    }

    char *program = NULL;
    size_t program_len = 0;
    const char *filename = "main.py";
    char namebuf[256];
    if (code != NULL) {
        program = strdup(code);
        program_len = strlen(code);
        if (program == NULL) {
            fprintf(stderr, "vivarium run: out of memory\n");
            goto out;
        }
    } else if (optind < argc) {
        const char *src = argv[optind++];
        if (viv_cli_read_file(src, &program, &program_len) != 0) {
            fprintf(stderr, "vivarium run: cannot read %s: %s\n", src, strerror(errno));
            goto out;
        }
        if (strcmp(src, "-") != 0) {
            const char *base = strrchr(src, '/');
            snprintf(namebuf, sizeof namebuf, "%s", base ? base + 1 : src);
            filename = namebuf;
        }
    } else {
        rc = usage_error("%s", "no program given: use -c CODE, FILE or -");
        goto out;
    }

    viv_sandbox *sb = NULL;
    st = viv_sandbox_create(policy, wasm ? wasm : viv_cli_default_guest(), &sb, &err);
    if (st != VIV_OK) {
        free(program);
        rc = viv_cli_fail("run", st, &err);
        goto out;
    }
    viv_exec_options eo = {
        .filename = filename,
        .args = (const char *const *)(argv + optind),
        .nargs = (size_t)(argc - optind),
        .on_output = json ? NULL : stream_output,
    };
    viv_result *res = NULL;
    st = viv_sandbox_execute(sb, program, program_len, &eo, &res, &err);
    free(program);
    viv_sandbox_destroy(sb);
    if (st != VIV_OK) {
        rc = viv_cli_fail("run", st, &err);
        goto out;
    }
    if (json) {
        char *text = NULL;
        if (viv_result_to_json(res, &text, &err) == VIV_OK) {
            puts(text);
            free(text);
        }
    }
    viv_trap_reason reason = viv_result_trap_reason(res);
    if (reason == VIV_TRAP_TIMEOUT) {
        rc = VIV_EXIT_TIMEOUT;
    } else if (viv_result_trapped(res)) {
        rc = VIV_EXIT_TRAPPED;
    } else {
        int code_ = viv_result_exit_code(res);
        rc = code_ < 0 ? VIV_EXIT_TRAPPED : code_ > VIV_EXIT_GUEST_MAX ? VIV_EXIT_GUEST_MAX : code_;
    }
    viv_result_free(res);
out:
    viv_policy_free(policy);
    return rc;
}
