//! The worker daemon (`agora worker`): it logs in to its scheduler, asks for replicates while
//! it has free slots, and runs each one: it reads the task's deal, app and dataset from the
//! chain (it trusts the scheduler for nothing it can check), checks its stake, fetches the
//! app and its inputs and checks their checksums, runs the app in the [`Sandbox`],
//! contributes, reveals when asked, uploads the result when asked, and reports each status.
//!
//! What it has done for each replicate is kept in its journal (`worker.db`, see
//! [`crate::journal`]), so that after a restart it resumes instead of computing again.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use agora_api::{
    ApiError,
    results::{Stored, headers},
    scheduler::{
        self as api, Action, ActionReply, Ask, Assignment, Challenge, Login, ReplicateStatus,
        Session, StatusUpdate,
    },
};
use agora_contracts::{App as AppContract, Dataset as DatasetContract, Hub};
use agora_primitives::{Contribution, LoginChallenge, ResultDigest, ResultUpload, TaskId};
use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::{
    Checksum, DatasetInput, DealParams, FetchPolicy, Fetched, Fetcher, Limits, Sandbox,
    TaskContext, Verdict, Workspace, archive_of, execute, journal::Journal,
};

/// The worker's key. Its `Debug` does not print it.
#[derive(Clone)]
pub struct WorkerKey(pub PrivateKeySigner);

impl std::fmt::Debug for WorkerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WorkerKey({}, <redacted>)", self.0.address())
    }
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// The scheduler's base URL.
    pub scheduler: String,
    /// The chain's JSON-RPC endpoint.
    pub rpc_url: String,
    /// The hub.
    pub hub: Address,
    /// The worker's key (its account stakes and is paid).
    pub key: WorkerKey,
    /// Where replicates run and their state is kept.
    pub work_dir: PathBuf,
    /// How many replicates run at once.
    pub slots: usize,
    /// How long one request to the scheduler may wait for work.
    pub ask_wait: Duration,
    /// What the app's module and the dataset may be fetched from (both are then checked
    /// against their on-chain checksum). Default: public http(s) only.
    pub asset_fetch: FetchPolicy,
    /// What the requester's input files may be fetched from (nothing checks them). Default:
    /// public http(s) only.
    pub input_fetch: FetchPolicy,
    /// For drills and tests only: contribute a wrong result (a saboteur). Only in a worker
    /// built with the `saboteur` feature, which the end-to-end tests enable and no release
    /// does.
    #[cfg(feature = "saboteur")]
    pub faulty: bool,
}

impl DaemonConfig {
    /// A worker of the scheduler at `scheduler`, with 2 slots.
    pub fn new(
        scheduler: impl Into<String>,
        rpc_url: impl Into<String>,
        hub: Address,
        key: PrivateKeySigner,
        work_dir: PathBuf,
    ) -> Self {
        Self {
            scheduler: scheduler.into(),
            rpc_url: rpc_url.into(),
            hub,
            key: WorkerKey(key),
            work_dir,
            slots: 2,
            ask_wait: Duration::from_secs(10),
            asset_fetch: FetchPolicy::default(),
            input_fetch: FetchPolicy::default(),
            #[cfg(feature = "saboteur")]
            faulty: false,
        }
    }
}

/// What a worker has done since it started.
#[derive(Debug, Default)]
pub struct Stats {
    /// Replicates whose app ran to a result.
    pub computed: AtomicU64,
    /// Contributions sent.
    pub contributed: AtomicU64,
    /// Reveals sent.
    pub revealed: AtomicU64,
    /// Results uploaded.
    pub uploaded: AtomicU64,
    /// Replicates of finalized tasks.
    pub completed: AtomicU64,
    /// Replicates that failed or were aborted.
    pub failed: AtomicU64,
}

/// What can stop a worker.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The RPC URL.
    #[error("bad RPC URL {0:?}")]
    RpcUrl(String),
    /// The HTTP client that fetches apps, datasets and input files cannot be built.
    #[error(transparent)]
    Fetcher(crate::FetchError),
    /// The work directory.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The sandbox.
    #[error(transparent)]
    Sandbox(#[from] crate::Error),
    /// The journal of replicates.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
}

/// A running worker.
#[derive(Debug)]
pub struct DaemonHandle {
    address: Address,
    stats: Arc<Stats>,
    main: tokio::task::JoinHandle<()>,
}

impl DaemonHandle {
    /// The worker's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// What it has done.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Stops at once, as a crash would: what is on disk stays.
    pub async fn kill(mut self) {
        self.main.abort();
        let _ = (&mut self.main).await;
    }
}

/// One replicate's state, as the journal keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReplicateState {
    assignment: Assignment,
    phase: Phase,
    #[serde(default)]
    digest: Option<B256>,
    #[serde(default)]
    callback_data: Option<Bytes>,
    /// The result archive, once computed; also in the journal, from where a restarted worker
    /// reads it.
    #[serde(skip)]
    archive: Option<Bytes>,
    /// Read back from disk after a restart: the chain is asked what was already sent.
    #[serde(skip)]
    resumed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Phase {
    Assigned,
    Computed,
    Contributed,
    Revealed,
    Uploaded,
}

