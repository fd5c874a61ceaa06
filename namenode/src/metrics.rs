//! The namenode's Prometheus metrics (`/metrics` on its HTTP port).
//!
//! Counters and histograms are updated where things happen (the RPC layer,
//! the edit log's syncer); the cluster's state (nodes, blocks, capacity) is
//! read from the same [`snapshot`](crate::http) as the web pages at each
//! scrape, so `/metrics` and the overview page never disagree.

use cairn_proto::rpc_metrics::RpcMetrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::editlog::writer::SyncMetrics;
use crate::http::snapshot::ClusterSnapshot;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

/// Every metric the namenode exports, and the registry that names them.
pub struct NamenodeMetrics {
    registry: Registry,
    pub rpc: RpcMetrics,
    datanodes: Family<StateLabel, Gauge>,
    blocks: Family<StateLabel, Gauge>,
    capacity: Family<StateLabel, Gauge>,
    files: Gauge,
    safe_mode: Gauge,
}

impl NamenodeMetrics {
    /// Registers the RPC metrics, the edit log's and the cluster gauges.
    pub fn new(edit_log: &SyncMetrics) -> Self {
        let mut registry = Registry::default();
        let rpc = RpcMetrics::default();
        rpc.register(&mut registry);
        registry.register(
            "cairn_editlog_sync_duration_seconds",
            "Time of one group-commit fsync of the edit log",
            edit_log.sync_seconds.clone(),
        );
        registry.register(
            "cairn_editlog_sync_batch_transactions",
            "Transactions made durable by one edit log fsync",
            edit_log.batch_txns.clone(),
        );
        let datanodes = Family::<StateLabel, Gauge>::default();
        registry.register(
            "cairn_datanodes",
            "Datanodes by state (live, stale, dead, decommissioning, decommissioned)",
            datanodes.clone(),
        );
        let blocks = Family::<StateLabel, Gauge>::default();
        registry.register(
            "cairn_blocks",
            "Blocks by state (total, under_replicated, corrupt, missing, pending_deletion, \
             pending_replication, replication_queue)",
            blocks.clone(),
        );
        let capacity = Family::<StateLabel, Gauge>::default();
        registry.register(
            "cairn_capacity_bytes",
            "Capacity of the live datanodes (total, used, remaining, non_dfs_used)",
            capacity.clone(),
        );
        let files = Gauge::default();
        registry.register(
            "cairn_files_and_directories",
            "Inodes in the namespace",
            files.clone(),
        );
        let safe_mode = Gauge::default();
        registry.register(
            "cairn_safe_mode",
            "1 while the namenode is in safe mode",
            safe_mode.clone(),
        );
        Self {
            registry,
            rpc,
            datanodes,
            blocks,
            capacity,
            files,
            safe_mode,
        }
    }

    /// The text exposition format, with the gauges set from `snapshot`.
    pub fn render(&self, snapshot: &ClusterSnapshot) -> String {
        let set = |family: &Family<StateLabel, Gauge>, state: &'static str, value: u64| {
            family
                .get_or_create(&StateLabel { state })
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        };
        set(&self.datanodes, "live", snapshot.live_datanodes);
        set(&self.datanodes, "stale", snapshot.stale_datanodes);
        set(&self.datanodes, "dead", snapshot.dead_datanodes);
        set(
            &self.datanodes,
            "decommissioning",
            snapshot.decommissioning_datanodes,
        );
        set(
            &self.datanodes,
            "decommissioned",
            snapshot.decommissioned_datanodes,
        );
        set(&self.blocks, "total", snapshot.blocks);
        set(
            &self.blocks,
            "under_replicated",
            snapshot.under_replicated_blocks,
        );
        set(&self.blocks, "corrupt", snapshot.corrupt_blocks);
        set(&self.blocks, "missing", snapshot.missing_blocks);
        set(
            &self.blocks,
            "pending_deletion",
            snapshot.pending_deletion_blocks,
        );
        set(
            &self.blocks,
            "pending_replication",
            snapshot.pending_replication_blocks,
        );
        set(
            &self.blocks,
            "replication_queue",
            snapshot.replication_queue,
        );
        set(&self.capacity, "total", snapshot.capacity);
        set(&self.capacity, "used", snapshot.used);
        set(&self.capacity, "remaining", snapshot.remaining);
        set(&self.capacity, "non_dfs_used", snapshot.non_dfs_used);
        self.files
            .set(i64::try_from(snapshot.files_and_directories).unwrap_or(i64::MAX));
        self.safe_mode.set(i64::from(snapshot.safe_mode));
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!("cannot encode the metrics: {e}");
        }
        text
    }
}
