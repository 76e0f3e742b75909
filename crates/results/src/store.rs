//! Result archives on disk: `blobs/<sha256>` (content-addressed, written to a temporary file,
//! synced and renamed into place) and `tasks/<taskid>`, a symbolic link to the task's blob,
//! made only once the blob is in place (a store written before links were used has regular
//! files there holding the sha256; they are still read).

use std::path::{Path, PathBuf};

use alloy::primitives::B256;
use sha2::{Digest, Sha256};

/// What storing a result can run into.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The task has a different archive already: what is kept is immutable.
    #[error(
        "task {task} already has its certified result (an archive with sha256 {existing}); other bytes are not kept"
    )]
    Conflict {
        /// The task.
        task: B256,
        /// The sha256 of the result it has.
        existing: B256,
    },
    /// The disk refused.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The store's directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Opens (creating it if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        for sub in ["blobs", "tasks", "tmp"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(io(&path))?;
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Stores `bytes` as task `task`'s result; returns their sha256. Storing the same bytes
    /// again is accepted; other bytes are a [`StoreError::Conflict`].
    pub fn put(&self, task: B256, bytes: &[u8]) -> Result<B256, StoreError> {
        let sha = B256::from(<[u8; 32]>::from(Sha256::digest(bytes)));
        if let Some(existing) = self.sha_of(task)? {
            if existing == sha {
                return Ok(sha);
            }
            return Err(StoreError::Conflict { task, existing });
        }
        let blob = self.dir.join("blobs").join(hex::encode(sha));
        if !blob.exists() {
            self.write_atomically(&blob, bytes)?;
        }
        // The task's link is created only if absent (making a link fails on an existing
        // name), so two uploads for one task cannot both pass the check above. One call,
        // no file of its own to write and sync: the blob it names is already synced.
        let target = self.task_file(task);
        let linked =
            std::os::unix::fs::symlink(Path::new("../blobs").join(hex::encode(sha)), &target);
        match linked {
            Ok(()) => Ok(sha),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match self.sha_of(task)? {
                Some(existing) if existing == sha => Ok(sha),
                Some(existing) => Err(StoreError::Conflict { task, existing }),
                None => Err(io(&target)(e)),
            },
            Err(e) => Err(io(&target)(e)),
        }
    }

    /// Task `task`'s result, if it has one.
    pub fn get(&self, task: B256) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(sha) = self.sha_of(task)? else {
            return Ok(None);
        };
        let blob = self.dir.join("blobs").join(hex::encode(sha));
        std::fs::read(&blob).map(Some).map_err(io(&blob))
    }

    fn task_file(&self, task: B256) -> PathBuf {
        self.dir.join("tasks").join(hex::encode(task))
    }

    fn sha_of(&self, task: B256) -> Result<Option<B256>, StoreError> {
        let path = self.task_file(task);
        let text = match std::fs::read_link(&path) {
            Ok(blob) => Ok(blob
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()),
            // Not a link: a regular file of an older store, holding the sha256.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                std::fs::read_to_string(&path)
            }
            Err(e) => Err(e),
        };
        match text {
            Ok(text) => {
                let mut sha = [0; 32];
                hex::decode_to_slice(text.trim(), &mut sha).map_err(|e| StoreError::Io {
                    path: path.clone(),
                    source: std::io::Error::other(e),
                })?;
                Ok(Some(B256::from(sha)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Writes `bytes` to a new file in `tmp/` and syncs it.
    fn write_temporary(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, StoreError> {
        // A name of its own for each write: two uploads of the same bytes write the same blob
        // at the same time.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self
            .dir
            .join("tmp")
            .join(format!("{name}.{}.{n}", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io(&tmp))?;
        Ok(tmp)
    }

    fn write_atomically(&self, target: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = self.write_temporary(&name, bytes)?;
        std::fs::rename(&tmp, target).map_err(io(target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_stored_for_many_tasks_at_once_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let threads: Vec<_> = (0..16u8)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || store.put(B256::repeat_byte(i), b"same result"))
            })
            .collect();
        for thread in threads {
            thread.join().unwrap().unwrap();
        }
        for i in 0..16u8 {
            assert_eq!(
                store.get(B256::repeat_byte(i)).unwrap().as_deref(),
                Some(&b"same result"[..])
            );
        }
    }

    #[test]
    fn of_two_different_results_racing_for_a_task_one_is_kept_and_the_other_refused() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path()).unwrap();
            let task = B256::repeat_byte(2);
            let racers: Vec<_> = [b"one".as_slice(), b"two".as_slice()]
                .into_iter()
                .map(|bytes| {
                    let store = store.clone();
                    std::thread::spawn(move || store.put(task, bytes).is_ok())
                })
                .collect();
            let won: Vec<bool> = racers.into_iter().map(|t| t.join().unwrap()).collect();
            assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
            let kept = store.get(task).unwrap().unwrap();
            assert_eq!(
                kept,
                if won[0] {
                    b"one".as_slice()
                } else {
                    b"two".as_slice()
                }
            );
        }
    }

    #[test]
    fn a_store_written_with_task_files_is_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (old, new) = (B256::repeat_byte(5), B256::repeat_byte(6));
        let sha = store.put(new, b"result").unwrap();
        assert!(
            std::fs::symlink_metadata(store.task_file(new))
                .unwrap()
                .is_symlink()
        );
        std::fs::write(store.task_file(old), format!("{}\n", hex::encode(sha))).unwrap();
        assert_eq!(store.get(old).unwrap().as_deref(), Some(&b"result"[..]));
        assert!(matches!(
            store.put(old, b"other"),
            Err(StoreError::Conflict { existing, .. }) if existing == sha
        ));
    }

    #[test]
    fn a_task_keeps_its_first_result() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let task = B256::repeat_byte(1);
        store.put(task, b"first").unwrap();
        store.put(task, b"first").unwrap();
        assert!(matches!(
            store.put(task, b"other"),
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(store.get(task).unwrap().as_deref(), Some(&b"first"[..]));
    }
}
