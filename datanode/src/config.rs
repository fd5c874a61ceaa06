//! The `[datanode]` section of Cairn's TOML configuration.

use std::path::PathBuf;
use std::time::Duration;

use cairn_proto::config_value::{duration, size};
use serde::{Deserialize, Serialize};

use crate::error::{DatanodeError, Result};

/// Longest batching of incremental block reports we accept: the namenode's
/// `complete()` waits for them, so a writer's close waits this long at worst.
pub const MAX_INCREMENTAL_REPORT_DELAY: Duration = Duration::from_millis(100);

/// How one datanode runs. Every default works on one machine.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct DatanodeConfig {
    /// Directories holding the replicas, one volume each (HDFS's
    /// `dfs.datanode.data.dir`). Each gets a `VERSION` file and `current/`.
    pub data_dirs: Vec<PathBuf>,
    /// The namenode's DatanodeProtocol address: "host:port",
    /// "cairn://host:port" or "http://host:port".
    pub namenode: String,
    /// Host name or address that clients and other datanodes use to reach
    /// this datanode; advertised at registration.
    pub host: String,
    /// Time between two heartbeats (HDFS's `dfs.heartbeat.interval`), e.g. "3s".
    #[serde(with = "duration")]
    pub heartbeat_interval: Duration,
    /// Time between two full block reports (HDFS's
    /// `dfs.blockreport.intervalMsec`), e.g. "6h".
    #[serde(with = "duration")]
    pub block_report_interval: Duration,
    /// Bytes per volume kept free for other uses (HDFS's
    /// `dfs.datanode.du.reserved`), subtracted from the capacity: bytes or
    /// e.g. "10GiB".
    #[serde(deserialize_with = "size::deserialize")]
    pub reserved_bytes: u64,
    /// How long received/deleted replicas are batched before being reported;
    /// at most 100ms, since a writer's close waits for the report.
    #[serde(with = "duration")]
    pub incremental_report_delay: Duration,
    /// The block scanner verifies every replica against its checksums at
    /// least once per period (HDFS's `dfs.datanode.scan.period.hours`,
    /// three weeks); "0" turns the scanner off.
    #[serde(with = "duration")]
    pub scan_period: Duration,
    /// Bytes per second the block scanner reads on each volume (HDFS's
    /// `dfs.block.scanner.volume.bytes.per.second`, 1 MiB): bytes or e.g.
    /// "4MiB".
    #[serde(deserialize_with = "size::deserialize")]
    pub scanner_bandwidth: u64,
    /// Drops a block's pages from the page cache a few MiB behind the
    /// writes, once they reached the disk, and starts their writeback early
    /// (HDFS's `dfs.datanode.drop.cache.behind.writes` and
    /// `sync.behind.writes` in one). On by default: writing into pages just
    /// freed costs much less CPU than filling the cache with fresh ones,
    /// and the finalize's fsync finds little left to write. Turn it off
    /// when readers come right after the writers and the cache holds the
    /// blocks they want.
    pub drop_cache_behind_writes: bool,
}

impl Default for DatanodeConfig {
    fn default() -> Self {
        Self {
            data_dirs: vec![PathBuf::from("./cairn-data/data")],
            namenode: "127.0.0.1:8020".to_string(),
            host: "127.0.0.1".to_string(),
            heartbeat_interval: Duration::from_secs(3),
            block_report_interval: Duration::from_secs(6 * 60 * 60),
            reserved_bytes: 0,
            incremental_report_delay: Duration::from_millis(20),
            scan_period: Duration::from_secs(21 * 24 * 60 * 60),
            scanner_bandwidth: 1024 * 1024,
            drop_cache_behind_writes: true,
        }
    }
}

