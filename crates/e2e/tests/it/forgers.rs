//! Hostile workers at the result store: a worker that lost the consensus, one that never
//! contributed, and workers that forge archives with the scheduler's real authorization, then
//! give up, cannot have their archive stored in the winner's place nor freeze the pool.

use std::time::Duration;

use agora_api::{
    ApiError,
    results::headers,
    scheduler::{self as api, Ask, Assignment, ReplicateStatus, StatusUpdate, TaskStatus},
};
use agora_primitives::{ResultUpload, TaskId, archive::TaskResult};
use agora_testkit::market::WORKERS;
use alloy::primitives::{B256, Bytes, U256};
use sha2::{Digest, Sha256};

use crate::net::{Net, PATIENCE, unzip};

const HELLO: &str = "examples/hello/hello.wasm";
const COMPLETED: u8 = 3;
/// The hub's contribution status of a contribution on chain, not revealed.
const CONTRIBUTED: u8 = 1;
/// The most bytes the store unpacks an archive to, in these tests.
const LIMIT: u64 = 16 << 20;

/// A zip archive of a result the app never gave: `result.txt` says `text`.
fn forged_archive(text: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, content) in [
        (
            "computed.json",
            r#"{"deterministic-output-path":"/iexec_out/result.txt"}"#,
        ),
        ("result.txt", text),
    ] {
        zip.start_file(name, options).expect("an entry");
        std::io::Write::write_all(&mut zip, content.as_bytes()).expect("written");
    }
    zip.finish().expect("a zip archive").into_inner()
}

/// PUTs `archive` as the result of `task`, as worker `i` (dev account `WORKERS[i]`) with the
/// scheduler's `authorization` of it, signed with the worker's own key as the store asks.
async fn upload(
    net: &Net,
    i: usize,
    task: TaskId,
    authorization: &Bytes,
    archive: &[u8],
) -> (u16, String) {
    let signature = ResultUpload {
        task_id: task,
        archive_sha256: B256::from(<[u8; 32]>::from(Sha256::digest(archive))),
    }
    .sign(&net.world.signer(WORKERS[i]))
    .expect("signs");
    let response = net
        .http
        .put(format!(
            "{}{}",
            net.results_url(),
            agora_api::results::path(*task.as_b256())
        ))
        .header(headers::WORKER, net.world.address(WORKERS[i]).to_string())
        .header(headers::AUTHORIZATION, authorization.to_string())
        .header(headers::SIGNATURE, signature.to_string())
        .body(archive.to_vec())
        .send()
        .await
        .expect("the store answers");
    let status = response.status().as_u16();
    if status == 200 {
        return (status, String::new());
    }
    let body: ApiError = response.json().await.expect("a JSON error body");
    (status, body.error)
}

/// A worker speaking to the scheduler on its own: it logs in with its key and asks for
/// replicates as any worker does, then does what it likes with them.
struct Hostile {
    i: usize,
    token: String,
}

impl Hostile {
    async fn login(net: &Net, i: usize) -> Self {
        let session = net.session(i).await;
        Self {
            i,
            token: session.token,
        }
    }

    /// One ask, saying it holds `holding` when `Some`: the replicate given, if any.
    async fn ask(&self, net: &Net, holding: Option<Vec<TaskId>>) -> Option<Assignment> {
        let response = net
            .http
            .post(format!("{}{}", net.scheduler_url(), api::ASK))
            .bearer_auth(&self.token)
            .json(&Ask {
                free_slots: 1,
                wait_ms: 1_000,
                holding,
            })
            .send()
            .await
            .expect("the scheduler answers");
        if response.status() == 200 {
            return Some(response.json().await.expect("an assignment"));
        }
        assert_eq!(response.status(), 204, "an ask is answered 200 or 204");
        None
    }

    /// Asks until the scheduler gives it a replicate.
    async fn replicate(&self, net: &Net) -> Assignment {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(assignment) = self.ask(net, None).await {
                return assignment;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "worker {} got no replicate in {PATIENCE:?}",
                self.i
            );
        }
    }

    async fn report(&self, net: &Net, task: TaskId, update: &StatusUpdate) -> u16 {
        net.http
            .post(format!("{}{}", net.scheduler_url(), api::status_path(task)))
            .bearer_auth(&self.token)
            .json(update)
            .send()
            .await
            .expect("the scheduler answers")
            .status()
            .as_u16()
    }
}

