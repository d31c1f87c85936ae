/*
 * src/sandbox/guidance.c: fuel analysis and failure hints for results (see
 * guidance.h and docs/result.md, "Guidance").
 */
#include "guidance.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* WASI preview 1 errno values, as the guest's Python prints them. */
#define WASI_EACCES      2
#define WASI_ENOENT      44
#define WASI_EPERM       63
#define WASI_EROFS       69
#define WASI_ENOTCAPABLE 76

#define MAX_MEMORY_BYTES ((uint64_t)4 << 30) /* the policy's ceiling */

/* --- fuel ------------------------------------------------------------------ */

int64_t viv_guidance_suggest_budget(int64_t measured)
{
    if (measured <= 0) {
        return 0;
    }
    if (measured > INT64_MAX / 2) {
        return INT64_MAX;
    }
    int64_t want = measured * 2;
    /* Round up to two significant digits: 7,260,450,687 -> 15,000,000,000
     * (from 14,520,901,374), easy to read and type. */
    int64_t unit = 1;
    while (want / unit >= 100) {
        unit *= 10;
    }
    int64_t q = want / unit + (want % unit != 0);
    return q > INT64_MAX / unit ? INT64_MAX : q * unit;
}

static const char *fuel_status(double u, bool exhausted)
{
    if (exhausted) {
        return "exhausted";
    }
    if (u < VIV_FUEL_EFFICIENT_BELOW) {
        return "efficient";
    }
    if (u < VIV_FUEL_MODERATE_BELOW) {
        return "moderate";
    }
    if (u < VIV_FUEL_WARNING_BELOW) {
        return "warning";
    }
    return "critical";
}

json_t *viv_guidance_fuel(int64_t consumed, int64_t budget, bool out_of_fuel)
{
    if (budget <= 0) {
        return NULL;
    }
    bool exhausted = out_of_fuel || consumed >= budget;
    double u = (double)consumed / (double)budget;
    if (u > 1.0) {
        u = 1.0;
    }
    const char *status = fuel_status(u, exhausted);
    /* Four decimals are plenty and keep the JSON stable to read. */
    double shown = (double)(int64_t)(u * 10000.0 + 0.5) / 10000.0;
    json_t *o = json_pack("{s:I, s:I, s:f, s:s}", "consumed", (json_int_t)consumed, "budget",
                          (json_int_t)budget, "utilisation", shown, "status", status);
    /* Suggestions start at "warning". */
    if (o == NULL || (!exhausted && u < VIV_FUEL_MODERATE_BELOW)) {
        return o;
    }
    /* A finished run measured what it needed; an exhausted one only shows
     * that it needed more than its budget, so the budget is a lower bound. */
    int64_t measured = exhausted ? budget : consumed;
    json_object_set_new(o, "suggested_budget",
                        json_integer((json_int_t)viv_guidance_suggest_budget(measured)));
    json_object_set_new(o, "suggestion_basis", json_string(exhausted ? "lower_bound" : "measured"));
    return o;
}

/* --- the final exception of a traceback ------------------------------------- */

static const char TB_HEADER[] = "Traceback (most recent call last):";

static bool is_ident_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }

bool viv_guidance_parse_exception(const char *err, size_t len, viv_exception_line *out)
{
    memset(out, 0, sizeof *out);
    if (err == NULL || len == 0) {
        return false;
    }
    /* The last header that starts a line: chained exceptions print several
     * tracebacks, and the final one is what ended the program. */
    const char *hdr = NULL;
    size_t hl = sizeof TB_HEADER - 1;
    for (size_t i = 0; i + hl <= len; i++) {
        if ((i == 0 || err[i - 1] == '\n') && memcmp(err + i, TB_HEADER, hl) == 0) {
            hdr = err + i;
        }
    }
    if (hdr == NULL) {
        return false;
    }
    const char *end = err + len;
    const char *p = memchr(hdr, '\n', (size_t)(end - hdr));
    /* Frames and source lines are indented; the exception line is not. */
    while (p != NULL && p + 1 < end) {
        const char *line = p + 1;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL) {
            eol = end;
        }
        if (line[0] == ' ' || line[0] == '\t') {
            p = eol < end ? eol : NULL;
            continue;
        }
        size_t n = 0;
        if (!is_ident_start(line[0])) {
            return false;
        }
        while (line + n < eol && (is_ident_char(line[n]) || line[n] == '.')) {
            n++;
        }
        if (n >= sizeof out->type || line[n - 1] == '.') {
            return false;
        }
        const char *msg = line + n;
        if (msg < eol && *msg != ':') {
            return false;
        }
        memcpy(out->type, line, n);
        out->type[n] = '\0';
        if (msg < eol) {
            msg++;
            if (msg < eol && *msg == ' ') {
                msg++;
            }
            size_t m = (size_t)(eol - msg);
            if (m > 0 && msg[m - 1] == '\r') {
                m--;
            }
            if (m >= sizeof out->message) {
                m = sizeof out->message - 1;
            }
            memcpy(out->message, msg, m);
            out->message[m] = '\0';
        }
        return true;
    }
    return false;
}

