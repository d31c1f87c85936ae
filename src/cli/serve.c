/*
 * src/cli/serve.c: `vivarium serve`, the warm pool as a daemon on a Unix
 * socket.
 *
 * Owns: the options, the shared warm pool and its warm-up, accepting
 * connections (same uid only) with one thread each, and the orderly
 * shutdown on SIGTERM/SIGINT. The socket's rules are serve_socket.c's and a
 * request's handling serve_request.c's (see serve.h).
 *
 * Every request carries the caller's whole policy and runs under exactly
 * that policy: the server's --policy only chooses which interpreter to warm
 * up at start. One viv_warm_pool is shared by every connection; it bounds
 * how many executions run and wait, and serialises a session's executions.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "eventlog.h"
#include "proto.h"
#include "serve.h"

static const char serve_usage[] =
    "Usage: vivarium serve --socket PATH [OPTIONS]\n"
    "\n"
    "Keep warm interpreters ready and run `vivarium run --socket PATH` requests\n"
    "(or VIVARIUM_SOCKET=PATH) through them. Each request runs under the policy its\n"
    "client sent, never the server's. Only the server's own user may connect.\n"
    "\n"
    "Options:\n"
    "      --socket PATH        Unix socket to listen on (default $VIVARIUM_SOCKET); it\n"
    "                           is created 0600 and its directory must be yours and\n"
    "                           writable by no one else\n"
    "      --pool-size N        fork servers per start-up configuration (default 1)\n"
    "      --preimport MOD      module imported once at start-up (repeatable; default\n"
    "                           json, re, csv, sqlite3)\n"
    "      --max-concurrent N   executions running at once (default 2 x CPUs)\n"
    "      --max-queued N       executions waiting beyond those; more are refused as\n"
    "                           overloaded (default 64)\n"
    "      --max-connections N  open client connections (default max-concurrent +\n"
    "                           max-queued + 16)\n"
    "      --max-live N         sessions whose interpreter is kept alive between their\n"
    "                           executions (docs/state.md); the least recently used\n"
    "                           idle one makes room (default 16)\n"
    "      --live-idle SECONDS  a live interpreter idle this long ends; the session\n"
    "                           goes on from its saved state (default 600)\n"
    "      --policy FILE        the policy whose interpreter is warmed up at start\n"
    "                           (requests still run under their own policies)\n"
    "      --wasm PATH          the guest warmed up at start, and of requests that name\n"
    "                           none (default: the default guest, python3.11)\n"
    "      --grace SECONDS      on SIGTERM/SIGINT, how long running executions may\n"
    "                           finish before they are cancelled (default 5)\n"
    "      --log TARGET         events as JSON lines: '-', 'syslog' or a file\n"
    "  -h, --help               show this help\n"
    "\n"
    "Exit status: 0 after a clean shutdown, 125 for a usage error or a socket that\n"
    "cannot be used.\n";

/* Output and event frames to a client that stops reading give up after
 * this long, and the execution is cancelled. */
#define SEND_TIMEOUT_S 30

/* ---- signals ------------------------------------------------------------- */

static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    char b = (char)sig;
    ssize_t n = write(signal_pipe[1], &b, 1);
    (void)n; /* a full pipe already holds a wake-up */
    errno = saved;
}

/* ---- connections ------------------------------------------------------------ */

/* Wait for the next request or the shutdown. A request already on its way
 * when the server stops is still read, and answered with "retry locally",
 * so that no client loses a run it could have had. */
