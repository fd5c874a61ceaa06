//! `cairn server`: the embedded default. A namenode and N datanodes in one
//! process, each with its own directory under one data directory, so a
//! newcomer has a working cluster with one command and gets it back, files
//! and all, by running the same command again.

use std::path::PathBuf;

use anyhow::Context;
use cairn_datanode::Datanode;
use cairn_namenode::Namenode;
use clap::Args;

use crate::config::Settings;
use crate::daemon::{bind, shutdown_signal};

#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Where the namenode and the datanodes keep their data.
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = "./cairn-data", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// How many datanodes to run.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub datanodes: u32,
    /// The namenode's RPC address (HDFS's port by default).
    #[arg(long, default_value = "127.0.0.1:8020", value_name = "IP:PORT")]
    pub namenode_address: String,
}

pub async fn run(settings: Settings, args: ServerArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create the data directory {}", args.data_dir.display()))?;
    let mut nn_config = settings.file.namenode;
    nn_config.name_dir = args.data_dir.join("name");
    // As HDFS's pseudo-distributed setup: never ask for more replicas than
    // there are datanodes, or every write would stay under-replicated.
    nn_config.default_replication = nn_config.default_replication.min(args.datanodes);
    if !cairn_namenode::is_formatted(&nn_config.name_dir) {
        let cluster_id = cairn_namenode::format(&nn_config.name_dir, None, false)?;
        println!("Formatted a new namespace for cluster {cluster_id}");
    }
    let listener = bind(&args.namenode_address, "namenode").await?;
    let namenode = Namenode::start(nn_config, listener).await?;
    let nn_addr = namenode.local_addr();
    println!("Cairn is running (cluster {}):", namenode.cluster_id());
    println!(
        "  namenode    cairn://{nn_addr}    data in {}",
        args.data_dir.join("name").display()
    );

    let mut datanodes = Vec::new();
    for i in 1..=args.datanodes {
        let mut dn_config = settings.file.datanode.clone();
        let dir = args.data_dir.join(format!("dn{i}"));
        dn_config.data_dirs = vec![dir.clone()];
        dn_config.namenode = nn_addr.to_string();
        dn_config.host = nn_addr.ip().to_string();
        let listener = bind(&format!("{}:0", nn_addr.ip()), "datanode").await?;
        let datanode = Datanode::start(dn_config, listener)
            .await
            .with_context(|| format!("datanode {i} ({}) did not start", dir.display()))?;
        println!(
            "  datanode {i}  {}    data in {}",
            datanode.local_addr(),
            dir.display()
        );
        datanodes.push(datanode);
    }
    if nn_addr.to_string() != crate::config::DEFAULT_NAMENODE {
        println!("export CAIRN_NAMENODE={nn_addr}   # so that cairn dfs finds this namenode");
    }
    println!("try: cairn dfs -ls /");
    println!("Press Ctrl-C to stop.");

    shutdown_signal().await?;
    for datanode in datanodes {
        datanode.shutdown().await?;
    }
    namenode.shutdown().await?;
    println!("Cairn stopped; run `cairn server` again to carry on where it was.");
    Ok(())
}
