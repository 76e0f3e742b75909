//! Dev accounts derived from a mnemonic (BIP-39, path m/44'/60'/0'/0/i).

use alloy_primitives::{Address, B256};
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};

use crate::error::{Error, Result};

/// A funded account whose key the node holds.
#[derive(Clone)]
pub struct DevAccount {
    /// The account's address.
    pub address: Address,
    signer: PrivateKeySigner,
}

impl std::fmt::Debug for DevAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevAccount")
            .field("address", &self.address)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl DevAccount {
    /// The private key. Dev keys are public knowledge: never use them on a real chain.
    pub fn private_key(&self) -> B256 {
        self.signer.to_bytes()
    }

    /// A signer for this account.
    pub fn signer(&self) -> PrivateKeySigner {
        self.signer.clone()
    }
}

/// Derives `count` accounts from `mnemonic`.
pub fn derive(mnemonic: &str, count: u32) -> Result<Vec<DevAccount>> {
    (0..count)
        .map(|index| {
            let signer = MnemonicBuilder::<English>::default()
                .phrase(mnemonic)
                .index(index)
                .and_then(|b| b.build())
                .map_err(|e| Error::Mnemonic {
                    index,
                    reason: e.to_string(),
                })?;
            Ok(DevAccount {
                address: signer.address(),
                signer,
            })
        })
        .collect()
}
