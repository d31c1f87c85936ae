/*
 * src/log/log.c: viv_logger, its sinks, and the event line.
 *
 * The line is built (timestamp, reserved keys, caller's fields, serialised)
 * before the logger's mutex is taken, and delivered to every sink under it,
 * so lines never interleave within a process. Writes to file descriptors are
 * a single write(2) of the whole line including its newline (so O_APPEND
 * writers in other processes do not interleave either), retried on EINTR
 * and short writes, with SIGPIPE blocked around them and discarded if the
 * write raised it.
 *
 * syslog: openlog(3) is process-global state owned by the application (the
 * ident pointer is not even copied), so two loggers with different idents,
 * or a host program with its own openlog(), would clobber each other. This
 * file therefore never calls openlog() or closelog(): each message is
 * syslog(LOG_USER | priority, "IDENT[PID]: LINE"), which carries this
 * logger's ident and pid inside the message whatever the process-wide
 * settings are. glibc connects to /dev/log lazily on the first message.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "policy.h"

/* A non-blocking descriptor that stays full this long loses the line. */
#define WRITE_WAIT_MS 1000
/* Syslog idents: 1..48 of [A-Za-z0-9._-] (an RFC 5424 APP-NAME fits 48). */
#define IDENT_MAX 48

typedef enum sink_kind { SINK_FD, SINK_FILE, SINK_SYSLOG, SINK_CALLBACK } sink_kind;

typedef struct sink {
    sink_kind kind;
    int fd;        /* SINK_FD (borrowed), SINK_FILE (owned) */
    bool torn;     /* a line to fd was abandoned half-written */
    char *ident;   /* SINK_SYSLOG */
    viv_log_fn fn; /* SINK_CALLBACK */
    void *user;
} sink;

struct viv_logger {
    pthread_mutex_t mu; /* recursive: a callback may re-enter (and is refused) */
    atomic_int level;
    atomic_uint_least64_t dropped;
    atomic_size_t nsinks;
    sink *sinks; /* under mu */
    size_t cap;
    unsigned depth; /* under mu: > 0 while this logger is delivering */
};

/* ---- levels ---------------------------------------------------------------- */

static bool level_valid(viv_log_level level)
{
    return (int)level >= (int)VIV_LOG_DEBUG && (int)level <= (int)VIV_LOG_ERROR;
}

const char *viv_log_level_name(viv_log_level level)
{
    switch (level) {
    case VIV_LOG_DEBUG:
        return "debug";
    case VIV_LOG_INFO:
        return "info";
    case VIV_LOG_WARNING:
        return "warning";
    case VIV_LOG_ERROR:
        return "error";
    }
    return NULL;
}

static int syslog_priority(viv_log_level level)
{
    switch (level) {
    case VIV_LOG_DEBUG:
        return LOG_DEBUG;
    case VIV_LOG_INFO:
        return LOG_INFO;
    case VIV_LOG_WARNING:
        return LOG_WARNING;
    case VIV_LOG_ERROR:
        return LOG_ERR;
    }
    return LOG_ERR;
}

/* ---- logger ---------------------------------------------------------------- */

viv_status viv_logger_new(viv_logger **out, viv_error *err)
{
    if (out == NULL) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "viv_logger_new: out is NULL");
    }
    *out = NULL;
    viv_logger *lg = calloc(1, sizeof *lg);
    if (lg == NULL) {
        return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    pthread_mutexattr_t attr;
    int rc = pthread_mutexattr_init(&attr);
    if (rc == 0) {
        rc = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
        if (rc == 0) {
            rc = pthread_mutex_init(&lg->mu, &attr);
        }
        pthread_mutexattr_destroy(&attr);
    }
    if (rc != 0) {
        free(lg);
        return viv_error_set(err, rc == ENOMEM ? VIV_ENOMEM : VIV_EHOST, NULL, NULL,
                             "cannot create the logger's mutex: %s", strerror(rc));
    }
    atomic_init(&lg->level, (int)VIV_LOG_INFO);
    atomic_init(&lg->dropped, 0);
    atomic_init(&lg->nsinks, 0);
    *out = lg;
    return VIV_OK;
}

void viv_logger_free(viv_logger *lg)
{
    if (lg == NULL) {
        return;
    }
    size_t n = atomic_load(&lg->nsinks);
    for (size_t i = 0; i < n; i++) {
        sink *s = &lg->sinks[i];
        if (s->kind == SINK_FILE) {
            close(s->fd);
        }
        free(s->ident);
    }
    free(lg->sinks);
    pthread_mutex_destroy(&lg->mu);
    free(lg);
}

