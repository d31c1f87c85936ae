/*
 * src/sandbox/sandbox.c: sandboxes (a loaded guest bound to a policy) and the
 * per-execution set-up around the child process: the private program
 * directory and the temporary workspace.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compile.h"
#include "sandbox_internal.h"
#include "session_internal.h"
#include "state.h"
#include "warm.h"

#ifndef VIV_DEFAULT_GUEST
#define VIV_DEFAULT_GUEST "/usr/local/lib/vivarium/python3.11/python.wasm"
#endif

const char *viv_sandbox_default_guest(void) { return VIV_DEFAULT_GUEST; }

/* Programs larger than this are refused before anything is written. */
#define VIV_MAX_CODE_BYTES ((size_t)16 << 20)

static viv_status find_artifact(const char *wasm, char *out, size_t len, viv_error *err)
{
    /* Beside the module: X.wasm -> X.so (how guests are installed). */
    size_t n = strlen(wasm);
    if (n > 5 && strcmp(wasm + n - 5, ".wasm") == 0 && n + 1 < len) {
        snprintf(out, len, "%.*s.so", (int)(n - 5), wasm);
        if (access(out, R_OK) == 0) {
            return VIV_OK;
        }
    }
    /* Otherwise the cache, by the module's content. */
    char sha[65];
    if (viv_sha256_file(wasm, sha) != 0) {
        return viv_error_set(err, VIV_EHOST, NULL, wasm, "cannot read guest module %s: %s", wasm,
                             strerror(errno));
    }
    if (viv_engine_cached_artifact(NULL, sha, out, len)) {
        return VIV_OK;
    }
    return viv_error_set(err, VIV_ENOGUEST, NULL, wasm,
                         "guest module %s has no compiled artifact; compile it first with "
                         "`vivarium compile %s`",
                         wasm, wasm);
}

/* The guest's own mounts (its stdlib) and the policy's share one guest
 * namespace: the same path twice would leave which one wins to the WASI
 * layer's lookup order, so it is refused. */
static viv_status check_guest_mounts(const viv_policy *p, const viv_guest_desc *g, viv_error *err)
{
    for (size_t i = 0; i < g->nmounts; i++) {
        const char *gp = g->mounts[i].guest;
        const char *field = NULL;
        if (p->guest_mount_path != NULL && strcmp(p->guest_mount_path, gp) == 0) {
            field = "guest_mount_path";
        } else if (p->data_dir != NULL && p->guest_data_path != NULL &&
                   strcmp(p->guest_data_path, gp) == 0) {
            field = "guest_data_path";
        } else if (strcmp(VIV_PROGRAM_GUEST_DIR, gp) == 0) {
            field = "ro-mount";
        }
        for (size_t j = 0; field == NULL && j < p->nmounts; j++) {
            if (strcmp(p->mounts[j].guest, gp) == 0) {
                field = "mounts";
            }
        }
        if (field != NULL) {
            return viv_error_set(err, VIV_EPOLICY, field, gp,
                                 "guest path %s is where this guest's own files are mounted", gp);
        }
    }
    return VIV_OK;
}

