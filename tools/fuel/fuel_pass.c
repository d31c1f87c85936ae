/*
 * tools/fuel: the fuel-metering pass itself (see fuel_pass.h for what it does
 * to a module).
 *
 * Owns: walking the module's sections in order, the bookkeeping that fixes
 * the appended globals' indices and each function's parameter count,
 * planning where the fuel code goes in a function body, and re-encoding the
 * global, export and code sections. Every other section is copied byte for
 * byte.
 */
#include "fuel_pass.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "wasm_instr.h"
#include "wasm_io.h"

/*
 * Limits beyond the format's own, so that hostile input costs bounded memory.
 * Real toolchains stay far below both (engines use the same local limit).
 */
#define MAX_LOCALS  50000u
#define MAX_NESTING 65536u

enum {
    SEC_CUSTOM = 0,
    SEC_TYPE = 1,
    SEC_IMPORT = 2,
    SEC_FUNCTION = 3,
    SEC_TABLE = 4,
    SEC_MEMORY = 5,
    SEC_GLOBAL = 6,
    SEC_EXPORT = 7,
    SEC_START = 8,
    SEC_ELEMENT = 9,
    SEC_CODE = 10,
    SEC_DATA = 11,
    SEC_DATACOUNT = 12,
    SEC_TAG = 13,
};

enum {
    OP_UNREACHABLE = 0x00,
    OP_IF = 0x04,
    OP_END = 0x0B,
    OP_BR = 0x0C,
    OP_BR_IF = 0x0D,
    OP_BR_TABLE = 0x0E,
    OP_RETURN = 0x0F,
    OP_CALL = 0x10,
    OP_CALL_INDIRECT = 0x11,
    OP_LOCAL_GET = 0x20,
    OP_LOCAL_SET = 0x21,
    OP_GLOBAL_GET = 0x23,
    OP_GLOBAL_SET = 0x24,
    OP_I32_CONST = 0x41,
    OP_I64_CONST = 0x42,
    OP_I64_LT_S = 0x53,
    OP_I32_OR = 0x72,
    OP_I64_SUB = 0x7D,
    BLOCKTYPE_EMPTY = 0x40,
    VT_I32 = 0x7F,
    VT_I64 = 0x7E,
    EXPORT_GLOBAL = 0x03,
};

/*
 * Position of each known section in the required order. The data count
 * section has id 12 but sits between element and code; 0 means "not a known
 * non-custom section".
 */
static int section_rank(uint8_t id)
{
    switch (id) {
    case SEC_TYPE:
        return 1;
    case SEC_IMPORT:
        return 2;
    case SEC_FUNCTION:
        return 3;
    case SEC_TABLE:
        return 4;
    case SEC_MEMORY:
        return 5;
    case SEC_GLOBAL:
        return 6;
    case SEC_EXPORT:
        return 7;
    case SEC_START:
        return 8;
    case SEC_ELEMENT:
        return 9;
    case SEC_DATACOUNT:
        return 10;
    case SEC_CODE:
        return 11;
    case SEC_DATA:
        return 12;
    default:
        return 0;
    }
}
#define RANK_GLOBAL 6
#define RANK_EXPORT 7

/*
 * Code to insert into a function body, at input offset `at` (before the
 * instruction there). A body's patches are planned in one pass over its
 * instructions, in order, so they come out sorted by `at`; several may share
 * an offset and are then emitted in the order planned.
 */
typedef enum patch_kind {
    P_ENTRY,   /* $f = $fuel, at function entry */
    P_SEGMENT, /* a segment's charge (if cost > 0), then its check (if any) */
    P_SYNC,    /* $fuel = $f */
    P_RELOAD,  /* $f = $fuel, after a call */
} patch_kind;

typedef struct patch {
    size_t at;
    uint64_t cost; /* P_SEGMENT */
    uint8_t kind;
    bool check; /* P_SEGMENT */
} patch;

