//! FSDirWriteFileOp's end: completeFile, and closing files whose writer is
//! gone (lease recovery) or whose truncation finished on the datanodes.

use std::time::Instant;

use cairn_proto::pb;
use pb::edit_log_record::Op;
use tracing::{info, warn};

use crate::blocks::blocks_map::BlockState;
use crate::error::{NamenodeError, Result};
use crate::namespace::inode::InodeId;
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
        self.check_safe_mode(&format!("complete file {}", req.path))?;
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

    /// Closes a file whose writer lost its lease. The last block is settled
    /// at the length recorded by the last fsync/addBlock: its replicas get
    /// a RecoverBlockCommand to that length under a new generation stamp
    /// (a last block with nothing recorded and no replica is dropped).
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
        let mut recover = None;
        if let Some(last) = last
            && let Some(info) = self.blocks.map.get(last)
            && matches!(
                info.state,
                BlockState::UnderConstruction | BlockState::UnderRecovery
            )
        {
            let holders: Vec<_> = info
                .replicas
                .iter()
                .chain(info.expected_locations())
                .copied()
                .collect();
            if info.num_bytes == 0 {
                blocks.pop();
                self.log_edit(Op::UpdateBlocks(pb::UpdateBlocksOp {
                    inode_id: id,
                    blocks: blocks.clone(),
                }))?;
            } else {
                let old = info.to_pb(last);
                let gs = self.blocks.next_generation_stamp();
                if let Some(b) = blocks.last_mut() {
                    b.generation_stamp = gs;
                }
                recover = Some((old, gs, holders));
            }
        }
        let length: u64 = blocks.iter().map(|b| b.num_bytes).sum();
        warn!(
            path,
            holder,
            length,
            "lease expired: closing the file at the length recorded by its last fsync/addBlock"
        );
        let txid = self.log_edit(Op::CloseFile(pb::CloseFileOp {
            inode_id: id,
            mtime_ms: crate::now_ms(),
            atime_ms: self.dir.inode(id)?.atime,
            blocks,
        }))?;
        if let Some((old, gs, holders)) = recover {
            // Complete once a replica reports the settled length and stamp.
            self.blocks
                .map
                .update(old.id, |b| b.state = BlockState::UnderRecovery);
            for node in holders {
                if let Some(n) = self.datanodes.get_mut(node) {
                    n.recover.insert(
                        old.id,
                        pb::RecoverBlockCommand {
                            block: Some(old),
                            new_generation_stamp: gs,
                            new_length: old.num_bytes,
                        },
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
                txid = self.recover_lease(file)?;
            } else {
                self.leases.remove_file(file);
            }
        }
        Ok(txid)
    }
}
