/*
 * src/cli/client.c: `vivarium run --socket PATH`, the client of
 * `vivarium serve`.
 *
 * Owns: turning the parsed command line into a request (the policy as
 * TOML, every path absolute so that it means what it meant in the client's
 * current directory), passing streamed output and events through, SIGINT
 * and SIGTERM as a cancel request, and the decision to fall back to a local
 * run. The fallback happens only before anything was sent to a server that
 * proved to be ours, so nothing can run twice.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "eventlog.h"
#include "proto.h"

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void fallback(viv_cli_eventlog *log, const char *socket_path, const char *reason)
{
    json_t *f = json_pack("{s:s, s:s}", "socket", socket_path, "reason", reason);
    viv_cli_eventlog_emit(log, VIV_LOG_INFO, "serve.client.fallback", f);
    json_decref(f);
}

/* Connect and check that the server runs as us: a socket someone else
 * planted must not receive our code. -1 with a reason when unusable. */
static int connect_server(const char *path, char *reason, size_t len)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        snprintf(reason, len, "socket path too long");
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(reason, len, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        snprintf(reason, len, "connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    long uid = viv_peer_uid(fd);
    if (uid != (long)geteuid()) {
        snprintf(reason, len, "the server runs as uid %ld, not as us", uid);
        close(fd);
        return -1;
    }
    return fd;
}

/* path made absolute against cwd, lexically (it may not exist yet). */
static char *absolute(const char *cwd, const char *path)
{
    char buf[PATH_MAX * 2];
    if (path[0] == '/') {
        snprintf(buf, sizeof buf, "%s", path);
    } else {
        snprintf(buf, sizeof buf, "%s/%s", cwd, path);
    }
    return strdup(buf);
}

static json_t *maybe_string(const char *s) { return s != NULL ? json_string(s) : json_null(); }

/* The request message, or NULL with a reason (then the run stays local). */
static json_t *build_request(const viv_cli_common *c, int argc, char **argv, const char *cwd,
                             char *reason, size_t len)
{
    viv_error err = {0};
    char *policy = NULL;
    if (viv_policy_to_toml(c->policy, &policy, NULL, &err) != VIV_OK) {
        snprintf(reason, len, "policy: %s", err.message);
        return NULL;
    }
    char *wasm = NULL, *sessions = NULL;
    const char *guest = c->wasm ? c->wasm : viv_cli_default_guest();
    if (guest != NULL) {
        wasm = absolute(cwd, guest);
    }
    if (c->session_id != NULL || c->sessions_dir != NULL) {
        sessions = absolute(cwd, c->sessions_dir ? c->sessions_dir : "workspace");
    }
    json_t *args = json_array();
    for (int i = c->first_arg; args != NULL && i < argc; i++) {
        /* json_string refuses text that is not UTF-8: such args stay local. */
        if (json_array_append_new(args, json_string(argv[i])) != 0) {
            json_decref(args);
            args = NULL;
        }
    }
    json_t *msg = NULL;
    if (args != NULL && (guest == NULL || wasm != NULL) &&
        (sessions != NULL || (c->session_id == NULL && c->sessions_dir == NULL))) {
        msg = json_pack("{s:s, s:i, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:b}", "type",
                        "execute", "version", VIV_PROTO_VERSION, "policy", policy, "cwd", cwd,
                        "filename", maybe_string(c->filename), "args", args, "session_id",
                        maybe_string(c->session_id), "sessions_dir", maybe_string(sessions), "wasm",
                        maybe_string(wasm), "stream", !c->json, "events", c->log_target != NULL);
        args = NULL; /* "o" took it, whatever the outcome */
    }
    json_decref(args);
    if (msg == NULL) {
        snprintf(reason, len, "the request cannot be encoded (text that is not UTF-8?)");
    }
    free(policy);
    free(wasm);
    free(sessions);
    return msg;
}

static void write_out(FILE *f, const char *bytes, size_t len)
{
    fwrite(bytes, 1, len, f);
    fflush(f);
}

static int error_status(json_t *o)
{
    viv_error err = {0};
    json_int_t st = json_integer_value(json_object_get(o, "status"));
    const char *msg = json_string_value(json_object_get(o, "message"));
    snprintf(err.message, sizeof err.message, "%s", msg ? msg : "the server reported an error");
    return viv_cli_fail("run", (viv_status)st, &err);
}

/* Read frames until the result. SIGINT/SIGTERM become one cancel frame. */
static int receive(int fd, const viv_cli_common *c, viv_cli_eventlog *log, const char *socket_path,
                   bool *ran)
{
    bool cancel_sent = false;
    for (;;) {
        if (interrupted && !cancel_sent) {
            json_t *o = json_pack("{s:s}", "type", "cancel");
            viv_frame_write_json(fd, o);
            json_decref(o);
            cancel_sent = true;
        }
        char kind;
        char *payload;
        size_t len;
        int rc = viv_frame_read(fd, VIV_PROTO_MAX_FRAME, &kind, &payload, &len, &interrupted);
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        if (rc <= 0) {
            fprintf(stderr, "vivarium run: lost the connection to the server at %s\n", socket_path);
            return VIV_EXIT_TRAPPED;
        }
        switch (kind) {
        case VIV_FRAME_STDOUT:
            write_out(stdout, payload, len);
            break;
        case VIV_FRAME_STDERR:
            write_out(stderr, payload, len);
            break;
        case VIV_FRAME_EVENT:
            if (len > 1) {
                viv_cli_eventlog_line(log, (viv_log_level)(payload[0] - '0'), payload + 1);
            }
            break;
        case VIV_FRAME_JSON: {
            json_t *o = json_loadb(payload, len, 0, NULL);
            const char *type = json_string_value(json_object_get(o, "type"));
            int status = -1;
            if (type != NULL && strcmp(type, "result") == 0) {
                const char *text = json_string_value(json_object_get(o, "result"));
                if (c->json && text != NULL) {
                    puts(text);
                }
                status = (int)json_integer_value(json_object_get(o, "exit_status"));
            } else if (type != NULL && strcmp(type, "error") == 0) {
                if (json_is_true(json_object_get(o, "retry_local"))) {
                    /* The server refused before running anything. */
                    const char *m = json_string_value(json_object_get(o, "message"));
                    fallback(log, socket_path, m ? m : "refused");
                    *ran = false;
                    status = 0;
                } else {
                    status = error_status(o);
                }
            }
            json_decref(o);
            if (status >= 0) {
                free(payload);
                return status;
            }
            break;
        }
        default:
            break; /* kinds this client does not know are skipped */
        }
        free(payload);
    }
}

int viv_cli_remote_run(viv_cli_common *c, int argc, char **argv, const char *socket_path,
                       viv_cli_eventlog *log, bool *ran)
{
    *ran = false;
    char reason[640];
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL) {
        fallback(log, socket_path, "cannot read the current directory");
        return 0;
    }
    json_t *msg = build_request(c, argc, argv, cwd, reason, sizeof reason);
    if (msg == NULL) {
        fallback(log, socket_path, reason);
        return 0;
    }
    int fd = connect_server(socket_path, reason, sizeof reason);
    if (fd < 0) {
        json_decref(msg);
        fallback(log, socket_path, reason);
        return 0;
    }
    /* From the first byte sent on, the server may run the program: there
     * is no falling back any more unless it says nothing ran. */
    *ran = true;
    int rc = viv_frame_write_json(fd, msg);
    json_decref(msg);
    if (rc == 0) {
        rc = viv_frame_write(fd, VIV_FRAME_CODE, c->program, c->program_len);
    }
    if (rc == 0) {
        rc = viv_frame_write(fd, VIV_FRAME_STDIN, c->stdin_data, c->stdin_len);
    }
    if (rc != 0) {
        fprintf(stderr, "vivarium run: cannot send the request to %s: %s\n", socket_path,
                strerror(errno));
        close(fd);
        return VIV_EXIT_USAGE;
    }
    struct sigaction sa = {.sa_handler = on_interrupt}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a read in progress returns EINTR so the cancel goes
     * out at once. */
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    signal(SIGPIPE, SIG_IGN);
    rc = receive(fd, c, log, socket_path, ran);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    close(fd);
    return rc;
}
