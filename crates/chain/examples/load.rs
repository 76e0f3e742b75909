//! Load client: sustained transactions per second and send-to-receipt latency of signed ETH and
//! ERC-20 transfers sent over JSON-RPC, against `agora chain` and anvil side by side.
//!
//! ```sh
//! cargo build --release -p agora-cli
//! cargo run --release -p agora-chain --example load -- \
//!     --target agora,anvil --kind eth,erc20 --txs 5000 --concurrency 32 --senders 64 --runs 5
//! ```
//!
//! Every run starts a fresh node as its own process, as users run it: `agora chain` with a new
//! data directory (durable: each block is fsync'd before it is reported) or anvil (state in
//! memory). Targets and kinds are interleaved run by run, so drift on a shared machine hits
//! all of them alike. All transactions are signed before the clock starts; each one is timed
//! from `eth_sendRawTransaction` until `eth_getTransactionReceipt` returns it. A run fails,
//! and the command exits non-zero, unless every transaction has a successful receipt and every
//! sender's nonce moved by exactly its number of transactions.
//!
//! Progress goes to stderr; the summary table (Markdown) to stdout.

#[path = "support/client.rs"]
#[allow(dead_code, reason = "each example uses a part of the shared client")]
mod client;

use std::{
    fmt,
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    str::FromStr,
    time::Duration,
};

use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, sol};
use anyhow::{Context, bail, ensure};
use clap::Parser;
use client::{Outcome, Rpc, Signed};

sol! {
    function transfer(address to, uint256 amount) returns (bool);
}

/// Load client for `agora chain` and anvil.
#[derive(Debug, Parser)]
struct Args {
    /// Nodes to load, comma-separated: `agora` (durable, with the default window of 256
    /// past states), `agora-nohist` (durable, `--history 0`), `agora-mem` (`--ephemeral`, for
    /// comparison), `agora-base` (durable, the binary of `--baseline-bin` with its default
    /// flags: an earlier build, to compare in the same run), `anvil`, `anvil-prune` (anvil
    /// `--prune-history`: no historical states), or
    /// the URL of a running node whose dev accounts come from the
    /// test mnemonic.
    #[arg(long, value_delimiter = ',', default_value = "agora,anvil")]
    target: Vec<Target>,
    /// Transaction kinds, comma-separated: `eth` (value transfer) or `erc20` (token transfer).
    #[arg(long, value_delimiter = ',', default_value = "eth")]
    kind: Vec<Kind>,
    /// Timed transactions per run.
    #[arg(long, default_value_t = 5_000)]
    txs: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Sending accounts (dev accounts 1..=S; account 0 deploys the token).
    #[arg(long, default_value_t = 64)]
    senders: usize,
    /// Runs per target and kind; the summary gives medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// How often the client polls `eth_blockNumber` to learn of new blocks, in microseconds
    /// (0: back to back). A transaction's receipt is polled once right after its send
    /// returns (`agora chain` answers it: its send returns once the block is durable), then
    /// again when its block appears, so a node is not flooded with receipt polls.
    #[arg(long, default_value_t = 1_000)]
    poll_us: u64,
    /// The `agora` binary.
    #[arg(long, default_value_os_t = workspace().join("target/release/agora"))]
    agora_bin: PathBuf,
    /// The `agora` binary of target `agora-base`: an earlier build to compare against.
    #[arg(long)]
    baseline_bin: Option<PathBuf>,
    /// The anvil binary (the native one: the npm shim would stand between us and its pid).
    #[arg(long, default_value_os_t = default_anvil())]
    anvil_bin: PathBuf,
    /// Where the per-run data directories of `agora chain` go (same disk as the workspace).
    #[arg(long, default_value_os_t = workspace().join("target/load"))]
    data_root: PathBuf,
    /// The token artifact (`{"abi","bytecode",...}`) deployed for `--kind erc20`.
    #[arg(long, default_value_os_t = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/TestToken.json"))]
    token: PathBuf,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn default_anvil() -> PathBuf {
    let native = workspace().join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    if native.exists() {
        native
    } else {
        workspace().join("node_modules/.bin/anvil")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Agora,
    /// Durable, with no window of past states (`--history 0`): what the window costs.
    AgoraNoHistory,
    AgoraEphemeral,
    /// Durable, an earlier build (`--baseline-bin`) with its default flags.
    AgoraBaseline,
    Anvil,
    /// anvil with `--prune-history`: it keeps no historical states.
    AnvilPruned,
    Url(String),
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "agora" => Ok(Self::Agora),
            "agora-nohist" => Ok(Self::AgoraNoHistory),
            "agora-mem" => Ok(Self::AgoraEphemeral),
            "agora-base" => Ok(Self::AgoraBaseline),
            "anvil" => Ok(Self::Anvil),
            "anvil-prune" => Ok(Self::AnvilPruned),
            url if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Self::Url(url.into()))
            }
            other => Err(format!(
                "{other:?}: use agora, agora-nohist, agora-mem, agora-base, anvil, anvil-prune or an http:// URL"
            )),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Agora => f.write_str("agora"),
            Self::AgoraNoHistory => f.write_str("agora-nohist"),
            Self::AgoraEphemeral => f.write_str("agora-mem"),
            Self::AgoraBaseline => f.write_str("agora-base"),
            Self::Anvil => f.write_str("anvil"),
            Self::AnvilPruned => f.write_str("anvil-prune"),
            Self::Url(url) => f.write_str(url),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    Eth,
    Erc20,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Eth => "eth",
            Self::Erc20 => "erc20",
        })
    }
}

