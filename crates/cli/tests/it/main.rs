//! Tests of the built `agora` binary.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod chain;
mod order;
