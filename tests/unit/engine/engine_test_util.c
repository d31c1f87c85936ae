/*
 * tests/unit/engine/engine_test_util.c: see engine_test_util.h.
 */
#include "engine_test_util.h"

#include <errno.h>
#include <setjmp.h> /* cmocka needs setjmp.h, stdarg.h and stddef.h first */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#ifndef ENGINE_TEST_ARTIFACT_DIR
#error "ENGINE_TEST_ARTIFACT_DIR must be defined"
#endif
#ifndef ENGINE_TEST_TMP_DIR
#error "ENGINE_TEST_TMP_DIR must be defined"
#endif

#define ET_ENOSYS 52u
#define ET_EFAULT 21u

uint64_t et_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

viv_engine_limits et_default_limits(void)
{
    return (viv_engine_limits){
        .memory_bytes = (uint64_t)16 << 20,
        .fuel = 1000000000,
        .deadline_ns = 0,
        .stack_bytes = 0,
    };
}

const char *et_path(const char *name, char *buf, size_t len)
{
    if (strchr(name, '/') != NULL) {
        snprintf(buf, len, "%s", name);
    } else {
        snprintf(buf, len, "%s/%s", ENGINE_TEST_ARTIFACT_DIR, name);
    }
    return buf;
}

const char *et_scratch_dir(char *buf, size_t len)
{
    mkdir(ENGINE_TEST_TMP_DIR, 0755);
    snprintf(buf, len, "%s/scratchXXXXXX", ENGINE_TEST_TMP_DIR);
    if (mkdtemp(buf) == NULL) {
        fail_msg("mkdtemp under %s: %s", ENGINE_TEST_TMP_DIR, strerror(errno));
    }
    return buf;
}

bool et_sha256_file(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return false;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    unsigned char buf[8192];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        ok = EVP_DigestUpdate(md, buf, n) == 1;
    }
    unsigned char digest[32];
    unsigned int dlen = 0;
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(md, digest, &dlen) == 1 && dlen == 32;
    EVP_MD_CTX_free(md);
    fclose(f);
    for (unsigned i = 0; ok && i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
    return ok;
}

/* --- the fake WASI host (child side) -------------------------------------- */

static et_report *g_rep;
static const uint32_t *g_params;
static uint8_t *const *g_data;
static const uint32_t *g_size;
static const volatile uint8_t *g_noaccess;

static void on_import(void *ctx)
{
    g_rep->import_calls++;
    if (ctx != (void *)g_rep) {
        g_rep->ctx_mismatches++;
    }
    if (g_rep->attach_calls == 0) {
        g_rep->imports_before_attach++;
    }
}

static void use_args(void *ctx, ...) { (void)ctx; }

static uint32_t unexpected(void *ctx, const char *name)
{
    on_import(ctx);
    if (g_rep->unexpected_imports++ == 0) {
        snprintf(g_rep->unexpected_name, sizeof g_rep->unexpected_name, "%s", name);
    }
    return ET_ENOSYS;
}

