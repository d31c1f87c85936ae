/*
 * src/policy/policy.h: the ExecutionPolicy, its defaults and its validation.
 *
 * Owns: struct viv_policy (what a run may do) and every rule about which
 * values are acceptable. Knows nothing of engines or sessions; the sandbox
 * layer reads the fields below after viv_policy_validate() succeeded.
 */
#ifndef VIV_POLICY_H
#define VIV_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vivarium.h"

#define VIV_POLICY_MAX_MEMORY ((int64_t)4 << 30)
#define VIV_POLICY_MAX_MOUNTS 32
#define VIV_POLICY_MAX_ENV    256
#define VIV_POLICY_MAX_ARGV   256

typedef struct viv_mount {
    char *host;
    char *guest;
} viv_mount;

typedef struct viv_env_var {
    char *key;
    char *value;
} viv_env_var;

struct viv_policy {
    int64_t fuel_budget;
    int64_t memory_bytes;
    int64_t stdout_max_bytes;
    int64_t stderr_max_bytes;
    double timeout_seconds;

    char *workspace;        /* NULL: a temporary directory per execution */
    char *guest_mount_path; /* "/app" */
    char *data_dir;         /* NULL: none */
    char *guest_data_path;  /* "/data" */
    viv_mount *mounts;
    size_t nmounts;

    viv_env_var *env;
    size_t nenv;
    char **argv;
    size_t argc;

    bool preserve_logs;
    /* Refuse to run where the kernel lacks Landlock or seccomp, instead of
     * running with the WebAssembly wall alone and saying so. */
    bool require_kernel_isolation;
    /* What a session keeps of the interpreter between executions. */
    viv_state_mode persist_state;
};

/* Fill err (may be NULL) and return status; used by every layer above. */
viv_status viv_error_set(viv_error *err, viv_status status, const char *field, const char *path,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif /* VIV_POLICY_H */
