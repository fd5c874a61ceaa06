//! The datanode's Prometheus metrics (`/metrics` on its HTTP port): RPC
//! counts and latencies of DataTransfer, bytes read and written, checksum
//! and pipeline errors, and the replicas and space of the volumes (read
//! from the dataset at each scrape).
//!
//! The block scanner adds its progress through [`DatanodeMetrics::scanner`]
//! (`cairn_scanner_*`), registered with the rest.

use cairn_proto::rpc_metrics::RpcMetrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::dataset::FsDataset;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

/// The block scanner's progress, for its own loop to update.
#[derive(Clone, Default)]
pub struct ScannerMetrics {
    /// Replicas verified since the datanode started.
    pub blocks_scanned: Counter,
    /// Bytes verified since the datanode started.
    pub bytes_scanned: Counter,
    /// Corrupt replicas found.
    pub corrupt_found: Counter,
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
    pub scanner: ScannerMetrics,
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
        let scanner = ScannerMetrics::default();
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
    /// The text exposition format, with the gauges read from `dataset`.
    pub fn render(&self, dataset: &FsDataset) -> String {
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
