//! The client's one error type: a namenode or datanode RPC that failed with a
//! typed [`RpcError`], or a failure of the data path that the client itself
//! detected (no replica could serve a block, a checksum did not match, a
//! write pipeline broke).

use cairn_proto::{ErrorKind, RpcError};

/// Everything a [`crate::DfsClient`] call can fail with. `Display` is the
/// message of the peer that refused (for [`DfsError::Rpc`]) or a sentence
/// naming the block, file and datanode involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DfsError {
    /// The namenode (or a datanode) answered with an error.
    #[error("{0}")]
    Rpc(#[from] RpcError),

    /// The namenode address in the configuration cannot be used.
    #[error("invalid namenode address `{address}': {reason}")]
    InvalidAddress { address: String, reason: String },

    /// A caller-supplied argument was refused before anything was sent.
    #[error("{0}")]
    InvalidArgument(String),

    /// Every replica of a block failed to serve it, even after the locations
    /// were fetched again.
    #[error("all replicas failed for block blk_{block_id} of {path}: {last_error}")]
    AllReplicasFailed {
        block_id: u64,
        path: String,
        last_error: String,
    },

    /// A replica's data did not match its chunk checksums.
    #[error("checksum mismatch at offset {offset} of blk_{block_id} on {datanode}")]
    ChecksumMismatch {
        block_id: u64,
        offset: u64,
        datanode: String,
    },

    /// The write pipeline of a block failed; `datanode` is the first bad link.
    #[error("pipeline failure for blk_{block_id} of {path} at datanode {datanode}: {message}")]
    Pipeline {
        block_id: u64,
        path: String,
        datanode: String,
        message: String,
    },

    /// Pipeline recovery ran out of datanodes: every one of the block's
    /// pipeline failed (HDFS's "All datanodes ... are bad. Aborting...").
    #[error(
        "All datanodes {datanodes:?} are bad. Aborting... (blk_{block_id} of {path}; last error: {cause})"
    )]
    AllDatanodesBad {
        block_id: u64,
        path: String,
        datanodes: Vec<String>,
        cause: Box<DfsError>,
    },

    /// A datanode broke the data-transfer protocol (a packet out of order, a
    /// missing field).
    #[error("protocol error from {peer}: {message}")]
    Protocol { peer: String, message: String },

    /// A datanode did not answer within the RPC timeout.
    #[error("timed out after {timeout_ms} ms waiting for {peer} ({what})")]
    TimedOut {
        peer: String,
        what: String,
        timeout_ms: u64,
    },

    /// The file ended before the requested range (a positional read that had
    /// to be filled completely).
    #[error("{path}: end of file at offset {length}, wanted {wanted} bytes at offset {offset}")]
    UnexpectedEof {
        path: String,
        offset: u64,
        wanted: u64,
        length: u64,
    },

    /// The namenode kept answering "not yet" (block not replicated yet, file
    /// not complete yet) for longer than the client is willing to wait.
    #[error("{path}: gave up after {attempts} attempts: {what}")]
    RetriesExhausted {
        path: String,
        attempts: u32,
        what: String,
    },

    /// The writer already failed; it cannot be used any more.
    #[error("{path}: the writer failed earlier: {cause}")]
    WriterFailed { path: String, cause: Box<DfsError> },
}

impl DfsError {
    /// What went wrong, in the terms of [`ErrorKind`], so that callers (the
    /// CLI's exit codes, FUSE's errno, S3's error codes) can tell the cases
    /// apart without parsing text.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Rpc(err) => err.kind,
            Self::InvalidAddress { .. } | Self::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Self::AllReplicasFailed { .. }
            | Self::Pipeline { .. }
            | Self::AllDatanodesBad { .. }
            | Self::UnexpectedEof { .. } => ErrorKind::Io,
            Self::ChecksumMismatch { .. } => ErrorKind::ChecksumMismatch,
            Self::Protocol { .. } => ErrorKind::Internal,
            Self::TimedOut { .. } => ErrorKind::TimedOut,
            Self::RetriesExhausted { .. } => ErrorKind::TimedOut,
            Self::WriterFailed { cause, .. } => cause.kind(),
        }
    }
}

impl From<tonic::Status> for DfsError {
    fn from(status: tonic::Status) -> Self {
        Self::Rpc(RpcError::from(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_keeps_kind_and_message() {
        let status: tonic::Status =
            RpcError::new(ErrorKind::NotFound, "File does not exist: /a").into();
        let err = DfsError::from(status);
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(err.to_string(), "File does not exist: /a");
    }

    #[test]
    fn transport_failure_is_unavailable() {
        let err = DfsError::from(tonic::Status::unavailable("tcp connect error"));
        assert_eq!(err.kind(), ErrorKind::Unavailable);
    }

    #[test]
    fn data_path_errors_name_block_and_node() {
        let err = DfsError::ChecksumMismatch {
            block_id: 7,
            offset: 1024,
            datanode: "127.0.0.1:9866".into(),
        };
        assert_eq!(err.kind(), ErrorKind::ChecksumMismatch);
        assert_eq!(
            err.to_string(),
            "checksum mismatch at offset 1024 of blk_7 on 127.0.0.1:9866"
        );
        let failed = DfsError::WriterFailed {
            path: "/f".into(),
            cause: Box::new(err),
        };
        assert_eq!(failed.kind(), ErrorKind::ChecksumMismatch);
    }
}
