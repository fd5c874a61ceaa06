//! HDFS's DFSInputStream: a file open for reading. The block locations are
//! fetched in batches and cached; each block range is read by a
//! [`BlockRead`] that fails over between replicas. Sequential reads keep one
//! ReadBlock stream open per block; positional reads (`read_at`) open their
//! own streams and never disturb the sequential position.

use std::collections::HashSet;
use std::time::Duration;

use bytes::{Buf, Bytes};
use cairn_proto::pb::{
    FileStatus, FileType, GetReplicaVisibleLengthRequest, LocatedBlock, LocatedBlocks,
};
use cairn_proto::{ErrorKind, RpcError};
use parking_lot::Mutex;

use crate::Result;
use crate::block_reader::BlockRead;
use crate::connection::datanode_address;
use crate::dfs_client::DfsClient;
use crate::error::DfsError;

/// Blocks fetched per getBlockLocations call (HDFS prefetches ten).
const PREFETCH_BLOCKS: u64 = 10;
/// Block size assumed for the prefetch range when the status has none.
const DEFAULT_BLOCK_SIZE: u64 = 128 * 1024 * 1024;

/// The readable length of a located block.
pub(crate) fn block_len(block: &LocatedBlock) -> u64 {
    block.block.map_or(0, |b| b.num_bytes)
}

/// The index of the block holding file offset `offset`, among blocks sorted
/// by offset (blocks may have any lengths; empty ones hold no offset).
pub(crate) fn find_block(blocks: &[LocatedBlock], offset: u64) -> Option<usize> {
    let after = blocks.partition_point(|b| b.offset <= offset);
    let mut index = after.checked_sub(1)?;
    // Skip back over empty blocks that share an offset with a real one.
    loop {
        let block = &blocks[index];
        if offset < block.offset + block_len(block) {
            return Some(index);
        }
        if index == 0 || blocks[index - 1].offset != block.offset {
            return None;
        }
        index -= 1;
    }
}

/// Adds fetched blocks to the cache, replacing cached entries for the same
/// block, and keeps the cache sorted by offset.
pub(crate) fn merge_blocks(cache: &mut Vec<LocatedBlock>, fetched: Vec<LocatedBlock>) {
    for block in fetched {
        let id = block.block.map(|b| b.id);
        match cache.iter_mut().find(|c| c.block.map(|b| b.id) == id) {
            Some(cached) => *cached = block,
            None => {
                let at = cache.partition_point(|c| c.offset <= block.offset);
                cache.insert(at, block);
            }
        }
    }
}

/// The part of a block that a read of file bytes `[offset, end)` covers:
/// the offset in the block and the length.
pub(crate) fn block_range(block: &LocatedBlock, offset: u64, end: u64) -> (u64, u64) {
    let in_block = offset.saturating_sub(block.offset);
    let block_end = block.offset + block_len(block);
    (in_block, end.min(block_end).saturating_sub(offset))
}

/// The cached locations, and the one block whose length this reader fixed
/// itself (the last block of a file being written).
struct LocationCache {
    blocks: Vec<LocatedBlock>,
    /// (block id, visible length) of the block under construction.
    under_construction: Option<(u64, u64)>,
}

impl LocationCache {
    fn add(&mut self, mut fetched: LocatedBlocks) {
        let mut blocks = std::mem::take(&mut fetched.blocks);
        if let Some(last) = fetched.last_block.take()
            && !blocks
                .iter()
                .any(|b| b.block.map(|x| x.id) == last.block.map(|x| x.id))
        {
            blocks.push(last);
        }
        if let Some((id, length)) = self.under_construction {
            for located in &mut blocks {
                if let Some(block) = located.block.as_mut()
                    && block.id == id
                {
                    block.num_bytes = length;
                }
            }
        }
        merge_blocks(&mut self.blocks, blocks);
    }
}

/// What positional and sequential reads share: the file, its locations and
/// the datanodes found dead.
pub(crate) struct ReaderCore {
    client: DfsClient,
    path: String,
    length: u64,
    prefetch: u64,
    locations: Mutex<LocationCache>,
    dead_nodes: Mutex<HashSet<String>>,
}

