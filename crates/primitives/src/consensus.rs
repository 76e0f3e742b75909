//! Proof-of-Contribution arithmetic (spec §5): worker weights, the consensus condition, and the
//! split of a task's price on success, exactly as the hub computes them. The scheduler uses it
//! to predict how many replicates a task needs; tests use it as the reference for the contracts.

use std::collections::BTreeMap;

use alloy_primitives::{Address, U256};

use crate::{Nrlc, ResultHash};

/// Protocol constants (spec §6.2).
pub mod constants {
    /// Contributions close `7 × timeref` after the deal starts.
    pub const CONTRIBUTION_DEADLINE_RATIO: u64 = 7;
    /// Winners reveal within `2 × timeref` of consensus.
    pub const REVEAL_DEADLINE_RATIO: u64 = 2;
    /// Anyone may claim `10 × timeref` after the deal starts.
    pub const FINAL_DEADLINE_RATIO: u64 = 10;
    /// Percent of the workerpool price the scheduler stakes per task.
    pub const WORKERPOOL_STAKE_RATIO: u64 = 30;
    /// Percent of the kitty paid to the scheduler of each successful task.
    pub const KITTY_RATIO: u64 = 10;
    /// Least kitty share, in nRLC (1 RLC).
    pub const KITTY_MIN: u64 = 1_000_000_000;
    /// Gas given to a result callback.
    pub const CALLBACK_GAS: u64 = 200_000;
}

/// A worker's integer weight from its score: `max(score / 3, 3) − 1` (so at least 2).
pub fn worker_weight(score: u64) -> u64 {
    (score / 3).max(3) - 1
}

/// The weight stored with a contribution and used to share rewards: `floor(log2(weight))`.
pub fn contribution_weight(score: u64) -> u64 {
    u64::from(worker_weight(score).ilog2())
}

/// The score after a correct contribution to a replicated task.
pub fn score_after_success(score: u64) -> u64 {
    score + 1
}

/// The score after a wrong or missing contribution: two thirds, rounded down.
pub fn score_after_failure(score: u64) -> u64 {
    score * 2 / 3
}

/// The consensus state of one task: for each result hash, the product of its voters' weights,
/// and the total `1 + Σ groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consensus {
    trust: U256,
    total: U256,
    groups: BTreeMap<ResultHash, U256>,
}

impl Consensus {
    /// A task with the deal's trust (0 and 1 both mean 1).
    pub fn new(trust: u64) -> Self {
        Self {
            trust: U256::from(trust.max(1)),
            total: U256::from(1),
            groups: BTreeMap::new(),
        }
    }

    /// Counts a contribution of a worker with `score` for `hash`; returns whether `hash` has
    /// now reached consensus: `group × trust > total × (trust − 1)`.
    pub fn contribute(&mut self, hash: ResultHash, score: u64) -> bool {
        let weight = U256::from(worker_weight(score));
        let group = self.groups.entry(hash).or_default();
        let delta = (*group).max(U256::from(1)) * weight - *group;
        *group += delta;
        self.total += delta;
        self.reached(hash)
    }

    /// Whether `hash` holds the consensus.
    pub fn reached(&self, hash: ResultHash) -> bool {
        let group = self.group(hash);
        group * self.trust > self.total * (self.trust - U256::from(1))
    }

    /// The product of the weights of `hash`'s voters (0 if nobody voted for it).
    pub fn group(&self, hash: ResultHash) -> U256 {
        self.groups.get(&hash).copied().unwrap_or_default()
    }

    /// `1 + Σ groups`.
    pub fn total(&self) -> U256 {
        self.total
    }

    /// Drops the votes for `hash` (reopen after nobody revealed).
    pub fn reject(&mut self, hash: ResultHash) {
        if let Some(group) = self.groups.remove(&hash) {
            self.total -= group;
        }
    }
}

/// An amount as a 256-bit integer, for arithmetic.
fn wide(amount: Nrlc) -> U256 {
    amount.into()
}

/// How many agreeing contributions of workers with `score` a task with `trust` needs.
pub fn contributions_needed(trust: u64, score: u64) -> u32 {
    let mut consensus = Consensus::new(trust);
    let mut n = 1;
    while !consensus.contribute(ResultHash::default(), score) {
        n += 1;
    }
    n
}

