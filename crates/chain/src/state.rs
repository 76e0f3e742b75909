//! The world state, held in memory, and the per-block state diffs that persist it.

use std::{collections::HashMap, convert::Infallible};

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use revm::{
    DatabaseRef,
    bytecode::Bytecode,
    state::{AccountInfo, EvmState},
};
use serde::{Deserialize, Serialize};

/// One account of the world state.
#[derive(Clone, Debug, Default)]
pub(crate) struct AccountState {
    pub(crate) balance: U256,
    pub(crate) nonce: u64,
    pub(crate) code_hash: B256,
    pub(crate) storage: HashMap<U256, U256>,
}

/// Accounts, storage and code.
#[derive(Debug, Default)]
pub(crate) struct WorldState {
    accounts: HashMap<Address, AccountState>,
    code: HashMap<B256, Bytecode>,
}

/// The changes one transaction (or genesis) made to one account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct AccountDiff {
    pub(crate) address: [u8; 20],
    /// The account was destroyed: it and its storage are gone.
    pub(crate) destroyed: bool,
    /// The account's storage was wiped before `storage` applies (a new contract).
    pub(crate) storage_cleared: bool,
    pub(crate) balance: [u8; 32],
    pub(crate) nonce: u64,
    pub(crate) code_hash: [u8; 32],
    /// Code, present only when this diff introduces it.
    pub(crate) code: Option<Vec<u8>>,
    pub(crate) storage: Vec<([u8; 32], [u8; 32])>,
}

impl WorldState {
    pub(crate) fn balance(&self, address: &Address) -> U256 {
        self.accounts
            .get(address)
            .map(|a| a.balance)
            .unwrap_or_default()
    }

    pub(crate) fn nonce(&self, address: &Address) -> u64 {
        self.accounts
            .get(address)
            .map(|a| a.nonce)
            .unwrap_or_default()
    }

    /// Whether code with this hash is stored.
    pub(crate) fn has_code(&self, hash: &B256) -> bool {
        self.code.contains_key(hash)
    }

    pub(crate) fn storage(&self, address: &Address, slot: U256) -> U256 {
        self.accounts
            .get(address)
            .and_then(|a| a.storage.get(&slot).copied())
            .unwrap_or_default()
    }

    /// Sets a balance directly (genesis allocation), returning the diff that records it.
    pub(crate) fn fund(&mut self, address: Address, balance: U256) -> AccountDiff {
        let account = self
            .accounts
            .entry(address)
            .or_insert_with(|| AccountState {
                code_hash: KECCAK256_EMPTY,
                ..Default::default()
            });
        account.balance = balance;
        AccountDiff {
            address: address.into_array(),
            destroyed: false,
            storage_cleared: false,
            balance: balance.to_be_bytes(),
            nonce: account.nonce,
            code_hash: account.code_hash.0,
            code: None,
            storage: Vec::new(),
        }
    }

    /// Applies the diffs of one block and returns what they replaced: the block's [`Undo`],
    /// with which the state as it was before the block can be read.
    pub(crate) fn apply_recording(&mut self, diffs: &[AccountDiff]) -> Undo {
        let mut undo = Undo::default();
        for diff in diffs {
            let address = Address::from(diff.address);
            let current = self.accounts.get(&address);
            let before = undo.accounts.entry(address).or_insert_with(|| UndoAccount {
                before: current.map(|a| (a.balance, a.nonce, a.code_hash)),
                slots: HashMap::new(),
                all_storage: None,
            });
            if before.before.is_none() {
                // Nothing of it existed before the block: every slot read as zero.
                continue;
            }
            if diff.destroyed || diff.storage_cleared {
                if before.all_storage.is_none() {
                    // The storage before the block: the current one, with the slots this
                    // block changed already put back.
                    let mut all = current.map(|a| a.storage.clone()).unwrap_or_default();
                    for (slot, value) in before.slots.drain() {
                        if value.is_zero() {
                            all.remove(&slot);
                        } else {
                            all.insert(slot, value);
                        }
                    }
                    before.all_storage = Some(all);
                }
                continue;
            }
            if before.all_storage.is_some() {
                continue;
            }
            for (key, _) in &diff.storage {
                let slot = U256::from_be_bytes(*key);
                before.slots.entry(slot).or_insert_with(|| {
                    current
                        .and_then(|a| a.storage.get(&slot).copied())
                        .unwrap_or_default()
                });
            }
        }
        self.apply(diffs);
        undo
    }

