//! The scheduler's view of the chain: the hub's events about its pool, the reads it needs,
//! and its own transactions, signed here so that they can be recorded before they are
//! broadcast.

use std::collections::HashMap;

use agora_contracts::{Hub, Workerpool};
use agora_primitives::{DealId, TaskId};
use alloy::{
    eips::{BlockNumberOrTag, Encodable2718},
    network::{Ethereum, EthereumWallet, NetworkTransactionBuilder, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Filter, Log, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};

use crate::{
    Result,
    error::chain,
    state::{Call, DealInfo, HubEvent},
};

/// The chain, as the scheduler uses it.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    provider: DynProvider,
    hub: Hub::HubInstance<DynProvider>,
    wallet: EthereumWallet,
    /// The scheduler's account.
    pub(crate) address: Address,
    /// The chain id.
    pub(crate) chain_id: u64,
}

impl Chain {
    pub(crate) async fn connect(
        rpc_url: &str,
        hub: Address,
        key: PrivateKeySigner,
    ) -> Result<Self> {
        let url = rpc_url
            .parse()
            .map_err(|_| crate::Error::RpcUrl(rpc_url.into()))?;
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_http(url)
            .erased();
        let chain_id = provider.get_chain_id().await.map_err(chain)?;
        Ok(Self {
            hub: Hub::new(hub, provider.clone()),
            address: key.address(),
            wallet: EthereumWallet::from(key),
            provider,
            chain_id,
        })
    }

    /// The owner of `workerpool`.
    pub(crate) async fn owner_of(&self, workerpool: Address) -> Result<Address> {
        Workerpool::new(workerpool, self.provider.clone())
            .owner()
            .call()
            .await
            .map_err(|e| {
                crate::Error::Chain(format!("cannot read workerpool {workerpool}'s owner: {e}"))
            })
    }

