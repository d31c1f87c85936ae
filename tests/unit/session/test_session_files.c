/*
 * tests/unit/session/test_session_files.c: the host's file operations on a
 * workspace: files/read/write/delete, and every way a path could leave the
 * workspace (absolute, "..", symlinks out), which must all be refused
 * without touching anything outside.
 *
 * Each test gets base/root/ (the store, with session "s") and
 * base/outside/secret.txt.
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
#include <unistd.h>

#include <cmocka.h>

#include "session_test_util.h"
#include "vivarium.h"

static int fds_at_start;

typedef struct fx {
    scratch s;
    viv_session_store *store;
    char ws[512];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    scratch_make(&f->s);
    viv_error err = {0};
    assert_int_equal(viv_session_store_open(f->s.root, &f->store, &err), VIV_OK);
    assert_int_equal(viv_session_open(f->store, "s", NULL, NULL, &err), VIV_OK);
    snprintf(f->ws, sizeof f->ws, "%s/s/workspace", f->s.root);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    viv_session_store_close(f->store);
    scratch_remove(&f->s);
    free(f);
    return 0;
}

static void write_ok(fx *f, const char *path, const char *content)
{
    viv_error err = {0};
    viv_status st = viv_session_write(f->store, "s", path, content, strlen(content), true, &err);
    if (st != VIV_OK)
        fail_msg("write %s: %s", path, err.message);
}

static void expect_read(fx *f, const char *path, const char *content)
{
    viv_error err = {0};
    char *data = NULL;
    size_t len = 0;
    viv_status st = viv_session_read(f->store, "s", path, 1 << 20, &data, &len, &err);
    if (st != VIV_OK)
        fail_msg("read %s: %s", path, err.message);
    assert_int_equal(len, strlen(content));
    assert_memory_equal(data, content, len);
    free(data);
}

/* ---- write / read --------------------------------------------------------- */