viv_status viv_sandbox_create(const viv_policy *policy, const char *wasm_path, viv_sandbox **out,
                              viv_error *err)
{
    if (policy == NULL || out == NULL) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "policy and out must not be NULL");
    }
    *out = NULL;
    viv_status st = viv_policy_validate(policy, err);
    if (st != VIV_OK) {
        return st;
    }
    const char *wasm = wasm_path ? wasm_path : viv_sandbox_default_guest();
    struct stat sbuf;
    if (stat(wasm, &sbuf) != 0) {
        return viv_error_set(err, VIV_ENOENT, NULL, wasm, "guest module %s: %s", wasm,
                             strerror(errno));
    }
    char art_path[4096];
    if ((st = find_artifact(wasm, art_path, sizeof art_path, err)) != VIV_OK) {
        return st;
    }
    viv_sandbox *sb = calloc(1, sizeof *sb);
    if (sb == NULL) {
        return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    sb->wasm_path = strdup(wasm);
    sb->artifact_path = strdup(art_path);
    if (sb->wasm_path == NULL || sb->artifact_path == NULL) {
        viv_sandbox_destroy(sb);
        return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    if ((st = viv_policy_copy(policy, &sb->policy, err)) != VIV_OK) {
        viv_sandbox_destroy(sb);
        return st;
    }
    if ((st = viv_guest_desc_load(wasm, &sb->guest, err)) != VIV_OK ||
        (st = check_guest_mounts(sb->policy, &sb->guest, err)) != VIV_OK) {
        viv_sandbox_destroy(sb);
        return st;
    }
    /* Without a batteries tree runs still work, with the standard library
     * only; the result's metadata.batteries says why. */
    if (viv_batteries_find(wasm, &sb->batteries) != 0) {
        viv_sandbox_destroy(sb);
        return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    viv_batteries_mount(&sb->batteries, sb->policy);
    if ((st = viv_batteries_default_tmpdir(sb->policy, err)) != VIV_OK) {
        viv_sandbox_destroy(sb);
        return st;
    }
    char msg[600];
    viv_engine_status es = viv_engine_artifact_open(art_path, NULL, &sb->artifact, msg, sizeof msg);
    if (es != VIV_ENGINE_OK) {
        viv_sandbox_destroy(sb);
        return viv_error_set(err, es == VIV_ENGINE_ENOENT ? VIV_ENOENT : VIV_ENOGUEST, NULL,
                             art_path, "%s", msg);
    }
    /* A cap below what the module needs to start can never run anything. */
    uint64_t initial =
        (uint64_t)viv_engine_artifact_info(sb->artifact)->initial_pages * VIV_WASM_PAGE;
    if ((uint64_t)policy->memory_bytes < initial) {
        viv_sandbox_destroy(sb);
        return viv_error_set(err, VIV_EPOLICY, "memory_bytes", NULL,
                             "memory_bytes %lld is below the guest's initial memory of %llu "
                             "bytes",
                             (long long)policy->memory_bytes, (unsigned long long)initial);
    }
    *out = sb;
    return VIV_OK;
}

viv_status viv_sandbox_use_unmetered(viv_sandbox *sb, const char *artifact_path, viv_error *err)
{
    char msg[600];
    viv_engine_artifact *a = NULL;
    if (viv_engine_artifact_open(artifact_path, NULL, &a, msg, sizeof msg) != VIV_ENGINE_OK) {
        return viv_error_set(err, VIV_ENOGUEST, NULL, artifact_path, "%s", msg);
    }
    viv_engine_artifact_close(sb->artifact);
    sb->artifact = a;
    sb->allow_unmetered = true;
    return VIV_OK;
}

void viv_sandbox_destroy(viv_sandbox *sb)
{
    if (sb == NULL) {
        return;
    }
    viv_engine_artifact_close(sb->artifact);
    viv_policy_free(sb->policy);
    viv_batteries_free(&sb->batteries);
    free(sb->wasm_path);
    free(sb->artifact_path);
    viv_guest_desc_free(&sb->guest);
    free(sb);
}

/* --- temporary directories -------------------------------------------------- */

/* Removes a temporary directory the guest may have filled with anything,
 * including trees deeper than PATH_MAX: the walk goes by descriptor, never
 * follows a symlink and never crosses into another file system. */
static void remove_tree(const char *dir)
{
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash == NULL || slash[1] == '\0') {
        return;
    }
    *slash = '\0';
    int pfd = open(parent[0] ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0) {
        return;
    }
    (void)viv_session_rmtree_at(pfd, slash + 1);
    close(pfd);
}

static int make_temp_dir(char *buf, size_t len, const char *what)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] != '/') {
        tmp = "/tmp";
    }
    snprintf(buf, len, "%s/vivarium-%s-XXXXXX", tmp, what);
    return mkdtemp(buf) != NULL ? 0 : -1;
}

int viv_sandbox_write_new_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (fd < 0) {
        return -1;
    }
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return close(fd);
}

