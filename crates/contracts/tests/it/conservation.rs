//! Conservation of tokens under random use (spec §1.3, §5): random sequences of protocol calls
//! (deposits, withdrawals, plain and sponsored deals, initialize, contribute with right and
//! wrong results, reveal, finalize, reopen, contributeAndFinalize, claims, the clock moving)
//! against the hub's bytecode, checking after every step that no token is created or lost
//! ([`World::assert_conserved`]) and that the kitty only pays out on a successful task.
//! Calls that do not apply are still sent when there is a target: a revert must change nothing.

use std::{cell::RefCell, collections::BTreeMap};

use agora_contracts::IexecLibCore::Task;
use agora_primitives::{Contribution, DealId, ResultDigest, TaskId};
use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::Provider,
};
use proptest::{
    collection::vec,
    prelude::*,
    test_runner::{Config, TestRunner},
};

use agora_testkit::market::{
    APP_OWNER, DATASET_OWNER, KITTY, REQUESTER, RESULT_LINK, SCHEDULER, SPONSOR, STRANGER, TIMEREF,
    WORKERS, World, deal_of, rlc,
};

/// Who deposits and withdraws: everyone who pays, is paid or stakes.
const ACTORS: [usize; 10] = [
    REQUESTER,
    SPONSOR,
    SCHEDULER,
    APP_OWNER,
    DATASET_OWNER,
    WORKERS[0],
    WORKERS[1],
    WORKERS[2],
    WORKERS[3],
    WORKERS[4],
];

/// One protocol call; targets are indices taken modulo what exists when the step runs.
#[derive(Debug, Clone)]
enum Op {
    /// An actor deposits this many RLC (more than it holds reverts).
    Deposit { actor: usize, rlc: u64 },
    /// An actor withdraws this percentage of its free balance (over 100 reverts).
    Withdraw { actor: usize, percent: u64 },
    /// A deal on fresh orders, paid by the requester or by the sponsor.
    Match {
        trust: u64,
        volume: u64,
        dataset: bool,
        sponsored: bool,
    },
    /// The scheduler initializes a task nobody initialized.
    Initialize { pick: usize },
    /// A worker contributes the right or a wrong result to an active task.
    Contribute {
        pick: usize,
        worker: usize,
        right: bool,
    },
    /// A contributor of the consensus value reveals its result.
    Reveal { pick: usize, worker: usize },
    /// The scheduler finalizes a revealing task.
    Finalize { pick: usize },
    /// The scheduler reopens a revealing task.
    Reopen { pick: usize },
    /// A worker completes an active trust-1 task with no contribution alone.
    ContributeAndFinalize { pick: usize, worker: usize },
    /// The clock moves ahead.
    Wait { seconds: u64 },
    /// Anyone claims an active or revealing task.
    Claim { pick: usize },
    /// Anyone initializes and claims a task nobody initialized.
    InitializeAndClaim { pick: usize },
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Self::Deposit { .. } => "deposit",
            Self::Withdraw { .. } => "withdraw",
            Self::Match {
                sponsored: false, ..
            } => "matchOrders",
            Self::Match {
                sponsored: true, ..
            } => "sponsorMatchOrders",
            Self::Initialize { .. } => "initialize",
            Self::Contribute { .. } => "contribute",
            Self::Reveal { .. } => "reveal",
            Self::Finalize { .. } => "finalize",
            Self::Reopen { .. } => "reopen",
            Self::ContributeAndFinalize { .. } => "contributeAndFinalize",
            Self::Wait { .. } => "wait",
            Self::Claim { .. } => "claim",
            Self::InitializeAndClaim { .. } => "initializeAndClaimArray",
        }
    }

    /// Whether the call may pay the kitty out (to the scheduler of a successful task).
    fn pays_the_kitty(&self) -> bool {
        matches!(
            self,
            Self::Finalize { .. } | Self::ContributeAndFinalize { .. }
        )
    }
}

