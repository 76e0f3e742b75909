//! Conservation of tokens under random use (spec §1.3, §3–§5): random sequences of protocol
//! calls against the hub's bytecode, each predicted by a model of every account
//! ([`model::Model`]: free and locked SRLC, scores, tokens and allowances, asset owners,
//! consumed volumes, deals and tasks) and checked against the chain after every step, account
//! by account: a wrong payment, a payment to the wrong account, or a revert that changes
//! anything fails the case. The model decides whether each call succeeds; the chain must agree.
//!
//! The calls: deposits (`deposit`, `depositFor`, `depositForArray`, the token's
//! `approveAndCall`, with and without a match), withdrawals (`withdraw`, `withdrawTo`), SRLC
//! `transfer`, `approve` and `transferFrom` (the hub among the targets), deals (requester-paid,
//! sponsored, deposited-and-matched; fresh or reused orders, varied prices and volumes up to 6,
//! TEE, callbacks, stale signatures, prices above the maximum), order cancels, asset transfers,
//! scores set on the test harness (non-fresh weights), the whole task lifecycle with its array
//! forms, right and wrong results, missing enclaves and bad authorizations, and the clock.
//! The run asserts that every call succeeded at least once and that the expected refusals
//! happened.

mod driver;
mod model;

use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet},
};

use agora_contracts::{AppRegistry, Hub, LibOrders, RLC};
use agora_primitives::{
    Contribution, Nrlc, Order, ResultDigest, Tag, TaskId, WorkerpoolAuthorization,
};
use alloy::{
    primitives::{Address, B256, Bytes, U256, address, keccak256},
    providers::Provider,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use proptest::{
    collection::vec,
    prelude::*,
    test_runner::{Config, TestRunner},
};

use agora_testkit::market::{
    APP_OWNER, DATASET_OWNER, KITTY, Orders, REQUESTER, RESULT_LINK, SCHEDULER, SPONSOR, STRANGER,
    TIMEREF, WORKERS, World,
};

use crate::common::{EscrowHarness, token_id};
use driver::{Driver, Tx, View};
use model::{ACTIVE, MatchInput, Model, REVEALING, Revert};

/// The dev accounts of the world, in order.
const ACCOUNTS: usize = 12;

/// Who deposits, withdraws and transfers: everyone who pays, is paid or stakes, and a stranger.
const ACTORS: [usize; 11] = [
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
    STRANGER,
];

/// Who may spend someone else's SRLC.
const SPENDERS: [usize; 2] = [STRANGER, SPONSOR];

/// The callback of the deals that have one: an account without code (the call succeeds and
/// changes nothing), so the test follows the callback data check.
const CALLBACK: Address = address!("0x00000000000000000000000000000000000ca11b");

/// The enclave of the TEE contributions.
fn enclave() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256(b"agora conservation enclave")).expect("a key")
}

/// How a deal is paid for and sent.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// matchOrders sent by the requester.
    Requester,
    /// matchOrders sent by a stranger: the requester still pays.
    Stranger,
    /// sponsorMatchOrders: the sponsor pays.
    Sponsor,
    /// The token's approveAndCall: the requester deposits and matches in one transaction.
    ApproveAndCall,
}

/// A deal attempt.
#[derive(Debug, Clone)]
struct MatchOp {
    via: Via,
    app_price: u64,
    /// The dataset's price, if the deal has one.
    dataset: Option<u64>,
    pool_price: u64,
    /// The volumes of the app, workerpool and request orders.
    volumes: [u64; 3],
    trust: u64,
    tee: bool,
    callback: bool,
    /// 0: fresh orders; 1: the last asset orders again with a new request; 2: all four again.
    reuse: u8,
    /// The app order is signed by its first owner even if the app changed hands.
    stale_signer: bool,
    /// The request's app price maximum is below the price.
    underpay: bool,
}

/// One step; targets are indices taken modulo what exists when the step runs.
#[derive(Debug, Clone)]
enum Op {
    /// An actor approves the hub (optionally) and deposits.
    Deposit {
        actor: usize,
        amount: u64,
        approve: bool,
    },
    /// An actor approves and deposits for a target (the hub among them).
    DepositFor {
        actor: usize,
        target: usize,
        amount: u64,
    },
    /// An actor approves the total and deposits for several targets.
    DepositForArray {
        actor: usize,
        targets: Vec<(usize, u64)>,
    },
    /// An actor withdraws this percentage of its free balance (over 100 reverts), to itself
    /// or to a target.
    Withdraw {
        actor: usize,
        target: Option<usize>,
        percent: u64,
    },
    /// SRLC transfer of a percentage of the free balance.
    Transfer {
        actor: usize,
        target: usize,
        percent: u64,
    },
    /// SRLC approve of a spender.
    Approve {
        actor: usize,
        spender: usize,
        amount: u64,
    },
    /// SRLC transferFrom by a spender, a percentage of its allowance.
    TransferFrom {
        spender: usize,
        from: usize,
        target: usize,
        percent: u64,
    },
    Match(MatchOp),
    /// One of the last match's orders (app, dataset, workerpool, request) is closed by its
    /// owner or by someone else.
    Cancel {
        which: usize,
        by_owner: bool,
    },
    /// An asset (app, dataset, workerpool) changes hands, sent by its owner or not.
    TransferAsset {
        kind: usize,
        to: usize,
        by_owner: bool,
    },
    /// The harness gives a worker a score.
    SetScore {
        worker: usize,
        score: u64,
    },
    Initialize {
        pick: usize,
    },
    InitializeArray {
        picks: [usize; 2],
    },
    Contribute {
        pick: usize,
        worker: usize,
        right: bool,
        /// The authorization is the scheduler's (else a worker's).
        authorized: bool,
        enclave: bool,
    },
    Reveal {
        pick: usize,
        worker: usize,
    },
    Finalize {
        pick: usize,
        callback_ok: bool,
        by_scheduler: bool,
    },
    Reopen {
        pick: usize,
    },
    ContributeAndFinalize {
        pick: usize,
        worker: usize,
        right: bool,
        enclave: bool,
        callback_ok: bool,
    },
    Claim {
        pick: usize,
    },
    ClaimArray {
        picks: [usize; 2],
    },
    InitializeAndClaim {
        pick: usize,
    },
    /// The clock moves ahead.
    Wait {
        seconds: u64,
    },
}

/// The names of the calls whose success the run must reach.
const REACHED: &[&str] = &[
    "deposit",
    "depositFor",
    "depositForArray",
    "withdraw",
    "withdrawTo",
    "transfer",
    "approve",
    "transferFrom",
    "matchOrders",
    "sponsorMatchOrders",
    "approveAndCall+matchOrders",
    "manageOrder CLOSE",
    "asset transferFrom",
    "setScore",
    "initialize",
    "initializeArray",
    "contribute",
    "contribute (TEE)",
    "reveal",
    "finalize",
    "finalize (callback)",
    "reopen",
    "contributeAndFinalize",
    "claim",
    "claimArray",
    "initializeAndClaimArray",
];

