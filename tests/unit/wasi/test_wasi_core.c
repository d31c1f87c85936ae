/*
 * tests/unit/wasi/test_wasi_core.c: context lifetime, fd table, args/env,
 * clocks, randomness, process calls and the errno table.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wasi_internal.h"
#include "wasi_test_util.h"

/* ---- args / env ------------------------------------------------------------ */

static void test_args_env(void **state)
{
    (void)state;
    harness h = {0};
    const char *argv[] = {"python", "-c", "print('hi')"};
    const char *env[] = {"A=1", "PYTHONHASHSEED=0", "EMPTY="};
    viv_wasi_config cfg = {
        .argv = argv, .argc = 3, .env = env, .envc = 3, .stdout_fd = -1, .stderr_fd = -1};
    setenv("VIV_WASI_TEST_HOST_ONLY", "leak", 1);
    h_start(&h, &cfg);

    assert_int_equal(viv_wasi_args_sizes_get(h.w, 0x100, 0x104), 0);
    assert_int_equal(h_u32(&h, 0x100), 3);
    assert_int_equal(h_u32(&h, 0x104), 7 + 3 + 12); /* sizes include NULs */
    assert_int_equal(viv_wasi_args_get(h.w, 0x200, 0x300), 0);
    for (int i = 0; i < 3; i++) {
        uint32_t p = h_u32(&h, 0x200 + 4 * i);
        assert_true(p >= 0x300 && p < 0x300 + 22);
        assert_string_equal((char *)h.data + p, argv[i]);
    }
    assert_int_equal(h_u32(&h, 0x200), 0x300);

    /* Exactly the configured environment: nothing from the host. */
    assert_int_equal(viv_wasi_environ_sizes_get(h.w, 0x100, 0x104), 0);
    assert_int_equal(h_u32(&h, 0x100), 3);
    assert_int_equal(h_u32(&h, 0x104), 4 + 17 + 7);
    memset(h.data + 0x400, 0xAA, 0x100);
    assert_int_equal(viv_wasi_environ_get(h.w, 0x200, 0x400), 0);
    for (int i = 0; i < 3; i++)
        assert_string_equal((char *)h.data + h_u32(&h, 0x200 + 4 * i), env[i]);
    assert_null(memmem(h.data, TMEM_SIZE, "VIV_WASI_TEST_HOST_ONLY", 23));
    assert_int_equal(h.data[0x400 + 28], 0xAA); /* nothing past the block */

    /* Out of bounds, including a buffer that would wrap 32-bit arithmetic. */
    assert_int_equal(viv_wasi_args_sizes_get(h.w, TMEM_SIZE - 2, 0x104), VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_args_get(h.w, 0x200, TMEM_SIZE - 5), VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_args_get(h.w, 0xFFFFFFFCu, 0x300), VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_environ_get(h.w, 0x200, 0xFFFFFFF0u), VIV_WASI_EFAULT);
    h_stop(&h);
    unsetenv("VIV_WASI_TEST_HOST_ONLY");
}

static void test_empty_args(void **state)
{
    (void)state;
    harness h = {0};
    viv_wasi_config cfg = {.stdout_fd = -1, .stderr_fd = -1};
    h_start(&h, &cfg);
    assert_int_equal(viv_wasi_args_sizes_get(h.w, 0x100, 0x104), 0);
    assert_int_equal(h_u32(&h, 0x100), 0);
    assert_int_equal(h_u32(&h, 0x104), 0);
    assert_int_equal(viv_wasi_args_get(h.w, 0x200, 0x300), 0);
    assert_int_equal(viv_wasi_environ_sizes_get(h.w, 0x100, 0x104), 0);
    assert_int_equal(h_u32(&h, 0x100), 0);
    h_stop(&h);
}

/* ---- create / destroy -------------------------------------------------------- */

