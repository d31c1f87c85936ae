/*
 * guest/artifact_glue.c: compiled into every guest artifact next to the
 * wasm2c output of the module (named "guest").
 *
 * Owns: the artifact's side of src/engine/guest_abi.h. It defines the wasm-rt
 * functions and WASI imports the generated code calls, forwarding each one
 * through the host table the engine installs with bind(), and it exports the
 * descriptor the engine reads after dlopen.
 *
 * Build-time definitions (set by `vivarium compile`):
 *   VIV_GUEST_SHA256          hex sha256 of the source .wasm
 *   VIV_GUEST_FUEL_VERSION    metering pass version, 0 if unmetered
 *   VIV_GUEST_INITIAL_PAGES   the module's initial memory in pages
 *   VIV_GUEST_BUILD_INFO      compiler and flags
 *
 * The host pointer is process-wide by necessity: wasm2c's generated code
 * calls the runtime through plain functions with no context argument.
 */
#include <stdarg.h>

#include "guest.h"
#include "guest_abi.h"

#ifndef VIV_GUEST_SHA256
#error "VIV_GUEST_SHA256 must be defined"
#endif
#ifndef VIV_GUEST_FUEL_VERSION
#define VIV_GUEST_FUEL_VERSION 0
#endif
#ifndef VIV_GUEST_BUILD_INFO
#define VIV_GUEST_BUILD_INFO "unknown"
#endif

static const viv_guest_host *host;

#define VIV_WASI_STRUCT_INST struct Z_wasi_snapshot_preview1_instance_t
#define VIV_WASI_CTX VIV_WASI_STRUCT_INST *ctx
#define VIV_WASI_CTX_ARG ctx
#define GLUE_DEFINE(name, ret, params, args)                                                      \
    ret Z_wasi_snapshot_preview1Z_##name params;                                                  \
    ret Z_wasi_snapshot_preview1Z_##name params { return host->wasi->name args; }
VIV_WASI_IMPORTS(GLUE_DEFINE)

void Z_wasi_snapshot_preview1Z_proc_exit(VIV_WASI_STRUCT_INST *ctx, uint32_t code)
{
    host->wasi->proc_exit(ctx, code);
    /* The host unwinds; if it ever returned, trapping is the only safe exit. */
    host->trap(WASM_RT_TRAP_UNREACHABLE);
}

/* --- wasm-rt, forwarded ------------------------------------------------- */

void wasm_rt_init(void) {}
bool wasm_rt_is_initialized(void) { return host != NULL; }
void wasm_rt_free(void) {}

void wasm_rt_trap(wasm_rt_trap_t code) { host->trap(code); }

const char *wasm_rt_strerror(wasm_rt_trap_t trap)
{
    (void)trap;
    return "wasm trap";
}

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...)
{
    wasm_rt_type_t types[64];
    uint32_t n = params + results;
    if (n > 64) {
        host->trap(WASM_RT_TRAP_CALL_INDIRECT);
    }
    va_list ap;
    va_start(ap, results);
    for (uint32_t i = 0; i < n; i++) {
        types[i] = (wasm_rt_type_t)va_arg(ap, int);
    }
    va_end(ap);
    return host->register_func_type(params, results, types);
}

/* The guest uses no exception handling; any use is a trap. */
uint32_t wasm_rt_register_tag(uint32_t size)
{
    (void)size;
    return 0;
}
void wasm_rt_load_exception(uint32_t tag, uint32_t size, const void *values)
{
    (void)tag, (void)size, (void)values;
    host->trap(WASM_RT_TRAP_UNCAUGHT_EXCEPTION);
}
void wasm_rt_throw(void) { host->trap(WASM_RT_TRAP_UNCAUGHT_EXCEPTION); }
static WASM_RT_UNWIND_TARGET *unwind_target;
WASM_RT_UNWIND_TARGET *wasm_rt_get_unwind_target(void) { return unwind_target; }
void wasm_rt_set_unwind_target(WASM_RT_UNWIND_TARGET *target) { unwind_target = target; }
uint32_t wasm_rt_exception_tag(void) { return 0; }
uint32_t wasm_rt_exception_size(void) { return 0; }
void *wasm_rt_exception(void) { return NULL; }

void wasm_rt_allocate_memory(wasm_rt_memory_t *m, uint32_t initial, uint32_t max)
{
    host->allocate_memory(m, initial, max);
}
uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *m, uint32_t delta)
{
    return host->grow_memory(m, delta);
}
void wasm_rt_free_memory(wasm_rt_memory_t *m) { host->free_memory(m); }

void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *t, uint32_t n, uint32_t max)
{
    host->allocate_funcref_table(t, n, max);
}
uint32_t wasm_rt_grow_funcref_table(wasm_rt_funcref_table_t *t, uint32_t d, wasm_rt_funcref_t i)
{
    return host->grow_funcref_table(t, d, i);
}
void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t *t) { host->free_funcref_table(t); }
void wasm_rt_allocate_externref_table(wasm_rt_externref_table_t *t, uint32_t n, uint32_t max)
{
    host->allocate_externref_table(t, n, max);
}
uint32_t wasm_rt_grow_externref_table(wasm_rt_externref_table_t *t, uint32_t d,
                                      wasm_rt_externref_t i)
{
    return host->grow_externref_table(t, d, i);
}
void wasm_rt_free_externref_table(wasm_rt_externref_table_t *t) { host->free_externref_table(t); }

/* --- the descriptor ----------------------------------------------------- */

static void glue_bind(const viv_guest_host *h) { host = h; }
static void glue_instantiate(void *inst, void *wasi)
{
    Z_guest_instantiate((Z_guest_instance_t *)inst, (VIV_WASI_STRUCT_INST *)wasi);
}
static void glue_free(void *inst) { Z_guest_free((Z_guest_instance_t *)inst); }
static void glue_start(void *inst) { Z_guestZ__start((Z_guest_instance_t *)inst); }
static wasm_rt_memory_t *glue_memory(void *inst)
{
    return Z_guestZ_memory((Z_guest_instance_t *)inst);
}
#if VIV_GUEST_FUEL_VERSION
static int64_t *glue_fuel(void *inst)
{
    return (int64_t *)Z_guestZ_vivarium_fuel((Z_guest_instance_t *)inst);
}
#endif
#if VIV_GUEST_FUEL_VERSION >= 2
static int32_t *glue_interrupt(void *inst)
{
    return (int32_t *)Z_guestZ_vivarium_interrupt((Z_guest_instance_t *)inst);
}
#endif

static const viv_guest_artifact descriptor = {
    .abi_version = VIV_GUEST_ABI_VERSION,
    .fuel_pass_version = VIV_GUEST_FUEL_VERSION,
    .source_sha256 = VIV_GUEST_SHA256,
    .build_info = VIV_GUEST_BUILD_INFO,
    .initial_pages = VIV_GUEST_INITIAL_PAGES,
    .instance_size = sizeof(Z_guest_instance_t),
    .bind = glue_bind,
    .init_module = Z_guest_init_module,
    .instantiate = glue_instantiate,
    .free_instance = glue_free,
    .start = glue_start,
    .memory = glue_memory,
#if VIV_GUEST_FUEL_VERSION
    .fuel = glue_fuel,
#else
    .fuel = NULL,
#endif
#if VIV_GUEST_FUEL_VERSION >= 2
    .interrupt = glue_interrupt,
#else
    .interrupt = NULL,
#endif
};

__attribute__((visibility("default"))) const viv_guest_artifact *vivarium_guest_artifact_v1(void);
const viv_guest_artifact *vivarium_guest_artifact_v1(void) { return &descriptor; }
