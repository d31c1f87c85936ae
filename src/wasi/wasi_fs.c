/*
 * src/wasi/wasi_fs.c: guest paths, and the calls that act on files as
 * objects rather than byte streams.
 *
 * Owns: confining every guest path beneath its preopen, path_open and all
 * other path_* calls, fd_readdir, fd_filestat_*, and read-only enforcement
 * for all of them.
 *
 * Confinement is the kernel's, not ours: every lookup of a guest path goes
 * through openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS relative to
 * the preopen (or a directory opened beneath it). The kernel then refuses
 * "..", absolute symlinks and relative symlinks that would leave the tree,
 * atomically with the lookup, so there is no string canonicalisation here to
 * get wrong. Calls that act on a final name (unlink, mkdir, rename, symlink,
 * link) resolve the parent that way and then hand the kernel a single
 * component relative to the parent fd; the *at(2) calls used for them never
 * follow a final symlink, so that component cannot lead anywhere either.
 * "." and ".." as final components are answered here, because relative to a
 * parent that is the preopen root ".." would name the directory above it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wasi_internal.h"

/* A guest path copied out of linear memory and NUL-terminated. */
typedef struct gpath {
    char s[PATH_MAX];
    size_t len;
} gpath;

/* A path split into an open parent directory and its final component. The
 * final component keeps any trailing slashes: the kernel gives them their
 * POSIX meaning ("file/" is ENOTDIR) without following anything. */
typedef struct split {
    int parent;       /* O_PATH fd beneath the preopen, or -1 */
    const char *last; /* points into the gpath */
    size_t prefix;    /* bytes of the gpath before `last` */
    int dots;         /* 1 for ".", 2 for "..", else 0 */
} split;

#define SYMLINK_HOPS_MAX 40 /* as the kernel's MAXSYMLINKS */

/* ---- loading and checking guest paths ------------------------------------ */

static uint32_t gpath_load(viv_wasi *w, uint32_t ptr, uint32_t len, gpath *out)
{
    const uint8_t *p = viv_mem(w, ptr, len);
    if (p == NULL)
        return VIV_WASI_EFAULT;
    if (len >= PATH_MAX)
        return VIV_WASI_ENAMETOOLONG;
    if (memchr(p, '\0', len) != NULL)
        return VIV_WASI_EINVAL;
    memcpy(out->s, p, len);
    out->s[len] = '\0';
    out->len = len;
    return VIV_WASI_ESUCCESS;
}

static uint32_t escape(viv_wasi *w, const char *guest_path)
{
    viv_security(w, VIV_WASI_SEC_PATH_ESCAPE, guest_path);
    return VIV_WASI_ENOTCAPABLE;
}

/* Guest paths are relative to a preopen fd; wasi-libc strips the preopen's
 * own prefix, so a leading '/' can only be an attempt to name the host root. */
static uint32_t gpath_check(viv_wasi *w, const gpath *p)
{
    if (p->len == 0)
        return VIV_WASI_ENOENT;
    if (p->s[0] == '/')
        return escape(w, p->s);
    return VIV_WASI_ESUCCESS;
}

/* The fd a path is relative to: a preopen or a directory opened beneath
 * one. */
static uint32_t dir_of(viv_wasi *w, uint32_t fd, viv_fd **out)
{
    viv_fd *f = viv_fd_get(w, fd);
    if (f == NULL)
        return VIV_WASI_EBADF;
    if (f->kind != VIV_FD_PREOPEN && f->kind != VIV_FD_DIR)
        return VIV_WASI_ENOTDIR;
    *out = f;
    return VIV_WASI_ESUCCESS;
}

/* ---- resolution ------------------------------------------------------------ */

