//! The market's view of the chain: the reads publishing checks an order with, and the events
//! that move published orders (deals, closed orders, asset transfers).

use agora_api::market::OrderKind;
use agora_contracts::{App, AppRegistry, Hub};
use agora_primitives::{Address, B256, Bytes, Domain, OrderHash, U256};
use alloy::{
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Filter, Log},
    sol_types::SolEvent,
};

use crate::{Error, Result};

/// The chain, as the market reads it.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    provider: DynProvider,
    hub: Hub::HubInstance<DynProvider>,
    /// The registries of apps, datasets and workerpools, as the hub names them.
    registries: [Address; 3],
    /// The orders' EIP-712 domain.
    pub(crate) domain: Domain,
}

/// A chain read that failed: the chain did not answer (not the order's fault).
#[derive(Debug)]
pub(crate) struct Unreadable(pub(crate) String);

fn unreadable(what: &str) -> impl FnOnce(alloy::contract::Error) -> Unreadable + '_ {
    move |e| Unreadable(format!("cannot read {what} from the chain: {e}"))
}

/// An event that changes published orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// `OrdersMatched`: these orders were consumed (the dataset's hash is zero without one).
    Matched([OrderHash; 4]),
    /// `Closed<X>Order`.
    Closed(OrderHash),
    /// An asset's token changed hands.
    Transfer {
        kind: OrderKind,
        asset: Address,
        to: Address,
    },
}