/// A node started for one run; killed when dropped.
struct Node {
    rpc: Rpc,
    child: Option<tokio::process::Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Node {
    async fn start(args: &Args, target: &Target) -> anyhow::Result<Self> {
        let accounts = (args.senders + 1).to_string();
        let (mut command, dir) = match target {
            Target::Url(url) => {
                return Ok(Self {
                    rpc: Rpc::new(url.clone())?,
                    child: None,
                    _dir: None,
                });
            }
            Target::Agora | Target::AgoraNoHistory | Target::AgoraBaseline => {
                std::fs::create_dir_all(&args.data_root)
                    .with_context(|| format!("creating {}", args.data_root.display()))?;
                let dir = tempfile::Builder::new()
                    .prefix("agora-load-")
                    .tempdir_in(&args.data_root)
                    .context("creating a data directory")?;
                let bin = if *target == Target::AgoraBaseline {
                    args.baseline_bin
                        .as_ref()
                        .context("target agora-base needs --baseline-bin PATH")?
                } else {
                    &args.agora_bin
                };
                let mut command = tokio::process::Command::new(bin);
                command
                    .arg("chain")
                    .arg("--data-dir")
                    .arg(dir.path().join("chain"))
                    .args(["--accounts", &accounts]);
                if *target == Target::AgoraNoHistory {
                    command.args(["--history", "0"]);
                }
                (command, Some(dir))
            }
            Target::AgoraEphemeral => {
                let mut command = tokio::process::Command::new(&args.agora_bin);
                command.args(["chain", "--ephemeral", "--accounts", &accounts]);
                (command, None)
            }
            Target::Anvil | Target::AnvilPruned => {
                let mut command = tokio::process::Command::new(&args.anvil_bin);
                command.args(["--hardfork", "prague", "--quiet", "--accounts", &accounts]);
                if *target == Target::AnvilPruned {
                    command.arg("--prune-history");
                }
                (command, None)
            }
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port")?
            .port();
        let child = command
            .args(["--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {target} ({:?})", command.as_std().get_program()))?;
        let node = Self {
            rpc: Rpc::new(format!("http://127.0.0.1:{port}"))?,
            child: Some(child),
            _dir: dir,
        };
        node.rpc.wait_ready(Duration::from_secs(60)).await?;
        Ok(node)
    }

    /// CPU time (user + system) the node process has used so far.
    fn cpu(&self) -> Option<Duration> {
        let pid = self.child.as_ref()?.id()?;
        cpu_time(&format!("/proc/{pid}/stat"))
    }

    async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

/// User plus system time from a `/proc/<pid>/stat` file (Linux; clock ticks of 10 ms).
fn cpu_time(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// One run's figures.
struct RunResult {
    outcome: Outcome,
    node_cpu: Option<Duration>,
    client_cpu: Option<Duration>,
}

fn token_bytecode(path: &Path) -> anyhow::Result<Bytes> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the token artifact {} (needed by --kind erc20)",
            path.display()
        )
    })?;
    let artifact: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let code = match &artifact["bytecode"] {
        serde_json::Value::String(s) => s.as_str(),
        other => other["object"]
            .as_str()
            .with_context(|| format!("{} has no bytecode", path.display()))?,
    };
    code.parse()
        .with_context(|| format!("{}: bad bytecode", path.display()))
}

