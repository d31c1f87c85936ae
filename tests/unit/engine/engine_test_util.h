/*
 * tests/unit/engine: helpers shared by the engine's unit tests.
 *
 * Owns: running one guest artifact in a forked child (as the product does:
 * the engine installs signal handlers and keeps process-global state), a fake
 * WASI import table that records what the guest did, and the shared page the
 * child reports through.
 *
 * Conventions of the test modules in wat/ (all imports are WASI names, the
 * only module the artifacts may import from):
 *   fd_close(k) -> i32    returns the test's parameter k ("param")
 *   fd_sync(v)  -> i32    records a note: v, the memory size and the byte at
 *                         address v, read through the attach_memory pointers
 *   fd_write              appends the bytes to `written`, stores nwritten
 *   poll_oneoff           calls viv_engine_deadline_reached()
 *   sched_yield           dereferences NULL (a host bug, not a guest trap)
 *   proc_raise            reads a PROT_NONE page (likewise)
 *   proc_exit(code)       calls viv_engine_exit(code)
 * Every other import counts as unexpected and returns ENOSYS.
 */
#ifndef VIV_ENGINE_TEST_UTIL_H
#define VIV_ENGINE_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine.h"

#define ET_PARAMS    8
#define ET_MAX_NOTES 64

typedef struct et_note {
    uint32_t value;
    uint32_t mem_size; /* *size through the attached pointer */
    int byte;          /* data[value], or -1 if value >= mem_size */
} et_note;

/* What the child reports. Lives in a MAP_SHARED page so that whatever the
 * child recorded before dying is still visible. */
typedef struct et_report {
    bool opened;     /* viv_engine_artifact_open returned OK */
    bool run_called; /* about to call viv_engine_run */
    bool run_returned;
    viv_engine_status open_status, run_status;
    char open_err[512];
    viv_engine_outcome out;
    double run_seconds; /* wall time spent inside viv_engine_run */

    unsigned attach_calls;
    uint32_t size_at_attach;
    bool data_at_attach; /* *data was non-NULL at attach time */
    unsigned imports_before_attach;
    unsigned import_calls;
    unsigned ctx_mismatches; /* imports called with another wasi_ctx */
    unsigned unexpected_imports;
    char unexpected_name[32];

    unsigned nnotes; /* all notes; the first ET_MAX_NOTES are kept */
    et_note notes[ET_MAX_NOTES];
    et_note last_note;

    bool proc_exit_called;
    uint32_t proc_exit_code;
    char written[256];
    size_t nwritten;
} et_report;

typedef struct et_run {
    const char *artifact; /* a file name in the artifact directory, or a path */
    const char *expect_sha256;
    viv_engine_limits limits;
    /* If non-zero, limits.deadline_ns is set to now + this many ms (may be
     * negative) in the child, just before viv_engine_run. */
    int64_t deadline_in_ms;
    uint32_t params[ET_PARAMS];
    unsigned linger_ms; /* the child sleeps this long after the run */
    double timeout_s;   /* the parent kills the child after this; 0 = 60 s */
    bool omit_attach;   /* pass a NULL attach_memory */
} et_run;

typedef struct et_result {
    et_report rep;
    int wait_status; /* as from waitpid */
    bool timed_out;  /* the parent had to kill the child */
} et_result;

/* 16 MiB of memory, 1e9 fuel, no deadline, default stack. */
viv_engine_limits et_default_limits(void);

/* Forks, runs r in the child, waits (killing it after the timeout). */
void et_execute(const et_run *r, et_result *res);

/* Asserts (cmocka) that the child was not killed, exited normally, and that
 * viv_engine_run returned `status`. */
void et_assert_completed(const et_result *res, viv_engine_status status);

/* Asserts the outcome's end and, unless NULL, its exact message; on a
 * mismatch prints the whole outcome. */
void et_assert_end(const et_result *res, viv_engine_end end, const char *message);

/* Path of an artifact or module built for the tests. */
const char *et_path(const char *name, char *buf, size_t len);

/* A fresh scratch directory under the build tree (created). */
const char *et_scratch_dir(char *buf, size_t len);

uint64_t et_now_ns(void);

/* Hex sha256 of a file, computed independently of the engine. */
bool et_sha256_file(const char *path, char hex[65]);

#endif /* VIV_ENGINE_TEST_UTIL_H */
