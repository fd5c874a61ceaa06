//! The report `cairn chaos` prints at the end: what was inflicted, what the
//! workload did, how the cluster healed, and what (if anything) was lost.

use std::fmt;
use std::time::Duration;

use crate::human;

/// Everything the report says.
#[derive(Debug, Default, Clone)]
pub struct ChaosReport {
    pub seed: u64,
    pub datanodes: usize,
    pub replication: u32,
    pub max_down: usize,
    pub duration: Duration,
    pub kills: u64,
    pub restarts: u64,
    pub pauses: u64,
    pub corruptions: u64,
    pub namenode_kills: u64,
    pub files_written: u64,
    pub bytes_written: u64,
    pub writes_failed: u64,
    pub reads: u64,
    pub reads_failed: u64,
    pub reads_mismatched: u64,
    pub replicas_recreated: u64,
    pub corrupt_replaced: u64,
    pub longest_degraded: Duration,
    pub heal: Healing,
    pub files_verified: u64,
    pub bytes_verified: u64,
    pub files_lost: Vec<String>,
    pub files_mismatched: Vec<String>,
    /// Files of failed writes the run could not delete: their leases stay
    /// held, which a run must not leave behind.
    pub writes_left_open: Vec<String>,
    /// When the faults began, for progress lines.
    pub started: Option<std::time::Instant>,
}

/// How long healing took after the last fault was undone, or why it did
/// not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healing {
    Healed(Duration),
    NotHealed(String),
}

impl Default for Healing {
    /// A run that never got to wait for healing has not healed.
    fn default() -> Self {
        Healing::NotHealed("the run did not get to wait for healing".to_string())
    }
}

impl ChaosReport {
    /// Nothing acknowledged was lost or read back wrong, and the cluster
    /// healed.
    pub fn passed(&self) -> bool {
        self.files_lost.is_empty()
            && self.files_mismatched.is_empty()
            && self.reads_mismatched == 0
            && self.writes_left_open.is_empty()
            && matches!(self.heal, Healing::Healed(_))
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

impl fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = |n: u64| format!("{} ({n} bytes)", human::byte_desc(n));
        writeln!(
            f,
            "Chaos run: seed {}, {} datanodes, replication {}, at most {} down, {}",
            self.seed,
            self.datanodes,
            self.replication,
            self.max_down,
            secs(self.duration)
        )?;
        let rows: Vec<(&str, String)> = vec![
            ("Kills", self.kills.to_string()),
            ("Restarts", self.restarts.to_string()),
            ("Pauses (SIGSTOP/SIGCONT)", self.pauses.to_string()),
            ("Corruptions injected", self.corruptions.to_string()),
            ("Namenode kills", self.namenode_kills.to_string()),
            (
                "Files written (acknowledged)",
                self.files_written.to_string(),
            ),
            ("Bytes written (acknowledged)", size(self.bytes_written)),
            (
                "Writes failed (not acknowledged)",
                self.writes_failed.to_string(),
            ),
            (
                "Failed writes left open",
                self.writes_left_open.len().to_string(),
            ),
            ("Reads during the run", self.reads.to_string()),
            (
                "Reads failed (retried later)",
                self.reads_failed.to_string(),
            ),
            ("Reads mismatched", self.reads_mismatched.to_string()),
            (
                "Repairs made",
                format!(
                    "{} replicas re-created, {} corrupt replicas replaced",
                    self.replicas_recreated, self.corrupt_replaced
                ),
            ),
            (
                "Longest time to full replication",
                secs(self.longest_degraded),
            ),
            (
                "Time to heal after the run",
                match &self.heal {
                    Healing::Healed(d) => secs(*d),
                    Healing::NotHealed(reason) => format!("NOT HEALED ({reason})"),
                },
            ),
            ("Files verified", self.files_verified.to_string()),
            ("Bytes verified", size(self.bytes_verified)),
            ("Files lost", self.files_lost.len().to_string()),
            ("Files mismatched", self.files_mismatched.len().to_string()),
        ];
        for (label, value) in rows {
            writeln!(f, "{:<34}{value}", format!("{label}:"))?;
        }
        for path in &self.files_lost {
            writeln!(f, "LOST: {path}")?;
        }
        for path in &self.files_mismatched {
            writeln!(f, "MISMATCHED: {path}")?;
        }
        for path in &self.writes_left_open {
            writeln!(f, "LEFT OPEN: {path}")?;
        }
        if self.passed() {
            writeln!(
                f,
                "Result: PASSED: every acknowledged byte read back identical"
            )
        } else {
            writeln!(f, "Result: FAILED")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_and_verdict() {
        let mut report = ChaosReport {
            seed: 7,
            datanodes: 5,
            replication: 3,
            max_down: 2,
            duration: Duration::from_secs(60),
            kills: 24,
            bytes_verified: 2048,
            heal: Healing::Healed(Duration::from_millis(8100)),
            ..Default::default()
        };
        let text = report.to_string();
        assert!(text.starts_with(
            "Chaos run: seed 7, 5 datanodes, replication 3, at most 2 down, 60.0 s\n"
        ));
        assert!(text.contains("\nKills:                            24\n"));
        assert!(text.contains("\nBytes verified:                   2 KB (2048 bytes)\n"));
        assert!(text.contains("\nTime to heal after the run:       8.1 s\n"));
        assert!(text.contains("\nFiles lost:                       0\n"));
        assert!(text.ends_with("Result: PASSED: every acknowledged byte read back identical\n"));
        assert!(text.contains("\nFailed writes left open:          0\n"));
        report.writes_left_open.push("/chaos/w1/f3".into());
        let text = report.to_string();
        assert!(text.contains("LEFT OPEN: /chaos/w1/f3\n"));
        assert!(text.ends_with("Result: FAILED\n"));
        report.writes_left_open.clear();
        report.files_lost.push("/chaos/w0/f1".into());
        let text = report.to_string();
        assert!(text.contains("LOST: /chaos/w0/f1\n"));
        assert!(text.ends_with("Result: FAILED\n"));
    }
}
