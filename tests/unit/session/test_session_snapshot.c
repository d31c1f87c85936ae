/*
 * tests/unit/session/test_session_snapshot.c: workspace snapshots: the
 * created/modified/deleted diff (including rewrites that keep size and
 * mtime), hash reuse from a previous snapshot, nested directories,
 * symlinks, the caps and truncation, and the index file.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "session_test_util.h"
#include "snapshot.h"

static int fds_at_start;

typedef struct fx {
    scratch s;
    char dir[300]; /* the directory snapshotted: base/ws */
    char err[256];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    scratch_make(&f->s);
    snprintf(f->dir, sizeof f->dir, "%s/ws", f->s.base);
    assert_int_equal(mkdir(f->dir, 0755), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    scratch_remove(&f->s);
    free(f);
    return 0;
}

static const char *at(fx *f, const char *rel) { return fmt("%s/%s", f->dir, rel); }

static void mkdirs(fx *f, const char *rel)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", f->dir, rel);
    for (char *p = buf + strlen(f->dir) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    mkdir(buf, 0755);
}

static viv_snapshot *take(fx *f, const viv_snapshot *prev, const viv_snapshot_limits *lim)
{
    viv_snapshot *s = NULL;
    if (viv_snapshot_take(-1, f->dir, prev, lim, &s, f->err, sizeof f->err) != 0)
        fail_msg("snapshot: %s", f->err);
    assert_non_null(s);
    return s;
}

/* "a.txt,b.txt" from a change list, for compact assertions. */
static const char *names(const viv_file_change *v, size_t n)
{
    static char buf[4][1024];
    static int slot;
    char *b = buf[slot++ & 3];
    b[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(b, ",");
        strcat(b, v[i].path);
    }
    return b;
}

static void expect_diff(const viv_snapshot *a, const viv_snapshot *b, const char *created,
                        const char *modified, const char *deleted)
{
    viv_changes c;
    assert_int_equal(viv_snapshot_diff(a, b, &c), 0);
    assert_string_equal(names(c.created, c.ncreated), created);
    assert_string_equal(names(c.modified, c.nmodified), modified);
    assert_string_equal(names(c.deleted, c.ndeleted), deleted);
    viv_changes_free(&c);
}

/* ---- diff ----------------------------------------------------------------- */

static void test_diff_basic(void **state)
{
    fx *f = *state;
    put_file(at(f, "b.txt"), "hello");
    put_file(at(f, "c.txt"), "bye!");
    put_file(at(f, "same.txt"), "unchanged");
    viv_snapshot *before = take(f, NULL, NULL);
    assert_int_equal(viv_snapshot_count(before), 3);
    assert_false(viv_snapshot_truncated(before));

    /* Right away, so the rewrite of b.txt lands within the same mtime tick
     * and keeps its size: only its content tells. */
    put_file(at(f, "a.txt"), "new");
    put_file(at(f, "b.txt"), "jello");
    assert_int_equal(unlink(at(f, "c.txt")), 0);
    viv_snapshot *after = take(f, before, NULL);

    viv_changes c;
    assert_int_equal(viv_snapshot_diff(before, after, &c), 0);
    assert_false(c.truncated);
    assert_string_equal(names(c.created, c.ncreated), "a.txt");
    assert_string_equal(names(c.modified, c.nmodified), "b.txt");
    assert_string_equal(names(c.deleted, c.ndeleted), "c.txt");
    assert_int_equal(c.created[0].size, 3);
    assert_int_equal(c.created[0].hash, XXH3_64bits("new", 3));
    assert_int_equal(c.modified[0].size, 5);
    assert_int_equal(c.modified[0].hash, XXH3_64bits("jello", 5));
    /* Deleted entries carry what was there. */
    assert_int_equal(c.deleted[0].size, 4);
    assert_int_equal(c.deleted[0].hash, XXH3_64bits("bye!", 4));
    viv_changes_free(&c);
    viv_changes_free(NULL);

    expect_diff(after, after, "", "", "");
    expect_diff(after, before, "c.txt", "b.txt", "a.txt");
    viv_snapshot_free(before);
    viv_snapshot_free(after);
    viv_snapshot_free(NULL);
}

