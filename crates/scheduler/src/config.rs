//! How a scheduler runs.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use alloy::{primitives::Address, signers::local::PrivateKeySigner};

/// The workerpool owner's key, which signs the scheduler's transactions and authorizations.
/// Its `Debug` does not print it.
#[derive(Clone)]
pub struct SchedulerKey(pub PrivateKeySigner);

impl std::fmt::Debug for SchedulerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SchedulerKey({}, <redacted>)", self.0.address())
    }
}

/// How a scheduler runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The chain's JSON-RPC endpoint over HTTP.
    pub rpc_url: String,
    /// Its WebSocket endpoint, for the new-block subscription; default: `rpc_url` with the
    /// `ws` scheme (the embedded chain serves both on one port). Without a subscription the
    /// scheduler polls every `tick`.
    pub ws_url: Option<String>,
    /// The hub.
    pub hub: Address,
    /// The workerpool this scheduler runs.
    pub workerpool: Address,
    /// The workerpool owner's key.
    pub key: SchedulerKey,
    /// The database file (SQLite; created if missing).
    pub db: PathBuf,
    /// The address the worker API listens on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// The result store the pool's workers upload to.
    pub result_store: String,
    /// The only workers allowed to log in; `None` lets any worker in.
    pub workers: Option<Vec<Address>>,
    /// How often the scheduler looks at the chain and its deadlines when no block arrives.
    pub tick: Duration,
    /// A worker that has not asked for work or reported for this long is lost, and its
    /// uncontributed replicates go to others.
    pub worker_lost_after: Duration,
    /// A replicate not contributed this long after it was assigned is lost (default: the
    /// category's time reference, the longest an app may run).
    pub replicate_timeout: Option<Duration>,
    /// How long a revealed worker has to upload the result before another is asked.
    pub upload_timeout: Duration,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// How long a login challenge may be used.
    pub challenge_ttl: Duration,
    /// How long a worker whose replicate failed for a reason of its own (it could not start,
    /// contribute or reveal) gets no new replicate; doubled for each further such failure in
    /// a row, up to 32 times.
    pub failure_backoff: Duration,
    /// Log tracing at startup (quiet in tests).
    pub quiet: bool,
}

impl Config {
    /// A scheduler for `workerpool` on the chain at `rpc_url`, with its database at `db`, on
    /// `127.0.0.1:7700`.
    pub fn new(
        rpc_url: impl Into<String>,
        hub: Address,
        workerpool: Address,
        key: PrivateKeySigner,
        db: PathBuf,
        result_store: impl Into<String>,
    ) -> Self {
        Self {
            rpc_url: rpc_url.into(),
            ws_url: None,
            hub,
            workerpool,
            key: SchedulerKey(key),
            db,
            listen: SocketAddr::from(([127, 0, 0, 1], 7700)),
            result_store: result_store.into(),
            workers: None,
            tick: Duration::from_secs(1),
            worker_lost_after: Duration::from_secs(30),
            replicate_timeout: None,
            upload_timeout: Duration::from_secs(60),
            session_ttl: Duration::from_secs(24 * 3600),
            challenge_ttl: Duration::from_secs(120),
            failure_backoff: Duration::from_secs(30),
            quiet: false,
        }
    }

    /// [`Config::new`] for tests: port 0, a short tick.
    pub fn test(
        rpc_url: impl Into<String>,
        hub: Address,
        workerpool: Address,
        key: PrivateKeySigner,
        db: PathBuf,
        result_store: impl Into<String>,
    ) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tick: Duration::from_millis(100),
            quiet: true,
            ..Self::new(rpc_url, hub, workerpool, key, db, result_store)
        }
    }

    pub(crate) fn ws_url(&self) -> String {
        self.ws_url.clone().unwrap_or_else(|| {
            if let Some(rest) = self.rpc_url.strip_prefix("https://") {
                format!("wss://{rest}")
            } else if let Some(rest) = self.rpc_url.strip_prefix("http://") {
                format!("ws://{rest}")
            } else {
                self.rpc_url.clone()
            }
        })
    }
}
