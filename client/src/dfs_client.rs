//! HDFS's DFSClient: the file system API over the namenode's ClientProtocol,
//! and the factory of block writers ([`FileWriter`]) and readers
//! ([`FileReader`]).

use std::sync::Arc;
use std::time::Duration;

use cairn_proto::ErrorKind;
use cairn_proto::pb::{
    AppendRequest, ConcatRequest, ContentSummary, CreateRequest, CreateSymlinkRequest,
    DatanodeAdminAction, DatanodeInfo, DatanodeReportType, DeleteRequest, FileStatus, FsStats,
    GetBlockLocationsRequest, GetContentSummaryRequest, GetDatanodeReportRequest,
    GetFileInfoRequest, GetFsStatsRequest, GetListingRequest, GetServerDefaultsRequest,
    GetXAttrsRequest, ListXAttrsRequest, LocatedBlock, LocatedBlocks, MkdirsRequest,
    RemoveXAttrRequest, RenameRequest, ReportBadBlocksRequest, SafeModeAction, ServerDefaults,
    SetDatanodeAdminStateRequest, SetOwnerRequest, SetPermissionRequest, SetReplicationRequest,
    SetSafeModeRequest, SetTimesRequest, SetXAttrRequest, TruncateRequest, XAttr, XAttrSetFlag,
};
use tokio::sync::OnceCell;

use crate::Result;
use crate::config::{ClientConfig, CreateOptions};
use crate::connection::{
    self, DatanodeChannels, DatanodeClient, NamenodeClient, NamenodeConnection,
};
use crate::error::DfsError;
use crate::input_stream::FileReader;
use crate::lease_renewer::{DEFAULT_RENEW_INTERVAL, LeaseGuard, LeaseRenewer};
use crate::output_stream::FileWriter;

/// Mode of new files when the caller gives none, before the umask.
const DEFAULT_FILE_MODE: u16 = 0o666;
/// Mode of new directories and symlinks when the caller gives none, before the umask.
const DEFAULT_DIR_MODE: u16 = 0o777;

/// A connection to a Cairn cluster. Cloning is cheap: clones share the
/// namenode channel, the datanode channels and the lease renewer.
#[derive(Clone)]
pub struct DfsClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    client_name: String,
    /// The host this client writes from, for the namenode's placement of the
    /// first replica on the writer's node.
    client_host: String,
    /// The namenode's `Call` stream, shared by every user of this client.
    namenode_connection: NamenodeConnection,
    /// Calls as `config.user` over `namenode_connection`.
    namenode: NamenodeClient,
    datanodes: DatanodeChannels,
    lease_renewer: Arc<LeaseRenewer>,
    server_defaults: OnceCell<ServerDefaults>,
}

impl DfsClient {
    /// A client for the namenode of `config`. The channel connects lazily,
    /// so the namenode need not be up yet; an address that can never work
    /// is an error now.
    pub async fn connect(config: ClientConfig) -> Result<DfsClient> {
        let authority = connection::parse_namenode_address(&config.namenode)?;
        let namenode_connection = connection::namenode_connection(&authority, config.rpc_timeout)?;
        let namenode = connection::namenode_client_as(&namenode_connection, &config.user)?;
        let client_host = local_host_towards(&authority).await;
        let client_name = format!("DFSClient_{:016x}", rand::random::<u64>());
        tracing::debug!(namenode = %authority, client = %client_name, %client_host, "client created");
        Ok(DfsClient {
            inner: Arc::new(Inner {
                config,
                client_name,
                client_host,
                namenode_connection,
                namenode,
                datanodes: DatanodeChannels::default(),
                lease_renewer: Arc::default(),
                server_defaults: OnceCell::new(),
            }),
        })
    }

