/*
 * tests/unit/fuel: exact-byte checks of what the fuel pass inserts and where,
 * on modules built by hand so every input byte is known. Each instrumented
 * module is also run through wasm-validate.
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

enum { T_V_V, T_I_I, T_I_V, T_FIXED };

typedef struct fn {
    uint32_t type;
    const uint8_t *body;
    size_t len;
} fn;

typedef struct mspec {
    const fn *fns;
    size_t nfns;
    uint32_t extra_types;      /* more (i32)->(i32) types after the fixed ones */
    uint32_t imported_globals; /* immutable i32 imports env.gN */
    uint32_t defined_globals;  /* mutable i32 globals = 0 */
    uint32_t exported;         /* the first `exported` functions, as "f0", "f1", ... */
} mspec;

static void build(tbuf *m, const mspec *s)
{
    tbuf t = {0};
    tb_header(m);

    tb_u32(&t, T_FIXED + s->extra_types);
    static const uint8_t fixed[] = {0x60, 0, 0, 0x60, 1, 0x7F, 1, 0x7F, 0x60, 1, 0x7F, 0};
    tb_put(&t, fixed, sizeof fixed);
    for (uint32_t i = 0; i < s->extra_types; i++)
        tb_put(&t, fixed + 3, 5);
    tb_section(m, 1, &t);

    if (s->imported_globals) {
        tb_u32(&t, s->imported_globals);
        for (uint32_t i = 0; i < s->imported_globals; i++) {
            char name[16];
            int n = snprintf(name, sizeof name, "g%u", i);
            tb_u32(&t, 3);
            tb_put(&t, "env", 3);
            tb_u32(&t, (uint32_t)n);
            tb_put(&t, name, (size_t)n);
            static const uint8_t desc[] = {0x03, 0x7F, 0x00};
            tb_put(&t, desc, sizeof desc);
        }
        tb_section(m, 2, &t);
    }

    tb_u32(&t, (uint32_t)s->nfns);
    for (size_t i = 0; i < s->nfns; i++)
        tb_u32(&t, s->fns[i].type);
    tb_section(m, 3, &t);

    if (s->defined_globals) {
        tb_u32(&t, s->defined_globals);
        static const uint8_t g[] = {0x7F, 0x01, 0x41, 0x00, 0x0B};
        for (uint32_t i = 0; i < s->defined_globals; i++)
            tb_put(&t, g, sizeof g);
        tb_section(m, 6, &t);
    }

    if (s->exported) {
        tb_u32(&t, s->exported);
        for (uint32_t i = 0; i < s->exported; i++) {
            char name[16];
            int n = snprintf(name, sizeof name, "f%u", i);
            tb_u32(&t, (uint32_t)n);
            tb_put(&t, name, (size_t)n);
            tb_u8(&t, 0x00);
            tb_u32(&t, i);
        }
        tb_section(m, 7, &t);
    }

    tb_u32(&t, (uint32_t)s->nfns);
    for (size_t i = 0; i < s->nfns; i++) {
        tb_u32(&t, (uint32_t)s->fns[i].len);
        tb_put(&t, s->fns[i].body, s->fns[i].len);
    }
    tb_section(m, 10, &t);
}

static void validate(const uint8_t *wasm, size_t len)
{
    const char *path = t_tmp_path("structure.wasm");
    t_write_file(path, wasm, len);
    const char *argv[] = {WASM_VALIDATE, path, NULL};
    char *out;
    int rc = t_run(argv, &out);
    if (rc != 0)
        fail_msg("wasm-validate rejected the instrumented module:\n%s", out);
    free(out);
}

static uint8_t *instrument(const tbuf *m, size_t *out_len, viv_fuel_stats *st)
{
    uint8_t *out;
    char err[256];
    int rc = viv_fuel_instrument(m->d, m->len, &out, out_len, st, err, sizeof err);
    if (rc != 0)
        fail_msg("instrument failed: %s", err);
    validate(out, *out_len);
    return out;
}

static void expect_body(const uint8_t *out, size_t len, uint32_t index, const uint8_t *want,
                        size_t want_len)
{
    const uint8_t *body;
    size_t blen;
    assert_true(t_body(out, len, index, &body, &blen));
    if (blen != want_len || memcmp(body, want, blen) != 0) {
        fprintf(stderr, "body %u:\n  got ", index);
        for (size_t i = 0; i < blen; i++)
            fprintf(stderr, "%02x ", body[i]);
        fprintf(stderr, "\n want ");
        for (size_t i = 0; i < want_len; i++)
            fprintf(stderr, "%02x ", want[i]);
        fprintf(stderr, "\n");
        fail_msg("function body %u differs", index);
    }
}

