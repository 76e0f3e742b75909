//! The login challenges given and not yet used: a bounded book, whose expired entries are
//! dropped from its front in the order they were given (they all live as long), so that no
//! request scans the whole book. When it is full, the oldest challenge gives way: a flood of
//! unauthenticated requests costs memory up to the bound and a constant time per request.

use std::collections::{HashMap, VecDeque};

use alloy::primitives::Address;

/// Why a challenge is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ChallengeRefused {
    #[error("unknown or used challenge: get a new one")]
    Unknown,
    #[error("the challenge expired at {0} (seconds since the epoch): get a new one")]
    Expired(u64),
    #[error("the challenge was given to worker {0}, not to this one")]
    OtherWorker(Address),
}

/// The challenges given: text → (worker, expiry in s), and their texts in the order given.
#[derive(Debug)]
pub(crate) struct Challenges {
    capacity: usize,
    given: HashMap<String, (Address, u64)>,
    order: VecDeque<(u64, String)>,
}

impl Challenges {
    /// A book of at most `capacity` challenges.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            given: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// How many are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.given.len()
    }

    /// Records `text` as given to `worker` until `expires_at` (s), `now` being `now` (s).
    /// Expiries must not decrease from one call to the next (one time to live).
    pub(crate) fn give(&mut self, text: String, worker: Address, now: u64, expires_at: u64) {
        self.drop_expired(now);
        while self.given.len() >= self.capacity {
            match self.order.pop_front() {
                Some((_, oldest)) => {
                    self.given.remove(&oldest);
                }
                None => break,
            }
        }
        self.given.insert(text.clone(), (worker, expires_at));
        self.order.push_back((expires_at, text));
        // Used challenges leave their text in `order`: compact when they dominate.
        if self.order.len() > 2 * self.capacity {
            let given = &self.given;
            self.order.retain(|(_, text)| given.contains_key(text));
        }
    }

    /// Takes `text` for `worker` at `now` (s): a challenge is used once, whatever the outcome.
    pub(crate) fn take(
        &mut self,
        text: &str,
        worker: Address,
        now: u64,
    ) -> Result<(), ChallengeRefused> {
        let (given_to, expires_at) = self.given.remove(text).ok_or(ChallengeRefused::Unknown)?;
        if expires_at <= now {
            return Err(ChallengeRefused::Expired(expires_at));
        }
        if given_to != worker {
            return Err(ChallengeRefused::OtherWorker(given_to));
        }
        Ok(())
    }

    fn drop_expired(&mut self, now: u64) {
        while let Some((expires_at, _)) = self.order.front() {
            if *expires_at > now {
                break;
            }
            if let Some((_, text)) = self.order.pop_front() {
                self.given.remove(&text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Address = Address::repeat_byte(0xa);
    const B: Address = Address::repeat_byte(0xb);

    #[test]
    fn a_challenge_is_taken_once_by_its_worker_before_it_expires() {
        let mut book = Challenges::new(10);
        book.give("one".into(), A, 100, 160);
        assert_eq!(book.take("one", A, 159), Ok(()));
        assert_eq!(book.take("one", A, 159), Err(ChallengeRefused::Unknown));

        book.give("two".into(), A, 100, 160);
        assert_eq!(
            book.take("two", B, 120),
            Err(ChallengeRefused::OtherWorker(A))
        );
        // Refused once, used: the rightful worker cannot take it after another tried.
        assert_eq!(book.take("two", A, 120), Err(ChallengeRefused::Unknown));

        book.give("three".into(), A, 100, 160);
        assert_eq!(
            book.take("three", A, 160),
            Err(ChallengeRefused::Expired(160))
        );
        assert_eq!(
            book.take("never given", A, 100),
            Err(ChallengeRefused::Unknown)
        );
    }

    #[test]
    fn the_book_stays_bounded_and_drops_what_expired_first() {
        let mut book = Challenges::new(1_000);
        for i in 0..100_000u64 {
            book.give(format!("c{i}"), A, i / 100, i / 100 + 60);
            assert!(book.len() <= 1_000);
            assert!(book.order.len() <= 2_000);
        }
        // The newest are kept, the oldest gave way.
        assert_eq!(book.take("c99999", A, 999), Ok(()));
        assert_eq!(book.take("c0", A, 999), Err(ChallengeRefused::Unknown));
        // Expired ones go as soon as another is given.
        let mut book = Challenges::new(1_000);
        book.give("old".into(), A, 0, 60);
        book.give("new".into(), A, 61, 121);
        assert_eq!(book.len(), 1);
        assert_eq!(book.take("new", A, 62), Ok(()));
    }

    #[test]
    fn used_challenges_do_not_grow_the_order_without_bound() {
        let mut book = Challenges::new(10);
        for i in 0..10_000u64 {
            let text = format!("c{i}");
            book.give(text.clone(), A, 0, 600);
            assert_eq!(book.take(&text, A, 1), Ok(()));
            assert!(book.order.len() <= 20, "{}", book.order.len());
        }
        assert_eq!(book.len(), 0);
    }
}