    /// Puts back what a block (or an edit) replaced: the state as it was before it.
    pub(crate) fn undo(&mut self, undo: &Undo) {
        for (address, before) in &undo.accounts {
            let Some((balance, nonce, code_hash)) = before.before else {
                self.accounts.remove(address);
                continue;
            };
            let account = self.accounts.entry(*address).or_default();
            account.balance = balance;
            account.nonce = nonce;
            account.code_hash = code_hash;
            if let Some(all) = &before.all_storage {
                account.storage = all.clone();
            }
            for (slot, value) in &before.slots {
                if value.is_zero() {
                    account.storage.remove(slot);
                } else {
                    account.storage.insert(*slot, *value);
                }
            }
        }
    }

    /// The account's balance, nonce and code hash, for an edit that changes one of them.
    pub(crate) fn account_fields(&self, address: &Address) -> (U256, u64, B256) {
        self.accounts
            .get(address)
            .map(|a| (a.balance, a.nonce, a.code_hash))
            .unwrap_or((U256::ZERO, 0, KECCAK256_EMPTY))
    }

    /// Applies diffs, as produced by [`WorldState::diff`] or read back from the log.
    pub(crate) fn apply(&mut self, diffs: &[AccountDiff]) {
        for diff in diffs {
            let address = Address::from(diff.address);
            if diff.destroyed {
                self.accounts.remove(&address);
                continue;
            }
            let code_hash = B256::from(diff.code_hash);
            if let Some(code) = &diff.code {
                self.code
                    .entry(code_hash)
                    .or_insert_with(|| Bytecode::new_raw(Bytes::copy_from_slice(code)));
            }
            let account = self.accounts.entry(address).or_default();
            account.balance = U256::from_be_bytes(diff.balance);
            account.nonce = diff.nonce;
            account.code_hash = code_hash;
            if diff.storage_cleared {
                account.storage.clear();
            }
            for (key, value) in &diff.storage {
                let key = U256::from_be_bytes(*key);
                let value = U256::from_be_bytes(*value);
                if value.is_zero() {
                    account.storage.remove(&key);
                } else {
                    account.storage.insert(key, value);
                }
            }
        }
    }
}

/// What one block replaced in the state: for each account it touched, the account before the
/// block and the previous values of what it changed. The state as of an earlier block is the
/// head's, read through the undos of the blocks after it.
#[derive(Debug, Default)]
pub(crate) struct Undo {
    accounts: HashMap<Address, UndoAccount>,
}

#[derive(Debug)]
struct UndoAccount {
    /// Balance, nonce and code hash before the block; `None`: the account did not exist.
    before: Option<(U256, u64, B256)>,
    /// The previous values of the slots the block changed (zero for a slot that was empty).
    slots: HashMap<U256, U256>,
    /// The whole storage before the block, when the block wiped it (a destroyed or recreated
    /// account).
    all_storage: Option<HashMap<U256, U256>>,
}

impl Undo {
    /// What this block says of `address` before it: `None` if the block did not touch it.
    fn account(&self, address: &Address) -> Option<Option<(U256, u64, B256)>> {
        self.accounts.get(address).map(|a| a.before)
    }

    /// What this block says of a slot before it: `None` if the block did not change it.
    fn slot(&self, address: &Address, slot: &U256) -> Option<U256> {
        let account = self.accounts.get(address)?;
        if account.before.is_none() {
            return Some(U256::ZERO);
        }
        if let Some(all) = &account.all_storage {
            return Some(all.get(slot).copied().unwrap_or_default());
        }
        account.slots.get(slot).copied()
    }
}

