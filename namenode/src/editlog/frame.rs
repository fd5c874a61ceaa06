//! The framing shared by edit log segments and checkpoints:
//! `u32 length | u32 crc32(payload) | payload`, big-endian. Reading tells a
//! torn tail (what a crash mid-write leaves) from real damage.

/// Bytes before each payload.
pub const HEADER_LEN: usize = 8;
/// No record is anywhere near this big; a larger length is garbage.
pub const MAX_RECORD_LEN: usize = 64 * 1024 * 1024;

pub fn encode(payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_be_bytes());
    out.extend_from_slice(payload);
}

/// What the reader found at an offset.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Record {
        offset: u64,
        payload: &'a [u8],
    },
    /// The end of what a crash could have left half-written: everything
    /// from `offset` on may be cut off.
    TornTail {
        offset: u64,
        reason: String,
    },
    /// Damage that a crash cannot explain.
    Corrupt {
        offset: u64,
        detail: String,
    },
}

pub struct FrameReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> FrameReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    pub fn offset(&self) -> u64 {
        self.pos as u64
    }

    /// Whether a whole, valid record starts anywhere after `from`. A crash
    /// leaves nothing valid behind the record it tore, so a damaged length
    /// or checksum with a valid record after it is damage, not a torn tail
    /// (a bit flip in a length field would otherwise silently drop every
    /// record after it).
    fn valid_record_after(&self, from: usize) -> bool {
        (from + 1..self.data.len().saturating_sub(HEADER_LEN)).any(|at| {
            let header = &self.data[at..at + HEADER_LEN];
            let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let end = at + HEADER_LEN + len;
            len != 0
                && end <= self.data.len()
                && crc32fast::hash(&self.data[at + HEADER_LEN..end])
                    == u32::from_be_bytes([header[4], header[5], header[6], header[7]])
        })
    }

    fn zeros_from(&self, from: usize) -> bool {
        self.data
            .get(from..)
            .is_none_or(|rest| rest.iter().all(|&b| b == 0))
    }

    /// The next frame, or None at a clean end.
    pub fn next_frame(&mut self) -> Option<Frame<'a>> {
        let pos = self.pos;
        let rest = self.data.len() - pos;
        if rest == 0 {
            return None;
        }
        let offset = pos as u64;
        if rest < HEADER_LEN {
            self.pos = self.data.len();
            return Some(Frame::TornTail {
                offset,
                reason: format!("a record header cut short ({rest} of {HEADER_LEN} bytes)"),
            });
        }
        let header = &self.data[pos..pos + HEADER_LEN];
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        self.pos = self.data.len();
        if len == 0 {
            return Some(if self.zeros_from(pos) {
                Frame::TornTail {
                    offset,
                    reason: "zero padding".into(),
                }
            } else {
                Frame::Corrupt {
                    offset,
                    detail: "a record of length 0".into(),
                }
            });
        }
        let end = pos + HEADER_LEN + len;
        if len > MAX_RECORD_LEN || end > self.data.len() {
            return Some(if self.valid_record_after(pos) {
                Frame::Corrupt {
                    offset,
                    detail: format!(
                        "a record length of {len} bytes runs past the end of the file, \
                         yet valid records follow"
                    ),
                }
            } else {
                Frame::TornTail {
                    offset,
                    reason: format!("a record of {len} bytes runs past the end of the file"),
                }
            });
        }
        let payload = &self.data[pos + HEADER_LEN..end];
        if crc32fast::hash(payload) != crc {
            return Some(if self.zeros_from(end) {
                Frame::TornTail {
                    offset,
                    reason: format!("checksum mismatch in the last record ({len} bytes)"),
                }
            } else {
                Frame::Corrupt {
                    offset,
                    detail: format!("checksum mismatch in a record of {len} bytes"),
                }
            });
        }
        self.pos = end;
        Some(Frame::Record { offset, payload })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_records() -> Vec<u8> {
        let mut out = Vec::new();
        encode(b"hello", &mut out);
        encode(b"world!", &mut out);
        out
    }

    #[test]
    fn reads_back_records() {
        let data = two_records();
        let mut r = FrameReader::new(&data);
        assert_eq!(
            r.next_frame(),
            Some(Frame::Record {
                offset: 0,
                payload: b"hello"
            })
        );
        assert_eq!(
            r.next_frame(),
            Some(Frame::Record {
                offset: 13,
                payload: b"world!"
            })
        );
        assert_eq!(r.next_frame(), None);
    }

    #[test]
    fn torn_tails() {
        let data = two_records();
        // Cut inside the second record's payload: length runs past EOF.
        let cut = &data[..data.len() - 2];
        let mut r = FrameReader::new(cut);
        r.next_frame();
        assert!(matches!(
            r.next_frame(),
            Some(Frame::TornTail { offset: 13, .. })
        ));
        // Cut inside the header.
        let mut r = FrameReader::new(&data[..16]);
        r.next_frame();
        assert!(matches!(
            r.next_frame(),
            Some(Frame::TornTail { offset: 13, .. })
        ));
        // Last record's payload garbled, then zeros.
        let mut garbled = data.clone();
        let n = garbled.len();
        garbled[n - 1] ^= 1;
        garbled.extend_from_slice(&[0; 32]);
        let mut r = FrameReader::new(&garbled);
        r.next_frame();
        assert!(matches!(
            r.next_frame(),
            Some(Frame::TornTail { offset: 13, .. })
        ));
    }

    #[test]
    fn mid_file_damage_is_corruption() {
        let mut data = two_records();
        data[10] ^= 1; // inside "hello"
        let mut r = FrameReader::new(&data);
        assert_eq!(
            r.next_frame(),
            Some(Frame::Corrupt {
                offset: 0,
                detail: "checksum mismatch in a record of 5 bytes".into()
            })
        );
    }

    #[test]
    fn a_damaged_length_before_valid_records_is_corruption() {
        let mut data = two_records();
        let mut third = Vec::new();
        encode(b"third record", &mut third);
        data.extend_from_slice(&third);
        // The second record's length now points far past the end of the file.
        data[13] ^= 0x40;
        let mut r = FrameReader::new(&data);
        r.next_frame();
        assert!(matches!(
            r.next_frame(),
            Some(Frame::Corrupt { offset: 13, .. })
        ));
    }
}
