//! Tests of the protocol contracts: the committed bytecode on the embedded chain.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_arguments,
    reason = "tests: a failed unwrap is a failed test; the harness's binding has iExec's seven-argument contributeAndFinalize"
)]

mod artifacts;
mod common;
mod conservation;
mod hub_accounts;
mod hub_deals;
mod hub_orders;
mod hub_tasks;
mod orders;
mod registries;
mod token;
