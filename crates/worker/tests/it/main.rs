//! Tests of the worker's runtime on real WebAssembly: the fixtures of `examples/wat` and the
//! example apps of `examples/`.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod examples_build;
mod fetch;
mod replicate;
mod sandbox;
mod wasi;
