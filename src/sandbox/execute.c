/*
 * src/sandbox/execute.c: one execution, in one child process.
 *
 * Owns: the split between parent and child. The parent keeps the policy,
 * the deadline, the result and the caps; the child runs the guest and
 * reports back through a shared page and two output pipes. A child that
 * crashes, hangs past the deadline or is killed cannot take the parent (or
 * other sessions' results) with it: the parent turns that into host_error or
 * timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "jail.h"
#include "sandbox_internal.h"
#include "spec.h"
#include "warm.h"

/* How long the parent waits past the deadline for the child to stop itself
 * before killing it. The child's own interrupt normally wins by far. */
#define KILL_GRACE_NS (500ull * 1000 * 1000)

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- the cold child ------------------------------------------------------------ */

static void child_attach_memory(void *ctx, uint8_t *const *data, const uint32_t *size)
{
    viv_wasi_set_memory((viv_wasi *)ctx, (viv_wasi_memory){data, size});
}

static __attribute__((noreturn)) void cold_child_main(const viv_sandbox *sb,
                                                      const viv_exec_spec *spec, int out_fd,
                                                      int err_fd, viv_child_report *rep)
{
    /* The guest gets nothing of ours but its pipes: close every other
     * inherited descriptor before any guest code exists. */
    int keep_lo = out_fd < err_fd ? out_fd : err_fd;
    int keep_hi = out_fd < err_fd ? err_fd : out_fd;
    for (int fd = 0; fd < 3; fd++) {
        if (fd != keep_lo && fd != keep_hi) {
            int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (devnull >= 0 && devnull != fd) {
                dup2(devnull, fd);
                close(devnull);
            }
        }
    }
    if (keep_lo > 3) {
        close_range(3, (unsigned)keep_lo - 1, 0);
    }
    if (keep_hi > keep_lo + 1) {
        close_range((unsigned)keep_lo + 1, (unsigned)keep_hi - 1, 0);
    }
    close_range((unsigned)keep_hi + 1, ~0u, 0);

    viv_wasi_config cfg;
    viv_child_wasi_config(spec, out_fd, err_fd, rep, &cfg);
    viv_wasi *w = NULL;
    char werr[256] = "";
    if (viv_wasi_create(&cfg, &w, werr, sizeof werr) != 0) {
        snprintf(rep->setup_error, sizeof rep->setup_error, "WASI set-up failed: %s", werr);
        _exit(3);
    }
    if (viv_child_enter_jail(spec, w, out_fd, err_fd, NULL, 0, VIV_JAIL_AS_ENGINE_RUN, rep) != 0) {
        _exit(3);
    }
    viv_child_test_hook(rep);

    viv_engine_run_params run = {
        .artifact = sb->artifact,
        .limits = viv_child_limits(spec),
        .wasi = viv_sandbox_wasi_imports(),
        .wasi_ctx = w,
        .attach_memory = child_attach_memory,
    };
    rep->status = viv_engine_run(&run, &rep->outcome);
    viv_child_finish(w, rep, out_fd, err_fd);
    _exit(0);
}

/* --- the parent ------------------------------------------------------------- */

static void capture_append(viv_capture *c, const char *bytes, size_t n, size_t *accepted)
{
    size_t room = c->cap_bytes > c->len ? c->cap_bytes - c->len : 0;
    size_t take = n < room ? n : room;
    if (take < n) {
        c->truncated = true;
    }
    *accepted = take;
    if (take == 0) {
        return;
    }
    if (c->len + take + 1 > c->alloc) {
        size_t want = c->alloc ? c->alloc : 4096;
        while (want < c->len + take + 1) {
            want *= 2;
        }
        char *grown = realloc(c->data, want);
        if (grown == NULL) {
            c->truncated = true;
            *accepted = 0;
            return;
        }
        c->data = grown;
        c->alloc = want;
    }
    memcpy(c->data + c->len, bytes, take);
    c->len += take;
    c->data[c->len] = '\0';
}

static void drain(int *fd, viv_capture *c, int stream, const viv_exec_options *opts)
{
    char buf[65536];
    ssize_t n = read(*fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return;
    }
    if (n <= 0) {
        close(*fd);
        *fd = -1;
        return;
    }
    size_t accepted;
    capture_append(c, buf, (size_t)n, &accepted);
    if (accepted > 0 && opts->on_output != NULL) {
        opts->on_output(opts->user, stream, buf, accepted);
    }
}

