//! The task lifecycle (spec §4) and the money and reputation it moves (spec §5), on the hub's
//! bytecode: one worker; replicated consensus; a wrong worker; reopen; claim and the kitty;
//! contributeAndFinalize; callbacks; NFT transfers; the worked examples of §5.2 and §5.3; the
//! errors of each call; the §11.2 vectors computed or accepted by the contracts.

use agora_contracts::Hub;
use agora_primitives::{
    Contribution, DealId, Nrlc, OrderHash, ResultDigest, Tag, TaskId, WorkerpoolAuthorization,
    consensus::{Contributor, distribute},
};
use alloy::{
    primitives::{Address, B256, Bytes, U256, b256, bytes, keccak256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};

use agora_testkit::market::{
    APP_OWNER, DATASET_OWNER, KITTY, REQUESTER, SCHEDULER, SPONSOR, STRANGER, TIMEREF, WORKERS,
    World, event, events, reverted, rlc,
};

use crate::common::EscrowHarness;

alloy::sol!(
    /// A result callback that stores, reverts, burns its gas or returns a huge buffer (tests
    /// only).
    #[sol(rpc)]
    #[derive(Debug)]
    CallbackConsumer,
    "../../contracts/out/CallbackConsumer.json"
);

const RESULTS: &[u8] = br#"{"storage":"agora","location":"/results/0x01"}"#;

fn digest(text: &str) -> ResultDigest {
    ResultDigest::new(keccak256(text.as_bytes()))
}

/// A world whose hub is the test harness (settable scores, exposed formulas).
async fn harness_world() -> World {
    World::start_with_hub(|provider, d| async move {
        *EscrowHarness::deploy(provider, d.token, d.hub_market, d.hub_views)
            .await
            .expect("the harness deploys")
            .address()
    })
    .await
}

fn harness(world: &World) -> EscrowHarness::EscrowHarnessInstance<alloy::providers::DynProvider> {
    EscrowHarness::new(world.hub, world.provider(0))
}

/// Free balances of every actor, for before/after comparisons.
async fn free(world: &World) -> Vec<U256> {
    world.accounts().await.into_iter().map(|(s, _)| s).collect()
}

#[tokio::test]
async fn one_worker_at_trust_1_contributes_reveals_and_everyone_is_paid() {
    let world = World::start().await;
    let (deal, matched) = world.deal(&world.orders_with_dataset()).await;
    let (task, receipt) = world.initialize(deal, 0).await;
    let init: Hub::TaskInitialize = event(&receipt, world.hub).expect("TaskInitialize");
    assert_eq!(
        (init.taskid, init.workerpool),
        (*task.as_b256(), world.assets.workerpool)
    );
    let block = world
        .provider(0)
        .get_block_by_number(matched.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap();
    let start = block.header.timestamp;
    let t = world.view_task(task).await;
    assert_eq!(t.status, 1, "ACTIVE");
    assert_eq!((t.dealid, t.idx), (*deal.as_b256(), U256::ZERO));
    assert_eq!(t.timeref, U256::from(TIMEREF));
    assert_eq!(t.contributionDeadline, U256::from(start + 7 * TIMEREF));
    assert_eq!(t.finalDeadline, U256::from(start + 10 * TIMEREF));

    let before = free(&world).await;
    let worker = WORKERS[0];
    let result = digest("hello");
    let receipt = world.contribute(worker, task, result).await;
    let commitment = Contribution::new(world.address(worker), task, result);
    let contributed: Hub::TaskContribute = event(&receipt, world.hub).unwrap();
    assert_eq!(contributed.hash, *commitment.result_hash.as_b256());
    // Trust 1: one contribution is a consensus.
    let consensus: Hub::TaskConsensus = event(&receipt, world.hub).expect("TaskConsensus");
    assert_eq!(consensus.consensus, *commitment.result_hash.as_b256());
    let t = world.view_task(task).await;
    assert_eq!((t.status, t.winnerCounter), (2, U256::from(1)), "REVEALING");
    assert_eq!(t.consensusValue, *commitment.result_hash.as_b256());
    assert_eq!(world.account(world.address(worker)).await.1, rlc(3));
    let c = world.view_contribution(task, worker).await;
    assert_eq!(c.status, 1, "CONTRIBUTED");
    assert_eq!(c.resultSeal, *commitment.result_seal.as_b256());
    assert_eq!(c.weight, U256::from(1), "log2 of a fresh worker's weight 2");

    let receipt = world.reveal(worker, task, result).await;
    let revealed: Hub::TaskReveal = event(&receipt, world.hub).unwrap();
    assert_eq!(revealed.digest, *result.as_b256());
    let t = world.view_task(task).await;
    assert_eq!(
        (t.revealCounter, t.resultDigest),
        (U256::from(1), *result.as_b256())
    );
    assert_eq!(t.consensusValue, *commitment.result_hash.as_b256());

    let receipt = world.finalize(task, RESULTS, &[]).await;
    let finalized: Hub::TaskFinalize = event(&receipt, world.hub).unwrap();
    assert_eq!(finalized.results.as_ref(), RESULTS);
    let t = world.view_task(task).await;
    assert_eq!(t.status, 3, "COMPLETED");
    assert_eq!(t.results.as_ref(), RESULTS);
    assert_eq!(t.contributors, vec![world.address(worker)]);

    // Spec §5.3 by agora-primitives: app 1, dataset 2, workerpool 10 RLC, ratio 1 %.
    let payout = distribute(
        Nrlc::new(rlc(1)),
        Nrlc::new(rlc(2)),
        Nrlc::new(rlc(10)),
        Nrlc::new(rlc(3)),
        1,
        &[Contributor {
            worker: world.address(worker),
            score: 0,
            proved: true,
        }],
    );
    let after = free(&world).await;
    assert_eq!(after[APP_OWNER] - before[APP_OWNER], payout.app_owner.get());
    assert_eq!(
        after[DATASET_OWNER] - before[DATASET_OWNER],
        payout.dataset_owner.get()
    );
    assert_eq!(
        after[worker] - before[worker],
        payout.workers[0].reward.get(),
        "99 % of 10 RLC (its stake, locked and unlocked, is back)"
    );
    assert_eq!(payout.workers[0].reward.get(), rlc(99) / U256::from(10));
    assert_eq!(
        after[SCHEDULER] - before[SCHEDULER],
        rlc(3) + payout.scheduler.get(),
        "the scheduler's stake back plus its 1 %"
    );
    assert_eq!(world.account(world.address(REQUESTER)).await.1, U256::ZERO);
    assert_eq!(
        world.score(worker).await,
        U256::ZERO,
        "no reputation without replication"
    );
    let callback = world
        .hub(STRANGER)
        .resultFor(*task.as_b256())
        .call()
        .await
        .unwrap();
    assert!(callback.is_empty());
    world.assert_conserved().await;
    world.shutdown().await;
}

#[tokio::test]
async fn replicated_work_reaches_consensus_at_trust_3_and_raises_scores() {
    let world = World::start().await;
    let task = world.task(&world.orders_at_trust(3, 4)).await;
    let result = digest("replicated");
    let first = world.contribute(WORKERS[0], task, result).await;
    assert!(
        event::<Hub::TaskConsensus>(&first, world.hub).is_none(),
        "one vote is not enough"
    );
    let second = world.contribute(WORKERS[1], task, result).await;
    assert!(event::<Hub::TaskConsensus>(&second, world.hub).is_some());
    assert_eq!(world.view_task(task).await.winnerCounter, U256::from(2));
    // No contribution after consensus.
    let error: Hub::TaskNotActive = reverted(
        world
            .try_contribute(WORKERS[2], task, result)
            .await
            .map(|_| ()),
    );
    assert_eq!(error.status, 2);

    world.reveal(WORKERS[0], task, result).await;
    // One of two revealed, the reveal deadline not reached: too early to finalize.
    let attempt = world
        .hub(SCHEDULER)
        .finalize(*task.as_b256(), Bytes::new(), Bytes::new())
        .send()
        .await;
    let e: Hub::RevealsPending = reverted(attempt);
    assert_eq!((e.revealed, e.winners), (U256::from(1), U256::from(2)));
    world.reveal(WORKERS[1], task, result).await;
    let before = free(&world).await;
    let receipt = world.finalize(task, RESULTS, &[]).await;
    let accurate: Vec<Hub::AccurateContribution> = events(&receipt, world.hub);
    assert_eq!(accurate.len(), 2);
    let after = free(&world).await;
    for worker in &WORKERS[..2] {
        assert_eq!(
            after[*worker] - before[*worker],
            rlc(3) + rlc(99) / U256::from(20)
        );
        assert_eq!(world.score(*worker).await, U256::from(1));
    }
    world.assert_conserved().await;
    world.shutdown().await;
}

#[tokio::test]
async fn a_wrong_worker_loses_its_stake_and_a_third_of_its_score() {
    let world = harness_world().await;
    let hub = harness(&world);
    let (bad, good) = (WORKERS[0], [WORKERS[1], WORKERS[2]]);
    // Weights (spec §5.1): score 15 → 4, score 30 → 9. At trust 5 the wrong vote alone
    // (4 × 5 > 5 × 4 fails) is no consensus; two good ones are (81 × 5 > 86 × 4).
    for (worker, s) in [(bad, 15u64), (good[0], 30), (good[1], 30)] {
        let call = hub.setScore(world.address(worker), U256::from(s));
        call.send().await.unwrap().get_receipt().await.unwrap();
    }
    let mut orders = world.orders();
    orders.request.trust = U256::from(5);
    let (deal, _) = world.deal(&orders).await;
    let (task, _) = world.initialize(deal, 0).await;
    let (right, wrong) = (digest("right"), digest("wrong"));
    let receipt = world.contribute(bad, task, wrong).await;
    assert!(event::<Hub::TaskConsensus>(&receipt, world.hub).is_none());
    let receipt = world.contribute(good[0], task, right).await;
    assert!(event::<Hub::TaskConsensus>(&receipt, world.hub).is_none());
    let receipt = world.contribute(good[1], task, right).await;
    assert!(event::<Hub::TaskConsensus>(&receipt, world.hub).is_some());
    // The wrong worker cannot reveal.
    let attempt = world
        .hub(bad)
        .reveal(*task.as_b256(), *wrong.as_b256())
        .send()
        .await;
    let e: Hub::NotAWinner = reverted(attempt);
    assert_eq!(e.worker, world.address(bad));
    for worker in good {
        world.reveal(worker, task, right).await;
    }
    let before = free(&world).await;
    let receipt = world.finalize(task, RESULTS, &[]).await;
    let faulty: Hub::FaultyContribution = event(&receipt, world.hub).expect("FaultyContribution");
    assert_eq!(faulty.worker, world.address(bad));
    let after = free(&world).await;
    assert_eq!(after[bad], before[bad], "nothing back");
    assert_eq!(
        world.account(world.address(bad)).await.1,
        U256::ZERO,
        "stake seized"
    );
    assert_eq!(world.score(bad).await, U256::from(10), "15 × 2/3");
    let payout = distribute(
        Nrlc::new(rlc(1)),
        Nrlc::ZERO,
        Nrlc::new(rlc(10)),
        Nrlc::new(rlc(3)),
        1,
        &[
            Contributor {
                worker: world.address(bad),
                score: 15,
                proved: false,
            },
            Contributor {
                worker: world.address(good[0]),
                score: 30,
                proved: true,
            },
            Contributor {
                worker: world.address(good[1]),
                score: 30,
                proved: true,
            },
        ],
    );
    for (i, worker) in good.iter().enumerate() {
        let reward = payout.workers[i + 1].reward.get();
        assert_eq!(after[*worker] - before[*worker], rlc(3) + reward);
        assert_eq!(world.score(*worker).await, U256::from(31));
    }
    // The seized stake went to the honest workers and the scheduler.
    assert_eq!(
        payout.workers[1].reward.get() + payout.workers[2].reward.get() + payout.scheduler.get(),
        rlc(13)
    );
    assert_eq!(
        after[SCHEDULER] - before[SCHEDULER],
        rlc(3) + payout.scheduler.get()
    );
    world.assert_conserved().await;
    world.shutdown().await;
}

#[tokio::test]
async fn the_scheduler_reopens_a_task_nobody_revealed_and_the_silent_winners_pay() {
    let world = World::start().await;
    let task = world.task(&world.orders_at_trust(3, 4)).await;
    let result = digest("silent");
    world.contribute(WORKERS[0], task, result).await;
    world.contribute(WORKERS[1], task, result).await;
    let id = *task.as_b256();

    // Too early, and not the scheduler.
    let e: Hub::RevealDeadlineNotReached = reverted(world.hub(SCHEDULER).reopen(id).send().await);
    assert_eq!(e.taskid, id);
    world.increase_time(2 * TIMEREF).await;
    let e: Hub::NotTheScheduler = reverted(world.hub(STRANGER).reopen(id).send().await);
    assert_eq!(e.caller, world.address(STRANGER));
    let receipt = world
        .hub(SCHEDULER)
        .reopen(id)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(event::<Hub::TaskReopen>(&receipt, world.hub).is_some());
    let t = world.view_task(task).await;
    assert_eq!(
        (t.status, t.consensusValue),
        (1, B256::ZERO),
        "ACTIVE again"
    );
    for worker in &WORKERS[..2] {
        let c = world
            .hub(STRANGER)
            .viewContribution(id, world.address(*worker))
            .call()
            .await
            .unwrap();
        assert_eq!(c.status, 3, "REJECTED");
    }
    // A rejected worker cannot vote again; two others reach consensus afresh.
    let e: Hub::AlreadyContributed = reverted(
        world
            .try_contribute(WORKERS[0], task, result)
            .await
            .map(|_| ()),
    );
    assert_eq!(e.worker, world.address(WORKERS[0]));
    let receipt = world.contribute(WORKERS[2], task, result).await;
    assert!(event::<Hub::TaskConsensus>(&receipt, world.hub).is_none());
    let receipt = world.contribute(WORKERS[3], task, result).await;
    assert!(event::<Hub::TaskConsensus>(&receipt, world.hub).is_some());
    assert_eq!(world.view_task(task).await.winnerCounter, U256::from(2));
    world.reveal(WORKERS[2], task, result).await;
    world.reveal(WORKERS[3], task, result).await;
    let before = free(&world).await;
    let receipt = world.finalize(task, RESULTS, &[]).await;
    assert_eq!(
        events::<Hub::FaultyContribution>(&receipt, world.hub).len(),
        2
    );
    let after = free(&world).await;
    // The two silent stakes join the price: (10 + 6) RLC × 99 % split in two.
    let share = rlc(16) * U256::from(99) / U256::from(200);
    for worker in &WORKERS[2..4] {
        assert_eq!(after[*worker] - before[*worker], rlc(3) + share);
    }
    for worker in &WORKERS[..2] {
        assert_eq!(after[*worker], before[*worker]);
        assert_eq!(world.account(world.address(*worker)).await.1, U256::ZERO);
    }
    world.assert_conserved().await;
    world.shutdown().await;
}

#[tokio::test]
async fn a_task_past_its_final_deadline_is_claimed_the_payer_refunded_and_the_kitty_fed() {
    let world = World::start().await;
    let mut orders = world.orders();
    orders.request.trust = U256::from(3);
    orders.request.volume = U256::from(2);
    let (deal, _) = world.deal(&orders).await;
    let (task, _) = world.initialize(deal, 0).await;
    world.contribute(WORKERS[0], task, digest("lonely")).await;
    let id = *task.as_b256();
    let e: Hub::FinalDeadlineNotReached = reverted(world.hub(STRANGER).claim(id).send().await);
    assert_eq!(e.taskid, id);

    world.increase_time(10 * TIMEREF).await;
    // Past the final deadline nothing but a claim goes.
    let e: Hub::ContributionDeadlinePassed = reverted(
        world
            .try_contribute(WORKERS[1], task, digest("late"))
            .await
            .map(|_| ()),
    );
    assert_eq!(e.taskid, id);
    let before = world.accounts().await;
    let receipt = world.claim(task).await;
    assert!(event::<Hub::TaskClaimed>(&receipt, world.hub).is_some());
    assert_eq!(world.view_task(task).await.status, 4, "FAILED");
    let after = world.accounts().await;
    assert_eq!(
        after[REQUESTER].0 - before[REQUESTER].0,
        rlc(11),
        "refunded"
    );
    assert_eq!(before[REQUESTER].1 - after[REQUESTER].1, rlc(11));
    assert_eq!(
        after[WORKERS[0]].0 - before[WORKERS[0]].0,
        rlc(3),
        "stake back"
    );
    assert_eq!(
        after[SCHEDULER].0, before[SCHEDULER].0,
        "the scheduler's stake is gone"
    );
    assert_eq!(before[SCHEDULER].1 - after[SCHEDULER].1, rlc(3));
    assert_eq!(
        world.account(KITTY).await,
        (U256::ZERO, rlc(3)),
        "into the kitty"
    );
    let e: Hub::TaskNotClaimable = reverted(world.hub(STRANGER).claim(id).send().await);
    assert_eq!(e.status, 4);

    // The other task was never initialized: initializeAndClaimArray.
    let receipt = world
        .hub(STRANGER)
        .initializeAndClaimArray(vec![*deal.as_b256()], vec![U256::from(1)])
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert_eq!(world.account(KITTY).await.1, rlc(6));
    assert_eq!(world.account(world.address(REQUESTER)).await.1, U256::ZERO);
    world.assert_conserved().await;

    // The next successful task pays the scheduler a share of the kitty: 10 % of 6 RLC,
    // raised to the 1 RLC minimum.
    let mut next = world.orders();
    next.request.salt = B256::repeat_byte(0x55);
    let (deal, _) = world.deal(&next).await;
    let (task, _) = world.initialize(deal, 0).await;
    let before = free(&world).await;
    world
        .contribute_and_finalize(WORKERS[1], task, digest("ok"), RESULTS, &[])
        .await;
    let after = free(&world).await;
    assert_eq!(world.account(KITTY).await.1, rlc(5));
    assert_eq!(
        after[SCHEDULER] - before[SCHEDULER],
        rlc(3) + rlc(1) + rlc(1) / U256::from(10),
        "stake back, kitty share, its 1 % of the price"
    );
    world.assert_conserved().await;
    world.shutdown().await;
}

#[tokio::test]
async fn contribute_and_finalize_completes_a_trust_1_task_in_one_call() {
    let world = World::start().await;
    let (deal, _) = world.deal(&world.orders()).await;
    let (task, _) = world.initialize(deal, 0).await;
    let before = free(&world).await;
    let result = digest("fast");
    let receipt = world
        .contribute_and_finalize(WORKERS[0], task, result, RESULTS, &[])
        .await;
    assert!(event::<Hub::TaskContribute>(&receipt, world.hub).is_some());
    assert!(event::<Hub::TaskConsensus>(&receipt, world.hub).is_some());
    assert!(event::<Hub::TaskReveal>(&receipt, world.hub).is_some());
    assert!(event::<Hub::TaskFinalize>(&receipt, world.hub).is_some());
    let t = world.view_task(task).await;
    assert_eq!(t.status, 3);
    assert_eq!(t.resultDigest, *result.as_b256());
    assert_eq!(t.results.as_ref(), RESULTS);
    let after = free(&world).await;
    assert_eq!(
        after[WORKERS[0]] - before[WORKERS[0]],
        rlc(99) / U256::from(10)
    );
    assert_eq!(
        after[SCHEDULER] - before[SCHEDULER],
        rlc(3) + rlc(1) / U256::from(10)
    );
    assert_eq!(
        world.account(world.address(WORKERS[0])).await.1,
        U256::ZERO,
        "no stake"
    );

    // Replicated deals need contribute.
    let mut orders = world.orders();
    orders.request.trust = U256::from(2);
    orders.request.salt = B256::repeat_byte(0x21);
    let (deal, _) = world.deal(&orders).await;
    let (task, _) = world.initialize(deal, 0).await;
    let attempt = world
        .hub(WORKERS[0])
        .contributeAndFinalize(
            *task.as_b256(),
            *result.as_b256(),
            Bytes::new(),
            Bytes::new(),
            Address::ZERO,
            Bytes::new(),
            world.authorization(WORKERS[0], task),
        )
        .send()
        .await;
    let e: Hub::ReplicationRequired = reverted(attempt);
    assert_eq!(e.trust, U256::from(2));
    world.assert_conserved().await;
    world.shutdown().await;
}

/// A deal whose results go to `consumer`, matched and initialized; returns its task.
async fn callback_task(world: &World, consumer: Address, salt: u8) -> TaskId {
    let mut orders = world.orders();
    orders.request.callback = consumer;
    orders.request.salt = B256::repeat_byte(salt);
    let (deal, _) = world.deal(&orders).await;
    world.initialize(deal, 0).await.0
}

#[tokio::test]
async fn callbacks_that_succeed_revert_burn_their_gas_or_return_a_bomb_cannot_block_finalize() {
    let world = World::start().await;
    let consumer = CallbackConsumer::deploy(world.provider(0)).await.unwrap();
    let data = bytes!("00000000000000000000000000000000000000000000000000000000000004d2");
    let result = ResultDigest::of_callback_data(&data);

    // Stores: the consumer has the data, and resultFor gives it.
    let task = callback_task(&world, *consumer.address(), 1).await;
    world.contribute(WORKERS[0], task, result).await;
    world.reveal(WORKERS[0], task, result).await;
    // The callback data must hash to the digest.
    let attempt = world
        .hub(SCHEDULER)
        .finalize(*task.as_b256(), Bytes::new(), bytes!("01"))
        .send()
        .await;
    let _: Hub::CallbackDataMismatch = reverted(attempt);
    world.finalize(task, RESULTS, &data).await;
    assert_eq!(consumer.lastResult().call().await.unwrap(), data);
    assert_eq!(consumer.lastTask().call().await.unwrap(), *task.as_b256());
    let pulled = world
        .hub(STRANGER)
        .resultFor(*task.as_b256())
        .call()
        .await
        .unwrap();
    assert_eq!(pulled, data);

    // Reverts, burns all its gas, returns a megabyte: the task completes all the same.
    for (mode, salt) in [(1u8, 2u8), (2, 3), (3, 4)] {
        let call = consumer.setMode(mode);
        call.send().await.unwrap().get_receipt().await.unwrap();
        let calls = consumer.calls().call().await.unwrap();
        let task = callback_task(&world, *consumer.address(), salt).await;
        world.contribute(WORKERS[0], task, result).await;
        world.reveal(WORKERS[0], task, result).await;
        let receipt = world.finalize(task, RESULTS, &data).await;
        assert_eq!(world.view_task(task).await.status, 3, "mode {mode}");
        assert_eq!(consumer.calls().call().await.unwrap(), calls, "mode {mode}");
        if mode == 2 {
            assert!(
                receipt.gas_used > 200_000,
                "the callback had its whole budget"
            );
        }
    }

    // A finalize sent with too little gas for the callback's budget fails instead.
    let call = consumer.setMode(2);
    call.send().await.unwrap().get_receipt().await.unwrap();
    let task = callback_task(&world, *consumer.address(), 5).await;
    world.contribute(WORKERS[0], task, result).await;
    world.reveal(WORKERS[0], task, result).await;
    let attempt = world
        .hub(SCHEDULER)
        .finalize(*task.as_b256(), Bytes::from_static(RESULTS), data.clone())
        .gas(300_000)
        .call()
        .await;
    let e: Hub::CallbackStarved = reverted(attempt);
    assert_eq!(e.callbackGas, U256::from(200_000));
    world.finalize(task, RESULTS, &data).await;
    world.assert_conserved().await;
    world.shutdown().await;
}

#[tokio::test]
async fn an_nft_transfer_changes_who_signs_the_orders_and_who_is_paid() {
    let world = World::start().await;
    let registry =
        agora_contracts::AppRegistry::new(world.deployment.app_registry, world.provider(APP_OWNER));
    let orders = world.orders();
    // A deal matched before the transfer pays the owner at match time.
    let (before_deal, _) = world.deal(&orders).await;
    let new_owner = SPONSOR;
    let token_id = U256::from_be_slice(world.assets.app.as_slice());
    let call = registry.transferFrom(world.address(APP_OWNER), world.address(new_owner), token_id);
    assert!(
        call.send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap()
            .status()
    );

    // The old owner's signature no longer sells the app.
    let mut after = orders.clone();
    after.request.salt = B256::repeat_byte(0x31);
    let attempt = world.try_match(REQUESTER, &world.sign(&after)).await;
    let e: Hub::InvalidAppOrderSignature = reverted(attempt);
    assert_eq!(e.owner, world.address(new_owner));
    let signed = world.sign_as(&after, new_owner, DATASET_OWNER, SCHEDULER, REQUESTER);
    let receipt = world.try_match(REQUESTER, &signed).await.unwrap();
    let after_deal = agora_testkit::market::deal_of(&receipt, world.hub);

    let before = free(&world).await;
    for (deal, worker) in [(before_deal, WORKERS[0]), (after_deal, WORKERS[1])] {
        let (task, _) = world.initialize(deal, 0).await;
        world
            .contribute_and_finalize(worker, task, digest("paid"), RESULTS, &[])
            .await;
    }
    let paid = free(&world).await;
    assert_eq!(
        paid[APP_OWNER] - before[APP_OWNER],
        rlc(1),
        "the first deal's owner"
    );
    assert_eq!(
        paid[new_owner] - before[new_owner],
        rlc(1),
        "the second deal's owner"
    );
    world.assert_conserved().await;
    world.shutdown().await;
}

#[tokio::test]
async fn the_worked_examples_of_spec_5_2_and_5_3_give_the_documented_numbers() {
    let world = harness_world().await;
    let hub = harness(&world);
    let (a, b, c) = (WORKERS[0], WORKERS[1], WORKERS[2]);
    for (worker, s) in [(a, 12u64), (b, 100), (c, 300)] {
        let call = hub.setScore(world.address(worker), U256::from(s));
        call.send().await.unwrap().get_receipt().await.unwrap();
    }
    // Policies of the example: workers stake 35 % of the price, the scheduler keeps 5 %.
    let pool = agora_contracts::Workerpool::new(world.assets.workerpool, world.provider(SCHEDULER));
    let call = pool.changePolicy(U256::from(35), U256::from(5));
    call.send().await.unwrap().get_receipt().await.unwrap();
    // Workerpool 20 RLC, dataset 1 RLC, app free; trust 100.
    let mut orders = world.orders_with_dataset();
    orders.app.appprice = Nrlc::ZERO;
    orders.request.appmaxprice = Nrlc::ZERO;
    orders.workerpool.workerpoolprice = Nrlc::new(rlc(20));
    orders.request.workerpoolmaxprice = Nrlc::new(rlc(20));
    orders.dataset.as_mut().unwrap().datasetprice = Nrlc::new(rlc(1));
    orders.request.datasetmaxprice = Nrlc::new(rlc(1));
    orders.request.trust = U256::from(100);
    let before = free(&world).await;
    let (deal, _) = world.deal(&orders).await;
    let (task, _) = world.initialize(deal, 0).await;
    let (v17, v42) = (digest("17"), digest("42"));
    // §5.2: A votes 17, B 42: no consensus; C 42: group 3168, total 3172, consensus.
    for (worker, vote, reached) in [(a, v17, false), (b, v42, false), (c, v42, true)] {
        let receipt = world.contribute(worker, task, vote).await;
        assert_eq!(
            event::<Hub::TaskConsensus>(&receipt, world.hub).is_some(),
            reached
        );
    }
    world.reveal(b, task, v42).await;
    world.reveal(c, task, v42).await;
    world.finalize(task, RESULTS, &[]).await;
    let after = free(&world).await;
    // §5.3, in nRLC.
    let gain = |who: usize| after[who] - before[who];
    assert_eq!(
        gain(b),
        U256::from(11_659_090_909u64),
        "B's reward (its stake was lent back)"
    );
    assert_eq!(gain(c), U256::from(13_990_909_090u64), "C's reward");
    assert_eq!(before[a] - after[a], rlc(7), "A loses its 7 RLC stake");
    assert_eq!(
        gain(SCHEDULER),
        U256::from(1_350_000_001u64),
        "the scheduler's share; its 6 RLC stake came back"
    );
    assert_eq!(gain(DATASET_OWNER), rlc(1));
    assert_eq!(before[REQUESTER] - after[REQUESTER], rlc(21));
    assert_eq!(world.score(a).await, U256::from(8));
    assert_eq!(world.score(b).await, U256::from(101));
    assert_eq!(world.score(c).await, U256::from(301));
    world.assert_conserved().await;
    world.shutdown().await;
}

#[tokio::test]
async fn each_lifecycle_call_refuses_what_it_must_with_its_own_error() {
    let world = World::start().await;
    let mut orders = world.orders();
    orders.request.trust = U256::from(3);
    let (deal, _) = world.deal(&orders).await;
    let id = *deal.as_b256();
    let as_stranger = world.hub(STRANGER);

    let e: Hub::TaskIndexOutOfRange =
        reverted(as_stranger.initialize(id, U256::from(1)).send().await);
    assert_eq!((e.botFirst, e.botSize), (U256::ZERO, U256::from(1)));
    let e: Hub::TaskIndexOutOfRange = reverted(
        as_stranger
            .initialize(B256::repeat_byte(7), U256::ZERO)
            .send()
            .await,
    );
    assert_eq!(e.botSize, U256::ZERO, "an unknown deal has no tasks");
    let (task, _) = world.initialize(deal, 0).await;
    let _: Hub::TaskAlreadyInitialized =
        reverted(as_stranger.initialize(id, U256::ZERO).send().await);

    // An authorization signed by someone else than the scheduler.
    let result = digest("r");
    let commitment = Contribution::new(world.address(WORKERS[0]), task, result);
    let forged = WorkerpoolAuthorization {
        worker: world.address(WORKERS[0]),
        task_id: task,
        enclave_challenge: Address::ZERO,
    }
    .sign(&world.signer(STRANGER))
    .unwrap();
    let attempt = world
        .hub(WORKERS[0])
        .contribute(
            *task.as_b256(),
            *commitment.result_hash.as_b256(),
            *commitment.result_seal.as_b256(),
            Address::ZERO,
            Bytes::new(),
            forged,
        )
        .send()
        .await;
    let e: Hub::InvalidAuthorization = reverted(attempt);
    assert_eq!(e.signer, world.address(SCHEDULER));
    // Another worker's authorization does not carry over.
    let attempt = world
        .hub(WORKERS[1])
        .contribute(
            *task.as_b256(),
            *commitment.result_hash.as_b256(),
            *commitment.result_seal.as_b256(),
            Address::ZERO,
            Bytes::new(),
            world.authorization(WORKERS[0], task),
        )
        .send()
        .await;
    let _: Hub::InvalidAuthorization = reverted(attempt);

    world.contribute(WORKERS[0], task, result).await;
    let _: Hub::AlreadyContributed = reverted(
        world
            .try_contribute(WORKERS[0], task, result)
            .await
            .map(|_| ()),
    );
    let _: Hub::TaskNotRevealing = reverted(
        world
            .hub(WORKERS[0])
            .reveal(*task.as_b256(), *result.as_b256())
            .send()
            .await,
    );
    world.contribute(WORKERS[1], task, result).await;
    // A digest that does not open the commitment.
    let e: Hub::RevealMismatch = reverted(
        world
            .hub(WORKERS[0])
            .reveal(*task.as_b256(), *digest("other").as_b256())
            .send()
            .await,
    );
    assert_eq!(e.worker, world.address(WORKERS[0]));
    let _: Hub::NotAWinner = reverted(
        world
            .hub(WORKERS[2])
            .reveal(*task.as_b256(), *result.as_b256())
            .send()
            .await,
    );
    let _: Hub::NotTheScheduler = reverted(
        world
            .hub(STRANGER)
            .finalize(*task.as_b256(), Bytes::new(), Bytes::new())
            .send()
            .await,
    );
    world.reveal(WORKERS[0], task, result).await;
    let _: Hub::AlreadyRevealed = {
        world.increase_time(2 * TIMEREF).await;
        reverted(world.hub(SCHEDULER).reopen(*task.as_b256()).send().await)
    };
    let _: Hub::RevealDeadlinePassed = reverted(
        world
            .hub(WORKERS[1])
            .reveal(*task.as_b256(), *result.as_b256())
            .send()
            .await,
    );
    // Past the reveal deadline, one reveal is enough to finalize; the silent winner pays.
    let receipt = world.finalize(task, RESULTS, &[]).await;
    let faulty: Hub::FaultyContribution = event(&receipt, world.hub).unwrap();
    assert_eq!(faulty.worker, world.address(WORKERS[1]));
    let _: Hub::TaskNotRevealing = reverted(
        world
            .hub(SCHEDULER)
            .finalize(*task.as_b256(), Bytes::new(), Bytes::new())
            .send()
            .await,
    );
    let _: Hub::ArrayLengthMismatch = reverted(
        as_stranger
            .initializeArray(vec![id], vec![U256::ZERO, U256::from(1)])
            .send()
            .await,
    );
    world.assert_conserved().await;
    world.shutdown().await;
}

#[tokio::test]
async fn a_tee_deal_takes_only_enclave_signed_contributions() {
    let world = World::start().await;
    let mut orders = world.orders();
    orders.app.tag = Tag::TEE;
    orders.workerpool.tag = Tag::TEE;
    orders.request.tag = Tag::TEE;
    let (deal, _) = world.deal(&orders).await;
    let (task, _) = world.initialize(deal, 0).await;
    let worker = WORKERS[0];
    let result = digest("secret");
    let e: Hub::EnclaveChallengeRequired =
        reverted(world.try_contribute(worker, task, result).await.map(|_| ()));
    assert_eq!(e.taskid, *task.as_b256());

    let enclave = PrivateKeySigner::random();
    let commitment = Contribution::new(world.address(worker), task, result);
    let authorization = WorkerpoolAuthorization {
        worker: world.address(worker),
        task_id: task,
        enclave_challenge: enclave.address(),
    }
    .sign(&world.signer(SCHEDULER))
    .unwrap();
    let as_worker = world.hub(worker);
    let contribute = |enclave_sign: Bytes| {
        as_worker.contribute(
            *task.as_b256(),
            *commitment.result_hash.as_b256(),
            *commitment.result_seal.as_b256(),
            enclave.address(),
            enclave_sign,
            authorization.clone(),
        )
    };
    // Signed by another key than the enclave's.
    let wrong = commitment
        .sign_by_enclave(&PrivateKeySigner::random())
        .unwrap();
    let e: Hub::InvalidEnclaveSignature = reverted(contribute(wrong).send().await);
    assert_eq!(e.enclave, enclave.address());
    let sign = commitment.sign_by_enclave(&enclave).unwrap();
    let receipt = contribute(sign)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let c = world.view_contribution(task, worker).await;
    assert_eq!(c.enclaveChallenge, enclave.address());
    world.shutdown().await;
}

#[tokio::test]
async fn the_contracts_compute_and_accept_the_spec_11_vectors() {
    let world = harness_world().await;
    let hub = harness(&world);
    // The request order of spec §2.8 / §11.2 and its first deal and task.
    let request = OrderHash::new(b256!(
        "03f960f8c4153017ca091fe3eb5169a51af3b7b2eae9b85a72e1af9ed2493b45"
    ));
    let deal = hub
        .dealId(*request.as_b256(), U256::ZERO)
        .call()
        .await
        .unwrap();
    assert_eq!(
        deal,
        b256!("5b65bf881bf775a4c8ae44291e0f404f7ce2dc1a5021533a1635e3a5fe94a84b")
    );
    assert_eq!(deal, *DealId::derive(request, U256::ZERO).as_b256());
    let task = hub.taskId(deal, U256::ZERO).call().await.unwrap();
    assert_eq!(
        task,
        b256!("cd8e08dcfdc7c7ef80b668002098f200b0dd727da6d09a962447b59cce77747d")
    );
    // The upstream task id vector (spec §3.3).
    let upstream = hub
        .taskId(
            b256!("a0b0fd396b0f79f14e4d6b34af7180bd9e80e2d86afda91c6127c5c17a268e66"),
            U256::ZERO,
        )
        .call()
        .await
        .unwrap();
    assert_eq!(
        upstream,
        b256!("e06c86d6bb750dbd9be9e002482854b3b3f21550dbe37236767b9cac29e3ce28")
    );
    let digest = keccak256(b"result");
    assert_eq!(
        digest,
        b256!("06b0a4f426f6713234b2d4b2468640bc4e0bb72657a920ad24c5087153c593c8")
    );
    let worker = world.address(1);
    assert_eq!(
        worker,
        alloy::primitives::address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
    );
    assert_eq!(
        hub.resultHash(task, digest).call().await.unwrap(),
        b256!("cf58d2b15d0fa9656af43b2c8306868e271c6ab151717c48121784222b7c2e86")
    );
    assert_eq!(
        hub.resultSeal(worker, task, digest).call().await.unwrap(),
        b256!("46a20673aa8142d78acfb5385e640f3584034b99241b30de601af4a6a3318971")
    );
    let message = hub
        .authorizationHash(worker, task, Address::ZERO)
        .call()
        .await
        .unwrap();
    assert_eq!(
        message,
        b256!("4b50de58cb13882287115c1f72d5fc446327bbb4392269e6ea84f9f75d8bba12")
    );
    // The scheduler's (Hardhat #0) signature of it, accepted.
    let scheduler_sign = bytes!(
        "9c3ee7f19954b37865cd5f12d4d071f3d82181cfb6e85181835e752bdf690df55f4f9018dab57e292385311e4711152875ac43338b8c74485c9e5eb4e2bf9a501b"
    );
    let accepted = hub
        .checkEthSignedMessage(world.address(0), message, scheduler_sign.clone())
        .call()
        .await
        .unwrap();
    assert!(accepted);
    let forged = hub
        .checkEthSignedMessage(worker, message, scheduler_sign)
        .call()
        .await
        .unwrap();
    assert!(!forged, "not the worker's signature");
    // The enclave's signature of keccak(resultHash ‖ resultSeal), accepted.
    let enclave = alloy::primitives::address!("0x9605a0B32a4b9bbE41043459ef4d1507600C10B1");
    let enclave_message = b256!("e65ba27282e6725a4db2a11381db8d82d7524060280cb347406f5c8116019c51");
    let enclave_sign = bytes!(
        "584ebe075cca586e6e893964d0d0b13281d5c93ff598965421aac8af1256410a595085f71bafc0760df197eafdfb23b8e8641f84fd5187bb6bc1e6b658f8c13a1c"
    );
    let accepted = hub
        .checkEthSignedMessage(enclave, enclave_message, enclave_sign)
        .call()
        .await
        .unwrap();
    assert!(accepted);

    // The four upstream order signatures of spec §2.8 (their typed-data hashes under the
    // chain-133 domain), accepted by the hub's signature check for their signer.
    let signer = alloy::primitives::address!("0x000a9c787a972F70F0903890E266F41c795C4DcA");
    let orders = [
        (
            b256!("ba3386e38e2048de59653fed9f717a2b4400efe2d704b2980f814a91ef1f90e1"),
            bytes!(
                "82c2d8a5f59f1088eb0b9a627c367ae7dae1772c8bd98c394699ae24830611e1171026f4e28d2c60302c34a04c60c4fc2f1363e165072dca04a9f203734978671c"
            ),
        ),
        (
            b256!("87c9e55f03233ddcbfd9f37dbef06b2932d7c20a9998ea01f26d1efe055edeb9"),
            bytes!(
                "94661cab25380e7a6e1c20762988f6f854c5123a17ad27c65580d7c3edcfa2025a9d255c679c4cf7d489560917c17d3af3da83737b3722824918d39aecfedf711c"
            ),
        ),
        (
            b256!("66df04fcab380857d682cfc64a4c8906587e918857d481a29f79f7c3abd06620"),
            bytes!(
                "18bb5dbf608ade315c9e81f0b89929a93aa36aee0a1d51e9119c66799af126596c6cfd1e676ea394e346c616710a675388d5b270a195e494e75d107c87a45dce1c"
            ),
        ),
        (
            *request.as_b256(),
            bytes!(
                "611511fa5169dff40f7b4c0013e9f149e79dfddacd80a19852a1e9b42294eaef4329367f01eb48930f990a418befed0c5634e493809f2e9a6a60727137964df51c"
            ),
        ),
    ];
    for (hash, sign) in orders {
        let as_hub = world.hub(STRANGER);
        let valid = as_hub.verifySignature(signer, hash, sign.clone());
        assert!(valid.call().await.unwrap(), "{hash}");
        let other = as_hub.verifySignature(signer, keccak256(hash), sign);
        assert!(!other.call().await.unwrap());
    }
    world.shutdown().await;
}

/// Spec §8.1's ceilings: 60 % of iExec's average, rounded down to the hundred.
fn ceiling(iexec_average: u64) -> u64 {
    iexec_average * 6 / 10 / 100 * 100
}

#[tokio::test]
async fn every_lifecycle_call_costs_at_most_60_percent_of_iexecs_average() {
    let gas = agora_testkit::market::lifecycle_gas().await;
    println!("{gas:#?}");
    let checks = [
        ("matchOrders (first deal)", gas.match_first, 760_843),
        ("matchOrders (later deal)", gas.match_later, 760_843),
        ("initialize", gas.initialize, 225_506),
        ("contribute", gas.contribute, 346_973),
        (
            "contribute (replicated, max)",
            gas.contribute_3.into_iter().max().unwrap(),
            346_973,
        ),
        ("reveal", gas.reveal, 78_544),
        (
            "reveal (replicated, max)",
            gas.reveal_3.into_iter().max().unwrap(),
            78_544,
        ),
        ("finalize", gas.finalize, 403_856),
        ("finalize (3 workers)", gas.finalize_3, 403_856),
        ("claim", gas.claim, 181_535),
        (
            "contributeAndFinalize",
            gas.contribute_and_finalize,
            642_656,
        ),
    ];
    let over: Vec<_> = checks
        .iter()
        .filter(|(_, used, avg)| *used > ceiling(*avg))
        .map(|(name, used, avg)| format!("{name}: {used} > {}", ceiling(*avg)))
        .collect();
    assert!(over.is_empty(), "over the ceiling: {over:?}");
}

#[tokio::test]
async fn the_protocol_runs_unchanged_on_anvil_and_costs_the_same_gas() {
    // The lifecycle scenario of docs/GAS.md on the reference node, the protocol deployed by
    // ordinary transactions: every call succeeds and costs exactly what it costs here.
    let theirs = agora_testkit::market::lifecycle_gas_on(World::start_on_anvil().await).await;
    let ours = agora_testkit::market::lifecycle_gas().await;
    assert_eq!(theirs, ours);
}

#[tokio::test]
async fn the_protocol_deploys_on_another_chain_with_an_existing_erc20() {
    let anvil = agora_testkit::Anvil::spawn(&[]).await.unwrap();
    let account = &agora_chain::derive_dev_accounts(agora_chain::DEV_MNEMONIC, 1).unwrap()[0];
    let provider = alloy::providers::ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::from(account.signer()))
        .connect_http(anvil.url().parse().unwrap());
    // A token that exists before the protocol (here one more RLC; any ERC-20 would do).
    let token = agora_contracts::RLC::deploy(&provider).await.unwrap();
    let deployment = agora_contracts::deploy(&provider, account.address, Some(*token.address()))
        .await
        .unwrap();
    assert_eq!(deployment.token, *token.address());
    let hub = Hub::new(deployment.hub, &provider);
    assert_eq!(hub.token().call().await.unwrap(), *token.address());
    assert_eq!(hub.owner().call().await.unwrap(), account.address);
    assert_eq!(hub.countCategory().call().await.unwrap(), U256::from(5));
    agora_testkit::mined!(token.approve(deployment.hub, rlc(7)));
    agora_testkit::mined!(hub.deposit(rlc(7)));
    assert_eq!(hub.balanceOf(account.address).call().await.unwrap(), rlc(7));
}