#define FN(type, arr)                                                                              \
    {                                                                                              \
        (type), (arr), sizeof(arr)                                                                 \
    }

/* One function, fuel global index 0: checks the exact rewritten body. */
static void check_single(uint32_t type, const uint8_t *in, size_t in_len, const uint8_t *want,
                         size_t want_len)
{
    fn f = {type, in, in_len};
    mspec s = {&f, 1, 0, 0, 0, 1}; /* exported: callers do not pay its entry */
    tbuf m = {0};
    build(&m, &s);
    size_t len;
    uint8_t *out = instrument(&m, &len, NULL);
    expect_body(out, len, 0, want, want_len);
    free(out);
    tb_free(&m);
}
#define CHECK_SINGLE(type, in, want) check_single(type, in, sizeof(in), want, sizeof(want))

static void test_if_else(void **state)
{
    static const uint8_t in[] = {0x00, 0x20, 0x00, 0x04, 0x7F, 0x41,
                                 0x01, 0x05, 0x41, 0x02, 0x0B, 0x0B};
    /* local.get + if = 2; then-arm const + else = 1; else-arm const + end = 1. */
    static const uint8_t want[] = {0x00, CHARGE(0, 2), CHECK(0), 0x20, 0x00, 0x04,
                                   0x7F, CHARGE(0, 1), 0x41,     0x01, 0x05, CHARGE(0, 1),
                                   0x41, 0x02,         0x0B,     0x0B};
    CHECK_SINGLE(T_I_I, in, want);
}

static void test_loop_countdown(void **state)
{
    static const uint8_t in[] = {0x00, 0x02, 0x40, 0x03, 0x40, 0x20, 0x00, 0x45, 0x0D, 0x01, 0x20,
                                 0x00, 0x41, 0x01, 0x6B, 0x21, 0x00, 0x0C, 0x00, 0x0B, 0x0B, 0x0B};
    /* Entry is free (block, loop) but still checked; the loop header is
     * charged 3 and checked; the rest of the body up to br is 5. */
    static const uint8_t want[] = {0x00,     CHECK(0), 0x02, 0x40, 0x03, 0x40, CHARGE(0, 3),
                                   CHECK(0), 0x20,     0x00, 0x45, 0x0D, 0x01, CHARGE(0, 5),
                                   0x20,     0x00,     0x41, 0x01, 0x6B, 0x21, 0x00,
                                   0x0C,     0x00,     0x0B, 0x0B, 0x0B};
    CHECK_SINGLE(T_I_V, in, want);
}

static void test_free_ops_br_table_unreachable(void **state)
{
    static const uint8_t in[] = {0x00, 0x01, 0x41, 0x05, 0x1A, 0x02, 0x40, 0x41,
                                 0x00, 0x0E, 0x01, 0x00, 0x00, 0x0B, 0x00, 0x0B};
    /* nop, drop and block are free: const, const, br_table = 3. The
     * br_table only targets its own block, so the unreachable after the
     * block (1) is paid for at entry too. */
    static const uint8_t want[] = {0x00, CHARGE(0, 4), CHECK(0), 0x01, 0x41, 0x05,
                                   0x1A, 0x02,         0x40,     0x41, 0x00, 0x0E,
                                   0x01, 0x00,         0x00,     0x0B, 0x00, 0x0B};
    CHECK_SINGLE(T_V_V, in, want);
}

static void test_return_starts_segment(void **state)
{
    static const uint8_t in[] = {0x00, 0x41, 0x01, 0x0F, 0x41, 0x02, 0x0B};
    static const uint8_t want[] = {0x00, CHARGE(0, 2), CHECK(0), 0x41, 0x01,
                                   0x0F, CHARGE(0, 1), 0x41,     0x02, 0x0B};
    CHECK_SINGLE(T_I_I, in, want);
}

/*
 * Calls do not end a segment. The callee is not exported, in no table and
 * not the start function: only direct calls start it, so each call site pays
 * for its entry segment (1) and the callee keeps only its check. The
 * exported caller pays for its own entry: 3 + 1 + 1.
 */
