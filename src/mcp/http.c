/*
 * src/mcp/http.c: the Streamable HTTP transport (libmicrohttpd).
 *
 * Owns: the single MCP endpoint /mcp and everything HTTP: binding (loopback
 * unless told otherwise), the bearer token, the Origin check, per-address
 * rate limits, the body size limit, Mcp-Session-Id (one MCP client per id,
 * handed out with the initialize reply, ended by DELETE or idleness) and
 * the MCP-Protocol-Version header.
 *
 * Each POST carries one JSON-RPC message and is answered with one
 * application/json body (or 202 for a notification). The server never
 * streams (no SSE), so GET is 405. libmicrohttpd runs a thread per
 * connection, so a long execute_code blocks only its own connection while
 * a cancellation arrives on another.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mcp_internal.h"

/* libmicrohttpd is loaded when `vivarium mcp --http` starts, not linked:
 * with the GnuTLS it pulls in, it would add ten libraries to the start-up
 * of every `vivarium` command. Set once, before the daemon (and so any
 * thread that reads it) starts; read-only afterwards. */
static struct {
    struct MHD_Response *(*create_response_from_buffer)(size_t, void *,
                                                        enum MHD_ResponseMemoryMode);
    enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *, const char *);
    enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int, struct MHD_Response *);
    void (*destroy_response)(struct MHD_Response *);
    const union MHD_ConnectionInfo *(*get_connection_info)(struct MHD_Connection *,
                                                           enum MHD_ConnectionInfoType, ...);
    const char *(*lookup_connection_value)(struct MHD_Connection *, enum MHD_ValueKind,
                                           const char *);
    struct MHD_Daemon *(*start_daemon)(unsigned int, uint16_t, MHD_AcceptPolicyCallback, void *,
                                       MHD_AccessHandlerCallback, void *, ...);
    const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *, enum MHD_DaemonInfoType,
                                                   ...);
    void (*stop_daemon)(struct MHD_Daemon *);
} mhd;

#define MHD_LIBRARY "libmicrohttpd.so.12"

static int load_mhd(void)
{
    void *lib = dlopen(MHD_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        mcp_log("--http needs %s (Debian package libmicrohttpd12): %s", MHD_LIBRARY, dlerror());
        return -1;
    }
    struct {
        const char *name;
        void **slot;
    } syms[] = {
        {"MHD_create_response_from_buffer", (void **)&mhd.create_response_from_buffer},
        {"MHD_add_response_header", (void **)&mhd.add_response_header},
        {"MHD_queue_response", (void **)&mhd.queue_response},
        {"MHD_destroy_response", (void **)&mhd.destroy_response},
        {"MHD_get_connection_info", (void **)&mhd.get_connection_info},
        {"MHD_lookup_connection_value", (void **)&mhd.lookup_connection_value},
        {"MHD_start_daemon", (void **)&mhd.start_daemon},
        {"MHD_get_daemon_info", (void **)&mhd.get_daemon_info},
        {"MHD_stop_daemon", (void **)&mhd.stop_daemon},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        *syms[i].slot = dlsym(lib, syms[i].name);
        if (*syms[i].slot == NULL) {
            mcp_log("%s lacks %s", MHD_LIBRARY, syms[i].name);
            dlclose(lib);
            return -1;
        }
    }
    /* Stays loaded for the life of the process. */
    return 0;
}

#define ENDPOINT "/mcp"
/* Addresses remembered for rate limiting; the least recently seen goes. */
#define RATE_SLOTS 256

typedef struct rate_slot {
    struct sockaddr_storage addr;
    socklen_t len;
    double tokens;
    double last;
} rate_slot;

typedef struct http_ctx {
    mcp_server *s;
    pthread_mutex_t mu;
    rate_slot slots[RATE_SLOTS];
    size_t nslots;
} http_ctx;

typedef struct conn_state {
    char *body;
    size_t len;
    size_t cap;
    bool too_large;
} conn_state;

