//! The namenode's HTTP port (HDFS's 9870): the web UI a person opens in a
//! browser, the JSON status API, `/metrics` for Prometheus and the WebHDFS
//! REST API, all on one axum router.
//!
//! * [`snapshot`] gathers the facts; the pages ([`overview`],
//!   [`datanodes`], [`browser`]), the JSON API ([`api`]) and [`metrics`]
//!   all render the same snapshot;
//! * [`webhdfs`] is Hadoop's REST API over the client library (one
//!   `DfsClient` per user, from a `ClientPool`);
//! * [`html`] holds the page frame, escaping and sizes.
//!
//! Pages are rendered on the server and need no JavaScript; they refresh
//! themselves with `<meta http-equiv=refresh>`.

pub(crate) mod api;
pub(crate) mod browser;
pub(crate) mod datanodes;
pub(crate) mod html;
pub(crate) mod overview;
pub mod snapshot;
pub(crate) mod webhdfs;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::warn;

use crate::metrics::NamenodeMetrics;
use crate::namesystem::FsNamesystem;

/// What every handler needs.
pub(crate) struct HttpContext {
    pub fs: Arc<FsNamesystem>,
    pub metrics: Arc<NamenodeMetrics>,
    pub clients: cairn_client::ClientPool,
    pub started: Instant,
    /// The namenode's RPC address as datanodes reach it, for WebHDFS
    /// redirects (`namenoderpcaddress=`).
    pub rpc_addr: SocketAddr,
    /// Where this process reaches its own RPC port.
    pub self_rpc: SocketAddr,
}

impl HttpContext {
    /// A client acting as `user`, over the namenode's own RPC port.
    pub async fn client(
        &self,
        user: &str,
    ) -> Result<cairn_client::DfsClient, cairn_client::DfsError> {
        self.clients.get(&self.self_rpc.to_string(), user).await
    }

    pub fn snapshot(&self) -> snapshot::ClusterSnapshot {
        snapshot::cluster(&self.fs, self.started)
    }
}

pub(crate) type Ctx = State<Arc<HttpContext>>;

/// Serves the UI, the API, `/metrics` and WebHDFS on `listener` until
/// `stop` turns true.
pub(crate) fn spawn_http(
    ctx: HttpContext,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let app = router(Arc::new(ctx));
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            warn!("the namenode's HTTP server stopped: {e}");
        }
    })
}

fn router(ctx: Arc<HttpContext>) -> Router {
    Router::new()
        .route("/", get(overview::page))
        .route("/datanodes", get(datanodes::page))
        .route("/explorer", get(browser::page))
        .route("/api/v1/cluster", get(api::cluster))
        .route("/api/v1/datanodes", get(api::datanodes))
        .route("/api/v1/listing", get(api::listing))
        .route("/api/v1/blocks", get(api::blocks))
        .route("/metrics", get(metrics))
        .route("/webhdfs/v1", any(webhdfs::handle))
        .route("/webhdfs/v1/", any(webhdfs::handle))
        .route("/webhdfs/v1/{*path}", any(webhdfs::handle))
        .with_state(ctx)
}

/// Prometheus' text exposition format.
async fn metrics(State(ctx): Ctx) -> impl IntoResponse {
    let text = ctx.metrics.render(&ctx.snapshot());
    (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}
