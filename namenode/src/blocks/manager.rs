//! BlockManager: the block id and generation stamp counters, and what
//! datanode reports do to the blocks map (HDFS's processReport /
//! processIncrementalBlockReport / markBlockAsCorrupt).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use cairn_proto::pb;
use tracing::{debug, info, warn};

use crate::blocks::blocks_map::{BlockInfo, BlockState, BlocksMap};
use crate::blocks::redundancy::{LowRedundancyBlocks, PendingReconstruction};
use crate::datanodes::descriptor::DnIdx;
use crate::datanodes::manager::DatanodeManager;
use crate::namespace::inode::{BlockId, InodeId};

/// HDFS's first block id is 1<<30 + 1 (ids below are reserved).
pub const LAST_RESERVED_BLOCK_ID: u64 = 1 << 30;
/// HDFS's first generation stamp is 1001.
pub const LAST_RESERVED_GENERATION_STAMP: u64 = 1000;

#[derive(Debug)]
pub struct BlockManager {
    pub map: BlocksMap,
    pub last_block_id: u64,
    pub generation_stamp: u64,
    /// Under-replicated blocks by urgency (HDFS's LowRedundancyBlocks).
    pub needed: LowRedundancyBlocks,
    /// Transfers handed out and not yet seen through.
    pub pending: HashMap<BlockId, PendingReconstruction>,
    /// Blocks whose replica count changed: the monitor classifies them.
    pub recheck: HashSet<BlockId>,
    /// Files whose last block finished recovery: the namesystem closes them.
    pub recovered_files: Vec<InodeId>,
    /// Datanodes of transfers of a block that timed out: the next attempt
    /// prefers others (forgotten once a new replica of it arrives).
    pub failed_transfers: HashMap<BlockId, HashSet<DnIdx>>,
    /// Lease recoveries under way, by block: the primary datanode reports
    /// with CommitBlockSynchronization.
    pub recoveries: HashMap<BlockId, BlockRecovery>,
    /// Replicas found corrupt by reading them (a datanode's scanner or a
    /// client), by block: a block report cannot tell them from good ones,
    /// since their stamp and length match, so it does not clear them (HDFS
    /// clears only a GENSTAMP_MISMATCH this way). Forgotten when the replica
    /// goes or is told to go.
    pub reported_bad: HashMap<BlockId, Vec<DnIdx>>,
    /// How long a pending transfer (or pipeline report) is waited for.
    pending_timeout: Duration,
}

/// A block recovery after a writer's lease expired (HDFS's
/// BlockUnderConstructionFeature recovery state).
#[derive(Debug, Clone)]
pub struct BlockRecovery {
    /// The generation stamp the replicas are settled at; a new one each try.
    pub recovery_id: u64,
    /// The block's stamp before recovery, which its replicas may still have.
    pub original_generation_stamp: u64,
    /// Datanodes already asked to lead it: a retry picks another.
    pub tried_primaries: Vec<DnIdx>,
}

/// A replica as a datanode reports it.
#[derive(Debug, Clone, Copy)]
pub struct ReportedReplica {
    pub block: BlockRef,
    pub state: pb::ReplicaState,
}

impl ReportedReplica {
    pub fn finalized(block: BlockRef) -> Self {
        Self {
            block,
            state: pb::ReplicaState::Finalized,
        }
    }

    fn is_finalized(&self) -> bool {
        self.state == pb::ReplicaState::Finalized
    }
}

/// A block as (id, generation stamp, length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    pub id: BlockId,
    pub generation_stamp: u64,
    pub num_bytes: u64,
}

impl From<&pb::Block> for BlockRef {
    fn from(b: &pb::Block) -> Self {
        Self {
            id: b.id,
            generation_stamp: b.generation_stamp,
            num_bytes: b.num_bytes,
        }
    }
}

impl From<BlockRef> for pb::Block {
    fn from(b: BlockRef) -> Self {
        Self {
            id: b.id,
            generation_stamp: b.generation_stamp,
            num_bytes: b.num_bytes,
        }
    }
}

