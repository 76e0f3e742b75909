//! Test control, as anvil's and Hardhat's nodes offer it: direct edits of the state
//! (`anvil_setBalance` and friends), snapshots and reverts, and mining many blocks at once.
//! Edits are written to the block log like blocks, so a restart keeps them; snapshots live as
//! long as the process.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};

use super::{Node, Pending};
use crate::{
    error::TxError,
    state::AccountDiff,
    store::{ClockRecord, EditRecord, Record},
};

/// The most blocks one `anvil_mine` / `hardhat_mine` call mines (each is a real, durable
/// block).
pub(crate) const MAX_MINED_AT_ONCE: u64 = 100_000;

/// What a snapshot returns to.
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    /// The history position of the first change after it.
    position: u64,
    clock: ClockRecord,
    /// The block log's length when it was taken.
    log_len: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Snapshots {
    last: u64,
    taken: BTreeMap<u64, Snapshot>,
}

/// One change an edit makes to an account.
#[derive(Debug, Clone)]
pub(crate) enum Edit {
    Balance(U256),
    Nonce(u64),
    Code(Bytes),
    Storage(U256, B256),
}

impl Node {
    /// Changes one account directly, durably, between blocks.
    pub(crate) fn edit(&self, address: Address, edit: Edit) -> Result<(), crate::Error> {
        let mut producer = self.producer.lock();
        let diff = {
            let chain = self.chain.read();
            let (balance, nonce, code_hash) = chain.state.account_fields(&address);
            let mut diff = AccountDiff {
                address: address.into_array(),
                destroyed: false,
                storage_cleared: false,
                balance: balance.to_be_bytes(),
                nonce,
                code_hash: code_hash.0,
                code: None,
                storage: Vec::new(),
            };
            match edit {
                Edit::Balance(balance) => diff.balance = balance.to_be_bytes(),
                Edit::Nonce(nonce) => diff.nonce = nonce,
                Edit::Code(code) => {
                    let hash = if code.is_empty() {
                        KECCAK256_EMPTY
                    } else {
                        keccak256(&code)
                    };
                    diff.code_hash = hash.0;
                    if !code.is_empty() && !chain.state.has_code(&hash) {
                        diff.code = Some(code.to_vec());
                    }
                }
                Edit::Storage(slot, value) => {
                    diff.storage = vec![(slot.to_be_bytes(), value.0)];
                }
            }
            diff
        };
        producer.write(&[Record::Edit(EditRecord {
            diffs: vec![diff.clone()],
        })])?;
        self.chain.write().apply_edit(&[diff]);
        let mut pool = self.pool.lock();
        if !pool.queue.iter().any(|p| p.tx.sender == address) {
            // A new nonce is read from the state again.
            pool.next_nonce.remove(&address);
        }
        Ok(())
    }

    /// Takes a snapshot and returns its id (from 1).
    pub(crate) fn snapshot(&self) -> u64 {
        let producer = self.producer.lock();
        let mut chain = self.chain.write();
        let mut snapshots = self.snapshots.lock();
        snapshots.last += 1;
        let id = snapshots.last;
        let position = chain.history.position();
        chain.history.pin(id, position);
        snapshots.taken.insert(
            id,
            Snapshot {
                position,
                clock: chain.clock,
                log_len: producer.log.as_ref().map_or(0, |log| log.len()),
            },
        );
        id
    }

    /// Goes back to snapshot `id`: every block and edit since is undone, in memory and in the
    /// block log. The snapshot and every later one are used up. `false` if `id` is unknown.
    pub(crate) fn revert(&self, id: u64) -> Result<bool, crate::Error> {
        let mut producer = self.producer.lock();
        let mut snapshots = self.snapshots.lock();
        let Some(snapshot) = snapshots.taken.get(&id).copied() else {
            return Ok(false);
        };
        if let Some(log) = producer.log.as_mut() {
            log.truncate(snapshot.log_len)?;
        }
        {
            let mut chain = self.chain.write();
            chain.revert_to(snapshot.position, snapshot.clock);
            chain.history.unpin_from(id);
        }
        snapshots.taken.retain(|taken, _| *taken < id);
        let dropped: Vec<Pending> = {
            let mut pool = self.pool.lock();
            pool.next_nonce.clear();
            pool.hashes.clear();
            pool.future.clear();
            pool.future_count = 0;
            pool.queue.drain(..).collect()
        };
        for pending in dropped {
            if let Some(reply) = pending.reply {
                let _ = reply.send(Err(TxError::Rejected(
                    "the chain was reverted to a snapshot before it was mined".into(),
                )));
            }
        }
        Ok(true)
    }

    /// Mines `count` blocks at once (the queued transactions in the first), `interval`
    /// seconds apart after the first, in one durable write.
    pub(crate) fn mine_many(&self, count: u64, interval: Option<u64>) {
        if count == 0 {
            return;
        }
        // As anvil does: with an interval, the clock moves by it before every block, the first
        // one included, so the first block is an interval after its parent too.
        let first =
            interval.map(|seconds| self.chain.read().next_timestamp().saturating_add(seconds));
        self.mine_now(first);
        if count == 1 {
            return;
        }
        let mut producer = self.producer.lock();
        let sealed = {
            let chain = self.chain.read();
            let mut timestamp = chain.head().header.timestamp;
            let mut building = chain.batch();
            for _ in 1..count {
                if let Some(seconds) = interval {
                    timestamp = timestamp.saturating_add(seconds);
                    building.set_next_timestamp(timestamp);
                }
                building.mine_block(Vec::new(), true);
            }
            building.finish()
        };
        let blocks: Vec<_> = sealed
            .blocks
            .iter()
            .map(|(block, _)| block.clone())
            .collect();
        match producer.write(&sealed.records) {
            Ok(()) => self.chain.write().publish(sealed),
            Err(e) => {
                self.fail(&e);
                return;
            }
        }
        drop(producer);
        for block in blocks {
            let _ = self.heads.send(block);
        }
    }
}
