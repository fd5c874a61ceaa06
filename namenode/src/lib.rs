//! The Cairn namenode: the whole namespace in memory, the metadata of every
//! block, and the durability that makes both survive a crash.
//!
//! Layout (HDFS names in Rust case):
//! * [`namespace`] — FSDirectory (inode tree), path syntax, the permission
//!   checker, and `ops/` with one file per namespace operation;
//! * [`blocks`] — BlocksMap, BlockManager (reports), the placement policy
//!   and the replication monitor's work;
//! * [`datanodes`] — DatanodeManager, descriptors, heartbeats;
//! * [`lease`], [`safemode`];
//! * [`editlog`] — name directory layout, edit log (group commit), replay,
//!   checkpoints;
//! * [`namesystem`] — all of the above behind one lock, and the single
//!   `apply` used both live and on replay;
//! * [`rpc`] — ClientProtocol and DatanodeProtocol over gRPC;
//! * `fsimage` (load at start, checkpoint), `monitors` (the loops),
//!   `http` (web UI, JSON API, WebHDFS on HDFS's port 9870) and
//!   [`metrics`] (what `/metrics` exports).
//!
//! [`Namenode::start`] loads the newest checkpoint, replays the edit log,
//! serves both protocols on one listener and runs the background loops
//! (heartbeat check, replication monitor, lease monitor, checkpointer).

pub mod blocks;
pub mod config;
pub mod datanodes;
pub mod editlog;
pub mod error;
mod fsimage;
mod http;
pub mod lease;
pub mod metrics;
mod monitors;
pub mod namespace;
pub mod namesystem;
pub mod rpc;
pub mod safemode;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::info;

pub use config::NamenodeConfig;
pub use error::NamenodeError;
pub use metrics::NamenodeMetrics;

use crate::editlog::storage::NnStorage;
use crate::fsimage::{checkpoint, load};
use crate::monitors::spawn_loops;
use crate::namesystem::FsNamesystem;
use crate::rpc::server::RpcServer;

/// Milliseconds since the Unix epoch (inode times, heartbeat times).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Creates a fresh, empty namespace in `name_dir` (HDFS `namenode -format`).
/// Refuses a directory that already holds a namespace unless `force`.
/// Returns the cluster id (given, or generated like "CID-<uuid-ish hex>").
/// The root directory and the first checkpoint are created at the first
/// start, owned by the configured superuser.
pub fn format(
    name_dir: &Path,
    cluster_id: Option<&str>,
    force: bool,
) -> Result<String, NamenodeError> {
    let id = editlog::storage::format(name_dir, cluster_id, force)?;
    info!(name_dir = %name_dir.display(), cluster_id = %id, "formatted a new namespace");
    Ok(id)
}

/// True when `name_dir` holds a formatted namespace.
pub fn is_formatted(name_dir: &Path) -> bool {
    NnStorage::new(name_dir).is_formatted()
}

/// A running namenode.
pub struct Namenode {
    local_addr: SocketAddr,
    cluster_id: String,
    fs: Arc<FsNamesystem>,
    storage: NnStorage,
    metrics: Arc<NamenodeMetrics>,
    started: std::time::Instant,
    stop: watch::Sender<bool>,
    server: Option<RpcServer>,
    loops: Vec<JoinHandle<()>>,
    closed: bool,
}

impl Namenode {
    /// Loads checkpoint + edit log, starts serving ClientProtocol and
    /// DatanodeProtocol on `listener` (reader threads serving both), and
    /// the background loops.
    pub async fn start(
        config: NamenodeConfig,
        listener: tokio::net::TcpListener,
    ) -> Result<Namenode, NamenodeError> {
        config.validate()?;
        let config = Arc::new(config);
        let started = std::time::Instant::now();
        let local_addr = listener
            .local_addr()
            .map_err(|e| NamenodeError::io("cannot read the listener's address", e))?;
        let storage = NnStorage::new(&config.name_dir);
        let load_config = Arc::clone(&config);
        let load_storage = storage.clone();
        let (ns, edit_log) = tokio::task::spawn_blocking(move || load(load_config, &load_storage))
            .await
            .map_err(|e| {
                NamenodeError::Internal(format!("loading the namespace panicked: {e}"))
            })??;
        let cluster_id = ns.cluster_id.clone();
        let fs = Arc::new(FsNamesystem {
            state: namesystem::NamesystemLock::new(ns),
            edit_log,
            config: Arc::clone(&config),
            block_received: Notify::new(),
        });

        let metrics = Arc::new(NamenodeMetrics::new(&fs.edit_log.metrics));
        let (stop, stop_rx) = watch::channel(false);
        let server = RpcServer::start(Arc::clone(&fs), listener, stop_rx.clone(), &metrics)?;
        let loops = spawn_loops(&fs, &storage, &stop_rx);
        info!(addr = %local_addr, cluster_id = %cluster_id, "namenode serving");
        Ok(Namenode {
            local_addr,
            cluster_id,
            fs,
            metrics,
            started,
            storage,
            stop,
            server: Some(server),
            loops,
            closed: false,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// The namesystem itself, for callers in the same process that drive
    /// the RPC handlers directly (`cairn bench nn-ops`, as HDFS's
    /// NNThroughputBenchmark calls the NameNode's RPC server).
    pub fn namesystem(&self) -> Arc<FsNamesystem> {
        Arc::clone(&self.fs)
    }

    /// Serves the web UI, the JSON API, `/metrics` and WebHDFS (HDFS's
    /// port 9870) on `listener` until shutdown.
    pub fn serve_http(&mut self, listener: tokio::net::TcpListener) {
        let rpc_addr = self.local_addr;
        let ctx = http::HttpContext {
            fs: Arc::clone(&self.fs),
            metrics: Arc::clone(&self.metrics),
            clients: cairn_client::ClientPool::default(),
            started: self.started,
            rpc_addr,
            self_rpc: self_rpc_addr(rpc_addr),
        };
        let task = http::spawn_http(ctx, listener, self.stop.subscribe());
        self.loops.push(task);
    }

    /// The namenode's metrics (RPC counts and latencies, edit log syncs).
    pub fn metrics(&self) -> &NamenodeMetrics {
        &self.metrics
    }

    /// Stops serving, stops background loops, checkpoints, syncs and closes
    /// the edit log.
    pub async fn shutdown(mut self) -> Result<(), NamenodeError> {
        self.closed = true;
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.loops) {
            let _ = task.await;
        }
        if let Some(server) = self.server.take() {
            server.stopped(Duration::from_secs(10)).await;
        }
        let result = checkpoint(&self.fs, &self.storage).await;
        let edit_log = Arc::clone(&self.fs.edit_log);
        let closed = tokio::task::spawn_blocking(move || edit_log.close())
            .await
            .map_err(|e| NamenodeError::Internal(format!("closing the edit log panicked: {e}")))?;
        result?;
        closed?;
        info!("namenode stopped");
        Ok(())
    }
}

impl Drop for Namenode {
    /// Dropped without `shutdown`: behaves like a crash (tests rely on
    /// this). Serving stops, and the edit log stops where it last synced.
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let _ = self.stop.send(true);
        // Dropping the server closes its connections at once.
        self.server = None;
        for task in &self.loops {
            task.abort();
        }
        self.fs.edit_log.abandon();
    }
}

/// Where the namenode reaches its own RPC port: a wildcard listener is
/// reached on loopback.
fn self_rpc_addr(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
    } else {
        addr
    }
}