static bool await_request(conn *c)
{
    for (;;) {
        struct pollfd fds[2] = {{.fd = c->fd, .events = POLLIN},
                                {.fd = c->srv->stop_pipe[0], .events = POLLIN}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        if (fds[0].revents != 0) {
            return true;
        }
        /* Stopping. A client that connected just before may be about to
         * send; give it a moment so that it hears "retry locally" rather
         * than a dropped connection. */
        struct pollfd last = {.fd = c->fd, .events = POLLIN};
        return poll(&last, 1, 200) > 0;
    }
}

static void *serve_connection(void *arg)
{
    conn *c = arg;
    server *srv = c->srv;
    for (;;) {
        request rq;
        if (!await_request(c)) {
            break;
        }
        if (viv_serve_read_request(c, &rq) <= 0) {
            viv_serve_request_free(&rq);
            break;
        }
        pthread_mutex_lock(&srv->lock);
        bool stopping = srv->stopping;
        c->busy = !stopping;
        pthread_mutex_unlock(&srv->lock);
        if (stopping) {
            viv_serve_request_free(&rq);
            viv_serve_send_error(c->fd, VIV_EHOST, "the server is shutting down", true);
            break;
        }
        bool keep = viv_serve_run_request(c, &rq);
        viv_serve_request_free(&rq);
        pthread_mutex_lock(&srv->lock);
        c->busy = false;
        stopping = srv->stopping;
        pthread_mutex_unlock(&srv->lock);
        if (!keep || stopping) {
            break;
        }
    }
    pthread_mutex_lock(&srv->lock);
    for (conn **p = &srv->conns; *p != NULL; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    srv->nconns--;
    close(c->fd);
    pthread_mutex_unlock(&srv->lock);
    free(c);
    return NULL;
}

/* Returns false when there was nothing to accept. */
static bool accept_one(server *srv)
{
    int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        return errno == EINTR || errno == ECONNABORTED;
    }
    long uid = viv_peer_uid(fd);
    if (uid != (long)srv->uid) {
        /* The socket is 0600, so this takes root or a leaked descriptor;
         * either way another user's code never runs here. */
        json_t *f = json_pack("{s:I}", "peer_uid", (json_int_t)uid);
        viv_cli_eventlog_emit(srv->log, VIV_LOG_WARNING, "serve.connection.refused", f);
        json_decref(f);
        viv_serve_send_error(fd, VIV_EINVAL, "permission denied: not the server's user", false);
        close(fd);
        return true;
    }
    struct timeval tv = {.tv_sec = SEND_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    pthread_mutex_lock(&srv->lock);
    bool full = srv->nconns >= srv->max_conns;
    pthread_mutex_unlock(&srv->lock);
    conn *c = full ? NULL : calloc(1, sizeof *c);
    if (c == NULL) {
        viv_serve_send_error(fd, VIV_EBUSY,
                             "the server is overloaded (too many connections); retry later", false);
        close(fd);
        return true;
    }
    c->srv = srv;
    c->fd = fd;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&srv->lock);
    c->id = ++srv->next_id;
    c->next = srv->conns;
    srv->conns = c;
    srv->nconns++;
    pthread_t t;
    if (pthread_create(&t, &attr, serve_connection, c) != 0) {
        srv->conns = c->next;
        srv->nconns--;
        pthread_mutex_unlock(&srv->lock);
        viv_serve_send_error(fd, VIV_EBUSY, "the server cannot start a thread; retry later", false);
        close(fd);
        free(c);
    } else {
        pthread_mutex_unlock(&srv->lock);
    }
    pthread_attr_destroy(&attr);
    return true;
}

/* ---- start and stop ---------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait (watching for a second signal) until no connection is left or the
 * deadline passes. Returns true when none is left. */
static bool wait_connections(server *srv, double deadline, bool *hurry)
{
    for (;;) {
        pthread_mutex_lock(&srv->lock);
        unsigned n = srv->nconns;
        pthread_mutex_unlock(&srv->lock);
        if (n == 0) {
            return true;
        }
        if (now_s() >= deadline || *hurry) {
            return false;
        }
        struct pollfd p = {.fd = signal_pipe[0], .events = POLLIN};
        if (poll(&p, 1, 20) > 0) {
            char b;
            if (read(signal_pipe[0], &b, 1) == 1) {
                *hurry = true;
            }
        }
    }
}

/* Returns false when some connection would not end even after its
 * execution was cancelled; its thread still uses the pool then. */
static bool shut_down(server *srv, double grace_s)
{
    pthread_mutex_lock(&srv->lock);
    srv->stopping = true;
    pthread_mutex_unlock(&srv->lock);
    /* Connections still in the backlog would be reset by close(); take
     * them in so that they hear "retry locally". */
    fcntl(srv->listen_fd, F_SETFL, fcntl(srv->listen_fd, F_GETFL) | O_NONBLOCK);
    while (accept_one(srv)) {
    }
    /* Idle connections end their wait for a request; busy ones finish
     * (within the grace period) and then close. */
    char b = 1;
    while (write(srv->stop_pipe[1], &b, 1) < 0 && errno == EINTR) {
    }
    close(srv->listen_fd);
    srv->listen_fd = -1;
    viv_serve_socket_remove(srv->path, srv->sock_dev, srv->sock_ino);
    bool hurry = false;
    if (!wait_connections(srv, now_s() + grace_s, &hurry)) {
        pthread_mutex_lock(&srv->lock);
        for (conn *c = srv->conns; c != NULL; c = c->next) {
            if (c->cancel != NULL) {
                viv_cancel_trigger(c->cancel);
            }
            if (!c->busy) {
                shutdown(c->fd, SHUT_RDWR);
            }
        }
        pthread_mutex_unlock(&srv->lock);
        /* A cancelled execution ends at once; the bound is for safety. */
        hurry = false;
        return wait_connections(srv, now_s() + 30, &hurry);
    }
    return true;
}

enum {
    OPT_SOCKET = 300,
    OPT_POOL_SIZE,
    OPT_PREIMPORT,
    OPT_MAX_CONCURRENT,
    OPT_MAX_QUEUED,
    OPT_MAX_CONNECTIONS,
    OPT_MAX_LIVE,
    OPT_LIVE_IDLE,
    OPT_POLICY,
    OPT_WASM,
    OPT_GRACE,
    OPT_LOG,
};

static const struct option serve_options[] = {
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"pool-size", required_argument, NULL, OPT_POOL_SIZE},
    {"preimport", required_argument, NULL, OPT_PREIMPORT},
    {"max-concurrent", required_argument, NULL, OPT_MAX_CONCURRENT},
    {"max-queued", required_argument, NULL, OPT_MAX_QUEUED},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"max-live", required_argument, NULL, OPT_MAX_LIVE},
    {"live-idle", required_argument, NULL, OPT_LIVE_IDLE},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"wasm", required_argument, NULL, OPT_WASM},
    {"grace", required_argument, NULL, OPT_GRACE},
    {"log", required_argument, NULL, OPT_LOG},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct serve_args {
    const char *socket, *policy, *wasm, *log;
    const char **preimports;
    size_t npreimports;
    int64_t pool_size, max_concurrent, max_queued, max_connections, max_live;
    double grace_s, live_idle_s;
} serve_args;

