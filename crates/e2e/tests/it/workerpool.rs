//! A workerpool at work: deals matched on chain become tasks that the scheduler's workers run
//! and that the protocol certifies.

use agora_api::{results::ResultLink, scheduler::TaskStatus};
use agora_primitives::{
    Nrlc,
    consensus::{Contributor, distribute},
};
use agora_testkit::market::{APP_OWNER, REQUESTER, SCHEDULER, WORKERS, rlc};
use alloy::primitives::{B256, U256};
use std::sync::atomic::Ordering::Relaxed;

use sha2::{Digest, Sha256};

use crate::net::{Net, unzip};

const HELLO: &str = "examples/hello/hello.wasm";
const COMPLETED: u8 = 3;

/// The sha256 of the file that `computed.json` in `files` names.
fn deterministic_digest(files: &std::collections::BTreeMap<String, Vec<u8>>) -> B256 {
    let computed: serde_json::Value =
        serde_json::from_slice(&files["computed.json"]).expect("computed.json");
    let path = computed["deterministic-output-path"]
        .as_str()
        .expect("a deterministic output path");
    let name = path.trim_start_matches("/iexec_out/");
    B256::from(<[u8; 32]>::from(Sha256::digest(&files[name])))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_at_trust_1_certifies_the_result_and_pays_everyone_as_the_spec_says() {
    let mut net = Net::start(HELLO).await;
    net.start_worker(0, false).await;
    let world = &net.world;
    let people = [APP_OWNER, SCHEDULER, WORKERS[0], REQUESTER];
    let mut before = Vec::new();
    for who in people {
        before.push(world.account(world.address(who)).await);
    }

    let deal = net.deal(&net.orders(1, 1, 0x51)).await;
    let task = deal.task(U256::ZERO);
    net.until_chain_status(task, COMPLETED).await;
    let view = net.until_status(task, TaskStatus::Completed).await;

    // The result, downloaded through the link that finalize recorded, is what was certified.
    let chain_task = net.world.view_task(task).await;
    let link: ResultLink = serde_json::from_slice(&chain_task.results).expect("a result link");
    assert_eq!(link, ResultLink::agora(&net.results_url(), *task.as_b256()));
    assert_eq!(
        view.result_link.as_deref().map(str::as_bytes),
        Some(&chain_task.results[..])
    );
    let files = unzip(&net.download(task).await);
    assert_eq!(files["result.txt"], b"Hello, hello!\n");
    assert_eq!(deterministic_digest(&files), chain_task.resultDigest);

    // Everyone is paid as spec §5.3 says: app 1 RLC, workerpool 10 RLC, worker stake 30 %
    // (3 RLC), scheduler ratio 1 %.
    let payout = distribute(
        Nrlc::new(rlc(1)),
        Nrlc::ZERO,
        Nrlc::new(rlc(10)),
        Nrlc::new(rlc(3)),
        1,
        &[Contributor {
            worker: net.world.address(WORKERS[0]),
            score: 0,
            proved: true,
        }],
    );
    let mut after = Vec::new();
    for who in people {
        after.push(net.world.account(net.world.address(who)).await);
    }
    let gained = |i: usize| after[i].0 - before[i].0;
    assert_eq!(gained(0), wide(payout.app_owner));
    assert_eq!(gained(1), wide(payout.scheduler));
    assert_eq!(gained(2), wide(payout.workers[0].reward));
    assert_eq!(
        before[3].0 - after[3].0,
        rlc(11),
        "the requester pays the app and the pool"
    );
    for (i, (_, locked)) in after.iter().enumerate() {
        assert_eq!(
            *locked, before[i].1,
            "nothing stays locked for {}",
            people[i]
        );
    }
    // A single contribution does not change the score.
    assert_eq!(net.world.score(WORKERS[0]).await, U256::ZERO);

    // Every status change is recorded with its reason.
    let statuses: Vec<&str> = view.history.iter().map(|e| e.status.as_str()).collect();
    for expected in [
        "RECEIVED",
        "INITIALIZING",
        "INITIALIZED",
        "ASSIGNED",
        "RUNNING",
        "COMPUTING",
        "CONTRIBUTED",
        "CONSENSUS_REACHED",
        "REVEALED",
        "RESULT_UPLOADING",
        "RESULT_UPLOADED",
        "FINALIZING",
        "COMPLETED",
    ] {
        assert!(
            statuses.contains(&expected),
            "{expected} missing from {statuses:?}"
        );
    }
    assert!(view.history.iter().all(|e| !e.reason.is_empty()));
    let stats = net.worker(0).stats();
    assert_eq!(stats.computed.load(Relaxed), 1);
    assert_eq!(stats.uploaded.load(Relaxed), 1);
    net.world.assert_conserved().await;
    net.stop().await;
}

fn wide(amount: Nrlc) -> U256 {
    amount.into()
}
