/*
 * tools/fuel: the fuel-metering pass, run on a guest .wasm before wasm2c.
 *
 * Owns: decoding a WebAssembly binary (MVP + sign-ext + mutable-globals),
 * rewriting its code section to charge fuel, and re-encoding the module.
 *
 * What the pass does to a module (version 2; the engine relies on all of it):
 *
 *  Globals. Two mutable globals are appended after every existing global,
 *  imported and defined, so no existing index changes:
 *    $fuel      i64, index G = imported + defined globals, initial value 0,
 *               exported as VIV_FUEL_EXPORT_NAME;
 *    $interrupt i32, index G + 1, initial value 0, exported as
 *               VIV_FUEL_INTERRUPT_EXPORT_NAME.
 *  The host writes the budget to $fuel before calling into the guest and
 *  reads what is left afterwards (consumed = budget - remaining). It must not
 *  write $fuel while guest code runs. To stop a running guest (deadline) it
 *  sets $interrupt to 1, e.g. from a timer signal.
 *
 *  Costs. Every function body is split into straight-line segments; a
 *  segment ends after block-structure and branch instructions (loop, if,
 *  else, end, br, br_if, br_table, return, unreachable), not after calls.
 *  Each segment's cost is charged when the segment starts: 1 per
 *  instruction, 0 for nop, drop, block, loop, end and else. The
 *  instruction that ends a segment is paid for in that segment, so a branch
 *  costs the same taken or not. (Unchanged since version 1.)
 *
 *  The counter lives in a local. Each function gets one extra i64 local $f:
 *  a local declaration entry (1, i64) is appended to its locals, so $f's
 *  index is params + declared locals and no existing local index changes.
 *  Functions whose params + locals + 1 would exceed 50000 are rejected.
 *  Inserted code, with $f's and the globals' indices filled in:
 *    entry   global.get $fuel; local.set $f            (first, at entry)
 *    charge  local.get $f; i64.const COST; i64.sub; local.set $f
 *    check   local.get $f; i64.const 0; i64.lt_s; global.get $interrupt;
 *            i32.or; if; local.get $f; global.set $fuel; unreachable; end
 *    sync    local.get $f; global.set $fuel
 *    reload  global.get $fuel; local.set $f
 *  Each segment starts with its charge (omitted when the cost is 0). A check
 *  follows the charge at function entry and at every loop header, so fuel
 *  running out and $interrupt are noticed there, and only there.
 *
 *  Syncs. Wherever control leaves the function or enters other code, $fuel
 *  is made exact, by a sync unless it is exact already (after a call; see
 *  Reloads):
 *    - before every call and call_indirect (after its operands, which is
 *      fine: the sync is stack-neutral), so every callee, and every imported
 *      host function, finds the exact remaining fuel in $fuel;
 *    - before return, before the function's final end (the fallthrough exit;
 *      branches to the function label do not pass through it), and before
 *      every br, br_if and br_table that can target the function label (for
 *      br_table: any target or the default). Before a br_if or br_table the
 *      sync runs whether or not the branch is taken;
 *    - in a check, before its unreachable (above). A user-written
 *      unreachable gets no sync.
 *
 *  Reloads. When a call returns, the callee has charged $fuel, which is
 *  exact, and $f is stale. Charges only come at the start of a segment, so
 *  until the instruction that ends the call's segment nothing reads $f, and
 *  the pass defers the reload until $f is needed. From a call to the end of
 *  its segment (blocks do not end segments):
 *    - a further call or call_indirect gets no sync ($fuel is exact);
 *    - return, a br to the function label, and the final end get no sync;
 *    - a br_if or br_table that can target the function label gets a reload
 *      instead of its sync (whether it leaves or not, both are then exact);
 *    - any other instruction that ends the segment (loop, if, else, end,
 *      and br, br_if, br_table within the function) gets a reload before
 *      it; a user unreachable gets nothing.
 *  The result is as if every call were followed by a reload, with fewer
 *  loads and stores: `call f; call g` costs a single sync.
 *
 *  What the host can rely on in $fuel:
 *    - after the exported function returns normally: the exact fuel left;
 *    - during a call to any import (host function): the exact fuel left;
 *    - after an out-of-fuel trap: the exact overdrawn value (< 0). The check
 *      that trapped stored it;
 *    - after a trap at a check because $interrupt was set: the exact fuel
 *      left at that check (>= 0 unless fuel also ran out);
 *    - after any other trap (integer divide by zero, out-of-bounds access,
 *      user unreachable, stack exhaustion, ...): a value that may miss the
 *      charges the trapping function made since it was entered or its last
 *      call returned, i.e. an upper bound on the fuel left, so budget - value
 *      is a lower bound on what was consumed. It is < 0 only if the budget
 *      really was exceeded;
 *    - while the guest runs (e.g. in a signal handler): no exact value;
 *      $fuel is only written at the syncs above and lags behind $f.
 *  Both checks end in `unreachable`. The host tells the causes apart after
 *  an unreachable trap: $fuel < 0 means out of fuel; otherwise, if it had
 *  set $interrupt, the guest was interrupted (a genuine user unreachable
 *  that races with the interrupt is reported as interrupted); otherwise it
 *  was a genuine unreachable.
 *  $interrupt is an ordinary (not volatile) global: a C compiler may keep it
 *  in a register across a loop that contains no calls or stores, and then
 *  that loop sees the interrupt only when its fuel runs out. A finite budget
 *  therefore remains the bound on running time.
 *
 *  Everything else is unchanged: same functions, indices, imports, exports
 *  (plus two), tables and data; custom sections are kept verbatim and in
 *  place. A module that already exports either name is refused, so a module
 *  cannot be instrumented twice.
 *
 * Input accepted: MVP plus sign-extension, non-trapping float-to-int (0xFC
 * 0..7), bulk memory and table ops (0xFC 8..17), multi-value block types and
 * the reference-type instructions (select t, ref.*, table.get/set). SIMD,
 * threads, exceptions, tail calls, GC, memory64 and multi-memory are rejected
 * with an error naming the opcode or feature and its byte offset, as are
 * branches to labels that do not exist.
 */
