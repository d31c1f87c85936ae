/*
 * src/policy/policy_emit.c: a policy written out as TOML.
 *
 * Owns: viv_policy_to_toml, the serialised form a policy travels in when it
 * crosses a process boundary (the `vivarium serve` protocol). The text is a
 * policy file in the schema of policy_toml.c, so the receiving side parses
 * it with the same loader, setters and validation as any policy file: there
 * is one parser of policies, not two.
 *
 * Round trip: every field is written, including the defaults, so loading
 * the text over a policy fresh from viv_policy_new() whose env was cleared
 * (viv_policy_clear_env) reproduces p exactly. The env must be cleared
 * first because [env] merges key by key: a key the caller removed would
 * otherwise come back from the defaults.
 */
#include "policy.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct out_buf {
    char *data;
    size_t len, cap;
    bool failed;
} out_buf;

static void put(out_buf *b, const char *s, size_t n)
{
    if (b->failed) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *grown = realloc(b->data, cap);
        if (grown == NULL) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void putf(out_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(out_buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->failed = true;
        return;
    }
    put(b, tmp, (size_t)n);
}

/* Whether s is well-formed UTF-8: TOML text must be, and the loader checks
 * it, so a string that is not cannot be written at all. */
static bool valid_utf8(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s;
        size_t n = c < 0x80             ? 0
                   : (c & 0xE0) == 0xC0 ? 1
                   : (c & 0xF0) == 0xE0 ? 2
                   : (c & 0xF8) == 0xF0 ? 3
                                        : 4;
        if (n == 4 || (n == 1 && c < 0xC2)) {
            return false;
        }
        uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1F) : n == 2 ? (c & 0x0F) : (c & 0x07);
        for (size_t i = 1; i <= n; i++) {
            if ((s[i] & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
            return false;
        }
        s += n + 1;
    }
    return true;
}

/* A TOML basic string. Control characters are escaped; everything else
 * (already checked to be UTF-8) goes through as it is. */
static void put_string(out_buf *b, const char *s, const char *field, viv_status *st, viv_error *err)
{
    if (*st != VIV_OK) {
        return;
    }
    if (!valid_utf8((const unsigned char *)s)) {
        *st = viv_error_set(err, VIV_EINVAL, field, NULL,
                            "%s is not valid UTF-8, so it cannot be written as TOML", field);
        return;
    }
    put(b, "\"", 1);
    for (const char *c = s; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u == '"' || u == '\\') {
            char esc[2] = {'\\', (char)u};
            put(b, esc, 2);
        } else if (u < 0x20 || u == 0x7F) {
            putf(b, "\\u%04X", u);
        } else {
            put(b, c, 1);
        }
    }
    put(b, "\"", 1);
}

viv_status viv_policy_to_toml(const viv_policy *p, char **toml, size_t *len, viv_error *err)
{
    if (p == NULL || toml == NULL) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "policy and toml must not be NULL");
    }
    *toml = NULL;
    if (!isfinite(p->timeout_seconds)) {
        return viv_error_set(err, VIV_EPOLICY, "timeout_seconds", NULL,
                             "timeout_seconds must be a finite number");
    }
    out_buf b = {0};
    viv_status st = VIV_OK;
    putf(&b, "fuel_budget = %lld\n", (long long)p->fuel_budget);
    putf(&b, "memory_bytes = %lld\n", (long long)p->memory_bytes);
    putf(&b, "stdout_max_bytes = %lld\n", (long long)p->stdout_max_bytes);
    putf(&b, "stderr_max_bytes = %lld\n", (long long)p->stderr_max_bytes);
    /* 17 significant digits give back the same double; TOML needs a "." or
     * an exponent to read a float, so one is added when %g left it out. */
    char num[64];
    snprintf(num, sizeof num, "%.17g", p->timeout_seconds);
    putf(&b, "timeout_seconds = %s%s\n", num, strpbrk(num, ".e") ? "" : ".0");
    putf(&b, "preserve_logs = %s\n", p->preserve_logs ? "true" : "false");
    putf(&b, "require_kernel_isolation = %s\n", p->require_kernel_isolation ? "true" : "false");
    putf(&b, "persist_state = \"%s\"\n", viv_state_mode_name(p->persist_state));
    if (p->workspace != NULL) {
        put(&b, "mount_host_dir = ", 17);
        put_string(&b, p->workspace, "mount_host_dir", &st, err);
        put(&b, "\n", 1);
    }
    put(&b, "guest_mount_path = ", 19);
    put_string(&b, p->guest_mount_path, "guest_mount_path", &st, err);
    put(&b, "\n", 1);
    if (p->data_dir != NULL) {
        put(&b, "mount_data_dir = ", 17);
        put_string(&b, p->data_dir, "mount_data_dir", &st, err);
        put(&b, "\n", 1);
    }
    put(&b, "guest_data_path = ", 18);
    put_string(&b, p->guest_data_path, "guest_data_path", &st, err);
    put(&b, "\n", 1);
    put(&b, "argv = [", 8);
    for (size_t i = 0; i < p->argc; i++) {
        put(&b, i ? ", " : "", i ? 2 : 0);
        put_string(&b, p->argv[i], "argv", &st, err);
    }
    put(&b, "]\n", 2);
    /* Tables rather than "HOST:GUEST" strings: a host path may hold ':'. */
    put(&b, "additional_readonly_mounts = [", 30);
    for (size_t i = 0; i < p->nmounts; i++) {
        put(&b, i ? ", {host = " : "{host = ", i ? 10 : 8);
        put_string(&b, p->mounts[i].host, "additional_readonly_mounts", &st, err);
        put(&b, ", guest = ", 10);
        put_string(&b, p->mounts[i].guest, "additional_readonly_mounts", &st, err);
        put(&b, "}", 1);
    }
    put(&b, "]\n", 2);
    /* Last: everything after a table header belongs to the table. */
    put(&b, "[env]\n", 6);
    for (size_t i = 0; i < p->nenv; i++) {
        put_string(&b, p->env[i].key, "env", &st, err);
        put(&b, " = ", 3);
        put_string(&b, p->env[i].value, "env", &st, err);
        put(&b, "\n", 1);
    }
    if (st == VIV_OK && b.failed) {
        st = viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    if (st != VIV_OK) {
        free(b.data);
        return st;
    }
    *toml = b.data;
    if (len != NULL) {
        *len = b.len;
    }
    return VIV_OK;
}
