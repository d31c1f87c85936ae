/*
 * src/policy/policy.c: ExecutionPolicy construction, setters, validation.
 */
#include "policy.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

viv_status viv_error_set(viv_error *err, viv_status status, const char *field, const char *path,
                         const char *fmt, ...)
{
    if (err != NULL) {
        err->status = status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        snprintf(err->field, sizeof err->field, "%s", field ? field : "");
        snprintf(err->path, sizeof err->path, "%s", path ? path : "");
    }
    return status;
}

const char *viv_status_name(viv_status status)
{
    switch (status) {
    case VIV_OK:
        return "VIV_OK";
    case VIV_EINVAL:
        return "VIV_EINVAL";
    case VIV_ENOMEM:
        return "VIV_ENOMEM";
    case VIV_ENOENT:
        return "VIV_ENOENT";
    case VIV_EPOLICY:
        return "VIV_EPOLICY";
    case VIV_EHOST:
        return "VIV_EHOST";
    case VIV_ENOGUEST:
        return "VIV_ENOGUEST";
    case VIV_EBUSY:
        return "VIV_EBUSY";
    case VIV_EEXIST:
        return "VIV_EEXIST";
    }
    return "VIV_UNKNOWN";
}

static viv_status oom(viv_error *err)
{
    return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
}

static bool dup_str(char **dst, const char *src)
{
    char *copy = NULL;
    if (src != NULL) {
        copy = strdup(src);
        if (copy == NULL) {
            return false;
        }
    }
    free(*dst);
    *dst = copy;
    return true;
}

static const char *const default_argv[] = {"python", "-B", "-u", "-X", "utf8"};
static const char *const default_env[][2] = {
    {"PYTHONUTF8", "1"},
    {"LC_ALL", "C.UTF-8"},
    {"PYTHONIOENCODING", "utf-8"},
    {"PYTHONHASHSEED", "0"},
};

viv_status viv_policy_new(viv_policy **out, viv_error *err)
{
    if (out == NULL) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "out must not be NULL");
    }
    *out = NULL;
    viv_policy *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return oom(err);
    }
    p->fuel_budget = 10000000000LL;
    p->memory_bytes = 128000000LL;
    p->stdout_max_bytes = 2000000LL;
    p->stderr_max_bytes = 1000000LL;
    p->timeout_seconds = 30.0;
    if (!dup_str(&p->guest_mount_path, "/app") || !dup_str(&p->guest_data_path, "/data")) {
        viv_policy_free(p);
        return oom(err);
    }
    viv_status st =
        viv_policy_set_argv(p, default_argv, sizeof default_argv / sizeof *default_argv, err);
    for (size_t i = 0; st == VIV_OK && i < sizeof default_env / sizeof *default_env; i++) {
        st = viv_policy_set_env(p, default_env[i][0], default_env[i][1], err);
    }
    if (st != VIV_OK) {
        viv_policy_free(p);
        return st;
    }
    *out = p;
    return VIV_OK;
}

void viv_policy_free(viv_policy *p)
{
    if (p == NULL) {
        return;
    }
    free(p->workspace);
    free(p->guest_mount_path);
    free(p->data_dir);
    free(p->guest_data_path);
    for (size_t i = 0; i < p->nmounts; i++) {
        free(p->mounts[i].host);
        free(p->mounts[i].guest);
    }
    free(p->mounts);
    viv_policy_clear_env(p);
    for (size_t i = 0; i < p->argc; i++) {
        free(p->argv[i]);
    }
    free(p->argv);
    free(p);
}