impl ReaderCore {
    pub(crate) fn client(&self) -> &DfsClient {
        &self.client
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn client_name(&self) -> &str {
        self.client.client_name()
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.client.config().rpc_timeout
    }

    pub(crate) fn dead_nodes(&self) -> HashSet<String> {
        self.dead_nodes.lock().clone()
    }

    pub(crate) fn mark_dead(&self, address: &str) {
        self.dead_nodes.lock().insert(address.to_string());
    }

    /// The block holding `offset`, from the cache or the namenode.
    async fn locate(&self, offset: u64) -> Result<LocatedBlock> {
        if let Some(found) = self.cached(offset) {
            return Ok(found);
        }
        self.fetch(offset, self.prefetch).await?;
        self.cached(offset).ok_or_else(|| DfsError::Protocol {
            peer: self.client.config().namenode.clone(),
            message: format!(
                "{}: no block holds offset {offset} of a file of {} bytes",
                self.path, self.length
            ),
        })
    }

    fn cached(&self, offset: u64) -> Option<LocatedBlock> {
        let cache = self.locations.lock();
        find_block(&cache.blocks, offset).map(|i| cache.blocks[i].clone())
    }

    async fn fetch(&self, offset: u64, length: u64) -> Result<()> {
        let fetched = self
            .client
            .get_block_locations(&self.path, offset, length)
            .await?;
        self.locations.lock().add(fetched);
        Ok(())
    }

    /// Fetches the locations of `block` again (after every replica failed);
    /// the dead nodes get another chance, as in HDFS.
    pub(crate) async fn refetch(&self, block: &LocatedBlock) -> Result<LocatedBlock> {
        self.fetch(block.offset, 1).await?;
        self.dead_nodes.lock().clear();
        let id = block.block.map(|b| b.id);
        let cache = self.locations.lock();
        Ok(cache
            .blocks
            .iter()
            .find(|b| b.block.map(|x| x.id) == id)
            .cloned()
            .unwrap_or_else(|| block.clone()))
    }

    /// Fills `buf` from file offset `offset`; the range lies inside the file.
    async fn read_range(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset + buf.len() as u64;
        let mut filled = 0usize;
        while filled < buf.len() {
            let at = offset + filled as u64;
            let located = self.locate(at).await?;
            let (in_block, len) = block_range(&located, at, end);
            let mut read = BlockRead::new(located, in_block, in_block + len);
            while let Some(chunk) = read.next_chunk(self).await? {
                buf[filled..filled + chunk.len()].copy_from_slice(&chunk);
                filled += chunk.len();
            }
        }
        Ok(())
    }
}

/// A file open for reading. `Send` and `Sync`: positional reads may run
/// concurrently from several tasks.
pub struct FileReader {
    core: ReaderCore,
    status: FileStatus,
    /// The file offset of the next sequential byte.
    pos: u64,
    /// Bytes at `pos` already fetched but not returned yet.
    pending: Bytes,
    /// The sequential stream. Only touched through `&mut self`; the mutex
    /// is there so that `&FileReader` can cross tasks.
    current: Mutex<Option<BlockRead>>,
}

impl FileReader {
    pub(crate) async fn open(client: DfsClient, path: &str) -> Result<Self> {
        let status = client.get_file_info(path).await?.ok_or_else(|| {
            RpcError::new(ErrorKind::NotFound, format!("File does not exist: {path}"))
        })?;
        if status.file_type == FileType::Directory as i32 {
            return Err(
                RpcError::new(ErrorKind::IsADirectory, format!("{path} is a directory")).into(),
            );
        }
        let block_size = if status.block_size > 0 {
            status.block_size
        } else {
            DEFAULT_BLOCK_SIZE
        };
        let prefetch = block_size.saturating_mul(PREFETCH_BLOCKS);
        let located = client.get_block_locations(path, 0, prefetch).await?;
        let mut length = located.file_length;
        let mut under_construction = None;
        if located.under_construction
            && !located.last_block_complete
            && let Some(last) = &located.last_block
            && let Some(block) = last.block
        {
            let visible = visible_length(&client, path, last).await?;
            length = length.max(last.offset + visible);
            under_construction = Some((block.id, visible));
        }
        let mut cache = LocationCache {
            blocks: Vec::new(),
            under_construction,
        };
        cache.add(located);
        tracing::debug!(%path, length, blocks = cache.blocks.len(), "opened for reading");
        Ok(Self {
            core: ReaderCore {
                client,
                path: path.to_string(),
                length,
                prefetch,
                locations: Mutex::new(cache),
                dead_nodes: Mutex::new(HashSet::new()),
            },
            status,
            pos: 0,
            pending: Bytes::new(),
            current: Mutex::new(None),
        })
    }

