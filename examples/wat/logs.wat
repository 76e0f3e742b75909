;; Writes 10,000 bytes ('o') to stdout in one call, then 10,000 ('e') to stderr in ten calls
;; of 1,000, then exits 0.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $i i32)
    (memory.fill (i32.const 1024) (i32.const 111) (i32.const 10000))
    (i32.store (i32.const 16) (i32.const 1024))
    (i32.store (i32.const 20) (i32.const 10000))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))
    (memory.fill (i32.const 1024) (i32.const 101) (i32.const 1000))
    (i32.store (i32.const 20) (i32.const 1000))
    (loop $more
      (drop (call $fd_write (i32.const 2) (i32.const 16) (i32.const 1) (i32.const 24)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 10))))))
