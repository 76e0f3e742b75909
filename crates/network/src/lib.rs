//! The whole network in one process: the embedded chain with the protocol at genesis, funded
//! dev accounts, the market, the result store, one workerpool with its scheduler and workers,
//! an app published with its orders. `agora dev`, `agora demo` and the end-to-end tests start
//! it the same way, with [`spawn`]:
//!
//! ```no_run
//! # async fn example() -> Result<(), agora_network::Error> {
//! let work = std::env::temp_dir().join("agora-example");
//! let network = agora_network::spawn(agora_network::Config::test(&work)).await?;
//! println!("chain at {}, scheduler at {}", network.info.rpc_url, network.info.scheduler_url);
//! network.stop().await;
//! # Ok(())
//! # }
//! ```
//!
//! Its state lives in a data directory and survives a restart (what was set up once is kept in
//! `dev.json` beside it), or in memory and a work directory for tests. The services meet only
//! on the chain and over HTTP, as on separate machines: this crate only starts them.

mod setup;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use agora_chain::{DevAccount, Storage};
use agora_worker::daemon::{DaemonConfig, DaemonHandle};
use alloy::primitives::{Address, B256};
use serde::Serialize;

pub use setup::Setup;

/// The demo app, `examples/hello` (it writes `Hello, <args>!` to `result.txt`).
pub const HELLO_WASM: &[u8] = include_bytes!("../../../examples/hello/hello.wasm");

/// Why the network did not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A fixed port is taken.
    #[error(
        "port {port} for {service} is not free ({reason}): stop what uses it, or give {flag} (0 picks a free one)"
    )]
    PortTaken {
        port: u16,
        service: &'static str,
        flag: &'static str,
        reason: String,
    },
    /// A file or directory could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The data directory holds a chain but not what was set up on it.
    #[error("{dir} holds a chain but not {setup}: the state is incomplete; start again with --reset", dir = dir.display(), setup = setup.display())]
    Incomplete { dir: PathBuf, setup: PathBuf },
    /// `dev.json` is not the network's setup.
    #[error("{} is not the dev network's setup ({reason}): use --reset", path.display())]
    BadSetup { path: PathBuf, reason: String },
    /// A step of the first start failed.
    #[error("{what}: {reason}")]
    Setup { what: String, reason: String },
    /// A service did not start.
    #[error("{service} did not start: {reason}")]
    Service { service: String, reason: String },
}

/// Where the network's services listen (0: a free port the system picks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub chain: u16,
    pub market: u16,
    pub results: u16,
    pub scheduler: u16,
}

impl Ports {
    /// `agora dev`'s defaults.
    pub const DEFAULT: Self = Self {
        chain: 8545,
        market: 7600,
        results: 7800,
        scheduler: 7700,
    };

    /// Free ports, picked by the system.
    pub const ANY: Self = Self {
        chain: 0,
        market: 0,
        results: 0,
        scheduler: 0,
    };

