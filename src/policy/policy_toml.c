/*
 * src/policy/policy_toml.c: policy files.
 *
 * Owns: the policy-file schema (which top-level keys exist and what type
 * each takes), reading the file, resolving relative host paths against the
 * file's directory, and the all-or-nothing merge of a file over a policy.
 *
 * Does not own: what values are acceptable. Every value goes through the
 * public setters and the result through viv_policy_validate, so a policy
 * built from a file is held to exactly the rules and messages of one built
 * in code.
 *
 * error.field for a problem found while reading the file is the path of the
 * offending TOML value, which always starts with the top-level key:
 * "fuel_budjet", "env.HOME", "argv[2]", "additional_readonly_mounts[0].hots".
 * Errors raised by a setter keep the setter's field ("env", "fuel_budget").
 */
#include "policy.h"
#include "policy/toml.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Real policies are a few hundred bytes; the cap only stops a wrong path
 * (a log, a device) from being slurped into memory. */
#define POLICY_FILE_MAX ((size_t)1 << 20)

/* Long enough for any key path we build; viv_error_set truncates it to the
 * size of error.field. */
#define FIELD_MAX 256

static viv_status oom(viv_error *err)
{
    return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
}

static const char *type_name(const viv_toml_value *v)
{
    switch (viv_toml_type_of(v)) {
    case VIV_TOML_TABLE:
        return "a table";
    case VIV_TOML_ARRAY:
        return "an array";
    case VIV_TOML_STRING:
        return "a string";
    case VIV_TOML_INTEGER:
        return "an integer";
    case VIV_TOML_FLOAT:
        return "a float";
    case VIV_TOML_BOOL:
        return "a boolean";
    case VIV_TOML_DATETIME:
        return "an offset date-time";
    case VIV_TOML_DATETIME_LOCAL:
        return "a local date-time";
    case VIV_TOML_DATE_LOCAL:
        return "a local date";
    case VIV_TOML_TIME_LOCAL:
        return "a local time";
    case VIV_TOML_NONE:
        break;
    }
    return "nothing";
}

static viv_status type_error(const char *field, const char *expected, const viv_toml_value *v,
                             viv_error *err)
{
    viv_error_set(err, VIV_EPOLICY, field, NULL, "%s must be %s, got %s", field, expected,
                  type_name(v));
    /* Not viv_error_set's result: callers rely on a failure here to skip the
     * value, and the analyzer cannot see across files that it is nonzero. */
    return VIV_EPOLICY;
}

/* A C string from a TOML string. TOML lets "\u0000" into a string, and
 * every consumer of these (paths, argv, environ) would silently cut at it. */
static viv_status get_string(const viv_toml_value *v, const char *field, const char **out,
                             viv_error *err)
{
    size_t len;
    const char *s = viv_toml_string(v, &len);
    if (s == NULL) {
        return type_error(field, "a string", v, err);
    }
    if (strlen(s) != len) {
        viv_error_set(err, VIV_EPOLICY, field, NULL, "%s must not contain NUL characters", field);
        return VIV_EPOLICY;
    }
    *out = s;
    return VIV_OK;
}

/* --- host paths ------------------------------------------------------------ */

/* Joins dir and path (dir ignored when path is absolute) and drops empty and
 * "." components. ".." is kept: folding it away lexically would be wrong
 * when the component before it is a symlink. */
static char *join_path(const char *dir, const char *path)
{
    size_t cap = (dir ? strlen(dir) : 0) + strlen(path) + 3;
    char *out = malloc(cap);
    if (out == NULL) {
        return NULL;
    }
    size_t n = 0;
    const char *parts[2] = {path[0] == '/' ? NULL : dir, path};
    for (size_t k = 0; k < 2; k++) {
        const char *c = parts[k];
        while (c != NULL && *c) {
            while (*c == '/') {
                c++;
            }
            size_t len = strcspn(c, "/");
            if (len > 0 && !(len == 1 && c[0] == '.')) {
                out[n++] = '/';
                memcpy(out + n, c, len);
                n += len;
            }
            c += len;
        }
    }
    if (n == 0) {
        out[n++] = '/';
    }
    out[n] = '\0';
    return out;
}

/* The absolute directory relative host paths are taken against. Resolved
 * once, at load time, so the policy does not change meaning if the process
 * later changes directory. */
