/*
 * tests/hostile/hostile_runner.c: run the hostile-code corpus through the
 * `vivarium` CLI and check that every attack was contained.
 *
 * Every file cases/NN_name.py is one guest program with its expected
 * outcome in header comments (see README.md for the directive syntax):
 *
 *   # expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
 *   # flags: --timeout 5 --data {DATA}
 *   # setup: symlink app/link -> {CANARY}/secret.txt
 *
 * For each case the runner makes a fresh workspace, plants what the case's
 * setup asks for, runs `vivarium run --json [flags] --workspace WS CASE`
 * with posix_spawn (a minimal environment plus a canary variable, a
 * watchdog) and checks:
 *
 *   (a) the case's own expectations (trap reason, exit status, exception,
 *       output markers, truncation, wall time);
 *   (b) the CLI itself: it exited (no signal, no watchdog kill) with a
 *       documented status and printed one well-formed, self-consistent
 *       result object; trap_reason is never host_error unless expected;
 *       nothing printed "ESCAPED"; neither canary token leaked into output;
 *   (c) the host: a canary tree outside every mount, the read-only data
 *       directory and the extra read-only mount are hashed (content, mode,
 *       owner, link count, size, mtime, link targets) before the run and
 *       after every case, the CLI's temporary directories are gone, and the
 *       guest left no symlink in its workspace that the host would follow
 *       out of it.
 *
 * Prints one line per case and "N passed, N failed"; exits non-zero when
 * anything failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

extern char **environ;

#ifndef HOSTILE_DEFAULT_CLI
#define HOSTILE_DEFAULT_CLI "vivarium"
#endif
#ifndef HOSTILE_DEFAULT_WASM
#define HOSTILE_DEFAULT_WASM "python.wasm"
#endif
#ifndef HOSTILE_DEFAULT_CASES
#define HOSTILE_DEFAULT_CASES "cases"
#endif

#define MAX_EXPECT 64
#define MAX_SETUP 32
#define MAX_ARGS 65536
#define DEFAULT_WATCHDOG_S 90.0
#define CANARY_ENV "VIV_HOSTILE_CANARY"

/* ---- small utilities ------------------------------------------------------ */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hostile_runner: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* snprintf that refuses to truncate: every path and name we build must fit. */
static void xsnprintf(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void xsnprintf(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len)
        die("name too long: %.200s...", out);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        die("out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        die("out of memory");
    return p;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A growable byte buffer, always NUL-terminated. */
typedef struct buf {
    char *data;
    size_t len, cap;
} buf;

static void buf_add(buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (d == NULL)
            die("out of memory");
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(buf *b, const char *fmt, ...)
{
    char tmp[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void buf_free(buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

static void write_file(const char *path, const char *content, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        die("cannot create %s: %s", path, strerror(errno));
    size_t n = strlen(content);
    if (write(fd, content, n) != (ssize_t)n)
        die("cannot write %s: %s", path, strerror(errno));
    if (fchmod(fd, mode) != 0)
        die("cannot chmod %s: %s", path, strerror(errno));
    close(fd);
}

static void make_dir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) != 0 && errno != EEXIST)
        die("cannot create %s: %s", path, strerror(errno));
}

/* The name under which directory `child` appears in directory `parent`. */
static bool name_in_parent(int parent, int child, char *name, size_t len)
{
    struct stat cs;
    if (fstat(child, &cs) != 0)
        return false;
    int fd = dup(parent);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    rewinddir(d);
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            fstatat(parent, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == cs.st_ino &&
            st.st_dev == cs.st_dev) {
            xsnprintf(name, len, "%s", e->d_name);
            found = true;
        }
    }
    closedir(d);
    return found;
}

/* Remove a tree without following any symlink in it, however deep the guest
 * made it: iteratively, one directory descriptor at a time, climbing back
 * with ".." (never with path names, which could exceed PATH_MAX). */
static void rm_rf(const char *path)
{
    if (unlink(path) == 0 || errno == ENOENT)
        return;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    long depth = 0;
    for (;;) {
        char sub[NAME_MAX + 1] = "";
        int dfd = dup(fd);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (d == NULL) {
            if (dfd >= 0)
                close(dfd);
            break;
        }
        rewinddir(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            struct stat st;
            if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
                fchmodat(fd, e->d_name, (st.st_mode & 07777) | 0700, 0);
                if (unlinkat(fd, e->d_name, AT_REMOVEDIR) != 0) {
                    xsnprintf(sub, sizeof sub, "%s", e->d_name);
                    break;
                }
            } else {
                unlinkat(fd, e->d_name, 0);
            }
        }
        closedir(d);
        if (sub[0] != '\0') {
            int child = openat(fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (child < 0)
                break; /* cannot go further: give up, leave the rest */
            close(fd);
            fd = child;
            depth++;
            continue;
        }
        /* This directory is empty: remove it from its parent and climb. */
        if (depth == 0)
            break;
        int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char name[NAME_MAX + 1];
        bool named = up >= 0 && name_in_parent(up, fd, name, sizeof name);
        close(fd);
        fd = up;
        if (up < 0 || !named || unlinkat(up, name, AT_REMOVEDIR) != 0)
            break; /* give up rather than loop */
        depth--;
    }
    if (fd < 0)
        return;
    close(fd);
    rmdir(path);
}

static void random_hex(char *out, size_t nbytes)
{
    unsigned char raw[64];
    if (nbytes > sizeof raw)
        nbytes = sizeof raw;
    if (getrandom(raw, nbytes, 0) != (ssize_t)nbytes)
        die("getrandom: %s", strerror(errno));
    for (size_t i = 0; i < nbytes; i++)
        sprintf(out + 2 * i, "%02x", raw[i]);
    out[2 * nbytes] = '\0';
}

/* ---- the host manifest ---------------------------------------------------- */

/* A directory stream on a duplicate of dirfd, from the start: the duplicate
 * shares its offset with dirfd, which an earlier walk may have left at the
 * end. */
static DIR *dir_stream(int dirfd)
{
    int fd = dup(dirfd);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return NULL;
    }
    rewinddir(d);
    return d;
}

/* FNV-1a over a file's content. */
static uint64_t hash_fd(int fd)
{
    uint64_t h = 1469598103934665603ull;
    unsigned char b[65536];
    ssize_t n;
    while ((n = read(fd, b, sizeof b)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            h ^= b[i];
            h *= 1099511628211ull;
        }
    }
    return h;
}

/* One line per entry beneath dirfd, in sorted order, never following a
 * symlink. Entries named in skip (top level only) are left out. */
static void manifest_dir(buf *out, int dirfd, const char *rel, const char *const *skip)
{
    DIR *d = dir_stream(dirfd);
    if (d == NULL) {
        buf_printf(out, "%s UNREADABLE %s\n", rel, strerror(errno));
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        bool skipped = false;
        for (size_t i = 0; skip != NULL && skip[i] != NULL; i++)
            skipped |= strcmp(skip[i], e->d_name) == 0;
        if (skipped)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = realloc(names, cap * sizeof *names);
            if (names == NULL)
                die("out of memory");
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    for (size_t i = 1; i < n; i++) /* insertion sort: directories are small */
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        xsnprintf(path, sizeof path, "%s/%s", rel, names[i]);
        struct stat st;
        if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
            buf_printf(out, "%s STAT-FAILED %s\n", path, strerror(errno));
            free(names[i]);
            continue;
        }
        buf_printf(out, "%s mode=%o uid=%u gid=%u nlink=%lu size=%lld mtime=%lld.%09ld", path,
                   (unsigned)st.st_mode, (unsigned)st.st_uid, (unsigned)st.st_gid,
                   (unsigned long)st.st_nlink, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                   st.st_mtim.tv_nsec);
        if (S_ISREG(st.st_mode)) {
            int fd = openat(dirfd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
            buf_printf(out, " hash=%016llx\n",
                       fd >= 0 ? (unsigned long long)hash_fd(fd) : 0ull);
            if (fd >= 0)
                close(fd);
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t tn = readlinkat(dirfd, names[i], target, sizeof target - 1);
            target[tn > 0 ? tn : 0] = '\0';
            buf_printf(out, " -> %s\n", target);
        } else if (S_ISDIR(st.st_mode)) {
            buf_add(out, "\n", 1);
            int sub = openat(dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                manifest_dir(out, sub, path, NULL);
                close(sub);
            }
        } else {
            buf_add(out, "\n", 1);
        }
        free(names[i]);
    }
    free(names);
}

/* The protected part of the scratch root: everything except the per-case
 * workspaces and the CLI's TMPDIR (both change on every run by design). */
static void manifest_root(buf *out, const char *root)
{
    static const char *const skip[] = {"ws", "tmp", NULL};
    out->len = 0;
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        die("cannot open %s: %s", root, strerror(errno));
    manifest_dir(out, fd, ".", skip);
    close(fd);
}

/* True when the text holds this exact line (with its newline). */
static bool has_line(const char *text, const char *line, size_t len)
{
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t pl = e ? (size_t)(e - p) + 1 : strlen(p);
        if (pl == len && memcmp(p, line, len) == 0)
            return true;
        p += pl;
    }
    return false;
}

