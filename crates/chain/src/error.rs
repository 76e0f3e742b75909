//! Errors of the chain.

use std::path::PathBuf;

use alloy_primitives::{Address, B256, U256};

/// Result alias for the chain.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong when opening, running or serving the chain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file of the data directory could not be read or written.
    #[error("data directory: cannot access {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The data directory was created for another chain.
    #[error("data directory {dir} holds chain id {found}, but chain id {wanted} was asked for")]
    ChainIdMismatch {
        /// The data directory.
        dir: PathBuf,
        /// Chain id recorded at genesis.
        found: u64,
        /// Chain id from the configuration.
        wanted: u64,
    },
    /// A record of the block log cannot be decoded although its checksum matches.
    #[error("block log {path} is corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// Offset of the bad record.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The RPC server could not bind its address.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The mnemonic does not derive keys.
    #[error("cannot derive dev account {index} from the mnemonic: {reason}")]
    Mnemonic {
        /// Account index.
        index: u32,
        /// What is wrong.
        reason: String,
    },
    /// A genesis contract was not deployed.
    #[error("genesis contract {name} was not deployed: {reason}")]
    Genesis {
        /// Contract name.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// A genesis contract needs a deployer, but no dev account is configured.
    #[error("genesis contracts need at least one dev account to deploy them")]
    NoDeployer,
    /// The chain has shut down.
    #[error("the chain has shut down")]
    ShutDown,
}

/// Why a transaction was refused. The messages follow go-ethereum's wording, which clients
/// and people already recognise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The bytes are not a signed transaction.
    #[error("failed to decode signed transaction: {0}")]
    Decode(String),
    /// Transaction types other than legacy, EIP-2930 and EIP-1559.
    #[error(
        "transaction type {0} not supported: this chain accepts legacy (0), EIP-2930 (1) and EIP-1559 (2)"
    )]
    UnsupportedType(u8),
    /// The signature does not recover a sender.
    #[error("invalid signature: the sender cannot be recovered")]
    InvalidSignature,
    /// The transaction is signed for another chain.
    #[error("invalid chain id: transaction is signed for chain {got}, this chain is {expected}")]
    WrongChainId {
        /// Chain id in the transaction.
        got: u64,
        /// This chain's id.
        expected: u64,
    },
    /// The transaction is larger than the node accepts.
    #[error("oversized data: transaction size {size}, limit {limit}")]
    Oversized {
        /// Encoded size in bytes.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// A transaction with this hash is already pending or mined.
    #[error("already known: transaction {0} was already submitted")]
    AlreadyKnown(B256),
    /// Nonce below the sender's next nonce.
    #[error("nonce too low: next nonce {expected}, tx nonce {got}")]
    NonceTooLow {
        /// Next nonce of the sender.
        expected: u64,
        /// Nonce in the transaction.
        got: u64,
    },
    /// The pool of transactions waiting for an earlier nonce is full, for this sender or in
    /// total.
    #[error(
        "txpool is full: {waiting} transactions already wait for an earlier nonce ({scope}, at most {limit}); send the missing nonce {expected} first"
    )]
    PoolFull {
        /// Whose limit: the sender's, or the whole pool's.
        scope: String,
        /// How many wait.
        waiting: usize,
        /// The limit.
        limit: usize,
        /// The nonce that would let them through.
        expected: u64,
    },
    /// Nonce above the sender's next nonce (used where no pool waits: a block's execution).
    #[error("nonce too high: next nonce {expected}, tx nonce {got}")]
    NonceTooHigh {
        /// Next nonce of the sender.
        expected: u64,
        /// Nonce in the transaction.
        got: u64,
    },
    /// The sender cannot pay for gas and value.
    #[error("insufficient funds for gas * price + value: address {sender} have {have} want {want}")]
    InsufficientFunds {
        /// Sender.
        sender: Address,
        /// Balance.
        have: U256,
        /// gas limit * max fee + value.
        want: U256,
    },
    /// Gas limit below the intrinsic cost.
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    IntrinsicGas {
        /// Gas limit of the transaction.
        gas: u64,
        /// Intrinsic gas.
        needed: u64,
    },
    /// Gas limit above the block gas limit.
    #[error("exceeds block gas limit: gas {gas}, block gas limit {limit}")]
    GasLimit {
        /// Gas limit of the transaction.
        gas: u64,
        /// Block gas limit.
        limit: u64,
    },
    /// The fee cap does not cover the base fee.
    #[error("max fee per gas less than block base fee: maxFeePerGas {max_fee}, baseFee {base_fee}")]
    FeeCapTooLow {
        /// Max fee per gas of the transaction.
        max_fee: u128,
        /// Base fee of the next block.
        base_fee: u64,
    },
    /// The tip is above the fee cap.
    #[error("max priority fee per gas higher than max fee per gas: tip {tip}, cap {cap}")]
    TipAboveFeeCap {
        /// Max priority fee.
        tip: u128,
        /// Max fee.
        cap: u128,
    },
    /// `eth_sendTransaction` from an account whose key the node does not hold.
    #[error(
        "unknown account {0}: eth_sendTransaction signs only for the dev accounts and impersonated addresses (anvil_impersonateAccount); sign the transaction yourself and use eth_sendRawTransaction"
    )]
    UnknownAccount(Address),
    /// The EVM refused the transaction when it was executed.
    #[error("transaction rejected: {0}")]
    Rejected(String),
    /// The node shut down before the transaction was mined.
    #[error("the node shut down before the transaction was mined")]
    ShutDown,
}
