/*
 * tests/unit/engine/fake_artifact.c: hand-made shared objects that look more
 * or less like guest artifacts, for the checks that `vivarium compile` never
 * produces output to exercise. Built in four variants (FAKE_KIND):
 *   1  a descriptor of the right ABI and fuel-pass version but no fuel
 *      global (an unmetered artifact that passes the open-time checks)
 *   2  a descriptor of another ABI version
 *   3  no descriptor symbol at all
 *   4  a descriptor metered by another version of the fuel pass
 * None of the descriptor's functions may ever be called: each aborts.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuel_pass.h"
#include "guest_abi.h"

#ifndef FAKE_KIND
#error "FAKE_KIND must be defined"
#endif

#if FAKE_KIND == 3

__attribute__((visibility("default"))) int fake_not_an_artifact(void);
int fake_not_an_artifact(void) { return 42; }

#else

static void never_bind(const viv_guest_host *h)
{
    (void)h;
    abort();
}
static void never_init(void) { abort(); }
static void never_instantiate(void *inst, void *wasi)
{
    (void)inst, (void)wasi;
    abort();
}
static void never_instance(void *inst)
{
    (void)inst;
    abort();
}
static wasm_rt_memory_t *never_memory(void *inst)
{
    (void)inst;
    abort();
}

static const viv_guest_artifact fake = {
#if FAKE_KIND == 2
    .abi_version = VIV_GUEST_ABI_VERSION + 7,
#else
    .abi_version = VIV_GUEST_ABI_VERSION,
#endif
#if FAKE_KIND == 4
    .fuel_pass_version = VIV_FUEL_PASS_VERSION + 1,
#else
    .fuel_pass_version = VIV_FUEL_PASS_VERSION,
#endif
    .source_sha256 = "0000000000000000000000000000000000000000000000000000000000000000",
    .build_info = "fake artifact for the engine tests",
    .initial_pages = 1,
    .instance_size = 64,
    .bind = never_bind,
    .init_module = never_init,
    .instantiate = never_instantiate,
    .free_instance = never_instance,
    .start = never_instance,
    .memory = never_memory,
    .fuel = NULL,
};

__attribute__((visibility("default"))) const viv_guest_artifact *vivarium_guest_artifact_v1(void);
const viv_guest_artifact *vivarium_guest_artifact_v1(void) { return &fake; }

#endif