static void test_calls_do_not_split(void **state)
{
    static const uint8_t caller[] = {0x00, 0x41, 0x07, 0x10, 0x01, 0x10, 0x01, 0x1A, 0x0B};
    static const uint8_t callee[] = {0x00, 0x20, 0x00, 0x0B};
    static const uint8_t want_caller[] = {0x00, CHARGE(0, 5), CHECK(0), 0x41, 0x07, 0x10,
                                          0x01, 0x10,         0x01,     0x1A, 0x0B};
    static const uint8_t want_callee[] = {0x00, CHECK(0), 0x20, 0x00, 0x0B};
    fn fns[] = {FN(T_V_V, caller), FN(T_I_I, callee)};
    mspec s = {fns, 2, 0, 0, 0, 1};
    tbuf m = {0};
    build(&m, &s);
    size_t len;
    viv_fuel_stats st;
    uint8_t *out = instrument(&m, &len, &st);
    expect_body(out, len, 0, want_caller, sizeof want_caller);
    expect_body(out, len, 1, want_callee, sizeof want_callee);
    assert_int_equal(st.functions, 2);
    assert_int_equal(st.charge_sites, 1);
    assert_int_equal(st.check_sites, 2);
    free(out);
    tb_free(&m);
}

/* A chain of calls made at entry: the exported caller pays 2 + (2 + 1). */
static void test_entry_call_chain(void **state)
{
    static const uint8_t f0[] = {0x00, 0x41, 0x07, 0x10, 0x01, 0x1A, 0x0B};
    static const uint8_t f1[] = {0x00, 0x20, 0x00, 0x10, 0x02, 0x0B};
    static const uint8_t f2[] = {0x00, 0x20, 0x00, 0x0B};
    static const uint8_t want0[] = {0x00, CHARGE(0, 5), CHECK(0), 0x41, 0x07,
                                    0x10, 0x01,         0x1A,     0x0B};
    static const uint8_t want1[] = {0x00, CHECK(0), 0x20, 0x00, 0x10, 0x02, 0x0B};
    static const uint8_t want2[] = {0x00, CHECK(0), 0x20, 0x00, 0x0B};
    fn fns[] = {FN(T_V_V, f0), FN(T_I_I, f1), FN(T_I_I, f2)};
    mspec s = {fns, 3, 0, 0, 0, 1};
    tbuf m = {0};
    build(&m, &s);
    size_t len;
    uint8_t *out = instrument(&m, &len, NULL);
    expect_body(out, len, 0, want0, sizeof want0);
    expect_body(out, len, 1, want1, sizeof want1);
    expect_body(out, len, 2, want2, sizeof want2);
    free(out);
    tb_free(&m);
}

/* An if (no else) whose arm falls through: the code after `end` (1) is
 * paid for with the condition (2), the arm (2) on its own. */
static void test_merge_after_if(void **state)
{
    static const uint8_t in[] = {0x00, 0x20, 0x00, 0x04, 0x40, 0x41, 0x01,
                                 0x21, 0x00, 0x0B, 0x20, 0x00, 0x0B};
    static const uint8_t want[] = {0x00, CHARGE(0, 3), CHECK(0), 0x20, 0x00, 0x04,
                                   0x40, CHARGE(0, 2), 0x41,     0x01, 0x21, 0x00,
                                   0x0B, 0x20,         0x00,     0x0B};
    CHECK_SINGLE(T_I_I, in, want);
}

/* A block left only through br_if 0 (its own end) and a loop left only by
 * falling through: both continuations go to the entry charge (1 + 1), while
 * the loop header keeps its own charge (3) and check. */
static void test_merge_after_block_and_loop(void **state)
{
    static const uint8_t in[] = {0x00, 0x02, 0x40, 0x20, 0x00, 0x0D, 0x00, 0x20, 0x00,
                                 0x21, 0x00, 0x0B, 0x20, 0x00, 0x03, 0x40, 0x20, 0x00,
                                 0x0D, 0x00, 0x0B, 0x41, 0x05, 0x0F, 0x0B};
    /* entry: local.get, br_if (2) + after the block: local.get (1), then the
     * loop: its continuation i32.const, return (2): 5 in all. */
    static const uint8_t want[] = {
        0x00,     CHARGE(0, 5), CHECK(0), 0x02, 0x40, 0x20, 0x00, 0x0D, 0x00, CHARGE(0, 2),
        0x20,     0x00,         0x21,     0x00, 0x0B, 0x20, 0x00, 0x03, 0x40, CHARGE(0, 2),
        CHECK(0), 0x20,         0x00,     0x0D, 0x00, 0x0B, 0x41, 0x05, 0x0F, 0x0B};
    CHECK_SINGLE(T_I_I, in, want);
}

