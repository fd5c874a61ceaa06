//! FSDirStatAndListingOp: getFileInfo, getListing, getContentSummary and
//! getBlockLocations. Reads take the read lock and never touch the log.

use cairn_proto::pb;

use crate::error::{NamenodeError, Result};
use crate::namespace::inode::{InodeId, InodeKind, ROOT_INODE_ID};
use crate::namespace::permission::{Access, FsAction, PermissionChecker};
use crate::namesystem::Namesystem;

/// Symlinks followed before giving up (a loop).
const MAX_SYMLINK_HOPS: usize = 32;

impl Namesystem {
    /// HDFS's getFileInfo (follow_symlink) / getFileLinkInfo. None when the
    /// path does not exist (or a followed link dangles).
    pub fn get_file_info(
        &self,
        pc: &PermissionChecker,
        req: &pb::GetFileInfoRequest,
    ) -> Result<Option<pb::FileStatus>> {
        let iip = self.dir.resolve(&req.path)?;
        pc.check(&self.dir, &iip, Access::traverse())?;
        let Some(id) = iip.last() else {
            return Ok(None);
        };
        let name = iip.last_name().to_string();
        if !req.follow_symlink {
            return self.file_status(id, &name, false).map(Some);
        }
        match self.follow(pc, id)? {
            Some(target) => self.file_status(target, &name, false).map(Some),
            None => Ok(None),
        }
    }

    /// Resolves a chain of symlinks to the inode it ends at.
    fn follow(&self, pc: &PermissionChecker, mut id: InodeId) -> Result<Option<InodeId>> {
        for _ in 0..MAX_SYMLINK_HOPS {
            let inode = self.dir.inode(id)?;
            let InodeKind::Symlink(target) = &inode.kind else {
                return Ok(Some(id));
            };
            let absolute = if target.starts_with('/') {
                target.to_string()
            } else {
                let parent = self.dir.full_path(inode.parent);
                format!("{}/{target}", parent.trim_end_matches('/'))
            };
            let Ok(iip) = self.dir.resolve(&absolute) else {
                return Ok(None);
            };
            pc.check(&self.dir, &iip, Access::traverse())?;
            match iip.last() {
                Some(next) => id = next,
                None => return Ok(None),
            }
        }
        Err(NamenodeError::InvalidPath(format!(
            "too many levels of symbolic links at {}",
            self.dir.full_path(id)
        )))
    }

    /// HDFS's getListing: a page of up to `listing_limit` entries after
    /// `start_after`; a file lists itself.
    pub fn get_listing(
        &self,
        pc: &PermissionChecker,
        req: &pb::GetListingRequest,
    ) -> Result<pb::GetListingResponse> {
        let iip = self.dir.resolve(&req.path)?;
        let id = iip
            .last()
            .ok_or_else(|| NamenodeError::NotFound(format!("File {} does not exist.", iip.path)))?;
        let inode = self.dir.inode(id)?;
        let Some(dir) = inode.as_dir() else {
            pc.check(&self.dir, &iip, Access::traverse())?;
            let status = self.file_status(id, iip.last_name(), req.need_location)?;
            return Ok(pb::GetListingResponse {
                entries: vec![status],
                remaining_entries: 0,
            });
        };
        pc.check(&self.dir, &iip, Access::on_inode(FsAction::READ_EXECUTE))?;
        let limit = self.config.listing_limit as usize;
        let mut entries = Vec::new();
        let mut remaining = 0u32;
        for &child in self.dir.children_after(dir, &req.start_after) {
            let name = &self.dir.inode(child)?.name;
            if id == ROOT_INODE_ID && &**name == cairn_proto::S3_STAGING_DIR {
                continue;
            }
            if entries.len() < limit {
                entries.push(self.file_status(child, name, req.need_location)?);
            } else {
                remaining += 1;
            }
        }
        Ok(pb::GetListingResponse {
            entries,
            remaining_entries: remaining,
        })
    }

    /// HDFS's getContentSummary (du, count).
    pub fn get_content_summary(
        &self,
        pc: &PermissionChecker,
        path: &str,
    ) -> Result<pb::ContentSummary> {
        let iip = self.dir.resolve(path)?;
        let access = Access {
            sub_access: Some(FsAction::READ_EXECUTE),
            ..Access::default()
        };
        pc.check(&self.dir, &iip, access)?;
        let id = iip
            .last()
            .ok_or_else(|| NamenodeError::NotFound(format!("File does not exist: {}", iip.path)))?;
        let mut summary = pb::ContentSummary {
            quota: -1,
            space_quota: -1,
            ..Default::default()
        };
        let mut stack = vec![id];
        while let Some(next) = stack.pop() {
            match &self.dir.inode(next)?.kind {
                InodeKind::Directory(d) => {
                    summary.directory_count += 1;
                    stack.extend(d.children.iter().copied());
                }
                InodeKind::File(f) => {
                    let len = self.file_length(f);
                    summary.file_count += 1;
                    summary.length = summary.length.saturating_add(len);
                    summary.space_consumed = summary
                        .space_consumed
                        .saturating_add(len.saturating_mul(u64::from(f.replication)));
                }
                InodeKind::Symlink(_) => summary.file_count += 1,
            }
        }
        Ok(summary)
    }

    /// HDFS's getBlockLocations: READ on the file.
    pub fn get_block_locations(
        &self,
        pc: &PermissionChecker,
        req: &pb::GetBlockLocationsRequest,
    ) -> Result<pb::LocatedBlocks> {
        let iip = self.dir.resolve(&req.path)?;
        pc.check(&self.dir, &iip, Access::on_inode(FsAction::READ))?;
        let (id, _) = self.file_at(&iip)?;
        self.located_blocks(id, req.offset, req.length)
    }
}
