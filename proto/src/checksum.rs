//! Chunk checksums (HDFS's `DataChecksum`): one checksum per
//! [`BYTES_PER_CHECKSUM`] chunk of a block, counted from the block's start,
//! of the type the block was written with (`dfs.checksum.type`).
//!
//! * CRC32C (Castagnoli) is the default, as in HDFS: x86's SSE4.2 and
//!   ARM's CRC extension compute it in hardware. A chunk's checksum comes
//!   from `crc-fast`, which picks its SIMD/PCLMUL or `crc32` code at run
//!   time and is 1.4-1.8× the `crc32c` crate on 512-byte chunks here (that
//!   one chains the `crc32` instruction word after word below 768 bytes);
//!   a running checksum ([`ChecksumType::update`]) still uses `crc32c`'s
//!   append.
//! * CRC32 (zlib's polynomial) is what Cairn wrote before the type was
//!   recorded; meta files and WriteBlock headers without a type mean it.
//! * NULL stores and sends no checksums at all (a benchmark's reference, or
//!   data whose integrity is checked elsewhere).
//!
//! Each checksum is 4 bytes, big-endian; NULL's are 0 bytes.

use std::fmt;
use std::str::FromStr;

use crate::pb;

/// Bytes covered by one checksum in packets and meta files (HDFS's
/// `dfs.bytes-per-checksum`).
pub const BYTES_PER_CHECKSUM: usize = 512;

/// Size of one encoded CRC (CRC32 or CRC32C).
pub const CHECKSUM_SIZE: usize = 4;

/// The checksum algorithm of a block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ChecksumType {
    /// No checksums.
    Null,
    /// CRC32 with zlib's polynomial (Cairn's only type before types were recorded).
    Crc32,
    /// CRC32C (Castagnoli), computed in hardware: the default.
    #[default]
    Crc32c,
}

/// A checksum type name that is none of NULL, CRC32, CRC32C.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown checksum type `{0}' (expected CRC32C, CRC32 or NULL)")]
pub struct UnknownChecksumType(pub String);

impl ChecksumType {
    /// Every type, for help texts and tests.
    pub const ALL: [ChecksumType; 3] = [Self::Crc32c, Self::Crc32, Self::Null];

