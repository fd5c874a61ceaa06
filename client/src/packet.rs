//! How a writer cuts a byte stream into packets (HDFS's DFSPacket sizing).
//!
//! Packets carry whole 512-byte chunks, counted from the block's start, so
//! that a datanode can check each chunk against its CRC and store the CRCs
//! as they come. Only two packets may end off a chunk boundary: the last one
//! of a block, and one sent by `hflush`. The packet after such a point (or
//! the first packet of an append into a partial block) starts with a short
//! chunk that brings the stream back onto the boundaries.

use bytes::Bytes;
use cairn_proto::data_transfer::MAX_PACKET_DATA;
use cairn_proto::pb::Packet;
use cairn_proto::{BYTES_PER_CHECKSUM, ChecksumType};

/// The data bytes of a full packet: the configured size in whole chunks, at
/// least one chunk, and no more than a datanode accepts.
pub(crate) fn packet_data_size(configured: usize) -> usize {
    let chunk = BYTES_PER_CHECKSUM;
    let ceiling = MAX_PACKET_DATA / chunk * chunk;
    (configured / chunk * chunk).clamp(chunk, ceiling)
}

/// Length of the next packet of a block whose next byte is at
/// `offset_in_block`: it ends on a chunk boundary at most `packet_size`
/// bytes after the chunk the offset falls in, and never past the block's end.
pub(crate) fn next_packet_len(offset_in_block: u64, block_size: u64, packet_size: usize) -> usize {
    let chunk = BYTES_PER_CHECKSUM as u64;
    let packet_end = offset_in_block - offset_in_block % chunk + packet_size as u64;
    let end = packet_end.min(block_size);
    usize::try_from(end.saturating_sub(offset_in_block)).unwrap_or(packet_size)
}

/// A data packet with the checksums of its chunks, of type `kind`.
pub(crate) fn data_packet(
    kind: ChecksumType,
    seqno: i64,
    offset_in_block: u64,
    data: Bytes,
    sync: bool,
) -> Packet {
    let mut checksums = Vec::with_capacity(kind.checksums_len_at(data.len(), offset_in_block));
    kind.chunk_checksums(&data, offset_in_block, &mut checksums);
    Packet {
        seqno,
        offset_in_block,
        data,
        checksums: Bytes::from(checksums),
        last_packet_in_block: false,
        sync,
    }
}

/// The empty packet that ends a block: the datanodes finalize the replica.
pub(crate) fn last_packet(seqno: i64, offset_in_block: u64) -> Packet {
    Packet {
        seqno,
        offset_in_block,
        data: Bytes::new(),
        checksums: Bytes::new(),
        last_packet_in_block: true,
        sync: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cuts `total` bytes written from `start` into packets, as the writer does.
    fn cut(start: u64, total: u64, block_size: u64, packet_size: usize) -> Vec<(u64, usize)> {
        let mut packets = Vec::new();
        let mut offset = start;
        while offset < start + total {
            let len = next_packet_len(offset, block_size, packet_size)
                .min((start + total - offset) as usize);
            packets.push((offset, len));
            offset += len as u64;
        }
        packets
    }

    #[test]
    fn packet_size_is_whole_chunks() {
        assert_eq!(packet_data_size(1 << 20), 1 << 20);
        assert_eq!(packet_data_size(1000), 512);
        assert_eq!(packet_data_size(0), 512);
        assert_eq!(packet_data_size(usize::MAX), MAX_PACKET_DATA);
    }

    #[test]
    fn packets_stop_at_the_block_end() {
        // 10 000-byte blocks, 4 KiB packets: 4096, 4096, 1808.
        assert_eq!(
            cut(0, 10_000, 10_000, 4096),
            vec![(0, 4096), (4096, 4096), (8192, 1808)]
        );
        assert_eq!(next_packet_len(10_000, 10_000, 4096), 0);
    }

    #[test]
    fn append_starts_with_a_short_chunk_then_realigns() {
        // Appending at 700: the first packet ends on a boundary (512 + 4096).
        let packets = cut(700, 10_000, 1 << 20, 4096);
        assert_eq!(packets[0], (700, 4608 - 700));
        for (offset, len) in &packets[1..packets.len() - 1] {
            assert_eq!(offset % 512, 0);
            assert_eq!(*len, 4096);
        }
        let mut sums = Vec::new();
        let first = vec![1u8; packets[0].1];
        ChecksumType::Crc32c.chunk_checksums(&first, 700, &mut sums);
        // 700..1024 is one short chunk, then 7 whole chunks.
        assert_eq!(sums.len(), 8 * cairn_proto::CHECKSUM_SIZE);
    }

    #[test]
    fn data_packet_carries_block_aligned_checksums() {
        let data = Bytes::from(vec![3u8; 1300]);
        for kind in ChecksumType::ALL {
            let packet = data_packet(kind, 5, 100, data.clone(), true);
            assert_eq!(packet.seqno, 5);
            assert!(packet.sync && !packet.last_packet_in_block);
            assert!(kind.verify(&data, 100, &packet.checksums).is_ok());
            assert_eq!(packet.checksums.len(), kind.checksums_len_at(1300, 100));
        }
        let last = last_packet(6, 1400);
        assert!(last.last_packet_in_block && last.data.is_empty());
    }
}
