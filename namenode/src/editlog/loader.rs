//! FSEditLogLoader: replays the segments after a checkpoint. A torn record
//! at the very end of the last segment is cut off with a warning (a crash
//! mid-write leaves exactly that); anything else stops start-up with the
//! file, the byte offset and what was wrong.

use std::fs::OpenOptions;
use std::path::Path;

use cairn_proto::pb;
use prost::Message;
use tracing::{info, warn};

use crate::editlog::frame::{Frame, FrameReader};
use crate::editlog::storage::{NnStorage, SegmentFile};
use crate::error::{NamenodeError, Result};

/// What replay found.
#[derive(Debug, Default)]
pub struct ReplayOutcome {
    pub last_txid: u64,
    pub records: u64,
    /// In-progress segments left by the previous run, with the last txid
    /// each holds (None when empty): they are finalized before writing on.
    pub in_progress: Vec<(SegmentFile, Option<u64>)>,
}

/// Applies every record with txid > `after_txid`, in order.
pub fn replay(
    storage: &NnStorage,
    after_txid: u64,
    mut apply: impl FnMut(pb::EditLogRecord) -> Result<()>,
) -> Result<ReplayOutcome> {
    let segments = storage.segments()?;
    let mut outcome = ReplayOutcome {
        last_txid: after_txid,
        ..ReplayOutcome::default()
    };
    let count = segments.len();
    for (i, segment) in segments.into_iter().enumerate() {
        let is_last = i + 1 == count;
        if segment.end_txid.is_some_and(|end| end <= outcome.last_txid) {
            continue;
        }
        if segment.start_txid > outcome.last_txid + 1 {
            return Err(NamenodeError::CorruptStorage {
                path: segment.path.clone(),
                detail: format!(
                    "transactions {} to {} are missing: no edit log segment holds them (this one starts at {})",
                    outcome.last_txid + 1,
                    segment.start_txid - 1,
                    segment.start_txid
                ),
            });
        }
        let last_in_segment = replay_segment(&segment, is_last, &mut outcome, &mut apply)?;
        if let Some(end) = segment.end_txid
            && outcome.last_txid < end
        {
            return Err(NamenodeError::CorruptEditLog {
                path: segment.path.clone(),
                offset: std::fs::metadata(&segment.path)
                    .map(|m| m.len())
                    .unwrap_or(0),
                detail: format!(
                    "the segment ends at txid {} but its name says {end}",
                    outcome.last_txid
                ),
            });
        }
        if segment.end_txid.is_none() {
            outcome.in_progress.push((segment, last_in_segment));
        }
    }
    Ok(outcome)
}

/// Replays one segment; returns the last txid it holds.
fn replay_segment(
    segment: &SegmentFile,
    is_last: bool,
    outcome: &mut ReplayOutcome,
    apply: &mut impl FnMut(pb::EditLogRecord) -> Result<()>,
) -> Result<Option<u64>> {
    let path = &segment.path;
    let data = std::fs::read(path)
        .map_err(|e| NamenodeError::io(format!("cannot read {}", path.display()), e))?;
    let mut reader = FrameReader::new(&data);
    let mut last_in_segment = None;
    let corrupt = |offset: u64, detail: String| NamenodeError::CorruptEditLog {
        path: path.clone(),
        offset,
        detail,
    };
    while let Some(frame) = reader.next_frame() {
        match frame {
            Frame::Record { offset, payload } => {
                let record = pb::EditLogRecord::decode(payload).map_err(|e| {
                    corrupt(
                        offset,
                        format!(
                            "cannot decode a record of {} bytes (txid after {}): {e}",
                            payload.len(),
                            outcome.last_txid
                        ),
                    )
                })?;
                last_in_segment = Some(record.txid);
                if record.txid <= outcome.last_txid {
                    // Already in the checkpoint.
                    continue;
                }
                if record.txid != outcome.last_txid + 1 {
                    return Err(corrupt(
                        offset,
                        format!(
                            "transaction {} follows {}: transactions are missing",
                            record.txid, outcome.last_txid
                        ),
                    ));
                }
                let txid = record.txid;
                apply(record).map_err(|e| {
                    corrupt(offset, format!("cannot apply transaction {txid}: {e}"))
                })?;
                outcome.last_txid = txid;
                outcome.records += 1;
            }
            Frame::TornTail { offset, reason } => {
                if !is_last || segment.end_txid.is_some() {
                    return Err(corrupt(
                        offset,
                        format!(
                            "{reason} (txid after {}) in a segment that is not the last",
                            outcome.last_txid
                        ),
                    ));
                }
                warn!(
                    file = %path.display(),
                    offset,
                    dropped_bytes = data.len() as u64 - offset,
                    "cutting off a torn record at the end of the edit log: {reason}"
                );
                truncate(path, offset)?;
                break;
            }
            Frame::Corrupt { offset, detail } => {
                return Err(corrupt(
                    offset,
                    format!("{detail} (txid after {})", outcome.last_txid),
                ));
            }
        }
    }
    if outcome.records > 0 {
        info!(file = %path.display(), last_txid = outcome.last_txid, "replayed edit log segment");
    }
    Ok(last_in_segment)
}

fn truncate(path: &Path, len: u64) -> Result<()> {
    let file = OpenOptions::new().write(true).open(path).map_err(|e| {
        NamenodeError::io(
            format!("cannot open {} to cut its torn tail", path.display()),
            e,
        )
    })?;
    file.set_len(len)
        .and_then(|()| file.sync_all())
        .map_err(|e| {
            NamenodeError::io(format!("cannot cut the torn tail of {}", path.display()), e)
        })
}

/// Renames leftover in-progress segments to finalized ones (or removes
/// empty ones), so the new run starts a fresh segment after them.
pub fn finalize_leftovers(
    storage: &NnStorage,
    leftovers: Vec<(SegmentFile, Option<u64>)>,
) -> Result<()> {
    for (segment, last) in leftovers {
        match last {
            Some(end) if end >= segment.start_txid => {
                let done = storage.finalized_path(segment.start_txid, end);
                std::fs::rename(&segment.path, &done).map_err(|e| {
                    NamenodeError::io(format!("cannot finalize {}", segment.path.display()), e)
                })?;
            }
            _ => std::fs::remove_file(&segment.path).map_err(|e| {
                NamenodeError::io(
                    format!("cannot remove empty segment {}", segment.path.display()),
                    e,
                )
            })?,
        }
    }
    storage.sync_dir()
}
