/*
 * tests/unit/sandbox/test_jail.c: the jail of src/sandbox/jail.c.
 *
 * Every check runs in its own forked child: the child opens a few
 * descriptors, applies the jail, does one thing and reports through a pipe.
 * A seccomp kill is then observable as WIFSIGNALED with SIGSYS, and no check
 * can disturb another or the runner. The parent only reads the report and
 * the wait status.
 *
 * The bodies use the *at() system calls, as the WASI layer does: the
 * allow-list has no unlink, mkdir, rename, access... of the older kind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmocka.h>

#include "jail.h"
#include "store.h" /* VIV_MEMORY_RESERVATION, VIV_MEMORY_GUARD */

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define FSIZE_LIMIT   ((uint64_t)1 << 20)
#define CPU_LIMIT     60u
#define STRAY_FD      200 /* opened before the jail, not kept: must be closed */
#define KEPT_FD       300 /* opened before the jail, kept across a gap */
#define CHILD_WAIT_MS 30000

/* --- the scratch tree -------------------------------------------------------- */

static struct {
    char root[64];       /* /tmp/viv-jail-XXXXXX: neither rw nor ro */
    char rw[96], ro[96]; /* root/rw (read-write), root/ro (read-only) */
    char ro_file[128];   /* root/ro/data.txt */
    char outside[128];   /* root/outside.txt */
    int landlock_abi;
    bool have_hostname;
} fx;

static const char ro_text[] = "read-only data\n";

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(fx.root, sizeof fx.root, "/tmp/viv-jail-XXXXXX");
    if (mkdtemp(fx.root) == NULL) {
        return -1;
    }
    snprintf(fx.rw, sizeof fx.rw, "%s/rw", fx.root);
    snprintf(fx.ro, sizeof fx.ro, "%s/ro", fx.root);
    snprintf(fx.ro_file, sizeof fx.ro_file, "%s/data.txt", fx.ro);
    snprintf(fx.outside, sizeof fx.outside, "%s/outside.txt", fx.root);
    if (mkdir(fx.rw, 0755) != 0 || mkdir(fx.ro, 0755) != 0) {
        return -1;
    }
    write_file(fx.ro_file, ro_text);
    write_file(fx.outside, "outside\n");
    fx.landlock_abi = viv_jail_landlock_abi();
    fx.have_hostname = access("/etc/hostname", F_OK) == 0;
    if (fx.landlock_abi == 0) {
        fprintf(stderr, "note: this kernel has no Landlock; its checks are skipped\n");
    }
    if (UNDER_ASAN) {
        fprintf(stderr, "note: AddressSanitizer build: the jail also lets the sanitizer read "
                        "/proc/self and call sched_getaffinity (see jail.c)\n");
    }
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