/* Print the lines that differ between two manifests (at most a dozen). */
static void manifest_diff(buf *report, const char *before, const char *after)
{
    int shown = 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *a = pass == 0 ? before : after;
        const char *b = pass == 0 ? after : before;
        for (const char *line = a; *line && shown < 12;) {
            const char *end = strchr(line, '\n');
            size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
            if (!has_line(b, line, len)) {
                buf_printf(report, "      %s %.*s", pass == 0 ? "-" : "+", (int)len, line);
                if (line[len - 1] != '\n')
                    buf_add(report, "\n", 1);
                shown++;
            }
            line += len;
        }
    }
}

/* ---- cases ---------------------------------------------------------------- */

typedef struct expect_kv {
    char key[64];
    char *value;
} expect_kv;

typedef struct setup_op {
    char kind[16];
    char *path;   /* relative to the workspace ("app/..." with "app/" stripped) */
    char *target; /* symlink text, hard-link source, file content, "MAJ MIN" */
} setup_op;

typedef struct hostile_case {
    char name[256];
    char path[PATH_MAX];
    expect_kv expect[MAX_EXPECT];
    size_t nexpect;
    char *flags[256];
    size_t nflags;
    setup_op setup[MAX_SETUP];
    size_t nsetup;
    char race_a[PATH_MAX], race_b[PATH_MAX]; /* exchanged in a loop while it runs */
    bool has_race;
    bool temporary_ws; /* "# workspace: temporary": let the CLI make its own */
    double watchdog_s;
    long gen_env_count, gen_env_len; /* generated --env flags */
    long gen_arg_count, gen_arg_len; /* generated extra sys.argv entries */
} hostile_case;

typedef struct context {
    const char *cli, *wasm;
    char root[PATH_MAX], canary[PATH_MAX], data[PATH_MAX], ro[PATH_MAX], ws_parent[PATH_MAX],
        tmp[PATH_MAX];
    char secret_token[64], env_token[64];
    buf baseline; /* the host as it should be between cases */
    buf original; /* the host before the first case */
    bool verbose, keep;
    bool expect_fail; /* self-test: every case must fail the checks */
    bool isolation_shown;
} context;

static void subst(const context *c, const char *ws, const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    while (*in && o + 1 < outlen) {
        const char *rep = NULL;
        size_t skip = 0;
        static const char *const keys[] = {"{CANARY}", "{DATA}", "{RO}", "{WS}", "{ROOT}"};
        const char *vals[] = {c->canary, c->data, c->ro, ws, c->root};
        for (size_t k = 0; k < 5; k++) {
            size_t kl = strlen(keys[k]);
            if (strncmp(in, keys[k], kl) == 0) {
                rep = vals[k];
                skip = kl;
            }
        }
        if (rep != NULL) {
            size_t rl = strlen(rep);
            if (o + rl >= outlen)
                break;
            memcpy(out + o, rep, rl);
            o += rl;
            in += skip;
        } else {
            out[o++] = *in++;
        }
    }
    out[o] = '\0';
}

/* Split "k=v k2="quoted value" ..." into pairs. */
static void parse_expect(hostile_case *hc, const char *s)
{
    while (*s) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0' || *s == '\n')
            break;
        const char *eq = strchr(s, '=');
        if (eq == NULL)
            die("%s: bad expect item '%s'", hc->name, s);
        if (hc->nexpect == MAX_EXPECT)
            die("%s: too many expectations", hc->name);
        expect_kv *kv = &hc->expect[hc->nexpect++];
        xsnprintf(kv->key, sizeof kv->key, "%.*s", (int)(eq - s), s);
        s = eq + 1;
        buf v = {0};
        if (*s == '"') {
            s++;
            while (*s && *s != '"') {
                if (*s == '\\' && s[1] != '\0')
                    s++;
                buf_add(&v, s, 1);
                s++;
            }
            if (*s == '"')
                s++;
        } else {
            while (*s && *s != ' ' && *s != '\t' && *s != '\n') {
                buf_add(&v, s, 1);
                s++;
            }
        }
        kv->value = v.data ? v.data : xstrdup("");
    }
}

