//! Channels to the namenode and the datanodes: one namenode channel whose
//! every call names the user, and a cache of datanode channels by
//! "host:port" shared by every clone of a client (HDFS keeps a socket cache
//! for the same reason: a read of many blocks should not reconnect for each).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cairn_proto::pb::DatanodeInfo;
use cairn_proto::pb::client_protocol_client::ClientProtocolClient;
use cairn_proto::pb::data_transfer_client::DataTransferClient;
use cairn_proto::{CONNECTION_WINDOW, MAX_FRAME_SIZE, MAX_MESSAGE_SIZE, STREAM_WINDOW};
use parking_lot::Mutex;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::error::DfsError;

/// Time allowed to open a TCP connection to a namenode or datanode.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// The namenode's `ClientProtocol`, with the user attached to every call.
pub(crate) type NamenodeClient =
    ClientProtocolClient<InterceptedService<NamenodeChannel, UserInterceptor>>;

/// A datanode's `DataTransfer` service.
pub(crate) type DatanodeClient = DataTransferClient<Channel>;

/// Adds the `cairn-user` metadata (HDFS simple authentication) to a request.
#[derive(Clone)]
pub(crate) struct UserInterceptor {
    user: AsciiMetadataValue,
}

impl tonic::service::Interceptor for UserInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert(cairn_proto::identity::USER_METADATA, self.user.clone());
        Ok(request)
    }
}

/// The channel to the namenode. A call that cannot reach it fails with the
/// namenode's address and the operating system's reason, in HDFS's words
/// ("Call to 127.0.0.1:8020 failed on connection exception: Connection
/// refused ..."), which tonic's own "tcp connect error" leaves out.
#[derive(Clone)]
pub(crate) struct NamenodeChannel {
    channel: Channel,
    authority: Arc<str>,
}

impl NamenodeChannel {
    fn unreachable(authority: &str, err: tonic::transport::Error) -> tonic::codegen::StdError {
        // The innermost cause is the operating system's reason.
        let mut reason: &dyn std::error::Error = &err;
        while let Some(cause) = reason.source() {
            reason = cause;
        }
        Box::new(tonic::Status::unavailable(format!(
            "Call to {authority} failed on connection exception: {reason}; \
             is the namenode running? (`cairn server` starts a whole cluster)"
        )))
    }
}

impl tonic::codegen::Service<tonic::codegen::http::Request<tonic::body::Body>> for NamenodeChannel {
    type Response = tonic::codegen::http::Response<tonic::body::Body>;
    type Error = tonic::codegen::StdError;
    type Future = tonic::codegen::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.channel
            .poll_ready(cx)
            .map_err(|e| Self::unreachable(&self.authority, e))
    }

    fn call(&mut self, request: tonic::codegen::http::Request<tonic::body::Body>) -> Self::Future {
        let call = self.channel.call(request);
        let authority = Arc::clone(&self.authority);
        Box::pin(async move { call.await.map_err(|e| Self::unreachable(&authority, e)) })
    }
}

