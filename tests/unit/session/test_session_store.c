/*
 * tests/unit/session/test_session_store.c: the session store: ids, UUIDs,
 * create vs retrieve (including a multi-process race), metadata, touch,
 * list, remove and prune.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "session_test_util.h"
#include "vivarium.h"

static int fds_at_start;

typedef struct fx {
    scratch s;
    viv_session_store *store;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    scratch_make(&f->s);
    viv_error err = {0};
    assert_int_equal(viv_session_store_open(f->s.root, &f->store, &err), VIV_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    viv_session_store_close(f->store);
    scratch_remove(&f->s);
    free(f);
    return 0;
}

static void new_session(fx *f, const char *id)
{
    viv_error err = {0};
    bool created = false;
    assert_int_equal(viv_session_open(f->store, id, NULL, &created, &err), VIV_OK);
    assert_true(created);
}

/* Rewrite a session's updated_at by hand, as if it were last used then. */
static void set_updated_at(fx *f, const char *id, const char *when)
{
    const char *path = fmt("%s/%s/session.json", f->s.root, id);
    json_error_t jerr;
    json_t *o = json_load_file(path, 0, &jerr);
    assert_non_null(o);
    json_object_set_new(o, "updated_at", json_string(when));
    assert_int_equal(json_dump_file(o, path, 0), 0);
    json_decref(o);
}

/* ---- ids ------------------------------------------------------------------ */

static void test_id_validation(void **state)
{
    fx *f = *state;
    new_session(f, "existing");
    char *before = tree_listing(f->s.base);
    char long_id[66];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    const char *bad[] = {"",
                         "a/b",
                         "../x",
                         "..",
                         ".",
                         "x y",
                         long_id,
                         "caf\xc3\xa9",
                         "a\n",
                         ".hidden",
                         "/abs",
                         "a.b",
                         "existing/workspace"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *id = bad[i];
        viv_error err = {0};
        viv_session_info info;
        bool created;
        char buf[4096];
        char **paths;
        size_t n;
        char *data;
        size_t len;
        viv_status st[] = {
            viv_session_open(f->store, id, &info, &created, &err),
            viv_session_get(f->store, id, &info, &err),
            viv_session_touch(f->store, id, &err),
            viv_session_workspace(f->store, id, buf, sizeof buf, &err),
            viv_session_remove(f->store, id, &err),
            viv_session_files(f->store, id, NULL, &paths, &n, &err),
            viv_session_read(f->store, id, "x", 10, &data, &len, &err),
            viv_session_write(f->store, id, "x", "y", 1, true, &err),
            viv_session_delete(f->store, id, "x", true, &err),
        };
        for (size_t j = 0; j < sizeof st / sizeof *st; j++) {
            if (st[j] != VIV_EINVAL)
                fail_msg("id \"%s\", call %zu: status %d", id, j, st[j]);
        }
        assert_string_equal(err.field, "session_id");
        assert_null(strchr(err.message, '\n')); /* shown, not echoed raw */
    }
    viv_error err = {0};
    assert_int_equal(viv_session_get(f->store, NULL, NULL, &err), VIV_EINVAL);
    assert_string_equal(err.field, "session_id");
    char *after = tree_listing(f->s.base);
    assert_string_equal(before, after);
    free(before);
    free(after);

    /* The edges of what is allowed. */
    memset(long_id, 'Z', 64);
    long_id[64] = '\0';
    new_session(f, long_id);
    new_session(f, "A-z_09");
    new_session(f, "-");
}

static void test_uuid_format(void **state)
{
    fx *f = *state;
    regex_t re;
    assert_int_equal(
        regcomp(&re, "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
                REG_EXTENDED | REG_NOSUB),
        0);
    char seen[20][65];
    for (int i = 0; i < 20; i++) {
        viv_session_info info;
        bool created = false;
        viv_error err = {0};
        assert_int_equal(viv_session_open(f->store, NULL, &info, &created, &err), VIV_OK);
        assert_true(created);
        assert_int_equal(regexec(&re, info.id, 0, NULL, 0), 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[j], info.id);
        snprintf(seen[i], sizeof seen[i], "%s", info.id);
        assert_true(exists(fmt("%s/%s/workspace", f->s.root, info.id)));
    }
    regfree(&re);
}

