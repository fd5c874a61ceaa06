//! FSDirMkdirOp: mkdirs, and the creation of missing parents that create
//! and createSymlink share with it.

use cairn_proto::pb;
use pb::edit_log_record::Op;

use crate::error::{NamenodeError, Result};
use crate::namespace::directory::InodesInPath;
use crate::namespace::inode::ROOT_INODE_ID;
use crate::namespace::path::DOT_RESERVED;
use crate::namespace::permission::{Access, FsAction, PermissionChecker};
use crate::namesystem::Namesystem;

impl Namesystem {
    /// HDFS's mkdirs. Returns whether a directory was created and the txid.
    pub fn mkdirs(
        &mut self,
        pc: &PermissionChecker,
        req: &pb::MkdirsRequest,
    ) -> Result<(bool, u64)> {
        let mut iip = self.dir.resolve(&req.path)?;
        if let Some(id) = iip.last() {
            pc.check(&self.dir, &iip, Access::traverse())?;
            if self.dir.inode(id)?.is_dir() {
                return Ok((false, 0));
            }
            return Err(NamenodeError::AlreadyExists(format!(
                "Path is not a directory: {}",
                iip.path
            )));
        }
        self.check_safe_mode(|| format!("create directory {}", iip.path))?;
        self.check_parents(&iip, req.create_parent)?;
        pc.check(&self.dir, &iip, Access::ancestor(FsAction::WRITE))?;
        let n = iip.inodes.len();
        let txid = self.create_missing_dirs(&pc.user, &mut iip, n, req.permission)?;
        Ok((true, txid))
    }

    /// Checks the ancestors of a path about to be created: none of them may
    /// be a file, and without `create_parent` the parent must exist.
    pub fn check_parents(&self, iip: &InodesInPath, create_parent: bool) -> Result<()> {
        let existing = iip.last_existing_index();
        let n = iip.inodes.len();
        let deepest = iip.inodes[existing].unwrap_or(ROOT_INODE_ID);
        if existing < n - 1 && !self.dir.inode(deepest)?.is_dir() {
            return Err(NamenodeError::NotADirectory(format!(
                "Parent path is not a directory: {}",
                crate::namespace::path::join(&iip.components[..existing])
            )));
        }
        if !create_parent && existing + 2 < n {
            return Err(NamenodeError::NotFound(format!(
                "Parent directory doesn't exist: {}",
                iip.parent_path()
            )));
        }
        if iip.components.first().is_some_and(|c| c == DOT_RESERVED) {
            return Err(NamenodeError::InvalidPath(format!(
                "\"/{DOT_RESERVED}\" is a reserved name"
            )));
        }
        Ok(())
    }

    /// Creates the missing directories of `iip` below index `upto`
    /// (exclusive). The deepest one requested gets `mode`; parents made on
    /// the way get `mode | u+wx` so the owner can go on creating in them,
    /// as HDFS. Returns the last txid (0 if nothing was created).
    pub fn create_missing_dirs(
        &mut self,
        user: &str,
        iip: &mut InodesInPath,
        upto: usize,
        mode: u32,
    ) -> Result<u64> {
        let mut txid = 0;
        let now = crate::now_ms();
        for i in 1..upto {
            if iip.inodes[i].is_some() {
                continue;
            }
            let parent = iip.inodes[i - 1]
                .ok_or_else(|| NamenodeError::Internal("missing parent".into()))?;
            let (owner, group) = self.new_owner(user, parent)?;
            let id = self.dir.allocate_inode_id();
            let dir_mode = if i + 1 == upto { mode } else { mode | 0o300 };
            txid = self.log_edit(Op::Mkdir(pb::MkdirOp {
                inode_id: id,
                parent_id: parent,
                name: iip.components[i - 1].clone(),
                owner,
                group,
                mode: dir_mode & 0o1777,
                mtime_ms: now,
            }))?;
            iip.inodes[i] = Some(id);
        }
        Ok(txid)
    }
}
