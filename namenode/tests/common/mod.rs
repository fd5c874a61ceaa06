//! Shared test helpers: a namenode on 127.0.0.1:0 over a temp name dir,
//! gRPC clients that name their user, and a fake datanode that speaks the
//! real DatanodeProtocol.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use cairn_namenode::{Namenode, NamenodeConfig};
use cairn_proto::pb;
use cairn_proto::pb::client_protocol_client::ClientProtocolClient;
use cairn_proto::pb::datanode_protocol_client::DatanodeProtocolClient;
use cairn_proto::{ErrorKind, RpcError};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

pub const SUPERUSER: &str = "hdfs";

/// Test settings: fast loops, a known superuser.
pub fn config(dir: &Path) -> NamenodeConfig {
    NamenodeConfig {
        name_dir: dir.join("name"),
        superuser: SUPERUSER.into(),
        heartbeat_interval: Duration::from_millis(100),
        replication_interval: Duration::from_millis(50),
        default_block_size: 1 << 20,
        ..NamenodeConfig::default()
    }
}

pub async fn start(config: NamenodeConfig) -> Namenode {
    if !cairn_namenode::is_formatted(&config.name_dir) {
        cairn_namenode::format(&config.name_dir, Some("CID-test"), false).unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Namenode::start(config, listener).await.unwrap()
}

#[derive(Clone)]
pub struct User(MetadataValue<Ascii>);

impl Interceptor for User {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut()
            .insert(cairn_proto::identity::USER_METADATA, self.0.clone());
        Ok(req)
    }
}

pub type Client = ClientProtocolClient<InterceptedService<Channel, User>>;

async fn channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .tcp_nodelay(true)
        .connect()
        .await
        .unwrap()
}

pub async fn client(addr: SocketAddr, user: &str) -> Client {
    ClientProtocolClient::with_interceptor(channel(addr).await, User(user.parse().unwrap()))
}

pub async fn anonymous(addr: SocketAddr) -> ClientProtocolClient<Channel> {
    ClientProtocolClient::new(channel(addr).await)
}

/// The typed error of a failed call.
pub fn err<T: std::fmt::Debug>(result: Result<tonic::Response<T>, tonic::Status>) -> RpcError {
    RpcError::from(result.expect_err("the call should fail"))
}

pub fn kind<T: std::fmt::Debug>(result: Result<tonic::Response<T>, tonic::Status>) -> ErrorKind {
    err(result).kind
}

/// Polls `f` until it yields a value (readiness by polling, never by
/// sleeping a guessed amount); gives up after a minute.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..6000 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("gave up waiting for {what}");
}

pub fn create_req(path: &str, client: &str) -> pb::CreateRequest {
    pb::CreateRequest {
        path: path.into(),
        permission: 0o644,
        client_name: client.into(),
        overwrite: false,
        create_parent: true,
        replication: 0,
        block_size: 0,
    }
}

/// addBlock for a file being written, with no excluded nodes.
pub fn add_block_req(
    path: &str,
    client: &str,
    previous: Option<pb::Block>,
    file_id: u64,
) -> pb::AddBlockRequest {
    pb::AddBlockRequest {
        path: path.into(),
        client_name: client.into(),
        previous,
        file_id,
        ..Default::default()
    }
}

pub async fn mkdirs(c: &mut Client, path: &str, mode: u32) {
    c.mkdirs(pb::MkdirsRequest {
        path: path.into(),
        permission: mode,
        create_parent: true,
    })
    .await
    .unwrap();
}

pub async fn stat(c: &mut Client, path: &str) -> Option<pb::FileStatus> {
    c.get_file_info(pb::GetFileInfoRequest {
        path: path.into(),
        follow_symlink: true,
    })
    .await
    .unwrap()
    .into_inner()
    .status
}

pub async fn list(c: &mut Client, path: &str) -> Vec<String> {
    c.get_listing(pb::GetListingRequest {
        path: path.into(),
        start_after: String::new(),
        need_location: false,
    })
    .await
    .unwrap()
    .into_inner()
    .entries
    .into_iter()
    .map(|e| e.name)
    .collect()
}

/// A datanode that is only its DatanodeProtocol side.
pub struct FakeDatanode {
    pub uuid: String,
    pub host: String,
    pub port: u32,
    pub rpc: DatanodeProtocolClient<Channel>,
}

