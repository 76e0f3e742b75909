//! Cold restart benchmark: the time from `agora_chain::spawn` on a data directory holding
//! 100,000 blocks until the node answers `eth_blockNumber`.
//!
//! ```sh
//! cargo run --release -p agora-chain --example restart -- --blocks 100000 --runs 5
//! ```
//!
//! The data directory is generated once through the public API (a durable chain fed signed
//! ETH transfers over JSON-RPC, one block each) and cached under `target/restart-<blocks>/`;
//! reruns skip generation. Each run measures twice: with the block log in the page cache
//! (`warm`), and after evicting that file from it with `dd iflag=nocache` (`cold`, as after a
//! reboot). With `--agora-bin`, it also times the `agora chain` process end to end.
//!
//! Progress goes to stderr; the result (Markdown) to stdout.

#[path = "support/client.rs"]
#[allow(dead_code, reason = "each example uses a part of the shared client")]
mod client;

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use agora_chain::Config;
use alloy_primitives::{Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use anyhow::{Context, bail, ensure};
use clap::Parser;
use client::Rpc;

/// Cold restart benchmark for `agora_chain::spawn`.
#[derive(Debug, Parser)]
struct Args {
    /// Blocks in the data directory.
    #[arg(long, default_value_t = 100_000)]
    blocks: u64,
    /// Measured restarts; the result gives the median.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Requests in flight while generating the blocks.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Where the generated data directory is cached (default `target/restart-<blocks>`).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Also time `agora chain --data-dir` as a process, with this binary
    /// (e.g. target/release/agora).
    #[arg(long)]
    agora_bin: Option<PathBuf>,
}

const SENDERS: usize = 64;

fn log_size(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("chain.log")).map_or(0, |m| m.len())
}

/// Fills `dir` with a chain of at least `blocks` blocks, one ETH transfer each.
async fn generate(dir: &Path, blocks: u64, concurrency: usize) -> anyhow::Result<()> {
    let mut config = Config::test().with_data_dir(dir);
    config.accounts = SENDERS as u32;
    let handle = agora_chain::spawn(config).await?;
    let head = handle.block_number();
    if head >= blocks {
        handle.shutdown().await;
        return Ok(());
    }
    let missing = (blocks - head) as usize;
    eprintln!(
        "generating {missing} blocks in {} (head {head})",
        dir.display()
    );
    let rpc = Rpc::new(handle.http_url())?;
    let senders: Vec<PrivateKeySigner> = handle.dev_accounts().iter().map(|a| a.signer()).collect();
    let mut nonces = Vec::with_capacity(senders.len());
    for s in &senders {
        nonces.push(rpc.nonce(s.address()).await?);
    }
    let chain_id = handle.chain_id();
    let per_sender = client::split(missing, senders.len());
    let started = Instant::now();
    let txs = client::sign_all(&senders, &nonces, &per_sender, |s, i, nonce| {
        client::transaction(
            chain_id,
            nonce,
            TxKind::Call(client::recipient(s + i)),
            U256::from(1u64),
            Bytes::new(),
            client::ETH_TRANSFER_GAS,
        )
    })?;
    eprintln!(
        "signed {missing} transfers in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let outcome = client::run_pipeline(
        &rpc,
        txs,
        concurrency,
        Duration::from_millis(1),
        Some(|n| eprintln!("  {n} blocks")),
    )
    .await;
    let head = handle.block_number();
    handle.shutdown().await;
    ensure!(
        outcome.succeeded() == missing && head >= blocks,
        "generation fell short: {} of {missing} transfers, head {head}: {:?}",
        outcome.succeeded(),
        outcome.errors
    );
    eprintln!(
        "generated {missing} blocks in {:.1} s ({:.0} blocks/s); log {} MB",
        outcome.wall.as_secs_f64(),
        outcome.tps(),
        log_size(dir) / 1_000_000
    );
    Ok(())
}

/// Evicts the block log from the page cache (`dd iflag=nocache`), so the next open reads it
/// from disk.
fn evict(dir: &Path) -> anyhow::Result<()> {
    let status = std::process::Command::new("dd")
        .arg(format!("if={}", dir.join("chain.log").display()))
        .args(["iflag=nocache", "count=0", "status=none"])
        .status()
        .context("running dd")?;
    ensure!(status.success(), "dd iflag=nocache failed: {status}");
    Ok(())
}

