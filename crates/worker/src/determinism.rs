//! What an app may not get from the machine it runs on: the time and randomness. Both come
//! from the task, so that every worker running the same task gives the app the same values.
//! (File metadata comes from the task too: see the sandbox's WASI shims.)

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use sha2::{Digest, Sha256};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// Each reading of a clock moves it this far forward, so that a loop waiting for time to pass
/// ends, and the same way on every machine.
pub const CLOCK_STEP: Duration = Duration::from_millis(1);

/// A clock that starts at a time given by the task and advances [`CLOCK_STEP`] per reading,
/// and by the time the app sleeps: a sleep (`poll_oneoff` on a clock) moves the clocks
/// forward instead of waiting, so it ends at once and the same way on every machine.
///
/// Clones are the same clock. The app's wall and monotonic clocks have their own readings and
/// share their sleeps ([`TaskClock::sharing_sleeps`]).
#[derive(Debug, Clone)]
pub struct TaskClock {
    start: Duration,
    readings: Arc<AtomicU64>,
    /// Nanoseconds slept.
    slept: Arc<AtomicU64>,
}

impl TaskClock {
    /// The wall clock: it starts at `start` seconds after the Unix epoch (the deal's start).
    pub fn wall(start: u64) -> Self {
        Self {
            start: Duration::from_secs(start),
            readings: Arc::new(AtomicU64::new(0)),
            slept: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The monotonic clock: it starts at zero.
    pub fn monotonic() -> Self {
        Self::wall(0)
    }

    /// This clock, moved forward by every sleep of `other` (and `other` by its sleeps).
    pub fn sharing_sleeps(self, other: &TaskClock) -> Self {
        Self {
            slept: Arc::clone(&other.slept),
            ..self
        }
    }

    /// What the clock says now, without reading it (a reading moves it forward).
    pub fn peek(&self) -> Duration {
        let n = self.readings.load(Ordering::Relaxed);
        self.at(n)
    }

    /// How far the sleeps have moved the clock.
    pub fn slept(&self) -> Duration {
        Duration::from_nanos(self.slept.load(Ordering::Relaxed))
    }

    /// Moves the clock, and the clocks sharing its sleeps, forward by `nanos` (saturating).
    pub fn sleep(&self, nanos: u64) {
        let _ = self
            .slept
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |slept| {
                Some(slept.saturating_add(nanos))
            });
    }

    fn at(&self, readings: u64) -> Duration {
        let step = u32::try_from(readings).unwrap_or(u32::MAX);
        let slept = Duration::from_nanos(self.slept.load(Ordering::Relaxed));
        self.start
            .saturating_add(CLOCK_STEP.saturating_mul(step))
            .saturating_add(slept)
    }

    fn next(&self) -> Duration {
        let n = self.readings.fetch_add(1, Ordering::Relaxed);
        self.at(n)
    }
}

/// Nanoseconds in `duration`, saturating at `u64::MAX`.
pub(crate) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl HostWallClock for TaskClock {
    fn resolution(&self) -> Duration {
        CLOCK_STEP
    }

    fn now(&self) -> Duration {
        self.next()
    }
}

impl HostMonotonicClock for TaskClock {
    fn resolution(&self) -> u64 {
        nanos(CLOCK_STEP)
    }

    fn now(&self) -> u64 {
        nanos(self.next())
    }
}

/// Randomness from a seed: the blocks `sha256(seed ‖ domain ‖ counter)`, counter from 0.
#[derive(Debug)]
pub struct TaskRandom {
    key: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl TaskRandom {
    /// The stream of `seed` for `domain` (different domains give unrelated streams).
    pub fn new(seed: &[u8; 32], domain: &[u8]) -> Self {
        let key: [u8; 32] = Sha256::new()
            .chain_update(seed)
            .chain_update(domain)
            .finalize()
            .into();
        Self {
            key,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    /// The 128-bit seed WASI's `insecure-seed` returns.
    pub fn seed_u128(seed: &[u8; 32]) -> u128 {
        let mut random = Self::new(seed, b"insecure-seed");
        let mut bytes = [0; 16];
        random.fill(&mut bytes);
        u128::from_le_bytes(bytes)
    }

    /// Fills `out` with the next bytes of the stream.
    pub fn fill(&mut self, out: &mut [u8]) {
        for byte in out {
            if self.used == 32 {
                self.block = Sha256::new()
                    .chain_update(self.key)
                    .chain_update(self.counter.to_le_bytes())
                    .finalize()
                    .into();
                self.counter += 1;
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }
}

impl rand::TryRng for TaskRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0; 4];
        self.fill(&mut bytes);
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0; 8];
        self.fill(&mut bytes);
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, out: &mut [u8]) -> Result<(), Infallible> {
        self.fill(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_starts_at_the_task_time_and_steps_per_reading() {
        let clock = TaskClock::wall(1_700_000_000);
        assert_eq!(
            HostWallClock::now(&clock),
            Duration::from_secs(1_700_000_000)
        );
        assert_eq!(
            HostWallClock::now(&clock),
            Duration::from_secs(1_700_000_000) + CLOCK_STEP
        );
        let monotonic = TaskClock::monotonic();
        assert_eq!(HostMonotonicClock::now(&monotonic), 0);
        assert_eq!(HostMonotonicClock::now(&monotonic), 1_000_000);
    }

    #[test]
    fn a_sleep_moves_both_clocks_and_saturates() {
        let wall = TaskClock::wall(10);
        let monotonic = TaskClock::monotonic().sharing_sleeps(&wall);
        monotonic.sleep(20_000_000_000);
        assert_eq!(wall.peek(), Duration::from_secs(30));
        assert_eq!(HostMonotonicClock::now(&monotonic), 20_000_000_000);
        assert_eq!(monotonic.peek(), Duration::from_secs(20) + CLOCK_STEP);
        wall.sleep(u64::MAX);
        assert_eq!(HostMonotonicClock::now(&monotonic), u64::MAX);
        assert!(wall.peek() > Duration::from_secs(u64::MAX / 1_000_000_000));
    }

    #[test]
    fn the_same_seed_gives_the_same_stream_and_domains_differ() {
        let seed = [7; 32];
        let (mut a, mut b) = ([0; 100], [0; 100]);
        TaskRandom::new(&seed, b"secure").fill(&mut a);
        let mut split = TaskRandom::new(&seed, b"secure");
        split.fill(&mut b[..33]);
        split.fill(&mut b[33..]);
        assert_eq!(a, b, "reading in pieces gives the same bytes");
        let mut other = [0; 100];
        TaskRandom::new(&seed, b"insecure").fill(&mut other);
        assert_ne!(a, other);
        let mut reseeded = [0; 100];
        TaskRandom::new(&[8; 32], b"secure").fill(&mut reseeded);
        assert_ne!(a, reseeded);
    }
}
