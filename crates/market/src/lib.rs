//! The market (`agora market`): the off-chain order book of spec §1.1.
//!
//! Owners publish their signed app, dataset and workerpool orders and requesters their request
//! orders; anyone lists and filters them, best first, and reads one by hash (the API's types are
//! in [`agora_api::market`], its document at `GET /v1/openapi.json`). An order is accepted only
//! if `matchOrders` would accept it now: its asset is registered, it is signed by the asset's
//! current owner (or its requester), or presigned on chain, and it has volume left.
//!
//! The chain is the source of truth. A background task follows it from the last block it
//! applied, kept in the database, so that nothing is missed across restarts (a new-block
//! subscription only wakes it): `OrdersMatched` lowers the remaining volume of the orders it
//! names until they are `FILLED`, `Closed<X>Order` makes an order `CANCELLED` (that is how an
//! order is cancelled: on chain, by its owner or with its owner's signature of the operation),
//! and a registry's `Transfer` makes the asset's orders `STALE` when the new owner is not their
//! signer, and `OPEN` again when the asset comes back.
//!
//! The book is one SQLite file ([`Store`]), indexed so that filtered lists stay fast with a
//! million orders (`docs/PERFORMANCE.md`).

mod chain;
mod client;
mod error;
mod server;
mod store;

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use agora_primitives::{Address, OrderHash};
use alloy::providers::{Provider, ProviderBuilder, WsConnect};
use futures::StreamExt;
use tokio::sync::{Notify, RwLock};

pub use client::{Client, ClientError};
pub use error::{Error, Result};
pub use store::{NewOrder, Store};

use crate::{
    chain::{Chain, Event},
    store::Change,
};

/// The most blocks read in one `eth_getLogs`.
const LOG_RANGE: u64 = 2_000;
/// The longest a round of following may take (it holds the book: publishes wait for it). A
/// round cut short loses nothing: each range of blocks is applied in one transaction.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest the chain checks of one publish may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// How a market runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The order book (SQLite; created if missing).
    pub db: PathBuf,
    /// The address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// The chain's JSON-RPC endpoint over HTTP. Its WebSocket endpoint, for the new-block
    /// subscription, is the same URL with the `ws` scheme (the embedded chain serves both on
    /// one port); without it the market polls every `tick`.
    pub rpc_url: String,
    /// The hub whose orders the market keeps.
    pub hub: Address,
    /// How often the market looks for new blocks when no subscription wakes it.
    pub tick: Duration,
}

impl Config {
    /// A market for `hub` on the chain at `rpc_url`, with its book at `db`, on
    /// `127.0.0.1:7600`.
    pub fn new(rpc_url: impl Into<String>, hub: Address, db: PathBuf) -> Self {
        Self {
            db,
            listen: SocketAddr::from(([127, 0, 0, 1], 7600)),
            rpc_url: rpc_url.into(),
            hub,
            tick: Duration::from_secs(1),
        }
    }

    /// [`Config::new`] for tests: port 0, a short tick.
    pub fn test(rpc_url: impl Into<String>, hub: Address, db: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tick: Duration::from_millis(100),
            ..Self::new(rpc_url, hub, db)
        }
    }

    fn ws_url(&self) -> String {
        if let Some(rest) = self.rpc_url.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.rpc_url.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            self.rpc_url.clone()
        }
    }
}

/// What the API and the follower share.
#[derive(Debug)]
struct Shared {
    config: Config,
    store: Store,
    chain: Chain,
    /// Held for reading while an order is checked and stored, for writing while the chain's
    /// events are applied: an event is applied either before an order's checks read the chain,
    /// or after the order is stored.
    book: RwLock<()>,
    /// Wakes the follower (a new block).
    wake: Notify,
}

/// Runs `f` on the book on a blocking thread.
async fn db<T: Send + 'static>(
    shared: &Arc<Shared>,
    f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
) -> Result<T> {
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || f(&shared.store))
        .await
        .map_err(|e| Error::Stopped(e.to_string()))?
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// A running market.
#[derive(Debug)]
pub struct Handle {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Handle {
    /// The API's base URL, `http://host:port`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops: the requests in flight are answered, then the chain is no longer followed.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.server).await;
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
    }

    /// Stops at once, as a crash would. Every change is one database transaction, so the book
    /// is as it was after the last one.
    pub async fn kill(mut self) {
        self.server.abort();
        let _ = (&mut self.server).await;
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
    }
}

