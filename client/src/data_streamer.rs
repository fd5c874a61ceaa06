//! HDFS's DataStreamer, for one block: the write pipeline to the datanodes
//! chosen by `addBlock`. Packets go out on the request stream as the writer
//! produces them; a separate task (HDFS's ResponseProcessor) reads the acks.
//! At most a window of packets is unacknowledged: the writer waits for a
//! permit of the window before each packet, and an ack returns the permit.
//!
//! Sent packets stay in the `unacked` queue until acknowledged, so that
//! pipeline recovery (resend them to the surviving datanodes under a new
//! generation stamp) can be added without changing the data path.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cairn_proto::pb::{
    AckStatus, Block, DatanodeInfo, Packet, PipelineAck, WriteBlockHeader, WriteBlockRequest,
    WriteStage, write_block_request,
};
use cairn_proto::{BYTES_PER_CHECKSUM, ErrorKind, RpcError};
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use crate::Result;
use crate::connection::datanode_address;
use crate::dfs_client::DfsClient;
use crate::error::DfsError;
use crate::packet;

/// Seqno of the ack that says the whole pipeline is set up.
const SETUP_SEQNO: i64 = -1;

/// What the writer needs to open a block's pipeline.
pub(crate) struct PipelineSetup<'a> {
    pub client: &'a DfsClient,
    pub path: &'a str,
    /// The block; for an append, with its current length.
    pub block: Block,
    /// The pipeline, in order: the first receives from us.
    pub nodes: Vec<DatanodeInfo>,
    pub stage: WriteStage,
    pub new_generation_stamp: u64,
    pub window: usize,
    pub timeout: Duration,
}

/// A packet sent and not yet acknowledged, with the window permit it holds.
struct InFlight {
    packet: Packet,
    _permit: OwnedSemaphorePermit,
}

/// How far the acks have come, published by the ack task.
#[derive(Clone, Debug)]
struct AckProgress {
    /// The last acknowledged seqno (-1: only the setup).
    acked_seqno: i64,
    /// The block's length acknowledged by every datanode.
    acked_length: u64,
    /// Set once the pipeline failed; nothing more will be acknowledged.
    failure: Option<DfsError>,
}

/// What the ack task shares with the writer.
struct AckShared {
    unacked: Mutex<VecDeque<InFlight>>,
    progress: watch::Sender<AckProgress>,
    window: Arc<Semaphore>,
}

/// Names used in error messages.
#[derive(Clone)]
struct PipelineNames {
    path: String,
    block_id: u64,
    /// "host:port" of each datanode, in pipeline order.
    nodes: Vec<String>,
}

impl PipelineNames {
    fn failure(&self, datanode: String, message: impl Into<String>) -> DfsError {
        DfsError::Pipeline {
            block_id: self.block_id,
            path: self.path.clone(),
            datanode,
            message: message.into(),
        }
    }

    fn first(&self) -> String {
        self.nodes.first().cloned().unwrap_or_default()
    }

    /// The datanode an error ack blames: its `first_bad_link`, else the
    /// first datanode whose reply is not SUCCESS.
    fn blamed(&self, ack: &PipelineAck) -> String {
        if !ack.first_bad_link.is_empty() {
            return ack.first_bad_link.clone();
        }
        ack.replies
            .iter()
            .position(|r| *r != AckStatus::Success as i32)
            .and_then(|i| self.nodes.get(i).cloned())
            .unwrap_or_else(|| self.first())
    }

    /// Checks an ack's replies; an error names the datanode to blame.
    fn check_ack(&self, ack: &PipelineAck) -> Result<()> {
        let all_ok = ack.replies.iter().all(|r| *r == AckStatus::Success as i32);
        if all_ok {
            return Ok(());
        }
        let statuses: Vec<&str> = ack
            .replies
            .iter()
            .map(|r| AckStatus::try_from(*r).map_or("UNKNOWN", |s| s.as_str_name()))
            .collect();
        let message = if ack.message.is_empty() {
            format!("ack {} replies {:?}", ack.seqno, statuses)
        } else {
            format!("ack {} replies {:?}: {}", ack.seqno, statuses, ack.message)
        };
        Err(self.failure(self.blamed(ack), message))
    }
}

/// One block's write pipeline.
pub(crate) struct BlockPipeline {
    /// The block; `num_bytes` is the length sent so far.
    block: Block,
    names: PipelineNames,
    requests: mpsc::Sender<WriteBlockRequest>,
    shared: Arc<AckShared>,
    next_seqno: i64,
    ack_task: JoinHandle<()>,
    timeout: Duration,
}

