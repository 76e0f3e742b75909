//! The WASI preview 1 calls that the sandbox does not leave to wasmtime-wasi as they are. Each
//! is defined over wasmtime-wasi's own (`Linker::allow_shadowing`) with the same signature,
//! checks or answers what it must, and hands the real work to wasmtime-wasi's implementation
//! (the functions `wasmtime_wasi::p1::wasi_snapshot_preview1::*` that its linker calls):
//!
//! - **Nothing waits.** `poll_oneoff` never blocks: a clock subscription moves the task's
//!   clocks forward by the time it would wait ([`TaskClock::sleep`]) and fires at once, and a
//!   file descriptor is ready at once (every descriptor an app has is a file, a directory, an
//!   empty stdin or a log in memory). `fd_read` on stdin reads end of file. So no WASI call can
//!   outwait the wall clock, which only instructions then use up.
//! - **The output caps are checked at the call, before it is done.** Every call that can make
//!   `/iexec_out` hold more bytes or more entries (`fd_write`, `fd_pwrite`,
//!   `fd_filestat_set_size`, `path_open` with `O_CREAT`, `path_create_directory`,
//!   `path_symlink`, `path_link`) is charged what it can add at most; a call that would go over
//!   a cap stops the app before anything is written. (`fd_allocate` is refused by wasmtime-wasi;
//!   renames, unlinks and truncations add nothing.) What the directory holds is counted as the
//!   lengths of its files and links, one per name, with the files deleted while still open
//!   (they take the disk's space until closed), and its entries; the running count is an
//!   upper bound that is set to the exact count (a walk of the directory, and a look at the
//!   descriptors `path_open` gave and `fd_close` did not take back) when a call would go over
//!   a cap, so that only a call that really goes over is stopped.
//! - **File metadata comes from the task.** `fd_filestat_get` and `path_filestat_get` give
//!   every file the deal's start as its access, modification and change time, inode numbers
//!   counted from 1 in the order the app first sees the files, and directories a size of 0 and
//!   one link; `fd_readdir` lists `.`, `..`, then the entries in byte order of their names, with
//!   the same inode numbers.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
};

use wasmtime::{AsContextMut, Caller, Extern, Linker};
use wasmtime_wasi::{
    p1::{
        WasiP1Ctx, types,
        wasi_snapshot_preview1::{self as p1, WasiSnapshotPreview1},
    },
    runtime::in_tokio,
};
use wiggle::GuestMemory;

use crate::{
    determinism::{TaskClock, nanos},
    sandbox::{Host, Stop},
};

const MODULE: &str = "wasi_snapshot_preview1";

/// WASI's `filetype` of a directory.
const DIRECTORY: u8 = 3;

/// Sizes of WASI's structures in memory.
const FILESTAT: usize = 64;
const SUBSCRIPTION: usize = 48;
const EVENT: usize = 32;
const DIRENT: usize = 24;

/// The largest listing of one directory `fd_readdir` reads (an app makes at most
/// [`Limits::entries`](crate::Limits::entries) entries, with names of at most 255 bytes).
const MAX_LISTING: usize = 256 << 20;

fn errno(code: types::Errno) -> i32 {
    code as i32
}

/// What `/iexec_out` holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    /// The lengths of its files and symbolic links, once per name.
    pub(crate) bytes: u64,
    /// Its files, directories and links, at every depth.
    pub(crate) entries: u64,
}

/// What `dir` holds: an error if some part of it cannot be read (then it is not known).
pub(crate) fn usage(dir: &Path) -> std::io::Result<Usage> {
    let mut usage = Usage::default();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            usage.entries += 1;
            // The entry's own metadata: a symbolic link is not followed.
            let metadata = entry.metadata()?;
            if metadata.is_dir() {
                pending.push(entry.path());
            } else {
                usage.bytes = usage.bytes.saturating_add(metadata.len());
            }
        }
    }
    Ok(usage)
}

/// The state of the shims for one run.
#[derive(Debug)]
pub(crate) struct Guard {
    output_dir: PathBuf,
    output_limit: u64,
    entries_limit: u64,
    /// An upper bound of what the output directory holds, with the files deleted while
    /// open (they still take the disk's space).
    held: Usage,
    /// The descriptors `path_open` gave the app that it has not closed.
    opened: HashSet<u32>,
    /// The inode number given to each file, by wasmtime-wasi's inode number of it.
    inodes: HashMap<u64, u64>,
    /// The files' times, in nanoseconds since the Unix epoch.
    file_time: u64,
    wall: TaskClock,
    monotonic: TaskClock,
}

