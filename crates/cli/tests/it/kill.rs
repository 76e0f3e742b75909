//! Real crashes: `kill -9` of `agora scheduler` and `agora worker` processes at random moments
//! of deals of volume 20, each restarted on its own state. Every task completes, no
//! transaction is sent twice (none of the pool's transactions reverts, no call is repeated),
//! and the tokens add up.
//!
//! The workerpool under test runs beside `agora dev`'s own: dev account 7 owns it and runs its
//! scheduler, dev accounts 8 and 9 are its workers, each a process of its own.

use std::{
    collections::HashSet,
    fs::File,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, ChildStdout, Stdio},
    time::{Duration, Instant},
};

use agora_contracts::Hub;
use agora_primitives::DealId;
use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
};
use serde_json::Value;

use crate::network::{Dev, agora, json, ok};

const VOLUME: u64 = 20;
const POOL_OWNER: usize = 7;
const WORKERS: [usize; 2] = [8, 9];
/// At least this many kills in each deal, whatever its speed.
const KILLS_PER_DEAL: u32 = 8;
/// Deals run one after the other, each under its own kills.
const ROUNDS: u64 = 3;
const COMPLETED: u8 = 3;

/// A small deterministic generator (xorshift64*), seeded from the clock and printed, so that a
/// failing run can be replayed with `AGORA_KILL_SEED`.
struct Rng(u64);

