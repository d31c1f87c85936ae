/*
 * tests/unit/fuel: hostile and broken inputs. Every one must come back as -1
 * with a message naming the byte offset, no output buffer, and (under
 * VIV_SANITIZE=ON) no sanitizer report. Ends with truncation at every length
 * and a deterministic byte-mutation fuzz over real modules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuel_pass.h"
#include "fuel_test_util.h"

static void expect_error(const uint8_t *in, size_t len, const char *needle)
{
    uint8_t *out = (uint8_t *)1;
    size_t out_len = 1;
    char err[256];
    memset(err, 'x', sizeof err);
    int rc = viv_fuel_instrument(in, len, &out, &out_len, NULL, err, sizeof err);
    if (rc != -1)
        fail_msg("expected failure (%s) but the pass accepted the input", needle);
    assert_null(out);
    assert_int_equal(out_len, 0);
    assert_non_null(memchr(err, '\0', sizeof err));
    assert_non_null(strstr(err, "byte offset"));
    if (needle && !strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

/* A module with one () -> () function whose body is `body` (locals included). */
static void with_body(tbuf *m, const uint8_t *body, size_t n)
{
    tbuf t = {0};
    static const uint8_t type[] = {0x01, 0x60, 0x00, 0x00};
    static const uint8_t func[] = {0x01, 0x00};
    tb_header(m);
    tb_put(&t, type, sizeof type);
    tb_section(m, 1, &t);
    tb_put(&t, func, sizeof func);
    tb_section(m, 3, &t);
    tb_u8(&t, 0x01);
    tb_u32(&t, (uint32_t)n);
    tb_put(&t, body, n);
    tb_section(m, 10, &t);
}

static void expect_body_error(const uint8_t *body, size_t n, const char *needle)
{
    tbuf m = {0};
    with_body(&m, body, n);
    expect_error(m.d, m.len, needle);
    tb_free(&m);
}
#define BODY_ERROR(arr, needle) expect_body_error(arr, sizeof(arr), needle)

static void test_header(void **state)
{
    static const uint8_t bad_magic[] = {0, 'a', 's', 'n', 1, 0, 0, 0};
    static const uint8_t bad_version[] = {0, 'a', 's', 'm', 2, 0, 0, 0};
    static const uint8_t short_header[] = {0, 'a', 's'};
    expect_error(bad_magic, sizeof bad_magic, "magic");
    expect_error(bad_version, sizeof bad_version, "version");
    expect_error(short_header, sizeof short_header, "end");
    expect_error(bad_magic, 0, "end");
    uint8_t *out;
    size_t len;
    char err[64];
    assert_int_equal(viv_fuel_instrument(NULL, 0, &out, &len, NULL, err, sizeof err), -1);
    /* A too-small message buffer is truncated, not overrun. */
    char tiny[4] = {'z', 'z', 'z', 'z'};
    assert_int_equal(viv_fuel_instrument(bad_magic, sizeof bad_magic, &out, &len, NULL, tiny, 3),
                     -1);
    assert_int_equal(tiny[2], '\0');
    assert_int_equal(tiny[3], 'z');
    assert_int_equal(viv_fuel_instrument(bad_magic, sizeof bad_magic, &out, &len, NULL, NULL, 0),
                     -1);
}