    /// The name HDFS uses in `dfs.checksum.type`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Null => "NULL",
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
        }
    }

    /// The id in a meta file header (HDFS's `DataChecksum.Type` ids).
    pub const fn meta_id(self) -> u8 {
        match self {
            Self::Null => 0,
            Self::Crc32 => 1,
            Self::Crc32c => 2,
        }
    }

    /// The type of a meta file header id.
    pub const fn from_meta_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(Self::Null),
            1 => Some(Self::Crc32),
            2 => Some(Self::Crc32c),
            _ => None,
        }
    }

    /// The type as the transfer protocol sends it.
    pub const fn to_pb(self) -> pb::ChecksumType {
        match self {
            Self::Null => pb::ChecksumType::ChecksumNull,
            Self::Crc32 => pb::ChecksumType::ChecksumCrc32,
            Self::Crc32c => pb::ChecksumType::ChecksumCrc32c,
        }
    }

    /// The type of a protocol field; `None` for a value this build does
    /// not know (a newer peer).
    pub fn from_pb(value: i32) -> Option<Self> {
        match pb::ChecksumType::try_from(value).ok()? {
            pb::ChecksumType::ChecksumNull => Some(Self::Null),
            pb::ChecksumType::ChecksumCrc32 => Some(Self::Crc32),
            pb::ChecksumType::ChecksumCrc32c => Some(Self::Crc32c),
        }
    }

    /// Bytes of one chunk's checksum: 4, or 0 for NULL.
    pub const fn size(self) -> usize {
        match self {
            Self::Null => 0,
            Self::Crc32 | Self::Crc32c => CHECKSUM_SIZE,
        }
    }

    /// Bytes of the checksums of `len` data bytes starting on a chunk boundary.
    pub const fn checksums_len(self, len: usize) -> usize {
        len.div_ceil(BYTES_PER_CHECKSUM) * self.size()
    }

    /// Bytes of the checksums of `len` data bytes starting at block offset
    /// `offset_in_block` (the first chunk is short when it is unaligned).
    pub const fn checksums_len_at(self, len: usize, offset_in_block: u64) -> usize {
        let misalign = (offset_in_block % BYTES_PER_CHECKSUM as u64) as usize;
        if misalign == 0 || len == 0 {
            return self.checksums_len(len);
        }
        let first = BYTES_PER_CHECKSUM - misalign;
        if len <= first {
            self.size()
        } else {
            self.size() + self.checksums_len(len - first)
        }
    }

    /// The checksum of one chunk (0 for NULL).
    pub fn checksum(self, chunk: &[u8]) -> u32 {
        match self {
            Self::Null => 0,
            Self::Crc32 => crc32fast::hash(chunk),
            Self::Crc32c => crc_fast::crc32_iscsi(chunk),
        }
    }

    /// A running checksum: `update(checksum(a), b) == checksum(a ++ b)`.
    pub fn update(self, crc: u32, more: &[u8]) -> u32 {
        match self {
            Self::Null => 0,
            Self::Crc32 => {
                let mut hasher = crc32fast::Hasher::new_with_initial(crc);
                hasher.update(more);
                hasher.finalize()
            }
            Self::Crc32c => crc32c::crc32c_append(crc, more),
        }
    }

    /// Computes the chunk checksums of `data`, whose first byte sits at
    /// `offset_in_block`, appending one per chunk to `out` (nothing for
    /// NULL). Chunks are aligned to the block's start, so when
    /// `offset_in_block` is not a multiple of [`BYTES_PER_CHECKSUM`] the
    /// first chunk is short.
    pub fn chunk_checksums(self, data: &[u8], offset_in_block: u64, out: &mut Vec<u8>) {
        if self == Self::Null {
            return;
        }
        out.reserve(self.checksums_len(data.len()) + self.size());
        let mut rest = data;
        let misalign = (offset_in_block % BYTES_PER_CHECKSUM as u64) as usize;
        if misalign != 0 && !rest.is_empty() {
            let (first, tail) = rest.split_at((BYTES_PER_CHECKSUM - misalign).min(rest.len()));
            out.extend_from_slice(&self.checksum(first).to_be_bytes());
            rest = tail;
        }
        for chunk in rest.chunks(BYTES_PER_CHECKSUM) {
            out.extend_from_slice(&self.checksum(chunk).to_be_bytes());
        }
    }

    /// Checks `data` against `checksums` as produced by
    /// [`ChecksumType::chunk_checksums`], without allocating. Returns the
    /// offset in the block of the first chunk that does not match (or of
    /// `data` when the number of checksums is wrong). NULL accepts any
    /// data with no checksums.
    pub fn verify(self, data: &[u8], offset_in_block: u64, checksums: &[u8]) -> Result<(), u64> {
        let misalign = (offset_in_block % BYTES_PER_CHECKSUM as u64) as usize;
        let first_len = if misalign == 0 {
            0
        } else {
            (BYTES_PER_CHECKSUM - misalign).min(data.len())
        };
        let (first, rest) = data.split_at(first_len);
        if checksums.len() != self.checksums_len_at(data.len(), offset_in_block) {
            return Err(offset_in_block);
        }
        if self == Self::Null {
            return Ok(());
        }
        let mut sums = checksums.chunks_exact(CHECKSUM_SIZE).map(|s| {
            let mut b = [0u8; CHECKSUM_SIZE];
            b.copy_from_slice(s);
            u32::from_be_bytes(b)
        });
        let mut at = offset_in_block;
        if !first.is_empty() {
            if sums.next() != Some(self.checksum(first)) {
                return Err(at);
            }
            at += first.len() as u64;
        }
        for chunk in rest.chunks(BYTES_PER_CHECKSUM) {
            if sums.next() != Some(self.checksum(chunk)) {
                return Err(at);
            }
            at += chunk.len() as u64;
        }
        Ok(())
    }
}

impl fmt::Display for ChecksumType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ChecksumType {
    type Err = UnknownChecksumType;

    /// HDFS's names, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownChecksumType(s.to_string()))
    }
}

