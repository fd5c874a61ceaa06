//! The facts the web pages, the JSON API and `/metrics` show, gathered in
//! one place so that all three say the same numbers (and the same numbers
//! as `dfsadmin -report`, which reads the same namesystem calls).

use std::time::Instant;

use cairn_proto::pb;
use serde::Serialize;

use crate::namespace::inode::mode_string;
use crate::namesystem::FsNamesystem;

/// The cluster at a glance (the overview page, `/api/v1/cluster`).
#[derive(Debug, Clone, Serialize)]
pub struct ClusterSnapshot {
    pub cluster_id: String,
    pub version: &'static str,
    pub uptime_secs: u64,
    pub safe_mode: bool,
    pub safe_mode_status: String,
    pub capacity: u64,
    pub used: u64,
    pub remaining: u64,
    pub non_dfs_used: u64,
    /// Inodes: files, directories and symlinks (HDFS's "files and
    /// directories").
    pub files_and_directories: u64,
    pub blocks: u64,
    pub under_replicated_blocks: u64,
    pub corrupt_blocks: u64,
    pub missing_blocks: u64,
    pub pending_deletion_blocks: u64,
    /// Transfers handed to datanodes and not yet seen through.
    pub pending_replication_blocks: u64,
    /// Blocks whose replica count changed, waiting for the monitor.
    pub replication_queue: u64,
    pub live_datanodes: u64,
    pub stale_datanodes: u64,
    pub dead_datanodes: u64,
    pub decommissioning_datanodes: u64,
    pub decommissioned_datanodes: u64,
    pub datanodes: Vec<DatanodeRow>,
}

/// One datanode (the datanodes page, `/api/v1/datanodes`).
#[derive(Debug, Clone, Serialize)]
pub struct DatanodeRow {
    pub uuid: String,
    /// Data-transfer address, `host:port`.
    pub address: String,
    /// The datanode's own web page, when it serves one.
    pub http_address: Option<String>,
    pub rack: String,
    /// live, stale or dead.
    pub state: &'static str,
    /// normal, decommissioning or decommissioned.
    pub admin_state: &'static str,
    pub last_heartbeat_ms: u64,
    pub capacity: u64,
    pub used: u64,
    pub remaining: u64,
    pub blocks: u64,
    pub failed_volumes: u64,
}

impl DatanodeRow {
    fn from_info(d: &pb::DatanodeInfo) -> Self {
        let state = match (d.alive, d.stale) {
            (false, _) => "dead",
            (true, true) => "stale",
            (true, false) => "live",
        };
        let admin_state = match d.admin_state() {
            pb::AdminState::Normal => "normal",
            pb::AdminState::DecommissionInProgress => "decommissioning",
            pb::AdminState::Decommissioned => "decommissioned",
        };
        Self {
            uuid: d.datanode_uuid.clone(),
            address: format!("{}:{}", d.host, d.xfer_port),
            http_address: (d.http_port != 0).then(|| format!("{}:{}", d.host, d.http_port)),
            rack: d.rack.clone(),
            state,
            admin_state,
            last_heartbeat_ms: d.last_heartbeat_ms,
            capacity: d.capacity,
            used: d.dfs_used,
            remaining: d.remaining,
            blocks: u64::from(d.num_blocks),
            failed_volumes: u64::from(d.failed_volumes),
        }
    }
}

/// Takes the snapshot under the read lock; everything else is done outside.
pub fn cluster(fs: &FsNamesystem, started: Instant) -> ClusterSnapshot {
    let (cluster_id, stats, safe_mode, infos, pending, queue) = {
        let ns = fs.state.read();
        (
            ns.cluster_id.clone(),
            ns.fs_stats(),
            ns.safe_mode_report(),
            ns.datanode_report(pb::DatanodeReportType::All),
            ns.blocks.pending.len() as u64,
            ns.blocks.recheck.len() as u64,
        )
    };
    let datanodes: Vec<DatanodeRow> = infos.iter().map(DatanodeRow::from_info).collect();
    let count = |f: &dyn Fn(&DatanodeRow) -> bool| datanodes.iter().filter(|d| f(d)).count() as u64;
    ClusterSnapshot {
        cluster_id,
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: started.elapsed().as_secs(),
        safe_mode: safe_mode.on,
        safe_mode_status: safe_mode.status,
        capacity: stats.capacity,
        used: stats.used,
        remaining: stats.remaining,
        non_dfs_used: stats.non_dfs_used,
        files_and_directories: stats.total_files,
        blocks: stats.total_blocks,
        under_replicated_blocks: stats.under_replicated,
        corrupt_blocks: stats.corrupt_blocks,
        missing_blocks: stats.missing_blocks,
        pending_deletion_blocks: stats.pending_deletion,
        pending_replication_blocks: pending,
        replication_queue: queue,
        live_datanodes: count(&|d| d.state != "dead"),
        stale_datanodes: count(&|d| d.state == "stale"),
        dead_datanodes: count(&|d| d.state == "dead"),
        decommissioning_datanodes: count(&|d| d.admin_state == "decommissioning"),
        decommissioned_datanodes: count(&|d| d.admin_state == "decommissioned"),
        datanodes,
    }
}

