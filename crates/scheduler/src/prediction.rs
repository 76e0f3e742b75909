//! The consensus prediction (spec §5.2, iExec's `ConsensusHelper`): whether a task needs one
//! more replicate, counting the contributions on chain and the replicates still running as if
//! they will agree with the leading result.

use std::collections::BTreeMap;

use agora_primitives::consensus::worker_weight;
use alloy::primitives::{B256, U256};

/// Whether a task of trust `trust` needs another replicate, given its contributions (result
/// hash and the contributor's score) and the scores of the workers whose replicates are still
/// running.
pub(crate) fn needs_more(trust: u64, contributed: &[(B256, u64)], pending: &[u64]) -> bool {
    if contributed.is_empty() && pending.is_empty() {
        return true;
    }
    let trust = U256::from(trust.max(1));
    let mut groups: BTreeMap<B256, U256> = BTreeMap::new();
    for (hash, score) in contributed {
        let group = groups.entry(*hash).or_insert(U256::from(1));
        *group *= U256::from(worker_weight(*score));
    }
    let sum = groups.values().fold(U256::ZERO, |sum, group| sum + group);
    let leading = groups.values().copied().max();
    let others = leading.map_or(U256::ZERO, |leading| sum - leading);
    let leading = leading.unwrap_or(U256::from(1));
    let pending_weight = pending.iter().fold(U256::from(1), |w, score| {
        w * U256::from(worker_weight(*score))
    });
    let best = leading * pending_weight;
    let all = best + others;
    best * trust <= (U256::from(1) + all) * (trust - U256::from(1))
}

#[cfg(test)]
mod tests {
    use agora_primitives::consensus::contributions_needed;

    use super::*;

    /// How many agreeing fresh replicates the prediction hands out.
    fn handed_out(trust: u64, score: u64) -> u32 {
        let mut pending = Vec::new();
        while needs_more(trust, &[], &pending) {
            pending.push(score);
        }
        pending.len() as u32
    }

    #[test]
    fn hands_out_exactly_what_the_chain_needs_when_workers_agree() {
        for trust in [0, 1, 2, 3, 4, 5, 8, 9, 100, 10_000] {
            for score in [0, 12, 15, 100] {
                assert_eq!(
                    handed_out(trust, score),
                    contributions_needed(trust, score),
                    "trust {trust}, score {score}"
                );
            }
        }
    }

    #[test]
    fn asks_for_more_after_a_disagreement() {
        let good = B256::repeat_byte(1);
        let bad = B256::repeat_byte(2);
        // Trust 3, two fresh workers disagreeing: 2 vs 2 out of 5 is no consensus.
        assert!(needs_more(3, &[(good, 0), (bad, 0)], &[]));
        // Trust 5: an honest worker of score 15 and a saboteur of score 5, then another honest
        // one running: 4 × 4 = 16 against 2 out of 19 is predicted enough.
        assert!(needs_more(5, &[(good, 15), (bad, 5)], &[]));
        assert!(!needs_more(5, &[(good, 15), (bad, 5)], &[15]));
    }

    #[test]
    fn nothing_running_and_nothing_contributed_needs_a_replicate() {
        assert!(needs_more(1, &[], &[]));
        assert!(!needs_more(1, &[(B256::ZERO, 0)], &[]));
    }
}
