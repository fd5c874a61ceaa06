//! BlockReceiver: one WriteBlock connection (`cairn_proto::data_transfer`),
//! from its header to the last ack.
//!
//! Two halves run at once, as in HDFS: the receiver reads packets from
//! upstream, forwards them downstream and writes them; the responder (HDFS's PacketResponder) waits for the downstream
//! ack of each packet, in order, and only then acks upstream with our own
//! status in front of the downstream replies. The receiver's disk work
//! (the last datanode's CRC pass, the replica writes) runs on one blocking
//! thread per replica, up to [`DISK_QUEUE`] packets behind the socket.
//!
//! As in HDFS, only the last datanode of a pipeline verifies the checksums
//! (a corrupt packet is refused there, and the replicas upstream never
//! finalize it); the others store the checksums as they came. A datanode
//! also verifies when it must compute checksums of its own (the replica has
//! another checksum type than the packets) and when the sender is a
//! datanode (re-replication: the copy must not spread a corrupt replica).

use std::sync::Arc;

use cairn_proto::data_transfer::FrameReader;
use cairn_proto::pb;
use cairn_proto::{BYTES_PER_CHECKSUM, ChecksumType};
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::dataset::{AckedLength, ReplicaWriter};
use crate::downstream::{Downstream, all_success};
use crate::error::{DatanodeError, Result};
use crate::node::NodeContext;

/// Acks waiting to be sent upstream; the client keeps its own window.
pub const ACK_QUEUE: usize = 64;

/// The largest packet we accept (data bytes).
pub use cairn_proto::data_transfer::MAX_PACKET_DATA;

/// How long the downstream datanode may take to ack a packet we forwarded.
pub const ACK_TIMEOUT: std::time::Duration = crate::net::SOCKET_TIMEOUT;

/// The seqno of an ack that answers no packet (a malformed message).
pub const NO_SEQNO: i64 = -2;

/// The acks on their way upstream (a task writes them to the socket).
pub type AckSender = mpsc::Sender<pb::PipelineAck>;

/// The packets from upstream.
pub type Upstream = FrameReader<OwnedReadHalf>;

/// A packet the responder must acknowledge, in the order received.
#[derive(Debug)]
enum Pending {
    /// Written (and synced if asked); `end` is the block offset after it.
    Written { seqno: i64, end: u64, last: bool },
    /// We failed this packet: ack it with `status` and stop.
    Failed {
        seqno: i64,
        status: pb::AckStatus,
        message: String,
    },
}

/// A replica opened for a WriteBlock stream, ready to run.
pub struct BlockReceiver {
    ctx: Arc<NodeContext>,
    header: pb::WriteBlockHeader,
    writer: ReplicaWriter,
}

impl BlockReceiver {
    /// Validates the header and creates or reopens the replica as its stage
    /// asks. Errors here fail the call itself.
    pub async fn open(ctx: Arc<NodeContext>, header: pb::WriteBlockHeader) -> Result<Self> {
        let block = header.block.ok_or_else(|| {
            DatanodeError::InvalidArgument("WriteBlock header without a block".into())
        })?;
        if header.bytes_per_checksum != 0
            && header.bytes_per_checksum as usize != BYTES_PER_CHECKSUM
        {
            return Err(DatanodeError::InvalidArgument(format!(
                "bytes_per_checksum {} is not supported (only {BYTES_PER_CHECKSUM})",
                header.bytes_per_checksum
            )));
        }
        let stage = pb::WriteStage::try_from(header.stage).map_err(|_| {
            DatanodeError::InvalidArgument(format!("unknown write stage {}", header.stage))
        })?;
        let kind = wire_checksum_type(&header)?;
        let new_gs = header.new_generation_stamp;
        let dataset = Arc::clone(&ctx.dataset);
        let writer = tokio::task::spawn_blocking(move || match stage {
            pb::WriteStage::PipelineSetupCreate => {
                dataset.create_rbw(block.id, block.generation_stamp, kind)
            }
            pb::WriteStage::TransferFinalized => {
                dataset.create_temporary(block.id, block.generation_stamp, kind)
            }
            pb::WriteStage::PipelineSetupAppend => dataset.append(&block, new_gs),
            pb::WriteStage::PipelineSetupRecovery => dataset.recover_rbw(&block, new_gs, kind),
        })
        .await??;
        info!(
            block_id = block.id,
            stage = stage.as_str_name(),
            checksum = %kind,
            replica_checksum = %writer.checksum_type(),
            client = %header.client_name,
            downstream = header.targets.len(),
            "receiving block"
        );
        Ok(Self {
            ctx,
            header,
            writer,
        })
    }