viv_status viv_policy_copy(const viv_policy *src, viv_policy **out, viv_error *err)
{
    if (src == NULL || out == NULL) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "policy and out must not be NULL");
    }
    *out = NULL;
    viv_policy *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return oom(err);
    }
    p->fuel_budget = src->fuel_budget;
    p->memory_bytes = src->memory_bytes;
    p->stdout_max_bytes = src->stdout_max_bytes;
    p->stderr_max_bytes = src->stderr_max_bytes;
    p->timeout_seconds = src->timeout_seconds;
    p->preserve_logs = src->preserve_logs;
    p->require_kernel_isolation = src->require_kernel_isolation;
    p->persist_state = src->persist_state;
    viv_status st = VIV_OK;
    if (!dup_str(&p->workspace, src->workspace) ||
        !dup_str(&p->guest_mount_path, src->guest_mount_path) ||
        !dup_str(&p->data_dir, src->data_dir) ||
        !dup_str(&p->guest_data_path, src->guest_data_path)) {
        st = oom(err);
    }
    for (size_t i = 0; st == VIV_OK && i < src->nmounts; i++) {
        st = viv_policy_add_mount(p, src->mounts[i].host, src->mounts[i].guest, err);
    }
    for (size_t i = 0; st == VIV_OK && i < src->nenv; i++) {
        st = viv_policy_set_env(p, src->env[i].key, src->env[i].value, err);
    }
    if (st == VIV_OK) {
        st = viv_policy_set_argv(p, (const char *const *)src->argv, src->argc, err);
    }
    if (st != VIV_OK) {
        viv_policy_free(p);
        return st;
    }
    *out = p;
    return VIV_OK;
}

#define NEED_POLICY(p)                                                                             \
    do {                                                                                           \
        if ((p) == NULL) {                                                                         \
            return viv_error_set(err, VIV_EINVAL, NULL, NULL, "policy must not be NULL");          \
        }                                                                                          \
    } while (0)

static viv_status set_positive(viv_policy *p, int64_t *slot, int64_t v, const char *field,
                               viv_error *err)
{
    NEED_POLICY(p);
    if (v <= 0) {
        return viv_error_set(err, VIV_EPOLICY, field, NULL, "%s must be positive, got %lld", field,
                             (long long)v);
    }
    *slot = v;
    return VIV_OK;
}

viv_status viv_policy_set_fuel_budget(viv_policy *p, int64_t v, viv_error *err)
{
    return set_positive(p, p ? &p->fuel_budget : NULL, v, "fuel_budget", err);
}

viv_status viv_policy_set_memory_bytes(viv_policy *p, int64_t v, viv_error *err)
{
    NEED_POLICY(p);
    if (v > VIV_POLICY_MAX_MEMORY) {
        return viv_error_set(err, VIV_EPOLICY, "memory_bytes", NULL,
                             "memory_bytes must be at most 4 GiB (4294967296), got %lld",
                             (long long)v);
    }
    return set_positive(p, &p->memory_bytes, v, "memory_bytes", err);
}

viv_status viv_policy_set_stdout_max_bytes(viv_policy *p, int64_t v, viv_error *err)
{
    return set_positive(p, p ? &p->stdout_max_bytes : NULL, v, "stdout_max_bytes", err);
}

viv_status viv_policy_set_stderr_max_bytes(viv_policy *p, int64_t v, viv_error *err)
{
    return set_positive(p, p ? &p->stderr_max_bytes : NULL, v, "stderr_max_bytes", err);
}

viv_status viv_policy_set_timeout_seconds(viv_policy *p, double v, viv_error *err)
{
    NEED_POLICY(p);
    /* A year is far beyond any sane run and keeps nanosecond sums in range. */
    if (!(v >= 0.0) || !isfinite(v) || v > 31536000.0) {
        return viv_error_set(err, VIV_EPOLICY, "timeout_seconds", NULL,
                             "timeout_seconds must be between 0 (no deadline) and 31536000, "
                             "got %g",
                             v);
    }
    p->timeout_seconds = v;
    return VIV_OK;
}

viv_status viv_policy_set_workspace(viv_policy *p, const char *dir, viv_error *err)
{
    NEED_POLICY(p);
    return dup_str(&p->workspace, dir) ? VIV_OK : oom(err);
}

viv_status viv_policy_set_guest_mount_path(viv_policy *p, const char *path, viv_error *err)
{
    NEED_POLICY(p);
    if (path == NULL) {
        return viv_error_set(err, VIV_EPOLICY, "guest_mount_path", NULL,
                             "guest_mount_path must not be NULL");
    }
    return dup_str(&p->guest_mount_path, path) ? VIV_OK : oom(err);
}

