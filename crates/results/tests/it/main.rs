//! Tests of the result store against a real task on the embedded chain, over loopback HTTP.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod upload;