    /// Sets up the downstream part of the pipeline, then receives packets
    /// until the last one is acknowledged, the upstream or downstream goes
    /// away, or the datanode shuts down. The replica stays rbw unless the
    /// last packet arrived.
    pub async fn run(self, upstream: Upstream, acks: AckSender) {
        let _xceiver = self.ctx.xceiver();
        let ctx = Arc::clone(&self.ctx);
        tokio::select! {
            () = self.receive(upstream, acks.clone()) => {}
            () = ctx.shutting_down() => {
                // An error ack naming us, so the writer leaves us out.
                let _ = acks.send(error_ack(NO_SEQNO, &ctx.xfer_addr, format!("datanode {} is shutting down", ctx.xfer_addr))).await;
            }
        }
    }

    async fn receive(self, upstream: Upstream, acks: AckSender) {
        let block_id = self.writer.block_id();
        let mut rest = self.header.clone();
        let downstream = match rest.targets.first().cloned() {
            None => None,
            Some(target) => {
                rest.targets.remove(0);
                match Downstream::connect(&target, rest).await {
                    Ok(d) => Some(d),
                    Err(failure) => {
                        failure.log(block_id);
                        let mut replies = vec![pb::AckStatus::Success as i32];
                        replies.extend(failure.replies);
                        let _ = acks
                            .send(pb::PipelineAck {
                                seqno: -1,
                                replies,
                                first_bad_link: failure.first_bad_link,
                                message: failure.message,
                            })
                            .await;
                        return;
                    }
                }
            }
        };
        let mut replies = vec![pb::AckStatus::Success as i32];
        let (packets_tx, acks_rx) = match downstream {
            Some(d) => {
                replies.extend(d.setup_replies);
                (Some(d.packets), Some((d.acks, d.addr)))
            }
            None => (None, None),
        };
        let setup = pb::PipelineAck {
            seqno: -1,
            replies,
            ..Default::default()
        };
        if acks.send(setup).await.is_err() {
            return;
        }

        let (queue_tx, queue_rx) = mpsc::channel(ACK_QUEUE);
        let responder = respond(
            queue_rx,
            acks_rx,
            acks.clone(),
            self.writer.acked_length(),
            self.ctx.xfer_addr.clone(),
        );
        let wire = wire_checksum_type(&self.header).unwrap_or_default();
        let verify = packets_tx.is_none()
            || wire != self.writer.checksum_type()
            || self.header.stage == pb::WriteStage::TransferFinalized as i32;
        let receiver = receive_packets(
            Arc::clone(&self.ctx),
            self.writer,
            (wire, verify),
            upstream,
            packets_tx,
            queue_tx,
        );
        tokio::pin!(responder, receiver);
        tokio::select! {
            // The responder stops first on a downstream failure: stop
            // receiving too (which drops the downstream stream).
            () = &mut responder => {}
            () = &mut receiver => {
                // Let the responder send the acks still due (the last
                // packet's, or a failed packet's), unless upstream cancels.
                tokio::select! {
                    () = &mut responder => {}
                    () = acks.closed() => {}
                }
            }
        }
        debug!(block_id, "write stream ended");
    }
}

/// Packets received and forwarded but not yet in the replica: the disk
/// half writes them while the network half reads the next ones (HDFS's
/// BlockReceiver also lets the socket run ahead of the disk, in its
/// buffers). Bounds the memory a slow disk holds: 8 × 256 KiB packets.
pub const DISK_QUEUE: usize = 8;

/// What the network half hands the disk half, in packet order.
#[derive(Debug)]
enum ToDisk {
    /// Verified (or checked for its checksum count) and forwarded: store it.
    Write(pb::Packet),
    /// The network half failed this packet: pass it on to the responder
    /// after the packets before it, so their acks still go out first.
    Fail(Pending),
}

