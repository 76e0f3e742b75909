//! The chain itself: blocks, transactions, receipts, state, and the rules for adding to them.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use alloy_consensus::{
    EMPTY_OMMER_ROOT_HASH, Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom,
    Transaction as _, TxEnvelope, TxType, constants::EMPTY_WITHDRAWALS,
    transaction::SignerRecoverable,
};
use alloy_eips::{eip2718::Decodable2718, eip7685::EMPTY_REQUESTS_HASH};
use alloy_primitives::{Address, B256, Bloom, Bytes, Log, TxKind, U256, keccak256};
use alloy_rlp::{Decodable, Encodable};
use revm::{
    Context, ExecuteEvm, MainBuilder, MainContext,
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::block::BlobExcessGasAndPrice,
    context_interface::{
        cfg::gas::calculate_initial_tx_gas_for_tx,
        result::{EVMError, ExecutionResult, InvalidTransaction},
    },
    primitives::hardfork::SpecId,
};

mod batch;
pub(crate) mod history;
mod trace;
pub(crate) use trace::TraceError;

use crate::{
    error::{Error, Result, TxError},
    state::{AccountDiff, ExecDb, WorldState},
    store::{BlockLog, ClockRecord, GenesisRecord, Record, TxRecord},
};
use history::History;

/// Largest signed transaction accepted (go-ethereum's limit).
pub(crate) const MAX_TX_SIZE: usize = 128 * 1024;

/// A signed transaction with its recovered sender.
#[derive(Debug, Clone)]
pub(crate) struct SignedTx {
    pub(crate) envelope: TxEnvelope,
    pub(crate) hash: B256,
    pub(crate) sender: Address,
    pub(crate) raw: Bytes,
}

impl SignedTx {
    /// Decodes an EIP-2718 transaction and recovers its sender.
    pub(crate) fn decode(raw: &[u8]) -> Result<Self, TxError> {
        if raw.len() > MAX_TX_SIZE {
            return Err(TxError::Oversized {
                size: raw.len(),
                limit: MAX_TX_SIZE,
            });
        }
        if raw.is_empty() {
            return Err(TxError::Decode("empty input".into()));
        }
        if raw[0] < 0x7f && raw[0] > 2 {
            return Err(TxError::UnsupportedType(raw[0]));
        }
        let mut buf = raw;
        let envelope =
            TxEnvelope::decode_2718(&mut buf).map_err(|e| TxError::Decode(e.to_string()))?;
        if !buf.is_empty() {
            return Err(TxError::Decode(format!(
                "{} trailing bytes after the transaction",
                buf.len()
            )));
        }
        match envelope.tx_type() {
            TxType::Legacy | TxType::Eip2930 | TxType::Eip1559 => {}
            other => return Err(TxError::UnsupportedType(other as u8)),
        }
        let sender = envelope
            .recover_signer()
            .map_err(|_| TxError::InvalidSignature)?;
        let hash = *envelope.tx_hash();
        Ok(Self {
            envelope,
            hash,
            sender,
            raw: Bytes::copy_from_slice(raw),
        })
    }

    fn from_record(record: &TxRecord) -> std::result::Result<Self, String> {
        let envelope =
            TxEnvelope::decode_2718(&mut record.raw.as_slice()).map_err(|e| e.to_string())?;
        Ok(Self {
            envelope,
            hash: B256::from(record.hash),
            sender: Address::from(record.sender),
            raw: Bytes::copy_from_slice(&record.raw),
        })
    }

    fn to_tx_env(&self) -> TxEnv {
        let tx = &self.envelope;
        let mut env = TxEnv {
            tx_type: tx.tx_type() as u8,
            caller: self.sender,
            gas_limit: tx.gas_limit(),
            gas_price: tx.max_fee_per_gas(),
            kind: tx.kind(),
            value: tx.value(),
            data: tx.input().clone(),
            nonce: tx.nonce(),
            chain_id: tx.chain_id(),
            gas_priority_fee: tx.max_priority_fee_per_gas(),
            ..Default::default()
        };
        if let Some(list) = tx.access_list() {
            env.access_list = list.clone();
        }
        env
    }
}