impl BlockPipeline {
    /// Opens the pipeline: sends the header to the first datanode and waits
    /// for the setup ack (seqno -1) from the whole pipeline.
    pub(crate) async fn setup(setup: PipelineSetup<'_>) -> Result<Self> {
        let names = PipelineNames {
            path: setup.path.to_string(),
            block_id: setup.block.id,
            nodes: setup.nodes.iter().map(datanode_address).collect(),
        };
        let Some(first) = names.nodes.first().cloned() else {
            return Err(RpcError::new(
                ErrorKind::NotEnoughReplicas,
                format!(
                    "{}: no datanode to write blk_{} to",
                    setup.path, setup.block.id
                ),
            )
            .into());
        };
        let window = setup.window.max(1);
        let mut datanode = setup.client.datanode(&first)?;
        // Room for the header and the last packet beyond the window, so a
        // send never waits on the channel while the window has room.
        let (requests, outgoing) = mpsc::channel(window + 2);
        let header = WriteBlockHeader {
            block: Some(setup.block),
            targets: setup.nodes[1..].to_vec(),
            client_name: setup.client.client_name().to_string(),
            stage: setup.stage as i32,
            new_generation_stamp: setup.new_generation_stamp,
            bytes_per_checksum: BYTES_PER_CHECKSUM as u32,
        };
        requests
            .send(WriteBlockRequest {
                message: Some(write_block_request::Message::Header(header)),
            })
            .await
            .map_err(|_| names.failure(first.clone(), "request stream closed before the header"))?;

        let timeout = setup.timeout;
        let call = datanode.write_block(ReceiverStream::new(outgoing));
        let mut acks = match tokio::time::timeout(timeout, call).await {
            Ok(Ok(response)) => response.into_inner(),
            Ok(Err(status)) => {
                return Err(names.failure(
                    first,
                    format!("cannot open the pipeline: {}", RpcError::from(status)),
                ));
            }
            Err(_) => return Err(names.failure(first, "timed out opening the pipeline")),
        };
        let setup_ack = match tokio::time::timeout(timeout, acks.message()).await {
            Ok(Ok(Some(ack))) => ack,
            Ok(Ok(None)) => {
                return Err(names.failure(first, "pipeline closed before the setup ack"));
            }
            Ok(Err(status)) => {
                return Err(names.failure(
                    first,
                    format!("pipeline setup failed: {}", RpcError::from(status)),
                ));
            }
            Err(_) => return Err(names.failure(first, "timed out waiting for the setup ack")),
        };
        names.check_ack(&setup_ack)?;
        if setup_ack.seqno != SETUP_SEQNO {
            return Err(DfsError::Protocol {
                peer: first,
                message: format!(
                    "expected the setup ack (seqno -1), got seqno {}",
                    setup_ack.seqno
                ),
            });
        }
        tracing::debug!(path = %names.path, block = names.block_id, pipeline = ?names.nodes, "pipeline set up");

        let (progress, _) = watch::channel(AckProgress {
            acked_seqno: SETUP_SEQNO,
            acked_length: setup.block.num_bytes,
            failure: None,
        });
        let shared = Arc::new(AckShared {
            unacked: Mutex::new(VecDeque::new()),
            progress,
            window: Arc::new(Semaphore::new(window)),
        });
        let ack_task = tokio::spawn(process_acks(acks, Arc::clone(&shared), names.clone()));
        // From here on the replicas carry the new stamp (append, recovery).
        let block = match setup.new_generation_stamp {
            0 => setup.block,
            new_gs => Block {
                generation_stamp: new_gs,
                ..setup.block
            },
        };
        Ok(Self {
            block,
            names,
            requests,
            shared,
            next_seqno: 0,
            ack_task,
            timeout,
        })
    }

    /// The offset in the block of the next byte to send.
    pub(crate) fn bytes_sent(&self) -> u64 {
        self.block.num_bytes
    }

    /// Sends a data packet once the window has room.
    pub(crate) async fn send_data(&mut self, data: Bytes, sync: bool) -> Result<()> {
        let len = data.len() as u64;
        let packet = packet::data_packet(self.next_seqno, self.block.num_bytes, data, sync);
        self.send(packet).await?;
        self.block.num_bytes += len;
        Ok(())
    }

    /// Waits until every packet sent so far is acknowledged by the whole
    /// pipeline; returns the acknowledged length of the block.
    pub(crate) async fn wait_all_acked(&self) -> Result<u64> {
        self.wait_acked(self.next_seqno - 1).await
    }

    /// Sends the empty last packet, after which the datanodes finalize their
    /// replicas. Returns the block with its final length; its acks are
    /// awaited with [`BlockPipeline::wait_all_acked`].
    pub(crate) async fn send_last_packet(&mut self) -> Result<Block> {
        let packet = packet::last_packet(self.next_seqno, self.block.num_bytes);
        self.send(packet).await?;
        Ok(self.block)
    }