static viv_status absolute_dir(const char *dir, size_t dir_len, char **out, viv_error *err)
{
    *out = NULL;
    char *rel = strndup(dir ? dir : ".", dir ? dir_len : 1);
    if (rel == NULL) {
        return oom(err);
    }
    char *cwd = NULL;
    if (rel[0] != '/') {
        cwd = getcwd(NULL, 0);
        if (cwd == NULL) {
            int e = errno;
            free(rel);
            return e == ENOMEM ? oom(err)
                               : viv_error_set(err, VIV_EHOST, NULL, NULL,
                                               "cannot resolve relative paths in the policy: "
                                               "current directory: %s",
                                               strerror(e));
        }
    }
    *out = join_path(cwd, rel);
    free(cwd);
    free(rel);
    return *out ? VIV_OK : oom(err);
}

typedef struct loader {
    viv_policy *p; /* the copy being built, never the caller's policy */
    const char *base_dir;
    viv_error *err;
} loader;

static viv_status host_path(const loader *ld, const viv_toml_value *v, const char *field,
                            char **out)
{
    *out = NULL;
    const char *s = NULL;
    viv_status st = get_string(v, field, &s, ld->err);
    if (st != VIV_OK) {
        return st;
    }
    /* "" would otherwise resolve to the policy file's own directory. */
    if (s[0] == '\0') {
        return viv_error_set(ld->err, VIV_EPOLICY, field, NULL, "%s must not be empty", field);
    }
    *out = join_path(ld->base_dir, s);
    return *out ? VIV_OK : oom(ld->err);
}

/* --- the schema ------------------------------------------------------------ */

typedef viv_status (*int_setter)(viv_policy *, int64_t, viv_error *);
typedef viv_status (*str_setter)(viv_policy *, const char *, viv_error *);

enum key_kind {
    KEY_INT,
    KEY_SECONDS,
    KEY_STRING,
    KEY_HOST_DIR,
    KEY_BOOL,
    KEY_ARGV,
    KEY_MOUNTS,
    KEY_ENV
};

static viv_status set_persist_state(viv_policy *p, const char *name, viv_error *err)
{
    viv_state_mode mode;
    viv_status st = viv_state_mode_parse(name, &mode, err);
    return st != VIV_OK ? st : viv_policy_set_persist_state(p, mode, err);
}

static const struct policy_key {
    const char *name;
    enum key_kind kind;
    int_setter set_int;
    str_setter set_str;
} policy_keys[] = {
    {"fuel_budget", KEY_INT, viv_policy_set_fuel_budget, NULL},
    {"memory_bytes", KEY_INT, viv_policy_set_memory_bytes, NULL},
    {"stdout_max_bytes", KEY_INT, viv_policy_set_stdout_max_bytes, NULL},
    {"stderr_max_bytes", KEY_INT, viv_policy_set_stderr_max_bytes, NULL},
    {"timeout_seconds", KEY_SECONDS, NULL, NULL},
    {"mount_host_dir", KEY_HOST_DIR, NULL, viv_policy_set_workspace},
    {"guest_mount_path", KEY_STRING, NULL, viv_policy_set_guest_mount_path},
    {"mount_data_dir", KEY_HOST_DIR, NULL, viv_policy_set_data_dir},
    {"guest_data_path", KEY_STRING, NULL, viv_policy_set_guest_data_path},
    {"additional_readonly_mounts", KEY_MOUNTS, NULL, NULL},
    {"argv", KEY_ARGV, NULL, NULL},
    {"preserve_logs", KEY_BOOL, NULL, NULL},
    {"require_kernel_isolation", KEY_BOOL, NULL, NULL},
    {"persist_state", KEY_STRING, NULL, set_persist_state},
    {"env", KEY_ENV, NULL, NULL},
};

#define NKEYS (sizeof policy_keys / sizeof *policy_keys)

static viv_status apply_argv(const loader *ld, const viv_toml_value *v)
{
    if (viv_toml_type_of(v) != VIV_TOML_ARRAY) {
        return type_error("argv", "an array of strings", v, ld->err);
    }
    size_t n = viv_toml_array_len(v);
    if (n == 0) {
        return viv_policy_set_argv(ld->p, NULL, 0, ld->err);
    }
    const char **argv = calloc(n, sizeof *argv);
    if (argv == NULL) {
        return oom(ld->err);
    }
    viv_status st = VIV_OK;
    for (size_t i = 0; st == VIV_OK && i < n; i++) {
        char field[FIELD_MAX];
        snprintf(field, sizeof field, "argv[%zu]", i);
        st = get_string(viv_toml_array_item(v, i), field, &argv[i], ld->err);
    }
    if (st == VIV_OK) {
        st = viv_policy_set_argv(ld->p, argv, n, ld->err);
    }
    free(argv);
    return st;
}

