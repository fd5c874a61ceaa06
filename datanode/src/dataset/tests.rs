//! Tests of the dataset against real files in a temporary directory.

use std::path::Path;

use cairn_proto::ChecksumType;

use super::*;
use crate::storage;

fn dataset(dir: &Path) -> Arc<FsDataset> {
    dataset_with(dir, crate::DatanodeConfig::default().dataset_settings())
}

fn dataset_with(dir: &Path, settings: DatasetSettings) -> Arc<FsDataset> {
    let storages = storage::load_or_format(&[dir.join("v1"), dir.join("v2")], "CID-t").unwrap();
    FsDataset::load(storages, settings).unwrap()
}

fn bytes(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(31).wrapping_add(seed) % 251) as u8)
        .collect()
}

/// The checksum type the tests write with.
const KIND: ChecksumType = ChecksumType::Crc32c;

fn write(writer: &mut ReplicaWriter, offset: u64, data: &[u8]) {
    let mut sums = Vec::new();
    KIND.chunk_checksums(data, offset, &mut sums);
    writer.write_packet(offset, data, KIND, &sums).unwrap();
}

/// Checks that the replica's files on disk hold `want` and its checksums.
fn assert_on_disk(ds: &FsDataset, id: u64, want: &[u8]) {
    let info = ds.get(id).unwrap();
    let paths = ds.paths(&info);
    assert_eq!(fs::read(&paths.block).unwrap(), want);
    let mut meta_want = meta::header(KIND).to_vec();
    KIND.chunk_checksums(want, 0, &mut meta_want);
    assert_eq!(fs::read(&paths.meta).unwrap(), meta_want);
}

#[test]
fn write_finalize_and_reload() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let data = bytes(5000, 1);
    let mut w = ds.create_rbw(77, 1001, KIND).unwrap();
    // Packets that do not end on chunk boundaries.
    write(&mut w, 0, &data[..1000]);
    write(&mut w, 1000, &data[1000..1001]);
    write(&mut w, 1001, &data[1001..5000]);
    assert_eq!(ds.get(77).unwrap().state, ReplicaState::Rbw);
    let (block, storage_id) = ds.finalize(w).unwrap();
    assert_eq!(
        (block.id, block.generation_stamp, block.num_bytes),
        (77, 1001, 5000)
    );
    assert!(storage_id.starts_with("DS-"));
    let info = ds.get(77).unwrap();
    assert_eq!(info.state, ReplicaState::Finalized);
    assert_eq!(info.visible_length, 5000);
    let paths = ds.paths(&info);
    assert!(
        paths
            .block
            .ends_with("current/finalized/subdir0/subdir0/blk_77")
    );
    assert_on_disk(&ds, 77, &data);

    let again = dataset(tmp.path());
    let info = again.get(77).unwrap();
    assert_eq!(
        (info.state, info.bytes_on_disk, info.generation_stamp),
        (ReplicaState::Finalized, 5000, 1001)
    );
    assert_eq!(again.block_report().len(), 1);
}

/// A replica being written reports RBW; found in `rbw/` after a restart,
/// with its writer gone, it reports RWR.
#[test]
fn an_rbw_replica_whose_writer_is_gone_reports_as_waiting_recovery() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let mut w = ds.create_rbw(78, 1001, KIND).unwrap();
    write(&mut w, 0, &bytes(700, 2));
    let states = |ds: &FsDataset| -> Vec<pb::ReplicaState> {
        ds.block_report().iter().map(|r| r.state()).collect()
    };
    assert_eq!(states(&ds), vec![pb::ReplicaState::Rbw]);
    drop(w);
    drop(ds);

    let again = dataset(tmp.path());
    assert_eq!(again.get(78).unwrap().state, ReplicaState::Rbw);
    assert_eq!(states(&again), vec![pb::ReplicaState::Rwr]);
}

#[test]
fn create_refuses_same_or_newer_and_replaces_older() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let w = ds.create_rbw(5, 10, KIND).unwrap();
    ds.finalize(w).unwrap();
    let err = ds.create_rbw(5, 10, KIND).unwrap_err();
    assert!(
        matches!(err, DatanodeError::ReplicaAlreadyExists { .. }),
        "{err}"
    );
    let mut w = ds.create_rbw(5, 11, KIND).unwrap();
    write(&mut w, 0, b"new");
    ds.finalize(w).unwrap();
    assert_eq!(ds.get(5).unwrap().generation_stamp, 11);
    assert_on_disk(&ds, 5, b"new");
}