static viv_status write_program(const char *dir, const char *name, const char *code, size_t len,
                                viv_error *err)
{
    if (viv_sandbox_write_new_file(dir, name, code, len) != 0) {
        return viv_error_set(err, VIV_EHOST, NULL, dir, "cannot write the program %s: %s", name,
                             strerror(errno));
    }
    return VIV_OK;
}

static bool valid_program_name(const char *name)
{
    size_t n = strlen(name);
    return n > 0 && n < 200 && strchr(name, '/') == NULL && strcmp(name, ".") != 0 &&
           strcmp(name, "..") != 0;
}

/* Where an execution's workspace comes from, and what to do around it. */
typedef struct workspace_plan {
    char path[4096];
    char index_path[4200]; /* the session's snapshot index, or "" */
    bool temporary;
    viv_snapshot *before;
} workspace_plan;

static viv_status open_session(viv_sandbox *sb, const viv_exec_options *opts, viv_result *res,
                               workspace_plan *ws, viv_error *err)
{
    viv_session_info info;
    viv_status st = viv_session_open(opts->sessions, opts->session_id, &info, NULL, err);
    if (st == VIV_EINVAL && err != NULL && strcmp(err->field, "session_id") == 0) {
        json_t *f = json_pack("{s:o}", "session_id",
                              viv_log_path(opts->session_id ? opts->session_id : ""));
        viv_log_emit(sb->logger, VIV_LOG_WARNING, VIV_EV_SECURITY_INVALID_SESSION_ID, NULL, f);
        json_decref(f);
    }
    if (st != VIV_OK) {
        return st;
    }
    res->session_id = strdup(info.id);
    if (res->session_id == NULL) {
        return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    if ((st = viv_session_workspace(opts->sessions, info.id, ws->path, sizeof ws->path, err)) !=
        VIV_OK) {
        return st;
    }
    snprintf(ws->index_path, sizeof ws->index_path, "%s/%s/snapshot.idx",
             viv_session_store_root(opts->sessions), info.id);
    return VIV_OK;
}

static void snapshot_before(workspace_plan *ws)
{
    viv_snapshot *prev = NULL;
    char msg[256];
    if (ws->index_path[0] != '\0') {
        /* A missing or corrupt index only costs a full re-hash. */
        (void)viv_snapshot_load(ws->index_path, &prev, msg, sizeof msg);
    }
    if (viv_snapshot_take(-1, ws->path, prev, NULL, &ws->before, msg, sizeof msg) != 0) {
        ws->before = NULL;
    }
    viv_snapshot_free(prev);
}

/* Fills res->changes. A workspace that cannot be scanned is reported as
 * truncated rather than failing a run that already happened. */
static void snapshot_after(workspace_plan *ws, viv_result *res)
{
    viv_snapshot *after = NULL;
    char msg[256];
    if (ws->before == NULL ||
        viv_snapshot_take(-1, ws->path, ws->before, NULL, &after, msg, sizeof msg) != 0 ||
        viv_snapshot_diff(ws->before, after, &res->changes) != 0) {
        res->changes.truncated = true;
    } else if (ws->index_path[0] != '\0') {
        (void)viv_snapshot_save(after, ws->index_path, msg, sizeof msg);
    }
    viv_snapshot_free(after);
}

static void log_complete(const viv_sandbox *sb, const viv_result *res)
{
    const viv_changes *c = &res->changes;
    size_t n = c->ncreated + c->nmodified + c->ndeleted;
    const char **paths = calloc(n ? n : 1, sizeof *paths);
    if (paths == NULL) {
        viv_sandbox_log_complete(sb, res, res->session_id, NULL);
        return;
    }
    for (size_t i = 0; i < c->ncreated; i++) {
        paths[i] = c->created[i].path;
    }
    for (size_t i = 0; i < c->nmodified; i++) {
        paths[c->ncreated + i] = c->modified[i].path;
    }
    for (size_t i = 0; i < c->ndeleted; i++) {
        paths[c->ncreated + c->nmodified + i] = c->deleted[i].path;
    }
    viv_changes_view view = {paths,
                             c->ncreated,
                             paths + c->ncreated,
                             c->nmodified,
                             paths + c->ncreated + c->nmodified,
                             c->ndeleted};
    viv_sandbox_log_complete(sb, res, res->session_id, &view);
    free(paths);
}

/* One run of `main_code` saved as `main_name`, with an optional second file
 * beside it (validation passes the user's code that way). */
static viv_status execute_program(viv_sandbox *sb, const char *main_name, const char *main_code,
                                  size_t main_len, const char *aux_name, const char *aux_code,
                                  size_t aux_len, const viv_exec_options *opts, viv_result **out,
                                  viv_error *err)
{
    /* The policy may name directories that vanished since creation. */
    viv_status st = viv_policy_validate(sb->policy, err);
    if (st != VIV_OK) {
        return st;
    }
    /* Fail fast, and typed, if the guest disappeared since creation. */
    if (access(sb->wasm_path, F_OK) != 0) {
        return viv_error_set(err, VIV_ENOENT, NULL, sb->wasm_path, "guest module %s: %s",
                             sb->wasm_path, strerror(errno));
    }
    /* Validation (a second file) runs our own program: no state. */
    viv_state_plan state = {VIV_STATE_OFF, ""};
    if (aux_name == NULL &&
        (st = viv_state_plan_make(sb->policy, opts->sessions != NULL, &state, err)) != VIV_OK) {
        return st;
    }
    viv_result *res = calloc(1, sizeof *res);
    workspace_plan ws = {0};
    if (res == NULL) {
        return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    char program_dir[4096] = "";
    bool live = false, resumable = false;
    if (opts->sessions != NULL) {
        if ((st = open_session(sb, opts, res, &ws, err)) != VIV_OK) {
            goto done;
        }
    } else if (sb->policy->workspace != NULL) {
        snprintf(ws.path, sizeof ws.path, "%s", sb->policy->workspace);
    } else {
        if (make_temp_dir(ws.path, sizeof ws.path, "workspace") != 0) {
            st = viv_error_set(err, VIV_EHOST, NULL, NULL,
                               "cannot create a temporary workspace: %s", strerror(errno));
            goto done;
        }
        ws.temporary = true;
    }
    res->workspace_path = strdup(ws.path);
    if (res->workspace_path == NULL) {
        st = viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
        goto done;
    }
    /* With a warm pool, a session with state keeps its interpreter alive
     * (state.h), which needs the same private directory all its life. */
    if (state.mode != VIV_STATE_OFF && sb->warm != NULL && res->session_id != NULL &&
        viv_warm_live_dir(sb->warm, res->session_id, program_dir, sizeof program_dir, &resumable) ==
            0) {
        live = true;
    } else if (make_temp_dir(program_dir, sizeof program_dir, "program") != 0) {
        st = viv_error_set(err, VIV_EHOST, NULL, program_dir,
                           "cannot create a temporary directory: %s", strerror(errno));
        program_dir[0] = '\0';
        goto done;
    }
    if ((st = write_program(program_dir, main_name, main_code, main_len, err)) != VIV_OK ||
        (aux_name != NULL &&
         (st = write_program(program_dir, aux_name, aux_code, aux_len, err)) != VIV_OK)) {
        goto done;
    }
    /* A live interpreter already holds the state; a new one starts from
     * the saved file. */
    if (res->session_id != NULL &&
        (st = viv_state_prepare(&state, program_dir, opts->sessions, res->session_id, !resumable,
                                err)) != VIV_OK) {
        goto done;
    }
    snapshot_before(&ws);
    viv_log_new_execution_id(res->execution_id);
    viv_sandbox_log_start(sb, res->execution_id, res->session_id);
    st = viv_sandbox_run_child(sb, program_dir, main_name, ws.path, opts, state.format, live, res,
                               err);
    if (st == VIV_OK) {
        viv_sandbox_attach_guidance(sb, res);
        viv_state_finish(sb, &state, program_dir, opts->sessions, res->session_id, res);
        snapshot_after(&ws, res);
        if (res->session_id != NULL) {
            viv_error terr;
            (void)viv_session_touch(opts->sessions, res->session_id, &terr);
        }
        log_complete(sb, res);
    }

done:
    viv_snapshot_free(ws.before);
    if (program_dir[0] != '\0' && !live) {
        remove_tree(program_dir);
    }
    if (ws.temporary) {
        remove_tree(ws.path);
    }
    if (st != VIV_OK) {
        viv_result_free(res);
        return st;
    }
    *out = res;
    return VIV_OK;
}

static viv_status check_code_args(viv_sandbox *sb, const char *code, size_t len, void *out,
                                  viv_error *err)
{
    if (sb == NULL || out == NULL || (code == NULL && len > 0)) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "sandbox, code and out are required");
    }
    if (len > VIV_MAX_CODE_BYTES) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL,
                             "code is %zu bytes; the limit is %zu bytes", len, VIV_MAX_CODE_BYTES);
    }
    return VIV_OK;
}

