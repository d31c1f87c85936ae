/*
 * src/sandbox/warm.c: the warm pool, the library's side.
 *
 * Owns: admission control and the table of zygotes (see warm.h). A pool is
 * shared between threads, so everything here is under pool->lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "warm.h"

#define DEFAULT_MAX_QUEUED 64u

typedef struct busy_session {
    char *id;
    struct busy_session *next;
} busy_session;

struct viv_warm_pool {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    unsigned max_concurrent, max_queued, running, queued;
    busy_session *busy;
    char **preimports;
    size_t npreimports;
    unsigned zygotes_per_config;
    double start_timeout_s;
};

static const char *const default_preimports[] = {"json", "re", "csv", "sqlite3"};

static bool valid_module_name(const char *s)
{
    /* Dotted identifiers only: the list is written into the zygote's
     * program as Python source. */
    if (s == NULL || *s == '\0' || strlen(s) > 200) {
        return false;
    }
    bool start = true;
    for (const char *c = s; *c; c++) {
        bool alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_';
        bool digit = *c >= '0' && *c <= '9';
        if (*c == '.') {
            if (start) {
                return false;
            }
            start = true;
        } else if (alpha || (digit && !start)) {
            start = false;
        } else {
            return false;
        }
    }
    return !start;
}

static void free_pool(viv_warm_pool *p)
{
    for (size_t i = 0; i < p->npreimports; i++) {
        free(p->preimports[i]);
    }
    free(p->preimports);
    free(p);
}

viv_status viv_warm_pool_create(const viv_warm_options *opts, viv_warm_pool **out, viv_error *err)
{
    if (out == NULL) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "viv_warm_pool_create: out is NULL");
    }
    *out = NULL;
    viv_warm_options none = {0};
    if (opts == NULL) {
        opts = &none;
    }
    const char *const *pre = opts->preimports ? opts->preimports : default_preimports;
    size_t npre = opts->preimports ? opts->npreimports
                                   : sizeof default_preimports / sizeof *default_preimports;
    for (size_t i = 0; i < npre; i++) {
        if (!valid_module_name(pre[i])) {
            return viv_error_set(err, VIV_EINVAL, "preimports", NULL,
                                 "pre-import \"%s\" is not a module name", pre[i] ? pre[i] : "");
        }
    }
    if (opts->start_timeout_s < 0) {
        return viv_error_set(err, VIV_EINVAL, "start_timeout_s", NULL,
                             "start_timeout_s must not be negative");
    }
    viv_warm_pool *p = calloc(1, sizeof *p);
    if (p == NULL || (npre > 0 && (p->preimports = calloc(npre, sizeof *p->preimports)) == NULL)) {
        free(p);
        return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    for (size_t i = 0; i < npre; i++) {
        if ((p->preimports[i] = strdup(pre[i])) == NULL) {
            p->npreimports = i;
            free_pool(p);
            return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
        }
    }
    p->npreimports = npre;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    p->max_concurrent = opts->max_concurrent ? opts->max_concurrent
                                             : (unsigned)(cpus > 0 ? 2 * cpus : 2);
    p->max_queued = opts->max_queued ? opts->max_queued : DEFAULT_MAX_QUEUED;
    p->zygotes_per_config = opts->zygotes ? opts->zygotes : 1;
    p->start_timeout_s = opts->start_timeout_s > 0 ? opts->start_timeout_s : 60;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free_pool(p);
        return viv_error_set(err, VIV_EHOST, NULL, NULL, "cannot create a mutex");
    }
    if (pthread_cond_init(&p->changed, NULL) != 0) {
        pthread_mutex_destroy(&p->lock);
        free_pool(p);
        return viv_error_set(err, VIV_EHOST, NULL, NULL, "cannot create a condition variable");
    }
    *out = p;
    return VIV_OK;
}

void viv_warm_pool_destroy(viv_warm_pool *pool)
{
    if (pool == NULL) {
        return;
    }
    pthread_cond_destroy(&pool->changed);
    pthread_mutex_destroy(&pool->lock);
    free_pool(pool);
}

static bool session_busy(const viv_warm_pool *p, const char *id)
{
    for (const busy_session *b = p->busy; b != NULL; b = b->next) {
        if (strcmp(b->id, id) == 0) {
            return true;
        }
    }
    return false;
}

viv_status viv_warm_admit(viv_warm_pool *p, const char *session_id, viv_error *err)
{
    busy_session *mine = NULL;
    if (session_id != NULL) {
        mine = calloc(1, sizeof *mine);
        if (mine == NULL || (mine->id = strdup(session_id)) == NULL) {
            free(mine);
            return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
        }
    }
    pthread_mutex_lock(&p->lock);
    bool must_wait = p->running >= p->max_concurrent || (mine && session_busy(p, session_id));
    if (must_wait && p->queued >= p->max_queued) {
        unsigned running = p->running, queued = p->queued;
        pthread_mutex_unlock(&p->lock);
        if (mine != NULL) {
            free(mine->id);
            free(mine);
        }
        return viv_error_set(err, VIV_EBUSY, NULL, NULL,
                             "overloaded: %u executions running and %u waiting (the limits); "
                             "retry later",
                             running, queued);
    }
    if (must_wait) {
        p->queued++;
        while (p->running >= p->max_concurrent || (mine && session_busy(p, session_id))) {
            pthread_cond_wait(&p->changed, &p->lock);
        }
        p->queued--;
    }
    p->running++;
    if (mine != NULL) {
        mine->next = p->busy;
        p->busy = mine;
    }
    pthread_mutex_unlock(&p->lock);
    return VIV_OK;
}

void viv_warm_release(viv_warm_pool *p, const char *session_id)
{
    busy_session *gone = NULL;
    pthread_mutex_lock(&p->lock);
    p->running--;
    if (session_id != NULL) {
        for (busy_session **b = &p->busy; *b != NULL; b = &(*b)->next) {
            if (strcmp((*b)->id, session_id) == 0) {
                gone = *b;
                *b = gone->next;
                break;
            }
        }
    }
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    if (gone != NULL) {
        free(gone->id);
        free(gone);
    }
}

viv_status viv_sandbox_prewarm(viv_sandbox *sb, viv_error *err)
{
    (void)sb;
    return viv_error_set(err, VIV_EHOST, NULL, NULL,
                         "warm interpreters are not implemented yet (work in progress)");
}
