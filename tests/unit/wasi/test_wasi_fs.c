/*
 * tests/unit/wasi/test_wasi_fs.c: paths beneath preopens, every escape we
 * know of, read-only mounts, path_* calls and fd_readdir.
 *
 * Each test gets a fresh tree:
 *   base/outside/secret.txt      never reachable by the guest
 *   base/rw/                     preopen fd 3 "/rw"
 *   base/ro/{data.txt,sub/inner.txt}  preopen fd 4 "/ro", read-only
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "wasi_test_util.h"

#define RW      3u
#define RO      4u
#define STAT_AT (H_OUT_AT + 0x100)

typedef struct fx {
    harness h;
    int fds_before;
    char base[64];
    char rw[128], ro[128], out[128];
} fx;

static void hpath(char *buf, size_t n, const char *dir, const char *rel)
{
    snprintf(buf, n, "%s/%s", dir, rel);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    char p[256];
    f->fds_before = count_host_fds();
    mk_tmpdir(f->base, sizeof f->base);
    hpath(f->rw, sizeof f->rw, f->base, "rw");
    hpath(f->ro, sizeof f->ro, f->base, "ro");
    hpath(f->out, sizeof f->out, f->base, "outside");
    assert_int_equal(mkdir(f->rw, 0755), 0);
    assert_int_equal(mkdir(f->ro, 0755), 0);
    assert_int_equal(mkdir(f->out, 0755), 0);
    hpath(p, sizeof p, f->out, "secret.txt");
    write_host_file(p, "secret");
    hpath(p, sizeof p, f->ro, "data.txt");
    write_host_file(p, "read only data");
    hpath(p, sizeof p, f->ro, "sub");
    assert_int_equal(mkdir(p, 0755), 0);
    hpath(p, sizeof p, f->ro, "sub/inner.txt");
    write_host_file(p, "inner");
    hpath(p, sizeof p, f->rw, "hello.txt");
    write_host_file(p, "hello");
    hpath(p, sizeof p, f->rw, "d");
    assert_int_equal(mkdir(p, 0755), 0);

    viv_wasi_preopen *pre = calloc(2, sizeof *pre);
    pre[0] = (viv_wasi_preopen){.host_path = f->rw, .guest_path = "/rw"};
    pre[1] = (viv_wasi_preopen){.host_path = f->ro, .guest_path = "/ro", .readonly = true};
    viv_wasi_config cfg = {.preopens = pre, .npreopens = 2, .stdout_fd = -1, .stderr_fd = -1};
    h_start(&f->h, &cfg);
    free(pre); /* the context copies what it keeps of preopens */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    h_stop(&f->h);
    rm_rf(f->base);
    int after = count_host_fds();
    int before = f->fds_before;
    free(f);
    assert_int_equal(after, before); /* no host fd leaked by the context */
    return 0;
}

/* ---- small guest-call wrappers ---------------------------------------------- */

static uint32_t g_symlink(harness *h, const char *target, uint32_t fd, const char *path)
{
    uint32_t a = h_put_str(h, H_PATH_AT, target);
    uint32_t b = h_put_str(h, H_PATH2_AT, path);
    return viv_wasi_path_symlink(h->w, H_PATH_AT, a, fd, H_PATH2_AT, b);
}

static uint32_t g_link(harness *h, uint32_t ofd, bool follow, const char *old, uint32_t nfd,
                       const char *new_path)
{
    uint32_t a = h_put_str(h, H_PATH_AT, old);
    uint32_t b = h_put_str(h, H_PATH2_AT, new_path);
    return viv_wasi_path_link(h->w, ofd, follow ? VIV_WASI_LOOKUP_SYMLINK_FOLLOW : 0, H_PATH_AT, a,
                              nfd, H_PATH2_AT, b);
}

static uint32_t g_rename(harness *h, uint32_t ofd, const char *old, uint32_t nfd,
                         const char *new_path)
{
    uint32_t a = h_put_str(h, H_PATH_AT, old);
    uint32_t b = h_put_str(h, H_PATH2_AT, new_path);
    return viv_wasi_path_rename(h->w, ofd, H_PATH_AT, a, nfd, H_PATH2_AT, b);
}

static uint32_t g_stat(harness *h, uint32_t fd, bool follow, const char *path)
{
    uint32_t n = h_put_str(h, H_PATH_AT, path);
    return viv_wasi_path_filestat_get(h->w, fd, follow ? VIV_WASI_LOOKUP_SYMLINK_FOLLOW : 0,
                                      H_PATH_AT, n, STAT_AT);
}

static uint32_t g_readlink(harness *h, uint32_t fd, const char *path, uint32_t cap, char *out)
{
    uint32_t n = h_put_str(h, H_PATH_AT, path);
    uint32_t e = viv_wasi_path_readlink(h->w, fd, H_PATH_AT, n, H_BUF_AT, cap, H_OUT_AT);
    if (e == 0) {
        uint32_t used = h_u32(h, H_OUT_AT);
        memcpy(out, h->data + H_BUF_AT, used);
        out[used] = '\0';
    }
    return e;
}

static uint32_t g_settimes(harness *h, uint32_t fd, bool follow, const char *path, uint64_t t)
{
    uint32_t n = h_put_str(h, H_PATH_AT, path);
    return viv_wasi_path_filestat_set_times(h->w, fd, follow ? VIV_WASI_LOOKUP_SYMLINK_FOLLOW : 0,
                                            H_PATH_AT, n, t, t,
                                            VIV_WASI_FST_ATIM | VIV_WASI_FST_MTIM);
}

/* Open-read-close, the way a guest reads a whole small file. */
static uint32_t g_slurp(harness *h, uint32_t dirfd, const char *path, char *out, size_t cap)
{
    uint32_t fd, n;
    uint32_t e = h_open(h, dirfd, path, 0, RIGHTS_RD, 0, true, &fd);
    if (e != 0)
        return e;
    e = h_read(h, fd, out, (uint32_t)cap, &n);
    viv_wasi_fd_close(h->w, fd);
    return e;
}

/* ---- basic path_open ---------------------------------------------------------- */

