/*
 * src/sandbox/jail.c: the second wall (see jail.h), in the style of
 * bubblewrap: one function, a fixed order, every step checked, and a refusal
 * that names the step and the errno when a required step fails.
 *
 * Why this order:
 *   1. descriptors first, so nothing below can be reached through a handle
 *      we forgot about, and the later steps' own descriptors are the only
 *      new ones;
 *   2. no_new_privs before Landlock and seccomp, which require it for an
 *      unprivileged caller, and because it makes every later restriction
 *      survive any execve (which seccomp then forbids anyway);
 *   3. rlimits while setrlimit is still allowed (seccomp forbids raising or
 *      setting them afterwards: as root, a process could otherwise raise its
 *      own hard limits back);
 *   4. Landlock before seccomp, because building a ruleset needs syscalls
 *      (open O_PATH, landlock_*) that the allow-list does not contain;
 *   5. seccomp last: after it, only the listed system calls exist.
 *
 * Everything Linux-specific stays in this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <seccomp.h>

#include "jail.h"

/* AddressSanitizer builds only: its longjmp interceptor, on a jump out of a
 * handler running on the alternate signal stack (the engine's trap path),
 * looks up the thread's stack with pthread_getattr_np, which reads
 * /proc/self/maps and calls sched_getaffinity. Those builds get both; a
 * production build gets neither. */
#if defined(__SANITIZE_ADDRESS__)
#define JAIL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JAIL_ASAN 1
#endif
#endif
#ifndef JAIL_ASAN
#define JAIL_ASAN 0
#endif

/* --- errors ------------------------------------------------------------------ */

static __attribute__((format(printf, 5, 6))) int refuse(char *err, size_t errlen, int e,
                                                        const char *step, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        char what[384];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        snprintf(err, errlen, "jail: %s: %s: %s (errno %d)", step, what, strerror(e), e);
    }
    return -e;
}

/* --- 1. descriptors ---------------------------------------------------------- */

/* Close [lo, hi]. close_range is one system call whatever the table size; the
 * loop is for kernels older than 5.9 and stops at the highest descriptor
 * number the process can have. */
static int close_gap(unsigned lo, unsigned hi)
{
    if (close_range(lo, hi, 0) == 0) {
        return 0;
    }
    if (errno != ENOSYS) {
        return -1;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return -1;
    }
    rlim_t top = rl.rlim_max == RLIM_INFINITY ? (rlim_t)1 << 20 : rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > top) {
        top = rl.rlim_cur;
    }
    for (rlim_t fd = lo; fd <= hi && fd < top; fd++) {
        close((int)fd);
    }
    return 0;
}

/* The guest must not inherit anything of the host's: a stray descriptor (a
 * socket, a file opened by the embedding program, the parent's end of a
 * pipe) is a way out that neither Landlock nor seccomp sees, because both
 * check only new opens and new system calls. */
static int close_fds(const viv_jail_config *cfg, char *err, size_t errlen)
{
    const char *step = "1 (close descriptors)";
    if (cfg->nkeep_fds > VIV_JAIL_MAX_KEEP_FDS) {
        return refuse(err, errlen, E2BIG, step, "%zu descriptors to keep, at most %u",
                      cfg->nkeep_fds, VIV_JAIL_MAX_KEEP_FDS);
    }
    if (cfg->nkeep_fds > 0 && cfg->keep_fds == NULL) {
        return refuse(err, errlen, EINVAL, step, "keep_fds is NULL");
    }
    int keep[VIV_JAIL_MAX_KEEP_FDS];
    size_t n = 0;
    for (size_t i = 0; i < cfg->nkeep_fds; i++) {
        int fd = cfg->keep_fds[i];
        if (fd < 0) {
            return refuse(err, errlen, EINVAL, step, "keep_fds[%zu] is %d", i, fd);
        }
        /* Insertion sort without duplicates: the list is short. */
        size_t j = n;
        while (j > 0 && keep[j - 1] > fd) {
            j--;
        }
        if (j > 0 && keep[j - 1] == fd) {
            continue;
        }
        memmove(&keep[j + 1], &keep[j], (n - j) * sizeof keep[0]);
        keep[j] = fd;
        n++;
    }
    unsigned lo = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned k = (unsigned)keep[i];
        if (k > lo && close_gap(lo, k - 1) != 0) {
            return refuse(err, errlen, errno, step, "closing %u..%u", lo, k - 1);
        }
        lo = k + 1;
    }
    if (close_gap(lo, ~0u) != 0) {
        return refuse(err, errlen, errno, step, "closing %u and above", lo);
    }
    return 0;
}