/// The refusals the run must see (each predicted by the model and confirmed by the chain).
const REFUSED: &[&str] = &[
    "HubNotAnAccount",
    "InsufficientBalance",
    "InsufficientAllowance",
    "ERC20InsufficientAllowance",
    "OrderConsumed",
    "InvalidAppOrderSignature",
    "AppPriceTooHigh",
    "InvalidSenderOrSignature",
    "ERC721InsufficientApproval",
    "EnclaveChallengeRequired",
    "InvalidAuthorization",
    "CallbackDataMismatch",
    "NotTheScheduler",
    "NotAWinner",
    "RevealsPending",
    "ContributionDeadlinePassed",
    "FinalDeadlineNotReached",
    "TaskAlreadyInitialized",
    "TaskHasContributions",
    "ReplicationRequired",
];

const PICK: std::ops::Range<usize> = 0..4;

fn nrlc(rlc: u64) -> u64 {
    rlc * Nrlc::PER_RLC
}

fn match_op() -> impl Strategy<Value = MatchOp> {
    (
        prop_oneof![
            4 => Just(Via::Requester),
            1 => Just(Via::Stranger),
            2 => Just(Via::Sponsor),
            2 => Just(Via::ApproveAndCall),
        ],
        prop::sample::select(vec![0, nrlc(1), nrlc(1) + 7, nrlc(3)]),
        prop::option::weighted(0.4, prop::sample::select(vec![0, nrlc(2), 333_333_333])),
        prop_oneof![
            1 => Just(0u64),
            3 => Just(nrlc(10)),
            3 => 1..=nrlc(20),
        ],
        (1..=8u64, 1..=8u64, 1..=6u64),
        prop::sample::select(vec![0u64, 1, 1, 3, 5, 9]),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.25),
        prop_oneof![5 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8)],
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.05),
    )
        .prop_map(
            |(
                via,
                app_price,
                dataset,
                pool_price,
                (app_volume, pool_volume, request_volume),
                trust,
                tee,
                callback,
                reuse,
                stale_signer,
                underpay,
            )| MatchOp {
                via,
                app_price,
                dataset,
                pool_price,
                volumes: [app_volume, pool_volume, request_volume],
                trust,
                tee,
                callback,
                reuse,
                stale_signer,
                underpay,
            },
        )
}

fn actor() -> std::ops::Range<usize> {
    0..ACTORS.len()
}

/// An actor, or (the last index) the hub.
fn target() -> std::ops::Range<usize> {
    0..ACTORS.len() + 1
}

/// Any step.
fn op() -> impl Strategy<Value = Op> {
    let pick = PICK;
    let worker = 0..WORKERS.len();
    prop_oneof![
        2 => (actor(), 1..600u64, prop::bool::weighted(0.9))
            .prop_map(|(actor, amount, approve)| Op::Deposit { actor, amount, approve }),
        1 => (actor(), target(), 1..300u64)
            .prop_map(|(actor, target, amount)| Op::DepositFor { actor, target, amount }),
        1 => (actor(), vec((target(), 1..100u64), 1..4))
            .prop_map(|(actor, targets)| Op::DepositForArray { actor, targets }),
        2 => (actor(), prop::option::of(target()), 1..=110u64)
            .prop_map(|(actor, target, percent)| Op::Withdraw { actor, target, percent }),
        2 => (actor(), target(), 1..=110u64)
            .prop_map(|(actor, target, percent)| Op::Transfer { actor, target, percent }),
        1 => (actor(), 0..SPENDERS.len(), 0..400u64)
            .prop_map(|(actor, spender, amount)| Op::Approve { actor, spender, amount }),
        2 => (0..SPENDERS.len(), actor(), target(), 1..=150u64)
            .prop_map(|(spender, from, target, percent)| Op::TransferFrom { spender, from, target, percent }),
        5 => match_op().prop_map(Op::Match),
        1 => (0..4usize, prop::bool::weighted(0.8))
            .prop_map(|(which, by_owner)| Op::Cancel { which, by_owner }),
        1 => (0..3usize, actor(), prop::bool::weighted(0.8))
            .prop_map(|(kind, to, by_owner)| Op::TransferAsset { kind, to, by_owner }),
        1 => (worker.clone(), 0..40u64).prop_map(|(worker, score)| Op::SetScore { worker, score }),
        4 => pick.clone().prop_map(|pick| Op::Initialize { pick }),
        1 => (pick.clone(), pick.clone()).prop_map(|(a, b)| Op::InitializeArray { picks: [a, b] }),
        8 => (
            pick.clone(),
            worker.clone(),
            prop::bool::weighted(0.8),
            prop::bool::weighted(0.95),
            prop::bool::weighted(0.5),
        )
            .prop_map(|(pick, worker, right, authorized, enclave)| Op::Contribute {
                pick,
                worker,
                right,
                authorized,
                enclave,
            }),
        5 => (pick.clone(), worker.clone()).prop_map(|(pick, worker)| Op::Reveal { pick, worker }),
        4 => (pick.clone(), prop::bool::weighted(0.9), prop::bool::weighted(0.95))
            .prop_map(|(pick, callback_ok, by_scheduler)| Op::Finalize { pick, callback_ok, by_scheduler }),
        1 => pick.clone().prop_map(|pick| Op::Reopen { pick }),
        2 => (
            pick.clone(),
            worker,
            prop::bool::weighted(0.8),
            prop::bool::weighted(0.5),
            prop::bool::weighted(0.9),
        )
            .prop_map(|(pick, worker, right, enclave, callback_ok)| Op::ContributeAndFinalize {
                pick,
                worker,
                right,
                enclave,
                callback_ok,
            }),
        1 => pick.clone().prop_map(|pick| Op::Claim { pick }),
        1 => (pick.clone(), pick.clone()).prop_map(|(a, b)| Op::ClaimArray { picks: [a, b] }),
        1 => pick.prop_map(|pick| Op::InitializeAndClaim { pick }),
        // Short waits (a reveal deadline is 2 × TIMEREF) and long ones (past the contribution
        // deadline, 7 × TIMEREF, or the final deadline, 10 × TIMEREF).
        3 => prop_oneof![0..=600u64, 600..=3000u64].prop_map(|seconds| Op::Wait { seconds }),
    ]
}

/// 30 to 70 steps: a few deals and initializations first, so that the lifecycle calls that
/// follow have targets, then any steps.
fn ops() -> impl Strategy<Value = Vec<Op>> {
    (
        vec(match_op().prop_map(Op::Match), 1..4),
        vec(PICK.prop_map(|pick| Op::Initialize { pick }), 1..5),
        vec(op(), 28..62),
    )
        .prop_map(|(deals, tasks, calls)| [deals, tasks, calls].concat())
}

/// The orders of the last deal attempted, for reuse and cancels.
#[derive(Clone)]
struct Last {
    orders: Orders,
}

/// Per call name: attempted, succeeded; and the refusals seen.
#[derive(Default)]
struct Coverage {
    calls: BTreeMap<&'static str, [usize; 2]>,
    refused: BTreeSet<Revert>,
}

/// One case's world, model and driver.
struct Case {
    world: World,
    driver: Driver,
    model: Model,
    last: Option<Last>,
    salt: u64,
    names: BTreeMap<Address, String>,
}

fn salt(n: u64, kind: u8) -> B256 {
    let mut bytes = [0u8; 32];
    bytes[0] = kind;
    bytes[24..].copy_from_slice(&n.to_be_bytes());
    B256::from(bytes)
}

