//! FsDataset (HDFS's FsDatasetImpl): the replicas of all volumes, their
//! in-memory map, and every change of state on disk — create, append,
//! recover, finalize, truncate, delete.
//!
//! Every method here blocks on the disk: async callers run them in
//! `tokio::task::spawn_blocking`. Lock order: a replica's `io` lock, then
//! the map lock (held only for short in-memory updates).

pub mod meta;
pub mod replica;
pub mod report;
pub mod volume;
pub mod writer;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use cairn_proto::{BYTES_PER_CHECKSUM, ChecksumType, pb};
use parking_lot::Mutex;
use tracing::{info, warn};

use crate::error::{DatanodeError, Result};
use crate::storage::StorageDirectory;
pub use replica::{ReplicaInfo, ReplicaPaths, ReplicaState};
use volume::{FsVolume, new_info, open_rw};
pub use writer::{AckedLength, ReplicaWriter};

/// Space of the whole datanode, as sent in heartbeats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatasetUsage {
    pub capacity: u64,
    pub dfs_used: u64,
    pub remaining: u64,
    pub non_dfs_used: u64,
    pub failed_volumes: u32,
}

/// How the dataset keeps its volumes (from the `[datanode]` section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetSettings {
    /// Bytes per volume kept free for other uses.
    pub reserved_bytes: u64,
    /// Whether writers drop their pages from the page cache behind them
    /// (`drop-cache-behind-writes` of [`crate::DatanodeConfig`]).
    pub drop_cache_behind_writes: bool,
}

/// The replicas of every volume of this datanode.
#[derive(Debug)]
pub struct FsDataset {
    datanode_uuid: String,
    volumes: Vec<FsVolume>,
    drop_cache_behind_writes: bool,
    replicas: Mutex<HashMap<u64, ReplicaInfo>>,
    next_volume: AtomicUsize,
    next_writer: AtomicU64,
}

impl FsDataset {
    /// Opens the volumes and rebuilds the replica map from their files.
    pub fn load(storages: Vec<StorageDirectory>, settings: DatasetSettings) -> Result<Arc<Self>> {
        let datanode_uuid = storages
            .first()
            .map(|s| s.datanode_uuid.clone())
            .ok_or_else(|| DatanodeError::Config("no data directory".into()))?;
        let volumes: Vec<FsVolume> = storages
            .into_iter()
            .map(|storage| FsVolume {
                storage,
                reserved: settings.reserved_bytes,
            })
            .collect();
        let mut replicas: HashMap<u64, ReplicaInfo> = HashMap::new();
        for (index, volume) in volumes.iter().enumerate() {
            for found in volume.scan(index)? {
                let keep = match replicas.get(&found.block_id) {
                    None => true,
                    Some(old) => {
                        warn!(
                            block_id = found.block_id,
                            "replica found twice; keeping the newer"
                        );
                        (
                            found.generation_stamp,
                            found.state == ReplicaState::Finalized,
                        ) > (old.generation_stamp, old.state == ReplicaState::Finalized)
                    }
                };
                if keep {
                    replicas.insert(found.block_id, found);
                }
            }
        }
        let rbw = replicas
            .values()
            .filter(|r| r.state == ReplicaState::Rbw)
            .count();
        info!(
            replicas = replicas.len(),
            rbw,
            volumes = volumes.len(),
            "loaded the replica map"
        );
        Ok(Arc::new(Self {
            datanode_uuid,
            volumes,
            drop_cache_behind_writes: settings.drop_cache_behind_writes,
            replicas: Mutex::new(replicas),
            next_volume: AtomicUsize::new(0),
            next_writer: AtomicU64::new(1),
        }))
    }

    /// The uuid shared by all volumes of this datanode.
    pub fn datanode_uuid(&self) -> &str {
        &self.datanode_uuid
    }

    /// The storage ids of the volumes, in order.
    pub fn storage_ids(&self) -> Vec<String> {
        self.volumes
            .iter()
            .map(|v| v.storage_id().to_string())
            .collect()
    }