/* --- 2. no new privileges ------------------------------------------------------ */

/* No execve can ever grant privileges again (setuid bits, file
 * capabilities), and it is the precondition for an unprivileged process to
 * install Landlock rulesets and seccomp filters. */
static int no_new_privs(char *err, size_t errlen)
{
    const char *step = "2 (no_new_privs)";
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        return refuse(err, errlen, errno, step, "PR_SET_NO_NEW_PRIVS");
    }
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
        return refuse(err, errlen, EPERM, step, "PR_GET_NO_NEW_PRIVS does not report it set");
    }
    return 0;
}

/* --- 3. rlimits ----------------------------------------------------------------- */

/* Soft and hard limit both, so the process cannot raise the soft one back.
 * Only ever lowers: a value above the current hard limit is clamped to it
 * (the result is stricter than asked, and an unprivileged caller could not
 * raise it anyway). */
static int set_limit(int resource, const char *name, rlim_t soft, rlim_t hard, char *err,
                     size_t errlen)
{
    const char *step = "3 (rlimits)";
    struct rlimit cur;
    if (getrlimit(resource, &cur) != 0) {
        return refuse(err, errlen, errno, step, "reading %s", name);
    }
    /* RLIM_INFINITY is the largest rlim_t, so plain comparisons do. */
    if (hard > cur.rlim_max) {
        hard = cur.rlim_max;
    }
    if (soft > hard) {
        soft = hard;
    }
    struct rlimit rl = {soft, hard};
    if (setrlimit(resource, &rl) != 0) {
        return refuse(err, errlen, errno, step, "setting %s to %llu/%llu", name,
                      (unsigned long long)soft, (unsigned long long)hard);
    }
    return 0;
}

static rlim_t as_rlim(uint64_t v)
{
    return v >= (uint64_t)RLIM_INFINITY ? RLIM_INFINITY : (rlim_t)v;
}

