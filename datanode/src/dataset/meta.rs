//! The meta file beside each block file (HDFS's BlockMetadataHeader):
//! a 7-byte header (u16 version = 1, u8 checksum type = 1 for CRC32,
//! u32 bytes per checksum = 512, big-endian), then one big-endian CRC32 per
//! 512-byte chunk of the block file; the last may cover a short chunk.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use cairn_proto::{BYTES_PER_CHECKSUM, CHECKSUM_SIZE};

use crate::error::{DatanodeError, Result};

/// Length of the header before the first checksum.
pub const HEADER_LEN: u64 = 7;
const META_VERSION: u16 = 1;
const CHECKSUM_CRC32: u8 = 1;

const BPC: u64 = BYTES_PER_CHECKSUM as u64;

/// The header every meta file starts with.
pub fn header() -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..2].copy_from_slice(&META_VERSION.to_be_bytes());
    h[2] = CHECKSUM_CRC32;
    h[3..].copy_from_slice(&(BYTES_PER_CHECKSUM as u32).to_be_bytes());
    h
}

/// Checks a meta file's header; the error says what is wrong with it.
pub fn check_header(meta: &File, path: &Path) -> Result<()> {
    let mut h = [0u8; HEADER_LEN as usize];
    meta.read_exact_at(&mut h, 0)
        .map_err(|e| DatanodeError::io(path, e))?;
    if h != header() {
        return Err(DatanodeError::InconsistentStorage {
            path: path.to_path_buf(),
            reason: format!(
                "unsupported meta header {h:02x?} (want version 1, CRC32, 512 bytes per checksum)"
            ),
        });
    }
    Ok(())
}

/// Number of chunks (and so checksums) covering `len` bytes.
pub fn chunks(len: u64) -> u64 {
    len.div_ceil(BPC)
}

/// Where the checksum of the chunk holding block offset `offset` sits.
pub fn checksum_position(offset: u64) -> u64 {
    HEADER_LEN + (offset / BPC) * CHECKSUM_SIZE as u64
}

/// Length of the meta file of a block of `len` bytes.
pub fn meta_len(len: u64) -> u64 {
    HEADER_LEN + chunks(len) * CHECKSUM_SIZE as u64
}

/// Reads the stored checksums of the chunks covering block bytes
/// `[start, end)`, `start` being chunk-aligned.
pub fn read_checksums(meta: &File, path: &Path, start: u64, end: u64) -> Result<Vec<u8>> {
    let count = chunks(end.saturating_sub(start));
    let mut out = vec![0u8; (count as usize) * CHECKSUM_SIZE];
    meta.read_exact_at(&mut out, checksum_position(start))
        .map_err(|e| DatanodeError::io(path, e))?;
    Ok(out)
}

/// The length of block data that the meta file vouches for: no more than
/// both files hold, and cut back to the longest prefix of the last chunk
/// that matches its stored CRC (a crash can leave data without its
/// checksum, a chunk's CRC still covering a shorter chunk, or a torn tail).
pub fn vouched_length(data: &File, data_path: &Path, meta: &File, meta_path: &Path) -> Result<u64> {
    check_header(meta, meta_path)?;
    let data_len = data
        .metadata()
        .map_err(|e| DatanodeError::io(data_path, e))?
        .len();
    let meta_len = meta
        .metadata()
        .map_err(|e| DatanodeError::io(meta_path, e))?
        .len();
    let sums = (meta_len - HEADER_LEN) / CHECKSUM_SIZE as u64;
    let mut len = data_len.min(sums * BPC);
    let mut chunk = vec![0u8; BYTES_PER_CHECKSUM];
    while len > 0 {
        let start = (len - 1) / BPC * BPC;
        let piece = &mut chunk[..(len - start) as usize];
        data.read_exact_at(piece, start)
            .map_err(|e| DatanodeError::io(data_path, e))?;
        let mut stored = [0u8; CHECKSUM_SIZE];
        meta.read_exact_at(&mut stored, checksum_position(start))
            .map_err(|e| DatanodeError::io(meta_path, e))?;
        if let Some(k) = longest_matching_prefix(piece, u32::from_be_bytes(stored)) {
            return Ok(start + k as u64);
        }
        len = start;
    }
    Ok(0)
}

