//! `fuse-meta`: what `touch`, `ls -l` and `ls` cost through a FUSE mount —
//! create, stat and list many empty files, one call at a time as those
//! tools make them — beside the same calls on the local disk in the same
//! run. Every create through the mount is a namenode create and close.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::cluster::{BenchCluster, per_s};
use super::fuse_mount::{BenchMount, fuse_missing};
use super::report::{Report, Row};
use crate::config::Settings;

const REPLICATION: u32 = 3;
/// Files per directory, as a real tree spreads them.
const FAN_OUT: u64 = 1000;

/// The times of creating, stat-ing and listing the files of one tree.
struct Times {
    create: Duration,
    stat: Duration,
    list: Duration,
}

pub async fn run(
    settings: &Settings,
    scratch: &Path,
    files: u64,
    report: &mut Report,
) -> anyhow::Result<()> {
    if fuse_missing("fuse-meta") {
        return Ok(());
    }
    eprintln!("fuse-meta: create, stat and list {files} empty files through a mount and on disk");
    let bench = BenchCluster::start(settings, &scratch.join("cluster"), REPLICATION).await?;
    let mount = BenchMount::start(&bench, &scratch.join("mnt")).await?;
    let tree = mount.path().join("meta");
    let result = tokio::task::spawn_blocking(move || run_tree(&tree, files)).await;
    mount.unmount().await?;
    bench.shutdown().await?;
    let cairn = result??;
    let local_tree = scratch.join("local");
    let local = tokio::task::spawn_blocking(move || run_tree(&local_tree, files)).await??;
    for (measure, cairn, local) in [
        ("create through the mount", cairn.create, local.create),
        ("stat through the mount", cairn.stat, local.stat),
        ("list through the mount", cairn.list, local.list),
    ] {
        report.push(
            Row::new("fuse-meta", measure, per_s(files, cairn), "files/s")
                .baseline("local disk", per_s(files, local)),
        );
    }
    Ok(())
}

fn path(tree: &Path, i: u64) -> PathBuf {
    tree.join(format!("d{}", i / FAN_OUT)).join(format!("f{i}"))
}

/// Creates `files` empty files under `tree`, then stats each, then lists
/// every directory; on the mount, this runs off the runtime serving it.
fn run_tree(tree: &Path, files: u64) -> anyhow::Result<Times> {
    for d in 0..files.div_ceil(FAN_OUT) {
        std::fs::create_dir_all(tree.join(format!("d{d}")))?;
    }
    let start = Instant::now();
    for i in 0..files {
        std::fs::File::create(path(tree, i))?;
    }
    let create = start.elapsed();
    let start = Instant::now();
    for i in 0..files {
        std::fs::symlink_metadata(path(tree, i))?;
    }
    let stat = start.elapsed();
    let start = Instant::now();
    let mut listed = 0u64;
    for d in 0..files.div_ceil(FAN_OUT) {
        for entry in std::fs::read_dir(tree.join(format!("d{d}")))? {
            entry?;
            listed += 1;
        }
    }
    let list = start.elapsed();
    anyhow::ensure!(listed == files, "listed {listed} files of {files}");
    Ok(Times { create, stat, list })
}