void viv_logger_set_level(viv_logger *lg, viv_log_level level)
{
    if (lg != NULL && level_valid(level)) {
        atomic_store(&lg->level, (int)level);
    }
}

bool viv_log_enabled(const viv_logger *lg, viv_log_level level)
{
    /* Only reads; the cast is for atomic_load, which C17 does not declare
     * for const-qualified objects. */
    viv_logger *m = (viv_logger *)lg;
    return lg != NULL && level_valid(level) && (int)level >= atomic_load(&m->level) &&
           atomic_load(&m->nsinks) > 0;
}

uint64_t viv_logger_dropped(const viv_logger *lg)
{
    if (lg == NULL) {
        return 0;
    }
    viv_logger *m = (viv_logger *)lg;
    return (uint64_t)atomic_load(&m->dropped);
}

/* Append a sink (whose resources the logger then owns). */
static viv_status add_sink(viv_logger *lg, const sink *s, const char *what, viv_error *err)
{
    viv_status st = VIV_OK;
    pthread_mutex_lock(&lg->mu);
    size_t n = atomic_load(&lg->nsinks);
    if (lg->depth > 0) {
        st = viv_error_set(err, VIV_EINVAL, NULL, NULL,
                           "viv_logger_add_%s: called from a log callback", what);
    } else if (n == lg->cap) {
        size_t cap = lg->cap ? lg->cap * 2 : 4;
        sink *grown = realloc(lg->sinks, cap * sizeof *grown);
        if (grown == NULL) {
            st = viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
        } else {
            lg->sinks = grown;
            lg->cap = cap;
        }
    }
    if (st == VIV_OK) {
        lg->sinks[n] = *s;
        atomic_store(&lg->nsinks, n + 1);
    }
    pthread_mutex_unlock(&lg->mu);
    return st;
}

viv_status viv_logger_add_fd(viv_logger *lg, int fd, viv_error *err)
{
    if (lg == NULL) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "viv_logger_add_fd: logger is NULL");
    }
    int flags = fd < 0 ? -1 : fcntl(fd, F_GETFL);
    if (flags < 0) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL,
                             "viv_logger_add_fd: %d is not an open file descriptor", fd);
    }
    if ((flags & O_ACCMODE) == O_RDONLY) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL,
                             "viv_logger_add_fd: %d is not open for writing", fd);
    }
    sink s = {.kind = SINK_FD, .fd = fd};
    return add_sink(lg, &s, "fd", err);
}

viv_status viv_logger_add_file(viv_logger *lg, const char *path, viv_error *err)
{
    if (lg == NULL || path == NULL || path[0] == '\0') {
        return viv_error_set(err, VIV_EINVAL, NULL, path, "viv_logger_add_file: %s",
                             lg ? "no path" : "logger is NULL");
    }
    int fd;
    do {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        return viv_error_set(err, e == ENOENT ? VIV_ENOENT : VIV_EHOST, NULL, path,
                             "cannot open log file %s: %s", path, strerror(e));
    }
    sink s = {.kind = SINK_FILE, .fd = fd};
    viv_status st = add_sink(lg, &s, "file", err);
    if (st != VIV_OK) {
        close(fd);
    }
    return st;
}

static bool ident_valid(const char *ident)
{
    size_t n = strlen(ident);
    if (n == 0 || n > IDENT_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = ident[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

viv_status viv_logger_add_syslog(viv_logger *lg, const char *ident, viv_error *err)
{
    if (lg == NULL) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "viv_logger_add_syslog: logger is NULL");
    }
    if (ident == NULL) {
        ident = "vivarium";
    }
    if (!ident_valid(ident)) {
        return viv_error_set(err, VIV_EINVAL, "ident", NULL,
                             "syslog ident must be 1 to %d characters of A-Z a-z 0-9 . _ -",
                             IDENT_MAX);
    }
    sink s = {.kind = SINK_SYSLOG, .fd = -1, .ident = strdup(ident)};
    if (s.ident == NULL) {
        return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
    }
    viv_status st = add_sink(lg, &s, "syslog", err);
    if (st != VIV_OK) {
        free(s.ident);
    }
    return st;
}

viv_status viv_logger_add_callback(viv_logger *lg, viv_log_fn fn, void *user, viv_error *err)
{
    if (lg == NULL || fn == NULL) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "viv_logger_add_callback: %s is NULL",
                             lg ? "fn" : "logger");
    }
    sink s = {.kind = SINK_CALLBACK, .fd = -1, .fn = fn, .user = user};
    return add_sink(lg, &s, "callback", err);
}

