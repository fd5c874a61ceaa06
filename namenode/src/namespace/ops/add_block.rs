//! FSDirWriteFileOp's middle: blocks of a file being written — addBlock,
//! abandonBlock, fsync, and pipeline recovery (updateBlockForPipeline,
//! updatePipeline).

use std::collections::HashSet;
use std::time::Instant;

use cairn_proto::pb;
use pb::edit_log_record::Op;

use crate::blocks::blocks_map::BlockState;
use crate::blocks::placement::{PlacementRequest, choose_targets};
use crate::datanodes::descriptor::DnIdx;
use crate::error::{NamenodeError, Result};
use crate::namespace::inode::InodeId;
use crate::namesystem::Namesystem;

impl Namesystem {
    /// HDFS's checkLease: the file (by id when given, else by path) must be
    /// open and its lease held by `client`. Returns the id and the path.
    pub fn check_lease(&self, path: &str, file_id: u64, client: &str) -> Result<(InodeId, String)> {
        let (id, shown) = if file_id != 0 {
            let shown = if self.dir.get(file_id).is_some() {
                self.dir.full_path(file_id)
            } else {
                path.to_string()
            };
            (
                Some(file_id).filter(|id| self.dir.get(*id).is_some()),
                shown,
            )
        } else {
            let iip = self.dir.resolve(path)?;
            (iip.last(), iip.path)
        };
        let no_lease = |why: &str, id: u64| {
            NamenodeError::LeaseExpired(format!(
                "No lease on {shown} (inode {id}): {why}. Holder {client} does not have any open files."
            ))
        };
        let Some(id) = id else {
            return Err(no_lease("File does not exist", file_id));
        };
        let file = self
            .dir
            .inode(id)?
            .as_file()
            .ok_or_else(|| no_lease("Path is not a file", id))?;
        let Some(uc) = &file.under_construction else {
            return Err(no_lease("File is not open for writing", id));
        };
        if uc.client_name != client {
            return Err(NamenodeError::LeaseExpired(format!(
                "Lease mismatch on {shown} (inode {id}) owned by {} but is accessed by {client}",
                uc.client_name
            )));
        }
        Ok((id, shown))
    }

    /// HDFS's getAdditionalBlock.
    pub fn add_block(&mut self, req: &pb::AddBlockRequest) -> Result<(pb::LocatedBlock, u64)> {
        self.check_safe_mode(|| format!("add block to {}", req.path))?;
        let (id, path) = self.check_lease(&req.path, req.file_id, &req.client_name)?;
        self.leases.renew(&req.client_name, Instant::now());
        let file = self.file(id)?;
        let replication = usize::from(file.replication);
        let block_size = file.preferred_block_size;
        let blocks = file.blocks.clone();
        let now = Instant::now();

        // A retried addBlock (the reply was lost): hand out the same block.
        if let Some(&last) = blocks.last() {
            let last_info = self.blocks.map.get(last);
            let last_is_open = last_info.is_some_and(|b| b.state == BlockState::UnderConstruction);
            let previous_is_penultimate = match &req.previous {
                None => blocks.len() == 1,
                Some(p) => blocks.len() >= 2 && blocks[blocks.len() - 2] == p.id,
            };
            if last_is_open && previous_is_penultimate {
                let offset = self
                    .file_length(self.file(id)?)
                    .saturating_sub(last_info.map(|b| b.num_bytes).unwrap_or(0));
                return self
                    .located_block(last, offset, now)
                    .map(|lb| (lb, 0))
                    .ok_or_else(|| NamenodeError::Internal(format!("block {last} vanished")));
            }
        }
        let last_open = blocks
            .last()
            .and_then(|&b| self.blocks.map.get(b))
            .is_some_and(|b| b.state == BlockState::UnderConstruction);
        // What to commit: `previous` when it is the block being written.
        // After an append whose last block was full there is nothing to
        // commit, whether or not the writer names that block.
        let to_commit = match (&req.previous, blocks.last()) {
            (None, None) => None,
            (None, Some(_)) if !last_open => None,
            (Some(p), Some(&last)) if p.id == last => last_open.then_some(*p),
            (previous, last) => {
                return Err(NamenodeError::InvalidArgument(format!(
                    "addBlock on {path}: the previous block {:?} is not the file's last block {:?}",
                    previous.as_ref().map(|p| p.id),
                    last
                )));
            }
        };
        // The block before `previous` must have reached min replication.
        if blocks.len() >= 2 {
            let penultimate = blocks[blocks.len() - 2];
            if !self.blocks.try_complete(penultimate)
                && self
                    .blocks
                    .map
                    .get(penultimate)
                    .is_some_and(|b| b.state != BlockState::Complete)
            {
                return Err(NamenodeError::NotReplicatedYet(format!(
                    "Not replicated yet: {path}"
                )));
            }
        }

        let excluded: HashSet<DnIdx> = req
            .excluded_nodes
            .iter()
            .filter_map(|u| self.datanodes.idx_of(u))
            .collect();
        let host = (!req.client_host.is_empty()).then_some(req.client_host.as_str());
        let targets = choose_targets(
            &self.datanodes,
            &PlacementRequest {
                count: replication,
                writer_host: host,
                chosen: &[],
                excluded: &excluded,
                block_size,
                now,
                stale_interval: self.config.stale_interval,
            },
        );
        let min = self.config.min_replication as usize;
        if targets.len() < min.min(replication) || targets.is_empty() {
            return Err(NamenodeError::NotEnoughReplicas(format!(
                "File {path} could only be written to {} of the {min} minReplication nodes. There are {} datanode(s) running and {} node(s) are excluded in this operation.",
                targets.len(),
                self.datanodes.num_alive(),
                excluded.len()
            )));
        }
        let block_id = self.blocks.next_block_id();
        let gs = self.blocks.next_generation_stamp();
        let block = pb::Block {
            id: block_id,
            generation_stamp: gs,
            num_bytes: 0,
        };
        let txid = self.log_edit(Op::AddBlock(pb::AddBlockOp {
            inode_id: id,
            previous: to_commit,
            block: Some(block),
        }))?;
        self.blocks
            .map
            .update(block_id, |b| b.expected = Some(Box::new(targets.clone())));
        for &t in &targets {
            if let Some(n) = self.datanodes.get_mut(t) {
                n.blocks_scheduled += 1;
            }
        }
        let offset = self.file_length(self.file(id)?);
        let lb = self
            .located_block(block_id, offset, now)
            .ok_or_else(|| NamenodeError::Internal(format!("block {block_id} vanished")))?;
        // The pipeline order chosen by placement, not readers' order.
        let stale = self.config.stale_interval;
        let locations = targets
            .iter()
            .filter_map(|&t| self.datanodes.info(t, now, stale))
            .collect();
        Ok((pb::LocatedBlock { locations, ..lb }, txid))
    }

