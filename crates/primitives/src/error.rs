//! Errors of the primitives.

/// Result alias for the primitives.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong when signing or checking a signature.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The signer refused or failed to sign.
    #[error("signing failed")]
    Signing(#[source] alloy_signer::Error),
    /// A signature is neither 65 bytes (`r‖s‖v`) nor 64 bytes (EIP-2098 compact).
    #[error("signature is {len} bytes long; expected 65 (r, s, v) or 64 (EIP-2098)")]
    SignatureLength {
        /// The length found.
        len: usize,
    },
    /// A signature of the right length from which no signer can be recovered.
    #[error("signature does not recover a signer")]
    Unrecoverable(#[source] alloy_primitives::SignatureError),
}
