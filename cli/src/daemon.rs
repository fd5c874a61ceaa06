//! `cairn namenode` and `cairn datanode`: one daemon per process, for real
//! deployments (and for the tests that kill them).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use cairn_datanode::Datanode;
use cairn_namenode::Namenode;
use clap::Args;
use tokio::net::TcpListener;

use crate::config::Settings;

/// HDFS's namenode HTTP port.
pub const DEFAULT_NAMENODE_HTTP: &str = "127.0.0.1:9870";

/// HDFS's datanode HTTP port.
pub const DEFAULT_DATANODE_HTTP: &str = "127.0.0.1:9864";

#[derive(Args, Debug)]
pub struct NamenodeArgs {
    /// Create a new, empty namespace in the name directory and exit
    /// (HDFS's `namenode -format`).
    #[arg(long)]
    pub format: bool,
    /// With --format: replace a namespace that already exists.
    #[arg(long, requires = "format")]
    pub force: bool,
    /// With --format: the cluster id to use (default: a new random one).
    #[arg(long, value_name = "ID", requires = "format")]
    pub clusterid: Option<String>,
    /// Where the namespace (checkpoints and edit log) is kept.
    /// Default: the config file's `namenode.name-dir`, else ./cairn-data/name.
    #[arg(long, env = "CAIRN_NAME_DIR", value_name = "DIR")]
    pub name_dir: Option<PathBuf>,
    /// Address of the RPC server clients and datanodes connect to.
    #[arg(long, env = "CAIRN_NAMENODE_ADDRESS", default_value = "127.0.0.1:8020")]
    pub rpc_address: String,
    /// Address of the web UI, JSON API, /metrics and WebHDFS (HDFS's 9870).
    #[arg(
        long,
        env = "CAIRN_NAMENODE_HTTP_ADDRESS",
        default_value = DEFAULT_NAMENODE_HTTP
    )]
    pub http_address: String,
}

#[derive(Args, Debug)]
pub struct DatanodeArgs {
    /// A data directory (repeat for several volumes). Default: the config
    /// file's `datanode.data-dirs`, else ./cairn-data/data.
    #[arg(
        long = "data-dir",
        env = "CAIRN_DATA_DIRS",
        value_delimiter = ',',
        value_name = "DIR"
    )]
    pub data_dirs: Vec<PathBuf>,
    /// The namenode to join. Default: $CAIRN_NAMENODE, else the config
    /// file's `datanode.namenode`, else 127.0.0.1:8020.
    #[arg(long, value_name = "HOST:PORT")]
    pub namenode: Option<String>,
    /// Address of the data-transfer server (HDFS's 9866).
    #[arg(long, env = "CAIRN_DATANODE_ADDRESS", default_value = "127.0.0.1:9866")]
    pub address: String,
    /// Host name other nodes and clients use to reach this datanode.
    /// Default: the host of --address.
    #[arg(long)]
    pub advertised_host: Option<String>,
    /// Address of the datanode's page, /metrics and WebHDFS data transfers
    /// (HDFS's 9864).
    #[arg(
        long,
        env = "CAIRN_DATANODE_HTTP_ADDRESS",
        default_value = DEFAULT_DATANODE_HTTP
    )]
    pub http_address: String,
}

pub async fn run_namenode(settings: Settings, args: NamenodeArgs) -> anyhow::Result<()> {
    let mut config = settings.file.namenode;
    if let Some(dir) = args.name_dir {
        config.name_dir = dir;
    }
    if args.format {
        let cluster_id =
            cairn_namenode::format(&config.name_dir, args.clusterid.as_deref(), args.force)?;
        println!(
            "Formatted {} for cluster {cluster_id}",
            config.name_dir.display()
        );
        return Ok(());
    }
    let listener = bind(&args.rpc_address, "namenode").await?;
    let http = bind(&args.http_address, "namenode's HTTP server").await?;
    let http_addr = http.local_addr()?;
    let mut namenode = Namenode::start(config, listener).await?;
    namenode.serve_http(http);
    println!(
        "cairn namenode: listening on {} (cluster {}), status page http://{http_addr}/",
        namenode.local_addr(),
        namenode.cluster_id()
    );
    shutdown_signal().await?;
    namenode.shutdown().await?;
    Ok(())
}

pub async fn run_datanode(settings: Settings, args: DatanodeArgs) -> anyhow::Result<()> {
    let mut config = settings.file.datanode;
    if !args.data_dirs.is_empty() {
        config.data_dirs = args.data_dirs;
    }
    if let Some(namenode) = args.namenode.or_else(|| {
        std::env::var("CAIRN_NAMENODE")
            .ok()
            .filter(|v| !v.is_empty())
    }) {
        config.namenode = namenode;
    }
    let listener = bind(&args.address, "datanode").await?;
    config.host = match args.advertised_host {
        Some(host) => host,
        None => listener.local_addr()?.ip().to_string(),
    };
    let http = bind(&args.http_address, "datanode's HTTP server").await?;
    let http_addr = http.local_addr()?;
    let datanode = Datanode::start_with_http(config, listener, Some(http)).await?;
    println!(
        "cairn datanode: listening on {} (datanode {}), web page http://{http_addr}/",
        datanode.local_addr(),
        datanode.datanode_uuid()
    );
    shutdown_signal().await?;
    datanode.shutdown().await?;
    Ok(())
}

/// Binds a daemon's listener, explaining the usual reason it fails.
pub async fn bind(address: &str, what: &str) -> anyhow::Result<TcpListener> {
    let addr: SocketAddr = address
        .parse()
        .with_context(|| format!("the {what} address `{address}' is not IP:PORT"))?;
    TcpListener::bind(addr).await.with_context(|| {
        format!(
            "the {what} cannot listen on {addr}; is another one running there? \
             Choose another address (port 0 picks a free one)"
        )
    })
}

/// Resolves on Ctrl-C or SIGTERM: daemons then shut down cleanly.
pub async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot listen for Ctrl-C")?,
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    Ok(())
}
