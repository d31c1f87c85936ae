/*
 * e2e_confinement.c: what the guest can and cannot reach on the host.
 * Host files outside the mounts (absolute paths, "..", /proc, the root
 * listing); symlinks planted in the workspace by the host or created by the
 * guest that point out of it; the read-only /data and --mount directories
 * (every kind of write is refused and the host files keep content, mode and
 * mtime); the read-write /app workspace and what is left in it; removal of
 * the temporary workspace; the guest's environment.
 *
 * Guest programs report each attempt as NAME:ALLOWED or NAME:denied, so a
 * test sees both that the program reached the end and that nothing got
 * through.
 */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_harness.h"

#define SECRET "canary-3f9a1c-not-for-guests"

/* Defines attempt(name, fn) in the guest. Only OSError counts as refused:
 * a NameError from a broken test program must not pass as confinement. */
#define ATTEMPT_PRELUDE                                                                            \
    "import os\n"                                                                                  \
    "def attempt(name, fn):\n"                                                                     \
    "    try:\n"                                                                                   \
    "        r = fn()\n"                                                                           \
    "        print(name + ':ALLOWED', repr(r)[:80])\n"                                             \
    "    except OSError as e:\n"                                                                   \
    "        print(name + ':denied', e.errno)\n"

static int count_lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    return n;
}

/* Every attempt was made and every one was refused. */
static void expect_all_denied(const e2e_run *r, int attempts)
{
    e2e_expect_exit(r, 0);
    e2e_expect_not_in("guest output", r->out, ":ALLOWED");
    e2e_expect_not_in("guest output", r->out, SECRET);
    if (count_lines_with(r->out, ":denied") != attempts) {
        fail_msg("expected %d refused attempts, got:\n%s\nstderr: %s", attempts, r->out, r->err);
    }
}

static void write_secret(char *path_out, const char *dir)
{
    e2e_path(path_out, dir, "secret.txt");
    e2e_write(path_out, SECRET "\n");
}

/* ---- the host file system ---------------------------------------------- */

static void test_host_files_unreachable(void **state)
{
    const char *tmp = *state;
    char secret[PATH_MAX], ws[PATH_MAX], prog[8192];
    write_secret(secret, tmp);
    e2e_path(ws, tmp, "ws");
    assert_int_equal(mkdir(ws, 0755), 0);
    snprintf(prog, sizeof prog,
             ATTEMPT_PRELUDE "attempt('passwd', lambda: open('/etc/passwd').read())\n"
                             "attempt('secret', lambda: open('%s').read())\n"
                             "attempt('listroot', lambda: os.listdir('/'))\n"
                             "attempt('listetc', lambda: os.listdir('/etc'))\n"
                             "attempt('stat', lambda: os.stat('/etc/passwd'))\n"
                             "attempt('dotdot', lambda: open('/app/../etc/passwd').read())\n"
                             "attempt('dotdot_secret', lambda: open('/app/../secret.txt').read())\n"
                             "attempt('relative', lambda: open('../../../../etc/passwd').read())\n"
                             "attempt('proc', lambda: open('/proc/self/environ').read())\n"
                             "attempt('tmp', lambda: os.listdir('/tmp'))\n"
                             "attempt('mkdir_top', lambda: os.mkdir('/evil'))\n",
             secret);
    e2e_run r;
    E2E_RUN(&r, "run", "--workspace", ws, "-c", prog);
    expect_all_denied(&r, 11);
    e2e_expect_not_in("guest output", r.out, "root:x:0:");
    e2e_run_free(&r);

    /* The spelled-out cases of the issue, as a user would see them. */
    E2E_RUN(&r, "run", "-c", "open(\"/etc/passwd\")");
    e2e_expect_exit(&r, 1);
    e2e_expect_in("stderr", r.err, "Error");
    e2e_run_free(&r);
    E2E_RUN(&r, "run", "-c", "import os; os.listdir(\"/\")");
    e2e_expect_exit(&r, 1);
    e2e_run_free(&r);
}

static void plant_link(const char *target, const char *dir, const char *name)
{
    char link[PATH_MAX];
    e2e_path(link, dir, name);
    if (symlink(target, link) != 0) {
        fail_msg("symlink %s -> %s failed", link, target);
    }
}

/* Links the host left in the workspace must not lead out of it; links that
 * stay inside it keep working. */
