//! The scheduler's authorization of a worker for a task (spec §4.4, §7.6).

use alloy_primitives::{Address, B256, Bytes, keccak256};
use alloy_signer::SignerSync;
use serde::{Deserialize, Serialize};

use crate::{Result, TaskId, signature};

/// The permission a scheduler gives one worker to contribute to one task, possibly bound to a TEE
/// enclave challenge. The contract accepts a contribution only with the workerpool owner's (or,
/// with an enclave, the TEE broker's) signature of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerpoolAuthorization {
    /// The authorized worker.
    pub worker: Address,
    /// The task.
    pub task_id: TaskId,
    /// The enclave challenge address; zero for a task run outside a TEE.
    pub enclave_challenge: Address,
}

impl WorkerpoolAuthorization {
    /// What is signed: `keccak(worker ‖ taskid ‖ enclaveChallenge)`.
    pub fn message(&self) -> B256 {
        keccak256(
            [
                self.worker.as_slice(),
                self.task_id.as_ref(),
                self.enclave_challenge.as_slice(),
            ]
            .concat(),
        )
    }

    /// The scheduler's signature: the personal-sign (EIP-191) of
    /// [`WorkerpoolAuthorization::message`].
    pub fn sign(&self, scheduler: &impl SignerSync) -> Result<Bytes> {
        signature::sign_personal(scheduler, self.message())
    }

    /// The account that made `sign`.
    pub fn recover_signer(&self, sign: &[u8]) -> Result<Address> {
        signature::recover_personal(sign, self.message())
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{address, b256, bytes};
    use alloy_signer_local::PrivateKeySigner;

    use super::*;

    /// The authorization of the §11.2 vectors: Hardhat #1 as worker, task 0 of the first deal.
    fn authorization(enclave_challenge: Address) -> WorkerpoolAuthorization {
        WorkerpoolAuthorization {
            worker: address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
            task_id: TaskId::new(b256!(
                "cd8e08dcfdc7c7ef80b668002098f200b0dd727da6d09a962447b59cce77747d"
            )),
            enclave_challenge,
        }
    }

    #[test]
    fn message_is_the_upstream_concatenate_and_hash() {
        // Spec §11.1 (commons-poco HashUtilsTests concatenateAndHash, three values).
        let authorization = WorkerpoolAuthorization {
            worker: address!("0x748e091bf16048cb5103E0E10F9D5a8b7fBDd860"),
            task_id: TaskId::new(b256!(
                "d94b63fc2d3ec4b96daf84b403bbafdc8c8517e8e2addd51fec0fa4e67801be8"
            )),
            enclave_challenge: address!("0x9a43BB008b7A657e1936ebf5d8e28e5c5E021596"),
        };
        assert_eq!(
            authorization.message(),
            b256!("54a76d209e8167e1ffa3bde8e3e7b30068423ca9554e1d605d8ee8fd0f165562")
        );
    }

    #[test]
    fn scheduler_signature_matches_derived_vector() {
        // Spec §11.2, Hardhat #0 as scheduler.
        let scheduler: PrivateKeySigner =
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
                .parse()
                .unwrap();
        let authorization = authorization(Address::ZERO);
        assert_eq!(
            authorization.message(),
            b256!("4b50de58cb13882287115c1f72d5fc446327bbb4392269e6ea84f9f75d8bba12")
        );
        let sign = authorization.sign(&scheduler).unwrap();
        assert_eq!(
            sign,
            bytes!(
                "9c3ee7f19954b37865cd5f12d4d071f3d82181cfb6e85181835e752bdf690df55f4f9018dab57e292385311e4711152875ac43338b8c74485c9e5eb4e2bf9a501b"
            )
        );
        assert_eq!(
            authorization.recover_signer(&sign).unwrap(),
            address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        );
    }

    #[test]
    fn message_with_enclave_matches_derived_vector() {
        // Spec §11.2, the post-compute test enclave.
        let authorization = authorization(address!("0x9605a0B32a4b9bbE41043459ef4d1507600C10B1"));
        assert_eq!(
            authorization.message(),
            b256!("8d8dda9873072cadc03902cb2c994a97d87326af7292e94090e3bd056806b423")
        );
    }

    #[test]
    fn signature_for_another_worker_recovers_someone_else() {
        let scheduler = PrivateKeySigner::random();
        let sign = authorization(Address::ZERO).sign(&scheduler).unwrap();
        let mut other = authorization(Address::ZERO);
        other.worker = Address::repeat_byte(2);
        assert_ne!(other.recover_signer(&sign).unwrap(), scheduler.address());
    }
}
