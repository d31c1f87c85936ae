/*
 * src/sandbox/cancel.c: cancellation tokens.
 *
 * Owns: viv_cancel. A token is an eventfd, so the parent's poll loop in
 * execute.c wakes on it like on the guest's pipes, and triggering is one
 * write(2), which is safe from a signal handler and from any thread.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sandbox_internal.h"

struct viv_cancel {
    int fd;
};

viv_status viv_cancel_create(viv_cancel **out, viv_error *err)
{
    if (out == NULL) {
        return viv_error_set(err, VIV_EINVAL, "out", NULL, "viv_cancel_create: out is NULL");
    }
    *out = NULL;
    viv_cancel *c = malloc(sizeof *c);
    if (c == NULL) {
        return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    c->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->fd < 0) {
        int e = errno;
        free(c);
        return viv_error_set(err, VIV_EHOST, NULL, NULL, "cannot create an eventfd: %s",
                             strerror(e));
    }
    *out = c;
    return VIV_OK;
}

void viv_cancel_destroy(viv_cancel *c)
{
    if (c != NULL) {
        close(c->fd);
        free(c);
    }
}

void viv_cancel_trigger(viv_cancel *c)
{
    if (c != NULL) {
        uint64_t one = 1;
        /* EAGAIN means the counter is already saturated: still triggered. */
        ssize_t n = write(c->fd, &one, sizeof one);
        (void)n;
    }
}

bool viv_cancel_triggered(const viv_cancel *c)
{
    if (c == NULL) {
        return false;
    }
    struct pollfd p = {c->fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

void viv_cancel_reset(viv_cancel *c)
{
    if (c != NULL) {
        uint64_t v;
        ssize_t n = read(c->fd, &v, sizeof v);
        (void)n;
    }
}

int viv_cancel_fd(const viv_cancel *c) { return c != NULL ? c->fd : -1; }