/* A rewrite that keeps the size and then sets mtime back to the old value
 * is still a modification (ctime moved, so the file is re-hashed). */
static void test_diff_mtime_reset(void **state)
{
    fx *f = *state;
    put_file(at(f, "x.txt"), "aaaa");
    struct stat st;
    assert_int_equal(stat(at(f, "x.txt"), &st), 0);
    viv_snapshot *s1 = take(f, NULL, NULL);
    /* Through the index too, as the sandbox layer will do it. */
    const char *idx = fmt("%s/snap.idx", f->s.base);
    assert_int_equal(viv_snapshot_save(s1, idx, f->err, sizeof f->err), 0);
    viv_snapshot *loaded = NULL;
    assert_int_equal(viv_snapshot_load(idx, &loaded, f->err, sizeof f->err), 0);

    put_file(at(f, "x.txt"), "bbbb");
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, at(f, "x.txt"), ts, 0), 0);
    struct stat st2;
    assert_int_equal(stat(at(f, "x.txt"), &st2), 0);
    assert_int_equal(st2.st_mtim.tv_sec, st.st_mtim.tv_sec);
    assert_int_equal(st2.st_mtim.tv_nsec, st.st_mtim.tv_nsec);
    assert_int_equal(st2.st_size, st.st_size);

    viv_snapshot *s2 = take(f, s1, NULL);
    expect_diff(s1, s2, "", "x.txt", "");
    viv_snapshot *s3 = take(f, loaded, NULL);
    expect_diff(loaded, s3, "", "x.txt", "");
    viv_snapshot_free(s1);
    viv_snapshot_free(s2);
    viv_snapshot_free(s3);
    viv_snapshot_free(loaded);
}

static void test_diff_nested(void **state)
{
    fx *f = *state;
    mkdirs(f, "a/b/c");
    mkdirs(f, "gone/inner");
    mkdirs(f, "emptydir");
    put_file(at(f, "a/b/c/d.txt"), "d");
    put_file(at(f, "a/top.txt"), "t");
    put_file(at(f, "gone/1"), "1");
    put_file(at(f, "gone/inner/2"), "2");
    put_file(at(f, "a.txt"), "sibling sorting before a/");
    viv_snapshot *before = take(f, NULL, NULL);
    assert_int_equal(viv_snapshot_count(before), 5);

    put_file(at(f, "a/b/c/d.txt"), "D");
    mkdirs(f, "a/b/new");
    put_file(at(f, "a/b/new/e.txt"), "e");
    rm_rf(at(f, "gone"));
    viv_snapshot *after = take(f, before, NULL);
    expect_diff(before, after, "a/b/new/e.txt", "a/b/c/d.txt", "gone/1,gone/inner/2");
    viv_snapshot_free(before);
    viv_snapshot_free(after);
}

/* Symlinks are not recorded and never followed; FIFOs are skipped. */
static void test_symlinks_ignored(void **state)
{
    fx *f = *state;
    put_file(at(f, "real.txt"), "r");
    assert_int_equal(symlink(fmt("%s/secret.txt", f->s.outside), at(f, "flink")), 0);
    assert_int_equal(symlink(f->s.outside, at(f, "dlink")), 0);
    assert_int_equal(symlink("real.txt", at(f, "inner")), 0);
    assert_int_equal(mkfifo(at(f, "fifo"), 0600), 0);
    viv_snapshot *s = take(f, NULL, NULL);
    assert_int_equal(viv_snapshot_count(s), 1);
    assert_false(viv_snapshot_truncated(s));
    viv_snapshot *empty = NULL;
    assert_int_equal(viv_snapshot_take(AT_FDCWD, f->s.outside, NULL, NULL, &empty, NULL, 0), 0);
    /* Changing the target outside changes nothing we recorded. */
    put_file(fmt("%s/secret.txt", f->s.outside), "changed");
    viv_snapshot *s2 = take(f, s, NULL);
    expect_diff(s, s2, "", "", "");
    viv_snapshot_free(s);
    viv_snapshot_free(s2);
    viv_snapshot_free(empty);
}

