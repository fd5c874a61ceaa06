//! Large objects through the S3 gateway beside the client library: `objects`
//! objects of `size` bytes, PUT then GET by several concurrent clients,
//! first directly with `cairn-client` and then through the gateway, on the
//! same cluster in the same run. Issue 5's goal: the gateway moves at least
//! 0.8× the direct client's bytes per second.
//!
//! One datanode and replication 1: the cluster's own write path is then as
//! fast as it gets, so what the ratio shows is the gateway's overhead (HTTP,
//! body streaming, MD5 of the payload) rather than the pipeline's.
//!
//! Then what any gateway must add, each part alone on the same bytes: one
//! loopback HTTP hop each way and the MD5s. The "bound" rows are the best
//! ratios those leave on cores the run saturates (bytes per CPU-second of
//! the direct client's work plus theirs): what the goal can be measured
//! against on this machine, not a goal themselves.

use std::path::Path;

use bytes::Bytes;

use super::cluster::mb_per_s;
use super::report::{Goal, Report, Row};
use super::s3_client::{S3BenchCluster, Workload, gateway_floor, measure};
use crate::config::Settings;
use crate::human;

/// The piece size the direct client writes in (as `cairn dfs -put`).
const DIRECT_PIECE: usize = 8 << 20;
const DATANODES: u32 = 1;

pub struct S3LargePlan {
    pub size: u64,
    pub objects: u64,
    pub clients: usize,
    /// Alternating rounds of the four phases (see [`measure`]).
    pub rounds: u64,
}

pub async fn run(
    settings: &Settings,
    scratch: &Path,
    plan: &S3LargePlan,
    report: &mut Report,
) -> anyhow::Result<()> {
    let S3LargePlan {
        size,
        objects,
        clients,
        rounds,
    } = *plan;
    let what = format!("{}, {clients} clients", human::byte_desc(size));
    eprintln!("s3-large: {objects} × {what}, directly and through S3, {rounds} alternating rounds");
    let bench = S3BenchCluster::start(settings, &scratch.join("cluster"), DATANODES).await?;
    let work = Workload {
        clients,
        objects,
        data: random_bytes(size),
        piece: DIRECT_PIECE,
        rounds,
    };
    let timings = measure(&bench, &work).await;
    bench.shutdown().await?;
    let timings = timings?;
    eprintln!("s3-large: the HTTP hop alone and MD5 alone, on the same bytes");
    let floor = gateway_floor(&work).await?;
    let total = size * objects * rounds;
    for (op, s3, direct, baseline) in [
        (
            "PUT",
            timings.s3_put,
            timings.direct_put,
            "cairn-client put",
        ),
        (
            "GET",
            timings.s3_get,
            timings.direct_get,
            "cairn-client get",
        ),
    ] {
        report.push(
            Row::new(
                "s3-large",
                format!("{op} {what}"),
                mb_per_s(total, s3.wall),
                "MB/s",
            )
            .baseline(baseline, mb_per_s(total, direct.wall))
            .goal(Goal::RatioAtLeast(0.8)),
        );
        // Bytes per CPU-second of the whole process (cluster, gateway and
        // clients): what the throughput ratio follows when the cores are
        // saturated, and where it does not, what the gateway costs.
        report.push(
            Row::new(
                "s3-large",
                format!("{op} per CPU-second"),
                mb_per_s(total, s3.cpu),
                "MB/CPU-s",
            )
            .baseline(baseline, mb_per_s(total, direct.cpu)),
        );
    }
    // What no gateway on these cores can avoid: the parts alone, and the
    // best ratios they leave (bytes per CPU-second of the direct client's
    // work plus theirs, beside the direct client's alone). Bounds, not
    // goals: on saturated cores throughput follows CPU per byte.
    for (part, phase) in [
        ("HTTP hop alone (PUT bodies)", floor.put_hop),
        ("HTTP hop alone (GET bodies)", floor.get_hop),
        ("MD5 alone", floor.md5),
    ] {
        report.push(Row::new(
            "s3-large",
            format!("{part} per CPU-second"),
            mb_per_s(total, phase.cpu),
            "MB/CPU-s",
        ));
    }
    let put = timings.direct_put.cpu;
    let get = timings.direct_get.cpu;
    for (bound, cpu, direct, baseline) in [
        (
            "PUT bound: direct + hop + MD5 CPU",
            put + floor.put_hop.cpu + floor.md5.cpu,
            put,
            "cairn-client put",
        ),
        (
            "GET bound: direct + hop CPU",
            get + floor.get_hop.cpu,
            get,
            "cairn-client get",
        ),
    ] {
        report.push(
            Row::new("s3-large", bound, mb_per_s(total, cpu), "MB/CPU-s")
                .baseline(baseline, mb_per_s(total, direct)),
        );
    }
    Ok(())
}

/// `size` reproducible random bytes (incompressible, as real data is).
fn random_bytes(size: u64) -> Bytes {
    use rand::{RngCore, SeedableRng};
    let mut data = vec![0u8; size as usize];
    rand::rngs::StdRng::seed_from_u64(0x5300_ca1e).fill_bytes(&mut data);
    Bytes::from(data)
}
