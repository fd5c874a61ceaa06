//! RedundancyMonitor's work: LowRedundancyBlocks (under-replicated blocks
//! by urgency), PendingReconstructionBlocks (transfers handed out, with a
//! timeout), excess replica selection and corrupt replica deletion.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use cairn_proto::pb;
use tracing::{debug, info, warn};

use crate::blocks::blocks_map::BlockState;
use crate::blocks::manager::BlockManager;
use crate::blocks::placement::{PlacementRequest, choose_targets};
use crate::config::NamenodeConfig;
use crate::datanodes::descriptor::DnIdx;
use crate::datanodes::manager::DatanodeManager;
use crate::namespace::inode::BlockId;

/// One live replica left: the most urgent.
pub const PRIORITY_HIGHEST: u8 = 0;
/// Fewer than a third of the wanted replicas.
pub const PRIORITY_VERY_LOW: u8 = 1;
pub const PRIORITY_LOW: u8 = 2;
/// No live replica at all — missing, or only corrupt replicas left (HDFS's
/// QUEUE_WITH_CORRUPT_BLOCKS): nothing to copy from, so last.
pub const PRIORITY_MISSING: u8 = 3;

/// Under-replicated blocks, most urgent first.
#[derive(Debug, Default)]
pub struct LowRedundancyBlocks {
    queue: BTreeSet<(u8, BlockId)>,
    priority: HashMap<BlockId, u8>,
}

impl LowRedundancyBlocks {
    pub fn insert(&mut self, id: BlockId, priority: u8) {
        if let Some(old) = self.priority.insert(id, priority) {
            self.queue.remove(&(old, id));
        }
        self.queue.insert((priority, id));
    }

    pub fn remove(&mut self, id: BlockId) {
        if let Some(old) = self.priority.remove(&id) {
            self.queue.remove(&(old, id));
        }
    }

    /// Under-replicated blocks that still have a replica to copy.
    pub fn len_repairable(&self) -> usize {
        self.queue
            .iter()
            .filter(|(p, _)| *p != PRIORITY_MISSING)
            .count()
    }

    pub fn len_missing(&self) -> usize {
        self.queue
            .iter()
            .filter(|(p, _)| *p == PRIORITY_MISSING)
            .count()
    }

    pub fn priority_of(&self, id: BlockId) -> Option<u8> {
        self.priority.get(&id).copied()
    }

    /// The `limit` most urgent blocks that can be repaired.
    fn most_urgent(&self, limit: usize) -> Vec<(u8, BlockId)> {
        self.queue
            .iter()
            .copied()
            .filter(|(p, _)| *p != PRIORITY_MISSING)
            .take(limit)
            .collect()
    }
}

/// A transfer handed out: the targets that should report the replica.
#[derive(Debug, Clone)]
pub struct PendingReconstruction {
    pub targets: Vec<DnIdx>,
    pub deadline: Instant,
    /// The datanodes copying the block, one stream each until the targets
    /// report or the deadline passes (none for pipeline nodes whose report
    /// is awaited).
    pub sources: Vec<DnIdx>,
}

/// What one monitor round did, for the log and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RedundancyWork {
    pub transfers: usize,
    pub excess_invalidated: usize,
    pub corrupt_invalidated: usize,
    pub timed_out: usize,
}

fn priority(live: usize, expected: usize) -> u8 {
    if live == 0 {
        PRIORITY_MISSING
    } else if live == 1 {
        PRIORITY_HIGHEST
    } else if live * 3 < expected {
        PRIORITY_VERY_LOW
    } else {
        PRIORITY_LOW
    }
}

