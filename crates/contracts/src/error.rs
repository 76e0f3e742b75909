//! Errors of this crate.

/// What can go wrong reading a deployment.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The deployment has no contract under this name.
    #[error("the deployment has no contract named {name}")]
    MissingContract {
        /// The name looked for.
        name: &'static str,
    },
    /// `deployment.json` could not be parsed.
    #[error("deployment.json is not a valid deployment")]
    DeploymentJson(#[source] serde_json::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
