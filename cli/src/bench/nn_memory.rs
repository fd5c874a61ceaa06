//! The namenode's memory per object: `files` files of one block each,
//! created through the namenode's handlers in a process of their own (so
//! nothing else this command did sits in the figure), with one stand-in
//! datanode reporting every block, as a real one would. The figure is the
//! growth of the process's resident set over files + blocks (HDFS counts
//! both as objects; it spends about 150 bytes of heap on each).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use cairn_namenode::rpc::datanode::DatanodeProtocolService;
use cairn_proto::pb;
use cairn_proto::pb::datanode_protocol_server::DatanodeProtocol;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::cluster::rerun;
use super::report::{Goal, Report, Row};
use super::target::{NnTarget, call, create_file, request, start_namenode};
use crate::config::Settings;

/// Files per directory, as in nn-ops.
const FAN_OUT: u64 = 1000;
/// Creates in flight.
const CLIENTS: usize = 64;
const BLOCK_BYTES: u64 = 1024;
const DATANODE_UUID: &str = "nn-memory-datanode";
const STORAGE_ID: &str = "DS-nn-memory";

/// What the measuring process reports.
#[derive(Debug, Serialize, Deserialize)]
pub struct MemoryFigures {
    pub files: u64,
    pub blocks: u64,
    pub rss_before: u64,
    pub rss_after: u64,
}

/// Runs the measurement in a child process and reports it.
pub async fn run(
    scratch: &Path,
    user: &str,
    files: u64,
    report: &mut Report,
) -> anyhow::Result<()> {
    eprintln!("nn-memory: {files} files of one block each, in a process of their own");
    let args = [
        "--dir".into(),
        scratch.as_os_str().to_owned(),
        "nn-memory".into(),
        "--in-child".into(),
        "--files".into(),
        files.to_string().into(),
    ];
    let figures: MemoryFigures = rerun("nn-memory", user, &args).await?;
    let objects = (figures.files + figures.blocks).max(1);
    let grown = figures.rss_after.saturating_sub(figures.rss_before);
    report.push(
        Row::new(
            "nn-memory",
            format!(
                "RSS per object, {} files + {} blocks",
                figures.files, figures.blocks
            ),
            grown as f64 / objects as f64,
            "bytes",
        )
        .goal(Goal::AtMost(100.0)),
    );
    Ok(())
}

/// The child's side: builds the namespace and prints its figures as JSON.
pub async fn in_child(settings: &Settings, scratch: &Path, files: u64) -> anyhow::Result<()> {
    let (namenode, target) = start_namenode(settings, scratch).await?;
    let user = settings.file.namenode.superuser.clone();
    let datanodes = Arc::new(DatanodeProtocolService::new(namenode.namesystem()));
    register_datanode(&datanodes, namenode.cluster_id()).await?;
    let heartbeats = tokio::spawn(heartbeat_loop(Arc::clone(&datanodes)));
    target.wait_out_of_safe_mode(&user).await?;
    for j in 0..files.div_ceil(FAN_OUT) {
        call!(
            &target,
            mkdirs,
            &user,
            pb::MkdirsRequest {
                path: format!("/mem/d{j}"),
                permission: 0o755,
                create_parent: true,
            }
        )?;
    }

    let rss_before = rss_bytes()?;
    // Results are not collected: a Vec of a million of them would sit in
    // the figure.
    futures::stream::iter(0..files)
        .map(|i| {
            let (target, datanodes, user) = (target.clone(), Arc::clone(&datanodes), user.clone());
            async move { file_of_one_block(&target, &datanodes, &user, i).await }
        })
        .buffer_unordered(CLIENTS)
        .try_for_each(|()| futures::future::ready(Ok(())))
        .await?;
    let rss_after = rss_bytes()?;
    heartbeats.abort();
    println!(
        "{}",
        serde_json::to_string(&MemoryFigures {
            files,
            blocks: files,
            rss_before,
            rss_after,
        })?
    );
    // No clean shutdown: its checkpoint of the whole namespace would only
    // be thrown away with the scratch directory.
    drop(namenode);
    Ok(())
}

async fn register_datanode(
    datanodes: &DatanodeProtocolService,
    cluster_id: &str,
) -> anyhow::Result<()> {
    datanodes
        .register_datanode(tonic::Request::new(pb::RegisterDatanodeRequest {
            registration: Some(pb::DatanodeRegistration {
                datanode_uuid: DATANODE_UUID.to_string(),
                host: "127.0.0.1".to_string(),
                xfer_port: 9,
                http_port: 9,
                cluster_id: cluster_id.to_string(),
                storage_ids: vec![STORAGE_ID.to_string()],
            }),
        }))
        .await?;
    heartbeat(datanodes).await
}

async fn heartbeat(datanodes: &DatanodeProtocolService) -> anyhow::Result<()> {
    const PIB: u64 = 1 << 50;
    datanodes
        .send_heartbeat(tonic::Request::new(pb::HeartbeatRequest {
            datanode_uuid: DATANODE_UUID.to_string(),
            capacity: PIB,
            remaining: PIB,
            ..Default::default()
        }))
        .await?;
    Ok(())
}

/// Keeps the stand-in datanode alive (and not stale) while files are made.
async fn heartbeat_loop(datanodes: Arc<DatanodeProtocolService>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if let Err(e) = heartbeat(&datanodes).await {
            tracing::warn!("nn-memory heartbeat failed: {e:#}");
        }
    }
}

/// create, addBlock, the datanode's blockReceived, complete.
async fn file_of_one_block(
    target: &NnTarget,
    datanodes: &DatanodeProtocolService,
    user: &str,
    i: u64,
) -> anyhow::Result<()> {
    let path = format!("/mem/d{}/f{i}", i / FAN_OUT);
    let client_name = format!("nn-memory-{i}");
    let file_id = create_file(target, user, &path, &client_name).await?;
    let located = call!(
        target,
        add_block,
        user,
        pb::AddBlockRequest {
            path: path.clone(),
            client_name: client_name.clone(),
            file_id,
            ..Default::default()
        }
    )?;
    let mut block = located.block.context("addBlock answered without a block")?;
    block.num_bytes = BLOCK_BYTES;
    datanodes
        .block_received_and_deleted(request(
            pb::BlockReceivedAndDeletedRequest {
                datanode_uuid: DATANODE_UUID.to_string(),
                blocks: vec![pb::ReceivedDeletedBlock {
                    block: Some(block),
                    status: pb::ReceivedDeletedStatus::Received as i32,
                    storage_id: STORAGE_ID.to_string(),
                }],
            },
            user,
        ))
        .await?;
    let completed = call!(
        target,
        complete,
        user,
        pb::CompleteRequest {
            path: path.clone(),
            client_name,
            last: Some(block),
            file_id,
        }
    )?
    .completed;
    if !completed {
        bail!("{path} did not complete");
    }
    Ok(())
}

/// This process's resident set (VmRSS), in bytes.
fn rss_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .context("nn-memory reads /proc/self/status (Linux only)")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .context("no VmRSS in /proc/self/status")
}