viv_status viv_policy_set_guest_data_path(viv_policy *p, const char *path, viv_error *err)
{
    NEED_POLICY(p);
    /* NULL restores the default: a data dir is always visible somewhere. */
    return dup_str(&p->guest_data_path, path ? path : "/data") ? VIV_OK : oom(err);
}

viv_status viv_policy_set_preserve_logs(viv_policy *p, bool preserve, viv_error *err)
{
    NEED_POLICY(p);
    p->preserve_logs = preserve;
    return VIV_OK;
}

viv_status viv_policy_set_require_kernel_isolation(viv_policy *p, bool require, viv_error *err)
{
    NEED_POLICY(p);
    p->require_kernel_isolation = require;
    return VIV_OK;
}

static const char *const state_mode_names[] = {
    [VIV_STATE_AUTO] = "auto", [VIV_STATE_OFF] = "off",   [VIV_STATE_DURABLE] = "durable",
    [VIV_STATE_LIVE] = "live", [VIV_STATE_JSON] = "json",
};

const char *viv_state_mode_name(viv_state_mode mode)
{
    if ((unsigned)mode >= sizeof state_mode_names / sizeof *state_mode_names) {
        return NULL;
    }
    return state_mode_names[mode];
}

viv_status viv_state_mode_parse(const char *name, viv_state_mode *mode, viv_error *err)
{
    for (size_t i = 0; name != NULL && i < sizeof state_mode_names / sizeof *state_mode_names;
         i++) {
        if (strcmp(name, state_mode_names[i]) == 0) {
            *mode = (viv_state_mode)i;
            return VIV_OK;
        }
    }
    return viv_error_set(err, VIV_EPOLICY, "persist_state", NULL,
                         "persist_state must be one of auto, off, durable, live, json (got "
                         "\"%.64s\")",
                         name ? name : "(null)");
}

viv_status viv_policy_set_persist_state(viv_policy *p, viv_state_mode mode, viv_error *err)
{
    NEED_POLICY(p);
    if (viv_state_mode_name(mode) == NULL) {
        return viv_error_set(err, VIV_EPOLICY, "persist_state", NULL,
                             "persist_state %d is not a state mode", (int)mode);
    }
    p->persist_state = mode;
    return VIV_OK;
}

viv_state_mode viv_policy_persist_state(const viv_policy *p)
{
    return p != NULL ? p->persist_state : VIV_STATE_AUTO;
}

viv_status viv_policy_set_data_dir(viv_policy *p, const char *dir, viv_error *err)
{
    NEED_POLICY(p);
    return dup_str(&p->data_dir, dir) ? VIV_OK : oom(err);
}

viv_status viv_policy_add_mount(viv_policy *p, const char *host, const char *guest, viv_error *err)
{
    NEED_POLICY(p);
    if (host == NULL || guest == NULL) {
        return viv_error_set(err, VIV_EPOLICY, "additional_readonly_mounts", NULL,
                             "a mount needs both a host directory and a guest path");
    }
    if (p->nmounts >= VIV_POLICY_MAX_MOUNTS) {
        return viv_error_set(err, VIV_EPOLICY, "additional_readonly_mounts", NULL,
                             "at most %d extra mounts", VIV_POLICY_MAX_MOUNTS);
    }
    viv_mount *grown = realloc(p->mounts, (p->nmounts + 1) * sizeof *grown);
    if (grown == NULL) {
        return oom(err);
    }
    p->mounts = grown;
    viv_mount m = {strdup(host), strdup(guest)};
    if (m.host == NULL || m.guest == NULL) {
        free(m.host);
        free(m.guest);
        return oom(err);
    }
    p->mounts[p->nmounts++] = m;
    return VIV_OK;
}