impl serde::Serialize for ChecksumType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for ChecksumType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_align_to_block_start() {
        let data = vec![7u8; 1500];
        for kind in [ChecksumType::Crc32, ChecksumType::Crc32c] {
            let mut sums = Vec::new();
            kind.chunk_checksums(&data, 100, &mut sums);
            // 412 + 512 + 512 + 64
            assert_eq!(sums.len(), 4 * CHECKSUM_SIZE);
            assert_eq!(&sums[..4], &kind.checksum(&data[..412]).to_be_bytes());
            assert!(kind.verify(&data, 100, &sums).is_ok());
        }
        assert_eq!(
            &ChecksumType::Crc32.checksum(&data[..412]).to_be_bytes(),
            &crc32fast::hash(&data[..412]).to_be_bytes()
        );
    }

    #[test]
    fn crc32c_chunks_match_the_crc32c_crate() {
        // Every length from 0 to a few chunks, and chunk lists with a
        // short first chunk: the same values as the `crc32c` crate, which
        // wrote every CRC32C meta file before.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let data: Vec<u8> = (0..5000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for len in 0..=1600 {
            let chunk = &data[..len];
            assert_eq!(
                ChecksumType::Crc32c.checksum(chunk),
                crc32c::crc32c(chunk),
                "{len}"
            );
        }
        for (len, offset) in [(5000, 0), (4999, 100), (333, 511), (4097, 1)] {
            let mut sums = Vec::new();
            ChecksumType::Crc32c.chunk_checksums(&data[..len], offset, &mut sums);
            let first =
                (BYTES_PER_CHECKSUM - offset as usize % BYTES_PER_CHECKSUM) % BYTES_PER_CHECKSUM;
            let mut expected = Vec::new();
            let (head, tail) = data[..len].split_at(first.min(len));
            if !head.is_empty() {
                expected.extend_from_slice(&crc32c::crc32c(head).to_be_bytes());
            }
            for chunk in tail.chunks(BYTES_PER_CHECKSUM) {
                expected.extend_from_slice(&crc32c::crc32c(chunk).to_be_bytes());
            }
            assert_eq!(sums, expected, "{len} at {offset}");
            assert!(
                ChecksumType::Crc32c
                    .verify(&data[..len], offset, &sums)
                    .is_ok()
            );
        }
    }

    #[test]
    fn crc32c_is_castagnoli() {
        // The check value of CRC-32C (iSCSI) from the CRC catalogue.
        assert_eq!(ChecksumType::Crc32c.checksum(b"123456789"), 0xe306_9283);
        assert_eq!(ChecksumType::Crc32.checksum(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn update_continues_a_checksum() {
        for kind in ChecksumType::ALL {
            let whole = kind.checksum(b"hello, world");
            assert_eq!(kind.update(kind.checksum(b"hello"), b", world"), whole);
        }
    }

    #[test]
    fn verify_names_the_first_bad_chunk() {
        for kind in [ChecksumType::Crc32, ChecksumType::Crc32c] {
            let mut data = vec![1u8; 2048];
            let mut sums = Vec::new();
            kind.chunk_checksums(&data, 0, &mut sums);
            data[1100] ^= 0xff;
            assert_eq!(kind.verify(&data, 0, &sums), Err(1024));
            let mut data = vec![1u8; 2048];
            let mut sums = Vec::new();
            kind.chunk_checksums(&data, 100, &mut sums);
            data[500] ^= 0xff; // offset 600 in block: the chunk 512..1024
            assert_eq!(kind.verify(&data, 100, &sums), Err(512));
        }
    }

    #[test]
    fn verify_rejects_a_wrong_count() {
        let data = vec![1u8; 1024];
        assert!(
            ChecksumType::Crc32c
                .verify(&data, 0, &[0, 0, 0, 0])
                .is_err()
        );
        assert!(ChecksumType::Null.verify(&data, 0, &[0, 0, 0, 0]).is_err());
        assert!(ChecksumType::Null.verify(&data, 0, &[]).is_ok());
    }

    #[test]
    fn checksums_len_at_counts_a_short_first_chunk() {
        let kind = ChecksumType::Crc32c;
        for (len, offset) in [
            (0, 0),
            (1500, 100),
            (412, 100),
            (400, 100),
            (1024, 0),
            (1, 511),
        ] {
            let mut sums = Vec::new();
            kind.chunk_checksums(&vec![0u8; len], offset, &mut sums);
            assert_eq!(
                kind.checksums_len_at(len, offset),
                sums.len(),
                "{len} at {offset}"
            );
        }
        assert_eq!(ChecksumType::Null.checksums_len_at(1500, 100), 0);
    }

    #[test]
    fn null_has_no_checksums() {
        let mut sums = Vec::new();
        ChecksumType::Null.chunk_checksums(&[5u8; 4000], 0, &mut sums);
        assert!(sums.is_empty());
        assert_eq!(ChecksumType::Null.checksums_len(4000), 0);
    }

    #[test]
    fn names_ids_and_protocol_values_round_trip() {
        for kind in ChecksumType::ALL {
            assert_eq!(kind.name().to_lowercase().parse(), Ok(kind));
            assert_eq!(ChecksumType::from_meta_id(kind.meta_id()), Some(kind));
            assert_eq!(ChecksumType::from_pb(kind.to_pb() as i32), Some(kind));
        }
        // A header without the field is CRC32, as Cairn wrote before.
        assert_eq!(ChecksumType::from_pb(0), Some(ChecksumType::Crc32));
        assert!("MD5".parse::<ChecksumType>().is_err());
        assert_eq!(ChecksumType::default(), ChecksumType::Crc32c);
    }
}