struct Worker {
    config: DaemonConfig,
    address: Address,
    http: reqwest::Client,
    provider: DynProvider,
    hub: Hub::HubInstance<DynProvider>,
    sandbox: Arc<Sandbox>,
    assets: Fetcher,
    inputs: Fetcher,
    session: tokio::sync::Mutex<Option<String>>,
    /// The next nonce, once known; held while a transaction is sent, so that the worker's
    /// transactions reach the node in nonce order.
    nonce: tokio::sync::Mutex<Option<u64>>,
    /// What each deal says, read once.
    deals: std::sync::Mutex<std::collections::HashMap<agora_primitives::DealId, DealFacts>>,
    /// The slots' workspaces (`<dir>/slots/<n>`) not in use.
    free_workspaces: std::sync::Mutex<Vec<usize>>,
    stats: Arc<Stats>,
    journal: Arc<Journal>,
}

/// Starts a worker: it resumes the replicates it had started, then asks for more.
pub async fn spawn(config: DaemonConfig) -> Result<DaemonHandle, DaemonError> {
    let url = config
        .rpc_url
        .parse()
        .map_err(|_| DaemonError::RpcUrl(config.rpc_url.clone()))?;
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(config.key.0.clone()))
        .connect_http(url)
        .erased();
    let slots = config.work_dir.join("slots");
    std::fs::create_dir_all(&slots).map_err(|source| DaemonError::Io {
        path: slots.clone(),
        source,
    })?;
    let sandbox = Sandbox::with_cache_dir(&config.work_dir.join("cache"))?;
    let journal = Arc::new(Journal::open(&config.work_dir.join("worker.db"))?);
    let resumed = resumable(&journal)?;
    let address = config.key.0.address();
    let stats = Arc::new(Stats::default());
    let worker = Arc::new(Worker {
        address,
        http: reqwest::Client::new(),
        hub: Hub::new(config.hub, provider.clone()),
        provider,
        sandbox: Arc::new(sandbox),
        assets: Fetcher::new(config.asset_fetch.clone()).map_err(fetch_client)?,
        inputs: Fetcher::new(config.input_fetch.clone()).map_err(fetch_client)?,
        session: tokio::sync::Mutex::new(None),
        nonce: tokio::sync::Mutex::new(None),
        deals: std::sync::Mutex::new(std::collections::HashMap::new()),
        free_workspaces: std::sync::Mutex::new((0..config.slots.max(1)).rev().collect()),
        stats: stats.clone(),
        journal,
        config,
    });
    let main = tokio::spawn(worker.serve(resumed));
    Ok(DaemonHandle {
        address,
        stats,
        main,
    })
}

fn fetch_client(reason: crate::FetchError) -> DaemonError {
    DaemonError::Fetcher(reason)
}

/// The replicates a previous run left unfinished, the most urgent first.
fn resumable(journal: &Journal) -> Result<Vec<ReplicateState>, DaemonError> {
    let mut states: Vec<ReplicateState> = journal
        .all::<ReplicateState>()?
        .into_iter()
        .map(|state| ReplicateState {
            resumed: true,
            ..state
        })
        .collect();
    states.sort_by_key(|s| s.assignment.contribution_deadline);
    Ok(states)
}

