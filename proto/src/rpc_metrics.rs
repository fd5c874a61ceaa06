//! RPC metrics shared by every gRPC server of Cairn: a tower layer that
//! counts each call by service, method and gRPC status code and times it, so
//! the namenode's and the datanodes' `/metrics` say the same thing in the
//! same names (HDFS's `RpcDetailedActivity`).
//!
//! The time recorded is until the response headers: for a unary call that
//! is the whole call; for a streaming call, until the stream is accepted.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Which call: `/cairn.ClientProtocol/Create` is service `ClientProtocol`,
/// method `Create`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub service: String,
    pub method: String,
}

/// A call and how it ended: `code` is the gRPC status code (0 = OK) or
/// `transport` when the server failed before answering.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub service: String,
    pub method: String,
    pub code: String,
}

type HistogramFamily = Family<MethodLabels, Histogram, fn() -> Histogram>;

/// Counts and latencies of the calls one gRPC server answered. Cheap to
/// clone: clones share the same series.
#[derive(Clone)]
pub struct RpcMetrics {
    calls: Family<CallLabels, Counter>,
    latency: HistogramFamily,
}

/// 100 µs up to about 26 s, by factors of 4.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 4.0, 10))
}

impl Default for RpcMetrics {
    fn default() -> Self {
        Self {
            calls: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
        }
    }
}

impl RpcMetrics {
    /// Adds `cairn_rpc_calls_total` and `cairn_rpc_duration_seconds` to
    /// `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "cairn_rpc_calls",
            "gRPC calls answered, by service, method and gRPC status code",
            self.calls.clone(),
        );
        registry.register(
            "cairn_rpc_duration_seconds",
            "Time from a gRPC call's arrival to its response headers",
            self.latency.clone(),
        );
    }

    /// The tower layer to put on a tonic server.
    pub fn layer(&self) -> RpcMetricsLayer {
        RpcMetricsLayer {
            metrics: self.clone(),
        }
    }

    /// Records one call of `path` (`/package.Service/Method`).
    pub fn record(&self, path: &str, code: &str, seconds: f64) {
        let (service, method) = split_path(path);
        self.calls
            .get_or_create(&CallLabels {
                service: service.clone(),
                method: method.clone(),
                code: code.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&MethodLabels { service, method })
            .observe(seconds);
    }

    /// Calls of `method` answered so far (every status), for tests and
    /// status pages.
    pub fn calls_of(&self, service: &str, method: &str, code: &str) -> u64 {
        self.calls
            .get_or_create(&CallLabels {
                service: service.to_string(),
                method: method.to_string(),
                code: code.to_string(),
            })
            .get()
    }
}

/// `/cairn.ClientProtocol/Create` -> (`ClientProtocol`, `Create`).
fn split_path(path: &str) -> (String, String) {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let service = parts.next().unwrap_or_default();
    let method = parts.next().unwrap_or_default();
    let service = service.rsplit('.').next().unwrap_or(service);
    (service.to_string(), method.to_string())
}

/// See [`RpcMetrics::layer`].
#[derive(Clone)]
pub struct RpcMetricsLayer {
    metrics: RpcMetrics,
}

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`RpcMetricsLayer`] wraps around a server's routes.
#[derive(Clone)]
pub struct RpcMetricsService<S> {
    inner: S,
    metrics: RpcMetrics,
}

impl<S, B, R> tower::Service<http::Request<B>> for RpcMetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    R: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().to_string();
        let started = Instant::now();
        let metrics = self.metrics.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            let code = match &response {
                // An error is "trailers only": its status is in the headers.
                // Without one the call succeeded (its status is in trailers).
                Ok(r) => r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("0")
                    .to_string(),
                Err(_) => "transport".to_string(),
            };
            metrics.record(&path, &code, started.elapsed().as_secs_f64());
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            split_path("/cairn.ClientProtocol/Create"),
            ("ClientProtocol".to_string(), "Create".to_string())
        );
        assert_eq!(split_path("/x"), ("x".to_string(), String::new()));
    }

    #[test]
    fn recorded_calls_appear_in_the_text_format() {
        let metrics = RpcMetrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        metrics.record("/cairn.ClientProtocol/Mkdirs", "0", 0.002);
        metrics.record("/cairn.ClientProtocol/Mkdirs", "0", 0.003);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(
                "cairn_rpc_calls_total{service=\"ClientProtocol\",method=\"Mkdirs\",code=\"0\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "cairn_rpc_duration_seconds_count{service=\"ClientProtocol\",method=\"Mkdirs\"} 2"
            ),
            "{text}"
        );
        assert_eq!(metrics.calls_of("ClientProtocol", "Mkdirs", "0"), 2);
    }
}