/// The scheduler's share of the kitty on a successful task: 10 %, at least 1 RLC, at most the
/// kitty.
pub fn kitty_share(kitty: Nrlc) -> Nrlc {
    let kitty = wide(kitty);
    let share = (kitty * U256::from(constants::KITTY_RATIO) / U256::from(100))
        .max(U256::from(constants::KITTY_MIN))
        .min(kitty);
    Nrlc::from(share)
}

/// One contributor of a finalized task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contributor {
    /// The worker.
    pub worker: Address,
    /// Its score when it contributed (its contribution weight comes from it).
    pub score: u64,
    /// Whether it revealed the consensus value.
    pub proved: bool,
}

/// What one worker gets when a task is finalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerPayout {
    /// The worker.
    pub worker: Address,
    /// Reward, on top of the stake returned to a worker that proved.
    pub reward: Nrlc,
    /// Whether its stake is returned (proved) or seized.
    pub stake_returned: bool,
    /// Its score afterwards.
    pub score: u64,
}

/// The split of a successful task's price (spec §5.3), excluding the kitty share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    /// Paid to the app owner.
    pub app_owner: Nrlc,
    /// Paid to the dataset owner.
    pub dataset_owner: Nrlc,
    /// Paid to each contributor, in order.
    pub workers: Vec<WorkerPayout>,
    /// Paid to the scheduler (the workerpool owner): its ratio and the rounding dust. Its
    /// stake is returned besides.
    pub scheduler: Nrlc,
}

