//! The gRPC codec of every Cairn service: prost's messages, moved in and
//! out of tonic's buffers whole rather than byte by byte.
//!
//! * Encoding: prost writes a varint a byte at a time through
//!   `BufMut::put_u8`. Tonic's `EncodeBuf` forwards each of those to
//!   `BytesMut::put_slice`, which checks capacity and calls `memcpy` for
//!   one byte; a `Vec` pushes it inline. So a message is encoded into a
//!   `Vec` first and copied to tonic's buffer in one `put_slice`.
//! * Decoding: each field read through tonic's `DecodeBuf` advances the
//!   `BytesMut` below it out of line. The message's bytes are taken as one
//!   `Bytes` (no copy) and decoded from that, whose advance is a pointer
//!   bump; `bytes` fields stay slices of it, as before.
//!
//! Both costs are paid per call by every RPC and never by the in-process
//! handlers: for a namenode answer of a dozen small fields, encoding alone
//! was 3–5% of the RPC reader's CPU (`put_slice` and the `memmove` under it
//! in a profile of `nn-ops --rpc` fileStatus).

use std::marker::PhantomData;

use bytes::{Buf, BufMut};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// An encoder keeps its buffer between the messages of a stream, but not
/// one grown past this by a rare large message (a big listing or report).
const KEPT_BUFFER: usize = 64 * 1024;

/// prost messages over gRPC, encoded through a `Vec` and decoded from one
/// `Bytes` (see the module doc).
pub struct PbCodec<T, U> {
    _types: PhantomData<(T, U)>,
}

impl<T, U> Default for PbCodec<T, U> {
    fn default() -> Self {
        Self {
            _types: PhantomData,
        }
    }
}

impl<T, U> Codec for PbCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = PbEncoder<T>;
    type Decoder = PbDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        PbEncoder {
            scratch: Vec::new(),
            _type: PhantomData,
        }
    }

    fn decoder(&mut self) -> Self::Decoder {
        PbDecoder { _type: PhantomData }
    }
}

/// Decodes each message from its bytes taken whole (see the module doc).
pub struct PbDecoder<U> {
    _type: PhantomData<U>,
}

impl<U: prost::Message + Default> Decoder for PbDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let message = buf.copy_to_bytes(buf.remaining());
        U::decode(message)
            .map(Some)
            // What gRPC's status codes name for a message that does not
            // parse, as tonic's own prost codec answers.
            .map_err(|e| Status::internal(format!("malformed protobuf message: {e}")))
    }
}

/// Encodes each message into `scratch`, then copies it into tonic's buffer.
pub struct PbEncoder<T> {
    scratch: Vec<u8>,
    _type: PhantomData<T>,
}

impl<T: prost::Message> Encoder for PbEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(self.encoded(&item));
        self.trim();
        Ok(())
    }
}

impl<T: prost::Message> PbEncoder<T> {
    /// `item`'s protobuf encoding, in the scratch buffer.
    fn encoded(&mut self, item: &T) -> &[u8] {
        self.scratch.clear();
        item.encode_raw(&mut self.scratch);
        &self.scratch
    }

    /// Lets go of a buffer a large message grew.
    fn trim(&mut self) {
        if self.scratch.capacity() > KEPT_BUFFER {
            self.scratch = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;
    use prost::Message;

    /// What goes to tonic is exactly prost's encoding, also after a message
    /// that grew the buffer past what is kept (every RPC test covers the
    /// codec end to end).
    #[test]
    fn encodes_as_prost_does_and_lets_a_large_buffer_go() {
        let status = |name: String| pb::GetFileInfoResponse {
            status: Some(pb::FileStatus {
                inode_id: 1 << 40,
                name,
                owner: "alice".into(),
                length: 300,
                ..Default::default()
            }),
        };
        let mut encoder =
            PbCodec::<pb::GetFileInfoResponse, pb::GetFileInfoResponse>::default().encoder();
        for message in [status("x".repeat(KEPT_BUFFER + 1)), status("f1".into())] {
            assert_eq!(encoder.encoded(&message), &message.encode_to_vec()[..]);
            encoder.trim();
            assert!(encoder.scratch.capacity() <= KEPT_BUFFER);
        }
    }
}
