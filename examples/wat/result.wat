;; A well-behaved app in a few instructions: writes "42\n" to /iexec_out/result.txt and names
;; it in /iexec_out/computed.json.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "result.txt")
  (data (i32.const 120) "42\n")
  (data (i32.const 200) "computed.json")
  (data (i32.const 300) "{\"deterministic-output-path\":\"/iexec_out/result.txt\"}")
  ;; Writes `len` bytes at `data` to the new file `name` (`name_len` bytes) in /iexec_out (fd 4).
  (func $write_file (param $name i32) (param $name_len i32) (param $data i32) (param $len i32)
    (drop (call $path_open (i32.const 4) (i32.const 0) (local.get $name) (local.get $name_len)
      (i32.const 9) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) (i32.const 16)))
    (i32.store (i32.const 0) (local.get $data))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.load (i32.const 16)) (i32.const 0) (i32.const 1) (i32.const 8)))
    (drop (call $fd_close (i32.load (i32.const 16)))))
  (func (export "_start")
    (call $write_file (i32.const 100) (i32.const 10) (i32.const 120) (i32.const 3))
    (call $write_file (i32.const 200) (i32.const 13) (i32.const 300) (i32.const 53))))
