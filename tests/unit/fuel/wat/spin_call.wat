;; A loop whose only work is a call: calls do not end a segment, so the loop
;; header alone must stop it.
(module
  (func $leaf (result i32) i32.const 1)
  (func (export "spin_call") (local i32)
    loop
      call $leaf
      local.set 0
      br 0
    end))
