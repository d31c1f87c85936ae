/*
 * src/mcp/tools.c: the tools the server offers.
 *
 * Owns: each tool's name, description (written for the model that will
 * call it: limits, mounts, what persists, how to read a failure), input
 * and output JSON Schemas, argument checking, and the handlers, which call
 * only vivarium.h. Bad arguments and refused requests are tool results
 * with isError (the model can read them and retry); only an unknown tool
 * is a protocol error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcp_internal.h"

/* list_files stops here; the result says it was cut. */
#define LIST_FILES_MAX 10000

/* ---- results -------------------------------------------------------------------- */

static json_t *text_content(const char *text)
{
    return json_pack("[{s:s, s:s}]", "type", "text", "text", text);
}

static json_t *tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *tool_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("{s:o, s:b}", "content", text_content(msg), "isError", 1);
}

/* structured (stolen) goes out both as structuredContent and, serialised,
 * as the text block clients without structured output read. */
static json_t *tool_ok(json_t *structured, bool is_error)
{
    if (structured == NULL) {
        return tool_error("out of memory");
    }
    char *text = json_dumps(structured, JSON_COMPACT);
    if (text == NULL) {
        json_decref(structured);
        return tool_error("out of memory");
    }
    json_t *r = json_pack("{s:o, s:o, s:b}", "content", text_content(text), "structuredContent",
                          structured, "isError", is_error);
    free(text);
    return r;
}

/* ---- arguments ------------------------------------------------------------------- */

typedef struct args_ctx {
    json_t *args;
    char err[512];
} args_ctx;

/* Every key must be one the schema names: a misspelt argument is an error,
 * not silently ignored. */
static bool args_only(args_ctx *a, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(a->args, key, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL; i++) {
            ok = ok || strcmp(key, allowed[i]) == 0;
        }
        if (!ok) {
            snprintf(a->err, sizeof a->err, "unknown argument \"%.64s\"", key);
            return false;
        }
    }
    return true;
}

