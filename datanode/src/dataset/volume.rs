//! FsVolume: one data directory's replicas, its layout and its free space.
//!
//! Layout under `current/`: `rbw/blk_<id>` for replicas being written and
//! `finalized/subdir<(id>>16)&31>/subdir<(id>>8)&31>/blk_<id>` for finished
//! ones, each beside its `blk_<id>_<gs>.meta`.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use tracing::{info, warn};

use super::meta;
use super::replica::{
    ReplicaFile, ReplicaInfo, ReplicaPaths, ReplicaState, block_file_name, meta_file_name,
    parse_file_name,
};
use crate::error::{DatanodeError, Result};
use crate::storage::StorageDirectory;

/// One volume of the dataset.
#[derive(Debug)]
pub struct FsVolume {
    pub storage: StorageDirectory,
    /// Bytes kept free for other uses.
    pub reserved: u64,
}

/// Space on a volume, after the reserve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VolumeUsage {
    pub capacity: u64,
    pub available: u64,
}

impl FsVolume {
    pub fn storage_id(&self) -> &str {
        &self.storage.storage_id
    }

    pub fn rbw_dir(&self) -> PathBuf {
        self.storage.current().join("rbw")
    }

    pub fn finalized_root(&self) -> PathBuf {
        self.storage.current().join("finalized")
    }

    /// The finalized subdirectory of block `id` (HDFS's two-level
    /// `DatanodeUtil.idToBlockDir`), keeping directories small.
    pub fn finalized_dir(&self, id: u64) -> PathBuf {
        self.finalized_root()
            .join(format!("subdir{}", (id >> 16) & 31))
            .join(format!("subdir{}", (id >> 8) & 31))
    }

    /// The directory holding a replica in `state`.
    pub fn dir(&self, id: u64, state: ReplicaState) -> PathBuf {
        match state {
            ReplicaState::Rbw => self.rbw_dir(),
            ReplicaState::Finalized => self.finalized_dir(id),
        }
    }

    /// The files of replica `id` at `gs` in `state`.
    pub fn paths(&self, id: u64, gs: u64, state: ReplicaState) -> ReplicaPaths {
        let dir = self.dir(id, state);
        ReplicaPaths {
            block: dir.join(block_file_name(id)),
            meta: dir.join(meta_file_name(id, gs)),
        }
    }

    /// Capacity and free space from statvfs, less the reserve.
    pub fn usage(&self) -> Result<VolumeUsage> {
        let root = &self.storage.root;
        let st = nix::sys::statvfs::statvfs(root.as_path())
            .map_err(|e| DatanodeError::io(root, std::io::Error::from(e)))?;
        let frsize = st.fragment_size() as u64;
        let total = (st.blocks() as u64).saturating_mul(frsize);
        let avail = (st.blocks_available() as u64).saturating_mul(frsize);
        Ok(VolumeUsage {
            capacity: total.saturating_sub(self.reserved),
            available: avail.saturating_sub(self.reserved),
        })
    }

    /// Rebuilds this volume's part of the replica map from its files.
    /// Replicas left in `rbw/` keep the length their checksums vouch for;
    /// the unvouched tail is cut off.
    pub fn scan(&self, index: usize) -> Result<Vec<ReplicaInfo>> {
        let mut found = Vec::new();
        let rbw = self.rbw_dir();
        for (id, gs) in pair_files(&rbw, &list_dir(&rbw)?) {
            match self.load_rbw(id, gs) {
                Ok(len) => found.push(new_info(id, gs, ReplicaState::Rbw, index, len)),
                Err(e) => {
                    warn!(volume = %self.storage.root.display(), block_id = id, "skipping unreadable rbw replica: {e}")
                }
            }
        }
        let root = self.finalized_root();
        for d1 in subdirs(&root)? {
            for d2 in subdirs(&d1)? {
                let names = list_dir(&d2)?;
                for (id, gs) in pair_files(&d2, &names) {
                    let path = d2.join(block_file_name(id));
                    let len = fs::metadata(&path)
                        .map_err(|e| DatanodeError::io(&path, e))?
                        .len();
                    if d2 != self.finalized_dir(id) {
                        warn!(path = %path.display(), "finalized replica in the wrong subdirectory; skipping it");
                        continue;
                    }
                    found.push(new_info(id, gs, ReplicaState::Finalized, index, len));
                }
            }
        }
        Ok(found)
    }

