//! The `agora` command line.

mod account;
mod app;
mod assets;
mod book;
mod chain;
mod conn;
mod demo;
mod dev;
mod market;
mod order;
mod pool;
mod run;
mod tasks;
mod wallet;

use clap::{Parser, Subcommand};

/// Agora: a decentralized marketplace for computing.
#[derive(Debug, Parser)]
#[command(name = "agora", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The main job: start the whole network locally and run a real task end to end.
    Demo(demo::Args),
    /// Run the whole network in one process (chain, market, results, a workerpool with
    /// three workers), the demo app published; its state survives a restart.
    Dev(dev::Args),
    /// Run an app: the cheapest compatible orders are matched, the task followed, its
    /// result downloaded.
    Run(Box<run::Args>),
    /// The account on the hub: deposit, withdraw, balance.
    #[command(subcommand)]
    Account(account::Args),
    /// A task: show, watch, claim, download.
    #[command(subcommand)]
    Task(tasks::Args),
    /// A deal (each of its tasks): show, watch, claim, download.
    #[command(subcommand)]
    Deal(tasks::Args),
    /// Keys in keystore v3 files: create, import, show, send RLC.
    #[command(subcommand)]
    Wallet(wallet::Args),
    /// Run the embedded EVM chain with its JSON-RPC server.
    Chain(chain::Args),
    /// Orders: create, hash, sign (EIP-712, as the PoCo contracts check them), publish, show,
    /// cancel.
    #[command(subcommand)]
    Order(order::Args),
    /// Apps: try one locally in the workers' sandbox, deploy, show, list, transfer.
    #[command(subcommand)]
    App(app::Args),
    /// Datasets: deploy, show, list, transfer.
    #[command(subcommand)]
    Dataset(assets::Args),
    /// Workerpools: deploy, show, list, transfer.
    #[command(subcommand)]
    Workerpool(assets::Args),
    /// Run a market: the off-chain order book, following the chain.
    Market(pool::MarketArgs),
    /// Run a result store: workers upload task results, requesters download them.
    Results(pool::ResultsArgs),
    /// Run a workerpool's scheduler.
    Scheduler(pool::SchedulerArgs),
    /// Run a worker for a scheduler.
    Worker(pool::WorkerArgs),
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().map_err(anyhow::Error::from)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Colours only for a person at a terminal: a log file or a pipe gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AGORA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let result = match cli.command {
        Command::Chain(args) => tokio::runtime::Runtime::new()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| runtime.block_on(chain::run(args))),
        Command::Demo(args) => runtime().and_then(|r| r.block_on(demo::run(args))),
        Command::Dev(args) => runtime().and_then(|r| r.block_on(dev::run(args))),
        Command::Run(args) => runtime().and_then(|r| r.block_on(run::command(*args))),
        Command::Dataset(args) => {
            runtime().and_then(|r| r.block_on(assets::run(assets::Kind::Dataset, args)))
        }
        Command::Workerpool(args) => {
            runtime().and_then(|r| r.block_on(assets::run(assets::Kind::Workerpool, args)))
        }
        Command::Task(args) | Command::Deal(args) => {
            runtime().and_then(|r| r.block_on(tasks::run(args)))
        }
        Command::Account(args) => runtime().and_then(|r| r.block_on(account::run(args))),
        Command::Wallet(args) => runtime().and_then(|r| r.block_on(wallet::run(args))),
        Command::Market(args) => runtime().and_then(|r| r.block_on(pool::market(args))),
        Command::Results(args) => runtime().and_then(|r| r.block_on(pool::results(args))),
        Command::Scheduler(args) => runtime().and_then(|r| r.block_on(pool::scheduler(args))),
        Command::Worker(args) => runtime().and_then(|r| r.block_on(pool::worker(args))),
        Command::Order(args) => order::run(args),
        Command::App(args) => app::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // The chain of causes on one line: "what failed: why".
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
