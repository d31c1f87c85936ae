/*
 * src/engine/artifact.c: loading compiled guest artifacts.
 *
 * Owns: the dlopen handle of an artifact and the checks that it is one of
 * ours, built for this ABI and this metering pass, from the expected module.
 */
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine.h"
#include "fuel_pass.h"

struct viv_engine_artifact {
    void *handle;
    const viv_guest_artifact *info;
    uintptr_t code_lo, code_hi; /* the executable segment(s) of the artifact */
};

typedef struct code_search {
    uintptr_t base; /* the artifact's load address */
    uintptr_t lo, hi;
} code_search;

static int find_code(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    code_search *cs = arg;
    if (info->dlpi_addr != cs->base) {
        return 0;
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
            uintptr_t hi = lo + ph->p_memsz;
            cs->lo = cs->lo == 0 || lo < cs->lo ? lo : cs->lo;
            cs->hi = hi > cs->hi ? hi : cs->hi;
        }
    }
    return 1;
}

viv_engine_status viv_engine_artifact_open(const char *path, const char *expect_sha256,
                                           viv_engine_artifact **out, char *err, size_t errlen)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "guest artifact %s: %s", path, strerror(errno));
        return errno == ENOENT ? VIV_ENGINE_ENOENT : VIV_ENGINE_EHOST;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "guest artifact %s is not a regular file", path);
        return VIV_ENGINE_EINVALID;
    }
    viv_engine_artifact *a = calloc(1, sizeof *a);
    if (a == NULL) {
        snprintf(err, errlen, "out of memory loading %s", path);
        return VIV_ENGINE_ENOMEM;
    }
    /* RTLD_LOCAL keeps the artifact's wasm-rt symbols from interposing on
     * anything else in the process. */
    a->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (a->handle == NULL) {
        snprintf(err, errlen, "cannot load guest artifact %s: %s", path, dlerror());
        free(a);
        return VIV_ENGINE_EINVALID;
    }
    viv_guest_entry_fn entry = (viv_guest_entry_fn)dlsym(a->handle, VIV_GUEST_ENTRY_SYMBOL);
    if (entry == NULL) {
        snprintf(err, errlen, "%s is not a Vivarium guest artifact (no %s)", path,
                 VIV_GUEST_ENTRY_SYMBOL);
        goto invalid;
    }
    a->info = entry();
    if (a->info == NULL || a->info->abi_version != VIV_GUEST_ABI_VERSION) {
        snprintf(err, errlen,
                 "guest artifact %s was built for ABI %u, this engine needs %u; recompile it "
                 "with `vivarium compile`",
                 path, a->info ? a->info->abi_version : 0, VIV_GUEST_ABI_VERSION);
        goto invalid;
    }
    /* 0 is an unmetered build, loadable but refused by viv_engine_run. */
    if (a->info->fuel_pass_version != VIV_FUEL_PASS_VERSION && a->info->fuel_pass_version != 0) {
        snprintf(err, errlen,
                 "guest artifact %s was metered by fuel pass %u, this engine needs %u; recompile "
                 "it with `vivarium compile`",
                 path, a->info->fuel_pass_version, VIV_FUEL_PASS_VERSION);
        goto invalid;
    }
    if (expect_sha256 != NULL && strcmp(expect_sha256, a->info->source_sha256) != 0) {
        snprintf(err, errlen, "guest artifact %s was built from module %s, expected %s", path,
                 a->info->source_sha256, expect_sha256);
        goto invalid;
    }
    /* Where the guest's machine code lives: a deadline signal that lands
     * there may unwind the guest at once (run.c). */
    struct link_map *lm = NULL;
    code_search cs = {0};
    if (dlinfo(a->handle, RTLD_DI_LINKMAP, &lm) == 0 && lm != NULL) {
        cs.base = lm->l_addr;
        dl_iterate_phdr(find_code, &cs);
    }
    a->code_lo = cs.lo;
    a->code_hi = cs.hi;
    *out = a;
    return VIV_ENGINE_OK;

invalid:
    dlclose(a->handle);
    free(a);
    return VIV_ENGINE_EINVALID;
}

void viv_engine_artifact_close(viv_engine_artifact *a)
{
    if (a == NULL) {
        return;
    }
    dlclose(a->handle);
    free(a);
}

void viv_engine_artifact_code(const viv_engine_artifact *a, uintptr_t *lo, uintptr_t *hi)
{
    *lo = a->code_lo;
    *hi = a->code_hi;
}

const viv_guest_artifact *viv_engine_artifact_info(const viv_engine_artifact *a) { return a->info; }
