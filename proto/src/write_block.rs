//! The client half of `DataTransfer.WriteBlock` with packets framed by hand,
//! so that a packet's data travels as the very `Bytes` it was given.
//!
//! tonic's generated client encodes every message into a buffer of its own:
//! each byte of a packet is copied once more at the writer and again at
//! every datanode that forwards it (the profile of `cairn bench dfsio-write
//! --tmpfs` showed that copy at about 8% of the cycles). Here the small
//! fields of a packet are encoded into a few bytes of prefix and the data
//! and checksums follow as their own chunks of the HTTP/2 body, which h2
//! writes out from where they lie. A forwarding datanode hands on the
//! slices of the buffer it decoded the packet from. The bytes on the wire
//! are the same protobuf messages in gRPC's framing, field order aside
//! (protobuf readers accept fields in any order); the server side and the
//! acks are tonic's as generated.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HeaderValue, TE};
use http_body::Frame;
use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};
use tonic::Status;
use tonic::codec::{Codec, Streaming};
use tonic::codegen::Service;
use tonic::codegen::tokio_stream::Stream;
use tonic::transport::Channel;

use crate::MAX_MESSAGE_SIZE;
use crate::pb::{self, write_block_request};

/// The method's path, as the generated client names it.
const PATH: &str = "/cairn.DataTransfer/WriteBlock";

/// gRPC's message prefix: a compression flag and a big-endian length.
const MESSAGE_PREFIX: usize = 5;

/// `WriteBlockRequest.packet`, `Packet.data` and `Packet.checksums`.
const PACKET_FIELD: u32 = 2;
const DATA_FIELD: u32 = 3;
const CHECKSUMS_FIELD: u32 = 4;

/// Opens WriteBlock on `channel` with `requests` as the request stream (the
/// header first, then packets), as `DataTransferClient::write_block` does,
/// and returns the stream of acks.
pub async fn write_block<S>(
    channel: Channel,
    requests: S,
) -> Result<tonic::Response<Streaming<pb::PipelineAck>>, Status>
where
    S: Stream<Item = pb::WriteBlockRequest> + Send + Unpin + 'static,
{
    let mut channel = channel;
    std::future::poll_fn(|cx| channel.poll_ready(cx))
        .await
        .map_err(|e| Status::unavailable(format!("datanode connection: {e}")))?;
    let mut request = http::Request::new(tonic::body::Body::new(WriteBlockBody {
        requests,
        pending: VecDeque::new(),
    }));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = http::Uri::from_static(PATH);
    *request.version_mut() = http::Version::HTTP_2;
    let headers = request.headers_mut();
    headers.insert(TE, HeaderValue::from_static("trailers"));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    let response = channel
        .call(request)
        .await
        .map_err(|e| Status::from_error(Box::new(e)))?;
    let status_code = response.status();
    // A "trailers-only" answer: the call failed before any ack.
    let expect_trailers = match Status::from_header_map(response.headers()) {
        Some(status) if status.code() != tonic::Code::Ok => return Err(status),
        Some(_) => false,
        None => true,
    };
    let decoder =
        tonic_prost::ProstCodec::<pb::WriteBlockRequest, pb::PipelineAck>::default().decoder();
    let body = response.into_body();
    let acks = if expect_trailers {
        Streaming::new_response(decoder, body, status_code, None, Some(MAX_MESSAGE_SIZE))
    } else {
        Streaming::new_empty(decoder, body)
    };
    Ok(tonic::Response::new(acks))
}

/// The request body: each message as gRPC frames it, a packet's data and
/// checksums as chunks of their own.
struct WriteBlockBody<S> {
    requests: S,
    /// Chunks of the message being sent.
    pending: VecDeque<Bytes>,
}

impl<S> http_body::Body for WriteBlockBody<S>
where
    S: Stream<Item = pb::WriteBlockRequest> + Unpin,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        loop {
            if let Some(chunk) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(chunk))));
            }
            match ready!(Pin::new(&mut this.requests).poll_next(cx)) {
                None => return Poll::Ready(None),
                Some(request) => match encode(request) {
                    Ok(chunks) => this.pending.extend(chunks),
                    Err(status) => return Poll::Ready(Some(Err(status))),
                },
            }
        }
    }
}

