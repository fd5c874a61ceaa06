//! The typed error of every Cairn RPC, and its one mapping to and from
//! `tonic::Status`.

use crate::pb::ErrorCode;

/// Metadata key that carries the [`ErrorCode`] number of a failed call.
pub const ERROR_CODE_METADATA: &str = "cairn-error-code";

/// What went wrong, in terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    PermissionDenied,
    NotADirectory,
    IsADirectory,
    DirectoryNotEmpty,
    SafeMode,
    LeaseConflict,
    LeaseExpired,
    InvalidArgument,
    InvalidPath,
    NotEnoughReplicas,
    NotReplicatedYet,
    ChecksumMismatch,
    ReplicaNotFound,
    StaleGenerationStamp,
    ClusterIdMismatch,
    UnregisteredDatanode,
    NoSpace,
    XAttrNotFound,
    Io,
    Internal,
    /// The peer could not be reached or went away (no Cairn code attached).
    Unavailable,
    /// The call took longer than its deadline.
    TimedOut,
}

impl ErrorKind {
    pub(crate) fn to_code(self) -> (ErrorCode, tonic::Code) {
        use tonic::Code;
        match self {
            Self::NotFound => (ErrorCode::NotFound, Code::NotFound),
            Self::AlreadyExists => (ErrorCode::AlreadyExists, Code::AlreadyExists),
            Self::PermissionDenied => (ErrorCode::PermissionDenied, Code::PermissionDenied),
            Self::NotADirectory => (ErrorCode::NotADirectory, Code::FailedPrecondition),
            Self::IsADirectory => (ErrorCode::IsADirectory, Code::FailedPrecondition),
            Self::DirectoryNotEmpty => (ErrorCode::DirectoryNotEmpty, Code::FailedPrecondition),
            Self::SafeMode => (ErrorCode::SafeMode, Code::Unavailable),
            Self::LeaseConflict => (ErrorCode::LeaseConflict, Code::FailedPrecondition),
            Self::LeaseExpired => (ErrorCode::LeaseExpired, Code::FailedPrecondition),
            Self::InvalidArgument => (ErrorCode::InvalidArgument, Code::InvalidArgument),
            Self::InvalidPath => (ErrorCode::InvalidPath, Code::InvalidArgument),
            Self::NotEnoughReplicas => (ErrorCode::NotEnoughReplicas, Code::ResourceExhausted),
            Self::NotReplicatedYet => (ErrorCode::NotReplicatedYet, Code::Unavailable),
            Self::ChecksumMismatch => (ErrorCode::ChecksumMismatch, Code::DataLoss),
            Self::ReplicaNotFound => (ErrorCode::ReplicaNotFound, Code::NotFound),
            Self::StaleGenerationStamp => (ErrorCode::StaleGenerationStamp, Code::Aborted),
            Self::ClusterIdMismatch => (ErrorCode::ClusterIdMismatch, Code::FailedPrecondition),
            Self::UnregisteredDatanode => (ErrorCode::UnregisteredDatanode, Code::Unauthenticated),
            Self::NoSpace => (ErrorCode::NoSpace, Code::ResourceExhausted),
            Self::XAttrNotFound => (ErrorCode::XattrNotFound, Code::NotFound),
            Self::Io => (ErrorCode::IoError, Code::Internal),
            Self::Internal => (ErrorCode::Internal, Code::Internal),
            Self::Unavailable => (ErrorCode::Unspecified, Code::Unavailable),
            Self::TimedOut => (ErrorCode::Unspecified, Code::DeadlineExceeded),
        }
    }

