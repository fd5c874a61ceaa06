//! FSDirWriteFileOp's start: create (startFile) and append, with the lease
//! rules that keep one writer per file.

use std::time::Instant;

use cairn_proto::pb;
use pb::edit_log_record::Op;

use crate::blocks::blocks_map::BlockState;
use crate::error::{NamenodeError, Result};
use crate::namespace::inode::InodeId;
use crate::namespace::permission::{Access, FsAction, PermissionChecker};
use crate::namesystem::Namesystem;

impl Namesystem {
    /// HDFS's startFile. Returns the new file's status and the last txid.
    pub fn create(
        &mut self,
        pc: &PermissionChecker,
        req: &pb::CreateRequest,
        client_machine: &str,
    ) -> Result<(pb::FileStatus, u64)> {
        let mut iip = self.dir.resolve(&req.path)?;
        self.check_safe_mode(|| format!("create file {}", iip.path))?;
        if req.client_name.is_empty() {
            return Err(NamenodeError::InvalidArgument(format!(
                "create {}: a client name is required",
                iip.path
            )));
        }
        let replication = if req.replication == 0 {
            self.config.default_replication
        } else {
            req.replication
        };
        if replication < self.config.min_replication || replication > self.config.max_replication {
            return Err(NamenodeError::InvalidArgument(format!(
                "file {}: requested replication {replication} is outside [{}, {}] (min-replication, max-replication)",
                iip.path, self.config.min_replication, self.config.max_replication
            )));
        }
        let block_size = if req.block_size == 0 {
            self.config.default_block_size
        } else {
            req.block_size
        };
        let bpc = cairn_proto::BYTES_PER_CHECKSUM as u64;
        if block_size % bpc != 0 {
            return Err(NamenodeError::InvalidArgument(format!(
                "file {}: block size {block_size} is not a multiple of the bytes per checksum {bpc}",
                iip.path
            )));
        }
        if iip.is_root() {
            return Err(NamenodeError::AlreadyExists(
                "/ already exists as a directory".into(),
            ));
        }
        self.check_parents(&iip, req.create_parent)?;
        let mut access = Access::ancestor(FsAction::WRITE);
        if req.overwrite && iip.last().is_some() {
            access.access = Some(FsAction::WRITE);
        }
        pc.check(&self.dir, &iip, access)?;

        if let Some(existing) = iip.last() {
            let inode = self.dir.inode(existing)?;
            let Some(file) = inode.as_file() else {
                return Err(NamenodeError::AlreadyExists(format!(
                    "{} already exists as a directory",
                    iip.path
                )));
            };
            if file.under_construction.is_some() {
                // Any recovery is logged before the records below, whose
                // sync covers it.
                self.recover_lease_for(
                    existing,
                    &iip.path,
                    "CREATE_FILE",
                    &req.client_name,
                    client_machine,
                )?;
            }
            if !req.overwrite {
                return Err(NamenodeError::AlreadyExists(format!(
                    "{} for client {client_machine} already exists",
                    iip.path
                )));
            }
            self.log_edit(Op::Delete(pb::DeleteOp {
                inode_id: existing,
                mtime_ms: crate::now_ms(),
            }))?;
            let n = iip.inodes.len();
            iip.inodes[n - 1] = None;
        }
        let n = iip.inodes.len();
        self.create_missing_dirs(&pc.user, &mut iip, n - 1, 0o755)?;
        let parent = iip
            .parent()
            .ok_or_else(|| NamenodeError::Internal("parent vanished".into()))?;
        let (owner, group) = self.new_owner(&pc.user, parent)?;
        let id = self.dir.allocate_inode_id();
        let txid = self.log_edit(Op::AddFile(pb::AddFileOp {
            inode_id: id,
            parent_id: parent,
            name: iip.last_name().to_string(),
            owner,
            group,
            mode: req.permission & 0o1777,
            mtime_ms: crate::now_ms(),
            replication,
            preferred_block_size: block_size,
            client_name: req.client_name.clone(),
            client_machine: client_machine.to_string(),
        }))?;
        let status = self.file_status(id, iip.last_name(), false)?;
        Ok((status, txid))
    }