/* "No module named 'a.b'" -> a.b; nothing else is accepted. */
static bool parse_no_module(const char *msg, char *name, size_t len)
{
    static const char pre[] = "No module named '";
    size_t pl = sizeof pre - 1, n = strlen(msg);
    if (n <= pl + 1 || strncmp(msg, pre, pl) != 0 || msg[n - 1] != '\'') {
        return false;
    }
    size_t m = n - pl - 1;
    if (m == 0 || m >= len) {
        return false;
    }
    for (size_t i = 0; i < m; i++) {
        char c = msg[pl + i];
        bool ok = c == '.' ? i > 0 && i + 1 < m && msg[pl + i - 1] != '.'
                  : (i == 0 || msg[pl + i - 1] == '.') ? is_ident_start(c)
                                                       : is_ident_char(c);
        if (!ok) {
            return false;
        }
    }
    memcpy(name, msg + pl, m);
    name[m] = '\0';
    return true;
}

/* "[Errno N] text: 'path'" (optionally "... -> 'other'"): N and the first
 * path, from Python's repr of a str. A repr with escapes other than \\ and
 * the quote itself is given up on rather than guessed at. */
static bool parse_os_error(const char *msg, int *errnum, char *path, size_t len)
{
    if (strncmp(msg, "[Errno ", 7) != 0) {
        return false;
    }
    const char *p = msg + 7;
    int e = 0;
    if (*p < '0' || *p > '9') {
        return false;
    }
    while (*p >= '0' && *p <= '9' && e < 100000) {
        e = e * 10 + (*p++ - '0');
    }
    if (*p++ != ']' || *p++ != ' ') {
        return false;
    }
    const char *colon = strstr(p, ": '");
    const char *colon2 = strstr(p, ": \"");
    if (colon == NULL || (colon2 != NULL && colon2 < colon)) {
        colon = colon2;
    }
    if (colon == NULL) {
        return false;
    }
    char q = colon[2];
    size_t w = 0;
    for (p = colon + 3; *p && *p != q; p++) {
        if (*p == '\\') {
            p++;
            if (*p != '\\' && *p != q) {
                return false;
            }
        }
        if (w + 1 >= len) {
            return false;
        }
        path[w++] = *p;
    }
    if (*p != q || w == 0) {
        return false;
    }
    path[w] = '\0';
    *errnum = e;
    return true;
}

static bool under(const char *path, const char *root)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/') {
        n--;
    }
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* --- hints -------------------------------------------------------------------- */

static json_t *hint_new(const char *type, const char *message, const char *example)
{
    return json_pack("{s:s, s:s, s:[], s:s}", "type", type, "message", message, "steps", "example",
                     example);
}

