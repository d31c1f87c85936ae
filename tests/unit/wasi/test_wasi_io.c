/*
 * tests/unit/wasi/test_wasi_io.c: output capture and its caps, stdin, bounds
 * checks on iovecs, file I/O calls, and poll_oneoff with the deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wasi_test_util.h"

#define MS 1000000ull

/* ---- capture --------------------------------------------------------------- */

static void test_stdout_cap(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    harness h = {0};
    viv_wasi_config cfg = {.stdout_fd = p[1], .stdout_max = 100, .stderr_fd = -1};
    h_start(&h, &cfg);

    /* 10000 bytes in 10 iovecs of 1000. */
    for (int i = 0; i < 10000; i++)
        h.data[H_BUF_AT + i] = (uint8_t)('a' + i % 26);
    for (uint32_t i = 0; i < 10; i++)
        h_put_iov(&h, 0x100 + 8 * i, H_BUF_AT + 1000 * i, 1000);
    assert_int_equal(viv_wasi_fd_write(h.w, 1, 0x100, 10, 0x200), 0);
    assert_int_equal(h_u32(&h, 0x200), 10000); /* the guest is told all of it */

    /* Further writes are dropped too. */
    assert_int_equal(viv_wasi_fd_write(h.w, 1, 0x100, 1, 0x200), 0);
    assert_int_equal(h_u32(&h, 0x200), 1000);

    close(p[1]);
    char buf[20000];
    size_t got = 0;
    ssize_t r;
    while ((r = read(p[0], buf + got, sizeof buf - got)) > 0)
        got += (size_t)r;
    close(p[0]);
    assert_int_equal(got, 100);
    assert_memory_equal(buf, h.data + H_BUF_AT, 100);

    viv_wasi_output_stats st;
    viv_wasi_get_output_stats(h.w, &st);
    assert_int_equal(st.stdout_written, 100);
    assert_int_equal(st.stdout_dropped, 9900 + 1000);
    assert_int_equal(st.stderr_written, 0);
    h_stop(&h);
}

static void test_stderr_and_append(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    harness h = {0};
    viv_wasi_config cfg = {.stdout_fd = -1, .stderr_fd = p[1], .stderr_max = 50};
    h_start(&h, &cfg);
    uint32_t n;
    assert_int_equal(h_write(&h, 2, "0123456789012345678901234567890", &n), 0); /* 31 */
    assert_int_equal(n, 31);
    viv_wasi_append_stderr(h.w, "Execution trapped: out of fuel\n", 31);
    /* pwrite on a stream ignores the offset and shares the cap. */
    h_put_iov(&h, 0x100, H_BUF_AT, 5);
    assert_int_equal(viv_wasi_fd_pwrite(h.w, 2, 0x100, 1, 12345, 0x200), 0);
    assert_int_equal(h_u32(&h, 0x200), 5);
    /* stdout discarded (fd -1) but counted. */
    assert_int_equal(h_write(&h, 1, "hello", &n), 0);
    assert_int_equal(n, 5);

    viv_wasi_output_stats st;
    viv_wasi_get_output_stats(h.w, &st);
    assert_int_equal(st.stderr_written, 50);
    assert_int_equal(st.stderr_dropped, 12 + 5);
    assert_int_equal(st.stdout_written, 0);
    assert_int_equal(st.stdout_dropped, 5);
    char buf[128];
    assert_int_equal(read(p[0], buf, sizeof buf), 50);
    assert_memory_equal(buf + 31, "Execution trapped: ", 19);
    h_stop(&h);
    close(p[0]);
    close(p[1]);
}