static void test_host_symlinks_do_not_escape(void **state)
{
    const char *tmp = *state;
    char secret[PATH_MAX], a[PATH_MAX], ws[PATH_MAX], real[PATH_MAX], sub[PATH_MAX];
    write_secret(secret, tmp);
    e2e_path(a, tmp, "a");
    assert_int_equal(mkdir(a, 0755), 0);
    e2e_path(ws, a, "ws");
    assert_int_equal(mkdir(ws, 0755), 0);
    e2e_path(sub, ws, "sub");
    assert_int_equal(mkdir(sub, 0755), 0);
    e2e_path(real, ws, "real.txt");
    e2e_write(real, "inside\n");

    plant_link(secret, ws, "abs");
    plant_link("../../secret.txt", ws, "rel");
    plant_link("../../../secret.txt", sub, "rel_deeper");
    plant_link(tmp, ws, "absdir");
    plant_link("../..", ws, "reldir");
    plant_link("/etc/passwd", ws, "passwd");
    plant_link("/", ws, "root");
    /* Controls: links that stay inside the workspace. */
    plant_link("real.txt", ws, "inner");
    plant_link("../real.txt", sub, "up");

    e2e_run r;
    E2E_RUN(&r, "run", "--workspace", ws, "-c",
            ATTEMPT_PRELUDE
            "attempt('abs', lambda: open('/app/abs').read())\n"
            "attempt('rel', lambda: open('/app/rel').read())\n"
            "attempt('rel_deeper', lambda: open('/app/sub/rel_deeper').read())\n"
            "attempt('absdir', lambda: open('/app/absdir/secret.txt').read())\n"
            "attempt('absdir_list', lambda: os.listdir('/app/absdir'))\n"
            "attempt('reldir', lambda: open('/app/reldir/secret.txt').read())\n"
            "attempt('passwd', lambda: open('/app/passwd').read())\n"
            "attempt('root', lambda: os.listdir('/app/root'))\n"
            "attempt('write_through', lambda: open('/app/rel', 'w').write('x'))\n"
            "print(open('/app/inner').read() + open('/app/sub/up').read(), end='')\n");
    expect_all_denied(&r, 9);
    e2e_expect_in("guest output", r.out, "inside\ninside\n");
    e2e_run_free(&r);

    size_t len;
    char *s = e2e_slurp(secret, &len);
    assert_non_null(s);
    assert_string_equal(s, SECRET "\n");
    free(s);
}

/* Links the guest makes itself are no way out either. */
static void test_guest_symlinks_do_not_escape(void **state)
{
    const char *tmp = *state;
    char secret[PATH_MAX], a[PATH_MAX], ws[PATH_MAX], prog[PATH_MAX + 2048];
    write_secret(secret, tmp);
    e2e_path(a, tmp, "a");
    assert_int_equal(mkdir(a, 0755), 0);
    e2e_path(ws, a, "ws");
    assert_int_equal(mkdir(ws, 0755), 0);
    snprintf(prog, sizeof prog,
             "import os\n"
             "for name, target in [('l1', '/etc/passwd'), ('l2', '../../secret.txt'),\n"
             "                     ('l3', '%s'), ('l4', '..')]:\n"
             "    try:\n"
             "        os.symlink(target, '/app/' + name)\n"
             "    except OSError:\n"
             "        pass\n" ATTEMPT_PRELUDE "attempt('l1', lambda: open('/app/l1').read())\n"
             "attempt('l2', lambda: open('/app/l2').read())\n"
             "attempt('l3', lambda: open('/app/l3').read())\n"
             "attempt('l4', lambda: open('/app/l4/secret.txt').read())\n"
             "attempt('l4list', lambda: os.listdir('/app/l4/..'))\n",
             secret);
    e2e_run r;
    E2E_RUN(&r, "run", "--workspace", ws, "-c", prog);
    expect_all_denied(&r, 5);
    e2e_run_free(&r);
}

/* No network, no processes: WASI preview 1 has neither, and the host must
 * not lend them. */
