/*
 * tests/unit/log/log_test_util.c: helpers shared by the logger tests.
 */
#include "log_test_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *read_fd(int fd, size_t *len, bool stop_on_eagain)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        return NULL;
    }
    for (;;) {
        if (cap - n < 4096) {
            char *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                return NULL;
            }
            buf = grown;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r > 0) {
            n += (size_t)r;
        } else if (r == 0) {
            break;
        } else if (errno == EINTR) {
            continue;
        } else if (stop_on_eagain && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            free(buf);
            return NULL;
        }
    }
    buf[n] = '\0';
    if (len != NULL) {
        *len = n;
    }
    return buf;
}

char *lt_read_all(int fd, size_t *len) { return read_fd(fd, len, false); }

char *lt_read_available(int fd, size_t *len) { return read_fd(fd, len, true); }

char *lt_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    char *text = lt_read_all(fd, len);
    close(fd);
    return text;
}

json_t *lt_parse_lines(const char *text)
{
    json_t *arr = json_array();
    size_t lineno = 0;
    const char *p = text;
    while (arr != NULL && *p != '\0') {
        const char *nl = strchr(p, '\n');
        lineno++;
        if (nl == NULL) {
            fprintf(stderr, "line %zu has no newline: %.200s\n", lineno, p);
            json_decref(arr);
            return NULL;
        }
        json_error_t jerr;
        json_t *obj = json_loadb(p, (size_t)(nl - p), 0, &jerr);
        if (obj == NULL || !json_is_object(obj)) {
            fprintf(stderr, "line %zu is not a JSON object (%s): %.200s\n", lineno, jerr.text, p);
            json_decref(obj);
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, obj);
        p = nl + 1;
    }
    return arr;
}

bool lt_ts_valid(const char *ts)
{
    if (ts == NULL) {
        return false;
    }
    regex_t re;
    if (regcomp(&re,
                "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):"
                "[0-5][0-9]:[0-6][0-9]\\.[0-9]{6}Z$",
                REG_EXTENDED | REG_NOSUB) != 0) {
        return false;
    }
    bool ok = regexec(&re, ts, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

const char *lt_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

int lt_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

const char *lt_temp_dir(const char *tag)
{
    static char dir[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/viv_log_%s_XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    return mkdtemp(dir);
}
