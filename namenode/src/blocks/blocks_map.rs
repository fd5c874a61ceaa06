//! BlocksMap: block id → what the namenode knows of the block (generation
//! stamp, length, state, owning file, where its replicas are), plus HDFS's
//! CorruptReplicasMap. It keeps the two counts safe mode needs up to date on
//! every change, so leaving safe mode never scans the map.

use std::collections::HashMap;

use cairn_proto::pb;

use crate::datanodes::descriptor::DnIdx;
use crate::namespace::id_map::IdMap;
use crate::namespace::inode::{BlockId, InodeId};

/// Replica locations held inline: a block usually has three.
const INLINE_REPLICAS: usize = 3;

/// Where a block's good replicas are: datanode indices held in the block
/// record itself up to three (HDFS's triplets), 16 bytes, so a block costs
/// no allocation for its locations. Reads as a slice; changes as a Vec does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replicas {
    Inline {
        len: u8,
        nodes: [DnIdx; INLINE_REPLICAS],
    },
    Heap(Box<Vec<DnIdx>>),
}

impl Default for Replicas {
    fn default() -> Self {
        Self::Inline {
            len: 0,
            nodes: [0; INLINE_REPLICAS],
        }
    }
}

impl Replicas {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, node: DnIdx) {
        match self {
            Self::Inline { len, nodes } if usize::from(*len) < INLINE_REPLICAS => {
                if let Some(slot) = nodes.get_mut(usize::from(*len)) {
                    *slot = node;
                    *len += 1;
                }
            }
            Self::Inline { .. } => {
                let mut all = self.to_vec();
                all.push(node);
                *self = Self::Heap(Box::new(all));
            }
            Self::Heap(all) => all.push(node),
        }
    }

    /// Keeps the nodes `keep` says yes to (Vec::retain's signature).
    pub fn retain(&mut self, keep: impl FnMut(&DnIdx) -> bool) {
        let mut all = self.to_vec();
        all.retain(keep);
        *self = all.into_iter().collect();
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

impl std::ops::Deref for Replicas {
    type Target = [DnIdx];

    fn deref(&self) -> &[DnIdx] {
        match self {
            Self::Inline { len, nodes } => nodes.get(..usize::from(*len)).unwrap_or(&[]),
            Self::Heap(all) => all,
        }
    }
}

impl std::ops::DerefMut for Replicas {
    fn deref_mut(&mut self) -> &mut [DnIdx] {
        match self {
            Self::Inline { len, nodes } => nodes.get_mut(..usize::from(*len)).unwrap_or(&mut []),
            Self::Heap(all) => all,
        }
    }
}

impl PartialEq<Vec<DnIdx>> for Replicas {
    fn eq(&self, other: &Vec<DnIdx>) -> bool {
        **self == **other
    }
}

impl FromIterator<DnIdx> for Replicas {
    fn from_iter<I: IntoIterator<Item = DnIdx>>(iter: I) -> Self {
        let mut out = Self::default();
        for node in iter {
            out.push(node);
        }
        out
    }
}

impl Extend<DnIdx> for Replicas {
    fn extend<I: IntoIterator<Item = DnIdx>>(&mut self, iter: I) {
        for node in iter {
            self.push(node);
        }
    }
}

impl IntoIterator for Replicas {
    type Item = DnIdx;
    type IntoIter = std::vec::IntoIter<DnIdx>;

    fn into_iter(self) -> Self::IntoIter {
        match self {
            Self::Inline { len, nodes } => {
                let mut all = nodes.to_vec();
                all.truncate(usize::from(len));
                all.into_iter()
            }
            Self::Heap(all) => all.into_iter(),
        }
    }
}

impl<'a> IntoIterator for &'a Replicas {
    type Item = &'a DnIdx;
    type IntoIter = std::slice::Iter<'a, DnIdx>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl From<Replicas> for Vec<DnIdx> {
    fn from(r: Replicas) -> Self {
        r.to_vec()
    }
}

/// HDFS's BlockUCState.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockState {
    /// Being written by a pipeline.
    UnderConstruction,
    /// Being settled on its datanodes at a new length (truncate, lease
    /// recovery) through RecoverBlockCommand.
    UnderRecovery,
    /// Its final length is known; waiting for `min_replication` replicas.
    Committed,
    Complete,
}

#[derive(Debug, Clone)]
pub struct BlockInfo {
    pub generation_stamp: u64,
    pub num_bytes: u64,
    pub inode: InodeId,
    /// The file's replication: how many replicas the block should have.
    pub replication: u16,
    pub state: BlockState,
    /// Nodes holding a good replica (finalized, right stamp and length).
    pub replicas: Replicas,
    /// For a block being written: the pipeline, where readers find it.
    pub expected: Option<Box<Vec<DnIdx>>>,
}

impl BlockInfo {
    pub fn to_pb(&self, id: BlockId) -> pb::Block {
        pb::Block {
            id,
            generation_stamp: self.generation_stamp,
            num_bytes: self.num_bytes,
        }
    }

    pub fn expected_locations(&self) -> &[DnIdx] {
        self.expected.as_deref().map(Vec::as_slice).unwrap_or(&[])
    }
}

