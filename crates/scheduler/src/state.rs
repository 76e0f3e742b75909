//! The scheduler's state machine, on the database: chain events move tasks and replicates,
//! the detectors decide the transactions to send, workers are given replicates and told what
//! to do next. Every status change is an `events` row with its reason.

use std::{collections::HashMap, time::Duration};

use agora_api::scheduler::{
    Action, Assignment, Event, ReplicateStatus, ReplicateView, StatusUpdate, TaskStatus,
    TaskSummary, TaskView,
};
use agora_primitives::{DealId, ResultHash, TaskId, WorkerpoolAuthorization};
use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    signers::local::PrivateKeySigner,
};
use rusqlite::{OptionalExtension, Row, Transaction, params};

use crate::{
    Result,
    db::{address, b256, hx, now_ms},
    prediction,
};

/// What the scheduler needs of a deal, read from the chain when its `SchedulerNotice` arrives.
#[derive(Debug, Clone)]
pub(crate) struct DealInfo {
    pub(crate) app: Address,
    pub(crate) dataset: Address,
    pub(crate) trust: u64,
    pub(crate) category: u64,
    pub(crate) timeref: u64,
    pub(crate) start_time: u64,
    pub(crate) bot_first: u64,
    pub(crate) bot_size: u64,
    pub(crate) worker_stake: U256,
    pub(crate) callback: Address,
    pub(crate) tag: B256,
}

/// A hub event about the pool's deals and tasks.
#[derive(Debug, Clone)]
pub(crate) enum HubEvent {
    /// A deal for the pool (its information read from the chain).
    Deal(DealId, DealInfo),
    Initialized(TaskId),
    Contributed {
        task: TaskId,
        worker: Address,
        hash: B256,
    },
    /// Consensus, with the block's time.
    Consensus {
        task: TaskId,
        value: B256,
        at: u64,
    },
    Revealed {
        task: TaskId,
        worker: Address,
        digest: B256,
    },
    Reopened(TaskId),
    Finalized(TaskId),
    Claimed(TaskId),
    /// A worker's score changed.
    Scored(Address),
}

/// A transaction the detectors want sent.
#[derive(Debug, Clone)]
pub(crate) enum Call {
    Initialize(Vec<(DealId, u64)>),
    Finalize {
        task: TaskId,
        results: Bytes,
        callback: Bytes,
    },
    Reopen(TaskId),
    Claim(Vec<TaskId>),
    InitializeAndClaim(Vec<(DealId, u64)>),
}

/// What each call is for (one purpose per task it serves), so that it is never sent twice.
pub(crate) fn purposes(call: &Call, reopens: &HashMap<TaskId, u64>) -> Vec<String> {
    let task_of = |(deal, idx): &(DealId, u64)| deal.task(U256::from(*idx));
    match call {
        Call::Initialize(tasks) => tasks
            .iter()
            .map(|t| format!("initialize:{}", task_of(t)))
            .collect(),
        Call::Finalize { task, .. } => vec![format!("finalize:{task}")],
        Call::Reopen(task) => vec![format!(
            "reopen:{task}:{}",
            reopens.get(task).copied().unwrap_or_default()
        )],
        Call::Claim(tasks) => tasks.iter().map(|t| format!("claim:{t}")).collect(),
        Call::InitializeAndClaim(tasks) => tasks
            .iter()
            .map(|t| format!("claim:{}", task_of(t)))
            .collect(),
    }
}

/// The tasks a call is about.
pub(crate) fn tasks_of(call: &Call) -> Vec<TaskId> {
    let task_of = |(deal, idx): &(DealId, u64)| deal.task(U256::from(*idx));
    match call {
        Call::Initialize(tasks) | Call::InitializeAndClaim(tasks) => {
            tasks.iter().map(task_of).collect()
        }
        Call::Finalize { task, .. } | Call::Reopen(task) => vec![*task],
        Call::Claim(tasks) => tasks.clone(),
    }
}

/// How many times a purpose is attempted before the scheduler gives up on it.
const MAX_ATTEMPTS: u64 = 3;

/// Whether a transaction for `purpose` may be sent: none is pending or mined, and fewer than
/// [`MAX_ATTEMPTS`] failed.
pub(crate) fn may_send(tx: &Transaction<'_>, purpose: &str) -> Result<bool> {
    let row: Option<(String, u64)> = tx
        .prepare_cached("SELECT state, attempts FROM purposes WHERE purpose = ?1")?
        .query_row([purpose], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match row {
        None => true,
        Some((state, attempts)) => state == "failed" && attempts < MAX_ATTEMPTS,
    })
}

