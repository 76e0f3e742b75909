//! The WASI calls an app could use to outwait, outgrow or observe the machine: sleeps in
//! `poll_oneoff`, the output caps at the call, the log cap, and file metadata; and the host's
//! cancel of a run.

use std::{
    path::Path,
    sync::{Arc, mpsc},
    time::Duration,
};

use agora_worker::{Cancel, Exit, Limits, Outcome, RunSpec, Sandbox, Stop};

use super::sandbox::{Dirs, fixture, small_limits};

/// Runs the fixture `name` with `args` in `dirs` on a thread of its own and waits for it at
/// most `patience`: a run that takes longer fails the test instead of hanging it.
fn run_within(
    name: &str,
    args: &[&str],
    dirs: &Dirs,
    limits: Limits,
    patience: Duration,
) -> Outcome {
    let spec = RunSpec {
        args: args.iter().map(|arg| arg.to_string()).collect(),
        ..dirs.spec(limits)
    };
    let bytes = fixture(name);
    let (send, outcome) = mpsc::channel();
    std::thread::spawn(move || {
        let sandbox = Sandbox::new().unwrap();
        let app = sandbox.load(&bytes).unwrap();
        let _ = send.send(sandbox.run(&app, &spec).unwrap());
    });
    outcome
        .recv_timeout(patience)
        .unwrap_or_else(|_| panic!("{name} {args:?} still runs after {patience:?}"))
}

fn run_args(name: &str, args: &[&str], dirs: &Dirs, limits: Limits) -> Outcome {
    run_within(name, args, dirs, limits, Duration::from_secs(30))
}

fn word(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

#[test]
fn a_sleep_of_20_s_under_a_1_s_limit_ends_at_once_on_the_task_clock() {
    let dirs = Dirs::new();
    let limits = Limits::for_max_time(Duration::from_secs(1));
    let outcome = run_within("sleep.wat", &[], &dirs, limits, Duration::from_secs(10));
    assert_eq!(outcome.exit, Exit::Success, "{outcome:?}");
    assert!(
        outcome.elapsed < Duration::from_secs(1),
        "held {:?}",
        outcome.elapsed
    );
    assert_eq!(outcome.stdout.len(), 8);
    assert!(
        word(&outcome.stdout, 0) >= 20_000_000_000,
        "the monotonic clock after the sleep: {}",
        word(&outcome.stdout, 0)
    );
}

#[test]
fn a_sleep_for_u64_max_nanoseconds_ends_at_once() {
    let dirs = Dirs::new();
    let limits = Limits::for_max_time(Duration::from_secs(1));
    let outcome = run_within(
        "sleep.wat",
        &["forever"],
        &dirs,
        limits,
        Duration::from_secs(10),
    );
    assert_eq!(outcome.exit, Exit::Success, "{outcome:?}");
    assert!(
        outcome.elapsed < Duration::from_secs(1),
        "{:?}",
        outcome.elapsed
    );
    assert_eq!(word(&outcome.stdout, 0), u64::MAX, "the clock saturates");
}

/// The lengths of the files and links under `dir`, at every depth.
fn bytes_on_disk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let metadata = entry.metadata().unwrap();
            if metadata.is_dir() {
                bytes_on_disk(&entry.path())
            } else {
                metadata.len()
            }
        })
        .sum()
}

#[test]
fn a_call_that_would_go_over_the_output_cap_is_refused_before_it_writes() {
    // mode, the length of big (if it has a name) and whether big2 exists after the refused
    // call.
    for (mode, big, big2) in [
        ("w", Some(786_432), false),
        ("p", Some(0), false),
        ("s", Some(0), false),
        ("l", Some(786_432), false),
        ("u", None, false),
        // fd_allocate is not supported (ENOTSUP, 58): the app goes on and exits with it.
        ("a", Some(0), false),
    ] {
        let dirs = Dirs::new();
        let outcome = run_args("grow.wat", &[mode], &dirs, small_limits());
        let expected = if mode == "a" {
            Exit::Code(58)
        } else {
            Exit::Stopped(Stop::OutputTooLarge { limit: 1 << 20 })
        };
        assert_eq!(outcome.exit, expected, "mode {mode}");
        let out = dirs.output();
        assert!(
            bytes_on_disk(&out) <= 1 << 20,
            "mode {mode}: {} bytes",
            bytes_on_disk(&out)
        );
        assert_eq!(
            std::fs::metadata(out.join("big")).ok().map(|m| m.len()),
            big,
            "mode {mode}"
        );
        assert_eq!(out.join("big2").exists(), big2, "mode {mode}");
    }
}

#[test]
fn empty_files_directories_and_links_are_stopped_by_the_entries_cap() {
    for mode in ["d", "f", "s"] {
        let dirs = Dirs::new();
        let outcome = run_args("entries.wat", &[mode], &dirs, small_limits());
        assert_eq!(
            outcome.exit,
            Exit::Stopped(Stop::TooManyEntries { limit: 100 }),
            "mode {mode}"
        );
        assert_eq!(
            std::fs::read_dir(dirs.output()).unwrap().count(),
            100,
            "mode {mode}"
        );
    }
}