typedef struct pass {
    wio_reader r;
    wi_module_info info;
    wio_buf out;
    wio_buf code; /* the code section's new content, built before its size is known */

    uint32_t imported_globals;
    uint32_t defined_globals;
    uint32_t memories;
    uint32_t declared_functions;
    bool have_code;
    bool global_emitted;
    bool export_emitted;
    uint32_t fuel_index; /* $fuel; $interrupt is the next index */
    uint32_t interrupt_index;
    viv_fuel_options opt;

    uint32_t *type_params; /* parameter count of each type */
    uint32_t *func_params; /* parameter count of each defined function */

    uint32_t flocal; /* index of $f in the function being rewritten */
    patch *patches;
    size_t npatches, patchcap;
    uint8_t *ctl; /* kind of each open block, to pair else with if */
    size_t ctlcap;
    wio_buf body; /* the function being rewritten, without its size */

    viv_fuel_stats stats;
} pass;

static bool oom(pass *p) { return wio_fail_at(&p->r, p->r.pos, "out of memory"); }

static bool read_name(wio_reader *r)
{
    uint32_t n;
    return wio_count(r, 1, &n) && wio_skip(r, n);
}

static bool read_limits(wio_reader *r, const char *what)
{
    size_t at = r->pos;
    uint8_t flags;
    uint32_t v;
    if (!wio_u8(r, &flags))
        return false;
    if (flags == 2 || flags == 3)
        return wio_fail_at(r, at, "shared %s (threads) is not supported", what);
    if (flags > 3)
        return wio_fail_at(r, at, "%s limits flags 0x%02x (memory64/table64?) not supported", what,
                           flags);
    if (!wio_u32(r, &v))
        return false;
    return flags == 0 || wio_u32(r, &v);
}

static bool count_memory(pass *p, size_t at)
{
    if (++p->memories > 1)
        return wio_fail_at(&p->r, at, "more than one memory: multi-memory is not supported");
    return true;
}

static bool parse_types(pass *p)
{
    wio_reader *r = &p->r;
    uint32_t n;
    if (!wio_count(r, 3, &n))
        return false;
    /* wio_count bounds n by the section's size, and so this allocation. */
    p->type_params = malloc((n ? n : 1) * sizeof *p->type_params);
    if (!p->type_params)
        return oom(p);
    for (uint32_t i = 0; i < n; i++) {
        size_t at = r->pos;
        uint8_t form;
        uint32_t np, nr;
        if (!wio_u8(r, &form))
            return false;
        if (form != 0x60)
            return wio_fail_at(r, at, "type form 0x%02x is not a function type (GC?)", form);
        if (!wio_count(r, 1, &np))
            return false;
        for (uint32_t j = 0; j < np; j++)
            if (!wi_valtype(r))
                return false;
        p->type_params[i] = np;
        if (!wio_count(r, 1, &nr))
            return false;
        for (uint32_t j = 0; j < nr; j++)
            if (!wi_valtype(r))
                return false;
    }
    p->info.types = n;
    return true;
}

static bool parse_imports(pass *p)
{
    wio_reader *r = &p->r;
    uint32_t n;
    if (!wio_count(r, 4, &n))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        if (!read_name(r)) /* module */
            return false;
        if (!read_name(r)) /* field */
            return false;
        size_t at = r->pos;
        uint8_t kind, mut;
        uint32_t idx;
        if (!wio_u8(r, &kind))
            return false;
        switch (kind) {
        case 0:
            if (!wio_u32(r, &idx))
                return false;
            break;
        case 1:
            if (!wi_reftype(r) || !read_limits(r, "table"))
                return false;
            break;
        case 2:
            if (!count_memory(p, at) || !read_limits(r, "memory"))
                return false;
            break;
        case 3:
            if (!wi_valtype(r) || !wio_u8(r, &mut))
                return false;
            if (mut > 1)
                return wio_fail_at(r, r->pos - 1, "bad global mutability 0x%02x", mut);
            p->imported_globals++;
            break;
        case 4:
            return wio_fail_at(r, at, "tag import (exception handling) is not supported");
        default:
            return wio_fail_at(r, at, "unknown import kind 0x%02x", kind);
        }
    }
    return true;
}

static bool parse_functions(pass *p)
{
    wio_reader *r = &p->r;
    uint32_t n;
    if (!wio_count(r, 1, &n))
        return false;
    p->func_params = malloc((n ? n : 1) * sizeof *p->func_params);
    if (!p->func_params)
        return oom(p);
    for (uint32_t i = 0; i < n; i++) {
        size_t at = r->pos;
        uint32_t t;
        if (!wio_u32(r, &t))
            return false;
        if (t >= p->info.types)
            return wio_fail_at(r, at, "function type index %u out of range (%u types)", t,
                               p->info.types);
        p->func_params[i] = p->type_params[t];
    }
    p->declared_functions = n;
    return true;
}

