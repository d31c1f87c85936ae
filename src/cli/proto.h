/*
 * src/cli/proto.h: the `vivarium serve` wire protocol, shared by the server
 * (serve.c) and the client side of `vivarium run --socket` (client.c).
 *
 * Owns: the frame format, the frame kinds, the socket's path rules and the
 * checks both ends make on the peer. docs/serve.md describes the protocol
 * for other clients.
 *
 * A frame is a 4-byte big-endian length N, then N bytes: one kind byte and
 * N-1 bytes of payload. Control frames (kind 'J') hold one JSON object with
 * a "type"; the others carry raw bytes, so code, stdin and guest output
 * need no encoding and may hold anything.
 */
#ifndef VIV_CLI_PROTO_H
#define VIV_CLI_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define VIV_PROTO_VERSION 1
/* Code is capped at 16 MiB by the library; stdin and JSON stay below this. */
#define VIV_PROTO_MAX_FRAME ((size_t)64 << 20)

enum viv_frame_kind {
    VIV_FRAME_JSON = 'J',   /* control message: {"type": ...} */
    VIV_FRAME_CODE = 'C',   /* client: the program's source */
    VIV_FRAME_STDIN = 'I',  /* client: the guest's standard input */
    VIV_FRAME_STDOUT = 'O', /* server: a chunk of the guest's stdout */
    VIV_FRAME_STDERR = 'E', /* server: a chunk of the guest's stderr */
    VIV_FRAME_EVENT = 'L',  /* server: level digit, then one event line */
};

/* Write one frame, whole (retrying short writes; never raises SIGPIPE).
 * Returns 0, or -1 with errno. */
int viv_frame_write(int fd, char kind, const void *payload, size_t len);
/* The same for a JSON object (borrowed). */
int viv_frame_write_json(int fd, const void *json_obj);

/* Read one frame. *payload is malloc'd (NUL-terminated for convenience) and
 * is the caller's. Returns 1 on a frame, 0 on a clean end of stream before
 * any byte of a frame, -1 on an error (errno; EPROTO for a frame that is
 * empty or larger than max). EINTR is retried unless *stop is set. */
int viv_frame_read(int fd, size_t max, char *kind, char **payload, size_t *len, volatile int *stop);

/* The uid of the process at the other end of a Unix socket, or -1. */
long viv_peer_uid(int fd);

#endif /* VIV_CLI_PROTO_H */
