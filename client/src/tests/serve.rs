//! Serving a test double on 127.0.0.1, port 0, until the handle is dropped.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;
use tonic::transport::server::Router;

/// A server builder with Cairn's transport settings.
pub(crate) fn server() -> Server {
    Server::builder()
        .tcp_nodelay(true)
        .initial_stream_window_size(cairn_proto::STREAM_WINDOW)
        .initial_connection_window_size(cairn_proto::CONNECTION_WINDOW)
}

pub(crate) struct ServerHandle {
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

pub(crate) async fn spawn(router: Router) -> ServerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (shutdown, stop) = watch::channel(false);
    tokio::spawn(
        router.serve_with_incoming_shutdown(TcpListenerStream::new(listener), stopped(stop)),
    );
    ServerHandle { addr, shutdown }
}

/// Serves `router` and, on the same port, data-transfer connections
/// (`cairn_proto::data_transfer`) with `data_transfer`, as a datanode does.
pub(crate) async fn spawn_with_data_transfer(
    router: Router,
    data_transfer: impl Fn(TcpStream, SocketAddr) + Clone + Send + Sync + 'static,
) -> ServerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (shutdown, stop) = watch::channel(false);
    let (_accept, incoming) =
        cairn_proto::data_transfer::demultiplex(listener, stopped(stop.clone()), data_transfer);
    tokio::spawn(router.serve_with_incoming_shutdown(incoming, stopped(stop)));
    ServerHandle { addr, shutdown }
}

/// An address nothing listens on (a port just released by the OS).
pub(crate) async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}
