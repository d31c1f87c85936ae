/*
 * src/engine/guest_abi.h: the binary interface between the engine and a
 * compiled guest artifact (a shared object built by `vivarium compile`).
 *
 * Owns: the two tables that cross the dlopen boundary. The artifact exports
 * one symbol, VIV_GUEST_ENTRY_SYMBOL, returning a viv_guest_artifact that
 * describes the module; the engine hands the artifact a viv_guest_host table
 * with the wasm-rt runtime and the WASI imports. Nothing else is shared, so
 * the artifact links with `-z defs` and the host exports no symbols.
 *
 * Why a table rather than undefined symbols: the artifact stays
 * self-contained and versioned, and the CLI, the shared library and the test
 * binaries (some under ASan) can all load the same artifact unchanged.
 *
 * Bump VIV_GUEST_ABI_VERSION on any change to these structs; the engine
 * refuses artifacts of another version and says how to recompile.
 */
#ifndef VIV_ENGINE_GUEST_ABI_H
#define VIV_ENGINE_GUEST_ABI_H

#include <stddef.h>
#include <stdint.h>

#include <wasm-rt.h>

#define VIV_GUEST_ABI_VERSION 2u
#define VIV_GUEST_ENTRY_SYMBOL "vivarium_guest_artifact_v1"
#define VIV_GUEST_MODULE_NAME "guest"

/* X-macro of every WASI preview 1 import: name, return type, parameter list,
 * argument list. The lists start with the WASI context, spelled by the
 * user's definitions of VIV_WASI_CTX (a parameter declaration) and
 * VIV_WASI_CTX_ARG (the argument passed on), so one list serves the
 * artifact's glue, the engine's table and the sandbox's binding. The rest
 * matches wasm2c's declarations (i32 is uint32_t, i64 is uint64_t). */