static int bad_value(const char *opt, const char *arg)
{
    fprintf(stderr, "vivarium serve: invalid value for --%s: '%s'\nTry 'vivarium serve --help'.\n",
            opt, arg);
    return VIV_EXIT_USAGE;
}

static int parse_args(int argc, char **argv, serve_args *a)
{
    a->grace_s = 5;
    a->preimports = calloc((size_t)argc + 1, sizeof *a->preimports);
    if (a->preimports == NULL) {
        fprintf(stderr, "vivarium serve: out of memory\n");
        return VIV_EXIT_USAGE;
    }
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+h", serve_options, NULL)) != -1) {
        int64_t *slot = NULL;
        const char *name = NULL;
        switch (opt) {
        case 'h':
            fputs(serve_usage, stdout);
            return 0;
        case OPT_SOCKET:
            a->socket = optarg;
            break;
        case OPT_POLICY:
            a->policy = optarg;
            break;
        case OPT_WASM:
            a->wasm = optarg;
            break;
        case OPT_LOG:
            a->log = optarg;
            break;
        case OPT_PREIMPORT:
            a->preimports[a->npreimports++] = optarg;
            break;
        case OPT_GRACE: {
            char *end;
            a->grace_s = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(a->grace_s >= 0 && a->grace_s <= 86400)) {
                return bad_value("grace", optarg);
            }
            break;
        }
        case OPT_POOL_SIZE:
            slot = &a->pool_size, name = "pool-size";
            break;
        case OPT_MAX_CONCURRENT:
            slot = &a->max_concurrent, name = "max-concurrent";
            break;
        case OPT_MAX_QUEUED:
            slot = &a->max_queued, name = "max-queued";
            break;
        case OPT_MAX_CONNECTIONS:
            slot = &a->max_connections, name = "max-connections";
            break;
        case OPT_MAX_LIVE:
            slot = &a->max_live, name = "max-live";
            break;
        case OPT_LIVE_IDLE: {
            char *end;
            a->live_idle_s = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(a->live_idle_s > 0 && a->live_idle_s <= 1e7)) {
                return bad_value("live-idle", optarg);
            }
            break;
        }
        default:
            fprintf(stderr, "Try 'vivarium serve --help'.\n");
            return VIV_EXIT_USAGE;
        }
        if (slot != NULL && (!viv_cli_parse_int(optarg, slot) || *slot < 1 || *slot > 100000)) {
            return bad_value(name, optarg);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vivarium serve: unexpected argument '%s'\nTry 'vivarium serve --help'.\n",
                argv[optind]);
        return VIV_EXIT_USAGE;
    }
    if (a->socket == NULL) {
        const char *env = getenv("VIVARIUM_SOCKET");
        a->socket = env != NULL && *env != '\0' ? env : NULL;
    }
    if (a->socket == NULL) {
        fprintf(stderr, "vivarium serve: --socket PATH is required (or VIVARIUM_SOCKET)\n"
                        "Try 'vivarium serve --help'.\n");
        return VIV_EXIT_USAGE;
    }
    return -1;
}