impl Guard {
    /// The guard of a run whose output directory is `output_dir`, with what it holds now.
    pub(crate) fn new(
        output_dir: &Path,
        output_limit: u64,
        entries_limit: u64,
        wall: TaskClock,
        monotonic: TaskClock,
    ) -> std::io::Result<Self> {
        Ok(Self {
            held: usage(output_dir)?,
            opened: HashSet::new(),
            output_dir: output_dir.to_path_buf(),
            output_limit,
            entries_limit,
            inodes: HashMap::new(),
            file_time: nanos(wall.peek()),
            wall,
            monotonic,
        })
    }

    /// Takes `bytes` and `entries` more in the output directory, or says which cap that would
    /// go over; `unlinked` gives the bytes of the open files that no name leads to.
    fn charge(
        &mut self,
        bytes: u64,
        entries: u64,
        unlinked: impl FnOnce() -> u64,
    ) -> Result<(), Stop> {
        let (output_limit, entries_limit) = (self.output_limit, self.entries_limit);
        let fits = |held: Usage| {
            (
                held.bytes.saturating_add(bytes) <= output_limit,
                held.entries.saturating_add(entries) <= entries_limit,
            )
        };
        if fits(self.held) != (true, true) {
            // The bound may be loose (overwrites, deletions): count exactly, the directory and
            // the files deleted while open. A directory that cannot be walked whole keeps the
            // bound.
            if let Ok(exact) = usage(&self.output_dir) {
                self.held = Usage {
                    bytes: exact.bytes.saturating_add(unlinked()),
                    entries: exact.entries,
                };
            }
            match fits(self.held) {
                (false, _) => {
                    return Err(Stop::OutputTooLarge {
                        limit: output_limit,
                    });
                }
                (_, false) => {
                    return Err(Stop::TooManyEntries {
                        limit: entries_limit,
                    });
                }
                (true, true) => {}
            }
        }
        self.held.bytes = self.held.bytes.saturating_add(bytes);
        self.held.entries = self.held.entries.saturating_add(entries);
        Ok(())
    }

    /// The inode number the app sees for the file wasmtime-wasi numbers `host`.
    fn inode(&mut self, host: u64) -> u64 {
        let next = self.inodes.len() as u64 + 1;
        *self.inodes.entry(host).or_insert(next)
    }
}

