//! What the parts of a running datanode share: the dataset, the report
//! queue, the xceiver count, its own address and the shutdown signal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::watch;

use crate::dataset::FsDataset;
use crate::ibr::IncrementalBlockReports;
use crate::metrics::DatanodeMetrics;
use crate::scanner::{BadBlockReports, BlockScanner};

/// State shared by the DataTransfer service, the BPServiceActor and the
/// command handlers of one datanode.
#[derive(Debug)]
pub struct NodeContext {
    pub dataset: Arc<FsDataset>,
    pub reports: IncrementalBlockReports,
    /// Corrupt replicas the scanner found, for the next ReportBadBlocks.
    pub bad_blocks: BadBlockReports,
    pub scanner: Arc<BlockScanner>,
    /// "host:port" others reach our DataTransfer service at.
    pub xfer_addr: String,
    /// What `/metrics` exports; the data path counts into it.
    pub metrics: DatanodeMetrics,
    /// A re-replication transfer ended: the actor heartbeats soon, so the
    /// namenode hands out the next one without waiting a whole interval.
    pub transfer_done: tokio::sync::Notify,
    xceivers: AtomicU32,
    shutdown: watch::Receiver<bool>,
}

impl NodeContext {
    pub fn new(
        dataset: Arc<FsDataset>,
        scanner: Arc<BlockScanner>,
        xfer_addr: String,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            dataset,
            reports: IncrementalBlockReports::default(),
            bad_blocks: BadBlockReports::default(),
            scanner,
            xfer_addr,
            metrics: DatanodeMetrics::default(),
            transfer_done: tokio::sync::Notify::new(),
            xceivers: AtomicU32::new(0),
            shutdown,
        }
    }

    /// Has the scanner verify `block_id` before anything else.
    pub fn mark_suspect(&self, block_id: u64) {
        self.scanner.mark_suspect(&self.dataset, block_id);
    }

    /// Streams being served now (HDFS's xceiver count, sent in heartbeats).
    pub fn xceiver_count(&self) -> u32 {
        self.xceivers.load(Ordering::Relaxed)
    }

    /// Counts one stream for as long as the guard lives.
    pub fn xceiver(self: &Arc<Self>) -> XceiverGuard {
        self.xceivers.fetch_add(1, Ordering::Relaxed);
        XceiverGuard(Arc::clone(self))
    }

    /// Resolves once the datanode is shutting down.
    pub async fn shutting_down(&self) {
        let mut rx = self.shutdown.clone();
        // An error means the sender is gone: shutting down as well.
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// Keeps one stream counted in the xceiver count.
#[derive(Debug)]
pub struct XceiverGuard(Arc<NodeContext>);

impl Drop for XceiverGuard {
    fn drop(&mut self) {
        self.0.xceivers.fetch_sub(1, Ordering::Relaxed);
    }
}
