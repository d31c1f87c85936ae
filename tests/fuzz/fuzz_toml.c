/*
 * tests/fuzz/fuzz_toml.c: libFuzzer harness for the TOML parser
 * (src/policy/toml.h) and the TOML policy loader
 * (viv_policy_load_toml_string).
 *
 * Every input is handed to both:
 *
 *   1. viv_toml_parse. On success the whole document is walked through every
 *      accessor, checking what toml.h promises: keys and strings are
 *      NUL-terminated at their stated length, a key looked up by name finds
 *      the value stored under it, nesting stays within VIV_TOML_MAX_DEPTH,
 *      date-time values have text; accessors given the wrong type answer
 *      0/NULL/false. On failure the error has a 1-based line and column and
 *      a message.
 *   2. viv_policy_load_toml_string over a fresh policy, relative paths
 *      taken from a scratch directory with a "data" subdirectory. On error
 *      the policy must be exactly as before (docs/policy.md: "On any error
 *      the policy is left unchanged") and the error must name a status and a
 *      message; on success viv_policy_validate must agree.
 *
 * ASan and UBSan catch the rest (reads past the input, leaks, overflow).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "policy/toml.h"
#include "vivarium.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base_dir[64];

static void fatal(const char *what)
{
    fprintf(stderr, "fuzz_toml: %s\n", what);
    abort();
}

#define ORACLE(cond)                                                                       \
    do {                                                                                   \
        if (!(cond))                                                                       \
            fatal("oracle failed: " #cond);                                                \
    } while (0)

/* ---- the parser ------------------------------------------------------------ */

static size_t walk(const viv_toml_value *v, int depth)
{
    ORACLE(depth <= VIV_TOML_MAX_DEPTH + 1);
    size_t nodes = 1;
    viv_toml_type t = viv_toml_type_of(v);
    int64_t i64;
    double d;
    bool b;
    size_t len;
    /* Wrong-type accessors are total. */
    if (t != VIV_TOML_STRING)
        ORACLE(viv_toml_string(v, &len) == NULL);
    if (t != VIV_TOML_INTEGER)
        ORACLE(!viv_toml_int(v, &i64));
    if (t != VIV_TOML_FLOAT)
        ORACLE(!viv_toml_float(v, &d));
    if (t != VIV_TOML_BOOL)
        ORACLE(!viv_toml_bool(v, &b));
    if (t != VIV_TOML_TABLE)
        ORACLE(viv_toml_table_count(v) == 0 && viv_toml_table_get(v, "a") == NULL);
    if (t != VIV_TOML_ARRAY)
        ORACLE(viv_toml_array_len(v) == 0 && viv_toml_array_item(v, 0) == NULL);
    switch (t) {
    case VIV_TOML_TABLE: {
        size_t n = viv_toml_table_count(v);
        for (size_t i = 0; i < n; i++) {
            size_t klen = (size_t)-1;
            const char *key = viv_toml_table_key(v, i, &klen);
            ORACLE(key != NULL && key[klen] == '\0');
            const viv_toml_value *child = viv_toml_table_value(v, i);
            ORACLE(child != NULL);
            ORACLE(viv_toml_table_getn(v, key, klen) == child);
            if (strlen(key) == klen)
                ORACLE(viv_toml_table_get(v, key) == child);
            nodes += walk(child, depth + 1);
        }
        ORACLE(viv_toml_table_value(v, n) == NULL);
        break;
    }
    case VIV_TOML_ARRAY: {
        size_t n = viv_toml_array_len(v);
        for (size_t i = 0; i < n; i++) {
            const viv_toml_value *item = viv_toml_array_item(v, i);
            ORACLE(item != NULL);
            nodes += walk(item, depth + 1);
        }
        ORACLE(viv_toml_array_item(v, n) == NULL);
        break;
    }
    case VIV_TOML_STRING: {
        const char *s = viv_toml_string(v, &len);
        ORACLE(s != NULL && s[len] == '\0');
        break;
    }
    case VIV_TOML_INTEGER: ORACLE(viv_toml_int(v, &i64)); break;
    case VIV_TOML_FLOAT: ORACLE(viv_toml_float(v, &d)); break;
    case VIV_TOML_BOOL: ORACLE(viv_toml_bool(v, &b)); break;
    case VIV_TOML_DATETIME:
    case VIV_TOML_DATETIME_LOCAL:
    case VIV_TOML_DATE_LOCAL:
    case VIV_TOML_TIME_LOCAL: {
        const char *s = viv_toml_datetime(v);
        ORACLE(s != NULL && s[0] != '\0');
        break;
    }
    case VIV_TOML_NONE: fatal("a value of type NONE in a document"); break;
    }
    return nodes;
}

