//! Writes through the mount: each handle opened for writing gets one task
//! that owns its [`FileWriter`] and takes the handle's writes, flushes,
//! fsyncs, truncates and its release from a queue in the order the kernel
//! sent them.
//!
//! HDFS files are written once, at their end: a write at the current end
//! streams into the writer (opened by `create`, or by `append` at the first
//! write into an existing file); a write past the end fills the gap with
//! zeros; a write into the middle of data already written fails with
//! `EOPNOTSUPP` and changes nothing. `flush` (every `close(2)`) closes the
//! writer, so a file closed through the mount is complete for every other
//! client at once (close-to-open); a later write on the same handle appends
//! again. `fsync` is `hsync`. Truncating shrinks through the namenode's
//! truncate and grows by appending zeros.
//!
//! Write-behind: a write at the end of what the handle accepted so far is
//! acknowledged at once while fewer than [`WRITE_BEHIND`] bytes wait for
//! the writer, so the kernel copies the next piece while this one streams
//! to the datanodes. A failure of such a write is reported by the handle's
//! next write, flush, fsync or close, as a local file system reports a
//! failed write-back.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cairn_client::{DfsClient, FileWriter};
use fuser::{Errno, ReplyWrite};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use crate::error::to_errno;

/// Bytes a handle may have acknowledged but not yet handed to its writer.
const WRITE_BEHIND: u64 = 8 * 1024 * 1024;
/// `next` when the task must check the offset of the next write itself.
const UNKNOWN: u64 = u64::MAX;

/// Zeros written per call when a file grows by truncate or a sparse write.
const ZEROS: usize = 1024 * 1024;
/// How long a shrinking truncate may wait for the namenode to cut the last
/// block before the call fails.
const TRUNCATE_WAIT: Duration = Duration::from_secs(60);

/// Sizes of the files this mount is writing, by inode: the namenode learns
/// a length only at flush and close, so `getattr` asks here first.
#[derive(Default)]
pub struct WrittenSizes {
    sizes: Mutex<HashMap<u64, u64>>,
}

impl WrittenSizes {
    pub fn get(&self, ino: u64) -> Option<u64> {
        self.sizes.lock().get(&ino).copied()
    }

    fn set(&self, ino: u64, size: u64) {
        self.sizes.lock().insert(ino, size);
    }

    fn raise(&self, ino: u64, size: u64) {
        let mut sizes = self.sizes.lock();
        let entry = sizes.entry(ino).or_insert(size);
        *entry = (*entry).max(size);
    }

    fn clear(&self, ino: u64) {
        self.sizes.lock().remove(&ino);
    }
}

type Done = oneshot::Sender<Result<(), Errno>>;

enum WriteOp {
    /// A write; `reply` is `None` when it was acknowledged already.
    Write {
        offset: u64,
        data: Bytes,
        reply: Option<ReplyWrite>,
    },
    Flush(Done),
    Fsync(Done),
    Truncate(u64, Done),
    /// Close the writer and stop: the handle is released, or the mount is
    /// going away.
    Release(Done),
}

/// What the fuser thread and the task share about one handle's writes.
struct Shared {
    ino: u64,
    sizes: Arc<WrittenSizes>,
    /// Bytes acknowledged and not yet written.
    behind: AtomicU64,
    /// The offset a write must have to be acknowledged at once, or [`UNKNOWN`].
    next: AtomicU64,
    /// The failure of a write already acknowledged, for the next call.
    failed: Mutex<Option<Errno>>,
}

/// The sending side of a handle's write queue.
#[derive(Clone)]
pub struct WriteQueue {
    tx: mpsc::UnboundedSender<WriteOp>,
    shared: Arc<Shared>,
}

impl WriteQueue {
    /// Starts the task of a handle on `path` (inode `ino`), with the writer
    /// `create` returned, or none for a file opened for writing.
    pub fn start(
        client: DfsClient,
        path: String,
        ino: u64,
        writer: Option<FileWriter>,
        append: bool,
        sizes: Arc<WrittenSizes>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let next = writer.as_ref().map_or(UNKNOWN, FileWriter::pos);
        let shared = Arc::new(Shared {
            ino,
            sizes,
            behind: AtomicU64::new(0),
            next: AtomicU64::new(next),
            failed: Mutex::new(None),
        });
        if next != UNKNOWN {
            shared.sizes.set(ino, next);
        }
        let task = WriteTask {
            client,
            path,
            writer,
            append,
            shared: Arc::clone(&shared),
        };
        tokio::spawn(task.run(rx));
        Self { tx, shared }
    }

