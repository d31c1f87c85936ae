/*
 * tools/fuel: bounds-checked reading and growable writing of WebAssembly
 * binary primitives. See wasm_io.h.
 */
#include "wasm_io.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wio_reader_init(wio_reader *r, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    r->buf = buf;
    r->pos = 0;
    r->end = len;
    r->len = len;
    r->failed = false;
    r->err = err;
    r->errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
}

bool wio_fail_at(wio_reader *r, size_t offset, const char *fmt, ...)
{
    if (r->failed)
        return false;
    r->failed = true;
    if (!r->err || r->errlen == 0)
        return false;
    int n = snprintf(r->err, r->errlen, "byte offset %zu (0x%zx): ", offset, offset);
    if (n < 0 || (size_t)n >= r->errlen)
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

bool wio_u8(wio_reader *r, uint8_t *v)
{
    if (r->failed)
        return false;
    if (r->pos >= r->end)
        return wio_fail_at(r, r->pos, "unexpected end of %s",
                           r->end < r->len ? "section or function body" : "file");
    *v = r->buf[r->pos++];
    return true;
}

bool wio_peek(wio_reader *r, uint8_t *v)
{
    if (!wio_u8(r, v))
        return false;
    r->pos--;
    return true;
}

bool wio_bytes(wio_reader *r, size_t n, const uint8_t **p)
{
    if (r->failed)
        return false;
    if (n > wio_left(r))
        return wio_fail_at(r, r->pos, "unexpected end of %s: %zu bytes needed, %zu left",
                           r->end < r->len ? "section or function body" : "file", n, wio_left(r));
    *p = r->buf + r->pos;
    r->pos += n;
    return true;
}

bool wio_skip(wio_reader *r, size_t n)
{
    const uint8_t *p;
    return wio_bytes(r, n, &p);
}

/*
 * The format caps every LEB at ceil(bits/7) bytes and requires the bits of
 * the last byte beyond `bits` to be zero (unsigned) or copies of the sign
 * bit (signed). Accepting anything looser would let two different byte
 * strings decode to one module, which a fuzzer would rightly flag.
 */
static bool read_uleb(wio_reader *r, unsigned bits, uint64_t *out)
{
    size_t start = r->pos;
    unsigned max_bytes = (bits + 6) / 7;
    uint64_t result = 0;
    uint8_t byte = 0;
    for (unsigned i = 0;; i++) {
        if (i == max_bytes)
            return wio_fail_at(r, start, "LEB128 longer than %u bytes", max_bytes);
        if (!wio_u8(r, &byte))
            return false;
        result |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            if (i == max_bytes - 1) {
                unsigned used = bits - 7 * (max_bytes - 1);
                if (byte & 0x7f & ~((1u << used) - 1))
                    return wio_fail_at(r, start, "unsigned LEB128 overflows %u bits", bits);
            }
            break;
        }
    }
    *out = result;
    return true;
}

static bool read_sleb(wio_reader *r, unsigned bits, int64_t *out)
{
    size_t start = r->pos;
    unsigned max_bytes = (bits + 6) / 7;
    uint64_t result = 0;
    unsigned shift = 0;
    uint8_t byte = 0;
    for (unsigned i = 0;; i++) {
        if (i == max_bytes)
            return wio_fail_at(r, start, "LEB128 longer than %u bytes", max_bytes);
        if (!wio_u8(r, &byte))
            return false;
        result |= (uint64_t)(byte & 0x7f) << shift;
        shift += 7;
        if (!(byte & 0x80)) {
            if (i == max_bytes - 1) {
                unsigned used = bits - 7 * (max_bytes - 1);
                unsigned mask = (0x7fu >> (used - 1)) << (used - 1);
                if ((byte & mask) != 0 && (byte & mask) != mask)
                    return wio_fail_at(r, start, "signed LEB128 overflows %u bits", bits);
            }
            break;
        }
    }
    if (shift < 64 && (byte & 0x40))
        result |= ~(uint64_t)0 << shift;
    memcpy(out, &result, sizeof *out);
    return true;
}

bool wio_u32(wio_reader *r, uint32_t *v)
{
    uint64_t x = 0;
    if (!read_uleb(r, 32, &x))
        return false;
    *v = (uint32_t)x;
    return true;
}

bool wio_s32(wio_reader *r, int32_t *v)
{
    int64_t x = 0;
    if (!read_sleb(r, 32, &x))
        return false;
    *v = (int32_t)x;
    return true;
}

bool wio_s33(wio_reader *r, int64_t *v) { return read_sleb(r, 33, v); }

bool wio_s64(wio_reader *r, int64_t *v) { return read_sleb(r, 64, v); }

bool wio_count(wio_reader *r, size_t min_elem, uint32_t *v)
{
    size_t start = r->pos;
    if (!wio_u32(r, v))
        return false;
    if (min_elem && *v > wio_left(r) / min_elem)
        return wio_fail_at(r, start, "count %u cannot fit in the %zu bytes left", *v, wio_left(r));
    return true;
}

void wio_buf_free(wio_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

bool wio_reserve(wio_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (extra <= b->cap - b->len)
        return true;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->oom = true;
        return false;
    }
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d) {
        b->oom = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void wio_put(wio_buf *b, const void *p, size_t n)
{
    if (n == 0 || !wio_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void wio_put_u8(wio_buf *b, uint8_t v) { wio_put(b, &v, 1); }

void wio_put_u32(wio_buf *b, uint32_t v)
{
    uint8_t tmp[5];
    size_t n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        tmp[n++] = byte | (v ? 0x80 : 0);
    } while (v);
    wio_put(b, tmp, n);
}

void wio_put_s64(wio_buf *b, int64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    for (;;) {
        uint8_t byte = (uint8_t)(v & 0x7f);
        /* Arithmetic shift of a negative value is implementation-defined in
         * C17; dividing keeps the sign without relying on it. */
        int64_t rest = (v - (v & 0x7f)) / 128;
        bool done = (rest == 0 && !(byte & 0x40)) || (rest == -1 && (byte & 0x40));
        tmp[n++] = byte | (done ? 0 : 0x80);
        if (done)
            break;
        v = rest;
    }
    wio_put(b, tmp, n);
}

size_t wio_u32_size(uint32_t v)
{
    size_t n = 1;
    while (v >>= 7)
        n++;
    return n;
}

size_t wio_s64_size(int64_t v)
{
    wio_buf b = {0};
    uint8_t tmp[16];
    b.data = tmp;
    b.cap = sizeof tmp;
    wio_put_s64(&b, v);
    return b.len;
}
