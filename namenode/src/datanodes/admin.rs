//! DatanodeAdminManager: decommissioning and recommissioning.
//!
//! A decommissioning node takes no new blocks (placement wants nodes in
//! service), stays a source for reads and copies, and its replicas no
//! longer count towards a block's replication, so the RedundancyMonitor
//! copies them elsewhere. Once every block it holds has enough replicas on
//! nodes in service, the node is DECOMMISSIONED and can be stopped.
//!
//! HDFS keeps the decommissioned set in its exclude file (`dfs.hosts.exclude`)
//! and re-reads it on `refreshNodes`. Cairn keeps the same list — one
//! `host:port` per line — in `<name-dir>/excluded-datanodes`, written by
//! `dfsadmin -decommission` / `-recommission` (write to a temporary file,
//! fsync, rename, fsync the directory) and read at start-up. A listed node
//! that registers starts decommissioning again, as in HDFS, and is
//! declared decommissioned as soon as its block report shows its blocks are
//! safe elsewhere.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use cairn_proto::pb;
use tracing::info;

use crate::blocks::blocks_map::BlockState;
use crate::datanodes::descriptor::DnIdx;
use crate::datanodes::manager::DatanodeManager;
use crate::error::{NamenodeError, Result};
use crate::namespace::inode::BlockId;
use crate::namesystem::Namesystem;

/// The file in the name directory that lists decommissioned datanodes.
pub const EXCLUDE_FILE: &str = "excluded-datanodes";

/// The exclude list's path in `name_dir`.
pub fn exclude_path(name_dir: &Path) -> PathBuf {
    name_dir.join(EXCLUDE_FILE)
}

