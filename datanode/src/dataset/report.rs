//! What the datanode's own web page and `/metrics` show of the dataset:
//! each volume's space and replica count, and the replicas themselves.

use super::{FsDataset, ReplicaInfo};

/// One volume, for people.
#[derive(Debug, Clone)]
pub struct VolumeReport {
    pub dir: std::path::PathBuf,
    pub storage_id: String,
    /// `None` when the volume's free space cannot be read (a failed volume).
    pub capacity: Option<u64>,
    pub available: Option<u64>,
    pub replicas: usize,
    pub bytes: u64,
}

impl FsDataset {
    pub fn volume_reports(&self) -> Vec<VolumeReport> {
        let replicas = self.replicas.lock();
        self.volumes
            .iter()
            .enumerate()
            .map(|(index, volume)| {
                let usage = volume.usage().ok();
                let mine = replicas.values().filter(|r| r.volume == index);
                let (count, bytes) = mine.fold((0, 0), |(n, b), r| (n + 1, b + r.bytes_on_disk));
                VolumeReport {
                    dir: volume.storage.root.clone(),
                    storage_id: volume.storage_id().to_string(),
                    capacity: usage.map(|u| u.capacity),
                    available: usage.map(|u| u.available),
                    replicas: count,
                    bytes,
                }
            })
            .collect()
    }

    /// Up to `limit` replicas, by block id.
    pub fn replicas_sorted(&self, limit: usize) -> Vec<ReplicaInfo> {
        let mut all: Vec<ReplicaInfo> = self.replicas.lock().values().cloned().collect();
        all.sort_by_key(|r| r.block_id);
        all.truncate(limit);
        all
    }
}
