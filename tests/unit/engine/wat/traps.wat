;; One trap per mode, chosen by param(0); operands come from param(1) and
;; param(2) so nothing can be folded at compile time. The guest notes 1 before
;; the trapping instruction and passes the instruction's result to a second
;; note, which must never be reached.
;;   0  i32.load at param(1) (65536: one past the end of the single page)
;;   1  i32.load offset=0xffffffff at param(1) (0xffffffff: the far end)
;;   2  i32.store at param(1)
;;   3  i32.div_s param(1) / param(2) (7 / 0)
;;   4  i32.div_s param(1) / param(2) (INT32_MIN / -1)
;;   5  i32.trunc_f32_s of f32.reinterpret param(1) (a NaN)
;;   6  call_indirect (i32)->i32 on slot 0, which holds a ()->() function
;;   7  call_indirect ()->() on slot 1, which is null
;;   8  call_indirect ()->() on slot 4, past the end of the 4-slot table
;;   9  unreachable
;;  10  memory.fill of 16 bytes at param(1) (65530: crosses the end)
;;  11  i32.trunc_f32_s of f32.reinterpret param(1) (3e9: out of range)
;;  12  i32.rem_u param(1) % param(2) (7 % 0)
(module
  (import "wasi_snapshot_preview1" "fd_close" (func $param (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_sync" (func $note (param i32) (result i32)))
  (type $v_v (func))
  (type $i_i (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (table 4 funcref)
  (elem (i32.const 0) $nullary)
  (func $nullary)
  (func (export "_start")
    (local $mode i32) (local $a i32) (local $b i32) (local $r i32)
    (local.set $mode (call $param (i32.const 0)))
    (local.set $a (call $param (i32.const 1)))
    (local.set $b (call $param (i32.const 2)))
    (drop (call $note (i32.const 1)))
    (block $done
      (block $m12 (block $m11 (block $m10 (block $m9 (block $m8 (block $m7 (block $m6
      (block $m5 (block $m4 (block $m3 (block $m2 (block $m1 (block $m0
        (br_table $m0 $m1 $m2 $m3 $m4 $m5 $m6 $m7 $m8 $m9 $m10 $m11 $m12 $done
                  (local.get $mode)))
        (local.set $r (i32.load (local.get $a)))
        (br $done))
        (local.set $r (i32.load offset=0xffffffff (local.get $a)))
        (br $done))
        (i32.store (local.get $a) (i32.const 1))
        (br $done))
        (local.set $r (i32.div_s (local.get $a) (local.get $b)))
        (br $done))
        (local.set $r (i32.div_s (local.get $a) (local.get $b)))
        (br $done))
        (local.set $r (i32.trunc_f32_s (f32.reinterpret_i32 (local.get $a))))
        (br $done))
        (local.set $r (call_indirect (type $i_i) (local.get $a) (i32.const 0)))
        (br $done))
        (call_indirect (type $v_v) (i32.const 1))
        (br $done))
        (call_indirect (type $v_v) (i32.const 4))
        (br $done))
        (unreachable))
        (memory.fill (local.get $a) (i32.const 0) (i32.const 16))
        (br $done))
        (local.set $r (i32.trunc_f32_s (f32.reinterpret_i32 (local.get $a))))
        (br $done))
        (local.set $r (i32.rem_u (local.get $a) (local.get $b))))
    (drop (call $note (local.get $r)))))
