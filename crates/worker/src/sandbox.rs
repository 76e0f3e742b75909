//! The WebAssembly sandbox: wasmtime with WASI preview 1, deterministic, with limits a hostile
//! app cannot escape.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use wasmtime::{
    Config, Engine, InstancePre, Linker, Module, ResourceLimiter, Store, Trap, UpdateDeadline,
};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder, p1::WasiP1Ctx, p2::pipe::MemoryOutputPipe};

use crate::{
    Checksum, Error, Result,
    determinism::{TaskClock, TaskRandom},
    shim::{self, Guard},
};

/// Where the app sees its input directory (read-only).
pub const GUEST_IN: &str = "/iexec_in";
/// Where the app sees its output directory (writable).
pub const GUEST_OUT: &str = "/iexec_out";

/// How often the sandbox looks at the wall clock while an app runs.
const TICK: Duration = Duration::from_millis(10);

/// Fuel per second of a category's maximum run time: a budget of instructions that a fast core
/// runs in about that time, so that fuel and not the wall clock stops a runaway app and the
/// stop is the same on every machine.
pub const FUEL_PER_SECOND: u64 = 1_000_000_000;

/// The resources one run may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// WebAssembly instructions (wasmtime fuel).
    pub fuel: u64,
    /// Bytes of linear memory (and table space).
    pub memory: usize,
    /// Wall-clock time, a backstop for time spent outside instructions (host calls).
    pub wall_clock: Duration,
    /// Bytes the output directory may hold (its files' and links' lengths, once per name).
    pub output: u64,
    /// Files, directories and links the output directory may hold, at every depth.
    pub entries: u64,
    /// Bytes of stdout and of stderr kept (the rest is cut off).
    pub log: usize,
}

impl Limits {
    /// The limits of a task of a category with this maximum compute time (spec §6.1's
    /// `workClockTimeRef`): fuel for that time at [`FUEL_PER_SECOND`], the wall clock at twice
    /// it, 512 MiB of memory, 64 MiB of output in at most 10,000 entries, 1 MiB of each log.
    pub fn for_max_time(max_time: Duration) -> Self {
        Self {
            fuel: max_time.as_secs().max(1).saturating_mul(FUEL_PER_SECOND),
            memory: 512 << 20,
            wall_clock: max_time.saturating_mul(2),
            output: 64 << 20,
            entries: 10_000,
            log: 1 << 20,
        }
    }
}

/// Why a run stopped before the app finished by itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Stop {
    /// The app used its whole instruction budget.
    #[error("out of fuel: the app ran more than {limit} instructions")]
    OutOfFuel {
        /// The budget.
        limit: u64,
    },
    /// The app asked for more memory than it may have.
    #[error("memory limit: the app asked for {requested} bytes of memory, the limit is {limit}")]
    MemoryLimit {
        /// Bytes asked for.
        requested: usize,
        /// The limit.
        limit: usize,
    },
    /// The app ran longer than the wall-clock limit.
    #[error("deadline: the app ran longer than {limit:?}")]
    Deadline {
        /// The limit.
        limit: Duration,
    },
    /// The app would have made its output directory hold more bytes than it may; the call
    /// that would have was not done.
    #[error("output too large: the app tried to put more than {limit} bytes in {GUEST_OUT}")]
    OutputTooLarge {
        /// The limit.
        limit: u64,
    },
    /// The app would have made its output directory hold more entries than it may; the call
    /// that would have was not done.
    #[error(
        "too many entries: the app tried to put more than {limit} files, directories and links in {GUEST_OUT}"
    )]
    TooManyEntries {
        /// The limit.
        limit: u64,
    },
    /// The host cancelled the run ([`Cancel`]): the worker is stopping.
    #[error("cancelled: the worker stopped the run")]
    Cancelled,
    /// The app trapped (unreachable, out-of-bounds access, division by zero, stack overflow,
    /// ...).
    #[error("trap: {0}")]
    Trap(String),
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// `_start` returned, or the app exited with code 0.
    Success,
    /// The app exited with this non-zero code.
    Code(i32),
    /// The sandbox stopped it.
    Stopped(Stop),
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Success => f.write_str("completed"),
            Exit::Code(code) => write!(f, "exited with code {code}"),
            Exit::Stopped(stop) => write!(f, "stopped: {stop}"),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How it ended.
    pub exit: Exit,
    /// What it wrote to stdout (up to [`Limits::log`] bytes).
    pub stdout: Vec<u8>,
    /// What it wrote to stderr (up to [`Limits::log`] bytes).
    pub stderr: Vec<u8>,
    /// Instructions it ran.
    pub fuel_used: u64,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// How far the app's sleeps moved its clocks (a sleep does not wait: see the shims).
    pub slept: Duration,
}

