;; Prints what it gets from the clocks and the random generator: the realtime clock twice,
;; the monotonic clock, then 16 random bytes, as raw bytes on stdout (8 + 8 + 8 + 16 = 40).
(module
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get"
    (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 104)))
    (drop (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 112)))
    (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 120)))
    (drop (call $random_get (i32.const 128) (i32.const 16)))
    (i32.store (i32.const 0) (i32.const 104))
    (i32.store (i32.const 4) (i32.const 40))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
