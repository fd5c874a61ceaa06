//! The workload that runs while faults strike: writers that record what the
//! cluster acknowledged (a file whose `close()` returned Ok, with its length
//! and SHA-256), and readers that check acknowledged files as they go. A
//! write that fails is not acknowledged: it is counted, never verified.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use cairn_client::{CreateOptions, DfsClient, DfsError};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};

/// A write or a read that takes longer than this (a paused datanode in its
/// way) is given up and counted as failed.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);

/// The pause after a failed write or read, so that a namenode that is down
/// is not hammered (and the failure counts stay meaningful).
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// The directory the workload writes under.
pub const ROOT: &str = "/chaos";

/// A file the cluster acknowledged.
#[derive(Debug, Clone)]
pub struct AckedFile {
    pub path: String,
    pub len: u64,
    pub sha256: [u8; 32],
    /// Block ids and the datanodes ("host:port") holding them right after
    /// the write, to count the replicas the cluster re-created later.
    pub blocks: Vec<(u64, Vec<String>)>,
}

/// What the workload did, shared by its tasks.
#[derive(Debug, Default)]
pub struct Ledger {
    pub acked: Mutex<Vec<AckedFile>>,
    pub writes_failed: AtomicU64,
    pub bytes_written: AtomicU64,
    pub reads: AtomicU64,
    pub reads_failed: AtomicU64,
    /// Reads that returned bytes other than those written: always a bug.
    pub reads_mismatched: Mutex<Vec<String>>,
    /// Files of failed writes that could not be deleted yet (the namenode
    /// was down): still open under this client's lease until they are.
    pub unreleased: Mutex<Vec<String>>,
}

impl Ledger {
    /// Every block id of an acknowledged file.
    pub fn acked_blocks(&self) -> Vec<u64> {
        self.acked
            .lock()
            .iter()
            .flat_map(|f| f.blocks.iter().map(|(id, _)| *id))
            .collect()
    }
}

/// Shape of the workload.
#[derive(Debug, Clone, Copy)]
pub struct WorkloadOptions {
    pub seed: u64,
    pub writers: usize,
    pub readers: usize,
    pub max_file_size: u64,
    pub replication: u32,
    pub block_size: u64,
}

/// Runs writers and readers until `stop` is set.
pub async fn run(
    client: DfsClient,
    options: WorkloadOptions,
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
) {
    let mut tasks = Vec::new();
    for w in 0..options.writers {
        tasks.push(tokio::spawn(writer(
            client.clone(),
            options,
            w,
            Arc::clone(&ledger),
            Arc::clone(&stop),
        )));
    }
    for r in 0..options.readers {
        tasks.push(tokio::spawn(reader(
            client.clone(),
            options.seed ^ (0x5eed_0000 + r as u64),
            Arc::clone(&ledger),
            Arc::clone(&stop),
        )));
    }
    for task in tasks {
        let _ = task.await;
    }
}

async fn writer(
    client: DfsClient,
    options: WorkloadOptions,
    index: usize,
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
) {
    let mut rng = StdRng::seed_from_u64(options.seed ^ ((index as u64 + 1) << 32));
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let path = format!("{ROOT}/w{index}/f{n}");
        let len = rng.random_range(1..=options.max_file_size.max(1));
        let mut data = vec![0u8; len as usize];
        rng.fill_bytes(&mut data);
        let written = tokio::time::timeout(
            OPERATION_TIMEOUT,
            write_file(&client, &path, &data, options),
        )
        .await;
        match written {
            Ok(Ok(())) => {
                let blocks = block_locations(&client, &path, len).await;
                ledger.bytes_written.fetch_add(len, Ordering::Relaxed);
                ledger.acked.lock().push(AckedFile {
                    path,
                    len,
                    sha256: Sha256::digest(&data).into(),
                    blocks,
                });
            }
            Ok(Err(e)) => {
                tracing::info!("write of {path} failed (not acknowledged): {e}");
                abandon(&client, &ledger, path).await;
            }
            Err(_) => {
                tracing::info!("write of {path} timed out (not acknowledged)");
                abandon(&client, &ledger, path).await;
            }
        }
    }
}

/// A failed write: counted, and its file deleted so that no lease stays
/// held for it (this client keeps renewing its lease while it runs, so the
/// namenode would never recover the file). When the namenode is down the
/// file is remembered and [`release_failed_writes`] deletes it later.
async fn abandon(client: &DfsClient, ledger: &Ledger, path: String) {
    ledger.writes_failed.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = client.delete(&path, false).await {
        tracing::info!("cannot delete {path} after its failed write yet: {e}");
        ledger.unreleased.lock().push(path);
    }
    tokio::time::sleep(RETRY_PAUSE).await;
}

