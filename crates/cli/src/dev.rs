//! `agora dev`: the whole network in one process on the embedded chain: the chain, the
//! market, the result store, one workerpool with its scheduler and three workers, the demo app
//! published with its orders. Its state lives in a data directory and survives a restart.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use agora_chain::{DevAccount, Storage};
use agora_primitives::{AppOrder, Nrlc, Order, Signed, Tag, WorkerpoolOrder};
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::conn::{Conn, rlc};

/// The demo app, `examples/hello` (it writes `Hello, <args>!` to `result.txt`).
const HELLO_WASM: &[u8] = include_bytes!("../../../examples/hello/hello.wasm");

/// The dev accounts' roles (indices of the dev mnemonic's accounts).
pub(crate) mod role {
    /// Deploys the protocol at genesis and holds the token's supply.
    pub(crate) const ADMIN: usize = 0;
    /// Owns the demo app.
    pub(crate) const APP_DEVELOPER: usize = 1;
    /// Owns the workerpool and runs its scheduler.
    pub(crate) const SCHEDULER: usize = 2;
    /// The workers.
    pub(crate) const WORKERS: [usize; 3] = [3, 4, 5];
    /// Requests tasks: what `agora run --dev-account 6` uses.
    pub(crate) const REQUESTER: usize = 6;
    /// How many accounts the chain funds.
    pub(crate) const ACCOUNTS: u32 = 10;
}

/// RLC each non-admin dev account is given.
const GIVEN_RLC: u64 = 10_000;
/// RLC the scheduler and the workers deposit, for their stakes.
const STAKED_RLC: u64 = 1_000;
/// The demo app's price and the workerpool's, per task.
const APP_PRICE: u64 = 100_000_000; // 0.1 RLC
const WORKERPOOL_PRICE: u64 = 500_000_000; // 0.5 RLC
/// The highest trust the dev workerpool offers.
const WORKERPOOL_TRUST: u64 = 100;
/// The volume of the published orders.
const ORDER_VOLUME: u64 = 1_000_000;

/// Where the network's services listen.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ports {
    pub(crate) chain: u16,
    pub(crate) market: u16,
    pub(crate) results: u16,
    pub(crate) scheduler: u16,
}

impl Ports {
    /// `agora dev`'s defaults.
    pub(crate) const DEFAULT: Self = Self {
        chain: 8545,
        market: 7600,
        results: 7800,
        scheduler: 7700,
    };

    /// Free ports, picked by the system.
    pub(crate) const ANY: Self = Self {
        chain: 0,
        market: 0,
        results: 0,
        scheduler: 0,
    };

    /// Fails, naming the port and its service, if one of the fixed ports is taken: checked
    /// before anything is written, so that a busy port leaves no half-made data directory.
    fn check_free(&self) -> Result<()> {
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
                anyhow::bail!(
                    "port {port} for {service} is not free ({e}): stop what uses it, or give \
                     {flag} (0 picks a free one)"
                );
            }
        }
        Ok(())
    }
}

/// Options of `agora dev`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where the network keeps its state (chain, market, results, scheduler, workers).
    /// Default: ~/.agora/dev.
    #[arg(long, env = "AGORA_DEV_DIR")]
    dir: Option<PathBuf>,
    /// Start from nothing: delete the data directory first.
    #[arg(long)]
    reset: bool,
    /// Port of the chain's JSON-RPC (HTTP and WebSocket).
    #[arg(long, default_value_t = Ports::DEFAULT.chain)]
    chain_port: u16,
    /// Port of the market's API.
    #[arg(long, default_value_t = Ports::DEFAULT.market)]
    market_port: u16,
    /// Port of the result store.
    #[arg(long, default_value_t = Ports::DEFAULT.results)]
    results_port: u16,
    /// Port of the scheduler's worker API.
    #[arg(long, default_value_t = Ports::DEFAULT.scheduler)]
    scheduler_port: u16,
    /// Print the network's description as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// What the dev network set up once, kept in `dev.json` next to its state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Setup {
    app: Address,
    workerpool: Address,
    app_order: Signed<AppOrder>,
    workerpool_order: Signed<WorkerpoolOrder>,
}

/// One funded account, as printed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountInfo {
    pub(crate) index: usize,
    pub(crate) role: &'static str,
    pub(crate) address: Address,
    pub(crate) private_key: B256,
}