/// Turns the state changes of one execution into diffs, without applying them.
pub(crate) fn diff(changes: &EvmState, known_code: impl Fn(&B256) -> bool) -> Vec<AccountDiff> {
    let mut diffs = Vec::with_capacity(changes.len());
    for (address, account) in changes {
        if !account.is_touched() {
            continue;
        }
        if account.is_selfdestructed() {
            diffs.push(AccountDiff {
                address: address.into_array(),
                destroyed: true,
                storage_cleared: true,
                balance: [0; 32],
                nonce: 0,
                code_hash: KECCAK256_EMPTY.0,
                code: None,
                storage: Vec::new(),
            });
            continue;
        }
        let info = &account.info;
        let code = match &info.code {
            Some(code) if !known_code(&info.code_hash) && !code.is_empty() => {
                Some(code.original_bytes().to_vec())
            }
            _ => None,
        };
        let mut storage: Vec<([u8; 32], [u8; 32])> = account
            .storage
            .iter()
            .filter(|(_, slot)| slot.is_changed())
            .map(|(key, slot)| (key.to_be_bytes(), slot.present_value().to_be_bytes()))
            .collect();
        storage.sort_unstable();
        diffs.push(AccountDiff {
            address: address.into_array(),
            destroyed: false,
            storage_cleared: account.is_created(),
            balance: info.balance.to_be_bytes(),
            nonce: info.nonce,
            code_hash: info.code_hash.0,
            code,
            storage,
        });
    }
    diffs.sort_unstable_by_key(|d| d.address);
    diffs
}

/// A digest of the whole state, used as the block's state root. It is not the Merkle
/// Patricia root of mainnet (see docs/decisions/0002-chain-storage.md).
pub(crate) fn digest_after(parent: B256, diffs: &[AccountDiff]) -> B256 {
    let mut buf = Vec::with_capacity(32 + diffs.len() * 96);
    buf.extend_from_slice(parent.as_slice());
    for d in diffs {
        buf.extend_from_slice(&d.address);
        buf.extend_from_slice(&d.balance);
        buf.extend_from_slice(&d.nonce.to_be_bytes());
        buf.extend_from_slice(&d.code_hash);
        buf.push(u8::from(d.destroyed) | (u8::from(d.storage_cleared) << 1));
        for (k, v) in &d.storage {
            buf.extend_from_slice(k);
            buf.extend_from_slice(v);
        }
    }
    keccak256(&buf)
}

/// Changes made by blocks that are built but not yet published, on top of the world state.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    /// `None`: the account was destroyed.
    accounts: HashMap<Address, Option<OverlayAccount>>,
    code: HashMap<B256, Bytecode>,
    block_hashes: Vec<B256>,
}

#[derive(Debug, Default)]
struct OverlayAccount {
    balance: U256,
    nonce: u64,
    code_hash: B256,
    /// Storage of the world state no longer shows through (a new contract).
    cleared: bool,
    /// Changed slots, zeros included.
    storage: HashMap<U256, U256>,
}

impl Overlay {
    pub(crate) fn has_code(&self, hash: &B256) -> bool {
        self.code.contains_key(hash)
    }

    pub(crate) fn push_block_hash(&mut self, hash: B256) {
        self.block_hashes.push(hash);
    }

    pub(crate) fn apply(&mut self, diffs: &[AccountDiff]) {
        for diff in diffs {
            let address = Address::from(diff.address);
            if diff.destroyed {
                self.accounts.insert(address, None);
                continue;
            }
            let code_hash = B256::from(diff.code_hash);
            if let Some(code) = &diff.code {
                self.code
                    .entry(code_hash)
                    .or_insert_with(|| Bytecode::new_raw(Bytes::copy_from_slice(code)));
            }
            let entry = self
                .accounts
                .entry(address)
                .or_insert_with(|| Some(OverlayAccount::default()));
            // An account recreated after its destruction starts with empty storage.
            let account = entry.get_or_insert_with(|| OverlayAccount {
                cleared: true,
                ..Default::default()
            });
            account.balance = U256::from_be_bytes(diff.balance);
            account.nonce = diff.nonce;
            account.code_hash = code_hash;
            if diff.storage_cleared {
                account.storage.clear();
                account.cleared = true;
            }
            for (key, value) in &diff.storage {
                account
                    .storage
                    .insert(U256::from_be_bytes(*key), U256::from_be_bytes(*value));
            }
        }
    }
}

