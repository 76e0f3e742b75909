//! Agora's protocol contracts for Rust.
//!
//! The Solidity sources live in `contracts/src` at the workspace root and their compiled
//! artifacts are committed in `contracts/out` (rebuilt by `node contracts/build.js`). This crate
//! turns the artifacts into typed bindings ([`RLC`], [`AppRegistry`], [`App`], [`Hub`], ...), each with
//! its ABI, its bytecode and an RPC instance type (`RLC::new(address, provider)`), and says where
//! the contracts are: [`Deployment`] reads the addresses from the chain's `deployment.json`, and
//! with the `genesis` feature [`genesis`] lists what the embedded dev chain deploys.

mod deployment;
mod error;

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

alloy::sol!(
    /// The hub, the protocol's single address. For now its accounts (`deposit`, `depositFor`,
    /// `depositForArray`, `withdraw`, `withdrawTo`, `receiveApproval` for the token's
    /// `approveAndCall`, `viewAccount`, SRLC ("Staked RLC") as an ERC-20), its orders (`domain`,
    /// `manage*Order`, `viewConsumed`, `viewPresigned`; the order structs are in `LibOrders`)
    /// and its categories (`createCategory`, `viewCategory`, `countCategory`, `owner`).
    #[sol(rpc)]
    #[derive(Debug)]
    Hub,
    "../../contracts/out/Hub.json"
);

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
