//! HDFS's DataStreamer, for one block: the write pipeline to the datanodes
//! chosen by `addBlock`, over a DataTransferProtocol connection to the first
//! (`cairn_proto::data_transfer`). Packets go out on the socket as the
//! writer produces them (a task writes them); a separate task (HDFS's
//! ResponseProcessor) reads the acks from the same socket.
//! At most a window of packets is unacknowledged: the writer waits for a
//! permit of the window before each packet, and an ack returns the permit.
//!
//! Sent packets stay in the `unacked` queue until acknowledged. When a
//! datanode of the pipeline fails (an error ack naming it, a broken stream,
//! an ack that never comes), the pipeline recovers as HDFS's DataStreamer
//! does (see [`BlockPipeline::recover`]): the bad datanode is left out, the
//! namenode hands out a new generation stamp, the surviving datanodes carry
//! on from the acknowledged length under it, and the unacknowledged packets
//! are sent again. The namenode re-replicates the block after it is closed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cairn_proto::data_transfer::{self, FrameReader};
use cairn_proto::pb::{
    AckStatus, Block, DatanodeInfo, Packet, PipelineAck, UpdateBlockForPipelineRequest,
    UpdatePipelineRequest, WriteBlockHeader, WriteStage,
};
use cairn_proto::{BYTES_PER_CHECKSUM, ErrorKind, RpcError};
use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use crate::Result;
use crate::connection::{CONNECT_TIMEOUT, datanode_address};
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

/// One open connection of a pipeline: the task writing packets to the
/// first datanode and the task reading its acks. Recovery replaces it whole.
struct Connection {
    names: PipelineNames,
    requests: mpsc::Sender<Packet>,
    shared: Arc<AckShared>,
    ack_task: JoinHandle<()>,
    send_task: JoinHandle<()>,
}

impl Drop for Connection {
    /// Dropping a connection abandons it: both tasks stop, which closes the
    /// socket.
    fn drop(&mut self) {
        self.ack_task.abort();
        self.send_task.abort();
    }
}

/// What [`Connection::open`] sends in the header.
struct Header {
    /// The block as the replicas have it now (id, stamp, acknowledged length).
    block: Block,
    stage: WriteStage,
    new_generation_stamp: u64,
    /// Seqno acknowledged before this connection (recovery carries it over).
    acked_seqno: i64,
}