/* A branch out of the inner block to the outer one: the inner block's
 * continuation (local.get, drop = 1) is charged where it starts; the outer
 * block is left only at its own end, so what follows it (1) goes to entry. */
static void test_no_merge_when_branching_out(void **state)
{
    static const uint8_t in[] = {0x00, 0x02, 0x40, 0x02, 0x40, 0x20, 0x00, 0x0D, 0x01,
                                 0x0B, 0x20, 0x00, 0x1A, 0x0B, 0x20, 0x00, 0x0B};
    static const uint8_t want[] = {0x00, CHARGE(0, 3), CHECK(0), 0x02, 0x40, 0x02,         0x40,
                                   0x20, 0x00,         0x0D,     0x01, 0x0B, CHARGE(0, 1), 0x20,
                                   0x00, 0x1A,         0x0B,     0x20, 0x00, 0x0B};
    viv_fuel_stats st;
    fn f = FN(T_I_I, in);
    mspec s = {&f, 1, 0, 0, 0, 1};
    tbuf m = {0};
    build(&m, &s);
    size_t len;
    uint8_t *out = instrument(&m, &len, &st);
    expect_body(out, len, 0, want, sizeof want);
    assert_int_equal(st.charge_sites, 2);
    assert_int_equal(st.check_sites, 1);
    free(out);
    tb_free(&m);
}

/*
 * A return inside an if inside a block leaves both early, unconditionally:
 * the code after the block (1) is paid at entry with local.get, if (2), and
 * the then-arm (const, return = 2) takes that 1 back: it is charged 1.
 */
static void test_refund_at_return(void **state)
{
    static const uint8_t in[] = {0x00, 0x02, 0x40, 0x20, 0x00, 0x04, 0x40, 0x41,
                                 0x07, 0x0F, 0x0B, 0x0B, 0x41, 0x08, 0x0B};
    static const uint8_t want[] = {0x00, CHARGE(0, 3), CHECK(0), 0x02,         0x40, 0x20,
                                   0x00, 0x04,         0x40,     CHARGE(0, 1), 0x41, 0x07,
                                   0x0F, 0x0B,         0x0B,     0x41,         0x08, 0x0B};
    CHECK_SINGLE(T_I_I, in, want);
}

/*
 * A refund larger than the segment's own cost: br 1 out of an if-arm skips
 * 3 instructions after the if that the entry paid for (with local.get, if:
 * 5; drop is free). The arm (br = 1) is charged 1 - 3 = -2: fuel is given
 * back.
 */
static void test_negative_charge(void **state)
{
    static const uint8_t in[] = {0x00, 0x02, 0x40, 0x20, 0x00, 0x04, 0x40, 0x0C, 0x01,
                                 0x0B, 0x41, 0x01, 0x41, 0x02, 0x6A, 0x1A, 0x0B, 0x0B};
    static const uint8_t want[] = {
        0x00, CHARGE(0, 5), CHECK(0), 0x02, 0x40, 0x20, 0x00, 0x04, 0x40, CHARGE(0, 0x7E),
        0x0C, 0x01,         0x0B,     0x41, 0x01, 0x41, 0x02, 0x6A, 0x1A, 0x0B,
        0x0B};
    CHECK_SINGLE(T_I_V, in, want);
}

static void test_locals_kept(void **state)
{
    static const uint8_t in[] = {0x02, 0x01, 0x7F, 0x03, 0x7E, 0x0B};
    static const uint8_t want[] = {0x02, 0x01, 0x7F, 0x03, 0x7E, CHECK(0), 0x0B};
    CHECK_SINGLE(T_V_V, in, want);
}

/* A cost of 70 needs a two-byte signed LEB (one byte holds up to 63). */
static void test_multibyte_cost(void **state)
{
    tbuf in = {0}, want = {0};
    static const uint8_t pair[] = {0x41, 0x00, 0x1A};
    static const uint8_t head[] = {0x00, 0x23, 0x00, 0x42, 0xC6, 0x00, 0x7D, 0x24, 0x00, CHECK(0)};
    tb_u8(&in, 0x00);
    tb_put(&want, head, sizeof head);
    for (int i = 0; i < 70; i++) {
        tb_put(&in, pair, sizeof pair);
        tb_put(&want, pair, sizeof pair);
    }
    tb_u8(&in, 0x0B);
    tb_u8(&want, 0x0B);
    check_single(T_V_V, in.d, in.len, want.d, want.len);
    tb_free(&in);
    tb_free(&want);
}

