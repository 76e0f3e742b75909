//! The hub's accounts: deposits and withdrawals of the token as SRLC, approveAndCall, the SRLC
//! views and ERC-20 functions, and the conservation of value after every step.

use agora_contracts::{Hub, RLC};
use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionReceipt,
    sol_types::{SolCall, SolValue},
};

use crate::common::{EscrowHarness, Net, emitted, mined, reverted_with};

/// `n` RLC in nRLC.
fn rlc(n: u64) -> U256 {
    U256::from(n) * U256::from(1_000_000_000u64)
}

/// The hub's (SRLC) `Transfer` event in `receipt`; the token's has the same signature.
fn hub_transfer(receipt: &TransactionReceipt, hub: Address) -> Hub::Transfer {
    emitted(receipt, hub)
}

/// Spec §8.1: 60 % of iExec's average `deposit` (91,581 gas).
const DEPOSIT_GAS_CEILING: u64 = 54_900;

/// A chain with the contracts, dev accounts 1 to 4 holding 1,000 RLC each, and the accounts the
/// test touched, for the conservation check.
struct Setup {
    net: Net,
    touched: Vec<Address>,
    /// The hub under test: genesis's, or an [`EscrowHarness`].
    hub: Address,
}

impl Setup {
    async fn start() -> Self {
        let net = Net::start().await;
        let provider = net.provider(0);
        let token = RLC::new(net.deployment.token, &provider);
        for user in 1..=4 {
            mined!(token.transfer(net.account(user), rlc(1_000)));
        }
        let touched = (1..=4).map(|user| net.account(user)).collect();
        let hub = net.deployment.hub;
        Self { net, touched, hub }
    }

    /// The same, with a fresh [`EscrowHarness`] as the hub under test.
    async fn with_harness() -> (Self, EscrowHarness::EscrowHarnessInstance<DynProvider>) {
        let mut setup = Self::start().await;
        let harness = setup.net.deploy_harness(0).await;
        setup.hub = *harness.address();
        (setup, harness)
    }

    async fn shutdown(self) {
        self.net.handle.shutdown().await;
    }

    fn hub(&self, user: usize) -> Hub::HubInstance<DynProvider> {
        Hub::new(self.hub, self.net.provider(user))
    }

    fn token(&self, user: usize) -> RLC::RLCInstance<DynProvider> {
        RLC::new(self.net.deployment.token, self.net.provider(user))
    }

    /// Approves the hub for `amount` of `user`'s tokens.
    async fn approve(&self, user: usize, amount: U256) {
        mined!(self.token(user).approve(self.hub, amount));
    }

    /// The conservation of value: the hub holds as many tokens as there is SRLC, and the SRLC is
    /// the free and locked balances of the accounts plus what the hub holds on its own (its own
    /// balance covers what is locked, as in iExec).
    async fn assert_conserved(&self) {
        let hub = self.hub(0);
        let address = self.hub;
        let held = self
            .token(0)
            .balanceOf(address)
            .call()
            .await
            .expect("a view");
        let supply = hub.totalSupply().call().await.expect("a view");
        assert_eq!(held, supply, "the hub's tokens are the SRLC supply");
        let (mut free, mut locked) = (U256::ZERO, U256::ZERO);
        for &account in &self.touched {
            let agora_contracts::IexecLibCore::Account {
                stake,
                locked: frozen,
            } = hub.viewAccount(account).call().await.expect("a view");
            free += stake;
            locked += frozen;
        }
        let own = hub.balanceOf(address).call().await.expect("a view");
        assert!(own >= locked, "the hub's own balance covers what is locked");
        assert_eq!(
            free + locked + (own - locked),
            supply,
            "free + locked + the hub's own = supply"
        );
    }

    /// The SRLC and token balances of every touched account, and the supply.
    async fn snapshot(&self) -> Vec<U256> {
        let (hub, token) = (self.hub(0), self.token(0));
        let mut values = vec![hub.totalSupply().call().await.expect("a view")];
        for &account in &self.touched {
            let agora_contracts::IexecLibCore::Account { stake, locked } =
                hub.viewAccount(account).call().await.expect("a view");
            values.extend([
                stake,
                locked,
                token.balanceOf(account).call().await.expect("a view"),
            ]);
        }
        values
    }

