//! `cairn server`: the embedded default. A namenode and N datanodes in one
//! process, so a newcomer has a working cluster with one command and gets
//! it back, files and all, by running the same command again.

use std::path::PathBuf;

use clap::Args;

use crate::config::{DEFAULT_NAMENODE, Settings};
use crate::daemon::{DEFAULT_NAMENODE_HTTP, shutdown_signal};
use crate::embedded::EmbeddedCluster;

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
        settings.file.namenode,
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
    cluster.shutdown().await?;
    println!("Cairn stopped; run `cairn server` again to carry on where it left off.");
    Ok(())
}