/// The receipt of a mined transaction.
#[derive(Debug, Clone)]
pub(crate) struct MinedReceipt {
    pub(crate) success: bool,
    pub(crate) gas_used: u64,
    pub(crate) cumulative_gas_used: u64,
    pub(crate) effective_gas_price: u128,
    pub(crate) contract_address: Option<Address>,
    pub(crate) logs: Vec<Log>,
    /// Index in the block of this transaction's first log.
    pub(crate) first_log_index: u64,
    pub(crate) output: Bytes,
}

impl MinedReceipt {
    pub(crate) fn envelope(&self, ty: TxType) -> ReceiptEnvelope<Log> {
        let receipt = Receipt {
            status: Eip658Value::Eip658(self.success),
            cumulative_gas_used: self.cumulative_gas_used,
            logs: self.logs.clone(),
        };
        let with_bloom = ReceiptWithBloom::from(receipt);
        match ty {
            TxType::Legacy => ReceiptEnvelope::Legacy(with_bloom),
            TxType::Eip2930 => ReceiptEnvelope::Eip2930(with_bloom),
            TxType::Eip4844 => ReceiptEnvelope::Eip4844(with_bloom),
            TxType::Eip7702 => ReceiptEnvelope::Eip7702(with_bloom),
            TxType::Eip1559 => ReceiptEnvelope::Eip1559(with_bloom),
        }
    }
}

/// A mined block.
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) header: Header,
    pub(crate) hash: B256,
    pub(crate) txs: Vec<SignedTx>,
    pub(crate) receipts: Vec<MinedReceipt>,
    pub(crate) size: u64,
}

impl Block {
    pub(crate) fn number(&self) -> u64 {
        self.header.number
    }
}

/// Fixed parameters of the chain, recorded at genesis.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    pub(crate) chain_id: u64,
    pub(crate) spec: SpecId,
    pub(crate) base_fee: u64,
    pub(crate) block_gas_limit: u64,
}

/// What a call runs with ([`Chain::prepare_call`]).
pub(crate) struct Prepared<'a> {
    pub(crate) cfg: CfgEnv,
    pub(crate) block: BlockEnv,
    pub(crate) tx: TxEnv,
    pub(crate) db: ExecDb<'a>,
}

/// A call that is executed but not mined (`eth_call`, `eth_estimateGas`).
#[derive(Debug, Clone, Default)]
pub(crate) struct CallRequest {
    pub(crate) from: Option<Address>,
    pub(crate) to: Option<Address>,
    pub(crate) gas: Option<u64>,
    pub(crate) gas_price: Option<u128>,
    pub(crate) max_fee_per_gas: Option<u128>,
    pub(crate) max_priority_fee_per_gas: Option<u128>,
    pub(crate) value: Option<U256>,
    pub(crate) input: Bytes,
    pub(crate) nonce: Option<u64>,
    pub(crate) access_list: Option<alloy_eips::eip2930::AccessList>,
    /// Run in the context of the next block instead of the head's.
    pub(crate) pending: bool,
    /// Run on the state and in the context of this earlier block instead of the head's.
    pub(crate) at: Option<u64>,
    /// Accounts changed for this call only (`eth_call`'s third parameter).
    pub(crate) overrides: Option<alloy_rpc_types_eth::state::StateOverride>,
}

/// Why an `eth_call` did not return data.
#[derive(Debug, Clone)]
pub(crate) enum CallError {
    /// The call reverted with these bytes.
    Revert(Bytes),
    /// The call halted (out of gas, invalid opcode, ...).
    Halt(String),
    /// The call is not a valid transaction (insufficient funds, gas above the limit, ...).
    Invalid(String),
}