viv_status viv_sandbox_execute(viv_sandbox *sb, const char *code, size_t len,
                               const viv_exec_options *opts, viv_result **out, viv_error *err)
{
    viv_status st = check_code_args(sb, code, len, out, err);
    if (st != VIV_OK) {
        return st;
    }
    *out = NULL;
    viv_exec_options none = {0};
    if (opts == NULL) {
        opts = &none;
    }
    const char *name = opts->filename ? opts->filename : "main.py";
    if (!valid_program_name(name)) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL,
                             "program name \"%s\" must be a plain file name", name);
    }
    if (sb->warm == NULL) {
        return execute_program(sb, name, code, len, NULL, NULL, 0, opts, out, err);
    }
    /* A new session (sessions without an id) cannot collide with another. */
    const char *serialise = opts->sessions != NULL ? opts->session_id : NULL;
    if ((st = viv_warm_admit(sb->warm, serialise, err)) != VIV_OK) {
        return st;
    }
    st = execute_program(sb, name, code, len, NULL, NULL, 0, opts, out, err);
    viv_warm_release(sb->warm, serialise);
    return st;
}

void viv_sandbox_set_warm_pool(viv_sandbox *sb, viv_warm_pool *pool)
{
    if (sb != NULL) {
        sb->warm = pool;
    }
}

