/*
 * src/sandbox/fdpass.c: descriptors over Unix sockets (see fdpass.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"

typedef union fd_control {
    char buf[CMSG_SPACE(sizeof(int) * VIV_FDPASS_MAX)];
    struct cmsghdr align;
} fd_control;

int viv_fdpass_send(int sock, const void *data, size_t len, const int *fds, size_t n)
{
    if (n > VIV_FDPASS_MAX) {
        errno = EINVAL;
        return -1;
    }
    struct iovec iov = {(void *)data, len};
    fd_control ctrl;
    memset(&ctrl, 0, sizeof ctrl);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (n > 0) {
        msg.msg_control = ctrl.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    }
    ssize_t sent;
    while ((sent = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    if (sent != (ssize_t)len) {
        if (sent >= 0) {
            errno = EPROTO;
        }
        return -1;
    }
    return 0;
}

ssize_t viv_fdpass_recv(int sock, void *data, size_t len, int *fds, size_t max, size_t *nfds)
{
    *nfds = 0;
    struct iovec iov = {data, len};
    fd_control ctrl;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctrl.buf,
                         .msg_controllen = sizeof ctrl.buf};
    ssize_t n;
    while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
    }
    if (n < 0) {
        return -1;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (*nfds < max) {
                fds[(*nfds)++] = fd;
            } else {
                close(fd);
            }
        }
    }
    if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
        for (size_t i = 0; i < *nfds; i++) {
            close(fds[i]);
        }
        *nfds = 0;
        errno = EPROTO;
        return -1;
    }
    return n;
}
