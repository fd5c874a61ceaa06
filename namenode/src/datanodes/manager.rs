//! DatanodeManager + HeartbeatManager: registration by uuid, heartbeats,
//! and the stale/dead verdicts that follow from their absence.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use cairn_proto::pb;
use tracing::{info, warn};

use crate::config::NamenodeConfig;
use crate::datanodes::descriptor::{DatanodeDescriptor, DnIdx};
use crate::error::{NamenodeError, Result};

/// Invalidations sent in one heartbeat reply (HDFS's blockInvalidateLimit).
const INVALIDATE_PER_HEARTBEAT: usize = 1000;

#[derive(Debug, Default)]
pub struct DatanodeManager {
    nodes: Vec<DatanodeDescriptor>,
    by_uuid: HashMap<String, DnIdx>,
    /// "host:port" of the decommissioned (or decommissioning) datanodes,
    /// as kept in the name directory (see `datanodes/admin.rs`).
    pub excluded: BTreeSet<String>,
}

impl DatanodeManager {
    pub fn get(&self, idx: DnIdx) -> Option<&DatanodeDescriptor> {
        self.nodes.get(idx as usize)
    }

    pub fn get_mut(&mut self, idx: DnIdx) -> Option<&mut DatanodeDescriptor> {
        self.nodes.get_mut(idx as usize)
    }