/// Splits a finalized task's price among the app and dataset owners, the workers and the
/// scheduler. `worker_stake` is the deal's stake per contribution; the stakes of workers that
/// did not prove are seized and shared too.
pub fn distribute(
    app_price: Nrlc,
    dataset_price: Nrlc,
    workerpool_price: Nrlc,
    worker_stake: Nrlc,
    scheduler_reward_ratio: u64,
    contributors: &[Contributor],
) -> Payout {
    let stake = wide(worker_stake);
    let seized = contributors.iter().filter(|c| !c.proved).count();
    let total_reward = wide(workerpool_price) + stake * U256::from(seized);
    let workers_reward =
        total_reward * U256::from(100 - scheduler_reward_ratio.min(100)) / U256::from(100);
    let total_log_weight: u64 = contributors
        .iter()
        .filter(|c| c.proved)
        .map(|c| contribution_weight(c.score))
        .sum();
    let replicated = contributors.len() > 1;
    let mut paid = U256::ZERO;
    let workers = contributors
        .iter()
        .map(|c| {
            if c.proved {
                let reward = if total_log_weight == 0 {
                    U256::ZERO
                } else {
                    workers_reward * U256::from(contribution_weight(c.score))
                        / U256::from(total_log_weight)
                };
                paid += reward;
                let score = if replicated {
                    score_after_success(c.score)
                } else {
                    c.score
                };
                WorkerPayout {
                    worker: c.worker,
                    reward: reward.into(),
                    stake_returned: true,
                    score,
                }
            } else {
                WorkerPayout {
                    worker: c.worker,
                    reward: Nrlc::ZERO,
                    stake_returned: false,
                    score: score_after_failure(c.score),
                }
            }
        })
        .collect();
    Payout {
        app_owner: app_price,
        dataset_owner: dataset_price,
        workers,
        scheduler: (total_reward - paid).into(),
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{B256, address};

    use super::*;

    fn hash(byte: u8) -> ResultHash {
        ResultHash::from(B256::repeat_byte(byte))
    }

    #[test]
    fn weights_follow_the_score_policy() {
        let cases = [
            (0, 2, 1),
            (11, 2, 1),
            (12, 3, 1),
            (15, 4, 2),
            (30, 9, 3),
            (100, 32, 5),
            (300, 99, 6),
        ];
        for (score, weight, log) in cases {
            assert_eq!(worker_weight(score), weight, "weight of score {score}");
            assert_eq!(
                contribution_weight(score),
                log,
                "log weight of score {score}"
            );
        }
        assert_eq!(score_after_failure(100), 66);
        assert_eq!(score_after_success(100), 101);
    }

    #[test]
    fn fresh_workers_need_the_documented_number_of_contributions() {
        let table = [
            (0, 1),
            (1, 1),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 3),
            (8, 3),
            (9, 4),
            (100, 7),
            (10_000, 14),
            (1_000_000, 20),
        ];
        for (trust, needed) in table {
            assert_eq!(contributions_needed(trust, 0), needed, "trust {trust}");
        }
        assert_eq!(
            contributions_needed(100, 30),
            3,
            "score 30 (weight 9) needs 3 at trust 100"
        );
    }

    #[test]
    fn worked_consensus_example_of_the_spec() {
        // Trust 100: A (score 12) votes 17, B (100) and C (300) vote 42.
        let mut consensus = Consensus::new(100);
        assert!(!consensus.contribute(hash(17), 12));
        assert!(!consensus.contribute(hash(42), 100));
        assert!(consensus.contribute(hash(42), 300));
        assert_eq!(consensus.group(hash(42)), U256::from(3168));
        assert_eq!(consensus.total(), U256::from(3172));
        // Reopen drops the winners' votes.
        consensus.reject(hash(42));
        assert_eq!(consensus.total(), U256::from(4));
        assert!(!consensus.reached(hash(42)));
    }

    #[test]
    fn worked_reward_example_of_the_spec() {
        // Workerpool 20 RLC, dataset 1 RLC, app free; stake ratio 35 % (7 RLC), scheduler
        // ratio 5 %; A wrong, B score 100 (log weight 5), C score 300 (log weight 6).
        let rlc = Nrlc::from_rlc;
        let (a, b, c) = (
            address!("0x000000000000000000000000000000000000000a"),
            address!("0x000000000000000000000000000000000000000b"),
            address!("0x000000000000000000000000000000000000000c"),
        );
        let payout = distribute(
            Nrlc::ZERO,
            rlc(1),
            rlc(20),
            rlc(7),
            5,
            &[
                Contributor {
                    worker: a,
                    score: 12,
                    proved: false,
                },
                Contributor {
                    worker: b,
                    score: 100,
                    proved: true,
                },
                Contributor {
                    worker: c,
                    score: 300,
                    proved: true,
                },
            ],
        );
        assert_eq!(payout.dataset_owner, rlc(1));
        assert_eq!(
            payout.workers[0],
            WorkerPayout {
                worker: a,
                reward: Nrlc::ZERO,
                stake_returned: false,
                score: 8
            }
        );
        assert_eq!(payout.workers[1].reward, Nrlc::from(11_659_090_909u64));
        assert_eq!(payout.workers[2].reward, Nrlc::from(13_990_909_090u64));
        assert_eq!(payout.workers[1].score, 101);
        assert_eq!(payout.scheduler, Nrlc::from(1_350_000_001u64));
        // Nothing is created or lost: price plus seized stake equals what is paid out.
        let paid: U256 =
            payout.workers.iter().map(|w| wide(w.reward)).sum::<U256>() + wide(payout.scheduler);
        assert_eq!(paid, wide(rlc(27)));
    }

    #[test]
    fn a_single_worker_gains_no_score() {
        let w = address!("0x0000000000000000000000000000000000000001");
        let payout = distribute(
            Nrlc::ZERO,
            Nrlc::ZERO,
            Nrlc::from(100u64),
            Nrlc::from(30u64),
            1,
            &[Contributor {
                worker: w,
                score: 5,
                proved: true,
            }],
        );
        assert_eq!(payout.workers[0].reward, Nrlc::from(99u64));
        assert_eq!(payout.workers[0].score, 5);
        assert_eq!(payout.scheduler, Nrlc::from(1u64));
    }

    #[test]
    fn kitty_share_is_ten_percent_between_one_rlc_and_the_kitty() {
        assert_eq!(
            kitty_share(Nrlc::from_rlc(42)),
            Nrlc::from(4_200_000_000u64)
        );
        assert_eq!(kitty_share(Nrlc::from_rlc(5)), Nrlc::from_rlc(1));
        assert_eq!(
            kitty_share(Nrlc::from(700_000_000u64)),
            Nrlc::from(700_000_000u64)
        );
        assert_eq!(kitty_share(Nrlc::ZERO), Nrlc::ZERO);
    }
}