fn digest(right: bool) -> ResultDigest {
    ResultDigest::new(keccak256(if right { "right" } else { "wrong" }))
}

/// `amount` × `percent` / 100.
fn part(amount: U256, percent: u64) -> U256 {
    amount * U256::from(percent) / U256::from(100)
}

/// A call prepared for one transaction: its transaction and the model's verdict on it.
struct Planned {
    name: &'static str,
    tx: Tx,
    /// The model after the call if it succeeds, or why it reverts.
    outcome: Result<Model, Revert>,
}

impl Case {
    async fn start() -> Self {
        let world = World::start_with_hub(|provider, d| async move {
            *EscrowHarness::deploy(provider, d.token, d.hub_market, d.hub_views)
                .await
                .expect("the harness deploys")
                .address()
        })
        .await;
        let provider = world.provider(STRANGER);
        let signers = (0..ACCOUNTS).map(|i| world.signer(i)).collect();
        let driver = Driver::new(world.url(), &provider, signers).await;
        let head = provider.get_block_number().await.expect("a block number");
        let block = provider
            .get_block_by_number(head.into())
            .await
            .expect("a block")
            .expect("the head");
        let hub = world.hub;
        let token = world.deployment.token;
        let mut model = Model {
            hub,
            kitty: KITTY,
            free: BTreeMap::new(),
            frozen: BTreeMap::new(),
            score: BTreeMap::new(),
            supply: U256::ZERO,
            rlc: BTreeMap::new(),
            rlc_allowance: BTreeMap::new(),
            allowance: BTreeMap::new(),
            owners: [
                world.address(APP_OWNER),
                world.address(DATASET_OWNER),
                world.address(SCHEDULER),
            ],
            consumed: BTreeMap::new(),
            deals: Vec::new(),
            tasks: Vec::new(),
            time: block.header.timestamp,
            timeref: TIMEREF,
        };
        // The world's setup (World::start): every actor got 1,000 RLC from the deployer and
        // deposited 500, approving exactly that.
        let rlc = RLC::new(token, &provider);
        let deployer_rlc = rlc
            .balanceOf(world.address(0))
            .call()
            .await
            .expect("a view");
        model.rlc.insert(world.address(0), deployer_rlc);
        let half = agora_testkit::market::rlc(500);
        for user in 0..ACCOUNTS {
            let address = world.address(user);
            if user != 0 {
                model.rlc.insert(address, half);
            }
            model.free.insert(address, half);
            model.supply += half;
        }
        model.rlc.insert(hub, model.supply);
        let mut names = BTreeMap::new();
        for (user, name) in [
            (0, "deployer"),
            (APP_OWNER, "app owner"),
            (DATASET_OWNER, "dataset owner"),
            (SCHEDULER, "scheduler"),
            (REQUESTER, "requester"),
            (SPONSOR, "sponsor"),
            (WORKERS[0], "worker 0"),
            (WORKERS[1], "worker 1"),
            (WORKERS[2], "worker 2"),
            (WORKERS[3], "worker 3"),
            (WORKERS[4], "worker 4"),
            (STRANGER, "stranger"),
        ] {
            names.insert(world.address(user), name.to_string());
        }
        names.insert(hub, "hub".into());
        names.insert(KITTY, "kitty".into());
        names.insert(CALLBACK, "callback".into());
        let mut case = Self {
            world,
            driver,
            model,
            last: None,
            salt: 0,
            names,
        };
        // The setup's state is the model's, or the comparison below names the difference.
        let (_, observed) = case.run(&[], &[]).await;
        case.compare(&observed, "the start");
        case
    }

    fn address(&self, user: usize) -> Address {
        self.world.address(user)
    }

    /// The dev account index of `address`.
    fn index(&self, address: Address) -> usize {
        (0..ACCOUNTS)
            .find(|i| self.address(*i) == address)
            .expect("a dev account")
    }

    fn target(&self, target: usize) -> Address {
        ACTORS
            .get(target)
            .map_or(self.world.hub, |user| self.address(*user))
    }

    // ---- Observation ----

    /// Every view the model is compared with, and how to read its answer.
    fn views(&self, tasks: &[model::Task]) -> (Vec<View>, Vec<(String, Reading)>) {
        let hub = self.world.hub;
        let token = self.world.deployment.token;
        let mut views = Vec::new();
        let mut readings = Vec::new();
        let mut add = |to: Address, input: Vec<u8>, key: String, reading: Reading| {
            views.push(View { to, input });
            readings.push((key, reading));
        };
        for (address, name) in &self.names {
            add(
                hub,
                Hub::viewAccountCall::new((*address,)).abi_encode(),
                name.clone(),
                Reading::Account,
            );
            add(
                token,
                RLC::balanceOfCall::new((*address,)).abi_encode(),
                format!("RLC of {name}"),
                Reading::Number,
            );
        }
        for worker in WORKERS {
            let address = self.address(worker);
            add(
                hub,
                Hub::viewScoreCall::new((address,)).abi_encode(),
                format!("score of {}", self.names[&address]),
                Reading::Number,
            );
        }
        for user in ACTORS {
            let address = self.address(user);
            add(
                token,
                RLC::allowanceCall::new((address, hub)).abi_encode(),
                format!("RLC allowance of {} to the hub", self.names[&address]),
                Reading::Number,
            );
            for spender in SPENDERS {
                let spender = self.address(spender);
                add(
                    hub,
                    Hub::allowanceCall::new((address, spender)).abi_encode(),
                    format!(
                        "SRLC allowance of {} to {}",
                        self.names[&address], self.names[&spender]
                    ),
                    Reading::Number,
                );
            }
        }
        add(
            hub,
            Hub::totalSupplyCall::new(()).abi_encode(),
            "SRLC supply".into(),
            Reading::Number,
        );
        let d = &self.world.deployment;
        let assets = self.world.assets;
        for (registry, asset, kind) in [
            (d.app_registry, assets.app, "app"),
            (d.dataset_registry, assets.dataset, "dataset"),
            (d.workerpool_registry, assets.workerpool, "workerpool"),
        ] {
            add(
                registry,
                AppRegistry::ownerOfCall::new((token_id(asset),)).abi_encode(),
                format!("owner of the {kind}"),
                Reading::Owner,
            );
        }
        for (i, task) in tasks.iter().enumerate() {
            add(
                hub,
                Hub::viewTaskCall::new((*task.id.as_b256(),)).abi_encode(),
                format!("task {i}"),
                Reading::Task,
            );
        }
        (views, readings)
    }

