//! DatanodeDescriptor: what the namenode knows about one datanode — its
//! address, its last heartbeat, the replicas it holds, and the commands
//! waiting for its next heartbeat.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use cairn_proto::pb;

use crate::namespace::id_map::IdSet;
use crate::namespace::inode::BlockId;

/// Index of a datanode in the manager; stable for the life of the process,
/// so replica lists hold four bytes instead of a uuid.
pub type DnIdx = u32;

#[derive(Debug)]
pub struct DatanodeDescriptor {
    pub idx: DnIdx,
    pub uuid: String,
    pub host: String,
    pub xfer_port: u32,
    pub http_port: u32,
    pub rack: String,
    pub storage_ids: Vec<String>,
    pub capacity: u64,
    pub dfs_used: u64,
    pub remaining: u64,
    pub non_dfs_used: u64,
    pub xceiver_count: u32,
    pub failed_volumes: u32,
    pub last_heartbeat: Instant,
    pub last_heartbeat_ms: u64,
    /// False once declared dead (until it registers again).
    pub alive: bool,
    pub admin_state: pb::AdminState,
    /// Replicas the node reported (live or corrupt).
    pub blocks: IdSet,
    /// Replicas to delete, sent in the next heartbeat reply.
    pub invalidate: BTreeMap<BlockId, pb::Block>,
    /// Replicas told to be deleted (queued or sent) but not yet reported
    /// gone, with the newest generation stamp the node was told to delete:
    /// a report of them is ignored, so one excess replica is never counted
    /// twice. A report at a newer stamp is not ignored: a datanode never
    /// deletes a replica newer than asked (pipeline recovery may have moved
    /// it on after its old stamp was reported).
    pub excess: HashMap<BlockId, u64>,
    /// Transfers to carry out, sent in the next heartbeat reply.
    pub transfers: Vec<pb::TransferCommand>,
    /// Replicas a client found corrupt, for the node to verify itself.
    pub verify: Vec<pb::Block>,
    /// Replicas to settle at a new length and generation stamp.
    pub recover: BTreeMap<BlockId, pb::RecoverBlockCommand>,
    /// Blocks this node was chosen as a target for and has not reported
    /// yet (HDFS's blocksScheduled): counted in its load and space.
    pub blocks_scheduled: u32,
    /// A full block report arrived since it (re)registered: until then
    /// `blocks` is not what it holds, and a decommission cannot finish.
    pub block_report_received: bool,
}

impl DatanodeDescriptor {
    pub fn new(
        idx: DnIdx,
        registration: &pb::DatanodeRegistration,
        rack: String,
        now: Instant,
    ) -> Self {
        Self {
            idx,
            uuid: registration.datanode_uuid.clone(),
            host: registration.host.clone(),
            xfer_port: registration.xfer_port,
            http_port: registration.http_port,
            rack,
            storage_ids: registration.storage_ids.clone(),
            capacity: 0,
            dfs_used: 0,
            remaining: 0,
            non_dfs_used: 0,
            xceiver_count: 0,
            failed_volumes: 0,
            last_heartbeat: now,
            last_heartbeat_ms: crate::now_ms(),
            alive: true,
            admin_state: pb::AdminState::Normal,
            blocks: IdSet::new(),
            invalidate: BTreeMap::new(),
            excess: HashMap::new(),
            transfers: Vec::new(),
            verify: Vec::new(),
            recover: BTreeMap::new(),
            blocks_scheduled: 0,
            block_report_received: false,
        }
    }

    /// "host:port", as messages name a datanode.
    pub fn xfer_addr(&self) -> String {
        format!("{}:{}", self.host, self.xfer_port)
    }

    pub fn is_stale(&self, now: Instant, stale_interval: Duration) -> bool {
        now.saturating_duration_since(self.last_heartbeat) > stale_interval
    }

    /// Load used by placement: active transfers plus blocks on their way.
    pub fn load(&self) -> u64 {
        u64::from(self.xceiver_count) + u64::from(self.blocks_scheduled)
    }

    /// Space left once the blocks already scheduled here are written.
    pub fn remaining_for_scheduling(&self, block_size: u64) -> u64 {
        self.remaining
            .saturating_sub(u64::from(self.blocks_scheduled).saturating_mul(block_size))
    }

    /// True while it may take new replicas (HDFS: in service).
    pub fn in_service(&self) -> bool {
        self.alive && self.admin_state == pb::AdminState::Normal
    }

    pub fn info(&self, now: Instant, stale_interval: Duration) -> pb::DatanodeInfo {
        pb::DatanodeInfo {
            datanode_uuid: self.uuid.clone(),
            host: self.host.clone(),
            xfer_port: self.xfer_port,
            http_port: self.http_port,
            rack: self.rack.clone(),
            capacity: self.capacity,
            dfs_used: self.dfs_used,
            remaining: self.remaining,
            non_dfs_used: self.non_dfs_used,
            last_heartbeat_ms: self.last_heartbeat_ms,
            admin_state: self.admin_state as i32,
            alive: self.alive,
            num_blocks: u32::try_from(self.blocks.len()).unwrap_or(u32::MAX),
            xceiver_count: self.xceiver_count,
            failed_volumes: self.failed_volumes,
            stale: self.alive && self.is_stale(now, stale_interval),
        }
    }

    /// Forgets everything the node held or was told (it died).
    pub fn clear_state(&mut self) {
        self.blocks.clear();
        self.invalidate.clear();
        self.excess.clear();
        self.transfers.clear();
        self.recover.clear();
        self.blocks_scheduled = 0;
    }
}