static int set_limits(const viv_jail_config *cfg, viv_jail_report *rep, char *err, size_t errlen)
{
    int r;
    /* Address space: the engine reserves its 8 GiB per memory up front, so
     * the limit is "what the process has now plus what one run maps"; a host
     * bug that leaks or loops on allocation dies at that line instead of
     * taking the machine's memory. */
    if (cfg->as_bytes != 0) {
        rlim_t as = as_rlim(cfg->as_bytes);
        if ((r = set_limit(RLIMIT_AS, "RLIMIT_AS", as, as, err, errlen)) != 0) {
            return r;
        }
        rep->as_limited = true;
    }
    /* CPU: a backstop if both the engine's timer and the parent's kill are
     * somehow defeated. SIGXCPU at the soft limit, SIGKILL one second on. */
    if (cfg->cpu_seconds != 0) {
        rlim_t cpu = as_rlim(cfg->cpu_seconds);
        rlim_t cpu_hard = cpu == RLIM_INFINITY ? cpu : cpu + 1;
        if ((r = set_limit(RLIMIT_CPU, "RLIMIT_CPU", cpu, cpu_hard, err, errlen)) != 0) {
            return r;
        }
    }
    /* No core files: a crash must not write the guest's memory (or ours)
     * anywhere on the host. */
    if ((r = set_limit(RLIMIT_CORE, "RLIMIT_CORE", 0, 0, err, errlen)) != 0) {
        return r;
    }
    /* File size: a guest filling its workspace is refused at this size.
     * SIGXFSZ is ignored so that the write fails with EFBIG (which the guest
     * sees as an error it can handle) instead of killing the process. */
    uint64_t fsize = cfg->fsize_bytes ? cfg->fsize_bytes : VIV_JAIL_DEFAULT_FSIZE;
    if ((r = set_limit(RLIMIT_FSIZE, "RLIMIT_FSIZE", as_rlim(fsize), as_rlim(fsize), err,
                       errlen)) != 0) {
        return r;
    }
    struct sigaction ign = {0};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    if (sigaction(SIGXFSZ, &ign, NULL) != 0) {
        return refuse(err, errlen, errno, "3 (rlimits)", "ignoring SIGXFSZ");
    }
    /* No new processes. Root ignores RLIMIT_NPROC, so the real guard is the
     * seccomp filter (no fork, vfork, clone or clone3); this covers the
     * unprivileged case and costs nothing. */
    if ((r = set_limit(RLIMIT_NPROC, "RLIMIT_NPROC", 0, 0, err, errlen)) != 0) {
        return r;
    }
    /* Descriptors: WASI caps the guest at 1024 fds; a little above that for
     * the kept ones and the transient handles of path resolution. */
    rlim_t nofile = as_rlim(cfg->nofile ? cfg->nofile : VIV_JAIL_DEFAULT_NOFILE);
    if ((r = set_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", nofile, nofile, err, errlen)) != 0) {
        return r;
    }
    rep->rlimits = true;
    return 0;
}

/* --- 4. Landlock ---------------------------------------------------------------- */

/* Our installed <linux/landlock.h> may predate the kernel: name what later
 * ABIs added ourselves, and use our own copy of the ruleset attribute (the
 * kernel takes its size as an argument, so older kernels get the prefix they
 * know). */
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0) /* ABI 4 */
#endif
#ifndef LANDLOCK_ACCESS_NET_CONNECT_TCP
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1) /* ABI 6 */
#endif

struct jail_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net; /* ABI 4 */
    uint64_t scoped;             /* ABI 6 */
};

#define FS_ABI1                                                                                    \
    (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |   \
     LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |                                 \
     LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | \
     LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |   \
     LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM)

/* Read-write directories: what the WASI layer does to files (read, write,
 * create, remove, rename across directories, truncate, symlinks). Not
 * EXECUTE, MAKE_CHAR/BLOCK/SOCK/FIFO or IOCTL_DEV: nothing here needs them. */
#define RW_ACCESS                                                                                  \
    (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_WRITE_FILE |  \
     LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |                              \
     LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SYM |     \
     LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE)
/* Read-only directories: read files and list directories. */
#define RO_ACCESS (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

static long ll_abi_raw(void)
{
    return syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
}

int viv_jail_landlock_abi(void)
{
    long v = ll_abi_raw();
    return v > 0 ? (int)v : 0;
}

static int ll_add_dir(int ruleset, const char *path, uint64_t access, const char *kind, char *err,
                      size_t errlen)
{
    const char *step = "4 (landlock)";
    if (path == NULL) {
        return refuse(err, errlen, EINVAL, step, "a %s directory is NULL", kind);
    }
    /* O_PATH: the rule needs a handle on the directory, not the right to
     * read it. */
    int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return refuse(err, errlen, errno, step, "opening %s directory %s", kind, path);
    }
    struct landlock_path_beneath_attr pb = {.allowed_access = access, .parent_fd = fd};
    long r = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
    int e = errno;
    close(fd);
    if (r != 0) {
        return refuse(err, errlen, e, step, "adding a rule for %s directory %s", kind, path);
    }
    return 0;
}

/* Confine the filesystem to the given directories. Landlock checks every
 * new open, also relative to descriptors opened before (the WASI preopens),
 * and it binds root too: capabilities do not bypass it. Network (ABI 4):
 * TCP bind and connect are handled with no rule, so denied. Scopes (ABI 6):
 * no connecting to abstract unix sockets or signalling processes outside
 * the domain (the parent, other executions). */
