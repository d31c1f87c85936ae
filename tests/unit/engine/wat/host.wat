;; Host-interaction scenarios for the engine tests, chosen by param(0).
;; Import conventions (see engine_test_util.h): fd_close(k) returns the
;; test's parameter k, fd_sync(v) records a note.
;;   0  return from _start
;;   1  proc_exit(param(1))
;;   2  poll_oneoff, which the test host turns into viv_engine_deadline_reached()
;;   3  fd_write "hello, host\n" to fd 1, then proc_exit(nwritten)
;;   4  sched_yield, whose test host dereferences NULL
;;   5  proc_raise, whose test host reads a PROT_NONE page
;;   6  spin forever: (loop (br 0))
;;   7  spin forever storing to memory on every iteration
(module
  (import "wasi_snapshot_preview1" "fd_close" (func $param (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_sync" (func $note (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $sched_yield (result i32)))
  (import "wasi_snapshot_preview1" "proc_raise" (func $proc_raise (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello, host\n")
  (func (export "_start")
    (local $mode i32)
    (local.set $mode (call $param (i32.const 0)))
    (if (i32.eq (local.get $mode) (i32.const 1))
      (then (call $proc_exit (call $param (i32.const 1)))))
    (if (i32.eq (local.get $mode) (i32.const 2))
      (then
        (drop (call $poll_oneoff (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $mode) (i32.const 3))
      (then
        (i32.store (i32.const 0) (i32.const 16))
        (i32.store (i32.const 4) (i32.const 12))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (call $proc_exit (i32.load (i32.const 8)))))
    (if (i32.eq (local.get $mode) (i32.const 4))
      (then (drop (call $sched_yield))))
    (if (i32.eq (local.get $mode) (i32.const 5))
      (then (drop (call $proc_raise (i32.const 0)))))
    (if (i32.eq (local.get $mode) (i32.const 6))
      (then (loop $spin (br $spin))))
    (if (i32.eq (local.get $mode) (i32.const 7))
      (then (loop $spin_store
              (i32.store (i32.const 64) (i32.add (i32.load (i32.const 64)) (i32.const 1)))
              (br $spin_store))))
    ;; Every mode that is meant to return reaches this note.
    (drop (call $note (i32.const 1000)))))