/// Deploys the token from `owner` and gives each sender a balance. Not timed.
async fn setup_token(
    rpc: &Rpc,
    chain_id: u64,
    owner: &PrivateKeySigner,
    senders: &[PrivateKeySigner],
    bytecode: Bytes,
    poll: Duration,
) -> anyhow::Result<Address> {
    let mut nonce = rpc.nonce(owner.address()).await?;
    let deploy = client::transaction(
        chain_id,
        nonce,
        TxKind::Create,
        U256::ZERO,
        bytecode,
        5_000_000,
    );
    let receipt = rpc
        .send_and_poll(&client::sign(owner, deploy)?.raw, poll)
        .await?;
    ensure!(receipt.success, "the token deployment reverted");
    let token = receipt
        .contract_address
        .context("the deployment receipt has no contract address")?;
    let share = U256::from(10u64).pow(U256::from(24u64));
    for sender in senders {
        nonce += 1;
        let input = transferCall {
            to: sender.address(),
            amount: share,
        }
        .abi_encode();
        let tx = client::transaction(
            chain_id,
            nonce,
            TxKind::Call(token),
            U256::ZERO,
            input.into(),
            client::ERC20_TRANSFER_GAS,
        );
        let receipt = rpc
            .send_and_poll(&client::sign(owner, tx)?.raw, poll)
            .await?;
        ensure!(
            receipt.success,
            "funding {} with tokens reverted",
            sender.address()
        );
    }
    Ok(token)
}