impl BlockManager {
    /// One round of the replication monitor. Nothing is scheduled in safe
    /// mode (as HDFS), but blocks are still classified.
    pub fn compute_redundancy_work(
        &mut self,
        dm: &mut DatanodeManager,
        config: &NamenodeConfig,
        now: Instant,
        in_safe_mode: bool,
    ) -> RedundancyWork {
        let mut work = RedundancyWork::default();
        let expired: Vec<BlockId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            if let Some(p) = self.pending.remove(&id) {
                info!(
                    block = id,
                    targets = p.targets.len(),
                    "pending transfer timed out; scheduling it again with other datanodes"
                );
                for &t in &p.targets {
                    if let Some(n) = dm.get_mut(t) {
                        n.blocks_scheduled = n.blocks_scheduled.saturating_sub(1);
                    }
                }
                // The next attempt prefers other sources and targets.
                let failed = self.failed_transfers.entry(id).or_default();
                failed.extend(p.targets);
                failed.extend(p.sources);
            }
            self.recheck.insert(id);
            work.timed_out += 1;
        }
        if in_safe_mode {
            return work;
        }
        let recheck: Vec<BlockId> = self.recheck.drain().collect();
        for id in recheck {
            self.classify(dm, id, &mut work);
        }
        self.schedule_transfers(dm, config, now, &mut work);
        if work != RedundancyWork::default() {
            debug!(?work, "replication monitor round");
        }
        work
    }

    /// Files a block as under-replicated, deletes its excess replicas, and
    /// deletes corrupt replicas once enough good ones exist.
    fn classify(&mut self, dm: &mut DatanodeManager, id: BlockId, work: &mut RedundancyWork) {
        let Some(info) = self.map.get(id) else {
            self.needed.remove(id);
            return;
        };
        if info.state != BlockState::Complete {
            self.needed.remove(id);
            return;
        }
        let expected = usize::from(info.replication);
        // Replicas on decommissioning nodes are sources, not counted.
        let live = dm.count_in_service(&info.replicas);
        let usable = info.replicas.len();
        let pending = self.pending.get(&id).map(|p| p.targets.len()).unwrap_or(0);
        if live + pending < expected {
            let urgency = if usable == 0 {
                PRIORITY_MISSING
            } else {
                priority(live.max(1), expected)
            };
            if urgency == PRIORITY_MISSING && self.needed.priority_of(id) != Some(PRIORITY_MISSING)
            {
                warn!(
                    block = id,
                    expected_replicas = expected,
                    bytes = info.num_bytes,
                    "block lost: no live replica is left (missing until a datanode holding it comes back)"
                );
            }
            self.needed.insert(id, urgency);
        } else {
            self.needed.remove(id);
        }
        if live > expected {
            work.excess_invalidated += self.delete_excess(dm, id, expected);
        }
        // HDFS's markBlockAsCorrupt: corrupt copies go once enough good ones
        // exist, or once they and the good ones are more than the block
        // needs. Kept otherwise, they would stay excluded as targets: a
        // block with 2 good copies on a 4-node cluster whose other two nodes
        // hold corrupt ones (left behind by a pipeline that lost them) would
        // have nowhere to copy to, ever.
        let corrupt = self.map.corrupt_replicas(id).len();
        if corrupt > 0 && live > 0 && (live >= expected || live + corrupt > expected) {
            work.corrupt_invalidated += self.invalidate_corrupt(dm, id);
        }
    }

    /// Tells the nodes holding corrupt copies of block `id` to delete them;
    /// once they confirm, they count as targets for a good copy again.
    fn invalidate_corrupt(&mut self, dm: &mut DatanodeManager, id: BlockId) -> usize {
        let Some(block) = self.map.get(id).map(|info| info.to_pb(id)) else {
            return 0;
        };
        let corrupt = self.map.corrupt_replicas(id).to_vec();
        for &node in &corrupt {
            self.map.remove_corrupt(id, node);
            self.forget_reported_bad(id, node);
            self.queue_invalidate(dm, node, block);
        }
        corrupt.len()
    }

    /// HDFS's chooseExcessRedundancies: keep the rack spread (remove from a
    /// rack holding more than one replica when possible), and among those
    /// drop the replica on the node with the least space left.
    fn delete_excess(&mut self, dm: &mut DatanodeManager, id: BlockId, expected: usize) -> usize {
        let mut deleted = 0;
        loop {
            let Some(info) = self.map.get(id) else {
                return deleted;
            };
            if dm.count_in_service(&info.replicas) <= expected {
                return deleted;
            }
            let block = info.to_pb(id);
            let replicas: Vec<DnIdx> = info
                .replicas
                .iter()
                .copied()
                .filter(|&r| dm.get(r).is_some_and(|n| n.in_service()))
                .collect();
            let mut per_rack: HashMap<&str, usize> = HashMap::new();
            for &r in &replicas {
                if let Some(n) = dm.get(r) {
                    *per_rack.entry(n.rack.as_str()).or_default() += 1;
                }
            }
            let shared_rack: Vec<DnIdx> = replicas
                .iter()
                .copied()
                .filter(|&r| {
                    dm.get(r)
                        .is_some_and(|n| per_rack.get(n.rack.as_str()).copied().unwrap_or(0) > 1)
                })
                .collect();
            let candidates = if shared_rack.is_empty() {
                replicas
            } else {
                shared_rack
            };
            let Some(victim) = candidates
                .iter()
                .copied()
                .min_by_key(|&r| (dm.get(r).map(|n| n.remaining).unwrap_or(0), r))
            else {
                return deleted;
            };
            self.map.update(id, |b| b.replicas.retain(|&r| r != victim));
            self.queue_invalidate(dm, victim, block);
            debug!(
                block = id,
                node = victim,
                "excess replica scheduled for deletion"
            );
            deleted += 1;
        }
    }

    fn schedule_transfers(
        &mut self,
        dm: &mut DatanodeManager,
        config: &NamenodeConfig,
        now: Instant,
        work: &mut RedundancyWork,
    ) {
        // HDFS's maxReplicationStreams: transfers a node is still running
        // (handed out, not reported, not timed out) count against it.
        let mut streams: HashMap<DnIdx, u32> = HashMap::new();
        for p in self.pending.values() {
            for &s in &p.sources {
                *streams.entry(s).or_default() += 1;
            }
        }
        // As HDFS (replication.work.multiplier.per.iteration = 2): a round
        // looks at no more blocks than the live nodes can start transfers
        // for, so a dead node's million blocks do not stall the lock.
        let budget = (dm.num_alive() * config.max_replication_streams as usize * 2).max(16);
        for (_, id) in self.needed.most_urgent(budget) {
            let Some(info) = self.map.get(id) else {
                self.needed.remove(id);
                continue;
            };
            let pending_targets = self
                .pending
                .get(&id)
                .map(|p| p.targets.clone())
                .unwrap_or_default();
            let expected = usize::from(info.replication);
            let live: Vec<DnIdx> = info.replicas.to_vec();
            let Some(need) = expected
                .checked_sub(dm.count_in_service(&live) + pending_targets.len())
                .filter(|&n| n > 0)
            else {
                self.needed.remove(id);
                continue;
            };
            let failed = self.failed_transfers.get(&id);
            let has_failed = |n: DnIdx| failed.is_some_and(|f| f.contains(&n));
            let source = live
                .iter()
                .copied()
                .filter(|&s| dm.get(s).is_some_and(|n| n.alive))
                .filter(|s| streams.get(s).copied().unwrap_or(0) < config.max_replication_streams)
                .min_by_key(|&s| {
                    (
                        has_failed(s),
                        streams.get(&s).copied().unwrap_or(0),
                        dm.get(s).map(|n| n.load()).unwrap_or(0),
                    )
                });
            let Some(source) = source else {
                continue;
            };
            // Not onto a node holding a corrupt copy, or one told to delete
            // its copy (the deletion may still be on its way).
            let mut excluded: HashSet<DnIdx> =
                self.map.corrupt_replicas(id).iter().copied().collect();
            excluded.extend(
                dm.iter()
                    .filter(|n| n.excess.contains_key(&id))
                    .map(|n| n.idx),
            );
            // Targets that never reported an earlier copy are left out
            // while others can take it.
            let mut avoid = excluded.clone();
            avoid.extend(failed.into_iter().flatten().copied());
            let mut chosen = live.clone();
            chosen.extend(&pending_targets);
            let request = |excluded| PlacementRequest {
                count: need,
                writer_host: None,
                chosen: &chosen,
                excluded,
                block_size: info.num_bytes,
                now,
                stale_interval: config.stale_interval,
            };
            let mut targets = choose_targets(dm, &request(&avoid));
            if targets.is_empty() && avoid.len() > excluded.len() {
                targets = choose_targets(dm, &request(&excluded));
            }
            if targets.is_empty() {
                // Maybe only nodes holding corrupt copies are left to copy
                // to (a 3-node cluster at replication 3): with a good copy
                // to copy from, those go, so that their nodes can take one.
                work.corrupt_invalidated += self.invalidate_corrupt(dm, id);
                continue;
            }
            let block = info.to_pb(id);
            let infos: Vec<pb::DatanodeInfo> = targets
                .iter()
                .filter_map(|&t| dm.info(t, now, config.stale_interval))
                .collect();
            for &t in &targets {
                if let Some(n) = dm.get_mut(t) {
                    n.blocks_scheduled += 1;
                }
            }
            if let Some(n) = dm.get_mut(source) {
                info!(block = id, source = %n.xfer_addr(), targets = targets.len(), "scheduling re-replication");
                n.transfers.push(pb::TransferCommand {
                    block: Some(block),
                    targets: infos,
                });
            }
            let entry = self
                .pending
                .entry(id)
                .or_insert_with(|| PendingReconstruction {
                    targets: Vec::new(),
                    deadline: now,
                    sources: Vec::new(),
                });
            entry.targets.extend(targets);
            entry.sources.push(source);
            entry.deadline = now
                + config
                    .pending_replication_timeout
                    .max(Duration::from_millis(1));
            *streams.entry(source).or_default() += 1;
            self.needed.remove(id);
            work.transfers += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urgency_order() {
        assert_eq!(priority(1, 3), PRIORITY_HIGHEST);
        assert_eq!(priority(0, 3), PRIORITY_MISSING);
        assert_eq!(priority(2, 10), PRIORITY_VERY_LOW);
        assert_eq!(priority(2, 3), PRIORITY_LOW);
        let mut q = LowRedundancyBlocks::default();
        q.insert(7, PRIORITY_LOW);
        q.insert(8, PRIORITY_HIGHEST);
        q.insert(9, PRIORITY_MISSING);
        assert_eq!(
            q.most_urgent(10),
            vec![(PRIORITY_HIGHEST, 8), (PRIORITY_LOW, 7)]
        );
        q.insert(7, PRIORITY_HIGHEST);
        assert_eq!(q.len_repairable(), 2);
        assert_eq!(q.len_missing(), 1);
        q.remove(7);
        assert_eq!(q.priority_of(7), None);
    }

    /// Datanodes with room for anything.
    fn cluster(n: u32, now: Instant) -> DatanodeManager {
        let mut dm = crate::blocks::manager::tests::cluster(n);
        for i in 0..n {
            let req = pb::HeartbeatRequest {
                datanode_uuid: format!("dn{i}"),
                capacity: 1 << 40,
                remaining: 1 << 40,
                ..Default::default()
            };
            dm.heartbeat(&req, now).unwrap();
        }
        dm
    }

    fn target_of(dm: &mut DatanodeManager, source: DnIdx) -> Vec<String> {
        dm.get_mut(source)
            .unwrap()
            .transfers
            .drain(..)
            .flat_map(|t| t.targets)
            .map(|t| t.datanode_uuid)
            .collect()
    }

    #[test]
    fn streams_are_limited_per_node_and_timed_out_transfers_go_elsewhere() {
        use crate::blocks::manager::ReportedReplica;
        use crate::blocks::manager::tests::complete_block;

        let config = NamenodeConfig {
            max_replication_streams: 1,
            pending_replication_timeout: Duration::from_secs(10),
            ..NamenodeConfig::default()
        };
        let now = Instant::now();
        let mut dm = cluster(4, now);
        let mut bm = BlockManager::new(1, Duration::from_secs(300));
        // Three blocks of replication 2, each with one replica, on dn0.
        let reported: Vec<_> = (1..=3)
            .map(|id| ReportedReplica::finalized(complete_block(&mut bm, id)))
            .collect();
        bm.process_full_report(&mut dm, 0, &reported);

        // One stream for dn0, the only source: one transfer, and none more
        // while it runs, however many rounds pass.
        let work = bm.compute_redundancy_work(&mut dm, &config, now, false);
        assert_eq!(work.transfers, 1);
        let first = target_of(&mut dm, 0);
        assert_eq!(first.len(), 1);
        let later = now + Duration::from_secs(5);
        assert_eq!(
            bm.compute_redundancy_work(&mut dm, &config, later, false)
                .transfers,
            0
        );

        // It never reports: after the timeout the block goes to another
        // target.
        let after = now + Duration::from_secs(11);
        let work = bm.compute_redundancy_work(&mut dm, &config, after, false);
        assert_eq!((work.timed_out, work.transfers), (1, 1));
        let second = target_of(&mut dm, 0);
        assert_eq!(second.len(), 1);
        assert_ne!(first, second);
        assert_eq!(bm.pending.len(), 1);
    }

    /// A replication-2 block (id 1) with one good copy, on dn0 of a 3-node
    /// cluster, and corrupt copies on `corrupt`.
    fn one_good_copy(
        corrupt: &[DnIdx],
        now: Instant,
    ) -> (
        DatanodeManager,
        BlockManager,
        crate::blocks::manager::BlockRef,
    ) {
        use crate::blocks::manager::ReportedReplica;
        use crate::blocks::manager::tests::complete_block;

        let mut dm = cluster(3, now);
        let mut bm = BlockManager::new(1, Duration::from_secs(300));
        let block = complete_block(&mut bm, 1);
        bm.process_full_report(&mut dm, 0, &[ReportedReplica::finalized(block)]);
        for &node in corrupt {
            bm.mark_corrupt(&mut dm, node, 1, "stale generation stamp");
        }
        (dm, bm, block)
    }

    /// One good copy of a replication-2 block on a 3-node cluster whose two
    /// other nodes hold corrupt copies: the corrupt copies are deleted, so
    /// that once the nodes confirm it a node is free to copy to.
    #[test]
    fn corrupt_copies_that_leave_no_target_are_deleted() {
        let config = NamenodeConfig::default();
        let now = Instant::now();
        let (mut dm, mut bm, block) = one_good_copy(&[1, 2], now);

        let work = bm.compute_redundancy_work(&mut dm, &config, now, false);
        assert_eq!((work.corrupt_invalidated, work.transfers), (2, 0));
        for node in [1, 2] {
            assert!(dm.get(node).unwrap().invalidate.contains_key(&1));
        }

        // The nodes delete them; then the block is copied to one of them.
        let deleted = pb::ReceivedDeletedBlock {
            block: Some(block.into()),
            status: pb::ReceivedDeletedStatus::Deleted as i32,
            storage_id: String::new(),
        };
        for node in [1, 2] {
            bm.process_incremental(&mut dm, node, std::slice::from_ref(&deleted));
        }
        let work = bm.compute_redundancy_work(&mut dm, &config, now, false);
        assert_eq!(work.transfers, 1);
        assert_eq!(target_of(&mut dm, 0).len(), 1);
    }

    /// A replication-3 block on a 3-node cluster with good copies on dn0
    /// and dn1 and a corrupt one on dn2: dn2 is the only node to copy to,
    /// so its corrupt copy goes, and once it confirms it takes a good one.
    /// (Kept, it would keep the block at 2 of 3 for good: a chaos run.)
    #[test]
    fn a_corrupt_copy_on_the_only_node_left_goes_so_it_can_take_a_good_one() {
        use crate::blocks::manager::ReportedReplica;
        use crate::blocks::manager::tests::complete_block;

        let config = NamenodeConfig::default();
        let now = Instant::now();
        let mut dm = cluster(3, now);
        let mut bm = BlockManager::new(1, Duration::from_secs(300));
        let block = complete_block(&mut bm, 1);
        bm.map.update(1, |b| b.replication = 3);
        for node in [0, 1] {
            bm.process_full_report(&mut dm, node, &[ReportedReplica::finalized(block)]);
        }
        bm.mark_reported_bad(&mut dm, 2, 1, "checksum mismatch");

        let work = bm.compute_redundancy_work(&mut dm, &config, now, false);
        assert_eq!((work.corrupt_invalidated, work.transfers), (1, 0));
        assert!(dm.get(2).unwrap().invalidate.contains_key(&1));
        assert!(bm.map.corrupt_replicas(1).is_empty());

        let deleted = pb::ReceivedDeletedBlock {
            block: Some(block.into()),
            status: pb::ReceivedDeletedStatus::Deleted as i32,
            storage_id: String::new(),
        };
        bm.process_incremental(&mut dm, 2, std::slice::from_ref(&deleted));
        let work = bm.compute_redundancy_work(&mut dm, &config, now, false);
        assert_eq!(work.transfers, 1);
        let source = if dm.get(0).unwrap().transfers.is_empty() {
            1
        } else {
            0
        };
        assert_eq!(target_of(&mut dm, source), vec!["dn2".to_string()]);
    }

    /// A corrupt copy beside fewer good ones than the block needs, with
    /// another node free to copy to, is kept until the copy is made.
    #[test]
    fn a_corrupt_copy_is_kept_while_another_target_exists() {
        let config = NamenodeConfig::default();
        let now = Instant::now();
        let (mut dm, mut bm, _) = one_good_copy(&[1], now);

        let work = bm.compute_redundancy_work(&mut dm, &config, now, false);
        assert_eq!((work.corrupt_invalidated, work.transfers), (0, 1));
        assert_eq!(target_of(&mut dm, 0), vec!["dn2".to_string()]);
    }
}