/// A way for the host to stop runs from outside: a run made under [`Cancel::scope`] ends
/// within a tick of the clock thread (10 ms) once the token is cancelled, with
/// [`Stop::Cancelled`]. Clones are the same token.
///
/// A worker waits for a run on a blocking thread, which nothing else can stop: without this,
/// a worker shutting down (its runtime dropped) waits for the app's own limits.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

thread_local! {
    /// The token of the runs made on this thread, if any ([`Cancel::scope`]).
    static CANCEL: std::cell::RefCell<Option<Cancel>> = const { std::cell::RefCell::new(None) };
}

impl Cancel {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels the runs under this token, running or to come.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Runs `f` with this token as the cancel of every [`Sandbox::run`] it makes on this
    /// thread.
    pub fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Cancel>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                CANCEL.with(|cancel| *cancel.borrow_mut() = previous);
            }
        }
        let _restore = Restore(CANCEL.with(|cancel| cancel.replace(Some(self.clone()))));
        f()
    }

    /// A guard that cancels the token when it is dropped: held by the future that waits for a
    /// run, it stops the run when that future is dropped (a kill, a shutdown).
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }
}

/// Cancels its token when dropped ([`Cancel::on_drop`]).
#[derive(Debug)]
pub struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// One run of an app: what it sees and what it may use.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Arguments after the program name.
    pub args: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Host directory mounted read-only at [`GUEST_IN`].
    pub input_dir: PathBuf,
    /// Host directory mounted writable at [`GUEST_OUT`]; it should be empty.
    pub output_dir: PathBuf,
    /// What the app's clocks say: the wall clock starts here (seconds since the Unix epoch).
    pub clock_start: u64,
    /// The seed of the app's randomness.
    pub seed: [u8; 32],
    /// The limits.
    pub limits: Limits,
}

/// A compiled app, ready to instantiate.
pub struct App {
    checksum: Checksum,
    pre: InstancePre<Host>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("checksum", &self.checksum)
            .finish()
    }
}

impl App {
    /// The sha256 of the module's bytes.
    pub fn checksum(&self) -> Checksum {
        self.checksum
    }
}

/// The sandbox: one wasmtime engine configured for deterministic, limited runs, the WASI
/// preview 1 host functions, and the compiled apps by checksum.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<Host>,
    apps: Mutex<HashMap<Checksum, Arc<App>>>,
    ticker: Option<JoinHandle<()>>,
    stop_ticker: Arc<AtomicBool>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").finish_non_exhaustive()
    }
}

/// The store's data: the WASI context and the limits being enforced.
pub(crate) struct Host {
    pub(crate) wasi: WasiP1Ctx,
    pub(crate) guard: Guard,
    memory_limit: usize,
    started: Instant,
    wall_clock: Duration,
    cancel: Option<Cancel>,
    pub(crate) stopped: Option<Stop>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").finish_non_exhaustive()
    }
}

impl ResourceLimiter for Host {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.stopped = Some(Stop::MemoryLimit {
                requested: desired,
                limit: self.memory_limit,
            });
            // Stop the app rather than let it see a failed growth: a limit is a limit.
            return Err(wasmtime::Error::msg("memory limit"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let bytes = desired.saturating_mul(std::mem::size_of::<usize>());
        if bytes > self.memory_limit {
            self.stopped = Some(Stop::MemoryLimit {
                requested: bytes,
                limit: self.memory_limit,
            });
            return Err(wasmtime::Error::msg("table limit"));
        }
        Ok(true)
    }
}

impl Sandbox {
    /// A sandbox with its engine and its clock thread; compiled apps are kept in memory.
    pub fn new() -> Result<Self> {
        Self::build(None)
    }

    /// A sandbox that also keeps the compiled apps in `dir`, so that a worker restarted later
    /// does not compile them again (wasmtime's compilation cache, keyed by the module and the
    /// engine's settings).
    pub fn with_cache_dir(dir: &Path) -> Result<Self> {
        Self::build(Some(dir))
    }

    fn build(cache_dir: Option<&Path>) -> Result<Self> {
        let mut config = Config::new();
        if let Some(dir) = cache_dir {
            std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
            // wasmtime takes only an absolute cache directory.
            let dir = std::path::absolute(dir).map_err(Error::io(dir))?;
            let mut cache = wasmtime::CacheConfig::new();
            cache.with_directory(&dir);
            config.cache(Some(wasmtime::Cache::new(cache).map_err(Error::engine)?));
        }
        config
            .consume_fuel(true)
            .epoch_interruption(true)
            // Determinism: one NaN bit pattern, no relaxed SIMD (threads are not compiled in).
            .cranelift_nan_canonicalization(true)
            .wasm_relaxed_simd(false);
        let engine = Engine::new(&config).map_err(Error::engine)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |host: &mut Host| &mut host.wasi)
            .map_err(Error::engine)?;
        shim::add_to_linker(&mut linker).map_err(Error::engine)?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let stop = Arc::clone(&stop_ticker);
            std::thread::Builder::new()
                .name("sandbox-clock".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(Error::Thread)?
        };
        Ok(Self {
            engine,
            linker,
            apps: Mutex::new(HashMap::new()),
            ticker: Some(ticker),
            stop_ticker,
        })
    }

