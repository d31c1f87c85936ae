/*
 * src/sandbox/state.c: a session's interpreter state around one execution
 * (see state.h).
 *
 * Everything the guest wrote is untrusted: the report is size-capped and
 * read field by field, and the new state is only ever copied into the
 * session (by descriptor, never following a link) for the next execution's
 * guest to read. The host never unpickles anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "runner.h"
#include "session_internal.h"
#include "state.h"

/* A saved state larger than this is not kept (the result says so). */
#define VIV_STATE_MAX_BYTES ((off_t)256 << 20)
/* The guest's report is a few lists of names; anything larger is noise. */
#define VIV_STATE_REPORT_MAX ((size_t)1 << 20)

viv_status viv_state_plan_make(const viv_policy *p, bool has_session, viv_state_plan *plan,
                               viv_error *err)
{
    viv_state_mode m = viv_policy_persist_state(p);
    if (m == VIV_STATE_AUTO) {
        m = has_session ? VIV_STATE_DURABLE : VIV_STATE_OFF;
    }
    if (m != VIV_STATE_OFF && !has_session) {
        return viv_error_set(err, VIV_EPOLICY, "persist_state", NULL,
                             "persist_state \"%s\" keeps state in a session; this execution has "
                             "none (give it a session, or use \"off\")",
                             viv_state_mode_name(m));
    }
    plan->mode = m;
    plan->format = m == VIV_STATE_DURABLE ? "pickle" : m == VIV_STATE_JSON ? "json" : "";
    return VIV_OK;
}

/* A copy of the rest of in as DIR/NAME (0600, never through a link). */
static int copy_fd_to(int in, const char *dir, const char *name)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        return -1;
    }
    int rc = viv_session_copy_fd(in, out);
    int e = errno;
    if (close(out) != 0 && rc == 0) {
        return -1;
    }
    errno = e;
    return rc;
}

viv_status viv_state_prepare(const viv_state_plan *plan, const char *program_dir,
                             viv_session_store *store, const char *session_id, bool restore,
                             viv_error *err)
{
    if (plan->format[0] == '\0') {
        return VIV_OK;
    }
    size_t mlen = 0;
    const char *module = viv_runner_state_module(&mlen);
    char *runner = viv_runner_session_program(plan->format);
    if (runner == NULL) {
        return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    int rc = viv_sandbox_write_new_file(program_dir, VIV_STATE_MODULE_FILE, module, mlen);
    if (rc == 0) {
        rc = viv_sandbox_write_new_file(program_dir, VIV_RUNNER_FILE, runner, strlen(runner));
    }
    int e = errno;
    free(runner);
    if (rc != 0) {
        return viv_error_set(err, VIV_EHOST, NULL, program_dir,
                             "cannot write the session runner: %s", strerror(e));
    }
    if (!restore) {
        return VIV_OK;
    }
    int fd = -1;
    viv_status st = viv_session_state_open(store, session_id, &fd, err);
    if (st != VIV_OK || fd < 0) {
        return st;
    }
    rc = copy_fd_to(fd, program_dir, VIV_STATE_IN_FILE);
    e = errno;
    close(fd);
    if (rc != 0) {
        return viv_error_set(err, VIV_EHOST, NULL, program_dir,
                             "cannot hand the saved state to the execution: %s", strerror(e));
    }
    return VIV_OK;
}

/* The guest's report, or NULL. */
static json_t *read_report(const char *program_dir)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", program_dir, VIV_STATE_REPORT_FILE);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat sb;
    if (fd < 0) {
        return NULL;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size > VIV_STATE_REPORT_MAX) {
        close(fd);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
    close(fd);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* A list of strings from the guest, or an empty array. */
static json_t *names(json_t *v)
{
    json_t *out = json_array();
    size_t i;
    json_t *item;
    if (out == NULL || !json_is_array(v)) {
        return out;
    }
    json_array_foreach(v, i, item)
    {
        if (json_is_string(item)) {
            json_array_append(out, item);
        }
    }
    return out;
}

/* An object of string reasons from the guest, or an empty object. */
static json_t *reasons(json_t *v)
{
    json_t *out = json_object();
    const char *k;
    json_t *item;
    if (out == NULL || !json_is_object(v)) {
        return out;
    }
    json_object_foreach(v, k, item)
    {
        if (json_is_string(item)) {
            json_object_set(out, k, item);
        }
    }
    return out;
}

static void emit_reset(const viv_sandbox *sb, const char *execution_id, const char *session_id,
                       const char *reason, const char *set_aside)
{
    if (!viv_log_enabled(sb->logger, VIV_LOG_WARNING)) {
        return;
    }
    json_t *f = json_pack("{s:s, s:s, s:s?}", "session_id", session_id, "reason", reason,
                          "set_aside", set_aside && set_aside[0] ? set_aside : NULL);
    viv_log_emit(sb->logger, VIV_LOG_WARNING, VIV_EV_SESSION_STATE_RESET, execution_id, f);
    json_decref(f);
}

/* Installs state.out as the session's state: 1 installed, 0 none written,
 * -1 refused or failed (why set). */
static int install(const char *program_dir, viv_session_store *store, const char *session_id,
                   char *why, size_t wlen)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", program_dir, VIV_STATE_OUT_FILE);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return 0;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        snprintf(why, wlen, "the guest's state file is not a regular file");
        return -1;
    }
    if (sb.st_size > VIV_STATE_MAX_BYTES) {
        close(fd);
        snprintf(why, wlen, "the state is %lld bytes; at most %lld are kept", (long long)sb.st_size,
                 (long long)VIV_STATE_MAX_BYTES);
        return -1;
    }
    viv_error err = {0};
    viv_status st = viv_session_state_install(store, session_id, fd, &err);
    close(fd);
    if (st != VIV_OK) {
        snprintf(why, wlen, "%s", err.message);
        return -1;
    }
    return 1;
}

