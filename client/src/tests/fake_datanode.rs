//! A test double of a datanode: the real `DataTransfer` service, and
//! WriteBlock and ReadBlock over `cairn_proto::data_transfer` on one real socket, keeping
//! blocks in memory. It does not forward to the targets of
//! a pipeline; it answers for the whole pipeline (one reply per node).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cairn_proto::data_transfer::{self, FrameReader, Op};
use cairn_proto::pb::data_transfer_server::{DataTransfer, DataTransferServer};
use cairn_proto::pb::{
    AckStatus, DatanodeInfo, GetReplicaVisibleLengthRequest, GetReplicaVisibleLengthResponse,
    InitReplicaRecoveryRequest, InitReplicaRecoveryResponse, Packet, PipelineAck, ReadBlockRequest,
    ReadBlockResponse, ReadPacket, UpdateReplicaUnderRecoveryRequest,
    UpdateReplicaUnderRecoveryResponse, WriteBlockHeader,
};
use cairn_proto::{BYTES_PER_CHECKSUM, ChecksumType, ErrorKind, RpcError};
use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::serve;

/// How long the fake waits on a stalled frame.
const STALL: Duration = Duration::from_secs(30);

#[derive(Default)]
pub(crate) struct DatanodeState {
    pub headers: Vec<WriteBlockHeader>,
    /// Every packet received, in order.
    pub packets: Vec<Packet>,
    /// Replica bytes by block id.
    pub blocks: HashMap<u64, Vec<u8>>,
    /// Blocks served with one byte flipped (the checksums are of the good data).
    pub corrupt: HashSet<u64>,
    /// Answer ERROR to this seqno, blaming this link (once).
    pub fail_seqno: Option<(i64, String)>,
    /// Data packets received and acked.
    pub received: usize,
    pub acked: usize,
    /// The most packets ever received and not yet acked.
    pub max_outstanding: usize,
    pub reads: Vec<ReadBlockRequest>,
}

pub(crate) struct FakeDatanode {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<DatanodeState>>,
    changed: Arc<Notify>,
    /// When set, each ack waits for one permit (the test hands them out).
    pub ack_credits: Option<Arc<Semaphore>>,
    _server: serve::ServerHandle,
}

#[derive(Clone)]
struct Service {
    state: Arc<Mutex<DatanodeState>>,
    changed: Arc<Notify>,
    ack_credits: Option<Arc<Semaphore>>,
}

impl FakeDatanode {
    pub(crate) async fn start() -> Self {
        Self::start_with(None).await
    }

    /// A datanode that acks only as the test adds permits.
    pub(crate) async fn start_holding_acks() -> Self {
        Self::start_with(Some(Arc::new(Semaphore::new(0)))).await
    }

    async fn start_with(ack_credits: Option<Arc<Semaphore>>) -> Self {
        let state = Arc::new(Mutex::new(DatanodeState::default()));
        let changed = Arc::new(Notify::new());
        let service = Service {
            state: Arc::clone(&state),
            changed: Arc::clone(&changed),
            ack_credits: ack_credits.clone(),
        };
        let writes = service.clone();
        let service = DataTransferServer::new(service)
            .max_decoding_message_size(cairn_proto::MAX_MESSAGE_SIZE)
            .max_encoding_message_size(cairn_proto::MAX_MESSAGE_SIZE);
        let server = serve::spawn_with_data_transfer(
            serve::server().add_service(service),
            move |stream, _| {
                tokio::spawn(writes.clone().serve(stream));
            },
        )
        .await;
        Self {
            addr: server.addr,
            state,
            changed,
            ack_credits,
            _server: server,
        }
    }

    pub(crate) fn info(&self, uuid: &str) -> DatanodeInfo {
        DatanodeInfo {
            datanode_uuid: uuid.to_string(),
            host: self.addr.ip().to_string(),
            xfer_port: u32::from(self.addr.port()),
            alive: true,
            ..Default::default()
        }
    }

