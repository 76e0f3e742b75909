//! Uploads by authorized workers, refusals that name what is wrong, downloads by task id.

use agora_api::{
    ApiError,
    results::{ResultLink, Stored, headers, path},
};
use agora_primitives::{ResultUpload, TaskId};
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
        let task = world.task(&world.orders()).await;
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

#[tokio::test]
async fn an_authorized_worker_uploads_and_anyone_downloads_by_task_id() {
    let setup = Setup::start().await;
    let worker = WORKERS[0];
    let archive = b"PK\x05\x06 a result archive".to_vec();
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
    // The same bytes again are fine; other bytes are not.
    let again = setup
        .put(setup.task, worker, SCHEDULER, worker, &archive)
        .await;
    assert_eq!(again.status().as_u16(), 200);
    let other = setup
        .put(setup.task, worker, SCHEDULER, worker, b"other")
        .await;
    let error = setup.refusal(other, 409).await;
    assert!(error.contains("already has a result"), "{error}");
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
    assert_eq!(response.status().as_u16(), 413);
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
