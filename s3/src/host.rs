//! Virtual-hosted-style addressing: `bucket.DOMAIN[:port]/key` names the
//! bucket in the Host header. A request to `DOMAIN` itself, or by any other
//! name (the machine's hostname, an IP address), is path-style
//! (`/bucket/key`), so both styles work on one endpoint. s3s's own
//! `SingleDomain` would take an unknown host for a bucket (CNAME-style)
//! and does not strip the port, which breaks path-style requests to
//! `localhost:9000`.

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

use crate::error::{GatewayError, Result};

/// The base domain of virtual-hosted-style requests.
#[derive(Debug, Clone)]
pub struct BaseDomain {
    domain: String,
}

impl BaseDomain {
    /// A base domain such as `localhost` or `s3.example.com` (no port, no
    /// scheme).
    pub fn new(domain: &str) -> Result<Self> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let label_ok = |label: &str| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if domain.is_empty() || !domain.split('.').all(label_ok) {
            return Err(GatewayError::Startup(format!(
                "{domain:?} is not a domain name for virtual-hosted-style S3 addressing \
                 (e.g. \"localhost\" or \"s3.example.com\", without a port)"
            )));
        }
        Ok(Self { domain })
    }

    /// The bucket named by `host` (a Host header, maybe with a port), if
    /// it is `bucket.DOMAIN`.
    fn bucket_of<'a>(&self, host: &'a str) -> Option<&'a str> {
        let name = match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        };
        let bucket = name.len().checked_sub(self.domain.len() + 1)?;
        let (prefix, suffix) = name.split_at_checked(bucket)?;
        let suffix = suffix.strip_prefix('.')?;
        (suffix.eq_ignore_ascii_case(&self.domain) && !prefix.is_empty()).then_some(prefix)
    }
}

impl S3Host for BaseDomain {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let vh = VirtualHost::new(self.domain.as_str());
        Ok(match self.bucket_of(host) {
            Some(bucket) => vh.with_bucket(bucket),
            None => vh,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_comes_from_a_subdomain_of_the_base_domain() {
        let base = BaseDomain::new("localhost").unwrap();
        assert_eq!(base.bucket_of("photos.localhost:9000"), Some("photos"));
        assert_eq!(base.bucket_of("photos.localhost"), Some("photos"));
        assert_eq!(base.bucket_of("a.b.LOCALHOST:1"), Some("a.b"));
        // Path-style: the domain itself, or another name.
        assert_eq!(base.bucket_of("localhost:9000"), None);
        assert_eq!(base.bucket_of(".localhost:9000"), None);
        assert_eq!(base.bucket_of("notlocalhost:9000"), None);
        assert_eq!(base.bucket_of("node7.example.com"), None);
    }

    #[test]
    fn a_domain_with_a_port_or_scheme_is_refused() {
        assert!(BaseDomain::new("s3.example.com").is_ok());
        assert!(BaseDomain::new("localhost:9000").is_err());
        assert!(BaseDomain::new("http://localhost").is_err());
        assert!(BaseDomain::new("").is_err());
    }
}
