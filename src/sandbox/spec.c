/*
 * src/sandbox/spec.c: building, serialising and parsing viv_exec_spec.
 *
 * The memfd format: a fixed header, then NUL-terminated strings (argv,
 * env, and host path, guest path, "r"/"w" per preopen), then the stdin
 * bytes. The reader checks every count and length against the mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"
#include "spec.h"

#define SPEC_MAGIC   0x56495645u /* "VIVE" */
#define SPEC_VERSION 2u
#define SPEC_MAX_LEN ((uint64_t)1 << 31)

typedef struct spec_header {
    uint32_t magic, version;
    uint64_t stdout_max, stderr_max, memory_bytes, deadline_ns;
    int64_t fuel;
    double timeout_s;
    uint32_t require_kernel_isolation, allow_unmetered;
    uint32_t argc, interp_argc, envc, npreopens;
    uint32_t runner_argc, live;
    uint64_t stdin_len, total_len;
} spec_header;

static char *keep(viv_exec_spec *s, char *str)
{
    if (str == NULL) {
        return NULL;
    }
    char **grown = realloc(s->owned, (s->nowned + 1) * sizeof *grown);
    if (grown == NULL) {
        free(str);
        return NULL;
    }
    s->owned = grown;
    s->owned[s->nowned++] = str;
    return str;
}

viv_status viv_exec_spec_build(viv_exec_spec *s, const viv_sandbox *sb, const char *program_dir,
                               const char *program_name, const char *workspace,
                               const viv_exec_options *opts, const char *state_format,
                               uint64_t deadline_ns, viv_error *err)
{
    const viv_policy *p = sb->policy;
    *s = (viv_exec_spec){0};
    s->state_format = state_format != NULL ? state_format : "";
    bool state_files = s->state_format[0] != '\0';
    s->runner_argc = state_files ? 1 : 0;
    s->interp_argc = p->argc;
    s->argc = p->argc + s->runner_argc + 1 + opts->nargs;
    s->envc = p->nenv;
    s->npreopens = 2 + (p->data_dir != NULL) + p->nmounts + sb->guest.nmounts;
    s->argv = calloc(s->argc, sizeof *s->argv);
    s->env = calloc(s->envc ? s->envc : 1, sizeof *s->env);
    s->preopens = calloc(s->npreopens, sizeof *s->preopens);
    if (s->argv == NULL || s->env == NULL || s->preopens == NULL) {
        goto oom;
    }
    for (size_t i = 0; i < p->argc; i++) {
        s->argv[i] = p->argv[i];
    }
    size_t n = strlen(VIV_PROGRAM_GUEST_DIR) + strlen(program_name) + 2;
    char *program = keep(s, malloc(n));
    if (program == NULL) {
        goto oom;
    }
    snprintf(program, n, "%s/%s", VIV_PROGRAM_GUEST_DIR, program_name);
    if (state_files) {
        s->argv[p->argc] = VIV_PROGRAM_GUEST_DIR "/" VIV_RUNNER_FILE;
    }
    s->argv[p->argc + s->runner_argc] = program;
    for (size_t i = 0; i < opts->nargs; i++) {
        s->argv[p->argc + s->runner_argc + 1 + i] = opts->args[i];
    }
    for (size_t i = 0; i < p->nenv; i++) {
        size_t kn = strlen(p->env[i].key) + strlen(p->env[i].value) + 2;
        char *kv = keep(s, malloc(kn));
        if (kv == NULL) {
            goto oom;
        }
        snprintf(kv, kn, "%s=%s", p->env[i].key, p->env[i].value);
        s->env[i] = kv;
    }
    size_t k = 0;
    s->preopens[k++] = (viv_wasi_preopen){workspace, p->guest_mount_path, false};
    if (p->data_dir != NULL) {
        s->preopens[k++] = (viv_wasi_preopen){p->data_dir, p->guest_data_path, true};
    }
    for (size_t i = 0; i < p->nmounts; i++) {
        s->preopens[k++] = (viv_wasi_preopen){p->mounts[i].host, p->mounts[i].guest, true};
    }
    s->preopens[k++] = (viv_wasi_preopen){program_dir, VIV_PROGRAM_GUEST_DIR, !state_files};
    /* What the guest itself needs (its stdlib), from its descriptor. */
    for (size_t i = 0; i < sb->guest.nmounts; i++) {
        s->preopens[k++] =
            (viv_wasi_preopen){sb->guest.mounts[i].host, sb->guest.mounts[i].guest, true};
    }
    s->stdin_data = opts->stdin_data;
    s->stdin_len = opts->stdin_data ? opts->stdin_len : 0;
    s->stdout_max = (uint64_t)p->stdout_max_bytes;
    s->stderr_max = (uint64_t)p->stderr_max_bytes;
    s->memory_bytes = (uint64_t)p->memory_bytes;
    s->deadline_ns = deadline_ns;
    s->fuel = p->fuel_budget;
    s->timeout_s = p->timeout_seconds;
    s->require_kernel_isolation = p->require_kernel_isolation;
    s->allow_unmetered = sb->allow_unmetered;
    return VIV_OK;
oom:
    viv_exec_spec_free(s);
    return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "out of memory");
}

