/*
 * tools/fuel: the fuel-metering pass itself (see fuel_pass.h for what it does
 * to a module).
 *
 * Owns: walking the module's sections in order, the bookkeeping that fixes
 * the fuel global's index, splitting function bodies into segments, and
 * re-encoding the global, export and code sections. Every other section is
 * copied byte for byte.
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
/* Sums of call-site charges could otherwise overflow an i64.const. */
#define MAX_CHARGE (INT64_C(1) << 48)
/* Rounds of working out entry charges before the code is rewritten. */
#define ENTRY_ROUNDS 3
/* Unconditional exits recorded per function, times the constructs each leaves. */
#define MAX_EXIT_EDGES (1u << 22)

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
    OP_GLOBAL_GET = 0x23,
    OP_GLOBAL_SET = 0x24,
    OP_I64_CONST = 0x42,
    OP_I64_LT_S = 0x53,
    OP_I64_SUB = 0x7D,
    BLOCKTYPE_EMPTY = 0x40,
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

typedef struct segment {
    size_t start; /* offset in the input of its first instruction */
    int64_t cost; /* its own instructions, less refunds (see find_segments) */
    size_t owner; /* segment whose charge pays for this one (itself, or an earlier one) */
    bool check;
} segment;

/* A block, loop or if of the function being split, in order of opening. */
typedef struct construct {
    size_t owner; /* segment charged just before it is entered */
    size_t cont;  /* the segment after its end, once known */
    bool prepaid; /* cont is paid for by owner */
} construct;

/* An unconditional branch or return (ending segment `seg`) leaves `cons`. */
typedef struct exit_edge {
    size_t seg;
    size_t cons;
} exit_edge;

/*
 * An open block, loop or if: `cons` indexes its construct record;
 * `min_target` is the shallowest depth (0 = the function, n = the n-th open
 * construct) that a conditional branch (br_if, br_table) inside it leaves
 * to.
 */
typedef struct ctl_frame {
    uint8_t kind;
    size_t cons;
    size_t min_target;
} ctl_frame;

typedef struct pass {
    wio_reader r;
    wi_module_info info;
    wio_buf out;
    wio_buf code; /* the code section's new content, built before its size is known */

    uint32_t imported_globals;
    uint32_t imported_functions;
    uint32_t defined_globals;
    uint32_t memories;
    uint32_t declared_functions;
    bool have_code;
    bool global_emitted;
    bool export_emitted;
    uint32_t fuel_index;
    int64_t initial;

    /*
     * Callers pay for their callees' entry segments (see fuel_pass.h):
     * `reachable[f]` is set for every function something other than a direct
     * call can start (export, start, table element, ref.func), and
     * `entry_cost[i]` is defined function i's entry charge before that.
     * `hoist` is off while `entry_cost` is being computed, and for modules
     * whose element section this pass cannot read.
     */
    bool hoist;
    bool hoist_unusable;
    bool analysing;     /* the first pass over the code section */
    uint8_t *reachable; /* one per function index, imports included */
    uint64_t *entry_cost;
    uint64_t *next_cost;    /* entry charges being worked out by this round */
    uint32_t defined_index; /* of the body being rewritten */

    segment *segs;
    size_t nsegs, segcap;
    construct *cons;
    size_t ncons, conscap;
    exit_edge *exits;
    size_t nexits, exitcap;
    int64_t *acc; /* settle_costs' running sums, one per segment */
    size_t acccap;
    ctl_frame *ctl; /* the open constructs, outermost first */
    size_t ctlcap;

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
            if (++p->imported_functions == 0)
                return wio_fail_at(r, at, "too many imported functions");
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
    for (uint32_t i = 0; i < n; i++) {
        size_t at = r->pos;
        uint32_t t;
        if (!wio_u32(r, &t))
            return false;
        if (t >= p->info.types)
            return wio_fail_at(r, at, "function type index %u out of range (%u types)", t,
                               p->info.types);
    }
    p->declared_functions = n;
    size_t total = (size_t)p->imported_functions + n;
    p->reachable = calloc(total ? total : 1, 1);
    p->entry_cost = calloc(n ? n : 1, sizeof *p->entry_cost);
    p->next_cost = calloc(n ? n : 1, sizeof *p->next_cost);
    if (!p->reachable || !p->entry_cost || !p->next_cost)
        return oom(p);
    return true;
}

