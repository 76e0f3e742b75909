//! A worker's login to its scheduler: the EIP-712 signature of a challenge the scheduler made,
//! which proves that the worker holds its key (spec §7.1 uses the same shape, under the domain
//! `("iExec Core", "1", chainId)`; Agora's domain names its own scheduler).

use alloy_primitives::{Address, B256, Bytes};
use alloy_signer::SignerSync;
use alloy_sol_types::{Eip712Domain, SolStruct, eip712_domain, sol};

use crate::{Result, signature};

sol! {
    /// The typed data a worker signs to log in.
    #[derive(Debug)]
    struct Challenge {
        string challenge;
    }
}

/// A login challenge of a scheduler on chain `chain_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginChallenge {
    /// The chain the scheduler works on.
    pub chain_id: u64,
    /// The challenge's text (random, made by the scheduler, used once).
    pub challenge: String,
}

impl LoginChallenge {
    /// The EIP-712 domain: `("Agora Scheduler", "1", chainId)`, without a verifying contract.
    pub fn domain(chain_id: u64) -> Eip712Domain {
        eip712_domain! {
            name: "Agora Scheduler",
            version: "1",
            chain_id: chain_id,
        }
    }

    /// The hash that is signed.
    pub fn signing_hash(&self) -> B256 {
        Challenge {
            challenge: self.challenge.clone(),
        }
        .eip712_signing_hash(&Self::domain(self.chain_id))
    }

    /// The worker's signature.
    pub fn sign(&self, worker: &impl SignerSync) -> Result<Bytes> {
        signature::sign_raw(worker, self.signing_hash())
    }

    /// The account that made `sign`.
    pub fn recover_signer(&self, sign: &[u8]) -> Result<Address> {
        signature::recover_raw(sign, self.signing_hash())
    }
}

#[cfg(test)]
mod tests {
    use alloy_signer_local::PrivateKeySigner;

    use super::*;

    #[test]
    fn the_signer_is_recovered_and_another_challenge_does_not_verify() {
        let worker = PrivateKeySigner::random();
        let login = LoginChallenge {
            chain_id: 31337,
            challenge: "0x01".into(),
        };
        let sign = login.sign(&worker).unwrap();
        assert_eq!(login.recover_signer(&sign).unwrap(), worker.address());
        let other = LoginChallenge {
            challenge: "0x02".into(),
            ..login.clone()
        };
        assert_ne!(other.recover_signer(&sign).unwrap(), worker.address());
        let elsewhere = LoginChallenge {
            chain_id: 1,
            ..login
        };
        assert_ne!(elsewhere.recover_signer(&sign).unwrap(), worker.address());
    }
}