    /// What the model expects each reading to be.
    fn expected(&self) -> BTreeMap<String, U256> {
        let m = &self.model;
        let mut expected = BTreeMap::new();
        let get = |map: &BTreeMap<Address, U256>, a: &Address| -> U256 {
            map.get(a).copied().unwrap_or_default()
        };
        for (address, name) in &self.names {
            expected.insert(format!("{name}: free"), get(&m.free, address));
            expected.insert(format!("{name}: locked"), get(&m.frozen, address));
            expected.insert(format!("RLC of {name}"), get(&m.rlc, address));
        }
        for worker in WORKERS {
            let address = self.address(worker);
            let score = m.score.get(&address).copied().unwrap_or_default();
            expected.insert(
                format!("score of {}", self.names[&address]),
                U256::from(score),
            );
        }
        let hub = self.world.hub;
        for user in ACTORS {
            let address = self.address(user);
            let allowed = m.rlc_allowance.get(&(address, hub)).copied();
            expected.insert(
                format!("RLC allowance of {} to the hub", self.names[&address]),
                allowed.unwrap_or_default(),
            );
            for spender in SPENDERS {
                let spender = self.address(spender);
                let allowed = m.allowance.get(&(address, spender)).copied();
                expected.insert(
                    format!(
                        "SRLC allowance of {} to {}",
                        self.names[&address], self.names[&spender]
                    ),
                    allowed.unwrap_or_default(),
                );
            }
        }
        expected.insert("SRLC supply".into(), m.supply);
        for (kind, owner) in ["app", "dataset", "workerpool"].iter().zip(m.owners) {
            expected.insert(
                format!("owner of the {kind}"),
                U256::from_be_slice(owner.as_slice()),
            );
        }
        for (i, task) in m.tasks.iter().enumerate() {
            expected.insert(format!("task {i}: status"), U256::from(task.status));
            expected.insert(format!("task {i}: revealed"), U256::from(task.revealed));
            expected.insert(format!("task {i}: winners"), U256::from(task.winners));
            expected.insert(
                format!("task {i}: contributors"),
                U256::from(task.contributions.len()),
            );
            expected.insert(
                format!("task {i}: final deadline"),
                U256::from(task.final_deadline),
            );
        }
        expected
    }

    /// Sends `txs` at the model's time and reads every view (those of `tasks`, the tasks
    /// the model expects after the calls, included): the statuses and the readings.
    async fn run(
        &mut self,
        txs: &[Tx],
        tasks: &[model::Task],
    ) -> (Vec<bool>, BTreeMap<String, U256>) {
        let (views, readings) = self.views(tasks);
        let (statuses, outputs) = self.driver.step(self.model.time, txs, &views).await;
        let mut observed = BTreeMap::new();
        for ((key, reading), output) in readings.into_iter().zip(outputs) {
            reading.read(&key, &output, &mut observed);
        }
        (statuses, observed)
    }

    /// Fails, naming every difference, unless the chain shows what the model expects.
    fn compare(&self, observed: &BTreeMap<String, U256>, when: &str) {
        self.model.assert_invariants();
        let expected = self.expected();
        let differences: Vec<String> = expected
            .iter()
            .filter(|(key, value)| observed.get(*key) != Some(value))
            .map(|(key, value)| {
                format!(
                    "  {key}: model {value}, chain {}",
                    observed
                        .get(key)
                        .map_or_else(|| "nothing".to_string(), |v| v.to_string())
                )
            })
            .collect();
        assert!(
            differences.is_empty(),
            "after {when}, the chain differs from the model:\n{}",
            differences.join("\n")
        );
    }

    // ---- Steps ----

    /// Plans one call: `apply` gives the model's verdict on a copy of `model`.
    fn plan(
        model: &Model,
        name: &'static str,
        sender: usize,
        to: Address,
        input: Vec<u8>,
        apply: impl FnOnce(&mut Model) -> Result<(), Revert>,
    ) -> Planned {
        let mut next = model.clone();
        let outcome = apply(&mut next).map(|()| next);
        Planned {
            name,
            tx: Tx { sender, to, input },
            outcome,
        }
    }

