//! The namenode's one error type. Namespace and block errors carry the
//! message the caller sees (HDFS's wording, naming the path); start-up and
//! disk errors say which file and what to do. The only way out to the wire is
//! `From<NamenodeError> for RpcError`.

use std::path::PathBuf;

use cairn_proto::{ErrorKind, RpcError};

#[derive(Debug, thiserror::Error)]
pub enum NamenodeError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotADirectory(String),
    #[error("{0}")]
    IsADirectory(String),
    #[error("{0}")]
    DirectoryNotEmpty(String),
    #[error("{0}")]
    SafeMode(String),
    #[error("{0}")]
    LeaseConflict(String),
    #[error("{0}")]
    LeaseExpired(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidPath(String),
    #[error("{0}")]
    NotEnoughReplicas(String),
    #[error("{0}")]
    NotReplicatedYet(String),
    #[error("{0}")]
    StaleGenerationStamp(String),
    #[error("{0}")]
    ClusterIdMismatch(String),
    #[error("{0}")]
    UnregisteredDatanode(String),
    #[error("{0}")]
    XAttrNotFound(String),

    /// The configuration cannot work; the message names the key.
    #[error("invalid namenode configuration: {0}")]
    Config(String),
    /// `start` on a directory `format` never prepared.
    #[error(
        "{} holds no formatted namespace (no current/VERSION); run `cairn namenode -format` first",
        .0.display()
    )]
    NotFormatted(PathBuf),
    /// `format` on a directory that already holds a namespace.
    #[error(
        "{} already holds a namespace; refusing to format it (pass force to wipe it)",
        .0.display()
    )]
    AlreadyFormatted(PathBuf),
    /// Damage in the edit log that is not a torn tail.
    #[error(
        "edit log {} is corrupt at offset {offset}: {detail}; refusing to start. Restore the file or remove the damaged records to start with what precedes them.",
        .path.display()
    )]
    CorruptEditLog {
        path: PathBuf,
        offset: u64,
        detail: String,
    },
    /// A checkpoint or VERSION file that cannot be read.
    #[error("{} is corrupt: {detail}", .path.display())]
    CorruptStorage { path: PathBuf, detail: String },
    /// A file system call failed; `context` says on what.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl NamenodeError {
    /// An I/O error with what was being done and on which file.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = NamenodeError> = std::result::Result<T, E>;

impl From<NamenodeError> for RpcError {
    fn from(err: NamenodeError) -> Self {
        use NamenodeError as E;
        let kind = match &err {
            E::NotFound(_) => ErrorKind::NotFound,
            E::AlreadyExists(_) => ErrorKind::AlreadyExists,
            E::PermissionDenied(_) => ErrorKind::PermissionDenied,
            E::NotADirectory(_) => ErrorKind::NotADirectory,
            E::IsADirectory(_) => ErrorKind::IsADirectory,
            E::DirectoryNotEmpty(_) => ErrorKind::DirectoryNotEmpty,
            E::SafeMode(_) => ErrorKind::SafeMode,
            E::LeaseConflict(_) => ErrorKind::LeaseConflict,
            E::LeaseExpired(_) => ErrorKind::LeaseExpired,
            E::InvalidArgument(_) | E::Config(_) => ErrorKind::InvalidArgument,
            E::InvalidPath(_) => ErrorKind::InvalidPath,
            E::NotEnoughReplicas(_) => ErrorKind::NotEnoughReplicas,
            E::NotReplicatedYet(_) => ErrorKind::NotReplicatedYet,
            E::StaleGenerationStamp(_) => ErrorKind::StaleGenerationStamp,
            E::ClusterIdMismatch(_) => ErrorKind::ClusterIdMismatch,
            E::UnregisteredDatanode(_) => ErrorKind::UnregisteredDatanode,
            E::XAttrNotFound(_) => ErrorKind::XAttrNotFound,
            E::Io { .. } | E::CorruptEditLog { .. } | E::CorruptStorage { .. } => ErrorKind::Io,
            E::NotFormatted(_) | E::AlreadyFormatted(_) | E::Transport(_) | E::Internal(_) => {
                ErrorKind::Internal
            }
        };
        RpcError::new(kind, err.to_string())
    }
}

impl From<NamenodeError> for tonic::Status {
    fn from(err: NamenodeError) -> Self {
        RpcError::from(err).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_reach_the_wire() {
        let rpc = RpcError::from(NamenodeError::DirectoryNotEmpty(
            "`/d is non empty': Directory is not empty".into(),
        ));
        assert_eq!(rpc.kind, ErrorKind::DirectoryNotEmpty);
        assert_eq!(rpc.message, "`/d is non empty': Directory is not empty");
    }

    #[test]
    fn corrupt_log_message_names_file_and_offset() {
        let err = NamenodeError::CorruptEditLog {
            path: "/d/current/edits_inprogress_0000000000000000001".into(),
            offset: 4711,
            detail: "checksum mismatch in a record of 83 bytes (txid after 41)".into(),
        };
        let text = err.to_string();
        assert!(text.starts_with(
            "edit log /d/current/edits_inprogress_0000000000000000001 is corrupt at offset 4711: checksum mismatch"
        ));
        assert!(text.contains("refusing to start"));
    }
}
