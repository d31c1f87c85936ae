/*
 * src/session/store.c: the session store: ids, metadata and the life of a
 * session (open/get/touch/list/remove/prune).
 *
 * Owns: struct viv_session_store, the layout ROOT/<id>/{session.json,
 * workspace/}, UUIDv4 generation, the metadata format and its atomic
 * writes, and every decision about what counts as a session.
 *
 * Concurrency rests on single atomic kernel operations, never on locks:
 *   - mkdir(ROOT/<id>) decides who creates a session: exactly one racing
 *     caller gets success, everyone else EEXIST and becomes a retriever.
 *     The creator then makes workspace/ and writes session.json; a
 *     retriever that finds the directory before the metadata waits for it.
 *   - session.json is replaced by rename(2) of a complete, fsync'ed temp
 *     file, so a reader sees the old or the new version, never half of one.
 *   - Removal first renames ROOT/<id> to ROOT/.trash-<id>-<random>, so the
 *     id disappears at once (a concurrent open creates a fresh session
 *     instead of finding a half-deleted one), then deletes the tree by fd.
 * All lookups are relative to the root fd, one component at a time, with
 * O_NOFOLLOW: an entry in ROOT that is a symlink is never a session.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy.h"
#include "log.h"
#include "session_internal.h"

/* Metadata is a few hundred bytes; anything far larger is not ours. */
#define META_MAX_BYTES 65536
/* How long a retriever waits for a concurrent creator's metadata. */
#define META_WAIT_STEPS   100
#define META_WAIT_STEP_NS 10000000L /* 10 ms: 1 s in all */
/* Rounds of "mkdir lost, but the winner's directory vanished before we
 * could read it" (a concurrent remove) before open gives up. */
#define OPEN_ATTEMPTS 16
/* Trash younger than this may still be in use (see trash_abandoned). */
#define TRASH_GRACE_S 600

/* ---- errors --------------------------------------------------------------- */

static viv_status oom(viv_error *err)
{
    return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
}

/* Failure of a host call on ROOT/<id>[/name]; ENOMEM keeps its own status. */
static viv_status host_fail(viv_session_store *store, viv_error *err, const char *id,
                            const char *name, const char *what, int e)
{
    if (e == ENOMEM)
        return oom(err);
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s%s%s", store->root, id ? "/" : "", id ? id : "",
             name ? "/" : "", name ? name : "");
    return viv_error_set(err, VIV_EHOST, NULL, path, "%s: %s", what, strerror(e));
}

/* ---- ids and times -------------------------------------------------------- */

bool viv_session_id_valid(const char *id)
{
    if (id == NULL)
        return false;
    size_t n = 0;
    for (; id[n] != '\0'; n++) {
        char c = id[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok || n >= VIV_SESSION_ID_MAX)
            return false;
    }
    return n >= 1;
}

