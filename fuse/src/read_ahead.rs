//! Reads with read-ahead: a sequential reader is served from chunks of the
//! file fetched ahead of it by background tasks, so the datanodes stream
//! while the kernel copies; a random reader gets exactly the bytes it asked
//! for. Several reads of one handle may be in flight at once (the kernel
//! sends them asynchronously), so chunks are shared cells that the first
//! asker fills and the others wait on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use cairn_client::{FileReader, Result};
use parking_lot::Mutex;
use tokio::sync::OnceCell;

/// Bytes fetched per read-ahead chunk.
const CHUNK: u64 = 8 * 1024 * 1024;
/// Chunks fetched ahead of the one being read.
const CHUNKS_AHEAD: u64 = 4;

type Chunk = Arc<OnceCell<Bytes>>;

pub struct ReadAhead {
    reader: Arc<FileReader>,
    chunks: Mutex<BTreeMap<u64, Chunk>>,
    /// The end of the furthest read so far: reads near it are sequential.
    high_water: AtomicU64,
}

impl ReadAhead {
    pub fn new(reader: FileReader) -> Self {
        Self {
            reader: Arc::new(reader),
            chunks: Mutex::default(),
            high_water: AtomicU64::new(0),
        }
    }

    /// Up to `size` bytes from `offset` (fewer only at the end of the file).
    pub async fn read(&self, offset: u64, size: u32) -> Result<Bytes> {
        let len = self.reader.len();
        if offset >= len || size == 0 {
            return Ok(Bytes::new());
        }
        let end = len.min(offset + u64::from(size));
        let previous = self.high_water.fetch_max(end, Ordering::Relaxed);
        let sequential = offset.abs_diff(previous) <= 2 * CHUNK;
        if !sequential {
            let mut buf = vec![0; usize::try_from(end - offset).unwrap_or(0)];
            self.reader.read_fully_at(offset, &mut buf).await?;
            return Ok(Bytes::from(buf));
        }
        let first = offset / CHUNK;
        let last = (end - 1) / CHUNK;
        self.prefetch(last + 1..=last + CHUNKS_AHEAD, len);
        let out = if first == last {
            // Within one chunk (nearly every read): a slice of it, no copy.
            let chunk = self.chunk(first, len).await?;
            piece(&chunk, first, offset, end)
        } else {
            let mut out = Vec::with_capacity(usize::try_from(end - offset).unwrap_or(0));
            for index in first..=last {
                let chunk = self.chunk(index, len).await?;
                out.extend_from_slice(&piece(&chunk, index, offset, end));
            }
            Bytes::from(out)
        };
        self.forget_before(first.saturating_sub(1));
        Ok(out)
    }

    fn cell(&self, index: u64) -> Chunk {
        Arc::clone(self.chunks.lock().entry(index).or_default())
    }

    async fn chunk(&self, index: u64, len: u64) -> Result<Bytes> {
        let cell = self.cell(index);
        let reader = Arc::clone(&self.reader);
        cell.get_or_try_init(|| fetch(reader, index, len))
            .await
            .cloned()
    }

    /// Starts fetching the chunks in `range` that exist and are not cached.
    fn prefetch(&self, range: std::ops::RangeInclusive<u64>, len: u64) {
        for index in range {
            if index * CHUNK >= len || self.chunks.lock().contains_key(&index) {
                continue;
            }
            let cell = self.cell(index);
            let reader = Arc::clone(&self.reader);
            tokio::spawn(async move {
                if let Err(err) = cell.get_or_try_init(|| fetch(reader, index, len)).await {
                    // The read that needs this chunk fetches it again and
                    // reports the failure then.
                    tracing::debug!(chunk = index, error = %err, "read-ahead failed");
                }
            });
        }
    }

    fn forget_before(&self, index: u64) {
        let mut chunks = self.chunks.lock();
        let keep = chunks.split_off(&index);
        *chunks = keep;
    }
}

/// The part of chunk `index` that file bytes `[offset, end)` cover.
fn piece(chunk: &Bytes, index: u64, offset: u64, end: u64) -> Bytes {
    let chunk_start = index * CHUNK;
    let from = offset.max(chunk_start) - chunk_start;
    let to = end.min(chunk_start + chunk.len() as u64) - chunk_start;
    match (usize::try_from(from), usize::try_from(to)) {
        (Ok(from), Ok(to)) if from <= to && to <= chunk.len() => chunk.slice(from..to),
        _ => Bytes::new(),
    }
}

async fn fetch(reader: Arc<FileReader>, index: u64, len: u64) -> Result<Bytes> {
    let start = index * CHUNK;
    let size = CHUNK.min(len.saturating_sub(start));
    let mut buf = vec![0; usize::try_from(size).unwrap_or(0)];
    reader.read_fully_at(start, &mut buf).await?;
    Ok(Bytes::from(buf))
}
