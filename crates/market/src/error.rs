//! What can stop the market.

use std::{net::SocketAddr, path::PathBuf};

/// What can stop the market from starting or working.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database file.
    #[error("database {path}: {source}")]
    Database {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// The database's directory cannot be created.
    #[error("cannot create {path}: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A database query.
    #[error("database: {0}")]
    Query(#[from] rusqlite::Error),
    /// The database belongs to another chain or hub.
    #[error("database {path} belongs to {found}, not {expected}")]
    WrongDatabase {
        /// The file.
        path: PathBuf,
        /// What it is for.
        found: String,
        /// What this market is for.
        expected: String,
    },
    /// A stored value does not read back.
    #[error("database: corrupt {0}")]
    Corrupt(String),
    /// A list cursor this market did not give.
    #[error("cursor {0:?} is not one this market gave: pass the `next` of a previous page")]
    Cursor(String),
    /// The RPC URL.
    #[error("bad RPC URL {0:?}")]
    RpcUrl(String),
    /// The chain did not answer, or not as a hub would.
    #[error("chain: {0}")]
    Chain(String),
    /// The listen address.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A database task stopped before it answered (the market is stopping).
    #[error("the database task stopped: {0}")]
    Stopped(String),
}

/// The market's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
