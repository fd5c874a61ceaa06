//! HDFS's BlockReader with DFSInputStream's failover: reads a range of one
//! block from its replicas in order, verifying every packet's checksums.
//! The range comes over a plain TCP data-transfer connection (a ReadBlock
//! op, `cairn_proto::data_transfer`), as HDFS's BlockReaderRemote reads
//! it: each packet is read from the socket into one buffer and verified
//! at once, while it is still in this core's cache.
//! A replica that cannot be reached is remembered as dead for the whole
//! reader; a replica whose data does not match its checksums is reported to
//! the namenode. When every replica failed, the block's locations are
//! fetched again once before the read gives up.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use cairn_proto::data_transfer::{self, FrameReader};
use cairn_proto::pb::{DatanodeInfo, LocatedBlock, Packet, ReadBlockRequest};
use cairn_proto::{ChecksumType, ErrorKind, RpcError};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::Result;
use crate::connection::{CONNECT_TIMEOUT, datanode_address};
use crate::error::DfsError;
use crate::input_stream::ReaderCore;

/// The replica to read next: the first location (the namenode lists the
/// nearest first and known-corrupt replicas last) that is neither dead for
/// this reader nor already tried for this range. Replicas the namenode
/// knows to be corrupt are tried only after every other one.
pub(crate) fn choose_replica(
    block: &LocatedBlock,
    dead: &HashSet<String>,
    tried: &HashSet<String>,
) -> Option<DatanodeInfo> {
    let usable = |node: &&DatanodeInfo| {
        let address = datanode_address(node);
        !dead.contains(&address) && !tried.contains(&address)
    };
    let known_corrupt =
        |node: &DatanodeInfo| block.corrupt_datanode_uuids.contains(&node.datanode_uuid);
    block
        .locations
        .iter()
        .filter(usable)
        .find(|n| !known_corrupt(n))
        .or_else(|| {
            block
                .locations
                .iter()
                .filter(usable)
                .find(|n| known_corrupt(n))
        })
        .cloned()
}

/// What made a replica fail, and whether the node itself is gone.
enum ReplicaFailure {
    /// Unreachable or hung: skip the node for the rest of this reader.
    Dead(DfsError),
    /// The node answered but this replica cannot serve the range.
    Failed(DfsError),
    /// The data does not match its checksums: report it.
    Corrupt(DfsError),
}

/// The packets of one replica's range, and the checksum type they carry.
struct ReplicaStream {
    packets: FrameReader<TcpStream>,
    kind: ChecksumType,
}

/// A read of `[next, end)` of one block, possibly over several replicas.
pub(crate) struct BlockRead {
    block: LocatedBlock,
    /// Offset in the block of the next byte to return.
    next: u64,
    /// Offset in the block where the read stops.
    end: u64,
    current: Option<(ReplicaStream, DatanodeInfo)>,
    /// Replicas that failed for this range.
    tried: HashSet<String>,
    refetched: bool,
    last_error: Option<DfsError>,
}

impl BlockRead {
    pub(crate) fn new(block: LocatedBlock, start: u64, end: u64) -> Self {
        Self {
            block,
            next: start,
            end,
            current: None,
            tried: HashSet::new(),
            refetched: false,
            last_error: None,
        }
    }

    /// The next verified bytes of the range (a slice of one packet, no
    /// copy), or `None` once the range is done.
    pub(crate) async fn next_chunk(&mut self, core: &ReaderCore) -> Result<Option<Bytes>> {
        loop {
            if self.next >= self.end {
                return Ok(None);
            }
            if self.current.is_none() {
                self.open_next_replica(core).await?;
                continue;
            }
            let Some((stream, node)) = self.current.as_mut() else {
                continue;
            };
            let address = datanode_address(node);
            let kind = stream.kind;
            let received = tokio::time::timeout(core.timeout(), stream.packets.read_packet()).await;
            let outcome = match received {
                Ok(Ok(Some(packet))) => self.accept(packet, kind, &address),
                Ok(Ok(None)) => Err(ReplicaFailure::Failed(DfsError::Protocol {
                    peer: address,
                    message: format!(
                        "blk_{} ended at offset {} before {}",
                        self.block_id(),
                        self.next,
                        self.end
                    ),
                })),
                Ok(Err(err)) => Err(classify(err.into())),
                Err(_) => Err(ReplicaFailure::Dead(DfsError::TimedOut {
                    peer: address,
                    what: format!("a packet of blk_{}", self.block_id()),
                    timeout_ms: u64::try_from(core.timeout().as_millis()).unwrap_or(u64::MAX),
                })),
            };
            match outcome {
                Ok(Some(chunk)) => return Ok(Some(chunk)),
                Ok(None) => {}
                Err(failure) => {
                    if let Some((_, node)) = self.current.take() {
                        self.replica_failed(core, node, failure).await;
                    }
                }
            }
        }
    }

