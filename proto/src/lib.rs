//! Cairn's gRPC contract.
//!
//! The `.proto` files under `proto/` are the only thing Cairn's daemons share:
//! `common.proto` (blocks, datanodes, file status, error codes),
//! `client.proto` (ClientProtocol, served by the namenode),
//! `datanode.proto` (DatanodeProtocol, served by the namenode),
//! `transfer.proto` (DataTransfer, served by every datanode) and
//! `fsimage.proto` (the namenode's edit log and checkpoint records).
//!
//! Generated code lives in [`pb`]; [`RpcError`] is the one place where a typed
//! error becomes a gRPC status and back.

pub mod checksum;
pub mod codec;
pub mod config_value;
pub mod daemon_args;
pub mod data_transfer;
pub mod error;
pub mod html;
pub mod identity;
pub mod ipc;
pub mod rpc_metrics;
pub mod webhdfs;

pub use checksum::{BYTES_PER_CHECKSUM, CHECKSUM_SIZE, ChecksumType};
pub use error::{ErrorKind, RpcError};

/// Code generated from the `.proto` files.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    tonic::include_proto!("cairn");
}

/// gRPC messages carry whole packets (up to a few MiB with their checksums),
/// far above tonic's 4 MiB default decode limit once batched.
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// HTTP/2 windows sized for throughput: with the defaults a 1 GiB stream on
/// loopback moves at about half the speed it does with these.
pub const STREAM_WINDOW: u32 = 8 * 1024 * 1024;
pub const CONNECTION_WINDOW: u32 = 16 * 1024 * 1024;

/// The largest HTTP/2 frame a client accepts: 1 MiB instead of 16 KiB, so a
/// read packet arrives in one or two frames rather than sixty-four, which
/// measured faster in `cairn bench dfsio`. Datanodes keep the default for
/// what they receive: on a quiet machine 1 MiB frames on the write path
/// measured 10–15% slower (`dfsio-write --tmpfs`, alternating builds,
/// session 4), though under heavy load they had measured faster.
pub const MAX_FRAME_SIZE: u32 = 1024 * 1024;

/// The S3 gateway's staging directory for uploads in progress (`/.cairn-s3`
/// as a top-level name). Like HDFS's `/.reserved`, the namenode never lists
/// it in `/`, so `dfs -ls /`, a mount of `/` and S3's ListBuckets do not show
/// parts in progress, while the gateway still reaches it by its path.
pub const S3_STAGING_DIR: &str = ".cairn-s3";
