;; Terminating computations run both unmetered and metered (with a large
;; budget): wasm-interp must print exactly the same results for both.
;; Exports take no parameters so that --run-all-exports calls every one.
(module
  (type $i2i (func (param i32) (result i32)))
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 0) $double $square)
  (global $counter (mut i32) (i32.const 0))
  (global $bias i64 (i64.const -5))

  (func $double (type $i2i) local.get 0 i32.const 2 i32.mul)
  (func $square (type $i2i) local.get 0 local.get 0 i32.mul)

  (func $fib (param i32) (result i32)
    local.get 0
    i32.const 2
    i32.lt_u
    if (result i32)
      local.get 0
    else
      local.get 0 i32.const 1 i32.sub call $fib
      local.get 0 i32.const 2 i32.sub call $fib
      i32.add
    end)

  (func (export "fib") (result i32) i32.const 15 call $fib)

  ;; Primes below 1000 with a byte sieve in linear memory.
  (func (export "sieve") (result i32) (local $i i32) (local $j i32) (local $n i32)
    i32.const 0 i32.const 0 i32.const 1000 memory.fill
    i32.const 2 local.set $i
    block $done
      loop $outer
        local.get $i i32.const 1000 i32.ge_u br_if $done
        local.get $i i32.load8_u
        i32.eqz
        if
          local.get $n i32.const 1 i32.add local.set $n
          local.get $i local.get $i i32.mul local.set $j
          block $inner_done
            loop $inner
              local.get $j i32.const 1000 i32.ge_u br_if $inner_done
              local.get $j i32.const 1 i32.store8
              local.get $j local.get $i i32.add local.set $j
              br $inner
            end
          end
        end
        local.get $i i32.const 1 i32.add local.set $i
        br $outer
      end
    end
    local.get $n)

  (func $classify (param i32) (result i32)
    block block block block
      local.get 0
      br_table 0 1 2 3
    end i32.const 10 return
    end i32.const 20 return
    end i32.const 30 return
    end i32.const 40)

  (func (export "switch") (result i32) (local $i i32) (local $acc i32)
    loop $l
      local.get $acc local.get $i call $classify i32.add local.set $acc
      local.get $i i32.const 1 i32.add local.tee $i
      i32.const 6 i32.lt_s br_if $l
    end
    local.get $acc)

  ;; Loop and block parameters: the metering code is inserted while they sit
  ;; on the operand stack.
  (func (export "multi") (result i32) (local $k i32)
    i32.const 3
    i32.const 4
    block (param i32 i32) (result i32)
      i32.add
    end
    loop (param i32) (result i32)
      i32.const 2 i32.mul
      local.get $k i32.const 1 i32.add local.tee $k
      i32.const 5 i32.lt_u br_if 0
    end)

  (func (export "signext") (result i64)
    i32.const 0x80 i32.extend8_s
    i64.extend_i32_s
    i64.const 0x8000 i64.extend16_s i64.add
    i64.const 0x80000000 i64.extend32_s i64.add
    global.get $bias i64.add)

  (func (export "sat") (result i32)
    f32.const 1e10 i32.trunc_sat_f32_s
    f64.const -3 i32.trunc_sat_f64_u
    i32.add)

  (func (export "bulk") (result i64)
    i32.const 100 i32.const 0xAB i32.const 8 memory.fill
    i32.const 200 i32.const 100 i32.const 8 memory.copy
    i32.const 200 i64.load)

  (func (export "indirect") (result i32)
    i32.const 7 i32.const 0 call_indirect (type $i2i)
    i32.const 7 i32.const 1 call_indirect (type $i2i)
    i32.add)

  (func (export "select_t") (result f64)
    f64.const 1.25 f64.const 2.5 i32.const 0 select (result f64)
    f64.const 3 f64.const 4 i32.const 1 select
    f64.mul)

  (func (export "globals") (result i32) (local $i i32)
    loop
      global.get $counter i32.const 3 i32.add global.set $counter
      local.get $i i32.const 1 i32.add local.tee $i
      i32.const 10 i32.ne br_if 0
    end
    global.get $counter)

  (func (export "nested_if") (result i32) (local $x i32) (local $r i32)
    i32.const 7 local.set $x
    local.get $x i32.const 5 i32.gt_s
    if
      local.get $x i32.const 2 i32.rem_s
      if
        i32.const 1 local.set $r
        nop
      else
        i32.const 2 local.set $r
      end
      local.get $r i32.const 100 i32.add local.set $r
    end
    local.get $r)

  (func (export "trap_unreachable") (result i32)
    i32.const 1
    if
      unreachable
    end
    i32.const 0)

  (func (export "trap_div") (result i32)
    i32.const 1 i32.const 0 i32.div_s))
