/*
 * src/session/state.c: a session's saved interpreter state and session
 * forks.
 *
 * Owns: ROOT/<id>/state (the pickled or JSON globals the guest wrote at the
 * end of its last execution, docs/state.md), ROOT/<id>/state.unusable (the
 * last state file that could not be used, kept for inspection), and
 * copying a whole session under a new id. The guest never sees these
 * paths: the sandbox layer copies the state into and out of the
 * execution's private directory, and installs a new one here only through
 * viv_session_state_install (temp file, fsync, rename, fsync of the
 * directory: a crash leaves the old state or the new, never half of one).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy.h"
#include "session_internal.h"

static viv_status fail(viv_session_store *store, viv_error *err, const char *id, const char *name,
                       const char *what, int e)
{
    if (e == ENOMEM) {
        return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s%s", store->root, id, name ? "/" : "", name ? name : "");
    return viv_error_set(err, VIV_EHOST, NULL, path, "%s: %s", what, strerror(e));
}

int viv_session_copy_fd(int in, int out)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            return 0;
        }
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w < 0) {
                return -1;
            }
            done += w;
        }
    }
}

viv_status viv_session_state_open(viv_session_store *store, const char *id, int *fd, viv_error *err)
{
    *fd = -1;
    int sfd;
    viv_status st = viv_session_open_dir(store, id, &sfd, err);
    if (st != VIV_OK) {
        return st;
    }
    int f = openat(sfd, VIV_SESSION_STATE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    close(sfd);
    if (f < 0 && e != ENOENT) {
        return fail(store, err, id, VIV_SESSION_STATE, "cannot open the saved state", e);
    }
    *fd = f;
    return VIV_OK;
}

viv_status viv_session_state_install(viv_session_store *store, const char *id, int src_fd,
                                     viv_error *err)
{
    int sfd;
    viv_status st = viv_session_open_dir(store, id, &sfd, err);
    if (st != VIV_OK) {
        return st;
    }
    char tmp[64], hex[33];
    if (viv_session_random_hex(hex) != 0) {
        int e = errno;
        close(sfd);
        return fail(store, err, id, NULL, "cannot name a temporary file", e);
    }
    snprintf(tmp, sizeof tmp, ".state-%.16s.tmp", hex);
    int out = openat(sfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        int e = errno;
        close(sfd);
        return fail(store, err, id, tmp, "cannot write the state", e);
    }
    int rc = viv_session_copy_fd(src_fd, out);
    int e = errno;
    if (rc == 0 && fsync(out) != 0) {
        rc = -1;
        e = errno;
    }
    if (close(out) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && renameat(sfd, tmp, sfd, VIV_SESSION_STATE) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        unlinkat(sfd, tmp, 0);
        close(sfd);
        return fail(store, err, id, VIV_SESSION_STATE, "cannot write the state", e);
    }
    (void)fsync(sfd);
    close(sfd);
    return VIV_OK;
}

viv_status viv_session_state_set_aside(viv_session_store *store, const char *id, char *where,
                                       size_t wlen, viv_error *err)
{
    if (where != NULL && wlen > 0) {
        where[0] = '\0';
    }
    int sfd;
    viv_status st = viv_session_open_dir(store, id, &sfd, err);
    if (st != VIV_OK) {
        return st;
    }
    if (renameat(sfd, VIV_SESSION_STATE, sfd, VIV_SESSION_STATE_UNUSABLE) != 0) {
        int e = errno;
        close(sfd);
        return e == ENOENT
                   ? VIV_OK
                   : fail(store, err, id, VIV_SESSION_STATE, "cannot set the state aside", e);
    }
    (void)fsync(sfd);
    close(sfd);
    if (where != NULL) {
        snprintf(where, wlen, "%s/%s/%s", store->root, id, VIV_SESSION_STATE_UNUSABLE);
    }
    return VIV_OK;
}

viv_status viv_session_clear_state(viv_session_store *store, const char *id, viv_error *err)
{
    if (store == NULL || id == NULL) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "store and id are required");
    }
    viv_status st = viv_session_check_id(id, err);
    int sfd;
    if (st != VIV_OK || (st = viv_session_open_dir(store, id, &sfd, err)) != VIV_OK) {
        return st;
    }
    static const char *const names[] = {VIV_SESSION_STATE, VIV_SESSION_STATE_UNUSABLE};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (unlinkat(sfd, names[i], 0) != 0 && errno != ENOENT) {
            int e = errno;
            close(sfd);
            return fail(store, err, id, names[i], "cannot remove the saved state", e);
        }
    }
    (void)fsync(sfd);
    close(sfd);
    return VIV_OK;
}

/* --- fork ------------------------------------------------------------------------ */