static void parse_flags(hostile_case *hc, const char *s)
{
    while (*s) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0' || *s == '\n')
            break;
        buf v = {0};
        if (*s == '"') {
            s++;
            while (*s && *s != '"')
                buf_add(&v, s++, 1);
            if (*s == '"')
                s++;
        } else {
            while (*s && *s != ' ' && *s != '\t' && *s != '\n')
                buf_add(&v, s++, 1);
        }
        if (hc->nflags == sizeof hc->flags / sizeof hc->flags[0])
            die("%s: too many flags", hc->name);
        hc->flags[hc->nflags++] = v.data ? v.data : xstrdup("");
    }
}

static const char *strip_app(const hostile_case *hc, const char *p)
{
    if (strncmp(p, "app/", 4) != 0)
        die("%s: setup paths must start with app/: '%s'", hc->name, p);
    return p + 4;
}

/* "symlink app/x -> TARGET", "hardlink app/x -> SRC", "mkdir app/d",
 * "file app/f = TEXT", "fifo app/p", "socket app/s", "chardev app/c MAJ MIN" */
static void parse_setup(hostile_case *hc, const char *s)
{
    if (hc->nsetup == MAX_SETUP)
        die("%s: too many setup lines", hc->name);
    setup_op *op = &hc->setup[hc->nsetup++];
    char line[PATH_MAX * 2];
    xsnprintf(line, sizeof line, "%s", s);
    line[strcspn(line, "\n")] = '\0';
    char *p = line;
    while (*p == ' ')
        p++;
    char *sp = strchr(p, ' ');
    if (sp == NULL)
        die("%s: bad setup '%s'", hc->name, s);
    *sp = '\0';
    xsnprintf(op->kind, sizeof op->kind, "%s", p);
    p = sp + 1;
    while (*p == ' ')
        p++;
    char *arrow = strstr(p, " -> ");
    char *eq = strstr(p, " = ");
    char *rest = NULL;
    if (arrow != NULL) {
        *arrow = '\0';
        rest = arrow + 4;
    } else if (eq != NULL) {
        *eq = '\0';
        rest = eq + 3;
    } else if ((sp = strchr(p, ' ')) != NULL) {
        *sp = '\0';
        rest = sp + 1;
    }
    op->path = xstrdup(strip_app(hc, p));
    op->target = xstrdup(rest ? rest : "");
}

static void parse_case(hostile_case *hc, const char *dir, const char *file)
{
    memset(hc, 0, sizeof *hc);
    xsnprintf(hc->path, sizeof hc->path, "%s/%s", dir, file);
    xsnprintf(hc->name, sizeof hc->name, "%.*s", (int)(strlen(file) - 3), file);
    hc->watchdog_s = DEFAULT_WATCHDOG_S;
    FILE *f = fopen(hc->path, "r");
    if (f == NULL)
        die("cannot read %s: %s", hc->path, strerror(errno));
    char line[8192];
    while (fgets(line, sizeof line, f) != NULL) {
        if (line[0] != '#')
            continue;
        const char *s = line + 1;
        while (*s == ' ')
            s++;
        if (strncmp(s, "expect:", 7) == 0) {
            parse_expect(hc, s + 7);
        } else if (strncmp(s, "flags:", 6) == 0) {
            parse_flags(hc, s + 6);
        } else if (strncmp(s, "setup:", 6) == 0) {
            parse_setup(hc, s + 6);
        } else if (strncmp(s, "workspace:", 10) == 0) {
            if (strstr(s + 10, "temporary") == NULL)
                die("%s: workspace: only 'temporary' is known", hc->name);
            hc->temporary_ws = true;
        } else if (strncmp(s, "watchdog:", 9) == 0) {
            hc->watchdog_s = atof(s + 9);
        } else if (strncmp(s, "race:", 5) == 0) {
            char a[PATH_MAX], b[PATH_MAX];
            if (sscanf(s + 5, " exchange %4095s %4095s", a, b) != 2)
                die("%s: bad race line", hc->name);
            xsnprintf(hc->race_a, sizeof hc->race_a, "%s", strip_app(hc, a));
            xsnprintf(hc->race_b, sizeof hc->race_b, "%s", strip_app(hc, b));
            hc->has_race = true;
        } else if (strncmp(s, "gen:", 4) == 0) {
            char what[32];
            long count, len;
            if (sscanf(s + 4, " %31s %ld %ld", what, &count, &len) != 3)
                die("%s: bad gen line", hc->name);
            if (strcmp(what, "env") == 0) {
                hc->gen_env_count = count;
                hc->gen_env_len = len;
            } else if (strcmp(what, "args") == 0) {
                hc->gen_arg_count = count;
                hc->gen_arg_len = len;
            } else {
                die("%s: gen %s?", hc->name, what);
            }
        }
    }
    fclose(f);
    if (hc->nexpect == 0)
        die("%s: no '# expect:' line", hc->name);
    if (hc->temporary_ws && (hc->nsetup > 0 || hc->has_race))
        die("%s: setup and race need the runner's workspace", hc->name);
}

static void free_case(hostile_case *hc)
{
    for (size_t i = 0; i < hc->nexpect; i++)
        free(hc->expect[i].value);
    for (size_t i = 0; i < hc->nflags; i++)
        free(hc->flags[i]);
    for (size_t i = 0; i < hc->nsetup; i++) {
        free(hc->setup[i].path);
        free(hc->setup[i].target);
    }
}

/* ---- planting ----------------------------------------------------------- */

typedef struct planted {
    ino_t ino[MAX_SETUP];
    size_t n;
} planted;

static void plant(const context *c, const hostile_case *hc, const char *ws, planted *pl)
{
    pl->n = 0;
    for (size_t i = 0; i < hc->nsetup; i++) {
        const setup_op *op = &hc->setup[i];
        char path[PATH_MAX], target[PATH_MAX];
        xsnprintf(path, sizeof path, "%s/%s", ws, op->path);
        subst(c, ws, op->target, target, sizeof target);
        int r = 0;
        if (strcmp(op->kind, "symlink") == 0) {
            r = symlink(target, path);
        } else if (strcmp(op->kind, "hardlink") == 0) {
            r = link(target, path);
        } else if (strcmp(op->kind, "mkdir") == 0) {
            r = mkdir(path, 0755);
        } else if (strcmp(op->kind, "file") == 0) {
            write_file(path, target, 0644);
        } else if (strcmp(op->kind, "fifo") == 0) {
            r = mkfifo(path, 0644);
        } else if (strcmp(op->kind, "socket") == 0) {
            int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            struct sockaddr_un sa = {.sun_family = AF_UNIX};
            if (strlen(path) >= sizeof sa.sun_path)
                die("%s: socket path too long", hc->name);
            strcpy(sa.sun_path, path);
            r = s < 0 ? -1 : bind(s, (struct sockaddr *)&sa, sizeof sa);
            if (s >= 0)
                close(s); /* the socket file stays, nobody listens */
        } else if (strcmp(op->kind, "chardev") == 0) {
            unsigned maj, min;
            if (sscanf(target, "%u %u", &maj, &min) != 2)
                die("%s: chardev needs MAJ MIN", hc->name);
            r = mknod(path, S_IFCHR | 0666, makedev(maj, min));
            if (r != 0 && errno == EPERM) {
                /* Unprivileged runner: leave a regular file in its place so
                 * the case still runs; say so. */
                printf("    note: %s: cannot mknod (not root); planted a file instead\n",
                       hc->name);
                write_file(path, "not a device\n", 0644);
                r = 0;
            }
        } else {
            die("%s: unknown setup kind '%s'", hc->name, op->kind);
        }
        if (r != 0)
            die("%s: setup %s %s: %s", hc->name, op->kind, path, strerror(errno));
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && pl->n < MAX_SETUP)
            pl->ino[pl->n++] = st.st_ino;
    }
}

