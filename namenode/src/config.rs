//! The `[namenode]` section of Cairn's TOML configuration.
//!
//! Durations are written either as a number of milliseconds (`3000`) or as a
//! string of number+unit parts (`"3s"`, `"500ms"`, `"10m 30s"`, `"1h"`; units
//! ms, s, m, h, d). Sizes are a number of bytes or a string with a binary
//! unit (`"128MiB"`, `"64k"`). Every default is HDFS's.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use cairn_proto::config_value::{duration, size};
use serde::{Deserialize, Serialize};

use crate::editlog::writer::CommitDelay;
use crate::error::NamenodeError;

/// Namenode settings, validated by [`NamenodeConfig::validate`] at start.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct NamenodeConfig {
    /// Where the namespace lives: `current/` holds VERSION, the checkpoints
    /// (fsimage_*) and the edit log segments (edits_*). Put it on a disk that
    /// honours fsync.
    pub name_dir: PathBuf,
    /// Replicas of a new file when the writer does not ask for a number.
    pub default_replication: u32,
    /// Replicas a block needs before a file can be closed, and that count a
    /// block as safe when leaving safe mode.
    pub min_replication: u32,
    /// Largest replication a file may ask for.
    pub max_replication: u32,
    /// Block size of a new file when the writer does not ask for one (bytes;
    /// a multiple of 512).
    #[serde(deserialize_with = "size::deserialize")]
    pub default_block_size: u64,
    /// How often datanodes heartbeat; what they are told and expected to do.
    #[serde(with = "duration")]
    pub heartbeat_interval: Duration,
    /// Silence after which a datanode is stale: still used, but last choice
    /// for new replicas and sorted last for readers.
    #[serde(with = "duration")]
    pub stale_interval: Duration,
    /// Silence after which a datanode is dead: its replicas no longer count
    /// and its blocks are re-replicated elsewhere.
    #[serde(with = "duration")]
    pub dead_interval: Duration,
    /// Share of complete blocks that must have `min-replication` reported
    /// replicas before safe mode ends by itself (0.999 = 99.9 %).
    pub safemode_threshold: f64,
    /// How long safe mode lasts once the threshold is reached.
    #[serde(with = "duration")]
    pub safemode_extension: Duration,
    /// Period of the replication monitor (re-replication, excess deletion).
    #[serde(with = "duration")]
    pub replication_interval: Duration,
    /// A transfer handed to a datanode that has not produced a replica after
    /// this long is forgotten and scheduled again.
    #[serde(with = "duration")]
    pub pending_replication_timeout: Duration,
    /// Transfers handed to one source datanode per monitor round.
    pub max_replication_streams: u32,
    /// Longest time between two checkpoints.
    #[serde(with = "duration")]
    pub checkpoint_period: Duration,
    /// Transactions after which a checkpoint is taken without waiting for
    /// `checkpoint-period`.
    pub checkpoint_txns: u64,
    /// Microseconds the edit log waits before an fsync while it is busy, so
    /// that one fsync makes more transactions durable (PostgreSQL's
    /// `commit_delay`); 0 turns it off.
    pub edit_log_commit_delay_us: u64,
    /// The commit delay applies only while at least this many RPCs wait
    /// for the edit log (PostgreSQL's `commit_siblings`): a lone client is
    /// never delayed.
    pub edit_log_commit_siblings: u32,
    /// Lease age after which another writer may take a file over.
    #[serde(with = "duration")]
    pub lease_soft_limit: Duration,
    /// Lease age after which the namenode closes the file itself.
    #[serde(with = "duration")]
    pub lease_hard_limit: Duration,
    /// Entries per GetListing page.
    pub listing_limit: u32,
    /// The user that bypasses every permission check (default: the user
    /// running the namenode, as HDFS).
    pub superuser: String,
    /// Members of this group are superusers too.
    pub supergroup: String,
    /// User → groups. A user not listed is in a group of its own name.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Host (or host:port) → rack path; unlisted nodes are on
    /// "/default-rack".
    pub racks: BTreeMap<String, String>,
}

/// The rack of datanodes that `racks` does not name.
pub const DEFAULT_RACK: &str = "/default-rack";