/// Records that `purposes` could not be sent (the estimate reverted, for instance).
pub(crate) fn purpose_failed(tx: &Transaction<'_>, purposes: &[String], error: &str) -> Result<()> {
    for purpose in purposes {
        tx.prepare_cached("INSERT INTO purposes (purpose, nonce, state, attempts, error) VALUES (?1, NULL, 'failed', 1, ?2)
             ON CONFLICT (purpose) DO UPDATE SET state = 'failed', attempts = attempts + 1, error = ?2, nonce = NULL")?
        .execute(params![purpose, error],
        )?;
    }
    Ok(())
}

/// Records a signed transaction for `purposes`, before it is broadcast.
pub(crate) fn record_tx(
    tx: &Transaction<'_>,
    nonce: u64,
    hash: B256,
    raw: &[u8],
    label: &str,
    purposes: &[String],
) -> Result<()> {
    tx.prepare_cached("INSERT INTO txs (nonce, hash, raw, label, state, sent_ms) VALUES (?1, ?2, ?3, ?4, 'pending', ?5)")?
        .execute(params![nonce, hx(hash), raw, label, now_ms()],
    )?;
    for purpose in purposes {
        tx.prepare_cached(
            "INSERT INTO purposes (purpose, nonce, state, attempts) VALUES (?1, ?2, 'pending', 0)
             ON CONFLICT (purpose) DO UPDATE SET state = 'pending', nonce = ?2",
        )?
        .execute(params![purpose, nonce])?;
    }
    Ok(())
}

/// A transaction recorded and not yet known to be mined.
#[derive(Debug, Clone)]
pub(crate) struct PendingTx {
    pub(crate) nonce: u64,
    pub(crate) hash: B256,
    pub(crate) raw: Vec<u8>,
    pub(crate) label: String,
    pub(crate) sent_ms: u64,
}

pub(crate) fn pending_txs(tx: &Transaction<'_>) -> Result<Vec<PendingTx>> {
    let mut stmt = tx.prepare(
        "SELECT nonce, hash, raw, label, sent_ms FROM txs WHERE state = 'pending' ORDER BY nonce",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(PendingTx {
            nonce: r.get(0)?,
            hash: b256(&r.get::<_, String>(1)?)?,
            raw: r.get(2)?,
            label: r.get(3)?,
            sent_ms: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The next nonce after the recorded transactions.
pub(crate) fn next_recorded_nonce(tx: &Transaction<'_>) -> Result<Option<u64>> {
    let max: Option<u64> = tx
        .prepare_cached("SELECT MAX(nonce) FROM txs")?
        .query_row([], |r| r.get(0))?;
    Ok(max.map(|n| n + 1))
}

/// Records a transaction's receipt: mined, or reverted (its purposes may be tried again, and
/// its tasks' histories say so).
pub(crate) fn tx_mined(tx: &Transaction<'_>, pending: &PendingTx, success: bool) -> Result<()> {
    let state = if success { "mined" } else { "reverted" };
    tx.prepare_cached("UPDATE txs SET state = ?2 WHERE nonce = ?1")?
        .execute(params![pending.nonce, state])?;
    if success {
        tx.prepare_cached("UPDATE purposes SET state = 'mined' WHERE nonce = ?1")?
            .execute([pending.nonce])?;
        return Ok(());
    }
    let error = format!("{} transaction {} reverted", pending.label, pending.hash);
    let purposes: Vec<String> = {
        let mut stmt = tx.prepare("SELECT purpose FROM purposes WHERE nonce = ?1")?;
        stmt.query_map([pending.nonce], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    for purpose in &purposes {
        if let Some(task) = purpose
            .split(':')
            .nth(1)
            .and_then(|t| t.parse::<B256>().ok())
        {
            note(tx, TaskId::new(task), None, "TRANSACTION_REVERTED", &error)?;
        }
    }
    tx.prepare_cached("UPDATE purposes SET state = 'failed', attempts = attempts + 1, error = ?2 WHERE nonce = ?1")?
        .execute(params![pending.nonce, error],
    )?;
    Ok(())
}

/// The id of the latest event (every status change records one).
pub(crate) fn last_event(tx: &Transaction<'_>) -> Result<Option<u64>> {
    Ok(tx
        .prepare_cached("SELECT MAX(id) FROM events")?
        .query_row([], |r| r.get(0))?)
}

/// The tasks with an event recorded after event `after` (after none, for `None`): those whose
/// workers' actions may have changed.
pub(crate) fn tasks_noted_after(tx: &Transaction<'_>, after: Option<u64>) -> Result<Vec<TaskId>> {
    // Not `SELECT DISTINCT`: SQLite answers that by scanning the whole `events_by_task`
    // index, every event ever noted, where the rowid range reads only the new ones.
    let mut statement = tx.prepare_cached("SELECT task_id FROM events WHERE id > ?1")?;
    let mut tasks: Vec<TaskId> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut rows = statement.query([after.unwrap_or(0)])?;
    while let Some(row) = rows.next()? {
        let task = TaskId::new(b256(&row.get::<_, String>(0)?)?);
        if seen.insert(task) {
            tasks.push(task);
        }
    }
    Ok(tasks)
}

/// Records an event.
pub(crate) fn note(
    tx: &Transaction<'_>,
    task: TaskId,
    worker: Option<Address>,
    status: &str,
    reason: &str,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO events (task_id, worker, status, reason, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![hx(task), worker.map(hx), status, reason, now_ms()])?;
    Ok(())
}

fn task_status(tx: &Transaction<'_>, task: TaskId) -> Result<Option<TaskStatus>> {
    let status: Option<String> = tx
        .prepare_cached("SELECT status FROM tasks WHERE task_id = ?1")?
        .query_row([hx(task)], |r| r.get(0))
        .optional()?;
    Ok(status.and_then(|s| TaskStatus::parse(&s)))
}

/// Moves a task to `status` (recorded only if it changes).
fn set_task(tx: &Transaction<'_>, task: TaskId, status: TaskStatus, reason: &str) -> Result<()> {
    if task_status(tx, task)? == Some(status) {
        return Ok(());
    }
    tx.prepare_cached("UPDATE tasks SET status = ?2, updated_ms = ?3 WHERE task_id = ?1")?
        .execute(params![hx(task), status.as_str(), now_ms()])?;
    note(tx, task, None, status.as_str(), reason)
}

fn replicate_status(
    tx: &Transaction<'_>,
    task: TaskId,
    worker: Address,
) -> Result<Option<ReplicateStatus>> {
    let status: Option<String> = tx
        .prepare_cached("SELECT status FROM replicates WHERE task_id = ?1 AND worker = ?2")?
        .query_row([hx(task), hx(worker)], |r| r.get(0))
        .optional()?;
    Ok(status.and_then(|s| ReplicateStatus::parse(&s)))
}

/// Moves a replicate to `status` (recorded only if it changes).
fn set_replicate(
    tx: &Transaction<'_>,
    task: TaskId,
    worker: Address,
    status: ReplicateStatus,
    reason: &str,
) -> Result<()> {
    if replicate_status(tx, task, worker)? == Some(status) {
        return Ok(());
    }
    tx.prepare_cached(
        "UPDATE replicates SET status = ?3, updated_ms = ?4 WHERE task_id = ?1 AND worker = ?2",
    )?
    .execute(params![hx(task), hx(worker), status.as_str(), now_ms()])?;
    note(tx, task, Some(worker), status.as_str(), reason)
}

/// One task row, with what its deal says.
#[derive(Debug, Clone)]
struct TaskRow {
    task: TaskId,
    deal: DealId,
    idx: u64,
    status: TaskStatus,
    initialized: bool,
    contribution_deadline: u64,
    final_deadline: u64,
    reveal_deadline: u64,
    consensus: Option<B256>,
    winners: u64,
    reveals: u64,
    reopens: u64,
    digest: Option<B256>,
    uploader: Option<Address>,
    upload_asked_ms: u64,
    result_link: Option<String>,
    callback_data: Option<Vec<u8>>,
    trust: u64,
    timeref: u64,
    callback: Address,
}

const TASK_COLUMNS: &str = "t.task_id, t.deal_id, t.idx, t.status, t.initialized,
    t.contribution_deadline, t.final_deadline, t.reveal_deadline, t.consensus, t.winners,
    t.reveals, t.reopens, t.digest, t.uploader, t.upload_asked_ms, t.result_link,
    t.callback_data, d.trust, d.timeref, d.callback";

fn task_row(r: &Row<'_>) -> rusqlite::Result<TaskRow> {
    let opt_b256 = |i: usize| -> rusqlite::Result<Option<B256>> {
        r.get::<_, Option<String>>(i)?.map(|s| b256(&s)).transpose()
    };
    let status: String = r.get(3)?;
    Ok(TaskRow {
        task: TaskId::new(b256(&r.get::<_, String>(0)?)?),
        deal: DealId::new(b256(&r.get::<_, String>(1)?)?),
        idx: r.get(2)?,
        status: TaskStatus::parse(&status).unwrap_or(TaskStatus::Received),
        initialized: r.get(4)?,
        contribution_deadline: r.get(5)?,
        final_deadline: r.get(6)?,
        reveal_deadline: r.get(7)?,
        consensus: opt_b256(8)?,
        winners: r.get(9)?,
        reveals: r.get(10)?,
        reopens: r.get(11)?,
        digest: opt_b256(12)?,
        uploader: r
            .get::<_, Option<String>>(13)?
            .map(|s| address(&s))
            .transpose()?,
        upload_asked_ms: r.get(14)?,
        result_link: r.get(15)?,
        callback_data: r.get(16)?,
        trust: r.get(17)?,
        timeref: r.get(18)?,
        callback: address(&r.get::<_, String>(19)?)?,
    })
}

fn load_task(tx: &Transaction<'_>, task: TaskId) -> Result<Option<TaskRow>> {
    Ok(tx
        .prepare_cached(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks t JOIN deals d ON d.deal_id = t.deal_id WHERE t.task_id = ?1"
        ))?
        .query_row(
            [hx(task)],
            task_row,
        )
        .optional()?)
}

/// The replicate statuses that end a replicate ([`ReplicateStatus::is_final`]), as a SQL
/// list.
fn ended_statuses() -> String {
    ReplicateStatus::ALL
        .iter()
        .filter(|s| s.is_final())
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The tasks the detectors must look at: those not over, except those running whose
/// contribution deadline is still ahead (workers' reports and chain events move those).
fn tasks_to_detect(tx: &Transaction<'_>, chain_now: u64) -> Result<Vec<TaskRow>> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {TASK_COLUMNS} FROM tasks t JOIN deals d ON d.deal_id = t.deal_id
         WHERE t.status NOT IN ('COMPLETED', 'FAILED')
           AND (t.status NOT IN ('INITIALIZED', 'RUNNING', 'CONTRIBUTION_TIMEOUT', 'CLAIMING')
                OR t.contribution_deadline <= ?1 OR t.final_deadline <= ?1)
         ORDER BY t.contribution_deadline, t.created_ms, t.idx"
    ))?;
    let rows = stmt.query_map([chain_now], task_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The tasks that may take a replicate of `worker`: initialized, open for contributions,
/// without a replicate of this worker, closest to their deadline first; `limit` of them from
/// `offset` on (a deal of a thousand tasks is read a page at a time, not whole for every ask).
fn tasks_open_to(
    tx: &Transaction<'_>,
    worker: Address,
    chain_now: u64,
    offset: usize,
    limit: usize,
) -> Result<Vec<TaskRow>> {
    let ended = ended_statuses();
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {TASK_COLUMNS} FROM tasks t JOIN deals d ON d.deal_id = t.deal_id
         WHERE t.status IN ('INITIALIZED', 'RUNNING') AND t.contribution_deadline > ?1
           AND NOT EXISTS (SELECT 1 FROM replicates r WHERE r.task_id = t.task_id AND r.worker = ?2)
           AND (t.status = 'INITIALIZED' OR d.trust > 1 OR NOT EXISTS (
                SELECT 1 FROM replicates r WHERE r.task_id = t.task_id AND r.status <> 'REJECTED'
                    AND (r.contributed = 1 OR r.status NOT IN ({ended}))))
         ORDER BY t.contribution_deadline, t.created_ms, t.idx LIMIT ?3 OFFSET ?4"
    ))?;
    let rows = stmt.query_map(
        params![chain_now, hx(worker), limit as u64, offset as u64],
        task_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One replicate row.
#[derive(Debug, Clone)]
struct ReplicateRow {
    worker: Address,
    status: ReplicateStatus,
    result_hash: Option<B256>,
    contributed: bool,
    revealed: bool,
    upload_tried: bool,
}

fn replicates(tx: &Transaction<'_>, task: TaskId) -> Result<Vec<ReplicateRow>> {
    let mut stmt = tx.prepare_cached(
        "SELECT worker, status, result_hash, contributed, revealed, upload_tried
         FROM replicates WHERE task_id = ?1 ORDER BY assigned_ms, worker",
    )?;
    let rows = stmt.query_map([hx(task)], |r| {
        let status: String = r.get(1)?;
        Ok(ReplicateRow {
            worker: address(&r.get::<_, String>(0)?)?,
            status: ReplicateStatus::parse(&status).unwrap_or(ReplicateStatus::Assigned),
            result_hash: r
                .get::<_, Option<String>>(2)?
                .map(|s| b256(&s))
                .transpose()?,
            contributed: r.get(3)?,
            revealed: r.get(4)?,
            upload_tried: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A worker's score as last read (`None`: unknown or changed since).
pub(crate) fn score(tx: &Transaction<'_>, worker: Address) -> Result<Option<u64>> {
    Ok(tx
        .prepare_cached("SELECT score FROM workers WHERE worker = ?1 AND score_stale = 0")?
        .query_row([hx(worker)], |r| r.get(0))
        .optional()?)
}

fn known_score(tx: &Transaction<'_>, worker: Address) -> Result<u64> {
    Ok(tx
        .prepare_cached("SELECT score FROM workers WHERE worker = ?1")?
        .query_row([hx(worker)], |r| r.get(0))
        .optional()?
        .unwrap_or_default())
}

/// Records a worker's score, read from the chain.
pub(crate) fn set_score(tx: &Transaction<'_>, worker: Address, score: u64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO workers (worker, score, score_stale, last_seen_ms) VALUES (?1, ?2, 0, ?3)
         ON CONFLICT (worker) DO UPDATE SET score = ?2, score_stale = 0",
    )?
    .execute(params![hx(worker), score, now_ms()])?;
    Ok(())
}

/// Records that a worker was heard from.
pub(crate) fn seen(tx: &Transaction<'_>, worker: Address) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO workers (worker, score, score_stale, last_seen_ms) VALUES (?1, 0, 1, ?2)
         ON CONFLICT (worker) DO UPDATE SET last_seen_ms = ?2",
    )?
    .execute(params![hx(worker), now_ms()])?;
    Ok(())
}

/// A worker's heartbeat: it is seen now, and so are the replicates it says it runs (those
/// the scheduler does not know are ignored).
pub(crate) fn heartbeat(tx: &Transaction<'_>, worker: Address, running: &[TaskId]) -> Result<()> {
    seen(tx, worker)?;
    let mut touch = tx.prepare_cached(
        "UPDATE replicates SET updated_ms = ?3 WHERE task_id = ?1 AND worker = ?2 AND contributed = 0",
    )?;
    let now = now_ms();
    for task in running.iter().take(MAX_HEARTBEAT_TASKS) {
        touch.execute(params![hx(task), hx(worker), now])?;
    }
    Ok(())
}

/// The most running replicates a heartbeat is read for.
const MAX_HEARTBEAT_TASKS: usize = 1_000;

/// Whether a replicate that ended as `status` failed for a reason of its worker's own (it
/// could not start, for instance for want of stake, or could not contribute or reveal, for
/// instance for want of gas), not for the app's or the task's.
fn own_failure(status: ReplicateStatus) -> bool {
    matches!(
        status,
        ReplicateStatus::StartFailed
            | ReplicateStatus::ContributeFailed
            | ReplicateStatus::RevealFailed
    )
}

/// The longest run of own failures looked at, and so the largest doubling of the backoff.
const MAX_FAILURES_COUNTED: u32 = 6;

/// A worker resting after failures of its own: no new replicate until `until_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rest {
    pub(crate) until_ms: u64,
    /// Its latest replicates that failed for its own reason, in a row.
    pub(crate) failures: u32,
}

/// Whether `worker` rests at `now_ms`: its latest replicates that ended (or contributed)
/// failed for a reason of its own, and `backoff` (doubled for each such failure in a row
/// after the first) has not passed since the latest.
pub(crate) fn resting(
    tx: &Transaction<'_>,
    worker: Address,
    backoff: Duration,
    now_ms: u64,
) -> Result<Option<Rest>> {
    let ended = ended_statuses();
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT status, updated_ms FROM replicates
         WHERE worker = ?1 AND (contributed = 1 OR status IN ({ended}))
         ORDER BY updated_ms DESC LIMIT ?2"
    ))?;
    let latest: Vec<(String, u64)> = stmt
        .query_map(params![hx(worker), MAX_FAILURES_COUNTED], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let failures = latest
        .iter()
        .take_while(|(status, _)| ReplicateStatus::parse(status).is_some_and(own_failure))
        .count() as u32;
    let Some((_, last_ms)) = latest.first().filter(|_| failures > 0) else {
        return Ok(None);
    };
    let wait = backoff.as_millis() as u64 * (1u64 << (failures - 1));
    let until_ms = last_ms + wait;
    Ok((now_ms < until_ms).then_some(Rest { until_ms, failures }))
}

// ---- Chain events ----

/// Applies the chain's events, in order.
pub(crate) fn apply(tx: &Transaction<'_>, events: &[HubEvent]) -> Result<()> {
    for event in events {
        apply_one(tx, event)?;
    }
    Ok(())
}

fn apply_one(tx: &Transaction<'_>, event: &HubEvent) -> Result<()> {
    match event {
        HubEvent::Deal(deal, info) => receive_deal(tx, *deal, info)?,
        HubEvent::Initialized(task) => {
            let Some(row) = load_task(tx, *task)? else {
                return Ok(());
            };
            tx.prepare_cached("UPDATE tasks SET initialized = 1 WHERE task_id = ?1")?
                .execute([hx(task)])?;
            if matches!(row.status, TaskStatus::Received | TaskStatus::Initializing) {
                set_task(tx, *task, TaskStatus::Initialized, "initialized on chain")?;
            }
        }
        HubEvent::Contributed { task, worker, hash } => {
            if load_task(tx, *task)?.is_none() {
                return Ok(());
            }
            tx.prepare_cached("INSERT INTO replicates (task_id, worker, status, authorization, assigned_ms, updated_ms)
                 VALUES (?1, ?2, 'CONTRIBUTED', x'', ?3, ?3) ON CONFLICT DO NOTHING")?
        .execute(params![hx(task), hx(worker), now_ms()],
            )?;
            tx.prepare_cached(
                "UPDATE replicates SET contributed = 1, result_hash = ?3
                 WHERE task_id = ?1 AND worker = ?2",
            )?
            .execute(params![hx(task), hx(worker), hx(hash)])?;
            set_replicate(
                tx,
                *task,
                *worker,
                ReplicateStatus::Contributed,
                &format!("contribution {hash} on chain"),
            )?;
        }
        HubEvent::Consensus { task, value, at } => {
            let Some(row) = load_task(tx, *task)? else {
                return Ok(());
            };
            let all = replicates(tx, *task)?;
            let winners = all
                .iter()
                .filter(|r| r.contributed && r.result_hash == Some(*value))
                .filter(|r| r.status != ReplicateStatus::Rejected)
                .count() as u64;
            let reveal_deadline = at + 2 * row.timeref;
            tx.prepare_cached(
                "UPDATE tasks SET consensus = ?2, winners = ?3, reveals = 0,
                        reveal_deadline = ?4, uploader = NULL, upload_asked_ms = 0
                 WHERE task_id = ?1",
            )?
            .execute(params![hx(task), hx(value), winners, reveal_deadline])?;
            set_task(
                tx,
                *task,
                TaskStatus::ConsensusReached,
                &format!(
                    "the chain reached consensus on {value} with {winners} agreeing worker(s); they reveal before {reveal_deadline}"
                ),
            )?;
            for r in all
                .iter()
                .filter(|r| r.contributed && r.result_hash != Some(*value))
            {
                set_replicate(
                    tx,
                    *task,
                    r.worker,
                    ReplicateStatus::Rejected,
                    &format!(
                        "its result {} is not the consensus {value}: its stake goes at finalize",
                        r.result_hash.unwrap_or_default()
                    ),
                )?;
            }
        }
        HubEvent::Revealed {
            task,
            worker,
            digest,
        } => {
            let Some(row) = load_task(tx, *task)? else {
                return Ok(());
            };
            tx.prepare_cached(
                "UPDATE replicates SET revealed = 1 WHERE task_id = ?1 AND worker = ?2",
            )?
            .execute(params![hx(task), hx(worker)])?;
            tx.prepare_cached(
                "UPDATE tasks SET reveals = reveals + 1, digest = ?2 WHERE task_id = ?1",
            )?
            .execute(params![hx(task), hx(digest)])?;
            set_replicate(
                tx,
                *task,
                *worker,
                ReplicateStatus::Revealed,
                &format!("revealed {digest} on chain"),
            )?;
            if row.status == TaskStatus::ConsensusReached {
                set_task(
                    tx,
                    *task,
                    TaskStatus::AtLeastOneRevealed,
                    &format!("{worker} revealed the result digest {digest}"),
                )?;
            }
        }
        HubEvent::Reopened(task) => {
            let Some(row) = load_task(tx, *task)? else {
                return Ok(());
            };
            for r in replicates(tx, *task)?
                .iter()
                .filter(|r| r.contributed && r.result_hash == row.consensus && !r.revealed)
            {
                set_replicate(
                    tx,
                    *task,
                    r.worker,
                    ReplicateStatus::Rejected,
                    "it did not reveal before the reveal deadline: the task was reopened and its stake goes at finalize",
                )?;
            }
            tx.prepare_cached(
                "UPDATE tasks SET consensus = NULL, winners = 0, reveals = 0, reveal_deadline = 0,
                        reopens = reopens + 1, uploader = NULL, upload_asked_ms = 0
                 WHERE task_id = ?1",
            )?
            .execute([hx(task)])?;
            set_task(
                tx,
                *task,
                TaskStatus::Running,
                "reopened on chain: nobody revealed, new replicates are needed",
            )?;
        }
        HubEvent::Finalized(task) => {
            if load_task(tx, *task)?.is_none() {
                return Ok(());
            }
            set_task(
                tx,
                *task,
                TaskStatus::Completed,
                "finalized on chain: the result is certified and everyone is paid",
            )?;
        }
        HubEvent::Claimed(task) => {
            if load_task(tx, *task)?.is_none() {
                return Ok(());
            }
            set_task(
                tx,
                *task,
                TaskStatus::Failed,
                "claimed on chain after the final deadline: the requester is refunded",
            )?;
            for r in replicates(tx, *task)?
                .iter()
                .filter(|r| !r.status.is_final())
            {
                set_replicate(
                    tx,
                    *task,
                    r.worker,
                    ReplicateStatus::Aborted,
                    "the task was claimed after its final deadline",
                )?;
            }
        }
        HubEvent::Scored(worker) => {
            tx.prepare_cached("UPDATE workers SET score_stale = 1 WHERE worker = ?1")?
                .execute([hx(worker)])?;
        }
    }
    Ok(())
}

fn receive_deal(tx: &Transaction<'_>, deal: DealId, info: &DealInfo) -> Result<()> {
    let inserted = tx.prepare_cached("INSERT INTO deals (deal_id, app, dataset, trust, category, timeref, start_time, bot_first,
                            bot_size, worker_stake, callback, tag, block)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0) ON CONFLICT DO NOTHING")?
        .execute(params![
            hx(deal),
            hx(info.app),
            hx(info.dataset),
            info.trust,
            info.category,
            info.timeref,
            info.start_time,
            info.bot_first,
            info.bot_size,
            info.worker_stake.to_string(),
            hx(info.callback),
            hx(info.tag),
        ],
    )?;
    if inserted == 0 {
        return Ok(());
    }
    let contribution_deadline = info.start_time + 7 * info.timeref;
    let final_deadline = info.start_time + 10 * info.timeref;
    let tee = agora_primitives::Tag::from(info.tag).is_tee();
    for idx in info.bot_first..info.bot_first + info.bot_size {
        let task = deal.task(U256::from(idx));
        let now = now_ms();
        tx.prepare_cached("INSERT INTO tasks (task_id, deal_id, idx, status, contribution_deadline, final_deadline,
                                created_ms, updated_ms)
             VALUES (?1, ?2, ?3, 'RECEIVED', ?4, ?5, ?6, ?6) ON CONFLICT DO NOTHING")?
        .execute(params![
                hx(task),
                hx(deal),
                idx,
                contribution_deadline,
                final_deadline,
                now
            ],
        )?;
        note(
            tx,
            task,
            None,
            TaskStatus::Received.as_str(),
            &format!(
                "task {idx} of deal {deal} (trust {}, contributions until {contribution_deadline}, final deadline {final_deadline})",
                info.trust
            ),
        )?;
        if tee {
            set_task(
                tx,
                task,
                TaskStatus::ContributionTimeout,
                "the deal asks for a TEE, which this scheduler does not run: the task will be claimed at its final deadline",
            )?;
        }
    }
    Ok(())
}

// ---- Detectors ----

/// How the detectors judge time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    /// The chain's time (seconds).
    pub(crate) chain: u64,
    /// The wall clock (ms).
    pub(crate) wall_ms: u64,
    /// A worker unheard of for this long is lost.
    pub(crate) worker_lost_after: Duration,
    /// A replicate not contributed for this long is lost (`None`: the category's time
    /// reference).
    pub(crate) replicate_timeout: Option<Duration>,
    /// How long an uploader has.
    pub(crate) upload_timeout: Duration,
    /// Whether to look for lost replicates this time.
    pub(crate) check_lost: bool,
}

/// Looks at every task that is not over and decides what to send; moves tasks and
/// replicates whose time ran out.
pub(crate) fn detect(
    tx: &Transaction<'_>,
    clock: Clock,
    result_store: &str,
) -> Result<(Vec<Call>, HashMap<TaskId, u64>)> {
    let mut initialize = Vec::new();
    let mut claim = Vec::new();
    let mut initialize_and_claim = Vec::new();
    let mut calls = Vec::new();
    let mut reopens = HashMap::new();
    if clock.check_lost {
        lose_replicates(tx, clock)?;
    }
    for task in tasks_to_detect(tx, clock.chain)? {
        reopens.insert(task.task, task.reopens);
        if clock.chain >= task.final_deadline {
            set_task(
                tx,
                task.task,
                TaskStatus::Claiming,
                &format!(
                    "the final deadline {} passed: the task is claimed and the requester refunded",
                    task.final_deadline
                ),
            )?;
            if may_send(tx, &format!("claim:{}", task.task))? {
                if task.initialized {
                    claim.push(task.task);
                } else {
                    initialize_and_claim.push((task.deal, task.idx));
                }
            }
            continue;
        }
        match task.status {
            TaskStatus::Received | TaskStatus::Initializing => {
                if clock.chain >= task.contribution_deadline {
                    set_task(
                        tx,
                        task.task,
                        TaskStatus::ContributionTimeout,
                        "the contribution deadline passed before the task was initialized: it will be claimed at its final deadline",
                    )?;
                } else if may_send(tx, &format!("initialize:{}", task.task))? {
                    set_task(tx, task.task, TaskStatus::Initializing, "initialize sent")?;
                    initialize.push((task.deal, task.idx));
                }
            }
            TaskStatus::Initialized | TaskStatus::Running => {
                if clock.chain >= task.contribution_deadline {
                    set_task(
                        tx,
                        task.task,
                        TaskStatus::ContributionTimeout,
                        &format!(
                            "no consensus before the contribution deadline {}: the task will be claimed at its final deadline {}",
                            task.contribution_deadline, task.final_deadline
                        ),
                    )?;
                }
            }
            TaskStatus::ConsensusReached
            | TaskStatus::AtLeastOneRevealed
            | TaskStatus::ResultUploading
            | TaskStatus::ResultUploaded
            | TaskStatus::Finalizing
            | TaskStatus::Reopening => {
                if let Some(call) = revealing(tx, &task, clock, result_store)? {
                    calls.push(call);
                }
            }
            TaskStatus::ContributionTimeout
            | TaskStatus::Claiming
            | TaskStatus::Completed
            | TaskStatus::Failed => {}
        }
    }
    for chunk in initialize.chunks(50) {
        calls.push(Call::Initialize(chunk.to_vec()));
    }
    for chunk in claim.chunks(50) {
        calls.push(Call::Claim(chunk.to_vec()));
    }
    for chunk in initialize_and_claim.chunks(50) {
        calls.push(Call::InitializeAndClaim(chunk.to_vec()));
    }
    Ok((calls, reopens))
}

/// A task past consensus: reopen it if nobody revealed in time, ask a revealed worker to
/// upload, finalize once the result is uploaded and the reveals are in.
fn revealing(
    tx: &Transaction<'_>,
    task: &TaskRow,
    clock: Clock,
    result_store: &str,
) -> Result<Option<Call>> {
    if task.reveals == 0 {
        if clock.chain >= task.reveal_deadline
            && may_send(tx, &format!("reopen:{}:{}", task.task, task.reopens))?
        {
            set_task(
                tx,
                task.task,
                TaskStatus::Reopening,
                &format!(
                    "no winner revealed before the reveal deadline {}: reopen sent",
                    task.reveal_deadline
                ),
            )?;
            return Ok(Some(Call::Reopen(task.task)));
        }
        return Ok(None);
    }
    let Some(link) = &task.result_link else {
        let expired = clock.wall_ms.saturating_sub(task.upload_asked_ms)
            > clock.upload_timeout.as_millis() as u64;
        if task.uploader.is_none() || expired {
            let all = replicates(tx, task.task)?;
            let next = all
                .iter()
                .filter(|r| r.revealed && !r.upload_tried)
                .find(|r| Some(r.worker) != task.uploader)
                .or_else(|| {
                    all.iter()
                        .find(|r| r.revealed && Some(r.worker) != task.uploader)
                })
                .or_else(|| all.iter().find(|r| r.revealed));
            if let Some(next) = next {
                tx.prepare_cached(
                    "UPDATE tasks SET uploader = ?2, upload_asked_ms = ?3 WHERE task_id = ?1",
                )?
                .execute(params![
                    hx(task.task),
                    hx(next.worker),
                    clock.wall_ms
                ])?;
                tx.prepare_cached(
                    "UPDATE replicates SET upload_tried = 1 WHERE task_id = ?1 AND worker = ?2",
                )?
                .execute(params![hx(task.task), hx(next.worker)])?;
                set_task(
                    tx,
                    task.task,
                    TaskStatus::ResultUploading,
                    &format!(
                        "{} is asked to upload the result to {result_store}",
                        next.worker
                    ),
                )?;
            }
        }
        return Ok(None);
    };
    let reveals_in = task.reveals >= task.winners || clock.chain >= task.reveal_deadline;
    if !reveals_in || !may_send(tx, &format!("finalize:{}", task.task))? {
        return Ok(None);
    }
    set_task(
        tx,
        task.task,
        TaskStatus::Finalizing,
        &format!(
            "{} of {} winner(s) revealed and the result is uploaded: finalize sent",
            task.reveals, task.winners
        ),
    )?;
    Ok(Some(Call::Finalize {
        task: task.task,
        results: Bytes::from(link.clone().into_bytes()),
        callback: Bytes::from(task.callback_data.clone().unwrap_or_default()),
    }))
}

/// Replicates that will not contribute in time: their worker stopped answering, or they ran
/// longer than allowed. Returns how many were lost.
fn lose_replicates(tx: &Transaction<'_>, clock: Clock) -> Result<usize> {
    let lost_after = clock.worker_lost_after.as_millis() as u64;
    let ended = ended_statuses();
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT r.task_id, r.worker, r.assigned_ms, COALESCE(w.last_seen_ms, 0), d.timeref
         FROM replicates r JOIN tasks t ON t.task_id = r.task_id
         JOIN deals d ON d.deal_id = t.deal_id
         LEFT JOIN workers w ON w.worker = r.worker
         WHERE r.contributed = 0 AND t.status NOT IN ('COMPLETED', 'FAILED')
           AND r.status NOT IN ({ended})"
    ))?;
    let candidates: Vec<(String, String, u64, u64, u64)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut lost = 0;
    for (task, worker, assigned_ms, last_seen, timeref) in candidates {
        let timeout = clock
            .replicate_timeout
            .unwrap_or(Duration::from_secs(timeref))
            .as_millis() as u64;
        let reason = if clock.wall_ms.saturating_sub(last_seen) > lost_after {
            format!(
                "the worker has not been heard from for {} s: its place goes to another worker",
                lost_after / 1000
            )
        } else if clock.wall_ms.saturating_sub(assigned_ms) > timeout {
            format!(
                "not contributed within {} s of being assigned: its place goes to another worker",
                timeout / 1000
            )
        } else {
            continue;
        };
        let task = TaskId::new(b256(&task)?);
        set_replicate(
            tx,
            task,
            address(&worker)?,
            ReplicateStatus::WorkerLost,
            &reason,
        )?;
        lost += 1;
    }
    Ok(lost)
}

// ---- Workers ----

/// A replicate for `worker`, if a task needs one: the task closest to its contribution
/// deadline that the consensus prediction says needs another worker. (A replicate whose answer
/// was lost stays assigned until it times out, and its place then goes to another worker.)
pub(crate) fn assign(
    tx: &Transaction<'_>,
    worker: Address,
    scheduler: &PrivateKeySigner,
    chain_now: u64,
    result_store: &str,
    backoff: Duration,
    holding: Option<&[TaskId]>,
) -> Result<Option<Assignment>> {
    let assignment = |task: &TaskRow, authorization: Vec<u8>| Assignment {
        task_id: task.task,
        deal_id: task.deal,
        index: task.idx,
        enclave_challenge: Address::ZERO,
        authorization: Bytes::from(authorization),
        result_store: result_store.to_string(),
        contribution_deadline: task.contribution_deadline,
    };
    if let Some(holding) = holding
        && let Some((task, authorization)) = undelivered(tx, worker, holding, chain_now)?
    {
        tx.execute(
            // Not `assigned_ms`: asking again does not win a worker more time.
            "UPDATE replicates SET updated_ms = ?3 WHERE task_id = ?1 AND worker = ?2",
            params![hx(task.task), hx(worker), now_ms()],
        )?;
        note(
            tx,
            task.task,
            Some(worker),
            ReplicateStatus::Assigned.as_str(),
            "given again: the worker does not hold it (the answer to its ask was lost)",
        )?;
        return Ok(Some(assignment(&task, authorization)));
    }
    if resting(tx, worker, backoff, now_ms())?.is_some() {
        return Ok(None);
    }
    const PAGE: usize = 32;
    let mut offset = 0;
    loop {
        let page = tasks_open_to(tx, worker, chain_now, offset, PAGE)?;
        if let Some(assignment) = assign_one(tx, worker, scheduler, &page, &assignment)? {
            return Ok(Some(assignment));
        }
        if page.len() < PAGE {
            return Ok(None);
        }
        offset += PAGE;
    }
}

/// The first of `tasks` that needs another replicate, given to `worker`.
fn assign_one(
    tx: &Transaction<'_>,
    worker: Address,
    scheduler: &PrivateKeySigner,
    tasks: &[TaskRow],
    assignment: &impl Fn(&TaskRow, Vec<u8>) -> Assignment,
) -> Result<Option<Assignment>> {
    for task in tasks {
        let all = replicates(tx, task.task)?;
        let mut contributed = Vec::new();
        let mut pending = Vec::new();
        for r in &all {
            if r.contributed && r.status != ReplicateStatus::Rejected {
                contributed.push((
                    r.result_hash.unwrap_or_default(),
                    known_score(tx, r.worker)?,
                ));
            } else if !r.contributed && !r.status.is_final() {
                pending.push(known_score(tx, r.worker)?);
            }
        }
        if !prediction::needs_more(task.trust, &contributed, &pending) {
            continue;
        }
        let authorization = WorkerpoolAuthorization {
            worker,
            task_id: task.task,
            enclave_challenge: Address::ZERO,
        }
        .sign(scheduler)
        .map_err(|e| crate::Error::Chain(format!("cannot sign an authorization: {e}")))?;
        let now = now_ms();
        tx.prepare_cached("INSERT INTO replicates (task_id, worker, status, authorization, assigned_ms, updated_ms)
             VALUES (?1, ?2, 'ASSIGNED', ?3, ?4, ?4)")?
        .execute(params![hx(task.task), hx(worker), authorization.to_vec(), now],
        )?;
        note(
            tx,
            task.task,
            Some(worker),
            ReplicateStatus::Assigned.as_str(),
            &format!(
                "{} replicate(s) running and {} contribution(s) are not enough for trust {}",
                pending.len(),
                contributed.len(),
                task.trust
            ),
        )?;
        if task.status == TaskStatus::Initialized {
            set_task(
                tx,
                task.task,
                TaskStatus::Running,
                &format!("first replicate given to {worker}"),
            )?;
        }
        return Ok(Some(assignment(task, authorization.to_vec())));
    }
    Ok(None)
}

/// A replicate given to `worker` that it never reported on and does not hold (`holding`, its
/// own word): the answer to its ask did not reach it. Only one still able to contribute.
fn undelivered(
    tx: &Transaction<'_>,
    worker: Address,
    holding: &[TaskId],
    chain_now: u64,
) -> Result<Option<(TaskRow, Vec<u8>)>> {
    let mut stmt = tx.prepare_cached(
        "SELECT r.task_id, r.authorization FROM replicates r JOIN tasks t ON t.task_id = r.task_id
         WHERE r.worker = ?1 AND r.status = 'ASSIGNED' AND r.contributed = 0
           AND t.status IN ('INITIALIZED', 'RUNNING') AND t.contribution_deadline > ?2
         ORDER BY r.assigned_ms",
    )?;
    let given: Vec<(String, Vec<u8>)> = stmt
        .query_map(params![hx(worker), chain_now], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (task, authorization) in given {
        let task = TaskId::new(b256(&task)?);
        if holding.contains(&task) {
            continue;
        }
        if let Some(row) = load_task(tx, task)? {
            return Ok(Some((row, authorization)));
        }
    }
    Ok(None)
}

/// Why a worker's report is refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refused {
    #[error("worker {worker} has no replicate of task {task}")]
    NoReplicate { worker: Address, task: TaskId },
    #[error("the callback data's keccak {actual} is not the revealed digest {expected}")]
    CallbackMismatch { actual: B256, expected: B256 },
    #[error("{0}")]
    Db(#[from] crate::Error),
}

/// A worker's report of its replicate; returns what it should do next.
pub(crate) fn report(
    tx: &Transaction<'_>,
    worker: Address,
    task: TaskId,
    update: &StatusUpdate,
    result_link: Option<&str>,
    chain_now: u64,
    backoff: Duration,
) -> std::result::Result<Action, Refused> {
    let status = update.status;
    let reason = update.reason.as_deref();
    let callback_data: Option<&[u8]> = update.callback_data.as_ref().map(|b| b.as_ref());
    let current =
        replicate_status(tx, task, worker)?.ok_or(Refused::NoReplicate { worker, task })?;
    let Some(row) = load_task(tx, task)? else {
        return Err(Refused::NoReplicate { worker, task });
    };
    let text = reason
        .map(str::to_string)
        .unwrap_or_else(|| "reported by the worker".into());
    if current.is_final() {
        // Decided already (lost, rejected, over): keep the report in the history only.
        note(
            tx,
            task,
            Some(worker),
            status.as_str(),
            &format!("{text} (after {current})"),
        )?;
    } else if status == ReplicateStatus::ResultUploaded {
        if row.uploader != Some(worker) {
            note(
                tx,
                task,
                Some(worker),
                status.as_str(),
                "uploaded without being asked",
            )?;
        } else if row.result_link.is_none() {
            let data = callback_data.unwrap_or_default();
            if row.callback != Address::ZERO {
                let actual = keccak256(data);
                let expected = row.digest.unwrap_or_default();
                if actual != expected {
                    return Err(Refused::CallbackMismatch { actual, expected });
                }
            }
            let callback = if row.callback == Address::ZERO {
                Vec::new()
            } else {
                data.to_vec()
            };
            tx.execute(
                "UPDATE tasks SET result_link = ?2, callback_data = ?3 WHERE task_id = ?1",
                params![hx(task), result_link.unwrap_or_default(), callback],
            )
            .map_err(crate::Error::from)?;
            set_replicate(tx, task, worker, status, &text)?;
            set_task(
                tx,
                task,
                TaskStatus::ResultUploaded,
                &format!("{worker} uploaded the result"),
            )?;
        }
    } else if status == ReplicateStatus::ResultUploadFailed {
        // Ask again at once: another revealed worker, or this one if it is the only one.
        note(tx, task, Some(worker), status.as_str(), &text)?;
        tx.execute(
            "UPDATE tasks SET upload_asked_ms = 0 WHERE task_id = ?1",
            [hx(task)],
        )
        .map_err(crate::Error::from)?;
    } else if !matches!(
        status,
        ReplicateStatus::Contributed | ReplicateStatus::Revealed | ReplicateStatus::Assigned
    ) {
        // Contributions and reveals count once the chain has them.
        set_replicate(tx, task, worker, status, &text)?;
        if own_failure(status)
            && let Some(rest) = resting(tx, worker, backoff, now_ms())?
        {
            note(
                tx,
                task,
                Some(worker),
                "WORKER_RESTING",
                &format!(
                    "{worker} gets no new replicate for {} s: {} of its latest replicates failed in a row for a reason of its own ({status}: {text})",
                    rest.until_ms.saturating_sub(now_ms()).div_ceil(1000),
                    rest.failures
                ),
            )?;
        }
    }
    action(tx, worker, task, chain_now)
}

/// What `worker`'s replicate of `task` should do next.
pub(crate) fn action(
    tx: &Transaction<'_>,
    worker: Address,
    task: TaskId,
    chain_now: u64,
) -> std::result::Result<Action, Refused> {
    let Some(row) = load_task(tx, task)? else {
        return Err(Refused::NoReplicate { worker, task });
    };
    let Some(me) = replicates(tx, task)?
        .into_iter()
        .find(|r| r.worker == worker)
    else {
        return Err(Refused::NoReplicate { worker, task });
    };
    let abort = |reason: String| Ok(Action::Abort { reason });
    match row.status {
        TaskStatus::Completed => return Ok(Action::Complete),
        TaskStatus::Failed | TaskStatus::Claiming => {
            return abort("the task failed: it is claimed after its final deadline".into());
        }
        TaskStatus::ContributionTimeout if !me.contributed => {
            return abort(format!(
                "the contribution deadline {} passed",
                row.contribution_deadline
            ));
        }
        _ => {}
    }
    match me.status {
        ReplicateStatus::WorkerLost => {
            return abort(
                "the replicate was lost (late or unanswered) and given to another worker".into(),
            );
        }
        ReplicateStatus::Rejected => {
            return abort("its result lost the consensus or was not revealed in time".into());
        }
        s if s.is_final() => return abort(format!("the replicate ended as {s}")),
        _ => {}
    }
    let Some(consensus) = row.consensus else {
        if !me.contributed && chain_now >= row.contribution_deadline {
            return abort(format!(
                "the contribution deadline {} passed",
                row.contribution_deadline
            ));
        }
        return Ok(if me.contributed {
            Action::Wait
        } else {
            Action::Continue
        });
    };
    if !me.contributed {
        return abort("the task reached consensus without this replicate: nothing to do".into());
    }
    if me.result_hash != Some(consensus) {
        return abort("its result is not the consensus".into());
    }
    if !me.revealed {
        return Ok(if chain_now < row.reveal_deadline {
            Action::Reveal
        } else {
            Action::Wait
        });
    }
    if row.uploader == Some(worker) && row.result_link.is_none() {
        return Ok(Action::Upload);
    }
    Ok(Action::Wait)
}

/// Whether the worker has this replicate (for the upload check).
pub(crate) fn uploader(tx: &Transaction<'_>, task: TaskId) -> Result<Option<Address>> {
    Ok(load_task(tx, task)?.and_then(|t| t.uploader))
}

// ---- Views ----

pub(crate) fn view(tx: &Transaction<'_>, task: TaskId) -> Result<Option<TaskView>> {
    let Some(row) = load_task(tx, task)? else {
        return Ok(None);
    };
    let replicates = replicates(tx, task)?
        .into_iter()
        .map(|r| ReplicateView {
            worker: r.worker,
            status: r.status,
            result_hash: r.result_hash.map(ResultHash::new),
        })
        .collect();
    let mut stmt = tx.prepare(
        "SELECT at_ms, worker, status, reason FROM events WHERE task_id = ?1 ORDER BY id",
    )?;
    let history = stmt
        .query_map([hx(task)], |r| {
            Ok(Event {
                at_ms: r.get(0)?,
                worker: r
                    .get::<_, Option<String>>(1)?
                    .map(|s| address(&s))
                    .transpose()?,
                status: r.get(2)?,
                reason: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(TaskView {
        task_id: row.task,
        deal_id: row.deal,
        index: row.idx,
        status: row.status,
        contribution_deadline: row.contribution_deadline,
        final_deadline: row.final_deadline,
        result_link: row.result_link,
        replicates,
        history,
    }))
}

pub(crate) fn list(tx: &Transaction<'_>, status: Option<TaskStatus>) -> Result<Vec<TaskSummary>> {
    let mut stmt = tx.prepare(
        "SELECT task_id, deal_id, idx, status FROM tasks
         WHERE ?1 IS NULL OR status = ?1 ORDER BY created_ms DESC, idx LIMIT 1000",
    )?;
    let rows = stmt.query_map([status.map(|s| s.as_str())], |r| {
        let status: String = r.get(3)?;
        Ok(TaskSummary {
            task_id: TaskId::new(b256(&r.get::<_, String>(0)?)?),
            deal_id: DealId::new(b256(&r.get::<_, String>(1)?)?),
            index: r.get(2)?,
            status: TaskStatus::parse(&status).unwrap_or(TaskStatus::Received),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    const A: Address = Address::repeat_byte(0xa);
    const B: Address = Address::repeat_byte(0xb);
    const NOW: u64 = 1_000;

    /// A database holding one initialized deal of `tasks` tasks at trust 1.
    fn pool(tasks: u64) -> (tempfile::TempDir, Db, Vec<TaskId>) {
        pool_with(tasks, 1, Address::ZERO)
    }

    /// As [`pool`], at `trust`, the deal's results sent to `callback`.
    fn pool_with(
        tasks: u64,
        trust: u64,
        callback: Address,
    ) -> (tempfile::TempDir, Db, Vec<TaskId>) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("scheduler.db"), "test pool").unwrap();
        let deal = DealId::new(B256::repeat_byte(0xd));
        let info = DealInfo {
            app: Address::repeat_byte(1),
            dataset: Address::ZERO,
            trust,
            category: 0,
            timeref: 100,
            start_time: NOW,
            bot_first: 0,
            bot_size: tasks,
            worker_stake: U256::ZERO,
            callback,
            tag: B256::ZERO,
        };
        let ids: Vec<TaskId> = (0..tasks).map(|i| deal.task(U256::from(i))).collect();
        let mut events = vec![HubEvent::Deal(deal, info)];
        events.extend(ids.iter().map(|t| HubEvent::Initialized(*t)));
        db.with(|tx| apply(tx, &events)).unwrap();
        (dir, db, ids)
    }

    fn give(db: &Db, worker: Address, backoff: Duration) -> Option<Assignment> {
        let key = PrivateKeySigner::random();
        db.with(|tx| assign(tx, worker, &key, NOW, "http://127.0.0.1:1", backoff, None))
            .unwrap()
    }

    fn send(db: &Db, worker: Address, task: TaskId, update: StatusUpdate, backoff: Duration) {
        db.with(|tx| {
            report(tx, worker, task, &update, None, NOW, backoff)
                .map_err(|e| crate::Error::Chain(e.to_string()))
        })
        .unwrap();
    }

    fn history(db: &Db, task: TaskId) -> Vec<Event> {
        db.with(|tx| view(tx, task)).unwrap().unwrap().history
    }

    #[test]
    fn a_worker_whose_replicate_failed_for_its_own_reason_rests_and_the_record_says_so() {
        let (_dir, db, tasks) = pool(3);
        let backoff = Duration::from_secs(600);
        let first = give(&db, A, backoff).expect("a replicate for A");
        let reason = "the worker 0xaa… cannot pay for gas: its balance is 0 wei";
        send(
            &db,
            A,
            first.task_id,
            StatusUpdate::failed(ReplicateStatus::ContributeFailed, reason),
            backoff,
        );
        // A gets nothing more; B does, and the failed task goes to another worker.
        assert_eq!(give(&db, A, backoff), None);
        let record = history(&db, first.task_id);
        let rest = record
            .iter()
            .find(|e| e.status == "WORKER_RESTING")
            .expect("the task's record says why A rests");
        assert_eq!(rest.worker, Some(A));
        assert!(
            rest.reason.contains("gets no new replicate for 600 s"),
            "{}",
            rest.reason
        );
        assert!(rest.reason.contains(reason), "{}", rest.reason);
        let to_b = give(&db, B, backoff).expect("a replicate for B");
        assert_eq!(
            to_b.task_id, tasks[0],
            "the failed task is given again first"
        );
        assert_eq!(first.task_id, tasks[0]);
    }

    #[test]
    fn an_ask_reads_the_open_tasks_a_page_at_a_time_and_finds_one_past_the_first_pages() {
        // Trust 3 with fresh workers: every task takes as many replicates as the chain needs.
        let needed = agora_primitives::consensus::contributions_needed(3, 0) as u8;
        let (_dir, db, tasks) = pool_with(70, 3, Address::ZERO);
        let backoff = Duration::from_secs(600);
        let worker = |i: u8| Address::repeat_byte(0x10 + i);
        for w in 0..needed {
            for task in &tasks {
                let given = give(&db, worker(w), backoff).expect("a replicate");
                assert_eq!(given.task_id, *task, "closest deadline, then index, first");
            }
            assert_eq!(give(&db, worker(w), backoff), None);
        }
        // Every task has its replicates: three pages read, nothing more to give.
        let extra = worker(needed);
        assert_eq!(give(&db, extra, backoff), None);
        // Task 65 (the third page) loses one through the app's failure: it is found.
        send(
            &db,
            worker(0),
            tasks[65],
            StatusUpdate::failed(ReplicateStatus::ComputeFailed, "the app trapped"),
            backoff,
        );
        let given = give(&db, extra, backoff).expect("the task that needs one more");
        assert_eq!(given.task_id, tasks[65]);
        assert_eq!(give(&db, extra, backoff), None);
    }

    #[test]
    fn the_app_failing_is_not_the_workers_fault() {
        let (_dir, db, _) = pool(2);
        let backoff = Duration::from_secs(600);
        let first = give(&db, A, backoff).unwrap();
        send(
            &db,
            A,
            first.task_id,
            StatusUpdate::failed(ReplicateStatus::ComputeFailed, "the app trapped"),
            backoff,
        );
        assert!(give(&db, A, backoff).is_some());
        assert!(
            history(&db, first.task_id)
                .iter()
                .all(|e| e.status != "WORKER_RESTING")
        );
    }

    #[test]
    fn a_resting_worker_gets_work_again_once_the_backoff_ends_and_it_doubles_on_each_failure() {
        let (_dir, db, _) = pool(4);
        let backoff = Duration::from_millis(300);
        let first = give(&db, A, backoff).unwrap();
        let failed = StatusUpdate::failed(ReplicateStatus::StartFailed, "stake too low");
        send(&db, A, first.task_id, failed.clone(), backoff);
        let one = db
            .with(|tx| resting(tx, A, backoff, now_ms()))
            .unwrap()
            .expect("resting");
        assert_eq!(one.failures, 1);
        let until = |rest: &Rest| rest.until_ms;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let second = loop {
            if let Some(given) = give(&db, A, backoff) {
                break given;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never given work again"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(now_ms() >= until(&one));
        send(&db, A, second.task_id, failed, backoff);
        let two = db
            .with(|tx| resting(tx, A, backoff, now_ms()))
            .unwrap()
            .expect("resting again");
        assert_eq!(two.failures, 2);
        let since_failure = two.until_ms - (until(&one) - 300);
        assert!(
            since_failure >= 600,
            "twice the backoff: {since_failure} ms"
        );
    }

    #[test]
    fn a_success_ends_the_rest() {
        let (_dir, db, tasks) = pool(3);
        let backoff = Duration::from_secs(600);
        let running = give(&db, A, backoff).unwrap();
        let failing = give(&db, A, backoff).unwrap();
        send(
            &db,
            A,
            failing.task_id,
            StatusUpdate::failed(ReplicateStatus::ContributeFailed, "no gas"),
            backoff,
        );
        assert_eq!(give(&db, A, backoff), None);
        // Its other replicate is contributed on chain: it can work after all.
        std::thread::sleep(Duration::from_millis(5));
        db.with(|tx| {
            apply(
                tx,
                &[HubEvent::Contributed {
                    task: running.task_id,
                    worker: A,
                    hash: B256::repeat_byte(7),
                }],
            )
        })
        .unwrap();
        let again = give(&db, A, backoff).expect("given work after its success");
        assert!(tasks.contains(&again.task_id));
    }

    #[test]
    fn a_heartbeat_keeps_a_busy_worker_from_being_lost() {
        let (_dir, db, _) = pool(1);
        let given = give(&db, A, Duration::ZERO).unwrap();
        let lost_after = Duration::from_millis(200);
        let clock = |wall_ms| Clock {
            chain: NOW,
            wall_ms,
            worker_lost_after: lost_after,
            replicate_timeout: None,
            upload_timeout: Duration::from_secs(60),
            check_lost: true,
        };
        // Heard from 100 ms ago: not lost; a heartbeat then, and 350 ms later it is still not
        // lost 150 ms after the beat; silent for 250 ms, it is.
        let start = now_ms();
        db.with(|tx| heartbeat(tx, A, &[given.task_id])).unwrap();
        let beat_ms = db
            .with(|tx| {
                Ok(tx.query_row(
                    "SELECT last_seen_ms FROM workers WHERE worker = ?1",
                    [hx(A)],
                    |r| r.get::<_, u64>(0),
                )?)
            })
            .unwrap();
        assert!(beat_ms >= start);
        let lost = db
            .with(|tx| lose_replicates(tx, clock(beat_ms + 150)))
            .unwrap();
        assert_eq!(lost, 0);
        let lost = db
            .with(|tx| lose_replicates(tx, clock(beat_ms + 250)))
            .unwrap();
        assert_eq!(lost, 1);
    }

    /// `task` revealed with `digest` and `uploader` asked to upload, as the chain's events
    /// and the scheduler's choice leave it.
    fn asked_to_upload(db: &Db, task: TaskId, digest: B256, uploader: Address) {
        db.with(|tx| {
            tx.execute(
                "UPDATE tasks SET status = 'RESULT_UPLOADING', digest = ?2, uploader = ?3,
                 upload_asked_ms = ?4 WHERE task_id = ?1",
                params![hx(task), hx(digest), hx(uploader), now_ms()],
            )?;
            Ok(())
        })
        .unwrap();
    }

    fn uploaded(callback: &[u8]) -> StatusUpdate {
        let mut update = StatusUpdate::new(ReplicateStatus::ResultUploaded);
        update.callback_data = Some(Bytes::copy_from_slice(callback));
        update
    }

    fn task_row(db: &Db, task: TaskId) -> TaskRow {
        db.with(|tx| load_task(tx, task)).unwrap().unwrap()
    }

    #[test]
    fn callback_data_that_is_not_the_revealed_digest_is_refused_and_changes_nothing() {
        let consumer = Address::repeat_byte(0xcc);
        let (_dir, db, _) = pool_with(1, 1, consumer);
        let backoff = Duration::from_secs(600);
        let given = give(&db, A, backoff).unwrap();
        let task = given.task_id;
        let data = b"the app's callback data".as_slice();
        let digest = keccak256(data);
        asked_to_upload(&db, task, digest, A);
        let link = r#"{"storage":"agora","location":"http://127.0.0.1:1/v1/results/0x01"}"#;

        let forged = uploaded(b"what the worker would rather send");
        let refused = db.with(|tx| Ok(report(tx, A, task, &forged, Some(link), NOW, backoff)));
        match refused.unwrap() {
            Err(Refused::CallbackMismatch { actual, expected }) => {
                assert_eq!(expected, digest);
                assert_eq!(actual, keccak256(b"what the worker would rather send"));
            }
            other => panic!("not refused as a mismatch: {other:?}"),
        }
        let row = task_row(&db, task);
        assert_eq!(row.status, TaskStatus::ResultUploading, "nothing changed");
        assert_eq!(row.result_link, None);
        assert_eq!(row.callback_data, None);

        // The data whose keccak is the digest is kept for finalize.
        db.with(|tx| {
            report(tx, A, task, &uploaded(data), Some(link), NOW, backoff)
                .map_err(|e| crate::Error::Chain(e.to_string()))
        })
        .unwrap();
        let row = task_row(&db, task);
        assert_eq!(row.status, TaskStatus::ResultUploaded);
        assert_eq!(row.result_link.as_deref(), Some(link));
        assert_eq!(row.callback_data.as_deref(), Some(data));
    }

    #[test]
    fn an_upload_report_from_a_worker_not_asked_is_only_noted() {
        let (_dir, db, _) = pool(1);
        let backoff = Duration::from_secs(600);
        let task = give(&db, A, backoff).unwrap().task_id;
        // B also holds a replicate (trust 1 needs no second; as a reopened task would).
        db.with(|tx| {
            tx.execute(
                "INSERT INTO replicates (task_id, worker, status, authorization, assigned_ms, updated_ms)
                 VALUES (?1, ?2, 'COMPUTED', x'', ?3, ?3)",
                params![hx(task), hx(B), now_ms()],
            )?;
            Ok(())
        })
        .unwrap();
        asked_to_upload(&db, task, B256::repeat_byte(7), A);
        let link = r#"{"storage":"agora","location":"http://127.0.0.1:1/v1/results/0x02"}"#;
        db.with(|tx| {
            report(tx, B, task, &uploaded(b""), Some(link), NOW, backoff)
                .map_err(|e| crate::Error::Chain(e.to_string()))
        })
        .unwrap();
        let row = task_row(&db, task);
        assert_eq!(
            row.status,
            TaskStatus::ResultUploading,
            "still waiting for A"
        );
        assert_eq!(row.result_link, None, "B's link is not taken");
        let noted = history(&db, task);
        assert!(
            noted
                .iter()
                .any(|e| e.worker == Some(B) && e.reason == "uploaded without being asked"),
            "{noted:?}"
        );
    }
}
