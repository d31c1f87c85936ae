/*
 * vivarium.h: run untrusted Python inside WebAssembly, with limits enforced
 * while it runs.
 *
 * The whole public interface is this header. Objects are opaque handles
 * with a constructor and a destructor in pairs:
 *
 *   viv_policy_new      / viv_policy_free      what a run may do
 *   viv_sandbox_create  / viv_sandbox_destroy  a loaded guest + a policy
 *   viv_sandbox_execute / viv_result_free      one run and what it did
 *
 * Every fallible call returns a viv_status and, when it is not VIV_OK, fills
 * the caller's viv_error (if non-NULL) with a message and, where relevant,
 * the policy field or the path at fault. There is no global state: separate
 * sandboxes may be used from separate threads at the same time; one sandbox
 * must not be used from two threads at once.
 *
 * Strings passed in are copied unless stated otherwise; strings returned are
 * owned by the object they came from and live as long as it does.
 */
#ifndef VIVARIUM_H
#define VIVARIUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define VIV_API __attribute__((visibility("default")))
#else
#define VIV_API
#endif

#define VIV_VERSION "0.1.0"

/* ---- status and errors ---------------------------------------------------- */

typedef enum viv_status {
    VIV_OK = 0,
    VIV_EINVAL = -1,   /* a bad argument (NULL handle, bad code, bad option) */
    VIV_ENOMEM = -2,   /* an allocation failed */
    VIV_ENOENT = -3,   /* a file the call needs does not exist (error.path) */
    VIV_EPOLICY = -4,  /* the policy is invalid (error.field names the field) */
    VIV_EHOST = -5,    /* the host could not do its part (fork, pipes, ...) */
    VIV_ENOGUEST = -6, /* the guest module has no compiled artifact */
    VIV_EBUSY = -7,    /* overloaded: the execution queue is full; retry later */
    VIV_EEXIST = -8    /* what the call would create already exists (error.path) */
} viv_status;

typedef struct viv_error {
    viv_status status;
    char message[512];
    char field[64];  /* policy field at fault, or "" */
    char path[4096]; /* file at fault, or "" */
} viv_error;

/* "VIV_EPOLICY" etc. Never NULL. */
VIV_API const char *viv_status_name(viv_status status);

/* ---- policy ------------------------------------------------------------- */

/* What a run may do. Defaults (see docs/policy.md):
 *   fuel_budget 5,000,000,000   memory_bytes 128,000,000
 *   stdout_max_bytes 2,000,000  stderr_max_bytes 1,000,000
 *   timeout_seconds 30 (0: no deadline)
 *   workspace: a fresh temporary directory, mounted read-write at /app
 *   data dir: none (mounted read-only at /data when set)
 *   argv: python -B -u -X utf8  env: PYTHONUTF8=1 LC_ALL=C.UTF-8
 *                                    PYTHONIOENCODING=utf-8 PYTHONHASHSEED=0
 */
typedef struct viv_policy viv_policy;

VIV_API viv_status viv_policy_new(viv_policy **out, viv_error *err);
VIV_API viv_status viv_policy_copy(const viv_policy *p, viv_policy **out, viv_error *err);
VIV_API void viv_policy_free(viv_policy *p);

/* Setters store the value; they reject only what can never be valid.
 * viv_policy_validate (also run by viv_sandbox_create and every execute)
 * checks the whole policy and names the first bad field. */
VIV_API viv_status viv_policy_set_fuel_budget(viv_policy *p, int64_t fuel, viv_error *err);
VIV_API viv_status viv_policy_set_memory_bytes(viv_policy *p, int64_t bytes, viv_error *err);
VIV_API viv_status viv_policy_set_stdout_max_bytes(viv_policy *p, int64_t bytes, viv_error *err);
VIV_API viv_status viv_policy_set_stderr_max_bytes(viv_policy *p, int64_t bytes, viv_error *err);
VIV_API viv_status viv_policy_set_timeout_seconds(viv_policy *p, double seconds, viv_error *err);
/* Host directory mounted read-write at the guest mount path ("/app").
 * NULL: a fresh temporary directory per execution, removed afterwards. */