static void test_open_roundtrip(void **state)
{
    fx *f = *state;
    harness *h = &f->h;
    char buf[256], p[256];
    uint32_t fd, n;

    assert_int_equal(
        h_open(h, RW, "new.txt", VIV_WASI_O_CREAT | VIV_WASI_O_EXCL, RIGHTS_RW, 0, true, &fd), 0);
    assert_true(fd >= 5);
    assert_int_equal(h_write(h, fd, "round trip", &n), 0);
    assert_int_equal(n, 10);
    assert_int_equal(viv_wasi_fd_close(h->w, fd), 0);
    assert_int_equal(g_slurp(h, RW, "new.txt", buf, sizeof buf), 0);
    assert_string_equal(buf, "round trip");
    hpath(p, sizeof p, f->rw, "new.txt");
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    /* O_EXCL on an existing file; O_TRUNC empties it. */
    assert_int_equal(
        h_open(h, RW, "new.txt", VIV_WASI_O_CREAT | VIV_WASI_O_EXCL, RIGHTS_RW, 0, true, &fd),
        VIV_WASI_EEXIST);
    assert_int_equal(h_open(h, RW, "new.txt", VIV_WASI_O_TRUNC, RIGHTS_RW, 0, true, &fd), 0);
    assert_int_equal(viv_wasi_fd_filestat_get(h->w, fd, STAT_AT), 0);
    assert_int_equal(h_u64(h, STAT_AT + VIV_WASI_FILESTAT_SIZE_), 0);
    assert_int_equal(viv_wasi_fd_close(h->w, fd), 0);

    /* Append from open. */
    assert_int_equal(h_open(h, RW, "hello.txt", 0, RIGHTS_WR, VIV_WASI_FDFLAG_APPEND, true, &fd),
                     0);
    assert_int_equal(h_write(h, fd, " world", &n), 0);
    assert_int_equal(viv_wasi_fd_fdstat_get(h->w, fd, STAT_AT), 0);
    assert_int_equal(h_u16(h, STAT_AT + VIV_WASI_FDSTAT_FLAGS), VIV_WASI_FDFLAG_APPEND);
    assert_int_equal(viv_wasi_fd_close(h->w, fd), 0);
    hpath(p, sizeof p, f->rw, "hello.txt");
    read_host_file(p, buf, sizeof buf);
    assert_string_equal(buf, "hello world");

    /* Missing, wrong type. */
    assert_int_equal(h_open(h, RW, "missing", 0, RIGHTS_RD, 0, true, &fd), VIV_WASI_ENOENT);
    assert_int_equal(h_open(h, RW, "hello.txt", VIV_WASI_O_DIRECTORY, RIGHTS_RD, 0, true, &fd),
                     VIV_WASI_ENOTDIR);
    assert_int_equal(h_open(h, RW, "d", 0, RIGHTS_RW, 0, true, &fd), VIV_WASI_EISDIR);
    assert_int_equal(h_open(h, RW, "x", 0x10, RIGHTS_RD, 0, true, &fd), VIV_WASI_EINVAL);

    /* A directory opened with read rights is a real, listable fd. */
    assert_int_equal(h_open(h, RW, "d", VIV_WASI_O_DIRECTORY, RIGHTS_RD, 0, true, &fd), 0);
    assert_int_equal(viv_wasi_fd_fdstat_get(h->w, fd, STAT_AT), 0);
    assert_int_equal(h_u8(h, STAT_AT), VIV_WASI_FILETYPE_DIRECTORY);
    assert_int_equal(viv_wasi_fd_readdir(h->w, fd, H_BUF_AT, 4096, 0, H_OUT_AT), 0);
    assert_true(h_u32(h, H_OUT_AT) >= 2 * 24 + 3); /* "." and ".." */
    uint32_t dfd = fd;
    /* Paths relative to it work, and it is its own root. */
    assert_int_equal(h_open(h, dfd, "inner.txt", VIV_WASI_O_CREAT, RIGHTS_RW, 0, true, &fd), 0);
    assert_int_equal(viv_wasi_fd_close(h->w, fd), 0);
    hpath(p, sizeof p, f->rw, "d/inner.txt");
    assert_int_equal(access(p, F_OK), 0);
    h_clear_sec(h);
    assert_int_equal(h_open(h, dfd, "../hello.txt", 0, RIGHTS_RD, 0, true, &fd),
                     VIV_WASI_ENOTCAPABLE);
    assert_int_equal(h_sec_count(h, VIV_WASI_SEC_PATH_ESCAPE), 1);
    /* A file fd is not a directory to resolve against; stdio neither. */
    assert_int_equal(h_open(h, RW, "hello.txt", 0, RIGHTS_RD, 0, true, &fd), 0);
    assert_int_equal(h_open(h, fd, "x", 0, RIGHTS_RD, 0, true, NULL), VIV_WASI_ENOTDIR);
    assert_int_equal(h_open(h, 1, "x", 0, RIGHTS_RD, 0, true, NULL), VIV_WASI_ENOTDIR);
    assert_int_equal(h_open(h, 900, "x", 0, RIGHTS_RD, 0, true, NULL), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_readdir(h->w, fd, H_BUF_AT, 100, 0, H_OUT_AT), VIV_WASI_ENOTDIR);

    /* Bad result pointer: refused before anything is created. */
    uint32_t len = h_put_str(h, H_PATH_AT, "never.txt");
    assert_int_equal(viv_wasi_path_open(h->w, RW, 0, H_PATH_AT, len, VIV_WASI_O_CREAT, RIGHTS_RW, 0,
                                        0, TMEM_SIZE - 2),
                     VIV_WASI_EFAULT);
    hpath(p, sizeof p, f->rw, "never.txt");
    assert_int_equal(access(p, F_OK), -1);
}

static void test_path_validation(void **state)
{
    fx *f = *state;
    harness *h = &f->h;
    uint32_t fd;
    /* NUL inside the path. */
    memcpy(h->data + H_PATH_AT, "hello.txt\0x", 11);
    assert_int_equal(viv_wasi_path_open(h->w, RW, 0, H_PATH_AT, 11, 0, RIGHTS_RD, 0, 0, H_OUT_AT),
                     VIV_WASI_EINVAL);
    assert_int_equal(viv_wasi_path_unlink_file(h->w, RW, H_PATH_AT, 11), VIV_WASI_EINVAL);
    /* Too long. */
    memset(h->data + H_BUF_AT, 'a', 5000);
    assert_int_equal(viv_wasi_path_open(h->w, RW, 0, H_BUF_AT, 5000, 0, RIGHTS_RD, 0, 0, H_OUT_AT),
                     VIV_WASI_ENAMETOOLONG);
    assert_int_equal(viv_wasi_path_create_directory(h->w, RW, H_BUF_AT, PATH_MAX),
                     VIV_WASI_ENAMETOOLONG);
    /* Out of memory bounds, or wrapping. */
    assert_int_equal(
        viv_wasi_path_open(h->w, RW, 0, TMEM_SIZE - 3, 4, 0, RIGHTS_RD, 0, 0, H_OUT_AT),
        VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_path_open(h->w, RW, 0, 0xFFFFFFFFu, 2, 0, RIGHTS_RD, 0, 0, H_OUT_AT),
                     VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_path_rename(h->w, RW, H_PATH_AT, 3, RW, 0xFFFFFFF0u, 0x20),
                     VIV_WASI_EFAULT);
    /* Empty. */
    assert_int_equal(h_open(h, RW, "", 0, RIGHTS_RD, 0, true, &fd), VIV_WASI_ENOENT);
    assert_int_equal(h_sec_count(h, VIV_WASI_SEC_PATH_ESCAPE), 0);
}

/* ---- escapes -------------------------------------------------------------------- */

