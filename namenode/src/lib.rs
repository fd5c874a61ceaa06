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
//! * [`rpc`] — ClientProtocol and DatanodeProtocol over gRPC.
//!
//! [`Namenode::start`] loads the newest checkpoint, replays the edit log,
//! serves both protocols on one listener and runs the background loops
//! (heartbeat check, replication monitor, lease monitor, checkpointer).

pub mod blocks;
pub mod config;
pub mod datanodes;
pub mod editlog;
pub mod error;
pub mod lease;
pub mod namespace;
pub mod namesystem;
pub mod rpc;
pub mod safemode;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_proto::pb::client_protocol_server::ClientProtocolServer;
use cairn_proto::pb::datanode_protocol_server::DatanodeProtocolServer;
use cairn_proto::{CONNECTION_WINDOW, MAX_MESSAGE_SIZE, STREAM_WINDOW};
use futures::StreamExt;
use parking_lot::RwLock;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tracing::{error, info, warn};

pub use config::NamenodeConfig;
pub use error::NamenodeError;

use crate::editlog::storage::NnStorage;
use crate::editlog::writer::EditLog;
use crate::editlog::{image, loader};
use crate::namesystem::{FsNamesystem, Namesystem};

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
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
    loops: Vec<JoinHandle<()>>,
    closed: bool,
}

impl Namenode {
    /// Loads checkpoint + edit log, starts serving ClientProtocol and
    /// DatanodeProtocol on `listener` (one tonic server, both services), and
    /// the background loops.
    pub async fn start(
        config: NamenodeConfig,
        listener: tokio::net::TcpListener,
    ) -> Result<Namenode, NamenodeError> {
        config.validate()?;
        let config = Arc::new(config);
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
            state: RwLock::new(ns),
            edit_log,
            config: Arc::clone(&config),
            block_received: Notify::new(),
        });

        let (stop, stop_rx) = watch::channel(false);
        let server = spawn_server(Arc::clone(&fs), listener, stop_rx.clone());
        let loops = spawn_loops(&fs, &storage, &stop_rx);
        info!(addr = %local_addr, cluster_id = %cluster_id, "namenode serving");
        Ok(Namenode {
            local_addr,
            cluster_id,
            fs,
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

    /// Stops serving, stops background loops, checkpoints, syncs and closes
    /// the edit log.
    pub async fn shutdown(mut self) -> Result<(), NamenodeError> {
        self.closed = true;
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.loops) {
            let _ = task.await;
        }
        if let Some(server) = self.server.take() {
            match tokio::time::timeout(Duration::from_secs(10), server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => warn!("gRPC server stopped with an error: {e}"),
                Ok(Err(e)) => warn!("gRPC server task failed: {e}"),
                Err(_) => warn!("gRPC server did not stop within 10 s; dropping it"),
            }
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
        if let Some(server) = self.server.take() {
            server.abort();
        }
        for task in &self.loops {
            task.abort();
        }
        self.fs.edit_log.abandon();
    }
}

/// Loads the newest valid checkpoint, replays the log, and opens a new
/// edit log segment.
fn load(
    config: Arc<NamenodeConfig>,
    storage: &NnStorage,
) -> Result<(Namesystem, Arc<EditLog>), NamenodeError> {
    if !storage.is_formatted() {
        return Err(NamenodeError::NotFormatted(config.name_dir.clone()));
    }
    let cluster_id = storage.read_version()?;
    let seen_txid = storage.read_seen_txid()?;
    let mut ns = Namesystem::new(Arc::clone(&config), cluster_id.clone());

    let images = storage.images()?;
    let mut image_txid = 0;
    let mut loaded = false;
    let mut first_error = None;
    for (txid, path) in &images {
        match image::load(path) {
            Ok(snapshot) => {
                if snapshot.header.cluster_id != cluster_id {
                    return Err(NamenodeError::CorruptStorage {
                        path: path.clone(),
                        detail: format!(
                            "the checkpoint belongs to cluster {}, VERSION says {cluster_id}",
                            snapshot.header.cluster_id
                        ),
                    });
                }
                ns.load_snapshot(snapshot)?;
                image_txid = *txid;
                loaded = true;
                info!(file = %path.display(), txid, "loaded checkpoint");
                break;
            }
            Err(e) => {
                warn!("skipping an unreadable checkpoint: {e}");
                first_error.get_or_insert(e);
            }
        }
    }
    if !loaded {
        if let Some(e) = first_error {
            return Err(e);
        }
        if seen_txid > 1 {
            return Err(NamenodeError::CorruptStorage {
                path: storage.current().to_path_buf(),
                detail: format!("no checkpoint (fsimage_*) found, but seen_txid is {seen_txid}"),
            });
        }
    }

    let outcome = loader::replay(storage, image_txid, |record| {
        let op = record.op.ok_or_else(|| {
            NamenodeError::Internal(format!("transaction {} has no op", record.txid))
        })?;
        ns.apply(&op)
    })?;
    if outcome.last_txid + 1 < seen_txid {
        return Err(NamenodeError::CorruptStorage {
            path: storage.current().join("seen_txid"),
            detail: format!(
                "the edit log ends at transaction {} but transactions up to {} were seen: edit log segments are missing",
                outcome.last_txid,
                seen_txid - 1
            ),
        });
    }
    info!(
        checkpoint_txid = image_txid,
        replayed = outcome.records,
        last_txid = outcome.last_txid,
        inodes = ns.dir.len(),
        blocks = ns.blocks.map.len(),
        "namespace loaded"
    );
    loader::finalize_leftovers(storage, outcome.in_progress)?;
    if !loaded {
        // Pin the first image (and so the root's owner) right away.
        image::save(storage, &ns.snapshot(outcome.last_txid))?;
    }
    let edit_log = Arc::new(EditLog::open(storage.clone(), outcome.last_txid + 1)?);
    ns.journal = Some(Arc::clone(&edit_log));
    ns.update_safe_mode();
    Ok((ns, edit_log))
}

fn spawn_server(
    fs: Arc<FsNamesystem>,
    listener: tokio::net::TcpListener,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<Result<(), tonic::transport::Error>> {
    let client =
        ClientProtocolServer::new(rpc::client::ClientProtocolService::new(Arc::clone(&fs)))
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
    let datanode = DatanodeProtocolServer::new(rpc::datanode::DatanodeProtocolService::new(fs))
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        if let Ok(stream) = &conn
            && let Err(e) = stream.set_nodelay(true)
        {
            warn!("cannot set TCP_NODELAY: {e}");
        }
        conn
    });
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .tcp_nodelay(true)
            .add_service(client)
            .add_service(datanode)
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
    })
}

