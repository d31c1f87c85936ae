;; Never terminates unless metered.
(module
  (func (export "spin")
    loop
      br 0
    end))
