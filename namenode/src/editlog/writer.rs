//! FSEditLog's write side with group commit.
//!
//! Under the namesystem lock an operation is applied to memory and its
//! record appended to an in-memory buffer ([`EditLog::log`], which assigns
//! the txid). After releasing the lock the RPC awaits [`EditLog::sync`]. One
//! syncer thread writes whatever is buffered and fsyncs once for everyone
//! waiting, then wakes the callers whose records it made durable, and only
//! them (see [`Durable`]). Rolling a segment
//! (for a checkpoint) travels through the same queue, so it happens exactly
//! after the records logged before it.
//!
//! Under load the syncer waits a little before an fsync ([`CommitDelay`],
//! PostgreSQL's `commit_delay` and `commit_siblings`), so that one fsync
//! covers the records that arrive meanwhile; a lone caller is never kept
//! waiting.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use cairn_proto::pb;
use parking_lot::{Condvar, Mutex};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prost::Message;
use tokio::sync::oneshot;
use tracing::{error, info};

use crate::editlog::frame;
use crate::editlog::storage::NnStorage;
use crate::error::{NamenodeError, Result};

/// What the syncer has made durable.
#[derive(Debug, Clone, Default)]
pub struct SyncStatus {
    pub synced_txid: u64,
    /// fsyncs done so far: the group-commit batch size is txids per fsync.
    pub syncs: u64,
    /// Of those, the ones the syncer delayed to let the batch grow.
    pub delayed: u64,
    /// Set once a write or fsync failed: nothing is durable any more.
    pub failed: Option<String>,
}

type RollReply = oneshot::Sender<std::result::Result<u64, String>>;

struct Chunk {
    bytes: Vec<u8>,
    last_txid: u64,
    /// End the segment after these bytes (and answer with its last txid).
    roll: Option<RollReply>,
}

struct Pending {
    chunks: VecDeque<Chunk>,
    last_txid: u64,
    shutdown: bool,
    /// Dropped without close (a crash, or a test simulating one): stop at
    /// once, leaving the segment in progress as a crash would.
    abandon: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    /// Callers inside [`EditLog::sync`] whose txid was not yet durable when
    /// they arrived: the load the commit delay looks at.
    waiters: AtomicUsize,
    durable: Mutex<Durable>,
}

/// What the syncer has made durable, and the callers waiting for more, by
/// the txid each waits for. An fsync wakes only the callers it covers:
/// under a heavy create load hundreds of callers wait, and a broadcast
/// woke each of them on every fsync, most only to wait again.
#[derive(Default)]
struct Durable {
    status: SyncStatus,
    /// The syncer has stopped: nothing more will become durable.
    stopped: bool,
    waiting: BTreeMap<u64, Vec<oneshot::Sender<()>>>,
}

impl Durable {
    /// Records `synced_txid` as durable and returns the callers waiting
    /// for it or an earlier txid, to be woken once the lock is released
    /// (a wake-up may cost a syscall, and callers queue on this lock).
    #[must_use]
    fn advance(&mut self, synced_txid: u64) -> Vec<oneshot::Sender<()>> {
        self.status.synced_txid = synced_txid;
        let later = self.waiting.split_off(&synced_txid.saturating_add(1));
        std::mem::replace(&mut self.waiting, later)
            .into_values()
            .flatten()
            .collect()
    }

    /// Ends every wait: the callers find out why from `failed` or
    /// `stopped` (their senders are dropped).
    fn release_all(&mut self) {
        self.waiting.clear();
    }
}

/// When the syncer waits before an fsync so that more records share it
/// (PostgreSQL's `commit_delay` / `commit_siblings`). The edit log's fsync
/// on an SSD takes ~80 µs; under a heavy create load only 5–7 creates
/// arrive during one, so without a wait each fsync covers that few.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitDelay {
    /// How long the syncer waits; zero turns the delay off.
    pub delay: Duration,
    /// The wait happens only while at least this many callers are waiting
    /// for their transactions to become durable. A lone client is one
    /// caller, so it is never delayed while this is 2 or more.
    pub siblings: usize,
}

