//! FSDirWriteFileOp's end: completeFile, and closing files whose writer is
//! gone (lease recovery) or whose truncation finished on the datanodes.

use std::time::Instant;

use cairn_proto::pb;
use pb::edit_log_record::Op;
use tracing::{info, warn};

use crate::blocks::blocks_map::BlockState;
use crate::blocks::manager::{BlockRecovery, BlockRef, ReportedReplica};
use crate::datanodes::descriptor::DnIdx;
use crate::error::{NamenodeError, Result};
use crate::lease::NAMENODE_LEASE_HOLDER;
use crate::namespace::inode::{BlockId, InodeId};
use crate::namesystem::Namesystem;

/// What `complete` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompleteOutcome {
    /// Closed; the txid to sync.
    Closed(u64),
    /// Some block still lacks min_replication replicas.
    NotYet,
}

impl Namesystem {
    /// HDFS's completeFile: commits the last block and closes the file once
    /// every block is complete.
    pub fn complete(&mut self, req: &pb::CompleteRequest) -> Result<CompleteOutcome> {
        self.check_safe_mode(|| format!("complete file {}", req.path))?;
        let id = if req.file_id != 0 {
            Some(req.file_id).filter(|id| self.dir.get(*id).is_some())
        } else {
            self.dir.resolve(&req.path)?.last()
        };
        // A retried complete of a file that is already closed.
        if let Some(id) = id
            && let Some(file) = self.dir.get(id).and_then(|i| i.as_file())
            && file.under_construction.is_none()
        {
            // Same id and stamp: a writer whose file was recovered under it
            // holds an older stamp and is told it lost its lease.
            let matches = match &req.last {
                Some(last) => {
                    file.blocks.last() == Some(&last.id)
                        && self
                            .blocks
                            .map
                            .get(last.id)
                            .is_some_and(|b| b.generation_stamp == last.generation_stamp)
                }
                None => file.blocks.is_empty(),
            };
            if matches {
                return Ok(CompleteOutcome::Closed(0));
            }
        }
        let (id, path) = self.check_lease(&req.path, req.file_id, &req.client_name)?;
        let blocks = self.file(id)?.blocks.clone();
        match (&req.last, blocks.last()) {
            (Some(last), Some(&mine)) if last.id == mine => {
                let current = self
                    .blocks
                    .map
                    .get(mine)
                    .map(|b| b.generation_stamp)
                    .unwrap_or(0);
                if last.generation_stamp < current {
                    return Err(NamenodeError::StaleGenerationStamp(format!(
                        "complete {path}: block {} has generation stamp {current}, the client says {}",
                        mine, last.generation_stamp
                    )));
                }
                if self
                    .blocks
                    .map
                    .get(mine)
                    .is_some_and(|b| b.state == BlockState::UnderConstruction)
                {
                    self.commit_last_block(last);
                }
            }
            (None, None) => {}
            (None, Some(_)) => {}
            (last, mine) => {
                return Err(NamenodeError::InvalidArgument(format!(
                    "complete {path}: the last block {:?} is not the file's last block {:?}",
                    last.as_ref().map(|b| b.id),
                    mine
                )));
            }
        }
        for &b in &blocks {
            self.blocks.try_complete(b);
        }
        let all_complete = blocks.iter().all(|&b| {
            self.blocks
                .map
                .get(b)
                .is_some_and(|i| i.state == BlockState::Complete)
        });
        if !all_complete {
            return Ok(CompleteOutcome::NotYet);
        }
        let txid = self.close_file(id)?;
        Ok(CompleteOutcome::Closed(txid))
    }

    fn commit_last_block(&mut self, block: &pb::Block) {
        self.blocks.observe(block);
        self.blocks.map.update(block.id, |b| {
            b.generation_stamp = block.generation_stamp;
            b.num_bytes = block.num_bytes;
            b.state = BlockState::Committed;
        });
        self.blocks.try_complete(block.id);
    }

    /// Logs the close of a file with its blocks as they are now.
    pub fn close_file(&mut self, id: InodeId) -> Result<u64> {
        let blocks: Vec<pb::Block> = self
            .file(id)?
            .blocks
            .iter()
            .filter_map(|&b| self.blocks.map.get(b).map(|info| info.to_pb(b)))
            .collect();
        let now = crate::now_ms();
        let atime = self.dir.inode(id)?.atime;
        self.log_edit(Op::CloseFile(pb::CloseFileOp {
            inode_id: id,
            mtime_ms: now,
            atime_ms: atime,
            blocks,
        }))
    }

