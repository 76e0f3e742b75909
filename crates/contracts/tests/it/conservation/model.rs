//! What the conservation test expects of the hub, worked out in Rust from spec §1.3, §3–§5
//! (not read from the chain): every account's free and locked SRLC, every score, the token
//! balances and allowances, the asset owners, the consumed volumes, the deals and the tasks.
//! Each operation runs on a copy and either succeeds (the copy becomes the model) or names
//! the reason the hub must revert (the model stays as it was).

use std::collections::BTreeMap;

use agora_primitives::{Contribution as Commitment, DealId, ResultDigest, TaskId};
use alloy::primitives::{Address, B256, U256, keccak256};

/// Why the model expects a call to revert.
pub(super) type Revert = &'static str;

/// The task statuses of `IexecLibCore.TaskStatusEnum`.
pub(super) const ACTIVE: u8 = 1;
pub(super) const REVEALING: u8 = 2;
pub(super) const COMPLETED: u8 = 3;
pub(super) const FAILED: u8 = 4;

/// The contribution statuses of `IexecLibCore.ContributionStatusEnum`.
const CONTRIBUTED: u8 = 1;
const PROVED: u8 = 2;
const REJECTED: u8 = 3;

/// Spec §4.2, §5.4 and the workerpool's default policy.
const CONTRIBUTION_DEADLINE_RATIO: u64 = 7;
const REVEAL_DEADLINE_RATIO: u64 = 2;
const FINAL_DEADLINE_RATIO: u64 = 10;
const WORKERPOOL_STAKE_RATIO: u64 = 30;
pub(super) const WORKER_STAKE_RATIO: u64 = 30;
pub(super) const SCHEDULER_REWARD_RATIO: u64 = 1;
const KITTY_RATIO: u64 = 10;
const KITTY_MIN: u64 = 1_000_000_000;

/// A deal as the model recorded it at the match.
#[derive(Debug, Clone)]
pub(super) struct Deal {
    pub(super) id: DealId,
    pub(super) app_price: U256,
    pub(super) dataset_price: U256,
    pub(super) pool_price: U256,
    pub(super) stake: U256,
    pub(super) trust: u64,
    pub(super) tee: bool,
    pub(super) callback: Address,
    pub(super) payer: Address,
    pub(super) app_owner: Address,
    pub(super) dataset_owner: Address,
    pub(super) pool_owner: Address,
    pub(super) start: u64,
    pub(super) first: u64,
    pub(super) initialized: Vec<bool>,
}

/// A worker's contribution to a task.
#[derive(Debug, Clone)]
pub(super) struct Contribution {
    pub(super) worker: Address,
    pub(super) digest: ResultDigest,
    hash: B256,
    /// `floor(log2(weight))`, the share of the reward.
    weight: u64,
    pub(super) status: u8,
}

/// A task initialized.
#[derive(Debug, Clone)]
pub(super) struct Task {
    pub(super) id: TaskId,
    pub(super) deal: usize,
    pub(super) status: u8,
    pub(super) contribution_deadline: u64,
    pub(super) final_deadline: u64,
    pub(super) reveal_deadline: u64,
    /// Before consensus, the vote total (1 plus every group).
    total: U256,
    /// The consensus value (a result hash), once reached.
    consensus: B256,
    /// The digest revealed, once one is.
    pub(super) digest: Option<B256>,
    groups: BTreeMap<B256, U256>,
    pub(super) contributions: Vec<Contribution>,
    pub(super) revealed: u64,
    pub(super) winners: u64,
}

impl Task {
    pub(super) fn contribution(&self, worker: Address) -> Option<&Contribution> {
        self.contributions.iter().find(|c| c.worker == worker)
    }

    /// Whether `worker` contributed the consensus value and has not revealed yet.
    pub(super) fn pending_winner(&self, worker: Address) -> bool {
        self.contribution(worker)
            .is_some_and(|c| c.status == CONTRIBUTED && c.hash == self.consensus)
    }
}