#[test]
fn stdout_and_stderr_are_cut_at_the_log_cap() {
    let dirs = Dirs::new();
    let outcome = run_args("logs.wat", &[], &dirs, small_limits());
    assert_eq!(outcome.stdout, vec![b'o'; 4096]);
    assert_eq!(outcome.stderr, vec![b'e'; 4096]);
    assert_eq!(outcome.exit, Exit::Success);
}

#[test]
fn file_metadata_comes_from_the_task_and_is_the_same_in_every_directory() {
    let (first, second) = (Dirs::new(), Dirs::new());
    let outcomes = [&first, &second].map(|dirs| {
        std::fs::write(dirs.input().join("data"), "input").unwrap();
        // Another file first, so that the host's inode numbers differ between the two runs.
        std::fs::write(dirs.output().join("..").join("unrelated"), "").unwrap();
        run_args("filestat.wat", &[], dirs, small_limits())
    });
    let out = &outcomes[0].stdout;
    assert_eq!(outcomes[0].exit, Exit::Success);
    assert_eq!(out.len(), 772);
    assert_eq!(
        out, &outcomes[1].stdout,
        "two runs in other directories see the same"
    );
    let deal_start = 1_700_000_000 * 1_000_000_000;
    let mut inodes = Vec::new();
    // f (a file of 5 bytes), data (5 bytes), /iexec_out and d (directories).
    for (i, (filetype, size)) in [(4, 5), (4, 5), (3, 0), (3, 0)].into_iter().enumerate() {
        let stat = &out[i * 64..(i + 1) * 64];
        assert_eq!(word(stat, 0), 1, "stat {i}: the device");
        inodes.push(word(stat, 8));
        assert_eq!(stat[16], filetype, "stat {i}");
        assert_eq!(word(stat, 32), size, "stat {i}");
        for at in [40, 48, 56] {
            assert_eq!(word(stat, at), deal_start, "stat {i}: the time at {at}");
        }
    }
    assert_eq!(
        inodes,
        [1, 2, 3, 4],
        "numbered in the order the app saw them"
    );
    // The listing: ., .., then the names in byte order.
    let used = u32::from_le_bytes(out[256..260].try_into().unwrap()) as usize;
    let listing = &out[260..260 + used];
    let mut names = Vec::new();
    let mut at = 0;
    while at + 24 <= listing.len() {
        let len = u32::from_le_bytes(listing[at + 16..at + 20].try_into().unwrap()) as usize;
        names.push(String::from_utf8(listing[at + 24..at + 24 + len].to_vec()).unwrap());
        at += 24 + len;
    }
    assert_eq!(names, [".", "..", "a", "b", "d", "f"]);
}

/// An endless loop with fuel and wall clock for ten minutes.
fn endless() -> Limits {
    Limits {
        fuel: u64::MAX / 2,
        wall_clock: Duration::from_secs(600),
        ..small_limits()
    }
}

#[test]
fn a_cancelled_run_ends_within_a_tick() {
    let dirs = Dirs::new();
    let spec = dirs.spec(endless());
    let cancel = Cancel::new();
    let (send, outcome) = mpsc::channel();
    let token = cancel.clone();
    std::thread::spawn(move || {
        let sandbox = Sandbox::new().unwrap();
        let app = sandbox.load(&fixture("loop.wat")).unwrap();
        let _ = send.send(token.scope(|| sandbox.run(&app, &spec).unwrap()));
    });
    cancel.cancel();
    let outcome = outcome
        .recv_timeout(Duration::from_secs(10))
        .expect("the cancelled run still runs");
    assert_eq!(outcome.exit, Exit::Stopped(Stop::Cancelled));
}

#[test]
fn a_runtime_dropped_while_a_run_waits_on_its_blocking_thread_stops_at_once() {
    // The worker's call site: a future waits on `spawn_blocking` for a run under a cancel that
    // it drops with itself. Dropping the runtime (the end of `agora dev` after Ctrl-C) drops
    // the future, which stops the run, so the drop does not wait for the run's limits.
    let dirs = Dirs::new();
    let spec = dirs.spec(endless());
    let sandbox = Arc::new(Sandbox::new().unwrap());
    let app = sandbox.load(&fixture("loop.wat")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (started_send, started) = mpsc::channel();
    let _task = runtime.spawn(async move {
        let cancel = Cancel::new();
        let _cancel_on_drop = cancel.on_drop();
        tokio::task::spawn_blocking(move || {
            cancel.scope(|| {
                started_send.send(()).unwrap();
                sandbox.run(&app, &spec).unwrap()
            })
        })
        .await
    });
    started
        .recv_timeout(Duration::from_secs(10))
        .expect("the run started");
    let (dropped_send, dropped) = mpsc::channel();
    std::thread::spawn(move || {
        drop(runtime);
        let _ = dropped_send.send(());
    });
    dropped
        .recv_timeout(Duration::from_secs(10))
        .expect("the runtime's drop still waits for the run");
}