static void test_bad_leb(void **state)
{
    /* Section size in six bytes. */
    static const uint8_t too_long[] = {0,    'a',  's',  'm',  1,    0,    0,   0,
                                       0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    expect_error(too_long, sizeof too_long, "LEB128");
    /* Five bytes, but bits above 32 set. */
    static const uint8_t overflow[] = {0, 'a',  's',  'm',  1,    0,    0,
                                       0, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
    expect_error(overflow, sizeof overflow, "overflows");
    /* LEB cut off by the end of the file. */
    static const uint8_t cut[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 0x01, 0x80};
    expect_error(cut, sizeof cut, "end");
    /* i32.const with an s32 whose unused bits disagree with the sign. */
    static const uint8_t s32[] = {0x00, 0x41, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x1A, 0x0B};
    BODY_ERROR(s32, "overflows 32");
    /* i64.const in eleven bytes. */
    static const uint8_t s64[] = {0x00, 0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                  0x80, 0x80, 0x80, 0x80, 0x00, 0x1A, 0x0B};
    BODY_ERROR(s64, "LEB128");
}

static void test_unsupported_opcodes(void **state)
{
    static const uint8_t simd[] = {0x00, 0xFD, 0x0C, 0x0B};
    static const uint8_t threads[] = {0x00, 0xFE, 0x03, 0x00, 0x0B};
    static const uint8_t try_[] = {0x00, 0x06, 0x40, 0x0B, 0x0B};
    static const uint8_t tail[] = {0x00, 0x12, 0x00, 0x0B};
    static const uint8_t gc[] = {0x00, 0xFB, 0x00, 0x0B};
    static const uint8_t unknown[] = {0x00, 0xC5, 0x0B};
    static const uint8_t fc18[] = {0x00, 0xFC, 0x12, 0x0B};
    BODY_ERROR(simd, "0xfd");
    BODY_ERROR(simd, "SIMD");
    BODY_ERROR(threads, "threads");
    BODY_ERROR(try_, "exception");
    BODY_ERROR(tail, "tail");
    BODY_ERROR(gc, "GC");
    BODY_ERROR(unknown, "unknown opcode 0xc5");
    BODY_ERROR(fc18, "0xfc 18");
    /* The offset points at the opcode: header 8, type 6, function 4, code
     * id+size+count+bodysize 4, locals 1. */
    BODY_ERROR(simd, "byte offset 23 ");
}

static void test_bad_structure(void **state)
{
    static const uint8_t else_alone[] = {0x00, 0x05, 0x0B};
    static const uint8_t else_in_block[] = {0x00, 0x02, 0x40, 0x05, 0x0B, 0x0B};
    static const uint8_t no_end[] = {0x00, 0x01};
    static const uint8_t inner_end_missing[] = {0x00, 0x02, 0x40, 0x0B};
    static const uint8_t after_end[] = {0x00, 0x0B, 0x01};
    static const uint8_t bad_blocktype[] = {0x00, 0x02, 0x05, 0x0B, 0x0B};
    static const uint8_t neg_blocktype[] = {0x00, 0x02, 0x60, 0x0B, 0x0B};
    static const uint8_t v128_block[] = {0x00, 0x02, 0x7B, 0x0B, 0x0B};
    static const uint8_t too_many_locals[] = {0x02, 0xC0, 0x84, 0x3D, 0x7F, 0x01, 0x7F, 0x0B};
    static const uint8_t local_count_forged[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x0B};
    static const uint8_t br_table_forged[] = {0x00, 0x0E, 0xFF, 0xFF, 0x03, 0x0B};
    static const uint8_t memidx[] = {0x00, 0x3F, 0x01, 0x1A, 0x0B};
    static const uint8_t memarg_memidx[] = {0x00, 0x41, 0x00, 0x28, 0x42, 0x00, 0x00, 0x1A, 0x0B};
    static const uint8_t bad_type_idx[] = {0x00, 0x41, 0x00, 0x11, 0x05, 0x00, 0x0B};
    BODY_ERROR(else_alone, "else");
    BODY_ERROR(else_in_block, "else");
    BODY_ERROR(no_end, "end");
    BODY_ERROR(inner_end_missing, "end");
    BODY_ERROR(after_end, "after");
    BODY_ERROR(bad_blocktype, "out of range");
    BODY_ERROR(neg_blocktype, "block type");
    BODY_ERROR(v128_block, "SIMD");
    BODY_ERROR(too_many_locals, "locals");
    BODY_ERROR(local_count_forged, "count");
    BODY_ERROR(br_table_forged, "count");
    BODY_ERROR(memidx, "multi-memory");
    BODY_ERROR(memarg_memidx, "multi-memory");
    BODY_ERROR(bad_type_idx, "call_indirect type index 5");
}

static void test_deep_nesting(void **state)
{
    size_t depth = 70000;
    tbuf b = {0};
    tb_u8(&b, 0x00);
    for (size_t i = 0; i < depth; i++) {
        tb_u8(&b, 0x02);
        tb_u8(&b, 0x40);
    }
    for (size_t i = 0; i <= depth; i++)
        tb_u8(&b, 0x0B);
    expect_body_error(b.d, b.len, "nested");
    tb_free(&b);
}

static void test_bad_sections(void **state)
{
    tbuf m = {0}, t = {0};
    static const uint8_t type[] = {0x01, 0x60, 0x00, 0x00};
    static const uint8_t func[] = {0x01, 0x00};
    static const uint8_t body[] = {0x01, 0x02, 0x00, 0x0B};

    /* Function before type. */
    tb_header(&m);
    tb_u8(&t, 0x00);
    tb_section(&m, 3, &t);
    tb_put(&t, type, sizeof type);
    tb_section(&m, 1, &t);
    expect_error(m.d, m.len, "order");
    tb_free(&m);

    /* Repeated type section. */
    tb_header(&m);
    tb_put(&t, type, sizeof type);
    tb_section(&m, 1, &t);
    tb_put(&t, type, sizeof type);
    tb_section(&m, 1, &t);
    expect_error(m.d, m.len, "repeated");
    tb_free(&m);

    /* Declared function without a code section. */
    tb_header(&m);
    tb_put(&t, type, sizeof type);
    tb_section(&m, 1, &t);
    tb_put(&t, func, sizeof func);
    tb_section(&m, 3, &t);
    expect_error(m.d, m.len, "no code section");
    tb_free(&m);

    /* Code without function section. */
    tb_header(&m);
    tb_put(&t, type, sizeof type);
    tb_section(&m, 1, &t);
    tb_put(&t, body, sizeof body);
    tb_section(&m, 10, &t);
    expect_error(m.d, m.len, "declared");
    tb_free(&m);

    /* Unknown and tag section ids. */
    static const uint8_t unknown[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 0x0E, 0x00};
    expect_error(unknown, sizeof unknown, "unknown section");
    static const uint8_t tag[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 0x0D, 0x00};
    expect_error(tag, sizeof tag, "exception");

    /* Section size beyond the file; body size beyond the section. */
    static const uint8_t big[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 0x01, 0x10, 0x00};
    expect_error(big, sizeof big, "exceeds");
    tb_header(&m);
    tb_put(&t, type, sizeof type);
    tb_section(&m, 1, &t);
    tb_put(&t, func, sizeof func);
    tb_section(&m, 3, &t);
    static const uint8_t long_body[] = {0x01, 0x09, 0x00, 0x0B};
    tb_put(&t, long_body, sizeof long_body);
    tb_section(&m, 10, &t);
    expect_error(m.d, m.len, "exceeds");
    tb_free(&m);

    /* Trailing bytes inside a section. */
    tb_header(&m);
    tb_put(&t, type, sizeof type);
    tb_u8(&t, 0x00);
    tb_section(&m, 1, &t);
    expect_error(m.d, m.len, "trailing");
    tb_free(&m);

    /* Forged vector count. */
    static const uint8_t forged[] = {0,    'a',  's',  'm',  1,    0,    0,   0,
                                     0x01, 0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F};
    expect_error(forged, sizeof forged, "count");

    /* v128 in a function type; a GC type form. */
    static const uint8_t v128[] = {0,    'a',  's',  'm',  1,    0,    0,   0,
                                   0x01, 0x05, 0x01, 0x60, 0x01, 0x7B, 0x00};
    expect_error(v128, sizeof v128, "SIMD");
    static const uint8_t gc_type[] = {0, 'a',  's',  'm',  1,    0,    0,
                                      0, 0x01, 0x04, 0x01, 0x5F, 0x00, 0x00};
    expect_error(gc_type, sizeof gc_type, "GC");

    /* Shared memory, memory64, two memories. */
    static const uint8_t shared[] = {0, 'a',  's',  'm',  1,    0,    0,
                                     0, 0x05, 0x04, 0x01, 0x03, 0x01, 0x01};
    expect_error(shared, sizeof shared, "threads");
    static const uint8_t mem64[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 0x05, 0x03, 0x01, 0x04, 0x01};
    expect_error(mem64, sizeof mem64, "memory64");
    static const uint8_t two[] = {0,    'a',  's',  'm',  1,    0,    0,   0,
                                  0x05, 0x05, 0x02, 0x00, 0x01, 0x00, 0x01};
    expect_error(two, sizeof two, "multi-memory");

    /* Global initialiser that is not a constant expression. */
    static const uint8_t gexpr[] = {0,    'a',  's',  'm',  1,    0,    0,    0,   0x06,
                                    0x07, 0x01, 0x7F, 0x00, 0x41, 0x00, 0x45, 0x0B};
    expect_error(gexpr, sizeof gexpr, "constant expression");

    /* Custom section whose name runs past its end. */
    static const uint8_t cname[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 0x00, 0x02, 0x05, 'a'};
    expect_error(cname, sizeof cname, "count");
}

static size_t section_ends(const uint8_t *m, size_t len, size_t *ends, size_t max)
{
    tsec secs[64];
    int n = t_sections(m, len, secs, 64);
    assert_true(n > 0);
    size_t k = 0;
    ends[k++] = 8;
    for (int i = 0; i < n && k < max; i++)
        ends[k++] = secs[i].content + secs[i].size;
    return k;
}

/* Every strict prefix must fail, except those that end between sections and
 * happen to be complete modules on their own. */
static void truncate_all(const char *path)
{
    size_t len;
    uint8_t *full = t_read_file(path, &len);
    size_t ends[64];
    size_t nends = section_ends(full, len, ends, 64);
    for (size_t cut = 0; cut < len; cut++) {
        /* A fresh copy of exactly `cut` bytes, so ASan sees reads past it. */
        uint8_t *in = malloc(cut ? cut : 1);
        memcpy(in, full, cut);
        uint8_t *out;
        size_t out_len;
        char err[256];
        int rc = viv_fuel_instrument(in, cut, &out, &out_len, NULL, err, sizeof err);
        if (rc == 0) {
            bool boundary = false;
            for (size_t i = 0; i < nends; i++)
                boundary |= ends[i] == cut;
            if (!boundary)
                fail_msg("%s cut at %zu bytes was accepted", path, cut);
            free(out);
        } else {
            assert_non_null(strstr(err, "byte offset"));
        }
        free(in);
    }
    free(full);
}

static void test_truncation(void **state)
{
    truncate_all(FUEL_TEST_WASM_DIR "/constructs.wasm");
    truncate_all(FUEL_TEST_WASM_DIR "/behaviour.wasm");
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void mutate_all(const char *path, int rounds)
{
    size_t len;
    uint8_t *orig = t_read_file(path, &len);
    uint8_t *in = malloc(len);
    int accepted = 0;
    for (int r = 0; r < rounds; r++) {
        memcpy(in, orig, len);
        int flips = 1 + (int)(rng() % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = 8 + rng() % (len - 8);
            switch (rng() % 3) {
            case 0:
                in[at] ^= (uint8_t)(1u << (rng() % 8));
                break;
            case 1:
                in[at] = (uint8_t)rng();
                break;
            default:
                in[at] = (uint8_t)(rng() % 2 ? 0xFF : 0x80);
                break;
            }
        }
        size_t use = rng() % 8 == 0 ? 8 + rng() % (len - 8) : len;
        uint8_t *out;
        size_t out_len;
        char err[256];
        int rc = viv_fuel_instrument(in, use, &out, &out_len, NULL, err, sizeof err);
        if (rc == 0) {
            accepted++;
            assert_true(out_len > use);
            free(out);
        } else {
            assert_non_null(strstr(err, "byte offset"));
        }
    }
    /* Mutations in data and custom sections are harmless, so some pass. */
    assert_true(accepted > 0);
    free(in);
    free(orig);
}

static void test_mutation_fuzz(void **state)
{
    mutate_all(FUEL_TEST_WASM_DIR "/constructs.wasm", 20000);
    mutate_all(FUEL_TEST_WASM_DIR "/behaviour.wasm", 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_bad_leb),
        cmocka_unit_test(test_unsupported_opcodes),
        cmocka_unit_test(test_bad_structure),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_bad_sections),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_mutation_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