/// The stored archive of `task`: it is the honest one (the app's output) and its digest is
/// the task's on-chain result digest.
async fn assert_honest_archive_stored(net: &Net, task: TaskId) {
    let stored = net.download(task).await;
    let files = unzip(&stored);
    assert_eq!(
        files["result.txt"], b"Hello, hello!\n",
        "the app's own output"
    );
    let result = TaskResult::of_archive(&stored, LIMIT).expect("a result archive");
    assert_eq!(
        *result.digest.as_b256(),
        net.world.view_task(task).await.resultDigest,
        "the stored archive is the certified result"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_losing_or_silent_workers_upload_is_refused_and_the_winners_is_stored() {
    let mut net = Net::start(HELLO).await;
    // Trust 3: two fresh workers who agree reach the consensus; against a saboteur it takes
    // three. The saboteur (worker 2) starts first, so it holds a replicate of the task.
    net.start_worker(2, true).await;
    let deal = net.deal(&net.orders(3, 1, 0x71)).await;
    let task = deal.task(U256::ZERO);
    let saboteur = net.world.address(WORKERS[2]);
    net.until(task, "assigned to the saboteur", |v| {
        v.replicates.iter().any(|r| r.worker == saboteur)
    })
    .await;

    // Worker 4 is never given the task; with an authorization the scheduler's key signed,
    // it uploads a forgery before anyone has contributed.
    let silent = 4;
    let silent_authorization = net.world.authorization(WORKERS[silent], task);
    let forged = forged_archive("forged by a silent worker\n");
    let (status, error) = upload(&net, silent, task, &silent_authorization, &forged).await;
    assert_eq!(status, 403, "{error}");
    assert!(
        error.contains("it has no winning contribution on chain"),
        "{error}"
    );

    // The saboteur contributes a wrong result; before the consensus it may not upload.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while net.world.view_contribution(task, WORKERS[2]).await.status != CONTRIBUTED {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the saboteur did not contribute in {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let saboteur_authorization = net.world.authorization(WORKERS[2], task);
    let loser_forgery = forged_archive("forged by the loser\n");
    let (status, error) = upload(&net, 2, task, &saboteur_authorization, &loser_forgery).await;
    assert!(
        status == 425 || status == 403,
        "refused before the reveal: {status} {error}"
    );

    // Three honest workers outvote it, reveal and upload.
    for i in [0, 1, 3] {
        net.start_worker(i, false).await;
    }
    net.until_chain_status(task, COMPLETED).await;
    let view = net.until_status(task, TaskStatus::Completed).await;
    assert_honest_archive_stored(&net, task).await;
    assert!(
        view.replicates
            .iter()
            .any(|r| r.worker == saboteur && r.status == ReplicateStatus::Rejected),
        "the saboteur lost: {view:#?}"
    );

    // After the reveal neither the loser nor the silent worker may replace it.
    for (i, authorization) in [
        (2, &saboteur_authorization),
        (silent, &silent_authorization),
    ] {
        let (status, error) = upload(&net, i, task, authorization, &forged).await;
        assert_eq!(status, 403, "worker {i}: {error}");
        assert!(error.contains("is not a revealed winner"), "{error}");
    }
    assert_honest_archive_stored(&net, task).await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_that_forge_archives_cannot_freeze_a_task_or_the_pool() {
    let mut net = Net::start(HELLO).await;
    let deal = net.deal(&net.orders(1, 1, 0x72)).await;
    let task = deal.task(U256::ZERO);
    // Workers 2, 3 and 4 take the task's replicate one after the other, each uploads a forged
    // archive with the scheduler's own authorization of it, then says the app failed.
    for i in 2..5 {
        let hostile = Hostile::login(&net, i).await;
        let assignment = hostile.replicate(&net).await;
        assert_eq!(assignment.task_id, task);
        let forged = forged_archive(&format!("forged by worker {i}\n"));
        let (status, error) = upload(&net, i, task, &assignment.authorization, &forged).await;
        assert_eq!(status, 403, "worker {i}'s forgery: {error}");
        let failed = StatusUpdate::failed(ReplicateStatus::ComputeFailed, "the app trapped");
        assert_eq!(hostile.report(&net, task, &failed).await, 200);
    }

    // The honest workers complete the task with the app's result.
    for i in 0..2 {
        net.start_worker(i, false).await;
    }
    net.until_chain_status(task, COMPLETED).await;
    let view = net.until_status(task, TaskStatus::Completed).await;
    assert_honest_archive_stored(&net, task).await;
    assert!(
        view.history
            .iter()
            .all(|e| e.status != ReplicateStatus::ResultUploadFailed.as_str()),
        "no honest upload was refused: {view:#?}"
    );

    // And the pool still serves a new task.
    let next = net.deal(&net.orders(1, 1, 0x73)).await.task(U256::ZERO);
    net.until_chain_status(next, COMPLETED).await;
    assert_honest_archive_stored(&net, next).await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicate_whose_answer_was_lost_is_given_again_to_its_worker() {
    let mut net = Net::start(HELLO).await;
    let deal = net.deal(&net.orders(1, 1, 0x74)).await;
    let task = deal.task(U256::ZERO);
    // Worker 2 is given the task's replicate, then asks again saying it holds nothing, as a
    // worker killed before it wrote the replicate down does.
    let worker = Hostile::login(&net, 2).await;
    let given = worker.replicate(&net).await;
    assert_eq!(given.task_id, task);
    let again = worker
        .ask(&net, Some(Vec::new()))
        .await
        .expect("the replicate it does not hold is given again");
    assert_eq!(
        again, given,
        "the same replicate, with the same authorization"
    );
    // Holding it, it is given nothing new: trust 1 needs no second replicate.
    assert_eq!(worker.ask(&net, Some(vec![task])).await, None);
    let view = net.view(task).await.expect("the scheduler knows the task");
    assert!(
        view.history.iter().any(|e| e
            .reason
            .contains("given again: the worker does not hold it")),
        "{view:#?}"
    );

    // The real worker 2, with an empty journal, takes it back and completes the task.
    net.start_worker(2, false).await;
    net.until_chain_status(task, COMPLETED).await;
    net.until_status(task, TaskStatus::Completed).await;
    assert_honest_archive_stored(&net, task).await;
    net.stop().await;
}
