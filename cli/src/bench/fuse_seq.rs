//! `fuse-seq`: sequential write and read of one file through a FUSE mount
//! of a local three-datanode cluster, each beside `cairn dfs -put`/`-get`
//! of the same bytes in the same run: the CLI itself, run as its own
//! process, between a local file and the cluster, as a user would. The goal
//! is issue 4's: the mount at 0.8× the CLI or better.
//!
//! The file read through the mount is the one the client put, never read
//! through the mount before, so the kernel's page cache does not serve it;
//! the datanodes' caches are warm for both reads alike. A second read of
//! the unchanged file, opened again, shows what the page cache the mount
//! keeps for it gives (no goal: it explains the first).

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::cluster::{BenchCluster, mb_per_s, time_command, write_random_file};
use super::dfsio::mib;
use super::fuse_mount::{BenchMount, fuse_missing};
use super::report::{Goal, Report, Row};
use crate::config::Settings;

const REPLICATION: u32 = 3;
/// The mount's goal against the CLI (issue 4).
const GOAL: f64 = 0.8;

pub async fn run(
    settings: &Settings,
    scratch: &Path,
    size: u64,
    report: &mut Report,
) -> anyhow::Result<()> {
    if fuse_missing("fuse-seq") {
        return Ok(());
    }
    let source = scratch.join("source.bin");
    eprintln!(
        "fuse-seq: {} through a mount and through cairn dfs",
        mib(size)
    );
    write_random_file(&source, size)?;
    let bench = BenchCluster::start(settings, &scratch.join("cluster"), REPLICATION).await?;
    let mount = BenchMount::start(&bench, &scratch.join("mnt")).await?;
    let result = measure(settings, &bench, mount.path(), scratch, size).await;
    mount.unmount().await?;
    bench.shutdown().await?;
    let Times {
        write,
        put,
        read,
        reread,
        get,
    } = result?;
    for (measure, mount, cli, time, goal) in [
        (
            "write through the mount",
            write,
            "dfs -put",
            put,
            Goal::RatioAtLeast(GOAL),
        ),
        (
            "read through the mount",
            read,
            "dfs -get",
            get,
            Goal::RatioAtLeast(GOAL),
        ),
        (
            "read again (page cache kept)",
            reread,
            "dfs -get",
            get,
            Goal::None,
        ),
    ] {
        report.push(
            Row::new("fuse-seq", measure, mb_per_s(size, mount), "MB/s")
                .baseline(cli, mb_per_s(size, time))
                .goal(goal),
        );
    }
    Ok(())
}

/// What [`measure`] times.
struct Times {
    /// `cp` into the mount.
    write: Duration,
    /// `cairn dfs -put`.
    put: Duration,
    /// The put file read through the mount.
    read: Duration,
    /// The same read once more.
    reread: Duration,
    /// `cairn dfs -get`.
    get: Duration,
}

async fn measure(
    settings: &Settings,
    bench: &BenchCluster,
    mnt: &Path,
    scratch: &Path,
    size: u64,
) -> anyhow::Result<Times> {
    let source = scratch.join("source.bin");
    let dfs = Dfs {
        user: settings.user.clone(),
        namenode: format!("cairn://{}", bench.cluster.namenode_addr()),
    };
    bench.client.mkdirs("/bench", None).await?;
    let put = dfs
        .time(&[
            "-put".as_ref(),
            source.as_os_str(),
            "/bench/put.bin".as_ref(),
        ])
        .await?;
    let (from, to) = (source.clone(), mnt.join("bench/fuse.bin"));
    let write = blocking(move || {
        let start = Instant::now();
        copy_as_cp(&from, &to).with_context(|| format!("cannot copy into {}", to.display()))?;
        Ok(start.elapsed())
    })
    .await?;
    // Both reads find every replica in the datanodes' page cache.
    bench.warm_page_cache().await?;
    let local = scratch.join("got.bin");
    let get = dfs
        .time(&[
            "-get".as_ref(),
            "/bench/put.bin".as_ref(),
            local.as_os_str(),
        ])
        .await?;
    let got = std::fs::metadata(&local)?.len();
    anyhow::ensure!(got == size, "dfs -get wrote {got} bytes, expected {size}");
    std::fs::remove_file(&local)?;
    let through = mnt.join("bench/put.bin");
    let read = read_through(&through, size).await?;
    let reread = read_through(&through, size).await?;
    Ok(Times {
        write,
        put,
        read,
        reread,
        get,
    })
}

/// `cairn dfs` against the bench cluster, run as its own process.
struct Dfs {
    user: String,
    /// `cairn://host:port` of the bench cluster's namenode.
    namenode: String,
}

impl Dfs {
    /// Times `cairn --user USER dfs -fs NAMENODE ARGS...` from start to exit.
    async fn time(&self, args: &[&std::ffi::OsStr]) -> anyhow::Result<Duration> {
        let exe = std::env::current_exe().context("cannot find the cairn binary to run")?;
        let mut command = std::process::Command::new(exe);
        command
            .arg("--user")
            .arg(&self.user)
            .args(["dfs", "-fs", &self.namenode])
            .args(args)
            .env_remove("CAIRN_CONFIG");
        blocking(move || time_command(&mut command)).await
    }
}

/// Copies `from` to `to` as `cp` does into another file system: its
/// `copy_file_range` fails across file systems (EXDEV), so it reads and
/// writes in calls of the target's block size, which the mount gives as
/// 1 MiB. (`std::fs::copy` would `sendfile`, which the kernel hands to the
/// mount 64 KiB at a time.)
fn copy_as_cp(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let mut source = std::fs::File::open(from)?;
    let mut target = std::fs::File::create(to)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match source.read(&mut buf)? {
            0 => break,
            n => target.write_all(buf.get(..n).unwrap_or_default())?,
        }
    }
    // Closing the file completes it (the mount's flush): part of the time,
    // and a failure there fails the copy, as it fails `cp`.
    nix::unistd::close(std::os::fd::OwnedFd::from(target))?;
    Ok(())
}

/// Opens `path` and times reading all of it.
async fn read_through(path: &Path, size: u64) -> anyhow::Result<Duration> {
    let path = path.to_path_buf();
    blocking(move || {
        let start = Instant::now();
        let mut file = std::fs::File::open(&path)?;
        // 1 MiB reads, as `dd bs=1M` or `cp` would issue: `io::copy` into a
        // sink reads 8 KiB a call, which measures syscalls, not the mount.
        let mut buf = vec![0u8; 1 << 20];
        let mut copied = 0u64;
        loop {
            match file.read(&mut buf)? {
                0 => break,
                n => copied += n as u64,
            }
        }
        anyhow::ensure!(
            copied == size,
            "read {copied} bytes through the mount, expected {size}"
        );
        Ok(start.elapsed())
    })
    .await
}

/// Runs file system calls on the mount off the runtime that serves it.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f).await?
}