    /// The latest block's number and time.
    pub(crate) async fn head(&self) -> Result<(u64, u64)> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(chain)?
            .ok_or_else(|| crate::Error::Chain("the chain has no latest block".into()))?;
        Ok((block.header.number, block.header.timestamp))
    }

    async fn block_time(&self, number: u64) -> Result<u64> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(chain)?
            .ok_or_else(|| crate::Error::Chain(format!("block {number} is missing")))?;
        Ok(block.header.timestamp)
    }

    /// The hub's events about `workerpool`'s deals and about any task, in blocks
    /// `from..=to`, with what the scheduler needs of each new deal.
    pub(crate) async fn events(
        &self,
        workerpool: Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<HubEvent>> {
        let filter = Filter::new()
            .address(*self.hub.address())
            .from_block(from)
            .to_block(to)
            .event_signature(vec![
                Hub::SchedulerNotice::SIGNATURE_HASH,
                Hub::TaskInitialize::SIGNATURE_HASH,
                Hub::TaskContribute::SIGNATURE_HASH,
                Hub::TaskConsensus::SIGNATURE_HASH,
                Hub::TaskReveal::SIGNATURE_HASH,
                Hub::TaskReopen::SIGNATURE_HASH,
                Hub::TaskFinalize::SIGNATURE_HASH,
                Hub::TaskClaimed::SIGNATURE_HASH,
                Hub::AccurateContribution::SIGNATURE_HASH,
                Hub::FaultyContribution::SIGNATURE_HASH,
            ]);
        let logs = self.provider.get_logs(&filter).await.map_err(chain)?;
        let mut events = Vec::with_capacity(logs.len());
        let mut times = HashMap::new();
        let mut timerefs = HashMap::new();
        for log in &logs {
            if let Some(event) = self
                .decode(log, workerpool, &mut times, &mut timerefs)
                .await?
            {
                events.push(event);
            }
        }
        Ok(events)
    }

    async fn decode(
        &self,
        log: &Log,
        workerpool: Address,
        times: &mut HashMap<u64, u64>,
        timerefs: &mut HashMap<u64, u64>,
    ) -> Result<Option<HubEvent>> {
        let Some(topic) = log.topic0().copied() else {
            return Ok(None);
        };
        let task = |id: B256| TaskId::new(id);
        let event = match topic {
            Hub::SchedulerNotice::SIGNATURE_HASH => {
                let Ok(notice) = log.log_decode::<Hub::SchedulerNotice>() else {
                    return Ok(None);
                };
                let notice = notice.inner.data;
                if notice.workerpool != workerpool {
                    return Ok(None);
                }
                let deal = DealId::new(notice.dealid);
                HubEvent::Deal(deal, self.deal(deal, timerefs).await?)
            }
            Hub::TaskInitialize::SIGNATURE_HASH => {
                let Ok(e) = log.log_decode::<Hub::TaskInitialize>() else {
                    return Ok(None);
                };
                HubEvent::Initialized(task(e.inner.data.taskid))
            }
            Hub::TaskContribute::SIGNATURE_HASH => {
                let Ok(e) = log.log_decode::<Hub::TaskContribute>() else {
                    return Ok(None);
                };
                let e = e.inner.data;
                HubEvent::Contributed {
                    task: task(e.taskid),
                    worker: e.worker,
                    hash: e.hash,
                }
            }
            Hub::TaskConsensus::SIGNATURE_HASH => {
                let Ok(e) = log.log_decode::<Hub::TaskConsensus>() else {
                    return Ok(None);
                };
                let number = log.block_number.unwrap_or_default();
                let at = match (log.block_timestamp, times.get(&number)) {
                    (Some(at), _) => at,
                    (None, Some(at)) => *at,
                    (None, None) => {
                        let at = self.block_time(number).await?;
                        times.insert(number, at);
                        at
                    }
                };
                HubEvent::Consensus {
                    task: task(e.inner.data.taskid),
                    value: e.inner.data.consensus,
                    at,
                }
            }
            Hub::TaskReveal::SIGNATURE_HASH => {
                let Ok(e) = log.log_decode::<Hub::TaskReveal>() else {
                    return Ok(None);
                };
                let e = e.inner.data;
                HubEvent::Revealed {
                    task: task(e.taskid),
                    worker: e.worker,
                    digest: e.digest,
                }
            }
            Hub::TaskReopen::SIGNATURE_HASH => {
                let Ok(e) = log.log_decode::<Hub::TaskReopen>() else {
                    return Ok(None);
                };
                HubEvent::Reopened(task(e.inner.data.taskid))
            }
            Hub::TaskFinalize::SIGNATURE_HASH => {
                let Ok(e) = log.log_decode::<Hub::TaskFinalize>() else {
                    return Ok(None);
                };
                HubEvent::Finalized(task(e.inner.data.taskid))
            }
            Hub::TaskClaimed::SIGNATURE_HASH => {
                let Ok(e) = log.log_decode::<Hub::TaskClaimed>() else {
                    return Ok(None);
                };
                HubEvent::Claimed(task(e.inner.data.taskid))
            }
            Hub::AccurateContribution::SIGNATURE_HASH => {
                let Ok(e) = log.log_decode::<Hub::AccurateContribution>() else {
                    return Ok(None);
                };
                HubEvent::Scored(e.inner.data.worker)
            }
            Hub::FaultyContribution::SIGNATURE_HASH => {
                let Ok(e) = log.log_decode::<Hub::FaultyContribution>() else {
                    return Ok(None);
                };
                HubEvent::Scored(e.inner.data.worker)
            }
            _ => return Ok(None),
        };
        Ok(Some(event))
    }

    async fn deal(&self, deal: DealId, timerefs: &mut HashMap<u64, u64>) -> Result<DealInfo> {
        let d = self
            .hub
            .viewDeal(*deal.as_b256())
            .call()
            .await
            .map_err(|e| crate::Error::Chain(format!("cannot read deal {deal}: {e}")))?;
        let category = d.category.saturating_to::<u64>();
        let timeref = match timerefs.get(&category) {
            Some(t) => *t,
            None => {
                let c = self
                    .hub
                    .viewCategory(d.category)
                    .call()
                    .await
                    .map_err(|e| {
                        crate::Error::Chain(format!("cannot read category {category}: {e}"))
                    })?;
                let t = c.workClockTimeRef.saturating_to::<u64>();
                timerefs.insert(category, t);
                t
            }
        };
        Ok(DealInfo {
            app: d.app.pointer,
            dataset: d.dataset.pointer,
            trust: d.trust.saturating_to(),
            category,
            timeref,
            start_time: d.startTime.saturating_to(),
            bot_first: d.botFirst.saturating_to(),
            bot_size: d.botSize.saturating_to(),
            worker_stake: d.workerStake,
            callback: d.callback,
            tag: d.tag,
        })
    }

    /// A worker's score.
    pub(crate) async fn score(&self, worker: Address) -> Result<u64> {
        let score = self.hub.viewScore(worker).call().await.map_err(chain)?;
        Ok(score.saturating_to())
    }

    /// The calldata of a call, and its name for the history.
    pub(crate) fn calldata(&self, call: &Call) -> (Bytes, &'static str) {
        let deals = |tasks: &[(DealId, u64)]| -> (Vec<B256>, Vec<U256>) {
            tasks
                .iter()
                .map(|(deal, idx)| (*deal.as_b256(), U256::from(*idx)))
                .unzip()
        };
        match call {
            Call::Initialize(tasks) if tasks.len() == 1 => {
                let (deal, idx) = tasks[0];
                let c = self.hub.initialize(*deal.as_b256(), U256::from(idx));
                (c.calldata().clone(), "initialize")
            }
            Call::Initialize(tasks) => {
                let (dealids, idxs) = deals(tasks);
                (
                    self.hub.initializeArray(dealids, idxs).calldata().clone(),
                    "initializeArray",
                )
            }
            Call::Finalize {
                task,
                results,
                callback,
            } => {
                let c = self
                    .hub
                    .finalize(*task.as_b256(), results.clone(), callback.clone());
                (c.calldata().clone(), "finalize")
            }
            Call::Reopen(task) => (
                self.hub.reopen(*task.as_b256()).calldata().clone(),
                "reopen",
            ),
            Call::Claim(tasks) if tasks.len() == 1 => (
                self.hub.claim(*tasks[0].as_b256()).calldata().clone(),
                "claim",
            ),
            Call::Claim(tasks) => {
                let ids = tasks.iter().map(|t| *t.as_b256()).collect();
                (self.hub.claimArray(ids).calldata().clone(), "claimArray")
            }
            Call::InitializeAndClaim(tasks) => {
                let (dealids, idxs) = deals(tasks);
                let c = self.hub.initializeAndClaimArray(dealids, idxs);
                (c.calldata().clone(), "initializeAndClaimArray")
            }
        }
    }

    fn request(&self, data: &Bytes) -> TransactionRequest {
        TransactionRequest::default()
            .with_from(self.address)
            .with_to(*self.hub.address())
            .with_input(data.clone())
    }

    /// The gas limit of `call`, or why it would revert. Unless gas is `free`, a dry run (one
    /// execution) checks it;
    /// the limit is fixed per call, well above what the hub uses (docs/GAS.md), except for a
    /// finalize that delivers callback data, whose cost depends on the callback: that one is
    /// estimated. Only the gas used is paid.
    pub(crate) async fn gas_for(
        &self,
        call: &Call,
        data: &Bytes,
        free: bool,
    ) -> std::result::Result<u64, String> {
        let fixed = match call {
            Call::Initialize(tasks) => Some(60_000 + 150_000 * tasks.len() as u64),
            Call::Finalize { callback, .. } if callback.is_empty() => Some(1_000_000),
            Call::Finalize { .. } => None,
            Call::Reopen(_) => Some(300_000),
            Call::Claim(tasks) => Some(60_000 + 250_000 * tasks.len() as u64),
            Call::InitializeAndClaim(tasks) => Some(60_000 + 400_000 * tasks.len() as u64),
        };
        match fixed {
            // Where gas is free, a revert costs nothing: no dry run (the receipt says).
            Some(gas) if free => Ok(gas),
            Some(gas) => {
                self.provider
                    .call(self.request(data))
                    .await
                    .map_err(|e| revert_reason(&e))?;
                Ok(gas)
            }
            None => {
                let gas = self
                    .provider
                    .estimate_gas(self.request(data))
                    .await
                    .map_err(|e| revert_reason(&e))?;
                Ok(gas + gas / 4 + 20_000)
            }
        }
    }

    /// The gas price to pay.
    pub(crate) async fn gas_price(&self) -> Result<u128> {
        self.provider.get_gas_price().await.map_err(chain)
    }

    /// The account's next nonce, counting the transactions the node has pending.
    pub(crate) async fn pending_nonce(&self) -> Result<u64> {
        self.provider
            .get_transaction_count(self.address)
            .pending()
            .await
            .map_err(chain)
    }

    /// Signs a transaction to the hub; returns its hash and its raw bytes.
    pub(crate) async fn sign(
        &self,
        data: &Bytes,
        nonce: u64,
        gas: u64,
        gas_price: u128,
    ) -> Result<(B256, Vec<u8>)> {
        let request = self
            .request(data)
            .with_nonce(nonce)
            .with_chain_id(self.chain_id)
            .with_gas_limit(gas)
            .with_gas_price(gas_price);
        let envelope = <TransactionRequest as NetworkTransactionBuilder<Ethereum>>::build(
            request,
            &self.wallet,
        )
        .await
        .map_err(|e| crate::Error::Chain(format!("cannot sign a transaction: {e}")))?;
        Ok((*envelope.tx_hash(), envelope.encoded_2718()))
    }

    /// Broadcasts a signed transaction. A node that has it already is not an error.
    pub(crate) async fn broadcast(&self, raw: &[u8]) -> std::result::Result<(), String> {
        match self.provider.send_raw_transaction(raw).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let text = e.to_string();
                let known = [
                    "already known",
                    "nonce too low",
                    "already imported",
                    "known transaction",
                ];
                if known.iter().any(|k| text.to_lowercase().contains(k)) {
                    Ok(())
                } else {
                    Err(text)
                }
            }
        }
    }

    /// Whether the transaction is mined, and if so whether it succeeded.
    pub(crate) async fn receipt(&self, hash: B256) -> Result<Option<bool>> {
        let receipt = self
            .provider
            .get_transaction_receipt(hash)
            .await
            .map_err(chain)?;
        Ok(receipt.map(|r| r.status()))
    }
}

/// The revert reason in an RPC error, as text.
fn revert_reason(error: &alloy::transports::TransportError) -> String {
    if let Some(payload) = error.as_error_resp() {
        if let Some(data) = payload.as_revert_data() {
            if let Some(name) = decode_hub_error(&data) {
                return name;
            }
            return format!("{} (revert data {data})", payload.message);
        }
        return payload.message.to_string();
    }
    error.to_string()
}

/// The name of a hub custom error, from its selector.
fn decode_hub_error(data: &[u8]) -> Option<String> {
    use alloy::sol_types::SolInterface;
    Hub::HubErrors::abi_decode(data)
        .ok()
        .map(|e| format!("{e:?}"))
}
