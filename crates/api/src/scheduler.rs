//! The scheduler (`agora scheduler`): workers log in, ask for replicates, report their
//! statuses and wait for what to do next; anyone reads a task's history.
//!
//! Every call but the challenge, the login and the task views carries the session token as
//! `authorization: Bearer <token>`.

use agora_primitives::{DealId, ResultHash, TaskId};
use alloy_primitives::{Address, B256, Bytes};
use serde::{Deserialize, Serialize};

/// `GET` a login challenge (`?worker=0x…`).
pub const CHALLENGE: &str = "/v1/workers/challenge";
/// `POST` a [`Login`] for a [`Session`].
pub const LOGIN: &str = "/v1/workers/login";
/// `POST` an [`Ask`]: a long poll answered with an [`Assignment`] or, after the wait, 204.
pub const ASK: &str = "/v1/replicates/ask";
/// `GET` the tasks the scheduler knows (`?status=`), newest first.
pub const TASKS: &str = "/v1/tasks";
/// `POST` a [`Heartbeat`]: the worker is alive and runs these replicates (answered 204).
pub const HEARTBEAT: &str = "/v1/workers/heartbeat";

/// `POST` a [`StatusUpdate`] of the caller's replicate of `task`; answered with an
/// [`ActionReply`].
pub fn status_path(task: TaskId) -> String {
    format!("/v1/replicates/{task}/status")
}

/// `GET` what the caller's replicate of `task` should do next (`?wait_ms=`: a long poll that
/// returns early once the answer is not [`Action::Wait`]).
pub fn action_path(task: TaskId) -> String {
    format!("/v1/replicates/{task}/action")
}

/// `GET` a [`TaskView`].
pub fn task_path(task: TaskId) -> String {
    format!("/v1/tasks/{task}")
}

/// A login challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Challenge {
    /// The text to sign as agora-primitives' `LoginChallenge` (EIP-712).
    pub challenge: String,
    /// The chain id of the signature's domain.
    pub chain_id: u64,
    /// When it expires (seconds since the Unix epoch).
    pub expires_at: u64,
}

/// A worker logging in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Login {
    /// The worker's address.
    #[schema(value_type = String)]
    pub worker: Address,
    /// The challenge it was given.
    pub challenge: String,
    /// Its EIP-712 signature of the challenge.
    #[schema(value_type = String)]
    pub signature: Bytes,
}

/// A session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// The bearer token.
    pub token: String,
    /// When it expires (seconds since the Unix epoch).
    pub expires_at: u64,
}

/// A worker asking for a replicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ask {
    /// How many replicates it can start now.
    pub free_slots: u32,
    /// How long the scheduler may hold the request when it has nothing to give, in ms.
    pub wait_ms: u64,
    /// The tasks of the replicates it holds, when it says. A replicate the scheduler gave it
    /// that is not among them never reached it (the answer was lost, or it was killed before
    /// writing it down): the scheduler gives that one again before anything new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub holding: Option<Vec<TaskId>>,
}

/// A worker saying it is alive, with the replicates it is running: it sends one every few
/// seconds, busy or not, so that only a replicate whose worker is really gone is given to
/// another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    /// The tasks of the replicates it is running.
    #[schema(value_type = Vec<String>)]
    pub running: Vec<TaskId>,
}

