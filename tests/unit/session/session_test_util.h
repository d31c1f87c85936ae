/*
 * tests/unit/session/session_test_util.h: scratch trees and host-side
 * checks shared by the session tests.
 *
 * Every test works in a fresh directory under $TMPDIR (or /tmp) laid out as
 *   base/root/      the session store
 *   base/outside/   a directory no session operation may touch
 * and the helpers here inspect them with plain POSIX calls, independently
 * of the code under test.
 */
#ifndef VIV_SESSION_TEST_UTIL_H
#define VIV_SESSION_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct scratch {
    char base[256];
    char root[300];
    char outside[300];
} scratch;

/* Make base/, base/root/ is left for the store to create, base/outside/
 * exists with secret.txt ("secret"). Fails the test on error. */
void scratch_make(scratch *s);
void scratch_remove(scratch *s);

/* Entries under /proc/self/fd. */
int count_fds(void);
/* Remove a tree without following symlinks. */
void rm_rf(const char *path);
/* Create or replace a file with content; fails the test on error. */
void put_file(const char *path, const char *content);
/* Whole file as a malloc'd string, or NULL. */
char *slurp(const char *path);
bool exists(const char *path); /* lstat succeeds */
/* A recursive listing of path: one "relpath type size" line per entry,
 * sorted; malloc'd. Used to prove a tree did not change. */
char *tree_listing(const char *path);
/* printf into a static rotating buffer (4 slots). */
const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

#endif /* VIV_SESSION_TEST_UTIL_H */
