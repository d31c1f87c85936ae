/*
 * src/sandbox/sandbox_internal.h (private to src/sandbox).
 *
 * Owns: the definitions of viv_sandbox and viv_result, shared by the files
 * that create sandboxes, run executions and report results.
 */
#ifndef VIV_SANDBOX_INTERNAL_H
#define VIV_SANDBOX_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "batteries.h"
#include "engine.h"
#include "guest_desc.h"
#include "jail.h"
#include "log.h"
#include "policy.h"
#include "snapshot.h"
#include "vivarium.h"
#include "wasi.h"

/* Where the program file is shown to the guest (a private read-only mount
 * outside the workspace, so the user's code never lands in /app). */
#define VIV_PROGRAM_GUEST_DIR "/.vivarium"

struct viv_sandbox {
    viv_policy *policy;
    viv_engine_artifact *artifact;
    char *wasm_path;
    char *artifact_path;
    bool allow_unmetered; /* bench only: see viv_sandbox_use_unmetered */
    viv_guest_desc guest; /* the descriptor beside the module; may be empty */
    viv_logger *logger;   /* borrowed; may be NULL */
    viv_warm_pool *warm;  /* borrowed; may be NULL */
    /* The packages tree (batteries.c), mounted when available. */
    viv_batteries batteries;
};

/* Refusals the guest's WASI layer reported, carried back from the child. */
#define VIV_MAX_SECURITY_EVENTS 16
typedef struct viv_security_event {
    int kind; /* viv_wasi_security_kind */
    char path[256];
} viv_security_event;

/* A growable byte buffer with a hard cap. */
typedef struct viv_capture {
    char *data;
    size_t len, cap_bytes, alloc;
    bool truncated;
} viv_capture;

struct viv_result {
    bool success;
    bool trapped;
    int exit_code; /* -1 when the guest did not exit on its own */
    viv_trap_reason reason;
    char trap_message[256];
    viv_capture out, err;
    int64_t fuel_consumed, fuel_budget;
    uint64_t memory_used, memory_limit;
    uint32_t memory_pages;
    double duration_ms;
    char execution_id[VIV_LOG_EXECUTION_ID_LEN + 1];
    viv_jail_report jail;
    int test_hook_errno; /* VIV_TEST_HOOKS builds: what the hook saw */
    char *session_id;    /* NULL without a session */
    char *workspace_path;
    viv_changes changes;
    viv_security_event security[VIV_MAX_SECURITY_EVENTS];
    uint32_t nsecurity;      /* kept in security[] */
    uint32_t security_total; /* seen, including those not kept */
    bool warm;               /* served by a warm interpreter */
    bool live;               /* ...kept alive for its session's next execution */
    bool live_resumed;       /* ...that the session's previous one left */
    json_t *meta_extra;      /* batteries, fuel, hint: merged into metadata; owned */
};

/* The installed default guest's module (PREFIX/lib/vivarium/python3.11). */
const char *viv_sandbox_default_guest(void);

/* Swap in an unmetered artifact and lift fuel enforcement. For the
 * metering-overhead benchmark only; not part of the public API. */
viv_status viv_sandbox_use_unmetered(viv_sandbox *sb, const char *artifact_path, viv_error *err);

/* Path lists of what an execution changed, for events (borrowed). */
typedef struct viv_changes_view {
    const char *const *created;
    size_t ncreated;
    const char *const *modified;
    size_t nmodified;
    const char *const *deleted;
    size_t ndeleted;
} viv_changes_view;

/* The token's pollable descriptor, or -1 for NULL (cancel.c). */
int viv_cancel_fd(const viv_cancel *c);

/* Execution events (events.c). */
void viv_sandbox_log_start(const viv_sandbox *sb, const char *execution_id, const char *session_id);
void viv_sandbox_log_complete(const viv_sandbox *sb, const viv_result *r, const char *session_id,
                              const viv_changes_view *changes);

/* The WASI import table bound to src/wasi (wasi_bind.c). */
const viv_guest_wasi *viv_sandbox_wasi_imports(void);

/* Fills res->meta_extra: the batteries, the fuel analysis and any hint
 * (result_meta.c, with guidance.c). Advice is best effort: out of memory
 * leaves it out. */
void viv_sandbox_attach_guidance(const viv_sandbox *sb, viv_result *res);

/* A new file DIR/NAME (never through a link; mode 0444) holding data:
 * 0, or -1 with errno (sandbox.c). */
int viv_sandbox_write_new_file(const char *dir, const char *name, const void *data, size_t len);

/* Run one execution in a child process (execute.c). */
/* state_format: state.h; live: ask the warm pool for the session's live
 * interpreter (res->live says whether it stays for the next execution,
 * res->live_resumed whether this one ran in it). */
viv_status viv_sandbox_run_child(viv_sandbox *sb, const char *program_dir, const char *program_name,
                                 const char *workspace, const viv_exec_options *opts,
                                 const char *state_format, bool live, viv_result *res,
                                 viv_error *err);

#endif /* VIV_SANDBOX_INTERNAL_H */
