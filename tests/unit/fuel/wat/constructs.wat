;; Every construct the fuel pass must decode and re-encode. It imports things
;; wasm-interp cannot provide, so the tests only validate it (and run it
;; through wasm2c), they do not execute it.
(module
  (type $i2i (func (param i32) (result i32)))
  (type $v2v (func))
  (type $ii2i (func (param i32 i32) (result i32)))
  (type $i2ii (func (param i32) (result i32 i32)))
  (import "env" "g0" (global $g0 i32))
  (import "env" "g1" (global $g1 (mut i64)))
  (import "env" "f" (func $imp (type $i2i)))
  (import "env" "mem" (memory 1))
  (table $t 4 funcref)
  (global $d0 (mut i32) (i32.const 7))
  (global $d1 f64 (f64.const 1.5))
  (global $d2 i32 (global.get $g0))
  (global $fr funcref (ref.func $callee))
  (elem (i32.const 0) $callee $imp)
  (elem $passive func $callee)
  (data (i32.const 16) "hello")
  (data $pd "passive")
  (start $init)

  (func $init (type $v2v)
    i32.const 1
    global.set $d0)

  (func $callee (type $i2i) local.get 0)

  (func $control (param i32) (result i32) (local i64 f32)
    block $out (result i32)
      block $a
        block $b
          block $c
            local.get 0
            br_table $a $b $c $a
          end
          nop
          i32.const 3
          br $out
        end
        loop $l
          local.get 0
          i32.const 1
          i32.sub
          local.tee 0
          br_if $l
        end
        local.get 0
        if
          unreachable
        end
        local.get 0
        if (result i32)
          i32.const 1
        else
          local.get 0
          return
        end
        drop
      end
      i32.const 9
    end)

  (func $typed_blocks (param i32) (result i32)
    local.get 0
    block (type $i2ii) (param i32) (result i32 i32)
      i32.const 2
    end
    i32.add
    i32.const 4
    loop (type $ii2i) (param i32 i32) (result i32)
      i32.mul
    end
    local.get 0
    if (type $i2i) (param i32) (result i32)
      i32.const 1
      i32.add
    else
      i32.const 2
      i32.add
    end)

  (func $selects (param i32) (result i32)
    i32.const 1
    i32.const 2
    local.get 0
    select
    f64.const 1
    f64.const 2
    local.get 0
    select (result f64)
    i32.trunc_f64_s
    i32.add
    ref.null func
    ref.null func
    local.get 0
    select (result funcref)
    ref.is_null
    i32.add)

  (func $signext (param i32) (result i64)
    local.get 0
    i32.extend8_s
    i32.extend16_s
    i64.extend_i32_s
    i64.extend8_s
    i64.extend16_s
    i64.extend32_s)

  (func $indirect (param i32) (result i32)
    i32.const 5
    local.get 0
    call_indirect $t (type $i2i)
    call $imp)

  (func $memory (param i32) (result i32)
    local.get 0
    i32.const 42
    i32.store offset=4 align=2
    local.get 0
    i64.const -1
    i64.store32 offset=8
    local.get 0
    f32.const 0.5
    f32.store
    local.get 0
    i32.load8_u offset=4
    local.get 0
    i64.load16_s offset=8 align=1
    i32.wrap_i64
    i32.add
    memory.size
    i32.add
    i32.const 0
    memory.grow
    i32.add)

  (func $bulk (param i32)
    local.get 0
    i32.const 0
    i32.const 16
    memory.fill
    local.get 0
    i32.const 16
    i32.const 5
    memory.copy
    local.get 0
    i32.const 0
    i32.const 7
    memory.init $pd
    data.drop $pd
    i32.const 1
    i32.const 0
    i32.const 1
    table.init $t $passive
    elem.drop $passive
    i32.const 0
    i32.const 1
    i32.const 1
    table.copy
    f32.const 1e30
    i32.trunc_sat_f32_s
    f64.const -1
    i64.trunc_sat_f64_u
    i32.wrap_i64
    i32.add
    drop)

  (func $refs (result i32)
    i32.const 0
    table.get $t
    ref.is_null
    i32.const 1
    ref.func $callee
    table.set $t
    ref.null func
    i32.const 2
    table.grow $t
    i32.add
    table.size $t
    i32.add
    i32.const 0
    ref.null func
    i32.const 1
    table.fill $t)

  (func $globals (result i64)
    global.get $g1
    i64.const 1
    i64.add
    global.set $g1
    global.get $d0
    global.get $g0
    i32.add
    global.set $d0
    global.get $g1)

  (export "control" (func $control))
  (export "typed_blocks" (func $typed_blocks))
  (export "selects" (func $selects))
  (export "signext" (func $signext))
  (export "indirect" (func $indirect))
  (export "memory" (func $memory))
  (export "bulk" (func $bulk))
  (export "refs" (func $refs))
  (export "globals" (func $globals))
  (export "d0" (global $d0)))
