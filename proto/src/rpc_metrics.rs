//! RPC metrics shared by every gRPC server of Cairn: a tower layer that
//! counts each call by service, method and gRPC status code and times it, so
//! the namenode's and the datanodes' `/metrics` say the same thing in the
//! same names (HDFS's `RpcDetailedActivity`).
//!
//! The time recorded is until the response headers: for a unary call that
//! is the whole call; for a streaming call, until the stream is accepted.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
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
    /// The series of a path's successful calls, found once: looking them up
    /// in the families builds five label strings per call, which cost a
    /// small RPC (e.g. a namenode read, ~25 µs of CPU) about 1 µs.
    by_path: Arc<RwLock<HashMap<Arc<str>, MethodSeries>>>,
}

/// One path's series for calls that end with status OK.
#[derive(Clone)]
struct MethodSeries {
    path: Arc<str>,
    ok: Counter,
    latency: Histogram,
}

/// Paths whose series are kept in [`RpcMetrics::by_path`]; calls to other
/// paths (a client sending made-up ones) take the slower lookup.
const CACHED_PATHS: usize = 256;

/// 100 µs up to about 26 s, by factors of 4.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 4.0, 10))
}

impl Default for RpcMetrics {
    fn default() -> Self {
        Self {
            calls: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            by_path: Arc::default(),
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

    /// Records one call of `path` that ended with gRPC status `code`, as
    /// the layer records a unary call: for the calls on a `Call` stream
    /// (`crate::ipc`), which the layer sees as one long call.
    pub fn record_call(&self, path: &str, code: tonic::Code, seconds: f64) {
        self.path_series(path).record(code, seconds);
    }

    /// The series of `path`'s calls, for a caller that records many calls
    /// of the same few paths (a `Call` stream) to keep rather than look up
    /// for each call.
    pub fn path_series(&self, path: &str) -> PathSeries {
        PathSeries {
            metrics: self.clone(),
            series: self.series(path),
        }
    }

    /// Records a call in `series` when it succeeded, else by its code.
    fn record_in(&self, series: &MethodSeries, code: &str, seconds: f64) {
        if code == "0" {
            series.ok.inc();
            series.latency.observe(seconds);
        } else {
            self.record(&series.path, code, seconds);
        }
    }

    /// The series of `path`'s successful calls, cached.
    fn series(&self, path: &str) -> MethodSeries {
        let cached = self
            .by_path
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(path)
            .cloned();
        if let Some(series) = cached {
            return series;
        }
        let (service, method) = split_path(path);
        let ok = self
            .calls
            .get_or_create(&CallLabels {
                service: service.clone(),
                method: method.clone(),
                code: "0".to_string(),
            })
            .clone();
        let latency = self
            .latency
            .get_or_create(&MethodLabels { service, method })
            .clone();
        let series = MethodSeries {
            path: path.into(),
            ok,
            latency,
        };
        let mut by_path = self.by_path.write().unwrap_or_else(PoisonError::into_inner);
        if by_path.len() < CACHED_PATHS {
            by_path.insert(Arc::clone(&series.path), series.clone());
        }
        series
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

/// One path's series, found once ([`RpcMetrics::path_series`]).
#[derive(Clone)]
pub struct PathSeries {
    metrics: RpcMetrics,
    series: MethodSeries,
}

impl PathSeries {
    /// Records one call of this path that ended with gRPC status `code`,
    /// as [`RpcMetrics::record_call`] does.
    pub fn record(&self, code: tonic::Code, seconds: f64) {
        if code == tonic::Code::Ok {
            self.metrics.record_in(&self.series, "0", seconds);
        } else {
            self.metrics
                .record_in(&self.series, &(code as i32).to_string(), seconds);
        }
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
        let series = self.metrics.series(request.uri().path());
        let started = Instant::now();
        let metrics = self.metrics.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            let seconds = started.elapsed().as_secs_f64();
            let code = match &response {
                // An error is "trailers only": its status is in the headers.
                // Without one the call succeeded (its status is in trailers).
                Ok(r) => r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("0"),
                Err(_) => "transport",
            };
            metrics.record_in(&series, code, seconds);
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

    #[test]
    fn cached_series_count_in_the_same_families() {
        let metrics = RpcMetrics::default();
        metrics.record("/cairn.ClientProtocol/Rename", "0", 0.001);
        let series = metrics.series("/cairn.ClientProtocol/Rename");
        series.ok.inc();
        series.latency.observe(0.002);
        assert_eq!(metrics.calls_of("ClientProtocol", "Rename", "0"), 2);
        // The second lookup is the cached one, sharing the same counter.
        metrics.series("/cairn.ClientProtocol/Rename").ok.inc();
        assert_eq!(metrics.calls_of("ClientProtocol", "Rename", "0"), 3);
        assert_eq!(metrics.by_path.read().unwrap().len(), 1);
    }
}