static viv_status mount_from_string(const loader *ld, const viv_toml_value *item, const char *field)
{
    const char *s = NULL;
    viv_status st = get_string(item, field, &s, ld->err);
    if (st != VIV_OK) {
        return st;
    }
    /* The last colon, as the CLI's --mount does: guest paths are chosen by
     * the policy author, host paths may be anything. */
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s || colon[1] == '\0') {
        return viv_error_set(ld->err, VIV_EPOLICY, field, NULL,
                             "%s must be \"HOST:GUEST\" or {host = ..., guest = ...}, got \"%s\"",
                             field, s);
    }
    char *host = strndup(s, (size_t)(colon - s));
    if (host == NULL) {
        return oom(ld->err);
    }
    char *abs = join_path(ld->base_dir, host);
    free(host);
    if (abs == NULL) {
        return oom(ld->err);
    }
    st = viv_policy_add_mount(ld->p, abs, colon + 1, ld->err);
    free(abs);
    return st;
}

static viv_status mount_from_table(const loader *ld, const viv_toml_value *item, size_t index,
                                   const char *field)
{
    char sub[FIELD_MAX];
    for (size_t k = 0; k < viv_toml_table_count(item); k++) {
        size_t len;
        const char *key = viv_toml_table_key(item, k, &len);
        if (!((len == 4 && memcmp(key, "host", 4) == 0) ||
              (len == 5 && memcmp(key, "guest", 5) == 0))) {
            snprintf(sub, sizeof sub, "additional_readonly_mounts[%zu].%s", index, key);
            return viv_error_set(ld->err, VIV_EPOLICY, sub, NULL,
                                 "unknown key \"%s\" in %s: a mount has only host and guest", key,
                                 field);
        }
    }
    const viv_toml_value *hv = viv_toml_table_get(item, "host");
    const viv_toml_value *gv = viv_toml_table_get(item, "guest");
    if (hv == NULL || gv == NULL) {
        return viv_error_set(ld->err, VIV_EPOLICY, field, NULL, "%s needs both host and guest",
                             field);
    }
    const char *guest = NULL;
    char *host = NULL;
    snprintf(sub, sizeof sub, "additional_readonly_mounts[%zu].guest", index);
    viv_status st = get_string(gv, sub, &guest, ld->err);
    if (st != VIV_OK) {
        return st;
    }
    snprintf(sub, sizeof sub, "additional_readonly_mounts[%zu].host", index);
    if ((st = host_path(ld, hv, sub, &host)) != VIV_OK) {
        return st;
    }
    st = viv_policy_add_mount(ld->p, host, guest, ld->err);
    free(host);
    return st;
}

static viv_status apply_mounts(const loader *ld, const viv_toml_value *v)
{
    if (viv_toml_type_of(v) != VIV_TOML_ARRAY) {
        return type_error("additional_readonly_mounts",
                          "an array of \"HOST:GUEST\" strings or {host, guest} tables", v, ld->err);
    }
    /* The key replaces the list, like every other top-level key; there is no
     * public clear, and this file may touch the struct (it is ours). */
    viv_policy *p = ld->p;
    for (size_t i = 0; i < p->nmounts; i++) {
        free(p->mounts[i].host);
        free(p->mounts[i].guest);
    }
    free(p->mounts);
    p->mounts = NULL;
    p->nmounts = 0;

    viv_status st = VIV_OK;
    for (size_t i = 0; st == VIV_OK && i < viv_toml_array_len(v); i++) {
        const viv_toml_value *item = viv_toml_array_item(v, i);
        char field[FIELD_MAX];
        snprintf(field, sizeof field, "additional_readonly_mounts[%zu]", i);
        switch (viv_toml_type_of(item)) {
        case VIV_TOML_STRING:
            st = mount_from_string(ld, item, field);
            break;
        case VIV_TOML_TABLE:
            st = mount_from_table(ld, item, i, field);
            break;
        default:
            st = type_error(field, "a \"HOST:GUEST\" string or a {host, guest} table", item,
                            ld->err);
        }
    }
    return st;
}

static viv_status apply_env(const loader *ld, const viv_toml_value *v)
{
    if (viv_toml_type_of(v) != VIV_TOML_TABLE) {
        return type_error("env", "a table of strings", v, ld->err);
    }
    for (size_t i = 0; i < viv_toml_table_count(v); i++) {
        size_t len;
        const char *key = viv_toml_table_key(v, i, &len);
        char field[FIELD_MAX];
        snprintf(field, sizeof field, "env.%s", key);
        if (strlen(key) != len) {
            return viv_error_set(ld->err, VIV_EPOLICY, field, NULL,
                                 "env key \"%s...\" must not contain NUL characters", key);
        }
        const char *value = NULL;
        viv_status st = get_string(viv_toml_table_value(v, i), field, &value, ld->err);
        if (st == VIV_OK) {
            st = viv_policy_set_env(ld->p, key, value, ld->err);
        }
        if (st != VIV_OK) {
            return st;
        }
    }
    return VIV_OK;
}

