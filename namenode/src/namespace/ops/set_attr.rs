//! FSDirAttrOp: setPermission, setOwner, setTimes, setReplication.

use cairn_proto::pb;
use pb::edit_log_record::Op;

use crate::error::{NamenodeError, Result};
use crate::namespace::directory::InodesInPath;
use crate::namespace::inode::InodeId;
use crate::namespace::permission::{Access, FsAction, PermissionChecker};
use crate::namesystem::Namesystem;

impl Namesystem {
    fn existing(&self, iip: &InodesInPath) -> Result<InodeId> {
        iip.last()
            .ok_or_else(|| NamenodeError::NotFound(format!("File does not exist: {}", iip.path)))
    }

    /// chmod: the owner or a superuser.
    pub fn set_permission(
        &mut self,
        pc: &PermissionChecker,
        req: &pb::SetPermissionRequest,
    ) -> Result<u64> {
        let iip = self.dir.resolve(&req.path)?;
        self.check_safe_mode(|| format!("set permission for {}", iip.path))?;
        let id = self.existing(&iip)?;
        pc.check(&self.dir, &iip, Access::owner())?;
        self.log_edit(Op::SetPermission(pb::SetPermissionOp {
            inode_id: id,
            mode: req.permission & 0o1777,
        }))
    }

    /// chown/chgrp: only a superuser changes the owner; the owner may change
    /// the group to one of its own groups.
    pub fn set_owner(&mut self, pc: &PermissionChecker, req: &pb::SetOwnerRequest) -> Result<u64> {
        let iip = self.dir.resolve(&req.path)?;
        self.check_safe_mode(|| format!("set owner for {}", iip.path))?;
        let id = self.existing(&iip)?;
        if req.owner.is_empty() && req.group.is_empty() {
            return Err(NamenodeError::InvalidArgument(format!(
                "setOwner {}: neither owner nor group given",
                iip.path
            )));
        }
        pc.check(&self.dir, &iip, Access::owner())?;
        if !pc.is_superuser() {
            let current = self.dir.names.name(self.dir.inode(id)?.owner);
            if !req.owner.is_empty() && req.owner != current {
                return Err(NamenodeError::PermissionDenied(format!(
                    "User {} is not a super user (non-super user cannot change owner).",
                    pc.user
                )));
            }
            if !req.group.is_empty() && !pc.is_member(&req.group) {
                return Err(NamenodeError::PermissionDenied(format!(
                    "User {} does not belong to {}",
                    pc.user, req.group
                )));
            }
        }
        self.log_edit(Op::SetOwner(pb::SetOwnerOp {
            inode_id: id,
            owner: req.owner.clone(),
            group: req.group.clone(),
        }))
    }

    /// touch -m/-a: the owner or a superuser.
    pub fn set_times(&mut self, pc: &PermissionChecker, req: &pb::SetTimesRequest) -> Result<u64> {
        let iip = self.dir.resolve(&req.path)?;
        self.check_safe_mode(|| format!("set times {}", iip.path))?;
        let id = self.existing(&iip)?;
        pc.check(&self.dir, &iip, Access::owner())?;
        if req.modification_time_ms < -1 || req.access_time_ms < -1 {
            return Err(NamenodeError::InvalidArgument(format!(
                "setTimes {}: times must be -1 (unchanged) or milliseconds since the epoch",
                iip.path
            )));
        }
        if req.modification_time_ms == -1 && req.access_time_ms == -1 {
            return Ok(0);
        }
        self.log_edit(Op::SetTimes(pb::SetTimesOp {
            inode_id: id,
            mtime_ms: req.modification_time_ms,
            atime_ms: req.access_time_ms,
        }))
    }

    /// setrep: files only (a directory answers false, as HDFS). Returns
    /// whether the replication changed; the monitor does the rest.
    pub fn set_replication(
        &mut self,
        pc: &PermissionChecker,
        req: &pb::SetReplicationRequest,
    ) -> Result<(bool, u64)> {
        let iip = self.dir.resolve(&req.path)?;
        self.check_safe_mode(|| format!("set replication for {}", iip.path))?;
        let id = self.existing(&iip)?;
        let (min, max) = (self.config.min_replication, self.config.max_replication);
        if req.replication < min || req.replication > max {
            return Err(NamenodeError::InvalidArgument(format!(
                "file {}: requested replication {} is outside [{min}, {max}] (min-replication, max-replication)",
                iip.path, req.replication
            )));
        }
        pc.check(&self.dir, &iip, Access::on_inode(FsAction::WRITE))?;
        let Some(file) = self.dir.inode(id)?.as_file() else {
            return Ok((false, 0));
        };
        if u32::from(file.replication) == req.replication {
            return Ok((true, 0));
        }
        let txid = self.log_edit(Op::SetReplication(pb::SetReplicationOp {
            inode_id: id,
            replication: req.replication,
        }))?;
        Ok((true, txid))
    }
}