/// A replicate given to a worker. The worker reads the deal, the app and the dataset from the
/// chain itself; the scheduler gives what only it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    /// The task.
    #[schema(value_type = String)]
    pub task_id: TaskId,
    /// Its deal.
    #[schema(value_type = String)]
    pub deal_id: DealId,
    /// Its index in the deal.
    pub index: u64,
    /// The enclave challenge (zero outside a TEE).
    #[schema(value_type = String)]
    pub enclave_challenge: Address,
    /// The scheduler's `WorkerpoolAuthorization` signature for this worker and task.
    #[schema(value_type = String)]
    pub authorization: Bytes,
    /// The result store to upload to.
    pub result_store: String,
    /// The contribution deadline (chain time, seconds).
    pub contribution_deadline: u64,
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value.
            pub const ALL: &[Self] = &[$(Self::$variant,)*];

            /// The name, as in JSON and in the scheduler's database.
            pub fn as_str(&self) -> &'static str {
                match self { $(Self::$variant => $text,)* }
            }

            /// The value named `text`.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum! {
    /// Where a task is, as the scheduler sees it (iExec's off-chain task statuses, spec §7.1).
    TaskStatus {
        /// The deal was seen; the task is not initialized yet.
        Received = "RECEIVED",
        /// `initialize` was sent.
        Initializing = "INITIALIZING",
        /// Initialized on chain; no replicate yet.
        Initialized = "INITIALIZED",
        /// Replicates are running.
        Running = "RUNNING",
        /// The chain reached consensus; winners are asked to reveal.
        ConsensusReached = "CONSENSUS_REACHED",
        /// At least one winner revealed.
        AtLeastOneRevealed = "AT_LEAST_ONE_REVEALED",
        /// A revealed worker was asked to upload the result.
        ResultUploading = "RESULT_UPLOADING",
        /// The result is in the result store.
        ResultUploaded = "RESULT_UPLOADED",
        /// `reopen` was sent: nobody revealed in time.
        Reopening = "REOPENING",
        /// `finalize` was sent.
        Finalizing = "FINALIZING",
        /// Finalized on chain: everyone is paid.
        Completed = "COMPLETED",
        /// The contribution deadline passed without consensus; the task waits for its final
        /// deadline to be claimed.
        ContributionTimeout = "CONTRIBUTION_TIMEOUT",
        /// `claim` was sent after the final deadline.
        Claiming = "CLAIMING",
        /// Claimed on chain: the requester is refunded.
        Failed = "FAILED",
    }
}

impl TaskStatus {
    /// Whether the task is over.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

named_enum! {
    /// Where a replicate is (iExec's replicate statuses, spec §7.2, with those Agora adds for
    /// what the scheduler decides).
    ReplicateStatus {
        /// Given to the worker.
        Assigned = "ASSIGNED",
        /// The worker started it.
        Started = "STARTED",
        /// The worker cannot run it (for example its stake is too low).
        StartFailed = "START_FAILED",
        /// Fetching the app.
        AppDownloading = "APP_DOWNLOADING",
        /// The app could not be fetched or does not match its checksum.
        AppDownloadFailed = "APP_DOWNLOAD_FAILED",
        /// The app is ready.
        AppDownloaded = "APP_DOWNLOADED",
        /// Fetching the dataset and input files.
        DataDownloading = "DATA_DOWNLOADING",
        /// The dataset or an input file could not be fetched or does not match.
        DataDownloadFailed = "DATA_DOWNLOAD_FAILED",
        /// The inputs are ready.
        DataDownloaded = "DATA_DOWNLOADED",
        /// The app runs.
        Computing = "COMPUTING",
        /// The app gave no result.
        ComputeFailed = "COMPUTE_FAILED",
        /// The app gave a result.
        Computed = "COMPUTED",
        /// `contribute` was sent.
        Contributing = "CONTRIBUTING",
        /// `contribute` failed.
        ContributeFailed = "CONTRIBUTE_FAILED",
        /// The contribution is on chain.
        Contributed = "CONTRIBUTED",
        /// `reveal` was sent.
        Revealing = "REVEALING",
        /// `reveal` failed.
        RevealFailed = "REVEAL_FAILED",
        /// The reveal is on chain.
        Revealed = "REVEALED",
        /// Uploading the result.
        ResultUploading = "RESULT_UPLOADING",
        /// The upload failed.
        ResultUploadFailed = "RESULT_UPLOAD_FAILED",
        /// The result is in the result store.
        ResultUploaded = "RESULT_UPLOADED",
        /// The task is finalized; the replicate is done.
        Completed = "COMPLETED",
        /// The scheduler stopped the replicate (the reason says why).
        Aborted = "ABORTED",
        /// The worker did not contribute in time or stopped answering: its place goes to
        /// another worker.
        WorkerLost = "WORKER_LOST",
        /// Its contribution lost the consensus, or it did not reveal: its stake is lost.
        Rejected = "REJECTED",
    }
}

impl ReplicateStatus {
    /// Whether the replicate will do nothing more.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::StartFailed
                | Self::AppDownloadFailed
                | Self::DataDownloadFailed
                | Self::ComputeFailed
                | Self::ContributeFailed
                | Self::RevealFailed
                | Self::Completed
                | Self::Aborted
                | Self::WorkerLost
                | Self::Rejected
        )
    }

    /// Whether the replicate failed before contributing (it will never contribute).
    pub fn failed_before_contributing(&self) -> bool {
        matches!(
            self,
            Self::StartFailed
                | Self::AppDownloadFailed
                | Self::DataDownloadFailed
                | Self::ComputeFailed
                | Self::ContributeFailed
                | Self::Aborted
                | Self::WorkerLost
        )
    }
}

