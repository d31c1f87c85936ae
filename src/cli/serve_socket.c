/*
 * src/cli/serve_socket.c: the listening socket of `vivarium serve`.
 *
 * Owns: where the socket may live (a directory of the server's user that no
 * one else can write), creating it 0600 with no wider moment, replacing a
 * stale socket of ours (nothing listens) and nothing else, and removing
 * only the socket we created.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "serve.h"

/* Refuse a place where someone else could swap the socket or read it. */
static int check_socket_dir(const char *path, uid_t uid)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else if (slash == path) {
        snprintf(dir, sizeof dir, "/");
    } else {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "vivarium serve: socket directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "vivarium serve: %s is not a directory\n", dir);
        return -1;
    }
    if (st.st_uid != uid) {
        fprintf(stderr,
                "vivarium serve: socket directory %s belongs to uid %ld, not to you (uid %ld); "
                "use a directory of your own such as $XDG_RUNTIME_DIR\n",
                dir, (long)st.st_uid, (long)uid);
        return -1;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        fprintf(stderr,
                "vivarium serve: socket directory %s is writable by others (mode %03o); "
                "use a directory only you can write to\n",
                dir, (unsigned)(st.st_mode & 0777));
        return -1;
    }
    return 0;
}

/* An existing path: keep refusing unless it is our own socket that nothing
 * listens on any more (a server that died), which is removed. */
static int clear_stale(const char *path, uid_t uid)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) {
            return 0;
        }
        fprintf(stderr, "vivarium serve: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (st.st_uid != uid) {
        fprintf(stderr, "vivarium serve: %s exists and belongs to uid %ld; not touching it\n", path,
                (long)st.st_uid);
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        fprintf(stderr, "vivarium serve: %s exists and is not a socket; not touching it\n", path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "vivarium serve: socket: %s\n", strerror(errno));
        return -1;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    int e = errno;
    close(fd);
    if (rc == 0) {
        fprintf(stderr, "vivarium serve: another server is already listening on %s\n", path);
        return -1;
    }
    if (e != ECONNREFUSED) {
        fprintf(stderr, "vivarium serve: %s: %s\n", path, strerror(e));
        return -1;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        fprintf(stderr, "vivarium serve: cannot remove the stale socket %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    return 0;
}

int viv_serve_socket_open(const char *path, uid_t uid, int *out_fd, dev_t *dev, ino_t *ino)
{
    if (strlen(path) >= sizeof((struct sockaddr_un *)0)->sun_path) {
        fprintf(stderr, "vivarium serve: socket path too long (at most %zu bytes): %s\n",
                sizeof((struct sockaddr_un *)0)->sun_path - 1, path);
        return -1;
    }
    if (check_socket_dir(path, uid) != 0 || clear_stale(path, uid) != 0) {
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "vivarium serve: socket: %s\n", strerror(errno));
        return -1;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, path, strlen(path) + 1);
    /* The socket file is born 0600: no window in which another user could
     * connect. umask is process-wide, and no other thread runs yet. */
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
    int e = errno;
    umask(old);
    struct stat st;
    if (rc != 0) {
        fprintf(stderr, "vivarium serve: bind %s: %s\n", path, strerror(e));
    } else if (chmod(path, 0600) != 0 || lstat(path, &st) != 0) {
        fprintf(stderr, "vivarium serve: %s: %s\n", path, strerror(errno));
        unlink(path);
        rc = -1;
    } else if (listen(fd, 128) != 0) {
        fprintf(stderr, "vivarium serve: listen %s: %s\n", path, strerror(errno));
        unlink(path);
        rc = -1;
    }
    if (rc != 0) {
        close(fd);
        return -1;
    }
    *dev = st.st_dev;
    *ino = st.st_ino;
    *out_fd = fd;
    return 0;
}

void viv_serve_socket_remove(const char *path, dev_t dev, ino_t ino)
{
    struct stat st;
    if (lstat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino) {
        unlink(path);
    }
}