static void step(json_t *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void step(json_t *h, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_array_append_new(json_object_get(h, "steps"), json_string(buf));
}

static json_t *hint_fuel(const viv_guidance_input *in)
{
    int64_t s = viv_guidance_suggest_budget(in->fuel_budget);
    char ex[200];
    snprintf(ex, sizeof ex, "vivarium run --fuel %lld ...   (policy: fuel_budget = %lld)",
             (long long)s, (long long)s);
    json_t *h = hint_new("out_of_fuel",
                         "The run used its whole instruction budget (fuel) "
                         "and was stopped.",
                         ex);
    if (h == NULL) {
        return NULL;
    }
    json_object_set_new(h, "suggested_budget", json_integer((json_int_t)s));
    step(h, "If the work is finite, raise the budget: it needed more than %lld; try %lld.",
         (long long)in->fuel_budget, (long long)s);
    step(h, "Look for a loop that never ends, or work that grows faster than expected.");
    step(h, "Do less per run: process the data in parts, import only the modules you use "
            "(large packages such as sympy cost billions of fuel to import).");
    return h;
}

static json_t *hint_memory(const viv_guidance_input *in)
{
    uint64_t s = in->memory_limit * 2;
    if (s > MAX_MEMORY_BYTES || s < in->memory_limit) {
        s = MAX_MEMORY_BYTES;
    }
    char ex[200];
    snprintf(ex, sizeof ex, "vivarium run --memory %llu ...   (policy: memory_bytes = %llu)",
             (unsigned long long)s, (unsigned long long)s);
    json_t *h = hint_new("memory_limit",
                         "The guest asked for more linear memory than the policy allows.", ex);
    if (h == NULL) {
        return NULL;
    }
    json_object_set_new(h, "memory_limit_bytes", json_integer((json_int_t)in->memory_limit));
    if (in->memory_limit < MAX_MEMORY_BYTES) {
        step(h, "Raise memory_bytes (now %llu; at most 4 GiB), for example to %llu.",
             (unsigned long long)in->memory_limit, (unsigned long long)s);
    }
    step(h, "Hold less at once: read files line by line or in chunks, use generators instead "
            "of lists, and drop large objects with del when done.");
    return h;
}

static json_t *hint_timeout(const viv_guidance_input *in)
{
    char ex[200];
    double s = in->timeout_seconds > 0 ? in->timeout_seconds * 2 : 60;
    snprintf(ex, sizeof ex, "vivarium run --timeout %g ...   (policy: timeout_seconds = %g)", s, s);
    json_t *h =
        hint_new("timeout", "The wall-clock deadline passed before the program finished.", ex);
    if (h == NULL) {
        return NULL;
    }
    step(h, "If the program is making progress, raise timeout_seconds (now %g).",
         in->timeout_seconds);
    step(h, "Look for sleeps, waits on standard input (it is empty unless given), or loops "
            "that never end.");
    return h;
}

static json_t *hint_module(const viv_guidance_input *in, const char *name)
{
    char top[256];
    size_t n = strcspn(name, ".");
    snprintf(top, sizeof top, "%.*s", (int)n, name);
    bool have_top = false;
    for (size_t i = 0; i < in->nmodules; i++) {
        have_top = have_top || strcmp(in->modules[i], top) == 0;
    }
    char msg[700];
    if (have_top && name[n] == '.') {
        snprintf(msg, sizeof msg,
                 "%s is available, but it has no module %s. Nothing can be installed in the "
                 "sandbox.",
                 top, name);
    } else {
        snprintf(msg, sizeof msg,
                 "No module named '%s' is available, and nothing can be installed in the "
                 "sandbox (there is no network and no pip). Use the standard library or one "
                 "of the available packages.",
                 name);
    }
    json_t *h = hint_new("module_not_found", msg,
                         in->nmodules > 0 ? "import yaml, jinja2   # packages listed in "
                                            "available_packages"
                                          : "import json, csv   # the standard library");
    if (h == NULL) {
        return NULL;
    }
    json_object_set_new(h, "module", json_string(name));
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < in->nmodules; i++) {
        json_array_append_new(list, json_string(in->modules[i]));
    }
    json_object_set_new(h, "available_packages", list ? list : json_array());
    if (!in->batteries) {
        step(h, "This host has no batteries tree (docs/batteries.md), so only the standard "
                "library is available.");
    } else {
        step(h, "Pick one of available_packages, or use the standard library (json, csv, re, "
                "datetime, statistics, ...).");
    }
    step(h, "Or write the needed code yourself in the program.");
    return h;
}

static void describe_mounts(json_t *h, const viv_guidance_input *in)
{
    step(h,
         "%s is the workspace: read and write your files there (relative paths are "
         "not: the working directory is /).",
         in->workspace_guest);
    if (in->data_guest != NULL) {
        step(h, "%s holds the input data, read-only.", in->data_guest);
    } else {
        step(h, "There is no /data input directory in this run (the policy sets none).");
    }
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < in->nmounts; i++) {
        json_array_append_new(list, json_pack("{s:s, s:b}", "path", in->mounts[i].guest, "writable",
                                              in->mounts[i].writable));
    }
    json_object_set_new(h, "mounts", list ? list : json_array());
}