impl CommitDelay {
    /// No delay: every fsync starts as soon as there is something to sync.
    pub const OFF: CommitDelay = CommitDelay {
        delay: Duration::ZERO,
        siblings: usize::MAX,
    };

    /// The wait before the next fsync while `waiters` callers wait for one.
    pub fn before_sync(&self, waiters: usize) -> Option<Duration> {
        (!self.delay.is_zero() && waiters >= self.siblings.max(1)).then_some(self.delay)
    }
}

/// Counts a caller of [`EditLog::sync`] for as long as it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(waiters: &'a AtomicUsize) -> Self {
        waiters.fetch_add(1, Ordering::Relaxed);
        Self(waiters)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the syncer measures, for the namenode's `/metrics`: the latency of
/// each group-commit fsync and how many transactions it made durable.
/// Clones share the same series.
#[derive(Clone)]
pub struct SyncMetrics {
    pub sync_seconds: Histogram,
    pub batch_txns: Histogram,
}

impl Default for SyncMetrics {
    fn default() -> Self {
        Self {
            // 50 µs up to about 3.3 s.
            sync_seconds: Histogram::new(exponential_buckets(0.00005, 4.0, 9)),
            // 1 up to 4096 transactions per fsync.
            batch_txns: Histogram::new(exponential_buckets(1.0, 2.0, 13)),
        }
    }
}

pub struct EditLog {
    pub metrics: SyncMetrics,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The open in-progress segment.
struct Segment {
    file: File,
    path: PathBuf,
    start_txid: u64,
    has_records: bool,
}

impl Segment {
    fn create(storage: &NnStorage, start_txid: u64) -> Result<Self> {
        let path = storage.in_progress_path(start_txid);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| {
                NamenodeError::io(
                    format!("cannot create edit log segment {}", path.display()),
                    e,
                )
            })?;
        storage.sync_dir()?;
        storage.write_seen_txid(start_txid)?;
        Ok(Self {
            file,
            path,
            start_txid,
            has_records: false,
        })
    }

    /// Closes the segment: renamed to edits_<start>-<end>, or removed if it
    /// holds nothing.
    fn finalize(self, storage: &NnStorage, last_txid: u64) -> Result<()> {
        if !self.has_records {
            drop(self.file);
            std::fs::remove_file(&self.path).map_err(|e| {
                NamenodeError::io(
                    format!("cannot remove empty segment {}", self.path.display()),
                    e,
                )
            })?;
            return storage.sync_dir();
        }
        self.file
            .sync_all()
            .map_err(|e| NamenodeError::io(format!("cannot fsync {}", self.path.display()), e))?;
        let done = storage.finalized_path(self.start_txid, last_txid);
        std::fs::rename(&self.path, &done).map_err(|e| {
            NamenodeError::io(format!("cannot finalize {}", self.path.display()), e)
        })?;
        storage.sync_dir()
    }
}

impl EditLog {
    /// Starts a new in-progress segment at `start_txid` and the syncer,
    /// without a commit delay.
    pub fn open(storage: NnStorage, start_txid: u64) -> Result<Self> {
        Self::open_with(storage, start_txid, CommitDelay::OFF)
    }