static void test_create_bad_preopen(void **state)
{
    (void)state;
    viv_wasi_preopen pre[] = {{.host_path = "/nonexistent/viv-wasi-test", .guest_path = "/x"}};
    viv_wasi_config cfg = {.preopens = pre, .npreopens = 1, .stdout_fd = -1, .stderr_fd = -1};
    viv_wasi *w = (viv_wasi *)1;
    char err[256] = "";
    int before = count_host_fds();
    int r = viv_wasi_create(&cfg, &w, err, sizeof err);
    assert_int_equal(r, -ENOENT);
    assert_null(w);
    assert_non_null(strstr(err, "/nonexistent/viv-wasi-test"));
    assert_int_equal(count_host_fds(), before);

    /* A file is not a directory. */
    pre[0].host_path = "/etc/passwd";
    r = viv_wasi_create(&cfg, &w, err, sizeof err);
    assert_int_equal(r, -ENOTDIR);
    assert_non_null(strstr(err, "/etc/passwd"));
    viv_wasi_destroy(NULL); /* no-op */
}

static void test_prestat(void **state)
{
    (void)state;
    char a[64], b[64];
    mk_tmpdir(a, sizeof a);
    mk_tmpdir(b, sizeof b);
    viv_wasi_preopen pre[] = {{.host_path = a, .guest_path = "/app", .readonly = true},
                              {.host_path = b, .guest_path = "/tmp"}};
    viv_wasi_config cfg = {.preopens = pre, .npreopens = 2, .stdout_fd = -1, .stderr_fd = -1};
    harness h = {0};
    h_start(&h, &cfg);

    /* wasi-libc's scan: 3, 4 are preopens, 5 ends the scan with EBADF. */
    assert_int_equal(viv_wasi_fd_prestat_get(h.w, 3, 0x100), 0);
    assert_int_equal(h_u8(&h, 0x100), VIV_WASI_PREOPENTYPE_DIR);
    assert_int_equal(h_u32(&h, 0x104), 4);
    assert_int_equal(viv_wasi_fd_prestat_dir_name(h.w, 3, 0x200, 4), 0);
    assert_memory_equal(h.data + 0x200, "/app", 4);
    assert_int_equal(viv_wasi_fd_prestat_get(h.w, 4, 0x100), 0);
    assert_int_equal(h_u32(&h, 0x104), 4);
    assert_int_equal(viv_wasi_fd_prestat_dir_name(h.w, 4, 0x200, 4), 0);
    assert_memory_equal(h.data + 0x200, "/tmp", 4);
    assert_int_equal(viv_wasi_fd_prestat_get(h.w, 5, 0x100), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_prestat_get(h.w, 0, 0x100), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_prestat_get(h.w, 1, 0x100), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_prestat_get(h.w, 0xFFFFFFFFu, 0x100), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_prestat_dir_name(h.w, 3, 0x200, 3), VIV_WASI_ENAMETOOLONG);
    assert_int_equal(viv_wasi_fd_prestat_get(h.w, 3, TMEM_SIZE - 4), VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_fd_prestat_dir_name(h.w, 3, TMEM_SIZE - 2, 4), VIV_WASI_EFAULT);

    /* fdstat: a preopen is a directory; read-only reports no write rights. */
    assert_int_equal(viv_wasi_fd_fdstat_get(h.w, 3, 0x300), 0);
    assert_int_equal(h_u8(&h, 0x300), VIV_WASI_FILETYPE_DIRECTORY);
    uint64_t ro_base = h_u64(&h, 0x308);
    assert_true(ro_base & VIV_WASI_RIGHT_PATH_OPEN);
    assert_true(ro_base & VIV_WASI_RIGHT_FD_READDIR);
    assert_false(ro_base & VIV_WASI_RIGHT_PATH_CREATE_FILE);
    assert_false(ro_base & VIV_WASI_RIGHT_PATH_UNLINK_FILE);
    assert_int_equal(viv_wasi_fd_fdstat_get(h.w, 4, 0x300), 0);
    uint64_t rw_base = h_u64(&h, 0x308);
    assert_true(rw_base & VIV_WASI_RIGHT_PATH_CREATE_FILE);
    assert_true(h_u64(&h, 0x310) & VIV_WASI_RIGHT_FD_WRITE);

    /* stdio: not a tty (isatty() must be false for captured pipes). */
    for (uint32_t fd = 0; fd < 3; fd++) {
        assert_int_equal(viv_wasi_fd_fdstat_get(h.w, fd, 0x300), 0);
        assert_int_equal(h_u8(&h, 0x300), VIV_WASI_FILETYPE_UNKNOWN);
        assert_false(h_u64(&h, 0x308) & VIV_WASI_RIGHT_FD_SEEK);
    }
    assert_true(h_u64(&h, 0x308) & VIV_WASI_RIGHT_FD_WRITE);
    assert_int_equal(viv_wasi_fd_fdstat_get(h.w, 9, 0x300), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_fdstat_get(h.w, 0, TMEM_SIZE - 23), VIV_WASI_EFAULT);

    /* Rights only narrow. */
    assert_int_equal(
        viv_wasi_fd_fdstat_set_rights(h.w, 4, rw_base & ~VIV_WASI_RIGHT_PATH_SYMLINK, 0), 0);
    assert_int_equal(viv_wasi_fd_fdstat_set_rights(h.w, 4, rw_base, 0), VIV_WASI_ENOTCAPABLE);

    h_stop(&h);
    rmdir(a);
    rmdir(b);
}

