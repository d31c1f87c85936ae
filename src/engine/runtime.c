/*
 * src/engine/runtime.c: the wasm-rt runtime that generated guest code calls.
 *
 * Owns: linear memory (reserved with guard regions so bounds checks are
 * free, made accessible page by page as the guest grows it, and capped by the
 * policy at growth time), funcref/externref tables, and the function-type
 * registry used by call_indirect.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "store.h"

static __attribute__((noreturn)) void host_fail(const char *what)
{
    viv_store *s = viv_store_current();
    snprintf(s->host_error, sizeof s->host_error, "%s: %s", what, strerror(errno));
    viv_store_unwind(s, VIV_UNWIND_HOST_ERROR);
}

static __attribute__((noreturn)) void rt_trap(wasm_rt_trap_t code)
{
    viv_store_unwind(viv_store_current(), (int)code);
}

/* --- linear memory ------------------------------------------------------ */

static void rt_allocate_memory(wasm_rt_memory_t *mem, uint32_t initial, uint32_t max)
{
    viv_store *s = viv_store_current();
    if (s->memory != NULL) {
        errno = ENOTSUP;
        host_fail("the guest declares more than one memory");
    }
    if (initial > s->memory_cap_pages) {
        snprintf(s->host_error, sizeof s->host_error,
                 "memory cap of %u pages is below the module's initial memory of %u pages",
                 s->memory_cap_pages, initial);
        viv_store_unwind(s, VIV_UNWIND_HOST_ERROR);
    }
    uint64_t len = VIV_MEMORY_RESERVATION + VIV_MEMORY_GUARD;
    void *base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        host_fail("reserving linear memory");
    }
    uint64_t bytes = (uint64_t)initial * VIV_WASM_PAGE;
    /* A page fault costs about 6 us here, and the guest's 10 MiB of initial
     * memory would take 2,560 of them: ask for transparent huge pages (a
     * hint; 4 KiB pages still work) so start-up and growth fault per 2 MiB. */
    (void)madvise(base, len, MADV_HUGEPAGE);
    if (bytes > 0 && mprotect(base, bytes, PROT_READ | PROT_WRITE) != 0) {
        munmap(base, len);
        host_fail("committing initial linear memory");
    }
    s->reservation = base;
    s->reservation_len = len;
    s->memory = mem;
    mem->data = base;
    mem->pages = initial;
    mem->size = (uint32_t)bytes;
    /* The policy's cap is the effective maximum; the module's own maximum
     * can only lower it. */
    s->module_max_pages = max;
    mem->max_pages = max < s->memory_cap_pages ? max : s->memory_cap_pages;
}

static uint32_t rt_grow_memory(wasm_rt_memory_t *mem, uint32_t delta)
{
    viv_store *s = viv_store_current();
    uint32_t old = mem->pages;
    uint64_t want = (uint64_t)old + delta;
    if (want > mem->max_pages) {
        /* Only the policy's cap counts: a refusal by the module's own,
         * lower maximum would happen under any policy. */
        if (mem->max_pages == s->memory_cap_pages) {
            s->memory_cap_hit = true;
        }
        return UINT32_MAX;
    }
    if (delta == 0) {
        return old;
    }
    /* 65536 pages is 4 GiB, which does not fit mem->size; wasm32 cannot
     * address it either. */
    if (want * VIV_WASM_PAGE > UINT32_MAX) {
        return UINT32_MAX;
    }
    uint8_t *from = mem->data + (uint64_t)old * VIV_WASM_PAGE;
    if (mprotect(from, (uint64_t)delta * VIV_WASM_PAGE, PROT_READ | PROT_WRITE) != 0) {
        return UINT32_MAX; /* the kernel refused: the guest sees a failed grow */
    }
    mem->pages = (uint32_t)want;
    mem->size = (uint32_t)(want * VIV_WASM_PAGE);
    return old;
}

static void rt_free_memory(wasm_rt_memory_t *mem)
{
    viv_store *s = viv_store_current();
    if (s != NULL && s->memory == mem && s->reservation != NULL) {
        munmap(s->reservation, s->reservation_len);
        s->reservation = NULL;
        s->memory = NULL;
    }
    mem->data = NULL;
    mem->size = 0;
    mem->pages = 0;
}

/* --- tables -------------------------------------------------------------- */

/* Tables are small (the guest's is ~5,000 entries) and never hold host
 * pointers the guest can forge: entries are written only by element segments
 * and table ops, and call_indirect checks the type id. */
#define TABLE_MAX_ELEMENTS (1u << 20)

static void *table_alloc(uint32_t elements, size_t elem_size)
{
    if (elements > TABLE_MAX_ELEMENTS) {
        errno = E2BIG;
        host_fail("allocating a table");
    }
    void *p = calloc(elements ? elements : 1, elem_size);
    if (p == NULL) {
        host_fail("allocating a table");
    }
    return p;
}