    async fn stake(&self, account: Address) -> U256 {
        self.hub(0).balanceOf(account).call().await.expect("a view")
    }

    async fn tokens(&self, account: Address) -> U256 {
        self.token(0)
            .balanceOf(account)
            .call()
            .await
            .expect("a view")
    }
}

#[tokio::test]
async fn deposits_and_withdrawals_move_tokens_and_srlc_one_for_one() {
    let setup = Setup::start().await;
    let net = &setup.net;
    let [alice, bob, carol, dave] = [1, 2, 3, 4].map(|user| net.account(user));
    let hub = setup.hub(1);
    setup.assert_conserved().await;

    // deposit: a Transfer from zero mints SRLC to the caller.
    setup.approve(1, rlc(100)).await;
    let receipt = mined!(hub.deposit(rlc(40)));
    let minted = hub_transfer(&receipt, net.deployment.hub);
    assert_eq!(
        (minted.from, minted.to, minted.value),
        (Address::ZERO, alice, rlc(40))
    );
    let account = hub.viewAccount(alice).call().await.unwrap();
    assert_eq!((account.stake, account.locked), (rlc(40), U256::ZERO));
    assert_eq!(setup.tokens(alice).await, rlc(960));
    setup.assert_conserved().await;

    // depositFor: the caller pays, the target is credited.
    mined!(hub.depositFor(rlc(30), bob));
    assert_eq!(setup.stake(bob).await, rlc(30));
    assert_eq!(setup.tokens(alice).await, rlc(930));
    setup.assert_conserved().await;

    // depositForArray: one pull for several targets.
    mined!(hub.depositForArray(vec![rlc(10), rlc(20)], vec![bob, carol]));
    assert_eq!(setup.stake(bob).await, rlc(40));
    assert_eq!(setup.stake(carol).await, rlc(20));
    assert_eq!(setup.tokens(alice).await, rlc(900));
    setup.assert_conserved().await;

    // withdraw: SRLC burnt, tokens back to the caller.
    let receipt = mined!(hub.withdraw(rlc(15)));
    let burnt = hub_transfer(&receipt, net.deployment.hub);
    assert_eq!(
        (burnt.from, burnt.to, burnt.value),
        (alice, Address::ZERO, rlc(15))
    );
    assert_eq!(setup.stake(alice).await, rlc(25));
    assert_eq!(setup.tokens(alice).await, rlc(915));
    setup.assert_conserved().await;

    // withdrawTo: the caller's SRLC, someone else's tokens.
    mined!(setup.hub(2).withdrawTo(rlc(5), dave));
    assert_eq!(setup.stake(bob).await, rlc(35));
    assert_eq!(setup.tokens(dave).await, rlc(1_005));
    assert_eq!(setup.tokens(bob).await, rlc(1_000));
    setup.assert_conserved().await;

    // Withdrawing more than the balance reverts, naming the account, and changes nothing.
    let before = setup.snapshot().await;
    for attempt in [
        hub.withdraw(rlc(26)).send().await,
        hub.withdrawTo(rlc(26), dave).send().await,
    ] {
        let error = reverted_with::<Hub::InsufficientBalance>(attempt.unwrap_err());
        assert_eq!(
            (error.account, error.balance, error.needed),
            (alice, rlc(25), rlc(26))
        );
    }
    assert_eq!(setup.snapshot().await, before);
    setup.assert_conserved().await;

    // A deposit beyond the allowance fails in the token and changes nothing.
    assert!(hub.deposit(rlc(1_000)).send().await.is_err());
    assert_eq!(setup.snapshot().await, before);
    setup.shutdown().await;
}