/// The outcome of executing one transaction in a block.
#[derive(Debug)]
pub(crate) struct Executed {
    pub(crate) receipt: MinedReceipt,
    pub(crate) diffs: Vec<AccountDiff>,
}

/// Blocks, state and indexes.
#[derive(Debug)]
pub(crate) struct Chain {
    pub(crate) params: Params,
    pub(crate) state: WorldState,
    pub(crate) blocks: Vec<Arc<Block>>,
    pub(crate) block_hashes: Vec<B256>,
    pub(crate) block_by_hash: HashMap<B256, u64>,
    pub(crate) tx_by_hash: HashMap<B256, (u64, usize)>,
    pub(crate) clock: ClockRecord,
    /// The undos of the recent blocks and edits (see [`Chain::state_at`]).
    pub(crate) history: History,
}

/// Why the state of a block cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StateAtError {
    /// The block does not exist yet.
    NotFound { number: u64, head: u64 },
    /// The block is older than the window of kept states.
    Pruned { number: u64, head: u64, kept: u64 },
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl Chain {
    fn empty(params: Params, state: WorldState) -> Self {
        Self {
            params,
            state,
            blocks: Vec::new(),
            block_hashes: Vec::new(),
            block_by_hash: HashMap::new(),
            tx_by_hash: HashMap::new(),
            clock: ClockRecord {
                offset: 0,
                next_timestamp: None,
            },
            history: History::new(Some(0)),
        }
    }

    /// Keeps the states of the last `limit` blocks (`None`: every block).
    pub(crate) fn keep_history(&mut self, limit: Option<usize>) {
        self.history.set_limit(limit);
    }

    /// Applies block `number`'s diffs to the state, keeping its undo if the window wants it.
    pub(crate) fn apply_block_diffs(&mut self, number: u64, diffs: &[AccountDiff]) {
        if self.history.records() {
            let undo = self.state.apply_recording(diffs);
            self.history.push_block(number, undo);
        } else {
            self.state.apply(diffs);
            self.history.skip_block(number);
        }
    }

    /// Applies a direct edit of the state (`anvil_setBalance` and friends) on the head.
    pub(crate) fn apply_edit(&mut self, diffs: &[AccountDiff]) {
        if self.history.records() {
            let undo = self.state.apply_recording(diffs);
            let head = self.head_number();
            self.history.push_edit(head, undo);
        } else {
            self.state.apply(diffs);
        }
    }

    /// Goes back to history position `position` (a snapshot's): every later block and edit
    /// is undone, the blocks removed from the indexes, and the clock set back.
    pub(crate) fn revert_to(&mut self, position: u64, clock: ClockRecord) {
        for entry in self.history.take_from(position) {
            self.state.undo(&entry.undo);
            if !entry.edit
                && let Some(block) = self.blocks.pop()
            {
                self.block_hashes.pop();
                self.block_by_hash.remove(&block.hash);
                for tx in &block.txs {
                    self.tx_by_hash.remove(&tx.hash);
                }
            }
        }
        self.clock = clock;
    }

    /// The state as of block `number` (the head's, or an earlier one inside the window).
    pub(crate) fn state_at(&self, number: u64) -> Result<ExecDb<'_>, StateAtError> {
        let history = self.history.since(number, self.head_number())?;
        Ok(ExecDb {
            state: &self.state,
            overlay: None,
            history,
            block_hashes: &self.block_hashes,
        })
    }

    /// Creates a new chain with `alloc` funded at genesis.
    pub(crate) fn create(
        params: Params,
        alloc: &[(Address, U256)],
        log: Option<&mut BlockLog>,
    ) -> Result<Self> {
        let mut state = WorldState::default();
        let diffs: Vec<AccountDiff> = alloc
            .iter()
            .map(|(address, balance)| state.fund(*address, *balance))
            .collect();
        let state_root = crate::state::digest_after(B256::ZERO, &diffs);
        let header = Self::header_template(&params, B256::ZERO, 0, now_secs(), state_root);
        let hash = header.hash_slow();
        let mut chain = Self::empty(params, state);
        let mut header_rlp = Vec::new();
        header.encode(&mut header_rlp);
        if let Some(log) = log {
            log.append(&Record::Genesis(GenesisRecord {
                chain_id: params.chain_id,
                hardfork: params.spec as u8,
                base_fee: params.base_fee,
                block_gas_limit: params.block_gas_limit,
                header_rlp,
                hash: hash.0,
                alloc: diffs,
            }));
            log.commit()?;
        }
        chain.push_block(Arc::new(Block {
            size: block_size(header.length(), &[], params.spec),
            header,
            hash,
            txs: Vec::new(),
            receipts: Vec::new(),
        }));
        Ok(chain)
    }

    /// Rebuilds a chain from the records of its log.
    pub(crate) fn replay(
        records: Vec<Record>,
        path: &std::path::Path,
        history: Option<usize>,
    ) -> Result<Self> {
        let corrupt = |reason: String| Error::Corrupt {
            path: path.to_path_buf(),
            offset: 0,
            reason,
        };
        // Undos are recorded only for the blocks the window keeps: the last `history`.
        let blocks = records
            .iter()
            .filter(|r| matches!(r, Record::Block(_)))
            .count();
        let recorded_from = history.map_or(0, |n| blocks.saturating_sub(n)) as u64 + 1;
        let mut records = records.into_iter();
        let Some(Record::Genesis(genesis)) = records.next() else {
            return Err(corrupt("the first record is not the genesis".into()));
        };
        let spec = SpecId::try_from_u8(genesis.hardfork)
            .ok_or_else(|| corrupt(format!("unknown hardfork id {}", genesis.hardfork)))?;
        let params = Params {
            chain_id: genesis.chain_id,
            spec,
            base_fee: genesis.base_fee,
            block_gas_limit: genesis.block_gas_limit,
        };
        let mut state = WorldState::default();
        state.apply(&genesis.alloc);
        let header = Header::decode(&mut genesis.header_rlp.as_slice())
            .map_err(|e| corrupt(format!("genesis header: {e}")))?;
        let mut chain = Self::empty(params, state);
        chain.history = History::new(history);
        chain.push_block(Arc::new(Block {
            size: block_size(genesis.header_rlp.len(), &[], spec),
            header,
            hash: B256::from(genesis.hash),
            txs: Vec::new(),
            receipts: Vec::new(),
        }));
        for record in records {
            match record {
                Record::Genesis(_) => return Err(corrupt("a second genesis record".into())),
                Record::Clock(clock) => chain.clock = clock,
                Record::Edit(edit) => {
                    if chain.head_number() + 1 >= recorded_from {
                        chain.apply_edit(&edit.diffs);
                    } else {
                        chain.state.apply(&edit.diffs);
                    }
                }
                Record::Block(block) => {
                    let header = Header::decode(&mut block.header_rlp.as_slice())
                        .map_err(|e| corrupt(format!("block header: {e}")))?;
                    if header.number != chain.blocks.len() as u64 {
                        return Err(corrupt(format!(
                            "block {} follows block {}",
                            header.number,
                            chain.blocks.len() - 1
                        )));
                    }
                    let mut txs = Vec::with_capacity(block.txs.len());
                    for tx in &block.txs {
                        txs.push(
                            SignedTx::from_record(tx)
                                .map_err(|e| corrupt(format!("transaction: {e}")))?,
                        );
                    }
                    let mut receipts = Vec::with_capacity(block.receipts.len());
                    let mut log_index = 0u64;
                    for r in block.receipts {
                        let logs: Vec<Log> = r
                            .logs
                            .into_iter()
                            .map(|l| {
                                Log::new_unchecked(
                                    Address::from(l.address),
                                    l.topics.into_iter().map(B256::from).collect(),
                                    l.data.into(),
                                )
                            })
                            .collect();
                        let first_log_index = log_index;
                        log_index += logs.len() as u64;
                        receipts.push(MinedReceipt {
                            success: r.success,
                            gas_used: r.gas_used,
                            cumulative_gas_used: r.cumulative_gas_used,
                            effective_gas_price: r.effective_gas_price,
                            contract_address: r.contract_address.map(Address::from),
                            logs,
                            first_log_index,
                            output: r.output.into(),
                        });
                    }
                    if header.number >= recorded_from {
                        chain.apply_block_diffs(header.number, &block.diffs);
                    } else {
                        chain.state.apply(&block.diffs);
                        chain.history.start_at(header.number);
                    }
                    chain.push_block(Arc::new(Block {
                        size: block_size(block.header_rlp.len(), &txs, spec),
                        header,
                        hash: B256::from(block.hash),
                        txs,
                        receipts,
                    }));
                }
            }
        }
        Ok(chain)
    }

    fn header_template(
        params: &Params,
        parent: B256,
        number: u64,
        timestamp: u64,
        state_root: B256,
    ) -> Header {
        let spec = params.spec;
        Header {
            parent_hash: parent,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: Address::ZERO,
            state_root,
            transactions_root: alloy_trie_empty_root(),
            receipts_root: alloy_trie_empty_root(),
            logs_bloom: Bloom::ZERO,
            difficulty: U256::ZERO,
            number,
            gas_limit: params.block_gas_limit,
            gas_used: 0,
            timestamp,
            extra_data: Bytes::new(),
            mix_hash: keccak256(parent),
            nonce: Default::default(),
            base_fee_per_gas: spec
                .is_enabled_in(SpecId::LONDON)
                .then_some(params.base_fee),
            withdrawals_root: spec
                .is_enabled_in(SpecId::SHANGHAI)
                .then_some(EMPTY_WITHDRAWALS),
            blob_gas_used: spec.is_enabled_in(SpecId::CANCUN).then_some(0),
            excess_blob_gas: spec.is_enabled_in(SpecId::CANCUN).then_some(0),
            parent_beacon_block_root: spec.is_enabled_in(SpecId::CANCUN).then_some(B256::ZERO),
            requests_hash: spec
                .is_enabled_in(SpecId::PRAGUE)
                .then_some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        }
    }

    fn push_block(&mut self, block: Arc<Block>) {
        let number = block.number();
        for (i, tx) in block.txs.iter().enumerate() {
            self.tx_by_hash.insert(tx.hash, (number, i));
        }
        self.block_by_hash.insert(block.hash, number);
        self.block_hashes.push(block.hash);
        self.blocks.push(block);
    }

    pub(crate) fn head(&self) -> &Arc<Block> {
        match self.blocks.last() {
            Some(block) => block,
            None => unreachable!("a chain always has its genesis block"),
        }
    }

    pub(crate) fn head_number(&self) -> u64 {
        self.head().number()
    }

    /// Timestamp the next block gets.
    pub(crate) fn next_timestamp(&self) -> u64 {
        self.timestamp_after(self.head().header.timestamp, &self.clock)
    }

    /// Timestamp of a block whose parent has `parent` as timestamp, under `clock`.
    pub(crate) fn timestamp_after(&self, parent: u64, clock: &ClockRecord) -> u64 {
        if let Some(ts) = clock.next_timestamp {
            return ts.max(parent);
        }
        now_secs().saturating_add_signed(clock.offset).max(parent)
    }

    /// Moves the clock forward by `seconds` and returns the total offset.
    pub(crate) fn increase_time(&mut self, seconds: u64) -> i64 {
        let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
        self.clock.offset = self.clock.offset.saturating_add(seconds);
        self.clock.offset
    }

    /// Sets the timestamp of the next block; later blocks continue from it.
    pub(crate) fn set_next_timestamp(&mut self, timestamp: u64) {
        self.clock.next_timestamp = Some(timestamp);
        self.clock.offset = i64::try_from(timestamp).unwrap_or(i64::MAX) - now_secs() as i64;
    }

    pub(crate) fn block_env(&self, number: u64, timestamp: u64, mix_hash: B256) -> BlockEnv {
        BlockEnv {
            number: U256::from(number),
            beneficiary: Address::ZERO,
            timestamp: U256::from(timestamp),
            gas_limit: self.params.block_gas_limit,
            basefee: self.params.base_fee,
            difficulty: U256::ZERO,
            prevrandao: Some(mix_hash),
            blob_excess_gas_and_price: self
                .params
                .spec
                .is_enabled_in(SpecId::CANCUN)
                .then(|| BlobExcessGasAndPrice::new_with_spec(0, self.params.spec)),
            ..Default::default()
        }
    }

    fn cfg(&self) -> CfgEnv {
        let mut cfg = CfgEnv::new_with_spec(self.params.spec);
        cfg.chain_id = self.params.chain_id;
        cfg
    }

    /// Checks a transaction against the head state before it is queued. `next_nonce` is the
    /// sender's next nonce counting the transactions already queued.
    pub(crate) fn validate(&self, tx: &SignedTx, next_nonce: u64) -> Result<(), TxError> {
        let envelope = &tx.envelope;
        if let Some(chain_id) = envelope.chain_id()
            && chain_id != self.params.chain_id
        {
            return Err(TxError::WrongChainId {
                got: chain_id,
                expected: self.params.chain_id,
            });
        }
        // A transaction already mined is refused by its nonce (`nonce too low`), as go-ethereum
        // and anvil do; only one still waiting in the pool is `already known`.
        let gas = envelope.gas_limit();
        if gas > self.params.block_gas_limit {
            return Err(TxError::GasLimit {
                gas,
                limit: self.params.block_gas_limit,
            });
        }
        let env = tx.to_tx_env();
        let initial = calculate_initial_tx_gas_for_tx(&env, self.params.spec, None);
        let needed =
            (initial.initial_regular_gas + initial.initial_state_gas).max(initial.floor_gas);
        if gas < needed {
            return Err(TxError::IntrinsicGas { gas, needed });
        }
        let max_fee = envelope.max_fee_per_gas();
        if let Some(tip) = envelope.max_priority_fee_per_gas()
            && tip > max_fee
        {
            return Err(TxError::TipAboveFeeCap { tip, cap: max_fee });
        }
        if max_fee < u128::from(self.params.base_fee) {
            return Err(TxError::FeeCapTooLow {
                max_fee,
                base_fee: self.params.base_fee,
            });
        }
        let nonce = envelope.nonce();
        if nonce < next_nonce {
            return Err(TxError::NonceTooLow {
                expected: next_nonce,
                got: nonce,
            });
        }
        if nonce > next_nonce {
            return Err(TxError::NonceTooHigh {
                expected: next_nonce,
                got: nonce,
            });
        }
        let want = U256::from(gas) * U256::from(max_fee) + envelope.value();
        let have = self.state.balance(&tx.sender);
        if have < want {
            return Err(TxError::InsufficientFunds {
                sender: tx.sender,
                have,
                want,
            });
        }
        Ok(())
    }

    /// Executes a call against the head state without changing it.
    pub(crate) fn call(
        &self,
        request: &CallRequest,
        gas_cap: Option<u64>,
    ) -> Result<(Bytes, u64), CallError> {
        let Prepared { cfg, block, tx, db } = self.prepare_call(request, gas_cap)?;
        let Some(overrides) = &request.overrides else {
            let mut evm = Context::mainnet()
                .with_cfg(cfg)
                .with_block(block)
                .with_ref_db(db)
                .build_mainnet();
            return call_outcome(evm.transact(tx).map(|r| r.result));
        };
        let mut cache =
            revm::database::CacheDB::new(revm::database_interface::WrapDatabaseRef(&db));
        for (address, account) in overrides {
            let (balance, nonce, code_hash) =
                db.account(address)
                    .unwrap_or((U256::ZERO, 0, alloy_primitives::KECCAK256_EMPTY));
            let code = match &account.code {
                Some(code) => revm::bytecode::Bytecode::new_raw(code.clone()),
                None => revm::DatabaseRef::code_by_hash_ref(&db, code_hash).unwrap_or_default(),
            };
            let info = revm::state::AccountInfo {
                balance: account.balance.unwrap_or(balance),
                nonce: account.nonce.unwrap_or(nonce),
                code_hash: code.hash_slow(),
                code: Some(code),
                ..Default::default()
            };
            cache.insert_account_info(*address, info);
            if let Some(state) = &account.state {
                let slots = state
                    .iter()
                    .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)))
                    .collect();
                let _ = cache.replace_account_storage(*address, slots);
            }
            if let Some(diff) = &account.state_diff {
                for (k, v) in diff {
                    let _ = cache.insert_account_storage(
                        *address,
                        U256::from_be_bytes(k.0),
                        U256::from_be_bytes(v.0),
                    );
                }
            }
        }
        let mut evm = Context::mainnet()
            .with_cfg(cfg)
            .with_block(block)
            .with_db(&mut cache)
            .build_mainnet();
        call_outcome(evm.transact(tx).map(|r| r.result))
    }

    /// What a call runs with: the configuration, the block context, the transaction and the
    /// state (the head's, the next block's for `pending`, or an earlier block's).
    pub(crate) fn prepare_call(
        &self,
        request: &CallRequest,
        gas_cap: Option<u64>,
    ) -> Result<Prepared<'_>, CallError> {
        // "latest" runs in the head block's context, as go-ethereum and anvil do; "pending" in
        // the next block's, as the transaction would.
        let head = &self.head().header;
        let past = request
            .at
            .filter(|n| *n < head.number)
            .and_then(|n| self.block(n));
        let env = if let Some(block) = past {
            let header = &block.header;
            self.block_env(header.number, header.timestamp, header.mix_hash)
        } else if request.pending {
            self.block_env(
                head.number + 1,
                self.next_timestamp(),
                keccak256(self.head().hash),
            )
        } else {
            self.block_env(head.number, head.timestamp, head.mix_hash)
        };
        let db = self
            .state_at(past.map_or(head.number, |block| block.number()))
            .map_err(|e| CallError::Invalid(format!("{e:?}")))?;
        let from = request.from.unwrap_or_default();
        let gas_limit = gas_cap
            .or(request.gas)
            .unwrap_or(self.params.block_gas_limit);
        let gas_price = request.gas_price.or(request.max_fee_per_gas).unwrap_or(0);
        let tx_type =
            if request.max_fee_per_gas.is_some() || request.max_priority_fee_per_gas.is_some() {
                2
            } else if request.access_list.is_some() {
                1
            } else {
                0
            };
        let tx = TxEnv {
            tx_type,
            caller: from,
            gas_limit,
            gas_price,
            kind: request.to.map_or(TxKind::Create, TxKind::Call),
            value: request.value.unwrap_or_default(),
            data: request.input.clone(),
            nonce: request.nonce.unwrap_or_else(|| db.nonce(&from)),
            chain_id: Some(self.params.chain_id),
            access_list: request.access_list.clone().unwrap_or_default(),
            gas_priority_fee: request.max_priority_fee_per_gas.filter(|_| tx_type == 2),
            ..Default::default()
        };
        let mut cfg = self.cfg();
        cfg.disable_nonce_check = true;
        cfg.disable_base_fee = true;
        Ok(Prepared {
            cfg,
            block: env,
            tx,
            db,
        })
    }
}