const char *viv_session_printable(const char *in, char *out, size_t outlen)
{
    size_t n = 0, i = 0;
    for (; in[i] != '\0' && n + 4 < outlen; i++) {
        unsigned char c = (unsigned char)in[i];
        out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (in[i] != '\0')
        for (int k = 0; k < 3; k++)
            out[n++] = '.';
    out[n] = '\0';
    return out;
}

viv_status viv_session_check_id(const char *id, viv_error *err)
{
    if (id == NULL)
        return viv_error_set(err, VIV_EINVAL, "session_id", NULL, "session id must not be NULL");
    if (!viv_session_id_valid(id)) {
        char shown[84];
        return viv_error_set(err, VIV_EINVAL, "session_id", NULL,
                             "invalid session id \"%s\": ids match ^[A-Za-z0-9_-]{1,64}$",
                             viv_session_printable(id, shown, sizeof shown));
    }
    return VIV_OK;
}

/* A random UUID (RFC 9562 version 4), lowercase, 36 characters. */
static int new_uuid(char out[VIV_SESSION_ID_MAX + 1])
{
    char hex[33];
    if (viv_session_random_hex(hex) != 0)
        return -1;
    /* Version nibble 4; variant bits 10xx, i.e. the nibble is 8, 9, a or b
     * chosen by the random nibble's low two bits. */
    hex[12] = '4';
    int v = hex[16] <= '9' ? hex[16] - '0' : hex[16] - 'a' + 10;
    hex[16] = "89ab"[v & 3];
    snprintf(out, VIV_SESSION_ID_MAX + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
    return 0;
}

static void format_time(time_t t, char buf[32])
{
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, 32, "1970-01-01T00:00:00Z");
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Exactly "YYYY-MM-DDTHH:MM:SSZ" naming a real instant. */
static bool parse_time(const char *s, time_t *out)
{
    if (strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != 'Z')
        return false;
    int y, mo, d, h, mi, se;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
        return false;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = se};
    time_t t = timegm(&tm);
    /* timegm normalises (Feb 30 -> Mar 2); a round trip rejects that. */
    struct tm back;
    if (gmtime_r(&t, &back) == NULL || back.tm_year != y - 1900 || back.tm_mon != mo - 1 ||
        back.tm_mday != d || back.tm_hour != h || back.tm_min != mi || back.tm_sec != se)
        return false;
    *out = t;
    return true;
}

/* ---- metadata ------------------------------------------------------------- */

typedef struct meta {
    char created_at[32];
    char updated_at[32];
    time_t updated;
    int version;
} meta;

typedef enum meta_result {
    META_OK,
    META_MISSING,
    META_CORRUPT,     /* not ours: unparsable, wrong fields, wrong id, a link */
    META_UNSUPPORTED, /* a version this code does not know */
    META_ERROR,       /* could not be read; errno says why */
} meta_result;

static const char *meta_reason(meta_result r)
{
    switch (r) {
    case META_MISSING:
        return "missing metadata";
    case META_CORRUPT:
        return "corrupt metadata";
    case META_UNSUPPORTED:
        return "unsupported metadata version";
    case META_ERROR:
        return "unreadable metadata";
    case META_OK:
        break;
    }
    return "";
}

static ssize_t read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    return (ssize_t)len;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * session.json is read by this small reader rather than by jansson:
 * under memory pressure jansson's parser can fail with a syntax error, or
 * worse succeed with characters silently dropped from a string (found by
 * test_session_alloc; its encoder has the same flaw, see meta_write), and
 * a session must never look corrupt, or different, because malloc failed.
 * The reader allocates nothing and accepts the subset of JSON our writer
 * produces and a hand edit is likely to keep: ASCII strings without \u
 * escapes, integers of up to 18 digits, true/false/null, nesting up to 32
 * levels. Anything else is corrupt metadata.
 */
typedef struct scan {
    const char *p, *end;
} scan;

static void scan_ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool scan_char(scan *s, char c)
{
    scan_ws(s);
    if (s->p >= s->end || *s->p != c)
        return false;
    s->p++;
    return true;
}

static bool scan_lit(scan *s, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return false;
    s->p += n;
    return true;
}

/* A string; raw and len get its bytes between the quotes, escapes as is. */
static bool scan_string(scan *s, const char **raw, size_t *len)
{
    if (!scan_char(s, '"'))
        return false;
    const char *start = s->p;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p++;
        if (c == '"') {
            *raw = start;
            *len = (size_t)(s->p - 1 - start);
            return true;
        }
        if (c < 0x20 || c >= 0x7f)
            return false;
        if (c == '\\') {
            if (s->p >= s->end || *s->p == '\0' || strchr("\"\\/bfnrt", *s->p) == NULL)
                return false;
            s->p++;
        }
    }
    return false;
}

static bool scan_int(scan *s, long long *out)
{
    scan_ws(s);
    bool neg = s->p < s->end && *s->p == '-';
    if (neg)
        s->p++;
    const char *d = s->p;
    long long v = 0;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        v = v * 10 + (*s->p++ - '0');
    size_t nd = (size_t)(s->p - d);
    if (nd == 0 || nd > 18 || (nd > 1 && *d == '0'))
        return false;
    if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E'))
        return false;
    *out = neg ? -v : v;
    return true;
}

static bool scan_value(scan *s, int depth)
{
    scan_ws(s);
    if (s->p >= s->end || depth > 32)
        return false;
    char c = *s->p;
    const char *raw;
    size_t len;
    long long v;
    if (c == '"')
        return scan_string(s, &raw, &len);
    if (c == '-' || (c >= '0' && c <= '9'))
        return scan_int(s, &v);
    if (c != '{' && c != '[')
        return scan_lit(s, "true") || scan_lit(s, "false") || scan_lit(s, "null");
    char close = c == '{' ? '}' : ']';
    s->p++;
    if (scan_char(s, close))
        return true;
    do {
        if (c == '{' && (!scan_string(s, &raw, &len) || !scan_char(s, ':')))
            return false;
        if (!scan_value(s, depth + 1))
            return false;
    } while (scan_char(s, ','));
    return scan_char(s, close);
}

typedef struct raw_meta {
    const char *id, *created, *updated; /* not NUL-terminated */
    size_t idn, createdn, updatedn;
    long long version;
    bool has_version;
} raw_meta;

static bool key_is(const char *raw, size_t len, const char *key)
{
    return len == strlen(key) && memcmp(raw, key, len) == 0;
}

/* The top-level object: the four fields we know (each at most once, with
 * the right type), anything else skipped. */