impl DatanodeConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if self.data_dirs.is_empty() {
            return Err(DatanodeError::Config(
                "data-dirs must name at least one directory".into(),
            ));
        }
        if let Some(dir) = self.data_dirs.iter().find(|d| d.as_os_str().is_empty()) {
            return Err(DatanodeError::Config(format!(
                "data-dirs holds an empty path ({})",
                dir.display()
            )));
        }
        for (i, a) in self.data_dirs.iter().enumerate() {
            if self.data_dirs[..i].contains(a) {
                return Err(DatanodeError::Config(format!(
                    "data-dirs names {} twice",
                    a.display()
                )));
            }
        }
        self.namenode_uri()?;
        if self.host.trim().is_empty() || self.host.contains(['/', ' ']) {
            return Err(DatanodeError::Config(format!(
                "host must be a host name or address, not {:?}",
                self.host
            )));
        }
        if self.heartbeat_interval.is_zero() {
            return Err(DatanodeError::Config(
                "heartbeat-interval must be positive".into(),
            ));
        }
        if self.block_report_interval.is_zero() {
            return Err(DatanodeError::Config(
                "block-report-interval must be positive".into(),
            ));
        }
        if self.incremental_report_delay > MAX_INCREMENTAL_REPORT_DELAY {
            return Err(DatanodeError::Config(format!(
                "incremental-report-delay must be at most {}ms (the namenode's complete() waits for it), not {}ms",
                MAX_INCREMENTAL_REPORT_DELAY.as_millis(),
                self.incremental_report_delay.as_millis()
            )));
        }
        if self.scanner_bandwidth == 0 {
            return Err(DatanodeError::Config(
                "scanner-bandwidth must be positive (set scan-period = \"0\" to turn the scanner off)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// How the dataset keeps its volumes.
    pub fn dataset_settings(&self) -> crate::dataset::DatasetSettings {
        crate::dataset::DatasetSettings {
            reserved_bytes: self.reserved_bytes,
            drop_cache_behind_writes: self.drop_cache_behind_writes,
        }
    }

    /// The block scanner's pace.
    pub fn scanner_settings(&self) -> crate::scanner::ScannerSettings {
        crate::scanner::ScannerSettings {
            scan_period: self.scan_period,
            bandwidth: self.scanner_bandwidth,
        }
    }

    /// The namenode's address as an `http://host:port` URI for tonic.
    pub fn namenode_uri(&self) -> Result<String> {
        let rest = self
            .namenode
            .strip_prefix("cairn://")
            .or_else(|| self.namenode.strip_prefix("http://"))
            .unwrap_or(&self.namenode)
            .trim_end_matches('/');
        let valid = rest
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
            && !rest.contains('/');
        if !valid {
            return Err(DatanodeError::Config(format!(
                "namenode must be \"host:port\", \"cairn://host:port\" or \"http://host:port\", not {:?}",
                self.namenode
            )));
        }
        Ok(format!("http://{rest}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = DatanodeConfig::default();
        config.validate().unwrap();
        assert_eq!(config.namenode_uri().unwrap(), "http://127.0.0.1:8020");
    }

    #[test]
    fn parses_kebab_case_toml_with_durations() {
        let config: DatanodeConfig = toml::from_str(
            r#"
            data-dirs = ["/d1", "/d2"]
            namenode = "cairn://nn.example:9000"
            heartbeat-interval = "500ms"
            block-report-interval = "1h"
            reserved-bytes = 1024
            incremental-report-delay = "50ms"
            scan-period = "2s"
            scanner-bandwidth = "8MiB"
            drop-cache-behind-writes = false
            "#,
        )
        .unwrap();
        config.validate().unwrap();
        assert_eq!(config.data_dirs.len(), 2);
        assert_eq!(config.namenode_uri().unwrap(), "http://nn.example:9000");
        assert_eq!(config.heartbeat_interval, Duration::from_millis(500));
        assert_eq!(config.block_report_interval, Duration::from_secs(3600));
        assert_eq!(config.host, "127.0.0.1");
        assert_eq!(config.scan_period, Duration::from_secs(2));
        assert_eq!(config.scanner_bandwidth, 8 * 1024 * 1024);
        assert!(!config.drop_cache_behind_writes);
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values() {
        assert!(toml::from_str::<DatanodeConfig>("data-dir = [\"/x\"]").is_err());
        assert!(toml::from_str::<DatanodeConfig>("heartbeat-interval = \"3 parsecs\"").is_err());
        let config = DatanodeConfig {
            incremental_report_delay: Duration::from_millis(101),
            ..Default::default()
        };
        assert!(config.validate().is_err());
        let config = DatanodeConfig {
            scanner_bandwidth: 0,
            ..Default::default()
        };
        assert!(config.validate().is_err());
        for bad in ["nn", "http://nn", "nn:port", "ftp://nn:1", ":8020"] {
            let config = DatanodeConfig {
                namenode: bad.into(),
                ..Default::default()
            };
            assert!(config.validate().is_err(), "{bad} accepted");
        }
        let config = DatanodeConfig {
            namenode: "http://10.0.0.1:8020".into(),
            ..Default::default()
        };
        assert_eq!(config.namenode_uri().unwrap(), "http://10.0.0.1:8020");
    }
}
