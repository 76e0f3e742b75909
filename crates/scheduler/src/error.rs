//! What can stop the scheduler.

use std::{net::SocketAddr, path::PathBuf};

/// What can stop the scheduler from starting or working.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database.
    #[error("database {path}: {source}")]
    Database {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// A database query.
    #[error("database: {0}")]
    Query(#[from] rusqlite::Error),
    /// The database belongs to another workerpool or chain.
    #[error("database {path} belongs to {found}, not {expected}")]
    WrongDatabase {
        /// The file.
        path: PathBuf,
        /// What it is for.
        found: String,
        /// What this scheduler is for.
        expected: String,
    },
    /// The RPC URL.
    #[error("bad RPC URL {0:?}")]
    RpcUrl(String),
    /// The chain did not answer or refused.
    #[error("chain: {0}")]
    Chain(String),
    /// The key does not own the workerpool.
    #[error("the key's account {key} does not own workerpool {workerpool} (its owner is {owner})")]
    NotOwner {
        /// The key's address.
        key: alloy::primitives::Address,
        /// The workerpool.
        workerpool: alloy::primitives::Address,
        /// Its owner.
        owner: alloy::primitives::Address,
    },
    /// The listen address.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The scheduler's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A chain error, as text.
pub(crate) fn chain(error: impl std::fmt::Display) -> Error {
    Error::Chain(error.to_string())
}
