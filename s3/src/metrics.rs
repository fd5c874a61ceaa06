//! The gateway's Prometheus metrics, served as text at `/metrics`:
//! requests by S3 operation and HTTP status, and bytes in and out.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// S3's name of the operation (GetObject, PutObject, ...), or
    /// `Unauthenticated` when the request was refused before it was known.
    pub operation: String,
    pub status: u16,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("cairn_s3");
        let requests = Family::<RequestLabels, Counter>::default();
        let bytes_in = Counter::default();
        let bytes_out = Counter::default();
        registry.register(
            "requests",
            "S3 requests by operation and HTTP status",
            requests.clone(),
        );
        registry.register(
            "received_bytes",
            "Bytes of request bodies (as declared by Content-Length)",
            bytes_in.clone(),
        );
        registry.register(
            "sent_bytes",
            "Bytes of response bodies (as declared by Content-Length)",
            bytes_out.clone(),
        );
        Self {
            registry,
            requests,
            bytes_in,
            bytes_out,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(err) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!(error = %err, "could not encode the metrics");
        }
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_appear_in_the_text() {
        let metrics = Metrics::new();
        metrics
            .requests
            .get_or_create(&RequestLabels {
                operation: "GetObject".into(),
                status: 200,
            })
            .inc();
        metrics.bytes_out.inc_by(42);
        let text = metrics.encode();
        assert!(
            text.contains(r#"cairn_s3_requests_total{operation="GetObject",status="200"} 1"#),
            "{text}"
        );
        assert!(text.contains("cairn_s3_sent_bytes_total 42"), "{text}");
    }
}