    /// The storage id of volume `index`.
    pub fn storage_id(&self, index: usize) -> String {
        self.volumes
            .get(index)
            .map(|v| v.storage_id().to_string())
            .unwrap_or_default()
    }

    /// A snapshot of one replica's map entry.
    pub fn get(&self, block_id: u64) -> Option<ReplicaInfo> {
        self.replicas.lock().get(&block_id).cloned()
    }

    /// The files of a replica as the map has them now.
    pub fn paths(&self, info: &ReplicaInfo) -> ReplicaPaths {
        self.volumes[info.volume].paths(info.block_id, info.generation_stamp, info.state)
    }

    /// Every replica, for a full block report.
    pub fn block_report(&self) -> Vec<pb::ReportedReplica> {
        self.replicas
            .lock()
            .values()
            .map(|r| pb::ReportedReplica {
                block: Some(r.to_block()),
                state: r.report_state() as i32,
                storage_id: self.storage_id(r.volume),
            })
            .collect()
    }

    /// Capacity from statvfs (less the reserve), and the bytes our replicas use.
    pub fn usage(&self) -> DatasetUsage {
        let mut usage = DatasetUsage::default();
        for volume in &self.volumes {
            match volume.usage() {
                Ok(u) => {
                    usage.capacity += u.capacity;
                    usage.remaining += u.available;
                }
                Err(e) => {
                    warn!("cannot read the free space of a volume: {e}");
                    usage.failed_volumes += 1;
                }
            }
        }
        usage.dfs_used = self.replicas.lock().values().map(|r| r.bytes_on_disk).sum();
        usage.non_dfs_used = usage
            .capacity
            .saturating_sub(usage.remaining)
            .saturating_sub(usage.dfs_used);
        usage
    }

    /// Number of volumes.
    pub fn num_volumes(&self) -> usize {
        self.volumes.len()
    }

    /// The data directory of volume `index`, for logs and status.
    pub fn volume_dir(&self, index: usize) -> Option<std::path::PathBuf> {
        self.volumes.get(index).map(|v| v.storage.root.clone())
    }

