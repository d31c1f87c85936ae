/*
 * src/sandbox/warm.c: the warm pool, the library's side.
 *
 * Owns: admission control and the table of zygotes (see warm.h). A pool is
 * shared between threads, so everything here is under pool->lock.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fdpass.h"
#include "runner.h"
#include "session_internal.h"
#include "spec.h"
#include "warm.h"
#include "zygote.h"

/* How long a started zygote may take to answer a request. */
#define REPLY_TIMEOUT_MS 10000
/* Start-up configurations kept warm at once (each costs about 30 MB);
 * the least recently used idle one makes room. */
#define MAX_ZYGOTES 8

#define DEFAULT_MAX_QUEUED 64u

/* Live interpreters (state.h), unless the options say otherwise: at most
 * this many, and each ends after this long idle; the least recently used
 * idle one makes room. */
#define DEFAULT_MAX_LIVE    16u
#define DEFAULT_LIVE_IDLE_S 600.0

typedef struct busy_session {
    char *id;
    struct busy_session *next;
} busy_session;

/* One fork server, for one start-up configuration. */
typedef struct zygote {
    char *key;
    pid_t pid;
    int ctl;
    char dir[4096]; /* its private directory: program, placeholder mounts, log */
    uint32_t pages;
    bool dead;
    unsigned users;     /* executions holding it (under pool->lock) */
    uint64_t last_used; /* a pool-wide counter, for eviction */
    pthread_mutex_t io; /* one request and its reply at a time */
    struct zygote *next;
} zygote;

/* A session's live interpreter: an execution process that stayed alive,
 * waiting on ctl for the session's next execution. */
typedef struct live_session {
    char id[VIV_SESSION_ID_MAX + 1];
    char dir[4096]; /* its private directory, the same all its life */
    char *key;      /* what its jail and mounts were made for */
    int ctl, pidfd; /* -1 while there is no interpreter (only the dir) */
    pid_t pid;
    uint64_t idle_since_ns;
    struct live_session *next;
} live_session;

struct viv_warm_pool {
    live_session *live;    /* under lock */
    pthread_mutex_t spawn; /* held while a zygote starts */
    zygote *zygotes;
    unsigned next_pick;
    uint64_t uses;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    unsigned max_concurrent, max_queued, running, queued;
    busy_session *busy;
    char **preimports;
    size_t npreimports;
    unsigned zygotes_per_config;
    double start_timeout_s;
    unsigned max_live;
    double live_idle_s;
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
    if (opts->live_idle_s < 0 || opts->live_idle_s > 1e7) {
        return viv_error_set(err, VIV_EINVAL, "live_idle_s", NULL,
                             "live_idle_s must be between 0 and 10000000 seconds");
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
    p->max_concurrent =
        opts->max_concurrent ? opts->max_concurrent : (unsigned)(cpus > 0 ? 2 * cpus : 2);
    p->max_queued = opts->max_queued ? opts->max_queued : DEFAULT_MAX_QUEUED;
    p->zygotes_per_config = opts->zygotes ? opts->zygotes : 1;
    p->start_timeout_s = opts->start_timeout_s > 0 ? opts->start_timeout_s : 60;
    p->max_live = opts->max_live ? opts->max_live : DEFAULT_MAX_LIVE;
    p->live_idle_s = opts->live_idle_s > 0 ? opts->live_idle_s : DEFAULT_LIVE_IDLE_S;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free_pool(p);
        return viv_error_set(err, VIV_EHOST, NULL, NULL, "cannot create a mutex");
    }
    if (pthread_mutex_init(&p->spawn, NULL) != 0) {
        pthread_mutex_destroy(&p->lock);
        free_pool(p);
        return viv_error_set(err, VIV_EHOST, NULL, NULL, "cannot create a mutex");
    }
    if (pthread_cond_init(&p->changed, NULL) != 0) {
        pthread_mutex_destroy(&p->lock);
        pthread_mutex_destroy(&p->spawn);
        free_pool(p);
        return viv_error_set(err, VIV_EHOST, NULL, NULL, "cannot create a condition variable");
    }
    *out = p;
    return VIV_OK;
}

