//! Who a call is made for: HDFS "simple" authentication, where the client
//! names its user and the namenode believes it.

/// Metadata key holding the calling user's name.
pub const USER_METADATA: &str = "cairn-user";

/// The user a request is made for: the one its `Call` stream's message
/// named (`crate::ipc::StreamCaller`), else the one its metadata names;
/// `None` if neither names one.
pub fn user_of<T>(request: &tonic::Request<T>) -> Option<&str> {
    if let Some(caller) = request.extensions().get::<crate::ipc::StreamCaller>() {
        return caller.user();
    }
    request
        .metadata()
        .get(USER_METADATA)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// The address a request came from: its `Call` stream's peer, else the
/// peer of its own connection.
pub fn remote_addr_of<T>(request: &tonic::Request<T>) -> Option<std::net::SocketAddr> {
    match request.extensions().get::<crate::ipc::StreamCaller>() {
        Some(caller) => caller.remote_addr(),
        None => request.remote_addr(),
    }
}
