/*
 * src/cli/serve.h (private to the serve*.c files): what the parts of
 * `vivarium serve` share.
 *
 *   serve.c          options, start-up, accepting connections, one thread
 *                    per connection, shutdown
 *   serve_socket.c   the listening socket: where it may live, its mode, a
 *                    stale socket, removing only our own
 *   serve_request.c  one request: reading it, running it under its own
 *                    policy, streaming output and events, cancelling
 */
#ifndef VIV_CLI_SERVE_H
#define VIV_CLI_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "eventlog.h"
#include "vivarium.h"

typedef struct conn conn;

typedef struct server {
    const char *path;
    int listen_fd;
    dev_t sock_dev; /* the socket we bound, so that we never unlink another's */
    ino_t sock_ino;
    uid_t uid;
    viv_warm_pool *pool;
    /* The guest of requests that name none: --wasm, else the default guest
     * as the CLI finds it (NULL: the library's installed default). */
    const char *wasm;
    viv_cli_eventlog *log;
    pthread_mutex_t lock;
    conn *conns; /* under lock */
    unsigned nconns, max_conns;
    bool stopping;
    /* Written once at shutdown and never drained: every idle connection
     * polls it beside its socket. */
    int stop_pipe[2];
    unsigned long next_id;
} server;

struct conn {
    server *srv;
    int fd;
    unsigned long id;
    bool busy;          /* under srv->lock */
    viv_cancel *cancel; /* the running execution's token, under srv->lock */
    conn *next;
};

/* The listening socket at path, 0600, after the checks of serve_socket.c
 * (messages printed). 0 with *fd, *dev and *ino set, or -1. */
int viv_serve_socket_open(const char *path, uid_t uid, int *fd, dev_t *dev, ino_t *ino);
/* Remove path if it is still the socket (dev, ino) we created. */
void viv_serve_socket_remove(const char *path, dev_t dev, ino_t ino);

typedef struct request {
    json_t *msg; /* the execute message */
    char *code, *stdin_data;
    size_t code_len, stdin_len;
} request;

/* 1: a request; 0: the client closed; -1: malformed (answered, logged). */
int viv_serve_read_request(conn *c, request *rq);
void viv_serve_request_free(request *rq);
/* Run it and send the result (or the error). false: close the connection. */
bool viv_serve_run_request(conn *c, request *rq);
/* An error frame: nothing ran; retry_local tells the client to run it. */
void viv_serve_send_error(int fd, viv_status st, const char *msg, bool retry_local);

#endif /* VIV_CLI_SERVE_H */
