/*
 * src/mcp/main.c: `vivarium mcp`: options, start-up checks, and the choice
 * of transport.
 *
 * Owns: the command line and its defaults, loading the server policy and
 * the bearer token, and refusing to start half-configured (a missing
 * guest, a bad policy, HTTP without a token).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcp.h"
#include "mcp_internal.h"

/* Exit statuses, as the rest of the CLI uses them. */
enum { EXIT_USAGE = 125, EXIT_NO_GUEST = 127 };

static const char usage[] =
    "Usage: vivarium mcp [OPTIONS]\n"
    "\n"
    "Serve Vivarium as a Model Context Protocol server: over standard input and\n"
    "output (the default), or over Streamable HTTP with --http.\n"
    "\n"
    "Transport:\n"
    "  --http ADDR:PORT        serve HTTP at http://ADDR:PORT/mcp; ADDR defaults to\n"
    "                          127.0.0.1 (\"--http 8080\"); port 0 picks a free one\n"
    "  --token-file FILE       bearer token clients must send (Authorization: Bearer)\n"
    "  --insecure-no-auth      serve HTTP without a token (never on a shared host)\n"
    "  --allow-origin ORIGIN   also accept this Origin header (loopback origins are\n"
    "                          always accepted; repeatable)\n"
    "  --rate-limit N          requests per second per client address (default 20;\n"
    "                          0: no limit), bursts up to --rate-burst (default 2N)\n"
    "  --max-clients N         MCP sessions (Mcp-Session-Id) at once (default 64)\n"
    "\n"
    "Limits:\n"
    "  --policy FILE           server policy (TOML, docs/policy.md): the most any\n"
    "                          call gets; calls may lower fuel and timeout only\n"
    "  --max-code-bytes SIZE   largest code for execute_code (default 1M)\n"
    "  --max-request-bytes SIZE largest message (default 8M)\n"
    "  --max-read-bytes SIZE   largest file read_file returns (default 4M)\n"
    "  --max-sessions N        sessions at once (default 64)\n"
    "  --max-concurrent N      executions at once (default 4)\n"
    "  --session-idle-timeout SECONDS\n"
    "                          delete sessions idle this long (default 1800; 0: never)\n"
    "\n"
    "Other:\n"
    "  --sessions-dir DIR      keep sessions here (default: a private temporary\n"
    "                          directory removed when the server stops)\n"
    "  --wasm FILE             guest module (default: the installed guest)\n"
    "  --log TARGET            sandbox events as JSON lines: stderr, syslog or a file\n"
    "  -h, --help              show this help\n"
    "\n"
    "Standard output carries protocol messages only; diagnostics go to standard\n"
    "error. See docs/mcp.md.\n";

static bool parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || s[0] == '-') {
        return false;
    }
    unsigned long long mult = 1;
    if (*end == 'k' || *end == 'K') {
        mult = 1024, end++;
    } else if (*end == 'm' || *end == 'M') {
        mult = 1024 * 1024, end++;
    } else if (*end == 'g' || *end == 'G') {
        mult = 1024ULL * 1024 * 1024, end++;
    }
    if (*end != '\0' || v == 0 || v > SIZE_MAX / mult) {
        return false;
    }
    *out = (size_t)(v * mult);
    return true;
}

static bool parse_uint(const char *s, unsigned min, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > 1000000) {
        return false;
    }
    *out = (unsigned)v;
    return true;
}

static bool parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0) || v > 1e9) {
        return false;
    }
    *out = v;
    return true;
}

/* The token is the file's content without trailing whitespace. */
static char *load_token(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        mcp_log("--token-file %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) {
        mcp_log("warning: --token-file %s can be read by other users (chmod 600 it)", path);
    }
    char buf[4097];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) {
        mcp_log("--token-file %s: %s", path, strerror(errno));
        return NULL;
    }
    buf[n] = '\0';
    while (n > 0 &&
           (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t')) {
        buf[--n] = '\0';
    }
    if (n < 16 || (size_t)n != strlen(buf) || strpbrk(buf, " \t\r\n") != NULL) {
        mcp_log("--token-file %s: the token must be at least 16 characters on one line, "
                "without spaces",
                path);
        return NULL;
    }
    return strdup(buf);
}

static int open_logger(const char *target, viv_logger **out)
{
    viv_error err = {0};
    viv_status st = viv_logger_new(out, &err);
    if (st == VIV_OK) {
        if (strcmp(target, "stderr") == 0) {
            st = viv_logger_add_fd(*out, STDERR_FILENO, &err);
        } else if (strcmp(target, "syslog") == 0) {
            st = viv_logger_add_syslog(*out, "vivarium-mcp", &err);
        } else if (strcmp(target, "-") == 0 || strcmp(target, "stdout") == 0) {
            mcp_log("--log: standard output carries the protocol; use stderr, syslog or a file");
            viv_logger_free(*out);
            *out = NULL;
            return EXIT_USAGE;
        } else {
            st = viv_logger_add_file(*out, target, &err);
        }
    }
    if (st != VIV_OK) {
        mcp_log("--log %s: %s", target, err.message);
        viv_logger_free(*out);
        *out = NULL;
        return EXIT_USAGE;
    }
    return -1;
}

