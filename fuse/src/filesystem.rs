//! [`CairnFs`]: the `fuser::Filesystem` over a [`DfsClient`]. Every
//! callback runs on fuser's one session thread and only starts a task on
//! the tokio runtime, which replies when the namenode or the datanodes have
//! answered: many requests are in flight at once, and a slow one never
//! holds up the next.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use cairn_client::{CreateOptions, DfsClient, ErrorKind, FileStatus, FileType as CairnFileType};
use fuser::{
    AccessFlags, BsdFileFlags, Errno, FileAttr, FileHandle, FopenFlags, Generation, INodeNo,
    InitFlags, KernelConfig, LockOwner, Notifier, OpenAccMode, OpenFlags, RenameFlags, ReplyAttr,
    ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs,
    ReplyWrite, ReplyXattr, Request, SessionUnmounter, TimeOrNow, WriteFlags,
};
use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::access::{self, Caller};
use crate::dir::DirListing;
use crate::error::{errno_of, to_errno};
use crate::handles::{HandleTable, OpenFile};
use crate::inode::{self, BLOCK_SIZE, Parents, child_path, inode_path};
use crate::options::MountOptions;
use crate::page_cache::CachedVersions;
use crate::users::UserMap;
use crate::writer::{self, WriteQueue, WrittenSizes};
use crate::xattr;

/// The largest read and write the kernel sends in one request.
const MAX_IO: u32 = 1024 * 1024;
/// Requests the kernel may have outstanding in the background (read-ahead,
/// async reads).
const MAX_BACKGROUND: u16 = 64;

/// What every task of the mount shares.
pub struct MountState {
    runtime: Handle,
    client: DfsClient,
    clients: Mutex<HashMap<u32, DfsClient>>,
    users: UserMap,
    options: MountOptions,
    pub handles: HandleTable,
    sizes: Arc<WrittenSizes>,
    /// Which files' cached pages the kernel may keep at open.
    cached: CachedVersions,
    parents: Parents,
    /// fuser's own unmount, taken by whichever end comes first: fuser would
    /// otherwise unmount again when the session ends, after someone else did.
    unmounter: Mutex<Option<SessionUnmounter>>,
    /// Tells the kernel to drop what it cached.
    notifier: Mutex<Option<Notifier>>,
}

impl MountState {
    pub fn new(runtime: Handle, client: DfsClient, options: MountOptions) -> Self {
        Self {
            runtime,
            client,
            clients: Mutex::default(),
            users: UserMap::new(options.nobody_uid, options.nobody_gid),
            options,
            handles: HandleTable::default(),
            sizes: Arc::default(),
            cached: CachedVersions::default(),
            parents: Parents::default(),
            unmounter: Mutex::default(),
            notifier: Mutex::default(),
        }
    }

    pub fn set_notifier(&self, notifier: Notifier) {
        *self.notifier.lock() = Some(notifier);
    }

    /// Makes the kernel ask for `ino`'s attributes again before it trusts
    /// its length, so that an open sees the length the namenode has now
    /// rather than one cached up to `attr_ttl` ago (close-to-open). Only
    /// the attributes: no page lock is taken, so an open may call it.
    fn drop_cached_attributes(&self, ino: INodeNo) {
        let notifier = self.notifier.lock().clone();
        if let Some(notifier) = notifier
            && let Err(err) = notifier.inval_inode(ino, -1, 0)
        {
            // The kernel has no such inode cached: nothing to drop.
            tracing::trace!(ino = ino.0, error = %err, "attributes not dropped");
        }
    }

    pub fn set_unmounter(&self, unmounter: SessionUnmounter) {
        *self.unmounter.lock() = Some(unmounter);
    }

    /// Lets fuser forget its mount once the mount point is no longer ours
    /// (fuser's own unmount then only answers EINVAL).
    pub fn forget_mount(&self) {
        if let Some(mut unmounter) = self.unmounter.lock().take()
            && let Err(err) = unmounter.unmount()
        {
            tracing::debug!(error = %err, "fuser's unmount after ours");
        }
    }

    /// The client acting for local user `uid`: its name is the Cairn user.
    fn client_for(&self, uid: u32) -> Result<DfsClient, Errno> {
        if let Some(client) = self.clients.lock().get(&uid) {
            return Ok(client.clone());
        }
        let name = self.users.user_name(uid);
        let client = if name == self.client.config().user {
            self.client.clone()
        } else {
            self.client
                .with_user(&name)
                .map_err(|e| to_errno("user", e))?
        };
        self.clients.lock().insert(uid, client.clone());
        Ok(client)
    }