impl BlockManager {
    pub fn new(min_replication: u32, pending_timeout: Duration) -> Self {
        Self {
            pending_timeout,
            map: BlocksMap::new(min_replication),
            last_block_id: LAST_RESERVED_BLOCK_ID,
            generation_stamp: LAST_RESERVED_GENERATION_STAMP,
            needed: LowRedundancyBlocks::default(),
            pending: HashMap::new(),
            recheck: HashSet::new(),
            recovered_files: Vec::new(),
            recoveries: HashMap::new(),
            failed_transfers: HashMap::new(),
            reported_bad: HashMap::new(),
        }
    }

    pub fn next_block_id(&mut self) -> u64 {
        self.last_block_id += 1;
        self.last_block_id
    }

    pub fn next_generation_stamp(&mut self) -> u64 {
        self.generation_stamp += 1;
        self.generation_stamp
    }

    /// Keeps the counters ahead of a block seen in the log or the image.
    pub fn observe(&mut self, block: &pb::Block) {
        self.last_block_id = self.last_block_id.max(block.id);
        self.generation_stamp = self.generation_stamp.max(block.generation_stamp);
    }

    /// Removes a block (its file was deleted or truncated) and tells every
    /// node that holds it to delete its replica.
    pub fn remove_block(&mut self, dm: &mut DatanodeManager, id: BlockId) {
        let Some((info, corrupt)) = self.map.remove(id) else {
            return;
        };
        let block = info.to_pb(id);
        let holders = info
            .replicas
            .iter()
            .chain(corrupt.iter())
            .chain(info.expected_locations().iter());
        for &node in holders {
            self.queue_invalidate(dm, node, block);
        }
        self.pending.remove(&id);
        self.needed.remove(id);
        self.recheck.remove(&id);
        self.recoveries.remove(&id);
        self.failed_transfers.remove(&id);
        self.reported_bad.remove(&id);
    }

    /// Tells `node` to delete its replica of `block` in its next heartbeat.
    pub fn queue_invalidate(&mut self, dm: &mut DatanodeManager, node: DnIdx, block: pb::Block) {
        if let Some(n) = dm.get_mut(node) {
            n.blocks.remove(&block.id);
            let told = n.excess.entry(block.id).or_default();
            *told = (*told).max(block.generation_stamp);
            n.invalidate.insert(block.id, block);
        }
    }

    /// Forgets a replica (the node deleted it, or did not report it).
    pub fn remove_replica(&mut self, dm: &mut DatanodeManager, node: DnIdx, id: BlockId) {
        if let Some(n) = dm.get_mut(node) {
            n.blocks.remove(&id);
        }
        self.map.remove_corrupt(id, node);
        self.forget_reported_bad(id, node);
        let removed = self
            .map
            .update(id, |b| {
                let before = b.replicas.len();
                b.replicas.retain(|&r| r != node);
                before != b.replicas.len()
            })
            .unwrap_or(false);
        if removed {
            self.recheck.insert(id);
        }
    }

    /// A good replica on `node`.
    fn add_replica(&mut self, dm: &mut DatanodeManager, node: DnIdx, id: BlockId) {
        if let Some(n) = dm.get_mut(node) {
            n.blocks.insert(id);
        }
        self.map.remove_corrupt(id, node);
        let added = self
            .map
            .update(id, |b| {
                if b.replicas.contains(&node) {
                    false
                } else {
                    b.replicas.push(node);
                    true
                }
            })
            .unwrap_or(false);
        if !added {
            return;
        }
        if let Some(p) = self.pending.get_mut(&id) {
            p.targets.retain(|&t| t != node);
            if p.targets.is_empty() {
                self.pending.remove(&id);
            }
        }
        self.failed_transfers.remove(&id);
        if let Some(n) = dm.get_mut(node) {
            n.blocks_scheduled = n.blocks_scheduled.saturating_sub(1);
        }
        self.recheck.insert(id);
    }

    /// Marks the replica on `node` corrupt: it no longer counts, is replaced
    /// through the replication monitor, then deleted.
    pub fn mark_corrupt(
        &mut self,
        dm: &mut DatanodeManager,
        node: DnIdx,
        id: BlockId,
        reason: &str,
    ) {
        if !self.map.contains(id) {
            return;
        }
        let addr = dm.get(node).map(|n| n.xfer_addr()).unwrap_or_default();
        info!(block = id, datanode = %addr, reason, "replica marked corrupt");
        if let Some(n) = dm.get_mut(node) {
            n.blocks.insert(id);
        }
        self.map.update(id, |b| b.replicas.retain(|&r| r != node));
        self.map.add_corrupt(id, node);
        self.forget_pending_target(id, |t| t == node);
        self.recheck.insert(id);
    }

