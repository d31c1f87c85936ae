/*
 * tests/unit/engine: loading artifacts. Missing files, files that are not
 * shared objects, shared objects that are not artifacts or are built for
 * another ABI, artifacts built from another module, and unmetered artifacts
 * are all refused with a message that says which file and why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine_test_util.h"
#include "fuel_pass.h"

static viv_engine_status open_artifact(const char *path, const char *sha, viv_engine_artifact **a,
                                       char *err, size_t errlen)
{
    err[0] = '\0';
    *a = (viv_engine_artifact *)(uintptr_t)1; /* must be reset on failure */
    return viv_engine_artifact_open(path, sha, a, err, errlen);
}

static void expect_refused(const char *path, const char *sha, viv_engine_status want,
                           const char *must_mention)
{
    char err[1024];
    viv_engine_artifact *a;
    viv_engine_status st = open_artifact(path, sha, &a, err, sizeof err);
    if (st != want) {
        fail_msg("opening %s returned %d, expected %d: %s", path, (int)st, (int)want, err);
    }
    assert_null(a);
    if (strstr(err, path) == NULL) {
        fail_msg("the message does not name %s: %s", path, err);
    }
    if (must_mention != NULL && strstr(err, must_mention) == NULL) {
        fail_msg("the message does not mention \"%s\": %s", must_mention, err);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_missing_file(void **state)
{
    (void)state;
    char dir[4096], path[4200];
    et_scratch_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/no-such-artifact.so", dir);
    expect_refused(path, NULL, VIV_ENGINE_ENOENT, NULL);
}

static void test_not_a_shared_object(void **state)
{
    (void)state;
    char dir[4096], path[4200];
    et_scratch_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/text.so", dir);
    write_file(path, "this is not an ELF file\n");
    expect_refused(path, NULL, VIV_ENGINE_EINVALID, NULL);
    /* A .wasm is not an artifact either. */
    char wasm[4096];
    expect_refused(et_path("host.wasm", wasm, sizeof wasm), NULL, VIV_ENGINE_EINVALID, NULL);
}

static void test_directory(void **state)
{
    (void)state;
    char dir[4096];
    et_scratch_dir(dir, sizeof dir);
    expect_refused(dir, NULL, VIV_ENGINE_EINVALID, NULL);
}

static void test_shared_object_without_descriptor(void **state)
{
    (void)state;
    char path[4096];
    expect_refused(et_path("fake_3.so", path, sizeof path), NULL, VIV_ENGINE_EINVALID,
                   "vivarium_guest_artifact_v1");
}

static void test_other_abi_version(void **state)
{
    (void)state;
    char path[4096];
    expect_refused(et_path("fake_2.so", path, sizeof path), NULL, VIV_ENGINE_EINVALID, "ABI");
}

/* The descriptor matches what was compiled: this module's hash, this ABI and
 * metering pass, its initial memory, a fuel global. */
static void test_descriptor_of_a_compiled_artifact(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint32_t initial_pages;
    } mods[] = {{"host", 1}, {"grow_max", 2}};
    for (size_t i = 0; i < sizeof mods / sizeof *mods; i++) {
        char wasm_name[64], so_name[64], wasm[4096], so[4096], sha[65], err[1024];
        snprintf(wasm_name, sizeof wasm_name, "%s.wasm", mods[i].name);
        snprintf(so_name, sizeof so_name, "%s.so", mods[i].name);
        et_path(wasm_name, wasm, sizeof wasm);
        et_path(so_name, so, sizeof so);
        assert_true(et_sha256_file(wasm, sha));

        viv_engine_artifact *a;
        viv_engine_status st = open_artifact(so, sha, &a, err, sizeof err);
        if (st != VIV_ENGINE_OK) {
            fail_msg("opening %s with its module's hash failed: %s", so, err);
        }
        assert_non_null(a);
        const viv_guest_artifact *info = viv_engine_artifact_info(a);
        assert_int_equal(info->abi_version, VIV_GUEST_ABI_VERSION);
        assert_int_equal(info->fuel_pass_version, VIV_FUEL_PASS_VERSION);
        assert_string_equal(info->source_sha256, sha);
        assert_int_equal(info->initial_pages, mods[i].initial_pages);
        assert_true(info->instance_size > 0);
        assert_non_null(info->fuel);
        viv_engine_artifact_close(a);

        /* No expectation: any module will do. */
        st = open_artifact(so, NULL, &a, err, sizeof err);
        assert_int_equal(st, VIV_ENGINE_OK);
        viv_engine_artifact_close(a);
    }
}

static void test_built_from_another_module(void **state)
{
    (void)state;
    char wasm[4096], so[4096], sha[65], other[65];
    et_path("host.wasm", wasm, sizeof wasm);
    et_path("host.so", so, sizeof so);
    assert_true(et_sha256_file(wasm, sha));
    /* The hash of a different module. */
    et_path("traps.wasm", wasm, sizeof wasm);
    assert_true(et_sha256_file(wasm, other));
    assert_string_not_equal(sha, other);

    char err[1024];
    viv_engine_artifact *a;
    viv_engine_status st = open_artifact(so, other, &a, err, sizeof err);
    assert_int_equal(st, VIV_ENGINE_EINVALID);
    assert_null(a);
    if (strstr(err, sha) == NULL || strstr(err, other) == NULL || strstr(err, so) == NULL) {
        fail_msg("the message must name the artifact, its module's hash %s and the expected "
                 "%s: %s",
                 sha, other, err);
    }
}

/* Built from the same glue without the metering pass (fuel pass 0): it
 * loads, but viv_engine_run refuses to run it, before the guest starts. */
static void test_unmetered_build_is_refused_by_run(void **state)
{
    (void)state;
    char path[4096], err[1024];
    viv_engine_artifact *a;
    viv_engine_status st =
        open_artifact(et_path("unmetered.so", path, sizeof path), NULL, &a, err, sizeof err);
    if (st != VIV_ENGINE_OK) {
        fail_msg("opening the unmetered artifact returned %d: %s", (int)st, err);
    }
    assert_int_equal(viv_engine_artifact_info(a)->fuel_pass_version, 0);
    assert_null(viv_engine_artifact_info(a)->fuel);
    viv_engine_artifact_close(a);

    et_run r = {.artifact = "unmetered.so", .limits = et_default_limits()};
    et_result res;
    et_execute(&r, &res);
    et_assert_completed(&res, VIV_ENGINE_EINVALID);
    et_assert_end(&res, VIV_END_HOST_ERROR, NULL);
    assert_non_null(strstr(res.rep.out.message, "not metered"));
    assert_int_equal(res.rep.attach_calls, 0);
    assert_int_equal(res.rep.import_calls, 0);
    assert_int_equal(res.rep.out.fuel_consumed, 0);
}

/* The benchmark's escape hatch: with allow_unmetered the same artifact runs,
 * with no fuel accounted. */
static void test_unmetered_build_runs_when_allowed(void **state)
{
    (void)state;
    et_run r = {.artifact = "unmetered.so", .limits = et_default_limits()};
    r.limits.allow_unmetered = true;
    et_result res;
    et_execute(&r, &res);
    et_assert_completed(&res, VIV_ENGINE_OK);
    et_assert_end(&res, VIV_END_RETURNED, NULL);
    assert_int_equal(res.rep.nnotes, 1);
    assert_int_equal(res.rep.notes[0].value, 1000);
    assert_int_equal(res.rep.out.fuel_consumed, 0);
}

/* Metered by another version of the pass: its charges mean something else. */
static void test_other_fuel_pass_version(void **state)
{
    (void)state;
    char path[4096];
    expect_refused(et_path("fake_4.so", path, sizeof path), NULL, VIV_ENGINE_EINVALID, "fuel pass");
}

/* An artifact that claims the current fuel pass but has no fuel global
 * passes open; viv_engine_run must refuse it before touching it (every
 * function of the fake aborts). */
static void test_run_refuses_an_artifact_without_fuel(void **state)
{
    (void)state;
    et_run r = {.artifact = "fake_1.so", .limits = et_default_limits()};
    et_result res;
    et_execute(&r, &res);
    et_assert_completed(&res, VIV_ENGINE_EINVALID);
    et_assert_end(&res, VIV_END_HOST_ERROR, NULL);
    assert_non_null(strstr(res.rep.out.message, "metered"));
    assert_int_equal(res.rep.attach_calls, 0);
    assert_int_equal(res.rep.import_calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_not_a_shared_object),
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_shared_object_without_descriptor),
        cmocka_unit_test(test_other_abi_version),
        cmocka_unit_test(test_descriptor_of_a_compiled_artifact),
        cmocka_unit_test(test_built_from_another_module),
        cmocka_unit_test(test_unmetered_build_is_refused_by_run),
        cmocka_unit_test(test_unmetered_build_runs_when_allowed),
        cmocka_unit_test(test_other_fuel_pass_version),
        cmocka_unit_test(test_run_refuses_an_artifact_without_fuel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
