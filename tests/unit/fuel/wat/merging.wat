;; Constructs whose `end` the pass may or may not merge across (a construct
;; that no br_if or br_table leaves early has the code after its end paid for
;; before it is entered; a br or return that leaves it takes the advance off
;; its own segment's charge: see refunds.wat). Costs are counted by hand per executed instruction,
;; whatever the pass does; test_fuel_run.c checks the totals. Exports run in
;; order under wasm-interp --run-all-exports and share one fuel global; each
;; ends with a call to $probe, whose entry check catches a budget one short.
(module
  (func $probe)

  ;; const, set = 2; the block's br_if targets the block itself: 4; set 2
  ;; when not taken; 1 after the block. clamp(x>100) = 7, clamp(x<=100) = 9.
  (func $clamp (param i32) (result i32) (local i32)
    i32.const 100 local.set 1
    block
      local.get 0 i32.const 100 i32.gt_s br_if 0
      local.get 0 local.set 1
    end
    local.get 1)

  ;; 3 + if 1; then-arm 4; 1 after. abs(x<0) = 9, abs(x>=0) = 5.
  (func $abs (param i32) (result i32)
    local.get 0 i32.const 0 i32.lt_s
    if
      i32.const 0 local.get 0 i32.sub local.set 0
    end
    local.get 0)

  ;; A loop left only by falling through its end: 9 per iteration, 1 after.
  ;; count_down(n>=1) = 9n + 1.
  (func $count_down (param i32) (result i32) (local i32)
    loop
      local.get 1 i32.const 1 i32.add local.set 1
      local.get 0 i32.const 1 i32.sub local.tee 0
      br_if 0
    end
    local.get 1)

  ;; The inner block is left for the outer one (3), the outer one is not.
  ;; nested(0) = 3 + 1 = 4; nested(x!=0) = 3 + 2 + 4 + 1 = 10 and returns 6.
  (func $nested (param i32) (result i32) (local i32)
    block
      block
        local.get 0 i32.eqz br_if 1
        i32.const 5 local.set 1
      end
      local.get 1 i32.const 1 i32.add local.set 1
    end
    local.get 1)

  ;; A return inside the if leaves the block early: 2, then 2 (const,
  ;; return) or 1 after the block. early(x!=0) = 4, early(0) = 3.
  (func $early (param i32) (result i32)
    block
      local.get 0
      if
        i32.const 7 return
      end
    end
    i32.const 8)

  ;; 6 + 7 + 9 = 22 (22 in all); returns 150.
  (func (export "a_clamp") (result i32)
    i32.const 150 call $clamp i32.const 50 call $clamp i32.add call $probe)

  ;; 6 + 9 + 5 = 20 (42); returns 8.
  (func (export "b_abs") (result i32)
    i32.const -5 call $abs i32.const 3 call $abs i32.add call $probe)

  ;; 3 + 37 = 40 (82); returns 4.
  (func (export "c_count_down") (result i32)
    i32.const 4 call $count_down call $probe)

  ;; 6 + 4 + 10 = 20 (102); returns 6.
  (func (export "d_nested") (result i32)
    i32.const 0 call $nested i32.const 1 call $nested i32.add call $probe)

  ;; 6 + 4 + 3 = 13 (115); returns 15.
  (func (export "e_early") (result i32)
    i32.const 1 call $early i32.const 0 call $early i32.add call $probe))
