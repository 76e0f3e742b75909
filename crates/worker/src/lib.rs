//! The worker's runtime: apps are WebAssembly modules (WASI preview 1) run in a sandbox that a
//! hostile app cannot escape and that gives every worker the same result for the same task,
//! so that Proof-of-Contribution can certify it.
//!
//! - [`Sandbox`] compiles an app once per checksum and runs it with [`Limits`] (fuel, memory,
//!   wall clock, output size), no network, and only its two directories; a run ends with an
//!   [`Exit`] that names why it stopped.
//! - [`determinism`]: the clocks and randomness an app sees come from the task.
//! - [`TaskContext`]: the arguments and environment of spec §7.5; [`TaskResult`]: the
//!   `computed.json` and result digest of spec §7.3; [`write_archive`]: the result archive.
//! - [`Fetcher`]: the app, the dataset and the input files, fetched only as a [`FetchPolicy`]
//!   allows (no `file://` and no local or private address unless the workerpool says so).

pub mod daemon;
pub mod determinism;

mod checksum;
mod error;
mod fetch;
mod heartbeat;
mod journal;
mod replicate;
mod result;
mod sandbox;
mod shim;
mod task;

pub use checksum::{BadChecksum, Checksum};
pub use error::{Error, Result};
pub use fetch::{
    BadNetwork, Budget, FetchError, FetchPolicy, Fetched, Fetcher, IpNetwork, MAX_FETCH_BYTES,
    non_public,
};
pub use replicate::{Execution, Verdict, Workspace, execute, verify};
pub use result::{COMPUTED_JSON, ComputedFile, TaskResult, archive_of, tree_of, write_archive};
pub use sandbox::{
    App, Cancel, CancelOnDrop, Exit, FUEL_PER_SECOND, GUEST_IN, GUEST_OUT, Limits, Outcome,
    RunSpec, Sandbox, Stop,
};
pub use task::{DatasetInput, DealParams, TaskContext, split_args};