static void test_no_network_no_processes(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "-c",
            ATTEMPT_PRELUDE "import socket, subprocess\n"
                            "attempt('socket', lambda: socket.socket().connect(('127.0.0.1', 9)))\n"
                            "attempt('listen', lambda: socket.create_server(('127.0.0.1', 0)))\n"
                            "attempt('subprocess', lambda: subprocess.run(['/bin/true']))\n"
                            "print('fork' if hasattr(os, 'fork') else 'nofork')\n");
    expect_all_denied(&r, 3);
    e2e_expect_in("guest output", r.out, "nofork\n");
    e2e_run_free(&r);
}

/* ---- read-only mounts --------------------------------------------------- */

typedef struct snap {
    char *content;
    struct stat st;
} snap;

static void take_snap(snap *s, const char *path)
{
    s->content = e2e_slurp(path, NULL);
    assert_non_null(s->content);
    assert_int_equal(stat(path, &s->st), 0);
}

static void expect_unchanged(snap *s, const char *path)
{
    struct stat now;
    if (stat(path, &now) != 0) {
        fail_msg("%s is gone", path);
    }
    char *c = e2e_slurp(path, NULL);
    assert_non_null(c);
    if (strcmp(c, s->content) != 0) {
        fail_msg("%s changed: \"%s\" -> \"%s\"", path, s->content, c);
    }
    if (now.st_mtim.tv_sec != s->st.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != s->st.st_mtim.tv_nsec) {
        fail_msg("mtime of %s changed", path);
    }
    assert_int_equal(now.st_mode, s->st.st_mode);
    assert_int_equal(now.st_size, s->st.st_size);
    free(c);
    free(s->content);
    s->content = NULL;
}

/* Every write a program could try against a read-only directory mounted at
 * MOUNT (a string literal). It has a file f.txt and a directory d. */
#define READ_ONLY_ATTACKS(MOUNT)                                                                   \
    ATTEMPT_PRELUDE                                                                                \
    "attempt('write', lambda: open('" MOUNT "/f.txt', 'w').write('pwned'))\n"                      \
    "attempt('append', lambda: open('" MOUNT "/f.txt', 'a').write('pwned'))\n"                     \
    "attempt('rplus', lambda: open('" MOUNT "/f.txt', 'r+').write('pwned'))\n"                     \
    "attempt('osopen', lambda: os.open('" MOUNT "/f.txt', os.O_WRONLY | os.O_TRUNC))\n"            \
    "attempt('truncate', lambda: os.truncate('" MOUNT "/f.txt', 0))\n"                             \
    "attempt('unlink', lambda: os.unlink('" MOUNT "/f.txt'))\n"                                    \
    "attempt('rename', lambda: os.rename('" MOUNT "/f.txt', '" MOUNT "/g.txt'))\n"                 \
    "attempt('rename_out', lambda: os.rename('" MOUNT "/f.txt', '/app/g.txt'))\n"                  \
    "attempt('mkdir', lambda: os.mkdir('" MOUNT "/sub'))\n"                                        \
    "attempt('create', lambda: open('" MOUNT "/new.txt', 'x').close())\n"                          \
    "attempt('create_in_dir', lambda: open('" MOUNT "/d/new.txt', 'w').close())\n"                 \
    "attempt('rmdir', lambda: os.rmdir('" MOUNT "/d'))\n"                                          \
    "attempt('symlink', lambda: os.symlink('f.txt', '" MOUNT "/l'))\n"                             \
    "attempt('link', lambda: os.link('" MOUNT "/f.txt', '" MOUNT "/h'))\n"                         \
    "attempt('utime', lambda: os.utime('" MOUNT "/f.txt', (0, 0)))\n"                              \
    "print('read=' + open('" MOUNT "/f.txt').read())\n"                                            \
    "print('list=' + ','.join(sorted(os.listdir('" MOUNT "'))))\n"
#define READ_ONLY_ATTACK_COUNT 15

static void make_ro_tree(char *dir_out, const char *tmp, const char *name, char *file_out)
{
    char d[PATH_MAX];
    e2e_path(dir_out, tmp, name);
    assert_int_equal(mkdir(dir_out, 0755), 0);
    e2e_path(file_out, dir_out, "f.txt");
    e2e_write(file_out, "original");
    e2e_path(d, dir_out, "d");
    assert_int_equal(mkdir(d, 0755), 0);
}