/// Turns "host:port", "cairn://host:port" or "http://host:port" into the
/// authority "host:port", refusing anything without a host and a port.
pub(crate) fn parse_namenode_address(address: &str) -> Result<String, DfsError> {
    let invalid = |reason: &str| DfsError::InvalidAddress {
        address: address.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = address.trim();
    let rest = if let Some(rest) = trimmed.strip_prefix("cairn://") {
        rest
    } else if let Some(rest) = trimmed.strip_prefix("http://") {
        rest
    } else if trimmed.contains("://") {
        return Err(invalid("the scheme must be cairn:// or http://"));
    } else {
        trimmed
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() {
        return Err(invalid("no host"));
    }
    if authority.contains(['/', '?', '#', '@']) || authority.chars().any(char::is_whitespace) {
        return Err(invalid("expected host:port"));
    }
    let Some((host, port)) = authority.rsplit_once(':') else {
        return Err(invalid("no port"));
    };
    if host.is_empty() {
        return Err(invalid("no host"));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(invalid("an IPv6 address must be written in brackets"));
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => return Err(invalid("the port must be a number from 1 to 65535")),
        Ok(_) => {}
    }
    Ok(authority.to_string())
}

/// The "host:port" a datanode serves `DataTransfer` on.
pub(crate) fn datanode_address(node: &DatanodeInfo) -> String {
    if node.host.contains(':') && !node.host.starts_with('[') {
        format!("[{}]:{}", node.host, node.xfer_port)
    } else {
        format!("{}:{}", node.host, node.xfer_port)
    }
}

/// An endpoint with Cairn's transport settings (windows sized for bulk data,
/// no Nagle delay on small acks).
fn endpoint(authority: &str) -> Result<Endpoint, DfsError> {
    let endpoint = Endpoint::from_shared(format!("http://{authority}")).map_err(|e| {
        DfsError::InvalidAddress {
            address: authority.to_string(),
            reason: e.to_string(),
        }
    })?;
    Ok(endpoint
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME_SIZE))
}

/// A lazily connected channel to the namenode at `authority`.
pub(crate) fn namenode_channel(
    authority: &str,
    rpc_timeout: Duration,
) -> Result<NamenodeChannel, DfsError> {
    Ok(NamenodeChannel {
        channel: endpoint(authority)?.timeout(rpc_timeout).connect_lazy(),
        authority: Arc::from(authority),
    })
}

/// A namenode client that calls as `user` over `channel`, so clients for
/// many users (the FUSE mount's callers) share one connection. Fails only
/// on a user name that cannot travel as metadata.
pub(crate) fn namenode_client_as(
    channel: &NamenodeChannel,
    user: &str,
) -> Result<NamenodeClient, DfsError> {
    let user: AsciiMetadataValue = MetadataValue::try_from(user).map_err(|_| {
        DfsError::InvalidArgument(format!(
            "user name `{user}' cannot be sent as gRPC metadata"
        ))
    })?;
    Ok(
        ClientProtocolClient::with_interceptor(channel.clone(), UserInterceptor { user })
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE),
    )
}

/// Datanode channels by "host:port". A channel reconnects by itself after a
/// failure, so an entry stays valid for the life of the client.
#[derive(Clone, Default)]
pub(crate) struct DatanodeChannels {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
}

impl DatanodeChannels {
    /// The channel to the datanode at `address` ("host:port").
    fn channel(&self, address: &str) -> Result<Channel, DfsError> {
        let mut channels = self.channels.lock();
        match channels.get(address) {
            Some(channel) => Ok(channel.clone()),
            None => {
                let channel = endpoint(address)?.connect_lazy();
                channels.insert(address.to_string(), channel.clone());
                Ok(channel)
            }
        }
    }

    /// The `DataTransfer` client of the datanode at `address` ("host:port").
    pub(crate) fn client(&self, address: &str) -> Result<DatanodeClient, DfsError> {
        let channel = self.channel(address)?;
        Ok(DataTransferClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_spellings() {
        for address in [
            "nn:8020",
            "cairn://nn:8020",
            "http://nn:8020",
            "http://nn:8020/",
        ] {
            assert_eq!(parse_namenode_address(address).unwrap(), "nn:8020");
        }
        assert_eq!(parse_namenode_address("[::1]:8020").unwrap(), "[::1]:8020");
    }

    #[test]
    fn refuses_bad_addresses() {
        for address in [
            "",
            "nn",
            "nn:",
            ":8020",
            "nn:0",
            "nn:99999",
            "nn:port",
            "https://nn:8020",
            "nn:8020/x",
            "::1:8020",
            "n n:8020",
        ] {
            let err = parse_namenode_address(address).unwrap_err();
            assert_eq!(
                err.kind(),
                cairn_proto::ErrorKind::InvalidArgument,
                "{address}"
            );
        }
    }

    #[test]
    fn datanode_addresses() {
        let mut node = DatanodeInfo {
            host: "10.0.0.1".into(),
            xfer_port: 9866,
            ..Default::default()
        };
        assert_eq!(datanode_address(&node), "10.0.0.1:9866");
        node.host = "::1".into();
        assert_eq!(datanode_address(&node), "[::1]:9866");
    }
}
