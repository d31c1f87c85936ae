/*
 * src/engine: runs one compiled guest module.
 *
 * Owns: loading guest artifacts (dlopen + ABI and provenance checks), the
 * wasm-rt runtime the generated code needs (linear memory reserved with guard
 * pages and capped at growth, tables, function types, traps), the guest's own
 * native stack, fuel, and the wall-clock interrupt. It knows nothing of
 * policies, sessions or WASI semantics: the caller passes limits and an
 * import table.
 *
 * One guest activation per thread at a time, and in practice one per process:
 * wasm2c's code reaches the runtime through context-free functions, so the
 * engine keeps the active run in a thread-local. The sandbox layer therefore
 * calls viv_engine_run() in a fresh child process for every execution.
 */
#ifndef VIV_ENGINE_H
#define VIV_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_abi.h"

typedef struct viv_engine_artifact viv_engine_artifact;

typedef enum viv_engine_status {
    VIV_ENGINE_OK = 0,
    VIV_ENGINE_ENOENT,   /* the artifact file does not exist */
    VIV_ENGINE_EINVALID, /* not an artifact, or built for another ABI or source */
    VIV_ENGINE_ENOMEM,
    VIV_ENGINE_EHOST, /* the host could not set something up */
} viv_engine_status;

/*
 * Load an artifact. If expect_sha256 is non-NULL the artifact must have been
 * built from a module with that sha256. On failure writes a message naming
 * the path into err.
 */
viv_engine_status viv_engine_artifact_open(const char *path, const char *expect_sha256,
                                           viv_engine_artifact **out, char *err, size_t errlen);
void viv_engine_artifact_close(viv_engine_artifact *a);
const viv_guest_artifact *viv_engine_artifact_info(const viv_engine_artifact *a);
/* The address range of the artifact's machine code (0, 0 if unknown). */
void viv_engine_artifact_code(const viv_engine_artifact *a, uintptr_t *lo, uintptr_t *hi);

/* How a run ended, as the engine sees it. */
typedef enum viv_engine_end {
    VIV_END_RETURNED, /* _start returned: exit status 0 */
    VIV_END_EXIT,     /* proc_exit(code) */
    VIV_END_OUT_OF_FUEL,
    VIV_END_TIMEOUT,
    VIV_END_TRAP,       /* any other wasm trap */
    VIV_END_HOST_ERROR, /* the host failed (message says how) */
} viv_engine_end;

typedef struct viv_engine_limits {
    uint64_t memory_bytes; /* hard cap on linear memory */
    int64_t fuel;          /* instruction budget, > 0 */
    uint64_t deadline_ns;  /* absolute CLOCK_MONOTONIC; 0 = none */
    size_t stack_bytes;    /* native stack for the guest; 0 = default */
    /* Run an artifact built without metering, with no fuel limit. Only the
     * metering-overhead benchmark sets this; no policy can. */
    bool allow_unmetered;
    /* The caller's process ends right after the run: skip freeing the
     * instance, memory and stack (the kernel does it). */
    bool process_ends;
} viv_engine_limits;

typedef struct viv_engine_outcome {
    viv_engine_end end;
    uint32_t exit_code;
    char message[256];
    int64_t fuel_consumed;
    uint32_t memory_pages; /* final (= peak) linear memory size */
    bool memory_cap_hit;   /* a memory.grow was refused at the cap */
} viv_engine_outcome;

typedef struct viv_engine_run_params {
    const viv_engine_artifact *artifact;
    viv_engine_limits limits;
    const viv_guest_wasi *wasi; /* import table */
    void *wasi_ctx;
    /* Called once memory exists, before _start, so WASI can see it. */
    void (*attach_memory)(void *wasi_ctx, uint8_t *const *data, const uint32_t *size);
} viv_engine_run_params;

/*
 * Instantiate the module and run _start under the limits. Always fills
 * *out; returns VIV_ENGINE_OK when the guest ran (whatever its ending) and
 * an error status when nothing could run (message in out->message).
 * Installs signal handlers for SIGSEGV, SIGBUS and SIGALRM; meant for a
 * child process that exists only for this run.
 */
viv_engine_status viv_engine_run(const viv_engine_run_params *p, viv_engine_outcome *out);

/* Called from WASI imports during a run; they unwind the guest. */
__attribute__((noreturn)) void viv_engine_exit(uint32_t code);
__attribute__((noreturn)) void viv_engine_deadline_reached(void);
/* Called by imports after they return: unwinds the guest if the deadline
 * passed while it was in host code. */
void viv_engine_poll_deadline(void);

/*
 * Fork-server support, called from inside an import in a freshly forked
 * process: give the running guest a new execution's limits. Fuel restarts
 * at limits->fuel (so fuel_consumed counts from here), the memory cap
 * becomes limits->memory_bytes (refused if the guest already uses more),
 * and the deadline timer is armed for this process. Returns 0, or -1 with a
 * message in err.
 */
int viv_engine_rearm(const viv_engine_limits *limits, char *err, size_t errlen);

/* A live interpreter between two executions, called from inside an
 * import: what the guest used since the last rearm (fuel, memory pages,
 * whether the cap was hit) as out, with end VIV_END_RETURNED for the
 * caller to adjust; the deadline timer stops until the next rearm. */
void viv_engine_pause(viv_engine_outcome *out);

/* Linear memory pages of the running guest (0 when none is running). */
uint32_t viv_engine_current_pages(void);
/* Where the running guest's linear memory is, and its size in wasm pages
 * (NULL and 0 when none is running). */
void viv_engine_memory(uint8_t **base, uint32_t *pages);

/* Page size of wasm linear memory. */
#define VIV_WASM_PAGE 65536u

#endif /* VIV_ENGINE_H */
