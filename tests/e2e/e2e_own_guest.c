/*
 * e2e_own_guest.c: black-box acceptance of our own CPython 3.11 guest
 * (guest/cpython) through the CLI: its version, the extension modules built
 * into it, its read-only stdlib, and a file-backed sqlite database in /app
 * that persists from one execution to the next. It is the default guest:
 * without --guest, $VIVARIUM_GUEST or --wasm, `vivarium run` runs it. A
 * missing guest fails the suite (`tools/bootstrap` builds it).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_harness.h"

#ifndef VIV_E2E_OWN_GUEST
#error "VIV_E2E_OWN_GUEST must name the guest module"
#endif

/* The default guest, whatever the test runner's environment says. */
static void test_version_and_modules(void **state)
{
    (void)state;
    e2e_run r;
    e2e_opts o = {.env = E2E_ENV("VIVARIUM_GUEST=")};
    e2e_exec(&r, &o,
             E2E_ARGV("run", "-c",
                      "import sys, zlib, sqlite3, bz2, lzma, json, decimal, pyexpat, zoneinfo\n"
                      "print(sys.version_info[:2])\n"
                      "print(zlib.decompress(zlib.compress(b'z' * 1000)) == b'z' * 1000)\n"
                      "print(bz2.decompress(bz2.compress(b'b' * 1000)) == b'b' * 1000)\n"
                      "print(lzma.decompress(lzma.compress(b'l' * 1000)) == b'l' * 1000)\n"
                      "print(decimal.Decimal(1) / decimal.Decimal(8))\n"
                      "print(json.loads('[1, {\"a\": null}]'))\n"
                      "p = pyexpat.ParserCreate(); seen = []\n"
                      "p.StartElementHandler = lambda n, a: seen.append(n)\n"
                      "p.Parse('<a><b/></a>', True); print(seen)\n"
                      "print(sqlite3.connect(':memory:').execute('select 6 * 7').fetchone())\n"));
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "(3, 11)\nTrue\nTrue\nTrue\n0.125\n[1, {'a': None}]\n"
                               "['a', 'b']\n(42,)\n");
    e2e_run_free(&r);
}

/* The stdlib is mounted read-only: the guest can read it, never change it. */
static void test_stdlib_read_only(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--guest", "python3.11", "-c",
            "import os, json\n"
            "d = os.path.dirname(json.__file__)\n"
            "print(d)\n"
            "try:\n"
            "    open(os.path.join(d, 'evil.py'), 'w')\n"
            "    print('written')\n"
            "except OSError as e:\n"
            "    print('refused')\n");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "/usr/local/lib/python3.11/json\nrefused\n");
    e2e_run_free(&r);
}

/* A policy mount over the guest's own stdlib is refused before anything runs. */
static void test_mount_over_stdlib_refused(void **state)
{
    char mount[PATH_MAX + 64];
    snprintf(mount, sizeof mount, "%s:/usr/local/lib/python3.11", (const char *)*state);
    e2e_run r;
    E2E_RUN(&r, "run", "--guest", "python3.11", "--mount", mount, "-c", "print(1)");
    e2e_expect_exit(&r, 125);
    e2e_expect_in("stderr", r.err, "/usr/local/lib/python3.11");
    assert_string_equal(r.out, "");
    e2e_run_free(&r);
}

static void test_sqlite_persists_in_app(void **state)
{
    const char *dir = *state;
    e2e_run r;
    E2E_RUN(&r, "run", "--guest", "python3.11", "--workspace", dir, "-c",
            "import sqlite3\n"
            "db = sqlite3.connect('/app/notes.db')\n"
            "db.execute('create table notes(body text)')\n"
            "db.executemany('insert into notes values (?)', [('first',), ('second',)])\n"
            "db.commit()\n"
            "print('created')\n");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "created\n");
    e2e_run_free(&r);

    char path[PATH_MAX];
    e2e_path(path, dir, "notes.db");
    assert_int_equal(access(path, F_OK), 0);

    E2E_RUN(&r, "run", "--guest", "python3.11", "--workspace", dir, "-c",
            "import sqlite3\n"
            "db = sqlite3.connect('/app/notes.db')\n"
            "print([b for (b,) in db.execute('select body from notes order by body')])\n");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "['first', 'second']\n");
    e2e_run_free(&r);
}

int main(void)
{
    if (access(VIV_E2E_OWN_GUEST, F_OK) != 0) {
        printf("our own guest, the default, is not built (%s); tools/bootstrap builds it\n"
               "0 passed, 1 failed\n",
               VIV_E2E_OWN_GUEST);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_modules),
        cmocka_unit_test(test_stdlib_read_only),
        cmocka_unit_test_setup_teardown(test_mount_over_stdlib_refused, e2e_setup_tmp,
                                        e2e_teardown_tmp),
        cmocka_unit_test_setup_teardown(test_sqlite_persists_in_app, e2e_setup_tmp,
                                        e2e_teardown_tmp),
    };
    return cmocka_run_group_tests_name("e2e_own_guest", tests, NULL, NULL);
}
