/*
 * src/session/files.c: the host's file operations on a session workspace
 * (files, read, write, delete).
 *
 * Owns: checking and confining the relative paths callers pass, and doing
 * each operation without ever leaving the workspace.
 *
 * A workspace is written by an untrusted guest, so a host path into it is
 * treated exactly like a guest path. The string is checked first, only to
 * give a clear error (absolute, "..", empty); the confinement itself is the
 * kernel's: the workspace directory is opened by fd and every lookup below
 * it goes through openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
 * which fails with EXDEV for anything (a "..", an absolute or an escaping
 * relative symlink) that would leave it, atomically with the lookup.
 * Symlinks that stay inside are followed for reads and for parent
 * directories; the final component of a write or delete is never followed:
 * writing to a symlink is refused, deleting one removes the link.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "policy.h"
#include "session_internal.h"

static viv_status oom(viv_error *err)
{
    return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
}

/* ---- paths ---------------------------------------------------------------- */

/* A checked path: "a/./b//c/" becomes clean "a/b/c", with its parent
 * ("a/b", or NULL for the workspace itself) and its final name ("c"). */
typedef struct relpath {
    char *clean;
    char *parent;     /* a separate, writable copy, or NULL */
    const char *last; /* points into clean */
} relpath;

static void relpath_free(relpath *rp)
{
    free(rp->clean);
    free(rp->parent);
    memset(rp, 0, sizeof *rp);
}

/* Paths appear in messages only through this (see viv_session_printable);
 * err->path keeps them exactly as given. */
typedef struct shown {
    char s[204];
} shown;

static const char *show(const char *path, shown *buf)
{
    return viv_session_printable(path, buf->s, sizeof buf->s);
}

static viv_status bad_path(viv_error *err, const char *path, const char *why)
{
    shown sh;
    return viv_error_set(err, VIV_EINVAL, "path", path, "refusing path \"%s\": %s", show(path, &sh),
                         why);
}

/* C strings cannot carry a NUL, so an embedded one simply ends the path
 * here; callers holding lengths must check for it before calling us. */
static viv_status relpath_check(const char *path, relpath *rp, viv_error *err)
{
    memset(rp, 0, sizeof *rp);
    if (path == NULL)
        return viv_error_set(err, VIV_EINVAL, "path", NULL, "path must not be NULL");
    size_t len = strlen(path);
    if (len == 0)
        return bad_path(err, path, "empty path");
    if (len >= PATH_MAX)
        return bad_path(err, path, "path too long");
    if (path[0] == '/')
        return bad_path(err, path,
                        "absolute paths are not allowed; paths are relative to the "
                        "workspace");
    char *clean = malloc(len + 1);
    if (clean == NULL)
        return oom(err);
    size_t out = 0, last = 0;
    const char *p = path;
    while (*p != '\0') {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            free(clean);
            return bad_path(err, path, "\"..\" is not allowed in workspace paths");
        }
        if (n > NAME_MAX) {
            free(clean);
            return bad_path(err, path, "a path component is longer than NAME_MAX");
        }
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (out > 0)
                clean[out++] = '/';
            last = out;
            memcpy(clean + out, p, n);
            out += n;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    if (out == 0) {
        free(clean);
        return bad_path(err, path, "the path names the workspace itself");
    }
    clean[out] = '\0';
    if (last > 0) {
        rp->parent = strndup(clean, last - 1);
        if (rp->parent == NULL) {
            free(clean);
            return oom(err);
        }
    }
    rp->clean = clean;
    rp->last = clean + last;
    return VIV_OK;
}

/* openat2 beneath dirfd. EAGAIN is the kernel asking for a retry after a
 * concurrent rename raced the lookup. */
