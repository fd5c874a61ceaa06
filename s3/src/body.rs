//! Moving object bytes: a request body into a new file (hashing as it
//! goes), and a byte range of a file out as a response body.

use std::ops::Range;

use base64::Engine;
use bytes::{Bytes, BytesMut};
use cairn_client::{CreateOptions, DfsClient, FileReader};
use futures::StreamExt;
use s3s::S3ErrorCode;
use s3s::dto::StreamingBlob;

use crate::error::{GatewayError, Result, s3_err};
use crate::md5_lanes::Md5Lanes;

/// The pieces a PUT's body is gathered into for the writer, and how many
/// are received ahead of the datanode pipeline.
const BODY_PIECE: usize = 4 << 20;
const BODY_PIECES_IN_FLIGHT: usize = 2;

/// What a body became: its MD5 (hex, the ETag of a single PUT) and length.
#[derive(Debug, Clone)]
pub struct Written {
    pub md5_hex: String,
    pub length: u64,
}

/// The `Content-MD5` header of a request, decoded; `InvalidDigest` when it
/// is not base64 of 16 bytes.
pub fn content_md5(headers: &hyper::HeaderMap) -> Result<Option<[u8; 16]>> {
    let Some(value) = headers.get("content-md5") else {
        return Ok(None);
    };
    let invalid = || {
        s3_err(
            S3ErrorCode::InvalidDigest,
            "The Content-MD5 you specified was invalid.",
        )
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.as_bytes())
        .map_err(|_| invalid())?;
    let digest: [u8; 16] = decoded.try_into().map_err(|_| invalid())?;
    Ok(Some(digest))
}

/// Writes `body` to a new file at `path` (which must not exist) and closes
/// it. When `expected_md5` is given and differs, or anything fails, the
/// file is deleted again: nothing is left behind.
pub async fn write_new_file(
    client: &DfsClient,
    lanes: &Md5Lanes,
    path: &str,
    body: Option<StreamingBlob>,
    expected_md5: Option<[u8; 16]>,
) -> Result<Written> {
    let result = write_file(client, lanes, path, body, expected_md5).await;
    if result.is_err()
        && let Err(err) = client.delete(path, false).await
    {
        tracing::warn!(%path, error = %err, "could not remove a failed upload");
    }
    result
}

async fn write_file(
    client: &DfsClient,
    lanes: &Md5Lanes,
    path: &str,
    body: Option<StreamingBlob>,
    expected_md5: Option<[u8; 16]>,
) -> Result<Written> {
    let mut writer = client.create(path, CreateOptions::default()).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(BODY_PIECES_IN_FLIGHT);
    let receiving = tokio::spawn(receive_body(body, tx, lanes.clone()));
    while let Some(chunk) = rx.recv().await {
        writer.write_bytes(chunk).await?;
    }
    let (digest, length) = receiving
        .await
        .map_err(|e| GatewayError::Body(format!("the body task failed: {e}")))??;
    writer.close().await?;
    if let Some(expected) = expected_md5
        && expected != digest
    {
        return Err(s3_err(
            S3ErrorCode::BadDigest,
            "The Content-MD5 you specified did not match what we received.",
        ));
    }
    Ok(Written {
        md5_hex: hex::encode(digest),
        length,
    })
}

/// Reads a request body and hands it to the writer, and to the shared MD5
/// lanes, in pieces of [`BODY_PIECE`] bytes. A task of its own, so that the
/// socket, the MD5 and the datanode pipeline work at the same time rather
/// than in turn;
/// and large pieces, because the client library cuts packets out of a large
/// piece without copying, while the socket's chunks of a few hundred KiB
/// each cost a copy and reallocations (measured at half the throughput).
/// Ends early, without error, when the writer has stopped: its failure is
/// the writer's to report.
async fn receive_body(
    body: Option<StreamingBlob>,
    tx: tokio::sync::mpsc::Sender<Bytes>,
    lanes: Md5Lanes,
) -> Result<([u8; 16], u64)> {
    let mut md5 = lanes.message();
    let mut buffers = PieceBuffers::default();
    let mut piece = BytesMut::new();
    if let Some(mut body) = body {
        while let Some(chunk) = body.next().await {
            let mut chunk: Bytes = chunk.map_err(|e| GatewayError::Body(e.to_string()))?;
            while !chunk.is_empty() {
                if piece.capacity() == 0 {
                    piece = buffers.next();
                }
                let take = chunk.len().min(BODY_PIECE - piece.len());
                piece.extend_from_slice(&chunk.split_to(take));
                if piece.len() == BODY_PIECE {
                    let full = std::mem::take(&mut piece).freeze();
                    buffers.lend(&full);
                    md5.push(full.clone()).await?;
                    if tx.send(full).await.is_err() {
                        // The writer failed; it reports why.
                        return md5.finish().await;
                    }
                }
            }
        }
    }
    if !piece.is_empty() {
        let last = piece.freeze();
        md5.push(last.clone()).await?;
        // A closed channel means the writer failed; it reports why.
        let _ = tx.send(last).await;
    }
    md5.finish().await
}

/// The piece buffers of one body. A fresh 4 MiB buffer costs its page
/// faults (and the kernel's zeroing) on first touch; once the writer has
/// sent a piece's packets and the hasher is done with it, the buffer is
/// this body's again and takes a later piece. Only whole pieces are lent,
/// and a reused buffer is emptied first: a piece holds only the bytes
/// received into it.
#[derive(Default)]
struct PieceBuffers {
    /// Pieces handed to the writer and the hasher, oldest first.
    lent: std::collections::VecDeque<Bytes>,
}

