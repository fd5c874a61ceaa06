//! The meta file beside each block file (HDFS's BlockMetadataHeader):
//! a 7-byte header (u16 version = 1, u8 checksum type, u32 bytes per
//! checksum = 512, big-endian), then one big-endian checksum per 512-byte
//! chunk of the block file; the last may cover a short chunk. The type ids
//! are HDFS's: 0 NULL (no checksums follow), 1 CRC32 (every meta file
//! Cairn wrote before the type was configurable), 2 CRC32C.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use cairn_proto::{BYTES_PER_CHECKSUM, ChecksumType};

use crate::error::{DatanodeError, Result};

/// Length of the header before the first checksum.
pub const HEADER_LEN: u64 = 7;
const META_VERSION: u16 = 1;

const BPC: u64 = BYTES_PER_CHECKSUM as u64;

/// The header of a meta file of checksums of type `kind`.
pub fn header(kind: ChecksumType) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..2].copy_from_slice(&META_VERSION.to_be_bytes());
    h[2] = kind.meta_id();
    h[3..].copy_from_slice(&(BYTES_PER_CHECKSUM as u32).to_be_bytes());
    h
}

/// Checks a meta file's header and returns its checksum type; the error
/// says what is wrong with it.
pub fn check_header(meta: &File, path: &Path) -> Result<ChecksumType> {
    let mut h = [0u8; HEADER_LEN as usize];
    meta.read_exact_at(&mut h, 0)
        .map_err(|e| DatanodeError::io(path, e))?;
    let kind = ChecksumType::from_meta_id(h[2]);
    match kind {
        Some(kind) if h == header(kind) => Ok(kind),
        _ => Err(DatanodeError::InconsistentStorage {
            path: path.to_path_buf(),
            reason: format!(
                "unsupported meta header {h:02x?} (want version 1, checksum type 0 NULL, 1 CRC32 or 2 CRC32C, 512 bytes per checksum)"
            ),
        }),
    }
}

/// Number of chunks covering `len` bytes.
pub fn chunks(len: u64) -> u64 {
    len.div_ceil(BPC)
}

/// Where the checksum of the chunk holding block offset `offset` sits.
pub fn checksum_position(kind: ChecksumType, offset: u64) -> u64 {
    HEADER_LEN + (offset / BPC) * kind.size() as u64
}

/// Length of the meta file of a block of `len` bytes.
pub fn meta_len(kind: ChecksumType, len: u64) -> u64 {
    HEADER_LEN + chunks(len) * kind.size() as u64
}

/// Reads the stored checksums of the chunks covering block bytes
/// `[start, end)`, `start` being chunk-aligned (none for NULL).
pub fn read_checksums(
    kind: ChecksumType,
    meta: &File,
    path: &Path,
    start: u64,
    end: u64,
) -> Result<Vec<u8>> {
    let count = chunks(end.saturating_sub(start));
    let mut out = vec![0u8; (count as usize) * kind.size()];
    meta.read_exact_at(&mut out, checksum_position(kind, start))
        .map_err(|e| DatanodeError::io(path, e))?;
    Ok(out)
}

/// The length of block data that the meta file vouches for: no more than
/// both files hold, and cut back to the longest prefix of the last chunk
/// that matches its stored checksum (a crash can leave data without its
/// checksum, a chunk's checksum still covering a shorter chunk, or a torn
/// tail). With NULL checksums nothing vouches: the whole block file counts.
pub fn vouched_length(data: &File, data_path: &Path, meta: &File, meta_path: &Path) -> Result<u64> {
    let kind = check_header(meta, meta_path)?;
    let data_len = data
        .metadata()
        .map_err(|e| DatanodeError::io(data_path, e))?
        .len();
    if kind == ChecksumType::Null {
        return Ok(data_len);
    }
    let meta_len = meta
        .metadata()
        .map_err(|e| DatanodeError::io(meta_path, e))?
        .len();
    let sums = (meta_len - HEADER_LEN) / kind.size() as u64;
    let mut len = data_len.min(sums * BPC);
    let mut chunk = vec![0u8; BYTES_PER_CHECKSUM];
    while len > 0 {
        let start = (len - 1) / BPC * BPC;
        let piece = &mut chunk[..(len - start) as usize];
        data.read_exact_at(piece, start)
            .map_err(|e| DatanodeError::io(data_path, e))?;
        let mut stored = [0u8; 4];
        meta.read_exact_at(&mut stored, checksum_position(kind, start))
            .map_err(|e| DatanodeError::io(meta_path, e))?;
        if let Some(k) = longest_matching_prefix(kind, piece, u32::from_be_bytes(stored)) {
            return Ok(start + k as u64);
        }
        len = start;
    }
    Ok(0)
}

/// The longest non-empty prefix of `chunk` whose checksum is `crc`.
fn longest_matching_prefix(kind: ChecksumType, chunk: &[u8], crc: u32) -> Option<usize> {
    let mut running = kind.checksum(&[]);
    let mut best = None;
    for (i, byte) in chunk.iter().enumerate() {
        running = kind.update(running, std::slice::from_ref(byte));
        if running == crc {
            best = Some(i + 1);
        }
    }
    best
}

