//! Building blocks without changing the chain: a batch executes transactions on an overlay of
//! the state and seals blocks that become visible only when [`Chain::publish`] applies them,
//! after they are durable.

use std::sync::Arc;

use alloy_consensus::{
    ReceiptEnvelope, Transaction as _, TxEnvelope,
    proofs::{calculate_receipt_root, calculate_transaction_root},
};
use alloy_primitives::{Address, B256, Bloom, Bytes, Log, TxKind, keccak256};
use alloy_rlp::Encodable;
use revm::{
    Context, ExecuteEvm, MainBuilder, MainContext,
    context::BlockEnv,
    context_interface::result::{ExecutionResult, Output},
};

use super::{Block, Chain, Executed, MinedReceipt, SignedTx, block_size, tx_error};
use crate::{
    error::TxError,
    state::{AccountDiff, ExecDb, Overlay, diff},
    store::{BlockRecord, ClockRecord, LogRecord, ReceiptRecord, Record, TxRecord},
};

/// The last block built, which the next one extends.
#[derive(Debug, Clone, Copy)]
struct Tip {
    number: u64,
    hash: B256,
    timestamp: u64,
    state_root: B256,
}

/// Blocks being built on top of the chain's head.
#[derive(Debug)]
pub(crate) struct Batch<'a> {
    chain: &'a Chain,
    overlay: Overlay,
    tip: Tip,
    clock: ClockRecord,
    sealed: Sealed,
}

/// Blocks built by a batch, ready to be written and published.
#[derive(Debug, Default)]
pub(crate) struct Sealed {
    pub(crate) blocks: Vec<(Arc<Block>, Vec<AccountDiff>)>,
    /// What goes to the block log, in order.
    pub(crate) records: Vec<Record>,
    pub(crate) clock: Option<ClockRecord>,
}

/// What building one block did.
#[derive(Debug)]
pub(crate) struct MinedBlock {
    pub(crate) block: Option<Arc<Block>>,
    pub(crate) included: Vec<B256>,
    pub(crate) rejected: Vec<(B256, TxError)>,
    pub(crate) left: Vec<SignedTx>,
}

impl Chain {
    /// Starts building blocks on top of the head.
    pub(crate) fn batch(&self) -> Batch<'_> {
        let head = self.head();
        Batch {
            chain: self,
            overlay: Overlay::default(),
            tip: Tip {
                number: head.number(),
                hash: head.hash,
                timestamp: head.header.timestamp,
                state_root: head.header.state_root,
            },
            clock: self.clock,
            sealed: Sealed::default(),
        }
    }

    /// Makes sealed blocks part of the chain: their state changes, indexes and clock.
    pub(crate) fn publish(&mut self, sealed: Sealed) {
        for (block, diffs) in sealed.blocks {
            self.apply_block_diffs(block.number(), &diffs);
            self.push_block(block);
        }
        if let Some(clock) = sealed.clock {
            self.clock = clock;
        }
    }
}

