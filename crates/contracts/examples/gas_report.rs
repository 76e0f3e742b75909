//! Regenerates docs/GAS.md: runs the hub's scenarios on the embedded chain in memory, exactly as
//! the tests in `tests/it` measure them, and writes the `gasUsed` of their receipts next to
//! iExec's averages (spec §8.1).
//!
//! ```sh
//! cargo run -p agora-contracts --example gas_report            # writes docs/GAS.md
//! cargo run -p agora-contracts --example gas_report -- --check # fails if it would change it
//! ```
//!
//! The scenarios repeat the tests' (`hub_accounts::a_repeat_deposit_costs_at_most_60_percent_
//! of_iexecs`, `hub_orders::every_order_kind_is_presigned_and_closed_by_its_owner_or_its_signed_
//! operation`) transaction for transaction, with their orders (`tests/it/orders.rs`, included);
//! the chain setup and the `mined!` macro are small copies of `tests/it/common.rs`.

use std::{path::PathBuf, process::ExitCode};

use agora_chain::{Config, Handle};
use agora_contracts::{
    AppRegistry, DatasetRegistry, Deployment, Hub, LibOrders, RLC, WorkerpoolRegistry,
};
use agora_primitives::{Domain, OrderOperation};
use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};

/// The orders of the hub's tests (`tests/it/orders.rs`), shared.
#[path = "../tests/it/orders.rs"]
mod orders;

use agora_testkit::{
    market::{self, LifecycleGas},
    mined,
};

use orders::{app_order, dataset_order, op_code, request_order, sign_operation, workerpool_order};

/// A chain in memory with the protocol contracts deployed at genesis (as the tests' `Net`).
struct Net {
    handle: Handle,
    deployment: Deployment,
}

impl Net {
    async fn start() -> Self {
        let (handle, deployment) = market::start_chain(Config::test().accounts).await;
        Self { handle, deployment }
    }

    fn account(&self, index: usize) -> Address {
        self.handle.dev_accounts()[index].address
    }

    fn signer(&self, index: usize) -> PrivateKeySigner {
        self.handle.dev_accounts()[index].signer()
    }

    fn provider(&self, index: usize) -> DynProvider {
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(self.signer(index)))
            .connect_http(self.handle.http_url().parse().expect("url"))
            .erased()
    }

    fn hub(&self, user: usize) -> Hub::HubInstance<DynProvider> {
        Hub::new(self.deployment.hub, self.provider(user))
    }

    fn token(&self, user: usize) -> RLC::RLCInstance<DynProvider> {
        RLC::new(self.deployment.token, self.provider(user))
    }
}

/// `n` RLC in nRLC.
fn rlc(n: u64) -> U256 {
    U256::from(n) * U256::from(1_000_000_000u64)
}

/// The deposits of docs/GAS.md, "Accounts".
struct Deposits {
    first: u64,
    repeat: u64,
    standing: u64,
    approve_and_call: u64,
}

/// As `hub_accounts::deposit_gas`: approve exactly the amount, then deposit.
async fn deposit_gas(net: &Net, user: usize, amount: U256) -> u64 {
    mined!(net.token(user).approve(net.deployment.hub, amount));
    mined!(net.hub(user).deposit(amount)).gas_used
}

/// As `hub_accounts::a_repeat_deposit_costs_at_most_60_percent_of_iexecs`.
async fn deposits() -> Deposits {
    let net = Net::start().await;
    let token = net.token(0);
    for user in 1..=4 {
        mined!(token.transfer(net.account(user), rlc(1_000)));
    }
    deposit_gas(&net, 4, rlc(1)).await;
    let first = deposit_gas(&net, 1, rlc(10)).await;
    let repeat = deposit_gas(&net, 1, rlc(10)).await;
    mined!(net.token(2).approve(net.deployment.hub, rlc(100)));
    mined!(net.hub(2).deposit(rlc(10)));
    let standing = mined!(net.hub(2).deposit(rlc(10))).gas_used;
    let approve_and_call = mined!(net.token(1).approveAndCall(
        net.deployment.hub,
        rlc(10),
        Bytes::new()
    ))
    .gas_used;
    net.handle.shutdown().await;
    Deposits {
        first,
        repeat,
        standing,
        approve_and_call,
    }
}