#ifndef VIV_FUEL_PASS_H
#define VIV_FUEL_PASS_H

#include <stddef.h>
#include <stdint.h>

#define VIV_FUEL_EXPORT_NAME           "vivarium_fuel"
#define VIV_FUEL_INTERRUPT_EXPORT_NAME "vivarium_interrupt"
/* Bump when the metering semantics change; artifacts record it. */
#define VIV_FUEL_PASS_VERSION 2

typedef struct viv_fuel_stats {
    uint32_t functions;    /* function bodies instrumented */
    uint64_t charge_sites; /* segments that got a charge */
    uint64_t check_sites;  /* function entries + loop headers checked */
    uint64_t sync_sites;   /* syncs of $fuel from $f, outside the checks */
    uint64_t reload_sites; /* reloads of $f after calls (not the entry loads) */
} viv_fuel_stats;

/*
 * Instrument `in` (a complete .wasm binary). On success returns 0 and sets
 * *out / *out_len to a malloc'd buffer the caller frees. On failure returns
 * -1 and writes a message (with the byte offset where decoding failed) into
 * err[0..errlen). Never reads outside `in`, whatever its contents.
 * `stats` may be NULL.
 */
int viv_fuel_instrument(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
                        viv_fuel_stats *stats, char *err, size_t errlen);

/*
 * As viv_fuel_instrument, but the fuel global starts at `initial` instead of
 * 0. For running instrumented modules in hosts that cannot write the global
 * before the first call (wasm-interp in the tests, `viv-fuel --initial`).
 */
int viv_fuel_instrument_initial(const uint8_t *in, size_t in_len, int64_t initial, uint8_t **out,
                                size_t *out_len, viv_fuel_stats *stats, char *err, size_t errlen);

/* Initial values of the two appended globals; all zero is the default. */
typedef struct viv_fuel_options {
    int64_t initial_fuel;
    /* Non-zero only in tests: a module that starts interrupted traps at its
     * first check, which wasm-interp cannot arrange from outside. */
    int32_t initial_interrupt;
} viv_fuel_options;

/* The general form of the two above; `opt` may be NULL (all zero). */
int viv_fuel_instrument_opts(const uint8_t *in, size_t in_len, const viv_fuel_options *opt,
                             uint8_t **out, size_t *out_len, viv_fuel_stats *stats, char *err,
                             size_t errlen);

#endif /* VIV_FUEL_PASS_H */
