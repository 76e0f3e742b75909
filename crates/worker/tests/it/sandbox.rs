//! The sandbox's limits, its isolation and its determinism, one fixture each.

use std::{path::PathBuf, sync::Arc, time::Duration};

use agora_worker::{App, Error, Exit, Limits, RunSpec, Sandbox, Stop, determinism::TaskRandom};

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/wat")
        .join(name);
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A run's directories, removed when dropped.
pub(crate) struct Dirs {
    root: tempfile::TempDir,
}

impl Dirs {
    pub(crate) fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("in")).unwrap();
        std::fs::create_dir(root.path().join("out")).unwrap();
        Self { root }
    }

    pub(crate) fn input(&self) -> PathBuf {
        self.root.path().join("in")
    }

    pub(crate) fn output(&self) -> PathBuf {
        self.root.path().join("out")
    }

    pub(crate) fn spec(&self, limits: Limits) -> RunSpec {
        RunSpec {
            args: Vec::new(),
            env: Vec::new(),
            input_dir: self.input(),
            output_dir: self.output(),
            clock_start: 1_700_000_000,
            seed: [42; 32],
            limits,
        }
    }
}

pub(crate) fn small_limits() -> Limits {
    Limits {
        fuel: 10_000_000,
        memory: 16 << 20,
        wall_clock: Duration::from_secs(20),
        output: 1 << 20,
        entries: 100,
        log: 4096,
    }
}

pub(crate) fn run(sandbox: &Sandbox, app: &App, limits: Limits) -> agora_worker::Outcome {
    let dirs = Dirs::new();
    sandbox.run(app, &dirs.spec(limits)).unwrap()
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let sandbox = Sandbox::new().unwrap();
    let app = sandbox.load(&fixture("loop.wat")).unwrap();
    let outcome = run(&sandbox, &app, small_limits());
    assert_eq!(
        outcome.exit,
        Exit::Stopped(Stop::OutOfFuel { limit: 10_000_000 })
    );
    assert_eq!(outcome.fuel_used, 10_000_000);
}

#[test]
fn an_endless_loop_with_fuel_to_spare_meets_the_wall_clock() {
    let sandbox = Sandbox::new().unwrap();
    let app = sandbox.load(&fixture("loop.wat")).unwrap();
    let limits = Limits {
        fuel: u64::MAX / 2,
        wall_clock: Duration::from_millis(100),
        ..small_limits()
    };
    let outcome = run(&sandbox, &app, limits);
    assert_eq!(
        outcome.exit,
        Exit::Stopped(Stop::Deadline {
            limit: Duration::from_millis(100)
        })
    );
    assert!(
        outcome.elapsed < Duration::from_secs(5),
        "{:?}",
        outcome.elapsed
    );
}

#[test]
fn a_memory_bomb_meets_the_memory_cap() {
    let sandbox = Sandbox::new().unwrap();
    let app = sandbox.load(&fixture("memory_bomb.wat")).unwrap();
    let outcome = run(&sandbox, &app, small_limits());
    let Exit::Stopped(Stop::MemoryLimit { requested, limit }) = outcome.exit else {
        panic!("{:?}", outcome.exit);
    };
    assert_eq!(limit, 16 << 20);
    assert_eq!(requested, (16 << 20) + 65536, "one page over");
}

#[test]
fn a_trap_is_reported_as_such() {
    let sandbox = Sandbox::new().unwrap();
    let app = sandbox.load(&fixture("trap.wat")).unwrap();
    let outcome = run(&sandbox, &app, small_limits());
    let Exit::Stopped(Stop::Trap(message)) = outcome.exit else {
        panic!("{:?}", outcome.exit);
    };
    assert!(message.contains("unreachable"), "{message}");
}

#[test]
fn endless_output_meets_the_output_cap_and_the_sandbox_carries_on() {
    let sandbox = Sandbox::new().unwrap();
    let app = sandbox.load(&fixture("huge_output.wat")).unwrap();
    let limits = Limits {
        fuel: u64::MAX / 2,
        ..small_limits()
    };
    let dirs = Dirs::new();
    let outcome = sandbox.run(&app, &dirs.spec(limits)).unwrap();
    assert_eq!(
        outcome.exit,
        Exit::Stopped(Stop::OutputTooLarge { limit: 1 << 20 })
    );
    // The next run is not affected.
    let trap = sandbox.load(&fixture("trap.wat")).unwrap();
    assert!(matches!(
        run(&sandbox, &trap, small_limits()).exit,
        Exit::Stopped(Stop::Trap(_))
    ));
}

