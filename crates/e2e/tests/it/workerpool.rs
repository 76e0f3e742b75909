//! A workerpool at work: deals matched on chain become tasks that the scheduler's workers run
//! and that the protocol certifies.

use agora_api::{
    results::ResultLink,
    scheduler::{ReplicateStatus, TaskStatus},
};
use agora_primitives::{
    Nrlc,
    consensus::{Contributor, distribute},
};
use agora_testkit::market::{APP_OWNER, REQUESTER, SCHEDULER, TIMEREF, WORKERS, rlc};
use alloy::primitives::{B256, U256};
use alloy::providers::Provider;
use std::sync::atomic::Ordering::Relaxed;

use sha2::{Digest, Sha256};

use crate::net::{Net, unzip};

const HELLO: &str = "examples/hello/hello.wasm";
pub(crate) const SLOW: &str = "crates/e2e/tests/fixtures/slow.wat";
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

const FAILED: u8 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_cannot_finish_is_claimed_at_its_final_deadline_and_the_requester_refunded() {
    let mut net = Net::start("examples/wat/trap.wat").await;
    net.start_worker(0, false).await;
    let requester = net.world.address(REQUESTER);
    let before = net.world.account(requester).await;
    let deal = net.deal(&net.orders(1, 1, 0x52)).await;
    let task = deal.task(U256::ZERO);
    let failure = net
        .until_replicate(task, ReplicateStatus::ComputeFailed)
        .await;
    assert!(failure.contains("trap"), "{}", failure);
    let locked = net.world.account(requester).await;
    assert_eq!(
        before.0 - locked.0,
        rlc(11),
        "the price is locked meanwhile"
    );

    // Nobody else can run it: at the final deadline the scheduler claims it.
    net.world.increase_time(10 * TIMEREF).await;
    net.until_chain_status(task, FAILED).await;
    let view = net.until_status(task, TaskStatus::Failed).await;
    assert!(
        view.history.iter().any(|e| e.status == "CLAIMING"),
        "{:#?}",
        view.history
    );
    assert_eq!(
        net.world.account(requester).await,
        before,
        "the requester is refunded"
    );
    net.world.assert_conserved().await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_of_a_deal_of_volume_100_completes() {
    let mut net = Net::start(HELLO).await;
    for i in 0..3 {
        net.start_worker(i, false).await;
    }
    let mut orders = net.orders(1, 100, 0x53);
    orders.app.appprice = Nrlc::ZERO;
    orders.workerpool.workerpoolprice = Nrlc::new(rlc(1));
    let deal = net.deal(&orders).await;
    for idx in 0..100u64 {
        net.until_chain_status(deal.task(U256::from(idx)), COMPLETED)
            .await;
    }
    let computed: u64 = (0..3)
        .map(|i| net.worker(i).stats().computed.load(Relaxed))
        .sum();
    assert_eq!(computed, 100, "each task ran once");
    net.world.assert_conserved().await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_killed_mid_deal_completes_it_after_a_restart_without_sending_anything_twice() {
    let mut net = Net::start(HELLO).await;
    net.start_worker(0, false).await;
    let mut orders = net.orders(1, 10, 0x54);
    orders.app.appprice = Nrlc::ZERO;
    orders.workerpool.workerpoolprice = Nrlc::new(rlc(1));
    let deal = net.deal(&orders).await;
    let tasks: Vec<_> = (0..10u64).map(|i| deal.task(U256::from(i))).collect();
    // Kill it once some tasks are done.
    let deadline = tokio::time::Instant::now() + crate::net::PATIENCE;
    loop {
        let mut done = 0;
        for task in &tasks {
            done += usize::from(net.world.view_task(*task).await.status == COMPLETED);
        }
        if done >= 2 {
            assert!(done < tasks.len(), "the deal ended before the kill");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no task completed");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    net.kill_scheduler().await;
    // A block while it is down, so it has something to catch up on.
    net.world.increase_time(1).await;
    net.start_scheduler().await;
    for task in &tasks {
        net.until_chain_status(*task, COMPLETED).await;
    }
    // Nothing that had finished ran again.
    assert_eq!(net.worker(0).stats().computed.load(Relaxed), 10);
    // Every transaction of the scheduler succeeded, and none was sent twice.
    let scheduler = net.world.address(SCHEDULER);
    let provider = net.world.provider(SCHEDULER);
    let head = provider.get_block_number().await.expect("a head");
    let mut inputs = std::collections::BTreeSet::new();
    let mut sent = 0;
    for number in 0..=head {
        let block = provider
            .get_block_by_number(number.into())
            .full()
            .await
            .expect("a block")
            .expect("it exists");
        for tx in block.transactions.txns() {
            if tx.inner.signer() != scheduler {
                continue;
            }
            sent += 1;
            let receipt = provider
                .get_transaction_receipt(*tx.inner.hash())
                .await
                .expect("a receipt")
                .expect("mined");
            assert!(
                receipt.status(),
                "a scheduler transaction reverted: {receipt:?}"
            );
            let input = alloy::consensus::Transaction::input(tx.inner.inner()).clone();
            assert!(inputs.insert(input), "a transaction was sent twice");
        }
    }
    // The world's setup deposited once; then initializations and ten finalizes.
    assert!(sent >= 12, "only {sent} scheduler transactions");
    net.world.assert_conserved().await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_replicate_is_replaced_and_the_task_completes() {
    let mut net = Net::start_tuned(SLOW, |config| {
        config.worker_lost_after = std::time::Duration::from_secs(4);
    })
    .await;
    for i in 0..3 {
        net.start_worker(i, false).await;
    }
    // Trust 3 takes two agreeing fresh workers.
    let deal = net.deal(&net.orders(3, 1, 0x55)).await;
    let task = deal.task(U256::ZERO);
    let view = net
        .until(task, "computing", |v| {
            v.replicates
                .iter()
                .any(|r| r.status == ReplicateStatus::Computing)
        })
        .await;
    let victim = view
        .replicates
        .iter()
        .find(|r| r.status == ReplicateStatus::Computing)
        .expect("a computing replicate")
        .worker;
    let i = (0..3)
        .find(|i| net.world.address(WORKERS[*i]) == victim)
        .expect("one of ours");
    net.kill_worker(i).await;
    net.until_chain_status(task, COMPLETED).await;
    // The workers report COMPLETED once told the task is finalized.
    let view = net
        .until(task, "completed by the two others", |v| {
            v.status == TaskStatus::Completed
                && v.replicates
                    .iter()
                    .filter(|r| r.status == ReplicateStatus::Completed)
                    .count()
                    == 2
        })
        .await;
    let lost = view
        .replicates
        .iter()
        .find(|r| r.worker == victim)
        .expect("the victim's replicate");
    assert_eq!(lost.status, ReplicateStatus::WorkerLost);
    let others: Vec<_> = view
        .replicates
        .iter()
        .filter(|r| r.worker != victim)
        .map(|r| r.status)
        .collect();
    assert_eq!(others, [ReplicateStatus::Completed; 2], "{view:#?}");
    net.world.assert_conserved().await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saboteur_is_outvoted_loses_its_stake_and_score_and_the_honest_workers_are_paid() {
    let mut net = Net::start(HELLO).await;
    let [a, b, c] = [0, 1, 2];
    let cheap = |net: &Net, trust, volume, salt| {
        let mut orders = net.orders(trust, volume, salt);
        orders.app.appprice = Nrlc::ZERO;
        orders.workerpool.workerpoolprice = Nrlc::new(rlc(1));
        orders
    };
    // Reputation first. Trust 5 takes three fresh workers: five such tasks give each of the
    // three a score of 5.
    for i in [a, b, c] {
        net.start_worker(i, false).await;
    }
    let deal = net.deal(&cheap(&net, 5, 5, 0x61)).await;
    for idx in 0..5u64 {
        net.until_chain_status(deal.task(U256::from(idx)), COMPLETED)
            .await;
    }
    // Then ten tasks at trust 4 for A and B alone: they reach 15 (a weight of 4).
    net.kill_worker(c).await;
    let deal = net.deal(&cheap(&net, 4, 10, 0x62)).await;
    for idx in 0..10u64 {
        net.until_chain_status(deal.task(U256::from(idx)), COMPLETED)
            .await;
    }
    let score = |n: u64| U256::from(n);
    assert_eq!(net.world.score(WORKERS[a]).await, score(15));
    assert_eq!(net.world.score(WORKERS[b]).await, score(15));
    assert_eq!(net.world.score(WORKERS[c]).await, score(5));

    // C comes back as a saboteur; at trust 5 neither A (4) alone, nor A against C (4 to 2),
    // is a consensus.
    net.kill_worker(b).await;
    net.start_worker(c, true).await;
    let people = [WORKERS[a], WORKERS[b], WORKERS[c], SCHEDULER];
    let mut before = Vec::new();
    for who in people {
        before.push(net.world.account(net.world.address(who)).await);
    }
    let deal = net.deal(&net.orders(5, 1, 0x63)).await;
    let task = deal.task(U256::ZERO);
    let view = net
        .until(task, "contributed by A and C", |v| {
            v.replicates
                .iter()
                .filter(|r| r.result_hash.is_some())
                .count()
                == 2
        })
        .await;
    let hashes: Vec<_> = view
        .replicates
        .iter()
        .filter_map(|r| r.result_hash)
        .collect();
    assert_ne!(hashes[0], hashes[1], "the saboteur disagrees");
    assert_eq!(
        view.status,
        TaskStatus::Running,
        "no consensus yet: {view:#?}"
    );
    // B joins: 4 × 4 = 16 against 2 out of 19 is above the 80 % that trust 5 asks.
    net.start_worker(b, false).await;
    net.until_chain_status(task, COMPLETED).await;
    // The workers report COMPLETED once told the task is finalized.
    let view = net
        .until(task, "completed by A and B", |v| {
            v.status == TaskStatus::Completed
                && v.replicates
                    .iter()
                    .filter(|r| r.status == ReplicateStatus::Completed)
                    .count()
                    == 2
        })
        .await;
    let status_of = |who: usize| {
        view.replicates
            .iter()
            .find(|r| r.worker == net.world.address(WORKERS[who]))
            .map(|r| r.status)
    };
    assert_eq!(status_of(a), Some(ReplicateStatus::Completed));
    assert_eq!(status_of(b), Some(ReplicateStatus::Completed));
    assert_eq!(status_of(c), Some(ReplicateStatus::Rejected));

    // Paid as spec §5.3 says: C's stake is seized and shared; A and B, with equal weights,
    // split the workers' part.
    let contributor = |who: usize, score: u64, proved: bool| Contributor {
        worker: net.world.address(WORKERS[who]),
        score,
        proved,
    };
    let payout = distribute(
        Nrlc::new(rlc(1)),
        Nrlc::ZERO,
        Nrlc::new(rlc(10)),
        Nrlc::new(rlc(3)),
        1,
        &[
            contributor(a, 15, true),
            contributor(c, 5, false),
            contributor(b, 15, true),
        ],
    );
    let mut after = Vec::new();
    for who in people {
        after.push(net.world.account(net.world.address(who)).await);
    }
    assert_eq!(after[0].0 - before[0].0, wide(payout.workers[0].reward));
    assert_eq!(after[1].0 - before[1].0, wide(payout.workers[2].reward));
    assert_eq!(
        before[2].0 - after[2].0,
        rlc(3),
        "the saboteur's stake is seized"
    );
    assert_eq!(after[3].0 - before[3].0, wide(payout.scheduler));
    assert!(
        after[0].0 > before[0].0 + rlc(6),
        "each honest worker gets over 6 RLC"
    );
    // Scores: the honest ones rise, the saboteur loses a third.
    assert_eq!(net.world.score(WORKERS[a]).await, score(16));
    assert_eq!(net.world.score(WORKERS[b]).await, score(16));
    assert_eq!(net.world.score(WORKERS[c]).await, score(3));
    net.world.assert_conserved().await;
    net.stop().await;
}

/// Runs `task` on worker `i` up to its contribution, with the scheduler down meanwhile (so
/// that nothing moves on), then kills the worker: its journal says it contributed, and the
/// chain has the contribution. The scheduler is started again.
async fn contribute_then_kill_worker(net: &mut Net, task: agora_primitives::TaskId, i: usize) {
    net.until(task, "computing", |v| {
        v.replicates
            .iter()
            .any(|r| r.status == ReplicateStatus::Computing)
    })
    .await;
    net.kill_scheduler().await;
    let journal = net.dir.path().join(format!("worker-{i}/worker.db"));
    let deadline = tokio::time::Instant::now() + crate::net::PATIENCE;
    loop {
        // The worker's journal, read as anyone can read it: a SQLite file.
        let text: String = rusqlite::Connection::open(&journal)
            .and_then(|db| {
                db.query_row(
                    "SELECT state FROM replicates WHERE task_id = ?1",
                    [task.to_string()],
                    |r| r.get(0),
                )
            })
            .unwrap_or_default();
        if text.contains("\"contributed\"") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never contributed: {text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    net.kill_worker(i).await;
    assert_eq!(
        net.world.view_contribution(task, WORKERS[i]).await.status,
        1
    );
    net.start_scheduler().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_resumes_after_its_contribution_without_computing_or_contributing_again()
{
    let mut net = Net::start(crate::workerpool::SLOW).await;
    net.start_worker(0, false).await;
    let deal = net.deal(&net.orders(1, 1, 0x56)).await;
    let task = deal.task(U256::ZERO);
    contribute_then_kill_worker(&mut net, task, 0).await;
    net.start_worker(0, false).await;
    net.until_chain_status(task, COMPLETED).await;
    let stats = net.worker(0).stats();
    assert_eq!(stats.computed.load(Relaxed), 0, "the app did not run again");
    assert_eq!(
        stats.contributed.load(Relaxed),
        0,
        "the contribution was not sent again"
    );
    assert_eq!(stats.revealed.load(Relaxed), 1);
    net.world.assert_conserved().await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_nobody_reveals_is_reopened_and_completed_by_another_worker() {
    let mut net = Net::start(crate::workerpool::SLOW).await;
    net.start_worker(0, false).await;
    let deal = net.deal(&net.orders(1, 1, 0x57)).await;
    let task = deal.task(U256::ZERO);
    let lazy = net.world.address(WORKERS[0]);
    let before = net.world.account(lazy).await;
    contribute_then_kill_worker(&mut net, task, 0).await;
    net.until_status(task, TaskStatus::ConsensusReached).await;
    // The winner never reveals: past the reveal deadline the scheduler reopens the task.
    net.world.increase_time(2 * TIMEREF + 1).await;
    net.until(task, "reopened", |v| {
        v.history.iter().any(|e| e.status == "REOPENING") && v.status == TaskStatus::Running
    })
    .await;
    net.start_worker(1, false).await;
    net.until_chain_status(task, COMPLETED).await;
    let view = net.until_status(task, TaskStatus::Completed).await;
    let lazy_replicate = view
        .replicates
        .iter()
        .find(|r| r.worker == lazy)
        .expect("the lazy replicate");
    assert_eq!(lazy_replicate.status, ReplicateStatus::Rejected);
    let after = net.world.account(lazy).await;
    assert_eq!(
        before.0 - after.0,
        rlc(3),
        "the silent winner's stake is seized"
    );
    net.world.assert_conserved().await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_gives_the_app_the_dataset_the_chain_names_and_refuses_a_tampered_one() {
    use agora_testkit::market::DATASET_OWNER;
    let mut net = Net::start("examples/dataset-reader/dataset-reader.wasm").await;
    net.start_worker(0, false).await;
    let content = b"one two three\nfour\n";
    let file = net.dir.path().join("dataset.txt");
    std::fs::write(&file, content).unwrap();
    let url = format!("file://{}", file.display());
    let sha = B256::from(<[u8; 32]>::from(Sha256::digest(content)));
    let dataset = net
        .world
        .create_dataset(DATASET_OWNER, "words", &url, sha)
        .await;
    let deal = net.deal(&net.orders_with_dataset(dataset, 0x58)).await;
    let task = deal.task(U256::ZERO);
    net.until_chain_status(task, COMPLETED).await;
    let files = unzip(&net.download(task).await);
    let result = String::from_utf8(files["result.txt"].clone()).unwrap();
    assert!(result.contains("bytes: 19"), "{result}");
    assert!(result.contains("words: 4"), "{result}");
    assert!(
        result.contains(&format!("sha256: {}", alloy::hex::encode(sha))),
        "{result}"
    );

    // A dataset whose file no longer matches its on-chain checksum is not given to the app.
    let tampered = net
        .world
        .create_dataset(DATASET_OWNER, "tampered", &url, B256::repeat_byte(7))
        .await;
    let deal = net.deal(&net.orders_with_dataset(tampered, 0x59)).await;
    let task = deal.task(U256::ZERO);
    let refusal = net
        .until_replicate(task, ReplicateStatus::DataDownloadFailed)
        .await;
    assert!(refusal.contains("not its on-chain checksum"), "{}", refusal);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_without_the_stake_does_not_contribute_and_says_why() {
    let mut net = Net::start(HELLO).await;
    let (free, _) = net.world.account(net.world.address(WORKERS[0])).await;
    agora_testkit::mined!(net.world.hub(WORKERS[0]).withdraw(free));
    net.start_worker(0, false).await;
    let deal = net.deal(&net.orders(1, 1, 0x5a)).await;
    let task = deal.task(U256::ZERO);
    let refusal = net
        .until_replicate(task, ReplicateStatus::StartFailed)
        .await;
    assert!(
        refusal.contains("below the deal's worker stake 3000000000 nRLC"),
        "{}",
        refusal
    );
    assert_eq!(
        net.world.view_contribution(task, WORKERS[0]).await.status,
        0
    );
    net.stop().await;
}
