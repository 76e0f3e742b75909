;; Tries every way out of its directories it knows, each on its own whatever the others did,
;; and prints one 32-bit little-endian result per try on stdout: the errno WASI returned, or 0
;; if the try worked (which the sandbox must never allow). /iexec_in holds the files `data` and
;; `spare`; the tries that would remove a file come last and each has its own file.
;;  0 open ../../etc/passwd from /iexec_in       7 open ../in/data through a symbolic link
;;  1 open /etc/passwd from /iexec_out           8 set data's times
;;  2 create a file in /iexec_in                 9 truncate data (open, then set its size)
;;  3 create a directory in /iexec_in           10 open .. of /iexec_out
;;  4 write into data (open, then fd_write)     11 accept a connection on /iexec_in
;;  5 hard-link data into /iexec_out            12 delete spare
;;  6 open /etc/passwd through a symbolic link  13 move data into /iexec_out
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_size"
    (func $fd_filestat_set_size (param i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory"
    (func $path_create_directory (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file"
    (func $path_unlink_file (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_rename"
    (func $path_rename (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_link"
    (func $path_link (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink"
    (func $path_symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_set_times"
    (func $path_filestat_set_times (param i32 i32 i32 i32 i64 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept"
    (func $sock_accept (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "../../etc/passwd")
  (data (i32.const 1056) "/etc/passwd")
  (data (i32.const 1072) "planted")
  (data (i32.const 1088) "data")
  (data (i32.const 1096) "stolen")
  (data (i32.const 1104) "linked")
  (data (i32.const 1112) "sym")
  (data (i32.const 1116) "sym2")
  (data (i32.const 1124) "../in/data")
  (data (i32.const 1136) "..")
  (data (i32.const 1140) "spare")
  (data (i32.const 1148) "nest")
  ;; Opens `path` (at `ptr`, `len` bytes) from `dir` with `oflags` and all rights; the fd is
  ;; at 8.
  (func $open (param $dir i32) (param $ptr i32) (param $len i32) (param $oflags i32)
    (result i32)
    (call $path_open (local.get $dir) (i32.const 1) (local.get $ptr) (local.get $len)
      (local.get $oflags) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0)
      (i32.const 8)))
  ;; The result of try `i`.
  (func $report (param $i i32) (param $errno i32)
    (i32.store (i32.add (i32.const 4096) (i32.shl (local.get $i) (i32.const 2)))
      (local.get $errno)))
  (func (export "_start")
    (local $errno i32)
    (call $report (i32.const 0) (call $open (i32.const 3) (i32.const 1024) (i32.const 16)
      (i32.const 0)))
    (call $report (i32.const 1) (call $open (i32.const 4) (i32.const 1056) (i32.const 11)
      (i32.const 0)))
    (call $report (i32.const 2) (call $open (i32.const 3) (i32.const 1072) (i32.const 7)
      (i32.const 1)))
    (call $report (i32.const 3)
      (call $path_create_directory (i32.const 3) (i32.const 1148) (i32.const 4)))
    ;; 4: an open that worked is not yet a write.
    (local.set $errno (call $open (i32.const 3) (i32.const 1088) (i32.const 4) (i32.const 0)))
    (if (i32.eqz (local.get $errno))
      (then
        (i32.store (i32.const 16) (i32.const 1024))
        (i32.store (i32.const 20) (i32.const 4))
        (local.set $errno (call $fd_write (i32.load (i32.const 8)) (i32.const 16)
          (i32.const 1) (i32.const 24)))))
    (call $report (i32.const 4) (local.get $errno))
    (call $report (i32.const 5) (call $path_link (i32.const 3) (i32.const 0) (i32.const 1088)
      (i32.const 4) (i32.const 4) (i32.const 1104) (i32.const 6)))
    ;; 6 and 7: making the link may work; following it must not.
    (drop (call $path_symlink (i32.const 1056) (i32.const 11) (i32.const 4) (i32.const 1112)
      (i32.const 3)))
    (call $report (i32.const 6) (call $open (i32.const 4) (i32.const 1112) (i32.const 3)
      (i32.const 0)))
    (drop (call $path_symlink (i32.const 1124) (i32.const 10) (i32.const 4) (i32.const 1116)
      (i32.const 4)))
    (call $report (i32.const 7) (call $open (i32.const 4) (i32.const 1116) (i32.const 4)
      (i32.const 0)))
    ;; 8: atim and mtim set to 1 (flags ATIM|MTIM).
    (call $report (i32.const 8) (call $path_filestat_set_times (i32.const 3) (i32.const 0)
      (i32.const 1088) (i32.const 4) (i64.const 1) (i64.const 1) (i32.const 5)))
    (local.set $errno (call $open (i32.const 3) (i32.const 1088) (i32.const 4) (i32.const 0)))
    (if (i32.eqz (local.get $errno))
      (then
        (local.set $errno
          (call $fd_filestat_set_size (i32.load (i32.const 8)) (i64.const 0)))))
    (call $report (i32.const 9) (local.get $errno))
    (call $report (i32.const 10) (call $open (i32.const 4) (i32.const 1136) (i32.const 2)
      (i32.const 0)))
    (call $report (i32.const 11)
      (call $sock_accept (i32.const 3) (i32.const 0) (i32.const 8)))
    (call $report (i32.const 12)
      (call $path_unlink_file (i32.const 3) (i32.const 1140) (i32.const 5)))
    (call $report (i32.const 13) (call $path_rename (i32.const 3) (i32.const 1088) (i32.const 4)
      (i32.const 4) (i32.const 1096) (i32.const 6)))
    (i32.store (i32.const 16) (i32.const 4096))
    (i32.store (i32.const 20) (i32.const 56))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))