#[derive(Debug, Default)]
pub struct BlocksMap {
    /// Block ids are handed out in sequence: stored densely, by id.
    blocks: IdMap<BlockInfo>,
    corrupt: HashMap<BlockId, Vec<DnIdx>>,
    min_replication: usize,
    complete_blocks: u64,
    safe_blocks: u64,
}

impl BlocksMap {
    pub fn new(min_replication: u32) -> Self {
        Self {
            min_replication: min_replication as usize,
            ..Self::default()
        }
    }

    pub fn get(&self, id: BlockId) -> Option<&BlockInfo> {
        self.blocks.get(id)
    }

    pub fn contains(&self, id: BlockId) -> bool {
        self.blocks.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = BlockId> + '_ {
        self.blocks.keys()
    }

    pub fn min_replication(&self) -> usize {
        self.min_replication
    }

    /// (complete blocks with ≥ min_replication replicas, complete blocks).
    pub fn safe_counts(&self) -> (u64, u64) {
        (self.safe_blocks, self.complete_blocks)
    }

    fn counted(&self, info: &BlockInfo) -> (bool, bool) {
        let complete = info.state == BlockState::Complete;
        (
            complete,
            complete && info.replicas.len() >= self.min_replication,
        )
    }

    fn account(&mut self, before: (bool, bool), after: (bool, bool)) {
        let adjust = |count: &mut u64, was: bool, is: bool| match (was, is) {
            (false, true) => *count += 1,
            (true, false) => *count = count.saturating_sub(1),
            _ => {}
        };
        adjust(&mut self.complete_blocks, before.0, after.0);
        adjust(&mut self.safe_blocks, before.1, after.1);
    }

    pub fn insert(&mut self, id: BlockId, info: BlockInfo) {
        let after = self.counted(&info);
        let before = self
            .blocks
            .insert(id, info)
            .map(|old| self.counted(&old))
            .unwrap_or((false, false));
        self.account(before, after);
    }

    pub fn remove(&mut self, id: BlockId) -> Option<(BlockInfo, Vec<DnIdx>)> {
        let info = self.blocks.remove(id)?;
        let before = self.counted(&info);
        self.account(before, (false, false));
        let corrupt = self.corrupt.remove(&id).unwrap_or_default();
        Some((info, corrupt))
    }

    /// Changes a block through `f`, keeping the safe-mode counts right.
    pub fn update<R>(&mut self, id: BlockId, f: impl FnOnce(&mut BlockInfo) -> R) -> Option<R> {
        let min = self.min_replication;
        let info = self.blocks.get_mut(id)?;
        let count = |i: &BlockInfo| {
            let complete = i.state == BlockState::Complete;
            (complete, complete && i.replicas.len() >= min)
        };
        let before = count(info);
        let result = f(info);
        let after = count(info);
        self.account(before, after);
        Some(result)
    }

    pub fn corrupt_replicas(&self, id: BlockId) -> &[DnIdx] {
        self.corrupt.get(&id).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn num_corrupt_blocks(&self) -> usize {
        self.corrupt.len()
    }

    pub fn add_corrupt(&mut self, id: BlockId, node: DnIdx) {
        let list = self.corrupt.entry(id).or_default();
        if !list.contains(&node) {
            list.push(node);
        }
    }

    pub fn remove_corrupt(&mut self, id: BlockId, node: DnIdx) -> bool {
        let Some(list) = self.corrupt.get_mut(&id) else {
            return false;
        };
        let before = list.len();
        list.retain(|&n| n != node);
        let removed = list.len() != before;
        if list.is_empty() {
            self.corrupt.remove(&id);
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(state: BlockState) -> BlockInfo {
        BlockInfo {
            generation_stamp: 1001,
            num_bytes: 10,
            inode: 16386,
            replication: 3,
            state,
            replicas: Replicas::new(),
            expected: None,
        }
    }

    #[test]
    fn replicas_inline_then_on_the_heap() {
        let mut r = Replicas::new();
        r.extend([4, 5, 6]);
        assert!(matches!(r, Replicas::Inline { len: 3, .. }));
        r.push(7);
        assert_eq!(r, vec![4, 5, 6, 7]);
        r.retain(|&n| n != 5);
        assert_eq!(r, vec![4, 6, 7]);
        assert!(matches!(r, Replicas::Inline { len: 3, .. }));
        assert!(r.contains(&6));
        r.clear();
        assert!(r.is_empty());
        assert_eq!(std::mem::size_of::<Replicas>(), 16);
    }

    #[test]
    fn safe_counts_follow_changes() {
        let mut map = BlocksMap::new(1);
        map.insert(1, info(BlockState::Complete));
        map.insert(2, info(BlockState::UnderConstruction));
        assert_eq!(map.safe_counts(), (0, 1));
        map.update(1, |b| b.replicas.push(0));
        assert_eq!(map.safe_counts(), (1, 1));
        map.update(2, |b| {
            b.state = BlockState::Complete;
            b.replicas.push(1);
        });
        assert_eq!(map.safe_counts(), (2, 2));
        map.remove(1);
        assert_eq!(map.safe_counts(), (1, 1));
        map.add_corrupt(2, 5);
        assert_eq!(map.corrupt_replicas(2), &[5]);
        assert!(map.remove_corrupt(2, 5));
        assert_eq!(map.num_corrupt_blocks(), 0);
    }
}