/* ---- create / retrieve ---------------------------------------------------- */

static void test_create_then_retrieve(void **state)
{
    fx *f = *state;
    viv_session_info a, b;
    bool created = false;
    viv_error err = {0};
    assert_int_equal(viv_session_open(f->store, "s1", &a, &created, &err), VIV_OK);
    assert_true(created);
    assert_string_equal(a.id, "s1");
    assert_int_equal(a.version, 1);
    assert_int_equal(a.size_bytes, 0);
    assert_string_equal(a.created_at, a.updated_at);

    assert_int_equal(viv_session_open(f->store, "s1", &b, &created, &err), VIV_OK);
    assert_false(created);
    assert_string_equal(a.created_at, b.created_at);

    assert_int_equal(viv_session_get(f->store, "s1", &b, &err), VIV_OK);
    assert_string_equal(b.id, "s1");
    /* created may be NULL; info may be NULL. */
    assert_int_equal(viv_session_open(f->store, "s1", NULL, NULL, &err), VIV_OK);

    assert_int_equal(viv_session_get(f->store, "nope", &b, &err), VIV_ENOENT);
    assert_false(exists(fmt("%s/nope", f->s.root)));
    assert_int_equal(viv_session_touch(f->store, "nope", &err), VIV_ENOENT);

    char buf[4096];
    assert_int_equal(viv_session_workspace(f->store, "s1", buf, sizeof buf, &err), VIV_OK);
    assert_string_equal(buf, fmt("%s/s1/workspace", viv_session_store_root(f->store)));
    struct stat st;
    assert_int_equal(stat(buf, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(viv_session_workspace(f->store, "s1", buf, 8, &err), VIV_EINVAL);
    assert_int_equal(viv_session_workspace(f->store, "nope", buf, sizeof buf, &err), VIV_ENOENT);

    /* A workspace removed by hand comes back on open. */
    assert_int_equal(rmdir(fmt("%s/s1/workspace", f->s.root)), 0);
    assert_int_equal(viv_session_open(f->store, "s1", NULL, &created, &err), VIV_OK);
    assert_false(created);
    assert_true(exists(fmt("%s/s1/workspace", f->s.root)));
}

static void test_store_open(void **state)
{
    fx *f = *state;
    viv_error err = {0};
    viv_session_store *st = NULL;
    const char *nested = fmt("%s/a/b/c", f->s.base);
    assert_int_equal(viv_session_store_open(nested, &st, &err), VIV_OK);
    assert_string_equal(viv_session_store_root(st), nested);
    viv_session_store_close(st);
    /* A relative root is made absolute. */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->s.base), 0);
    assert_int_equal(viv_session_store_open("rel", &st, &err), VIV_OK);
    assert_string_equal(viv_session_store_root(st), fmt("%s/rel", f->s.base));
    viv_session_store_close(st);
    assert_int_equal(chdir(cwd), 0);

    put_file(fmt("%s/file", f->s.base), "x");
    assert_int_not_equal(viv_session_store_open(fmt("%s/file", f->s.base), &st, &err), VIV_OK);
    assert_string_equal(err.path, fmt("%s/file", f->s.base));
    assert_int_equal(viv_session_store_open("", &st, &err), VIV_EINVAL);
    assert_int_equal(viv_session_store_open(NULL, &st, &err), VIV_EINVAL);
    viv_session_store_close(NULL);
}

/* 8 processes open the same 50 new ids at once: each id must have exactly
 * one creator, and every open must succeed (the losers wait for the
 * winner's metadata instead of failing). */
#define RACE_PROCS 8
#define RACE_IDS   50