/// One entry of a directory listing (the file browser,
/// `/api/v1/listing`).
#[derive(Debug, Clone, Serialize)]
pub struct ListingEntry {
    pub name: String,
    /// `file`, `directory` or `symlink`.
    pub kind: &'static str,
    pub length: u64,
    pub replication: u32,
    pub block_size: u64,
    pub permission: String,
    pub owner: String,
    pub group: String,
    pub modification_time_ms: u64,
}

impl ListingEntry {
    pub fn from_status(s: &pb::FileStatus) -> Self {
        Self {
            name: s.name.clone(),
            kind: kind_name(s),
            length: s.length,
            replication: s.replication,
            block_size: s.block_size,
            permission: permission_string(s),
            owner: s.owner.clone(),
            group: s.group.clone(),
            modification_time_ms: s.modification_time_ms,
        }
    }
}

pub fn kind_name(s: &pb::FileStatus) -> &'static str {
    match s.file_type() {
        pb::FileType::Directory => "directory",
        pb::FileType::Symlink => "symlink",
        pb::FileType::File | pb::FileType::Unspecified => "file",
    }
}

/// `drwxr-xr-x`, as `-ls` prints it.
pub fn permission_string(s: &pb::FileStatus) -> String {
    let is_dir = s.file_type() == pb::FileType::Directory;
    let mode = u16::try_from(s.permission & 0o7777).unwrap_or(0);
    mode_string(is_dir, mode)
}

/// A file's blocks and where their replicas are (the file page,
/// `/api/v1/blocks`).
#[derive(Debug, Clone, Serialize)]
pub struct FileBlocks {
    pub path: String,
    pub length: u64,
    pub replication: u32,
    pub under_construction: bool,
    pub blocks: Vec<BlockRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlockRow {
    pub block_id: u64,
    pub generation_stamp: u64,
    pub offset: u64,
    pub length: u64,
    /// `host:port` of each live replica, nearest first.
    pub locations: Vec<String>,
    pub corrupt: bool,
}

impl FileBlocks {
    pub fn new(path: &str, status: &pb::FileStatus, located: &pb::LocatedBlocks) -> Self {
        let mut blocks: Vec<BlockRow> = located.blocks.iter().filter_map(block_row).collect();
        if let Some(last) = located.last_block.as_ref().and_then(block_row)
            && !blocks.iter().any(|b| b.block_id == last.block_id)
        {
            blocks.push(last);
        }
        Self {
            path: path.to_string(),
            length: status.length,
            replication: status.replication,
            under_construction: located.under_construction,
            blocks,
        }
    }
}

fn block_row(lb: &pb::LocatedBlock) -> Option<BlockRow> {
    let block = lb.block.as_ref()?;
    Some(BlockRow {
        block_id: block.id,
        generation_stamp: block.generation_stamp,
        offset: lb.offset,
        length: block.num_bytes,
        locations: lb
            .locations
            .iter()
            .map(|d| format!("{}:{}", d.host, d.xfer_port))
            .collect(),
        corrupt: lb.corrupt,
    })
}

/// What a path is, for the file browser and the JSON API.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum PathView {
    Directory {
        path: String,
        entries: Vec<ListingEntry>,
    },
    File(FileBlocks),
}

/// Looks `path` up as `client`'s user: a directory's entries, or a file's
/// blocks with their locations. `Ok(None)` when it does not exist.
pub async fn path_view(
    client: &cairn_client::DfsClient,
    path: &str,
) -> Result<Option<PathView>, cairn_client::DfsError> {
    let Some(status) = client.get_file_info(path).await? else {
        return Ok(None);
    };
    if status.file_type() == pb::FileType::Directory {
        let entries = client
            .list(path)
            .await?
            .iter()
            .map(ListingEntry::from_status)
            .collect();
        return Ok(Some(PathView::Directory {
            path: path.to_string(),
            entries,
        }));
    }
    let located = client.get_block_locations(path, 0, u64::MAX).await?;
    Ok(Some(PathView::File(FileBlocks::new(
        path, &status, &located,
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_strings_read_like_ls() {
        let dir = pb::FileStatus {
            file_type: pb::FileType::Directory as i32,
            permission: 0o1777,
            ..Default::default()
        };
        assert_eq!(permission_string(&dir), "drwxrwxrwt");
        let file = pb::FileStatus {
            file_type: pb::FileType::File as i32,
            permission: 0o644,
            ..Default::default()
        };
        assert_eq!(permission_string(&file), "-rw-r--r--");
    }

    #[test]
    fn datanode_rows_name_their_states() {
        let info = pb::DatanodeInfo {
            host: "10.0.0.1".into(),
            xfer_port: 9866,
            http_port: 9864,
            alive: false,
            admin_state: pb::AdminState::DecommissionInProgress as i32,
            ..Default::default()
        };
        let row = DatanodeRow::from_info(&info);
        assert_eq!(row.state, "dead");
        assert_eq!(row.admin_state, "decommissioning");
        assert_eq!(row.http_address.as_deref(), Some("10.0.0.1:9864"));
    }
}