/* Function `idx` can be started by something other than a direct call. */
static void mark_reachable(pass *p, uint32_t idx)
{
    if (p->reachable && (uint64_t)idx < (uint64_t)p->imported_functions + p->declared_functions)
        p->reachable[idx] = 1;
    else if (!p->reachable)
        p->hoist_unusable = true;
}

/*
 * Element segments (all eight encodings): the functions they put in tables
 * or declare for ref.func. Reads a copy of the reader: the section is copied
 * verbatim and its validity is wasm2c's business, so anything this cannot
 * read just turns call-site charging off for the module.
 */
static void scan_elements(pass *p, size_t end)
{
    char scratch[64];
    wio_reader r = p->r;
    r.err = scratch;
    r.errlen = sizeof scratch;
    r.end = end;
    uint32_t n, flags, k, idx, v;
    uint8_t b;
    bool ok = wio_u32(&r, &n);
    for (uint32_t i = 0; ok && i < n; i++) {
        ok = wio_u32(&r, &flags) && flags <= 7;
        if (ok && (flags & 3) == 2)
            ok = wio_u32(&r, &v); /* table index */
        if (ok && !(flags & 1))
            ok = wi_skip_const_expr(&r, &p->info); /* offset */
        if (ok && (flags & 3))
            ok = wio_u8(&r, &b); /* elemkind or reftype */
        if (ok)
            ok = wio_u32(&r, &k);
        for (uint32_t j = 0; ok && j < k; j++) {
            if (!(flags & 4)) {
                ok = wio_u32(&r, &idx);
                if (ok)
                    mark_reachable(p, idx);
                continue;
            }
            for (;;) { /* an expression: ref.func x or ref.null t, then end */
                size_t at = r.pos;
                wi_instr in;
                if (!(ok = wi_decode(&r, &p->info, &in)) || in.op == 0x0B)
                    break;
                wio_reader imm = r;
                imm.pos = at + 1;
                if (in.op == 0xD2 && wio_u32(&imm, &idx))
                    mark_reachable(p, idx);
            }
        }
    }
    if (!ok || r.pos != end)
        p->hoist_unusable = true;
}

/* Marks the targets of ref.func in [from, to), already decoded once. */
static void mark_ref_funcs(pass *p, size_t from, size_t to)
{
    char scratch[64];
    wio_reader r = p->r;
    r.err = scratch;
    r.errlen = sizeof scratch;
    r.pos = from;
    r.end = to;
    while (r.pos < to) {
        wi_instr in;
        uint32_t idx;
        if (!wi_decode(&r, &p->info, &in))
            return;
        wio_reader imm = r;
        imm.pos = in.offset + 1;
        if (in.op == 0xD2 && wio_u32(&imm, &idx))
            mark_reachable(p, idx);
    }
}