impl Rng {
    fn seeded() -> Self {
        let seed = std::env::var("AGORA_KILL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            })
            | 1;
        eprintln!("kill test seed: AGORA_KILL_SEED={seed}");
        Self(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// A service run as its own `agora` process, restarted with the same command after a kill.
struct Service {
    name: String,
    args: Vec<String>,
    key: String,
    log: PathBuf,
    child: Option<(Child, BufReader<ChildStdout>)>,
    kills: u32,
}

impl Service {
    fn new(name: &str, args: Vec<String>, key: &str, logs: &Path) -> Self {
        Self {
            name: name.to_string(),
            args,
            key: key.to_string(),
            log: logs.join(format!("{name}.log")),
            child: None,
            kills: 0,
        }
    }

    /// Starts the process and waits for the one JSON line it prints once up.
    fn start(&mut self) -> Value {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut child = agora()
            .args(&self.args)
            .env("AGORA_KEY", &self.key)
            .env("AGORA_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", self.name));
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            let status = child.wait().unwrap();
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!("{} ended ({status}) before it was up:\n{log}", self.name);
        }
        self.child = Some((child, stdout));
        json(&line)
    }

    /// SIGKILL, then waits for the process to be gone.
    fn kill(&mut self) {
        if let Some((mut child, _)) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
            self.kills += 1;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some((mut child, _)) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port nothing listens on now, for a service that must come back at the same address.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `agora` against the dev network.
fn cli(dev: &Dev, args: &[&str]) -> String {
    ok(agora()
        .args(args)
        .env("AGORA_RPC_URL", dev.url("rpcUrl"))
        .env("AGORA_HUB", dev.url("hub"))
        .env("AGORA_MARKET_URL", dev.url("marketUrl"))
        .output()
        .unwrap())
}

fn account(dev: &Dev, index: usize) -> (Address, String) {
    let entry = &dev.info["accounts"][index];
    (
        entry["address"].as_str().unwrap().parse().unwrap(),
        entry["privateKey"].as_str().unwrap().to_string(),
    )
}

/// Creates the workerpool of dev account 7, funds and stakes its accounts, and publishes its
/// order (price 0, so that `agora run --workerpool` takes it).
fn set_up_pool(dev: &Dev, dir: &Path) -> Address {
    for index in std::iter::once(POOL_OWNER).chain(WORKERS) {
        let (address, _) = account(dev, index);
        let to = address.to_string();
        cli(
            dev,
            &["wallet", "send", "100", "--to", &to, "--dev-account", "0"],
        );
        let n = index.to_string();
        cli(dev, &["account", "deposit", "50", "--dev-account", &n]);
    }
    let owner = POOL_OWNER.to_string();
    let pool = json(&cli(
        dev,
        &[
            "workerpool",
            "deploy",
            "--name",
            "chaos pool",
            "--dev-account",
            &owner,
            "--json",
        ],
    ));
    let pool: Address = pool["address"].as_str().unwrap().parse().unwrap();
    let order = cli(
        dev,
        &[
            "order",
            "create",
            "workerpool",
            &pool.to_string(),
            "--price",
            "0",
            "--volume",
            "1000",
        ],
    );
    let file = dir.join("pool-order.json");
    std::fs::write(&file, order).unwrap();
    let (_, key) = account(dev, POOL_OWNER);
    let chain_id = dev.info["chainId"].to_string();
    let signed = ok(agora()
        .args([
            "order",
            "sign",
            file.to_str().unwrap(),
            "--chain-id",
            &chain_id,
        ])
        .args(["--hub", &dev.url("hub")])
        .env("AGORA_PRIVATE_KEY", key)
        .output()
        .unwrap());
    std::fs::write(&file, signed).unwrap();
    cli(dev, &["order", "publish", file.to_str().unwrap(), "--json"]);
    pool
}

fn provider(dev: &Dev) -> DynProvider {
    ProviderBuilder::new()
        .connect_http(dev.url("rpcUrl").parse().unwrap())
        .erased()
}

async fn statuses(hub: &Hub::HubInstance<DynProvider>, deal: DealId) -> Vec<u8> {
    let mut statuses = Vec::new();
    for index in 0..VOLUME {
        let deal_info = hub.viewDeal(*deal.as_b256()).call().await.unwrap();
        let task = deal.task(deal_info.botFirst + U256::from(index));
        statuses.push(hub.viewTask(*task.as_b256()).call().await.unwrap().status);
    }
    statuses
}

/// Every transaction the pool's accounts sent: none reverted, and none repeats another's
/// call (the same sender and calldata).
async fn check_transactions(provider: &DynProvider, senders: &[Address]) -> usize {
    let head = provider.get_block_number().await.unwrap();
    let mut seen = HashSet::new();
    let mut count = 0;
    for number in 0..=head {
        let block = provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .full()
            .await
            .unwrap()
            .unwrap();
        for tx in block.transactions.txns() {
            let from = tx.inner.signer();
            if !senders.contains(&from) {
                continue;
            }
            let hash: B256 = *tx.inner.tx_hash();
            let receipt = provider
                .get_transaction_receipt(hash)
                .await
                .unwrap()
                .unwrap();
            let input = alloy::consensus::Transaction::input(tx).clone();
            assert!(
                receipt.status(),
                "transaction {hash} from {from} reverted (block {number})"
            );
            assert!(
                seen.insert((from, input)),
                "transaction {hash} from {from} repeats an earlier call (block {number})"
            );
            count += 1;
        }
    }
    count
}

/// The hub's tokens add up: its RLC is the SRLC supply, and the accounts (every dev account
/// and the kitty) hold all of it, free or locked.
async fn check_tokens(dev: &Dev, provider: &DynProvider) {
    let hub_address: Address = dev.url("hub").parse().unwrap();
    let hub = Hub::new(hub_address, provider.clone());
    let supply = hub.totalSupply().call().await.unwrap();
    let token = agora_contracts::RLC::new(hub.token().call().await.unwrap(), provider.clone());
    assert_eq!(token.balanceOf(hub_address).call().await.unwrap(), supply);
    let kitty = hub.kitty_address().call().await.unwrap();
    let mut held = U256::ZERO;
    let accounts = dev.info["accounts"].as_array().unwrap().len();
    let holders = (0..accounts)
        .map(|i| account(dev, i).0)
        .chain(std::iter::once(kitty));
    for who in holders {
        let balance = hub.viewAccount(who).call().await.unwrap();
        held += balance.stake + balance.locked;
    }
    assert_eq!(
        held, supply,
        "the accounts hold {held} of the {supply} SRLC"
    );
}

/// A directory removed when the test passes, and kept (for its logs) when it fails.
struct Kept(PathBuf);

impl Kept {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn scheduler_and_workers_killed_at_random_moments_lose_nothing() {
    // Kept when the test fails: the services' logs are in it.
    let kept = tempfile::tempdir().unwrap().keep();
    let dir = &Kept(kept);
    let dev = Dev::start(&dir.path().join("dev"));
    let pool = set_up_pool(&dev, dir.path());
    let port = free_port();
    let scheduler_url = format!("http://127.0.0.1:{port}");
    let chain_args = |args: &mut Vec<String>| {
        args.extend(["--rpc-url".into(), dev.url("rpcUrl")]);
        args.extend(["--hub".into(), dev.url("hub")]);
        args.push("--json".into());
    };
    let mut services = Vec::new();
    let mut args: Vec<String> = vec![
        "scheduler".into(),
        "--workerpool".into(),
        pool.to_string(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--db".into(),
        dir.path().join("scheduler.db").display().to_string(),
        "--result-store".into(),
        dev.url("resultsUrl"),
    ];
    chain_args(&mut args);
    services.push(Service::new(
        "scheduler",
        args,
        &account(&dev, POOL_OWNER).1,
        dir.path(),
    ));
    for index in WORKERS {
        let mut args: Vec<String> = vec![
            "worker".into(),
            "--scheduler".into(),
            scheduler_url.clone(),
            "--dir".into(),
            dir.path()
                .join(format!("worker-{index}"))
                .display()
                .to_string(),
            // The apps of `agora dev` are files on this machine.
            "--allow-file-urls".into(),
        ];
        chain_args(&mut args);
        services.push(Service::new(
            &format!("worker-{index}"),
            args,
            &account(&dev, index).1,
            dir.path(),
        ));
    }
    for service in &mut services {
        service.start();
    }

    let provider = provider(&dev);
    let hub = Hub::new(dev.url("hub").parse().unwrap(), provider.clone());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut rng = Rng::seeded();
    let app = dev.url("app");
    for round in 1..=ROUNDS {
        let volume = VOLUME.to_string();
        let pool_text = pool.to_string();
        let report = json(&ok(dev.run(&[
            &app,
            "--workerpool",
            &pool_text,
            "--volume",
            &volume,
            "--args",
            &format!("round {round}"),
            "--no-wait",
            "--json",
        ])));
        let deal: B256 = report["deal"]["dealId"]
            .as_str()
            .or_else(|| report["deal"]["deal_id"].as_str())
            .unwrap_or_else(|| panic!("no deal id in {report}"))
            .parse()
            .unwrap();
        let deal = DealId::new(deal);
        let deadline = Instant::now() + Duration::from_secs(240);
        let mut kills = 0;
        let mut mid_deal = 0;
        loop {
            let done = runtime
                .block_on(statuses(&hub, deal))
                .iter()
                .all(|s| *s == COMPLETED);
            if done && kills >= KILLS_PER_DEAL {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: tasks {:?} after {kills} kills (logs in {})",
                runtime.block_on(statuses(&hub, deal)),
                dir.path().display()
            );
            if kills < KILLS_PER_DEAL {
                std::thread::sleep(Duration::from_millis(20 + rng.below(400)));
                let victim = rng.below(services.len() as u64) as usize;
                services[victim].kill();
                if !done {
                    mid_deal += 1;
                }
                // Down for a moment (the others go on), then back on its own state.
                std::thread::sleep(Duration::from_millis(rng.below(300)));
                services[victim].start();
                kills += 1;
            } else {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        assert!(
            mid_deal > 0,
            "round {round}: the deal ended before any kill"
        );
        eprintln!(
            "round {round}: {VOLUME} tasks completed, {mid_deal} kills before the end; kills so far: {}",
            services
                .iter()
                .map(|s| format!("{} {}", s.name, s.kills))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for service in &services {
        assert!(service.kills > 0, "{} was never killed", service.name);
    }
    let senders: Vec<Address> = std::iter::once(POOL_OWNER)
        .chain(WORKERS)
        .map(|i| account(&dev, i).0)
        .collect();
    let sent = runtime.block_on(check_transactions(&provider, &senders));
    assert!(
        sent >= (ROUNDS * VOLUME) as usize * 3,
        "only {sent} transactions"
    );
    runtime.block_on(check_tokens(&dev, &provider));
    drop(services);
    dev.stop();
}