VIV_API viv_status viv_policy_set_workspace(viv_policy *p, const char *host_dir, viv_error *err);
/* Host directory mounted read-only at /data. NULL: none. */
VIV_API viv_status viv_policy_set_data_dir(viv_policy *p, const char *host_dir, viv_error *err);
/* An extra read-only mount. */
VIV_API viv_status viv_policy_add_mount(viv_policy *p, const char *host_dir, const char *guest_path,
                                        viv_error *err);
/* Set (or replace) one environment variable the guest sees. */
VIV_API viv_status viv_policy_set_env(viv_policy *p, const char *key, const char *value,
                                      viv_error *err);
VIV_API void viv_policy_clear_env(viv_policy *p);
/* The interpreter's argv before the program path; argc >= 1. */
VIV_API viv_status viv_policy_set_argv(viv_policy *p, const char *const *argv, size_t argc,
                                       viv_error *err);

VIV_API int64_t viv_policy_fuel_budget(const viv_policy *p);
VIV_API int64_t viv_policy_memory_bytes(const viv_policy *p);
VIV_API int64_t viv_policy_stdout_max_bytes(const viv_policy *p);
VIV_API int64_t viv_policy_stderr_max_bytes(const viv_policy *p);
VIV_API double viv_policy_timeout_seconds(const viv_policy *p);

VIV_API viv_status viv_policy_validate(const viv_policy *p, viv_error *err);

/*
 * Merge a TOML policy file over p: top-level keys replace fields, and the
 * [env] table merges key by key. Keys: fuel_budget, memory_bytes,
 * stdout_max_bytes, stderr_max_bytes, timeout_seconds, mount_host_dir,
 * guest_mount_path, mount_data_dir, guest_data_path,
 * additional_readonly_mounts (array of "HOST:GUEST" strings or of tables
 * {host, guest}), argv (array of strings), preserve_logs,
 * require_kernel_isolation, persist_state, [env]. Relative
 * host paths are taken relative to the file's directory. An unknown key is
 * VIV_EPOLICY naming it in error.field; malformed TOML is VIV_EPOLICY with
 * "line L, column C" in the message; a missing file is VIV_ENOENT with
 * error.path. The policy is validated after merging. On error p is left
 * unchanged.
 */
VIV_API viv_status viv_policy_load_toml(viv_policy *p, const char *path, viv_error *err);
/* The same from a string; relative host paths are taken relative to base_dir
 * (NULL: the current directory). */
VIV_API viv_status viv_policy_load_toml_string(viv_policy *p, const char *text, size_t len,
                                               const char *base_dir, viv_error *err);
VIV_API viv_status viv_policy_set_guest_mount_path(viv_policy *p, const char *guest_path,
                                                   viv_error *err);
VIV_API viv_status viv_policy_set_guest_data_path(viv_policy *p, const char *guest_path,
                                                  viv_error *err);
VIV_API viv_status viv_policy_set_preserve_logs(viv_policy *p, bool preserve, viv_error *err);
/* Every execution runs in a child process behind a second wall: no new
 * privileges, rlimits, a Landlock ruleset allowing only its mounts, and a
 * seccomp allow-list. Where the kernel lacks Landlock or seccomp the run
 * goes ahead behind WebAssembly alone and the result's metadata says so;
 * with require=true it is refused instead (VIV_EHOST). Default false. */
VIV_API viv_status viv_policy_set_require_kernel_isolation(viv_policy *p, bool require,
                                                           viv_error *err);

