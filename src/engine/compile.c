/*
 * src/engine/compile.c: the ahead-of-time pipeline and the artifact cache.
 * See compile.h for the steps and the cache layout.
 *
 * External programs: wasm2c (Debian wabt) and a C compiler (gcc). Both are
 * run with execvp and a fixed argv; nothing goes through a shell.
 */
#include "compile.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuel_pass.h"

#ifndef VIV_GLUE_SOURCE_DIR
#define VIV_GLUE_SOURCE_DIR ""
#endif
#ifndef VIV_GLUE_INSTALL_DIR
#define VIV_GLUE_INSTALL_DIR "/usr/local/share/vivarium/guest"
#endif

#define STEPS 5u

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- files and digests ------------------------------------------------------ */

static int read_file(const char *path, uint8_t **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno ? errno : EINVAL;
        close(fd);
        errno = S_ISREG(st.st_mode) ? e : EINVAL;
        return -1;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            free(buf);
            close(fd);
            errno = r == 0 ? EIO : errno;
            return -1;
        }
        got += (size_t)r;
    }
    close(fd);
    *data = buf;
    *len = n;
    return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return close(fd);
}

static void to_hex(const unsigned char *md, unsigned n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * n] = '\0';
}

static void sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[32];
    unsigned n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    to_hex(md, 32, hex);
}

int viv_sha256_file(const char *path, char hex[65])
{
    uint8_t *data;
    size_t len;
    if (read_file(path, &data, &len) != 0) {
        return -1;
    }
    sha256_hex(data, len, hex);
    free(data);
    return 0;
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
        return -1;
    }
    return 0;
}

const char *viv_engine_cache_dir(char *buf, size_t len)
{
    const char *env = getenv("VIVARIUM_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (env != NULL && env[0] == '/') {
        snprintf(buf, len, "%s", env);
    } else if (xdg != NULL && xdg[0] == '/') {
        snprintf(buf, len, "%s/vivarium", xdg);
    } else if (home != NULL && home[0] == '/') {
        snprintf(buf, len, "%s/.cache/vivarium", home);
    } else {
        snprintf(buf, len, "/tmp/vivarium-cache-%ld", (long)getuid());
    }
    return buf;
}

bool viv_engine_cached_artifact(const char *cache_dir, const char *module_sha256, char *buf,
                                size_t len)
{
    char root[4096];
    if (cache_dir == NULL) {
        cache_dir = viv_engine_cache_dir(root, sizeof root);
    }
    snprintf(buf, len, "%s/modules/%s.so", cache_dir, module_sha256);
    return access(buf, R_OK) == 0;
}

/* --- the module's bytes ----------------------------------------------------- */

static bool read_leb_u32(const uint8_t *p, size_t len, size_t *pos, uint32_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 35; shift += 7) {
        if (*pos >= len) {
            return false;
        }
        uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (v > UINT32_MAX) {
                return false;
            }
            *out = (uint32_t)v;
            return true;
        }
    }
    return false;
}

/* Drops custom sections (debug info, names: 11 MB of the guest) and finds
 * the initial size of the module's own memory. */
