/*
 * tests/unit/session/test_session_alloc.c: allocation-failure sweep over
 * the session store, the file operations and snapshots.
 *
 * The executable is linked with -Wl,--wrap for malloc, calloc, realloc,
 * strdup and strndup, so every allocation the session code makes can be
 * made to fail. For each
 * operation the sweep fails allocation 0, 1, 2, ... until the operation
 * completes without meeting an injected failure, and checks each time that
 * the call reported VIV_ENOMEM (or -1) rather than anything else, leaked
 * no fd, and left no half-made state. Leaks are caught by LeakSanitizer in
 * the sanitizer build. Allocations inside libc (opendir, realpath) are not
 * wrapped and never fail here.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "session_test_util.h"
#include "snapshot.h"
#include "vivarium.h"

/* ---- the failing allocator ------------------------------------------------ */

static bool armed;
static long countdown; /* allocations left before the injected failure */
static bool injected;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static bool should_fail(void)
{
    if (!armed || injected)
        return false;
    if (countdown-- > 0)
        return false;
    injected = true;
    errno = ENOMEM;
    return true;
}

void *__wrap_malloc(size_t n) { return should_fail() ? NULL : __real_malloc(n); }

void *__wrap_calloc(size_t n, size_t m) { return should_fail() ? NULL : __real_calloc(n, m); }

void *__wrap_realloc(void *p, size_t n) { return should_fail() ? NULL : __real_realloc(p, n); }

char *__wrap_strdup(const char *s) { return should_fail() ? NULL : __real_strdup(s); }

char *__wrap_strndup(const char *s, size_t n)
{
    return should_fail() ? NULL : __real_strndup(s, n);
}

static void arm(long n)
{
    countdown = n;
    injected = false;
    armed = true;
}

static void disarm(void) { armed = false; }

/* ---- fixture -------------------------------------------------------------- */

