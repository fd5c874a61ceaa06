//! The gateway's one error type, and the one place where anything that can
//! go wrong becomes an S3 error code (with the HTTP status S3 gives it).

use cairn_client::{DfsError, ErrorKind};
use s3s::{S3Error, S3ErrorCode};

/// What a gateway operation can fail with before it is turned into S3's
/// words by [`GatewayError::into_s3`].
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The file system refused or failed.
    #[error("{0}")]
    Dfs(#[from] DfsError),
    /// An S3 error decided by the gateway itself (a bad key, a missing
    /// upload, a digest that does not match).
    #[error("{0}")]
    S3(S3Error),
    /// Reading the request body failed (the client went away, a bad
    /// aws-chunked frame).
    #[error("reading the request body: {0}")]
    Body(String),
    /// The gateway could not start (a port in use, a bad key file).
    #[error("{0}")]
    Startup(String),
}

impl GatewayError {
    /// An S3 error with S3's code and a message naming the object.
    pub fn s3(code: S3ErrorCode, message: impl Into<String>) -> Self {
        Self::S3(S3Error::with_message(code, message.into()))
    }

    /// S3's answer for this error. `NotFound` depends on what was looked
    /// for (a bucket or a key), so callers that know say so with
    /// [`GatewayError::not_found_as`].
    pub fn into_s3(self) -> S3Error {
        match self {
            Self::S3(err) => err,
            Self::Body(message) => S3Error::with_message(S3ErrorCode::IncompleteBody, message),
            Self::Startup(message) => S3Error::with_message(S3ErrorCode::InternalError, message),
            Self::Dfs(err) => {
                let code = match err.kind() {
                    ErrorKind::NotFound => S3ErrorCode::NoSuchKey,
                    ErrorKind::PermissionDenied => S3ErrorCode::AccessDenied,
                    ErrorKind::AlreadyExists => S3ErrorCode::InvalidRequest,
                    ErrorKind::InvalidPath | ErrorKind::InvalidArgument => {
                        S3ErrorCode::InvalidArgument
                    }
                    ErrorKind::DirectoryNotEmpty => S3ErrorCode::BucketNotEmpty,
                    ErrorKind::NotADirectory | ErrorKind::IsADirectory => {
                        S3ErrorCode::InvalidRequest
                    }
                    ErrorKind::SafeMode | ErrorKind::Unavailable | ErrorKind::NotReplicatedYet => {
                        S3ErrorCode::ServiceUnavailable
                    }
                    ErrorKind::TimedOut => S3ErrorCode::RequestTimeout,
                    ErrorKind::NoSpace | ErrorKind::NotEnoughReplicas => {
                        S3ErrorCode::ServiceUnavailable
                    }
                    _ => S3ErrorCode::InternalError,
                };
                S3Error::with_message(code, err.to_string())
            }
        }
    }

    /// As [`GatewayError::into_s3`], with a "not found" answered by `code`
    /// (NoSuchBucket, NoSuchUpload, ...).
    pub fn not_found_as(self, code: S3ErrorCode) -> S3Error {
        let not_found = matches!(&self, Self::Dfs(err) if err.kind() == ErrorKind::NotFound);
        let mut err = self.into_s3();
        if not_found {
            err.set_code(code);
        }
        err
    }
}

impl From<GatewayError> for S3Error {
    fn from(err: GatewayError) -> Self {
        err.into_s3()
    }
}

/// The result of gateway internals.
pub type Result<T> = std::result::Result<T, GatewayError>;

/// Shorthand for an S3 error decided by the gateway.
pub fn s3_err(code: S3ErrorCode, message: impl Into<String>) -> GatewayError {
    GatewayError::s3(code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_proto::RpcError;

    #[test]
    fn permission_denied_is_access_denied() {
        let err = GatewayError::Dfs(DfsError::Rpc(RpcError::new(
            ErrorKind::PermissionDenied,
            "Permission denied: user=bob, access=WRITE, inode=\"/b\"",
        )));
        let s3 = err.into_s3();
        assert_eq!(s3.code(), &S3ErrorCode::AccessDenied);
        assert!(s3.message().unwrap_or_default().contains("user=bob"));
    }

    #[test]
    fn not_found_takes_the_callers_code() {
        let err = GatewayError::Dfs(DfsError::Rpc(RpcError::new(ErrorKind::NotFound, "/b")));
        assert_eq!(
            err.not_found_as(S3ErrorCode::NoSuchBucket).code(),
            &S3ErrorCode::NoSuchBucket
        );
    }
}
