/*
 * src/sandbox/zygote.c: the fork server (see zygote.h).
 *
 * The zygote runs the guest like a cold execution would, but its program is
 * ours: it imports the pre-imports and then reads a request from stdin. That
 * read reaches on_stdin_read() below, which never returns in the zygote: it
 * waits for work on the control socket and forks. In the forked process it
 * returns, after handing the WASI context to the new execution (its mounts,
 * argv, env, output pipes, and a stdin that starts with the request), giving
 * the engine the execution's limits and entering the jail. The guest's read
 * then completes, and our program runs the user's code as __main__.
 *
 * The zygote itself runs only CPython's start-up and our program, so it is
 * not jailed (Landlock would stop its children from opening their own
 * mounts); every forked execution enters the full jail before the guest
 * resumes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "fdpass.h"
#include "runner.h"
#include "zygote.h"

/* --- the zygote -------------------------------------------------------------- */

/* The guest pages a small execution writes, learned from the first one
 * that qualifies; spares copy them ahead of time, so that the execution
 * that follows takes few copy-on-write faults (each costs tens of
 * microseconds on a paravirtualised machine). Shared memory, written once
 * by one execution's process; a page list, so a corrupt entry can only
 * make a spare touch (with its own value) a page of its own memory. */
#define HOT_MAX_PAGES 4096u
typedef struct hot_pages {
    uint32_t ready; /* set (release) once pages[] is filled */
    uint32_t npages;
    uint32_t pages[HOT_MAX_PAGES]; /* 4 KiB page numbers within linear memory */
} hot_pages;

typedef struct running_child {
    pid_t pid;
    int status_fd;
} running_child;

typedef struct zygote_state {
    const viv_zygote_boot *boot;
    viv_wasi *wasi;
    /* Set in a forked execution: */
    bool is_execution;
    viv_child_report *report;
    int out_fd, err_fd;
    viv_exec_spec spec;
    uint8_t *stdin_buf;
    /* A live interpreter: the socket its next executions arrive on, and
     * its private directory, where the runner's status file ends each. */
    int live_ctl;
    char live_dir[4096];
    /* The zygote's own bookkeeping: */
    running_child *children;
    size_t nchildren, children_cap;
    int sigchld_fd;
    sigset_t old_mask;
    /* The next execution's process, forked ahead of its request. */
    pid_t spare_pid;
    int spare_sock;
    hot_pages *hot; /* shared by the zygote and all its children */
    int pagemap_fd; /* in the execution that records the hot set */
    uint8_t *mem_base;
    uint32_t zygote_pages;
} zygote_state;

static void zygote_attach_memory(void *ctx, uint8_t *const *data, const uint32_t *size)
{
    viv_wasi_set_memory((viv_wasi *)ctx, (viv_wasi_memory){data, size});
}

static void zygote_on_exit(void *user, uint32_t code)
{
    (void)user;
    viv_engine_exit(code);
}

static void reap(zygote_state *z)
{
    int wstatus;
    pid_t pid;
    while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
        if (pid == z->spare_pid) {
            close(z->spare_sock);
            z->spare_pid = -1;
            z->spare_sock = -1;
            continue;
        }
        for (size_t i = 0; i < z->nchildren; i++) {
            if (z->children[i].pid == pid) {
                ssize_t w = write(z->children[i].status_fd, &wstatus, sizeof wstatus);
                (void)w;
                close(z->children[i].status_fd);
                z->children[i] = z->children[--z->nchildren];
                break;
            }
        }
    }
}

static int send_reply(int ctl, pid_t pid, int error, int pidfd)
{
    viv_zygote_reply reply = {VIV_ZYGOTE_MAGIC, pid, error};
    return viv_fdpass_send(ctl, &reply, sizeof reply, &pidfd, pidfd >= 0 ? 1 : 0);
}

/* The request's payload for our guest program (runner.c), followed by the
 * user's stdin: an 8-byte length, then
 * "argc\0argv...\0envc\0env...\0state format\0live\0". The session
 * runner of cold executions is not part of it: the zygote's program is
 * its own runner. */