/// Runs `tick` every `period` until stopped.
fn spawn_loop<F, Fut>(
    period: Duration,
    mut stop: watch::Receiver<bool>,
    mut tick: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period.max(Duration::from_millis(10)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = interval.tick() => {}
            }
            tick().await;
        }
    })
}

fn spawn_loops(
    fs: &Arc<FsNamesystem>,
    storage: &NnStorage,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let config = Arc::clone(&fs.config);
    let mut loops = Vec::new();

    // HeartbeatManager: dead datanodes, and safe mode's extension clock.
    let f = Arc::clone(fs);
    let period = config.heartbeat_interval.min(Duration::from_secs(1));
    loops.push(spawn_loop(period, stop.clone(), move || {
        let f = Arc::clone(&f);
        async move {
            let mut ns = f.state.write();
            ns.check_heartbeats();
            ns.update_safe_mode();
        }
    }));

    // RedundancyMonitor.
    let f = Arc::clone(fs);
    loops.push(spawn_loop(
        config.replication_interval,
        stop.clone(),
        move || {
            let f = Arc::clone(&f);
            async move {
                let mut guard = f.state.write();
                let ns = &mut *guard;
                let in_safe_mode = ns.safemode.is_on();
                ns.blocks.compute_redundancy_work(
                    &mut ns.datanodes,
                    &ns.config,
                    Instant::now(),
                    in_safe_mode,
                );
            }
        },
    ));

    // LeaseManager's monitor.
    let f = Arc::clone(fs);
    let period = (config.lease_soft_limit / 2).min(Duration::from_secs(2));
    loops.push(spawn_loop(period, stop.clone(), move || {
        let f = Arc::clone(&f);
        async move {
            let txid = f.state.write().check_leases();
            match txid {
                Ok(txid) => {
                    if let Err(e) = f.sync(txid).await {
                        error!("lease recovery not durable: {e}");
                    }
                }
                Err(e) => error!("lease recovery failed: {e}"),
            }
        }
    }));

    // Checkpointer: every checkpoint_period, or after checkpoint_txns.
    let f = Arc::clone(fs);
    let st = storage.clone();
    let period = config.checkpoint_period.min(Duration::from_secs(1));
    let mut last = (Instant::now(), f.edit_log.last_txid());
    loops.push(spawn_loop(period, stop.clone(), move || {
        let f = Arc::clone(&f);
        let st = st.clone();
        let due = {
            let txid = f.edit_log.last_txid();
            let txns = txid.saturating_sub(last.1);
            txns > 0
                && (txns >= f.config.checkpoint_txns
                    || last.0.elapsed() >= f.config.checkpoint_period)
        };
        if due {
            last = (Instant::now(), f.edit_log.last_txid());
        }
        async move {
            if due && let Err(e) = checkpoint(&f, &st).await {
                error!("checkpoint failed: {e}");
            }
        }
    }));
    loops
}

/// Saves a checkpoint at the current txid: snapshot under the read lock,
/// roll the log, write the image outside the lock, purge what it covers.
async fn checkpoint(fs: &FsNamesystem, storage: &NnStorage) -> Result<(), NamenodeError> {
    let (snapshot, rolled) = {
        let ns = fs.state.read();
        let txid = fs.edit_log.last_txid();
        (ns.snapshot(txid), fs.edit_log.roll())
    };
    let txid = snapshot.header.txid;
    if storage.images()?.first().is_some_and(|(t, _)| *t == txid) {
        return Ok(());
    }
    rolled
        .await
        .map_err(|_| NamenodeError::Internal("the edit log stopped during a checkpoint".into()))?
        .map_err(|msg| NamenodeError::io("cannot roll the edit log", std::io::Error::other(msg)))?;
    let storage = storage.clone();
    tokio::task::spawn_blocking(move || {
        image::save(&storage, &snapshot)?;
        image::purge(&storage)
    })
    .await
    .map_err(|e| NamenodeError::Internal(format!("checkpoint task panicked: {e}")))?
}
