//! Verifies one finalized replica piece by piece (HDFS's BlockSender in
//! verify mode, as the VolumeScanner uses it). Each piece is read under the
//! replica's io lock after checking that the replica is still the one we
//! opened, so an append, a deletion or a replacement racing with the scan
//! is never mistaken for corruption.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use cairn_proto::{BYTES_PER_CHECKSUM, ChecksumType, pb};

use crate::dataset::{FsDataset, ReplicaInfo, ReplicaPaths, ReplicaState, meta};

/// Bytes verified per piece: a whole number of chunks, small enough that
/// a writer waiting for the io lock is not held up long.
const PIECE: u64 = 256 * BYTES_PER_CHECKSUM as u64;

/// The outcome of one step.
pub(super) enum Piece {
    /// This many more bytes matched their checksums.
    Verified(u64),
    /// Every byte matched.
    Done,
    /// The replica changed under us (deleted, appended to, replaced).
    Changed,
    /// Data and checksums disagree, or a file is unreadable.
    Corrupt { offset: u64, reason: String },
}

pub(super) struct ReplicaVerifier {
    dataset: Arc<FsDataset>,
    info: ReplicaInfo,
    paths: ReplicaPaths,
    /// The open files and the replica's checksum type, or why they could
    /// not be opened.
    files: Result<(File, File, ChecksumType), String>,
    pos: u64,
}

impl ReplicaVerifier {
    /// Opens the finalized replica of `block_id` (at `gs` when given);
    /// `None` when there is no such replica to scan.
    pub(super) fn open(dataset: Arc<FsDataset>, block_id: u64, gs: Option<u64>) -> Option<Self> {
        let info = dataset.get(block_id)?;
        if info.state != ReplicaState::Finalized || gs.is_some_and(|g| g != info.generation_stamp) {
            return None;
        }
        let paths = dataset.paths(&info);
        let files = File::open(&paths.block)
            .map_err(|e| format!("cannot open {}: {e}", paths.block.display()))
            .and_then(|data| {
                let meta_file = File::open(&paths.meta)
                    .map_err(|e| format!("cannot open {}: {e}", paths.meta.display()))?;
                let kind =
                    meta::check_header(&meta_file, &paths.meta).map_err(|e| e.to_string())?;
                Ok((data, meta_file, kind))
            });
        Some(Self {
            dataset,
            info,
            paths,
            files,
            pos: 0,
        })
    }

    /// The replica as the namenode knows it, for a bad block report.
    pub(super) fn block(&self) -> pb::Block {
        self.info.to_block()
    }

    /// Verifies the next piece.
    pub(super) fn next_piece(&mut self) -> Piece {
        let len = self.info.bytes_on_disk;
        let _io = self.info.io.lock();
        if !self.still_the_same() {
            return Piece::Changed;
        }
        let (data_file, meta_file, kind) = match &self.files {
            Ok((data, meta, kind)) => (data, meta, *kind),
            Err(reason) => {
                return Piece::Corrupt {
                    offset: 0,
                    reason: reason.clone(),
                };
            }
        };
        if self.pos >= len {
            return Piece::Done;
        }
        let start = self.pos;
        let end = (start + PIECE).min(len);
        let mut data = vec![0u8; (end - start) as usize];
        if let Err(e) = data_file.read_exact_at(&mut data, start) {
            return Piece::Corrupt {
                offset: start,
                reason: format!(
                    "cannot read {} bytes at {start} of {}: {e}",
                    end - start,
                    self.paths.block.display()
                ),
            };
        }
        let sums = match meta::read_checksums(kind, meta_file, &self.paths.meta, start, end) {
            Ok(sums) => sums,
            Err(e) => {
                return Piece::Corrupt {
                    offset: start,
                    reason: format!("cannot read its checksums: {e}"),
                };
            }
        };
        // A replica written without checksums (NULL) is only read.
        if let Err(offset) = kind.verify(&data, start, &sums) {
            return Piece::Corrupt {
                offset,
                reason: "checksum mismatch".to_string(),
            };
        }
        self.pos = end;
        Piece::Verified(end - start)
    }