static void test_concurrent_create(void **state)
{
    fx *f = *state;
    int *creators = mmap(NULL, sizeof(int) * RACE_IDS, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(creators != MAP_FAILED);
    memset(creators, 0, sizeof(int) * RACE_IDS);
    int gate[2];
    assert_int_equal(pipe(gate), 0);
    pid_t pids[RACE_PROCS];
    for (int p = 0; p < RACE_PROCS; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            close(gate[1]);
            char c;
            /* Wait until the parent closes the pipe: all start together. */
            while (read(gate[0], &c, 1) > 0) {
            }
            viv_session_store *st;
            viv_error err;
            if (viv_session_store_open(f->s.root, &st, &err) != VIV_OK)
                _exit(10);
            int rc = 0;
            for (int i = 0; i < RACE_IDS; i++) {
                /* Each process walks the ids from a different start, so
                 * every id sees contention from several directions. */
                int k = (i + p * 7) % RACE_IDS;
                bool created = false;
                char id[32];
                snprintf(id, sizeof id, "race-%02d", k);
                if (viv_session_open(st, id, NULL, &created, &err) != VIV_OK) {
                    fprintf(stderr, "open %s: %s\n", id, err.message);
                    rc = 11;
                }
                if (created)
                    __atomic_add_fetch(&creators[k], 1, __ATOMIC_SEQ_CST);
            }
            viv_session_store_close(st);
            _exit(rc);
        }
    }
    close(gate[0]);
    close(gate[1]);
    for (int p = 0; p < RACE_PROCS; p++) {
        int status;
        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    for (int i = 0; i < RACE_IDS; i++) {
        if (creators[i] != 1)
            fail_msg("race-%02d had %d creators", i, creators[i]);
        viv_error err;
        assert_int_equal(viv_session_get(f->store, fmt("race-%02d", i), NULL, &err), VIV_OK);
    }
    munmap(creators, sizeof(int) * RACE_IDS);
}

/* A retriever that finds the directory before the creator has written the
 * metadata waits for it. */
static void test_open_waits_for_metadata(void **state)
{
    fx *f = *state;
    assert_int_equal(mkdir(fmt("%s/slow", f->s.root), 0700), 0);
    assert_int_equal(mkdir(fmt("%s/slow/workspace", f->s.root), 0700), 0);
    char meta[512], tmp[512];
    snprintf(meta, sizeof meta, "%s/slow/session.json", f->s.root);
    snprintf(tmp, sizeof tmp, "%s/slow/.tmp", f->s.root);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A slow creator, writing the way the real one does: the name
         * appears only once the content is complete. */
        usleep(300000);
        FILE *out = fopen(tmp, "w");
        if (out == NULL)
            _exit(1);
        fputs("{\"session_id\":\"slow\",\"created_at\":\"2024-01-02T03:04:05Z\","
              "\"updated_at\":\"2024-01-02T03:04:05Z\",\"version\":1}",
              out);
        if (fclose(out) != 0 || rename(tmp, meta) != 0)
            _exit(1);
        _exit(0);
    }
    viv_session_info info;
    bool created = true;
    viv_error err = {0};
    assert_int_equal(viv_session_open(f->store, "slow", &info, &created, &err), VIV_OK);
    assert_false(created);
    assert_string_equal(info.created_at, "2024-01-02T03:04:05Z");
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(status, 0);

    /* A directory whose metadata never comes is not a session. */
    assert_int_equal(mkdir(fmt("%s/never", f->s.root), 0700), 0);
    assert_int_equal(viv_session_open(f->store, "never", &info, &created, &err), VIV_EHOST);
    assert_string_equal(err.field, "session_id");
    assert_non_null(strstr(err.message, "without metadata"));
    assert_int_equal(viv_session_get(f->store, "never", &info, &err), VIV_ENOENT);

    /* Nor is a symlink in the root, even to a real session. */
    assert_int_equal(symlink("slow", fmt("%s/alias", f->s.root)), 0);
    assert_int_equal(viv_session_get(f->store, "alias", &info, &err), VIV_ENOENT);
    assert_int_equal(viv_session_open(f->store, "alias", &info, &created, &err), VIV_EHOST);
}

/* ---- metadata ------------------------------------------------------------- */

static void check_time(const char *s)
{
    regex_t re;
    assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    assert_int_equal(regexec(&re, s, 0, NULL, 0), 0);
    regfree(&re);
}

