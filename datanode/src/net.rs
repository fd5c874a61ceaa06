//! Plumbing shared by every connection the datanode opens: gRPC message
//! limits, HTTP/2 windows and TCP_NODELAY as the whole project uses them,
//! and the timeouts of data-transfer connections.

use std::time::Duration;

use cairn_proto::pb::data_transfer_client::DataTransferClient;
use cairn_proto::pb::datanode_protocol_client::DatanodeProtocolClient;
use cairn_proto::{CONNECTION_WINDOW, MAX_MESSAGE_SIZE, STREAM_WINDOW, pb};
use tonic::transport::{Channel, Endpoint};

use crate::error::{DatanodeError, Result};

/// How long we wait for a TCP connection to another daemon.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a data-transfer peer may stall in the middle of a frame, or
/// take none of ours, before we give up on it (HDFS's
/// dfs.client.socket-timeout).
pub const SOCKET_TIMEOUT: Duration = Duration::from_secs(60);

/// An endpoint with Cairn's transport settings.
pub fn endpoint(uri: &str) -> Result<Endpoint> {
    let endpoint = Endpoint::from_shared(uri.to_string())
        .map_err(|e| DatanodeError::InvalidArgument(format!("bad address {uri}: {e}")))?;
    Ok(endpoint
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW))
}

/// "host:port" of a datanode's data-transfer service, as named in
/// `first_bad_link`.
pub fn xfer_addr(node: &pb::DatanodeInfo) -> String {
    if node.host.contains(':') {
        format!("[{}]:{}", node.host, node.xfer_port)
    } else {
        format!("{}:{}", node.host, node.xfer_port)
    }
}

/// A DataTransfer client for a channel, with the project's message limits.
pub fn data_transfer_client(channel: Channel) -> DataTransferClient<Channel> {
    DataTransferClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE)
}

/// A DatanodeProtocol client for a channel, with the project's message limits.
pub fn namenode_client(channel: Channel) -> DatanodeProtocolClient<Channel> {
    DatanodeProtocolClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE)
}

/// Connects to another datanode's DataTransfer gRPC service (block
/// recovery; block writes use `cairn_proto::data_transfer`).
pub async fn connect_datanode(node: &pb::DatanodeInfo) -> Result<DataTransferClient<Channel>> {
    let addr = xfer_addr(node);
    let channel = endpoint(&format!("http://{addr}"))?
        .connect()
        .await
        .map_err(|e| {
            DatanodeError::rpc(
                format!("cannot connect to datanode {addr}"),
                tonic::Status::unavailable(e.to_string()),
            )
        })?;
    Ok(data_transfer_client(channel))
}

/// Exponential backoff for retrying a peer that is down.
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: max.max(min),
            next: min,
        }
    }

    /// The delay before the next attempt; each call doubles it up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_max() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(300));
        assert_eq!(b.next_delay(), Duration::from_millis(100));
        assert_eq!(b.next_delay(), Duration::from_millis(200));
        assert_eq!(b.next_delay(), Duration::from_millis(300));
        assert_eq!(b.next_delay(), Duration::from_millis(300));
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn addresses() {
        let node = pb::DatanodeInfo {
            host: "10.1.2.3".into(),
            xfer_port: 9866,
            ..Default::default()
        };
        assert_eq!(xfer_addr(&node), "10.1.2.3:9866");
        let v6 = pb::DatanodeInfo {
            host: "::1".into(),
            xfer_port: 1,
            ..Default::default()
        };
        assert_eq!(xfer_addr(&v6), "[::1]:1");
    }
}
