;; Prints its arguments, then its environment, as WASI gives them: each string followed by a
;; NUL byte, the two lists separated by one more NUL.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  ;; Writes `len` bytes at `ptr` to stdout.
  (func $print (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    ;; Counts and sizes at 16/20 (args) and 24/28 (environ); pointers at 1024, strings at 8192
    ;; (args) and 32768 (environ).
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (drop (call $args_get (i32.const 1024) (i32.const 8192)))
    (call $print (i32.const 8192) (i32.load (i32.const 20)))
    (i32.store8 (i32.const 12) (i32.const 0))
    (call $print (i32.const 12) (i32.const 1))
    (drop (call $environ_sizes_get (i32.const 24) (i32.const 28)))
    (drop (call $environ_get (i32.const 4096) (i32.const 32768)))
    (call $print (i32.const 32768) (i32.load (i32.const 28)))))