static int beneath(int dirfd, const char *path, uint64_t flags, uint64_t mode)
{
    struct open_how how = {
        .flags = flags | O_CLOEXEC,
        .mode = mode,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    for (int tries = 0;; tries++) {
        long r = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
        if (r >= 0)
            return (int)r;
        if ((errno == EAGAIN || errno == EINTR) && tries < 16)
            continue;
        return -1;
    }
}

/* A failed lookup of `path` as the caller should see it. */
static viv_status resolve_fail(viv_error *err, const char *path, int e)
{
    shown sh;
    switch (e) {
    case EXDEV:
        return bad_path(err, path, "it leads outside the workspace (through a symlink)");
    case ELOOP:
        return bad_path(err, path, "too many symlinks, or a symlink where none may be");
    case ENOTDIR:
        return bad_path(err, path, "a parent component is not a directory");
    case ENAMETOOLONG:
        return bad_path(err, path, "path too long");
    case ENOENT:
        return viv_error_set(err, VIV_ENOENT, "path", path, "no such file or directory: %s",
                             show(path, &sh));
    case ENOMEM:
        return oom(err);
    case ENOSYS:
        return viv_error_set(err, VIV_EHOST, NULL, path,
                             "openat2(2) is unavailable (Linux 5.6 or later is required)");
    default:
        break;
    }
    return viv_error_set(err, VIV_EHOST, "path", path, "%s: %s", show(path, &sh), strerror(e));
}

/* The directory a checked path's final name lives in (a new fd). */
static viv_status open_parent(int wsfd, const relpath *rp, const char *path, int *out,
                              viv_error *err)
{
    int fd = beneath(wsfd, rp->parent ? rp->parent : ".", O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return resolve_fail(err, path, errno);
    *out = fd;
    return VIV_OK;
}

static viv_status open_ws(viv_session_store *store, const char *id, int *wsfd, viv_error *err)
{
    if (store == NULL)
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "store must not be NULL");
    viv_status st = viv_session_check_id(id, err);
    if (st != VIV_OK)
        return st;
    return viv_session_open_workspace(store, id, wsfd, err);
}

/* ---- files ---------------------------------------------------------------- */

typedef struct strvec {
    char **v;
    size_t n, cap;
} strvec;

void viv_strings_free(char **strings, size_t count)
{
    if (strings == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(strings[i]);
    free(strings);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect the regular files beneath fd (consumed), whose path relative to
 * the workspace is prefix ("" at the top). Symlinks are neither listed nor
 * entered. */
static viv_status walk(int fd, const char *prefix, unsigned depth, const char *pattern, strvec *out,
                       viv_error *err)
{
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int e = errno;
        close(fd);
        return e == ENOMEM ? oom(err)
                           : viv_error_set(err, VIV_EHOST, NULL, prefix,
                                           "cannot read directory: %s", strerror(e));
    }
    viv_status st = VIV_OK;
    size_t plen = strlen(prefix);
    while (st == VIV_OK) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            if (errno != 0)
                st = viv_error_set(err, VIV_EHOST, NULL, prefix, "cannot read directory: %s",
                                   strerror(errno));
            break;
        }
        const char *name = e->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        unsigned char type = e->d_type;
        if (type == DT_UNKNOWN) {
            struct stat sb;
            if (fstatat(dirfd(d), name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
                continue; /* removed while we looked */
            type = S_ISREG(sb.st_mode) ? DT_REG : S_ISDIR(sb.st_mode) ? DT_DIR : DT_LNK;
        }
        if (type != DT_REG && type != DT_DIR)
            continue;
        size_t nlen = strlen(name);
        char *path = malloc(plen + 1 + nlen + 1);
        if (path == NULL) {
            st = oom(err);
            break;
        }
        if (plen > 0) {
            memcpy(path, prefix, plen);
            path[plen] = '/';
            memcpy(path + plen + 1, name, nlen + 1);
        } else {
            memcpy(path, name, nlen + 1);
        }
        if (type == DT_DIR) {
            if (depth + 1 > VIV_SESSION_MAX_DEPTH) {
                st = viv_error_set(err, VIV_EINVAL, NULL, path,
                                   "the workspace is nested deeper than %d directories",
                                   VIV_SESSION_MAX_DEPTH);
            } else {
                int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0)
                    st = walk(sub, path, depth + 1, pattern, out, err);
                else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
                    st = viv_error_set(err, VIV_EHOST, NULL, path, "cannot open directory: %s",
                                       strerror(errno));
            }
            free(path);
            continue;
        }
        if (pattern != NULL && fnmatch(pattern, path, FNM_PATHNAME) != 0) {
            free(path);
            continue;
        }
        if (out->n >= VIV_SESSION_MAX_FILES) {
            free(path);
            st = viv_error_set(err, VIV_EINVAL, NULL, NULL, "too many files: more than %d match",
                               VIV_SESSION_MAX_FILES);
            break;
        }
        if (out->n == out->cap) {
            size_t ncap = out->cap ? out->cap * 2 : 64;
            char **nv = realloc(out->v, ncap * sizeof *nv);
            if (nv == NULL) {
                free(path);
                st = oom(err);
                break;
            }
            out->v = nv;
            out->cap = ncap;
        }
        out->v[out->n++] = path;
    }
    closedir(d);
    return st;
}

viv_status viv_session_files(viv_session_store *store, const char *id, const char *pattern,
                             char ***paths, size_t *count, viv_error *err)
{
    if (paths == NULL || count == NULL)
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "paths and count must not be NULL");
    *paths = NULL;
    *count = 0;
    int wsfd;
    viv_status st = open_ws(store, id, &wsfd, err);
    if (st != VIV_OK)
        return st;
    strvec v = {0};
    st = walk(wsfd, "", 0, pattern, &v, err);
    if (st != VIV_OK) {
        viv_strings_free(v.v, v.n);
        return st;
    }
    if (v.n > 1)
        qsort(v.v, v.n, sizeof *v.v, str_cmp);
    *paths = v.v;
    *count = v.n;
    return VIV_OK;
}

