//! An in-memory namespace with HDFS's answers, for testing the shell's
//! commands without a cluster: the errors and return values the namenode
//! gives (`mkdirs` over a file, `delete` of a missing path returning false,
//! `create` without a parent, ...), files with bytes, a fixed set of
//! datanodes for block locations, and paths where writes are refused.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use bytes::Bytes;
use cairn_client::{
    ContentSummary, CreateOptions, DatanodeInfo, DfsError, ErrorKind, FileStatus, FileType,
    FsStats, LocatedBlock, LocatedBlocks, Result,
};
use cairn_proto::RpcError;
use cairn_proto::pb::Block;

use super::file_system::{FileSystem, ReadFile, WriteFile};
use super::path_data::{base_name, join, parent_of};

/// The clock of the fake: every change happens at this time.
pub(crate) const NOW_MS: u64 = 1_704_164_645_678;

#[derive(Debug, Clone)]
struct Node {
    status: FileStatus,
    data: Vec<u8>,
    xattrs: BTreeMap<String, Vec<u8>>,
}

#[derive(Debug, Default)]
struct State {
    nodes: BTreeMap<String, Node>,
    /// Path prefixes under which the "user" may not write.
    read_only: Vec<String>,
    /// Live replicas per block, overriding the file's replication.
    live_replicas: Option<u32>,
    datanodes: Vec<DatanodeInfo>,
    stats: FsStats,
    next_block: u64,
}

/// A shared in-memory file system; clones see the same namespace.
#[derive(Debug, Clone, Default)]
pub(crate) struct FakeFs {
    state: Rc<RefCell<State>>,
    user: String,
}

fn error(kind: ErrorKind, message: impl Into<String>) -> DfsError {
    DfsError::Rpc(RpcError::new(kind, message))
}

impl FakeFs {
    /// A namespace with `/` and `/user/<user>`, three datanodes.
    pub(crate) fn new(user: &str) -> Self {
        let fs = FakeFs {
            state: Rc::default(),
            user: user.to_string(),
        };
        {
            let mut state = fs.state.borrow_mut();
            state
                .nodes
                .insert("/".to_string(), fs.node("", FileType::Directory, 0o755));
            state.datanodes = (0..3)
                .map(|i| DatanodeInfo {
                    datanode_uuid: format!("dn-{i}"),
                    host: "127.0.0.1".into(),
                    xfer_port: 9866 + i,
                    rack: "/default-rack".into(),
                    alive: true,
                    ..Default::default()
                })
                .collect();
            state.stats = FsStats {
                capacity: 3 << 30,
                used: 0,
                remaining: 3 << 30,
                ..Default::default()
            };
        }
        fs.mkdir_p(&format!("/user/{user}"));
        fs
    }

    fn node(&self, name: &str, kind: FileType, mode: u32) -> Node {
        Node {
            status: FileStatus {
                name: name.to_string(),
                file_type: kind as i32,
                permission: mode,
                owner: self.user.clone(),
                group: "supergroup".into(),
                modification_time_ms: NOW_MS,
                access_time_ms: NOW_MS,
                replication: if kind == FileType::File { 3 } else { 0 },
                block_size: if kind == FileType::File { 128 << 20 } else { 0 },
                ..Default::default()
            },
            data: Vec::new(),
            xattrs: BTreeMap::new(),
        }
    }

    /// Test setup: directories (with parents).
    pub(crate) fn mkdir_p(&self, path: &str) {
        let mut current = String::from("/");
        for part in path.split('/').filter(|p| !p.is_empty()) {
            current = join(&current, part);
            if !self.state.borrow().nodes.contains_key(&current) {
                let node = self.node(part, FileType::Directory, 0o755);
                self.state.borrow_mut().nodes.insert(current.clone(), node);
            }
        }
    }

    /// Test setup: a file with contents (parents created).
    pub(crate) fn put(&self, path: &str, data: &[u8]) {
        self.mkdir_p(parent_of(path));
        let mut node = self.node(base_name(path), FileType::File, 0o644);
        node.status.length = data.len() as u64;
        node.data = data.to_vec();
        self.state.borrow_mut().nodes.insert(path.to_string(), node);
    }

    /// Test setup: change a status in place.
    pub(crate) fn edit(&self, path: &str, change: impl FnOnce(&mut FileStatus)) {
        if let Some(node) = self.state.borrow_mut().nodes.get_mut(path) {
            change(&mut node.status);
        }
    }

    /// Test setup: writes under `prefix` fail with HDFS's permission text.
    pub(crate) fn deny_writes(&self, prefix: &str) {
        self.state.borrow_mut().read_only.push(prefix.to_string());
    }