/// The four orders of a match, as the model needs them.
#[derive(Debug, Clone)]
pub(super) struct MatchInput {
    pub(super) app: B256,
    pub(super) app_volume: U256,
    pub(super) app_price: U256,
    pub(super) app_signer: Address,
    /// The dataset order's hash, volume, price and signer, if the deal has a dataset.
    pub(super) dataset: Option<(B256, U256, U256, Address)>,
    pub(super) pool: B256,
    pub(super) pool_volume: U256,
    pub(super) pool_price: U256,
    pub(super) pool_signer: Address,
    pub(super) request: B256,
    pub(super) request_volume: U256,
    pub(super) max_prices: [U256; 3],
    pub(super) trust: u64,
    pub(super) tee: bool,
    pub(super) callback: Address,
}

/// The whole expected state.
#[derive(Debug, Clone)]
pub(super) struct Model {
    pub(super) hub: Address,
    pub(super) kitty: Address,
    /// Free SRLC (the hub's own entry holds what is locked).
    pub(super) free: BTreeMap<Address, U256>,
    pub(super) frozen: BTreeMap<Address, U256>,
    pub(super) score: BTreeMap<Address, u64>,
    pub(super) supply: U256,
    /// RLC held.
    pub(super) rlc: BTreeMap<Address, U256>,
    /// RLC allowances `(owner, spender)`.
    pub(super) rlc_allowance: BTreeMap<(Address, Address), U256>,
    /// SRLC allowances `(owner, spender)`.
    pub(super) allowance: BTreeMap<(Address, Address), U256>,
    /// The owners of the app, the dataset and the workerpool (their registry tokens).
    pub(super) owners: [Address; 3],
    pub(super) consumed: BTreeMap<B256, U256>,
    pub(super) deals: Vec<Deal>,
    pub(super) tasks: Vec<Task>,
    /// The timestamp of the next block.
    pub(super) time: u64,
    /// The category's time reference.
    pub(super) timeref: u64,
}

fn get<K: Ord>(map: &BTreeMap<K, U256>, key: K) -> U256 {
    map.get(&key).copied().unwrap_or_default()
}

impl Model {
    // ---- The escrow (spec §1.3): iExec's four operations on the SRLC ledger ----

    fn mint(&mut self, account: Address, amount: U256) -> Result<(), Revert> {
        if account.is_zero() {
            return Err("ZeroAddress");
        }
        if account == self.hub {
            return Err("HubNotAnAccount");
        }
        self.supply += amount;
        *self.free.entry(account).or_default() += amount;
        Ok(())
    }

    fn burn(&mut self, account: Address, amount: U256) -> Result<(), Revert> {
        let free = self.free.entry(account).or_default();
        if *free < amount {
            return Err("InsufficientBalance");
        }
        *free -= amount;
        self.supply -= amount;
        Ok(())
    }

    fn move_free(&mut self, from: Address, to: Address, amount: U256) -> Result<(), Revert> {
        if to.is_zero() {
            return Err("ZeroAddress");
        }
        let free = self.free.entry(from).or_default();
        if *free < amount {
            return Err("InsufficientBalance");
        }
        *free -= amount;
        *self.free.entry(to).or_default() += amount;
        Ok(())
    }

    fn lock(&mut self, account: Address, amount: U256) -> Result<(), Revert> {
        self.move_free(account, self.hub, amount)?;
        *self.frozen.entry(account).or_default() += amount;
        Ok(())
    }

    fn unfreeze(&mut self, account: Address, amount: U256) -> Result<(), Revert> {
        let frozen = self.frozen.entry(account).or_default();
        if *frozen < amount {
            return Err("InsufficientFrozen");
        }
        *frozen -= amount;
        Ok(())
    }

    fn unlock(&mut self, account: Address, amount: U256) -> Result<(), Revert> {
        self.unfreeze(account, amount)?;
        self.move_free(self.hub, account, amount)
    }

    fn reward(&mut self, account: Address, amount: U256) -> Result<(), Revert> {
        self.move_free(self.hub, account, amount)
    }

    fn seize(&mut self, account: Address, amount: U256) -> Result<(), Revert> {
        self.unfreeze(account, amount)
    }

