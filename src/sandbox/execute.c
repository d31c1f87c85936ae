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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jail.h"
#include "sandbox_internal.h"

/* How long the parent waits past the deadline for the child to stop itself
 * before killing it. The child's own interrupt normally wins by far. */
#define KILL_GRACE_NS (500ull * 1000 * 1000)

/* Written by the child into memory shared with the parent. */
typedef struct child_report {
    volatile int complete;
    viv_security_event security[VIV_MAX_SECURITY_EVENTS];
    uint32_t nsecurity, security_total;
    viv_engine_status status;
    viv_engine_outcome outcome;
    viv_wasi_output_stats output;
    viv_jail_report jail; /* what the jail put in force */
    int test_hook_errno;  /* VIV_TEST_HOOKS builds only */
    char setup_error[512];
} child_report;

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- the child ------------------------------------------------------------ */

static void child_on_exit(void *user, uint32_t code)
{
    (void)user;
    viv_engine_exit(code);
}

static void child_on_deadline(void *user)
{
    (void)user;
    viv_engine_deadline_reached();
}

static void child_on_security(void *user, viv_wasi_security_kind kind, const char *guest_path)
{
    child_report *rep = user;
    rep->security_total++;
    if (rep->nsecurity < VIV_MAX_SECURITY_EVENTS) {
        viv_security_event *e = &rep->security[rep->nsecurity++];
        e->kind = (int)kind;
        snprintf(e->path, sizeof e->path, "%s", guest_path ? guest_path : "");
    }
}

static void child_attach_memory(void *ctx, uint8_t *const *data, const uint32_t *size)
{
    viv_wasi_set_memory((viv_wasi *)ctx, (viv_wasi_memory){data, size});
}

static const char *end_name(viv_engine_end end, bool cap_hit)
{
    if (cap_hit && (end == VIV_END_EXIT || end == VIV_END_TRAP)) {
        return "memory_limit";
    }
    switch (end) {
    case VIV_END_OUT_OF_FUEL:
        return "out_of_fuel";
    case VIV_END_TIMEOUT:
        return "timeout";
    case VIV_END_TRAP:
        return "trap";
    case VIV_END_HOST_ERROR:
        return "host_error";
    default:
        return NULL;
    }
}

typedef struct child_args {
    viv_sandbox *sb;
    const char *program_dir;
    const char *program_name;
    const char *workspace;
    const viv_exec_options *opts;
    int out_fd, err_fd;
    uint64_t deadline_ns;
    child_report *report;
} child_args;

/* The second wall (jail.h), entered after WASI opened its preopens and
 * before any guest code exists. Returns -1 with rep->setup_error set. */
