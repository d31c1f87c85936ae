;; Recursion that is not a tail call and keeps locals live across the call.
;; param(0) is the depth at which to stop; 0 means never. Every 1024 levels
;; the guest notes its depth, so the test can see how deep it got. On return
;; it notes the deepest level and the sum the calls computed.
(module
  (import "wasi_snapshot_preview1" "fd_close" (func $param (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_sync" (func $note (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $deepest (mut i32) (i32.const 0))
  ;; down(d, limit) = d if d == limit, else down(d + 1, limit) + 6d
  (func $down (param $depth i32) (param $limit i32) (result i32)
    (local $x i64) (local $y i64) (local $z f64)
    (local.set $x (i64.extend_i32_u (local.get $depth)))
    (local.set $y (i64.mul (local.get $x) (i64.const 3)))
    (local.set $z (f64.convert_i64_u (local.get $y)))
    (global.set $deepest (local.get $depth))
    (if (i32.eqz (i32.and (local.get $depth) (i32.const 1023)))
      (then (drop (call $note (local.get $depth)))))
    (if (i32.eq (local.get $depth) (local.get $limit))
      (then (return (local.get $depth))))
    (i32.add
      (call $down (i32.add (local.get $depth) (i32.const 1)) (local.get $limit))
      (i32.add (i32.wrap_i64 (local.get $y)) (i32.trunc_f64_u (local.get $z)))))
  (func (export "_start")
    (local $r i32)
    (local.set $r (call $down (i32.const 1) (call $param (i32.const 0))))
    (drop (call $note (global.get $deepest)))
    (drop (call $note (local.get $r)))))