/// Defines the shims in `linker`, over the WASI functions already there.
pub(crate) fn add_to_linker(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.func_wrap(MODULE, "poll_oneoff", poll_oneoff)?;
    linker.func_wrap(
        MODULE,
        "fd_write",
        |mut caller: Caller<'_, Host>, fd: i32, iovs: i32, iovs_len: i32, nwritten: i32| {
            with_memory(&mut caller, |host, data| {
                if let Some(len) = iovecs_len(data, iovs, iovs_len) {
                    charge_write(host, data, fd, len, None)?;
                }
                in_tokio(p1::fd_write(
                    &mut host.wasi,
                    &mut GuestMemory::Unshared(data),
                    fd,
                    iovs,
                    iovs_len,
                    nwritten,
                ))
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_pwrite",
        |mut caller: Caller<'_, Host>,
         fd: i32,
         iovs: i32,
         iovs_len: i32,
         offset: i64,
         nwritten: i32| {
            with_memory(&mut caller, |host, data| {
                if let Some(len) = iovecs_len(data, iovs, iovs_len) {
                    charge_write(host, data, fd, len, Some(offset as u64))?;
                }
                in_tokio(p1::fd_pwrite(
                    &mut host.wasi,
                    &mut GuestMemory::Unshared(data),
                    fd,
                    iovs,
                    iovs_len,
                    offset,
                    nwritten,
                ))
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_filestat_set_size",
        |mut caller: Caller<'_, Host>, fd: i32, size: i64| {
            with_memory(&mut caller, |host, data| {
                if let Some((stat, _)) = writable_file(host, data, fd) {
                    let growth = (size as u64).saturating_sub(stat.size);
                    charge(host, data, growth.saturating_mul(stat.nlink.max(1)), 0)?;
                }
                in_tokio(p1::fd_filestat_set_size(
                    &mut host.wasi,
                    &mut GuestMemory::Unshared(data),
                    fd,
                    size,
                ))
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_open",
        |mut caller: Caller<'_, Host>,
         fd: i32,
         dirflags: i32,
         path: i32,
         path_len: i32,
         oflags: i32,
         rights_base: i64,
         rights_inheriting: i64,
         fdflags: i32,
         opened: i32| {
            with_memory(&mut caller, |host, data| {
                if types::Oflags::from_bits_truncate(oflags as u16).contains(types::Oflags::CREAT) {
                    charge(host, data, 0, 1)?;
                }
                let code = in_tokio(p1::path_open(
                    &mut host.wasi,
                    &mut GuestMemory::Unshared(data),
                    fd,
                    dirflags,
                    path,
                    path_len,
                    oflags,
                    rights_base,
                    rights_inheriting,
                    fdflags,
                    opened,
                ))?;
                if code == 0 {
                    let at = opened as u32 as usize;
                    if let Some(fd) = data.get(at..at.saturating_add(4)) {
                        host.guard.opened.insert(read_u32(fd, 0));
                    }
                }
                Ok(code)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_create_directory",
        |mut caller: Caller<'_, Host>, fd: i32, path: i32, path_len: i32| {
            with_memory(&mut caller, |host, data| {
                charge(host, data, 0, 1)?;
                in_tokio(p1::path_create_directory(
                    &mut host.wasi,
                    &mut GuestMemory::Unshared(data),
                    fd,
                    path,
                    path_len,
                ))
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_symlink",
        |mut caller: Caller<'_, Host>,
         target: i32,
         target_len: i32,
         fd: i32,
         path: i32,
         path_len: i32| {
            with_memory(&mut caller, |host, data| {
                // A link holds its target's bytes.
                charge(host, data, u64::from(target_len as u32), 1)?;
                in_tokio(p1::path_symlink(
                    &mut host.wasi,
                    &mut GuestMemory::Unshared(data),
                    target,
                    target_len,
                    fd,
                    path,
                    path_len,
                ))
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_link",
        |mut caller: Caller<'_, Host>,
         old_fd: i32,
         old_flags: i32,
         old_path: i32,
         old_path_len: i32,
         new_fd: i32,
         new_path: i32,
         new_path_len: i32| {
            with_memory(&mut caller, |host, data| {
                // A new name of a file holds the file's bytes once more.
                let size = in_tokio(host.wasi.path_filestat_get(
                    &mut GuestMemory::Unshared(data),
                    types::Fd::from(old_fd as u32),
                    types::Lookupflags::from_bits_truncate(old_flags as u32),
                    wiggle::GuestPtr::new((old_path as u32, old_path_len as u32)),
                ))
                .map(|stat| stat.size)
                .unwrap_or(0);
                charge(host, data, size, 1)?;
                in_tokio(p1::path_link(
                    &mut host.wasi,
                    &mut GuestMemory::Unshared(data),
                    old_fd,
                    old_flags,
                    old_path,
                    old_path_len,
                    new_fd,
                    new_path,
                    new_path_len,
                ))
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_filestat_get",
        |mut caller: Caller<'_, Host>, fd: i32, buf: i32| {
            with_memory(&mut caller, |host, data| {
                let code = in_tokio(p1::fd_filestat_get(
                    &mut host.wasi,
                    &mut GuestMemory::Unshared(data),
                    fd,
                    buf,
                ))?;
                if code == 0 {
                    task_filestat(&mut host.guard, data, buf);
                }
                Ok(code)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_filestat_get",
        |mut caller: Caller<'_, Host>, fd: i32, flags: i32, path: i32, path_len: i32, buf: i32| {
            with_memory(&mut caller, |host, data| {
                let code = in_tokio(p1::path_filestat_get(
                    &mut host.wasi,
                    &mut GuestMemory::Unshared(data),
                    fd,
                    flags,
                    path,
                    path_len,
                    buf,
                ))?;
                if code == 0 {
                    task_filestat(&mut host.guard, data, buf);
                }
                Ok(code)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_renumber",
        |mut caller: Caller<'_, Host>, from: i32, to: i32| {
            with_memory(&mut caller, |host, data| {
                let code = in_tokio(p1::fd_renumber(
                    &mut host.wasi,
                    &mut GuestMemory::Unshared(data),
                    from,
                    to,
                ))?;
                if code == 0 && host.guard.opened.remove(&(from as u32)) {
                    host.guard.opened.insert(to as u32);
                }
                Ok(code)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_close",
        |mut caller: Caller<'_, Host>, fd: i32| {
            with_memory(&mut caller, |host, data| {
                let code = in_tokio(p1::fd_close(
                    &mut host.wasi,
                    &mut GuestMemory::Unshared(data),
                    fd,
                ))?;
                if code == 0 {
                    host.guard.opened.remove(&(fd as u32));
                }
                Ok(code)
            })
        },
    )?;
    linker.func_wrap(MODULE, "fd_readdir", fd_readdir)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Runs `f` with the store's state and the app's memory, as wasmtime-wasi's glue does.
fn with_memory<R>(
    caller: &mut Caller<'_, Host>,
    f: impl FnOnce(&mut Host, &mut [u8]) -> wasmtime::Result<R>,
) -> wasmtime::Result<R> {
    let fuel = caller.as_context_mut().hostcall_fuel();
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Err(wasmtime::Error::msg("missing required memory export"));
    };
    let (data, host) = memory.data_and_store_mut(caller);
    host.wasi.set_hostcall_fuel(fuel);
    f(host, data)
}

/// Takes `bytes` and `entries` more in the output directory, or stops the app.
fn charge(host: &mut Host, data: &mut [u8], bytes: u64, entries: u64) -> wasmtime::Result<()> {
    let (wasi, guard) = (&mut host.wasi, &mut host.guard);
    let opened: Vec<u32> = guard.opened.iter().copied().collect();
    let charged = guard.charge(bytes, entries, || unlinked_bytes(wasi, data, &opened));
    charged.map_err(|stop| {
        let error = wasmtime::Error::msg(stop.to_string());
        host.stopped = Some(stop);
        error
    })
}

/// The lengths of the regular files open at `fds` that no name leads to (deleted while
/// open): a walk of the directory does not see them.
fn unlinked_bytes(wasi: &mut WasiP1Ctx, data: &mut [u8], fds: &[u32]) -> u64 {
    fds.iter()
        .filter_map(|&fd| {
            in_tokio(wasi.fd_filestat_get(&mut GuestMemory::Unshared(data), types::Fd::from(fd)))
                .ok()
        })
        .filter(|stat| stat.filetype == types::Filetype::RegularFile && stat.nlink == 0)
        .fold(0, |bytes, stat| bytes.saturating_add(stat.size))
}

/// Charges a write of `len` bytes to `fd`, at `offset` or at its position: what it can make
/// the file grow, once per name of the file.
fn charge_write(
    host: &mut Host,
    data: &mut [u8],
    fd: i32,
    len: u64,
    offset: Option<u64>,
) -> wasmtime::Result<()> {
    let Some((stat, append)) = writable_file(host, data, fd) else {
        return Ok(());
    };
    let growth = if append {
        len
    } else {
        let at = match offset {
            Some(offset) => offset,
            // (A regular file always has a position; without one, the end.)
            None => host
                .wasi
                .fd_tell(&mut GuestMemory::Unshared(data), types::Fd::from(fd as u32))
                .unwrap_or(stat.size),
        };
        at.saturating_add(len).saturating_sub(stat.size)
    };
    charge(host, data, growth.saturating_mul(stat.nlink.max(1)), 0)
}

/// The metadata of `fd` and whether it appends, if it is a regular file (a write to anything
/// else does not reach the disk, or fails).
fn writable_file(host: &mut Host, data: &mut [u8], fd: i32) -> Option<(types::Filestat, bool)> {
    let fd = types::Fd::from(fd as u32);
    let fdstat = in_tokio(
        host.wasi
            .fd_fdstat_get(&mut GuestMemory::Unshared(data), fd),
    )
    .ok()?;
    if fdstat.fs_filetype != types::Filetype::RegularFile {
        return None;
    }
    let stat = in_tokio(
        host.wasi
            .fd_filestat_get(&mut GuestMemory::Unshared(data), fd),
    )
    .ok()?;
    Some((stat, fdstat.fs_flags.contains(types::Fdflags::APPEND)))
}

/// The bytes the iovecs at `iovs` name, if they are in memory (else the call fails anyway).
fn iovecs_len(data: &[u8], iovs: i32, count: i32) -> Option<u64> {
    let start = iovs as u32 as usize;
    let end = start.checked_add((count as u32 as usize).checked_mul(8)?)?;
    let iovecs = data.get(start..end)?;
    Some(
        iovecs
            .chunks_exact(8)
            .map(|iovec| u64::from(read_u32(iovec, 4)))
            .sum(),
    )
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn write_u64(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// Rewrites the filestat wasmtime-wasi wrote at `buf` with the task's metadata.
fn task_filestat(guard: &mut Guard, data: &mut [u8], buf: i32) {
    let start = buf as u32 as usize;
    let Some(stat) = data.get_mut(start..start.saturating_add(FILESTAT)) else {
        return;
    };
    let (dev, ino) = (read_u64(stat, 0), read_u64(stat, 8));
    if dev == 0 && ino == 0 {
        // stdin, stdout, stderr: wasmtime-wasi gives zeros, which depend on nothing.
        return;
    }
    write_u64(stat, 0, 1);
    write_u64(stat, 8, guard.inode(ino));
    if stat[16] == DIRECTORY {
        // Directory sizes and link counts differ between file systems.
        write_u64(stat, 24, 1);
        write_u64(stat, 32, 0);
    }
    for at in [40, 48, 56] {
        write_u64(stat, at, guard.file_time);
    }
}

/// `poll_oneoff`, answered without waiting (see the module's documentation).
fn poll_oneoff(
    mut caller: Caller<'_, Host>,
    subscriptions: i32,
    events: i32,
    count: i32,
    nevents: i32,
) -> wasmtime::Result<i32> {
    with_memory(&mut caller, |host, data| {
        let count = count as u32 as usize;
        if count == 0 {
            return Ok(errno(types::Errno::Inval));
        }
        let span = |at: i32, size: usize| {
            let start = at as u32 as usize;
            let end = start.checked_add(count.checked_mul(size)?)?;
            (end <= data.len()).then_some(start)
        };
        let (Some(subscriptions), Some(events), Some(nevents)) = (
            span(subscriptions, SUBSCRIPTION),
            span(events, EVENT),
            (nevents as u32 as usize)
                .checked_add(4)
                .filter(|end| *end <= data.len())
                .map(|end| end - 4),
        ) else {
            return Ok(errno(types::Errno::Fault));
        };
        /// What one subscription waits for.
        enum Wait {
            /// This many nanoseconds of the task's clocks.
            Clock(u64),
            /// A descriptor, ready at once: the event's flags.
            Fd(u8, u16),
        }
        let mut waits = Vec::with_capacity(count);
        for i in 0..count {
            let sub = &data[subscriptions + i * SUBSCRIPTION..][..SUBSCRIPTION];
            let wait = match sub[8] {
                0 => {
                    let (id, timeout) = (read_u32(sub, 16), read_u64(sub, 24));
                    let absolute = sub[40] & 1 != 0;
                    let now = match id {
                        0 => nanos(host.guard.wall.peek()),
                        1 => nanos(host.guard.monotonic.peek()),
                        _ => return Ok(errno(types::Errno::Inval)),
                    };
                    Wait::Clock(if absolute {
                        timeout.saturating_sub(now)
                    } else {
                        timeout
                    })
                }
                kind @ (1 | 2) => {
                    let fd = read_u32(sub, 16);
                    match fd_event_flags(host, data, fd, kind == 1)? {
                        Ok(flags) => Wait::Fd(kind, flags),
                        Err(code) => return Ok(code),
                    }
                }
                _ => return Ok(errno(types::Errno::Inval)),
            };
            waits.push(wait);
        }
        // A ready descriptor ends the wait at once; else the clocks move to the first timeout.
        let any_fd = waits.iter().any(|wait| matches!(wait, Wait::Fd(..)));
        let first = waits
            .iter()
            .filter_map(|wait| match wait {
                Wait::Clock(nanos) => Some(*nanos),
                Wait::Fd(..) => None,
            })
            .min();
        let fires = if any_fd { 0 } else { first.unwrap_or(0) };
        host.guard.wall.sleep(fires);
        let mut written = 0;
        for (i, wait) in waits.iter().enumerate() {
            let (kind, flags) = match *wait {
                Wait::Clock(nanos) if nanos <= fires => (0, 0),
                Wait::Clock(_) => continue,
                Wait::Fd(kind, flags) => (kind, flags),
            };
            let userdata = read_u64(data, subscriptions + i * SUBSCRIPTION);
            let event = &mut data[events + written * EVENT..][..EVENT];
            event.fill(0);
            write_u64(event, 0, userdata);
            event[10] = kind;
            write_u64(event, 16, u64::from(kind != 0));
            event[24..26].copy_from_slice(&flags.to_le_bytes());
            written += 1;
        }
        data[nevents..nevents + 4].copy_from_slice(&(written as u32).to_le_bytes());
        Ok(0)
    })
}

/// The flags of the event of a read (or write) subscription on `fd`, which is ready at once,
/// or the error of the whole call (a descriptor that is not there or a directory).
fn fd_event_flags(
    host: &mut Host,
    data: &mut [u8],
    fd: u32,
    read: bool,
) -> wasmtime::Result<Result<u16, i32>> {
    let fd = types::Fd::from(fd);
    let fdstat = match in_tokio(
        host.wasi
            .fd_fdstat_get(&mut GuestMemory::Unshared(data), fd),
    ) {
        Ok(fdstat) => fdstat,
        Err(error) => return Ok(Err(errno(error.downcast()?))),
    };
    match fdstat.fs_filetype {
        types::Filetype::Directory => Ok(Err(errno(types::Errno::Badf))),
        types::Filetype::RegularFile if read => {
            // At the end of the file: hang-up, as wasmtime-wasi says.
            let stat = in_tokio(
                host.wasi
                    .fd_filestat_get(&mut GuestMemory::Unshared(data), fd),
            );
            let position = host.wasi.fd_tell(&mut GuestMemory::Unshared(data), fd);
            let at_end =
                matches!((stat, position), (Ok(stat), Ok(position)) if position >= stat.size);
            Ok(Ok(if at_end {
                types::Eventrwflags::FD_READWRITE_HANGUP.bits()
            } else {
                0
            }))
        }
        _ => Ok(Ok(0)),
    }
}

/// `fd_readdir`: wasmtime-wasi's listing, in byte order of the names after `.` and `..`, with
/// the task's inode numbers.
fn fd_readdir(
    mut caller: Caller<'_, Host>,
    fd: i32,
    buf: i32,
    buf_len: i32,
    cookie: i64,
    bufused: i32,
) -> wasmtime::Result<i32> {
    with_memory(&mut caller, |host, data| {
        let (buf, buf_len) = (buf as u32 as usize, buf_len as u32 as usize);
        let bufused = bufused as u32 as usize;
        if buf.saturating_add(buf_len) > data.len() || bufused.saturating_add(4) > data.len() {
            return Ok(errno(types::Errno::Fault));
        }
        // The whole listing, into memory of the host's.
        let mut size = 64 << 10;
        let listing = loop {
            let mut scratch = vec![0; 8 + size];
            let code = in_tokio(p1::fd_readdir(
                &mut host.wasi,
                &mut GuestMemory::Unshared(&mut scratch),
                fd,
                8,
                size as i32,
                0,
                0,
            ))?;
            if code != 0 {
                return Ok(code);
            }
            let used = read_u32(&scratch, 0) as usize;
            if used < size {
                scratch.truncate(8 + used);
                scratch.drain(..8);
                break scratch;
            }
            if size >= MAX_LISTING {
                return Ok(errno(types::Errno::Nomem));
            }
            size *= 2;
        };
        let mut entries = Vec::new();
        let mut at = 0;
        while at + DIRENT <= listing.len() {
            let name_len = read_u32(&listing, at + 16) as usize;
            let Some(name) = listing.get(at + DIRENT..at + DIRENT + name_len) else {
                break;
            };
            entries.push((read_u64(&listing, at + 8), listing[at + 20], name.to_vec()));
            at += DIRENT + name_len;
        }
        if entries.len() > 2 {
            entries[2..].sort_by(|a, b| a.2.cmp(&b.2));
        }
        let mut out = Vec::with_capacity(buf_len);
        for (i, (ino, kind, name)) in entries.iter().enumerate().skip(cookie as u64 as usize) {
            if out.len() >= buf_len {
                break;
            }
            let mut dirent = [0; DIRENT];
            write_u64(&mut dirent, 0, i as u64 + 1);
            write_u64(&mut dirent, 8, host.guard.inode(*ino));
            dirent[16..20].copy_from_slice(&(name.len() as u32).to_le_bytes());
            dirent[20] = *kind;
            out.extend_from_slice(&dirent);
            out.extend_from_slice(name);
        }
        // A listing longer than the buffer is cut, as WASI says (the app reads on from a
        // cookie).
        out.truncate(buf_len);
        data[buf..buf + out.len()].copy_from_slice(&out);
        data[bufused..bufused + 4].copy_from_slice(&(out.len() as u32).to_le_bytes());
        Ok(0)
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_names_and_entries_at_every_depth() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/f"), [0; 10]).unwrap();
        std::fs::write(dir.path().join("g"), [0; 5]).unwrap();
        assert_eq!(
            usage(dir.path()).unwrap(),
            Usage {
                bytes: 15,
                entries: 4
            }
        );
    }
}