static bool scan_meta(const char *text, size_t len, raw_meta *m)
{
    memset(m, 0, sizeof *m);
    scan s = {text, text + len};
    if (!scan_char(&s, '{'))
        return false;
    if (!scan_char(&s, '}')) {
        do {
            const char *k, **dst = NULL;
            size_t kn, *dstn = NULL;
            if (!scan_string(&s, &k, &kn) || !scan_char(&s, ':'))
                return false;
            if (key_is(k, kn, "session_id")) {
                dst = &m->id;
                dstn = &m->idn;
            } else if (key_is(k, kn, "created_at")) {
                dst = &m->created;
                dstn = &m->createdn;
            } else if (key_is(k, kn, "updated_at")) {
                dst = &m->updated;
                dstn = &m->updatedn;
            }
            if (dst != NULL) {
                if (*dst != NULL || !scan_string(&s, dst, dstn))
                    return false;
            } else if (key_is(k, kn, "version")) {
                if (m->has_version || !scan_int(&s, &m->version))
                    return false;
                m->has_version = true;
            } else if (!scan_value(&s, 1)) {
                return false;
            }
        } while (scan_char(&s, ','));
        if (!scan_char(&s, '}'))
            return false;
    }
    scan_ws(&s);
    return s.p == s.end;
}

/* A raw timestamp, checked and copied out. */
static bool raw_time(const char *raw, size_t len, char out[32], time_t *t)
{
    if (raw == NULL || len >= 32)
        return false;
    memcpy(out, raw, len);
    out[len] = '\0';
    return parse_time(out, t);
}

/* Read and check ROOT/<id>/session.json through the session's dir fd. On
 * META_ERROR errno is set (ENOMEM included). */
static meta_result meta_read(int sessfd, const char *id, meta *m)
{
    int fd = openat(sessfd, VIV_SESSION_META, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return META_MISSING;
        if (errno == ELOOP)
            return META_CORRUPT; /* a symlink is never our metadata */
        return META_ERROR;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return META_ERROR;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > META_MAX_BYTES) {
        close(fd);
        return META_CORRUPT;
    }
    /* One byte more than fstat said, to notice a file written in place
     * while we read it (ours never is: it is replaced by rename). */
    size_t cap = (size_t)st.st_size + 1;
    char *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        errno = ENOMEM;
        return META_ERROR;
    }
    ssize_t n = read_all(fd, buf, cap);
    int e = errno;
    close(fd);
    if (n < 0) {
        free(buf);
        errno = e;
        return META_ERROR;
    }
    if ((size_t)n == cap) {
        free(buf);
        return META_CORRUPT;
    }
    raw_meta raw;
    bool ok = scan_meta(buf, (size_t)n, &raw);
    meta_result r = META_CORRUPT;
    time_t created;
    if (ok && raw.has_version && raw.version > VIV_SESSION_VERSION) {
        r = META_UNSUPPORTED;
    } else if (ok && raw.has_version && raw.version == VIV_SESSION_VERSION && raw.id != NULL &&
               key_is(raw.id, raw.idn, id) &&
               raw_time(raw.created, raw.createdn, m->created_at, &created) &&
               raw_time(raw.updated, raw.updatedn, m->updated_at, &m->updated)) {
        m->version = VIV_SESSION_VERSION;
        r = META_OK;
    }
    free(buf);
    return r;
}

/* Replace session.json atomically: write a temp file beside it, fsync it,
 * rename it over, fsync the directory so the rename itself is durable.
 * Returns 0 or -1 with errno set. */
static int meta_write(int sessfd, const char *id, const char *created_at, const char *updated_at)
{
    /* Formatted here, not by jansson: its encoder can silently emit
     * malformed JSON when an allocation fails. No value needs escaping:
     * ids are checked against [A-Za-z0-9_-] and the times are ours. */
    char text[512];
    int len = snprintf(text, sizeof text,
                       "{\n  \"session_id\": \"%s\",\n  \"created_at\": \"%s\",\n"
                       "  \"updated_at\": \"%s\",\n  \"version\": %d\n}\n",
                       id, created_at, updated_at, VIV_SESSION_VERSION);
    if (len < 0 || (size_t)len >= sizeof text || !viv_session_id_valid(id)) {
        errno = EINVAL;
        return -1;
    }
    char hex[33], tmp[64];
    if (viv_session_random_hex(hex) != 0)
        return -1;
    snprintf(tmp, sizeof tmp, "." VIV_SESSION_META ".%s", hex);
    int fd = openat(sessfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int rc = write_all(fd, text, (size_t)len);
    if (rc == 0)
        rc = fsync(fd);
    int e = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && renameat(sessfd, tmp, sessfd, VIV_SESSION_META) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        unlinkat(sessfd, tmp, 0);
        errno = e;
        return -1;
    }
    return fsync(sessfd);
}

/* Wait for a concurrent creator to finish writing the metadata. True once
 * the name exists (whatever it turns out to hold), false after ~1 s. */
int viv_session_meta_rewrite(int dirfd, const char *id)
{
    char now[32];
    format_time(time(NULL), now);
    return meta_write(dirfd, id, now, now);
}