static void test_metadata(void **state)
{
    fx *f = *state;
    viv_session_info info;
    viv_error err = {0};
    time_t t0 = time(NULL);
    new_session(f, "meta");
    const char *path = fmt("%s/meta/session.json", f->s.root);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    json_error_t jerr;
    json_t *o = json_load_file(path, 0, &jerr);
    assert_non_null(o);
    assert_int_equal(json_object_size(o), 4);
    assert_string_equal(json_string_value(json_object_get(o, "session_id")), "meta");
    assert_int_equal(json_integer_value(json_object_get(o, "version")), 1);
    const char *created = json_string_value(json_object_get(o, "created_at"));
    assert_non_null(created);
    check_time(created);
    check_time(json_string_value(json_object_get(o, "updated_at")));
    struct tm tm = {0};
    assert_non_null(strptime(created, "%Y-%m-%dT%H:%M:%SZ", &tm));
    time_t tc = timegm(&tm);
    assert_true(tc >= t0 - 1 && tc <= time(NULL) + 1);

    /* Only the metadata and the workspace: no temp files left behind. */
    char *listing = tree_listing(fmt("%s/meta", f->s.root));
    assert_string_equal(listing,
                        fmt(" d 0\n/session.json f %lld\n/workspace d 0\n", (long long)st.st_size));
    free(listing);

    /* updated_at has whole seconds: wait into the next one. */
    sleep(1);
    usleep(100000);
    assert_int_equal(viv_session_touch(f->store, "meta", &err), VIV_OK);
    assert_int_equal(viv_session_get(f->store, "meta", &info, &err), VIV_OK);
    assert_string_equal(info.created_at, created);
    assert_string_not_equal(info.updated_at, created);
    assert_true(strcmp(info.updated_at, created) > 0);
    json_decref(o);
    listing = tree_listing(fmt("%s/meta", f->s.root));
    assert_non_null(strstr(listing, "/session.json f"));
    assert_null(strstr(listing, "/.session"));
    free(listing);

    /* Metadata that is not ours is reported, not trusted. */
    put_file(path, "{\"session_id\":\"other\",\"created_at\":\"2024-01-02T03:04:05Z\","
                   "\"updated_at\":\"2024-01-02T03:04:05Z\",\"version\":1}");
    assert_int_equal(viv_session_get(f->store, "meta", &info, &err), VIV_EHOST);
    assert_non_null(strstr(err.message, "corrupt"));
    put_file(path, "{\"session_id\":\"meta\",\"created_at\":\"2024-02-30T03:04:05Z\","
                   "\"updated_at\":\"2024-01-02T03:04:05Z\",\"version\":1}");
    assert_int_equal(viv_session_get(f->store, "meta", &info, &err), VIV_EHOST);
    put_file(path, "{\"session_id\":\"meta\",\"created_at\":\"2024-01-02T03:04:05Z\","
                   "\"updated_at\":\"2024-01-02T03:04:05Z\",\"version\":7}");
    assert_int_equal(viv_session_get(f->store, "meta", &info, &err), VIV_EHOST);
    assert_non_null(strstr(err.message, "unsupported"));
    /* Fields we do not know are skipped, whatever they hold; a repeated
     * field is corrupt. */
    put_file(path, "{\"session_id\":\"meta\",\"created_at\":\"2024-01-02T03:04:05Z\","
                   "\"extra\":{\"a\":[1,-2,true,null,\"x\\\"y\",{}],\"b\":[]},"
                   "\"updated_at\":\"2024-01-02T03:04:05Z\",\"version\":1}");
    assert_int_equal(viv_session_get(f->store, "meta", &info, &err), VIV_OK);
    assert_string_equal(info.updated_at, "2024-01-02T03:04:05Z");
    put_file(path, "{\"session_id\":\"meta\",\"created_at\":\"2024-01-02T03:04:05Z\","
                   "\"updated_at\":\"2024-01-02T03:04:05Z\",\"version\":1,\"version\":1}");
    assert_int_equal(viv_session_get(f->store, "meta", &info, &err), VIV_EHOST);
    put_file(path, "{\"session_id\":\"meta\",\"created_at\":\"2024-01-02T03:04:05Z\","
                   "\"updated_at\":\"2024-01-02T03:04:05Z\",\"version\":1} trailing");
    assert_int_equal(viv_session_get(f->store, "meta", &info, &err), VIV_EHOST);
    put_file(path, "not json");
    assert_int_equal(viv_session_touch(f->store, "meta", &err), VIV_EHOST);
    char *txt = slurp(path);
    assert_string_equal(txt, "not json");
    free(txt);
}