    /// Waits (without a timer) until `cond` holds.
    pub(crate) async fn wait_for(&self, cond: impl Fn(&DatanodeState) -> bool) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if cond(&self.state.lock()) {
                return;
            }
            notified.await;
        }
    }
}

fn success(seqno: i64, nodes: usize) -> PipelineAck {
    PipelineAck {
        seqno,
        replies: vec![AckStatus::Success as i32; nodes],
        first_bad_link: String::new(),
        message: String::new(),
    }
}

impl Service {
    fn update(&self, f: impl FnOnce(&mut DatanodeState)) {
        f(&mut self.state.lock());
        self.changed.notify_waiters();
    }

    /// Receives packets, stores them, and hands them to the ack task.
    async fn receive(
        self,
        header: WriteBlockHeader,
        mut inbound: FrameReader<OwnedReadHalf>,
        to_ack: mpsc::UnboundedSender<Packet>,
    ) {
        let block_id = header.block.map_or(0, |b| b.id);
        let kind = ChecksumType::from_pb(header.checksum_type).unwrap();
        while let Ok(Some(packet)) = inbound.read_packet().await {
            assert!(
                kind.verify(&packet.data, packet.offset_in_block, &packet.checksums)
                    .is_ok(),
                "the client sent bad checksums at {}",
                packet.offset_in_block
            );
            let last = packet.last_packet_in_block;
            self.update(|s| {
                let replica = s.blocks.entry(block_id).or_default();
                replica.truncate(packet.offset_in_block as usize);
                replica.extend_from_slice(&packet.data);
                s.packets.push(packet.clone());
                s.received += 1;
                s.max_outstanding = s.max_outstanding.max(s.received - s.acked);
            });
            if to_ack.send(packet).is_err() || last {
                return;
            }
        }
    }

    /// Acks packets in order, as credits allow.
    async fn ack(
        self,
        nodes: usize,
        mut to_ack: mpsc::UnboundedReceiver<Packet>,
        acks: mpsc::Sender<PipelineAck>,
    ) {
        while let Some(packet) = to_ack.recv().await {
            if let Some(credits) = &self.ack_credits {
                match credits.acquire().await {
                    Ok(permit) => permit.forget(),
                    Err(_) => return,
                }
            }
            let failure = {
                let mut state = self.state.lock();
                match &state.fail_seqno {
                    Some((seqno, _)) if *seqno == packet.seqno => state.fail_seqno.take(),
                    _ => None,
                }
            };
            let ack = match failure {
                Some((seqno, bad_link)) => PipelineAck {
                    seqno,
                    replies: vec![AckStatus::Error as i32; nodes],
                    first_bad_link: bad_link,
                    message: "disk failed".to_string(),
                },
                _ => success(packet.seqno, nodes),
            };
            let failed = ack.replies.iter().any(|r| *r != AckStatus::Success as i32);
            self.update(|s| s.acked += 1);
            if acks.send(ack).await.is_err() || failed {
                return;
            }
        }
    }
}