static bool arg_string(args_ctx *a, const char *key, bool required, const char **out)
{
    json_t *v = a->args ? json_object_get(a->args, key) : NULL;
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (required) {
            snprintf(a->err, sizeof a->err, "missing required argument \"%s\"", key);
            return false;
        }
        return true;
    }
    if (!json_is_string(v)) {
        snprintf(a->err, sizeof a->err, "argument \"%s\" must be a string", key);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static bool arg_number(args_ctx *a, const char *key, bool integer, bool *present, double *out)
{
    json_t *v = a->args ? json_object_get(a->args, key) : NULL;
    *present = false;
    if (v == NULL || json_is_null(v)) {
        return true;
    }
    if (integer ? !json_is_integer(v) : !json_is_number(v)) {
        snprintf(a->err, sizeof a->err, "argument \"%s\" must be %s", key,
                 integer ? "an integer" : "a number");
        return false;
    }
    *out = json_number_value(v);
    if (!(*out > 0)) {
        snprintf(a->err, sizeof a->err, "argument \"%s\" must be greater than 0", key);
        return false;
    }
    *present = true;
    return true;
}

static bool arg_bool(args_ctx *a, const char *key, bool dflt, bool *out)
{
    json_t *v = a->args ? json_object_get(a->args, key) : NULL;
    *out = dflt;
    if (v == NULL || json_is_null(v)) {
        return true;
    }
    if (!json_is_boolean(v)) {
        snprintf(a->err, sizeof a->err, "argument \"%s\" must be true or false", key);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

static bool id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

static bool arg_session(args_ctx *a, bool required, const char **out)
{
    if (!arg_string(a, "session_id", required, out)) {
        return false;
    }
    if (*out != NULL && !id_valid(*out)) {
        snprintf(a->err, sizeof a->err,
                 "session_id must be 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'");
        return false;
    }
    return true;
}

/* The session must be one this server serves. Marks it used. */
static json_t *require_session(mcp_server *s, const char *id)
{
    pthread_mutex_lock(&s->mu);
    mcp_session *e = mcp_session_find(s, id);
    if (e != NULL) {
        e->last_used = mcp_now();
    }
    pthread_mutex_unlock(&s->mu);
    if (e == NULL) {
        return tool_error("no session \"%s\" (it never existed, was destroyed, or expired after "
                          "being idle); call create_session first",
                          id);
    }
    return NULL;
}

static json_t *lib_error(const char *what, const viv_error *err)
{
    if (err->path[0] != '\0') {
        return tool_error("%s: %s (path: %s)", what, err->message, err->path);
    }
    return tool_error("%s: %s", what, err->message);
}

/* ---- base64 and UTF-8 ---------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64_encode(const unsigned char *in, size_t n)
{
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= in[i + 2];
        }
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

/* Strict: length a multiple of 4, padding only at the end. */
static unsigned char *base64_decode(const char *in, size_t n, size_t *outlen)
{
    if (n % 4 != 0) {
        return NULL;
    }
    unsigned char *out = malloc(n / 4 * 3 + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            if (in[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad > 0 || (v[k] = b64_value(in[i + k])) < 0) {
                free(out);
                return NULL;
            }
        }
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
        out[o++] = (unsigned char)(x >> 16);
        if (pad < 2) {
            out[o++] = (unsigned char)(x >> 8);
        }
        if (pad < 1) {
            out[o++] = (unsigned char)x;
        }
    }
    *outlen = o;
    return out;
}

/* Text that JSON can carry as it is: valid UTF-8 without NUL. */
static bool is_text(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c == 0) {
            return false;
        } else if (c < 0x80) {
            i++;
            continue;
        } else if ((c >> 5) == 6) {
            len = 2, cp = c & 0x1f;
        } else if ((c >> 4) == 14) {
            len = 3, cp = c & 0x0f;
        } else if ((c >> 3) == 30) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n) {
            return false;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += len;
    }
    return true;
}

/* ---- execute_code ----------------------------------------------------------------------- */

static json_t *tool_execute_code(mcp_server *s, mcp_request *req, args_ctx *a)
{
    static const char *const allowed[] = {"code", "session_id", "timeout_seconds", "fuel_budget",
                                          NULL};
    const char *code, *sid;
    bool has_timeout, has_fuel;
    double timeout = 0, fuel = 0;
    if (!args_only(a, allowed) || !arg_string(a, "code", true, &code) ||
        !arg_session(a, false, &sid) ||
        !arg_number(a, "timeout_seconds", false, &has_timeout, &timeout) ||
        !arg_number(a, "fuel_budget", true, &has_fuel, &fuel)) {
        return tool_error("execute_code: %s", a->err);
    }
    size_t len = json_string_length(json_object_get(a->args, "code"));
    const mcp_config *cfg = s->cfg;
    if (len > cfg->max_code_bytes) {
        return tool_error("execute_code: the code is %zu bytes; this server accepts at most %zu "
                          "bytes. Write large data with write_file and read it from /app.",
                          len, cfg->max_code_bytes);
    }
    double max_timeout = viv_policy_timeout_seconds(cfg->policy);
    int64_t max_fuel = viv_policy_fuel_budget(cfg->policy);
    if (has_timeout && max_timeout > 0 && timeout > max_timeout) {
        return tool_error("execute_code: timeout_seconds %g is above this server's limit of %g; "
                          "a call may only lower it",
                          timeout, max_timeout);
    }
    if (has_fuel && fuel > (double)max_fuel) {
        return tool_error("execute_code: fuel_budget %.0f is above this server's limit of %lld; "
                          "a call may only lower it",
                          fuel, (long long)max_fuel);
    }

    /* Take an execution slot and, with a session, the session. */
    pthread_mutex_lock(&s->mu);
    json_t *refused = NULL;
    mcp_session *e = sid ? mcp_session_find(s, sid) : NULL;
    if (s->stopping) {
        refused = tool_error("execute_code: the server is shutting down");
    } else if (s->running >= cfg->max_executions) {
        refused = tool_error("execute_code: the server is busy: %u executions are running, the "
                             "most it runs at once; retry shortly",
                             s->running);
    } else if (sid != NULL && e == NULL) {
        refused = tool_error("execute_code: no session \"%s\" (it never existed, was destroyed, "
                             "or expired after being idle); call create_session first, or omit "
                             "session_id for a one-off run",
                             sid);
    } else if (e != NULL && e->busy) {
        refused = tool_error("execute_code: session \"%s\" is already running code; wait for it "
                             "or stop it with cancel_execution",
                             sid);
    }
    if (refused != NULL) {
        s->metrics.exec_rejected++;
        pthread_mutex_unlock(&s->mu);
        return refused;
    }
    if (e != NULL) {
        e->busy = true;
        e->last_used = mcp_now();
    }
    s->running++;
    req->executing = true;
    snprintf(req->session_id, sizeof req->session_id, "%s", sid ? sid : "");
    pthread_mutex_unlock(&s->mu);

    viv_error err = {0};
    viv_policy *policy = NULL;
    viv_sandbox *sb = NULL;
    viv_result *res = NULL;
    viv_status st = viv_policy_copy(cfg->policy, &policy, &err);
    if (st == VIV_OK && has_timeout) {
        st = viv_policy_set_timeout_seconds(policy, timeout, &err);
    }
    if (st == VIV_OK && has_fuel) {
        st = viv_policy_set_fuel_budget(policy, (int64_t)fuel, &err);
    }
    if (st == VIV_OK) {
        st = viv_sandbox_create(policy, cfg->wasm, &sb, &err);
    }
    if (st == VIV_OK) {
        viv_sandbox_set_logger(sb, cfg->logger);
        viv_sandbox_set_warm_pool(sb, cfg->warm);
        viv_exec_options opts = {0};
        opts.cancel = req->cancel;
        if (sid != NULL) {
            opts.sessions = s->store;
            opts.session_id = sid;
        }
        st = viv_sandbox_execute(sb, code, len, &opts, &res, &err);
    }
    viv_sandbox_destroy(sb);
    viv_policy_free(policy);

    pthread_mutex_lock(&s->mu);
    s->running--;
    req->executing = false;
    if (sid != NULL && (e = mcp_session_find(s, sid)) != NULL) {
        e->busy = false;
        e->last_used = mcp_now();
    }
    if (res != NULL) {
        mcp_metrics_execution(&s->metrics, res);
    } else {
        s->metrics.exec_rejected++;
    }
    pthread_mutex_unlock(&s->mu);

    if (st != VIV_OK) {
        return lib_error("execute_code: nothing ran", &err);
    }
    char *text = NULL;
    json_t *out = NULL;
    if (viv_result_to_json(res, &text, &err) == VIV_OK) {
        out = json_loads(text, 0, NULL);
        free(text);
    }
    bool ok = viv_result_success(res);
    viv_result_free(res);
    if (out == NULL) {
        return tool_error("execute_code: cannot encode the result");
    }
    /* The host path means nothing to the caller and says too much about the host. */
    json_object_del(out, "workspace_path");
    return tool_ok(out, !ok);
}

/* ---- sessions ---------------------------------------------------------------------------- */

static json_t *session_json(const viv_session_info *info, const mcp_session *e, double now)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:b, s:f}", "session_id", info->id, "created_at",
                     info->created_at, "updated_at", info->updated_at, "size_bytes",
                     (json_int_t)info->size_bytes, "running", e ? e->busy : 0, "idle_seconds",
                     e ? now - e->last_used : 0.0);
}

