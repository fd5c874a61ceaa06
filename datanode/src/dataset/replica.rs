//! What the datanode knows of one replica (HDFS's ReplicaInfo with its
//! FinalizedReplica and ReplicaBeingWritten states), and where its files are.

use std::path::PathBuf;
use std::sync::Arc;

use cairn_proto::pb;
use parking_lot::Mutex;

/// The two states a replica has on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// Complete and immutable, under `finalized/`.
    Finalized,
    /// Being written (or left so by a writer that went away), under `rbw/`.
    Rbw,
}

impl ReplicaState {
    pub fn to_pb(self) -> pb::ReplicaState {
        match self {
            Self::Finalized => pb::ReplicaState::Finalized,
            Self::Rbw => pb::ReplicaState::Rbw,
        }
    }
}

/// One entry of the replica map.
#[derive(Debug, Clone)]
pub struct ReplicaInfo {
    pub block_id: u64,
    pub generation_stamp: u64,
    pub state: ReplicaState,
    /// Index of the volume holding the files.
    pub volume: usize,
    /// Bytes in the block file that the meta file has checksums for.
    pub bytes_on_disk: u64,
    /// Bytes acknowledged down the whole pipeline: what readers may see.
    pub visible_length: u64,
    /// The stream allowed to write this replica, if any. A recovery or a
    /// deletion changes it, which stops the old stream at its next write.
    pub(crate) writer: Option<u64>,
    /// Serialises changes to the files (a packet write against a truncation
    /// or a rename), so a reader under this lock sees data and checksums that
    /// match.
    pub(crate) io: Arc<Mutex<()>>,
}

impl ReplicaInfo {
    /// The state a block report gives. An rbw replica that no stream
    /// writes (found on disk at start-up, or under recovery) is HDFS's
    /// RWR: it will not finalize by itself, and the namenode deletes it
    /// once the block is complete elsewhere.
    pub fn report_state(&self) -> pb::ReplicaState {
        match self.state {
            ReplicaState::Rbw if self.writer.is_none() => pb::ReplicaState::Rwr,
            state => state.to_pb(),
        }
    }

    /// The replica as a protocol block; its length is what is on disk.
    pub fn to_block(&self) -> pb::Block {
        pb::Block {
            id: self.block_id,
            generation_stamp: self.generation_stamp,
            num_bytes: self.bytes_on_disk,
        }
    }
}

/// Name of the block file of block `id`.
pub fn block_file_name(id: u64) -> String {
    format!("blk_{id}")
}

/// Name of the meta file of block `id` at generation stamp `gs`.
pub fn meta_file_name(id: u64, gs: u64) -> String {
    format!("blk_{id}_{gs}.meta")
}

/// What a file name in a volume says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaFile {
    Block { id: u64 },
    Meta { id: u64, generation_stamp: u64 },
}

/// Parses `blk_<id>` and `blk_<id>_<gs>.meta`; anything else is `None`.
pub fn parse_file_name(name: &str) -> Option<ReplicaFile> {
    let rest = name.strip_prefix("blk_")?;
    if let Some(stem) = rest.strip_suffix(".meta") {
        let (id, gs) = stem.split_once('_')?;
        return Some(ReplicaFile::Meta {
            id: id.parse().ok()?,
            generation_stamp: gs.parse().ok()?,
        });
    }
    Some(ReplicaFile::Block {
        id: rest.parse().ok()?,
    })
}

/// The two files of a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaPaths {
    pub block: PathBuf,
    pub meta: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip() {
        assert_eq!(
            parse_file_name(&block_file_name(42)),
            Some(ReplicaFile::Block { id: 42 })
        );
        assert_eq!(
            parse_file_name(&meta_file_name(42, 1001)),
            Some(ReplicaFile::Meta {
                id: 42,
                generation_stamp: 1001
            })
        );
        for junk in [
            "blk_",
            "blk_x",
            "blk_1_2",
            "blk_1.meta",
            "VERSION",
            "blk_1_x.meta",
        ] {
            assert_eq!(parse_file_name(junk), None, "{junk}");
        }
    }
}