/// Times `spawn` until the node answers `eth_blockNumber` with `head`.
async fn restart_in_process(dir: &Path, head: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let handle = agora_chain::spawn(Config::test().with_data_dir(dir)).await?;
    let rpc = Rpc::new(handle.http_url())?;
    let answered = rpc.block_number().await?;
    let elapsed = started.elapsed();
    handle.shutdown().await;
    ensure!(
        answered == head,
        "the restarted chain answered block {answered}, not {head}"
    );
    Ok(elapsed)
}

/// Times the `agora chain` process from its start until it answers `eth_blockNumber`.
async fn restart_process(bin: &Path, dir: &Path, head: u64) -> anyhow::Result<Duration> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("finding a free port")?
        .port();
    let rpc = Rpc::new(format!("http://127.0.0.1:{port}"))?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(bin)
        .arg("chain")
        .arg("--data-dir")
        .arg(dir)
        .args(["--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let answered = loop {
        if let Ok(n) = rpc.block_number().await {
            break n;
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("agora chain did not answer within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let elapsed = started.elapsed();
    // SIGINT would be the polite stop; nothing is written after opening, so a kill is safe.
    let _ = child.kill().await;
    ensure!(
        answered == head,
        "agora chain answered block {answered}, not {head}"
    );
    Ok(elapsed)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn summary(values: &[Duration]) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let lo = values.iter().min().copied().unwrap_or_default();
    let hi = values.iter().max().copied().unwrap_or_default();
    format!(
        "{:.0} ms ({:.0}–{:.0})",
        ms(median(values.to_vec())),
        ms(lo),
        ms(hi)
    )
}

#[tokio::main]
#[allow(
    clippy::print_stdout,
    reason = "the result table is the command's output"
)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.runs > 0, "--runs must be positive");
    let cache = args.cache.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../target/restart-{}", args.blocks))
    });
    let dir = cache.join("chain");
    let marker = cache.join("complete");
    if !marker.exists() {
        // A cut-short earlier generation resumes: the chain is durable block by block.
        generate(&dir, args.blocks, args.concurrency).await?;
        std::fs::write(&marker, b"").context("marking the cache complete")?;
    } else {
        eprintln!("using the cached chain in {}", dir.display());
    }
    let head = {
        let handle = agora_chain::spawn(Config::test().with_data_dir(&dir)).await?;
        let head = handle.block_number();
        handle.shutdown().await;
        head
    };
    ensure!(
        head >= args.blocks,
        "the cached chain has {head} blocks; delete {} to regenerate",
        cache.display()
    );

    let (mut warm, mut cold, mut process) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=args.runs {
        let w = restart_in_process(&dir, head).await?;
        evict(&dir)?;
        let c = restart_in_process(&dir, head).await?;
        eprintln!(
            "run {run}/{}: spawn → eth_blockNumber: warm {:.0} ms, cold {:.0} ms",
            args.runs,
            w.as_secs_f64() * 1e3,
            c.as_secs_f64() * 1e3
        );
        warm.push(w);
        cold.push(c);
        if let Some(bin) = &args.agora_bin {
            evict(&dir)?;
            let p = restart_process(bin, &dir, head).await?;
            eprintln!(
                "run {run}/{}: agora chain process (cold cache): {:.0} ms",
                args.runs,
                p.as_secs_f64() * 1e3
            );
            process.push(p);
        }
    }
    println!(
        "{head} blocks, block log {} MB, median of {} runs (min–max)\n",
        log_size(&dir) / 1_000_000,
        args.runs
    );
    println!("| restart | time to first eth_blockNumber |");
    println!("| --- | ---: |");
    println!("| spawn, log in page cache | {} |", summary(&warm));
    println!(
        "| spawn, log evicted from page cache | {} |",
        summary(&cold)
    );
    if !process.is_empty() {
        println!(
            "| `agora chain` process, log evicted | {} |",
            summary(&process)
        );
    }
    Ok(())
}