static bool meta_wait(int sessfd)
{
    for (int i = 0;; i++) {
        struct stat st;
        if (fstatat(sessfd, VIV_SESSION_META, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
            return true;
        if (i >= META_WAIT_STEPS)
            return false;
        struct timespec ts = {0, META_WAIT_STEP_NS};
        nanosleep(&ts, NULL);
    }
}

/* ---- opening a session directory ------------------------------------------ */

static int open_session_fd(viv_session_store *store, const char *name)
{
    return openat(store->rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

viv_status viv_session_open_dir(viv_session_store *store, const char *id, int *dirfd,
                                viv_error *err)
{
    int fd = open_session_fd(store, id);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", store->root, id);
            return viv_error_set(err, VIV_ENOENT, "session_id", path, "no session \"%s\"%s", id,
                                 errno == ENOENT ? "" : " (the entry is not a directory)");
        }
        return host_fail(store, err, id, NULL, "cannot open session directory", errno);
    }
    if (!meta_wait(fd)) {
        close(fd);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/%s", store->root, id, VIV_SESSION_META);
        return viv_error_set(err, VIV_ENOENT, "session_id", path,
                             "no session \"%s\": its directory has no metadata", id);
    }
    *dirfd = fd;
    return VIV_OK;
}

viv_status viv_session_open_workspace(viv_session_store *store, const char *id, int *wsfd,
                                      viv_error *err)
{
    int sfd;
    viv_status st = viv_session_open_dir(store, id, &sfd, err);
    if (st != VIV_OK)
        return st;
    int fd = openat(sfd, VIV_SESSION_WORKSPACE, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    close(sfd);
    if (fd < 0) {
        if (e == ENOENT || e == ENOTDIR || e == ELOOP) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s/%s", store->root, id, VIV_SESSION_WORKSPACE);
            return viv_error_set(err, VIV_ENOENT, NULL, path,
                                 "session \"%s\" has no workspace directory", id);
        }
        return host_fail(store, err, id, VIV_SESSION_WORKSPACE, "cannot open workspace", e);
    }
    *wsfd = fd;
    return VIV_OK;
}

/* Metadata of an open session directory as the caller's status. */
static viv_status meta_status(viv_session_store *store, const char *id, meta_result r,
                              viv_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", store->root, id, VIV_SESSION_META);
    switch (r) {
    case META_OK:
        return VIV_OK;
    case META_MISSING:
        return viv_error_set(err, VIV_ENOENT, "session_id", path,
                             "no session \"%s\": its directory has no metadata", id);
    case META_ERROR:
        if (errno == ENOMEM)
            return oom(err);
        return viv_error_set(err, VIV_EHOST, NULL, path, "cannot read session metadata: %s",
                             strerror(errno));
    case META_CORRUPT:
    case META_UNSUPPORTED:
        break;
    }
    return viv_error_set(err, VIV_EHOST, NULL, path, "session \"%s\" has %s", id, meta_reason(r));
}

static void fill_info(viv_session_info *info, const char *id, const meta *m, int sessfd)
{
    if (info == NULL)
        return;
    memset(info, 0, sizeof *info);
    snprintf(info->id, sizeof info->id, "%.64s", id);
    snprintf(info->created_at, sizeof info->created_at, "%s", m->created_at);
    snprintf(info->updated_at, sizeof info->updated_at, "%s", m->updated_at);
    info->version = m->version;
    int ws = openat(sessfd, VIV_SESSION_WORKSPACE, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (ws >= 0) {
        info->size_bytes = viv_session_tree_bytes(ws);
        close(ws);
    }
}

/* ---- the store ------------------------------------------------------------ */

/* mkdir -p, 0700 for what it creates. Existing components are left as they
 * are (the root may be a shared, pre-made directory). */
static int mkdir_p(const char *path)
{
    char *p = strdup(path);
    if (p == NULL)
        return -1;
    for (char *s = p + 1; *s != '\0'; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            int e = errno;
            free(p);
            errno = e;
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(p, 0700);
    int e = errno;
    free(p);
    if (rc != 0 && e != EEXIST) {
        errno = e;
        return -1;
    }
    return 0;
}

viv_status viv_session_store_open(const char *root, viv_session_store **out, viv_error *err)
{
    if (out == NULL)
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "out must not be NULL");
    *out = NULL;
    if (root == NULL || root[0] == '\0')
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "the store root must be a path");
    if (mkdir_p(root) != 0) {
        if (errno == ENOMEM)
            return oom(err);
        return viv_error_set(err, VIV_EHOST, NULL, root, "cannot create the session store: %s",
                             strerror(errno));
    }
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return viv_error_set(err, errno == ENOENT ? VIV_ENOENT : VIV_EHOST, NULL, root,
                             "cannot open the session store: %s", strerror(errno));
    viv_session_store *s = calloc(1, sizeof *s);
    char *abs = s != NULL ? realpath(root, NULL) : NULL;
    if (abs == NULL) {
        int e = s == NULL ? ENOMEM : errno;
        free(s);
        close(fd);
        if (e == ENOMEM)
            return oom(err);
        return viv_error_set(err, VIV_EHOST, NULL, root, "cannot resolve the store root: %s",
                             strerror(e));
    }
    s->root = abs;
    s->rootfd = fd;
    *out = s;
    return VIV_OK;
}

void viv_session_store_close(viv_session_store *store)
{
    if (store == NULL)
        return;
    close(store->rootfd);
    free(store->root);
    free(store);
}

const char *viv_session_store_root(const viv_session_store *store)
{
    return store != NULL ? store->root : NULL;
}

static viv_status check_store(viv_session_store *store, viv_error *err)
{
    if (store == NULL)
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "store must not be NULL");
    return VIV_OK;
}

/* ---- open / get / touch --------------------------------------------------- */

/* We won the mkdir: make the workspace and the metadata. On failure the
 * half-made directory is removed so the id stays free for a retry. */
static viv_status create_session(viv_session_store *store, const char *id, viv_session_info *info,
                                 viv_error *err)
{
    int fd = open_session_fd(store, id);
    if (fd < 0)
        return host_fail(store, err, id, NULL, "cannot open new session directory", errno);
    meta m = {.version = VIV_SESSION_VERSION};
    m.updated = time(NULL);
    format_time(m.updated, m.created_at);
    memcpy(m.updated_at, m.created_at, sizeof m.updated_at);
    viv_status st = VIV_OK;
    if (mkdirat(fd, VIV_SESSION_WORKSPACE, 0700) != 0)
        st = host_fail(store, err, id, VIV_SESSION_WORKSPACE, "cannot create workspace", errno);
    else if (meta_write(fd, id, m.created_at, m.updated_at) != 0)
        st = host_fail(store, err, id, VIV_SESSION_META, "cannot write session metadata", errno);
    if (st != VIV_OK) {
        close(fd);
        viv_session_rmtree_at(store->rootfd, id);
        return st;
    }
    fill_info(info, id, &m, fd);
    close(fd);
    return VIV_OK;
}

/* Same directory at fd and at ROOT/<id>? False once a concurrent remove has
 * renamed it away (and maybe someone created a new one). */
static bool still_there(viv_session_store *store, const char *id, int fd)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && fstatat(store->rootfd, id, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

viv_status viv_session_open(viv_session_store *store, const char *id, viv_session_info *info,
                            bool *created, viv_error *err)
{
    if (created != NULL)
        *created = false;
    viv_status st = check_store(store, err);
    if (st != VIV_OK)
        return st;
    char idbuf[VIV_SESSION_ID_MAX + 1];
    if (id != NULL) {
        if ((st = viv_session_check_id(id, err)) != VIV_OK) {
            viv_session_event_invalid_id(store, id);
            return st;
        }
        snprintf(idbuf, sizeof idbuf, "%s", id);
    }
    for (int attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
        if (id == NULL && new_uuid(idbuf) != 0)
            return host_fail(store, err, NULL, NULL, "cannot generate a session id", errno);
        if (mkdirat(store->rootfd, idbuf, 0700) == 0) {
            st = create_session(store, idbuf, info, err);
            if (st == VIV_OK && created != NULL)
                *created = true;
            if (st == VIV_OK)
                viv_session_event(store, VIV_EV_SESSION_CREATED, idbuf);
            return st;
        }
        if (errno != EEXIST)
            return host_fail(store, err, idbuf, NULL, "cannot create session directory", errno);
        if (id == NULL)
            continue; /* a UUID collision: draw another rather than adopt it */

        int fd = open_session_fd(store, idbuf);
        if (fd < 0) {
            if (errno == ENOENT)
                continue; /* removed between our mkdir and open: race again */
            if (errno == ENOTDIR || errno == ELOOP) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", store->root, idbuf);
                return viv_error_set(err, VIV_EHOST, "session_id", path,
                                     "\"%s\" exists in the store but is not a session directory",
                                     idbuf);
            }
            return host_fail(store, err, idbuf, NULL, "cannot open session directory", errno);
        }
        meta m;
        meta_result r = meta_wait(fd) ? meta_read(fd, idbuf, &m) : META_MISSING;
        int e = errno;
        if (!still_there(store, idbuf, fd)) {
            close(fd);
            continue;
        }
        if (r != META_OK) {
            close(fd);
            if (r == META_MISSING) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", store->root, idbuf);
                return viv_error_set(err, VIV_EHOST, "session_id", path,
                                     "session directory \"%s\" exists without metadata (its "
                                     "creator failed, or it is not a session); remove it",
                                     idbuf);
            }
            errno = e;
            return meta_status(store, idbuf, r, err);
        }
        /* A workspace removed by hand is recreated: the session is the
         * metadata, the workspace is its (possibly empty) contents. */
        if (mkdirat(fd, VIV_SESSION_WORKSPACE, 0700) != 0 && errno != EEXIST) {
            e = errno;
            close(fd);
            return host_fail(store, err, idbuf, VIV_SESSION_WORKSPACE, "cannot create workspace",
                             e);
        }
        fill_info(info, idbuf, &m, fd);
        close(fd);
        if (created != NULL)
            *created = false;
        viv_session_event(store, VIV_EV_SESSION_RETRIEVED, idbuf);
        return VIV_OK;
    }
    return viv_error_set(err, VIV_EHOST, "session_id", NULL,
                         "session \"%s\" kept disappearing while being opened (concurrent "
                         "removal?)",
                         id != NULL ? id : "(new)");
}

