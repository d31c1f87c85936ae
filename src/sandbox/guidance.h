/*
 * src/sandbox/guidance.h (private to src/sandbox).
 *
 * Owns: the advice a result carries for the agent that ran it (docs/result.md,
 * "Guidance"): the fuel analysis of every run, and a structured hint when a
 * run failed in a recognisable way. Hints come only from the trap reason and
 * from the final exception line of a real Python traceback, parsed by its
 * structure (never from words found anywhere in the output).
 *
 * Pure functions of their inputs: no I/O, no global state. Returned JSON
 * objects are new references owned by the caller; NULL means "nothing to
 * say" (or out of memory, which costs only the advice).
 */
#ifndef VIV_SANDBOX_GUIDANCE_H
#define VIV_SANDBOX_GUIDANCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vivarium.h"

/* Utilisation thresholds of the fuel status (fractions of the budget). */
#define VIV_FUEL_EFFICIENT_BELOW 0.50
#define VIV_FUEL_MODERATE_BELOW  0.75
#define VIV_FUEL_WARNING_BELOW   0.90

/* {"consumed", "budget", "utilisation", "status"} plus, from "warning" on,
 * "suggested_budget" and "suggestion_basis". */
json_t *viv_guidance_fuel(int64_t consumed, int64_t budget, bool out_of_fuel);

/* The suggested budget: twice what was measured (so the same work would sit
 * at 50%), rounded up to two significant digits; saturates at INT64_MAX. */
int64_t viv_guidance_suggest_budget(int64_t measured);

/* A guest directory that the run could see. */
typedef struct viv_guidance_mount {
    const char *guest;
    bool writable;
} viv_guidance_mount;

typedef struct viv_guidance_input {
    bool trapped;
    viv_trap_reason reason;
    int exit_code; /* -1 when the guest did not exit on its own */
    int64_t fuel_consumed, fuel_budget;
    uint64_t memory_limit;
    double timeout_seconds;
    const char *stderr_data; /* the captured stderr (not NUL-terminated) */
    size_t stderr_len;
    bool stderr_truncated;
    const char *workspace_guest;      /* "/app" */
    const char *data_guest;           /* "/data", or NULL without a data directory */
    const viv_guidance_mount *mounts; /* every mount, the two above included */
    size_t nmounts;
    bool batteries;             /* the batteries tree was mounted */
    const char *const *modules; /* its importable modules, sorted */
    size_t nmodules;
} viv_guidance_input;

/* {"type", "message", "steps": [...], "example", ...} or NULL. Types:
 * out_of_fuel, memory_limit, timeout, module_not_found,
 * path_outside_mounts, read_only_mount. */
json_t *viv_guidance_hint(const viv_guidance_input *in);

/* The final exception of the last traceback in stderr: its type (as
 * printed, possibly dotted) and the first line of its message. False when
 * stderr does not end in a traceback of that shape. */
typedef struct viv_exception_line {
    char type[128];
    char message[1024]; /* first line only; "" when there is none */
} viv_exception_line;
bool viv_guidance_parse_exception(const char *err, size_t len, viv_exception_line *out);

#endif /* VIV_SANDBOX_GUIDANCE_H */
