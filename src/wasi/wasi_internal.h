/*
 * src/wasi/wasi_internal.h: shared private state of the WASI layer.
 *
 * Owns the layout of the context and the fd table, and the small helpers
 * every translation unit needs: guest-memory access, little-endian
 * load/store, host errno translation and security reporting. Nothing here is
 * visible outside src/wasi.
 */
#ifndef VIV_WASI_INTERNAL_H
#define VIV_WASI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "wasi.h"
#include "wasi_abi.h"

/* Guest fds are indices into a fixed table; the bound is what the guest can
 * ever hold open, so a guest cannot exhaust host fds or host memory. */
#ifndef VIV_WASI_MAX_FDS
#define VIV_WASI_MAX_FDS 1024u
#endif

typedef enum viv_fd_kind {
    VIV_FD_FREE = 0,
    VIV_FD_STDIN,
    VIV_FD_STDOUT,
    VIV_FD_STDERR,
    VIV_FD_PREOPEN,
    VIV_FD_FILE,
    VIV_FD_DIR,
} viv_fd_kind;

typedef struct viv_fd {
    viv_fd_kind kind;
    int host;      /* host fd for PREOPEN/FILE/DIR, else -1 */
    bool readonly; /* inherited from the preopen the fd was opened beneath */
    uint16_t fdflags;
    uint64_t rights_base;
    uint64_t rights_inheriting;
    char *preopen_name; /* PREOPEN only: the guest path reported by prestat */
    size_t preopen_name_len;
} viv_fd;

/* One captured output stream. `offered` counts bytes we tried to hand to the
 * host fd (whether or not the write succeeded), so the cap is honoured even
 * when writes fail part-way. */
typedef struct viv_capture {
    int fd;
    uint64_t max;
    uint64_t offered;
    uint64_t written;
    uint64_t dropped;
    bool broken; /* host fd failed hard (EPIPE, EBADF...): drop the rest */
} viv_capture;

struct viv_wasi {
    viv_wasi_config cfg;
    viv_wasi_memory mem;
    size_t stdin_pos;
    viv_capture out;
    viv_capture err;
    viv_fd fds[VIV_WASI_MAX_FDS];
};

/* ---- guest memory ---------------------------------------------------- */

/* Host pointer to guest [ptr, ptr+len), or NULL if any byte lies outside the
 * current memory. 64-bit arithmetic: ptr + len cannot wrap. */
static inline uint8_t *viv_mem(viv_wasi *w, uint32_t ptr, uint64_t len)
{
    if (w->mem.data == NULL || w->mem.size == NULL || *w->mem.data == NULL)
        return NULL;
    if ((uint64_t)ptr + len > (uint64_t)*w->mem.size)
        return NULL;
    return *w->mem.data + ptr;
}

static inline void viv_put_u8(uint8_t *p, uint8_t v) { p[0] = v; }
static inline void viv_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void viv_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void viv_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t viv_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t viv_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static inline uint64_t viv_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Store a u32/u64 result at a guest address; EFAULT if out of bounds. */
uint32_t viv_store_u32(viv_wasi *w, uint32_t ptr, uint32_t v);
uint32_t viv_store_u64(viv_wasi *w, uint32_t ptr, uint64_t v);

/* ---- shared helpers (wasi.c) ------------------------------------------ */

uint32_t viv_errno_from_host(int host_errno);
viv_fd *viv_fd_get(viv_wasi *w, uint32_t fd);
/* Lowest free guest fd number, or -1 when the table is full. */
int viv_fd_alloc(viv_wasi *w);
void viv_security(viv_wasi *w, viv_wasi_security_kind kind, const char *guest_path);
/* Report a write attempt through a read-only mount and return EROFS. */
uint32_t viv_refuse_readonly(viv_wasi *w, const char *guest_path);
/* Same, for fd-based writes: the report names the guest fd. */
uint32_t viv_refuse_readonly_fd(viv_wasi *w, uint32_t fd);
uint8_t viv_filetype_from_mode(unsigned mode);
uint64_t viv_timespec_ns(const struct timespec *ts);
uint64_t viv_monotonic_ns(void);
/* Rights reported for a fd of this kind (see wasi.c for the policy). */
uint64_t viv_wasi_rights_for(viv_fd_kind kind, bool readonly);

/* ---- capture (wasi_io.c) ---------------------------------------------- */

void viv_capture_write(viv_capture *c, const uint8_t *p, size_t n);

#endif /* VIV_WASI_INTERNAL_H */
