//! `checksum`: what checksums cost. The three dfsio workloads run twice in
//! the same command, once with Cairn's default checksum type (CRC32C, as
//! HDFS's `dfs.checksum.type`) and once with NULL (no checksums written,
//! sent or verified); the ratio with / without is the share of throughput
//! checksums leave (issue 7's goal: at least 0.95).
//!
//! On 2 cores one run of a workload can take twice as long as the next
//! (how the scheduler places the pipeline's hops), so each workload runs
//! several pairs, alternating which type goes first, and the ratio is
//! that of the total times.

use std::path::Path;
use std::time::Duration;

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
    pairs: u64,
    report: &mut Report,
) -> anyhow::Result<()> {
    let on = ChecksumType::default();
    let source = dfsio::source_file(scratch, size)?;
    for workload in [Workload::Write, Workload::WriteTmpfs, Workload::Read] {
        eprintln!(
            "checksum: {} of {}, {pairs} × {on} and {pairs} × NULL, alternating",
            workload.name(),
            mib(size)
        );
        let (mut with, mut without) = (Duration::ZERO, Duration::ZERO);
        for pair in 0..pairs {
            let mut order = [(on, &mut with), (ChecksumType::Null, &mut without)];
            if pair % 2 == 1 {
                order.reverse();
            }
            for (checksum, total) in order {
                *total += dfsio::measure(settings, scratch, &source, workload, checksum).await?;
            }
        }
        report.push(
            Row::new(
                "checksum",
                format!("{} {on} vs NULL", workload.name()),
                mb_per_s(size * pairs, with),
                "MB/s",
            )
            .baseline(
                format!("{} NULL", workload.name()),
                mb_per_s(size * pairs, without),
            )
            .goal(Goal::RatioAtLeast(GOAL)),
        );
    }
    Ok(())
}
