/*
 * tools/fuel: the fuel-metering pass, run on a guest .wasm before wasm2c.
 *
 * Owns: decoding a WebAssembly binary (MVP + sign-ext + mutable-globals),
 * rewriting its code section to charge fuel, and re-encoding the module.
 *
 * What the pass does to a module:
 *  - Appends one mutable i64 global, initialised to 0, and exports it under
 *    VIV_FUEL_EXPORT_NAME. The host writes the budget there before running
 *    and reads what is left afterwards; consumed = budget - remaining.
 *  - Splits every function body into straight-line segments and, at the start
 *    of each segment, subtracts the segment's cost from that global. Cost is
 *    1 per instruction, 0 for nop, drop, block, loop, end and else.
 *  - Merging: when no br_if or br_table inside a block, loop or if leaves
 *    it for an outer label, the code after its `end` runs once per entry
 *    unless a br or return leaves first. Its cost is added to the charge
 *    made before the construct and it gets no charge of its own; each such
 *    br or return takes that advance back off the charge of the segment it
 *    ends (a segment that starts always reaches its final branch), which
 *    can make that charge negative.
 *  - Call sites: a function that only direct calls can start (not exported,
 *    not the start function, in no element segment, never named by
 *    ref.func) has its entry segment paid for by each call site, in the
 *    caller's segment holding the call; its entry keeps the check but loses
 *    the charge. Every call is still charged before the callee's check, so
 *    recursion cannot outrun the budget. Entry charges are worked out over
 *    three rounds, so a callee's entry that itself calls such functions at
 *    entry is paid for further up, up to three calls deep.
 *  - A run that finishes has paid exactly for what it executed; one that
 *    stops early (a trap, proc_exit, running out) has also paid for the rest
 *    of the segments, constructs and callee entries it was in, as the plain
 *    per-segment scheme already did for the rest of a segment. While an
 *    advance is outstanding the counter is lower than the exact figure, so
 *    a budget equal to a program's exact total can run out at a check just
 *    before a refund: out_of_fuel may come a few hundred instructions early
 *    (and reports the whole budget as consumed, as always).
 *  - At function entry and at every loop header (after the charge) it checks
 *    the global: if it is negative, the guest executes `unreachable`. The host
 *    tells that apart from a genuine `unreachable` by reading the global (< 0).
 *    Deadlines add nothing to the metered code: the engine's timer unwinds
 *    the guest from its signal handler when it lands in guest code.
 *
 * Why the counter stays in the global rather than a local cached in a
 * register (tried as "version 2"): CPython/WASI makes a call every few
 * instructions, and writing the local back before each call and reading it
 * again after cost more than it saved (1.32x against 1.22x for this design
 * on a compute loop).
 *  - Changes nothing else: same functions, indices, imports, exports (plus
 *    one), tables and data; custom sections are kept verbatim and in place.
 *
 * Input accepted: MVP plus sign-extension, non-trapping float-to-int (0xFC
 * 0..7), bulk memory and table ops (0xFC 8..17), multi-value block types and
 * the reference-type instructions (select t, ref.*, table.get/set). SIMD,
 * threads, exceptions, tail calls, GC, memory64 and multi-memory are rejected
 * with an error naming the opcode or feature and its byte offset.
 */
#ifndef VIV_FUEL_PASS_H
#define VIV_FUEL_PASS_H

#include <stddef.h>
#include <stdint.h>

#define VIV_FUEL_EXPORT_NAME "vivarium_fuel"
/*
 * Bump when the contract between pass and engine changes; artifacts record
 * it. Moving charges (the merging and call-site rules below) keeps it: a
 * finished run is charged the same total, and the engine reads the same
 * single global. (2 was the reverted register-cached design, whose glue
 * expects an interrupt global: guest/artifact_glue.c tests ">= 2".)
 */
#define VIV_FUEL_PASS_VERSION 1

typedef struct viv_fuel_stats {
    uint32_t functions;    /* function bodies instrumented */
    uint64_t charge_sites; /* segments that got a charge */
    uint64_t check_sites;  /* function entries + loop headers checked */
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

#endif /* VIV_FUEL_PASS_H */