static void fuzz_parser(const uint8_t *data, size_t size)
{
    viv_toml_value *root = NULL;
    viv_toml_error err;
    memset(&err, 0x55, sizeof err);
    if (viv_toml_parse((const char *)data, size, &root, &err) == 0) {
        ORACLE(root != NULL && viv_toml_type_of(root) == VIV_TOML_TABLE);
        walk(root, 0);
        viv_toml_free(root);
    } else {
        ORACLE(root == NULL);
        ORACLE(err.line >= 1 && err.column >= 1);
        ORACLE(memchr(err.message, '\0', sizeof err.message) != NULL && err.message[0] != '\0');
    }
    ORACLE(viv_toml_type_of(NULL) == VIV_TOML_NONE);
}

/* ---- the policy loader ------------------------------------------------------- */

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool same_policy(const viv_policy *a, const viv_policy *b)
{
    if (a->fuel_budget != b->fuel_budget || a->memory_bytes != b->memory_bytes ||
        a->stdout_max_bytes != b->stdout_max_bytes ||
        a->stderr_max_bytes != b->stderr_max_bytes ||
        memcmp(&a->timeout_seconds, &b->timeout_seconds, sizeof(double)) != 0 ||
        !same_str(a->workspace, b->workspace) ||
        !same_str(a->guest_mount_path, b->guest_mount_path) ||
        !same_str(a->data_dir, b->data_dir) || !same_str(a->guest_data_path, b->guest_data_path) ||
        a->nmounts != b->nmounts || a->nenv != b->nenv || a->argc != b->argc ||
        a->preserve_logs != b->preserve_logs ||
        a->require_kernel_isolation != b->require_kernel_isolation)
        return false;
    for (size_t i = 0; i < a->nmounts; i++)
        if (!same_str(a->mounts[i].host, b->mounts[i].host) ||
            !same_str(a->mounts[i].guest, b->mounts[i].guest))
            return false;
    for (size_t i = 0; i < a->nenv; i++)
        if (!same_str(a->env[i].key, b->env[i].key) ||
            !same_str(a->env[i].value, b->env[i].value))
            return false;
    for (size_t i = 0; i < a->argc; i++)
        if (!same_str(a->argv[i], b->argv[i]))
            return false;
    return true;
}

static void fuzz_loader(const uint8_t *data, size_t size)
{
    viv_policy *p = NULL, *before = NULL;
    viv_error err;
    if (viv_policy_new(&p, NULL) != VIV_OK || viv_policy_copy(p, &before, NULL) != VIV_OK)
        return; /* out of memory: nothing to test */
    memset(&err, 0, sizeof err);
    viv_status st = viv_policy_load_toml_string(p, (const char *)data, size, base_dir, &err);
    if (st == VIV_OK) {
        ORACLE(viv_policy_validate(p, NULL) == VIV_OK);
        ORACLE(viv_policy_fuel_budget(p) > 0 && viv_policy_memory_bytes(p) > 0);
        ORACLE(isfinite(viv_policy_timeout_seconds(p)) && viv_policy_timeout_seconds(p) >= 0);
    } else {
        ORACLE(same_policy(p, before));
        ORACLE(err.status == st);
        ORACLE(memchr(err.message, '\0', sizeof err.message) != NULL && err.message[0] != '\0');
        ORACLE(memchr(err.field, '\0', sizeof err.field) != NULL);
        ORACLE(strcmp(viv_status_name(st), "VIV_UNKNOWN") != 0);
    }
    viv_policy_free(p);
    viv_policy_free(before);
}

static void cleanup(void)
{
    char p[96];
    snprintf(p, sizeof p, "%s/data", base_dir);
    rmdir(p);
    snprintf(p, sizeof p, "%s/ws", base_dir);
    rmdir(p);
    rmdir(base_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(base_dir, sizeof base_dir, "/tmp/viv-fuzz-toml-XXXXXX");
    if (mkdtemp(base_dir) == NULL)
        fatal("mkdtemp failed");
    char p[96];
    snprintf(p, sizeof p, "%s/data", base_dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/ws", base_dir);
    mkdir(p, 0755);
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parser(data, size);
    fuzz_loader(data, size);
    return 0;
}
