//! A hostile requester's input files: URLs that point at the worker's own disk or at the
//! services on its loopback. A worker run as `agora worker` runs by default refuses them
//! before fetching, the replicate fails with the reason, and the app never runs; the same
//! deal on a worker in local development (`agora dev`) does reach the app, so the refusal is
//! the policy's and not an accident of the test.

use agora_api::scheduler::ReplicateStatus;
use agora_testkit::market::DATASET_OWNER;
use agora_worker::FetchPolicy;
use alloy::primitives::{B256, U256};
use sha2::{Digest, Sha256};

use crate::net::{Net, unzip};

const READER: &str = "examples/dataset-reader/dataset-reader.wasm";
const COMPLETED: u8 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_files_on_the_workers_disk_or_loopback_never_reach_the_app() {
    let mut net = Net::start(READER).await;
    // The app and dataset are files of this test; the requester's inputs get the default.
    net.start_worker_with(0, |config| config.input_fetch = FetchPolicy::default())
        .await;
    let words = net.dir.path().join("dataset.txt");
    std::fs::write(&words, b"one two\n").unwrap();
    let sha = B256::from(<[u8; 32]>::from(Sha256::digest(b"one two\n")));
    let dataset = net
        .world
        .create_dataset(
            DATASET_OWNER,
            "words",
            &format!("file://{}", words.display()),
            sha,
        )
        .await;
    // What a requester would like to read: a file of the worker's, its scheduler's API.
    let secret = net.dir.path().join("stolen.key");
    std::fs::write(&secret, b"0x59c6995e998f97a5a0044966f0945389").unwrap();
    let scheduler = net.scheduler_url();
    let port = scheduler.rsplit(':').next().unwrap().trim_end_matches('/');
    let order = |net: &Net, inputs: &[String], salt: u8| {
        let mut orders = net.orders_with_dataset(dataset, salt);
        orders.request.params = serde_json::json!({ "iexec_input_files": inputs }).to_string();
        orders
    };
    let file_url = format!("file://{}", secret.display());
    for (salt, url, reason) in [
        (
            0x61,
            file_url.clone(),
            "file:// URLs are read from the worker's own disk".to_string(),
        ),
        (
            0x62,
            format!("{scheduler}/v1/tasks"),
            "127.0.0.1 is a loopback address, which this workerpool does not fetch from".into(),
        ),
        (
            0x63,
            format!("http://localhost:{port}/v1/tasks"),
            "localhost resolves to".into(),
        ),
    ] {
        let orders = order(&net, std::slice::from_ref(&url), salt);
        let task = net.deal(&orders).await.task(U256::ZERO);
        let refusal = net
            .until_replicate(task, ReplicateStatus::DataDownloadFailed)
            .await;
        assert!(refusal.contains("input file 1"), "{refusal}");
        assert!(refusal.contains(&url), "{refusal}");
        assert!(refusal.contains(&reason), "{url}: {refusal}");
        let view = net.view(task).await.expect("the task");
        assert!(
            !view.history.iter().any(|e| e.status == "COMPUTING"),
            "{url}: the app ran: {:?}",
            view.history
        );
    }

    // The same input on a worker in local development reaches the app: the refusal above
    // is the policy's.
    net.kill_worker(0).await;
    net.start_worker(0, false).await;
    let task = net
        .deal(&order(&net, &[file_url], 0x64))
        .await
        .task(U256::ZERO);
    net.until_chain_status(task, COMPLETED).await;
    let files = unzip(&net.download(task).await);
    let result = String::from_utf8(files["result.txt"].clone()).unwrap();
    assert!(result.contains("input files: 1"), "{result}");
    assert!(result.contains(": 34 bytes"), "{result}");
    net.stop().await;
}