static uint8_t *request_stdin(const viv_exec_spec *s, size_t *len)
{
    size_t first = s->interp_argc + s->runner_argc;
    size_t payload = 64 + strlen(s->state_format);
    for (size_t i = first; i < s->argc; i++) {
        payload += strlen(s->argv[i]) + 1;
    }
    for (size_t i = 0; i < s->envc; i++) {
        payload += strlen(s->env[i]) + 1;
    }
    uint8_t *buf = malloc(8 + payload + s->stdin_len);
    if (buf == NULL) {
        return NULL;
    }
    char *p = (char *)buf + 8;
    size_t used = 0;
    used += (size_t)snprintf(p + used, payload - used, "%zu", s->argc - first) + 1;
    for (size_t i = first; i < s->argc; i++) {
        memcpy(p + used, s->argv[i], strlen(s->argv[i]) + 1);
        used += strlen(s->argv[i]) + 1;
    }
    used += (size_t)snprintf(p + used, payload - used, "%zu", s->envc) + 1;
    for (size_t i = 0; i < s->envc; i++) {
        memcpy(p + used, s->env[i], strlen(s->env[i]) + 1);
        used += strlen(s->env[i]) + 1;
    }
    used += (size_t)snprintf(p + used, payload - used, "%s", s->state_format) + 1;
    used += (size_t)snprintf(p + used, payload - used, "%d", s->live ? 1 : 0) + 1;
    for (int i = 0; i < 8; i++) {
        buf[i] = (uint8_t)((uint64_t)used >> (8 * i));
    }
    if (s->stdin_len > 0) {
        memcpy(buf + 8 + used, s->stdin_data, s->stdin_len);
    }
    *len = 8 + used + s->stdin_len;
    return buf;
}

/* In the forked process: become the execution. Returns normally only when
 * the guest may resume; any failure ends the process with setup_error set
 * (or, without a report page, with status 3). */
/* In a process just forked from the zygote: drop what only the zygote
 * needs. */
