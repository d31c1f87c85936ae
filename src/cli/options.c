/*
 * src/cli/options.c: the policy and program options shared by `run` and
 * `validate`, and loading the program they name.
 *
 * Precedence: defaults < --policy FILE < the other flags, whatever their
 * order on the command line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char viv_cli_policy_help[] =
    "Limits:\n"
    "      --fuel N           instruction budget (default 10000000000)\n"
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
    "      --policy FILE      TOML policy file (docs/policy.md); other flags override it\n"
    "      --session ID       run in session ID's workspace (created if needed); the files\n"
    "                         stay between runs (see vivarium session --help)\n"
    "      --sessions-dir DIR where sessions live (default ./workspace)\n"
    "      --state MODE       what a session keeps of the interpreter between runs:\n"
    "                         durable (default with --session: globals, functions,\n"
    "                         classes and imports, pickled outside the workspace),\n"
    "                         live (the interpreter itself, under vivarium serve),\n"
    "                         json (JSON-able globals only, human-readable), off\n"
    "                         (docs/state.md)\n"
    "      --log TARGET       structured events as JSON lines: '-' (standard output),\n"
    "                         'syslog', or a file to append to (docs/events.md)\n"
    "      --stdin FILE       give the guest FILE as its standard input ('-': ours);\n"
    "                         by default the guest's stdin is empty\n"
    "\n"
    "Other:\n"
    "      --guest NAME       guest to run: python3.11 (the default: CPython 3.11 built\n"
    "                         by us) or python3.12-npm (CPython 3.12.0 from npm, the\n"
    "                         reference-compatible one); $VIVARIUM_GUEST sets the default\n"
    "      --wasm PATH        guest module to run, by path\n"
    "      --json             print one JSON object instead of plain output\n"
    "  -h, --help             show this help\n";

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
    OPT_POLICY,
    OPT_STDIN,
    OPT_SESSION,
    OPT_SESSIONS_DIR,
    OPT_LOG,
    OPT_SOCKET,
    OPT_GUEST,
    OPT_STATE,
};

static const struct option long_options[] = {
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
    {"guest", required_argument, NULL, OPT_GUEST},
    {"json", no_argument, NULL, OPT_JSON},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"stdin", required_argument, NULL, OPT_STDIN},
    {"session", required_argument, NULL, OPT_SESSION},
    {"sessions-dir", required_argument, NULL, OPT_SESSIONS_DIR},
    {"state", required_argument, NULL, OPT_STATE},
    {"log", required_argument, NULL, OPT_LOG},
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char *option_name(int opt)
{
    for (const struct option *o = long_options; o->name != NULL; o++) {
        if (o->val == opt) {
            return o->name;
        }
    }
    return "?";
}

/* Apply one policy flag. *bad_value is set when the text does not parse. */
static viv_status apply_flag(viv_policy *p, int opt, const char *arg, viv_error *err,
                             bool *bad_value)
{
    int64_t n;
    *bad_value = false;
    switch (opt) {
    case OPT_FUEL:
        if (!viv_cli_parse_int(arg, &n)) {
            break;
        }
        return viv_policy_set_fuel_budget(p, n, err);
    case OPT_MEMORY:
        if (!viv_cli_parse_size(arg, &n)) {
            break;
        }
        return viv_policy_set_memory_bytes(p, n, err);
    case OPT_STDOUT_MAX:
        if (!viv_cli_parse_size(arg, &n)) {
            break;
        }
        return viv_policy_set_stdout_max_bytes(p, n, err);
    case OPT_STDERR_MAX:
        if (!viv_cli_parse_size(arg, &n)) {
            break;
        }
        return viv_policy_set_stderr_max_bytes(p, n, err);
    case OPT_TIMEOUT: {
        char *end;
        double secs = strtod(arg, &end);
        if (end == arg || *end != '\0') {
            break;
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
            break;
        }
        char host[4096];
        snprintf(host, sizeof host, "%.*s", (int)(colon - arg), arg);
        return viv_policy_add_mount(p, host, colon + 1, err);
    }
    case OPT_ENV: {
        const char *eq = strchr(arg, '=');
        if (eq == NULL || eq == arg) {
            break;
        }
        char key[1024];
        snprintf(key, sizeof key, "%.*s", (int)(eq - arg), arg);
        return viv_policy_set_env(p, key, eq + 1, err);
    }
    case OPT_STATE: {
        viv_state_mode mode;
        viv_status st = viv_state_mode_parse(arg, &mode, err);
        return st != VIV_OK ? st : viv_policy_set_persist_state(p, mode, err);
    }
    default:
        return VIV_OK;
    }
    *bad_value = true;
    return VIV_EINVAL;
}

/* --wasm PATH, else --guest NAME, else $VIVARIUM_GUEST, else the default
 * (c->wasm stays NULL). */
static int select_guest(const char *cmd, viv_cli_common *c)
{
    const char *name = c->guest;
    if (c->wasm != NULL) {
        if (name != NULL) {
            fprintf(stderr, "vivarium %s: --guest and --wasm exclude each other\n", cmd);
            return VIV_EXIT_USAGE;
        }
        return -1;
    }
    if (name == NULL) {
        name = getenv("VIVARIUM_GUEST");
        if (name == NULL || name[0] == '\0') {
            return -1;
        }
    }
    c->wasm = viv_cli_guest_path(name, c->guestbuf, sizeof c->guestbuf);
    if (c->wasm == NULL) {
        fprintf(stderr,
                "vivarium %s: no guest named '%s' here (guests: %s, the default, and %s; "
                "`tools/bootstrap` builds both)\n",
                cmd, name, VIV_CLI_DEFAULT_GUEST, VIV_CLI_NPM_GUEST);
        return VIV_EXIT_NO_GUEST;
    }
    return -1;
}

