/*
 * src/sandbox/fdpass.h (private to src/sandbox): one message with
 * descriptors over a Unix socket (SCM_RIGHTS), for the pool, its zygotes
 * and their spares.
 */
#ifndef VIV_SANDBOX_FDPASS_H
#define VIV_SANDBOX_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#define VIV_FDPASS_MAX 8

/* Send len bytes with n descriptors (n may be 0). 0, or -1 with errno. */
int viv_fdpass_send(int sock, const void *data, size_t len, const int *fds, size_t n);

/* Receive one message into data (at most len bytes) and up to max
 * descriptors (close-on-exec; extra ones are closed). Returns the bytes
 * received (0 at end of file) with *nfds set, or -1 with errno; a message
 * whose descriptors were cut short closes them all and fails with EPROTO. */
ssize_t viv_fdpass_recv(int sock, void *data, size_t len, int *fds, size_t max, size_t *nfds);

#endif /* VIV_SANDBOX_FDPASS_H */