#[test]
fn a_transfer_replaces_an_unfinished_replica_but_not_a_finalized_one() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    // A transfer that failed half-way leaves an rbw replica behind.
    let mut w = ds.create_rbw(6, 10, KIND).unwrap();
    write(&mut w, 0, b"half");
    drop(w);
    let mut w = ds.create_temporary(6, 10, KIND).unwrap();
    write(&mut w, 0, b"whole");
    ds.finalize(w).unwrap();
    assert_on_disk(&ds, 6, b"whole");
    let err = ds.create_temporary(6, 10, KIND).unwrap_err();
    assert!(
        matches!(err, DatanodeError::ReplicaAlreadyExists { .. }),
        "{err}"
    );
    assert_on_disk(&ds, 6, b"whole");
}

#[test]
fn append_to_a_partial_last_chunk_keeps_checksums_right() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let data = bytes(3000, 7);
    let mut w = ds.create_rbw(9, 1, KIND).unwrap();
    write(&mut w, 0, &data[..700]);
    let (block, _) = ds.finalize(w).unwrap();
    let mut w = ds.append(&block, 2).unwrap();
    assert_eq!(ds.get(9).unwrap().state, ReplicaState::Rbw);
    write(&mut w, 700, &data[700..900]);
    write(&mut w, 900, &data[900..3000]);
    let (block, _) = ds.finalize(w).unwrap();
    assert_eq!((block.generation_stamp, block.num_bytes), (2, 3000));
    assert_on_disk(&ds, 9, &data);
    let info = ds.get(9).unwrap();
    assert!(ds.paths(&info).meta.ends_with("blk_9_2.meta"));
    assert!(
        !ds.volumes[info.volume]
            .paths(9, 1, ReplicaState::Finalized)
            .meta
            .exists()
    );
    // The old generation stamp can no longer append.
    let stale = pb::Block {
        id: 9,
        generation_stamp: 1,
        num_bytes: 3000,
    };
    assert!(matches!(
        ds.append(&stale, 3),
        Err(DatanodeError::StaleGenerationStamp { .. })
    ));
}

#[test]
fn recovery_truncates_and_preempts_the_old_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let data = bytes(4000, 3);
    let mut old = ds.create_rbw(3, 5, KIND).unwrap();
    write(&mut old, 0, &data[..2500]);
    let acked = pb::Block {
        id: 3,
        generation_stamp: 5,
        num_bytes: 1300,
    };
    let mut w = ds.recover_rbw(&acked, 6, KIND).unwrap();
    let mut sums = Vec::new();
    KIND.chunk_checksums(&data[2500..2600], 2500, &mut sums);
    assert!(
        old.write_packet(2500, &data[2500..2600], KIND, &sums)
            .is_err()
    );
    // The client re-sends from an earlier offset: the overlap is skipped.
    write(&mut w, 1024, &data[1024..4000]);
    ds.finalize(w).unwrap();
    assert_on_disk(&ds, 3, &data);
    assert_eq!(ds.get(3).unwrap().generation_stamp, 6);
}

#[test]
fn recover_replica_truncates_renames_and_finalizes() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let data = bytes(2048, 9);
    let mut w = ds.create_rbw(4, 20, KIND).unwrap();
    write(&mut w, 0, &data);
    drop(w); // the writer went away: rbw stays.
    let block = pb::Block {
        id: 4,
        generation_stamp: 20,
        num_bytes: 2048,
    };
    let (b, _) = ds.recover_replica(&block, 21, 1000).unwrap();
    assert_eq!((b.generation_stamp, b.num_bytes), (21, 1000));
    let info = ds.get(4).unwrap();
    assert_eq!(info.state, ReplicaState::Finalized);
    assert!(ds.paths(&info).meta.ends_with("blk_4_21.meta"));
    assert_on_disk(&ds, 4, &data[..1000]);
    assert!(ds.recover_replica(&block, 22, 1500).is_err());
}