/* Start the interpreter for the start-up policy now, so that the first
 * request does not pay for it. A failure only means serving cold. */
static viv_sandbox *prewarm(server *srv, const serve_args *a)
{
    viv_error err = {0};
    viv_policy *policy = NULL;
    viv_sandbox *sb = NULL;
    viv_status st = viv_policy_new(&policy, &err);
    if (st == VIV_OK && a->policy != NULL) {
        st = viv_policy_load_toml(policy, a->policy, &err);
    }
    if (st == VIV_OK) {
        st = viv_sandbox_create(policy, srv->wasm, &sb, &err);
    }
    viv_policy_free(policy);
    if (st != VIV_OK) {
        fprintf(stderr, "vivarium serve: %s\n", err.message);
        return NULL;
    }
    viv_sandbox_set_warm_pool(sb, srv->pool);
    double t0 = now_s();
    st = viv_sandbox_prewarm(sb, &err);
    json_t *f = json_pack("{s:b, s:f}", "warm", st == VIV_OK, "elapsed_ms", (now_s() - t0) * 1e3);
    if (st != VIV_OK) {
        json_object_set_new(f, "message", json_string(err.message));
        fprintf(stderr, "vivarium serve: serving cold: %s\n", err.message);
    }
    viv_cli_eventlog_emit(srv->log, st == VIV_OK ? VIV_LOG_INFO : VIV_LOG_WARNING, "serve.prewarm",
                          f);
    json_decref(f);
    return sb;
}