static void test_escapes(void **state)
{
    fx *f = *state;
    harness *h = &f->h;
    char p[256], target[256], buf[256];
    uint32_t fd;

    /* Host-made links, as a hostile tree could contain. */
    hpath(target, sizeof target, f->out, "secret.txt");
    hpath(p, sizeof p, f->rw, "abs");
    assert_int_equal(symlink(target, p), 0); /* absolute, to a real file */
    hpath(p, sizeof p, f->rw, "etc");
    assert_int_equal(symlink("/etc", p), 0);
    hpath(p, sizeof p, f->rw, "rel");
    assert_int_equal(symlink("../outside/secret.txt", p), 0);
    hpath(p, sizeof p, f->rw, "c1");
    assert_int_equal(symlink("c2", p), 0);
    hpath(p, sizeof p, f->rw, "c2");
    assert_int_equal(symlink("d/../../outside", p), 0);
    hpath(p, sizeof p, f->rw, "i1");
    assert_int_equal(symlink("i2", p), 0);
    hpath(p, sizeof p, f->rw, "i2");
    assert_int_equal(symlink("d/../hello.txt", p), 0);
    hpath(p, sizeof p, f->rw, "dang_out");
    assert_int_equal(symlink("../outside/created.txt", p), 0);
    hpath(p, sizeof p, f->rw, "proc_root");
    assert_int_equal(symlink("/proc/self/root", p), 0);

    static const char *const escapes[] = {
        "../outside/secret.txt",
        "d/../../outside/secret.txt",
        "..",
        "d/../..",
        "./../rw/hello.txt", /* leaves, even if it would come back */
        "/etc/passwd",
        "//etc/passwd",
        "abs",
        "etc/passwd",
        "rel",
        "c1/secret.txt",
        "proc_root/etc/passwd",
    };
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        h_clear_sec(h);
        uint32_t e = h_open(h, RW, escapes[i], 0, RIGHTS_RD, 0, true, &fd);
        if (e != VIV_WASI_ENOTCAPABLE)
            fail_msg("open(\"%s\") = %u, want ENOTCAPABLE", escapes[i], e);
        assert_int_equal(h_sec_count(h, VIV_WASI_SEC_PATH_ESCAPE), 1);
        assert_string_equal(h->sec_path[0], escapes[i]);
        /* stat, both ways, is confined too (nofollow only differs for the
         * links themselves, tested below). */
        e = g_stat(h, RW, true, escapes[i]);
        if (e != VIV_WASI_ENOTCAPABLE)
            fail_msg("stat(\"%s\") = %u, want ENOTCAPABLE", escapes[i], e);
    }

    /* Chains that stay inside work; dangling links do not escape even when
     * asked to create their target. */
    assert_int_equal(g_slurp(h, RW, "i1", buf, sizeof buf), 0);
    assert_string_equal(buf, "hello");
    h_clear_sec(h);
    assert_int_equal(h_open(h, RW, "dang_out", VIV_WASI_O_CREAT, RIGHTS_RW, 0, true, &fd),
                     VIV_WASI_ENOTCAPABLE);
    assert_int_equal(h_sec_count(h, VIV_WASI_SEC_PATH_ESCAPE), 1);
    hpath(p, sizeof p, f->out, "created.txt");
    assert_int_equal(access(p, F_OK), -1);
    hpath(p, sizeof p, f->rw, "dang");
    assert_int_equal(symlink("nowhere.txt", p), 0);
    assert_int_equal(h_open(h, RW, "dang", 0, RIGHTS_RD, 0, true, &fd), VIV_WASI_ENOENT);
    assert_int_equal(h_open(h, RW, "dang", VIV_WASI_O_CREAT, RIGHTS_RW, 0, true, &fd), 0);
    hpath(p, sizeof p, f->rw, "nowhere.txt"); /* created inside, as POSIX does */
    assert_int_equal(access(p, F_OK), 0);

    /* Without symlink_follow the final link is not followed: ELOOP, which is
     * not an escape; and stat reports the link itself. */
    h_clear_sec(h);
    assert_int_equal(h_open(h, RW, "abs", 0, RIGHTS_RD, 0, false, &fd), VIV_WASI_ELOOP);
    assert_int_equal(g_stat(h, RW, false, "abs"), 0);
    assert_int_equal(h_u8(h, STAT_AT + VIV_WASI_FILESTAT_FILETYPE),
                     VIV_WASI_FILETYPE_SYMBOLIC_LINK);
    assert_int_equal(g_stat(h, RW, false, "rel"), 0);
    assert_int_equal(h_sec_count(h, VIV_WASI_SEC_PATH_ESCAPE), 0);

    /* Calls on a final name. */
    h_clear_sec(h);
    assert_int_equal(h_path1(h, viv_wasi_path_unlink_file, RW, "../outside/secret.txt"),
                     VIV_WASI_ENOTCAPABLE);
    assert_int_equal(h_path1(h, viv_wasi_path_unlink_file, RW, "c1/secret.txt"),
                     VIV_WASI_ENOTCAPABLE);
    assert_int_equal(h_path1(h, viv_wasi_path_create_directory, RW, "../newdir"),
                     VIV_WASI_ENOTCAPABLE);
    assert_int_equal(h_path1(h, viv_wasi_path_create_directory, RW, "etc/newdir"),
                     VIV_WASI_ENOTCAPABLE);
    assert_int_equal(h_path1(h, viv_wasi_path_remove_directory, RW, "../outside"),
                     VIV_WASI_ENOTCAPABLE);
    assert_int_equal(h_path1(h, viv_wasi_path_remove_directory, RW, ".."), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(g_rename(h, RW, "hello.txt", RW, "../outside/stolen.txt"),
                     VIV_WASI_ENOTCAPABLE);
    /* "rel/" names what rel points to; the kernel refuses a trailing slash
     * on a non-directory source without following the link. */
    assert_int_equal(g_rename(h, RW, "rel/", RW, "x"), VIV_WASI_ENOTDIR);
    assert_int_equal(g_rename(h, RW, "c1/secret.txt", RW, "got.txt"), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(g_settimes(h, RW, true, "abs", 1000000000ull), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(g_readlink(h, RW, "c1/secret.txt", 100, buf), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(h_sec_count(h, VIV_WASI_SEC_PATH_ESCAPE), 10);
    hpath(p, sizeof p, f->out, "secret.txt");
    assert_int_equal(read_host_file(p, buf, sizeof buf), 6);
    assert_string_equal(buf, "secret");
    hpath(p, sizeof p, f->out, "stolen.txt");
    assert_int_equal(access(p, F_OK), -1);

    /* Acting on the links themselves (not through them) is fine. */
    assert_int_equal(g_readlink(h, RW, "abs", 200, buf), 0);
    assert_string_equal(buf, target);
    assert_int_equal(g_settimes(h, RW, false, "abs", 1000000000ull), 0);
    assert_int_equal(g_rename(h, RW, "rel", RW, "rel2"), 0);
    assert_int_equal(h_path1(h, viv_wasi_path_unlink_file, RW, "rel2"), 0);
    hpath(p, sizeof p, f->out, "secret.txt");
    assert_int_equal(access(p, F_OK), 0);
}

static void test_trailing_slash_and_dots(void **state)
{
    fx *f = *state;
    harness *h = &f->h;
    char p[256];
    uint32_t fd;
    hpath(p, sizeof p, f->rw, "dlink");
    assert_int_equal(symlink("d", p), 0);

    assert_int_equal(h_open(h, RW, "hello.txt/", 0, RIGHTS_RD, 0, true, &fd), VIV_WASI_ENOTDIR);
    assert_int_equal(g_stat(h, RW, true, "hello.txt/"), VIV_WASI_ENOTDIR);
    assert_int_equal(h_open(h, RW, "d/", 0, RIGHTS_RD, 0, true, &fd), 0);
    assert_int_equal(h_open(h, RW, "d//", VIV_WASI_O_DIRECTORY, RIGHTS_RD, 0, true, &fd), 0);
    assert_int_equal(g_stat(h, RW, false, "dlink/"), 0); /* slash follows the link */
    assert_int_equal(h_u8(h, STAT_AT + VIV_WASI_FILESTAT_FILETYPE), VIV_WASI_FILETYPE_DIRECTORY);
    assert_int_equal(h_open(h, RW, ".", VIV_WASI_O_DIRECTORY, RIGHTS_RD, 0, true, &fd), 0);
    assert_int_equal(h_open(h, RW, "d/..", VIV_WASI_O_DIRECTORY, RIGHTS_RD, 0, true, &fd), 0);

    assert_int_equal(h_path1(h, viv_wasi_path_unlink_file, RW, "hello.txt/"), VIV_WASI_ENOTDIR);
    assert_int_equal(h_path1(h, viv_wasi_path_unlink_file, RW, "d/"), VIV_WASI_EISDIR);
    assert_int_equal(h_path1(h, viv_wasi_path_unlink_file, RW, "d"), VIV_WASI_EISDIR);
    assert_int_equal(h_path1(h, viv_wasi_path_unlink_file, RW, "dlink/"), VIV_WASI_ENOTDIR);
    assert_int_equal(h_path1(h, viv_wasi_path_remove_directory, RW, "hello.txt"), VIV_WASI_ENOTDIR);
    assert_int_equal(h_path1(h, viv_wasi_path_remove_directory, RW, "dlink/"), VIV_WASI_ENOTDIR);
    hpath(p, sizeof p, f->rw, "hello.txt");
    assert_int_equal(access(p, F_OK), 0);

    /* "." and ".." as the final component. */
    assert_int_equal(h_path1(h, viv_wasi_path_remove_directory, RW, "."), VIV_WASI_EINVAL);
    assert_int_equal(h_path1(h, viv_wasi_path_remove_directory, RW, "d/."), VIV_WASI_EINVAL);
    assert_int_equal(h_path1(h, viv_wasi_path_remove_directory, RW, "d/.."), VIV_WASI_ENOTEMPTY);
    assert_int_equal(h_path1(h, viv_wasi_path_unlink_file, RW, "."), VIV_WASI_EISDIR);
    assert_int_equal(h_path1(h, viv_wasi_path_unlink_file, RW, "d/.."), VIV_WASI_EISDIR);
    assert_int_equal(h_path1(h, viv_wasi_path_create_directory, RW, "d/.."), VIV_WASI_EEXIST);
    assert_int_equal(h_path1(h, viv_wasi_path_create_directory, RW, "."), VIV_WASI_EEXIST);
    assert_int_equal(g_rename(h, RW, ".", RW, "moved"), VIV_WASI_EBUSY);
    assert_int_equal(g_rename(h, RW, "d/..", RW, "moved"), VIV_WASI_EBUSY);
    assert_int_equal(g_rename(h, RW, "hello.txt", RW, "d/.."), VIV_WASI_EBUSY);
    assert_int_equal(g_symlink(h, "hello.txt", RW, "."), VIV_WASI_EEXIST);
    assert_int_equal(g_link(h, RW, false, "hello.txt", RW, "d/.."), VIV_WASI_EEXIST);
    assert_int_equal(g_link(h, RW, false, "d/.", RW, "x"), VIV_WASI_EPERM);
    assert_int_equal(g_readlink(h, RW, "..", 10, p), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(g_readlink(h, RW, ".", 10, p), VIV_WASI_EINVAL);
    /* The root's ".." must not reach the host directory above. */
    struct stat st, st2;
    assert_int_equal(stat(f->base, &st), 0);
    assert_int_equal(g_stat(h, RW, false, ".."), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(g_settimes(h, RW, false, "..", 0), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(g_settimes(h, RW, false, "d/../..", 0), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(stat(f->base, &st2), 0);
    assert_int_equal(st.st_mtim.tv_sec, st2.st_mtim.tv_sec);
    assert_int_equal(st.st_atim.tv_nsec, st2.st_atim.tv_nsec);

    /* mkdir/rmdir with trailing slash are fine. */
    assert_int_equal(h_path1(h, viv_wasi_path_create_directory, RW, "nd/"), 0);
    hpath(p, sizeof p, f->rw, "nd");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0755);
    assert_int_equal(h_path1(h, viv_wasi_path_remove_directory, RW, "nd/"), 0);
    assert_int_equal(access(p, F_OK), -1);
}

/* ---- symlink / link / readlink --------------------------------------------------- */

static void test_symlink_create(void **state)
{
    fx *f = *state;
    harness *h = &f->h;
    char p[256], buf[256];

    assert_int_equal(g_symlink(h, "hello.txt", RW, "ok1"), 0);
    assert_int_equal(g_slurp(h, RW, "ok1", buf, sizeof buf), 0);
    assert_string_equal(buf, "hello");
    /* ".." is refused even when it would stay inside: a link's meaning
     * changes when it (or a link to ".") is moved, so only targets free of
     * ".." are safe for whatever the host does with the tree later. */
    h_clear_sec(h);
    assert_int_equal(g_symlink(h, "../hello.txt", RW, "d/no2"), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(h_sec_count(h, VIV_WASI_SEC_PATH_ESCAPE), 1);
    assert_int_equal(g_symlink(h, "sub/../../x", RW, "no3"), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(g_symlink(h, ".", RW, "dot"), 0);
    assert_int_equal(g_symlink(h, "dot/dot/../../x", RW, "no4"), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(g_symlink(h, "not/there/yet", RW, "ok3"), 0); /* dangling is fine */
    assert_int_equal(g_symlink(h, "hello.txt", RW, "ok1"), VIV_WASI_EEXIST);

    h_clear_sec(h);
    static const struct {
        const char *target, *at;
    } bad[] = {
        {"/etc/passwd", "bad1"},
        {"/", "bad2"},
        {"..", "bad3"},
        {"../outside/secret.txt", "bad4"},
        {"d/../../outside", "bad5"},
        {"../../x", "d/bad6"},
        {"./././../x", "bad7"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t e = g_symlink(h, bad[i].target, RW, bad[i].at);
        if (e != VIV_WASI_ENOTCAPABLE)
            fail_msg("symlink(\"%s\" at \"%s\") = %u", bad[i].target, bad[i].at, e);
        hpath(p, sizeof p, f->rw, bad[i].at);
        assert_int_equal(access(p, F_OK), -1);
        struct stat st;
        assert_int_equal(lstat(p, &st), -1);
    }
    assert_int_equal(h_sec_count(h, VIV_WASI_SEC_PATH_ESCAPE), (int)(sizeof bad / sizeof bad[0]));

    /* No depth makes ".." safe: neither through a link to the root itself
     * nor from a real subdirectory (the link could be moved up later). */
    assert_int_equal(g_symlink(h, ".", RW, "self"), 0);
    assert_int_equal(g_symlink(h, "../x", RW, "self/l"), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(g_symlink(h, "../x", RW, "d/l"), VIV_WASI_ENOTCAPABLE);
    /* Where it is created is confined like any path. */
    assert_int_equal(g_symlink(h, "x", RW, "../outside/l"), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(g_symlink(h, "", RW, "empty"), VIV_WASI_ENOENT);
}

static void test_link(void **state)
{
    fx *f = *state;
    harness *h = &f->h;
    char p[256], target[256], buf[256];

    assert_int_equal(g_link(h, RW, false, "hello.txt", RW, "d/hl.txt"), 0);
    assert_int_equal(g_stat(h, RW, false, "hello.txt"), 0);
    assert_int_equal(h_u64(h, STAT_AT + VIV_WASI_FILESTAT_NLINK), 2);
    assert_int_equal(g_slurp(h, RW, "d/hl.txt", buf, sizeof buf), 0);
    assert_string_equal(buf, "hello");
    assert_int_equal(g_link(h, RW, false, "hello.txt", RW, "d/hl.txt"), VIV_WASI_EEXIST);
    assert_int_equal(g_link(h, RW, false, "missing", RW, "x"), VIV_WASI_ENOENT);
    assert_int_equal(g_link(h, RW, false, "d", RW, "dl"), VIV_WASI_EPERM);
    assert_int_equal(g_link(h, RW, false, "d/", RW, "dl"), VIV_WASI_EPERM);
    assert_int_equal(g_link(h, RW, false, "hello.txt/", RW, "dl"), VIV_WASI_ENOTDIR);

    /* Follow a link inside the tree, and its chain. */
    assert_int_equal(g_symlink(h, "hello.txt", RW, "s1"), 0);
    assert_int_equal(g_symlink(h, "s1", RW, "s2"), 0);
    assert_int_equal(g_link(h, RW, true, "s2", RW, "via_links.txt"), 0);
    assert_int_equal(g_stat(h, RW, false, "via_links.txt"), 0);
    assert_int_equal(h_u8(h, STAT_AT + VIV_WASI_FILESTAT_FILETYPE), VIV_WASI_FILETYPE_REGULAR_FILE);
    assert_int_equal(h_u64(h, STAT_AT + VIV_WASI_FILESTAT_NLINK), 3);
    /* A link to a symlink itself is refused: only regular files. */
    assert_int_equal(g_link(h, RW, false, "s1", RW, "l_of_s1"), VIV_WASI_EPERM);
    assert_int_equal(g_symlink(h, "loop2", RW, "loop1"), 0);
    assert_int_equal(g_symlink(h, "loop1", RW, "loop2"), 0);
    assert_int_equal(g_link(h, RW, true, "loop1", RW, "l"), VIV_WASI_ELOOP);

    /* Sources outside, directly or through host-made links. */
    hpath(target, sizeof target, f->out, "secret.txt");
    hpath(p, sizeof p, f->rw, "abs");
    assert_int_equal(symlink(target, p), 0);
    hpath(p, sizeof p, f->rw, "rel");
    assert_int_equal(symlink("../outside/secret.txt", p), 0);
    h_clear_sec(h);
    assert_int_equal(g_link(h, RW, false, "../outside/secret.txt", RW, "h1"), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(g_link(h, RW, true, "abs", RW, "h2"), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(g_link(h, RW, true, "rel", RW, "h3"), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(g_link(h, RW, false, "/etc/passwd", RW, "h4"), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(g_link(h, RW, false, "hello.txt", RW, "../outside/h5"), VIV_WASI_ENOTCAPABLE);
    assert_int_equal(h_sec_count(h, VIV_WASI_SEC_PATH_ESCAPE), 5);
    assert_int_equal(g_link(h, RW, false, "abs", RW, "h6"), VIV_WASI_EPERM); /* not followed */
    struct stat st;
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_nlink, 1);
    for (int i = 1; i <= 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "h%d", i);
        hpath(p, sizeof p, f->rw, name);
        assert_int_equal(access(p, F_OK), -1);
    }
}

static void test_readlink(void **state)
{
    fx *f = *state;
    harness *h = &f->h;
    char buf[256];
    assert_int_equal(g_symlink(h, "d/some/where", RW, "l"), 0);
    assert_int_equal(g_readlink(h, RW, "l", 100, buf), 0);
    assert_string_equal(buf, "d/some/where");
    assert_int_equal(g_readlink(h, RW, "l", 4, buf), 0); /* truncated */
    assert_string_equal(buf, "d/so");
    assert_int_equal(g_readlink(h, RW, "hello.txt", 100, buf), VIV_WASI_EINVAL);
    assert_int_equal(g_readlink(h, RW, "d", 100, buf), VIV_WASI_EINVAL);
    assert_int_equal(g_readlink(h, RW, "nope", 100, buf), VIV_WASI_ENOENT);
    uint32_t n = h_put_str(h, H_PATH_AT, "l");
    assert_int_equal(viv_wasi_path_readlink(h->w, RW, H_PATH_AT, n, TMEM_SIZE - 2, 10, H_OUT_AT),
                     VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_path_readlink(h->w, RW, H_PATH_AT, n, H_BUF_AT, 10, TMEM_SIZE),
                     VIV_WASI_EFAULT);
}

/* ---- stat, times, rename, unlink ---------------------------------------------------- */

static void test_stat_times_rename(void **state)
{
    fx *f = *state;
    harness *h = &f->h;
    char p[256];
    struct stat st;
    hpath(p, sizeof p, f->rw, "hello.txt");
    assert_int_equal(stat(p, &st), 0);

    assert_int_equal(g_stat(h, RW, true, "hello.txt"), 0);
    assert_int_equal(h_u64(h, STAT_AT + VIV_WASI_FILESTAT_DEV), st.st_dev);
    assert_int_equal(h_u64(h, STAT_AT + VIV_WASI_FILESTAT_INO), st.st_ino);
    assert_int_equal(h_u8(h, STAT_AT + VIV_WASI_FILESTAT_FILETYPE), VIV_WASI_FILETYPE_REGULAR_FILE);
    assert_int_equal(h_u64(h, STAT_AT + VIV_WASI_FILESTAT_NLINK), 1);
    assert_int_equal(h_u64(h, STAT_AT + VIV_WASI_FILESTAT_SIZE_), 5);
    assert_int_equal(h_u64(h, STAT_AT + VIV_WASI_FILESTAT_MTIM),
                     (uint64_t)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec);
    assert_int_equal(g_stat(h, RW, true, "d"), 0);
    assert_int_equal(h_u8(h, STAT_AT + VIV_WASI_FILESTAT_FILETYPE), VIV_WASI_FILETYPE_DIRECTORY);
    uint32_t n = h_put_str(h, H_PATH_AT, "hello.txt");
    assert_int_equal(viv_wasi_path_filestat_get(h->w, RW, 1, H_PATH_AT, n, TMEM_SIZE - 63),
                     VIV_WASI_EFAULT);

    assert_int_equal(g_settimes(h, RW, true, "hello.txt", 1234567890123456789ull), 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mtim.tv_sec, 1234567890);
    assert_int_equal(st.st_mtim.tv_nsec, 123456789);
    assert_int_equal(st.st_atim.tv_sec, 1234567890);
    n = h_put_str(h, H_PATH_AT, "hello.txt");
    assert_int_equal(
        viv_wasi_path_filestat_set_times(h->w, RW, 1, H_PATH_AT, n, 0, 0, VIV_WASI_FST_MTIM_NOW),
        0);
    assert_int_equal(stat(p, &st), 0);
    assert_true(st.st_mtim.tv_sec > 1234567890);
    assert_int_equal(st.st_atim.tv_sec, 1234567890); /* omitted */
    assert_int_equal(viv_wasi_path_filestat_set_times(h->w, RW, 1, H_PATH_AT, n, 0, 0,
                                                      VIV_WASI_FST_MTIM | VIV_WASI_FST_MTIM_NOW),
                     VIV_WASI_EINVAL);

    /* rename within and across directories, over an existing file. */
    assert_int_equal(g_rename(h, RW, "hello.txt", RW, "d/renamed.txt"), 0);
    assert_int_equal(access(p, F_OK), -1);
    assert_int_equal(h_path1(h, viv_wasi_path_create_directory, RW, "d/e"), 0);
    assert_int_equal(g_rename(h, RW, "d/e", RW, "e2"), 0);
    assert_int_equal(g_rename(h, RW, "d/renamed.txt", RW, "e2/x.txt"), 0);
    assert_int_equal(g_rename(h, RW, "missing", RW, "x"), VIV_WASI_ENOENT);
    assert_int_equal(g_rename(h, RW, "e2", RW, "e2/sub"), VIV_WASI_EINVAL);
    assert_int_equal(h_path1(h, viv_wasi_path_remove_directory, RW, "e2"), VIV_WASI_ENOTEMPTY);
    assert_int_equal(h_path1(h, viv_wasi_path_unlink_file, RW, "e2/x.txt"), 0);
    assert_int_equal(h_path1(h, viv_wasi_path_remove_directory, RW, "e2"), 0);
    assert_int_equal(h_path1(h, viv_wasi_path_unlink_file, RW, "e2/x.txt"), VIV_WASI_ENOENT);
    assert_int_equal(h_path1(h, viv_wasi_path_create_directory, RW, "d"), VIV_WASI_EEXIST);
}

static void test_special_files(void **state)
{
    fx *f = *state;
    harness *h = &f->h;
    char p[256];
    uint32_t fd;
    hpath(p, sizeof p, f->rw, "fifo");
    assert_int_equal(mkfifo(p, 0644), 0);
    uint64_t t0 = now_mono_ns();
    /* Would block forever waiting for a writer if opened blocking. */
    assert_int_equal(h_open(h, RW, "fifo", 0, RIGHTS_RD, 0, true, &fd), VIV_WASI_ENOTSUP);
    assert_int_equal(h_open(h, RW, "fifo", 0, RIGHTS_WR, 0, true, &fd), VIV_WASI_ENXIO);
    assert_true(now_mono_ns() - t0 < 1000000000ull);
    assert_int_equal(viv_wasi_open_fd_count(h->w), 5);
    assert_int_equal(g_stat(h, RW, false, "fifo"), 0);
    assert_int_equal(h_u8(h, STAT_AT + VIV_WASI_FILESTAT_FILETYPE), VIV_WASI_FILETYPE_UNKNOWN);
}

/* ---- readdir ------------------------------------------------------------------------- */

/* List a directory the way wasi-libc's readdir does: parse whole entries,
 * resume from the last whole entry's d_next, grow the buffer when not even
 * one entry fits. Returns the number of names stored. */
static int list_dir(harness *h, uint32_t fd, uint32_t bufsize, char (*names)[64], int max,
                    int *calls)
{
    uint64_t cookie = 0;
    uint32_t cap = bufsize;
    int n = 0;
    *calls = 0;
    for (;;) {
        assert_true(cap <= H_BUF_SIZE);
        memset(h->data + H_BUF_AT, 0xEE, cap + 16);
        assert_int_equal(viv_wasi_fd_readdir(h->w, fd, H_BUF_AT, cap, cookie, H_OUT_AT), 0);
        (*calls)++;
        assert_true(*calls < 100000);
        uint32_t used = h_u32(h, H_OUT_AT);
        assert_true(used <= cap);
        assert_int_equal(h->data[H_BUF_AT + cap], 0xEE); /* no overrun */
        uint32_t off = 0;
        bool whole_entry = false;
        while (used - off >= VIV_WASI_DIRENT_SIZE) {
            uint32_t namlen = h_u32(h, H_BUF_AT + off + VIV_WASI_DIRENT_NAMLEN);
            if (used - off - VIV_WASI_DIRENT_SIZE < namlen)
                break;
            assert_true(namlen < 64 && n < max);
            memcpy(names[n], h->data + H_BUF_AT + off + VIV_WASI_DIRENT_SIZE, namlen);
            names[n][namlen] = '\0';
            n++;
            cookie = h_u64(h, H_BUF_AT + off + VIV_WASI_DIRENT_NEXT);
            off += VIV_WASI_DIRENT_SIZE + namlen;
            whole_entry = true;
        }
        if (used < cap) {
            assert_int_equal(off, used); /* a short buffer holds whole entries */
            return n;
        }
        if (!whole_entry)
            cap *= 2;
    }
}

static void test_readdir_basic(void **state)
{
    fx *f = *state;
    harness *h = &f->h;
    char p[256];
    hpath(p, sizeof p, f->rw, "d/sym");
    assert_int_equal(symlink("x", p), 0);
    hpath(p, sizeof p, f->rw, "d/file");
    write_host_file(p, "1");
    hpath(p, sizeof p, f->rw, "d/sub");
    assert_int_equal(mkdir(p, 0755), 0);
    uint32_t fd;
    assert_int_equal(h_open(h, RW, "d", VIV_WASI_O_DIRECTORY, RIGHTS_RD, 0, true, &fd), 0);
    assert_int_equal(viv_wasi_fd_readdir(h->w, fd, H_BUF_AT, 4096, 0, H_OUT_AT), 0);
    uint32_t used = h_u32(h, H_OUT_AT);
    int seen = 0;
    struct stat st;
    hpath(p, sizeof p, f->rw, "d/file");
    assert_int_equal(stat(p, &st), 0);
    for (uint32_t off = 0; off < used;) {
        uint32_t namlen = h_u32(h, H_BUF_AT + off + 16);
        char name[64];
        memcpy(name, h->data + H_BUF_AT + off + 24, namlen);
        name[namlen] = '\0';
        uint8_t type = h_u8(h, H_BUF_AT + off + 20);
        if (strcmp(name, "file") == 0) {
            assert_int_equal(type, VIV_WASI_FILETYPE_REGULAR_FILE);
            assert_int_equal(h_u64(h, H_BUF_AT + off + 8), st.st_ino);
            seen |= 1;
        } else if (strcmp(name, "sym") == 0) {
            assert_int_equal(type, VIV_WASI_FILETYPE_SYMBOLIC_LINK);
            seen |= 2;
        } else if (strcmp(name, "sub") == 0) {
            assert_int_equal(type, VIV_WASI_FILETYPE_DIRECTORY);
            seen |= 4;
        } else if (strcmp(name, ".") == 0) {
            seen |= 8;
        } else if (strcmp(name, "..") == 0) {
            seen |= 16;
        } else {
            fail_msg("unexpected entry %s", name);
        }
        off += 24 + namlen;
    }
    assert_int_equal(seen, 31);

    /* Cookie past the end: empty; cookie 0 again: rewinds. */
    uint64_t last = 0;
    for (uint32_t off = 0; off < used; off += 24 + h_u32(h, H_BUF_AT + off + 16))
        last = h_u64(h, H_BUF_AT + off);
    assert_int_equal(viv_wasi_fd_readdir(h->w, fd, H_BUF_AT, 4096, last, H_OUT_AT), 0);
    assert_int_equal(h_u32(h, H_OUT_AT), 0);
    assert_int_equal(viv_wasi_fd_readdir(h->w, fd, H_BUF_AT, 4096, 0, H_OUT_AT), 0);
    assert_int_equal(h_u32(h, H_OUT_AT), used);

    /* Preopens list too; bounds; non-directories. */
    assert_int_equal(viv_wasi_fd_readdir(h->w, RO, H_BUF_AT, 4096, 0, H_OUT_AT), 0);
    assert_true(h_u32(h, H_OUT_AT) > 0);
    assert_int_equal(viv_wasi_fd_readdir(h->w, fd, TMEM_SIZE - 10, 100, 0, H_OUT_AT),
                     VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_fd_readdir(h->w, fd, 0xFFFFFF00u, 0x200, 0, H_OUT_AT),
                     VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_fd_readdir(h->w, fd, H_BUF_AT, 100, 0, TMEM_SIZE - 1),
                     VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_fd_readdir(h->w, 1, H_BUF_AT, 100, 0, H_OUT_AT), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_readdir(h->w, 99, H_BUF_AT, 100, 0, H_OUT_AT), VIV_WASI_EBADF);
}

static void test_readdir_tiny_buffers(void **state)
{
    fx *f = *state;
    harness *h = &f->h;
    uint32_t fd;
    assert_int_equal(h_open(h, RW, "d", VIV_WASI_O_DIRECTORY, RIGHTS_RD, 0, true, &fd), 0);

    /* Buffer smaller than a header: a truncated header, buffer full. */
    memset(h->data + H_BUF_AT, 0xEE, 64);
    assert_int_equal(viv_wasi_fd_readdir(h->w, fd, H_BUF_AT, 10, 0, H_OUT_AT), 0);
    assert_int_equal(h_u32(h, H_OUT_AT), 10);
    assert_int_equal(h->data[H_BUF_AT + 10], 0xEE);
    /* Header fits, name does not. */
    assert_int_equal(viv_wasi_fd_readdir(h->w, fd, H_BUF_AT, 24, 0, H_OUT_AT), 0);
    assert_int_equal(h_u32(h, H_OUT_AT), 24);
    uint32_t namlen = h_u32(h, H_BUF_AT + 16);
    assert_true(namlen == 1 || namlen == 2);
    assert_int_equal(viv_wasi_fd_readdir(h->w, fd, H_BUF_AT, 0, 0, H_OUT_AT), 0);
    assert_int_equal(h_u32(h, H_OUT_AT), 0);

    /* Listing through a buffer of 1 byte still finds everything. */
    char names[8][64];
    int calls;
    int n = list_dir(h, fd, 1, names, 8, &calls);
    assert_int_equal(n, 2);
}

static void test_readdir_many(void **state)
{
    fx *f = *state;
    harness *h = &f->h;
    enum { NFILES = 300 };
    char p[256];
    for (int i = 0; i < NFILES; i++) {
        char name[64];
        snprintf(name, sizeof name, "d/file_with_a_longish_name_%03d", i);
        hpath(p, sizeof p, f->rw, name);
        write_host_file(p, "");
    }
    uint32_t fd;
    assert_int_equal(h_open(h, RW, "d", VIV_WASI_O_DIRECTORY, RIGHTS_RD, 0, true, &fd), 0);
    static char names[NFILES + 10][64];
    static const uint32_t sizes[] = {30, 64, 128, 1000, 4096, 65536};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int calls;
        int n = list_dir(h, fd, sizes[s], names, NFILES + 10, &calls);
        assert_int_equal(n, NFILES + 2);
        static unsigned char seen[NFILES];
        memset(seen, 0, sizeof seen);
        int dots = 0;
        for (int i = 0; i < n; i++) {
            int k;
            if (strcmp(names[i], ".") == 0 || strcmp(names[i], "..") == 0) {
                dots++;
                continue;
            }
            assert_int_equal(sscanf(names[i], "file_with_a_longish_name_%d", &k), 1);
            assert_true(k >= 0 && k < NFILES);
            assert_int_equal(seen[k], 0); /* exactly once */
            seen[k] = 1;
        }
        assert_int_equal(dots, 2);
        if (sizes[s] == 65536)
            assert_int_equal(calls, 1);
    }
}

/* ---- read-only preopen --------------------------------------------------------------- */

static void snapshot(const char *dir, char *out, size_t cap)
{
    /* Contents and mtimes of the ro tree, to show nothing changed. */
    char p[256], buf[256];
    struct stat st;
    out[0] = '\0';
    static const char *const names[] = {"", "data.txt", "sub", "sub/inner.txt"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        hpath(p, sizeof p, dir, names[i]);
        assert_int_equal(lstat(p, &st), 0);
        buf[0] = '\0';
        if (S_ISREG(st.st_mode))
            read_host_file(p, buf, sizeof buf);
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s:%ld.%ld:%ld:%lu:%s;", names[i], (long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec, (long)st.st_size, (unsigned long)st.st_nlink, buf);
    }
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    size_t len = strlen(out);
    snprintf(out + len, cap - len, "entries=%d", n);
}

static void test_readonly(void **state)
{
    fx *f = *state;
    harness *h = &f->h;
    char before[2048], after[2048], p[256], buf[256];
    uint32_t fd, n;
    snapshot(f->ro, before, sizeof before);

    typedef struct {
        const char *what;
        uint32_t e;
    } result;
    result r[40];
    int k = 0;
#define TRY(expr) (r[k].what = #expr, r[k].e = (expr), k++)
    TRY(h_open(h, RO, "new.txt", VIV_WASI_O_CREAT, RIGHTS_RW, 0, true, NULL));
    TRY(h_open(h, RO, "new.txt", VIV_WASI_O_CREAT, RIGHTS_RD, 0, true, NULL));
    TRY(h_open(h, RO, "data.txt", VIV_WASI_O_TRUNC, RIGHTS_RD, 0, true, NULL));
    TRY(h_open(h, RO, "data.txt", VIV_WASI_O_EXCL, RIGHTS_RD, 0, true, NULL));
    TRY(h_open(h, RO, "data.txt", 0, RIGHTS_RW, 0, true, NULL));
    TRY(h_open(h, RO, "data.txt", 0, RIGHTS_WR, 0, true, NULL));
    TRY(h_open(h, RO, "data.txt", 0, VIV_WASI_RIGHT_FD_FILESTAT_SET_SIZE, 0, true, NULL));
    TRY(h_open(h, RO, "data.txt", 0, RIGHTS_RD, VIV_WASI_FDFLAG_APPEND, true, NULL));
    TRY(h_open(h, RO, "sub/new.txt", VIV_WASI_O_CREAT, RIGHTS_WR, 0, true, NULL));
    TRY(h_path1(h, viv_wasi_path_create_directory, RO, "newdir"));
    TRY(h_path1(h, viv_wasi_path_unlink_file, RO, "data.txt"));
    TRY(h_path1(h, viv_wasi_path_remove_directory, RO, "sub"));
    TRY(g_rename(h, RO, "data.txt", RW, "moved.txt"));
    TRY(g_rename(h, RW, "hello.txt", RO, "hello.txt"));
    TRY(g_rename(h, RO, "data.txt", RO, "data2.txt"));
    TRY(g_symlink(h, "data.txt", RO, "link"));
    TRY(g_link(h, RO, false, "data.txt", RW, "hard.txt"));
    TRY(g_link(h, RW, false, "hello.txt", RO, "hard.txt"));
    TRY(g_settimes(h, RO, true, "data.txt", 1000000000ull));
    TRY(g_settimes(h, RO, false, "sub", 1000000000ull));

    /* Through a directory opened beneath the read-only preopen. */
    uint32_t dfd;
    assert_int_equal(h_open(h, RO, "sub", VIV_WASI_O_DIRECTORY, RIGHTS_RD, 0, true, &dfd), 0);
    TRY(h_open(h, dfd, "inner.txt", VIV_WASI_O_TRUNC, RIGHTS_RW, 0, true, NULL));
    TRY(h_path1(h, viv_wasi_path_unlink_file, dfd, "inner.txt"));
    TRY(viv_wasi_fd_filestat_set_times(h->w, dfd, 0, 0, VIV_WASI_FST_MTIM_NOW));

    /* A file opened for reading is fine to read, but every write fails. */
    assert_int_equal(h_open(h, RO, "data.txt", 0, RIGHTS_RD, 0, true, &fd), 0);
    assert_int_equal(h_read(h, fd, buf, sizeof buf, &n), 0);
    assert_string_equal(buf, "read only data");
    assert_int_equal(viv_wasi_fd_fdstat_get(h->w, fd, STAT_AT), 0);
    assert_false(h_u64(h, STAT_AT + VIV_WASI_FDSTAT_RIGHTS) & VIV_WASI_RIGHT_FD_WRITE);
    assert_true(h_u64(h, STAT_AT + VIV_WASI_FDSTAT_RIGHTS) & VIV_WASI_RIGHT_FD_READ);
    h_put_str(h, H_BUF_AT, "XXXX");
    h_put_iov(h, H_OUT_AT + 16, H_BUF_AT, 4);
    TRY(viv_wasi_fd_write(h->w, fd, H_OUT_AT + 16, 1, H_OUT_AT));
    TRY(viv_wasi_fd_pwrite(h->w, fd, H_OUT_AT + 16, 1, 0, H_OUT_AT));
    TRY(viv_wasi_fd_allocate(h->w, fd, 0, 100));
    TRY(viv_wasi_fd_filestat_set_size(h->w, fd, 0));
    TRY(viv_wasi_fd_filestat_set_times(h->w, fd, 0, 0, VIV_WASI_FST_MTIM_NOW));
    TRY(viv_wasi_fd_fdstat_set_flags(h->w, fd, VIV_WASI_FDFLAG_APPEND));
    TRY(viv_wasi_fd_filestat_set_times(h->w, RO, 0, 0, VIV_WASI_FST_ATIM_NOW));
#undef TRY
    for (int i = 0; i < k; i++) {
        if (r[i].e != VIV_WASI_EROFS)
            fail_msg("%s = %u, want EROFS", r[i].what, r[i].e);
    }
    assert_int_equal(h_sec_count(h, VIV_WASI_SEC_READONLY_WRITE), k);
    assert_int_equal(h_sec_count(h, VIV_WASI_SEC_PATH_ESCAPE), 0);
    assert_string_equal(h->sec_path[0], "new.txt");

    /* Reads through the read-only mount still work. */
    assert_int_equal(g_slurp(h, RO, "sub/inner.txt", buf, sizeof buf), 0);
    assert_string_equal(buf, "inner");
    assert_int_equal(g_stat(h, RO, true, "data.txt"), 0);
    assert_int_equal(viv_wasi_fd_readdir(h->w, dfd, H_BUF_AT, 4096, 0, H_OUT_AT), 0);
    assert_int_equal(viv_wasi_fd_close(h->w, fd), 0);
    assert_int_equal(viv_wasi_fd_sync(h->w, RO), 0);

    /* The host tree is byte-for-byte and time-for-time the same, and
     * nothing arrived in the writable tree either. */
    snapshot(f->ro, after, sizeof after);
    assert_string_equal(before, after);
    hpath(p, sizeof p, f->rw, "moved.txt");
    assert_int_equal(access(p, F_OK), -1);
    hpath(p, sizeof p, f->rw, "hard.txt");
    assert_int_equal(access(p, F_OK), -1);
    hpath(p, sizeof p, f->rw, "hello.txt");
    assert_int_equal(access(p, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_slash_and_dots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stat_times_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_special_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readdir_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readdir_tiny_buffers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readdir_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