static json_t *tool_create_session(mcp_server *s, args_ctx *a)
{
    static const char *const allowed[] = {"session_id", NULL};
    const char *sid;
    if (!args_only(a, allowed) || !arg_session(a, false, &sid)) {
        return tool_error("create_session: %s", a->err);
    }
    pthread_mutex_lock(&s->mu);
    bool exists = sid != NULL && mcp_session_find(s, sid) != NULL;
    bool full = !exists && s->nsessions >= s->cfg->max_sessions;
    size_t n = s->nsessions;
    pthread_mutex_unlock(&s->mu);
    if (full) {
        return tool_error("create_session: this server already has %zu sessions, its limit; "
                          "destroy one you no longer need (destroy_session)",
                          n);
    }
    viv_session_info info;
    viv_error err = {0};
    bool created = false;
    if (viv_session_open(s->store, sid, &info, &created, &err) != VIV_OK) {
        return lib_error("create_session", &err);
    }
    pthread_mutex_lock(&s->mu);
    bool added = mcp_session_add(s, info.id);
    pthread_mutex_unlock(&s->mu);
    if (!added) {
        /* Another caller took the last place between the check and now. */
        if (created) {
            viv_session_remove(s->store, info.id, NULL);
        }
        return tool_error("create_session: this server has reached its limit of %u sessions",
                          s->cfg->max_sessions);
    }
    return tool_ok(json_pack("{s:s, s:b, s:s, s:s, s:f}", "session_id", info.id, "created", created,
                             "created_at", info.created_at, "workspace", "/app",
                             "idle_timeout_seconds", s->cfg->session_idle_s),
                   false);
}

static json_t *tool_destroy_session(mcp_server *s, args_ctx *a)
{
    static const char *const allowed[] = {"session_id", NULL};
    const char *sid;
    if (!args_only(a, allowed) || !arg_session(a, true, &sid)) {
        return tool_error("destroy_session: %s", a->err);
    }
    pthread_mutex_lock(&s->mu);
    mcp_session *e = mcp_session_find(s, sid);
    bool busy = e != NULL && e->busy;
    if (e != NULL && !busy) {
        mcp_session_drop(s, sid);
    }
    pthread_mutex_unlock(&s->mu);
    if (e == NULL) {
        return tool_error("destroy_session: no session \"%s\"", sid);
    }
    if (busy) {
        return tool_error("destroy_session: session \"%s\" is running code; stop it with "
                          "cancel_execution first",
                          sid);
    }
    viv_error err = {0};
    viv_warm_pool_end_session(s->cfg->warm, sid);
    if (viv_session_remove(s->store, sid, &err) != VIV_OK) {
        return lib_error("destroy_session", &err);
    }
    return tool_ok(json_pack("{s:s, s:b}", "session_id", sid, "destroyed", 1), false);
}

static json_t *tool_list_sessions(mcp_server *s, args_ctx *a)
{
    static const char *const allowed[] = {NULL};
    if (!args_only(a, allowed)) {
        return tool_error("list_sessions: %s", a->err);
    }
    viv_session_info *list = NULL;
    size_t n = 0;
    viv_error err = {0};
    if (viv_session_list(s->store, &list, &n, &err) != VIV_OK) {
        return lib_error("list_sessions", &err);
    }
    json_t *arr = json_array();
    double now = mcp_now();
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; arr != NULL && i < n; i++) {
        mcp_session *e = mcp_session_find(s, list[i].id);
        if (e != NULL) {
            json_array_append_new(arr, session_json(&list[i], e, now));
        }
    }
    unsigned max = s->cfg->max_sessions;
    pthread_mutex_unlock(&s->mu);
    free(list);
    if (arr == NULL) {
        return tool_error("list_sessions: out of memory");
    }
    return tool_ok(json_pack("{s:o, s:I, s:i, s:f}", "sessions", arr, "count",
                             (json_int_t)json_array_size(arr), "max_sessions", (int)max,
                             "idle_timeout_seconds", s->cfg->session_idle_s),
                   false);
}

static json_t *tool_reset_session(mcp_server *s, args_ctx *a)
{
    static const char *const allowed[] = {"session_id", NULL};
    const char *sid;
    if (!args_only(a, allowed) || !arg_session(a, true, &sid)) {
        return tool_error("reset_session: %s", a->err);
    }
    pthread_mutex_lock(&s->mu);
    mcp_session *e = mcp_session_find(s, sid);
    bool busy = e != NULL && e->busy;
    if (e != NULL && !busy) {
        e->busy = true; /* no execution starts while the workspace is emptied */
    }
    pthread_mutex_unlock(&s->mu);
    if (e == NULL) {
        return tool_error("reset_session: no session \"%s\"; call create_session first", sid);
    }
    if (busy) {
        return tool_error("reset_session: session \"%s\" is running code; stop it with "
                          "cancel_execution first",
                          sid);
    }
    char ws[4096];
    viv_error err = {0};
    json_t *out = NULL;
    unsigned removed = 0;
    DIR *d = NULL;
    if (viv_session_workspace(s->store, sid, ws, sizeof ws, &err) != VIV_OK) {
        out = lib_error("reset_session", &err);
    } else if ((d = opendir(ws)) == NULL) {
        out = tool_error("reset_session: cannot open the workspace: %s", strerror(errno));
    } else {
        /* Each top-level entry goes through the library, which removes it
         * without following symlinks out of the workspace. */
        struct dirent *de;
        while (out == NULL && (de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
                continue;
            }
            if (viv_session_delete(s->store, sid, de->d_name, true, &err) != VIV_OK) {
                out = lib_error("reset_session", &err);
            } else {
                removed++;
            }
        }
        closedir(d);
    }
    /* And the interpreter: its live one, and what it saved. */
    if (out == NULL) {
        viv_warm_pool_end_session(s->cfg->warm, sid);
        if (viv_session_clear_state(s->store, sid, &err) != VIV_OK) {
            out = lib_error("reset_session", &err);
        }
    }
    pthread_mutex_lock(&s->mu);
    if ((e = mcp_session_find(s, sid)) != NULL) {
        e->busy = false;
        e->last_used = mcp_now();
    }
    pthread_mutex_unlock(&s->mu);
    if (out != NULL) {
        return out;
    }
    return tool_ok(json_pack("{s:s, s:i}", "session_id", sid, "entries_removed", (int)removed),
                   false);
}