static void fill_from_report(const viv_child_report *rep, const viv_policy *p, viv_result *res)
{
    const viv_engine_outcome *o = &rep->outcome;
    res->fuel_consumed = o->fuel_consumed;
    res->memory_pages = o->memory_pages;
    res->memory_used = (uint64_t)o->memory_pages * VIV_WASM_PAGE;
    res->out.truncated |= rep->output.stdout_dropped > 0;
    res->err.truncated |= rep->output.stderr_dropped > 0;
    snprintf(res->trap_message, sizeof res->trap_message, "%s", o->message);
    res->exit_code = -1;
    switch (o->end) {
    case VIV_END_RETURNED:
        res->exit_code = (int)o->exit_code;
        res->reason = VIV_TRAP_NONE;
        break;
    case VIV_END_EXIT:
        res->exit_code = (int)o->exit_code;
        res->reason = VIV_TRAP_PROC_EXIT;
        snprintf(res->trap_message, sizeof res->trap_message, "exit status %u", o->exit_code);
        break;
    case VIV_END_OUT_OF_FUEL:
        res->reason = VIV_TRAP_OUT_OF_FUEL;
        break;
    case VIV_END_TIMEOUT:
        res->reason = VIV_TRAP_TIMEOUT;
        break;
    case VIV_END_TRAP:
        res->reason = VIV_TRAP_TRAP;
        break;
    case VIV_END_HOST_ERROR:
        res->reason = VIV_TRAP_HOST_ERROR;
        break;
    }
    /* A guest that died after being refused memory at the cap ran into the
     * memory limit, whatever it did on the way out (usually MemoryError). */
    if (o->memory_cap_hit && (o->end == VIV_END_EXIT || o->end == VIV_END_TRAP)) {
        res->reason = VIV_TRAP_MEMORY_LIMIT;
        snprintf(res->trap_message, sizeof res->trap_message, "memory limit of %lld bytes reached",
                 (long long)p->memory_bytes);
    }
    res->trapped = res->reason != VIV_TRAP_NONE && res->reason != VIV_TRAP_PROC_EXIT;
}

/* The execution's process as the parent sees it: our own child (cold), or
 * a zygote's child known by a pidfd, whose wait status the zygote writes to
 * status_fd (warm). */
typedef struct exec_process {
    pid_t pid;
    int pidfd, status_fd;
} exec_process;

static void kill_process(const exec_process *proc)
{
    if (proc->pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, proc->pidfd, SIGKILL, NULL, 0);
    } else {
        kill(proc->pid, SIGKILL);
    }
}

