/*
 * src/wasi/wasi_io.c: data movement and waiting.
 *
 * Owns: fd_read/fd_write/fd_pread/fd_pwrite (including the in-memory stdin
 * and the capped stdout/stderr capture), fd_seek/fd_tell, fd_advise,
 * fd_allocate, fd_sync/fd_datasync, and poll_oneoff with its deadline.
 *
 * Guest iovec arrays are validated in full before any byte moves, so a bad
 * entry late in the array cannot leave a half-done write behind an EFAULT.
 * Host I/O goes straight between guest memory and the host fd in batches of
 * at most IOV_BATCH iovecs: nothing here allocates in proportion to what the
 * guest asks for.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wasi_internal.h"

#define IOV_BATCH 64

/* ---- capture ------------------------------------------------------------- */

/* write(2) that cannot kill us with SIGPIPE: the capture fd is usually a pipe
 * whose reader may be gone, and the embedding process may not ignore
 * SIGPIPE. Block it for the call and swallow one we caused ourselves. */
static ssize_t write_nosigpipe(int fd, const void *p, size_t n)
{
    sigset_t pipe_set, old_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set) != 0)
        return write(fd, p, n);
    bool was_pending = false;
    if (sigpending(&pending) == 0)
        was_pending = sigismember(&pending, SIGPIPE) == 1;
    ssize_t r = write(fd, p, n);
    int saved = errno;
    if (r < 0 && saved == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    errno = saved;
    return r;
}

void viv_capture_write(viv_capture *c, const uint8_t *p, size_t n)
{
    uint64_t room = c->offered < c->max ? c->max - c->offered : 0;
    size_t take = 0;
    if (c->fd >= 0 && !c->broken)
        take = (uint64_t)n < room ? n : (size_t)room;
    c->offered += take;
    size_t done = 0;
    while (done < take) {
        ssize_t r = write_nosigpipe(c->fd, p + done, take - done);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN) {
            /* A non-blocking capture fd: wait until the reader drains it
             * rather than spin or drop. */
            struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
            if (poll(&pfd, 1, -1) >= 0 || errno == EINTR)
                continue;
        }
        /* EPIPE, EBADF, EIO, ENOSPC...: the stream is gone for good; drop the
         * rest without bothering the guest, which cannot do anything useful
         * about it. */
        c->broken = true;
        break;
    }
    c->written += done;
    c->dropped += (uint64_t)n - done;
}

void viv_wasi_append_stderr(viv_wasi *w, const char *bytes, size_t len)
{
    if (w == NULL || (bytes == NULL && len > 0))
        return;
    viv_capture_write(&w->err, (const uint8_t *)bytes, len);
}

/* ---- iovecs -------------------------------------------------------------- */

/* Check every iovec of the array against memory. On success *total is the
 * sum of the lengths, clamped to UINT32_MAX because that is the largest
 * count the guest can be told. */
static uint32_t iovs_check(viv_wasi *w, uint32_t iovs, uint32_t iovs_len, uint64_t *total)
{
    const uint8_t *arr = viv_mem(w, iovs, (uint64_t)iovs_len * VIV_WASI_IOVEC_SIZE);
    if (arr == NULL)
        return VIV_WASI_EFAULT;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < iovs_len; i++) {
        uint32_t buf = viv_get_u32(arr + (uint64_t)i * 8);
        uint32_t len = viv_get_u32(arr + (uint64_t)i * 8 + 4);
        if (len > 0 && viv_mem(w, buf, len) == NULL)
            return VIV_WASI_EFAULT;
        sum += len;
        if (sum > UINT32_MAX)
            sum = UINT32_MAX;
    }
    *total = sum;
    return VIV_WASI_ESUCCESS;
}

/* Cursor over an already-checked iovec array that yields host iovec batches
 * and stops once `budget` bytes (<= UINT32_MAX) have been handed out. */
typedef struct iov_cursor {
    viv_wasi *w;
    const uint8_t *arr;
    uint32_t n, i;
    uint64_t budget;
} iov_cursor;