/*
 * What a session keeps of its interpreter between executions (docs/state.md).
 *   AUTO     DURABLE for executions in a session, OFF for one-off runs.
 *   OFF      nothing: every execution starts a fresh interpreter.
 *   DURABLE  the session's globals (functions, classes and imports
 *            included) are pickled after each execution into a file the
 *            host owns, outside the workspace, and restored before the
 *            next one; with a warm pool the interpreter itself also stays
 *            alive between executions (LIVE), so everything persists.
 *   LIVE     the live interpreter only: nothing is written, and state
 *            ends when the live interpreter is evicted (the result says so).
 *   JSON     like DURABLE, but the file holds JSON-serialisable globals
 *            only, human-readable (the reference design's behaviour).
 * A mode other than AUTO or OFF needs a session: elsewhere it is
 * VIV_EPOLICY naming persist_state. TOML key: persist_state = "durable".
 */
typedef enum viv_state_mode {
    VIV_STATE_AUTO = 0,
    VIV_STATE_OFF,
    VIV_STATE_DURABLE,
    VIV_STATE_LIVE,
    VIV_STATE_JSON
} viv_state_mode;

VIV_API viv_status viv_policy_set_persist_state(viv_policy *p, viv_state_mode mode, viv_error *err);
VIV_API viv_state_mode viv_policy_persist_state(const viv_policy *p);
/* "auto", "off", "durable", "live", "json"; NULL for an unknown mode. */
VIV_API const char *viv_state_mode_name(viv_state_mode mode);
/* The reverse; VIV_EPOLICY naming persist_state for an unknown name. */
VIV_API viv_status viv_state_mode_parse(const char *name, viv_state_mode *mode, viv_error *err);

/*
 * The whole policy as TOML text (a policy file, docs/policy.md), so that it
 * can cross a process boundary: every field is written, defaults included,
 * and loading the text with viv_policy_load_toml_string over a policy fresh
 * from viv_policy_new after viv_policy_clear_env reproduces p exactly.
 * Host paths are written as they are stored (make them absolute first if
 * the reader's current directory differs). VIV_EINVAL (error.field) when a
 * string is not UTF-8, which TOML cannot carry. *toml is malloc'd and
 * NUL-terminated; free() it. len may be NULL.
 */
VIV_API viv_status viv_policy_to_toml(const viv_policy *p, char **toml, size_t *len,
                                      viv_error *err);

/* ---- structured events ----------------------------------------------------- */

/*
 * A logger sends structured events to zero or more sinks. Event names are
 * stable (docs/events.md): sandbox.execution.start,
 * sandbox.execution.complete, sandbox.security.<kind>,
 * sandbox.session.created|retrieved|deleted, sandbox.session.prune.*.
 * Every event carries "ts" (ISO-8601 UTC with microseconds), "level",
 * "event" and, for executions, "execution_id". Guest output never appears
 * in events. A failing sink never fails the operation that logged.
 */
typedef struct viv_logger viv_logger;

typedef enum viv_log_level {
    VIV_LOG_DEBUG = 0,
    VIV_LOG_INFO,
    VIV_LOG_WARNING,
    VIV_LOG_ERROR
} viv_log_level;

/* Receives each event as one line of JSON (no newline), NUL-terminated. */
typedef void (*viv_log_fn)(void *user, viv_log_level level, const char *event, const char *json);

VIV_API viv_status viv_logger_new(viv_logger **out, viv_error *err);
VIV_API void viv_logger_free(viv_logger *logger);
/* JSON lines to a file descriptor (borrowed: not closed by the logger). */
VIV_API viv_status viv_logger_add_fd(viv_logger *logger, int fd, viv_error *err);
/* JSON lines appended to a file (opened O_APPEND, created 0600). */
VIV_API viv_status viv_logger_add_file(viv_logger *logger, const char *path, viv_error *err);
/* syslog(3) with the given ident (NULL: "vivarium"), facility LOG_USER. */
VIV_API viv_status viv_logger_add_syslog(viv_logger *logger, const char *ident, viv_error *err);
VIV_API viv_status viv_logger_add_callback(viv_logger *logger, viv_log_fn fn, void *user,
                                           viv_error *err);