static int beneath_open(int dirfd, const char *path, uint64_t flags, uint64_t mode)
{
    struct open_how how = {
        .flags = flags | O_CLOEXEC,
        .mode = mode,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    /* EAGAIN: a concurrent rename raced a ".." walk; the kernel asks us to
     * retry rather than risk a wrong answer. */
    for (int tries = 0;; tries++) {
        long r = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
        if (r >= 0)
            return (int)r;
        if ((errno == EAGAIN || errno == EINTR) && tries < 16)
            continue;
        return -1;
    }
}

/* Host errno of a failed beneath_open, as the guest should see it. EXDEV is
 * the kernel's way of saying "this would leave the tree". */
static uint32_t resolve_error(viv_wasi *w, const char *guest_path, int e)
{
    if (e == EXDEV)
        return escape(w, guest_path);
    return viv_errno_from_host(e);
}

/* Open the object a whole guest path names, beneath `dir`. */
static uint32_t resolve_full(viv_wasi *w, const viv_fd *dir, const gpath *p, uint64_t flags,
                             uint64_t mode, bool follow, int *out)
{
    uint32_t e = gpath_check(w, p);
    if (e != 0)
        return e;
    int fd = beneath_open(dir->host, p->s, flags | (follow ? 0 : O_NOFOLLOW), mode);
    if (fd < 0)
        return resolve_error(w, p->s, errno);
    *out = fd;
    return VIV_WASI_ESUCCESS;
}

static void split_close(split *sp)
{
    if (sp->parent >= 0)
        close(sp->parent);
    sp->parent = -1;
}

/* Split a guest path and open its parent beneath `dir`. When the final
 * component is "." or "..", sp->dots says which and no parent is opened:
 * callers answer those themselves (after we made sure the path as a whole
 * stays beneath the preopen, so an escape is still reported as one). */
static uint32_t resolve_parent(viv_wasi *w, const viv_fd *dir, const gpath *p, split *sp)
{
    sp->parent = -1;
    sp->dots = 0;
    uint32_t e = gpath_check(w, p);
    if (e != 0)
        return e;

    size_t end = p->len;
    while (end > 0 && p->s[end - 1] == '/')
        end--; /* end > 0: the path does not start with '/' */
    size_t start = end;
    while (start > 0 && p->s[start - 1] != '/')
        start--;
    sp->last = p->s + start;
    sp->prefix = start;
    size_t core = end - start;
    if (core == 1 && p->s[start] == '.')
        sp->dots = 1;
    else if (core == 2 && p->s[start] == '.' && p->s[start + 1] == '.')
        sp->dots = 2;

    if (sp->dots) {
        int fd = beneath_open(dir->host, p->s, O_PATH, 0);
        if (fd < 0)
            return resolve_error(w, p->s, errno);
        close(fd);
        return VIV_WASI_ESUCCESS;
    }

    char parent[PATH_MAX];
    if (start == 0) {
        parent[0] = '.';
        parent[1] = '\0';
    } else {
        memcpy(parent, p->s, start);
        parent[start] = '\0';
    }
    sp->parent = beneath_open(dir->host, parent, O_PATH | O_DIRECTORY, 0);
    if (sp->parent < 0)
        return resolve_error(w, p->s, errno);
    return VIV_WASI_ESUCCESS;
}

/* ---- stat ------------------------------------------------------------------ */

static void put_filestat(uint8_t *p, const struct stat *st)
{
    memset(p, 0, VIV_WASI_FILESTAT_SIZE);
    viv_put_u64(p + VIV_WASI_FILESTAT_DEV, (uint64_t)st->st_dev);
    viv_put_u64(p + VIV_WASI_FILESTAT_INO, (uint64_t)st->st_ino);
    viv_put_u8(p + VIV_WASI_FILESTAT_FILETYPE, viv_filetype_from_mode(st->st_mode));
    viv_put_u64(p + VIV_WASI_FILESTAT_NLINK, (uint64_t)st->st_nlink);
    viv_put_u64(p + VIV_WASI_FILESTAT_SIZE_, st->st_size < 0 ? 0 : (uint64_t)st->st_size);
    viv_put_u64(p + VIV_WASI_FILESTAT_ATIM, viv_timespec_ns(&st->st_atim));
    viv_put_u64(p + VIV_WASI_FILESTAT_MTIM, viv_timespec_ns(&st->st_mtim));
    viv_put_u64(p + VIV_WASI_FILESTAT_CTIM, viv_timespec_ns(&st->st_ctim));
}

static uint32_t times_from_flags(uint64_t atim, uint64_t mtim, uint32_t fst, struct timespec ts[2])
{
    if (((fst & VIV_WASI_FST_ATIM) && (fst & VIV_WASI_FST_ATIM_NOW)) ||
        ((fst & VIV_WASI_FST_MTIM) && (fst & VIV_WASI_FST_MTIM_NOW)) || (fst & ~15u))
        return VIV_WASI_EINVAL;
    const uint64_t in[2] = {atim, mtim};
    const uint32_t set[2] = {VIV_WASI_FST_ATIM, VIV_WASI_FST_MTIM};
    const uint32_t now[2] = {VIV_WASI_FST_ATIM_NOW, VIV_WASI_FST_MTIM_NOW};
    for (int i = 0; i < 2; i++) {
        ts[i].tv_sec = 0;
        if (fst & now[i]) {
            ts[i].tv_nsec = UTIME_NOW;
        } else if (fst & set[i]) {
            ts[i].tv_sec = (time_t)(in[i] / 1000000000u);
            ts[i].tv_nsec = (long)(in[i] % 1000000000u);
        } else {
            ts[i].tv_nsec = UTIME_OMIT;
        }
    }
    return VIV_WASI_ESUCCESS;
}

uint32_t viv_wasi_fd_filestat_get(viv_wasi *w, uint32_t fd, uint32_t stat_out)
{
    viv_fd *f = viv_fd_get(w, fd);
    if (f == NULL)
        return VIV_WASI_EBADF;
    uint8_t *p = viv_mem(w, stat_out, VIV_WASI_FILESTAT_SIZE);
    if (p == NULL)
        return VIV_WASI_EFAULT;
    if (f->host < 0) {
        /* In-memory stdio: nothing on the host to describe. */
        memset(p, 0, VIV_WASI_FILESTAT_SIZE);
        viv_put_u64(p + VIV_WASI_FILESTAT_NLINK, 1);
        return VIV_WASI_ESUCCESS;
    }
    struct stat st;
    if (fstat(f->host, &st) != 0)
        return viv_errno_from_host(errno);
    put_filestat(p, &st);
    return VIV_WASI_ESUCCESS;
}

uint32_t viv_wasi_fd_filestat_set_size(viv_wasi *w, uint32_t fd, uint64_t size)
{
    viv_fd *f = viv_fd_get(w, fd);
    if (f == NULL)
        return VIV_WASI_EBADF;
    if (f->kind != VIV_FD_FILE)
        return f->host < 0 ? VIV_WASI_EINVAL : VIV_WASI_EISDIR;
    if (f->readonly)
        return viv_refuse_readonly_fd(w, fd);
    if (size > INT64_MAX)
        return VIV_WASI_EFBIG;
    if (ftruncate(f->host, (off_t)size) != 0)
        return viv_errno_from_host(errno);
    return VIV_WASI_ESUCCESS;
}

uint32_t viv_wasi_fd_filestat_set_times(viv_wasi *w, uint32_t fd, uint64_t atim, uint64_t mtim,
                                        uint32_t fst_flags)
{
    viv_fd *f = viv_fd_get(w, fd);
    if (f == NULL)
        return VIV_WASI_EBADF;
    if (f->host < 0)
        return VIV_WASI_EBADF;
    if (f->readonly)
        return viv_refuse_readonly_fd(w, fd);
    struct timespec ts[2];
    uint32_t e = times_from_flags(atim, mtim, fst_flags, ts);
    if (e != 0)
        return e;
    if (futimens(f->host, ts) != 0)
        return viv_errno_from_host(errno);
    return VIV_WASI_ESUCCESS;
}

uint32_t viv_wasi_path_filestat_get(viv_wasi *w, uint32_t fd, uint32_t flags, uint32_t path,
                                    uint32_t path_len, uint32_t stat_out)
{
    viv_fd *dir;
    gpath p;
    uint32_t e = dir_of(w, fd, &dir);
    if (e == 0)
        e = gpath_load(w, path, path_len, &p);
    if (e != 0)
        return e;
    uint8_t *out = viv_mem(w, stat_out, VIV_WASI_FILESTAT_SIZE);
    if (out == NULL)
        return VIV_WASI_EFAULT;
    int h;
    /* O_PATH|O_NOFOLLOW yields the symlink itself: fstat on it is lstat. */
    e = resolve_full(w, dir, &p, O_PATH, 0, flags & VIV_WASI_LOOKUP_SYMLINK_FOLLOW, &h);
    if (e != 0)
        return e;
    struct stat st;
    int r = fstat(h, &st);
    int saved = errno;
    close(h);
    if (r != 0)
        return viv_errno_from_host(saved);
    put_filestat(out, &st);
    return VIV_WASI_ESUCCESS;
}

uint32_t viv_wasi_path_filestat_set_times(viv_wasi *w, uint32_t fd, uint32_t flags, uint32_t path,
                                          uint32_t path_len, uint64_t atim, uint64_t mtim,
                                          uint32_t fst_flags)
{
    viv_fd *dir;
    gpath p;
    uint32_t e = dir_of(w, fd, &dir);
    if (e == 0)
        e = gpath_load(w, path, path_len, &p);
    if (e != 0)
        return e;
    if (dir->readonly)
        return viv_refuse_readonly(w, p.s);
    struct timespec ts[2];
    e = times_from_flags(atim, mtim, fst_flags, ts);
    if (e != 0)
        return e;
    bool follow = flags & VIV_WASI_LOOKUP_SYMLINK_FOLLOW;
    int h;
    e = resolve_full(w, dir, &p, O_PATH, 0, follow, &h);
    if (e != 0)
        return e;
    int r = utimensat(h, "", ts, AT_EMPTY_PATH | (follow ? 0 : AT_SYMLINK_NOFOLLOW));
    int saved = errno;
    close(h);
    return r == 0 ? VIV_WASI_ESUCCESS : viv_errno_from_host(saved);
}

/* ---- path_open --------------------------------------------------------------- */

#define WRITE_RIGHTS                                                                               \
    (VIV_WASI_RIGHT_FD_WRITE | VIV_WASI_RIGHT_FD_ALLOCATE | VIV_WASI_RIGHT_FD_FILESTAT_SET_SIZE)
#define READ_RIGHTS (VIV_WASI_RIGHT_FD_READ | VIV_WASI_RIGHT_FD_READDIR)

uint32_t viv_wasi_path_open(viv_wasi *w, uint32_t dirfd, uint32_t dirflags, uint32_t path,
                            uint32_t path_len, uint32_t oflags, uint64_t rights_base,
                            uint64_t rights_inheriting, uint32_t fdflags, uint32_t fd_out)
{
    viv_fd *dir;
    gpath p;
    uint32_t e = dir_of(w, dirfd, &dir);
    if (e == 0)
        e = gpath_load(w, path, path_len, &p);
    if (e != 0)
        return e;
    if (viv_mem(w, fd_out, 4) == NULL)
        return VIV_WASI_EFAULT;
    if (oflags & ~15u)
        return VIV_WASI_EINVAL;
    if (fdflags & ~31u)
        return VIV_WASI_EINVAL;

    bool want_write = rights_base & WRITE_RIGHTS;
    bool want_read = rights_base & READ_RIGHTS;
    if (dir->readonly && ((oflags & (VIV_WASI_O_CREAT | VIV_WASI_O_TRUNC | VIV_WASI_O_EXCL)) ||
                          want_write || (fdflags & VIV_WASI_FDFLAG_APPEND)))
        return viv_refuse_readonly(w, p.s);

    int slot = viv_fd_alloc(w);
    if (slot < 0)
        return VIV_WASI_EMFILE;

    /* O_NONBLOCK until we have seen what we opened: opening a FIFO would
     * otherwise wait for a writer forever. Never O_PATH: the guest gets a
     * real fd that can be read (or listed, for a directory). */
    uint64_t flags = O_NOCTTY | O_NONBLOCK;
    flags |= want_write ? (want_read ? O_RDWR : O_WRONLY) : O_RDONLY;
    if (oflags & VIV_WASI_O_CREAT)
        flags |= O_CREAT;
    if (oflags & VIV_WASI_O_EXCL)
        flags |= O_EXCL;
    if (oflags & VIV_WASI_O_TRUNC)
        flags |= O_TRUNC;
    if (oflags & VIV_WASI_O_DIRECTORY)
        flags |= O_DIRECTORY;
    if (fdflags & VIV_WASI_FDFLAG_APPEND)
        flags |= O_APPEND;
    if (fdflags & VIV_WASI_FDFLAG_DSYNC)
        flags |= O_DSYNC;
    if (fdflags & VIV_WASI_FDFLAG_RSYNC)
        flags |= O_RSYNC;
    if (fdflags & VIV_WASI_FDFLAG_SYNC)
        flags |= O_SYNC;
    uint64_t mode = (oflags & VIV_WASI_O_CREAT) ? 0644 : 0;

    int h;
    e = resolve_full(w, dir, &p, flags, mode, dirflags & VIV_WASI_LOOKUP_SYMLINK_FOLLOW, &h);
    if (e != 0)
        return e;
    struct stat st;
    if (fstat(h, &st) != 0) {
        int saved = errno;
        close(h);
        return viv_errno_from_host(saved);
    }
    viv_fd_kind kind;
    if (S_ISREG(st.st_mode))
        kind = VIV_FD_FILE;
    else if (S_ISDIR(st.st_mode))
        kind = VIV_FD_DIR;
    else {
        /* FIFOs, devices, sockets: nothing a sandboxed program needs, and
         * each has blocking or side-effect semantics we do not model. */
        close(h);
        return VIV_WASI_ENOTSUP;
    }
    int fl = fcntl(h, F_GETFL);
    if (fl < 0 || fcntl(h, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int saved = errno;
        close(h);
        return viv_errno_from_host(saved);
    }

    viv_fd *f = &w->fds[slot];
    f->kind = kind;
    f->host = h;
    f->readonly = dir->readonly;
    f->fdflags = (uint16_t)fdflags;
    f->rights_base = rights_base & viv_wasi_rights_for(kind, dir->readonly);
    f->rights_inheriting = rights_inheriting & VIV_WASI_RIGHTS_ALL;
    e = viv_store_u32(w, fd_out, (uint32_t)slot);
    if (e != 0) { /* checked above; only if memory changed under us */
        close(h);
        memset(f, 0, sizeof *f);
        f->kind = VIV_FD_FREE;
        f->host = -1;
    }
    return e;
}

/* ---- operations on a final name ------------------------------------------ */

/* The directory that will hold a new or removed name, for the calls that
 * change a directory: read-only mounts refuse before anything is resolved. */
static uint32_t writable_parent(viv_wasi *w, uint32_t fd, uint32_t path, uint32_t path_len,
                                gpath *p, split *sp)
{
    viv_fd *dir;
    uint32_t e = dir_of(w, fd, &dir);
    if (e == 0)
        e = gpath_load(w, path, path_len, p);
    if (e != 0)
        return e;
    if (dir->readonly)
        return viv_refuse_readonly(w, p->s);
    return resolve_parent(w, dir, p, sp);
}

uint32_t viv_wasi_path_create_directory(viv_wasi *w, uint32_t fd, uint32_t path, uint32_t path_len)
{
    gpath p;
    split sp;
    uint32_t e = writable_parent(w, fd, path, path_len, &p, &sp);
    if (e != 0)
        return e;
    if (sp.dots)
        return VIV_WASI_EEXIST;
    int r = mkdirat(sp.parent, sp.last, 0755);
    int saved = errno;
    split_close(&sp);
    return r == 0 ? VIV_WASI_ESUCCESS : viv_errno_from_host(saved);
}

static uint32_t remove_common(viv_wasi *w, uint32_t fd, uint32_t path, uint32_t path_len,
                              bool is_dir)
{
    gpath p;
    split sp;
    uint32_t e = writable_parent(w, fd, path, path_len, &p, &sp);
    if (e != 0)
        return e;
    if (sp.dots) /* what Linux answers for rmdir/unlink of "." and ".." */
        return !is_dir ? VIV_WASI_EISDIR : sp.dots == 1 ? VIV_WASI_EINVAL : VIV_WASI_ENOTEMPTY;
    int r = unlinkat(sp.parent, sp.last, is_dir ? AT_REMOVEDIR : 0);
    int saved = errno;
    split_close(&sp);
    return r == 0 ? VIV_WASI_ESUCCESS : viv_errno_from_host(saved);
}

uint32_t viv_wasi_path_unlink_file(viv_wasi *w, uint32_t fd, uint32_t path, uint32_t path_len)
{
    return remove_common(w, fd, path, path_len, false);
}

uint32_t viv_wasi_path_remove_directory(viv_wasi *w, uint32_t fd, uint32_t path, uint32_t path_len)
{
    return remove_common(w, fd, path, path_len, true);
}

/* The two directories and two guest paths that rename and link take. */
static uint32_t load_pair(viv_wasi *w, uint32_t fd1, uint32_t path1, uint32_t len1, uint32_t fd2,
                          uint32_t path2, uint32_t len2, viv_fd **dir1, viv_fd **dir2, gpath *p1,
                          gpath *p2)
{
    uint32_t e = dir_of(w, fd1, dir1);
    if (e == 0)
        e = dir_of(w, fd2, dir2);
    if (e == 0)
        e = gpath_load(w, path1, len1, p1);
    if (e == 0)
        e = gpath_load(w, path2, len2, p2);
    return e;
}

uint32_t viv_wasi_path_rename(viv_wasi *w, uint32_t fd, uint32_t old_path, uint32_t old_path_len,
                              uint32_t new_fd, uint32_t new_path, uint32_t new_path_len)
{
    viv_fd *od, *nd;
    gpath *op = malloc(2 * sizeof *op), *np;
    if (op == NULL)
        return VIV_WASI_ENOMEM;
    np = op + 1;
    split os = {.parent = -1}, ns = {.parent = -1};
    uint32_t e =
        load_pair(w, fd, old_path, old_path_len, new_fd, new_path, new_path_len, &od, &nd, op, np);
    if (e != 0)
        goto out;
    if (od->readonly || nd->readonly) {
        e = viv_refuse_readonly(w, od->readonly ? op->s : np->s);
        goto out;
    }
    e = resolve_parent(w, od, op, &os);
    if (e == 0)
        e = resolve_parent(w, nd, np, &ns);
    if (e != 0)
        goto out;
    if (os.dots || ns.dots) {
        e = VIV_WASI_EBUSY;
        goto out;
    }
    if (renameat(os.parent, os.last, ns.parent, ns.last) != 0)
        e = viv_errno_from_host(errno);
out:
    split_close(&os);
    split_close(&ns);
    free(op);
    return e;
}

/* ---- symlinks -------------------------------------------------------------- */

/* Does the link target name ".." anywhere? A target's meaning depends on
 * where the link lives and on other links (one to "." makes "s/s/../.." climb
 * as far as it likes), and a link can be renamed after it is made, so no
 * count of levels at creation time is safe. Links free of ".." and of a
 * leading "/" can only ever name things beneath their own directory. */
static bool target_has_dotdot(const char *target)
{
    const char *s = target;
    while (*s != '\0') {
        while (*s == '/')
            s++;
        const char *c = s;
        while (*s != '\0' && *s != '/')
            s++;
        if (s - c == 2 && c[0] == '.' && c[1] == '.')
            return true;
    }
    return false;
}

uint32_t viv_wasi_path_symlink(viv_wasi *w, uint32_t old_path, uint32_t old_path_len, uint32_t fd,
                               uint32_t new_path, uint32_t new_path_len)
{
    viv_fd *dir;
    gpath *target = malloc(2 * sizeof *target), *np;
    if (target == NULL)
        return VIV_WASI_ENOMEM;
    np = target + 1;
    split sp = {.parent = -1};
    uint32_t e = dir_of(w, fd, &dir);
    if (e == 0)
        e = gpath_load(w, old_path, old_path_len, target);
    if (e == 0)
        e = gpath_load(w, new_path, new_path_len, np);
    if (e != 0)
        goto out;
    if (dir->readonly) {
        e = viv_refuse_readonly(w, np->s);
        goto out;
    }
    if (target->len == 0) {
        e = VIV_WASI_ENOENT;
        goto out;
    }
    /* Resolution is beneath the preopen whatever a link says, so an escaping
     * link is inert for the guest. We refuse it anyway so that nothing the
     * host later does with this tree can be walked out of it. */
    if (target->s[0] == '/' || target_has_dotdot(target->s)) {
        e = escape(w, target->s);
        goto out;
    }
    e = resolve_parent(w, dir, np, &sp);
    if (e != 0)
        goto out;
    if (sp.dots) {
        e = VIV_WASI_EEXIST;
        goto out;
    }
    if (symlinkat(target->s, sp.parent, sp.last) != 0)
        e = viv_errno_from_host(errno);
out:
    split_close(&sp);
    free(target);
    return e;
}

uint32_t viv_wasi_path_readlink(viv_wasi *w, uint32_t fd, uint32_t path, uint32_t path_len,
                                uint32_t buf, uint32_t buf_len, uint32_t bufused_out)
{
    viv_fd *dir;
    gpath p;
    uint32_t e = dir_of(w, fd, &dir);
    if (e == 0)
        e = gpath_load(w, path, path_len, &p);
    if (e != 0)
        return e;
    uint8_t *out = viv_mem(w, buf, buf_len);
    if (out == NULL || viv_mem(w, bufused_out, 4) == NULL)
        return VIV_WASI_EFAULT;
    int h;
    e = resolve_full(w, dir, &p, O_PATH, 0, false, &h);
    if (e != 0)
        return e;
    struct stat st;
    char target[PATH_MAX];
    ssize_t n = -1;
    int saved = EINVAL;
    if (fstat(h, &st) != 0)
        saved = errno;
    else if (S_ISLNK(st.st_mode)) {
        n = readlinkat(h, "", target, sizeof target);
        saved = errno;
    }
    close(h);
    if (n < 0)
        return viv_errno_from_host(saved);
    /* Truncation is the call's documented behaviour, as readlink(2). */
    size_t used = (size_t)n < buf_len ? (size_t)n : buf_len;
    memcpy(out, target, used);
    return viv_store_u32(w, bufused_out, (uint32_t)used);
}

/* ---- hard links -------------------------------------------------------------- */

/* Find the regular file a link source names, as (parent fd, name), following
 * final symlinks ourselves when asked: linkat's own AT_SYMLINK_FOLLOW would
 * follow them unconfined, and AT_EMPTY_PATH needs privileges we may lack. */
static uint32_t link_source(viv_wasi *w, const viv_fd *dir, gpath *p, bool follow, split *sp)
{
    char link[PATH_MAX];
    for (int hops = 0;; hops++) {
        uint32_t e = resolve_parent(w, dir, p, sp);
        if (e != 0)
            return e;
        if (sp->dots)
            return VIV_WASI_EPERM; /* a directory */
        if (sp->last[strcspn(sp->last, "/")] == '/') {
            /* "name/": only a directory could match, and those cannot be
             * linked. Resolve it confined (a trailing slash makes the kernel
             * follow a final symlink) to give the error it would. */
            split_close(sp);
            int h = beneath_open(dir->host, p->s, O_PATH, 0);
            if (h < 0)
                return resolve_error(w, p->s, errno);
            close(h);
            return VIV_WASI_EPERM;
        }
        struct stat st;
        if (fstatat(sp->parent, sp->last, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            int saved = errno;
            split_close(sp);
            return viv_errno_from_host(saved);
        }
        if (S_ISREG(st.st_mode))
            return VIV_WASI_ESUCCESS;
        if (!S_ISLNK(st.st_mode) || !follow) {
            split_close(sp);
            return VIV_WASI_EPERM;
        }
        if (hops >= SYMLINK_HOPS_MAX) {
            split_close(sp);
            return VIV_WASI_ELOOP;
        }
        ssize_t n = readlinkat(sp->parent, sp->last, link, sizeof link - 1);
        int saved = errno;
        size_t prefix = sp->prefix;
        split_close(sp);
        if (n < 0)
            return viv_errno_from_host(saved);
        link[n] = '\0';
        if (n == 0)
            return VIV_WASI_ENOENT;
        if (link[0] == '/')
            return escape(w, p->s);
        /* Replace the final component by the link text and go round again:
         * the next resolve_parent confines the result. */
        if (prefix + (size_t)n >= sizeof p->s)
            return VIV_WASI_ENAMETOOLONG;
        memcpy(p->s + prefix, link, (size_t)n + 1);
        p->len = prefix + (size_t)n;
    }
}

uint32_t viv_wasi_path_link(viv_wasi *w, uint32_t old_fd, uint32_t old_flags, uint32_t old_path,
                            uint32_t old_path_len, uint32_t new_fd, uint32_t new_path,
                            uint32_t new_path_len)
{
    viv_fd *od, *nd;
    gpath *op = malloc(2 * sizeof *op), *np;
    if (op == NULL)
        return VIV_WASI_ENOMEM;
    np = op + 1;
    split os = {.parent = -1}, ns = {.parent = -1};
    uint32_t e = load_pair(w, old_fd, old_path, old_path_len, new_fd, new_path, new_path_len, &od,
                           &nd, op, np);
    if (e != 0)
        goto out;
    /* A link out of a read-only mount would make its file writable through
     * the new name, so the source side counts as a write too. */
    if (od->readonly || nd->readonly) {
        e = viv_refuse_readonly(w, nd->readonly ? np->s : op->s);
        goto out;
    }
    e = link_source(w, od, op, old_flags & VIV_WASI_LOOKUP_SYMLINK_FOLLOW, &os);
    if (e == 0)
        e = resolve_parent(w, nd, np, &ns);
    if (e != 0)
        goto out;
    if (ns.dots) {
        e = VIV_WASI_EEXIST;
        goto out;
    }
    if (linkat(os.parent, os.last, ns.parent, ns.last, 0) != 0)
        e = viv_errno_from_host(errno);
out:
    split_close(&os);
    split_close(&ns);
    free(op);
    return e;
}

/* ---- fd_readdir -------------------------------------------------------------- */

/* Cookies are the kernel's own directory offsets (d_off from getdents64,
 * what telldir returns): entry i's d_next is the offset just past it, and
 * resuming is one lseek. Nothing is cached between calls, so a guest cannot
 * grow host state by listing, and any cookie it invents is merely a position
 * the kernel validates. */

struct host_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static uint8_t dtype_to_wasi(int dirfd, const char *name, unsigned char t)
{
    switch (t) {
    case DT_REG:
        return VIV_WASI_FILETYPE_REGULAR_FILE;
    case DT_DIR:
        return VIV_WASI_FILETYPE_DIRECTORY;
    case DT_LNK:
        return VIV_WASI_FILETYPE_SYMBOLIC_LINK;
    case DT_CHR:
        return VIV_WASI_FILETYPE_CHARACTER_DEVICE;
    case DT_BLK:
        return VIV_WASI_FILETYPE_BLOCK_DEVICE;
    case DT_SOCK:
        return VIV_WASI_FILETYPE_SOCKET_STREAM;
    case DT_UNKNOWN: {
        /* Some file systems do not fill d_type. One component relative to
         * the directory itself, not followed: cannot leave it. */
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            return viv_filetype_from_mode(st.st_mode);
        return VIV_WASI_FILETYPE_UNKNOWN;
    }
    default:
        return VIV_WASI_FILETYPE_UNKNOWN;
    }
}

uint32_t viv_wasi_fd_readdir(viv_wasi *w, uint32_t fd, uint32_t buf, uint32_t buf_len,
                             uint64_t cookie, uint32_t bufused_out)
{
    viv_fd *f = viv_fd_get(w, fd);
    if (f == NULL)
        return VIV_WASI_EBADF;
    if (f->kind != VIV_FD_PREOPEN && f->kind != VIV_FD_DIR)
        return f->host < 0 ? VIV_WASI_EBADF : VIV_WASI_ENOTDIR;
    uint8_t *out = viv_mem(w, buf, buf_len);
    if (out == NULL || viv_mem(w, bufused_out, 4) == NULL)
        return VIV_WASI_EFAULT;
    if (cookie > INT64_MAX)
        return VIV_WASI_EINVAL;
    if (lseek(f->host, (off_t)cookie, SEEK_SET) < 0)
        return viv_errno_from_host(errno);

    /* 8 KiB of host entries per getdents64; aligned for the record layout. */
    _Alignas(8) char hbuf[8192];
    uint32_t used = 0;
    while (used < buf_len) {
        ssize_t n = getdents64(f->host, hbuf, sizeof hbuf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return viv_errno_from_host(errno);
        }
        if (n == 0)
            break; /* end of directory */
        for (ssize_t off = 0; off < n && used < buf_len;) {
            struct host_dirent64 *d = (struct host_dirent64 *)(hbuf + off);
            off += d->d_reclen;
            size_t namlen = strlen(d->d_name);
            uint8_t hdr[VIV_WASI_DIRENT_SIZE];
            memset(hdr, 0, sizeof hdr);
            viv_put_u64(hdr + VIV_WASI_DIRENT_NEXT, (uint64_t)d->d_off);
            viv_put_u64(hdr + VIV_WASI_DIRENT_INO, d->d_ino);
            viv_put_u32(hdr + VIV_WASI_DIRENT_NAMLEN, (uint32_t)namlen);
            viv_put_u8(hdr + VIV_WASI_DIRENT_TYPE, dtype_to_wasi(f->host, d->d_name, d->d_type));
            /* An entry that does not fit is written truncated and fills the
             * buffer: the guest sees bufused == buf_len, knows the last
             * entry is partial, and asks again from the previous d_next
             * with a bigger buffer. */
            size_t room = buf_len - used;
            size_t h = room < sizeof hdr ? room : sizeof hdr;
            memcpy(out + used, hdr, h);
            used += (uint32_t)h;
            room -= h;
            size_t m = room < namlen ? room : namlen;
            memcpy(out + used, d->d_name, m);
            used += (uint32_t)m;
        }
    }
    return viv_store_u32(w, bufused_out, used);
}
