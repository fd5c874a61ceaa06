//! Channels to the namenode and the datanodes: one namenode channel whose
//! every call names the user, and a cache of datanode channels by
//! "host:port" shared by every clone of a client (HDFS keeps a socket cache
//! for the same reason: a read of many blocks should not reconnect for each).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cairn_proto::pb;
use cairn_proto::pb::DatanodeInfo;
use cairn_proto::pb::client_protocol_client::ClientProtocolClient;
use cairn_proto::pb::data_transfer_client::DataTransferClient;
use cairn_proto::{CONNECTION_WINDOW, MAX_FRAME_SIZE, MAX_MESSAGE_SIZE, STREAM_WINDOW};
use parking_lot::Mutex;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Channel, Endpoint};

use crate::error::DfsError;
use crate::ipc::IpcConnection;

/// Time allowed to open a TCP connection to a namenode or datanode.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// The namenode's `ClientProtocol` as one user: the generated client's
/// methods, each made as one call on the connection's `Call` stream
/// (`ipc.rs`) rather than as a unary rpc of its own.
/// Made by [`crate::DfsClient::namenode`], for calls the file system API
/// does not wrap (the bench's NNThroughputBenchmark-style load).
#[derive(Clone)]
pub struct NamenodeClient {
    connection: NamenodeConnection,
    user: Arc<str>,
}

/// The calls to one namenode, shared by every clone of a client and every
/// user it acts as.
pub(crate) type NamenodeConnection = IpcConnection<NamenodeChannel>;

/// `NamenodeClient`'s methods: one per rpc of
/// `cairn_proto::for_each_client_call!`, with the generated client's name
/// and signature, so callers read the same either way.
macro_rules! namenode_methods {
    ($(($method:ident, $variant:ident, $request:ident, $response:ident, $how:ident)),* $(,)?) => {
        impl NamenodeClient {
            $(
                /// The rpc of this name, as one call on the `Call` stream.
                pub async fn $method(
                    &mut self,
                    request: impl tonic::IntoRequest<pb::$request>,
                ) -> Result<tonic::Response<pb::$response>, tonic::Status> {
                    let call = pb::call_request::Request::$variant(Box::new(request.into_request().into_inner()));
                    match self.connection.call(&self.user, call).await? {
                        pb::call_response::Response::$variant(response) => Ok(tonic::Response::new(*response)),
                        _ => Err(wrong_answer(stringify!($method))),
                    }
                }
            )*
        }
    };
}

cairn_proto::for_each_client_call!(namenode_methods);

/// The status of a call the namenode answered with another call's kind of
/// response.
fn wrong_answer(method: &str) -> tonic::Status {
    tonic::Status::internal(format!(
        "the namenode answered a {method} call with the response of another operation"
    ))
}

/// A datanode's `DataTransfer` service.
pub(crate) type DatanodeClient = DataTransferClient<Channel>;

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

/// A lazily connected connection to the namenode at `authority`: calls
/// wait at most `rpc_timeout` for their answers.
pub(crate) fn namenode_connection(
    authority: &str,
    rpc_timeout: Duration,
) -> Result<NamenodeConnection, DfsError> {
    let channel = NamenodeChannel {
        channel: endpoint(authority)?.timeout(rpc_timeout).connect_lazy(),
        authority: Arc::from(authority),
    };
    let protocol = ClientProtocolClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    Ok(IpcConnection::new(protocol, authority, rpc_timeout))
}

/// A namenode client that calls as `user` over `connection`, so clients
/// for many users (the FUSE mount's callers) share one connection. Fails
/// only on a user name a unary call could not carry as metadata either.
pub(crate) fn namenode_client_as(
    connection: &NamenodeConnection,
    user: &str,
) -> Result<NamenodeClient, DfsError> {
    if AsciiMetadataValue::try_from(user).is_err() {
        return Err(DfsError::InvalidArgument(format!(
            "user name `{user}' cannot be sent as gRPC metadata"
        )));
    }
    Ok(NamenodeClient {
        connection: connection.clone(),
        user: Arc::from(user),
    })
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