    pub fn idx_of(&self, uuid: &str) -> Option<DnIdx> {
        self.by_uuid.get(uuid).copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = &DatanodeDescriptor> {
        self.nodes.iter()
    }

    pub fn alive(&self) -> impl Iterator<Item = &DatanodeDescriptor> {
        self.nodes.iter().filter(|n| n.alive)
    }

    pub fn num_alive(&self) -> usize {
        self.alive().count()
    }

    /// A live node by uuid, or UNREGISTERED_DATANODE: the datanode must
    /// register again (and then send a full block report).
    pub fn live_idx(&self, uuid: &str) -> Result<DnIdx> {
        match self.by_uuid.get(uuid) {
            Some(&idx) if self.nodes.get(idx as usize).is_some_and(|n| n.alive) => Ok(idx),
            _ => Err(NamenodeError::UnregisteredDatanode(format!(
                "datanode {uuid} is not registered with this namenode: register again and send a full block report"
            ))),
        }
    }

    /// Registers a datanode, or updates a known uuid with its new address.
    /// Returns its index and whether it was new or had been declared dead
    /// (then its replicas are unknown until its block report).
    pub fn register(
        &mut self,
        registration: &pb::DatanodeRegistration,
        config: &NamenodeConfig,
        now: Instant,
    ) -> DnIdx {
        let rack = config.rack_of(&registration.host, registration.xfer_port);
        if let Some(&idx) = self.by_uuid.get(&registration.datanode_uuid)
            && let Some(node) = self.nodes.get_mut(idx as usize)
        {
            if !node.alive {
                info!(uuid = %node.uuid, addr = %format!("{}:{}", registration.host, registration.xfer_port), "dead datanode registered again");
            }
            node.host = registration.host.clone();
            node.xfer_port = registration.xfer_port;
            node.http_port = registration.http_port;
            node.storage_ids = registration.storage_ids.clone();
            node.rack = rack;
            node.alive = true;
            node.last_heartbeat = now;
            node.last_heartbeat_ms = crate::now_ms();
            node.block_report_received = false;
            Self::apply_exclusion(&self.excluded, node);
            return idx;
        }
        let idx = DnIdx::try_from(self.nodes.len()).unwrap_or(DnIdx::MAX);
        let mut node = DatanodeDescriptor::new(idx, registration, rack, now);
        Self::apply_exclusion(&self.excluded, &mut node);
        info!(uuid = %node.uuid, addr = %node.xfer_addr(), rack = %node.rack, "datanode registered");
        self.by_uuid.insert(node.uuid.clone(), idx);
        self.nodes.push(node);
        idx
    }

    /// A node on the exclude list decommissions (again) when it registers.
    fn apply_exclusion(excluded: &BTreeSet<String>, node: &mut DatanodeDescriptor) {
        let addr = node.xfer_addr();
        if excluded.contains(&addr) && node.admin_state == pb::AdminState::Normal {
            info!(datanode = %addr, "datanode is on the exclude list: decommissioning it");
            node.admin_state = pb::AdminState::DecommissionInProgress;
        } else if !excluded.contains(&addr) && node.admin_state != pb::AdminState::Normal {
            node.admin_state = pb::AdminState::Normal;
        }
    }

    /// Records a heartbeat's numbers.
    pub fn heartbeat(&mut self, req: &pb::HeartbeatRequest, now: Instant) -> Result<DnIdx> {
        let idx = self.live_idx(&req.datanode_uuid)?;
        if let Some(node) = self.nodes.get_mut(idx as usize) {
            node.capacity = req.capacity;
            node.dfs_used = req.dfs_used;
            node.remaining = req.remaining;
            node.non_dfs_used = req.non_dfs_used;
            node.xceiver_count = req.xceiver_count;
            node.failed_volumes = req.failed_volumes;
            node.last_heartbeat = now;
            node.last_heartbeat_ms = crate::now_ms();
        }
        Ok(idx)
    }

    /// The commands for a heartbeat reply. Transfers and deletions wait
    /// while the namenode is in safe mode, as in HDFS.
    pub fn take_commands(&mut self, idx: DnIdx, in_safe_mode: bool) -> Vec<pb::DatanodeCommand> {
        use pb::datanode_command::Command;
        let Some(node) = self.nodes.get_mut(idx as usize) else {
            return Vec::new();
        };
        let mut out: Vec<pb::DatanodeCommand> = std::mem::take(&mut node.recover)
            .into_values()
            .map(|c| pb::DatanodeCommand {
                command: Some(Command::Recover(c)),
            })
            .collect();
        if !node.verify.is_empty() {
            out.push(pb::DatanodeCommand {
                command: Some(Command::Verify(pb::VerifyCommand {
                    blocks: std::mem::take(&mut node.verify),
                })),
            });
        }
        if in_safe_mode {
            return out;
        }
        out.extend(node.transfers.drain(..).map(|t| pb::DatanodeCommand {
            command: Some(Command::Transfer(t)),
        }));
        if !node.invalidate.is_empty() {
            let mut blocks = Vec::new();
            while blocks.len() < INVALIDATE_PER_HEARTBEAT {
                let Some((_, block)) = node.invalidate.pop_first() else {
                    break;
                };
                blocks.push(block);
            }
            out.push(pb::DatanodeCommand {
                command: Some(Command::Invalidate(pb::InvalidateCommand { blocks })),
            });
        }
        out
    }

    /// Declares dead every live node silent for longer than `dead_interval`;
    /// returns them so their replicas can be dropped.
    pub fn check_dead(&mut self, now: Instant, dead_interval: Duration) -> Vec<DnIdx> {
        let mut dead = Vec::new();
        for node in self.nodes.iter_mut().filter(|n| n.alive) {
            if now.saturating_duration_since(node.last_heartbeat) > dead_interval {
                warn!(
                    uuid = %node.uuid,
                    addr = %node.xfer_addr(),
                    silent_secs = now.saturating_duration_since(node.last_heartbeat).as_secs(),
                    blocks = node.blocks.len(),
                    "datanode is dead: no heartbeat within the dead interval; its replicas no longer count"
                );
                node.alive = false;
                dead.push(node.idx);
            }
        }
        dead
    }

    /// DatanodeInfo of a node, for located blocks and reports.
    pub fn info(&self, idx: DnIdx, now: Instant, stale: Duration) -> Option<pb::DatanodeInfo> {
        self.get(idx).map(|n| n.info(now, stale))
    }

    pub fn report(
        &self,
        kind: pb::DatanodeReportType,
        now: Instant,
        stale: Duration,
    ) -> Vec<pb::DatanodeInfo> {
        self.nodes
            .iter()
            .filter(|n| match kind {
                pb::DatanodeReportType::All => true,
                pb::DatanodeReportType::Live => n.alive,
                pb::DatanodeReportType::Dead => !n.alive,
                pb::DatanodeReportType::Decommissioning => {
                    n.admin_state == pb::AdminState::DecommissionInProgress
                }
            })
            .map(|n| n.info(now, stale))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(uuid: &str, port: u32) -> pb::DatanodeRegistration {
        pb::DatanodeRegistration {
            datanode_uuid: uuid.into(),
            host: "127.0.0.1".into(),
            xfer_port: port,
            ..Default::default()
        }
    }

    #[test]
    fn register_heartbeat_and_death() {
        let config = NamenodeConfig::default();
        let mut dm = DatanodeManager::default();
        let t0 = Instant::now();
        let a = dm.register(&reg("a", 1), &config, t0);
        let b = dm.register(&reg("b", 2), &config, t0);
        assert_ne!(a, b);
        assert_eq!(dm.register(&reg("a", 3), &config, t0), a);
        assert_eq!(dm.get(a).unwrap().xfer_port, 3);
        let hb = pb::HeartbeatRequest {
            datanode_uuid: "a".into(),
            remaining: 10,
            ..Default::default()
        };
        let later = t0 + Duration::from_secs(100);
        dm.heartbeat(&hb, later).unwrap();
        assert_eq!(dm.check_dead(later, Duration::from_secs(50)), vec![b]);
        assert!(matches!(
            dm.heartbeat(
                &pb::HeartbeatRequest {
                    datanode_uuid: "b".into(),
                    ..Default::default()
                },
                later
            ),
            Err(NamenodeError::UnregisteredDatanode(_))
        ));
        assert!(
            dm.heartbeat(
                &pb::HeartbeatRequest {
                    datanode_uuid: "zz".into(),
                    ..Default::default()
                },
                later
            )
            .is_err()
        );
        assert_eq!(
            dm.report(pb::DatanodeReportType::Dead, later, Duration::from_secs(30))
                .len(),
            1
        );
    }
}