    /// The calls of `op`, planned in order (each on the model the previous ones leave if they
    /// succeed); empty if the step has no target.
    fn calls(&mut self, op: &Op) -> Vec<Planned> {
        let hub = self.world.hub;
        let token = self.world.deployment.token;
        let mut model = self.model.clone();
        let mut planned = Vec::new();
        let push = |planned: &mut Vec<Planned>, model: &mut Model, call: Planned| {
            if let Ok(next) = &call.outcome {
                *model = next.clone();
            }
            planned.push(call);
        };
        match op {
            Op::Deposit {
                actor,
                amount,
                approve,
            } => {
                let user = ACTORS[*actor];
                let from = self.address(user);
                let amount = agora_testkit::market::rlc(*amount);
                if *approve {
                    let call = Self::plan(
                        &model,
                        "RLC approve",
                        user,
                        token,
                        RLC::approveCall::new((hub, amount)).abi_encode(),
                        |m| {
                            m.rlc_approve(from, hub, amount);
                            Ok(())
                        },
                    );
                    push(&mut planned, &mut model, call);
                }
                let call = Self::plan(
                    &model,
                    "deposit",
                    user,
                    hub,
                    Hub::depositCall::new((amount,)).abi_encode(),
                    |m| m.deposit_for(from, from, amount),
                );
                push(&mut planned, &mut model, call);
            }
            Op::DepositFor {
                actor,
                target,
                amount,
            } => {
                let user = ACTORS[*actor];
                let from = self.address(user);
                let to = self.target(*target);
                let amount = agora_testkit::market::rlc(*amount);
                let call = Self::plan(
                    &model,
                    "RLC approve",
                    user,
                    token,
                    RLC::approveCall::new((hub, amount)).abi_encode(),
                    |m| {
                        m.rlc_approve(from, hub, amount);
                        Ok(())
                    },
                );
                push(&mut planned, &mut model, call);
                let call = Self::plan(
                    &model,
                    "depositFor",
                    user,
                    hub,
                    Hub::depositForCall::new((amount, to)).abi_encode(),
                    |m| m.deposit_for(from, to, amount),
                );
                push(&mut planned, &mut model, call);
            }
            Op::DepositForArray { actor, targets } => {
                let user = ACTORS[*actor];
                let from = self.address(user);
                let targets: Vec<(Address, U256)> = targets
                    .iter()
                    .map(|(t, a)| (self.target(*t), agora_testkit::market::rlc(*a)))
                    .collect();
                let total: U256 = targets.iter().map(|(_, a)| *a).sum();
                let call = Self::plan(
                    &model,
                    "RLC approve",
                    user,
                    token,
                    RLC::approveCall::new((hub, total)).abi_encode(),
                    |m| {
                        m.rlc_approve(from, hub, total);
                        Ok(())
                    },
                );
                push(&mut planned, &mut model, call);
                let amounts = targets.iter().map(|(_, a)| *a).collect();
                let addresses = targets.iter().map(|(t, _)| *t).collect();
                let call = Self::plan(
                    &model,
                    "depositForArray",
                    user,
                    hub,
                    Hub::depositForArrayCall::new((amounts, addresses)).abi_encode(),
                    |m| m.deposit_for_array(from, &targets),
                );
                push(&mut planned, &mut model, call);
            }
            Op::Withdraw {
                actor,
                target,
                percent,
            } => {
                let user = ACTORS[*actor];
                let from = self.address(user);
                let free = model.free.get(&from).copied().unwrap_or_default();
                let amount = part(free, *percent);
                let call = match target {
                    None => Self::plan(
                        &model,
                        "withdraw",
                        user,
                        hub,
                        Hub::withdrawCall::new((amount,)).abi_encode(),
                        |m| m.withdraw_to(from, from, amount),
                    ),
                    Some(target) => {
                        let to = self.target(*target);
                        Self::plan(
                            &model,
                            "withdrawTo",
                            user,
                            hub,
                            Hub::withdrawToCall::new((amount, to)).abi_encode(),
                            |m| m.withdraw_to(from, to, amount),
                        )
                    }
                };
                push(&mut planned, &mut model, call);
            }
            Op::Transfer {
                actor,
                target,
                percent,
            } => {
                let user = ACTORS[*actor];
                let from = self.address(user);
                let to = self.target(*target);
                let free = model.free.get(&from).copied().unwrap_or_default();
                let amount = part(free, *percent);
                let call = Self::plan(
                    &model,
                    "transfer",
                    user,
                    hub,
                    Hub::transferCall::new((to, amount)).abi_encode(),
                    |m| m.transfer(from, to, amount),
                );
                push(&mut planned, &mut model, call);
            }
            Op::Approve {
                actor,
                spender,
                amount,
            } => {
                let user = ACTORS[*actor];
                let owner = self.address(user);
                let spender = self.address(SPENDERS[*spender]);
                let amount = agora_testkit::market::rlc(*amount);
                let call = Self::plan(
                    &model,
                    "approve",
                    user,
                    hub,
                    Hub::approveCall::new((spender, amount)).abi_encode(),
                    |m| m.approve(owner, spender, amount),
                );
                push(&mut planned, &mut model, call);
            }
            Op::TransferFrom {
                spender,
                from,
                target,
                percent,
            } => {
                let user = SPENDERS[*spender];
                let spender = self.address(user);
                let from = self.address(ACTORS[*from]);
                let to = self.target(*target);
                let allowed = model
                    .allowance
                    .get(&(from, spender))
                    .copied()
                    .unwrap_or_default();
                let amount = part(allowed, *percent);
                let call = Self::plan(
                    &model,
                    "transferFrom",
                    user,
                    hub,
                    Hub::transferFromCall::new((from, to, amount)).abi_encode(),
                    |m| m.transfer_from(spender, from, to, amount),
                );
                push(&mut planned, &mut model, call);
            }
            Op::Match(m) => {
                let call = self.plan_match(&model, m);
                push(&mut planned, &mut model, call);
            }
            Op::Cancel { which, by_owner } => {
                let Some(last) = self.last.clone() else {
                    return planned;
                };
                let o = &last.orders;
                let domain = &self.world.domain;
                let which = if *which == 1 && o.dataset.is_none() {
                    0
                } else {
                    *which
                };
                let (owner, hash, volume, input) = match which {
                    0 => (
                        model.owners[0],
                        o.app.hash(domain),
                        o.app.volume,
                        Hub::manageAppOrderCall::new((LibOrders::AppOrderOperation {
                            order: LibOrders::AppOrder::from(&o.app),
                            operation: 1,
                            sign: Bytes::new(),
                        },))
                        .abi_encode(),
                    ),
                    1 => {
                        let d = o.dataset.as_ref().expect("a dataset order");
                        (
                            model.owners[1],
                            d.hash(domain),
                            d.volume,
                            Hub::manageDatasetOrderCall::new((LibOrders::DatasetOrderOperation {
                                order: LibOrders::DatasetOrder::from(d),
                                operation: 1,
                                sign: Bytes::new(),
                            },))
                            .abi_encode(),
                        )
                    }
                    2 => (
                        model.owners[2],
                        o.workerpool.hash(domain),
                        o.workerpool.volume,
                        Hub::manageWorkerpoolOrderCall::new((
                            LibOrders::WorkerpoolOrderOperation {
                                order: LibOrders::WorkerpoolOrder::from(&o.workerpool),
                                operation: 1,
                                sign: Bytes::new(),
                            },
                        ))
                        .abi_encode(),
                    ),
                    _ => (
                        self.address(REQUESTER),
                        o.request.hash(domain),
                        o.request.volume,
                        Hub::manageRequestOrderCall::new((LibOrders::RequestOrderOperation {
                            order: LibOrders::RequestOrder::from(&o.request),
                            operation: 1,
                            sign: Bytes::new(),
                        },))
                        .abi_encode(),
                    ),
                };
                let sender = if *by_owner {
                    self.index(owner)
                } else {
                    STRANGER
                };
                let sender_address = self.address(sender);
                let hash = *hash.as_b256();
                let call = Self::plan(&model, "manageOrder CLOSE", sender, hub, input, |m| {
                    m.close(sender_address, owner, hash, volume)
                });
                push(&mut planned, &mut model, call);
            }
            Op::TransferAsset { kind, to, by_owner } => {
                let owner = model.owners[*kind];
                let sender = if *by_owner {
                    self.index(owner)
                } else {
                    STRANGER
                };
                let sender_address = self.address(sender);
                let to = self.address(ACTORS[*to]);
                let d = &self.world.deployment;
                let assets = self.world.assets;
                let (registry, asset) = [
                    (d.app_registry, assets.app),
                    (d.dataset_registry, assets.dataset),
                    (d.workerpool_registry, assets.workerpool),
                ][*kind];
                let input =
                    AppRegistry::transferFromCall::new((sender_address, to, token_id(asset)))
                        .abi_encode();
                let kind = *kind;
                let call = Self::plan(&model, "asset transferFrom", sender, registry, input, |m| {
                    m.transfer_asset(kind, sender_address, to)
                });
                push(&mut planned, &mut model, call);
            }
            Op::SetScore { worker, score } => {
                let worker = self.address(WORKERS[*worker]);
                let score = *score;
                let call = Self::plan(
                    &model,
                    "setScore",
                    STRANGER,
                    hub,
                    EscrowHarness::setScoreCall::new((worker, U256::from(score))).abi_encode(),
                    |m| {
                        m.score.insert(worker, score);
                        Ok(())
                    },
                );
                push(&mut planned, &mut model, call);
            }
            Op::Initialize { pick } => {
                let Some((deal, idx)) = uninitialized(&model, *pick) else {
                    return planned;
                };
                let id = *model.deals[deal].id.as_b256();
                let call = Self::plan(
                    &model,
                    "initialize",
                    SCHEDULER,
                    hub,
                    Hub::initializeCall::new((id, U256::from(idx))).abi_encode(),
                    |m| m.initialize(deal, idx).map(drop),
                );
                push(&mut planned, &mut model, call);
            }
            Op::InitializeArray { picks } => {
                let Some(first) = uninitialized(&model, picks[0]) else {
                    return planned;
                };
                let second = uninitialized(&model, picks[1]).unwrap_or(first);
                let pairs = [first, second];
                let ids = pairs
                    .iter()
                    .map(|(d, _)| *model.deals[*d].id.as_b256())
                    .collect();
                let idxs = pairs.iter().map(|(_, i)| U256::from(*i)).collect();
                let call = Self::plan(
                    &model,
                    "initializeArray",
                    STRANGER,
                    hub,
                    Hub::initializeArrayCall::new((ids, idxs)).abi_encode(),
                    |m| {
                        for (deal, idx) in pairs {
                            m.initialize(deal, idx)?;
                        }
                        Ok(())
                    },
                );
                push(&mut planned, &mut model, call);
            }
            Op::InitializeAndClaim { pick } => {
                let time = model.time;
                let all = all_uninitialized(&model);
                let Some((deal, idx)) = choose(&all, *pick, |(d, _)| {
                    model.deals[*d].start + 10 * TIMEREF <= time
                }) else {
                    return planned;
                };
                let id = *model.deals[deal].id.as_b256();
                let call = Self::plan(
                    &model,
                    "initializeAndClaimArray",
                    STRANGER,
                    hub,
                    Hub::initializeAndClaimArrayCall::new((vec![id], vec![U256::from(idx)]))
                        .abi_encode(),
                    |m| {
                        let task = m.initialize(deal, idx)?;
                        m.claim(task)
                    },
                );
                push(&mut planned, &mut model, call);
            }
            Op::Contribute {
                pick,
                worker,
                right,
                authorized,
                enclave,
            } => {
                let Some(task) = pick_task(&model, *pick, &[ACTIVE], |_| true) else {
                    return planned;
                };
                let t = &model.tasks[task];
                // A worker that has not contributed yet, if there is one.
                let workers: Vec<usize> = WORKERS.to_vec();
                let Some(worker) = choose(&workers, *worker, |w| {
                    t.contribution(self.address(*w)).is_none()
                }) else {
                    return planned;
                };
                let deal = &model.deals[t.deal];
                let signer = if *authorized {
                    self.index(deal.pool_owner)
                } else {
                    worker
                };
                let name = if deal.tee {
                    "contribute (TEE)"
                } else {
                    "contribute"
                };
                let id = t.id;
                let result = digest(*right);
                let worker_address = self.address(worker);
                let signer_address = self.address(signer);
                // TEE deals without an enclave only for some wrong results: the refusal is seen
                // without starving TEE deals of contributions.
                let enclave_on = *enclave || (deal.tee && *right);
                let input = self.contribute_input(id, worker, result, signer, enclave_on);
                let call = Self::plan(&model, name, worker, hub, input, |m| {
                    m.contribute(task, worker_address, result, signer_address, enclave_on)
                });
                push(&mut planned, &mut model, call);
            }
            Op::Reveal { pick, worker } => {
                let Some(task) = pick_task(&model, *pick, &[REVEALING], |_| true) else {
                    return planned;
                };
                let t = &model.tasks[task];
                let contributors: Vec<_> = t.contributions.iter().map(|c| c.worker).collect();
                let Some(worker) = choose(&contributors, *worker, |w| t.pending_winner(*w)) else {
                    return planned;
                };
                let result = t.contribution(worker).expect("a contribution").digest;
                let id = *t.id.as_b256();
                let call = Self::plan(
                    &model,
                    "reveal",
                    self.index(worker),
                    hub,
                    Hub::revealCall::new((id, *result.as_b256())).abi_encode(),
                    |m| m.reveal(task, worker, result),
                );
                push(&mut planned, &mut model, call);
            }
            Op::Finalize {
                pick,
                callback_ok,
                by_scheduler,
            } => {
                let time = model.time;
                let Some(task) = pick_task(&model, *pick, &[REVEALING], |t| {
                    t.revealed == t.winners || (t.revealed > 0 && t.reveal_deadline <= time)
                }) else {
                    return planned;
                };
                let t = &model.tasks[task];
                let deal = &model.deals[t.deal];
                let data: &[u8] = match (deal.callback.is_zero(), callback_ok) {
                    (true, true) => b"",
                    (false, true) => b"right",
                    (_, false) => b"neither",
                };
                let name = if deal.callback.is_zero() {
                    "finalize"
                } else {
                    "finalize (callback)"
                };
                let sender = if *by_scheduler {
                    self.index(deal.pool_owner)
                } else {
                    STRANGER
                };
                let sender_address = self.address(sender);
                let id = *t.id.as_b256();
                let call = Self::plan(
                    &model,
                    name,
                    sender,
                    hub,
                    Hub::finalizeCall::new((
                        id,
                        Bytes::from_static(RESULT_LINK),
                        Bytes::copy_from_slice(data),
                    ))
                    .abi_encode(),
                    |m| m.finalize(task, sender_address, data),
                );
                push(&mut planned, &mut model, call);
            }
            Op::Reopen { pick } => {
                let time = model.time;
                let Some(task) = pick_task(&model, *pick, &[REVEALING], |t| {
                    t.revealed == 0 && t.reveal_deadline <= time
                }) else {
                    return planned;
                };
                let t = &model.tasks[task];
                let scheduler = model.deals[t.deal].pool_owner;
                let id = *t.id.as_b256();
                let call = Self::plan(
                    &model,
                    "reopen",
                    self.index(scheduler),
                    hub,
                    Hub::reopenCall::new((id,)).abi_encode(),
                    |m| m.reopen(task, scheduler),
                );
                push(&mut planned, &mut model, call);
            }
            Op::ContributeAndFinalize {
                pick,
                worker,
                right,
                enclave,
                callback_ok,
            } => {
                let Some(task) = pick_task(&model, *pick, &[ACTIVE], |t| {
                    t.contributions.is_empty() && model.deals[t.deal].trust == 1
                }) else {
                    return planned;
                };
                let t = &model.tasks[task];
                let deal = &model.deals[t.deal];
                let worker = WORKERS[*worker];
                let result = digest(*right);
                let data: &[u8] = match (deal.callback.is_zero(), callback_ok) {
                    (true, true) => b"",
                    (false, true) => {
                        if *right {
                            b"right"
                        } else {
                            b"wrong"
                        }
                    }
                    (_, false) => b"neither",
                };
                let scheduler = self.index(deal.pool_owner);
                let enclave_on = *enclave || deal.tee;
                let id = t.id;
                let worker_address = self.address(worker);
                let scheduler_address = deal.pool_owner;
                let (enclave_address, enclave_sign) = self.enclave(id, worker, result, enclave_on);
                let input = Hub::contributeAndFinalizeCall::new((
                    *id.as_b256(),
                    *result.as_b256(),
                    Bytes::from_static(RESULT_LINK),
                    Bytes::copy_from_slice(data),
                    enclave_address,
                    enclave_sign,
                    self.authorization(scheduler, worker, id, enclave_address),
                ))
                .abi_encode();
                let call = Self::plan(&model, "contributeAndFinalize", worker, hub, input, |m| {
                    m.contribute_and_finalize(
                        task,
                        worker_address,
                        result,
                        data,
                        scheduler_address,
                        enclave_on,
                    )
                });
                push(&mut planned, &mut model, call);
            }
            Op::Claim { pick } => {
                let time = model.time;
                let Some(task) = pick_task(&model, *pick, &[ACTIVE, REVEALING], |t| {
                    t.final_deadline <= time
                }) else {
                    return planned;
                };
                let id = *model.tasks[task].id.as_b256();
                let call = Self::plan(
                    &model,
                    "claim",
                    STRANGER,
                    hub,
                    Hub::claimCall::new((id,)).abi_encode(),
                    |m| m.claim(task),
                );
                push(&mut planned, &mut model, call);
            }
            Op::ClaimArray { picks } => {
                let time = model.time;
                let open = [ACTIVE, REVEALING];
                let Some(first) = pick_task(&model, picks[0], &open, |t| t.final_deadline <= time)
                else {
                    return planned;
                };
                let second = pick_task(&model, picks[1], &open, |t| t.final_deadline <= time)
                    .unwrap_or(first);
                let tasks = if first == second {
                    vec![first]
                } else {
                    vec![first, second]
                };
                let ids = tasks
                    .iter()
                    .map(|t| *model.tasks[*t].id.as_b256())
                    .collect();
                let call = Self::plan(
                    &model,
                    "claimArray",
                    STRANGER,
                    hub,
                    Hub::claimArrayCall::new((ids,)).abi_encode(),
                    |m| {
                        for task in tasks {
                            m.claim(task)?;
                        }
                        Ok(())
                    },
                );
                push(&mut planned, &mut model, call);
            }
            Op::Wait { seconds } => {
                self.model.time += seconds;
            }
        }
        planned
    }

