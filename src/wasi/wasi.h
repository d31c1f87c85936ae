/*
 * src/wasi: our implementation of WASI preview 1 for one guest instance.
 *
 * Owns: the guest's file-descriptor table (stdin/stdout/stderr and the
 * preopened directories), path resolution beneath a preopen, read-only
 * enforcement on read-only mounts, output capture with caps enforced as the
 * guest writes, args/env exposure, clocks, randomness and poll_oneoff.
 *
 * Does not own: the linear memory (the engine does; we only borrow a view of
 * it), the deadline timer (the engine/sandbox arm it; we only honour the
 * deadline while blocking), or process-level isolation (src/sandbox).
 *
 * Every function named viv_wasi_<call> implements the preview 1 import of the
 * same name. Guest pointers are offsets into linear memory; every access is
 * bounds-checked against the current memory size with 64-bit arithmetic. The
 * return value is a WASI errno (0 = success). A bad guest pointer yields
 * VIV_WASI_EFAULT, never a host fault.
 */
#ifndef VIV_WASI_H
#define VIV_WASI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* WASI preview 1 errno values used across the tree (subset; see the spec). */
enum {
    VIV_WASI_ESUCCESS = 0,
    VIV_WASI_E2BIG = 1,
    VIV_WASI_EACCES = 2,
    VIV_WASI_EBADF = 8,
    VIV_WASI_EEXIST = 20,
    VIV_WASI_EFAULT = 21,
    VIV_WASI_EINVAL = 28,
    VIV_WASI_EIO = 29,
    VIV_WASI_EISDIR = 31,
    VIV_WASI_ELOOP = 32,
    VIV_WASI_ENAMETOOLONG = 37,
    VIV_WASI_ENOENT = 44,
    VIV_WASI_ENOMEM = 48,
    VIV_WASI_ENOSYS = 52,
    VIV_WASI_ENOTDIR = 54,
    VIV_WASI_ENOTEMPTY = 55,
    VIV_WASI_ENOTSUP = 58,
    VIV_WASI_EPERM = 63,
    VIV_WASI_EROFS = 69,
    VIV_WASI_ESPIPE = 70,
    VIV_WASI_EXDEV = 75,
    VIV_WASI_ENOTCAPABLE = 76,

    /* The rest of the spec's errno values, so the host-errno table can name
     * every one of them. */
    VIV_WASI_EADDRINUSE = 3,
    VIV_WASI_EADDRNOTAVAIL = 4,
    VIV_WASI_EAFNOSUPPORT = 5,
    VIV_WASI_EAGAIN = 6,
    VIV_WASI_EALREADY = 7,
    VIV_WASI_EBADMSG = 9,
    VIV_WASI_EBUSY = 10,
    VIV_WASI_ECANCELED = 11,
    VIV_WASI_ECHILD = 12,
    VIV_WASI_ECONNABORTED = 13,
    VIV_WASI_ECONNREFUSED = 14,
    VIV_WASI_ECONNRESET = 15,
    VIV_WASI_EDEADLK = 16,
    VIV_WASI_EDESTADDRREQ = 17,
    VIV_WASI_EDOM = 18,
    VIV_WASI_EDQUOT = 19,
    VIV_WASI_EFBIG = 22,
    VIV_WASI_EHOSTUNREACH = 23,
    VIV_WASI_EIDRM = 24,
    VIV_WASI_EILSEQ = 25,
    VIV_WASI_EINPROGRESS = 26,
    VIV_WASI_EINTR = 27,
    VIV_WASI_EISCONN = 30,
    VIV_WASI_EMFILE = 33,
    VIV_WASI_EMLINK = 34,
    VIV_WASI_EMSGSIZE = 35,
    VIV_WASI_EMULTIHOP = 36,
    VIV_WASI_ENETDOWN = 38,
    VIV_WASI_ENETRESET = 39,
    VIV_WASI_ENETUNREACH = 40,
    VIV_WASI_ENFILE = 41,
    VIV_WASI_ENOBUFS = 42,
    VIV_WASI_ENODEV = 43,
    VIV_WASI_ENOEXEC = 45,
    VIV_WASI_ENOLCK = 46,
    VIV_WASI_ENOLINK = 47,
    VIV_WASI_ENOMSG = 49,
    VIV_WASI_ENOPROTOOPT = 50,
    VIV_WASI_ENOSPC = 51,
    VIV_WASI_ENOTCONN = 53,
    VIV_WASI_ENOTRECOVERABLE = 56,
    VIV_WASI_ENOTSOCK = 57,
    VIV_WASI_ENOTTY = 59,
    VIV_WASI_ENXIO = 60,
    VIV_WASI_EOVERFLOW = 61,
    VIV_WASI_EOWNERDEAD = 62,
    VIV_WASI_EPIPE = 64,
    VIV_WASI_EPROTO = 65,
    VIV_WASI_EPROTONOSUPPORT = 66,
    VIV_WASI_EPROTOTYPE = 67,
    VIV_WASI_ERANGE = 68,
    VIV_WASI_ESRCH = 71,
    VIV_WASI_ESTALE = 72,
    VIV_WASI_ETIMEDOUT = 73,
    VIV_WASI_ETXTBSY = 74,
};

