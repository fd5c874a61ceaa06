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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cairn_client::{DfsClient, FileWriter};
use fuser::{Errno, ReplyWrite};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use crate::error::to_errno;

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

    fn clear(&self, ino: u64) {
        self.sizes.lock().remove(&ino);
    }
}

type Done = oneshot::Sender<Result<(), Errno>>;

enum WriteOp {
    Write {
        offset: u64,
        data: Bytes,
        reply: ReplyWrite,
    },
    Flush(Done),
    Fsync(Done),
    Truncate(u64, Done),
    /// Close the writer and stop: the handle is released, or the mount is
    /// going away.
    Release(Done),
}

/// The sending side of a handle's write queue.
#[derive(Clone)]
pub struct WriteQueue {
    tx: mpsc::UnboundedSender<WriteOp>,
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
        let task = WriteTask {
            client,
            path,
            ino,
            writer,
            append,
            sizes,
        };
        if let Some(writer) = &task.writer {
            task.sizes.set(ino, writer.pos());
        }
        tokio::spawn(task.run(rx));
        Self { tx }
    }

    /// Queues a write; the task replies.
    pub fn write(&self, offset: u64, data: Bytes, reply: ReplyWrite) {
        if let Err(mpsc::error::SendError(op)) = self.tx.send(WriteOp::Write {
            offset,
            data,
            reply,
        }) && let WriteOp::Write { reply, .. } = op
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
    ino: u64,
    writer: Option<FileWriter>,
    /// Opened with O_APPEND: every write goes to the end, whatever its offset.
    append: bool,
    sizes: Arc<WrittenSizes>,
}

impl WriteTask {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<WriteOp>) {
        while let Some(op) = rx.recv().await {
            match op {
                WriteOp::Write {
                    offset,
                    data,
                    reply,
                } => {
                    let len = data.len();
                    match self.write(offset, data).await {
                        Ok(()) => reply.written(u32::try_from(len).unwrap_or(u32::MAX)),
                        Err(errno) => reply.error(errno),
                    }
                }
                WriteOp::Flush(done) => {
                    let _ = done.send(self.close().await);
                }
                WriteOp::Fsync(done) => {
                    let result = match self.writer.as_mut() {
                        Some(writer) => writer.hsync().await,
                        None => Ok(()),
                    };
                    let _ = done.send(self.fail_on(result, "fsync"));
                }
                WriteOp::Truncate(size, done) => {
                    let _ = done.send(self.truncate(size).await);
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

    /// Keeps the writer after success; drops it (abandoning the write, as
    /// HDFS does) after a failure, which no later call could get past.
    fn fail_on(&mut self, result: cairn_client::Result<()>, op: &str) -> Result<(), Errno> {
        result.map_err(|err| {
            self.writer = None;
            self.sizes.clear(self.ino);
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
        self.sizes.set(self.ino, pos);
        Ok(())
    }

    /// Completes the file: every other client now sees all of it.
    async fn close(&mut self) -> Result<(), Errno> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let result = writer.close().await;
        self.sizes.clear(self.ino);
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
            self.sizes.set(self.ino, writer.pos());
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

async fn write_zeros(writer: &mut FileWriter, mut count: u64) -> cairn_client::Result<()> {
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