static bool parse_start(pass *p)
{
    uint32_t idx;
    if (!wio_u32(&p->r, &idx))
        return false;
    mark_reachable(p, idx);
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
 * Emits the global section with the fuel global appended. `rest` is the
 * existing entries, verbatim; it is empty when the module had no globals.
 */
static bool emit_global_section(pass *p, uint32_t count, const uint8_t *rest, size_t rest_len)
{
    wio_buf b = {0};
    wio_put_u32(&b, count + 1);
    wio_put(&b, rest, rest_len);
    wio_put_u8(&b, VT_I64);
    wio_put_u8(&b, 1); /* mutable */
    wio_put_u8(&b, OP_I64_CONST);
    wio_put_s64(&b, p->initial);
    wio_put_u8(&b, OP_END);
    bool ok = !b.oom ? put_section(p, SEC_GLOBAL, b.data, b.len) : oom(p);
    wio_buf_free(&b);
    p->global_emitted = true;
    return ok;
}

static bool emit_export_section(pass *p, uint32_t count, const uint8_t *rest, size_t rest_len)
{
    static const char name[] = VIV_FUEL_EXPORT_NAME;
    wio_buf b = {0};
    wio_put_u32(&b, count + 1);
    wio_put(&b, rest, rest_len);
    wio_put_u32(&b, (uint32_t)(sizeof name - 1));
    wio_put(&b, name, sizeof name - 1);
    wio_put_u8(&b, EXPORT_GLOBAL);
    wio_put_u32(&b, p->fuel_index);
    bool ok = !b.oom ? put_section(p, SEC_EXPORT, b.data, b.len) : oom(p);
    wio_buf_free(&b);
    p->export_emitted = true;
    return ok;
}

/* Called once the global section (if any) is behind us: the index is final. */
static bool fix_fuel_index(pass *p)
{
    uint64_t idx = (uint64_t)p->imported_globals + p->defined_globals;
    if (idx >= UINT32_MAX)
        return wio_fail_at(&p->r, p->r.pos, "too many globals");
    p->fuel_index = (uint32_t)idx;
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
        size_t expr = r->pos;
        if (!wi_skip_const_expr(r, &p->info))
            return false;
        mark_ref_funcs(p, expr, r->pos);
    }
    if (r->pos != end)
        return wio_fail_at(r, r->pos, "global section has %zu trailing bytes", end - r->pos);
    p->defined_globals = n;
    return fix_fuel_index(p) && emit_global_section(p, n, r->buf + rest, end - rest);
}

static bool rewrite_exports(pass *p, size_t end)
{
    wio_reader *r = &p->r;
    static const char fuel_name[] = VIV_FUEL_EXPORT_NAME;
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
        if (len == sizeof fuel_name - 1 && memcmp(name, fuel_name, len) == 0)
            return wio_fail_at(r, at, "module already exports \"%s\" (instrumented twice?)",
                               fuel_name);
        if (!wio_u8(r, &kind))
            return false;
        if (kind > 3)
            return wio_fail_at(r, r->pos - 1, "unsupported export kind 0x%02x", kind);
        if (!wio_u32(r, &idx))
            return false;
        if (kind == 0)
            mark_reachable(p, idx);
    }
    if (r->pos != end)
        return wio_fail_at(r, r->pos, "export section has %zu trailing bytes", end - r->pos);
    return emit_export_section(p, n, r->buf + rest, end - rest);
}

static bool push_segment(pass *p, const segment *seg)
{
    if (p->nsegs == p->segcap) {
        size_t cap = p->segcap ? p->segcap * 2 : 64;
        segment *s = realloc(p->segs, cap * sizeof *s);
        if (!s)
            return oom(p);
        p->segs = s;
        p->segcap = cap;
    }
    p->segs[p->nsegs++] = *seg;
    return true;
}

static bool push_ctl(pass *p, size_t depth, wi_kind kind, size_t owner, size_t at)
{
    if (depth >= MAX_NESTING)
        return wio_fail_at(&p->r, at, "blocks nested deeper than %u", MAX_NESTING);
    if (depth == p->ctlcap) {
        size_t cap = p->ctlcap ? p->ctlcap * 2 : 64;
        ctl_frame *c = realloc(p->ctl, cap * sizeof *c);
        if (!c)
            return oom(p);
        p->ctl = c;
        p->ctlcap = cap;
    }
    if (p->ncons == p->conscap) {
        size_t cap = p->conscap ? p->conscap * 2 : 64;
        construct *c = realloc(p->cons, cap * sizeof *c);
        if (!c)
            return oom(p);
        p->cons = c;
        p->conscap = cap;
    }
    p->cons[p->ncons] = (construct){owner, 0, false};
    p->ctl[depth] = (ctl_frame){(uint8_t)kind, p->ncons++, SIZE_MAX};
    return true;
}

