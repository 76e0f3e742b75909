//! Uploads by revealed winners of archives whose digest is the chain's, refusals that name
//! what is wrong (retryable or final), downloads by task id.

use agora_api::{
    ApiError,
    results::{ResultLink, Stored, headers, path},
};
use agora_primitives::{ResultDigest, ResultUpload, TaskId};
use agora_testkit::market::{SCHEDULER, STRANGER, WORKERS, World};
use alloy::primitives::{Address, B256};
use sha2::{Digest, Sha256};

struct Setup {
    world: World,
    store: agora_results::Handle,
    _dir: tempfile::TempDir,
    task: TaskId,
    http: reqwest::Client,
}

impl Setup {
    async fn start() -> Self {
        let world = World::start().await;
        let task = world.task(&world.orders_at_trust(1, 1)).await;
        Self::on(world, task).await
    }

    /// A store on `world`'s chain, for `task`.
    async fn on(world: World, task: TaskId) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = agora_results::serve(agora_results::Config {
            dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            rpc_url: world.url().to_string(),
            hub: world.hub,
            public_url: None,
            max_bytes: 1 << 20,
        })
        .await
        .unwrap();
        Self {
            world,
            store,
            _dir: dir,
            task,
            http: reqwest::Client::new(),
        }
    }

    /// PUTs `body` for `task` as `worker`, with the scheduler's authorization signed by
    /// `authorizer` and the upload signed by `uploader`.
    async fn put(
        &self,
        task: TaskId,
        worker: usize,
        authorizer: usize,
        uploader: usize,
        body: &[u8],
    ) -> reqwest::Response {
        let worker_address = self.world.address(worker);
        let authorization = agora_primitives::WorkerpoolAuthorization {
            worker: worker_address,
            task_id: task,
            enclave_challenge: Address::ZERO,
        }
        .sign(&self.world.signer(authorizer))
        .unwrap();
        let signature = ResultUpload {
            task_id: task,
            archive_sha256: B256::from(<[u8; 32]>::from(Sha256::digest(body))),
        }
        .sign(&self.world.signer(uploader))
        .unwrap();
        self.http
            .put(format!("{}{}", self.store.url(), path(*task.as_b256())))
            .header(headers::WORKER, worker_address.to_string())
            .header(headers::AUTHORIZATION, authorization.to_string())
            .header(headers::SIGNATURE, signature.to_string())
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    async fn refusal(&self, response: reqwest::Response, status: u16) -> String {
        assert_eq!(response.status().as_u16(), status);
        response.json::<ApiError>().await.unwrap().error
    }
}

