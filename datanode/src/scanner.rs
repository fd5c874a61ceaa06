//! BlockScanner and its VolumeScanners (HDFS's names): one background task
//! per volume re-reads every finalized replica and checks its data against
//! the checksums in its meta file, so that bit rot is found before the last
//! good replica is gone.
//!
//! Each volume walks its finalized replicas in block id order, at most
//! `scanner-bandwidth` bytes per second; a pass that ends early waits out
//! the rest of `scan-period` before the next one starts (HDFS's
//! `dfs.datanode.scan.period.hours`, default three weeks). Suspect replicas
//! jump the queue: those whose bytes failed a checksum while being sent to a
//! reader, could not be read, or whose copy to another datanode failed
//! ([`BlockScanner::mark_suspect`], HDFS's `markSuspectBlock`). A corrupt
//! replica is queued in [`BadBlockReports`]; the BPServiceActor sends it to
//! the namenode (ReportBadBlocks), which copies a good replica elsewhere and
//! then tells us to delete ours.

mod verifier;

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use cairn_proto::pb;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::dataset::FsDataset;
use crate::node::NodeContext;
use verifier::{Piece, ReplicaVerifier};

/// How fast and how often the scanner reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScannerSettings {
    /// Every replica is verified at least once per period; zero turns the
    /// scanner off.
    pub scan_period: Duration,
    /// Bytes per second each volume's scanner may read.
    pub bandwidth: u64,
}

/// One volume scanner's progress, for status pages and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeScanStatus {
    /// The volume's data directory.
    pub volume: PathBuf,
    /// Replicas verified since the datanode started (suspects included).
    pub blocks_scanned: u64,
    /// Bytes read and verified since the datanode started.
    pub bytes_scanned: u64,
    /// Corrupt replicas found (and reported) since the datanode started.
    pub corrupt_found: u64,
    /// Replicas in the pass under way, and how many of them are done.
    pub pass_blocks: u64,
    pub pass_scanned: u64,
    /// Full passes finished since the datanode started.
    pub full_scans: u64,
    /// When the last full pass ended.
    pub last_full_scan: Option<SystemTime>,
}

/// Corrupt replicas waiting to be sent to the namenode.
#[derive(Debug, Default)]
pub struct BadBlockReports {
    pending: Mutex<Vec<pb::Block>>,
}

impl BadBlockReports {
    pub fn push(&self, block: pb::Block) {
        let mut pending = self.pending.lock();
        if !pending.iter().any(|b| b.id == block.id) {
            pending.push(block);
        }
    }

    pub fn take(&self) -> Vec<pb::Block> {
        std::mem::take(&mut *self.pending.lock())
    }

    /// Puts back reports that could not be delivered.
    pub fn put_back(&self, blocks: Vec<pb::Block>) {
        for block in blocks {
            self.push(block);
        }
    }
}

/// What one volume scanner shares with the rest of the datanode.
#[derive(Debug)]
struct VolumeState {
    index: usize,
    status: Mutex<VolumeScanStatus>,
    suspects: Mutex<(VecDeque<u64>, HashSet<u64>)>,
    /// Replicas found corrupt and still here: a namenode that restarted
    /// has forgotten them, so they are verified (and reported) again when
    /// we register.
    found_corrupt: Mutex<HashSet<u64>>,
    wake: Notify,
}

impl VolumeState {
    fn next_suspect(&self) -> Option<u64> {
        let mut guard = self.suspects.lock();
        let (queue, queued) = &mut *guard;
        let id = queue.pop_front()?;
        queued.remove(&id);
        Some(id)
    }
}

/// The scanners of all volumes of one datanode.
#[derive(Debug)]
pub struct BlockScanner {
    settings: ScannerSettings,
    volumes: Vec<Arc<VolumeState>>,
}

impl BlockScanner {
    pub fn new(dataset: &FsDataset, settings: ScannerSettings) -> Self {
        let volumes = (0..dataset.num_volumes())
            .map(|index| {
                Arc::new(VolumeState {
                    index,
                    status: Mutex::new(VolumeScanStatus {
                        volume: dataset.volume_dir(index).unwrap_or_default(),
                        blocks_scanned: 0,
                        bytes_scanned: 0,
                        corrupt_found: 0,
                        pass_blocks: 0,
                        pass_scanned: 0,
                        full_scans: 0,
                        last_full_scan: None,
                    }),
                    suspects: Mutex::new((VecDeque::new(), HashSet::new())),
                    found_corrupt: Mutex::new(HashSet::new()),
                    wake: Notify::new(),
                })
            })
            .collect();
        Self { settings, volumes }
    }