    /// The file's length when it was opened (for a file being written, up
    /// to what the datanodes make visible).
    pub fn len(&self) -> u64 {
        self.core.length
    }

    pub fn is_empty(&self) -> bool {
        self.core.length == 0
    }

    /// The file's status as the namenode gave it at open.
    pub fn status(&self) -> &FileStatus {
        &self.status
    }

    /// The file offset of the next sequential read.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// Reads from the sequential position into `buf`; 0 at end of file.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pending.is_empty() {
            match self.next_chunk().await? {
                Some(chunk) => self.pending = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending.split_to(n));
        self.pos += n as u64;
        Ok(n)
    }

    /// The next bytes from the sequential position (about one datanode
    /// packet, without copying); `None` at end of file.
    pub async fn read_chunk(&mut self) -> Result<Option<Bytes>> {
        let chunk = if self.pending.is_empty() {
            self.next_chunk().await?
        } else {
            Some(std::mem::take(&mut self.pending))
        };
        if let Some(chunk) = &chunk {
            self.pos += chunk.len() as u64;
        }
        Ok(chunk)
    }

    /// Moves the sequential position. Past the end, reads return end of file.
    pub fn seek(&mut self, pos: u64) {
        if pos == self.pos {
            return;
        }
        let ahead = pos.checked_sub(self.pos);
        match ahead {
            Some(skip) if skip < self.pending.len() as u64 => {
                // Within what is already fetched: keep the stream.
                self.pending.advance(skip as usize);
            }
            _ => {
                self.pending = Bytes::new();
                *self.current.get_mut() = None;
            }
        }
        self.pos = pos;
    }

    /// Reads up to `buf.len()` bytes at `offset` (HDFS's pread), across
    /// blocks; fewer only at end of file. Independent of the sequential
    /// position.
    pub async fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if offset >= self.core.length || buf.is_empty() {
            return Ok(0);
        }
        let n = usize::try_from(self.core.length - offset)
            .map_or(buf.len(), |left| left.min(buf.len()));
        self.core.read_range(offset, &mut buf[..n]).await?;
        Ok(n)
    }

    /// Fills all of `buf` from `offset`, or fails if the file ends first.
    pub async fn read_fully_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let n = self.read_at(offset, buf).await?;
        if n < buf.len() {
            return Err(DfsError::UnexpectedEof {
                path: self.core.path.clone(),
                offset,
                wanted: buf.len() as u64,
                length: self.core.length,
            });
        }
        Ok(())
    }

    /// Datanodes this reader found unreachable.
    #[cfg(test)]
    pub(crate) fn dead_nodes(&self) -> HashSet<String> {
        self.core.dead_nodes()
    }

    /// The next verified bytes at `pos + pending`, opening the stream of the
    /// next block when one is done. Does not move `pos`.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        let current = self.current.get_mut();
        loop {
            let at = self.pos + self.pending.len() as u64;
            if at >= self.core.length {
                return Ok(None);
            }
            if current.is_none() {
                let located = self.core.locate(at).await?;
                let (in_block, len) = block_range(&located, at, self.core.length);
                *current = Some(BlockRead::new(located, in_block, in_block + len));
            }
            let Some(read) = current.as_mut() else {
                continue;
            };
            match read.next_chunk(&self.core).await? {
                Some(chunk) => return Ok(Some(chunk)),
                None => *current = None,
            }
        }
    }
}