/// Starts the market: connects to the chain (the hub must answer as one), opens the book (a
/// new one starts following the chain at its head; an existing one catches up from its last
/// block), and serves the API.
pub async fn serve(config: Config) -> Result<Handle> {
    let chain = Chain::connect(&config.rpc_url, config.hub).await?;
    let identity = format!("chain {} hub {}", chain.domain.chain_id, config.hub);
    let store = Store::open(&config.db, &identity)?;
    let head = chain.head().await?;
    match store.last_block()? {
        None => store.set_last_block(head)?,
        Some(last) if last > head => tracing::warn!(
            target: "agora::market",
            last,
            head,
            "the chain is behind the book's last block: was it reset?"
        ),
        Some(_) => {}
    }
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
    let shared = Arc::new(Shared {
        config,
        store,
        chain,
        book: RwLock::new(()),
        wake: Notify::new(),
    });
    tracing::info!(
        target: "agora::market",
        hub = %shared.config.hub,
        head,
        api = %local,
        "market started"
    );
    let router = server::router(shared.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    let subscriber = tokio::spawn(subscribe(shared.clone()));
    let follower = tokio::spawn(follow(shared));
    Ok(Handle {
        url: format!("http://{local}"),
        stop: Some(stop),
        server,
        tasks: vec![subscriber, follower],
    })
}

/// Wakes the follower on every new block, reconnecting when the subscription drops.
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
                    tracing::debug!(target: "agora::market", %url, error = %e, "no block subscription")
                }
            },
            Err(e) => tracing::debug!(target: "agora::market", %url, error = %e, "no WebSocket"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// Applies the chain's new events on every new block, and at least every `tick`.
async fn follow(shared: Arc<Shared>) {
    loop {
        match tokio::time::timeout(STEP_TIMEOUT, step(&shared)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(target: "agora::market", error = %e, "cannot follow the chain")
            }
            Err(_) => tracing::warn!(
                target: "agora::market",
                timeout = ?STEP_TIMEOUT,
                "the chain is too slow to follow; trying again"
            ),
        }
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(shared.config.tick) => {}
        }
    }
}

/// Applies the events of the blocks after the last one applied, up to the chain's head, a
/// range of blocks per transaction.
async fn step(shared: &Arc<Shared>) -> Result<()> {
    let _book = shared.book.write().await;
    let head = shared.chain.head().await?;
    let Some(last) = db(shared, |store| store.last_block()).await? else {
        return Ok(());
    };
    let mut from = last + 1;
    let mut range = LOG_RANGE;
    while from <= head {
        let to = head.min(from + range - 1);
        let events = match shared.chain.events(from, to).await {
            Ok(events) => events,
            // Too many logs for the node, perhaps: fewer blocks at a time.
            Err(e) if range > 1 => {
                tracing::debug!(target: "agora::market", from, to, error = %e, "fewer blocks");
                range = (range / 2).max(1);
                continue;
            }
            Err(e) => return Err(e),
        };
        let changes = changes(shared, &events).await?;
        if !changes.is_empty() {
            tracing::debug!(target: "agora::market", from, to, changes = changes.len(), "applying");
        }
        db(shared, move |store| store.apply(&changes, to)).await?;
        from = to + 1;
    }
    Ok(())
}

/// What `events` change in the book. The consumed volume of a matched order is read from the
/// chain as it is now (only for the orders the book has): the chain's value only grows, so
/// applying it is right however late.
async fn changes(shared: &Arc<Shared>, events: &[Event]) -> Result<Vec<Change>> {
    let mut matched: Vec<OrderHash> = Vec::new();
    for event in events {
        if let Event::Matched(hashes) = event {
            for hash in hashes {
                if *hash != OrderHash::default() && !matched.contains(hash) {
                    matched.push(*hash);
                }
            }
        }
    }
    let known = if matched.is_empty() {
        Vec::new()
    } else {
        db(shared, move |store| store.known(&matched)).await?
    };
    let mut consumed = Vec::with_capacity(known.len());
    for hash in known {
        let value = shared
            .chain
            .consumed(hash)
            .await
            .map_err(|e| Error::Chain(e.0))?;
        consumed.push(Change::Consumed {
            hash,
            consumed: value,
        });
    }
    let mut changes = consumed;
    for event in events {
        match event {
            Event::Matched(_) => {}
            Event::Closed(hash) => changes.push(Change::Closed(*hash)),
            Event::Transfer { kind, asset, to } => changes.push(Change::Owner {
                kind: *kind,
                asset: *asset,
                owner: *to,
            }),
        }
    }
    Ok(changes)
}
