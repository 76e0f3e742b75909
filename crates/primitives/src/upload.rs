//! A worker's signature of the result it uploads to a result store.

use alloy_primitives::{Address, B256, Bytes, keccak256};
use alloy_signer::SignerSync;
use serde::{Deserialize, Serialize};

use crate::{Result, TaskId, signature};

/// What a worker signs to upload a task's result archive: that it, the holder of the worker
/// key, sends these bytes for this task. The scheduler's [`WorkerpoolAuthorization`] says the
/// worker may work on the task, but it is public once the worker contributes; this signature
/// is what only the worker can make.
///
/// [`WorkerpoolAuthorization`]: crate::WorkerpoolAuthorization
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultUpload {
    /// The task.
    pub task_id: TaskId,
    /// The sha256 of the archive.
    pub archive_sha256: B256,
}

impl ResultUpload {
    /// What is signed: `keccak("agora.result.upload" ‖ taskid ‖ sha256(archive))`.
    pub fn message(&self) -> B256 {
        keccak256(
            [
                b"agora.result.upload".as_slice(),
                self.task_id.as_ref(),
                self.archive_sha256.as_slice(),
            ]
            .concat(),
        )
    }

    /// The worker's signature: the personal-sign (EIP-191) of [`ResultUpload::message`].
    pub fn sign(&self, worker: &impl SignerSync) -> Result<Bytes> {
        signature::sign_personal(worker, self.message())
    }

    /// The account that made `sign`.
    pub fn recover_signer(&self, sign: &[u8]) -> Result<Address> {
        signature::recover_personal(sign, self.message())
    }
}

#[cfg(test)]
mod tests {
    use alloy_signer_local::PrivateKeySigner;

    use super::*;

    #[test]
    fn the_worker_signature_recovers_to_the_worker_and_binds_task_and_bytes() {
        let worker = PrivateKeySigner::random();
        let upload = ResultUpload {
            task_id: TaskId::new(B256::repeat_byte(1)),
            archive_sha256: B256::repeat_byte(2),
        };
        let sign = upload.sign(&worker).unwrap();
        assert_eq!(upload.recover_signer(&sign).unwrap(), worker.address());
        let other = ResultUpload {
            archive_sha256: B256::repeat_byte(3),
            ..upload
        };
        assert_ne!(other.recover_signer(&sign).unwrap(), worker.address());
    }
}