/* The wait status, or -1 when it cannot be known (a zygote that died). */
static int wait_process(const exec_process *proc)
{
    int wstatus = 0;
    if (proc->pidfd < 0) {
        while (waitpid(proc->pid, &wstatus, 0) < 0) {
            if (errno != EINTR) {
                return -1;
            }
        }
        return wstatus;
    }
    size_t got = 0;
    while (got < sizeof wstatus) {
        ssize_t n = read(proc->status_fd, (char *)&wstatus + got, sizeof wstatus - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        got += (size_t)n;
    }
    return wstatus;
}

/* A line the parent adds to stderr itself (the child could not): captured
 * within the cap and streamed like the guest's own output. */
static void parent_stderr_line(viv_result *res, const viv_exec_options *opts, const char *line)
{
    size_t accepted;
    capture_append(&res->err, line, strlen(line), &accepted);
    if (accepted > 0 && opts->on_output != NULL) {
        opts->on_output(opts->user, 2, line, accepted);
    }
}

static void mark_cancelled(viv_result *res, const viv_exec_options *opts, const char *why)
{
    res->reason = VIV_TRAP_CANCELLED;
    res->trapped = true;
    res->exit_code = -1;
    snprintf(res->trap_message, sizeof res->trap_message, "%s", why);
    parent_stderr_line(res, opts, "Execution trapped: cancelled\n");
}

viv_status viv_sandbox_run_child(viv_sandbox *sb, const char *program_dir, const char *program_name,
                                 const char *workspace, const viv_exec_options *opts,
                                 const char *state_format, bool live, viv_result *res,
                                 viv_error *err)
{
    const viv_policy *p = sb->policy;
    res->out.cap_bytes = (size_t)p->stdout_max_bytes;
    res->err.cap_bytes = (size_t)p->stderr_max_bytes;
    res->fuel_budget = p->fuel_budget;
    res->memory_limit = (uint64_t)p->memory_bytes;

    if (viv_cancel_triggered(opts->cancel)) {
        mark_cancelled(res, opts, "cancelled by the caller before it started");
        res->success = false;
        return VIV_OK;
    }
    int report_fd = memfd_create("vivarium-report", MFD_CLOEXEC);
    viv_child_report *rep = MAP_FAILED;
    if (report_fd >= 0 && ftruncate(report_fd, sizeof *rep) == 0) {
        rep = mmap(NULL, sizeof *rep, PROT_READ | PROT_WRITE, MAP_SHARED, report_fd, 0);
    }
    if (rep == MAP_FAILED) {
        int e = errno;
        if (report_fd >= 0) {
            close(report_fd);
        }
        return viv_error_set(err, VIV_EHOST, NULL, NULL, "cannot map the report page: %s",
                             strerror(e));
    }
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (out_pipe[i] >= 0) {
                close(out_pipe[i]);
            }
        }
        munmap(rep, sizeof *rep);
        close(report_fd);
        return viv_error_set(err, VIV_EHOST, NULL, NULL, "cannot create pipes: %s", strerror(e));
    }

    viv_exec_spec spec;
    viv_status st = viv_exec_spec_build(&spec, sb, program_dir, program_name, workspace, opts,
                                        state_format, 0, err);
    if (st == VIV_OK && live && sb->warm != NULL && res->session_id != NULL) {
        spec.live = true;
        spec.session_id = res->session_id;
        /* The runner ends each execution with a status file there. */
        for (size_t i = 0; i < spec.npreopens; i++) {
            if (strcmp(spec.preopens[i].guest_path, VIV_PROGRAM_GUEST_DIR) == 0) {
                spec.preopens[i].readonly = false;
            }
        }
    }
    if (st == VIV_OK && sb->warm != NULL) {
        /* A zygote's own start-up is not the execution's time. */
        viv_warm_prepare(sb->warm, sb, &spec);
    }
    uint64_t start = monotonic_ns();
    uint64_t deadline = 0;
    if (p->timeout_seconds > 0) {
        deadline = start + (uint64_t)(p->timeout_seconds * 1e9);
    }
    spec.deadline_ns = deadline;
    exec_process proc = {-1, -1, -1};
    if (st == VIV_OK && sb->warm != NULL) {
        int w = viv_warm_start(sb->warm, sb, &spec, out_pipe[1], err_pipe[1], report_fd, &proc.pid,
                               &proc.pidfd, &proc.status_fd, err);
        res->warm = w == 1;
        res->live_resumed = w == 1 && spec.live && proc.status_fd < 0;
        if (w < 0) {
            st = VIV_EHOST;
        }
    }
    bool live_run = res->warm && spec.live;
    if (st == VIV_OK && !res->warm) {
        proc.pid = fork();
        if (proc.pid == 0) {
            /* The pipe ends survive the close-everything step by number. */
            int o = fcntl(out_pipe[1], F_GETFD), e2 = fcntl(err_pipe[1], F_GETFD);
            fcntl(out_pipe[1], F_SETFD, o & ~FD_CLOEXEC);
            fcntl(err_pipe[1], F_SETFD, e2 & ~FD_CLOEXEC);
            cold_child_main(sb, &spec, out_pipe[1], err_pipe[1], rep);
        }
        if (proc.pid < 0) {
            st = viv_error_set(err, VIV_EHOST, NULL, NULL, "cannot fork: %s", strerror(errno));
        }
    }
    viv_exec_spec_free(&spec);
    close(out_pipe[1]);
    close(err_pipe[1]);
    close(report_fd);
    if (st != VIV_OK) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        munmap(rep, sizeof *rep);
        return st;
    }

    int fds[2] = {out_pipe[0], err_pipe[0]};
    int cancel_fd = viv_cancel_fd(opts->cancel);
    bool killed = false, cancelled = false, exited = false;
    while (fds[0] >= 0 || fds[1] >= 0) {
        struct pollfd pfd[4] = {
            {fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}, {-1, POLLIN, 0}, {-1, POLLIN, 0}};
        if (!killed) {
            pfd[2].fd = cancel_fd;
        }
        /* A live interpreter that dies before taking its descriptors
         * leaves them in its socket, where end-of-file never comes. */
        if (live_run && !exited) {
            pfd[3].fd = proc.pidfd;
        }
        int timeout_ms = -1;
        if (deadline != 0 && !killed) {
            uint64_t now = monotonic_ns();
            uint64_t kill_at = deadline + KILL_GRACE_NS;
            if (now >= kill_at) {
                /* The child ignored its own deadline (or is stuck in the
                 * host): stop it the hard way. */
                kill_process(&proc);
                killed = true;
            } else {
                timeout_ms = (int)((kill_at - now) / 1000000u) + 1;
            }
        }
        /* Once it has exited, what is left in the pipes comes at once. */
        if (exited && (timeout_ms < 0 || timeout_ms > 200)) {
            timeout_ms = 200;
        }
        int n = poll(pfd, 4, timeout_ms);
        if (n < 0 && errno != EINTR) {
            kill_process(&proc);
            killed = true;
            break;
        }
        if (n == 0 && exited) {
            break;
        }
        if (pfd[3].revents & POLLIN) {
            exited = true;
        }
        if (!killed && (pfd[2].revents & POLLIN)) {
            /* Cancelled: no grace, the caller asked for it to stop now. */
            kill_process(&proc);
            killed = cancelled = true;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i] >= 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                drain(&fds[i], i == 0 ? &res->out : &res->err, i + 1, opts);
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    /* A warm child that completed its report has nothing more to say; its
     * wait status matters only when it did not (the zygote reaps it). */
    int wstatus = 0;
    if (proc.pidfd < 0 || !__atomic_load_n(&rep->complete, __ATOMIC_ACQUIRE)) {
        wstatus = wait_process(&proc);
    }
    if (proc.pidfd >= 0) {
        close(proc.pidfd);
        if (proc.status_fd >= 0) {
            close(proc.status_fd);
        }
    }
    if (live_run) {
        res->live = rep->complete && rep->live_continues && !cancelled && !killed;
        viv_warm_live_done(sb->warm, res->session_id, res->live);
    }
    res->duration_ms = (double)(monotonic_ns() - start) / 1e6;

    if (cancelled) {
        /* Whatever the child managed to report, it did not finish. */
        mark_cancelled(res, opts, "cancelled by the caller; the guest was killed");
    } else if (rep->complete && rep->status == VIV_ENGINE_OK) {
        fill_from_report(rep, p, res);
    } else if (rep->complete) {
        /* The engine refused to start the guest: nothing ran. */
        st = viv_error_set(err, rep->status == VIV_ENGINE_EINVALID ? VIV_EPOLICY : VIV_EHOST,
                           strstr(rep->outcome.message, "memory") ? "memory_bytes" : NULL, NULL,
                           "%s", rep->outcome.message);
    } else if (killed) {
        res->reason = VIV_TRAP_TIMEOUT;
        res->trapped = true;
        res->exit_code = -1;
        snprintf(res->trap_message, sizeof res->trap_message,
                 "wall-clock deadline reached; the guest was killed");
        parent_stderr_line(res, opts, "Execution trapped: timeout\n");
    } else if (rep->setup_error[0] != '\0') {
        st = viv_error_set(err, VIV_EHOST, NULL, NULL, "%s", rep->setup_error);
    } else {
        res->reason = VIV_TRAP_HOST_ERROR;
        res->trapped = true;
        res->exit_code = -1;
        if (wstatus != -1 && WIFSIGNALED(wstatus)) {
            snprintf(res->trap_message, sizeof res->trap_message,
                     "the execution's process died of signal %d (%s)", WTERMSIG(wstatus),
                     strsignal(WTERMSIG(wstatus)));
        } else {
            snprintf(res->trap_message, sizeof res->trap_message,
                     "the execution's process ended without a report (status %d)",
                     wstatus != -1 && WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
        }
        parent_stderr_line(res, opts, "Execution trapped: host_error\n");
    }
    res->jail = rep->jail;
    res->test_hook_errno = rep->test_hook_errno;
    memcpy(res->security, rep->security, sizeof res->security);
    res->nsecurity = rep->nsecurity;
    res->security_total = rep->security_total;
    munmap(rep, sizeof *rep);
    res->success =
        st == VIV_OK && !res->trapped && res->reason == VIV_TRAP_NONE && res->exit_code == 0;
    return st;
}