/* Copies the directory at src into the (empty) directory at dst: regular
 * files by content, symlinks as symlinks (never followed), directories
 * recursively; anything else (fifos, sockets, devices: the guest cannot
 * make them) is left out. 0 or -1 with errno. */
static int copy_tree(int src, int dst, int depth)
{
    if (depth > VIV_SESSION_MAX_DEPTH) {
        errno = ELOOP;
        return -1;
    }
    int dup_fd = dup(src);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (d == NULL) {
        if (dup_fd >= 0) {
            close(dup_fd);
        }
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
            continue;
        }
        struct stat sb;
        if (fstatat(src, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = -1;
            break;
        }
        if (S_ISDIR(sb.st_mode)) {
            int sub = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0 || mkdirat(dst, name, sb.st_mode & 07777) != 0) {
                rc = -1;
            }
            int dsub =
                rc == 0 ? openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
            if (rc == 0 && (dsub < 0 || copy_tree(sub, dsub, depth + 1) != 0)) {
                rc = -1;
            }
            int e = errno;
            if (sub >= 0) {
                close(sub);
            }
            if (dsub >= 0) {
                close(dsub);
            }
            errno = e;
        } else if (S_ISREG(sb.st_mode)) {
            int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            int out = in >= 0
                          ? openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                   sb.st_mode & 07777)
                          : -1;
            if (in < 0 || out < 0 || viv_session_copy_fd(in, out) != 0) {
                rc = -1;
            }
            int e = errno;
            if (in >= 0) {
                close(in);
            }
            if (out >= 0 && close(out) != 0 && rc == 0) {
                rc = -1;
                e = errno;
            }
            errno = e;
        } else if (S_ISLNK(sb.st_mode)) {
            char target[4097];
            ssize_t n = readlinkat(src, name, target, sizeof target - 1);
            if (n < 0) {
                rc = -1;
            } else {
                target[n] = '\0';
                if (symlinkat(target, dst, name) != 0) {
                    rc = -1;
                }
            }
        }
    }
    if (rc == 0 && errno != 0) {
        rc = -1;
    }
    int e = errno;
    closedir(d);
    errno = e;
    return rc;
}

viv_status viv_session_fork(viv_session_store *store, const char *src, const char *dst,
                            viv_error *err)
{
    if (store == NULL || src == NULL || dst == NULL) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "store, src and dst are required");
    }
    viv_status st = viv_session_check_id(src, err);
    if (st == VIV_OK) {
        st = viv_session_check_id(dst, err);
    }
    if (st != VIV_OK) {
        return st;
    }
    struct stat sb;
    if (fstatat(store->rootfd, dst, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", store->root, dst);
        return viv_error_set(err, VIV_EEXIST, "session_id", path, "session \"%s\" exists already",
                             dst);
    }
    int sfd;
    if ((st = viv_session_open_dir(store, src, &sfd, err)) != VIV_OK) {
        return st;
    }
    /* Built under a trash name (prune removes it if we die half-way), then
     * renamed into place without replacing anything. */
    char tmp[160], hex[33];
    if (viv_session_random_hex(hex) != 0) {
        int e = errno;
        close(sfd);
        return fail(store, err, src, NULL, "cannot name a temporary directory", e);
    }
    snprintf(tmp, sizeof tmp, VIV_SESSION_TRASH_PREFIX "%lld-%.16s-fork-%.64s",
             (long long)time(NULL), hex, dst);
    if (mkdirat(store->rootfd, tmp, 0700) != 0) {
        int e = errno;
        close(sfd);
        return fail(store, err, tmp, NULL, "cannot create the copy", e);
    }
    int tfd = openat(store->rootfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int rc = tfd >= 0 ? copy_tree(sfd, tfd, 0) : -1;
    int e = errno;
    close(sfd);
    if (rc == 0) {
        /* The copy's own metadata: its id, and its creation now. */
        rc = viv_session_meta_rewrite(tfd, dst);
        e = errno;
    }
    if (tfd >= 0) {
        if (rc == 0 && fsync(tfd) != 0) {
            rc = -1;
            e = errno;
        }
        close(tfd);
    }
    if (rc == 0 && renameat2(store->rootfd, tmp, store->rootfd, dst, RENAME_NOREPLACE) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        viv_session_rmtree_at(store->rootfd, tmp);
        if (e == EEXIST) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", store->root, dst);
            return viv_error_set(err, VIV_EEXIST, "session_id", path,
                                 "session \"%s\" exists already", dst);
        }
        return fail(store, err, src, NULL, "cannot copy the session", e);
    }
    (void)fsync(store->rootfd);
    viv_session_event_fork(store, dst, src);
    return VIV_OK;
}