int viv_cli_serve(int argc, char **argv)
{
    serve_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) {
        free(a.preimports);
        return rc;
    }
    server srv = {.path = a.socket,
                  .listen_fd = -1,
                  .uid = geteuid(),
                  .stop_pipe = {-1, -1},
                  .wasm = a.wasm ? a.wasm : viv_cli_default_guest()};
    if (pthread_mutex_init(&srv.lock, NULL) != 0) {
        free(a.preimports);
        return VIV_EXIT_USAGE;
    }
    rc = viv_cli_eventlog_open("serve", a.log, &srv.log);
    viv_error err = {0};
    viv_warm_options wo = {
        .preimports = a.npreimports ? a.preimports : NULL,
        .npreimports = a.npreimports,
        .zygotes = (unsigned)a.pool_size,
        .max_concurrent = (unsigned)a.max_concurrent,
        .max_queued = (unsigned)a.max_queued,
        .max_live = (unsigned)a.max_live,
        .live_idle_s = a.live_idle_s,
    };
    if (rc < 0 && viv_warm_pool_create(&wo, &srv.pool, &err) != VIV_OK) {
        fprintf(stderr, "vivarium serve: %s\n", err.message);
        rc = VIV_EXIT_USAGE;
    }
    if (rc < 0 &&
        (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0 || pipe2(srv.stop_pipe, O_CLOEXEC) != 0 ||
         viv_serve_socket_open(srv.path, srv.uid, &srv.listen_fd, &srv.sock_dev, &srv.sock_ino) !=
             0)) {
        rc = VIV_EXIT_USAGE;
    }
    if (rc >= 0) {
        for (int i = 0; i < 2; i++) {
            if (signal_pipe[i] >= 0) {
                close(signal_pipe[i]);
            }
            if (srv.stop_pipe[i] >= 0) {
                close(srv.stop_pipe[i]);
            }
        }
        viv_warm_pool_destroy(srv.pool);
        viv_cli_eventlog_close(srv.log);
        pthread_mutex_destroy(&srv.lock);
        free(a.preimports);
        return rc;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t conc = a.max_concurrent ? a.max_concurrent : (cpus > 0 ? 2 * cpus : 2);
    srv.max_conns = (unsigned)(a.max_connections ? a.max_connections
                                                 : conc + (a.max_queued ? a.max_queued : 64) + 16);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    viv_sandbox *warm_sb = prewarm(&srv, &a);
    json_t *f =
        json_pack("{s:s, s:i, s:I, s:I}", "socket", srv.path, "pid", (int)getpid(),
                  "max_concurrent", (json_int_t)conc, "max_connections", (json_int_t)srv.max_conns);
    viv_cli_eventlog_emit(srv.log, VIV_LOG_INFO, "serve.started", f);
    json_decref(f);
    fprintf(stderr, "vivarium serve: listening on %s\n", srv.path);

    for (;;) {
        struct pollfd fds[2] = {{.fd = srv.listen_fd, .events = POLLIN},
                                {.fd = signal_pipe[0], .events = POLLIN}};
        /* Quiet periods still end idle live interpreters. */
        int n = poll(fds, 2, 10000);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (n == 0) {
            viv_warm_pool_expire(srv.pool);
            continue;
        }
        if (fds[1].revents != 0) {
            char b;
            if (read(signal_pipe[0], &b, 1) == 1) {
                break;
            }
        }
        if (fds[0].revents != 0 && !accept_one(&srv)) {
            /* Out of descriptors, say: do not spin on a listener that
             * stays readable. */
            usleep(10000);
        }
    }
    viv_cli_eventlog_emit(srv.log, VIV_LOG_INFO, "serve.stopping", NULL);
    if (!shut_down(&srv, a.grace_s)) {
        /* Exiting ends the stuck threads with the process; freeing what
         * they use first would not be safe. */
        fprintf(stderr, "vivarium serve: stopped with connections still open\n");
        free(a.preimports); /* the pool keeps its own copies */
        return 0;
    }
    viv_sandbox_destroy(warm_sb);
    viv_warm_pool_destroy(srv.pool);
    viv_cli_eventlog_emit(srv.log, VIV_LOG_INFO, "serve.stopped", NULL);
    fprintf(stderr, "vivarium serve: stopped\n");
    viv_cli_eventlog_close(srv.log);
    close(signal_pipe[0]);
    close(signal_pipe[1]);
    close(srv.stop_pipe[0]);
    close(srv.stop_pipe[1]);
    pthread_mutex_destroy(&srv.lock);
    free(a.preimports);
    return 0;
}