    /// The enclave challenge and its signature of `worker`'s result, if `on`.
    fn enclave(
        &self,
        task: TaskId,
        worker: usize,
        result: ResultDigest,
        on: bool,
    ) -> (Address, Bytes) {
        if !on {
            return (Address::ZERO, Bytes::new());
        }
        let enclave = enclave();
        let sign = Contribution::new(self.address(worker), task, result)
            .sign_by_enclave(&enclave)
            .expect("signs");
        (enclave.address(), sign)
    }

    /// `signer`'s authorization of `worker` for `task`.
    fn authorization(&self, signer: usize, worker: usize, task: TaskId, enclave: Address) -> Bytes {
        WorkerpoolAuthorization {
            worker: self.address(worker),
            task_id: task,
            enclave_challenge: enclave,
        }
        .sign(&self.world.signer(signer))
        .expect("signs")
    }

    fn contribute_input(
        &self,
        task: TaskId,
        worker: usize,
        result: ResultDigest,
        signer: usize,
        enclave: bool,
    ) -> Vec<u8> {
        let commitment = Contribution::new(self.address(worker), task, result);
        let (enclave_address, enclave_sign) = self.enclave(task, worker, result, enclave);
        Hub::contributeCall::new((
            *task.as_b256(),
            *commitment.result_hash.as_b256(),
            *commitment.result_seal.as_b256(),
            enclave_address,
            enclave_sign,
            self.authorization(signer, worker, task, enclave_address),
        ))
        .abi_encode()
    }