/// A call's outcome as `eth_call` reports it: the output and gas used, or why not.
pub(crate) fn call_outcome<E: std::fmt::Display, H: std::fmt::Debug>(
    result: std::result::Result<ExecutionResult<H>, EVMError<E, InvalidTransaction>>,
) -> std::result::Result<(Bytes, u64), CallError> {
    match result {
        Ok(result) => match result {
            ExecutionResult::Success { gas, output, .. } => {
                Ok((output.into_data(), gas.tx_gas_used()))
            }
            ExecutionResult::Revert { output, .. } => Err(CallError::Revert(output)),
            ExecutionResult::Halt { reason, .. } => Err(CallError::Halt(format!("{reason:?}"))),
        },
        Err(EVMError::Transaction(e)) => Err(CallError::Invalid(e.to_string())),
        Err(e) => Err(CallError::Invalid(e.to_string())),
    }
}

impl Chain {
    /// Finds the smallest gas limit with which the call succeeds.
    pub(crate) fn estimate_gas(&self, request: &CallRequest) -> Result<u64, CallError> {
        let cap = request
            .gas
            .unwrap_or(self.params.block_gas_limit)
            .min(self.params.block_gas_limit);
        let (_, used) = self.call(request, Some(cap))?;
        // The gas used is a lower bound; most calls succeed with it or a little more (the
        // 63/64 rule and refunds). Search between it and the cap.
        let mut low = used.saturating_sub(1);
        let mut high = cap;
        let optimistic = (used + 2_300 + used / 63 * 2).min(cap);
        if self.call(request, Some(optimistic)).is_ok() {
            high = optimistic;
        } else {
            low = optimistic;
        }
        while low + 1 < high {
            let mid = low + (high - low) / 2;
            if self.call(request, Some(mid)).is_ok() {
                high = mid;
            } else {
                low = mid;
            }
        }
        Ok(high)
    }