    /// A replica of a complete block that a write left behind (at an older
    /// stamp, or never finalized) is never served and never becomes good.
    /// As HDFS's corruptedDuringWrite, it is deleted at once when the block
    /// has a live replica: kept as corrupt, it would keep its node out of
    /// the block's targets, and on a 3-node cluster leave the block below
    /// its replication for good. With no live replica it stays, as corrupt.
    fn left_behind_by_write(
        &mut self,
        dm: &mut DatanodeManager,
        node: DnIdx,
        reported: BlockRef,
        reason: &str,
    ) {
        let id = reported.id;
        let others: Vec<DnIdx> = self
            .map
            .get(id)
            .map(|b| b.replicas.iter().copied().filter(|&r| r != node).collect())
            .unwrap_or_default();
        let live = dm.count_in_service(&others);
        if live < self.min_replication() {
            self.mark_corrupt(dm, node, id, reason);
            return;
        }
        let addr = dm.get(node).map(|n| n.xfer_addr()).unwrap_or_default();
        info!(block = id, datanode = %addr, reason, "replica left behind by a write: deleting it");
        self.remove_replica(dm, node, id);
        self.forget_pending_target(id, |t| t == node);
        self.queue_invalidate(dm, node, reported.into());
    }

    /// A replica found corrupt by reading it: see [`Self::reported_bad`].
    pub fn mark_reported_bad(
        &mut self,
        dm: &mut DatanodeManager,
        node: DnIdx,
        id: BlockId,
        reason: &str,
    ) {
        if !self.map.contains(id) {
            return;
        }
        let nodes = self.reported_bad.entry(id).or_default();
        if !nodes.contains(&node) {
            nodes.push(node);
        }
        self.mark_corrupt(dm, node, id, reason);
    }

    /// The replica of `id` on `node` is gone, or told to go.
    pub fn forget_reported_bad(&mut self, id: BlockId, node: DnIdx) {
        if let Some(nodes) = self.reported_bad.get_mut(&id) {
            nodes.retain(|&n| n != node);
            if nodes.is_empty() {
                self.reported_bad.remove(&id);
            }
        }
    }

    fn is_reported_bad(&self, id: BlockId, node: DnIdx) -> bool {
        self.reported_bad
            .get(&id)
            .is_some_and(|nodes| nodes.contains(&node))
    }

    /// Stops waiting for the replicas of block `id` that `gone` picks out
    /// (a corrupt one, or a pipeline node left behind under an older
    /// stamp): they will never be reported good, so the monitor must not
    /// count them as on their way.
    pub fn forget_pending_target(&mut self, id: BlockId, gone: impl Fn(DnIdx) -> bool) {
        if let Some(p) = self.pending.get_mut(&id) {
            p.targets.retain(|&t| !gone(t));
            if p.targets.is_empty() {
                self.pending.remove(&id);
            }
        }
        self.recheck.insert(id);
    }