/* ---- the workspace check -------------------------------------------------- */

/* Remove the symlinks the runner planted (recognised by inode, wherever the
 * guest moved them), so that what is left is the guest's own work. */
static void unplant_symlinks(int dirfd, const planted *pl, int depth)
{
    if (depth > 64 || pl->n == 0)
        return;
    DIR *d = dir_stream(dirfd);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                unplant_symlinks(sub, pl, depth + 1);
                close(sub);
            }
        } else if (S_ISLNK(st.st_mode)) {
            for (size_t i = 0; i < pl->n; i++)
                if (pl->ino[i] == st.st_ino)
                    unlinkat(dirfd, e->d_name, 0);
        }
    }
    closedir(d);
}

/* Symlinks the guest left in its workspace that lead out of it when the host
 * follows them. Found by resolving every symlink beneath the workspace with
 * RESOLVE_BENEATH: EXDEV means following it leaves the tree. Run after
 * unplant_symlinks, so that a chain through the runner's own links does not
 * count against the guest. */
static void check_ws_symlinks(int rootfd, int dirfd, const char *rel, buf *problems,
                              int depth)
{
    if (depth > 64)
        return;
    DIR *d = dir_stream(dirfd);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[PATH_MAX];
        xsnprintf(path, sizeof path, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                check_ws_symlinks(rootfd, sub, path, problems, depth + 1);
                close(sub);
            }
        } else if (S_ISLNK(st.st_mode)) {
            struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH};
            long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof how);
            int err = errno;
            if (fd >= 0) {
                close((int)fd);
            } else if (err == EXDEV) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(dirfd, e->d_name, target, sizeof target - 1);
                target[n > 0 ? n : 0] = '\0';
                buf_printf(problems,
                           "    the guest left a symlink that leads out of its workspace: "
                           "%s -> %s\n",
                           path, target);
            }
        }
    }
    closedir(d);
}

/* ---- running the CLI ------------------------------------------------------ */

typedef struct cli_run {
    int status;     /* exit status, or -1 */
    int term_sig;   /* signal that ended it, or 0 */
    bool watchdog;  /* killed by the watchdog */
    double elapsed; /* seconds */
    buf out, err;
} cli_run;

static pid_t start_race(const char *ws, const char *a, const char *b)
{
    char pa[PATH_MAX], pb[PATH_MAX];
    xsnprintf(pa, sizeof pa, "%s/%s", ws, a);
    xsnprintf(pb, sizeof pb, "%s/%s", ws, b);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        /* Swap the two names as fast as we can until killed. */
        for (;;)
            renameat2(AT_FDCWD, pa, AT_FDCWD, pb, RENAME_EXCHANGE);
    }
    return pid;
}

static void run_cli(char *const argv[], char *const envp[], double watchdog_s, cli_run *r)
{
    memset(r, 0, sizeof *r);
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
        die("pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    pid_t pid;
    double start = now_s();
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(err[1]);
    if (rc != 0)
        die("cannot start %s: %s", argv[0], strerror(rc));
    int fds[2] = {out[0], err[0]};
    buf *dst[2] = {&r->out, &r->err};
    while (fds[0] >= 0 || fds[1] >= 0) {
        double left = start + watchdog_s - now_s();
        if (left <= 0 && !r->watchdog) {
            kill(pid, SIGKILL);
            r->watchdog = true;
        }
        struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        int n = poll(p, 2, r->watchdog ? 1000 : (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
        for (int i = 0; i < 2; i++) {
            if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char tmp[65536];
            ssize_t k = read(fds[i], tmp, sizeof tmp);
            if (k > 0) {
                buf_add(dst[i], tmp, (size_t)k);
            } else if (k == 0 || errno != EINTR) {
                close(fds[i]);
                fds[i] = -1;
            }
        }
        if (r->watchdog && n == 0)
            break; /* a grandchild holds the pipes; the CLI is dead anyway */
    }
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    int ws;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    }
    r->elapsed = now_s() - start;
    r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    r->term_sig = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
    if (r->out.data == NULL)
        buf_add(&r->out, "", 0);
    if (r->err.data == NULL)
        buf_add(&r->err, "", 0);
}

/* ---- checking ------------------------------------------------------------- */

typedef struct verdict {
    buf why;
    int failures;
} verdict;

static void fail(verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(verdict *v, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    buf_printf(&v->why, "    %s\n", tmp);
    v->failures++;
}

static bool alt_match(const char *alts, const char *value)
{
    char tmp[512];
    xsnprintf(tmp, sizeof tmp, "%s", alts);
    for (char *save = NULL, *tok = strtok_r(tmp, "|", &save); tok != NULL;
         tok = strtok_r(NULL, "|", &save)) {
        if (strcmp(tok, value) == 0 || strcmp(tok, "any") == 0)
            return true;
    }
    return false;
}

static const char *known_reasons[] = {"proc_exit", "out_of_fuel", "memory_limit", "timeout",
                                      "trap",      "host_error",  NULL};

/* Original byte count of guest output that the result encoded with U+FFFD
 * for every invalid byte. */
static size_t raw_len(const char *s, size_t len)
{
    size_t repl = 0;
    for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), "\xEF\xBF\xBD", 3)) != NULL;
         p += 3)
        repl++;
    return len - 2 * repl;
}

static int64_t flag_size(const hostile_case *hc, const char *flag, int64_t def)
{
    for (size_t i = 0; i + 1 < hc->nflags; i++) {
        if (strcmp(hc->flags[i], flag) == 0) {
            char *end;
            double v = strtod(hc->flags[i + 1], &end);
            int64_t mul = *end == 'K' ? 1024 : *end == 'M' ? 1 << 20 : *end == 'G' ? 1 << 30 : 1;
            def = (int64_t)(v * (double)mul);
        }
    }
    return def;
}