    /// The map still holds the replica we opened, finalized, unchanged.
    fn still_the_same(&self) -> bool {
        self.dataset.get(self.info.block_id).is_some_and(|now| {
            Arc::ptr_eq(&now.io, &self.info.io)
                && now.state == ReplicaState::Finalized
                && now.generation_stamp == self.info.generation_stamp
                && now.bytes_on_disk == self.info.bytes_on_disk
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::FileExt;

    use super::*;
    use crate::storage;

    /// A dataset with one finalized replica of `data` as blk_7 at 1001.
    fn dataset_with(dir: &std::path::Path, data: &[u8]) -> Arc<FsDataset> {
        let storages = storage::load_or_format(&[dir.join("v1")], "CID-t").unwrap();
        let settings = crate::DatanodeConfig::default().dataset_settings();
        let ds = FsDataset::load(storages, settings).unwrap();
        let kind = ChecksumType::Crc32c;
        let mut writer = ds.create_rbw(7, 1001, kind).unwrap();
        let mut sums = Vec::new();
        kind.chunk_checksums(data, 0, &mut sums);
        writer.write_packet(0, data, kind, &sums).unwrap();
        ds.finalize(writer).unwrap();
        ds
    }

    fn run(mut verifier: ReplicaVerifier) -> (u64, Piece) {
        let mut verified = 0;
        loop {
            match verifier.next_piece() {
                Piece::Verified(n) => verified += n,
                other => return (verified, other),
            }
        }
    }

    #[test]
    fn healthy_replica_verifies_to_the_end() {
        let tmp = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let ds = dataset_with(tmp.path(), &data);
        let verifier = ReplicaVerifier::open(Arc::clone(&ds), 7, Some(1001)).unwrap();
        assert_eq!(verifier.block().num_bytes, 300_000);
        let (verified, end) = run(verifier);
        assert_eq!(verified, 300_000);
        assert!(matches!(end, Piece::Done));
        // Another generation stamp, or no such replica: nothing to scan.
        assert!(ReplicaVerifier::open(Arc::clone(&ds), 7, Some(1002)).is_none());
        assert!(ReplicaVerifier::open(ds, 8, None).is_none());
    }

    #[test]
    fn flipped_byte_is_found_at_its_chunk() {
        let tmp = tempfile::tempdir().unwrap();
        let data = vec![42u8; 200_000];
        let ds = dataset_with(tmp.path(), &data);
        let paths = ds.paths(&ds.get(7).unwrap());
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&paths.block)
            .unwrap();
        file.write_all_at(&[0], 150_000).unwrap();
        let verifier = ReplicaVerifier::open(Arc::clone(&ds), 7, None).unwrap();
        match run(verifier) {
            (_, Piece::Corrupt { offset, reason }) => {
                assert_eq!(offset, 150_000 / 512 * 512);
                assert_eq!(reason, "checksum mismatch");
            }
            _ => panic!("the flipped byte was not found"),
        }
        // A truncated block file is corrupt too.
        file.set_len(1000).unwrap();
        let verifier = ReplicaVerifier::open(Arc::clone(&ds), 7, None).unwrap();
        assert!(matches!(run(verifier).1, Piece::Corrupt { offset: 0, .. }));
    }

    #[test]
    fn a_replica_deleted_during_the_scan_is_not_called_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let ds = dataset_with(tmp.path(), &[1u8; 5000]);
        let mut verifier = ReplicaVerifier::open(Arc::clone(&ds), 7, None).unwrap();
        ds.invalidate(&pb::Block {
            id: 7,
            generation_stamp: 1001,
            num_bytes: 5000,
        })
        .unwrap();
        assert!(matches!(verifier.next_piece(), Piece::Changed));
    }
}