impl PieceBuffers {
    /// Pieces kept track of: with the writer's packets in flight and the
    /// pieces queued for it and the hasher, the oldest is usually free by
    /// the time this many more were lent.
    const MAX_LENT: usize = 16;

    /// An empty buffer of [`BODY_PIECE`] bytes' capacity: the oldest lent
    /// one if nothing else holds it any more, else a new one.
    fn next(&mut self) -> BytesMut {
        if let Some(oldest) = self.lent.pop_front() {
            match oldest.try_into_mut() {
                Ok(mut buffer) if buffer.capacity() >= BODY_PIECE => {
                    buffer.clear();
                    return buffer;
                }
                Ok(_) => {}
                Err(still_held) => self.lent.push_front(still_held),
            }
        }
        BytesMut::with_capacity(BODY_PIECE)
    }

    /// Notes a whole piece handed out, to take its buffer back later.
    fn lend(&mut self, piece: &Bytes) {
        if self.lent.len() < Self::MAX_LENT {
            self.lent.push_back(piece.clone());
        }
    }
}

/// Copies `range` of the file open in `reader` into a new file at `path`.
pub async fn copy_range_to_new_file(
    client: &DfsClient,
    lanes: &Md5Lanes,
    mut reader: FileReader,
    range: Range<u64>,
    path: &str,
) -> Result<Written> {
    let result = async {
        let mut writer = client.create(path, CreateOptions::default()).await?;
        let mut md5 = lanes.message();
        reader.seek(range.start);
        let mut left = range.end - range.start;
        while left > 0 {
            let Some(mut chunk) = reader.read_chunk().await? else {
                break;
            };
            if chunk.len() as u64 > left {
                chunk.truncate(left as usize);
            }
            left -= chunk.len() as u64;
            md5.push(chunk.clone()).await?;
            writer.write_bytes(chunk).await?;
        }
        writer.close().await?;
        let (digest, length) = md5.finish().await?;
        Ok(Written {
            md5_hex: hex::encode(digest),
            length,
        })
    }
    .await;
    if result.is_err()
        && let Err(err) = client.delete(path, false).await
    {
        tracing::warn!(%path, error = %err, "could not remove a failed copy");
    }
    result
}

/// A response body streaming `range` of the file open in `reader`, read
/// as hyper asks for more: no task of its own and no queue. The datanode
/// already sends ahead of the reader by the HTTP/2 stream window (8 MiB),
/// which keeps it busy while the socket drains; a queue of chunks in front
/// of the writer would only hold more packet buffers alive, so that each
/// packet is decoded into freshly faulted, cache-cold memory instead of the
/// buffer the last one left. A read error ends the body early, which the
/// client sees as a short response.
pub fn stream_range(mut reader: FileReader, range: Range<u64>) -> StreamingBlob {
    reader.seek(range.start);
    let left = range.end - range.start;
    let chunks = futures::stream::unfold((reader, left), |(mut reader, left)| async move {
        if left == 0 {
            return None;
        }
        let item = match reader.read_chunk().await {
            Ok(Some(mut chunk)) => {
                if chunk.len() as u64 > left {
                    chunk.truncate(left as usize);
                }
                let left = left - chunk.len() as u64;
                return Some((Ok(chunk), (reader, left)));
            }
            Ok(None) => std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file ended before the requested range",
            ),
            Err(err) => std::io::Error::other(err.to_string()),
        };
        tracing::warn!(error = %item, "object read failed");
        // Nothing more after an error.
        Some((Err(item), (reader, 0)))
    });
    StreamingBlob::wrap(SyncStream(parking_lot::Mutex::new(chunks.boxed())))
}

/// A stream that is `Sync` because it is only ever polled through `&mut`:
/// s3s wants response bodies `Sync`, and a stream that awaits a
/// [`FileReader`] is not. The mutex is never locked (`get_mut`).
struct SyncStream<S>(parking_lot::Mutex<S>);

impl<S: futures::Stream + Unpin> futures::Stream for SyncStream<S> {
    type Item = S::Item;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<S::Item>> {
        self.get_mut().0.get_mut().poll_next_unpin(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn fill(buffers: &mut PieceBuffers, byte: u8) -> Bytes {
        let mut piece = buffers.next();
        assert!(piece.is_empty());
        piece.extend_from_slice(&vec![byte; BODY_PIECE]);
        let piece = piece.freeze();
        buffers.lend(&piece);
        piece
    }

    /// A piece's buffer is taken back only once nothing else holds it, and
    /// comes back empty: the next piece holds only its own bytes.
    #[test]
    fn piece_buffers_are_reused_only_when_free() {
        let mut buffers = PieceBuffers::default();
        let first = fill(&mut buffers, 1);
        let first_at = first.as_ptr();
        // The writer still holds the first piece: a new buffer.
        let second = fill(&mut buffers, 2);
        assert_ne!(second.as_ptr(), first_at);
        drop(first);
        let mut reused = buffers.next();
        assert_eq!(reused.as_ptr(), first_at, "the free buffer is reused");
        assert!(reused.is_empty());
        reused.extend_from_slice(b"third");
        assert_eq!(&reused[..], b"third");
        assert!(
            second.iter().all(|&b| b == 2),
            "the held piece is untouched"
        );
    }
}