static void remove_dir(const char *dir)
{
    static const char *const files[] = {"zygote.py", "zygote.log", VIV_STATE_MODULE_FILE};
    char path[4200];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void zygote_stop(zygote *z)
{
    if (z->ctl >= 0) {
        close(z->ctl);
        z->ctl = -1;
    }
    if (z->pid > 0) {
        kill(z->pid, SIGKILL);
        while (waitpid(z->pid, NULL, 0) < 0 && errno == EINTR) {
        }
        z->pid = -1;
    }
    if (z->dir[0] != '\0') {
        remove_dir(z->dir);
        z->dir[0] = '\0';
    }
    z->dead = true;
}

static void zygote_free(zygote *z)
{
    zygote_stop(z);
    pthread_mutex_destroy(&z->io);
    free(z->key);
    free(z);
}

static void live_retire(live_session *ls)
{
    if (ls->ctl >= 0) {
        close(ls->ctl);
        ls->ctl = -1;
    }
    if (ls->pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, ls->pidfd, SIGKILL, NULL, 0);
        close(ls->pidfd);
        ls->pidfd = -1;
    }
    free(ls->key);
    ls->key = NULL;
}

static void live_free(live_session *ls)
{
    live_retire(ls);
    if (ls->dir[0] != '\0') {
        char parent[4096];
        snprintf(parent, sizeof parent, "%s", ls->dir);
        char *slash = strrchr(parent, '/');
        if (slash != NULL) {
            *slash = '\0';
            int pfd = open(parent[0] ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (pfd >= 0) {
                (void)viv_session_rmtree_at(pfd, slash + 1);
                close(pfd);
            }
        }
    }
    free(ls);
}

void viv_warm_pool_destroy(viv_warm_pool *pool)
{
    if (pool == NULL) {
        return;
    }
    while (pool->live != NULL) {
        live_session *ls = pool->live;
        pool->live = ls->next;
        live_free(ls);
    }
    while (pool->zygotes != NULL) {
        zygote *z = pool->zygotes;
        pool->zygotes = z->next;
        zygote_free(z);
    }
    pthread_mutex_destroy(&pool->spawn);
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

/* --- zygotes ------------------------------------------------------------------- */

/* Why spec cannot be served warm, or NULL when it can. */
static const char *cold_only_reason(const viv_exec_spec *spec)
{
    if (spec->allow_unmetered) {
        return "unmetered runs (benchmarks) are always cold";
    }
    for (size_t i = 0; i < spec->envc; i++) {
        if (strncmp(spec->env[i], "PYTHONHASHSEED=", 15) == 0) {
            const char *v = spec->env[i] + 15;
            bool digits = *v != '\0';
            for (const char *c = v; *c; c++) {
                digits = digits && *c >= '0' && *c <= '9';
            }
            return digits ? NULL
                          : "PYTHONHASHSEED is not a fixed number, and a warm interpreter's "
                            "hash seed cannot change per execution";
        }
    }
    return "PYTHONHASHSEED is not set, so each execution needs its own random hash seed, "
           "which a warm interpreter cannot change";
}

static int write_bytes(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    return close(fd);
}

static int write_file(const char *path, const char *text)
{
    return write_bytes(path, text, strlen(text));
}

static void log_tail(const char *dir, char *out, size_t len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/zygote.log", dir);
    out[0] = '\0';
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return;
    }
    char buf[2048];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) {
        buf[--n] = '\0';
    }
    /* The last three lines: the interpreter's own last words (such as
     * the exception a failed pre-import raised) come before ours. */
    const char *last = buf + n;
    for (int lines = 0; lines < 3 && last > buf;) {
        last--;
        if (*last == '\n') {
            lines++;
        }
    }
    if (*last == '\n') {
        last++;
    }
    size_t take = strlen(last) < len ? strlen(last) : len - 1;
    memcpy(out, last, take);
    out[take] = '\0';
    for (char *c = out; *c; c++) {
        if (*c == '\n') {
            *c = ' ';
        }
    }
}