static void iov_cursor_init(iov_cursor *c, viv_wasi *w, uint32_t iovs, uint32_t n, uint64_t budget)
{
    c->w = w;
    c->arr = viv_mem(w, iovs, (uint64_t)n * VIV_WASI_IOVEC_SIZE);
    c->n = n;
    c->i = 0;
    c->budget = budget;
}

/* Fill up to IOV_BATCH host iovecs; returns how many (0 = done) and their
 * byte total in *bytes. */
static int iov_cursor_next(iov_cursor *c, struct iovec *out, uint64_t *bytes)
{
    int k = 0;
    *bytes = 0;
    while (k < IOV_BATCH && c->i < c->n && c->budget > 0) {
        uint32_t buf = viv_get_u32(c->arr + (uint64_t)c->i * 8);
        uint64_t len = viv_get_u32(c->arr + (uint64_t)c->i * 8 + 4);
        c->i++;
        if (len == 0)
            continue;
        if (len > c->budget)
            len = c->budget;
        c->budget -= len;
        out[k].iov_base = viv_mem(c->w, buf, len);
        out[k].iov_len = (size_t)len;
        *bytes += len;
        k++;
    }
    return k;
}

/* One place for the read/write/pread/pwrite loops on host files. A short
 * transfer ends the call, as it would for readv/writev: the next batch could
 * otherwise block, or read past a point the guest has not seen yet. */
static uint32_t host_iov_loop(viv_wasi *w, int host, uint32_t iovs, uint32_t iovs_len,
                              uint64_t total, bool is_write, bool positioned, uint64_t offset,
                              uint64_t *moved)
{
    iov_cursor cur;
    struct iovec batch[IOV_BATCH];
    uint64_t bytes;
    int k;
    *moved = 0;
    iov_cursor_init(&cur, w, iovs, iovs_len, total);
    while ((k = iov_cursor_next(&cur, batch, &bytes)) > 0) {
        ssize_t r;
        do {
            off_t off = (off_t)(offset + *moved);
            if (is_write)
                r = positioned ? pwritev(host, batch, k, off) : writev(host, batch, k);
            else
                r = positioned ? preadv(host, batch, k, off) : readv(host, batch, k);
        } while (r < 0 && errno == EINTR);
        if (r < 0) {
            /* Report what already moved; the error resurfaces next call. */
            if (*moved > 0)
                return VIV_WASI_ESUCCESS;
            return viv_errno_from_host(errno);
        }
        *moved += (uint64_t)r;
        if ((uint64_t)r < bytes)
            break;
    }
    return VIV_WASI_ESUCCESS;
}

/* Send a checked iovec array to a capture stream, all of it counted as
 * written from the guest's point of view. */
static uint64_t capture_iovs(viv_wasi *w, viv_capture *c, uint32_t iovs, uint32_t iovs_len,
                             uint64_t total)
{
    iov_cursor cur;
    struct iovec batch[IOV_BATCH];
    uint64_t bytes, sum = 0;
    int k;
    iov_cursor_init(&cur, w, iovs, iovs_len, total);
    while ((k = iov_cursor_next(&cur, batch, &bytes)) > 0) {
        for (int i = 0; i < k; i++)
            viv_capture_write(c, batch[i].iov_base, batch[i].iov_len);
        sum += bytes;
    }
    return sum;
}

static viv_capture *capture_of(viv_wasi *w, const viv_fd *f)
{
    if (f->kind == VIV_FD_STDOUT)
        return &w->out;
    if (f->kind == VIV_FD_STDERR)
        return &w->err;
    return NULL;
}