/* ---- fd table ---------------------------------------------------------------- */

static void test_renumber(void **state)
{
    (void)state;
    char a[64], b[64], path[128];
    mk_tmpdir(a, sizeof a);
    mk_tmpdir(b, sizeof b);
    snprintf(path, sizeof path, "%s/f.txt", a);
    write_host_file(path, "contents");
    int fds_before = count_host_fds();

    viv_wasi_preopen pre[] = {{.host_path = a, .guest_path = "/a"},
                              {.host_path = b, .guest_path = "/b"}};
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    viv_wasi_config cfg = {.preopens = pre,
                           .npreopens = 2,
                           .stdout_fd = pipefd[1],
                           .stderr_fd = -1,
                           .stdout_max = 1000};
    harness h = {0};
    h_start(&h, &cfg);
    int fds_created = count_host_fds();
    assert_int_equal(fds_created, fds_before + 2 + 2);

    uint32_t fd;
    assert_int_equal(h_open(&h, 3, "f.txt", 0, RIGHTS_RD, 0, true, &fd), 0);
    assert_int_equal(fd, 5); /* lowest free after the preopens */
    assert_int_equal(count_host_fds(), fds_created + 1);

    /* Over a preopen: the preopen's host fd is closed, the file moves. */
    assert_int_equal(viv_wasi_fd_renumber(h.w, fd, 4), 0);
    assert_int_equal(count_host_fds(), fds_created);
    assert_int_equal(viv_wasi_fd_prestat_get(h.w, 4, 0x100), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_close(h.w, 5), VIV_WASI_EBADF); /* source slot freed */
    char buf[64];
    uint32_t n;
    assert_int_equal(h_read(&h, 4, buf, sizeof buf, &n), 0);
    assert_string_equal(buf, "contents");
    assert_int_equal(viv_wasi_fd_filestat_get(h.w, 4, 0x200), 0);
    assert_int_equal(h_u8(&h, 0x200 + VIV_WASI_FILESTAT_FILETYPE), VIV_WASI_FILETYPE_REGULAR_FILE);

    /* The remaining preopen still reports itself. */
    assert_int_equal(viv_wasi_fd_prestat_get(h.w, 3, 0x100), 0);

    /* A preopen moved over stdio: fd 0 becomes the preopen. */
    assert_int_equal(viv_wasi_fd_renumber(h.w, 3, 0), 0);
    assert_int_equal(viv_wasi_fd_prestat_get(h.w, 0, 0x100), 0);
    assert_int_equal(viv_wasi_fd_prestat_get(h.w, 3, 0x100), VIV_WASI_EBADF);
    assert_int_equal(h_open(&h, 0, "f.txt", 0, RIGHTS_RD, 0, true, &fd), 0);
    assert_int_equal(fd, 3);

    /* stdout over stderr: writes to 2 now reach the stdout capture. */
    assert_int_equal(viv_wasi_fd_renumber(h.w, 1, 2), 0);
    assert_int_equal(h_write(&h, 2, "moved", &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(h_write(&h, 1, "x", &n), VIV_WASI_EBADF);
    assert_int_equal(read(pipefd[0], buf, sizeof buf), 5);

    /* Only open fds can be targets: no dup2 onto arbitrary numbers. */
    assert_int_equal(viv_wasi_fd_renumber(h.w, 3, 1), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_renumber(h.w, 3, 1000), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_renumber(h.w, 3, 0xFFFFFFFFu), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_renumber(h.w, 77, 3), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_renumber(h.w, 3, 3), 0);

    h_stop(&h);
    close(pipefd[0]);
    close(pipefd[1]);
    assert_int_equal(count_host_fds(), fds_before);
    rm_rf(a);
    rm_rf(b);
}

static void test_fd_cap(void **state)
{
    (void)state;
    char a[64], path[128];
    mk_tmpdir(a, sizeof a);
    snprintf(path, sizeof path, "%s/f", a);
    write_host_file(path, "x");
    int before = count_host_fds();
    viv_wasi_preopen pre[] = {{.host_path = a, .guest_path = "/a"}};
    viv_wasi_config cfg = {.preopens = pre, .npreopens = 1, .stdout_fd = -1, .stderr_fd = -1};
    harness h = {0};
    h_start(&h, &cfg);

    unsigned opened = 0;
    uint32_t fd, e;
    while ((e = h_open(&h, 3, "f", 0, RIGHTS_RD, 0, true, &fd)) == 0)
        opened++;
    assert_int_equal(e, VIV_WASI_EMFILE);
    assert_int_equal(opened, VIV_WASI_MAX_FDS - 4);
    assert_int_equal(viv_wasi_open_fd_count(h.w), VIV_WASI_MAX_FDS);
    assert_int_equal(count_host_fds(), before + 1 + (int)opened);

    assert_int_equal(viv_wasi_fd_close(h.w, 500), 0);
    assert_int_equal(h_open(&h, 3, "f", 0, RIGHTS_RD, 0, true, &fd), 0);
    assert_int_equal(fd, 500);
    assert_int_equal(h_open(&h, 3, "f", 0, RIGHTS_RD, 0, true, &fd), VIV_WASI_EMFILE);

    h_stop(&h);
    assert_int_equal(count_host_fds(), before);
    rm_rf(a);
}

static void test_close(void **state)
{
    (void)state;
    harness h = {0};
    viv_wasi_config cfg = {.stdout_fd = -1, .stderr_fd = -1};
    h_start(&h, &cfg);
    assert_int_equal(viv_wasi_open_fd_count(h.w), 3);
    assert_int_equal(viv_wasi_fd_close(h.w, 0), 0);
    assert_int_equal(viv_wasi_fd_close(h.w, 0), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_close(h.w, 3), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_close(h.w, 0x7FFFFFFF), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_open_fd_count(h.w), 2);
    h_stop(&h);
}

/* ---- clocks, random, process -------------------------------------------------- */

static void test_clocks(void **state)
{
    (void)state;
    harness h = {0};
    viv_wasi_config cfg = {.stdout_fd = -1, .stderr_fd = -1};
    h_start(&h, &cfg);
    for (uint32_t id = 0; id < 4; id++) {
        assert_int_equal(viv_wasi_clock_res_get(h.w, id, 0x100), 0);
        assert_true(h_u64(&h, 0x100) > 0);
        assert_int_equal(viv_wasi_clock_time_get(h.w, id, 1, 0x108), 0);
    }
    assert_int_equal(viv_wasi_clock_time_get(h.w, VIV_WASI_CLOCK_REALTIME, 0, 0x100), 0);
    uint64_t rt = h_u64(&h, 0x100);
    uint64_t host_rt = (uint64_t)time(NULL) * 1000000000ull;
    assert_true(rt + 5000000000ull > host_rt && rt < host_rt + 5000000000ull);

    assert_int_equal(viv_wasi_clock_time_get(h.w, VIV_WASI_CLOCK_MONOTONIC, 0, 0x100), 0);
    uint64_t m1 = h_u64(&h, 0x100);
    struct timespec d = {0, 2000000};
    nanosleep(&d, NULL);
    assert_int_equal(viv_wasi_clock_time_get(h.w, VIV_WASI_CLOCK_MONOTONIC, 0, 0x100), 0);
    assert_true(h_u64(&h, 0x100) >= m1 + 2000000);

    assert_int_equal(viv_wasi_clock_time_get(h.w, 4, 0, 0x100), VIV_WASI_EINVAL);
    assert_int_equal(viv_wasi_clock_res_get(h.w, 99, 0x100), VIV_WASI_EINVAL);
    assert_int_equal(viv_wasi_clock_time_get(h.w, 1, 0, TMEM_SIZE - 7), VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_clock_res_get(h.w, 1, 0xFFFFFFFCu), VIV_WASI_EFAULT);
    h_stop(&h);
}

static void test_random(void **state)
{
    (void)state;
    harness h = {0};
    viv_wasi_config cfg = {.stdout_fd = -1, .stderr_fd = -1};
    h_start(&h, &cfg);
    memset(h.data + 0x1000, 0, 4096);
    assert_int_equal(viv_wasi_random_get(h.w, 0x1000, 4096), 0);
    int zeros = 0;
    for (int i = 0; i < 4096; i++)
        zeros += h.data[0x1000 + i] == 0;
    assert_true(zeros < 100);                   /* ~16 expected */
    assert_int_equal(h.data[0x1000 + 4096], 0); /* stays inside the buffer */

    /* The whole memory in one call: no host buffer of that size needed. */
    assert_int_equal(viv_wasi_random_get(h.w, 0, TMEM_SIZE), 0);
    assert_int_equal(viv_wasi_random_get(h.w, 0, 0), 0);
    assert_int_equal(viv_wasi_random_get(h.w, TMEM_SIZE, 0), 0);
    assert_int_equal(viv_wasi_random_get(h.w, TMEM_SIZE - 10, 11), VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_random_get(h.w, 0xFFFFFFF0u, 0x20), VIV_WASI_EFAULT);
    h_stop(&h);
}

static void test_proc_and_stubs(void **state)
{
    (void)state;
    harness h = {0};
    viv_wasi_config cfg = {.stdout_fd = -1, .stderr_fd = -1};
    h_start(&h, &cfg);
    viv_wasi_proc_exit(h.w, 42);
    assert_true(h.exited);
    assert_int_equal(h.exit_code, 42);
    assert_int_equal(viv_wasi_proc_raise(h.w, 9), VIV_WASI_ENOSYS);
    assert_int_equal(viv_wasi_sched_yield(h.w), 0);
    assert_int_equal(viv_wasi_sock_accept(h.w, 3, 0, 0x100), VIV_WASI_ENOTSUP);
    assert_int_equal(viv_wasi_sock_recv(h.w, 3, 0, 0, 0, 0, 0), VIV_WASI_ENOTSUP);
    assert_int_equal(viv_wasi_sock_send(h.w, 3, 0, 0, 0, 0), VIV_WASI_ENOTSUP);
    assert_int_equal(viv_wasi_sock_shutdown(h.w, 3, 0), VIV_WASI_ENOTSUP);
    h_stop(&h);
}

static void test_errno_table(void **state)
{
    (void)state;
    static const struct {
        int host;
        uint32_t wasi;
    } t[] = {
        {0, 0},           {EACCES, 2},   {EAGAIN, 6},     {EBADF, 8},
        {EBUSY, 10},      {EDQUOT, 19},  {EEXIST, 20},    {EFBIG, 22},
        {EINTR, 27},      {EINVAL, 28},  {EIO, 29},       {EISDIR, 31},
        {ELOOP, 32},      {EMFILE, 33},  {EMLINK, 34},    {ENAMETOOLONG, 37},
        {ENFILE, 41},     {ENOENT, 44},  {ENOMEM, 48},    {ENOSPC, 51},
        {ENOSYS, 52},     {ENOTDIR, 54}, {ENOTEMPTY, 55}, {ENOTSUP, 58},
        {EOPNOTSUPP, 58}, {ENXIO, 60},   {EOVERFLOW, 61}, {EPERM, 63},
        {EPIPE, 64},      {EROFS, 69},   {ESPIPE, 70},    {ETXTBSY, 74},
        {EXDEV, 75},      {ENOTTY, 59},  {ETIMEDOUT, 73}, {ECONNREFUSED, 14},
        {EWOULDBLOCK, 6}, {4095, 29},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        assert_int_equal(viv_errno_from_host(t[i].host), t[i].wasi);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args_env),
        cmocka_unit_test(test_empty_args),
        cmocka_unit_test(test_create_bad_preopen),
        cmocka_unit_test(test_prestat),
        cmocka_unit_test(test_renumber),
        cmocka_unit_test(test_fd_cap),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_proc_and_stubs),
        cmocka_unit_test(test_errno_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