static bool parse_tables(pass *p)
{
    wio_reader *r = &p->r;
    uint32_t n;
    if (!wio_count(r, 2, &n))
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (!wi_reftype(r) || !read_limits(r, "table"))
            return false;
    return true;
}

static bool parse_memories(pass *p)
{
    wio_reader *r = &p->r;
    uint32_t n;
    if (!wio_count(r, 2, &n))
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (!count_memory(p, r->pos) || !read_limits(r, "memory"))
            return false;
    return true;
}

/* Frames a finished section body as id, size, content. */
static bool put_section(pass *p, uint8_t id, const uint8_t *content, size_t len)
{
    if (len > UINT32_MAX)
        return wio_fail_at(&p->r, p->r.pos, "section %u would exceed 4 GiB", id);
    wio_put_u8(&p->out, id);
    wio_put_u32(&p->out, (uint32_t)len);
    wio_put(&p->out, content, len);
    return true;
}

/*
 * Emits the global section with $fuel and $interrupt appended. `rest` is the
 * existing entries, verbatim; it is empty when the module had no globals.
 */
static bool emit_global_section(pass *p, uint32_t count, const uint8_t *rest, size_t rest_len)
{
    wio_buf b = {0};
    wio_put_u32(&b, count + 2);
    wio_put(&b, rest, rest_len);
    wio_put_u8(&b, VT_I64);
    wio_put_u8(&b, 1); /* mutable */
    wio_put_u8(&b, OP_I64_CONST);
    wio_put_s64(&b, p->opt.initial_fuel);
    wio_put_u8(&b, OP_END);
    wio_put_u8(&b, VT_I32);
    wio_put_u8(&b, 1);
    wio_put_u8(&b, OP_I32_CONST);
    /* A signed LEB128 depends only on the value, not the width. */
    wio_put_s64(&b, p->opt.initial_interrupt);
    wio_put_u8(&b, OP_END);
    bool ok = !b.oom ? put_section(p, SEC_GLOBAL, b.data, b.len) : oom(p);
    wio_buf_free(&b);
    p->global_emitted = true;
    return ok;
}

static void put_global_export(wio_buf *b, const char *name, uint32_t index)
{
    size_t len = strlen(name);
    wio_put_u32(b, (uint32_t)len);
    wio_put(b, name, len);
    wio_put_u8(b, EXPORT_GLOBAL);
    wio_put_u32(b, index);
}

static bool emit_export_section(pass *p, uint32_t count, const uint8_t *rest, size_t rest_len)
{
    wio_buf b = {0};
    wio_put_u32(&b, count + 2);
    wio_put(&b, rest, rest_len);
    put_global_export(&b, VIV_FUEL_EXPORT_NAME, p->fuel_index);
    put_global_export(&b, VIV_FUEL_INTERRUPT_EXPORT_NAME, p->interrupt_index);
    bool ok = !b.oom ? put_section(p, SEC_EXPORT, b.data, b.len) : oom(p);
    wio_buf_free(&b);
    p->export_emitted = true;
    return ok;
}

/* Called once the global section (if any) is behind us: the indices are final. */
static bool fix_fuel_index(pass *p)
{
    uint64_t idx = (uint64_t)p->imported_globals + p->defined_globals;
    if (idx + 2 > UINT32_MAX)
        return wio_fail_at(&p->r, p->r.pos, "too many globals");
    p->fuel_index = (uint32_t)idx;
    p->interrupt_index = (uint32_t)idx + 1;
    return true;
}

static bool rewrite_globals(pass *p, size_t end)
{
    wio_reader *r = &p->r;
    uint32_t n;
    if (!wio_count(r, 3, &n))
        return false;
    size_t rest = r->pos;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t mut;
        if (!wi_valtype(r) || !wio_u8(r, &mut))
            return false;
        if (mut > 1)
            return wio_fail_at(r, r->pos - 1, "bad global mutability 0x%02x", mut);
        if (!wi_skip_const_expr(r, &p->info))
            return false;
    }
    if (r->pos != end)
        return wio_fail_at(r, r->pos, "global section has %zu trailing bytes", end - r->pos);
    p->defined_globals = n;
    return fix_fuel_index(p) && emit_global_section(p, n, r->buf + rest, end - rest);
}