/* Events below this level are dropped (default VIV_LOG_INFO). */
VIV_API void viv_logger_set_level(viv_logger *logger, viv_log_level level);

/* ---- sessions ------------------------------------------------------------ */

/*
 * A session store is a root directory of sessions. A session is
 * ROOT/<id>/: its workspace ROOT/<id>/workspace/ (mounted read-write in the
 * guest) and its metadata ROOT/<id>/session.json, which the guest can
 * neither see nor change (session_id, created_at, updated_at, version;
 * times in ISO-8601 UTC). Metadata is written atomically (temp file, fsync,
 * rename, fsync of the directory).
 *
 * Session ids match ^[A-Za-z0-9_-]{1,64}$; anything else is VIV_EINVAL with
 * field "session_id", before anything is touched on disk. New ids are
 * UUIDv4. Paths given to the file operations are relative POSIX paths inside
 * the workspace: absolute paths, ".." and symlinks leading out are refused
 * (VIV_EINVAL with err.path). Every call is safe against concurrent callers
 * in other processes.
 */
typedef struct viv_session_store viv_session_store;

typedef struct viv_session_info {
    char id[65];
    char created_at[32]; /* "2026-11-23T01:38:10Z" */
    char updated_at[32];
    uint64_t size_bytes; /* bytes of files in the workspace */
    int version;
} viv_session_info;

/* Open (creating it if needed) the store at root. */
VIV_API viv_status viv_session_store_open(const char *root, viv_session_store **out,
                                          viv_error *err);
VIV_API void viv_session_store_close(viv_session_store *store);
VIV_API const char *viv_session_store_root(const viv_session_store *store);
/* Send session events (created, retrieved, deleted, prune.*) to logger
 * (borrowed; NULL detaches). */
VIV_API void viv_session_store_set_logger(viv_session_store *store, viv_logger *logger);

/* Open a session, creating it when it does not exist (id NULL: a new UUIDv4).
 * *created (may be NULL) says whether this call created it; exactly one of
 * two racing callers sees true. */
VIV_API viv_status viv_session_open(viv_session_store *store, const char *id,
                                    viv_session_info *info, bool *created, viv_error *err);
/* An existing session; VIV_ENOENT if there is none. */
VIV_API viv_status viv_session_get(viv_session_store *store, const char *id, viv_session_info *info,
                                   viv_error *err);
/* Set updated_at to now. */
VIV_API viv_status viv_session_touch(viv_session_store *store, const char *id, viv_error *err);
/* The host path of a session's workspace, into buf. */
VIV_API viv_status viv_session_workspace(viv_session_store *store, const char *id, char *buf,
                                         size_t len, viv_error *err);
/* All sessions with readable metadata, sorted by id; free with free(). */
VIV_API viv_status viv_session_list(viv_session_store *store, viv_session_info **list,
                                    size_t *count, viv_error *err);
/*
 * A copy of session src under the new id dst: its workspace and its saved
 * interpreter state (docs/state.md), so that an agent can try something on
 * the copy and throw it away. The copy appears whole or not at all.
 * VIV_EEXIST (error.path) when dst exists, VIV_ENOENT when src does not.
 * A live interpreter is not copied (its jail admits only src's
 * directories): dst's first execution starts from the saved state.
 */
VIV_API viv_status viv_session_fork(viv_session_store *store, const char *src, const char *dst,
                                    viv_error *err);
/* Forget a session's saved interpreter state (docs/state.md): its next
 * execution starts with empty state. A live interpreter is ended by
 * viv_warm_pool_end_session. A session without saved state is VIV_OK. */
VIV_API viv_status viv_session_clear_state(viv_session_store *store, const char *id,
                                           viv_error *err);