static void leave_zygote(zygote_state *z)
{
    /* Our parent is a single-threaded zygote: if it dies, so do we. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigprocmask(SIG_SETMASK, &z->old_mask, NULL);
    close(z->sigchld_fd);
    close(z->boot->control_fd);
    for (size_t i = 0; i < z->nchildren; i++) {
        close(z->children[i].status_fd);
    }
    z->nchildren = 0;
}

/* Copy the learned hot pages into this process (same values written back:
 * nothing the guest can see changes). */
static void touch_hot_pages(const zygote_state *z)
{
    if (z->hot == NULL || !__atomic_load_n(&z->hot->ready, __ATOMIC_ACQUIRE)) {
        return;
    }
    uint8_t *base = NULL;
    uint32_t pages = 0;
    viv_engine_memory(&base, &pages);
    uint64_t limit = (uint64_t)pages * (VIV_WASM_PAGE / 4096u);
    uint32_t n = z->hot->npages < HOT_MAX_PAGES ? z->hot->npages : HOT_MAX_PAGES;
    for (uint32_t i = 0; i < n && base != NULL; i++) {
        uint32_t page = z->hot->pages[i];
        if (page < limit) {
            volatile uint8_t *b = base + (uint64_t)page * 4096u;
            *b = *b;
        }
    }
}

/* In the first small execution of this zygote: note which of the
 * zygote's pages it wrote (present and no longer shared). */
static void record_hot_pages(zygote_state *z)
{
    uint8_t *base = z->mem_base;
    if (z->pagemap_fd < 0 || base == NULL || z->hot == NULL) {
        return;
    }
    uint64_t first = (uint64_t)(uintptr_t)base / 4096u;
    uint64_t count = (uint64_t)z->zygote_pages * (VIV_WASM_PAGE / 4096u);
    uint32_t found = 0;
    uint64_t entries[512];
    for (uint64_t at = 0; at < count; at += 512) {
        size_t want = (size_t)(count - at < 512 ? count - at : 512);
        ssize_t got = pread(z->pagemap_fd, entries, want * 8, (off_t)((first + at) * 8));
        if (got != (ssize_t)(want * 8)) {
            return;
        }
        for (size_t i = 0; i < want; i++) {
            bool present = entries[i] >> 63 & 1, exclusive = entries[i] >> 56 & 1;
            if (present && exclusive) {
                if (found == HOT_MAX_PAGES) {
                    return; /* not a small execution: learn from another */
                }
                z->hot->pages[found++] = (uint32_t)(at + i);
            }
        }
    }
    z->hot->npages = found;
    __atomic_store_n(&z->hot->ready, 1, __ATOMIC_RELEASE);
}

/* Take one execution's descriptors (spec, stdout, stderr, report) and
 * bind WASI and the engine to it. Any failure ends the process. */
static void on_stdin_read(void *user);

static void zygote_on_security(void *user, viv_wasi_security_kind kind, const char *guest_path)
{
    zygote_state *z = user;
    if (z->report != NULL) {
        viv_child_note_security(z->report, kind, guest_path);
    }
}

static void take_execution(zygote_state *z, const int fds[4])
{
    int spec_fd = fds[0], out_fd = fds[1], err_fd = fds[2], report_fd = fds[3];
    viv_child_report *rep =
        mmap(NULL, sizeof *rep, PROT_READ | PROT_WRITE, MAP_SHARED, report_fd, 0);
    close(report_fd);
    if (rep == MAP_FAILED) {
        _exit(3);
    }
    char msg[256];
    if (viv_exec_spec_from_memfd(spec_fd, &z->spec, msg, sizeof msg) != 0) {
        snprintf(rep->setup_error, sizeof rep->setup_error, "%s", msg);
        _exit(3);
    }
    close(spec_fd);
    size_t stdin_len = 0;
    z->stdin_buf = request_stdin(&z->spec, &stdin_len);
    if (z->stdin_buf == NULL) {
        snprintf(rep->setup_error, sizeof rep->setup_error, "out of memory in the execution");
        _exit(3);
    }
    viv_wasi_config cfg;
    viv_child_wasi_config(&z->spec, out_fd, err_fd, rep, &cfg);
    cfg.stdin_data = z->stdin_buf;
    cfg.stdin_len = stdin_len;
    /* A live interpreter keeps the stdin hook (where each of its
     * executions ends); the callbacks then share our user pointer. */
    z->report = rep;
    if (z->spec.live) {
        cfg.on_stdin_read = on_stdin_read;
        cfg.on_security = zygote_on_security;
        cfg.user = z;
    }
    if (viv_wasi_rebind(z->wasi, &cfg, msg, sizeof msg) != 0) {
        snprintf(rep->setup_error, sizeof rep->setup_error, "WASI set-up failed: %s", msg);
        _exit(3);
    }
    viv_engine_limits limits = viv_child_limits(&z->spec);
    if (viv_engine_rearm(&limits, msg, sizeof msg) != 0) {
        snprintf(rep->setup_error, sizeof rep->setup_error, "%s", msg);
        _exit(3);
    }
    z->report = rep;
    z->out_fd = out_fd;
    z->err_fd = err_fd;
}

static void become_execution(zygote_state *z, const int fds[4], int live_fd)
{
    take_execution(z, fds);
    viv_child_report *rep = z->report;
    int out_fd = z->out_fd, err_fd = z->err_fd;
    z->live_ctl = live_fd;
    if (live_fd >= 0) {
        for (size_t i = 0; i < z->spec.npreopens; i++) {
            if (strcmp(z->spec.preopens[i].guest_path, VIV_PROGRAM_GUEST_DIR) == 0) {
                snprintf(z->live_dir, sizeof z->live_dir, "%s", z->spec.preopens[i].host_path);
            }
        }
    }
    uint32_t pages_now = 0;
    viv_engine_memory(&z->mem_base, &pages_now);
    z->pagemap_fd = -1;
    if (z->hot != NULL && !__atomic_load_n(&z->hot->ready, __ATOMIC_ACQUIRE)) {
        /* Read at the end; opened now, before the jail hides /proc. */
        z->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    }
    int keep[2] = {z->pagemap_fd, live_fd};
    if (viv_child_enter_jail(&z->spec, z->wasi, out_fd, err_fd, keep, 2, VIV_JAIL_AS_HEADROOM,
                             rep) != 0) {
        _exit(3);
    }
    viv_child_test_hook(rep);
    z->is_execution = true;
}

/* The spare's life until its request: copy the hot pages, then wait. */
static bool run_spare(zygote_state *z, int sock)
{
    touch_hot_pages(z);
    char byte;
    int fds[5];
    size_t nfds = 0;
    if (viv_fdpass_recv(sock, &byte, 1, fds, 5, &nfds) != 1 || (nfds != 4 && nfds != 5)) {
        _exit(0); /* the zygote is gone, or retired this spare */
    }
    close(sock);
    become_execution(z, fds, nfds == 5 ? fds[4] : -1);
    return true;
}

/* Fork the next execution's process ahead of its request. In the spare,
 * returns true once it has become an execution. */
static bool make_spare(zygote_state *z)
{
    int sv[2];
    if (z->spare_pid > 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        return false;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        leave_zygote(z);
        return run_spare(z, sv[1]);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return false;
    }
    z->spare_pid = pid;
    z->spare_sock = sv[0];
    return false;
}

static void drop_spare(zygote_state *z)
{
    if (z->spare_pid > 0) {
        close(z->spare_sock);
        kill(z->spare_pid, SIGKILL);
        z->spare_pid = -1;
        z->spare_sock = -1;
    }
}

/* Receive one request; hand it to the spare or fork; in the execution's
 * process, return true. */
static bool handle_request(zygote_state *z)
{
    int ctl = z->boot->control_fd;
    viv_zygote_request req;
    int fds[VIV_ZYGOTE_REQUEST_FDS + 1];
    size_t nfds = 0;
    ssize_t n = viv_fdpass_recv(ctl, &req, sizeof req, fds, VIV_ZYGOTE_REQUEST_FDS + 1, &nfds);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EPROTO)) {
        /* The pool is gone: running executions finish on their own. */
        _exit(0);
    }
    if (n < 0) {
        if (errno == EPROTO) {
            send_reply(ctl, -1, EPROTO, -1);
        }
        return false;
    }
    if (n != (ssize_t)sizeof req || req.magic != VIV_ZYGOTE_MAGIC ||
        (nfds != VIV_ZYGOTE_REQUEST_FDS && nfds != VIV_ZYGOTE_REQUEST_FDS + 1)) {
        for (size_t i = 0; i < nfds; i++) {
            close(fds[i]);
        }
        send_reply(ctl, -1, EPROTO, -1);
        return false;
    }
    if (z->nchildren == z->children_cap) {
        size_t cap = z->children_cap ? 2 * z->children_cap : 16;
        running_child *grown = realloc(z->children, cap * sizeof *grown);
        if (grown == NULL) {
            for (size_t i = 0; i < nfds; i++) {
                close(fds[i]);
            }
            send_reply(ctl, -1, ENOMEM, -1);
            return false;
        }
        z->children = grown;
        z->children_cap = cap;
    }
    /* A sixth descriptor makes the execution a live interpreter: the
     * socket its session's next executions arrive on. */
    int live_fd = nfds == VIV_ZYGOTE_REQUEST_FDS + 1 ? fds[5] : -1;
    int handoff[5] = {fds[0], fds[1], fds[2], fds[3], live_fd};
    pid_t pid = -1;
    if (z->spare_pid > 0 &&
        viv_fdpass_send(z->spare_sock, "", 1, handoff, live_fd >= 0 ? 5 : 4) == 0) {
        pid = z->spare_pid;
        close(z->spare_sock);
        z->spare_pid = -1;
        z->spare_sock = -1;
    } else {
        drop_spare(z);
        pid = fork();
        if (pid == 0) {
            close(fds[4]);
            leave_zygote(z);
            become_execution(z, fds, live_fd);
            return true;
        }
    }
    int e = errno;
    for (size_t i = 0; i < 4; i++) {
        close(fds[i]);
    }
    if (live_fd >= 0) {
        close(live_fd);
    }
    if (pid < 0) {
        close(fds[4]);
        send_reply(ctl, -1, e, -1);
        return false;
    }
    z->children[z->nchildren++] = (running_child){pid, fds[4]};
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        kill(pid, SIGKILL);
        send_reply(ctl, -1, errno, -1);
        return false;
    }
    send_reply(ctl, pid, 0, pidfd);
    close(pidfd);
    /* The next one is forked while this one runs. */
    return make_spare(z);
}