    // ---- The token (an OpenZeppelin ERC-20) ----

    fn rlc_move(&mut self, from: Address, to: Address, amount: U256) -> Result<(), Revert> {
        let held = self.rlc.entry(from).or_default();
        if *held < amount {
            return Err("ERC20InsufficientBalance");
        }
        *held -= amount;
        *self.rlc.entry(to).or_default() += amount;
        Ok(())
    }

    pub(super) fn rlc_approve(&mut self, owner: Address, spender: Address, amount: U256) {
        self.rlc_allowance.insert((owner, spender), amount);
    }

    /// The hub pulls `amount` of `from`'s tokens (the token's `transferFrom`, the hub spending).
    fn pull(&mut self, from: Address, amount: U256) -> Result<(), Revert> {
        let key = (from, self.hub);
        let allowed = get(&self.rlc_allowance, key);
        if allowed < amount {
            return Err("ERC20InsufficientAllowance");
        }
        if allowed != U256::MAX {
            self.rlc_allowance.insert(key, allowed - amount);
        }
        self.rlc_move(from, self.hub, amount)
    }

    // ---- Accounts (Hub.sol) ----

    pub(super) fn deposit_for(
        &mut self,
        sender: Address,
        target: Address,
        amount: U256,
    ) -> Result<(), Revert> {
        self.pull(sender, amount)?;
        self.mint(target, amount)
    }

    pub(super) fn deposit_for_array(
        &mut self,
        sender: Address,
        targets: &[(Address, U256)],
    ) -> Result<(), Revert> {
        let mut total = U256::ZERO;
        for (target, amount) in targets {
            total += *amount;
            self.mint(*target, *amount)?;
        }
        self.pull(sender, total)
    }

    pub(super) fn withdraw_to(
        &mut self,
        sender: Address,
        target: Address,
        amount: U256,
    ) -> Result<(), Revert> {
        if target == self.hub {
            return Err("HubNotAnAccount");
        }
        self.burn(sender, amount)?;
        if target.is_zero() {
            return Err("ERC20InvalidReceiver");
        }
        self.rlc_move(self.hub, target, amount)
    }

    /// `approveAndCall(hub, amount, data)` on the token: the approval, then the deposit.
    pub(super) fn approve_and_deposit(
        &mut self,
        sender: Address,
        amount: U256,
    ) -> Result<(), Revert> {
        self.rlc_approve(sender, self.hub, amount);
        self.deposit_for(sender, sender, amount)
    }

    pub(super) fn transfer(
        &mut self,
        from: Address,
        to: Address,
        amount: U256,
    ) -> Result<(), Revert> {
        if to == self.hub {
            return Err("HubNotAnAccount");
        }
        self.move_free(from, to, amount)
    }

    pub(super) fn approve(
        &mut self,
        owner: Address,
        spender: Address,
        amount: U256,
    ) -> Result<(), Revert> {
        if spender.is_zero() {
            return Err("ZeroAddress");
        }
        self.allowance.insert((owner, spender), amount);
        Ok(())
    }

    pub(super) fn transfer_from(
        &mut self,
        spender: Address,
        from: Address,
        to: Address,
        amount: U256,
    ) -> Result<(), Revert> {
        let allowed = get(&self.allowance, (from, spender));
        if allowed < amount {
            return Err("InsufficientAllowance");
        }
        self.transfer(from, to, amount)?;
        self.allowance.insert((from, spender), allowed - amount);
        Ok(())
    }

    // ---- Assets and orders ----

    /// The registry's `transferFrom(from, to, token)` sent by `sender`.
    pub(super) fn transfer_asset(
        &mut self,
        kind: usize,
        sender: Address,
        to: Address,
    ) -> Result<(), Revert> {
        if sender != self.owners[kind] {
            return Err("ERC721InsufficientApproval");
        }
        if to.is_zero() {
            return Err("ERC721InvalidReceiver");
        }
        self.owners[kind] = to;
        Ok(())
    }

