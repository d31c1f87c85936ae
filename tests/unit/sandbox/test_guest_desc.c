/*
 * tests/unit/sandbox/test_guest_desc.c: guest descriptors (guest_desc.c):
 * what a descriptor beside a module adds, and every malformed one refused
 * with the descriptor and the line named.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "guest_desc.h"

typedef struct fixture {
    char dir[PATH_MAX];
    char wasm[PATH_MAX + 32];
    char desc[PATH_MAX + 32];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "%s/guest_desc_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->wasm, sizeof f->wasm, "%s/python.wasm", f->dir);
    snprintf(f->desc, sizeof f->desc, "%s/python.guest", f->dir);
    char sub[PATH_MAX + 16];
    snprintf(sub, sizeof sub, "%s/lib", f->dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(sub, sizeof sub, "%s/lib/py", f->dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void write_desc(const fixture *f, const char *text)
{
    FILE *fp = fopen(f->desc, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_no_descriptor_is_empty(void **state)
{
    fixture *f = *state;
    viv_guest_desc d;
    viv_error err = {0};
    assert_int_equal(viv_guest_desc_load(f->wasm, &d, &err), VIV_OK);
    assert_int_equal(d.nmounts, 0);
    assert_null(d.name);
    assert_null(d.stdlib_sha256);
    /* A module not named *.wasm has no descriptor either. */
    assert_int_equal(viv_guest_desc_load(f->dir, &d, &err), VIV_OK);
    assert_int_equal(d.nmounts, 0);
}

static void test_mounts_resolved(void **state)
{
    fixture *f = *state;
    char text[2 * PATH_MAX];
    snprintf(text, sizeof text,
             "# our guest\n"
             "name python3.11\n"
             "version 3.11.2 (Debian 3.11.2-6+deb12u8)\n"
             "stdlib-sha256 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
             "\n"
             "ro-mount lib/py /usr/local/lib/python3.11\n"
             "  ro-mount\t%s/lib   /opt/lib  \n",
             f->dir);
    write_desc(f, text);
    viv_guest_desc d;
    viv_error err = {0};
    assert_int_equal(viv_guest_desc_load(f->wasm, &d, &err), VIV_OK);
    assert_string_equal(d.name, "python3.11");
    assert_string_equal(d.version, "3.11.2 (Debian 3.11.2-6+deb12u8)");
    assert_string_equal(d.stdlib_sha256,
                        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    assert_int_equal(d.nmounts, 2);
    char real[PATH_MAX], want[PATH_MAX + 16];
    assert_non_null(realpath(f->dir, real));
    snprintf(want, sizeof want, "%s/lib/py", real);
    assert_string_equal(d.mounts[0].host, want);
    assert_string_equal(d.mounts[0].guest, "/usr/local/lib/python3.11");
    snprintf(want, sizeof want, "%s/lib", real);
    assert_string_equal(d.mounts[1].host, want);
    assert_string_equal(d.mounts[1].guest, "/opt/lib");
    viv_guest_desc_free(&d);
    assert_int_equal(d.nmounts, 0);
}

static void expect_refused(const fixture *f, const char *text, viv_status want, const char *field,
                           const char *in_message)
{
    write_desc(f, text);
    viv_guest_desc d;
    viv_error err = {0};
    assert_int_equal(viv_guest_desc_load(f->wasm, &d, &err), want);
    assert_int_equal(d.nmounts, 0);
    assert_null(d.name);
    assert_string_equal(err.field, field);
    if (strstr(err.message, in_message) == NULL) {
        fail_msg("message '%s' lacks '%s'", err.message, in_message);
    }
}

static void test_malformed_refused(void **state)
{
    fixture *f = *state;
    expect_refused(f, "name x\nmount lib /x\n", VIV_EINVAL, "mount", "python.guest:2:");
    expect_refused(f, "ro-mount lib\n", VIV_EINVAL, "ro-mount", ":1: expected");
    expect_refused(f, "ro-mount lib /a /b\n", VIV_EINVAL, "ro-mount", ":1: expected");
    expect_refused(f, "name\n", VIV_EINVAL, "name", "needs a value");
    expect_refused(f, "name ok\nro-mount lib relative\n", VIV_EINVAL, "ro-mount", ":2: guest path");
    expect_refused(f, "ro-mount lib /\n", VIV_EINVAL, "ro-mount", "guest path");
    expect_refused(f, "ro-mount lib /a/../etc\n", VIV_EINVAL, "ro-mount", "guest path");
    expect_refused(f, "ro-mount lib /a//b\n", VIV_EINVAL, "ro-mount", "guest path");
    expect_refused(f, "ro-mount lib /a/\n", VIV_EINVAL, "ro-mount", "guest path");
    expect_refused(f, "ro-mount lib /a/./b\n", VIV_EINVAL, "ro-mount", "guest path");
    expect_refused(f, "stdlib-sha256 abc\n", VIV_EINVAL, "stdlib-sha256", ":1: expected");
    expect_refused(
        f, "stdlib-sha256 00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\n",
        VIV_EINVAL, "stdlib-sha256", "lowercase hex");
    expect_refused(f,
                   "stdlib-sha256 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
                   " x\n",
                   VIV_EINVAL, "stdlib-sha256", ":1: expected");
    expect_refused(f, "ro-mount nowhere /a\n", VIV_ENOENT, "ro-mount", "nowhere");
    expect_refused(f, "ro-mount python.guest /a\n", VIV_ENOENT, "ro-mount", "not a directory");
    expect_refused(f,
                   "ro-mount lib /a\nro-mount lib /b\nro-mount lib /c\nro-mount lib /d\n"
                   "ro-mount lib /e\n",
                   VIV_EINVAL, "ro-mount", ":5: more than");
}

static void test_missing_explicit_file(void **state)
{
    fixture *f = *state;
    viv_guest_desc d;
    viv_error err = {0};
    assert_int_equal(viv_guest_desc_load_file(f->desc, &d, &err), VIV_ENOENT);
    assert_string_equal(err.path, f->desc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_descriptor_is_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mounts_resolved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_explicit_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
