//! The datanode's Prometheus metrics (`/metrics` on its HTTP port): RPC
//! counts and latencies of DataTransfer, bytes read and written, checksum
//! and pipeline errors, and the replicas and space of the volumes (read
//! from the dataset at each scrape).
//!
//! The block scanner's progress (`cairn_scanner_*`) is read at each scrape
//! from the scanner's own [`VolumeScanStatus`] counts, its one source of
//! truth, so the two can never disagree.

use std::sync::atomic::Ordering;

use cairn_proto::rpc_metrics::RpcMetrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::dataset::FsDataset;
use crate::scanner::VolumeScanStatus;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

/// The block scanner's counters, set from its status at each scrape.
#[derive(Default)]
struct ScannerCounters {
    blocks_scanned: Counter,
    bytes_scanned: Counter,
    corrupt_found: Counter,
}

impl ScannerCounters {
    /// Copies the scanner's totals over all volumes; they only grow, so the
    /// counters stay monotonic.
    fn set(&self, status: &[VolumeScanStatus]) {
        let sum = |f: fn(&VolumeScanStatus) -> u64| status.iter().map(f).sum::<u64>();
        let store = |c: &Counter, v: u64| c.inner().store(v, Ordering::Relaxed);
        store(&self.blocks_scanned, sum(|s| s.blocks_scanned));
        store(&self.bytes_scanned, sum(|s| s.bytes_scanned));
        store(&self.corrupt_found, sum(|s| s.corrupt_found));
    }
}

/// Every metric of one datanode. Counters are cheap clones of shared
/// atomics: the receiver and the sender update them directly.
pub struct DatanodeMetrics {
    registry: Registry,
    pub rpc: RpcMetrics,
    pub bytes_read: Counter,
    pub bytes_written: Counter,
    pub checksum_errors: Counter,
    pub pipeline_errors: Counter,
    scanner: ScannerCounters,
    replicas: Gauge,
    capacity: Family<StateLabel, Gauge>,
    volumes: Family<StateLabel, Gauge>,
}

impl Default for DatanodeMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let rpc = RpcMetrics::default();
        rpc.register(&mut registry);
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let bytes_read = counter(
            &mut registry,
            "cairn_datanode_bytes_read",
            "Block bytes sent to readers",
        );
        let bytes_written = counter(
            &mut registry,
            "cairn_datanode_bytes_written",
            "Block bytes received and written by the write pipeline",
        );
        let checksum_errors = counter(
            &mut registry,
            "cairn_datanode_checksum_errors",
            "Packets refused because a chunk did not match its checksum",
        );
        let pipeline_errors = counter(
            &mut registry,
            "cairn_datanode_pipeline_errors",
            "Write pipelines that failed here or downstream of here",
        );
        let scanner = ScannerCounters::default();
        registry.register(
            "cairn_scanner_blocks_scanned",
            "Replicas the block scanner verified",
            scanner.blocks_scanned.clone(),
        );
        registry.register(
            "cairn_scanner_bytes_scanned",
            "Bytes the block scanner verified",
            scanner.bytes_scanned.clone(),
        );
        registry.register(
            "cairn_scanner_corrupt_replicas",
            "Corrupt replicas the block scanner found",
            scanner.corrupt_found.clone(),
        );
        let replicas = Gauge::default();
        registry.register(
            "cairn_datanode_replicas",
            "Replicas on this datanode's volumes",
            replicas.clone(),
        );
        let capacity = Family::<StateLabel, Gauge>::default();
        registry.register(
            "cairn_datanode_capacity_bytes",
            "Space of this datanode (total, used, remaining)",
            capacity.clone(),
        );
        let volumes = Family::<StateLabel, Gauge>::default();
        registry.register(
            "cairn_datanode_volumes",
            "Volumes by state (ok, failed)",
            volumes.clone(),
        );
        Self {
            registry,
            rpc,
            bytes_read,
            bytes_written,
            checksum_errors,
            pipeline_errors,
            scanner,
            replicas,
            capacity,
            volumes,
        }
    }
}

impl std::fmt::Debug for DatanodeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatanodeMetrics")
            .field("bytes_read", &self.bytes_read.get())
            .field("bytes_written", &self.bytes_written.get())
            .finish_non_exhaustive()
    }
}

impl DatanodeMetrics {
    /// The text exposition format, with the gauges read from `dataset` and
    /// the scanner's counters from its per-volume `scanner` status.
    pub fn render(&self, dataset: &FsDataset, scanner: &[VolumeScanStatus]) -> String {
        self.scanner.set(scanner);
        let to_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let usage = dataset.usage();
        self.replicas.set(to_i64(dataset.len() as u64));
        for (state, value) in [
            ("total", usage.capacity),
            ("used", usage.dfs_used),
            ("remaining", usage.remaining),
        ] {
            self.capacity
                .get_or_create(&StateLabel { state })
                .set(to_i64(value));
        }
        let reports = dataset.volume_reports();
        let failed = reports.iter().filter(|v| v.capacity.is_none()).count() as u64;
        self.volumes
            .get_or_create(&StateLabel { state: "ok" })
            .set(to_i64(reports.len() as u64 - failed));
        self.volumes
            .get_or_create(&StateLabel { state: "failed" })
            .set(to_i64(failed));
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!("cannot encode the metrics: {e}");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(blocks: u64, bytes: u64, corrupt: u64) -> VolumeScanStatus {
        VolumeScanStatus {
            volume: std::path::PathBuf::from("/data"),
            blocks_scanned: blocks,
            bytes_scanned: bytes,
            corrupt_found: corrupt,
            pass_blocks: 0,
            pass_scanned: 0,
            full_scans: 0,
            last_full_scan: None,
        }
    }

    #[test]
    fn scanner_counters_are_the_sum_of_the_volumes_status() {
        let counters = ScannerCounters::default();
        counters.set(&[volume(3, 3000, 1), volume(2, 500, 0)]);
        assert_eq!(counters.blocks_scanned.get(), 5);
        assert_eq!(counters.bytes_scanned.get(), 3500);
        assert_eq!(counters.corrupt_found.get(), 1);
        counters.set(&[volume(4, 4000, 1), volume(2, 500, 0)]);
        assert_eq!(counters.blocks_scanned.get(), 6);
    }
}
