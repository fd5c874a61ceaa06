//! Who a call is made for: HDFS "simple" authentication, where the client
//! names its user and the namenode believes it.

/// Metadata key holding the calling user's name.
pub const USER_METADATA: &str = "cairn-user";

/// The user named by a request's metadata, if any.
pub fn user_of<T>(request: &tonic::Request<T>) -> Option<&str> {
    request
        .metadata()
        .get(USER_METADATA)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}
