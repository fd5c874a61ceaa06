//! BlockSender: streams a range of a replica as chunk-aligned packets with
//! the checksums stored in its meta file, of the type recorded there. The
//! server does not re-verify the data (the reader does, and reports a bad
//! replica to the namenode, as in HDFS); it only makes sure data and
//! checksums belong together, by reading both under the replica's io lock.
//!
//! Readers ask over a plain TCP data-transfer connection ([`send_block`]),
//! as HDFS's do: each packet is one frame the reader reads straight from
//! the socket into one buffer and verifies while it is still in the
//! core's cache. Over gRPC (still served) the packet was cut into HTTP/2
//! frames, copied once more by the encoder here and the decoder there,
//! and verified by the reader only after that second copy.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;
use cairn_proto::data_transfer;
use cairn_proto::{BYTES_PER_CHECKSUM, ChecksumType, RpcError, pb};
use parking_lot::Mutex;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::dataset::{FsDataset, ReplicaPaths, meta};
use crate::error::{DatanodeError, Result};
use crate::net::SOCKET_TIMEOUT;
use crate::node::NodeContext;

/// The name a ReadBlock op is counted under in the RPC metrics.
const READ_BLOCK_PATH: &str = "/cairn.DataTransfer/ReadBlock";

/// Data bytes per read packet: 1 MiB, a whole number of chunks (256 KiB,
/// as the write pipeline's, measured more CPU per byte read: BENCHMARKS.md,
/// "Data path, session 8").
pub const PACKET_SIZE: u64 = 1024 * 1024;

const BPC: u64 = BYTES_PER_CHECKSUM as u64;

/// An open replica and the range still to send. Its methods block.
pub struct BlockSender {
    dataset: Arc<FsDataset>,
    block_id: u64,
    io: Arc<Mutex<()>>,
    paths: ReplicaPaths,
    data: File,
    meta: File,
    /// The replica's checksum type, from its meta file.
    kind: ChecksumType,
    /// Next byte to send, chunk-aligned.
    pos: u64,
    /// End of the range asked for.
    end: u64,
    send_checksums: bool,
}