/* Remove a session and its workspace. Removing a missing session is VIV_OK. */
VIV_API viv_status viv_session_remove(viv_session_store *store, const char *id, viv_error *err);

typedef struct viv_prune_entry {
    char id[65];
    char reason[64]; /* for skipped entries: "missing metadata", "corrupt metadata", ... */
    uint64_t bytes;
} viv_prune_entry;

typedef struct viv_prune_report {
    viv_prune_entry *deleted; /* with dry_run: the candidates */
    size_t ndeleted;
    viv_prune_entry *skipped;
    size_t nskipped;
    uint64_t reclaimed_bytes; /* with dry_run: what would be reclaimed */
} viv_prune_report;

/* Remove sessions whose updated_at is older than older_than_s seconds.
 * Never follows a symlink out of the root and never deletes a directory that
 * is not a session (no readable metadata: skipped, with the reason). */
VIV_API viv_status viv_session_prune(viv_session_store *store, double older_than_s, bool dry_run,
                                     viv_prune_report *report, viv_error *err);
VIV_API void viv_prune_report_free(viv_prune_report *report);

/* Relative paths of the regular files in a session's workspace, sorted,
 * optionally filtered by a glob on the relative path (fnmatch, "*" crosses
 * no "/"; NULL: all). Free with viv_strings_free. */
VIV_API viv_status viv_session_files(viv_session_store *store, const char *id, const char *pattern,
                                     char ***paths, size_t *count, viv_error *err);
VIV_API void viv_strings_free(char **strings, size_t count);
/* Read a file (at most max_bytes; more is VIV_EINVAL). *data is malloc'd. */
VIV_API viv_status viv_session_read(viv_session_store *store, const char *id, const char *path,
                                    size_t max_bytes, char **data, size_t *len, viv_error *err);
/* Write a file atomically, creating parent directories. With
 * overwrite=false an existing file is VIV_EINVAL ("exists"). */
VIV_API viv_status viv_session_write(viv_session_store *store, const char *id, const char *path,
                                     const void *data, size_t len, bool overwrite, viv_error *err);
/* Delete a file, or a directory with recursive=true. */
VIV_API viv_status viv_session_delete(viv_session_store *store, const char *id, const char *path,
                                      bool recursive, viv_error *err);

/* ---- sandbox -------------------------------------------------------------- */

typedef struct viv_sandbox viv_sandbox;

/*
 * Load a guest and bind a policy (copied). guest_wasm_path selects the
 * module; NULL means the default guest installed with Vivarium: our CPython
 * 3.11 (PREFIX/lib/vivarium/python3.11/python.wasm; the npm CPython 3.12.0
 * is PREFIX/lib/vivarium/python.wasm). The module's
 * compiled artifact is found next to it ("X.wasm" -> "X.so") or in the
 * artifact cache. Errors: VIV_ENOENT (module missing; error.path),
 * VIV_ENOGUEST (no artifact; the message says how to compile one),
 * VIV_EPOLICY (error.field).
 */
VIV_API viv_status viv_sandbox_create(const viv_policy *policy, const char *guest_wasm_path,
                                      viv_sandbox **out, viv_error *err);
VIV_API void viv_sandbox_destroy(viv_sandbox *sb);

/* Send this sandbox's events to logger (borrowed: it must outlive the
 * sandbox, or be detached with NULL first). */
VIV_API void viv_sandbox_set_logger(viv_sandbox *sb, viv_logger *logger);

/*
 * A cancellation token: another thread (or a signal handler) triggers it
 * and the execution it was passed to stops at once, its process killed,
 * with trap_reason "cancelled". Triggering is sticky until reset, so a
 * token triggered before the execution starts stops it before any guest
 * code runs. viv_cancel_trigger is thread-safe and async-signal-safe.
 */