/// The range of the target picks: small, so that the calls concentrate on the oldest
/// candidates and carry some tasks through their whole lifecycle.
const PICK: std::ops::Range<usize> = 0..4;

fn match_op() -> impl Strategy<Value = Op> {
    (
        prop::sample::select(vec![1u64, 1, 3, 3, 5]),
        1..=3u64,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(trust, volume, dataset, sponsored)| Op::Match {
            trust,
            volume,
            dataset,
            sponsored,
        })
}

fn initialize_op() -> impl Strategy<Value = Op> {
    PICK.prop_map(|pick| Op::Initialize { pick })
}

/// Any call.
fn op() -> impl Strategy<Value = Op> {
    let pick = PICK;
    prop_oneof![
        1 => (0..ACTORS.len(), 1..600u64).prop_map(|(actor, rlc)| Op::Deposit { actor, rlc }),
        1 => (0..ACTORS.len(), 1..=110u64)
            .prop_map(|(actor, percent)| Op::Withdraw { actor, percent }),
        2 => match_op(),
        3 => initialize_op(),
        6 => (pick.clone(), 0..WORKERS.len(), prop::bool::weighted(0.8))
            .prop_map(|(pick, worker, right)| Op::Contribute {
                pick,
                worker,
                right
            }),
        4 => (pick.clone(), 0..WORKERS.len())
            .prop_map(|(pick, worker)| Op::Reveal { pick, worker }),
        3 => pick.clone().prop_map(|pick| Op::Finalize { pick }),
        1 => pick.clone().prop_map(|pick| Op::Reopen { pick }),
        2 => (pick.clone(), 0..WORKERS.len())
            .prop_map(|(pick, worker)| Op::ContributeAndFinalize { pick, worker }),
        // Short waits (a reveal deadline is 2 × TIMEREF) and long ones (past the contribution
        // deadline, 7 × TIMEREF, or the final deadline, 10 × TIMEREF).
        3 => prop_oneof![0..=600u64, 600..=3000u64]
            .prop_map(|seconds| Op::Wait { seconds }),
        1 => pick.clone().prop_map(|pick| Op::Claim { pick }),
        1 => pick.prop_map(|pick| Op::InitializeAndClaim { pick }),
    ]
}

/// 15 to 39 calls: a few deals and initializations first, so that the lifecycle calls that
/// follow have targets, then any calls.
fn ops() -> impl Strategy<Value = Vec<Op>> {
    (
        vec(match_op(), 1..3),
        vec(initialize_op(), 1..4),
        vec(op(), 11..31),
    )
        .prop_map(|(deals, tasks, calls)| [deals, tasks, calls].concat())
}

/// A deal matched: its id, its trust and whether each of its tasks was initialized.
struct DealModel {
    id: DealId,
    trust: u64,
    initialized: Vec<bool>,
}

/// A task initialized: its id, its deal's trust and who contributed what.
struct TaskModel {
    id: TaskId,
    trust: u64,
    contributions: Vec<(usize, ResultDigest)>,
}

/// What the test knows of the deals and tasks it made; their state is read from the chain.
#[derive(Default)]
struct Model {
    deals: Vec<DealModel>,
    tasks: Vec<TaskModel>,
    /// For fresh order salts.
    salt: u64,
}

impl Model {
    /// The tasks nobody initialized, as (deal index, task index).
    fn uninitialized(&self) -> Vec<(usize, usize)> {
        let mut all = Vec::new();
        for (d, deal) in self.deals.iter().enumerate() {
            for (idx, done) in deal.initialized.iter().enumerate() {
                if !done {
                    all.push((d, idx));
                }
            }
        }
        all
    }

    fn record_task(&mut self, deal: usize, idx: usize) {
        let deal = &mut self.deals[deal];
        deal.initialized[idx] = true;
        self.tasks.push(TaskModel {
            id: deal.id.task(U256::from(idx)),
            trust: deal.trust,
            contributions: Vec::new(),
        });
    }
}

