/*
 * tests/unit/wasi/wasi_test_util.h: a fake guest for the WASI layer tests.
 *
 * The tests play the guest: they lay out strings, iovecs and subscriptions
 * in a malloc'd "linear memory" and call viv_wasi_* directly, exactly as
 * generated code would. The harness also records the callbacks (security
 * events, exit, deadline) and makes scratch directory trees under /tmp.
 */
#ifndef VIV_WASI_TEST_UTIL_H
#define VIV_WASI_TEST_UTIL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasi.h"
#include "wasi_abi.h"

#define TMEM_SIZE (1u << 20) /* 1 MiB of guest memory */
#define SEC_MAX   128

typedef struct harness {
    viv_wasi *w;
    uint8_t *data;
    uint32_t size; /* the engine's view of memory.size; tests may change it */

    int nsec;
    viv_wasi_security_kind sec_kind[SEC_MAX];
    char sec_path[SEC_MAX][256];

    bool exited;
    uint32_t exit_code;

    int deadline_calls;
    bool deadline_jump;  /* longjmp out of on_deadline (else return) */
    bool no_deadline_cb; /* leave cfg.on_deadline NULL */
    jmp_buf deadline_jb;
} harness;

/* Fills in callbacks and user pointer, creates the context and attaches the
 * memory. Fails the test on error. */
void h_start(harness *h, viv_wasi_config *cfg);
void h_stop(harness *h);

/* Guest memory helpers. */
uint32_t h_put_str(harness *h, uint32_t at, const char *s); /* no NUL; returns length */
void h_put_iov(harness *h, uint32_t at, uint32_t buf, uint32_t len);
uint8_t h_u8(harness *h, uint32_t at);
uint16_t h_u16(harness *h, uint32_t at);
uint32_t h_u32(harness *h, uint32_t at);
uint64_t h_u64(harness *h, uint32_t at);
void h_set_u32(harness *h, uint32_t at, uint32_t v);
void h_set_u64(harness *h, uint32_t at, uint64_t v);

/* Count of security events of this kind since the last h_clear_sec. */
int h_sec_count(harness *h, viv_wasi_security_kind kind);
void h_clear_sec(harness *h);

/* Guest-style calls with the path placed at a fixed scratch offset. */
#define H_PATH_AT  0x1000u
#define H_PATH2_AT 0x3000u
#define H_OUT_AT   0x8000u  /* scratch results */
#define H_BUF_AT   0x10000u /* 64 KiB data buffer */
#define H_BUF_SIZE 0x10000u
uint32_t h_open(harness *h, uint32_t dirfd, const char *path, uint32_t oflags, uint64_t rights,
                uint32_t fdflags, bool follow, uint32_t *fd_out);
uint32_t h_write(harness *h, uint32_t fd, const char *s, uint32_t *nwritten);
uint32_t h_read(harness *h, uint32_t fd, char *out, uint32_t cap, uint32_t *nread);
/* 1-argument path calls: mkdir, unlink, rmdir... */
uint32_t h_path1(harness *h, uint32_t (*fn)(viv_wasi *, uint32_t, uint32_t, uint32_t), uint32_t fd,
                 const char *path);

/* What wasi-libc passes for O_RDONLY / O_RDWR opens. */
#define RIGHTS_RD                                                                                  \
    (VIV_WASI_RIGHTS_ALL & ~(VIV_WASI_RIGHT_FD_DATASYNC | VIV_WASI_RIGHT_FD_WRITE |                \
                             VIV_WASI_RIGHT_FD_ALLOCATE | VIV_WASI_RIGHT_FD_FILESTAT_SET_SIZE))
#define RIGHTS_RW VIV_WASI_RIGHTS_ALL
#define RIGHTS_WR (RIGHTS_RW & ~(VIV_WASI_RIGHT_FD_READ | VIV_WASI_RIGHT_FD_READDIR))

/* Host-side helpers. */
int count_host_fds(void);
void mk_tmpdir(char *out, size_t outlen);
void rm_rf(const char *path);
void write_host_file(const char *path, const char *content);
/* Returns bytes read (content NUL-terminated), or -1. */
long read_host_file(const char *path, char *buf, size_t cap);
uint64_t now_mono_ns(void);

#endif
