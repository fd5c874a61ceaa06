//! `cairn bench`: throughput measured against a baseline run on the same
//! machine, on the same disk, in the same command — so the figure that
//! matters is the ratio, which a busy or slow machine changes far less than
//! the absolute numbers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::BytesMut;
use cairn_client::{CreateOptions, DfsClient};
use clap::{Args, Subcommand};
use tokio::io::AsyncReadExt;

use crate::config::Settings;
use crate::embedded::EmbeddedCluster;
use crate::human;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Write then read a file (TestDFSIO-style) on a local cluster started
    /// for the run, next to `cp` and `cat` of the same bytes on the same disk.
    Dfsio(DfsioArgs),
}

#[derive(Args, Debug)]
pub struct DfsioArgs {
    /// Bytes to write and read (e.g. 256m, 1g).
    #[arg(long, default_value = "1g", value_parser = human::parse_size)]
    pub size: u64,
    /// Replication factors to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    pub replication: Vec<u32>,
    /// Scratch directory on the disk to measure (removed afterwards).
    /// Default: a new directory under the current one.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(settings: Settings, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Dfsio(args) => dfsio(settings, args).await,
    }
}

/// One measured line: Cairn's rate beside the baseline's.
struct Measurement {
    name: String,
    cairn: Duration,
    baseline_name: &'static str,
    baseline: Duration,
    goal: f64,
}

async fn dfsio(settings: Settings, args: DfsioArgs) -> anyhow::Result<()> {
    let parent = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&parent)?;
    let scratch = tempfile::Builder::new()
        .prefix("cairn-bench-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot create a scratch directory in {}", parent.display()))?;
    let source = scratch.path().join("source.bin");
    eprintln!(
        "writing {} of random bytes to {}",
        mib(args.size),
        source.display()
    );
    write_random_file(&source, args.size)?;

    let max_replication = args.replication.iter().copied().max().unwrap_or(1);
    let mut nn_config = settings.file.namenode;
    nn_config.default_replication = max_replication;
    let cluster = EmbeddedCluster::start(
        &scratch.path().join("cluster"),
        max_replication.max(1),
        "127.0.0.1:0",
        None,
        nn_config,
        &settings.file.datanode,
    )
    .await?;
    let client = DfsClient::connect(cairn_client::ClientConfig::new(
        cluster.namenode_addr().to_string(),
        settings.user.clone(),
    ))
    .await?;
    wait_for_datanodes(&client, max_replication as usize).await?;

    let mut results = Vec::new();
    let copy = scratch.path().join("copy.bin");
    let cp = time_command(Command::new("cp").arg(&source).arg(&copy))?;
    let cp_sync = {
        let start = Instant::now();
        std::fs::remove_file(&copy)?;
        time_command(Command::new("cp").arg(&source).arg(&copy))?;
        std::fs::File::open(&copy)?.sync_all()?;
        start.elapsed()
    };
    // Warm the page cache, as the second read of a Cairn file finds it.
    time_command(
        Command::new("sh")
            .arg("-c")
            .arg(format!("cat '{}' > /dev/null", copy.display())),
    )?;
    let cat = time_command(
        Command::new("sh")
            .arg("-c")
            .arg(format!("cat '{}' > /dev/null", copy.display())),
    )?;

    for &replication in &args.replication {
        let path = format!("/bench/dfsio-r{replication}");
        let write = write_file(&client, &source, &path, replication).await?;
        results.push(Measurement {
            name: format!("write r={replication}"),
            cairn: write,
            baseline_name: "cp",
            baseline: cp,
            goal: if replication == 1 { 0.7 } else { 0.0 },
        });
        results.push(Measurement {
            name: format!("write r={replication}"),
            cairn: write,
            baseline_name: "cp+fsync",
            baseline: cp_sync,
            goal: 0.0,
        });
        let read = read_file(&client, &path, args.size).await?;
        results.push(Measurement {
            name: format!("read  r={replication}"),
            cairn: read,
            baseline_name: "cat",
            baseline: cat,
            goal: 0.8,
        });
    }
    cluster.shutdown().await?;
    print_results(&results, args.size, args.json);
    Ok(())
}