/// The state as revm sees it during one execution: the world state, the overlay of the blocks
/// being built, and the block hashes.
#[derive(Debug)]
pub(crate) struct ExecDb<'a> {
    pub(crate) state: &'a WorldState,
    pub(crate) overlay: Option<&'a Overlay>,
    /// The undos of the changes after the block read, oldest first: empty to read the head.
    pub(crate) history: &'a [crate::chain::history::Entry],
    pub(crate) block_hashes: &'a [B256],
}

impl ExecDb<'_> {
    /// Balance, nonce and code hash of `address` (`None`: no such account).
    pub(crate) fn account(&self, address: &Address) -> Option<(U256, u64, B256)> {
        if let Some(overlay) = self.overlay.and_then(|o| o.accounts.get(address)) {
            return overlay.as_ref().map(|a| (a.balance, a.nonce, a.code_hash));
        }
        if let Some(before) = self.history.iter().find_map(|e| e.undo.account(address)) {
            return before;
        }
        self.state
            .accounts
            .get(address)
            .map(|a| (a.balance, a.nonce, a.code_hash))
    }

    pub(crate) fn balance(&self, address: &Address) -> U256 {
        self.account(address).map(|a| a.0).unwrap_or_default()
    }

    pub(crate) fn nonce(&self, address: &Address) -> u64 {
        self.account(address).map(|a| a.1).unwrap_or_default()
    }

    pub(crate) fn code_of(&self, address: &Address) -> Bytes {
        self.account(address)
            .and_then(|a| self.code(&a.2))
            .map(|c| c.original_bytes())
            .unwrap_or_default()
    }

    /// The value of a storage slot.
    pub(crate) fn slot(&self, address: &Address, index: U256) -> U256 {
        match self.overlay.and_then(|o| o.accounts.get(address)) {
            Some(None) => return U256::ZERO,
            Some(Some(a)) => {
                return match a.storage.get(&index) {
                    Some(value) => *value,
                    None if a.cleared => U256::ZERO,
                    None => self.state.storage(address, index),
                };
            }
            None => {}
        }
        self.history
            .iter()
            .find_map(|e| e.undo.slot(address, &index))
            .unwrap_or_else(|| self.state.storage(address, index))
    }

    fn code(&self, hash: &B256) -> Option<Bytecode> {
        self.overlay
            .and_then(|o| o.code.get(hash))
            .or_else(|| self.state.code.get(hash))
            .cloned()
    }
}