/* ---- files -------------------------------------------------------------------------------- */

static json_t *tool_list_files(mcp_server *s, args_ctx *a)
{
    static const char *const allowed[] = {"session_id", "pattern", NULL};
    const char *sid, *pattern;
    if (!args_only(a, allowed) || !arg_session(a, true, &sid) ||
        !arg_string(a, "pattern", false, &pattern)) {
        return tool_error("list_files: %s", a->err);
    }
    json_t *missing = require_session(s, sid);
    if (missing != NULL) {
        return missing;
    }
    char **paths = NULL;
    size_t n = 0;
    char ws[4096];
    viv_error err = {0};
    if (viv_session_workspace(s->store, sid, ws, sizeof ws, &err) != VIV_OK ||
        viv_session_files(s->store, sid, pattern, &paths, &n, &err) != VIV_OK) {
        return lib_error("list_files", &err);
    }
    int wsfd = open(ws, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    json_t *arr = json_array();
    uint64_t total = 0;
    for (size_t i = 0; arr != NULL && i < n && i < LIST_FILES_MAX; i++) {
        struct stat st;
        json_int_t size = -1;
        if (wsfd >= 0 && fstatat(wsfd, paths[i], &st, AT_SYMLINK_NOFOLLOW) == 0) {
            size = (json_int_t)st.st_size;
            total += (uint64_t)st.st_size;
        }
        json_array_append_new(arr, json_pack("{s:s, s:I}", "path", paths[i], "size", size));
    }
    if (wsfd >= 0) {
        close(wsfd);
    }
    viv_strings_free(paths, n);
    if (arr == NULL) {
        return tool_error("list_files: out of memory");
    }
    return tool_ok(json_pack("{s:s, s:o, s:I, s:I, s:b}", "session_id", sid, "files", arr, "count",
                             (json_int_t)n, "total_bytes", (json_int_t)total, "truncated",
                             n > LIST_FILES_MAX),
                   false);
}

static json_t *tool_read_file(mcp_server *s, args_ctx *a)
{
    static const char *const allowed[] = {"session_id", "path", "max_bytes", NULL};
    const char *sid, *path;
    bool has_max;
    double max = 0;
    if (!args_only(a, allowed) || !arg_session(a, true, &sid) ||
        !arg_string(a, "path", true, &path) || !arg_number(a, "max_bytes", true, &has_max, &max)) {
        return tool_error("read_file: %s", a->err);
    }
    size_t limit = s->cfg->max_read_bytes;
    if (has_max && max < (double)limit) {
        limit = (size_t)max;
    }
    json_t *missing = require_session(s, sid);
    if (missing != NULL) {
        return missing;
    }
    /* The library refuses a file over the limit; say how big it is. */
    char ws[4096];
    viv_error err = {0};
    if (viv_session_workspace(s->store, sid, ws, sizeof ws, &err) == VIV_OK) {
        int wsfd = open(ws, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        bool big = wsfd >= 0 && fstatat(wsfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                   S_ISREG(st.st_mode) && (uint64_t)st.st_size > limit;
        if (wsfd >= 0) {
            close(wsfd);
        }
        if (big) {
            return tool_error("read_file: %s is %lld bytes, more than the %zu bytes allowed (the "
                              "server reads at most %zu); read part of it from Python instead",
                              path, (long long)st.st_size, limit, s->cfg->max_read_bytes);
        }
    }
    char *data = NULL;
    size_t len = 0;
    if (viv_session_read(s->store, sid, path, limit, &data, &len, &err) != VIV_OK) {
        return lib_error("read_file", &err);
    }
    json_t *out;
    if (is_text((const unsigned char *)data, len)) {
        out = json_pack("{s:s, s:s, s:s%, s:s, s:I}", "session_id", sid, "path", path, "content",
                        data, len, "encoding", "utf-8", "size", (json_int_t)len);
    } else {
        char *enc = base64_encode((const unsigned char *)data, len);
        out = enc ? json_pack("{s:s, s:s, s:s, s:s, s:I}", "session_id", sid, "path", path,
                              "content", enc, "encoding", "base64", "size", (json_int_t)len)
                  : NULL;
        free(enc);
    }
    free(data);
    return tool_ok(out, false);
}

static json_t *tool_write_file(mcp_server *s, args_ctx *a)
{
    static const char *const allowed[] = {"session_id", "path",      "content",
                                          "encoding",   "overwrite", NULL};
    const char *sid, *path, *content, *encoding;
    bool overwrite;
    if (!args_only(a, allowed) || !arg_session(a, true, &sid) ||
        !arg_string(a, "path", true, &path) || !arg_string(a, "content", true, &content) ||
        !arg_string(a, "encoding", false, &encoding) ||
        !arg_bool(a, "overwrite", true, &overwrite)) {
        return tool_error("write_file: %s", a->err);
    }
    bool is_b64 = false;
    if (encoding != NULL && strcmp(encoding, "base64") == 0) {
        is_b64 = true;
    } else if (encoding != NULL && strcmp(encoding, "utf-8") != 0) {
        return tool_error("write_file: encoding must be \"utf-8\" or \"base64\"");
    }
    json_t *missing = require_session(s, sid);
    if (missing != NULL) {
        return missing;
    }
    size_t clen = json_string_length(json_object_get(a->args, "content"));
    unsigned char *decoded = NULL;
    size_t len = clen;
    const void *data = content;
    if (is_b64) {
        decoded = base64_decode(content, clen, &len);
        if (decoded == NULL) {
            return tool_error("write_file: content is not valid base64");
        }
        data = decoded;
    }
    viv_error err = {0};
    viv_status st = viv_session_write(s->store, sid, path, data, len, overwrite, &err);
    free(decoded);
    if (st != VIV_OK) {
        return lib_error("write_file", &err);
    }
    char guest[4200];
    snprintf(guest, sizeof guest, "/app/%s", path);
    return tool_ok(json_pack("{s:s, s:s, s:I, s:s}", "session_id", sid, "path", path, "size",
                             (json_int_t)len, "guest_path", guest),
                   false);
}

static json_t *tool_delete_file(mcp_server *s, args_ctx *a)
{
    static const char *const allowed[] = {"session_id", "path", "recursive", NULL};
    const char *sid, *path;
    bool recursive;
    if (!args_only(a, allowed) || !arg_session(a, true, &sid) ||
        !arg_string(a, "path", true, &path) || !arg_bool(a, "recursive", false, &recursive)) {
        return tool_error("delete_file: %s", a->err);
    }
    json_t *missing = require_session(s, sid);
    if (missing != NULL) {
        return missing;
    }
    viv_error err = {0};
    if (viv_session_delete(s->store, sid, path, recursive, &err) != VIV_OK) {
        return lib_error("delete_file", &err);
    }
    return tool_ok(json_pack("{s:s, s:s, s:b}", "session_id", sid, "path", path, "deleted", 1),
                   false);
}

/* ---- control and introspection ----------------------------------------------------------- */

static json_t *tool_cancel_execution(mcp_server *s, mcp_request *req, args_ctx *a)
{
    static const char *const allowed[] = {"session_id", NULL};
    const char *sid;
    if (!args_only(a, allowed) || !arg_session(a, false, &sid)) {
        return tool_error("cancel_execution: %s", a->err);
    }
    unsigned n = mcp_cancel_executions(s, req->client, sid);
    return tool_ok(json_pack("{s:s?, s:i}", "session_id", sid, "cancelled", (int)n), false);
}

static json_t *tool_get_metrics(mcp_server *s, args_ctx *a)
{
    static const char *const allowed[] = {NULL};
    if (!args_only(a, allowed)) {
        return tool_error("get_metrics: %s", a->err);
    }
    pthread_mutex_lock(&s->mu);
    json_t *m = mcp_metrics_json(&s->metrics);
    if (m != NULL) {
        json_object_set_new(m, "active_sessions", json_integer((json_int_t)s->nsessions));
        json_object_set_new(m, "running_executions", json_integer(s->running));
        json_object_set_new(m, "max_sessions", json_integer(s->cfg->max_sessions));
        json_object_set_new(m, "max_concurrent_executions", json_integer(s->cfg->max_executions));
        json_object_set_new(m, "uptime_seconds", json_real(mcp_now() - s->started));
    }
    pthread_mutex_unlock(&s->mu);
    return tool_ok(m, false);
}

/* The interpreter's version, asked of the guest once. */
static void runtime_version(mcp_server *s, char *buf, size_t len)
{
    pthread_mutex_lock(&s->mu);
    snprintf(buf, len, "%s", s->runtime_version);
    pthread_mutex_unlock(&s->mu);
    if (buf[0] != '\0') {
        return;
    }
    viv_sandbox *sb = NULL;
    viv_result *res = NULL;
    static const char probe[] = "import sys; print(sys.version.split()[0], end='')";
    if (viv_sandbox_create(s->cfg->policy, s->cfg->wasm, &sb, NULL) == VIV_OK &&
        viv_sandbox_execute(sb, probe, sizeof probe - 1, NULL, &res, NULL) == VIV_OK &&
        viv_result_success(res)) {
        snprintf(buf, len, "%s", viv_result_stdout(res, NULL));
        pthread_mutex_lock(&s->mu);
        snprintf(s->runtime_version, sizeof s->runtime_version, "%s", buf);
        pthread_mutex_unlock(&s->mu);
    } else {
        snprintf(buf, len, "unknown");
    }
    viv_result_free(res);
    viv_sandbox_destroy(sb);
}

static json_t *tool_list_runtimes(mcp_server *s, args_ctx *a)
{
    static const char *const allowed[] = {NULL};
    if (!args_only(a, allowed)) {
        return tool_error("list_runtimes: %s", a->err);
    }
    char version[64];
    runtime_version(s, version, sizeof version);
    const viv_policy *p = s->cfg->policy;
    json_t *rt = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:{s:I, s:I, s:f, s:I, s:I, s:I}, s:s}", "name",
        "python", "language", "python", "implementation", "CPython", "version", version, "platform",
        "wasm32-wasi (WASI preview 1)", "default", 1, "workspace", "/app", "limits", "fuel_budget",
        (json_int_t)viv_policy_fuel_budget(p), "memory_bytes",
        (json_int_t)viv_policy_memory_bytes(p), "timeout_seconds", viv_policy_timeout_seconds(p),
        "stdout_max_bytes", (json_int_t)viv_policy_stdout_max_bytes(p), "stderr_max_bytes",
        (json_int_t)viv_policy_stderr_max_bytes(p), "max_code_bytes",
        (json_int_t)s->cfg->max_code_bytes, "notes",
        "Standard library only; no network, no subprocesses, no threads, no pip.");
    return tool_ok(rt ? json_pack("{s:[o]}", "runtimes", rt) : NULL, false);
}

/* ---- the catalogue --------------------------------------------------------------------------- */

typedef struct tool_def {
    const char *name;
    const char *title;
    const char *input;  /* JSON Schema text */
    const char *output; /* JSON Schema text */
    bool read_only;
    bool destructive;
} tool_def;

#define SID_PROP                                                                                   \
    "\"session_id\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9_-]{1,64}$\","                   \
    "\"description\":\"A session id from create_session.\"}"

static const tool_def tools[] = {
    {"execute_code", "Run Python code",
     "{\"type\":\"object\",\"properties\":{"
     "\"code\":{\"type\":\"string\",\"description\":\"Python 3 source, run as a script "
     "(print what you want to see).\"},"
     "\"session_id\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9_-]{1,64}$\","
     "\"description\":\"Run in this session's workspace (/app). Omit for a one-off run in an "
     "empty workspace that is deleted afterwards.\"},"
     "\"timeout_seconds\":{\"type\":\"number\",\"exclusiveMinimum\":0,\"description\":\"Lower "
     "the wall-clock limit for this run (never above the server's).\"},"
     "\"fuel_budget\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"Lower the "
     "instruction budget for this run (never above the server's).\"}},"
     "\"required\":[\"code\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{"
     "\"success\":{\"type\":\"boolean\"},\"exit_code\":{\"type\":[\"integer\",\"null\"]},"
     "\"stdout\":{\"type\":\"string\"},\"stderr\":{\"type\":\"string\"},"
     "\"stdout_truncated\":{\"type\":\"boolean\"},\"stderr_truncated\":{\"type\":\"boolean\"},"
     "\"trapped\":{\"type\":\"boolean\"},\"trap_reason\":{\"type\":[\"string\",\"null\"]},"
     "\"trap_message\":{\"type\":[\"string\",\"null\"]},"
     "\"fuel_consumed\":{\"type\":\"integer\"},\"fuel_budget\":{\"type\":\"integer\"},"
     "\"memory_used_bytes\":{\"type\":\"integer\"},\"memory_limit_bytes\":{\"type\":\"integer\"},"
     "\"duration_ms\":{\"type\":\"number\"},\"session_id\":{\"type\":[\"string\",\"null\"]},"
     "\"files_created\":{\"type\":\"array\"},\"files_modified\":{\"type\":\"array\"},"
     "\"files_deleted\":{\"type\":\"array\"}},"
     "\"required\":[\"success\",\"exit_code\",\"stdout\",\"stderr\",\"trap_reason\","
     "\"fuel_consumed\",\"duration_ms\"]}",
     false, false},
    {"create_session", "Create a session",
     "{\"type\":\"object\",\"properties\":{\"session_id\":{\"type\":\"string\",\"pattern\":\"^[A-"
     "Za-z0-9_-]{1,64}$\",\"description\":\"Choose the id; omit for a new random one. An id "
     "that exists already is returned as it is (created: false).\"}},"
     "\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"session_id\":{\"type\":\"string\"},\"created\":{"
     "\"type\":\"boolean\"},\"created_at\":{\"type\":\"string\"},\"workspace\":{\"type\":"
     "\"string\"},\"idle_timeout_seconds\":{\"type\":\"number\"}},\"required\":[\"session_id\","
     "\"created\"]}",
     false, false},
    {"destroy_session", "Destroy a session",
     "{\"type\":\"object\",\"properties\":{" SID_PROP "},\"required\":[\"session_id\"],"
     "\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"session_id\":{\"type\":\"string\"},\"destroyed\":{"
     "\"type\":\"boolean\"}},\"required\":[\"session_id\",\"destroyed\"]}",
     false, true},
    {"list_sessions", "List sessions", "{\"type\":\"object\",\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"sessions\":{\"type\":\"array\",\"items\":{\"type\":"
     "\"object\",\"properties\":{\"session_id\":{\"type\":\"string\"},\"created_at\":{\"type\":"
     "\"string\"},\"updated_at\":{\"type\":\"string\"},\"size_bytes\":{\"type\":\"integer\"},"
     "\"running\":{\"type\":\"boolean\"},\"idle_seconds\":{\"type\":\"number\"}}}},\"count\":{"
     "\"type\":\"integer\"}},\"required\":[\"sessions\",\"count\"]}",
     true, false},
    {"reset_session", "Empty a session's workspace and forget its Python state",
     "{\"type\":\"object\",\"properties\":{" SID_PROP "},\"required\":[\"session_id\"],"
     "\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"session_id\":{\"type\":\"string\"},"
     "\"entries_removed\":{\"type\":\"integer\"}},\"required\":[\"session_id\"]}",
     false, true},
    {"list_files", "List files in a session",
     "{\"type\":\"object\",\"properties\":{" SID_PROP ",\"pattern\":{\"type\":\"string\","
     "\"description\":\"Glob on the relative path, e.g. \\\"*.csv\\\" or \\\"out/*\\\" ('*' does "
     "not cross '/').\"}},\"required\":[\"session_id\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"files\":{\"type\":\"array\",\"items\":{\"type\":"
     "\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"size\":{\"type\":\"integer\"}}}}"
     ",\"count\":{\"type\":\"integer\"},\"truncated\":{\"type\":\"boolean\"}},\"required\":["
     "\"files\",\"count\"]}",
     true, false},
    {"read_file", "Read a file from a session",
     "{\"type\":\"object\",\"properties\":{" SID_PROP ",\"path\":{\"type\":\"string\","
     "\"description\":\"Relative to /app, e.g. \\\"out/result.txt\\\".\"},\"max_bytes\":{"
     "\"type\":\"integer\",\"minimum\":1,\"description\":\"Refuse files larger than this.\"}},"
     "\"required\":[\"session_id\",\"path\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"content\":{\"type\":"
     "\"string\"},\"encoding\":{\"type\":\"string\",\"enum\":[\"utf-8\",\"base64\"]},\"size\":{"
     "\"type\":\"integer\"}},\"required\":[\"path\",\"content\",\"encoding\",\"size\"]}",
     true, false},
    {"write_file", "Write a file into a session",
     "{\"type\":\"object\",\"properties\":{" SID_PROP ",\"path\":{\"type\":\"string\","
     "\"description\":\"Relative to /app; parent directories are created.\"},\"content\":{"
     "\"type\":\"string\"},\"encoding\":{\"type\":\"string\",\"enum\":[\"utf-8\",\"base64\"],"
     "\"description\":\"How content is encoded; default utf-8. Use base64 for binary "
     "data.\"},\"overwrite\":{\"type\":\"boolean\",\"description\":\"Default true; false "
     "refuses to replace an existing file.\"}},\"required\":[\"session_id\",\"path\","
     "\"content\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"size\":{\"type\":"
     "\"integer\"},\"guest_path\":{\"type\":\"string\"}},\"required\":[\"path\",\"size\"]}",
     false, false},
    {"delete_file", "Delete a file from a session",
     "{\"type\":\"object\",\"properties\":{" SID_PROP ",\"path\":{\"type\":\"string\","
     "\"description\":\"Relative to /app.\"},\"recursive\":{\"type\":\"boolean\","
     "\"description\":\"Needed to delete a directory and everything in it.\"}},"
     "\"required\":[\"session_id\",\"path\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"deleted\":{\"type\":"
     "\"boolean\"}},\"required\":[\"path\",\"deleted\"]}",
     false, true},
    {"cancel_execution", "Stop running code",
     "{\"type\":\"object\",\"properties\":{\"session_id\":{\"type\":\"string\",\"pattern\":\"^["
     "A-Za-z0-9_-]{1,64}$\",\"description\":\"Stop the run in this session. Omit to stop every "
     "run this connection started.\"}},\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"cancelled\":{\"type\":\"integer\"}},\"required\":["
     "\"cancelled\"]}",
     false, false},
    {"get_metrics", "Server metrics", "{\"type\":\"object\",\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"executions\":{\"type\":\"object\"},"
     "\"active_sessions\":{\"type\":\"integer\"},\"fuel_consumed_total\":{\"type\":\"integer\"},"
     "\"duration_ms\":{\"type\":\"object\"}},\"required\":[\"executions\",\"active_sessions\","
     "\"duration_ms\"]}",
     true, false},
    {"list_runtimes", "List runtimes", "{\"type\":\"object\",\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"runtimes\":{\"type\":\"array\",\"items\":{\"type\":"
     "\"object\"}}},\"required\":[\"runtimes\"]}",
     true, false},
};

#define NTOOLS (sizeof tools / sizeof tools[0])

/* Descriptions carry the server's real limits, so they are built per list. */
static void describe(const mcp_server *s, const char *name, char *buf, size_t len)
{
    const viv_policy *p = s->cfg->policy;
    double t = viv_policy_timeout_seconds(p);
    char tbuf[64];
    if (t > 0) {
        snprintf(tbuf, sizeof tbuf, "%g s", t);
    } else {
        snprintf(tbuf, sizeof tbuf, "none");
    }
    if (strcmp(name, "execute_code") == 0) {
        snprintf(
            buf, len,
            "Run Python 3 code in an isolated WebAssembly sandbox and return what it printed. "
            "The code runs as a script: print() what you need to see; the value of the last "
            "expression is not shown. Limits for each run: %lld instructions of fuel, %lld "
            "bytes of memory, wall-clock timeout %s, stdout %lld bytes and stderr %lld bytes "
            "(more is cut; *_truncated says so), code at most %zu bytes. At most %u runs at "
            "once on this server. The sandbox has the standard library and a fixed set of "
            "pure-Python packages (openpyxl, jinja2, yaml, sympy, networkx, bs4, tabulate, "
            "dateutil, pypdf, markdown and more; metadata.batteries lists them): no network, "
            "no pip, no subprocesses, no threads. Files: /app is the workspace (read-write). With "
            "session_id the run uses that session's workspace, so files written to /app stay "
            "for later runs and for read_file; %s Without session_id, /app starts empty and "
            "is deleted afterwards. "
            "Reading the result: success is true only for a clean exit 0. An uncaught "
            "exception gives exit_code 1, trap_reason \"proc_exit\" and the traceback in "
            "stderr. trap_reason \"out_of_fuel\" means the instruction budget ran out (an "
            "endless loop, or too much work: do less or lower fuel on purpose), "
            "\"memory_limit\" the memory cap, \"timeout\" the wall clock, \"cancelled\" a "
            "cancel_execution call, \"trap\" a crash of the interpreter, \"host_error\" a "
            "failure on the host. files_created / files_modified / files_deleted list what "
            "the run changed in /app, with sizes.",
            (long long)viv_policy_fuel_budget(p), (long long)viv_policy_memory_bytes(p), tbuf,
            (long long)viv_policy_stdout_max_bytes(p), (long long)viv_policy_stderr_max_bytes(p),
            s->cfg->max_code_bytes, s->cfg->max_executions,
            viv_policy_persist_state(p) == VIV_STATE_OFF
                ? "Python variables and imports do NOT persist between runs."
                : "Python state persists too: variables, functions, classes and imports of one "
                  "run are there in the session's next run (metadata.state lists anything that "
                  "could not be kept, with the reason).");
    } else if (strcmp(name, "create_session") == 0) {
        snprintf(buf, len,
                 "Create a session: a private workspace directory, mounted at /app in "
                 "execute_code runs that name it, whose files persist between runs until the "
                 "session is destroyed or sits idle for %g s (then it and its files are "
                 "deleted). Returns session_id; pass it to execute_code and the file tools. At "
                 "most %u sessions exist at once.",
                 s->cfg->session_idle_s, s->cfg->max_sessions);
    } else if (strcmp(name, "destroy_session") == 0) {
        snprintf(buf, len,
                 "Delete a session and every file in its workspace. Irreversible. Refused "
                 "while code is running in it (cancel_execution first).");
    } else if (strcmp(name, "list_sessions") == 0) {
        snprintf(buf, len,
                 "List the sessions on this server with their creation and update times, "
                 "workspace size in bytes, whether code is running in them and how long they "
                 "have been idle (idle sessions expire after %g s).",
                 s->cfg->session_idle_s);
    } else if (strcmp(name, "reset_session") == 0) {
        snprintf(buf, len,
                 "Delete every file and directory in a session's workspace (/app) and forget its "
                 "Python state (variables, functions, imports), but keep the session and its "
                 "id. Refused while code is running in it.");
    } else if (strcmp(name, "list_files") == 0) {
        snprintf(buf, len,
                 "List the regular files in a session's workspace, as paths relative to /app "
                 "with their sizes in bytes, sorted. Optionally filter with a glob pattern on "
                 "the relative path.");
    } else if (strcmp(name, "read_file") == 0) {
        snprintf(buf, len,
                 "Read one file from a session's workspace (path relative to /app). Text that "
                 "is valid UTF-8 comes back as it is (encoding \"utf-8\"); anything else is "
                 "base64 (encoding \"base64\"). Files above max_bytes (at most %zu) are "
                 "refused with their size.",
                 s->cfg->max_read_bytes);
    } else if (strcmp(name, "write_file") == 0) {
        snprintf(buf, len,
                 "Write a file into a session's workspace (path relative to /app; parent "
                 "directories are created; the write is atomic). Code run with execute_code in "
                 "the same session sees it at /app/<path>. content is UTF-8 text, or base64 "
                 "with encoding \"base64\" for binary data.");
    } else if (strcmp(name, "delete_file") == 0) {
        snprintf(buf, len,
                 "Delete a file from a session's workspace (path relative to /app). A "
                 "directory needs recursive: true and is deleted with everything in it.");
    } else if (strcmp(name, "cancel_execution") == 0) {
        snprintf(buf, len,
                 "Stop code that is running now: the run in the given session, or, without "
                 "session_id, every run this connection started. The stopped execute_code call "
                 "returns at once with trap_reason \"cancelled\" and the output produced so far. "
                 "Returns how many runs were stopped (0 if nothing was running).");
    } else if (strcmp(name, "get_metrics") == 0) {
        snprintf(buf, len,
                 "Server statistics: tool calls and errors, executions by outcome and trap "
                 "reason with error rates, p50/p95/p99 durations in ms, total fuel consumed, "
                 "active sessions and running executions.");
    } else {
        snprintf(buf, len,
                 "List the language runtimes this server runs (CPython on WASI, with its exact "
                 "version) with the "
                 "limits every run gets.");
    }
}

json_t *mcp_tools_list(mcp_server *s)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < NTOOLS; i++) {
        char desc[3072];
        describe(s, tools[i].name, desc, sizeof desc);
        json_t *in = json_loads(tools[i].input, 0, NULL);
        json_t *out = json_loads(tools[i].output, 0, NULL);
        json_t *t = in && out ? json_pack("{s:s, s:s, s:s, s:o, s:o, s:{s:b, s:b, s:b, s:b}}",
                                          "name", tools[i].name, "title", tools[i].title,
                                          "description", desc, "inputSchema", in, "outputSchema",
                                          out, "annotations", "readOnlyHint", tools[i].read_only,
                                          "destructiveHint", tools[i].destructive, "idempotentHint",
                                          tools[i].read_only, "openWorldHint", 0)
                              : NULL;
        if (t == NULL) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, t);
    }
    return arr;
}