static int group_teardown(void **state)
{
    (void)state;
    nftw(fx.root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* --- the child side ------------------------------------------------------------ */

typedef struct child_ctx {
    int report;   /* pipe to the parent */
    int status;   /* /proc/self/status, opened before the jail, read after */
    int rootdir;  /* the scratch root, opened before the jail and kept */
    pid_t parent; /* getppid() is not on the allow-list: asked before the jail */
    uint64_t as_bytes;
    viv_jail_report rep;
} child_ctx;

typedef void (*body_fn)(child_ctx *c);
typedef void (*tweak_fn)(viv_jail_config *cfg);

static __attribute__((format(printf, 2, 3))) void say(child_ctx *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 1) {
        n = (int)sizeof buf - 1;
    }
    if (n > 0 && write(c->report, buf, (size_t)n) < 0) {
        _exit(4);
    }
}

#define CHECK(c, cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            int e_ = errno;                                                                        \
            say(c, "FAIL line %d: %s (errno %d: %s)\n", __LINE__, #cond, e_, strerror(e_));        \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)

/* What a forbidden call must never get to print. */
#define SURVIVED(c, what) say(c, "survived %s\n", what)

static __attribute__((noreturn)) void child_main(int report, body_fn body, tweak_fn tweak)
{
    child_ctx c = {.report = report, .parent = getppid()};
    c.status = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    c.rootdir = open(fx.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (c.status < 0 || c.rootdir < 0 || null < 0 || dup2(null, STRAY_FD) != STRAY_FD ||
        dup2(null, KEPT_FD) != KEPT_FD) {
        say(&c, "SETUP %s\n", strerror(errno));
        _exit(3);
    }
    close(null);
    if (viv_jail_as_budget(VIV_JAIL_AS_ENGINE_RUN, &c.as_bytes) != 0) {
        say(&c, "SETUP as budget\n");
        _exit(3);
    }
    int keep[] = {0, 1, 2, c.report, c.status, c.rootdir, KEPT_FD};
    const char *rw[] = {fx.rw};
    const char *ro[] = {fx.ro};
    viv_jail_config cfg = {
        .keep_fds = keep,
        .nkeep_fds = sizeof keep / sizeof keep[0],
        .rw_dirs = rw,
        .nrw_dirs = 1,
        .ro_dirs = ro,
        .nro_dirs = 1,
        .as_bytes = c.as_bytes,
        .cpu_seconds = CPU_LIMIT,
        .fsize_bytes = FSIZE_LIMIT,
        .nofile = 0,
        .require_kernel_isolation = fx.landlock_abi > 0,
    };
    if (tweak != NULL) {
        tweak(&cfg);
    }
    char err[512];
    int r = viv_jail_apply(&cfg, &c.rep, err, sizeof err);
    if (r != 0) {
        say(&c, "JAIL %d %s\n", r, err);
        _exit(2);
    }
    body(&c);
    say(&c, "OK\n");
    _exit(0);
}

/* --- the parent side ------------------------------------------------------------ */

typedef struct outcome {
    int wstatus;
    char text[4096];
} outcome;

static void run_child(body_fn body, tweak_fn tweak, outcome *out)
{
    memset(out, 0, sizeof *out);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_main(p[1], body, tweak);
    }
    close(p[1]);
    size_t len = 0;
    for (;;) {
        struct pollfd pfd = {p[0], POLLIN, 0};
        int n = poll(&pfd, 1, CHILD_WAIT_MS);
        if (n == 0) {
            kill(pid, SIGKILL);
            snprintf(out->text + len, sizeof out->text - len, "[timed out]");
            break;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ssize_t got = read(p[0], out->text + len, sizeof out->text - 1 - len);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            break;
        }
        len += (size_t)got;
        if (len == sizeof out->text - 1) {
            break;
        }
    }
    close(p[0]);
    while (waitpid(pid, &out->wstatus, 0) < 0 && errno == EINTR) {
    }
}

static void describe(const outcome *o, char *buf, size_t n)
{
    if (WIFSIGNALED(o->wstatus)) {
        snprintf(buf, n, "killed by signal %d (%s); report: %s", WTERMSIG(o->wstatus),
                 strsignal(WTERMSIG(o->wstatus)), o->text);
    } else {
        snprintf(buf, n, "exit status %d; report: %s",
                 WIFEXITED(o->wstatus) ? WEXITSTATUS(o->wstatus) : -1, o->text);
    }
}

enum expect { EXPECT_OK, EXPECT_SIGSYS, EXPECT_SIGABRT };

static void expect_outcome(body_fn body, enum expect want)
{
    outcome o;
    run_child(body, NULL, &o);
    char what[4400];
    describe(&o, what, sizeof what);
    if (strncmp(o.text, "SKIP", 4) == 0) {
        print_message("skipped: %s", o.text);
        skip();
    }
    switch (want) {
    case EXPECT_OK:
        if (!WIFEXITED(o.wstatus) || WEXITSTATUS(o.wstatus) != 0 ||
            strstr(o.text, "OK\n") == NULL) {
            fail_msg("expected a clean run: %s", what);
        }
        break;
    case EXPECT_SIGSYS:
        if (!WIFSIGNALED(o.wstatus) || WTERMSIG(o.wstatus) != SIGSYS ||
            strstr(o.text, "survived") != NULL) {
            fail_msg("expected death by SIGSYS: %s", what);
        }
        break;
    case EXPECT_SIGABRT:
        if (!WIFSIGNALED(o.wstatus) || WTERMSIG(o.wstatus) != SIGABRT) {
            fail_msg("expected death by SIGABRT: %s", what);
        }
        break;
    }
}

/* --- what is in force ------------------------------------------------------------ */

static void body_status(child_ctx *c)
{
    /* Opened before the jail (Landlock denies /proc afterwards); procfs
     * renders the file when it is first read, i.e. now. */
    char buf[8192];
    ssize_t n = read(c->status, buf, sizeof buf - 1);
    CHECK(c, n > 0);
    buf[n] = '\0';
    CHECK(c, strstr(buf, "Seccomp:\t2\n") != NULL);
    CHECK(c, strstr(buf, "NoNewPrivs:\t1\n") != NULL);
}

static void body_report(child_ctx *c)
{
    CHECK(c, c->rep.fds_closed);
    CHECK(c, c->rep.no_new_privs);
    CHECK(c, c->rep.rlimits);
    CHECK(c, c->rep.as_limited);
    CHECK(c, c->rep.seccomp_applied);
    CHECK(c, c->rep.landlock_abi == fx.landlock_abi);
    CHECK(c, c->rep.landlock_applied == (fx.landlock_abi > 0));
    CHECK(c, c->rep.landlock_net == (fx.landlock_abi >= 4));
    CHECK(c, c->rep.landlock_scoped == (fx.landlock_abi >= 6));
}

static void body_fds(child_ctx *c)
{
    /* Exactly the kept descriptors are open. */
    for (int fd = 0; fd < (int)VIV_JAIL_DEFAULT_NOFILE; fd++) {
        bool kept =
            fd <= 2 || fd == c->report || fd == c->status || fd == c->rootdir || fd == KEPT_FD;
        errno = 0;
        int r = fcntl(fd, F_GETFD);
        if (kept) {
            CHECK(c, r >= 0);
        } else if (r >= 0 || errno != EBADF) {
            say(c, "FAIL descriptor %d is still open\n", fd);
            _exit(1);
        }
    }
    CHECK(c, fcntl(STRAY_FD, F_GETFD) == -1 && errno == EBADF);
}

static void body_rlimits(child_ctx *c)
{
    struct rlimit rl;
    CHECK(c, getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_cur == 0 && rl.rlim_max == 0);
    CHECK(c, getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur == 0 && rl.rlim_max == 0);
    CHECK(c, getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == VIV_JAIL_DEFAULT_NOFILE &&
                 rl.rlim_max == VIV_JAIL_DEFAULT_NOFILE);
    CHECK(c, getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur == FSIZE_LIMIT &&
                 rl.rlim_max == FSIZE_LIMIT);
    CHECK(c, getrlimit(RLIMIT_CPU, &rl) == 0 && rl.rlim_cur == CPU_LIMIT &&
                 rl.rlim_max == CPU_LIMIT + 1);
    CHECK(c, getrlimit(RLIMIT_AS, &rl) == 0);
    CHECK(c, rl.rlim_cur == c->as_bytes && rl.rlim_max == c->as_bytes);
    /* The budget covers one engine run on top of what the process has. */
    CHECK(c, c->as_bytes > VIV_JAIL_AS_ENGINE_RUN);
}

/* Past RLIMIT_FSIZE a write fails with EFBIG; the process lives on. */
static void body_fsize(child_ctx *c)
{
    char path[160];
    snprintf(path, sizeof path, "%s/big.bin", fx.rw);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(c, fd >= 0);
    static char chunk[64 * 1024];
    memset(chunk, 'x', sizeof chunk);
    uint64_t total = 0;
    ssize_t n;
    while ((n = write(fd, chunk, sizeof chunk)) > 0) {
        total += (uint64_t)n;
        CHECK(c, total <= FSIZE_LIMIT);
    }
    CHECK(c, n < 0 && errno == EFBIG);
    CHECK(c, total == FSIZE_LIMIT);
    close(fd);
    CHECK(c, unlinkat(AT_FDCWD, path, 0) == 0);
}

/* --- Landlock -------------------------------------------------------------------- */

static void need_landlock(child_ctx *c)
{
    if (!c->rep.landlock_applied) {
        say(c, "SKIP the kernel has no Landlock\n");
        _exit(0);
    }
}

static void body_host_denied(child_ctx *c)
{
    need_landlock(c);
    CHECK(c, open("/etc/passwd", O_RDONLY | O_CLOEXEC) == -1 && errno == EACCES);
    if (fx.have_hostname) {
        CHECK(c, open("/etc/hostname", O_RDONLY | O_CLOEXEC) == -1 && errno == EACCES);
    }
    CHECK(c, open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC) == -1 && errno == EACCES);
    CHECK(c, open("/tmp/viv-jail-escape", O_WRONLY | O_CREAT | O_CLOEXEC, 0644) == -1 &&
                 errno == EACCES);
    CHECK(c, open(fx.outside, O_RDONLY | O_CLOEXEC) == -1 && errno == EACCES);
    /* /proc: nothing of other processes; of our own, only in sanitizer
     * builds (see jail.c). */
    CHECK(c, open("/proc/1/status", O_RDONLY | O_CLOEXEC) == -1 && errno == EACCES);
    int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    CHECK(c, UNDER_ASAN ? maps >= 0 : (maps == -1 && errno == EACCES));
    /* The jail also binds descriptors opened before it (the WASI preopens
     * are): the scratch root is kept open, yet nothing beneath it outside
     * rw/ and ro/ can be opened through it. */
    CHECK(c, openat(c->rootdir, "outside.txt", O_RDONLY | O_CLOEXEC) == -1 && errno == EACCES);
    CHECK(c, openat(c->rootdir, "new.txt", O_WRONLY | O_CREAT | O_CLOEXEC, 0644) == -1 &&
                 errno == EACCES);
    CHECK(c, mkdirat(c->rootdir, "newdir", 0755) == -1 && errno == EACCES);
    int fd = openat(c->rootdir, "ro/data.txt", O_RDONLY | O_CLOEXEC);
    CHECK(c, fd >= 0);
    close(fd);
    /* A symlink in the writable tree does not lead out of it... */
    char link[160];
    snprintf(link, sizeof link, "%s/to-outside", fx.rw);
    CHECK(c, symlinkat(fx.outside, AT_FDCWD, link) == 0);
    CHECK(c, open(link, O_RDONLY | O_CLOEXEC) == -1 && errno == EACCES);
    CHECK(c, unlinkat(AT_FDCWD, link, 0) == 0);
    /* ...and a host file reached with O_PATH (which Landlock does not
     * check) cannot be hard-linked into it: root could otherwise link
     * anything on the same filesystem (REFER, or no cross-directory links
     * at all before ABI 2). */
    int opath = open(fx.outside, O_PATH | O_CLOEXEC);
    CHECK(c, opath >= 0);
    char stolen[160];
    snprintf(stolen, sizeof stolen, "%s/stolen", fx.rw);
    CHECK(c, linkat(opath, "", AT_FDCWD, stolen, AT_EMPTY_PATH) == -1 &&
                 (errno == EXDEV || errno == EACCES));
    CHECK(c, linkat(AT_FDCWD, fx.outside, AT_FDCWD, stolen, 0) == -1 &&
                 (errno == EXDEV || errno == EACCES));
    close(opath);
}

static void body_rw_dir(child_ctx *c)
{
    need_landlock(c);
    char f[160], sub[160], moved[160], link[160];
    snprintf(f, sizeof f, "%s/f.txt", fx.rw);
    snprintf(sub, sizeof sub, "%s/sub", fx.rw);
    snprintf(moved, sizeof moved, "%s/sub/g.txt", fx.rw);
    snprintf(link, sizeof link, "%s/l", fx.rw);
    int fd = open(f, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    CHECK(c, fd >= 0);
    CHECK(c, write(fd, "hello", 5) == 5);
    CHECK(c, lseek(fd, 0, SEEK_SET) == 0);
    char buf[8] = "";
    CHECK(c, read(fd, buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK(c, ftruncate(fd, 2) == 0);
    close(fd);
    CHECK(c, mkdirat(AT_FDCWD, sub, 0755) == 0);
    CHECK(c, renameat(AT_FDCWD, f, AT_FDCWD, moved) == 0); /* across directories: REFER */
    CHECK(c, symlinkat("sub/g.txt", AT_FDCWD, link) == 0);
    char target[64];
    ssize_t n = readlinkat(AT_FDCWD, link, target, sizeof target);
    CHECK(c, n == 9 && memcmp(target, "sub/g.txt", 9) == 0);
    fd = open(link, O_RDONLY | O_CLOEXEC);
    CHECK(c, fd >= 0 && read(fd, buf, sizeof buf) == 2);
    close(fd);
    DIR *d = opendir(fx.rw);
    CHECK(c, d != NULL);
    int entries = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        entries++;
    }
    closedir(d);
    CHECK(c, entries == 4); /* ., .., sub, l */
    CHECK(c, unlinkat(AT_FDCWD, link, 0) == 0);
    CHECK(c, unlinkat(AT_FDCWD, moved, 0) == 0);
    CHECK(c, unlinkat(AT_FDCWD, sub, AT_REMOVEDIR) == 0);
}

static void body_ro_dir(child_ctx *c)
{
    need_landlock(c);
    int fd = open(fx.ro_file, O_RDONLY | O_CLOEXEC);
    CHECK(c, fd >= 0);
    char buf[64] = "";
    CHECK(c, read(fd, buf, sizeof buf) == (ssize_t)strlen(ro_text));
    CHECK(c, strcmp(buf, ro_text) == 0);
    close(fd);
    DIR *d = opendir(fx.ro);
    CHECK(c, d != NULL);
    closedir(d);
    CHECK(c, open(fx.ro_file, O_WRONLY | O_CLOEXEC) == -1 && errno == EACCES);
    CHECK(c, open(fx.ro_file, O_RDWR | O_CLOEXEC) == -1 && errno == EACCES);
    char path[160];
    snprintf(path, sizeof path, "%s/new.txt", fx.ro);
    CHECK(c, open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) == -1 && errno == EACCES);
    snprintf(path, sizeof path, "%s/dir", fx.ro);
    CHECK(c, mkdirat(AT_FDCWD, path, 0755) == -1 && errno == EACCES);
    CHECK(c, unlinkat(AT_FDCWD, fx.ro_file, 0) == -1 && errno == EACCES);
    /* Nor can a read-only file be moved out into the writable tree. */
    snprintf(path, sizeof path, "%s/stolen.txt", fx.rw);
    CHECK(c, renameat(AT_FDCWD, fx.ro_file, AT_FDCWD, path) == -1 &&
                 (errno == EACCES || errno == EXDEV));
}

/* --- allowed, with care ------------------------------------------------------------ */

static void body_isatty(child_ctx *c)
{
    /* stdio's TCGETS probe is answered "not a terminal" by the filter. */
    struct termios_like {
        char bytes[64];
    } t;
    errno = 0;
    CHECK(c, ioctl(0, TCGETS, &t) == -1 && errno == ENOTTY);
    CHECK(c, isatty(1) == 0);
    printf("stdio still works\n");
    fflush(stdout);
}

static void body_signal_self(child_ctx *c)
{
    CHECK(c, kill(getpid(), 0) == 0);
    CHECK(c, raise(0) == 0);
    CHECK(c, syscall(SYS_tgkill, getpid(), gettid(), 0) == 0);
}

static void body_abort(child_ctx *c)
{
    say(c, "aborting\n");
    abort();
}

/* What the engine does in the child after the jail, in small. */
static volatile sig_atomic_t alarm_hits, alarm_on_altstack;
static char *altstack_lo;
static size_t altstack_len;
static sigjmp_buf trap_jmp;
static ucontext_t host_ctx, co_ctx;
static volatile int co_ran;

static void on_alarm(int sig)
{
    (void)sig;
    char probe;
    alarm_hits++;
    if (&probe >= altstack_lo && &probe < altstack_lo + altstack_len) {
        alarm_on_altstack = 1;
    }
}

static void on_segv(int sig, siginfo_t *si, void *uctx)
{
    (void)sig, (void)si, (void)uctx;
    siglongjmp(trap_jmp, 1);
}

static void coroutine(void) { co_ran = 1; }

static void body_smoke(child_ctx *c)
{
    /* malloc: brk, mmap, munmap, mremap. */
    size_t big = (size_t)100 << 20;
    char *m = malloc(big);
    CHECK(c, m != NULL);
    memset(m, 0xa5, big);
    CHECK(c, m[big - 1] == (char)0xa5);
    free(m);
    char *r = NULL;
    for (size_t n = 1; n <= ((size_t)64 << 20); n *= 2) {
        char *g = realloc(r, n);
        CHECK(c, g != NULL);
        r = g;
        r[n - 1] = 1;
    }
    free(r);

    /* A linear-memory reservation and the guest stack, as the engine maps
     * them, within RLIMIT_AS. */
    uint8_t *base = mmap(NULL, VIV_JAIL_AS_PER_MEMORY, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(c, base != MAP_FAILED);
    CHECK(c, mprotect(base, (size_t)1 << 20, PROT_READ | PROT_WRITE) == 0);
    base[0] = 1;
    base[((size_t)1 << 20) - 1] = 2;
    uint8_t *stack = mmap(NULL, VIV_JAIL_AS_GUEST_STACK, PROT_NONE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(c, stack != MAP_FAILED);
    size_t guard = (size_t)16 << 20;
    CHECK(c, mprotect(stack + guard, VIV_JAIL_AS_GUEST_STACK - guard, PROT_READ | PROT_WRITE) == 0);

    /* The fault handler on its alternate stack turns a fault in the
     * reservation into a trap (siglongjmp). */
    altstack_len = 64 * 1024;
    altstack_lo =
        mmap(NULL, altstack_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(c, altstack_lo != MAP_FAILED);
    stack_t ss = {.ss_sp = altstack_lo, .ss_size = altstack_len, .ss_flags = 0};
    CHECK(c, sigaltstack(&ss, NULL) == 0);
    struct sigaction sa = {0};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    CHECK(c, sigaction(SIGSEGV, &sa, NULL) == 0);
    if (sigsetjmp(trap_jmp, 1) == 0) {
        volatile uint8_t *p = base + ((size_t)2 << 20);
        *p = 1;
        CHECK(c, !"the reservation did not fault");
    }

    /* The deadline timer: SIGALRM on CLOCK_MONOTONIC, every 2 ms, handled
     * on the alternate stack, interrupting (and restarting) a sleep. */
    struct sigaction al = {0};
    al.sa_handler = on_alarm;
    al.sa_flags = SA_ONSTACK | SA_RESTART;
    sigemptyset(&al.sa_mask);
    CHECK(c, sigaction(SIGALRM, &al, NULL) == 0);
    struct sigevent sev = {0};
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGALRM;
    timer_t t;
    CHECK(c, timer_create(CLOCK_MONOTONIC, &sev, &t) == 0);
    struct itimerspec its = {.it_value = {0, 5 * 1000 * 1000}, .it_interval = {0, 2 * 1000 * 1000}};
    CHECK(c, timer_settime(t, 0, &its, NULL) == 0);
    struct timespec nap = {0, 30 * 1000 * 1000};
    while (nanosleep(&nap, &nap) != 0 && errno == EINTR) {
    }
    for (int i = 0; i < 2000 && alarm_hits < 3; i++) {
        struct timespec ms = {0, 1000 * 1000};
        clock_nanosleep(CLOCK_MONOTONIC, 0, &ms, NULL);
    }
    CHECK(c, timer_delete(t) == 0);
    CHECK(c, alarm_hits >= 3);
    CHECK(c, alarm_on_altstack);

    /* The guest runs on its own stack through swapcontext. */
    CHECK(c, getcontext(&co_ctx) == 0);
    co_ctx.uc_stack.ss_sp = stack + guard;
    co_ctx.uc_stack.ss_size = VIV_JAIL_AS_GUEST_STACK - guard;
    co_ctx.uc_link = &host_ctx;
    makecontext(&co_ctx, coroutine, 0);
    CHECK(c, swapcontext(&host_ctx, &co_ctx) == 0);
    CHECK(c, co_ran);

    /* The WASI layer's odds and ends. */
    uint8_t rnd[64];
    CHECK(c, getrandom(rnd, sizeof rnd, 0) == (ssize_t)sizeof rnd);
    struct timespec ts;
    CHECK(c, clock_gettime(CLOCK_REALTIME, &ts) == 0 && clock_getres(CLOCK_MONOTONIC, &ts) == 0);
    CHECK(c, sched_yield() == 0);
    CHECK(c, poll(NULL, 0, 1) == 0);
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    CHECK(c, pthread_sigmask(SIG_BLOCK, &pipe_set, &old) == 0);
    CHECK(c, sigpending(&pending) == 0);
    struct timespec zero = {0, 0};
    CHECK(c, sigtimedwait(&pipe_set, NULL, &zero) == -1 && errno == EAGAIN);
    CHECK(c, pthread_sigmask(SIG_SETMASK, &old, NULL) == 0);
    char line[64];
    snprintf(line, sizeof line, "%.3f %s", 3.25, strerror(ENOENT));
    CHECK(c, strcmp(line, "3.250 No such file or directory") == 0);

    CHECK(c, munmap(base, VIV_JAIL_AS_PER_MEMORY) == 0);
    CHECK(c, munmap(stack, VIV_JAIL_AS_GUEST_STACK) == 0);
}

/* --- forbidden: each must kill the process with SIGSYS ------------------------------- */

static void body_execve(child_ctx *c)
{
    char *argv[] = {"/bin/true", NULL};
    char *envp[] = {NULL};
    execve("/bin/true", argv, envp);
    SURVIVED(c, "execve");
}

static void body_execveat(child_ctx *c)
{
    syscall(SYS_execveat, AT_FDCWD, "/bin/true", NULL, NULL, 0);
    SURVIVED(c, "execveat");
}

static void body_fork(child_ctx *c)
{
    pid_t p = fork();
    if (p == 0) {
        _exit(0);
    }
    SURVIVED(c, "fork");
}

static void body_clone3(child_ctx *c)
{
    syscall(SYS_clone3, NULL, 0);
    SURVIVED(c, "clone3");
}

static void body_socket_inet(child_ctx *c)
{
    socket(AF_INET, SOCK_STREAM, 0);
    SURVIVED(c, "socket(AF_INET)");
}

static void body_socket_unix(child_ctx *c)
{
    socket(AF_UNIX, SOCK_STREAM, 0);
    SURVIVED(c, "socket(AF_UNIX)");
}

static void body_connect(child_ctx *c)
{
    connect(-1, NULL, 0);
    SURVIVED(c, "connect");
}

static void body_mmap_exec(child_ctx *c)
{
    mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    SURVIVED(c, "mmap(PROT_EXEC)");
}

static void body_mprotect_exec(child_ctx *c)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(c, p != MAP_FAILED);
    mprotect(p, 4096, PROT_READ | PROT_EXEC);
    SURVIVED(c, "mprotect(PROT_EXEC)");
}

static void body_pkey_mprotect(child_ctx *c)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(c, p != MAP_FAILED);
    syscall(SYS_pkey_mprotect, p, 4096, PROT_READ | PROT_EXEC, -1);
    SURVIVED(c, "pkey_mprotect");
}

static void body_mmap_locked(child_ctx *c)
{
    mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
    SURVIVED(c, "mmap(MAP_LOCKED)");
}

static void body_memfd(child_ctx *c)
{
    syscall(SYS_memfd_create, "x", 0);
    SURVIVED(c, "memfd_create");
}

static void body_madvise_other(child_ctx *c)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(c, p != MAP_FAILED);
    madvise(p, 4096, MADV_MERGEABLE);
    SURVIVED(c, "madvise(MADV_MERGEABLE)");
}

static void body_ptrace(child_ctx *c)
{
    ptrace(PTRACE_TRACEME, 0, NULL, NULL);
    SURVIVED(c, "ptrace");
}

static void body_kill_parent(child_ctx *c)
{
    kill(c->parent, 0);
    SURVIVED(c, "kill(parent, 0)");
}

static void body_kill_group(child_ctx *c)
{
    kill(0, 0);
    SURVIVED(c, "kill(0, 0)");
}

static void body_tgkill_parent(child_ctx *c)
{
    syscall(SYS_tgkill, c->parent, c->parent, 0);
    SURVIVED(c, "tgkill(parent)");
}

static void body_setrlimit(child_ctx *c)
{
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
    SURVIVED(c, "setrlimit");
}

static void body_prlimit_other(child_ctx *c)
{
    struct rlimit rl;
    prlimit(c->parent, RLIMIT_CORE, NULL, &rl);
    SURVIVED(c, "prlimit(parent)");
}

static void body_prctl(child_ctx *c)
{
    prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    SURVIVED(c, "prctl");
}

static void body_ioctl_other(child_ctx *c)
{
    int n;
    ioctl(0, FIONREAD, &n);
    SURVIVED(c, "ioctl(FIONREAD)");
}

static void body_fcntl_setown(child_ctx *c)
{
    fcntl(c->report, F_SETOWN, getpid());
    SURVIVED(c, "fcntl(F_SETOWN)");
}

static void body_timer_other_clock(child_ctx *c)
{
    struct sigevent sev = {0};
    sev.sigev_notify = SIGEV_NONE;
    timer_t t;
    timer_create(CLOCK_BOOTTIME_ALARM, &sev, &t);
    SURVIVED(c, "timer_create(CLOCK_BOOTTIME_ALARM)");
}

static void body_open_legacy(child_ctx *c)
{
    syscall(SYS_open, "/dev/null", O_RDONLY);
    SURVIVED(c, "open");
}

static void body_mknod(child_ctx *c)
{
    char path[160];
    snprintf(path, sizeof path, "%s/fifo", fx.rw);
    mknodat(AT_FDCWD, path, S_IFIFO | 0600, 0);
    SURVIVED(c, "mknodat");
}

static void body_chdir(child_ctx *c)
{
    chdir("/");
    SURVIVED(c, "chdir");
}

/* Each of these fails harmlessly on its arguments if the filter let it
 * through, so a regression shows up as "survived", not as damage. */
static void body_mount(child_ctx *c)
{
    syscall(SYS_mount, NULL, NULL, NULL, 0, NULL);
    SURVIVED(c, "mount");
}

static void body_umount(child_ctx *c)
{
    syscall(SYS_umount2, "/nonexistent-viv", 0);
    SURVIVED(c, "umount2");
}

static void body_unshare(child_ctx *c)
{
    syscall(SYS_unshare, 0);
    SURVIVED(c, "unshare");
}

static void body_setns(child_ctx *c)
{
    syscall(SYS_setns, -1, 0);
    SURVIVED(c, "setns");
}

static void body_chroot(child_ctx *c)
{
    syscall(SYS_chroot, "/nonexistent-viv");
    SURVIVED(c, "chroot");
}

static void body_pivot_root(child_ctx *c)
{
    syscall(SYS_pivot_root, "/nonexistent-viv", "/nonexistent-viv");
    SURVIVED(c, "pivot_root");
}

static void body_bpf(child_ctx *c)
{
    syscall(SYS_bpf, -1, NULL, 0);
    SURVIVED(c, "bpf");
}

static void body_perf(child_ctx *c)
{
    syscall(SYS_perf_event_open, NULL, -1, -1, -1, 0);
    SURVIVED(c, "perf_event_open");
}

static void body_userfaultfd(child_ctx *c)
{
    syscall(SYS_userfaultfd, -1);
    SURVIVED(c, "userfaultfd");
}

static void body_io_uring(child_ctx *c)
{
    syscall(SYS_io_uring_setup, 0, NULL);
    SURVIVED(c, "io_uring_setup");
}

static void body_keyctl(child_ctx *c)
{
    syscall(SYS_keyctl, -1, 0, 0, 0, 0);
    SURVIVED(c, "keyctl");
}

static void body_personality(child_ctx *c)
{
    syscall(SYS_personality, 0xffffffffUL); /* a query */
    SURVIVED(c, "personality");
}

static void body_init_module(child_ctx *c)
{
    syscall(SYS_init_module, NULL, 0, "");
    SURVIVED(c, "init_module");
}

static void body_reboot(child_ctx *c)
{
    syscall(SYS_reboot, 0, 0, 0, NULL); /* bad magic */
    SURVIVED(c, "reboot");
}

static void body_swapon(child_ctx *c)
{
    syscall(SYS_swapon, NULL, 0);
    SURVIVED(c, "swapon");
}

static void body_open_by_handle(child_ctx *c)
{
    syscall(SYS_open_by_handle_at, -1, NULL, 0);
    SURVIVED(c, "open_by_handle_at");
}

static void body_sched_getaffinity(child_ctx *c)
{
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    SURVIVED(c, "sched_getaffinity");
}

static void body_process_vm(child_ctx *c)
{
    syscall(SYS_process_vm_readv, c->parent, NULL, 0, NULL, 0, 0);
    SURVIVED(c, "process_vm_readv");
}

/* --- refusals -------------------------------------------------------------------------- */

static void body_unreachable(child_ctx *c) { say(c, "the jail should have refused\n"); }

static void tweak_missing_rw(viv_jail_config *cfg)
{
    static const char *rw[] = {"/nonexistent-viv/rw"};
    cfg->rw_dirs = rw;
}

static void tweak_file_as_ro(viv_jail_config *cfg)
{
    static const char *ro[1];
    ro[0] = fx.ro_file;
    cfg->ro_dirs = ro;
}

static void tweak_bad_fd(viv_jail_config *cfg)
{
    static const int keep[] = {0, 1, 2, -1};
    cfg->keep_fds = keep;
    cfg->nkeep_fds = 4;
}

static void expect_refusal(tweak_fn tweak, int err, const char *step, const char *detail)
{
    outcome o;
    run_child(body_unreachable, tweak, &o);
    char what[4400];
    describe(&o, what, sizeof what);
    char want[32];
    snprintf(want, sizeof want, "JAIL %d ", -err);
    if (!WIFEXITED(o.wstatus) || WEXITSTATUS(o.wstatus) != 2 || strstr(o.text, want) == NULL ||
        strstr(o.text, step) == NULL || (detail != NULL && strstr(o.text, detail) == NULL)) {
        fail_msg("expected a refusal (%s, step %s): %s", strerror(err), step, what);
    }
}

static void test_refuses_missing_dir(void **state)
{
    (void)state;
    if (fx.landlock_abi == 0) {
        skip();
    }
    expect_refusal(tweak_missing_rw, ENOENT, "4 (landlock)", "/nonexistent-viv/rw");
}

static void test_refuses_file_as_dir(void **state)
{
    (void)state;
    if (fx.landlock_abi == 0) {
        skip();
    }
    expect_refusal(tweak_file_as_ro, ENOTDIR, "4 (landlock)", "data.txt");
}

static void test_refuses_bad_fd(void **state)
{
    (void)state;
    expect_refusal(tweak_bad_fd, EINVAL, "1 (close descriptors)", "keep_fds[3] is -1");
}

/* --- sizes and probes ------------------------------------------------------------------ */

static void test_sizes_match_engine(void **state)
{
    (void)state;
    /* If the engine's reservation changes, the jail's budget must follow. */
    assert_int_equal(VIV_JAIL_AS_PER_MEMORY, VIV_MEMORY_RESERVATION + VIV_MEMORY_GUARD);
    uint64_t as = 0;
    assert_int_equal(viv_jail_as_budget(VIV_JAIL_AS_ENGINE_RUN, &as), 0);
    assert_true(as > VIV_JAIL_AS_ENGINE_RUN);
    assert_true(fx.landlock_abi >= 0);
}

/* --- the table ---------------------------------------------------------------------------- */

typedef struct jail_case {
    const char *name;
    body_fn body;
    enum expect want;
} jail_case;

static const jail_case cases[] = {
    {"status_seccomp_nnp", body_status, EXPECT_OK},
    {"report", body_report, EXPECT_OK},
    {"fds_closed_except_kept", body_fds, EXPECT_OK},
    {"rlimits", body_rlimits, EXPECT_OK},
    {"fsize_efbig", body_fsize, EXPECT_OK},
    {"landlock_host_denied", body_host_denied, EXPECT_OK},
    {"landlock_rw_dir", body_rw_dir, EXPECT_OK},
    {"landlock_ro_dir", body_ro_dir, EXPECT_OK},
    {"ioctl_tcgets_enotty", body_isatty, EXPECT_OK},
    {"signal_self", body_signal_self, EXPECT_OK},
    {"abort_is_sigabrt", body_abort, EXPECT_SIGABRT},
    {"smoke_engine_pattern", body_smoke, EXPECT_OK},
    {"kill_execve", body_execve, EXPECT_SIGSYS},
    {"kill_execveat", body_execveat, EXPECT_SIGSYS},
    {"kill_fork", body_fork, EXPECT_SIGSYS},
    {"kill_clone3", body_clone3, EXPECT_SIGSYS},
    {"kill_socket_inet", body_socket_inet, EXPECT_SIGSYS},
    {"kill_socket_unix", body_socket_unix, EXPECT_SIGSYS},
    {"kill_connect", body_connect, EXPECT_SIGSYS},
    {"kill_mmap_exec", body_mmap_exec, EXPECT_SIGSYS},
    {"kill_mprotect_exec", body_mprotect_exec, EXPECT_SIGSYS},
    {"kill_pkey_mprotect", body_pkey_mprotect, EXPECT_SIGSYS},
    {"kill_mmap_locked", body_mmap_locked, EXPECT_SIGSYS},
    {"kill_memfd_create", body_memfd, EXPECT_SIGSYS},
    {"kill_madvise_mergeable", body_madvise_other, EXPECT_SIGSYS},
    {"kill_ptrace", body_ptrace, EXPECT_SIGSYS},
    {"kill_kill_parent", body_kill_parent, EXPECT_SIGSYS},
    {"kill_kill_group", body_kill_group, EXPECT_SIGSYS},
    {"kill_tgkill_parent", body_tgkill_parent, EXPECT_SIGSYS},
    {"kill_setrlimit", body_setrlimit, EXPECT_SIGSYS},
    {"kill_prlimit_other", body_prlimit_other, EXPECT_SIGSYS},
    {"kill_prctl", body_prctl, EXPECT_SIGSYS},
    {"kill_ioctl_fionread", body_ioctl_other, EXPECT_SIGSYS},
    {"kill_fcntl_setown", body_fcntl_setown, EXPECT_SIGSYS},
    {"kill_timer_alarm_clock", body_timer_other_clock, EXPECT_SIGSYS},
    {"kill_open_legacy", body_open_legacy, EXPECT_SIGSYS},
    {"kill_mknodat", body_mknod, EXPECT_SIGSYS},
    {"kill_chdir", body_chdir, EXPECT_SIGSYS},
    {"kill_mount", body_mount, EXPECT_SIGSYS},
    {"kill_umount2", body_umount, EXPECT_SIGSYS},
    {"kill_unshare", body_unshare, EXPECT_SIGSYS},
    {"kill_setns", body_setns, EXPECT_SIGSYS},
    {"kill_chroot", body_chroot, EXPECT_SIGSYS},
    {"kill_pivot_root", body_pivot_root, EXPECT_SIGSYS},
    {"kill_bpf", body_bpf, EXPECT_SIGSYS},
    {"kill_perf_event_open", body_perf, EXPECT_SIGSYS},
    {"kill_userfaultfd", body_userfaultfd, EXPECT_SIGSYS},
    {"kill_io_uring_setup", body_io_uring, EXPECT_SIGSYS},
    {"kill_keyctl", body_keyctl, EXPECT_SIGSYS},
    {"kill_personality", body_personality, EXPECT_SIGSYS},
    {"kill_init_module", body_init_module, EXPECT_SIGSYS},
    {"kill_reboot", body_reboot, EXPECT_SIGSYS},
    {"kill_swapon", body_swapon, EXPECT_SIGSYS},
    {"kill_open_by_handle_at", body_open_by_handle, EXPECT_SIGSYS},
    {"kill_process_vm_readv", body_process_vm, EXPECT_SIGSYS},
    /* Allowed for AddressSanitizer only (see jail.c). */
    {"kill_sched_getaffinity", body_sched_getaffinity, UNDER_ASAN ? EXPECT_OK : EXPECT_SIGSYS},
};
#define NCASES (sizeof cases / sizeof cases[0])

static void run_case(void **state)
{
    const jail_case *tc = *state;
    expect_outcome(tc->body, tc->want);
}

int main(void)
{
    static struct CMUnitTest tests[NCASES + 4];
    size_t n = 0;
    for (size_t i = 0; i < NCASES; i++) {
        tests[n++] = (struct CMUnitTest){
            .name = cases[i].name, .test_func = run_case, .initial_state = (void *)&cases[i]};
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_refuses_missing_dir);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_refuses_file_as_dir);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_refuses_bad_fd);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_sizes_match_engine);
    return _cmocka_run_group_tests("sandbox_jail", tests, n, group_setup, group_teardown);
}