static void test_write_read(void **state)
{
    fx *f = *state;
    viv_error err = {0};
    write_ok(f, "hello.txt", "hello");
    expect_read(f, "hello.txt", "hello");
    char *disk = slurp(fmt("%s/hello.txt", f->ws));
    assert_string_equal(disk, "hello");
    free(disk);

    /* Parents are created; "." and repeated slashes are harmless. */
    write_ok(f, "a/b/c/d.txt", "deep");
    expect_read(f, "./a//b/c/d.txt", "deep");
    struct stat st;
    assert_int_equal(stat(fmt("%s/a/b/c", f->ws), &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    /* Binary content and the empty file. */
    static const char bin[] = {'x', '\0', 'y', '\n', '\0'};
    assert_int_equal(viv_session_write(f->store, "s", "bin", bin, sizeof bin, true, &err), VIV_OK);
    char *data;
    size_t len;
    assert_int_equal(viv_session_read(f->store, "s", "bin", sizeof bin, &data, &len, &err), VIV_OK);
    assert_int_equal(len, sizeof bin);
    assert_memory_equal(data, bin, sizeof bin);
    free(data);
    assert_int_equal(viv_session_write(f->store, "s", "empty", NULL, 0, true, &err), VIV_OK);
    expect_read(f, "empty", "");

    /* max_bytes is inclusive; one byte over is refused. */
    assert_int_equal(viv_session_read(f->store, "s", "hello.txt", 5, &data, &len, &err), VIV_OK);
    free(data);
    assert_int_equal(viv_session_read(f->store, "s", "hello.txt", 4, &data, &len, &err),
                     VIV_EINVAL);
    assert_null(data);
    assert_string_equal(err.path, "hello.txt");

    /* Missing things. */
    assert_int_equal(viv_session_read(f->store, "s", "nope", 10, &data, &len, &err), VIV_ENOENT);
    assert_string_equal(err.path, "nope");
    assert_int_equal(viv_session_read(f->store, "t", "x", 10, &data, &len, &err), VIV_ENOENT);
    assert_int_equal(viv_session_write(f->store, "t", "x", "x", 1, true, &err), VIV_ENOENT);
    assert_false(exists(fmt("%s/t", f->s.root)));

    /* Not regular files. */
    assert_int_equal(viv_session_read(f->store, "s", "a", 10, &data, &len, &err), VIV_EINVAL);
    assert_int_equal(mkfifo(fmt("%s/fifo", f->ws), 0600), 0);
    assert_int_equal(viv_session_read(f->store, "s", "fifo", 10, &data, &len, &err), VIV_EINVAL);
    assert_non_null(strstr(err.message, "regular"));

    /* A component that is a file. */
    assert_int_equal(viv_session_write(f->store, "s", "hello.txt/x", "x", 1, true, &err),
                     VIV_EINVAL);
    /* A directory is not overwritten by a file. */
    assert_int_equal(viv_session_write(f->store, "s", "a", "x", 1, true, &err), VIV_EINVAL);
    assert_non_null(strstr(err.message, "directory"));

    /* No temp files are left anywhere. */
    char *listing = tree_listing(f->ws);
    assert_null(strstr(listing, ".viv-"));
    free(listing);
}

static void test_write_no_overwrite(void **state)
{
    fx *f = *state;
    viv_error err = {0};
    assert_int_equal(viv_session_write(f->store, "s", "f.txt", "one", 3, false, &err), VIV_OK);
    assert_int_equal(viv_session_write(f->store, "s", "f.txt", "two", 3, false, &err), VIV_EINVAL);
    assert_non_null(strstr(err.message, "exists"));
    assert_string_equal(err.path, "f.txt");
    expect_read(f, "f.txt", "one");
    assert_int_equal(viv_session_write(f->store, "s", "f.txt", "three", 5, true, &err), VIV_OK);
    expect_read(f, "f.txt", "three");
    char *listing = tree_listing(f->ws);
    assert_string_equal(listing, " d 0\n/f.txt f 5\n");
    free(listing);
}

/* ---- confinement ---------------------------------------------------------- */

static void test_refuses_escapes(void **state)
{
    fx *f = *state;
    write_ok(f, "a/x", "inside");
    char *base_before = tree_listing(f->s.base);
    const char *bad[] = {
        "../../etc/passwd",   "/etc/passwd", "a/../../x", "..", "a/..", "", ".", "./",
        "../s/workspace/a/x", "a/../a/x",    "//x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *p = bad[i];
        viv_error err = {0};
        char *data = (char *)1;
        size_t len;
        assert_int_equal(viv_session_read(f->store, "s", p, 100, &data, &len, &err), VIV_EINVAL);
        assert_null(data);
        assert_string_equal(err.path, p);
        assert_true(strlen(err.message) > 0);
        memset(&err, 0, sizeof err);
        assert_int_equal(viv_session_write(f->store, "s", p, "pwned", 5, true, &err), VIV_EINVAL);
        assert_string_equal(err.path, p);
        memset(&err, 0, sizeof err);
        assert_int_equal(viv_session_delete(f->store, "s", p, true, &err), VIV_EINVAL);
        assert_string_equal(err.path, p);
    }
    viv_error err = {0};
    assert_int_equal(
        viv_session_read(f->store, "s", "/etc/passwd", 100, &(char *){0}, &(size_t){0}, &err),
        VIV_EINVAL);
    assert_non_null(strstr(err.message, "absolute"));
    assert_int_equal(viv_session_write(f->store, "s", "a/../../x", "x", 1, true, &err), VIV_EINVAL);
    assert_non_null(strstr(err.message, ".."));
    assert_int_equal(viv_session_read(f->store, "s", NULL, 100, &(char *){0}, &(size_t){0}, &err),
                     VIV_EINVAL);
    char *base_after = tree_listing(f->s.base);
    assert_string_equal(base_before, base_after);
    free(base_before);
    free(base_after);
}

static void test_symlinks_out(void **state)
{
    fx *f = *state;
    viv_error err = {0};
    char *data = NULL;
    size_t len;
    /* The guest planted links to a file and a directory outside. */
    assert_int_equal(symlink(fmt("%s/secret.txt", f->s.outside), fmt("%s/flink", f->ws)), 0);
    assert_int_equal(symlink(f->s.outside, fmt("%s/dlink", f->ws)), 0);
    assert_int_equal(symlink("../../../outside/secret.txt", fmt("%s/rel", f->ws)), 0);
    char *outside_before = tree_listing(f->s.outside);

    const char *reads[] = {"flink", "dlink/secret.txt", "rel"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(viv_session_read(f->store, "s", reads[i], 100, &data, &len, &err),
                         VIV_EINVAL);
        assert_null(data);
        assert_string_equal(err.path, reads[i]);
        assert_non_null(strstr(err.message, "outside"));
    }
    /* Writing through a link is refused, to a file link or into a dir link. */
    assert_int_equal(viv_session_write(f->store, "s", "flink", "pwned", 5, true, &err), VIV_EINVAL);
    assert_non_null(strstr(err.message, "symlink"));
    assert_int_equal(viv_session_write(f->store, "s", "dlink/new.txt", "pwned", 5, true, &err),
                     VIV_EINVAL);
    assert_int_equal(viv_session_write(f->store, "s", "dlink/sub/new.txt", "x", 1, true, &err),
                     VIV_EINVAL);
    assert_int_equal(viv_session_write(f->store, "s", "rel", "pwned", 5, true, &err), VIV_EINVAL);
    /* Listing never follows links. */
    char **paths;
    size_t n;
    assert_int_equal(viv_session_files(f->store, "s", NULL, &paths, &n, &err), VIV_OK);
    assert_int_equal(n, 0);
    viv_strings_free(paths, n);
    char *outside_mid = tree_listing(f->s.outside);
    assert_string_equal(outside_before, outside_mid);
    free(outside_mid);

    /* Deleting a link removes the link, never the target. */
    assert_int_equal(viv_session_delete(f->store, "s", "flink", false, &err), VIV_OK);
    assert_int_equal(viv_session_delete(f->store, "s", "dlink", true, &err), VIV_OK);
    assert_int_equal(viv_session_delete(f->store, "s", "rel", false, &err), VIV_OK);
    assert_false(exists(fmt("%s/flink", f->ws)));
    assert_false(exists(fmt("%s/dlink", f->ws)));
    char *outside_after = tree_listing(f->s.outside);
    assert_string_equal(outside_before, outside_after);
    free(outside_before);
    free(outside_after);
    char *secret = slurp(fmt("%s/secret.txt", f->s.outside));
    assert_string_equal(secret, "secret");
    free(secret);
}

/* Links that stay inside the workspace are followed for reads and for
 * parent directories. */
static void test_symlinks_inside(void **state)
{
    fx *f = *state;
    write_ok(f, "real/file.txt", "data");
    assert_int_equal(symlink("real/file.txt", fmt("%s/alias", f->ws)), 0);
    assert_int_equal(symlink("real", fmt("%s/dir", f->ws)), 0);
    expect_read(f, "alias", "data");
    expect_read(f, "dir/file.txt", "data");
    write_ok(f, "dir/new.txt", "new");
    expect_read(f, "real/new.txt", "new");
}

/* ---- delete --------------------------------------------------------------- */

static void test_delete(void **state)
{
    fx *f = *state;
    viv_error err = {0};
    write_ok(f, "f.txt", "x");
    write_ok(f, "d/e/g.txt", "y");
    write_ok(f, "d/h.txt", "z");
    assert_int_equal(symlink(f->s.outside, fmt("%s/d/e/out", f->ws)), 0);
    assert_int_equal(mkdir(fmt("%s/emptydir", f->ws), 0700), 0);

    assert_int_equal(viv_session_delete(f->store, "s", "f.txt", false, &err), VIV_OK);
    assert_false(exists(fmt("%s/f.txt", f->ws)));
    assert_int_equal(viv_session_delete(f->store, "s", "f.txt", false, &err), VIV_ENOENT);
    assert_string_equal(err.path, "f.txt");
    assert_int_equal(viv_session_delete(f->store, "s", "nope/x", false, &err), VIV_ENOENT);

    assert_int_equal(viv_session_delete(f->store, "s", "d", false, &err), VIV_EINVAL);
    assert_non_null(strstr(err.message, "not empty"));
    assert_true(exists(fmt("%s/d/h.txt", f->ws)));
    assert_int_equal(viv_session_delete(f->store, "s", "emptydir", false, &err), VIV_OK);
    assert_false(exists(fmt("%s/emptydir", f->ws)));

    assert_int_equal(viv_session_delete(f->store, "s", "d/", true, &err), VIV_OK);
    assert_false(exists(fmt("%s/d", f->ws)));
    assert_true(exists(fmt("%s/secret.txt", f->s.outside)));
    char *listing = tree_listing(f->ws);
    assert_string_equal(listing, " d 0\n");
    free(listing);
}

/* ---- files ---------------------------------------------------------------- */

static void expect_files(fx *f, const char *pattern, const char *const *want, size_t nwant)
{
    viv_error err = {0};
    char **paths = NULL;
    size_t n = 99;
    assert_int_equal(viv_session_files(f->store, "s", pattern, &paths, &n, &err), VIV_OK);
    if (n != nwant)
        fail_msg("pattern %s: %zu files, want %zu", pattern ? pattern : "(null)", n, nwant);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(paths[i], want[i]);
    if (n == 0)
        assert_null(paths);
    viv_strings_free(paths, n);
}

static void test_files(void **state)
{
    fx *f = *state;
    write_ok(f, "b.py", "1");
    write_ok(f, "a.txt", "2");
    write_ok(f, "sub/c.txt", "3");
    write_ok(f, "sub/deep/d.txt", "4");
    write_ok(f, "sub.txt", "5");
    write_ok(f, ".hidden", "6");
    assert_int_equal(mkdir(fmt("%s/emptydir", f->ws), 0700), 0);
    assert_int_equal(symlink("a.txt", fmt("%s/link.txt", f->ws)), 0);
    assert_int_equal(symlink(f->s.outside, fmt("%s/outdir", f->ws)), 0);

    const char *all[] = {".hidden", "a.txt", "b.py", "sub.txt", "sub/c.txt", "sub/deep/d.txt"};
    expect_files(f, NULL, all, 6);
    const char *txt[] = {"a.txt", "sub.txt"};
    expect_files(f, "*.txt", txt, 2); /* "*" crosses no "/" */
    const char *sub[] = {"sub/c.txt"};
    expect_files(f, "sub/*", sub, 1);
    expect_files(f, "*/*.txt", sub, 1);
    const char *deep[] = {"sub/deep/d.txt"};
    expect_files(f, "sub/*/*", deep, 1);
    expect_files(f, "*.rs", NULL, 0);

    viv_error err = {0};
    char **paths;
    size_t n;
    assert_int_equal(viv_session_files(f->store, "nope", NULL, &paths, &n, &err), VIV_ENOENT);
    assert_int_equal(viv_session_files(f->store, "s", NULL, NULL, &n, &err), VIV_EINVAL);
    viv_strings_free(NULL, 0);
}

/* More than 100,000 matching files is refused rather than returned. */
static void test_files_cap(void **state)
{
    fx *f = *state;
    int dfd = open(f->ws, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    char name[32];
    for (int i = 0; i < 100001; i++) {
        snprintf(name, sizeof name, "%d", i);
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);
    }
    viv_error err = {0};
    char **paths = (char **)1;
    size_t n = 1;
    assert_int_equal(viv_session_files(f->store, "s", NULL, &paths, &n, &err), VIV_EINVAL);
    assert_non_null(strstr(err.message, "too many files"));
    assert_null(paths);
    assert_int_equal(n, 0);
    /* A pattern that selects fewer is fine. */
    assert_int_equal(viv_session_files(f->store, "s", "1000?", &paths, &n, &err), VIV_OK);
    assert_int_equal(n, 10);
    assert_string_equal(paths[0], "10000");
    viv_strings_free(paths, n);
    assert_int_equal(unlinkat(dfd, "0", 0), 0);
    assert_int_equal(viv_session_files(f->store, "s", NULL, &paths, &n, &err), VIV_OK);
    assert_int_equal(n, 100000);
    viv_strings_free(paths, n);
    close(dfd);
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
        cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_no_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_cap, setup, teardown),
        cmocka_unit_test(test_no_fd_leak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