static int apply_landlock(const viv_jail_config *cfg, viv_jail_report *rep, char *err,
                          size_t errlen)
{
    const char *step = "4 (landlock)";
    long abi = ll_abi_raw();
    if (abi < 1) {
        int e = abi < 0 ? errno : ENOTSUP;
        if (cfg->require_kernel_isolation) {
            return refuse(err, errlen, e, step, "this kernel has no usable Landlock");
        }
        return 0; /* tolerated: the report says landlock_applied = false */
    }
    struct jail_ruleset_attr attr = {.handled_access_fs = FS_ABI1};
    size_t attr_size = sizeof attr.handled_access_fs;
    if (abi >= 2) {
        attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
    }
    if (abi >= 3) {
        attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
    }
    if (abi >= 4) {
        attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
        attr_size = offsetof(struct jail_ruleset_attr, scoped);
    }
    if (abi >= 5) {
        attr.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    }
    if (abi >= 6) {
        attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
        attr_size = sizeof attr;
    }
    /* ABI 7 adds only audit-logging flags for restrict_self; the defaults
     * (log denials of this process) are what we want. */
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
    if (ruleset < 0) {
        return refuse(err, errlen, errno, step, "creating a ruleset (ABI %ld)", abi);
    }
    int r = 0;
    if (cfg->nrw_dirs > 0 && cfg->rw_dirs == NULL) {
        r = refuse(err, errlen, EINVAL, step, "rw_dirs is NULL");
    }
    if (r == 0 && cfg->nro_dirs > 0 && cfg->ro_dirs == NULL) {
        r = refuse(err, errlen, EINVAL, step, "ro_dirs is NULL");
    }
    for (size_t i = 0; r == 0 && i < cfg->nrw_dirs; i++) {
        r = ll_add_dir(ruleset, cfg->rw_dirs[i], RW_ACCESS & attr.handled_access_fs, "read-write",
                       err, errlen);
    }
    for (size_t i = 0; r == 0 && i < cfg->nro_dirs; i++) {
        r = ll_add_dir(ruleset, cfg->ro_dirs[i], RO_ACCESS & attr.handled_access_fs, "read-only",
                       err, errlen);
    }
    if (r == 0 && JAIL_ASAN) {
        r = ll_add_dir(ruleset, "/proc/self", RO_ACCESS & attr.handled_access_fs,
                       "sanitizer read-only", err, errlen);
    }
    if (r == 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
        r = refuse(err, errlen, errno, step, "landlock_restrict_self");
    }
    close(ruleset);
    if (r != 0) {
        return r;
    }
    rep->landlock_applied = true;
    rep->landlock_abi = (int)abi;
    rep->landlock_net = abi >= 4;
    rep->landlock_scoped = abi >= 6;
    return 0;
}

/* --- 5. seccomp ----------------------------------------------------------------- */

/* System calls allowed whatever their arguments, each with who needs it.
 * Everything not here or in the conditional rules of build_filter() kills
 * the process. */