    /// One replica from a block report (HDFS's processReportedBlock).
    pub fn process_reported(
        &mut self,
        dm: &mut DatanodeManager,
        node: DnIdx,
        replica: ReportedReplica,
    ) {
        let reported = replica.block;
        let id = reported.id;
        match dm.get(node).and_then(|n| n.excess.get(&id).copied()) {
            // Already told to delete it; the deletion is on its way.
            Some(told) if reported.generation_stamp <= told => return,
            // Newer than what it was told to delete, which the datanode
            // refuses: its old stamp was reported just before pipeline
            // recovery moved the replica on. It is judged afresh.
            Some(_) => {
                if let Some(n) = dm.get_mut(node) {
                    n.excess.remove(&id);
                    n.invalidate.remove(&id);
                }
            }
            None => {}
        }
        let Some(info) = self.map.get(id) else {
            debug!(
                block = id,
                node, "reported replica belongs to no file: invalidating"
            );
            self.queue_invalidate(dm, node, reported.into());
            return;
        };
        let (state, gs, len) = (info.state, info.generation_stamp, info.num_bytes);
        match state {
            BlockState::Complete | BlockState::Committed => {
                if reported.generation_stamp < gs {
                    self.left_behind_by_write(dm, node, reported, "stale generation stamp");
                } else if state == BlockState::Complete && replica.state == pb::ReplicaState::Rwr {
                    // HDFS's checkReplicaCorrupt: its writer is gone, so it
                    // never finalizes (an rbw copy found on a datanode's
                    // restart); the block's good copies are elsewhere.
                    self.left_behind_by_write(dm, node, reported, "unfinished, its writer gone");
                } else if !replica.is_finalized() {
                    // Still being finalized on that node: wait for its RECEIVED.
                } else if reported.generation_stamp != gs {
                    self.mark_corrupt(dm, node, id, "generation stamp mismatch");
                } else if reported.num_bytes != len {
                    self.mark_corrupt(dm, node, id, "length mismatch");
                } else if self.is_reported_bad(id, node) {
                    // Found corrupt by its scanner or a reader: a report
                    // cannot tell, since the stamp and length still match.
                    // It stays corrupt until it is deleted (HDFS keeps it in
                    // its CorruptReplicasMap across block reports too).
                    debug!(block = id, node, "reported replica is known corrupt");
                } else {
                    self.add_replica(dm, node, id);
                    self.try_complete(id);
                }
            }
            BlockState::UnderConstruction => {
                if reported.generation_stamp < gs && !replica.is_finalized() {
                    // Maybe a pipeline member not yet moved to the new
                    // stamp; once the block is complete a later report
                    // deletes it if it was left behind.
                } else if reported.generation_stamp < gs {
                    // A finalized replica the pipeline moved on without
                    // (HDFS's corruptedDuringWrite): it is never served, so
                    // it is deleted at once rather than kept until the block
                    // completes. Only a replica at the stale stamp goes.
                    info!(
                        block = id,
                        node,
                        stale = reported.generation_stamp,
                        current = gs,
                        "replica left behind by pipeline recovery: deleting it"
                    );
                    self.queue_invalidate(dm, node, reported.into());
                } else if replica.is_finalized() {
                    self.add_replica(dm, node, id);
                } else {
                    self.map.update(id, |b| {
                        let expected = b.expected.get_or_insert_with(Default::default);
                        if !expected.contains(&node) {
                            expected.push(node);
                        }
                    });
                }
            }
            BlockState::UnderRecovery if self.recoveries.contains_key(&id) => {
                // Lease recovery: the primary's commit decides what counts.
            }
            BlockState::UnderRecovery => {
                if replica.is_finalized()
                    && reported.generation_stamp == gs
                    && reported.num_bytes == len
                {
                    self.add_replica(dm, node, id);
                    self.try_complete(id);
                } else if reported.generation_stamp < gs
                    && let Some(n) = dm.get_mut(node)
                {
                    // Not settled yet (or the namenode restarted since it
                    // asked): ask again.
                    n.recover.insert(
                        id,
                        pb::RecoverBlockCommand {
                            block: Some(reported.into()),
                            new_generation_stamp: gs,
                            new_length: len,
                            replicas: Default::default(),
                        },
                    );
                }
            }
        }
    }

    /// COMMITTED or UNDER_RECOVERY → COMPLETE once enough replicas exist.
    pub fn try_complete(&mut self, id: BlockId) -> bool {
        let min = self.min_replication();
        let done = self
            .map
            .update(id, |b| {
                let ready = matches!(b.state, BlockState::Committed | BlockState::UnderRecovery)
                    && b.replicas.len() >= min;
                if ready {
                    let recovered = b.state == BlockState::UnderRecovery;
                    b.state = BlockState::Complete;
                    let unreported: Vec<DnIdx> = b
                        .expected
                        .take()
                        .map(|e| e.into_iter().filter(|n| !b.replicas.contains(n)).collect())
                        .unwrap_or_default();
                    Some((recovered, b.inode, unreported))
                } else {
                    None
                }
            })
            .flatten();
        if let Some((recovered, inode, unreported)) = done {
            if recovered {
                self.recovered_files.push(inode);
            }
            // HDFS's addExpectedReplicasToPending: pipeline nodes that have
            // not reported yet count as pending, so the monitor does not
            // copy the block again while their reports are on the way.
            if !unreported.is_empty() {
                let deadline = Instant::now() + self.pending_timeout;
                let entry = self
                    .pending
                    .entry(id)
                    .or_insert_with(|| PendingReconstruction {
                        targets: Vec::new(),
                        deadline,
                        sources: Vec::new(),
                    });
                entry.targets.extend(unreported);
                entry.deadline = deadline;
            }
            self.recheck.insert(id);
            return true;
        }
        false
    }