/// The figures of "Asset creation" and "Order management", and the hub's runtime size.
struct Orders {
    creations: [u64; 3],
    manage: Vec<(&'static str, u64)>,
    hub_runtime: usize,
}

/// As `hub_orders::every_order_kind_is_presigned_and_closed_by_its_owner_or_its_signed_operation`
/// (its transactions, in its order; the reverting calls send nothing).
async fn order_management() -> Orders {
    let net = Net::start().await;
    let chain_id = net.provider(0).get_chain_id().await.expect("chain id");
    let domain = Domain::new(chain_id, net.deployment.hub);
    let (owner, relayer) = (1, 2);
    let owner_key = net.signer(owner);
    let as_deployer = net.provider(0);

    let registry = AppRegistry::new(net.deployment.app_registry, &as_deployer);
    let call = registry.createApp(
        net.account(owner),
        "app".into(),
        "DOCKER".into(),
        Bytes::from_static(b"docker.io/app:1"),
        B256::ZERO,
        Bytes::new(),
    );
    let app = call.call().await.expect("predicts");
    let create_app = mined!(call).gas_used;
    let registry = DatasetRegistry::new(net.deployment.dataset_registry, &as_deployer);
    let call = registry.createDataset(
        net.account(owner),
        "data".into(),
        Bytes::from_static(b"https://example.invalid/d"),
        B256::ZERO,
    );
    let dataset = call.call().await.expect("predicts");
    let create_dataset = mined!(call).gas_used;
    let registry = WorkerpoolRegistry::new(net.deployment.workerpool_registry, &as_deployer);
    let call = registry.createWorkerpool(net.account(owner), "pool".into());
    let pool = call.call().await.expect("predicts");
    let create_workerpool = mined!(call).gas_used;

    let mut manage = Vec::new();

    let order = app_order(app);
    let receipt = mined!(net.hub(owner).manageAppOrder(LibOrders::AppOrderOperation {
        order: LibOrders::AppOrder::from(&order),
        operation: op_code(OrderOperation::Sign),
        sign: Bytes::new(),
    }));
    manage.push(("`manageAppOrder` SIGN, by the owner", receipt.gas_used));
    let sign = sign_operation(&order, OrderOperation::Close, &domain, &owner_key);
    let receipt = mined!(
        net.hub(relayer)
            .manageAppOrder(LibOrders::AppOrderOperation {
                order: LibOrders::AppOrder::from(&order),
                operation: op_code(OrderOperation::Close),
                sign,
            })
    );
    manage.push(("`manageAppOrder` CLOSE, signed operation", receipt.gas_used));

    let order = dataset_order(dataset);
    let sign = sign_operation(&order, OrderOperation::Sign, &domain, &owner_key);
    let receipt = mined!(
        net.hub(relayer)
            .manageDatasetOrder(LibOrders::DatasetOrderOperation {
                order: LibOrders::DatasetOrder::from(&order),
                operation: op_code(OrderOperation::Sign),
                sign,
            })
    );
    manage.push((
        "`manageDatasetOrder` SIGN, signed operation",
        receipt.gas_used,
    ));
    let receipt = mined!(
        net.hub(owner)
            .manageDatasetOrder(LibOrders::DatasetOrderOperation {
                order: LibOrders::DatasetOrder::from(&order),
                operation: op_code(OrderOperation::Close),
                sign: Bytes::new(),
            })
    );
    manage.push(("`manageDatasetOrder` CLOSE, by the owner", receipt.gas_used));

    let order = workerpool_order(pool);
    let receipt = mined!(net.hub(owner).manageWorkerpoolOrder(
        LibOrders::WorkerpoolOrderOperation {
            order: LibOrders::WorkerpoolOrder::from(&order),
            operation: op_code(OrderOperation::Sign),
            sign: Bytes::new(),
        }
    ));
    manage.push((
        "`manageWorkerpoolOrder` SIGN, by the owner",
        receipt.gas_used,
    ));
    let sign = sign_operation(&order, OrderOperation::Close, &domain, &owner_key);
    let receipt = mined!(net.hub(relayer).manageWorkerpoolOrder(
        LibOrders::WorkerpoolOrderOperation {
            order: LibOrders::WorkerpoolOrder::from(&order),
            operation: op_code(OrderOperation::Close),
            sign,
        }
    ));
    manage.push((
        "`manageWorkerpoolOrder` CLOSE, signed operation",
        receipt.gas_used,
    ));

    let order = request_order(net.account(owner));
    let sign = sign_operation(&order, OrderOperation::Sign, &domain, &owner_key);
    let receipt = mined!(
        net.hub(relayer)
            .manageRequestOrder(LibOrders::RequestOrderOperation {
                order: LibOrders::RequestOrder::from(&order),
                operation: op_code(OrderOperation::Sign),
                sign,
            })
    );
    manage.push((
        "`manageRequestOrder` SIGN, signed operation",
        receipt.gas_used,
    ));
    let receipt = mined!(
        net.hub(owner)
            .manageRequestOrder(LibOrders::RequestOrderOperation {
                order: LibOrders::RequestOrder::from(&order),
                operation: op_code(OrderOperation::Close),
                sign: Bytes::new(),
            })
    );
    manage.push(("`manageRequestOrder` CLOSE, by the owner", receipt.gas_used));

    let hub_runtime = as_deployer
        .get_code_at(net.deployment.hub)
        .await
        .expect("the hub's code")
        .len();
    net.handle.shutdown().await;
    Orders {
        creations: [create_app, create_dataset, create_workerpool],
        manage,
        hub_runtime,
    }
}

/// `n` with thousands separators.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Spec §8.1's ceiling: 60 % of iExec's average, rounded down to the hundred.
fn ceiling(avg: u64) -> u64 {
    avg * 6 / 10 / 100 * 100
}

// iExec's averages, spec §8.1.
const MATCH_ORDERS: u64 = 760_843;
const INITIALIZE: u64 = 225_506;
const CONTRIBUTE: u64 = 346_973;
const REVEAL: u64 = 78_544;
const FINALIZE: u64 = 403_856;
const CLAIM: u64 = 181_535;
const CONTRIBUTE_AND_FINALIZE: u64 = 642_656;
const DEPOSIT: u64 = 91_581;
const CREATE: [u64; 3] = [625_505, 554_446, 549_399];
/// The range of iExec's `manage*Order` in its gas reporter.
const MANAGE_ORDER: (u64, u64) = (76_900, 90_300);

/// `used` as a percentage of `of`, to one decimal.
fn percent(used: u64, of: u64) -> String {
    let tenths = (used * 1000 + of / 2) / of;
    format!("{}.{} %", tenths / 10, tenths % 10)
}

/// The paragraph that says which calls are within their ceiling and which cost more than 60 %
/// of iExec's figure without having one, from the measurements themselves.
fn summary(d: &Deposits, o: &Orders, l: &LifecycleGas) -> Vec<String> {
    let ceilinged = [
        ("`matchOrders`", l.match_first, MATCH_ORDERS),
        ("`initialize`", l.initialize, INITIALIZE),
        ("`contribute`", l.contribute, CONTRIBUTE),
        ("`reveal`", l.reveal, REVEAL),
        ("`finalize`", l.finalize, FINALIZE),
        ("`claim`", l.claim, CLAIM),
        (
            "`contributeAndFinalize`",
            l.contribute_and_finalize,
            CONTRIBUTE_AND_FINALIZE,
        ),
        ("the repeat `deposit`", d.repeat, DEPOSIT),
        (
            "the one-worker task",
            l.whole_single_fast(),
            INITIALIZE + CONTRIBUTE_AND_FINALIZE,
        ),
        (
            "the three-worker task",
            l.whole_triple(),
            INITIALIZE + 3 * (CONTRIBUTE + REVEAL) + FINALIZE,
        ),
    ];
    let over: Vec<String> = ceilinged
        .iter()
        .filter(|(_, used, avg)| *used > ceiling(*avg))
        .map(|(name, used, avg)| format!("{name} ({} of iExec's)", percent(*used, *avg)))
        .collect();
    let ceilings = if over.is_empty() {
        "Every call that spec §8.1 gives a ceiling (the rows in bold) is within it.".to_string()
    } else {
        format!("Over their ceiling: {}.", over.join(", "))
    };
    let lowest = o
        .manage
        .iter()
        .map(|(_, used)| *used)
        .min()
        .unwrap_or_default();
    let highest = o
        .manage
        .iter()
        .map(|(_, used)| *used)
        .max()
        .unwrap_or_default();
    let (low, high) = (
        percent(lowest, MANAGE_ORDER.1),
        percent(highest, MANAGE_ORDER.0),
    );
    let first = percent(d.first, DEPOSIT);
    let standing = percent(d.standing, DEPOSIT);
    let approve_and_call = percent(d.approve_and_call, DEPOSIT);
    vec![
        ceilings,
        "Calls without a ceiling cost more than 60 % of iExec's figure: the".to_string(),
        format!(
            "first deposit of an account ({first} of iExec's average deposit), a deposit under a"
        ),
        format!(
            "standing allowance ({standing}), `RLC.approveAndCall` ({approve_and_call}) and the"
        ),
        format!("order management calls ({low} to {high} of iExec's range)."),
    ]
}

/// The docs/GAS.md of the contracts as built: every scenario run on a fresh chain.
async fn report() -> String {
    render(
        &deposits().await,
        &order_management().await,
        &market::lifecycle_gas().await,
    )
}

/// Where docs/GAS.md is.
fn gas_md() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/GAS.md")
}

