;; Prints the bits of a NaN computed at run time (0/0 and sqrt(-1), as f32 and f64): the
;; sandbox canonicalizes NaNs, so they are the same on every machine.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $zero (result f64) (f64.const 0))
  (func (export "_start")
    (f64.store (i32.const 100) (f64.div (call $zero) (call $zero)))
    (f64.store (i32.const 108) (f64.sqrt (f64.const -1)))
    (f32.store (i32.const 116) (f32.demote_f64 (f64.div (call $zero) (call $zero))))
    (f32.store (i32.const 120) (f32.neg (f32.demote_f64 (f64.div (call $zero) (call $zero)))))
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 24))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
