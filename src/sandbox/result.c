/*
 * src/sandbox/result.c: SandboxResult accessors and its JSON form.
 *
 * The JSON form is stable and documented in docs/result.md: the CLI's
 * --json and the MCP server both emit it.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_internal.h"

static json_t *bytes_to_json_string(const char *s, size_t n);

const char *viv_trap_reason_name(viv_trap_reason reason)
{
    switch (reason) {
    case VIV_TRAP_NONE:
        return NULL;
    case VIV_TRAP_OUT_OF_FUEL:
        return "out_of_fuel";
    case VIV_TRAP_MEMORY_LIMIT:
        return "memory_limit";
    case VIV_TRAP_TIMEOUT:
        return "timeout";
    case VIV_TRAP_PROC_EXIT:
        return "proc_exit";
    case VIV_TRAP_TRAP:
        return "trap";
    case VIV_TRAP_HOST_ERROR:
        return "host_error";
    case VIV_TRAP_CANCELLED:
        return "cancelled";
    }
    return NULL;
}

void viv_result_free(viv_result *r)
{
    if (r == NULL) {
        return;
    }
    free(r->out.data);
    free(r->err.data);
    free(r->session_id);
    free(r->workspace_path);
    json_decref(r->meta_extra);
    viv_changes_free(&r->changes);
    free(r);
}

bool viv_result_success(const viv_result *r) { return r->success; }
int viv_result_exit_code(const viv_result *r) { return r->exit_code; }
bool viv_result_trapped(const viv_result *r) { return r->trapped; }
bool viv_result_warm(const viv_result *r) { return r != NULL && r->warm; }
viv_trap_reason viv_result_trap_reason(const viv_result *r) { return r->reason; }
const char *viv_result_trap_message(const viv_result *r) { return r->trap_message; }
bool viv_result_stdout_truncated(const viv_result *r) { return r->out.truncated; }
bool viv_result_stderr_truncated(const viv_result *r) { return r->err.truncated; }
int64_t viv_result_fuel_consumed(const viv_result *r) { return r->fuel_consumed; }
int64_t viv_result_fuel_budget(const viv_result *r) { return r->fuel_budget; }
uint64_t viv_result_memory_used_bytes(const viv_result *r) { return r->memory_used; }
uint64_t viv_result_memory_limit_bytes(const viv_result *r) { return r->memory_limit; }
uint32_t viv_result_memory_pages(const viv_result *r) { return r->memory_pages; }
double viv_result_duration_ms(const viv_result *r) { return r->duration_ms; }
const char *viv_result_execution_id(const viv_result *r) { return r->execution_id; }
const char *viv_result_session_id(const viv_result *r) { return r->session_id; }
const char *viv_result_workspace_path(const viv_result *r) { return r->workspace_path; }
bool viv_result_files_truncated(const viv_result *r) { return r->changes.truncated; }

static const viv_file_change *change_list(const viv_result *r, viv_change_kind kind, size_t *n)
{
    switch (kind) {
    case VIV_FILES_CREATED:
        *n = r->changes.ncreated;
        return r->changes.created;
    case VIV_FILES_MODIFIED:
        *n = r->changes.nmodified;
        return r->changes.modified;
    case VIV_FILES_DELETED:
        *n = r->changes.ndeleted;
        return r->changes.deleted;
    }
    *n = 0;
    return NULL;
}

size_t viv_result_files_count(const viv_result *r, viv_change_kind kind)
{
    size_t n;
    change_list(r, kind, &n);
    return n;
}

const char *viv_result_file(const viv_result *r, viv_change_kind kind, size_t i)
{
    size_t n;
    const viv_file_change *list = change_list(r, kind, &n);
    return i < n ? list[i].path : NULL;
}

static json_t *changes_json(const viv_result *r, viv_change_kind kind, bool details)
{
    size_t n;
    const viv_file_change *list = change_list(r, kind, &n);
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++) {
        json_t *path = bytes_to_json_string(list[i].path, strlen(list[i].path));
        if (details) {
            char hash[17];
            snprintf(hash, sizeof hash, "%016llx", (unsigned long long)list[i].hash);
            json_array_append_new(a, json_pack("{s:o, s:I, s:s}", "path", path, "size",
                                               (json_int_t)list[i].size, "xxh3", hash));
        } else {
            json_array_append_new(a, path);
        }
    }
    return a;
}

const char *viv_result_stdout(const viv_result *r, size_t *len)
{
    if (len != NULL) {
        *len = r->out.len;
    }
    return r->out.data ? r->out.data : "";
}

const char *viv_result_stderr(const viv_result *r, size_t *len)
{
    if (len != NULL) {
        *len = r->err.len;
    }
    return r->err.data ? r->err.data : "";
}

/* Guest output is arbitrary bytes; JSON strings must be UTF-8. Invalid
 * sequences become U+FFFD so the document always parses. */