/// One request as gRPC frames it on the wire, in chunks: a packet's data
/// and checksums are not copied.
fn encode(request: pb::WriteBlockRequest) -> Result<Vec<Bytes>, Status> {
    let packet = match request.message {
        Some(write_block_request::Message::Packet(packet)) => packet,
        message => {
            let request = pb::WriteBlockRequest { message };
            let len = request.encoded_len();
            let mut buf = BytesMut::with_capacity(MESSAGE_PREFIX + len);
            put_message_prefix(&mut buf, len)?;
            request
                .encode(&mut buf)
                .map_err(|e| Status::internal(format!("cannot encode a WriteBlock header: {e}")))?;
            return Ok(vec![buf.freeze()]);
        }
    };
    let pb::Packet {
        data, checksums, ..
    } = &packet;
    let (data, checksums) = (data.clone(), checksums.clone());
    // The packet without its two large fields (empty bytes are not encoded).
    let small = pb::Packet {
        data: Bytes::new(),
        checksums: Bytes::new(),
        ..packet
    };
    let packet_len = small.encoded_len()
        + bytes_field_len(DATA_FIELD, &data)
        + bytes_field_len(CHECKSUMS_FIELD, &checksums);
    let message_len = key_len(PACKET_FIELD) + encoded_len_varint(packet_len as u64) + packet_len;
    let mut head =
        BytesMut::with_capacity(MESSAGE_PREFIX + message_len - data.len() - checksums.len());
    put_message_prefix(&mut head, message_len)?;
    encode_key(PACKET_FIELD, WireType::LengthDelimited, &mut head);
    encode_varint(packet_len as u64, &mut head);
    small.encode_raw(&mut head);
    let mut chunks = Vec::with_capacity(4);
    if !data.is_empty() {
        encode_key(DATA_FIELD, WireType::LengthDelimited, &mut head);
        encode_varint(data.len() as u64, &mut head);
        chunks.push(head.split().freeze());
        chunks.push(data);
    }
    if !checksums.is_empty() {
        encode_key(CHECKSUMS_FIELD, WireType::LengthDelimited, &mut head);
        encode_varint(checksums.len() as u64, &mut head);
        chunks.push(head.split().freeze());
        chunks.push(checksums);
    }
    if !head.is_empty() {
        chunks.push(head.freeze());
    }
    Ok(chunks)
}

/// Encoded length of a `bytes` field (none when empty, as proto3 omits it).
fn bytes_field_len(tag: u32, value: &[u8]) -> usize {
    if value.is_empty() {
        0
    } else {
        key_len(tag) + encoded_len_varint(value.len() as u64) + value.len()
    }
}

/// gRPC's prefix of an uncompressed message of `len` bytes.
fn put_message_prefix(buf: &mut BytesMut, len: usize) -> Result<(), Status> {
    let len32 = u32::try_from(len)
        .ok()
        .filter(|_| len <= MAX_MESSAGE_SIZE)
        .ok_or_else(|| {
            Status::resource_exhausted(format!(
                "a WriteBlock message of {len} bytes is over the {MAX_MESSAGE_SIZE}-byte limit"
            ))
        })?;
    buf.put_u8(0);
    buf.put_u32(len32);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunks joined: one whole gRPC message.
    fn wire(request: pb::WriteBlockRequest) -> Vec<u8> {
        encode(request).unwrap().concat()
    }

    fn decode(wire: &[u8]) -> pb::WriteBlockRequest {
        let (prefix, body) = wire.split_at(MESSAGE_PREFIX);
        assert_eq!(prefix[0], 0, "uncompressed");
        let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
        assert_eq!(len, body.len());
        pb::WriteBlockRequest::decode(body).unwrap()
    }

    fn packet(data: Vec<u8>, checksums: Vec<u8>, last: bool) -> pb::WriteBlockRequest {
        pb::WriteBlockRequest {
            message: Some(write_block_request::Message::Packet(pb::Packet {
                seqno: 7,
                offset_in_block: 1 << 20,
                data: Bytes::from(data),
                checksums: Bytes::from(checksums),
                last_packet_in_block: last,
                sync: true,
            })),
        }
    }

    #[test]
    fn packets_decode_as_prost_encoded_them() {
        for request in [
            packet(vec![9; 200_000], vec![1, 2, 3, 4], false),
            packet(vec![5; 300], Vec::new(), false),
            packet(Vec::new(), Vec::new(), true),
        ] {
            let framed = wire(request.clone());
            assert_eq!(decode(&framed), request);
            // Same length as tonic's encoding: only the field order differs.
            assert_eq!(framed.len(), MESSAGE_PREFIX + request.encoded_len());
        }
    }

    #[test]
    fn packet_data_is_sent_without_a_copy() {
        let data = Bytes::from(vec![3u8; 4096]);
        let request = pb::WriteBlockRequest {
            message: Some(write_block_request::Message::Packet(pb::Packet {
                seqno: 1,
                data: data.clone(),
                ..Default::default()
            })),
        };
        let chunks = encode(request).unwrap();
        assert!(
            chunks
                .iter()
                .any(|c| c.as_ptr() == data.as_ptr() && c.len() == data.len())
        );
    }

    #[test]
    fn headers_are_encoded_whole() {
        let request = pb::WriteBlockRequest {
            message: Some(write_block_request::Message::Header(pb::WriteBlockHeader {
                client_name: "c".into(),
                bytes_per_checksum: 512,
                ..Default::default()
            })),
        };
        assert_eq!(decode(&wire(request.clone())), request);
    }
}
