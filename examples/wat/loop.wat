;; Never ends: the sandbox must stop it (fuel, or the wall clock).
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever (br $forever))))
