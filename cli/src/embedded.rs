//! A namenode and N datanodes in one process, each with its own directory
//! under one data directory: what `cairn server` runs, and what
//! `cairn bench` measures.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cairn_datanode::{Datanode, DatanodeConfig};
use cairn_namenode::{Namenode, NamenodeConfig};

use crate::daemon::bind;

pub struct EmbeddedCluster {
    pub namenode: Namenode,
    /// Where the namenode's status page is served, if it is.
    pub http_addr: Option<SocketAddr>,
    pub datanodes: Vec<(Datanode, PathBuf)>,
    /// Set when this start formatted a new namespace.
    pub formatted: Option<String>,
}

impl EmbeddedCluster {
    /// Starts the namenode on `namenode_address` (formatting `data_dir/name`
    /// the first time), its status page on `http_address` when given, and
    /// `datanodes` datanodes on free ports, with their data in
    /// `data_dir/dn1`, `data_dir/dn2`, ...
    pub async fn start(
        data_dir: &Path,
        datanodes: u32,
        namenode_address: &str,
        http_address: Option<&str>,
        mut nn_config: NamenodeConfig,
        dn_config: &DatanodeConfig,
    ) -> anyhow::Result<EmbeddedCluster> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
        nn_config.name_dir = data_dir.join("name");
        // As HDFS's pseudo-distributed setup: never ask for more replicas
        // than there are datanodes, or every write stays under-replicated.
        nn_config.default_replication = nn_config.default_replication.min(datanodes);
        let formatted = if cairn_namenode::is_formatted(&nn_config.name_dir) {
            None
        } else {
            Some(cairn_namenode::format(&nn_config.name_dir, None, false)?)
        };
        let listener = bind(namenode_address, "namenode").await?;
        let http = match http_address {
            Some(addr) => Some(bind(addr, "namenode's HTTP server").await?),
            None => None,
        };
        let http_addr = http.as_ref().map(|l| l.local_addr()).transpose()?;
        let mut namenode = Namenode::start(nn_config, listener).await?;
        if let Some(http) = http {
            namenode.serve_http(http);
        }
        let nn_addr = namenode.local_addr();

        let mut started = Vec::new();
        for i in 1..=datanodes {
            let dir = data_dir.join(format!("dn{i}"));
            let mut config = dn_config.clone();
            config.data_dirs = vec![dir.clone()];
            config.namenode = nn_addr.to_string();
            config.host = nn_addr.ip().to_string();
            let listener = bind(&format!("{}:0", nn_addr.ip()), "datanode").await?;
            let http = bind(&format!("{}:0", nn_addr.ip()), "datanode's HTTP server").await?;
            let datanode = Datanode::start_with_http(config, listener, Some(http))
                .await
                .with_context(|| format!("datanode {i} ({}) did not start", dir.display()))?;
            started.push((datanode, dir));
        }
        Ok(EmbeddedCluster {
            namenode,
            http_addr,
            datanodes: started,
            formatted,
        })
    }

    pub fn namenode_addr(&self) -> SocketAddr {
        self.namenode.local_addr()
    }

    /// Stops the datanodes, then the namenode (which writes a checkpoint).
    pub async fn shutdown(self) -> anyhow::Result<()> {
        for (datanode, _) in self.datanodes {
            datanode.shutdown().await?;
        }
        self.namenode.shutdown().await?;
        Ok(())
    }
}