    /// Fails, naming the port and its service, if one of the fixed ports is taken: checked
    /// before anything is written, so that a busy port leaves no half-made data directory.
    fn check_free(&self) -> Result<(), Error> {
        let services = [
            (self.chain, "the chain", "--chain-port"),
            (self.market, "the market", "--market-port"),
            (self.results, "the result store", "--results-port"),
            (self.scheduler, "the scheduler", "--scheduler-port"),
        ];
        for (port, service, flag) in services {
            if port == 0 {
                continue;
            }
            if let Err(e) = std::net::TcpListener::bind(local(port)) {
                return Err(Error::PortTaken {
                    port,
                    service,
                    flag,
                    reason: e.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// Which dev account (index of the dev mnemonic's accounts) does what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles {
    /// Deploys the protocol at genesis and holds the token's supply.
    pub admin: usize,
    /// Owns the app.
    pub app_developer: usize,
    /// Owns the workerpool and runs its scheduler.
    pub scheduler: usize,
    /// The workers, in order: worker `i` of [`Network::start_worker`] is `workers[i]`.
    pub workers: Vec<usize>,
    /// Requests tasks (`agora run --dev-account`).
    pub requester: usize,
}

impl Roles {
    /// `agora dev`'s: admin 0, app developer 1, scheduler 2, workers 3 to 5, requester 6.
    pub fn dev() -> Self {
        Self {
            admin: 0,
            app_developer: 1,
            scheduler: 2,
            workers: vec![3, 4, 5],
            requester: 6,
        }
    }

    /// What account `index` is for, in words.
    pub fn name(&self, index: usize) -> &'static str {
        match index {
            i if i == self.admin => "admin (deployed the protocol, holds the RLC supply)",
            i if i == self.app_developer => "app developer (owns the app)",
            i if i == self.scheduler => "workerpool owner (runs the scheduler)",
            i if self.workers.contains(&i) => "worker",
            i if i == self.requester => "requester",
            _ => "spare",
        }
    }
}

/// RLC amounts given at the first start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funding {
    /// RLC the admin gives each other account.
    pub given_rlc: u64,
    /// RLC each of `depositors` deposits into its hub account (stakes, payments).
    pub deposited_rlc: u64,
    /// Who deposits; `None`: the scheduler and the workers.
    pub depositors: Option<Vec<usize>>,
}

/// The app the network creates and publishes.
#[derive(Debug, Clone)]
pub struct AppModule {
    pub name: String,
    pub wasm: Vec<u8>,
}

/// How the network starts.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the chain keeps its blocks (`None`: in memory, gone at the end).
    pub data_dir: Option<PathBuf>,
    /// Where the other services keep their files and `dev.json` (the data directory, for
    /// `agora dev`).
    pub work_dir: PathBuf,
    pub ports: Ports,
    /// How many dev accounts the chain funds with ether.
    pub accounts: u32,
    pub roles: Roles,
    pub funding: Funding,
    pub app: AppModule,
    /// The price of the app and of the workerpool per task, and the trust the pool offers.
    pub app_price_nrlc: u64,
    pub workerpool_price_nrlc: u64,
    pub workerpool_trust: u64,
    /// Whether the market runs and the app's and workerpool's orders are published on it.
    pub market: bool,
    /// How many of the workers start with the network (the others on
    /// [`Network::start_worker`]).
    pub workers_started: usize,
    /// Whether the scheduler starts with the network (else on [`Network::start_scheduler`]
    /// or [`Network::start_scheduler_with`], for a caller with settings of its own; no
    /// worker starts with the network then, whatever `workers_started` says).
    pub scheduler_started: bool,
    /// Changes to the scheduler's configuration, applied at each start.
    pub tune_scheduler: fn(&mut agora_scheduler::Config),
    /// Changes to each worker's configuration, applied at each start.
    pub tune_worker: fn(&mut DaemonConfig),
    /// The most bytes the result store takes in one archive.
    pub results_max_bytes: usize,
    /// Progress lines (`agora dev: …`) on stderr.
    pub progress: bool,
}

impl Config {
    /// `agora dev`'s network: state in `dir`, the default ports, three workers, the hello
    /// app and its orders on the market.
    pub fn dev(dir: &Path) -> Self {
        Self {
            data_dir: Some(dir.to_path_buf()),
            work_dir: dir.to_path_buf(),
            ports: Ports::DEFAULT,
            accounts: 10,
            roles: Roles::dev(),
            funding: Funding {
                given_rlc: 10_000,
                deposited_rlc: 1_000,
                depositors: None,
            },
            app: AppModule {
                name: "hello".into(),
                wasm: HELLO_WASM.to_vec(),
            },
            app_price_nrlc: 100_000_000,        // 0.1 RLC
            workerpool_price_nrlc: 500_000_000, // 0.5 RLC
            workerpool_trust: 100,
            market: true,
            workers_started: 3,
            scheduler_started: true,
            tune_scheduler: |config| {
                config.tick = Duration::from_millis(250);
                config.quiet = true;
            },
            tune_worker: |config| config.ask_wait = Duration::from_secs(5),
            results_max_bytes: 64 << 20,
            progress: true,
        }
    }

    /// [`Config::dev`] for tests: in memory with files in `work`, free ports, the test
    /// timings of the scheduler (100 ms tick) and workers (2 s ask), silent.
    pub fn test(work: &Path) -> Self {
        Self {
            data_dir: None,
            ports: Ports::ANY,
            tune_scheduler: |config| {
                config.tick = Duration::from_millis(100);
                config.quiet = true;
            },
            tune_worker: |config| config.ask_wait = Duration::from_secs(2),
            progress: false,
            ..Self::dev(work)
        }
    }
}

/// One funded account, as printed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountInfo {
    pub index: usize,
    pub role: &'static str,
    pub address: Address,
    pub private_key: B256,
}

/// Every URL and account of the running network.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    pub data_dir: Option<PathBuf>,
    pub restored: bool,
    pub chain_id: u64,
    pub rpc_url: String,
    pub ws_url: String,
    /// Empty when the network runs without a market.
    pub market_url: String,
    pub results_url: String,
    pub scheduler_url: String,
    pub hub: Address,
    pub token: Address,
    pub app: Address,
    pub workerpool: Address,
    pub workers: Vec<Address>,
    pub accounts: Vec<AccountInfo>,
}