typedef struct viv_cancel viv_cancel;
VIV_API viv_status viv_cancel_create(viv_cancel **out, viv_error *err);
VIV_API void viv_cancel_destroy(viv_cancel *c);
VIV_API void viv_cancel_trigger(viv_cancel *c);
VIV_API bool viv_cancel_triggered(const viv_cancel *c);
VIV_API void viv_cancel_reset(viv_cancel *c);

/* Optional per-execution inputs. Zero-initialise, then set what you need. */
typedef struct viv_exec_options {
    const char *filename;    /* name the program is shown under; default "main.py" */
    const char *const *args; /* extra sys.argv entries after the program */
    size_t nargs;
    const uint8_t *stdin_data; /* borrowed; NULL: empty stdin */
    size_t stdin_len;
    /* Called with guest output as it arrives (already within the caps).
     * stream is 1 for stdout, 2 for stderr. May be NULL. */
    void (*on_output)(void *user, int stream, const char *bytes, size_t len);
    void *user;
    /* Run in a session: its workspace replaces the policy's, it is created
     * when it does not exist (sandbox.session.created, else .retrieved),
     * and its updated_at is set. sessions is borrowed; session_id NULL with
     * sessions set means a new session with a fresh id. */
    viv_session_store *sessions;
    const char *session_id;
    viv_cancel *cancel; /* borrowed; may be NULL */
} viv_exec_options;

typedef struct viv_result viv_result;

/*
 * Run `code` (Python source, len bytes) under the sandbox's policy. On
 * VIV_OK, *out holds the result whatever the guest did (errors in the guest
 * are results, not statuses). A non-OK status means nothing ran.
 */
VIV_API viv_status viv_sandbox_execute(viv_sandbox *sb, const char *code, size_t len,
                                       const viv_exec_options *opts, viv_result **out,
                                       viv_error *err);

/*
 * Check that `code` compiles as Python, inside the sandbox and under its
 * policy, without running it: Python's compile(code, "<sandbox>", "exec").
 * On VIV_OK, *valid says whether it compiled; if not and message is
 * non-NULL, *message (malloc'd, free() it) holds Python's error, naming
 * "<sandbox>" and the line. A non-OK status means validation itself could
 * not finish (for example it ran out of fuel on a huge input).
 */
VIV_API viv_status viv_sandbox_validate_code(viv_sandbox *sb, const char *code, size_t len,
                                             bool *valid, char **message, viv_error *err);

/* ---- warm interpreters ------------------------------------------------------- */

/*
 * A warm pool keeps interpreters that finished CPython's start-up (and a
 * list of pre-imports) waiting for work, and serves each execution from a
 * copy-on-write fork of one: a fork server ("zygote") per distinct start-up
 * configuration (guest, interpreter argv, env and mount layout). Isolation
 * is unchanged: every execution still gets its policy's fuel, memory cap,
 * deadline, output caps, mounts, env and argv, and the jail; nothing of one
 * execution is visible to the next, since each is a fresh copy of the same
 * untouched interpreter. Executions whose start-up configuration cannot be
 * served warm (for example a policy without a fixed PYTHONHASHSEED, which
 * must differ per execution) run cold, with identical results apart from
 * timing and fuel_consumed (which then includes start-up).
 *
 * The pool also bounds concurrency: at most max_concurrent executions run
 * at once through sandboxes attached to it, up to max_queued more wait, and
 * beyond that viv_sandbox_execute fails with VIV_EBUSY. Executions of the
 * same session id are serialised. A pool is thread-safe; attach it to one
 * sandbox per thread.
 */
typedef struct viv_warm_pool viv_warm_pool;

typedef struct viv_warm_options {
    /* Modules imported once at start-up; NULL: json, re, csv, sqlite3. */
    const char *const *preimports;
    size_t npreimports;
    unsigned zygotes;        /* fork servers per configuration; 0: 1 */
    unsigned max_concurrent; /* running executions; 0: 2 x CPUs */
    unsigned max_queued;     /* waiting executions; 0: 64 */
    double start_timeout_s;  /* for an interpreter's start-up; 0: 60 */
    /* Live interpreters of sessions with state (docs/state.md): at most
     * this many (0: 16; the least recently used idle one makes room), and
     * each ends after this long idle (0: 600 s). */
    unsigned max_live;
    double live_idle_s;
} viv_warm_options;

