;; Unconditional exits that take back what was paid in advance for the code
;; after the constructs they leave. Until the exit runs, more has been
;; charged than executed, so a budget equal to the total may run out early;
;; the total itself is exact. test_fuel_run.c pins it with z_gauge, which
;; runs last and costs exactly 60: under a budget of total + 60 everything
;; succeeds; one unit less and only the gauge runs out.
(module
  (func $probe)

  ;; An unconditional br out of two blocks from inside an if: 2 (local.get,
  ;; if), then-arm 3 (const, set, br), or 2 + 4 after the if and the inner
  ;; block; 1 at the end. br_out(x!=0) = 6 returns 3, br_out(0) = 9 returns 14.
  (func $br_out (param i32) (result i32) (local i32)
    block $out
      block $in
        local.get 0
        if
          i32.const 3 local.set 1 br $out
        end
        i32.const 4 local.set 1
      end
      local.get 1 i32.const 10 i32.add local.set 1
    end
    local.get 1)

  ;; A `continue`: br to the loop from inside a block. 3 (get, eqz, br_if),
  ;; 8 more and the br when it continues, 1 at the end: 12n + 4.
  (func $continue (param i32) (result i32) (local i32)
    loop $l
      block $b
        local.get 0 i32.eqz br_if $b
        local.get 0 i32.const 1 i32.sub local.set 0
        local.get 1 i32.const 2 i32.add local.set 1
        br $l
      end
    end
    local.get 1)

  ;; const, call, const, call, add, const, call, add, call = 9, + br_out(1)
  ;; 6 + br_out(0) 9 + continue(3) 40 = 64; returns 3 + 14 + 6 = 23.
  (func (export "a_refunds") (result i32)
    i32.const 1 call $br_out i32.const 0 call $br_out i32.add
    i32.const 3 call $continue i32.add call $probe)

  ;; 30 x (local.get, local.set) = 60, nothing else.
  (func (export "z_gauge") (local i32)
    local.get 0 local.set 0 local.get 0 local.set 0 local.get 0 local.set 0
    local.get 0 local.set 0 local.get 0 local.set 0 local.get 0 local.set 0
    local.get 0 local.set 0 local.get 0 local.set 0 local.get 0 local.set 0
    local.get 0 local.set 0 local.get 0 local.set 0 local.get 0 local.set 0
    local.get 0 local.set 0 local.get 0 local.set 0 local.get 0 local.set 0
    local.get 0 local.set 0 local.get 0 local.set 0 local.get 0 local.set 0
    local.get 0 local.set 0 local.get 0 local.set 0 local.get 0 local.set 0
    local.get 0 local.set 0 local.get 0 local.set 0 local.get 0 local.set 0
    local.get 0 local.set 0 local.get 0 local.set 0 local.get 0 local.set 0
    local.get 0 local.set 0 local.get 0 local.set 0 local.get 0 local.set 0)
)
