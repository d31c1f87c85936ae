/*
 * src/wasi/wasi.c: the WASI context and everything that is not I/O or paths.
 *
 * Owns: context lifetime (opening and closing preopens), the guest fd table
 * and its cap, fd_close/fd_renumber/fdstat/prestat, args and environ (taken
 * only from the config, never from the host), clocks, random_get,
 * proc_exit/proc_raise/sched_yield, the socket stubs, and the single table
 * that turns a host errno into a WASI errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasi_internal.h"

/* Rights we report. They are advisory: enforcement comes from the host open
 * mode and the read-only flag, so a wrong bit here can confuse wasi-libc but
 * cannot widen access. Read-only mounts report the read-only subset as base
 * rights; their inheriting rights stay generous on purpose so that wasi-libc
 * passes the guest's real intent (e.g. O_RDWR) to path_open, where we refuse
 * it with EROFS instead of silently opening read-only. */
#define RIGHTS_STDIO                                                                               \
    (VIV_WASI_RIGHT_FD_FDSTAT_SET_FLAGS | VIV_WASI_RIGHT_FD_FILESTAT_GET |                         \
     VIV_WASI_RIGHT_POLL_FD_READWRITE)
#define RIGHTS_DIR_RO                                                                              \
    (VIV_WASI_RIGHT_FD_FDSTAT_SET_FLAGS | VIV_WASI_RIGHT_FD_SYNC | VIV_WASI_RIGHT_FD_ADVISE |      \
     VIV_WASI_RIGHT_PATH_OPEN | VIV_WASI_RIGHT_FD_READDIR | VIV_WASI_RIGHT_PATH_READLINK |         \
     VIV_WASI_RIGHT_PATH_FILESTAT_GET | VIV_WASI_RIGHT_FD_FILESTAT_GET |                           \
     VIV_WASI_RIGHT_POLL_FD_READWRITE)
#define RIGHTS_DIR_RW                                                                              \
    (RIGHTS_DIR_RO | VIV_WASI_RIGHT_PATH_CREATE_DIRECTORY | VIV_WASI_RIGHT_PATH_CREATE_FILE |      \
     VIV_WASI_RIGHT_PATH_LINK_SOURCE | VIV_WASI_RIGHT_PATH_LINK_TARGET |                           \
     VIV_WASI_RIGHT_PATH_RENAME_SOURCE | VIV_WASI_RIGHT_PATH_RENAME_TARGET |                       \
     VIV_WASI_RIGHT_PATH_FILESTAT_SET_SIZE | VIV_WASI_RIGHT_PATH_FILESTAT_SET_TIMES |              \
     VIV_WASI_RIGHT_FD_FILESTAT_SET_TIMES | VIV_WASI_RIGHT_PATH_SYMLINK |                          \
     VIV_WASI_RIGHT_PATH_REMOVE_DIRECTORY | VIV_WASI_RIGHT_PATH_UNLINK_FILE)
#define RIGHTS_FILE_RO                                                                             \
    (VIV_WASI_RIGHT_FD_DATASYNC | VIV_WASI_RIGHT_FD_READ | VIV_WASI_RIGHT_FD_SEEK |                \
     VIV_WASI_RIGHT_FD_FDSTAT_SET_FLAGS | VIV_WASI_RIGHT_FD_SYNC | VIV_WASI_RIGHT_FD_TELL |        \
     VIV_WASI_RIGHT_FD_ADVISE | VIV_WASI_RIGHT_FD_FILESTAT_GET | VIV_WASI_RIGHT_POLL_FD_READWRITE)
#define RIGHTS_FILE_RW                                                                             \
    (RIGHTS_FILE_RO | VIV_WASI_RIGHT_FD_WRITE | VIV_WASI_RIGHT_FD_ALLOCATE |                       \
     VIV_WASI_RIGHT_FD_FILESTAT_SET_SIZE | VIV_WASI_RIGHT_FD_FILESTAT_SET_TIMES)

uint64_t viv_wasi_rights_for(viv_fd_kind kind, bool readonly)
{
    switch (kind) {
    case VIV_FD_STDIN:
        return RIGHTS_STDIO | VIV_WASI_RIGHT_FD_READ;
    case VIV_FD_STDOUT:
    case VIV_FD_STDERR:
        return RIGHTS_STDIO | VIV_WASI_RIGHT_FD_WRITE;
    case VIV_FD_PREOPEN:
    case VIV_FD_DIR:
        return readonly ? RIGHTS_DIR_RO : RIGHTS_DIR_RW;
    case VIV_FD_FILE:
        return readonly ? RIGHTS_FILE_RO : RIGHTS_FILE_RW;
    case VIV_FD_FREE:
        break;
    }
    return 0;
}