fn write_random_file(path: &Path, size: u64) -> anyhow::Result<()> {
    use rand::{RngCore, SeedableRng};
    use std::io::Write;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x00ca_112b);
    let mut file = std::io::BufWriter::with_capacity(8 << 20, std::fs::File::create(path)?);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill_bytes(&mut buf[..n]);
        file.write_all(&buf[..n])?;
        left -= n as u64;
    }
    file.flush()?;
    file.get_ref().sync_all()?;
    Ok(())
}

fn time_command(command: &mut Command) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let status = command
        .status()
        .context("cannot run the baseline command")?;
    if !status.success() {
        bail!("the baseline command {command:?} failed: {status}");
    }
    Ok(start.elapsed())
}

async fn wait_for_datanodes(client: &DfsClient, count: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let live = client
            .datanode_report(cairn_client::DatanodeReportType::Live)
            .await?;
        let (safe_mode, _) = client
            .set_safe_mode(cairn_client::SafeModeAction::SafemodeGet)
            .await?;
        if live.len() >= count && !safe_mode {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {} of {count} datanodes came up", live.len());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Streams a local file into Cairn in 8 MiB pieces, timing create to close.
async fn write_file(
    client: &DfsClient,
    source: &Path,
    path: &str,
    replication: u32,
) -> anyhow::Result<Duration> {
    let mut file = tokio::fs::File::open(source).await?;
    let start = Instant::now();
    let mut writer = client
        .create(
            path,
            CreateOptions {
                overwrite: true,
                create_parent: true,
                replication: Some(replication),
                ..Default::default()
            },
        )
        .await?;
    loop {
        let mut buf = BytesMut::with_capacity(8 << 20);
        while buf.len() < buf.capacity() {
            if file.read_buf(&mut buf).await? == 0 {
                break;
            }
        }
        if buf.is_empty() {
            break;
        }
        writer.write_bytes(buf.freeze()).await?;
    }
    writer.close().await?;
    Ok(start.elapsed())
}

async fn read_file(client: &DfsClient, path: &str, size: u64) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut reader = client.open(path).await?;
    let mut total = 0u64;
    while let Some(chunk) = reader.read_chunk().await? {
        total += chunk.len() as u64;
    }
    if total != size {
        bail!("read {total} bytes of {path}, expected {size}");
    }
    Ok(start.elapsed())
}

/// Sizes in the binary unit the figures are measured in.
fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
}

fn rate(bytes: u64, time: Duration) -> f64 {
    bytes as f64 / 1e6 / time.as_secs_f64().max(1e-9)
}

fn print_results(results: &[Measurement], size: u64, json: bool) {
    if json {
        let lines: Vec<String> = results
            .iter()
            .map(|m| {
                format!(
                    "{{\"name\":\"{}\",\"cairn_mb_s\":{:.1},\"baseline\":\"{}\",\"baseline_mb_s\":{:.1},\"ratio\":{:.3}}}",
                    m.name.replace("  ", " "),
                    rate(size, m.cairn),
                    m.baseline_name,
                    rate(size, m.baseline),
                    m.baseline.as_secs_f64() / m.cairn.as_secs_f64().max(1e-9)
                )
            })
            .collect();
        println!("[{}]", lines.join(",\n "));
        return;
    }
    println!("dfsio: {} per run", mib(size));
    println!(
        "{:<12} {:>10}  {:<9} {:>10}  {:>6}  goal",
        "", "Cairn MB/s", "baseline", "MB/s", "ratio"
    );
    for m in results {
        let ratio = m.baseline.as_secs_f64() / m.cairn.as_secs_f64().max(1e-9);
        let goal = if m.goal > 0.0 {
            format!(
                "≥ {:.1}{}",
                m.goal,
                if ratio >= m.goal { "" } else { "  (short)" }
            )
        } else {
            String::new()
        };
        println!(
            "{:<12} {:>10.1}  {:<9} {:>10.1}  {:>6.2}  {goal}",
            m.name,
            rate(size, m.cairn),
            m.baseline_name,
            rate(size, m.baseline),
            ratio
        );
    }
}