static int strip_and_inspect(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
                             uint32_t *initial_pages, char *err, size_t errlen)
{
    static const uint8_t magic[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    if (len < 8 || memcmp(in, magic, 8) != 0) {
        set_err(err, errlen, "not a WebAssembly module (bad magic or version)");
        return -1;
    }
    uint8_t *buf = malloc(len);
    if (buf == NULL) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    memcpy(buf, in, 8);
    size_t w = 8, pos = 8;
    *initial_pages = 0;
    while (pos < len) {
        size_t start = pos;
        uint8_t id = in[pos++];
        uint32_t size;
        if (!read_leb_u32(in, len, &pos, &size) || size > len - pos) {
            free(buf);
            set_err(err, errlen, "malformed section header at byte %zu", start);
            return -1;
        }
        if (id == 8) {
            /* wasm2c runs a start function inside instantiation, before the
             * engine can set a fuel budget: it would run unmetered, or trap. */
            free(buf);
            set_err(err, errlen,
                    "the module has a start function (section at byte %zu), which would run "
                    "before its fuel budget is set; Vivarium refuses such modules",
                    start);
            return -1;
        }
        if (id == 5) { /* memory section: count, then limits of memory 0 */
            size_t p = pos;
            uint32_t count, flags, initial;
            if (read_leb_u32(in, pos + size, &p, &count) && count >= 1 &&
                read_leb_u32(in, pos + size, &p, &flags) &&
                read_leb_u32(in, pos + size, &p, &initial)) {
                *initial_pages = initial;
            }
        }
        if (id != 0) {
            memcpy(buf + w, in + start, pos - start + size);
            w += pos - start + size;
        }
        pos += size;
    }
    *out = buf;
    *out_len = w;
    return 0;
}

/* --- running tools ------------------------------------------------------------ */

typedef struct step_ctx {
    const viv_engine_compile_options *opt;
    unsigned step_no;
    const char *label;
} step_ctx;

/* Runs argv to completion, reporting progress about once a second. Its
 * output goes to log_fd so a failure can be shown. */
static int run_tool(step_ctx *st, char *const argv[], int log_fd, char *err, size_t errlen)
{
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        set_err(err, errlen, "cannot start %s: %s", argv[0], strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (log_fd >= 0) {
            dup2(log_fd, STDOUT_FILENO);
            dup2(log_fd, STDERR_FILENO);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            break;
        }
        if (r < 0 && errno != EINTR) {
            set_err(err, errlen, "waiting for %s: %s", argv[0], strerror(errno));
            return -1;
        }
        if (st->opt->progress) {
            st->opt->progress(st->opt->user, st->label, st->step_no, STEPS, now_s() - t0, false);
        }
        poll(NULL, 0, 1000);
    }
    if (st->opt->progress) {
        st->opt->progress(st->opt->user, st->label, st->step_no, STEPS, now_s() - t0, true);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
            set_err(err, errlen, "%s is not installed or failed to start (install Debian's %s)",
                    argv[0], strcmp(argv[0], "wasm2c") == 0 ? "wabt" : "gcc");
        } else {
            set_err(err, errlen, "%s failed (%s %d)", argv[0],
                    WIFEXITED(status) ? "exit status" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        }
        return -1;
    }
    return 0;
}

/* First line of `prog --version`, for the cache key. */
static void tool_version(const char *prog, char *out, size_t len)
{
    out[0] = '\0';
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, STDERR_FILENO);
        }
        execlp(prog, prog, "--version", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t got = 0;
    while (pid > 0 && got + 1 < len) {
        ssize_t r = read(fds[0], out + got, len - 1 - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    out[got] = '\0';
    close(fds[0]);
    if (pid > 0) {
        waitpid(pid, NULL, 0);
    }
    char *nl = strchr(out, '\n');
    if (nl != NULL) {
        *nl = '\0';
    }
}

static const char *glue_dir(void)
{
    static const char *const candidates[] = {VIV_GLUE_SOURCE_DIR, VIV_GLUE_INSTALL_DIR};
    const char *env = getenv("VIVARIUM_GLUE_DIR");
    if (env != NULL && env[0] != '\0') {
        return env;
    }
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
        char probe[4096];
        if (candidates[i][0] == '\0') {
            continue;
        }
        snprintf(probe, sizeof probe, "%s/artifact_glue.c", candidates[i]);
        if (access(probe, R_OK) == 0) {
            return candidates[i];
        }
    }
    return NULL;
}

static int copy_file_atomic(const char *from, const char *to)
{
    uint8_t *data;
    size_t len;
    if (read_file(from, &data, &len) != 0) {
        return -1;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", to, (long)getpid());
    int rc = write_file(tmp, data, len);
    free(data);
    if (rc == 0) {
        chmod(tmp, 0755);
        rc = rename(tmp, to);
    }
    if (rc != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
    }
    return rc;
}

static void remove_tree_shallow(const char *dir, const char *const names[], size_t n)
{
    char p[4200];
    for (size_t i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

viv_engine_status viv_engine_compile(const viv_engine_compile_options *opt,
                                     viv_engine_compile_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    const char *cc = opt->cc ? opt->cc : "cc";
    const char *olevel = opt->opt_level ? opt->opt_level : "-O1";
    char cache_root[4096];
    const char *cache =
        opt->cache_dir ? opt->cache_dir : viv_engine_cache_dir(cache_root, sizeof cache_root);
    const char *gdir = glue_dir();
    if (gdir == NULL) {
        set_err(err, errlen,
                "cannot find the guest glue sources (artifact_glue.c); set VIVARIUM_GLUE_DIR");
        return VIV_ENGINE_EHOST;
    }

    uint8_t *wasm = NULL, *stripped = NULL, *metered = NULL;
    size_t wasm_len = 0, stripped_len = 0, metered_len = 0;
    if (read_file(opt->wasm_path, &wasm, &wasm_len) != 0) {
        set_err(err, errlen, "%s: %s", opt->wasm_path, strerror(errno));
        return errno == ENOENT ? VIV_ENGINE_ENOENT : VIV_ENGINE_EHOST;
    }
    sha256_hex(wasm, wasm_len, res->module_sha256);

    step_ctx st = {.opt = opt, .step_no = 1, .label = "strip and meter the module"};
    double t0 = now_s();
    uint32_t initial_pages = 0;
    viv_engine_status status = VIV_ENGINE_EINVALID;
    if (strip_and_inspect(wasm, wasm_len, &stripped, &stripped_len, &initial_pages, err, errlen) !=
        0) {
        goto out;
    }
    viv_fuel_stats fstats = {0};
    char ferr[512];
    if (opt->unmetered) {
        metered = stripped;
        metered_len = stripped_len;
        stripped = NULL;
    } else if (viv_fuel_instrument(stripped, stripped_len, &metered, &metered_len, &fstats, ferr,
                                   sizeof ferr) != 0) {
        set_err(err, errlen, "fuel metering of %s failed: %s", opt->wasm_path, ferr);
        goto out;
    }
    unsigned fuel_version = opt->unmetered ? 0u : VIV_FUEL_PASS_VERSION;
    if (opt->progress) {
        opt->progress(opt->user, st.label, st.step_no, STEPS, now_s() - t0, true);
    }

    /* Everything that can change the artifact goes into the key. */
    char glue_c[4200], abi_h[4200], wasm2c_v[256], cc_v[256];
    snprintf(glue_c, sizeof glue_c, "%s/artifact_glue.c", gdir);
    snprintf(abi_h, sizeof abi_h, "%s/guest_abi.h", gdir);
    char glue_sha[65], abi_sha[65], metered_sha[65];
    if (viv_sha256_file(glue_c, glue_sha) != 0 || viv_sha256_file(abi_h, abi_sha) != 0) {
        set_err(err, errlen, "cannot read the guest glue in %s: %s", gdir, strerror(errno));
        status = VIV_ENGINE_EHOST;
        goto out;
    }
    sha256_hex(metered, metered_len, metered_sha);
    tool_version("wasm2c", wasm2c_v, sizeof wasm2c_v);
    tool_version(cc, cc_v, sizeof cc_v);
    if (wasm2c_v[0] == '\0') {
        set_err(err, errlen, "wasm2c is not installed (install Debian's wabt)");
        status = VIV_ENGINE_EHOST;
        goto out;
    }
    char keysrc[2048], key[65];
    int klen = snprintf(keysrc, sizeof keysrc,
                        "abi=%u\nfuel=%u\ninterrupt=plain\nmodule=%s\nmetered=%s\nglue=%s\n"
                        "abi_h=%s\nwasm2c=%s\n"
                        "cc=%s\ncc_version=%s\nopt=%s\n",
                        VIV_GUEST_ABI_VERSION, fuel_version, res->module_sha256, metered_sha,
                        glue_sha, abi_sha, wasm2c_v, cc, cc_v, olevel);
    sha256_hex(keysrc, (size_t)klen, key);

    char art_dir[4200], so_path[4300], mod_dir[4200], mod_link[4300];
    snprintf(art_dir, sizeof art_dir, "%s/artifacts/%s", cache, key);
    snprintf(so_path, sizeof so_path, "%s/guest.so", art_dir);
    snprintf(mod_dir, sizeof mod_dir, "%s/modules", cache);
    snprintf(mod_link, sizeof mod_link, "%s/%s.so", mod_dir, res->module_sha256);

    if (access(so_path, R_OK) == 0) {
        res->cache_hit = true;
    } else {
        char work[4300];
        snprintf(work, sizeof work, "%s/tmp/%s.%ld", cache, key, (long)getpid());
        if (mkdir_p(work) != 0) {
            set_err(err, errlen, "cannot create %s: %s", work, strerror(errno));
            status = VIV_ENGINE_EHOST;
            goto out;
        }
        static const char *const temps[] = {"metered.wasm", "guest.c",  "guest.h",   "guest.o",
                                            "glue.o",       "guest.so", "build.log", "info.json"};
        char in_wasm[4400], gc[4400], go[4400], glo[4400], out_so[4400], logp[4400];
        snprintf(in_wasm, sizeof in_wasm, "%s/metered.wasm", work);
        snprintf(gc, sizeof gc, "%s/guest.c", work);
        snprintf(go, sizeof go, "%s/guest.o", work);
        snprintf(glo, sizeof glo, "%s/glue.o", work);
        snprintf(out_so, sizeof out_so, "%s/guest.so", work);
        snprintf(logp, sizeof logp, "%s/build.log", work);
        int log_fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (write_file(in_wasm, metered, metered_len) != 0 || log_fd < 0) {
            set_err(err, errlen, "cannot write in %s: %s", work, strerror(errno));
            if (log_fd >= 0) {
                close(log_fd);
            }
            status = VIV_ENGINE_EHOST;
            goto out;
        }
        char d_sha[128], d_fuel[64], d_pages[64], d_info[600], inc_glue[4300], inc_work[4400];
        snprintf(d_sha, sizeof d_sha, "-DVIV_GUEST_SHA256=\"%s\"", res->module_sha256);
        snprintf(d_fuel, sizeof d_fuel, "-DVIV_GUEST_FUEL_VERSION=%u", fuel_version);
        snprintf(d_pages, sizeof d_pages, "-DVIV_GUEST_INITIAL_PAGES=%u", initial_pages);
        snprintf(d_info, sizeof d_info, "-DVIV_GUEST_BUILD_INFO=\"wasm2c %s; %s %s; key %.16s\"",
                 wasm2c_v, cc_v, olevel, key);
        snprintf(inc_glue, sizeof inc_glue, "-I%s", gdir);
        snprintf(inc_work, sizeof inc_work, "-I%s", work);

        char *const a_wasm2c[] = {"wasm2c", "-n", VIV_GUEST_MODULE_NAME, in_wasm, "-o", gc, NULL};
        /* The generated code and glue must agree with the engine on how
         * bounds are checked: guard pages, no depth counter. */
        char *const a_cc[] = {(char *)cc,
                              (char *)olevel,
                              "-fPIC",
                              "-w",
                              "-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=1",
                              "-DWASM_RT_USE_STACK_DEPTH_COUNT=0",
                              "-c",
                              gc,
                              "-o",
                              go,
                              NULL};
        char *const a_glue[] = {(char *)cc,
                                (char *)olevel,
                                "-fPIC",
                                "-Wall",
                                inc_work,
                                inc_glue,
                                d_sha,
                                d_fuel,
                                d_pages,
                                d_info,
                                "-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=1",
                                "-DWASM_RT_USE_STACK_DEPTH_COUNT=0",
                                "-c",
                                glue_c,
                                "-o",
                                glo,
                                NULL};
        char *const a_link[] = {(char *)cc, "-shared", "-Wl,-z,defs", "-Wl,-z,now", "-o",
                                out_so,     go,        glo,           "-lm",        NULL};
        step_ctx s2 = {opt, 2, "wasm2c: translate to C"};
        step_ctx s3 = {opt, 3, "compile the guest (cc, about 5 minutes and 7 GB)"};
        step_ctx s4 = {opt, 4, "compile the glue"};
        step_ctx s5 = {opt, 5, "link the artifact"};
        int rc = run_tool(&s2, a_wasm2c, log_fd, err, errlen);
        if (rc == 0) {
            rc = run_tool(&s4, a_glue, log_fd, err, errlen);
        }
        if (rc == 0) {
            rc = run_tool(&s3, a_cc, log_fd, err, errlen);
        }
        if (rc == 0) {
            /* The translated C is 140 MB; it is not needed once compiled. */
            unlink(gc);
            rc = run_tool(&s5, a_link, log_fd, err, errlen);
        }
        close(log_fd);
        if (rc != 0) {
            /* Keep only the log: the intermediates are hundreds of MB. */
            static const char *const bulky[] = {"metered.wasm", "guest.c", "guest.h",
                                                "guest.o",      "glue.o",  "guest.so"};
            char p[4400];
            for (size_t i = 0; i < sizeof bulky / sizeof *bulky; i++) {
                snprintf(p, sizeof p, "%s/%s", work, bulky[i]);
                unlink(p);
            }
            size_t n = strlen(err);
            snprintf(err + n, errlen - n, " (log: %s)", logp);
            status = VIV_ENGINE_EHOST;
            goto out;
        }
        char info[4096];
        int ilen = snprintf(info, sizeof info,
                            "{\n  \"module_sha256\": \"%s\",\n  \"source\": \"%s\",\n"
                            "  \"abi\": %u,\n  \"fuel_pass\": %u,\n  \"initial_pages\": %u,\n"
                            "  \"charge_sites\": %llu,\n  \"wasm2c\": \"%s\",\n  \"cc\": \"%s\",\n"
                            "  \"opt\": \"%s\"\n}\n",
                            res->module_sha256, opt->wasm_path, VIV_GUEST_ABI_VERSION, fuel_version,
                            initial_pages, (unsigned long long)fstats.charge_sites, wasm2c_v, cc_v,
                            olevel);
        char infop[4400];
        snprintf(infop, sizeof infop, "%s/info.json", work);
        write_file(infop, info, (size_t)ilen);
        unlink(go);
        unlink(glo);
        unlink(in_wasm);
        char gh[4400];
        snprintf(gh, sizeof gh, "%s/guest.h", work);
        unlink(gh);
        char parent[4300];
        snprintf(parent, sizeof parent, "%s/artifacts", cache);
        if (mkdir_p(parent) != 0) {
            set_err(err, errlen, "cannot create %s: %s", parent, strerror(errno));
            status = VIV_ENGINE_EHOST;
            goto out;
        }
        /* Publishing is one rename, so a concurrent build or an interrupted
         * one never leaves a half-written artifact under its key. */
        if (rename(work, art_dir) != 0) {
            if (access(so_path, R_OK) != 0) {
                set_err(err, errlen, "cannot publish the artifact to %s: %s", art_dir,
                        strerror(errno));
                remove_tree_shallow(work, temps, sizeof temps / sizeof *temps);
                status = VIV_ENGINE_EHOST;
                goto out;
            }
            remove_tree_shallow(work, temps, sizeof temps / sizeof *temps);
        }
    }

    if (!opt->unmetered && mkdir_p(mod_dir) == 0) {
        char rel[4300], tmp_link[4400];
        snprintf(rel, sizeof rel, "../artifacts/%s/guest.so", key);
        snprintf(tmp_link, sizeof tmp_link, "%s.tmp.%ld", mod_link, (long)getpid());
        unlink(tmp_link);
        if (symlink(rel, tmp_link) == 0 && rename(tmp_link, mod_link) != 0) {
            unlink(tmp_link);
        }
    }
    snprintf(res->artifact_path, sizeof res->artifact_path, "%s", so_path);
    if (opt->out_path != NULL && copy_file_atomic(so_path, opt->out_path) != 0) {
        set_err(err, errlen, "cannot write %s: %s", opt->out_path, strerror(errno));
        status = VIV_ENGINE_EHOST;
        goto out;
    }
    status = VIV_ENGINE_OK;

out:
    free(wasm);
    free(stripped);
    free(metered);
    return status;
}
