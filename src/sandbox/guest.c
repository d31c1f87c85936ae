/*
 * src/sandbox/guest.c: the public face of ahead-of-time guest compilation,
 * and of what a guest module is (viv_guest_describe).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compile.h"
#include "sandbox_internal.h"

viv_status viv_guest_compile(const char *wasm_path, const viv_compile_options *opts,
                             char *artifact_path, size_t artifact_path_len, bool *cache_hit,
                             viv_error *err)
{
    if (wasm_path == NULL) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "wasm_path must not be NULL");
    }
    viv_compile_options none = {0};
    if (opts == NULL) {
        opts = &none;
    }
    if (opts->opt_level != NULL && strcmp(opts->opt_level, "-O1") != 0 &&
        strcmp(opts->opt_level, "-O2") != 0) {
        return viv_error_set(err, VIV_EINVAL, "opt_level", NULL,
                             "opt_level must be -O1 or -O2, not '%s'", opts->opt_level);
    }
    viv_engine_compile_options eo = {
        .wasm_path = wasm_path,
        .out_path = opts->out_path,
        .cache_dir = opts->cache_dir,
        .cc = opts->cc,
        .opt_level = opts->opt_level,
        .progress = opts->progress,
        .user = opts->user,
    };
    viv_engine_compile_result res;
    char msg[1024];
    viv_engine_status st = viv_engine_compile(&eo, &res, msg, sizeof msg);
    switch (st) {
    case VIV_ENGINE_OK:
        break;
    case VIV_ENGINE_ENOENT:
        return viv_error_set(err, VIV_ENOENT, NULL, wasm_path, "%s", msg);
    case VIV_ENGINE_EINVALID:
        return viv_error_set(err, VIV_EINVAL, NULL, wasm_path, "%s", msg);
    case VIV_ENGINE_ENOMEM:
        return viv_error_set(err, VIV_ENOMEM, NULL, NULL, "%s", msg);
    case VIV_ENGINE_EHOST:
        return viv_error_set(err, VIV_EHOST, NULL, wasm_path, "%s", msg);
    }
    if (artifact_path != NULL && artifact_path_len > 0) {
        snprintf(artifact_path, artifact_path_len, "%s", res.artifact_path);
    }
    if (cache_hit != NULL) {
        *cache_hit = res.cache_hit;
    }
    return VIV_OK;
}

viv_status viv_guest_describe(const char *wasm_path, viv_guest_info *out, viv_error *err)
{
    if (out == NULL) {
        return viv_error_set(err, VIV_EINVAL, NULL, NULL, "out must not be NULL");
    }
    memset(out, 0, sizeof *out);
    const char *wasm = wasm_path != NULL ? wasm_path : viv_sandbox_default_guest();
    struct stat st;
    if (stat(wasm, &st) != 0) {
        return viv_error_set(err, errno == ENOENT ? VIV_ENOENT : VIV_EHOST, NULL, wasm,
                             "guest module %s: %s", wasm, strerror(errno));
    }
    if (viv_sha256_file(wasm, out->module_sha256) != 0) {
        return viv_error_set(err, VIV_EHOST, NULL, wasm, "cannot read guest module %s: %s", wasm,
                             strerror(errno));
    }
    viv_guest_desc d;
    viv_status s = viv_guest_desc_load(wasm, &d, err);
    if (s != VIV_OK) {
        return s;
    }
    snprintf(out->name, sizeof out->name, "%s", d.name ? d.name : "");
    snprintf(out->version, sizeof out->version, "%s", d.version ? d.version : "");
    snprintf(out->stdlib_sha256, sizeof out->stdlib_sha256, "%s",
             d.stdlib_sha256 ? d.stdlib_sha256 : "");
    viv_guest_desc_free(&d);
    /* Where viv_sandbox_create looks: beside the module, then the cache. */
    char so[PATH_MAX];
    size_t n = strlen(wasm);
    if (n > 5 && strcmp(wasm + n - 5, ".wasm") == 0 && n < sizeof so) {
        snprintf(so, sizeof so, "%.*s.so", (int)(n - 5), wasm);
        out->compiled = access(so, R_OK) == 0;
    }
    if (!out->compiled) {
        out->compiled = viv_engine_cached_artifact(NULL, out->module_sha256, so, sizeof so);
    }
    return VIV_OK;
}
