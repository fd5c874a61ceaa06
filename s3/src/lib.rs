//! cairn-s3: the S3 gateway. The same namespace through the S3 API: a
//! bucket is a top-level directory, a key the path below it, and what S3
//! clients put is a file that `cairn dfs` and the mount see (and the other
//! way round).
//!
//! `s3s` does the protocol (routing, XML, SigV4 in headers and presigned
//! URLs, aws-chunked bodies); this crate maps it onto [`cairn_client`]:
//!
//! * `gateway.rs`: [`Gateway`], the `s3s::S3` implementation, one
//!   [`cairn_client::DfsClient`] per user sharing one connection;
//! * `bucket.rs`, `object.rs`, `listing.rs`, `multipart.rs`: the
//!   operations by concern;
//! * `path.rs`: bucket and key validation, S3 names to paths;
//! * `meta.rs`: ETags and headers in extended attributes;
//! * `body.rs`: request bodies into files, file ranges into responses;
//! * `md5_lanes.rs`: the bodies' MD5s, concurrent uploads hashed together
//!   in SIMD lanes;
//! * `auth.rs`: access keys to Cairn users, anonymous public-read;
//! * `host.rs`: virtual-hosted-style addressing (`bucket.DOMAIN`);
//! * `server.rs`: the HTTP loop, request ids, `/metrics` (`metrics.rs`);
//! * `error.rs`: the one mapping to S3's error codes.

mod auth;
mod body;
mod bucket;
pub mod error;
mod gateway;
mod host;
mod listing;
mod md5_lanes;
mod meta;
mod metrics;
mod multipart;
mod object;
mod path;
mod server;

use std::net::SocketAddr;
use std::time::Duration;

use cairn_client::{ClientConfig, DfsClient};
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use auth::{AccessKey, KeyStore, PUBLIC_READ};
pub use error::GatewayError;
pub use gateway::Gateway;
pub use host::BaseDomain;
pub use md5_lanes::Md5Lanes;
pub use meta::ACL_XATTR;
pub use path::is_valid_bucket_name;

/// How a gateway reaches the cluster and whom it lets in.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// The namenode, as `cairn dfs` takes it.
    pub namenode: String,
    /// The gateway's own user: creates the hidden staging directories
    /// (the first time: the superuser) and reads buckets' ACLs.
    pub admin_user: String,
    /// Access keys and the Cairn users they act as.
    pub keys: Vec<AccessKey>,
    /// The user anonymous reads of public-read buckets run as.
    pub anonymous_user: String,
    /// Requests to `bucket.DOMAIN` address that bucket
    /// (virtual-hosted-style); `None`: path-style only.
    pub domain: Option<BaseDomain>,
}

/// A running gateway.
pub struct S3Gateway {
    local_addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl S3Gateway {
    /// Starts serving S3 on `listener`. The staging directories are
    /// created in the background, as soon as the namenode allows writes
    /// (it may still be in safe mode).
    pub async fn start(options: GatewayOptions, listener: TcpListener) -> error::Result<S3Gateway> {
        let local_addr = listener
            .local_addr()
            .map_err(|e| GatewayError::Startup(format!("no local address: {e}")))?;
        let admin = DfsClient::connect(ClientConfig::new(
            options.namenode.clone(),
            options.admin_user,
        ))
        .await?;
        let keys = KeyStore::new(options.keys);
        let md5_lanes = md5_lanes::Md5Lanes::start()?;
        let gateway = Gateway::new(
            admin.clone(),
            keys.clone(),
            options.anonymous_user,
            md5_lanes.clone(),
        );
        let staging = Gateway::new(admin.clone(), KeyStore::default(), String::new(), md5_lanes);
        // Usually ready at once; a namenode still in safe mode is waited for.
        if let Err(err) = staging.prepare_staging().await {
            tracing::info!(error = %err, "S3 staging directories not ready yet; retrying");
            tokio::spawn(async move { prepare_staging(staging).await });
        }
        let mut builder = S3ServiceBuilder::new(gateway);
        builder.set_auth(keys);
        builder.set_access(auth::PublicReadAccess { admin });
        if let Some(domain) = options.domain {
            builder.set_host(domain);
        }
        let service = builder.build();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, service, async move {
            let _ = stopped.await;
        }));
        tracing::info!(address = %local_addr, "S3 gateway listening");
        Ok(S3Gateway {
            local_addr,
            stop,
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn shutdown(self) -> error::Result<()> {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(result) => result.map_err(|e| GatewayError::Startup(e.to_string())),
            Err(err) => Err(GatewayError::Startup(format!(
                "the gateway task failed: {err}"
            ))),
        }
    }
}

/// Creates the staging directories, retrying while the namenode is not
/// ready (starting up, in safe mode).
async fn prepare_staging(gateway: Gateway) {
    let mut delay = Duration::from_millis(200);
    let mut warned = false;
    loop {
        match gateway.prepare_staging().await {
            Ok(()) => {
                tracing::debug!("S3 staging directories ready");
                return;
            }
            Err(err) => {
                if !warned {
                    tracing::warn!(error = %err, "S3 staging directories not ready yet; retrying");
                    warned = true;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