/// The length a reader may read of a block being written: the first
/// replica that answers says. When every replica says it has no such
/// replica (the pipeline is not set up yet), the namenode's length holds.
async fn visible_length(client: &DfsClient, path: &str, last: &LocatedBlock) -> Result<u64> {
    let known = block_len(last);
    if last.locations.is_empty() {
        return Ok(known);
    }
    let mut last_error = None;
    let mut all_not_found = true;
    for node in &last.locations {
        let address = datanode_address(node);
        let request = GetReplicaVisibleLengthRequest { block: last.block };
        let answer = match client.datanode(&address) {
            Ok(mut datanode) => {
                match tokio::time::timeout(
                    client.config().rpc_timeout,
                    datanode.get_replica_visible_length(request),
                )
                .await
                {
                    Ok(Ok(response)) => Ok(response.into_inner().length),
                    Ok(Err(status)) => Err(DfsError::from(status)),
                    Err(_) => Err(DfsError::TimedOut {
                        peer: address.clone(),
                        what: "GetReplicaVisibleLength".to_string(),
                        timeout_ms: u64::try_from(client.config().rpc_timeout.as_millis())
                            .unwrap_or(u64::MAX),
                    }),
                }
            }
            Err(err) => Err(err),
        };
        match answer {
            Ok(length) => return Ok(length),
            Err(err) => {
                tracing::debug!(%path, datanode = %address, error = %err, "no visible length");
                all_not_found &= err.kind() == ErrorKind::ReplicaNotFound;
                last_error = Some(err);
            }
        }
    }
    if all_not_found {
        return Ok(known);
    }
    Err(DfsError::AllReplicasFailed {
        block_id: last.block.map_or(0, |b| b.id),
        path: path.to_string(),
        last_error: last_error.map_or_else(String::new, |e| {
            format!("cannot get the visible length: {e}")
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_proto::pb::Block;

    fn located(id: u64, offset: u64, len: u64) -> LocatedBlock {
        LocatedBlock {
            block: Some(Block {
                id,
                generation_stamp: 1,
                num_bytes: len,
            }),
            offset,
            ..Default::default()
        }
    }

    #[test]
    fn offsets_map_to_blocks_of_different_lengths() {
        // Three blocks of 100, 30 (an append point) and 250 bytes.
        let blocks = vec![
            located(1, 0, 100),
            located(2, 100, 30),
            located(3, 130, 250),
        ];
        assert_eq!(find_block(&blocks, 0), Some(0));
        assert_eq!(find_block(&blocks, 99), Some(0));
        assert_eq!(find_block(&blocks, 100), Some(1));
        assert_eq!(find_block(&blocks, 129), Some(1));
        assert_eq!(find_block(&blocks, 130), Some(2));
        assert_eq!(find_block(&blocks, 379), Some(2));
        assert_eq!(find_block(&blocks, 380), None);
    }

    #[test]
    fn gaps_and_empty_blocks_hold_no_offset() {
        let blocks = vec![located(1, 0, 100), located(2, 100, 0), located(3, 200, 50)];
        assert_eq!(find_block(&blocks, 100), None);
        assert_eq!(find_block(&blocks, 150), None);
        assert_eq!(find_block(&blocks, 200), Some(2));
        assert_eq!(find_block(&[], 0), None);
        // An empty block sharing its offset with the next one.
        let blocks = vec![located(1, 0, 100), located(2, 100, 40), located(3, 100, 0)];
        assert_eq!(find_block(&blocks, 120), Some(1));
    }

    #[test]
    fn a_range_splits_at_block_boundaries() {
        let blocks = vec![
            located(1, 0, 100),
            located(2, 100, 30),
            located(3, 130, 250),
        ];
        // Bytes 90..200 cover 90..100 of block 1, all of block 2, 0..70 of block 3.
        let (offset, end) = (90, 200);
        let mut at = offset;
        let mut parts = Vec::new();
        while at < end {
            let block = &blocks[find_block(&blocks, at).unwrap()];
            let (in_block, len) = block_range(block, at, end);
            parts.push((block.block.unwrap().id, in_block, len));
            at += len;
        }
        assert_eq!(parts, vec![(1, 90, 10), (2, 0, 30), (3, 0, 70)]);
    }

    #[test]
    fn merging_replaces_and_sorts() {
        let mut cache = vec![located(1, 0, 100), located(3, 200, 100)];
        let mut newer = located(3, 200, 100);
        newer.locations.push(Default::default());
        merge_blocks(&mut cache, vec![located(2, 100, 100), newer]);
        let ids: Vec<u64> = cache.iter().map(|b| b.block.unwrap().id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        assert_eq!(cache[2].locations.len(), 1);
    }

    #[test]
    fn under_construction_block_keeps_its_visible_length() {
        let mut cache = LocationCache {
            blocks: Vec::new(),
            under_construction: Some((2, 42)),
        };
        cache.add(LocatedBlocks {
            file_length: 100,
            blocks: vec![located(1, 0, 100)],
            under_construction: true,
            last_block: Some(located(2, 100, 0)),
            last_block_complete: false,
        });
        assert_eq!(cache.blocks.len(), 2);
        assert_eq!(block_len(&cache.blocks[1]), 42);
        assert_eq!(find_block(&cache.blocks, 141), Some(1));
    }
}