/// The receiving half: verify (when `verify`: see the module's doc),
/// forward, and hand the packet to the replica's disk half, which writes
/// it and queues its ack. The packets' checksums are of type `wire`.
/// A datanode that forwards verifies here, before forwarding; the last
/// one leaves the CRC pass to its disk half, just before the write, so
/// the socket is read meanwhile. Returns after the last packet, or when
/// upstream goes away or a packet fails; the disk half ends once it has
/// written what it was given.
async fn receive_packets(
    ctx: Arc<NodeContext>,
    writer: ReplicaWriter,
    (wire, verify): (ChecksumType, bool),
    mut upstream: Upstream,
    mut downstream: Option<mpsc::Sender<pb::Packet>>,
    queue: mpsc::Sender<Pending>,
) {
    let block_id = writer.block_id();
    let (disk, disk_rx) = mpsc::channel(DISK_QUEUE);
    let disk_ctx = Arc::clone(&ctx);
    let verify_on_disk = verify && downstream.is_none();
    let verify_here = verify && !verify_on_disk;
    // One blocking thread per replica for the whole block, fed in order:
    // the packets' tmpfs/page-cache copies stay on one core's thread and
    // off the runtime's workers, and no task is spawned per packet.
    let disk_half = tokio::task::spawn_blocking(move || {
        write_packets(disk_ctx, writer, (wire, verify_on_disk), disk_rx, queue)
    });
    loop {
        let packet = match upstream.read_packet().await {
            Ok(Some(p)) => p,
            Err(e) if e.kind == cairn_proto::ErrorKind::InvalidArgument => {
                warn!(block_id, "a malformed packet: {e}");
                let _ = disk
                    .send(ToDisk::Fail(Pending::Failed {
                        seqno: NO_SEQNO,
                        status: pb::AckStatus::Error,
                        message: e.to_string(),
                    }))
                    .await;
                break;
            }
            Ok(None) => {
                info!(
                    block_id,
                    "upstream closed the stream before the last packet; the replica stays rbw"
                );
                break;
            }
            Err(e) => {
                info!(block_id, "upstream went away ({e}); the replica stays rbw");
                break;
            }
        };
        let seqno = packet.seqno;
        let fail = |status: pb::AckStatus, message: String| {
            ToDisk::Fail(Pending::Failed {
                seqno,
                status,
                message,
            })
        };
        if packet.data.len() > MAX_PACKET_DATA {
            let _ = disk
                .send(fail(
                    pb::AckStatus::Error,
                    format!(
                        "packet of {} bytes is over the {MAX_PACKET_DATA} limit",
                        packet.data.len()
                    ),
                ))
                .await;
            break;
        }
        let checked = if verify_here {
            wire.verify(&packet.data, packet.offset_in_block, &packet.checksums)
        } else if packet.checksums.len()
            == wire.checksums_len_at(packet.data.len(), packet.offset_in_block)
        {
            // Stored as they came (or verified on disk), so at least their
            // count must fit the data.
            Ok(())
        } else {
            Err(packet.offset_in_block)
        };
        if let Err(bad) = checked {
            let refused = checksum_mismatch(&ctx, block_id, seqno, bad);
            let _ = disk.send(ToDisk::Fail(refused)).await;
            break;
        }
        // Forward first, so the next datanode works while we write.
        if let Some(tx) = &downstream {
            // The sender task writes it from the buffer it was read into.
            if tx.send(packet.clone()).await.is_err() {
                // The responder reports the downstream failure from its acks.
                ctx.metrics.pipeline_errors.inc();
                downstream = None;
            }
        }
        let last = packet.last_packet_in_block;
        // The disk half stops taking packets only when it failed one (and
        // queued that failure) or the responder is gone.
        if disk.send(ToDisk::Write(packet)).await.is_err() || last {
            break;
        }
    }
    drop(disk);
    if let Err(e) = disk_half.await {
        warn!(block_id, "the replica's writer ended abnormally: {e}");
    }
}

/// The disk half: verifies each packet when `verify` (the last datanode),
/// writes it to the replica (synced when asked, finalized after the last),
/// then queues its ack for the responder, in the order received. Runs on
/// a blocking thread until the network half stops sending, a packet or a
/// write fails, or the responder is gone.
fn write_packets(
    ctx: Arc<NodeContext>,
    writer: ReplicaWriter,
    (wire, verify): (ChecksumType, bool),
    mut packets: mpsc::Receiver<ToDisk>,
    queue: mpsc::Sender<Pending>,
) {
    let block_id = writer.block_id();
    let mut writer = Some(writer);
    while let Some(work) = packets.blocking_recv() {
        let packet = match work {
            ToDisk::Write(packet) => packet,
            ToDisk::Fail(failed) => {
                let _ = queue.blocking_send(failed);
                return;
            }
        };
        let Some(mut w) = writer.take() else {
            return;
        };
        let seqno = packet.seqno;
        if verify
            && let Err(bad) = wire.verify(&packet.data, packet.offset_in_block, &packet.checksums)
        {
            let _ = queue.blocking_send(checksum_mismatch(&ctx, block_id, seqno, bad));
            return;
        }
        let end = packet.offset_in_block + packet.data.len() as u64;
        let last = packet.last_packet_in_block;
        let mut result = w.write_packet(
            packet.offset_in_block,
            &packet.data,
            wire,
            &packet.checksums,
        );
        if result.is_ok() && packet.sync {
            result = w.sync();
        }
        let written = match result {
            Ok(()) if last => ctx.dataset.finalize(w).map(Some),
            Ok(()) => {
                writer = Some(w);
                Ok(None)
            }
            Err(e) => Err(e),
        };
        match written {
            Ok(finalized) => {
                ctx.metrics.bytes_written.inc_by(packet.data.len() as u64);
                if let Some((block, storage_id)) = finalized {
                    ctx.reports.received(block, storage_id);
                }
            }
            Err(e) => {
                warn!(block_id, seqno, "cannot write packet: {e}");
                ctx.metrics.pipeline_errors.inc();
                let _ = queue.blocking_send(Pending::Failed {
                    seqno,
                    status: pb::AckStatus::Error,
                    message: e.to_string(),
                });
                return;
            }
        }
        if queue
            .blocking_send(Pending::Written { seqno, end, last })
            .is_err()
            || last
        {
            return;
        }
    }
}