/* ---- read ----------------------------------------------------------------- */

viv_status viv_session_read(viv_session_store *store, const char *id, const char *path,
                            size_t max_bytes, char **data, size_t *len, viv_error *err)
{
    if (data == NULL || len == NULL)
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "data and len must not be NULL");
    *data = NULL;
    *len = 0;
    int wsfd;
    viv_status st = open_ws(store, id, &wsfd, err);
    if (st != VIV_OK)
        return st;
    relpath rp;
    if ((st = relpath_check(path, &rp, err)) != VIV_OK) {
        close(wsfd);
        return st;
    }
    /* O_NONBLOCK: a FIFO planted by the guest must not hang the host on
     * open; it is refused below as not a regular file. */
    int fd = beneath(wsfd, rp.clean, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
    int e = errno;
    close(wsfd);
    relpath_free(&rp);
    if (fd < 0)
        return resolve_fail(err, path, e);
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        e = errno;
        close(fd);
        return resolve_fail(err, path, e);
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return bad_path(err, path,
                        S_ISDIR(sb.st_mode) ? "it is a directory" : "it is not a regular file");
    }
    shown sh;
    if ((uint64_t)sb.st_size > max_bytes) {
        close(fd);
        return viv_error_set(err, VIV_EINVAL, "max_bytes", path,
                             "%s is %lld bytes, more than max_bytes (%zu)", show(path, &sh),
                             (long long)sb.st_size, max_bytes);
    }
    /* Read to EOF, not to st_size: the file may be growing. One extra byte
     * of room tells "exactly max_bytes" from "more". */
    size_t cap = (size_t)sb.st_size + 1, n = 0;
    char *buf = malloc(cap + 1);
    st = buf == NULL ? oom(err) : VIV_OK;
    while (st == VIV_OK) {
        if (n == cap) {
            size_t ncap = cap > max_bytes / 2 ? max_bytes + 1 : cap * 2;
            char *nb = ncap > cap ? realloc(buf, ncap + 1) : NULL;
            if (nb == NULL) {
                st = oom(err);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            st = viv_error_set(err, VIV_EHOST, NULL, path, "cannot read: %s", strerror(errno));
        } else if (r == 0) {
            break;
        } else {
            n += (size_t)r;
            if (n > max_bytes)
                st = viv_error_set(err, VIV_EINVAL, "max_bytes", path,
                                   "%s grew past max_bytes (%zu) while being read", show(path, &sh),
                                   max_bytes);
        }
    }
    close(fd);
    if (st != VIV_OK) {
        free(buf);
        return st;
    }
    buf[n] = '\0'; /* a convenience for text; len is authoritative */
    *data = buf;
    *len = n;
    return VIV_OK;
}

/* ---- write ---------------------------------------------------------------- */

/* Open (creating as needed) the parent directories of rp, one component at
 * a time. Each prefix is re-resolved beneath the workspace with openat2, so
 * a symlink met on the way is only followed while it stays inside; the
 * mkdirat that creates a missing component is relative to the fd of the
 * prefix before it and names a single component, so it cannot be steered
 * elsewhere. */
