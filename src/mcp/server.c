/*
 * src/mcp/server.c: the MCP server's shared state.
 *
 * Owns: the session store the tools work in (a private temporary root
 * unless --sessions-dir is given), the table of sessions this server
 * serves with their idle clocks and busy flags, the clients (MCP
 * connections), the list of requests in flight with their cancel tokens,
 * and the reaper thread that expires idle sessions and clients.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "mcp_internal.h"

double mcp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void mcp_log(const char *fmt, ...)
{
    /* One fprintf per line: stderr is unbuffered, and lines from several
     * threads must not interleave mid-line. */
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "vivarium mcp: %s\n", line);
}

/* ---- sessions ------------------------------------------------------------------ */

mcp_session *mcp_session_find(mcp_server *s, const char *id)
{
    for (size_t i = 0; i < s->nsessions; i++) {
        if (strcmp(s->sessions[i].id, id) == 0) {
            return &s->sessions[i];
        }
    }
    return NULL;
}

bool mcp_session_add(mcp_server *s, const char *id)
{
    if (mcp_session_find(s, id) != NULL) {
        return true;
    }
    if (s->nsessions >= s->cfg->max_sessions) {
        return false;
    }
    if (s->nsessions == s->cap_sessions) {
        size_t cap = s->cap_sessions ? s->cap_sessions * 2 : 16;
        mcp_session *n = realloc(s->sessions, cap * sizeof *n);
        if (n == NULL) {
            return false;
        }
        s->sessions = n;
        s->cap_sessions = cap;
    }
    mcp_session *e = &s->sessions[s->nsessions++];
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    e->last_used = mcp_now();
    return true;
}

void mcp_session_drop(mcp_server *s, const char *id)
{
    for (size_t i = 0; i < s->nsessions; i++) {
        if (strcmp(s->sessions[i].id, id) == 0) {
            s->sessions[i] = s->sessions[--s->nsessions];
            return;
        }
    }
}

/* Sessions already in a --sessions-dir are served too; their idle clocks
 * start now. Those beyond the cap stay on disk, unserved. */
static void adopt_sessions(mcp_server *s)
{
    viv_session_info *list = NULL;
    size_t n = 0;
    viv_error err = {0};
    if (viv_session_list(s->store, &list, &n, &err) != VIV_OK) {
        mcp_log("cannot list existing sessions: %s", err.message);
        return;
    }
    size_t adopted = 0;
    for (size_t i = 0; i < n; i++) {
        if (mcp_session_add(s, list[i].id)) {
            adopted++;
        }
    }
    if (n > 0) {
        mcp_log("serving %zu existing session(s) of %zu in %s", adopted, n,
                viv_session_store_root(s->store));
    }
    free(list);
}

/* ---- clients ------------------------------------------------------------------- */

static void client_close_locked(mcp_server *s, mcp_client *c);

mcp_client *mcp_client_new(mcp_server *s, bool with_id)
{
    mcp_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    if (with_id) {
        unsigned char raw[16];
        if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
            free(c);
            return NULL;
        }
        for (size_t i = 0; i < sizeof raw; i++) {
            snprintf(c->id + 2 * i, 3, "%02x", raw[i]);
        }
    }
    c->last_seen = mcp_now();
    c->refs = 2; /* the table's and the caller's */
    pthread_mutex_lock(&s->mu);
    if (with_id && s->nclients >= s->cfg->max_clients) {
        /* Clients that never say goodbye (no DELETE) must not lock new ones
         * out: the least recently seen idle one makes room. */
        mcp_client *oldest = NULL;
        for (mcp_client *o = s->clients; o != NULL; o = o->next) {
            if (o->id[0] != '\0' && !o->closed && o->refs == 1 &&
                (oldest == NULL || o->last_seen < oldest->last_seen)) {
                oldest = o;
            }
        }
        if (oldest == NULL) {
            pthread_mutex_unlock(&s->mu);
            free(c);
            return NULL;
        }
        client_close_locked(s, oldest);
    }
    c->next = s->clients;
    s->clients = c;
    s->nclients++;
    pthread_mutex_unlock(&s->mu);
    return c;
}

mcp_client *mcp_client_find(mcp_server *s, const char *id)
{
    pthread_mutex_lock(&s->mu);
    mcp_client *c = s->clients;
    while (c != NULL && (c->closed || strcmp(c->id, id) != 0)) {
        c = c->next;
    }
    if (c != NULL) {
        c->refs++;
        c->last_seen = mcp_now();
    }
    pthread_mutex_unlock(&s->mu);
    return c;
}

static void client_unref_locked(mcp_server *s, mcp_client *c)
{
    if (--c->refs > 0) {
        return;
    }
    for (mcp_client **p = &s->clients; *p != NULL; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            s->nclients--;
            break;
        }
    }
    free(c);
}

void mcp_client_release(mcp_server *s, mcp_client *c)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    c->last_seen = mcp_now();
    client_unref_locked(s, c);
    pthread_mutex_unlock(&s->mu);
}

static void client_close_locked(mcp_server *s, mcp_client *c)
{
    if (c->closed) {
        return;
    }
    c->closed = true;
    for (mcp_request *r = s->inflight; r != NULL; r = r->next) {
        if (r->client == c) {
            viv_cancel_trigger(r->cancel);
        }
    }
    client_unref_locked(s, c); /* the table's reference */
}

void mcp_client_close(mcp_server *s, mcp_client *c)
{
    pthread_mutex_lock(&s->mu);
    client_close_locked(s, c);
    pthread_mutex_unlock(&s->mu);
}