    /// Checks a packet and returns the part of it inside the range.
    fn accept(
        &mut self,
        packet: Packet,
        kind: ChecksumType,
        address: &str,
    ) -> std::result::Result<Option<Bytes>, ReplicaFailure> {
        let peer = || address.to_string();
        let start = packet.offset_in_block;
        let len = packet.data.len() as u64;
        if kind != ChecksumType::Null && packet.checksums.is_empty() && len > 0 {
            return Err(ReplicaFailure::Failed(DfsError::Protocol {
                peer: peer(),
                message: format!(
                    "packet of blk_{} at offset {start} has no checksums",
                    self.block_id()
                ),
            }));
        }
        if let Err(offset) = kind.verify(&packet.data, start, &packet.checksums) {
            return Err(ReplicaFailure::Corrupt(DfsError::ChecksumMismatch {
                block_id: self.block_id(),
                offset,
                datanode: peer(),
            }));
        }
        if start > self.next {
            return Err(ReplicaFailure::Failed(DfsError::Protocol {
                peer: peer(),
                message: format!(
                    "packet of blk_{} starts at {start}, expected data from {}",
                    self.block_id(),
                    self.next
                ),
            }));
        }
        // The datanode starts on a chunk boundary at or before the offset
        // asked for; the bytes before it are dropped here.
        let skip = self.next - start;
        if skip >= len {
            return Ok(None);
        }
        let take = (len - skip).min(self.end - self.next);
        // Both bounds are below `len`, the length of an in-memory buffer.
        let (from, to) = (skip as usize, (skip + take) as usize);
        self.next += take;
        Ok(Some(packet.data.slice(from..to)))
    }

    /// Opens a ReadBlock stream on the next usable replica; when none is
    /// left, fetches the locations again once, then gives up.
    async fn open_next_replica(&mut self, core: &ReaderCore) -> Result<()> {
        let dead = core.dead_nodes();
        let Some(node) = choose_replica(&self.block, &dead, &self.tried) else {
            if !self.refetched {
                self.refetched = true;
                tracing::debug!(path = %core.path(), block = self.block_id(), "no replica left; fetching locations again");
                self.block = core.refetch(&self.block).await?;
                self.tried.clear();
                return Ok(());
            }
            return Err(DfsError::AllReplicasFailed {
                block_id: self.block_id(),
                path: core.path().to_string(),
                last_error: self
                    .last_error
                    .as_ref()
                    .map_or_else(|| "no replica locations".to_string(), ToString::to_string),
            });
        };
        let address = datanode_address(&node);
        let request = ReadBlockRequest {
            block: self.block.block,
            offset: self.next,
            length: self.end - self.next,
            client_name: core.client_name().to_string(),
            send_checksums: true,
        };
        let opened = open_replica(&address, &request, core.timeout()).await;
        match opened {
            Ok(stream) => self.current = Some((stream, node)),
            Err(failure) => self.replica_failed(core, node, failure).await,
        }
        Ok(())
    }

    async fn replica_failed(
        &mut self,
        core: &ReaderCore,
        node: DatanodeInfo,
        failure: ReplicaFailure,
    ) {
        let address = datanode_address(&node);
        let err = match failure {
            ReplicaFailure::Dead(err) => {
                core.mark_dead(&address);
                err
            }
            ReplicaFailure::Failed(err) => err,
            ReplicaFailure::Corrupt(err) => {
                core.client().report_bad_block(&self.block, &node).await;
                err
            }
        };
        tracing::warn!(
            path = %core.path(),
            block = self.block_id(),
            datanode = %address,
            error = %err,
            "replica failed; trying the next one"
        );
        self.tried.insert(address);
        self.last_error = Some(err);
    }

    fn block_id(&self) -> u64 {
        self.block.block.map_or(0, |b| b.id)
    }
}

