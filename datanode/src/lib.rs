//! The Cairn datanode: holds replicas of blocks on local volumes and moves
//! their bytes (DESIGN.md §4).
//!
//! Layout, by HDFS concept:
//! * [`storage`] — DataStorage: each volume's `VERSION` and formatting;
//! * [`dataset`] — FsDatasetImpl: the replica map and every change of a
//!   replica on disk (volumes, meta files, the rbw writer);
//! * [`xceiver`] — DataXceiver: WriteBlock over a plain TCP
//!   DataTransferProtocol and the DataTransfer gRPC service, both on the
//!   data-transfer port, with
//!   [`receiver`] (BlockReceiver, the write pipeline), [`downstream`] (the
//!   next datanode of a pipeline) and [`sender`] (BlockSender, reads);
//! * [`scanner`] — BlockScanner/VolumeScanner: re-verifies every replica
//!   over the scan period and reports corrupt ones;
//! * [`actor`] — BPServiceActor: handshake, registration, heartbeats and
//!   block reports, with [`ibr`] (incremental reports) and [`commands`]
//!   (what the namenode orders, including [`transfer`] for re-replication).
//!
//! * [`http`] — the HTTP port: a read-only page, `/metrics` ([`metrics`])
//!   and the data half of WebHDFS.
//!
//! [`Datanode::start`] ties them together; tests and `cairn server` run
//! several in one process.

pub mod actor;
pub mod commands;
pub mod config;
pub mod dataset;
pub mod downstream;
pub mod error;
pub mod http;
pub mod ibr;
pub mod metrics;
pub mod net;
pub mod node;
pub mod receiver;
pub mod recovery;
pub mod scanner;
pub mod sender;
pub mod storage;
pub mod transfer;
pub mod xceiver;

use std::net::SocketAddr;
use std::sync::Arc;

use cairn_proto::{CONNECTION_WINDOW, STREAM_WINDOW, pb};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

pub use config::DatanodeConfig;
pub use error::DatanodeError;

use crate::actor::{ActorTiming, BpServiceActor};
use crate::dataset::FsDataset;
use crate::node::NodeContext;
use crate::scanner::{BlockScanner, VolumeScanStatus};
use crate::xceiver::DataXceiver;

/// How long a shutdown waits for open connections to finish.
const SHUTDOWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A running datanode.
#[derive(Debug)]
pub struct Datanode {
    local_addr: SocketAddr,
    datanode_uuid: String,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
    /// Accepts on the data-transfer port and sorts gRPC from WriteBlock.
    accept: JoinHandle<()>,
    /// Ends (None) once every data-transfer connection is closed: each
    /// holds a clone of its sender.
    connections_closed: tokio::sync::mpsc::Receiver<()>,
    actor: JoinHandle<()>,
    scanner: Arc<BlockScanner>,
    scanner_tasks: Vec<JoinHandle<()>>,
    http: Option<JoinHandle<()>>,
}

impl Datanode {
    /// Connects to the namenode (retrying with backoff while it is
    /// unreachable, logging each failure at warn), handshakes
    /// (VersionRequest), loads or formats its volumes, registers, sends a
    /// full block report and starts serving DataTransfer on `listener` plus
    /// its background loops.
    ///
    /// A volume formatted for another cluster id is refused with an error
    /// naming the directory and both cluster ids (HDFS's wording).
    pub async fn start(
        config: DatanodeConfig,
        listener: tokio::net::TcpListener,
    ) -> Result<Datanode, DatanodeError> {
        Self::start_with_http(config, listener, None).await
    }

    /// [`Datanode::start`], also serving the HTTP port (page, `/metrics`,
    /// WebHDFS data) on `http` and advertising it to the namenode.
    pub async fn start_with_http(
        config: DatanodeConfig,
        listener: tokio::net::TcpListener,
        http: Option<tokio::net::TcpListener>,
    ) -> Result<Datanode, DatanodeError> {
        config.validate()?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| DatanodeError::io("the data transfer listener", e))?;
        let channel = net::endpoint(&config.namenode_uri()?)?
            .timeout(actor::RPC_TIMEOUT)
            .connect_lazy();
        let mut client = net::namenode_client(channel);
        let namespace = actor::handshake(&mut client).await;
        info!(cluster_id = %namespace.cluster_id, namenode = %config.namenode, "handshake with the namenode done");

        let dirs = config.data_dirs.clone();
        let cluster_id = namespace.cluster_id.clone();
        let settings = config.dataset_settings();
        let dataset = tokio::task::spawn_blocking(move || {
            let storages = storage::load_or_format(&dirs, &cluster_id)?;
            FsDataset::load(storages, settings)
        })
        .await??;
        let datanode_uuid = dataset.datanode_uuid().to_string();

        let xfer_addr = format!("{}:{}", config.host, local_addr.port());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let scanner = Arc::new(BlockScanner::new(&dataset, config.scanner_settings()));
        let ctx = Arc::new(NodeContext::new(
            Arc::clone(&dataset),
            Arc::clone(&scanner),
            xfer_addr,
            shutdown_rx.clone(),
        ));