VIV_API viv_status viv_warm_pool_create(const viv_warm_options *opts, viv_warm_pool **out,
                                        viv_error *err);
/* Stops the pool's interpreters. Sandboxes using it must be destroyed or
 * detached first. */
VIV_API void viv_warm_pool_destroy(viv_warm_pool *pool);

/* End the live interpreters idle past live_idle_s (and beyond max_live).
 * A pool checks this whenever it is used; a server with quiet periods
 * calls it now and then (vivarium serve: every 10 s). */
VIV_API void viv_warm_pool_expire(viv_warm_pool *pool);

/* End session_id's live interpreter, if it has one (whatever it is
 * running: the caller makes sure nothing is). */
VIV_API void viv_warm_pool_end_session(viv_warm_pool *pool, const char *session_id);

/* Route this sandbox's executions through pool (borrowed; NULL detaches). */
VIV_API void viv_sandbox_set_warm_pool(viv_sandbox *sb, viv_warm_pool *pool);

/* Start the interpreter for this sandbox's policy now rather than at its
 * first execution (which otherwise waits for it). VIV_EPOLICY when the
 * policy cannot be served warm (the message says why). */
VIV_API viv_status viv_sandbox_prewarm(viv_sandbox *sb, viv_error *err);

/* Whether the result came from a warm interpreter. */
VIV_API bool viv_result_warm(const viv_result *r);

/* ---- guests ------------------------------------------------------------- */

/* Progress of a long operation: step step_no of steps, elapsed seconds in
 * this step; done is true once when the step ends. */
typedef void (*viv_progress_fn)(void *user, const char *step, unsigned step_no, unsigned steps,
                                double elapsed_s, bool done);

typedef struct viv_compile_options {
    const char *out_path;     /* also copy the artifact here; NULL: cache only */
    const char *cache_dir;    /* NULL: $VIVARIUM_CACHE_DIR, $XDG_CACHE_HOME/vivarium or
                                 ~/.cache/vivarium */
    const char *cc;           /* C compiler; NULL: "cc" */
    viv_progress_fn progress; /* may be NULL */
    void *user;
    const char *opt_level; /* the C compiler's "-O1" (NULL: the default) or "-O2" */
} viv_compile_options;

/*
 * Compile a guest module ahead of time into an artifact (metered for fuel,
 * translated by wasm2c, compiled to a shared object) and cache it by the
 * hash of its inputs. A cache hit returns at once. On success the cached
 * artifact's path is written to artifact_path (if non-NULL) and *cache_hit
 * (if non-NULL) says whether it was already built. Errors: VIV_ENOENT (the
 * module), VIV_EINVAL (not a module we can meter), VIV_EHOST (a tool failed;
 * the message names the log file).
 */
VIV_API viv_status viv_guest_compile(const char *wasm_path, const viv_compile_options *opts,
                                     char *artifact_path, size_t artifact_path_len, bool *cache_hit,
                                     viv_error *err);

/* What a guest module is (`vivarium --version`). */
typedef struct viv_guest_info {
    char name[64];          /* the guest descriptor's name; "" without a descriptor */
    char version[256];      /* the descriptor's version text; "" without one */
    char module_sha256[65]; /* sha256 of the module file, lowercase hex */
    char stdlib_sha256[65]; /* the descriptor's stdlib-sha256 (the hash of its stdlib's
                               manifest); "" when the guest records none */
    bool compiled;          /* a compiled artifact for this module exists, beside it
                               ("X.wasm" -> "X.so") or in the artifact cache */
} viv_guest_info;

