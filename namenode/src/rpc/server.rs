//! The RPC server: a listener task accepts connections and deals them out
//! in turn to reader threads (HDFS's `Server.Listener` and its `Reader`s),
//! each serving its connections, ClientProtocol and DatanodeProtocol
//! alike, on a one-thread runtime of its own, from the first byte to the
//! last answer.
//!
//! Why not the process's work-stealing runtime: a call passes through
//! several tasks (the connection's socket task, the `Call` stream's task,
//! the task that writes its answers), and on a runtime of many workers each
//! handoff may wake an idle worker to steal it — a futex call and, on a
//! virtual machine, an interrupt to another CPU. With two workers that
//! cost a namenode read over RPC about 1.3 µs of CPU more than with one
//! (BENCHMARKS.md, session 12), more than its handler. On a reader's one
//! thread the handoffs wake no one, and connections spread over the
//! readers still use every core.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use cairn_proto::pb::client_protocol_server::ClientProtocolServer;
use cairn_proto::pb::datanode_protocol_server::DatanodeProtocolServer;
use cairn_proto::rpc_metrics::RpcMetricsLayer;
use cairn_proto::{CONNECTION_WINDOW, MAX_MESSAGE_SIZE, STREAM_WINDOW};
use futures::StreamExt;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tracing::warn;

use super::client::ClientProtocolService;
use super::datanode::DatanodeProtocolService;
use crate::error::NamenodeError;
use crate::metrics::NamenodeMetrics;
use crate::namesystem::FsNamesystem;

/// How long the listener waits after a failed accept (out of file
/// descriptors, say) before trying again, so it does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// A running RPC server. Dropping it stops every reader at once, open
/// connections and all (the namenode crashed); [`RpcServer::stopped`]
/// waits for a graceful stop instead.
pub(crate) struct RpcServer {
    listener: JoinHandle<()>,
    readers: Vec<Reader>,
}

/// One reader thread, as the server sees it.
struct Reader {
    /// Dropped to stop the reader at once.
    _kill: oneshot::Sender<()>,
    /// How its server ended.
    done: oneshot::Receiver<Result<(), tonic::transport::Error>>,
}

/// What every reader serves: the two protocols, counted in the RPC metrics.
#[derive(Clone)]
struct Services {
    client: ClientProtocolServer<ClientProtocolService>,
    datanode: DatanodeProtocolServer<DatanodeProtocolService>,
    metrics: RpcMetricsLayer,
}

impl RpcServer {
    /// Serves ClientProtocol and DatanodeProtocol on `listener` with one
    /// reader per core, until `stop` turns true.
    pub(crate) fn start(
        fs: Arc<FsNamesystem>,
        listener: TcpListener,
        stop: watch::Receiver<bool>,
        metrics: &NamenodeMetrics,
    ) -> Result<RpcServer, NamenodeError> {
        let services = Services {
            client: ClientProtocolServer::new(
                ClientProtocolService::new(Arc::clone(&fs))
                    .stopping_with(stop.clone())
                    .with_metrics(metrics.rpc.clone()),
            )
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE),
            datanode: DatanodeProtocolServer::new(DatanodeProtocolService::new(fs))
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
            metrics: metrics.rpc.layer(),
        };
        let count = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let mut readers = Vec::with_capacity(count);
        let mut queues = Vec::with_capacity(count);
        for index in 0..count {
            let (queue, connections) = mpsc::unbounded_channel();
            readers.push(Reader::start(
                index,
                services.clone(),
                connections,
                stop.clone(),
            )?);
            queues.push(queue);
        }
        Ok(RpcServer {
            listener: tokio::spawn(deal_out(listener, queues, stop)),
            readers,
        })
    }

    /// Waits at most `limit` for the readers to finish (once the stop
    /// signal has been sent), then stops whatever is left.
    pub(crate) async fn stopped(mut self, limit: Duration) {
        let finished = async {
            let _ = (&mut self.listener).await;
            for reader in &mut self.readers {
                match (&mut reader.done).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => warn!("an RPC reader stopped with an error: {e}"),
                    Err(_) => warn!("an RPC reader thread ended without saying how"),
                }
            }
        };
        if tokio::time::timeout(limit, finished).await.is_err() {
            warn!("the RPC server did not stop within {limit:?}; dropping it");
        }
    }
}

impl Drop for RpcServer {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl Reader {
    /// Starts reader `index`, serving the connections that arrive on
    /// `connections` until `stop` turns true or the server is dropped.
    fn start(
        index: usize,
        services: Services,
        connections: mpsc::UnboundedReceiver<std::net::TcpStream>,
        stop: watch::Receiver<bool>,
    ) -> Result<Reader, NamenodeError> {
        // Tasks woken from other threads first: when the edit log's syncer
        // makes a group of mutations durable, their handlers all run and
        // queue their answers before the connection's writer (woken by the
        // first answer, on this thread) runs, and the answers leave as one
        // batch. With tokio's default the writer ran after each handler,
        // and each mutation's answer took a write of its own.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .global_queue_interval(1)
            .enable_all()
            .build()
            .map_err(|e| NamenodeError::io("cannot start an RPC reader's runtime", e))?;
        let (kill, killed) = oneshot::channel::<()>();
        let (finished, done) = oneshot::channel();
        std::thread::Builder::new()
            .name(format!("ipc-reader-{index}"))
            .spawn(move || {
                let result = runtime.block_on(async move {
                    tokio::select! {
                        result = serve(services, connections, stop) => result,
                        // The server was dropped: dropping the runtime
                        // below closes every connection.
                        _ = killed => Ok(()),
                    }
                });
                let _ = finished.send(result);
            })
            .map_err(|e| NamenodeError::io("cannot start an RPC reader thread", e))?;
        Ok(Reader { _kill: kill, done })
    }
}

/// One reader's tonic server over the connections handed to it.
async fn serve(
    services: Services,
    connections: mpsc::UnboundedReceiver<std::net::TcpStream>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), tonic::transport::Error> {
    // A socket belongs to the runtime that registers it: this reader's.
    let incoming = UnboundedReceiverStream::new(connections).map(tokio::net::TcpStream::from_std);
    tonic::transport::Server::builder()
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .layer(services.metrics)
        .add_service(services.client)
        .add_service(services.datanode)
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
}

/// The listener: accepts connections until `stop` turns true and hands
/// each to the next reader in turn.
async fn deal_out(
    listener: TcpListener,
    readers: Vec<mpsc::UnboundedSender<std::net::TcpStream>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut turns = readers.iter().cycle();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                warn!("cannot accept an RPC connection: {e}");
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            warn!("cannot set TCP_NODELAY: {e}");
        }
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => {
                warn!("cannot hand an RPC connection to a reader: {e}");
                continue;
            }
        };
        if let Some(reader) = turns.next()
            && reader.send(stream).is_err()
        {
            warn!("an RPC reader has stopped; a new connection to it was closed");
        }
    }
}
