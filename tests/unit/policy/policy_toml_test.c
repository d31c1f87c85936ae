/*
 * tests/unit/policy/policy_toml_test.c: cmocka tests of viv_policy_load_toml
 * and viv_policy_load_toml_string.
 *
 * Owns: the policy-file schema as seen by a caller: every key lands in its
 * field, [env] merges, both mount syntaxes, relative host paths, the error
 * (status, field, path, message) for each kind of bad file, and that a
 * failed load leaves the caller's policy exactly as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy.h"

typedef struct fixture {
    char dir[256]; /* a fresh directory holding ws/, datasets/, m1/, m2/ */
    viv_policy *p;
} fixture;

static void make_dir(const char *parent, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", parent, name);
    assert_int_equal(mkdir(path, 0700), 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/viv_policy_toml_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    /* The loader resolves against getcwd(), which has symlinks resolved. */
    char resolved[PATH_MAX];
    if (mkdtemp(f->dir) == NULL || realpath(f->dir, resolved) == NULL ||
        strlen(resolved) >= sizeof f->dir || viv_policy_new(&f->p, NULL) != VIV_OK) {
        free(f);
        return -1;
    }
    memcpy(f->dir, resolved, strlen(resolved) + 1);
    make_dir(f->dir, "ws");
    make_dir(f->dir, "datasets");
    make_dir(f->dir, "m1");
    make_dir(f->dir, "m2");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    viv_policy_free(f->p);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static char *path_in(const fixture *f, const char *name)
{
    static char buf[4][512];
    static int next;
    char *out = buf[next++ % 4];
    snprintf(out, sizeof buf[0], "%s/%s", f->dir, name);
    return out;
}

static const char *write_file(const fixture *f, const char *name, const char *text, size_t len)
{
    const char *path = path_in(f, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    return path;
}

static const char *write_policy(const fixture *f, const char *text)
{
    return write_file(f, "policy.toml", text, strlen(text));
}

static const char *env_get(const viv_policy *p, const char *key)
{
    for (size_t i = 0; i < p->nenv; i++) {
        if (strcmp(p->env[i].key, key) == 0) {
            return p->env[i].value;
        }
    }
    return NULL;
}

static bool str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Deep equality, so "unchanged after an error" is checked field by field
 * rather than on a sample. */
static bool policy_equal(const viv_policy *a, const viv_policy *b)
{
    if (a->fuel_budget != b->fuel_budget || a->memory_bytes != b->memory_bytes ||
        a->stdout_max_bytes != b->stdout_max_bytes || a->stderr_max_bytes != b->stderr_max_bytes ||
        a->timeout_seconds != b->timeout_seconds || a->preserve_logs != b->preserve_logs ||
        !str_eq(a->workspace, b->workspace) || !str_eq(a->guest_mount_path, b->guest_mount_path) ||
        !str_eq(a->data_dir, b->data_dir) || !str_eq(a->guest_data_path, b->guest_data_path) ||
        a->nmounts != b->nmounts || a->nenv != b->nenv || a->argc != b->argc) {
        return false;
    }
    for (size_t i = 0; i < a->nmounts; i++) {
        if (!str_eq(a->mounts[i].host, b->mounts[i].host) ||
            !str_eq(a->mounts[i].guest, b->mounts[i].guest)) {
            return false;
        }
    }
    for (size_t i = 0; i < a->nenv; i++) {
        if (!str_eq(a->env[i].key, b->env[i].key) || !str_eq(a->env[i].value, b->env[i].value)) {
            return false;
        }
    }
    for (size_t i = 0; i < a->argc; i++) {
        if (!str_eq(a->argv[i], b->argv[i])) {
            return false;
        }
    }
    return true;
}

/* A policy that differs from the defaults everywhere, so an error path that
 * reset a field to its default would be caught too. */
static void customise(fixture *f)
{
    viv_policy *p = f->p;
    static const char *const argv[] = {"python3", "-I"};
    assert_int_equal(viv_policy_set_fuel_budget(p, 123, NULL), VIV_OK);
    assert_int_equal(viv_policy_set_memory_bytes(p, 456, NULL), VIV_OK);
    assert_int_equal(viv_policy_set_timeout_seconds(p, 7.5, NULL), VIV_OK);
    assert_int_equal(viv_policy_set_workspace(p, path_in(f, "ws"), NULL), VIV_OK);
    assert_int_equal(viv_policy_set_data_dir(p, path_in(f, "datasets"), NULL), VIV_OK);
    assert_int_equal(viv_policy_set_guest_data_path(p, "/in", NULL), VIV_OK);
    assert_int_equal(viv_policy_add_mount(p, path_in(f, "m1"), "/m1", NULL), VIV_OK);
    assert_int_equal(viv_policy_set_env(p, "KEEP", "me", NULL), VIV_OK);
    assert_int_equal(viv_policy_set_argv(p, argv, 2, NULL), VIV_OK);
    assert_int_equal(viv_policy_set_preserve_logs(p, true, NULL), VIV_OK);
    assert_int_equal(viv_policy_validate(p, NULL), VIV_OK);
}

/* Loads text from a file and checks the status, field and that p did not
 * change. Returns the error for further checks. */
static viv_error expect_file_error(fixture *f, const char *text, viv_status status,
                                   const char *field)
{
    viv_policy *before;
    assert_int_equal(viv_policy_copy(f->p, &before, NULL), VIV_OK);
    const char *path = write_policy(f, text);
    viv_error err;
    memset(&err, 0, sizeof err);
    viv_status st = viv_policy_load_toml(f->p, path, &err);
    if (st != status || (field && strcmp(err.field, field) != 0)) {
        print_error("for:\n%s\ngot %s field \"%s\": %s\nwant %s field \"%s\"\n", text,
                    viv_status_name(st), err.field, err.message, viv_status_name(status),
                    field ? field : "(any)");
    }
    assert_int_equal(st, status);
    assert_int_equal(err.status, status);
    if (field != NULL) {
        assert_string_equal(err.field, field);
    }
    assert_true(strlen(err.message) > 0);
    assert_true(policy_equal(f->p, before));
    viv_policy_free(before);
    return err;
}

static void load_ok(fixture *f, const char *text)
{
    viv_error err;
    const char *path = write_policy(f, text);
    viv_status st = viv_policy_load_toml(f->p, path, &err);
    if (st != VIV_OK) {
        print_error("for:\n%s\ngot %s field \"%s\" path \"%s\": %s\n", text, viv_status_name(st),
                    err.field, err.path, err.message);
    }
    assert_int_equal(st, VIV_OK);
}

/* --- every key ------------------------------------------------------------- */

static void test_every_key_applied(void **state)
{
    fixture *f = *state;
    load_ok(f, "fuel_budget = 1_000\n"
               "memory_bytes = 64_000_000\n"
               "stdout_max_bytes = 10\n"
               "stderr_max_bytes = 20\n"
               "timeout_seconds = 2.5\n"
               "mount_host_dir = \"ws\"\n"
               "guest_mount_path = \"/work\"\n"
               "mount_data_dir = \"datasets\"\n"
               "guest_data_path = \"/input\"\n"
               "additional_readonly_mounts = [\"m1:/opt/m1\"]\n"
               "argv = [\"python3\", \"-S\"]\n"
               "preserve_logs = true\n"
               "[env]\n"
               "FOO = \"bar\"\n");
    viv_policy *p = f->p;
    assert_int_equal(viv_policy_fuel_budget(p), 1000);
    assert_int_equal(viv_policy_memory_bytes(p), 64000000);
    assert_int_equal(viv_policy_stdout_max_bytes(p), 10);
    assert_int_equal(viv_policy_stderr_max_bytes(p), 20);
    assert_true(viv_policy_timeout_seconds(p) == 2.5);
    assert_string_equal(p->workspace, path_in(f, "ws"));
    assert_string_equal(p->guest_mount_path, "/work");
    assert_string_equal(p->data_dir, path_in(f, "datasets"));
    assert_string_equal(p->guest_data_path, "/input");
    assert_int_equal(p->nmounts, 1);
    assert_string_equal(p->mounts[0].host, path_in(f, "m1"));
    assert_string_equal(p->mounts[0].guest, "/opt/m1");
    assert_int_equal(p->argc, 2);
    assert_string_equal(p->argv[0], "python3");
    assert_string_equal(p->argv[1], "-S");
    assert_true(p->preserve_logs);
    assert_string_equal(env_get(p, "FOO"), "bar");
}

static void test_timeout_integer_and_zero(void **state)
{
    fixture *f = *state;
    load_ok(f, "timeout_seconds = 12\n");
    assert_true(viv_policy_timeout_seconds(f->p) == 12.0);
    load_ok(f, "timeout_seconds = 0\n");
    assert_true(viv_policy_timeout_seconds(f->p) == 0.0);
}

static void test_preserve_logs_false(void **state)
{
    fixture *f = *state;
    customise(f);
    load_ok(f, "preserve_logs = false\n");
    assert_false(f->p->preserve_logs);
}

static void test_empty_file_changes_nothing(void **state)
{
    fixture *f = *state;
    customise(f);
    viv_policy *before;
    assert_int_equal(viv_policy_copy(f->p, &before, NULL), VIV_OK);
    load_ok(f, "# nothing but a comment\n");
    assert_true(policy_equal(f->p, before));
    assert_int_equal(viv_policy_load_toml_string(f->p, NULL, 0, NULL, NULL), VIV_OK);
    assert_true(policy_equal(f->p, before));
    viv_policy_free(before);
}

static void test_unset_keys_keep_caller_values(void **state)
{
    fixture *f = *state;
    customise(f);
    load_ok(f, "stdout_max_bytes = 99\n");
    assert_int_equal(viv_policy_stdout_max_bytes(f->p), 99);
    assert_int_equal(viv_policy_fuel_budget(f->p), 123);
    assert_int_equal(viv_policy_memory_bytes(f->p), 456);
    assert_string_equal(f->p->guest_data_path, "/in");
    assert_int_equal(f->p->nmounts, 1);
    assert_string_equal(f->p->argv[0], "python3");
}

/* --- env and argv ---------------------------------------------------------- */

static void test_env_merges(void **state)
{
    fixture *f = *state;
    size_t defaults = f->p->nenv;
    load_ok(f, "[env]\n"
               "LC_ALL = \"C\"\n"
               "NEW_VAR = \"x y\"\n");
    assert_int_equal(f->p->nenv, defaults + 1);
    assert_string_equal(env_get(f->p, "LC_ALL"), "C");
    assert_string_equal(env_get(f->p, "NEW_VAR"), "x y");
    assert_string_equal(env_get(f->p, "PYTHONUTF8"), "1");
    assert_string_equal(env_get(f->p, "PYTHONHASHSEED"), "0");
    assert_string_equal(env_get(f->p, "PYTHONIOENCODING"), "utf-8");
}

static void test_env_dotted_keys(void **state)
{
    fixture *f = *state;
    load_ok(f, "env.DOTTED = \"1\"\n"
               "env.\"QUOTED KEY\" = \"2\"\n");
    assert_string_equal(env_get(f->p, "DOTTED"), "1");
    assert_string_equal(env_get(f->p, "QUOTED KEY"), "2");
}

static void test_argv_replaced(void **state)
{
    fixture *f = *state;
    load_ok(f, "argv = ['python', '-I', '-X', 'dev']\n");
    assert_int_equal(f->p->argc, 4);
    assert_string_equal(f->p->argv[0], "python");
    assert_string_equal(f->p->argv[3], "dev");
}

/* --- mounts and paths ------------------------------------------------------ */

static void test_mount_syntaxes(void **state)
{
    fixture *f = *state;
    customise(f); /* its /m1 mount must be replaced, not appended to */
    load_ok(f, "additional_readonly_mounts = [\n"
               "  \"m1:/a\",\n"
               "  { host = \"m2\", guest = \"/b\" },\n"
               "]\n");
    assert_int_equal(f->p->nmounts, 2);
    assert_string_equal(f->p->mounts[0].host, path_in(f, "m1"));
    assert_string_equal(f->p->mounts[0].guest, "/a");
    assert_string_equal(f->p->mounts[1].host, path_in(f, "m2"));
    assert_string_equal(f->p->mounts[1].guest, "/b");

    load_ok(f, "[[additional_readonly_mounts]]\n"
               "host = \"m2\"\n"
               "guest = \"/c\"\n");
    assert_int_equal(f->p->nmounts, 1);
    assert_string_equal(f->p->mounts[0].host, path_in(f, "m2"));
    assert_string_equal(f->p->mounts[0].guest, "/c");

    load_ok(f, "additional_readonly_mounts = []\n");
    assert_int_equal(f->p->nmounts, 0);
}

static void test_mount_host_with_colon(void **state)
{
    fixture *f = *state;
    make_dir(f->dir, "a:b");
    load_ok(f, "additional_readonly_mounts = ['a:b:/x']\n");
    assert_int_equal(f->p->nmounts, 1);
    assert_string_equal(f->p->mounts[0].host, path_in(f, "a:b"));
    assert_string_equal(f->p->mounts[0].guest, "/x");
}

static void test_absolute_paths_kept(void **state)
{
    fixture *f = *state;
    char text[2048];
    snprintf(text, sizeof text,
             "mount_host_dir = \"%s\"\n"
             "additional_readonly_mounts = [{host = \"%s//\", guest = \"/m\"}]\n",
             path_in(f, "ws"), path_in(f, "m1"));
    load_ok(f, text);
    assert_string_equal(f->p->workspace, path_in(f, "ws"));
    assert_string_equal(f->p->mounts[0].host, path_in(f, "m1"));
}

/* Relative to the file, not to the process: load through a relative file
 * path from a directory that is neither, and check absolute results. */
static void test_relative_paths_follow_the_file(void **state)
{
    fixture *f = *state;
    make_dir(f->dir, "conf");
    make_dir(f->dir, "conf/ws");
    make_dir(f->dir, "conf/data");
    const char *text =
        "mount_host_dir = \"ws\"\n"
        "mount_data_dir = \"./data/\"\n"
        "additional_readonly_mounts = [\"../m1:/m1\", {host='../m2', guest='/m2'}]\n";
    write_file(f, "conf/policy.toml", text, strlen(text));

    char *old_cwd = getcwd(NULL, 0);
    assert_non_null(old_cwd);
    assert_int_equal(chdir(f->dir), 0);
    viv_error err;
    viv_status st = viv_policy_load_toml(f->p, "conf/policy.toml", &err);
    /* Back before asserting, so a failure does not strand later tests. */
    assert_int_equal(chdir(old_cwd), 0);
    free(old_cwd);
    if (st != VIV_OK) {
        print_error("%s\n", err.message);
    }
    assert_int_equal(st, VIV_OK);
    assert_string_equal(f->p->workspace, path_in(f, "conf/ws"));
    assert_string_equal(f->p->data_dir, path_in(f, "conf/data"));
    assert_string_equal(f->p->mounts[0].host, path_in(f, "conf/../m1"));
    assert_string_equal(f->p->mounts[1].host, path_in(f, "conf/../m2"));
}

static void test_string_variant_base_dir(void **state)
{
    fixture *f = *state;
    const char *text = "mount_host_dir = 'ws'\n";
    viv_error err;
    assert_int_equal(viv_policy_load_toml_string(f->p, text, strlen(text), f->dir, &err), VIV_OK);
    assert_string_equal(f->p->workspace, path_in(f, "ws"));

    /* NULL: the current directory, made absolute at load time. */
    char *old_cwd = getcwd(NULL, 0);
    assert_non_null(old_cwd);
    assert_int_equal(chdir(path_in(f, "m1")), 0);
    make_dir(".", "ws");
    viv_status st = viv_policy_load_toml_string(f->p, text, strlen(text), NULL, &err);
    assert_int_equal(chdir(old_cwd), 0);
    free(old_cwd);
    assert_int_equal(st, VIV_OK);
    assert_string_equal(f->p->workspace, path_in(f, "m1/ws"));
}

/* The text need not be NUL-terminated: len is the whole input. */
static void test_string_variant_uses_len(void **state)
{
    fixture *f = *state;
    const char text[] = "fuel_budget = 77\nfuel_budget = oops";
    assert_int_equal(viv_policy_load_toml_string(f->p, text, 17, NULL, NULL), VIV_OK);
    assert_int_equal(viv_policy_fuel_budget(f->p), 77);
}

static void test_data_dir_default_guest_path(void **state)
{
    fixture *f = *state;
    load_ok(f, "mount_data_dir = \"datasets\"\n");
    assert_string_equal(f->p->data_dir, path_in(f, "datasets"));
    assert_string_equal(f->p->guest_data_path, "/data");
}

/* --- errors ---------------------------------------------------------------- */

static void test_setter_rejects_value(void **state)
{
    fixture *f = *state;
    customise(f);
    viv_error err = expect_file_error(f, "fuel_budget = -1\n", VIV_EPOLICY, "fuel_budget");
    assert_non_null(strstr(err.message, "-1"));
    expect_file_error(f, "memory_bytes = 8_000_000_000\n", VIV_EPOLICY, "memory_bytes");
    expect_file_error(f, "timeout_seconds = -0.5\n", VIV_EPOLICY, "timeout_seconds");
    expect_file_error(f, "timeout_seconds = inf\n", VIV_EPOLICY, "timeout_seconds");
    expect_file_error(f, "timeout_seconds = nan\n", VIV_EPOLICY, "timeout_seconds");
    expect_file_error(f, "argv = []\n", VIV_EPOLICY, "argv");
    expect_file_error(f, "[env]\n\"A=B\" = \"x\"\n", VIV_EPOLICY, "env");
    expect_file_error(f, "guest_mount_path = \"relative\"\n", VIV_EPOLICY, "guest_mount_path");
}

/* A good key before the bad one must not leak through. */
static void test_partial_file_not_applied(void **state)
{
    fixture *f = *state;
    customise(f);
    expect_file_error(f,
                      "fuel_budget = 5\n"
                      "argv = ['a']\n"
                      "[env]\n"
                      "NEW = 'x'\n"
                      "KEEP = 'changed'\n"
                      "BAD = 1\n",
                      VIV_EPOLICY, "env.BAD");
    expect_file_error(f,
                      "additional_readonly_mounts = ['m2:/m2']\n"
                      "stdout_max_bytes = 0\n",
                      VIV_EPOLICY, "stdout_max_bytes");
}

static void test_unknown_key(void **state)
{
    fixture *f = *state;
    customise(f);
    viv_error err = expect_file_error(f, "fuel_budjet = 10\n", VIV_EPOLICY, "fuel_budjet");
    assert_non_null(strstr(err.message, "fuel_budjet"));
    assert_non_null(strstr(err.message, "fuel_budget")); /* the suggestion */

    err = expect_file_error(f, "completely_unrelated = 1\n", VIV_EPOLICY, "completely_unrelated");
    assert_non_null(strstr(err.message, "completely_unrelated"));

    err =
        expect_file_error(f, "additional_readonly_mounts = [{host='m1', guest='/x', hots='m2'}]\n",
                          VIV_EPOLICY, "additional_readonly_mounts[0].hots");
    assert_non_null(strstr(err.message, "\"hots\""));
}

static void test_nested_tables_rejected(void **state)
{
    fixture *f = *state;
    customise(f);
    viv_error err = expect_file_error(f, "[limits]\nfuel = 1\n", VIV_EPOLICY, "limits");
    assert_non_null(strstr(err.message, "limits"));
    assert_non_null(strstr(err.message, "table"));
    expect_file_error(f, "[fuel_budget]\nx = 1\n", VIV_EPOLICY, "fuel_budget");
    expect_file_error(f, "[env.SUB]\nx = '1'\n", VIV_EPOLICY, "env.SUB");
    expect_file_error(f, "env = 'FOO=1'\n", VIV_EPOLICY, "env");
    err = expect_file_error(f, "[evn]\nFOO = '1'\n", VIV_EPOLICY, "evn");
    assert_non_null(strstr(err.message, "\"env\""));
}

static void test_wrong_types(void **state)
{
    fixture *f = *state;
    customise(f);
    static const struct {
        const char *text;
        const char *field;
        const char *got; /* the type named in the message */
    } cases[] = {
        {"fuel_budget = 1.0\n", "fuel_budget", "float"},
        {"fuel_budget = \"100\"\n", "fuel_budget", "string"},
        {"memory_bytes = true\n", "memory_bytes", "boolean"},
        {"stdout_max_bytes = [1]\n", "stdout_max_bytes", "array"},
        {"stderr_max_bytes = 1e3\n", "stderr_max_bytes", "float"},
        {"timeout_seconds = \"30\"\n", "timeout_seconds", "string"},
        {"fuel_budget = 1979-05-27\n", "fuel_budget", "local date"},
        {"timeout_seconds = 07:32:00\n", "timeout_seconds", "local time"},
        {"memory_bytes = 1979-05-27T07:32:00Z\n", "memory_bytes", "offset date-time"},
        {"guest_mount_path = 1979-05-27T07:32:00\n", "guest_mount_path", "local date-time"},
        {"mount_host_dir = 1\n", "mount_host_dir", "integer"},
        {"mount_data_dir = false\n", "mount_data_dir", "boolean"},
        {"guest_data_path = ['/d']\n", "guest_data_path", "array"},
        {"preserve_logs = 1\n", "preserve_logs", "integer"},
        {"preserve_logs = \"true\"\n", "preserve_logs", "string"},
        {"argv = \"python\"\n", "argv", "string"},
        {"argv = [\"python\", 1]\n", "argv[1]", "integer"},
        {"argv = [\"py\\u0000thon\"]\n", "argv[0]", "NUL"},
        {"[env]\nFOO = 1\n", "env.FOO", "integer"},
        {"[env]\nFOO = 1979-05-27\n", "env.FOO", "local date"},
        {"additional_readonly_mounts = 'm1:/m1'\n", "additional_readonly_mounts", "string"},
        {"additional_readonly_mounts = [1]\n", "additional_readonly_mounts[0]", "integer"},
        {"additional_readonly_mounts = [['m1', '/m1']]\n", "additional_readonly_mounts[0]",
         "array"},
        {"additional_readonly_mounts = ['m1']\n", "additional_readonly_mounts[0]", "HOST:GUEST"},
        {"additional_readonly_mounts = [':/x']\n", "additional_readonly_mounts[0]", "HOST:GUEST"},
        {"additional_readonly_mounts = ['m1:']\n", "additional_readonly_mounts[0]", "HOST:GUEST"},
        {"additional_readonly_mounts = [{host='m1'}]\n", "additional_readonly_mounts[0]", "guest"},
        {"additional_readonly_mounts = [{host=1, guest='/x'}]\n",
         "additional_readonly_mounts[0].host", "integer"},
        {"additional_readonly_mounts = [{host='m1', guest=2}]\n",
         "additional_readonly_mounts[0].guest", "integer"},
        {"mount_host_dir = ''\n", "mount_host_dir", "empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        viv_error err = expect_file_error(f, cases[i].text, VIV_EPOLICY, cases[i].field);
        if (strstr(err.message, cases[i].got) == NULL) {
            print_error("message \"%s\" does not mention \"%s\"\n", err.message, cases[i].got);
        }
        assert_non_null(strstr(err.message, cases[i].got));
        assert_non_null(strstr(err.message, cases[i].field));
        assert_string_equal(err.path, path_in(f, "policy.toml"));
    }
}

static void test_malformed_toml(void **state)
{
    fixture *f = *state;
    customise(f);
    viv_error err = expect_file_error(f,
                                      "fuel_budget = 10\n"
                                      "memory_bytes = = 5\n",
                                      VIV_EPOLICY, "");
    if (strstr(err.message, "line 2, column ") == NULL) {
        print_error("%s\n", err.message);
    }
    assert_non_null(strstr(err.message, "line 2, column "));
    assert_string_equal(err.path, path_in(f, "policy.toml"));

    /* A duplicate key is malformed TOML, not a merge. */
    err = expect_file_error(f, "fuel_budget = 1\nfuel_budget = 2\n", VIV_EPOLICY, "");
    assert_non_null(strstr(err.message, "line 2, column 1"));

    const char *bad = "argv = [\n  'a',\n  'b'\n";
    assert_int_equal(viv_policy_load_toml_string(f->p, bad, strlen(bad), NULL, &err), VIV_EPOLICY);
    assert_non_null(strstr(err.message, "line "));
    assert_non_null(strstr(err.message, ", column "));
    assert_string_equal(err.path, "");
}

static void test_missing_file(void **state)
{
    fixture *f = *state;
    customise(f);
    viv_policy *before;
    assert_int_equal(viv_policy_copy(f->p, &before, NULL), VIV_OK);
    viv_error err;
    const char *path = path_in(f, "no-such.toml");
    assert_int_equal(viv_policy_load_toml(f->p, path, &err), VIV_ENOENT);
    assert_int_equal(err.status, VIV_ENOENT);
    assert_string_equal(err.path, path);
    assert_non_null(strstr(err.message, path));

    path = path_in(f, "policy.toml/x"); /* ENOTDIR */
    write_policy(f, "");
    assert_int_equal(viv_policy_load_toml(f->p, path, &err), VIV_ENOENT);
    assert_string_equal(err.path, path);

    /* A directory opens but cannot be read. */
    path = path_in(f, "ws");
    assert_int_equal(viv_policy_load_toml(f->p, path, &err), VIV_EHOST);
    assert_string_equal(err.path, path);
    assert_true(policy_equal(f->p, before));
    viv_policy_free(before);
}

static void test_file_too_large(void **state)
{
    fixture *f = *state;
    size_t len = ((size_t)1 << 20) + 1;
    char *text = malloc(len);
    assert_non_null(text);
    memset(text, '\n', len);
    const char *path = write_file(f, "big.toml", text, len);
    viv_error err;
    assert_int_equal(viv_policy_load_toml(f->p, path, &err), VIV_EPOLICY);
    assert_non_null(strstr(err.message, "too large"));
    assert_string_equal(err.path, path);

    /* Exactly at the limit is fine. */
    path = write_file(f, "big.toml", text, len - 1);
    assert_int_equal(viv_policy_load_toml(f->p, path, &err), VIV_OK);
    free(text);
}

static void test_validation_after_merge(void **state)
{
    fixture *f = *state;
    customise(f);
    viv_error err =
        expect_file_error(f, "mount_data_dir = 'nonexistent'\n", VIV_EPOLICY, "mount_data_dir");
    assert_string_equal(err.path, path_in(f, "nonexistent"));

    expect_file_error(f, "mount_host_dir = 'policy.toml'\n", VIV_EPOLICY, "mount_host_dir");
    expect_file_error(f, "additional_readonly_mounts = ['nope:/x']\n", VIV_EPOLICY,
                      "additional_readonly_mounts");
    /* Each key is fine alone; together the mounts collide. */
    expect_file_error(f, "guest_mount_path = '/in/app'\n", VIV_EPOLICY, "guest_data_path");
}

static void test_null_arguments(void **state)
{
    fixture *f = *state;
    viv_error err;
    assert_int_equal(viv_policy_load_toml(NULL, "x", &err), VIV_EINVAL);
    assert_int_equal(viv_policy_load_toml(f->p, NULL, &err), VIV_EINVAL);
    assert_int_equal(viv_policy_load_toml_string(NULL, "", 0, NULL, &err), VIV_EINVAL);
    assert_int_equal(viv_policy_load_toml_string(f->p, NULL, 3, NULL, &err), VIV_EINVAL);
    /* err may be NULL on failure as on success. */
    assert_int_equal(viv_policy_load_toml(f->p, path_in(f, "absent"), NULL), VIV_ENOENT);
    write_policy(f, "fuel_budjet = 1\n");
    assert_int_equal(viv_policy_load_toml(f->p, path_in(f, "policy.toml"), NULL), VIV_EPOLICY);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_every_key_applied),
        T(test_timeout_integer_and_zero),
        T(test_preserve_logs_false),
        T(test_empty_file_changes_nothing),
        T(test_unset_keys_keep_caller_values),
        T(test_env_merges),
        T(test_env_dotted_keys),
        T(test_argv_replaced),
        T(test_mount_syntaxes),
        T(test_mount_host_with_colon),
        T(test_absolute_paths_kept),
        T(test_relative_paths_follow_the_file),
        T(test_string_variant_base_dir),
        T(test_string_variant_uses_len),
        T(test_data_dir_default_guest_path),
        T(test_setter_rejects_value),
        T(test_partial_file_not_applied),
        T(test_unknown_key),
        T(test_nested_tables_rejected),
        T(test_wrong_types),
        T(test_malformed_toml),
        T(test_missing_file),
        T(test_file_too_large),
        T(test_validation_after_merge),
        T(test_null_arguments),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
