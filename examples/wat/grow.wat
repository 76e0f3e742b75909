;; Tries to make /iexec_out hold more than 1 MiB, in the way its argument's first letter names:
;; `w` writes 768 KiB to /iexec_out/big twice; `p` writes one byte at 16 MiB (fd_pwrite);
;; `s` sets big's size to 16 MiB; `l` writes 768 KiB, then links big as big2 (the same bytes
;; under a second name); `u` deletes big, then writes 768 KiB to it twice (a deleted file still
;; takes the disk's space while it is open); `a` asks fd_allocate for 16 MiB and exits with its
;; errno. Exits 0 if nothing stopped it.
(module
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite"
    (func $fd_pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_size"
    (func $fd_filestat_set_size (param i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "path_link"
    (func $path_link (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file"
    (func $path_unlink_file (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_allocate"
    (func $fd_allocate (param i32 i64 i64) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 16)
  (data (i32.const 1024) "big")
  (data (i32.const 1040) "big2")
  (func (export "_start")
    (local $mode i32)
    (local $fd i32)
    ;; argv at 16, its strings at 256: the mode is argv[1]'s first byte.
    (drop (call $args_get (i32.const 16) (i32.const 256)))
    (local.set $mode (i32.load8_u (i32.load (i32.const 20))))
    ;; fd 4 is /iexec_out; O_CREAT|O_TRUNC; all rights.
    (drop (call $path_open (i32.const 4) (i32.const 0) (i32.const 1024) (i32.const 3)
      (i32.const 9) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) (i32.const 8)))
    (local.set $fd (i32.load (i32.const 8)))
    ;; One iovec at 32: 768 KiB from 65536.
    (i32.store (i32.const 32) (i32.const 65536))
    (i32.store (i32.const 36) (i32.const 786432))
    (if (i32.eq (local.get $mode) (i32.const 119)) ;; w
      (then
        (drop (call $fd_write (local.get $fd) (i32.const 32) (i32.const 1) (i32.const 40)))
        (drop (call $fd_write (local.get $fd) (i32.const 32) (i32.const 1) (i32.const 40)))))
    (if (i32.eq (local.get $mode) (i32.const 112)) ;; p
      (then
        (i32.store (i32.const 36) (i32.const 1))
        (drop (call $fd_pwrite (local.get $fd) (i32.const 32) (i32.const 1)
          (i64.const 16777216) (i32.const 40)))))
    (if (i32.eq (local.get $mode) (i32.const 115)) ;; s
      (then
        (drop (call $fd_filestat_set_size (local.get $fd) (i64.const 16777216)))))
    (if (i32.eq (local.get $mode) (i32.const 97)) ;; a
      (then
        (call $proc_exit
          (call $fd_allocate (local.get $fd) (i64.const 0) (i64.const 16777216)))))
    (if (i32.eq (local.get $mode) (i32.const 117)) ;; u
      (then
        (drop (call $path_unlink_file (i32.const 4) (i32.const 1024) (i32.const 3)))
        (drop (call $fd_write (local.get $fd) (i32.const 32) (i32.const 1) (i32.const 40)))
        (drop (call $fd_write (local.get $fd) (i32.const 32) (i32.const 1) (i32.const 40)))))
    (if (i32.eq (local.get $mode) (i32.const 108)) ;; l
      (then
        (drop (call $fd_write (local.get $fd) (i32.const 32) (i32.const 1) (i32.const 40)))
        (drop (call $path_link (i32.const 4) (i32.const 0) (i32.const 1024) (i32.const 3)
          (i32.const 4) (i32.const 1040) (i32.const 4)))))))
