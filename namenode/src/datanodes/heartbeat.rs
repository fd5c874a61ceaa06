//! The namesystem's side of DatanodeProtocol (registration, heartbeats,
//! block reports, bad blocks) and the cluster-wide reports built from
//! datanode state (getFsStats, getDatanodeReport, setSafeMode).

use std::time::Instant;

use cairn_proto::pb;
use tracing::info;

use crate::blocks::manager::{BlockRef, ReportedReplica};
use crate::error::{NamenodeError, Result};
use crate::namesystem::Namesystem;

impl Namesystem {
    pub fn register_datanode(
        &mut self,
        reg: &pb::DatanodeRegistration,
    ) -> Result<pb::DatanodeRegistration> {
        if reg.datanode_uuid.is_empty() {
            return Err(NamenodeError::InvalidArgument(format!(
                "datanode at {}:{} registered without a uuid",
                reg.host, reg.xfer_port
            )));
        }
        if reg.cluster_id != self.cluster_id {
            return Err(NamenodeError::ClusterIdMismatch(format!(
                "datanode {} at {}:{} belongs to cluster {}, this namenode serves {}",
                reg.datanode_uuid, reg.host, reg.xfer_port, reg.cluster_id, self.cluster_id
            )));
        }
        let now = Instant::now();
        let idx = self.datanodes.register(reg, &self.config, now);
        // Whatever we believed it held is replaced by its full block report.
        self.blocks.node_dead(&mut self.datanodes, idx);
        Ok(reg.clone())
    }

    pub fn heartbeat(&mut self, req: &pb::HeartbeatRequest) -> Result<Vec<pb::DatanodeCommand>> {
        let now = Instant::now();
        let idx = self.datanodes.heartbeat(req, now)?;
        let in_safe_mode = self.safemode.is_on();
        // A node with nothing left to copy gets its next transfers in this
        // reply rather than after the next monitor round: a datanode whose
        // transfer ended heartbeats early for them (each round's work is
        // bounded, so this stays cheap).
        if !in_safe_mode
            && self
                .datanodes
                .get(idx)
                .is_some_and(|n| n.transfers.is_empty())
        {
            self.blocks
                .compute_redundancy_work(&mut self.datanodes, &self.config, now, false);
        }
        Ok(self.datanodes.take_commands(idx, in_safe_mode))
    }

    /// A full block report; returns the txid of files it let close.
    pub fn block_report(&mut self, req: &pb::BlockReportRequest) -> Result<u64> {
        let idx = self.datanodes.live_idx(&req.datanode_uuid)?;
        let replicas: Vec<ReportedReplica> = req
            .replicas
            .iter()
            .filter_map(|r| {
                r.block.as_ref().map(|b| ReportedReplica {
                    block: BlockRef::from(b),
                    state: r.state(),
                })
            })
            .collect();
        let (added, removed) = self
            .blocks
            .process_full_report(&mut self.datanodes, idx, &replicas);
        if let Some(node) = self.datanodes.get_mut(idx) {
            node.block_report_received = true;
        }
        info!(
            datanode = %req.datanode_uuid,
            replicas = replicas.len(),
            added,
            removed,
            "processed full block report"
        );
        self.update_safe_mode();
        self.close_recovered_files()
    }

    pub fn block_received_and_deleted(
        &mut self,
        req: &pb::BlockReceivedAndDeletedRequest,
    ) -> Result<u64> {
        let idx = self.datanodes.live_idx(&req.datanode_uuid)?;
        self.blocks
            .process_incremental(&mut self.datanodes, idx, &req.blocks);
        self.update_safe_mode();
        self.close_recovered_files()
    }

    /// Replicas a datanode (its scanner) or a client found corrupt.
    pub fn report_bad_blocks(&mut self, uuid: &str, blocks: &[pb::Block]) -> Result<()> {
        let idx = self.datanodes.idx_of(uuid).ok_or_else(|| {
            NamenodeError::UnregisteredDatanode(format!(
                "datanode {uuid} is not registered with this namenode"
            ))
        })?;
        for b in blocks {
            self.blocks
                .mark_reported_bad(&mut self.datanodes, idx, b.id, "reported bad");
        }
        Ok(())
    }

    /// ClientProtocol's reportBadBlocks: each listed location is corrupt.
    pub fn client_report_bad_blocks(&mut self, blocks: &[pb::LocatedBlock]) {
        for lb in blocks {
            let Some(block) = &lb.block else {
                continue;
            };
            for loc in &lb.locations {
                if let Some(idx) = self.datanodes.idx_of(&loc.datanode_uuid) {
                    self.blocks.mark_reported_bad(
                        &mut self.datanodes,
                        idx,
                        block.id,
                        "reported bad by a client",
                    );
                    if let Some(node) = self.datanodes.get_mut(idx) {
                        node.verify.push(*block);
                    }
                }
            }
        }
    }

    /// Declares silent datanodes dead; their blocks are re-checked.
    pub fn check_heartbeats(&mut self) {
        let dead = self
            .datanodes
            .check_dead(Instant::now(), self.config.dead_interval);
        for idx in dead {
            self.blocks.node_dead(&mut self.datanodes, idx);
        }
        self.check_decommission();
    }

    pub fn fs_stats(&self) -> pb::FsStats {
        let mut stats = pb::FsStats::default();
        for n in self.datanodes.alive() {
            stats.capacity += n.capacity;
            stats.used += n.dfs_used;
            stats.remaining += n.remaining;
            stats.non_dfs_used += n.non_dfs_used;
            stats.pending_deletion += n.invalidate.len() as u64;
        }
        stats.under_replicated = self.blocks.needed.len_repairable() as u64;
        stats.missing_blocks = self.blocks.needed.len_missing() as u64;
        stats.corrupt_blocks = self.blocks.map.num_corrupt_blocks() as u64;
        stats.total_blocks = self.blocks.map.len() as u64;
        stats.total_files = self.dir.len() as u64;
        stats
    }

    pub fn datanode_report(&self, kind: pb::DatanodeReportType) -> Vec<pb::DatanodeInfo> {
        self.datanodes
            .report(kind, Instant::now(), self.config.stale_interval)
    }

    /// dfsadmin -safemode get|enter|leave.
    pub fn set_safe_mode(&mut self, action: pb::SafeModeAction) -> pb::SetSafeModeResponse {
        let now = Instant::now();
        match action {
            pb::SafeModeAction::SafemodeGet => {}
            pb::SafeModeAction::SafemodeEnter => self.safemode.enter_manually(),
            pb::SafeModeAction::SafemodeLeave => self.safemode.leave_manually(now),
        }
        self.safe_mode_report()
    }

    /// Whether safe mode is on, with HDFS's status text.
    pub fn safe_mode_report(&self) -> pb::SetSafeModeResponse {
        let (safe, total) = self.blocks.map.safe_counts();
        pb::SetSafeModeResponse {
            on: self.safemode.is_on(),
            status: self.safemode.status(safe, total, Instant::now()),
        }
    }
}