/// Cuts a replica to `len` bytes: the block file to `len`, the meta file to
/// the checksums of `len` bytes, and the last chunk's checksum recomputed
/// when `len` ends inside a chunk. Does not fsync.
pub fn truncate(
    kind: ChecksumType,
    data: &File,
    data_path: &Path,
    meta: &File,
    meta_path: &Path,
    len: u64,
) -> Result<()> {
    data.set_len(len)
        .map_err(|e| DatanodeError::io(data_path, e))?;
    meta.set_len(meta_len(kind, len))
        .map_err(|e| DatanodeError::io(meta_path, e))?;
    let partial = len % BPC;
    if partial != 0 && kind != ChecksumType::Null {
        let start = len - partial;
        let mut piece = vec![0u8; partial as usize];
        data.read_exact_at(&mut piece, start)
            .map_err(|e| DatanodeError::io(data_path, e))?;
        meta.write_all_at(
            &kind.checksum(&piece).to_be_bytes(),
            checksum_position(kind, start),
        )
        .map_err(|e| DatanodeError::io(meta_path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;

    use super::*;

    fn write_replica(dir: &Path, kind: ChecksumType, data: &[u8]) -> (File, File) {
        let dp = dir.join("blk");
        let mp = dir.join("blk.meta");
        std::fs::write(&dp, data).unwrap();
        let mut meta = header(kind).to_vec();
        kind.chunk_checksums(data, 0, &mut meta);
        std::fs::write(&mp, meta).unwrap();
        let open = |p: &Path| OpenOptions::new().read(true).write(true).open(p).unwrap();
        (open(&dp), open(&mp))
    }

    #[test]
    fn header_layout() {
        // The layout Cairn always wrote (CRC32), now one type among three.
        assert_eq!(header(ChecksumType::Crc32), [0, 1, 1, 0, 0, 2, 0]);
        assert_eq!(header(ChecksumType::Crc32c), [0, 1, 2, 0, 0, 2, 0]);
        assert_eq!(header(ChecksumType::Null), [0, 1, 0, 0, 0, 2, 0]);
        assert_eq!(meta_len(ChecksumType::Crc32, 0), 7);
        assert_eq!(meta_len(ChecksumType::Crc32c, 1), 11);
        assert_eq!(meta_len(ChecksumType::Crc32, 1024), 15);
        assert_eq!(meta_len(ChecksumType::Null, 1024), 7);
        assert_eq!(checksum_position(ChecksumType::Crc32c, 1023), 11);
    }

    #[test]
    fn check_header_reads_the_type_and_refuses_unknown_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("m");
        for kind in ChecksumType::ALL {
            std::fs::write(&path, header(kind)).unwrap();
            assert_eq!(
                check_header(&File::open(&path).unwrap(), &path).unwrap(),
                kind
            );
        }
        std::fs::write(&path, [0, 1, 9, 0, 0, 2, 0]).unwrap();
        let err = check_header(&File::open(&path).unwrap(), &path).unwrap_err();
        assert!(err.to_string().contains("unsupported meta header"), "{err}");
    }

    #[test]
    fn vouched_length_drops_unvouched_tails() {
        for kind in [ChecksumType::Crc32, ChecksumType::Crc32c] {
            let tmp = tempfile::tempdir().unwrap();
            let (dp, mp) = (tmp.path().join("blk"), tmp.path().join("blk.meta"));
            let data: Vec<u8> = (0..1300u32).map(|i| (i * 7) as u8).collect();
            let (d, m) = write_replica(tmp.path(), kind, &data);
            assert_eq!(vouched_length(&d, &dp, &m, &mp).unwrap(), 1300);
            // Data written past the meta file's checksums is not vouched for,
            // even inside the last chunk.
            d.write_all_at(&[9u8; 600], 1300).unwrap();
            assert_eq!(vouched_length(&d, &dp, &m, &mp).unwrap(), 1300);
            // A chunk whose checksum matches no prefix is dropped.
            d.write_all_at(&[0xee], 1100).unwrap();
            assert_eq!(vouched_length(&d, &dp, &m, &mp).unwrap(), 1024);
            d.write_all_at(&data[1100..1101], 1100).unwrap();
            // A torn last checksum loses its chunk too.
            d.set_len(1300).unwrap();
            m.set_len(meta_len(kind, 1300) - 1).unwrap();
            assert_eq!(vouched_length(&d, &dp, &m, &mp).unwrap(), 1024);
        }
    }

    #[test]
    fn null_checksums_vouch_for_the_whole_block_file() {
        let tmp = tempfile::tempdir().unwrap();
        let (dp, mp) = (tmp.path().join("blk"), tmp.path().join("blk.meta"));
        let (d, m) = write_replica(tmp.path(), ChecksumType::Null, &[4u8; 1300]);
        assert_eq!(std::fs::metadata(&mp).unwrap().len(), HEADER_LEN);
        assert_eq!(vouched_length(&d, &dp, &m, &mp).unwrap(), 1300);
        truncate(ChecksumType::Null, &d, &dp, &m, &mp, 700).unwrap();
        assert_eq!(vouched_length(&d, &dp, &m, &mp).unwrap(), 700);
    }

    #[test]
    fn truncate_recomputes_the_last_chunk() {
        for kind in [ChecksumType::Crc32, ChecksumType::Crc32c] {
            let tmp = tempfile::tempdir().unwrap();
            let (dp, mp) = (tmp.path().join("blk"), tmp.path().join("blk.meta"));
            let data: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
            let (d, m) = write_replica(tmp.path(), kind, &data);
            truncate(kind, &d, &dp, &m, &mp, 700).unwrap();
            let mut want = header(kind).to_vec();
            kind.chunk_checksums(&data[..700], 0, &mut want);
            assert_eq!(std::fs::read(&mp).unwrap(), want);
            assert_eq!(std::fs::read(&dp).unwrap(), &data[..700]);
            assert_eq!(vouched_length(&d, &dp, &m, &mp).unwrap(), 700);
        }
    }
}
