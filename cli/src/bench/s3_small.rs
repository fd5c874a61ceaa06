//! Small objects through the S3 gateway beside the client library: 4 KiB
//! objects PUT then GET by many concurrent clients, directly with
//! `cairn-client` and through the gateway, on the same cluster in the same
//! run. Per object the gateway adds an HTTP request, a signature check, a
//! staging file and its rename, and the ETag's xattr: the ratio shows what
//! that costs.

use std::path::Path;

use bytes::Bytes;

use super::cluster::per_s;
use super::report::{Report, Row};
use super::s3_client::{S3BenchCluster, Workload, measure};
use crate::config::Settings;

const OBJECT_BYTES: usize = 4096;
const DATANODES: u32 = 1;

pub async fn run(
    settings: &Settings,
    scratch: &Path,
    objects: u64,
    clients: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    eprintln!("s3-small: {objects} × 4 KiB by {clients} clients, directly and through S3");
    let bench = S3BenchCluster::start(settings, &scratch.join("cluster"), DATANODES).await?;
    let work = Workload {
        clients,
        objects,
        data: Bytes::from(vec![0x5a; OBJECT_BYTES]),
        piece: OBJECT_BYTES,
        rounds: 1,
    };
    let timings = measure(&bench, &work).await;
    bench.shutdown().await?;
    let timings = timings?;
    for (op, s3, direct, baseline) in [
        (
            "PUT",
            timings.s3_put,
            timings.direct_put,
            "cairn-client create",
        ),
        (
            "GET",
            timings.s3_get,
            timings.direct_get,
            "cairn-client open+read",
        ),
    ] {
        report.push(
            Row::new(
                "s3-small",
                format!("{op} 4 KiB, {clients} clients"),
                per_s(objects, s3.wall),
                "ops/s",
            )
            .baseline(baseline, per_s(objects, direct.wall)),
        );
    }
    Ok(())
}