/// The network, running. Dropping it stops nothing cleanly: call [`Network::stop`].
#[derive(Debug)]
pub struct Network {
    pub info: Info,
    /// What the first start set up (the app's and workerpool's signed orders).
    pub setup: Setup,
    config: Config,
    accounts: Vec<DevAccount>,
    chain: agora_chain::Handle,
    market: Option<agora_market::Handle>,
    results: Option<agora_results::Handle>,
    scheduler: Option<agora_scheduler::Handle>,
    /// Where the scheduler listens: the same port across restarts, as the workers know it.
    scheduler_listen: SocketAddr,
    workers: Vec<Option<DaemonHandle>>,
}

/// Starts the network: the chain (restored from its data directory, if any), the first
/// start's set-up (funding, the app, the workerpool, their orders), then the market, the
/// result store, the scheduler and `workers_started` workers.
pub async fn spawn(config: Config) -> Result<Network, Error> {
    let progress = |what: &str| {
        if config.progress {
            eprintln!("agora dev: {what}");
        }
    };
    config.ports.check_free()?;
    let work = config.work_dir.clone();
    std::fs::create_dir_all(&work).map_err(|source| Error::Io {
        what: "cannot create",
        path: work.clone(),
        source,
    })?;
    let deployer = agora_chain::derive_dev_accounts(agora_chain::DEV_MNEMONIC, 1).map_err(|e| {
        Error::Setup {
            what: "deriving the dev accounts".into(),
            reason: e.to_string(),
        }
    })?[0]
        .address;
    let chain_config = agora_chain::Config {
        port: config.ports.chain,
        accounts: config.accounts,
        storage: match &config.data_dir {
            Some(dir) => Storage::DataDir(dir.join("chain")),
            None => Storage::Ephemeral,
        },
        genesis: agora_contracts::genesis(deployer),
        quiet: true,
        ..agora_chain::Config::default()
    };
    progress("starting the chain");
    let chain = agora_chain::spawn(chain_config)
        .await
        .map_err(|e| service("the chain", e))?;
    let accounts: Vec<DevAccount> = chain.dev_accounts().to_vec();
    let deployment = agora_contracts::Deployment::predict(deployer);
    let hub = deployment.hub;
    let rpc_url = chain.http_url().to_string();

    let setup_file = work.join("dev.json");
    let setup = match setup::read(&setup_file)? {
        Some(setup) if chain.restored() => setup,
        // A chain with blocks but no record of what they set up: the setup was cut short.
        // (A chain at its genesis block has nothing set up yet: the setup starts over.)
        None if chain.restored() && chain.block_number() > 0 => {
            return Err(Error::Incomplete {
                dir: config.data_dir.clone().unwrap_or_else(|| work.clone()),
                setup: setup_file,
            });
        }
        _ => {
            progress("first start: funding the accounts, creating the app and the workerpool");
            let setup = setup::run(&config, &rpc_url, &deployment, &accounts).await?;
            setup::write(&setup_file, &setup)?;
            setup
        }
    };

    let market = if config.market {
        let market = agora_market::serve(agora_market::Config {
            db: work.join("market.db"),
            listen: local(config.ports.market),
            rpc_url: rpc_url.clone(),
            hub,
            tick: Duration::from_secs(1),
        })
        .await
        .map_err(|e| service("the market", e))?;
        let client = agora_market::Client::new(market.url());
        client
            .publish_app(&setup.app_order)
            .await
            .map_err(|e| setup_error("publishing the app's order on the market", e))?;
        client
            .publish_workerpool(&setup.workerpool_order)
            .await
            .map_err(|e| setup_error("publishing the workerpool's order on the market", e))?;
        Some(market)
    } else {
        None
    };
    progress(&format!(
        "starting the result store, the scheduler and {} worker(s)",
        config.workers_started
    ));
    let results = agora_results::serve(agora_results::Config {
        dir: work.join("results"),
        listen: local(config.ports.results),
        rpc_url: rpc_url.clone(),
        hub,
        public_url: None,
        max_bytes: config.results_max_bytes,
    })
    .await
    .map_err(|e| service("the result store", e))?;
    let info = Info {
        data_dir: config.data_dir.clone(),
        restored: chain.restored(),
        chain_id: chain.chain_id(),
        rpc_url,
        ws_url: chain.ws_url().to_string(),
        market_url: market
            .as_ref()
            .map(|m| m.url().to_string())
            .unwrap_or_default(),
        results_url: results.url().to_string(),
        scheduler_url: String::new(),
        hub,
        token: deployment.token,
        app: setup.app,
        workerpool: setup.workerpool,
        workers: config
            .roles
            .workers
            .iter()
            .filter_map(|&i| accounts.get(i).map(|a| a.address))
            .collect(),
        accounts: accounts
            .iter()
            .enumerate()
            .map(|(index, account)| AccountInfo {
                index,
                role: config.roles.name(index),
                address: account.address,
                private_key: account.private_key(),
            })
            .collect(),
    };
    let mut network = Network {
        info,
        setup,
        scheduler_listen: local(config.ports.scheduler),
        workers: config.roles.workers.iter().map(|_| None).collect(),
        config,
        accounts,
        chain,
        market,
        results: Some(results),
        scheduler: None,
    };
    if network.config.scheduler_started {
        network.start_scheduler().await?;
        for i in 0..network.config.workers_started.min(network.workers.len()) {
            network.start_worker(i).await?;
        }
    }
    Ok(network)
}

