//! What several benchmarks share: a scratch directory on the disk being
//! measured, a file of random bytes, a local cluster started for the run,
//! and timing a baseline command run as its own process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use cairn_client::{CreateOptions, DfsClient};

use crate::config::Settings;
use crate::embedded::EmbeddedCluster;

/// A new directory under `parent` (default: the current directory),
/// removed when dropped.
pub fn scratch_dir(parent: Option<&Path>, prefix: &str) -> anyhow::Result<tempfile::TempDir> {
    let parent = parent
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&parent)?;
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&parent)
        .with_context(|| format!("cannot create a scratch directory in {}", parent.display()))
}

/// Writes `size` reproducible random bytes (incompressible, as real data
/// is) and syncs them, so the write does not slow what is timed next.
pub fn write_random_file(path: &Path, size: u64) -> anyhow::Result<()> {
    use rand::{RngCore, SeedableRng};
    use std::io::Write;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x00ca_112b);
    let mut file = std::io::BufWriter::with_capacity(8 << 20, std::fs::File::create(path)?);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        let piece = buf.get_mut(..n).unwrap_or_default();
        rng.fill_bytes(piece);
        file.write_all(piece)?;
        left -= n as u64;
    }
    file.flush()?;
    file.get_ref().sync_all()?;
    Ok(())
}

/// Runs a baseline command to completion and times it.
pub fn time_command(command: &mut Command) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let output = command
        .output()
        .with_context(|| format!("cannot run the baseline command {command:?}"))?;
    if !output.status.success() {
        bail!(
            "the baseline command {command:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(start.elapsed())
}

/// A namenode and `datanodes` datanodes in this process, with a client
/// (writing `checksum` checksums) connected once every datanode is live
/// and safe mode is off.
pub struct BenchCluster {
    pub cluster: EmbeddedCluster,
    pub client: DfsClient,
    /// The cluster's data directory: its name and data directories.
    dir: PathBuf,
}

impl BenchCluster {
    /// A cluster whose client writes Cairn's default checksum type.
    pub async fn start(
        settings: &Settings,
        dir: &Path,
        datanodes: u32,
    ) -> anyhow::Result<BenchCluster> {
        Self::start_with_checksum(
            settings,
            dir,
            datanodes,
            cairn_proto::ChecksumType::default(),
        )
        .await
    }

    pub async fn start_with_checksum(
        settings: &Settings,
        dir: &Path,
        datanodes: u32,
        checksum: cairn_proto::ChecksumType,
    ) -> anyhow::Result<BenchCluster> {
        let mut nn_config = settings.file.namenode.clone();
        nn_config.default_replication = datanodes;
        let cluster = EmbeddedCluster::start(
            dir,
            datanodes,
            "127.0.0.1:0",
            None,
            nn_config,
            &settings.file.datanode,
        )
        .await?;
        let mut config = cairn_client::ClientConfig::new(
            cluster.namenode_addr().to_string(),
            settings.user.clone(),
        );
        config.checksum_type = checksum;
        let client = DfsClient::connect(config).await?;
        wait_for_datanodes(&client, datanodes as usize).await?;
        Ok(BenchCluster {
            cluster,
            client,
            dir: dir.to_path_buf(),
        })
    }

    /// Reads every file of the cluster's directories, so that the reads
    /// timed next find every replica of every block in the page cache. A
    /// datanode drops a block's pages behind its writes, and a reader
    /// picks one of the replicas at random, so neither the put nor a
    /// first get leaves them all there.
    pub async fn warm_page_cache(&self) -> anyhow::Result<()> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || read_tree(&dir)).await?
    }

    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.cluster.shutdown().await
    }
}

/// Reads every regular file under `dir` to its end. A datanode may delete
/// a block (of a file deleted before) while the walk goes on: what is gone
/// is skipped.
fn read_tree(dir: &Path) -> anyhow::Result<()> {
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    let entries = match std::fs::read_dir(dir) {
        Err(e) if gone(&e) => return Ok(()),
        listed => listed.with_context(|| format!("cannot list {}", dir.display()))?,
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            read_tree(&path)?;
        } else if kind.is_file() {
            let mut file = match std::fs::File::open(&path) {
                Err(e) if gone(&e) => continue,
                opened => opened.with_context(|| format!("cannot read {}", path.display()))?,
            };
            std::io::copy(&mut file, &mut std::io::sink())?;
        }
    }
    Ok(())
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
            bail!(
                "only {} of {count} datanodes came up within a minute",
                live.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Streams a local file into Cairn in 1 MiB pieces, as `dfs -put` reads
/// its source, timing create to close.
/// The pieces are read with plain `read(2)` calls straight into the buffer
/// handed to the writer (as `dd` and the TCP relay read theirs): tokio's
/// own file reads go through a 2 MiB staging buffer and copy every byte
/// once more, which the profile showed as ~6% of the benchmark's cycles.
/// The 8 MiB pieces read before session 6 were larger than a core's
/// cache, so the writer checksummed them from memory, and each came in
/// fresh pages: their page faults were ~5% of the put's cycles.
pub async fn put_file(
    client: &DfsClient,
    source: &Path,
    path: &str,
    replication: u32,
) -> anyhow::Result<Duration> {
    let mut file = Some(std::fs::File::open(source)?);
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
        let Some(mut from) = file.take() else { break };
        let (from, buf) = tokio::task::spawn_blocking(move || {
            let buf = read_piece(&mut from, PUT_PIECE);
            (from, buf)
        })
        .await?;
        let buf = buf?;
        if buf.is_empty() {
            break;
        }
        file = Some(from);
        writer.write_bytes(buf).await?;
    }
    writer.close().await?;
    Ok(start.elapsed())
}

/// The pieces [`put_file`] reads its source in: `dfs -put`'s.
const PUT_PIECE: usize = 1 << 20;

/// Up to `size` bytes of `file`, fewer only at its end. `read_to_end`
/// reads into the vector's spare capacity without zeroing it first.
fn read_piece(file: &mut std::fs::File, size: usize) -> std::io::Result<Bytes> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(size);
    file.by_ref().take(size as u64).read_to_end(&mut buf)?;
    Ok(Bytes::from(buf))
}

/// Reads a whole Cairn file, checking its length, timing open to the end.
pub async fn get_file(client: &DfsClient, path: &str, size: u64) -> anyhow::Result<Duration> {
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

/// MB/s (decimal, as disks are rated) of `bytes` moved in `time`.
pub fn mb_per_s(bytes: u64, time: Duration) -> f64 {
    bytes as f64 / 1e6 / time.as_secs_f64().max(1e-9)
}

/// Operations per second.
pub fn per_s(count: u64, time: Duration) -> f64 {
    count as f64 / time.as_secs_f64().max(1e-9)
}

/// Runs this very binary again as `cairn --user USER bench ARGS...` (a
/// benchmark's other process: a client, or a process measured alone) and
/// reads the JSON it prints.
pub async fn rerun<T: serde::de::DeserializeOwned>(
    what: &str,
    user: &str,
    args: &[std::ffi::OsString],
) -> anyhow::Result<T> {
    let exe = std::env::current_exe().context("cannot find the cairn binary to re-run")?;
    let output = tokio::process::Command::new(exe)
        .arg("--user")
        .arg(user)
        .arg("bench")
        .args(args)
        .env_remove("CAIRN_CONFIG")
        .kill_on_drop(true)
        .output()
        .await?;
    if !output.status.success() {
        bail!(
            "the {what} process failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    serde_json::from_slice(&output.stdout)
        .with_context(|| format!("cannot read the {what}'s figures"))
}
