;; An app whose result is for a smart contract: it names callback data (0x04d2, 1234) in
;; /iexec_out/computed.json, which the requester's callback contract receives at finalize.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 200) "computed.json")
  (data (i32.const 300) "{\"callback-data\":\"0x04d2\"}")
  (func (export "_start")
    ;; computed.json, created in /iexec_out (fd 4); its fd lands at 16.
    (drop (call $path_open (i32.const 4) (i32.const 0) (i32.const 200) (i32.const 13)
      (i32.const 9) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) (i32.const 16)))
    (i32.store (i32.const 0) (i32.const 300))
    (i32.store (i32.const 4) (i32.const 26))
    (drop (call $fd_write (i32.load (i32.const 16)) (i32.const 0) (i32.const 1) (i32.const 8)))
    (drop (call $fd_close (i32.load (i32.const 16))))))