viv_status viv_policy_set_env(viv_policy *p, const char *key, const char *value, viv_error *err)
{
    NEED_POLICY(p);
    if (key == NULL || value == NULL || key[0] == '\0' || strchr(key, '=') != NULL) {
        return viv_error_set(err, VIV_EPOLICY, "env", NULL,
                             "env key %s%s%s is invalid: keys must be non-empty and hold no '='",
                             key ? "\"" : "", key ? key : "(null)", key ? "\"" : "");
    }
    for (size_t i = 0; i < p->nenv; i++) {
        if (strcmp(p->env[i].key, key) == 0) {
            return dup_str(&p->env[i].value, value) ? VIV_OK : oom(err);
        }
    }
    if (p->nenv >= VIV_POLICY_MAX_ENV) {
        return viv_error_set(err, VIV_EPOLICY, "env", NULL, "at most %d env entries",
                             VIV_POLICY_MAX_ENV);
    }
    viv_env_var *grown = realloc(p->env, (p->nenv + 1) * sizeof *grown);
    if (grown == NULL) {
        return oom(err);
    }
    p->env = grown;
    viv_env_var e = {strdup(key), strdup(value)};
    if (e.key == NULL || e.value == NULL) {
        free(e.key);
        free(e.value);
        return oom(err);
    }
    p->env[p->nenv++] = e;
    return VIV_OK;
}

void viv_policy_clear_env(viv_policy *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->nenv; i++) {
        free(p->env[i].key);
        free(p->env[i].value);
    }
    free(p->env);
    p->env = NULL;
    p->nenv = 0;
}

viv_status viv_policy_set_argv(viv_policy *p, const char *const *argv, size_t argc, viv_error *err)
{
    NEED_POLICY(p);
    if (argc == 0 || argv == NULL) {
        return viv_error_set(err, VIV_EPOLICY, "argv", NULL, "argv must not be empty");
    }
    if (argc > VIV_POLICY_MAX_ARGV) {
        return viv_error_set(err, VIV_EPOLICY, "argv", NULL, "argv holds at most %d entries",
                             VIV_POLICY_MAX_ARGV);
    }
    char **copy = calloc(argc, sizeof *copy);
    if (copy == NULL) {
        return oom(err);
    }
    for (size_t i = 0; i < argc; i++) {
        copy[i] = argv[i] ? strdup(argv[i]) : NULL;
        if (copy[i] == NULL) {
            for (size_t j = 0; j < i; j++) {
                free(copy[j]);
            }
            free(copy);
            return argv[i] ? oom(err)
                           : viv_error_set(err, VIV_EPOLICY, "argv", NULL,
                                           "argv[%zu] must not be NULL", i);
        }
    }
    for (size_t i = 0; i < p->argc; i++) {
        free(p->argv[i]);
    }
    free(p->argv);
    p->argv = copy;
    p->argc = argc;
    return VIV_OK;
}

int64_t viv_policy_fuel_budget(const viv_policy *p) { return p->fuel_budget; }
int64_t viv_policy_memory_bytes(const viv_policy *p) { return p->memory_bytes; }
int64_t viv_policy_stdout_max_bytes(const viv_policy *p) { return p->stdout_max_bytes; }
int64_t viv_policy_stderr_max_bytes(const viv_policy *p) { return p->stderr_max_bytes; }
double viv_policy_timeout_seconds(const viv_policy *p) { return p->timeout_seconds; }

/* --- validation ------------------------------------------------------------ */

static viv_status check_guest_path(const char *path, const char *field, viv_error *err)
{
    if (path == NULL || path[0] != '/') {
        return viv_error_set(err, VIV_EPOLICY, field, NULL,
                             "%s must be an absolute guest path, got \"%s\"", field,
                             path ? path : "");
    }
    if (strcmp(path, "/") == 0) {
        return viv_error_set(err, VIV_EPOLICY, field, NULL, "%s must not be \"/\"", field);
    }
    /* Component-wise, so "/a..b" is fine but "/a/../b" is not. */
    const char *c = path;
    while (*c) {
        while (*c == '/') {
            c++;
        }
        size_t n = strcspn(c, "/");
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) {
            return viv_error_set(err, VIV_EPOLICY, field, NULL,
                                 "%s must not contain \".\" or \"..\" components, got \"%s\"",
                                 field, path);
        }
        c += n;
    }
    return VIV_OK;
}

/* True when one guest path is the other or lies beneath it: the mounts
 * would shadow each other. */
static bool paths_collide(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/') {
        la--;
    }
    while (lb > 1 && b[lb - 1] == '/') {
        lb--;
    }
    size_t n = la < lb ? la : lb;
    if (strncmp(a, b, n) != 0) {
        return false;
    }
    if (la == lb) {
        return true;
    }
    const char *longer = la > lb ? a : b;
    return longer[n] == '/';
}

