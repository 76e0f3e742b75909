//! Errors of the worker's runtime.

use std::path::{Path, PathBuf};

use crate::{Checksum, FetchError, Fetched};

/// What can go wrong running an app, other than the app itself misbehaving (which is an
/// [`Exit`](crate::Exit), not an error).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// wasmtime refused the configuration.
    #[error("the WebAssembly engine failed: {0}")]
    Engine(String),
    /// The bytes are not a WebAssembly module a worker runs (not wasm, or imports other
    /// than WASI preview 1).
    #[error("not a runnable WebAssembly module: {0}")]
    InvalidModule(String),
    /// A directory for the app could not be opened.
    #[error("cannot open {path} for the app: {reason}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The sandbox's clock thread could not start.
    #[error("cannot start the sandbox's clock thread")]
    Thread(#[source] std::io::Error),
    /// The module is not the one the app's checksum names.
    #[error("the module's checksum is {actual}, the app's is {expected}: refusing to run it")]
    ChecksumMismatch {
        /// The checksum registered for the app.
        expected: Checksum,
        /// The checksum of what was fetched.
        actual: Checksum,
    },
    /// The app's module, the dataset or an input file could not be fetched.
    #[error("cannot fetch {what} from {url}: {reason}")]
    Fetch {
        /// What.
        what: Fetched,
        /// Where from.
        url: String,
        /// Why.
        reason: FetchError,
    },
    /// A file of the task could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The deal's params are not what an app can be given.
    #[error("bad params: {0}")]
    Params(String),
    /// The app's output is not a result the protocol can certify.
    #[error("bad result: {0}")]
    BadResult(String),
}

impl Error {
    pub(crate) fn engine(error: wasmtime::Error) -> Self {
        Self::Engine(format!("{error:#}"))
    }

    pub(crate) fn invalid_module(error: wasmtime::Error) -> Self {
        Self::InvalidModule(format!("{error:#}"))
    }

    pub(crate) fn dir(path: &Path, error: impl std::fmt::Display) -> Self {
        Self::Dir {
            path: path.to_path_buf(),
            reason: error.to_string(),
        }
    }

    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
