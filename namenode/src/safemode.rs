//! BlockManagerSafeMode: after start the namespace is read-only until
//! enough blocks have reported replicas (or until an operator says so).

use std::time::{Duration, Instant};

use tracing::info;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for block reports (start-up).
    Startup,
    /// Threshold reached; leaves at the end of the extension.
    Extension {
        until: Instant,
    },
    /// Entered by an operator; only an operator leaves it.
    Manual,
    Off,
}

#[derive(Debug)]
pub struct SafeMode {
    state: State,
    threshold: f64,
    extension: Duration,
    started: Instant,
    /// (safe, total) blocks at the last check, for the "leaving" log line.
    last_counts: (u64, u64),
}

impl SafeMode {
    pub fn new(threshold: f64, extension: Duration, now: Instant) -> Self {
        Self {
            state: State::Startup,
            threshold,
            extension,
            started: now,
            last_counts: (0, 0),
        }
    }

    pub fn is_on(&self) -> bool {
        self.state != State::Off
    }

    /// Blocks needed for the threshold (HDFS: ceil(total × threshold)).
    fn needed(&self, total: u64) -> u64 {
        let exact = total as f64 * self.threshold;
        // A hair below, so 1000 × 0.999 = 999.0000000001 still needs 999.
        (exact - 1e-9).ceil().max(0.0) as u64
    }

    /// Moves through start-up → extension → off as reports arrive.
    pub fn check(&mut self, safe: u64, total: u64, now: Instant) {
        self.last_counts = (safe, total);
        let reached = safe >= self.needed(total);
        match self.state {
            State::Startup if reached => {
                if self.extension.is_zero() {
                    self.leave(now);
                } else {
                    self.state = State::Extension {
                        until: now + self.extension,
                    };
                }
            }
            State::Extension { until } => {
                if !reached {
                    self.state = State::Startup;
                } else if now >= until {
                    self.leave(now);
                }
            }
            _ => {}
        }
    }

    fn leave(&mut self, now: Instant) {
        let secs = now.saturating_duration_since(self.started).as_secs();
        let (safe, total) = self.last_counts;
        info!(
            safe_blocks = safe,
            total_blocks = total,
            threshold = self.threshold,
            "Leaving safe mode after {secs} secs: {safe} of {total} blocks reported"
        );
        self.state = State::Off;
    }

    pub fn enter_manually(&mut self) {
        if self.state != State::Manual {
            info!("Safe mode is ON: entered manually");
        }
        self.state = State::Manual;
    }

    pub fn leave_manually(&mut self, now: Instant) {
        if self.state != State::Off {
            self.leave(now);
        }
    }

    /// HDFS's safe mode tip.
    pub fn status(&self, safe: u64, total: u64, now: Instant) -> String {
        let needed = self.needed(total);
        match self.state {
            State::Off => "Safe mode is OFF.".to_string(),
            State::Manual => "Safe mode is ON. It was turned on manually. Use \"cairn dfsadmin -safemode leave\" to turn safe mode off.".to_string(),
            State::Startup => format!(
                "Safe mode is ON. The reported blocks {safe} needs additional {} blocks to reach the threshold {:.4} of total blocks {total}.",
                needed.saturating_sub(safe),
                self.threshold
            ),
            State::Extension { until } => format!(
                "Safe mode is ON. The reported blocks {safe} has reached the threshold {:.4} of total blocks {total}. Safe mode will be turned off automatically in {} seconds.",
                self.threshold,
                until.saturating_duration_since(now).as_secs()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_and_leaving() {
        let t0 = Instant::now();
        let mut sm = SafeMode::new(0.999, Duration::ZERO, t0);
        sm.check(3, 5, t0);
        assert!(sm.is_on());
        assert_eq!(
            sm.status(3, 5, t0),
            "Safe mode is ON. The reported blocks 3 needs additional 2 blocks to reach the threshold 0.9990 of total blocks 5."
        );
        sm.check(5, 5, t0);
        assert!(!sm.is_on());
        assert_eq!(sm.status(5, 5, t0), "Safe mode is OFF.");
        sm.enter_manually();
        sm.check(5, 5, t0);
        assert!(sm.is_on(), "manual safe mode stays on");
        sm.leave_manually(t0);
        assert!(!sm.is_on());
    }

    #[test]
    fn empty_namespace_leaves_at_once_and_extension_waits() {
        let t0 = Instant::now();
        let mut sm = SafeMode::new(0.999, Duration::ZERO, t0);
        sm.check(0, 0, t0);
        assert!(!sm.is_on());
        let mut sm = SafeMode::new(1.0, Duration::from_secs(10), t0);
        sm.check(1000, 1000, t0);
        assert!(sm.is_on());
        assert!(
            sm.status(1000, 1000, t0)
                .contains("has reached the threshold 1.0000")
        );
        sm.check(1000, 1000, t0 + Duration::from_secs(11));
        assert!(!sm.is_on());
    }
}
