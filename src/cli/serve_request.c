/*
 * src/cli/serve_request.c: one request to `vivarium serve`.
 *
 * Owns: reading a request (the execute message, then the code and stdin
 * frames) and refusing a malformed one, building the caller's policy
 * exactly (over an empty policy, so only what it sent is set), running it
 * through a sandbox on the shared pool, streaming output and events back,
 * watching the connection for a cancel or a hang-up while it runs, and the
 * final result or error frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "eventlog.h"
#include "proto.h"
#include "serve.h"

typedef struct exec_ctx {
    conn *c;
    bool stream, events;
    bool dead; /* a send failed: stop sending, cancel */
    viv_cancel *cancel;
    int wake[2];    /* tells the watcher the execution is over */
    bool bad_input; /* the client sent something other than cancel */
    sem_t started;  /* the watcher is running (see viv_serve_run_request) */
} exec_ctx;

static void send_error_full(int fd, viv_status st, const viv_error *err, bool retry_local)
{
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:b}", "type", "error", "status", (int)st,
                          "status_name", viv_status_name(st), "message", err->message, "field",
                          err->field, "path", err->path, "retry_local", retry_local);
    if (o != NULL) {
        viv_frame_write_json(fd, o);
        json_decref(o);
    }
}

void viv_serve_send_error(int fd, viv_status st, const char *msg, bool retry_local)
{
    viv_error err = {.status = st};
    snprintf(err.message, sizeof err.message, "%s", msg);
    send_error_full(fd, st, &err, retry_local);
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
    sem_post(&x->started);
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
bool viv_serve_run_request(conn *c, request *rq)
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
        viv_serve_send_error(c->fd, VIV_EINVAL,
                             "malformed request: policy and an absolute cwd are required; "
                             "sessions_dir and wasm must be absolute; args an array of strings",
                             false);
        return false;
    }
    size_t nargs = json_array_size(jargs);
    const char **args = calloc(nargs + 1, sizeof *args);
    if (args == NULL) {
        viv_serve_send_error(c->fd, VIV_ENOMEM, "out of memory", false);
        return false;
    }
    for (size_t i = 0; i < nargs; i++) {
        args[i] = json_string_value(json_array_get(jargs, i));
        if (args[i] == NULL) {
            free(args);
            viv_serve_send_error(c->fd, VIV_EINVAL, "malformed request: args must be strings",
                                 false);
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
        st = viv_sandbox_create(policy, wasm ? wasm : srv->wasm, &sb, &err);
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
        send_error_full(c->fd, st, &err, false);
    } else {
        viv_sandbox_set_logger(sb, logger);
        viv_session_store_set_logger(store, logger);
        viv_sandbox_set_warm_pool(sb, srv->pool);
        pthread_mutex_lock(&srv->lock);
        c->cancel = x.cancel;
        pthread_mutex_unlock(&srv->lock);
        pthread_t watcher;
        bool sem_ok = sem_init(&x.started, 0, 0) == 0;
        bool watching = sem_ok && pthread_create(&watcher, NULL, watch_client, &x) == 0;
        if (!watching) {
            /* Without a watcher a vanished client cannot cancel; refuse. */
            viv_cancel_trigger(x.cancel);
        } else {
            /* The execution forks; a thread still being set up at that
             * moment may hold locks (the sanitizers' thread registry, for
             * one) that the child then waits on for ever. */
            while (sem_wait(&x.started) != 0 && errno == EINTR) {
            }
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
        if (sem_ok) {
            sem_destroy(&x.started);
        }
        pthread_mutex_lock(&srv->lock);
        c->cancel = NULL;
        pthread_mutex_unlock(&srv->lock);
        if (st != VIV_OK) {
            if (!x.dead) {
                send_error_full(c->fd, st, &err, false);
            }
        } else {
            char *text = NULL;
            if (viv_result_to_json(res, &text, &err) != VIV_OK) {
                send_error_full(c->fd, VIV_EHOST, &err, false);
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

static void log_malformed(conn *c, const char *why)
{
    json_t *f = json_pack("{s:I, s:s}", "connection", (json_int_t)c->id, "reason", why);
    viv_cli_eventlog_emit(c->srv->log, VIV_LOG_WARNING, "serve.request.malformed", f);
    json_decref(f);
}

/* Read one request (the execute message, then the code and stdin frames).
 * 1: a request; 0: the client closed; -1: malformed (reported). */
int viv_serve_read_request(conn *c, request *rq)
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
            viv_serve_send_error(c->fd, VIV_EINVAL, "malformed frame", false);
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
            viv_serve_send_error(c->fd, VIV_EINVAL, "unsupported protocol version", true);
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
        viv_serve_send_error(c->fd, VIV_EINVAL, msg, false);
        return -1;
    }
    return 1;
}

void viv_serve_request_free(request *rq)
{
    json_decref(rq->msg);
    free(rq->code);
    free(rq->stdin_data);
    memset(rq, 0, sizeof *rq);
}