#[tokio::test]
async fn deposit_for_array_needs_as_many_amounts_as_targets() {
    let setup = Setup::start().await;
    setup.approve(1, rlc(10)).await;
    let error = setup
        .hub(1)
        .depositForArray(vec![rlc(1), rlc(2)], vec![setup.net.account(2)])
        .send()
        .await
        .unwrap_err();
    let error = reverted_with::<Hub::ArrayLengthMismatch>(error);
    assert_eq!((error.first, error.second), (U256::from(2), U256::from(1)));
    let error = setup
        .hub(1)
        .depositFor(rlc(1), Address::ZERO)
        .send()
        .await
        .unwrap_err();
    reverted_with::<Hub::ZeroAddress>(error);
    setup.assert_conserved().await;
    setup.shutdown().await;
}

#[tokio::test]
async fn srlc_is_an_erc20_named_staked_rlc() {
    let setup = Setup::start().await;
    let net = &setup.net;
    let [alice, bob, carol] = [1, 2, 3].map(|user| net.account(user));
    let hub = setup.hub(1);
    assert_eq!(hub.name().call().await.unwrap(), "Staked RLC");
    assert_eq!(hub.symbol().call().await.unwrap(), "SRLC");
    assert_eq!(hub.decimals().call().await.unwrap(), 9);
    assert_eq!(hub.token().call().await.unwrap(), net.deployment.token);
    assert_eq!(hub.totalSupply().call().await.unwrap(), U256::ZERO);

    setup.approve(1, rlc(50)).await;
    mined!(hub.deposit(rlc(50)));
    mined!(hub.transfer(bob, rlc(10)));
    assert_eq!(setup.stake(alice).await, rlc(40));
    assert_eq!(setup.stake(bob).await, rlc(10));
    setup.assert_conserved().await;

    mined!(hub.approve(carol, rlc(15)));
    assert_eq!(hub.allowance(alice, carol).call().await.unwrap(), rlc(15));
    let carol_hub = setup.hub(3);
    mined!(carol_hub.transferFrom(alice, carol, rlc(12)));
    assert_eq!(hub.allowance(alice, carol).call().await.unwrap(), rlc(3));
    assert_eq!(setup.stake(carol).await, rlc(12));
    setup.assert_conserved().await;

    let error = carol_hub
        .transferFrom(alice, carol, rlc(4))
        .send()
        .await
        .unwrap_err();
    let error = reverted_with::<Hub::InsufficientAllowance>(error);
    assert_eq!(
        (error.owner, error.spender, error.allowance, error.needed),
        (alice, carol, rlc(3), rlc(4))
    );
    let error = setup
        .hub(2)
        .transfer(alice, rlc(11))
        .send()
        .await
        .unwrap_err();
    let error = reverted_with::<Hub::InsufficientBalance>(error);
    assert_eq!((error.account, error.balance), (bob, rlc(10)));

    mined!(hub.increaseAllowance(carol, rlc(2)));
    mined!(hub.decreaseAllowance(carol, rlc(1)));
    assert_eq!(hub.allowance(alice, carol).call().await.unwrap(), rlc(4));
    setup.assert_conserved().await;
    setup.shutdown().await;
}

#[tokio::test]
async fn approve_and_call_on_the_token_deposits_in_one_transaction() {
    let setup = Setup::start().await;
    let net = &setup.net;
    let alice = net.account(1);
    let token = setup.token(1);

    let receipt = mined!(token.approveAndCall(net.deployment.hub, rlc(70), Bytes::new()));
    let minted = hub_transfer(&receipt, net.deployment.hub);
    assert_eq!((minted.to, minted.value), (alice, rlc(70)));
    assert_eq!(setup.stake(alice).await, rlc(70));
    assert_eq!(setup.tokens(alice).await, rlc(930));
    let allowance = token
        .allowance(alice, net.deployment.hub)
        .call()
        .await
        .unwrap();
    assert_eq!(allowance, U256::ZERO, "the approval is used up");
    setup.assert_conserved().await;

    // With data naming an operation other than matchOrders.
    let before = setup.snapshot().await;
    let data = Bytes::from(b"\x15\x6e\x29\xf6 some operation".to_vec());
    let error = token
        .approveAndCall(net.deployment.hub, rlc(5), data)
        .send()
        .await
        .unwrap_err();
    let error = reverted_with::<Hub::UnsupportedOperation>(error);
    assert_eq!(error.selector.0, [0x15, 0x6e, 0x29, 0xf6]);
    assert_eq!(setup.snapshot().await, before);
    setup.shutdown().await;
}