/* ---- reuse ---------------------------------------------------------------- */

static void test_hash_reuse(void **state)
{
    fx *f = *state;
    put_file(at(f, "one"), "1111111111");
    put_file(at(f, "two"), "22222");
    viv_snapshot *fresh = take(f, NULL, NULL);
    assert_int_equal(viv_snapshot_bytes_hashed(fresh), 15);
    /* Too recent to trust: files changed within 2 s of the previous
     * snapshot's start are re-hashed. */
    viv_snapshot *again = take(f, fresh, NULL);
    assert_int_equal(viv_snapshot_bytes_hashed(again), 15);

    /* Let the files age past the margin, then snapshot: that one hashes,
     * and the next one, with it as prev, reads nothing. */
    sleep(2);
    usleep(300000);
    viv_snapshot *s1 = take(f, NULL, NULL);
    assert_int_equal(viv_snapshot_bytes_hashed(s1), 15);
    viv_snapshot *s2 = take(f, s1, NULL);
    assert_int_equal(viv_snapshot_bytes_hashed(s2), 0);
    expect_diff(s1, s2, "", "", "");

    /* The same through the index. */
    const char *idx = fmt("%s/snap.idx", f->s.base);
    assert_int_equal(viv_snapshot_save(s2, idx, f->err, sizeof f->err), 0);
    viv_snapshot *loaded = NULL;
    assert_int_equal(viv_snapshot_load(idx, &loaded, f->err, sizeof f->err), 0);
    put_file(at(f, "two"), "33333");
    viv_snapshot *s3 = take(f, loaded, NULL);
    assert_int_equal(viv_snapshot_bytes_hashed(s3), 5); /* only "two" */
    expect_diff(loaded, s3, "", "two", "");

    viv_snapshot_free(fresh);
    viv_snapshot_free(again);
    viv_snapshot_free(s1);
    viv_snapshot_free(s2);
    viv_snapshot_free(s3);
    viv_snapshot_free(loaded);
}

/* ---- caps ----------------------------------------------------------------- */