/// The longest non-empty prefix of `chunk` whose CRC32 is `crc`.
fn longest_matching_prefix(chunk: &[u8], crc: u32) -> Option<usize> {
    let mut hasher = crc32fast::Hasher::new();
    let mut best = None;
    for (i, byte) in chunk.iter().enumerate() {
        hasher.update(std::slice::from_ref(byte));
        if hasher.clone().finalize() == crc {
            best = Some(i + 1);
        }
    }
    best
}

/// Cuts a replica to `len` bytes: the block file to `len`, the meta file to
/// the checksums of `len` bytes, and the last chunk's checksum recomputed
/// when `len` ends inside a chunk. Does not fsync.
pub fn truncate(
    data: &File,
    data_path: &Path,
    meta: &File,
    meta_path: &Path,
    len: u64,
) -> Result<()> {
    data.set_len(len)
        .map_err(|e| DatanodeError::io(data_path, e))?;
    meta.set_len(meta_len(len))
        .map_err(|e| DatanodeError::io(meta_path, e))?;
    let partial = len % BPC;
    if partial != 0 {
        let start = len - partial;
        let mut piece = vec![0u8; partial as usize];
        data.read_exact_at(&mut piece, start)
            .map_err(|e| DatanodeError::io(data_path, e))?;
        meta.write_all_at(
            &crc32fast::hash(&piece).to_be_bytes(),
            checksum_position(start),
        )
        .map_err(|e| DatanodeError::io(meta_path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;

    use super::*;

    fn write_replica(dir: &Path, data: &[u8]) -> (File, File) {
        let dp = dir.join("blk");
        let mp = dir.join("blk.meta");
        std::fs::write(&dp, data).unwrap();
        let mut meta = header().to_vec();
        cairn_proto::chunk_checksums(data, 0, &mut meta);
        std::fs::write(&mp, meta).unwrap();
        let open = |p: &Path| OpenOptions::new().read(true).write(true).open(p).unwrap();
        (open(&dp), open(&mp))
    }

    #[test]
    fn header_layout() {
        assert_eq!(header(), [0, 1, 1, 0, 0, 2, 0]);
        assert_eq!(meta_len(0), 7);
        assert_eq!(meta_len(1), 11);
        assert_eq!(meta_len(1024), 15);
        assert_eq!(checksum_position(1023), 11);
    }

    #[test]
    fn vouched_length_drops_unvouched_tails() {
        let tmp = tempfile::tempdir().unwrap();
        let (dp, mp) = (tmp.path().join("blk"), tmp.path().join("blk.meta"));
        let data: Vec<u8> = (0..1300u32).map(|i| (i * 7) as u8).collect();
        let (d, m) = write_replica(tmp.path(), &data);
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
        m.set_len(meta_len(1300) - 1).unwrap();
        assert_eq!(vouched_length(&d, &dp, &m, &mp).unwrap(), 1024);
    }

    #[test]
    fn truncate_recomputes_the_last_chunk() {
        let tmp = tempfile::tempdir().unwrap();
        let (dp, mp) = (tmp.path().join("blk"), tmp.path().join("blk.meta"));
        let data: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
        let (d, m) = write_replica(tmp.path(), &data);
        truncate(&d, &dp, &m, &mp, 700).unwrap();
        let mut want = header().to_vec();
        cairn_proto::chunk_checksums(&data[..700], 0, &mut want);
        assert_eq!(std::fs::read(&mp).unwrap(), want);
        assert_eq!(std::fs::read(&dp).unwrap(), &data[..700]);
        assert_eq!(vouched_length(&d, &dp, &m, &mp).unwrap(), 700);
    }
}
