/*
 * src/cli/util.c: small helpers shared by the subcommands.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

bool viv_cli_parse_int(const char *s, int64_t *out)
{
    if (s == NULL || *s == '\0') {
        return false;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *out = v;
    return true;
}

bool viv_cli_parse_size(const char *s, int64_t *out)
{
    if (s == NULL || *s == '\0') {
        return false;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s) {
        return false;
    }
    int64_t mult = 1;
    if (*end != '\0') {
        switch (*end) {
        case 'k':
        case 'K':
            mult = 1024;
            break;
        case 'm':
        case 'M':
            mult = 1024 * 1024;
            break;
        case 'g':
        case 'G':
            mult = 1024LL * 1024 * 1024;
            break;
        default:
            return false;
        }
        end++;
        if (*end == 'i' || *end == 'I') {
            end++;
        }
        if (*end == 'b' || *end == 'B') {
            end++;
        }
        if (*end != '\0') {
            return false;
        }
    }
    if (v > 0 && v > INT64_MAX / mult) {
        return false;
    }
    *out = v * mult;
    return true;
}

const char *viv_cli_default_guest(void)
{
    /* Our own guest by its name: the build tree's guest/python3.11/, else
     * the installed one, which is also the library's own default. */
    static char path[PATH_MAX + 32];
    return viv_cli_guest_path(VIV_CLI_DEFAULT_GUEST, path, sizeof path);
}

const char *viv_cli_guest_path(const char *name, char *buf, size_t len)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 || name[0] == '.' ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-") != n) {
        return NULL;
    }
    char exe[PATH_MAX];
    ssize_t r = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = NULL;
    if (r > 0) {
        exe[r] = '\0';
        slash = strrchr(exe, '/');
    }
    const char *npm = VIV_CLI_NPM_GUEST;
    for (int i = 0; i < 2; i++) {
        char dir[PATH_MAX];
        if (i == 0) {
            if (slash == NULL) {
                continue;
            }
            snprintf(dir, sizeof dir, "%.*s/guest", (int)(slash - exe), exe);
        } else {
            snprintf(dir, sizeof dir, "%s", VIV_CLI_GUEST_DIR);
        }
        int w = strcmp(name, npm) == 0 ? snprintf(buf, len, "%s/python.wasm", dir)
                                       : snprintf(buf, len, "%s/%s/python.wasm", dir, name);
        if (w > 0 && (size_t)w < len && access(buf, F_OK) == 0) {
            return buf;
        }
    }
    return NULL;
}

int viv_cli_fail(const char *cmd, viv_status st, const viv_error *err)
{
    fprintf(stderr, "vivarium %s: %s\n", cmd, err->message);
    switch (st) {
    case VIV_ENOENT:
    case VIV_ENOGUEST:
        return VIV_EXIT_NO_GUEST;
    default:
        return VIV_EXIT_USAGE;
    }
}

int viv_cli_read_file(const char *path, char **data, size_t *len)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        if (fd != STDIN_FILENO) {
            close(fd);
        }
        errno = ENOMEM;
        return -1;
    }
    for (;;) {
        if (n == cap) {
            char *grown = cap < ((size_t)64 << 20) ? realloc(buf, cap * 2) : NULL;
            if (grown == NULL) {
                free(buf);
                if (fd != STDIN_FILENO) {
                    close(fd);
                }
                errno = EFBIG;
                return -1;
            }
            buf = grown;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            int e = errno;
            free(buf);
            if (fd != STDIN_FILENO) {
                close(fd);
            }
            errno = e;
            return -1;
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
    }
    if (fd != STDIN_FILENO) {
        close(fd);
    }
    *data = buf;
    *len = n;
    return 0;
}

int viv_cli_open_logger(const char *cmd, const char *target, viv_logger **out)
{
    *out = NULL;
    if (target == NULL) {
        return -1;
    }
    viv_error err = {0};
    viv_logger *lg = NULL;
    viv_status st = viv_logger_new(&lg, &err);
    if (st == VIV_OK) {
        if (strcmp(target, "-") == 0) {
            st = viv_logger_add_fd(lg, STDOUT_FILENO, &err);
        } else if (strcmp(target, "syslog") == 0) {
            st = viv_logger_add_syslog(lg, "vivarium", &err);
        } else {
            st = viv_logger_add_file(lg, target, &err);
        }
    }
    if (st != VIV_OK) {
        viv_logger_free(lg);
        fprintf(stderr, "vivarium %s: --log %s: %s\n", cmd, target, err.message);
        return VIV_EXIT_USAGE;
    }
    *out = lg;
    return -1;
}