typedef struct fx {
    scratch s;
    viv_session_store *store;
    char ws[512];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    scratch_make(&f->s);
    viv_error err = {0};
    assert_int_equal(viv_session_store_open(f->s.root, &f->store, &err), VIV_OK);
    assert_int_equal(viv_session_open(f->store, "s", NULL, NULL, &err), VIV_OK);
    snprintf(f->ws, sizeof f->ws, "%s/s/workspace", f->s.root);
    assert_int_equal(viv_session_write(f->store, "s", "a.txt", "alpha", 5, false, &err), VIV_OK);
    assert_int_equal(viv_session_write(f->store, "s", "d/b.txt", "beta", 4, false, &err), VIV_OK);
    assert_int_equal(viv_session_write(f->store, "s", "d/e/c.py", "gamma", 5, false, &err), VIV_OK);
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

/* One operation under test. Returns 0 for success, 1 for a reported
 * out-of-memory; anything else fails the test inside. */
typedef int (*op_fn)(fx *f, long iteration);

static int viv(viv_status st, const viv_error *err)
{
    if (st == VIV_OK)
        return 0;
    if (st == VIV_ENOMEM && injected)
        return 1;
    fail_msg("status %d (%s) with%s an injected failure", st, err->message, injected ? "" : "out");
    return 2;
}

static int snap(int rc)
{
    if (rc == 0)
        return 0;
    if (injected)
        return 1;
    fail_msg("snapshot call failed without an injected failure");
    return 2;
}

static void sweep(fx *f, op_fn op)
{
    for (long n = 0;; n++) {
        assert_true(n < 10000);
        int fds = count_fds();
        arm(n);
        int r = op(f, n);
        disarm();
        assert_int_equal(count_fds(), fds);
        if (r == 0 && !injected) {
            print_message("%ld allocation(s) failed in turn\n", n);
            return;
        }
    }
}

/* ---- operations ----------------------------------------------------------- */

static int op_store_open(fx *f, long i)
{
    (void)i;
    viv_error err = {0};
    viv_session_store *st = NULL;
    int r = viv(viv_session_store_open(f->s.root, &st, &err), &err);
    if (r != 0)
        assert_null(st);
    viv_session_store_close(st);
    return r;
}

static int op_open_new(fx *f, long i)
{
    viv_error err = {0};
    char id[32];
    snprintf(id, sizeof id, "new%ld", i);
    viv_session_info info;
    bool created = false;
    int r = viv(viv_session_open(f->store, id, &info, &created, &err), &err);
    /* Created completely or not at all. */
    if (r == 0) {
        disarm();
        assert_int_equal(viv_session_get(f->store, id, &info, &err), VIV_OK);
        armed = true;
    } else {
        assert_false(exists(fmt("%s/%s", f->s.root, id)));
    }
    return r;
}

static int op_open_uuid(fx *f, long i)
{
    (void)i;
    viv_error err = {0};
    viv_session_info info;
    return viv(viv_session_open(f->store, NULL, &info, NULL, &err), &err);
}

static int op_open_existing(fx *f, long i)
{
    (void)i;
    viv_error err = {0};
    viv_session_info info;
    bool created = true;
    int r = viv(viv_session_open(f->store, "s", &info, &created, &err), &err);
    if (r == 0)
        assert_false(created);
    return r;
}

static int op_get(fx *f, long i)
{
    (void)i;
    viv_error err = {0};
    viv_session_info info;
    return viv(viv_session_get(f->store, "s", &info, &err), &err);
}

static int op_touch(fx *f, long i)
{
    (void)i;
    viv_error err = {0};
    int r = viv(viv_session_touch(f->store, "s", &err), &err);
    /* The metadata is intact whatever happened. */
    viv_session_info info;
    disarm();
    assert_int_equal(viv_session_get(f->store, "s", &info, &err), VIV_OK);
    armed = true;
    return r;
}

static int op_list(fx *f, long i)
{
    (void)i;
    viv_error err = {0};
    viv_session_info *list = NULL;
    size_t n = 0;
    int r = viv(viv_session_list(f->store, &list, &n, &err), &err);
    if (r != 0)
        assert_null(list);
    free(list);
    return r;
}

static int op_files(fx *f, long i)
{
    viv_error err = {0};
    char **paths = NULL;
    size_t n = 0;
    int r = viv(viv_session_files(f->store, "s", i % 2 ? "*/*" : NULL, &paths, &n, &err), &err);
    if (r != 0)
        assert_null(paths);
    viv_strings_free(paths, n);
    return r;
}

static int op_read(fx *f, long i)
{
    (void)i;
    viv_error err = {0};
    char *data = NULL;
    size_t len = 0;
    int r = viv(viv_session_read(f->store, "s", "d/b.txt", 100, &data, &len, &err), &err);
    free(data);
    return r;
}

static int op_write(fx *f, long i)
{
    viv_error err = {0};
    char path[64];
    snprintf(path, sizeof path, "w%ld/x/y.txt", i);
    return viv(viv_session_write(f->store, "s", path, "data", 4, false, &err), &err);
}

static int op_delete(fx *f, long i)
{
    viv_error err = {0};
    disarm();
    char path[64];
    snprintf(path, sizeof path, "del%ld/a/b.txt", i);
    assert_int_equal(viv_session_write(f->store, "s", path, "x", 1, false, &err), VIV_OK);
    snprintf(path, sizeof path, "./del%ld/", i);
    armed = true;
    return viv(viv_session_delete(f->store, "s", path, true, &err), &err);
}

static int op_prune(fx *f, long i)
{
    viv_error err = {0};
    disarm();
    /* Something to delete and something to skip, every time. */
    char id[32];
    snprintf(id, sizeof id, "old%ld", i);
    assert_int_equal(viv_session_open(f->store, id, NULL, NULL, &err), VIV_OK);
    mkdir(fmt("%s/plain%ld", f->s.root, i), 0700);
    armed = true;
    viv_prune_report r;
    int rc = viv(viv_session_prune(f->store, 0, i % 2 == 0, &r, &err), &err);
    if (rc == 0)
        viv_prune_report_free(&r);
    return rc;
}

static int op_remove(fx *f, long i)
{
    viv_error err = {0};
    disarm();
    char id[32];
    snprintf(id, sizeof id, "rm%ld", i);
    assert_int_equal(viv_session_open(f->store, id, NULL, NULL, &err), VIV_OK);
    assert_int_equal(viv_session_write(f->store, id, "a/b", "x", 1, false, &err), VIV_OK);
    armed = true;
    return viv(viv_session_remove(f->store, id, &err), &err);
}

static int op_workspace(fx *f, long i)
{
    (void)i;
    viv_error err = {0};
    char buf[4096];
    return viv(viv_session_workspace(f->store, "s", buf, sizeof buf, &err), &err);
}

static int op_snapshot(fx *f, long i)
{
    (void)i;
    char err[256];
    viv_snapshot *a = NULL, *b = NULL, *l = NULL;
    viv_changes c = {0};
    const char *idx = fmt("%s/snap.idx", f->s.base);
    int r = snap(viv_snapshot_take(-1, f->ws, NULL, NULL, &a, err, sizeof err));
    if (r == 0)
        r = snap(viv_snapshot_take(-1, f->ws, a, NULL, &b, err, sizeof err));
    if (r == 0)
        r = snap(viv_snapshot_diff(a, b, &c));
    if (r == 0)
        r = snap(viv_snapshot_save(b, idx, err, sizeof err));
    if (r == 0)
        r = snap(viv_snapshot_load(idx, &l, err, sizeof err));
    viv_changes_free(&c);
    viv_snapshot_free(a);
    viv_snapshot_free(b);
    viv_snapshot_free(l);
    return r;
}

#define SWEEP(name)                                                                                \
    static void test_##name(void **state) { sweep(*state, op_##name); }

SWEEP(store_open)
SWEEP(open_new)
SWEEP(open_uuid)
SWEEP(open_existing)
SWEEP(get)
SWEEP(touch)
SWEEP(list)
SWEEP(files)
SWEEP(read)
SWEEP(write)
SWEEP(delete)
SWEEP(prune)
SWEEP(remove)
SWEEP(workspace)
SWEEP(snapshot)

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(test_##name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(store_open), T(open_new), T(open_uuid), T(open_existing), T(get),
        T(touch),      T(list),     T(files),     T(read),          T(write),
        T(delete),     T(prune),    T(remove),    T(workspace),     T(snapshot),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