impl DatabaseRef for ExecDb<'_> {
    type Error = Infallible;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        let Some((balance, nonce, code_hash)) = self.account(&address) else {
            return Ok(None);
        };
        Ok(Some(AccountInfo {
            balance,
            nonce,
            code_hash,
            code: Some(self.code(&code_hash).unwrap_or_default()),
            ..Default::default()
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        Ok(self.code(&code_hash).unwrap_or_default())
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.slot(&address, index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        let Ok(number) = usize::try_from(number) else {
            return Ok(B256::ZERO);
        };
        let pending = self.overlay.map_or(&[][..], |o| &o.block_hashes[..]);
        Ok(match number.checked_sub(self.block_hashes.len()) {
            None => self.block_hashes[number],
            Some(i) => pending.get(i).copied().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Address = Address::repeat_byte(0xa);
    const B: Address = Address::repeat_byte(0xb);

    fn word(n: u64) -> [u8; 32] {
        U256::from(n).to_be_bytes()
    }

    fn diff(address: Address, balance: u64, storage: &[(u64, u64)]) -> AccountDiff {
        AccountDiff {
            address: address.into_array(),
            destroyed: false,
            storage_cleared: false,
            balance: word(balance),
            nonce: 1,
            code_hash: KECCAK256_EMPTY.0,
            code: None,
            storage: storage.iter().map(|(k, v)| (word(*k), word(*v))).collect(),
        }
    }

    fn read<'a>(state: &'a WorldState, history: &'a [crate::chain::history::Entry]) -> ExecDb<'a> {
        ExecDb {
            state,
            overlay: None,
            history,
            block_hashes: &[],
        }
    }

    #[test]
    fn undos_read_back_every_earlier_state_through_rewrites_wipes_and_destruction() {
        let mut state = WorldState::default();
        let mut undos = Vec::new();
        let entry = |block: u64, undo: Undo| crate::chain::history::Entry {
            block,
            edit: false,
            undo,
        };
        // Block 1: A gets slots 1 and 2.
        undos.push(entry(
            1,
            state.apply_recording(&[diff(A, 10, &[(1, 11), (2, 12)])]),
        ));
        // Block 2: slot 1 changed twice in one block, B created.
        undos.push(entry(
            2,
            state.apply_recording(&[
                diff(A, 20, &[(1, 21)]),
                diff(A, 21, &[(1, 22), (3, 23)]),
                diff(B, 5, &[(9, 99)]),
            ]),
        ));
        // Block 3: slot 2 changed, then A's storage wiped (recreated) with slot 4 only.
        let mut wiped = diff(A, 30, &[(4, 34)]);
        wiped.storage_cleared = true;
        undos.push(entry(
            3,
            state.apply_recording(&[diff(A, 29, &[(2, 32)]), wiped]),
        ));
        // Block 4: B destroyed.
        let mut gone = diff(B, 0, &[]);
        gone.destroyed = true;
        undos.push(entry(4, state.apply_recording(&[gone])));

        let slots = |db: &ExecDb<'_>, a: Address| -> Vec<u64> {
            (1..=4u64)
                .map(|k| db.slot(&a, U256::from(k)).to::<u64>())
                .collect()
        };
        // Block n's state is the head's read through the undos of blocks n+1..=4.
        let at = |n: usize| read(&state, &undos[n..]);
        assert_eq!(at(0).account(&A), None, "genesis: A did not exist");
        assert_eq!(slots(&at(0), A), [0, 0, 0, 0]);
        assert_eq!(at(1).balance(&A), U256::from(10));
        assert_eq!(slots(&at(1), A), [11, 12, 0, 0]);
        assert_eq!(at(1).account(&B), None);
        assert_eq!(
            slots(&at(2), A),
            [22, 12, 23, 0],
            "the last write of block 2"
        );
        assert_eq!(at(2).balance(&A), U256::from(21));
        assert_eq!(at(2).slot(&B, U256::from(9)), U256::from(99));
        assert_eq!(slots(&at(3), A), [0, 0, 0, 34], "wiped, then slot 4");
        assert_eq!(at(3).slot(&B, U256::from(9)), U256::from(99));
        assert_eq!(at(4).account(&B), None, "destroyed at the head");
        assert_eq!(at(4).slot(&B, U256::from(9)), U256::ZERO);
        assert_eq!(slots(&at(4), A), slots(&at(3), A));
        // Undoing the blocks newest first gives each earlier state back, in the state itself.
        let before: Vec<_> = (0..4)
            .map(|n| {
                let db = at(n);
                (slots(&db, A), db.balance(&A), db.slot(&B, U256::from(9)))
            })
            .collect();
        for n in (0..4).rev() {
            let (expected, balance, b9) = before[n].clone();
            state.undo(&undos[n].undo);
            let now = read(&state, &[]);
            assert_eq!(slots(&now, A), expected, "state {n}");
            assert_eq!(now.balance(&A), balance);
            assert_eq!(now.slot(&B, U256::from(9)), b9);
        }
        assert!(state.accounts.is_empty());
    }
}
