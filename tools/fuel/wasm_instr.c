/*
 * tools/fuel: decoding of single WebAssembly instructions. See wasm_instr.h.
 */
#include "wasm_instr.h"

/*
 * Opcodes from proposals we do not accept, named so that the error tells the
 * user which toolchain feature to turn off rather than just "bad byte".
 */
static const char *unsupported_name(uint8_t op)
{
    switch (op) {
    case 0x06:
        return "try (exception handling)";
    case 0x07:
        return "catch (exception handling)";
    case 0x08:
        return "throw (exception handling)";
    case 0x09:
        return "rethrow (exception handling)";
    case 0x0A:
        return "throw_ref (exception handling)";
    case 0x12:
        return "return_call (tail calls)";
    case 0x13:
        return "return_call_indirect (tail calls)";
    case 0x14:
        return "call_ref (typed function references)";
    case 0x15:
        return "return_call_ref (typed function references)";
    case 0x18:
        return "delegate (exception handling)";
    case 0x19:
        return "catch_all (exception handling)";
    case 0x1F:
        return "try_table (exception handling)";
    case 0xD3:
        return "ref.eq (GC)";
    case 0xD4:
        return "ref.as_non_null (typed function references)";
    case 0xD5:
        return "br_on_null (typed function references)";
    case 0xD6:
        return "br_on_non_null (typed function references)";
    case 0xFB:
        return "GC prefix";
    case 0xFD:
        return "SIMD prefix";
    case 0xFE:
        return "threads (atomics) prefix";
    default:
        return NULL;
    }
}

static bool is_valtype(uint8_t b)
{
    switch (b) {
    case 0x7F: /* i32 */
    case 0x7E: /* i64 */
    case 0x7D: /* f32 */
    case 0x7C: /* f64 */
    case 0x70: /* funcref */
    case 0x6F: /* externref */
        return true;
    default:
        return false;
    }
}

bool wi_valtype(wio_reader *r)
{
    size_t at = r->pos;
    uint8_t b;
    if (!wio_u8(r, &b))
        return false;
    if (is_valtype(b))
        return true;
    if (b == 0x7B)
        return wio_fail_at(r, at, "value type v128 (SIMD) is not supported");
    return wio_fail_at(r, at, "unsupported value type 0x%02x", b);
}

bool wi_reftype(wio_reader *r)
{
    size_t at = r->pos;
    uint8_t b;
    if (!wio_u8(r, &b))
        return false;
    if (b == 0x70 || b == 0x6F)
        return true;
    return wio_fail_at(r, at, "unsupported reference type 0x%02x", b);
}

static bool blocktype(wio_reader *r, const wi_module_info *m)
{
    size_t at = r->pos;
    uint8_t b;
    if (!wio_peek(r, &b))
        return false;
    if (b == 0x40) {
        r->pos++;
        return true;
    }
    if (is_valtype(b) || b == 0x7B)
        return wi_valtype(r);
    int64_t idx;
    if (!wio_s33(r, &idx))
        return false;
    if (idx < 0)
        return wio_fail_at(r, at, "unsupported block type 0x%02x", b);
    if (idx >= (int64_t)m->types)
        return wio_fail_at(r, at, "block type index %lld out of range (%u types)", (long long)idx,
                           m->types);
    return true;
}

/* Multi-memory is the only reason a memory index would be non-zero. */
static bool memidx_zero(wio_reader *r)
{
    size_t at = r->pos;
    uint32_t idx;
    if (!wio_u32(r, &idx))
        return false;
    if (idx != 0)
        return wio_fail_at(r, at, "memory index %u: multi-memory is not supported", idx);
    return true;
}

static bool memarg(wio_reader *r)
{
    size_t at = r->pos;
    uint32_t align, offset;
    if (!wio_u32(r, &align))
        return false;
    /* With multi-memory, bit 6 of the alignment field announces a memidx. */
    if (align & 0x40)
        return wio_fail_at(r, at, "memarg with memory index: multi-memory is not supported");
    return wio_u32(r, &offset);
}

static bool u32_imm(wio_reader *r)
{
    uint32_t v;
    return wio_u32(r, &v);
}