/* ---- list ----------------------------------------------------------------- */

static void test_list_and_size(void **state)
{
    fx *f = *state;
    viv_error err = {0};
    new_session(f, "c");
    new_session(f, "a");
    new_session(f, "b");
    assert_int_equal(viv_session_write(f->store, "a", "x.txt", "12345", 5, false, &err), VIV_OK);
    assert_int_equal(viv_session_write(f->store, "a", "d/y.bin", "1234567890", 10, false, &err),
                     VIV_OK);
    /* Links are not followed when sizing: the outside file does not count. */
    assert_int_equal(
        symlink(fmt("%s/secret.txt", f->s.outside), fmt("%s/a/workspace/link", f->s.root)), 0);
    assert_int_equal(symlink(f->s.outside, fmt("%s/a/workspace/dirlink", f->s.root)), 0);
    /* Not sessions: a directory without metadata, a symlink, a file, a
     * name that is not an id. */
    assert_int_equal(mkdir(fmt("%s/plain", f->s.root), 0700), 0);
    assert_int_equal(symlink(fmt("%s/a", f->s.root), fmt("%s/zlink", f->s.root)), 0);
    put_file(fmt("%s/file", f->s.root), "x");
    assert_int_equal(mkdir(fmt("%s/bad.name", f->s.root), 0700), 0);

    viv_session_info *list = NULL;
    size_t n = 0;
    assert_int_equal(viv_session_list(f->store, &list, &n, &err), VIV_OK);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].id, "a");
    assert_string_equal(list[1].id, "b");
    assert_string_equal(list[2].id, "c");
    assert_int_equal(list[0].size_bytes, 15);
    assert_int_equal(list[1].size_bytes, 0);
    assert_int_equal(list[0].version, 1);
    check_time(list[2].created_at);
    free(list);

    viv_session_info info;
    assert_int_equal(viv_session_get(f->store, "a", &info, &err), VIV_OK);
    assert_int_equal(info.size_bytes, 15);

    viv_session_store *empty;
    assert_int_equal(viv_session_store_open(fmt("%s/empty", f->s.base), &empty, &err), VIV_OK);
    assert_int_equal(viv_session_list(empty, &list, &n, &err), VIV_OK);
    assert_int_equal(n, 0);
    free(list);
    viv_session_store_close(empty);
    assert_int_equal(viv_session_list(f->store, NULL, &n, &err), VIV_EINVAL);
}

/* ---- remove --------------------------------------------------------------- */

static void test_remove(void **state)
{
    fx *f = *state;
    viv_error err = {0};
    new_session(f, "gone");
    assert_int_equal(viv_session_write(f->store, "gone", "a/b/c.txt", "x", 1, false, &err), VIV_OK);
    /* A link to the outside inside the workspace: removed, not followed. */
    assert_int_equal(symlink(f->s.outside, fmt("%s/gone/workspace/out", f->s.root)), 0);
    char *outside_before = tree_listing(f->s.outside);
    assert_int_equal(viv_session_remove(f->store, "gone", &err), VIV_OK);
    assert_false(exists(fmt("%s/gone", f->s.root)));
    assert_int_equal(viv_session_remove(f->store, "gone", &err), VIV_OK);
    assert_int_equal(viv_session_remove(f->store, "never-existed", &err), VIV_OK);
    char *outside_after = tree_listing(f->s.outside);
    assert_string_equal(outside_before, outside_after);
    free(outside_before);
    free(outside_after);
    /* Nothing left behind in the root (no trash). */
    char *root = tree_listing(f->s.root);
    assert_string_equal(root, " d 0\n");
    free(root);
    /* The id is free again. */
    new_session(f, "gone");

    /* A symlink in the root under a session's name is unlinked, its target
     * kept. */
    assert_int_equal(symlink(f->s.outside, fmt("%s/trap", f->s.root)), 0);
    assert_int_equal(viv_session_remove(f->store, "trap", &err), VIV_OK);
    assert_false(exists(fmt("%s/trap", f->s.root)));
    assert_true(exists(fmt("%s/secret.txt", f->s.outside)));
}