/* Both table kinds share one layout (data, max_size, size) and differ only
 * in their element type, so one grow serves both. */
static uint32_t table_grow(void **data, uint32_t *size, uint32_t max_size, uint32_t delta,
                           const void *init, size_t elem_size)
{
    uint32_t old = *size;
    uint64_t want = (uint64_t)old + delta;
    if (want > max_size || want > TABLE_MAX_ELEMENTS) {
        return UINT32_MAX;
    }
    uint8_t *p = realloc(*data, (size_t)(want ? want : 1) * elem_size);
    if (p == NULL) {
        return UINT32_MAX;
    }
    for (uint64_t i = old; i < want; i++) {
        memcpy(p + i * elem_size, init, elem_size);
    }
    *data = p;
    *size = (uint32_t)want;
    return old;
}

static void rt_allocate_funcref_table(wasm_rt_funcref_table_t *t, uint32_t n, uint32_t max)
{
    t->data = table_alloc(n, sizeof *t->data);
    t->size = n;
    t->max_size = max;
}

static uint32_t rt_grow_funcref_table(wasm_rt_funcref_table_t *t, uint32_t delta,
                                      wasm_rt_funcref_t init)
{
    void *data = t->data;
    uint32_t old = table_grow(&data, &t->size, t->max_size, delta, &init, sizeof init);
    t->data = data;
    return old;
}

static void rt_free_funcref_table(wasm_rt_funcref_table_t *t)
{
    free(t->data);
    t->data = NULL;
    t->size = 0;
}

static void rt_allocate_externref_table(wasm_rt_externref_table_t *t, uint32_t n, uint32_t max)
{
    t->data = table_alloc(n, sizeof *t->data);
    t->size = n;
    t->max_size = max;
}

static uint32_t rt_grow_externref_table(wasm_rt_externref_table_t *t, uint32_t delta,
                                        wasm_rt_externref_t init)
{
    void *data = t->data;
    uint32_t old = table_grow(&data, &t->size, t->max_size, delta, &init, sizeof init);
    t->data = data;
    return old;
}

static void rt_free_externref_table(wasm_rt_externref_table_t *t)
{
    free(t->data);
    t->data = NULL;
    t->size = 0;
}

/* --- function types ------------------------------------------------------ */

/* Ids start at 1 so that a zeroed (null) table entry never matches. */
static uint32_t rt_register_func_type(uint32_t params, uint32_t results,
                                      const wasm_rt_type_t *types)
{
    viv_store *s = viv_store_current();
    viv_func_types *ft = s->types;
    uint32_t n = params + results;
    for (uint32_t i = 0; i < ft->count; i++) {
        struct viv_func_sig *sig = &ft->sigs[i];
        if (sig->params == params && sig->results == results &&
            (n == 0 || memcmp(sig->types, types, n * sizeof *types) == 0)) {
            return i + 1;
        }
    }
    if (ft->count == ft->cap) {
        uint32_t cap = ft->cap ? ft->cap * 2 : 64;
        struct viv_func_sig *grown = realloc(ft->sigs, cap * sizeof *grown);
        if (grown == NULL) {
            host_fail("registering function types");
        }
        ft->sigs = grown;
        ft->cap = cap;
    }
    wasm_rt_type_t *copy = malloc((n ? n : 1) * sizeof *copy);
    if (copy == NULL) {
        host_fail("registering function types");
    }
    if (n > 0) {
        memcpy(copy, types, n * sizeof *types);
    }
    ft->sigs[ft->count] = (struct viv_func_sig){params, results, copy};
    return ++ft->count;
}

void viv_func_types_free(viv_func_types *t)
{
    for (uint32_t i = 0; i < t->count; i++) {
        free(t->sigs[i].types);
    }
    free(t->sigs);
    *t = (viv_func_types){0};
}

void viv_runtime_fill_host(viv_guest_host *h, const viv_guest_wasi *wasi)
{
    *h = (viv_guest_host){
        .abi_version = VIV_GUEST_ABI_VERSION,
        .trap = rt_trap,
        .register_func_type = rt_register_func_type,
        .allocate_memory = rt_allocate_memory,
        .grow_memory = rt_grow_memory,
        .free_memory = rt_free_memory,
        .allocate_funcref_table = rt_allocate_funcref_table,
        .grow_funcref_table = rt_grow_funcref_table,
        .free_funcref_table = rt_free_funcref_table,
        .allocate_externref_table = rt_allocate_externref_table,
        .grow_externref_table = rt_grow_externref_table,
        .free_externref_table = rt_free_externref_table,
        .wasi = wasi,
    };
}