void viv_exec_spec_free(viv_exec_spec *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->nowned; i++) {
        free(s->owned[i]);
    }
    free(s->owned);
    free(s->argv);
    free(s->env);
    free(s->preopens);
    if (s->map != NULL) {
        munmap(s->map, s->map_len);
    }
    *s = (viv_exec_spec){0};
}

/* Appends to a growing buffer; sets *failed on allocation failure. */
typedef struct out_buf {
    char *data;
    size_t len, alloc;
    bool failed;
} out_buf;

static void put(out_buf *b, const void *bytes, size_t n)
{
    if (b->failed) {
        return;
    }
    if (b->len + n > b->alloc) {
        size_t want = b->alloc ? b->alloc : 4096;
        while (want < b->len + n) {
            want *= 2;
        }
        char *grown = realloc(b->data, want);
        if (grown == NULL) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->alloc = want;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

static void put_str(out_buf *b, const char *s) { put(b, s, strlen(s) + 1); }

int viv_exec_spec_to_memfd(const viv_exec_spec *s, int *fd)
{
    spec_header h = {
        .magic = SPEC_MAGIC,
        .version = SPEC_VERSION,
        .stdout_max = s->stdout_max,
        .stderr_max = s->stderr_max,
        .memory_bytes = s->memory_bytes,
        .deadline_ns = s->deadline_ns,
        .fuel = s->fuel,
        .timeout_s = s->timeout_s,
        .require_kernel_isolation = s->require_kernel_isolation,
        .allow_unmetered = s->allow_unmetered,
        .argc = (uint32_t)s->argc,
        .interp_argc = (uint32_t)s->interp_argc,
        .envc = (uint32_t)s->envc,
        .npreopens = (uint32_t)s->npreopens,
        .runner_argc = (uint32_t)s->runner_argc,
        .live = s->live,
        .stdin_len = s->stdin_len,
    };
    out_buf b = {0};
    put(&b, &h, sizeof h);
    for (size_t i = 0; i < s->argc; i++) {
        put_str(&b, s->argv[i]);
    }
    for (size_t i = 0; i < s->envc; i++) {
        put_str(&b, s->env[i]);
    }
    for (size_t i = 0; i < s->npreopens; i++) {
        put_str(&b, s->preopens[i].host_path);
        put_str(&b, s->preopens[i].guest_path);
        put_str(&b, s->preopens[i].readonly ? "r" : "w");
    }
    put_str(&b, s->state_format != NULL ? s->state_format : "");
    if (s->stdin_len > 0) {
        put(&b, s->stdin_data, s->stdin_len);
    }
    if (b.failed) {
        free(b.data);
        return -ENOMEM;
    }
    ((spec_header *)(void *)b.data)->total_len = b.len;
    int m = memfd_create("vivarium-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    int rc = 0;
    if (m < 0) {
        rc = -errno;
    } else {
        size_t off = 0;
        while (off < b.len) {
            ssize_t w = write(m, b.data + off, b.len - off);
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                rc = w < 0 ? -errno : -EIO;
                break;
            }
            off += (size_t)w;
        }
        if (rc == 0 &&
            fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
            rc = -errno;
        }
        if (rc != 0) {
            close(m);
        }
    }
    free(b.data);
    if (rc == 0) {
        *fd = m;
    }
    return rc;
}

/* The next NUL-terminated string at *pos, or NULL past the end. */
static const char *take_str(const char *base, size_t len, size_t *pos)
{
    if (*pos >= len) {
        return NULL;
    }
    const char *start = base + *pos;
    const char *nul = memchr(start, '\0', len - *pos);
    if (nul == NULL) {
        return NULL;
    }
    *pos += (size_t)(nul - start) + 1;
    return start;
}

int viv_exec_spec_from_memfd(int fd, viv_exec_spec *s, char *err, size_t errlen)
{
    *s = (viv_exec_spec){0};
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(spec_header) ||
        (uint64_t)st.st_size > SPEC_MAX_LEN) {
        snprintf(err, errlen, "execution spec: bad size");
        return -1;
    }
    size_t len = (size_t)st.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "execution spec: cannot map: %s", strerror(errno));
        return -1;
    }
    s->map = map;
    s->map_len = len;
    spec_header h;
    memcpy(&h, map, sizeof h);
    if (h.magic != SPEC_MAGIC || h.version != SPEC_VERSION || h.total_len != len ||
        h.interp_argc >= h.argc || h.runner_argc > 1 || h.interp_argc + h.runner_argc >= h.argc ||
        h.argc > 100000 || h.envc > 100000 || h.npreopens > 1000 || h.stdin_len > len) {
        snprintf(err, errlen, "execution spec: bad header");
        viv_exec_spec_free(s);
        return -1;
    }
    s->argc = h.argc;
    s->interp_argc = h.interp_argc;
    s->envc = h.envc;
    s->npreopens = h.npreopens;
    s->argv = calloc(h.argc, sizeof *s->argv);
    s->env = calloc(h.envc ? h.envc : 1, sizeof *s->env);
    s->preopens = calloc(h.npreopens ? h.npreopens : 1, sizeof *s->preopens);
    if (s->argv == NULL || s->env == NULL || s->preopens == NULL) {
        snprintf(err, errlen, "execution spec: out of memory");
        viv_exec_spec_free(s);
        return -1;
    }
    const char *base = map;
    size_t strings_end = len - h.stdin_len, pos = sizeof h;
    bool ok = true;
    for (size_t i = 0; ok && i < h.argc; i++) {
        ok = (s->argv[i] = take_str(base, strings_end, &pos)) != NULL;
    }
    for (size_t i = 0; ok && i < h.envc; i++) {
        ok = (s->env[i] = take_str(base, strings_end, &pos)) != NULL;
    }
    for (size_t i = 0; ok && i < h.npreopens; i++) {
        const char *host = take_str(base, strings_end, &pos);
        const char *guest = take_str(base, strings_end, &pos);
        const char *mode = take_str(base, strings_end, &pos);
        ok = host && guest && mode && (strcmp(mode, "r") == 0 || strcmp(mode, "w") == 0);
        if (ok) {
            s->preopens[i] = (viv_wasi_preopen){host, guest, mode[0] == 'r'};
        }
    }
    const char *format = ok ? take_str(base, strings_end, &pos) : NULL;
    ok = ok && format != NULL &&
         (format[0] == '\0' || strcmp(format, "pickle") == 0 || strcmp(format, "json") == 0);
    if (!ok || pos != strings_end) {
        snprintf(err, errlen, "execution spec: malformed strings");
        viv_exec_spec_free(s);
        return -1;
    }
    s->stdin_data = (const uint8_t *)base + strings_end;
    s->stdin_len = h.stdin_len;
    s->stdout_max = h.stdout_max;
    s->stderr_max = h.stderr_max;
    s->memory_bytes = h.memory_bytes;
    s->deadline_ns = h.deadline_ns;
    s->fuel = h.fuel;
    s->timeout_s = h.timeout_s;
    s->require_kernel_isolation = h.require_kernel_isolation != 0;
    s->allow_unmetered = h.allow_unmetered != 0;
    s->state_format = format;
    s->runner_argc = h.runner_argc;
    s->live = h.live != 0;
    return 0;
}