    /// The same client acting as `user` (HDFS simple authentication): it
    /// shares the namenode channel, the datanode channels, the client name
    /// and the lease renewer, so it is cheap to make one per caller (the
    /// FUSE mount does, for each local user that touches the mount).
    pub fn with_user(&self, user: &str) -> Result<DfsClient> {
        let inner = &self.inner;
        let mut config = inner.config.clone();
        config.user = user.to_string();
        let server_defaults = OnceCell::new_with(inner.server_defaults.get().cloned());
        Ok(DfsClient {
            inner: Arc::new(Inner {
                namenode: connection::namenode_client_as(&inner.namenode_connection, user)?,
                namenode_connection: inner.namenode_connection.clone(),
                config,
                client_name: inner.client_name.clone(),
                client_host: inner.client_host.clone(),
                datanodes: inner.datanodes.clone(),
                lease_renewer: Arc::clone(&inner.lease_renewer),
                server_defaults,
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// "DFSClient_<random>": the lease holder's name on the namenode.
    pub fn client_name(&self) -> &str {
        &self.inner.client_name
    }

    /// The namenode's defaults (block size, replication, lease limit),
    /// fetched once per client.
    pub async fn server_defaults(&self) -> Result<ServerDefaults> {
        let defaults = self
            .inner
            .server_defaults
            .get_or_try_init(|| async {
                let mut nn = self.namenode();
                let response = nn.get_server_defaults(GetServerDefaultsRequest {}).await?;
                Ok::<_, DfsError>(response.into_inner())
            })
            .await?;
        Ok(defaults.clone())
    }

    /// The status of `path`, following a final symlink; `None` if it does
    /// not exist.
    pub async fn get_file_info(&self, path: &str) -> Result<Option<FileStatus>> {
        self.file_info(path, true).await
    }

    /// The status of `path` itself, even when it is a symlink.
    pub async fn get_file_link_info(&self, path: &str) -> Result<Option<FileStatus>> {
        self.file_info(path, false).await
    }

    async fn file_info(&self, path: &str, follow_symlink: bool) -> Result<Option<FileStatus>> {
        let request = GetFileInfoRequest {
            path: path.to_string(),
            follow_symlink,
        };
        match self.namenode().get_file_info(request).await {
            Ok(response) => Ok(response.into_inner().status),
            Err(status) => match DfsError::from(status) {
                err if err.kind() == ErrorKind::NotFound => Ok(None),
                err => Err(err),
            },
        }
    }

    /// Every entry of a directory (or the file itself), fetching all pages.
    pub async fn list(&self, path: &str) -> Result<Vec<FileStatus>> {
        let (mut entries, mut remaining) = self.list_page(path, "").await?;
        while remaining > 0 {
            let Some(last) = entries.last().map(|e| e.name.clone()) else {
                break;
            };
            let (page, left) = self.list_page(path, &last).await?;
            if page.is_empty() {
                break;
            }
            entries.extend(page);
            remaining = left;
        }
        Ok(entries)
    }

    /// One page of a listing: the entries after `start_after` (by UTF-8
    /// bytes) and how many remain after this page.
    pub async fn list_page(&self, path: &str, start_after: &str) -> Result<(Vec<FileStatus>, u32)> {
        let request = GetListingRequest {
            path: path.to_string(),
            start_after: start_after.to_string(),
            need_location: false,
        };
        let response = self.namenode().get_listing(request).await?.into_inner();
        Ok((response.entries, response.remaining_entries))
    }

    /// Creates `path` and its missing parents (`mkdir -p`); true if it was
    /// created or already a directory.
    pub async fn mkdirs(&self, path: &str, permission: Option<u16>) -> Result<bool> {
        let request = MkdirsRequest {
            path: path.to_string(),
            permission: u32::from(permission.unwrap_or(self.masked(DEFAULT_DIR_MODE))),
            create_parent: true,
        };
        Ok(self.namenode().mkdirs(request).await?.into_inner().created)
    }

    /// Creates a file and opens it for writing.
    pub async fn create(&self, path: &str, opts: CreateOptions) -> Result<FileWriter> {
        let config = &self.inner.config;
        let request = CreateRequest {
            path: path.to_string(),
            permission: u32::from(opts.permission.unwrap_or(self.masked(DEFAULT_FILE_MODE))),
            client_name: self.inner.client_name.clone(),
            overwrite: opts.overwrite,
            create_parent: opts.create_parent,
            replication: opts.replication.or(config.replication).unwrap_or(0),
            block_size: opts.block_size.or(config.block_size).unwrap_or(0),
        };
        let response = self.namenode().create(request).await?.into_inner();
        let status = response
            .status
            .ok_or_else(|| self.missing_field("CreateResponse.status"))?;
        let lease = self.register_writer().await;
        FileWriter::create(self.clone(), path.to_string(), status, lease)
    }

    /// Opens an existing file to write at its end.
    pub async fn append(&self, path: &str) -> Result<FileWriter> {
        let request = AppendRequest {
            path: path.to_string(),
            client_name: self.inner.client_name.clone(),
        };
        let response = self.namenode().append(request).await?.into_inner();
        let status = response
            .status
            .ok_or_else(|| self.missing_field("AppendResponse.status"))?;
        let lease = self.register_writer().await;
        FileWriter::append(
            self.clone(),
            path.to_string(),
            status,
            response.last_block,
            response.previous_generation_stamp,
            lease,
        )
        .await
    }

    /// Opens a file for reading.
    pub async fn open(&self, path: &str) -> Result<FileReader> {
        FileReader::open(self.clone(), path).await
    }

    pub async fn rename(&self, src: &str, dst: &str, overwrite: bool) -> Result<()> {
        let request = RenameRequest {
            src: src.to_string(),
            dst: dst.to_string(),
            overwrite,
        };
        self.namenode().rename(request).await?;
        Ok(())
    }

    /// Deletes `path`; a non-empty directory only when `recursive`. False if
    /// there was nothing to delete.
    pub async fn delete(&self, path: &str, recursive: bool) -> Result<bool> {
        let request = DeleteRequest {
            path: path.to_string(),
            recursive,
        };
        Ok(self.namenode().delete(request).await?.into_inner().deleted)
    }

    pub async fn set_permission(&self, path: &str, mode: u16) -> Result<()> {
        let request = SetPermissionRequest {
            path: path.to_string(),
            permission: u32::from(mode),
        };
        self.namenode().set_permission(request).await?;
        Ok(())
    }

    /// Changes the owner and/or the group; `None` leaves one unchanged.
    pub async fn set_owner(
        &self,
        path: &str,
        owner: Option<&str>,
        group: Option<&str>,
    ) -> Result<()> {
        let request = SetOwnerRequest {
            path: path.to_string(),
            owner: owner.unwrap_or_default().to_string(),
            group: group.unwrap_or_default().to_string(),
        };
        self.namenode().set_owner(request).await?;
        Ok(())
    }

    /// Sets the modification and/or access time (ms since the epoch);
    /// `None` leaves one unchanged.
    pub async fn set_times(
        &self,
        path: &str,
        mtime_ms: Option<u64>,
        atime_ms: Option<u64>,
    ) -> Result<()> {
        let to_wire = |time: Option<u64>| -> Result<i64> {
            match time {
                None => Ok(-1),
                Some(ms) => i64::try_from(ms).map_err(|_| {
                    DfsError::InvalidArgument(format!("{path}: time {ms} ms is out of range"))
                }),
            }
        };
        let request = SetTimesRequest {
            path: path.to_string(),
            modification_time_ms: to_wire(mtime_ms)?,
            access_time_ms: to_wire(atime_ms)?,
        };
        self.namenode().set_times(request).await?;
        Ok(())
    }

    /// Sets a file's replication; false when `path` is not a file.
    pub async fn set_replication(&self, path: &str, replication: u32) -> Result<bool> {
        let request = SetReplicationRequest {
            path: path.to_string(),
            replication,
        };
        Ok(self
            .namenode()
            .set_replication(request)
            .await?
            .into_inner()
            .changed)
    }

    pub async fn content_summary(&self, path: &str) -> Result<ContentSummary> {
        let request = GetContentSummaryRequest {
            path: path.to_string(),
        };
        Ok(self
            .namenode()
            .get_content_summary(request)
            .await?
            .into_inner())
    }

    /// The blocks covering `len` bytes from `offset`, with their replicas.
    pub async fn get_block_locations(
        &self,
        path: &str,
        offset: u64,
        len: u64,
    ) -> Result<LocatedBlocks> {
        let request = GetBlockLocationsRequest {
            path: path.to_string(),
            offset,
            length: len,
        };
        Ok(self
            .namenode()
            .get_block_locations(request)
            .await?
            .into_inner())
    }

    /// Sets the extended attribute `name` ("user.x", "trusted.y", ...).
    pub async fn set_xattr(
        &self,
        path: &str,
        name: &str,
        value: &[u8],
        flag: XAttrSetFlag,
    ) -> Result<()> {
        let request = SetXAttrRequest {
            path: path.to_string(),
            xattr: Some(XAttr {
                name: name.to_string(),
                value: bytes::Bytes::copy_from_slice(value),
            }),
            flag: flag as i32,
        };
        self.namenode().set_x_attr(request).await?;
        Ok(())
    }

    /// One extended attribute; `None` if the file has no such attribute.
    pub async fn get_xattr(&self, path: &str, name: &str) -> Result<Option<Vec<u8>>> {
        match self.fetch_xattrs(path, vec![name.to_string()]).await {
            Ok(xattrs) => Ok(xattrs
                .into_iter()
                .find(|(n, _)| n == name)
                .map(|(_, value)| value)),
            Err(err) if err.kind() == ErrorKind::XAttrNotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Every extended attribute the caller may read, with its value.
    pub async fn get_xattrs(&self, path: &str) -> Result<Vec<(String, Vec<u8>)>> {
        self.fetch_xattrs(path, Vec::new()).await
    }

    async fn fetch_xattrs(&self, path: &str, names: Vec<String>) -> Result<Vec<(String, Vec<u8>)>> {
        let request = GetXAttrsRequest {
            path: path.to_string(),
            names,
        };
        let response = self.namenode().get_x_attrs(request).await?.into_inner();
        Ok(response
            .xattrs
            .into_iter()
            .map(|x| (x.name, x.value.to_vec()))
            .collect())
    }

    /// The names of the extended attributes the caller may read.
    pub async fn list_xattrs(&self, path: &str) -> Result<Vec<String>> {
        let request = ListXAttrsRequest {
            path: path.to_string(),
        };
        Ok(self
            .namenode()
            .list_x_attrs(request)
            .await?
            .into_inner()
            .names)
    }

    pub async fn remove_xattr(&self, path: &str, name: &str) -> Result<()> {
        let request = RemoveXAttrRequest {
            path: path.to_string(),
            name: name.to_string(),
        };
        self.namenode().remove_x_attr(request).await?;
        Ok(())
    }

    /// Moves the blocks of `sources`, in order, to the end of `target` and
    /// deletes the sources (metadata only; no bytes move).
    pub async fn concat(&self, target: &str, sources: &[String]) -> Result<()> {
        let request = ConcatRequest {
            target: target.to_string(),
            sources: sources.to_vec(),
        };
        self.namenode().concat(request).await?;
        Ok(())
    }

    /// Cuts a file to `new_length`. False when the last block must first be
    /// cut on the datanodes: the file is under recovery until then.
    pub async fn truncate(&self, path: &str, new_length: u64) -> Result<bool> {
        let request = TruncateRequest {
            path: path.to_string(),
            new_length,
            client_name: self.inner.client_name.clone(),
        };
        Ok(self.namenode().truncate(request).await?.into_inner().done)
    }

    /// Creates `link` pointing at `target`.
    pub async fn create_symlink(
        &self,
        target: &str,
        link: &str,
        create_parent: bool,
    ) -> Result<()> {
        let request = CreateSymlinkRequest {
            target: target.to_string(),
            link: link.to_string(),
            permission: u32::from(DEFAULT_DIR_MODE),
            create_parent,
        };
        self.namenode().create_symlink(request).await?;
        Ok(())
    }

    pub async fn fs_stats(&self) -> Result<FsStats> {
        Ok(self
            .namenode()
            .get_fs_stats(GetFsStatsRequest {})
            .await?
            .into_inner())
    }

    pub async fn datanode_report(&self, kind: DatanodeReportType) -> Result<Vec<DatanodeInfo>> {
        let request = GetDatanodeReportRequest {
            report_type: kind as i32,
        };
        Ok(self
            .namenode()
            .get_datanode_report(request)
            .await?
            .into_inner()
            .datanodes)
    }

    /// Gets, enters or leaves safe mode: whether it is on afterwards, and
    /// the namenode's explanation.
    pub async fn set_safe_mode(&self, action: SafeModeAction) -> Result<(bool, String)> {
        let request = SetSafeModeRequest {
            action: action as i32,
        };
        let response = self.namenode().set_safe_mode(request).await?.into_inner();
        Ok((response.on, response.status))
    }

    /// Decommissions or recommissions the datanode at `datanode`
    /// ("host:port"); superuser only. Returns the node as the namenode
    /// then sees it.
    pub async fn set_datanode_admin_state(
        &self,
        datanode: &str,
        action: DatanodeAdminAction,
    ) -> Result<Option<DatanodeInfo>> {
        let request = SetDatanodeAdminStateRequest {
            datanode: datanode.to_string(),
            action: action as i32,
        };
        Ok(self
            .namenode()
            .set_datanode_admin_state(request)
            .await?
            .into_inner()
            .datanode)
    }

    // ---- for the streams ----

    /// The namenode's `ClientProtocol` itself, calling as this client's
    /// user over its connection (clones share the connection): for the
    /// streams, and for tools that make calls this API does not wrap.
    pub fn namenode(&self) -> NamenodeClient {
        self.inner.namenode.clone()
    }

    /// The `DataTransfer` client of the datanode at `address` ("host:port").
    pub(crate) fn datanode(&self, address: &str) -> Result<DatanodeClient> {
        self.inner.datanodes.client(address)
    }

    pub(crate) fn client_host(&self) -> &str {
        &self.inner.client_host
    }

    /// Tells the namenode that `node`'s replica of `block` is corrupt.
    /// Best effort: the read carries on with another replica either way.
    pub(crate) async fn report_bad_block(&self, block: &LocatedBlock, node: &DatanodeInfo) {
        let request = ReportBadBlocksRequest {
            blocks: vec![LocatedBlock {
                block: block.block,
                offset: block.offset,
                locations: vec![node.clone()],
                corrupt: false,
                corrupt_datanode_uuids: Vec::new(),
            }],
        };
        if let Err(status) = self.namenode().report_bad_blocks(request).await {
            tracing::warn!(
                datanode = %connection::datanode_address(node),
                block = block.block.map(|b| b.id).unwrap_or_default(),
                error = %status.message(),
                "could not report a corrupt replica"
            );
        }
    }

    /// Counts a new writer for the lease renewer, starting it if needed.
    async fn register_writer(&self) -> LeaseGuard {
        let interval = match self.server_defaults().await {
            Ok(defaults) if defaults.lease_soft_limit_ms > 0 => {
                Duration::from_millis(defaults.lease_soft_limit_ms / 2)
            }
            Ok(_) => DEFAULT_RENEW_INTERVAL,
            Err(err) => {
                tracing::debug!(error = %err, "no server defaults; renewing the lease every 30 s");
                DEFAULT_RENEW_INTERVAL
            }
        };
        self.inner
            .lease_renewer
            .register(self.namenode(), self.inner.client_name.clone(), interval)
    }

    #[cfg(test)]
    pub(crate) fn lease_renewer(&self) -> &LeaseRenewer {
        &self.inner.lease_renewer
    }

    fn masked(&self, mode: u16) -> u16 {
        mode & !self.inner.config.umask
    }

    fn missing_field(&self, field: &str) -> DfsError {
        DfsError::Protocol {
            peer: self.inner.config.namenode.clone(),
            message: format!("{field} is missing"),
        }
    }
}

/// The local address this host uses to reach the namenode (found by
/// "connecting" a UDP socket, which sends nothing), or 127.0.0.1 when it
/// cannot be determined; the namenode uses it to place a first replica on
/// the writer's own datanode.
async fn local_host_towards(authority: &str) -> String {
    let fallback = "127.0.0.1".to_string();
    let Ok(mut addrs) = tokio::net::lookup_host(authority).await else {
        return fallback;
    };
    let Some(target) = addrs.next() else {
        return fallback;
    };
    let bind = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let Ok(socket) = tokio::net::UdpSocket::bind(bind).await else {
        return fallback;
    };
    if socket.connect(target).await.is_err() {
        return fallback;
    }
    match socket.local_addr() {
        Ok(local) if !local.ip().is_unspecified() => local.ip().to_string(),
        _ => fallback,
    }
}