impl Worker {
    /// A free slot's workspace, emptied, until the lease is dropped.
    fn lease_workspace(&self) -> crate::Result<WorkspaceLease<'_>> {
        let index = self
            .free_workspaces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        // At most `slots` replicates run at once, so one is free; a spare is made otherwise.
        let index = index.unwrap_or(self.config.slots.max(1));
        let root = self.config.work_dir.join("slots").join(index.to_string());
        match Workspace::create(&root) {
            Ok(workspace) => Ok(WorkspaceLease {
                worker: self,
                index,
                workspace,
            }),
            Err(e) => {
                self.give_back(index);
                Err(e)
            }
        }
    }

    fn give_back(&self, index: usize) {
        self.free_workspaces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(index);
    }

    /// Records the replicate's state in the journal, on a blocking thread.
    async fn save(&self, state: &ReplicateState) {
        let journal = self.journal.clone();
        let task = state.assignment.task_id;
        let state = state.clone();
        let saved = match tokio::task::spawn_blocking(move || journal.save(task, &state)).await {
            Ok(saved) => saved.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = saved {
            tracing::warn!(target: "agora::worker", task_id = %task, error = %e, "cannot save the replicate's state");
        }
    }

    /// Records the computed replicate's state with its archive, in one transaction.
    async fn save_computed(&self, state: &ReplicateState) {
        let journal = self.journal.clone();
        let task = state.assignment.task_id;
        let archive = state.archive.clone().unwrap_or_default();
        let state = state.clone();
        let saved =
            tokio::task::spawn_blocking(move || journal.save_with_archive(task, &state, &archive))
                .await;
        let saved = match saved {
            Ok(saved) => saved.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = saved {
            tracing::warn!(target: "agora::worker", task_id = %task, error = %e, "cannot save the replicate's result");
        }
    }

    /// The replicate's result archive: kept in memory since it was computed, or read from the
    /// journal after a restart.
    async fn archive(&self, state: &mut ReplicateState) -> Result<Bytes, String> {
        if let Some(archive) = &state.archive {
            return Ok(archive.clone());
        }
        let task = state.assignment.task_id;
        let journal = self.journal.clone();
        let found = tokio::task::spawn_blocking(move || journal.archive(task))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let archive = Bytes::from(found.ok_or_else(|| {
            format!("the result archive of task {task} is not in this worker's journal")
        })?);
        state.archive = Some(archive.clone());
        Ok(archive)
    }

    fn forget(&self, task: TaskId) {
        if let Err(e) = self.journal.forget(task) {
            tracing::warn!(target: "agora::worker", task_id = %task, error = %e, "cannot forget the replicate's state");
        }
    }

    /// Runs the replicates: first those left from a previous run, then those the scheduler
    /// gives while a slot is free. Dropping this future (a kill) stops them all.
    async fn serve(self: Arc<Self>, resumed: Vec<ReplicateState>) {
        let slots = Arc::new(Semaphore::new(self.config.slots.max(1)));
        let mut running = tokio::task::JoinSet::new();
        for state in resumed {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            tracing::info!(target: "agora::worker", task_id = %state.assignment.task_id, phase = ?state.phase, "resuming");
            let worker = self.clone();
            running.spawn(async move {
                worker.run(state).await;
                drop(permit);
            });
        }
        let mut heartbeat = tokio::time::interval(HEARTBEAT_EVERY);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut unreachable = crate::heartbeat::Unreachable::default();
        loop {
            tokio::select! {
                // While every slot is busy nothing else is sent for minutes: the heartbeat
                // keeps the scheduler from handing the running replicates to others.
                _ = heartbeat.tick() => self.heartbeat().await,
                permit = slots.clone().acquire_owned() => {
                    let Ok(permit) = permit else { return };
                    // What it holds is read from the journal, where every replicate it was
                    // given is written before the next ask.
                    let holding = self.holding();
                    let ask = Ask {
                        free_slots: slots.available_permits() as u32 + 1,
                        wait_ms: self.config.ask_wait.as_millis() as u64,
                        holding: holding.clone(),
                    };
                    let asked = self.post::<_, Assignment>(api::ASK, &ask).await;
                    if asked.is_ok() {
                        unreachable.reached(&self.config.scheduler);
                    }
                    match asked {
                        Ok(Some(assignment))
                            if holding
                                .as_ref()
                                .is_some_and(|h| h.contains(&assignment.task_id)) =>
                        {
                            // Already running here: a second run would contribute twice.
                            tracing::warn!(target: "agora::worker", task_id = %assignment.task_id, "the scheduler gave a replicate this worker already runs; ignored");
                            drop(permit);
                        }
                        Ok(Some(assignment)) => {
                            let state = ReplicateState {
                                assignment,
                                phase: Phase::Assigned,
                                digest: None,
                                callback_data: None,
                                archive: None,
                                resumed: false,
                            };
                            self.save(&state).await;
                            let worker = self.clone();
                            running.spawn(async move {
                                worker.run(state).await;
                                drop(permit);
                            });
                        }
                        Ok(None) => drop(permit),
                        Err(e) => {
                            drop(permit);
                            let delay = unreachable.failed(&self.config.scheduler, &e.to_string());
                            tokio::time::sleep(delay).await;
                        }
                    }
                }
                Some(_) = running.join_next(), if !running.is_empty() => {}
            }
        }
    }
}

/// A slot's workspace, in use by one replicate; emptied and freed when dropped.
struct WorkspaceLease<'a> {
    worker: &'a Worker,
    index: usize,
    workspace: Workspace,
}

impl Drop for WorkspaceLease<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.workspace.clear() {
            tracing::warn!(target: "agora::worker", error = %e, "cannot empty a slot's workspace");
        }
        self.worker.give_back(self.index);
    }
}

/// Why a replicate stopped before its task completed.
#[derive(Debug)]
enum Stop {
    /// The scheduler said to stop.
    Aborted(String),
    /// It failed here; the status and reason are reported.
    Failed(ReplicateStatus, String),
}

/// A failed fetch of `what` from `url` as the replicate's failure with `status`.
fn fetch_failed(
    status: ReplicateStatus,
    what: Fetched,
    url: &str,
) -> impl FnOnce(crate::FetchError) -> Stop + '_ {
    move |reason| {
        let error = crate::Error::Fetch {
            what,
            url: url.to_string(),
            reason,
        };
        Stop::Failed(status, error.to_string())
    }
}

fn failed(status: ReplicateStatus) -> impl FnOnce(String) -> Stop {
    move |reason| Stop::Failed(status, reason)
}

/// Why a result upload did not go through.
enum UploadError {
    /// It may go through later (the store is unreachable or the chain has not caught up).
    Retry(String),
    /// It never will (the store refused this archive from this worker for good).
    Final(String),
}

/// A failed request to the scheduler or the result store.
#[derive(Debug, thiserror::Error)]
enum ClientError {
    /// It could not be reached, or answered 5xx: worth retrying.
    #[error("{0}")]
    Unavailable(String),
    /// It refused the request.
    #[error("{status}: {error}")]
    Refused { status: u16, error: String },
}

/// What the deal of a task says, read from the chain once per deal.
#[derive(Debug, Clone)]
struct DealFacts {
    params: DealParams,
    bot_first: u64,
    bot_size: u64,
    start: u64,
    app_url: String,
    app_checksum: Checksum,
    dataset: Option<(Address, String, B256)>,
    timeref: u64,
    worker_stake: U256,
    callback: Address,
}