static viv_status zygote_start(viv_warm_pool *pool, const viv_sandbox *sb,
                               const viv_exec_spec *spec, zygote *z, viv_error *err)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(z->dir, sizeof z->dir, "%s/vivarium-zygote-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(z->dir) == NULL) {
        z->dir[0] = '\0';
        return viv_error_set(err, VIV_EHOST, NULL, NULL,
                             "cannot create the warm interpreter's directory: %s", strerror(errno));
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/zygote.py", z->dir);
    char *program = viv_runner_zygote_program(pool->preimports, pool->npreimports);
    if (program == NULL || write_file(path, program) != 0) {
        free(program);
        return viv_error_set(err, VIV_EHOST, NULL, path, "cannot write %s", path);
    }
    free(program);
    /* Loaded once at start-up, for the executions that keep state. */
    size_t mlen = 0;
    const char *module = viv_runner_state_module(&mlen);
    snprintf(path, sizeof path, "%s/" VIV_STATE_MODULE_FILE, z->dir);
    if (write_bytes(path, module, mlen) != 0) {
        return viv_error_set(err, VIV_EHOST, NULL, path, "cannot write %s", path);
    }
    snprintf(path, sizeof path, "%s/zygote.log", z->dir);
    int log = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int sv[2];
    if (log < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        int e = errno;
        if (log >= 0) {
            close(log);
        }
        return viv_error_set(err, VIV_EHOST, NULL, NULL, "cannot set up the warm interpreter: %s",
                             strerror(e));
    }
    /* The zygote's own start-up: the same argv, env, layout and read-only
     * mounts as the executions it serves, its program in place of theirs,
     * and its private directory behind the workspace and program mounts
     * until an execution brings its own. */
    viv_exec_spec boot = *spec;
    boot.owned = NULL;
    boot.nowned = 0;
    boot.map = NULL;
    const char *argv[256 + 1];
    viv_wasi_preopen pre[8 + VIV_POLICY_MAX_MOUNTS + VIV_GUEST_MAX_MOUNTS];
    if (spec->interp_argc >= 256 || spec->npreopens > sizeof pre / sizeof *pre) {
        close(log);
        close(sv[0]);
        close(sv[1]);
        return viv_error_set(err, VIV_EPOLICY, "argv", NULL,
                             "too many interpreter arguments or mounts for a warm interpreter");
    }
    for (size_t i = 0; i < spec->interp_argc; i++) {
        argv[i] = spec->argv[i];
    }
    argv[spec->interp_argc] = VIV_PROGRAM_GUEST_DIR "/zygote.py";
    boot.argv = argv;
    boot.argc = spec->interp_argc + 1;
    for (size_t i = 0; i < spec->npreopens; i++) {
        pre[i] = spec->preopens[i];
        if (!viv_exec_spec_startup_mount(&pre[i])) {
            pre[i].host_path = z->dir;
        }
    }
    boot.preopens = pre;
    boot.stdin_data = NULL;
    boot.stdin_len = 0;
    viv_zygote_boot b = {.sb = sb, .startup = &boot, .control_fd = sv[1], .log_fd = log};
    pid_t pid = fork();
    if (pid == 0) {
        viv_zygote_main(&b);
    }
    int e = errno;
    close(sv[1]);
    close(log);
    if (pid < 0) {
        close(sv[0]);
        return viv_error_set(err, VIV_EHOST, NULL, NULL, "cannot fork: %s", strerror(e));
    }
    z->pid = pid;
    z->ctl = sv[0];
    struct pollfd pfd = {z->ctl, POLLIN, 0};
    int n = poll(&pfd, 1, (int)(pool->start_timeout_s * 1000));
    viv_zygote_ready ready = {0};
    if (n == 1 && recv(z->ctl, &ready, sizeof ready, 0) == (ssize_t)sizeof ready &&
        ready.magic == VIV_ZYGOTE_MAGIC) {
        z->pages = ready.pages;
        return VIV_OK;
    }
    char why[512];
    log_tail(z->dir, why, sizeof why);
    viv_status st =
        viv_error_set(err, VIV_EHOST, NULL, NULL, "the warm interpreter did not start%s%s",
                      n == 0 ? " in time" : "", why[0] ? ": " : "");
    if (why[0] != '\0' && err != NULL) {
        size_t used = strlen(err->message);
        snprintf(err->message + used, sizeof err->message - used, "%s", why);
    }
    return st;
}

