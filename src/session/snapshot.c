/*
 * src/session/snapshot.c: workspace snapshots, their diff, and the index
 * file that carries one from an execution to the next (see snapshot.h for
 * the rules; this file says how).
 *
 * Owns: the walk (by fd, never following a symlink), XXH3-64 content
 * hashing with reuse from a previous snapshot, the path order entries are
 * kept in, diffing, and the index format.
 *
 * Path order: entries are sorted so that everything beneath a directory
 * comes right after it and before its next sibling, i.e. by comparing
 * paths bytewise with '/' ranking below every other byte. A depth-first
 * walk that visits each directory's names in strcmp order produces exactly
 * this order, so a walk cut short has recorded a prefix of it. That is what
 * lets viv_snapshot_diff compare truncated snapshots honestly.
 *
 * Index format (little-endian, version 1):
 *   "VIVSNAP\0"  u32 version  u32 flags (1: truncated, 2: has end)
 *   i64 taken_at_ns  u64 count  [u32 len, end path]
 *   count x { u32 len, path, u64 dev, u64 ino, u64 size, i64 mtime_ns,
 *             i64 ctime_ns, u64 hash }
 *   u64 XXH3-64 of every byte before it
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Header-only: the hash is compiled into this object, so libvivarium needs
 * no libxxhash at run time. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "session_internal.h"
#include "snapshot.h"

#define DEFAULT_MAX_FILES 10000
#define DEFAULT_MAX_DEPTH 32
#define DEFAULT_MAX_BYTES ((uint64_t)256 << 20)
/* Hashes are reused only for files whose ctime precedes the previous
 * snapshot's start by more than this. */
#define REUSE_MARGIN_NS 2000000000LL
#define HASH_BUF        65536
#define INDEX_MAGIC     "VIVSNAP"
#define INDEX_VERSION   1u
#define INDEX_MAX_BYTES ((off_t)1 << 30)
#define FLAG_TRUNCATED  1u
#define FLAG_HAS_END    2u

typedef struct entry {
    char *path;
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
    uint64_t hash;
} entry;

struct viv_snapshot {
    entry *e;
    size_t n, cap;
    int64_t taken_at_ns; /* CLOCK_REALTIME when the walk started */
    bool truncated;
    /* The first path the file or byte cap kept out, or NULL. Paths before
     * it (in path order) were all recorded; paths from it on, none. */
    char *end;
    uint64_t bytes_hashed;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* '/' ranks below every other byte; see the file comment. */
static int path_cmp(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    while (*x != '\0' && *x == *y) {
        x++;
        y++;
    }
    int cx = *x == '\0' ? -1 : *x == '/' ? 0 : *x + 1;
    int cy = *y == '\0' ? -1 : *y == '/' ? 0 : *y + 1;
    return (cx > cy) - (cx < cy);
}

static int64_t ts_ns(struct timespec t) { return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec; }

bool viv_snapshot_truncated(const viv_snapshot *s) { return s != NULL && s->truncated; }

size_t viv_snapshot_count(const viv_snapshot *s) { return s != NULL ? s->n : 0; }

uint64_t viv_snapshot_bytes_hashed(const viv_snapshot *s)
{
    return s != NULL ? s->bytes_hashed : 0;
}

void viv_snapshot_free(viv_snapshot *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->e[i].path);
    free(s->e);
    free(s->end);
    free(s);
}

/* Append; takes ownership of e->path even on failure. */
static bool push(viv_snapshot *s, entry *e)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        entry *ne = realloc(s->e, ncap * sizeof *ne);
        if (ne == NULL) {
            free(e->path);
            return false;
        }
        s->e = ne;
        s->cap = ncap;
    }
    s->e[s->n++] = *e;
    return true;
}