/* Type index 64 is a two-byte s33 (0xC0 0x00), easy to mistake for a value type. */
static void test_typeidx_blocktype_select_t_signext(void **state)
{
    static const uint8_t in[] = {0x00, 0x41, 0x01, 0x02, 0xC0, 0x00, 0x41, 0x02, 0x6A, 0x0B,
                                 0xC0, 0x41, 0x03, 0x41, 0x00, 0x1C, 0x01, 0x7F, 0x1A, 0x0B};
    /* The block holds no branch, so what follows it is charged at entry: 3 + 4. */
    static const uint8_t want[] = {0x00, CHARGE(0, 7), CHECK(0), 0x41, 0x01, 0x02, 0xC0, 0x00,
                                   0x41, 0x02,         0x6A,     0x0B, 0xC0, 0x41, 0x03, 0x41,
                                   0x00, 0x1C,         0x01,     0x7F, 0x1A, 0x0B};
    fn f = FN(T_V_V, in);
    mspec s = {&f, 1, 62, 0, 0, 1};
    tbuf m = {0};
    build(&m, &s);
    size_t len;
    uint8_t *out = instrument(&m, &len, NULL);
    expect_body(out, len, 0, want, sizeof want);
    free(out);
    tb_free(&m);
}

static const tsec *find(const tsec *secs, int n, uint8_t id)
{
    for (int i = 0; i < n; i++)
        if (secs[i].id == id)
            return &secs[i];
    return NULL;
}

static void expect_fuel_export(const uint8_t *out, const tsec *secs, int n, uint32_t count,
                               uint32_t index)
{
    const tsec *e = find(secs, n, 7);
    assert_non_null(e);
    size_t pos = e->content;
    assert_int_equal(t_uleb(out, &pos), count);
    for (uint32_t i = 0; i + 1 < count; i++) {
        pos += t_uleb(out, &pos);
        pos++;
        t_uleb(out, &pos);
    }
    assert_int_equal(t_uleb(out, &pos), 13);
    assert_memory_equal(out + pos, "vivarium_fuel", 13);
    pos += 13;
    assert_int_equal(out[pos++], 0x03);
    assert_int_equal(t_uleb(out, &pos), index);
    assert_int_equal(pos, e->content + e->size);
}

static void test_index_after_imported_and_defined_globals(void **state)
{
    static const uint8_t in[] = {0x00, 0x41, 0x01, 0x1A, 0x0B};
    static const uint8_t want[] = {0x00, CHARGE(3, 1), CHECK(3), 0x41, 0x01, 0x1A, 0x0B};
    fn f = FN(T_V_V, in);
    mspec s = {&f, 1, 0, 2, 1, 1};
    tbuf m = {0};
    build(&m, &s);
    size_t len;
    uint8_t *out = instrument(&m, &len, NULL);
    expect_body(out, len, 0, want, sizeof want);

    tsec secs[16];
    int n = t_sections(out, len, secs, 16);
    const tsec *g = find(secs, n, 6);
    assert_non_null(g);
    size_t pos = g->content;
    assert_int_equal(t_uleb(out, &pos), 2);
    static const uint8_t fuel_global[] = {0x7E, 0x01, 0x42, 0x00, 0x0B};
    assert_int_equal(g->size, 1 + 5 + sizeof fuel_global);
    assert_memory_equal(out + g->content + g->size - sizeof fuel_global, fuel_global,
                        sizeof fuel_global);
    expect_fuel_export(out, secs, n, 2, 3);
    free(out);
    tb_free(&m);
}

static void test_multibyte_global_index(void **state)
{
    static const uint8_t in[] = {0x00, 0x0B};
    static const uint8_t want[] = {0x00, 0x23, 0xC8, 0x01, 0x42, 0x00,
                                   0x53, 0x04, 0x40, 0x00, 0x0B, 0x0B};
    fn f = FN(T_V_V, in);
    mspec s = {&f, 1, 0, 0, 200, 0};
    tbuf m = {0};
    build(&m, &s);
    size_t len;
    uint8_t *out = instrument(&m, &len, NULL);
    expect_body(out, len, 0, want, sizeof want);
    tsec secs[16];
    int n = t_sections(out, len, secs, 16);
    expect_fuel_export(out, secs, n, 1, 200);
    free(out);
    tb_free(&m);
}