static int enter_jail(const child_args *a, const viv_wasi *w)
{
    const viv_policy *p = a->sb->policy;
    child_report *rep = a->report;
    /* 0-2 are /dev/null or our pipes: keeping them stops a guest file from
     * landing on fd 2, where glibc's fatal messages go. */
    int keep[5 + 1100];
    size_t nkeep = 0;
    keep[nkeep++] = STDIN_FILENO;
    keep[nkeep++] = STDOUT_FILENO;
    keep[nkeep++] = STDERR_FILENO;
    keep[nkeep++] = a->out_fd;
    keep[nkeep++] = a->err_fd;
    size_t nhost = viv_wasi_host_fds(w, keep + nkeep, sizeof keep / sizeof keep[0] - nkeep);
    const char *rw_dirs[1] = {a->workspace};
    const char *ro_dirs[2 + VIV_POLICY_MAX_MOUNTS + VIV_GUEST_MAX_MOUNTS];
    size_t nro = 0;
    if (p->data_dir != NULL) {
        ro_dirs[nro++] = p->data_dir;
    }
    for (size_t i = 0; i < p->nmounts; i++) {
        ro_dirs[nro++] = p->mounts[i].host;
    }
    ro_dirs[nro++] = a->program_dir;
    for (size_t i = 0; i < a->sb->guest.nmounts; i++) {
        ro_dirs[nro++] = a->sb->guest.mounts[i].host;
    }
    uint64_t as_bytes = 0;
    int jr = viv_jail_as_budget(VIV_JAIL_AS_ENGINE_RUN, &as_bytes);
    if (nkeep + nhost > sizeof keep / sizeof keep[0] || jr != 0) {
        snprintf(rep->setup_error, sizeof rep->setup_error,
                 "jail: cannot prepare (%zu host fds; address-space budget: %s)", nhost,
                 jr != 0 ? strerror(-jr) : "ok");
        return -1;
    }
    nkeep += nhost;
    viv_jail_config jcfg = {
        .keep_fds = keep,
        .nkeep_fds = nkeep,
        .rw_dirs = rw_dirs,
        .nrw_dirs = 1,
        .ro_dirs = ro_dirs,
        .nro_dirs = nro,
        .as_bytes = as_bytes,
        /* CPU time is a backstop behind the deadline, never the limit. */
        .cpu_seconds = p->timeout_seconds > 0
                           ? (uint64_t)p->timeout_seconds + 1 + VIV_JAIL_CPU_MARGIN_SECONDS
                           : 0,
        .fsize_bytes = 0,
        .nofile = 0,
        .require_kernel_isolation = p->require_kernel_isolation,
    };
    char jerr[sizeof rep->setup_error - 32];
    if (viv_jail_apply(&jcfg, &rep->jail, jerr, sizeof jerr) != 0) {
        snprintf(rep->setup_error, sizeof rep->setup_error, "%s", jerr);
        return -1;
    }
    return 0;
}

#ifdef VIV_TEST_HOOKS
/* Fault injection for tests, compiled only into test builds: proves what
 * the jail stops once it is up, and that a crashing runtime is contained.
 * VIVARIUM_TEST_HOOK (the host's environment, never the guest's):
 *   open:PATH  try a direct host open(PATH); report its errno (0 if it opened)
 *   crash      die of SIGSEGV, as a runtime bug would */
static void run_test_hook(child_report *rep)
{
    const char *hook = getenv("VIVARIUM_TEST_HOOK");
    rep->test_hook_errno = -1;
    if (hook == NULL) {
        return;
    }
    if (strncmp(hook, "open:", 5) == 0) {
        int fd = open(hook + 5, O_RDONLY | O_CLOEXEC);
        rep->test_hook_errno = fd < 0 ? errno : 0;
        if (fd >= 0) {
            close(fd);
        }
    } else if (strcmp(hook, "crash") == 0) {
        /* A fault outside the guest's regions: the engine must not turn it
         * into a wasm trap. raise() keeps the compiler from reasoning about
         * a wild pointer. */
        raise(SIGSEGV);
    }
}
#endif