static bool rewrite_exports(pass *p, size_t end)
{
    wio_reader *r = &p->r;
    static const char *const ours[] = {VIV_FUEL_EXPORT_NAME, VIV_FUEL_INTERRUPT_EXPORT_NAME};
    uint32_t n;
    if (!wio_count(r, 3, &n))
        return false;
    size_t rest = r->pos;
    for (uint32_t i = 0; i < n; i++) {
        size_t at = r->pos;
        uint32_t len;
        const uint8_t *name;
        uint8_t kind;
        uint32_t idx;
        if (!wio_count(r, 1, &len) || !wio_bytes(r, len, &name))
            return false;
        for (size_t k = 0; k < sizeof ours / sizeof ours[0]; k++)
            if (len == strlen(ours[k]) && memcmp(name, ours[k], len) == 0)
                return wio_fail_at(r, at, "module already exports \"%s\" (instrumented twice?)",
                                   ours[k]);
        if (!wio_u8(r, &kind))
            return false;
        if (kind > 3)
            return wio_fail_at(r, r->pos - 1, "unsupported export kind 0x%02x", kind);
        if (!wio_u32(r, &idx))
            return false;
    }
    if (r->pos != end)
        return wio_fail_at(r, r->pos, "export section has %zu trailing bytes", end - r->pos);
    return emit_export_section(p, n, r->buf + rest, end - rest);
}

static bool push_patch(pass *p, size_t at, patch_kind kind, bool check)
{
    if (p->npatches == p->patchcap) {
        size_t cap = p->patchcap ? p->patchcap * 2 : 64;
        patch *n = realloc(p->patches, cap * sizeof *n);
        if (!n)
            return oom(p);
        p->patches = n;
        p->patchcap = cap;
    }
    p->patches[p->npatches++] = (patch){at, 0, (uint8_t)kind, check};
    return true;
}

static bool push_ctl(pass *p, size_t depth, wi_kind kind, size_t at)
{
    if (depth >= MAX_NESTING)
        return wio_fail_at(&p->r, at, "blocks nested deeper than %u", MAX_NESTING);
    if (depth == p->ctlcap) {
        size_t cap = p->ctlcap ? p->ctlcap * 2 : 64;
        uint8_t *c = realloc(p->ctl, cap);
        if (!c)
            return oom(p);
        p->ctl = c;
        p->ctlcap = cap;
    }
    p->ctl[depth] = (uint8_t)kind;
    return true;
}

/*
 * Plans what a return, branch or user unreachable needs, `depth` blocks deep
 * (so label `depth` is the function's own). Clears *stale when it has dealt
 * with it; a jump that stays inside the function leaves it to plan_body.
 */
static bool plan_jump(pass *p, const wi_instr *in, size_t depth, bool *stale)
{
    bool leaves, conditional = false;
    switch (in->op) {
    case OP_UNREACHABLE: /* traps: nothing after it needs $f or $fuel */
        *stale = false;
        return true;
    case OP_RETURN:
        leaves = true;
        break;
    default: /* br, br_if, br_table */
        if (in->label > depth)
            return wio_fail_at(&p->r, in->offset, "branch to label %u but only %zu are open",
                               in->label, depth + 1);
        leaves = in->label == depth;
        conditional = in->op != OP_BR;
        break;
    }
    if (!leaves)
        return true;
    if (!*stale) {
        if (!push_patch(p, in->offset, P_SYNC, false))
            return false;
    } else if (conditional) {
        /* $fuel is exact already; $f must be too if the branch is not taken
         * (or br_table picks a label inside the function). */
        if (!push_patch(p, in->offset, P_RELOAD, false))
            return false;
    }
    *stale = false;
    return true;
}

/*
 * Plans the fuel code for the instructions in [r->pos, end) as patches (see
 * fuel_pass.h for what goes where). The instruction that ends a segment is
 * its last instruction, so its cost lands in the segment charged before it
 * runs: a branch is paid for whether taken or not.
 *
 * `stale` is true from the return of a call until $f is reloaded: there
 * $fuel is exact and $f is not. No charge or check can fall in that stretch,
 * because they only come at the start of a segment, and every instruction
 * that ends a segment gets a reload before it if $f is stale.
 */