static void test_data_mount_is_read_only(void **state)
{
    const char *tmp = *state;
    char data[PATH_MAX], file[PATH_MAX], ws[PATH_MAX];
    make_ro_tree(data, tmp, "data", file);
    e2e_path(ws, tmp, "ws");
    assert_int_equal(mkdir(ws, 0755), 0);
    snap s;
    take_snap(&s, file);

    e2e_run r;
    E2E_RUN(&r, "run", "--workspace", ws, "--data", data, "-c", READ_ONLY_ATTACKS("/data"));
    expect_all_denied(&r, READ_ONLY_ATTACK_COUNT);
    e2e_expect_in("guest output", r.out, "read=original\n");
    e2e_expect_in("guest output", r.out, "list=d,f.txt\n");
    e2e_run_free(&r);

    expect_unchanged(&s, file);
    assert_int_equal(e2e_count_entries(data, NULL), 2);
    char d[PATH_MAX];
    e2e_path(d, data, "d");
    assert_int_equal(e2e_count_entries(d, NULL), 0);
    /* Nothing moved across into the workspace either. */
    assert_int_equal(e2e_count_entries(ws, NULL), 0);
}

/* chmod is not part of WASI, so the guest's libc may report success for
 * it; what matters is that the host file is untouched. */
static void test_data_mount_chmod_leaves_host_alone(void **state)
{
    const char *tmp = *state;
    char data[PATH_MAX], file[PATH_MAX];
    make_ro_tree(data, tmp, "data", file);
    snap s;
    take_snap(&s, file);
    e2e_run r;
    E2E_RUN(&r, "run", "--data", data, "-c",
            "import os\n"
            "try:\n"
            "    os.chmod('/data/f.txt', 0o777)\n"
            "except (OSError, NotImplementedError):\n"
            "    pass\n"
            "print('done')\n");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "done\n");
    e2e_run_free(&r);
    expect_unchanged(&s, file);
}

static void test_extra_mount_is_read_only(void **state)
{
    const char *tmp = *state;
    char extra[PATH_MAX], file[PATH_MAX], spec[PATH_MAX + 16];
    make_ro_tree(extra, tmp, "extra", file);
    snap s;
    take_snap(&s, file);
    snprintf(spec, sizeof spec, "%s:/extra", extra);

    e2e_run r;
    E2E_RUN(&r, "run", "--mount", spec, "-c", READ_ONLY_ATTACKS("/extra"));
    expect_all_denied(&r, READ_ONLY_ATTACK_COUNT);
    e2e_expect_in("guest output", r.out, "read=original\n");
    e2e_expect_in("guest output", r.out, "list=d,f.txt\n");
    e2e_run_free(&r);

    expect_unchanged(&s, file);
    assert_int_equal(e2e_count_entries(extra, NULL), 2);
}

/* ---- the workspace ------------------------------------------------------ */

static void test_workspace_writes_land_on_host(void **state)
{
    const char *tmp = *state;
    char ws[PATH_MAX], in[PATH_MAX], p[PATH_MAX];
    e2e_path(ws, tmp, "ws");
    assert_int_equal(mkdir(ws, 0755), 0);
    e2e_path(in, ws, "in.txt");
    e2e_write(in, "given by host");

    e2e_run r;
    E2E_RUN(&r, "run", "--workspace", ws, "-c",
            "import os\n"
            "print(open('/app/in.txt').read())\n"
            "with open('/app/out.txt', 'w') as f:\n"
            "    f.write('written by guest')\n"
            "os.mkdir('/app/sub')\n"
            "with open('/app/sub/nested.txt', 'w') as f:\n"
            "    f.write('nested')\n"
            "os.rename('/app/in.txt', '/app/moved.txt')\n");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "given by host\n");
    e2e_run_free(&r);

    char *c;
    e2e_path(p, ws, "out.txt");
    c = e2e_slurp(p, NULL);
    assert_non_null(c);
    assert_string_equal(c, "written by guest");
    free(c);
    e2e_path(p, ws, "sub/nested.txt");
    c = e2e_slurp(p, NULL);
    assert_non_null(c);
    assert_string_equal(c, "nested");
    free(c);
    e2e_path(p, ws, "moved.txt");
    c = e2e_slurp(p, NULL);
    assert_non_null(c);
    assert_string_equal(c, "given by host");
    free(c);
    assert_int_equal(access(in, F_OK), -1);
}

