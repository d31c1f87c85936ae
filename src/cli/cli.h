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
    VIV_EXIT_USAGE = 125,  /* usage or policy error: nothing ran */
    VIV_EXIT_TRAPPED = 126,
    VIV_EXIT_NO_GUEST = 127,
};

int viv_cli_run(int argc, char **argv);
int viv_cli_compile(int argc, char **argv);

/* Shared helpers (util.c). */
bool viv_cli_parse_size(const char *s, int64_t *out);
bool viv_cli_parse_int(const char *s, int64_t *out);
/* The default guest: beside the executable in a build tree, else NULL (the
 * library's installed default). Returns a static buffer. */
const char *viv_cli_default_guest(void);
/* Map a library status to an exit status and print the error. */
int viv_cli_fail(const char *cmd, viv_status st, const viv_error *err);
/* Read a whole file ("-" = stdin) into a malloc'd buffer. */
int viv_cli_read_file(const char *path, char **data, size_t *len);

#endif /* VIV_CLI_H */