impl Service {
    /// One data-transfer connection: its op, then WriteBlock (the setup
    /// ack for the whole pipeline, then packets stored and acked) or
    /// ReadBlock (the answer, then the packets).
    async fn serve(self, stream: TcpStream) {
        let (read, mut write) = stream.into_split();
        let mut inbound = FrameReader::new(read, "the client", STALL);
        let header = match inbound.read_op().await {
            Ok(Some(Op::WriteBlock(header))) => header,
            Ok(Some(Op::ReadBlock(request))) => {
                let (answer, packets) = match self.read_packets(request) {
                    Ok(packets) => (
                        ReadBlockResponse {
                            checksum_type: ChecksumType::Crc32c.to_pb() as i32,
                            ..Default::default()
                        },
                        packets,
                    ),
                    Err(err) => (ReadBlockResponse::refused(&err), Vec::new()),
                };
                if data_transfer::write_frame(&mut write, &answer, STALL)
                    .await
                    .is_err()
                {
                    return;
                }
                for (seqno, packet) in (0..).zip(packets) {
                    let packet = packet.into_packet(seqno);
                    if data_transfer::write_frame(&mut write, &packet, STALL)
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                return;
            }
            _ => return,
        };
        let nodes = 1 + header.targets.len();
        self.update(|s| s.headers.push(header.clone()));
        let (acks, outgoing) = mpsc::channel(1024);
        let _ = acks.send(success(-1, nodes)).await;
        data_transfer::spawn_sender(write, outgoing, "the client".into(), STALL);
        let (to_ack, queued) = mpsc::unbounded_channel();
        tokio::spawn(self.clone().receive(header, inbound, to_ack));
        tokio::spawn(self.ack(nodes, queued, acks));
    }

    /// The packets a read of `request` gets: 4 chunks each (so that a read
    /// spans several), CRC32C of the good data, one byte flipped in a block
    /// marked corrupt.
    fn read_packets(&self, request: ReadBlockRequest) -> Result<Vec<ReadPacket>, RpcError> {
        let id = request.block.map_or(0, |b| b.id);
        let (data, corrupt) = {
            let mut state = self.state.lock();
            state.reads.push(request.clone());
            let data = state.blocks.get(&id).cloned().ok_or_else(|| {
                RpcError::new(
                    ErrorKind::ReplicaNotFound,
                    format!("no replica of blk_{id}"),
                )
            })?;
            (data, state.corrupt.contains(&id))
        };
        let start = (request.offset as usize / BYTES_PER_CHECKSUM) * BYTES_PER_CHECKSUM;
        let end = ((request.offset + request.length) as usize).min(data.len());
        let packet_size = 4 * BYTES_PER_CHECKSUM;
        let mut packets = Vec::new();
        let mut offset = start;
        while offset < end {
            let stop = (offset + packet_size).min(end);
            let mut bytes = data[offset..stop].to_vec();
            let mut checksums = Vec::new();
            let kind = ChecksumType::Crc32c;
            kind.chunk_checksums(&bytes, offset as u64, &mut checksums);
            if corrupt {
                bytes[0] ^= 0xff;
            }
            packets.push(ReadPacket {
                offset_in_block: offset as u64,
                data: bytes.into(),
                checksums: checksums.into(),
                checksum_type: kind.to_pb() as i32,
            });
            offset = stop;
        }
        Ok(packets)
    }
}

#[tonic::async_trait]
impl DataTransfer for Service {
    type ReadBlockStream = ReceiverStream<Result<ReadPacket, Status>>;

    async fn read_block(
        &self,
        request: Request<ReadBlockRequest>,
    ) -> Result<Response<Self::ReadBlockStream>, Status> {
        let packets = self.read_packets(request.into_inner())?;
        let (tx, rx) = mpsc::channel(packets.len().max(1));
        for packet in packets {
            let _ = tx.send(Ok(packet)).await;
        }
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn get_replica_visible_length(
        &self,
        request: Request<GetReplicaVisibleLengthRequest>,
    ) -> Result<Response<GetReplicaVisibleLengthResponse>, Status> {
        let id = request.into_inner().block.map_or(0, |b| b.id);
        match self.state.lock().blocks.get(&id) {
            Some(data) => Ok(Response::new(GetReplicaVisibleLengthResponse {
                length: data.len() as u64,
            })),
            None => Err(RpcError::new(
                ErrorKind::ReplicaNotFound,
                format!("no replica of blk_{id}"),
            )
            .into()),
        }
    }

    async fn init_replica_recovery(
        &self,
        _: Request<InitReplicaRecoveryRequest>,
    ) -> Result<Response<InitReplicaRecoveryResponse>, Status> {
        Err(Status::unimplemented(
            "the fake datanode has no block recovery",
        ))
    }

    async fn update_replica_under_recovery(
        &self,
        _: Request<UpdateReplicaUnderRecoveryRequest>,
    ) -> Result<Response<UpdateReplicaUnderRecoveryResponse>, Status> {
        Err(Status::unimplemented(
            "the fake datanode has no block recovery",
        ))
    }
}