impl Connection {
    /// Sends the header to the first datanode and waits for the setup ack
    /// (seqno -1) from the whole pipeline.
    async fn open(
        client: &DfsClient,
        path: &str,
        nodes: &[DatanodeInfo],
        header: Header,
        window: usize,
        timeout: Duration,
    ) -> Result<Self> {
        let names = PipelineNames {
            path: path.to_string(),
            block_id: header.block.id,
            nodes: nodes.iter().map(datanode_address).collect(),
        };
        let Some(first) = names.nodes.first().cloned() else {
            return Err(RpcError::new(
                ErrorKind::NotEnoughReplicas,
                format!("{path}: no datanode to write blk_{} to", header.block.id),
            )
            .into());
        };
        let message = WriteBlockHeader {
            block: Some(header.block),
            targets: nodes.get(1..).unwrap_or_default().to_vec(),
            client_name: client.client_name().to_string(),
            stage: header.stage as i32,
            new_generation_stamp: header.new_generation_stamp,
            bytes_per_checksum: BYTES_PER_CHECKSUM as u32,
            checksum_type: client.config().checksum_type.to_pb() as i32,
        };
        let stream = data_transfer::connect(&first, CONNECT_TIMEOUT)
            .await
            .map_err(|e| names.failure(first.clone(), format!("cannot open the pipeline: {e}")))?;
        let (read, mut write) = stream.into_split();
        let op = data_transfer::encode_write_block(&message);
        match tokio::time::timeout(timeout, write.write_all(&op)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(names.failure(first, format!("cannot open the pipeline: {e}")));
            }
            Err(_) => return Err(names.failure(first, "timed out opening the pipeline")),
        }
        let mut acks = FrameReader::new(read, first.clone(), timeout);
        let setup_ack = match tokio::time::timeout(timeout, acks.read_ack()).await {
            Ok(Ok(Some(ack))) => ack,
            Ok(Ok(None)) => {
                return Err(names.failure(first, "pipeline closed before the setup ack"));
            }
            Ok(Err(e)) => {
                return Err(names.failure(first, format!("pipeline setup failed: {e}")));
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
        tracing::debug!(path = %names.path, block = names.block_id, pipeline = ?names.nodes, stage = header.stage.as_str_name(), "pipeline set up");

        let (progress, _) = watch::channel(AckProgress {
            acked_seqno: header.acked_seqno,
            acked_length: header.block.num_bytes,
            failure: None,
        });
        let shared = Arc::new(AckShared {
            unacked: Mutex::new(VecDeque::new()),
            progress,
            window: Arc::new(Semaphore::new(window)),
        });
        let ack_task = tokio::spawn(process_acks(acks, Arc::clone(&shared), names.clone()));
        // Room for the last packet beyond the window, so a send never waits
        // on the channel while the window has room.
        let (requests, outgoing) = mpsc::channel(window + 1);
        let send_task = data_transfer::spawn_sender(write, outgoing, first, timeout);
        Ok(Self {
            names,
            requests,
            shared,
            ack_task,
            send_task,
        })
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
}

/// One block's write pipeline.
pub(crate) struct BlockPipeline {
    client: DfsClient,
    /// The block under its current generation stamp; `num_bytes` is the
    /// length sent so far.
    block: Block,
    /// The datanodes of the pipeline, in order; recovery removes bad ones.
    nodes: Vec<DatanodeInfo>,
    /// Datanodes recovery left out ("host:port"), for the final error.
    bad_nodes: Vec<String>,
    conn: Connection,
    next_seqno: i64,
    window: usize,
    timeout: Duration,
}

impl BlockPipeline {
    /// Opens the pipeline: sends the header to the first datanode and waits
    /// for the setup ack (seqno -1) from the whole pipeline.
    pub(crate) async fn setup(setup: PipelineSetup<'_>) -> Result<Self> {
        let window = setup.window.max(1);
        let conn = Connection::open(
            setup.client,
            setup.path,
            &setup.nodes,
            Header {
                block: setup.block,
                stage: setup.stage,
                new_generation_stamp: setup.new_generation_stamp,
                acked_seqno: SETUP_SEQNO,
            },
            window,
            setup.timeout,
        )
        .await?;
        // From here on the replicas carry the new stamp (append, recovery).
        let block = match setup.new_generation_stamp {
            0 => setup.block,
            new_gs => Block {
                generation_stamp: new_gs,
                ..setup.block
            },
        };
        Ok(Self {
            client: setup.client.clone(),
            block,
            nodes: setup.nodes,
            bad_nodes: Vec::new(),
            conn,
            next_seqno: 0,
            window,
            timeout: setup.timeout,
        })
    }

    /// The offset in the block of the next byte to send.
    pub(crate) fn bytes_sent(&self) -> u64 {
        self.block.num_bytes
    }

    /// The datanodes of the pipeline, in order.
    pub(crate) fn nodes(&self) -> &[DatanodeInfo] {
        &self.nodes
    }

    /// The block under its current generation stamp (recovery changes it),
    /// with the length sent so far.
    pub(crate) fn block(&self) -> Block {
        self.block
    }

    /// Sends a data packet once the window has room.
    pub(crate) async fn send_data(&mut self, data: Bytes, sync: bool) -> Result<()> {
        let len = data.len() as u64;
        let packet = packet::data_packet(
            self.client.config().checksum_type,
            self.next_seqno,
            self.block.num_bytes,
            data,
            sync,
        );
        self.send(packet).await?;
        self.block.num_bytes += len;
        Ok(())
    }

    /// Waits until every packet sent so far is acknowledged by the whole
    /// pipeline; returns the acknowledged length of the block.
    pub(crate) async fn wait_all_acked(&mut self) -> Result<u64> {
        let seqno = self.next_seqno - 1;
        loop {
            match self.wait_acked(seqno).await {
                Ok(length) => return Ok(length),
                Err(cause) => self.recover(cause).await?,
            }
        }
    }

    /// Sends the empty last packet, after which the datanodes finalize their
    /// replicas. Returns the block with its final length; its acks are
    /// awaited with [`BlockPipeline::wait_all_acked`].
    pub(crate) async fn send_last_packet(&mut self) -> Result<Block> {
        let packet = packet::last_packet(self.next_seqno, self.block.num_bytes);
        self.send(packet).await?;
        Ok(self.block)
    }

    /// Queues `packet` as unacknowledged and sends it; a failure on the way
    /// is recovered from, and recovery sends it again with the others.
    async fn send(&mut self, packet: Packet) -> Result<()> {
        let permit = loop {
            let window = Arc::clone(&self.conn.shared.window);
            let cause = match tokio::time::timeout(self.timeout, window.acquire_owned()).await {
                Ok(Ok(permit)) => break permit,
                // The ack task closes the window when the pipeline fails.
                Ok(Err(_)) => self.conn.failure(),
                Err(_) => self.timed_out("an ack to free the packet window"),
            };
            self.recover(cause).await?;
        };
        self.next_seqno = packet.seqno + 1;
        self.conn.shared.unacked.lock().push_back(InFlight {
            packet: packet.clone(),
            _permit: permit,
        });
        let cause = match tokio::time::timeout(self.timeout, self.conn.requests.send(packet)).await
        {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(_)) => self.conn.failure(),
            Err(_) => self.timed_out("the datanode to take a packet"),
        };
        self.recover(cause).await
    }

    async fn wait_acked(&self, seqno: i64) -> Result<u64> {
        let mut progress = self.conn.shared.progress.subscribe();
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
                Ok(Err(_)) => return Err(self.conn.failure()),
                Err(_) => return Err(self.timed_out("acks")),
            }
        }
    }

    /// HDFS's setupPipelineForAppendOrRecovery, without a replacement
    /// datanode: leaves out the datanode `cause` blames (the first one when
    /// it names none, as when the stream to it broke or its acks stopped),
    /// gets a new generation stamp from the namenode, reopens the pipeline
    /// to the survivors with stage PIPELINE_SETUP_RECOVERY at the length
    /// every datanode acknowledged, tells the namenode the new pipeline,
    /// and sends the unacknowledged packets again. Fails when no datanode
    /// is left, or when the namenode refuses (the lease was lost).
    async fn recover(&mut self, mut cause: DfsError) -> Result<()> {
        let (mut acked_seqno, mut acked_length, mut resend) = self.take_unacked(Vec::new());
        loop {
            let bad = bad_node_index(&cause, &self.nodes).unwrap_or(0);
            if bad < self.nodes.len() {
                let removed = self.nodes.remove(bad);
                self.bad_nodes.push(datanode_address(&removed));
            }
            tracing::warn!(
                path = %self.conn.names.path,
                block = self.block.id,
                error = %cause,
                survivors = ?self.nodes.iter().map(datanode_address).collect::<Vec<_>>(),
                acked_length,
                unacked = resend.len(),
                "recovering the write pipeline"
            );
            if self.nodes.is_empty() {
                return Err(DfsError::AllDatanodesBad {
                    block_id: self.block.id,
                    path: self.conn.names.path.clone(),
                    datanodes: self.bad_nodes.clone(),
                    cause: Box::new(cause),
                });
            }
            let acked = Block {
                num_bytes: acked_length,
                ..self.block
            };
            let new_gs = self.update_block_for_pipeline(acked).await?;
            let opened = Connection::open(
                &self.client,
                &self.conn.names.path,
                &self.nodes,
                Header {
                    block: acked,
                    stage: WriteStage::PipelineSetupRecovery,
                    new_generation_stamp: new_gs,
                    acked_seqno,
                },
                self.window,
                self.timeout,
            )
            .await;
            let conn = match opened {
                Ok(conn) => conn,
                Err(err) => {
                    cause = err;
                    continue;
                }
            };
            let new_block = Block {
                generation_stamp: new_gs,
                ..acked
            };
            self.update_pipeline(acked, new_block).await?;
            self.block.generation_stamp = new_gs;
            self.conn = conn;
            match self.resend(&mut resend).await {
                Ok(()) => return Ok(()),
                Err(err) => {
                    (acked_seqno, acked_length, resend) = self.take_unacked(resend);
                    cause = err;
                }
            }
        }
    }

    /// Stops the ack task and takes what must reach the next pipeline: the
    /// unacknowledged packets, oldest first, then `not_sent` (packets not
    /// sent yet), with the seqno and block length acknowledged before them.
    /// Those follow from the packets themselves, not from the ack task's
    /// progress, which may lag behind the queue it pops.
    fn take_unacked(&mut self, not_sent: Vec<Packet>) -> (i64, u64, Vec<Packet>) {
        self.conn.ack_task.abort();
        let packets: Vec<Packet> = self
            .conn
            .shared
            .unacked
            .lock()
            .drain(..)
            .map(|f| f.packet)
            .chain(not_sent)
            .collect();
        let (seqno, length) = match packets.first() {
            Some(p) => (p.seqno - 1, p.offset_in_block),
            None => (self.next_seqno - 1, self.block.num_bytes),
        };
        (seqno, length, packets)
    }

    /// Sends the packets recovery carries over into the new pipeline; on a
    /// failure the ones not sent yet stay in `packets`.
    async fn resend(&mut self, packets: &mut Vec<Packet>) -> Result<()> {
        let mut pending: VecDeque<Packet> = packets.drain(..).collect();
        while let Some(packet) = pending.pop_front() {
            let window = Arc::clone(&self.conn.shared.window);
            let permit = match window.try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    pending.push_front(packet);
                    packets.extend(pending);
                    return Err(self.conn.failure());
                }
            };
            self.conn.shared.unacked.lock().push_back(InFlight {
                packet: packet.clone(),
                _permit: permit,
            });
            let sent = tokio::time::timeout(self.timeout, self.conn.requests.send(packet)).await;
            if !matches!(sent, Ok(Ok(()))) {
                packets.extend(pending);
                return Err(self.conn.failure());
            }
        }
        Ok(())
    }

    /// A new generation stamp for the block, from the namenode.
    async fn update_block_for_pipeline(&self, block: Block) -> Result<u64> {
        let request = UpdateBlockForPipelineRequest {
            block: Some(block),
            client_name: self.client.client_name().to_string(),
        };
        let located = self
            .client
            .namenode()
            .update_block_for_pipeline(request)
            .await?
            .into_inner();
        located
            .block
            .map(|b| b.generation_stamp)
            .filter(|&gs| gs > block.generation_stamp)
            .ok_or_else(|| DfsError::Protocol {
                peer: self.client.config().namenode.clone(),
                message: format!(
                    "updateBlockForPipeline of blk_{} returned no newer generation stamp",
                    block.id
                ),
            })
    }

    /// Tells the namenode the block goes on under `new` with these nodes.
    async fn update_pipeline(&self, old: Block, new: Block) -> Result<()> {
        let request = UpdatePipelineRequest {
            client_name: self.client.client_name().to_string(),
            old_block: Some(old),
            new_block: Some(new),
            new_datanode_uuids: self.nodes.iter().map(|n| n.datanode_uuid.clone()).collect(),
        };
        self.client.namenode().update_pipeline(request).await?;
        Ok(())
    }

    fn timed_out(&self, what: &str) -> DfsError {
        DfsError::TimedOut {
            peer: self.conn.names.first(),
            what: format!(
                "{what} (blk_{} of {})",
                self.conn.names.block_id, self.conn.names.path
            ),
            timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Packets sent and not yet acknowledged (what pipeline recovery would
    /// resend), oldest first.
    #[cfg(test)]
    pub(crate) fn unacked_seqnos(&self) -> Vec<i64> {
        self.conn
            .shared
            .unacked
            .lock()
            .iter()
            .map(|f| f.packet.seqno)
            .collect()
    }
}

/// The position in `nodes` of the datanode a pipeline error blames (it
/// may name it by "host:port" or by uuid).
pub(crate) fn bad_node_index(err: &DfsError, nodes: &[DatanodeInfo]) -> Option<usize> {
    let DfsError::Pipeline { datanode, .. } = err else {
        return None;
    };
    nodes
        .iter()
        .position(|n| datanode_address(n) == *datanode || n.datanode_uuid == *datanode)
}

/// HDFS's ResponseProcessor: matches acks to the oldest unacknowledged
/// packet, frees their window permits, and records the first failure.
async fn process_acks(
    mut acks: FrameReader<OwnedReadHalf>,
    shared: Arc<AckShared>,
    names: PipelineNames,
) {
    let failure = loop {
        let ack = match acks.read_ack().await {
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
            Err(e) => {
                break names.failure(names.first(), format!("the pipeline broke: {e}"));
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
