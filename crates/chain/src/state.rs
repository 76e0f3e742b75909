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

    pub(crate) fn code(&self, address: &Address) -> Bytes {
        self.accounts
            .get(address)
            .and_then(|a| self.code.get(&a.code_hash))
            .map(|c| c.original_bytes())
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
    pub(crate) block_hashes: &'a [B256],
}

impl ExecDb<'_> {
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
        let (balance, nonce, code_hash) = match self.overlay.and_then(|o| o.accounts.get(&address))
        {
            Some(None) => return Ok(None),
            Some(Some(a)) => (a.balance, a.nonce, a.code_hash),
            None => match self.state.accounts.get(&address) {
                Some(a) => (a.balance, a.nonce, a.code_hash),
                None => return Ok(None),
            },
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
        match self.overlay.and_then(|o| o.accounts.get(&address)) {
            Some(None) => Ok(U256::ZERO),
            Some(Some(a)) => match a.storage.get(&index) {
                Some(value) => Ok(*value),
                None if a.cleared => Ok(U256::ZERO),
                None => Ok(self.state.storage(&address, index)),
            },
            None => Ok(self.state.storage(&address, index)),
        }
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
