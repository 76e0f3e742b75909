//! Shared by the `load` and `restart` examples and the `chain` bench: a raw JSON-RPC client over
//! HTTP keep-alive, pre-signed transfers, and the pipeline that sends them with a fixed number
//! of requests in flight and times each one from `eth_sendRawTransaction` to its receipt.
//!
//! Each consumer includes this file with `#[path]` and uses a part of it.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use anyhow::{Context, bail};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Fee cap of every benchmark transaction: above anvil's starting base fee (1 gwei), so the
/// same transactions are valid on both nodes. The tip is zero.
pub(crate) const MAX_FEE_PER_GAS: u128 = 10_000_000_000;

/// Gas limit of a plain ETH transfer.
pub(crate) const ETH_TRANSFER_GAS: u64 = 21_000;

/// Gas limit of an ERC-20 `transfer` (about 52k to a fresh holder, 35k otherwise).
pub(crate) const ERC20_TRANSFER_GAS: u64 = 100_000;

/// How long one transaction may take from send to receipt before the run counts it as lost.
const TX_TIMEOUT: Duration = Duration::from_secs(60);

/// A JSON-RPC client over one HTTP keep-alive pool.
#[derive(Debug, Clone)]
pub(crate) struct Rpc {
    client: reqwest::Client,
    url: String,
    next_id: Arc<AtomicU64>,
}

/// The part of a receipt the benchmarks check.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Receipt {
    pub(crate) success: bool,
    pub(crate) block_number: u64,
    pub(crate) contract_address: Option<Address>,
}

fn hex_u64(value: &Value) -> anyhow::Result<u64> {
    let text = value
        .as_str()
        .with_context(|| format!("expected a hex quantity, got {value}"))?;
    u64::from_str_radix(text.trim_start_matches("0x"), 16)
        .with_context(|| format!("bad hex quantity {text}"))
}