    /// HDFS's internalReleaseLease: a file whose writer lost its lease.
    /// A last block still being written goes through block recovery (see
    /// [`Namesystem::start_block_recovery`]) and the file closes when the
    /// primary datanode commits it; a file whose blocks are all settled,
    /// or whose last block is empty and nowhere, is closed at once. Returns
    /// the txid to sync.
    pub fn recover_lease(&mut self, id: InodeId) -> Result<u64> {
        let path = self.dir.full_path(id);
        let file = self.file(id)?;
        let holder = file
            .under_construction
            .as_ref()
            .map(|uc| uc.client_name.clone())
            .unwrap_or_default();
        let mut blocks: Vec<pb::Block> = file
            .blocks
            .iter()
            .filter_map(|&b| self.blocks.map.get(b).map(|info| info.to_pb(b)))
            .collect();
        let last = file.blocks.last().copied();
        let now = Instant::now();
        if let Some(last) = last
            && let Some(info) = self.blocks.map.get(last)
            && matches!(
                info.state,
                BlockState::UnderConstruction | BlockState::UnderRecovery
            )
        {
            if info.state == BlockState::UnderRecovery
                && !self.blocks.recoveries.contains_key(&last)
            {
                // A truncation settling the block: it closes the file itself.
                self.leases.add(NAMENODE_LEASE_HOLDER, id, now);
                return Ok(0);
            }
            let holders: Vec<DnIdx> = info
                .replicas
                .iter()
                .chain(info.expected_locations())
                .copied()
                .filter(|&n| self.datanodes.get(n).is_some_and(|d| d.alive))
                .fold(Vec::new(), |mut all, n| {
                    if !all.contains(&n) {
                        all.push(n);
                    }
                    all
                });
            if !holders.is_empty() {
                warn!(
                    path,
                    holder,
                    block = last,
                    "lease expired: recovering the last block"
                );
                return self.start_block_recovery(id, last, &holders);
            }
            if info.num_bytes > 0 {
                // HDFS waits as well: the data is only on datanodes that are
                // down now; when one comes back, the next round recovers it.
                warn!(
                    path,
                    holder,
                    block = last,
                    "lease expired, but no live datanode holds the last block; waiting for one"
                );
                self.leases.add(NAMENODE_LEASE_HOLDER, id, now);
                return Ok(0);
            }
            // Allocated and never written to anywhere: drop it.
            blocks.pop();
        }
        let length: u64 = blocks.iter().map(|b| b.num_bytes).sum();
        warn!(path, holder, length, "lease expired: closing the file");
        self.log_edit(Op::CloseFile(pb::CloseFileOp {
            inode_id: id,
            mtime_ms: crate::now_ms(),
            atime_ms: self.dir.inode(id)?.atime,
            blocks,
        }))
    }

    /// HDFS's initializeBlockRecovery: the block takes a recovery id (a new
    /// generation stamp, logged), goes UNDER_RECOVERY, and one of its live
    /// replicas — one not tried as primary before, the one heard from last
    /// — is told to settle every replica and report back. The namenode
    /// takes over the file's lease, so the monitor tries again (with
    /// another primary) if no commit comes within the hard limit.
    pub fn start_block_recovery(
        &mut self,
        file: InodeId,
        block_id: BlockId,
        holders: &[DnIdx],
    ) -> Result<u64> {
        let Some(info) = self.blocks.map.get(block_id) else {
            return Err(NamenodeError::Internal(format!(
                "block {block_id} vanished"
            )));
        };
        let mut block = info.to_pb(block_id);
        if let Some(previous) = self.blocks.recoveries.get(&block_id) {
            // The replicas still carry the stamp from before recovery.
            block.generation_stamp = previous.original_generation_stamp;
        }
        let recovery_id = self.blocks.next_generation_stamp();
        let txid = self.log_edit(Op::SetGenerationStamp(pb::SetGenerationStampOp {
            generation_stamp: recovery_id,
        }))?;
        let recovery = self
            .blocks
            .recoveries
            .entry(block_id)
            .or_insert_with(|| BlockRecovery {
                recovery_id,
                original_generation_stamp: block.generation_stamp,
                tried_primaries: Vec::new(),
            });
        recovery.recovery_id = recovery_id;
        let untried: Vec<DnIdx> = holders
            .iter()
            .copied()
            .filter(|n| !recovery.tried_primaries.contains(n))
            .collect();
        if untried.is_empty() {
            recovery.tried_primaries.clear();
        }
        let candidates = if untried.is_empty() {
            holders.to_vec()
        } else {
            untried
        };
        let primary = candidates
            .iter()
            .copied()
            .max_by_key(|&n| self.datanodes.get(n).map(|d| d.last_heartbeat))
            .ok_or_else(|| NamenodeError::Internal("no primary for block recovery".into()))?;
        recovery.tried_primaries.push(primary);
        self.blocks
            .map
            .update(block_id, |b| b.state = BlockState::UnderRecovery);
        let now = Instant::now();
        let stale = self.config.stale_interval;
        let replicas: Vec<pb::DatanodeInfo> = holders
            .iter()
            .filter_map(|&n| self.datanodes.info(n, now, stale))
            .collect();
        if let Some(n) = self.datanodes.get_mut(primary) {
            info!(
                block = block_id,
                recovery_id,
                primary = %n.xfer_addr(),
                replicas = replicas.len(),
                "starting block recovery"
            );
            n.recover.insert(
                block_id,
                pb::RecoverBlockCommand {
                    block: Some(block),
                    new_generation_stamp: recovery_id,
                    new_length: 0,
                    replicas,
                },
            );
        }
        self.leases.add(NAMENODE_LEASE_HOLDER, file, now);
        Ok(txid)
    }