    pub fn is_enabled(&self) -> bool {
        !self.settings.scan_period.is_zero()
    }

    /// Progress of every volume's scanner.
    pub fn status(&self) -> Vec<VolumeScanStatus> {
        self.volumes
            .iter()
            .map(|v| v.status.lock().clone())
            .collect()
    }

    /// Replicas verified on all volumes since the datanode started.
    pub fn blocks_scanned(&self) -> u64 {
        self.volumes
            .iter()
            .map(|v| v.status.lock().blocks_scanned)
            .sum()
    }

    /// Has the replica of `block_id` verified before anything else on its
    /// volume (HDFS's markSuspectBlock).
    pub fn mark_suspect(&self, dataset: &FsDataset, block_id: u64) {
        if !self.is_enabled() {
            return;
        }
        let Some(info) = dataset.get(block_id) else {
            return;
        };
        let Some(volume) = self.volumes.get(info.volume) else {
            return;
        };
        let mut guard = volume.suspects.lock();
        let (queue, queued) = &mut *guard;
        if queued.insert(block_id) {
            debug!(block_id, "replica marked suspect: it is scanned next");
            queue.push_back(block_id);
            volume.wake.notify_one();
        }
    }

    /// Has every replica found corrupt before verified again at once, so
    /// that a corrupt one is reported to a namenode that has forgotten it
    /// (it restarted, or declared us dead) rather than at the next pass,
    /// weeks away with the default period.
    pub fn recheck_found_corrupt(&self, dataset: &FsDataset) {
        let ids: Vec<u64> = self
            .volumes
            .iter()
            .flat_map(|v| v.found_corrupt.lock().iter().copied().collect::<Vec<_>>())
            .collect();
        for id in ids {
            self.mark_suspect(dataset, id);
        }
    }

    /// Starts one VolumeScanner task per volume (none when disabled).
    pub fn spawn(self: &Arc<Self>, ctx: &Arc<NodeContext>) -> Vec<JoinHandle<()>> {
        if !self.is_enabled() {
            info!("block scanner disabled (scan-period = 0)");
            return Vec::new();
        }
        self.volumes
            .iter()
            .map(|volume| {
                let run = VolumeScanner {
                    ctx: Arc::clone(ctx),
                    state: Arc::clone(volume),
                    settings: self.settings,
                    throttle: Throttle::new(self.settings.bandwidth, Instant::now()),
                };
                tokio::spawn(run.run())
            })
            .collect()
    }
}

/// Keeps reads under a rate: after `bytes` more bytes, how long to pause.
#[derive(Debug)]
struct Throttle {
    bandwidth: u64,
    since: Instant,
    bytes: u64,
}

impl Throttle {
    fn new(bandwidth: u64, now: Instant) -> Self {
        Self {
            bandwidth: bandwidth.max(1),
            since: now,
            bytes: 0,
        }
    }

    /// Records `bytes` read; returns the pause that keeps the average at
    /// the bandwidth. The window restarts every few seconds so that an idle
    /// spell does not buy a burst later.
    fn record(&mut self, bytes: u64, now: Instant) -> Duration {
        self.bytes = self.bytes.saturating_add(bytes);
        let due = Duration::from_secs_f64(self.bytes as f64 / self.bandwidth as f64);
        let elapsed = now.saturating_duration_since(self.since);
        let pause = due.saturating_sub(elapsed);
        if elapsed + pause >= Duration::from_secs(5) {
            self.since = now + pause;
            self.bytes = 0;
        }
        pause
    }
}

/// The scanner of one volume.
struct VolumeScanner {
    ctx: Arc<NodeContext>,
    state: Arc<VolumeState>,
    settings: ScannerSettings,
    throttle: Throttle,
}

/// How a replica's scan ended.
enum Verdict {
    Healthy,
    Corrupt {
        offset: u64,
        reason: String,
    },
    /// Deleted, appended to or replaced while being read: nothing to say.
    Changed,
}

impl VolumeScanner {
    async fn run(mut self) {
        let ctx = Arc::clone(&self.ctx);
        tokio::select! {
            () = self.scan_forever() => {}
            () = ctx.shutting_down() => {}
        }
        debug!(volume = self.state.index, "volume scanner stopped");
    }

