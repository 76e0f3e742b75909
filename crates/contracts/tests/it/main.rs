//! Tests of the protocol contracts: the committed bytecode on the embedded chain.

mod artifacts;
mod common;
mod registries;
mod token;
