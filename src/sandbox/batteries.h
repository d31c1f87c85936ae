/*
 * src/sandbox/batteries.h (private to src/sandbox).
 *
 * Owns: finding the batteries tree (pure-Python packages byte-compiled for
 * the guest, built by guest/batteries/build.sh) beside a guest module,
 * reading its MANIFEST, and what the packages need from a sandbox's
 * policy: the tree's read-only mounts and a temporary directory. A missing
 * or unusable tree never fails a sandbox: runs go on without packages and
 * the reason is kept for the result's metadata.
 */
#ifndef VIV_SANDBOX_BATTERIES_H
#define VIV_SANDBOX_BATTERIES_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

/* The tree sits beside the guest module: DIR/python.wasm -> DIR/batteries. */
#define VIV_BATTERIES_DIRNAME "batteries"

typedef struct viv_batteries {
    bool available;
    char reason[600];     /* why not, when !available */
    char root[4096];      /* the tree on the host, symlinks resolved */
    char site_guest[256]; /* where site/ is mounted (the guest's purelib) */
    char zoneinfo_guest[256];
    char **modules; /* importable top-level modules, sorted; owned */
    size_t nmodules;
} viv_batteries;

/* Looks for the tree beside wasm_path and reads its MANIFEST into *b.
 * Returns 0, or -1 only when memory ran out (b->reason says so); a tree
 * that is absent or malformed gives 0 with b->available false. */
int viv_batteries_find(const char *wasm_path, viv_batteries *b);

/* Adds the tree's mounts to p (the sandbox's own copy of the policy).
 * When the policy already uses one of the guest paths, the policy wins:
 * nothing is added and b->available becomes false with the reason. */
void viv_batteries_mount(viv_batteries *b, viv_policy *p);

/* Sets TMPDIR to the workspace's guest path unless the policy sets it. The
 * guest has no /tmp, and without TMPDIR `tempfile` (which openpyxl and
 * xlsxwriter use to save files) finds no directory at all. Fails only when
 * memory runs out. */
viv_status viv_batteries_default_tmpdir(viv_policy *p, viv_error *err);

void viv_batteries_free(viv_batteries *b);

#endif /* VIV_SANDBOX_BATTERIES_H */
