//! Helpers shared by the tests.

use agora_chain::{Config, Handle};
use agora_contracts::Deployment;
use alloy::{
    network::EthereumWallet,
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
    sol_types::SolError,
};

/// A chain in memory with the protocol contracts deployed at genesis.
pub(crate) struct Net {
    pub(crate) handle: Handle,
    pub(crate) deployment: Deployment,
}

impl Net {
    pub(crate) async fn start() -> Self {
        let (handle, deployment) =
            agora_testkit::market::start_chain(Config::test().accounts).await;
        Self { handle, deployment }
    }

    /// Dev account `index`.
    pub(crate) fn account(&self, index: usize) -> Address {
        self.handle.dev_accounts()[index].address
    }

    /// A fresh [`EscrowHarness`] on the genesis token and hub modules, deployed by dev account
    /// `index`.
    pub(crate) async fn deploy_harness(
        &self,
        index: usize,
    ) -> EscrowHarness::EscrowHarnessInstance<DynProvider> {
        let d = &self.deployment;
        EscrowHarness::deploy(self.provider(index), d.token, d.hub_market, d.hub_views)
            .await
            .expect("the harness deploys")
    }

    /// A provider that signs with dev account `index`.
    pub(crate) fn provider(&self, index: usize) -> DynProvider {
        let signer: PrivateKeySigner = self.handle.dev_accounts()[index].signer();
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(self.handle.http_url().parse().expect("url"))
            .erased()
    }
}

alloy::sol!(
    /// The hub with `lock`, `unlock`, `reward`, `seize` and its order signature check callable
    /// (tests only).
    #[sol(rpc)]
    #[derive(Debug)]
    EscrowHarness,
    "../../contracts/out/EscrowHarness.json"
);

/// The registry token id of the asset at `asset`.
pub(crate) fn token_id(asset: Address) -> U256 {
    U256::from_be_slice(asset.as_slice())
}

/// The first event `E` that the contract at `emitter` logged in `receipt`.
pub(crate) fn emitted<E: alloy::sol_types::SolEvent>(
    receipt: &alloy::rpc::types::TransactionReceipt,
    emitter: Address,
) -> E {
    agora_testkit::market::event(receipt, emitter)
        .unwrap_or_else(|| panic!("no {} from {emitter} in {receipt:?}", E::SIGNATURE))
}

/// The custom error `E` a call reverted with.
pub(crate) fn reverted_with<E: SolError>(error: alloy::contract::Error) -> E {
    agora_testkit::market::reverted(Err::<(), _>(error))
}

pub(crate) use agora_testkit::mined;