/* clang-format off */
#define SC(name) {SCMP_SYS(name), #name}
static const struct {
    int nr;
    const char *name;
} allowed[] = {
    SC(read),            /* fd_read (readv mostly), pipes */
    SC(write),           /* captured stdout/stderr to the parent's pipes */
    SC(readv),           /* fd_read */
    SC(writev),          /* fd_write */
    SC(pread64),         /* glibc pread; posix_fallocate's fallback */
    SC(pwrite64),        /* idem */
    SC(preadv),          /* fd_pread */
    SC(pwritev),         /* fd_pwrite */
    SC(lseek),           /* fd_seek, fd_tell, fd_readdir cookies */
    SC(close),           /* fd_close, path resolution's transient handles */
    SC(openat),          /* path walking with O_PATH beneath a preopen (Landlock confines) */
    SC(openat2),         /* path_open with RESOLVE_BENEATH (Landlock confines) */
    SC(newfstatat),      /* fstat/fstatat: filestat_get, path resolution */
    SC(fstat),           /* older glibc fstat */
    SC(statx),           /* glibc may stat through statx */
    SC(fstatfs),         /* glibc posix_fallocate's fallback */
    SC(getdents64),      /* fd_readdir */
    SC(readlinkat),      /* path_readlink, symlink resolution */
    SC(mkdirat),         /* path_create_directory */
    SC(unlinkat),        /* path_unlink_file, path_remove_directory */
    SC(renameat),        /* path_rename */
    SC(renameat2),       /* glibc renameat on some builds */
    SC(symlinkat),       /* path_symlink */
    SC(linkat),          /* path_link */
    SC(utimensat),       /* fd/path_filestat_set_times (futimens too) */
    SC(ftruncate),       /* fd_filestat_set_size */
    SC(fallocate),       /* fd_allocate */
    SC(fadvise64),       /* fd_advise */
    SC(fsync),           /* fd_sync */
    SC(fdatasync),       /* fd_datasync */
    SC(getrandom),       /* random_get */
    SC(clock_gettime),   /* clock_time_get (vDSO fallback) */
    SC(clock_getres),    /* clock_res_get */
    SC(gettimeofday),    /* vDSO fallback */
    SC(clock_nanosleep), /* poll_oneoff clock subscriptions */
    SC(nanosleep),       /* glibc sleeps */
    SC(sched_yield),     /* sched_yield */
    SC(poll),            /* poll_oneoff on fds */
    SC(ppoll),           /* idem, newer glibc */
    SC(rt_sigaction),    /* engine: SIGSEGV/SIGBUS/SIGALRM handlers, restore */
    SC(rt_sigprocmask),  /* sigsetjmp/siglongjmp, swapcontext, SIGPIPE-safe write */
    SC(rt_sigreturn),    /* returning from any handler */
    SC(rt_sigpending),   /* SIGPIPE-safe write */
    SC(rt_sigtimedwait), /* SIGPIPE-safe write: swallow our own SIGPIPE */
    SC(sigaltstack),     /* engine: fault handler on its own stack */
    SC(restart_syscall), /* a sleep interrupted by SIGALRM (SA_RESTART) resumes */
    SC(timer_settime),   /* engine: arm the deadline (timer_create is filtered) */
    SC(timer_delete),    /* engine: disarm it */
    SC(brk),             /* malloc */
    SC(munmap),          /* malloc, engine: free memory, stack, signal stack */
    SC(mremap),          /* realloc of large blocks */
    SC(futex),           /* glibc's internal locks */
    SC(getpid),          /* raise()/abort() (tgkill is filtered to ourselves) */
    SC(gettid),          /* idem */
    SC(getrlimit),       /* reading our own limits only */
    SC(exit),            /* thread exit (glibc's _exit fallback) */
    SC(exit_group),      /* _exit */
};
/* clang-format on */
#undef SC

/* The madvise advice glibc's malloc (DONTNEED, FREE, HUGEPAGE) and the
 * sanitizers (NOHUGEPAGE, DONTDUMP) use, plus the harmless hints. Not the
 * rest: as root, MADV_HWPOISON and MADV_SOFT_OFFLINE act on physical memory,
 * and MERGEABLE, PAGEOUT, REMOVE and friends have no business here. */
static const int allowed_madvise[] = {
    MADV_NORMAL, MADV_RANDOM,   MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED,
    MADV_FREE,   MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP,
};

/* fcntl: only the flag get/set the WASI layer uses (F_GETFL/F_SETFL) and
 * descriptor flags. Not F_SETOWN/F_SETSIG (signals to other processes),
 * locks, leases, notifications, pipe sizes or seals. */
static const int allowed_fcntl[] = {F_GETFD, F_SETFD, F_GETFL, F_SETFL};

/* Spelled out rather than with SCMP_An(), whose compound literals leave
 * datum_b implicit (clang's -Wmissing-field-initializers). For MASKED_EQ,
 * a is the mask and b the value; for EQ, a is the value. */
static struct scmp_arg_cmp arg_is(unsigned arg, enum scmp_compare op, scmp_datum_t a,
                                  scmp_datum_t b)
{
    return (struct scmp_arg_cmp){.arg = arg, .op = op, .datum_a = a, .datum_b = b};
}

