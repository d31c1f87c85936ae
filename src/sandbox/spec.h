/*
 * src/sandbox/spec.h (private to src/sandbox): one execution, flattened.
 *
 * Owns: the description of an execution that its process needs (argv, env,
 * mounts, stdin, caps, limits), built once in the library from the policy
 * and the call's options. A cold child inherits it through fork; a warm
 * child receives it through a sealed memfd from its zygote, so it is also
 * a self-contained byte format with a reader that trusts nothing.
 */
#ifndef VIV_SANDBOX_SPEC_H
#define VIV_SANDBOX_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox_internal.h"

typedef struct viv_exec_spec {
    const char **argv; /* interpreter argv, then the program, then its args */
    size_t argc, interp_argc;
    const char **env; /* "K=V" */
    size_t envc;
    viv_wasi_preopen *preopens;
    size_t npreopens;
    const uint8_t *stdin_data;
    size_t stdin_len;
    uint64_t stdout_max, stderr_max, memory_bytes, deadline_ns;
    int64_t fuel;
    double timeout_s;
    bool require_kernel_isolation, allow_unmetered;
    /* Interpreter state (state.h): what the runner does with state files
     * ("", "pickle", "json"); whether argv holds the session runner
     * before the program (cold runs with state files); whether the
     * interpreter stays alive for the session's next execution. */
    const char *state_format;
    size_t runner_argc;
    bool live;
    const char *session_id; /* for the warm pool; not serialised */
    /* Storage behind the pointers above. */
    char **owned;
    size_t nowned;
    void *map;
    size_t map_len;
} viv_exec_spec;

/* From the sandbox's policy and the call: argv = policy argv + [the
 * session runner, when state has files] + VIV_PROGRAM_GUEST_DIR/program_name
 * + opts args. state_format: as in the struct (NULL: ""). With state, the
 * private directory is writable (the runner leaves its files there). */
viv_status viv_exec_spec_build(viv_exec_spec *s, const viv_sandbox *sb, const char *program_dir,
                               const char *program_name, const char *workspace,
                               const viv_exec_options *opts, const char *state_format,
                               uint64_t deadline_ns, viv_error *err);
void viv_exec_spec_free(viv_exec_spec *s);

/* Serialise into a new sealed memfd (returned in *fd), or parse one. */
int viv_exec_spec_to_memfd(const viv_exec_spec *s, int *fd);
int viv_exec_spec_from_memfd(int fd, viv_exec_spec *s, char *err, size_t errlen);

/* Whether a warm interpreter starts with this mount's own directory: the
 * read-only ones other than the program's (a guest's stdlib, packages,
 * data), whose contents start-up may read. The workspace and the program
 * directory differ per execution and start as an empty placeholder. */
bool viv_exec_spec_startup_mount(const viv_wasi_preopen *p);

/* The start-up configuration a warm interpreter must share with an
 * execution to serve it: guest artifact, interpreter argv, env, the
 * preopen layout and the start-up mounts' directories. A malloc'd string,
 * NULL on allocation failure. */
char *viv_exec_spec_startup_key(const viv_exec_spec *s, const char *artifact_path);

/* The start-up key plus every mount's host directory (and the
 * workspace's identity): what a live interpreter's jail was made for. */
char *viv_exec_spec_live_key(const viv_exec_spec *s, const char *artifact_path);

#endif /* VIV_SANDBOX_SPEC_H */
