;; Tries to get out of its directories: opens ../../etc/passwd from /iexec_in, then writes a
;; file into the read-only /iexec_in. Exits with the first error code WASI returned (it must
;; get one), or 0 if both worked, which the sandbox must never allow.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "../../etc/passwd")
  (data (i32.const 48) "planted")
  (func (export "_start")
    (local $errno i32)
    (local.set $errno (call $path_open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 16)
      (i32.const 0) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) (i32.const 64)))
    (if (local.get $errno) (then (call $proc_exit (local.get $errno))))
    (local.set $errno (call $path_open (i32.const 3) (i32.const 0) (i32.const 48) (i32.const 7)
      (i32.const 9) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) (i32.const 64)))
    (call $proc_exit (local.get $errno))))