#define VIV_WASI_IMPORTS(X)                                                                       \
    X(args_get, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b), (VIV_WASI_CTX_ARG, a, b))                                       \
    X(args_sizes_get, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b), (VIV_WASI_CTX_ARG, a, b))                                 \
    X(environ_get, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b), (VIV_WASI_CTX_ARG, a, b))                                    \
    X(environ_sizes_get, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b), (VIV_WASI_CTX_ARG, a, b))                              \
    X(clock_res_get, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b), (VIV_WASI_CTX_ARG, a, b))                                  \
    X(clock_time_get, uint32_t, (VIV_WASI_CTX, uint32_t a, uint64_t b, uint32_t c), (VIV_WASI_CTX_ARG, a, b, c))                  \
    X(fd_advise, uint32_t, (VIV_WASI_CTX, uint32_t a, uint64_t b, uint64_t c, uint32_t d), (VIV_WASI_CTX_ARG, a, b, c, d))        \
    X(fd_allocate, uint32_t, (VIV_WASI_CTX, uint32_t a, uint64_t b, uint64_t c), (VIV_WASI_CTX_ARG, a, b, c))                     \
    X(fd_close, uint32_t, (VIV_WASI_CTX, uint32_t a), (VIV_WASI_CTX_ARG, a))                                                      \
    X(fd_datasync, uint32_t, (VIV_WASI_CTX, uint32_t a), (VIV_WASI_CTX_ARG, a))                                                   \
    X(fd_fdstat_get, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b), (VIV_WASI_CTX_ARG, a, b))                                  \
    X(fd_fdstat_set_flags, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b), (VIV_WASI_CTX_ARG, a, b))                            \
    X(fd_fdstat_set_rights, uint32_t, (VIV_WASI_CTX, uint32_t a, uint64_t b, uint64_t c), (VIV_WASI_CTX_ARG, a, b, c))            \
    X(fd_filestat_get, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b), (VIV_WASI_CTX_ARG, a, b))                                \
    X(fd_filestat_set_size, uint32_t, (VIV_WASI_CTX, uint32_t a, uint64_t b), (VIV_WASI_CTX_ARG, a, b))                           \
    X(fd_filestat_set_times, uint32_t, (VIV_WASI_CTX, uint32_t a, uint64_t b, uint64_t c, uint32_t d),          \
      (VIV_WASI_CTX_ARG, a, b, c, d))                                                                               \
    X(fd_pread, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c, uint64_t d, uint32_t e),           \
      (VIV_WASI_CTX_ARG, a, b, c, d, e))                                                                            \
    X(fd_prestat_get, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b), (VIV_WASI_CTX_ARG, a, b))                                 \
    X(fd_prestat_dir_name, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c), (VIV_WASI_CTX_ARG, a, b, c))             \
    X(fd_pwrite, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c, uint64_t d, uint32_t e),          \
      (VIV_WASI_CTX_ARG, a, b, c, d, e))                                                                            \
    X(fd_read, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c, uint32_t d), (VIV_WASI_CTX_ARG, a, b, c, d))          \
    X(fd_readdir, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c, uint64_t d, uint32_t e),         \
      (VIV_WASI_CTX_ARG, a, b, c, d, e))                                                                            \
    X(fd_renumber, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b), (VIV_WASI_CTX_ARG, a, b))                                    \
    X(fd_seek, uint32_t, (VIV_WASI_CTX, uint32_t a, uint64_t b, uint32_t c, uint32_t d), (VIV_WASI_CTX_ARG, a, b, c, d))          \
    X(fd_sync, uint32_t, (VIV_WASI_CTX, uint32_t a), (VIV_WASI_CTX_ARG, a))                                                       \
    X(fd_tell, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b), (VIV_WASI_CTX_ARG, a, b))                                        \
    X(fd_write, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c, uint32_t d), (VIV_WASI_CTX_ARG, a, b, c, d))         \
    X(path_create_directory, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c), (VIV_WASI_CTX_ARG, a, b, c))           \
    X(path_filestat_get, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e),  \
      (VIV_WASI_CTX_ARG, a, b, c, d, e))                                                                            \
    X(path_filestat_set_times, uint32_t,                                                          \
      (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint64_t e, uint64_t f, uint32_t g),       \
      (VIV_WASI_CTX_ARG, a, b, c, d, e, f, g))                                                                      \
    X(path_link, uint32_t,                                                                        \
      (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e, uint32_t f, uint32_t g),       \
      (VIV_WASI_CTX_ARG, a, b, c, d, e, f, g))                                                                      \
    X(path_open, uint32_t,                                                                        \
      (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e, uint64_t f, uint64_t g,        \
       uint32_t h, uint32_t i),                                                                   \
      (VIV_WASI_CTX_ARG, a, b, c, d, e, f, g, h, i))                                                                \
    X(path_readlink, uint32_t,                                                                    \
      (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e, uint32_t f),                   \
      (VIV_WASI_CTX_ARG, a, b, c, d, e, f))                                                                         \
    X(path_remove_directory, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c), (VIV_WASI_CTX_ARG, a, b, c))           \
    X(path_rename, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e,         \
                              uint32_t f),                                                        \
      (VIV_WASI_CTX_ARG, a, b, c, d, e, f))                                                                         \
    X(path_symlink, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e),       \
      (VIV_WASI_CTX_ARG, a, b, c, d, e))                                                                            \
    X(path_unlink_file, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c), (VIV_WASI_CTX_ARG, a, b, c))                \
    X(poll_oneoff, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c, uint32_t d), (VIV_WASI_CTX_ARG, a, b, c, d))      \
    X(proc_raise, uint32_t, (VIV_WASI_CTX, uint32_t a), (VIV_WASI_CTX_ARG, a))                                                    \
    X(sched_yield, uint32_t, (VIV_WASI_CTX), (VIV_WASI_CTX_ARG))                                                          \
    X(random_get, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b), (VIV_WASI_CTX_ARG, a, b))                                     \
    X(sock_accept, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c), (VIV_WASI_CTX_ARG, a, b, c))                     \
    X(sock_recv, uint32_t,                                                                        \
      (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e, uint32_t f),                   \
      (VIV_WASI_CTX_ARG, a, b, c, d, e, f))                                                                         \
    X(sock_send, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e),          \
      (VIV_WASI_CTX_ARG, a, b, c, d, e))                                                                            \
    X(sock_shutdown, uint32_t, (VIV_WASI_CTX, uint32_t a, uint32_t b), (VIV_WASI_CTX_ARG, a, b))