/// A result archive as a worker writes it: `computed.json` naming `result.txt`, with `extra`
/// files that are not part of the digest.
fn archive(result: &[u8], extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let computed: &[u8] = br#"{"deterministic-output-path":"/iexec_out/result.txt"}"#;
    for (name, bytes) in [("computed.json", computed), ("result.txt", result)]
        .into_iter()
        .chain(extra.iter().copied())
    {
        zip.start_file(name, options).unwrap();
        std::io::Write::write_all(&mut zip, bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// The result digest of `archive(result, _)`: the sha256 of `result.txt`.
fn digest(result: &[u8]) -> ResultDigest {
    ResultDigest::new(B256::from(<[u8; 32]>::from(Sha256::digest(result))))
}

#[tokio::test]
async fn a_revealed_winners_archive_is_stored_and_anyone_downloads_it_by_task_id() {
    let setup = Setup::start().await;
    let worker = WORKERS[0];
    let archive = archive(b"42", &[]);
    setup
        .world
        .contribute(worker, setup.task, digest(b"42"))
        .await;
    // Contributed, not revealed: come back later.
    let early = setup
        .put(setup.task, worker, SCHEDULER, worker, &archive)
        .await;
    let error = setup.refusal(early, 425).await;
    assert!(error.contains("has not revealed its result"), "{error}");
    assert!(agora_api::results::retryable(425));
    setup.world.reveal(worker, setup.task, digest(b"42")).await;
    let response = setup
        .put(setup.task, worker, SCHEDULER, worker, &archive)
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let stored: Stored = response.json().await.unwrap();
    assert_eq!(stored.task_id, *setup.task.as_b256());
    assert_eq!(stored.size, archive.len() as u64);
    assert_eq!(
        stored.sha256,
        B256::from(<[u8; 32]>::from(Sha256::digest(&archive)))
    );
    assert_eq!(
        stored.link,
        ResultLink::agora(setup.store.url(), *setup.task.as_b256())
    );
    assert_eq!(stored.link.storage, "agora");
    // The link's location is where it downloads.
    let downloaded = setup.http.get(&stored.link.location).send().await.unwrap();
    assert_eq!(downloaded.status().as_u16(), 200);
    assert_eq!(
        downloaded.headers()["content-type"].to_str().unwrap(),
        "application/zip"
    );
    assert_eq!(downloaded.bytes().await.unwrap().to_vec(), archive);
    // The same bytes again are fine; other bytes, even of the same digest, are not kept.
    let again = setup
        .put(setup.task, worker, SCHEDULER, worker, &archive)
        .await;
    assert_eq!(again.status().as_u16(), 200);
    let other = archive_with_log(&setup, worker).await;
    let error = setup.refusal(other, 409).await;
    assert!(
        error.contains("already has its certified result"),
        "{error}"
    );
    let kept = setup.http.get(&stored.link.location).send().await.unwrap();
    assert_eq!(kept.bytes().await.unwrap().to_vec(), archive);
    setup.store.shutdown().await;
    setup.world.shutdown().await;
}

async fn archive_with_log(setup: &Setup, worker: usize) -> reqwest::Response {
    let other = archive(b"42", &[("log.txt", b"not deterministic")]);
    setup
        .put(setup.task, worker, SCHEDULER, worker, &other)
        .await
}

#[tokio::test]
async fn losing_silent_and_forging_workers_are_refused_for_good_and_the_winner_is_stored() {
    let world = World::start().await;
    let task = world.task(&world.orders_at_trust(3, 4)).await;
    let setup = Setup::on(world, task).await;
    let [winner, second, third, loser, silent] = WORKERS;
    let honest = archive(b"honest", &[]);
    let forged = archive(b"forged", &[]);
    // The loser votes for its forgery first; three others agree on the honest result.
    setup.world.contribute(loser, task, digest(b"forged")).await;
    // Weights 2 each: 2 × 2 × 2 = 8 against 2, the consensus of trust 3 (8 × 3 > 11 × 2).
    for worker in [winner, second, third] {
        setup
            .world
            .contribute(worker, task, digest(b"honest"))
            .await;
    }
    assert_eq!(setup.world.view_task(task).await.status, 2, "REVEALING");
    let lost = setup.put(task, loser, SCHEDULER, loser, &forged).await;
    let error = setup.refusal(lost, 403).await;
    assert_eq!(
        error,
        format!(
            "worker {} is not a revealed winner of task {task}: its contribution is not the consensus or was never revealed",
            setup.world.address(loser)
        )
    );
    let quiet = setup.put(task, silent, SCHEDULER, silent, &honest).await;
    let error = setup.refusal(quiet, 403).await;
    assert!(
        error.contains("it has no winning contribution on chain"),
        "{error}"
    );
    setup.world.reveal(winner, task, digest(b"honest")).await;
    // A revealed winner with another archive than the one it revealed.
    let swapped = setup.put(task, winner, SCHEDULER, winner, &forged).await;
    let error = setup.refusal(swapped, 422).await;
    assert_eq!(
        error,
        format!(
            "the archive's result digest {} is not task {task}'s on-chain result digest {}",
            digest(b"forged"),
            digest(b"honest")
        )
    );
    let garbage = setup.put(task, winner, SCHEDULER, winner, b"garbage").await;
    let error = setup.refusal(garbage, 422).await;
    assert!(
        error.starts_with("the result archive is not a readable zip archive"),
        "{error}"
    );
    for refused in [422, 403] {
        assert!(!agora_api::results::retryable(refused));
    }
    // Nothing of theirs was kept; the winner's archive is.
    let url = format!("{}{}", setup.store.url(), path(*task.as_b256()));
    let none = setup.http.get(&url).send().await.unwrap();
    setup.refusal(none, 404).await;
    let stored = setup.put(task, winner, SCHEDULER, winner, &honest).await;
    assert_eq!(stored.status().as_u16(), 200);
    let kept = setup.http.get(&url).send().await.unwrap();
    assert_eq!(kept.bytes().await.unwrap().to_vec(), honest);
    setup.store.shutdown().await;
    setup.world.shutdown().await;
}

#[tokio::test]
async fn a_worker_that_contributed_and_finalized_alone_uploads_its_result() {
    let world = World::start().await;
    let task = world.task(&world.orders_at_trust(1, 5)).await;
    let setup = Setup::on(world, task).await;
    let worker = WORKERS[0];
    let honest = archive(b"alone", &[]);
    let link = ResultLink::agora(setup.store.url(), *task.as_b256()).to_bytes();
    setup
        .world
        .contribute_and_finalize(worker, task, digest(b"alone"), &link, &[])
        .await;
    let forged = setup
        .put(task, worker, SCHEDULER, worker, &archive(b"other", &[]))
        .await;
    setup.refusal(forged, 422).await;
    let stored = setup.put(task, worker, SCHEDULER, worker, &honest).await;
    assert_eq!(stored.status().as_u16(), 200);
    setup.store.shutdown().await;
    setup.world.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_bad_task_ids_and_methods_are_refused_in_json() {
    let setup = Setup::start().await;
    let base = setup.store.url().to_string();
    let cases = [
        (
            reqwest::Method::GET,
            format!("{base}/nope"),
            404,
            "no such path /nope",
        ),
        (
            reqwest::Method::GET,
            format!("{base}/v1/results/xyz"),
            400,
            "\"xyz\" is not a task id",
        ),
        (
            reqwest::Method::PUT,
            format!("{base}/v1/results/0x12"),
            400,
            "\"0x12\" is not a task id",
        ),
        (
            reqwest::Method::POST,
            format!("{base}{}", path(*setup.task.as_b256())),
            405,
            "downloaded with GET and uploaded with PUT",
        ),
    ];
    for (method, url, status, expected) in cases {
        let response = setup.http.request(method, &url).send().await.unwrap();
        let error = setup.refusal(response, status).await;
        assert!(error.contains(expected), "{url}: {error}");
    }
    setup.store.shutdown().await;
    setup.world.shutdown().await;
}

#[tokio::test]
async fn uploads_without_the_schedulers_authorization_or_the_workers_signature_are_refused() {
    let setup = Setup::start().await;
    let worker = WORKERS[0];
    let archive = b"result".to_vec();
    // An authorization signed by someone else than the workerpool's owner.
    let forged = setup
        .put(setup.task, worker, STRANGER, worker, &archive)
        .await;
    let error = setup.refusal(forged, 403).await;
    assert!(
        error.starts_with(&format!(
            "the authorization is not the scheduler's ({})",
            setup.world.address(SCHEDULER)
        )),
        "{error}"
    );
    // The scheduler's authorization of a worker, replayed by someone else.
    let replayed = setup
        .put(setup.task, worker, SCHEDULER, STRANGER, &archive)
        .await;
    let error = setup.refusal(replayed, 403).await;
    assert_eq!(
        error,
        format!(
            "the upload is not signed by worker {}",
            setup.world.address(worker)
        )
    );
    // A task nobody initialized.
    let unknown = TaskId::new(B256::repeat_byte(9));
    let response = setup
        .put(unknown, worker, SCHEDULER, worker, &archive)
        .await;
    let error = setup.refusal(response, 404).await;
    assert!(error.contains("is not initialized on chain"), "{error}");
    // A missing header.
    let response = setup
        .http
        .put(format!(
            "{}{}",
            setup.store.url(),
            path(*setup.task.as_b256())
        ))
        .body(archive.clone())
        .send()
        .await
        .unwrap();
    let error = setup.refusal(response, 400).await;
    assert_eq!(
        error,
        "the agora-worker header must be the worker's address"
    );
    // Too large.
    let huge = vec![0u8; (1 << 20) + 1];
    let response = setup
        .put(setup.task, worker, SCHEDULER, worker, &huge)
        .await;
    let error = setup.refusal(response, 413).await;
    assert!(error.contains("length limit"), "{error}");
    // Nothing was stored.
    let response = setup
        .http
        .get(format!(
            "{}{}",
            setup.store.url(),
            path(*setup.task.as_b256())
        ))
        .send()
        .await
        .unwrap();
    let error = setup.refusal(response, 404).await;
    assert!(error.contains("has no result here"), "{error}");
    setup.store.shutdown().await;
    setup.world.shutdown().await;
}