/* A view of the guest's linear memory. Both pointers are borrowed and must
 * stay valid for the life of the context; the engine updates the pointees
 * when memory grows, so we always read them fresh. */
typedef struct viv_wasi_memory {
    uint8_t *const *data;
    const uint32_t *size;
} viv_wasi_memory;

/* One preopened directory. The guest sees preopens as fds 3, 4, ... in the
 * order given. */
typedef struct viv_wasi_preopen {
    const char *host_path;  /* host directory; opened O_DIRECTORY at create */
    const char *guest_path; /* absolute guest path, e.g. "/app" */
    bool readonly;          /* refuse every write through this preopen */
} viv_wasi_preopen;

/* Security-relevant refusals, reported to the caller (who logs them). */
typedef enum viv_wasi_security_kind {
    VIV_WASI_SEC_PATH_ESCAPE,    /* a path tried to leave its preopen */
    VIV_WASI_SEC_READONLY_WRITE, /* a write was attempted on a read-only mount */
} viv_wasi_security_kind;

typedef struct viv_wasi_config {
    /* argv and env exactly as the guest sees them; env entries are "K=V".
     * Borrowed for the life of the context. */
    const char *const *argv;
    size_t argc;
    const char *const *env;
    size_t envc;

    const viv_wasi_preopen *preopens;
    size_t npreopens;

    /* stdin contents (borrowed); NULL/0 means an empty stdin (EOF). */
    const uint8_t *stdin_data;
    size_t stdin_len;

    /* Captured output goes to these host fds (usually pipes to the parent).
     * At most *_max bytes in total are written; bytes past the cap are
     * dropped and counted, and the guest is told they were written. A fd of
     * -1 discards everything (still counted). */
    int stdout_fd;
    int stderr_fd;
    uint64_t stdout_max;
    uint64_t stderr_max;

    /* Absolute CLOCK_MONOTONIC deadline in nanoseconds; 0 means none.
     * Blocking calls (poll_oneoff sleeps) wake at the deadline and call
     * on_deadline, which must not return (the engine unwinds the guest). */
    uint64_t deadline_ns;
    void (*on_deadline)(void *user);

    /* proc_exit: must not return (the engine unwinds the guest). */
    void (*on_exit)(void *user, uint32_t code);

    /* Optional: told about every refused escape or read-only write. */
    void (*on_security)(void *user, viv_wasi_security_kind kind, const char *guest_path);

    /* Optional: called before each read of stdin is served. A fork server
     * waits for work here, and returns in a new execution's process after
     * viv_wasi_rebind(); the read then serves the new stdin. */
    void (*on_stdin_read)(void *user);

    void *user;
} viv_wasi_config;

typedef struct viv_wasi viv_wasi;

/* Output statistics, read after the run. */
typedef struct viv_wasi_output_stats {
    uint64_t stdout_written, stdout_dropped;
    uint64_t stderr_written, stderr_dropped;
} viv_wasi_output_stats;

/*
 * Create a context. Opens every preopen's host directory. On failure returns
 * a negative errno-style code and, if err is non-NULL, writes a message
 * (naming the failing path) into err[0..errlen).
 */
