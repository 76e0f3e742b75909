//! Tests of the protocol contracts: the committed bytecode on the embedded chain.

mod artifacts;
mod common;
mod hub_accounts;
mod hub_orders;
mod orders;
mod registries;
mod token;
