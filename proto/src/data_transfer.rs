//! DataTransferProtocol on a plain TCP stream: how WriteBlock (the write
//! pipeline and re-replication) travels between a writer and a datanode and
//! from datanode to datanode.
//!
//! HDFS moves block data outside its RPC system, and so does Cairn: over
//! gRPC each 1 MiB packet was cut into 16 KiB HTTP/2 frames, gathered again
//! by the decoder (a copy at every datanode) and paced by flow control and a
//! connection task per hop. Here a packet is one frame, read into one buffer
//! and forwarded downstream from it with one vectored write.
//!
//! A connection starts with the op: [`MAGIC`], the protocol [`VERSION`]
//! (big-endian `u16`), the op byte ([`OP_WRITE_BLOCK`]) and the
//! `WriteBlockHeader`, varint-length-delimited. Then packets flow one way,
//! framed as HDFS's PacketReceiver reads them:
//!
//! ```text
//! u32 payload length | u16 header length | PacketHeader | checksums | data
//! ```
//!
//! (big-endian; the payload is the checksums and the data), and
//! `PipelineAck`s, varint-length-delimited, flow back on the same socket;
//! the first is the setup ack (seqno -1). The datanode's port serves this
//! and gRPC both: [`demultiplex`] tells them apart by the first byte.
//!
//! Every length read from the network is bounded before anything is
//! allocated for it, and a malformed frame is an error naming the peer.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::pb;
use crate::{ErrorKind, RpcError};

/// The first bytes of a data-transfer connection. Its first byte is not
/// `P`, the first of HTTP/2's client preface (`PRI * HTTP/2.0`).
pub const MAGIC: [u8; 4] = *b"CDTP";

/// The version of the framing below; a datanode refuses another.
pub const VERSION: u16 = 1;

/// The op of a WriteBlock connection (HDFS's WRITE_BLOCK op code).
pub const OP_WRITE_BLOCK: u8 = 80;

/// The op of a ReadBlock connection (HDFS's READ_BLOCK op code).
pub const OP_READ_BLOCK: u8 = 81;

/// The largest packet data a writer sends and a datanode accepts.
pub const MAX_PACKET_DATA: usize = 16 * 1024 * 1024;

/// The largest packet payload (data and checksums) a reader accepts:
/// [`MAX_PACKET_DATA`] with 4-byte checksums of 512-byte chunks, and room.
pub const MAX_PACKET_PAYLOAD: usize = MAX_PACKET_DATA + MAX_PACKET_DATA / 64;

/// The largest packet header a reader accepts (a few varints).
pub const MAX_PACKET_HEADER: usize = 1024;

/// The largest op header or ack a reader accepts (a WriteBlockHeader names
/// the datanodes of a pipeline; an ack carries an error message).
pub const MAX_MESSAGE: usize = 64 * 1024;

/// The magic, the version and the op byte.
const OP_PREFIX: usize = MAGIC.len() + 2 + 1;

/// A packet's payload and header lengths.
const PACKET_PREFIX: usize = 4 + 2;

/// What a read asks of the socket beyond the frame prefix: the packet
/// header and the start of its checksums, or a whole ack, in one call.
const READ_AHEAD: usize = 512;

/// The first byte of HTTP/2's client preface.
const HTTP2_PREFACE_START: u8 = b'P';

/// How long an accepted connection may take to send its first byte.
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(60);

/// Connects to a datanode's data-transfer port ("host:port"), failing
/// after `timeout`, with Nagle off (acks and small packets go at once).
pub async fn connect(addr: &str, timeout: Duration) -> Result<TcpStream, RpcError> {
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            return Err(RpcError::new(
                ErrorKind::Unavailable,
                format!("cannot connect to datanode {addr}: {e}"),
            ));
        }
        Err(_) => {
            return Err(RpcError::new(
                ErrorKind::TimedOut,
                format!("connecting to datanode {addr} took over {timeout:?}"),
            ));
        }
    };
    stream
        .set_nodelay(true)
        .map_err(|e| RpcError::new(ErrorKind::Io, format!("socket to datanode {addr}: {e}")))?;
    Ok(stream)
}

