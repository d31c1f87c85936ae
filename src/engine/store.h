/*
 * src/engine/store.h (private): the state of the one active guest run.
 *
 * Owns: the per-run record that the wasm-rt callbacks, the signal handlers
 * and the WASI unwind hooks all need but cannot be passed (wasm2c's runtime
 * calls take no context). It is reached through viv_store_current(), a
 * thread-local set for exactly the duration of viv_engine_run().
 */
#ifndef VIV_ENGINE_STORE_H
#define VIV_ENGINE_STORE_H

#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

/* Every linear memory reserves this much address space, so that any 32-bit
 * address plus 32-bit offset lands inside the reservation and out-of-bounds
 * accesses fault instead of needing explicit checks. */
#define VIV_MEMORY_RESERVATION ((uint64_t)8 << 30)
#define VIV_MEMORY_GUARD       ((uint64_t)VIV_WASM_PAGE)

typedef struct viv_func_types {
    struct viv_func_sig {
        uint32_t params, results;
        wasm_rt_type_t *types;
    } * sigs;
    uint32_t count, cap;
} viv_func_types;

typedef struct viv_store {
    sigjmp_buf unwind;
    volatile sig_atomic_t active; /* inside the guest: traps may unwind */

    uint32_t memory_cap_pages;
    uint32_t module_max_pages; /* the module's own maximum */
    bool memory_cap_hit;
    wasm_rt_memory_t *memory; /* the guest's memory, once allocated */
    uint8_t *reservation;     /* start of its reserved region */
    uint64_t reservation_len;

    uint8_t *stack; /* guest native stack mapping (guard at bottom) */
    size_t stack_len;
    size_t stack_guard;

    int64_t *fuel;              /* the metering global, NULL until instantiated */
    int32_t *interrupt;         /* the pass's interrupt flag, NULL until instantiated */
    uintptr_t code_lo, code_hi; /* the guest's machine code */
    volatile sig_atomic_t interrupted;

    uint32_t exit_code;
    char host_error[200];

    viv_func_types *types;
} viv_store;

viv_store *viv_store_current(void);
void viv_store_set_current(viv_store *s);

/* The wasm-rt host table (runtime.c). */
void viv_runtime_fill_host(viv_guest_host *host, const viv_guest_wasi *wasi);
void viv_func_types_free(viv_func_types *t);

/* Unwind codes carried by siglongjmp, beyond wasm_rt_trap_t values. */
enum {
    VIV_UNWIND_EXIT = 1000,
    VIV_UNWIND_DEADLINE,
    VIV_UNWIND_HOST_ERROR,
};

__attribute__((noreturn)) void viv_store_unwind(viv_store *s, int code);

#endif /* VIV_ENGINE_STORE_H */