    pub(crate) fn from_code(code: ErrorCode) -> Option<Self> {
        Some(match code {
            ErrorCode::Unspecified => return None,
            ErrorCode::NotFound => Self::NotFound,
            ErrorCode::AlreadyExists => Self::AlreadyExists,
            ErrorCode::PermissionDenied => Self::PermissionDenied,
            ErrorCode::NotADirectory => Self::NotADirectory,
            ErrorCode::IsADirectory => Self::IsADirectory,
            ErrorCode::DirectoryNotEmpty => Self::DirectoryNotEmpty,
            ErrorCode::SafeMode => Self::SafeMode,
            ErrorCode::LeaseConflict => Self::LeaseConflict,
            ErrorCode::LeaseExpired => Self::LeaseExpired,
            ErrorCode::InvalidArgument => Self::InvalidArgument,
            ErrorCode::InvalidPath => Self::InvalidPath,
            ErrorCode::NotEnoughReplicas => Self::NotEnoughReplicas,
            ErrorCode::NotReplicatedYet => Self::NotReplicatedYet,
            ErrorCode::ChecksumMismatch => Self::ChecksumMismatch,
            ErrorCode::ReplicaNotFound => Self::ReplicaNotFound,
            ErrorCode::StaleGenerationStamp => Self::StaleGenerationStamp,
            ErrorCode::ClusterIdMismatch => Self::ClusterIdMismatch,
            ErrorCode::UnregisteredDatanode => Self::UnregisteredDatanode,
            ErrorCode::NoSpace => Self::NoSpace,
            ErrorCode::XattrNotFound => Self::XAttrNotFound,
            ErrorCode::IoError => Self::Io,
            ErrorCode::Internal => Self::Internal,
        })
    }

    /// For a status that carries no Cairn code (a transport failure, or a
    /// peer that is not Cairn).
    fn from_grpc(code: tonic::Code) -> Self {
        use tonic::Code;
        match code {
            Code::NotFound => Self::NotFound,
            Code::AlreadyExists => Self::AlreadyExists,
            Code::PermissionDenied | Code::Unauthenticated => Self::PermissionDenied,
            Code::InvalidArgument | Code::OutOfRange => Self::InvalidArgument,
            Code::Unavailable | Code::Cancelled | Code::Aborted => Self::Unavailable,
            Code::DeadlineExceeded => Self::TimedOut,
            Code::ResourceExhausted => Self::NoSpace,
            Code::DataLoss => Self::ChecksumMismatch,
            _ => Self::Internal,
        }
    }
}

/// A failed Cairn RPC: its kind and a message that names what was wrong and
/// where (the path, the user, the datanode).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RpcError {
    pub kind: ErrorKind,
    pub message: String,
}

impl RpcError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<RpcError> for tonic::Status {
    fn from(err: RpcError) -> Self {
        let (code, grpc) = err.kind.to_code();
        let mut status = tonic::Status::new(grpc, err.message);
        if code != ErrorCode::Unspecified {
            status
                .metadata_mut()
                .insert(ERROR_CODE_METADATA, (code as i32).into());
        }
        status
    }
}

impl From<tonic::Status> for RpcError {
    fn from(status: tonic::Status) -> Self {
        let coded = error_code(&status).and_then(ErrorKind::from_code);
        let kind = coded.unwrap_or_else(|| ErrorKind::from_grpc(status.code()));
        Self {
            kind,
            message: status.message().to_string(),
        }
    }
}

/// The Cairn code a status carries in its `cairn-error-code` metadata.
pub(crate) fn error_code(status: &tonic::Status) -> Option<ErrorCode> {
    status
        .metadata()
        .get(ERROR_CODE_METADATA)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .and_then(|v| ErrorCode::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_survives_the_status() {
        for kind in [
            ErrorKind::NotFound,
            ErrorKind::DirectoryNotEmpty,
            ErrorKind::SafeMode,
            ErrorKind::LeaseConflict,
            ErrorKind::ClusterIdMismatch,
        ] {
            let status: tonic::Status = RpcError::new(kind, "`/a': boom").into();
            let back = RpcError::from(status);
            assert_eq!(back.kind, kind);
            assert_eq!(back.message, "`/a': boom");
        }
    }

    #[test]
    fn plain_status_maps_by_grpc_code() {
        let back = RpcError::from(tonic::Status::unavailable("tcp connect error"));
        assert_eq!(back.kind, ErrorKind::Unavailable);
    }
}