/// Reads the exclude list; a missing file is an empty list.
pub fn read_excluded(name_dir: &Path) -> Result<BTreeSet<String>> {
    let path = exclude_path(name_dir);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(parse_excluded(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(NamenodeError::io(format!("reading {}", path.display()), e)),
    }
}

/// One `host:port` per line; blank lines and `#` comments are skipped.
fn parse_excluded(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Replaces the exclude list durably.
pub fn write_excluded(name_dir: &Path, excluded: &BTreeSet<String>) -> Result<()> {
    let path = exclude_path(name_dir);
    let tmp = name_dir.join(format!("{EXCLUDE_FILE}.tmp"));
    let mut text = String::from("# Datanodes decommissioned with `cairn dfsadmin -decommission`\n");
    for addr in excluded {
        text.push_str(addr);
        text.push('\n');
    }
    let io = |what: &str, e| NamenodeError::io(format!("{what} {}", tmp.display()), e);
    let mut file = File::create(&tmp).map_err(|e| io("creating", e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| io("writing", e))?;
    file.sync_all().map_err(|e| io("syncing", e))?;
    fs::rename(&tmp, &path).map_err(|e| io("renaming", e))?;
    File::open(name_dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| NamenodeError::io(format!("syncing {}", name_dir.display()), e))
}

impl DatanodeManager {
    /// The node whose data-transfer address is `addr` ("host:port").
    pub fn idx_by_addr(&self, addr: &str) -> Option<DnIdx> {
        self.iter().find(|n| n.xfer_addr() == addr).map(|n| n.idx)
    }

    /// How many of `replicas` count towards a block's replication: those
    /// on live nodes in service (not decommissioning or decommissioned).
    pub fn count_in_service(&self, replicas: &[DnIdx]) -> usize {
        replicas
            .iter()
            .filter(|&&r| self.get(r).is_some_and(|n| n.in_service()))
            .count()
    }

    /// Live nodes in service: the most replicas a block can have counted.
    pub fn num_in_service(&self) -> usize {
        self.iter().filter(|n| n.in_service()).count()
    }
}

impl Namesystem {
    /// `dfsadmin -decommission|-recommission host:port`: changes the node's
    /// admin state, persists the exclude list, and has the monitor look at
    /// the node's blocks again (copy them away, or drop what became excess).
    pub fn set_datanode_admin_state(
        &mut self,
        addr: &str,
        action: pb::DatanodeAdminAction,
    ) -> Result<pb::DatanodeInfo> {
        let idx = self.datanodes.idx_by_addr(addr).ok_or_else(|| {
            let known: Vec<String> = self.datanodes.iter().map(|n| n.xfer_addr()).collect();
            NamenodeError::NotFound(format!(
                "Datanode {addr} is not known to the namenode (known datanodes: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        let mut excluded = self.datanodes.excluded.clone();
        match action {
            pb::DatanodeAdminAction::Decommission => excluded.insert(addr.to_string()),
            pb::DatanodeAdminAction::Recommission => excluded.remove(addr),
        };
        if excluded != self.datanodes.excluded {
            write_excluded(&self.config.name_dir, &excluded)?;
            self.datanodes.excluded = excluded;
        }
        let blocks: Vec<BlockId> = match self.datanodes.get_mut(idx) {
            Some(node) => {
                let new_state = match action {
                    pb::DatanodeAdminAction::Decommission => {
                        if node.admin_state == pb::AdminState::Normal {
                            pb::AdminState::DecommissionInProgress
                        } else {
                            node.admin_state
                        }
                    }
                    pb::DatanodeAdminAction::Recommission => pb::AdminState::Normal,
                };
                if new_state != node.admin_state {
                    info!(datanode = %addr, from = ?node.admin_state, to = ?new_state, "admin state changed");
                    node.admin_state = new_state;
                }
                node.blocks.iter().collect()
            }
            None => Vec::new(),
        };
        self.blocks.recheck.extend(blocks);
        self.check_decommission();
        self.datanodes
            .info(idx, Instant::now(), self.config.stale_interval)
            .ok_or_else(|| NamenodeError::Internal(format!("datanode {addr} vanished")))
    }

    /// HDFS's DatanodeAdminMonitor round: a decommissioning node whose
    /// every block has enough replicas on nodes in service becomes
    /// DECOMMISSIONED.
    pub fn check_decommission(&mut self) {
        let in_service = self.datanodes.num_in_service();
        let draining: Vec<DnIdx> = self
            .datanodes
            .iter()
            .filter(|n| n.admin_state == pb::AdminState::DecommissionInProgress)
            .map(|n| n.idx)
            .collect();
        for idx in draining {
            let Some(node) = self.datanodes.get(idx) else {
                continue;
            };
            if node.alive && !node.block_report_received {
                continue;
            }
            let waiting = node
                .blocks
                .iter()
                .filter(|&id| !self.safe_elsewhere(id, in_service))
                .count();
            if waiting > 0 {
                continue;
            }
            let addr = node.xfer_addr();
            if let Some(node) = self.datanodes.get_mut(idx) {
                node.admin_state = pb::AdminState::Decommissioned;
            }
            info!(datanode = %addr, "decommission complete: every block has its replicas on nodes in service");
        }
    }

    /// Whether block `id` needs nothing more from a decommissioning node:
    /// complete, with as many in-service replicas as it wants (or as there
    /// are nodes in service, when there are fewer).
    fn safe_elsewhere(&self, id: BlockId, in_service: usize) -> bool {
        let Some(info) = self.blocks.map.get(id) else {
            return true;
        };
        if info.state != BlockState::Complete {
            return false;
        }
        let wanted = usize::from(info.replication).min(in_service).max(1);
        self.datanodes.count_in_service(&info.replicas) >= wanted
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::blocks::blocks_map::BlockInfo;
    use crate::blocks::manager::{BlockRef, ReportedReplica};
    use crate::config::NamenodeConfig;

    fn report(ns: &mut Namesystem, node: DnIdx, block: BlockRef) {
        let replica = ReportedReplica::finalized(block);
        let held: Vec<ReportedReplica> = ns
            .datanodes
            .get(node)
            .map(|n| {
                n.blocks
                    .iter()
                    .map(|id| ReportedReplica::finalized(BlockRef { id, ..block }))
            })
            .into_iter()
            .flatten()
            .chain([replica])
            .collect();
        ns.blocks
            .process_full_report(&mut ns.datanodes, node, &held);
        if let Some(n) = ns.datanodes.get_mut(node) {
            n.block_report_received = true;
        }
    }

    #[test]
    fn decommission_copies_replicas_away_then_finishes_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let config = Arc::new(NamenodeConfig {
            name_dir: dir.path().to_path_buf(),
            ..Default::default()
        });
        let mut ns = Namesystem::new(Arc::clone(&config), "CID-test".into());
        for i in 0..3u32 {
            let reg = pb::DatanodeRegistration {
                datanode_uuid: format!("dn{i}"),
                host: "127.0.0.1".into(),
                xfer_port: 9000 + i,
                ..Default::default()
            };
            ns.datanodes.register(&reg, &config, Instant::now());
            ns.datanodes
                .heartbeat(
                    &pb::HeartbeatRequest {
                        datanode_uuid: format!("dn{i}"),
                        capacity: 1 << 40,
                        remaining: 1 << 40,
                        ..Default::default()
                    },
                    Instant::now(),
                )
                .unwrap();
        }
        let block = BlockRef {
            id: 1 << 30 | 1,
            generation_stamp: 1001,
            num_bytes: 10,
        };
        ns.blocks.add_block(
            block.id,
            BlockInfo {
                generation_stamp: 1001,
                num_bytes: 10,
                inode: 16386,
                replication: 2,
                state: BlockState::Complete,
                replicas: Default::default(),
                expected: None,
            },
        );
        report(&mut ns, 0, block);
        report(&mut ns, 1, block);

        let info = ns
            .set_datanode_admin_state("127.0.0.1:9000", pb::DatanodeAdminAction::Decommission)
            .unwrap();
        assert_eq!(
            info.admin_state,
            pb::AdminState::DecommissionInProgress as i32
        );
        assert_eq!(
            read_excluded(dir.path()).unwrap(),
            ["127.0.0.1:9000".to_string()].into()
        );
        // Its replica no longer counts: the monitor copies the block to
        // the one node in service without it.
        let work =
            ns.blocks
                .compute_redundancy_work(&mut ns.datanodes, &config, Instant::now(), false);
        assert_eq!(work.transfers, 1);
        let scheduled = ns.datanodes.get(2).map(|n| n.blocks_scheduled);
        assert_eq!(scheduled, Some(1));
        ns.check_decommission();
        assert_eq!(
            ns.datanodes.get(0).unwrap().admin_state,
            pb::AdminState::DecommissionInProgress
        );
        report(&mut ns, 2, block);
        ns.check_decommission();
        assert_eq!(
            ns.datanodes.get(0).unwrap().admin_state,
            pb::AdminState::Decommissioned
        );
        // Decommissioned replicas are kept (not excess) and readers get
        // them last.
        ns.blocks
            .compute_redundancy_work(&mut ns.datanodes, &config, Instant::now(), false);
        assert_eq!(ns.blocks.map.get(block.id).unwrap().replicas.len(), 3);
        let (order, _) = ns.blocks.sorted_locations(
            &ns.datanodes,
            block.id,
            Instant::now(),
            config.stale_interval,
        );
        assert_eq!(order.last(), Some(&0));

        // Back in service: one replica is now excess and is deleted.
        ns.set_datanode_admin_state("127.0.0.1:9000", pb::DatanodeAdminAction::Recommission)
            .unwrap();
        assert!(read_excluded(dir.path()).unwrap().is_empty());
        let work =
            ns.blocks
                .compute_redundancy_work(&mut ns.datanodes, &config, Instant::now(), false);
        assert_eq!(work.excess_invalidated, 1);
        assert!(
            ns.set_datanode_admin_state("10.0.0.1:1", pb::DatanodeAdminAction::Decommission)
                .is_err()
        );
    }

    #[test]
    fn exclude_list_round_trips_durably() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_excluded(dir.path()).unwrap().is_empty());
        let list: BTreeSet<String> = ["127.0.0.1:9866", "10.0.0.2:9866"].map(String::from).into();
        write_excluded(dir.path(), &list).unwrap();
        assert_eq!(read_excluded(dir.path()).unwrap(), list);
        assert!(!dir.path().join("excluded-datanodes.tmp").exists());
        assert_eq!(
            parse_excluded("# c\n\n  a:1  \nb:2\n"),
            ["a:1", "b:2"].map(String::from).into()
        );
    }
}