/// The op that opens a WriteBlock connection, as sent.
pub fn encode_write_block(header: &pb::WriteBlockHeader) -> Bytes {
    encode_op(OP_WRITE_BLOCK, header)
}

/// The op that opens a ReadBlock connection, as sent.
pub fn encode_read_block(request: &pb::ReadBlockRequest) -> Bytes {
    encode_op(OP_READ_BLOCK, request)
}

fn encode_op(op: u8, message: &impl Message) -> Bytes {
    let len = message.encoded_len();
    let mut buf = BytesMut::with_capacity(OP_PREFIX + prost::length_delimiter_len(len) + len);
    buf.put_slice(&MAGIC);
    buf.put_u16(VERSION);
    buf.put_u8(op);
    // A BytesMut grows as needed: encoding cannot fail.
    let _ = message.encode_length_delimited(&mut buf);
    buf.freeze()
}

impl pb::ReadPacket {
    /// The packet as a data-transfer connection frames it, numbered `seqno`.
    pub fn into_packet(self, seqno: i64) -> pb::Packet {
        pb::Packet {
            seqno,
            offset_in_block: self.offset_in_block,
            data: self.data,
            checksums: self.checksums,
            last_packet_in_block: false,
            sync: false,
        }
    }
}

impl pb::ReadBlockResponse {
    /// A datanode's refusal of a read, with the error's kind.
    pub fn refused(err: &RpcError) -> Self {
        Self {
            error: err.message.clone(),
            error_code: err.kind.to_code().0 as i32,
            checksum_type: 0,
        }
    }

    /// The refusal as an error, or the checksum type the packets carry.
    pub fn into_result(self) -> Result<crate::ChecksumType, RpcError> {
        if !self.error.is_empty() {
            // Only a peer that could not be reached or timed out goes
            // without a code.
            let kind = pb::ErrorCode::try_from(self.error_code)
                .ok()
                .and_then(ErrorKind::from_code)
                .unwrap_or(ErrorKind::Unavailable);
            return Err(RpcError::new(kind, self.error));
        }
        crate::ChecksumType::from_pb(self.checksum_type).ok_or_else(|| {
            RpcError::new(
                ErrorKind::InvalidArgument,
                format!(
                    "the datanode sends checksums of an unknown type {}",
                    self.checksum_type
                ),
            )
        })
    }
}

/// Something sent on a data-transfer connection, as the bytes it is framed in.
pub trait Frame: Send + Sync + 'static {
    /// The frame, ready for one (vectored) write.
    fn frame(&self) -> Result<impl Buf + Send, RpcError>;
}

impl Frame for pb::Packet {
    /// The prefix and header, then the checksums and data as the very
    /// `Bytes` they are (no copy).
    fn frame(&self) -> Result<impl Buf + Send, RpcError> {
        let too_big = |what: String| RpcError::new(ErrorKind::InvalidArgument, what);
        if self.data.len() > MAX_PACKET_DATA {
            return Err(too_big(format!(
                "a packet of {} bytes is over the {MAX_PACKET_DATA}-byte limit",
                self.data.len()
            )));
        }
        let header = pb::PacketHeader {
            seqno: self.seqno,
            offset_in_block: self.offset_in_block,
            // Bounded just above.
            data_len: self.data.len() as u32,
            last_packet_in_block: self.last_packet_in_block,
            sync: self.sync,
        };
        let payload = self.checksums.len() + self.data.len();
        if payload > MAX_PACKET_PAYLOAD {
            return Err(too_big(format!(
                "a packet's {} bytes of checksums are more than its data can have",
                self.checksums.len()
            )));
        }
        let header_len = header.encoded_len();
        let mut prefix = BytesMut::with_capacity(PACKET_PREFIX + header_len);
        // Both bounded: the payload above, the header by its few fields.
        prefix.put_u32(payload as u32);
        prefix.put_u16(header_len as u16);
        header.encode_raw(&mut prefix);
        Ok(prefix
            .freeze()
            .chain(self.checksums.clone())
            .chain(self.data.clone()))
    }
}

impl Frame for pb::PipelineAck {
    fn frame(&self) -> Result<impl Buf + Send, RpcError> {
        Ok(Bytes::from(self.encode_length_delimited_to_vec()))
    }
}

