//! FSDirSymlinkOp: createSymlink.

use cairn_proto::pb;
use pb::edit_log_record::Op;

use crate::error::{NamenodeError, Result};
use crate::namespace::permission::{Access, FsAction, PermissionChecker};
use crate::namesystem::Namesystem;

impl Namesystem {
    pub fn create_symlink(
        &mut self,
        pc: &PermissionChecker,
        req: &pb::CreateSymlinkRequest,
    ) -> Result<u64> {
        let mut iip = self.dir.resolve(&req.link)?;
        self.check_safe_mode(|| format!("create symlink {}", iip.path))?;
        if req.target.is_empty() {
            return Err(NamenodeError::InvalidArgument(format!(
                "createSymlink {}: the target must not be empty",
                iip.path
            )));
        }
        if iip.last().is_some() {
            return Err(NamenodeError::AlreadyExists(format!(
                "{} already exists",
                iip.path
            )));
        }
        self.check_parents(&iip, req.create_parent)?;
        pc.check(&self.dir, &iip, Access::ancestor(FsAction::WRITE))?;
        let n = iip.inodes.len();
        let mut txid = self.create_missing_dirs(&pc.user, &mut iip, n - 1, 0o755)?;
        let parent = iip
            .parent()
            .ok_or_else(|| NamenodeError::Internal("parent vanished".into()))?;
        let (owner, group) = self.new_owner(&pc.user, parent)?;
        let id = self.dir.allocate_inode_id();
        txid = txid.max(self.log_edit(Op::Symlink(pb::SymlinkOp {
            inode_id: id,
            parent_id: parent,
            name: iip.last_name().to_string(),
            target: req.target.clone(),
            owner,
            group,
            mode: if req.permission == 0 {
                0o777
            } else {
                req.permission & 0o1777
            },
            mtime_ms: crate::now_ms(),
        }))?);
        Ok(txid)
    }
}