static viv_status check_host_dir(const char *dir, const char *field, viv_error *err)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        /* A missing directory is a policy mistake, not a missing guest. */
        return viv_error_set(err, VIV_EPOLICY, field, dir, "%s %s: %s", field, dir,
                             strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        return viv_error_set(err, VIV_EPOLICY, field, dir, "%s %s is not a directory", field, dir);
    }
    return VIV_OK;
}

viv_status viv_policy_validate(const viv_policy *p, viv_error *err)
{
    NEED_POLICY(p);
    static const struct {
        const char *name;
        size_t offset;
    } positives[] = {
        {"fuel_budget", offsetof(viv_policy, fuel_budget)},
        {"memory_bytes", offsetof(viv_policy, memory_bytes)},
        {"stdout_max_bytes", offsetof(viv_policy, stdout_max_bytes)},
        {"stderr_max_bytes", offsetof(viv_policy, stderr_max_bytes)},
    };
    for (size_t i = 0; i < sizeof positives / sizeof *positives; i++) {
        int64_t v;
        memcpy(&v, (const char *)p + positives[i].offset, sizeof v);
        if (v <= 0) {
            return viv_error_set(err, VIV_EPOLICY, positives[i].name, NULL,
                                 "%s must be positive, got %lld", positives[i].name, (long long)v);
        }
    }
    if (p->memory_bytes > VIV_POLICY_MAX_MEMORY) {
        return viv_error_set(err, VIV_EPOLICY, "memory_bytes", NULL,
                             "memory_bytes must be at most 4 GiB (4294967296), got %lld",
                             (long long)p->memory_bytes);
    }
    if (!(p->timeout_seconds >= 0.0) || !isfinite(p->timeout_seconds)) {
        return viv_error_set(err, VIV_EPOLICY, "timeout_seconds", NULL,
                             "timeout_seconds must not be negative, got %g", p->timeout_seconds);
    }
    if (p->argc == 0) {
        return viv_error_set(err, VIV_EPOLICY, "argv", NULL, "argv must not be empty");
    }
    viv_status st = check_guest_path(p->guest_mount_path, "guest_mount_path", err);
    if (st != VIV_OK) {
        return st;
    }
    if (p->workspace != NULL && (st = check_host_dir(p->workspace, "mount_host_dir", err))) {
        return st;
    }
    if (p->data_dir != NULL) {
        if ((st = check_host_dir(p->data_dir, "mount_data_dir", err)) ||
            (st = check_guest_path(p->guest_data_path, "guest_data_path", err))) {
            return st;
        }
        if (paths_collide(p->guest_data_path, p->guest_mount_path)) {
            return viv_error_set(err, VIV_EPOLICY, "guest_data_path", NULL,
                                 "guest_data_path %s collides with guest_mount_path %s",
                                 p->guest_data_path, p->guest_mount_path);
        }
    }
    for (size_t i = 0; i < p->nmounts; i++) {
        const char *g = p->mounts[i].guest;
        if ((st = check_host_dir(p->mounts[i].host, "additional_readonly_mounts", err)) ||
            (st = check_guest_path(g, "additional_readonly_mounts", err))) {
            return st;
        }
        bool clash = paths_collide(g, p->guest_mount_path) ||
                     (p->data_dir != NULL && paths_collide(g, p->guest_data_path)) ||
                     paths_collide(g, "/.vivarium");
        for (size_t j = 0; j < i && !clash; j++) {
            clash = paths_collide(g, p->mounts[j].guest);
        }
        if (clash) {
            return viv_error_set(err, VIV_EPOLICY, "additional_readonly_mounts", NULL,
                                 "guest path %s collides with another mount", g);
        }
    }
    for (size_t i = 0; i < p->nenv; i++) {
        if (p->env[i].key[0] == '\0' || strchr(p->env[i].key, '=') != NULL) {
            return viv_error_set(err, VIV_EPOLICY, "env", NULL, "env key \"%s\" is invalid",
                                 p->env[i].key);
        }
    }
    return VIV_OK;
}