/// Attempted, succeeded and skipped (no target) counts per kind of call.
type Stats = BTreeMap<&'static str, [usize; 3]>;

/// Sends `call`; the receipt if it was mined and succeeded, `None` if it reverted.
macro_rules! attempt {
    ($call:expr) => {{
        match $call.send().await {
            Ok(pending) => {
                let receipt = pending.get_receipt().await.expect("mined");
                receipt.status().then_some(receipt)
            }
            Err(_) => None,
        }
    }};
}

fn digest(text: &str) -> ResultDigest {
    ResultDigest::new(keccak256(text.as_bytes()))
}

fn salt(n: u64, kind: u8) -> B256 {
    let mut bytes = [0u8; 32];
    bytes[0] = kind;
    bytes[24..].copy_from_slice(&n.to_be_bytes());
    B256::from(bytes)
}

/// The tasks of `model` whose on-chain status is one of `statuses`, as indices with their
/// views.
async fn tasks_in(world: &World, model: &Model, statuses: &[u8]) -> Vec<(usize, Task)> {
    let mut found = Vec::new();
    for (i, task) in model.tasks.iter().enumerate() {
        let view = world.view_task(task.id).await;
        if statuses.contains(&view.status) {
            found.push((i, view));
        }
    }
    found
}

/// The `pick`-th (modulo) of the candidates that satisfy `preferred`, or of all of them if
/// none does (the call then reverts); `None` if there is no candidate at all.
fn choose<T: Clone>(candidates: &[T], pick: usize, preferred: impl Fn(&T) -> bool) -> Option<T> {
    let best: Vec<_> = candidates.iter().filter(|c| preferred(c)).collect();
    if best.is_empty() {
        candidates.get(pick % candidates.len().max(1)).cloned()
    } else {
        Some(best[pick % best.len()].clone())
    }
}

/// The latest block's timestamp: the next call runs at this time or later.
async fn now(world: &World) -> U256 {
    let block = world
        .provider(STRANGER)
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .expect("a block")
        .expect("the latest block");
    U256::from(block.header.timestamp)
}