static void check_json(context *c, const hostile_case *hc, const cli_run *r, verdict *v)
{
    const char *policy_error = NULL;
    for (size_t i = 0; i < hc->nexpect; i++)
        if (strcmp(hc->expect[i].key, "policy_error") == 0)
            policy_error = hc->expect[i].value;
    if (r->status == 125) {
        if (policy_error == NULL)
            fail(v, "the CLI refused the run (exit 125): %.300s", r->err.data);
        else if (strstr(r->err.data, "vivarium run:") == NULL)
            fail(v, "exit 125 without a 'vivarium run:' message: %.300s", r->err.data);
        else if (r->out.len != 0)
            fail(v, "exit 125 but something on stdout: %.200s", r->out.data);
        return;
    }
    if (policy_error != NULL && strcmp(policy_error, "required") == 0)
        fail(v, "expected a policy error (exit 125), got exit %d", r->status);
    if (r->status == 127 || r->status < 0) {
        fail(v, "CLI exit %d: %.300s", r->status, r->err.data);
        return;
    }
    json_error_t jerr;
    json_t *o = json_loadb(r->out.data, r->out.len, JSON_ALLOW_NUL, &jerr);
    if (o == NULL || !json_is_object(o)) {
        fail(v, "stdout is not one JSON object (%s): %.200s", jerr.text, r->out.data);
        json_decref(o);
        return;
    }
    static const struct {
        const char *key;
        const char *type; /* b bool, i int, s string, n nullable-, r number */
    } fields[] = {
        {"success", "b"},          {"exit_code", "ni"},     {"stdout", "s"},
        {"stderr", "s"},           {"stdout_truncated", "b"}, {"stderr_truncated", "b"},
        {"trapped", "b"},          {"trap_reason", "ns"},   {"trap_message", "ns"},
        {"fuel_consumed", "i"},    {"fuel_budget", "i"},    {"memory_used_bytes", "i"},
        {"memory_limit_bytes", "i"}, {"memory_pages", "i"}, {"duration_ms", "r"},
    };
    bool shape_ok = true;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *f = json_object_get(o, fields[i].key);
        const char *t = fields[i].type;
        bool ok = f != NULL;
        if (ok && t[0] == 'n' && json_is_null(f))
            continue;
        char want = t[strlen(t) - 1];
        if (ok)
            ok = want == 'b'   ? json_is_boolean(f)
                 : want == 'i' ? json_is_integer(f)
                 : want == 's' ? json_is_string(f)
                               : json_is_number(f);
        if (!ok) {
            fail(v, "result field '%s' missing or of the wrong type", fields[i].key);
            shape_ok = false;
        }
    }
    if (!shape_ok) {
        json_decref(o);
        return;
    }
    bool success = json_is_true(json_object_get(o, "success"));
    bool trapped = json_is_true(json_object_get(o, "trapped"));
    json_t *jexit = json_object_get(o, "exit_code");
    json_t *jreason = json_object_get(o, "trap_reason");
    const char *reason = json_is_null(jreason) ? "null" : json_string_value(jreason);
    long long exit_code = json_is_null(jexit) ? -1 : json_integer_value(jexit);
    const char *out = json_string_value(json_object_get(o, "stdout"));
    size_t out_len = json_string_length(json_object_get(o, "stdout"));
    const char *err = json_string_value(json_object_get(o, "stderr"));
    size_t err_len = json_string_length(json_object_get(o, "stderr"));
    bool out_trunc = json_is_true(json_object_get(o, "stdout_truncated"));
    bool err_trunc = json_is_true(json_object_get(o, "stderr_truncated"));

    /* Self-consistency (docs/result.md). */
    bool known = strcmp(reason, "null") == 0;
    for (size_t i = 0; known_reasons[i] != NULL; i++)
        known |= strcmp(reason, known_reasons[i]) == 0;
    if (!known)
        fail(v, "unknown trap_reason '%s'", reason);
    bool is_null = strcmp(reason, "null") == 0, is_exit = strcmp(reason, "proc_exit") == 0;
    if (success != (is_null && exit_code == 0))
        fail(v, "success=%d inconsistent with trap_reason=%s exit_code=%lld", success, reason,
             exit_code);
    if (trapped != (!is_null && !is_exit))
        fail(v, "trapped=%d inconsistent with trap_reason=%s", trapped, reason);
    if (is_null && exit_code != 0)
        fail(v, "trap_reason null but exit_code %lld", exit_code);
    if (is_exit && exit_code <= 0)
        fail(v, "trap_reason proc_exit but exit_code %lld", exit_code);
    /* docs/result.md: exit_code is "null when it did not exit by itself
     * (trap, limit)". A guest that dies of an uncaught MemoryError at the
     * cap did call proc_exit(1), and the result keeps that status next to
     * trap_reason memory_limit; accepted here (see README.md). */
    if (trapped && exit_code != -1 && strcmp(reason, "memory_limit") != 0)
        fail(v, "trapped but exit_code %lld (expected null)", exit_code);
    int want_status = is_null ? 0
                      : is_exit ? (exit_code > 123 ? 123 : (int)exit_code)
                      : strcmp(reason, "timeout") == 0 ? 124
                                                       : 126;
    if (r->status != want_status)
        fail(v, "CLI exit %d but trap_reason %s implies %d", r->status, reason, want_status);
    json_int_t used = json_integer_value(json_object_get(o, "memory_used_bytes"));
    json_int_t limit = json_integer_value(json_object_get(o, "memory_limit_bytes"));
    json_int_t pages = json_integer_value(json_object_get(o, "memory_pages"));
    if (used > limit)
        fail(v, "memory_used_bytes %lld above memory_limit_bytes %lld", (long long)used,
             (long long)limit);
    if (pages * 65536 != used)
        fail(v, "memory_pages %lld does not match memory_used_bytes %lld", (long long)pages,
             (long long)used);
    if (limit != flag_size(hc, "--memory", 128000000))
        fail(v, "memory_limit_bytes %lld is not the policy's", (long long)limit);
    json_int_t fuel = json_integer_value(json_object_get(o, "fuel_consumed"));
    json_int_t budget = json_integer_value(json_object_get(o, "fuel_budget"));
    if (fuel < 0 || budget != flag_size(hc, "--fuel", 10000000000ll))
        fail(v, "fuel_consumed %lld / fuel_budget %lld", (long long)fuel, (long long)budget);
    int64_t out_cap = flag_size(hc, "--stdout-max", 2000000);
    int64_t err_cap = flag_size(hc, "--stderr-max", 1000000);
    if ((int64_t)raw_len(out, out_len) > out_cap)
        fail(v, "stdout holds %zu bytes, above the %lld cap", raw_len(out, out_len),
             (long long)out_cap);
    if ((int64_t)raw_len(err, err_len) > err_cap)
        fail(v, "stderr holds %zu bytes, above the %lld cap", raw_len(err, err_len),
             (long long)err_cap);
    if (trapped && !err_trunc) {
        char tail[128];
        xsnprintf(tail, sizeof tail, "Execution trapped: %s\n", reason);
        size_t tl = strlen(tail);
        if (err_len < tl || memcmp(err + err_len - tl, tail, tl) != 0)
            fail(v, "stderr does not end with '%.*s'", (int)tl - 1, tail);
    }
    if (strcmp(reason, "host_error") == 0) {
        bool expected = false;
        for (size_t i = 0; i < hc->nexpect; i++)
            if (strcmp(hc->expect[i].key, "trap") == 0 &&
                strstr(hc->expect[i].value, "host_error") != NULL)
                expected = true;
        if (!expected)
            fail(v, "trap_reason host_error: %s",
                 json_string_value(json_object_get(o, "trap_message")));
    }
    json_t *iso = json_object_get(json_object_get(o, "metadata"), "isolation");
    if (iso == NULL) {
        fail(v, "no metadata.isolation in the result");
    } else {
        if (!json_is_true(json_object_get(iso, "no_new_privs")) ||
            !json_is_true(json_object_get(iso, "seccomp")))
            fail(v, "the execution ran without no_new_privs or seccomp");
        if (!c->isolation_shown) {
            char *s = json_dumps(iso, JSON_COMPACT);
            printf("# isolation: %s\n", s ? s : "?");
            free(s);
            c->isolation_shown = true;
        }
    }

    /* Nothing escaped, nothing leaked. */
    if (memmem(out, out_len, "ESCAPED", 7) != NULL) {
        const char *e = memmem(out, out_len, "ESCAPED", 7);
        fail(v, "the guest reports an escape: %.*s", (int)strcspn(e, "\n"), e);
    }
    const char *tokens[2] = {c->secret_token, c->env_token};
    for (int t = 0; t < 2; t++) {
        if (strstr(r->out.data, tokens[t]) != NULL || strstr(r->err.data, tokens[t]) != NULL)
            fail(v, "the %s token appears in the output",
                 t == 0 ? "canary file's secret" : "host environment's canary");
    }

    /* The case's own expectations. */
    for (size_t i = 0; i < hc->nexpect; i++) {
        const char *k = hc->expect[i].key, *val = hc->expect[i].value;
        if (strcmp(k, "trap") == 0) {
            if (!alt_match(val, reason))
                fail(v, "trap_reason %s, expected %s (%s)", reason, val,
                     json_is_string(json_object_get(o, "trap_message"))
                         ? json_string_value(json_object_get(o, "trap_message"))
                         : "no message");
        } else if (strcmp(k, "exit") == 0) {
            char ex[32];
            if (exit_code < 0)
                xsnprintf(ex, sizeof ex, "null");
            else
                xsnprintf(ex, sizeof ex, "%lld", exit_code);
            if (!alt_match(val, ex))
                fail(v, "exit_code %s, expected %s", ex, val);
        } else if (strcmp(k, "cli_exit") == 0) {
            char ex[32];
            xsnprintf(ex, sizeof ex, "%d", r->status);
            if (!alt_match(val, ex))
                fail(v, "CLI exit %d, expected %s", r->status, val);
        } else if (strcmp(k, "stdout_contains") == 0) {
            if (memmem(out, out_len, val, strlen(val)) == NULL)
                fail(v, "stdout lacks \"%s\"", val);
        } else if (strcmp(k, "stdout_not_contains") == 0) {
            if (memmem(out, out_len, val, strlen(val)) != NULL)
                fail(v, "stdout contains \"%s\"", val);
        } else if (strcmp(k, "stderr_contains") == 0 || strcmp(k, "exception") == 0) {
            if (memmem(err, err_len, val, strlen(val)) == NULL)
                fail(v, "stderr lacks \"%s\"", val);
        } else if (strcmp(k, "stderr_not_contains") == 0) {
            if (memmem(err, err_len, val, strlen(val)) != NULL)
                fail(v, "stderr contains \"%s\"", val);
        } else if (strcmp(k, "stdout_truncated") == 0) {
            if (out_trunc != (strcmp(val, "true") == 0))
                fail(v, "stdout_truncated=%d, expected %s", out_trunc, val);
        } else if (strcmp(k, "stderr_truncated") == 0) {
            if (err_trunc != (strcmp(val, "true") == 0))
                fail(v, "stderr_truncated=%d, expected %s", err_trunc, val);
        } else if (strcmp(k, "max_seconds") == 0) {
            if (r->elapsed > atof(val))
                fail(v, "took %.2f s, expected at most %s", r->elapsed, val);
        } else if (strcmp(k, "min_stdout") == 0) {
            if ((double)out_len < atof(val))
                fail(v, "stdout has %zu bytes, expected at least %s", out_len, val);
        } else if (strcmp(k, "json_true") == 0 || strcmp(k, "json_false") == 0) {
            json_t *f = json_object_get(o, val);
            bool want = strcmp(k, "json_true") == 0;
            if (!json_is_boolean(f) || json_is_true(f) != want)
                fail(v, "result field '%s' is not %s", val, want ? "true" : "false");
        } else if (strcmp(k, "policy_error") == 0) {
            /* handled above */
        } else {
            fail(v, "unknown expectation key '%s'", k);
        }
    }
    if (v->failures > 0) {
        buf_printf(&v->why, "    --- guest stdout (first 1500 bytes):\n%.1500s\n", out);
        buf_printf(&v->why, "    --- guest stderr (last 1500 bytes):\n%s\n",
                   err_len > 1500 ? err + err_len - 1500 : err);
    }
    json_decref(o);
}

