;; Counts from 0 to param(0). Its fuel cost by the rules in
;; tools/fuel/fuel_pass.h (1 per instruction; block, loop and end free):
;;   entry segment   i32.const call local.set                         3
;;   loop header     local.get local.get i32.ge_u br_if               4
;;   loop body       local.get i32.const i32.add local.set br         5
;; so N iterations cost 3 + 9N + 4 = 9N + 7 (the final header exits).
;; The function-entry check and each loop-header check cost nothing.
(module
  (import "wasi_snapshot_preview1" "fd_close" (func $param (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $i i32) (local $n i32)
    (local.set $n (call $param (i32.const 0)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))))
