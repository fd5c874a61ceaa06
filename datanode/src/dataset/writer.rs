//! The disk half of receiving a block: appends verified packets to an rbw
//! replica's block and meta files (HDFS's ReplicaOutputStreams as driven by
//! BlockReceiver). All methods block; call them from a blocking task.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use cairn_proto::{BYTES_PER_CHECKSUM, ChecksumType};
use parking_lot::Mutex;

use super::FsDataset;
use super::meta;
use super::replica::ReplicaPaths;
use crate::error::{DatanodeError, Result};

/// The one stream allowed to write an rbw replica.
pub struct ReplicaWriter {
    pub(super) dataset: Arc<FsDataset>,
    pub(super) block_id: u64,
    pub(super) token: u64,
    pub(super) volume: usize,
    pub(super) io: Arc<Mutex<()>>,
    pub(super) paths: ReplicaPaths,
    pub(super) data: File,
    pub(super) meta: File,
    /// The replica's checksum type, from its meta file header.
    pub(super) kind: ChecksumType,
    pub(super) bytes_on_disk: u64,
    /// Where early writeback was last started (see [`ReplicaWriter::write_behind`]).
    pub(super) written_back: u64,
    /// The bytes of the last, incomplete chunk on disk, so its checksum can be
    /// recomputed as the chunk fills up (an append, or unaligned packets)
    /// without reading the block file back.
    pub(super) partial: Vec<u8>,
}

impl std::fmt::Debug for ReplicaWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaWriter")
            .field("block_id", &self.block_id)
            .field("bytes_on_disk", &self.bytes_on_disk)
            .finish_non_exhaustive()
    }
}

impl ReplicaWriter {
    pub fn block_id(&self) -> u64 {
        self.block_id
    }

    pub fn bytes_on_disk(&self) -> u64 {
        self.bytes_on_disk
    }

    /// The replica's checksum type.
    pub fn checksum_type(&self) -> ChecksumType {
        self.kind
    }

    /// Writes a packet whose `checksums`, of type `wire`, were verified
    /// against `data` at `offset` here or downstream. When `wire` is the
    /// replica's own type, the client's checksums of whole chunks are
    /// stored as they are (never computed again); only a chunk that was
    /// partly on disk before gets its checksum recomputed. A replica of
    /// another type (an append to a block written with another type)
    /// computes its own. Bytes before `bytes_on_disk` (a packet sent again
    /// after a pipeline recovery) are skipped.
    pub fn write_packet(
        &mut self,
        offset: u64,
        data: &[u8],
        wire: ChecksumType,
        checksums: &[u8],
    ) -> Result<()> {
        let io = Arc::clone(&self.io);
        let _io = io.lock();
        self.dataset.check_writer(self.block_id, self.token)?;
        let on_disk = self.bytes_on_disk;
        if offset > on_disk {
            return Err(DatanodeError::InvalidArgument(format!(
                "packet for blk_{} starts at offset {offset} but the replica has only {on_disk} bytes",
                self.block_id
            )));
        }
        let skip = (on_disk - offset) as usize;
        let Some(data) = data.get(skip..).filter(|d| !d.is_empty()) else {
            return Ok(());
        };
        let kind = self.kind;
        let recomputed;
        let sums = if skip == 0 && wire == kind {
            checksums
        } else {
            let mut own = Vec::new();
            kind.chunk_checksums(data, on_disk, &mut own);
            recomputed = own;
            &recomputed[..]
        };

        let mut meta_bytes = Vec::with_capacity(sums.len());
        let mut rest = data;
        let mut reused = sums;
        let misalign = (on_disk % BYTES_PER_CHECKSUM as u64) as usize;
        if misalign != 0 {
            let (first, tail) = rest.split_at((BYTES_PER_CHECKSUM - misalign).min(rest.len()));
            self.partial.extend_from_slice(first);
            if kind != ChecksumType::Null {
                meta_bytes.extend_from_slice(&kind.checksum(&self.partial).to_be_bytes());
            }
            if self.partial.len() == BYTES_PER_CHECKSUM {
                self.partial.clear();
            }
            rest = tail;
            reused = reused.get(kind.size()..).unwrap_or_default();
        }
        meta_bytes.extend_from_slice(reused);
        if !rest.is_empty() {
            let tail = rest.len() % BYTES_PER_CHECKSUM;
            self.partial.clear();
            self.partial.extend_from_slice(&rest[rest.len() - tail..]);
        }

        self.data
            .write_all_at(data, on_disk)
            .map_err(|e| DatanodeError::io(&self.paths.block, e))?;
        if !meta_bytes.is_empty() {
            self.meta
                .write_all_at(&meta_bytes, meta::checksum_position(kind, on_disk))
                .map_err(|e| DatanodeError::io(&self.paths.meta, e))?;
        }
        self.bytes_on_disk = on_disk + data.len() as u64;
        self.dataset
            .set_bytes_on_disk(self.block_id, self.token, self.bytes_on_disk);
        self.write_behind();
        Ok(())
    }

