//! Agora's protocol contracts for Rust.
//!
//! The Solidity sources live in `contracts/src` at the workspace root and their compiled
//! artifacts are committed in `contracts/out` (rebuilt by `node contracts/build.js`). This crate
//! turns the artifacts into typed bindings ([`RLC`], [`AppRegistry`], [`App`], [`Hub`], ...), each with
//! its ABI, its bytecode and an RPC instance type (`RLC::new(address, provider)`), and says where
//! the contracts are: [`Deployment`] reads the addresses from the chain's `deployment.json`,
//! [`deploy`] puts the protocol on any Ethereum chain, and with the `genesis` feature
//! [`genesis`] lists what the embedded dev chain deploys.

mod convert;
mod deploy;
mod deployment;
mod error;

pub use deploy::deploy;
#[cfg(feature = "genesis")]
pub use deployment::genesis;
pub use deployment::{Deployment, names};
pub use error::{Error, Result};

alloy::sol!(
    /// The protocol's ERC-20 token (9 decimals, 87,000,000 RLC minted to the deployer), with
    /// `approveAndCall`.
    #[sol(rpc)]
    #[derive(Debug)]
    RLC,
    "../../contracts/out/RLC.json"
);

alloy::sol!(
    /// The ERC-721 registry of apps: `createApp`, `predictApp`, `isRegistered`.
    #[sol(rpc)]
    #[derive(Debug)]
    AppRegistry,
    "../../contracts/out/AppRegistry.json"
);

alloy::sol!(
    /// The ERC-721 registry of datasets: `createDataset`, `predictDataset`, `isRegistered`.
    #[sol(rpc)]
    #[derive(Debug)]
    DatasetRegistry,
    "../../contracts/out/DatasetRegistry.json"
);

alloy::sol!(
    /// The ERC-721 registry of workerpools: `createWorkerpool`, `predictWorkerpool`,
    /// `isRegistered`.
    #[sol(rpc)]
    #[derive(Debug)]
    WorkerpoolRegistry,
    "../../contracts/out/WorkerpoolRegistry.json"
);

/// The hub's binding, with the ABI types it shares with the modules (`LibOrders`,
/// `IexecLibCore`), re-exported at the crate root.
#[allow(
    clippy::too_many_arguments,
    reason = "iExec's contributeAndFinalize takes seven arguments"
)]
mod hub {
    alloy::sol!(
        /// The hub, the protocol's single address, with iExec's hub ABI: its own functions
        /// (accounts: `deposit`, `withdraw`, `receiveApproval` for the token's `approveAndCall`,
        /// `viewAccount`, SRLC as an ERC-20; the task lifecycle: `initialize`, `contribute`,
        /// `reveal`, `reopen`, `finalize`, `claim`, `contributeAndFinalize` and the array forms)
        /// plus those of the two modules its fallback delegatecalls ([`HubMarket`]: orders,
        /// `matchOrders`, `sponsorMatchOrders`, the EIP-712 domain; [`HubViews`]: categories, owner,
        /// configuration, `viewDeal`, `viewTask`, `viewContribution`, `viewScore`, `resultFor`,
        /// constants), with every event and error of the three.
        #[sol(rpc)]
        #[derive(Debug)]
        Hub,
        "../../contracts/out/Hub.json"
    );
}

pub use hub::*;

/// The hub's modules, each in its own namespace (their ABIs share the order and view types
/// with the hub's). Clients call them through [`Hub`]; these are for deploying them.
pub mod modules {
    /// The market module.
    pub mod market {
        alloy::sol!(
            /// The hub's market module (deployed before the hub, which takes its address).
            #[sol(rpc)]
            #[derive(Debug)]
            HubMarket,
            "../../contracts/out/HubMarket.json"
        );
    }

    /// The views-and-administration module.
    pub mod views {
        alloy::sol!(
            /// The hub's views-and-administration module (deployed before the hub, which
            /// takes its address).
            #[sol(rpc)]
            #[derive(Debug)]
            HubViews,
            "../../contracts/out/HubViews.json"
        );
    }
}

pub use modules::{market::HubMarket, views::HubViews};

alloy::sol!(
    /// One app (a clone of the registry's implementation): its fields and `owner()`.
    #[sol(rpc)]
    #[derive(Debug)]
    App,
    "../../contracts/out/App.json"
);

alloy::sol!(
    /// One dataset: its fields and `owner()`.
    #[sol(rpc)]
    #[derive(Debug)]
    Dataset,
    "../../contracts/out/Dataset.json"
);

alloy::sol!(
    /// One workerpool: its description, its policies, `changePolicy` and `owner()`.
    #[sol(rpc)]
    #[derive(Debug)]
    Workerpool,
    "../../contracts/out/Workerpool.json"
);