void mcp_clients_expire(mcp_server *s)
{
    if (s->cfg->session_idle_s <= 0) {
        return;
    }
    double now = mcp_now();
    pthread_mutex_lock(&s->mu);
    mcp_client *c = s->clients;
    while (c != NULL) {
        mcp_client *next = c->next;
        /* refs == 1: only the table holds it, so no request is in flight. */
        if (c->id[0] != '\0' && !c->closed && c->refs == 1 &&
            now - c->last_seen > s->cfg->session_idle_s) {
            client_close_locked(s, c);
        }
        c = next;
    }
    pthread_mutex_unlock(&s->mu);
}

unsigned mcp_cancel_executions(mcp_server *s, mcp_client *c, const char *session_id)
{
    unsigned n = 0;
    pthread_mutex_lock(&s->mu);
    for (mcp_request *r = s->inflight; r != NULL; r = r->next) {
        if (!r->executing) {
            continue;
        }
        bool match = session_id != NULL ? strcmp(r->session_id, session_id) == 0 : r->client == c;
        if (match) {
            viv_cancel_trigger(r->cancel);
            n++;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- the reaper ----------------------------------------------------------------- */

static void expire_sessions(mcp_server *s)
{
    double now = mcp_now();
    for (;;) {
        char victim[65] = "";
        pthread_mutex_lock(&s->mu);
        for (size_t i = 0; i < s->nsessions; i++) {
            mcp_session *e = &s->sessions[i];
            if (!e->busy && now - e->last_used > s->cfg->session_idle_s) {
                snprintf(victim, sizeof victim, "%s", e->id);
                /* Out of the table first, so no tool finds it half-removed. */
                mcp_session_drop(s, e->id);
                break;
            }
        }
        pthread_mutex_unlock(&s->mu);
        if (victim[0] == '\0') {
            return;
        }
        viv_error err = {0};
        viv_warm_pool_end_session(s->cfg->warm, victim);
        if (viv_session_remove(s->store, victim, &err) != VIV_OK) {
            mcp_log("cannot remove idle session %s: %s", victim, err.message);
        } else {
            mcp_log("session %s expired after %.0f s idle; its workspace is removed", victim,
                    s->cfg->session_idle_s);
        }
    }
}

static void *reaper_main(void *arg)
{
    mcp_server *s = arg;
    double period = s->cfg->session_idle_s / 4;
    if (period > 30) {
        period = 30;
    }
    if (period < 0.25) {
        period = 0.25;
    }
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        double t = (double)until.tv_sec + (double)until.tv_nsec / 1e9 + period;
        until.tv_sec = (time_t)t;
        until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
        pthread_cond_timedwait(&s->cv, &s->mu, &until);
        if (s->stopping) {
            break;
        }
        pthread_mutex_unlock(&s->mu);
        expire_sessions(s);
        mcp_clients_expire(s);
        viv_warm_pool_expire(s->cfg->warm);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- life ------------------------------------------------------------------------ */

int mcp_server_init(mcp_server *s, mcp_config *cfg, viv_error *err)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->started = mcp_now();
    if (pthread_mutex_init(&s->mu, NULL) != 0 || pthread_cond_init(&s->cv, NULL) != 0) {
        snprintf(err->message, sizeof err->message, "cannot create the server's mutex");
        return -1;
    }
    if (mcp_metrics_init(&s->metrics) != 0) {
        snprintf(err->message, sizeof err->message, "out of memory");
        return -1;
    }
    const char *root = cfg->sessions_dir;
    if (root == NULL) {
        const char *tmp = getenv("TMPDIR");
        size_t len = strlen(tmp && *tmp ? tmp : "/tmp") + sizeof "/vivarium-mcp-XXXXXX";
        s->tmp_root = malloc(len);
        if (s->tmp_root == NULL) {
            snprintf(err->message, sizeof err->message, "out of memory");
            return -1;
        }
        snprintf(s->tmp_root, len, "%s/vivarium-mcp-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (mkdtemp(s->tmp_root) == NULL) {
            snprintf(err->message, sizeof err->message, "cannot create %s: %s", s->tmp_root,
                     strerror(errno));
            free(s->tmp_root);
            s->tmp_root = NULL;
            return -1;
        }
        root = s->tmp_root;
    }
    if (viv_session_store_open(root, &s->store, err) != VIV_OK) {
        return -1;
    }
    viv_session_store_set_logger(s->store, cfg->logger);
    adopt_sessions(s);
    if (cfg->session_idle_s > 0) {
        if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
            snprintf(err->message, sizeof err->message, "cannot start the session reaper");
            return -1;
        }
        s->reaper_started = true;
    }
    return 0;
}

void mcp_server_shutdown(mcp_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    for (mcp_request *r = s->inflight; r != NULL; r = r->next) {
        viv_cancel_trigger(r->cancel);
    }
    pthread_cond_broadcast(&s->cv);
    while (s->pending > 0) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    if (s->reaper_started) {
        pthread_join(s->reaper, NULL);
    }
    if (s->tmp_root != NULL && s->store != NULL) {
        /* The private root holds only this server's sessions. */
        for (size_t i = 0; i < s->nsessions; i++) {
            viv_session_remove(s->store, s->sessions[i].id, NULL);
        }
        if (rmdir(s->tmp_root) != 0) {
            mcp_log("cannot remove %s: %s", s->tmp_root, strerror(errno));
        }
    }
    viv_session_store_close(s->store);
    free(s->tmp_root);
    free(s->sessions);
    while (s->clients != NULL) {
        mcp_client *c = s->clients;
        s->clients = c->next;
        free(c);
    }
    mcp_metrics_free(&s->metrics);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}