void viv_state_finish(const viv_sandbox *sb, const viv_state_plan *plan, const char *program_dir,
                      viv_session_store *store, const char *session_id, viv_result *res)
{
    if (plan->mode == VIV_STATE_OFF || session_id == NULL) {
        return;
    }
    json_t *meta = json_pack("{s:s, s:b, s:b}", "mode", viv_state_mode_name(plan->mode), "live",
                             res->live, "resumed", res->live_resumed);
    if (meta == NULL) {
        return;
    }
    if (plan->format[0] == '\0') {
        if (!res->warm) {
            json_object_set_new(meta, "note",
                                json_string("live state needs a warm pool (vivarium serve, or "
                                            "the library's pool); nothing was kept"));
        } else if (!res->live_resumed) {
            json_object_set_new(meta, "note",
                                json_string("a new interpreter: the session had none alive "
                                            "(its first execution, or the previous interpreter "
                                            "ended), so it starts with empty state"));
        }
    } else {
        json_t *report = read_report(program_dir);
        json_t *restore = json_object_get(report, "restore");
        json_t *save = json_object_get(report, "save");
        json_object_set_new(meta, "restored", names(json_object_get(restore, "restored")));
        json_object_set_new(meta, "restore_failed", reasons(json_object_get(restore, "failed")));
        json_t *reset = json_object_get(restore, "reset");
        if (json_is_string(reset)) {
            char where[4400] = "";
            viv_error err = {0};
            (void)viv_session_state_set_aside(store, session_id, where, sizeof where, &err);
            json_object_set_new(
                meta, "reset",
                json_pack("{s:O, s:s?}", "reason", reset, "set_aside", where[0] ? where : NULL));
            emit_reset(sb, res->execution_id, session_id, json_string_value(reset), where);
        } else {
            json_object_set_new(meta, "reset", json_null());
        }
        char why[512] = "";
        int installed = install(program_dir, store, session_id, why, sizeof why);
        json_object_set_new(meta, "saved", json_boolean(installed == 1));
        json_object_set_new(meta, "persisted", names(json_object_get(save, "saved")));
        json_object_set_new(meta, "not_persisted", reasons(json_object_get(save, "not_persisted")));
        if (installed == 0) {
            snprintf(why, sizeof why, "%s",
                     json_is_string(json_object_get(save, "error"))
                         ? "the state module failed while saving; the previous state is kept"
                         : "the program ended before its state was saved (a trap, a timeout, "
                           "or os._exit); the previous state is kept");
        }
        if (why[0] != '\0') {
            json_object_set_new(meta, "note", json_string(why));
        }
        json_decref(report);
    }
    if (res->meta_extra == NULL) {
        res->meta_extra = json_object();
    }
    if (res->meta_extra != NULL) {
        json_object_set_new(res->meta_extra, "state", meta);
    } else {
        json_decref(meta);
    }
}