static uint32_t do_write(viv_wasi *w, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                         bool positioned, uint64_t offset, uint32_t nwritten_out)
{
    viv_fd *f = viv_fd_get(w, fd);
    if (f == NULL)
        return VIV_WASI_EBADF;
    uint64_t total = 0, moved = 0;
    uint32_t e = iovs_check(w, iovs, iovs_len, &total);
    if (e != 0)
        return e;
    if (viv_mem(w, nwritten_out, 4) == NULL)
        return VIV_WASI_EFAULT;

    viv_capture *cap = capture_of(w, f);
    if (cap != NULL) {
        /* Offsets mean nothing for a stream; pwrite is a plain write. */
        moved = capture_iovs(w, cap, iovs, iovs_len, total);
    } else if (f->kind == VIV_FD_FILE) {
        if (f->readonly)
            return viv_refuse_readonly_fd(w, fd);
        if (positioned && offset > INT64_MAX)
            return VIV_WASI_EINVAL;
        e = host_iov_loop(w, f->host, iovs, iovs_len, total, true, positioned, offset, &moved);
        if (e != 0)
            return e;
    } else if (f->kind == VIV_FD_DIR || f->kind == VIV_FD_PREOPEN) {
        return VIV_WASI_EISDIR;
    } else {
        return VIV_WASI_EBADF;
    }
    return viv_store_u32(w, nwritten_out, (uint32_t)moved);
}

static uint32_t do_read(viv_wasi *w, uint32_t fd, uint32_t iovs, uint32_t iovs_len, bool positioned,
                        uint64_t offset, uint32_t nread_out)
{
    viv_fd *f = viv_fd_get(w, fd);
    if (f == NULL)
        return VIV_WASI_EBADF;
    uint64_t total = 0, moved = 0;
    uint32_t e = iovs_check(w, iovs, iovs_len, &total);
    if (e != 0)
        return e;
    if (viv_mem(w, nread_out, 4) == NULL)
        return VIV_WASI_EFAULT;

    if (f->kind == VIV_FD_STDIN) {
        if (positioned)
            return VIV_WASI_ESPIPE;
        if (w->cfg.on_stdin_read != NULL)
            w->cfg.on_stdin_read(w->cfg.user);
        iov_cursor cur;
        struct iovec batch[IOV_BATCH];
        uint64_t bytes;
        int k;
        size_t left = w->cfg.stdin_len - w->stdin_pos;
        iov_cursor_init(&cur, w, iovs, iovs_len, total < left ? total : left);
        while ((k = iov_cursor_next(&cur, batch, &bytes)) > 0) {
            for (int i = 0; i < k; i++) {
                memcpy(batch[i].iov_base, w->cfg.stdin_data + w->stdin_pos, batch[i].iov_len);
                w->stdin_pos += batch[i].iov_len;
            }
            moved += bytes;
        }
    } else if (f->kind == VIV_FD_FILE) {
        if (positioned && offset > INT64_MAX)
            return VIV_WASI_EINVAL;
        e = host_iov_loop(w, f->host, iovs, iovs_len, total, false, positioned, offset, &moved);
        if (e != 0)
            return e;
    } else if (f->kind == VIV_FD_DIR || f->kind == VIV_FD_PREOPEN) {
        return VIV_WASI_EISDIR;
    } else {
        return VIV_WASI_EBADF;
    }
    return viv_store_u32(w, nread_out, (uint32_t)moved);
}

uint32_t viv_wasi_fd_write(viv_wasi *w, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                           uint32_t nwritten_out)
{
    return do_write(w, fd, iovs, iovs_len, false, 0, nwritten_out);
}

uint32_t viv_wasi_fd_pwrite(viv_wasi *w, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                            uint64_t offset, uint32_t nwritten_out)
{
    return do_write(w, fd, iovs, iovs_len, true, offset, nwritten_out);
}

uint32_t viv_wasi_fd_read(viv_wasi *w, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                          uint32_t nread_out)
{
    return do_read(w, fd, iovs, iovs_len, false, 0, nread_out);
}

uint32_t viv_wasi_fd_pread(viv_wasi *w, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                           uint64_t offset, uint32_t nread_out)
{
    return do_read(w, fd, iovs, iovs_len, true, offset, nread_out);
}

/* ---- positioning and file-level operations ------------------------------- */

/* The file-only calls share one shape: stdio is a stream (ESPIPE), a
 * directory is not a file (EBADF). */