static json_t *bytes_to_json_string(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j != NULL) {
        return j;
    }
    char *clean = malloc(n * 3 + 1);
    if (clean == NULL) {
        return NULL;
    }
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) {
            ok = ((unsigned char)s[i + k] >> 6) == 2;
        }
        if (ok && c != 0) {
            json_t *probe = json_stringn(s + i, len);
            ok = probe != NULL;
            json_decref(probe);
        }
        if (ok) {
            memcpy(clean + w, s + i, len);
            w += len;
            i += len;
        } else {
            memcpy(clean + w, "\xEF\xBF\xBD", 3);
            w += 3;
            i += 1;
        }
    }
    j = json_stringn(clean, w);
    free(clean);
    return j;
}

viv_status viv_result_to_json(const viv_result *r, char **json, viv_error *err)
{
    if (r == NULL || json == NULL) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "result and json must not be NULL");
    }
    *json = NULL;
    const char *reason = viv_trap_reason_name(r->reason);
    json_t *o = json_object();
    if (o == NULL) {
        return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    int rc = 0;
    rc |= json_object_set_new(o, "success", json_boolean(r->success));
    rc |= json_object_set_new(o, "exit_code",
                              r->exit_code >= 0 ? json_integer(r->exit_code) : json_null());
    rc |= json_object_set_new(o, "stdout",
                              bytes_to_json_string(viv_result_stdout(r, NULL), r->out.len));
    rc |= json_object_set_new(o, "stderr",
                              bytes_to_json_string(viv_result_stderr(r, NULL), r->err.len));
    rc |= json_object_set_new(o, "stdout_truncated", json_boolean(r->out.truncated));
    rc |= json_object_set_new(o, "stderr_truncated", json_boolean(r->err.truncated));
    rc |= json_object_set_new(o, "trapped", json_boolean(r->trapped));
    rc |= json_object_set_new(o, "trap_reason", reason ? json_string(reason) : json_null());
    rc |= json_object_set_new(o, "trap_message",
                              r->trap_message[0] ? json_string(r->trap_message) : json_null());
    rc |= json_object_set_new(o, "fuel_consumed", json_integer(r->fuel_consumed));
    rc |= json_object_set_new(o, "fuel_budget", json_integer(r->fuel_budget));
    rc |= json_object_set_new(o, "memory_used_bytes", json_integer((json_int_t)r->memory_used));
    rc |= json_object_set_new(o, "memory_limit_bytes", json_integer((json_int_t)r->memory_limit));
    rc |= json_object_set_new(o, "memory_pages", json_integer(r->memory_pages));
    rc |= json_object_set_new(o, "duration_ms", json_real(r->duration_ms));
    rc |= json_object_set_new(o, "session_id",
                              r->session_id ? json_string(r->session_id) : json_null());
    rc |= json_object_set_new(
        o, "workspace_path",
        r->workspace_path ? bytes_to_json_string(r->workspace_path, strlen(r->workspace_path))
                          : json_null());
    rc |= json_object_set_new(o, "files_created", changes_json(r, VIV_FILES_CREATED, false));
    rc |= json_object_set_new(o, "files_modified", changes_json(r, VIV_FILES_MODIFIED, false));
    rc |= json_object_set_new(o, "files_deleted", changes_json(r, VIV_FILES_DELETED, false));
    rc |= json_object_set_new(o, "files_truncated", json_boolean(r->changes.truncated));
    const viv_jail_report *j = &r->jail;
    json_t *isolation =
        json_pack("{s:b, s:b, s:b, s:i, s:b, s:b, s:b}", "no_new_privs", j->no_new_privs, "rlimits",
                  j->rlimits, "landlock", j->landlock_applied, "landlock_abi", j->landlock_abi,
                  "landlock_network", j->landlock_net, "landlock_scoped", j->landlock_scoped,
                  "seccomp", j->seccomp_applied);
    rc |=
        json_object_set_new(o, "metadata",
                            json_pack("{s:s, s:b, s:o, s:{s:o, s:o, s:o}}", "execution_id",
                                      r->execution_id, "warm", r->warm, "isolation", isolation,
                                      "files", "created", changes_json(r, VIV_FILES_CREATED, true),
                                      "modified", changes_json(r, VIV_FILES_MODIFIED, true),
                                      "deleted", changes_json(r, VIV_FILES_DELETED, true)));
    if (r->meta_extra != NULL) {
        rc |= json_object_update(json_object_get(o, "metadata"), r->meta_extra);
    }
    char *text = rc == 0 ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    if (text == NULL) {
        return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "cannot encode the result as JSON");
    }
    *json = text;
    return VIV_OK;
}
