//! Polled filters (`eth_newFilter`, `eth_newBlockFilter`, `eth_getFilterChanges`) and the log
//! query shared with `eth_getLogs` and subscriptions.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::{Filter, FilterBlockOption, Log as RpcLog};

use super::{RpcError, convert};
use crate::chain::{Block, Chain};

/// A filter nobody polled for this long is removed (go-ethereum's deadline).
const FILTER_TIMEOUT: Duration = Duration::from_secs(300);

/// Most logs one query may return.
pub(crate) const MAX_LOGS: usize = 10_000;

#[derive(Debug)]
enum Kind {
    Blocks,
    Logs(Box<Filter>),
    PendingTransactions,
}

#[derive(Debug)]
struct Entry {
    kind: Kind,
    /// First block not yet reported.
    next_block: u64,
    last_poll: Instant,
}

/// The installed filters.
#[derive(Debug, Default)]
pub(crate) struct Filters {
    next_id: u64,
    entries: HashMap<U256, Entry>,
}

/// What `eth_getFilterChanges` returns.
#[derive(Debug)]
pub(crate) enum Changes {
    Hashes(Vec<B256>),
    Logs(Vec<RpcLog>),
}

impl Filters {
    fn install(&mut self, kind: Kind, head: u64) -> U256 {
        self.expire();
        self.next_id += 1;
        let id = U256::from(self.next_id);
        self.entries.insert(
            id,
            Entry {
                kind,
                next_block: head + 1,
                last_poll: Instant::now(),
            },
        );
        id
    }

    pub(crate) fn new_block_filter(&mut self, head: u64) -> U256 {
        self.install(Kind::Blocks, head)
    }

    pub(crate) fn new_pending_transaction_filter(&mut self, head: u64) -> U256 {
        self.install(Kind::PendingTransactions, head)
    }

    pub(crate) fn new_log_filter(&mut self, filter: Filter, head: u64) -> U256 {
        self.install(Kind::Logs(Box::new(filter)), head)
    }

    pub(crate) fn uninstall(&mut self, id: U256) -> bool {
        self.entries.remove(&id).is_some()
    }

    fn expire(&mut self) {
        self.entries
            .retain(|_, e| e.last_poll.elapsed() < FILTER_TIMEOUT);
    }

    /// The live filter `id`, marked as polled now.
    fn poll(&mut self, id: U256) -> Result<&mut Entry, RpcError> {
        self.expire();
        let entry = self
            .entries
            .get_mut(&id)
            .ok_or_else(|| RpcError::filter_not_found(id))?;
        entry.last_poll = Instant::now();
        Ok(entry)
    }

    pub(crate) fn changes(&mut self, id: U256, chain: &Chain) -> Result<Changes, RpcError> {
        let entry = self.poll(id)?;
        let head = chain.head_number();
        let from = entry.next_block;
        entry.next_block = head + 1;
        match &entry.kind {
            Kind::Blocks => Ok(Changes::Hashes(
                (from..=head)
                    .filter_map(|n| chain.block(n))
                    .map(|b| b.hash)
                    .collect(),
            )),
            // Transactions are mined as they arrive or kept only briefly: report them once mined.
            Kind::PendingTransactions => Ok(Changes::Hashes(
                (from..=head)
                    .filter_map(|n| chain.block(n))
                    .flat_map(|b| b.txs.iter().map(|t| t.hash))
                    .collect(),
            )),
            Kind::Logs(filter) => {
                let (lo, hi) = range(filter, chain, 0)?;
                let lo = lo.max(from);
                if lo > hi {
                    return Ok(Changes::Logs(Vec::new()));
                }
                Ok(Changes::Logs(logs_in_range(chain, filter, lo, hi)?))
            }
        }
    }

    pub(crate) fn logs(&mut self, id: U256, chain: &Chain) -> Result<Vec<RpcLog>, RpcError> {
        let entry = self.poll(id)?;
        match &entry.kind {
            Kind::Logs(filter) => query(chain, filter),
            _ => Err(RpcError::invalid_params(format!(
                "filter {id:#x} is not a log filter"
            ))),
        }
    }
}

fn resolve(tag: Option<BlockNumberOrTag>, chain: &Chain, default: u64) -> u64 {
    let head = chain.head_number();
    match tag {
        None => default,
        Some(BlockNumberOrTag::Earliest) => 0,
        Some(BlockNumberOrTag::Number(n)) => n,
        Some(_) => head,
    }
}

/// The inclusive block range a filter covers, up to the head.
fn range(filter: &Filter, chain: &Chain, default_from: u64) -> Result<(u64, u64), RpcError> {
    let head = chain.head_number();
    match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            let block = chain
                .block_by_hash(&hash)
                .ok_or_else(|| RpcError::resource_not_found(format!("block {hash} not found")))?;
            Ok((block.number(), block.number()))
        }
        FilterBlockOption::Range {
            from_block,
            to_block,
        } => {
            let from = resolve(from_block, chain, default_from);
            let to = resolve(to_block, chain, head).min(head);
            if let (Some(BlockNumberOrTag::Number(f)), Some(BlockNumberOrTag::Number(t))) =
                (from_block, to_block)
                && f > t
            {
                return Err(RpcError::invalid_params(format!(
                    "invalid block range: fromBlock {f} is after toBlock {t}"
                )));
            }
            Ok((from, to))
        }
    }
}

/// `eth_getLogs`.
pub(crate) fn query(chain: &Chain, filter: &Filter) -> Result<Vec<RpcLog>, RpcError> {
    let (from, to) = range(filter, chain, chain.head_number())?;
    if from > to {
        return Ok(Vec::new());
    }
    logs_in_range(chain, filter, from, to)
}

fn logs_in_range(
    chain: &Chain,
    filter: &Filter,
    from: u64,
    to: u64,
) -> Result<Vec<RpcLog>, RpcError> {
    let mut out = Vec::new();
    for number in from..=to {
        let Some(block) = chain.block(number) else {
            break;
        };
        block_logs(block, filter, &mut out);
        if out.len() > MAX_LOGS {
            return Err(RpcError::limit(format!(
                "query returned more than {MAX_LOGS} results; narrow the block range or the filter"
            )));
        }
    }
    Ok(out)
}

/// Appends the logs of `block` that match `filter` (address and topics only).
pub(crate) fn block_logs(block: &Block, filter: &Filter, out: &mut Vec<RpcLog>) {
    if !filter.matches_bloom(block.header.logs_bloom) {
        return;
    }
    for index in 0..block.txs.len() {
        if block.receipts[index].logs.iter().any(|l| filter.matches(l)) {
            out.extend(
                convert::logs_of(block, index)
                    .into_iter()
                    .filter(|l| filter.matches(&l.inner)),
            );
        }
    }
}