int viv_wasi_create(const viv_wasi_config *cfg, viv_wasi **out, char *err, size_t errlen);
/* Closes every host fd the context opened. NULL is a no-op. */
void viv_wasi_destroy(viv_wasi *w);
/*
 * Fork-server support: hand this context, with its guest still running, to
 * a new execution (in a freshly forked process). cfg must list the same
 * preopen guest paths in the same order, since the guest's libc looked them
 * up once at start-up; their host directories are opened afresh from cfg.
 * Every other descriptor the guest opened is closed; argv, env, stdin,
 * output caps, the deadline and the callbacks become cfg's. On failure the
 * context is unusable: the process should end.
 */
int viv_wasi_rebind(viv_wasi *w, const viv_wasi_config *cfg, char *err, size_t errlen);

/* Attach the guest memory view; required before any call below. */
void viv_wasi_set_memory(viv_wasi *w, viv_wasi_memory mem);
void viv_wasi_get_output_stats(const viv_wasi *w, viv_wasi_output_stats *out);
/* Number of guest fds currently open, stdio and preopens included (at most
 * 1024: past that, opening returns VIV_WASI_EMFILE). For tests and
 * diagnostics. */
unsigned viv_wasi_open_fd_count(const viv_wasi *w);

/* The host descriptors this context holds (preopen dirfds and anything the
 * guest opened), so a jail can keep exactly those open. Writes at most max
 * into out and returns how many there are. */
size_t viv_wasi_host_fds(const viv_wasi *w, int *out, size_t max);

/* Write bytes to the captured stderr stream, within its cap (used by the
 * engine to append "Execution trapped: ..." lines). */
void viv_wasi_append_stderr(viv_wasi *w, const char *bytes, size_t len);

/* The preview 1 imports. Argument order and widths follow the spec. */
uint32_t viv_wasi_args_get(viv_wasi *w, uint32_t argv, uint32_t argv_buf);
uint32_t viv_wasi_args_sizes_get(viv_wasi *w, uint32_t argc_out, uint32_t buf_size_out);
uint32_t viv_wasi_environ_get(viv_wasi *w, uint32_t environ, uint32_t environ_buf);
uint32_t viv_wasi_environ_sizes_get(viv_wasi *w, uint32_t count_out, uint32_t buf_size_out);
uint32_t viv_wasi_clock_res_get(viv_wasi *w, uint32_t clock_id, uint32_t res_out);
uint32_t viv_wasi_clock_time_get(viv_wasi *w, uint32_t clock_id, uint64_t precision,
                                 uint32_t time_out);
uint32_t viv_wasi_fd_advise(viv_wasi *w, uint32_t fd, uint64_t offset, uint64_t len,
                            uint32_t advice);
uint32_t viv_wasi_fd_allocate(viv_wasi *w, uint32_t fd, uint64_t offset, uint64_t len);
uint32_t viv_wasi_fd_close(viv_wasi *w, uint32_t fd);
uint32_t viv_wasi_fd_datasync(viv_wasi *w, uint32_t fd);
uint32_t viv_wasi_fd_fdstat_get(viv_wasi *w, uint32_t fd, uint32_t stat_out);
uint32_t viv_wasi_fd_fdstat_set_flags(viv_wasi *w, uint32_t fd, uint32_t flags);
uint32_t viv_wasi_fd_fdstat_set_rights(viv_wasi *w, uint32_t fd, uint64_t base,
                                       uint64_t inheriting);
uint32_t viv_wasi_fd_filestat_get(viv_wasi *w, uint32_t fd, uint32_t stat_out);
uint32_t viv_wasi_fd_filestat_set_size(viv_wasi *w, uint32_t fd, uint64_t size);
uint32_t viv_wasi_fd_filestat_set_times(viv_wasi *w, uint32_t fd, uint64_t atim, uint64_t mtim,
                                        uint32_t fst_flags);
uint32_t viv_wasi_fd_pread(viv_wasi *w, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                           uint64_t offset, uint32_t nread_out);
uint32_t viv_wasi_fd_prestat_get(viv_wasi *w, uint32_t fd, uint32_t prestat_out);
uint32_t viv_wasi_fd_prestat_dir_name(viv_wasi *w, uint32_t fd, uint32_t path, uint32_t path_len);
uint32_t viv_wasi_fd_pwrite(viv_wasi *w, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                            uint64_t offset, uint32_t nwritten_out);
uint32_t viv_wasi_fd_read(viv_wasi *w, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                          uint32_t nread_out);
uint32_t viv_wasi_fd_readdir(viv_wasi *w, uint32_t fd, uint32_t buf, uint32_t buf_len,
                             uint64_t cookie, uint32_t bufused_out);
