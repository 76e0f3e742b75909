;; Writes 64 KiB blocks to /iexec_out/big forever.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "big")
  (func (export "_start")
    ;; fd 4 is /iexec_out (fd 3 is /iexec_in); O_CREAT|O_TRUNC; all rights.
    (drop (call $path_open (i32.const 4) (i32.const 0) (i32.const 16) (i32.const 3)
      (i32.const 9) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) (i32.const 32)))
    ;; One iovec at 64: the 64 KiB from 65536.
    (i32.store (i32.const 64) (i32.const 65536))
    (i32.store (i32.const 68) (i32.const 65536))
    (loop $more
      (drop (call $fd_write (i32.load (i32.const 32)) (i32.const 64) (i32.const 1) (i32.const 80)))
      (br $more))))
