/*
 * src/cli/proto.c: frames on a stream socket (see proto.h).
 */
#include "proto.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

static int send_all(int fd, const void *buf, size_t len, int more)
{
    const char *p = buf;
    while (len > 0) {
        /* MSG_NOSIGNAL: a vanished peer is an error to report, not a
         * reason for the whole server to die of SIGPIPE. */
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | more);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int viv_frame_write(int fd, char kind, const void *payload, size_t len)
{
    if (len + 1 > VIV_PROTO_MAX_FRAME) {
        errno = EMSGSIZE;
        return -1;
    }
    uint32_t n = (uint32_t)(len + 1);
    unsigned char head[5] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                             (unsigned char)(n >> 8), (unsigned char)n, (unsigned char)kind};
    if (send_all(fd, head, sizeof head, len > 0 ? MSG_MORE : 0) != 0) {
        return -1;
    }
    return len > 0 ? send_all(fd, payload, len, 0) : 0;
}

int viv_frame_write_json(int fd, const void *json_obj)
{
    char *text = json_dumps((const json_t *)json_obj, JSON_COMPACT);
    if (text == NULL) {
        errno = ENOMEM;
        return -1;
    }
    int rc = viv_frame_write(fd, VIV_FRAME_JSON, text, strlen(text));
    free(text);
    return rc;
}

/* 1: all read; 0: end of stream before the first byte; -1: error. */
static int read_all(int fd, void *buf, size_t len, volatile int *stop)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0 && errno == EINTR && (stop == NULL || !*stop)) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            if (got == 0) {
                return 0;
            }
            errno = EPROTO;
            return -1;
        }
        got += (size_t)n;
    }
    return 1;
}

int viv_frame_read(int fd, size_t max, char *kind, char **payload, size_t *len, volatile int *stop)
{
    *payload = NULL;
    *len = 0;
    unsigned char head[4];
    int rc = read_all(fd, head, sizeof head, stop);
    if (rc <= 0) {
        return rc;
    }
    uint32_t n = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 |
                 (uint32_t)head[3];
    if (n == 0 || n > max) {
        errno = EPROTO;
        return -1;
    }
    char *buf = malloc(n);
    if (buf == NULL) {
        errno = ENOMEM;
        return -1;
    }
    rc = read_all(fd, buf, n, stop);
    if (rc != 1) {
        int e = rc == 0 ? EPROTO : errno;
        free(buf);
        errno = e;
        return -1;
    }
    /* The kind byte's place becomes the terminating NUL. */
    *kind = buf[0];
    memmove(buf, buf + 1, n - 1);
    buf[n - 1] = '\0';
    *payload = buf;
    *len = n - 1;
    return 1;
}

long viv_peer_uid(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
        return -1;
    }
    return (long)cred.uid;
}
