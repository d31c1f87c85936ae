;; Call-site charging: a function only direct calls can start has its entry
;; segment paid for by each caller; one in a table or exported pays for its
;; own (call_indirect and the host cannot pay for it). Costs are counted by
;; hand per executed instruction; test_fuel_run.c checks the totals.
(module
  (type $i_i (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $twice $inc)
  (func $probe)

  ;; local.get, const, add: inc = 3.
  (func $inc (param i32) (result i32)
    local.get 0 i32.const 1 i32.add)

  ;; In the table: twice = 3.
  (func $twice (param i32) (result i32)
    local.get 0 local.get 0 i32.add)

  ;; Entry 2 (local.get, if), then-arm 2 + inc 3, else-arm 1.
  ;; step(0) = 3, step(x!=0) = 2 + 2 + 3 = 7.
  (func $step (param i32) (result i32)
    local.get 0
    if (result i32)
      local.get 0 call $inc
    else
      i32.const 0
    end)

  ;; A chain of entry calls: outer's entry calls middle's, which calls inc:
  ;; outer = 2 + middle, middle = 2 + inc. outer(x) = 2 + 2 + 3 = 7, x + 1.
  (func $middle (param i32) (result i32)
    local.get 0 call $inc)
  (func $outer (param i32) (result i32)
    local.get 0 call $middle)

  ;; Exported and also called directly (from c_mixed): 3 + inc 3 + inc 3 = 9.
  (func $plus_two (export "plus_two") (param i32) (result i32)
    local.get 0 call $inc call $inc)

  ;; const, call, const, call, add, call = 6, + inc 3 + step(5) 7 = 16;
  ;; returns 2 + 6 = 8.
  (func (export "a_direct") (result i32)
    i32.const 1 call $inc i32.const 5 call $step i32.add call $probe)

  ;; (const, const, call_indirect) x 2 = 6, + add, call = 8, + twice 3 +
  ;; inc 3 = 14 (30 in all); returns 14 + 4 = 18.
  (func (export "b_indirect") (result i32)
    i32.const 7 i32.const 0 call_indirect (type $i_i)
    i32.const 3 i32.const 1 call_indirect (type $i_i)
    i32.add call $probe)

  ;; const, call, const, call, add, call = 6, + plus_two 9 + step(0) 3
  ;; = 18 (48 in all); returns 3 + 0 = 3.
  (func (export "c_mixed") (result i32)
    i32.const 1 call $plus_two i32.const 0 call $step i32.add call $probe)

  ;; const, call, call = 3 + outer 7 = 10 (58 in all); returns 5.
  (func (export "d_chain") (result i32)
    i32.const 4 call $outer call $probe))
