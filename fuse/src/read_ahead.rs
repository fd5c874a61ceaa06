//! Reads with read-ahead: a sequential reader is served from chunks of the
//! file that one background pump per open file fetches ahead of it, from a
//! single block stream kept open across chunks (re-opening a block read per
//! chunk cost a datanode round trip and a checksum realignment each time).
//! The chunks keep the datanode packets as they arrived, so a kernel read
//! inside one packet is answered with a slice of it, without a copy. A
//! random reader gets exactly the bytes it asked for, by positional read.
//! Several reads of one handle may be in flight at once (the kernel sends
//! them asynchronously), so chunks are shared cells that the first asker
//! (the pump or a read) fills and the others wait on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use cairn_client::{DfsError, FileReader, Result};
use parking_lot::Mutex;
use tokio::sync::OnceCell;

/// Bytes per read-ahead chunk.
const CHUNK: u64 = 8 * 1024 * 1024;
/// Chunks fetched ahead of the one being read.
const CHUNKS_AHEAD: u64 = 4;

/// A chunk's bytes in the pieces (datanode packets) they arrived in.
type Pieces = Arc<Vec<Bytes>>;
type Chunk = Arc<OnceCell<Pieces>>;

pub struct ReadAhead {
    shared: Arc<Shared>,
}

struct Shared {
    path: String,
    len: u64,
    /// The one reader of this open file: its sequential stream feeds the
    /// chunks; positional reads use it too (they do not touch the stream).
    stream: tokio::sync::Mutex<Stream>,
    chunks: Mutex<BTreeMap<u64, Chunk>>,
    /// The end of the furthest read so far: reads near it are sequential.
    high_water: AtomicU64,
    pump: Mutex<Pump>,
}

/// The sequential stream and the bytes it delivered past the last chunk.
struct Stream {
    reader: FileReader,
    /// Bytes just before `reader.pos()` that belong to the next chunk.
    carry: Bytes,
}

/// What the background pump is to fetch: chunks `next..=target`.
#[derive(Default)]
struct Pump {
    next: u64,
    target: u64,
    running: bool,
}

impl ReadAhead {
    pub fn new(reader: FileReader, path: &str) -> Self {
        Self {
            shared: Arc::new(Shared {
                path: path.to_string(),
                len: reader.len(),
                stream: tokio::sync::Mutex::new(Stream {
                    reader,
                    carry: Bytes::new(),
                }),
                chunks: Mutex::default(),
                high_water: AtomicU64::new(0),
                pump: Mutex::default(),
            }),
        }
    }

    /// Up to `size` bytes from `offset` (fewer only at the end of the file).
    pub async fn read(&self, offset: u64, size: u32) -> Result<Bytes> {
        let shared = &self.shared;
        let len = shared.len;
        if offset >= len || size == 0 {
            return Ok(Bytes::new());
        }
        let end = len.min(offset + u64::from(size));
        let previous = shared.high_water.fetch_max(end, Ordering::Relaxed);
        let sequential = offset.abs_diff(previous) <= 2 * CHUNK;
        if !sequential {
            let mut buf = vec![0; usize::try_from(end - offset).unwrap_or(0)];
            let stream = shared.stream.lock().await;
            stream.reader.read_fully_at(offset, &mut buf).await?;
            return Ok(Bytes::from(buf));
        }
        let first = offset / CHUNK;
        let last = (end - 1) / CHUNK;
        Shared::prefetch(shared, last + 1, last + CHUNKS_AHEAD);
        let out = if first == last {
            // Within one chunk (nearly every read).
            let chunk = shared.chunk(first).await?;
            piece(&chunk, first, offset, end)
        } else {
            let mut out = BytesMut::with_capacity(usize::try_from(end - offset).unwrap_or(0));
            for index in first..=last {
                let chunk = shared.chunk(index).await?;
                out.extend_from_slice(&piece(&chunk, index, offset, end));
            }
            out.freeze()
        };
        shared.forget_before(first.saturating_sub(1));
        Ok(out)
    }
}

impl Shared {
    fn cell(&self, index: u64) -> Chunk {
        Arc::clone(self.chunks.lock().entry(index).or_default())
    }

    async fn chunk(&self, index: u64) -> Result<Pieces> {
        self.cell(index)
            .get_or_try_init(|| self.fetch(index))
            .await
            .cloned()
    }

    /// Asks the pump to fetch up to chunk `target`, from `from` on, and
    /// starts it if it is idle.
    fn prefetch(this: &Arc<Self>, from: u64, target: u64) {
        let mut pump = this.pump.lock();
        pump.next = pump.next.max(from);
        pump.target = pump.target.max(target);
        if pump.running || pump.next > pump.target || pump.next * CHUNK >= this.len {
            return;
        }
        pump.running = true;
        tokio::spawn(Self::run_pump(Arc::clone(this)));
    }

