//! The datanode's HTTP port (HDFS's 9864): a small read-only page (volumes,
//! replicas, block scanner), `/metrics` for Prometheus, and the data half
//! of WebHDFS ([`webhdfs`]) that the namenode redirects CREATE, APPEND and
//! OPEN to.

pub mod page;
pub mod webhdfs;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::warn;

use crate::node::NodeContext;

/// What the handlers share.
pub struct HttpContext {
    pub node: Arc<NodeContext>,
    pub datanode_uuid: String,
    /// Clients by (namenode, user) for WebHDFS.
    pub clients: cairn_client::ClientPool,
}

pub(crate) type Ctx = State<Arc<HttpContext>>;

/// Serves the page, `/metrics` and WebHDFS on `listener` until `stop`.
pub fn spawn_http(
    ctx: HttpContext,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let app = Router::new()
        .route("/", get(page::page))
        .route("/metrics", get(metrics))
        .route("/webhdfs/v1", any(webhdfs::handle))
        .route("/webhdfs/v1/", any(webhdfs::handle))
        .route("/webhdfs/v1/{*path}", any(webhdfs::handle))
        .with_state(Arc::new(ctx));
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            warn!("the datanode's HTTP server stopped: {e}");
        }
    })
}

async fn metrics(State(ctx): Ctx) -> impl IntoResponse {
    let text = ctx
        .node
        .metrics
        .render(&ctx.node.dataset, &ctx.node.scanner.status());
    (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}
