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

#include "sandbox_internal.h"

/* Wait for a slot (and for the session, when session_id is non-NULL).
 * VIV_EBUSY when the queue is full. */
viv_status viv_warm_admit(viv_warm_pool *pool, const char *session_id, viv_error *err);
void viv_warm_release(viv_warm_pool *pool, const char *session_id);

#endif /* VIV_SANDBOX_WARM_H */