impl Frame for pb::ReadBlockResponse {
    fn frame(&self) -> Result<impl Buf + Send, RpcError> {
        Ok(Bytes::from(self.encode_length_delimited_to_vec()))
    }
}

/// Writes `frame` whole, failing if the peer takes no bytes for `stall`.
pub async fn write_frame<W, F>(io: &mut W, frame: &F, stall: Duration) -> Result<(), RpcError>
where
    W: AsyncWrite + Unpin,
    F: Frame,
{
    let mut buf = frame.frame()?;
    match tokio::time::timeout(stall, io.write_all_buf(&mut buf)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(RpcError::new(ErrorKind::Unavailable, e.to_string())),
        Err(_) => Err(RpcError::new(
            ErrorKind::TimedOut,
            format!("the peer took nothing for {stall:?}"),
        )),
    }
}

/// Writes what `frames` yields to `io` until the channel closes or a write
/// fails, then closes the sending side (the peer reads the end). Dropping
/// the receiver tells the senders the connection is gone.
pub fn spawn_sender<W, F>(
    mut io: W,
    mut frames: mpsc::Receiver<F>,
    peer: String,
    stall: Duration,
) -> JoinHandle<()>
where
    W: AsyncWrite + Unpin + Send + 'static,
    F: Frame,
{
    tokio::spawn(async move {
        while let Some(frame) = frames.recv().await {
            if let Err(e) = write_frame(&mut io, &frame, stall).await {
                debug!(%peer, "data transfer connection closed: {e}");
                return;
            }
        }
        let _ = io.shutdown().await;
    })
}

/// The op a connection opens with.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    WriteBlock(pb::WriteBlockHeader),
    ReadBlock(pb::ReadBlockRequest),
}

/// Reads frames from one side of a connection into buffers of their exact
/// size: one kernel copy per byte, and the packet's checksums and data are
/// slices of that buffer.
#[derive(Debug)]
pub struct FrameReader<R> {
    io: R,
    buf: BytesMut,
    peer: String,
    stall: Duration,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// A reader of `io`, from `peer` ("host:port", for errors). Once a frame
    /// has begun, its rest must come within `stall` (HDFS's socket timeout);
    /// the wait for a frame to begin is the caller's to bound.
    pub fn new(io: R, peer: impl Into<String>, stall: Duration) -> Self {
        Self {
            io,
            buf: BytesMut::new(),
            peer: peer.into(),
            stall,
        }
    }

    /// The op a connection opens with; None if the peer closed without
    /// sending one.
    pub async fn read_op(&mut self) -> Result<Option<Op>, RpcError> {
        if !self.fill_first().await? {
            return Ok(None);
        }
        self.fill_within_stall(OP_PREFIX).await?;
        let mut prefix = self.buf.split_to(OP_PREFIX).freeze();
        let magic = prefix.split_to(MAGIC.len());
        if magic[..] != MAGIC {
            return Err(self.malformed(format!(
                "does not speak Cairn's data transfer protocol (first bytes {:02x?})",
                &magic[..]
            )));
        }
        let version = prefix.get_u16();
        if version != VERSION {
            return Err(self.malformed(format!(
                "speaks data transfer version {version}; this node speaks {VERSION}"
            )));
        }
        match prefix.get_u8() {
            OP_WRITE_BLOCK => {
                let header = self
                    .read_message::<pb::WriteBlockHeader>()
                    .await?
                    .ok_or_else(|| self.truncated())?;
                Ok(Some(Op::WriteBlock(header)))
            }
            OP_READ_BLOCK => {
                let request = self
                    .read_message::<pb::ReadBlockRequest>()
                    .await?
                    .ok_or_else(|| self.truncated())?;
                Ok(Some(Op::ReadBlock(request)))
            }
            op => Err(self.malformed(format!("sent unknown op {op}"))),
        }
    }