fn render(d: &Deposits, o: &Orders, l: &LifecycleGas) -> String {
    let mut s = String::new();
    let mut line = |text: &str| {
        s.push_str(text);
        s.push('\n');
    };
    let deposit_ceiling = ceiling(DEPOSIT);
    let over = d.standing.saturating_sub(deposit_ceiling);
    line("# Gas");
    line("");
    line(
        "Generated by `cargo run -p agora-contracts --example gas_report` (rerun it after changing the",
    );
    line(
        "contracts; `-- --check`, and the test `gas_report::tests` of `crates/contracts`, fail when",
    );
    line("this file is out of date).");
    line("");
    line(
        "Gas of the protocol contracts against the ceilings of spec §8.1 (60 % of iExec's average from",
    );
    line("its test-suite gas reporter) and decision [0003](decisions/0003-hub-layout.md).");
    line("");
    for text in summary(d, o, l) {
        line(&text);
    }
    line("");
    line(
        "Measured on the embedded chain (revm, Prague), `gasUsed` of the transaction receipt (refunds",
    );
    line(
        "included), contracts compiled as committed (solc 0.8.37, optimizer 200 runs). The example",
    );
    line("runs the scenarios of the tests named below, transaction for transaction.");
    line("");
    line("## Task lifecycle");
    line("");
    line(
        "The calls of a task from the match to the claim, and whole tasks. iExec's whole-task figures",
    );
    line(
        "are spec §8.1's rough totals: `initialize` + `contributeAndFinalize` for one worker (plus a",
    );
    line(
        "share of `matchOrders`), `initialize` + 3 × (`contribute` + `reveal`) + `finalize` for three.",
    );
    line("");
    line("| call | gas | iExec avg | ceiling (60 %) |");
    line("| --- | ---: | ---: | ---: |");
    let row = |call: &str, used: u64, avg: u64| {
        let mark = if used <= ceiling(avg) { "" } else { " (over)" };
        format!(
            "| {call} | **{}**{mark} | {} | {} |",
            thousands(used),
            thousands(avg),
            thousands(ceiling(avg))
        )
    };
    let plain = |call: &str, used: String| format!("| {call} | {used} | | |");
    let g = l;
    line(&row(
        "`matchOrders`, the world's first deal",
        g.match_first,
        MATCH_ORDERS,
    ));
    line(&plain(
        "`matchOrders`, a later deal on new orders",
        thousands(g.match_later),
    ));
    line(&row("`initialize`", g.initialize, INITIALIZE));
    line(&row(
        "`contribute`, trust 1 (reaches consensus)",
        g.contribute,
        CONTRIBUTE,
    ));
    line(&plain(
        "`contribute`, trust 5: 1st, 2nd, 3rd (consensus)",
        g.contribute_3.map(thousands).join(" / "),
    ));
    line(&row("`reveal`, the first", g.reveal, REVEAL));
    line(&plain(
        "`reveal`, trust 5: 1st, 2nd, 3rd",
        g.reveal_3.map(thousands).join(" / "),
    ));
    line(&row(
        "`finalize`, 1 worker, a 64-byte result link",
        g.finalize,
        FINALIZE,
    ));
    line(&plain("`finalize`, 3 workers", thousands(g.finalize_3)));
    line(&row("`claim`, 1 contributor", g.claim, CLAIM));
    line(&row(
        "`contributeAndFinalize`",
        g.contribute_and_finalize,
        CONTRIBUTE_AND_FINALIZE,
    ));
    line(&format!(
        "| `deposit`, repeat | **{}** | {} | {} |",
        thousands(d.repeat),
        thousands(DEPOSIT),
        thousands(deposit_ceiling)
    ));
    let single = INITIALIZE + CONTRIBUTE_AND_FINALIZE;
    let triple = INITIALIZE + 3 * (CONTRIBUTE + REVEAL) + FINALIZE;
    line(&format!(
        "| whole task, 1 worker: `initialize` + `contributeAndFinalize` | **{}** | ~{} | {} |",
        thousands(g.whole_single_fast()),
        thousands(single),
        thousands(ceiling(single))
    ));
    line(&plain(
        "whole task, 1 worker: `initialize` + `contribute` + `reveal` + `finalize`",
        thousands(g.whole_single()),
    ));
    line(&format!(
        "| whole task, 3 workers: `initialize` + 3 × (`contribute` + `reveal`) + `finalize` | **{}** | ~{} | {} |",
        thousands(g.whole_triple()),
        thousands(triple),
        thousands(ceiling(triple))
    ));
    line("");
    line("Whole tasks exclude `matchOrders`, which a deal of volume N shares among its N tasks.");
    line("The scenario (`market::lifecycle_gas` in `crates/testkit/src/market.rs`, whose");
    line(
        "ceilings the test `hub_tasks::every_lifecycle_call_costs_at_most_60_percent_of_iexecs_average`",
    );
    line("asserts): in one fresh chain, a deal of one task (app 1 RLC, workerpool 10 RLC, no");
    line("dataset) run by contribute, reveal and finalize; a deal on new orders run by");
    line(
        "`contributeAndFinalize`; a trust-5 deal run by three fresh workers (weights 2: the third",
    );
    line("vote reaches consensus); a trust-5 deal with one contribution, claimed after its final");
    line("deadline. The first contribution of a worker pays for its locked-balance slot (0 to");
    line("non-zero, 22,100 gas) and the first deal for its four consumed counters and two locks.");
    line("");
    line("## Accounts");
    line("");
    line(
        "The scenario of the test `hub_accounts::a_repeat_deposit_costs_at_most_60_percent_of_iexecs`",
    );
    line("in `crates/contracts`, which asserts the ceiling for the repeat deposit.");
    line("");
    line(
        "Every deposit is of 10 RLC by an account that approved the hub for exactly that amount just",
    );
    line(
        "before (the token clears the approval and refunds part of the write), after another account",
    );
    line("has deposited (the hub already holds tokens).");
    line("");
    line("| call | gas | iExec avg | ceiling (60 %) |");
    line("| --- | ---: | ---: | ---: |");
    line(&format!(
        "| `deposit`, repeat (the account already has SRLC) | **{}** | {} | {} |",
        thousands(d.repeat),
        thousands(DEPOSIT),
        thousands(deposit_ceiling)
    ));
    line(&format!(
        "| `deposit`, first of the account (its balance slot is created) | {} | {} | – |",
        thousands(d.first),
        thousands(DEPOSIT)
    ));
    line(&format!(
        "| `deposit`, repeat, with a standing allowance larger than the amount | {} | – | – |",
        thousands(d.standing)
    ));
    line(&format!(
        "| `RLC.approveAndCall(hub, amount, \"\")`, repeat (approval and deposit in one transaction) | {} | – | – |",
        thousands(d.approve_and_call)
    ));
    line("");
    let within = if d.repeat <= deposit_ceiling {
        "The repeat deposit is within the ceiling."
    } else {
        "The repeat deposit is over the ceiling."
    };
    line(&format!(
        "{within} The hub's own part is the same in every row: two"
    ));
    line(
        "storage writes (the account's balance and the total supply) and a `Transfer` event; the rest",
    );
    line(
        "is the token's `transferFrom` (allowance, two balances, its event). With a standing allowance",
    );
    line(
        "the token rewrites the allowance instead of clearing it and refunds nothing, which puts that",
    );
    line(&format!(
        "case {} gas over the ceiling. The token is kept in an `immutable`, not read from storage (a",
        thousands(over)
    ));
    line("cold read would add 2,100 gas to every deposit).");
    line("");
    line("## Asset creation");
    line("");
    line(
        "The registry calls of the order management scenario below, each sent by the deployer for",
    );
    line(
        "dev account 1 (a minimal clone of the asset's implementation, initialized, and its token",
    );
    line("minted).");
    line("");
    line("| call | gas | iExec avg |");
    line("| --- | ---: | ---: |");
    let names = ["`createApp`", "`createDataset`", "`createWorkerpool`"];
    for ((name, used), avg) in names.iter().zip(o.creations).zip(CREATE) {
        line(&format!(
            "| {name} | {} | {} |",
            thousands(used),
            thousands(avg)
        ));
    }
    line("");
    line("## Order management");
    line("");
    line("The scenario of the test");
    line(
        "`hub_orders::every_order_kind_is_presigned_and_closed_by_its_owner_or_its_signed_operation`.",
    );
    line("");
    line(&format!(
        "iExec's `manage*Order` costs about {}–{} gas in its test-suite gas reporter (no",
        thousands(MANAGE_ORDER.0),
        thousands(MANAGE_ORDER.1)
    ));
    line(
        "ceiling in spec §8.1). Each call below writes one fresh slot (the presign or the consumed",
    );
    line(
        "volume) and emits one event; \"signed operation\" means sent by someone else with the owner's",
    );
    line(
        "65-byte signature of the `<X>OrderOperation` hash (one `ecrecover`). The asset owner is read",
    );
    line(
        "from the registry (`ownerOf`, a cold call) except for request orders (the `requester` field).",
    );
    line("");
    line("| call | gas | iExec |");
    line("| --- | ---: | ---: |");
    for (i, (call, used)) in o.manage.iter().enumerate() {
        let iexec = if i == 0 {
            format!(
                "~{}–{}",
                thousands(MANAGE_ORDER.0),
                thousands(MANAGE_ORDER.1)
            )
        } else {
            String::new()
        };
        line(&format!("| {call} | {} | {iexec} |", thousands(*used)));
    }
    line("");
    line(&format!(
        "The hub's runtime is {} bytes (limit 24,576, asserted by",
        thousands(o.hub_runtime as u64)
    ));
    line(
        "`hub_orders::the_domain_and_its_separator_match_agora_primitives`): accounts and the task",
    );
    line(
        "lifecycle. Order management, matchOrders and the views run in its two modules, behind its",
    );
    line("fallback (decision 0003): a `delegatecall` to an immutable address, about 2,700 gas.");
    s
}

#[tokio::main]
async fn main() -> ExitCode {
    let check = std::env::args().skip(1).any(|arg| arg == "--check");
    let path = gas_md();
    let report = report().await;
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if check {
        if current == report {
            return ExitCode::SUCCESS;
        }
        eprintln!(
            "{} is out of date: run `cargo run -p agora-contracts --example gas_report`",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    if current != report {
        std::fs::write(&path, report).expect("docs/GAS.md is writable");
    }
    print!("{}", std::fs::read_to_string(&path).expect("written"));
    ExitCode::SUCCESS
}

/// The check `-- --check` makes, as a test of the suite: docs/GAS.md cannot drift from what the
/// contracts cost (this file is also a module of `tests/it`).
#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn gas_md_is_what_the_committed_contracts_cost() {
        let path = super::gas_md();
        let current = std::fs::read_to_string(&path).expect("docs/GAS.md is readable");
        let report = super::report().await;
        let differs = current
            .lines()
            .zip(report.lines())
            .find(|(committed, measured)| committed != measured);
        assert!(
            current == report,
            "{} is out of date (run `cargo run -p agora-contracts --example gas_report`); first \
             difference (committed, measured): {differs:?}",
            path.display()
        );
    }
}
