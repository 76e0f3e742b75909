//! In-process benchmarks of the chain behind its JSON-RPC server: signed ETH transfers sent over
//! HTTP, timed from `eth_sendRawTransaction` to the receipt, in memory and with a data
//! directory (every block fsync'd). The load command (`examples/load.rs`) compares against
//! anvil; this bench tracks the chain alone.
//!
//! ```sh
//! cargo bench -p agora-chain --bench chain
//! ```

#[path = "../examples/support/client.rs"]
#[allow(dead_code, reason = "each consumer uses a part of the shared client")]
mod client;

use std::time::Duration;

use agora_chain::{Config, Handle};
use alloy_primitives::{Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use client::Rpc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SENDERS: usize = 32;

struct Bench {
    runtime: tokio::runtime::Runtime,
    _handle: Handle,
    _dir: Option<tempfile::TempDir>,
    rpc: Rpc,
    chain_id: u64,
    senders: Vec<PrivateKeySigner>,
}

impl Bench {
    fn new(durable: bool) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Runtime::new()?;
        let dir = durable.then(tempfile::tempdir).transpose()?;
        let mut config = Config::test();
        config.accounts = SENDERS as u32;
        if let Some(dir) = &dir {
            config = config.with_data_dir(dir.path());
        }
        let handle = runtime.block_on(agora_chain::spawn(config))?;
        let rpc = Rpc::new(handle.http_url())?;
        let chain_id = handle.chain_id();
        let senders = handle.dev_accounts().iter().map(|a| a.signer()).collect();
        Ok(Self {
            runtime,
            _handle: handle,
            _dir: dir,
            rpc,
            chain_id,
            senders,
        })
    }

    /// Signs `count` transfers (not timed), then sends them with `concurrency` in flight and
    /// returns the time until the last receipt.
    fn run(&self, count: u64, concurrency: usize) -> anyhow::Result<Duration> {
        let senders = &self.senders[..concurrency.min(self.senders.len())];
        let nonces = self.runtime.block_on(async {
            let mut nonces = Vec::with_capacity(senders.len());
            for s in senders {
                nonces.push(self.rpc.nonce(s.address()).await?);
            }
            anyhow::Ok(nonces)
        })?;
        let per_sender = client::split(count as usize, senders.len());
        let txs = client::sign_all(senders, &nonces, &per_sender, |s, i, nonce| {
            client::transaction(
                self.chain_id,
                nonce,
                TxKind::Call(client::recipient(s + i)),
                U256::from(1u64),
                Bytes::new(),
                client::ETH_TRANSFER_GAS,
            )
        })?;
        let outcome = self.runtime.block_on(client::run_pipeline(
            &self.rpc,
            txs,
            concurrency,
            Duration::from_millis(1),
            None,
        ));
        anyhow::ensure!(
            outcome.succeeded() as u64 == count,
            "{} of {count} transfers succeeded: {:?}",
            outcome.succeeded(),
            outcome.errors
        );
        Ok(outcome.wall)
    }
}

fn transfers(c: &mut Criterion) {
    let mut group = c.benchmark_group("eth_transfer");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for (name, durable, concurrency) in [
        ("in_memory/1_in_flight", false, 1),
        ("in_memory/32_in_flight", false, 32),
        ("durable/1_in_flight", true, 1),
        ("durable/32_in_flight", true, 32),
    ] {
        let bench = match Bench::new(durable) {
            Ok(bench) => bench,
            Err(e) => panic!("starting the chain: {e:#}"),
        };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| match bench.run(iters, concurrency) {
                Ok(elapsed) => elapsed,
                Err(e) => panic!("{name}: {e:#}"),
            })
        });
    }
    group.finish();
}

criterion_group!(benches, transfers);
criterion_main!(benches);