static const entry *find(const viv_snapshot *s, const char *path)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = path_cmp(s->e[mid].path, path);
        if (c == 0)
            return &s->e[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- taking --------------------------------------------------------------- */

typedef struct walker {
    viv_snapshot *s;
    const viv_snapshot *prev;
    size_t max_files;
    unsigned max_depth;
    uint64_t max_bytes;
    bool stop;   /* a cap was hit: record nothing more */
    bool failed; /* out of memory: the snapshot is abandoned */
    unsigned char *buf;
    char *err;
    size_t errlen;
} walker;

static void oom(walker *w)
{
    w->failed = true;
    w->stop = true;
    set_err(w->err, w->errlen, "out of memory");
}

/* The cap was hit at `path`: everything from it on is left out. */
static void cut(walker *w, const char *path)
{
    w->s->truncated = true;
    w->stop = true;
    w->s->end = strdup(path);
    if (w->s->end == NULL)
        oom(w);
}

static bool can_reuse(const walker *w, const entry *p, const struct stat *st)
{
    return p != NULL && p->dev == (uint64_t)st->st_dev && p->ino == (uint64_t)st->st_ino &&
           p->size == (uint64_t)st->st_size && p->mtime_ns == ts_ns(st->st_mtim) &&
           p->ctime_ns == ts_ns(st->st_ctim) &&
           p->ctime_ns < w->prev->taken_at_ns - REUSE_MARGIN_NS;
}

/* Hash the open file; false if it could not be read or outgrew the byte
 * budget (*over set). */
static bool hash_fd(walker *w, int fd, uint64_t *hash, uint64_t *nread, bool *over)
{
    XXH3_state_t state;
    XXH3_64bits_reset(&state);
    uint64_t budget = w->max_bytes - w->s->bytes_hashed, total = 0;
    for (;;) {
        ssize_t n = read(fd, w->buf, HASH_BUF);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        if (n == 0)
            break;
        total += (uint64_t)n;
        if (total > budget) {
            *over = true;
            return false;
        }
        XXH3_64bits_update(&state, w->buf, (size_t)n);
    }
    *hash = XXH3_64bits_digest(&state);
    *nread = total;
    return true;
}

static void record_file(walker *w, int dirfd, const char *name, char *path, const struct stat *st)
{
    if (w->s->n >= w->max_files) {
        cut(w, path);
        free(path);
        return;
    }
    entry e = {.path = path};
    const entry *p = w->prev != NULL ? find(w->prev, path) : NULL;
    if (can_reuse(w, p, st)) {
        e.dev = p->dev;
        e.ino = p->ino;
        e.size = p->size;
        e.mtime_ns = p->mtime_ns;
        e.ctime_ns = p->ctime_ns;
        e.hash = p->hash;
    } else {
        if ((uint64_t)st->st_size > w->max_bytes - w->s->bytes_hashed) {
            cut(w, path);
            free(path);
            return;
        }
        int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        struct stat fst;
        if (fd < 0 || fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode)) {
            /* Gone, or swapped for something else since the listing:
             * it is not a regular file now. Unreadable: say so. */
            if (fd < 0 && errno != ENOENT && errno != ELOOP)
                w->s->truncated = true;
            if (fd >= 0)
                close(fd);
            free(path);
            return;
        }
        /* The stat is taken before the content is read, so a write during
         * the read leaves a newer ctime than we record: the next snapshot
         * sees a mismatch and re-hashes. */
        e.dev = (uint64_t)fst.st_dev;
        e.ino = (uint64_t)fst.st_ino;
        e.size = (uint64_t)fst.st_size;
        e.mtime_ns = ts_ns(fst.st_mtim);
        e.ctime_ns = ts_ns(fst.st_ctim);
        uint64_t nread = 0;
        bool over = false;
        bool ok = hash_fd(w, fd, &e.hash, &nread, &over);
        close(fd);
        if (!ok) {
            if (over)
                cut(w, path);
            else
                w->s->truncated = true;
            free(path);
            return;
        }
        w->s->bytes_hashed += nread;
    }
    if (!push(w->s, &e))
        oom(w);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *prefix, const char *name)
{
    size_t p = strlen(prefix), n = strlen(name);
    char *s = malloc(p + 1 + n + 1);
    if (s == NULL)
        return NULL;
    if (p > 0) {
        memcpy(s, prefix, p);
        s[p++] = '/';
    }
    memcpy(s + p, name, n + 1);
    return s;
}

