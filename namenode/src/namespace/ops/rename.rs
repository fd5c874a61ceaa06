//! FSDirRenameOp with rename2 semantics: the destination must not exist
//! unless overwriting, which needs the same kind (and an empty directory).

use cairn_proto::pb;
use pb::edit_log_record::Op;

use crate::error::{NamenodeError, Result};
use crate::namespace::permission::{Access, FsAction, PermissionChecker};
use crate::namesystem::Namesystem;

impl Namesystem {
    pub fn rename(&mut self, pc: &PermissionChecker, req: &pb::RenameRequest) -> Result<u64> {
        let src_iip = self.dir.resolve(&req.src)?;
        let dst_iip = self.dir.resolve(&req.dst)?;
        let (src, dst) = (src_iip.path.clone(), dst_iip.path.clone());
        self.check_safe_mode(|| format!("rename {src} to {dst}"))?;
        if src_iip.is_root() {
            return Err(NamenodeError::InvalidPath(format!(
                "rename source {src} is the root"
            )));
        }
        if dst_iip.is_root() {
            return Err(NamenodeError::InvalidPath(format!(
                "rename destination {dst} is the root"
            )));
        }
        pc.check(&self.dir, &src_iip, Access::parent(FsAction::WRITE))?;
        let src_id = src_iip
            .last()
            .ok_or_else(|| NamenodeError::NotFound(format!("rename source {src} is not found.")))?;
        if src == dst {
            return Err(NamenodeError::AlreadyExists(format!(
                "The source {src} and destination {dst} are the same"
            )));
        }
        if dst.starts_with(&src) && dst.as_bytes().get(src.len()) == Some(&b'/') {
            return Err(NamenodeError::InvalidArgument(format!(
                "Rename destination {dst} is a directory or file under source {src}"
            )));
        }
        let dst_parent = match dst_iip.parent() {
            Some(p) => p,
            None => {
                let existing = dst_iip.last_existing_index();
                let deepest =
                    dst_iip.inodes[existing].unwrap_or(crate::namespace::inode::ROOT_INODE_ID);
                if !self.dir.inode(deepest)?.is_dir() {
                    return Err(NamenodeError::NotADirectory(format!(
                        "rename destination parent {} is a file.",
                        crate::namespace::path::join(&dst_iip.components[..existing])
                    )));
                }
                return Err(NamenodeError::NotFound(format!(
                    "rename destination parent {} not found.",
                    dst_iip.parent_path()
                )));
            }
        };
        if !self.dir.inode(dst_parent)?.is_dir() {
            return Err(NamenodeError::NotADirectory(format!(
                "rename destination parent {} is a file.",
                dst_iip.parent_path()
            )));
        }
        if dst_iip
            .components
            .first()
            .is_some_and(|c| c == crate::namespace::path::DOT_RESERVED)
        {
            return Err(NamenodeError::InvalidPath(format!(
                "rename destination {dst} is a reserved name"
            )));
        }
        pc.check(&self.dir, &dst_iip, Access::parent(FsAction::WRITE))?;

        let mut txid = 0;
        let now = crate::now_ms();
        if let Some(dst_id) = dst_iip.last() {
            if !req.overwrite {
                return Err(NamenodeError::AlreadyExists(format!(
                    "rename destination {dst} already exists."
                )));
            }
            let src_is_dir = self.dir.inode(src_id)?.is_dir();
            let dst_inode = self.dir.inode(dst_id)?;
            match (src_is_dir, dst_inode.as_dir()) {
                (true, None) => {
                    return Err(NamenodeError::AlreadyExists(format!(
                        "Source {src} is a directory but destination {dst} is a file."
                    )));
                }
                (false, Some(_)) => {
                    return Err(NamenodeError::AlreadyExists(format!(
                        "Source {src} is a file but destination {dst} is a directory."
                    )));
                }
                (true, Some(d)) if !d.children.is_empty() => {
                    return Err(NamenodeError::DirectoryNotEmpty(format!(
                        "rename destination directory is not empty: {dst}"
                    )));
                }
                _ => {}
            }
            txid = self.log_edit(Op::Delete(pb::DeleteOp {
                inode_id: dst_id,
                mtime_ms: now,
            }))?;
        }
        txid = txid.max(self.log_edit(Op::Rename(pb::RenameOp {
            inode_id: src_id,
            dst_parent_id: dst_parent,
            dst_name: dst_iip.last_name().to_string(),
            mtime_ms: now,
        }))?);
        Ok(txid)
    }
}