/// Runs `op`: `None` if it had no target, else whether the call succeeded.
async fn step(world: &World, model: &mut Model, op: &Op) -> Option<bool> {
    match *op {
        Op::Deposit { actor, rlc: amount } => {
            let user = ACTORS[actor];
            let amount = rlc(amount);
            if attempt!(world.token(user).approve(world.hub, amount)).is_none() {
                return Some(false);
            }
            Some(attempt!(world.hub(user).deposit(amount)).is_some())
        }
        Op::Withdraw { actor, percent } => {
            let user = ACTORS[actor];
            let (free, _) = world.account(world.address(user)).await;
            let amount = free * U256::from(percent) / U256::from(100);
            Some(attempt!(world.hub(user).withdraw(amount)).is_some())
        }
        Op::Match {
            trust,
            volume,
            dataset,
            sponsored,
        } => {
            model.salt += 1;
            let n = model.salt;
            let mut orders = if dataset {
                world.orders_with_dataset()
            } else {
                world.orders()
            };
            orders.app.salt = salt(n, 1);
            if let Some(order) = orders.dataset.as_mut() {
                order.salt = salt(n, 2);
            }
            orders.workerpool.salt = salt(n, 3);
            orders.request.salt = salt(n, 4);
            orders.request.trust = U256::from(trust);
            orders.request.volume = U256::from(volume);
            let signed = world.sign(&orders);
            let receipt = if sponsored {
                let hub = world.hub(SPONSOR);
                attempt!(hub.sponsorMatchOrders(
                    signed.app,
                    signed.dataset,
                    signed.workerpool,
                    signed.request
                ))
            } else {
                let hub = world.hub(REQUESTER);
                attempt!(hub.matchOrders(
                    signed.app,
                    signed.dataset,
                    signed.workerpool,
                    signed.request
                ))
            };
            let Some(receipt) = receipt else {
                return Some(false);
            };
            let deal = deal_of(&receipt, world.hub);
            let size = world.view_deal(deal).await.botSize;
            assert_eq!(
                size,
                U256::from(volume),
                "the deal has the request's volume"
            );
            let tasks = usize::try_from(volume).expect("a small volume");
            model.deals.push(DealModel {
                id: deal,
                trust,
                initialized: vec![false; tasks],
            });
            Some(true)
        }
        Op::Initialize { pick } => {
            let pending = model.uninitialized();
            let (deal, idx) = choose(&pending, pick, |_| true)?;
            let id = *model.deals[deal].id.as_b256();
            let hub = world.hub(SCHEDULER);
            let done = attempt!(hub.initialize(id, U256::from(idx))).is_some();
            if done {
                model.record_task(deal, idx);
            }
            Some(done)
        }
        Op::InitializeAndClaim { pick } => {
            let now = now(world).await;
            let mut pending = Vec::new();
            for (deal, idx) in model.uninitialized() {
                let start = world.view_deal(model.deals[deal].id).await.startTime;
                pending.push((deal, idx, start + U256::from(10 * TIMEREF) <= now));
            }
            let (deal, idx, _) = choose(&pending, pick, |(_, _, expired)| *expired)?;
            let id = *model.deals[deal].id.as_b256();
            let hub = world.hub(STRANGER);
            let done =
                attempt!(hub.initializeAndClaimArray(vec![id], vec![U256::from(idx)])).is_some();
            if done {
                model.record_task(deal, idx);
            }
            Some(done)
        }
        Op::Contribute {
            pick,
            worker,
            right,
        } => {
            let active = tasks_in(world, model, &[1]).await;
            let (i, _) = choose(&active, pick, |_| true)?;
            let TaskModel {
                id: task,
                contributions,
                ..
            } = &mut model.tasks[i];
            // A worker that has not contributed to this task yet, if there is one.
            let workers: Vec<_> = WORKERS
                .iter()
                .map(|w| (*w, contributions.iter().any(|(c, _)| c == w)))
                .collect();
            let (worker, _) = choose(&workers, worker, |(_, contributed)| !contributed)?;
            let result = if right {
                digest("right")
            } else {
                digest("wrong")
            };
            let done = world
                .try_contribute(worker, *task, result)
                .await
                .is_ok_and(|receipt| receipt.status());
            if done {
                contributions.push((worker, result));
            }
            Some(done)
        }
        Op::Reveal { pick, worker } => {
            let revealing = tasks_in(world, model, &[2]).await;
            let (i, view) = choose(&revealing, pick, |_| true)?;
            let TaskModel {
                id: task,
                contributions,
                ..
            } = &model.tasks[i];
            // The contributors of the consensus value, preferably those that have not revealed
            // and were not rejected at a reopen.
            let mut winners = Vec::new();
            for (w, d) in contributions {
                let hash = *Contribution::new(world.address(*w), *task, *d)
                    .result_hash
                    .as_b256();
                if hash == view.consensusValue {
                    let status = world.view_contribution(*task, *w).await.status;
                    winners.push((*w, *d, status == 1));
                }
            }
            let (worker, result, _) = choose(&winners, worker, |(_, _, pending)| *pending)?;
            let hub = world.hub(worker);
            Some(attempt!(hub.reveal(*task.as_b256(), *result.as_b256())).is_some())
        }
        Op::Finalize { pick } => {
            let now = now(world).await;
            let revealing = tasks_in(world, model, &[2]).await;
            let (i, _) = choose(&revealing, pick, |(_, t)| {
                t.revealCounter == t.winnerCounter
                    || (t.revealCounter > U256::ZERO && t.revealDeadline <= now)
            })?;
            let id = *model.tasks[i].id.as_b256();
            let hub = world.hub(SCHEDULER);
            let call = hub.finalize(id, Bytes::from_static(RESULT_LINK), Bytes::new());
            Some(attempt!(call).is_some())
        }
        Op::Reopen { pick } => {
            let now = now(world).await;
            let revealing = tasks_in(world, model, &[2]).await;
            let (i, _) = choose(&revealing, pick, |(_, t)| {
                t.revealCounter == U256::ZERO && t.revealDeadline <= now
            })?;
            let id = *model.tasks[i].id.as_b256();
            Some(attempt!(world.hub(SCHEDULER).reopen(id)).is_some())
        }
        Op::ContributeAndFinalize { pick, worker } => {
            let active = tasks_in(world, model, &[1]).await;
            let alone: Vec<_> = active
                .into_iter()
                .filter(|(i, _)| {
                    let task = &model.tasks[*i];
                    task.trust == 1 && task.contributions.is_empty()
                })
                .collect();
            let (i, _) = choose(&alone, pick, |_| true)?;
            let worker = WORKERS[worker];
            let task = model.tasks[i].id;
            let result = digest("right");
            let hub = world.hub(worker);
            let call = hub.contributeAndFinalize(
                *task.as_b256(),
                *result.as_b256(),
                Bytes::from_static(RESULT_LINK),
                Bytes::new(),
                Address::ZERO,
                Bytes::new(),
                world.authorization(worker, task),
            );
            let done = attempt!(call).is_some();
            if done {
                model.tasks[i].contributions.push((worker, result));
            }
            Some(done)
        }
        Op::Wait { seconds } => {
            world.increase_time(seconds).await;
            Some(true)
        }
        Op::Claim { pick } => {
            let now = now(world).await;
            let open = tasks_in(world, model, &[1, 2]).await;
            let (i, _) = choose(&open, pick, |(_, t)| t.finalDeadline <= now)?;
            let id = *model.tasks[i].id.as_b256();
            Some(attempt!(world.hub(STRANGER).claim(id)).is_some())
        }
    }
}