    fn writable(&self) -> Result<(), Errno> {
        if self.options.read_only {
            Err(Errno::EROFS)
        } else {
            Ok(())
        }
    }

    fn attr(&self, status: &FileStatus) -> FileAttr {
        inode::attr(status, &self.users, self.sizes.get(status.inode_id))
    }

    fn reply_entry(&self, reply: ReplyEntry, status: &FileStatus) {
        reply.entry_with_ttls(
            &self.options.attr_ttl,
            &self.options.entry_ttl,
            &self.attr(status),
            Generation(0),
        );
    }

    /// The local names of the groups of the process `pid` asking as
    /// `gid`: its primary group and its supplementary groups.
    fn caller_groups(&self, gid: u32, pid: u32) -> Vec<String> {
        std::iter::once(gid)
            .chain(access::supplementary_gids(pid))
            .filter_map(|gid| self.users.group_name(gid))
            .collect()
    }
}

/// The status of `path` itself (a symlink is not followed).
async fn stat(client: &DfsClient, path: &str) -> Result<FileStatus, Errno> {
    match client.get_file_link_info(path).await {
        Ok(Some(status)) => Ok(status),
        Ok(None) => Err(Errno::ENOENT),
        // A name the namenode cannot hold (".reserved" at the root) is
        // simply not there.
        Err(err) if err.kind() == ErrorKind::InvalidPath => Err(Errno::ENOENT),
        Err(err) => Err(to_errno("stat", err)),
    }
}

fn now_ms() -> u64 {
    inode::to_ms(SystemTime::now())
}

fn time_ms(time: Option<TimeOrNow>) -> Option<u64> {
    time.map(|t| match t {
        TimeOrNow::SpecificTime(time) => inode::to_ms(time),
        TimeOrNow::Now => now_ms(),
    })
}

/// chmod, chown and utimes by someone who may not: EPERM, as POSIX says.
fn attr_errno(op: &str, err: cairn_client::DfsError) -> Errno {
    match errno_of(&err) {
        Errno::EACCES => Errno::EPERM,
        _ => to_errno(op, err),
    }
}

pub struct CairnFs {
    state: Arc<MountState>,
    /// Told when the kernel ends the session (an unmount from outside).
    ended: watch::Sender<bool>,
}

impl CairnFs {
    pub fn new(state: Arc<MountState>, ended: watch::Sender<bool>) -> Self {
        Self { state, ended }
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.state.runtime.spawn(task);
    }

    /// Runs `op` for the caller of `req` with its client and replies with
    /// an entry in directory `parent` for the status it returns.
    fn entry_op<F, Fut>(&self, req: &Request, parent: INodeNo, reply: ReplyEntry, op: F)
    where
        F: FnOnce(DfsClient) -> Fut + Send + 'static,
        Fut: Future<Output = Result<FileStatus, Errno>> + Send,
    {
        let state = Arc::clone(&self.state);
        let uid = req.uid();
        self.spawn(async move {
            let result = async { op(state.client_for(uid)?).await }.await;
            match result {
                Ok(status) => {
                    state.parents.note(parent.0, &status);
                    state.reply_entry(reply, &status)
                }
                Err(errno) => reply.error(errno),
            }
        });
    }

    /// Runs `op` for the caller of `req` and replies empty.
    fn empty_op<F, Fut>(&self, req: &Request, reply: ReplyEmpty, op: F)
    where
        F: FnOnce(DfsClient) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Errno>> + Send,
    {
        let state = Arc::clone(&self.state);
        let uid = req.uid();
        self.spawn(async move {
            match async { op(state.client_for(uid)?).await }.await {
                Ok(()) => reply.ok(),
                Err(errno) => reply.error(errno),
            }
        });
    }
}

impl CairnFs {
    /// The path of a name about to be created, changed or removed in
    /// `parent`; EROFS on a read-only mount.
    fn new_path(&self, parent: INodeNo, name: &OsStr) -> Result<String, Errno> {
        self.state.writable()?;
        child_path(parent, name)
    }

    /// Runs `op` on the write queue of `file` and replies empty; a handle
    /// that was not opened for writing has nothing to flush.
    fn queue_op<F, Fut>(&self, file: Option<Arc<OpenFile>>, reply: ReplyEmpty, op: F)
    where
        F: FnOnce(WriteQueue) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Errno>> + Send,
    {
        let Some(queue) = file.and_then(|f| f.writes.clone()) else {
            return reply.ok();
        };
        self.spawn(async move {
            match op(queue).await {
                Ok(()) => reply.ok(),
                Err(errno) => reply.error(errno),
            }
        });
    }

