//! The crate's one error type (what can stop a mount from starting or
//! ending), and the one place where client errors become errnos.

use std::path::PathBuf;

use cairn_client::{DfsError, ErrorKind};
use fuser::Errno;

/// Why a mount could not be set up or taken down.
#[derive(Debug, thiserror::Error)]
pub enum FuseError {
    #[error("mount point {0} does not exist (create it with mkdir first)")]
    MountPointMissing(PathBuf),

    #[error("mount point {0} is not a directory")]
    MountPointNotADirectory(PathBuf),

    #[error("mount point {0} is not empty (mount over an empty directory)")]
    MountPointNotEmpty(PathBuf),

    #[error("mount point {path}: {source}")]
    MountPointUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },

    /// The namenode did not answer the check made before mounting.
    #[error("cannot mount: {0}")]
    Namenode(DfsError),

    #[error("cannot mount: the namenode at {0} did not answer within {1} s")]
    NamenodeTimedOut(String, u64),

    #[error("mounting {path} failed: {source} (is /dev/fuse there, and are you root?)")]
    Mount {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("unmounting {path} failed: {source}")]
    Unmount {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The errno a file system caller sees for a failed client call. EIO is
/// kept for real I/O failures (a block no replica could serve, a broken
/// pipeline, a checksum mismatch).
pub fn errno_of(err: &DfsError) -> Errno {
    match err.kind() {
        ErrorKind::NotFound => Errno::ENOENT,
        ErrorKind::AlreadyExists => Errno::EEXIST,
        ErrorKind::PermissionDenied => Errno::EACCES,
        ErrorKind::NotADirectory => Errno::ENOTDIR,
        ErrorKind::IsADirectory => Errno::EISDIR,
        ErrorKind::DirectoryNotEmpty => Errno::ENOTEMPTY,
        // HDFS's safe mode is a read-only namespace.
        ErrorKind::SafeMode => Errno::EROFS,
        // Another client holds the file open for writing.
        ErrorKind::LeaseConflict => Errno::EBUSY,
        ErrorKind::InvalidArgument | ErrorKind::InvalidPath => Errno::EINVAL,
        ErrorKind::NotEnoughReplicas | ErrorKind::NoSpace => Errno::ENOSPC,
        ErrorKind::XAttrNotFound => Errno::NO_XATTR,
        ErrorKind::NotReplicatedYet => Errno::EAGAIN,
        ErrorKind::Unavailable => Errno::ENOTCONN,
        ErrorKind::TimedOut => Errno::ETIMEDOUT,
        ErrorKind::LeaseExpired
        | ErrorKind::ChecksumMismatch
        | ErrorKind::ReplicaNotFound
        | ErrorKind::StaleGenerationStamp
        | ErrorKind::ClusterIdMismatch
        | ErrorKind::UnregisteredDatanode
        | ErrorKind::Io
        | ErrorKind::Internal => Errno::EIO,
    }
}

/// [`errno_of`], logging the cause: the errno alone says too little to
/// whoever reads the mount's log.
pub fn to_errno(op: &str, err: DfsError) -> Errno {
    let errno = errno_of(&err);
    if errno == Errno::EIO || errno == Errno::ENOTCONN || errno == Errno::ETIMEDOUT {
        tracing::warn!(op, error = %err, "file system call failed");
    } else {
        tracing::debug!(op, error = %err, "file system call refused");
    }
    errno
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_proto::RpcError;

    #[test]
    fn namespace_errors_map_to_their_errno() {
        let cases = [
            (ErrorKind::NotFound, Errno::ENOENT),
            (ErrorKind::AlreadyExists, Errno::EEXIST),
            (ErrorKind::PermissionDenied, Errno::EACCES),
            (ErrorKind::NotADirectory, Errno::ENOTDIR),
            (ErrorKind::IsADirectory, Errno::EISDIR),
            (ErrorKind::DirectoryNotEmpty, Errno::ENOTEMPTY),
            (ErrorKind::NoSpace, Errno::ENOSPC),
            (ErrorKind::NotEnoughReplicas, Errno::ENOSPC),
            (ErrorKind::Io, Errno::EIO),
        ];
        for (kind, errno) in cases {
            let err = DfsError::Rpc(RpcError::new(kind, "x"));
            assert_eq!(errno_of(&err), errno, "{kind:?}");
        }
    }

    #[test]
    fn data_path_failures_are_eio() {
        let err = DfsError::Pipeline {
            block_id: 1,
            path: "/f".into(),
            datanode: "127.0.0.1:1".into(),
            message: "reset".into(),
        };
        assert_eq!(errno_of(&err), Errno::EIO);
    }
}
