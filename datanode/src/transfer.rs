//! Re-replication (HDFS's DataNode.DataTransfer): streams a finalized
//! replica to another datanode with stage TRANSFER_FINALIZED, the rest of
//! the targets as its downstream pipeline. The receivers report RECEIVED
//! to the namenode themselves.

use std::sync::Arc;

use cairn_proto::pb;
use tracing::info;

use crate::dataset::ReplicaState;
use crate::downstream::{Downstream, all_success};
use crate::error::{DatanodeError, Result};
use crate::node::NodeContext;
use crate::sender::BlockSender;

/// Copies our finalized replica of `block` to `targets` (first one first).
pub async fn transfer_replica(
    ctx: Arc<NodeContext>,
    block: pb::Block,
    targets: Vec<pb::DatanodeInfo>,
) -> Result<()> {
    let _xceiver = ctx.xceiver();
    let Some((first, rest)) = targets.split_first() else {
        return Err(DatanodeError::InvalidArgument(format!(
            "transfer of blk_{} names no target",
            block.id
        )));
    };
    let info = ctx
        .dataset
        .get(block.id)
        .filter(|r| r.state == ReplicaState::Finalized)
        .ok_or_else(|| DatanodeError::ReplicaNotFound {
            block_id: block.id,
            detail: " (no finalized replica to transfer)".into(),
        })?;
    if info.generation_stamp < block.generation_stamp {
        return Err(DatanodeError::StaleGenerationStamp {
            block_id: block.id,
            detail: format!(
                "asked to transfer generation stamp {} but the replica has {}",
                block.generation_stamp, info.generation_stamp
            ),
        });
    }
    let ours = info.to_block();
    let dataset = Arc::clone(&ctx.dataset);
    let mut sender = tokio::task::spawn_blocking(move || {
        BlockSender::open(dataset, &ours, 0, ours.num_bytes, true)
    })
    .await??;
    let header = pb::WriteBlockHeader {
        block: Some(ours),
        targets: rest.to_vec(),
        client_name: String::new(),
        stage: pb::WriteStage::TransferFinalized as i32,
        new_generation_stamp: 0,
        bytes_per_checksum: cairn_proto::BYTES_PER_CHECKSUM as u32,
        // The copy keeps the replica's own type: its checksums travel as stored.
        checksum_type: sender.checksum_type().to_pb() as i32,
    };
    let downstream = Downstream::connect(first, header).await.map_err(|f| {
        DatanodeError::rpc(
            format!("cannot transfer blk_{} to {}", block.id, f.first_bad_link),
            cairn_proto::RpcError::new(cairn_proto::ErrorKind::Unavailable, f.message),
        )
    })?;
    let addr = downstream.addr.clone();
    let Downstream {
        packets, mut acks, ..
    } = downstream;

    let send = async move {
        let mut seqno = 0i64;
        loop {
            let (s, packet) = sender.next_packet_blocking().await?;
            sender = s;
            let (data, offset, checksums, last) = match packet? {
                Some(p) => (p.data, p.offset_in_block, p.checksums, false),
                None => (Default::default(), ours.num_bytes, Default::default(), true),
            };
            let packet = pb::Packet {
                seqno,
                offset_in_block: offset,
                data,
                checksums,
                last_packet_in_block: last,
                sync: false,
            };
            if packets.send(packet).await.is_err() {
                // The acks tell why.
                return Ok::<i64, DatanodeError>(seqno);
            }
            if last {
                return Ok(seqno);
            }
            seqno += 1;
        }
    };
    let receive_acks = async {
        let mut expected = 0i64;
        loop {
            let ack = tokio::time::timeout(crate::receiver::ACK_TIMEOUT, acks.read_ack())
                .await
                .unwrap_or_else(|_| {
                    Err(cairn_proto::RpcError::new(
                        cairn_proto::ErrorKind::TimedOut,
                        format!("no ack for seqno {expected}"),
                    ))
                })
                .map_err(|e| DatanodeError::rpc(format!("transfer to {addr}"), e))?;
            let Some(ack) = ack else {
                return Err(DatanodeError::rpc(
                    format!("transfer of blk_{} to {addr}", block.id),
                    cairn_proto::RpcError::new(
                        cairn_proto::ErrorKind::Unavailable,
                        "the stream ended before the last ack",
                    ),
                ));
            };
            if ack.seqno != expected || !all_success(&ack.replies) {
                return Err(DatanodeError::rpc(
                    format!("transfer of blk_{} to {addr}", block.id),
                    cairn_proto::RpcError::new(
                        cairn_proto::ErrorKind::Io,
                        format!(
                            "ack {} (expected {expected}) failed at {}: {}",
                            ack.seqno, ack.first_bad_link, ack.message
                        ),
                    ),
                ));
            }
            expected += 1;
            if ack.seqno == last_seqno(ours.num_bytes) {
                return Ok(());
            }
        }
    };
    let (sent, ()) = tokio::try_join!(send, receive_acks)?;
    info!(block_id = block.id, to = %addr, packets = sent + 1, "transferred replica");
    Ok(())
}

/// Seqno of the empty last packet of a transfer of `len` bytes.
fn last_seqno(len: u64) -> i64 {
    len.div_ceil(crate::sender::PACKET_SIZE) as i64
}