static void expect_only_made(const char *ws)
{
    char p[PATH_MAX];
    if (e2e_count_entries(ws, NULL) != 1) {
        fail_msg("workspace %s holds %d entries, expected only made.txt", ws,
                 e2e_count_entries(ws, NULL));
    }
    e2e_path(p, ws, "made.txt");
    assert_int_equal(access(p, F_OK), 0);
}

/* However the program is given, it is not copied into the user's
 * workspace, and the guest does not find it there either. */
static void test_program_not_left_in_workspace(void **state)
{
    const char *tmp = *state;
    static const char prog[] = "import os\n"
                               "print(sorted(os.listdir('/app')))\n"
                               "open('/app/made.txt', 'w').write('m')\n";
    char ws[PATH_MAX], file[PATH_MAX];
    e2e_path(file, tmp, "prog.py");
    e2e_write(file, prog);
    e2e_run r;

    e2e_path(ws, tmp, "ws_c");
    assert_int_equal(mkdir(ws, 0755), 0);
    E2E_RUN(&r, "run", "--workspace", ws, "-c", prog);
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "[]\n");
    e2e_run_free(&r);
    expect_only_made(ws);

    e2e_path(ws, tmp, "ws_file");
    assert_int_equal(mkdir(ws, 0755), 0);
    E2E_RUN(&r, "run", "--workspace", ws, file);
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "[]\n");
    e2e_run_free(&r);
    expect_only_made(ws);

    e2e_path(ws, tmp, "ws_stdin");
    assert_int_equal(mkdir(ws, 0755), 0);
    e2e_opts o = {.stdin_data = prog, .stdin_len = sizeof prog - 1};
    e2e_exec(&r, &o, E2E_ARGV("run", "--workspace", ws, "-"));
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "[]\n");
    e2e_run_free(&r);
    expect_only_made(ws);
}

typedef struct watch {
    const char *dir;
    atomic_bool stop;
    atomic_int max_seen;
} watch;

static void *watch_dir(void *arg)
{
    watch *w = arg;
    while (!atomic_load(&w->stop)) {
        int n = e2e_count_entries(w->dir, "vivarium-workspace-");
        if (n > atomic_load(&w->max_seen)) {
            atomic_store(&w->max_seen, n);
        }
        nanosleep(&(struct timespec){.tv_nsec = 5 * 1000 * 1000}, NULL);
    }
    return NULL;
}

/* Without --workspace a fresh directory under $TMPDIR serves as /app and
 * is gone afterwards, also when the run ends in a trap. A private TMPDIR
 * keeps other tests' runs out of the count, and watching it during the run
 * proves the count looks at the right place. */
static void test_temporary_workspace_removed(void **state)
{
    const char *tmp = *state;
    char env_tmp[PATH_MAX + 16];
    snprintf(env_tmp, sizeof env_tmp, "TMPDIR=%s", tmp);
    e2e_opts o = {.env = E2E_ENV(env_tmp)};
    assert_int_equal(e2e_count_entries(tmp, NULL), 0);

    watch w = {.dir = tmp};
    atomic_init(&w.stop, false);
    atomic_init(&w.max_seen, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, watch_dir, &w), 0);
    e2e_run r;
    e2e_exec(&r, &o,
             E2E_ARGV("run", "-c",
                      "import os, time\n"
                      "open('/app/x.txt', 'w').write('x')\n"
                      "os.mkdir('/app/dir')\n"
                      "open('/app/dir/y.txt', 'w').write('y')\n"
                      "print(sorted(os.listdir('/app')))\n"
                      "time.sleep(1)\n"));
    atomic_store(&w.stop, true);
    pthread_join(th, NULL);
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "['dir', 'x.txt']\n");
    e2e_run_free(&r);
    if (atomic_load(&w.max_seen) < 1) {
        fail_msg("no vivarium-workspace-* directory appeared in TMPDIR %s during the run", tmp);
    }
    if (e2e_count_entries(tmp, NULL) != 0) {
        fail_msg("%d entries left in TMPDIR %s after a clean run", e2e_count_entries(tmp, NULL),
                 tmp);
    }

    e2e_exec(&r, &o,
             E2E_ARGV("run", "--fuel", "1500000000", "-c",
                      "open('/app/x.txt', 'w').write('x')\nwhile True: pass\n"));
    e2e_expect_exit(&r, 126);
    e2e_run_free(&r);
    if (e2e_count_entries(tmp, NULL) != 0) {
        fail_msg("entries left in TMPDIR %s after out_of_fuel", tmp);
    }

    e2e_exec(&r, &o,
             E2E_ARGV("run", "--timeout", "0.5", "--fuel", "1000000000000", "-c",
                      "open('/app/x.txt', 'w').write('x')\nwhile True: pass\n"));
    e2e_expect_exit(&r, 124);
    e2e_run_free(&r);
    if (e2e_count_entries(tmp, NULL) != 0) {
        fail_msg("entries left in TMPDIR %s after a timeout", tmp);
    }

    /* The next run starts from an empty /app, not the last one's. */
    e2e_exec(&r, &o, E2E_ARGV("run", "-c", "import os; print(os.listdir('/app'))"));
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "[]\n");
    e2e_run_free(&r);
}

