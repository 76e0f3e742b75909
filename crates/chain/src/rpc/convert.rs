//! From the chain's records to the standard JSON-RPC shapes (alloy's RPC types).

use alloy_consensus::{
    Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction as _, TxType, transaction::Recovered,
};
use alloy_primitives::{Bloom, U256};
use alloy_rpc_types_eth::{
    Block as RpcBlock, BlockTransactions, Header as RpcHeader, Log as RpcLog,
    Transaction as RpcTransaction, TransactionReceipt, Withdrawals,
};

use crate::chain::Block;

pub(crate) fn block(block: &Block, full: bool) -> RpcBlock {
    let header = RpcHeader {
        hash: block.hash,
        inner: block.header.clone(),
        total_difficulty: Some(U256::ZERO),
        size: Some(U256::from(block.size)),
    };
    let transactions = if full {
        BlockTransactions::Full(
            (0..block.txs.len())
                .map(|i| transaction(block, i))
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(block.txs.iter().map(|t| t.hash).collect())
    };
    RpcBlock {
        header,
        uncles: Vec::new(),
        transactions,
        withdrawals: block
            .header
            .withdrawals_root
            .map(|_| Withdrawals::default()),
    }
}

pub(crate) fn transaction(block: &Block, index: usize) -> RpcTransaction {
    let tx = &block.txs[index];
    RpcTransaction {
        inner: Recovered::new_unchecked(tx.envelope.clone(), tx.sender),
        block_hash: Some(block.hash),
        block_number: Some(block.number()),
        transaction_index: Some(index as u64),
        effective_gas_price: Some(block.receipts[index].effective_gas_price),
        block_timestamp: Some(block.header.timestamp),
    }
}

/// A transaction not mined yet (`txpool_content`): no block, no index.
pub(crate) fn pending_transaction(tx: &crate::chain::SignedTx) -> RpcTransaction {
    RpcTransaction {
        inner: Recovered::new_unchecked(tx.envelope.clone(), tx.sender),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        effective_gas_price: None,
        block_timestamp: None,
    }
}

pub(crate) fn logs_of(block: &Block, index: usize) -> Vec<RpcLog> {
    let tx = &block.txs[index];
    let receipt = &block.receipts[index];
    receipt
        .logs
        .iter()
        .enumerate()
        .map(|(i, log)| RpcLog {
            inner: log.clone(),
            block_hash: Some(block.hash),
            block_number: Some(block.number()),
            block_timestamp: Some(block.header.timestamp),
            transaction_hash: Some(tx.hash),
            transaction_index: Some(index as u64),
            log_index: Some(receipt.first_log_index + i as u64),
            removed: false,
        })
        .collect()
}

pub(crate) fn receipt(block: &Block, index: usize) -> TransactionReceipt {
    let tx = &block.txs[index];
    let mined = &block.receipts[index];
    let receipt = Receipt {
        status: mined.success.into(),
        cumulative_gas_used: mined.cumulative_gas_used,
        logs: logs_of(block, index),
    };
    let logs_bloom = Bloom::from_iter(mined.logs.iter());
    let with_bloom = ReceiptWithBloom {
        receipt,
        logs_bloom,
    };
    let inner = match tx.envelope.tx_type() {
        TxType::Legacy => ReceiptEnvelope::Legacy(with_bloom),
        TxType::Eip2930 => ReceiptEnvelope::Eip2930(with_bloom),
        TxType::Eip4844 => ReceiptEnvelope::Eip4844(with_bloom),
        TxType::Eip7702 => ReceiptEnvelope::Eip7702(with_bloom),
        TxType::Eip1559 => ReceiptEnvelope::Eip1559(with_bloom),
    };
    TransactionReceipt {
        inner,
        transaction_hash: tx.hash,
        transaction_index: Some(index as u64),
        block_hash: Some(block.hash),
        block_number: Some(block.number()),
        gas_used: mined.gas_used,
        effective_gas_price: mined.effective_gas_price,
        blob_gas_used: None,
        blob_gas_price: None,
        from: tx.sender,
        to: tx.envelope.to(),
        contract_address: mined.contract_address,
    }
}
