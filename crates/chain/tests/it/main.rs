//! Integration tests of the embedded chain, over real HTTP and WebSocket on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod common;
mod contracts;
mod control;
mod cors;
mod differential;
mod durability;
mod errors;
mod genesis;
mod history;
mod js_clients;
mod pool;
mod rpc_basics;
mod signing;
mod subscriptions;
mod time;
mod trace;