uint32_t viv_wasi_fd_renumber(viv_wasi *w, uint32_t from, uint32_t to);
uint32_t viv_wasi_fd_seek(viv_wasi *w, uint32_t fd, uint64_t offset, uint32_t whence,
                          uint32_t newoffset_out);
uint32_t viv_wasi_fd_sync(viv_wasi *w, uint32_t fd);
uint32_t viv_wasi_fd_tell(viv_wasi *w, uint32_t fd, uint32_t offset_out);
uint32_t viv_wasi_fd_write(viv_wasi *w, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                           uint32_t nwritten_out);
uint32_t viv_wasi_path_create_directory(viv_wasi *w, uint32_t fd, uint32_t path, uint32_t path_len);
uint32_t viv_wasi_path_filestat_get(viv_wasi *w, uint32_t fd, uint32_t flags, uint32_t path,
                                    uint32_t path_len, uint32_t stat_out);
uint32_t viv_wasi_path_filestat_set_times(viv_wasi *w, uint32_t fd, uint32_t flags, uint32_t path,
                                          uint32_t path_len, uint64_t atim, uint64_t mtim,
                                          uint32_t fst_flags);
uint32_t viv_wasi_path_link(viv_wasi *w, uint32_t old_fd, uint32_t old_flags, uint32_t old_path,
                            uint32_t old_path_len, uint32_t new_fd, uint32_t new_path,
                            uint32_t new_path_len);
uint32_t viv_wasi_path_open(viv_wasi *w, uint32_t dirfd, uint32_t dirflags, uint32_t path,
                            uint32_t path_len, uint32_t oflags, uint64_t rights_base,
                            uint64_t rights_inheriting, uint32_t fdflags, uint32_t fd_out);
uint32_t viv_wasi_path_readlink(viv_wasi *w, uint32_t fd, uint32_t path, uint32_t path_len,
                                uint32_t buf, uint32_t buf_len, uint32_t bufused_out);
uint32_t viv_wasi_path_remove_directory(viv_wasi *w, uint32_t fd, uint32_t path, uint32_t path_len);
uint32_t viv_wasi_path_rename(viv_wasi *w, uint32_t fd, uint32_t old_path, uint32_t old_path_len,
                              uint32_t new_fd, uint32_t new_path, uint32_t new_path_len);
uint32_t viv_wasi_path_symlink(viv_wasi *w, uint32_t old_path, uint32_t old_path_len, uint32_t fd,
                               uint32_t new_path, uint32_t new_path_len);
uint32_t viv_wasi_path_unlink_file(viv_wasi *w, uint32_t fd, uint32_t path, uint32_t path_len);
/* Sleeps (clock subscriptions) wake no later than cfg.deadline_ns and then
 * call cfg.on_deadline. If on_deadline is NULL or returns, poll_oneoff
 * returns VIV_WASI_EINTR with no events written. */
uint32_t viv_wasi_poll_oneoff(viv_wasi *w, uint32_t in, uint32_t out, uint32_t nsubscriptions,
                              uint32_t nevents_out);
void viv_wasi_proc_exit(viv_wasi *w, uint32_t code);
uint32_t viv_wasi_proc_raise(viv_wasi *w, uint32_t sig);
uint32_t viv_wasi_sched_yield(viv_wasi *w);
uint32_t viv_wasi_random_get(viv_wasi *w, uint32_t buf, uint32_t buf_len);
uint32_t viv_wasi_sock_accept(viv_wasi *w, uint32_t fd, uint32_t flags, uint32_t fd_out);
uint32_t viv_wasi_sock_recv(viv_wasi *w, uint32_t fd, uint32_t ri_data, uint32_t ri_data_len,
                            uint32_t ri_flags, uint32_t ro_datalen_out, uint32_t ro_flags_out);
uint32_t viv_wasi_sock_send(viv_wasi *w, uint32_t fd, uint32_t si_data, uint32_t si_data_len,
                            uint32_t si_flags, uint32_t so_datalen_out);
uint32_t viv_wasi_sock_shutdown(viv_wasi *w, uint32_t fd, uint32_t how);

#endif /* VIV_WASI_H */