static viv_status make_parents(int wsfd, relpath *rp, const char *path, int *out, viv_error *err)
{
    int cur = beneath(wsfd, ".", O_RDONLY | O_DIRECTORY, 0);
    if (cur < 0)
        return resolve_fail(err, path, errno);
    if (rp->parent == NULL) {
        *out = cur;
        return VIV_OK;
    }
    char *s = rp->parent;
    size_t plen = strlen(s);
    size_t start = 0;
    while (start < plen) {
        size_t end = start;
        while (end < plen && s[end] != '/')
            end++;
        char saved = s[end];
        s[end] = '\0';
        int next = -1;
        for (int tries = 0; tries < 4 && next < 0; tries++) {
            next = beneath(wsfd, s, O_RDONLY | O_DIRECTORY, 0);
            if (next >= 0 || errno != ENOENT)
                break;
            /* EEXIST: made by someone else meanwhile, or a dangling
             * symlink (the next lookup fails again, and we stop). */
            if (mkdirat(cur, s + start, 0755) != 0 && errno != EEXIST)
                break;
        }
        int e = errno;
        s[end] = saved;
        if (next < 0) {
            close(cur);
            return resolve_fail(err, path, e);
        }
        close(cur);
        cur = next;
        start = end + 1;
    }
    *out = cur;
    return VIV_OK;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

viv_status viv_session_write(viv_session_store *store, const char *id, const char *path,
                             const void *data, size_t len, bool overwrite, viv_error *err)
{
    if (data == NULL && len > 0)
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "data must not be NULL");
    int wsfd;
    viv_status st = open_ws(store, id, &wsfd, err);
    if (st != VIV_OK)
        return st;
    relpath rp;
    if ((st = relpath_check(path, &rp, err)) != VIV_OK) {
        close(wsfd);
        return st;
    }
    int dfd = -1;
    st = make_parents(wsfd, &rp, path, &dfd, err);
    close(wsfd);
    if (st != VIV_OK) {
        relpath_free(&rp);
        return st;
    }
    const char *name = rp.last;
    /* The checks here give clear errors; the rename below is what makes
     * them hold under races (NOREPLACE, and a rename replaces a link
     * rather than writing through it). */
    struct stat sb;
    if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(sb.st_mode))
            st = bad_path(err, path, "it is a symlink; refusing to write through it");
        else if (S_ISDIR(sb.st_mode))
            st = bad_path(err, path, "it is a directory");
        else if (!overwrite)
            st = bad_path(err, path, "it exists and overwrite is false");
    } else if (errno != ENOENT) {
        st = resolve_fail(err, path, errno);
    }
    char tmp[64];
    int fd = -1;
    if (st == VIV_OK) {
        char hex[33];
        if (viv_session_random_hex(hex) != 0)
            st = viv_error_set(err, VIV_EHOST, NULL, path, "getrandom: %s", strerror(errno));
        snprintf(tmp, sizeof tmp, ".viv-write-%s", st == VIV_OK ? hex : "");
    }
    if (st == VIV_OK) {
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
            st = resolve_fail(err, path, errno);
    }
    if (st == VIV_OK) {
        /* fsync before rename: after a crash the name holds the old or the
         * new content, not an empty file. */
        int rc = write_all(fd, data, len);
        if (rc == 0)
            rc = fsync(fd);
        int e = errno;
        if (close(fd) != 0 && rc == 0) {
            rc = -1;
            e = errno;
        }
        if (rc != 0)
            st = viv_error_set(err, VIV_EHOST, NULL, path, "cannot write: %s", strerror(e));
        else if ((overwrite ? renameat(dfd, tmp, dfd, name)
                            : renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE)) != 0) {
            e = errno;
            if (e == EEXIST && !overwrite)
                st = bad_path(err, path, "it exists and overwrite is false");
            else if (e == EISDIR || e == EEXIST || e == ENOTEMPTY)
                st = bad_path(err, path, "it is a directory");
            else
                st = resolve_fail(err, path, e);
        }
        if (st != VIV_OK)
            unlinkat(dfd, tmp, 0);
    }
    close(dfd);
    relpath_free(&rp);
    return st;
}

/* ---- delete --------------------------------------------------------------- */

viv_status viv_session_delete(viv_session_store *store, const char *id, const char *path,
                              bool recursive, viv_error *err)
{
    int wsfd;
    viv_status st = open_ws(store, id, &wsfd, err);
    if (st != VIV_OK)
        return st;
    relpath rp;
    if ((st = relpath_check(path, &rp, err)) != VIV_OK) {
        close(wsfd);
        return st;
    }
    int dfd = -1;
    st = open_parent(wsfd, &rp, path, &dfd, err);
    close(wsfd);
    if (st != VIV_OK) {
        relpath_free(&rp);
        return st;
    }
    const char *name = rp.last;
    struct stat sb;
    if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
        st = resolve_fail(err, path, errno);
    } else if (!S_ISDIR(sb.st_mode)) {
        /* Files and symlinks alike: unlinkat never follows the name. */
        if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT)
            st = resolve_fail(err, path, errno);
    } else if (recursive) {
        if (viv_session_rmtree_at(dfd, name) != 0)
            st = viv_error_set(err, errno == ENOMEM ? VIV_ENOMEM : VIV_EHOST, NULL, path,
                               "cannot delete directory: %s", strerror(errno));
    } else if (unlinkat(dfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
        if (errno == ENOTEMPTY || errno == EEXIST)
            st = bad_path(err, path, "the directory is not empty (delete it with recursive)");
        else
            st = resolve_fail(err, path, errno);
    }
    close(dfd);
    relpath_free(&rp);
    return st;
}