/// Logs and counts a packet whose checksums do not match its data at block
/// offset `bad`, and the failure its ack carries.
fn checksum_mismatch(ctx: &NodeContext, block_id: u64, seqno: i64, bad: u64) -> Pending {
    warn!(block_id, seqno, offset = bad, at = %ctx.xfer_addr, "checksum mismatch in a received packet; refusing it");
    ctx.metrics.checksum_errors.inc();
    Pending::Failed {
        seqno,
        status: pb::AckStatus::ErrorChecksum,
        message: DatanodeError::ChecksumMismatch {
            block_id,
            offset: bad,
        }
        .to_string(),
    }
}

/// The responding half (HDFS's PacketResponder).
async fn respond(
    mut queue: mpsc::Receiver<Pending>,
    mut downstream: Option<(Upstream, String)>,
    upstream: AckSender,
    acked: AckedLength,
    own_addr: String,
) {
    while let Some(pending) = queue.recv().await {
        let (seqno, end, last) = match pending {
            Pending::Written { seqno, end, last } => (seqno, end, last),
            Pending::Failed {
                seqno,
                status,
                message,
            } => {
                let ack = pb::PipelineAck {
                    seqno,
                    replies: vec![status as i32],
                    first_bad_link: own_addr.clone(),
                    message,
                };
                let _ = upstream.send(ack).await;
                return;
            }
        };
        let mut replies = vec![pb::AckStatus::Success as i32];
        if let Some((acks, addr)) = &mut downstream {
            let next = tokio::time::timeout(ACK_TIMEOUT, acks.read_ack()).await;
            let failure = match next.unwrap_or_else(|_| {
                Err(cairn_proto::RpcError::new(
                    cairn_proto::ErrorKind::TimedOut,
                    format!("no ack for seqno {seqno} within {ACK_TIMEOUT:?}"),
                ))
            }) {
                Ok(Some(ack)) if ack.seqno == seqno && all_success(&ack.replies) => {
                    replies.extend(ack.replies);
                    None
                }
                Ok(Some(ack)) if ack.seqno == seqno => {
                    replies.extend(ack.replies);
                    Some((ack.first_bad_link, ack.message))
                }
                Ok(Some(ack)) => {
                    replies.push(pb::AckStatus::Error as i32);
                    Some((
                        addr.clone(),
                        format!(
                            "datanode {addr} acked seqno {} where {seqno} was due",
                            ack.seqno
                        ),
                    ))
                }
                Ok(None) => {
                    replies.push(pb::AckStatus::Error as i32);
                    Some((addr.clone(), format!("datanode {addr} closed the pipeline")))
                }
                Err(e) => {
                    replies.push(pb::AckStatus::Error as i32);
                    Some((addr.clone(), format!("datanode {addr} failed: {e}")))
                }
            };
            if let Some((first_bad_link, message)) = failure {
                warn!(seqno, bad = %first_bad_link, "downstream failure: {message}");
                let ack = pb::PipelineAck {
                    seqno,
                    replies,
                    first_bad_link,
                    message,
                };
                let _ = upstream.send(ack).await;
                return;
            }
        }
        acked.set(end);
        let ack = pb::PipelineAck {
            seqno,
            replies,
            ..Default::default()
        };
        if upstream.send(ack).await.is_err() || last {
            return;
        }
    }
}

/// An ack that fails the pipeline at `addr` (and no further).
pub fn error_ack(seqno: i64, addr: &str, message: String) -> pb::PipelineAck {
    pb::PipelineAck {
        seqno,
        replies: vec![pb::AckStatus::Error as i32],
        first_bad_link: addr.to_string(),
        message,
    }
}

/// The checksum type of a WriteBlock stream's packets, from its header.
fn wire_checksum_type(header: &pb::WriteBlockHeader) -> Result<ChecksumType> {
    ChecksumType::from_pb(header.checksum_type).ok_or_else(|| {
        DatanodeError::InvalidArgument(format!(
            "unknown checksum type {} in a WriteBlock header",
            header.checksum_type
        ))
    })
}