/* In a live interpreter, a read of stdin after the runner wrote its status
 * file is the runner asking for the session's next execution: this one
 * ends here (its report complete and its pipes closed, as if its process
 * had ended), and the read returns into the next. Any other read is the
 * program reading its own stdin. */
static void live_turn(zygote_state *z)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/" VIV_LIVE_STATUS_FILE, z->live_dir);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    char buf[16] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    unlinkat(AT_FDCWD, path, 0); /* the jail allows unlinkat, not unlink */
    long status = n > 0 ? strtol(buf, NULL, 10) : 1;
    status = status < 0 || status > 255 ? 1 : status;
    viv_child_report *rep = z->report;
    viv_engine_pause(&rep->outcome);
    rep->status = VIV_ENGINE_OK;
    rep->outcome.exit_code = (uint32_t)status;
    rep->outcome.end = status == 0 ? VIV_END_RETURNED : VIV_END_EXIT;
    rep->live_continues = 1;
    viv_child_finish(z->wasi, rep, z->out_fd, z->err_fd);
    munmap(rep, sizeof *rep);
    z->report = NULL;
    viv_exec_spec_free(&z->spec);
    free(z->stdin_buf);
    z->stdin_buf = NULL;
    int fds[4];
    for (;;) {
        char byte;
        size_t nfds = 0;
        ssize_t r = viv_fdpass_recv(z->live_ctl, &byte, 1, fds, 4, &nfds);
        if (r == 1 && nfds == 4) {
            break;
        }
        for (size_t i = 0; i < nfds; i++) {
            close(fds[i]);
        }
        if (r == 0 || (r < 0 && errno != EINTR)) {
            _exit(0); /* evicted, or the pool is gone */
        }
    }
    take_execution(z, fds);
}