impl Worker {
    /// Runs one replicate to its end, reporting each status, and forgets it.
    async fn run(self: Arc<Self>, mut state: ReplicateState) {
        let task = state.assignment.task_id;
        match self.replicate(&mut state).await {
            Ok(()) => {
                self.stats.completed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(target: "agora::worker", task_id = %task, "replicate completed");
            }
            Err(Stop::Aborted(reason)) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(target: "agora::worker", task_id = %task, %reason, "replicate stopped by the scheduler");
            }
            Err(Stop::Failed(status, reason)) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(target: "agora::worker", task_id = %task, %status, %reason, "replicate failed");
                let _ = self
                    .report(task, StatusUpdate::failed(status, reason))
                    .await;
            }
        }
        self.forget(task);
    }

    /// Reports a status; an `Abort` answer stops the replicate.
    async fn step(&self, task: TaskId, update: StatusUpdate) -> Result<Action, Stop> {
        match self.report(task, update).await {
            Ok(Action::Abort { reason }) => Err(Stop::Aborted(reason)),
            Ok(action) => Ok(action),
            Err(ClientError::Refused { error, .. }) => Err(Stop::Aborted(error)),
            Err(e) => Err(Stop::Aborted(e.to_string())),
        }
    }

    async fn replicate(&self, state: &mut ReplicateState) -> Result<(), Stop> {
        let task = state.assignment.task_id;
        let deal = state.assignment.deal_id;
        if deal.task(U256::from(state.assignment.index)) != task {
            return Err(Stop::Failed(
                ReplicateStatus::StartFailed,
                format!(
                    "task {task} is not task {} of deal {deal}",
                    state.assignment.index
                ),
            ));
        }
        let facts = self
            .facts(deal)
            .await
            .map_err(failed(ReplicateStatus::StartFailed))?;
        if state.phase == Phase::Assigned {
            self.step(task, StatusUpdate::new(ReplicateStatus::Started))
                .await?;
            self.compute(state, &facts).await?;
        }
        if state.phase == Phase::Computed {
            self.contribute(state).await?;
        }
        let mut action = self.step(task, self.contributed_update(state)).await?;
        loop {
            match action {
                Action::Reveal if state.phase < Phase::Revealed => {
                    self.reveal(state).await?;
                    action = self
                        .step(task, StatusUpdate::new(ReplicateStatus::Revealed))
                        .await?;
                }
                Action::Upload if state.phase < Phase::Uploaded => {
                    if let Err(reason) = self.upload_retrying(state).await? {
                        // The scheduler asks this worker again, or another one.
                        action = self
                            .step(
                                task,
                                StatusUpdate::failed(ReplicateStatus::ResultUploadFailed, reason),
                            )
                            .await?;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    let mut update = StatusUpdate::new(ReplicateStatus::ResultUploaded);
                    if facts.callback != Address::ZERO {
                        update.callback_data =
                            Some(state.callback_data.clone().unwrap_or_default());
                    }
                    action = self.step(task, update).await?;
                }
                Action::Complete => {
                    let _ = self
                        .report(task, StatusUpdate::new(ReplicateStatus::Completed))
                        .await;
                    return Ok(());
                }
                Action::Abort { reason } => return Err(Stop::Aborted(reason)),
                _ => {
                    action = self.wait_action(task).await?;
                }
            }
        }
    }

    fn contributed_update(&self, state: &ReplicateState) -> StatusUpdate {
        let status = match state.phase {
            Phase::Revealed => ReplicateStatus::Revealed,
            Phase::Uploaded => ReplicateStatus::ResultUploaded,
            _ => ReplicateStatus::Contributed,
        };
        let mut update = StatusUpdate::new(status);
        if let Some(digest) = state.digest {
            let contribution = Contribution::new(
                self.address,
                state.assignment.task_id,
                ResultDigest::new(digest),
            );
            update.result_hash = Some(contribution.result_hash);
        }
        update
    }

    /// The deal's facts, from the chain (once per deal: they do not change).
    async fn facts(&self, deal: agora_primitives::DealId) -> Result<DealFacts, String> {
        if let Some(facts) = self.deals.lock().ok().and_then(|d| d.get(&deal).cloned()) {
            return Ok(facts);
        }
        let facts = self.read_facts(deal).await?;
        if let Ok(mut deals) = self.deals.lock() {
            if deals.len() > 1024 {
                deals.clear();
            }
            deals.insert(deal, facts.clone());
        }
        Ok(facts)
    }

    async fn read_facts(&self, deal: agora_primitives::DealId) -> Result<DealFacts, String> {
        let chain = |what: &str, e: alloy::contract::Error| {
            format!("cannot read {what} from the chain: {e}")
        };
        let d = self
            .hub
            .viewDeal(*deal.as_b256())
            .call()
            .await
            .map_err(|e| chain("the deal", e))?;
        let category = self
            .hub
            .viewCategory(d.category)
            .call()
            .await
            .map_err(|e| chain("the category", e))?;
        let app = AppContract::new(d.app.pointer, self.provider.clone());
        let app_url = app
            .m_appMultiaddr()
            .call()
            .await
            .map_err(|e| chain("the app's address", e))?;
        let app_checksum = app
            .m_appChecksum()
            .call()
            .await
            .map_err(|e| chain("the app's checksum", e))?;
        let dataset = if d.dataset.pointer == Address::ZERO {
            None
        } else {
            let dataset = DatasetContract::new(d.dataset.pointer, self.provider.clone());
            let url = dataset
                .m_datasetMultiaddr()
                .call()
                .await
                .map_err(|e| chain("the dataset's address", e))?;
            let checksum = dataset
                .m_datasetChecksum()
                .call()
                .await
                .map_err(|e| chain("the dataset's checksum", e))?;
            Some((
                d.dataset.pointer,
                String::from_utf8_lossy(&url).into_owned(),
                checksum,
            ))
        };
        Ok(DealFacts {
            params: DealParams::parse(&d.params).map_err(|e| e.to_string())?,
            bot_first: d.botFirst.saturating_to(),
            bot_size: d.botSize.saturating_to(),
            start: d.startTime.saturating_to(),
            app_url: String::from_utf8_lossy(&app_url).into_owned(),
            app_checksum: Checksum(app_checksum.0),
            dataset,
            timeref: category.workClockTimeRef.saturating_to(),
            worker_stake: d.workerStake,
            callback: d.callback,
        })
    }

    /// Checks the stake, fetches the app and inputs, runs the app, keeps the result.
    async fn compute(&self, state: &mut ReplicateState, facts: &DealFacts) -> Result<(), Stop> {
        let task = state.assignment.task_id;
        let account = self
            .hub
            .viewAccount(self.address)
            .call()
            .await
            .map_err(|e| {
                Stop::Failed(
                    ReplicateStatus::StartFailed,
                    format!("cannot read the worker's account: {e}"),
                )
            })?;
        if account.stake < facts.worker_stake {
            return Err(Stop::Failed(
                ReplicateStatus::StartFailed,
                format!(
                    "the worker's free balance {} nRLC is below the deal's worker stake {} nRLC: deposit more",
                    account.stake, facts.worker_stake
                ),
            ));
        }
        self.step(task, StatusUpdate::new(ReplicateStatus::AppDownloading))
            .await?;
        let app = match self.sandbox.cached(&facts.app_checksum) {
            Some(app) => app,
            None => {
                let url = &facts.app_url;
                let bytes = self
                    .assets
                    .fetch(url, &mut self.assets.budget())
                    .await
                    .map_err(fetch_failed(
                        ReplicateStatus::AppDownloadFailed,
                        Fetched::App,
                        url,
                    ))?;
                let sandbox = self.sandbox.clone();
                let checksum = facts.app_checksum;
                tokio::task::spawn_blocking(move || sandbox.load_verified(&bytes, checksum))
                    .await
                    .map_err(|e| Stop::Failed(ReplicateStatus::AppDownloadFailed, e.to_string()))?
                    .map_err(|e| Stop::Failed(ReplicateStatus::AppDownloadFailed, e.to_string()))?
            }
        };
        self.step(task, StatusUpdate::new(ReplicateStatus::AppDownloaded))
            .await?;
        let lease = self
            .lease_workspace()
            .map_err(|e| Stop::Failed(ReplicateStatus::StartFailed, e.to_string()))?;
        let workspace = &lease.workspace;
        let dataset = facts
            .dataset
            .as_ref()
            .map(|(address, _, _)| DatasetInput::new(*address));
        if facts.dataset.is_some() || !facts.params.input_files.is_empty() {
            self.step(task, StatusUpdate::new(ReplicateStatus::DataDownloading))
                .await?;
            let fail = |reason| Stop::Failed(ReplicateStatus::DataDownloadFailed, reason);
            if let (Some((address, url, checksum)), Some(input)) = (&facts.dataset, &dataset) {
                let mut budget = self.assets.budget();
                let bytes = self
                    .assets
                    .fetch(url, &mut budget)
                    .await
                    .map_err(fetch_failed(
                        ReplicateStatus::DataDownloadFailed,
                        Fetched::Dataset(*address),
                        url,
                    ))?;
                let actual = Checksum::of(&bytes);
                if actual.0 != checksum.0 {
                    return Err(fail(format!(
                        "dataset {address} from {url} has sha256 {actual}, not its on-chain checksum {checksum}"
                    )));
                }
                write(&workspace.input().join(&input.filename), &bytes).map_err(fail)?;
            }
            // The input files of a replicate share one budget of bytes and time.
            let mut budget = self.inputs.budget();
            for (n, url) in facts.params.input_files.iter().enumerate() {
                let bytes = self
                    .inputs
                    .fetch(url, &mut budget)
                    .await
                    .map_err(fetch_failed(
                        ReplicateStatus::DataDownloadFailed,
                        Fetched::InputFile(n + 1),
                        url,
                    ))?;
                write(
                    &workspace.input().join(TaskContext::input_file_name(url)),
                    &bytes,
                )
                .map_err(fail)?;
            }
            self.step(task, StatusUpdate::new(ReplicateStatus::DataDownloaded))
                .await?;
        }
        self.step(task, StatusUpdate::new(ReplicateStatus::Computing))
            .await?;
        let context = TaskContext {
            task_id: *task.as_b256(),
            deal_id: *state.assignment.deal_id.as_b256(),
            index: state.assignment.index,
            bot_first: facts.bot_first,
            bot_size: facts.bot_size,
            deal_start: facts.start,
            params: facts.params.clone(),
            dataset,
        };
        let limits = Limits::for_max_time(Duration::from_secs(facts.timeref.max(1)));
        let sandbox = self.sandbox.clone();
        let run_workspace = workspace.clone();
        // Dropping this future (a kill, the runtime shutting down) stops the run: the
        // blocking thread would otherwise hold the runtime's shutdown until the app's limits.
        let cancel = crate::sandbox::Cancel::new();
        let _cancel_on_drop = cancel.on_drop();
        // The archive is zipped from the output the digest is computed from, before the
        // workspace is emptied for the next replicate.
        let (execution, archive) = tokio::task::spawn_blocking(move || {
            let execution =
                cancel.scope(|| execute(&sandbox, &app, &context, &run_workspace, limits))?;
            let archive = match execution.verdict {
                Verdict::Result(_) => Some(archive_of(&run_workspace.output())?),
                Verdict::Failed(_) => None,
            };
            crate::Result::Ok((execution, archive))
        })
        .await
        .map_err(|e| Stop::Failed(ReplicateStatus::ComputeFailed, e.to_string()))?
        .map_err(|e: crate::Error| Stop::Failed(ReplicateStatus::ComputeFailed, e.to_string()))?;
        drop(lease);
        let (result, archive) = match (execution.verdict, archive) {
            (Verdict::Result(result), Some(archive)) => (result, Bytes::from(archive)),
            (Verdict::Failed(reason), _) => {
                return Err(Stop::Failed(ReplicateStatus::ComputeFailed, reason));
            }
            (Verdict::Result(_), None) => unreachable!("a result is archived"),
        };
        #[cfg(feature = "saboteur")]
        let faulty = self.config.faulty;
        #[cfg(not(feature = "saboteur"))]
        let faulty = false;
        let digest = if faulty {
            keccak256([b"agora.saboteur".as_slice(), result.digest.as_slice()].concat())
        } else {
            result.digest
        };
        state.digest = Some(digest);
        state.callback_data = result.callback_data.map(Bytes::from);
        state.phase = Phase::Computed;
        state.archive = Some(archive);
        self.save_computed(state).await;
        self.stats.computed.fetch_add(1, Ordering::Relaxed);
        self.step(task, StatusUpdate::new(ReplicateStatus::Computed))
            .await?;
        Ok(())
    }

    async fn contribution_status(&self, task: TaskId) -> Result<u8, String> {
        let c = self
            .hub
            .viewContribution(*task.as_b256(), self.address)
            .call()
            .await
            .map_err(|e| format!("cannot read the contribution: {e}"))?;
        Ok(c.status)
    }

    async fn contribute(&self, state: &mut ReplicateState) -> Result<(), Stop> {
        let task = state.assignment.task_id;
        let fail = |e: String| Stop::Failed(ReplicateStatus::ContributeFailed, e);
        if !state.resumed || self.contribution_status(task).await.map_err(fail)? == 0 {
            self.step(task, StatusUpdate::new(ReplicateStatus::Contributing))
                .await?;
            let digest = ResultDigest::new(state.digest.unwrap_or_default());
            let contribution = Contribution::new(self.address, task, digest);
            let call = self.hub.contribute(
                *task.as_b256(),
                *contribution.result_hash.as_b256(),
                *contribution.result_seal.as_b256(),
                state.assignment.enclave_challenge,
                Bytes::new(),
                state.assignment.authorization.clone(),
            );
            self.send(call, CONTRIBUTE_GAS)
                .await
                .map_err(|e| fail(format!("contribute refused: {e}")))?;
            self.stats.contributed.fetch_add(1, Ordering::Relaxed);
        }
        state.phase = Phase::Contributed;
        self.save(state).await;
        Ok(())
    }

    async fn reveal(&self, state: &mut ReplicateState) -> Result<(), Stop> {
        let task = state.assignment.task_id;
        let fail = |e: String| Stop::Failed(ReplicateStatus::RevealFailed, e);
        if !state.resumed || self.contribution_status(task).await.map_err(fail)? != 2 {
            self.step(task, StatusUpdate::new(ReplicateStatus::Revealing))
                .await?;
            let digest = state.digest.unwrap_or_default();
            let call = self.hub.reveal(*task.as_b256(), digest);
            self.send(call, REVEAL_GAS)
                .await
                .map_err(|e| fail(format!("reveal refused: {e}")))?;
            self.stats.revealed.fetch_add(1, Ordering::Relaxed);
        }
        state.phase = Phase::Revealed;
        self.save(state).await;
        Ok(())
    }

    /// Uploads the result, trying three times; `Ok(Err(reason))` when all three failed.
    async fn upload_retrying(
        &self,
        state: &mut ReplicateState,
    ) -> Result<Result<(), String>, Stop> {
        let task = state.assignment.task_id;
        self.step(task, StatusUpdate::new(ReplicateStatus::ResultUploading))
            .await?;
        let mut last = String::new();
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
            match self.upload(state).await {
                Ok(()) => return Ok(Ok(())),
                Err(UploadError::Retry(reason)) => {
                    tracing::warn!(target: "agora::worker", task_id = %task, %reason, "upload failed");
                    last = reason;
                }
                // The store will never take this archive: asking again until the final
                // deadline would hold the slot for nothing.
                Err(UploadError::Final(reason)) => {
                    return Err(Stop::Failed(ReplicateStatus::ResultUploadFailed, reason));
                }
            }
        }
        Ok(Err(last))
    }

    async fn upload(&self, state: &mut ReplicateState) -> Result<(), UploadError> {
        let task = state.assignment.task_id;
        let fail = UploadError::Final;
        let bytes = self.archive(state).await.map_err(fail)?;
        let sha256 = B256::from(Checksum::of(&bytes).0);
        let signature = ResultUpload {
            task_id: task,
            archive_sha256: sha256,
        }
        .sign(&self.config.key.0)
        .map_err(|e| fail(e.to_string()))?;
        let url = format!(
            "{}{}",
            state.assignment.result_store.trim_end_matches('/'),
            agora_api::results::path(*task.as_b256())
        );
        let response = self
            .http
            .put(&url)
            .header(headers::WORKER, self.address.to_string())
            .header(
                headers::AUTHORIZATION,
                hex::encode(&state.assignment.authorization),
            )
            .header(headers::SIGNATURE, hex::encode(&signature))
            .body(bytes.0)
            .send()
            .await
            .map_err(|e| UploadError::Retry(format!("{url}: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            let refusal = refused(response).await;
            let reason = format!("{url} refused the result: {refusal}");
            return Err(if agora_api::results::retryable(status.as_u16()) {
                UploadError::Retry(reason)
            } else {
                UploadError::Final(reason)
            });
        }
        let _stored: Stored = response
            .json()
            .await
            .map_err(|e| UploadError::Retry(e.to_string()))?;
        self.stats.uploaded.fetch_add(1, Ordering::Relaxed);
        state.phase = Phase::Uploaded;
        self.save(state).await;
        Ok(())
    }

    /// Sends a hub call with the next nonce and a gas limit of `gas`, and waits until it is
    /// mined; a call that reverts is an error naming the hub's error. A fixed limit costs
    /// nothing where an estimate costs a dozen executions, and only the gas used is paid.
    async fn send<D: alloy::sol_types::SolCall>(
        &self,
        call: alloy::contract::CallBuilder<&DynProvider, std::marker::PhantomData<D>>,
        gas: u64,
    ) -> Result<(), String> {
        // The price the chain asks, paid as it is: zero where gas is free (the embedded
        // chain). Where it costs something, the balance is checked and a dry run keeps a call
        // that would revert from being paid for; where it is free, the call is replayed only
        // if it reverted, to say why.
        let price = self
            .provider
            .get_gas_price()
            .await
            .map_err(|e| format!("cannot read the chain's gas price: {e}"))?;
        if price > 0 {
            let balance = self
                .provider
                .get_balance(self.address)
                .await
                .map_err(|e| format!("cannot read the worker's balance: {e}"))?;
            can_pay(self.address, balance, gas, price)?;
            call.call().await.map_err(|e| describe(&e))?;
        }
        let hash = self.send_now(&call, gas, price).await?;
        match self.mined(hash).await {
            Ok(()) => Ok(()),
            Err(reverted) => match call.call().await {
                Err(e) => Err(format!("{reverted}: {}", describe(&e))),
                Ok(_) => Err(reverted),
            },
        }
    }

    async fn send_now<D: alloy::sol_types::SolCall>(
        &self,
        call: &alloy::contract::CallBuilder<&DynProvider, std::marker::PhantomData<D>>,
        gas: u64,
        price: u128,
    ) -> Result<B256, String> {
        let mut nonce = self.nonce.lock().await;
        let next = match *nonce {
            Some(n) => n,
            None => self
                .provider
                .get_transaction_count(self.address)
                .pending()
                .await
                .map_err(|e| format!("cannot read the worker's nonce: {e}"))?,
        };
        match call
            .clone()
            .gas(gas)
            .gas_price(price)
            .nonce(next)
            .send()
            .await
        {
            Ok(pending) => {
                *nonce = Some(next + 1);
                Ok(*pending.tx_hash())
            }
            Err(e) => {
                *nonce = None;
                Err(describe(&e))
            }
        }
    }

    /// Waits until `hash` is mined; fails if it reverted.
    async fn mined(&self, hash: B256) -> Result<(), String> {
        let mut delay = Duration::from_millis(1);
        let give_up = tokio::time::Instant::now() + Duration::from_secs(600);
        loop {
            match self.provider.get_transaction_receipt(hash).await {
                Ok(Some(receipt)) if receipt.status() => return Ok(()),
                Ok(Some(_)) => return Err(format!("transaction {hash} reverted")),
                Ok(None) | Err(_) if tokio::time::Instant::now() < give_up => {}
                Ok(None) | Err(_) => {
                    return Err(format!("transaction {hash} not mined within 10 minutes"));
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }

    // ---- The scheduler ----

    /// The tasks of the replicates in the journal, or `None` when it cannot be read.
    fn holding(&self) -> Option<Vec<TaskId>> {
        match self.journal.all::<ReplicateState>() {
            Ok(states) => Some(states.into_iter().map(|s| s.assignment.task_id).collect()),
            Err(e) => {
                tracing::warn!(target: "agora::worker", error = %e, "cannot read the journal");
                None
            }
        }
    }

    /// Tells the scheduler the worker is alive and which replicates it runs (those in its
    /// journal). Sent once: the next beat comes soon.
    async fn heartbeat(&self) {
        let Some(running) = self.holding() else {
            return;
        };
        let beat = api::Heartbeat { running };
        if let Err(e) = self
            .post::<_, serde_json::Value>(api::HEARTBEAT, &beat)
            .await
        {
            tracing::debug!(target: "agora::worker", error = %e, "heartbeat not heard");
        }
    }

    async fn wait_action(&self, task: TaskId) -> Result<Action, Stop> {
        let path = format!(
            "{}?wait_ms={}",
            api::action_path(task),
            self.config.ask_wait.as_millis()
        );
        let reply = self
            .retrying(|| self.request::<(), ActionReply>(reqwest::Method::GET, &path, None))
            .await;
        match reply {
            Ok(Some(reply)) => match reply.action {
                Action::Abort { reason } => Err(Stop::Aborted(reason)),
                action => Ok(action),
            },
            Ok(None) => Ok(Action::Wait),
            Err(e) => Err(Stop::Aborted(e.to_string())),
        }
    }

    /// Reports a status. The statuses the scheduler must know to go on (a contribution, a
    /// reveal, an upload, the end) are retried while it is unavailable (restarting, say); the
    /// others are sent once, and the replicate goes on without the answer if it does not come:
    /// computing and contributing need nothing of the scheduler.
    async fn report(&self, task: TaskId, update: StatusUpdate) -> Result<Action, ClientError> {
        let path = api::status_path(task);
        let send = || self.request::<_, ActionReply>(reqwest::Method::POST, &path, Some(&update));
        let essential = matches!(
            update.status,
            ReplicateStatus::Contributed
                | ReplicateStatus::Revealed
                | ReplicateStatus::ResultUploaded
                | ReplicateStatus::ResultUploadFailed
                | ReplicateStatus::Completed
        ) || update.status.is_final();
        let reply = if essential {
            self.retrying(send).await?
        } else {
            match send().await {
                Err(ClientError::Unavailable(e)) => {
                    tracing::debug!(target: "agora::worker", task_id = %task, error = %e, "status not reported; going on");
                    return Ok(Action::Continue);
                }
                other => other?,
            }
        };
        Ok(reply.map_or(Action::Wait, |r| r.action))
    }

    async fn post<B: Serialize, R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Option<R>, ClientError> {
        self.request(reqwest::Method::POST, path, Some(body)).await
    }

    /// Retries while the scheduler is unavailable (restarting, for instance).
    async fn retrying<F, Fut, R>(&self, attempt: F) -> Result<Option<R>, ClientError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<R>, ClientError>>,
    {
        let mut delay = Duration::from_millis(50);
        loop {
            match attempt().await {
                Err(ClientError::Unavailable(e)) => {
                    tracing::debug!(target: "agora::worker", error = %e, "scheduler unavailable; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                other => return other,
            }
        }
    }

    /// One request to the scheduler with the session's token (logging in first if needed,
    /// and again if the session is refused). `None` for a 204.
    async fn request<B: Serialize, R: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Option<R>, ClientError> {
        for _ in 0..2 {
            let token = self.token().await?;
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.config.scheduler))
                .bearer_auth(&token);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request
                .send()
                .await
                .map_err(|e| ClientError::Unavailable(e.to_string()))?;
            let status = response.status();
            if status == reqwest::StatusCode::UNAUTHORIZED {
                *self.session.lock().await = None;
                continue;
            }
            if status == reqwest::StatusCode::NO_CONTENT {
                return Ok(None);
            }
            if status.is_server_error() {
                return Err(ClientError::Unavailable(format!("{path}: {status}")));
            }
            if !status.is_success() {
                return Err(refused(response).await);
            }
            return response
                .json()
                .await
                .map(Some)
                .map_err(|e| ClientError::Unavailable(e.to_string()));
        }
        Err(ClientError::Refused {
            status: 401,
            error: "the scheduler refuses the worker's session".into(),
        })
    }

    /// The session's token, logging in with a signed challenge if there is none.
    async fn token(&self) -> Result<String, ClientError> {
        let mut session = self.session.lock().await;
        if let Some(token) = session.as_ref() {
            return Ok(token.clone());
        }
        let base = &self.config.scheduler;
        let unavailable = |e: reqwest::Error| ClientError::Unavailable(e.to_string());
        let response = self
            .http
            .get(format!("{base}{}?worker={}", api::CHALLENGE, self.address))
            .send()
            .await
            .map_err(unavailable)?;
        if !response.status().is_success() {
            return Err(ClientError::Unavailable(format!(
                "challenge: {}",
                response.status()
            )));
        }
        let challenge: Challenge = response.json().await.map_err(unavailable)?;
        let signature = LoginChallenge {
            chain_id: challenge.chain_id,
            challenge: challenge.challenge.clone(),
        }
        .sign(&self.config.key.0)
        .map_err(|e| ClientError::Refused {
            status: 0,
            error: e.to_string(),
        })?;
        let login = Login {
            worker: self.address,
            challenge: challenge.challenge,
            signature,
        };
        let response = self
            .http
            .post(format!("{base}{}", api::LOGIN))
            .json(&login)
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status();
        if status.is_server_error() {
            return Err(ClientError::Unavailable(format!("login: {status}")));
        }
        if !status.is_success() {
            return Err(refused(response).await);
        }
        let new: Session = response.json().await.map_err(unavailable)?;
        tracing::info!(target: "agora::worker", worker = %self.address, "logged in to {base}");
        *session = Some(new.token.clone());
        Ok(new.token)
    }
}

/// The gas limit of a contribution: the hub's costs at most about 201,000 (docs/GAS.md), and
/// a slot another transaction empties or fills changes the cost between the dry run and the
/// block.
const CONTRIBUTE_GAS: u64 = 400_000;
/// The gas limit of a reveal (about 45,000).
const REVEAL_GAS: u64 = 150_000;
/// How often the worker tells its scheduler it is alive (the scheduler's default
/// `worker_lost_after` is 30 s).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// A refusal: the status and the `{"error": ...}` body of a response.
async fn refused(response: reqwest::Response) -> ClientError {
    let status = response.status().as_u16();
    let error = response
        .json::<ApiError>()
        .await
        .map(|e| e.error)
        .unwrap_or_default();
    ClientError::Refused { status, error }
}

/// Whether `balance` (wei) pays `gas` at `price` (wei per gas); the refusal names both.
fn can_pay(worker: Address, balance: U256, gas: u64, price: u128) -> Result<(), String> {
    let cost = U256::from(gas) * U256::from(price);
    if balance < cost {
        return Err(format!(
            "the worker {worker} cannot pay for gas: its balance is {balance} wei and {gas} gas at the chain's price of {price} wei costs {cost} wei"
        ));
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// A contract call's error, with the hub's custom error decoded when there is one.
fn describe(error: &alloy::contract::Error) -> String {
    use alloy::sol_types::SolInterface;
    if let Some(data) = error.as_revert_data()
        && let Ok(decoded) = Hub::HubErrors::abi_decode(&data)
    {
        return format!("{decoded:?}");
    }
    error.to_string()
}
