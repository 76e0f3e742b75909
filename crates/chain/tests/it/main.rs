//! Integration tests of the embedded chain, over real HTTP and WebSocket on loopback.

mod common;
mod contracts;
mod durability;
mod errors;
mod rpc_basics;
mod subscriptions;
mod time;
