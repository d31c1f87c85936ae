/*
 * src/session/tree.c: walking and removing directory trees by fd.
 *
 * Owns: viv_session_tree_bytes (the size of a workspace) and
 * viv_session_rmtree_at (removing a session or a workspace directory), plus
 * the random names both store.c and files.c use for temporary files.
 *
 * Workspaces are written by untrusted guests, so nothing here ever resolves
 * a path of more than one component: every step is an *at(2) call on a
 * single name relative to a directory fd we already hold, with O_NOFOLLOW |
 * O_DIRECTORY when entering. A symlink, wherever it points, is only ever
 * unlinked or skipped; a directory swapped for a symlink between two calls
 * makes the open fail rather than leading us out of the tree.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "session_internal.h"

/* Levels rm_contents descends before moving a subtree up instead; this
 * bounds the fds held at once however deep a guest made its tree. */
#define RM_MAX_DEPTH 48
/* Passes over a tree that made no progress (a concurrent writer keeps
 * adding entries) before giving up with ENOTEMPTY, and passes in all: each
 * pass removes RM_MAX_DEPTH levels, so this allows trees millions deep. */
#define RM_STALLED_PASSES 4
#define RM_MAX_PASSES     100000

int viv_session_random_hex(char out[33])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof b; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[32] = '\0';
    return 0;
}

static bool is_dot(const char *name)
{
    return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* ---- size ----------------------------------------------------------------- */

/* Takes ownership of fd. */
static uint64_t bytes_rec(int fd, unsigned depth)
{
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return 0;
    }
    uint64_t sum = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (is_dot(e->d_name))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* removed under us: it no longer counts */
        if (S_ISREG(st.st_mode)) {
            sum += (uint64_t)st.st_size;
        } else if (S_ISDIR(st.st_mode) && depth < VIV_SESSION_MAX_DEPTH) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                sum += bytes_rec(sub, depth + 1);
        }
    }
    closedir(d);
    return sum;
}

uint64_t viv_session_tree_bytes(int dirfd)
{
    /* A fresh open file description, so the caller's fd offset is not
     * disturbed by readdir. */
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    return bytes_rec(fd, 0);
}

/* ---- removal -------------------------------------------------------------- */

typedef struct rm_state {
    int topfd;     /* the directory being removed */
    bool moved;    /* a deep subtree was moved up to topfd this pass */
    int first_err; /* errno of the first failure, or 0 */
} rm_state;

static void rm_fail(rm_state *s, int e)
{
    if (s->first_err == 0)
        s->first_err = e;
}

/* Remove everything in d (consumed by the caller). Entries are unlinked
 * first and only entered when the kernel says they are directories (EISDIR),
 * so a symlink is always removed as a link. At RM_MAX_DEPTH a directory is
 * renamed into the top of the tree instead of entered; the next pass picks
 * it up from there, so depth costs passes rather than fds. */
static void rm_contents(DIR *d, rm_state *s, unsigned depth)
{
    int fd = dirfd(d);
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            if (errno != 0)
                rm_fail(s, errno);
            return;
        }
        const char *name = e->d_name;
        if (is_dot(name))
            continue;
        if (unlinkat(fd, name, 0) == 0 || errno == ENOENT)
            continue;
        if (errno != EISDIR) {
            rm_fail(s, errno);
            continue;
        }
        if (depth + 1 >= RM_MAX_DEPTH) {
            char hex[33], tmp[48];
            if (viv_session_random_hex(hex) != 0) {
                rm_fail(s, errno);
                continue;
            }
            snprintf(tmp, sizeof tmp, ".viv-rm-%s", hex);
            /* NOREPLACE: a plain rename may replace an empty directory. */
            if (renameat2(fd, name, s->topfd, tmp, RENAME_NOREPLACE) == 0)
                s->moved = true;
            else if (errno != ENOENT)
                rm_fail(s, errno);
            continue;
        }
        int sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            /* ENOTDIR/ELOOP: swapped for a file or link since the unlink;
             * the parent's removal fails and a later pass unlinks it. */
            if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
                rm_fail(s, errno);
            continue;
        }
        DIR *sd = fdopendir(sub);
        if (sd == NULL) {
            rm_fail(s, errno);
            close(sub);
            continue;
        }
        rm_contents(sd, s, depth + 1);
        closedir(sd);
        if (unlinkat(fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
            /* Not empty because of a move-up or a concurrent writer: the
             * next pass retries. */
            if (errno != ENOTEMPTY && errno != EEXIST)
                rm_fail(s, errno);
        }
    }
}

int viv_session_rmtree_at(int dirfd, const char *name)
{
    int stalled = 0;
    for (int pass = 0; pass < RM_MAX_PASSES; pass++) {
        if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
            return 0;
        if (errno != EISDIR)
            return -1;
        rm_state s = {.topfd = -1};
        s.topfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s.topfd < 0) {
            if (errno == ENOENT)
                return 0;
            if (errno == ENOTDIR || errno == ELOOP)
                continue; /* became a file or link: unlink it */
            return -1;
        }
        /* A separate open file description to read, since entries are
         * moved into topfd while it is being listed. */
        int it = openat(s.topfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = it >= 0 ? fdopendir(it) : NULL;
        if (d == NULL) {
            int e = errno;
            if (it >= 0)
                close(it);
            close(s.topfd);
            errno = e;
            return -1;
        }
        rm_contents(d, &s, 0);
        closedir(d);
        close(s.topfd);
        if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
            return 0;
        if (errno != ENOTEMPTY && errno != EEXIST)
            return -1;
        if (s.first_err != 0) {
            errno = s.first_err;
            return -1;
        }
        if (!s.moved && ++stalled >= RM_STALLED_PASSES) {
            errno = ENOTEMPTY;
            return -1;
        }
    }
    errno = ENOTEMPTY;
    return -1;
}
