//! The workerpool's scheduler (`agora scheduler`, spec §7.1): it watches the hub for its
//! pool's deals (a new-block subscription plus catch-up from the last block it processed, kept
//! in its database, so nothing is missed across restarts), initializes their tasks, lets
//! workers log in with a signed challenge, hands out replicates while the consensus prediction
//! says a task needs more, signs the workers' authorizations, asks the winners to reveal and
//! one of them to upload the result, finalizes, reopens a task nobody revealed, claims tasks
//! past their final deadline, and frees the places of workers whose replicate timed out.
//!
//! The chain is the source of truth: task and replicate statuses move on the hub's events,
//! and workers' reports only add what the chain does not say. Each status change is recorded
//! with its reason and time. Each transaction is signed and recorded before it is broadcast,
//! with what it is for, so that a restart re-broadcasts the same transaction instead of
//! sending another one.

mod api;
mod chain;
mod challenges;
mod config;
mod db;
mod error;
mod prediction;
mod state;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use agora_primitives::TaskId;
use alloy::{
    primitives::Address,
    providers::{Provider, ProviderBuilder, WsConnect},
};
use futures::StreamExt;
use parking_lot::Mutex;
use tokio::sync::{Notify, watch};

pub use config::{Config, SchedulerKey};
pub use error::{Error, Result};

use crate::{
    chain::Chain,
    db::Db,
    state::{Call, Clock},
};

/// The most blocks read in one `eth_getLogs`.
const LOG_RANGE: u64 = 2_000;
/// The most login challenges held at once (the oldest gives way to a new one).
const MAX_CHALLENGES: usize = 100_000;
/// A recorded transaction still unmined after this long is broadcast again.
const REBROADCAST_AFTER: Duration = Duration::from_secs(30);

/// What the driver and the API share.
#[derive(Debug)]
struct Shared {
    config: Config,
    db: Db,
    chain: Chain,
    http: reqwest::Client,
    /// Per task with a long poll waiting for an action: bumped when the task changes.
    changes: Mutex<HashMap<TaskId, watch::Sender<u64>>>,
    /// Bumped when a task may have room for a replicate, for the long polls of asks.
    work: watch::Sender<u64>,
    /// When lost replicates were last looked for.
    lost_checked: Mutex<Instant>,
    /// Wakes the driver (a new block, a worker's report).
    wake: Notify,
    /// Login challenges given and not yet used.
    challenges: Mutex<challenges::Challenges>,
    /// The latest block's time and when it was seen.
    chain_clock: Mutex<(u64, Instant)>,
    /// The next nonce, once known.
    nonce: tokio::sync::Mutex<Option<u64>>,
    /// Set when the scheduler is killed or stopping: the API refuses everything.
    dead: AtomicBool,
}

