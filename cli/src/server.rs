//! `cairn server`: the embedded default. A namenode and N datanodes in one
//! process, so a newcomer has a working cluster with one command and gets
//! it back, files and all, by running the same command again.

use std::path::PathBuf;

use clap::Args;

use crate::config::{DEFAULT_NAMENODE, Settings};
use crate::daemon::{DEFAULT_NAMENODE_HTTP, bind, shutdown_signal};
use crate::embedded::EmbeddedCluster;
use crate::s3;

#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Where the namenode and the datanodes keep their data.
    #[arg(
        long,
        env = "CAIRN_DATA_DIR",
        default_value = "./cairn-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// How many datanodes to run.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub datanodes: u32,
    /// The namenode's RPC address (HDFS's port by default).
    #[arg(long, default_value = DEFAULT_NAMENODE, value_name = "IP:PORT")]
    pub namenode_address: String,
    /// The namenode's status page (HDFS's port by default).
    #[arg(long, default_value = DEFAULT_NAMENODE_HTTP, value_name = "IP:PORT")]
    pub http_address: String,
    /// The S3 gateway. Default: the config file's `s3.address`, else
    /// 127.0.0.1:9000.
    #[arg(long, value_name = "IP:PORT")]
    pub s3_address: Option<String>,
    /// Also mount the cluster on this empty directory (as `cairn mount`).
    #[arg(long, value_name = "DIR")]
    pub mount: Option<PathBuf>,
}

pub async fn run(settings: Settings, args: ServerArgs) -> anyhow::Result<()> {
    let mount_client = settings.client_config();
    let cluster = EmbeddedCluster::start(
        &args.data_dir,
        args.datanodes,
        &args.namenode_address,
        Some(&args.http_address),
        settings.file.namenode.clone(),
        &settings.file.datanode,
    )
    .await?;
    if let Some(cluster_id) = &cluster.formatted {
        println!("Formatted a new namespace for cluster {cluster_id}");
    }
    let nn_addr = cluster.namenode_addr();
    println!(
        "Cairn is running (cluster {}):",
        cluster.namenode.cluster_id()
    );
    println!(
        "  namenode    cairn://{nn_addr}    data in {}",
        args.data_dir.join("name").display()
    );
    if let Some(http) = cluster.http_addr {
        println!("  web UI      http://{http}/");
    }
    for (i, (datanode, dir)) in cluster.datanodes.iter().enumerate() {
        println!(
            "  datanode {}  {}    data in {}",
            i + 1,
            datanode.local_addr(),
            dir.display()
        );
    }
    let s3_address = args
        .s3_address
        .clone()
        .unwrap_or_else(|| settings.file.s3.address.clone());
    let gateway = start_s3(&settings, &args, &nn_addr.to_string(), &s3_address).await?;
    let mount = match &args.mount {
        Some(dir) => {
            let mut config = mount_client;
            config.namenode = nn_addr.to_string();
            let client = cairn_client::DfsClient::connect(config).await?;
            let mount =
                cairn_fuse::Mount::start(client, dir, cairn_fuse::MountOptions::default()).await?;
            println!("  mount       {}", dir.display());
            Some(mount)
        }
        None => None,
    };
    if nn_addr.to_string() != DEFAULT_NAMENODE {
        println!("export CAIRN_NAMENODE={nn_addr}   # so that cairn dfs finds this namenode");
    }
    println!("try: cairn dfs -ls /");
    println!("Press Ctrl-C to stop.");

    shutdown_signal().await?;
    if let Some(mount) = mount {
        mount.unmount().await?;
    }
    gateway.shutdown().await?;
    cluster.shutdown().await?;
    println!("Cairn stopped; run `cairn server` again to carry on where it left off.");
    Ok(())
}

/// Starts the S3 gateway of the embedded cluster with the configured keys
/// (or the development pair kept in the data directory) and prints how to
/// reach it.
async fn start_s3(
    settings: &Settings,
    args: &ServerArgs,
    namenode: &str,
    address: &str,
) -> anyhow::Result<cairn_s3::S3Gateway> {
    let mut keys = s3::configured_keys(
        settings,
        std::env::var("CAIRN_S3_ACCESS_KEY").ok(),
        std::env::var("CAIRN_S3_SECRET_KEY").ok(),
    )?;
    let generated = keys.is_empty();
    if generated {
        keys.push(s3::development_key(&args.data_dir, &settings.user)?);
    }
    let shown = keys.first().cloned();
    let listener = bind(address, "S3 gateway").await?;
    let gateway = s3::start(settings, namenode, keys, listener).await?;
    let endpoint = format!("http://{}", gateway.local_addr());
    println!("  s3 gateway  {endpoint}");
    if let Some(key) = shown.filter(|_| generated) {
        println!(
            "              development key (kept in {}):",
            args.data_dir.join("s3-dev-key").display()
        );
        println!("              export AWS_ACCESS_KEY_ID={}", key.access_key);
        println!(
            "              export AWS_SECRET_ACCESS_KEY={}",
            key.secret_key
        );
    }
    println!("try: aws --endpoint-url {endpoint} s3 ls");
    Ok(gateway)
}
