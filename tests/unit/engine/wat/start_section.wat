;; A module with a wasm start function (run at instantiation) as well as the
;; WASI _start export. _start notes what the start function stored.
(module
  (import "wasi_snapshot_preview1" "fd_sync" (func $note (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $started (mut i32) (i32.const 0))
  (func $init (global.set $started (i32.const 41)))
  (start $init)
  (func (export "_start")
    (drop (call $note (global.get $started)))))
