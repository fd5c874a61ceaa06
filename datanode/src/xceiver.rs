//! DataXceiver: what a datanode serves on its data-transfer port —
//! WriteBlock (the pipeline, see [`crate::receiver`]) and ReadBlock (see
//! [`crate::sender`]) over a plain TCP DataTransferProtocol connection
//! (`cairn_proto::data_transfer`), and the DataTransfer gRPC service:
//! ReadBlock again (for older clients), GetReplicaVisibleLength, and the
//! two steps of block recovery between datanodes (see [`crate::recovery`]).

use std::net::SocketAddr;
use std::sync::Arc;

use cairn_proto::data_transfer::{self, FrameReader, Op};
use cairn_proto::pb;
use cairn_proto::pb::data_transfer_server::{DataTransfer, DataTransferServer};
use cairn_proto::{ErrorKind, MAX_MESSAGE_SIZE, RpcError};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::{debug, warn};

use crate::error::DatanodeError;
use crate::net;
use crate::node::NodeContext;
use crate::receiver::{ACK_QUEUE, BlockReceiver, error_ack};
use crate::sender::{BlockSender, visible_replica};

/// The name WriteBlock is counted under in the RPC metrics.
const WRITE_BLOCK_PATH: &str = "/cairn.DataTransfer/WriteBlock";

/// Serves one data-transfer connection (HDFS's DataXceiver thread): reads
/// its op, then runs it to the end. A WriteBlock the replica cannot be
/// opened for is refused with an error setup ack naming this datanode; a
/// ReadBlock, with an error answer.
pub async fn serve_data_transfer(ctx: Arc<NodeContext>, stream: TcpStream, peer: SocketAddr) {
    let (read, write) = stream.into_split();
    let mut upstream = FrameReader::new(read, peer.to_string(), net::SOCKET_TIMEOUT);
    let op = tokio::select! {
        op = tokio::time::timeout(net::SOCKET_TIMEOUT, upstream.read_op()) => op,
        () = ctx.shutting_down() => return,
    };
    let header = match op {
        Ok(Ok(Some(Op::WriteBlock(header)))) => header,
        Ok(Ok(Some(Op::ReadBlock(request)))) => {
            crate::sender::send_block(ctx, request, write, peer.to_string()).await;
            return;
        }
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            warn!("refusing a data transfer connection: {e}");
            return;
        }
        Err(_) => {
            debug!(%peer, "no op within {:?}; closing", net::SOCKET_TIMEOUT);
            return;
        }
    };
    let (acks, outgoing) = mpsc::channel(ACK_QUEUE);
    let sender =
        data_transfer::spawn_sender(write, outgoing, peer.to_string(), net::SOCKET_TIMEOUT);
    let started = std::time::Instant::now();
    let opened = BlockReceiver::open(Arc::clone(&ctx), header).await;
    // Counted with the gRPC calls, as when WriteBlock was one: the code is
    // gRPC's for the outcome of the open.
    let code = match &opened {
        Ok(_) => tonic::Code::Ok,
        Err(e) => Status::from(RpcError::new(e.kind(), String::new())).code(),
    };
    ctx.metrics.rpc.record(
        WRITE_BLOCK_PATH,
        &(code as i32).to_string(),
        started.elapsed().as_secs_f64(),
    );
    match opened {
        Ok(receiver) => receiver.run(upstream, acks).await,
        Err(e) => {
            warn!("refusing a WriteBlock from {peer}: {e}");
            let _ = acks
                .send(error_ack(-1, &ctx.xfer_addr, RpcError::from(e).to_string()))
                .await;
            drop(acks);
        }
    }
    // The acks due go out before the connection closes.
    let _ = sender.await;
}

/// The DataTransfer service of one datanode.
#[derive(Debug, Clone)]
pub struct DataXceiver {
    ctx: Arc<NodeContext>,
}

impl DataXceiver {
    pub fn new(ctx: Arc<NodeContext>) -> Self {
        Self { ctx }
    }

    /// The service with Cairn's message limits.
    pub fn into_server(self) -> DataTransferServer<Self> {
        DataTransferServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
    }
}

fn status(err: DatanodeError) -> Status {
    RpcError::from(err).into()
}

fn required_block(block: Option<pb::Block>) -> Result<pb::Block, Status> {
    block.ok_or_else(|| {
        RpcError::new(ErrorKind::InvalidArgument, "the request names no block").into()
    })
}

