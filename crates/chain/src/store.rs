//! The block log: an append-only file of checksummed records, fsync'd before a block is
//! reported. Reopening reads it back; a torn record at the tail (a crash mid-write) is cut off.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Write},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    state::AccountDiff,
};

/// File name of the block log inside the data directory.
pub(crate) const LOG_FILE: &str = "chain.log";

const HEADER_LEN: usize = 8;

/// One record of the log.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Record {
    Genesis(GenesisRecord),
    Block(BlockRecord),
    Clock(ClockRecord),
    /// A direct edit of the state between blocks (`anvil_setBalance` and friends). New
    /// variants go last: the log's older records keep their tags.
    Edit(EditRecord),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EditRecord {
    pub(crate) diffs: Vec<crate::state::AccountDiff>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct GenesisRecord {
    pub(crate) chain_id: u64,
    pub(crate) hardfork: u8,
    pub(crate) base_fee: u64,
    pub(crate) block_gas_limit: u64,
    pub(crate) header_rlp: Vec<u8>,
    pub(crate) hash: [u8; 32],
    pub(crate) alloc: Vec<AccountDiff>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct BlockRecord {
    pub(crate) header_rlp: Vec<u8>,
    pub(crate) hash: [u8; 32],
    pub(crate) txs: Vec<TxRecord>,
    pub(crate) receipts: Vec<ReceiptRecord>,
    pub(crate) diffs: Vec<AccountDiff>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TxRecord {
    /// EIP-2718 encoding of the signed transaction.
    pub(crate) raw: Vec<u8>,
    pub(crate) hash: [u8; 32],
    pub(crate) sender: [u8; 20],
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReceiptRecord {
    pub(crate) success: bool,
    pub(crate) gas_used: u64,
    pub(crate) cumulative_gas_used: u64,
    pub(crate) effective_gas_price: u128,
    pub(crate) contract_address: Option<[u8; 20]>,
    pub(crate) logs: Vec<LogRecord>,
    /// Output of the call (revert data for a failed transaction).
    pub(crate) output: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LogRecord {
    pub(crate) address: [u8; 20],
    pub(crate) topics: Vec<[u8; 32]>,
    pub(crate) data: Vec<u8>,
}

/// The clock adjustments of `evm_increaseTime` and `evm_setNextBlockTimestamp`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct ClockRecord {
    pub(crate) offset: i64,
    pub(crate) next_timestamp: Option<u64>,
}

/// The open log file.
#[derive(Debug)]
pub(crate) struct BlockLog {
    file: File,
    path: PathBuf,
    pending: Vec<u8>,
    /// Bytes of complete records on disk.
    len: u64,
}

impl BlockLog {
    /// Opens (or creates) the log in `dir` and returns every complete record in it.
    pub(crate) fn open(dir: &Path) -> Result<(Self, Vec<Record>)> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(LOG_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io(&path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io(&path))?;

        let mut records = Vec::new();
        let mut offset = 0usize;
        while bytes.len() - offset >= HEADER_LEN {
            let len = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap_or_default());
            let crc =
                u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().unwrap_or_default());
            let start = offset + HEADER_LEN;
            let end = start + len as usize;
            if end > bytes.len() {
                break;
            }
            let payload = &bytes[start..end];
            if crc32fast::hash(payload) != crc {
                if end < bytes.len() {
                    // Not a torn tail: acknowledged blocks follow. Refuse rather than drop them.
                    return Err(Error::Corrupt {
                        path,
                        offset: offset as u64,
                        reason: "checksum mismatch in a record that is followed by others".into(),
                    });
                }
                break;
            }
            let record = bincode::deserialize(payload).map_err(|e| Error::Corrupt {
                path: path.clone(),
                offset: offset as u64,
                reason: e.to_string(),
            })?;
            records.push(record);
            offset = end;
        }
        if offset < bytes.len() {
            // A record torn by a crash was never acknowledged: drop it.
            tracing::warn!(
                target: "agora::chain",
                path = %path.display(),
                dropped_bytes = bytes.len() - offset,
                "cutting an incomplete record off the end of the block log"
            );
            file.set_len(offset as u64).map_err(io(&path))?;
            file.sync_all().map_err(io(&path))?;
        }
        if let Ok(d) = File::open(dir) {
            // Make the file's directory entry durable too; not all platforms allow this.
            let _ = d.sync_all();
        }
        Ok((
            Self {
                file,
                path,
                pending: Vec::new(),
                len: offset as u64,
            },
            records,
        ))
    }

    /// Queues a record; it is written by the next [`BlockLog::commit`].
    pub(crate) fn append(&mut self, record: &Record) {
        let payload = match bincode::serialize(record) {
            Ok(payload) => payload,
            Err(e) => unreachable!("log records always serialize: {e}"),
        };
        self.pending
            .extend_from_slice(&(payload.len() as u32).to_le_bytes());
        self.pending
            .extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        self.pending.extend_from_slice(&payload);
    }

    /// Bytes of complete records on disk.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Cuts the log back to its first `len` bytes (a snapshot's length: `evm_revert`), on
    /// disk before it returns.
    pub(crate) fn truncate(&mut self, len: u64) -> Result<()> {
        self.pending.clear();
        let result = self.file.set_len(len).and_then(|()| self.file.sync_all());
        result.map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        self.len = len;
        Ok(())
    }

    /// Writes the queued records and waits until they are on disk.
    pub(crate) fn commit(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = self
            .file
            .write_all(&self.pending)
            .and_then(|()| self.file.sync_data());
        if result.is_ok() {
            self.len += self.pending.len() as u64;
        }
        self.pending.clear();
        result.map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(offset: i64) -> Record {
        Record::Clock(ClockRecord {
            offset,
            next_timestamp: None,
        })
    }

    fn offsets(records: &[Record]) -> Vec<i64> {
        records
            .iter()
            .map(|r| match r {
                Record::Clock(c) => c.offset,
                _ => -1,
            })
            .collect()
    }

    fn write_three(dir: &Path) -> u64 {
        let (mut log, records) = BlockLog::open(dir).unwrap();
        assert!(records.is_empty());
        for i in 1..=3 {
            log.append(&clock(i));
        }
        log.commit().unwrap();
        std::fs::metadata(dir.join(LOG_FILE)).unwrap().len()
    }

    #[test]
    fn reads_back_what_was_committed() {
        let dir = tempfile::tempdir().unwrap();
        write_three(dir.path());
        let (_, records) = BlockLog::open(dir.path()).unwrap();
        assert_eq!(offsets(&records), vec![1, 2, 3]);
    }

    #[test]
    fn cuts_a_torn_tail_and_keeps_appending_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let len = write_three(dir.path());
        let path = dir.path().join(LOG_FILE);
        // Every possible tear of a fourth record leaves the first three intact.
        let mut fourth = Vec::new();
        let (mut log, _) = BlockLog::open(dir.path()).unwrap();
        log.append(&clock(4));
        std::mem::swap(&mut fourth, &mut log.pending);
        drop(log);
        for cut in 1..fourth.len() {
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.truncate(len as usize);
            bytes.extend_from_slice(&fourth[..cut]);
            std::fs::write(&path, &bytes).unwrap();
            let (_, records) = BlockLog::open(dir.path()).unwrap();
            assert_eq!(offsets(&records), vec![1, 2, 3], "torn after {cut} bytes");
            assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
        }
        let (mut log, _) = BlockLog::open(dir.path()).unwrap();
        log.append(&clock(5));
        log.commit().unwrap();
        let (_, records) = BlockLog::open(dir.path()).unwrap();
        assert_eq!(offsets(&records), vec![1, 2, 3, 5]);
    }

    #[test]
    fn refuses_a_damaged_record_in_the_middle() {
        let dir = tempfile::tempdir().unwrap();
        write_three(dir.path());
        let path = dir.path().join(LOG_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[HEADER_LEN + 1] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let error = BlockLog::open(dir.path()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("is corrupt at byte 0: checksum mismatch"),
            "{error}"
        );
        // Nothing was cut.
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }
}
