/*
 * src/mcp/protocol.c: JSON-RPC 2.0 and the MCP lifecycle.
 *
 * Owns: validating the envelope of every message, the error replies with
 * their codes, protocol version negotiation, initialize / initialized /
 * ping / tools/list / tools/call, and notifications/cancelled: each
 * tools/call is registered with a cancel token while it runs, so that a
 * cancellation finds it and stops its execution.
 *
 * Nothing here can fail the server: every malformed message becomes an
 * error reply (or, for a malformed notification, nothing).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"

static const char *const supported_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
                                                 "2024-11-05"};

bool mcp_version_supported(const char *v)
{
    for (size_t i = 0; i < sizeof supported_versions / sizeof *supported_versions; i++) {
        if (strcmp(v, supported_versions[i]) == 0) {
            return true;
        }
    }
    return false;
}

json_t *mcp_error_reply(json_t *id, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                     "error", "code", code, "message", msg);
}

static json_t *result_reply(json_t *id, json_t *result)
{
    if (result == NULL) {
        return mcp_error_reply(id, MCP_INTERNAL_ERROR, "out of memory");
    }
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

static const char *method_of(json_t *msg)
{
    json_t *m = json_is_object(msg) ? json_object_get(msg, "method") : NULL;
    return json_is_string(m) ? json_string_value(m) : NULL;
}

bool mcp_message_is_slow(json_t *msg)
{
    const char *m = method_of(msg);
    return m != NULL && strcmp(m, "tools/call") == 0 && json_object_get(msg, "id") != NULL;
}

bool mcp_message_is_initialize(json_t *msg)
{
    const char *m = method_of(msg);
    return m != NULL && strcmp(m, "initialize") == 0;
}

/* ---- lifecycle ----------------------------------------------------------------- */

static const char instructions[] =
    "Vivarium runs Python (CPython; list_runtimes gives its version) in a WebAssembly sandbox "
    "with hard limits on instructions (fuel), memory, wall-clock time and output. Use "
    "execute_code to run code; create a session first (create_session) when files or state "
    "must persist between runs: each session has a workspace mounted read-write at /app. "
    "Without a session every run starts from an empty /app that is deleted afterwards. Only "
    "files persist between runs, not Python variables. There is no network access and no "
    "package installation; the standard library is available.";

static json_t *do_initialize(mcp_server *s, mcp_client *c, json_t *params, int *code, char *msg,
                             size_t msglen)
{
    json_t *pv = json_object_get(params, "protocolVersion");
    if (!json_is_string(pv)) {
        *code = MCP_INVALID_PARAMS;
        snprintf(msg, msglen, "initialize: params.protocolVersion must be a string");
        return NULL;
    }
    /* Version negotiation: the client's version if we speak it, else our
     * latest, and the client decides whether it can go on. */
    const char *want = json_string_value(pv);
    const char *version = mcp_version_supported(want) ? want : MCP_LATEST_VERSION;
    pthread_mutex_lock(&s->mu);
    snprintf(c->version, sizeof c->version, "%s", version);
    c->initialized = true;
    pthread_mutex_unlock(&s->mu);
    return json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}", "protocolVersion", version,
                     "capabilities", "tools", "listChanged", 0, "serverInfo", "name", "vivarium",
                     "title", "Vivarium Python sandbox", "version", VIV_VERSION, "instructions",
                     instructions);
}

/* ---- requests in flight ---------------------------------------------------------- */

static mcp_request *request_register(mcp_server *s, mcp_client *c, json_t *id)
{
    mcp_request *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    if (viv_cancel_create(&r->cancel, NULL) != VIV_OK) {
        free(r);
        return NULL;
    }
    r->client = c;
    r->id = json_incref(id);
    atomic_init(&r->cancelled, false);
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        viv_cancel_trigger(r->cancel);
    }
    r->next = s->inflight;
    s->inflight = r;
    pthread_mutex_unlock(&s->mu);
    return r;
}

