//! Many small files: `files` files of 1 KiB written by 16 concurrent
//! writers, then read back by 16 readers. Reads need one namenode call and
//! one datanode read; writes add block allocation, a three-replica
//! pipeline with fsyncs, and completion — the ratio shows how much cheaper
//! the read path is.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;
use cairn_client::CreateOptions;

use super::cluster::{BenchCluster, per_s};
use super::report::{Goal, Report, Row};
use crate::config::Settings;

const FILE_BYTES: usize = 1024;
const CONCURRENCY: usize = 16;
const REPLICATION: u32 = 3;
const FAN_OUT: u64 = 1000;

pub async fn run(
    settings: &Settings,
    scratch: &Path,
    files: u64,
    report: &mut Report,
) -> anyhow::Result<()> {
    let bench = BenchCluster::start(settings, &scratch.join("cluster"), REPLICATION).await?;
    eprintln!("small-files: {files} × 1 KiB, {CONCURRENCY} writers then {CONCURRENCY} readers");
    let client = bench.client.clone();
    for j in 0..files.div_ceil(FAN_OUT) {
        client.mkdirs(&format!("/small/d{j}"), None).await?;
    }
    let data = Bytes::from(vec![0x5a; FILE_BYTES]);
    let writer_client = client.clone();
    let write = timed(files, move |i| {
        let (client, data) = (writer_client.clone(), data.clone());
        async move {
            let mut writer = client
                .create(
                    &path(i),
                    CreateOptions {
                        replication: Some(REPLICATION),
                        ..Default::default()
                    },
                )
                .await?;
            writer.write_bytes(data).await?;
            writer.close().await?;
            Ok(())
        }
    })
    .await?;
    let reader_client = client.clone();
    let read = timed(files, move |i| {
        let client = reader_client.clone();
        async move {
            let mut reader = client.open(&path(i)).await?;
            let mut total = 0;
            while let Some(chunk) = reader.read_chunk().await? {
                total += chunk.len();
            }
            if total != FILE_BYTES {
                bail!("read {total} bytes of {}", path(i));
            }
            Ok(())
        }
    })
    .await?;
    bench.shutdown().await?;
    report.push(
        Row::new(
            "small-files",
            format!("read, {CONCURRENCY} readers"),
            per_s(files, read),
            "files/s",
        )
        .baseline(format!("write, {CONCURRENCY} writers"), per_s(files, write))
        .goal(Goal::RatioAtLeast(3.0)),
    );
    Ok(())
}

fn path(i: u64) -> String {
    format!("/small/d{}/f{i}", i / FAN_OUT)
}

/// Runs `op` for 0..files on [`CONCURRENCY`] tasks; the wall time.
async fn timed<F, Fut>(files: u64, op: F) -> anyhow::Result<Duration>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (op, next) = (Arc::clone(&op), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= files {
                        return Ok::<(), anyhow::Error>(());
                    }
                    op(i).await?;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(start.elapsed())
}