static viv_status apply_key(const loader *ld, const struct policy_key *k, const viv_toml_value *v)
{
    viv_error *err = ld->err;
    switch (k->kind) {
    case KEY_INT: {
        int64_t i;
        if (!viv_toml_int(v, &i)) {
            return type_error(k->name, "an integer", v, err);
        }
        return k->set_int(ld->p, i, err);
    }
    case KEY_SECONDS: {
        int64_t i;
        double d;
        if (viv_toml_int(v, &i)) {
            d = (double)i;
        } else if (!viv_toml_float(v, &d)) {
            return type_error(k->name, "a number", v, err);
        }
        return viv_policy_set_timeout_seconds(ld->p, d, err);
    }
    case KEY_STRING: {
        const char *s = NULL;
        viv_status st = get_string(v, k->name, &s, err);
        return st != VIV_OK ? st : k->set_str(ld->p, s, err);
    }
    case KEY_HOST_DIR: {
        char *abs = NULL;
        viv_status st = host_path(ld, v, k->name, &abs);
        if (st == VIV_OK) {
            st = k->set_str(ld->p, abs, err);
            free(abs);
        }
        return st;
    }
    case KEY_BOOL: {
        bool b;
        if (!viv_toml_bool(v, &b)) {
            return type_error(k->name, "a boolean", v, err);
        }
        if (strcmp(k->name, "require_kernel_isolation") == 0) {
            return viv_policy_set_require_kernel_isolation(ld->p, b, err);
        }
        return viv_policy_set_preserve_logs(ld->p, b, err);
    }
    case KEY_ARGV:
        return apply_argv(ld, v);
    case KEY_MOUNTS:
        return apply_mounts(ld, v);
    case KEY_ENV:
        return apply_env(ld, v);
    }
    return viv_error_set(err, VIV_EPOLICY, k->name, NULL, "%s is not handled", k->name);
}