enum {
    OPT_HTTP = 256,
    OPT_TOKEN_FILE,
    OPT_NO_AUTH,
    OPT_ORIGIN,
    OPT_RATE,
    OPT_BURST,
    OPT_MAX_CLIENTS,
    OPT_POLICY,
    OPT_MAX_CODE,
    OPT_MAX_REQUEST,
    OPT_MAX_READ,
    OPT_MAX_SESSIONS,
    OPT_MAX_CONCURRENT,
    OPT_IDLE,
    OPT_SESSIONS_DIR,
    OPT_WASM,
    OPT_LOG,
};

static const struct option long_opts[] = {
    {"http", required_argument, NULL, OPT_HTTP},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"insecure-no-auth", no_argument, NULL, OPT_NO_AUTH},
    {"allow-origin", required_argument, NULL, OPT_ORIGIN},
    {"rate-limit", required_argument, NULL, OPT_RATE},
    {"rate-burst", required_argument, NULL, OPT_BURST},
    {"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"max-code-bytes", required_argument, NULL, OPT_MAX_CODE},
    {"max-request-bytes", required_argument, NULL, OPT_MAX_REQUEST},
    {"max-read-bytes", required_argument, NULL, OPT_MAX_READ},
    {"max-sessions", required_argument, NULL, OPT_MAX_SESSIONS},
    {"max-concurrent", required_argument, NULL, OPT_MAX_CONCURRENT},
    {"session-idle-timeout", required_argument, NULL, OPT_IDLE},
    {"sessions-dir", required_argument, NULL, OPT_SESSIONS_DIR},
    {"wasm", required_argument, NULL, OPT_WASM},
    {"log", required_argument, NULL, OPT_LOG},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int bad(const char *opt, const char *val, const char *want)
{
    mcp_log("%s %s: expected %s", opt, val, want);
    return EXIT_USAGE;
}

/* Parse argv into cfg. Returns -1 to go on, else an exit status. */
static int parse_args(int argc, char **argv, mcp_config *cfg, const char **policy_file,
                      const char **token_file, const char **log_target, const char ***origins)
{
    double burst = -1;
    unsigned u;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            return 0;
        case OPT_HTTP:
            cfg->http_addr = optarg;
            break;
        case OPT_TOKEN_FILE:
            *token_file = optarg;
            break;
        case OPT_NO_AUTH:
            cfg->insecure_no_auth = true;
            break;
        case OPT_ORIGIN: {
            const char **n = realloc(*origins, (cfg->norigins + 1) * sizeof *n);
            if (n == NULL) {
                mcp_log("out of memory");
                return 1;
            }
            n[cfg->norigins++] = optarg;
            *origins = n;
            break;
        }
        case OPT_RATE:
            if (!parse_seconds(optarg, &cfg->rate_per_s)) {
                return bad("--rate-limit", optarg, "a number of requests per second");
            }
            break;
        case OPT_BURST:
            if (!parse_seconds(optarg, &burst) || burst < 1) {
                return bad("--rate-burst", optarg, "a number of requests, at least 1");
            }
            break;
        case OPT_MAX_CLIENTS:
            if (!parse_uint(optarg, 1, &cfg->max_clients)) {
                return bad("--max-clients", optarg, "a count of at least 1");
            }
            break;
        case OPT_POLICY:
            *policy_file = optarg;
            break;
        case OPT_MAX_CODE:
            if (!parse_size(optarg, &cfg->max_code_bytes)) {
                return bad("--max-code-bytes", optarg, "a size such as 512K or 1M");
            }
            break;
        case OPT_MAX_REQUEST:
            if (!parse_size(optarg, &cfg->max_message_bytes)) {
                return bad("--max-request-bytes", optarg, "a size such as 512K or 8M");
            }
            break;
        case OPT_MAX_READ:
            if (!parse_size(optarg, &cfg->max_read_bytes)) {
                return bad("--max-read-bytes", optarg, "a size such as 512K or 4M");
            }
            break;
        case OPT_MAX_SESSIONS:
            if (!parse_uint(optarg, 1, &cfg->max_sessions)) {
                return bad("--max-sessions", optarg, "a count of at least 1");
            }
            break;
        case OPT_MAX_CONCURRENT:
            if (!parse_uint(optarg, 1, &u) || u > 256) {
                return bad("--max-concurrent", optarg, "a count from 1 to 256");
            }
            cfg->max_executions = u;
            break;
        case OPT_IDLE:
            if (!parse_seconds(optarg, &cfg->session_idle_s)) {
                return bad("--session-idle-timeout", optarg, "seconds (0: never)");
            }
            break;
        case OPT_SESSIONS_DIR:
            cfg->sessions_dir = optarg;
            break;
        case OPT_WASM:
            cfg->wasm = optarg;
            break;
        case OPT_LOG:
            *log_target = optarg;
            break;
        default:
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        mcp_log("unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    cfg->rate_burst = burst > 0 ? burst : cfg->rate_per_s * 2;
    if (cfg->rate_burst < 1) {
        cfg->rate_burst = 1;
    }
    if (cfg->http_addr == NULL && (*token_file || cfg->insecure_no_auth || cfg->norigins)) {
        mcp_log("--token-file, --insecure-no-auth and --allow-origin need --http");
        return EXIT_USAGE;
    }
    if (cfg->http_addr != NULL && *token_file == NULL && !cfg->insecure_no_auth) {
        mcp_log("--http needs --token-file FILE (a bearer token clients must send); "
                "--insecure-no-auth serves without one");
        return EXIT_USAGE;
    }
    if (*token_file != NULL && cfg->insecure_no_auth) {
        mcp_log("--token-file and --insecure-no-auth exclude each other");
        return EXIT_USAGE;
    }
    if (cfg->max_code_bytes > cfg->max_message_bytes) {
        cfg->max_code_bytes = cfg->max_message_bytes;
    }
    return -1;
}

int viv_mcp_main(int argc, char **argv, const char *default_guest)
{
    mcp_config cfg = {
        .wasm = default_guest,
        .max_code_bytes = 1024 * 1024,
        .max_message_bytes = 8 * 1024 * 1024,
        .max_read_bytes = 4 * 1024 * 1024,
        .max_sessions = 64,
        .max_executions = 4,
        .session_idle_s = 1800,
        .rate_per_s = 20,
        .max_clients = 64,
    };
    const char *policy_file = NULL, *token_file = NULL, *log_target = NULL;
    const char **origins = NULL;
    int rc = parse_args(argc, argv, &cfg, &policy_file, &token_file, &log_target, &origins);
    cfg.origins = origins;
    viv_error err = {0};
    viv_sandbox *probe = NULL;
    mcp_server server;
    bool server_up = false;
    if (rc != -1) {
        goto out;
    }
    if (token_file != NULL && (cfg.token = load_token(token_file)) == NULL) {
        rc = EXIT_USAGE;
        goto out;
    }
    if (viv_policy_new(&cfg.policy, &err) != VIV_OK ||
        (policy_file != NULL && viv_policy_load_toml(cfg.policy, policy_file, &err) != VIV_OK) ||
        viv_policy_validate(cfg.policy, &err) != VIV_OK) {
        mcp_log("--policy %s: %s%s%s%s", policy_file ? policy_file : "(defaults)", err.message,
                err.field[0] ? " (field " : "", err.field, err.field[0] ? ")" : "");
        rc = EXIT_USAGE;
        goto out;
    }
    if (log_target != NULL && (rc = open_logger(log_target, &cfg.logger)) != -1) {
        goto out;
    }
    /* Fail closed at start-up rather than on the first call: the guest must
     * load under the server policy. */
    viv_status st = viv_sandbox_create(cfg.policy, cfg.wasm, &probe, &err);
    if (st != VIV_OK) {
        mcp_log("cannot load the guest: %s%s%s", err.message, err.path[0] ? ": " : "", err.path);
        rc = st == VIV_ENOENT || st == VIV_ENOGUEST ? EXIT_NO_GUEST : EXIT_USAGE;
        goto out;
    }
    /* Warm interpreters make each execution a fork of a started one. If
     * none can start, executions run cold with the same results. */
    if (viv_warm_pool_create(NULL, &cfg.warm, &err) == VIV_OK) {
        viv_sandbox_set_warm_pool(probe, cfg.warm);
        if (viv_sandbox_prewarm(probe, &err) != VIV_OK) {
            mcp_log("executions will start cold: %s", err.message);
        }
    }
    viv_sandbox_destroy(probe);

    /* Before any thread exists: every thread inherits this mask, so the
     * signals reach only the transport's signalfd or sigwait. A peer that
     * goes away must not kill the server through SIGPIPE. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int init = mcp_server_init(&server, &cfg, &err);
    server_up = true; /* a half-initialised server is taken down the same way */
    if (init != 0) {
        mcp_log("cannot start: %s%s%s", err.message, err.path[0] ? ": " : "", err.path);
        rc = 1;
        goto out;
    }
    rc = cfg.http_addr ? mcp_serve_http(&server) : mcp_serve_stdio(&server);

out:
    if (server_up) {
        mcp_server_shutdown(&server);
    }
    viv_warm_pool_destroy(cfg.warm);
    viv_logger_free(cfg.logger);
    viv_policy_free(cfg.policy);
    free(cfg.token);
    free(origins);
    return rc;
}
