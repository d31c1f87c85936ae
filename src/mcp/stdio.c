/*
 * src/mcp/stdio.c: the stdio transport.
 *
 * Owns: reading newline-delimited JSON-RPC messages from standard input
 * (each at most max_message_bytes; a longer line is answered with an error
 * and skipped), writing replies to standard output one whole line at a
 * time under a lock, and the threads: a tools/call runs on a thread of its
 * own so that the reader stays free to take notifications/cancelled and
 * cancel_execution while code runs. Standard output carries protocol
 * messages only; everything else goes to standard error.
 *
 * SIGINT and SIGTERM are taken through a signalfd beside standard input, so
 * a signal ends the server in an orderly way: running code is cancelled and
 * the temporary sessions are removed.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "mcp_internal.h"

typedef struct stdio_ctx {
    mcp_server *s;
    mcp_client *c;
    pthread_mutex_t out_mu;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned threads;
    bool out_broken;
} stdio_ctx;

/* A tools/call on its thread. */
typedef struct job {
    stdio_ctx *ctx;
    json_t *msg;
} job;

/* Upper bound on tools/call threads at once; beyond it a call is refused
 * at once rather than queued without limit. */
#define MAX_THREADS 64

static void write_reply(stdio_ctx *x, json_t *reply)
{
    if (reply == NULL) {
        return;
    }
    char *text = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    if (text == NULL) {
        mcp_log("cannot encode a reply: out of memory");
        return;
    }
    pthread_mutex_lock(&x->out_mu);
    if (!x->out_broken) {
        size_t len = strlen(text);
        /* One write of the whole line: the peer never sees half a message. */
        text[len] = '\n';
        size_t off = 0;
        while (off < len + 1) {
            ssize_t n = write(STDOUT_FILENO, text + off, len + 1 - off);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                mcp_log("standard output is closed: %s", strerror(errno));
                x->out_broken = true;
                break;
            }
            off += (size_t)n;
        }
    }
    pthread_mutex_unlock(&x->out_mu);
    free(text);
}

static void *job_main(void *arg)
{
    job *j = arg;
    stdio_ctx *x = j->ctx;
    bool quiet = false;
    json_t *reply = mcp_handle_message(x->s, x->c, j->msg, &quiet);
    json_decref(j->msg);
    free(j);
    if (quiet) {
        /* The client cancelled this request and expects no reply. */
        json_decref(reply);
    } else {
        write_reply(x, reply);
    }
    pthread_mutex_lock(&x->mu);
    x->threads--;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

static void handle_line(stdio_ctx *x, const char *line, size_t len)
{
    /* Blank lines (and a CR before the newline) are not messages. */
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) {
        len--;
    }
    size_t start = 0;
    while (start < len && (line[start] == ' ' || line[start] == '\t')) {
        start++;
    }
    if (start == len) {
        return;
    }
    json_error_t jerr;
    json_t *msg = json_loadb(line + start, len - start, JSON_REJECT_DUPLICATES, &jerr);
    if (msg == NULL || !mcp_message_is_slow(msg)) {
        json_decref(msg);
        write_reply(x, mcp_handle_text(x->s, x->c, line + start, len - start, NULL));
        return;
    }
    pthread_mutex_lock(&x->mu);
    bool room = x->threads < MAX_THREADS;
    if (room) {
        x->threads++;
    }
    pthread_mutex_unlock(&x->mu);
    job *j = room ? malloc(sizeof *j) : NULL;
    pthread_t t;
    pthread_attr_t attr;
    bool started = false;
    if (j != NULL) {
        j->ctx = x;
        j->msg = msg;
        if (pthread_attr_init(&attr) == 0) {
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            started = pthread_create(&t, &attr, job_main, j) == 0;
            pthread_attr_destroy(&attr);
        }
    }
    if (!started) {
        if (room) {
            pthread_mutex_lock(&x->mu);
            x->threads--;
            pthread_mutex_unlock(&x->mu);
        }
        write_reply(x, mcp_error_reply(json_object_get(msg, "id"), MCP_INTERNAL_ERROR,
                                       "the server is overloaded: too many tool calls at once"));
        free(j);
        json_decref(msg);
    }
}

int mcp_serve_stdio(mcp_server *s)
{
    stdio_ctx x = {.s = s};
    pthread_mutex_init(&x.out_mu, NULL);
    pthread_mutex_init(&x.mu, NULL);
    pthread_cond_init(&x.cv, NULL);
    x.c = mcp_client_new(s, false);
    if (x.c == NULL) {
        mcp_log("out of memory");
        return 1;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);

    size_t max = s->cfg->max_message_bytes;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    bool skipping = false; /* inside a line that is already too long */
    bool eof = false;
    int rc = 0;
    while (!eof && buf != NULL) {
        struct pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            mcp_log("poll: %s", strerror(errno));
            rc = 1;
            break;
        }
        if (sfd >= 0 && (p[1].revents & POLLIN)) {
            mcp_log("signal received; stopping");
            break;
        }
        if (len == cap) {
            size_t ncap = cap * 2;
            char *n = realloc(buf, ncap);
            if (n == NULL) {
                mcp_log("out of memory");
                rc = 1;
                break;
            }
            buf = n;
            cap = ncap;
        }
        ssize_t n = read(STDIN_FILENO, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            mcp_log("reading standard input: %s", strerror(errno));
            rc = 1;
            break;
        }
        if (n == 0) {
            eof = true;
            if (len > 0 && !skipping) {
                handle_line(&x, buf, len); /* a last message without its newline */
            }
            break;
        }
        len += (size_t)n;
        size_t start = 0;
        for (;;) {
            char *nl = memchr(buf + start, '\n', len - start);
            if (nl == NULL) {
                break;
            }
            size_t linelen = (size_t)(nl - (buf + start));
            if (skipping) {
                skipping = false;
            } else if (linelen > max) {
                write_reply(&x, mcp_error_reply(NULL, MCP_INVALID_REQUEST,
                                                "message of %zu bytes is over the limit of %zu",
                                                linelen, max));
            } else {
                handle_line(&x, buf + start, linelen);
            }
            start += linelen + 1;
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        if (len > max && !skipping) {
            /* Answer now and drop the rest of the line as it comes, so an
             * endless line never grows the buffer past the limit. */
            write_reply(&x, mcp_error_reply(NULL, MCP_INVALID_REQUEST,
                                            "message is over the limit of %zu bytes", max));
            skipping = true;
        }
        if (skipping) {
            len = 0;
        }
        if (cap > 4 * 65536 && len < 65536) {
            char *nb = realloc(buf, 65536);
            if (nb != NULL) {
                buf = nb;
                cap = 65536;
            }
        }
    }
    free(buf);
    /* The peer is gone (or told us to stop): stop what runs, then wait for
     * the threads, whose replies go nowhere useful but must not race exit. */
    mcp_client_close(s, x.c);
    pthread_mutex_lock(&x.mu);
    while (x.threads > 0) {
        pthread_mutex_unlock(&x.mu);
        mcp_cancel_executions(s, x.c, NULL);
        pthread_mutex_lock(&x.mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&x.cv, &x.mu, &until);
    }
    pthread_mutex_unlock(&x.mu);
    mcp_client_release(s, x.c);
    if (sfd >= 0) {
        close(sfd);
    }
    pthread_cond_destroy(&x.cv);
    pthread_mutex_destroy(&x.mu);
    pthread_mutex_destroy(&x.out_mu);
    return rc;
}
