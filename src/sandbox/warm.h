/*
 * src/sandbox/warm.h (private to src/sandbox): the warm pool.
 *
 * Owns: admission (how many executions run and wait at once, one at a time
 * per session) and the fork servers ("zygotes"): interpreters that finished
 * start-up, each keyed by the start-up configuration it was made for. The
 * zygote's own side (what runs inside the forked interpreter) is zygote.c.
 */
#ifndef VIV_SANDBOX_WARM_H
#define VIV_SANDBOX_WARM_H

#include <stdbool.h>
#include <sys/types.h>

#include "sandbox_internal.h"

/* Wait for a slot (and for the session, when session_id is non-NULL).
 * VIV_EBUSY when the queue is full. */
viv_status viv_warm_admit(viv_warm_pool *pool, const char *session_id, viv_error *err);
void viv_warm_release(viv_warm_pool *pool, const char *session_id);

struct viv_exec_spec;

/* Make sure a zygote for spec's configuration is running (or has failed
 * to start), so that starting the execution takes no start-up time. */
void viv_warm_prepare(viv_warm_pool *pool, const viv_sandbox *sb, const struct viv_exec_spec *spec);

/*
 * Start spec's execution in a fork of a warm interpreter, passing it the
 * output pipe ends and the report page. Returns 1 when it started (*pid,
 * *pidfd and *status_fd, where the zygote writes the wait status, are the
 * caller's to close), 0 when it must run cold instead (nothing was
 * started; the results will be the same), and -1 when it may have started
 * and failed (err says why).
 */
int viv_warm_start(viv_warm_pool *pool, const viv_sandbox *sb, const struct viv_exec_spec *spec,
                   int out_fd, int err_fd, int report_fd, pid_t *pid, int *pidfd, int *status_fd,
                   viv_error *err);

/*
 * Live interpreters (state.h). The private directory of session_id's live
 * interpreter, into dir: the same for its whole life (its jail allows
 * that directory only), emptied of the previous execution's files.
 * *has_interpreter says whether one is waiting. Ends idle ones past their
 * time or beyond the cap. 0, or -1 when it cannot be made.
 */
int viv_warm_live_dir(viv_warm_pool *pool, const char *session_id, char *dir, size_t len,
                      bool *has_interpreter);
/* After an execution with spec->live: whether its interpreter waits for
 * the session's next one (otherwise it is let go). */
void viv_warm_live_done(viv_warm_pool *pool, const char *session_id, bool continues);

#endif /* VIV_SANDBOX_WARM_H */