static int sc_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const char *name, unsigned nargs,
                   const struct scmp_arg_cmp *args, char *err, size_t errlen)
{
    int rc = seccomp_rule_add_array(ctx, action, nr, nargs, args);
    if (rc < 0) {
        return refuse(err, errlen, -rc, "5 (seccomp)", "adding the rule for %s", name);
    }
    return 0;
}

static int build_filter(scmp_filter_ctx ctx, bool allow_recvmsg, char *err, size_t errlen)
{
    int r;
    if (allow_recvmsg && (r = sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(recvmsg), "recvmsg (live)", 0,
                                      NULL, err, errlen)) != 0) {
        return r;
    }
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        if ((r = sc_rule(ctx, SCMP_ACT_ALLOW, allowed[i].nr, allowed[i].name, 0, NULL, err,
                         errlen)) != 0) {
            return r;
        }
    }
    /* No executable memory: the guest's code was compiled ahead of time and
     * loaded before the jail, so a request for PROT_EXEC can only come from
     * an exploit trying to run code of its own. MAP_LOCKED and MAP_HUGETLB
     * would let root pin memory past any rlimit. */
    struct scmp_arg_cmp mmap_args[] = {
        arg_is(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),
        arg_is(3, SCMP_CMP_MASKED_EQ, MAP_LOCKED | MAP_HUGETLB, 0),
    };
    if ((r = sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), "mmap without PROT_EXEC", 2, mmap_args,
                     err, errlen)) != 0) {
        return r;
    }
    struct scmp_arg_cmp mprotect_args[] = {arg_is(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)};
    if ((r = sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), "mprotect without PROT_EXEC", 1,
                     mprotect_args, err, errlen)) != 0) {
        return r;
    }
    for (size_t i = 0; i < sizeof allowed_madvise / sizeof allowed_madvise[0]; i++) {
        struct scmp_arg_cmp a[] = {arg_is(2, SCMP_CMP_EQ, (scmp_datum_t)allowed_madvise[i], 0)};
        if ((r = sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(madvise), "madvise", 1, a, err, errlen)) !=
            0) {
            return r;
        }
    }
    for (size_t i = 0; i < sizeof allowed_fcntl / sizeof allowed_fcntl[0]; i++) {
        struct scmp_arg_cmp a[] = {arg_is(1, SCMP_CMP_EQ, (scmp_datum_t)allowed_fcntl[i], 0)};
        if ((r = sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), "fcntl", 1, a, err, errlen)) != 0) {
            return r;
        }
    }
    /* Signals to this process only (abort() uses tgkill on itself); never to
     * the parent, the process group or anyone else. */
    scmp_datum_t self = (scmp_datum_t)getpid();
    struct scmp_arg_cmp self_args[] = {arg_is(0, SCMP_CMP_EQ, self, 0)};
    if ((r = sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), "kill (self)", 1, self_args, err,
                     errlen)) != 0 ||
        (r = sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), "tgkill (self)", 1, self_args, err,
                     errlen)) != 0) {
        return r;
    }
    /* getrlimit is prlimit64(0, res, NULL, old) in glibc: reading our own
     * limits is fine, setting any limit (or anyone else's) is not. */
    struct scmp_arg_cmp prlimit_args[] = {arg_is(0, SCMP_CMP_EQ, 0, 0),
                                          arg_is(2, SCMP_CMP_EQ, 0, 0)};
    if ((r = sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), "prlimit64 (read own)", 2,
                     prlimit_args, err, errlen)) != 0) {
        return r;
    }
    /* The deadline timer runs on CLOCK_MONOTONIC; REALTIME is harmless. Not
     * the *_ALARM clocks, which wake a suspended machine. */
    static const int clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME};
    for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        struct scmp_arg_cmp a[] = {arg_is(0, SCMP_CMP_EQ, (scmp_datum_t)clocks[i], 0)};
        if ((r = sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(timer_create), "timer_create", 1, a, err,
                         errlen)) != 0) {
            return r;
        }
    }
    if (JAIL_ASAN && (r = sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sched_getaffinity),
                                  "sched_getaffinity (sanitizer)", 0, NULL, err, errlen)) != 0) {
        return r;
    }
    /* stdio asks whether a character device (our /dev/null stdio) is a
     * terminal with TCGETS. Answer "not a terminal" without reaching the
     * kernel; every other ioctl kills (TIOCSTI and friends). */
    struct scmp_arg_cmp tcgets[] = {arg_is(1, SCMP_CMP_EQ, TCGETS, 0)};
    return sc_rule(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), "ioctl (TCGETS)", 1, tcgets, err,
                   errlen);
}