impl Batch<'_> {
    /// Timestamp the next block of this batch gets.
    pub(crate) fn next_timestamp(&self) -> u64 {
        self.chain.timestamp_after(self.tip.timestamp, &self.clock)
    }

    fn execute(
        &mut self,
        tx: &SignedTx,
        env: &BlockEnv,
        cumulative_gas: u64,
        first_log_index: u64,
    ) -> Result<Executed, TxError> {
        let limit = self.chain.params.block_gas_limit;
        if cumulative_gas + tx.envelope.gas_limit() > limit {
            return Err(TxError::GasLimit {
                gas: tx.envelope.gas_limit(),
                limit: limit - cumulative_gas,
            });
        }
        let result = {
            let db = ExecDb {
                state: &self.chain.state,
                overlay: Some(&self.overlay),
                history: &[],
                block_hashes: &self.chain.block_hashes,
            };
            let mut evm = Context::mainnet()
                .with_cfg(self.chain.cfg())
                .with_block(env.clone())
                .with_ref_db(db)
                .build_mainnet();
            evm.transact(tx.to_tx_env()).map_err(|e| tx_error(e, tx))?
        };
        let diffs = diff(&result.state, |hash| {
            self.chain.state.has_code(hash) || self.overlay.has_code(hash)
        });
        self.overlay.apply(&diffs);
        let base_fee = u128::from(env.basefee);
        let effective_gas_price = match tx.envelope.max_priority_fee_per_gas() {
            Some(tip) => tx.envelope.max_fee_per_gas().min(base_fee + tip),
            None => tx.envelope.max_fee_per_gas(),
        };
        let (success, gas_used, logs, output, contract_address) = match result.result {
            ExecutionResult::Success {
                gas, logs, output, ..
            } => {
                let (bytes, created) = match output {
                    Output::Call(bytes) => (bytes, None),
                    Output::Create(bytes, address) => (bytes, address),
                };
                (true, gas.tx_gas_used(), logs, bytes, created)
            }
            ExecutionResult::Revert { gas, logs, output } => {
                (false, gas.tx_gas_used(), logs, output, None)
            }
            ExecutionResult::Halt { gas, logs, .. } => {
                (false, gas.tx_gas_used(), logs, Bytes::new(), None)
            }
        };
        // Every creation has its address in the receipt, whether it succeeded or not.
        let contract_address = contract_address.or_else(|| {
            (tx.envelope.kind() == TxKind::Create).then(|| tx.sender.create(tx.envelope.nonce()))
        });
        Ok(Executed {
            receipt: MinedReceipt {
                success,
                gas_used,
                cumulative_gas_used: cumulative_gas + gas_used,
                effective_gas_price,
                contract_address,
                logs,
                first_log_index,
                output,
            },
            diffs,
        })
    }

    /// Builds one block holding as many of `txs` as are valid and fit, in order. Invalid ones
    /// are `rejected`; those beyond the block gas limit are `left` for the next block. With
    /// nothing included and `allow_empty` false, no block is built.
    pub(crate) fn mine_block(&mut self, txs: Vec<SignedTx>, allow_empty: bool) -> MinedBlock {
        let timestamp = self.next_timestamp();
        let params = self.chain.params;
        let parent = self.tip.hash;
        let number = self.tip.number + 1;
        let mix_hash = keccak256(parent);
        let env = self.chain.block_env(number, timestamp, mix_hash);
        let mut included = Vec::new();
        let mut receipts = Vec::new();
        let mut diffs = Vec::new();
        let mut rejected = Vec::new();
        let mut left = Vec::new();
        let mut cumulative = 0u64;
        let mut log_index = 0u64;
        for tx in txs {
            let full = cumulative + tx.envelope.gas_limit() > params.block_gas_limit;
            if !left.is_empty() || (full && !included.is_empty()) {
                left.push(tx);
                continue;
            }
            match self.execute(&tx, &env, cumulative, log_index) {
                Ok(executed) => {
                    cumulative = executed.receipt.cumulative_gas_used;
                    log_index += executed.receipt.logs.len() as u64;
                    receipts.push(executed.receipt);
                    diffs.extend(executed.diffs);
                    included.push(tx);
                }
                Err(error) => rejected.push((tx.hash, error)),
            }
        }
        if included.is_empty() && !allow_empty {
            return MinedBlock {
                block: None,
                included: Vec::new(),
                rejected,
                left,
            };
        }
        let state_root = crate::state::digest_after(self.tip.state_root, &diffs);
        let mut header = Chain::header_template(&params, parent, number, timestamp, state_root);
        header.gas_used = cumulative;
        if !included.is_empty() {
            let envelopes: Vec<ReceiptEnvelope<Log>> = receipts
                .iter()
                .zip(&included)
                .map(|(r, tx): (&MinedReceipt, &SignedTx)| r.envelope(tx.envelope.tx_type()))
                .collect();
            let txs: Vec<&TxEnvelope> = included.iter().map(|t| &t.envelope).collect();
            header.transactions_root = calculate_transaction_root(&txs);
            header.receipts_root = calculate_receipt_root(&envelopes);
            let mut bloom = Bloom::ZERO;
            for envelope in &envelopes {
                bloom |= envelope.logs_bloom();
            }
            header.logs_bloom = bloom;
        }
        let hash = header.hash_slow();
        let mut header_rlp = Vec::new();
        header.encode(&mut header_rlp);
        self.sealed.records.push(Record::Block(block_record(
            header_rlp.clone(),
            hash,
            &included,
            &receipts,
            diffs.clone(),
        )));
        if self.clock.next_timestamp.take().is_some() {
            // The override is used up; the offset it set stays.
            self.sealed.records.push(Record::Clock(self.clock));
            self.sealed.clock = Some(self.clock);
        }
        let size = block_size(header_rlp.len(), &included, params.spec);
        let included_hashes: Vec<B256> = included.iter().map(|t| t.hash).collect();
        let block = Arc::new(Block {
            header,
            hash,
            txs: included,
            receipts,
            size,
        });
        self.overlay.push_block_hash(hash);
        self.tip = Tip {
            number,
            hash,
            timestamp,
            state_root,
        };
        self.sealed.blocks.push((block.clone(), diffs));
        MinedBlock {
            block: Some(block),
            included: included_hashes,
            rejected,
            left,
        }
    }

    /// The blocks built so far.
    /// Dates the next block of this batch `timestamp` (and the clock from it on).
    pub(crate) fn set_next_timestamp(&mut self, timestamp: u64) {
        self.clock.next_timestamp = Some(timestamp);
        self.clock.offset = i64::try_from(timestamp).unwrap_or(i64::MAX) - super::now_secs() as i64;
    }

    pub(crate) fn finish(self) -> Sealed {
        self.sealed
    }
}

fn block_record(
    header_rlp: Vec<u8>,
    hash: B256,
    txs: &[SignedTx],
    receipts: &[MinedReceipt],
    diffs: Vec<AccountDiff>,
) -> BlockRecord {
    BlockRecord {
        header_rlp,
        hash: hash.0,
        txs: txs
            .iter()
            .map(|t| TxRecord {
                raw: t.raw.to_vec(),
                hash: t.hash.0,
                sender: t.sender.into_array(),
            })
            .collect(),
        receipts: receipts
            .iter()
            .map(|r| ReceiptRecord {
                success: r.success,
                gas_used: r.gas_used,
                cumulative_gas_used: r.cumulative_gas_used,
                effective_gas_price: r.effective_gas_price,
                contract_address: r.contract_address.map(Address::into_array),
                logs: r
                    .logs
                    .iter()
                    .map(|l| LogRecord {
                        address: l.address.into_array(),
                        topics: l.topics().iter().map(|t| t.0).collect(),
                        data: l.data.data.to_vec(),
                    })
                    .collect(),
                output: r.output.to_vec(),
            })
            .collect(),
        diffs,
    }
}
