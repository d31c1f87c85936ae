/*
 * tests/unit/fuel: helpers shared by the fuel-pass tests.
 *
 * Owns: building small modules byte by byte, finding sections and function
 * bodies in a module (an independent re-implementation, so the tests do not
 * trust the code under test to read its own output), files, and running the
 * wabt tools as child processes.
 */
#ifndef VIV_FUEL_TEST_UTIL_H
#define VIV_FUEL_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tbuf {
    uint8_t *d;
    size_t len, cap;
} tbuf;

void tb_free(tbuf *b);
void tb_put(tbuf *b, const void *p, size_t n);
void tb_u8(tbuf *b, uint8_t v);
void tb_u32(tbuf *b, uint32_t v);
/* Appends section `id` holding `content`, and frees `content`. */
void tb_section(tbuf *mod, uint8_t id, tbuf *content);
void tb_header(tbuf *mod);

/* Byte-level shorthands for expected instrumentation (fuel index < 128). */
#define CHARGE(g, n) 0x23, (g), 0x42, (n), 0x7D, 0x24, (g)
#define CHECK(g)     0x23, (g), 0x42, 0x00, 0x53, 0x04, 0x40, 0x00, 0x0B

typedef struct tsec {
    uint8_t id;
    size_t start;   /* offset of the id byte */
    size_t content; /* offset of the content */
    size_t size;    /* content size */
} tsec;

/* Splits a module into sections; returns the count or -1 if malformed. */
int t_sections(const uint8_t *m, size_t len, tsec *out, int max);
/* Finds function body `index` (defined functions only) as its bytes. */
bool t_body(const uint8_t *m, size_t len, uint32_t index, const uint8_t **body, size_t *blen);
/* Reads an unsigned LEB128 (test-side, no overflow checks needed). */
uint32_t t_uleb(const uint8_t *p, size_t *pos);

uint8_t *t_read_file(const char *path, size_t *len);
void t_write_file(const char *path, const uint8_t *d, size_t len);
/* A fresh path under the build's scratch directory. */
const char *t_tmp_path(const char *name);

/*
 * Runs argv[0] with its stdout and stderr captured into a malloc'd string.
 * The child gets an alarm so a broken metering pass cannot hang the suite.
 * Returns the exit status, or -1 if the child was killed by a signal.
 */
int t_run(const char *const argv[], char **output);

/* Instruments `path` with the given initial fuel, writes it to `out_path`. */
void t_instrument_file(const char *path, const char *out_path, int64_t initial);

#endif /* VIV_FUEL_TEST_UTIL_H */