    async fn send(&mut self, packet: Packet) -> Result<()> {
        let window = Arc::clone(&self.shared.window);
        let permit = match tokio::time::timeout(self.timeout, window.acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            // The ack task closes the window when the pipeline fails.
            Ok(Err(_)) => return Err(self.failure()),
            Err(_) => return Err(self.timed_out("an ack to free the packet window")),
        };
        let seqno = packet.seqno;
        self.shared.unacked.lock().push_back(InFlight {
            packet: packet.clone(),
            _permit: permit,
        });
        let request = WriteBlockRequest {
            message: Some(write_block_request::Message::Packet(packet)),
        };
        match tokio::time::timeout(self.timeout, self.requests.send(request)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(self.failure()),
            Err(_) => return Err(self.timed_out("the datanode to take a packet")),
        }
        self.next_seqno = seqno + 1;
        Ok(())
    }

    async fn wait_acked(&self, seqno: i64) -> Result<u64> {
        let mut progress = self.shared.progress.subscribe();
        loop {
            {
                let now = progress.borrow_and_update();
                if now.acked_seqno >= seqno {
                    return Ok(now.acked_length);
                }
                if let Some(failure) = &now.failure {
                    return Err(failure.clone());
                }
            }
            match tokio::time::timeout(self.timeout, progress.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(self.failure()),
                Err(_) => return Err(self.timed_out("acks")),
            }
        }
    }

    /// Why the pipeline stopped, as the ack task recorded it.
    fn failure(&self) -> DfsError {
        self.shared
            .progress
            .borrow()
            .failure
            .clone()
            .unwrap_or_else(|| {
                self.names
                    .failure(self.names.first(), "the pipeline closed")
            })
    }

    fn timed_out(&self, what: &str) -> DfsError {
        DfsError::TimedOut {
            peer: self.names.first(),
            what: format!(
                "{what} (blk_{} of {})",
                self.names.block_id, self.names.path
            ),
            timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Packets sent and not yet acknowledged (what pipeline recovery would
    /// resend), oldest first.
    #[cfg(test)]
    pub(crate) fn unacked_seqnos(&self) -> Vec<i64> {
        self.shared
            .unacked
            .lock()
            .iter()
            .map(|f| f.packet.seqno)
            .collect()
    }
}

impl Drop for BlockPipeline {
    /// Dropping a pipeline abandons it: the request stream closes with the
    /// sender and the ack task stops reading.
    fn drop(&mut self) {
        self.ack_task.abort();
    }
}

/// HDFS's ResponseProcessor: matches acks to the oldest unacknowledged
/// packet, frees their window permits, and records the first failure.
async fn process_acks(
    mut acks: Streaming<PipelineAck>,
    shared: Arc<AckShared>,
    names: PipelineNames,
) {
    let failure = loop {
        let ack = match acks.message().await {
            Ok(Some(ack)) => ack,
            Ok(None) => {
                let pending = shared.unacked.lock().len();
                if pending == 0 {
                    return;
                }
                break names.failure(
                    names.first(),
                    format!("the pipeline closed with {pending} packets unacknowledged"),
                );
            }
            Err(status) => {
                break names.failure(
                    names.first(),
                    format!("the pipeline broke: {}", RpcError::from(status)),
                );
            }
        };
        if let Err(err) = names.check_ack(&ack) {
            break err;
        }
        let acked = {
            let mut unacked = shared.unacked.lock();
            match unacked.front() {
                Some(front) if front.packet.seqno == ack.seqno => unacked.pop_front(),
                front => {
                    let expected = front.map(|f| f.packet.seqno);
                    drop(unacked);
                    break DfsError::Protocol {
                        peer: names.first(),
                        message: format!(
                            "ack for seqno {} while the oldest unacknowledged packet is {:?} (blk_{})",
                            ack.seqno, expected, names.block_id
                        ),
                    };
                }
            }
        };
        let Some(acked) = acked else { continue };
        let end = acked.packet.offset_in_block + acked.packet.data.len() as u64;
        let last = acked.packet.last_packet_in_block;
        // Dropping `acked` returns its permit to the window.
        drop(acked);
        shared.progress.send_modify(|p| {
            p.acked_seqno = ack.seqno;
            p.acked_length = end;
        });
        if last {
            return;
        }
    };
    tracing::debug!(path = %names.path, block = names.block_id, error = %failure, "write pipeline failed");
    shared.progress.send_modify(|p| p.failure = Some(failure));
    shared.window.close();
}
