/*
 * tools/fuel: decoding of single WebAssembly instructions and of constant
 * expressions.
 *
 * Owns: the accepted instruction set (MVP, sign-extension, the 0xFC
 * saturating-truncation and bulk-memory/table ops, and the reference-type
 * instructions those imply) and the error for everything else. It knows how
 * long an instruction is and what kind of control flow it is; it knows
 * nothing about fuel.
 */
#ifndef VIV_FUEL_WASM_INSTR_H
#define VIV_FUEL_WASM_INSTR_H

#include <stdbool.h>
#include <stdint.h>

#include "wasm_io.h"

/* What the metering pass needs to know about an instruction. */
typedef enum wi_kind {
    WI_OTHER, /* straight-line, costs 1 */
    WI_FREE,  /* nop, drop: straight-line, costs 0 */
    WI_BLOCK,
    WI_LOOP,
    WI_IF,
    WI_ELSE,
    WI_END,
    WI_JUMP, /* br, br_if, br_table, return, unreachable */
} wi_kind;

typedef struct wi_instr {
    size_t offset; /* of the opcode byte, in the input file */
    uint8_t op;
    wi_kind kind;
} wi_instr;

typedef struct wi_module_info {
    uint32_t types; /* entries in the type section, bounds block type indices */
} wi_module_info;

/* Decodes one instruction with its immediates, advancing the reader. */
bool wi_decode(wio_reader *r, const wi_module_info *m, wi_instr *out);

/* Reads a value type byte and rejects the ones from unsupported proposals. */
bool wi_valtype(wio_reader *r);

/* Reads a reference type byte (funcref or externref). */
bool wi_reftype(wio_reader *r);

/* Skips a constant expression (global initialiser) including its `end`. */
bool wi_skip_const_expr(wio_reader *r, const wi_module_info *m);

#endif /* VIV_FUEL_WASM_INSTR_H */
