/*
 * src/sandbox/zygote.h (private to src/sandbox): the fork server's side.
 *
 * Owns: the zygote process (an interpreter that ran CPython's start-up and
 * our zygote program, then waits inside its first read of stdin), its
 * control protocol with the pool (warm.c), and the set-up of each forked
 * execution before the guest resumes in it.
 */
#ifndef VIV_SANDBOX_ZYGOTE_H
#define VIV_SANDBOX_ZYGOTE_H

#include <stdint.h>

#include "sandbox_internal.h"
#include "spec.h"

#define VIV_ZYGOTE_MAGIC 0x5A594730u /* "ZYG0" */

/* zygote -> pool, once start-up is done. */
typedef struct viv_zygote_ready {
    uint32_t magic;
    uint32_t pages; /* linear memory in use, which every execution inherits */
} viv_zygote_ready;

/* pool -> zygote, with five descriptors (SCM_RIGHTS): the spec memfd, the
 * stdout and stderr pipe ends, the report memfd, the status pipe end. */
typedef struct viv_zygote_request {
    uint32_t magic;
    uint32_t reserved;
} viv_zygote_request;
#define VIV_ZYGOTE_REQUEST_FDS 5

/* zygote -> pool, with the child's pidfd when error == 0. */
typedef struct viv_zygote_reply {
    uint32_t magic;
    int32_t pid;
    int32_t error; /* an errno value */
} viv_zygote_reply;

typedef struct viv_zygote_boot {
    const viv_sandbox *sb;
    const viv_exec_spec *startup; /* argv ends in the zygote program */
    int control_fd;
    int log_fd; /* the zygote's guest stderr, for start-up failures */
} viv_zygote_boot;

/* Runs in a process freshly forked from the library; never returns. */
__attribute__((noreturn)) void viv_zygote_main(const viv_zygote_boot *boot);

#endif /* VIV_SANDBOX_ZYGOTE_H */