static bool plan_body(pass *p, size_t end)
{
    wio_reader *r = &p->r;
    size_t depth = 0, seg = 1;
    uint64_t cost = 0;
    bool stale = false;
    p->npatches = 0;
    if (!push_patch(p, r->pos, P_ENTRY, false) || !push_patch(p, r->pos, P_SEGMENT, true))
        return false;
    for (;;) {
        wi_instr in;
        bool ends = false, next_check = false;
        if (!wi_decode(r, &p->info, &in))
            return false;
        switch (in.kind) {
        case WI_OTHER:
            cost++;
            if (in.op == OP_CALL || in.op == OP_CALL_INDIRECT) {
                if (!stale && !push_patch(p, in.offset, P_SYNC, false))
                    return false;
                stale = true;
            }
            break;
        case WI_FREE:
            break;
        case WI_BLOCK:
            if (!push_ctl(p, depth++, WI_BLOCK, in.offset))
                return false;
            break;
        case WI_LOOP:
            if (!push_ctl(p, depth++, WI_LOOP, in.offset))
                return false;
            ends = next_check = true;
            break;
        case WI_IF:
            cost++;
            if (!push_ctl(p, depth++, WI_IF, in.offset))
                return false;
            ends = true;
            break;
        case WI_ELSE:
            if (depth == 0 || p->ctl[depth - 1] != WI_IF)
                return wio_fail_at(r, in.offset, "else without a matching if");
            p->ctl[depth - 1] = WI_ELSE;
            ends = true;
            break;
        case WI_END:
            if (depth == 0) {
                if (r->pos != end)
                    return wio_fail_at(r, r->pos, "%zu bytes after the function's final end",
                                       end - r->pos);
                p->patches[seg].cost = cost;
                /* The fallthrough exit; branches to the function label
                 * leave without passing through here. */
                return stale || push_patch(p, in.offset, P_SYNC, false);
            }
            depth--;
            ends = true;
            break;
        case WI_JUMP:
            cost++;
            ends = true;
            if (!plan_jump(p, &in, depth, &stale))
                return false;
            break;
        }
        if (ends) {
            if (stale && !push_patch(p, in.offset, P_RELOAD, false))
                return false;
            stale = false;
            p->patches[seg].cost = cost;
            cost = 0;
            seg = p->npatches;
            if (!push_patch(p, r->pos, P_SEGMENT, next_check))
                return false;
        }
    }
}

static void put_idx(wio_buf *b, uint8_t op, uint32_t index)
{
    wio_put_u8(b, op);
    wio_put_u32(b, index);
}

static void put_patch(pass *p, const patch *pt)
{
    wio_buf *b = &p->body;
    switch ((patch_kind)pt->kind) {
    case P_RELOAD:
        p->stats.reload_sites++; /* fall through */
    case P_ENTRY:
        put_idx(b, OP_GLOBAL_GET, p->fuel_index);
        put_idx(b, OP_LOCAL_SET, p->flocal);
        break;
    case P_SYNC:
        p->stats.sync_sites++;
        put_idx(b, OP_LOCAL_GET, p->flocal);
        put_idx(b, OP_GLOBAL_SET, p->fuel_index);
        break;
    case P_SEGMENT:
        if (pt->cost) {
            p->stats.charge_sites++;
            put_idx(b, OP_LOCAL_GET, p->flocal);
            wio_put_u8(b, OP_I64_CONST);
            wio_put_s64(b, (int64_t)pt->cost);
            wio_put_u8(b, OP_I64_SUB);
            put_idx(b, OP_LOCAL_SET, p->flocal);
        }
        if (pt->check) {
            static const uint8_t cmp[] = {OP_I64_CONST, 0, OP_I64_LT_S};
            static const uint8_t trap[] = {OP_UNREACHABLE, OP_END};
            p->stats.check_sites++;
            put_idx(b, OP_LOCAL_GET, p->flocal);
            wio_put(b, cmp, sizeof cmp);
            put_idx(b, OP_GLOBAL_GET, p->interrupt_index);
            wio_put_u8(b, OP_I32_OR);
            wio_put_u8(b, OP_IF);
            wio_put_u8(b, BLOCKTYPE_EMPTY);
            put_idx(b, OP_LOCAL_GET, p->flocal);
            put_idx(b, OP_GLOBAL_SET, p->fuel_index);
            wio_put(b, trap, sizeof trap);
        }
        break;
    }
}

