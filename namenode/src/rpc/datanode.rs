//! DatanodeProtocol over gRPC.

use std::sync::Arc;

use cairn_proto::pb;
use cairn_proto::pb::datanode_protocol_server::DatanodeProtocol;
use tonic::{Request, Response, Status};

use crate::namesystem::FsNamesystem;

pub struct DatanodeProtocolService {
    fs: Arc<FsNamesystem>,
}

impl DatanodeProtocolService {
    pub fn new(fs: Arc<FsNamesystem>) -> Self {
        Self { fs }
    }
}

#[tonic::async_trait]
impl DatanodeProtocol for DatanodeProtocolService {
    async fn version_request(
        &self,
        _request: Request<pb::VersionRequestRequest>,
    ) -> Result<Response<pb::NamespaceInfo>, Status> {
        let cluster_id = self.fs.state.read().cluster_id.clone();
        Ok(Response::new(pb::NamespaceInfo {
            cluster_id,
            software_version: env!("CARGO_PKG_VERSION").to_string(),
        }))
    }

    async fn register_datanode(
        &self,
        request: Request<pb::RegisterDatanodeRequest>,
    ) -> Result<Response<pb::RegisterDatanodeResponse>, Status> {
        let reg = request.into_inner().registration.unwrap_or_default();
        let registration = self.fs.state.write().register_datanode(&reg)?;
        Ok(Response::new(pb::RegisterDatanodeResponse {
            registration: Some(registration),
        }))
    }

    async fn send_heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let req = request.into_inner();
        let commands = self.fs.state.write().heartbeat(&req)?;
        Ok(Response::new(pb::HeartbeatResponse { commands }))
    }

    async fn block_report(
        &self,
        request: Request<pb::BlockReportRequest>,
    ) -> Result<Response<pb::BlockReportResponse>, Status> {
        let req = request.into_inner();
        let txid = self.fs.state.write().block_report(&req)?;
        self.fs.block_received.notify_waiters();
        self.fs.sync(txid).await?;
        Ok(Response::new(pb::BlockReportResponse {
            commands: Vec::new(),
        }))
    }

    async fn block_received_and_deleted(
        &self,
        request: Request<pb::BlockReceivedAndDeletedRequest>,
    ) -> Result<Response<pb::BlockReceivedAndDeletedResponse>, Status> {
        let req = request.into_inner();
        let txid = self.fs.state.write().block_received_and_deleted(&req)?;
        self.fs.block_received.notify_waiters();
        self.fs.sync(txid).await?;
        Ok(Response::new(pb::BlockReceivedAndDeletedResponse {}))
    }

    async fn report_bad_blocks(
        &self,
        request: Request<pb::DatanodeReportBadBlocksRequest>,
    ) -> Result<Response<pb::DatanodeReportBadBlocksResponse>, Status> {
        let req = request.into_inner();
        self.fs
            .state
            .write()
            .report_bad_blocks(&req.datanode_uuid, &req.blocks)?;
        Ok(Response::new(pb::DatanodeReportBadBlocksResponse {}))
    }

    async fn commit_block_synchronization(
        &self,
        request: Request<pb::CommitBlockSynchronizationRequest>,
    ) -> Result<Response<pb::CommitBlockSynchronizationResponse>, Status> {
        let req = request.into_inner();
        let txid = self.fs.state.write().commit_block_synchronization(&req)?;
        self.fs.block_received.notify_waiters();
        self.fs.sync(txid).await?;
        Ok(Response::new(pb::CommitBlockSynchronizationResponse {}))
    }
}