    fn min_replication(&self) -> usize {
        self.map.min_replication()
    }

    /// A full block report replaces what the node is known to hold.
    pub fn process_full_report(
        &mut self,
        dm: &mut DatanodeManager,
        node: DnIdx,
        replicas: &[ReportedReplica],
    ) -> (usize, usize) {
        let reported: HashSet<BlockId> = replicas.iter().map(|r| r.block.id).collect();
        let (gone, confirmed_deleted): (Vec<BlockId>, Vec<BlockId>) = match dm.get(node) {
            Some(n) => (
                n.blocks
                    .iter()
                    .filter(|id| !reported.contains(id))
                    .collect(),
                n.excess
                    .keys()
                    .copied()
                    .filter(|id| !reported.contains(id))
                    .collect(),
            ),
            None => return (0, 0),
        };
        if let Some(n) = dm.get_mut(node) {
            for id in &confirmed_deleted {
                n.excess.remove(id);
            }
        }
        for &id in &gone {
            self.remove_replica(dm, node, id);
        }
        let before = dm.get(node).map(|n| n.blocks.len()).unwrap_or(0);
        for replica in replicas {
            self.process_reported(dm, node, *replica);
        }
        let after = dm.get(node).map(|n| n.blocks.len()).unwrap_or(0);
        (after.saturating_sub(before), gone.len())
    }

    /// An incremental report: replicas received, being received, deleted.
    pub fn process_incremental(
        &mut self,
        dm: &mut DatanodeManager,
        node: DnIdx,
        items: &[pb::ReceivedDeletedBlock],
    ) {
        for item in items {
            let Some(block) = item.block.as_ref() else {
                continue;
            };
            let block = BlockRef::from(block);
            match pb::ReceivedDeletedStatus::try_from(item.status) {
                Ok(pb::ReceivedDeletedStatus::Received) => {
                    self.process_reported(dm, node, ReportedReplica::finalized(block))
                }
                Ok(pb::ReceivedDeletedStatus::Receiving) => self.process_reported(
                    dm,
                    node,
                    ReportedReplica {
                        block,
                        state: pb::ReplicaState::Rbw,
                    },
                ),
                Ok(pb::ReceivedDeletedStatus::Deleted) => {
                    if let Some(n) = dm.get_mut(node) {
                        n.excess.remove(&block.id);
                    }
                    self.remove_replica(dm, node, block.id);
                }
                Err(_) => warn!(
                    status = item.status,
                    "unknown status in an incremental block report"
                ),
            }
        }
    }

    /// A dead node's replicas no longer count; its blocks are re-checked.
    pub fn node_dead(&mut self, dm: &mut DatanodeManager, node: DnIdx) {
        let held: Vec<BlockId> = dm
            .get(node)
            .map(|n| n.blocks.iter().collect())
            .unwrap_or_default();
        for id in held {
            self.remove_replica(dm, node, id);
        }
        for p in self.pending.values_mut() {
            p.targets.retain(|&t| t != node);
            p.sources.retain(|&s| s != node);
        }
        self.pending.retain(|id, p| {
            if p.targets.is_empty() {
                self.recheck.insert(*id);
                false
            } else {
                true
            }
        });
        if let Some(n) = dm.get_mut(node) {
            n.clear_state();
        }
    }

    /// Inserts a new block of a file (add_block, replay, image load).
    pub fn add_block(&mut self, id: BlockId, info: BlockInfo) {
        self.last_block_id = self.last_block_id.max(id);
        self.generation_stamp = self.generation_stamp.max(info.generation_stamp);
        self.map.insert(id, info);
    }