    /// `manage*Order` CLOSE by `sender` of the order `hash` of `volume`, owned by `owner`.
    pub(super) fn close(
        &mut self,
        sender: Address,
        owner: Address,
        hash: B256,
        volume: U256,
    ) -> Result<(), Revert> {
        if sender != owner {
            return Err("InvalidSenderOrSignature");
        }
        self.consumed.insert(hash, volume);
        Ok(())
    }

    fn left(&self, hash: B256, volume: U256) -> U256 {
        volume.saturating_sub(get(&self.consumed, hash))
    }

    /// matchOrders (spec §3) paid by `payer`; the new deal's index.
    pub(super) fn match_orders(&mut self, m: &MatchInput, payer: Address) -> Result<usize, Revert> {
        let dataset_price = m.dataset.map(|(_, _, price, _)| price).unwrap_or_default();
        if m.max_prices[0] < m.app_price {
            return Err("AppPriceTooHigh");
        }
        if m.max_prices[1] < dataset_price {
            return Err("DatasetPriceTooHigh");
        }
        if m.max_prices[2] < m.pool_price {
            return Err("WorkerpoolPriceTooHigh");
        }
        let [app_owner, dataset_owner, pool_owner] = self.owners;
        if m.app_signer != app_owner {
            return Err("InvalidAppOrderSignature");
        }
        if let Some((_, _, _, signer)) = m.dataset
            && signer != dataset_owner
        {
            return Err("InvalidDatasetOrderSignature");
        }
        if m.pool_signer != pool_owner {
            return Err("InvalidWorkerpoolOrderSignature");
        }
        let mut volume = self.left(m.app, m.app_volume);
        if let Some((hash, order_volume, _, _)) = m.dataset {
            volume = volume.min(self.left(hash, order_volume));
        }
        volume = volume
            .min(self.left(m.pool, m.pool_volume))
            .min(self.left(m.request, m.request_volume));
        if volume.is_zero() {
            return Err("OrderConsumed");
        }
        let first = get(&self.consumed, m.request);
        let id = DealId::new(keccak256(
            [m.request.as_slice(), &first.to_be_bytes::<32>()].concat(),
        ));
        for (hash, used) in [(Some(m.app), volume), (m.dataset.map(|d| d.0), volume)]
            .into_iter()
            .chain([(Some(m.pool), volume)])
        {
            if let Some(hash) = hash {
                *self.consumed.entry(hash).or_default() += used;
            }
        }
        self.consumed.insert(m.request, first + volume);
        let price = m.app_price + dataset_price + m.pool_price;
        self.lock(payer, price * volume)?;
        let pool_stake = m.pool_price * U256::from(WORKERPOOL_STAKE_RATIO) / U256::from(100);
        self.lock(pool_owner, pool_stake * volume)?;
        let size = usize::try_from(volume).expect("a small volume");
        self.deals.push(Deal {
            id,
            app_price: m.app_price,
            dataset_price,
            pool_price: m.pool_price,
            stake: m.pool_price * U256::from(WORKER_STAKE_RATIO) / U256::from(100),
            trust: m.trust.max(1),
            tee: m.tee,
            callback: m.callback,
            payer,
            app_owner,
            dataset_owner: if m.dataset.is_some() {
                dataset_owner
            } else {
                Address::ZERO
            },
            pool_owner,
            start: self.time,
            first: u64::try_from(first).expect("a small index"),
            initialized: vec![false; size],
        });
        Ok(self.deals.len() - 1)
    }

    // ---- The task lifecycle (spec §4, §5) ----

