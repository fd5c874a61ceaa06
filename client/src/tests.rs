//! Tests of the client against small test doubles of a namenode and
//! datanodes: the real generated gRPC services with in-memory behaviour,
//! served by tonic on real sockets.

mod fake_datanode;
mod fake_namenode;
mod ipc;
mod namespace;
mod read;
mod serve;
mod write;

use std::time::Duration;

use crate::{ClientConfig, DfsClient};
use fake_namenode::FakeNamenode;

/// A client of `namenode` as user "alice", with 1 KiB packets so that small
/// files make many packets.
async fn client_for(namenode: &FakeNamenode, window: usize) -> DfsClient {
    let mut config = ClientConfig::new(namenode.addr.to_string(), "alice");
    config.write_packet_size = 1024;
    config.max_packets_in_flight = window;
    // A guard against a hung test, not a timing assertion.
    config.rpc_timeout = Duration::from_secs(30);
    DfsClient::connect(config).await.unwrap()
}

/// Deterministic, non-repeating test data.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Polls `cond` until it holds.
async fn eventually(mut cond: impl FnMut() -> bool) {
    while !cond() {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