/* proc_exit is separate: it does not return. */

/* WASI imports as the host provides them: each takes the WASI context the
 * engine was given, then the guest's arguments. */
typedef struct viv_guest_wasi {
#define VIV_WASI_CTX void *ctx
#define VIV_GUEST_WASI_FIELD(name, ret, params, args) ret(*name) params;
    VIV_WASI_IMPORTS(VIV_GUEST_WASI_FIELD)
#undef VIV_GUEST_WASI_FIELD
#undef VIV_WASI_CTX
    void (*proc_exit)(void *ctx, uint32_t code);
} viv_guest_wasi;

/* The runtime the generated code needs, provided by src/engine. */
typedef struct viv_guest_host {
    uint32_t abi_version;
    void (*trap)(wasm_rt_trap_t code) __attribute__((noreturn));
    uint32_t (*register_func_type)(uint32_t params, uint32_t results, const wasm_rt_type_t *types);
    void (*allocate_memory)(wasm_rt_memory_t *mem, uint32_t initial_pages, uint32_t max_pages);
    uint32_t (*grow_memory)(wasm_rt_memory_t *mem, uint32_t delta);
    void (*free_memory)(wasm_rt_memory_t *mem);
    void (*allocate_funcref_table)(wasm_rt_funcref_table_t *t, uint32_t elements, uint32_t max);
    uint32_t (*grow_funcref_table)(wasm_rt_funcref_table_t *t, uint32_t delta,
                                   wasm_rt_funcref_t init);
    void (*free_funcref_table)(wasm_rt_funcref_table_t *t);
    void (*allocate_externref_table)(wasm_rt_externref_table_t *t, uint32_t elements,
                                     uint32_t max);
    uint32_t (*grow_externref_table)(wasm_rt_externref_table_t *t, uint32_t delta,
                                     wasm_rt_externref_t init);
    void (*free_externref_table)(wasm_rt_externref_table_t *t);
    const viv_guest_wasi *wasi;
} viv_guest_host;

/* What an artifact tells the engine about itself. All pointers are owned by
 * the artifact and valid while it stays loaded. */
typedef struct viv_guest_artifact {
    uint32_t abi_version;
    uint32_t fuel_pass_version; /* 0: the module is not metered */
    const char *source_sha256;  /* hex sha256 of the .wasm it was built from */
    const char *build_info;     /* compiler and flags, for --version */
    uint32_t initial_pages;     /* the module's declared initial memory */
    size_t instance_size;       /* bytes to allocate for one instance */
    /* Install the host table. Must be called before anything below. */
    void (*bind)(const viv_guest_host *host);
    void (*init_module)(void);
    void (*instantiate)(void *instance, void *wasi_ctx);
    void (*free_instance)(void *instance);
    void (*start)(void *instance);
    wasm_rt_memory_t *(*memory)(void *instance);
    /* The fuel global appended by the metering pass; NULL if unmetered. */
    int64_t *(*fuel)(void *instance);
    /* The interrupt flag the pass checks with the fuel (pass version 2);
     * setting it to 1 stops the guest at its next check. NULL if absent. */
    int32_t *(*interrupt)(void *instance);
} viv_guest_artifact;

typedef const viv_guest_artifact *(*viv_guest_entry_fn)(void);

#endif /* VIV_ENGINE_GUEST_ABI_H */
