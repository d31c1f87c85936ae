/*
 * src/cli/eventlog.h: event lines written by the CLI itself.
 *
 * Owns: the `serve.*` events of docs/events.md (the server's own, and the
 * client's fallback notice) and the sink they and forwarded execution
 * events go to. The library's viv_logger cannot be handed foreign events,
 * so the CLI keeps this small sink of its own with the same targets as
 * --log ('-', 'syslog', a file) and the same line shape (ts, level, event
 * first). Thread-safe: one write(2) per line under a lock.
 */
#ifndef VIV_CLI_EVENTLOG_H
#define VIV_CLI_EVENTLOG_H

#include <jansson.h>

#include "vivarium.h"

typedef struct viv_cli_eventlog viv_cli_eventlog;

/* target as for --log; NULL: *out = NULL (every call below is then a
 * no-op). Returns -1 to go on, else an exit status (message printed). */
int viv_cli_eventlog_open(const char *cmd, const char *target, viv_cli_eventlog **out);
void viv_cli_eventlog_close(viv_cli_eventlog *log);
/* Write a finished line (no newline) at a level. */
void viv_cli_eventlog_line(viv_cli_eventlog *log, viv_log_level level, const char *line);
/* Build and write {"ts","level","event", ...fields}; fields (may be NULL)
 * is borrowed. */
void viv_cli_eventlog_emit(viv_cli_eventlog *log, viv_log_level level, const char *event,
                           json_t *fields);

#endif /* VIV_CLI_EVENTLOG_H */