viv_status viv_session_get(viv_session_store *store, const char *id, viv_session_info *info,
                           viv_error *err)
{
    viv_status st = check_store(store, err);
    if (st == VIV_OK)
        st = viv_session_check_id(id, err);
    if (st != VIV_OK)
        return st;
    int fd;
    if ((st = viv_session_open_dir(store, id, &fd, err)) != VIV_OK)
        return st;
    meta m;
    meta_result r = meta_read(fd, id, &m);
    if (r == META_OK)
        fill_info(info, id, &m, fd);
    int e = errno;
    close(fd);
    errno = e;
    return meta_status(store, id, r, err);
}

viv_status viv_session_touch(viv_session_store *store, const char *id, viv_error *err)
{
    viv_status st = check_store(store, err);
    if (st == VIV_OK)
        st = viv_session_check_id(id, err);
    if (st != VIV_OK)
        return st;
    int fd;
    if ((st = viv_session_open_dir(store, id, &fd, err)) != VIV_OK)
        return st;
    meta m;
    meta_result r = meta_read(fd, id, &m);
    if (r != META_OK) {
        int e = errno;
        close(fd);
        errno = e;
        return meta_status(store, id, r, err);
    }
    format_time(time(NULL), m.updated_at);
    if (meta_write(fd, id, m.created_at, m.updated_at) != 0)
        st = host_fail(store, err, id, VIV_SESSION_META, "cannot write session metadata", errno);
    close(fd);
    return st;
}

