//! Tests of the built `agora` binary.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod app;
mod chain;
mod kill;
mod network;
mod order;