/// Deletes the files of failed writes that could not be deleted during the
/// run, retrying until `timeout`; returns those still left open.
pub async fn release_failed_writes(
    client: &DfsClient,
    ledger: &Ledger,
    timeout: Duration,
) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut left = std::mem::take(&mut *ledger.unreleased.lock());
    while !left.is_empty() {
        let mut still = Vec::new();
        for path in left {
            match client.delete(&path, false).await {
                Ok(_) => tracing::info!("deleted {path}, left open by a failed write"),
                Err(e) => {
                    tracing::info!("cannot delete {path} yet: {e}");
                    still.push(path);
                }
            }
        }
        left = still;
        if left.is_empty() || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    left
}

async fn write_file(
    client: &DfsClient,
    path: &str,
    data: &[u8],
    options: WorkloadOptions,
) -> Result<(), DfsError> {
    let mut writer = client
        .create(
            path,
            CreateOptions {
                overwrite: true,
                create_parent: true,
                replication: Some(options.replication),
                block_size: Some(options.block_size),
                ..Default::default()
            },
        )
        .await?;
    for piece in data.chunks(256 * 1024) {
        writer.write(piece).await?;
    }
    writer.close().await
}

/// Block ids of a file and where their replicas are (empty on error: the
/// namenode may be down right now).
pub async fn block_locations(client: &DfsClient, path: &str, len: u64) -> Vec<(u64, Vec<String>)> {
    match client.get_block_locations(path, 0, len.max(1)).await {
        Ok(located) => located
            .blocks
            .iter()
            .filter_map(|b| {
                let block = b.block.as_ref()?;
                let nodes = b
                    .locations
                    .iter()
                    .map(|d| format!("{}:{}", d.host, d.xfer_port))
                    .collect();
                Some((block.id, nodes))
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

async fn reader(client: DfsClient, seed: u64, ledger: Arc<Ledger>, stop: Arc<AtomicBool>) {
    let mut rng = StdRng::seed_from_u64(seed);
    while !stop.load(Ordering::Relaxed) {
        let pick = {
            let acked = ledger.acked.lock();
            (!acked.is_empty()).then(|| acked[rng.random_range(0..acked.len())].clone())
        };
        let Some(file) = pick else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        ledger.reads.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(OPERATION_TIMEOUT, read_digest(&client, &file.path)).await {
            Ok(Ok((len, digest))) => {
                if len != file.len || digest != file.sha256 {
                    tracing::error!(
                        "{} read back {len} bytes that differ from the {} written",
                        file.path,
                        file.len
                    );
                    ledger.reads_mismatched.lock().push(file.path);
                }
            }
            Ok(Err(e)) => {
                tracing::info!("read of {} failed (retried later): {e}", file.path);
                ledger.reads_failed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(_) => {
                tracing::info!("read of {} timed out (retried later)", file.path);
                ledger.reads_failed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}

/// Reads a whole file: its length and SHA-256.
pub async fn read_digest(client: &DfsClient, path: &str) -> Result<(u64, [u8; 32]), DfsError> {
    let mut reader = client.open(path).await?;
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    while let Some(chunk) = reader.read_chunk().await? {
        len += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok((len, hasher.finalize().into()))
}

/// The outcome of the final check of every acknowledged file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Verification {
    pub files_verified: u64,
    pub bytes_verified: u64,
    pub lost: Vec<String>,
    pub mismatched: Vec<String>,
    /// Replicas on datanodes that did not hold the block right after the
    /// write: what re-replication created.
    pub replicas_recreated: u64,
}

/// Reads back every acknowledged file, byte for byte, and counts the
/// replicas the cluster re-created.
pub async fn verify(client: &DfsClient, acked: &[AckedFile]) -> Verification {
    let mut out = Verification::default();
    for file in acked {
        match read_digest(client, &file.path).await {
            Ok((len, digest)) if len == file.len && digest == file.sha256 => {
                out.files_verified += 1;
                out.bytes_verified += len;
            }
            Ok(_) => out.mismatched.push(file.path.clone()),
            Err(e) => {
                tracing::error!("acknowledged file {} cannot be read: {e}", file.path);
                out.lost.push(file.path.clone());
            }
        }
        let now: HashMap<u64, Vec<String>> = block_locations(client, &file.path, file.len)
            .await
            .into_iter()
            .collect();
        for (id, before) in &file.blocks {
            if let Some(nodes) = now.get(id) {
                out.replicas_recreated +=
                    nodes.iter().filter(|n| !before.contains(n)).count() as u64;
            }
        }
    }
    out
}
