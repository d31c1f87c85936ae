/*
 * tests/unit/wasi/wasi_test_util.c: the fake guest (see wasi_test_util.h).
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wasi_test_util.h"

static void on_security(void *user, viv_wasi_security_kind kind, const char *path)
{
    harness *h = user;
    if (h->nsec < SEC_MAX) {
        h->sec_kind[h->nsec] = kind;
        snprintf(h->sec_path[h->nsec], sizeof h->sec_path[0], "%s", path);
        h->nsec++;
    }
}

static void on_exit_cb(void *user, uint32_t code)
{
    harness *h = user;
    h->exited = true;
    h->exit_code = code;
}

static void on_deadline(void *user)
{
    harness *h = user;
    h->deadline_calls++;
    if (h->deadline_jump)
        longjmp(h->deadline_jb, 1);
}

void h_start(harness *h, viv_wasi_config *cfg)
{
    char err[512] = "";
    if (h->data == NULL) {
        h->data = calloc(1, TMEM_SIZE);
        assert_non_null(h->data);
        h->size = TMEM_SIZE;
    }
    cfg->user = h;
    cfg->on_security = on_security;
    cfg->on_exit = on_exit_cb;
    cfg->on_deadline = h->no_deadline_cb ? NULL : on_deadline;
    int r = viv_wasi_create(cfg, &h->w, err, sizeof err);
    if (r != 0)
        fail_msg("viv_wasi_create: %d %s", r, err);
    viv_wasi_set_memory(h->w, (viv_wasi_memory){.data = &h->data, .size = &h->size});
}

void h_stop(harness *h)
{
    viv_wasi_destroy(h->w);
    h->w = NULL;
    free(h->data);
    h->data = NULL;
}

uint32_t h_put_str(harness *h, uint32_t at, const char *s)
{
    size_t n = strlen(s);
    assert_true((uint64_t)at + n <= TMEM_SIZE);
    memcpy(h->data + at, s, n);
    return (uint32_t)n;
}

void h_set_u32(harness *h, uint32_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        h->data[at + i] = (uint8_t)(v >> (8 * i));
}

void h_set_u64(harness *h, uint32_t at, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        h->data[at + i] = (uint8_t)(v >> (8 * i));
}

void h_put_iov(harness *h, uint32_t at, uint32_t buf, uint32_t len)
{
    h_set_u32(h, at, buf);
    h_set_u32(h, at + 4, len);
}

uint8_t h_u8(harness *h, uint32_t at) { return h->data[at]; }
uint16_t h_u16(harness *h, uint32_t at) { return (uint16_t)(h->data[at] | h->data[at + 1] << 8); }
uint32_t h_u32(harness *h, uint32_t at)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | h->data[at + i];
    return v;
}
uint64_t h_u64(harness *h, uint32_t at)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | h->data[at + i];
    return v;
}

int h_sec_count(harness *h, viv_wasi_security_kind kind)
{
    int n = 0;
    for (int i = 0; i < h->nsec; i++)
        n += h->sec_kind[i] == kind;
    return n;
}

void h_clear_sec(harness *h) { h->nsec = 0; }

uint32_t h_open(harness *h, uint32_t dirfd, const char *path, uint32_t oflags, uint64_t rights,
                uint32_t fdflags, bool follow, uint32_t *fd_out)
{
    uint32_t n = h_put_str(h, H_PATH_AT, path);
    h_set_u32(h, H_OUT_AT, 0xdeadbeef);
    uint32_t e = viv_wasi_path_open(h->w, dirfd, follow ? VIV_WASI_LOOKUP_SYMLINK_FOLLOW : 0,
                                    H_PATH_AT, n, oflags, rights, RIGHTS_RW, fdflags, H_OUT_AT);
    if (fd_out != NULL)
        *fd_out = e == 0 ? h_u32(h, H_OUT_AT) : UINT32_MAX;
    return e;
}

uint32_t h_write(harness *h, uint32_t fd, const char *s, uint32_t *nwritten)
{
    uint32_t n = h_put_str(h, H_BUF_AT, s);
    h_put_iov(h, H_OUT_AT + 16, H_BUF_AT, n);
    uint32_t e = viv_wasi_fd_write(h->w, fd, H_OUT_AT + 16, 1, H_OUT_AT);
    if (nwritten != NULL)
        *nwritten = e == 0 ? h_u32(h, H_OUT_AT) : 0;
    return e;
}

uint32_t h_read(harness *h, uint32_t fd, char *out, uint32_t cap, uint32_t *nread)
{
    assert_true(cap <= H_BUF_SIZE);
    h_put_iov(h, H_OUT_AT + 16, H_BUF_AT, cap - 1);
    uint32_t e = viv_wasi_fd_read(h->w, fd, H_OUT_AT + 16, 1, H_OUT_AT);
    uint32_t n = e == 0 ? h_u32(h, H_OUT_AT) : 0;
    memcpy(out, h->data + H_BUF_AT, n);
    out[n] = '\0';
    if (nread != NULL)
        *nread = n;
    return e;
}

uint32_t h_path1(harness *h, uint32_t (*fn)(viv_wasi *, uint32_t, uint32_t, uint32_t), uint32_t fd,
                 const char *path)
{
    uint32_t n = h_put_str(h, H_PATH_AT, path);
    return fn(h->w, fd, H_PATH_AT, n);
}

int count_host_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n - 1; /* the DIR's own fd */
}

void mk_tmpdir(char *out, size_t outlen)
{
    assert_true(outlen > 32);
    snprintf(out, outlen, "/tmp/viv_wasi_test.XXXXXX");
    assert_non_null(mkdtemp(out));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void rm_rf(const char *path) { nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS); }

void write_host_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

long read_host_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

uint64_t now_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