        // Serve before registering, so the namenode never sends a client to
        // a datanode that does not answer yet.
        let http_port = match &http {
            Some(listener) => listener
                .local_addr()
                .map_err(|e| DatanodeError::io("the HTTP listener", e))?
                .port(),
            None => 0,
        };
        // One port, two protocols: WriteBlock connections go to the
        // xceiver, HTTP/2 to the gRPC server.
        let wait_for_shutdown = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let (open_connection, connections_closed) = tokio::sync::mpsc::channel::<()>(1);
        let (accept, incoming) = cairn_proto::data_transfer::demultiplex(
            listener,
            wait_for_shutdown(shutdown_rx.clone()),
            {
                let ctx = Arc::clone(&ctx);
                move |stream, peer| {
                    let serve = xceiver::serve_data_transfer(Arc::clone(&ctx), stream, peer);
                    let open = open_connection.clone();
                    tokio::spawn(async move {
                        serve.await;
                        drop(open);
                    });
                }
            },
        );
        let server = tokio::spawn(
            tonic::transport::Server::builder()
                .tcp_nodelay(true)
                .layer(ctx.metrics.rpc.layer())
                .initial_stream_window_size(STREAM_WINDOW)
                .initial_connection_window_size(CONNECTION_WINDOW)
                .add_service(DataXceiver::new(Arc::clone(&ctx)).into_server())
                .serve_with_incoming_shutdown(incoming, wait_for_shutdown(shutdown_rx.clone())),
        );

        let registration = pb::DatanodeRegistration {
            datanode_uuid: datanode_uuid.clone(),
            host: config.host.clone(),
            xfer_port: u32::from(local_addr.port()),
            http_port: u32::from(http_port),
            cluster_id: namespace.cluster_id.clone(),
            storage_ids: dataset.storage_ids(),
        };
        let timing = ActorTiming {
            heartbeat_interval: config.heartbeat_interval,
            block_report_interval: config.block_report_interval,
            incremental_report_delay: config.incremental_report_delay,
        };
        let mut actor = BpServiceActor::new(Arc::clone(&ctx), client, registration, timing);
        if let Err(e) = actor.register_at_start().await {
            let _ = shutdown.send(true);
            if let Ok(Err(serve)) = server.await {
                warn!("data transfer server: {serve}");
            }
            let _ = accept.await;
            return Err(e);
        }
        let actor = tokio::spawn(actor.run());
        let scanner_tasks = scanner.spawn(&ctx);
        let http = http.map(|listener| {
            let http_ctx = http::HttpContext {
                node: Arc::clone(&ctx),
                datanode_uuid: datanode_uuid.clone(),
                clients: cairn_client::ClientPool::default(),
            };
            http::spawn_http(http_ctx, listener, shutdown_rx.clone())
        });
        info!(%local_addr, uuid = %datanode_uuid, "datanode started");
        Ok(Datanode {
            local_addr,
            datanode_uuid,
            shutdown,
            server,
            accept,
            connections_closed,
            actor,
            scanner,
            scanner_tasks,
            http,
        })
    }

    /// The address the DataTransfer service listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// This datanode's uuid, kept in every volume's VERSION file.
    pub fn datanode_uuid(&self) -> &str {
        &self.datanode_uuid
    }

    /// The block scanner's progress on each volume.
    pub fn scanner_status(&self) -> Vec<VolumeScanStatus> {
        self.scanner.status()
    }

    /// Stops serving and the background loops; replicas being written stay
    /// in rbw/ (as after a crash).
    pub async fn shutdown(self) -> Result<(), DatanodeError> {
        let _ = self.shutdown.send(true);
        self.actor.await?;
        // The listener closes with the accept loop; the WriteBlock
        // connections end at the signal, with an error ack.
        self.accept.await?;
        let mut connections_closed = self.connections_closed;
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, connections_closed.recv())
            .await
            .is_err()
        {
            warn!("data transfer connections still open after {SHUTDOWN_TIMEOUT:?}");
        }
        for task in self.scanner_tasks {
            task.await?;
        }
        if let Some(http) = self.http {
            // Bounded like the gRPC server: a download in flight may hold
            // the graceful stop open.
            if tokio::time::timeout(SHUTDOWN_TIMEOUT, http).await.is_err() {
                warn!("the HTTP server did not stop within {SHUTDOWN_TIMEOUT:?}");
            }
        }
        // Our streams end at the signal; a peer that stops reading could
        // still hold a connection open, so the graceful stop is bounded.
        let mut server = self.server;
        match tokio::time::timeout(SHUTDOWN_TIMEOUT, &mut server).await {
            Ok(served) => served?.map_err(DatanodeError::Serve)?,
            Err(_) => {
                warn!(
                    "connections still open after {SHUTDOWN_TIMEOUT:?}; closing the server anyway"
                );
                server.abort();
            }
        }
        info!(uuid = %self.datanode_uuid, "datanode stopped");
        Ok(())
    }
}