/// Sends a ReadBlock op to the datanode at `address` and reads its answer.
async fn open_replica(
    address: &str,
    request: &ReadBlockRequest,
    timeout: Duration,
) -> std::result::Result<ReplicaStream, ReplicaFailure> {
    let timed_out = |what: &str| {
        ReplicaFailure::Dead(DfsError::TimedOut {
            peer: address.to_string(),
            what: what.to_string(),
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        })
    };
    let dead = |message: String| {
        ReplicaFailure::Dead(RpcError::new(ErrorKind::Unavailable, message).into())
    };
    let block_id = request.block.map_or(0, |b| b.id);
    let mut stream = data_transfer::connect(address, CONNECT_TIMEOUT.min(timeout))
        .await
        .map_err(|e| classify(e.into()))?;
    let op = data_transfer::encode_read_block(request);
    match tokio::time::timeout(timeout, stream.write_all(&op)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(dead(format!(
                "cannot ask datanode {address} for blk_{block_id}: {e}"
            )));
        }
        Err(_) => return Err(timed_out(&format!("ReadBlock of blk_{block_id}"))),
    }
    let mut packets = FrameReader::new(stream, address, timeout);
    let answer = match tokio::time::timeout(timeout, packets.read_block_response()).await {
        Ok(Ok(Some(answer))) => answer,
        Ok(Ok(None)) => {
            return Err(dead(format!(
                "datanode {address} closed the connection before answering ReadBlock of blk_{block_id}"
            )));
        }
        Ok(Err(err)) => return Err(classify(err.into())),
        Err(_) => return Err(timed_out(&format!("ReadBlock of blk_{block_id}"))),
    };
    let kind = answer.into_result().map_err(|err| classify(err.into()))?;
    Ok(ReplicaStream { packets, kind })
}

/// A failed call: a node that cannot be reached is dead for this reader;
/// a replica with bad data is corrupt; anything else fails this replica only.
fn classify(err: DfsError) -> ReplicaFailure {
    match err.kind() {
        ErrorKind::Unavailable | ErrorKind::TimedOut => ReplicaFailure::Dead(err),
        ErrorKind::ChecksumMismatch => ReplicaFailure::Corrupt(err),
        _ => ReplicaFailure::Failed(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(uuid: &str, port: u32) -> DatanodeInfo {
        DatanodeInfo {
            datanode_uuid: uuid.into(),
            host: "127.0.0.1".into(),
            xfer_port: port,
            ..Default::default()
        }
    }

    fn located(nodes: Vec<DatanodeInfo>, corrupt: &[&str]) -> LocatedBlock {
        LocatedBlock {
            locations: nodes,
            corrupt_datanode_uuids: corrupt.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn set(items: &[&str]) -> HashSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn replicas_in_namenode_order() {
        let block = located(vec![node("a", 1), node("b", 2), node("c", 3)], &[]);
        let pick = |dead: &[&str], tried: &[&str]| {
            choose_replica(&block, &set(dead), &set(tried)).map(|n| n.datanode_uuid)
        };
        assert_eq!(pick(&[], &[]).as_deref(), Some("a"));
        assert_eq!(pick(&["127.0.0.1:1"], &[]).as_deref(), Some("b"));
        assert_eq!(
            pick(&["127.0.0.1:1"], &["127.0.0.1:2"]).as_deref(),
            Some("c")
        );
        assert_eq!(
            pick(&["127.0.0.1:1", "127.0.0.1:3"], &["127.0.0.1:2"]),
            None
        );
    }

    #[test]
    fn known_corrupt_replicas_last() {
        let block = located(vec![node("a", 1), node("b", 2)], &["a"]);
        let first = choose_replica(&block, &set(&[]), &set(&[])).unwrap();
        assert_eq!(first.datanode_uuid, "b");
        let second = choose_replica(&block, &set(&[]), &set(&["127.0.0.1:2"])).unwrap();
        assert_eq!(second.datanode_uuid, "a");
    }

    #[test]
    fn no_locations_no_replica() {
        let block = located(Vec::new(), &[]);
        assert!(choose_replica(&block, &set(&[]), &set(&[])).is_none());
    }

    #[test]
    fn failures_are_classified() {
        let rpc = |kind| DfsError::Rpc(RpcError::new(kind, "x"));
        assert!(matches!(
            classify(rpc(ErrorKind::Unavailable)),
            ReplicaFailure::Dead(_)
        ));
        assert!(matches!(
            classify(rpc(ErrorKind::ChecksumMismatch)),
            ReplicaFailure::Corrupt(_)
        ));
        assert!(matches!(
            classify(rpc(ErrorKind::ReplicaNotFound)),
            ReplicaFailure::Failed(_)
        ));
    }
}