    /// Fetches chunks in order from the one stream until the target is met.
    async fn run_pump(this: Arc<Self>) {
        loop {
            let index = {
                let mut pump = this.pump.lock();
                if pump.next > pump.target || pump.next * CHUNK >= this.len {
                    pump.running = false;
                    return;
                }
                pump.next += 1;
                pump.next - 1
            };
            let cell = this.cell(index);
            if let Err(err) = cell.get_or_try_init(|| this.fetch(index)).await {
                // The read that needs this chunk fetches it again and
                // reports the failure then.
                tracing::debug!(chunk = index, error = %err, "read-ahead failed");
                this.pump.lock().running = false;
                return;
            }
        }
    }

    /// Chunk `index` from the sequential stream, which stays open when the
    /// chunk follows the one fetched last.
    async fn fetch(&self, index: u64) -> Result<Pieces> {
        let start = index * CHUNK;
        let size = CHUNK.min(self.len.saturating_sub(start));
        let mut stream = self.stream.lock().await;
        let Stream { reader, carry } = &mut *stream;
        if reader.pos().saturating_sub(carry.len() as u64) != start {
            *carry = Bytes::new();
            reader.seek(start);
        }
        let mut pieces = Vec::new();
        let mut got = 0u64;
        while got < size {
            let mut next = if carry.is_empty() {
                reader
                    .read_chunk()
                    .await?
                    .ok_or_else(|| DfsError::UnexpectedEof {
                        path: self.path.clone(),
                        offset: start,
                        wanted: size,
                        length: self.len,
                    })?
            } else {
                std::mem::take(carry)
            };
            let wanted = size - got;
            if next.len() as u64 > wanted {
                // `wanted` is below `next.len()`, so it fits a usize.
                *carry = next.split_off(usize::try_from(wanted).unwrap_or(next.len()));
            }
            got += next.len() as u64;
            pieces.push(next);
        }
        Ok(Arc::new(pieces))
    }

    fn forget_before(&self, index: u64) {
        let mut chunks = self.chunks.lock();
        let keep = chunks.split_off(&index);
        *chunks = keep;
    }
}

/// The part of chunk `index` that file bytes `[offset, end)` cover: a slice
/// of one piece when it lies inside one, else the pieces joined.
fn piece(chunk: &[Bytes], index: u64, offset: u64, end: u64) -> Bytes {
    let chunk_start = index * CHUNK;
    let mut at = chunk_start;
    let mut joined: Option<BytesMut> = None;
    for bytes in chunk {
        let piece_end = at + bytes.len() as u64;
        let from = offset.max(at);
        let to = end.min(piece_end);
        if from < to {
            let part = match (usize::try_from(from - at), usize::try_from(to - at)) {
                (Ok(from), Ok(to)) => bytes.slice(from..to),
                _ => Bytes::new(),
            };
            if joined.is_none() && from == offset && to == end {
                return part;
            }
            joined
                .get_or_insert_with(|| {
                    BytesMut::with_capacity(usize::try_from(end - from).unwrap_or(0))
                })
                .extend_from_slice(&part);
        }
        if piece_end >= end {
            break;
        }
        at = piece_end;
    }
    joined.map_or_else(Bytes::new, BytesMut::freeze)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(sizes: &[usize]) -> Vec<Bytes> {
        let mut next = 0u8;
        sizes
            .iter()
            .map(|&n| {
                (0..n)
                    .map(|_| {
                        next = next.wrapping_add(1);
                        next
                    })
                    .collect::<Vec<u8>>()
                    .into()
            })
            .collect()
    }

    fn flat(chunk: &[Bytes]) -> Vec<u8> {
        chunk.iter().flat_map(|b| b.iter().copied()).collect()
    }

    #[test]
    fn a_range_inside_one_piece_is_a_slice_of_it() {
        let c = chunk(&[10, 10, 10]);
        let got = piece(&c, 0, 12, 18);
        assert_eq!(&got[..], &flat(&c)[12..18]);
        // A slice shares the piece's memory.
        assert_eq!(got.as_ptr(), c[1][2..].as_ptr());
    }

    #[test]
    fn a_range_across_pieces_is_joined() {
        let c = chunk(&[10, 10, 10]);
        assert_eq!(&piece(&c, 0, 5, 25)[..], &flat(&c)[5..25]);
        assert_eq!(&piece(&c, 0, 0, 30)[..], &flat(&c)[..]);
    }

    #[test]
    fn a_range_in_a_later_chunk_is_offset_by_its_start() {
        let c = chunk(&[4, 4]);
        let start = CHUNK;
        assert_eq!(&piece(&c, 1, start + 3, start + 6)[..], &flat(&c)[3..6]);
    }

    #[test]
    fn a_range_past_a_short_chunk_gives_what_there_is() {
        let c = chunk(&[4]);
        assert_eq!(&piece(&c, 0, 2, 10)[..], &flat(&c)[2..4]);
        assert!(piece(&c, 0, 6, 10).is_empty());
    }
}
