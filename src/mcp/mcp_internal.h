/*
 * src/mcp/mcp_internal.h: what the parts of the MCP server share.
 *
 * The server is a thin client of vivarium.h. Its parts, as a message flows:
 *   stdio.c / http.c   transports: framing, HTTP checks, threads
 *   protocol.c         JSON-RPC 2.0 and the MCP lifecycle, request tracking
 *   tools.c            the tools: schemas, descriptions, handlers
 *   server.c           shared state: config, session table, caps, reaper
 *   metrics.c          counters and duration percentiles
 *   main.c             `vivarium mcp` options
 *
 * Threads: a transport may handle messages on several threads at once.
 * Everything mutable in mcp_server is under its mutex; a viv_sandbox is
 * created per execution, so no sandbox is ever shared between threads.
 */
#ifndef VIV_MCP_INTERNAL_H
#define VIV_MCP_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vivarium.h"

/* The newest protocol revision we speak; also what we answer when a client
 * asks for one we do not know. */
#define MCP_LATEST_VERSION "2025-11-25"

/* JSON-RPC 2.0 error codes. */
enum {
    MCP_PARSE_ERROR = -32700,
    MCP_INVALID_REQUEST = -32600,
    MCP_METHOD_NOT_FOUND = -32601,
    MCP_INVALID_PARAMS = -32602,
    MCP_INTERNAL_ERROR = -32603,
};

typedef struct mcp_config {
    viv_policy *policy;       /* the server's limits; callers may only lower them (owned) */
    const char *wasm;         /* guest module; NULL: the library's default */
    const char *sessions_dir; /* NULL: a private temporary root, removed at exit */
    viv_logger *logger;       /* sandbox and session events (owned); may be NULL */
    viv_warm_pool *warm;      /* warm interpreters for every execution (owned); may be NULL */
    size_t max_code_bytes;
    size_t max_message_bytes; /* one JSON-RPC message (a stdio line, an HTTP body) */
    size_t max_read_bytes;    /* read_file's ceiling */
    unsigned max_sessions;
    unsigned max_executions; /* running at once, server-wide */
    double session_idle_s;   /* 0: sessions never expire */
    /* Streamable HTTP; http_addr NULL means stdio. */
    const char *http_addr;
    char *token; /* owned; NULL only with insecure_no_auth */
    bool insecure_no_auth;
    const char **origins; /* extra allowed Origin values (borrowed argv) */
    size_t norigins;
    double rate_per_s; /* per client address */
    double rate_burst;
    unsigned max_clients; /* MCP sessions (Mcp-Session-Id) at once */
} mcp_config;

typedef struct mcp_client mcp_client;

/* One request being handled, from dispatch to reply. */
typedef struct mcp_request {
    mcp_client *client;
    json_t *id;         /* owned reference */
    viv_cancel *cancel; /* owned; triggered by notifications/cancelled */
    atomic_bool cancelled;
    char session_id[65]; /* the session its execution runs in, or "" */
    bool executing;      /* under the server mutex */
    struct mcp_request *next;
} mcp_request;

/* One MCP connection: the stdio peer, or one Mcp-Session-Id over HTTP. */
struct mcp_client {
    char id[33]; /* Mcp-Session-Id; "" on stdio */
    bool initialized;
    char version[16];
    double last_seen; /* monotonic seconds */
    unsigned refs;    /* under the server mutex */
    bool closed;
    struct mcp_client *next;
};

typedef struct mcp_session {
    char id[65];
    double last_used; /* monotonic seconds */
    bool busy;        /* an execution is running in it */
} mcp_session;

#define MCP_TRAP_KINDS 8

typedef struct mcp_metrics {
    uint64_t tool_calls;
    uint64_t tool_errors; /* results with isError */
    uint64_t rpc_errors;  /* JSON-RPC error responses */
    uint64_t executions;
    uint64_t exec_success;
    uint64_t exec_nonzero_exit;
    uint64_t exec_trapped;
    uint64_t exec_rejected; /* refused before running: caps, bad arguments */
    uint64_t traps[MCP_TRAP_KINDS];
    int64_t fuel_total;
    double duration_total_ms;
    double *durations; /* ring of the most recent durations */
    size_t ndurations;
    size_t next;
    size_t per_tool_n;
    struct mcp_tool_count {
        char name[32];
        uint64_t calls;
    } per_tool[16];
} mcp_metrics;