/* Label `label` at nesting `depth`: the depth of the construct it names. */
static size_t branch_target(size_t depth, uint32_t label)
{
    return label >= depth ? 0 : depth - label;
}

/*
 * A conditional branch at nesting `depth` to `target` leaves every
 * construct deeper than the target early on one path only, so their
 * continuations are not certain to run.
 */
static void note_cond_branch(pass *p, size_t depth, size_t target)
{
    if (depth > 0 && target < p->ctl[depth - 1].min_target)
        p->ctl[depth - 1].min_target = target;
}

/*
 * An unconditional branch (br, return) ending segment `seg` leaves the
 * constructs deeper than `target` every time its segment runs. It is
 * recorded against each of them, so that what was paid in advance for
 * their continuations can be taken off its segment's charge. Past a
 * bound on the records (hostile nesting), it is treated as conditional.
 */
static bool note_exit(pass *p, size_t depth, size_t target, size_t seg)
{
    if (depth <= target)
        return true;
    if (p->nexits + (depth - target) > MAX_EXIT_EDGES) {
        note_cond_branch(p, depth, target);
        return true;
    }
    while (p->nexits + (depth - target) > p->exitcap) {
        size_t cap = p->exitcap ? p->exitcap * 2 : 64;
        exit_edge *e = realloc(p->exits, cap * sizeof *e);
        if (!e)
            return oom(p);
        p->exits = e;
        p->exitcap = cap;
    }
    for (size_t j = depth; j > target; j--)
        p->exits[p->nexits++] = (exit_edge){seg, p->ctl[j - 1].cons};
    return true;
}

/* Reads the labels of a branch that `wi_decode` already validated. */
static bool note_labels(pass *p, size_t depth, const wi_instr *in)
{
    wio_reader lr = p->r;
    uint32_t label, n;
    lr.pos = in->offset + 1;
    switch (in->op) {
    case 0x0C: /* br */
        if (wio_u32(&lr, &label))
            return note_exit(p, depth, branch_target(depth, label), p->nsegs);
        break;
    case 0x0D: /* br_if */
        if (wio_u32(&lr, &label))
            note_cond_branch(p, depth, branch_target(depth, label));
        break;
    case 0x0E: /* br_table: every listed label and the default */
        if (!wio_u32(&lr, &n))
            break;
        for (uint64_t i = 0; i <= n; i++)
            if (wio_u32(&lr, &label))
                note_cond_branch(p, depth, branch_target(depth, label));
        break;
    case 0x0F: /* return */
        return note_exit(p, depth, 0, p->nsegs);
    default: /* unreachable traps: nothing after it is paid for by anyone */
        break;
    }
    return true;
}

/*
 * A direct call to a function nothing else can start adds that function's
 * entry charge to the caller's segment (the callee's entry segment runs
 * exactly once per call). ref.func makes its target startable by
 * call_indirect; a valid module declares it in an element segment too, but
 * noting it here keeps a module that does not from being undercharged.
 */
static void note_callee(pass *p, const wi_instr *in, segment *cur)
{
    wio_reader imm = p->r;
    uint32_t idx;
    imm.pos = in->offset + 1;
    if (!wio_u32(&imm, &idx))
        return;
    if (in->op == 0xD2) {
        mark_reachable(p, idx);
        return;
    }
    /* An index out of range (an invalid module) is left to wasm2c to reject. */
    if (p->hoist && idx >= p->imported_functions &&
        idx - p->imported_functions < p->declared_functions && !p->reachable[idx])
        cur->cost += (int64_t)p->entry_cost[idx - p->imported_functions];
}