json_t *mcp_tools_call(mcp_server *s, mcp_request *req, const char *name, json_t *args,
                       int *rpc_code, char *rpc_msg, size_t rpc_msg_len)
{
    args_ctx a = {.args = args};
    json_t *empty = NULL;
    if (a.args == NULL) {
        a.args = empty = json_object();
    }
    json_t *r = NULL;
    if (strcmp(name, "execute_code") == 0) {
        r = tool_execute_code(s, req, &a);
    } else if (strcmp(name, "create_session") == 0) {
        r = tool_create_session(s, &a);
    } else if (strcmp(name, "destroy_session") == 0) {
        r = tool_destroy_session(s, &a);
    } else if (strcmp(name, "list_sessions") == 0) {
        r = tool_list_sessions(s, &a);
    } else if (strcmp(name, "reset_session") == 0) {
        r = tool_reset_session(s, &a);
    } else if (strcmp(name, "list_files") == 0) {
        r = tool_list_files(s, &a);
    } else if (strcmp(name, "read_file") == 0) {
        r = tool_read_file(s, &a);
    } else if (strcmp(name, "write_file") == 0) {
        r = tool_write_file(s, &a);
    } else if (strcmp(name, "delete_file") == 0) {
        r = tool_delete_file(s, &a);
    } else if (strcmp(name, "cancel_execution") == 0) {
        r = tool_cancel_execution(s, req, &a);
    } else if (strcmp(name, "get_metrics") == 0) {
        r = tool_get_metrics(s, &a);
    } else if (strcmp(name, "list_runtimes") == 0) {
        r = tool_list_runtimes(s, &a);
    } else {
        json_decref(empty);
        *rpc_code = MCP_INVALID_PARAMS;
        snprintf(rpc_msg, rpc_msg_len, "unknown tool: %.200s", name);
        return NULL;
    }
    json_decref(empty);
    if (r == NULL) {
        r = tool_error("%s: out of memory", name);
    }
    pthread_mutex_lock(&s->mu);
    mcp_metrics_tool(&s->metrics, name, json_is_true(json_object_get(r, "isError")));
    pthread_mutex_unlock(&s->mu);
    return r;
}
