//! `agora results`, `agora scheduler`, `agora worker`: a workerpool's services.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use alloy_primitives::Address;
use alloy_signer_local::PrivateKeySigner;
use anyhow::{Context, Result};

/// The hub of the embedded dev chain (`agora chain`'s genesis).
pub(crate) fn dev_hub() -> Address {
    let deployer = agora_chain::derive_dev_accounts(agora_chain::DEV_MNEMONIC, 1)
        .map(|accounts| accounts[0].address)
        .unwrap_or_default();
    agora_contracts::Deployment::predict(deployer).hub
}

/// Where the services meet the chain.
#[derive(Debug, clap::Args)]
pub(crate) struct ChainArgs {
    /// The chain's JSON-RPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8545", env = "AGORA_RPC_URL")]
    pub(crate) rpc_url: String,
    /// The hub's address (default: the embedded dev chain's).
    #[arg(long, env = "AGORA_HUB")]
    hub: Option<Address>,
}

impl ChainArgs {
    pub(crate) fn hub(&self) -> Address {
        self.hub.unwrap_or_else(dev_hub)
    }
}

/// Whose key signs: `--key` (or `AGORA_KEY`), a dev account, or a wallet file (keystore v3;
/// by default ~/.agora/wallet.json).
#[derive(Debug, clap::Args)]
pub(crate) struct KeyArgs {
    /// The private key (hex). Prefer the environment variable to the command line.
    #[arg(
        long,
        env = "AGORA_KEY",
        hide_env_values = true,
        conflicts_with = "dev_account"
    )]
    key: Option<String>,
    /// Use dev account N of the dev chain's mnemonic instead (for local networks).
    #[arg(long, value_name = "N")]
    dev_account: Option<u32>,
    /// A wallet file (keystore v3; the password from AGORA_WALLET_PASSWORD or asked for),
    /// used when neither --key nor --dev-account is given. Default: ~/.agora/wallet.json,
    /// when there is one.
    #[arg(long, env = "AGORA_WALLET")]
    wallet: Option<PathBuf>,
}

impl KeyArgs {
    pub(crate) fn signer(&self) -> Result<PrivateKeySigner> {
        if let Some(key) = &self.key {
            return key.trim().parse().context("--key is not a hex private key");
        }
        if let Some(n) = self.dev_account {
            let accounts = agora_chain::derive_dev_accounts(agora_chain::DEV_MNEMONIC, n + 1)
                .context("the dev mnemonic")?;
            return Ok(accounts[n as usize].signer());
        }
        let wallet = match &self.wallet {
            Some(path) => path.clone(),
            None => {
                let path = crate::wallet::default_file()?;
                if !path.exists() {
                    anyhow::bail!(
                        "give a key: --key (or AGORA_KEY), --dev-account N, or a wallet (agora wallet create; --wallet)"
                    );
                }
                path
            }
        };
        crate::wallet::open(&wallet)
    }
}

/// Options of `agora results`.
#[derive(Debug, clap::Args)]
pub(crate) struct ResultsArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7800", env = "AGORA_RESULTS_LISTEN")]
    listen: SocketAddr,
    /// Where the archives are kept. Default: ~/.agora/results.
    #[arg(long, env = "AGORA_RESULTS_DIR")]
    dir: Option<PathBuf>,
    /// The URL clients reach the store at (default: http://<listen>).
    #[arg(long, env = "AGORA_RESULTS_PUBLIC_URL")]
    public_url: Option<String>,
    /// The largest archive accepted, in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    max_bytes: usize,
    /// Print where the service runs as one JSON object on stdout once it is up.
    #[arg(long)]
    json: bool,
}