static void test_initial_value(void **state)
{
    static const uint8_t in[] = {0x00, 0x0B};
    fn f = FN(T_V_V, in);
    mspec s = {&f, 1, 0, 0, 0, 0};
    tbuf m = {0};
    build(&m, &s);
    struct {
        int64_t v;
        uint8_t enc[4];
        size_t n;
    } cases[] = {
        {1000000, {0xC0, 0x84, 0x3D}, 3}, {-1, {0x7F}, 1}, {63, {0x3F}, 1}, {64, {0xC0, 0x00}, 2}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t *out;
        size_t len;
        char err[256];
        assert_int_equal(
            viv_fuel_instrument_initial(m.d, m.len, cases[c].v, &out, &len, NULL, err, sizeof err),
            0);
        tsec secs[16];
        int n = t_sections(out, len, secs, 16);
        const tsec *g = find(secs, n, 6);
        assert_non_null(g);
        const uint8_t *e = out + g->content + g->size;
        assert_int_equal(e[-1], 0x0B);
        assert_memory_equal(e - 1 - cases[c].n, cases[c].enc, cases[c].n);
        assert_int_equal(e[-2 - (int)cases[c].n], 0x42);
        free(out);
    }
    tb_free(&m);
}

static void custom(tbuf *m, const char *name, const char *payload)
{
    tbuf c = {0};
    tb_u32(&c, (uint32_t)strlen(name));
    tb_put(&c, name, strlen(name));
    tb_put(&c, payload, strlen(payload));
    tb_section(m, 0, &c);
}

static void minimal_funcs(tbuf *m, bool types, bool funcs, bool code)
{
    tbuf t = {0};
    static const uint8_t type[] = {0x01, 0x60, 0x00, 0x00};
    static const uint8_t func[] = {0x01, 0x00};
    static const uint8_t body[] = {0x01, 0x02, 0x00, 0x0B};
    if (types) {
        tb_put(&t, type, sizeof type);
        tb_section(m, 1, &t);
    }
    if (funcs) {
        tb_put(&t, func, sizeof func);
        tb_section(m, 3, &t);
    }
    if (code) {
        tb_put(&t, body, sizeof body);
        tb_section(m, 10, &t);
    }
}

static void expect_ids(const tbuf *m, const uint8_t *ids, int nids)
{
    size_t len;
    uint8_t *out = instrument(m, &len, NULL);
    tsec secs[16];
    int n = t_sections(out, len, secs, 16);
    assert_int_equal(n, nids);
    for (int i = 0; i < n; i++)
        assert_int_equal(secs[i].id, ids[i]);
    free(out);
}

static void test_sections_created_in_order(void **state)
{
    tbuf m = {0};
    tb_header(&m);
    minimal_funcs(&m, true, true, true);
    static const uint8_t ids1[] = {1, 3, 6, 7, 10};
    expect_ids(&m, ids1, 5);
    tb_free(&m);

    tb_header(&m);
    static const uint8_t ids2[] = {6, 7};
    expect_ids(&m, ids2, 2);
    tb_free(&m);

    /* The start section (8) comes after export (7). */
    tbuf t = {0};
    tb_header(&m);
    minimal_funcs(&m, true, true, false);
    tb_u8(&t, 0x00);
    tb_section(&m, 8, &t);
    minimal_funcs(&m, false, false, true);
    static const uint8_t ids3[] = {1, 3, 6, 7, 8, 10};
    expect_ids(&m, ids3, 6);
    tb_free(&m);

    /* Memory and data only. */
    tb_header(&m);
    static const uint8_t mem[] = {0x01, 0x00, 0x01};
    tb_put(&t, mem, sizeof mem);
    tb_section(&m, 5, &t);
    static const uint8_t data[] = {0x01, 0x00, 0x41, 0x00, 0x0B, 0x02, 'h', 'i'};
    tb_put(&t, data, sizeof data);
    tb_section(&m, 11, &t);
    static const uint8_t ids4[] = {5, 6, 7, 11};
    expect_ids(&m, ids4, 4);
    tb_free(&m);
}

