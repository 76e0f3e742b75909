//! `agora dev`: the whole network in one process on the embedded chain (the chain, the
//! market, the result store, one workerpool with its scheduler and three workers, the demo app
//! published with its orders), started by `agora-network`. Its state lives in a data directory
//! and survives a restart.

use std::path::PathBuf;

use agora_network::{Config, Info, Network, Ports};
use anyhow::{Context, Result};

/// The account `agora run --dev-account` uses in the printed hint, and `agora demo` requests as.
pub(crate) fn requester() -> usize {
    agora_network::Roles::dev().requester
}

/// Starts the network described by `config`, naming what failed.
pub(crate) async fn start(config: Config) -> Result<Network> {
    agora_network::spawn(config)
        .await
        .context("the dev network did not start")
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
        requester()
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
    let net = start(Config {
        ports,
        ..Config::dev(&dir)
    })
    .await?;
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
