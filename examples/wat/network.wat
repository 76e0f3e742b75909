;; Tries the network: WASI preview 1 only has sockets the host preopened, and the sandbox
;; preopens none. Accepts on every descriptor from 0 to 9 and exits 0 only if one worked.
(module
  (import "wasi_snapshot_preview1" "sock_accept" (func $sock_accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $fd i32)
    (loop $next
      (if (i32.eqz (call $sock_accept (local.get $fd) (i32.const 0) (i32.const 16)))
        (then (call $proc_exit (i32.const 0))))
      (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $fd) (i32.const 10))))
    (call $proc_exit (i32.const 1))))