/*
 * Describe the guest module at wasm_path (NULL: the default guest). Errors:
 * VIV_ENOENT (no such module; error.path), VIV_EINVAL (a malformed guest
 * descriptor; error.path), VIV_EHOST (the module cannot be read).
 */
VIV_API viv_status viv_guest_describe(const char *wasm_path, viv_guest_info *out, viv_error *err);

/* ---- result ------------------------------------------------------------- */

typedef enum viv_trap_reason {
    VIV_TRAP_NONE = 0,
    VIV_TRAP_OUT_OF_FUEL,
    VIV_TRAP_MEMORY_LIMIT,
    VIV_TRAP_TIMEOUT,
    VIV_TRAP_PROC_EXIT, /* a non-zero exit status through WASI proc_exit */
    VIV_TRAP_TRAP,      /* any other wasm trap */
    VIV_TRAP_HOST_ERROR,
    VIV_TRAP_CANCELLED /* stopped through a viv_cancel token */
} viv_trap_reason;

/* "out_of_fuel", ... ; NULL for VIV_TRAP_NONE. */
VIV_API const char *viv_trap_reason_name(viv_trap_reason reason);

VIV_API void viv_result_free(viv_result *r);
/* True only when nothing trapped and the exit status is 0. */
VIV_API bool viv_result_success(const viv_result *r);
VIV_API int viv_result_exit_code(const viv_result *r);
/* True when a trap or a limit stopped the guest (not for a plain non-zero
 * exit, whose reason is VIV_TRAP_PROC_EXIT). */
VIV_API bool viv_result_trapped(const viv_result *r);
VIV_API viv_trap_reason viv_result_trap_reason(const viv_result *r);
VIV_API const char *viv_result_trap_message(const viv_result *r); /* "" if none */
VIV_API const char *viv_result_stdout(const viv_result *r, size_t *len);
VIV_API const char *viv_result_stderr(const viv_result *r, size_t *len);
VIV_API bool viv_result_stdout_truncated(const viv_result *r);
VIV_API bool viv_result_stderr_truncated(const viv_result *r);
VIV_API int64_t viv_result_fuel_consumed(const viv_result *r);
VIV_API int64_t viv_result_fuel_budget(const viv_result *r);
VIV_API uint64_t viv_result_memory_used_bytes(const viv_result *r);
VIV_API uint64_t viv_result_memory_limit_bytes(const viv_result *r);
VIV_API uint32_t viv_result_memory_pages(const viv_result *r);
VIV_API double viv_result_duration_ms(const viv_result *r);
/* The id carried by this execution's log events (32 hex digits). */
VIV_API const char *viv_result_execution_id(const viv_result *r);
/* The session the execution ran in, or NULL. */
VIV_API const char *viv_result_session_id(const viv_result *r);
/* The host directory that was mounted read-write (gone afterwards for a
 * temporary workspace). */
VIV_API const char *viv_result_workspace_path(const viv_result *r);

/* What the execution changed in its workspace, by content: sorted relative
 * POSIX paths of regular files. Each entry's size and xxh3-64 hash are in
 * the JSON form. */
typedef enum viv_change_kind {
    VIV_FILES_CREATED,
    VIV_FILES_MODIFIED,
    VIV_FILES_DELETED
} viv_change_kind;
VIV_API size_t viv_result_files_count(const viv_result *r, viv_change_kind kind);
VIV_API const char *viv_result_file(const viv_result *r, viv_change_kind kind, size_t i);
/* True when the workspace scan hit its caps (files, depth, bytes hashed)
 * and the lists may be partial. */
VIV_API bool viv_result_files_truncated(const viv_result *r);

/* The whole result as one JSON object (documented in docs/result.md).
 * *json is malloc'd; free it with free(). */
VIV_API viv_status viv_result_to_json(const viv_result *r, char **json, viv_error *err);

#ifdef __cplusplus
}
#endif

#endif /* VIVARIUM_H */