/* ---- UTF-8 repair and cutting ---------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s[0..n) (n >= 1), or 0 when
 * s[0] does not start one (overlong forms, surrogates and code points above
 * U+10FFFF are not well-formed). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2, cp = c & 0x1Fu, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, cp = c & 0x0Fu, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, cp = c & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */
#define ELLIPSIS    "\xE2\x80\xA6" /* U+2026 */

json_t *viv_log_path(const char *path)
{
    if (path == NULL) {
        return json_null();
    }
    const unsigned char *s = (const unsigned char *)path;
    size_t n = strlen(path);
    /* Kept characters take at most 4 bytes each; then the marker. */
    char buf[VIV_LOG_MAX_PATH_CHARS * 4 + 64];
    size_t out = 0, chars = 0, i = 0;
    while (i < n) {
        size_t len = utf8_seq(s + i, n - i);
        if (chars < VIV_LOG_MAX_PATH_CHARS) {
            if (len > 0) {
                memcpy(buf + out, s + i, len);
                out += len;
            } else {
                memcpy(buf + out, REPLACEMENT, 3);
                out += 3;
            }
        }
        i += len > 0 ? len : 1;
        chars++;
    }
    if (chars > VIV_LOG_MAX_PATH_CHARS) {
        out += (size_t)snprintf(buf + out, sizeof buf - out, ELLIPSIS "[+%zu chars]",
                                chars - VIV_LOG_MAX_PATH_CHARS);
    }
    return json_stringn(buf, out);
}

