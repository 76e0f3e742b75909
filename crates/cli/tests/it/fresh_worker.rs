//! A new worker, tried as a new user would: a fresh wallet that holds only RLC (no ether),
//! a deposit, then `agora worker` against `agora dev`'s own pool. It gets replicates, its
//! contributions go through on the chain where gas is free, and it earns: its account grows
//! and its score rises (deals at trust 3: a score rises only for replicated work).

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use agora_contracts::Hub;
use alloy::{
    primitives::{Address, U256},
    providers::{Provider, ProviderBuilder},
};
use serde_json::Value;

use crate::network::{Dev, agora, json, ok};

const PASSWORD: &str = "correct horse battery staple";

/// `agora` as the new user: the network's endpoints and the wallet.
fn user(dev: &Dev, wallet: &Path, args: &[&str]) -> String {
    ok(agora()
        .args(args)
        .env("AGORA_RPC_URL", dev.url("rpcUrl"))
        .env("AGORA_HUB", dev.url("hub"))
        .env("AGORA_MARKET_URL", dev.url("marketUrl"))
        .env("AGORA_WALLET", wallet)
        .env("AGORA_WALLET_PASSWORD", PASSWORD)
        .output()
        .unwrap())
}

fn free_rlc(dev: &Dev, wallet: &Path) -> U256 {
    let balance = json(&user(dev, wallet, &["account", "balance", "--json"]));
    balance["free"].as_str().unwrap().parse().unwrap()
}

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_fresh_wallet_holding_only_rlc_joins_the_dev_pool_and_earns() {
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::start(&dir.path().join("dev"));
    let wallet = dir.path().join("worker.json");
    let me = json(&user(&dev, &wallet, &["wallet", "create", "--json"]));
    let address: Address = me["address"].as_str().unwrap().parse().unwrap();
    user(
        &dev,
        &wallet,
        &[
            "wallet",
            "send",
            "100",
            "--to",
            &address.to_string(),
            "--dev-account",
            "0",
        ],
    );
    user(&dev, &wallet, &["account", "deposit", "50"]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let provider = ProviderBuilder::new()
        .connect_http(dev.url("rpcUrl").parse().unwrap())
        .erased();
    let ether = runtime
        .block_on(async { provider.get_balance(address).await })
        .unwrap();
    assert_eq!(ether, U256::ZERO, "the wallet holds no ether, only RLC");
    let before = free_rlc(&dev, &wallet);

    // The worker, as its README line says, with the dev pool's file:// app allowed.
    let mut child = agora()
        .args(["worker", "--allow-file-urls", "--json"])
        .env("AGORA_RPC_URL", dev.url("rpcUrl"))
        .env("AGORA_HUB", dev.url("hub"))
        .env("AGORA_SCHEDULER_URL", dev.url("schedulerUrl"))
        .env("AGORA_WALLET", &wallet)
        .env("AGORA_WALLET_PASSWORD", PASSWORD)
        .env("AGORA_WORKER_DIR", dir.path().join("worker"))
        .env("AGORA_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("worker.log")).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let worker = Worker(child);
    let up: Value = json(&line);
    assert_eq!(
        up["address"].as_str().map(str::to_lowercase),
        Some(address.to_string().to_lowercase()),
        "{up}"
    );

    // Deals until it has earned: it shares the pool with the three dev workers.
    let hub = Hub::new(dev.url("hub").parse().unwrap(), provider);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut rounds = 0;
    loop {
        rounds += 1;
        // Trust 3: two workers contribute each task, and only a replicated contribution
        // raises a score (poco.md §5.3).
        ok(dev.run(&[
            &dev.url("app"),
            "--volume",
            "4",
            "--trust",
            "3",
            "--args",
            &format!("round {rounds}"),
        ]));
        let score = runtime
            .block_on(async { hub.viewScore(address).call().await })
            .unwrap();
        let now = free_rlc(&dev, &wallet);
        if score > U256::ZERO && now > before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after {rounds} deals the new worker has score {score} and {now} nRLC free \
             (had {before}); its log:\n{}",
            std::fs::read_to_string(dir.path().join("worker.log")).unwrap_or_default()
        );
    }
    let log = std::fs::read_to_string(dir.path().join("worker.log")).unwrap_or_default();
    assert!(!log.contains("insufficient funds"), "{log}");
    drop(worker);
    dev.stop();
}
