//! The result store (`agora results`): workers upload their task's result archive, the
//! requester downloads it by task id.
//!
//! An upload is accepted only from a worker the task's scheduler authorized (the workerpool
//! owner's [`WorkerpoolAuthorization`], read against the chain) and signed by that worker
//! ([`ResultUpload`]: the authorization alone is public once the worker has contributed).
//! Archives are content-addressed on disk and a task's result never changes once stored. The
//! result link that `finalize` records is [`ResultLink::agora`].
//!
//! [`WorkerpoolAuthorization`]: agora_primitives::WorkerpoolAuthorization
//! [`ResultUpload`]: agora_primitives::ResultUpload
//! [`ResultLink::agora`]: agora_api::results::ResultLink::agora

mod server;
mod store;

pub use server::{Config, Handle, serve};
pub use store::{Store, StoreError};
