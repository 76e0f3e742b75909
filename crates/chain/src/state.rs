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

    /// Turns the state changes of one execution into diffs, without applying them.
    pub(crate) fn diff(&self, changes: &EvmState) -> Vec<AccountDiff> {
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
                Some(code) if !self.code.contains_key(&info.code_hash) && !code.is_empty() => {
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

    /// A digest of the whole state, used as the block's state root. It is not the Merkle
    /// Patricia root of mainnet (see docs/decisions/0002-chain-storage.md).
    pub(crate) fn digest_after(&self, parent: B256, diffs: &[AccountDiff]) -> B256 {
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
}

/// The state as revm sees it during one execution: the world state plus the block hashes.
#[derive(Debug)]
pub(crate) struct ExecDb<'a> {
    pub(crate) state: &'a WorldState,
    pub(crate) block_hashes: &'a [B256],
}

impl DatabaseRef for ExecDb<'_> {
    type Error = Infallible;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.state.accounts.get(&address).map(|a| {
            let code = self.state.code.get(&a.code_hash).cloned();
            AccountInfo {
                balance: a.balance,
                nonce: a.nonce,
                code_hash: a.code_hash,
                code: Some(code.unwrap_or_default()),
                ..Default::default()
            }
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        Ok(self.state.code.get(&code_hash).cloned().unwrap_or_default())
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.state.storage(&address, index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        Ok(usize::try_from(number)
            .ok()
            .and_then(|n| self.block_hashes.get(n).copied())
            .unwrap_or_default())
    }
}