impl std::fmt::Debug for BlockSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockSender")
            .field("block_id", &self.block_id)
            .field("pos", &self.pos)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl BlockSender {
    /// Checks the request against the replica and opens its files: the
    /// replica must exist, be at least as new as the request's generation
    /// stamp, and hold the range within its visible length.
    pub fn open(
        dataset: Arc<FsDataset>,
        block: &pb::Block,
        offset: u64,
        length: u64,
        send_checksums: bool,
    ) -> Result<Self> {
        // A rename (finalize, append, recovery) can race with our open: look
        // the replica up again and retry.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let info = visible_replica(&dataset, block)?;
            let end = offset
                .checked_add(length)
                .filter(|e| *e <= info.visible_length);
            let Some(end) = end else {
                return Err(DatanodeError::InvalidArgument(format!(
                    "cannot read {length} bytes at offset {offset} of blk_{}: its visible length is {}",
                    block.id, info.visible_length
                )));
            };
            let paths = dataset.paths(&info);
            let opened = File::open(&paths.block)
                .and_then(|data| File::open(&paths.meta).map(|meta| (data, meta)));
            match opened {
                Ok((data, meta_file)) => {
                    let kind = meta::check_header(&meta_file, &paths.meta)?;
                    return Ok(Self {
                        dataset,
                        block_id: block.id,
                        io: info.io,
                        paths,
                        data,
                        meta: meta_file,
                        kind,
                        pos: if length == 0 {
                            end
                        } else {
                            offset - offset % BPC
                        },
                        end,
                        send_checksums,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 3 => continue,
                Err(e) => return Err(DatanodeError::io(&paths.block, e)),
            }
        }
    }

    /// The replica's checksum type.
    pub fn checksum_type(&self) -> ChecksumType {
        self.kind
    }

    /// [`Self::next_packet`] on a blocking thread; the sender comes back
    /// with the packet.
    pub async fn next_packet_blocking(
        mut self,
    ) -> std::result::Result<(Self, Result<Option<pb::ReadPacket>>), tokio::task::JoinError> {
        tokio::task::spawn_blocking(move || {
            let packet = self.next_packet();
            (self, packet)
        })
        .await
    }

    /// The next packet, or `None` once the range is sent. A packet ends on a
    /// chunk boundary, or at the end of the replica's data, so its stored
    /// checksums cover exactly its bytes.
    pub fn next_packet(&mut self) -> Result<Option<pb::ReadPacket>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let want_end = (self.pos + PACKET_SIZE).min(self.end.div_ceil(BPC) * BPC);
        // Under the io lock a writer is not between its data and meta writes.
        let _io = self.io.lock();
        let on_disk = self.dataset.bytes_on_disk(self.block_id).unwrap_or(0);
        let packet_end = want_end.min(on_disk);
        if packet_end <= self.pos || packet_end < self.end.min(want_end) {
            return Err(DatanodeError::ReplicaNotFound {
                block_id: self.block_id,
                detail: format!(" (it shrank to {on_disk} bytes while being read)"),
            });
        }
        let mut data = vec![0u8; (packet_end - self.pos) as usize];
        self.data
            .read_exact_at(&mut data, self.pos)
            .map_err(|e| DatanodeError::io(&self.paths.block, e))?;
        let checksums = if self.send_checksums {
            meta::read_checksums(
                self.kind,
                &self.meta,
                &self.paths.meta,
                self.pos,
                packet_end,
            )?
        } else {
            Vec::new()
        };
        let packet = pb::ReadPacket {
            offset_in_block: self.pos,
            data: Bytes::from(data),
            checksums: Bytes::from(checksums),
            checksum_type: self.kind.to_pb() as i32,
        };
        self.pos = packet_end;
        Ok(Some(packet))
    }
}

/// Serves a ReadBlock op of a data-transfer connection: the answer (the
/// replica's checksum type, or why it cannot be read), then the range as
/// packets, the next one read from the disk while the socket takes the
/// last. After the last packet, or when a read fails (the replica is
/// then suspect), the datanode shuts down, or the reader goes away, the
/// sending side is closed: a reader that got less than it asked for
/// tries another replica.
pub async fn send_block(
    ctx: Arc<NodeContext>,
    request: pb::ReadBlockRequest,
    mut out: OwnedWriteHalf,
    peer: String,
) {
    let _xceiver = ctx.xceiver();
    let dataset = Arc::clone(&ctx.dataset);
    let started = std::time::Instant::now();
    let opened = match request.block {
        Some(block) => tokio::task::spawn_blocking(move || {
            BlockSender::open(
                dataset,
                &block,
                request.offset,
                request.length,
                request.send_checksums,
            )
        })
        .await
        .unwrap_or_else(|e| Err(e.into())),
        None => Err(DatanodeError::InvalidArgument(
            "the request names no block".into(),
        )),
    };
    // Counted with the gRPC calls, as when reads were one: the code is
    // gRPC's for the outcome of the open.
    let code = match &opened {
        Ok(_) => tonic::Code::Ok,
        Err(e) => tonic::Status::from(RpcError::new(e.kind(), String::new())).code(),
    };
    ctx.metrics.rpc.record(
        READ_BLOCK_PATH,
        &(code as i32).to_string(),
        started.elapsed().as_secs_f64(),
    );
    let (answer, sender) = match opened {
        Ok(sender) => (
            pb::ReadBlockResponse {
                checksum_type: sender.checksum_type().to_pb() as i32,
                ..Default::default()
            },
            Some(sender),
        ),
        Err(e) => {
            debug!(%peer, "refusing a ReadBlock: {e}");
            (pb::ReadBlockResponse::refused(&RpcError::from(e)), None)
        }
    };
    if let Err(e) = data_transfer::write_frame(&mut out, &answer, SOCKET_TIMEOUT).await {
        debug!(%peer, "cannot answer a ReadBlock: {e}");
        return;
    }
    let Some(mut sender) = sender else {
        return;
    };
    let block_id = sender.block_id;
    // One packet waits while the next is read.
    let (packets, outgoing) = mpsc::channel(1);
    let writer = data_transfer::spawn_sender(out, outgoing, peer, SOCKET_TIMEOUT);
    let mut seqno = 0;
    loop {
        let next = tokio::select! {
            r = sender.next_packet_blocking() => r,
            () = ctx.shutting_down() => break,
        };
        let packet = match next {
            Ok((s, Ok(Some(packet)))) => {
                sender = s;
                packet
            }
            Ok((_, Ok(None))) => break,
            Ok((_, Err(e))) => {
                warn!("read failed: {e}");
                ctx.mark_suspect(block_id);
                break;
            }
            Err(e) => {
                warn!("read failed: {e}");
                break;
            }
        };
        ctx.metrics.bytes_read.inc_by(packet.data.len() as u64);
        let frame = packet.into_packet(seqno);
        seqno += 1;
        let sent = tokio::select! {
            sent = packets.send(frame) => sent.is_ok(),
            () = ctx.shutting_down() => false,
        };
        if !sent {
            break;
        }
    }
    drop(packets);
    let _ = writer.await;
}

/// The replica a read or visible-length request is about, checked against
/// the request's generation stamp.
pub fn visible_replica(
    dataset: &FsDataset,
    block: &pb::Block,
) -> Result<crate::dataset::ReplicaInfo> {
    let info = dataset
        .get(block.id)
        .ok_or_else(|| DatanodeError::ReplicaNotFound {
            block_id: block.id,
            detail: String::new(),
        })?;
    if block.generation_stamp > info.generation_stamp {
        return Err(DatanodeError::StaleGenerationStamp {
            block_id: block.id,
            detail: format!(
                "asked for generation stamp {} but the replica has {}",
                block.generation_stamp, info.generation_stamp
            ),
        });
    }
    Ok(info)
}