    /// Queues a write: acknowledged now when it continues what was accepted
    /// and the write-behind budget allows, else by the task once written.
    pub fn write(&self, offset: u64, data: Bytes, reply: ReplyWrite) {
        let shared = &self.shared;
        let len = data.len() as u64;
        let at_once = shared.failed.lock().is_none()
            && shared.next.load(Ordering::Acquire) == offset
            && shared.behind.load(Ordering::Acquire) + len <= WRITE_BEHIND;
        if at_once {
            shared.behind.fetch_add(len, Ordering::AcqRel);
            shared.next.store(offset + len, Ordering::Release);
            shared.sizes.raise(shared.ino, offset + len);
            let op = WriteOp::Write {
                offset,
                data,
                reply: None,
            };
            match self.tx.send(op) {
                Ok(()) => reply.written(u32::try_from(len).unwrap_or(u32::MAX)),
                Err(_) => reply.error(Errno::EBADF),
            }
            return;
        }
        let op = WriteOp::Write {
            offset,
            data,
            reply: Some(reply),
        };
        if let Err(mpsc::error::SendError(WriteOp::Write {
            reply: Some(reply), ..
        })) = self.tx.send(op)
        {
            reply.error(Errno::EBADF);
        }
    }

    pub async fn flush(&self) -> Result<(), Errno> {
        self.call(WriteOp::Flush).await
    }

    pub async fn fsync(&self) -> Result<(), Errno> {
        self.call(WriteOp::Fsync).await
    }

    pub async fn truncate(&self, size: u64) -> Result<(), Errno> {
        self.call(|done| WriteOp::Truncate(size, done)).await
    }

    /// Closes the writer and ends the task. A handle whose task already
    /// ended (closed at unmount) has nothing left to do.
    pub async fn release(&self) -> Result<(), Errno> {
        let (done, result) = oneshot::channel();
        if self.tx.send(WriteOp::Release(done)).is_err() {
            return Ok(());
        }
        result.await.unwrap_or(Ok(()))
    }

    async fn call(&self, op: impl FnOnce(Done) -> WriteOp) -> Result<(), Errno> {
        let (done, result) = oneshot::channel();
        self.tx.send(op(done)).map_err(|_| Errno::EBADF)?;
        result.await.unwrap_or(Err(Errno::EBADF))
    }
}

struct WriteTask {
    client: DfsClient,
    path: String,
    writer: Option<FileWriter>,
    /// Opened with O_APPEND: every write goes to the end, whatever its offset.
    append: bool,
    shared: Arc<Shared>,
}

impl WriteTask {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<WriteOp>) {
        while let Some(op) = rx.recv().await {
            match op {
                WriteOp::Write {
                    offset,
                    data,
                    reply,
                } => self.take_write(offset, data, reply).await,
                WriteOp::Flush(done) => {
                    let result = self.close().await;
                    let _ = done.send(result);
                }
                WriteOp::Fsync(done) => {
                    let result = match self.deferred() {
                        Err(errno) => Err(errno),
                        Ok(()) => match self.writer.as_mut() {
                            Some(writer) => {
                                let result = writer.hsync().await;
                                self.fail_on(result, "fsync")
                            }
                            None => Ok(()),
                        },
                    };
                    let _ = done.send(result);
                }
                WriteOp::Truncate(size, done) => {
                    let result = match self.deferred() {
                        Ok(()) => self.truncate(size).await,
                        Err(errno) => Err(errno),
                    };
                    self.reset_next();
                    let _ = done.send(result);
                }
                WriteOp::Release(done) => {
                    let _ = done.send(self.close().await);
                    return;
                }
            }
        }
        // Every sender is gone without a release: close what was written.
        if let Err(errno) = self.close().await {
            tracing::warn!(path = %self.path, ?errno, "closing a file left open failed");
        }
    }

    async fn take_write(&mut self, offset: u64, data: Bytes, reply: Option<ReplyWrite>) {
        let len = data.len() as u64;
        let shared = Arc::clone(&self.shared);
        let failed = *shared.failed.lock();
        let result = match failed {
            Some(errno) => Err(errno),
            None => self.write(offset, data).await,
        };
        match reply {
            Some(reply) => match result {
                Ok(()) => {
                    self.reset_next();
                    reply.written(u32::try_from(len).unwrap_or(u32::MAX));
                }
                Err(errno) => {
                    shared.failed.lock().take();
                    reply.error(errno);
                }
            },
            None => {
                shared.behind.fetch_sub(len, Ordering::AcqRel);
                if let Err(errno) = result {
                    shared.failed.lock().get_or_insert(errno);
                    shared.next.store(UNKNOWN, Ordering::Release);
                }
            }
        }
    }

    /// The failure of an acknowledged write, reported once.
    fn deferred(&self) -> Result<(), Errno> {
        match self.shared.failed.lock().take() {
            Some(errno) => Err(errno),
            None => Ok(()),
        }
    }

    /// After a write this task answered itself, or a truncate: writes at the
    /// writer's end may be acknowledged at once again.
    fn reset_next(&self) {
        let next = self.writer.as_ref().map_or(UNKNOWN, FileWriter::pos);
        self.shared.next.store(next, Ordering::Release);
    }

    /// Keeps the writer after success; drops it (abandoning the write, as
    /// HDFS does) after a failure, which no later call could get past.
    fn fail_on(&mut self, result: cairn_client::Result<()>, op: &str) -> Result<(), Errno> {
        result.map_err(|err| {
            self.writer = None;
            self.shared.sizes.clear(self.shared.ino);
            to_errno(op, err)
        })
    }

    async fn write(&mut self, offset: u64, data: Bytes) -> Result<(), Errno> {
        if self.writer.is_none() {
            let length = self.length().await?;
            if offset < length && !self.append {
                return Err(middle_write(&self.path, offset, length));
            }
            let writer = self
                .client
                .append(&self.path)
                .await
                .map_err(|e| to_errno("append", e))?;
            self.writer = Some(writer);
        }
        let Some(writer) = self.writer.as_mut() else {
            return Err(Errno::EIO);
        };
        let pos = writer.pos();
        let offset = if self.append { pos } else { offset };
        if offset < pos {
            return Err(middle_write(&self.path, offset, pos));
        }
        let result = async {
            write_zeros(writer, offset - pos).await?;
            writer.write_bytes(data).await
        }
        .await;
        let pos = writer.pos();
        self.fail_on(result, "write")?;
        self.shared.sizes.raise(self.shared.ino, pos);
        Ok(())
    }

    /// Completes the file: every other client now sees all of it. A
    /// failed acknowledged write is reported here if not before.
    async fn close(&mut self) -> Result<(), Errno> {
        self.shared.next.store(UNKNOWN, Ordering::Release);
        self.deferred()?;
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let result = writer.close().await;
        self.shared.sizes.clear(self.shared.ino);
        result.map_err(|e| to_errno("close", e))
    }

    async fn truncate(&mut self, size: u64) -> Result<(), Errno> {
        if let Some(writer) = &self.writer {
            if writer.pos() == size {
                return Ok(());
            }
            self.close().await?;
        }
        self.writer = truncate(&self.client, &self.path, size).await?;
        if let Some(writer) = &self.writer {
            self.shared.sizes.set(self.shared.ino, writer.pos());
        }
        Ok(())
    }

    async fn length(&self) -> Result<u64, Errno> {
        file_length(&self.client, &self.path).await
    }
}

