/*
 * tools/fuel: bounds-checked byte reading and growable byte writing for the
 * WebAssembly binary format (LEB128 in all the widths the format uses).
 *
 * Owns: the only code in the pass that touches raw input bytes, so that
 * "never read outside the input" has to hold in one small file, and the
 * first-error-wins error report with its byte offset.
 */
#ifndef VIV_FUEL_WASM_IO_H
#define VIV_FUEL_WASM_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A cursor over the whole input. `end` is narrowed while reading a section or
 * a function body and restored afterwards, so offsets in errors are always
 * offsets into the file the user gave us.
 */
typedef struct wio_reader {
    const uint8_t *buf;
    size_t pos;
    size_t end;
    size_t len;
    bool failed;
    char *err;
    size_t errlen;
} wio_reader;

void wio_reader_init(wio_reader *r, const uint8_t *buf, size_t len, char *err, size_t errlen);

/* Records the first failure only: later ones are consequences of it. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
bool wio_fail_at(wio_reader *r, size_t offset, const char *fmt, ...);

static inline size_t wio_left(const wio_reader *r) { return r->end - r->pos; }

bool wio_u8(wio_reader *r, uint8_t *v);
/* Looks at the next byte without consuming it; fails at the end like wio_u8. */
bool wio_peek(wio_reader *r, uint8_t *v);
bool wio_bytes(wio_reader *r, size_t n, const uint8_t **p);
bool wio_skip(wio_reader *r, size_t n);
bool wio_u32(wio_reader *r, uint32_t *v);
bool wio_s32(wio_reader *r, int32_t *v);
bool wio_s33(wio_reader *r, int64_t *v);
bool wio_s64(wio_reader *r, int64_t *v);

/*
 * Reads a vector length and rejects it if the remaining bytes could not hold
 * that many elements of at least `min_elem` bytes each, so that a forged
 * count can never drive a long loop or a large allocation.
 */
bool wio_count(wio_reader *r, size_t min_elem, uint32_t *v);

typedef struct wio_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool oom;
} wio_buf;

void wio_buf_free(wio_buf *b);
bool wio_reserve(wio_buf *b, size_t extra);
void wio_put(wio_buf *b, const void *p, size_t n);
void wio_put_u8(wio_buf *b, uint8_t v);
void wio_put_u32(wio_buf *b, uint32_t v);
void wio_put_s64(wio_buf *b, int64_t v);

size_t wio_u32_size(uint32_t v);
size_t wio_s64_size(int64_t v);

#endif /* VIV_FUEL_WASM_IO_H */
