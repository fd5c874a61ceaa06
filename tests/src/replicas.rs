//! What the datanodes hold on disk and what the namenode says about it, for
//! the fault-tolerance tests: replicas by block id and generation stamp,
//! and waiting until every block of some files is at its target.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use cairn_client::DfsClient;

use crate::MiniCluster;

/// A finalized or rbw replica found on a datanode's disk, from its meta
/// file name `blk_<id>_<genstamp>.meta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DiskReplica {
    pub block_id: u64,
    pub generation_stamp: u64,
    /// Size of the block file beside the meta file.
    pub len: u64,
}

/// Every replica under a datanode's directory.
pub fn disk_replicas(dir: &Path) -> Vec<DiskReplica> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name
                .strip_prefix("blk_")
                .and_then(|s| s.strip_suffix(".meta"))
            else {
                continue;
            };
            let mut parts = stem.split('_');
            if let (Some(Ok(block_id)), Some(Ok(generation_stamp))) =
                (parts.next().map(str::parse), parts.next().map(str::parse))
            {
                let len = std::fs::metadata(dir.join(format!("blk_{block_id}")))
                    .map(|m| m.len())
                    .unwrap_or(0);
                found.push(DiskReplica {
                    block_id,
                    generation_stamp,
                    len,
                });
            }
        }
    }
    found
}

/// The whole of a file, read through the client.
pub async fn read_file(client: &DfsClient, path: &str) -> Result<Vec<u8>> {
    let mut reader = client.open(path).await?;
    let mut data = Vec::new();
    while let Some(chunk) = reader.read_chunk().await? {
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

/// The cluster index of a datanode named by "host:port".
pub fn datanode_index(cluster: &MiniCluster, host: &str, port: u32) -> Option<usize> {
    let addr = format!("{host}:{port}");
    (0..cluster.datanode_count()).find(|&i| cluster.datanode_addr(i) == addr)
}

/// For each block of `paths`: its id, generation stamp, length and the
/// cluster indexes of the live replicas the namenode offers.
pub async fn block_replicas(
    client: &DfsClient,
    cluster: &MiniCluster,
    paths: &[String],
) -> Result<Vec<(u64, u64, u64, Vec<usize>)>> {
    let mut all = Vec::new();
    for path in paths {
        let located = client.get_block_locations(path, 0, u64::MAX).await?;
        for lb in located.blocks {
            let Some(block) = lb.block else { continue };
            let nodes = lb
                .locations
                .iter()
                .filter_map(|d| datanode_index(cluster, &d.host, d.xfer_port))
                .collect();
            all.push((block.id, block.generation_stamp, block.num_bytes, nodes));
        }
    }
    Ok(all)
}

/// How long [`wait_exact_replication`] waits.
const REPLICATION_TIMEOUT: Duration = Duration::from_secs(180);

/// Waits until every block of `paths` has exactly `target` replicas,
/// both as the namenode offers them and on the disks of the running
/// datanodes `running` (each with the block's current generation stamp:
/// excess and stale replicas deleted), none of them on `avoid`. Returns
/// how long it took.
pub async fn wait_exact_replication(
    client: &DfsClient,
    cluster: &MiniCluster,
    paths: &[String],
    target: usize,
    (running, avoid): (&[usize], Option<usize>),
) -> Result<Duration> {
    let timeout = REPLICATION_TIMEOUT;
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < timeout {
        match replication_state(client, cluster, paths, target, running, avoid).await {
            Ok(None) => return Ok(start.elapsed()),
            Ok(Some(why)) => last = why,
            Err(e) => last = format!("{e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!(
        "blocks not at exactly {target} replicas after {timeout:?}: {last}\n{}",
        cluster.logs()
    )
}

/// `None` when replication is exactly right, else what is still wrong.
async fn replication_state(
    client: &DfsClient,
    cluster: &MiniCluster,
    paths: &[String],
    target: usize,
    running: &[usize],
    avoid: Option<usize>,
) -> Result<Option<String>> {
    let blocks = block_replicas(client, cluster, paths).await?;
    let mut on_disk: HashMap<u64, Vec<(usize, u64)>> = HashMap::new();
    for &i in running {
        for r in disk_replicas(&cluster.datanode_dir(i)) {
            on_disk
                .entry(r.block_id)
                .or_default()
                .push((i, r.generation_stamp));
        }
    }
    for (id, gs, _, nodes) in &blocks {
        if nodes.len() != target || avoid.is_some_and(|a| nodes.contains(&a)) {
            return Ok(Some(format!("blk_{id} offered on {nodes:?}")));
        }
        let disk = on_disk.get(id).cloned().unwrap_or_default();
        if disk.len() != target || disk.iter().any(|(_, g)| g != gs) {
            return Ok(Some(format!(
                "blk_{id} (stamp {gs}) on disk as (datanode, stamp) {disk:?}"
            )));
        }
    }
    Ok(None)
}
