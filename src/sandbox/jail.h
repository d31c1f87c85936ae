/*
 * src/sandbox/jail.h: the second wall around an execution.
 *
 * WebAssembly is the first wall: the guest can only do what its imports let
 * it do. The jail is what stands if that wall is breached (a bug in the
 * generated code, the runtime or the WASI layer): the execution's child
 * process gives up, in one call and before any guest code runs, everything
 * it does not need: host descriptors, the ability to gain privileges, most
 * resources, the filesystem outside the directories it was given, the
 * network, and every system call the engine and the WASI layer do not make.
 *
 * Owns: that one call and its order. Everything Linux-specific lives in
 * jail.c; this header is portable.
 *
 * The call is for a single-threaded process that exists only for one
 * execution (the child forked by execute.c): nothing it restricts can be
 * undone, and on failure the process is left partly restricted and must
 * exit without running the guest.
 */
#ifndef VIV_SANDBOX_JAIL_H
#define VIV_SANDBOX_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Address space one engine run maps after the jail, for viv_jail_as_budget.
 * They mirror the engine's own sizes (a test checks the first against
 * src/engine/store.h): each linear memory reserves 8 GiB plus a 64 KiB
 * guard; the guest's native stack is 128 MiB behind a 16 MiB guard; the
 * headroom covers the host heap (instance, tables, WASI buffers), the
 * 64 KiB signal stack and malloc's own mappings. */
#define VIV_JAIL_AS_PER_MEMORY  (((uint64_t)8 << 30) + 65536u)
#define VIV_JAIL_AS_GUEST_STACK (((uint64_t)128 + 16) << 20)
#define VIV_JAIL_AS_HEADROOM    ((uint64_t)1 << 30)
#define VIV_JAIL_AS_ENGINE_RUN                                                                     \
    (VIV_JAIL_AS_PER_MEMORY + VIV_JAIL_AS_GUEST_STACK + VIV_JAIL_AS_HEADROOM)

#define VIV_JAIL_DEFAULT_FSIZE      ((uint64_t)1 << 30)
#define VIV_JAIL_DEFAULT_NOFILE     1100u /* WASI holds at most 1024 guest fds */
#define VIV_JAIL_CPU_MARGIN_SECONDS 5u    /* suggested: cpu_seconds = ceil(timeout) + this */
#define VIV_JAIL_MAX_KEEP_FDS       256u

typedef struct viv_jail_config {
    /* Descriptors that stay open; every other one is closed. Order and
     * duplicates do not matter; a negative fd is an error. */
    const int *keep_fds;
    size_t nkeep_fds;

    /* Host directories the process may still reach by path (Landlock).
     * Beneath rw_dirs: read, write, create, remove, rename, truncate (never
     * execute, never device nodes, sockets or fifos). Beneath ro_dirs: read
     * files and list directories, nothing else. Everything else on the
     * filesystem is denied, also through descriptors opened earlier. */
    const char *const *rw_dirs;
    size_t nrw_dirs;
    const char *const *ro_dirs;
    size_t nro_dirs;

    /* RLIMIT_AS in bytes; 0 leaves it unchanged (sanitizer builds only:
     * an execution should always get one, see viv_jail_as_budget). */
    uint64_t as_bytes;
    /* RLIMIT_CPU in seconds, a backstop behind the wall-clock deadline: the
     * process gets SIGXCPU at this many seconds and SIGKILL one later.
     * 0 leaves it unchanged (no deadline: fuel bounds the run). */
    uint64_t cpu_seconds;
    /* RLIMIT_FSIZE in bytes; 0 means VIV_JAIL_DEFAULT_FSIZE and UINT64_MAX
     * means unlimited. Writes past it fail with EFBIG (SIGXFSZ is ignored). */
    uint64_t fsize_bytes;
    /* RLIMIT_NOFILE; 0 means VIV_JAIL_DEFAULT_NOFILE. */
    uint64_t nofile;

    /* If true, a kernel without Landlock or without seccomp is a refusal.
     * If false, either may be missing and the report says so. Either way a
     * mechanism the kernel has but that fails to apply is a refusal. */
    bool require_kernel_isolation;
    /* A live interpreter (src/sandbox/state.h) receives each next
     * execution's descriptors over the one socket it keeps: recvmsg is
     * allowed too. It cannot create a socket, so that is the only one. */
    bool allow_recvmsg;
} viv_jail_config;

/* What is in force after viv_jail_apply, for the result's metadata. */
typedef struct viv_jail_report {
    bool fds_closed;
    bool no_new_privs;
    bool rlimits;          /* every rlimit above was set */
    bool as_limited;       /* RLIMIT_AS was set (as_bytes != 0) */
    bool landlock_applied; /* filesystem confinement */
    int landlock_abi;      /* 0 when the kernel has no Landlock */
    bool landlock_net;     /* TCP bind/connect denied too (ABI >= 4) */
    bool landlock_scoped;  /* abstract unix sockets and signals scoped (ABI >= 6) */
    bool seccomp_applied;  /* the system-call allow-list */
} viv_jail_report;

/*
 * Apply the jail to the calling process, in this order, each step checked:
 *   1. close every descriptor not in keep_fds;
 *   2. PR_SET_NO_NEW_PRIVS;
 *   3. rlimits: AS, CPU, CORE=0, FSIZE, NPROC=0, NOFILE;
 *   4. Landlock: only rw_dirs/ro_dirs reachable, no TCP, scoped IPC;
 *   5. seccomp: an allow-list of system calls; anything else kills the
 *      process (SIGSYS).
 * Fills *report (may be NULL) as steps succeed. Returns 0, or a negative
 * errno with a message naming the step in err[0..errlen).
 */
int viv_jail_apply(const viv_jail_config *cfg, viv_jail_report *report, char *err, size_t errlen);

/*
 * An RLIMIT_AS for a process that will map extra_bytes more after the jail:
 * its current address-space size plus extra_bytes (e.g.
 * VIV_JAIL_AS_ENGINE_RUN). Call it before viv_jail_apply, in the process to
 * be jailed. Returns 0 or a negative errno.
 */
int viv_jail_as_budget(uint64_t extra_bytes, uint64_t *out);

/* The kernel's Landlock ABI version, or 0 if it has none. */
int viv_jail_landlock_abi(void);

#endif /* VIV_SANDBOX_JAIL_H */
