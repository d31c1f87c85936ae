;; Functions whose fuel cost is computed by hand in test_fuel_run.c. Each
;; export ends with a call to $probe, whose entry check is where a budget one
;; short of the total must trap. Exports run in this order under
;; wasm-interp --run-all-exports and share one fuel global.
(module
  (func $probe)

  ;; Entry segment 0 (block, loop). Loop header segment: local.get, i32.eqz,
  ;; br_if = 3. Loop body after br_if: 9 including br. After the block: 1.
  ;; sum(n) costs 12n + 3 + 1.
  (func $sum (param i32) (result i32) (local i32)
    block
      loop
        local.get 0 i32.eqz br_if 1
        local.get 1 local.get 0 i32.add local.set 1
        local.get 0 i32.const 1 i32.sub local.set 0
        br 0
      end
    end
    local.get 1)

  ;; Entry 4 (through if), then-arm 1 (else costs 0), else-arm 9 (end costs 0).
  ;; fib(n<2) = 5, fib(n) = 13 + fib(n-1) + fib(n-2): fib(5) costs 131.
  (func $fib (param i32) (result i32)
    local.get 0 i32.const 2 i32.lt_u
    if (result i32)
      local.get 0
    else
      local.get 0 i32.const 1 i32.sub call $fib
      local.get 0 i32.const 2 i32.sub call $fib
      i32.add
    end)

  ;; Entry 2 (local.get, br_table); each arm 2 (const, return), the default
  ;; arm 1 (const, final end is free). x=0 and x=1 cost 4, x=7 costs 3.
  (func $classify (param i32) (result i32)
    block block block
      local.get 0
      br_table 0 1 2
    end i32.const 10 return
    end i32.const 20 return
    end i32.const 30)

  ;; const, call, const, call = 4 (nop and drop are free) + sum(10) = 124:
  ;; 128; returns 55.
  (func (export "a_sum") (result i32)
    nop i32.const 99 drop
    i32.const 10 call $sum call $probe)

  ;; 3 + 131 = 134; returns 5.
  (func (export "b_fib") (result i32)
    i32.const 5 call $fib call $probe)

  ;; 9 + 4 + 4 + 3 = 20; returns 60.
  (func (export "c_classify") (result i32)
    i32.const 0 call $classify
    i32.const 1 call $classify i32.add
    i32.const 7 call $classify i32.add
    call $probe))
