//! Keeping the scheduler informed: how the worker says it cannot reach its scheduler without
//! flooding its log. The first failure is a warning; while the scheduler stays unreachable
//! the worker waits longer between attempts (up to [`MAX_RETRY`]) and warns again only each
//! time the count of failures doubles; once it is reached again it says so.

use std::time::Duration;

/// The first wait after a failed request.
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// The longest wait between two attempts.
const MAX_RETRY: Duration = Duration::from_secs(10);

/// The failures to reach the scheduler since it last answered.
#[derive(Debug, Default)]
pub(crate) struct Unreachable {
    failures: u32,
}

impl Unreachable {
    /// Records a failure; returns how long to wait before the next attempt.
    pub(crate) fn failed(&mut self, scheduler: &str, error: &str) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let delay = self.delay();
        if self.failures.is_power_of_two() {
            tracing::warn!(
                target: "agora::worker",
                %scheduler,
                error,
                failures = self.failures,
                "cannot reach the scheduler; retrying every {} ms",
                delay.as_millis()
            );
        } else {
            tracing::debug!(target: "agora::worker", %scheduler, error, "cannot reach the scheduler");
        }
        delay
    }

    /// Records an answer.
    pub(crate) fn reached(&mut self, scheduler: &str) {
        if self.failures > 0 {
            tracing::info!(target: "agora::worker", %scheduler, failures = self.failures, "the scheduler answers again");
        }
        self.failures = 0;
    }

    /// The wait after the current failures: doubling from [`FIRST_RETRY`] up to [`MAX_RETRY`].
    fn delay(&self) -> Duration {
        let doublings = self.failures.saturating_sub(1).min(16);
        (FIRST_RETRY * 2u32.pow(doublings)).min(MAX_RETRY)
    }

    /// Whether the current failure is one that is logged as a warning.
    #[cfg(test)]
    fn warns(&self) -> bool {
        self.failures.is_power_of_two()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_at_doubling_counts_and_waits_longer_up_to_the_cap() {
        let mut unreachable = Unreachable::default();
        let mut warned = Vec::new();
        let mut waited = Duration::ZERO;
        for n in 1..=40u32 {
            waited += unreachable.failed("http://127.0.0.1:1", "refused");
            if unreachable.warns() {
                warned.push(n);
            }
        }
        assert_eq!(warned, [1, 2, 4, 8, 16, 32]);
        assert_eq!(unreachable.delay(), MAX_RETRY);
        // 40 failures span minutes, not the 20 s of a fixed 500 ms.
        assert!(waited > Duration::from_secs(300), "{waited:?}");
        unreachable.reached("http://127.0.0.1:1");
        assert_eq!(unreachable.failed("x", "refused"), FIRST_RETRY);
    }
}
