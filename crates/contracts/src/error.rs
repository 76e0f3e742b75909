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
    /// The node refused the creation of a contract.
    #[error("deploying {name}: the node refused the transaction")]
    Deploy {
        /// The contract.
        name: &'static str,
        /// The node's answer.
        #[source]
        source: alloy::transports::TransportError,
    },
    /// The creation of a contract was sent but its receipt could not be had.
    #[error("deploying {name}: no receipt")]
    DeployReceipt {
        /// The contract.
        name: &'static str,
        /// Why.
        #[source]
        source: alloy::providers::PendingTransactionError,
    },
    /// The creation of a contract reverted (out of gas, code too large, ...).
    #[error("deploying {name}: transaction {transaction} reverted")]
    DeployReverted {
        /// The contract.
        name: &'static str,
        /// The creation's transaction.
        transaction: alloy::primitives::B256,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
