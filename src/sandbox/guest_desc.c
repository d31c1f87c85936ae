/*
 * src/sandbox/guest_desc.c: reading guest descriptors (see guest_desc.h).
 */
#include "guest_desc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DESC_MAX_LINE 4096

void viv_guest_desc_free(viv_guest_desc *d)
{
    if (d == NULL) {
        return;
    }
    free(d->name);
    free(d->version);
    free(d->stdlib_sha256);
    for (size_t i = 0; i < d->nmounts; i++) {
        free(d->mounts[i].host);
        free(d->mounts[i].guest);
    }
    memset(d, 0, sizeof *d);
}

/* Absolute, no empty, "." or ".." components, not "/" itself: the same
 * shape the policy asks of its mounts. */
static bool guest_path_ok(const char *p)
{
    if (p[0] != '/' || p[1] == '\0' || strlen(p) >= PATH_MAX) {
        return false;
    }
    const char *c = p + 1;
    while (*c != '\0') {
        const char *end = strchr(c, '/');
        size_t n = end ? (size_t)(end - c) : strlen(c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) {
            return false;
        }
        if (end == NULL) {
            break;
        }
        c = end + 1;
        if (*c == '\0') {
            return false; /* trailing slash */
        }
    }
    return true;
}

static char *next_word(char **s)
{
    char *p = *s;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p == '\0') {
        *s = p;
        return NULL;
    }
    char *start = p;
    while (*p != '\0' && *p != ' ' && *p != '\t') {
        p++;
    }
    if (*p != '\0') {
        *p++ = '\0';
    }
    *s = p;
    return start;
}

static viv_status add_mount(viv_guest_desc *d, const char *dir, const char *host, const char *guest,
                            const char *path, int line, viv_error *err)
{
    if (d->nmounts >= VIV_GUEST_MAX_MOUNTS) {
        return viv_error_set(err, VIV_EINVAL, "ro-mount", path,
                             "%s:%d: more than %d ro-mount lines", path, line,
                             VIV_GUEST_MAX_MOUNTS);
    }
    if (!guest_path_ok(guest)) {
        return viv_error_set(err, VIV_EINVAL, "ro-mount", path,
                             "%s:%d: guest path '%s' must be absolute and normalised", path, line,
                             guest);
    }
    char joined[PATH_MAX];
    int n = host[0] == '/' ? snprintf(joined, sizeof joined, "%s", host)
                           : snprintf(joined, sizeof joined, "%s/%s", dir, host);
    if (n < 0 || (size_t)n >= sizeof joined) {
        return viv_error_set(err, VIV_EINVAL, "ro-mount", path, "%s:%d: host path too long", path,
                             line);
    }
    char resolved[PATH_MAX];
    struct stat st;
    if (realpath(joined, resolved) == NULL || stat(resolved, &st) != 0) {
        return viv_error_set(err, VIV_ENOENT, "ro-mount", joined, "%s:%d: host directory %s: %s",
                             path, line, joined, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        return viv_error_set(err, VIV_ENOENT, "ro-mount", joined,
                             "%s:%d: host directory %s: not a directory", path, line, joined);
    }
    viv_guest_mount *m = &d->mounts[d->nmounts];
    m->host = strdup(resolved);
    m->guest = strdup(guest);
    if (m->host == NULL || m->guest == NULL) {
        free(m->host);
        free(m->guest);
        m->host = m->guest = NULL;
        return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    d->nmounts++;
    return VIV_OK;
}

static viv_status parse_line(viv_guest_desc *d, char *line, const char *dir, const char *path,
                             int lineno, viv_error *err)
{
    char *rest = line;
    char *key = next_word(&rest);
    if (key == NULL || key[0] == '#') {
        return VIV_OK;
    }
    if (strcmp(key, "name") == 0 || strcmp(key, "version") == 0) {
        while (*rest == ' ' || *rest == '\t') {
            rest++;
        }
        if (*rest == '\0') {
            return viv_error_set(err, VIV_EINVAL, key, path, "%s:%d: %s needs a value", path,
                                 lineno, key);
        }
        char **slot = key[0] == 'n' ? &d->name : &d->version;
        free(*slot);
        *slot = strdup(rest);
        return *slot ? VIV_OK : viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    if (strcmp(key, "stdlib-sha256") == 0) {
        char *hex = next_word(&rest);
        if (hex == NULL || next_word(&rest) != NULL || strlen(hex) != 64 ||
            strspn(hex, "0123456789abcdef") != 64) {
            return viv_error_set(err, VIV_EINVAL, key, path,
                                 "%s:%d: expected 'stdlib-sha256' and 64 lowercase hex digits",
                                 path, lineno);
        }
        free(d->stdlib_sha256);
        d->stdlib_sha256 = strdup(hex);
        return d->stdlib_sha256 ? VIV_OK
                                : viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    if (strcmp(key, "ro-mount") == 0) {
        char *host = next_word(&rest);
        char *guest = next_word(&rest);
        if (host == NULL || guest == NULL || next_word(&rest) != NULL) {
            return viv_error_set(err, VIV_EINVAL, "ro-mount", path,
                                 "%s:%d: expected 'ro-mount HOST_DIR GUEST_PATH'", path, lineno);
        }
        return add_mount(d, dir, host, guest, path, lineno, err);
    }
    return viv_error_set(err, VIV_EINVAL, key, path, "%s:%d: unknown directive '%s'", path, lineno,
                         key);
}

viv_status viv_guest_desc_load_file(const char *desc_path, viv_guest_desc *out, viv_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(desc_path, "re");
    if (f == NULL) {
        return viv_error_set(err, errno == ENOENT ? VIV_ENOENT : VIV_EHOST, NULL, desc_path,
                             "guest descriptor %s: %s", desc_path, strerror(errno));
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", desc_path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        *slash = '\0';
    }
    char line[DESC_MAX_LINE];
    int lineno = 0;
    viv_status st = VIV_OK;
    while (st == VIV_OK && fgets(line, sizeof line, f) != NULL) {
        lineno++;
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] == '\n') {
            line[--n] = '\0';
        } else if (!feof(f)) {
            st = viv_error_set(err, VIV_EINVAL, NULL, desc_path, "%s:%d: line too long", desc_path,
                               lineno);
            break;
        }
        st = parse_line(out, line, dir, desc_path, lineno, err);
    }
    if (st == VIV_OK && ferror(f)) {
        st = viv_error_set(err, VIV_EHOST, NULL, desc_path, "reading %s failed", desc_path);
    }
    fclose(f);
    if (st != VIV_OK) {
        viv_guest_desc_free(out);
    }
    return st;
}

viv_status viv_guest_desc_load(const char *wasm_path, viv_guest_desc *out, viv_error *err)
{
    memset(out, 0, sizeof *out);
    size_t n = strlen(wasm_path);
    if (n <= 5 || strcmp(wasm_path + n - 5, ".wasm") != 0 || n + 1 >= PATH_MAX) {
        return VIV_OK;
    }
    char desc[PATH_MAX];
    snprintf(desc, sizeof desc, "%.*s.guest", (int)(n - 5), wasm_path);
    struct stat st;
    if (stat(desc, &st) != 0 && errno == ENOENT) {
        return VIV_OK;
    }
    return viv_guest_desc_load_file(desc, out, err);
}