impl FakeDatanode {
    pub async fn register(addr: SocketAddr, uuid: &str, port: u32) -> Self {
        Self::register_in(addr, uuid, "127.0.0.1", port, "CID-test")
            .await
            .unwrap()
    }

    pub async fn register_in(
        addr: SocketAddr,
        uuid: &str,
        host: &str,
        port: u32,
        cluster_id: &str,
    ) -> Result<Self, RpcError> {
        let mut rpc = DatanodeProtocolClient::new(channel(addr).await);
        rpc.register_datanode(pb::RegisterDatanodeRequest {
            registration: Some(pb::DatanodeRegistration {
                datanode_uuid: uuid.into(),
                host: host.into(),
                xfer_port: port,
                http_port: 0,
                cluster_id: cluster_id.into(),
                storage_ids: vec![format!("DS-{uuid}")],
            }),
        })
        .await?;
        let mut dn = Self {
            uuid: uuid.into(),
            host: host.into(),
            port,
            rpc,
        };
        dn.heartbeat().await?;
        Ok(dn)
    }

    pub async fn heartbeat(&mut self) -> Result<Vec<pb::DatanodeCommand>, RpcError> {
        Ok(self
            .rpc
            .send_heartbeat(pb::HeartbeatRequest {
                datanode_uuid: self.uuid.clone(),
                capacity: 1 << 40,
                dfs_used: 0,
                remaining: 1 << 40,
                non_dfs_used: 0,
                xceiver_count: 0,
                failed_volumes: 0,
            })
            .await?
            .into_inner()
            .commands)
    }

    pub async fn full_report(&mut self, blocks: &[pb::Block]) {
        self.rpc
            .block_report(pb::BlockReportRequest {
                datanode_uuid: self.uuid.clone(),
                replicas: blocks
                    .iter()
                    .map(|b| pb::ReportedReplica {
                        block: Some(*b),
                        state: pb::ReplicaState::Finalized as i32,
                        storage_id: format!("DS-{}", self.uuid),
                    })
                    .collect(),
            })
            .await
            .unwrap();
    }

    pub async fn received(&mut self, block: pb::Block) {
        self.incremental(block, pb::ReceivedDeletedStatus::Received)
            .await;
    }

    pub async fn deleted(&mut self, block: pb::Block) {
        self.incremental(block, pb::ReceivedDeletedStatus::Deleted)
            .await;
    }

    /// As the primary of a block recovery: the replicas are settled.
    pub async fn commit_block_synchronization(
        &mut self,
        request: pb::CommitBlockSynchronizationRequest,
    ) -> Result<(), RpcError> {
        self.rpc
            .commit_block_synchronization(request)
            .await
            .map(|_| ())
            .map_err(RpcError::from)
    }

    async fn incremental(&mut self, block: pb::Block, status: pb::ReceivedDeletedStatus) {
        self.rpc
            .block_received_and_deleted(pb::BlockReceivedAndDeletedRequest {
                datanode_uuid: self.uuid.clone(),
                blocks: vec![pb::ReceivedDeletedBlock {
                    block: Some(block),
                    status: status as i32,
                    storage_id: format!("DS-{}", self.uuid),
                }],
            })
            .await
            .unwrap();
    }
}

/// Writes a one-block file through the namenode as a client would (no
/// bytes move: the fake datanodes just report the replica), and returns
/// its block.
pub async fn write_file(
    c: &mut Client,
    dns: &mut [FakeDatanode],
    path: &str,
    len: u64,
    replication: u32,
) -> pb::Block {
    let mut req = create_req(path, "DFSClient_writer");
    req.replication = replication;
    let status = c.create(req).await.unwrap().into_inner().status.unwrap();
    let lb = c
        .add_block(pb::AddBlockRequest {
            path: path.into(),
            client_name: "DFSClient_writer".into(),
            previous: None,
            excluded_nodes: vec![],
            file_id: status.inode_id,
            client_host: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut block = lb.block.unwrap();
    block.num_bytes = len;
    for loc in &lb.locations {
        let dn = dns
            .iter_mut()
            .find(|d| d.uuid == loc.datanode_uuid)
            .unwrap();
        dn.received(block).await;
    }
    let done = c
        .complete(pb::CompleteRequest {
            path: path.into(),
            client_name: "DFSClient_writer".into(),
            last: Some(block),
            file_id: status.inode_id,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(done.completed);
    block
}