static bool rewrite_body(pass *p, uint32_t func, size_t body_end)
{
    wio_reader *r = &p->r;
    size_t body_start = r->pos;
    uint32_t groups;
    /* Parameters, declared locals and $f share one index space. */
    uint64_t locals = p->func_params[func];
    if (!wio_count(r, 2, &groups))
        return false;
    size_t groups_start = r->pos, at = body_start;
    for (uint32_t i = 0; i < groups && locals < MAX_LOCALS; i++) {
        at = r->pos;
        uint32_t n;
        if (!wio_u32(r, &n) || !wi_valtype(r))
            return false;
        locals += n;
    }
    if (locals >= MAX_LOCALS) /* no room for $f */
        return wio_fail_at(r, at, "more than %u locals (counting parameters and the fuel local)",
                           MAX_LOCALS);
    p->flocal = (uint32_t)locals;
    size_t instr_start = r->pos;
    if (!plan_body(p, body_end))
        return false;

    wio_buf *b = &p->body;
    b->len = 0;
    wio_put_u32(b, groups + 1);
    wio_put(b, r->buf + groups_start, instr_start - groups_start);
    wio_put_u8(b, 1);
    wio_put_u8(b, VT_I64);
    size_t pos = instr_start;
    for (size_t i = 0; i < p->npatches; i++) {
        const patch *pt = &p->patches[i];
        wio_put(b, r->buf + pos, pt->at - pos);
        pos = pt->at;
        put_patch(p, pt);
    }
    wio_put(b, r->buf + pos, body_end - pos);
    if (b->oom)
        return oom(p);
    if (b->len > UINT32_MAX)
        return wio_fail_at(r, body_start, "instrumented function body exceeds 4 GiB");
    wio_put_u32(&p->code, (uint32_t)b->len);
    wio_put(&p->code, b->data, b->len);
    p->stats.functions++;
    return p->code.oom ? oom(p) : true;
}

static bool rewrite_code(pass *p, size_t end)
{
    wio_reader *r = &p->r;
    size_t at = r->pos;
    uint32_t n;
    if (!wio_count(r, 2, &n))
        return false;
    if (n != p->declared_functions)
        return wio_fail_at(r, at, "code section has %u bodies but %u functions are declared", n,
                           p->declared_functions);
    p->code.len = 0;
    wio_put_u32(&p->code, n);
    for (uint32_t i = 0; i < n; i++) {
        size_t size_at = r->pos;
        uint32_t size;
        if (!wio_u32(r, &size))
            return false;
        if (size > wio_left(r))
            return wio_fail_at(r, size_at, "function body %u: size %u exceeds the %zu bytes left",
                               i, size, wio_left(r));
        size_t body_end = r->pos + size;
        size_t saved_end = r->end;
        r->end = body_end;
        bool ok = rewrite_body(p, i, body_end);
        r->end = saved_end;
        if (!ok)
            return false;
    }
    if (r->pos != end)
        return wio_fail_at(r, r->pos, "code section has %zu trailing bytes", end - r->pos);
    p->have_code = true;
    if (p->code.oom)
        return oom(p);
    return put_section(p, SEC_CODE, p->code.data, p->code.len);
}

/* Sections we only need to check, then copy as they were. */
static bool check_section(pass *p, uint8_t id, size_t end)
{
    wio_reader *r = &p->r;
    uint32_t v;
    switch (id) {
    case SEC_CUSTOM:
        return read_name(r) && wio_skip(r, end - r->pos);
    case SEC_TYPE:
        return parse_types(p);
    case SEC_IMPORT:
        return parse_imports(p);
    case SEC_FUNCTION:
        return parse_functions(p);
    case SEC_TABLE:
        return parse_tables(p);
    case SEC_MEMORY:
        return parse_memories(p);
    case SEC_START:
    case SEC_DATACOUNT:
        return wio_u32(r, &v);
    default: /* element and data: nothing in them depends on the pass */
        return wio_skip(r, end - r->pos);
    }
}

/* Sections the module lacks but we must add go just before the first later one. */
static bool emit_missing_before(pass *p, int rank)
{
    if (!p->global_emitted && rank > RANK_GLOBAL)
        if (!fix_fuel_index(p) || !emit_global_section(p, 0, NULL, 0))
            return false;
    if (!p->export_emitted && rank > RANK_EXPORT)
        if (!emit_export_section(p, 0, NULL, 0))
            return false;
    return true;
}

