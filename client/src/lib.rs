//! cairn-client: the one way into a Cairn cluster for the CLI, the FUSE
//! mount and the S3 gateway (HDFS's DFSClient).
//!
//! * [`DfsClient`] (`dfs_client.rs`): the file system API over the
//!   namenode's ClientProtocol; cheap to clone.
//! * [`FileWriter`] (`output_stream.rs`, HDFS's DFSOutputStream): cuts bytes
//!   into packets (`packet.rs`) and streams them through one block pipeline
//!   at a time (`data_streamer.rs`, HDFS's DataStreamer), with a window of
//!   unacknowledged packets.
//! * [`FileReader`] (`input_stream.rs`, HDFS's DFSInputStream): cached block
//!   locations, sequential and positional reads; `block_reader.rs` reads one
//!   block range with checksum verification and replica failover.
//! * `lease_renewer.rs`: renews the client's lease while a writer is open.
//! * `connection.rs`: the namenode client ([`NamenodeClient`], calling as
//!   one user) and the datanode channel cache; `ipc.rs`: the namenode calls
//!   multiplexed over one `Call` stream per connection (Hadoop IPC's
//!   design); `retry.rs`: backoff for "not yet".

mod block_reader;
mod config;
mod connection;
mod data_streamer;
mod dfs_client;
pub mod error;
mod input_stream;
mod ipc;
mod lease_renewer;
mod output_stream;
mod packet;
mod pool;
mod retry;

#[cfg(test)]
mod tests;

pub use cairn_proto::ErrorKind;
pub use cairn_proto::pb::{
    ContentSummary, DatanodeAdminAction, DatanodeInfo, DatanodeReportType, FileStatus, FileType,
    FsStats, LocatedBlock, LocatedBlocks, SafeModeAction, ServerDefaults, XAttrSetFlag,
};
pub use config::{ClientConfig, CreateOptions};
pub use connection::NamenodeClient;
pub use dfs_client::DfsClient;
pub use error::DfsError;
pub use input_stream::FileReader;
pub use output_stream::FileWriter;
pub use pool::ClientPool;

/// The result of every client call.
pub type Result<T> = std::result::Result<T, DfsError>;