    /// A deal attempt: the orders built, signed and planned.
    fn plan_match(&mut self, model: &Model, op: &MatchOp) -> Planned {
        self.salt += 1;
        let n = self.salt;
        let world = &self.world;
        let mut orders = if op.dataset.is_some() {
            world.orders_with_dataset()
        } else {
            world.orders()
        };
        orders.app.salt = salt(n, 1);
        orders.app.appprice = Nrlc::new(U256::from(op.app_price));
        orders.app.volume = U256::from(op.volumes[0]);
        if let (Some(order), Some(price)) = (orders.dataset.as_mut(), op.dataset) {
            order.salt = salt(n, 2);
            order.datasetprice = Nrlc::new(U256::from(price));
            order.volume = U256::from(op.volumes[0] + 1);
            orders.request.datasetmaxprice = Nrlc::new(U256::from(price));
        }
        orders.workerpool.salt = salt(n, 3);
        orders.workerpool.workerpoolprice = Nrlc::new(U256::from(op.pool_price));
        orders.workerpool.volume = U256::from(op.volumes[1]);
        orders.request.salt = salt(n, 4);
        orders.request.appmaxprice = Nrlc::new(U256::from(op.app_price));
        orders.request.workerpoolmaxprice = Nrlc::new(U256::from(op.pool_price));
        orders.request.trust = U256::from(op.trust);
        orders.request.volume = U256::from(op.volumes[2]);
        if op.tee {
            orders.app.tag = Tag::TEE;
            orders.workerpool.tag = Tag::TEE;
            orders.request.tag = Tag::TEE;
        }
        if op.callback {
            orders.request.callback = CALLBACK;
        }
        if let Some(last) = &self.last
            && op.reuse > 0
        {
            let mut again = last.orders.clone();
            if op.reuse == 1 {
                again.request = orders.request.clone();
                again.request.dataset = again.dataset.as_ref().map_or(Address::ZERO, |d| d.dataset);
                again.request.datasetmaxprice = again
                    .dataset
                    .as_ref()
                    .map_or(Nrlc::new(U256::ZERO), |d| d.datasetprice);
                again.request.appmaxprice = again.app.appprice;
                again.request.workerpoolmaxprice = again.workerpool.workerpoolprice;
                again.request.tag = again.app.tag;
            }
            orders = again;
        }
        if op.underpay && !orders.app.appprice.get().is_zero() {
            orders.request.appmaxprice = Nrlc::new(orders.app.appprice.get() - U256::from(1));
        }
        self.last = Some(Last {
            orders: orders.clone(),
        });
        let [app_owner, dataset_owner, pool_owner] = model.owners;
        let app_signer = if op.stale_signer {
            APP_OWNER
        } else {
            self.index(app_owner)
        };
        let signed = world.sign_as(
            &orders,
            app_signer,
            self.index(dataset_owner),
            self.index(pool_owner),
            REQUESTER,
        );
        let domain = &world.domain;
        let input = MatchInput {
            app: *orders.app.hash(domain).as_b256(),
            app_volume: orders.app.volume,
            app_price: orders.app.appprice.get(),
            app_signer: self.address(app_signer),
            dataset: orders.dataset.as_ref().map(|d| {
                (
                    *d.hash(domain).as_b256(),
                    d.volume,
                    d.datasetprice.get(),
                    dataset_owner,
                )
            }),
            pool: *orders.workerpool.hash(domain).as_b256(),
            pool_volume: orders.workerpool.volume,
            pool_price: orders.workerpool.workerpoolprice.get(),
            pool_signer: pool_owner,
            request: *orders.request.hash(domain).as_b256(),
            request_volume: orders.request.volume,
            max_prices: [
                orders.request.appmaxprice.get(),
                orders.request.datasetmaxprice.get(),
                orders.request.workerpoolmaxprice.get(),
            ],
            trust: orders.request.trust.to::<u64>(),
            tee: orders.request.tag.contains(Tag::TEE) || orders.app.tag.contains(Tag::TEE),
            callback: orders.request.callback,
        };
        let call = Hub::matchOrdersCall::new((
            signed.app.clone(),
            signed.dataset.clone(),
            signed.workerpool.clone(),
            signed.request.clone(),
        ));
        let hub = world.hub;
        let requester = self.address(REQUESTER);
        match op.via {
            Via::Requester | Via::Stranger => {
                let sender = if matches!(op.via, Via::Requester) {
                    REQUESTER
                } else {
                    STRANGER
                };
                Self::plan(model, "matchOrders", sender, hub, call.abi_encode(), |m| {
                    m.match_orders(&input, requester).map(drop)
                })
            }
            Via::Sponsor => {
                let sponsor = self.address(SPONSOR);
                let call = Hub::sponsorMatchOrdersCall::new((
                    signed.app,
                    signed.dataset,
                    signed.workerpool,
                    signed.request,
                ));
                Self::plan(
                    model,
                    "sponsorMatchOrders",
                    SPONSOR,
                    hub,
                    call.abi_encode(),
                    |m| m.match_orders(&input, sponsor).map(drop),
                )
            }
            Via::ApproveAndCall => {
                let amount = (input.app_price
                    + input.dataset.map(|d| d.2).unwrap_or_default()
                    + input.pool_price)
                    * input.request_volume;
                let token = world.deployment.token;
                let data = Bytes::from(call.abi_encode());
                Self::plan(
                    model,
                    "approveAndCall+matchOrders",
                    REQUESTER,
                    token,
                    RLC::approveAndCallCall::new((hub, amount, data)).abi_encode(),
                    |m| {
                        m.approve_and_deposit(requester, amount)?;
                        m.match_orders(&input, requester).map(drop)
                    },
                )
            }
        }
    }

