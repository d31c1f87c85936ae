/*
 * src/sandbox/wasi_bind.c: binds the guest's WASI imports to src/wasi.
 *
 * Owns: the one import table handed to the engine. The engine passes back
 * the context it was given, which is always a viv_wasi.
 */
#include "sandbox_internal.h"

#define VIV_WASI_CTX     void *ctx
#define VIV_WASI_CTX_ARG (viv_wasi *)ctx
/* After each import, a deadline that passed while the guest was in host
 * code takes effect (engine.h). */
#define BIND_DEFINE(name, ret, params, args)                                                       \
    static ret bind_##name params                                                                  \
    {                                                                                              \
        ret r = viv_wasi_##name args;                                                              \
        viv_engine_poll_deadline();                                                                \
        return r;                                                                                  \
    }
VIV_WASI_IMPORTS(BIND_DEFINE)

static void bind_proc_exit(void *ctx, uint32_t code) { viv_wasi_proc_exit((viv_wasi *)ctx, code); }

static const viv_guest_wasi imports = {
#define BIND_FIELD(name, ret, params, args) .name = bind_##name,
    VIV_WASI_IMPORTS(BIND_FIELD)
#undef BIND_FIELD
        .proc_exit = bind_proc_exit,
};

const viv_guest_wasi *viv_sandbox_wasi_imports(void) { return &imports; }
