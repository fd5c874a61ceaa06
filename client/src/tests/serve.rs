//! Serving a test double on 127.0.0.1, port 0, until the handle is dropped.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
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
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

pub(crate) async fn spawn(router: Router) -> ServerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (shutdown, stop) = oneshot::channel::<()>();
    tokio::spawn(
        router.serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
            let _ = stop.await;
        }),
    );
    ServerHandle {
        addr,
        shutdown: Some(shutdown),
    }
}

/// An address nothing listens on (a port just released by the OS).
pub(crate) async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}
