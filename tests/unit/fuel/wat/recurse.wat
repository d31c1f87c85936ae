;; Unbounded recursion with no loop: only the function-entry check stops it
;; before the interpreter's call stack runs out.
(module
  (func $recurse (param i32) (result i32)
    local.get 0
    i32.const 1
    i32.add
    call $recurse)
  (func (export "recurse") (result i32)
    i32.const 0
    call $recurse))