    /// Cuts an rbw replica back to what its checksums vouch for.
    fn load_rbw(&self, id: u64, gs: u64) -> Result<u64> {
        let paths = self.paths(id, gs, ReplicaState::Rbw);
        let data = open_rw(&paths.block)?;
        let meta_file = open_rw(&paths.meta)?;
        let kind = meta::check_header(&meta_file, &paths.meta)?;
        let len = meta::vouched_length(&data, &paths.block, &meta_file, &paths.meta)?;
        let data_len = data
            .metadata()
            .map_err(|e| DatanodeError::io(&paths.block, e))?
            .len();
        if data_len != len
            || meta_file
                .metadata()
                .map_err(|e| DatanodeError::io(&paths.meta, e))?
                .len()
                != meta::meta_len(kind, len)
        {
            info!(
                block_id = id,
                from = data_len,
                to = len,
                "truncating rbw replica to its vouched length"
            );
            meta::truncate(kind, &data, &paths.block, &meta_file, &paths.meta, len)?;
            data.sync_all()
                .map_err(|e| DatanodeError::io(&paths.block, e))?;
            meta_file
                .sync_all()
                .map_err(|e| DatanodeError::io(&paths.meta, e))?;
        }
        Ok(len)
    }
}

/// A fresh replica map entry.
pub fn new_info(id: u64, gs: u64, state: ReplicaState, volume: usize, len: u64) -> ReplicaInfo {
    ReplicaInfo {
        block_id: id,
        generation_stamp: gs,
        state,
        volume,
        bytes_on_disk: len,
        visible_length: len,
        writer: None,
        io: Arc::new(Mutex::new(())),
    }
}

/// Opens a replica file for reading and writing.
pub fn open_rw(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| DatanodeError::io(path, e))
}

fn list_dir(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(DatanodeError::io(dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| DatanodeError::io(dir, e))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(list_dir(dir)?
        .into_iter()
        .filter(|n| n.starts_with("subdir"))
        .map(|n| dir.join(n))
        .filter(|p| p.is_dir())
        .collect())
}

/// Pairs block files with their meta files: (id, generation stamp). A block
/// with several meta files keeps the newest; files without a partner are
/// left alone (and logged) rather than guessed at.
fn pair_files(dir: &Path, names: &[String]) -> Vec<(u64, u64)> {
    let mut blocks = BTreeMap::new();
    let mut metas: BTreeMap<u64, u64> = BTreeMap::new();
    for name in names {
        match parse_file_name(name) {
            Some(ReplicaFile::Block { id }) => {
                blocks.insert(id, ());
            }
            Some(ReplicaFile::Meta {
                id,
                generation_stamp,
            }) => {
                let gs = metas.entry(id).or_insert(generation_stamp);
                if generation_stamp != *gs {
                    warn!(dir = %dir.display(), block_id = id, "several meta files; using the newest generation stamp");
                    *gs = (*gs).max(generation_stamp);
                }
            }
            None => {}
        }
    }
    for id in metas.keys().filter(|id| !blocks.contains_key(id)) {
        warn!(dir = %dir.display(), block_id = id, "meta file without block file; ignoring it");
    }
    blocks
        .keys()
        .filter_map(|id| match metas.get(id) {
            Some(gs) => Some((*id, *gs)),
            None => {
                warn!(dir = %dir.display(), block_id = id, "block file without meta file; ignoring it");
                None
            }
        })
        .collect()
}