    /// Runs `op`: its calls sent in one batch, each status checked against the model's
    /// verdict, then every reading against the model.
    async fn step(&mut self, n: usize, op: &Op, coverage: &RefCell<Coverage>) {
        let planned = self.calls(op);
        if planned.is_empty() {
            return;
        }
        let txs: Vec<Tx> = planned
            .iter()
            .map(|p| Tx {
                sender: p.tx.sender,
                to: p.tx.to,
                input: p.tx.input.clone(),
            })
            .collect();
        let tasks = planned
            .iter()
            .rev()
            .find_map(|p| p.outcome.as_ref().ok())
            .unwrap_or(&self.model)
            .tasks
            .clone();
        let (statuses, observed) = self.run(&txs, &tasks).await;
        let mut coverage = coverage.borrow_mut();
        for (call, succeeded) in planned.into_iter().zip(statuses) {
            let expected = call.outcome.as_ref().err().copied();
            assert_eq!(
                succeeded,
                expected.is_none(),
                "step {n} ({op:?}), {}: the model expects {}, the chain {}",
                call.name,
                expected.map_or_else(|| "success".to_string(), |e| format!("the revert {e}")),
                if succeeded { "succeeded" } else { "reverted" },
            );
            let counts = coverage.calls.entry(call.name).or_default();
            counts[0] += 1;
            match call.outcome {
                Ok(next) => {
                    counts[1] += 1;
                    self.model = next;
                }
                Err(reason) => {
                    coverage.refused.insert(reason);
                }
            }
        }
        drop(coverage);
        self.compare(&observed, &format!("step {n} ({op:?})"));
    }
}

/// How a view's answer is read into named numbers.
enum Reading {
    /// `viewAccount`: free and locked.
    Account,
    /// One `uint256`.
    Number,
    /// One address, as a number.
    Owner,
    /// `viewTask`: its status, counters and final deadline.
    Task,
}

impl Reading {
    fn read(&self, key: &str, output: &[u8], into: &mut BTreeMap<String, U256>) {
        match self {
            Self::Account => {
                let account = Hub::viewAccountCall::abi_decode_returns(output).expect("decodes");
                into.insert(format!("{key}: free"), account.stake);
                into.insert(format!("{key}: locked"), account.locked);
            }
            Self::Number => {
                into.insert(key.to_string(), U256::from_be_slice(output));
            }
            Self::Owner => {
                let owner = AppRegistry::ownerOfCall::abi_decode_returns(output).expect("decodes");
                into.insert(key.to_string(), U256::from_be_slice(owner.as_slice()));
            }
            Self::Task => {
                let task = Hub::viewTaskCall::abi_decode_returns(output).expect("decodes");
                into.insert(format!("{key}: status"), U256::from(task.status));
                into.insert(format!("{key}: revealed"), task.revealCounter);
                into.insert(format!("{key}: winners"), task.winnerCounter);
                into.insert(
                    format!("{key}: contributors"),
                    U256::from(task.contributors.len()),
                );
                into.insert(format!("{key}: final deadline"), task.finalDeadline);
            }
        }
    }
}

/// The tasks nobody initialized, as (deal, task index).
fn all_uninitialized(model: &Model) -> Vec<(usize, u64)> {
    let mut all = Vec::new();
    for (d, deal) in model.deals.iter().enumerate() {
        for (slot, done) in deal.initialized.iter().enumerate() {
            if !done {
                all.push((d, deal.first + slot as u64));
            }
        }
    }
    all
}

fn uninitialized(model: &Model, pick: usize) -> Option<(usize, u64)> {
    choose(&all_uninitialized(model), pick, |_| true)
}

/// The `pick`-th task whose status is one of `statuses`, preferring those that satisfy
/// `preferred` (the call then should succeed).
fn pick_task(
    model: &Model,
    pick: usize,
    statuses: &[u8],
    preferred: impl Fn(&model::Task) -> bool,
) -> Option<usize> {
    let candidates: Vec<usize> = (0..model.tasks.len())
        .filter(|i| statuses.contains(&model.tasks[*i].status))
        .collect();
    choose(&candidates, pick, |i| preferred(&model.tasks[*i]))
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

/// One case: a fresh world, `ops` in order, the model checked after each.
async fn run(ops: &[Op], coverage: &RefCell<Coverage>) {
    let mut case = Case::start().await;
    for (n, op) in ops.iter().enumerate() {
        case.step(n, op, coverage).await;
    }
    case.world.shutdown().await;
}

/// The seed of the default run.
const SEED: u64 = 0x5eed_0c0a_2026_1207;

#[test]
fn random_sequences_of_protocol_calls_pay_every_account_what_the_model_predicts() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(256);
    // The same sequences on every run, so that CI's coverage check cannot depend on luck;
    // PROPTEST_RNG_SEED explores others.
    let base = Config::default();
    let rng_seed = if std::env::var_os("PROPTEST_RNG_SEED").is_some() {
        base.rng_seed
    } else {
        proptest::test_runner::RngSeed::Fixed(SEED)
    };
    println!("seed: {rng_seed:?} (PROPTEST_RNG_SEED=<u64> runs others)");
    let mut runner = TestRunner::new(Config {
        cases,
        // No regression files in the source tree; a failure prints its minimal sequence.
        failure_persistence: None,
        max_shrink_iters: 256,
        rng_seed,
        ..base
    });
    let coverage = RefCell::new(Coverage::default());
    let outcome = runner.run(&ops(), |ops| {
        // A runtime per case: a failed case drops its chain with it.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(run(&ops, &coverage));
        Ok(())
    });
    if let Err(error) = outcome {
        panic!("{error}");
    }
    let coverage = coverage.into_inner();
    println!("{cases} cases; per call: attempted, succeeded");
    for (name, [attempted, succeeded]) in &coverage.calls {
        println!("  {name:<28} {attempted:>5} {succeeded:>5}");
    }
    println!("refusals seen: {:?}", coverage.refused);
    // A short run (PROPTEST_CASES below 64) may miss some; the default run must reach all.
    if cases >= 64 {
        let missed: Vec<_> = REACHED
            .iter()
            .filter(|name| coverage.calls.get(*name).is_none_or(|[_, ok]| *ok == 0))
            .collect();
        assert!(missed.is_empty(), "never succeeded: {missed:?}");
        let unseen: Vec<_> = REFUSED
            .iter()
            .filter(|reason| !coverage.refused.contains(*reason))
            .collect();
        assert!(unseen.is_empty(), "never refused: {unseen:?}");
    }
}
