/*
 * src/sandbox/guest.c: the public face of ahead-of-time guest compilation.
 */
#include <errno.h>
#include <stdio.h>

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
    viv_engine_compile_options eo = {
        .wasm_path = wasm_path,
        .out_path = opts->out_path,
        .cache_dir = opts->cache_dir,
        .cc = opts->cc,
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