/* Walk the directory at fd (consumed) whose relative path is prefix. */
static void walk_dir(walker *w, int fd, const char *prefix, unsigned depth)
{
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        w->s->truncated = true;
        return;
    }
    /* All names first, sorted: the walk order is what makes a cut walk a
     * prefix of path order. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            if (errno != 0)
                w->s->truncated = true;
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (de->d_type != DT_UNKNOWN && de->d_type != DT_REG && de->d_type != DT_DIR)
            continue; /* links, FIFOs, sockets, devices */
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (nn == NULL) {
                oom(w);
                break;
            }
            names = nn;
            cap = ncap;
        }
        if ((names[n] = strdup(de->d_name)) == NULL) {
            oom(w);
            break;
        }
        n++;
    }
    if (n > 1)
        qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n && !w->stop; i++) {
        struct stat st;
        if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* removed while we walked */
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
            continue;
        char *path = join(prefix, names[i]);
        if (path == NULL) {
            oom(w);
            break;
        }
        if (S_ISREG(st.st_mode)) {
            record_file(w, dirfd(d), names[i], path, &st); /* takes path */
            continue;
        }
        if (depth >= w->max_depth) {
            w->s->truncated = true;
        } else {
            int sub = openat(dirfd(d), names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                walk_dir(w, sub, path, depth + 1);
            else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
                w->s->truncated = true;
        }
        free(path);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
}

int viv_snapshot_take(int dirfd, const char *dir, const viv_snapshot *prev,
                      const viv_snapshot_limits *lim, viv_snapshot **out, char *err, size_t errlen)
{
    if (out == NULL) {
        set_err(err, errlen, "out must not be NULL");
        return -1;
    }
    *out = NULL;
    if (dirfd < 0)
        dirfd = AT_FDCWD;
    if (dir == NULL || dir[0] == '\0') {
        if (dirfd == AT_FDCWD) {
            set_err(err, errlen, "no directory given");
            return -1;
        }
        dir = ".";
    }
    walker w = {
        .prev = prev,
        .max_files = lim && lim->max_files ? lim->max_files : DEFAULT_MAX_FILES,
        .max_depth = lim && lim->max_depth ? lim->max_depth : DEFAULT_MAX_DEPTH,
        .max_bytes = lim && lim->max_bytes_hashed ? lim->max_bytes_hashed : DEFAULT_MAX_BYTES,
        .err = err,
        .errlen = errlen,
    };
    int fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, errlen, "cannot open %s: %s", dir, strerror(errno));
        return -1;
    }
    w.s = calloc(1, sizeof *w.s);
    w.buf = malloc(HASH_BUF);
    if (w.s == NULL || w.buf == NULL) {
        close(fd);
        free(w.s);
        free(w.buf);
        set_err(err, errlen, "out of memory");
        return -1;
    }
    /* The start, not the end: files changed during the walk must not count
     * as older than the snapshot when the next one decides on reuse. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    w.s->taken_at_ns = ts_ns(now);
    walk_dir(&w, fd, "", 0);
    free(w.buf);
    if (w.failed) {
        viv_snapshot_free(w.s);
        return -1;
    }
    *out = w.s;
    return 0;
}

/* ---- diff ----------------------------------------------------------------- */

typedef struct change_vec {
    viv_file_change *v;
    size_t n, cap;
} change_vec;

static bool change_push(change_vec *cv, const entry *e)
{
    if (cv->n == cv->cap) {
        size_t ncap = cv->cap ? cv->cap * 2 : 16;
        viv_file_change *nv = realloc(cv->v, ncap * sizeof *nv);
        if (nv == NULL)
            return false;
        cv->v = nv;
        cv->cap = ncap;
    }
    char *p = strdup(e->path);
    if (p == NULL)
        return false;
    cv->v[cv->n++] = (viv_file_change){.path = p, .size = e->size, .hash = e->hash};
    return true;
}

static int change_cmp(const void *a, const void *b)
{
    return strcmp(((const viv_file_change *)a)->path, ((const viv_file_change *)b)->path);
}

static void change_vec_free(change_vec *cv)
{
    for (size_t i = 0; i < cv->n; i++)
        free(cv->v[i].path);
    free(cv->v);
}

void viv_changes_free(viv_changes *c)
{
    if (c == NULL)
        return;
    change_vec v[3] = {
        {c->created, c->ncreated, 0}, {c->modified, c->nmodified, 0}, {c->deleted, c->ndeleted, 0}};
    for (int i = 0; i < 3; i++)
        change_vec_free(&v[i]);
    memset(c, 0, sizeof *c);
}