/// Ends a stream with an error rather than a clean end the reader could
/// take for all of it; gives up if the reader does not take it promptly.
async fn refuse_for_shutdown<T>(tx: &mpsc::Sender<Result<T, Status>>, ctx: &NodeContext) {
    let err = RpcError::new(
        ErrorKind::Unavailable,
        format!("datanode {} is shutting down", ctx.xfer_addr),
    );
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, tx.send(Err(err.into()))).await;
}

/// How long a stream cut by a shutdown may take to deliver its error.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

type Stream<T> = ReceiverStream<Result<T, Status>>;

#[tonic::async_trait]
impl DataTransfer for DataXceiver {
    type ReadBlockStream = Stream<pb::ReadPacket>;

    async fn read_block(
        &self,
        request: Request<pb::ReadBlockRequest>,
    ) -> Result<Response<Self::ReadBlockStream>, Status> {
        let req = request.into_inner();
        let block = required_block(req.block)?;
        let dataset = Arc::clone(&self.ctx.dataset);
        let mut sender = tokio::task::spawn_blocking(move || {
            BlockSender::open(dataset, &block, req.offset, req.length, req.send_checksums)
        })
        .await
        .map_err(|e| status(e.into()))?
        .map_err(status)?;
        // One packet in the channel while the next is read: one packet ahead.
        let (tx, rx) = mpsc::channel(1);
        let ctx = Arc::clone(&self.ctx);
        let block_id = block.id;
        tokio::spawn(async move {
            let _xceiver = ctx.xceiver();
            loop {
                let next = tokio::select! {
                    r = sender.next_packet_blocking() => r,
                    () = ctx.shutting_down() => {
                        refuse_for_shutdown(&tx, &ctx).await;
                        break;
                    }
                };
                let (s, packet) = match next {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.send(Err(status(e.into()))).await;
                        break;
                    }
                };
                sender = s;
                let item = match packet {
                    // The reader verifies the checksums sent from the meta
                    // file (they are not computed again here) and reports
                    // a corrupt replica to the namenode.
                    Ok(Some(p)) => {
                        ctx.metrics.bytes_read.inc_by(p.data.len() as u64);
                        Ok(p)
                    }
                    Ok(None) => break,
                    Err(e) => {
                        warn!("read failed: {e}");
                        ctx.mark_suspect(block_id);
                        Err(status(e))
                    }
                };
                let failed = item.is_err();
                tokio::select! {
                    sent = tx.send(item) => if sent.is_err() || failed { break },
                    () = ctx.shutting_down() => {
                        refuse_for_shutdown(&tx, &ctx).await;
                        break;
                    }
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn get_replica_visible_length(
        &self,
        request: Request<pb::GetReplicaVisibleLengthRequest>,
    ) -> Result<Response<pb::GetReplicaVisibleLengthResponse>, Status> {
        let block = required_block(request.into_inner().block)?;
        let info = visible_replica(&self.ctx.dataset, &block).map_err(status)?;
        Ok(Response::new(pb::GetReplicaVisibleLengthResponse {
            length: info.visible_length,
        }))
    }

    async fn init_replica_recovery(
        &self,
        request: Request<pb::InitReplicaRecoveryRequest>,
    ) -> Result<Response<pb::InitReplicaRecoveryResponse>, Status> {
        let req = request.into_inner();
        let block = required_block(req.block)?;
        let dataset = Arc::clone(&self.ctx.dataset);
        let (replica, finalized) = tokio::task::spawn_blocking(move || {
            dataset.init_replica_recovery(&block, req.recovery_id)
        })
        .await
        .map_err(|e| status(e.into()))?
        .map_err(status)?;
        Ok(Response::new(pb::InitReplicaRecoveryResponse {
            replica: Some(replica),
            finalized,
        }))
    }

    async fn update_replica_under_recovery(
        &self,
        request: Request<pb::UpdateReplicaUnderRecoveryRequest>,
    ) -> Result<Response<pb::UpdateReplicaUnderRecoveryResponse>, Status> {
        let req = request.into_inner();
        let block = required_block(req.block)?;
        let dataset = Arc::clone(&self.ctx.dataset);
        let (settled, storage_id) = tokio::task::spawn_blocking(move || {
            dataset.recover_replica(&block, req.recovery_id, req.new_length)
        })
        .await
        .map_err(|e| status(e.into()))?
        .map_err(status)?;
        // The namenode learns of it from the primary's commit, and from
        // this report in case the commit is lost.
        self.ctx.reports.received(settled, storage_id.clone());
        Ok(Response::new(pb::UpdateReplicaUnderRecoveryResponse {
            block: Some(settled),
            storage_id,
        }))
    }
}