static uint32_t file_only(viv_wasi *w, uint32_t fd, viv_fd **out)
{
    viv_fd *f = viv_fd_get(w, fd);
    if (f == NULL)
        return VIV_WASI_EBADF;
    if (f->kind == VIV_FD_STDIN || f->kind == VIV_FD_STDOUT || f->kind == VIV_FD_STDERR)
        return VIV_WASI_ESPIPE;
    if (f->kind != VIV_FD_FILE)
        return VIV_WASI_EBADF;
    *out = f;
    return VIV_WASI_ESUCCESS;
}

uint32_t viv_wasi_fd_seek(viv_wasi *w, uint32_t fd, uint64_t offset, uint32_t whence,
                          uint32_t newoffset_out)
{
    viv_fd *f;
    uint32_t e = file_only(w, fd, &f);
    if (e != 0)
        return e;
    int how;
    switch (whence) {
    case VIV_WASI_WHENCE_SET:
        how = SEEK_SET;
        break;
    case VIV_WASI_WHENCE_CUR:
        how = SEEK_CUR;
        break;
    case VIV_WASI_WHENCE_END:
        how = SEEK_END;
        break;
    default:
        return VIV_WASI_EINVAL;
    }
    if (viv_mem(w, newoffset_out, 8) == NULL)
        return VIV_WASI_EFAULT;
    /* The offset is a signed filedelta transported as u64. */
    off_t r = lseek(f->host, (off_t)(int64_t)offset, how);
    if (r < 0)
        return viv_errno_from_host(errno);
    return viv_store_u64(w, newoffset_out, (uint64_t)r);
}

uint32_t viv_wasi_fd_tell(viv_wasi *w, uint32_t fd, uint32_t offset_out)
{
    viv_fd *f;
    uint32_t e = file_only(w, fd, &f);
    if (e != 0)
        return e;
    if (viv_mem(w, offset_out, 8) == NULL)
        return VIV_WASI_EFAULT;
    off_t r = lseek(f->host, 0, SEEK_CUR);
    if (r < 0)
        return viv_errno_from_host(errno);
    return viv_store_u64(w, offset_out, (uint64_t)r);
}

uint32_t viv_wasi_fd_advise(viv_wasi *w, uint32_t fd, uint64_t offset, uint64_t len,
                            uint32_t advice)
{
    viv_fd *f;
    uint32_t e = file_only(w, fd, &f);
    if (e != 0)
        return e;
    static const int map[] = {POSIX_FADV_NORMAL,   POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                              POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED,   POSIX_FADV_NOREUSE};
    if (advice >= sizeof map / sizeof map[0] || offset > INT64_MAX || len > INT64_MAX)
        return VIV_WASI_EINVAL;
    int r = posix_fadvise(f->host, (off_t)offset, (off_t)len, map[advice]);
    return viv_errno_from_host(r);
}

uint32_t viv_wasi_fd_allocate(viv_wasi *w, uint32_t fd, uint64_t offset, uint64_t len)
{
    viv_fd *f;
    uint32_t e = file_only(w, fd, &f);
    if (e != 0)
        return e;
    if (f->readonly)
        return viv_refuse_readonly_fd(w, fd);
    if (offset > INT64_MAX || len > INT64_MAX || offset + len > INT64_MAX)
        return VIV_WASI_EFBIG;
    if (len == 0)
        return VIV_WASI_EINVAL;
    int r = posix_fallocate(f->host, (off_t)offset, (off_t)len);
    return viv_errno_from_host(r);
}

static uint32_t do_sync(viv_wasi *w, uint32_t fd, bool data_only)
{
    viv_fd *f = viv_fd_get(w, fd);
    if (f == NULL)
        return VIV_WASI_EBADF;
    if (f->host < 0)
        return VIV_WASI_EINVAL; /* stdio streams, as fsync on a pipe */
    int r = data_only ? fdatasync(f->host) : fsync(f->host);
    return r == 0 ? VIV_WASI_ESUCCESS : viv_errno_from_host(errno);
}