static __attribute__((noreturn)) void child_main(const child_args *a)
{
    const viv_policy *p = a->sb->policy;
    child_report *rep = a->report;

    /* The guest gets nothing of ours but its pipes: close every other
     * inherited descriptor before any guest code exists. */
    int keep_lo = a->out_fd < a->err_fd ? a->out_fd : a->err_fd;
    int keep_hi = a->out_fd < a->err_fd ? a->err_fd : a->out_fd;
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

    /* argv: the policy's interpreter argv, the program, the user's args. */
    size_t argc = p->argc + 1 + a->opts->nargs;
    const char **argv = calloc(argc, sizeof *argv);
    const char **envp = calloc(p->nenv ? p->nenv : 1, sizeof *envp);
    char program[4096];
    snprintf(program, sizeof program, "%s/%s", VIV_PROGRAM_GUEST_DIR, a->program_name);
    if (argv == NULL || envp == NULL) {
        snprintf(rep->setup_error, sizeof rep->setup_error, "out of memory in the child");
        _exit(3);
    }
    for (size_t i = 0; i < p->argc; i++) {
        argv[i] = p->argv[i];
    }
    argv[p->argc] = program;
    for (size_t i = 0; i < a->opts->nargs; i++) {
        argv[p->argc + 1 + i] = a->opts->args[i];
    }
    for (size_t i = 0; i < p->nenv; i++) {
        size_t n = strlen(p->env[i].key) + strlen(p->env[i].value) + 2;
        char *kv = malloc(n);
        if (kv == NULL) {
            snprintf(rep->setup_error, sizeof rep->setup_error, "out of memory in the child");
            _exit(3);
        }
        snprintf(kv, n, "%s=%s", p->env[i].key, p->env[i].value);
        envp[i] = kv;
    }

    viv_wasi_preopen pre[3 + VIV_POLICY_MAX_MOUNTS + VIV_GUEST_MAX_MOUNTS];
    size_t npre = 0;
    pre[npre++] = (viv_wasi_preopen){a->workspace, p->guest_mount_path, false};
    if (p->data_dir != NULL) {
        pre[npre++] = (viv_wasi_preopen){p->data_dir, p->guest_data_path, true};
    }
    for (size_t i = 0; i < p->nmounts; i++) {
        pre[npre++] = (viv_wasi_preopen){p->mounts[i].host, p->mounts[i].guest, true};
    }
    pre[npre++] = (viv_wasi_preopen){a->program_dir, VIV_PROGRAM_GUEST_DIR, true};
    /* What the guest itself needs (its stdlib), from its descriptor. */
    for (size_t i = 0; i < a->sb->guest.nmounts; i++) {
        pre[npre++] =
            (viv_wasi_preopen){a->sb->guest.mounts[i].host, a->sb->guest.mounts[i].guest, true};
    }

    viv_wasi_config cfg = {
        .argv = argv,
        .argc = argc,
        .env = envp,
        .envc = p->nenv,
        .preopens = pre,
        .npreopens = npre,
        .stdin_data = a->opts->stdin_data,
        .stdin_len = a->opts->stdin_len,
        .stdout_fd = a->out_fd,
        .stderr_fd = a->err_fd,
        .stdout_max = (uint64_t)p->stdout_max_bytes,
        .stderr_max = (uint64_t)p->stderr_max_bytes,
        .deadline_ns = a->deadline_ns,
        .on_deadline = child_on_deadline,
        .on_exit = child_on_exit,
        .on_security = child_on_security,
        .user = rep,
    };
    viv_wasi *w = NULL;
    char werr[256] = "";
    if (viv_wasi_create(&cfg, &w, werr, sizeof werr) != 0) {
        snprintf(rep->setup_error, sizeof rep->setup_error, "WASI set-up failed: %s", werr);
        _exit(3);
    }

    if (enter_jail(a, w) != 0) {
        _exit(3);
    }
#ifdef VIV_TEST_HOOKS
    run_test_hook(rep);
#endif

    viv_engine_run_params run = {
        .artifact = a->sb->artifact,
        .limits = {.memory_bytes = (uint64_t)p->memory_bytes,
                   .fuel = p->fuel_budget,
                   .deadline_ns = a->deadline_ns,
                   .allow_unmetered = a->sb->allow_unmetered},
        .wasi = viv_sandbox_wasi_imports(),
        .wasi_ctx = w,
        .attach_memory = child_attach_memory,
    };
    rep->status = viv_engine_run(&run, &rep->outcome);
    const char *reason = end_name(rep->outcome.end, rep->outcome.memory_cap_hit);
    if (rep->status == VIV_ENGINE_OK && reason != NULL) {
        char line[320];
        int n = snprintf(line, sizeof line, "Execution trapped: %s\n", reason);
        viv_wasi_append_stderr(w, line, (size_t)n);
    }
    viv_wasi_get_output_stats(w, &rep->output);
    viv_wasi_destroy(w);
    rep->complete = 1;
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

static void fill_from_report(const child_report *rep, const viv_policy *p, viv_result *res)
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

viv_status viv_sandbox_run_child(viv_sandbox *sb, const char *program_dir, const char *program_name,
                                 const char *workspace, const viv_exec_options *opts,
                                 viv_result *res, viv_error *err)
{
    const viv_policy *p = sb->policy;
    res->out.cap_bytes = (size_t)p->stdout_max_bytes;
    res->err.cap_bytes = (size_t)p->stderr_max_bytes;
    res->fuel_budget = p->fuel_budget;
    res->memory_limit = (uint64_t)p->memory_bytes;

    child_report *rep =
        mmap(NULL, sizeof *rep, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (rep == MAP_FAILED) {
        return viv_error_set(err, VIV_EHOST, NULL, NULL, "cannot map the report page: %s",
                             strerror(errno));
    }
    memset(rep, 0, sizeof *rep);
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (out_pipe[i] >= 0) {
                close(out_pipe[i]);
            }
        }
        munmap(rep, sizeof *rep);
        return viv_error_set(err, VIV_EHOST, NULL, NULL, "cannot create pipes: %s", strerror(e));
    }

    uint64_t start = monotonic_ns();
    uint64_t deadline = 0;
    if (p->timeout_seconds > 0) {
        deadline = start + (uint64_t)(p->timeout_seconds * 1e9);
    }
    child_args args = {sb,          program_dir, program_name, workspace, opts,
                       out_pipe[1], err_pipe[1], deadline,     rep};
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(out_pipe[0]);
        close(out_pipe[1]);
        close(err_pipe[0]);
        close(err_pipe[1]);
        munmap(rep, sizeof *rep);
        return viv_error_set(err, VIV_EHOST, NULL, NULL, "cannot fork: %s", strerror(e));
    }
    if (pid == 0) {
        /* The pipe ends survive the close-everything step by number. */
        int o = fcntl(out_pipe[1], F_GETFD), e2 = fcntl(err_pipe[1], F_GETFD);
        fcntl(out_pipe[1], F_SETFD, o & ~FD_CLOEXEC);
        fcntl(err_pipe[1], F_SETFD, e2 & ~FD_CLOEXEC);
        child_main(&args);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);

    int fds[2] = {out_pipe[0], err_pipe[0]};
    bool killed = false;
    while (fds[0] >= 0 || fds[1] >= 0) {
        struct pollfd pfd[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        int timeout_ms = -1;
        if (deadline != 0 && !killed) {
            uint64_t now = monotonic_ns();
            uint64_t kill_at = deadline + KILL_GRACE_NS;
            if (now >= kill_at) {
                /* The child ignored its own deadline (or is stuck in the
                 * host): stop it the hard way. */
                kill(pid, SIGKILL);
                killed = true;
            } else {
                timeout_ms = (int)((kill_at - now) / 1000000u) + 1;
            }
        }
        int n = poll(pfd, 2, timeout_ms);
        if (n < 0 && errno != EINTR) {
            kill(pid, SIGKILL);
            killed = true;
            break;
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
    int wstatus = 0;
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    res->duration_ms = (double)(monotonic_ns() - start) / 1e6;

    viv_status st = VIV_OK;
    if (rep->complete && rep->status == VIV_ENGINE_OK) {
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
        static const char line[] = "Execution trapped: timeout\n";
        size_t accepted;
        capture_append(&res->err, line, sizeof line - 1, &accepted);
    } else if (rep->setup_error[0] != '\0') {
        st = viv_error_set(err, VIV_EHOST, NULL, NULL, "%s", rep->setup_error);
    } else {
        res->reason = VIV_TRAP_HOST_ERROR;
        res->trapped = true;
        res->exit_code = -1;
        if (WIFSIGNALED(wstatus)) {
            snprintf(res->trap_message, sizeof res->trap_message,
                     "the execution's process died of signal %d (%s)", WTERMSIG(wstatus),
                     strsignal(WTERMSIG(wstatus)));
        } else {
            snprintf(res->trap_message, sizeof res->trap_message,
                     "the execution's process ended without a report (status %d)",
                     WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
        }
        static const char line[] = "Execution trapped: host_error\n";
        size_t accepted;
        capture_append(&res->err, line, sizeof line - 1, &accepted);
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