    /// Finalized replicas of volume `index` as (block id, generation
    /// stamp), in block id order: what its VolumeScanner walks.
    pub fn finalized_on_volume(&self, index: usize) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = self
            .replicas
            .lock()
            .values()
            .filter(|r| r.volume == index && r.state == ReplicaState::Finalized)
            .map(|r| (r.block_id, r.generation_stamp))
            .collect();
        out.sort_unstable();
        out
    }

    /// Number of replicas in the map.
    pub fn len(&self) -> usize {
        self.replicas.lock().len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `f` on replica `block_id` while holding its io lock, so no
    /// writer, truncation or rename of that replica runs at the same time.
    fn with_replica_locked<T>(
        &self,
        block_id: u64,
        f: impl FnOnce(&ReplicaInfo) -> Result<T>,
    ) -> Result<T> {
        loop {
            let io = match self.replicas.lock().get(&block_id) {
                Some(info) => Arc::clone(&info.io),
                None => {
                    return Err(DatanodeError::ReplicaNotFound {
                        block_id,
                        detail: String::new(),
                    });
                }
            };
            let _guard = io.lock();
            // The entry may have been replaced while we waited for the lock.
            let info = match self.replicas.lock().get(&block_id) {
                Some(info) if Arc::ptr_eq(&info.io, &io) => info.clone(),
                _ => continue,
            };
            return f(&info);
        }
    }

    fn update(&self, block_id: u64, f: impl FnOnce(&mut ReplicaInfo)) {
        if let Some(info) = self.replicas.lock().get_mut(&block_id) {
            f(info);
        }
    }

    fn new_token(&self) -> u64 {
        self.next_writer.fetch_add(1, Ordering::Relaxed)
    }

    /// Round-robin among the volumes that still have room.
    fn choose_volume(&self, block_id: u64) -> Result<usize> {
        let n = self.volumes.len();
        let start = self.next_volume.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            let index = (start + i) % n;
            match self.volumes[index].usage() {
                Ok(u) if u.available > 0 => return Ok(index),
                Ok(_) => {}
                Err(e) => warn!("skipping a volume: {e}"),
            }
        }
        Err(DatanodeError::NoSpace { block_id })
    }

    /// The target side of a re-replication (HDFS's `createTemporary`). An
    /// unfinished replica of the block left behind by an earlier transfer
    /// that failed — say, refused on a checksum mismatch from a corrupt
    /// source — is replaced, or every later transfer to this node would be
    /// refused. A finalized replica is never replaced this way.
    pub fn create_temporary(
        self: &Arc<Self>,
        block_id: u64,
        gs: u64,
        kind: ChecksumType,
    ) -> Result<ReplicaWriter> {
        if let Some(old) = self.get(block_id)
            && old.state == ReplicaState::Rbw
            && old.generation_stamp <= gs
        {
            info!(
                block_id,
                old_gs = old.generation_stamp,
                gs,
                "replacing an unfinished replica left by an earlier transfer"
            );
            self.remove_replica(block_id, gs)?;
        }
        self.create_rbw(block_id, gs, kind)
    }

    /// Creates a new rbw replica (a new block, or a copy coming from another
    /// datanode). A replica of that id at an older generation stamp is
    /// replaced; one at the same or a newer stamp is refused. Its meta
    /// file records `kind`, the checksum type it is written with.
    pub fn create_rbw(
        self: &Arc<Self>,
        block_id: u64,
        gs: u64,
        kind: ChecksumType,
    ) -> Result<ReplicaWriter> {
        if let Some(old) = self.get(block_id) {
            if old.generation_stamp >= gs {
                return Err(DatanodeError::ReplicaAlreadyExists {
                    block_id,
                    existing_gs: old.generation_stamp,
                    requested_gs: gs,
                });
            }
            info!(
                block_id,
                old_gs = old.generation_stamp,
                gs,
                "replacing an older replica"
            );
            self.remove_replica(block_id, gs - 1)?;
        }
        let volume = self.choose_volume(block_id)?;
        let token = self.new_token();
        let mut info = new_info(block_id, gs, ReplicaState::Rbw, volume, 0);
        info.writer = Some(token);
        let io = Arc::clone(&info.io);
        {
            let mut map = self.replicas.lock();
            if let Some(other) = map.get(&block_id) {
                return Err(DatanodeError::ReplicaAlreadyExists {
                    block_id,
                    existing_gs: other.generation_stamp,
                    requested_gs: gs,
                });
            }
            map.insert(block_id, info);
        }
        let paths = self.volumes[volume].paths(block_id, gs, ReplicaState::Rbw);
        let files = (|| -> Result<(File, File)> {
            let meta_file = create_truncated(&paths.meta)?;
            meta_file
                .write_all_at(&meta::header(kind), 0)
                .map_err(|e| DatanodeError::io(&paths.meta, e))?;
            let data = create_truncated(&paths.block)?;
            Ok((data, meta_file))
        })();
        let (data, meta_file) = match files {
            Ok(files) => files,
            Err(e) => {
                self.replicas.lock().remove(&block_id);
                return Err(e);
            }
        };
        Ok(ReplicaWriter {
            dataset: Arc::clone(self),
            block_id,
            token,
            volume,
            io,
            paths,
            data,
            meta: meta_file,
            kind,
            bytes_on_disk: 0,
            written_back: 0,
            partial: Vec::new(),
        })
    }

    /// Reopens a finalized or rbw replica at `block.num_bytes` under
    /// `new_gs` for an append (HDFS's `append`). The replica must have the
    /// block's generation stamp.
    pub fn append(self: &Arc<Self>, block: &pb::Block, new_gs: u64) -> Result<ReplicaWriter> {
        self.reopen(block.id, new_gs, block.num_bytes, |info| {
            if info.generation_stamp != block.generation_stamp {
                return Err(DatanodeError::StaleGenerationStamp {
                    block_id: block.id,
                    detail: format!(
                        "append expects generation stamp {} but the replica has {}",
                        block.generation_stamp, info.generation_stamp
                    ),
                });
            }
            if info.state == ReplicaState::Finalized && info.bytes_on_disk != block.num_bytes {
                return Err(DatanodeError::InvalidArgument(format!(
                    "append to blk_{} at length {} but the finalized replica has {} bytes",
                    block.id, block.num_bytes, info.bytes_on_disk
                )));
            }
            Ok(())
        })
    }

    /// Pipeline recovery (HDFS's `recoverRbw`): carries on a replica from
    /// the acknowledged length `block.num_bytes` under `new_gs`, cutting off
    /// what is past it and stopping any stream still writing it. A replica
    /// that never received a byte may be missing: it is created afresh,
    /// with the writer's checksum type `kind`.
    pub fn recover_rbw(
        self: &Arc<Self>,
        block: &pb::Block,
        new_gs: u64,
        kind: ChecksumType,
    ) -> Result<ReplicaWriter> {
        if block.num_bytes == 0 && self.get(block.id).is_none() {
            return self.create_rbw(block.id, new_gs, kind);
        }
        self.reopen(block.id, new_gs, block.num_bytes, |info| {
            if info.generation_stamp < block.generation_stamp {
                return Err(DatanodeError::StaleGenerationStamp {
                    block_id: block.id,
                    detail: format!(
                        "recovery of generation stamp {} but the replica has only {}",
                        block.generation_stamp, info.generation_stamp
                    ),
                });
            }
            Ok(())
        })
    }

    fn reopen(
        self: &Arc<Self>,
        block_id: u64,
        new_gs: u64,
        len: u64,
        check: impl FnOnce(&ReplicaInfo) -> Result<()>,
    ) -> Result<ReplicaWriter> {
        self.with_replica_locked(block_id, |info| {
            check(info)?;
            if new_gs < info.generation_stamp {
                return Err(DatanodeError::StaleGenerationStamp {
                    block_id,
                    detail: format!(
                        "new generation stamp {new_gs} is older than the replica's {}",
                        info.generation_stamp
                    ),
                });
            }
            if len > info.bytes_on_disk {
                return Err(DatanodeError::InvalidArgument(format!(
                    "blk_{block_id} has {} bytes on disk, fewer than the {len} asked for",
                    info.bytes_on_disk
                )));
            }
            let volume = &self.volumes[info.volume];
            let old = self.paths(info);
            let new = volume.paths(block_id, new_gs, ReplicaState::Rbw);
            let token = self.new_token();
            // Take the replica away from any earlier stream before touching files.
            self.update(block_id, |r| r.writer = Some(token));
            move_replica(&old, &new)?;
            self.update(block_id, |r| {
                r.state = ReplicaState::Rbw;
                r.generation_stamp = new_gs;
            });
            let data = open_rw(&new.block)?;
            let meta_file = open_rw(&new.meta)?;
            let kind = meta::check_header(&meta_file, &new.meta)?;
            if len != info.bytes_on_disk {
                meta::truncate(kind, &data, &new.block, &meta_file, &new.meta, len)?;
            }
            let partial_len = (len % BYTES_PER_CHECKSUM as u64) as usize;
            let mut partial = vec![0u8; partial_len];
            data.read_exact_at(&mut partial, len - partial_len as u64)
                .map_err(|e| DatanodeError::io(&new.block, e))?;
            self.update(block_id, |r| {
                r.bytes_on_disk = len;
                r.visible_length = len;
            });
            info!(block_id, gs = new_gs, len, "reopened replica for writing");
            Ok(ReplicaWriter {
                dataset: Arc::clone(self),
                block_id,
                token,
                volume: info.volume,
                io: Arc::clone(&info.io),
                paths: new,
                data,
                meta: meta_file,
                kind,
                bytes_on_disk: len,
                written_back: len,
                partial,
            })
        })
    }

    /// Finalizes a fully received replica: fsync data and meta, rename both
    /// into `finalized/`, fsync both directories. Returns the block and the
    /// storage id to report.
    pub fn finalize(&self, writer: ReplicaWriter) -> Result<(pb::Block, String)> {
        let io = Arc::clone(&writer.io);
        let _io = io.lock();
        self.check_writer(writer.block_id, writer.token)?;
        writer.sync()?;
        let info = self
            .get(writer.block_id)
            .ok_or_else(|| DatanodeError::ReplicaNotFound {
                block_id: writer.block_id,
                detail: " (removed while being finalized)".into(),
            })?;
        let dest = self.volumes[writer.volume].paths(
            writer.block_id,
            info.generation_stamp,
            ReplicaState::Finalized,
        );
        move_replica(&writer.paths, &dest)?;
        let len = writer.bytes_on_disk;
        self.update(writer.block_id, |r| {
            r.state = ReplicaState::Finalized;
            r.bytes_on_disk = len;
            r.visible_length = len;
            r.writer = None;
        });
        info!(
            block_id = writer.block_id,
            gs = info.generation_stamp,
            len,
            "finalized replica"
        );
        Ok((
            pb::Block {
                id: writer.block_id,
                generation_stamp: info.generation_stamp,
                num_bytes: len,
            },
            self.storage_id(writer.volume),
        ))
    }

    /// HDFS's initReplicaRecovery: the state of our replica for a block
    /// recovery, after stopping any stream still writing it. The replica
    /// must be at least as new as the namenode's block and older than the
    /// recovery id. Returns the replica (its stamp and bytes on disk) and
    /// whether it is finalized.
    pub fn init_replica_recovery(
        &self,
        block: &pb::Block,
        recovery_id: u64,
    ) -> Result<(pb::Block, bool)> {
        self.with_replica_locked(block.id, |info| {
            if info.generation_stamp < block.generation_stamp {
                return Err(DatanodeError::StaleGenerationStamp {
                    block_id: block.id,
                    detail: format!(
                        "replica generation stamp {} is older than the block's {}",
                        info.generation_stamp, block.generation_stamp
                    ),
                });
            }
            if info.generation_stamp >= recovery_id {
                return Err(DatanodeError::StaleGenerationStamp {
                    block_id: block.id,
                    detail: format!(
                        "replica generation stamp {} is not older than recovery id {recovery_id}",
                        info.generation_stamp
                    ),
                });
            }
            self.update(block.id, |r| r.writer = None);
            info!(
                block_id = block.id,
                recovery_id,
                gs = info.generation_stamp,
                len = info.bytes_on_disk,
                state = ?info.state,
                "replica under recovery"
            );
            Ok((info.to_block(), info.state == ReplicaState::Finalized))
        })
    }

    /// Block recovery ordered by the namenode (truncate, or settling the
    /// last block of an abandoned writer): cut the replica to `new_len`,
    /// move it to `new_gs` and finalize it.
    pub fn recover_replica(
        &self,
        block: &pb::Block,
        new_gs: u64,
        new_len: u64,
    ) -> Result<(pb::Block, String)> {
        self.with_replica_locked(block.id, |info| {
            if info.generation_stamp < block.generation_stamp || info.generation_stamp > new_gs {
                return Err(DatanodeError::StaleGenerationStamp {
                    block_id: block.id,
                    detail: format!(
                        "recovery from {} to {new_gs} but the replica has {}",
                        block.generation_stamp, info.generation_stamp
                    ),
                });
            }
            if new_len > info.bytes_on_disk {
                return Err(DatanodeError::InvalidArgument(format!(
                    "cannot recover blk_{} to {new_len} bytes: it has only {}",
                    block.id, info.bytes_on_disk
                )));
            }
            // Stop any stream still writing it.
            self.update(block.id, |r| r.writer = None);
            let old = self.paths(info);
            let data = open_rw(&old.block)?;
            let meta_file = open_rw(&old.meta)?;
            let kind = meta::check_header(&meta_file, &old.meta)?;
            meta::truncate(kind, &data, &old.block, &meta_file, &old.meta, new_len)?;
            for (file, path) in [(&data, &old.block), (&meta_file, &old.meta)] {
                file.sync_all().map_err(|e| DatanodeError::io(path, e))?;
            }
            let dest = self.volumes[info.volume].paths(block.id, new_gs, ReplicaState::Finalized);
            move_replica(&old, &dest)?;
            self.update(block.id, |r| {
                r.state = ReplicaState::Finalized;
                r.generation_stamp = new_gs;
                r.bytes_on_disk = new_len;
                r.visible_length = new_len;
            });
            info!(
                block_id = block.id,
                gs = new_gs,
                len = new_len,
                "recovered replica"
            );
            Ok((
                pb::Block {
                    id: block.id,
                    generation_stamp: new_gs,
                    num_bytes: new_len,
                },
                self.storage_id(info.volume),
            ))
        })
    }

    /// Deletes a replica whose generation stamp is at most `block`'s (a
    /// newer replica is not what the namenode meant). Returns what was
    /// deleted, to report, or `None` when nothing was.
    pub fn invalidate(&self, block: &pb::Block) -> Result<Option<(pb::Block, String)>> {
        match self.remove_replica(block.id, block.generation_stamp) {
            Err(DatanodeError::ReplicaNotFound { .. }) => {
                warn!(
                    block_id = block.id,
                    "asked to delete a replica we do not have"
                );
                Ok(None)
            }
            other => other,
        }
    }

    fn remove_replica(&self, block_id: u64, max_gs: u64) -> Result<Option<(pb::Block, String)>> {
        self.with_replica_locked(block_id, |info| {
            if info.generation_stamp > max_gs {
                warn!(
                    block_id,
                    replica_gs = info.generation_stamp,
                    max_gs,
                    "not deleting a replica newer than asked"
                );
                return Ok(None);
            }
            let paths = self.paths(info);
            for path in [&paths.block, &paths.meta] {
                match fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(DatanodeError::io(path, e)),
                }
            }
            self.replicas.lock().remove(&block_id);
            info!(block_id, gs = info.generation_stamp, "deleted replica");
            Ok(Some((info.to_block(), self.storage_id(info.volume))))
        })
    }

    /// Fails unless `token` is still the stream allowed to write the replica.
    pub(crate) fn check_writer(&self, block_id: u64, token: u64) -> Result<()> {
        match self.replicas.lock().get(&block_id) {
            Some(r) if r.writer == Some(token) => Ok(()),
            Some(_) => Err(DatanodeError::WriterPreempted {
                block_id,
                reason: "another stream or a recovery took the replica over".into(),
            }),
            None => Err(DatanodeError::WriterPreempted {
                block_id,
                reason: "the replica was deleted".into(),
            }),
        }
    }

    pub(crate) fn set_bytes_on_disk(&self, block_id: u64, token: u64, len: u64) {
        self.update(block_id, |r| {
            if r.writer == Some(token) {
                r.bytes_on_disk = len;
            }
        });
    }

    pub(crate) fn set_visible(&self, block_id: u64, token: u64, len: u64) {
        self.update(block_id, |r| {
            if r.writer == Some(token) && len > r.visible_length {
                r.visible_length = len.min(r.bytes_on_disk);
            }
        });
    }

    /// Current bytes on disk of a replica, read while its io lock is held by
    /// the caller (so they match the files).
    pub(crate) fn bytes_on_disk(&self, block_id: u64) -> Option<u64> {
        self.replicas.lock().get(&block_id).map(|r| r.bytes_on_disk)
    }
}

fn create_truncated(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| DatanodeError::io(path, e))
}

/// Renames a replica's two files (block first, so a crash in between leaves
/// a block without a meta file rather than checksums without data), then
/// fsyncs the directories involved.
fn move_replica(from: &ReplicaPaths, to: &ReplicaPaths) -> Result<()> {
    if from == to {
        return Ok(());
    }
    let to_dir = to.block.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(to_dir).map_err(|e| DatanodeError::io(to_dir, e))?;
    if from.block != to.block {
        fs::rename(&from.block, &to.block).map_err(|e| DatanodeError::io(&from.block, e))?;
    }
    if from.meta != to.meta {
        fs::rename(&from.meta, &to.meta).map_err(|e| DatanodeError::io(&from.meta, e))?;
    }
    let from_dir = from.block.parent().unwrap_or(Path::new("."));
    fsync_dir(to_dir)?;
    if from_dir != to_dir {
        fsync_dir(from_dir)?;
    }
    Ok(())
}

fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| DatanodeError::io(dir, e))
}