static json_t *hint_path(const viv_guidance_input *in, int errnum, const char *path)
{
    char guest[1100];
    bool relative = path[0] != '/';
    snprintf(guest, sizeof guest, "%s%s", relative ? "/" : "", path);
    const viv_guidance_mount *m = NULL;
    for (size_t i = 0; i < in->nmounts; i++) {
        if (under(guest, in->mounts[i].guest)) {
            m = &in->mounts[i];
        }
    }
    char msg[1400], ex[300];
    json_t *h = NULL;
    if (errnum == WASI_EROFS && (m == NULL || !m->writable)) {
        if (m != NULL) {
            snprintf(msg, sizeof msg, "%s is on a read-only mount (%s); only %s can be written.",
                     path, m->guest, in->workspace_guest);
        } else {
            snprintf(msg, sizeof msg, "%s is read-only; only %s can be written.", path,
                     in->workspace_guest);
        }
        const char *base = strrchr(guest, '/');
        snprintf(ex, sizeof ex, "open('%s%s', 'w')", in->workspace_guest,
                 base && base[1] ? base : "/output.txt");
        h = hint_new("read_only_mount", msg, ex);
        if (h != NULL) {
            step(h, "Write outputs under %s instead; read inputs from where they are.",
                 in->workspace_guest);
        }
    } else if (m == NULL && (errnum == WASI_ENOENT || errnum == WASI_ENOTCAPABLE ||
                             errnum == WASI_EACCES || errnum == WASI_EPERM)) {
        if (relative) {
            snprintf(msg, sizeof msg,
                     "'%s' is a relative path; the working directory is /, which is not a "
                     "mount, so it resolved outside the directories the run can see.",
                     path);
        } else {
            snprintf(msg, sizeof msg,
                     "%s is outside the directories the run can see: the sandbox shows the "
                     "guest only its mounts, not the host's file system.",
                     path);
        }
        const char *base = strrchr(guest, '/');
        snprintf(ex, sizeof ex, "open('%s%s')", in->workspace_guest,
                 base && base[1] ? base : "/input.txt");
        h = hint_new("path_outside_mounts", msg, ex);
    }
    if (h == NULL) {
        return NULL;
    }
    json_object_set_new(h, "path", json_string(path));
    describe_mounts(h, in);
    return h;
}

static bool is_os_error_type(const char *t)
{
    static const char *const types[] = {
        "OSError",           "FileNotFoundError",  "PermissionError",
        "IsADirectoryError", "NotADirectoryError", "FileExistsError",
        "IOError",
    };
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        if (strcmp(t, types[i]) == 0) {
            return true;
        }
    }
    return false;
}

json_t *viv_guidance_hint(const viv_guidance_input *in)
{
    if (in->trapped) {
        switch (in->reason) {
        case VIV_TRAP_OUT_OF_FUEL:
            return hint_fuel(in);
        case VIV_TRAP_MEMORY_LIMIT:
            return hint_memory(in);
        case VIV_TRAP_TIMEOUT:
            return hint_timeout(in);
        default:
            return NULL;
        }
    }
    /* An uncaught exception exits with status 1 after printing its
     * traceback last; a truncated stderr lost that end. */
    if (in->exit_code != 1 || in->stderr_truncated) {
        return NULL;
    }
    viv_exception_line ex;
    if (!viv_guidance_parse_exception(in->stderr_data, in->stderr_len, &ex)) {
        return NULL;
    }
    char name[256], path[1024];
    int errnum = 0;
    if (strcmp(ex.type, "ModuleNotFoundError") == 0 &&
        parse_no_module(ex.message, name, sizeof name)) {
        return hint_module(in, name);
    }
    if (strcmp(ex.type, "MemoryError") == 0) {
        return hint_memory(in);
    }
    if (is_os_error_type(ex.type) && parse_os_error(ex.message, &errnum, path, sizeof path)) {
        return hint_path(in, errnum, path);
    }
    return NULL;
}