#define VIV_WASI_CTX     void *ctx
#define VIV_WASI_CTX_ARG ctx
#define ET_DEFAULT_IMPORT(name, ret, params, args)                                                 \
    static ret et_default_##name params                                                            \
    {                                                                                              \
        use_args args;                                                                             \
        return unexpected(ctx, #name);                                                             \
    }
VIV_WASI_IMPORTS(ET_DEFAULT_IMPORT)
#undef ET_DEFAULT_IMPORT

static uint32_t et_param(void *ctx, uint32_t k)
{
    on_import(ctx);
    return k < ET_PARAMS ? g_params[k] : 0;
}

static uint32_t et_note_import(void *ctx, uint32_t v)
{
    on_import(ctx);
    et_note n = {.value = v, .mem_size = 0, .byte = -1};
    if (g_size != NULL) {
        n.mem_size = *g_size;
        if (v < n.mem_size) {
            n.byte = (*g_data)[v];
        }
    }
    if (g_rep->nnotes < ET_MAX_NOTES) {
        g_rep->notes[g_rep->nnotes] = n;
    }
    g_rep->nnotes++;
    g_rep->last_note = n;
    return 0;
}

static bool guest_range(uint32_t addr, uint32_t len)
{
    return g_size != NULL && (uint64_t)addr + len <= *g_size;
}

static uint32_t get_u32(uint32_t addr)
{
    uint32_t v;
    memcpy(&v, *g_data + addr, sizeof v);
    return v;
}

static uint32_t et_fd_write(void *ctx, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                            uint32_t nwritten)
{
    on_import(ctx);
    (void)fd;
    uint32_t total = 0;
    for (uint32_t i = 0; i < iovs_len; i++) {
        uint32_t at = iovs + 8 * i;
        if (!guest_range(at, 8)) {
            return ET_EFAULT;
        }
        uint32_t buf = get_u32(at), len = get_u32(at + 4);
        if (!guest_range(buf, len)) {
            return ET_EFAULT;
        }
        size_t room = sizeof g_rep->written - 1 - g_rep->nwritten;
        size_t n = len < room ? len : room;
        memcpy(g_rep->written + g_rep->nwritten, *g_data + buf, n);
        g_rep->nwritten += n;
        total += len;
    }
    if (!guest_range(nwritten, 4)) {
        return ET_EFAULT;
    }
    memcpy(*g_data + nwritten, &total, sizeof total);
    return 0;
}

static uint32_t et_poll_oneoff(void *ctx, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    on_import(ctx);
    (void)a, (void)b, (void)c, (void)d;
    viv_engine_deadline_reached();
}

/* A host bug: the process must die of SIGSEGV, not report a guest trap. The
 * pointer is read through a volatile so the compiler cannot turn the
 * dereference into a trap instruction, and UBSan is told to let it happen. */
__attribute__((no_sanitize("undefined"))) static uint32_t et_crash_null(void *ctx)
{
    on_import(ctx);
    int *volatile p = NULL;
    return (uint32_t)*p;
}

static uint32_t et_crash_noaccess(void *ctx, uint32_t a)
{
    on_import(ctx);
    (void)a;
    return *g_noaccess;
}

static void et_proc_exit(void *ctx, uint32_t code)
{
    on_import(ctx);
    g_rep->proc_exit_called = true;
    g_rep->proc_exit_code = code;
    viv_engine_exit(code);
}

static void et_attach(void *ctx, uint8_t *const *data, const uint32_t *size)
{
    if (ctx != (void *)g_rep) {
        g_rep->ctx_mismatches++;
    }
    g_rep->attach_calls++;
    g_data = data;
    g_size = size;
    g_rep->size_at_attach = *size;
    g_rep->data_at_attach = *data != NULL;
}

static viv_guest_wasi et_wasi_table(void)
{
    viv_guest_wasi w;
#define ET_FIELD(name, ret, params, args) w.name = et_default_##name;
    VIV_WASI_IMPORTS(ET_FIELD)
#undef ET_FIELD
    w.fd_close = et_param;
    w.fd_sync = et_note_import;
    w.fd_write = et_fd_write;
    w.poll_oneoff = et_poll_oneoff;
    w.sched_yield = et_crash_null;
    w.proc_raise = et_crash_noaccess;
    w.proc_exit = et_proc_exit;
    return w;
}

__attribute__((noreturn)) static void child_main(const et_run *r, et_report *rep)
{
    g_rep = rep;
    g_params = r->params;
    void *noaccess = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (noaccess == MAP_FAILED) {
        _exit(4);
    }
    g_noaccess = noaccess;

    char path[4096];
    et_path(r->artifact, path, sizeof path);
    viv_engine_artifact *a = NULL;
    rep->open_status =
        viv_engine_artifact_open(path, r->expect_sha256, &a, rep->open_err, sizeof rep->open_err);
    if (rep->open_status != VIV_ENGINE_OK) {
        _exit(3);
    }
    rep->opened = true;

    viv_guest_wasi wasi = et_wasi_table();
    viv_engine_run_params p = {
        .artifact = a,
        .limits = r->limits,
        .wasi = &wasi,
        .wasi_ctx = rep,
        .attach_memory = et_attach,
    };
    uint64_t t0 = et_now_ns();
    if (r->deadline_in_ms != 0) {
        p.limits.deadline_ns = (uint64_t)((int64_t)t0 + r->deadline_in_ms * 1000000);
    }
    rep->run_called = true;
    viv_engine_outcome out;
    rep->run_status = viv_engine_run(&p, &out);
    rep->run_seconds = (double)(et_now_ns() - t0) / 1e9;
    rep->out = out;
    rep->run_returned = true;
    viv_engine_artifact_close(a);
    if (r->linger_ms > 0) {
        sleep_ms(r->linger_ms);
    }
    _exit(0);
}

/* --- the parent ------------------------------------------------------------- */

void et_execute(const et_run *r, et_result *res)
{
    memset(res, 0, sizeof *res);
    et_report *rep =
        mmap(NULL, sizeof *rep, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(rep != MAP_FAILED);
    memset(rep, 0, sizeof *rep);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_main(r, rep);
    }
    double timeout = r->timeout_s > 0 ? r->timeout_s : 60.0;
    uint64_t give_up = et_now_ns() + (uint64_t)(timeout * 1e9);
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            break;
        }
        if (w < 0 && errno != EINTR) {
            fail_msg("waitpid: %s", strerror(errno));
        }
        if (et_now_ns() > give_up) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            res->timed_out = true;
            break;
        }
        sleep_ms(2);
    }
    res->wait_status = status;
    res->rep = *rep;
    munmap(rep, sizeof *rep);
}

