/*
 * tests/unit/log/log_test_util.h: helpers shared by the logger tests.
 *
 * Owns: reading what a sink received (a pipe, a file), splitting JSON lines
 * and checking their common shape, counting open descriptors, and a scratch
 * directory per test program.
 */
#ifndef VIV_LOG_TEST_UTIL_H
#define VIV_LOG_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Everything readable from fd until EOF, NUL-terminated (*len without it). */
char *lt_read_all(int fd, size_t *len);
/* A whole file, NUL-terminated; NULL if it cannot be read. */
char *lt_read_file(const char *path, size_t *len);
/* Whatever is available on a non-blocking fd right now. */
char *lt_read_available(int fd, size_t *len);

/* Parse text as JSON lines: an array holding one object per line. NULL (and
 * a message on stderr naming the line) when any line is not a JSON object
 * or the text does not end with a newline. */
json_t *lt_parse_lines(const char *text);

/* True when ts is "YYYY-MM-DDTHH:MM:SS.uuuuuuZ". */
bool lt_ts_valid(const char *ts);
/* The string member key of obj, or NULL. */
const char *lt_str(const json_t *obj, const char *key);

/* Entries in /proc/self/fd. */
int lt_count_fds(void);

/* A fresh directory under $TMPDIR (or /tmp); the path lives until exit. */
const char *lt_temp_dir(const char *tag);

#endif /* VIV_LOG_TEST_UTIL_H */