/* ---- errno ------------------------------------------------------------- */

uint32_t viv_errno_from_host(int e)
{
    switch (e) {
    case 0:
        return VIV_WASI_ESUCCESS;
    case E2BIG:
        return VIV_WASI_E2BIG;
    case EACCES:
        return VIV_WASI_EACCES;
    case EADDRINUSE:
        return VIV_WASI_EADDRINUSE;
    case EADDRNOTAVAIL:
        return VIV_WASI_EADDRNOTAVAIL;
    case EAFNOSUPPORT:
        return VIV_WASI_EAFNOSUPPORT;
    case EAGAIN:
        return VIV_WASI_EAGAIN; /* == EWOULDBLOCK on Linux */
    case EALREADY:
        return VIV_WASI_EALREADY;
    case EBADF:
        return VIV_WASI_EBADF;
    case EBADMSG:
        return VIV_WASI_EBADMSG;
    case EBUSY:
        return VIV_WASI_EBUSY;
    case ECANCELED:
        return VIV_WASI_ECANCELED;
    case ECHILD:
        return VIV_WASI_ECHILD;
    case ECONNABORTED:
        return VIV_WASI_ECONNABORTED;
    case ECONNREFUSED:
        return VIV_WASI_ECONNREFUSED;
    case ECONNRESET:
        return VIV_WASI_ECONNRESET;
    case EDEADLK:
        return VIV_WASI_EDEADLK; /* == EDEADLOCK */
    case EDESTADDRREQ:
        return VIV_WASI_EDESTADDRREQ;
    case EDOM:
        return VIV_WASI_EDOM;
    case EDQUOT:
        return VIV_WASI_EDQUOT;
    case EEXIST:
        return VIV_WASI_EEXIST;
    case EFAULT:
        return VIV_WASI_EFAULT;
    case EFBIG:
        return VIV_WASI_EFBIG;
    case EHOSTUNREACH:
        return VIV_WASI_EHOSTUNREACH;
    case EIDRM:
        return VIV_WASI_EIDRM;
    case EILSEQ:
        return VIV_WASI_EILSEQ;
    case EINPROGRESS:
        return VIV_WASI_EINPROGRESS;
    case EINTR:
        return VIV_WASI_EINTR;
    case EINVAL:
        return VIV_WASI_EINVAL;
    case EIO:
        return VIV_WASI_EIO;
    case EISCONN:
        return VIV_WASI_EISCONN;
    case EISDIR:
        return VIV_WASI_EISDIR;
    case ELOOP:
        return VIV_WASI_ELOOP;
    case EMFILE:
        return VIV_WASI_EMFILE;
    case EMLINK:
        return VIV_WASI_EMLINK;
    case EMSGSIZE:
        return VIV_WASI_EMSGSIZE;
    case EMULTIHOP:
        return VIV_WASI_EMULTIHOP;
    case ENAMETOOLONG:
        return VIV_WASI_ENAMETOOLONG;
    case ENETDOWN:
        return VIV_WASI_ENETDOWN;
    case ENETRESET:
        return VIV_WASI_ENETRESET;
    case ENETUNREACH:
        return VIV_WASI_ENETUNREACH;
    case ENFILE:
        return VIV_WASI_ENFILE;
    case ENOBUFS:
        return VIV_WASI_ENOBUFS;
    case ENODEV:
        return VIV_WASI_ENODEV;
    case ENOENT:
        return VIV_WASI_ENOENT;
    case ENOEXEC:
        return VIV_WASI_ENOEXEC;
    case ENOLCK:
        return VIV_WASI_ENOLCK;
    case ENOLINK:
        return VIV_WASI_ENOLINK;
    case ENOMEM:
        return VIV_WASI_ENOMEM;
    case ENOMSG:
        return VIV_WASI_ENOMSG;
    case ENOPROTOOPT:
        return VIV_WASI_ENOPROTOOPT;
    case ENOSPC:
        return VIV_WASI_ENOSPC;
    case ENOSYS:
        return VIV_WASI_ENOSYS;
    case ENOTCONN:
        return VIV_WASI_ENOTCONN;
    case ENOTDIR:
        return VIV_WASI_ENOTDIR;
    case ENOTEMPTY:
        return VIV_WASI_ENOTEMPTY;
    case ENOTRECOVERABLE:
        return VIV_WASI_ENOTRECOVERABLE;
    case ENOTSOCK:
        return VIV_WASI_ENOTSOCK;
    case ENOTSUP:
        return VIV_WASI_ENOTSUP; /* == EOPNOTSUPP on Linux */
    case ENOTTY:
        return VIV_WASI_ENOTTY;
    case ENXIO:
        return VIV_WASI_ENXIO;
    case EOVERFLOW:
        return VIV_WASI_EOVERFLOW;
    case EOWNERDEAD:
        return VIV_WASI_EOWNERDEAD;
    case EPERM:
        return VIV_WASI_EPERM;
    case EPIPE:
        return VIV_WASI_EPIPE;
    case EPROTO:
        return VIV_WASI_EPROTO;
    case EPROTONOSUPPORT:
        return VIV_WASI_EPROTONOSUPPORT;
    case EPROTOTYPE:
        return VIV_WASI_EPROTOTYPE;
    case ERANGE:
        return VIV_WASI_ERANGE;
    case EROFS:
        return VIV_WASI_EROFS;
    case ESPIPE:
        return VIV_WASI_ESPIPE;
    case ESRCH:
        return VIV_WASI_ESRCH;
    case ESTALE:
        return VIV_WASI_ESTALE;
    case ETIMEDOUT:
        return VIV_WASI_ETIMEDOUT;
    case ETXTBSY:
        return VIV_WASI_ETXTBSY;
    case EXDEV:
        return VIV_WASI_EXDEV;
    /* Linux-only codes with a close WASI meaning. */
    case ENOTBLK:
        return VIV_WASI_ENOTSUP;
    case ENOKEY:
        return VIV_WASI_EACCES;
    case ECOMM:
        return VIV_WASI_EIO;
    case ENOMEDIUM:
        return VIV_WASI_ENODEV;
    default:
        return VIV_WASI_EIO;
    }
}