uint32_t viv_wasi_fd_sync(viv_wasi *w, uint32_t fd) { return do_sync(w, fd, false); }

uint32_t viv_wasi_fd_datasync(viv_wasi *w, uint32_t fd) { return do_sync(w, fd, true); }

/* ---- poll_oneoff ----------------------------------------------------------- */

typedef struct poll_clocks {
    uint64_t mono0; /* both clocks sampled once, so both passes agree */
    uint64_t real0;
} poll_clocks;

/* Absolute CLOCK_MONOTONIC time at which a clock subscription fires, or
 * false for a clock we cannot wait on. */
static bool clock_target(const poll_clocks *pc, const uint8_t *sub, uint64_t *target)
{
    uint32_t id = viv_get_u32(sub + VIV_WASI_SUB_CLOCK_ID);
    uint64_t timeout = viv_get_u64(sub + VIV_WASI_SUB_CLOCK_TIMEOUT);
    bool abs = viv_get_u16(sub + VIV_WASI_SUB_CLOCK_FLAGS) & VIV_WASI_SUBCLOCK_ABSTIME;
    uint64_t delta;
    if (id == VIV_WASI_CLOCK_MONOTONIC && abs) {
        *target = timeout;
        return true;
    }
    if (id == VIV_WASI_CLOCK_REALTIME && abs)
        delta = timeout > pc->real0 ? timeout - pc->real0 : 0;
    else if (id == VIV_WASI_CLOCK_MONOTONIC || id == VIV_WASI_CLOCK_REALTIME)
        delta = timeout;
    else
        return false;
    *target = delta > UINT64_MAX - pc->mono0 ? UINT64_MAX : pc->mono0 + delta;
    return true;
}

/* Readiness of an fd subscription. Everything we hand out is memory or a
 * regular file (or a capture stream that we never make the guest wait on),
 * so all of it is ready at once. */
static void fd_event(viv_wasi *w, uint8_t tag, uint32_t fd, uint16_t *error, uint64_t *nbytes,
                     uint16_t *flags)
{
    viv_fd *f = viv_fd_get(w, fd);
    *error = 0;
    *nbytes = 0;
    *flags = 0;
    if (f == NULL) {
        *error = VIV_WASI_EBADF;
        return;
    }
    bool rd = tag == VIV_WASI_EVENTTYPE_FD_READ;
    switch (f->kind) {
    case VIV_FD_STDIN:
        if (!rd) {
            *error = VIV_WASI_EBADF;
            return;
        }
        *nbytes = w->cfg.stdin_len - w->stdin_pos;
        if (*nbytes == 0)
            *flags = VIV_WASI_EVENT_FD_READWRITE_HANGUP;
        return;
    case VIV_FD_STDOUT:
    case VIV_FD_STDERR:
        if (rd)
            *error = VIV_WASI_EBADF;
        return;
    case VIV_FD_FILE:
        if (rd) {
            struct stat st;
            off_t pos = lseek(f->host, 0, SEEK_CUR);
            if (fstat(f->host, &st) == 0 && pos >= 0 && st.st_size > pos)
                *nbytes = (uint64_t)(st.st_size - pos);
        }
        return;
    default:
        return;
    }
}