    /// Replicas of a block in the order readers should try them: live and
    /// fresh first, stale after; corrupt only when nothing else is left.
    pub fn sorted_locations(
        &self,
        dm: &DatanodeManager,
        id: BlockId,
        now: Instant,
        stale: std::time::Duration,
    ) -> (Vec<DnIdx>, bool) {
        let Some(info) = self.map.get(id) else {
            return (Vec::new(), false);
        };
        let mut live: Vec<DnIdx> = info
            .replicas
            .iter()
            .copied()
            .filter(|&n| dm.get(n).is_some_and(|d| d.alive))
            .collect();
        for &n in info.expected_locations() {
            if !live.contains(&n) && dm.get(n).is_some_and(|d| d.alive) {
                live.push(n);
            }
        }
        if live.is_empty() {
            let corrupt = self.map.corrupt_replicas(id).to_vec();
            let all_corrupt = !corrupt.is_empty();
            return (corrupt, all_corrupt);
        }
        use rand::seq::SliceRandom;
        live.shuffle(&mut rand::rng());
        // Decommissioning and decommissioned nodes last, as HDFS sorts them.
        live.sort_by_key(|&n| {
            dm.get(n)
                .map(|d| (!d.in_service(), d.is_stale(now, stale)))
                .unwrap_or((true, true))
        });
        (live, false)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::NamenodeConfig;

    pub(crate) fn cluster(n: u32) -> DatanodeManager {
        let config = NamenodeConfig::default();
        let mut dm = DatanodeManager::default();
        for i in 0..n {
            dm.register(
                &pb::DatanodeRegistration {
                    datanode_uuid: format!("dn{i}"),
                    host: "127.0.0.1".into(),
                    xfer_port: i,
                    ..Default::default()
                },
                &config,
                Instant::now(),
            );
        }
        dm
    }

    pub(crate) fn complete_block(bm: &mut BlockManager, id: BlockId) -> BlockRef {
        bm.add_block(
            id,
            BlockInfo {
                generation_stamp: 1001,
                num_bytes: 100,
                inode: 16386,
                replication: 2,
                state: BlockState::Complete,
                replicas: Default::default(),
                expected: None,
            },
        );
        BlockRef {
            id,
            generation_stamp: 1001,
            num_bytes: 100,
        }
    }

    #[test]
    fn reports_add_replicas_and_flag_bad_ones() {
        let mut dm = cluster(3);
        let mut bm = BlockManager::new(1, Duration::from_secs(300));
        let good = complete_block(&mut bm, 5);
        assert_eq!(bm.map.safe_counts(), (0, 1));

        bm.process_full_report(&mut dm, 0, &[ReportedReplica::finalized(good)]);
        assert_eq!(bm.map.get(5).unwrap().replicas, vec![0]);
        assert_eq!(bm.map.safe_counts(), (1, 1));

        // Stale stamp beside a live replica: left behind by a write,
        // deleted at once. Wrong length: corrupt. Neither counts.
        let stale = BlockRef {
            generation_stamp: 1000,
            ..good
        };
        bm.process_full_report(&mut dm, 1, &[ReportedReplica::finalized(stale)]);
        let short = BlockRef {
            num_bytes: 99,
            ..good
        };
        bm.process_full_report(&mut dm, 2, &[ReportedReplica::finalized(short)]);
        assert_eq!(bm.map.get(5).unwrap().replicas, vec![0]);
        assert_eq!(bm.map.corrupt_replicas(5), &[2]);
        assert_eq!(dm.get(1).unwrap().invalidate.get(&5), Some(&stale.into()));

        // A block of no file is deleted on sight.
        let orphan = BlockRef {
            id: 77,
            generation_stamp: 1,
            num_bytes: 1,
        };
        bm.process_full_report(
            &mut dm,
            0,
            &[
                ReportedReplica::finalized(good),
                ReportedReplica::finalized(orphan),
            ],
        );
        assert!(dm.get(0).unwrap().invalidate.contains_key(&77));
        // Reported again before the deletion happened: still ignored.
        bm.process_full_report(
            &mut dm,
            0,
            &[
                ReportedReplica::finalized(good),
                ReportedReplica::finalized(orphan),
            ],
        );
        assert!(!bm.map.contains(77));

        // A full report without the block removes the replica.
        bm.process_full_report(&mut dm, 0, &[]);
        assert!(bm.map.get(5).unwrap().replicas.is_empty());
        assert_eq!(bm.map.safe_counts(), (0, 1));
        assert!(
            !dm.get(0).unwrap().excess.contains_key(&77),
            "deletion confirmed"
        );
    }

    #[test]
    fn dead_nodes_lose_their_replicas_and_deleted_blocks_are_invalidated() {
        let mut dm = cluster(2);
        let mut bm = BlockManager::new(1, Duration::from_secs(300));
        let b = complete_block(&mut bm, 9);
        bm.process_full_report(&mut dm, 0, &[ReportedReplica::finalized(b)]);
        bm.process_full_report(&mut dm, 1, &[ReportedReplica::finalized(b)]);
        assert_eq!(bm.map.get(9).unwrap().replicas.len(), 2);
        bm.node_dead(&mut dm, 1);
        assert_eq!(bm.map.get(9).unwrap().replicas, vec![0]);
        assert!(dm.get(1).unwrap().blocks.is_empty());
        bm.remove_block(&mut dm, 9);
        assert!(!bm.map.contains(9));
        assert_eq!(dm.get(0).unwrap().invalidate.get(&9).map(|b| b.id), Some(9));
        assert_eq!(bm.map.safe_counts(), (0, 0));
    }

    #[test]
    fn a_replica_found_corrupt_stays_corrupt_when_reported_again() {
        let mut dm = cluster(3);
        let mut bm = BlockManager::new(1, Duration::from_secs(300));
        let b = complete_block(&mut bm, 4);
        for node in 0..2 {
            bm.process_full_report(&mut dm, node, &[ReportedReplica::finalized(b)]);
        }
        // Its scanner found the replica on dn1 corrupt; the next full
        // report (same stamp, same length) cannot tell, so it stays so.
        bm.mark_reported_bad(&mut dm, 1, 4, "reported bad");
        bm.process_full_report(&mut dm, 1, &[ReportedReplica::finalized(b)]);
        assert_eq!(bm.map.get(4).unwrap().replicas, vec![0]);
        assert_eq!(bm.map.corrupt_replicas(4), &[1]);
        // Once it is gone (deleted, or the node died), a new copy counts.
        bm.process_full_report(&mut dm, 1, &[]);
        assert!(bm.map.corrupt_replicas(4).is_empty());
        bm.process_full_report(&mut dm, 1, &[ReportedReplica::finalized(b)]);
        assert_eq!(bm.map.get(4).unwrap().replicas, vec![0, 1]);
    }

    #[test]
    fn a_finalized_replica_left_behind_by_the_pipeline_is_deleted_at_once() {
        let mut dm = cluster(2);
        let mut bm = BlockManager::new(1, Duration::from_secs(300));
        let old = complete_block(&mut bm, 6);
        bm.map.update(6, |i| {
            i.state = BlockState::UnderConstruction;
            i.generation_stamp = 1002;
        });
        // A replica still being written at the old stamp may yet be moved
        // to the new one: left alone.
        bm.process_full_report(
            &mut dm,
            1,
            &[ReportedReplica {
                block: old,
                state: pb::ReplicaState::Rbw,
            }],
        );
        assert!(dm.get(1).unwrap().invalidate.is_empty());
        // A finalized one at the old stamp never will: deleted.
        bm.process_full_report(&mut dm, 0, &[ReportedReplica::finalized(old)]);
        assert_eq!(dm.get(0).unwrap().invalidate.get(&6), Some(&old.into()));
        assert!(bm.map.get(6).unwrap().replicas.is_empty());
    }

    /// Copies a write left behind on a complete block — an older stamp,
    /// or an rbw copy whose writer is gone (RWR, reported after a
    /// datanode's restart) — go at once while another replica is live,
    /// so their nodes can take a good copy; with none live a stale copy
    /// stays, as corrupt. An RWR copy of a block still being written is a
    /// pipeline node's, left alone.
    #[test]
    fn copies_left_behind_by_a_write_go_once_a_live_replica_exists() {
        let mut dm = cluster(3);
        let mut bm = BlockManager::new(1, Duration::from_secs(300));
        let good = complete_block(&mut bm, 5);
        let stale = BlockRef {
            generation_stamp: 1000,
            ..good
        };
        let rwr = |block| ReportedReplica {
            block,
            state: pb::ReplicaState::Rwr,
        };

        bm.process_full_report(&mut dm, 1, &[ReportedReplica::finalized(stale)]);
        assert_eq!(bm.map.corrupt_replicas(5), &[1], "the only copy is kept");
        assert!(dm.get(1).unwrap().invalidate.is_empty());

        bm.process_full_report(&mut dm, 0, &[ReportedReplica::finalized(good)]);
        bm.process_full_report(&mut dm, 1, &[ReportedReplica::finalized(stale)]);
        bm.process_full_report(&mut dm, 2, &[rwr(good)]);
        for node in [1, 2] {
            assert!(dm.get(node).unwrap().invalidate.contains_key(&5));
        }
        assert!(bm.map.corrupt_replicas(5).is_empty());
        assert_eq!(bm.map.get(5).unwrap().replicas, vec![0]);

        let writing = complete_block(&mut bm, 6);
        bm.map
            .update(6, |i| i.state = BlockState::UnderConstruction);
        bm.process_full_report(&mut dm, 2, &[rwr(writing)]);
        assert!(!dm.get(2).unwrap().invalidate.contains_key(&6));
        assert_eq!(bm.map.get(6).unwrap().expected_locations(), &[2]);
    }

    /// The chaos run that stayed at 2 of 3 replicas: a pipeline node's
    /// RECEIVED at the old stamp came in after recovery had bumped it, so
    /// the namenode told the node to delete that copy; the node refused
    /// (its replica had moved on to the new stamp), and its RECEIVED at
    /// the new stamp must then count, not be ignored as "deletion on its
    /// way" (which also kept the node out of the block's targets).
    #[test]
    fn a_replica_moved_to_the_new_stamp_counts_after_its_old_stamp_was_told_to_go() {
        let mut dm = cluster(3);
        let mut bm = BlockManager::new(1, Duration::from_secs(300));
        let old = complete_block(&mut bm, 8);
        bm.map.update(8, |i| {
            i.state = BlockState::UnderConstruction;
            i.generation_stamp = 1002;
        });
        let received = |block: BlockRef| pb::ReceivedDeletedBlock {
            block: Some(block.into()),
            status: pb::ReceivedDeletedStatus::Received as i32,
            storage_id: String::new(),
        };
        bm.process_incremental(&mut dm, 0, &[received(old)]);
        assert_eq!(dm.get(0).unwrap().excess.get(&8), Some(&1001));

        // Reported again at the old stamp: the deletion is on its way.
        bm.process_incremental(&mut dm, 0, &[received(old)]);
        assert!(bm.map.get(8).unwrap().replicas.is_empty());

        let new = BlockRef {
            generation_stamp: 1002,
            ..old
        };
        bm.process_incremental(&mut dm, 0, &[received(new)]);
        let node = dm.get(0).unwrap();
        assert!(!node.excess.contains_key(&8));
        assert!(
            node.invalidate.is_empty(),
            "the refused deletion is not sent"
        );
        assert_eq!(bm.map.get(8).unwrap().replicas, vec![0]);
    }

    #[test]
    fn committed_block_completes_with_min_replication() {
        let mut dm = cluster(1);
        let mut bm = BlockManager::new(1, Duration::from_secs(300));
        let b = complete_block(&mut bm, 3);
        bm.map.update(3, |i| {
            i.state = BlockState::Committed;
            i.expected = Some(Box::new(vec![0]));
        });
        assert!(!bm.try_complete(3));
        bm.process_incremental(
            &mut dm,
            0,
            &[pb::ReceivedDeletedBlock {
                block: Some(b.into()),
                status: pb::ReceivedDeletedStatus::Received as i32,
                storage_id: String::new(),
            }],
        );
        assert_eq!(bm.map.get(3).unwrap().state, BlockState::Complete);
        assert_eq!(bm.map.safe_counts(), (1, 1));
    }
}
