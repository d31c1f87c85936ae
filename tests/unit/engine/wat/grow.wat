;; One page of memory and no declared maximum. Grows by param(0) pages until
;; memory.grow returns -1, touching the last byte after every success; notes
;; the final memory.size and exits with the number of successful grows.
(module
  (import "wasi_snapshot_preview1" "fd_close" (func $param (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_sync" (func $note (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $delta i32) (local $grows i32)
    (local.set $delta (call $param (i32.const 0)))
    (block $refused
      (loop $more
        (br_if $refused (i32.eq (memory.grow (local.get $delta)) (i32.const -1)))
        (i32.store8 (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 1))
                    (i32.const 1))
        (local.set $grows (i32.add (local.get $grows) (i32.const 1)))
        (br $more)))
    (drop (call $note (memory.size)))
    (call $proc_exit (local.get $grows))))