    /// Test setup: every block reports this many live replicas.
    pub(crate) fn set_live_replicas(&self, live: u32) {
        self.state.borrow_mut().live_replicas = Some(live);
    }

    /// The bytes of a file, or `None`.
    pub(crate) fn data(&self, path: &str) -> Option<Vec<u8>> {
        self.state.borrow().nodes.get(path).map(|n| n.data.clone())
    }

    /// A status, or `None`.
    pub(crate) fn status(&self, path: &str) -> Option<FileStatus> {
        self.state
            .borrow()
            .nodes
            .get(path)
            .map(|n| n.status.clone())
    }

    /// Every path, sorted: to compare namespaces before and after.
    pub(crate) fn paths(&self) -> Vec<String> {
        self.state.borrow().nodes.keys().cloned().collect()
    }

    fn check_write(&self, path: &str) -> Result<()> {
        let state = self.state.borrow();
        if let Some(prefix) = state
            .read_only
            .iter()
            .find(|p| path.starts_with(p.as_str()))
        {
            return Err(error(
                ErrorKind::PermissionDenied,
                format!(
                    "Permission denied: user={}, access=WRITE, inode=\"{prefix}\":hdfs:supergroup:drwxr-xr-x",
                    self.user
                ),
            ));
        }
        Ok(())
    }

    fn kind_of(&self, path: &str) -> Option<FileType> {
        self.state
            .borrow()
            .nodes
            .get(path)
            .and_then(|n| FileType::try_from(n.status.file_type).ok())
    }

    /// The parent must be an existing directory.
    fn check_parent(&self, path: &str) -> Result<()> {
        let parent = parent_of(path);
        match self.kind_of(parent) {
            None => Err(error(
                ErrorKind::NotFound,
                format!("Parent directory doesn't exist: {parent}"),
            )),
            Some(FileType::Directory) => Ok(()),
            Some(_) => Err(error(
                ErrorKind::NotADirectory,
                format!("Parent path is not a directory: {parent}"),
            )),
        }
    }

    fn children(&self, path: &str) -> Vec<String> {
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        self.state
            .borrow()
            .nodes
            .keys()
            .filter(|k| k.starts_with(&prefix) && *k != "/" && !k[prefix.len()..].contains('/'))
            .cloned()
            .collect()
    }

    fn subtree(&self, path: &str) -> Vec<String> {
        let prefix = format!("{path}/");
        self.state
            .borrow()
            .nodes
            .keys()
            .filter(|k| *k == path || k.starts_with(&prefix))
            .cloned()
            .collect()
    }

    fn missing(path: &str) -> DfsError {
        error(ErrorKind::NotFound, format!("File does not exist: {path}"))
    }
}

/// A reader over a snapshot of the file's bytes, in 4-byte chunks so that
/// tests cross chunk boundaries.
pub(crate) struct FakeReader {
    data: Bytes,
    pos: usize,
}

impl ReadFile for FakeReader {
    fn seek(&mut self, pos: u64) {
        self.pos = usize::try_from(pos)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
    }

    async fn read_chunk(&mut self) -> Result<Option<Bytes>> {
        if self.pos >= self.data.len() {
            return Ok(None);
        }
        let end = (self.pos + 4).min(self.data.len());
        let chunk = self.data.slice(self.pos..end);
        self.pos = end;
        Ok(Some(chunk))
    }
}

/// A writer that makes its bytes visible at close.
pub(crate) struct FakeWriter {
    fs: FakeFs,
    path: String,
    data: Vec<u8>,
}

impl WriteFile for FakeWriter {
    async fn write_bytes(&mut self, data: Bytes) -> Result<()> {
        self.data.extend_from_slice(&data);
        Ok(())
    }

    async fn close(self) -> Result<()> {
        let mut state = self.fs.state.borrow_mut();
        let node = state
            .nodes
            .get_mut(&self.path)
            .ok_or_else(|| FakeFs::missing(&self.path))?;
        node.status.length = self.data.len() as u64;
        node.data = self.data;
        Ok(())
    }
}

impl FileSystem for FakeFs {
    type Reader = FakeReader;
    type Writer = FakeWriter;

    async fn get_file_info(&self, path: &str) -> Result<Option<FileStatus>> {
        Ok(self.status(path))
    }

    async fn list(&self, path: &str) -> Result<Vec<FileStatus>> {
        match self.kind_of(path) {
            None => Err(Self::missing(path)),
            Some(FileType::Directory) => Ok(self
                .children(path)
                .iter()
                .filter_map(|c| self.status(c))
                .collect()),
            Some(_) => Ok(self.status(path).into_iter().collect()),
        }
    }

