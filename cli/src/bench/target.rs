//! Where namespace operations go: the namenode's ClientProtocol handlers
//! called in this process (as HDFS's NNThroughputBenchmark calls the
//! NameNode's RPC server without RPC), or a namenode over gRPC through the
//! client library, as `cairn dfs`, the mount and the S3 gateway call it.
//! Both take the same requests, so the two figures differ by the RPC layer
//! alone.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use cairn_client::{ClientConfig, DfsClient, NamenodeClient};
use cairn_namenode::Namenode;
use cairn_namenode::rpc::client::ClientProtocolService;
use cairn_proto::pb;

use crate::config::Settings;
use crate::daemon::bind;

#[derive(Clone)]
pub enum NnTarget {
    InProcess(Arc<ClientProtocolService>),
    /// The namenode at `addr`, through a connection opened on one runtime.
    Rpc {
        addr: String,
        client: NamenodeClient,
        /// The namenode's process, when it runs on this machine and is
        /// known: what its CPU spends per call is measured too.
        namenode_pid: Option<u32>,
    },
}

/// Calls one ClientProtocol method on either target and unwraps the reply.
/// In process, the request names `$user` in its metadata, as a unary call
/// arrives at the handlers; over RPC the message goes as `cairn dfs` sends
/// it, the connection naming its own user (the one it was opened as), so
/// the loop builds no metadata a real caller would not.
macro_rules! call {
    ($target:expr, $method:ident, $user:expr, $req:expr) => {{
        use cairn_proto::pb::client_protocol_server::ClientProtocol as _;
        use $crate::bench::target::{NnTarget, request};
        match $target {
            NnTarget::InProcess(service) => service.$method(request($req, $user)).await,
            NnTarget::Rpc { client, .. } => client.clone().$method($req).await,
        }
        .map(tonic::Response::into_inner)
    }};
}
pub(crate) use call;

/// A request naming its user, as the client library's interceptor does.
pub fn request<T>(message: T, user: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = user.parse() {
        request
            .metadata_mut()
            .insert(cairn_proto::identity::USER_METADATA, value);
    }
    request
}

/// Creates a new file of replication 1 at `path` for `client_name`;
/// returns its inode id.
pub async fn create_file(
    target: &NnTarget,
    user: &str,
    path: &str,
    client_name: &str,
) -> anyhow::Result<u64> {
    let reply = call!(
        target,
        create,
        user,
        pb::CreateRequest {
            path: path.to_string(),
            permission: 0o644,
            client_name: client_name.to_string(),
            replication: 1,
            ..Default::default()
        }
    )?;
    reply
        .status
        .map(|s| s.inode_id)
        .ok_or_else(|| anyhow::anyhow!("create of {path} answered without the file's status"))
}

impl NnTarget {
    /// A connection of its own to the namenode at `addr` (process
    /// `namenode_pid`, if known), calling as `user`; its `Call` stream
    /// opens now, on this runtime.
    pub async fn connect(
        addr: &str,
        user: &str,
        namenode_pid: Option<u32>,
    ) -> anyhow::Result<NnTarget> {
        let client = DfsClient::connect(ClientConfig::new(addr, user)).await?;
        client.server_defaults().await?;
        Ok(NnTarget::Rpc {
            addr: addr.to_string(),
            client: client.namenode(),
            namenode_pid,
        })
    }

    /// The namenode's process when it is another one than this, and known.
    pub fn namenode_process(&self) -> Option<u32> {
        match self {
            NnTarget::InProcess(_) => None,
            NnTarget::Rpc { namenode_pid, .. } => *namenode_pid,
        }
    }

    /// This target for calls from the current runtime: over RPC, a
    /// connection of its own, opened here. A connection's tasks run on the
    /// runtime that opened it, so calls from another one would wake them
    /// across runtimes, a cost that no client on one runtime (`cairn dfs`,
    /// the mount) pays and that the in-process figure does not have.
    pub async fn on_this_runtime(&self, user: &str) -> anyhow::Result<NnTarget> {
        match self {
            NnTarget::InProcess(_) => Ok(self.clone()),
            NnTarget::Rpc {
                addr, namenode_pid, ..
            } => NnTarget::connect(addr, user, *namenode_pid).await,
        }
    }

    /// Waits until the namenode has left safe mode (an empty namespace
    /// leaves it at once, after the configured extension).
    pub async fn wait_out_of_safe_mode(&self, user: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let on = call!(
                self,
                set_safe_mode,
                user,
                pb::SetSafeModeRequest {
                    action: pb::SafeModeAction::SafemodeGet as i32,
                }
            )?
            .on;
            if !on {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the namenode stayed in safe mode for a minute");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A namenode in this process, its name directory in `dir`, serving on a
/// free loopback port; its handlers as an in-process target.
pub async fn start_namenode(
    settings: &Settings,
    dir: &Path,
) -> anyhow::Result<(Namenode, NnTarget)> {
    let mut config = settings.file.namenode.clone();
    config.name_dir = dir.join("name");
    cairn_namenode::format(&config.name_dir, None, false)?;
    let listener = bind("127.0.0.1:0", "namenode").await?;
    let namenode = Namenode::start(config, listener).await?;
    let target = NnTarget::InProcess(Arc::new(ClientProtocolService::new(namenode.namesystem())));
    Ok((namenode, target))
}
