/*
 * src/log/log.h: structured events, the internal side of viv_logger.
 *
 * Owns: struct viv_logger and its sinks (file descriptors, files, syslog(3),
 * callbacks), the shape of every event line, the execution id, and the
 * truncation rules for strings and path lists that events carry. Knows
 * nothing of sandboxes or sessions: those layers build the fields and call
 * viv_log_emit().
 *
 * ---- the event line -------------------------------------------------------
 *
 * One compact JSON object (UTF-8, no raw control characters) per event:
 *
 *   {"ts":"2026-11-23T01:38:10.123456Z","level":"info",
 *    "event":"sandbox.execution.start","execution_id":"<32 hex>", ...fields}
 *
 *   ts            ISO-8601 UTC, always 6 fractional digits and "Z"
 *   level         "debug" | "info" | "warning" | "error"
 *   event         a name from the catalogue below
 *   execution_id  present when the event belongs to an execution
 *
 * These four keys come first and are reserved: a caller's field of the same
 * name is ignored. The caller's fields follow in their order.
 *
 * Numbers that are reals are written with 15 significant digits (12.5, not
 * 12.500000000000002).
 *
 * Sinks, in the order they were added:
 *   fd, file   the line plus "\n" in one write(2) (retried on EINTR and
 *              short writes). A non-blocking descriptor that stays full for
 *              1 s loses the line (counted); a blocking one blocks, as any
 *              writer would. If a line was cut short, the next line written
 *              there starts with "\n" so that it stands whole.
 *   syslog     syslog(LOG_USER | priority, "IDENT[PID]: LINE"), priority
 *              debug LOG_DEBUG, info LOG_INFO, warning LOG_WARNING, error
 *              LOG_ERR. openlog() is never called: it is process-global (and
 *              keeps the ident pointer), so per-logger idents could not
 *              coexist with each other or with the application's own
 *              openlog(). The ident and pid therefore travel in the message;
 *              the syslog TAG stays whatever the application set (by
 *              default its program name).
 *   callback   fn(user, level, event, LINE) with LINE NUL-terminated and
 *              without the newline.
 *
 * ---- the event catalogue (stable names; fields are required) ---------------
 *
 * Executions (level info unless stated; every one carries execution_id):
 *
 *   sandbox.execution.start
 *       runtime       string, e.g. "python"
 *       session_id    string, or null when the run has no session
 *       policy        object: fuel_budget, memory_bytes, stdout_max_bytes,
 *                     stderr_max_bytes (integers), timeout_seconds (number),
 *                     mounts (array of {"host","guest","readonly"}),
 *                     env_keys (array of strings: the keys only, never the
 *                     values)
 *
 *   sandbox.execution.complete
 *       runtime, session_id              as for start
 *       success       bool
 *       exit_code     integer
 *       trap_reason   string (viv_trap_reason_name) or null
 *       duration_ms   number
 *       fuel_consumed integer
 *       memory_used_bytes                integer
 *       stdout_bytes, stderr_bytes       integers (bytes kept, after caps)
 *       stdout_truncated, stderr_truncated   bools
 *       files_created_count, files_modified_count, files_deleted_count
 *                     integers: the true totals
 *       files_created, files_modified, files_deleted
 *                     path lists built with viv_log_path_list(): at most
 *                     VIV_LOG_MAX_PATHS entries, each cut to
 *                     VIV_LOG_MAX_PATH_CHARS characters plus the marker
 *
 *   sandbox.security.<kind>   level warning; execution_id when there is an
 *                             execution; session_id when there is a session.
 *       path_escape           path (viv_log_path), the guest's attempt to
 *                             leave its mounts
 *       readonly_write        path (viv_log_path), a write to a read-only mount
 *       out_of_fuel           fuel_budget, fuel_consumed
 *       memory_limit          memory_bytes, memory_used_bytes
 *       timeout               timeout_seconds, duration_ms
 *       output_truncated      stream ("stdout"|"stderr"), max_bytes
 *       invalid_session_id    session_id (viv_log_path: the rejected text,
 *                             cut like a path)
 *
 * Sessions (level info; session_id in every one):
 *
 *   sandbox.session.created     session_id
 *   sandbox.session.retrieved   session_id
 *   sandbox.session.deleted     session_id
 *   sandbox.session.forked      session_id (the new one), source_id
 *   sandbox.session.state_reset session_id, reason, set_aside (level
 *                               warning: the saved interpreter state was
 *                               unusable and the run went on without it)
 *
 * Pruning (level info, sandbox.session.prune.error at warning):
 *
 *   sandbox.session.prune.started     root, older_than_s, dry_run
 *   sandbox.session.prune.candidate   session_id, bytes, updated_at
 *   sandbox.session.prune.deleted     session_id, bytes
 *   sandbox.session.prune.skipped     session_id, reason
 *   sandbox.session.prune.error       session_id, message
 *   sandbox.session.prune.completed   dry_run, deleted_count, skipped_count,
 *                                     reclaimed_bytes
 *
 * Guest output (stdout, stderr, file contents) never appears in an event.
 * Strings that come from the guest or from a caller (paths, rejected ids)
 * go through viv_log_path() / viv_log_path_list(), which also make them
 * valid UTF-8.
 *
 * ---- threads and processes --------------------------------------------------
 *
 * A logger may be shared by threads: emission and adding sinks take the
 * logger's (recursive) mutex, so lines from different threads never
 * interleave and sinks see events in one order. A callback runs with that
 * mutex held: it must not block for long; an event it emits to the same
 * logger is dropped (counted) rather than deadlocking, and adding a sink
 * from a callback is VIV_EINVAL. viv_logger_free() must not race with any
 * other use. After fork() in a multi-threaded parent, the child must not use
 * a logger another thread may have been holding.
 */