/// The running network, as printed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Info {
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) restored: bool,
    pub(crate) chain_id: u64,
    pub(crate) rpc_url: String,
    pub(crate) ws_url: String,
    pub(crate) market_url: String,
    pub(crate) results_url: String,
    pub(crate) scheduler_url: String,
    pub(crate) hub: Address,
    pub(crate) token: Address,
    pub(crate) app: Address,
    pub(crate) workerpool: Address,
    pub(crate) workers: Vec<Address>,
    pub(crate) accounts: Vec<AccountInfo>,
}

/// The network, running.
#[derive(Debug)]
pub(crate) struct DevNet {
    pub(crate) info: Info,
    chain: agora_chain::Handle,
    market: agora_market::Handle,
    results: agora_results::Handle,
    scheduler: agora_scheduler::Handle,
    workers: Vec<agora_worker::daemon::DaemonHandle>,
}

fn role_name(index: usize) -> &'static str {
    match index {
        role::ADMIN => "admin (deployed the protocol, holds the RLC supply)",
        role::APP_DEVELOPER => "app developer (owns the demo app)",
        role::SCHEDULER => "workerpool owner (runs the scheduler)",
        i if role::WORKERS.contains(&i) => "worker",
        role::REQUESTER => "requester",
        _ => "spare",
    }
}

impl DevNet {
    /// Starts the network with its state in `dir` (`None`: in memory and a temporary
    /// directory, gone at the end), reporting progress on stderr.
    pub(crate) async fn start(dir: Option<&Path>, ports: Ports, work: &Path) -> Result<Self> {
        let progress = |what: &str| eprintln!("agora dev: {what}");
        ports.check_free()?;
        std::fs::create_dir_all(work)
            .with_context(|| format!("cannot create {}", work.display()))?;
        let deployer = agora_chain::derive_dev_accounts(agora_chain::DEV_MNEMONIC, 1)
            .context("the dev mnemonic")?[0]
            .address;
        let config = agora_chain::Config {
            port: ports.chain,
            accounts: role::ACCOUNTS,
            storage: match dir {
                Some(dir) => Storage::DataDir(dir.join("chain")),
                None => Storage::Ephemeral,
            },
            genesis: agora_contracts::genesis(deployer),
            quiet: true,
            ..agora_chain::Config::default()
        };
        progress("starting the chain");
        let chain = agora_chain::spawn(config)
            .await
            .context("the chain did not start")?;
        let accounts: Vec<DevAccount> = chain.dev_accounts().to_vec();
        let hub = agora_contracts::Deployment::predict(deployer).hub;
        let rpc_url = chain.http_url();
        let admin = Conn::connect(&rpc_url, hub, accounts[role::ADMIN].signer()).await?;

        let setup_file = work.join("dev.json");
        let setup = match read_setup(&setup_file)? {
            Some(setup) if chain.restored() => setup,
            // A chain with blocks but no record of what they set up: the setup was cut short.
            // (A chain at its genesis block has nothing set up yet: the setup starts over.)
            None if chain.restored() && chain.block_number() > 0 => anyhow::bail!(
                "{} holds a chain but not {}: the state is incomplete; start again with --reset",
                dir.map_or(work, |d| d).display(),
                setup_file.display()
            ),
            _ => {
                progress(
                    "first start: funding the accounts, creating the demo app and the workerpool",
                );
                let setup = set_up(&admin, &accounts, work).await?;
                let json = serde_json::to_vec_pretty(&setup).unwrap_or_default();
                std::fs::write(&setup_file, json)
                    .with_context(|| format!("cannot write {}", setup_file.display()))?;
                setup
            }
        };

        progress("starting the market, the result store, the scheduler and 3 workers");
        let market = agora_market::serve(agora_market::Config {
            db: work.join("market.db"),
            listen: local(ports.market),
            rpc_url: rpc_url.clone(),
            hub,
            tick: Duration::from_secs(1),
        })
        .await
        .context("the market did not start")?;
        let client = agora_market::Client::new(market.url());
        client
            .publish_app(&setup.app_order)
            .await
            .context("the market refused the demo app's order")?;
        client
            .publish_workerpool(&setup.workerpool_order)
            .await
            .context("the market refused the workerpool's order")?;
        let results = agora_results::serve(agora_results::Config {
            dir: work.join("results"),
            listen: local(ports.results),
            rpc_url: rpc_url.clone(),
            hub,
            public_url: None,
            max_bytes: 64 << 20,
        })
        .await
        .context("the result store did not start")?;
        let mut config = agora_scheduler::Config::new(
            rpc_url.clone(),
            hub,
            setup.workerpool,
            accounts[role::SCHEDULER].signer(),
            work.join("scheduler.db"),
            results.url().to_string(),
        );
        config.listen = local(ports.scheduler);
        config.tick = Duration::from_millis(250);
        config.quiet = true;
        let scheduler = agora_scheduler::spawn(config)
            .await
            .context("the scheduler did not start")?;
        let mut workers = Vec::new();
        for index in role::WORKERS {
            let mut config = agora_worker::daemon::DaemonConfig::new(
                scheduler.url().to_string(),
                rpc_url.clone(),
                hub,
                accounts[index].signer(),
                work.join(format!("worker-{index}")),
            );
            config.ask_wait = Duration::from_secs(5);
            // One machine: apps, datasets and input files are files and loopback URLs.
            config.asset_fetch = agora_worker::FetchPolicy::local_development();
            config.input_fetch = agora_worker::FetchPolicy::local_development();
            workers.push(
                agora_worker::daemon::spawn(config)
                    .await
                    .with_context(|| format!("worker {index} did not start"))?,
            );
        }
        let info = Info {
            data_dir: dir.map(Path::to_path_buf),
            restored: chain.restored(),
            chain_id: chain.chain_id(),
            rpc_url,
            ws_url: chain.ws_url(),
            market_url: market.url().to_string(),
            results_url: results.url().to_string(),
            scheduler_url: scheduler.url().to_string(),
            hub,
            token: admin.token,
            app: setup.app,
            workerpool: setup.workerpool,
            workers: workers.iter().map(|w| w.address()).collect(),
            accounts: accounts
                .iter()
                .enumerate()
                .map(|(index, account)| AccountInfo {
                    index,
                    role: role_name(index),
                    address: account.address,
                    private_key: account.private_key(),
                })
                .collect(),
        };
        Ok(Self {
            info,
            chain,
            market,
            results,
            scheduler,
            workers,
        })
    }

