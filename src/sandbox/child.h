/*
 * src/sandbox/child.h (private to src/sandbox): the execution's own
 * process, whether forked cold from the library or warm from a zygote.
 *
 * Owns: the report page the child fills for the parent, the WASI set-up and
 * callbacks for one execution, the jail entry, and the child's last words.
 */
#ifndef VIV_SANDBOX_CHILD_H
#define VIV_SANDBOX_CHILD_H

#include "engine.h"
#include "jail.h"
#include "sandbox_internal.h"
#include "spec.h"
#include "wasi.h"

/* Written by the child into memory shared with the parent. */
typedef struct viv_child_report {
    volatile int complete;
    viv_security_event security[VIV_MAX_SECURITY_EVENTS];
    uint32_t nsecurity, security_total;
    viv_engine_status status;
    viv_engine_outcome outcome;
    viv_wasi_output_stats output;
    viv_jail_report jail; /* what the jail put in force */
    int test_hook_errno;  /* VIV_TEST_HOOKS builds only */
    int live_continues;   /* a live interpreter ended the execution and waits */
    char setup_error[512];
} viv_child_report;

/* WASI configuration for spec's execution; output goes to out_fd/err_fd and
 * callbacks report into rep. */
void viv_child_wasi_config(const viv_exec_spec *s, int out_fd, int err_fd, viv_child_report *rep,
                           viv_wasi_config *cfg);

/* What the WASI security callback does with rep (for callers that
 * install their own callback with another user pointer). */
void viv_child_note_security(viv_child_report *rep, viv_wasi_security_kind kind,
                             const char *guest_path);

/* Engine limits for spec's execution (whose process ends after the run). */
viv_engine_limits viv_child_limits(const viv_exec_spec *s);

/* The second wall (jail.h), entered after WASI opened its preopens and
 * before any of the user's code exists. extra_fds are more host
 * descriptors of ours to keep, never the guest's (-1 entries are
 * skipped). extra_as is the address space still to be mapped (the
 * engine's, for a cold child; none for a warm one). A live interpreter
 * (s->live) may also receive descriptors and gets a CPU backstop for its
 * whole life rather than one execution's. Returns -1 with
 * rep->setup_error set. */
int viv_child_enter_jail(const viv_exec_spec *s, const viv_wasi *w, int out_fd, int err_fd,
                         const int *extra_fds, size_t nextra, uint64_t extra_as,
                         viv_child_report *rep);

/* Test-only fault injection (VIV_TEST_HOOKS builds; a no-op otherwise). */
void viv_child_test_hook(viv_child_report *rep);

/* After the engine returned: the trap line, output statistics, and the
 * report marked complete. Then the output pipes are closed, so the parent
 * has its result without waiting for this process's teardown. */
void viv_child_finish(viv_wasi *w, viv_child_report *rep, int out_fd, int err_fd);

#endif /* VIV_SANDBOX_CHILD_H */
