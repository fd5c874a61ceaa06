//! Watching the cluster heal: a monitor that measures how long the cluster
//! stays below full replication while the run goes on, and the final wait
//! until every acknowledged block is back at its target replication with no
//! corrupt replica left.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cairn_client::{DatanodeReportType, DfsClient, FsStats};
use parking_lot::Mutex;

use crate::chaos::cluster::Corruption;
use crate::chaos::workload::AckedFile;

/// How often the cluster's state is sampled.
const POLL: Duration = Duration::from_millis(500);

/// Blocks below target replication or missing, for the report's longest
/// spell of degraded replication. A corrupt replica of a complete block
/// makes it under-replicated until it is replaced, so it counts here; the
/// corrupt-block count is left out because it also holds blocks of failed,
/// still-open writes (HDFS's fsck does not validate open files either).
fn degraded(stats: &FsStats) -> bool {
    stats.under_replicated + stats.missing_blocks > 0
}

/// The longest spell of degraded replication seen.
#[derive(Debug, Default)]
pub struct ReplicationWatch {
    since: Mutex<Option<Instant>>,
    longest: Mutex<Duration>,
}

impl ReplicationWatch {
    fn observe(&self, degraded: bool, now: Instant) {
        let mut since = self.since.lock();
        match (degraded, *since) {
            (true, None) => *since = Some(now),
            (false, Some(start)) => {
                let spell = now.saturating_duration_since(start);
                let mut longest = self.longest.lock();
                *longest = (*longest).max(spell);
                *since = None;
            }
            _ => {}
        }
    }

    /// The longest spell so far, counting one still going on.
    pub fn longest(&self, now: Instant) -> Duration {
        let ongoing = self
            .since
            .lock()
            .map(|s| now.saturating_duration_since(s))
            .unwrap_or_default();
        (*self.longest.lock()).max(ongoing)
    }

    /// Samples the namenode's counts until `stop` (failures — the
    /// namenode is down — are skipped).
    pub async fn run(&self, client: DfsClient, stop: Arc<AtomicBool>) {
        while !stop.load(Ordering::Relaxed) {
            if let Ok(stats) = client.fs_stats().await {
                self.observe(degraded(&stats), Instant::now());
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Why the cluster is not healed yet, or `None` when it is: every datanode
/// live, every injected corruption replaced, and every block of every
/// acknowledged file at exactly its target replication with no corrupt
/// replica. The namenode's cluster-wide counts are not used: they also hold
/// the blocks of writes that failed and were never acknowledged, whose files
/// stay open until their lease expires.
pub async fn unhealed(
    client: &DfsClient,
    datanodes: usize,
    replication: u32,
    acked: &[AckedFile],
    corruptions: &[Corruption],
) -> Option<String> {
    let live = match client.datanode_report(DatanodeReportType::Live).await {
        Ok(live) => live.len(),
        Err(e) => return Some(format!("namenode not answering: {e}")),
    };
    if live < datanodes {
        return Some(format!("{live} of {datanodes} datanodes live"));
    }
    if let Some(c) = corruptions.iter().find(|c| !c.repaired()) {
        return Some(format!(
            "corrupt replica of blk_{} on datanode {} not replaced yet",
            c.block_id, c.datanode
        ));
    }
    for file in acked {
        let located = match client
            .get_block_locations(&file.path, 0, file.len.max(1))
            .await
        {
            Ok(located) => located,
            Err(e) => return Some(format!("{}: {e}", file.path)),
        };
        for block in &located.blocks {
            let count = block.locations.len();
            if count != replication as usize || block.corrupt {
                let id = block.block.as_ref().map_or(0, |b| b.id);
                return Some(format!(
                    "blk_{id} of {} has {count} of {replication} replicas",
                    file.path
                ));
            }
        }
    }
    None
}

/// Waits until [`unhealed`] says nothing is left, or `timeout`; returns how
/// long it took, or the last reason on timeout.
pub async fn wait_healed(
    client: &DfsClient,
    datanodes: usize,
    replication: u32,
    acked: &[AckedFile],
    corruptions: &[Corruption],
    timeout: Duration,
) -> Result<Duration, String> {
    let started = Instant::now();
    loop {
        match unhealed(client, datanodes, replication, acked, corruptions).await {
            None => return Ok(started.elapsed()),
            Some(reason) if started.elapsed() > timeout => return Err(reason),
            Some(_) => tokio::time::sleep(POLL).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_spell_of_degraded_replication() {
        let watch = ReplicationWatch::default();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        watch.observe(false, t0);
        watch.observe(true, t0 + s(1));
        watch.observe(true, t0 + s(2));
        watch.observe(false, t0 + s(4));
        assert_eq!(watch.longest(t0 + s(5)), s(3));
        watch.observe(true, t0 + s(10));
        assert_eq!(watch.longest(t0 + s(12)), s(3));
        assert_eq!(watch.longest(t0 + s(20)), s(10));
    }
}