viv_status viv_session_workspace(viv_session_store *store, const char *id, char *buf, size_t len,
                                 viv_error *err)
{
    viv_status st = check_store(store, err);
    if (st == VIV_OK)
        st = viv_session_check_id(id, err);
    if (st != VIV_OK)
        return st;
    if (buf == NULL || len == 0)
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "buf must not be NULL or empty");
    int fd;
    if ((st = viv_session_open_dir(store, id, &fd, err)) != VIV_OK)
        return st;
    close(fd);
    int n = snprintf(buf, len, "%s/%s/%s", store->root, id, VIV_SESSION_WORKSPACE);
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return viv_error_set(err, VIV_EINVAL, NULL, NULL,
                             "buffer too small for the workspace path (%d bytes needed)", n + 1);
    }
    return VIV_OK;
}

/* ---- list ----------------------------------------------------------------- */

static int info_cmp(const void *a, const void *b)
{
    return strcmp(((const viv_session_info *)a)->id, ((const viv_session_info *)b)->id);
}

/* A fresh DIR* over the root (its own offset, so concurrent listings in
 * one store do not disturb each other). */
static DIR *open_root_dir(viv_session_store *store)
{
    int fd = openat(store->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return d;
}

viv_status viv_session_list(viv_session_store *store, viv_session_info **list, size_t *count,
                            viv_error *err)
{
    viv_status st = check_store(store, err);
    if (st != VIV_OK)
        return st;
    if (list == NULL || count == NULL)
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "list and count must not be NULL");
    *list = NULL;
    *count = 0;
    DIR *d = open_root_dir(store);
    if (d == NULL)
        return host_fail(store, err, NULL, NULL, "cannot list the session store", errno);
    viv_session_info *v = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            if (errno != 0)
                st = host_fail(store, err, NULL, NULL, "cannot list the session store", errno);
            break;
        }
        if (!viv_session_id_valid(e->d_name))
            continue;
        int fd = open_session_fd(store, e->d_name);
        if (fd < 0)
            continue; /* a symlink, a file, or gone: not a session */
        meta m;
        meta_result r = meta_read(fd, e->d_name, &m);
        if (r == META_ERROR && errno == ENOMEM) {
            close(fd);
            st = oom(err);
            break;
        }
        if (r != META_OK) {
            close(fd);
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            viv_session_info *nv = realloc(v, ncap * sizeof *nv);
            if (nv == NULL) {
                close(fd);
                st = oom(err);
                break;
            }
            v = nv;
            cap = ncap;
        }
        fill_info(&v[n++], e->d_name, &m, fd);
        close(fd);
    }
    closedir(d);
    if (st != VIV_OK) {
        free(v);
        return st;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, info_cmp);
    *list = v;
    *count = n;
    return VIV_OK;
}

