/*
 * src/cli/run.c: `vivarium run`.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "eventlog.h"

static const char run_usage_head[] =
    "Usage: vivarium run [OPTIONS] (-c CODE | FILE | -) [ARGS...]\n"
    "\n"
    "Run Python code inside the WebAssembly sandbox and pass its output through.\n"
    "\n"
    "Program:\n"
    "  -c, --code CODE        run CODE\n"
    "  FILE                   run the Python file FILE (shown to the guest as\n"
    "                         /.vivarium/FILE, read-only, outside the workspace)\n"
    "  -                      read the program from standard input\n"
    "  ARGS                   extra sys.argv entries for the program\n"
    "\n"
    "Server:\n"
    "      --socket PATH      run through the `vivarium serve` listening at PATH (default\n"
    "                         $VIVARIUM_SOCKET); if nothing listens there, run here\n"
    "                         instead, with the same results apart from timing\n"
    "\n";
static const char run_usage_tail[] =
    "\n"
    "Exit status: the guest's own status (0-123; higher statuses are reported as 123),\n"
    "124 timeout, 125 usage or policy error (nothing ran), 126 stopped by a trap or a\n"
    "limit, 127 guest module not found or not compiled, 130 interrupted (SIGINT or\n"
    "SIGTERM stops the guest; the result says trap_reason \"cancelled\"). --json keeps\n"
    "the same status.\n";

/* The one token a signal handler may reach: the CLI runs one execution. */
static viv_cancel *interrupt_token;

static void on_interrupt(int sig)
{
    (void)sig;
    viv_cancel_trigger(interrupt_token);
}

static void stream_output(void *user, int stream, const char *bytes, size_t len)
{
    (void)user;
    FILE *f = stream == 1 ? stdout : stderr;
    fwrite(bytes, 1, len, f);
    fflush(f);
}

int viv_cli_run(int argc, char **argv)
{
    char usage[8192];
    snprintf(usage, sizeof usage, "%s%s%s", run_usage_head, viv_cli_policy_help, run_usage_tail);
    viv_cli_common c;
    int rc = viv_cli_parse_common("run", usage, argc, argv, &c);
    if (rc >= 0 || (rc = viv_cli_load_program("run", &c, argc, argv)) >= 0) {
        viv_cli_common_free(&c);
        return rc;
    }
    const char *socket_path = c.socket;
    if (socket_path == NULL) {
        const char *env = getenv("VIVARIUM_SOCKET");
        socket_path = env != NULL && *env != '\0' ? env : NULL;
    }
    if (socket_path != NULL) {
        viv_cli_eventlog *events = NULL;
        if ((rc = viv_cli_eventlog_open("run", c.log_target, &events)) >= 0) {
            viv_cli_common_free(&c);
            return rc;
        }
        bool ran = false;
        rc = viv_cli_remote_run(&c, argc, argv, socket_path, events, &ran);
        viv_cli_eventlog_close(events);
        if (ran) {
            viv_cli_common_free(&c);
            return rc;
        }
    }
    viv_error err = {0};
    viv_logger *logger = NULL;
    viv_session_store *store = NULL;
    viv_sandbox *sb = NULL;
    if ((rc = viv_cli_open_logger("run", c.log_target, &logger)) >= 0) {
        viv_cli_common_free(&c);
        return rc;
    }
    viv_status st = VIV_OK;
    if (c.session_id != NULL || c.sessions_dir != NULL) {
        st = viv_session_store_open(c.sessions_dir ? c.sessions_dir : "workspace", &store, &err);
        viv_session_store_set_logger(store, logger);
    }
    if (st == VIV_OK) {
        st = viv_sandbox_create(c.policy, c.wasm ? c.wasm : viv_cli_default_guest(), &sb, &err);
    }
    if (st != VIV_OK) {
        viv_cli_common_free(&c);
        viv_session_store_close(store);
        viv_logger_free(logger);
        return viv_cli_fail("run", st, &err);
    }
    viv_sandbox_set_logger(sb, logger);
    /* VIVARIUM_WARM=1 serves this one execution from a warm interpreter
     * started in this process: no faster (it pays the start-up itself), but
     * it runs the warm path end to end, so the test suite can hold it to
     * the cold path's results. `vivarium serve` is what makes it fast. */
    viv_warm_pool *warm = NULL;
    const char *want_warm = getenv("VIVARIUM_WARM");
    if (want_warm != NULL && strcmp(want_warm, "1") == 0 &&
        viv_warm_pool_create(NULL, &warm, &err) == VIV_OK) {
        viv_sandbox_set_warm_pool(sb, warm);
    }
    viv_cancel *cancel = NULL;
    if (viv_cancel_create(&cancel, &err) == VIV_OK) {
        interrupt_token = cancel;
        struct sigaction sa = {.sa_handler = on_interrupt};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    viv_exec_options eo = {
        .filename = c.filename,
        .args = (const char *const *)(argv + c.first_arg),
        .nargs = (size_t)(argc - c.first_arg),
        .on_output = c.json ? NULL : stream_output,
        .stdin_data = (const uint8_t *)c.stdin_data,
        .stdin_len = c.stdin_len,
        .sessions = store,
        .session_id = c.session_id,
        .cancel = cancel,
    };
    viv_result *res = NULL;
    st = viv_sandbox_execute(sb, c.program, c.program_len, &eo, &res, &err);
    viv_sandbox_set_warm_pool(sb, NULL);
    viv_warm_pool_destroy(warm);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    interrupt_token = NULL;
    viv_cancel_destroy(cancel);
    viv_sandbox_destroy(sb);
    viv_session_store_close(store);
    viv_logger_free(logger);
    bool json = c.json;
    viv_cli_common_free(&c);
    if (st != VIV_OK) {
        return viv_cli_fail("run", st, &err);
    }
    if (json) {
        char *text = NULL;
        if (viv_result_to_json(res, &text, &err) != VIV_OK) {
            viv_result_free(res);
            return viv_cli_fail("run", VIV_EHOST, &err);
        }
        puts(text);
        free(text);
    }
    rc = viv_cli_exit_status(res);
    viv_result_free(res);
    return rc;
}

int viv_cli_exit_status(const viv_result *res)
{
    if (viv_result_trap_reason(res) == VIV_TRAP_TIMEOUT) {
        return VIV_EXIT_TIMEOUT;
    }
    if (viv_result_trap_reason(res) == VIV_TRAP_CANCELLED) {
        return VIV_EXIT_INTERRUPTED;
    }
    if (viv_result_trapped(res)) {
        return VIV_EXIT_TRAPPED;
    }
    int code = viv_result_exit_code(res);
    return code < 0 ? VIV_EXIT_TRAPPED : code > VIV_EXIT_GUEST_MAX ? VIV_EXIT_GUEST_MAX : code;
}