/// A worker's report of its replicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusUpdate {
    /// The new status.
    pub status: ReplicateStatus,
    /// Why, for a failure (shown to the requester).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The contribution's result hash (with `CONTRIBUTED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub result_hash: Option<ResultHash>,
    /// The transaction (with `CONTRIBUTED` and `REVEALED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub transaction: Option<B256>,
    /// The callback data of the result (with `RESULT_UPLOADED`, for a deal with a callback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub callback_data: Option<Bytes>,
}

impl StatusUpdate {
    /// A plain status.
    pub fn new(status: ReplicateStatus) -> Self {
        Self {
            status,
            reason: None,
            result_hash: None,
            transaction: None,
            callback_data: None,
        }
    }

    /// A status with its reason.
    pub fn failed(status: ReplicateStatus, reason: impl Into<String>) -> Self {
        Self {
            reason: Some(reason.into()),
            ..Self::new(status)
        }
    }
}

/// What a worker's replicate should do next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    /// Carry on with what it does.
    Continue,
    /// Nothing yet: ask again.
    Wait,
    /// Reveal the result: the chain reached consensus on it.
    Reveal,
    /// Upload the result to the result store.
    Upload,
    /// The task is finalized: clean up.
    Complete,
    /// Stop: the reason says why.
    Abort {
        /// Why.
        reason: String,
    },
}

/// The answer to a status update or an action query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionReply {
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
}

/// One recorded status change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// When (milliseconds since the Unix epoch).
    pub at_ms: u64,
    /// The worker, for a replicate's change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub worker: Option<Address>,
    /// The new status.
    pub status: String,
    /// Why.
    pub reason: String,
}

/// One replicate of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicateView {
    /// Its worker.
    #[schema(value_type = String)]
    pub worker: Address,
    /// Its status.
    pub status: ReplicateStatus,
    /// Its contribution's result hash, once on chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub result_hash: Option<ResultHash>,
}

/// A task, as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    /// The task.
    #[schema(value_type = String)]
    pub task_id: TaskId,
    /// Its deal.
    #[schema(value_type = String)]
    pub deal_id: DealId,
    /// Its index in the deal.
    pub index: u64,
    /// Its status.
    pub status: TaskStatus,
    /// Its contribution and final deadlines (chain time, seconds).
    pub contribution_deadline: u64,
    /// See above.
    pub final_deadline: u64,
    /// The result link, once uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_link: Option<String>,
    /// Its replicates.
    pub replicates: Vec<ReplicateView>,
    /// Every status change of the task and its replicates, oldest first.
    pub history: Vec<Event>,
}

/// A task in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskSummary {
    /// The task.
    #[schema(value_type = String)]
    pub task_id: TaskId,
    /// Its deal.
    #[schema(value_type = String)]
    pub deal_id: DealId,
    /// Its index.
    pub index: u64,
    /// Its status.
    pub status: TaskStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(status.as_str()), Some(*status));
            let json = serde_json::to_string(status).unwrap();
            assert_eq!(json, format!("\"{status}\""));
        }
        for status in ReplicateStatus::ALL {
            assert_eq!(ReplicateStatus::parse(status.as_str()), Some(*status));
        }
        assert_eq!(TaskStatus::parse("DONE"), None);
    }

    #[test]
    fn actions_are_tagged() {
        let reply = ActionReply {
            action: Action::Abort {
                reason: "late".into(),
            },
        };
        let json = serde_json::to_value(&reply).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"action": "ABORT", "reason": "late"})
        );
        let back: ActionReply = serde_json::from_value(json).unwrap();
        assert_eq!(back, reply);
        let wait: ActionReply = serde_json::from_str(r#"{"action":"WAIT"}"#).unwrap();
        assert_eq!(wait.action, Action::Wait);
    }
}