/* Removing the temporary workspace touches nothing else in $TMPDIR: not a
 * neighbour's file, not a directory that merely looks like a workspace,
 * not what a link left behind by the guest would point at. */
static void test_temporary_workspace_cleanup_is_precise(void **state)
{
    const char *tmp = *state;
    char keep[PATH_MAX], decoy[PATH_MAX], decoy_file[PATH_MAX], env_tmp[PATH_MAX + 16];
    e2e_path(keep, tmp, "keep.txt");
    e2e_write(keep, "keep");
    e2e_path(decoy, tmp, "vivarium-workspace-decoy");
    assert_int_equal(mkdir(decoy, 0755), 0);
    e2e_path(decoy_file, decoy, "inside.txt");
    e2e_write(decoy_file, "inside");
    snprintf(env_tmp, sizeof env_tmp, "TMPDIR=%s", tmp);
    e2e_opts o = {.env = E2E_ENV(env_tmp)};

    e2e_run r;
    e2e_exec(&r, &o,
             E2E_ARGV("run", "-c",
                      "import os\n"
                      "for target, name in [('..', 'up'), ('../keep.txt', 'k'),\n"
                      "                     ('../vivarium-workspace-decoy', 'd')]:\n"
                      "    try:\n"
                      "        os.symlink(target, '/app/' + name)\n"
                      "    except OSError:\n"
                      "        pass\n"
                      "open('/app/mine.txt', 'w').write('mine')\n"
                      "print('done')\n"));
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "done\n");
    e2e_run_free(&r);

    assert_int_equal(e2e_count_entries(tmp, NULL), 2);
    char *c = e2e_slurp(keep, NULL);
    assert_non_null(c);
    assert_string_equal(c, "keep");
    free(c);
    c = e2e_slurp(decoy_file, NULL);
    assert_non_null(c);
    assert_string_equal(c, "inside");
    free(c);
}