/* ---- one case ------------------------------------------------------------- */

static bool dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return false;
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = false;
    closedir(d);
    return empty;
}

static bool run_case(context *c, hostile_case *hc, int index)
{
    verdict v = {0};
    char ws[PATH_MAX];
    xsnprintf(ws, sizeof ws, "%s/%02d", c->ws_parent, index);
    make_dir(ws, 0755);
    planted pl;
    plant(c, hc, ws, &pl);

    /* The host before this case: the planted hard links change link counts,
     * so compare against the state after planting, and against the global
     * baseline once the workspace is gone. */
    buf before = {0}, after = {0};
    manifest_root(&before, c->root);

    /* argv */
    char **argv = xmalloc(MAX_ARGS * sizeof *argv);
    size_t n = 0;
    argv[n++] = xstrdup(c->cli);
    argv[n++] = xstrdup("run");
    argv[n++] = xstrdup("--json");
    argv[n++] = xstrdup("--wasm");
    argv[n++] = xstrdup(c->wasm);
    if (!hc->temporary_ws) {
        argv[n++] = xstrdup("--workspace");
        argv[n++] = xstrdup(ws);
    }
    for (size_t i = 0; i < hc->nflags; i++) {
        char s[PATH_MAX * 2];
        subst(c, ws, hc->flags[i], s, sizeof s);
        argv[n++] = xstrdup(s);
    }
    for (long i = 0; i < hc->gen_env_count && n + 2 < MAX_ARGS / 2; i++) {
        char *s = xmalloc((size_t)hc->gen_env_len + 64);
        int k = sprintf(s, "VIV_GEN_%ld=", i);
        memset(s + k, 'e', (size_t)hc->gen_env_len);
        s[k + hc->gen_env_len] = '\0';
        argv[n++] = xstrdup("--env");
        argv[n++] = s;
    }
    argv[n++] = xstrdup(hc->path);
    for (long i = 0; i < hc->gen_arg_count && n + 2 < MAX_ARGS; i++) {
        char *s = xmalloc((size_t)hc->gen_arg_len + 32);
        int k = sprintf(s, "%ld:", i);
        memset(s + k, 'a', (size_t)hc->gen_arg_len);
        s[k + hc->gen_arg_len] = '\0';
        argv[n++] = s;
    }
    argv[n] = NULL;

    char env_path[] = "PATH=/usr/bin:/bin";
    char env_tmp[PATH_MAX + 8], env_canary[128], env_home[PATH_MAX + 8];
    xsnprintf(env_tmp, sizeof env_tmp, "TMPDIR=%s", c->tmp);
    xsnprintf(env_home, sizeof env_home, "HOME=%s", c->tmp);
    xsnprintf(env_canary, sizeof env_canary, "%s=%s", CANARY_ENV, c->env_token);
    char env_lang[] = "LC_ALL=C";
    /* Which path the corpus runs on (cold, or warm with VIVARIUM_WARM=1)
     * is the one setting passed through. */
    char env_warm[] = "VIVARIUM_WARM=1";
    const char *want_warm = getenv("VIVARIUM_WARM");
    bool warm = want_warm != NULL && strcmp(want_warm, "1") == 0;
    char *envp[] = {env_path, env_tmp, env_home, env_canary, env_lang, warm ? env_warm : NULL,
                    NULL};

    pid_t race = hc->has_race ? start_race(ws, hc->race_a, hc->race_b) : -1;
    cli_run r;
    run_cli(argv, envp, hc->watchdog_s, &r);
    if (race > 0) {
        kill(race, SIGKILL);
        waitpid(race, NULL, 0);
    }
    for (size_t i = 0; i < n; i++)
        free(argv[i]);
    free(argv);

    /* (b) the CLI lived and answered. */
    if (r.watchdog)
        fail(&v, "the watchdog killed the CLI after %.1f s", r.elapsed);
    else if (r.term_sig != 0)
        fail(&v, "the CLI died of signal %d (%s)", r.term_sig, strsignal(r.term_sig));
    else
        check_json(c, hc, &r, &v);

    /* (c) the host is unchanged. */
    manifest_root(&after, c->root);
    if (strcmp(before.data, after.data) != 0) {
        fail(&v, "the host changed outside the workspace during the run:");
        manifest_diff(&v.why, before.data, after.data);
    }
    int wsfd = open(ws, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (wsfd >= 0) {
        buf problems = {0};
        unplant_symlinks(wsfd, &pl, 0);
        check_ws_symlinks(wsfd, wsfd, "", &problems, 0);
        if (problems.len > 0) {
            fail(&v, "escaping symlinks left in the workspace:");
            buf_add(&v.why, problems.data, problems.len);
        }
        buf_free(&problems);
        close(wsfd);
    }
    if (!dir_is_empty(c->tmp)) {
        fail(&v, "the CLI left files in its TMPDIR %s:", c->tmp);
        DIR *d = opendir(c->tmp);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                buf_printf(&v.why, "      %s\n", e->d_name);
        if (d != NULL)
            closedir(d);
        rm_rf(c->tmp);
        make_dir(c->tmp, 0700);
    }
    if (!c->keep)
        rm_rf(ws);
    manifest_root(&after, c->root);
    if (!c->keep && strcmp(c->baseline.data, after.data) != 0) {
        fail(&v, "the host differs from the baseline after the case:");
        manifest_diff(&v.why, c->baseline.data, after.data);
        /* Re-baseline so one failure does not cascade into every case. */
        manifest_root(&c->baseline, c->root);
    }

    bool ok = v.failures == 0;
    printf("%s %-40s %6.2fs  exit=%d\n", ok ? "PASS" : "FAIL", hc->name, r.elapsed, r.status);
    if (!ok)
        fputs(v.why.data, stdout);
    else if (c->verbose && r.out.len > 0)
        printf("    %.600s\n", r.out.data);
    fflush(stdout);
    buf_free(&r.out);
    buf_free(&r.err);
    buf_free(&before);
    buf_free(&after);
    buf_free(&v.why);
    return ok;
}

/* ---- the scratch root ------------------------------------------------------ */

static void build_root(context *c)
{
    const char *base = getenv("TMPDIR");
    char tmpl[PATH_MAX];
    xsnprintf(tmpl, sizeof tmpl, "%s/viv-hostile-XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(tmpl) == NULL)
        die("mkdtemp %s: %s", tmpl, strerror(errno));
    if (realpath(tmpl, c->root) == NULL)
        die("realpath %s: %s", tmpl, strerror(errno));
    xsnprintf(c->canary, sizeof c->canary, "%s/canary", c->root);
    xsnprintf(c->data, sizeof c->data, "%s/data", c->root);
    xsnprintf(c->ro, sizeof c->ro, "%s/ro", c->root);
    xsnprintf(c->ws_parent, sizeof c->ws_parent, "%s/ws", c->root);
    xsnprintf(c->tmp, sizeof c->tmp, "%s/tmp", c->root);
    char p[PATH_MAX + 64], text[256];

    /* The canary tree: outside every mount; nothing may ever change it. */
    make_dir(c->canary, 0755);
    xsnprintf(p, sizeof p, "%s/secret.txt", c->canary);
    xsnprintf(text, sizeof text, "%s\n", c->secret_token);
    write_file(p, text, 0644);
    xsnprintf(p, sizeof p, "%s/writable.txt", c->canary);
    write_file(p, "world-writable canary\n", 0666);
    xsnprintf(p, sizeof p, "%s/notes", c->canary);
    make_dir(p, 0755);
    xsnprintf(p, sizeof p, "%s/notes/inner.txt", c->canary);
    write_file(p, "canary inner file\n", 0600);
    xsnprintf(p, sizeof p, "%s/empty", c->canary);
    make_dir(p, 0777);
    xsnprintf(p, sizeof p, "%s/link", c->canary);
    if (symlink("secret.txt", p) != 0)
        die("symlink: %s", strerror(errno));

    /* The read-only data directory, with known files. */
    make_dir(c->data, 0755);
    xsnprintf(p, sizeof p, "%s/readme.txt", c->data);
    write_file(p, "DATA-README\n", 0644);
    xsnprintf(p, sizeof p, "%s/open.txt", c->data);
    write_file(p, "world-writable data file\n", 0666);
    xsnprintf(p, sizeof p, "%s/tool.sh", c->data);
    write_file(p, "#!/bin/sh\necho data\n", 0755);
    xsnprintf(p, sizeof p, "%s/sub", c->data);
    make_dir(p, 0755);
    xsnprintf(p, sizeof p, "%s/sub/nested.txt", c->data);
    write_file(p, "DATA-NESTED\n", 0644);
    xsnprintf(p, sizeof p, "%s/emptydir", c->data);
    make_dir(p, 0777);
    xsnprintf(p, sizeof p, "%s/link_inside", c->data);
    if (symlink("readme.txt", p) != 0)
        die("symlink: %s", strerror(errno));

    /* An extra read-only mount. */
    make_dir(c->ro, 0755);
    xsnprintf(p, sizeof p, "%s/ro.txt", c->ro);
    write_file(p, "RO-MOUNT\n", 0644);

    make_dir(c->ws_parent, 0755);
    make_dir(c->tmp, 0700);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_case(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 3 && strcmp(e->d_name + n - 3, ".py") == 0 && e->d_name[0] != '.';
}

int main(int argc, char **argv)
{
    context c = {.cli = HOSTILE_DEFAULT_CLI, .wasm = HOSTILE_DEFAULT_WASM};
    const char *cases_dir = HOSTILE_DEFAULT_CASES;
    const char *filters[64];
    size_t nfilters = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cli") == 0 && i + 1 < argc)
            c.cli = argv[++i];
        else if (strcmp(argv[i], "--wasm") == 0 && i + 1 < argc)
            c.wasm = argv[++i];
        else if (strcmp(argv[i], "--cases") == 0 && i + 1 < argc)
            cases_dir = argv[++i];
        else if (strcmp(argv[i], "-v") == 0)
            c.verbose = true;
        else if (strcmp(argv[i], "--keep") == 0)
            c.keep = true;
        else if (strcmp(argv[i], "--expect-fail") == 0)
            c.expect_fail = true;
        else if (argv[i][0] == '-') {
            fprintf(stderr,
                    "usage: %s [--cli PATH] [--wasm PATH] [--cases DIR] [-v] [--keep] "
                    "[--expect-fail] [NAME-SUBSTRING...]\n",
                    argv[0]);
            return 2;
        } else if (nfilters < 64)
            filters[nfilters++] = argv[i];
    }
    if (access(c.cli, X_OK) != 0)
        die("no CLI at %s", c.cli);
    if (access(c.wasm, R_OK) != 0) {
        /* Not built (tools/bootstrap builds it): a corpus that did not run
         * has not passed. */
        printf("no guest module at %s (tools/bootstrap builds it)\n0 passed, 1 failed\n", c.wasm);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    char hex[33];
    random_hex(hex, 16);
    xsnprintf(c.secret_token, sizeof c.secret_token, "CANARYSECRET%s", hex);
    random_hex(hex, 16);
    xsnprintf(c.env_token, sizeof c.env_token, "CANARYENV%s", hex);
    build_root(&c);

    /* One plain run first, so that a CLI that cannot run the guest at all
     * (for example an artifact built for another engine ABI) is one clear
     * failure instead of one per case. */
    {
        char env_tmp[PATH_MAX + 8];
        xsnprintf(env_tmp, sizeof env_tmp, "TMPDIR=%s", c.tmp);
        char *probe_env[] = {env_tmp, NULL};
        char *probe_argv[] = {(char *)c.cli, "run", "--json", "--wasm", (char *)c.wasm, "-c",
                              "print(1)", NULL};
        cli_run probe;
        run_cli(probe_argv, probe_env, 60, &probe);
        if (probe.status != 0) {
            printf("FAIL the CLI cannot run a plain print(1) (exit %d): %s\n", probe.status,
                   probe.err.data);
            rm_rf(c.root);
            return 1;
        }
        buf_free(&probe.out);
        buf_free(&probe.err);
    }
    manifest_root(&c.baseline, c.root);
    manifest_root(&c.original, c.root);
    printf("# scratch root %s\n", c.root);

    struct dirent **ents;
    int nents = scandir(cases_dir, &ents, is_case, by_name);
    if (nents < 0)
        die("cannot list %s: %s", cases_dir, strerror(errno));
    int passed = 0, failed = 0;
    double start = now_s();
    for (int i = 0; i < nents; i++) {
        bool selected = nfilters == 0;
        for (size_t f = 0; f < nfilters; f++)
            selected |= strstr(ents[i]->d_name, filters[f]) != NULL;
        if (selected) {
            hostile_case *hc = xmalloc(sizeof *hc);
            parse_case(hc, cases_dir, ents[i]->d_name);
            if (run_case(&c, hc, i))
                passed++;
            else
                failed++;
            free_case(hc);
            free(hc);
        }
        free(ents[i]);
    }
    free(ents);

    /* The whole run, end to end: the host is exactly as it was. */
    buf final = {0};
    manifest_root(&final, c.root);
    buf tmp = {0};
    if (!c.keep && strcmp(final.data, c.original.data) != 0) {
        manifest_diff(&tmp, c.original.data, final.data);
        printf("FAIL host state after the whole run differs from the baseline:\n%s", tmp.data);
        failed++;
    }
    buf_free(&tmp);
    buf_free(&final);
    buf_free(&c.baseline);
    buf_free(&c.original);
    if (!c.keep)
        rm_rf(c.root);
    else
        printf("# kept %s\n", c.root);
    printf("%d passed, %d failed (%.1f s)\n", passed, failed, now_s() - start);
    if (c.expect_fail) {
        /* The runner's own self-test: cases built to trip each oracle. */
        printf("self-test: %s (every case must fail)\n",
               passed == 0 && failed > 0 ? "ok" : "BROKEN ORACLE");
        return passed == 0 && failed > 0 ? 0 : 1;
    }
    return failed == 0 && passed > 0 ? 0 : 1;
}
