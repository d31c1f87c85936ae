/*
 * src/cli/serve.c: `vivarium serve`, the warm pool as a daemon on a Unix
 * socket.
 *
 * Owns: the listening socket (its path rules and permissions), accepting
 * connections (same uid only), one thread per connection, turning a request
 * into one viv_sandbox_execute under the request's own policy, streaming
 * output and events back, cancelling when the client goes away or asks,
 * and the orderly shutdown on SIGTERM/SIGINT.
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
    "      --policy FILE        the policy whose interpreter is warmed up at start\n"
    "                           (requests still run under their own policies)\n"
    "      --wasm PATH          the guest warmed up at start (default: the bundled one)\n"
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

typedef struct conn conn;

typedef struct server {
    const char *path;
    int listen_fd;
    dev_t sock_dev; /* the socket we bound, so that we never unlink another's */
    ino_t sock_ino;
    uid_t uid;
    viv_warm_pool *pool;
    viv_cli_eventlog *log;
    pthread_mutex_t lock;
    conn *conns; /* under lock */
    unsigned nconns, max_conns;
    bool stopping;
    /* Written once at shutdown and never drained: every idle connection
     * polls it beside its socket. */
    int stop_pipe[2];
    unsigned long next_id;
} server;

struct conn {
    server *srv;
    int fd;
    unsigned long id;
    bool busy;          /* under srv->lock */
    viv_cancel *cancel; /* the running execution's token, under srv->lock */
    conn *next;
};

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

/* ---- the socket ------------------------------------------------------------ */

/* Refuse a place where someone else could swap the socket or read it. */
static int check_socket_dir(const char *path, uid_t uid)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else if (slash == path) {
        snprintf(dir, sizeof dir, "/");
    } else {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "vivarium serve: socket directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "vivarium serve: %s is not a directory\n", dir);
        return -1;
    }
    if (st.st_uid != uid) {
        fprintf(stderr,
                "vivarium serve: socket directory %s belongs to uid %ld, not to you (uid %ld); "
                "use a directory of your own such as $XDG_RUNTIME_DIR\n",
                dir, (long)st.st_uid, (long)uid);
        return -1;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        fprintf(stderr,
                "vivarium serve: socket directory %s is writable by others (mode %03o); "
                "use a directory only you can write to\n",
                dir, (unsigned)(st.st_mode & 0777));
        return -1;
    }
    return 0;
}

/* An existing path: keep refusing unless it is our own socket that nothing
 * listens on any more (a server that died), which is removed. */
