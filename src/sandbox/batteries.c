/*
 * src/sandbox/batteries.c: the batteries tree beside a guest module, its
 * MANIFEST, and its read-only mounts (see batteries.h, docs/batteries.md).
 */
#include "batteries.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void unavailable(viv_batteries *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void unavailable(viv_batteries *b, const char *fmt, ...)
{
    b->available = false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->reason, sizeof b->reason, fmt, ap);
    va_end(ap);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A guest path in the MANIFEST: absolute, sane, and short enough. */
static bool copy_guest_path(char *dst, size_t len, const char *src)
{
    size_t n = strlen(src);
    if (src[0] != '/' || n >= len || strstr(src, "/..") != NULL || strstr(src, "/./") != NULL) {
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

static bool valid_module_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_')) {
        return false;
    }
    for (; *s; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_')) {
            return false;
        }
    }
    return true;
}

/* Reads MANIFEST: "vivarium-batteries 1", then "site PATH", "zoneinfo PATH",
 * "cache_tag TAG" and "module NAME PACKAGE VERSION" lines. */
static int read_manifest(FILE *f, viv_batteries *b)
{
    char line[1024];
    bool header = false;
    size_t cap = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *save = NULL;
        char *key = strtok_r(line, " ", &save);
        char *val = strtok_r(NULL, " ", &save);
        if (key == NULL) {
            continue;
        }
        if (!header) {
            if (strcmp(key, "vivarium-batteries") != 0 || val == NULL || strcmp(val, "1") != 0) {
                unavailable(b, "%s", "its MANIFEST is not a version 1 batteries manifest");
                return 0;
            }
            header = true;
        } else if (strcmp(key, "site") == 0 && val != NULL) {
            if (!copy_guest_path(b->site_guest, sizeof b->site_guest, val)) {
                unavailable(b, "its MANIFEST names a bad site path %s", val);
                return 0;
            }
        } else if (strcmp(key, "zoneinfo") == 0 && val != NULL) {
            if (!copy_guest_path(b->zoneinfo_guest, sizeof b->zoneinfo_guest, val)) {
                unavailable(b, "its MANIFEST names a bad zoneinfo path %s", val);
                return 0;
            }
        } else if (strcmp(key, "module") == 0 && val != NULL && valid_module_name(val)) {
            if (b->nmodules == cap) {
                size_t ncap = cap ? cap * 2 : 32;
                char **grown = realloc(b->modules, ncap * sizeof *grown);
                if (grown == NULL) {
                    return -1;
                }
                b->modules = grown;
                cap = ncap;
            }
            if ((b->modules[b->nmodules] = strdup(val)) == NULL) {
                return -1;
            }
            b->nmodules++;
        }
        /* Other keys are information for people (cache_tag, ...). */
    }
    if (!header || b->site_guest[0] == '\0') {
        unavailable(b, "%s", "its MANIFEST is incomplete");
        return 0;
    }
    if (b->nmodules > 1) {
        qsort(b->modules, b->nmodules, sizeof *b->modules, cmp_str);
    }
    b->available = true;
    return 0;
}

int viv_batteries_find(const char *wasm_path, viv_batteries *b)
{
    memset(b, 0, sizeof *b);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", wasm_path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        *slash = '\0';
    }
    char want[4200];
    snprintf(want, sizeof want, "%s/%s", dir, VIV_BATTERIES_DIRNAME);
    /* build/guest/batteries is a link into the cache: mount what it points
     * at, so the jail's rules name the real directories. */
    if (realpath(want, b->root) == NULL) {
        unavailable(b, "no batteries tree at %s (see docs/batteries.md)", want);
        return 0;
    }
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/COMPLETE", b->root);
    if (stat(path, &st) != 0) {
        unavailable(b, "the batteries tree %s is incomplete (no COMPLETE marker)", b->root);
        return 0;
    }
    snprintf(path, sizeof path, "%s/MANIFEST", b->root);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        unavailable(b, "the batteries tree has no readable MANIFEST: %s", strerror(errno));
        return 0;
    }
    int rc = read_manifest(f, b);
    fclose(f);
    if (rc != 0) {
        viv_batteries_free(b);
        unavailable(b, "%s", "out of memory reading the batteries MANIFEST");
        return -1;
    }
    return 0;
}

static void drop_last_mounts(viv_policy *p, size_t keep)
{
    while (p->nmounts > keep) {
        p->nmounts--;
        free(p->mounts[p->nmounts].host);
        free(p->mounts[p->nmounts].guest);
    }
}

void viv_batteries_mount(viv_batteries *b, viv_policy *p)
{
    if (!b->available) {
        return;
    }
    size_t before = p->nmounts;
    char host[4200];
    viv_error err = {0};
    snprintf(host, sizeof host, "%s/site", b->root);
    viv_status st = viv_policy_add_mount(p, host, b->site_guest, &err);
    if (st == VIV_OK && b->zoneinfo_guest[0] != '\0') {
        snprintf(host, sizeof host, "%s/zoneinfo", b->root);
        st = viv_policy_add_mount(p, host, b->zoneinfo_guest, &err);
    }
    /* The policy's own checks decide: a collision with the user's mounts,
     * too many mounts, or a vanished directory leaves the policy as it was. */
    if (st == VIV_OK) {
        st = viv_policy_validate(p, &err);
    }
    if (st != VIV_OK) {
        drop_last_mounts(p, before);
        unavailable(b, "batteries not mounted: %s", err.message);
    }
}

viv_status viv_batteries_default_tmpdir(viv_policy *p, viv_error *err)
{
    for (size_t i = 0; i < p->nenv; i++) {
        if (strcmp(p->env[i].key, "TMPDIR") == 0) {
            return VIV_OK;
        }
    }
    return viv_policy_set_env(p, "TMPDIR", p->guest_mount_path, err);
}

void viv_batteries_free(viv_batteries *b)
{
    for (size_t i = 0; i < b->nmodules; i++) {
        free(b->modules[i]);
    }
    free(b->modules);
    b->modules = NULL;
    b->nmodules = 0;
}
