//! What clients see of an inode: HdfsFileStatus and LocatedBlocks.

use std::time::Instant;

use cairn_proto::pb;

use crate::blocks::blocks_map::BlockState;
use crate::error::Result;
use crate::namespace::inode::{BlockId, InodeId, InodeKind};
use crate::namesystem::Namesystem;

impl Namesystem {
    /// The status of inode `id`, shown under `name`.
    pub fn file_status(
        &self,
        id: InodeId,
        name: &str,
        need_location: bool,
    ) -> Result<pb::FileStatus> {
        let inode = self.dir.inode(id)?;
        let mut status = pb::FileStatus {
            inode_id: id,
            name: name.to_string(),
            modification_time_ms: inode.mtime,
            access_time_ms: inode.atime,
            permission: u32::from(inode.mode),
            owner: self.dir.names.name(inode.owner).to_string(),
            group: self.dir.names.name(inode.group).to_string(),
            ..Default::default()
        };
        match &inode.kind {
            InodeKind::Directory(d) => {
                status.file_type = pb::FileType::Directory as i32;
                status.children_num = u32::try_from(d.children.len()).unwrap_or(u32::MAX);
            }
            InodeKind::Symlink(target) => {
                status.file_type = pb::FileType::Symlink as i32;
                status.symlink_target = target.to_string();
            }
            InodeKind::File(f) => {
                status.file_type = pb::FileType::File as i32;
                status.length = self.file_length(f);
                status.replication = u32::from(f.replication);
                status.block_size = f.preferred_block_size;
                status.under_construction = f.under_construction.is_some();
                if need_location {
                    status.locations = Some(self.located_blocks(id, 0, u64::MAX)?);
                }
            }
        }
        Ok(status)
    }

    /// One block with its replicas, readers' order.
    pub fn located_block(
        &self,
        id: BlockId,
        offset: u64,
        now: Instant,
    ) -> Option<pb::LocatedBlock> {
        let info = self.blocks.map.get(id)?;
        let stale = self.config.stale_interval;
        let (nodes, corrupt) = self
            .blocks
            .sorted_locations(&self.datanodes, id, now, stale);
        Some(pb::LocatedBlock {
            block: Some(info.to_pb(id)),
            offset,
            locations: nodes
                .iter()
                .filter_map(|&n| self.datanodes.info(n, now, stale))
                .collect(),
            corrupt,
            corrupt_datanode_uuids: self
                .blocks
                .map
                .corrupt_replicas(id)
                .iter()
                .filter_map(|&n| self.datanodes.get(n).map(|d| d.uuid.clone()))
                .collect(),
        })
    }

    /// The blocks of file `id` overlapping [offset, offset + length) (at
    /// least the block holding `offset`), HDFS's getBlockLocations.
    pub fn located_blocks(
        &self,
        id: InodeId,
        offset: u64,
        length: u64,
    ) -> Result<pb::LocatedBlocks> {
        let file = self.file(id)?;
        let now = Instant::now();
        let end = offset.saturating_add(length.max(1));
        let under_construction = file.under_construction.is_some();
        let last_index = file.blocks.len().checked_sub(1);
        let mut out = pb::LocatedBlocks {
            under_construction,
            last_block_complete: true,
            ..Default::default()
        };
        let mut pos = 0u64;
        let mut total = 0u64;
        let mut last_incomplete_len = 0u64;
        for (i, &bid) in file.blocks.iter().enumerate() {
            let Some(info) = self.blocks.map.get(bid) else {
                continue;
            };
            let len = info.num_bytes;
            let is_last = Some(i) == last_index;
            let incomplete_last = is_last && info.state != BlockState::Complete;
            let overlaps = pos < end
                && (pos.saturating_add(len) > offset || (incomplete_last && pos >= offset));
            if overlaps && let Some(lb) = self.located_block(bid, pos, now) {
                out.blocks.push(lb);
            }
            if is_last {
                out.last_block_complete = info.state == BlockState::Complete;
                if under_construction {
                    out.last_block = self.located_block(bid, pos, now);
                }
                if incomplete_last && under_construction {
                    last_incomplete_len = len;
                }
            }
            pos = pos.saturating_add(len);
            total = total.saturating_add(len);
        }
        // As HDFS: while open, the file length excludes the block being
        // written; readers ask a datanode for its visible length.
        out.file_length = total.saturating_sub(last_incomplete_len);
        Ok(out)
    }
}
