//! A worker's result commitments (spec §4.4) and the enclave's signature over them (§7.7).

use alloy_primitives::{Address, Bytes, keccak256};
use alloy_signer::SignerSync;
use serde::{Deserialize, Serialize};

use crate::{Result, TaskId, newtype::b256_newtype, signature};

b256_newtype!(
    /// The digest of a task's result, on which workers reach consensus.
    ResultDigest
);

b256_newtype!(
    /// A worker's vote, `keccak(taskid ‖ resultDigest)`: the same for every honest worker.
    ResultHash
);

b256_newtype!(
    /// A worker's proof that it knew the digest, `keccak(worker ‖ taskid ‖ resultDigest)`.
    ResultSeal
);

impl ResultDigest {
    /// The digest of a task with a callback: `keccak(callbackData)`, which `finalize` checks
    /// against the callback data it is given.
    pub fn of_callback_data(data: &[u8]) -> Self {
        Self::new(keccak256(data))
    }
}

impl ResultHash {
    /// `keccak(taskid ‖ resultDigest)`.
    pub fn compute(task: TaskId, digest: ResultDigest) -> Self {
        Self::new(keccak256([task.as_ref(), digest.as_ref()].concat()))
    }
}

impl ResultSeal {
    /// `keccak(worker ‖ taskid ‖ resultDigest)`.
    pub fn compute(worker: Address, task: TaskId, digest: ResultDigest) -> Self {
        Self::new(keccak256(
            [worker.as_slice(), task.as_ref(), digest.as_ref()].concat(),
        ))
    }
}

/// What a worker submits with `contribute`: its vote and its seal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contribution {
    /// The vote.
    pub result_hash: ResultHash,
    /// The seal.
    pub result_seal: ResultSeal,
}

impl Contribution {
    /// The commitments of `worker` to `digest` for `task`.
    pub fn new(worker: Address, task: TaskId, digest: ResultDigest) -> Self {
        Self {
            result_hash: ResultHash::compute(task, digest),
            result_seal: ResultSeal::compute(worker, task, digest),
        }
    }

    /// What the enclave signs: `keccak(resultHash ‖ resultSeal)`.
    pub fn enclave_message(&self) -> alloy_primitives::B256 {
        keccak256([self.result_hash.as_ref(), self.result_seal.as_ref()].concat())
    }

    /// The enclave's signature: the personal-sign (EIP-191) of [`Contribution::enclave_message`]
    /// with the task's enclave challenge key.
    pub fn sign_by_enclave(&self, enclave: &impl SignerSync) -> Result<Bytes> {
        signature::sign_personal(enclave, self.enclave_message())
    }

    /// The enclave challenge address that made `sign`; the contract requires it to equal the
    /// contribution's `enclaveChallenge`.
    pub fn recover_enclave(&self, sign: &[u8]) -> Result<Address> {
        signature::recover_personal(sign, self.enclave_message())
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{address, b256, bytes};
    use alloy_signer_local::PrivateKeySigner;

    use super::*;

    /// Spec §11.2: task 0 of the first deal of the §2.8 request order.
    const TASK: TaskId = TaskId::new(b256!(
        "cd8e08dcfdc7c7ef80b668002098f200b0dd727da6d09a962447b59cce77747d"
    ));
    /// Hardhat dev account #1, the worker of the §11.2 vectors.
    const WORKER: Address = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");

    fn contribution() -> Contribution {
        Contribution::new(WORKER, TASK, ResultDigest::of_callback_data(b"result"))
    }

    #[test]
    fn digest_hash_and_seal_match_derived_vectors() {
        // Spec §11.2.
        assert_eq!(
            ResultDigest::of_callback_data(b"result").as_b256(),
            &b256!("06b0a4f426f6713234b2d4b2468640bc4e0bb72657a920ad24c5087153c593c8")
        );
        let contribution = contribution();
        assert_eq!(
            contribution.result_hash.as_b256(),
            &b256!("cf58d2b15d0fa9656af43b2c8306868e271c6ab151717c48121784222b7c2e86")
        );
        assert_eq!(
            contribution.result_seal.as_b256(),
            &b256!("46a20673aa8142d78acfb5385e640f3584034b99241b30de601af4a6a3318971")
        );
    }

    #[test]
    fn enclave_message_and_signature_match_derived_vectors() {
        // Spec §11.2, enclave key of the post-compute tests (§7.7).
        let enclave: PrivateKeySigner =
            "0xdd3b993ec21c71c1f6d63a5240850e0d4d8dd83ff70d29e49247958548c1d479"
                .parse()
                .unwrap();
        let contribution = contribution();
        assert_eq!(
            contribution.enclave_message(),
            b256!("e65ba27282e6725a4db2a11381db8d82d7524060280cb347406f5c8116019c51")
        );
        let sign = contribution.sign_by_enclave(&enclave).unwrap();
        assert_eq!(
            sign,
            bytes!(
                "584ebe075cca586e6e893964d0d0b13281d5c93ff598965421aac8af1256410a595085f71bafc0760df197eafdfb23b8e8641f84fd5187bb6bc1e6b658f8c13a1c"
            )
        );
        assert_eq!(
            contribution.recover_enclave(&sign).unwrap(),
            enclave.address()
        );
    }

    #[test]
    fn seals_differ_between_workers_but_hashes_agree() {
        let digest = ResultDigest::of_callback_data(b"result");
        let other = Contribution::new(Address::repeat_byte(1), TASK, digest);
        assert_eq!(other.result_hash, contribution().result_hash);
        assert_ne!(other.result_seal, contribution().result_seal);
    }

    #[test]
    fn contribution_json_is_camel_case() {
        let json = serde_json::to_value(contribution()).unwrap();
        assert_eq!(
            json["resultHash"],
            "0xcf58d2b15d0fa9656af43b2c8306868e271c6ab151717c48121784222b7c2e86"
        );
        assert_eq!(
            serde_json::from_value::<Contribution>(json).unwrap(),
            contribution()
        );
    }
}