    /// Runs a get/list xattr request for the caller of `req`.
    fn xattr_read<F, Fut>(&self, req: &Request, reply: ReplyXattr, op: F)
    where
        F: FnOnce(DfsClient, ReplyXattr) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let state = Arc::clone(&self.state);
        let uid = req.uid();
        self.spawn(async move {
            match state.client_for(uid) {
                Ok(client) => op(client, reply).await,
                Err(errno) => reply.error(errno),
            }
        });
    }
}

impl fuser::Filesystem for CairnFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Each setter refuses a value the kernel cannot take and names the
        // nearest it can; take that one.
        if let Err(nearest) = config.set_max_write(MAX_IO) {
            let _ = config.set_max_write(nearest);
        }
        if let Err(nearest) = config.set_max_readahead(MAX_IO) {
            let _ = config.set_max_readahead(nearest);
        }
        let _ = config.set_max_background(MAX_BACKGROUND);
        let _ = config.set_congestion_threshold(MAX_BACKGROUND * 3 / 4);
        let wanted = InitFlags::FUSE_MAX_PAGES | InitFlags::FUSE_ASYNC_READ;
        let _ = config.add_capabilities(wanted & config.capabilities());
        Ok(())
    }

    fn destroy(&mut self) {
        self.state.forget_mount();
        let _ = self.ended.send(true);
    }

    /// The kernel dropped the inode, and its cached pages with it.
    fn forget(&self, _req: &Request, ino: INodeNo, _nlookup: u64) {
        self.state.cached.forget(ino.0);
    }

    fn lookup(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let path = match child_path(parent, name) {
            Ok(path) => path,
            Err(_) => return reply.error(Errno::ENOENT),
        };
        self.entry_op(req, parent, reply, |client| async move {
            stat(&client, &path).await
        });
    }

    fn getattr(&self, req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let state = Arc::clone(&self.state);
        let uid = req.uid();
        self.spawn(async move {
            let result = async { stat(&state.client_for(uid)?, &inode_path(ino)).await }.await;
            match result {
                Ok(status) => reply.attr(&state.options.attr_ttl, &state.attr(&status)),
                Err(errno) => reply.error(errno),
            }
        });
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let state = Arc::clone(&self.state);
        let caller = req.uid();
        self.spawn(async move {
            let result = async {
                state.writable()?;
                let client = state.client_for(caller)?;
                let path = inode_path(ino);
                if let Some(mode) = mode {
                    let mode = u16::try_from(mode & 0o7777).map_err(|_| Errno::EINVAL)?;
                    client
                        .set_permission(&path, mode)
                        .await
                        .map_err(|e| attr_errno("chmod", e))?;
                }
                if uid.is_some() || gid.is_some() {
                    let owner = uid.map(|uid| state.users.user_name(uid));
                    let group = match gid {
                        Some(gid) => Some(state.users.group_name(gid).ok_or(Errno::EINVAL)?),
                        None => None,
                    };
                    client
                        .set_owner(&path, owner.as_deref(), group.as_deref())
                        .await
                        .map_err(|e| attr_errno("chown", e))?;
                }
                if let Some(size) = size {
                    let queue = fh
                        .and_then(|fh| state.handles.file(fh.0).ok())
                        .and_then(|file| file.writes.clone());
                    match queue {
                        Some(queue) => queue.truncate(size).await?,
                        None => {
                            writer::close(writer::truncate(&client, &path, size).await?).await?
                        }
                    }
                }
                if atime.is_some() || mtime.is_some() {
                    client
                        .set_times(&path, time_ms(mtime), time_ms(atime))
                        .await
                        .map_err(|e| attr_errno("utimes", e))?;
                }
                stat(&client, &path).await
            }
            .await;
            match result {
                Ok(status) => reply.attr(&state.options.attr_ttl, &state.attr(&status)),
                Err(errno) => reply.error(errno),
            }
        });
    }

    fn readlink(&self, req: &Request, ino: INodeNo, reply: ReplyData) {
        let state = Arc::clone(&self.state);
        let uid = req.uid();
        self.spawn(async move {
            let result = async { stat(&state.client_for(uid)?, &inode_path(ino)).await }.await;
            match result {
                Ok(status) if status.file_type() == CairnFileType::Symlink => {
                    reply.data(status.symlink_target.as_bytes())
                }
                Ok(_) => reply.error(Errno::EINVAL),
                Err(errno) => reply.error(errno),
            }
        });
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        // Only regular files exist in Cairn: no devices, pipes or sockets.
        if mode & libc::S_IFMT != libc::S_IFREG {
            return reply.error(Errno::EPERM);
        }
        let path = match self.new_path(parent, name) {
            Ok(path) => path,
            Err(errno) => return reply.error(errno),
        };
        let permission = file_mode(mode, umask);
        self.entry_op(req, parent, reply, move |client| async move {
            let options = CreateOptions {
                permission: Some(permission),
                ..CreateOptions::default()
            };
            let writer = client
                .create(&path, options)
                .await
                .map_err(|e| to_errno("mknod", e))?;
            writer.close().await.map_err(|e| to_errno("mknod", e))?;
            stat(&client, &path).await
        });
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let path = match self.new_path(parent, name) {
            Ok(path) => path,
            Err(errno) => return reply.error(errno),
        };
        let permission = file_mode(mode, umask);
        self.entry_op(req, parent, reply, move |client| async move {
            let created = client
                .mkdirs(&path, Some(permission))
                .await
                .map_err(|e| to_errno("mkdir", e))?;
            if !created {
                return Err(Errno::EEXIST);
            }
            stat(&client, &path).await
        });
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(req, parent, name, false, reply);
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(req, parent, name, true, reply);
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let path = match self.new_path(parent, link_name) {
            Ok(path) => path,
            Err(errno) => return reply.error(errno),
        };
        let Some(target) = target.to_str().map(str::to_string) else {
            return reply.error(Errno::EINVAL);
        };
        self.entry_op(req, parent, reply, move |client| async move {
            client
                .create_symlink(&target, &path, false)
                .await
                .map_err(|e| to_errno("symlink", e))?;
            stat(&client, &path).await
        });
    }

    fn rename(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if flags.contains(RenameFlags::RENAME_EXCHANGE)
            || flags.contains(RenameFlags::RENAME_WHITEOUT)
        {
            return reply.error(Errno::EINVAL);
        }
        let (src, dst) = match (child_path(parent, name), child_path(newparent, newname)) {
            (Ok(src), Ok(dst)) => (src, dst),
            (Err(errno), _) | (_, Err(errno)) => return reply.error(errno),
        };
        if let Err(errno) = self.state.writable() {
            return reply.error(errno);
        }
        let overwrite = !flags.contains(RenameFlags::RENAME_NOREPLACE);
        let state = Arc::clone(&self.state);
        self.empty_op(req, reply, move |client| async move {
            match client.rename(&src, &dst, overwrite).await {
                Ok(()) => {
                    // A directory moved: its ".." is the new parent.
                    if let Ok(status) = stat(&client, &dst).await {
                        state.parents.note(newparent.0, &status);
                    }
                    Ok(())
                }
                // The namenode says "exists" for a file over a directory and
                // the other way round; POSIX names each case.
                Err(err) if overwrite && err.kind() == ErrorKind::AlreadyExists => {
                    let src_dir =
                        stat(&client, &src).await?.file_type() == CairnFileType::Directory;
                    let dst_dir =
                        stat(&client, &dst).await?.file_type() == CairnFileType::Directory;
                    Err(match (src_dir, dst_dir) {
                        (false, true) => Errno::EISDIR,
                        (true, false) => Errno::ENOTDIR,
                        _ => to_errno("rename", err),
                    })
                }
                Err(err) => Err(to_errno("rename", err)),
            }
        });
    }

    fn link(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        // The namespace has no hard links (an inode has one parent).
        reply.error(Errno::EPERM);
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let state = Arc::clone(&self.state);
        let (uid, gid, pid) = (req.uid(), req.gid(), req.pid());
        self.spawn(async move {
            let result = async {
                let write = flags.acc_mode() != OpenAccMode::O_RDONLY;
                if write {
                    state.writable()?;
                }
                let client = state.client_for(uid)?;
                let path = inode_path(ino);
                let status = stat(&client, &path).await?;
                if status.file_type() == CairnFileType::Directory {
                    return Err(Errno::EISDIR);
                }
                let user = client.config().user.clone();
                let groups = state.caller_groups(gid, pid);
                let caller = Caller {
                    uid,
                    user: &user,
                    groups: &groups,
                };
                let want = match flags.acc_mode() {
                    OpenAccMode::O_RDONLY => access::READ,
                    OpenAccMode::O_WRONLY => access::WRITE,
                    OpenAccMode::O_RDWR => access::READ | access::WRITE,
                };
                if !access::permits(&status, &caller, want) {
                    return Err(Errno::EACCES);
                }
                let writes = write.then(|| {
                    let append = flags.0 & libc::O_APPEND != 0;
                    WriteQueue::start(
                        client.clone(),
                        path.clone(),
                        ino.0,
                        None,
                        append,
                        Arc::clone(&state.sizes),
                    )
                });
                let keep_cache = if write {
                    state.cached.open_for_write(ino.0);
                    false
                } else {
                    let written_here = state.sizes.get(ino.0).is_some();
                    state.cached.open_for_read(&status, written_here)
                };
                if !keep_cache {
                    state.drop_cached_attributes(ino);
                }
                let fh = state.handles.add_file(OpenFile::new(client, path, writes));
                Ok((fh, keep_cache))
            }
            .await;
            match result {
                Ok((fh, true)) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE),
                Ok((fh, false)) => reply.opened(FileHandle(fh), FopenFlags::empty()),
                Err(errno) => reply.error(errno),
            }
        });
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let path = match self.new_path(parent, name) {
            Ok(path) => path,
            Err(errno) => return reply.error(errno),
        };
        let state = Arc::clone(&self.state);
        let uid = req.uid();
        let permission = file_mode(mode, umask);
        self.spawn(async move {
            let result = async {
                let client = state.client_for(uid)?;
                let options = CreateOptions {
                    overwrite: flags & libc::O_EXCL == 0,
                    permission: Some(permission),
                    ..CreateOptions::default()
                };
                let writer = client
                    .create(&path, options)
                    .await
                    .map_err(|e| to_errno("create", e))?;
                let status = stat(&client, &path).await?;
                let file_path = inode_path(INodeNo(status.inode_id));
                let append = flags & libc::O_APPEND != 0;
                let writes = WriteQueue::start(
                    client.clone(),
                    file_path.clone(),
                    status.inode_id,
                    Some(writer),
                    append,
                    Arc::clone(&state.sizes),
                );
                state.cached.open_for_write(status.inode_id);
                let fh = state
                    .handles
                    .add_file(OpenFile::new(client, file_path, Some(writes)));
                Ok((fh, status))
            }
            .await;
            match result {
                Ok((fh, status)) => reply.created(
                    &state.options.entry_ttl,
                    &state.attr(&status),
                    Generation(0),
                    FileHandle(fh),
                    FopenFlags::empty(),
                ),
                Err(errno) => reply.error(errno),
            }
        });
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let file = match self.state.handles.file(fh.0) {
            Ok(file) => file,
            Err(errno) => return reply.error(errno),
        };
        self.spawn(async move {
            let result = async {
                let reader = file.reader().await?;
                reader
                    .read(offset, size)
                    .await
                    .map_err(|e| to_errno("read", e))
            }
            .await;
            match result {
                Ok(data) => reply.data(&data),
                Err(errno) => reply.error(errno),
            }
        });
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.state.handles.file(fh.0).map(|f| f.writes.clone()) {
            Ok(Some(queue)) => queue.write(offset, Bytes::copy_from_slice(data), reply),
            Ok(None) | Err(_) => reply.error(Errno::EBADF),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        let file = self.state.handles.file(fh.0).ok();
        self.queue_op(file, reply, |queue| async move { queue.flush().await });
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let file = self.state.handles.remove_file(fh.0);
        if file.is_some() {
            self.state.cached.close(ino.0);
        }
        self.queue_op(file, reply, |queue| async move { queue.release().await });
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let file = self.state.handles.file(fh.0).ok();
        self.queue_op(file, reply, |queue| async move { queue.fsync().await });
    }

    fn opendir(&self, req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.state.client_for(req.uid()) {
            Ok(client) => {
                let parent = self.state.parents.of(ino.0);
                let listing = DirListing::new(client, inode_path(ino), ino.0, parent);
                let fh = self.state.handles.add_dir(listing);
                reply.opened(FileHandle(fh), FopenFlags::empty());
            }
            Err(errno) => reply.error(errno),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        reply: ReplyDirectory,
    ) {
        match self.state.handles.dir(fh.0) {
            Ok(listing) => self.spawn(async move { listing.fill(offset, reply).await }),
            Err(errno) => reply.error(errno),
        }
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.state.handles.remove_dir(fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // Every namespace change is in the namenode's edit log before it
        // is answered.
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let client = self.state.client.clone();
        self.spawn(async move {
            match client.fs_stats().await {
                Ok(stats) => {
                    let block = u64::from(BLOCK_SIZE);
                    let free = stats.remaining / block;
                    // Inodes are not a limited resource: report plenty free.
                    let files = stats.total_files.saturating_add(u64::from(u32::MAX));
                    reply.statfs(
                        stats.capacity / block,
                        free,
                        free,
                        files,
                        files - stats.total_files,
                        BLOCK_SIZE,
                        255,
                        BLOCK_SIZE,
                    );
                }
                Err(err) => reply.error(to_errno("statfs", err)),
            }
        });
    }

    fn setxattr(
        &self,
        req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let Some(name) = name.to_str().map(str::to_string) else {
            return reply.error(Errno::EINVAL);
        };
        if let Err(errno) = self.state.writable() {
            return reply.error(errno);
        }
        let value = value.to_vec();
        self.empty_op(req, reply, move |client| async move {
            xattr::set(&client, &inode_path(ino), &name, &value, flags).await
        });
    }

    fn getxattr(&self, req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let Some(name) = name.to_str().map(str::to_string) else {
            return reply.error(Errno::NO_XATTR);
        };
        if !xattr::kept_by_namenode(&name) {
            return reply.error(Errno::NO_XATTR);
        }
        self.xattr_read(req, reply, move |client, reply| async move {
            xattr::get(&client, &inode_path(ino), &name, size, reply).await
        });
    }

    fn listxattr(&self, req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        self.xattr_read(req, reply, move |client, reply| async move {
            xattr::list(&client, &inode_path(ino), size, reply).await
        });
    }

    fn removexattr(&self, req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let Some(name) = name.to_str().map(str::to_string) else {
            return reply.error(Errno::NO_XATTR);
        };
        if let Err(errno) = self.state.writable() {
            return reply.error(errno);
        }
        self.empty_op(req, reply, move |client| async move {
            xattr::remove(&client, &inode_path(ino), &name).await
        });
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        let state = Arc::clone(&self.state);
        let (uid, gid, pid) = (req.uid(), req.gid(), req.pid());
        self.spawn(async move {
            let result = async {
                let client = state.client_for(uid)?;
                let status = stat(&client, &inode_path(ino)).await?;
                if mask.contains(AccessFlags::W_OK) {
                    state.writable()?;
                }
                let mut want = 0;
                for (flag, bit) in [
                    (AccessFlags::R_OK, access::READ),
                    (AccessFlags::W_OK, access::WRITE),
                    (AccessFlags::X_OK, access::EXECUTE),
                ] {
                    if mask.contains(flag) {
                        want |= bit;
                    }
                }
                let user = client.config().user.clone();
                let groups = state.caller_groups(gid, pid);
                let caller = Caller {
                    uid,
                    user: &user,
                    groups: &groups,
                };
                if access::permits(&status, &caller, want) {
                    Ok(())
                } else {
                    Err(Errno::EACCES)
                }
            }
            .await;
            match result {
                Ok(()) => reply.ok(),
                Err(errno) => reply.error(errno),
            }
        });
    }
}

impl CairnFs {
    /// unlink and rmdir: the namenode deletes either kind, so the kind is
    /// checked here first.
    fn remove(&self, req: &Request, parent: INodeNo, name: &OsStr, dir: bool, reply: ReplyEmpty) {
        let path = match self.new_path(parent, name) {
            Ok(path) => path,
            Err(errno) => return reply.error(errno),
        };
        self.empty_op(req, reply, move |client| async move {
            let is_dir = stat(&client, &path).await?.file_type() == CairnFileType::Directory;
            match (dir, is_dir) {
                (false, true) => return Err(Errno::EISDIR),
                (true, false) => return Err(Errno::ENOTDIR),
                _ => {}
            }
            let op = if dir { "rmdir" } else { "unlink" };
            match client.delete(&path, false).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(Errno::ENOENT),
                Err(err) => Err(to_errno(op, err)),
            }
        });
    }
}

/// The permission bits of a new file or directory: the caller's mode less
/// its umask (the kernel passes both).
fn file_mode(mode: u32, umask: u32) -> u16 {
    u16::try_from(mode & !umask & 0o7777).unwrap_or(0o644)
}
