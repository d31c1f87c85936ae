/*
 * e2e_harness.h: drive the `vivarium` CLI as a separate process for the
 * end-to-end tests, and the small file-system helpers they share.
 *
 * A test runs the CLI exactly as a user would: a fresh process with an
 * explicit environment, optional stdin, and stdout/stderr/exit status
 * collected in full. A watchdog kills the CLI if it outlives a bound, so a
 * hung sandbox fails the test instead of hanging ctest.
 */
#ifndef E2E_HARNESS_H
#define E2E_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <jansson.h>

/* What one CLI process did. */
typedef struct e2e_run {
    int exit_code;   /* exit status, or -1 when a signal ended it */
    int term_signal; /* the signal that ended it, or 0 */
    bool killed;     /* the watchdog had to kill it */
    double elapsed_s;
    char *out; /* NUL-terminated; may also contain NULs, see out_len */
    size_t out_len;
    char *err;
    size_t err_len;
    json_t *json; /* set by e2e_json() */
} e2e_run;

typedef struct e2e_opts {
    const char *const *env; /* extra "K=V" entries, NULL-terminated; may be NULL */
    const char *stdin_data; /* NULL: stdin is empty (closed at once) */
    size_t stdin_len;
    double watchdog_s; /* 0: the default (60 s) */
} e2e_opts;

/* Path of the CLI under test (from CMake). */
const char *e2e_cli(void);

/* Run `vivarium ARGV...`. argv is NULL-terminated and excludes argv[0].
 * Fails the current test (cmocka) if the process cannot be started. */
void e2e_exec(e2e_run *r, const e2e_opts *o, const char *const *argv);
void e2e_run_free(e2e_run *r);

/* Parse r->out as one JSON object; fails the test when it is not. */
json_t *e2e_json(e2e_run *r);

/* Assertions that show the run's output when they fail. Text searches stop
 * at the first NUL, which the tests never put in searched output. */
void e2e_expect_exit(const e2e_run *r, int code);
void e2e_expect_in(const char *what, const char *hay, const char *needle);
void e2e_expect_not_in(const char *what, const char *hay, const char *needle);

/* Accessors that fail the test when the key is missing or mistyped. */
bool e2e_jbool(json_t *obj, const char *key);
int64_t e2e_jint(json_t *obj, const char *key);
const char *e2e_jstr(json_t *obj, const char *key);
bool e2e_jnull(json_t *obj, const char *key);

/* True when the buffer ends with the given text (ignoring one trailing
 * newline in the buffer). */
bool e2e_ends_with(const char *buf, size_t len, const char *suffix);

/* Files. Paths are built into caller buffers of PATH_MAX bytes. */
void e2e_mkdtemp(char *dir_out); /* under $TMPDIR or /tmp */
void e2e_rmtree(const char *dir);
void e2e_path(char *out, const char *dir, const char *name);
void e2e_write(const char *path, const char *text);
/* Whole file, NUL-terminated, malloc'd; NULL when it cannot be read. */
char *e2e_slurp(const char *path, size_t *len);
/* Number of entries in dir whose names start with prefix (NULL: all),
 * "." and ".." excluded; -1 if dir cannot be read. */
int e2e_count_entries(const char *dir, const char *prefix);

/* cmocka setup/teardown giving each test a fresh scratch directory: *state
 * is its path (a char[PATH_MAX]), removed with everything in it after. */
int e2e_setup_tmp(void **state);
int e2e_teardown_tmp(void **state);

/* Convenience: argv as a compound literal. */
#define E2E_ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define E2E_ENV(...)  ((const char *const[]){__VA_ARGS__, NULL})

/* Run with default options. */
#define E2E_RUN(r, ...) e2e_exec((r), NULL, E2E_ARGV(__VA_ARGS__))

#endif /* E2E_HARNESS_H */
