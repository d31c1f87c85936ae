/*
 * src/sandbox/state.h (private to src/sandbox): a session's interpreter
 * state around one execution (docs/state.md).
 *
 * Owns: resolving the policy's persist_state for a call, the files the
 * runner exchanges with the host in the execution's private directory
 * (runner.h), and what becomes of them afterwards: a new saved state
 * installed in the session, an unusable one set aside with a
 * sandbox.session.state_reset event, and metadata.state in the result.
 */
#ifndef VIV_SANDBOX_STATE_H
#define VIV_SANDBOX_STATE_H

#include <stdbool.h>

#include "sandbox_internal.h"

typedef struct viv_state_plan {
    viv_state_mode mode; /* resolved: OFF, DURABLE, LIVE or JSON */
    /* What the runner does with files: "pickle", "json", or "" (nothing:
     * OFF, or LIVE, which keeps no file). */
    const char *format;
} viv_state_plan;

/* From the policy and whether the call has a session. VIV_EPOLICY naming
 * persist_state when a mode that needs a session has none. */
viv_status viv_state_plan_make(const viv_policy *p, bool has_session, viv_state_plan *plan,
                               viv_error *err);

/* Before the run: the state module, the session runner and, with
 * restore, the session's saved state (as state.in) into the private
 * directory. */
viv_status viv_state_prepare(const viv_state_plan *plan, const char *program_dir,
                             viv_session_store *store, const char *session_id, bool restore,
                             viv_error *err);

/* After the run: install, set aside, report (best effort; a failure is
 * reported in metadata.state, never as a failed call: the run happened). */
void viv_state_finish(const viv_sandbox *sb, const viv_state_plan *plan, const char *program_dir,
                      viv_session_store *store, const char *session_id, viv_result *res);

#endif /* VIV_SANDBOX_STATE_H */