/* Entries of s that lie before the cut path (all of them if cut is NULL). */
static size_t covered(const viv_snapshot *s, const char *cutp)
{
    if (cutp == NULL)
        return s->n;
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (path_cmp(s->e[mid].path, cutp) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int viv_snapshot_diff(const viv_snapshot *before, const viv_snapshot *after, viv_changes *out)
{
    if (out == NULL)
        return -1;
    memset(out, 0, sizeof *out);
    if (before == NULL || after == NULL)
        return -1;
    /* Compare only the part of path order both snapshots cover. */
    const char *cutp = before->end;
    if (after->end != NULL && (cutp == NULL || path_cmp(after->end, cutp) < 0))
        cutp = after->end;
    size_t nb = covered(before, cutp), na = covered(after, cutp);
    change_vec cr = {0}, mo = {0}, de = {0};
    bool ok = true;
    size_t i = 0, j = 0;
    while (ok && (i < nb || j < na)) {
        int c = i >= nb ? 1 : j >= na ? -1 : path_cmp(before->e[i].path, after->e[j].path);
        if (c < 0) {
            ok = change_push(&de, &before->e[i++]);
        } else if (c > 0) {
            ok = change_push(&cr, &after->e[j++]);
        } else {
            const entry *b = &before->e[i++], *a = &after->e[j++];
            if (a->hash != b->hash || a->size != b->size)
                ok = change_push(&mo, a);
        }
    }
    if (!ok) {
        change_vec_free(&cr);
        change_vec_free(&mo);
        change_vec_free(&de);
        return -1;
    }
    /* Path order is for merging; callers get plain strcmp order, as
     * viv_session_files gives. */
    change_vec *lists[] = {&cr, &mo, &de};
    for (int k = 0; k < 3; k++)
        if (lists[k]->n > 1)
            qsort(lists[k]->v, lists[k]->n, sizeof *lists[k]->v, change_cmp);
    *out = (viv_changes){.created = cr.v,
                         .ncreated = cr.n,
                         .modified = mo.v,
                         .nmodified = mo.n,
                         .deleted = de.v,
                         .ndeleted = de.n,
                         .truncated = before->truncated || after->truncated};
    return 0;
}

/* ---- index ---------------------------------------------------------------- */

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
    bool failed;
} buf;

static void put(buf *b, const void *data, size_t len)
{
    if (b->failed)
        return;
    if (b->cap - b->n < len) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap - b->n < len) {
            if (ncap > SIZE_MAX / 2) {
                b->failed = true;
                return;
            }
            ncap *= 2;
        }
        unsigned char *np = realloc(b->p, ncap);
        if (np == NULL) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
}

static void put_u64(buf *b, uint64_t v)
{
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    put(b, le, 8);
}

static void put_u32(buf *b, uint32_t v)
{
    unsigned char le[4];
    for (int i = 0; i < 4; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    put(b, le, 4);
}

static void put_str(buf *b, const char *s)
{
    size_t n = strlen(s);
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

static int write_file_atomic(const char *path, const unsigned char *data, size_t len, char *err,
                             size_t errlen)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (tmp == NULL) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    /* Same directory as path, so the rename cannot cross filesystems. */
    char hex[33];
    if (viv_session_random_hex(hex) != 0) {
        set_err(err, errlen, "getrandom: %s", strerror(errno));
        free(tmp);
        return -1;
    }
    snprintf(tmp, plen + 32, "%s.%.16s", path, hex);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        set_err(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    int rc = 0;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -1;
            break;
        }
        off += (size_t)n;
    }
    int e = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        set_err(err, errlen, "cannot write %s: %s", path, strerror(e));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

int viv_snapshot_save(const viv_snapshot *s, const char *path, char *err, size_t errlen)
{
    if (s == NULL || path == NULL) {
        set_err(err, errlen, "snapshot and path must not be NULL");
        return -1;
    }
    buf b = {0};
    put(&b, INDEX_MAGIC, 8); /* with its NUL */
    put_u32(&b, INDEX_VERSION);
    put_u32(&b, (s->truncated ? FLAG_TRUNCATED : 0) | (s->end ? FLAG_HAS_END : 0));
    put_u64(&b, (uint64_t)s->taken_at_ns);
    put_u64(&b, s->n);
    if (s->end != NULL)
        put_str(&b, s->end);
    for (size_t i = 0; i < s->n; i++) {
        const entry *e = &s->e[i];
        put_str(&b, e->path);
        put_u64(&b, e->dev);
        put_u64(&b, e->ino);
        put_u64(&b, e->size);
        put_u64(&b, (uint64_t)e->mtime_ns);
        put_u64(&b, (uint64_t)e->ctime_ns);
        put_u64(&b, e->hash);
    }
    if (!b.failed)
        put_u64(&b, XXH3_64bits(b.p, b.n));
    if (b.failed) {
        free(b.p);
        set_err(err, errlen, "out of memory");
        return -1;
    }
    int rc = write_file_atomic(path, b.p, b.n, err, errlen);
    free(b.p);
    return rc;
}

typedef struct reader {
    const unsigned char *p;
    size_t n, off;
    bool bad;
} reader;

static uint64_t get_u64(reader *r)
{
    if (r->bad || r->n - r->off < 8) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += 8;
    return v;
}

static uint32_t get_u32(reader *r)
{
    if (r->bad || r->n - r->off < 4) {
        r->bad = true;
        return 0;
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += 4;
    return v;
}

/* A path as a snapshot could have recorded it: relative, no empty, "." or
 * ".." component, no NUL. Anything else is a corrupt index. */
static bool path_ok(const char *s, size_t n)
{
    if (n == 0 || s[0] == '/' || s[n - 1] == '/' || memchr(s, '\0', n) != NULL)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '/')
            continue;
        size_t len = i - start;
        if (len == 0 || (len == 1 && s[start] == '.') ||
            (len == 2 && s[start] == '.' && s[start + 1] == '.'))
            return false;
        start = i + 1;
    }
    return true;
}

