/*
 * src/sandbox/runner.h (private to src/sandbox): the Python programs of
 * ours that run the user's program in the guest.
 *
 * Owns: the zygote's program (warm interpreters) and the session runner
 * (cold executions that keep interpreter state), which share how the
 * user's program runs (its own __main__, its own file name and line
 * numbers, our frames cut from tracebacks) and the state hooks around it
 * (docs/state.md), and the names of the files they exchange with the host
 * in the execution's private directory (VIV_PROGRAM_GUEST_DIR).
 */
#ifndef VIV_SANDBOX_RUNNER_H
#define VIV_SANDBOX_RUNNER_H

#include <stddef.h>

/* Files in the private directory. The host writes the module, the runner
 * and state.in; the guest writes state.out, state-report.json and, in a
 * live interpreter, status (the execution's exit status, which ends it). */
#define VIV_RUNNER_FILE       "_vivarium_runner.py"
#define VIV_STATE_MODULE_FILE "_vivarium_state.py"
#define VIV_STATE_IN_FILE     "state.in"
#define VIV_STATE_OUT_FILE    "state.out"
#define VIV_STATE_REPORT_FILE "state-report.json"
#define VIV_LIVE_STATUS_FILE  "status"

/* The zygote's program, given the pre-imports; malloc'd, NULL on OOM. */
char *viv_runner_zygote_program(char *const *preimports, size_t npreimports);

/* The session runner for a cold execution, for state format "pickle" or
 * "json"; malloc'd, NULL on OOM. Run as: python RUNNER PROGRAM ARGS... */
char *viv_runner_session_program(const char *format);

/* The state module's source (guest/state/_vivarium_state.py). */
const char *viv_runner_state_module(size_t *len);

#endif /* VIV_SANDBOX_RUNNER_H */
