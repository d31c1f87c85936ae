/*
 * src/engine/compile.h: ahead-of-time compilation of a guest module.
 *
 * Owns: the pipeline .wasm -> strip custom sections -> fuel metering ->
 * wasm2c -> cc -O1 -> shared object, and the content-addressed artifact
 * cache that lets rebuilds and CI on the same machine skip it.
 *
 * Cache layout (under the cache root, by default
 * $XDG_CACHE_HOME/vivarium or ~/.cache/vivarium):
 *   artifacts/<key>/guest.so    key = sha256 of every input (module, glue,
 *                               ABI and pass versions, wasm2c and compiler
 *                               identity, flags)
 *   artifacts/<key>/info.json   what went in, for humans
 *   modules/<module-sha256>.so  symlink to the newest artifact of that module,
 *                               used by `--wasm PATH` lookups
 */
#ifndef VIV_ENGINE_COMPILE_H
#define VIV_ENGINE_COMPILE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"

typedef struct viv_engine_compile_options {
    const char *wasm_path; /* input module */
    const char *out_path;  /* copy the artifact here too; may be NULL */
    const char *cache_dir; /* NULL: the default cache root */
    const char *cc;        /* NULL: "cc" */
    const char *opt_level; /* NULL: "-O1" */
    /* Skip the fuel pass. Only for measuring the pass's overhead (bench/):
     * the engine refuses to run such an artifact unless told otherwise. */
    bool unmetered;
    /* Called about once a second while a step runs; may be NULL. */
    void (*progress)(void *user, const char *step, unsigned step_no, unsigned steps,
                     double elapsed_s, bool done);
    void *user;
} viv_engine_compile_options;

typedef struct viv_engine_compile_result {
    char artifact_path[4400]; /* the cached artifact */
    char module_sha256[65];
    bool cache_hit;
} viv_engine_compile_result;

viv_engine_status viv_engine_compile(const viv_engine_compile_options *opt,
                                     viv_engine_compile_result *res, char *err, size_t errlen);

/* The default cache root, into buf. Returns buf. */
const char *viv_engine_cache_dir(char *buf, size_t len);

/* The artifact the cache holds for a module with this sha256, into buf;
 * returns false if there is none. */
bool viv_engine_cached_artifact(const char *cache_dir, const char *module_sha256, char *buf,
                                size_t len);

/* Hex sha256 of a file's contents. Returns 0, or -1 with errno set. */
int viv_sha256_file(const char *path, char hex[65]);

#endif /* VIV_ENGINE_COMPILE_H */