/* Length-prefixed, so no string can be crafted to look like two. */
static void put_field(out_buf *b, const char *s)
{
    char len[24];
    int n = snprintf(len, sizeof len, "%zu:", strlen(s));
    put(b, len, (size_t)n);
    put(b, s, strlen(s));
}

bool viv_exec_spec_startup_mount(const viv_wasi_preopen *p)
{
    return p->readonly && strcmp(p->guest_path, VIV_PROGRAM_GUEST_DIR) != 0;
}

char *viv_exec_spec_startup_key(const viv_exec_spec *s, const char *artifact_path)
{
    out_buf b = {0};
    put_field(&b, artifact_path);
    put_field(&b, "argv");
    for (size_t i = 0; i < s->interp_argc; i++) {
        put_field(&b, s->argv[i]);
    }
    put_field(&b, "env");
    for (size_t i = 0; i < s->envc; i++) {
        put_field(&b, s->env[i]);
    }
    put_field(&b, "preopens");
    for (size_t i = 0; i < s->npreopens; i++) {
        put_field(&b, s->preopens[i].guest_path);
        /* The private directory is writable for executions with state;
         * each execution brings its own, so one interpreter serves both. */
        bool private_dir = strcmp(s->preopens[i].guest_path, VIV_PROGRAM_GUEST_DIR) == 0;
        put_field(&b, private_dir ? "p" : s->preopens[i].readonly ? "r" : "w");
        /* Read-only mounts are there at start-up (a guest's stdlib, the
         * packages): what they hold is part of the configuration. */
        if (viv_exec_spec_startup_mount(&s->preopens[i])) {
            put_field(&b, s->preopens[i].host_path);
        }
    }
    put(&b, "", 1);
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

char *viv_exec_spec_live_key(const viv_exec_spec *s, const char *artifact_path)
{
    char *start = viv_exec_spec_startup_key(s, artifact_path);
    if (start == NULL) {
        return NULL;
    }
    out_buf b = {0};
    put_field(&b, start);
    free(start);
    for (size_t i = 0; i < s->npreopens; i++) {
        struct stat st;
        char id[64] = "";
        if (stat(s->preopens[i].host_path, &st) == 0) {
            snprintf(id, sizeof id, "%llu:%llu", (unsigned long long)st.st_dev,
                     (unsigned long long)st.st_ino);
        }
        put_field(&b, s->preopens[i].host_path);
        put_field(&b, id);
        put_field(&b, s->preopens[i].readonly ? "r" : "w");
    }
    put(&b, "", 1);
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    return b.data;
}