static void test_custom_sections_stay_in_place(void **state)
{
    tbuf m = {0};
    tb_header(&m);
    custom(&m, "a", "first");
    minimal_funcs(&m, true, false, false);
    custom(&m, "b", "second");
    minimal_funcs(&m, false, true, false);
    custom(&m, "c", "third");
    minimal_funcs(&m, false, false, true);
    custom(&m, "d", "fourth");
    size_t len;
    uint8_t *out = instrument(&m, &len, NULL);

    tsec in_secs[16], out_secs[16];
    int nin = t_sections(m.d, m.len, in_secs, 16);
    int nout = t_sections(out, len, out_secs, 16);
    static const uint8_t ids[] = {0, 1, 0, 3, 0, 6, 7, 10, 0};
    assert_int_equal(nout, 9);
    for (int i = 0; i < nout; i++)
        assert_int_equal(out_secs[i].id, ids[i]);
    int ci = 0;
    for (int i = 0; i < nin; i++) {
        if (in_secs[i].id != 0)
            continue;
        while (out_secs[ci].id != 0)
            ci++;
        assert_int_equal(out_secs[ci].size, in_secs[i].size);
        assert_memory_equal(out + out_secs[ci].content, m.d + in_secs[i].content, in_secs[i].size);
        ci++;
    }
    free(out);
    tb_free(&m);
}

/* Everything but the global, export and code sections is copied verbatim. */
static void test_other_sections_verbatim(void **state)
{
    size_t len, out_len;
    uint8_t *in = t_read_file(FUEL_TEST_WASM_DIR "/constructs.wasm", &len);
    uint8_t *out;
    char err[256];
    assert_int_equal(viv_fuel_instrument(in, len, &out, &out_len, NULL, err, sizeof err), 0);
    tsec a[32], b[32];
    int na = t_sections(in, len, a, 32), nb = t_sections(out, out_len, b, 32);
    assert_true(na > 8);
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) {
        assert_int_equal(a[i].id, b[i].id);
        if (a[i].id == 6 || a[i].id == 7 || a[i].id == 10)
            continue;
        assert_int_equal(a[i].size, b[i].size);
        assert_memory_equal(in + a[i].content, out + b[i].content, a[i].size);
    }
    free(in);
    free(out);
}

static void test_existing_exports_kept(void **state)
{
    tbuf m = {0}, t = {0};
    tb_header(&m);
    minimal_funcs(&m, true, true, false);
    static const uint8_t exp[] = {0x01, 0x03, 'r', 'u', 'n', 0x00, 0x00};
    tb_put(&t, exp, sizeof exp);
    tb_section(&m, 7, &t);
    minimal_funcs(&m, false, false, true);
    size_t len;
    uint8_t *out = instrument(&m, &len, NULL);
    tsec secs[16];
    int n = t_sections(out, len, secs, 16);
    const tsec *e = find(secs, n, 7);
    assert_non_null(e);
    assert_memory_equal(out + e->content + 1, exp + 1, sizeof exp - 1);
    expect_fuel_export(out, secs, n, 2, 0);

    /* Instrumenting twice would charge twice: refuse. */
    uint8_t *again;
    size_t again_len;
    char err[256];
    assert_int_equal(viv_fuel_instrument(out, len, &again, &again_len, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, VIV_FUEL_EXPORT_NAME));
    assert_null(again);
    free(out);
    tb_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_if_else),
        cmocka_unit_test(test_loop_countdown),
        cmocka_unit_test(test_free_ops_br_table_unreachable),
        cmocka_unit_test(test_return_starts_segment),
        cmocka_unit_test(test_calls_do_not_split),
        cmocka_unit_test(test_entry_call_chain),
        cmocka_unit_test(test_merge_after_if),
        cmocka_unit_test(test_merge_after_block_and_loop),
        cmocka_unit_test(test_no_merge_when_branching_out),
        cmocka_unit_test(test_refund_at_return),
        cmocka_unit_test(test_negative_charge),
        cmocka_unit_test(test_locals_kept),
        cmocka_unit_test(test_multibyte_cost),
        cmocka_unit_test(test_typeidx_blocktype_select_t_signext),
        cmocka_unit_test(test_index_after_imported_and_defined_globals),
        cmocka_unit_test(test_multibyte_global_index),
        cmocka_unit_test(test_initial_value),
        cmocka_unit_test(test_sections_created_in_order),
        cmocka_unit_test(test_custom_sections_stay_in_place),
        cmocka_unit_test(test_other_sections_verbatim),
        cmocka_unit_test(test_existing_exports_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