/* ---- responses ------------------------------------------------------------------- */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *body,
                               const char *hname, const char *hvalue)
{
    size_t len = body ? strlen(body) : 0;
    struct MHD_Response *r =
        mhd.create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (r == NULL) {
        return MHD_NO;
    }
    if (len > 0) {
        mhd.add_response_header(r, "Content-Type", "application/json");
    }
    if (hname != NULL) {
        mhd.add_response_header(r, hname, hvalue);
    }
    enum MHD_Result rc = mhd.queue_response(conn, status, r);
    mhd.destroy_response(r);
    return rc;
}

/* An HTTP-level refusal, with a JSON-RPC error body for clients that read it. */
static enum MHD_Result refuse(struct MHD_Connection *conn, unsigned status, int code,
                              const char *msg, const char *hname, const char *hvalue)
{
    json_t *e = mcp_error_reply(NULL, code, "%s", msg);
    char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    enum MHD_Result rc = respond(conn, status, text, hname, hvalue);
    free(text);
    return rc;
}

/* ---- checks ------------------------------------------------------------------------ */

static bool token_ok(const mcp_config *cfg, const char *auth)
{
    if (cfg->token == NULL) {
        return true; /* --insecure-no-auth */
    }
    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
        return false;
    }
    const char *given = auth + 7;
    size_t a = strlen(given), b = strlen(cfg->token);
    /* Constant time in the token's content: no early exit on a mismatch. */
    unsigned char diff = (unsigned char)(a != b);
    for (size_t i = 0; i < b; i++) {
        diff |= (unsigned char)(given[i < a ? i : 0] ^ cfg->token[i]);
    }
    return diff == 0;
}

static bool loopback_origin(const char *o)
{
    static const char *const hosts[] = {"localhost", "127.0.0.1", "[::1]"};
    const char *rest = NULL;
    if (strncmp(o, "http://", 7) == 0) {
        rest = o + 7;
    } else if (strncmp(o, "https://", 8) == 0) {
        rest = o + 8;
    } else {
        return false;
    }
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        size_t n = strlen(hosts[i]);
        if (strncmp(rest, hosts[i], n) == 0) {
            const char *p = rest + n;
            if (*p == '\0') {
                return true;
            }
            if (*p == ':' && p[1] != '\0' && strspn(p + 1, "0123456789") == strlen(p + 1)) {
                return true;
            }
        }
    }
    return false;
}

/* Browsers send Origin; a page on another site must not drive a local
 * server (DNS rebinding). No Origin: not a browser, nothing to check. */
static bool origin_ok(const mcp_config *cfg, const char *origin)
{
    if (origin == NULL) {
        return true;
    }
    for (size_t i = 0; i < cfg->norigins; i++) {
        if (strcmp(origin, cfg->origins[i]) == 0) {
            return true;
        }
    }
    return loopback_origin(origin);
}

/* Token bucket per client address. */
static bool rate_ok(http_ctx *h, struct MHD_Connection *conn)
{
    const mcp_config *cfg = h->s->cfg;
    if (cfg->rate_per_s <= 0) {
        return true;
    }
    const union MHD_ConnectionInfo *ci =
        mhd.get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL) {
        return true;
    }
    const struct sockaddr *sa = ci->client_addr;
    /* Compare addresses without the port: a client opens many connections. */
    char key[INET6_ADDRSTRLEN] = "";
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, key, sizeof key);
    } else if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, key, sizeof key);
    }
    double now = mcp_now();
    pthread_mutex_lock(&h->mu);
    rate_slot *slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < h->nslots; i++) {
        char k[INET6_ADDRSTRLEN] = "";
        const struct sockaddr *x = (const struct sockaddr *)&h->slots[i].addr;
        if (x->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((const struct sockaddr_in *)x)->sin_addr, k, sizeof k);
        } else if (x->sa_family == AF_INET6) {
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)x)->sin6_addr, k, sizeof k);
        }
        if (strcmp(k, key) == 0) {
            slot = &h->slots[i];
            break;
        }
        if (oldest == NULL || h->slots[i].last < oldest->last) {
            oldest = &h->slots[i];
        }
    }
    if (slot == NULL) {
        slot = h->nslots < RATE_SLOTS ? &h->slots[h->nslots++] : oldest;
        memset(slot, 0, sizeof *slot);
        size_t sl =
            sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        memcpy(&slot->addr, sa, sl);
        slot->tokens = cfg->rate_burst;
        slot->last = now;
    }
    slot->tokens += (now - slot->last) * cfg->rate_per_s;
    if (slot->tokens > cfg->rate_burst) {
        slot->tokens = cfg->rate_burst;
    }
    slot->last = now;
    bool ok = slot->tokens >= 1.0;
    if (ok) {
        slot->tokens -= 1.0;
    }
    pthread_mutex_unlock(&h->mu);
    return ok;
}