uint32_t viv_wasi_poll_oneoff(viv_wasi *w, uint32_t in, uint32_t out, uint32_t nsubscriptions,
                              uint32_t nevents_out)
{
    if (nsubscriptions == 0)
        return VIV_WASI_EINVAL;
    const uint8_t *subs = viv_mem(w, in, (uint64_t)nsubscriptions * VIV_WASI_SUBSCRIPTION_SIZE);
    uint8_t *events = viv_mem(w, out, (uint64_t)nsubscriptions * VIV_WASI_EVENT_SIZE);
    if (subs == NULL || events == NULL || viv_mem(w, nevents_out, 4) == NULL)
        return VIV_WASI_EFAULT;

    poll_clocks pc;
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    pc.real0 = viv_timespec_ns(&rt);
    pc.mono0 = viv_monotonic_ns();

    /* Pass 1: validate, and find whether anything fires without waiting and
     * otherwise the earliest clock. Nothing is stored per subscription, so
     * the host cost does not grow with nsubscriptions beyond the loop. */
    bool immediate = false;
    uint64_t earliest = UINT64_MAX;
    for (uint32_t i = 0; i < nsubscriptions; i++) {
        const uint8_t *s = subs + (uint64_t)i * VIV_WASI_SUBSCRIPTION_SIZE;
        uint8_t tag = s[VIV_WASI_SUB_TAG];
        uint64_t t;
        if (tag == VIV_WASI_EVENTTYPE_CLOCK) {
            if (!clock_target(&pc, s, &t))
                immediate = true; /* fires at once with an error */
            else if (t < earliest)
                earliest = t;
        } else if (tag == VIV_WASI_EVENTTYPE_FD_READ || tag == VIV_WASI_EVENTTYPE_FD_WRITE) {
            immediate = true;
        } else {
            return VIV_WASI_EINVAL;
        }
    }

    /* Sleep to the earliest clock, never past the deadline. */
    if (!immediate) {
        for (;;) {
            uint64_t now = viv_monotonic_ns();
            if (now >= earliest)
                break;
            uint64_t dl = w->cfg.deadline_ns;
            if (dl != 0 && now >= dl) {
                if (w->cfg.on_deadline != NULL)
                    w->cfg.on_deadline(w->cfg.user);
                /* on_deadline should not return; if it did (or there is
                 * none), report an interrupted wait and no events. */
                (void)viv_store_u32(w, nevents_out, 0);
                return VIV_WASI_EINTR;
            }
            uint64_t wake = (dl != 0 && dl < earliest) ? dl : earliest;
            struct timespec ts = {.tv_sec = (time_t)(wake / 1000000000u),
                                  .tv_nsec = (long)(wake % 1000000000u)};
            int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            if (r != 0 && r != EINTR)
                return viv_errno_from_host(r);
        }
    }

    /* Pass 2: emit events. The guest is single-threaded, so the
     * subscriptions read here are the ones validated above (memory may have
     * been re-read, but cannot have shrunk during the call). */
    uint64_t now = viv_monotonic_ns();
    uint32_t n = 0;
    for (uint32_t i = 0; i < nsubscriptions; i++) {
        const uint8_t *s = subs + (uint64_t)i * VIV_WASI_SUBSCRIPTION_SIZE;
        uint64_t userdata = viv_get_u64(s + VIV_WASI_SUB_USERDATA);
        uint8_t tag = s[VIV_WASI_SUB_TAG];
        uint16_t error = 0, flags = 0;
        uint64_t nbytes = 0;
        if (tag == VIV_WASI_EVENTTYPE_CLOCK) {
            uint64_t t;
            if (!clock_target(&pc, s, &t))
                error = VIV_WASI_ENOTSUP;
            else if (t > now)
                continue;
        } else if (tag == VIV_WASI_EVENTTYPE_FD_READ || tag == VIV_WASI_EVENTTYPE_FD_WRITE) {
            fd_event(w, tag, viv_get_u32(s + VIV_WASI_SUB_FD), &error, &nbytes, &flags);
        } else {
            continue; /* memory overlapping `out` changed it: skip */
        }
        uint8_t *e = events + (uint64_t)n * VIV_WASI_EVENT_SIZE;
        memset(e, 0, VIV_WASI_EVENT_SIZE);
        viv_put_u64(e + VIV_WASI_EVENT_USERDATA, userdata);
        viv_put_u16(e + VIV_WASI_EVENT_ERROR, error);
        viv_put_u8(e + VIV_WASI_EVENT_TYPE, tag);
        viv_put_u64(e + VIV_WASI_EVENT_NBYTES, nbytes);
        viv_put_u16(e + VIV_WASI_EVENT_FLAGS, flags);
        n++;
    }
    return viv_store_u32(w, nevents_out, n);
}