fn middle_write(path: &str, offset: u64, length: u64) -> Errno {
    tracing::info!(
        %path, offset, length,
        "refused a write into data already written (Cairn files are written once, at their end)"
    );
    Errno::EOPNOTSUPP
}

/// Writes `count` zeros. Nearly every write is at the end (no gap): that
/// one costs nothing, not a zeroed buffer per write.
async fn write_zeros(writer: &mut FileWriter, mut count: u64) -> cairn_client::Result<()> {
    if count == 0 {
        return Ok(());
    }
    let zeros = Bytes::from(vec![0u8; ZEROS]);
    while count > 0 {
        let n = count.min(ZEROS as u64);
        writer.write_bytes(zeros.slice(..n as usize)).await?;
        count -= n;
    }
    Ok(())
}

async fn file_length(client: &DfsClient, path: &str) -> Result<u64, Errno> {
    match client.get_file_info(path).await {
        Ok(Some(status)) => Ok(status.length),
        Ok(None) => Err(Errno::ENOENT),
        Err(err) => Err(to_errno("stat", err)),
    }
}

/// Sets the length of a closed file: unchanged, shrunk by the namenode
/// (waiting until the last block is cut), or grown with zeros, in which
/// case the writer that wrote them is returned still open.
pub async fn truncate(
    client: &DfsClient,
    path: &str,
    size: u64,
) -> Result<Option<FileWriter>, Errno> {
    let length = file_length(client, path).await?;
    if size == length {
        return Ok(None);
    }
    if size > length {
        let mut writer = client
            .append(path)
            .await
            .map_err(|e| to_errno("append", e))?;
        write_zeros(&mut writer, size - length)
            .await
            .map_err(|e| to_errno("truncate", e))?;
        return Ok(Some(writer));
    }
    let done = client
        .truncate(path, size)
        .await
        .map_err(|e| to_errno("truncate", e))?;
    if !done {
        wait_for_recovery(client, path).await?;
    }
    Ok(None)
}

/// Polls until the namenode has cut the last block of a truncated file
/// (the file stays under construction until then).
async fn wait_for_recovery(client: &DfsClient, path: &str) -> Result<(), Errno> {
    let deadline = tokio::time::Instant::now() + TRUNCATE_WAIT;
    let mut pause = Duration::from_millis(10);
    loop {
        match client.get_file_info(path).await {
            Ok(Some(status)) if !status.under_construction => return Ok(()),
            Ok(Some(_)) => {}
            Ok(None) => return Err(Errno::ENOENT),
            Err(err) => return Err(to_errno("truncate", err)),
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(%path, "the namenode did not finish a truncate in time");
            return Err(Errno::EIO);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// Closes a writer that a truncate without a handle left open.
pub async fn close(writer: Option<FileWriter>) -> Result<(), Errno> {
    match writer {
        Some(writer) => writer.close().await.map_err(|e| to_errno("close", e)),
        None => Ok(()),
    }
}