    /// Task `idx` (its index in the deal's bag, from `first`) of deal `deal`.
    pub(super) fn initialize(&mut self, deal: usize, idx: u64) -> Result<usize, Revert> {
        let d = &mut self.deals[deal];
        let Some(slot) = idx
            .checked_sub(d.first)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i < d.initialized.len())
        else {
            return Err("TaskIndexOutOfRange");
        };
        if d.initialized[slot] {
            return Err("TaskAlreadyInitialized");
        }
        d.initialized[slot] = true;
        let id = d.id.task(U256::from(idx));
        let start = d.start;
        self.tasks.push(Task {
            id,
            deal,
            status: ACTIVE,
            contribution_deadline: start + self.timeref * CONTRIBUTION_DEADLINE_RATIO,
            final_deadline: start + self.timeref * FINAL_DEADLINE_RATIO,
            reveal_deadline: 0,
            total: U256::from(1),
            consensus: B256::ZERO,
            digest: None,
            groups: BTreeMap::new(),
            contributions: Vec::new(),
            revealed: 0,
            winners: 0,
        });
        Ok(self.tasks.len() - 1)
    }

    fn require_open(&self, task: usize) -> Result<(), Revert> {
        let t = &self.tasks[task];
        if t.status != ACTIVE {
            return Err("TaskNotActive");
        }
        if self.time >= t.contribution_deadline {
            return Err("ContributionDeadlinePassed");
        }
        Ok(())
    }

    /// The authorization and enclave checks: `signer` signed the authorization, `enclave`
    /// whether an enclave challenge (with its valid signature) came with it.
    fn check_authorization(
        &self,
        task: usize,
        signer: Address,
        enclave: bool,
    ) -> Result<(), Revert> {
        let deal = &self.deals[self.tasks[task].deal];
        if !enclave && deal.tee {
            return Err("EnclaveChallengeRequired");
        }
        if signer != deal.pool_owner {
            return Err("InvalidAuthorization");
        }
        Ok(())
    }

    /// `worker` contributes `digest` to `task`, authorized by `signer`.
    pub(super) fn contribute(
        &mut self,
        task: usize,
        worker: Address,
        digest: ResultDigest,
        signer: Address,
        enclave: bool,
    ) -> Result<(), Revert> {
        self.require_open(task)?;
        if self.tasks[task].contribution(worker).is_some() {
            return Err("AlreadyContributed");
        }
        self.check_authorization(task, signer, enclave)?;
        let deal = &self.deals[self.tasks[task].deal];
        let (stake, trust) = (deal.stake, U256::from(deal.trust));
        let score = self.score.get(&worker).copied().unwrap_or_default();
        let weight = (score / 3).max(3) - 1;
        self.lock(worker, stake)?;
        let timeref = self.timeref;
        let now = self.time;
        let t = &mut self.tasks[task];
        let hash = *Commitment::new(worker, t.id, digest).result_hash.as_b256();
        t.contributions.push(Contribution {
            worker,
            digest,
            hash,
            weight: u64::from(weight.ilog2()),
            status: CONTRIBUTED,
        });
        let weight = U256::from(weight);
        let group = t.groups.get(&hash).copied().unwrap_or_default();
        let new_group = group.max(U256::from(1)) * weight;
        let total = t.total + new_group - group;
        if new_group * trust > total * (trust - U256::from(1)) {
            t.winners = t
                .contributions
                .iter()
                .filter(|c| c.hash == hash && c.status == CONTRIBUTED)
                .count() as u64;
            t.status = REVEALING;
            t.consensus = hash;
            t.reveal_deadline = now + timeref * REVEAL_DEADLINE_RATIO;
        } else {
            t.groups.insert(hash, new_group);
            t.total = total;
        }
        Ok(())
    }

    pub(super) fn reveal(
        &mut self,
        task: usize,
        worker: Address,
        digest: ResultDigest,
    ) -> Result<(), Revert> {
        let now = self.time;
        let t = &mut self.tasks[task];
        if t.status != REVEALING {
            return Err("TaskNotRevealing");
        }
        if now >= t.reveal_deadline {
            return Err("RevealDeadlinePassed");
        }
        let consensus = t.consensus;
        let id = t.id;
        let Some(c) = t
            .contributions
            .iter_mut()
            .find(|c| c.worker == worker && c.status == CONTRIBUTED && c.hash == consensus)
        else {
            return Err("NotAWinner");
        };
        if *Commitment::new(worker, id, digest).result_hash.as_b256() != consensus
            || c.digest != digest
        {
            return Err("RevealMismatch");
        }
        c.status = PROVED;
        t.revealed += 1;
        if t.digest.is_none() {
            t.digest = Some(*digest.as_b256());
        }
        Ok(())
    }

    fn require_scheduler(&self, task: usize, sender: Address) -> Result<(), Revert> {
        if sender != self.deals[self.tasks[task].deal].pool_owner {
            return Err("NotTheScheduler");
        }
        Ok(())
    }

    pub(super) fn reopen(&mut self, task: usize, sender: Address) -> Result<(), Revert> {
        self.require_scheduler(task, sender)?;
        let now = self.time;
        let t = &mut self.tasks[task];
        if t.status != REVEALING {
            return Err("TaskNotRevealing");
        }
        if now >= t.final_deadline {
            return Err("FinalDeadlinePassed");
        }
        if now < t.reveal_deadline {
            return Err("RevealDeadlineNotReached");
        }
        if t.revealed != 0 {
            return Err("AlreadyRevealed");
        }
        let consensus = t.consensus;
        let mut total = U256::from(1);
        let mut counted = Vec::new();
        for c in &mut t.contributions {
            if c.status != CONTRIBUTED {
                continue;
            }
            if c.hash == consensus {
                c.status = REJECTED;
            } else if !counted.contains(&c.hash) {
                counted.push(c.hash);
                total += t.groups.get(&c.hash).copied().unwrap_or_default();
            }
        }
        t.groups.remove(&consensus);
        t.status = ACTIVE;
        t.total = total;
        t.consensus = B256::ZERO;
        t.reveal_deadline = 0;
        t.winners = 0;
        Ok(())
    }

    fn check_callback(deal: &Deal, data: &[u8], digest: B256) -> Result<(), Revert> {
        if (deal.callback.is_zero() && data.is_empty()) || keccak256(data) == digest {
            Ok(())
        } else {
            Err("CallbackDataMismatch")
        }
    }

    /// The payments of a successful task: the payer's price to the app and dataset owners,
    /// the scheduler's stake back, and the kitty's share to the scheduler.
    fn success_work(&mut self, deal: usize) -> Result<(), Revert> {
        let d = self.deals[deal].clone();
        self.seize(d.payer, d.app_price + d.dataset_price + d.pool_price)?;
        if !d.app_price.is_zero() {
            self.reward(d.app_owner, d.app_price)?;
        }
        if !d.dataset_price.is_zero() {
            self.reward(d.dataset_owner, d.dataset_price)?;
        }
        let pool_stake = d.pool_price * U256::from(WORKERPOOL_STAKE_RATIO) / U256::from(100);
        self.unlock(d.pool_owner, pool_stake)?;
        let kitty = get(&self.frozen, self.kitty);
        if !kitty.is_zero() {
            let share = (kitty * U256::from(KITTY_RATIO) / U256::from(100))
                .max(U256::from(KITTY_MIN))
                .min(kitty);
            self.seize(self.kitty, share)?;
            self.reward(d.pool_owner, share)?;
        }
        Ok(())
    }

    pub(super) fn finalize(
        &mut self,
        task: usize,
        sender: Address,
        callback: &[u8],
    ) -> Result<(), Revert> {
        self.require_scheduler(task, sender)?;
        let now = self.time;
        let t = &self.tasks[task];
        if t.status != REVEALING {
            return Err("TaskNotRevealing");
        }
        if now >= t.final_deadline {
            return Err("FinalDeadlinePassed");
        }
        if t.revealed != t.winners && (t.revealed == 0 || now < t.reveal_deadline) {
            return Err("RevealsPending");
        }
        let deal = t.deal;
        // Before any reveal the slot holds the consensus value.
        let digest = t.digest.unwrap_or(t.consensus);
        Self::check_callback(&self.deals[deal], callback, digest)?;
        self.tasks[task].status = COMPLETED;
        self.success_work(deal)?;
        // The workers' rewards (spec §5.3).
        let d = self.deals[deal].clone();
        let contributions = self.tasks[task].contributions.clone();
        let count = contributions.len();
        let mut total_reward = d.pool_price;
        let mut total_weight = U256::ZERO;
        for c in &contributions {
            if c.status == PROVED {
                total_weight += U256::from(c.weight);
            } else {
                total_reward += d.stake;
            }
        }
        let workers_reward =
            total_reward * U256::from(100 - SCHEDULER_REWARD_RATIO) / U256::from(100);
        for c in &contributions {
            let score = self.score.entry(c.worker).or_default();
            if c.status == PROVED {
                let reward = workers_reward * U256::from(c.weight) / total_weight;
                total_reward -= reward;
                if count > 1 {
                    *score += 1;
                }
                self.unlock(c.worker, d.stake)?;
                self.reward(c.worker, reward)?;
            } else {
                *score = *score * 2 / 3;
                self.seize(c.worker, d.stake)?;
            }
        }
        self.reward(d.pool_owner, total_reward)
    }

    /// `worker` completes `task` alone (trust 1, no contribution yet).
    pub(super) fn contribute_and_finalize(
        &mut self,
        task: usize,
        worker: Address,
        digest: ResultDigest,
        callback: &[u8],
        signer: Address,
        enclave: bool,
    ) -> Result<(), Revert> {
        self.require_open(task)?;
        let t = &self.tasks[task];
        if !t.contributions.is_empty() {
            return Err("TaskHasContributions");
        }
        let deal = t.deal;
        if self.deals[deal].trust != 1 {
            return Err("ReplicationRequired");
        }
        Self::check_callback(&self.deals[deal], callback, *digest.as_b256())?;
        self.check_authorization(task, signer, enclave)?;
        let now = self.time;
        let timeref = self.timeref;
        let t = &mut self.tasks[task];
        let hash = *Commitment::new(worker, t.id, digest).result_hash.as_b256();
        t.contributions.push(Contribution {
            worker,
            digest,
            hash,
            weight: 0,
            status: PROVED,
        });
        t.status = COMPLETED;
        t.reveal_deadline = now + timeref * REVEAL_DEADLINE_RATIO;
        t.revealed = 1;
        t.winners = 1;
        t.consensus = hash;
        t.digest = Some(*digest.as_b256());
        self.success_work(deal)?;
        let d = &self.deals[deal];
        let price = d.pool_price;
        let pool_owner = d.pool_owner;
        let worker_reward = price * U256::from(100 - SCHEDULER_REWARD_RATIO) / U256::from(100);
        self.reward(worker, worker_reward)?;
        self.reward(pool_owner, price - worker_reward)
    }

    pub(super) fn claim(&mut self, task: usize) -> Result<(), Revert> {
        let t = &self.tasks[task];
        if t.status != ACTIVE && t.status != REVEALING {
            return Err("TaskNotClaimable");
        }
        if self.time < t.final_deadline {
            return Err("FinalDeadlineNotReached");
        }
        self.tasks[task].status = FAILED;
        let d = self.deals[self.tasks[task].deal].clone();
        self.unlock(d.payer, d.app_price + d.dataset_price + d.pool_price)?;
        let pool_stake = d.pool_price * U256::from(WORKERPOOL_STAKE_RATIO) / U256::from(100);
        if !pool_stake.is_zero() {
            self.seize(d.pool_owner, pool_stake)?;
            *self.frozen.entry(self.kitty).or_default() += pool_stake;
        }
        let workers: Vec<_> = self.tasks[task]
            .contributions
            .iter()
            .map(|c| c.worker)
            .collect();
        for worker in workers {
            self.unlock(worker, d.stake)?;
        }
        Ok(())
    }

    /// The invariants that follow from the escrow's accounting, on the model itself: the free
    /// balances sum to the supply, the hub's own balance is what is locked, and the hub holds
    /// the supply in tokens.
    pub(super) fn assert_invariants(&self) {
        let free: U256 = self.free.values().sum();
        let frozen: U256 = self.frozen.values().sum();
        assert_eq!(free, self.supply, "model: the free balances are the supply");
        assert_eq!(
            get(&self.free, self.hub),
            frozen,
            "model: the hub's own balance is what is locked"
        );
        assert_eq!(
            get(&self.rlc, self.hub),
            self.supply,
            "model: the hub's tokens are the supply"
        );
    }
}