/*
 * Splits [r->pos, end) into segments (see fuel_pass.h). The instruction that
 * ends a segment is its last instruction, so its cost lands in the segment
 * that is charged before it runs: a branch is paid for whether taken or not.
 *
 * Merging across `end`: when no conditional branch (br_if, br_table) inside
 * a construct leaves it for an outer label, every entry into the construct
 * either reaches the code after its `end` exactly once, or leaves through
 * an unconditional br or return (or traps, or never finishes). That code is
 * then paid for by the segment charged before the construct was entered
 * (its owner) and needs no charge of its own; each unconditional exit gets
 * the advance back, taken off the charge of the segment it ends (which runs
 * to that exit whenever it starts). A loop's end is reached only by falling
 * through, so this covers loops the same way.
 */
static bool find_segments(pass *p, size_t end)
{
    wio_reader *r = &p->r;
    size_t depth = 0;
    segment cur = {r->pos, 0, 0, true};
    p->nsegs = 0;
    p->ncons = 0;
    p->nexits = 0;
    for (;;) {
        wi_instr in;
        bool ends = false, next_check = false;
        size_t next_owner = SIZE_MAX; /* the next segment pays for itself */
        if (!wi_decode(r, &p->info, &in))
            return false;
        switch (in.kind) {
        case WI_OTHER:
            cur.cost++;
            if (in.op == 0x10 || in.op == 0xD2)
                note_callee(p, &in, &cur);
            break;
        case WI_FREE:
            break;
        case WI_BLOCK:
            if (!push_ctl(p, depth++, WI_BLOCK, p->nsegs, in.offset))
                return false;
            break;
        case WI_LOOP:
            if (!push_ctl(p, depth++, WI_LOOP, p->nsegs, in.offset))
                return false;
            ends = next_check = true;
            break;
        case WI_IF:
            cur.cost++;
            if (!push_ctl(p, depth++, WI_IF, p->nsegs, in.offset))
                return false;
            ends = true;
            break;
        case WI_ELSE:
            if (depth == 0 || p->ctl[depth - 1].kind != WI_IF)
                return wio_fail_at(r, in.offset, "else without a matching if");
            p->ctl[depth - 1].kind = WI_ELSE;
            ends = true;
            break;
        case WI_END: {
            if (depth == 0) {
                if (r->pos != end)
                    return wio_fail_at(r, r->pos, "%zu bytes after the function's final end",
                                       end - r->pos);
                return push_segment(p, &cur);
            }
            const ctl_frame *f = &p->ctl[--depth];
            construct *c = &p->cons[f->cons];
            if (f->min_target > depth) {
                next_owner = c->owner;
                c->prepaid = true;
                c->cont = p->nsegs + 1; /* the segment after this one */
            } else if (depth > 0 && f->min_target < p->ctl[depth - 1].min_target) {
                p->ctl[depth - 1].min_target = f->min_target;
            }
            ends = true;
            break;
        }
        case WI_JUMP:
            cur.cost++;
            if (!note_labels(p, depth, &in))
                return false;
            ends = true;
            break;
        }
        if (ends) {
            if (!push_segment(p, &cur))
                return false;
            cur = (segment){r->pos, 0, p->nsegs, next_check};
            if (next_owner != SIZE_MAX)
                cur.owner = next_owner;
        }
    }
}

/*
 * Moves each segment's cost to the segment that pays for it, and takes the
 * refunds off. Owners come earlier and a continuation comes after every
 * exit that leaves its construct, so one backward pass over the segments
 * finishes each sum before it is needed: acc[i] is what segment i and the
 * segments it pays for cost, net of their refunds.
 */
