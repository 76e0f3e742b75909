//! The scheduler's database: one SQLite file (WAL) holding the pool's deals, tasks and
//! replicates, every status change with its reason (`events`), the transactions it sent
//! (`txs`, recorded before they are broadcast, and `purposes`, what each was for), worker
//! scores and sessions, and the last block it processed.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256};
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::{Error, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deals (
    deal_id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    dataset TEXT NOT NULL,
    trust INTEGER NOT NULL,
    category INTEGER NOT NULL,
    timeref INTEGER NOT NULL,
    start_time INTEGER NOT NULL,
    bot_first INTEGER NOT NULL,
    bot_size INTEGER NOT NULL,
    worker_stake TEXT NOT NULL,
    callback TEXT NOT NULL,
    tag TEXT NOT NULL,
    block INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    deal_id TEXT NOT NULL REFERENCES deals(deal_id),
    idx INTEGER NOT NULL,
    status TEXT NOT NULL,
    initialized INTEGER NOT NULL DEFAULT 0,
    contribution_deadline INTEGER NOT NULL,
    final_deadline INTEGER NOT NULL,
    reveal_deadline INTEGER NOT NULL DEFAULT 0,
    consensus TEXT,
    winners INTEGER NOT NULL DEFAULT 0,
    reveals INTEGER NOT NULL DEFAULT 0,
    reopens INTEGER NOT NULL DEFAULT 0,
    digest TEXT,
    uploader TEXT,
    upload_asked_ms INTEGER NOT NULL DEFAULT 0,
    result_link TEXT,
    callback_data BLOB,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks(status, contribution_deadline);
CREATE TABLE IF NOT EXISTS replicates (
    task_id TEXT NOT NULL REFERENCES tasks(task_id),
    worker TEXT NOT NULL,
    status TEXT NOT NULL,
    result_hash TEXT,
    contributed INTEGER NOT NULL DEFAULT 0,
    revealed INTEGER NOT NULL DEFAULT 0,
    upload_tried INTEGER NOT NULL DEFAULT 0,
    authorization BLOB NOT NULL,
    assigned_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (task_id, worker)
);
CREATE INDEX IF NOT EXISTS replicates_by_worker ON replicates(worker, status);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    task_id TEXT NOT NULL,
    worker TEXT,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_task ON events(task_id);
CREATE TABLE IF NOT EXISTS txs (
    nonce INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    raw BLOB NOT NULL,
    label TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT,
    sent_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS purposes (
    purpose TEXT PRIMARY KEY,
    nonce INTEGER,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT
);
CREATE TABLE IF NOT EXISTS workers (
    worker TEXT PRIMARY KEY,
    score INTEGER NOT NULL,
    score_stale INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token TEXT PRIMARY KEY,
    worker TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
";

/// The database.
#[derive(Debug)]
pub(crate) struct Db {
    conn: Mutex<Connection>,
}

impl Db {
    /// Opens (creating it if needed) the database at `path` for the scheduler of `identity`
    /// (chain, hub and workerpool): a database made for another is refused.
    pub(crate) fn open(path: &Path, identity: &str) -> Result<Self> {
        let fail = |source| Error::Database {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let conn = Connection::open(path).map_err(fail)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(fail)?;
        conn.execute_batch(SCHEMA).map_err(fail)?;
        // Every statement the scheduler runs stays prepared (rusqlite keeps 16 by default),
        // and stays compiled: the bundled SQLite is built with STAT4, which otherwise
        // re-prepares a statement whenever a value bound against an indexed column changes
        // (a task id, every call). The query planner stability guarantee keeps one plan.
        conn.set_prepared_statement_cache_capacity(128);
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(fail)?;
        let found: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'identity'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(fail)?;
        match found {
            Some(found) if found != identity => {
                return Err(Error::WrongDatabase {
                    path: PathBuf::from(path),
                    found,
                    expected: identity.into(),
                });
            }
            Some(_) => {}
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('identity', ?1)",
                    [identity],
                )
                .map_err(fail)?;
            }
        }
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Runs `f` in one transaction, committed if it returns `Ok`.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// `0x`-prefixed lowercase hex, as ids and addresses are stored.
pub(crate) fn hx(bytes: impl AsRef<[u8]>) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn bad_column(text: &str, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("{text:?} is not {what}").into(),
    )
}

/// A stored 32-byte value.
pub(crate) fn b256(text: &str) -> rusqlite::Result<B256> {
    text.parse()
        .map_err(|_| bad_column(text, "a 32-byte hex value"))
}

/// A stored address.
pub(crate) fn address(text: &str) -> rusqlite::Result<Address> {
    text.parse().map_err(|_| bad_column(text, "an address"))
}

/// A meta value.
pub(crate) fn meta(tx: &Transaction<'_>, key: &str) -> Result<Option<String>> {
    Ok(tx
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

/// Sets a meta value.
pub(crate) fn set_meta(tx: &Transaction<'_>, key: &str, value: &str) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_of_another_pool_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scheduler.db");
        let db = Db::open(&path, "pool a").unwrap();
        db.with(|tx| set_meta(tx, "last_block", "7")).unwrap();
        drop(db);
        let error = Db::open(&path, "pool b").unwrap_err();
        assert!(
            error.to_string().contains("belongs to pool a, not pool b"),
            "{error}"
        );
        let db = Db::open(&path, "pool a").unwrap();
        let kept = db.with(|tx| meta(tx, "last_block")).unwrap();
        assert_eq!(kept.as_deref(), Some("7"));
    }
}
