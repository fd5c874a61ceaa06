//! A namenode for the tests only: the real `DatanodeProtocol` service from
//! cairn_proto, served on 127.0.0.1:0, that records what datanodes tell it
//! and hands out the commands a test queues.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cairn_proto::pb::datanode_protocol_server::{DatanodeProtocol, DatanodeProtocolServer};
use cairn_proto::{ErrorKind, RpcError, pb};
use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

/// What the fake namenode has been told.
#[derive(Debug, Default)]
pub struct NnState {
    pub registrations: Vec<pb::DatanodeRegistration>,
    pub block_reports: Vec<pb::BlockReportRequest>,
    /// (datanode uuid, report), in arrival order.
    pub incremental: Vec<(String, pb::ReceivedDeletedBlock)>,
    pub heartbeats: HashMap<String, Vec<pb::HeartbeatRequest>>,
    /// Commands for the next heartbeat of a datanode.
    pub commands: HashMap<String, Vec<pb::DatanodeCommand>>,
    /// Registered datanodes; others get UNREGISTERED_DATANODE.
    pub known: HashSet<String>,
    /// Block recoveries reported by their primary.
    pub commits: Vec<pb::CommitBlockSynchronizationRequest>,
}

#[derive(Clone)]
struct Service {
    cluster_id: String,
    state: Arc<Mutex<NnState>>,
}

fn unregistered(uuid: &str) -> Status {
    RpcError::new(
        ErrorKind::UnregisteredDatanode,
        format!("datanode {uuid} is not registered"),
    )
    .into()
}

#[tonic::async_trait]
impl DatanodeProtocol for Service {
    async fn version_request(
        &self,
        _: Request<pb::VersionRequestRequest>,
    ) -> Result<Response<pb::NamespaceInfo>, Status> {
        Ok(Response::new(pb::NamespaceInfo {
            cluster_id: self.cluster_id.clone(),
            software_version: "test".into(),
        }))
    }

    async fn register_datanode(
        &self,
        request: Request<pb::RegisterDatanodeRequest>,
    ) -> Result<Response<pb::RegisterDatanodeResponse>, Status> {
        let registration = request.into_inner().registration.unwrap_or_default();
        let mut state = self.state.lock();
        state.known.insert(registration.datanode_uuid.clone());
        state.registrations.push(registration.clone());
        Ok(Response::new(pb::RegisterDatanodeResponse {
            registration: Some(registration),
        }))
    }

    async fn send_heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let hb = request.into_inner();
        let mut state = self.state.lock();
        if !state.known.contains(&hb.datanode_uuid) {
            return Err(unregistered(&hb.datanode_uuid));
        }
        let commands = state.commands.remove(&hb.datanode_uuid).unwrap_or_default();
        state
            .heartbeats
            .entry(hb.datanode_uuid.clone())
            .or_default()
            .push(hb);
        Ok(Response::new(pb::HeartbeatResponse { commands }))
    }

    async fn block_report(
        &self,
        request: Request<pb::BlockReportRequest>,
    ) -> Result<Response<pb::BlockReportResponse>, Status> {
        let report = request.into_inner();
        let mut state = self.state.lock();
        if !state.known.contains(&report.datanode_uuid) {
            return Err(unregistered(&report.datanode_uuid));
        }
        state.block_reports.push(report);
        Ok(Response::new(pb::BlockReportResponse::default()))
    }

    async fn block_received_and_deleted(
        &self,
        request: Request<pb::BlockReceivedAndDeletedRequest>,
    ) -> Result<Response<pb::BlockReceivedAndDeletedResponse>, Status> {
        let report = request.into_inner();
        let mut state = self.state.lock();
        if !state.known.contains(&report.datanode_uuid) {
            return Err(unregistered(&report.datanode_uuid));
        }
        for block in report.blocks {
            state
                .incremental
                .push((report.datanode_uuid.clone(), block));
        }
        Ok(Response::new(pb::BlockReceivedAndDeletedResponse {}))
    }

    async fn report_bad_blocks(
        &self,
        _: Request<pb::DatanodeReportBadBlocksRequest>,
    ) -> Result<Response<pb::DatanodeReportBadBlocksResponse>, Status> {
        Ok(Response::new(pb::DatanodeReportBadBlocksResponse {}))
    }

    async fn commit_block_synchronization(
        &self,
        request: Request<pb::CommitBlockSynchronizationRequest>,
    ) -> Result<Response<pb::CommitBlockSynchronizationResponse>, Status> {
        self.state.lock().commits.push(request.into_inner());
        Ok(Response::new(pb::CommitBlockSynchronizationResponse {}))
    }
}

/// A running fake namenode.
pub struct FakeNamenode {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<NnState>>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl FakeNamenode {
    pub async fn start(cluster_id: &str) -> FakeNamenode {
        Self::start_on("127.0.0.1:0".parse().unwrap(), cluster_id).await
    }

    /// A fresh namenode (it knows no datanode) at a given address, as after
    /// a restart.
    pub async fn start_on(addr: SocketAddr, cluster_id: &str) -> FakeNamenode {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(NnState::default()));
        let service = Service {
            cluster_id: cluster_id.to_string(),
            state: Arc::clone(&state),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(DatanodeProtocolServer::new(service))
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                    let _ = stopped.await;
                }),
        );
        FakeNamenode {
            addr,
            state,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Stops serving and waits until the port is free.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    /// Queues a command for the datanode's next heartbeat.
    pub fn command(&self, uuid: &str, command: pb::datanode_command::Command) {
        self.state
            .lock()
            .commands
            .entry(uuid.to_string())
            .or_default()
            .push(pb::DatanodeCommand {
                command: Some(command),
            });
    }

    /// Polls the state until `f` finds what it looks for.
    pub async fn wait_for<T>(&self, what: &str, f: impl Fn(&NnState) -> Option<T>) -> T {
        poll(what, || f(&self.state.lock())).await
    }

    /// The incremental report of `block_id` with `status` from `uuid`.
    pub async fn wait_for_report(
        &self,
        uuid: &str,
        block_id: u64,
        status: pb::ReceivedDeletedStatus,
    ) -> pb::Block {
        self.wait_for(
            &format!("{status:?} report of blk_{block_id} from {uuid}"),
            |s| {
                s.incremental.iter().find_map(|(u, r)| {
                    let block = r.block.as_ref()?;
                    (u == uuid && block.id == block_id && r.status == status as i32)
                        .then_some(*block)
                })
            },
        )
        .await
    }

    /// An incremental report from `uuid` of a block at generation stamp
    /// `gs` (an append's or a recovery's new stamp).
    pub async fn wait_for_stamp(&self, uuid: &str, gs: u64) {
        self.wait_for(&format!("a report at stamp {gs} from {uuid}"), |s| {
            s.incremental
                .iter()
                .find(|(u, r)| {
                    u == uuid && r.block.as_ref().is_some_and(|b| b.generation_stamp == gs)
                })
                .map(|_| ())
        })
        .await
    }
}

impl Drop for FakeNamenode {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Polls `f` every few milliseconds until it returns something; gives up
/// (failing the test) after a minute, far beyond any healthy wait.
pub async fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
