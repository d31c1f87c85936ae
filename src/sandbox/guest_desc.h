/*
 * src/sandbox/guest_desc.h (private to src/sandbox).
 *
 * Owns: the guest descriptor, an optional text file beside a guest module
 * (X.wasm -> X.guest) naming the guest and the host directories it needs
 * mounted read-only (a CPython whose standard library is not packed into
 * the module needs its stdlib at the prefix it was built for).
 *
 * Format, one directive a line, '#' starts a comment:
 *   name NAME                     a label for --version and events
 *   version TEXT                  free text (rest of the line)
 *   stdlib-sha256 HEX             sha256 of the guest's stdlib manifest (the
 *                                 build's list of every file and its sha256)
 *   ro-mount HOST_DIR GUEST_PATH  HOST_DIR relative to the descriptor's
 *                                 directory (or absolute); GUEST_PATH absolute
 * Unknown directives are refused: a descriptor the code does not fully
 * understand must not half-configure a guest.
 */
#ifndef VIV_GUEST_DESC_H
#define VIV_GUEST_DESC_H

#include <stddef.h>

#include "policy.h"
#include "vivarium.h"

#define VIV_GUEST_MAX_MOUNTS 4

typedef struct viv_guest_mount {
    char *host;  /* resolved absolute host directory */
    char *guest; /* absolute guest path */
} viv_guest_mount;

typedef struct viv_guest_desc {
    char *name;
    char *version;
    char *stdlib_sha256; /* 64 lowercase hex digits, or NULL */
    viv_guest_mount mounts[VIV_GUEST_MAX_MOUNTS];
    size_t nmounts;
} viv_guest_desc;

/* Load the descriptor beside wasm_path into *out (zeroed first). A missing
 * descriptor is not an error: *out stays empty. Errors name the descriptor
 * (error.path) and the line. */
viv_status viv_guest_desc_load(const char *wasm_path, viv_guest_desc *out, viv_error *err);

/* Load from an explicit descriptor file (for tests and tools). */
viv_status viv_guest_desc_load_file(const char *desc_path, viv_guest_desc *out, viv_error *err);

void viv_guest_desc_free(viv_guest_desc *d);

#endif
