;; Every way of leaving a function, each called from a wrapper that measures
;; what the call consumed by reading the fuel global before and after it.
;; Assembled with `wat2wasm --no-check`: the module has no globals, so
;; `global 0` names $fuel, which only the pass creates.
;;
;; A wrapper's first global.get sees $fuel before the wrapper's own charge
;; (that charge is in $f until the sync before the call); its second sees
;; $fuel as the callee left it. So each wrapper returns (i64: wrapper cost 7
;; + callee cost, i32: the callee's result): the i64 is exact only if the
;; callee synced $fuel on the way out it took. Costs are v1's, by hand:
;;   via_return    x=1: get if | const return = 4 -> 11;  x=0: 2 + 1 = 3 -> 12
;;   via_br        x=0: get br_if | const br = 4 -> 21;   x=1: 2 + 1 = 3 -> 22
;;   via_br_if     x=1: const get br_if = 3 -> 31;         x=0: 3 + 1 = 4 -> 32
;;   via_br_table  x=0: const get br_table | add... = 3 + 2 = 5 -> 42
;;                 x=1: 3 (default: the function label) -> 41
;;   nested        x=1: 8 + 4 + 3 + 3 = 18 -> 74
;;   count         n=3: per round 3 (header) + 10 (body) + 3 (via_br_if 1);
;;                 16n + 3 (last header) + 1 (tail) = 52 -> 93
;;   call_then_br_if     x=1: 5 + 3 (via_br_if) + 1 = 9 -> 52
;;   call_then_br_table  x=1: 4 + 3 (via_br_if) + 2 = 9 -> 62
;; (the last two may leave right after a call but stay: $f must be reloaded.)
;; Wrapper totals: 11 10 11 10 10 11 12 10 25 59 16 16 = 201, then z_probe
;; (cost 0) checks at entry: a budget of 201 just suffices, 200 traps there.
(module
  (func $via_return (param i32) (result i32)
    local.get 0
    if
      i32.const 11
      return
    end
    i32.const 12)

  (func $via_br (param i32) (result i32)
    block
      local.get 0
      br_if 0
      i32.const 21
      br 1
    end
    i32.const 22)

  (func $via_br_if (param i32) (result i32)
    i32.const 31
    local.get 0
    br_if 0
    drop
    i32.const 32)

  (func $via_br_table (param i32) (result i32)
    block (result i32)
      i32.const 41
      local.get 0
      br_table 0 1
    end
    i32.const 1
    i32.add)

  (func $nested (param i32) (result i32)
    local.get 0 call $via_return
    local.get 0 call $via_br
    i32.add
    local.get 0 call $via_br_table
    i32.add)

  (func $count (param i32) (result i32) (local i32)
    block
      loop
        local.get 0 i32.eqz br_if 1
        local.get 1 local.get 0 call $via_br_if i32.add local.set 1
        local.get 0 i32.const 1 i32.sub local.set 0
        br 0
      end
    end
    local.get 1)

  (func $call_then_br_if (param i32) (result i32)
    i32.const 51
    local.get 0 call $via_br_if
    i32.eqz
    br_if 0          ;; not taken: the callee's result is not zero
    drop
    i32.const 52)

  (func $call_then_br_table (param i32) (result i32)
    block (result i32)
      i32.const 61
      local.get 0 call $via_br_if
      br_table 1 0   ;; 31 picks the default, the block
    end
    i32.const 1
    i32.add)

  (func (export "return_taken") (result i64 i32) (local i32)
    global.get 0 i32.const 1 call $via_return local.set 0
    global.get 0 i64.sub local.get 0)
  (func (export "return_fallthrough") (result i64 i32) (local i32)
    global.get 0 i32.const 0 call $via_return local.set 0
    global.get 0 i64.sub local.get 0)
  (func (export "br_taken") (result i64 i32) (local i32)
    global.get 0 i32.const 0 call $via_br local.set 0
    global.get 0 i64.sub local.get 0)
  (func (export "br_fallthrough") (result i64 i32) (local i32)
    global.get 0 i32.const 1 call $via_br local.set 0
    global.get 0 i64.sub local.get 0)
  (func (export "br_if_taken") (result i64 i32) (local i32)
    global.get 0 i32.const 1 call $via_br_if local.set 0
    global.get 0 i64.sub local.get 0)
  (func (export "br_if_fallthrough") (result i64 i32) (local i32)
    global.get 0 i32.const 0 call $via_br_if local.set 0
    global.get 0 i64.sub local.get 0)
  (func (export "br_table_inner") (result i64 i32) (local i32)
    global.get 0 i32.const 0 call $via_br_table local.set 0
    global.get 0 i64.sub local.get 0)
  (func (export "br_table_out") (result i64 i32) (local i32)
    global.get 0 i32.const 1 call $via_br_table local.set 0
    global.get 0 i64.sub local.get 0)
  (func (export "nested") (result i64 i32) (local i32)
    global.get 0 i32.const 1 call $nested local.set 0
    global.get 0 i64.sub local.get 0)
  (func (export "count") (result i64 i32) (local i32)
    global.get 0 i32.const 3 call $count local.set 0
    global.get 0 i64.sub local.get 0)
  (func (export "call_br_if_stays") (result i64 i32) (local i32)
    global.get 0 i32.const 1 call $call_then_br_if local.set 0
    global.get 0 i64.sub local.get 0)
  (func (export "call_br_table_stays") (result i64 i32) (local i32)
    global.get 0 i32.const 1 call $call_then_br_table local.set 0
    global.get 0 i64.sub local.get 0)
  (func (export "z_probe")))
