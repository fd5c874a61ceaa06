//! Backoff for the namenode's "not yet" answers: `addBlock` refused with
//! NOT_REPLICATED_YET while the previous block has too few replicas, and
//! `complete` answering false until the last block is minimally replicated.
//! HDFS retries these with a doubling sleep; so do we, starting at 10 ms and
//! giving up after about a minute of sleeping.

use std::time::Duration;

/// The first sleep.
const FIRST_DELAY: Duration = Duration::from_millis(10);
/// No single sleep is longer than this, so a slow cluster is polled often
/// enough once it catches up.
const MAX_DELAY: Duration = Duration::from_secs(4);
/// The total sleep after which a caller gives up.
const TOTAL_BUDGET: Duration = Duration::from_secs(60);

/// A sequence of doubling delays with a total budget.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
    slept: Duration,
    attempts: u32,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Self {
            next: FIRST_DELAY,
            slept: Duration::ZERO,
            attempts: 0,
        }
    }

    /// The next delay, or `None` once the budget is spent.
    pub(crate) fn next_delay(&mut self) -> Option<Duration> {
        if self.slept >= TOTAL_BUDGET {
            return None;
        }
        let delay = self.next.min(TOTAL_BUDGET - self.slept);
        self.slept += delay;
        self.attempts += 1;
        self.next = (self.next * 2).min(MAX_DELAY);
        Some(delay)
    }

    /// Sleeps for the next delay; false once the budget is spent.
    pub(crate) async fn wait(&mut self) -> bool {
        match self.next_delay() {
            Some(delay) => {
                tokio::time::sleep(delay).await;
                true
            }
            None => false,
        }
    }

    /// Retries made so far (for error messages).
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_stops_after_a_minute() {
        let mut backoff = Backoff::new();
        let delays: Vec<Duration> = std::iter::from_fn(|| backoff.next_delay()).collect();
        assert_eq!(delays[0], Duration::from_millis(10));
        assert_eq!(delays[1], Duration::from_millis(20));
        assert_eq!(delays[2], Duration::from_millis(40));
        assert!(delays.iter().all(|d| *d <= MAX_DELAY));
        assert_eq!(delays.iter().sum::<Duration>(), TOTAL_BUDGET);
        assert_eq!(backoff.attempts() as usize, delays.len());
        assert_eq!(backoff.next_delay(), None);
    }
}
