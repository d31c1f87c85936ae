/*
 * src/sandbox/events.c: the structured events of an execution.
 *
 * Owns: building the fields of sandbox.execution.start/complete and
 * sandbox.security.* from the policy and the result (the catalogue is in
 * src/log/log.h). Guest output never goes into an event.
 */
#include <string.h>

#include "sandbox_internal.h"

void viv_sandbox_set_logger(viv_sandbox *sb, viv_logger *logger)
{
    if (sb != NULL) {
        sb->logger = logger;
    }
}

static json_t *session_field(const char *session_id)
{
    return session_id ? json_string(session_id) : json_null();
}

static json_t *policy_snapshot(const viv_policy *p)
{
    json_t *mounts = json_array(), *env_keys = json_array();
    json_array_append_new(mounts, json_pack("{s:s?, s:s, s:b}", "host", p->workspace, "guest",
                                            p->guest_mount_path, "readonly", 0));
    if (p->data_dir != NULL) {
        json_array_append_new(mounts, json_pack("{s:s, s:s, s:b}", "host", p->data_dir, "guest",
                                                p->guest_data_path, "readonly", 1));
    }
    for (size_t i = 0; i < p->nmounts; i++) {
        json_array_append_new(mounts, json_pack("{s:s, s:s, s:b}", "host", p->mounts[i].host,
                                                "guest", p->mounts[i].guest, "readonly", 1));
    }
    for (size_t i = 0; i < p->nenv; i++) {
        json_array_append_new(env_keys, json_string(p->env[i].key));
    }
    return json_pack("{s:I, s:I, s:I, s:I, s:f, s:o, s:o}", "fuel_budget",
                     (json_int_t)p->fuel_budget, "memory_bytes", (json_int_t)p->memory_bytes,
                     "stdout_max_bytes", (json_int_t)p->stdout_max_bytes, "stderr_max_bytes",
                     (json_int_t)p->stderr_max_bytes, "timeout_seconds", p->timeout_seconds,
                     "mounts", mounts, "env_keys", env_keys);
}

void viv_sandbox_log_start(const viv_sandbox *sb, const char *execution_id, const char *session_id)
{
    if (!viv_log_enabled(sb->logger, VIV_LOG_INFO)) {
        return;
    }
    json_t *f = json_pack("{s:s, s:o, s:o}", "runtime", "python", "session_id",
                          session_field(session_id), "policy", policy_snapshot(sb->policy));
    viv_log_emit(sb->logger, VIV_LOG_INFO, VIV_EV_EXECUTION_START, execution_id, f);
    json_decref(f);
}

static void security(const viv_sandbox *sb, const char *event, const char *execution_id,
                     const char *session_id, json_t *fields)
{
    if (session_id != NULL) {
        json_object_set_new(fields, "session_id", json_string(session_id));
    }
    viv_log_emit(sb->logger, VIV_LOG_WARNING, event, execution_id, fields);
    json_decref(fields);
}

void viv_sandbox_log_complete(const viv_sandbox *sb, const viv_result *r, const char *session_id,
                              const viv_changes_view *changes)
{
    const viv_policy *p = sb->policy;
    const char *id = r->execution_id;
    if (viv_log_enabled(sb->logger, VIV_LOG_WARNING)) {
        for (uint32_t i = 0; i < r->nsecurity; i++) {
            const viv_security_event *e = &r->security[i];
            security(sb,
                     e->kind == VIV_WASI_SEC_PATH_ESCAPE ? VIV_EV_SECURITY_PATH_ESCAPE
                                                         : VIV_EV_SECURITY_READONLY_WRITE,
                     id, session_id, json_pack("{s:o}", "path", viv_log_path(e->path)));
        }
        /* A kernel without Landlock or seccomp leaves WebAssembly as the
         * only wall; say so once per execution. */
        if (r->reason != VIV_TRAP_HOST_ERROR &&
            (!r->jail.landlock_applied || !r->jail.seccomp_applied)) {
            security(sb, "sandbox.security.kernel_isolation_unavailable", id, session_id,
                     json_pack("{s:b, s:i, s:b}", "landlock", r->jail.landlock_applied,
                               "landlock_abi", r->jail.landlock_abi, "seccomp",
                               r->jail.seccomp_applied));
        }
        switch (r->reason) {
        case VIV_TRAP_OUT_OF_FUEL:
            security(sb, VIV_EV_SECURITY_OUT_OF_FUEL, id, session_id,
                     json_pack("{s:I, s:I}", "fuel_budget", (json_int_t)r->fuel_budget,
                               "fuel_consumed", (json_int_t)r->fuel_consumed));
            break;
        case VIV_TRAP_MEMORY_LIMIT:
            security(sb, VIV_EV_SECURITY_MEMORY_LIMIT, id, session_id,
                     json_pack("{s:I, s:I}", "memory_bytes", (json_int_t)r->memory_limit,
                               "memory_used_bytes", (json_int_t)r->memory_used));
            break;
        case VIV_TRAP_TIMEOUT:
            security(sb, VIV_EV_SECURITY_TIMEOUT, id, session_id,
                     json_pack("{s:f, s:f}", "timeout_seconds", p->timeout_seconds, "duration_ms",
                               r->duration_ms));
            break;
        default:
            break;
        }
        if (r->out.truncated) {
            security(sb, VIV_EV_SECURITY_OUTPUT_TRUNCATED, id, session_id,
                     json_pack("{s:s, s:I}", "stream", "stdout", "max_bytes",
                               (json_int_t)p->stdout_max_bytes));
        }
        if (r->err.truncated) {
            security(sb, VIV_EV_SECURITY_OUTPUT_TRUNCATED, id, session_id,
                     json_pack("{s:s, s:I}", "stream", "stderr", "max_bytes",
                               (json_int_t)p->stderr_max_bytes));
        }
    }
    if (!viv_log_enabled(sb->logger, VIV_LOG_INFO)) {
        return;
    }
    static const char *const none[1] = {NULL};
    viv_changes_view empty = {none, 0, none, 0, none, 0};
    if (changes == NULL) {
        changes = &empty;
    }
    const char *reason = viv_trap_reason_name(r->reason);
    json_t *f = json_pack(
        "{s:s, s:o, s:b, s:o, s:o, s:f, s:I, s:I, s:I, s:I, s:b, s:b, s:I, s:I, s:I, s:o, s:o, "
        "s:o}",
        "runtime", "python", "session_id", session_field(session_id), "success", r->success,
        "exit_code", r->exit_code >= 0 ? json_integer(r->exit_code) : json_null(), "trap_reason",
        reason ? json_string(reason) : json_null(), "duration_ms", r->duration_ms, "fuel_consumed",
        (json_int_t)r->fuel_consumed, "memory_used_bytes", (json_int_t)r->memory_used,
        "stdout_bytes", (json_int_t)r->out.len, "stderr_bytes", (json_int_t)r->err.len,
        "stdout_truncated", r->out.truncated, "stderr_truncated", r->err.truncated,
        "files_created_count", (json_int_t)changes->ncreated, "files_modified_count",
        (json_int_t)changes->nmodified, "files_deleted_count", (json_int_t)changes->ndeleted,
        "files_created", viv_log_path_list(changes->created, changes->ncreated), "files_modified",
        viv_log_path_list(changes->modified, changes->nmodified), "files_deleted",
        viv_log_path_list(changes->deleted, changes->ndeleted));
    viv_log_emit(sb->logger, VIV_LOG_INFO, VIV_EV_EXECUTION_COMPLETE, id, f);
    json_decref(f);
}