static void request_unregister(mcp_server *s, mcp_request *r)
{
    pthread_mutex_lock(&s->mu);
    for (mcp_request **p = &s->inflight; *p != NULL; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    viv_cancel_destroy(r->cancel);
    json_decref(r->id);
    free(r);
}

static void cancel_request(mcp_server *s, mcp_client *c, json_t *params)
{
    json_t *rid = json_is_object(params) ? json_object_get(params, "requestId") : NULL;
    if (rid == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    for (mcp_request *r = s->inflight; r != NULL; r = r->next) {
        if (r->client == c && json_equal(r->id, rid)) {
            atomic_store(&r->cancelled, true);
            viv_cancel_trigger(r->cancel);
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static json_t *do_tools_call(mcp_server *s, mcp_client *c, json_t *id, json_t *params, bool *quiet)
{
    json_t *name = json_object_get(params, "name");
    if (!json_is_string(name)) {
        return mcp_error_reply(id, MCP_INVALID_PARAMS, "tools/call: params.name must be a string");
    }
    json_t *args = json_object_get(params, "arguments");
    if (args != NULL && !json_is_object(args) && !json_is_null(args)) {
        return mcp_error_reply(id, MCP_INVALID_PARAMS,
                               "tools/call: params.arguments must be an object");
    }
    mcp_request *r = request_register(s, c, id);
    if (r == NULL) {
        return mcp_error_reply(id, MCP_INTERNAL_ERROR, "out of memory");
    }
    int code = 0;
    char msg[256] = "";
    json_t *result = mcp_tools_call(s, r, json_string_value(name),
                                    json_is_object(args) ? args : NULL, &code, msg, sizeof msg);
    *quiet = atomic_load(&r->cancelled);
    request_unregister(s, r);
    if (result == NULL) {
        return mcp_error_reply(id, code ? code : MCP_INTERNAL_ERROR, "%s",
                               msg[0] ? msg : "internal error");
    }
    return result_reply(id, result);
}

/* ---- dispatch ------------------------------------------------------------------- */

static json_t *dispatch(mcp_server *s, mcp_client *c, json_t *msg, bool *quiet)
{
    if (json_is_array(msg)) {
        /* Batches left the protocol in 2025-06-18. */
        return mcp_error_reply(NULL, MCP_INVALID_REQUEST,
                               "JSON-RPC batches are not supported; send one message at a time");
    }
    if (!json_is_object(msg)) {
        return mcp_error_reply(NULL, MCP_INVALID_REQUEST, "a JSON-RPC message must be an object");
    }
    json_t *id = json_object_get(msg, "id");
    bool has_id = id != NULL;
    if (has_id && !json_is_string(id) && !json_is_integer(id)) {
        return mcp_error_reply(NULL, MCP_INVALID_REQUEST, "\"id\" must be a string or an integer");
    }
    json_t *jv = json_object_get(msg, "jsonrpc");
    if (!json_is_string(jv) || strcmp(json_string_value(jv), "2.0") != 0) {
        return mcp_error_reply(id, MCP_INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\"");
    }
    json_t *method = json_object_get(msg, "method");
    if (method == NULL) {
        if (has_id && (json_object_get(msg, "result") || json_object_get(msg, "error"))) {
            return NULL; /* a response: we never send requests, so nothing awaits it */
        }
        return mcp_error_reply(id, MCP_INVALID_REQUEST, "\"method\" is missing");
    }
    if (!json_is_string(method)) {
        return mcp_error_reply(id, MCP_INVALID_REQUEST, "\"method\" must be a string");
    }
    const char *m = json_string_value(method);
    json_t *params = json_object_get(msg, "params");
    if (params != NULL && !json_is_object(params)) {
        return has_id ? mcp_error_reply(id, MCP_INVALID_PARAMS, "\"params\" must be an object")
                      : NULL;
    }

    if (!has_id) {
        if (strcmp(m, "notifications/cancelled") == 0) {
            cancel_request(s, c, params);
        }
        /* notifications/initialized and any other notification: nothing to
         * answer, and unknown ones are ignored as JSON-RPC says. */
        return NULL;
    }

    if (strcmp(m, "initialize") == 0) {
        int code = 0;
        char emsg[256] = "";
        json_t *res = do_initialize(s, c, params, &code, emsg, sizeof emsg);
        return res ? result_reply(id, res) : mcp_error_reply(id, code, "%s", emsg);
    }
    if (strcmp(m, "ping") == 0) {
        return result_reply(id, json_object());
    }
    pthread_mutex_lock(&s->mu);
    bool ready = c->initialized;
    pthread_mutex_unlock(&s->mu);
    if (!ready) {
        return mcp_error_reply(id, MCP_INVALID_REQUEST,
                               "the session is not initialized: send \"initialize\" first");
    }
    if (strcmp(m, "tools/list") == 0) {
        json_t *tools = mcp_tools_list(s);
        return result_reply(id, tools ? json_pack("{s:o}", "tools", tools) : NULL);
    }
    if (strcmp(m, "tools/call") == 0) {
        if (params == NULL) {
            return mcp_error_reply(id, MCP_INVALID_PARAMS, "tools/call needs params");
        }
        return do_tools_call(s, c, id, params, quiet);
    }
    return mcp_error_reply(id, MCP_METHOD_NOT_FOUND, "method not found: %.200s", m);
}

json_t *mcp_handle_message(mcp_server *s, mcp_client *c, json_t *msg, bool *quiet)
{
    bool q = false;
    pthread_mutex_lock(&s->mu);
    s->pending++;
    pthread_mutex_unlock(&s->mu);
    json_t *reply = dispatch(s, c, msg, &q);
    pthread_mutex_lock(&s->mu);
    if (reply != NULL && json_object_get(reply, "error") != NULL) {
        s->metrics.rpc_errors++;
    }
    s->pending--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (quiet != NULL) {
        *quiet = q;
    }
    return reply;
}

json_t *mcp_handle_text(mcp_server *s, mcp_client *c, const char *text, size_t len, bool *quiet)
{
    json_error_t jerr;
    /* JSON_REJECT_DUPLICATES: an object with two "id"s has no single meaning. */
    json_t *msg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (quiet != NULL) {
        *quiet = false;
    }
    if (msg == NULL) {
        pthread_mutex_lock(&s->mu);
        s->metrics.rpc_errors++;
        pthread_mutex_unlock(&s->mu);
        return mcp_error_reply(NULL, MCP_PARSE_ERROR, "parse error at line %d, column %d: %s",
                               jerr.line, jerr.column, jerr.text);
    }
    json_t *reply = mcp_handle_message(s, c, msg, quiet);
    json_decref(msg);
    return reply;
}
