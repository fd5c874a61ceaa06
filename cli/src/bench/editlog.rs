//! Group commit under load: how many creates share one fsync of the edit
//! log when many clients create at once (HDFS's FSEditLog.logSync batches
//! the same way). Read from the edit log's own counters.

use std::path::Path;

use super::cluster::per_s;
use super::nn_ops::{Layout, NnOp, drive, prepare};
use super::report::{Goal, Report, Row};
use super::target::start_namenode;
use crate::config::Settings;

pub async fn run(
    settings: &Settings,
    scratch: &Path,
    ops: u64,
    threads: usize,
    clients: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    let (namenode, target) = start_namenode(settings, scratch).await?;
    let user = settings.file.namenode.superuser.clone();
    target.wait_out_of_safe_mode(&user).await?;
    let layout = Layout {
        prefix: "/editlog".to_string(),
        ops,
    };
    prepare(&target, &user, &layout).await?;
    let edit_log = std::sync::Arc::clone(&namenode.namesystem().edit_log);
    eprintln!("editlog: {ops} creates, {clients} in flight on {threads} threads");
    let before = edit_log.sync_status();
    let time = drive(target, &user, &layout, NnOp::Create, threads, clients)
        .await?
        .wall;
    let after = edit_log.sync_status();
    namenode.shutdown().await?;

    let fsyncs = after.syncs.saturating_sub(before.syncs).max(1) as f64;
    let edits = after.synced_txid.saturating_sub(before.synced_txid) as f64;
    report.push(
        Row::new(
            "editlog",
            format!("creates per fsync, {clients} clients"),
            ops as f64 / fsyncs,
            "creates",
        )
        .goal(Goal::AtLeast(10.0)),
    );
    report.push(Row::new(
        "editlog",
        "edits per fsync",
        edits / fsyncs,
        "edits",
    ));
    report.push(Row::new(
        "editlog",
        "fsyncs",
        fsyncs / time.as_secs_f64().max(1e-9),
        "fsync/s",
    ));
    report.push(Row::new(
        "editlog",
        "fsyncs delayed to grow the batch",
        after.delayed.saturating_sub(before.delayed) as f64,
        "fsyncs",
    ));
    report.push(Row::new("editlog", "creates", per_s(ops, time), "ops/s"));
    Ok(())
}