    /// HDFS's abandonBlock: the writer gives up the block it was just given.
    pub fn abandon_block(&mut self, req: &pb::AbandonBlockRequest) -> Result<u64> {
        self.check_safe_mode(|| format!("abandon block in {}", req.path))?;
        let block = req
            .block
            .as_ref()
            .ok_or_else(|| NamenodeError::InvalidArgument("abandonBlock without a block".into()))?;
        let (id, path) = self.check_lease(&req.path, req.file_id, &req.client_name)?;
        let file = self.file(id)?;
        if file.blocks.last() != Some(&block.id) {
            // Already abandoned (a retry), or never part of the file.
            if file.blocks.contains(&block.id) {
                return Err(NamenodeError::InvalidArgument(format!(
                    "abandonBlock on {path}: block {} is not the last block",
                    block.id
                )));
            }
            return Ok(0);
        }
        let blocks: Vec<pb::Block> = file.blocks[..file.blocks.len() - 1]
            .iter()
            .filter_map(|&b| self.blocks.map.get(b).map(|info| info.to_pb(b)))
            .collect();
        self.log_edit(Op::UpdateBlocks(pb::UpdateBlocksOp {
            inode_id: id,
            blocks,
        }))
    }

    /// HDFS's fsync: records the length written so far of the last block.
    pub fn fsync(&mut self, req: &pb::FsyncRequest) -> Result<u64> {
        let (id, _) = self.check_lease(&req.path, req.file_id, &req.client_name)?;
        let file = self.file(id)?;
        let Some(&last) = file.blocks.last() else {
            return Ok(0);
        };
        let Some(info) = self.blocks.map.get(last) else {
            return Ok(0);
        };
        if info.state != BlockState::UnderConstruction || info.num_bytes == req.last_block_length {
            return Ok(0);
        }
        let mut blocks: Vec<pb::Block> = file
            .blocks
            .iter()
            .filter_map(|&b| self.blocks.map.get(b).map(|info| info.to_pb(b)))
            .collect();
        if let Some(b) = blocks.last_mut() {
            b.num_bytes = req.last_block_length;
        }
        self.log_edit(Op::UpdateBlocks(pb::UpdateBlocksOp {
            inode_id: id,
            blocks,
        }))
    }

