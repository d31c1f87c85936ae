;; Writes a byte, notes its address (the test host samples memory through the
;; pointers attach_memory gave it), grows memory by two pages, writes the
;; last byte of the grown memory and notes that address too.
(module
  (import "wasi_snapshot_preview1" "fd_sync" (func $note (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store8 (i32.const 100) (i32.const 0xAB))
    (drop (call $note (i32.const 100)))
    (drop (memory.grow (i32.const 2)))
    (i32.store8 (i32.const 196607) (i32.const 0xCD))
    (drop (call $note (i32.const 196607)))))