    async fn mkdirs(&self, path: &str, _permission: Option<u16>) -> Result<bool> {
        let mut current = String::from("/");
        for part in path.split('/').filter(|p| !p.is_empty()) {
            current = join(&current, part);
            match self.kind_of(&current) {
                Some(FileType::Directory) => {}
                Some(_) => {
                    return Err(error(
                        ErrorKind::NotADirectory,
                        format!("Parent path is not a directory: {current}"),
                    ));
                }
                None => {
                    self.check_write(&current)?;
                    let node = self.node(part, FileType::Directory, 0o755);
                    self.state.borrow_mut().nodes.insert(current.clone(), node);
                }
            }
        }
        Ok(true)
    }

    async fn create(&self, path: &str, opts: CreateOptions) -> Result<FakeWriter> {
        self.check_write(path)?;
        match self.kind_of(path) {
            Some(FileType::Directory) => {
                return Err(error(
                    ErrorKind::AlreadyExists,
                    format!("{path} already exists as a directory"),
                ));
            }
            Some(_) if !opts.overwrite => {
                return Err(error(
                    ErrorKind::AlreadyExists,
                    format!("{path} for client 127.0.0.1 already exists"),
                ));
            }
            _ => {}
        }
        if opts.create_parent {
            self.mkdirs(parent_of(path), None).await?;
        }
        self.check_parent(path)?;
        let mut node = self.node(base_name(path), FileType::File, 0o644);
        if let Some(replication) = opts.replication {
            node.status.replication = replication;
        }
        self.state.borrow_mut().nodes.insert(path.to_string(), node);
        Ok(FakeWriter {
            fs: self.clone(),
            path: path.to_string(),
            data: Vec::new(),
        })
    }

    async fn append(&self, path: &str) -> Result<FakeWriter> {
        self.check_write(path)?;
        let data = self.data(path).ok_or_else(|| Self::missing(path))?;
        Ok(FakeWriter {
            fs: self.clone(),
            path: path.to_string(),
            data,
        })
    }

    async fn open(&self, path: &str) -> Result<FakeReader> {
        match self.kind_of(path) {
            None => Err(Self::missing(path)),
            Some(FileType::Directory) => Err(error(
                ErrorKind::IsADirectory,
                format!("Path is not a file: {path}"),
            )),
            Some(_) => Ok(FakeReader {
                data: Bytes::from(self.data(path).unwrap_or_default()),
                pos: 0,
            }),
        }
    }

    async fn rename(&self, src: &str, dst: &str, overwrite: bool) -> Result<()> {
        self.check_write(src)?;
        self.check_write(dst)?;
        if self.kind_of(src).is_none() {
            return Err(Self::missing(src));
        }
        if dst == src || dst.starts_with(&format!("{src}/")) {
            return Err(error(
                ErrorKind::InvalidArgument,
                format!("Rename destination {dst} is a directory or file under source {src}"),
            ));
        }
        if self.kind_of(dst).is_some() && !overwrite {
            return Err(error(
                ErrorKind::AlreadyExists,
                format!("rename destination {dst} already exists"),
            ));
        }
        self.check_parent(dst)?;
        let moved = self.subtree(src);
        let mut state = self.state.borrow_mut();
        state.nodes.remove(dst);
        for old in moved {
            if let Some(mut node) = state.nodes.remove(&old) {
                let new = format!("{dst}{}", &old[src.len()..]);
                node.status.name = base_name(&new).to_string();
                state.nodes.insert(new, node);
            }
        }
        Ok(())
    }

    async fn delete(&self, path: &str, recursive: bool) -> Result<bool> {
        self.check_write(path)?;
        if path == "/" {
            return Ok(false);
        }
        match self.kind_of(path) {
            None => return Ok(false),
            Some(FileType::Directory) if !recursive && !self.children(path).is_empty() => {
                return Err(error(
                    ErrorKind::DirectoryNotEmpty,
                    format!("`{path} is non empty': Directory is not empty"),
                ));
            }
            _ => {}
        }
        let doomed = self.subtree(path);
        let mut state = self.state.borrow_mut();
        for gone in doomed {
            state.nodes.remove(&gone);
        }
        Ok(true)
    }

    async fn set_permission(&self, path: &str, mode: u16) -> Result<()> {
        self.check_write(path)?;
        let mut state = self.state.borrow_mut();
        let node = state
            .nodes
            .get_mut(path)
            .ok_or_else(|| Self::missing(path))?;
        node.status.permission = u32::from(mode);
        Ok(())
    }