/* Trees deeper than the remover holds fds for are still removed. */
static void test_remove_deep_tree(void **state)
{
    fx *f = *state;
    viv_error err = {0};
    new_session(f, "deep");
    int fd = open(fmt("%s/deep/workspace", f->s.root), O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    for (int i = 0; i < 300; i++) {
        assert_int_equal(mkdirat(fd, "d", 0700), 0);
        int fd2 = openat(fd, "f", O_WRONLY | O_CREAT, 0600);
        assert_true(fd2 >= 0);
        close(fd2);
        fd2 = openat(fd, "d", O_RDONLY | O_DIRECTORY);
        assert_true(fd2 >= 0);
        close(fd);
        fd = fd2;
    }
    close(fd);
    assert_int_equal(viv_session_remove(f->store, "deep", &err), VIV_OK);
    assert_false(exists(fmt("%s/deep", f->s.root)));
    char *root = tree_listing(f->s.root);
    assert_string_equal(root, " d 0\n");
    free(root);
}

/* ---- prune ---------------------------------------------------------------- */

static const viv_prune_entry *find_entry(const viv_prune_entry *v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].id, id) == 0)
            return &v[i];
    return NULL;
}

static void test_prune_dry_run(void **state)
{
    fx *f = *state;
    viv_error err = {0};
    new_session(f, "p1");
    new_session(f, "p2");
    assert_int_equal(viv_session_write(f->store, "p1", "f", "abc", 3, false, &err), VIV_OK);
    assert_int_equal(viv_session_write(f->store, "p2", "g/h", "1234567", 7, false, &err), VIV_OK);
    char *before = tree_listing(f->s.root);
    viv_prune_report r;
    assert_int_equal(viv_session_prune(f->store, 0, true, &r, &err), VIV_OK);
    assert_int_equal(r.ndeleted, 2);
    assert_string_equal(r.deleted[0].id, "p1");
    assert_string_equal(r.deleted[1].id, "p2");
    assert_int_equal(r.deleted[0].bytes, 3);
    assert_int_equal(r.deleted[1].bytes, 7);
    assert_int_equal(r.reclaimed_bytes, 10);
    assert_int_equal(r.nskipped, 0);
    viv_prune_report_free(&r);
    char *after = tree_listing(f->s.root);
    assert_string_equal(before, after);
    free(after);

    /* Fresh sessions are not candidates for a long horizon. */
    assert_int_equal(viv_session_prune(f->store, 3600, true, &r, &err), VIV_OK);
    assert_int_equal(r.ndeleted, 0);
    assert_int_equal(r.reclaimed_bytes, 0);
    viv_prune_report_free(&r);

    assert_int_equal(viv_session_prune(f->store, -1, true, &r, &err), VIV_EINVAL);
    assert_int_equal(viv_session_prune(f->store, NAN, true, &r, &err), VIV_EINVAL);
    assert_int_equal(viv_session_prune(f->store, 0, true, NULL, &err), VIV_EINVAL);
    after = tree_listing(f->s.root);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_prune_deletes(void **state)
{
    fx *f = *state;
    viv_error err = {0};
    new_session(f, "old");
    new_session(f, "new");
    assert_int_equal(viv_session_write(f->store, "old", "f", "abcd", 4, false, &err), VIV_OK);
    set_updated_at(f, "old", "2001-01-01T00:00:00Z");
    viv_prune_report r;
    assert_int_equal(viv_session_prune(f->store, 3600, false, &r, &err), VIV_OK);
    assert_int_equal(r.ndeleted, 1);
    assert_string_equal(r.deleted[0].id, "old");
    assert_int_equal(r.deleted[0].bytes, 4);
    assert_int_equal(r.reclaimed_bytes, 4);
    viv_prune_report_free(&r);
    assert_false(exists(fmt("%s/old", f->s.root)));
    assert_true(exists(fmt("%s/new/session.json", f->s.root)));

    assert_int_equal(viv_session_prune(f->store, 0, false, &r, &err), VIV_OK);
    assert_int_equal(r.ndeleted, 1);
    viv_prune_report_free(&r);
    char *root = tree_listing(f->s.root);
    assert_string_equal(root, " d 0\n");
    free(root);

    /* Trash left by an interrupted removal long ago goes on a real prune;
     * fresh trash may be a removal in progress and is left alone. */
    char old[512], fresh[512];
    snprintf(old, sizeof old, "%s/.trash-1000000000-0123456789abcdef-x", f->s.root);
    snprintf(fresh, sizeof fresh, "%s/.trash-%lld-0123456789abcdef-y", f->s.root,
             (long long)time(NULL));
    assert_int_equal(mkdir(old, 0700), 0);
    put_file(fmt("%s/f", old), "x");
    assert_int_equal(mkdir(fresh, 0700), 0);
    assert_int_equal(viv_session_prune(f->store, 0, true, &r, &err), VIV_OK);
    assert_int_equal(r.ndeleted + r.nskipped, 0);
    viv_prune_report_free(&r);
    assert_true(exists(old));
    assert_int_equal(viv_session_prune(f->store, 0, false, &r, &err), VIV_OK);
    assert_int_equal(r.ndeleted + r.nskipped, 0);
    viv_prune_report_free(&r);
    assert_false(exists(old));
    assert_true(exists(fresh));
}

static void test_prune_skips_non_sessions(void **state)
{
    fx *f = *state;
    viv_error err = {0};
    /* Outside the root: something that looks like an expired session. */
    put_file(fmt("%s/session.json", f->s.outside),
             "{\"session_id\":\"evil\",\"created_at\":\"2001-01-01T00:00:00Z\","
             "\"updated_at\":\"2001-01-01T00:00:00Z\",\"version\":1}");
    assert_int_equal(mkdir(fmt("%s/workspace", f->s.outside), 0700), 0);
    put_file(fmt("%s/workspace/precious", f->s.outside), "keep me");
    assert_int_equal(symlink(f->s.outside, fmt("%s/evil", f->s.root)), 0);
    assert_int_equal(mkdir(fmt("%s/plain", f->s.root), 0700), 0);
    put_file(fmt("%s/plain/data", f->s.root), "mine");
    assert_int_equal(mkdir(fmt("%s/corrupt", f->s.root), 0700), 0);
    put_file(fmt("%s/corrupt/session.json", f->s.root), "{not json");
    put_file(fmt("%s/loose-file", f->s.root), "x");
    new_session(f, "real");
    set_updated_at(f, "real", "2001-01-01T00:00:00Z");
    char *outside_before = tree_listing(f->s.outside);

    viv_prune_report r;
    assert_int_equal(viv_session_prune(f->store, 60, false, &r, &err), VIV_OK);
    assert_int_equal(r.ndeleted, 1);
    assert_string_equal(r.deleted[0].id, "real");
    assert_int_equal(r.nskipped, 4);
    const viv_prune_entry *e = find_entry(r.skipped, r.nskipped, "evil");
    assert_non_null(e);
    assert_string_equal(e->reason, "symlink");
    e = find_entry(r.skipped, r.nskipped, "plain");
    assert_non_null(e);
    assert_string_equal(e->reason, "missing metadata");
    e = find_entry(r.skipped, r.nskipped, "corrupt");
    assert_non_null(e);
    assert_string_equal(e->reason, "corrupt metadata");
    e = find_entry(r.skipped, r.nskipped, "loose-file");
    assert_non_null(e);
    assert_string_equal(e->reason, "not a directory");
    viv_prune_report_free(&r);
    viv_prune_report_free(NULL);

    char *outside_after = tree_listing(f->s.outside);
    assert_string_equal(outside_before, outside_after);
    free(outside_before);
    free(outside_after);
    assert_true(exists(fmt("%s/evil", f->s.root)));
    assert_true(exists(fmt("%s/plain/data", f->s.root)));
    assert_true(exists(fmt("%s/corrupt/session.json", f->s.root)));
    assert_false(exists(fmt("%s/real", f->s.root)));
}

/* Runs last: every test above must have closed what it opened. */
static void test_no_fd_leak(void **state)
{
    (void)state;
    assert_int_equal(count_fds(), fds_at_start);
}

int main(void)
{
    fds_at_start = count_fds();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_id_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uuid_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_then_retrieve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_waits_for_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_and_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_deep_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_dry_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_deletes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_skips_non_sessions, setup, teardown),
        cmocka_unit_test(test_no_fd_leak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