    /// The app whose module is `bytes`, compiled once: later calls with the same bytes (the
    /// same checksum) return the compiled app without compiling again.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<App>> {
        let checksum = Checksum::of(bytes);
        if let Some(app) = self.cached(&checksum) {
            return Ok(app);
        }
        let module = Module::new(&self.engine, bytes).map_err(Error::invalid_module)?;
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(Error::invalid_module)?;
        let app = Arc::new(App { checksum, pre });
        let mut apps = self.apps.lock().unwrap_or_else(|e| e.into_inner());
        Ok(Arc::clone(apps.entry(checksum).or_insert(app)))
    }

    /// The compiled app with this checksum, if it was loaded before.
    pub fn cached(&self, checksum: &Checksum) -> Option<Arc<App>> {
        let apps = self.apps.lock().unwrap_or_else(|e| e.into_inner());
        apps.get(checksum).cloned()
    }

    /// Runs `app` as `spec` says. An app that misbehaves ends with [`Exit::Stopped`] and a
    /// named reason; an `Err` means the host could not set the run up (a missing directory).
    pub fn run(&self, app: &App, spec: &RunSpec) -> Result<Outcome> {
        let started = Instant::now();
        let stdout = MemoryOutputPipe::new(spec.limits.log);
        let stderr = MemoryOutputPipe::new(spec.limits.log);
        let wall = TaskClock::wall(spec.clock_start);
        let monotonic = TaskClock::monotonic().sharing_sleeps(&wall);
        let mut wasi = WasiCtxBuilder::new();
        wasi.allow_blocking_current_thread(true)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .arg("app")
            .args(&spec.args)
            .envs(&spec.env)
            .wall_clock(wall.clone())
            .monotonic_clock(monotonic.clone())
            .secure_random(TaskRandom::new(&spec.seed, b"secure"))
            .insecure_random(TaskRandom::new(&spec.seed, b"insecure"))
            .insecure_random_seed(TaskRandom::seed_u128(&spec.seed))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        wasi.preopened_dir(&spec.input_dir, GUEST_IN, FsPerms::ReadOnly)
            .map_err(|e| Error::dir(&spec.input_dir, e))?;
        wasi.preopened_dir(&spec.output_dir, GUEST_OUT, FsPerms::ReadWrite)
            .map_err(|e| Error::dir(&spec.output_dir, e))?;
        let clock = wall.clone();
        let guard = Guard::new(
            &spec.output_dir,
            spec.limits.output,
            spec.limits.entries,
            wall,
            monotonic,
        )
        .map_err(|e| Error::dir(&spec.output_dir, e))?;
        let host = Host {
            wasi: wasi.build_p1(),
            guard,
            memory_limit: spec.limits.memory,
            started,
            wall_clock: spec.limits.wall_clock,
            cancel: CANCEL.with(|cancel| cancel.borrow().clone()),
            stopped: None,
        };
        let mut store = Store::new(&self.engine, host);
        store.limiter(|host| host);
        store.set_fuel(spec.limits.fuel).map_err(Error::engine)?;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut store| {
            let host = store.data_mut();
            if host.cancel.as_ref().is_some_and(Cancel::is_cancelled) {
                host.stopped = Some(Stop::Cancelled);
                return Ok(UpdateDeadline::Interrupt);
            }
            if host.started.elapsed() > host.wall_clock {
                host.stopped = Some(Stop::Deadline {
                    limit: host.wall_clock,
                });
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Continue(1))
        });
        let result = app
            .pre
            .instantiate(&mut store)
            .and_then(|instance| instance.get_typed_func::<(), ()>(&mut store, "_start"))
            .and_then(|start| start.call(&mut store, ()));
        let fuel_left = store.get_fuel().unwrap_or(0);
        let exit = match result {
            Ok(()) => Exit::Success,
            Err(error) => {
                if let Some(stop) = store.data_mut().stopped.take() {
                    Exit::Stopped(stop)
                } else if let Some(code) = error.downcast_ref::<I32Exit>() {
                    if code.0 == 0 {
                        Exit::Success
                    } else {
                        Exit::Code(code.0)
                    }
                } else if let Some(Trap::OutOfFuel) = error.downcast_ref::<Trap>() {
                    Exit::Stopped(Stop::OutOfFuel {
                        limit: spec.limits.fuel,
                    })
                } else {
                    Exit::Stopped(Stop::Trap(format!("{error:#}")))
                }
            }
        };
        Ok(Outcome {
            exit,
            stdout: stdout.contents().to_vec(),
            stderr: stderr.contents().to_vec(),
            fuel_used: spec.limits.fuel.saturating_sub(fuel_left),
            elapsed: started.elapsed(),
            slept: clock.slept(),
        })
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
    }
}