/// Options of `agora scheduler`.
#[derive(Debug, clap::Args)]
pub(crate) struct SchedulerArgs {
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// The workerpool this scheduler runs (its owner's key signs).
    #[arg(long, env = "AGORA_SCHEDULER_WORKERPOOL")]
    workerpool: Address,
    /// Address of the worker API.
    #[arg(long, default_value = "127.0.0.1:7700", env = "AGORA_SCHEDULER_LISTEN")]
    listen: SocketAddr,
    /// The database file. Default: ~/.agora/scheduler/<workerpool>.db.
    #[arg(long, env = "AGORA_SCHEDULER_DB")]
    db: Option<PathBuf>,
    /// The result store the workers upload to.
    #[arg(
        long,
        default_value = "http://127.0.0.1:7800",
        env = "AGORA_SCHEDULER_RESULT_STORE"
    )]
    result_store: String,
    /// Only these workers may log in (repeat); default: anyone.
    #[arg(long = "allow-worker", value_name = "ADDRESS")]
    workers: Vec<Address>,
    /// Seconds without news after which a worker's running replicates go to others.
    #[arg(long, default_value_t = 30)]
    worker_lost_after: u64,
    /// Print where the service runs as one JSON object on stdout once it is up.
    #[arg(long)]
    json: bool,
}

/// Options of `agora worker`.
#[derive(Debug, clap::Args)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// The scheduler's URL (also read from AGORA_SCHEDULER_URL, as `agora run` does, when
    /// AGORA_WORKER_SCHEDULER is not set). Default: http://127.0.0.1:7700.
    #[arg(long, env = "AGORA_WORKER_SCHEDULER")]
    scheduler: Option<String>,
    /// Where replicates run. Default: ~/.agora/worker/<address>.
    #[arg(long, env = "AGORA_WORKER_DIR")]
    dir: Option<PathBuf>,
    /// How many replicates run at once.
    #[arg(long, default_value_t = 2, env = "AGORA_WORKER_SLOTS")]
    slots: usize,
    /// Read file:// URLs (apps, datasets, input files) from this machine's disk. For a
    /// worker in local development only: any requester could read any file the worker can.
    #[arg(long, env = "AGORA_WORKER_ALLOW_FILE_URLS")]
    allow_file_urls: bool,
    /// A network that is not public (loopback, private, link-local, ...) the worker may
    /// still fetch from, as 10.1.0.0/16 or fd00::/8; repeat it, or separate with commas.
    /// Public addresses are always allowed; by default nothing else is.
    #[arg(
        long = "allow-network",
        value_name = "CIDR",
        value_delimiter = ',',
        env = "AGORA_WORKER_ALLOW_NETWORKS"
    )]
    allow_networks: Vec<agora_worker::IpNetwork>,
    /// Print where the service runs as one JSON object on stdout once it is up.
    #[arg(long)]
    json: bool,
}

/// What a worker fetches from, in words.
fn fetches(files: bool, networks: &[agora_worker::IpNetwork]) -> String {
    let mut from = vec!["public http(s)".to_string()];
    from.extend(networks.iter().map(ToString::to_string));
    if files {
        from.push("file:// URLs".into());
    }
    from.join(", ")
}

fn home(sub: &str) -> Result<PathBuf> {
    let home = std::env::var_os("HOME").context("HOME is not set: give the directory")?;
    Ok(PathBuf::from(home).join(".agora").join(sub))
}

/// Says the service is up: a line on stderr, and with `--json` its facts on stdout.
#[allow(
    clippy::print_stdout,
    reason = "with --json, the facts are the command's output"
)]
fn started(json: bool, line: String, facts: serde_json::Value) {
    eprintln!("{line}");
    if json {
        println!("{facts}");
        let _ = std::io::Write::flush(&mut std::io::stdout());
    }
}

async fn until_interrupted() -> Result<()> {
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    eprintln!("stopping");
    Ok(())
}

pub(crate) async fn results(args: ResultsArgs) -> Result<()> {
    let dir = match args.dir {
        Some(dir) => dir,
        None => home("results")?,
    };
    let handle = agora_results::serve(agora_results::Config {
        dir: dir.clone(),
        listen: args.listen,
        rpc_url: args.chain.rpc_url.clone(),
        hub: args.chain.hub(),
        public_url: args.public_url,
        max_bytes: args.max_bytes,
    })
    .await
    .context("cannot start the result store")?;
    started(
        args.json,
        format!(
            "result store on {} (archives in {}, chain {})",
            handle.url(),
            dir.display(),
            args.chain.rpc_url
        ),
        serde_json::json!({"url": handle.url(), "dir": dir, "rpcUrl": args.chain.rpc_url}),
    );
    until_interrupted().await?;
    handle.shutdown().await;
    Ok(())
}