#[test]
fn an_app_cannot_leave_its_directories_or_write_its_input_by_any_way() {
    const TRIES: [&str; 14] = [
        "open ../../etc/passwd from /iexec_in",
        "open /etc/passwd from /iexec_out",
        "create a file in /iexec_in",
        "create a directory in /iexec_in",
        "write into /iexec_in/data",
        "hard-link /iexec_in/data into /iexec_out",
        "open /etc/passwd through a symbolic link",
        "open ../in/data through a symbolic link",
        "set the times of /iexec_in/data",
        "truncate /iexec_in/data",
        "open .. of /iexec_out",
        "accept a connection on /iexec_in",
        "delete /iexec_in/spare",
        "move /iexec_in/data into /iexec_out",
    ];
    let sandbox = Sandbox::new().unwrap();
    let app = sandbox.load(&fixture("escape.wat")).unwrap();
    let dirs = Dirs::new();
    std::fs::write(dirs.input().join("data"), "secret").unwrap();
    std::fs::write(dirs.input().join("spare"), "spare").unwrap();
    let outcome = sandbox.run(&app, &dirs.spec(small_limits())).unwrap();
    assert_eq!(outcome.exit, Exit::Success, "{outcome:?}");
    assert_eq!(outcome.stdout.len(), 4 * TRIES.len(), "one result per try");
    let worked: Vec<&str> = TRIES
        .iter()
        .zip(outcome.stdout.chunks_exact(4))
        .filter(|(_, errno)| *errno == [0; 4])
        .map(|(try_, _)| *try_)
        .collect();
    assert!(worked.is_empty(), "the app got out: {worked:?}");
    let mut input: Vec<_> = std::fs::read_dir(dirs.input())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    input.sort();
    assert_eq!(input, ["data", "spare"]);
    assert_eq!(std::fs::read(dirs.input().join("data")).unwrap(), b"secret");
    for name in ["stolen", "linked"] {
        assert!(!dirs.output().join(name).exists(), "{name}");
    }
}

#[test]
fn time_and_randomness_come_from_the_task() {
    let sandbox = Sandbox::new().unwrap();
    let app = sandbox.load(&fixture("time_random.wat")).unwrap();
    let first = run(&sandbox, &app, small_limits());
    assert_eq!(first.exit, Exit::Success);
    let out = &first.stdout;
    assert_eq!(out.len(), 40);
    let word = |i: usize| u64::from_le_bytes(out[i..i + 8].try_into().unwrap());
    assert_eq!(word(0), 1_700_000_000 * 1_000_000_000, "the deal's start");
    assert_eq!(
        word(8),
        1_700_000_000 * 1_000_000_000 + 1_000_000,
        "1 ms per reading"
    );
    assert_eq!(word(16), 0, "the monotonic clock starts at zero");
    // WASI's random_get draws one 32-bit word of the task's stream per byte it returns.
    let mut stream = [0; 64];
    TaskRandom::new(&[42; 32], b"secure").fill(&mut stream);
    let expected: Vec<u8> = stream.iter().step_by(4).copied().collect();
    assert_eq!(&out[24..], &expected[..]);
    // The same again, and other bytes with another seed.
    assert_eq!(run(&sandbox, &app, small_limits()).stdout, first.stdout);
    let dirs = Dirs::new();
    let other = sandbox
        .run(
            &app,
            &RunSpec {
                seed: [43; 32],
                ..dirs.spec(small_limits())
            },
        )
        .unwrap();
    assert_eq!(other.stdout[..24], first.stdout[..24]);
    assert_ne!(other.stdout[24..], first.stdout[24..]);
}

#[test]
fn nans_have_one_bit_pattern() {
    let sandbox = Sandbox::new().unwrap();
    let app = sandbox.load(&fixture("nan.wat")).unwrap();
    let outcome = run(&sandbox, &app, small_limits());
    assert_eq!(outcome.exit, Exit::Success);
    let out = &outcome.stdout;
    let f64_bits = |i: usize| u64::from_le_bytes(out[i..i + 8].try_into().unwrap());
    let f32_bits = |i: usize| u32::from_le_bytes(out[i..i + 4].try_into().unwrap());
    assert_eq!(f64_bits(0), 0x7ff8_0000_0000_0000);
    assert_eq!(f64_bits(8), 0x7ff8_0000_0000_0000);
    assert_eq!(f32_bits(16), 0x7fc0_0000);
    assert_eq!(f32_bits(20), 0xffc0_0000, "neg flips the sign bit only");
}

#[test]
fn a_module_is_compiled_once_per_checksum() {
    let sandbox = Sandbox::new().unwrap();
    let bytes = fixture("trap.wat");
    let first = sandbox.load(&bytes).unwrap();
    assert!(Arc::ptr_eq(&first, &sandbox.load(&bytes).unwrap()));
    assert!(Arc::ptr_eq(
        &first,
        &sandbox.cached(&first.checksum()).unwrap()
    ));
    assert_eq!(first.checksum(), agora_worker::Checksum::of(&bytes));
}

#[test]
fn a_module_that_is_not_a_wasi_app_is_refused_before_it_runs() {
    let sandbox = Sandbox::new().unwrap();
    assert!(matches!(
        sandbox.load(b"not wasm"),
        Err(Error::InvalidModule(_))
    ));
    let foreign =
        wat::parse_str(r#"(module (import "env" "syscall" (func)) (func (export "_start")))"#)
            .unwrap();
    let Err(Error::InvalidModule(message)) = sandbox.load(&foreign) else {
        panic!("a module importing env.syscall loaded");
    };
    assert!(message.contains("syscall"), "{message}");
}

#[test]
fn a_cache_directory_keeps_compiled_apps_for_the_next_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let bytes = fixture("time_random.wat");
    fn walk(path: &std::path::Path) -> usize {
        std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    {
        let sandbox = Sandbox::with_cache_dir(&cache).unwrap();
        sandbox.load(&bytes).unwrap();
    }
    assert!(walk(&cache) > 0, "the compiled module is on disk");
    // A new sandbox (a restarted worker) loads it from there and runs it the same.
    let sandbox = Sandbox::with_cache_dir(&cache).unwrap();
    let app = sandbox.load(&bytes).unwrap();
    assert_eq!(run(&sandbox, &app, small_limits()).exit, Exit::Success);
}