static bool prefix_fc(wio_reader *r, size_t at)
{
    uint32_t sub;
    if (!wio_u32(r, &sub))
        return false;
    switch (sub) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7: /* trunc_sat */
        return true;
    case 8: /* memory.init data mem */
        return u32_imm(r) && memidx_zero(r);
    case 9:  /* data.drop */
    case 13: /* elem.drop */
    case 15: /* table.grow */
    case 16: /* table.size */
    case 17: /* table.fill */
        return u32_imm(r);
    case 10: /* memory.copy dst src */
        if (!memidx_zero(r))
            return false;
        return memidx_zero(r);
    case 11: /* memory.fill */
        return memidx_zero(r);
    case 12: /* table.init elem table */
    case 14: /* table.copy dst src */
        if (!u32_imm(r))
            return false;
        return u32_imm(r);
    default:
        return wio_fail_at(r, at, "unsupported opcode 0xfc %u", sub);
    }
}

bool wi_decode(wio_reader *r, const wi_module_info *m, wi_instr *out)
{
    size_t at = r->pos;
    uint8_t op;
    if (!wio_u8(r, &op))
        return false;
    out->offset = at;
    out->op = op;
    out->kind = WI_OTHER;

    switch (op) {
    case 0x00: /* unreachable */
    case 0x0F: /* return */
        out->kind = WI_JUMP;
        return true;
    case 0x01: /* nop */
    case 0x1A: /* drop */
        out->kind = WI_FREE;
        return true;
    case 0x02:
        out->kind = WI_BLOCK;
        return blocktype(r, m);
    case 0x03:
        out->kind = WI_LOOP;
        return blocktype(r, m);
    case 0x04:
        out->kind = WI_IF;
        return blocktype(r, m);
    case 0x05:
        out->kind = WI_ELSE;
        return true;
    case 0x0B:
        out->kind = WI_END;
        return true;
    case 0x0C: /* br */
    case 0x0D: /* br_if */
        out->kind = WI_JUMP;
        return u32_imm(r);
    case 0x0E: { /* br_table */
        uint32_t n;
        out->kind = WI_JUMP;
        if (!wio_count(r, 1, &n))
            return false;
        for (uint32_t i = 0; i < n; i++)
            if (!u32_imm(r))
                return false;
        return u32_imm(r);
    }
    case 0x10: /* call */
        return u32_imm(r);
    case 0x11: { /* call_indirect type table */
        size_t tat = r->pos;
        uint32_t type;
        if (!wio_u32(r, &type))
            return false;
        if (type >= m->types)
            return wio_fail_at(r, tat, "call_indirect type index %u out of range (%u types)", type,
                               m->types);
        return u32_imm(r);
    }
    case 0x1B: /* select */
        return true;
    case 0x1C: { /* select t* */
        uint32_t n;
        if (!wio_count(r, 1, &n))
            return false;
        for (uint32_t i = 0; i < n; i++)
            if (!wi_valtype(r))
                return false;
        return true;
    }
    case 0x20:
    case 0x21:
    case 0x22: /* local.get/set/tee */
    case 0x23:
    case 0x24: /* global.get/set */
    case 0x25:
    case 0x26: /* table.get/set */
    case 0xD2: /* ref.func */
        return u32_imm(r);
    case 0x3F: /* memory.size */
    case 0x40: /* memory.grow */
        return memidx_zero(r);
    case 0x41: {
        int32_t v;
        return wio_s32(r, &v);
    }
    case 0x42: {
        int64_t v;
        return wio_s64(r, &v);
    }
    case 0x43:
        return wio_skip(r, 4);
    case 0x44:
        return wio_skip(r, 8);
    case 0xD0: /* ref.null t */
        return wi_reftype(r);
    case 0xD1: /* ref.is_null */
        return true;
    case 0xFC:
        return prefix_fc(r, at);
    default:
        break;
    }
    if (op >= 0x28 && op <= 0x3E) /* loads and stores */
        return memarg(r);
    if (op >= 0x45 && op <= 0xC4) /* numeric, incl. sign-extension 0xC0..0xC4 */
        return true;
    const char *name = unsupported_name(op);
    if (name)
        return wio_fail_at(r, at, "unsupported opcode 0x%02x %s", op, name);
    return wio_fail_at(r, at, "unknown opcode 0x%02x", op);
}

bool wi_skip_const_expr(wio_reader *r, const wi_module_info *m)
{
    for (;;) {
        wi_instr in;
        if (!wi_decode(r, m, &in))
            return false;
        switch (in.op) {
        case 0x0B:
            return true;
        case 0x41:
        case 0x42:
        case 0x43:
        case 0x44: /* t.const */
        case 0x23: /* global.get */
        case 0xD0:
        case 0xD2: /* ref.null, ref.func */
            break;
        default:
            return wio_fail_at(r, in.offset,
                               "opcode 0x%02x is not allowed in a constant expression", in.op);
        }
    }
}
