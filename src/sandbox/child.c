/*
 * src/sandbox/child.c: what every execution process does for itself (see
 * child.h), shared by the cold path (execute.c) and the warm one (zygote.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"

/* A live interpreter's CPU backstop over its whole life: past it, the
 * process ends, and the session goes on from its saved state. */
#define VIV_LIVE_CPU_SECONDS 3600u

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
    viv_child_note_security(user, kind, guest_path);
}

void viv_child_note_security(viv_child_report *rep, viv_wasi_security_kind kind,
                             const char *guest_path)
{
    rep->security_total++;
    if (rep->nsecurity < VIV_MAX_SECURITY_EVENTS) {
        viv_security_event *e = &rep->security[rep->nsecurity++];
        e->kind = (int)kind;
        snprintf(e->path, sizeof e->path, "%s", guest_path ? guest_path : "");
    }
}

void viv_child_wasi_config(const viv_exec_spec *s, int out_fd, int err_fd, viv_child_report *rep,
                           viv_wasi_config *cfg)
{
    *cfg = (viv_wasi_config){
        .argv = s->argv,
        .argc = s->argc,
        .env = s->env,
        .envc = s->envc,
        .preopens = s->preopens,
        .npreopens = s->npreopens,
        .stdin_data = s->stdin_data,
        .stdin_len = s->stdin_len,
        .stdout_fd = out_fd,
        .stderr_fd = err_fd,
        .stdout_max = s->stdout_max,
        .stderr_max = s->stderr_max,
        .deadline_ns = s->deadline_ns,
        .on_deadline = child_on_deadline,
        .on_exit = child_on_exit,
        .on_security = child_on_security,
        .user = rep,
    };
}

viv_engine_limits viv_child_limits(const viv_exec_spec *s)
{
    return (viv_engine_limits){.memory_bytes = s->memory_bytes,
                               .fuel = s->fuel,
                               .deadline_ns = s->deadline_ns,
                               .allow_unmetered = s->allow_unmetered,
                               .process_ends = true};
}

int viv_child_enter_jail(const viv_exec_spec *s, const viv_wasi *w, int out_fd, int err_fd,
                         const int *extra_fds, size_t nextra, uint64_t extra_as,
                         viv_child_report *rep)
{
    /* 0-2 are /dev/null or our pipes: keeping them stops a guest file from
     * landing on fd 2, where glibc's fatal messages go. */
    int keep[10 + 1100];
    size_t nkeep = 0;
    keep[nkeep++] = STDIN_FILENO;
    keep[nkeep++] = STDOUT_FILENO;
    keep[nkeep++] = STDERR_FILENO;
    keep[nkeep++] = out_fd;
    keep[nkeep++] = err_fd;
    for (size_t i = 0; i < nextra && i < 4; i++) {
        if (extra_fds[i] >= 0) {
            keep[nkeep++] = extra_fds[i];
        }
    }
    size_t nhost = viv_wasi_host_fds(w, keep + nkeep, sizeof keep / sizeof keep[0] - nkeep);
    const char *rw_dirs[4 + VIV_POLICY_MAX_MOUNTS + VIV_GUEST_MAX_MOUNTS];
    const char *ro_dirs[4 + VIV_POLICY_MAX_MOUNTS + VIV_GUEST_MAX_MOUNTS];
    size_t nrw = 0, nro = 0;
    for (size_t i = 0; i < s->npreopens && i < sizeof rw_dirs / sizeof *rw_dirs; i++) {
        if (s->preopens[i].readonly) {
            ro_dirs[nro++] = s->preopens[i].host_path;
        } else {
            rw_dirs[nrw++] = s->preopens[i].host_path;
        }
    }
    uint64_t as_bytes = 0;
    int jr = viv_jail_as_budget(extra_as, &as_bytes);
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
        .nrw_dirs = nrw,
        .ro_dirs = ro_dirs,
        .nro_dirs = nro,
        .as_bytes = as_bytes,
        /* CPU time is a backstop behind the deadline, never the limit. */
        .cpu_seconds = s->live            ? VIV_LIVE_CPU_SECONDS
                       : s->timeout_s > 0 ? (uint64_t)s->timeout_s + 1 + VIV_JAIL_CPU_MARGIN_SECONDS
                                          : 0,
        .fsize_bytes = 0,
        .nofile = 0,
        .require_kernel_isolation = s->require_kernel_isolation,
        .allow_recvmsg = s->live,
    };
    char jerr[sizeof rep->setup_error - 32];
    if (viv_jail_apply(&jcfg, &rep->jail, jerr, sizeof jerr) != 0) {
        snprintf(rep->setup_error, sizeof rep->setup_error, "%s", jerr);
        return -1;
    }
    return 0;
}

/* Fault injection for tests, compiled only into test builds: proves what
 * the jail stops once it is up, and that a crashing runtime is contained.
 * VIVARIUM_TEST_HOOK (the host's environment, never the guest's):
 *   open:PATH  try a direct host open(PATH); report its errno (0 if it opened)
 *   crash      die of SIGSEGV, as a runtime bug would */
void viv_child_test_hook(viv_child_report *rep)
{
#ifdef VIV_TEST_HOOKS
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
#else
    (void)rep;
#endif
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

void viv_child_finish(viv_wasi *w, viv_child_report *rep, int out_fd, int err_fd)
{
    const char *reason = end_name(rep->outcome.end, rep->outcome.memory_cap_hit);
    if (rep->status == VIV_ENGINE_OK && reason != NULL) {
        char line[320];
        int n = snprintf(line, sizeof line, "Execution trapped: %s\n", reason);
        viv_wasi_append_stderr(w, line, (size_t)n);
    }
    viv_wasi_get_output_stats(w, &rep->output);
    /* The report is complete before end-of-file can be seen. */
    __atomic_store_n(&rep->complete, 1, __ATOMIC_RELEASE);
    close(out_fd);
    close(err_fd);
}