impl Rpc {
    pub(crate) fn new(url: impl Into<String>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            client,
            url: url.into(),
            next_id: Arc::new(AtomicU64::new(1)),
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Calls `method`; a JSON-RPC error becomes an `Err` holding its message.
    pub(crate) async fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut reply: Value = self
            .client
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("{method}: request to {} failed", self.url))?
            .json()
            .await
            .with_context(|| format!("{method}: the reply is not JSON"))?;
        if let Some(error) = reply.get("error") {
            bail!("{method}: {error}");
        }
        Ok(reply
            .get_mut("result")
            .map(Value::take)
            .unwrap_or(Value::Null))
    }

    pub(crate) async fn block_number(&self) -> anyhow::Result<u64> {
        hex_u64(&self.call("eth_blockNumber", json!([])).await?)
    }

    pub(crate) async fn chain_id(&self) -> anyhow::Result<u64> {
        hex_u64(&self.call("eth_chainId", json!([])).await?)
    }

    /// The account's nonce at the head.
    pub(crate) async fn nonce(&self, address: Address) -> anyhow::Result<u64> {
        hex_u64(
            &self
                .call("eth_getTransactionCount", json!([address, "latest"]))
                .await?,
        )
    }

    pub(crate) async fn send_raw(&self, raw: &Bytes) -> anyhow::Result<B256> {
        let hash = self.call("eth_sendRawTransaction", json!([raw])).await?;
        serde_json::from_value(hash).context("eth_sendRawTransaction: not a hash")
    }

    pub(crate) async fn receipt(&self, hash: B256) -> anyhow::Result<Option<Receipt>> {
        let receipt = self
            .call("eth_getTransactionReceipt", json!([hash]))
            .await?;
        if receipt.is_null() {
            return Ok(None);
        }
        let contract_address = match receipt.get("contractAddress") {
            Some(Value::String(a)) => Some(a.parse().context("bad contractAddress")?),
            _ => None,
        };
        Ok(Some(Receipt {
            success: hex_u64(&receipt["status"])? == 1,
            block_number: hex_u64(&receipt["blockNumber"])?,
            contract_address,
        }))
    }

    /// Polls `eth_blockNumber` until the node answers.
    pub(crate) async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            if self.block_number().await.is_ok() {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                bail!("{} did not answer within {timeout:?}", self.url);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Sends one transaction and polls for its receipt: immediately, then every `poll`.
    /// For untimed set-up steps; timed sends go through [`run_pipeline`].
    pub(crate) async fn send_and_poll(
        &self,
        raw: &Bytes,
        poll: Duration,
    ) -> anyhow::Result<Receipt> {
        let hash = self.send_raw(raw).await?;
        let start = Instant::now();
        loop {
            if let Some(receipt) = self.receipt(hash).await? {
                return Ok(receipt);
            }
            if start.elapsed() > TX_TIMEOUT {
                bail!("no receipt for {hash} after {TX_TIMEOUT:?}");
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// Watches the head for the pipeline's workers, so that a node whose `eth_sendRawTransaction`
/// returns before the block is mined (anvil) is not flooded with receipt polls: one task polls
/// `eth_blockNumber` every `poll` and, while some worker waits, reads each new block's
/// transaction hashes and wakes the worker waiting for each.
#[derive(Debug, Clone, Default)]
struct Tracker {
    waiters: Arc<Mutex<HashMap<B256, oneshot::Sender<()>>>>,
}

/// How long a worker waits for the tracker before polling its receipt anyway.
const TRACKER_FALLBACK: Duration = Duration::from_millis(50);

impl Tracker {
    fn spawn(rpc: Rpc, poll: Duration) -> (Self, tokio::task::JoinHandle<()>) {
        let tracker = Self::default();
        let task = {
            let tracker = tracker.clone();
            tokio::spawn(async move {
                let mut next = rpc.block_number().await.map_or(0, |n| n + 1);
                loop {
                    if poll.is_zero() {
                        tokio::task::yield_now().await;
                    } else {
                        tokio::time::sleep(poll).await;
                    }
                    let Ok(head) = rpc.block_number().await else {
                        continue;
                    };
                    // Order matters: the head is read before the waiters are checked, and a
                    // worker registers before its first receipt poll, so a block skipped here
                    // holds only transactions whose first poll will find them.
                    if tracker.waiters.lock().is_empty() {
                        next = head + 1;
                        continue;
                    }
                    while next <= head {
                        let Ok(block) = rpc
                            .call("eth_getBlockByNumber", json!([format!("{next:#x}"), false]))
                            .await
                        else {
                            break;
                        };
                        let hashes = block["transactions"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default();
                        let mut waiters = tracker.waiters.lock();
                        for hash in hashes {
                            if let Ok(hash) = serde_json::from_value::<B256>(hash)
                                && let Some(waiter) = waiters.remove(&hash)
                            {
                                let _ = waiter.send(());
                            }
                        }
                        next += 1;
                    }
                }
            })
        };
        (tracker, task)
    }

    /// Sends one transaction and waits for its receipt: polled at once, then again whenever
    /// the tracker sees it in a block (or after [`TRACKER_FALLBACK`]).
    async fn send_and_wait(&self, rpc: &Rpc, raw: &Bytes) -> anyhow::Result<Receipt> {
        let hash = rpc.send_raw(raw).await?;
        let start = Instant::now();
        loop {
            let (tx, rx) = oneshot::channel();
            self.waiters.lock().insert(hash, tx);
            if let Some(receipt) = rpc.receipt(hash).await? {
                self.waiters.lock().remove(&hash);
                return Ok(receipt);
            }
            if start.elapsed() > TX_TIMEOUT {
                self.waiters.lock().remove(&hash);
                bail!("no receipt for {hash} after {TX_TIMEOUT:?}");
            }
            let _ = tokio::time::timeout(TRACKER_FALLBACK, rx).await;
        }
    }
}

/// A signed transaction, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Signed {
    pub(crate) raw: Bytes,
}

/// Signs an EIP-1559 transaction.
pub(crate) fn sign(signer: &PrivateKeySigner, tx: TxEip1559) -> anyhow::Result<Signed> {
    let signature = signer
        .sign_hash_sync(&tx.signature_hash())
        .context("signing")?;
    let envelope = TxEnvelope::from(tx.into_signed(signature));
    Ok(Signed {
        raw: envelope.encoded_2718().into(),
    })
}

/// An unsigned call or transfer with the benchmark's fees.
pub(crate) fn transaction(
    chain_id: u64,
    nonce: u64,
    to: TxKind,
    value: U256,
    input: Bytes,
    gas_limit: u64,
) -> TxEip1559 {
    TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: MAX_FEE_PER_GAS,
        max_priority_fee_per_gas: 0,
        to,
        value,
        access_list: Default::default(),
        input,
    }
}

/// The `i`-th of 256 fixed recipient addresses, none of them a dev account.
pub(crate) fn recipient(i: usize) -> Address {
    Address::from_word(keccak256(format!("agora-load-recipient-{}", i % 256)))
}

/// Signs `per_sender[s]` transactions for each signer `s`, starting at `nonces[s]`, in
/// parallel on every core. `make(s, i, nonce)` builds the `i`-th transaction of signer `s`.
pub(crate) fn sign_all<F>(
    signers: &[PrivateKeySigner],
    nonces: &[u64],
    per_sender: &[usize],
    make: F,
) -> anyhow::Result<Vec<Vec<Signed>>>
where
    F: Fn(usize, usize, u64) -> TxEip1559 + Sync,
{
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = signers.len().div_ceil(threads).max(1);
    let make = &make;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..signers.len())
            .step_by(chunk)
            .map(|first| {
                scope.spawn(move || {
                    (first..(first + chunk).min(signers.len()))
                        .map(|s| {
                            (0..per_sender[s])
                                .map(|i| sign(&signers[s], make(s, i, nonces[s] + i as u64)))
                                .collect::<anyhow::Result<Vec<_>>>()
                        })
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(signers.len());
        for handle in handles {
            match handle.join() {
                Ok(part) => all.extend(part?),
                Err(_) => bail!("a signing thread panicked"),
            }
        }
        Ok(all)
    })
}

/// Splits `total` transactions over `senders` as evenly as possible.
pub(crate) fn split(total: usize, senders: usize) -> Vec<usize> {
    (0..senders)
        .map(|s| total / senders + usize::from(s < total % senders))
        .collect()
}

/// What one pipeline run measured.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Send-to-receipt time of every transaction that succeeded, sorted.
    pub(crate) latencies: Vec<Duration>,
    /// From the first send to the last receipt.
    pub(crate) wall: Duration,
    /// Transactions that reverted (receipt status 0).
    pub(crate) reverted: usize,
    /// Transactions whose send or receipt failed, with the first few errors.
    pub(crate) failed: usize,
    pub(crate) errors: Vec<String>,
    /// Lowest and highest block that held one of the transactions.
    pub(crate) blocks: Option<(u64, u64)>,
}

impl Outcome {
    pub(crate) fn succeeded(&self) -> usize {
        self.latencies.len()
    }

    pub(crate) fn tps(&self) -> f64 {
        self.succeeded() as f64 / self.wall.as_secs_f64()
    }

    /// The `p`-th percentile latency (nearest rank).
    pub(crate) fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }
}

/// Sends every transaction with `concurrency` requests in flight and waits for each receipt
/// (see [`Tracker`]; `poll` is its head-polling interval).
///
/// Sender `s` belongs to worker `s % concurrency`, and a worker has one transaction in flight
/// at a time, so each sender's transactions arrive in nonce order (`agora chain` rejects a
/// nonce ahead of the sender's next one; anvil would queue it). A worker takes its senders' transactions round-robin. `progress`, if set,
/// is called with the number of transactions done so far, every 10,000.
pub(crate) async fn run_pipeline(
    rpc: &Rpc,
    txs: Vec<Vec<Signed>>,
    concurrency: usize,
    poll: Duration,
    progress: Option<fn(usize)>,
) -> Outcome {
    let (tracker, tracker_task) = Tracker::spawn(rpc.clone(), poll);
    let concurrency = concurrency.clamp(1, txs.len().max(1));
    let mut lanes: Vec<Vec<Vec<Signed>>> = (0..concurrency).map(|_| Vec::new()).collect();
    for (s, list) in txs.into_iter().enumerate() {
        lanes[s % concurrency].push(list);
    }
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = lanes
        .into_iter()
        .map(|senders| {
            let rpc = rpc.clone();
            let tracker = tracker.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let mut out = Outcome::default();
                let rounds = senders.iter().map(Vec::len).max().unwrap_or(0);
                for i in 0..rounds {
                    for list in &senders {
                        let Some(tx) = list.get(i) else { continue };
                        let sent = Instant::now();
                        match tracker.send_and_wait(&rpc, &tx.raw).await {
                            Ok(receipt) if receipt.success => {
                                out.latencies.push(sent.elapsed());
                                let b = receipt.block_number;
                                out.blocks = Some(match out.blocks {
                                    Some((lo, hi)) => (lo.min(b), hi.max(b)),
                                    None => (b, b),
                                });
                            }
                            Ok(_) => out.reverted += 1,
                            Err(e) => {
                                out.failed += 1;
                                if out.errors.len() < 3 {
                                    out.errors.push(format!("{e:#}"));
                                }
                            }
                        }
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if let Some(progress) = progress
                            && n.is_multiple_of(10_000)
                        {
                            progress(n as usize);
                        }
                    }
                }
                out
            })
        })
        .collect();
    let mut total = Outcome::default();
    for worker in workers {
        match worker.await {
            Ok(out) => {
                total.latencies.extend(out.latencies);
                total.reverted += out.reverted;
                total.failed += out.failed;
                total
                    .errors
                    .extend(out.errors.into_iter().take(3 - total.errors.len().min(3)));
                total.blocks = match (total.blocks, out.blocks) {
                    (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
                    (x, y) => x.or(y),
                };
            }
            Err(e) => {
                total.failed += 1;
                total.errors.push(format!("a worker panicked: {e}"));
            }
        }
    }
    total.wall = start.elapsed();
    tracker_task.abort();
    total.latencies.sort_unstable();
    total
}
