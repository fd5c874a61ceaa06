//! TestDFSIO-style throughput: put and get one large file on a local
//! three-datanode cluster, each beside the machine's own limit measured in
//! the same run.
//!
//! * `dfsio-write`: replication 3, durable (every replica fsynced when its
//!   block is finalized) on the scratch directory's disk, against three
//!   `dd conv=fdatasync` of the same bytes on the same disk — the disk
//!   writes every replica, so three copies is its honest limit.
//! * `dfsio-write --tmpfs`: the same with the data directories on tmpfs,
//!   against the benchmark's own TCP relay (client → dn1 → dn2 → sink with
//!   checksums at each hop): what remains is the network path and CPU.
//! * `dfsio-read`: a warm-cache read against one loopback TCP stream.
//!
//! Cairn writes with its default checksum type (CRC32C); the `checksum`
//! benchmark runs the same workloads through [`measure`] without checksums.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use cairn_proto::ChecksumType;

use super::cluster::{
    BenchCluster, get_file, mb_per_s, put_file, scratch_dir, time_command, write_random_file,
};
use super::relay;
use super::report::{Goal, Report, Row};
use crate::config::Settings;

const REPLICATION: u32 = 3;

/// Where tmpfs is on Linux.
const TMPFS: &str = "/dev/shm";

/// Writes the source file of `size` random bytes in `dir`.
pub fn source_file(dir: &Path, size: u64) -> anyhow::Result<std::path::PathBuf> {
    let source = dir.join("source.bin");
    eprintln!(
        "dfsio: writing {} of random bytes to {}",
        mib(size),
        source.display()
    );
    write_random_file(&source, size)?;
    Ok(source)
}

/// One of the three dfsio workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Put, replication 3, durable, on the scratch directory's disk.
    Write,
    /// Put, replication 3, data directories on tmpfs.
    WriteTmpfs,
    /// Get from a warm page cache.
    Read,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Write => "dfsio-write",
            Workload::WriteTmpfs => "dfsio-write --tmpfs",
            Workload::Read => "dfsio-read",
        }
    }
}

/// Times `workload` on `source` with a fresh cluster whose client writes
/// `checksum` checksums.
pub async fn measure(
    settings: &Settings,
    scratch: &Path,
    source: &Path,
    workload: Workload,
    checksum: ChecksumType,
) -> anyhow::Result<Duration> {
    match workload {
        Workload::Write => {
            let dir = scratch_dir(Some(scratch), "cluster-")?;
            put_on_cluster(settings, dir.path(), source, checksum).await
        }
        Workload::WriteTmpfs => {
            let shm = scratch_dir(Some(Path::new(TMPFS)), "cairn-bench-")
                .with_context(|| format!("dfsio-write --tmpfs needs tmpfs at {TMPFS}"))?;
            put_on_cluster(settings, shm.path(), source, checksum).await
        }
        Workload::Read => {
            let dir = scratch_dir(Some(scratch), "cluster-")?;
            let size = std::fs::metadata(source)?.len();
            let bench =
                BenchCluster::start_with_checksum(settings, dir.path(), REPLICATION, checksum)
                    .await?;
            put_file(&bench.client, source, "/bench/dfsio", REPLICATION).await?;
            bench.warm_page_cache().await?;
            let time = get_file(&bench.client, "/bench/dfsio", size).await?;
            bench.shutdown().await?;
            Ok(time)
        }
    }
}

/// The put beside its baseline, `rounds` times, alternating which runs
/// first; the ratio is that of the total times (one run's figure swings
/// with how the scheduler places the pipeline's hops on the cores).
pub async fn write(
    settings: &Settings,
    scratch: &Path,
    size: u64,
    tmpfs: bool,
    rounds: u64,
    report: &mut Report,
) -> anyhow::Result<()> {
    let source = source_file(scratch, size)?;
    let checksum = ChecksumType::default();
    let workload = if tmpfs {
        Workload::WriteTmpfs
    } else {
        Workload::Write
    };
    let (mut cairn, mut baseline) = (Duration::ZERO, Duration::ZERO);
    for round in 0..rounds {
        let baseline_first = round % 2 == 1;
        if baseline_first {
            baseline += write_baseline(&source, scratch, tmpfs)?;
        }
        cairn += measure(settings, scratch, &source, workload, checksum).await?;
        if !baseline_first {
            baseline += write_baseline(&source, scratch, tmpfs)?;
        }
    }
    let row = if tmpfs {
        (
            ("dfsio-write --tmpfs", "put r=3, tmpfs"),
            "TCP relay 3 hops",
            0.6,
        )
    } else {
        (("dfsio-write", "put r=3, durable"), "3 × dd fdatasync", 0.8)
    };
    let (names, baseline_name, goal) = row;
    report.push(throughput_row(
        names,
        size * rounds,
        cairn,
        (baseline_name, baseline),
        goal,
    ));
    Ok(())
}

/// One run of the write's baseline: the TCP relay, or `dd` per replica.
fn write_baseline(source: &Path, scratch: &Path, tmpfs: bool) -> anyhow::Result<Duration> {
    if tmpfs {
        relay::relay(source)
    } else {
        dd_copies(source, scratch, REPLICATION)
    }
}

/// Starts a cluster in `dir`, times one put of `source`, stops the cluster.
async fn put_on_cluster(
    settings: &Settings,
    dir: &Path,
    source: &Path,
    checksum: ChecksumType,
) -> anyhow::Result<Duration> {
    let bench = BenchCluster::start_with_checksum(settings, dir, REPLICATION, checksum).await?;
    let time = put_file(&bench.client, source, "/bench/dfsio", REPLICATION).await?;
    bench.shutdown().await?;
    Ok(time)
}

/// `copies` runs of `dd conv=fdatasync` of `source` into `dir`, one after
/// the other (as one disk writes them), timed together.
fn dd_copies(source: &Path, dir: &Path, copies: u32) -> anyhow::Result<Duration> {
    let mut total = Duration::ZERO;
    for i in 0..copies {
        let target = dir.join(format!("dd-{i}.bin"));
        total += time_command(
            Command::new("dd")
                .arg(format!("if={}", source.display()))
                .arg(format!("of={}", target.display()))
                .args(["bs=1M", "conv=fdatasync", "status=none"]),
        )?;
        std::fs::remove_file(&target)?;
    }
    Ok(total)
}

pub async fn read(
    settings: &Settings,
    scratch: &Path,
    size: u64,
    report: &mut Report,
) -> anyhow::Result<()> {
    let source = source_file(scratch, size)?;
    let cairn = measure(
        settings,
        scratch,
        &source,
        Workload::Read,
        ChecksumType::default(),
    )
    .await?;
    // Warm the source the same way.
    relay::stream(&source)?;
    let baseline = relay::stream(&source)?;
    report.push(throughput_row(
        ("dfsio-read", "get, warm cache"),
        size,
        cairn,
        ("loopback TCP", baseline),
        0.6,
    ));
    Ok(())
}

/// `size` bytes moved by Cairn in `cairn` and by the baseline in its
/// time, as MB/s, with the goal for their ratio.
fn throughput_row(
    (bench, measure): (&str, &str),
    size: u64,
    cairn: Duration,
    (baseline_name, baseline): (&str, Duration),
    goal: f64,
) -> Row {
    Row::new(bench, measure, mb_per_s(size, cairn), "MB/s")
        .baseline(baseline_name, mb_per_s(size, baseline))
        .goal(Goal::RatioAtLeast(goal))
}

/// Sizes in the binary unit they are given in.
pub fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
}
