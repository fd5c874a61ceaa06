//! The datanode's one error type, and its one mapping to the wire
//! ([`RpcError`], which alone becomes a `tonic::Status`).

use std::path::PathBuf;

use cairn_proto::{ErrorKind, RpcError};

/// Everything that can go wrong in the datanode.
#[derive(Debug, thiserror::Error)]
pub enum DatanodeError {
    /// The configuration is unusable; the message names the key.
    #[error("invalid datanode configuration: {0}")]
    Config(String),

    /// A file or directory could not be read or written.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A volume cannot be used at all (missing permissions, read-only disk).
    #[error("failed volume {}: {reason}", path.display())]
    VolumeFailed { path: PathBuf, reason: String },

    /// A volume was formatted for another cluster (HDFS's wording).
    #[error(
        "Incompatible clusterIDs in {}: namenode clusterID = {namenode}; datanode clusterID = {datanode}",
        dir.display()
    )]
    IncompatibleClusterIds {
        dir: PathBuf,
        namenode: String,
        datanode: String,
    },

    /// A storage directory's VERSION file or layout is not what we wrote.
    #[error("inconsistent storage {}: {reason}", path.display())]
    InconsistentStorage { path: PathBuf, reason: String },

    /// No replica of this block on this datanode.
    #[error("replica not found: blk_{block_id}{detail}")]
    ReplicaNotFound { block_id: u64, detail: String },

    /// A replica of this block already exists at the same or a newer
    /// generation stamp.
    #[error(
        "replica blk_{block_id}_{existing_gs} already exists (asked for generation stamp {requested_gs})"
    )]
    ReplicaAlreadyExists {
        block_id: u64,
        existing_gs: u64,
        requested_gs: u64,
    },

    /// The replica's generation stamp does not fit the request.
    #[error("stale generation stamp for blk_{block_id}: {detail}")]
    StaleGenerationStamp { block_id: u64, detail: String },

    /// A request that cannot be served as asked (range, stage, length).
    #[error("{0}")]
    InvalidArgument(String),

    /// Data did not match its checksum.
    #[error("checksum mismatch in blk_{block_id} at offset {offset}")]
    ChecksumMismatch { block_id: u64, offset: u64 },

    /// No volume has room for a new replica.
    #[error("no volume has room for blk_{block_id}")]
    NoSpace { block_id: u64 },

    /// The replica was taken over (recovery, deletion) while being written.
    #[error("blk_{block_id} is no longer written by this stream: {reason}")]
    WriterPreempted { block_id: u64, reason: String },

    /// A call to the namenode or another datanode failed.
    #[error("{context}: {source}")]
    Rpc {
        context: String,
        #[source]
        source: RpcError,
    },

    /// The DataTransfer server failed.
    #[error("data transfer server failed: {0}")]
    Serve(#[source] tonic::transport::Error),

    /// A blocking task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
}

impl DatanodeError {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps a failed RPC with what we were doing.
    pub(crate) fn rpc(context: impl Into<String>, source: impl Into<RpcError>) -> Self {
        Self::Rpc {
            context: context.into(),
            source: source.into(),
        }
    }

    /// The kind a remote caller sees.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Config(_) | Self::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Self::Io { source, .. } if source.raw_os_error() == Some(nix::libc::ENOSPC) => {
                ErrorKind::NoSpace
            }
            Self::Io { .. } | Self::VolumeFailed { .. } | Self::InconsistentStorage { .. } => {
                ErrorKind::Io
            }
            Self::IncompatibleClusterIds { .. } => ErrorKind::ClusterIdMismatch,
            Self::ReplicaNotFound { .. } => ErrorKind::ReplicaNotFound,
            Self::ReplicaAlreadyExists { .. } => ErrorKind::AlreadyExists,
            Self::StaleGenerationStamp { .. } | Self::WriterPreempted { .. } => {
                ErrorKind::StaleGenerationStamp
            }
            Self::ChecksumMismatch { .. } => ErrorKind::ChecksumMismatch,
            Self::NoSpace { .. } => ErrorKind::NoSpace,
            Self::Rpc { source, .. } => source.kind,
            Self::Serve(_) | Self::Task(_) => ErrorKind::Internal,
        }
    }
}

impl From<DatanodeError> for RpcError {
    fn from(err: DatanodeError) -> Self {
        RpcError::new(err.kind(), err.to_string())
    }
}

impl From<tokio::task::JoinError> for DatanodeError {
    fn from(err: tokio::task::JoinError) -> Self {
        Self::Task(err.to_string())
    }
}

/// Result of the datanode's fallible operations.
pub type Result<T, E = DatanodeError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_id_message_is_hdfs_wording() {
        let err = DatanodeError::IncompatibleClusterIds {
            dir: PathBuf::from("/data/dn1"),
            namenode: "CID-b".into(),
            datanode: "CID-a".into(),
        };
        assert_eq!(
            err.to_string(),
            "Incompatible clusterIDs in /data/dn1: namenode clusterID = CID-b; datanode clusterID = CID-a"
        );
        assert_eq!(err.kind(), ErrorKind::ClusterIdMismatch);
    }

    #[test]
    fn kinds_survive_to_the_wire() {
        let err = DatanodeError::ReplicaNotFound {
            block_id: 7,
            detail: String::new(),
        };
        let status: tonic::Status = RpcError::from(err).into();
        assert_eq!(RpcError::from(status).kind, ErrorKind::ReplicaNotFound);
    }
}