/* ---- small shared helpers ------------------------------------------------ */

uint32_t viv_store_u32(viv_wasi *w, uint32_t ptr, uint32_t v)
{
    uint8_t *p = viv_mem(w, ptr, 4);
    if (p == NULL)
        return VIV_WASI_EFAULT;
    viv_put_u32(p, v);
    return VIV_WASI_ESUCCESS;
}

uint32_t viv_store_u64(viv_wasi *w, uint32_t ptr, uint64_t v)
{
    uint8_t *p = viv_mem(w, ptr, 8);
    if (p == NULL)
        return VIV_WASI_EFAULT;
    viv_put_u64(p, v);
    return VIV_WASI_ESUCCESS;
}

viv_fd *viv_fd_get(viv_wasi *w, uint32_t fd)
{
    if (fd >= VIV_WASI_MAX_FDS || w->fds[fd].kind == VIV_FD_FREE)
        return NULL;
    return &w->fds[fd];
}

int viv_fd_alloc(viv_wasi *w)
{
    for (unsigned i = 0; i < VIV_WASI_MAX_FDS; i++) {
        if (w->fds[i].kind == VIV_FD_FREE)
            return (int)i;
    }
    return -1;
}

static void fd_release(viv_fd *f)
{
    if (f->host >= 0)
        close(f->host);
    free(f->preopen_name);
    memset(f, 0, sizeof *f);
    f->kind = VIV_FD_FREE;
    f->host = -1;
}

void viv_security(viv_wasi *w, viv_wasi_security_kind kind, const char *guest_path)
{
    if (w->cfg.on_security != NULL)
        w->cfg.on_security(w->cfg.user, kind, guest_path != NULL ? guest_path : "");
}

uint32_t viv_refuse_readonly(viv_wasi *w, const char *guest_path)
{
    viv_security(w, VIV_WASI_SEC_READONLY_WRITE, guest_path);
    return VIV_WASI_EROFS;
}

uint32_t viv_refuse_readonly_fd(viv_wasi *w, uint32_t fd)
{
    char what[32];
    snprintf(what, sizeof what, "<fd %u>", (unsigned)fd);
    return viv_refuse_readonly(w, what);
}

uint8_t viv_filetype_from_mode(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG:
        return VIV_WASI_FILETYPE_REGULAR_FILE;
    case S_IFDIR:
        return VIV_WASI_FILETYPE_DIRECTORY;
    case S_IFLNK:
        return VIV_WASI_FILETYPE_SYMBOLIC_LINK;
    case S_IFCHR:
        return VIV_WASI_FILETYPE_CHARACTER_DEVICE;
    case S_IFBLK:
        return VIV_WASI_FILETYPE_BLOCK_DEVICE;
    case S_IFSOCK:
        return VIV_WASI_FILETYPE_SOCKET_STREAM;
    default:
        return VIV_WASI_FILETYPE_UNKNOWN; /* FIFOs have no WASI type */
    }
}