    /// [`EditLog::open`] with the syncer waiting under load as `commit`
    /// says.
    pub fn open_with(storage: NnStorage, start_txid: u64, commit: CommitDelay) -> Result<Self> {
        let segment = Segment::create(&storage, start_txid)?;
        let last = start_txid.saturating_sub(1);
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                chunks: VecDeque::new(),
                last_txid: last,
                shutdown: false,
                abandon: false,
            }),
            wake: Condvar::new(),
            waiters: AtomicUsize::new(0),
            durable: Mutex::new(Durable {
                status: SyncStatus {
                    synced_txid: last,
                    ..SyncStatus::default()
                },
                ..Durable::default()
            }),
        });
        let thread_shared = Arc::clone(&shared);
        let metrics = SyncMetrics::default();
        let syncer_metrics = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("edit-log-sync".into())
            .spawn(move || {
                Syncer::new(thread_shared, storage, segment, syncer_metrics, commit).run()
            })
            .map_err(|e| NamenodeError::io("cannot start the edit log syncer thread", e))?;
        Ok(Self {
            metrics,
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Buffers one record and returns its txid. Called under the namesystem
    /// lock, so txids follow the order in which operations were applied.
    pub fn log(&self, op: pb::edit_log_record::Op) -> u64 {
        let mut p = self.shared.pending.lock();
        p.last_txid += 1;
        let txid = p.last_txid;
        let record = pb::EditLogRecord { txid, op: Some(op) };
        let payload = record.encode_to_vec();
        let append_to_last = p.chunks.back().is_some_and(|c| c.roll.is_none());
        if !append_to_last {
            p.chunks.push_back(Chunk {
                bytes: Vec::new(),
                last_txid: txid,
                roll: None,
            });
        }
        if let Some(chunk) = p.chunks.back_mut() {
            frame::encode(&payload, &mut chunk.bytes);
            chunk.last_txid = txid;
        }
        drop(p);
        self.shared.wake.notify_one();
        txid
    }

    /// Callers currently waiting in [`EditLog::sync`].
    #[cfg(test)]
    fn waiters(&self) -> usize {
        self.shared.waiters.load(Ordering::Relaxed)
    }

    /// True while records are buffered that the syncer has not taken yet.
    #[cfg(test)]
    fn has_buffered(&self) -> bool {
        !self.shared.pending.lock().chunks.is_empty()
    }

    /// The last txid handed out.
    pub fn last_txid(&self) -> u64 {
        self.shared.pending.lock().last_txid
    }

    pub fn synced_txid(&self) -> u64 {
        self.shared.durable.lock().status.synced_txid
    }

    /// What is durable and how many fsyncs it took (group-commit counters).
    pub fn sync_status(&self) -> SyncStatus {
        self.shared.durable.lock().status.clone()
    }

    /// Ends the current segment after everything logged so far; the reply
    /// carries the segment's last txid once it is durable and renamed.
    pub fn roll(&self) -> oneshot::Receiver<std::result::Result<u64, String>> {
        let (tx, rx) = oneshot::channel();
        let mut p = self.shared.pending.lock();
        let last_txid = p.last_txid;
        p.chunks.push_back(Chunk {
            bytes: Vec::new(),
            last_txid,
            roll: Some(tx),
        });
        drop(p);
        self.shared.wake.notify_one();
        rx
    }

    /// Waits until `txid` is on disk. Never called under the namesystem lock.
    pub async fn sync(&self, txid: u64) -> Result<()> {
        let durable = {
            let mut durable = self.shared.durable.lock();
            if durable.status.synced_txid >= txid {
                return Ok(());
            }
            if durable.status.failed.is_some() || durable.stopped {
                return Err(not_durable(&durable, txid));
            }
            let (tx, rx) = oneshot::channel();
            durable.waiting.entry(txid).or_default().push(tx);
            rx
        };
        let _waiting = Waiting::new(&self.shared.waiters);
        if durable.await.is_ok() {
            return Ok(());
        }
        Err(not_durable(&self.shared.durable.lock(), txid))
    }

    /// Writes and fsyncs what is buffered, finalizes the segment and stops
    /// the syncer. Blocking: call from a blocking context.
    pub fn close(&self) -> Result<()> {
        {
            let mut p = self.shared.pending.lock();
            p.shutdown = true;
        }
        self.shared.wake.notify_all();
        if let Some(handle) = self.thread.lock().take()
            && handle.join().is_err()
        {
            return Err(NamenodeError::Internal(
                "the edit log syncer panicked".into(),
            ));
        }
        let failed = self.shared.durable.lock().status.failed.clone();
        match failed {
            Some(msg) => Err(NamenodeError::io(
                "edit log failed",
                std::io::Error::other(msg),
            )),
            None => Ok(()),
        }
    }
}

/// Why `txid` will never become durable.
fn not_durable(durable: &Durable, txid: u64) -> NamenodeError {
    match &durable.status.failed {
        Some(msg) => NamenodeError::io(
            format!("edit log failed; transaction {txid} is not durable"),
            std::io::Error::other(msg.clone()),
        ),
        None => NamenodeError::Internal("the edit log is closed".into()),
    }
}

impl Drop for EditLog {
    fn drop(&mut self) {
        self.abandon();
    }
}

impl EditLog {
    /// Stops the syncer at once without finalizing, as a crash would: what
    /// was synced is on disk, what was only buffered was never answered.
    /// Used when a namenode is dropped without shutdown.
    pub fn abandon(&self) {
        let mut p = self.shared.pending.lock();
        p.shutdown = true;
        p.abandon = true;
        drop(p);
        self.shared.wake.notify_all();
        if let Some(handle) = self.thread.lock().take() {
            let _ = handle.join();
        }
    }
}

struct Syncer {
    shared: Arc<Shared>,
    storage: NnStorage,
    segment: Option<Segment>,
    written: u64,
    failed: Option<String>,
    metrics: SyncMetrics,
    commit: CommitDelay,
    /// The next fsync was delayed by `commit` (counted in the status).
    delayed: bool,
    backoff: DelayBackoff,
}

/// Stops the commit delay for a while after a wait in which no record
/// arrived: then every caller was already in the batch (as when all of a
/// few clients wait at once), and waiting again would only add latency.
#[derive(Debug, Default)]
struct DelayBackoff {
    /// Delay decisions left to skip.
    skip: u32,
    /// How many to skip after the next useless wait (doubles, up to
    /// [`DelayBackoff::LONGEST`]).
    next: u32,
}

impl DelayBackoff {
    const LONGEST: u32 = 64;

    /// True if the delay may be used now; counts a skipped one.
    fn allows(&mut self) -> bool {
        if self.skip == 0 {
            return true;
        }
        self.skip -= 1;
        false
    }

    fn after_delay(&mut self, gathered: bool) {
        if gathered {
            self.next = 0;
        } else {
            self.next = (self.next * 2).clamp(1, Self::LONGEST);
            self.skip = self.next;
        }
    }
}

impl Syncer {
    fn new(
        shared: Arc<Shared>,
        storage: NnStorage,
        segment: Segment,
        metrics: SyncMetrics,
        commit: CommitDelay,
    ) -> Self {
        let written = segment.start_txid.saturating_sub(1);
        Self {
            shared,
            storage,
            segment: Some(segment),
            written,
            failed: None,
            metrics,
            commit,
            delayed: false,
            backoff: DelayBackoff::default(),
        }
    }

    fn run(mut self) {
        if !self.commit.delay.is_zero() {
            // The commit delay is tens of µs: without this the kernel may
            // stretch each sleep by its default 50 µs of timer slack.
            if let Err(e) = nix::sys::prctl::set_timerslack(1_000) {
                tracing::debug!("cannot shorten the edit log syncer's timer slack: {e}");
            }
        }
        loop {
            let (mut chunks, mut shutdown) = {
                let mut p = self.shared.pending.lock();
                while p.chunks.is_empty() && !p.shutdown {
                    self.shared.wake.wait(&mut p);
                }
                if p.abandon {
                    return;
                }
                (std::mem::take(&mut p.chunks), p.shutdown)
            };
            let idle = chunks.is_empty();
            if let Some(delay) = self.delay_before_sync().filter(|_| !idle && !shutdown) {
                // A plain sleep, not the condvar: records logged meanwhile
                // then cost no wake-up of this thread.
                std::thread::sleep(delay);
                let mut p = self.shared.pending.lock();
                if p.abandon {
                    return;
                }
                let gathered = !p.chunks.is_empty();
                chunks.extend(std::mem::take(&mut p.chunks));
                shutdown = p.shutdown;
                drop(p);
                self.delayed = true;
                self.backoff.after_delay(gathered);
            }
            self.process(chunks);
            if shutdown && idle {
                break;
            }
        }
        if let Some(segment) = self.segment.take()
            && self.failed.is_none()
            && let Err(e) = segment.finalize(&self.storage, self.written)
        {
            error!("cannot close the edit log: {e}");
            self.fail(e.to_string());
        }
    }

    /// Whether to wait before the next fsync: under load by the commit
    /// rule, unless a recent wait gathered nothing.
    fn delay_before_sync(&mut self) -> Option<Duration> {
        let waiters = self.shared.waiters.load(Ordering::Relaxed);
        let delay = self.commit.before_sync(waiters)?;
        self.backoff.allows().then_some(delay)
    }

    fn process(&mut self, chunks: VecDeque<Chunk>) {
        let mut dirty = false;
        for chunk in chunks {
            if self.failed.is_none() && !chunk.bytes.is_empty() {
                match self.write(&chunk.bytes) {
                    Ok(()) => {
                        self.written = chunk.last_txid;
                        dirty = true;
                    }
                    Err(e) => self.fail(e.to_string()),
                }
            }
            if let Some(reply) = chunk.roll {
                if dirty {
                    self.flush();
                    dirty = false;
                }
                let result = match &self.failed {
                    Some(msg) => Err(msg.clone()),
                    None => self.roll().map_err(|e| e.to_string()),
                };
                if let Err(msg) = &result {
                    self.fail(msg.clone());
                }
                let _ = reply.send(result);
            }
        }
        if dirty {
            self.flush();
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let Some(segment) = self.segment.as_mut() else {
            return Err(NamenodeError::Internal("no open edit log segment".into()));
        };
        segment.file.write_all(bytes).map_err(|e| {
            NamenodeError::io(format!("cannot write {}", segment.path.display()), e)
        })?;
        segment.has_records = true;
        Ok(())
    }

    /// One fsync for every record written since the last one.
    fn flush(&mut self) {
        let Some(segment) = self.segment.as_ref() else {
            return;
        };
        let started = std::time::Instant::now();
        if let Err(e) = segment.file.sync_data() {
            let msg = format!("cannot fsync {}: {e}", segment.path.display());
            self.fail(msg);
            return;
        }
        self.metrics
            .sync_seconds
            .observe(started.elapsed().as_secs_f64());
        let synced = self.written;
        let delayed = std::mem::take(&mut self.delayed);
        let (before, durable) = {
            let mut durable = self.shared.durable.lock();
            let before = durable.status.synced_txid;
            durable.status.syncs += 1;
            durable.status.delayed += u64::from(delayed);
            (before, durable.advance(synced))
        };
        self.metrics
            .batch_txns
            .observe(synced.saturating_sub(before) as f64);
        for waiter in durable {
            // A send fails only if the caller stopped waiting.
            let _ = waiter.send(());
        }
    }

    fn roll(&mut self) -> Result<u64> {
        let last = self.written;
        let has_records = self.segment.as_ref().is_some_and(|s| s.has_records);
        if !has_records {
            return Ok(last);
        }
        if let Some(segment) = self.segment.take() {
            segment.finalize(&self.storage, last)?;
        }
        self.segment = Some(Segment::create(&self.storage, last + 1)?);
        info!(txid = last, "rolled the edit log");
        Ok(last)
    }

    fn fail(&mut self, msg: String) {
        if self.failed.is_none() {
            error!("edit log failure, no further transaction is durable: {msg}");
            self.failed = Some(msg.clone());
            let mut durable = self.shared.durable.lock();
            durable.status.failed = Some(msg);
            durable.release_all();
        }
    }
}

impl Drop for Syncer {
    /// However the syncer stops (closed, abandoned, panicked), no caller
    /// is left waiting for an fsync that will not come.
    fn drop(&mut self) {
        let mut durable = self.shared.durable.lock();
        durable.stopped = true;
        durable.release_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::editlog::loader;
    use crate::editlog::storage::format;

    fn mkdir(id: u64) -> pb::edit_log_record::Op {
        pb::edit_log_record::Op::Mkdir(pb::MkdirOp {
            inode_id: id,
            parent_id: 1,
            name: format!("d{id}"),
            ..Default::default()
        })
    }

    #[tokio::test]
    async fn group_commit_roll_and_close() {
        let dir = tempfile::tempdir().unwrap();
        format(dir.path(), Some("CID-w"), false).unwrap();
        let storage = NnStorage::new(dir.path());
        let log = Arc::new(EditLog::open(storage.clone(), 1).unwrap());
        let mut last = 0;
        for id in 0..50 {
            last = log.log(mkdir(id));
        }
        assert_eq!(last, 50);
        log.sync(last).await.unwrap();
        assert!(log.synced_txid() >= 50);
        let status = log.sync_status();
        assert!(status.syncs >= 1 && status.syncs <= 50, "{status:?}");
        let rolled = log.roll().await.unwrap().unwrap();
        assert_eq!(rolled, 50);
        for id in 50..60 {
            last = log.log(mkdir(id));
        }
        log.sync(last).await.unwrap();
        log.close().unwrap();

        let segments = storage.segments().unwrap();
        let ranges: Vec<_> = segments
            .iter()
            .map(|s| (s.start_txid, s.end_txid))
            .collect();
        assert_eq!(ranges, vec![(1, Some(50)), (51, Some(60))]);
        let mut seen = Vec::new();
        let outcome = loader::replay(&storage, 0, |r| {
            seen.push(r.txid);
            Ok(())
        })
        .unwrap();
        assert_eq!(outcome.last_txid, 60);
        assert_eq!(seen, (1..=60).collect::<Vec<_>>());
        // Replay after a checkpoint at 55 skips what it holds.
        let outcome = loader::replay(&storage, 55, |_| Ok(())).unwrap();
        assert_eq!(outcome.records, 5);
    }

    #[tokio::test]
    async fn abandoned_log_keeps_only_what_was_synced() {
        let dir = tempfile::tempdir().unwrap();
        format(dir.path(), Some("CID-w"), false).unwrap();
        let storage = NnStorage::new(dir.path());
        let log = EditLog::open(storage.clone(), 1).unwrap();
        let txid = log.log(mkdir(1));
        log.sync(txid).await.unwrap();
        log.abandon();
        let segments = storage.segments().unwrap();
        assert_eq!(segments.len(), 1);
        assert_eq!(
            segments[0].end_txid, None,
            "left in progress, as a crash would"
        );
        let outcome = loader::replay(&storage, 0, |_| Ok(())).unwrap();
        assert_eq!(outcome.last_txid, 1);
    }

    #[test]
    fn an_fsync_wakes_only_the_callers_it_made_durable() {
        let mut durable = Durable::default();
        let mut receivers: Vec<_> = [3, 1, 2, 2, 5]
            .into_iter()
            .map(|txid| {
                let (tx, rx) = oneshot::channel();
                durable.waiting.entry(txid).or_default().push(tx);
                (txid, rx)
            })
            .collect();
        for waiter in durable.advance(2) {
            waiter.send(()).unwrap();
        }
        for (txid, rx) in &mut receivers {
            let woken = rx.try_recv().is_ok();
            assert_eq!(woken, *txid <= 2, "caller of txid {txid}");
        }
        assert_eq!(durable.waiting.keys().copied().collect::<Vec<_>>(), [3, 5]);
    }

    #[tokio::test]
    async fn a_caller_of_a_stopped_log_gets_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        format(dir.path(), Some("CID-w"), false).unwrap();
        let log = Arc::new(EditLog::open(NnStorage::new(dir.path()), 1).unwrap());
        let txid = log.log(mkdir(1));
        log.sync(txid).await.unwrap();
        let waiter = {
            let log = Arc::clone(&log);
            tokio::spawn(async move { log.sync(txid + 1).await })
        };
        until(|| log.waiters() == 1).await;
        log.abandon();
        let err = waiter.await.unwrap().unwrap_err();
        assert!(err.to_string().contains("closed"), "{err}");
        assert!(log.sync(txid + 2).await.is_err(), "a later caller too");
        log.sync(txid).await.unwrap();
    }

    /// Polls `done` until it holds (readiness by polling, not by a sleep).
    async fn until(done: impl Fn() -> bool) {
        while !done() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Logs `n` records one at a time, each only once the syncer has taken
    /// the one before, while `n` callers wait to sync them; returns the
    /// fsyncs it took and how many were delayed.
    async fn trickle(commit: CommitDelay, n: u64) -> (u64, u64) {
        let dir = tempfile::tempdir().unwrap();
        format(dir.path(), Some("CID-w"), false).unwrap();
        let log = Arc::new(EditLog::open_with(NnStorage::new(dir.path()), 1, commit).unwrap());
        let waiting: Vec<_> = (1..=n)
            .map(|txid| {
                let log = Arc::clone(&log);
                tokio::spawn(async move { log.sync(txid).await })
            })
            .collect();
        until(|| log.waiters() == n as usize).await;
        for id in 1..=n {
            log.log(mkdir(id));
            until(|| !log.has_buffered()).await;
        }
        for task in waiting {
            task.await.unwrap().unwrap();
        }
        let status = log.sync_status();
        log.close().unwrap();
        (status.syncs, status.delayed)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commit_delay_under_load_batches_records_into_fewer_fsyncs() {
        const N: u64 = 20;
        // Without the delay each record arrives after the syncer took the
        // last one, so each takes an fsync of its own.
        let (plain, plain_delayed) = trickle(CommitDelay::OFF, N).await;
        assert_eq!((plain, plain_delayed), (N, 0));
        // With 20 callers waiting (≥ 2 siblings) the syncer waits after
        // taking a record, and the next one joins the same fsync.
        let commit = CommitDelay {
            delay: Duration::from_millis(200),
            siblings: 2,
        };
        let (delayed_syncs, delayed) = trickle(commit, N).await;
        assert!(delayed > 0, "the syncer never waited");
        assert!(
            delayed_syncs < plain,
            "{delayed_syncs} fsyncs with the delay, {plain} without"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wait_that_gathers_nothing_is_not_repeated_at_once() {
        let dir = tempfile::tempdir().unwrap();
        format(dir.path(), Some("CID-w"), false).unwrap();
        let commit = CommitDelay {
            delay: Duration::from_millis(50),
            siblings: 2,
        };
        let log = Arc::new(EditLog::open_with(NnStorage::new(dir.path()), 1, commit).unwrap());
        // Three callers wait, but only the first record ever comes while
        // the syncer waits: its wait gathers nothing.
        let waiting: Vec<_> = (1..=3)
            .map(|txid| {
                let log = Arc::clone(&log);
                tokio::spawn(async move { log.sync(txid).await })
            })
            .collect();
        until(|| log.waiters() == 3).await;
        log.log(mkdir(1));
        until(|| log.synced_txid() >= 1).await;
        assert_eq!(log.sync_status().delayed, 1);
        // Still two callers waiting: the rule holds, but the next fsync
        // goes at once.
        log.log(mkdir(2));
        until(|| log.synced_txid() >= 2).await;
        let status = log.sync_status();
        assert_eq!((status.syncs, status.delayed), (2, 1));
        log.log(mkdir(3));
        for task in waiting {
            task.await.unwrap().unwrap();
        }
        log.close().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lone_client_is_never_delayed() {
        let commit = CommitDelay {
            delay: Duration::from_millis(500),
            siblings: 2,
        };
        // The rule: one caller is below any allowed sibling count.
        assert_eq!(commit.before_sync(1), None);
        assert_eq!(commit.before_sync(2), Some(Duration::from_millis(500)));
        assert_eq!(CommitDelay::OFF.before_sync(usize::MAX - 1), None);
        // And the syncer follows it: a client that logs and syncs one
        // record at a time never has its fsync delayed.
        let dir = tempfile::tempdir().unwrap();
        format(dir.path(), Some("CID-w"), false).unwrap();
        let log = EditLog::open_with(NnStorage::new(dir.path()), 1, commit).unwrap();
        for id in 1..=20 {
            let txid = log.log(mkdir(id));
            log.sync(txid).await.unwrap();
        }
        let status = log.sync_status();
        assert_eq!((status.syncs, status.delayed), (20, 0));
        log.close().unwrap();
    }
}