    pub(crate) fn block(&self, number: u64) -> Option<&Arc<Block>> {
        usize::try_from(number)
            .ok()
            .and_then(|n| self.blocks.get(n))
    }

    pub(crate) fn block_by_hash(&self, hash: &B256) -> Option<&Arc<Block>> {
        self.block_by_hash.get(hash).and_then(|n| self.block(*n))
    }

    pub(crate) fn transaction(&self, hash: &B256) -> Option<(&Arc<Block>, usize)> {
        let (number, index) = self.tx_by_hash.get(hash)?;
        Some((self.block(*number)?, *index))
    }
}

/// The length of the block's RLP encoding: `[header, transactions, ommers, withdrawals]`.
fn block_size(header_len: usize, txs: &[SignedTx], spec: SpecId) -> u64 {
    let txs_payload: usize = txs.iter().map(|t| t.envelope.length()).sum();
    let txs_len = alloy_rlp::length_of_length(txs_payload) + txs_payload;
    let withdrawals = usize::from(spec.is_enabled_in(SpecId::SHANGHAI));
    let payload = header_len + txs_len + 1 + withdrawals;
    (alloy_rlp::length_of_length(payload) + payload) as u64
}

fn alloy_trie_empty_root() -> B256 {
    alloy_consensus::constants::EMPTY_ROOT_HASH
}

fn tx_error<DB: std::fmt::Debug>(
    error: EVMError<DB, InvalidTransaction>,
    tx: &SignedTx,
) -> TxError {
    match error {
        EVMError::Transaction(InvalidTransaction::NonceTooLow { tx: got, state }) => {
            TxError::NonceTooLow {
                expected: state,
                got,
            }
        }
        EVMError::Transaction(InvalidTransaction::NonceTooHigh { tx: got, state }) => {
            TxError::NonceTooHigh {
                expected: state,
                got,
            }
        }
        EVMError::Transaction(InvalidTransaction::LackOfFundForMaxFee { fee, balance }) => {
            TxError::InsufficientFunds {
                sender: tx.sender,
                have: *balance,
                want: *fee,
            }
        }
        EVMError::Transaction(e) => TxError::Rejected(e.to_string()),
        other => TxError::Rejected(format!("{other:?}")),
    }
}