/* ---- the endpoint -------------------------------------------------------------------- */

static enum MHD_Result handle_delete(http_ctx *h, struct MHD_Connection *conn)
{
    const char *sid = mhd.lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Session-Id");
    if (sid == NULL) {
        return refuse(conn, MHD_HTTP_BAD_REQUEST, MCP_INVALID_REQUEST,
                      "DELETE needs an Mcp-Session-Id header", NULL, NULL);
    }
    mcp_client *c = mcp_client_find(h->s, sid);
    if (c == NULL) {
        return refuse(conn, MHD_HTTP_NOT_FOUND, MCP_INVALID_REQUEST, "no such MCP session", NULL,
                      NULL);
    }
    mcp_client_close(h->s, c);
    mcp_client_release(h->s, c);
    return respond(conn, MHD_HTTP_OK, NULL, NULL, NULL);
}

static enum MHD_Result handle_post(http_ctx *h, struct MHD_Connection *conn, conn_state *st)
{
    mcp_server *s = h->s;
    if (st->too_large) {
        char msg[128];
        snprintf(msg, sizeof msg, "request body is over the limit of %zu bytes",
                 s->cfg->max_message_bytes);
        return refuse(conn, MHD_HTTP_CONTENT_TOO_LARGE, MCP_INVALID_REQUEST, msg, NULL, NULL);
    }
    const char *ctype = mhd.lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    if (ctype != NULL && strncasecmp(ctype, "application/json", 16) != 0) {
        return refuse(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, MCP_INVALID_REQUEST,
                      "Content-Type must be application/json", NULL, NULL);
    }
    json_error_t jerr;
    json_t *msg = json_loadb(st->body ? st->body : "", st->len, JSON_REJECT_DUPLICATES, &jerr);
    if (msg == NULL) {
        pthread_mutex_lock(&s->mu);
        s->metrics.rpc_errors++;
        pthread_mutex_unlock(&s->mu);
        char m[300];
        snprintf(m, sizeof m, "parse error at line %d, column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return refuse(conn, MHD_HTTP_BAD_REQUEST, MCP_PARSE_ERROR, m, NULL, NULL);
    }
    const char *sid = mhd.lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Session-Id");
    const char *pv = mhd.lookup_connection_value(conn, MHD_HEADER_KIND, "MCP-Protocol-Version");
    mcp_client *c = NULL;
    bool fresh = false;
    enum MHD_Result rc;
    if (mcp_message_is_initialize(msg) && json_object_get(msg, "id") != NULL) {
        c = mcp_client_new(s, true);
        fresh = true;
        if (c == NULL) {
            json_decref(msg);
            return refuse(conn, MHD_HTTP_SERVICE_UNAVAILABLE, MCP_INTERNAL_ERROR,
                          "too many MCP sessions; end one (DELETE) or retry later", NULL, NULL);
        }
    } else if (pv != NULL && !mcp_version_supported(pv)) {
        json_decref(msg);
        return refuse(conn, MHD_HTTP_BAD_REQUEST, MCP_INVALID_REQUEST,
                      "unsupported MCP-Protocol-Version", NULL, NULL);
    } else if (sid == NULL) {
        json_decref(msg);
        return refuse(conn, MHD_HTTP_BAD_REQUEST, MCP_INVALID_REQUEST,
                      "missing Mcp-Session-Id header: send initialize first", NULL, NULL);
    } else if ((c = mcp_client_find(s, sid)) == NULL) {
        json_decref(msg);
        return refuse(conn, MHD_HTTP_NOT_FOUND, MCP_INVALID_REQUEST,
                      "unknown or expired MCP session: initialize again", NULL, NULL);
    }
    /* Over HTTP the POST waits for its answer, so even a cancelled request
     * gets its (cancelled) result. */
    json_t *reply = mcp_handle_message(s, c, msg, NULL);
    json_decref(msg);
    if (reply == NULL) {
        rc = respond(conn, MHD_HTTP_ACCEPTED, NULL, NULL, NULL);
    } else {
        bool ok = json_object_get(reply, "result") != NULL;
        char *text = json_dumps(reply, JSON_COMPACT);
        json_decref(reply);
        if (fresh && !ok) {
            mcp_client_close(s, c);
        }
        rc = text ? respond(conn, MHD_HTTP_OK, text, fresh && ok ? "Mcp-Session-Id" : NULL, c->id)
                  : MHD_NO;
        free(text);
    }
    mcp_client_release(s, c);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    http_ctx *h = cls;
    const mcp_config *cfg = h->s->cfg;
    conn_state *st = *con_cls;
    if (st == NULL) {
        /* Headers only, so far: refuse early, before reading any body. */
        st = calloc(1, sizeof *st);
        if (st == NULL) {
            return MHD_NO;
        }
        *con_cls = st;
        if (!rate_ok(h, conn)) {
            return refuse(conn, MHD_HTTP_TOO_MANY_REQUESTS, MCP_INVALID_REQUEST,
                          "too many requests from this address; slow down", "Retry-After", "1");
        }
        if (strcmp(url, ENDPOINT) != 0) {
            return refuse(conn, MHD_HTTP_NOT_FOUND, MCP_INVALID_REQUEST,
                          "not found: the MCP endpoint is " ENDPOINT, NULL, NULL);
        }
        if (!origin_ok(cfg, mhd.lookup_connection_value(conn, MHD_HEADER_KIND, "Origin"))) {
            return refuse(conn, MHD_HTTP_FORBIDDEN, MCP_INVALID_REQUEST, "Origin not allowed", NULL,
                          NULL);
        }
        if (!token_ok(cfg, mhd.lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"))) {
            return refuse(conn, MHD_HTTP_UNAUTHORIZED, MCP_INVALID_REQUEST,
                          "missing or wrong bearer token", "WWW-Authenticate",
                          "Bearer realm=\"vivarium\"");
        }
        if (strcmp(method, "POST") != 0 && strcmp(method, "DELETE") != 0) {
            return refuse(conn, MHD_HTTP_METHOD_NOT_ALLOWED, MCP_INVALID_REQUEST,
                          "use POST (this server does not stream, so GET is not offered)", "Allow",
                          "POST, DELETE");
        }
        const char *cl = mhd.lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl != NULL && strtoull(cl, NULL, 10) > cfg->max_message_bytes) {
            st->too_large = true;
            return handle_post(h, conn, st);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->too_large || st->len + n > cfg->max_message_bytes) {
            st->too_large = true;
            return MHD_YES; /* keep draining; answered at the end */
        }
        if (st->len + n > st->cap) {
            size_t cap = st->cap ? st->cap : 4096;
            while (cap < st->len + n) {
                cap *= 2;
            }
            char *b = realloc(st->body, cap);
            if (b == NULL) {
                return MHD_NO;
            }
            st->body = b;
            st->cap = cap;
        }
        memcpy(st->body + st->len, upload_data, n);
        st->len += n;
        return MHD_YES;
    }
    if (strcmp(method, "DELETE") == 0) {
        return handle_delete(h, conn);
    }
    return handle_post(h, conn, st);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    conn_state *st = *con_cls;
    if (st != NULL) {
        free(st->body);
        free(st);
        *con_cls = NULL;
    }
}

/* ---- binding -------------------------------------------------------------------------- */

/* "PORT", ":PORT", "HOST:PORT" or "[V6]:PORT"; no host means 127.0.0.1. */
static int parse_addr(const char *spec, struct sockaddr_storage *out, socklen_t *outlen,
                      char *shown, size_t shownlen)
{
    char host[256] = "127.0.0.1";
    const char *port;
    const char *colon = strrchr(spec, ':');
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof host) {
            return -1;
        }
        memcpy(host, spec + 1, (size_t)(close - spec - 1));
        host[close - spec - 1] = '\0';
        port = close + 2;
    } else if (colon == NULL) {
        port = spec;
    } else {
        if (colon != spec) {
            if ((size_t)(colon - spec) >= sizeof host) {
                return -1;
            }
            memcpy(host, spec, (size_t)(colon - spec));
            host[colon - spec] = '\0';
        }
        port = colon + 1;
    }
    if (*port == '\0' || strspn(port, "0123456789") != strlen(port) || atoi(port) > 65535) {
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL) {
        return -1;
    }
    memcpy(out, ai->ai_addr, ai->ai_addrlen);
    *outlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    snprintf(shown, shownlen, "%s%s%s", strchr(host, ':') ? "[" : "", host,
             strchr(host, ':') ? "]" : "");
    return 0;
}

