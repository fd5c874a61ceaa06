//! Cairn's gRPC contract.
//!
//! The `.proto` files under `proto/` are the only thing Cairn's daemons share:
//! `common.proto` (blocks, datanodes, file status, error codes),
//! `client.proto` (ClientProtocol, served by the namenode),
//! `datanode.proto` (DatanodeProtocol, served by the namenode),
//! `transfer.proto` (DataTransfer, served by every datanode) and
//! `fsimage.proto` (the namenode's edit log and checkpoint records).
//!
//! Generated code lives in [`pb`]; [`RpcError`] is the one place where a typed
//! error becomes a gRPC status and back.

pub mod config_value;
pub mod daemon_args;
pub mod error;
pub mod html;
pub mod identity;
pub mod rpc_metrics;
pub mod webhdfs;

pub use error::{ErrorKind, RpcError};

/// Code generated from the `.proto` files.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    tonic::include_proto!("cairn");
}

/// Bytes covered by one CRC32 in packets and meta files (HDFS's
/// `dfs.bytes-per-checksum`).
pub const BYTES_PER_CHECKSUM: usize = 512;

/// Size of one encoded chunk checksum.
pub const CHECKSUM_SIZE: usize = 4;

/// gRPC messages carry whole packets (up to a few MiB with their checksums),
/// far above tonic's 4 MiB default decode limit once batched.
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// HTTP/2 windows sized for throughput: with the defaults a 1 GiB stream on
/// loopback moves at about half the speed it does with these.
pub const STREAM_WINDOW: u32 = 8 * 1024 * 1024;
pub const CONNECTION_WINDOW: u32 = 16 * 1024 * 1024;

/// The largest HTTP/2 frame a client accepts: 1 MiB instead of 16 KiB, so a
/// read packet arrives in one or two frames rather than sixty-four, which
/// measured faster in `cairn bench dfsio`. Datanodes keep the default for
/// what they receive: larger frames on the write path measured slower.
pub const MAX_FRAME_SIZE: u32 = 1024 * 1024;

/// Computes the chunk checksums of `data`, whose first byte sits at
/// `offset_in_block`, appending one big-endian CRC32 per chunk to `out`.
/// Chunks are aligned to the block's start, so when `offset_in_block` is not
/// a multiple of [`BYTES_PER_CHECKSUM`] the first chunk is short.
pub fn chunk_checksums(data: &[u8], offset_in_block: u64, out: &mut Vec<u8>) {
    let mut rest = data;
    let misalign = (offset_in_block % BYTES_PER_CHECKSUM as u64) as usize;
    if misalign != 0 && !rest.is_empty() {
        let first = (BYTES_PER_CHECKSUM - misalign).min(rest.len());
        out.extend_from_slice(&crc32fast::hash(&rest[..first]).to_be_bytes());
        rest = &rest[first..];
    }
    for chunk in rest.chunks(BYTES_PER_CHECKSUM) {
        out.extend_from_slice(&crc32fast::hash(chunk).to_be_bytes());
    }
}

/// Checks `data` against `checksums` as produced by [`chunk_checksums`].
/// Returns the offset in the block of the first chunk that does not match.
pub fn verify_chunk_checksums(
    data: &[u8],
    offset_in_block: u64,
    checksums: &[u8],
) -> Result<(), u64> {
    let mut expected = Vec::with_capacity(checksums.len());
    chunk_checksums(data, offset_in_block, &mut expected);
    if expected.len() != checksums.len() {
        return Err(offset_in_block);
    }
    let first_bad = expected
        .chunks(CHECKSUM_SIZE)
        .zip(checksums.chunks(CHECKSUM_SIZE))
        .position(|(a, b)| a != b);
    match first_bad {
        None => Ok(()),
        Some(0) => Err(offset_in_block),
        Some(i) => {
            let first_len = BYTES_PER_CHECKSUM as u64 - offset_in_block % BYTES_PER_CHECKSUM as u64;
            Err(offset_in_block + first_len + (i as u64 - 1) * BYTES_PER_CHECKSUM as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_align_to_block_start() {
        let data = vec![7u8; 1500];
        let mut sums = Vec::new();
        chunk_checksums(&data, 100, &mut sums);
        // 412 + 512 + 512 + 64
        assert_eq!(sums.len(), 4 * CHECKSUM_SIZE);
        assert_eq!(&sums[..4], &crc32fast::hash(&data[..412]).to_be_bytes());
        assert!(verify_chunk_checksums(&data, 100, &sums).is_ok());
    }

    #[test]
    fn verify_names_the_first_bad_chunk() {
        let mut data = vec![1u8; 2048];
        let mut sums = Vec::new();
        chunk_checksums(&data, 0, &mut sums);
        data[1100] ^= 0xff;
        assert_eq!(verify_chunk_checksums(&data, 0, &sums), Err(1024));
        let mut data = vec![1u8; 2048];
        let mut sums = Vec::new();
        chunk_checksums(&data, 100, &mut sums);
        data[500] ^= 0xff; // offset 600 in block: the chunk 512..1024
        assert_eq!(verify_chunk_checksums(&data, 100, &sums), Err(512));
    }

    #[test]
    fn verify_rejects_a_wrong_count() {
        let data = vec![1u8; 1024];
        assert!(verify_chunk_checksums(&data, 0, &[0, 0, 0, 0]).is_err());
    }
}