static void test_capture_broken_pipe(void **state)
{
    (void)state;
    /* SIGPIPE left at its default: a write to a pipe with no reader must not
     * kill the process, and the guest must not see an error. */
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
    sigaction(SIGPIPE, &dfl, &old);
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[0]);
    harness h = {0};
    viv_wasi_config cfg = {.stdout_fd = p[1], .stdout_max = 1 << 20, .stderr_fd = -1};
    h_start(&h, &cfg);
    uint32_t n;
    assert_int_equal(h_write(&h, 1, "lost", &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(h_write(&h, 1, "also lost", &n), 0);
    viv_wasi_output_stats st;
    viv_wasi_get_output_stats(h.w, &st);
    assert_int_equal(st.stdout_written, 0);
    assert_int_equal(st.stdout_dropped, 13);
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
    h_stop(&h);
    close(p[1]);
    sigaction(SIGPIPE, &old, NULL);
}

static void test_capture_short_writes(void **state)
{
    (void)state;
    /* A non-blocking pipe that fills up: the capture waits for the reader
     * instead of dropping or spinning. A child drains it slowly. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    fcntl(p[1], F_SETPIPE_SZ, 4096);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[1]);
        char buf[1000];
        size_t total = 0;
        ssize_t r;
        usleep(50000);
        while ((r = read(p[0], buf, sizeof buf)) > 0)
            total += (size_t)r;
        _exit(total == 200000 ? 0 : 1);
    }
    close(p[0]);
    harness h = {0};
    viv_wasi_config cfg = {.stdout_fd = p[1], .stdout_max = 1 << 20, .stderr_fd = -1};
    h_start(&h, &cfg);
    memset(h.data + H_BUF_AT, 'z', 50000);
    h_put_iov(&h, 0x100, H_BUF_AT, 50000);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(viv_wasi_fd_write(h.w, 1, 0x100, 1, 0x200), 0);
        assert_int_equal(h_u32(&h, 0x200), 50000);
    }
    viv_wasi_output_stats st;
    viv_wasi_get_output_stats(h.w, &st);
    assert_int_equal(st.stdout_written, 200000);
    assert_int_equal(st.stdout_dropped, 0);
    h_stop(&h);
    close(p[1]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- bounds ---------------------------------------------------------------- */

static void test_iovec_bounds(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    harness h = {0};
    viv_wasi_config cfg = {.stdout_fd = p[1], .stdout_max = 1 << 20, .stderr_fd = -1};
    h_start(&h, &cfg);

    /* iovec array past the end / wrapping a 32-bit sum. */
    assert_int_equal(viv_wasi_fd_write(h.w, 1, TMEM_SIZE - 4, 1, 0x200), VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_fd_write(h.w, 1, 0x100, 0x20000000u, 0x200), VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_fd_write(h.w, 1, 0xFFFFFFF8u, 2, 0x200), VIV_WASI_EFAULT);
    /* A buffer whose ptr+len wraps at 2^32. */
    h_put_iov(&h, 0x100, 0xFFFFFFF0u, 0x20);
    assert_int_equal(viv_wasi_fd_write(h.w, 1, 0x100, 1, 0x200), VIV_WASI_EFAULT);
    h_put_iov(&h, 0x100, 0x10, 0xFFFFFFFFu);
    assert_int_equal(viv_wasi_fd_write(h.w, 1, 0x100, 1, 0x200), VIV_WASI_EFAULT);
    /* A bad entry late in the array: nothing at all is written. */
    h_put_iov(&h, 0x100, H_BUF_AT, 10);
    h_put_iov(&h, 0x108, TMEM_SIZE - 5, 10);
    assert_int_equal(viv_wasi_fd_write(h.w, 1, 0x100, 2, 0x200), VIV_WASI_EFAULT);
    /* Result pointer out of bounds: also nothing written. */
    assert_int_equal(viv_wasi_fd_write(h.w, 1, 0x100, 1, TMEM_SIZE - 3), VIV_WASI_EFAULT);
    char buf[64];
    assert_int_equal(read(p[0], buf, sizeof buf), -1);
    assert_int_equal(errno, EAGAIN);
    /* Same for reads. */
    assert_int_equal(viv_wasi_fd_read(h.w, 0, 0x100, 2, 0x200), VIV_WASI_EFAULT);
    h_put_iov(&h, 0x100, 0xFFFFFFF0u, 0x20);
    assert_int_equal(viv_wasi_fd_read(h.w, 0, 0x100, 1, 0x200), VIV_WASI_EFAULT);

    /* Zero-length iovecs anywhere are harmless; an exact fit at the end ok. */
    h_put_iov(&h, 0x100, 0xFFFFFFF0u, 0);
    h_put_iov(&h, 0x108, TMEM_SIZE - 3, 3);
    memcpy(h.data + TMEM_SIZE - 3, "end", 3);
    assert_int_equal(viv_wasi_fd_write(h.w, 1, 0x100, 2, 0x200), 0);
    assert_int_equal(h_u32(&h, 0x200), 3);
    assert_int_equal(read(p[0], buf, sizeof buf), 3);

    /* Memory size is re-read on every call: shrink the engine's view and an
     * address that was fine is now refused; grow it back and it works. */
    h.size = 0x10000;
    h_put_iov(&h, 0x100, 0x20000, 4);
    assert_int_equal(viv_wasi_fd_write(h.w, 1, 0x100, 1, 0x200), VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_random_get(h.w, 0xFFF0, 0x20), VIV_WASI_EFAULT);
    h.size = TMEM_SIZE;
    assert_int_equal(viv_wasi_fd_write(h.w, 1, 0x100, 1, 0x200), 0);

    /* Many iovecs (more than one host batch), each one byte. */
    for (uint32_t i = 0; i < 1000; i++) {
        h_put_iov(&h, 0x2000 + 8 * i, H_BUF_AT + i, 1);
        h.data[H_BUF_AT + i] = (uint8_t)('0' + i % 10);
    }
    while (read(p[0], buf, sizeof buf) > 0) {
    }
    assert_int_equal(viv_wasi_fd_write(h.w, 1, 0x2000, 1000, 0x200), 0);
    assert_int_equal(h_u32(&h, 0x200), 1000);
    char big[2000];
    assert_int_equal(read(p[0], big, sizeof big), 1000);
    assert_memory_equal(big, h.data + H_BUF_AT, 1000);

    /* Unknown fd. */
    assert_int_equal(viv_wasi_fd_write(h.w, 77, 0x100, 1, 0x200), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_read(h.w, 1, 0x100, 1, 0x200), VIV_WASI_EBADF);
    h_stop(&h);
    close(p[0]);
    close(p[1]);
}

/* ---- stdin ----------------------------------------------------------------- */

static void test_stdin(void **state)
{
    (void)state;
    static const uint8_t in[] = "hello world";
    harness h = {0};
    viv_wasi_config cfg = {.stdin_data = in, .stdin_len = 11, .stdout_fd = -1, .stderr_fd = -1};
    h_start(&h, &cfg);
    h_put_iov(&h, 0x100, 0x1000, 3);
    h_put_iov(&h, 0x108, 0x1100, 0);
    h_put_iov(&h, 0x110, 0x1200, 100);
    assert_int_equal(viv_wasi_fd_read(h.w, 0, 0x100, 3, 0x200), 0);
    assert_int_equal(h_u32(&h, 0x200), 11);
    assert_memory_equal(h.data + 0x1000, "hel", 3);
    assert_memory_equal(h.data + 0x1200, "lo world", 8);
    assert_int_equal(viv_wasi_fd_read(h.w, 0, 0x100, 3, 0x200), 0);
    assert_int_equal(h_u32(&h, 0x200), 0); /* EOF */
    assert_int_equal(viv_wasi_fd_seek(h.w, 0, 0, 0, 0x200), VIV_WASI_ESPIPE);
    assert_int_equal(viv_wasi_fd_tell(h.w, 1, 0x200), VIV_WASI_ESPIPE);
    assert_int_equal(viv_wasi_fd_pread(h.w, 0, 0x100, 1, 0, 0x200), VIV_WASI_ESPIPE);
    assert_int_equal(viv_wasi_fd_write(h.w, 0, 0x100, 1, 0x200), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_sync(h.w, 1), VIV_WASI_EINVAL);
    assert_int_equal(viv_wasi_fd_filestat_get(h.w, 0, 0x300), 0);
    h_stop(&h);

    /* No stdin at all: immediate EOF. */
    harness h2 = {0};
    viv_wasi_config cfg2 = {.stdout_fd = -1, .stderr_fd = -1};
    h_start(&h2, &cfg2);
    h_put_iov(&h2, 0x100, 0x1000, 10);
    assert_int_equal(viv_wasi_fd_read(h2.w, 0, 0x100, 1, 0x200), 0);
    assert_int_equal(h_u32(&h2, 0x200), 0);
    h_stop(&h2);
}

/* ---- files ----------------------------------------------------------------- */

static void test_file_io(void **state)
{
    (void)state;
    char dir[64], path[128], buf[256];
    mk_tmpdir(dir, sizeof dir);
    viv_wasi_preopen pre[] = {{.host_path = dir, .guest_path = "/w"}};
    viv_wasi_config cfg = {.preopens = pre, .npreopens = 1, .stdout_fd = -1, .stderr_fd = -1};
    harness h = {0};
    h_start(&h, &cfg);
    uint32_t fd, n;
    assert_int_equal(h_open(&h, 3, "f.bin", VIV_WASI_O_CREAT, RIGHTS_RW, 0, true, &fd), 0);
    assert_int_equal(h_write(&h, fd, "0123456789", &n), 0);
    assert_int_equal(n, 10);

    /* tell/seek */
    assert_int_equal(viv_wasi_fd_tell(h.w, fd, 0x200), 0);
    assert_int_equal(h_u64(&h, 0x200), 10);
    assert_int_equal(viv_wasi_fd_seek(h.w, fd, (uint64_t)-4, VIV_WASI_WHENCE_END, 0x200), 0);
    assert_int_equal(h_u64(&h, 0x200), 6);
    assert_int_equal(h_read(&h, fd, buf, sizeof buf, &n), 0);
    assert_string_equal(buf, "6789");
    assert_int_equal(viv_wasi_fd_seek(h.w, fd, 2, VIV_WASI_WHENCE_SET, 0x200), 0);
    assert_int_equal(viv_wasi_fd_seek(h.w, fd, 1, VIV_WASI_WHENCE_CUR, 0x200), 0);
    assert_int_equal(h_u64(&h, 0x200), 3);
    assert_int_equal(viv_wasi_fd_seek(h.w, fd, 0, 7, 0x200), VIV_WASI_EINVAL);
    assert_int_equal(viv_wasi_fd_seek(h.w, fd, (uint64_t)-100, VIV_WASI_WHENCE_SET, 0x200),
                     VIV_WASI_EINVAL);
    assert_int_equal(viv_wasi_fd_seek(h.w, fd, 0, 0, TMEM_SIZE - 4), VIV_WASI_EFAULT);

    /* pread/pwrite do not move the offset. */
    h_put_str(&h, H_BUF_AT, "AB");
    h_put_iov(&h, 0x100, H_BUF_AT, 2);
    assert_int_equal(viv_wasi_fd_pwrite(h.w, fd, 0x100, 1, 8, 0x200), 0);
    assert_int_equal(h_u32(&h, 0x200), 2);
    h_put_iov(&h, 0x100, 0x3000, 4);
    h_put_iov(&h, 0x108, 0x3100, 4);
    assert_int_equal(viv_wasi_fd_pread(h.w, fd, 0x100, 2, 4, 0x200), 0);
    assert_int_equal(h_u32(&h, 0x200), 6);
    assert_memory_equal(h.data + 0x3000, "4567", 4);
    assert_memory_equal(h.data + 0x3100, "AB", 2);
    assert_int_equal(viv_wasi_fd_tell(h.w, fd, 0x200), 0);
    assert_int_equal(h_u64(&h, 0x200), 3);
    assert_int_equal(viv_wasi_fd_pread(h.w, fd, 0x100, 1, (uint64_t)1 << 63, 0x200),
                     VIV_WASI_EINVAL);

    /* size, allocate, sync, advise, times */
    assert_int_equal(viv_wasi_fd_filestat_set_size(h.w, fd, 4), 0);
    assert_int_equal(viv_wasi_fd_filestat_get(h.w, fd, 0x300), 0);
    assert_int_equal(h_u64(&h, 0x300 + VIV_WASI_FILESTAT_SIZE_), 4);
    assert_int_equal(h_u64(&h, 0x300 + VIV_WASI_FILESTAT_NLINK), 1);
    assert_int_equal(viv_wasi_fd_allocate(h.w, fd, 0, 4096), 0);
    assert_int_equal(viv_wasi_fd_filestat_get(h.w, fd, 0x300), 0);
    assert_int_equal(h_u64(&h, 0x300 + VIV_WASI_FILESTAT_SIZE_), 4096);
    assert_int_equal(viv_wasi_fd_sync(h.w, fd), 0);
    assert_int_equal(viv_wasi_fd_datasync(h.w, fd), 0);
    assert_int_equal(viv_wasi_fd_advise(h.w, fd, 0, 0, VIV_WASI_ADVICE_SEQUENTIAL), 0);
    assert_int_equal(viv_wasi_fd_advise(h.w, fd, 0, 0, 9), VIV_WASI_EINVAL);
    assert_int_equal(viv_wasi_fd_filestat_set_times(h.w, fd, 5000000000ull, 7000000000ull,
                                                    VIV_WASI_FST_ATIM | VIV_WASI_FST_MTIM),
                     0);
    assert_int_equal(viv_wasi_fd_filestat_get(h.w, fd, 0x300), 0);
    assert_int_equal(h_u64(&h, 0x300 + VIV_WASI_FILESTAT_ATIM), 5000000000ull);
    assert_int_equal(h_u64(&h, 0x300 + VIV_WASI_FILESTAT_MTIM), 7000000000ull);
    assert_int_equal(
        viv_wasi_fd_filestat_set_times(h.w, fd, 0, 0, VIV_WASI_FST_ATIM | VIV_WASI_FST_ATIM_NOW),
        VIV_WASI_EINVAL);
    assert_int_equal(viv_wasi_fd_fdstat_get(h.w, fd, 0x300), 0);
    assert_int_equal(h_u8(&h, 0x300), VIV_WASI_FILETYPE_REGULAR_FILE);
    assert_true(h_u64(&h, 0x308) & VIV_WASI_RIGHT_FD_WRITE);

    /* append via fdstat_set_flags */
    assert_int_equal(viv_wasi_fd_filestat_set_size(h.w, fd, 0), 0);
    assert_int_equal(viv_wasi_fd_fdstat_set_flags(h.w, fd, VIV_WASI_FDFLAG_APPEND), 0);
    assert_int_equal(viv_wasi_fd_seek(h.w, fd, 0, VIV_WASI_WHENCE_SET, 0x200), 0);
    assert_int_equal(h_write(&h, fd, "tail", &n), 0);
    assert_int_equal(viv_wasi_fd_fdstat_get(h.w, fd, 0x300), 0);
    assert_int_equal(h_u16(&h, 0x302), VIV_WASI_FDFLAG_APPEND);
    assert_int_equal(viv_wasi_fd_fdstat_set_flags(h.w, fd, VIV_WASI_FDFLAG_SYNC), VIV_WASI_ENOTSUP);
    assert_int_equal(viv_wasi_fd_close(h.w, fd), 0);
    snprintf(path, sizeof path, "%s/f.bin", dir);
    assert_int_equal(read_host_file(path, buf, sizeof buf), 4);
    assert_string_equal(buf, "tail");

    /* A write-only fd cannot read; a read-only fd cannot write. */
    assert_int_equal(h_open(&h, 3, "f.bin", 0, RIGHTS_WR, 0, true, &fd), 0);
    assert_int_equal(h_read(&h, fd, buf, sizeof buf, &n), VIV_WASI_EBADF);
    assert_int_equal(viv_wasi_fd_close(h.w, fd), 0);
    assert_int_equal(h_open(&h, 3, "f.bin", 0, RIGHTS_RD, 0, true, &fd), 0);
    assert_int_equal(h_write(&h, fd, "x", &n), VIV_WASI_EBADF);
    /* Directories are not byte streams. */
    assert_int_equal(h_read(&h, 3, buf, sizeof buf, &n), VIV_WASI_EISDIR);
    assert_int_equal(viv_wasi_fd_seek(h.w, 3, 0, 0, 0x200), VIV_WASI_EBADF);

    h_stop(&h);
    rm_rf(dir);
}

/* ---- poll_oneoff ------------------------------------------------------------ */

static void put_clock_sub(harness *h, uint32_t at, uint64_t userdata, uint32_t clock,
                          uint64_t timeout, bool abs)
{
    memset(h->data + at, 0, VIV_WASI_SUBSCRIPTION_SIZE);
    h_set_u64(h, at + VIV_WASI_SUB_USERDATA, userdata);
    h->data[at + VIV_WASI_SUB_TAG] = VIV_WASI_EVENTTYPE_CLOCK;
    h_set_u32(h, at + VIV_WASI_SUB_CLOCK_ID, clock);
    h_set_u64(h, at + VIV_WASI_SUB_CLOCK_TIMEOUT, timeout);
    h->data[at + VIV_WASI_SUB_CLOCK_FLAGS] = abs ? VIV_WASI_SUBCLOCK_ABSTIME : 0;
}

static void put_fd_sub(harness *h, uint32_t at, uint64_t userdata, uint8_t type, uint32_t fd)
{
    memset(h->data + at, 0, VIV_WASI_SUBSCRIPTION_SIZE);
    h_set_u64(h, at + VIV_WASI_SUB_USERDATA, userdata);
    h->data[at + VIV_WASI_SUB_TAG] = type;
    h_set_u32(h, at + VIV_WASI_SUB_FD, fd);
}

#define SUBS 0x4000u
#define EVTS 0x5000u

static void test_poll_sleep(void **state)
{
    (void)state;
    harness h = {0};
    viv_wasi_config cfg = {.stdout_fd = -1, .stderr_fd = -1};
    h_start(&h, &cfg);

    assert_int_equal(viv_wasi_poll_oneoff(h.w, SUBS, EVTS, 0, 0x100), VIV_WASI_EINVAL);

    /* Relative monotonic 50 ms. */
    put_clock_sub(&h, SUBS, 0x1234, VIV_WASI_CLOCK_MONOTONIC, 50 * MS, false);
    uint64_t t0 = now_mono_ns();
    assert_int_equal(viv_wasi_poll_oneoff(h.w, SUBS, EVTS, 1, 0x100), 0);
    uint64_t dt = now_mono_ns() - t0;
    assert_true(dt >= 50 * MS);
    assert_true(dt < 1000 * MS);
    assert_int_equal(h_u32(&h, 0x100), 1);
    assert_int_equal(h_u64(&h, EVTS + VIV_WASI_EVENT_USERDATA), 0x1234);
    assert_int_equal(h_u16(&h, EVTS + VIV_WASI_EVENT_ERROR), 0);
    assert_int_equal(h_u8(&h, EVTS + VIV_WASI_EVENT_TYPE), VIV_WASI_EVENTTYPE_CLOCK);

    /* Two clocks: only the earlier fires. */
    put_clock_sub(&h, SUBS, 1, VIV_WASI_CLOCK_MONOTONIC, 2000 * MS, false);
    put_clock_sub(&h, SUBS + 48, 2, VIV_WASI_CLOCK_REALTIME, 20 * MS, false);
    t0 = now_mono_ns();
    assert_int_equal(viv_wasi_poll_oneoff(h.w, SUBS, EVTS, 2, 0x100), 0);
    dt = now_mono_ns() - t0;
    assert_true(dt >= 20 * MS && dt < 1000 * MS);
    assert_int_equal(h_u32(&h, 0x100), 1);
    assert_int_equal(h_u64(&h, EVTS), 2);

    /* Absolute monotonic and absolute realtime, 30 ms ahead. */
    put_clock_sub(&h, SUBS, 3, VIV_WASI_CLOCK_MONOTONIC, now_mono_ns() + 30 * MS, true);
    t0 = now_mono_ns();
    assert_int_equal(viv_wasi_poll_oneoff(h.w, SUBS, EVTS, 1, 0x100), 0);
    dt = now_mono_ns() - t0;
    assert_true(dt >= 25 * MS && dt < 1000 * MS);
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    uint64_t rt_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
    put_clock_sub(&h, SUBS, 4, VIV_WASI_CLOCK_REALTIME, rt_ns + 30 * MS, true);
    t0 = now_mono_ns();
    assert_int_equal(viv_wasi_poll_oneoff(h.w, SUBS, EVTS, 1, 0x100), 0);
    dt = now_mono_ns() - t0;
    assert_true(dt >= 25 * MS && dt < 1000 * MS);
    /* In the past: immediate. */
    put_clock_sub(&h, SUBS, 5, VIV_WASI_CLOCK_MONOTONIC, 1, true);
    assert_int_equal(viv_wasi_poll_oneoff(h.w, SUBS, EVTS, 1, 0x100), 0);
    assert_int_equal(h_u32(&h, 0x100), 1);

    /* An fd subscription is ready at once: the 5 s clock does not fire. */
    put_clock_sub(&h, SUBS, 6, VIV_WASI_CLOCK_MONOTONIC, 5000 * MS, false);
    put_fd_sub(&h, SUBS + 48, 7, VIV_WASI_EVENTTYPE_FD_READ, 0);
    put_fd_sub(&h, SUBS + 96, 8, VIV_WASI_EVENTTYPE_FD_WRITE, 1);
    put_fd_sub(&h, SUBS + 144, 9, VIV_WASI_EVENTTYPE_FD_READ, 99);
    t0 = now_mono_ns();
    assert_int_equal(viv_wasi_poll_oneoff(h.w, SUBS, EVTS, 4, 0x100), 0);
    assert_true(now_mono_ns() - t0 < 500 * MS);
    assert_int_equal(h_u32(&h, 0x100), 3);
    assert_int_equal(h_u64(&h, EVTS), 7);
    assert_int_equal(h_u8(&h, EVTS + VIV_WASI_EVENT_TYPE), VIV_WASI_EVENTTYPE_FD_READ);
    assert_int_equal(h_u16(&h, EVTS + VIV_WASI_EVENT_ERROR), 0);
    assert_int_equal(h_u64(&h, EVTS + 32), 8);
    assert_int_equal(h_u64(&h, EVTS + 64), 9);
    assert_int_equal(h_u16(&h, EVTS + 64 + VIV_WASI_EVENT_ERROR), VIV_WASI_EBADF);

    /* Bad tag, bad memory. */
    put_fd_sub(&h, SUBS, 1, 9, 0);
    assert_int_equal(viv_wasi_poll_oneoff(h.w, SUBS, EVTS, 1, 0x100), VIV_WASI_EINVAL);
    assert_int_equal(viv_wasi_poll_oneoff(h.w, TMEM_SIZE - 47, EVTS, 1, 0x100), VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_poll_oneoff(h.w, SUBS, TMEM_SIZE - 31, 1, 0x100), VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_poll_oneoff(h.w, SUBS, EVTS, 0x10000000u, 0x100), VIV_WASI_EFAULT);
    assert_int_equal(viv_wasi_poll_oneoff(h.w, SUBS, EVTS, 0xFFFFFFFFu, 0x100), VIV_WASI_EFAULT);
    put_clock_sub(&h, SUBS, 1, VIV_WASI_CLOCK_MONOTONIC, 0, false);
    assert_int_equal(viv_wasi_poll_oneoff(h.w, SUBS, EVTS, 1, TMEM_SIZE), VIV_WASI_EFAULT);
    h_stop(&h);
}

static void test_poll_deadline(void **state)
{
    (void)state;
    harness h = {0};
    h.deadline_jump = true;
    viv_wasi_config cfg = {.stdout_fd = -1, .stderr_fd = -1};
    uint64_t t0 = now_mono_ns();
    cfg.deadline_ns = t0 + 30 * MS;
    h_start(&h, &cfg);
    put_clock_sub(&h, SUBS, 1, VIV_WASI_CLOCK_MONOTONIC, 5000 * MS, false);
    if (setjmp(h.deadline_jb) == 0) {
        viv_wasi_poll_oneoff(h.w, SUBS, EVTS, 1, 0x100);
        fail_msg("poll_oneoff returned past the deadline instead of calling on_deadline");
    }
    uint64_t dt = now_mono_ns() - t0;
    assert_int_equal(h.deadline_calls, 1);
    assert_true(dt >= 30 * MS);
    assert_true(dt < 100 * MS);

    /* A sleep that ends before the deadline is not affected. */
    h.deadline_calls = 0;
    viv_wasi_destroy(h.w);
    cfg.deadline_ns = now_mono_ns() + 500 * MS;
    char err[128];
    assert_int_equal(viv_wasi_create(&cfg, &h.w, err, sizeof err), 0);
    viv_wasi_set_memory(h.w, (viv_wasi_memory){.data = &h.data, .size = &h.size});
    put_clock_sub(&h, SUBS, 1, VIV_WASI_CLOCK_MONOTONIC, 10 * MS, false);
    assert_int_equal(viv_wasi_poll_oneoff(h.w, SUBS, EVTS, 1, 0x100), 0);
    assert_int_equal(h.deadline_calls, 0);
    h_stop(&h);
}

static void test_poll_deadline_returns(void **state)
{
    (void)state;
    /* on_deadline that returns, and no on_deadline: EINTR, no events. */
    for (int variant = 0; variant < 2; variant++) {
        harness h = {0};
        h.no_deadline_cb = variant == 1;
        viv_wasi_config cfg = {.stdout_fd = -1, .stderr_fd = -1};
        uint64_t t0 = now_mono_ns();
        cfg.deadline_ns = t0 + 20 * MS;
        h_start(&h, &cfg);
        put_clock_sub(&h, SUBS, 1, VIV_WASI_CLOCK_MONOTONIC, 5000 * MS, false);
        h_set_u32(&h, 0x100, 77);
        assert_int_equal(viv_wasi_poll_oneoff(h.w, SUBS, EVTS, 1, 0x100), VIV_WASI_EINTR);
        uint64_t dt = now_mono_ns() - t0;
        assert_true(dt >= 20 * MS && dt < 100 * MS);
        assert_int_equal(h_u32(&h, 0x100), 0);
        assert_int_equal(h.deadline_calls, variant == 0 ? 1 : 0);
        h_stop(&h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stdout_cap),
        cmocka_unit_test(test_stderr_and_append),
        cmocka_unit_test(test_capture_broken_pipe),
        cmocka_unit_test(test_capture_short_writes),
        cmocka_unit_test(test_iovec_bounds),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_file_io),
        cmocka_unit_test(test_poll_sleep),
        cmocka_unit_test(test_poll_deadline),
        cmocka_unit_test(test_poll_deadline_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