json_t *viv_log_path_list(const char *const *paths, size_t n)
{
    json_t *arr = json_array();
    if (arr == NULL) {
        return NULL;
    }
    for (size_t i = 0; paths != NULL && i < n && json_array_size(arr) < VIV_LOG_MAX_PATHS; i++) {
        if (paths[i] == NULL) {
            continue;
        }
        if (json_array_append_new(arr, viv_log_path(paths[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* ---- the line -------------------------------------------------------------- */

/* "2026-11-23T01:38:10.123456Z" */
static void format_ts(char out[32])
{
    struct timespec now;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0 || gmtime_r(&now.tv_sec, &tm) == NULL) {
        memset(&tm, 0, sizeof tm);
        tm.tm_year = 70;
        tm.tm_mday = 1;
        now.tv_nsec = 0;
    }
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%06ldZ", (long)(now.tv_nsec / 1000));
}

/* Set obj[key] to a repaired string; false when out of memory. */
static bool set_text(json_t *obj, const char *key, const char *value)
{
    json_t *v = json_string(value);
    if (v == NULL) {
        /* Not UTF-8 (or no memory): repair (and cut) it. */
        v = viv_log_path(value);
    }
    return v != NULL && json_object_set_new(obj, key, v) == 0;
}

static bool is_reserved(const char *key)
{
    return strcmp(key, "ts") == 0 || strcmp(key, "level") == 0 || strcmp(key, "event") == 0 ||
           strcmp(key, "execution_id") == 0;
}

/*
 * The serialised event in a buffer laid out as "\n" LINE "\n" "\0": the
 * leading newline lets a torn stream be resynchronised in the same write.
 * *len is the length of LINE. NULL when out of memory.
 */
static char *build_line(viv_log_level level, const char *event, const char *execution_id,
                        json_t *fields, size_t *len)
{
    char ts[32];
    format_ts(ts);
    char *buf = NULL;
    json_t *obj = json_object();
    if (obj == NULL || !set_text(obj, "ts", ts) ||
        !set_text(obj, "level", viv_log_level_name(level)) || !set_text(obj, "event", event) ||
        (execution_id != NULL && !set_text(obj, "execution_id", execution_id))) {
        goto out;
    }
    if (fields != NULL && json_is_object(fields)) {
        const char *key;
        json_t *value;
        json_object_foreach(fields, key, value)
        {
            if (!is_reserved(key) && json_object_set(obj, key, value) != 0) {
                goto out;
            }
        }
    }
    const size_t flags = JSON_COMPACT | JSON_REAL_PRECISION(15);
    size_t need = json_dumpb(obj, NULL, 0, flags);
    if (need == 0 || need > SIZE_MAX - 3 || (buf = malloc(need + 3)) == NULL) {
        goto out;
    }
    if (json_dumpb(obj, buf + 1, need, flags) != need) {
        free(buf);
        buf = NULL;
        goto out;
    }
    buf[0] = '\n';
    buf[need + 1] = '\n';
    buf[need + 2] = '\0';
    *len = need;
out:
    json_decref(obj);
    return buf;
}

/* ---- delivery -------------------------------------------------------------- */

static long elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/*
 * Write buf[0..len) to fd: one write(2) in the normal case; EINTR and short
 * writes are retried, EAGAIN waits (poll) up to WRITE_WAIT_MS in all, any
 * other error gives up. SIGPIPE is blocked for the duration, and a SIGPIPE
 * this write raised is taken off the thread's pending set before the mask
 * is restored (one that was already pending is left alone). Returns the
 * bytes written.
 */
static size_t write_all(int fd, const char *buf, size_t len)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    bool masked = pthread_sigmask(SIG_BLOCK, &pipe_set, &old) == 0;
    bool was_pending = masked && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;

    size_t off = 0;
    bool epipe = false, waited = false;
    struct timespec start;
    while (off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!waited) {
                clock_gettime(CLOCK_MONOTONIC, &start);
                waited = true;
            }
            long left = WRITE_WAIT_MS - elapsed_ms(&start);
            if (left <= 0) {
                break;
            }
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
                break;
            }
            continue;
        }
        epipe = n < 0 && errno == EPIPE;
        break;
    }

    if (epipe && masked && !was_pending) {
        const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    if (masked) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    return off;
}

/* Deliver the line (see build_line for buf's layout) to one sink. */
static bool deliver(sink *s, viv_log_level level, const char *event, char *buf, size_t len)
{
    switch (s->kind) {
    case SINK_FD:
    case SINK_FILE: {
        buf[len + 1] = '\n';
        /* After a torn line, start with a newline so this line is whole. */
        const char *from = s->torn ? buf : buf + 1;
        size_t total = s->torn ? len + 2 : len + 1;
        size_t done = write_all(s->fd, from, total);
        if (done == total) {
            s->torn = false;
            return true;
        }
        if (done > 0) {
            s->torn = true;
        }
        return false;
    }
    case SINK_SYSLOG:
        buf[len + 1] = '\0';
        syslog(LOG_USER | syslog_priority(level), "%s[%ld]: %s", s->ident, (long)getpid(), buf + 1);
        return true;
    case SINK_CALLBACK:
        buf[len + 1] = '\0';
        s->fn(s->user, level, event, buf + 1);
        return true;
    }
    return false;
}

void viv_log_emit(viv_logger *lg, viv_log_level level, const char *event, const char *execution_id,
                  json_t *fields)
{
    if (!viv_log_enabled(lg, level) || event == NULL) {
        return;
    }
    int saved_errno = errno;
    size_t len = 0;
    char *buf = build_line(level, event, execution_id, fields, &len);

    pthread_mutex_lock(&lg->mu);
    size_t n = atomic_load(&lg->nsinks);
    if (buf == NULL || lg->depth > 0) {
        /* Out of memory, or an event emitted from one of our callbacks:
         * every sink misses it. */
        atomic_fetch_add(&lg->dropped, n);
    } else {
        lg->depth++;
        for (size_t i = 0; i < n; i++) {
            if (!deliver(&lg->sinks[i], level, event, buf, len)) {
                atomic_fetch_add(&lg->dropped, 1);
            }
        }
        lg->depth--;
    }
    pthread_mutex_unlock(&lg->mu);

    free(buf);
    errno = saved_errno;
}

/* ---- execution ids ---------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

void viv_log_new_execution_id(char out[VIV_LOG_EXECUTION_ID_LEN + 1])
{
    int saved_errno = errno;
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - got, 0);
        if (r > 0) {
            got += (size_t)r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    if (got < sizeof b) {
        got = 0;
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        while (fd >= 0 && got < sizeof b) {
            ssize_t r = read(fd, b + got, sizeof b - got);
            if (r > 0) {
                got += (size_t)r;
            } else if (!(r < 0 && errno == EINTR)) {
                break;
            }
        }
        if (fd >= 0) {
            close(fd);
        }
    }
    if (got < sizeof b) {
        /* Last resort: unique rather than unpredictable. */
        struct timespec rt = {0, 0}, mono = {0, 0};
        clock_gettime(CLOCK_REALTIME, &rt);
        clock_gettime(CLOCK_MONOTONIC, &mono);
        uint64_t state = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
        state ^= ((uint64_t)getpid() << 32) ^ (uint64_t)syscall(SYS_gettid);
        state ^= (uint64_t)(uintptr_t)out ^ ((uint64_t)mono.tv_nsec << 20);
        uint64_t a = splitmix64(&state), c = splitmix64(&state);
        memcpy(b, &a, 8);
        memcpy(b + 8, &c, 8);
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof b; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 0x0F];
    }
    out[VIV_LOG_EXECUTION_ID_LEN] = '\0';
    errno = saved_errno;
}