#[test]
fn invalidate_removes_files_but_not_newer_replicas() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let w = ds.create_rbw(8, 30, KIND).unwrap();
    ds.finalize(w).unwrap();
    let paths = ds.paths(&ds.get(8).unwrap());
    let older = pb::Block {
        id: 8,
        generation_stamp: 29,
        num_bytes: 0,
    };
    assert_eq!(ds.invalidate(&older).unwrap(), None);
    assert!(paths.block.exists());
    let same = pb::Block {
        id: 8,
        generation_stamp: 30,
        num_bytes: 0,
    };
    assert!(ds.invalidate(&same).unwrap().is_some());
    assert!(!paths.block.exists() && !paths.meta.exists());
    assert!(ds.get(8).is_none());
    assert_eq!(ds.invalidate(&same).unwrap(), None);
}

#[test]
fn rbw_is_cut_to_its_vouched_length_on_reload() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let data = bytes(3000, 5);
    let mut w = ds.create_rbw(6, 40, KIND).unwrap();
    write(&mut w, 0, &data[..2000]);
    let paths = w.paths.clone();
    drop(w);
    drop(ds);
    // A crash after the data reached the disk but before its checksums did.
    let f = open_rw(&paths.block).unwrap();
    f.write_all_at(&data[2000..3000], 2000).unwrap();
    let again = dataset(tmp.path());
    let info = again.get(6).unwrap();
    assert_eq!(
        (info.state, info.bytes_on_disk, info.visible_length),
        (ReplicaState::Rbw, 2000, 2000)
    );
    assert_on_disk(&again, 6, &data[..2000]);
}

#[test]
fn usage_counts_replica_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let mut w = ds.create_rbw(1, 1, KIND).unwrap();
    write(&mut w, 0, &bytes(4096, 0));
    ds.finalize(w).unwrap();
    let usage = ds.usage();
    assert_eq!(usage.dfs_used, 4096);
    assert!(usage.capacity > 0 && usage.remaining <= usage.capacity);
}

/// Pages of a replica that already reached the disk leave the page cache
/// behind the writes (drop-behind), so a large block does not fill it.
#[test]
fn pages_written_back_leave_the_page_cache() {
    let resident = cached_bytes_after_writing_24_mib(true);
    // The last 8 MiB may still be cached (being written back); the first
    // 16 MiB, synced, must be gone.
    assert!(
        resident <= 8 * MIB,
        "{resident} bytes of the 24 MiB block still cached (is the build directory on tmpfs?)"
    );
}

/// With `drop-cache-behind-writes` off, a replica's pages stay cached.
#[test]
fn pages_stay_cached_when_drop_behind_is_off() {
    let resident = cached_bytes_after_writing_24_mib(false);
    // The synced 16 MiB are clean but kept; nothing asked them to go.
    assert!(
        resident >= 16 * MIB,
        "only {resident} bytes of the 24 MiB block still cached"
    );
}

const MIB: usize = 1 << 20;

/// Writes a 24 MiB replica, synced after 16 MiB so those pages are clean,
/// and says how many of its bytes the page cache holds (`fincore`).
fn cached_bytes_after_writing_24_mib(drop_cache_behind_writes: bool) -> usize {
    // On a disk: tmpfs keeps its pages whatever the hint, and /tmp may be
    // tmpfs. The test binary's directory is the build's, on a disk.
    let exe = std::env::current_exe().unwrap();
    let tmp = tempfile::tempdir_in(exe.parent().unwrap()).unwrap();
    let settings = DatasetSettings {
        drop_cache_behind_writes,
        ..crate::DatanodeConfig::default().dataset_settings()
    };
    let ds = dataset_with(tmp.path(), settings);
    let mut w = ds.create_rbw(80, 1001, KIND).unwrap();
    let packet = bytes(64 << 10, 3);
    let mut offset = 0;
    let mut write_to = |w: &mut ReplicaWriter, end: usize| {
        while offset < end as u64 {
            write(w, offset, &packet);
            offset += packet.len() as u64;
        }
    };
    write_to(&mut w, 16 * MIB);
    // Written back for sure: clean pages, which the next hint drops.
    w.sync().unwrap();
    write_to(&mut w, 24 * MIB);

    let block = ds.paths(&ds.get(80).unwrap()).block;
    let out = std::process::Command::new("fincore")
        .args(["--bytes", "--noheadings", "--output", "RES"])
        .arg(&block)
        .output()
        .expect("fincore (Debian's util-linux-extra) runs");
    assert!(out.status.success(), "{out:?}");
    let resident = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    ds.finalize(w).unwrap();
    resident
}
