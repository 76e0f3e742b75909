//! The result store (`agora results`): workers upload their task's result archive, the
//! requester downloads it by task id.
//!
//! An upload is accepted only from a worker the task's scheduler authorized (the workerpool
//! owner's [`WorkerpoolAuthorization`], read against the chain) and signed by that worker
//! ([`ResultUpload`]: the authorization alone is public once the worker has contributed).
//! It is kept only if the chain certifies it: the uploader's contribution is PROVED (a
//! revealed winner) and the archive's result digest, computed from its `computed.json` with
//! the code the worker used ([`TaskResult`]), is the task's on-chain `resultDigest`. Before the
//! uploader's reveal is mined the answer is 425 (retry); a loser's, a silent worker's or a
//! forged archive is refused for good. Archives are content-addressed on disk and a task's
//! result never changes once stored. The
//! result link that `finalize` records is [`ResultLink::agora`].
//!
//! [`WorkerpoolAuthorization`]: agora_primitives::WorkerpoolAuthorization
//! [`ResultUpload`]: agora_primitives::ResultUpload
//! [`TaskResult`]: agora_primitives::archive::TaskResult
//! [`ResultLink::agora`]: agora_api::results::ResultLink::agora

mod server;
mod store;

pub use server::{Config, Handle, serve};
pub use store::{Store, StoreError};