    async fn scan_forever(&mut self) {
        loop {
            let started = Instant::now();
            let replicas = self.ctx.dataset.finalized_on_volume(self.state.index);
            {
                let mut status = self.state.status.lock();
                status.pass_blocks = replicas.len() as u64;
                status.pass_scanned = 0;
            }
            for (block_id, gs) in replicas {
                self.scan_suspects().await;
                self.scan(block_id, Some(gs)).await;
                let mut status = self.state.status.lock();
                status.pass_scanned += 1;
            }
            {
                let mut status = self.state.status.lock();
                status.full_scans += 1;
                status.last_full_scan = Some(SystemTime::now());
                debug!(volume = %status.volume.display(), blocks = status.pass_blocks, "full scan done");
            }
            // Wait out the period, scanning suspects as they come.
            let next_pass = tokio::time::Instant::from_std(started + self.settings.scan_period);
            loop {
                self.scan_suspects().await;
                tokio::select! {
                    () = tokio::time::sleep_until(next_pass) => break,
                    () = self.state.wake.notified() => {}
                }
            }
        }
    }

    async fn scan_suspects(&mut self) {
        while let Some(block_id) = self.state.next_suspect() {
            self.scan(block_id, None).await;
        }
    }

    /// Verifies one replica (at generation stamp `gs` when given) and
    /// queues a report if it is corrupt.
    async fn scan(&mut self, block_id: u64, gs: Option<u64>) {
        let dataset = Arc::clone(&self.ctx.dataset);
        let opened =
            tokio::task::spawn_blocking(move || ReplicaVerifier::open(dataset, block_id, gs)).await;
        let mut verifier = match opened {
            Ok(Some(v)) => v,
            Ok(None) => {
                if gs.is_none() {
                    // Gone (deleted or replaced): nothing left to report.
                    self.state.found_corrupt.lock().remove(&block_id);
                }
                return;
            }
            Err(e) => {
                warn!(block_id, "block scanner task failed: {e}");
                return;
            }
        };
        let block = verifier.block();
        let verdict = loop {
            let read = tokio::task::spawn_blocking(move || {
                let piece = verifier.next_piece();
                (verifier, piece)
            })
            .await;
            let (v, piece) = match read {
                Ok(r) => r,
                Err(e) => {
                    warn!(block_id, "block scanner task failed: {e}");
                    return;
                }
            };
            verifier = v;
            match piece {
                Piece::Verified(bytes) => {
                    self.state.status.lock().bytes_scanned += bytes;
                    let pause = self.throttle.record(bytes, Instant::now());
                    if !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                }
                Piece::Done => break Verdict::Healthy,
                Piece::Changed => break Verdict::Changed,
                Piece::Corrupt { offset, reason } => break Verdict::Corrupt { offset, reason },
            }
        };
        let mut status = self.state.status.lock();
        match verdict {
            Verdict::Healthy => {
                status.blocks_scanned += 1;
                self.state.found_corrupt.lock().remove(&block_id);
            }
            Verdict::Changed => {}
            Verdict::Corrupt { offset, reason } => {
                status.blocks_scanned += 1;
                status.corrupt_found += 1;
                warn!(
                    block_id,
                    generation_stamp = block.generation_stamp,
                    offset,
                    volume = %status.volume.display(),
                    "block scanner found a corrupt replica ({reason}); reporting it to the namenode"
                );
                self.state.found_corrupt.lock().insert(block_id);
                self.ctx.bad_blocks.push(block);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_keeps_the_average_rate() {
        let t0 = Instant::now();
        let mut throttle = Throttle::new(1000, t0);
        assert_eq!(throttle.record(500, t0), Duration::from_millis(500));
        // Half a second later another 500 bytes are due at t0 + 1 s.
        assert_eq!(
            throttle.record(500, t0 + Duration::from_millis(500)),
            Duration::from_millis(500)
        );
        // Reading slower than the rate never pauses.
        let mut slow = Throttle::new(1_000_000, t0);
        assert_eq!(
            slow.record(1000, t0 + Duration::from_secs(1)),
            Duration::ZERO
        );
    }

    #[test]
    fn bad_block_reports_are_deduplicated_and_kept_on_failure() {
        let reports = BadBlockReports::default();
        let block = pb::Block {
            id: 7,
            generation_stamp: 1001,
            num_bytes: 3,
        };
        reports.push(block);
        reports.push(block);
        let taken = reports.take();
        assert_eq!(taken.len(), 1);
        assert!(reports.take().is_empty());
        reports.put_back(taken);
        assert_eq!(reports.take(), vec![block]);
    }
}