static bool settle_costs(pass *p)
{
    if (p->nsegs > p->acccap) {
        int64_t *a = realloc(p->acc, p->nsegs * sizeof *a);
        if (!a)
            return oom(p);
        p->acc = a;
        p->acccap = p->nsegs;
    }
    memset(p->acc, 0, p->nsegs * sizeof *p->acc);
    size_t e = p->nexits;
    for (size_t i = p->nsegs; i-- > 0;) {
        segment *s = &p->segs[i];
        int64_t net = s->cost;
        for (; e > 0 && p->exits[e - 1].seg == i; e--) {
            const construct *c = &p->cons[p->exits[e - 1].cons];
            if (c->prepaid)
                net -= p->acc[c->cont];
        }
        p->acc[i] += net;
        if (p->acc[i] > MAX_CHARGE || p->acc[i] < -MAX_CHARGE)
            return wio_fail_at(&p->r, s->start, "a charge exceeds %lld", (long long)MAX_CHARGE);
        if (s->owner != i) {
            p->acc[s->owner] += p->acc[i];
            s->cost = 0;
        }
    }
    for (size_t i = 0; i < p->nsegs; i++)
        if (p->segs[i].owner == i)
            p->segs[i].cost = p->acc[i];
    return true;
}

static size_t charge_size(const pass *p, int64_t cost)
{
    size_t g = wio_u32_size(p->fuel_index);
    return (1 + g) + (1 + wio_s64_size(cost)) + 1 + (1 + g);
}

static size_t check_size(const pass *p)
{
    size_t g = wio_u32_size(p->fuel_index);
    return (1 + g) + 2 + 1 + 2 + 1 + 1;
}

static void put_charge(pass *p, int64_t cost)
{
    wio_buf *b = &p->code;
    wio_put_u8(b, OP_GLOBAL_GET);
    wio_put_u32(b, p->fuel_index);
    wio_put_u8(b, OP_I64_CONST);
    wio_put_s64(b, cost);
    wio_put_u8(b, OP_I64_SUB);
    wio_put_u8(b, OP_GLOBAL_SET);
    wio_put_u32(b, p->fuel_index);
}

static void put_check(pass *p)
{
    static const uint8_t tail[] = {OP_I64_CONST,   0,     OP_I64_LT_S, OP_IF, BLOCKTYPE_EMPTY,
                                   OP_UNREACHABLE, OP_END};
    wio_buf *b = &p->code;
    wio_put_u8(b, OP_GLOBAL_GET);
    wio_put_u32(b, p->fuel_index);
    wio_put(b, tail, sizeof tail);
}

static bool rewrite_body(pass *p, size_t body_end)
{
    wio_reader *r = &p->r;
    size_t body_start = r->pos;
    uint32_t groups;
    uint64_t locals = 0;
    if (!wio_count(r, 2, &groups))
        return false;
    for (uint32_t i = 0; i < groups; i++) {
        size_t at = r->pos;
        uint32_t n;
        if (!wio_u32(r, &n) || !wi_valtype(r))
            return false;
        locals += n;
        if (locals > MAX_LOCALS)
            return wio_fail_at(r, at, "more than %u locals", MAX_LOCALS);
    }
    size_t instr_start = r->pos;
    if (!find_segments(p, body_end) || !settle_costs(p))
        return false;
    uint32_t self = p->defined_index;
    if (p->analysing) { /* the first of two passes: only learn the entry charge */
        /* The entry segment is outside every construct, so it pays for
         * whatever it takes back: never negative; 0 just moves nothing. */
        p->next_cost[self] = p->segs[0].cost > 0 ? (uint64_t)p->segs[0].cost : 0;
        r->pos = body_end;
        return true;
    }
    if (p->hoist && !p->reachable[p->imported_functions + self]) {
        /* Every caller paid for the entry segment already. */
        p->segs[0].cost -= (int64_t)p->entry_cost[self];
        if (p->segs[0].cost < 0)
            return wio_fail_at(r, body_start, "internal error: entry charge changed");
    }
    for (size_t i = 0; i < p->nsegs; i++) {
        if (p->segs[i].cost)
            p->stats.charge_sites++;
        if (p->segs[i].check)
            p->stats.check_sites++;
    }

    uint64_t size = body_end - body_start;
    for (size_t i = 0; i < p->nsegs; i++) {
        if (p->segs[i].cost)
            size += charge_size(p, p->segs[i].cost);
        if (p->segs[i].check)
            size += check_size(p);
    }
    if (size > UINT32_MAX)
        return wio_fail_at(r, body_start, "instrumented function body exceeds 4 GiB");

    wio_put_u32(&p->code, (uint32_t)size);
    wio_put(&p->code, r->buf + body_start, instr_start - body_start);
    for (size_t i = 0; i < p->nsegs; i++) {
        const segment *s = &p->segs[i];
        size_t seg_end = i + 1 < p->nsegs ? p->segs[i + 1].start : body_end;
        if (s->cost)
            put_charge(p, s->cost);
        if (s->check)
            put_check(p);
        wio_put(&p->code, r->buf + s->start, seg_end - s->start);
    }
    p->stats.functions++;
    return p->code.oom ? oom(p) : true;
}