async fn run_once(args: &Args, target: &Target, kind: Kind) -> anyhow::Result<RunResult> {
    let poll = Duration::from_micros(args.poll_us);
    let node = Node::start(args, target).await?;
    let rpc = node.rpc.clone();
    let chain_id = rpc.chain_id().await?;
    let accounts = agora_chain::derive_dev_accounts(agora_chain::DEV_MNEMONIC, {
        u32::try_from(args.senders + 1).context("too many senders")?
    })?;
    let owner = accounts[0].signer();
    let senders: Vec<PrivateKeySigner> = accounts[1..].iter().map(|a| a.signer()).collect();
    let token = match kind {
        Kind::Eth => None,
        Kind::Erc20 => Some(
            setup_token(
                &rpc,
                chain_id,
                &owner,
                &senders,
                token_bytecode(&args.token)?,
                poll,
            )
            .await?,
        ),
    };
    let mut nonces = Vec::with_capacity(senders.len());
    for sender in &senders {
        nonces.push(rpc.nonce(sender.address()).await?);
    }
    let per_sender = client::split(args.txs, senders.len());
    let txs: Vec<Vec<Signed>> = client::sign_all(&senders, &nonces, &per_sender, |s, i, nonce| {
        let to = client::recipient(s * 7 + i);
        match token {
            None => client::transaction(
                chain_id,
                nonce,
                TxKind::Call(to),
                U256::from(1u64),
                Bytes::new(),
                client::ETH_TRANSFER_GAS,
            ),
            Some(token) => client::transaction(
                chain_id,
                nonce,
                TxKind::Call(token),
                U256::ZERO,
                transferCall {
                    to,
                    amount: U256::from(1u64),
                }
                .abi_encode()
                .into(),
                client::ERC20_TRANSFER_GAS,
            ),
        }
    })?;

    let node_cpu_before = node.cpu();
    let client_cpu_before = cpu_time("/proc/self/stat");
    let outcome = client::run_pipeline(&rpc, txs, args.concurrency, poll, None).await;
    let node_cpu = node.cpu().zip(node_cpu_before).map(|(a, b)| a - b);
    let client_cpu = cpu_time("/proc/self/stat")
        .zip(client_cpu_before)
        .map(|(a, b)| a - b);

    // Every transaction must be in: count the receipts and the senders' nonces.
    let mut missing = Vec::new();
    for ((sender, start), sent) in senders.iter().zip(&nonces).zip(&per_sender) {
        let now = rpc.nonce(sender.address()).await?;
        if now != start + *sent as u64 {
            missing.push(format!(
                "{}: nonce {now}, expected {}",
                sender.address(),
                start + *sent as u64
            ));
        }
    }
    node.stop().await;
    if outcome.succeeded() != args.txs || !missing.is_empty() {
        bail!(
            "{target} {kind}: {} of {} transactions succeeded, {} reverted, {} failed; \
             errors: {:?}; nonce mismatches: {:?}",
            outcome.succeeded(),
            args.txs,
            outcome.reverted,
            outcome.failed,
            outcome.errors,
            missing.iter().take(3).collect::<Vec<_>>()
        );
    }
    Ok(RunResult {
        outcome,
        node_cpu,
        client_cpu,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[allow(
    clippy::print_stdout,
    reason = "the summary table is the command's output"
)]
fn print_summary(args: &Args, results: &[(Target, Kind, Vec<RunResult>)]) {
    println!(
        "{} txs per run, {} in flight, {} senders, median of {} runs; latency from \
         eth_sendRawTransaction to receipt (head polled every {} µs)\n",
        args.txs, args.concurrency, args.senders, args.runs, args.poll_us
    );
    println!(
        "| node | kind | tx/s (median) | tx/s (min–max) | p50 ms | p99 ms | blocks/run | \
         node CPU µs/tx | client CPU µs/tx |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (target, kind, runs) in results {
        if runs.is_empty() {
            continue;
        }
        let mut tps: Vec<f64> = runs.iter().map(|r| r.outcome.tps()).collect();
        let (lo, hi) = tps
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), t| (lo.min(*t), hi.max(*t)));
        let mut p50: Vec<f64> = runs
            .iter()
            .map(|r| ms(r.outcome.percentile(50.0)))
            .collect();
        let mut p99: Vec<f64> = runs
            .iter()
            .map(|r| ms(r.outcome.percentile(99.0)))
            .collect();
        let mut blocks: Vec<f64> = runs
            .iter()
            .map(|r| r.outcome.blocks.map_or(0.0, |(a, b)| (b - a + 1) as f64))
            .collect();
        let per_tx = |cpu: &dyn Fn(&RunResult) -> Option<Duration>| {
            let mut v: Vec<f64> = runs
                .iter()
                .filter_map(|r| cpu(r).map(|c| c.as_secs_f64() * 1e6 / args.txs as f64))
                .collect();
            if v.is_empty() {
                "–".to_string()
            } else {
                format!("{:.0}", median(&mut v))
            }
        };
        println!(
            "| {target} | {kind} | {:.0} | {lo:.0}–{hi:.0} | {:.2} | {:.2} | {:.0} | {} | {} |",
            median(&mut tps),
            median(&mut p50),
            median(&mut p99),
            median(&mut blocks),
            per_tx(&|r| r.node_cpu),
            per_tx(&|r| r.client_cpu),
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.txs > 0 && args.runs > 0,
        "--txs and --runs must be positive"
    );
    ensure!(args.senders > 0, "--senders must be positive");
    if args.concurrency > args.senders {
        eprintln!(
            "note: only {} requests can be in flight: one per sender at a time, since \
             agora chain rejects nonces ahead of the next one",
            args.senders
        );
    }
    let mut results: Vec<(Target, Kind, Vec<RunResult>)> = Vec::new();
    for kind in &args.kind {
        for target in &args.target {
            results.push((target.clone(), *kind, Vec::new()));
        }
    }
    let mut failed = false;
    for run in 1..=args.runs {
        for (target, kind, runs) in &mut results {
            match run_once(&args, target, *kind).await {
                Ok(result) => {
                    let o = &result.outcome;
                    eprintln!(
                        "run {run}/{}: {target} {kind}: {} txs in {:.2} s = {:.0} tx/s, \
                         p50 {:.2} ms, p99 {:.2} ms, {} blocks, node CPU {:?}",
                        args.runs,
                        o.succeeded(),
                        o.wall.as_secs_f64(),
                        o.tps(),
                        ms(o.percentile(50.0)),
                        ms(o.percentile(99.0)),
                        o.blocks.map_or(0, |(a, b)| b - a + 1),
                        result.node_cpu.unwrap_or_default(),
                    );
                    runs.push(result);
                }
                Err(e) => {
                    eprintln!("run {run}/{}: {target} {kind}: FAILED: {e:#}", args.runs);
                    failed = true;
                }
            }
        }
    }
    print_summary(&args, &results);
    if failed {
        bail!("some runs failed; their figures are left out");
    }
    Ok(())
}
