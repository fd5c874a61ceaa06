//! FSDirTruncateOp: at a block boundary blocks are dropped and the call is
//! done; inside a block, that block is cut on its datanodes (a
//! RecoverBlockCommand in their next heartbeat, under a new generation
//! stamp) and the file stays under construction until a replica reports
//! the new length.

use std::time::Instant;

use cairn_proto::pb;
use pb::edit_log_record::Op;

use crate::error::{NamenodeError, Result};
use crate::namespace::permission::{Access, FsAction, PermissionChecker};
use crate::namesystem::Namesystem;

impl Namesystem {
    /// Returns whether the truncation is done, and the txid.
    pub fn truncate(
        &mut self,
        pc: &PermissionChecker,
        req: &pb::TruncateRequest,
        client_machine: &str,
    ) -> Result<(bool, u64)> {
        let iip = self.dir.resolve(&req.path)?;
        self.check_safe_mode(|| format!("truncate {}", iip.path))?;
        if req.client_name.is_empty() {
            return Err(NamenodeError::InvalidArgument(format!(
                "truncate {}: a client name is required",
                iip.path
            )));
        }
        pc.check(&self.dir, &iip, Access::on_inode(FsAction::WRITE))?;
        let (id, file) = self.file_at(&iip)?;
        let mut txid = 0;
        if file.under_construction.is_some() {
            txid = self.recover_lease_for(
                id,
                &iip.path,
                "TRUNCATE_FILE",
                &req.client_name,
                client_machine,
            )?;
            return Err(NamenodeError::NotReplicatedYet(format!(
                "Failed to TRUNCATE_FILE {}: the file was open; its lease was recovered (txid {txid}), retry later",
                iip.path
            )));
        }
        let file = self.file(id)?;
        let length = self.file_length(file);
        if req.new_length > length {
            return Err(NamenodeError::InvalidArgument(format!(
                "Cannot truncate to a larger file size. Current size: {length}, truncate size: {}.",
                req.new_length
            )));
        }
        if req.new_length == length {
            return Ok((true, txid));
        }
        let mut kept = Vec::new();
        let mut pos = 0u64;
        let mut cut = None;
        for &b in &file.blocks {
            let Some(info) = self.blocks.map.get(b) else {
                continue;
            };
            if pos >= req.new_length {
                break;
            }
            let end = pos.saturating_add(info.num_bytes);
            if end <= req.new_length {
                kept.push(info.to_pb(b));
            } else {
                let holders = info.replicas.clone();
                let old = info.to_pb(b);
                cut = Some((old, req.new_length - pos, holders));
            }
            pos = end;
        }
        let Some((old, new_len, holders)) = cut else {
            txid = self.log_edit(Op::Truncate(pb::TruncateOp {
                inode_id: id,
                blocks: kept,
                under_recovery: false,
                client_name: String::new(),
                client_machine: String::new(),
                mtime_ms: crate::now_ms(),
            }))?;
            return Ok((true, txid));
        };
        let gs = self.blocks.next_generation_stamp();
        kept.push(pb::Block {
            id: old.id,
            generation_stamp: gs,
            num_bytes: new_len,
        });
        txid = self.log_edit(Op::Truncate(pb::TruncateOp {
            inode_id: id,
            blocks: kept,
            under_recovery: true,
            client_name: req.client_name.clone(),
            client_machine: client_machine.to_string(),
            mtime_ms: crate::now_ms(),
        }))?;
        for node in holders {
            if let Some(n) = self.datanodes.get_mut(node) {
                n.recover.insert(
                    old.id,
                    pb::RecoverBlockCommand {
                        block: Some(old),
                        new_generation_stamp: gs,
                        new_length: new_len,
                        replicas: Default::default(),
                    },
                );
            }
        }
        self.leases.renew(&req.client_name, Instant::now());
        Ok((false, txid))
    }
}