impl Shared {
    /// A receiver told of every change to `task` from now on.
    fn watch(&self, task: TaskId) -> watch::Receiver<u64> {
        self.changes
            .lock()
            .entry(task)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Wakes the long polls waiting on these tasks (and forgets the tasks nobody waits on).
    fn changed(&self, tasks: &[TaskId]) {
        let mut changes = self.changes.lock();
        for task in tasks {
            if let Some(sender) = changes.get(task) {
                sender.send_modify(|v| *v += 1);
            }
        }
        changes.retain(|_, sender| sender.receiver_count() > 0);
    }

    /// Wakes every long poll waiting on a task.
    fn all_changed(&self) {
        for sender in self.changes.lock().values() {
            sender.send_modify(|v| *v += 1);
        }
    }

    fn work_changed(&self) {
        self.work.send_modify(|v| *v += 1);
    }

    fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    /// The chain's time now: the latest block's, plus the time since it was seen.
    fn chain_now(&self) -> u64 {
        let (time, seen) = *self.chain_clock.lock();
        time + seen.elapsed().as_secs()
    }
}

/// A running scheduler.
#[derive(Debug)]
pub struct Handle {
    url: String,
    address: Address,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Handle {
    /// The worker API's base URL, `http://host:port`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The scheduler's account (the workerpool owner).
    pub fn address(&self) -> Address {
        self.address
    }

    /// Stops at once, as a crash would: nothing is finished or flushed beyond what the
    /// database already holds.
    pub async fn kill(mut self) {
        self.shared.dead.store(true, Ordering::SeqCst);
        self.shared.all_changed();
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
    }

    /// Stops: the same as [`Handle::kill`], since every step is recorded as it happens.
    pub async fn shutdown(self) {
        self.kill().await;
    }
}

/// Starts the scheduler: checks that the key owns the workerpool, opens the database,
/// re-broadcasts what it had sent and not seen mined, and serves the worker API.
pub async fn spawn(config: Config) -> Result<Handle> {
    let chain = Chain::connect(&config.rpc_url, config.hub, config.key.0.clone()).await?;
    let owner = chain.owner_of(config.workerpool).await?;
    if owner != chain.address {
        return Err(Error::NotOwner {
            key: chain.address,
            workerpool: config.workerpool,
            owner,
        });
    }
    let identity = format!(
        "chain {} hub {} workerpool {}",
        chain.chain_id, config.hub, config.workerpool
    );
    let db = Db::open(&config.db, &identity)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Listen {
            address: config.listen,
            source,
        })?;
    let local = listener.local_addr().map_err(|source| Error::Listen {
        address: config.listen,
        source,
    })?;
    let (head, time) = chain.head().await?;
    let shared = Arc::new(Shared {
        db,
        chain,
        http: reqwest::Client::new(),
        changes: Mutex::new(HashMap::new()),
        work: watch::channel(0).0,
        lost_checked: Mutex::new(Instant::now()),
        wake: Notify::new(),
        challenges: Mutex::new(challenges::Challenges::new(MAX_CHALLENGES)),
        chain_clock: Mutex::new((time, Instant::now())),
        nonce: tokio::sync::Mutex::new(None),
        dead: AtomicBool::new(false),
        config,
    });
    tracing::info!(
        target: "agora::scheduler",
        workerpool = %shared.config.workerpool,
        head,
        api = %local,
        "scheduler started"
    );
    let address = shared.chain.address;
    let router = api::router(shared.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let subscriber = tokio::spawn(subscribe(shared.clone()));
    let driver = tokio::spawn(drive(shared.clone()));
    Ok(Handle {
        url: format!("http://{local}"),
        address,
        shared,
        tasks: vec![server, subscriber, driver],
    })
}

/// Wakes the driver on every new block, reconnecting when the subscription drops. Without
/// one (a node with no WebSocket) the driver's tick does the polling.
async fn subscribe(shared: Arc<Shared>) {
    let url = shared.config.ws_url();
    let mut backoff = Duration::from_millis(100);
    loop {
        match ProviderBuilder::new()
            .connect_ws(WsConnect::new(url.clone()))
            .await
        {
            Ok(provider) => match provider.subscribe_blocks().await {
                Ok(subscription) => {
                    backoff = Duration::from_millis(100);
                    let mut blocks = subscription.into_stream();
                    while blocks.next().await.is_some() {
                        shared.wake.notify_one();
                    }
                }
                Err(e) => {
                    tracing::debug!(target: "agora::scheduler", %url, error = %e, "no block subscription")
                }
            },
            Err(e) => {
                tracing::debug!(target: "agora::scheduler", %url, error = %e, "no WebSocket")
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// The scheduler's loop: read the chain's new events, settle the transactions sent, run the
/// detectors and send what they decide. It runs on every new block, on every worker report,
/// and at least every `tick`.
async fn drive(shared: Arc<Shared>) {
    if let Err(e) = rebroadcast(&shared, true).await {
        tracing::warn!(target: "agora::scheduler", error = %e, "cannot re-broadcast the recorded transactions");
    }
    loop {
        match step(&shared).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::warn!(target: "agora::scheduler", error = %e, "step failed"),
        }
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(shared.config.tick) => {}
        }
    }
}

/// One round; returns whether it sent a transaction (whose events the next round reads).
async fn step(shared: &Shared) -> Result<bool> {
    let (head, time) = shared.chain.head().await?;
    *shared.chain_clock.lock() = (time, Instant::now());
    let last: Option<u64> = shared
        .db
        .with(|tx| db::meta(tx, "last_block"))?
        .and_then(|v| v.parse().ok());
    let mut from = last.map_or(0, |l| l + 1);
    while from <= head {
        let to = head.min(from + LOG_RANGE - 1);
        let events = shared
            .chain
            .events(shared.config.workerpool, from, to)
            .await?;
        let touched = shared.db.with(|tx| {
            let before = state::last_event(tx)?;
            state::apply(tx, &events)?;
            db::set_meta(tx, "last_block", &to.to_string())?;
            state::tasks_noted_after(tx, before)
        })?;
        if !events.is_empty() {
            shared.changed(&touched);
            shared.work_changed();
        }
        from = to + 1;
    }
    rebroadcast(shared, false).await?;
    let check_lost = {
        let mut checked = shared.lost_checked.lock();
        let due = checked.elapsed() >= shared.config.tick.min(Duration::from_secs(1));
        if due {
            *checked = Instant::now();
        }
        due
    };
    let clock = Clock {
        check_lost,
        chain: shared.chain_now(),
        wall_ms: db::now_ms(),
        worker_lost_after: shared.config.worker_lost_after,
        replicate_timeout: shared.config.replicate_timeout,
        upload_timeout: shared.config.upload_timeout,
    };
    let (calls, reopens, touched) = shared.db.with(|tx| {
        let before = state::last_event(tx)?;
        let (calls, reopens) = state::detect(tx, clock, &shared.config.result_store)?;
        Ok((calls, reopens, state::tasks_noted_after(tx, before)?))
    })?;
    if !touched.is_empty() {
        shared.changed(&touched);
        shared.work_changed();
    }
    let mut sent = false;
    for call in calls {
        sent |= send(shared, &call, &reopens).await?;
    }
    Ok(sent)
}

/// Settles the recorded transactions that were not known to be mined: mined ones are marked,
/// and the others broadcast again (all of them at `start`, else those older than
/// [`REBROADCAST_AFTER`]).
async fn rebroadcast(shared: &Shared, start: bool) -> Result<()> {
    let pending = shared.db.with(state::pending_txs)?;
    for tx in pending {
        if let Some(success) = shared.chain.receipt(tx.hash).await? {
            shared.db.with(|db| state::tx_mined(db, &tx, success))?;
            continue;
        }
        let age = db::now_ms().saturating_sub(tx.sent_ms);
        if start || age > REBROADCAST_AFTER.as_millis() as u64 {
            if let Err(e) = shared.chain.broadcast(&tx.raw).await {
                tracing::warn!(target: "agora::scheduler", hash = %tx.hash, error = %e, "re-broadcast refused");
            }
            shared.db.with(|db| {
                db.prepare_cached("UPDATE txs SET sent_ms = ?2 WHERE nonce = ?1")?
                    .execute(rusqlite::params![tx.nonce, db::now_ms()])?;
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// Sends a call decided by the detectors: estimated (a call that would revert is not sent,
/// and the tasks' histories say why), signed, recorded, broadcast.
async fn send(
    shared: &Shared,
    call: &Call,
    reopens: &HashMap<agora_primitives::TaskId, u64>,
) -> Result<bool> {
    let purposes = state::purposes(call, reopens);
    let (data, label) = shared.chain.calldata(call);
    let gas_price = shared.chain.gas_price().await?;
    let gas = match shared.chain.gas_for(call, &data, gas_price == 0).await {
        Ok(gas) => gas,
        Err(reason) => {
            let text = format!("{label} would revert: {reason}");
            tracing::warn!(target: "agora::scheduler", %text, "not sent");
            shared.db.with(|tx| {
                state::purpose_failed(tx, &purposes, &text)?;
                for task in state::tasks_of(call) {
                    state::note(tx, task, None, "TRANSACTION_REFUSED", &text)?;
                }
                Ok(())
            })?;
            return Ok(false);
        }
    };
    let mut nonce = shared.nonce.lock().await;
    let next = match *nonce {
        Some(n) => n,
        None => {
            let recorded = shared.db.with(state::next_recorded_nonce)?;
            let chain = shared.chain.pending_nonce().await?;
            recorded.unwrap_or(0).max(chain)
        }
    };
    let (hash, raw) = shared.chain.sign(&data, next, gas, gas_price).await?;
    shared
        .db
        .with(|tx| state::record_tx(tx, next, hash, &raw, label, &purposes))?;
    *nonce = Some(next + 1);
    drop(nonce);
    tracing::debug!(target: "agora::scheduler", %hash, nonce = next, label, "sending");
    if let Err(e) = shared.chain.broadcast(&raw).await {
        tracing::warn!(target: "agora::scheduler", %hash, error = %e, "broadcast refused; it is retried");
        return Ok(false);
    }
    if let Some(success) = shared.chain.receipt(hash).await? {
        let pending = state::PendingTx {
            nonce: next,
            hash,
            raw,
            label: label.to_string(),
            sent_ms: db::now_ms(),
        };
        shared
            .db
            .with(|tx| state::tx_mined(tx, &pending, success))?;
    }
    Ok(true)
}