impl Default for NamenodeConfig {
    fn default() -> Self {
        Self {
            name_dir: PathBuf::from("./cairn-data/name"),
            default_replication: 3,
            min_replication: 1,
            max_replication: 512,
            default_block_size: 128 * 1024 * 1024,
            heartbeat_interval: Duration::from_secs(3),
            stale_interval: Duration::from_secs(30),
            dead_interval: Duration::from_secs(630),
            safemode_threshold: 0.999,
            safemode_extension: Duration::ZERO,
            replication_interval: Duration::from_secs(3),
            pending_replication_timeout: Duration::from_secs(300),
            max_replication_streams: 2,
            checkpoint_period: Duration::from_secs(3600),
            checkpoint_txns: 1_000_000,
            edit_log_commit_delay_us: 100,
            edit_log_commit_siblings: 8,
            lease_soft_limit: Duration::from_secs(60),
            lease_hard_limit: Duration::from_secs(1200),
            listing_limit: 1000,
            superuser: current_user(),
            supergroup: "supergroup".to_string(),
            groups: BTreeMap::new(),
            racks: BTreeMap::new(),
        }
    }
}

/// The OS user running this process, as HDFS makes it the superuser.
fn current_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "root".to_string())
}

impl NamenodeConfig {
    /// Checks that the settings can work together; the error names the key.
    pub fn validate(&self) -> Result<(), NamenodeError> {
        let bad = |msg: String| Err(NamenodeError::Config(msg));
        if self.name_dir.as_os_str().is_empty() {
            return bad("name-dir must not be empty".into());
        }
        if self.min_replication == 0 {
            return bad("min-replication must be at least 1".into());
        }
        if self.max_replication < self.min_replication || self.max_replication > u16::MAX.into() {
            return bad(format!(
                "max-replication {} must be between min-replication {} and {}",
                self.max_replication,
                self.min_replication,
                u16::MAX
            ));
        }
        if !(self.min_replication..=self.max_replication).contains(&self.default_replication) {
            return bad(format!(
                "default-replication {} is outside [min-replication {}, max-replication {}]",
                self.default_replication, self.min_replication, self.max_replication
            ));
        }
        if self.default_block_size == 0
            || !self
                .default_block_size
                .is_multiple_of(cairn_proto::BYTES_PER_CHECKSUM as u64)
        {
            return bad(format!(
                "default-block-size {} must be a positive multiple of {}",
                self.default_block_size,
                cairn_proto::BYTES_PER_CHECKSUM
            ));
        }
        // Ten years: longer is a typo, and would overflow clock arithmetic.
        const LONGEST: Duration = Duration::from_secs(10 * 365 * 86_400);
        for (key, value) in [
            ("heartbeat-interval", self.heartbeat_interval),
            ("stale-interval", self.stale_interval),
            ("dead-interval", self.dead_interval),
            ("safemode-extension", self.safemode_extension),
            ("replication-interval", self.replication_interval),
            (
                "pending-replication-timeout",
                self.pending_replication_timeout,
            ),
            ("checkpoint-period", self.checkpoint_period),
            ("lease-soft-limit", self.lease_soft_limit),
            ("lease-hard-limit", self.lease_hard_limit),
        ] {
            if value > LONGEST {
                return bad(format!("{key} {value:?} is longer than ten years"));
            }
        }
        for (key, value) in [
            ("heartbeat-interval", self.heartbeat_interval),
            ("replication-interval", self.replication_interval),
            (
                "pending-replication-timeout",
                self.pending_replication_timeout,
            ),
            ("checkpoint-period", self.checkpoint_period),
            ("lease-soft-limit", self.lease_soft_limit),
        ] {
            if value.is_zero() {
                return bad(format!("{key} must be longer than zero"));
            }
        }
        if self.stale_interval < self.heartbeat_interval {
            return bad(format!(
                "stale-interval {:?} is shorter than heartbeat-interval {:?}",
                self.stale_interval, self.heartbeat_interval
            ));
        }
        if self.dead_interval < self.stale_interval {
            return bad(format!(
                "dead-interval {:?} is shorter than stale-interval {:?}",
                self.dead_interval, self.stale_interval
            ));
        }
        if self.lease_hard_limit < self.lease_soft_limit {
            return bad(format!(
                "lease-hard-limit {:?} is shorter than lease-soft-limit {:?}",
                self.lease_hard_limit, self.lease_soft_limit
            ));
        }
        if !(0.0..=1.0).contains(&self.safemode_threshold) {
            return bad(format!(
                "safemode-threshold {} must be between 0 and 1",
                self.safemode_threshold
            ));
        }
        if self.max_replication_streams == 0 {
            return bad("max-replication-streams must be at least 1".into());
        }
        if self.checkpoint_txns == 0 {
            return bad("checkpoint-txns must be at least 1".into());
        }
        if self.edit_log_commit_delay_us > 100_000 {
            return bad(format!(
                "edit-log-commit-delay-us {} must be at most 100000 (0.1 s): every busy fsync waits that long",
                self.edit_log_commit_delay_us
            ));
        }
        if self.edit_log_commit_siblings < 2 {
            return bad(format!(
                "edit-log-commit-siblings {} must be at least 2, or a lone client would wait",
                self.edit_log_commit_siblings
            ));
        }
        if self.listing_limit == 0 {
            return bad("listing-limit must be at least 1".into());
        }
        if self.superuser.is_empty() {
            return bad("superuser must not be empty".into());
        }
        if let Some((host, rack)) = self.racks.iter().find(|(_, r)| !r.starts_with('/')) {
            return bad(format!(
                "racks: the rack of {host} ({rack:?}) must be a path starting with '/'"
            ));
        }
        Ok(())
    }