impl Chain {
    /// Connects to the chain at `rpc_url` and reads the hub's registries: an address that is not
    /// a hub is refused here.
    pub(crate) async fn connect(rpc_url: &str, hub: Address) -> Result<Self> {
        let url = rpc_url.parse().map_err(|_| Error::RpcUrl(rpc_url.into()))?;
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_http(url)
            .erased();
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| Error::Chain(format!("cannot read the chain id at {rpc_url}: {e}")))?;
        let instance = Hub::new(hub, provider.clone());
        let not_a_hub = |e: alloy::contract::Error| {
            Error::Chain(format!("cannot read the registries of hub {hub}: {e}"))
        };
        let registries = [
            instance.appregistry().call().await.map_err(not_a_hub)?,
            instance.datasetregistry().call().await.map_err(not_a_hub)?,
            instance
                .workerpoolregistry()
                .call()
                .await
                .map_err(not_a_hub)?,
        ];
        Ok(Self {
            provider,
            hub: instance,
            registries,
            domain: Domain::new(chain_id, hub),
        })
    }

    /// The registry of the assets of `kind`'s orders (a request's app: the app registry).
    pub(crate) fn registry(&self, kind: OrderKind) -> Address {
        match kind {
            OrderKind::App | OrderKind::Request => self.registries[0],
            OrderKind::Dataset => self.registries[1],
            OrderKind::Workerpool => self.registries[2],
        }
    }

    /// Whether `asset` is in `kind`'s registry.
    pub(crate) async fn is_registered(
        &self,
        kind: OrderKind,
        asset: Address,
    ) -> std::result::Result<bool, Unreadable> {
        // The three registries share `isRegistered`.
        AppRegistry::new(self.registry(kind), self.provider.clone())
            .isRegistered(asset)
            .call()
            .await
            .map_err(unreadable("the registry"))
    }

    /// The current owner of a registered asset (apps, datasets and workerpools share `owner()`).
    pub(crate) async fn owner(&self, asset: Address) -> std::result::Result<Address, Unreadable> {
        App::new(asset, self.provider.clone())
            .owner()
            .call()
            .await
            .map_err(unreadable("the asset's owner"))
    }

    /// Whether `matchOrders` would take `sign` as `signer`'s for the order `hash`: presigned by
    /// `signer`, or signed by it (an account's signature, or one its ERC-1271 contract accepts).
    pub(crate) async fn accepts(
        &self,
        signer: Address,
        hash: OrderHash,
        sign: &Bytes,
    ) -> std::result::Result<bool, Unreadable> {
        self.hub
            .verifyPresignatureOrSignature(signer, *hash.as_b256(), sign.clone())
            .call()
            .await
            .map_err(unreadable("the hub's signature check"))
    }

    /// Whether `account` is a contract.
    pub(crate) async fn is_contract(
        &self,
        account: Address,
    ) -> std::result::Result<bool, Unreadable> {
        self.provider
            .get_code_at(account)
            .await
            .map(|code| !code.is_empty())
            .map_err(|e| Unreadable(format!("cannot read the code of {account}: {e}")))
    }

    /// The volume of order `hash` consumed (its whole volume once closed).
    pub(crate) async fn consumed(&self, hash: OrderHash) -> std::result::Result<U256, Unreadable> {
        self.hub
            .viewConsumed(*hash.as_b256())
            .call()
            .await
            .map_err(unreadable("the order's consumed volume"))
    }

    /// How many categories the hub has (they are numbered from 0).
    pub(crate) async fn categories(&self) -> std::result::Result<U256, Unreadable> {
        self.hub
            .countCategory()
            .call()
            .await
            .map_err(unreadable("the hub's categories"))
    }

    /// The latest block's number.
    pub(crate) async fn head(&self) -> Result<u64> {
        self.provider
            .get_block_number()
            .await
            .map_err(|e| Error::Chain(format!("cannot read the latest block: {e}")))
    }

    /// The events of blocks `from..=to` that move orders, in the chain's order.
    pub(crate) async fn events(&self, from: u64, to: u64) -> Result<Vec<Event>> {
        let hub = Filter::new()
            .address(*self.hub.address())
            .from_block(from)
            .to_block(to)
            .event_signature(vec![
                Hub::OrdersMatched::SIGNATURE_HASH,
                Hub::ClosedAppOrder::SIGNATURE_HASH,
                Hub::ClosedDatasetOrder::SIGNATURE_HASH,
                Hub::ClosedWorkerpoolOrder::SIGNATURE_HASH,
                Hub::ClosedRequestOrder::SIGNATURE_HASH,
            ]);
        // The hub's own SRLC `Transfer`s share the ERC-721 event's signature: the registries
        // are asked apart.
        let registries = Filter::new()
            .address(self.registries.to_vec())
            .from_block(from)
            .to_block(to)
            .event_signature(AppRegistry::Transfer::SIGNATURE_HASH);
        let read = |filter: Filter| async move {
            self.provider.get_logs(&filter).await.map_err(|e| {
                Error::Chain(format!(
                    "cannot read the logs of blocks {from} to {to}: {e}"
                ))
            })
        };
        let mut logs = read(hub).await?;
        logs.extend(read(registries).await?);
        logs.sort_by_key(|log| (log.block_number, log.log_index));
        Ok(logs.iter().filter_map(|log| self.decode(log)).collect())
    }

    fn decode(&self, log: &Log) -> Option<Event> {
        let hash = |h: B256| OrderHash::new(h);
        let topic = *log.topic0()?;
        if log.address() == *self.hub.address() {
            return match topic {
                Hub::OrdersMatched::SIGNATURE_HASH => {
                    let e = log.log_decode::<Hub::OrdersMatched>().ok()?.inner.data;
                    Some(Event::Matched([
                        hash(e.appHash),
                        hash(e.datasetHash),
                        hash(e.workerpoolHash),
                        hash(e.requestHash),
                    ]))
                }
                Hub::ClosedAppOrder::SIGNATURE_HASH => Some(Event::Closed(hash(
                    log.log_decode::<Hub::ClosedAppOrder>()
                        .ok()?
                        .inner
                        .data
                        .appHash,
                ))),
                Hub::ClosedDatasetOrder::SIGNATURE_HASH => Some(Event::Closed(hash(
                    log.log_decode::<Hub::ClosedDatasetOrder>()
                        .ok()?
                        .inner
                        .data
                        .datasetHash,
                ))),
                Hub::ClosedWorkerpoolOrder::SIGNATURE_HASH => Some(Event::Closed(hash(
                    log.log_decode::<Hub::ClosedWorkerpoolOrder>()
                        .ok()?
                        .inner
                        .data
                        .workerpoolHash,
                ))),
                Hub::ClosedRequestOrder::SIGNATURE_HASH => Some(Event::Closed(hash(
                    log.log_decode::<Hub::ClosedRequestOrder>()
                        .ok()?
                        .inner
                        .data
                        .requestHash,
                ))),
                _ => None,
            };
        }
        let kind = [OrderKind::App, OrderKind::Dataset, OrderKind::Workerpool]
            .into_iter()
            .find(|kind| self.registry(*kind) == log.address())?;
        let transfer = log.log_decode::<AppRegistry::Transfer>().ok()?.inner.data;
        // The token id is the asset's address.
        let asset = Address::from_word(B256::from(transfer.tokenId));
        Some(Event::Transfer {
            kind,
            asset,
            to: transfer.to,
        })
    }
}