typedef struct mcp_server {
    mcp_config *cfg;
    viv_session_store *store;
    char *tmp_root; /* owned temporary session root, or NULL */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a request finishes or the reaper should stop */
    mcp_request *inflight;
    unsigned running; /* executions holding a slot */
    unsigned pending; /* requests being handled, for shutdown */
    mcp_session *sessions;
    size_t nsessions;
    size_t cap_sessions;
    mcp_client *clients;
    unsigned nclients;
    mcp_metrics metrics;
    bool stopping;
    bool reaper_started;
    pthread_t reaper;
    double started;
    char runtime_version[64];
} mcp_server;

/* ---- server.c --------------------------------------------------------------- */
double mcp_now(void); /* monotonic seconds */
int mcp_server_init(mcp_server *s, mcp_config *cfg, viv_error *err);
/* Cancel every execution, wait for every request, remove the temporary
 * root. */
void mcp_server_shutdown(mcp_server *s);
void mcp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Clients. new/find return a reference; release drops it. */
mcp_client *mcp_client_new(mcp_server *s, bool with_id);
mcp_client *mcp_client_find(mcp_server *s, const char *id);
void mcp_client_release(mcp_server *s, mcp_client *c);
/* Forget a client: cancel its executions; it goes once unreferenced. */
void mcp_client_close(mcp_server *s, mcp_client *c);
/* Close clients idle for longer than the session idle time. */
void mcp_clients_expire(mcp_server *s);

/* Session table (under mu unless noted). */
mcp_session *mcp_session_find(mcp_server *s, const char *id);
/* Add id to the table; false when the cap is reached or memory is short. */
bool mcp_session_add(mcp_server *s, const char *id);
void mcp_session_drop(mcp_server *s, const char *id);

/* Trigger the cancel token of every execution in session_id (NULL: every
 * execution of client c). Returns how many. Takes mu. */
unsigned mcp_cancel_executions(mcp_server *s, mcp_client *c, const char *session_id);

/* ---- protocol.c ------------------------------------------------------------- */
/* Handle one message's text. Returns the reply (NULL: none). *quiet is set
 * when the request was cancelled by the client, whose reply the stdio
 * transport drops. *initialized_now is set when the reply answers an
 * initialize request. */
json_t *mcp_handle_text(mcp_server *s, mcp_client *c, const char *text, size_t len, bool *quiet);
/* Handle an already parsed message (borrowed). */
json_t *mcp_handle_message(mcp_server *s, mcp_client *c, json_t *msg, bool *quiet);
/* Whether this message may take long (it runs on its own thread). */
bool mcp_message_is_slow(json_t *msg);
bool mcp_message_is_initialize(json_t *msg);
bool mcp_version_supported(const char *v);
json_t *mcp_error_reply(json_t *id, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- tools.c ---------------------------------------------------------------- */
json_t *mcp_tools_list(mcp_server *s);
/* Run a tool. Returns a CallToolResult; NULL with *rpc_code and rpc_msg set
 * for a protocol error (an unknown tool). */
json_t *mcp_tools_call(mcp_server *s, mcp_request *req, const char *name, json_t *args,
                       int *rpc_code, char *rpc_msg, size_t rpc_msg_len);

/* ---- metrics.c (callers hold the server mutex) --------------------------------- */
int mcp_metrics_init(mcp_metrics *m);
void mcp_metrics_free(mcp_metrics *m);
void mcp_metrics_tool(mcp_metrics *m, const char *name, bool is_error);
void mcp_metrics_execution(mcp_metrics *m, const viv_result *r);
json_t *mcp_metrics_json(const mcp_metrics *m);

/* ---- transports --------------------------------------------------------------- */
int mcp_serve_stdio(mcp_server *s);
int mcp_serve_http(mcp_server *s);

#endif /* VIV_MCP_INTERNAL_H */
