//! The next datanode of a pipeline: opening WriteBlock to it (a
//! `cairn_proto::data_transfer` connection), the setup handshake (its
//! seqno -1 ack), and what went wrong when it fails.

use std::time::Duration;

use cairn_proto::data_transfer::{self, FrameReader};
use cairn_proto::pb;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tracing::warn;

use crate::net;
use crate::receiver::Upstream;

/// How long the downstream datanode may take to set up the rest of the
/// pipeline and answer the setup ack.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Packets queued towards the downstream datanode before we wait for it.
const QUEUE: usize = 16;

/// An open WriteBlock stream to the next datanode.
#[derive(Debug)]
pub struct Downstream {
    /// Where to push packets (a task writes them to the socket; dropping
    /// this closes our sending side).
    pub packets: mpsc::Sender<pb::Packet>,
    /// Its acks, after the setup ack.
    pub acks: Upstream,
    /// "host:port", for `first_bad_link`.
    pub addr: String,
    /// The setup ack's replies: one per datanode from there on.
    pub setup_replies: Vec<i32>,
}

/// Why the downstream part of the pipeline could not be set up.
#[derive(Debug, Clone)]
pub struct DownstreamFailure {
    pub replies: Vec<i32>,
    pub first_bad_link: String,
    pub message: String,
}

impl Downstream {
    /// Opens WriteBlock to `target` with `header` (whose targets are the
    /// datanodes after it) and waits for its setup ack.
    pub async fn connect(
        target: &pb::DatanodeInfo,
        header: pb::WriteBlockHeader,
    ) -> Result<Downstream, DownstreamFailure> {
        let addr = net::xfer_addr(target);
        let unreachable = |message: String| DownstreamFailure {
            replies: vec![pb::AckStatus::Error as i32],
            first_bad_link: addr.clone(),
            message,
        };
        let setup = async {
            let stream = data_transfer::connect(&addr, net::CONNECT_TIMEOUT)
                .await
                .map_err(|e| unreachable(e.message))?;
            let (read, mut write) = stream.into_split();
            write
                .write_all(&data_transfer::encode_write_block(&header))
                .await
                .map_err(|e| unreachable(format!("datanode {addr} refused the block: {e}")))?;
            let mut acks = FrameReader::new(read, addr.clone(), net::SOCKET_TIMEOUT);
            match acks.read_ack().await {
                Ok(Some(ack)) if ack.seqno == -1 && all_success(&ack.replies) => {
                    Ok((acks, write, ack.replies))
                }
                Ok(Some(ack)) => Err(DownstreamFailure {
                    replies: if ack.replies.is_empty() {
                        vec![pb::AckStatus::Error as i32]
                    } else {
                        ack.replies
                    },
                    first_bad_link: if ack.first_bad_link.is_empty() {
                        addr.clone()
                    } else {
                        ack.first_bad_link
                    },
                    message: ack.message,
                }),
                Ok(None) => Err(unreachable(format!(
                    "datanode {addr} closed the pipeline during setup"
                ))),
                Err(e) => Err(unreachable(format!(
                    "datanode {addr} failed during setup: {e}"
                ))),
            }
        };
        let (acks, write, setup_replies) = match tokio::time::timeout(SETUP_TIMEOUT, setup).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(unreachable(format!(
                    "datanode {addr} did not answer the pipeline setup"
                )));
            }
        };
        let (packets, outgoing) = mpsc::channel(QUEUE);
        data_transfer::spawn_sender(write, outgoing, addr.clone(), net::SOCKET_TIMEOUT);
        Ok(Downstream {
            packets,
            acks,
            addr,
            setup_replies,
        })
    }
}

/// Whether every reply of an ack is SUCCESS.
pub fn all_success(replies: &[i32]) -> bool {
    replies.iter().all(|r| *r == pb::AckStatus::Success as i32)
}

impl DownstreamFailure {
    pub fn log(&self, block_id: u64) {
        warn!(block_id, bad = %self.first_bad_link, "pipeline setup failed downstream: {}", self.message);
    }
}