/* The guest may change what is in /app, never /app itself. */
static void test_workspace_root_survives(void **state)
{
    const char *tmp = *state;
    char ws[PATH_MAX];
    e2e_path(ws, tmp, "ws");
    assert_int_equal(mkdir(ws, 0755), 0);
    e2e_run r;
    E2E_RUN(&r, "run", "--workspace", ws, "-c",
            ATTEMPT_PRELUDE "attempt('rmdir', lambda: os.rmdir('/app'))\n"
                            "attempt('rename', lambda: os.rename('/app', '/app2'))\n"
                            "attempt('rmdir_dot', lambda: os.rmdir('/app/.'))\n");
    expect_all_denied(&r, 3);
    e2e_run_free(&r);
    struct stat st;
    assert_int_equal(stat(ws, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
}

/* A FIFO the host left in the workspace must not let a read block the
 * run past its deadline. */
static void test_workspace_fifo_cannot_hang_run(void **state)
{
    const char *tmp = *state;
    char ws[PATH_MAX], fifo[PATH_MAX];
    e2e_path(ws, tmp, "ws");
    assert_int_equal(mkdir(ws, 0755), 0);
    e2e_path(fifo, ws, "fifo");
    assert_int_equal(mkfifo(fifo, 0644), 0);
    e2e_run r;
    E2E_RUN(&r, "run", "--workspace", ws, "--timeout", "1", "-c",
            "try:\n"
            "    print(open('/app/fifo').read())\n"
            "except OSError:\n"
            "    print('refused')\n");
    assert_true(r.exit_code == 0 || r.exit_code == 124);
    assert_true(r.elapsed_s < 3.0);
    if (r.exit_code == 0) {
        assert_string_equal(r.out, "refused\n");
    }
    e2e_run_free(&r);
}

/* ---- environment -------------------------------------------------------- */

static const char *const canary_env[] = {
    "VIV_CANARY_SECRET=xyz-" SECRET,
    "HOME=/root/" SECRET,
    "USER=" SECRET,
    NULL,
};

static void test_env_only_policy_and_given(void **state)
{
    (void)state;
    e2e_opts o = {.env = canary_env};
    e2e_run r;
    e2e_exec(&r, &o,
             E2E_ARGV("run", "--env", "A=1", "-c",
                      "import os; print(sorted(os.environ)); print(os.environ['A'])"));
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out,
                        "['A', 'LC_ALL', 'PYTHONHASHSEED', 'PYTHONIOENCODING', 'PYTHONUTF8', "
                        "'TMPDIR']\n"
                        "1\n");
    e2e_run_free(&r);

    e2e_exec(&r, &o,
             E2E_ARGV("run", "--json", "-c",
                      "import os\n"
                      "for k in sorted(os.environ): print(k + '=' + os.environ[k])\n"));
    e2e_expect_exit(&r, 0);
    json_t *j = e2e_json(&r);
    assert_string_equal(e2e_jstr(j, "stdout"), "LC_ALL=C.UTF-8\n"
                                               "PYTHONHASHSEED=0\n"
                                               "PYTHONIOENCODING=utf-8\n"
                                               "PYTHONUTF8=1\n"
                                               "TMPDIR=/app\n");
    e2e_expect_not_in("CLI output", r.out, SECRET);
    e2e_expect_not_in("CLI output", r.out, "VIV_CANARY");
    e2e_run_free(&r);
}

/* The host environment is not reachable by other routes either. */
static void test_env_canary_not_reachable(void **state)
{
    (void)state;
    e2e_opts o = {.env = canary_env};
    e2e_run r;
    e2e_exec(&r, &o,
             E2E_ARGV("run", "--env", "B=two", "-c",
                      "import os, sys\n"
                      "print(os.environ.get('VIV_CANARY_SECRET'))\n"
                      "print(os.getenv('HOME'), os.getenv('USER'))\n"
                      "print(os.path.expanduser('~'))\n"
                      "try:\n"
                      "    print(open('/proc/self/environ', 'rb').read())\n"
                      "except OSError:\n"
                      "    print('no proc')\n"
                      "print(os.environ['B'])\n"
                      "print(dict(os.environ))\n"));
    e2e_expect_exit(&r, 0);
    e2e_expect_not_in("stdout", r.out, SECRET);
    e2e_expect_not_in("stderr", r.err, SECRET);
    e2e_expect_in("stdout", r.out, "None\nNone None\n");
    e2e_expect_in("stdout", r.out, "no proc\ntwo\n");
    e2e_run_free(&r);
}

/* set_env replaces: the last --env for a key wins, and a value may hold
 * '=' and spaces. */
static void test_env_values(void **state)
{
    (void)state;
    e2e_run r;
    E2E_RUN(&r, "run", "--env", "A=1", "--env", "A=2", "--env", "EQ=x=y z", "-c",
            "import os; print(os.environ['A'], repr(os.environ['EQ']))");
    e2e_expect_exit(&r, 0);
    assert_string_equal(r.out, "2 'x=y z'\n");
    e2e_run_free(&r);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, e2e_setup_tmp, e2e_teardown_tmp)
    const struct CMUnitTest tests[] = {
        T(test_host_files_unreachable),
        T(test_host_symlinks_do_not_escape),
        T(test_guest_symlinks_do_not_escape),
        T(test_no_network_no_processes),
        T(test_data_mount_is_read_only),
        T(test_data_mount_chmod_leaves_host_alone),
        T(test_extra_mount_is_read_only),
        T(test_workspace_writes_land_on_host),
        T(test_program_not_left_in_workspace),
        T(test_temporary_workspace_removed),
        T(test_temporary_workspace_cleanup_is_precise),
        T(test_workspace_root_survives),
        T(test_workspace_fifo_cannot_hang_run),
        T(test_env_only_policy_and_given),
        T(test_env_canary_not_reachable),
        T(test_env_values),
    };
#undef T
    return cmocka_run_group_tests_name("e2e_confinement", tests, NULL, NULL);
}