static int clear_stale(const char *path, uid_t uid)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) {
            return 0;
        }
        fprintf(stderr, "vivarium serve: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (st.st_uid != uid) {
        fprintf(stderr, "vivarium serve: %s exists and belongs to uid %ld; not touching it\n", path,
                (long)st.st_uid);
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        fprintf(stderr, "vivarium serve: %s exists and is not a socket; not touching it\n", path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "vivarium serve: socket: %s\n", strerror(errno));
        return -1;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    int e = errno;
    close(fd);
    if (rc == 0) {
        fprintf(stderr, "vivarium serve: another server is already listening on %s\n", path);
        return -1;
    }
    if (e != ECONNREFUSED) {
        fprintf(stderr, "vivarium serve: %s: %s\n", path, strerror(e));
        return -1;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        fprintf(stderr, "vivarium serve: cannot remove the stale socket %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    return 0;
}

static int open_socket(server *srv)
{
    const char *path = srv->path;
    if (strlen(path) >= sizeof((struct sockaddr_un *)0)->sun_path) {
        fprintf(stderr, "vivarium serve: socket path too long (at most %zu bytes): %s\n",
                sizeof((struct sockaddr_un *)0)->sun_path - 1, path);
        return -1;
    }
    if (check_socket_dir(path, srv->uid) != 0 || clear_stale(path, srv->uid) != 0) {
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "vivarium serve: socket: %s\n", strerror(errno));
        return -1;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, path, strlen(path) + 1);
    /* The socket file is born 0600: no window in which another user could
     * connect. umask is process-wide, and no other thread runs yet. */
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
    int e = errno;
    umask(old);
    struct stat st;
    if (rc != 0) {
        fprintf(stderr, "vivarium serve: bind %s: %s\n", path, strerror(e));
    } else if (chmod(path, 0600) != 0 || lstat(path, &st) != 0) {
        fprintf(stderr, "vivarium serve: %s: %s\n", path, strerror(errno));
        unlink(path);
        rc = -1;
    } else if (listen(fd, 128) != 0) {
        fprintf(stderr, "vivarium serve: listen %s: %s\n", path, strerror(errno));
        unlink(path);
        rc = -1;
    }
    if (rc != 0) {
        close(fd);
        return -1;
    }
    srv->sock_dev = st.st_dev;
    srv->sock_ino = st.st_ino;
    srv->listen_fd = fd;
    return 0;
}

static void remove_socket(server *srv)
{
    struct stat st;
    if (lstat(srv->path, &st) == 0 && st.st_dev == srv->sock_dev && st.st_ino == srv->sock_ino) {
        unlink(srv->path);
    }
}

/* ---- one request --------------------------------------------------------- */

typedef struct request {
    json_t *msg; /* the execute message */
    char *code, *stdin_data;
    size_t code_len, stdin_len;
} request;

typedef struct exec_ctx {
    conn *c;
    bool stream, events;
    bool dead; /* a send failed: stop sending, cancel */
    viv_cancel *cancel;
    int wake[2];    /* tells the watcher the execution is over */
    bool bad_input; /* the client sent something other than cancel */
} exec_ctx;

static void send_error(int fd, viv_status st, const viv_error *err, bool retry_local)
{
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:b}", "type", "error", "status", (int)st,
                          "status_name", viv_status_name(st), "message", err->message, "field",
                          err->field, "path", err->path, "retry_local", retry_local);
    if (o != NULL) {
        viv_frame_write_json(fd, o);
        json_decref(o);
    }
}

static void send_error_msg(int fd, viv_status st, const char *msg, bool retry_local)
{
    viv_error err = {.status = st};
    snprintf(err.message, sizeof err.message, "%s", msg);
    send_error(fd, st, &err, retry_local);
}

static void on_output(void *user, int stream, const char *bytes, size_t len)
{
    exec_ctx *x = user;
    if (x->dead) {
        return;
    }
    if (viv_frame_write(x->c->fd, stream == 1 ? VIV_FRAME_STDOUT : VIV_FRAME_STDERR, bytes, len) !=
        0) {
        x->dead = true;
        viv_cancel_trigger(x->cancel);
    }
}

static void on_event(void *user, viv_log_level level, const char *event, const char *line)
{
    (void)event;
    exec_ctx *x = user;
    viv_cli_eventlog_line(x->c->srv->log, level, line);
    if (!x->events || x->dead) {
        return;
    }
    size_t n = strlen(line);
    char *buf = malloc(n + 1);
    if (buf == NULL) {
        return;
    }
    buf[0] = (char)('0' + (int)level);
    memcpy(buf + 1, line, n);
    if (viv_frame_write(x->c->fd, VIV_FRAME_EVENT, buf, n + 1) != 0) {
        x->dead = true;
        viv_cancel_trigger(x->cancel);
    }
    free(buf);
}

/* While an execution runs, the only thing a client may send is a cancel
 * frame; the end of the stream (the client went away) cancels too. */