/// One case: a fresh world, `ops` in order, the invariants after each.
async fn run(ops: &[Op], stats: &RefCell<Stats>) {
    let world = World::start().await;
    world.assert_conserved().await;
    let mut model = Model::default();
    for (n, op) in ops.iter().enumerate() {
        let kitty = world.account(KITTY).await.1;
        let outcome = step(&world, &mut model, op).await;
        world.assert_conserved().await;
        let after = world.account(KITTY).await.1;
        assert!(
            after >= kitty || (outcome == Some(true) && op.pays_the_kitty()),
            "step {n} ({op:?}, outcome {outcome:?}) took {} from the kitty",
            kitty - after
        );
        let mut stats = stats.borrow_mut();
        let counts = stats.entry(op.name()).or_default();
        match outcome {
            None => counts[2] += 1,
            Some(done) => {
                counts[0] += 1;
                counts[1] += usize::from(done);
            }
        }
    }
    world.shutdown().await;
}

#[test]
fn random_sequences_of_protocol_calls_never_create_or_lose_a_token() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(12);
    let mut runner = TestRunner::new(Config {
        cases,
        // No regression files in the source tree; a failure prints its minimal sequence.
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    });
    let stats = RefCell::new(Stats::new());
    let outcome = runner.run(&ops(), |ops| {
        // A runtime per case: a failed case drops its chain with it.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(run(&ops, &stats));
        Ok(())
    });
    println!("{cases} cases; per call: attempted, succeeded, skipped (no target)");
    for (name, [attempted, succeeded, skipped]) in stats.borrow().iter() {
        println!("  {name:<24} {attempted:>4} {succeeded:>4} {skipped:>4}");
    }
    if let Err(error) = outcome {
        panic!("{error}");
    }
}
