//! The `agora` command line.

mod app;
mod chain;
mod order;
mod pool;

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
    /// Run the embedded EVM chain with its JSON-RPC server.
    Chain(chain::Args),
    /// Hash and sign orders (EIP-712, as the PoCo contracts check them).
    #[command(subcommand)]
    Order(order::Args),
    /// Try apps locally, in the workers' sandbox.
    #[command(subcommand)]
    App(app::Args),
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
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AGORA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let result = match cli.command {
        Command::Chain(args) => tokio::runtime::Runtime::new()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| runtime.block_on(chain::run(args))),
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
