;; Sleeps in poll_oneoff on the monotonic clock: 20 s, or u64::MAX nanoseconds if it is given
;; an argument. Then prints the monotonic clock (8 raw bytes on stdout). Exits with the errno
;; of poll_oneoff if it failed.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $errno i32)
    ;; argc at 0 (the program name counts).
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    ;; The subscription at 64: userdata 7, tag 0 (clock), clock 1 (monotonic), the timeout,
    ;; precision 0, flags 0 (relative).
    (i64.store (i32.const 64) (i64.const 7))
    (i32.store8 (i32.const 72) (i32.const 0))
    (i32.store (i32.const 80) (i32.const 1))
    (i64.store (i32.const 88)
      (select (i64.const -1) (i64.const 20_000_000_000)
        (i32.gt_u (i32.load (i32.const 0)) (i32.const 1))))
    ;; The event at 128, the number of events at 8.
    (local.set $errno
      (call $poll_oneoff (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 8)))
    (if (local.get $errno) (then (call $proc_exit (local.get $errno))))
    (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 16)))
    (i32.store (i32.const 24) (i32.const 16))
    (i32.store (i32.const 28) (i32.const 8))
    (drop (call $fd_write (i32.const 1) (i32.const 24) (i32.const 1) (i32.const 32)))))
