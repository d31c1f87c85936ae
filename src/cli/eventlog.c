/*
 * src/cli/eventlog.c: the CLI's own event sink (see eventlog.h).
 */
#include "eventlog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

struct viv_cli_eventlog {
    pthread_mutex_t lock;
    int fd;      /* -1 with use_syslog */
    bool own_fd; /* a file we opened */
    bool use_syslog;
};

int viv_cli_eventlog_open(const char *cmd, const char *target, viv_cli_eventlog **out)
{
    *out = NULL;
    if (target == NULL) {
        return -1;
    }
    viv_cli_eventlog *log = calloc(1, sizeof *log);
    if (log == NULL || pthread_mutex_init(&log->lock, NULL) != 0) {
        free(log);
        fprintf(stderr, "vivarium %s: out of memory\n", cmd);
        return VIV_EXIT_USAGE;
    }
    log->fd = -1;
    if (strcmp(target, "-") == 0) {
        log->fd = STDOUT_FILENO;
    } else if (strcmp(target, "syslog") == 0) {
        log->use_syslog = true;
    } else {
        log->fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (log->fd < 0) {
            fprintf(stderr, "vivarium %s: --log %s: %s\n", cmd, target, strerror(errno));
            pthread_mutex_destroy(&log->lock);
            free(log);
            return VIV_EXIT_USAGE;
        }
        log->own_fd = true;
    }
    *out = log;
    return -1;
}

void viv_cli_eventlog_close(viv_cli_eventlog *log)
{
    if (log == NULL) {
        return;
    }
    if (log->own_fd) {
        close(log->fd);
    }
    pthread_mutex_destroy(&log->lock);
    free(log);
}

void viv_cli_eventlog_line(viv_cli_eventlog *log, viv_log_level level, const char *line)
{
    if (log == NULL || line == NULL) {
        return;
    }
    if (log->use_syslog) {
        static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
        int p = level >= VIV_LOG_DEBUG && level <= VIV_LOG_ERROR ? prio[level] : LOG_INFO;
        syslog(LOG_USER | p, "vivarium[%ld]: %s", (long)getpid(), line);
        return;
    }
    size_t n = strlen(line);
    char *buf = malloc(n + 2);
    if (buf == NULL) {
        return; /* a failing sink never fails what logged */
    }
    memcpy(buf, line, n);
    buf[n] = '\n';
    buf[n + 1] = '\0';
    pthread_mutex_lock(&log->lock);
    for (size_t off = 0; off < n + 1;) {
        ssize_t w = write(log->fd, buf + off, n + 1 - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            break;
        }
        off += (size_t)w;
    }
    pthread_mutex_unlock(&log->lock);
    free(buf);
}

void viv_cli_eventlog_emit(viv_cli_eventlog *log, viv_log_level level, const char *event,
                           json_t *fields)
{
    if (log == NULL) {
        return;
    }
    static const char *const names[] = {"debug", "info", "warning", "error"};
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char ts[96];
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000);
    json_t *obj = json_object();
    if (obj == NULL) {
        return;
    }
    json_object_set_new(obj, "ts", json_string(ts));
    json_object_set_new(
        obj, "level",
        json_string(level >= VIV_LOG_DEBUG && level <= VIV_LOG_ERROR ? names[level] : "info"));
    json_object_set_new(obj, "event", json_string(event));
    const char *key;
    json_t *value;
    json_object_foreach(fields, key, value)
    {
        /* The first three keys are reserved, as in the library's events. */
        if (strcmp(key, "ts") != 0 && strcmp(key, "level") != 0 && strcmp(key, "event") != 0) {
            json_object_set(obj, key, value);
        }
    }
    char *line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    viv_cli_eventlog_line(log, level, line);
    free(line);
}
