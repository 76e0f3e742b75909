;; Makes 1,000 empty entries in /iexec_out, of the kind its argument's first letter names:
;; `d` directories, `f` files, `s` symbolic links (to "x"). Names are three letters a-p.
;; Exits 0 if nothing stopped it.
(module
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory"
    (func $path_create_directory (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink"
    (func $path_symlink (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1040) "x")
  (func $letter (param $i i32) (param $shift i32) (result i32)
    (i32.add (i32.const 97)
      (i32.and (i32.shr_u (local.get $i) (local.get $shift)) (i32.const 15))))
  (func (export "_start")
    (local $mode i32)
    (local $i i32)
    (drop (call $args_get (i32.const 16) (i32.const 256)))
    (local.set $mode (i32.load8_u (i32.load (i32.const 20))))
    (loop $more
      ;; The name at 1024.
      (i32.store8 (i32.const 1024) (call $letter (local.get $i) (i32.const 8)))
      (i32.store8 (i32.const 1025) (call $letter (local.get $i) (i32.const 4)))
      (i32.store8 (i32.const 1026) (call $letter (local.get $i) (i32.const 0)))
      (if (i32.eq (local.get $mode) (i32.const 100)) ;; d
        (then
          (drop (call $path_create_directory (i32.const 4) (i32.const 1024) (i32.const 3)))))
      (if (i32.eq (local.get $mode) (i32.const 102)) ;; f
        (then
          (if (i32.eqz (call $path_open (i32.const 4) (i32.const 0) (i32.const 1024)
                (i32.const 3) (i32.const 1) (i64.const 0x1fffffff) (i64.const 0x1fffffff)
                (i32.const 0) (i32.const 8)))
            (then (drop (call $fd_close (i32.load (i32.const 8))))))))
      (if (i32.eq (local.get $mode) (i32.const 115)) ;; s
        (then
          (drop (call $path_symlink (i32.const 1040) (i32.const 1) (i32.const 4)
            (i32.const 1024) (i32.const 3)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 1000))))))
