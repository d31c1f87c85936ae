/*
 * tests/unit/session/session_test_util.c: scratch trees and host-side
 * checks for the session tests (see the header).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "session_test_util.h"

void scratch_make(scratch *s)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(s->base, sizeof s->base, "%s/viv-session-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(s->base));
    snprintf(s->root, sizeof s->root, "%s/root", s->base);
    snprintf(s->outside, sizeof s->outside, "%s/outside", s->base);
    assert_int_equal(mkdir(s->outside, 0755), 0);
    put_file(fmt("%s/secret.txt", s->outside), "secret");
}

void scratch_remove(scratch *s) { rm_rf(s->base); }

int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* opendir's own fd */
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    /* Directories made unreadable by a test would stop the walk. */
    if (flag == FTW_DNR)
        chmod(path, 0700);
    remove(path);
    return 0;
}

void rm_rf(const char *path) { nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS); }

void put_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
    assert_int_equal(fclose(f), 0);
}

char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 256, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static char **lines;
static size_t nlines, caplines;
static size_t baselen;

static int list_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    if (nlines == caplines) {
        caplines = caplines ? caplines * 2 : 64;
        lines = realloc(lines, caplines * sizeof *lines);
        assert_non_null(lines);
    }
    char type = S_ISDIR(st->st_mode) ? 'd' : S_ISLNK(st->st_mode) ? 'l' : 'f';
    long long size = S_ISDIR(st->st_mode) ? 0 : (long long)st->st_size;
    int n = asprintf(&lines[nlines], "%s %c %lld", path + baselen, type, size);
    assert_true(n > 0);
    nlines++;
    return 0;
}

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *tree_listing(const char *path)
{
    lines = NULL;
    nlines = caplines = 0;
    baselen = strlen(path);
    if (nftw(path, list_one, 32, FTW_PHYS) != 0) {
        char *none = strdup("(missing)");
        assert_non_null(none);
        return none;
    }
    qsort(lines, nlines, sizeof *lines, line_cmp);
    size_t total = 1;
    for (size_t i = 0; i < nlines; i++)
        total += strlen(lines[i]) + 1;
    char *out = malloc(total);
    assert_non_null(out);
    out[0] = '\0';
    for (size_t i = 0; i < nlines; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
        free(lines[i]);
    }
    free(lines);
    lines = NULL;
    return out;
}

const char *fmt(const char *f, ...)
{
    static char bufs[4][4096];
    static int slot;
    char *b = bufs[slot++ & 3];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, 4096, f, ap);
    va_end(ap);
    return b;
}