    /// The next packet; None if the peer closed the stream between packets.
    pub async fn read_packet(&mut self) -> Result<Option<pb::Packet>, RpcError> {
        if !self.fill_first().await? {
            return Ok(None);
        }
        self.fill_within_stall(PACKET_PREFIX).await?;
        // Filled just above: the prefix is there.
        let mut prefix = &self.buf[..PACKET_PREFIX];
        let payload_len = prefix.get_u32() as usize;
        let header_len = usize::from(prefix.get_u16());
        if payload_len > MAX_PACKET_PAYLOAD {
            return Err(self.malformed(format!(
                "sent a packet of {payload_len} bytes, over the {MAX_PACKET_PAYLOAD}-byte limit"
            )));
        }
        if header_len > MAX_PACKET_HEADER {
            return Err(self.malformed(format!(
                "sent a packet header of {header_len} bytes, over the {MAX_PACKET_HEADER}-byte limit"
            )));
        }
        let frame_len = PACKET_PREFIX + header_len + payload_len;
        self.fill_within_stall(frame_len).await?;
        let mut frame = self.buf.split_to(frame_len).freeze();
        frame.advance(PACKET_PREFIX);
        let header = pb::PacketHeader::decode(frame.split_to(header_len)).map_err(|e| {
            self.malformed(format!("sent a packet header that does not decode: {e}"))
        })?;
        let data_len = header.data_len as usize;
        let Some(checksums_len) = payload_len.checked_sub(data_len) else {
            return Err(self.malformed(format!(
                "sent a packet of {data_len} data bytes in a payload of {payload_len}"
            )));
        };
        let checksums = frame.split_to(checksums_len);
        Ok(Some(pb::Packet {
            seqno: header.seqno,
            offset_in_block: header.offset_in_block,
            data: frame,
            checksums,
            last_packet_in_block: header.last_packet_in_block,
            sync: header.sync,
        }))
    }

    /// The next ack; None if the peer closed the stream between acks.
    pub async fn read_ack(&mut self) -> Result<Option<pb::PipelineAck>, RpcError> {
        self.read_message().await
    }

    /// The datanode's answer to a ReadBlock op; None if it closed the
    /// stream without one.
    pub async fn read_block_response(&mut self) -> Result<Option<pb::ReadBlockResponse>, RpcError> {
        self.read_message().await
    }

    /// A varint-length-delimited message of at most [`MAX_MESSAGE`] bytes.
    async fn read_message<M: Message + Default>(&mut self) -> Result<Option<M>, RpcError> {
        if !self.fill_first().await? {
            return Ok(None);
        }
        let len = loop {
            match prost::decode_length_delimiter(&self.buf[..]) {
                Ok(len) => break len,
                // A varint is at most 10 bytes: read on until it is whole.
                Err(_) if self.buf.len() < 10 => {
                    let more = self.buf.len() + 1;
                    self.fill_within_stall(more).await?;
                }
                Err(e) => return Err(self.malformed(format!("sent a bad length: {e}"))),
            }
        };
        if len > MAX_MESSAGE {
            return Err(self.malformed(format!(
                "sent a message of {len} bytes, over the {MAX_MESSAGE}-byte limit"
            )));
        }
        let frame_len = prost::length_delimiter_len(len) + len;
        self.fill_within_stall(frame_len).await?;
        let mut frame = self.buf.split_to(frame_len);
        frame.advance(frame_len - len);
        M::decode(frame)
            .map(Some)
            .map_err(|e| self.malformed(format!("sent a message that does not decode: {e}")))
    }

    /// Waits (without a time limit) for the first byte of a frame; false if
    /// the peer closed the stream instead.
    async fn fill_first(&mut self) -> Result<bool, RpcError> {
        if !self.buf.is_empty() {
            return Ok(true);
        }
        Ok(self.read_some(READ_AHEAD).await? > 0)
    }

    /// [`Self::fill`] within the stall timeout.
    async fn fill_within_stall(&mut self, n: usize) -> Result<(), RpcError> {
        let stall = self.stall;
        match tokio::time::timeout(stall, self.fill(n)).await {
            Ok(filled) => filled,
            Err(_) => Err(RpcError::new(
                ErrorKind::TimedOut,
                format!(
                    "{} sent part of a frame and nothing more for {stall:?}",
                    self.peer
                ),
            )),
        }
    }

