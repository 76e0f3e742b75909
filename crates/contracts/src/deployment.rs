//! Where the protocol contracts are, and what the dev chain deploys at genesis.

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The names under which the contracts are recorded in `deployment.json`, in deployment order.
pub mod names {
    /// The token.
    pub const TOKEN: &str = "RLC";
    /// The app registry.
    pub const APP_REGISTRY: &str = "AppRegistry";
    /// The dataset registry.
    pub const DATASET_REGISTRY: &str = "DatasetRegistry";
    /// The workerpool registry.
    pub const WORKERPOOL_REGISTRY: &str = "WorkerpoolRegistry";
    /// The hub's market module.
    pub const HUB_MARKET: &str = "HubMarket";
    /// The hub's views module.
    pub const HUB_VIEWS: &str = "HubViews";
    /// The hub.
    pub const HUB: &str = "Hub";

    /// All of them, in the order genesis deploys them.
    pub const ALL: [&str; 7] = [
        TOKEN,
        APP_REGISTRY,
        DATASET_REGISTRY,
        WORKERPOOL_REGISTRY,
        HUB_MARKET,
        HUB_VIEWS,
        HUB,
    ];
}

/// The addresses of the protocol contracts on one chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deployment {
    /// The ERC-20 token ([`RLC`](crate::RLC) on the dev chain).
    pub token: Address,
    /// The [`AppRegistry`](crate::AppRegistry).
    pub app_registry: Address,
    /// The [`DatasetRegistry`](crate::DatasetRegistry).
    pub dataset_registry: Address,
    /// The [`WorkerpoolRegistry`](crate::WorkerpoolRegistry).
    pub workerpool_registry: Address,
    /// The hub's market module ([`HubMarket`](crate::HubMarket)); clients call the hub.
    pub hub_market: Address,
    /// The hub's views module ([`HubViews`](crate::HubViews)); clients call the hub.
    pub hub_views: Address,
    /// The [`Hub`](crate::Hub): the protocol's address.
    pub hub: Address,
}

impl Deployment {
    /// The addresses [`genesis`] gives when `deployer` sends the creations with nonces 0, 1, ...
    /// (as the embedded chain does), known before the chain starts.
    pub fn predict(deployer: Address) -> Self {
        Self {
            token: deployer.create(0),
            app_registry: deployer.create(1),
            dataset_registry: deployer.create(2),
            workerpool_registry: deployer.create(3),
            hub_market: deployer.create(4),
            hub_views: deployer.create(5),
            hub: deployer.create(6),
        }
    }

    /// Reads the addresses from the text of the chain's `deployment.json`.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        #[derive(Deserialize)]
        struct File {
            contracts: Vec<Entry>,
        }
        #[derive(Deserialize)]
        struct Entry {
            name: String,
            address: Address,
        }
        let file: File = serde_json::from_slice(json).map_err(Error::DeploymentJson)?;
        Self::lookup(|name| {
            file.contracts
                .iter()
                .find(|entry| entry.name == name)
                .map(|entry| entry.address)
        })
    }

    /// Reads the addresses from the embedded chain's deployment record.
    #[cfg(feature = "genesis")]
    pub fn from_file(file: &agora_chain::DeploymentFile) -> Result<Self> {
        Self::lookup(|name| file.address(name))
    }

    fn lookup(address: impl Fn(&str) -> Option<Address>) -> Result<Self> {
        let get = |name: &'static str| address(name).ok_or(Error::MissingContract { name });
        Ok(Self {
            token: get(names::TOKEN)?,
            app_registry: get(names::APP_REGISTRY)?,
            dataset_registry: get(names::DATASET_REGISTRY)?,
            workerpool_registry: get(names::WORKERPOOL_REGISTRY)?,
            hub_market: get(names::HUB_MARKET)?,
            hub_views: get(names::HUB_VIEWS)?,
            hub: get(names::HUB)?,
        })
    }
}

/// What the embedded dev chain deploys at genesis, in order: the token (which mints the whole
/// supply to the deployer), the three registries (each deploys its asset implementation in its
/// constructor), the hub's two modules (the market module given the registries' addresses),
/// then the hub, given the token's and the modules' addresses from [`Deployment::predict`]
/// (the deployer becomes the hub's owner):
/// `deployer` is the account that sends the creations, the chain's first dev account.
#[cfg(feature = "genesis")]
pub fn genesis(deployer: Address) -> Vec<agora_chain::GenesisContract> {
    use alloy::sol_types::SolValue;

    use crate::{AppRegistry, DatasetRegistry, Hub, HubMarket, HubViews, RLC, WorkerpoolRegistry};

    let predicted = Deployment::predict(deployer);

    // The registries' `previous` registry: none on a fresh chain.
    let no_previous = Address::ZERO.abi_encode();
    let contract = |name: &str, bytecode: &alloy::primitives::Bytes, args: &[u8]| {
        agora_chain::GenesisContract {
            name: name.into(),
            bytecode: bytecode.clone(),
            constructor_args: args.to_vec().into(),
        }
    };
    vec![
        contract(names::TOKEN, &RLC::BYTECODE, &[]),
        contract(names::APP_REGISTRY, &AppRegistry::BYTECODE, &no_previous),
        contract(
            names::DATASET_REGISTRY,
            &DatasetRegistry::BYTECODE,
            &no_previous,
        ),
        contract(
            names::WORKERPOOL_REGISTRY,
            &WorkerpoolRegistry::BYTECODE,
            &no_previous,
        ),
        contract(
            names::HUB_MARKET,
            &HubMarket::BYTECODE,
            &(
                predicted.app_registry,
                predicted.dataset_registry,
                predicted.workerpool_registry,
            )
                .abi_encode_params(),
        ),
        contract(names::HUB_VIEWS, &HubViews::BYTECODE, &[]),
        contract(
            names::HUB,
            &Hub::BYTECODE,
            &(predicted.token, predicted.hub_market, predicted.hub_views).abi_encode_params(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use alloy::primitives::address;

    use super::*;

    /// The first dev account of the usual test mnemonic.
    const DEPLOYER: Address = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

    #[test]
    fn predicts_the_addresses_every_dev_tool_gives_the_first_creations() {
        let deployment = Deployment::predict(DEPLOYER);
        assert_eq!(
            deployment.token,
            address!("0x5FbDB2315678afecb367f032d93F642f64180aa3")
        );
        assert_eq!(
            deployment.workerpool_registry,
            address!("0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9")
        );
        assert_eq!(
            deployment.hub,
            address!("0x0165878A594ca255338adfa4d48449f69242Eb8F")
        );
    }

    #[test]
    fn reads_deployment_json_and_names_a_missing_contract() {
        let json = format!(
            r#"{{"chainId": 31337, "contracts": [
                {{"name": "RLC", "address": "{}"}},
                {{"name": "AppRegistry", "address": "{}"}},
                {{"name": "DatasetRegistry", "address": "{}"}},
                {{"name": "Hub", "address": "{}"}}
            ]}}"#,
            DEPLOYER.create(0),
            DEPLOYER.create(1),
            DEPLOYER.create(2),
            DEPLOYER.create(6)
        );
        let error = Deployment::from_json(json.as_bytes()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the deployment has no contract named WorkerpoolRegistry"
        );
        assert!(matches!(
            Deployment::from_json(b"[]"),
            Err(Error::DeploymentJson(_))
        ));
    }
}