/* ---- remove --------------------------------------------------------------- */

/* Rename ROOT/<name> to a fresh trash name in ROOT. 0, or -1 with errno
 * (ENOENT: nothing there). */
static int move_to_trash(viv_session_store *store, const char *name, char trash[128])
{
    char hex[33];
    if (viv_session_random_hex(hex) != 0)
        return -1;
    /* ".trash-<unix time>-<random>-<id>": the time lets prune tell a
     * removal in progress from one abandoned long ago. */
    snprintf(trash, 128, VIV_SESSION_TRASH_PREFIX "%lld-%.16s-%.64s", (long long)time(NULL), hex,
             name);
    return renameat2(store->rootfd, name, store->rootfd, trash, RENAME_NOREPLACE);
}

/* Is ROOT/<name> (a trash entry) old enough that whoever made it is gone?
 * A fresh one may belong to a remove still deleting it, or to a prune about
 * to put a touched session back; deleting it under the latter would lose
 * a live session. Names without a readable time count as old. */
static bool trash_abandoned(const char *name, time_t now)
{
    const char *p = name + strlen(VIV_SESSION_TRASH_PREFIX);
    char *end;
    errno = 0;
    long long t = strtoll(p, &end, 10);
    if (end == p || *end != '-' || errno != 0)
        return true;
    return (long long)now - t > TRASH_GRACE_S;
}

viv_status viv_session_remove(viv_session_store *store, const char *id, viv_error *err)
{
    viv_status st = check_store(store, err);
    if (st == VIV_OK)
        st = viv_session_check_id(id, err);
    if (st != VIV_OK)
        return st;
    char trash[128];
    if (move_to_trash(store, id, trash) != 0) {
        if (errno == ENOENT)
            return VIV_OK;
        return host_fail(store, err, id, NULL, "cannot remove session", errno);
    }
    /* The id is free from here on; a failure below leaves only a trash
     * directory, which the next prune removes. */
    viv_session_event(store, VIV_EV_SESSION_DELETED, id);
    if (viv_session_rmtree_at(store->rootfd, trash) != 0)
        return host_fail(store, err, trash, NULL, "cannot delete removed session", errno);
    return VIV_OK;
}

/* ---- prune ---------------------------------------------------------------- */

typedef struct entry_vec {
    viv_prune_entry *v;
    size_t n, cap;
} entry_vec;

static bool entry_push(entry_vec *ev, const char *name, const char *reason, uint64_t bytes)
{
    if (ev->n == ev->cap) {
        size_t ncap = ev->cap ? ev->cap * 2 : 8;
        viv_prune_entry *nv = realloc(ev->v, ncap * sizeof *nv);
        if (nv == NULL)
            return false;
        ev->v = nv;
        ev->cap = ncap;
    }
    viv_prune_entry *p = &ev->v[ev->n++];
    memset(p, 0, sizeof *p);
    if (viv_session_id_valid(name))
        snprintf(p->id, sizeof p->id, "%.64s", name);
    else
        viv_session_printable(name, p->id, sizeof p->id); /* any bytes a directory holds */
    snprintf(p->reason, sizeof p->reason, "%s", reason);
    p->bytes = bytes;
    return true;
}

static int prune_cmp(const void *a, const void *b)
{
    return strcmp(((const viv_prune_entry *)a)->id, ((const viv_prune_entry *)b)->id);
}

void viv_prune_report_free(viv_prune_report *report)
{
    if (report == NULL)
        return;
    free(report->deleted);
    free(report->skipped);
    memset(report, 0, sizeof *report);
}

/* classify's answer when it could not decide for lack of memory. */
static const char NOMEM_REASON[] = "out of memory";

/* Why ROOT/<name> is not a prunable session, or NULL with *m and *sessfd
 * filled. */