static bool is_loopback(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET) {
        return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
    }
    if (a->ss_family == AF_INET6) {
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr);
    }
    return false;
}

int mcp_serve_http(mcp_server *s)
{
    const mcp_config *cfg = s->cfg;
    if (load_mhd() != 0) {
        return 1;
    }
    struct sockaddr_storage addr;
    socklen_t alen = 0;
    char host[300];
    if (parse_addr(cfg->http_addr, &addr, &alen, host, sizeof host) != 0) {
        mcp_log("--http %s: expected PORT, HOST:PORT or [IPV6]:PORT", cfg->http_addr);
        return 2;
    }
    if (!is_loopback(&addr)) {
        mcp_log("warning: listening on %s, which is not a loopback address: anyone who can "
                "reach it and holds the token can run code",
                host);
    }
    http_ctx *h = calloc(1, sizeof *h);
    if (h == NULL) {
        mcp_log("out of memory");
        return 1;
    }
    h->s = s;
    pthread_mutex_init(&h->mu, NULL);
    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    struct MHD_Daemon *d = mhd.start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(cfg->max_executions + 64),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(cfg->max_executions + 32),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        NULL, MHD_OPTION_END);
    if (d == NULL) {
        mcp_log("cannot listen on %s", cfg->http_addr);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return 1;
    }
    const union MHD_DaemonInfo *di = mhd.get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    mcp_log("listening on http://%s:%u" ENDPOINT "%s", host, di ? di->port : 0,
            cfg->token ? "" : " WITHOUT AUTHENTICATION (--insecure-no-auth)");

    /* SIGINT and SIGTERM were blocked in every thread before any started. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    int sig = 0;
    sigwait(&sigs, &sig);
    mcp_log("signal %d received; stopping", sig);
    /* Running code is cancelled first, so no connection thread is left
     * waiting on an execution when the daemon joins them. */
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    for (mcp_request *r = s->inflight; r != NULL; r = r->next) {
        viv_cancel_trigger(r->cancel);
    }
    pthread_mutex_unlock(&s->mu);
    mhd.stop_daemon(d);
    pthread_mutex_destroy(&h->mu);
    free(h);
    return 0;
}