static void *watch_client(void *arg)
{
    exec_ctx *x = arg;
    unsigned char buf[4096];
    size_t have = 0;
    for (;;) {
        struct pollfd fds[2] = {{.fd = x->c->fd, .events = POLLIN},
                                {.fd = x->wake[0], .events = POLLIN}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (fds[1].revents != 0) {
            break;
        }
        if (fds[0].revents == 0) {
            continue;
        }
        ssize_t n = recv(x->c->fd, buf + have, sizeof buf - have, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            viv_cancel_trigger(x->cancel);
            break;
        }
        have += (size_t)n;
        /* Whole frames: each must be {"type":"cancel"}. */
        while (have >= 4) {
            size_t len = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
            if (len == 0 || len > sizeof buf - 4) {
                x->bad_input = true;
                break;
            }
            if (have < 4 + len) {
                break;
            }
            json_t *o = buf[4] == VIV_FRAME_JSON
                            ? json_loadb((const char *)buf + 5, len - 1, 0, NULL)
                            : NULL;
            const char *type = json_string_value(json_object_get(o, "type"));
            if (type == NULL || strcmp(type, "cancel") != 0) {
                x->bad_input = true;
            }
            json_decref(o);
            viv_cancel_trigger(x->cancel);
            memmove(buf, buf + 4 + len, have - 4 - len);
            have -= 4 + len;
        }
        if (x->bad_input) {
            viv_cancel_trigger(x->cancel);
            break;
        }
    }
    if (have > 0) {
        x->bad_input = true; /* half a frame left over: the stream is out of step */
    }
    return NULL;
}

static const char *opt_string(json_t *msg, const char *key, bool *bad)
{
    json_t *v = json_object_get(msg, key);
    if (v == NULL || json_is_null(v)) {
        return NULL;
    }
    if (!json_is_string(v)) {
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

/* Run one request and send its result. Returns false when the connection
 * must be closed afterwards. */
static bool run_request(conn *c, request *rq)
{
    server *srv = c->srv;
    viv_error err = {0};
    bool bad = false;
    const char *policy_text = opt_string(rq->msg, "policy", &bad);
    const char *cwd = opt_string(rq->msg, "cwd", &bad);
    const char *filename = opt_string(rq->msg, "filename", &bad);
    const char *session_id = opt_string(rq->msg, "session_id", &bad);
    const char *sessions_dir = opt_string(rq->msg, "sessions_dir", &bad);
    const char *wasm = opt_string(rq->msg, "wasm", &bad);
    json_t *jargs = json_object_get(rq->msg, "args");
    bool stream = json_is_true(json_object_get(rq->msg, "stream"));
    bool events = json_is_true(json_object_get(rq->msg, "events"));
    if (bad || policy_text == NULL || cwd == NULL || cwd[0] != '/' ||
        (sessions_dir != NULL && sessions_dir[0] != '/') || (wasm != NULL && wasm[0] != '/') ||
        (jargs != NULL && !json_is_array(jargs))) {
        send_error_msg(c->fd, VIV_EINVAL,
                       "malformed request: policy and an absolute cwd are required; "
                       "sessions_dir and wasm must be absolute; args an array of strings",
                       false);
        return false;
    }
    size_t nargs = json_array_size(jargs);
    const char **args = calloc(nargs + 1, sizeof *args);
    if (args == NULL) {
        send_error_msg(c->fd, VIV_ENOMEM, "out of memory", false);
        return false;
    }
    for (size_t i = 0; i < nargs; i++) {
        args[i] = json_string_value(json_array_get(jargs, i));
        if (args[i] == NULL) {
            free(args);
            send_error_msg(c->fd, VIV_EINVAL, "malformed request: args must be strings", false);
            return false;
        }
    }

    /* The caller's policy, exactly: over a fresh policy with no env, so
     * that only the keys it sent are set. */
    viv_policy *policy = NULL;
    viv_session_store *store = NULL;
    viv_sandbox *sb = NULL;
    viv_logger *logger = NULL;
    viv_status st = viv_policy_new(&policy, &err);
    if (st == VIV_OK) {
        viv_policy_clear_env(policy);
        st = viv_policy_load_toml_string(policy, policy_text, strlen(policy_text), cwd, &err);
    }
    if (st == VIV_OK && (session_id != NULL || sessions_dir != NULL)) {
        char root[PATH_MAX];
        if (sessions_dir == NULL) {
            snprintf(root, sizeof root, "%s/workspace", cwd);
        }
        st = viv_session_store_open(sessions_dir ? sessions_dir : root, &store, &err);
    }
    if (st == VIV_OK) {
        st = viv_sandbox_create(policy, wasm, &sb, &err);
    }
    exec_ctx x = {.c = c, .stream = stream, .events = events, .wake = {-1, -1}};
    if (st == VIV_OK && (st = viv_logger_new(&logger, &err)) == VIV_OK) {
        st = viv_logger_add_callback(logger, on_event, &x, &err);
    }
    if (st == VIV_OK && (st = viv_cancel_create(&x.cancel, &err)) == VIV_OK &&
        pipe2(x.wake, O_CLOEXEC) != 0) {
        st = VIV_EHOST;
        snprintf(err.message, sizeof err.message, "pipe: %s", strerror(errno));
    }
    bool keep = true;
    if (st != VIV_OK) {
        send_error(c->fd, st, &err, false);
    } else {
        viv_sandbox_set_logger(sb, logger);
        viv_session_store_set_logger(store, logger);
        viv_sandbox_set_warm_pool(sb, srv->pool);
        pthread_mutex_lock(&srv->lock);
        c->cancel = x.cancel;
        pthread_mutex_unlock(&srv->lock);
        pthread_t watcher;
        bool watching = pthread_create(&watcher, NULL, watch_client, &x) == 0;
        if (!watching) {
            /* Without a watcher a vanished client cannot cancel; refuse. */
            viv_cancel_trigger(x.cancel);
        }
        viv_exec_options eo = {
            .filename = filename,
            .args = args,
            .nargs = nargs,
            .stdin_data = (const uint8_t *)rq->stdin_data,
            .stdin_len = rq->stdin_len,
            .on_output = stream ? on_output : NULL,
            .user = &x,
            .sessions = store,
            .session_id = session_id,
            .cancel = x.cancel,
        };
        viv_result *res = NULL;
        st = viv_sandbox_execute(sb, rq->code, rq->code_len, &eo, &res, &err);
        if (watching) {
            char b = 1;
            while (write(x.wake[1], &b, 1) < 0 && errno == EINTR) {
            }
            pthread_join(watcher, NULL);
        }
        pthread_mutex_lock(&srv->lock);
        c->cancel = NULL;
        pthread_mutex_unlock(&srv->lock);
        if (st != VIV_OK) {
            if (!x.dead) {
                send_error(c->fd, st, &err, false);
            }
        } else {
            char *text = NULL;
            if (viv_result_to_json(res, &text, &err) != VIV_OK) {
                send_error(c->fd, VIV_EHOST, &err, false);
            } else if (!x.dead) {
                json_t *o = json_pack("{s:s, s:i, s:b, s:s}", "type", "result", "exit_status",
                                      viv_cli_exit_status(res), "warm", viv_result_warm(res),
                                      "result", text);
                if (o == NULL || viv_frame_write_json(c->fd, o) != 0) {
                    x.dead = true;
                }
                json_decref(o);
            }
            free(text);
            viv_result_free(res);
        }
        keep = !x.dead && !x.bad_input;
    }
    if (x.wake[0] >= 0) {
        close(x.wake[0]);
        close(x.wake[1]);
    }
    viv_cancel_destroy(x.cancel);
    viv_sandbox_destroy(sb);
    viv_session_store_close(store);
    viv_logger_free(logger);
    viv_policy_free(policy);
    free(args);
    return keep;
}

/* ---- a connection ------------------------------------------------------------ */

static void log_malformed(conn *c, const char *why)
{
    json_t *f = json_pack("{s:I, s:s}", "connection", (json_int_t)c->id, "reason", why);
    viv_cli_eventlog_emit(c->srv->log, VIV_LOG_WARNING, "serve.request.malformed", f);
    json_decref(f);
}

/* Read one request (the execute message, then the code and stdin frames).
 * 1: a request; 0: the client closed; -1: malformed (reported). */
static int read_request(conn *c, request *rq)
{
    memset(rq, 0, sizeof *rq);
    char kind;
    char *payload;
    size_t len;
    int rc = viv_frame_read(c->fd, VIV_PROTO_MAX_FRAME, &kind, &payload, &len, NULL);
    if (rc == 0) {
        return 0;
    }
    if (rc < 0) {
        if (errno == EPROTO) {
            log_malformed(c, "bad frame length");
            send_error_msg(c->fd, VIV_EINVAL, "malformed frame", false);
        }
        return -1;
    }
    const char *why = NULL;
    if (kind != VIV_FRAME_JSON) {
        why = "expected an execute message";
    } else if ((rq->msg = json_loadb(payload, len, 0, NULL)) == NULL || !json_is_object(rq->msg)) {
        why = "not a JSON object";
    } else {
        const char *type = json_string_value(json_object_get(rq->msg, "type"));
        json_t *version = json_object_get(rq->msg, "version");
        if (type == NULL || strcmp(type, "execute") != 0) {
            why = "expected an execute message";
        } else if (!json_is_integer(version) || json_integer_value(version) != VIV_PROTO_VERSION) {
            free(payload);
            json_decref(rq->msg);
            rq->msg = NULL;
            send_error_msg(c->fd, VIV_EINVAL, "unsupported protocol version", true);
            return -1;
        }
    }
    free(payload);
    for (int i = 0; why == NULL && i < 2; i++) {
        char want = i == 0 ? VIV_FRAME_CODE : VIV_FRAME_STDIN;
        rc = viv_frame_read(c->fd, VIV_PROTO_MAX_FRAME, &kind, &payload, &len, NULL);
        if (rc <= 0) {
            why = "connection ended inside a request";
        } else if (kind != want) {
            free(payload);
            why = i == 0 ? "expected the code frame" : "expected the stdin frame";
        } else if (i == 0) {
            rq->code = payload;
            rq->code_len = len;
        } else {
            rq->stdin_data = payload;
            rq->stdin_len = len;
        }
    }
    if (why != NULL) {
        log_malformed(c, why);
        char msg[128];
        snprintf(msg, sizeof msg, "malformed request: %s", why);
        send_error_msg(c->fd, VIV_EINVAL, msg, false);
        return -1;
    }
    return 1;
}

static void free_request(request *rq)
{
    json_decref(rq->msg);
    free(rq->code);
    free(rq->stdin_data);
    memset(rq, 0, sizeof *rq);
}

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
        if (read_request(c, &rq) <= 0) {
            free_request(&rq);
            break;
        }
        pthread_mutex_lock(&srv->lock);
        bool stopping = srv->stopping;
        c->busy = !stopping;
        pthread_mutex_unlock(&srv->lock);
        if (stopping) {
            free_request(&rq);
            send_error_msg(c->fd, VIV_EHOST, "the server is shutting down", true);
            break;
        }
        bool keep = run_request(c, &rq);
        free_request(&rq);
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
        send_error_msg(fd, VIV_EINVAL, "permission denied: not the server's user", false);
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
        send_error_msg(fd, VIV_EBUSY,
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
        send_error_msg(fd, VIV_EBUSY, "the server cannot start a thread; retry later", false);
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
    remove_socket(srv);
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
    int64_t pool_size, max_concurrent, max_queued, max_connections;
    double grace_s;
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
        st = viv_sandbox_create(policy, a->wasm ? a->wasm : viv_cli_default_guest(), &sb, &err);
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
    server srv = {.path = a.socket, .listen_fd = -1, .uid = geteuid(), .stop_pipe = {-1, -1}};
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
    };
    if (rc < 0 && viv_warm_pool_create(&wo, &srv.pool, &err) != VIV_OK) {
        fprintf(stderr, "vivarium serve: %s\n", err.message);
        rc = VIV_EXIT_USAGE;
    }
    if (rc < 0 && (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0 ||
                   pipe2(srv.stop_pipe, O_CLOEXEC) != 0 || open_socket(&srv) != 0)) {
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
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
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