uint64_t viv_timespec_ns(const struct timespec *ts)
{
    /* Times before the epoch have no WASI representation (timestamps are
     * unsigned); clamp rather than wrap to a date far in the future. */
    if (ts->tv_sec < 0)
        return 0;
    uint64_t s = (uint64_t)ts->tv_sec;
    if (s > UINT64_MAX / 1000000000u)
        return UINT64_MAX;
    return s * 1000000000u + (uint64_t)ts->tv_nsec;
}

uint64_t viv_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return viv_timespec_ns(&ts);
}

/* ---- lifetime ------------------------------------------------------------ */

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, fmt, a, b);
}

int viv_wasi_create(const viv_wasi_config *cfg, viv_wasi **out, char *err, size_t errlen)
{
    if (out != NULL)
        *out = NULL;
    if (cfg == NULL || out == NULL) {
        set_err(err, errlen, "%s%s", "wasi: missing config", "");
        return -EINVAL;
    }
    if ((cfg->argc > 0 && cfg->argv == NULL) || (cfg->envc > 0 && cfg->env == NULL) ||
        (cfg->npreopens > 0 && cfg->preopens == NULL) ||
        (cfg->stdin_len > 0 && cfg->stdin_data == NULL)) {
        set_err(err, errlen, "%s%s", "wasi: config has a count without an array", "");
        return -EINVAL;
    }
    for (size_t i = 0; i < cfg->argc; i++) {
        if (cfg->argv[i] == NULL) {
            set_err(err, errlen, "%s%s", "wasi: NULL argv entry", "");
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < cfg->envc; i++) {
        if (cfg->env[i] == NULL) {
            set_err(err, errlen, "%s%s", "wasi: NULL env entry", "");
            return -EINVAL;
        }
    }
    if (cfg->npreopens > VIV_WASI_MAX_FDS - 3) {
        set_err(err, errlen, "%s%s", "wasi: too many preopens", "");
        return -EMFILE;
    }

    viv_wasi *w = calloc(1, sizeof *w);
    if (w == NULL) {
        set_err(err, errlen, "%s%s", "wasi: out of memory", "");
        return -ENOMEM;
    }
    w->cfg = *cfg;
    for (unsigned i = 0; i < VIV_WASI_MAX_FDS; i++) {
        w->fds[i].kind = VIV_FD_FREE;
        w->fds[i].host = -1;
    }
    static const viv_fd_kind stdio[3] = {VIV_FD_STDIN, VIV_FD_STDOUT, VIV_FD_STDERR};
    for (unsigned i = 0; i < 3; i++) {
        w->fds[i].kind = stdio[i];
        w->fds[i].rights_base = viv_wasi_rights_for(stdio[i], false);
    }
    w->out = (viv_capture){.fd = cfg->stdout_fd, .max = cfg->stdout_max};
    w->err = (viv_capture){.fd = cfg->stderr_fd, .max = cfg->stderr_max};

    for (size_t i = 0; i < cfg->npreopens; i++) {
        const viv_wasi_preopen *p = &cfg->preopens[i];
        viv_fd *f = &w->fds[3 + i];
        if (p->host_path == NULL || p->guest_path == NULL) {
            set_err(err, errlen, "%s%s", "wasi: preopen without a path", "");
            viv_wasi_destroy(w);
            return -EINVAL;
        }
        int h = open(p->host_path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (h < 0) {
            int e = errno;
            set_err(err, errlen, "wasi: cannot open preopen '%s': %s", p->host_path, strerror(e));
            viv_wasi_destroy(w);
            return -e;
        }
        f->kind = VIV_FD_PREOPEN;
        f->host = h;
        f->readonly = p->readonly;
        f->rights_base = viv_wasi_rights_for(VIV_FD_PREOPEN, p->readonly);
        f->rights_inheriting = VIV_WASI_RIGHTS_ALL;
        f->preopen_name_len = strlen(p->guest_path);
        f->preopen_name = strdup(p->guest_path);
        if (f->preopen_name == NULL || f->preopen_name_len > UINT32_MAX) {
            set_err(err, errlen, "wasi: cannot record preopen '%s'%s", p->guest_path, "");
            viv_wasi_destroy(w);
            return -ENOMEM;
        }
    }
    /* Everything needed from the preopen array has been copied. */
    w->cfg.preopens = NULL;
    *out = w;
    return 0;
}

void viv_wasi_destroy(viv_wasi *w)
{
    if (w == NULL)
        return;
    for (unsigned i = 0; i < VIV_WASI_MAX_FDS; i++)
        fd_release(&w->fds[i]);
    free(w);
}

int viv_wasi_rebind(viv_wasi *w, const viv_wasi_config *cfg, char *err, size_t errlen)
{
    if (w == NULL || cfg == NULL || (cfg->npreopens > 0 && cfg->preopens == NULL) ||
        (cfg->argc > 0 && cfg->argv == NULL) || (cfg->envc > 0 && cfg->env == NULL) ||
        (cfg->stdin_len > 0 && cfg->stdin_data == NULL)) {
        set_err(err, errlen, "%s%s", "wasi: rebind: bad config", "");
        return -EINVAL;
    }
    size_t npre = 0;
    while (3 + npre < VIV_WASI_MAX_FDS && w->fds[3 + npre].kind == VIV_FD_PREOPEN) {
        npre++;
    }
    if (npre != cfg->npreopens) {
        set_err(err, errlen, "%s%s", "wasi: rebind: the preopen layout differs", "");
        return -EINVAL;
    }
    for (size_t i = 0; i < npre; i++) {
        const viv_wasi_preopen *p = &cfg->preopens[i];
        const viv_fd *f = &w->fds[3 + i];
        if (p->host_path == NULL || p->guest_path == NULL ||
            strcmp(p->guest_path, f->preopen_name) != 0) {
            set_err(err, errlen, "wasi: rebind: preopen '%s' is not where the guest saw it%s",
                    p->guest_path ? p->guest_path : "(null)", "");
            return -EINVAL;
        }
    }
    /* What the previous owner opened is not the new owner's business. */
    for (unsigned i = 0; i < VIV_WASI_MAX_FDS; i++) {
        /* Free entries are left alone: writing them would copy pages this
         * (forked) process otherwise shares with its zygote. */
        if ((i < 3 || i >= 3 + npre) && w->fds[i].kind != VIV_FD_FREE) {
            fd_release(&w->fds[i]);
        }
    }
    static const viv_fd_kind stdio[3] = {VIV_FD_STDIN, VIV_FD_STDOUT, VIV_FD_STDERR};
    for (unsigned i = 0; i < 3; i++) {
        w->fds[i].kind = stdio[i];
        w->fds[i].host = -1;
        w->fds[i].rights_base = viv_wasi_rights_for(stdio[i], false);
    }
    for (size_t i = 0; i < npre; i++) {
        const viv_wasi_preopen *p = &cfg->preopens[i];
        viv_fd *f = &w->fds[3 + i];
        int h = open(p->host_path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (h < 0) {
            int e = errno;
            set_err(err, errlen, "wasi: cannot open preopen '%s': %s", p->host_path, strerror(e));
            return -e;
        }
        close(f->host);
        f->host = h;
        f->readonly = p->readonly;
        f->fdflags = 0;
        f->rights_base = viv_wasi_rights_for(VIV_FD_PREOPEN, p->readonly);
        f->rights_inheriting = VIV_WASI_RIGHTS_ALL;
    }
    w->cfg = *cfg;
    w->cfg.preopens = NULL;
    w->stdin_pos = 0;
    w->out = (viv_capture){.fd = cfg->stdout_fd, .max = cfg->stdout_max};
    w->err = (viv_capture){.fd = cfg->stderr_fd, .max = cfg->stderr_max};
    return 0;
}

void viv_wasi_set_memory(viv_wasi *w, viv_wasi_memory mem) { w->mem = mem; }

void viv_wasi_get_output_stats(const viv_wasi *w, viv_wasi_output_stats *out)
{
    out->stdout_written = w->out.written;
    out->stdout_dropped = w->out.dropped;
    out->stderr_written = w->err.written;
    out->stderr_dropped = w->err.dropped;
}

size_t viv_wasi_host_fds(const viv_wasi *w, int *out, size_t max)
{
    size_t n = 0;
    for (unsigned i = 0; i < VIV_WASI_MAX_FDS; i++) {
        if (w->fds[i].kind != VIV_FD_FREE && w->fds[i].host >= 0) {
            if (n < max) {
                out[n] = w->fds[i].host;
            }
            n++;
        }
    }
    return n;
}

unsigned viv_wasi_open_fd_count(const viv_wasi *w)
{
    unsigned n = 0;
    for (unsigned i = 0; i < VIV_WASI_MAX_FDS; i++)
        n += w->fds[i].kind != VIV_FD_FREE;
    return n;
}

/* ---- args / environ ------------------------------------------------------ */

/* Total bytes of the strings including their NULs, or UINT64_MAX if the
 * guest could not address them. */
static uint64_t strings_bytes(const char *const *v, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += (uint64_t)strlen(v[i]) + 1;
        if (total > UINT32_MAX)
            return UINT64_MAX;
    }
    return total;
}

static uint32_t strings_sizes(viv_wasi *w, const char *const *v, size_t n, uint32_t count_out,
                              uint32_t size_out)
{
    uint64_t total = strings_bytes(v, n);
    if (n > UINT32_MAX || total == UINT64_MAX)
        return VIV_WASI_EOVERFLOW;
    uint8_t *pc = viv_mem(w, count_out, 4);
    uint8_t *ps = viv_mem(w, size_out, 4);
    if (pc == NULL || ps == NULL)
        return VIV_WASI_EFAULT;
    viv_put_u32(pc, (uint32_t)n);
    viv_put_u32(ps, (uint32_t)total);
    return VIV_WASI_ESUCCESS;
}

static uint32_t strings_get(viv_wasi *w, const char *const *v, size_t n, uint32_t ptrs,
                            uint32_t buf)
{
    uint64_t total = strings_bytes(v, n);
    if (n > UINT32_MAX || total == UINT64_MAX)
        return VIV_WASI_EOVERFLOW;
    uint8_t *pp = viv_mem(w, ptrs, (uint64_t)n * 4);
    uint8_t *pb = viv_mem(w, buf, total);
    if (pp == NULL || pb == NULL)
        return VIV_WASI_EFAULT;
    uint32_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(v[i]) + 1;
        viv_put_u32(pp + 4 * i, buf + off); /* in range: buf + total <= size */
        memcpy(pb + off, v[i], len);
        off += (uint32_t)len;
    }
    return VIV_WASI_ESUCCESS;
}

uint32_t viv_wasi_args_sizes_get(viv_wasi *w, uint32_t argc_out, uint32_t buf_size_out)
{
    return strings_sizes(w, w->cfg.argv, w->cfg.argc, argc_out, buf_size_out);
}

uint32_t viv_wasi_args_get(viv_wasi *w, uint32_t argv, uint32_t argv_buf)
{
    return strings_get(w, w->cfg.argv, w->cfg.argc, argv, argv_buf);
}

uint32_t viv_wasi_environ_sizes_get(viv_wasi *w, uint32_t count_out, uint32_t buf_size_out)
{
    return strings_sizes(w, w->cfg.env, w->cfg.envc, count_out, buf_size_out);
}

uint32_t viv_wasi_environ_get(viv_wasi *w, uint32_t environ_ptrs, uint32_t environ_buf)
{
    return strings_get(w, w->cfg.env, w->cfg.envc, environ_ptrs, environ_buf);
}

/* ---- clocks and randomness ---------------------------------------------- */

static bool host_clock(uint32_t id, clockid_t *out)
{
    switch (id) {
    case VIV_WASI_CLOCK_REALTIME:
        *out = CLOCK_REALTIME;
        return true;
    case VIV_WASI_CLOCK_MONOTONIC:
        *out = CLOCK_MONOTONIC;
        return true;
    case VIV_WASI_CLOCK_PROCESS_CPUTIME:
        *out = CLOCK_PROCESS_CPUTIME_ID;
        return true;
    case VIV_WASI_CLOCK_THREAD_CPUTIME:
        *out = CLOCK_THREAD_CPUTIME_ID;
        return true;
    default:
        return false;
    }
}

uint32_t viv_wasi_clock_res_get(viv_wasi *w, uint32_t clock_id, uint32_t res_out)
{
    clockid_t c;
    struct timespec ts;
    if (!host_clock(clock_id, &c))
        return VIV_WASI_EINVAL;
    if (viv_mem(w, res_out, 8) == NULL)
        return VIV_WASI_EFAULT;
    if (clock_getres(c, &ts) != 0)
        return viv_errno_from_host(errno);
    uint64_t ns = viv_timespec_ns(&ts);
    return viv_store_u64(w, res_out, ns == 0 ? 1 : ns);
}

uint32_t viv_wasi_clock_time_get(viv_wasi *w, uint32_t clock_id, uint64_t precision,
                                 uint32_t time_out)
{
    clockid_t c;
    struct timespec ts;
    (void)precision; /* the host clock is as precise as it gets */
    if (!host_clock(clock_id, &c))
        return VIV_WASI_EINVAL;
    if (viv_mem(w, time_out, 8) == NULL)
        return VIV_WASI_EFAULT;
    if (clock_gettime(c, &ts) != 0)
        return viv_errno_from_host(errno);
    return viv_store_u64(w, time_out, viv_timespec_ns(&ts));
}

uint32_t viv_wasi_random_get(viv_wasi *w, uint32_t buf, uint32_t buf_len)
{
    uint8_t *p = viv_mem(w, buf, buf_len);
    if (p == NULL)
        return VIV_WASI_EFAULT;
    /* Straight into guest memory: no host buffer, whatever the length.
     * getrandom returns at most 32 MiB per call, hence the loop. */
    size_t done = 0;
    while (done < buf_len) {
        ssize_t n = getrandom(p + done, buf_len - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return viv_errno_from_host(errno);
        }
        done += (size_t)n;
    }
    return VIV_WASI_ESUCCESS;
}

/* ---- process ------------------------------------------------------------- */

void viv_wasi_proc_exit(viv_wasi *w, uint32_t code)
{
    if (w->cfg.on_exit != NULL)
        w->cfg.on_exit(w->cfg.user, code);
}

uint32_t viv_wasi_proc_raise(viv_wasi *w, uint32_t sig) { return VIV_WASI_ENOSYS; }

uint32_t viv_wasi_sched_yield(viv_wasi *w)
{
    sched_yield();
    return VIV_WASI_ESUCCESS;
}

/* Sockets: preview 1 can only use sockets it was handed, and we hand none. */
uint32_t viv_wasi_sock_accept(viv_wasi *w, uint32_t fd, uint32_t flags, uint32_t fd_out)
{
    return VIV_WASI_ENOTSUP;
}

uint32_t viv_wasi_sock_recv(viv_wasi *w, uint32_t fd, uint32_t ri_data, uint32_t ri_data_len,
                            uint32_t ri_flags, uint32_t ro_datalen_out, uint32_t ro_flags_out)
{
    return VIV_WASI_ENOTSUP;
}

uint32_t viv_wasi_sock_send(viv_wasi *w, uint32_t fd, uint32_t si_data, uint32_t si_data_len,
                            uint32_t si_flags, uint32_t so_datalen_out)
{
    return VIV_WASI_ENOTSUP;
}

uint32_t viv_wasi_sock_shutdown(viv_wasi *w, uint32_t fd, uint32_t how) { return VIV_WASI_ENOTSUP; }

/* ---- fd table operations ------------------------------------------------- */

uint32_t viv_wasi_fd_close(viv_wasi *w, uint32_t fd)
{
    viv_fd *f = viv_fd_get(w, fd);
    if (f == NULL)
        return VIV_WASI_EBADF;
    fd_release(f);
    return VIV_WASI_ESUCCESS;
}

uint32_t viv_wasi_fd_renumber(viv_wasi *w, uint32_t from, uint32_t to)
{
    /* Preview 1 has no dup2: `to` must already be open, so the guest can
     * never name a slot (let alone a host fd) that we did not give it. */
    viv_fd *src = viv_fd_get(w, from);
    viv_fd *dst = viv_fd_get(w, to);
    if (src == NULL || dst == NULL)
        return VIV_WASI_EBADF;
    if (from == to)
        return VIV_WASI_ESUCCESS;
    fd_release(dst);
    *dst = *src; /* moves ownership of the host fd and preopen name */
    memset(src, 0, sizeof *src);
    src->kind = VIV_FD_FREE;
    src->host = -1;
    return VIV_WASI_ESUCCESS;
}

static uint8_t fd_filetype(const viv_fd *f)
{
    switch (f->kind) {
    case VIV_FD_PREOPEN:
    case VIV_FD_DIR:
        return VIV_WASI_FILETYPE_DIRECTORY;
    case VIV_FD_FILE:
        return VIV_WASI_FILETYPE_REGULAR_FILE;
    default:
        /* Captured stdio are pipes, which WASI cannot name. Reporting
         * character_device would make wasi-libc's isatty() say yes. */
        return VIV_WASI_FILETYPE_UNKNOWN;
    }
}

uint32_t viv_wasi_fd_fdstat_get(viv_wasi *w, uint32_t fd, uint32_t stat_out)
{
    viv_fd *f = viv_fd_get(w, fd);
    if (f == NULL)
        return VIV_WASI_EBADF;
    uint8_t *p = viv_mem(w, stat_out, VIV_WASI_FDSTAT_SIZE);
    if (p == NULL)
        return VIV_WASI_EFAULT;
    memset(p, 0, VIV_WASI_FDSTAT_SIZE);
    viv_put_u8(p + VIV_WASI_FDSTAT_FILETYPE, fd_filetype(f));
    viv_put_u16(p + VIV_WASI_FDSTAT_FLAGS, f->fdflags);
    viv_put_u64(p + VIV_WASI_FDSTAT_RIGHTS, f->rights_base);
    viv_put_u64(p + VIV_WASI_FDSTAT_INHERIT, f->rights_inheriting);
    return VIV_WASI_ESUCCESS;
}

uint32_t viv_wasi_fd_fdstat_set_flags(viv_wasi *w, uint32_t fd, uint32_t flags)
{
    viv_fd *f = viv_fd_get(w, fd);
    if (f == NULL)
        return VIV_WASI_EBADF;
    /* Linux cannot change the sync flags after open; nonblock means nothing
     * for the files and in-memory streams we hand out, so it is accepted. */
    if (flags & ~(uint32_t)(VIV_WASI_FDFLAG_APPEND | VIV_WASI_FDFLAG_NONBLOCK))
        return VIV_WASI_ENOTSUP;
    if (f->kind == VIV_FD_FILE) {
        bool append = flags & VIV_WASI_FDFLAG_APPEND;
        if (append && f->readonly)
            return viv_refuse_readonly_fd(w, fd);
        int fl = fcntl(f->host, F_GETFL);
        if (fl < 0)
            return viv_errno_from_host(errno);
        fl = append ? (fl | O_APPEND) : (fl & ~O_APPEND);
        if (fcntl(f->host, F_SETFL, fl) != 0)
            return viv_errno_from_host(errno);
    } else if (flags & VIV_WASI_FDFLAG_APPEND) {
        if (f->kind != VIV_FD_STDOUT && f->kind != VIV_FD_STDERR)
            return VIV_WASI_EINVAL;
    }
    f->fdflags =
        (uint16_t)((f->fdflags & ~(VIV_WASI_FDFLAG_APPEND | VIV_WASI_FDFLAG_NONBLOCK)) | flags);
    return VIV_WASI_ESUCCESS;
}

uint32_t viv_wasi_fd_fdstat_set_rights(viv_wasi *w, uint32_t fd, uint64_t base, uint64_t inheriting)
{
    viv_fd *f = viv_fd_get(w, fd);
    if (f == NULL)
        return VIV_WASI_EBADF;
    /* Rights may only shrink. */
    if ((base & ~f->rights_base) || (inheriting & ~f->rights_inheriting))
        return VIV_WASI_ENOTCAPABLE;
    f->rights_base = base;
    f->rights_inheriting = inheriting;
    return VIV_WASI_ESUCCESS;
}

uint32_t viv_wasi_fd_prestat_get(viv_wasi *w, uint32_t fd, uint32_t prestat_out)
{
    viv_fd *f = viv_fd_get(w, fd);
    /* EBADF for anything that is not a preopen: wasi-libc's startup scan
     * stops at the first EBADF. */
    if (f == NULL || f->kind != VIV_FD_PREOPEN)
        return VIV_WASI_EBADF;
    uint8_t *p = viv_mem(w, prestat_out, VIV_WASI_PRESTAT_SIZE);
    if (p == NULL)
        return VIV_WASI_EFAULT;
    memset(p, 0, VIV_WASI_PRESTAT_SIZE);
    viv_put_u8(p, VIV_WASI_PREOPENTYPE_DIR);
    viv_put_u32(p + 4, (uint32_t)f->preopen_name_len);
    return VIV_WASI_ESUCCESS;
}

uint32_t viv_wasi_fd_prestat_dir_name(viv_wasi *w, uint32_t fd, uint32_t path, uint32_t path_len)
{
    viv_fd *f = viv_fd_get(w, fd);
    if (f == NULL || f->kind != VIV_FD_PREOPEN)
        return VIV_WASI_EBADF;
    if (path_len < f->preopen_name_len)
        return VIV_WASI_ENAMETOOLONG;
    uint8_t *p = viv_mem(w, path, f->preopen_name_len);
    if (p == NULL)
        return VIV_WASI_EFAULT;
    memcpy(p, f->preopen_name, f->preopen_name_len);
    return VIV_WASI_ESUCCESS;
}