/* Compiles the user's code without running it. SyntaxError and ValueError
 * (NUL bytes) mean invalid; the message is what Python says, under the
 * filename "<sandbox>". */
static const char validate_driver[] =
    "import sys\n"
    "with open('/.vivarium/code.py', 'rb') as f:\n"
    "    src = f.read()\n"
    "try:\n"
    "    compile(src, '<sandbox>', 'exec', dont_inherit=True)\n"
    "except (SyntaxError, ValueError) as e:\n"
    "    import traceback\n"
    "    sys.stdout.write(''.join(traceback.format_exception_only(type(e), e)))\n"
    "    sys.exit(1)\n";

viv_status viv_sandbox_validate_code(viv_sandbox *sb, const char *code, size_t len, bool *valid,
                                     char **message, viv_error *err)
{
    viv_status st = check_code_args(sb, code, len, valid, err);
    if (st != VIV_OK) {
        return st;
    }
    *valid = false;
    if (message != NULL) {
        *message = NULL;
    }
    viv_result *res = NULL;
    viv_exec_options opts = {0};
    st = execute_program(sb, "validate.py", validate_driver, sizeof validate_driver - 1, "code.py",
                         code ? code : "", len, &opts, &res, err);
    if (st != VIV_OK) {
        return st;
    }
    if (res->trapped || (res->exit_code != 0 && res->exit_code != 1)) {
        size_t elen;
        const char *e = viv_result_stderr(res, &elen);
        st = viv_error_set(
            err, VIV_EHOST, NULL, NULL, "validation did not complete (%s%s%s): %.300s",
            viv_trap_reason_name(res->reason) ? viv_trap_reason_name(res->reason) : "error",
            res->trap_message[0] ? ": " : "", res->trap_message, e);
        viv_result_free(res);
        return st;
    }
    *valid = res->exit_code == 0;
    if (message != NULL && !*valid) {
        size_t n;
        const char *text = viv_result_stdout(res, &n);
        *message = strndup(text, n);
        if (*message == NULL) {
            viv_result_free(res);
            return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
        }
    }
    viv_result_free(res);
    return VIV_OK;
}