    /// Stops every service, the chain last.
    pub(crate) async fn stop(self) {
        for worker in self.workers {
            worker.kill().await;
        }
        self.scheduler.shutdown().await;
        self.results.shutdown().await;
        self.market.shutdown().await;
        self.chain.shutdown().await;
    }
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn read_setup(path: &Path) -> Result<Option<Setup>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).with_context(|| {
            format!(
                "{} is not the dev network's setup: use --reset",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Funds the accounts, stakes, creates the demo app and the workerpool, and signs their orders.
async fn set_up(admin: &Conn, accounts: &[DevAccount], work: &Path) -> Result<Setup> {
    let unit = U256::from(1_000_000_000u64);
    let token = admin.token();
    for (index, account) in accounts.iter().enumerate().skip(1) {
        admin
            .send(
                &format!("giving {GIVEN_RLC} RLC to account {index}"),
                token.transfer(account.address, U256::from(GIVEN_RLC) * unit),
            )
            .await?;
    }
    for index in std::iter::once(role::SCHEDULER).chain(role::WORKERS) {
        let conn = Conn::connect(&admin.rpc_url, admin.hub, accounts[index].signer()).await?;
        let amount = U256::from(STAKED_RLC) * unit;
        conn.send(
            &format!("depositing {} for account {index}", rlc(amount)),
            conn.token().approveAndCall(conn.hub, amount, Bytes::new()),
        )
        .await?;
    }
    let apps_dir = work.join("apps");
    std::fs::create_dir_all(&apps_dir)
        .with_context(|| format!("cannot create {}", apps_dir.display()))?;
    let module = apps_dir.join("hello.wasm");
    std::fs::write(&module, HELLO_WASM)
        .with_context(|| format!("cannot write {}", module.display()))?;
    let module = module
        .canonicalize()
        .with_context(|| format!("{}", module.display()))?;
    let checksum = B256::from(<[u8; 32]>::from(Sha256::digest(HELLO_WASM)));
    let developer = &accounts[role::APP_DEVELOPER];
    let apps = admin.apps();
    let create = apps.createApp(
        developer.address,
        "hello".into(),
        "WASM".into(),
        Bytes::from(format!("file://{}", module.display()).into_bytes()),
        checksum,
        Bytes::new(),
    );
    let app = create.call().await.context("predicting the demo app")?;
    admin.send("creating the demo app", create).await?;
    let owner = &accounts[role::SCHEDULER];
    let pools = admin.workerpools();
    let create = pools.createWorkerpool(owner.address, "Agora dev workerpool".into());
    let workerpool = create.call().await.context("predicting the workerpool")?;
    admin.send("creating the workerpool", create).await?;
    // Salts from the app's address and the data directory: another network, other orders.
    let salt = |what: &str| {
        keccak256(
            [
                app.as_slice(),
                work.as_os_str().as_encoded_bytes(),
                what.as_bytes(),
            ]
            .concat(),
        )
    };
    let app_order = AppOrder {
        app,
        appprice: Nrlc::new(U256::from(APP_PRICE)),
        volume: U256::from(ORDER_VOLUME),
        tag: Tag::default(),
        salt: salt("app order"),
        ..AppOrder::default()
    }
    .sign(&admin.domain, &developer.signer())
    .context("signing the app order")?;
    let workerpool_order = WorkerpoolOrder {
        workerpool,
        workerpoolprice: Nrlc::new(U256::from(WORKERPOOL_PRICE)),
        volume: U256::from(ORDER_VOLUME),
        tag: Tag::default(),
        category: U256::ZERO,
        trust: U256::from(WORKERPOOL_TRUST),
        salt: salt("workerpool order"),
        ..WorkerpoolOrder::default()
    }
    .sign(&admin.domain, &owner.signer())
    .context("signing the workerpool order")?;
    Ok(Setup {
        app,
        workerpool,
        app_order,
        workerpool_order,
    })
}

/// Prints the network for people (stdout), or as JSON.
#[allow(
    clippy::print_stdout,
    reason = "the description is the command's output"
)]
pub(crate) fn print_info(info: &Info, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(info).unwrap_or_default());
        return;
    }
    let mut out = String::new();
    out.push_str("\nAgora dev network\n=================\n\n");
    match &info.data_dir {
        Some(dir) => out.push_str(&format!(
            "State:      {} ({})\n",
            dir.display(),
            if info.restored { "restored" } else { "new" }
        )),
        None => out.push_str("State:      in memory\n"),
    }
    out.push_str(&format!(
        "Chain:      {} (WebSocket {}), chain id {}\n",
        info.rpc_url, info.ws_url, info.chain_id
    ));
    out.push_str(&format!("Market:     {}\n", info.market_url));
    out.push_str(&format!("Results:    {}\n", info.results_url));
    out.push_str(&format!("Scheduler:  {}\n", info.scheduler_url));
    out.push_str(&format!(
        "Hub:        {}\nToken:      {}\n",
        info.hub, info.token
    ));
    out.push_str(&format!(
        "Demo app:   {} (hello: writes Hello, <args>!)\n",
        info.app
    ));
    out.push_str(&format!("Workerpool: {} (3 workers)\n\n", info.workerpool));
    out.push_str("Accounts (keys are public knowledge: never use them on a real chain)\n");
    for account in &info.accounts {
        out.push_str(&format!(
            "({}) {} {}  {}\n",
            account.index, account.address, account.private_key, account.role
        ));
    }
    out.push_str(&format!(
        "\nTry: agora run {} --args \"you\" --dev-account {}\n",
        info.app,
        role::REQUESTER
    ));
    print!("{out}");
    let _ = std::io::Write::flush(&mut std::io::stdout());
}

fn default_dir() -> Result<PathBuf> {
    let home = std::env::var_os("HOME").context("HOME is not set: give --dir")?;
    Ok(PathBuf::from(home).join(".agora").join("dev"))
}

pub(crate) async fn run(args: Args) -> Result<()> {
    let dir = match args.dir {
        Some(dir) => dir,
        None => default_dir()?,
    };
    if args.reset && dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot delete {}", dir.display()))?;
    }
    let ports = Ports {
        chain: args.chain_port,
        market: args.market_port,
        results: args.results_port,
        scheduler: args.scheduler_port,
    };
    let net = DevNet::start(Some(&dir), ports, &dir).await?;
    print_info(&net.info, args.json);
    eprintln!(
        "agora dev: running; Ctrl-C stops it (the state stays in {})",
        dir.display()
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    eprintln!("agora dev: stopping");
    net.stop().await;
    Ok(())
}
