//! Applying an edit-log op to the in-memory state: the one code path shared
//! by live operations and start-up replay (HDFS's FSEditLogLoader
//! applyEditLogOp + FSDirectory's unprotected* methods). Ops name inodes by
//! id; an op that does not fit the namespace is corruption.

use std::collections::HashSet;
use std::time::Instant;

use cairn_proto::pb;
use pb::edit_log_record::Op;

use crate::blocks::blocks_map::{BlockInfo, BlockState};
use crate::error::{NamenodeError, Result};
use crate::namespace::inode::{
    BlockId, DirectoryInode, FileInode, Inode, InodeId, InodeKind, UnderConstruction, XAttr,
};
use crate::namesystem::Namesystem;

fn bad(msg: String) -> NamenodeError {
    NamenodeError::Internal(msg)
}

impl Namesystem {
    pub fn apply(&mut self, op: &Op) -> Result<()> {
        match op {
            Op::Mkdir(m) => {
                let owner = self.dir.names.intern(&m.owner);
                let group = self.dir.names.intern(&m.group);
                self.add_inode(
                    m.inode_id,
                    m.parent_id,
                    &m.name,
                    owner,
                    group,
                    m.mode,
                    m.mtime_ms,
                    InodeKind::Directory(DirectoryInode::default()),
                )
            }
            Op::AddFile(a) => {
                let owner = self.dir.names.intern(&a.owner);
                let group = self.dir.names.intern(&a.group);
                let file = FileInode {
                    replication: u16::try_from(a.replication).unwrap_or(u16::MAX),
                    preferred_block_size: a.preferred_block_size,
                    blocks: Default::default(),
                    under_construction: Some(Box::new(UnderConstruction {
                        client_name: a.client_name.clone(),
                        client_machine: a.client_machine.clone(),
                    })),
                };
                self.add_inode(
                    a.inode_id,
                    a.parent_id,
                    &a.name,
                    owner,
                    group,
                    a.mode,
                    a.mtime_ms,
                    InodeKind::File(file),
                )?;
                self.leases.add(&a.client_name, a.inode_id, Instant::now());
                Ok(())
            }
            Op::AddBlock(a) => {
                let block = a
                    .block
                    .as_ref()
                    .ok_or_else(|| bad("AddBlock without a block".into()))?;
                let file = self.file(a.inode_id)?;
                let replication = file.replication;
                if let Some(prev) = &a.previous {
                    if file.blocks.last() != Some(&prev.id) {
                        return Err(bad(format!(
                            "AddBlock: block {} is not the last block of inode {}",
                            prev.id, a.inode_id
                        )));
                    }
                    self.commit_block(prev);
                }
                self.blocks.add_block(
                    block.id,
                    BlockInfo {
                        generation_stamp: block.generation_stamp,
                        num_bytes: block.num_bytes,
                        inode: a.inode_id,
                        replication,
                        state: BlockState::UnderConstruction,
                        replicas: Default::default(),
                        expected: None,
                    },
                );
                self.file_mut(a.inode_id)?.blocks.push(block.id);
                Ok(())
            }
            Op::UpdateBlocks(u) => {
                let under_construction = self.file(u.inode_id)?.under_construction.is_some();
                let last_state = if under_construction {
                    BlockState::UnderConstruction
                } else {
                    BlockState::Committed
                };
                self.set_file_blocks(u.inode_id, &u.blocks, last_state)
            }
            Op::SetGenerationStamp(g) => {
                self.blocks.generation_stamp = self.blocks.generation_stamp.max(g.generation_stamp);
                Ok(())
            }
            Op::CloseFile(c) => {
                // A closed file's blocks are complete (as HDFS's OP_CLOSE):
                // live, close is only logged once they are; on replay their
                // replicas are not known yet and come with block reports.
                self.set_file_blocks(c.inode_id, &c.blocks, BlockState::Complete)?;
                let ids = self.file(c.inode_id)?.blocks.clone();
                for id in ids {
                    self.blocks.map.update(id, |b| {
                        b.state = BlockState::Complete;
                        b.expected = None;
                    });
                    self.blocks.recheck.insert(id);
                }
                let inode = self.dir.inode_mut(c.inode_id)?;
                inode.mtime = c.mtime_ms;
                inode.atime = c.atime_ms;
                if let Some(f) = inode.as_file_mut() {
                    f.under_construction = None;
                }
                self.leases.remove_file(c.inode_id);
                Ok(())
            }
            Op::ReopenFile(r) => {
                let file = self.file_mut(r.inode_id)?;
                file.under_construction = Some(Box::new(UnderConstruction {
                    client_name: r.client_name.clone(),
                    client_machine: r.client_machine.clone(),
                }));
                self.leases.add(&r.client_name, r.inode_id, Instant::now());
                Ok(())
            }
            Op::Rename(r) => {
                let old_parent = self.dir.inode(r.inode_id)?.parent;
                self.dir.detach(r.inode_id)?;
                self.dir.attach(r.inode_id, r.dst_parent_id, &r.dst_name)?;
                for p in [old_parent, r.dst_parent_id] {
                    self.dir.inode_mut(p)?.mtime = r.mtime_ms;
                }
                Ok(())
            }
            Op::Delete(d) => self.delete_inode(d.inode_id, d.mtime_ms),
            Op::Concat(c) => self.apply_concat(c),
            Op::Truncate(t) => {
                let last_state = if t.under_recovery {
                    BlockState::UnderRecovery
                } else {
                    BlockState::Committed
                };
                self.set_file_blocks(t.inode_id, &t.blocks, last_state)?;
                if let Some(&last) = self.file(t.inode_id)?.blocks.last() {
                    self.blocks.try_complete(last);
                }
                let inode = self.dir.inode_mut(t.inode_id)?;
                inode.mtime = t.mtime_ms;
                if t.under_recovery {
                    if let Some(f) = inode.as_file_mut() {
                        f.under_construction = Some(Box::new(UnderConstruction {
                            client_name: t.client_name.clone(),
                            client_machine: t.client_machine.clone(),
                        }));
                    }
                    self.leases.add(&t.client_name, t.inode_id, Instant::now());
                }
                Ok(())
            }
            Op::Symlink(s) => {
                let owner = self.dir.names.intern(&s.owner);
                let group = self.dir.names.intern(&s.group);
                self.add_inode(
                    s.inode_id,
                    s.parent_id,
                    &s.name,
                    owner,
                    group,
                    s.mode,
                    s.mtime_ms,
                    InodeKind::Symlink(s.target.as_str().into()),
                )
            }
            Op::SetPermission(p) => {
                self.dir.inode_mut(p.inode_id)?.mode = (p.mode & 0o1777) as u16;
                Ok(())
            }
            Op::SetOwner(o) => {
                let owner = (!o.owner.is_empty()).then(|| self.dir.names.intern(&o.owner));
                let group = (!o.group.is_empty()).then(|| self.dir.names.intern(&o.group));
                let inode = self.dir.inode_mut(o.inode_id)?;
                if let Some(owner) = owner {
                    inode.owner = owner;
                }
                if let Some(group) = group {
                    inode.group = group;
                }
                Ok(())
            }
            Op::SetTimes(t) => {
                let inode = self.dir.inode_mut(t.inode_id)?;
                if t.mtime_ms >= 0 {
                    inode.mtime = t.mtime_ms as u64;
                }
                if t.atime_ms >= 0 {
                    inode.atime = t.atime_ms as u64;
                }
                Ok(())
            }
            Op::SetReplication(r) => {
                let replication = u16::try_from(r.replication).unwrap_or(u16::MAX);
                let file = self.file_mut(r.inode_id)?;
                file.replication = replication;
                let ids = file.blocks.clone();
                for id in ids {
                    self.blocks.map.update(id, |b| b.replication = replication);
                    self.blocks.recheck.insert(id);
                }
                Ok(())
            }
            Op::SetXattr(x) => {
                let inode = self.dir.inode_mut(x.inode_id)?;
                let list = inode.xattrs.get_or_insert_with(Default::default);
                let value = XAttr {
                    name: x.name.as_str().into(),
                    value: x.value.clone(),
                };
                match list.iter_mut().find(|a| *a.name == *x.name) {
                    Some(existing) => *existing = value,
                    None => list.push(value),
                }
                Ok(())
            }
            Op::RemoveXattr(x) => {
                let inode = self.dir.inode_mut(x.inode_id)?;
                if let Some(list) = inode.xattrs.as_mut() {
                    list.retain(|a| *a.name != *x.name);
                    if list.is_empty() {
                        inode.xattrs = None;
                    }
                }
                Ok(())
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_inode(
        &mut self,
        id: InodeId,
        parent: InodeId,
        name: &str,
        owner: u32,
        group: u32,
        mode: u32,
        mtime: u64,
        kind: InodeKind,
    ) -> Result<()> {
        let inode = Inode {
            parent,
            name: name.into(),
            owner,
            group,
            mode: (mode & 0o1777) as u16,
            mtime,
            atime: mtime,
            xattrs: None,
            kind,
        };
        self.dir.add_inode(id, inode)?;
        self.dir.inode_mut(parent)?.mtime = mtime;
        Ok(())
    }

    /// Sets a block's length and stamp from the client's final word.
    fn commit_block(&mut self, block: &pb::Block) {
        self.blocks.observe(block);
        let changed_stamp = self
            .blocks
            .map
            .update(block.id, |b| {
                let changed = b.generation_stamp != block.generation_stamp;
                b.generation_stamp = block.generation_stamp;
                b.num_bytes = block.num_bytes;
                if b.state == BlockState::UnderConstruction {
                    b.state = BlockState::Committed;
                }
                changed
            })
            .unwrap_or(false);
        if changed_stamp {
            self.forget_stale_replicas(block.id);
        }
        self.blocks.try_complete(block.id);
    }

    /// Replicas recorded under an older stamp no longer count; the nodes
    /// that hold them become the block's expected locations (they report
    /// again under the new stamp).
    fn forget_stale_replicas(&mut self, id: BlockId) {
        let stale = self
            .blocks
            .map
            .update(id, |b| {
                let old = std::mem::take(&mut b.replicas);
                let expected = b.expected.get_or_insert_with(Default::default);
                for n in &old {
                    if !expected.contains(n) {
                        expected.push(*n);
                    }
                }
                old
            })
            .unwrap_or_default();
        for node in stale {
            if let Some(n) = self.datanodes.get_mut(node) {
                n.blocks.remove(&id);
            }
        }
    }

    /// Makes a file's block list `blocks`: updates lengths and stamps,
    /// removes (and invalidates) dropped blocks, adds unknown ones. A last
    /// block under a new generation stamp takes `last_state` (being written
    /// again, or under recovery); other states are left as they are.
    fn set_file_blocks(
        &mut self,
        id: InodeId,
        blocks: &[pb::Block],
        last_state: BlockState,
    ) -> Result<()> {
        let file = self.file(id)?;
        let replication = file.replication;
        let keep: HashSet<BlockId> = blocks.iter().map(|b| b.id).collect();
        let dropped: Vec<BlockId> = file
            .blocks
            .iter()
            .copied()
            .filter(|b| !keep.contains(b))
            .collect();
        for b in dropped {
            self.blocks.remove_block(&mut self.datanodes, b);
        }
        let n = blocks.len();
        for (i, block) in blocks.iter().enumerate() {
            self.blocks.observe(block);
            let is_last = i + 1 == n;
            if self.blocks.map.contains(block.id) {
                let stamp_changed = self
                    .blocks
                    .map
                    .update(block.id, |b| {
                        let changed = b.generation_stamp != block.generation_stamp;
                        b.generation_stamp = block.generation_stamp;
                        b.num_bytes = block.num_bytes;
                        b.inode = id;
                        if is_last && changed {
                            b.state = last_state;
                        }
                        changed
                    })
                    .unwrap_or(false);
                if stamp_changed {
                    self.forget_stale_replicas(block.id);
                }
            } else {
                self.blocks.add_block(
                    block.id,
                    BlockInfo {
                        generation_stamp: block.generation_stamp,
                        num_bytes: block.num_bytes,
                        inode: id,
                        replication,
                        state: if is_last {
                            last_state
                        } else {
                            BlockState::Complete
                        },
                        replicas: Default::default(),
                        expected: None,
                    },
                );
            }
        }
        self.file_mut(id)?.blocks = blocks.iter().map(|b| b.id).collect();
        Ok(())
    }

    /// Removes an inode and its subtree: leases of open files go, blocks
    /// are invalidated on their datanodes.
    fn delete_inode(&mut self, id: InodeId, mtime: u64) -> Result<()> {
        let parent = self.dir.inode(id)?.parent;
        let mut stack = vec![id];
        while let Some(next) = stack.pop() {
            match self.dir.get(next).map(|i| &i.kind) {
                Some(InodeKind::Directory(d)) => stack.extend(d.children.iter().copied()),
                Some(InodeKind::File(f)) if f.under_construction.is_some() => {
                    self.leases.remove_file(next)
                }
                _ => {}
            }
        }
        let (blocks, _) = self.dir.remove_subtree(id)?;
        for b in blocks {
            self.blocks.remove_block(&mut self.datanodes, b);
        }
        if let Some(p) = self.dir.get_mut(parent) {
            p.mtime = mtime;
        }
        Ok(())
    }

    fn apply_concat(&mut self, c: &pb::ConcatOp) -> Result<()> {
        let replication = self.file(c.target_id)?.replication;
        let mut moved = Vec::new();
        for &src in &c.source_ids {
            let parent = self.dir.inode(src)?.parent;
            let blocks = std::mem::take(&mut self.file_mut(src)?.blocks);
            moved.extend(blocks);
            self.dir.remove_subtree(src)?;
            if let Some(p) = self.dir.get_mut(parent) {
                p.mtime = c.mtime_ms;
            }
        }
        for &b in &moved {
            self.blocks.map.update(b, |info| {
                info.inode = c.target_id;
                info.replication = replication;
            });
            self.blocks.recheck.insert(b);
        }
        let target = self.dir.inode_mut(c.target_id)?;
        target.mtime = c.mtime_ms;
        if let Some(f) = target.as_file_mut() {
            f.blocks.extend(moved);
        }
        Ok(())
    }
}
