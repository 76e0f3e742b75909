//! What the worker daemon has done for each replicate it runs, in one SQLite file
//! (`worker.db` in its work directory), so that after a restart it resumes instead of
//! computing again.
//!
//! One row per running replicate, its state as JSON, replaced at each phase and deleted when
//! the replicate ends; once computed, the result archive beside it (table `archives`), written
//! in the same transaction as the `computed` state, so that the output folder is not kept
//! on disk until the upload. A database rather than a file per replicate: a phase costs one append
//! to the write-ahead log instead of creating, syncing and renaming a file, which on this
//! machine's disk was the largest cost of a trivial task. Commits are synced in `NORMAL`
//! mode: a killed process loses nothing; a power cut may lose the last phases, which the
//! worker then redoes after asking the chain what it already sent (it never contributes or
//! reveals twice), or, for a replicate not yet recorded at all, which the scheduler gives to
//! another worker once it times out.

use std::path::{Path, PathBuf};

use agora_primitives::TaskId;
use rusqlite::{Connection, params};
use serde::{Serialize, de::DeserializeOwned};

/// The replicates' states.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    connection: std::sync::Mutex<Connection>,
}

/// Why the journal cannot be opened or written.
#[derive(Debug, thiserror::Error)]
#[error("the worker's journal {path}: {source}")]
pub struct JournalError {
    path: PathBuf,
    #[source]
    source: rusqlite::Error,
}

impl Journal {
    /// Opens (or creates) the journal at `path`.
    pub(crate) fn open(path: &Path) -> Result<Self, JournalError> {
        let fail = |source| JournalError {
            path: path.to_path_buf(),
            source,
        };
        let connection = Connection::open(path).map_err(fail)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
                 CREATE TABLE IF NOT EXISTS replicates (
                     task_id TEXT PRIMARY KEY,
                     state TEXT NOT NULL,
                     updated_ms INTEGER NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS archives (
                     task_id TEXT PRIMARY KEY,
                     archive BLOB NOT NULL
                 );",
            )
            .map_err(fail)?;
        // One plan per statement: the bundled SQLite (STAT4) would otherwise compile a
        // statement again whenever its bound task id changes.
        connection
            .set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
                true,
            )
            .map_err(fail)?;
        Ok(Self {
            path: path.to_path_buf(),
            connection: std::sync::Mutex::new(connection),
        })
    }

    fn fail(&self, source: rusqlite::Error) -> JournalError {
        JournalError {
            path: self.path.clone(),
            source,
        }
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records `state` as the replicate of `task`'s, replacing what was there.
    pub(crate) fn save<S: Serialize>(&self, task: TaskId, state: &S) -> Result<(), JournalError> {
        Self::save_state(&self.connection(), task, state).map_err(|e| self.fail(e))
    }

    /// Records `state` and the result `archive` of `task` in one transaction.
    pub(crate) fn save_with_archive<S: Serialize>(
        &self,
        task: TaskId,
        state: &S,
        archive: &[u8],
    ) -> Result<(), JournalError> {
        let mut connection = self.connection();
        let written = (|| {
            let transaction = connection.transaction()?;
            transaction
                .prepare_cached(
                    "INSERT INTO archives (task_id, archive) VALUES (?1, ?2)
                     ON CONFLICT (task_id) DO UPDATE SET archive = excluded.archive",
                )?
                .execute(params![task.to_string(), archive])?;
            Self::save_state(&transaction, task, state)?;
            transaction.commit()
        })();
        written.map_err(|e| self.fail(e))
    }

    fn save_state<S: Serialize>(
        connection: &Connection,
        task: TaskId,
        state: &S,
    ) -> rusqlite::Result<()> {
        let json = serde_json::to_string(state).unwrap_or_default();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        connection
            .prepare_cached(
                "INSERT INTO replicates (task_id, state, updated_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (task_id) DO UPDATE SET state = excluded.state,
                     updated_ms = excluded.updated_ms",
            )?
            .execute(params![task.to_string(), json, now])
            .map(drop)
    }

    /// The result archive recorded for `task`, if any.
    pub(crate) fn archive(&self, task: TaskId) -> Result<Option<Vec<u8>>, JournalError> {
        use rusqlite::OptionalExtension;
        self.connection()
            .prepare_cached("SELECT archive FROM archives WHERE task_id = ?1")
            .and_then(|mut s| s.query_row([task.to_string()], |r| r.get(0)).optional())
            .map_err(|e| self.fail(e))
    }

    /// Forgets the replicate of `task` and its archive.
    pub(crate) fn forget(&self, task: TaskId) -> Result<(), JournalError> {
        let mut connection = self.connection();
        let forgotten = (|| {
            let transaction = connection.transaction()?;
            for sql in [
                "DELETE FROM replicates WHERE task_id = ?1",
                "DELETE FROM archives WHERE task_id = ?1",
            ] {
                transaction
                    .prepare_cached(sql)?
                    .execute([task.to_string()])?;
            }
            transaction.commit()
        })();
        forgotten.map_err(|e| self.fail(e))
    }

    /// Every recorded state that still reads as an `S`; the others are reported and skipped
    /// (left in place, for whoever wants to look).
    pub(crate) fn all<S: DeserializeOwned>(&self) -> Result<Vec<S>, JournalError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT task_id, state FROM replicates")
            .map_err(|e| self.fail(e))?;
        let rows = statement
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.fail(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.fail(e))?;
        Ok(rows
            .into_iter()
            .filter_map(|(task, json)| match serde_json::from_str(&json) {
                Ok(state) => Some(state),
                Err(e) => {
                    tracing::warn!(target: "agora::worker", task_id = %task, error = %e, "an unreadable replicate state is skipped");
                    None
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_survive_a_reopen_and_forgotten_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker.db");
        let (a, b) = (TaskId::new([1; 32].into()), TaskId::new([2; 32].into()));
        let journal = Journal::open(&path).unwrap();
        journal.save(a, &"assigned").unwrap();
        journal.save(a, &"computed").unwrap();
        journal.save(b, &"assigned").unwrap();
        journal.forget(b).unwrap();
        drop(journal);
        let journal = Journal::open(&path).unwrap();
        assert_eq!(
            journal.all::<String>().unwrap(),
            vec!["computed".to_string()]
        );
    }

    #[test]
    fn an_archive_is_kept_with_its_state_until_the_replicate_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker.db");
        let task = TaskId::new([3; 32].into());
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.archive(task).unwrap(), None);
        journal
            .save_with_archive(task, &"computed", b"PK archive")
            .unwrap();
        drop(journal);
        let journal = Journal::open(&path).unwrap();
        assert_eq!(
            journal.all::<String>().unwrap(),
            vec!["computed".to_string()]
        );
        assert_eq!(
            journal.archive(task).unwrap().as_deref(),
            Some(&b"PK archive"[..])
        );
        journal.forget(task).unwrap();
        assert_eq!(journal.archive(task).unwrap(), None);
        assert!(journal.all::<String>().unwrap().is_empty());
    }

    #[test]
    fn an_unreadable_state_is_skipped_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("worker.db")).unwrap();
        journal.save(TaskId::new([1; 32].into()), &7u32).unwrap();
        journal.save(TaskId::new([2; 32].into()), &"seven").unwrap();
        assert_eq!(journal.all::<u32>().unwrap(), vec![7]);
        assert_eq!(journal.all::<serde_json::Value>().unwrap().len(), 2);
    }
}
