;; A loop with no calls that never ends. It sets the interrupt global itself
;; (global 1 after the pass; assembled with `wat2wasm --no-check`), standing
;; in for the host's timer, after its entry check has passed: the loop
;; header's check must stop it on the first round. Entry costs 2 (const,
;; global.set; loop is free), the header 1 (br).
(module
  (func (export "spin_interrupted")
    i32.const 1
    global.set 1
    loop
      br 0
    end))