static const char *classify(viv_session_store *store, const char *name, meta *m, int *sessfd)
{
    struct stat st;
    if (fstatat(store->rootfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? "vanished" : "unreadable entry";
    if (S_ISLNK(st.st_mode))
        return "symlink";
    if (!S_ISDIR(st.st_mode))
        return "not a directory";
    if (!viv_session_id_valid(name))
        return "invalid session id";
    /* O_NOFOLLOW again: the entry may have been swapped for a link since
     * the fstatat. */
    int fd = open_session_fd(store, name);
    if (fd < 0)
        return errno == ELOOP || errno == ENOTDIR ? "symlink" : "unreadable entry";
    meta_result r = meta_read(fd, name, m);
    int e = errno;
    if (r != META_OK) {
        close(fd);
        return r == META_ERROR && e == ENOMEM ? NOMEM_REASON : meta_reason(r);
    }
    *sessfd = fd;
    return NULL;
}

static uint64_t workspace_bytes(int sessfd)
{
    int ws = openat(sessfd, VIV_SESSION_WORKSPACE, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (ws < 0)
        return 0;
    uint64_t n = viv_session_tree_bytes(ws);
    close(ws);
    return n;
}

/* Delete one expired session, unless it is touched meanwhile. It is
 * renamed out of ROOT first, then its metadata is read again from the
 * renamed directory: a touch that landed between our first read and the
 * rename shows up there, and the session is put back (as it is when the
 * second read fails for any reason: we delete only what we saw expire).
 * Returns the skip reason, or NULL when it was deleted. */
static const char *prune_one(viv_session_store *store, const char *name, double cutoff)
{
    char trash[128];
    if (move_to_trash(store, name, trash) != 0)
        return errno == ENOENT ? "vanished" : "cannot move to trash";
    const char *why = "unreadable entry";
    int fd = open_session_fd(store, trash);
    if (fd >= 0) {
        meta m;
        meta_result r = meta_read(fd, name, &m);
        int e = errno;
        close(fd);
        if (r == META_OK)
            why = (double)m.updated < cutoff ? NULL : "updated during prune";
        else
            why = r == META_ERROR && e == ENOMEM ? NOMEM_REASON : meta_reason(r);
    }
    /* Restoring fails only if a new session took the id meanwhile; the old
     * one was expired when we took it, so then it goes. */
    if (why != NULL && renameat2(store->rootfd, trash, store->rootfd, name, RENAME_NOREPLACE) == 0)
        return why;
    if (viv_session_rmtree_at(store->rootfd, trash) != 0)
        return "delete failed";
    return NULL;
}

viv_status viv_session_prune(viv_session_store *store, double older_than_s, bool dry_run,
                             viv_prune_report *report, viv_error *err)
{
    viv_status st = check_store(store, err);
    if (st != VIV_OK)
        return st;
    if (report == NULL)
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "report must not be NULL");
    memset(report, 0, sizeof *report);
    if (!isfinite(older_than_s) || older_than_s < 0)
        return viv_error_set(err, VIV_EINVAL, "older_than_s", NULL,
                             "older_than_s must be a finite number >= 0");
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    /* updated_at has whole seconds; compare against the exact present. */
    double cutoff = (double)now.tv_sec + (double)now.tv_nsec / 1e9 - older_than_s;

    DIR *d = open_root_dir(store);
    if (d == NULL)
        return host_fail(store, err, NULL, NULL, "cannot list the session store", errno);
    entry_vec del = {0}, skip = {0};
    uint64_t reclaimed = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            if (errno != 0)
                st = host_fail(store, err, NULL, NULL, "cannot list the session store", errno);
            break;
        }
        const char *name = e->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (strncmp(name, VIV_SESSION_TRASH_PREFIX, strlen(VIV_SESSION_TRASH_PREFIX)) == 0) {
            /* Left by a removal that failed or was interrupted; it was a
             * session once, is no longer one, and is not reported. */
            if (!dry_run && trash_abandoned(name, now.tv_sec))
                viv_session_rmtree_at(store->rootfd, name);
            continue;
        }
        meta m;
        int fd = -1;
        const char *why = classify(store, name, &m, &fd);
        if (why == NOMEM_REASON) {
            st = oom(err);
            break;
        }
        if (why != NULL) {
            if (strcmp(why, "vanished") == 0)
                continue;
            if (!entry_push(&skip, name, why, 0)) {
                st = oom(err);
                break;
            }
            continue;
        }
        bool expired = (double)m.updated < cutoff;
        uint64_t bytes = expired ? workspace_bytes(fd) : 0;
        close(fd);
        if (!expired)
            continue;
        if (!dry_run && (why = prune_one(store, name, cutoff)) != NULL) {
            if (why == NOMEM_REASON) {
                st = oom(err);
                break;
            }
            if (strcmp(why, "vanished") != 0 && !entry_push(&skip, name, why, 0)) {
                st = oom(err);
                break;
            }
            continue;
        }
        if (!entry_push(&del, name, "", bytes)) {
            st = oom(err);
            break;
        }
        reclaimed += bytes;
    }
    closedir(d);
    if (st != VIV_OK) {
        free(del.v);
        free(skip.v);
        return st;
    }
    if (del.n > 1)
        qsort(del.v, del.n, sizeof *del.v, prune_cmp);
    if (skip.n > 1)
        qsort(skip.v, skip.n, sizeof *skip.v, prune_cmp);
    report->deleted = del.v;
    report->ndeleted = del.n;
    report->skipped = skip.v;
    report->nskipped = skip.n;
    report->reclaimed_bytes = reclaimed;
    viv_session_events_prune(store, older_than_s, dry_run, report);
    return VIV_OK;
}