#[tokio::test]
async fn receive_approval_only_takes_calls_from_the_token() {
    let setup = Setup::start().await;
    let net = &setup.net;
    let alice = net.account(1);
    setup.approve(1, rlc(10)).await;
    let before = setup.snapshot().await;
    // Even with an approval in place, a direct call cannot pull the tokens.
    let error = setup
        .hub(2)
        .receiveApproval(alice, rlc(10), net.deployment.token, Bytes::new())
        .send()
        .await
        .unwrap_err();
    let error = reverted_with::<Hub::NotTheToken>(error);
    assert_eq!(error.caller, net.account(2));
    assert_eq!(setup.snapshot().await, before);
    setup.assert_conserved().await;
    setup.shutdown().await;
}

#[tokio::test]
async fn hub_state_sits_at_its_erc7201_slot() {
    let setup = Setup::start().await;
    let provider = setup.net.provider(0);
    // keccak256(abi.encode(uint256(keccak256("agora.hub.storage.Hub")) - 1)) & ~0xff
    let id = U256::from_be_bytes(keccak256("agora.hub.storage.Hub").0) - U256::from(1);
    let mut slot = keccak256(id.abi_encode()).0;
    slot[31] = 0;
    // The first field of the layout is the token.
    let word = provider
        .get_storage_at(setup.net.deployment.hub, U256::from_be_bytes(slot))
        .await
        .unwrap();
    let token = Address::from_word(B256::from(word));
    assert_eq!(token, setup.net.deployment.token);
    setup.shutdown().await;
}

/// The gas of a `deposit` after approving the hub for exactly the amount (the approval is used
/// up, and the token refunds part of clearing it), from the receipt.
async fn deposit_gas(setup: &Setup, user: usize, amount: U256) -> u64 {
    setup.approve(user, amount).await;
    let receipt = mined!(setup.hub(user).deposit(amount));
    receipt.gas_used
}

/// The figures of docs/GAS.md, "Accounts" (printed; run with `--no-capture` to see them).
#[tokio::test]
async fn a_repeat_deposit_costs_at_most_60_percent_of_iexecs() {
    let setup = Setup::start().await;
    // Someone deposited before: the hub already holds tokens and SRLC exists.
    deposit_gas(&setup, 4, rlc(1)).await;

    let first = deposit_gas(&setup, 1, rlc(10)).await;
    let repeat = deposit_gas(&setup, 1, rlc(10)).await;
    // With a standing allowance that outlives the deposit: the token rewrites it and refunds
    // nothing. The hub's part is the same; the token's costs 4,800 gas more.
    setup.approve(2, rlc(100)).await;
    mined!(setup.hub(2).deposit(rlc(10)));
    let standing = mined!(setup.hub(2).deposit(rlc(10))).gas_used;
    // Through the token's approveAndCall, approval and deposit in one transaction.
    let token = setup.token(1);
    let hub = setup.net.deployment.hub;
    let approve_and_call = mined!(token.approveAndCall(hub, rlc(10), Bytes::new())).gas_used;
    eprintln!(
        "deposit gas: first {first}, repeat {repeat}, repeat with a standing allowance \
         {standing}, approveAndCall (repeat) {approve_and_call}"
    );
    assert!(
        repeat <= DEPOSIT_GAS_CEILING,
        "a repeat deposit costs {repeat} gas"
    );
    assert!(first > repeat, "a first deposit creates the account");
    setup.assert_conserved().await;
    setup.shutdown().await;
}