#ifndef VIV_LOG_H
#define VIV_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "vivarium.h"

/* Event names. */
#define VIV_EV_EXECUTION_START             "sandbox.execution.start"
#define VIV_EV_EXECUTION_COMPLETE          "sandbox.execution.complete"
#define VIV_EV_SECURITY_PATH_ESCAPE        "sandbox.security.path_escape"
#define VIV_EV_SECURITY_READONLY_WRITE     "sandbox.security.readonly_write"
#define VIV_EV_SECURITY_OUT_OF_FUEL        "sandbox.security.out_of_fuel"
#define VIV_EV_SECURITY_MEMORY_LIMIT       "sandbox.security.memory_limit"
#define VIV_EV_SECURITY_TIMEOUT            "sandbox.security.timeout"
#define VIV_EV_SECURITY_OUTPUT_TRUNCATED   "sandbox.security.output_truncated"
#define VIV_EV_SECURITY_INVALID_SESSION_ID "sandbox.security.invalid_session_id"
#define VIV_EV_SESSION_CREATED             "sandbox.session.created"
#define VIV_EV_SESSION_RETRIEVED           "sandbox.session.retrieved"
#define VIV_EV_SESSION_DELETED             "sandbox.session.deleted"
#define VIV_EV_SESSION_FORKED              "sandbox.session.forked"
#define VIV_EV_SESSION_STATE_RESET         "sandbox.session.state_reset"
#define VIV_EV_PRUNE_STARTED               "sandbox.session.prune.started"
#define VIV_EV_PRUNE_CANDIDATE             "sandbox.session.prune.candidate"
#define VIV_EV_PRUNE_DELETED               "sandbox.session.prune.deleted"
#define VIV_EV_PRUNE_SKIPPED               "sandbox.session.prune.skipped"
#define VIV_EV_PRUNE_ERROR                 "sandbox.session.prune.error"
#define VIV_EV_PRUNE_COMPLETED             "sandbox.session.prune.completed"

/* Path lists in events: at most this many entries (the *_count fields carry
 * the totals) ... */
#define VIV_LOG_MAX_PATHS 20
/* ... and each path at most this many characters (Unicode code points)
 * before the marker. */
#define VIV_LOG_MAX_PATH_CHARS 140

/* Length of an execution id: 32 lowercase hex digits (+ NUL). */
#define VIV_LOG_EXECUTION_ID_LEN 32

/*
 * Emit one event at `level` named `event`. `fields` (may be NULL; must be an
 * object otherwise, else it is ignored) is borrowed: the logger adds "ts",
 * "level", "event" and, when execution_id is non-NULL, "execution_id" to its
 * own copy, never to the caller's object, which the caller still owns and
 * must json_decref(). A NULL logger, a NULL event, or a level below the
 * logger's threshold is a no-op. An event or execution_id that is not
 * valid UTF-8 is repaired as viv_log_path() does.
 *
 * Never fails the caller and never reports anywhere: each sink that could
 * not take the event (a write error, a line that could not be built, a
 * re-entrant call from a callback) adds one to viv_logger_dropped(); the
 * other sinks still get it. SIGPIPE from a closed pipe or socket is blocked
 * and discarded, so it never kills the process. syslog(3) reports no
 * errors, so a syslog sink never counts drops.
 */
void viv_log_emit(viv_logger *lg, viv_log_level level, const char *event, const char *execution_id,
                  json_t *fields);

/* Whether an event at `level` would reach any sink: lets callers skip
 * building fields. False for a NULL logger. */
bool viv_log_enabled(const viv_logger *lg, viv_log_level level);

/* Deliveries lost so far (events x sinks). 0 for a NULL logger. */
uint64_t viv_logger_dropped(const viv_logger *lg);

/* "debug", "info", "warning", "error"; NULL for anything else. */
const char *viv_log_level_name(viv_log_level level);

/* A fresh execution id: 16 random bytes from getrandom(2) as 32 lowercase
 * hex digits, NUL-terminated. Never fails: without getrandom it reads
 * /dev/urandom, and failing that mixes clocks, pid and thread id. */
void viv_log_new_execution_id(char out[VIV_LOG_EXECUTION_ID_LEN + 1]);

/*
 * One path (or any untrusted string) for an event, as a new JSON string
 * (NULL only when out of memory; a NULL path gives JSON null).
 *
 * Bytes that are not valid UTF-8 become U+FFFD, one per byte. A string
 * longer than VIV_LOG_MAX_PATH_CHARS characters (code points, counted after
 * that repair) keeps its first VIV_LOG_MAX_PATH_CHARS characters followed by
 * the marker
 *
 *     "…[+N chars]"       (U+2026, then "[+", N in decimal, " chars]")
 *
 * where N is the number of characters cut, so a 200-character path becomes
 * 140 characters + "…[+60 chars]". A cut never splits a character.
 */
json_t *viv_log_path(const char *path);

/*
 * A path list for an event, as a new JSON array (NULL only when out of
 * memory): the first VIV_LOG_MAX_PATHS entries of paths[0..n), each through
 * viv_log_path(). NULL entries are skipped and do not count. paths may be
 * NULL when n is 0. Report the full count in a separate *_count field.
 */
json_t *viv_log_path_list(const char *const *paths, size_t n);

#endif /* VIV_LOG_H */