int viv_cli_parse_common(const char *cmd, const char *usage, int argc, char **argv,
                         viv_cli_common *c)
{
    memset(c, 0, sizeof *c);
    viv_error err = {0};
    viv_status st = viv_policy_new(&c->policy, &err);
    if (st != VIV_OK) {
        return viv_cli_fail(cmd, st, &err);
    }
    /* Flags are applied after the policy file, so remember them first. */
    struct flag {
        int opt;
        const char *arg;
    } *flags = calloc((size_t)argc + 1, sizeof *flags);
    if (flags == NULL) {
        fprintf(stderr, "vivarium %s: out of memory\n", cmd);
        return VIV_EXIT_USAGE;
    }
    size_t nflags = 0;
    const char *policy_file = NULL;
    int opt, rc = -1;
    optind = 1;
    while (rc < 0 && (opt = getopt_long(argc, argv, "+c:h", long_options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            c->code = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            rc = 0;
            break;
        case OPT_WASM:
            c->wasm = optarg;
            break;
        case OPT_GUEST:
            c->guest = optarg;
            break;
        case OPT_JSON:
            c->json = true;
            break;
        case OPT_POLICY:
            policy_file = optarg;
            break;
        case OPT_STDIN:
            c->stdin_path = optarg;
            break;
        case OPT_SESSION:
            c->session_id = optarg;
            break;
        case OPT_SESSIONS_DIR:
            c->sessions_dir = optarg;
            break;
        case OPT_LOG:
            c->log_target = optarg;
            break;
        case OPT_SOCKET:
            c->socket = optarg;
            break;
        case '?':
            fprintf(stderr, "Try 'vivarium %s --help'.\n", cmd);
            rc = VIV_EXIT_USAGE;
            break;
        default:
            flags[nflags++] = (struct flag){opt, optarg};
        }
    }
    if (rc < 0 && policy_file != NULL) {
        st = viv_policy_load_toml(c->policy, policy_file, &err);
        if (st != VIV_OK) {
            rc = viv_cli_fail(cmd, st == VIV_ENOENT ? VIV_EPOLICY : st, &err);
        }
    }
    for (size_t i = 0; rc < 0 && i < nflags; i++) {
        bool bad_value;
        st = apply_flag(c->policy, flags[i].opt, flags[i].arg, &err, &bad_value);
        if (bad_value) {
            fprintf(stderr,
                    "vivarium %s: invalid value for --%s: '%s'\nTry 'vivarium %s --help'.\n", cmd,
                    option_name(flags[i].opt), flags[i].arg, cmd);
            rc = VIV_EXIT_USAGE;
        } else if (st != VIV_OK) {
            rc = viv_cli_fail(cmd, st, &err);
        }
    }
    free(flags);
    if (rc < 0) {
        rc = select_guest(cmd, c);
    }
    c->first_arg = optind;
    if (rc >= 0) {
        viv_policy_free(c->policy);
        c->policy = NULL;
    }
    return rc;
}

static int load_source(const char *cmd, viv_cli_common *c, int argc, char **argv);

static int load_stdin(const char *cmd, viv_cli_common *c)
{
    if (c->stdin_path == NULL) {
        return -1;
    }
    if (viv_cli_read_file(c->stdin_path, &c->stdin_data, &c->stdin_len) != 0) {
        fprintf(stderr, "vivarium %s: cannot read %s: %s\n", cmd, c->stdin_path, strerror(errno));
        return VIV_EXIT_USAGE;
    }
    return -1;
}

int viv_cli_load_program(const char *cmd, viv_cli_common *c, int argc, char **argv)
{
    int rc = load_source(cmd, c, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    return load_stdin(cmd, c);
}

static int load_source(const char *cmd, viv_cli_common *c, int argc, char **argv)
{
    c->filename = "main.py";
    if (c->code != NULL) {
        c->program = strdup(c->code);
        c->program_len = strlen(c->code);
        if (c->program == NULL) {
            fprintf(stderr, "vivarium %s: out of memory\n", cmd);
            return VIV_EXIT_USAGE;
        }
        return -1;
    }
    if (c->first_arg >= argc) {
        fprintf(stderr,
                "vivarium %s: no program given: use -c CODE, FILE or -\n"
                "Try 'vivarium %s --help'.\n",
                cmd, cmd);
        return VIV_EXIT_USAGE;
    }
    const char *src = argv[c->first_arg++];
    if (strcmp(src, "-") == 0 && c->stdin_path != NULL && strcmp(c->stdin_path, "-") == 0) {
        fprintf(stderr, "vivarium %s: the program and --stdin cannot both be standard input\n",
                cmd);
        return VIV_EXIT_USAGE;
    }
    if (viv_cli_read_file(src, &c->program, &c->program_len) != 0) {
        fprintf(stderr, "vivarium %s: cannot read %s: %s\n", cmd, src, strerror(errno));
        return VIV_EXIT_USAGE;
    }
    if (strcmp(src, "-") != 0) {
        const char *base = strrchr(src, '/');
        snprintf(c->namebuf, sizeof c->namebuf, "%s", base ? base + 1 : src);
        c->filename = c->namebuf;
    }
    return -1;
}

void viv_cli_common_free(viv_cli_common *c)
{
    viv_policy_free(c->policy);
    free(c->program);
    free(c->stdin_data);
    memset(c, 0, sizeof *c);
}