pub(crate) async fn scheduler(args: SchedulerArgs) -> Result<()> {
    let key = args.key.signer()?;
    let db = match args.db {
        Some(db) => db,
        None => home("scheduler")?.join(format!("{}.db", args.workerpool)),
    };
    let mut config = agora_scheduler::Config::new(
        args.chain.rpc_url.clone(),
        args.chain.hub(),
        args.workerpool,
        key,
        db.clone(),
        args.result_store.clone(),
    );
    config.listen = args.listen;
    config.workers = (!args.workers.is_empty()).then_some(args.workers);
    config.worker_lost_after = Duration::from_secs(args.worker_lost_after);
    let handle = agora_scheduler::spawn(config)
        .await
        .context("cannot start the scheduler")?;
    started(
        args.json,
        format!(
            "scheduler of workerpool {} on {} (account {}, database {}, results to {})",
            args.workerpool,
            handle.url(),
            handle.address(),
            db.display(),
            args.result_store
        ),
        serde_json::json!({
            "url": handle.url(),
            "workerpool": args.workerpool,
            "account": handle.address(),
            "db": db,
            "resultStore": args.result_store,
        }),
    );
    until_interrupted().await?;
    handle.shutdown().await;
    Ok(())
}

pub(crate) async fn worker(args: WorkerArgs) -> Result<()> {
    let scheduler = args
        .scheduler
        .clone()
        .or_else(|| std::env::var("AGORA_SCHEDULER_URL").ok())
        .unwrap_or_else(|| "http://127.0.0.1:7700".to_string());
    let key = args.key.signer()?;
    let address = key.address();
    let dir = match args.dir {
        Some(dir) => dir,
        None => home("worker")?.join(address.to_string()),
    };
    let mut config = agora_worker::daemon::DaemonConfig::new(
        scheduler.clone(),
        args.chain.rpc_url.clone(),
        args.chain.hub(),
        key,
        dir.clone(),
    );
    config.slots = args.slots;
    let policy = agora_worker::FetchPolicy {
        allow_file_urls: args.allow_file_urls,
        allowed_networks: args.allow_networks.clone(),
        ..agora_worker::FetchPolicy::default()
    };
    config.asset_fetch = policy.clone();
    config.input_fetch = policy;
    let handle = agora_worker::daemon::spawn(config)
        .await
        .context("cannot start the worker")?;
    started(
        args.json,
        format!(
            "worker {address} for {scheduler} ({} slots, in {}; fetches {})",
            args.slots,
            dir.display(),
            fetches(args.allow_file_urls, &args.allow_networks),
        ),
        serde_json::json!({
            "address": address,
            "scheduler": scheduler,
            "slots": args.slots,
            "dir": dir,
            "allowFileUrls": args.allow_file_urls,
            "allowNetworks": args.allow_networks.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
    );
    until_interrupted().await?;
    handle.kill().await;
    Ok(())
}

/// Options of `agora market`.
#[derive(Debug, clap::Args)]
pub(crate) struct MarketArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// Address of the market's API.
    #[arg(long, default_value = "127.0.0.1:7600", env = "AGORA_MARKET_LISTEN")]
    listen: SocketAddr,
    /// The order book (SQLite). Default: ~/.agora/market.db.
    #[arg(long, env = "AGORA_MARKET_DB")]
    db: Option<PathBuf>,
    /// Print where the service runs as one JSON object on stdout once it is up.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn market(args: MarketArgs) -> Result<()> {
    let db = match args.db {
        Some(db) => db,
        None => home("market.db")?,
    };
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let handle = agora_market::serve(agora_market::Config {
        db: db.clone(),
        listen: args.listen,
        rpc_url: args.chain.rpc_url.clone(),
        hub: args.chain.hub(),
        tick: Duration::from_secs(1),
    })
    .await
    .context("cannot start the market")?;
    started(
        args.json,
        format!(
            "market on {} (order book {}, chain {})",
            handle.url(),
            db.display(),
            args.chain.rpc_url
        ),
        serde_json::json!({"url": handle.url(), "db": db, "rpcUrl": args.chain.rpc_url}),
    );
    until_interrupted().await?;
    handle.shutdown().await;
    Ok(())
}
