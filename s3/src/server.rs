//! The HTTP side: one hyper connection task per client, `s3s` for the S3
//! protocol, and around it what S3 clients and operators expect of every
//! response: an `x-amz-request-id` (also inside error bodies, as S3's
//! `<RequestId>`), and the counts behind `/metrics`.

use std::future::Future;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use s3s::Body;
use s3s::service::S3Service;
use tokio::net::TcpListener;

use crate::metrics::{Metrics, RequestLabels};

/// The largest error body buffered to add its RequestId.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Where the S3 operation's name is left by the access check, for the
/// metrics (s3s does not tell the HTTP layer which operation it ran).
#[derive(Clone, Default)]
pub(crate) struct OperationSlot(pub Arc<Mutex<Option<String>>>);

struct State {
    service: S3Service,
    metrics: Metrics,
}

/// Serves S3 on `listener` until `shutdown` resolves; connections in
/// progress are then dropped.
pub async fn run(
    listener: TcpListener,
    service: S3Service,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let state = Arc::new(State {
        service,
        metrics: Metrics::new(),
    });
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        // Without it a response whose headers and body go out in separate
        // writes (every streamed GET) waits for the client's delayed ACK:
        // Nagle's algorithm, 40 ms per small object.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %err, "TCP_NODELAY not set");
        }
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&state), req));
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(err) = connection.await {
                tracing::debug!(%peer, error = %err, "S3 connection ended with an error");
            }
        });
    }
}

async fn handle(
    state: Arc<State>,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, s3s::HttpError> {
    if is_metrics_scrape(&req) {
        let mut res = Response::new(Body::from(state.metrics.encode()));
        res.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        return Ok(res);
    }
    let request_id = format!("{:016X}", rand::random::<u64>());
    let bytes_in = content_length(req.headers());
    let slot = OperationSlot::default();
    req.extensions_mut().insert(slot.clone());
    let is_head = req.method() == Method::HEAD;
    let mut res = state.service.call(req.map(Body::from)).await?;
    // A HEAD of one part (`partNumber`): s3s sets 206 for a GET only.
    if is_head
        && res.status() == StatusCode::OK
        && res.headers().contains_key(hyper::header::CONTENT_RANGE)
    {
        *res.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    if res.status().is_client_error() || res.status().is_server_error() {
        res = with_request_id(res, &request_id).await;
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert("x-amz-request-id", value);
    }
    let operation = slot
        .0
        .lock()
        .take()
        .unwrap_or_else(|| "Unauthenticated".to_string());
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            operation: operation.clone(),
            status: res.status().as_u16(),
        })
        .inc();
    state.metrics.bytes_in.inc_by(bytes_in);
    state
        .metrics
        .bytes_out
        .inc_by(content_length(res.headers()));
    tracing::debug!(%operation, status = %res.status(), %request_id, "S3 request");
    Ok(res)
}

/// `GET /metrics` with no signature: the Prometheus scrape. (A bucket
/// named `metrics` is still listed for signed requests.)
fn is_metrics_scrape(req: &Request<Incoming>) -> bool {
    req.method() == Method::GET
        && req.uri().path() == "/metrics"
        && !req.headers().contains_key(hyper::header::AUTHORIZATION)
        && !req
            .uri()
            .query()
            .is_some_and(|q| q.contains("X-Amz-Signature"))
}

fn content_length(headers: &hyper::HeaderMap) -> u64 {
    headers
        .get("x-amz-decoded-content-length")
        .or_else(|| headers.get(hyper::header::CONTENT_LENGTH))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Adds `<RequestId>` to an S3 error body that lacks one.
async fn with_request_id(res: Response<Body>, request_id: &str) -> Response<Body> {
    let (mut parts, mut body) = res.into_parts();
    let bytes = match body.store_all_limited(MAX_ERROR_BODY).await {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::debug!(error = %err, "error body not rewritten");
            parts.status = StatusCode::INTERNAL_SERVER_ERROR;
            return Response::from_parts(parts, Body::empty());
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    if text.contains("<Error>") && !text.contains("<RequestId>") {
        let rewritten = text.replacen(
            "</Error>",
            &format!("<RequestId>{request_id}</RequestId></Error>"),
            1,
        );
        parts.headers.remove(hyper::header::CONTENT_LENGTH);
        if let Ok(value) = HeaderValue::from_str(&rewritten.len().to_string()) {
            parts.headers.insert(hyper::header::CONTENT_LENGTH, value);
        }
        return Response::from_parts(parts, Body::from(rewritten));
    }
    Response::from_parts(parts, Body::from(bytes))
}
