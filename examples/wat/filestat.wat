;; Prints what the sandbox says of files (raw bytes on stdout, 772 in all): the filestat of
;; /iexec_out/f (created and written 5 bytes), of /iexec_in/data, of /iexec_out, of
;; /iexec_out/d (a directory it creates), 64 bytes each; then fd_readdir of /iexec_out after it
;; also creates b and a: the bytes used (4) and a 512-byte buffer.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_get"
    (func $fd_filestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get"
    (func $path_filestat_get (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory"
    (func $path_create_directory (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_readdir"
    (func $fd_readdir (param i32 i32 i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "f")
  (data (i32.const 1028) "data")
  (data (i32.const 1036) "d")
  (data (i32.const 1040) "b")
  (data (i32.const 1044) "a")
  (data (i32.const 1048) "hello")
  (func $create (param $name i32) (result i32)
    (drop (call $path_open (i32.const 4) (i32.const 0) (local.get $name) (i32.const 1)
      (i32.const 1) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) (i32.const 8)))
    (i32.load (i32.const 8)))
  (func (export "_start")
    (local $fd i32)
    (local.set $fd (call $create (i32.const 1024)))
    (i32.store (i32.const 16) (i32.const 1048))
    (i32.store (i32.const 20) (i32.const 5))
    (drop (call $fd_write (local.get $fd) (i32.const 16) (i32.const 1) (i32.const 24)))
    (drop (call $fd_filestat_get (local.get $fd) (i32.const 4096)))
    (drop (call $path_filestat_get (i32.const 3) (i32.const 0) (i32.const 1028) (i32.const 4)
      (i32.const 4160)))
    (drop (call $fd_filestat_get (i32.const 4) (i32.const 4224)))
    (drop (call $path_create_directory (i32.const 4) (i32.const 1036) (i32.const 1)))
    (drop (call $path_filestat_get (i32.const 4) (i32.const 0) (i32.const 1036) (i32.const 1)
      (i32.const 4288)))
    (drop (call $create (i32.const 1040)))
    (drop (call $create (i32.const 1044)))
    (drop (call $fd_readdir (i32.const 4) (i32.const 4356) (i32.const 512) (i64.const 0)
      (i32.const 4352)))
    (i32.store (i32.const 16) (i32.const 4096))
    (i32.store (i32.const 20) (i32.const 772))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))