    /// When `file` is open by another client: LEASE_CONFLICT, unless that
    /// lease is past its soft limit, in which case the file is recovered
    /// (closed) so the caller can go on. Same client: LEASE_CONFLICT too
    /// (it already holds the file). Returns the txid of the recovery.
    pub fn recover_lease_for(
        &mut self,
        file: InodeId,
        path: &str,
        op_name: &str,
        client: &str,
        machine: &str,
    ) -> Result<u64> {
        let holder = self.leases.holder_of(file).map(str::to_string);
        let Some(holder) = holder else {
            // Open but leaseless (cannot normally happen): close it.
            return self.recover_lease(file);
        };
        if holder == client {
            return Err(NamenodeError::LeaseConflict(format!(
                "Failed to {op_name} {path} for {client} on {machine} because {client} is already the current lease holder."
            )));
        }
        let expired = self
            .leases
            .lease_of(&holder)
            .is_some_and(|l| l.expired(Instant::now(), self.config.lease_soft_limit));
        if expired {
            tracing::info!(
                path,
                holder,
                "soft limit of the lease passed; recovering the file for {client}"
            );
            return self.recover_lease(file);
        }
        Err(NamenodeError::LeaseConflict(format!(
            "Failed to {op_name} {path} for {client} on {machine} because this file lease is currently owned by {holder}"
        )))
    }

    /// HDFS's appendFile: reopens a closed file. When its last block is not
    /// full the writer carries on inside it under a new generation stamp.
    pub fn append(
        &mut self,
        pc: &PermissionChecker,
        req: &pb::AppendRequest,
        client_machine: &str,
    ) -> Result<(pb::AppendResponse, u64)> {
        let iip = self.dir.resolve(&req.path)?;
        self.check_safe_mode(|| format!("append to file {}", iip.path))?;
        if req.client_name.is_empty() {
            return Err(NamenodeError::InvalidArgument(format!(
                "append {}: a client name is required",
                iip.path
            )));
        }
        pc.check(&self.dir, &iip, Access::on_inode(FsAction::WRITE))?;
        let (id, file) = match self.file_at(&iip) {
            Ok(found) => found,
            Err(NamenodeError::NotFound(_)) => {
                return Err(NamenodeError::NotFound(format!(
                    "Failed to append to non-existent file {} for client {client_machine}",
                    iip.path
                )));
            }
            Err(e) => return Err(e),
        };
        if file.under_construction.is_some() {
            // Logged before the reopen below, whose sync covers it.
            self.recover_lease_for(
                id,
                &iip.path,
                "APPEND_FILE",
                &req.client_name,
                client_machine,
            )?;
        }
        let file = self.file(id)?;
        if let Some(&last) = file.blocks.last()
            && self
                .blocks
                .map
                .get(last)
                .is_some_and(|b| b.state != BlockState::Complete)
        {
            return Err(NamenodeError::NotReplicatedYet(format!(
                "Failed to append to {}: its last block is not yet complete; retry later",
                iip.path
            )));
        }
        let preferred = file.preferred_block_size;
        let last = file.blocks.last().copied();
        let mut blocks: Vec<pb::Block> = file
            .blocks
            .iter()
            .filter_map(|&b| self.blocks.map.get(b).map(|info| info.to_pb(b)))
            .collect();
        let mut txid = self.log_edit(Op::ReopenFile(pb::ReopenFileOp {
            inode_id: id,
            client_name: req.client_name.clone(),
            client_machine: client_machine.to_string(),
        }))?;
        let mut last_block = None;
        let mut previous_generation_stamp = 0;
        if let Some(last) = last
            && let Some(info) = self.blocks.map.get(last)
            && info.num_bytes < preferred
        {
            let holders = info.replicas.clone();
            previous_generation_stamp = info.generation_stamp;
            let gs = self.blocks.next_generation_stamp();
            if let Some(b) = blocks.last_mut() {
                b.generation_stamp = gs;
            }
            txid = self.log_edit(Op::UpdateBlocks(pb::UpdateBlocksOp {
                inode_id: id,
                blocks,
            }))?;
            self.blocks.map.update(last, |b| {
                let expected = b.expected.get_or_insert_with(Default::default);
                for n in holders {
                    if !expected.contains(&n) {
                        expected.push(n);
                    }
                }
            });
            let offset = self
                .file_length(self.file(id)?)
                .saturating_sub(self.blocks.map.get(last).map(|b| b.num_bytes).unwrap_or(0));
            last_block = self.located_block(last, offset, Instant::now());
        }
        let status = self.file_status(id, iip.last_name(), false)?;
        Ok((
            pb::AppendResponse {
                status: Some(status),
                last_block,
                previous_generation_stamp,
            },
            txid,
        ))
    }
}