/* A running zygote for spec's configuration, started if needed, held for
 * the caller until zygote_put(). */
static viv_status zygote_for(viv_warm_pool *pool, const viv_sandbox *sb, const viv_exec_spec *spec,
                             zygote **out, viv_error *err)
{
    char *key = viv_exec_spec_startup_key(spec, sb->artifact_path);
    if (key == NULL) {
        return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    pthread_mutex_lock(&pool->spawn);
    pthread_mutex_lock(&pool->lock);
    zygote *found[64];
    unsigned nfound = 0, nlive = 0;
    zygote *idle_lru = NULL;
    for (zygote **zp = &pool->zygotes; *zp != NULL;) {
        zygote *z = *zp;
        if (z->dead && z->users == 0) {
            *zp = z->next;
            zygote_free(z);
            continue;
        }
        if (!z->dead) {
            nlive++;
            if (strcmp(z->key, key) == 0 && nfound < 64) {
                found[nfound++] = z;
            } else if (z->users == 0 && (idle_lru == NULL || z->last_used < idle_lru->last_used)) {
                idle_lru = z;
            }
        }
        zp = &z->next;
    }
    zygote *pick = NULL;
    if (nfound >= pool->zygotes_per_config) {
        pick = found[pool->next_pick++ % nfound];
        pick->users++;
        pick->last_used = ++pool->uses;
    } else if (nlive >= MAX_ZYGOTES && idle_lru != NULL) {
        /* Marked dead, it is stopped and freed by the next lookup. */
        idle_lru->dead = true;
    }
    pthread_mutex_unlock(&pool->lock);
    viv_status st = VIV_OK;
    if (pick == NULL) {
        zygote *z = calloc(1, sizeof *z);
        if (z == NULL || pthread_mutex_init(&z->io, NULL) != 0) {
            free(z);
            st = viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
        } else {
            z->ctl = -1;
            z->key = key;
            key = NULL;
            st = zygote_start(pool, sb, spec, z, err);
            if (st != VIV_OK) {
                zygote_free(z);
            } else {
                pthread_mutex_lock(&pool->lock);
                z->users = 1;
                z->last_used = ++pool->uses;
                z->next = pool->zygotes;
                pool->zygotes = z;
                pthread_mutex_unlock(&pool->lock);
                pick = z;
            }
        }
    }
    pthread_mutex_unlock(&pool->spawn);
    free(key);
    *out = pick;
    return st;
}

static void zygote_put(viv_warm_pool *pool, zygote *z)
{
    pthread_mutex_lock(&pool->lock);
    z->users--;
    pthread_mutex_unlock(&pool->lock);
}

/* With live, a sixth descriptor: the socket of a live interpreter. */
static int send_request(zygote *z, const int fds[VIV_ZYGOTE_REQUEST_FDS + 1], bool live)
{
    viv_zygote_request req = {VIV_ZYGOTE_MAGIC, 0};
    return viv_fdpass_send(z->ctl, &req, sizeof req, fds, VIV_ZYGOTE_REQUEST_FDS + (live ? 1 : 0));
}

/* The reply: 0 with the pid and pidfd, or -1 with an errno value in *error. */
static int recv_reply(zygote *z, pid_t *pid, int *pidfd, int *error)
{
    struct pollfd pfd = {z->ctl, POLLIN, 0};
    *error = EPROTO;
    if (poll(&pfd, 1, REPLY_TIMEOUT_MS) != 1) {
        *error = ETIMEDOUT;
        return -1;
    }
    viv_zygote_reply reply;
    int fd = -1;
    size_t nfds = 0;
    ssize_t n = viv_fdpass_recv(z->ctl, &reply, sizeof reply, &fd, 1, &nfds);
    if (n != (ssize_t)sizeof reply || reply.magic != VIV_ZYGOTE_MAGIC || reply.error != 0 ||
        nfds != 1) {
        if (nfds == 1) {
            close(fd);
        }
        if (n == (ssize_t)sizeof reply && reply.error != 0) {
            *error = reply.error;
        }
        return -1;
    }
    *pid = reply.pid;
    *pidfd = fd;
    return 0;
}

void viv_warm_prepare(viv_warm_pool *pool, const viv_sandbox *sb, const viv_exec_spec *spec)
{
    zygote *z = NULL;
    if (cold_only_reason(spec) == NULL && zygote_for(pool, sb, spec, &z, NULL) == VIV_OK &&
        z != NULL) {
        zygote_put(pool, z);
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static live_session *live_find(viv_warm_pool *pool, const char *id)
{
    for (live_session *ls = pool->live; ls != NULL; ls = ls->next) {
        if (strcmp(ls->id, id) == 0) {
            return ls;
        }
    }
    return NULL;
}

/* Under pool->lock: end live interpreters idle too long (the caller's
 * own too: it was idle until now), and the least recently used idle one
 * when there are too many (never the caller's: it is about to be used). */
static void live_evict(viv_warm_pool *pool, const char *keep)
{
    uint64_t now = now_ns();
    unsigned alive = 0;
    live_session *lru = NULL;
    for (live_session *ls = pool->live; ls != NULL; ls = ls->next) {
        if (ls->ctl < 0) {
            continue;
        }
        bool mine = strcmp(ls->id, keep) == 0;
        if (!mine && session_busy(pool, ls->id)) {
            alive++; /* running: not idle */
            continue;
        }
        if ((double)(now - ls->idle_since_ns) > pool->live_idle_s * 1e9) {
            live_retire(ls);
            continue;
        }
        alive++;
        if (!mine && (lru == NULL || ls->idle_since_ns < lru->idle_since_ns)) {
            lru = ls;
        }
    }
    if (alive >= pool->max_live && lru != NULL) {
        live_retire(lru);
    }
    /* Sessions without an interpreter keep no directory either, apart
     * from the caller's. */
    for (live_session **lp = &pool->live; *lp != NULL;) {
        live_session *ls = *lp;
        if (ls->ctl < 0 && strcmp(ls->id, keep) != 0 && !session_busy(pool, ls->id)) {
            *lp = ls->next;
            live_free(ls);
        } else {
            lp = &ls->next;
        }
    }
}

int viv_warm_live_dir(viv_warm_pool *pool, const char *session_id, char *dir, size_t len,
                      bool *has_interpreter)
{
    pthread_mutex_lock(&pool->lock);
    live_evict(pool, session_id);
    live_session *ls = live_find(pool, session_id);
    if (ls == NULL) {
        ls = calloc(1, sizeof *ls);
        const char *tmp = getenv("TMPDIR");
        if (ls != NULL) {
            snprintf(ls->id, sizeof ls->id, "%s", session_id);
            snprintf(ls->dir, sizeof ls->dir, "%s/vivarium-live-XXXXXX",
                     tmp && tmp[0] == '/' ? tmp : "/tmp");
            ls->ctl = ls->pidfd = -1;
        }
        if (ls == NULL || mkdtemp(ls->dir) == NULL) {
            free(ls);
            pthread_mutex_unlock(&pool->lock);
            return -1;
        }
        ls->next = pool->live;
        pool->live = ls;
    }
    snprintf(dir, len, "%s", ls->dir);
    *has_interpreter = ls->ctl >= 0;
    pthread_mutex_unlock(&pool->lock);
    /* What the previous execution left (its program, the state files). */
    DIR *d = opendir(dir);
    int dfd = d != NULL ? dirfd(d) : -1;
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            (void)viv_session_rmtree_at(dfd, de->d_name);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return 0;
}

void viv_warm_pool_end_session(viv_warm_pool *pool, const char *session_id)
{
    if (pool == NULL || session_id == NULL) {
        return;
    }
    pthread_mutex_lock(&pool->lock);
    live_session *ls = live_find(pool, session_id);
    if (ls != NULL) {
        live_retire(ls);
    }
    pthread_mutex_unlock(&pool->lock);
}

void viv_warm_pool_expire(viv_warm_pool *pool)
{
    if (pool == NULL) {
        return;
    }
    pthread_mutex_lock(&pool->lock);
    live_evict(pool, "");
    pthread_mutex_unlock(&pool->lock);
}

void viv_warm_live_done(viv_warm_pool *pool, const char *session_id, bool continues)
{
    pthread_mutex_lock(&pool->lock);
    live_session *ls = live_find(pool, session_id);
    if (ls != NULL) {
        if (!continues) {
            live_retire(ls);
        }
        ls->idle_since_ns = now_ns();
    }
    pthread_mutex_unlock(&pool->lock);
}

/* The session's live interpreter takes the execution: 1 when it did. */
static int live_start(viv_warm_pool *pool, const viv_exec_spec *spec, const char *key, int spec_fd,
                      int out_fd, int err_fd, int report_fd, pid_t *pid, int *pidfd)
{
    pthread_mutex_lock(&pool->lock);
    live_session *ls = live_find(pool, spec->session_id);
    int rc = 0;
    if (ls != NULL && ls->ctl >= 0) {
        struct pollfd pf = {ls->pidfd, POLLIN, 0};
        int fds[4] = {spec_fd, out_fd, err_fd, report_fd};
        int dup_fd = -1;
        if (ls->key != NULL && strcmp(ls->key, key) == 0 && poll(&pf, 1, 0) == 0 &&
            (dup_fd = fcntl(ls->pidfd, F_DUPFD_CLOEXEC, 3)) >= 0 &&
            viv_fdpass_send(ls->ctl, "", 1, fds, 4) == 0) {
            *pid = ls->pid;
            *pidfd = dup_fd;
            rc = 1;
        } else {
            /* Gone, or made for other mounts: a new one starts from the
             * session's saved state. */
            if (dup_fd >= 0) {
                close(dup_fd);
            }
            live_retire(ls);
        }
    }
    pthread_mutex_unlock(&pool->lock);
    return rc;
}

/* A new live interpreter for spec's session has started as *pid; ctl is
 * the pool's end of its socket (taken over). */
static void live_adopt(viv_warm_pool *pool, const viv_exec_spec *spec, const char *key, int ctl,
                       pid_t pid, int pidfd)
{
    pthread_mutex_lock(&pool->lock);
    live_session *ls = live_find(pool, spec->session_id);
    char *k = strdup(key);
    int dup_fd = fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
    if (ls == NULL || k == NULL || dup_fd < 0) {
        free(k);
        if (dup_fd >= 0) {
            close(dup_fd);
        }
        close(ctl); /* it ends after this execution */
    } else {
        live_retire(ls);
        ls->key = k;
        ls->ctl = ctl;
        ls->pid = pid;
        ls->pidfd = dup_fd;
        ls->idle_since_ns = now_ns();
    }
    pthread_mutex_unlock(&pool->lock);
}

int viv_warm_start(viv_warm_pool *pool, const viv_sandbox *sb, const viv_exec_spec *spec,
                   int out_fd, int err_fd, int report_fd, pid_t *pid, int *pidfd, int *status_fd,
                   viv_error *err)
{
    if (cold_only_reason(spec) != NULL) {
        return 0;
    }
    char *live_key = NULL;
    if (spec->live && spec->session_id != NULL) {
        live_key = viv_exec_spec_live_key(spec, sb->artifact_path);
        int spec_fd = -1;
        if (live_key != NULL && viv_exec_spec_to_memfd(spec, &spec_fd) == 0) {
            int started =
                live_start(pool, spec, live_key, spec_fd, out_fd, err_fd, report_fd, pid, pidfd);
            close(spec_fd);
            if (started) {
                free(live_key);
                *status_fd = -1;
                return 1;
            }
        }
    }
    zygote *z = NULL;
    viv_error zerr = {0};
    if (zygote_for(pool, sb, spec, &z, &zerr) != VIV_OK || z == NULL) {
        return 0; /* no warm interpreter: cold, with the same result */
    }
    if ((uint64_t)z->pages * VIV_WASM_PAGE > spec->memory_bytes) {
        zygote_put(pool, z);
        return 0; /* below what start-up already used: cold reports it properly */
    }
    int spec_fd = -1, status[2] = {-1, -1};
    if (viv_exec_spec_to_memfd(spec, &spec_fd) != 0 || pipe2(status, O_CLOEXEC) != 0) {
        if (spec_fd >= 0) {
            close(spec_fd);
        }
        zygote_put(pool, z);
        return 0;
    }
    int live_sv[2] = {-1, -1};
    if (live_key != NULL && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, live_sv) != 0) {
        live_sv[0] = live_sv[1] = -1;
    }
    int fds[VIV_ZYGOTE_REQUEST_FDS + 1] = {spec_fd,   out_fd,    err_fd,
                                           report_fd, status[1], live_sv[1]};
    int rc = 0, error = 0;
    pthread_mutex_lock(&z->io);
    if (z->dead || send_request(z, fds, live_sv[1] >= 0) != 0) {
        /* Nothing was forked: the execution can still run cold. */
        z->dead = true;
        rc = 0;
    } else if (recv_reply(z, pid, pidfd, &error) != 0) {
        /* It may have forked: stopping the zygote stops its children
         * (they die with their parent), and this execution fails. */
        z->dead = true;
        kill(z->pid, SIGKILL);
        viv_error_set(err, VIV_EHOST, NULL, NULL, "the warm interpreter failed: %s",
                      strerror(error));
        rc = -1;
    } else {
        rc = 1;
    }
    pthread_mutex_unlock(&z->io);
    zygote_put(pool, z);
    close(spec_fd);
    close(status[1]);
    if (live_sv[1] >= 0) {
        close(live_sv[1]);
    }
    if (rc == 1) {
        *status_fd = status[0];
        if (live_sv[0] >= 0) {
            live_adopt(pool, spec, live_key, live_sv[0], *pid, *pidfd);
        }
    } else {
        close(status[0]);
        if (live_sv[0] >= 0) {
            close(live_sv[0]);
        }
    }
    free(live_key);
    return rc;
}

viv_status viv_sandbox_prewarm(viv_sandbox *sb, viv_error *err)
{
    if (sb == NULL || sb->warm == NULL) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL,
                             "prewarm needs a sandbox with a warm pool attached");
    }
    char dir[] = "/";
    viv_exec_options none = {0};
    viv_exec_spec spec;
    viv_status st = viv_exec_spec_build(&spec, sb, dir, "main.py", dir, &none, NULL, 0, err);
    if (st != VIV_OK) {
        return st;
    }
    const char *why = cold_only_reason(&spec);
    zygote *z = NULL;
    if (why != NULL) {
        st = viv_error_set(err, VIV_EPOLICY, "env", NULL, "cannot serve this policy warm: %s", why);
    } else if ((st = zygote_for(sb->warm, sb, &spec, &z, err)) == VIV_OK && z != NULL) {
        zygote_put(sb->warm, z);
    }
    viv_exec_spec_free(&spec);
    return st;
}
