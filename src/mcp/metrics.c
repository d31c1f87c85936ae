/*
 * src/mcp/metrics.c: what get_metrics reports.
 *
 * Owns: the counters (tool calls, executions by outcome and trap reason,
 * fuel) and a ring of the most recent execution durations, from which the
 * percentiles are computed on demand. Callers hold the server mutex.
 */
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"

/* Percentiles describe the recent past; a bounded ring keeps memory flat
 * on a server that runs for months. */
#define DURATION_RING 4096

int mcp_metrics_init(mcp_metrics *m)
{
    memset(m, 0, sizeof *m);
    m->durations = calloc(DURATION_RING, sizeof *m->durations);
    return m->durations == NULL ? -1 : 0;
}

void mcp_metrics_free(mcp_metrics *m)
{
    free(m->durations);
    m->durations = NULL;
}

void mcp_metrics_tool(mcp_metrics *m, const char *name, bool is_error)
{
    m->tool_calls++;
    if (is_error) {
        m->tool_errors++;
    }
    for (size_t i = 0; i < m->per_tool_n; i++) {
        if (strcmp(m->per_tool[i].name, name) == 0) {
            m->per_tool[i].calls++;
            return;
        }
    }
    if (m->per_tool_n < sizeof m->per_tool / sizeof m->per_tool[0]) {
        struct mcp_tool_count *t = &m->per_tool[m->per_tool_n++];
        snprintf(t->name, sizeof t->name, "%s", name);
        t->calls = 1;
    }
}

void mcp_metrics_execution(mcp_metrics *m, const viv_result *r)
{
    m->executions++;
    if (viv_result_success(r)) {
        m->exec_success++;
    } else if (viv_result_trapped(r)) {
        m->exec_trapped++;
    } else {
        m->exec_nonzero_exit++;
    }
    unsigned reason = (unsigned)viv_result_trap_reason(r);
    if (reason < MCP_TRAP_KINDS) {
        m->traps[reason]++;
    }
    m->fuel_total += viv_result_fuel_consumed(r);
    double d = viv_result_duration_ms(r);
    m->duration_total_ms += d;
    m->durations[m->next] = d;
    m->next = (m->next + 1) % DURATION_RING;
    if (m->ndurations < DURATION_RING) {
        m->ndurations++;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double percentile(const double *sorted, size_t n, double p)
{
    if (n == 0) {
        return 0;
    }
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    if (rank > n) {
        rank = n;
    }
    return sorted[rank - 1];
}

static double ratio(uint64_t a, uint64_t b) { return b == 0 ? 0.0 : (double)a / (double)b; }

json_t *mcp_metrics_json(const mcp_metrics *m)
{
    double *sorted = NULL;
    if (m->ndurations > 0) {
        sorted = malloc(m->ndurations * sizeof *sorted);
        if (sorted == NULL) {
            return NULL;
        }
        memcpy(sorted, m->durations, m->ndurations * sizeof *sorted);
        qsort(sorted, m->ndurations, sizeof *sorted, cmp_double);
    }
    json_t *traps = json_object();
    for (unsigned i = 1; traps != NULL && i < MCP_TRAP_KINDS; i++) {
        const char *name = viv_trap_reason_name((viv_trap_reason)i);
        if (name != NULL) {
            json_object_set_new(traps, name, json_integer((json_int_t)m->traps[i]));
        }
    }
    json_t *tools = json_object();
    for (size_t i = 0; tools != NULL && i < m->per_tool_n; i++) {
        json_object_set_new(tools, m->per_tool[i].name,
                            json_integer((json_int_t)m->per_tool[i].calls));
    }
    uint64_t failed = m->exec_trapped + m->exec_nonzero_exit;
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:f, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:o}, s:I, "
        "s:{s:I, s:f, s:f, s:f, s:f, s:f}}",
        "tool_calls", (json_int_t)m->tool_calls, "tool_errors", (json_int_t)m->tool_errors,
        "protocol_errors", (json_int_t)m->rpc_errors, "tool_error_rate",
        ratio(m->tool_errors, m->tool_calls), "tool_calls_by_name", tools ? tools : json_object(),
        "executions", "total", (json_int_t)m->executions, "succeeded", (json_int_t)m->exec_success,
        "nonzero_exit", (json_int_t)m->exec_nonzero_exit, "trapped", (json_int_t)m->exec_trapped,
        "rejected", (json_int_t)m->exec_rejected, "error_rate", ratio(failed, m->executions),
        "trap_rate", ratio(m->exec_trapped, m->executions), "trap_reasons",
        traps ? traps : json_object(), "fuel_consumed_total", (json_int_t)m->fuel_total,
        "duration_ms", "samples", (json_int_t)m->ndurations, "mean",
        m->executions ? m->duration_total_ms / (double)m->executions : 0.0, "p50",
        percentile(sorted, m->ndurations, 50), "p95", percentile(sorted, m->ndurations, 95), "p99",
        percentile(sorted, m->ndurations, 99), "max",
        m->ndurations ? sorted[m->ndurations - 1] : 0.0);
    free(sorted);
    return o;
}