static const char *end_name(viv_engine_end e)
{
    switch (e) {
    case VIV_END_RETURNED:
        return "RETURNED";
    case VIV_END_EXIT:
        return "EXIT";
    case VIV_END_OUT_OF_FUEL:
        return "OUT_OF_FUEL";
    case VIV_END_TIMEOUT:
        return "TIMEOUT";
    case VIV_END_TRAP:
        return "TRAP";
    case VIV_END_HOST_ERROR:
        return "HOST_ERROR";
    }
    return "?";
}

void et_assert_completed(const et_result *res, viv_engine_status status)
{
    const et_report *rep = &res->rep;
    if (res->timed_out) {
        fail_msg("the child was still running at its timeout and was killed "
                 "(run_called=%d, notes=%u)",
                 rep->run_called, rep->nnotes);
    }
    if (WIFSIGNALED(res->wait_status)) {
        fail_msg("the child died of signal %d (%s) (run_called=%d, run_returned=%d)",
                 WTERMSIG(res->wait_status), strsignal(WTERMSIG(res->wait_status)), rep->run_called,
                 rep->run_returned);
    }
    if (!WIFEXITED(res->wait_status) || WEXITSTATUS(res->wait_status) != 0) {
        fail_msg("the child exited with status %d (open: %d %s)", WEXITSTATUS(res->wait_status),
                 (int)rep->open_status, rep->open_err);
    }
    assert_true(rep->run_returned);
    if (rep->run_status != status) {
        fail_msg("viv_engine_run returned %d, expected %d (end %s: %s)", (int)rep->run_status,
                 (int)status, end_name(rep->out.end), rep->out.message);
    }
}

void et_assert_end(const et_result *res, viv_engine_end end, const char *message)
{
    const viv_engine_outcome *o = &res->rep.out;
    if (o->end != end || (message != NULL && strcmp(o->message, message) != 0)) {
        fail_msg("outcome %s \"%s\" (exit %u, fuel %lld, pages %u, cap_hit %d), expected %s "
                 "\"%s\"",
                 end_name(o->end), o->message, o->exit_code, (long long)o->fuel_consumed,
                 o->memory_pages, o->memory_cap_hit, end_name(end), message ? message : "*");
    }
}