static void test_caps(void **state)
{
    fx *f = *state;
    for (int i = 0; i < 5; i++)
        put_file(at(f, fmt("f%d", i)), "12345678");
    viv_snapshot *full = take(f, NULL, NULL);
    assert_int_equal(viv_snapshot_count(full), 5);

    viv_snapshot_limits lim = {.max_files = 3};
    viv_snapshot *few = take(f, NULL, &lim);
    assert_true(viv_snapshot_truncated(few));
    assert_int_equal(viv_snapshot_count(few), 3);
    /* What the cap left out is not reported as deleted (or created). */
    viv_changes c;
    assert_int_equal(viv_snapshot_diff(full, few, &c), 0);
    assert_true(c.truncated);
    assert_int_equal(c.ncreated + c.nmodified + c.ndeleted, 0);
    viv_changes_free(&c);
    assert_int_equal(viv_snapshot_diff(few, full, &c), 0);
    assert_true(c.truncated);
    assert_int_equal(c.ncreated + c.nmodified + c.ndeleted, 0);
    viv_changes_free(&c);
    /* Changes inside the covered part still show. */
    assert_int_equal(unlink(at(f, "f0")), 0);
    viv_snapshot *few2 = take(f, NULL, &lim);
    assert_int_equal(viv_snapshot_diff(full, few2, &c), 0);
    assert_true(c.truncated);
    assert_string_equal(names(c.deleted, c.ndeleted), "f0");
    assert_int_equal(c.ncreated + c.nmodified, 0);
    viv_changes_free(&c);

    /* The byte cap: 8-byte files, 20 bytes to spend. */
    viv_snapshot_limits blim = {.max_bytes_hashed = 20};
    viv_snapshot *bytes = take(f, NULL, &blim);
    assert_true(viv_snapshot_truncated(bytes));
    assert_int_equal(viv_snapshot_count(bytes), 2);
    assert_true(viv_snapshot_bytes_hashed(bytes) <= 20);

    /* The depth cap: directories below it are not entered. */
    mkdirs(f, "d1/d2/d3");
    put_file(at(f, "d1/x"), "x");
    put_file(at(f, "d1/d2/d3/y"), "y");
    viv_snapshot_limits dlim = {.max_depth = 2};
    viv_snapshot *shallow = take(f, NULL, &dlim);
    assert_true(viv_snapshot_truncated(shallow));
    assert_int_equal(viv_snapshot_count(shallow), 5); /* f1..f4, d1/x */
    viv_snapshot *deep = take(f, NULL, NULL);
    assert_false(viv_snapshot_truncated(deep));
    assert_int_equal(viv_snapshot_count(deep), 6);

    /* Truncation survives the index. */
    const char *idx = fmt("%s/few.idx", f->s.base);
    assert_int_equal(viv_snapshot_save(few, idx, f->err, sizeof f->err), 0);
    viv_snapshot *loaded = NULL;
    assert_int_equal(viv_snapshot_load(idx, &loaded, f->err, sizeof f->err), 0);
    assert_true(viv_snapshot_truncated(loaded));
    assert_int_equal(viv_snapshot_diff(full, loaded, &c), 0);
    assert_int_equal(c.ncreated + c.nmodified + c.ndeleted, 0);
    viv_changes_free(&c);

    viv_snapshot *list[] = {full, few, few2, bytes, shallow, deep, loaded};
    for (size_t i = 0; i < sizeof list / sizeof *list; i++)
        viv_snapshot_free(list[i]);
}

/* ---- index ---------------------------------------------------------------- */

static void test_index_round_trip(void **state)
{
    fx *f = *state;
    mkdirs(f, "x/y");
    put_file(at(f, "x/y/z"), "zzz");
    put_file(at(f, "x.txt"), "x");
    put_file(at(f, "empty"), "");
    viv_snapshot *s = take(f, NULL, NULL);
    const char *idx = fmt("%s/snap.idx", f->s.base);
    assert_int_equal(viv_snapshot_save(s, idx, f->err, sizeof f->err), 0);
    viv_snapshot *l = NULL;
    assert_int_equal(viv_snapshot_load(idx, &l, f->err, sizeof f->err), 0);
    assert_int_equal(viv_snapshot_count(l), 3);
    assert_false(viv_snapshot_truncated(l));
    expect_diff(s, l, "", "", "");
    /* Overwriting an index is atomic and leaves no temp files. */
    assert_int_equal(viv_snapshot_save(l, idx, f->err, sizeof f->err), 0);
    char *listing = tree_listing(f->s.base);
    assert_null(strstr(listing, "snap.idx."));
    free(listing);
    /* An empty snapshot round-trips too. */
    rm_rf(f->dir);
    assert_int_equal(mkdir(f->dir, 0755), 0);
    viv_snapshot *e = take(f, NULL, NULL);
    assert_int_equal(viv_snapshot_save(e, idx, f->err, sizeof f->err), 0);
    viv_snapshot *le = NULL;
    assert_int_equal(viv_snapshot_load(idx, &le, f->err, sizeof f->err), 0);
    assert_int_equal(viv_snapshot_count(le), 0);
    expect_diff(s, le, "", "", "empty,x.txt,x/y/z");
    viv_snapshot_free(s);
    viv_snapshot_free(l);
    viv_snapshot_free(e);
    viv_snapshot_free(le);
    /* A dirfd with a NULL dir means that directory itself. */
    int fd = open(f->s.outside, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    assert_int_equal(viv_snapshot_take(fd, NULL, NULL, NULL, &e, NULL, 0), 0);
    assert_int_equal(viv_snapshot_count(e), 1);
    viv_snapshot_free(e);
    close(fd);
    assert_int_equal(viv_snapshot_take(-1, at(f, "missing"), NULL, NULL, &e, f->err, sizeof f->err),
                     -1);
    assert_null(e);
}

static unsigned char *read_bin(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n > 0);
    rewind(fp);
    unsigned char *p = malloc((size_t)n);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return p;
}