    /// Starts writing back what was written since the last call, without
    /// waiting for it (HDFS's `dfs.datanode.sync.behind.writes`), once a
    /// few MiB have gathered, and drops from the page cache what earlier
    /// calls wrote back (HDFS's `drop.cache.behind.writes`).
    ///
    /// Starting early lets the disk work while packets still come, so
    /// finalize's fsync finds little left to write. Dropping keeps a
    /// block's pages from piling up in the page cache: the next packets
    /// are copied into pages just freed, still hot, instead of into fresh
    /// ones. On a VM whose freed memory goes back to the host, writing into
    /// fresh pages took most of a put's CPU (see BENCHMARKS.md, session 13).
    ///
    /// Linux's `POSIX_FADV_DONTNEED` does both: it starts asynchronous
    /// writeback of a range's dirty pages and drops the clean ones. So each
    /// call covers the new range and the two before it, which have had time
    /// to reach the disk. tmpfs ignores it. Only a hint: a failure is not an
    /// error of the write.
    ///
    /// With `drop-cache-behind-writes` off, it does nothing: the pages stay
    /// cached for readers, and the finalize's fsync writes the block back.
    fn write_behind(&mut self) {
        const BEHIND: u64 = 8 << 20;
        const DROP_LAG: u64 = 2 * BEHIND;
        let end = self.bytes_on_disk;
        if !self.dataset.drop_cache_behind_writes || end - self.written_back < BEHIND {
            return;
        }
        let start = self.written_back.saturating_sub(DROP_LAG);
        let (Ok(offset), Ok(len)) = (i64::try_from(start), i64::try_from(end - start)) else {
            return;
        };
        if let Err(e) = nix::fcntl::posix_fadvise(
            &self.data,
            offset,
            len,
            nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED,
        ) {
            tracing::debug!(block_id = self.block_id, "cannot start writeback: {e}");
        }
        self.written_back = end;
    }

    /// hsync: the data and checksums written so far reach the disk.
    pub fn sync(&self) -> Result<()> {
        self.data
            .sync_data()
            .map_err(|e| DatanodeError::io(&self.paths.block, e))?;
        self.meta
            .sync_data()
            .map_err(|e| DatanodeError::io(&self.paths.meta, e))
    }

    /// A handle for whoever sends the acks to publish the acknowledged length.
    pub fn acked_length(&self) -> AckedLength {
        AckedLength {
            dataset: Arc::clone(&self.dataset),
            block_id: self.block_id,
            token: self.token,
        }
    }
}

/// Publishes the bytes acknowledged by the whole pipeline downstream of
/// here: the visible length readers may read (HDFS's bytesAcked).
#[derive(Debug, Clone)]
pub struct AckedLength {
    dataset: Arc<FsDataset>,
    block_id: u64,
    token: u64,
}

impl AckedLength {
    pub fn set(&self, len: u64) {
        self.dataset.set_visible(self.block_id, self.token, len);
    }
}
