/*
 * tests/unit/policy/toml_alloc_test.c: allocation-failure sweep for the TOML
 * parser.
 *
 * Owns: proving that every allocation failure inside viv_toml_parse is
 * reported as an error and leaks nothing. toml.c is compiled into this test
 * with VIV_TOML_TEST_ALLOC, which routes its allocations through the hooks
 * below; for each document we count the allocations a successful parse
 * makes, then fail each one in turn and check the result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/toml.h"

void *viv_toml_test_realloc(void *ptr, size_t size);
void viv_toml_test_free(void *ptr);

static long calls;        /* allocation calls so far */
static long fail_at = -1; /* index of the call to fail, or -1 */
static long live;         /* blocks currently allocated through the hooks */

void *viv_toml_test_realloc(void *ptr, size_t size)
{
    if (calls++ == fail_at)
        return NULL;
    void *q = realloc(ptr, size ? size : 1);
    if (q && !ptr)
        live++;
    return q;
}

void viv_toml_test_free(void *ptr)
{
    if (ptr)
        live--;
    free(ptr);
}

static const char *const docs[] = {
    "title = \"x\"\n[a.b]\nc = [1, 2.5, 'three', {d = true}]\n"
    "[[e]]\nf.g = 1979-05-27T07:32:00Z\n[[e]]\nh = \"\"\"multi\nline\"\"\"\n",
    "k0=0\nk1=1\nk2=2\nk3=3\nk4=4\nk5=5\nk6=6\nk7=7\nk8=8\nk9=9\nk10=10\n"
    "k11=11\nk12=12\nk13=13\nk14=14\nk15=15\nk16=16\nk17=17\n",
    "a = [[[[{x = [{y = {z = 'deep'}}]}]]]]\n",
    "s = \"\\u00e9\\U0001F600 a long enough string to need the buffer to grow "
    "more than once, and then some more text to be sure of it\"\n",
    "x.y.z = 1\nx.y.w = 2\n[p]\nq = {r.s = 1, t = [1e3, -inf]}\n",
};

static void sweep(const char *doc)
{
    viv_toml_value *out;
    viv_toml_error err;
    calls = 0;
    fail_at = -1;
    live = 0;
    assert_int_equal(viv_toml_parse(doc, strlen(doc), &out, &err), 0);
    long total = calls;
    assert_true(total > 0);
    viv_toml_free(out);
    assert_int_equal(live, 0);

    for (long i = 0; i < total; i++) {
        calls = 0;
        fail_at = i;
        live = 0;
        out = (viv_toml_value *)&out;
        int rc = viv_toml_parse(doc, strlen(doc), &out, &err);
        assert_int_equal(rc, -1);
        assert_null(out);
        assert_string_equal(err.message, "out of memory");
        assert_true(err.line >= 1);
        assert_int_equal(live, 0);
    }
    fail_at = -1;
}

static void test_every_allocation_can_fail(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        sweep(docs[i]);
}

/* Failing allocations in the middle of an error path must not leak either:
 * the document below fails to parse at its very end. */
static void test_failure_after_partial_tree(void **state)
{
    (void)state;
    const char *doc = "a = {b = [1, 2]}\n[t]\nx = 'y'\n[t]\n";
    viv_toml_value *out;
    viv_toml_error err;
    calls = 0;
    fail_at = -1;
    live = 0;
    assert_int_equal(viv_toml_parse(doc, strlen(doc), &out, &err), -1);
    assert_int_equal(live, 0);
    long total = calls;
    for (long i = 0; i < total; i++) {
        calls = 0;
        fail_at = i;
        live = 0;
        assert_int_equal(viv_toml_parse(doc, strlen(doc), &out, &err), -1);
        assert_int_equal(live, 0);
    }
    fail_at = -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_can_fail),
        cmocka_unit_test(test_failure_after_partial_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