static void write_bin(const char *path, const unsigned char *p, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void expect_load_fails(fx *f, const char *path)
{
    viv_snapshot *l = (viv_snapshot *)1;
    assert_int_equal(viv_snapshot_load(path, &l, f->err, sizeof f->err), -1);
    assert_null(l);
    assert_true(strlen(f->err) > 0);
}

static void test_index_corrupt(void **state)
{
    fx *f = *state;
    put_file(at(f, "a.txt"), "alpha");
    put_file(at(f, "b.txt"), "beta");
    viv_snapshot *s = take(f, NULL, NULL);
    const char *idx = fmt("%s/snap.idx", f->s.base);
    const char *bad = fmt("%s/bad.idx", f->s.base);
    assert_int_equal(viv_snapshot_save(s, idx, f->err, sizeof f->err), 0);
    viv_snapshot_free(s);
    size_t len;
    unsigned char *orig = read_bin(idx, &len);

    expect_load_fails(f, fmt("%s/missing.idx", f->s.base));
    write_bin(bad, orig, 0);
    expect_load_fails(f, bad);
    write_bin(bad, (const unsigned char *)"garbage that is long enough to parse", 36);
    expect_load_fails(f, bad);
    /* Every single-byte change and every truncation is caught. */
    unsigned char *copy = malloc(len);
    assert_non_null(copy);
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, orig, len);
        copy[i] ^= 0x40;
        write_bin(bad, copy, len);
        expect_load_fails(f, bad);
        write_bin(bad, orig, i);
        expect_load_fails(f, bad);
    }
    /* Trailing junk. */
    unsigned char *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, orig, len);
    longer[len] = 0;
    write_bin(bad, longer, len + 1);
    expect_load_fails(f, bad);
    free(longer);
    /* A well-formed checksum does not make a bad body acceptable: turn
     * "a.txt" into "/.txt" and into "..txt"... and re-seal. */
    unsigned char *p = memmem(orig, len, "a.txt", 5);
    assert_non_null(p);
    const char *forged[] = {"/.txt", "../xt", "b.txt"}; /* absolute, "..", out of order */
    for (size_t k = 0; k < 3; k++) {
        memcpy(copy, orig, len);
        memcpy(copy + (p - orig), forged[k], 5);
        uint64_t sum = XXH3_64bits(copy, len - 8);
        for (int i = 0; i < 8; i++)
            copy[len - 8 + (size_t)i] = (unsigned char)(sum >> (8 * i));
        write_bin(bad, copy, len);
        expect_load_fails(f, bad);
    }
    /* The untouched index still loads. */
    viv_snapshot *l = NULL;
    assert_int_equal(viv_snapshot_load(idx, &l, f->err, sizeof f->err), 0);
    viv_snapshot_free(l);
    free(copy);
    free(orig);
    /* Saving where no file can be made fails cleanly. */
    viv_snapshot *e = take(f, NULL, NULL);
    assert_int_equal(
        viv_snapshot_save(e, fmt("%s/no/such/dir/x.idx", f->s.base), f->err, sizeof f->err), -1);
    viv_snapshot_free(e);
}

static void test_no_fd_leak(void **state)
{
    (void)state;
    assert_int_equal(count_fds(), fds_at_start);
}

int main(void)
{
    fds_at_start = count_fds();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_diff_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diff_mtime_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diff_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_corrupt, setup, teardown),
        cmocka_unit_test(test_no_fd_leak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