/* Returns a malloc'd copy, or NULL (r->bad set, or *oom set). */
static char *get_str(reader *r, bool *oomp)
{
    uint32_t n = get_u32(r);
    if (r->bad || r->n - r->off < n || !path_ok((const char *)r->p + r->off, n)) {
        r->bad = true;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (s == NULL) {
        *oomp = true;
        return NULL;
    }
    memcpy(s, r->p + r->off, n);
    s[n] = '\0';
    r->off += n;
    return s;
}

static unsigned char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > INDEX_MAX_BYTES) {
        set_err(err, errlen, "%s is not an index file", path);
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size;
    unsigned char *p = malloc(cap ? cap : 1);
    if (p == NULL) {
        set_err(err, errlen, "out of memory");
        close(fd);
        return NULL;
    }
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, p + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n != cap) {
        set_err(err, errlen, "%s changed or could not be read", path);
        free(p);
        return NULL;
    }
    *len = n;
    return p;
}

int viv_snapshot_load(const char *path, viv_snapshot **out, char *err, size_t errlen)
{
    if (out == NULL || path == NULL) {
        set_err(err, errlen, "path and out must not be NULL");
        return -1;
    }
    *out = NULL;
    size_t len;
    unsigned char *data = read_file(path, &len, err, errlen);
    if (data == NULL)
        return -1;
    /* The checksum first: after it, only a bug (or a deliberate forgery by
     * whoever owns the host directory) can produce a malformed body, but
     * the parse below is bounds-checked all the same. */
    reader r = {.p = data, .n = len};
    bool bad = len < 8 + 4 + 4 + 8 + 8 + 8 || memcmp(data, INDEX_MAGIC, 8) != 0;
    if (!bad) {
        reader t = {.p = data, .n = len, .off = len - 8};
        bad = get_u64(&t) != XXH3_64bits(data, len - 8);
        r.n = len - 8;
        r.off = 8;
    }
    viv_snapshot *s = bad ? NULL : calloc(1, sizeof *s);
    bool nomem = !bad && s == NULL;
    if (s != NULL) {
        uint32_t version = get_u32(&r);
        uint32_t flags = get_u32(&r);
        s->taken_at_ns = (int64_t)get_u64(&r);
        uint64_t count = get_u64(&r);
        /* Each entry takes at least 4 + 1 + 48 bytes: a count beyond what
         * the file can hold is corrupt, not an allocation to attempt. */
        if (version != INDEX_VERSION || (flags & ~(FLAG_TRUNCATED | FLAG_HAS_END)) != 0 ||
            count > (r.n - r.off) / 53)
            r.bad = true;
        s->truncated = (flags & FLAG_TRUNCATED) != 0;
        if (!r.bad && (flags & FLAG_HAS_END))
            s->end = get_str(&r, &nomem);
        if (!r.bad && !nomem && count > 0) {
            s->e = malloc((size_t)count * sizeof *s->e);
            s->cap = (size_t)count;
            nomem = s->e == NULL;
        }
        for (uint64_t i = 0; i < count && !r.bad && !nomem; i++) {
            entry e = {.path = get_str(&r, &nomem)};
            if (e.path == NULL)
                break;
            e.dev = get_u64(&r);
            e.ino = get_u64(&r);
            e.size = get_u64(&r);
            e.mtime_ns = (int64_t)get_u64(&r);
            e.ctime_ns = (int64_t)get_u64(&r);
            e.hash = get_u64(&r);
            /* Strictly increasing path order, or find() and diff break. */
            if (s->n > 0 && path_cmp(s->e[s->n - 1].path, e.path) >= 0)
                r.bad = true;
            s->e[s->n++] = e;
        }
        if (r.off != r.n ||
            (s->end != NULL && s->n > 0 && path_cmp(s->e[s->n - 1].path, s->end) >= 0))
            r.bad = true;
        bad = r.bad;
    }
    free(data);
    if (bad || nomem) {
        viv_snapshot_free(s);
        if (nomem)
            set_err(err, errlen, "out of memory");
        else
            set_err(err, errlen, "%s: corrupt or foreign snapshot index", path);
        return -1;
    }
    *out = s;
    return 0;
}
