//! What a client is configured with (HDFS's `DfsClientConf`), and the options
//! of one `create`.

use std::time::Duration;

use cairn_proto::ChecksumType;

/// The default of [`ClientConfig::write_packet_size`].
const DEFAULT_WRITE_PACKET_SIZE: usize = 256 * 1024;

/// How a [`crate::DfsClient`] reaches the cluster and writes files.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// "host:port", "cairn://host:port" or "http://host:port".
    pub namenode: String,
    /// HDFS simple auth: sent as `cairn-user` metadata on every namenode call.
    pub user: String,
    /// Bits removed from the default permission of new files and directories.
    pub umask: u16,
    /// Replication of new files; `None` = the namenode's default.
    pub replication: Option<u32>,
    /// Block size of new files; `None` = the namenode's default.
    pub block_size: Option<u64>,
    /// Data bytes per write packet (rounded down to whole 512-byte chunks).
    /// 256 KiB by default: a packet small enough to stay in a core's cache
    /// from the socket read through the checksum check, the forward and the
    /// replica write at every datanode (1 MiB packets were copied and
    /// checksummed from memory), and large enough that the per-packet
    /// hand-offs stay cheap (BENCHMARKS.md, "Data path, session 6").
    pub write_packet_size: usize,
    /// Packets a writer may have sent but not yet seen acknowledged.
    pub max_packets_in_flight: usize,
    /// Deadline of one namenode call, and of each wait for a datanode message.
    pub rpc_timeout: Duration,
    /// The checksums new blocks are written with (HDFS's
    /// `dfs.checksum.type`): CRC32C by default. Reads verify each block
    /// with the type it was written with, whatever this says.
    pub checksum_type: ChecksumType,
}

impl ClientConfig {
    /// A configuration with HDFS's defaults for everything but the namenode
    /// address and the user.
    pub fn new(namenode: impl Into<String>, user: impl Into<String>) -> Self {
        Self {
            namenode: namenode.into(),
            user: user.into(),
            umask: 0o022,
            replication: None,
            block_size: None,
            write_packet_size: DEFAULT_WRITE_PACKET_SIZE,
            max_packets_in_flight: 16,
            rpc_timeout: Duration::from_secs(60),
            checksum_type: ChecksumType::default(),
        }
    }
}

/// Options of [`crate::DfsClient::create`]; `Default` is HDFS's `create(path)`:
/// fail if the file exists, do not create parents.
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    /// Replace an existing file.
    pub overwrite: bool,
    /// Create missing parent directories (with `0o777 & !umask`).
    pub create_parent: bool,
    /// Mode of the new file, used as given; `None` = `0o666 & !umask`.
    pub permission: Option<u16>,
    /// `None` = the client's configured replication, else the namenode's default.
    pub replication: Option<u32>,
    /// `None` = the client's configured block size, else the namenode's default.
    pub block_size: Option<u64>,
}
