//! `checksum`: what checksums cost. The three dfsio workloads run twice in
//! the same command, once with Cairn's default checksum type (CRC32C, as
//! HDFS's `dfs.checksum.type`) and once with NULL (no checksums written,
//! sent or verified); the ratio with / without is the share of throughput
//! checksums leave (issue 7's goal: at least 0.95).

use std::path::Path;

use cairn_proto::ChecksumType;

use super::cluster::mb_per_s;
use super::dfsio::{self, Workload, mib};
use super::report::{Goal, Report, Row};
use crate::config::Settings;

/// The share of throughput with checksums that issue 7 asks for.
const GOAL: f64 = 0.95;

pub async fn run(
    settings: &Settings,
    scratch: &Path,
    size: u64,
    report: &mut Report,
) -> anyhow::Result<()> {
    let on = ChecksumType::default();
    let source = dfsio::source_file(scratch, size)?;
    for workload in [Workload::Write, Workload::WriteTmpfs, Workload::Read] {
        eprintln!(
            "checksum: {} of {} with {on}, then with NULL",
            workload.name(),
            mib(size)
        );
        let with = dfsio::measure(settings, scratch, &source, workload, on).await?;
        let without =
            dfsio::measure(settings, scratch, &source, workload, ChecksumType::Null).await?;
        report.push(
            Row::new(
                "checksum",
                format!("{} {on} vs NULL", workload.name()),
                mb_per_s(size, with),
                "MB/s",
            )
            .baseline(format!("{} NULL", workload.name()), mb_per_s(size, without))
            .goal(Goal::RatioAtLeast(GOAL)),
        );
    }
    Ok(())
}
