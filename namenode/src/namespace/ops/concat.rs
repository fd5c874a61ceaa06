//! FSDirConcatOp: appends the blocks of source files to a target by
//! metadata only, then removes the sources. Relaxed from HDFS: sources may
//! live in any directory and need not share the target's replication
//! (their blocks take the target's).

use std::collections::HashSet;

use cairn_proto::pb;
use pb::edit_log_record::Op;

use crate::error::{NamenodeError, Result};
use crate::namespace::permission::{Access, FsAction, PermissionChecker};
use crate::namesystem::Namesystem;

impl Namesystem {
    pub fn concat(&mut self, pc: &PermissionChecker, req: &pb::ConcatRequest) -> Result<u64> {
        let target_iip = self.dir.resolve(&req.target)?;
        self.check_safe_mode(|| format!("concat {}", target_iip.path))?;
        if req.sources.is_empty() {
            return Err(NamenodeError::InvalidArgument(format!(
                "concat {}: no source files given",
                target_iip.path
            )));
        }
        pc.check(&self.dir, &target_iip, Access::on_inode(FsAction::WRITE))?;
        let (target, file) = self.file_at(&target_iip)?;
        if file.under_construction.is_some() {
            return Err(NamenodeError::InvalidArgument(format!(
                "concat: target file {} is under construction",
                target_iip.path
            )));
        }
        let mut seen = HashSet::new();
        let mut sources = Vec::with_capacity(req.sources.len());
        for src in &req.sources {
            let iip = self.dir.resolve(src)?;
            let access = Access {
                parent: Some(FsAction::WRITE),
                access: Some(FsAction::READ),
                ..Access::default()
            };
            pc.check(&self.dir, &iip, access)?;
            let (id, file) = self.file_at(&iip)?;
            if id == target {
                return Err(NamenodeError::InvalidArgument(format!(
                    "concat: target file {} is in the source list",
                    iip.path
                )));
            }
            if !seen.insert(id) {
                return Err(NamenodeError::InvalidArgument(format!(
                    "concat: source file {} is given twice",
                    iip.path
                )));
            }
            if file.under_construction.is_some() {
                return Err(NamenodeError::InvalidArgument(format!(
                    "concat: source file {} is under construction",
                    iip.path
                )));
            }
            if file.blocks.is_empty() {
                return Err(NamenodeError::InvalidArgument(format!(
                    "concat: source file {} is invalid or empty",
                    iip.path
                )));
            }
            sources.push(id);
        }
        self.log_edit(Op::Concat(pb::ConcatOp {
            target_id: target,
            source_ids: sources,
            mtime_ms: crate::now_ms(),
        }))
    }
}
