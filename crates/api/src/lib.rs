//! The request and response types of the HTTP APIs between Agora's services, shared by the
//! servers and their clients.

use serde::{Deserialize, Serialize};

pub mod market;
pub mod openapi;
pub mod scheduler;

/// The body of every error response: what went wrong, in one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiError {
    /// What went wrong.
    pub error: String,
}

/// The result store (`agora results`).
pub mod results {
    use alloy_primitives::B256;
    use serde::{Deserialize, Serialize};

    /// `PUT` the archive here to upload it, `GET` it to download it.
    pub fn path(task_id: B256) -> String {
        format!("/v1/results/{task_id}")
    }

    /// Whether an upload the store refused with `status` may be accepted later: 425 (the
    /// chain does not yet say whether the uploader is a revealed winner), 429 and 5xx. Every
    /// other refusal is final for that archive from that worker.
    pub fn retryable(status: u16) -> bool {
        status == 425 || status == 429 || status >= 500
    }

    /// The headers an upload carries.
    pub mod headers {
        /// The uploading worker's address.
        pub const WORKER: &str = "agora-worker";
        /// The scheduler's authorization of the worker for the task (hex, 65 bytes).
        pub const AUTHORIZATION: &str = "agora-authorization";
        /// The worker's signature of the upload (hex, 65 bytes; agora-primitives'
        /// `ResultUpload`).
        pub const SIGNATURE: &str = "agora-signature";
    }

    /// The result link that `finalize` records (spec §7.4).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct ResultLink {
        /// Where the result is kept: `agora` for an Agora result store.
        pub storage: String,
        /// Its location there: the download URL.
        pub location: String,
    }

    impl ResultLink {
        /// The link to task `task_id`'s result in the store at `base_url`.
        pub fn agora(base_url: &str, task_id: B256) -> Self {
            Self {
                storage: "agora".into(),
                location: format!("{}{}", base_url.trim_end_matches('/'), path(task_id)),
            }
        }

        /// The bytes `finalize` records: the link as JSON.
        pub fn to_bytes(&self) -> Vec<u8> {
            serde_json::to_vec(self).unwrap_or_default()
        }
    }

    /// The answer to an upload.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct Stored {
        /// The task.
        #[schema(value_type = String)]
        pub task_id: B256,
        /// The sha256 of the archive, under which it is stored.
        #[schema(value_type = String)]
        pub sha256: B256,
        /// Its size in bytes.
        pub size: u64,
        /// The link for `finalize`.
        pub link: ResultLink,
    }
}