/* Edit distance, for "did you mean": typos are the likeliest unknown keys. */
static size_t edit_distance(const char *a, size_t la, const char *b)
{
    size_t lb = strlen(b);
    size_t row[64];
    if (la >= 64 || lb >= 64) {
        return SIZE_MAX;
    }
    for (size_t j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static viv_status unknown_key(const char *key, size_t len, const viv_toml_value *v, viv_error *err)
{
    const char *guess = NULL;
    size_t best = 3; /* further than two edits away is not a typo */
    for (size_t i = 0; i < NKEYS; i++) {
        size_t d = edit_distance(key, len, policy_keys[i].name);
        if (d < best) {
            best = d;
            guess = policy_keys[i].name;
        }
    }
    const char *what = viv_toml_type_of(v) == VIV_TOML_TABLE ? "table" : "key";
    if (guess != NULL) {
        return viv_error_set(err, VIV_EPOLICY, key, NULL,
                             "unknown policy %s \"%s\" (did you mean \"%s\"?)", what, key, guess);
    }
    return viv_error_set(err, VIV_EPOLICY, key, NULL, "unknown policy %s \"%s\"%s", what, key,
                         viv_toml_type_of(v) == VIV_TOML_TABLE ? " (only [env] may be a table)"
                                                               : "");
}

static viv_status apply_document(const loader *ld, const viv_toml_value *root)
{
    for (size_t i = 0; i < viv_toml_table_count(root); i++) {
        size_t len;
        const char *key = viv_toml_table_key(root, i, &len);
        const viv_toml_value *v = viv_toml_table_value(root, i);
        const struct policy_key *k = NULL;
        for (size_t j = 0; j < NKEYS && k == NULL; j++) {
            if (strlen(policy_keys[j].name) == len && memcmp(policy_keys[j].name, key, len) == 0) {
                k = &policy_keys[j];
            }
        }
        viv_status st = k ? apply_key(ld, k, v) : unknown_key(key, len, v, ld->err);
        if (st != VIV_OK) {
            return st;
        }
    }
    /* The setter already maps NULL to "/data"; this only guards a policy
     * whose guest path was never set, so a data dir is always mounted. */
    if (ld->p->data_dir != NULL && ld->p->guest_data_path == NULL) {
        return viv_policy_set_guest_data_path(ld->p, NULL, ld->err);
    }
    return VIV_OK;
}

/* --- loading --------------------------------------------------------------- */

/* file is the policy file's path for messages, or NULL for a string. */
static viv_status load(viv_policy *p, const char *text, size_t len, const char *base_dir,
                       size_t base_len, const char *file, viv_error *err)
{
    viv_toml_value *root = NULL;
    viv_toml_error terr;
    if (viv_toml_parse(text, len, &root, &terr) != 0) {
        return viv_error_set(err, VIV_EPOLICY, NULL, file, "%s: line %d, column %d: %s",
                             file ? file : "policy", terr.line, terr.column, terr.message);
    }
    loader ld = {NULL, NULL, err};
    char *abs_base = NULL;
    viv_status st = absolute_dir(base_dir, base_len, &abs_base, err);
    if (st == VIV_OK) {
        st = viv_policy_copy(p, &ld.p, err);
    }
    if (st == VIV_OK) {
        ld.base_dir = abs_base;
        st = apply_document(&ld, root);
        /* Setter messages carry no path; the policy file is the one at fault. */
        if (st != VIV_OK && file != NULL && err != NULL && err->path[0] == '\0') {
            snprintf(err->path, sizeof err->path, "%s", file);
        }
    }
    if (st == VIV_OK) {
        st = viv_policy_validate(ld.p, err);
    }
    if (st == VIV_OK) {
        /* Every pointer in the struct is owned by it alone, so swapping the
         * contents hands the new ones to p and the old ones to the copy,
         * which frees them. */
        struct viv_policy old = *p;
        *p = *ld.p;
        *ld.p = old;
    }
    viv_policy_free(ld.p);
    free(abs_base);
    viv_toml_free(root);
    return st;
}

static viv_status read_policy_file(const char *path, char **out, size_t *out_len, viv_error *err)
{
    *out = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        /* Anything that stops the file being opened by name is, to the
         * caller, a policy file that is not there; VIV_EHOST is kept for the
         * host failing (descriptors, memory, I/O). */
        bool missing = e == ENOENT || e == ENOTDIR || e == EACCES || e == EPERM || e == ELOOP ||
                       e == ENAMETOOLONG;
        return viv_error_set(err, missing ? VIV_ENOENT : VIV_EHOST, NULL, path,
                             "cannot open policy file %s: %s", path, strerror(e));
    }
    struct stat sb;
    size_t cap = 4096;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        /* Fail before reading a huge regular file; pipes are read up to the cap. */
        if ((uintmax_t)sb.st_size > POLICY_FILE_MAX) {
            close(fd);
            return viv_error_set(err, VIV_EPOLICY, NULL, path,
                                 "policy file %s is too large (%jd bytes, limit %zu)", path,
                                 (intmax_t)sb.st_size, POLICY_FILE_MAX);
        }
        cap = (size_t)sb.st_size + 1;
    }
    char *buf = NULL;
    size_t len = 0;
    viv_status st = VIV_OK;
    for (;;) {
        if (len == cap || buf == NULL) {
            if (buf != NULL) {
                cap *= 2;
            }
            if (cap > POLICY_FILE_MAX + 1) {
                cap = POLICY_FILE_MAX + 1;
            }
            char *grown = realloc(buf, cap);
            if (grown == NULL) {
                st = oom(err);
                break;
            }
            buf = grown;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            st = viv_error_set(err, VIV_EHOST, NULL, path, "cannot read policy file %s: %s", path,
                               strerror(errno));
            break;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        if (len > POLICY_FILE_MAX) {
            st = viv_error_set(err, VIV_EPOLICY, NULL, path,
                               "policy file %s is too large (limit %zu bytes)", path,
                               POLICY_FILE_MAX);
            break;
        }
    }
    close(fd);
    if (st != VIV_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *out_len = len;
    return VIV_OK;
}

viv_status viv_policy_load_toml(viv_policy *p, const char *path, viv_error *err)
{
    if (p == NULL || path == NULL) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "policy and path must not be NULL");
    }
    char *text;
    size_t len;
    viv_status st = read_policy_file(path, &text, &len, err);
    if (st != VIV_OK) {
        return st;
    }
    const char *slash = strrchr(path, '/');
    const char *dir = slash ? path : NULL;
    size_t dir_len = slash == path ? 1 : slash ? (size_t)(slash - path) : 0;
    st = load(p, text, len, dir, dir_len, path, err);
    free(text);
    return st;
}

viv_status viv_policy_load_toml_string(viv_policy *p, const char *text, size_t len,
                                       const char *base_dir, viv_error *err)
{
    if (p == NULL || (text == NULL && len > 0)) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "policy and text must not be NULL");
    }
    return load(p, text ? text : "", len, base_dir, base_dir ? strlen(base_dir) : 0, NULL, err);
}
