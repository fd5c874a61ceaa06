//! FSDirDeleteOp: delete a file or a directory tree; its blocks are queued
//! for deletion on the datanodes that hold them.

use cairn_proto::pb;
use pb::edit_log_record::Op;

use crate::error::{NamenodeError, Result};
use crate::namespace::permission::{Access, FsAction, PermissionChecker};
use crate::namesystem::Namesystem;

impl Namesystem {
    /// Returns whether something was deleted, and the txid.
    pub fn delete(
        &mut self,
        pc: &PermissionChecker,
        req: &pb::DeleteRequest,
    ) -> Result<(bool, u64)> {
        let iip = self.dir.resolve(&req.path)?;
        self.check_safe_mode(|| format!("delete {}", iip.path))?;
        let Some(id) = iip.last() else {
            pc.check(&self.dir, &iip, Access::traverse())?;
            return Ok((false, 0));
        };
        let non_empty = self
            .dir
            .inode(id)?
            .as_dir()
            .is_some_and(|d| !d.children.is_empty());
        if !req.recursive && non_empty {
            return Err(NamenodeError::DirectoryNotEmpty(format!(
                "`{} is non empty': Directory is not empty",
                iip.path
            )));
        }
        if iip.is_root() {
            // HDFS answers false: the root cannot go.
            return Ok((false, 0));
        }
        let access = Access {
            parent: Some(FsAction::WRITE),
            sub_access: Some(FsAction::ALL),
            ..Access::default()
        };
        pc.check(&self.dir, &iip, access)?;
        let txid = self.log_edit(Op::Delete(pb::DeleteOp {
            inode_id: id,
            mtime_ms: crate::now_ms(),
        }))?;
        Ok((true, txid))
    }
}