    /// The edit log's commit delay, as configured.
    pub fn commit_delay(&self) -> CommitDelay {
        CommitDelay {
            delay: Duration::from_micros(self.edit_log_commit_delay_us),
            siblings: usize::try_from(self.edit_log_commit_siblings).unwrap_or(usize::MAX),
        }
    }

    /// The rack of a datanode, by `host:port` first, then by `host`.
    pub fn rack_of(&self, host: &str, port: u32) -> String {
        self.racks
            .get(&format!("{host}:{port}"))
            .or_else(|| self.racks.get(host))
            .cloned()
            .unwrap_or_else(|| DEFAULT_RACK.to_string())
    }

    /// The groups of `user`: the configured ones, or a group of its own name.
    pub fn groups_of(&self, user: &str) -> Vec<String> {
        match self.groups.get(user) {
            Some(groups) => groups.clone(),
            None => vec![user.to_string()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_hdfs_like() {
        let config = NamenodeConfig::default();
        config.validate().unwrap();
        assert_eq!(config.default_block_size, 128 << 20);
        assert_eq!(config.dead_interval, Duration::from_secs(630));
        assert!(!config.superuser.is_empty());
    }

    #[test]
    fn parses_kebab_case_with_durations_and_sizes() {
        let config: NamenodeConfig = toml::from_str(
            r#"
            name-dir = "/tmp/nn"
            heartbeat-interval = "500ms"
            stale-interval = 2000
            dead-interval = "10m 30s"
            default-block-size = "1MiB"
            racks = { "10.0.0.1" = "/r1" }
            groups = { bob = ["staff", "dev"] }
            "#,
        )
        .unwrap();
        assert_eq!(config.heartbeat_interval, Duration::from_millis(500));
        assert_eq!(config.stale_interval, Duration::from_secs(2));
        assert_eq!(config.dead_interval, Duration::from_secs(630));
        assert_eq!(config.default_block_size, 1 << 20);
        assert_eq!(config.rack_of("10.0.0.1", 9866), "/r1");
        assert_eq!(config.rack_of("10.0.0.2", 9866), DEFAULT_RACK);
        assert_eq!(config.groups_of("bob"), vec!["staff", "dev"]);
        assert_eq!(config.groups_of("eve"), vec!["eve"]);
        config.validate().unwrap();
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values() {
        assert!(toml::from_str::<NamenodeConfig>("replication = 3").is_err());
        assert!(toml::from_str::<NamenodeConfig>("heartbeat-interval = \"3 parsecs\"").is_err());
        let config = NamenodeConfig {
            default_block_size: 1000,
            ..NamenodeConfig::default()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("default-block-size"), "{err}");
        let config = NamenodeConfig {
            default_replication: 0,
            ..NamenodeConfig::default()
        };
        assert!(config.validate().is_err());
    }
}