    async fn set_owner(&self, path: &str, owner: Option<&str>, group: Option<&str>) -> Result<()> {
        self.check_write(path)?;
        let mut state = self.state.borrow_mut();
        let node = state
            .nodes
            .get_mut(path)
            .ok_or_else(|| Self::missing(path))?;
        if let Some(owner) = owner {
            node.status.owner = owner.to_string();
        }
        if let Some(group) = group {
            node.status.group = group.to_string();
        }
        Ok(())
    }

    async fn set_times(
        &self,
        path: &str,
        mtime_ms: Option<u64>,
        atime_ms: Option<u64>,
    ) -> Result<()> {
        self.check_write(path)?;
        let mut state = self.state.borrow_mut();
        let node = state
            .nodes
            .get_mut(path)
            .ok_or_else(|| Self::missing(path))?;
        if let Some(mtime) = mtime_ms {
            node.status.modification_time_ms = mtime;
        }
        if let Some(atime) = atime_ms {
            node.status.access_time_ms = atime;
        }
        Ok(())
    }

    async fn set_replication(&self, path: &str, replication: u32) -> Result<bool> {
        self.check_write(path)?;
        let mut state = self.state.borrow_mut();
        let node = state
            .nodes
            .get_mut(path)
            .ok_or_else(|| Self::missing(path))?;
        if node.status.file_type != FileType::File as i32 {
            return Ok(false);
        }
        node.status.replication = replication;
        Ok(true)
    }

    async fn content_summary(&self, path: &str) -> Result<ContentSummary> {
        if self.kind_of(path).is_none() {
            return Err(Self::missing(path));
        }
        let mut summary = ContentSummary {
            quota: -1,
            space_quota: -1,
            ..Default::default()
        };
        for member in self.subtree(path) {
            let Some(status) = self.status(&member) else {
                continue;
            };
            if status.file_type == FileType::Directory as i32 {
                summary.directory_count += 1;
            } else {
                summary.file_count += 1;
                summary.length += status.length;
                summary.space_consumed += status.length * u64::from(status.replication);
            }
        }
        Ok(summary)
    }

    async fn get_block_locations(
        &self,
        path: &str,
        _offset: u64,
        _len: u64,
    ) -> Result<LocatedBlocks> {
        let status = self.status(path).ok_or_else(|| Self::missing(path))?;
        let mut state = self.state.borrow_mut();
        let live = state.live_replicas.unwrap_or(status.replication) as usize;
        let block_size = status.block_size.max(1);
        let mut blocks = Vec::new();
        let mut offset = 0;
        while offset < status.length {
            let len = block_size.min(status.length - offset);
            state.next_block += 1;
            blocks.push(LocatedBlock {
                block: Some(Block {
                    id: 1_073_741_824 + state.next_block,
                    generation_stamp: 1000 + state.next_block,
                    num_bytes: len,
                }),
                offset,
                locations: state.datanodes.iter().take(live).cloned().collect(),
                corrupt: false,
                corrupt_datanode_uuids: Vec::new(),
            });
            offset += len;
        }
        Ok(LocatedBlocks {
            file_length: status.length,
            blocks,
            under_construction: status.under_construction,
            last_block: None,
            last_block_complete: true,
        })
    }

    async fn fs_stats(&self) -> Result<FsStats> {
        Ok(self.state.borrow().stats)
    }

    async fn get_xattrs(&self, path: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let state = self.state.borrow();
        let node = state.nodes.get(path).ok_or_else(|| Self::missing(path))?;
        Ok(node
            .xattrs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn set_xattr(&self, path: &str, name: &str, value: &[u8]) -> Result<()> {
        self.check_write(path)?;
        let mut state = self.state.borrow_mut();
        let node = state
            .nodes
            .get_mut(path)
            .ok_or_else(|| Self::missing(path))?;
        node.xattrs.insert(name.to_string(), value.to_vec());
        Ok(())
    }

    async fn truncate(&self, path: &str, new_length: u64) -> Result<bool> {
        self.check_write(path)?;
        let mut state = self.state.borrow_mut();
        let node = state
            .nodes
            .get_mut(path)
            .ok_or_else(|| Self::missing(path))?;
        let len = usize::try_from(new_length).unwrap_or(usize::MAX);
        node.data.truncate(len);
        node.status.length = node.data.len() as u64;
        // A cut inside a block needs recovery in HDFS; here it is instant.
        Ok(new_length.is_multiple_of(node.status.block_size.max(1)))
    }
}