static bool each_body(pass *p, uint32_t n, size_t end);

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
    size_t bodies = r->pos;
    /*
     * Rounds that only work out entry charges (and find ref.func targets).
     * The first counts each function's own entry segment; each later one
     * adds what its entry's direct calls cost by the previous round, so a
     * chain of k calls each made at entry is paid for by its first caller
     * after k rounds. The charges only grow from round to round, so whatever
     * round they are taken from, every function's entry still covers what
     * its callers are told it costs (recursion just stops growing here).
     */
    p->analysing = true;
    for (int round = 0; round < ENTRY_ROUNDS && !p->hoist_unusable; round++) {
        p->hoist = round > 0;
        r->pos = bodies;
        if (!each_body(p, n, end))
            return false;
        uint64_t *t = p->entry_cost;
        p->entry_cost = p->next_cost;
        p->next_cost = t;
    }
    p->analysing = false;
    r->pos = bodies;
    p->hoist = !p->hoist_unusable;
    p->code.len = 0;
    wio_put_u32(&p->code, n);
    if (!each_body(p, n, end))
        return false;
    if (r->pos != end)
        return wio_fail_at(r, r->pos, "code section has %zu trailing bytes", end - r->pos);
    p->have_code = true;
    if (p->code.oom)
        return oom(p);
    return put_section(p, SEC_CODE, p->code.data, p->code.len);
}

static bool each_body(pass *p, uint32_t n, size_t end)
{
    wio_reader *r = &p->r;
    (void)end;
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
        p->defined_index = i;
        bool ok = rewrite_body(p, body_end);
        r->end = saved_end;
        if (!ok)
            return false;
    }
    return true;
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
        return parse_start(p);
    case SEC_DATACOUNT:
        return wio_u32(r, &v);
    case SEC_ELEMENT:
        scan_elements(p, end);
        return wio_skip(r, end - r->pos);
    default: /* data: nothing in it depends on the pass */
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

int viv_fuel_instrument_initial(const uint8_t *in, size_t in_len, int64_t initial, uint8_t **out,
                                size_t *out_len, viv_fuel_stats *stats, char *err, size_t errlen)
{
    pass p = {0};
    wio_reader_init(&p.r, in ? in : (const uint8_t *)"", in ? in_len : 0, err, errlen);
    p.initial = initial;
    *out = NULL;
    *out_len = 0;
    if (stats)
        memset(stats, 0, sizeof *stats);

    bool ok = run(&p);
    free(p.segs);
    free(p.ctl);
    free(p.cons);
    free(p.exits);
    free(p.acc);
    free(p.reachable);
    free(p.entry_cost);
    free(p.next_cost);
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

int viv_fuel_instrument(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
                        viv_fuel_stats *stats, char *err, size_t errlen)
{
    return viv_fuel_instrument_initial(in, in_len, 0, out, out_len, stats, err, errlen);
}