    /// HDFS's commitBlockSynchronization: the primary datanode settled the
    /// replicas of a block under recovery at `new_length` under the
    /// recovery id. The file is closed with the block so, logged; the
    /// replicas that were settled count at once.
    pub fn commit_block_synchronization(
        &mut self,
        req: &pb::CommitBlockSynchronizationRequest,
    ) -> Result<u64> {
        let block = req.block.as_ref().ok_or_else(|| {
            NamenodeError::InvalidArgument("commitBlockSynchronization without a block".into())
        })?;
        let info = self.blocks.map.get(block.id).ok_or_else(|| {
            NamenodeError::NotFound(format!(
                "commitBlockSynchronization: block {} no longer exists",
                block.id
            ))
        })?;
        if info.state != BlockState::UnderRecovery {
            if info.generation_stamp == req.new_generation_stamp {
                // A retried commit that already went through.
                return Ok(0);
            }
            return Err(NamenodeError::InvalidArgument(format!(
                "commitBlockSynchronization: block {} is not under recovery",
                block.id
            )));
        }
        let current = self.blocks.recoveries.get(&block.id).map(|r| r.recovery_id);
        if current != Some(req.new_generation_stamp) {
            return Err(NamenodeError::StaleGenerationStamp(format!(
                "commitBlockSynchronization: recovery {} of block {} was superseded by {:?}",
                req.new_generation_stamp, block.id, current
            )));
        }
        let file = info.inode;
        let mut blocks = self.file_blocks(file)?;
        let settled = pb::Block {
            id: block.id,
            generation_stamp: req.new_generation_stamp,
            num_bytes: req.new_length,
        };
        if req.delete_block {
            blocks.retain(|b| b.id != block.id);
        } else {
            for b in blocks.iter_mut().filter(|b| b.id == block.id) {
                *b = settled;
            }
        }
        self.blocks.recoveries.remove(&block.id);
        let length: u64 = blocks.iter().map(|b| b.num_bytes).sum();
        info!(
            path = %self.dir.full_path(file),
            block = block.id,
            generation_stamp = req.new_generation_stamp,
            block_length = req.new_length,
            length,
            deleted = req.delete_block,
            "block recovery committed: closing the file"
        );
        let txid = self.log_edit(Op::CloseFile(pb::CloseFileOp {
            inode_id: file,
            mtime_ms: crate::now_ms(),
            atime_ms: self.dir.inode(file)?.atime,
            blocks,
        }))?;
        if !req.delete_block {
            for uuid in &req.new_datanode_uuids {
                if let Some(node) = self.datanodes.idx_of(uuid) {
                    self.blocks.process_reported(
                        &mut self.datanodes,
                        node,
                        ReportedReplica::finalized(BlockRef::from(&settled)),
                    );
                }
            }
        }
        Ok(txid)
    }

    /// Closes files whose last block just finished recovery (truncate).
    pub fn close_recovered_files(&mut self) -> Result<u64> {
        let mut txid = 0;
        for id in std::mem::take(&mut self.blocks.recovered_files) {
            let open = self
                .dir
                .get(id)
                .and_then(|i| i.as_file())
                .is_some_and(|f| f.under_construction.is_some());
            if open {
                info!(path = %self.dir.full_path(id), "block recovery finished; closing the file");
                txid = self.close_file(id)?;
            }
        }
        Ok(txid)
    }

    /// The lease monitor: files whose lease passed the hard limit.
    pub fn check_leases(&mut self) -> Result<u64> {
        if self.safemode.is_on() {
            return Ok(0);
        }
        let expired = self
            .leases
            .expired_files(Instant::now(), self.config.lease_hard_limit);
        let mut txid = 0;
        for (holder, file) in expired {
            info!(holder, path = %self.dir.full_path(file), "lease passed its hard limit");
            let open = self
                .dir
                .get(file)
                .and_then(|i| i.as_file())
                .is_some_and(|f| f.under_construction.is_some());
            if open {
                txid = txid.max(self.recover_lease(file)?);
            } else {
                self.leases.remove_file(file);
            }
        }
        Ok(txid)
    }
}