    /// Reads until `n` bytes are buffered: the missing bytes straight into
    /// the buffer's spare room, never more than the frame (and a little
    /// read-ahead when the frame is small).
    async fn fill(&mut self, n: usize) -> Result<(), RpcError> {
        while self.buf.len() < n {
            let missing = n - self.buf.len();
            if self.read_some(missing.max(READ_AHEAD)).await? == 0 {
                return Err(self.truncated());
            }
        }
        Ok(())
    }

    /// One read of at most `limit` bytes into the buffer's spare room
    /// (grown to fit them); 0 at the end of the stream.
    async fn read_some(&mut self, limit: usize) -> Result<usize, RpcError> {
        self.buf.reserve(limit);
        match (&mut self.io)
            .take(limit as u64)
            .read_buf(&mut self.buf)
            .await
        {
            Ok(read) => Ok(read),
            Err(e) => Err(self.io_error(&e)),
        }
    }

    fn malformed(&self, what: String) -> RpcError {
        RpcError::new(ErrorKind::InvalidArgument, format!("{} {what}", self.peer))
    }

    fn truncated(&self) -> RpcError {
        RpcError::new(
            ErrorKind::Unavailable,
            format!(
                "{} closed the connection in the middle of a frame",
                self.peer
            ),
        )
    }

    fn io_error(&self, e: &io::Error) -> RpcError {
        RpcError::new(
            ErrorKind::Unavailable,
            format!("connection from {} failed: {e}", self.peer),
        )
    }
}