/* The allow-list. The default action kills the whole process: a system call
 * nobody listed is either an exploit or a code path we did not audit, and in
 * both cases the parent should see a dead child (SIGSYS, reported as a host
 * error) rather than have the process carry on past an EPERM it may not
 * check. */
static int apply_seccomp(const viv_jail_config *cfg, viv_jail_report *rep, char *err, size_t errlen)
{
    const char *step = "5 (seccomp)";
    /* EINVAL: built without CONFIG_SECCOMP. */
    if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL) {
        if (cfg->require_kernel_isolation) {
            return refuse(err, errlen, ENOSYS, step, "this kernel has no seccomp");
        }
        return 0; /* tolerated: the report says seccomp_applied = false */
    }
    /* API level 3 brings SCMP_ACT_KILL_PROCESS (Linux 4.14); before that,
     * killing the (only) thread kills the process just the same. */
    uint32_t kill_action = seccomp_api_get() >= 3 ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_KILL;
    scmp_filter_ctx ctx = seccomp_init(kill_action);
    if (ctx == NULL) {
        return refuse(err, errlen, ENOMEM, step, "seccomp_init");
    }
    int r = 0, rc;
    /* Foreign-architecture entry points (int 0x80, x32) get the same
     * treatment as unlisted calls. Raw return codes make the message below
     * carry the kernel's errno. TSYNC: every thread gets the filter, or the
     * load fails. */
    if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, kill_action)) < 0 ||
        (rc = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1)) < 0 ||
        (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0) {
        r = refuse(err, errlen, -rc, step, "setting filter attributes");
    }
    if (r == 0) {
        r = build_filter(ctx, cfg->allow_recvmsg, err, errlen);
    }
    if (r == 0 && (rc = seccomp_load(ctx)) < 0) {
        r = refuse(err, errlen, -rc, step, "loading the filter");
    }
    /* Only allowed calls from here on (free: munmap, brk, madvise). */
    seccomp_release(ctx);
    if (r != 0) {
        return r;
    }
    rep->seccomp_applied = true;
    return 0;
}

/* --- the jail ------------------------------------------------------------------- */

int viv_jail_apply(const viv_jail_config *cfg, viv_jail_report *report, char *err, size_t errlen)
{
    viv_jail_report local;
    viv_jail_report *rep = report != NULL ? report : &local;
    *rep = (viv_jail_report){0};
    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    if (cfg == NULL) {
        return refuse(err, errlen, EINVAL, "0 (config)", "no configuration");
    }
    int r;
    if ((r = close_fds(cfg, err, errlen)) != 0) {
        return r;
    }
    rep->fds_closed = true;
    if ((r = no_new_privs(err, errlen)) != 0) {
        return r;
    }
    rep->no_new_privs = true;
    if ((r = set_limits(cfg, rep, err, errlen)) != 0) {
        return r;
    }
    if ((r = apply_landlock(cfg, rep, err, errlen)) != 0) {
        return r;
    }
    return apply_seccomp(cfg, rep, err, errlen);
}

int viv_jail_as_budget(uint64_t extra_bytes, uint64_t *out)
{
    /* statm's first field is the whole address space in pages, the same
     * quantity RLIMIT_AS limits. */
    FILE *f = fopen("/proc/self/statm", "re");
    if (f == NULL) {
        return -errno;
    }
    unsigned long long pages = 0;
    int n = fscanf(f, "%llu", &pages);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    if (n != 1 || page <= 0) {
        return -EIO;
    }
    uint64_t now = (uint64_t)pages * (uint64_t)page;
    *out = now > UINT64_MAX - extra_bytes ? UINT64_MAX : now + extra_bytes;
    return 0;
}