#[tokio::test]
async fn lock_unlock_seize_and_reward_keep_iexecs_accounting() {
    let (setup, harness) = Setup::with_harness().await;
    let [alice, bob] = [1, 2].map(|user| setup.net.account(user));
    let address = setup.hub;
    let account = |who: Address| {
        let hub = setup.hub(0);
        async move {
            let agora_contracts::IexecLibCore::Account { stake, locked } =
                hub.viewAccount(who).call().await.unwrap();
            (stake, locked)
        }
    };
    setup.approve(1, rlc(100)).await;
    mined!(setup.hub(1).deposit(rlc(100)));
    let task = B256::repeat_byte(0x7a);

    // lock: from the balance into the hub's own, recorded as frozen.
    let receipt = mined!(harness.lock(alice, rlc(30)));
    let moved = hub_transfer(&receipt, address);
    assert_eq!(
        (moved.from, moved.to, moved.value),
        (alice, address, rlc(30))
    );
    let locked = receipt
        .decoded_log::<EscrowHarness::Lock>()
        .expect("a Lock");
    assert_eq!((locked.owner, locked.amount), (alice, rlc(30)));
    assert_eq!(account(alice).await, (rlc(70), rlc(30)));
    assert_eq!(setup.stake(address).await, rlc(30));
    setup.assert_conserved().await;

    // unlock: back to the balance.
    let receipt = mined!(harness.unlock(alice, rlc(10)));
    let unlocked = receipt
        .decoded_log::<EscrowHarness::Unlock>()
        .expect("an Unlock");
    assert_eq!((unlocked.owner, unlocked.amount), (alice, rlc(10)));
    assert_eq!(account(alice).await, (rlc(80), rlc(20)));
    assert_eq!(setup.stake(address).await, rlc(20));
    setup.assert_conserved().await;

    // seize: the frozen claim goes, the value stays with the hub.
    let receipt = mined!(harness.seize(alice, rlc(15), task));
    let seized = receipt
        .decoded_log::<EscrowHarness::Seize>()
        .expect("a Seize");
    assert_eq!(
        (seized.owner, seized.amount, seized.r#ref),
        (alice, rlc(15), task)
    );
    assert_eq!(account(alice).await, (rlc(80), rlc(5)));
    assert_eq!(setup.stake(address).await, rlc(20));
    setup.assert_conserved().await;

    // reward: paid out of the hub's own balance.
    let receipt = mined!(harness.reward(bob, rlc(15), task));
    let paid = hub_transfer(&receipt, address);
    assert_eq!((paid.from, paid.to, paid.value), (address, bob, rlc(15)));
    let rewarded = receipt
        .decoded_log::<EscrowHarness::Reward>()
        .expect("a Reward");
    assert_eq!(
        (rewarded.owner, rewarded.amount, rewarded.r#ref),
        (bob, rlc(15), task)
    );
    assert_eq!(account(bob).await, (rlc(15), U256::ZERO));
    assert_eq!(setup.stake(address).await, rlc(5));
    setup.assert_conserved().await;

    // Each operation refuses to go below zero, naming what is short.
    let before = setup.snapshot().await;
    let error = harness.unlock(alice, rlc(6)).send().await.unwrap_err();
    let error = reverted_with::<EscrowHarness::InsufficientFrozen>(error);
    assert_eq!(
        (error.account, error.frozen, error.needed),
        (alice, rlc(5), rlc(6))
    );
    let error = harness.seize(alice, rlc(6), task).send().await.unwrap_err();
    reverted_with::<EscrowHarness::InsufficientFrozen>(error);
    let error = harness.reward(bob, rlc(6), task).send().await.unwrap_err();
    let error = reverted_with::<EscrowHarness::InsufficientBalance>(error);
    assert_eq!((error.account, error.balance), (address, rlc(5)));
    let error = harness.lock(alice, rlc(81)).send().await.unwrap_err();
    let error = reverted_with::<EscrowHarness::InsufficientBalance>(error);
    assert_eq!((error.account, error.balance), (alice, rlc(80)));
    assert_eq!(setup.snapshot().await, before);
    setup.assert_conserved().await;
    setup.shutdown().await;
}

/// `receiveApproval`'s selector is iExec's (`IexecTokenSpender`).
#[test]
fn receive_approval_has_iexecs_selector() {
    assert_eq!(
        Hub::receiveApprovalCall::SELECTOR,
        keccak256("receiveApproval(address,uint256,address,bytes)")[..4]
    );
}
