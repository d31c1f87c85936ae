/*
 * src/cli: the `vivarium` command. A thin client of vivarium.h (plus the
 * engine's compile pipeline for `vivarium compile`).
 *
 * Owns: argument parsing, help texts, exit statuses, and printing.
 */
#ifndef VIV_CLI_H
#define VIV_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "vivarium.h"

/* Exit statuses (docs/cli.md). Guest statuses 0..123 pass through. */
enum {
    VIV_EXIT_GUEST_MAX = 123,
    VIV_EXIT_TIMEOUT = 124,
    VIV_EXIT_USAGE = 125, /* usage or policy error: nothing ran */
    VIV_EXIT_TRAPPED = 126,
    VIV_EXIT_NO_GUEST = 127,
    VIV_EXIT_INTERRUPTED = 130, /* SIGINT/SIGTERM cancelled the execution */
};

int viv_cli_run(int argc, char **argv);
int viv_cli_validate(int argc, char **argv);
int viv_cli_compile(int argc, char **argv);
int viv_cli_session(int argc, char **argv);
int viv_cli_serve(int argc, char **argv);

/* What `run` and `validate` share (options.c). */
typedef struct viv_cli_common {
    viv_policy *policy;
    const char *code;  /* -c */
    const char *wasm;  /* --wasm, or the module --guest names */
    const char *guest; /* --guest */
    char guestbuf[4200];
    bool json;
    int first_arg; /* argv index of the first non-option */
    char *program; /* the program's source, loaded */
    size_t program_len;
    const char *filename;
    char namebuf[256];
    const char *stdin_path; /* --stdin */
    const char *session_id; /* --session */
    const char *sessions_dir;
    const char *log_target; /* --log */
    const char *socket;     /* --socket (run only; see client.c) */
    char *stdin_data;
    size_t stdin_len;
} viv_cli_common;

extern const char viv_cli_policy_help[];
/* Parse options into c. Returns -1 to go on, else an exit status (help
 * printed, or a usage/policy error reported). */
int viv_cli_parse_common(const char *cmd, const char *usage, int argc, char **argv,
                         viv_cli_common *c);
/* Load the program named by -c, FILE or -. Returns -1 or an exit status. */
int viv_cli_load_program(const char *cmd, viv_cli_common *c, int argc, char **argv);
void viv_cli_common_free(viv_cli_common *c);

/* The exit status `vivarium run` gives for a result (run.c); the server
 * computes it with the same function so that both paths agree. */
int viv_cli_exit_status(const viv_result *res);

/* `vivarium run --socket` (client.c): send the parsed request to a
 * `vivarium serve` at socket_path and pass its output through. When nothing
 * usable listens there, *ran is false and nothing was printed except the
 * serve.client.fallback event (to log, when non-NULL): the caller runs
 * locally. Otherwise returns the exit status. */
struct viv_cli_eventlog;
int viv_cli_remote_run(viv_cli_common *c, int argc, char **argv, const char *socket_path,
                       struct viv_cli_eventlog *log, bool *ran);

/* `vivarium --version` (version.c). */
int viv_cli_version(void);

/* Shared helpers (util.c). */
bool viv_cli_parse_size(const char *s, int64_t *out);
bool viv_cli_parse_int(const char *s, int64_t *out);
/* The guests by name: ours (CPython 3.11 from Debian's sources, the
 * default) and the npm one (CPython 3.12.0, the reference-compatible). */
#define VIV_CLI_DEFAULT_GUEST "python3.11"
#define VIV_CLI_NPM_GUEST     "python3.12-npm"
/* The default guest's module (VIV_CLI_DEFAULT_GUEST, looked up as
 * viv_cli_guest_path does), else NULL (the library's installed default, the
 * same guest). Returns a static buffer. */
const char *viv_cli_default_guest(void);
/* The module of the guest called NAME: "python3.12-npm" is DIR/python.wasm,
 * any other NAME is DIR/NAME/python.wasm, where DIR is the build tree's
 * guest/ beside the executable, else the installed PREFIX/lib/vivarium.
 * NULL when NAME is malformed or no such module exists. */
const char *viv_cli_guest_path(const char *name, char *buf, size_t len);
/* Map a library status to an exit status and print the error. */
int viv_cli_fail(const char *cmd, viv_status st, const viv_error *err);
/* --log TARGET: "-" (standard output), "syslog", or a file appended to.
 * NULL target: *out = NULL. Returns -1 to go on, else an exit status. */
int viv_cli_open_logger(const char *cmd, const char *target, viv_logger **out);
/* Read a whole file ("-" = stdin) into a malloc'd buffer. */
int viv_cli_read_file(const char *path, char **data, size_t *len);

#endif /* VIV_CLI_H */