    /// The file and client of a block being written, checked. Besides the
    /// block under construction, the writer may recover the one before it
    /// whose replicas were still finalizing (committed, or complete from a
    /// first replica) while the next block was allocated — HDFS's close
    /// recovery — as long as the file is still open under its lease.
    fn block_under_construction(&self, block: &pb::Block, client: &str) -> Result<InodeId> {
        let info =
            self.blocks.map.get(block.id).ok_or_else(|| {
                NamenodeError::NotFound(format!("block {} does not exist", block.id))
            })?;
        if info.state == BlockState::UnderRecovery {
            return Err(NamenodeError::InvalidArgument(format!(
                "block {} is under recovery: its writer lost the lease",
                block.id
            )));
        }
        let file = info.inode;
        let path = self.dir.full_path(file);
        self.check_lease(&path, file, client)?;
        let blocks = &self.file(file)?.blocks;
        if !blocks.iter().rev().take(2).any(|&b| b == block.id) {
            return Err(NamenodeError::InvalidArgument(format!(
                "block {} is not one of the last two blocks of {path}",
                block.id
            )));
        }
        Ok(file)
    }

    /// HDFS's updateBlockForPipeline: a new generation stamp for a block
    /// under construction, for the writer's pipeline recovery.
    pub fn update_block_for_pipeline(
        &mut self,
        req: &pb::UpdateBlockForPipelineRequest,
    ) -> Result<(pb::LocatedBlock, u64)> {
        let block = req.block.as_ref().ok_or_else(|| {
            NamenodeError::InvalidArgument("updateBlockForPipeline without a block".into())
        })?;
        self.check_safe_mode(|| format!("get a new generation stamp for block {}", block.id))?;
        self.block_under_construction(block, &req.client_name)?;
        let gs = self.blocks.next_generation_stamp();
        let txid = self.log_edit(Op::SetGenerationStamp(pb::SetGenerationStampOp {
            generation_stamp: gs,
        }))?;
        let now = Instant::now();
        let mut lb = self
            .located_block(block.id, 0, now)
            .ok_or_else(|| NamenodeError::Internal(format!("block {} vanished", block.id)))?;
        lb.block = Some(pb::Block {
            id: block.id,
            generation_stamp: gs,
            num_bytes: block.num_bytes,
        });
        Ok((lb, txid))
    }

    /// HDFS's updatePipeline: the block carries on under its new stamp and
    /// length with the surviving datanodes.
    pub fn update_pipeline(&mut self, req: &pb::UpdatePipelineRequest) -> Result<u64> {
        let (Some(old), Some(new)) = (req.old_block.as_ref(), req.new_block.as_ref()) else {
            return Err(NamenodeError::InvalidArgument(
                "updatePipeline needs the old and the new block".into(),
            ));
        };
        self.check_safe_mode(|| format!("update the pipeline of block {}", old.id))?;
        if old.id != new.id {
            return Err(NamenodeError::InvalidArgument(format!(
                "updatePipeline: the new block {} is not the old block {}",
                new.id, old.id
            )));
        }
        let file = self.block_under_construction(old, &req.client_name)?;
        let (current, committed) = self
            .blocks
            .map
            .get(old.id)
            .map(|b| {
                let committed = b.state != BlockState::UnderConstruction;
                (b.generation_stamp, committed.then_some(b.num_bytes))
            })
            .unwrap_or((0, None));
        if new.generation_stamp <= current || new.generation_stamp > self.blocks.generation_stamp {
            return Err(NamenodeError::StaleGenerationStamp(format!(
                "updatePipeline of block {}: generation stamp {} is not newer than {current} or was never handed out",
                old.id, new.generation_stamp
            )));
        }
        // Close recovery of the previous block: the writer committed its
        // length with addBlock before the last packets were acknowledged,
        // and resends those packets to the survivors, so the block keeps
        // that length whatever was acknowledged when the pipeline broke
        // (taking the acknowledged length would cut acknowledged data off
        // the file).
        let new = pb::Block {
            num_bytes: committed.unwrap_or(new.num_bytes),
            ..*new
        };
        let mut blocks = self.file_blocks(file)?;
        match blocks.iter_mut().find(|b| b.id == new.id) {
            Some(b) => *b = new,
            None => {
                return Err(NamenodeError::Internal(format!(
                    "block {} is not in its file",
                    new.id
                )));
            }
        }
        let txid = self.log_edit(Op::UpdateBlocks(pb::UpdateBlocksOp {
            inode_id: file,
            blocks,
        }))?;
        let pipeline: Vec<DnIdx> = req
            .new_datanode_uuids
            .iter()
            .filter_map(|u| self.datanodes.idx_of(u))
            .collect();
        self.blocks
            .forget_pending_target(new.id, |n| !pipeline.contains(&n));
        self.blocks
            .map
            .update(new.id, |b| b.expected = Some(Box::new(pipeline)));
        Ok(txid)
    }
}