impl Network {
    /// Starts (or restarts, on the same port) the scheduler.
    pub async fn start_scheduler(&mut self) -> Result<(), Error> {
        self.start_scheduler_with(|_| {}).await
    }

    /// Starts the scheduler with its configuration changed by `tune` after the network's own.
    pub async fn start_scheduler_with(
        &mut self,
        tune: impl FnOnce(&mut agora_scheduler::Config),
    ) -> Result<(), Error> {
        let signer = self.accounts[self.config.roles.scheduler].signer();
        let mut config = agora_scheduler::Config::new(
            self.info.rpc_url.clone(),
            self.info.hub,
            self.info.workerpool,
            signer,
            self.config.work_dir.join("scheduler.db"),
            self.info.results_url.clone(),
        );
        config.listen = self.scheduler_listen;
        (self.config.tune_scheduler)(&mut config);
        tune(&mut config);
        let scheduler = agora_scheduler::spawn(config)
            .await
            .map_err(|e| service("the scheduler", e))?;
        self.info.scheduler_url = scheduler.url().to_string();
        if let Some(addr) = scheduler
            .url()
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
        {
            self.scheduler_listen = addr;
        }
        self.scheduler = Some(scheduler);
        Ok(())
    }

    /// Kills the scheduler as a crash would (no clean stop).
    pub async fn kill_scheduler(&mut self) {
        if let Some(scheduler) = self.scheduler.take() {
            scheduler.kill().await;
        }
    }

    /// Starts worker `i` (account `roles.workers[i]`).
    pub async fn start_worker(&mut self, i: usize) -> Result<(), Error> {
        self.start_worker_with(i, |_| {}).await
    }

    /// Starts worker `i` with its configuration changed by `tune` after the network's own.
    pub async fn start_worker_with(
        &mut self,
        i: usize,
        tune: impl FnOnce(&mut DaemonConfig),
    ) -> Result<(), Error> {
        let Some(&index) = self.config.roles.workers.get(i) else {
            return Err(Error::Service {
                service: format!("worker {i}"),
                reason: format!("the network has {} workers", self.workers.len()),
            });
        };
        let mut config = DaemonConfig::new(
            self.info.scheduler_url.clone(),
            self.info.rpc_url.clone(),
            self.info.hub,
            self.accounts[index].signer(),
            self.config.work_dir.join(format!("worker-{index}")),
        );
        // One machine: apps, datasets and input files are files and loopback URLs.
        config.asset_fetch = agora_worker::FetchPolicy::local_development();
        config.input_fetch = agora_worker::FetchPolicy::local_development();
        (self.config.tune_worker)(&mut config);
        tune(&mut config);
        let worker = agora_worker::daemon::spawn(config)
            .await
            .map_err(|e| service(&format!("worker {index}"), e))?;
        self.workers[i] = Some(worker);
        Ok(())
    }

    /// Kills worker `i` as a crash would.
    pub async fn kill_worker(&mut self, i: usize) {
        if let Some(worker) = self.workers.get_mut(i).and_then(Option::take) {
            worker.kill().await;
        }
    }

    /// Worker `i`, if it runs.
    pub fn worker(&self, i: usize) -> Option<&DaemonHandle> {
        self.workers.get(i).and_then(Option::as_ref)
    }

    /// The chain's handle (its clock, its blocks).
    pub fn chain(&self) -> &agora_chain::Handle {
        &self.chain
    }

    /// The dev account `index`.
    pub fn account(&self, index: usize) -> Option<&DevAccount> {
        self.accounts.get(index)
    }

    /// The roles the accounts play.
    pub fn roles(&self) -> &Roles {
        &self.config.roles
    }

    /// Stops every service, the chain last.
    pub async fn stop(mut self) {
        for worker in self.workers.iter_mut().filter_map(Option::take) {
            worker.kill().await;
        }
        if let Some(scheduler) = self.scheduler.take() {
            scheduler.shutdown().await;
        }
        if let Some(results) = self.results.take() {
            results.shutdown().await;
        }
        if let Some(market) = self.market.take() {
            market.shutdown().await;
        }
        self.chain.shutdown().await;
    }
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn service(service: &str, error: impl std::fmt::Display) -> Error {
    Error::Service {
        service: service.into(),
        reason: error.to_string(),
    }
}

fn setup_error(what: &str, error: impl std::fmt::Display) -> Error {
    Error::Setup {
        what: what.into(),
        reason: error.to_string(),
    }
}
