/*
 * tests/unit/log/test_log_processes.c: one file, two processes.
 *
 * Owns: the O_APPEND guarantee that matters to operators: two processes,
 * each with its own logger on the same file, released at the same moment,
 * 500 events each, give exactly 1000 whole JSON lines with each process's
 * events in its own order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "log_test_util.h"

#define PROCS  2
#define EVENTS 500

static int fds_at_start;

/* In the child: wait for the go signal, then log. Never returns. */
static void child(const char *path, int go_fd, int id)
{
    viv_logger *lg;
    if (viv_logger_new(&lg, NULL) != VIV_OK || viv_logger_add_file(lg, path, NULL) != VIV_OK) {
        _exit(2);
    }
    char go;
    if (read(go_fd, &go, 1) != 0) { /* EOF is the signal */
        _exit(3);
    }
    /* Lines of a few kilobytes: big enough that an interleaving writer
     * would show. */
    char pad[3000];
    memset(pad, 'p' + id, sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    char id_text[VIV_LOG_EXECUTION_ID_LEN + 1];
    viv_log_new_execution_id(id_text);
    for (int i = 0; i < EVENTS; i++) {
        json_t *f = json_pack("{s:i, s:i, s:s}", "proc", id, "seq", i, "pad", pad);
        viv_log_emit(lg, VIV_LOG_INFO, VIV_EV_EXECUTION_COMPLETE, id_text, f);
        json_decref(f);
    }
    int status = viv_logger_dropped(lg) == 0 ? 0 : 4;
    viv_logger_free(lg);
    _exit(status);
}

static void test_two_processes_one_file(void **state)
{
    const char *dir = lt_temp_dir("procs");
    assert_non_null(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/shared.jsonl", dir);

    int go[2];
    assert_int_equal(pipe2(go, O_CLOEXEC), 0);
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(go[1]);
            child(path, go[0], i);
        }
    }
    close(go[0]);
    close(go[1]); /* go */
    for (int i = 0; i < PROCS; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }

    char *text = lt_read_file(path, NULL);
    assert_non_null(text);
    json_t *lines = lt_parse_lines(text);
    free(text);
    assert_non_null(lines);
    assert_int_equal(json_array_size(lines), PROCS * EVENTS);
    int next[PROCS] = {0};
    const char *exec_id[PROCS] = {NULL};
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o)
    {
        int p = (int)json_integer_value(json_object_get(o, "proc"));
        assert_in_range(p, 0, PROCS - 1);
        assert_int_equal(json_integer_value(json_object_get(o, "seq")), next[p]);
        next[p]++;
        assert_int_equal(strlen(lt_str(o, "pad")), 2999);
        assert_true(lt_ts_valid(lt_str(o, "ts")));
        const char *eid = lt_str(o, "execution_id");
        assert_non_null(eid);
        if (exec_id[p] == NULL) {
            exec_id[p] = eid;
        }
        assert_string_equal(eid, exec_id[p]);
    }
    for (int p = 0; p < PROCS; p++) {
        assert_int_equal(next[p], EVENTS);
    }
    assert_string_not_equal(exec_id[0], exec_id[1]);
    json_decref(lines);
    unlink(path);
    rmdir(dir);
}

static int group_setup(void **state)
{
    fds_at_start = lt_count_fds();
    return 0;
}

static int group_teardown(void **state)
{
    int now = lt_count_fds();
    if (now != fds_at_start) {
        fprintf(stderr, "descriptor leak: %d open at start, %d at the end\n", fds_at_start, now);
        return -1;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_processes_one_file),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