static void on_stdin_read(void *user)
{
    zygote_state *z = user;
    if (z->is_execution) {
        if (z->live_ctl >= 0) {
            live_turn(z);
        }
        return;
    }
    int ctl = z->boot->control_fd;
    viv_zygote_ready ready = {VIV_ZYGOTE_MAGIC, viv_engine_current_pages()};
    if (send(ctl, &ready, sizeof ready, MSG_NOSIGNAL) != (ssize_t)sizeof ready) {
        _exit(0);
    }
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &z->old_mask);
    z->sigchld_fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (z->sigchld_fd < 0) {
        _exit(1);
    }
    z->zygote_pages = ready.pages;
    z->hot = mmap(NULL, sizeof *z->hot, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (z->hot == MAP_FAILED) {
        z->hot = NULL; /* spares then copy nothing ahead */
    }
    if (make_spare(z)) {
        return;
    }
    for (;;) {
        struct pollfd pfd[2] = {{ctl, POLLIN, 0}, {z->sigchld_fd, POLLIN, 0}};
        if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
            _exit(1);
        }
        if (pfd[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(z->sigchld_fd, &si, sizeof si) == (ssize_t)sizeof si) {
            }
            reap(z);
        }
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (handle_request(z)) {
                return; /* the guest resumes, as the new execution */
            }
        }
    }
}

void viv_zygote_main(const viv_zygote_boot *boot)
{
    /* Keep the control socket and the log, nothing else of the library's
     * (other executions' pipes above all: holding them would keep those
     * executions from ever seeing end-of-file). */
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0) {
        _exit(1);
    }
    int ctl = fcntl(boot->control_fd, F_DUPFD_CLOEXEC, 100);
    int log = fcntl(boot->log_fd, F_DUPFD_CLOEXEC, 101);
    if (ctl < 0 || log < 0) {
        _exit(1);
    }
    close_range(3, 99, 0);
    close_range((unsigned)(log > ctl ? log : ctl) + 1, ~0u, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);

    viv_zygote_boot local = *boot;
    local.control_fd = ctl;
    local.log_fd = log;
    zygote_state z = {.boot = &local,
                      .sigchld_fd = -1,
                      .spare_pid = -1,
                      .spare_sock = -1,
                      .pagemap_fd = -1,
                      .live_ctl = -1};
    viv_wasi_config cfg;
    viv_child_wasi_config(boot->startup, -1, log, NULL, &cfg);
    cfg.stdin_data = NULL;
    cfg.stdin_len = 0;
    cfg.stderr_max = 64 * 1024;
    cfg.deadline_ns = 0;
    cfg.on_exit = zygote_on_exit;
    cfg.on_security = NULL;
    cfg.on_stdin_read = on_stdin_read;
    cfg.user = &z;
    char msg[256];
    if (viv_wasi_create(&cfg, &z.wasi, msg, sizeof msg) != 0) {
        dprintf(log, "vivarium zygote: WASI set-up failed: %s\n", msg);
        _exit(1);
    }
    viv_engine_run_params run = {
        .artifact = boot->sb->artifact,
        .limits = {.memory_bytes = (uint64_t)65536 * VIV_WASM_PAGE,
                   .fuel = INT64_MAX / 2,
                   .deadline_ns = 0,
                   .allow_unmetered = boot->sb->allow_unmetered},
        .wasi = viv_sandbox_wasi_imports(),
        .wasi_ctx = z.wasi,
        .attach_memory = zygote_attach_memory,
    };
    viv_engine_outcome outcome;
    viv_engine_status st = viv_engine_run(&run, &outcome);
    if (z.is_execution) {
        z.report->status = st;
        z.report->outcome = outcome;
        viv_child_finish(z.wasi, z.report, z.out_fd, z.err_fd);
        /* After the result is out: nothing here delays it. */
        record_hot_pages(&z);
        _exit(0);
    }
    dprintf(log, "vivarium zygote: the interpreter ended during start-up: %s (exit %u)\n",
            outcome.message, outcome.exit_code);
    _exit(1);
}