/// Accepts connections on `listener` until `shutdown` resolves and tells the
/// two protocols of a datanode's port apart by their first byte: HTTP/2's
/// preface goes to the returned stream (for tonic's
/// `serve_with_incoming_shutdown`), any other connection to `data_transfer`.
/// The task ends, closing the listener, at the shutdown.
pub fn demultiplex<S, D>(
    listener: TcpListener,
    shutdown: S,
    data_transfer: D,
) -> (
    JoinHandle<()>,
    tokio_stream::wrappers::ReceiverStream<io::Result<TcpStream>>,
)
where
    S: Future<Output = ()> + Send + 'static,
    D: Fn(TcpStream, SocketAddr) + Clone + Send + Sync + 'static,
{
    let (grpc, incoming) = mpsc::channel(64);
    let accept = tokio::spawn(async move {
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                () = &mut shutdown => return,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: the next may succeed.
                    warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if let Err(e) = stream.set_nodelay(true) {
                debug!(%peer, "cannot set TCP_NODELAY: {e}");
            }
            let grpc = grpc.clone();
            let data_transfer = data_transfer.clone();
            tokio::spawn(async move {
                let mut first = [0u8; 1];
                match tokio::time::timeout(FIRST_BYTE_TIMEOUT, stream.peek(&mut first)).await {
                    Ok(Ok(1)) if first[0] == HTTP2_PREFACE_START => {
                        let _ = grpc.send(Ok(stream)).await;
                    }
                    Ok(Ok(1)) => data_transfer(stream, peer),
                    Ok(Ok(_)) => debug!(%peer, "connection closed before its first byte"),
                    Ok(Err(e)) => debug!(%peer, "connection failed before its first byte: {e}"),
                    Err(_) => debug!(%peer, "connection sent nothing; closing it"),
                }
            });
        }
    });
    (
        accept,
        tokio_stream::wrappers::ReceiverStream::new(incoming),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const STALL: Duration = Duration::from_secs(5);

    fn reader(bytes: Vec<u8>) -> FrameReader<io::Cursor<Vec<u8>>> {
        FrameReader::new(io::Cursor::new(bytes), "10.0.0.9:9866", STALL)
    }

    fn wire(frame: &impl Frame) -> Vec<u8> {
        let mut buf = frame.frame().unwrap();
        buf.copy_to_bytes(buf.remaining()).to_vec()
    }

    fn packet(data: Vec<u8>, checksums: Vec<u8>, last: bool) -> pb::Packet {
        pb::Packet {
            seqno: 7,
            offset_in_block: 1 << 20,
            data: Bytes::from(data),
            checksums: Bytes::from(checksums),
            last_packet_in_block: last,
            sync: true,
        }
    }

    fn header() -> pb::WriteBlockHeader {
        pb::WriteBlockHeader {
            block: Some(pb::Block {
                id: 5,
                generation_stamp: 1001,
                num_bytes: 0,
            }),
            client_name: "c".into(),
            bytes_per_checksum: 512,
            ..Default::default()
        }
    }

    fn message_of(err: RpcError) -> String {
        assert_eq!(err.kind, ErrorKind::InvalidArgument, "{err}");
        err.to_string()
    }

    #[tokio::test]
    async fn op_packets_and_acks_round_trip() {
        let packets = [
            packet(vec![9; 200_000], vec![1, 2, 3, 4], false),
            packet(vec![5; 300], Vec::new(), false),
            packet(Vec::new(), Vec::new(), true),
        ];
        let mut bytes = encode_write_block(&header()).to_vec();
        for p in &packets {
            bytes.extend(wire(p));
        }
        let mut r = reader(bytes);
        assert_eq!(r.read_op().await.unwrap(), Some(Op::WriteBlock(header())));
        for p in &packets {
            assert_eq!(r.read_packet().await.unwrap().as_ref(), Some(p));
        }
        assert_eq!(r.read_packet().await.unwrap(), None);

        let acks = [
            pb::PipelineAck {
                seqno: -1,
                replies: vec![0, 0, 0],
                ..Default::default()
            },
            pb::PipelineAck {
                seqno: 3,
                replies: vec![0, 2],
                first_bad_link: "127.0.0.1:1".into(),
                message: "checksum".into(),
            },
        ];
        let mut r = reader(acks.iter().flat_map(wire).collect());
        for ack in &acks {
            assert_eq!(r.read_ack().await.unwrap().as_ref(), Some(ack));
        }
        assert_eq!(r.read_ack().await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_read_op_its_answer_and_its_packets_round_trip() {
        let request = pb::ReadBlockRequest {
            block: header().block,
            offset: 1000,
            length: 5000,
            client_name: "c".into(),
            send_checksums: true,
        };
        let answer = pb::ReadBlockResponse {
            checksum_type: crate::ChecksumType::Crc32c.to_pb() as i32,
            ..Default::default()
        };
        let p = packet(vec![9; 4096], vec![1; 32], false);
        let mut bytes = encode_read_block(&request).to_vec();
        bytes.extend(wire(&answer));
        bytes.extend(wire(&p));
        let mut r = reader(bytes);
        assert_eq!(r.read_op().await.unwrap(), Some(Op::ReadBlock(request)));
        let got = r.read_block_response().await.unwrap().unwrap();
        assert_eq!(got.into_result(), Ok(crate::ChecksumType::Crc32c));
        assert_eq!(r.read_packet().await.unwrap(), Some(p));
        assert_eq!(r.read_packet().await.unwrap(), None);
    }

    #[test]
    fn a_refused_read_keeps_its_kind_and_message() {
        for kind in [
            ErrorKind::ReplicaNotFound,
            ErrorKind::StaleGenerationStamp,
            ErrorKind::InvalidArgument,
            ErrorKind::Unavailable,
        ] {
            let err = RpcError::new(kind, "blk_5: boom");
            let answer = pb::ReadBlockResponse::refused(&err);
            assert_eq!(answer.into_result(), Err(err));
        }
        let unknown = pb::ReadBlockResponse {
            checksum_type: 99,
            ..Default::default()
        };
        assert_eq!(
            unknown.into_result().unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn packet_data_is_framed_without_a_copy() {
        let p = packet(vec![3; 4096], vec![1; 32], false);
        let buf = p.frame().unwrap();
        let mut slices = [io::IoSlice::new(&[]); 4];
        let n = buf.chunks_vectored(&mut slices);
        assert_eq!(n, 3, "prefix, checksums, data");
        assert_eq!(slices[2].as_ptr(), p.data.as_ptr());
        assert_eq!(slices[1].as_ptr(), p.checksums.as_ptr());
    }

    #[tokio::test]
    async fn a_wrong_magic_or_version_is_refused() {
        let mut bytes = encode_write_block(&header()).to_vec();
        bytes[0] = b'X';
        let err = message_of(reader(bytes).read_op().await.unwrap_err());
        assert!(err.contains("10.0.0.9:9866 does not speak"), "{err}");

        let mut bytes = encode_write_block(&header()).to_vec();
        bytes[5] = 9;
        let err = message_of(reader(bytes).read_op().await.unwrap_err());
        assert!(err.contains("version 9"), "{err}");

        let mut bytes = encode_write_block(&header()).to_vec();
        bytes[6] = 82;
        let err = message_of(reader(bytes).read_op().await.unwrap_err());
        assert!(err.contains("unknown op 82"), "{err}");
    }

    #[tokio::test]
    async fn a_truncated_packet_is_an_error_not_an_end() {
        let full = wire(&packet(vec![1; 1000], vec![2; 8], false));
        for cut in [1, PACKET_PREFIX, full.len() - 1] {
            let err = reader(full[..cut].to_vec())
                .read_packet()
                .await
                .unwrap_err();
            assert_eq!(err.kind, ErrorKind::Unavailable);
            assert!(
                err.to_string().contains("in the middle of a frame"),
                "{err}"
            );
        }
    }

    #[tokio::test]
    async fn lengths_over_the_bounds_are_refused_before_reading() {
        // Nothing follows the prefix: the bound is checked first.
        let mut over = Vec::new();
        over.put_u32(MAX_PACKET_PAYLOAD as u32 + 1);
        over.put_u16(4);
        let err = message_of(reader(over).read_packet().await.unwrap_err());
        assert!(err.contains("over the"), "{err}");

        let mut long_header = Vec::new();
        long_header.put_u32(0);
        long_header.put_u16(MAX_PACKET_HEADER as u16 + 1);
        let err = message_of(reader(long_header).read_packet().await.unwrap_err());
        assert!(err.contains("packet header"), "{err}");

        let mut ack = Vec::new();
        prost::encode_length_delimiter(MAX_MESSAGE + 1, &mut ack).unwrap();
        let err = message_of(reader(ack).read_ack().await.unwrap_err());
        assert!(err.contains("over the"), "{err}");

        let err = message_of(reader(vec![0xff; 11]).read_ack().await.unwrap_err());
        assert!(err.contains("bad length"), "{err}");
    }

    #[tokio::test]
    async fn headers_that_do_not_decode_are_refused() {
        let mut bad = Vec::new();
        bad.put_u32(0);
        bad.put_u16(2);
        // Field 1 with wire type 7: no such wire type.
        bad.extend([0x0f, 0x00]);
        let err = message_of(reader(bad).read_packet().await.unwrap_err());
        assert!(err.contains("does not decode"), "{err}");

        // data_len beyond the payload.
        let header = pb::PacketHeader {
            data_len: 10,
            ..Default::default()
        };
        let mut lying = Vec::new();
        lying.put_u32(4);
        lying.put_u16(header.encoded_len() as u16);
        header.encode(&mut lying).unwrap();
        lying.extend([0; 4]);
        let err = message_of(reader(lying).read_packet().await.unwrap_err());
        assert!(err.contains("10 data bytes in a payload of 4"), "{err}");
    }

    #[tokio::test]
    async fn demultiplex_sends_http2_to_grpc_and_the_rest_to_the_handler() {
        use tokio_stream::StreamExt;

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut data_transfer) = mpsc::unbounded_channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (accept, mut grpc) = demultiplex(
            listener,
            async {
                let _ = stopped.await;
            },
            move |stream, _| {
                let _ = tx.send(stream);
            },
        );
        let mut h2 = TcpStream::connect(addr).await.unwrap();
        h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        let mut dt = TcpStream::connect(addr).await.unwrap();
        dt.write_all(&encode_write_block(&header())).await.unwrap();

        let served = grpc.next().await.unwrap().unwrap();
        assert_eq!(served.peer_addr().unwrap(), h2.local_addr().unwrap());
        let handled = data_transfer.recv().await.unwrap();
        assert_eq!(handled.peer_addr().unwrap(), dt.local_addr().unwrap());
        let mut r = FrameReader::new(handled, "dt", STALL);
        assert_eq!(r.read_op().await.unwrap(), Some(Op::WriteBlock(header())));

        stop.send(()).unwrap();
        accept.await.unwrap();
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "the listener is closed"
        );
    }
}