static bool run(pass *p)
{
    static const uint8_t header[8] = {0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00};
    wio_reader *r = &p->r;
    const uint8_t *h;
    if (!wio_bytes(r, 4, &h))
        return false;
    if (memcmp(h, header, 4) != 0)
        return wio_fail_at(r, 0, "not a WebAssembly binary (bad magic)");
    if (!wio_bytes(r, 4, &h))
        return false;
    if (memcmp(h, header + 4, 4) != 0)
        return wio_fail_at(r, 4, "unsupported binary version %u (only 1)",
                           (unsigned)h[0] | (unsigned)h[1] << 8 | (unsigned)h[2] << 16 |
                               (unsigned)h[3] << 24);
    wio_put(&p->out, header, sizeof header);

    int last_rank = 0;
    while (wio_left(r) > 0) {
        size_t sec_at = r->pos;
        uint8_t id;
        uint32_t size;
        if (!wio_u8(r, &id) || !wio_u32(r, &size))
            return false;
        if (size > wio_left(r))
            return wio_fail_at(r, sec_at, "section %u: size %u exceeds the %zu bytes left", id,
                               size, wio_left(r));
        size_t content = r->pos, end = content + size;
        if (id == SEC_TAG)
            return wio_fail_at(r, sec_at, "tag section (exception handling) is not supported");
        int rank = section_rank(id);
        if (id != SEC_CUSTOM && rank == 0)
            return wio_fail_at(r, sec_at, "unknown section id %u", id);
        if (rank) {
            if (rank <= last_rank)
                return wio_fail_at(r, sec_at, "section %u is out of order or repeated", id);
            last_rank = rank;
            if (!emit_missing_before(p, rank))
                return false;
        }

        size_t saved_end = r->end;
        r->end = end;
        bool ok;
        if (id == SEC_GLOBAL)
            ok = rewrite_globals(p, end);
        else if (id == SEC_EXPORT)
            ok = rewrite_exports(p, end);
        else if (id == SEC_CODE)
            ok = rewrite_code(p, end);
        else {
            ok = check_section(p, id, end);
            if (ok && r->pos != end)
                ok = wio_fail_at(r, r->pos, "section %u has %zu trailing bytes", id, end - r->pos);
            if (ok)
                wio_put(&p->out, r->buf + sec_at, end - sec_at);
        }
        r->end = saved_end;
        if (!ok)
            return false;
    }
    if (!emit_missing_before(p, RANK_EXPORT + 1))
        return false;
    if (!p->have_code && p->declared_functions)
        return wio_fail_at(r, r->pos, "%u functions declared but there is no code section",
                           p->declared_functions);
    return p->out.oom ? oom(p) : true;
}

int viv_fuel_instrument_opts(const uint8_t *in, size_t in_len, const viv_fuel_options *opt,
                             uint8_t **out, size_t *out_len, viv_fuel_stats *stats, char *err,
                             size_t errlen)
{
    pass p = {0};
    wio_reader_init(&p.r, in ? in : (const uint8_t *)"", in ? in_len : 0, err, errlen);
    if (opt)
        p.opt = *opt;
    *out = NULL;
    *out_len = 0;
    if (stats)
        memset(stats, 0, sizeof *stats);

    bool ok = run(&p);
    free(p.type_params);
    free(p.func_params);
    free(p.patches);
    free(p.ctl);
    wio_buf_free(&p.body);
    wio_buf_free(&p.code);
    if (!ok) {
        wio_buf_free(&p.out);
        return -1;
    }
    *out = p.out.data;
    *out_len = p.out.len;
    if (stats)
        *stats = p.stats;
    return 0;
}

int viv_fuel_instrument_initial(const uint8_t *in, size_t in_len, int64_t initial, uint8_t **out,
                                size_t *out_len, viv_fuel_stats *stats, char *err, size_t errlen)
{
    viv_fuel_options opt = {.initial_fuel = initial};
    return viv_fuel_instrument_opts(in, in_len, &opt, out, out_len, stats, err, errlen);
}

int viv_fuel_instrument(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
                        viv_fuel_stats *stats, char *err, size_t errlen)
{
    return viv_fuel_instrument_opts(in, in_len, NULL, out, out_len, stats, err, errlen);
}
