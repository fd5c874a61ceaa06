//! FsNamesystem: the namespace, the block manager, the datanode manager,
//! the leases and safe mode behind one lock, plus the edit log.
//!
//! Every mutation follows one path: check → build the edit-log op →
//! [`Namesystem::apply`] it → buffer it in the edit log (all under the write
//! lock) → release the lock → await the group-commit fsync → answer. Replay
//! at start-up calls the very same `apply`, so what is logged is exactly
//! what was done.

mod apply;
mod image;
mod status;

use std::sync::Arc;
use std::time::Instant;

use cairn_proto::pb;
use tokio::sync::Notify;

use crate::blocks::manager::BlockManager;
use crate::config::NamenodeConfig;
use crate::datanodes::manager::DatanodeManager;
use crate::editlog::writer::EditLog;
use crate::error::{NamenodeError, Result};
use crate::lease::LeaseManager;
use crate::namespace::directory::{FsDirectory, InodesInPath};
use crate::namespace::inode::{FileInode, Inode, InodeId};
use crate::namespace::permission::{Access, PermissionChecker};
use crate::safemode::SafeMode;

/// The state under the namesystem lock.
pub struct Namesystem {
    pub config: Arc<NamenodeConfig>,
    pub cluster_id: String,
    pub dir: FsDirectory,
    pub blocks: BlockManager,
    pub datanodes: DatanodeManager,
    pub leases: LeaseManager,
    pub safemode: SafeMode,
    /// None while replaying: replayed ops are not logged again.
    pub journal: Option<Arc<EditLog>>,
}

/// The namesystem shared by the RPC services and the background loops.
pub struct FsNamesystem {
    pub state: NamesystemLock,
    pub edit_log: Arc<EditLog>,
    pub config: Arc<NamenodeConfig>,
    /// Signalled by block reports, so `complete` waits for replicas
    /// instead of making clients poll.
    pub block_received: Notify,
}

/// FSNamesystem's lock. Many RPC tasks on more runtime threads than cores
/// queue on it (every mutation takes it for writing), so waiters park at
/// once: `parking_lot`'s lock spun and yielded first, and a holder
/// preempted mid-section left the others yielding to one another (60% of
/// the create benchmark's context switches). A panic under the lock does
/// not poison it, as with `parking_lot`: the next holder goes on.
pub struct NamesystemLock(std::sync::RwLock<Namesystem>);

impl NamesystemLock {
    pub fn new(ns: Namesystem) -> Self {
        Self(std::sync::RwLock::new(ns))
    }

    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Namesystem> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, Namesystem> {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl FsNamesystem {
    /// Waits until `txid` (0 = nothing logged) is durable.
    pub async fn sync(&self, txid: u64) -> Result<()> {
        if txid == 0 {
            return Ok(());
        }
        self.edit_log.sync(txid).await
    }
}

impl Namesystem {
    /// An empty namespace (root owned by the superuser).
    pub fn new(config: Arc<NamenodeConfig>, cluster_id: String) -> Self {
        let now = Instant::now();
        Self {
            dir: FsDirectory::new(&config.superuser, &config.supergroup, crate::now_ms()),
            blocks: BlockManager::new(config.min_replication, config.pending_replication_timeout),
            datanodes: DatanodeManager::default(),
            leases: LeaseManager::default(),
            safemode: SafeMode::new(config.safemode_threshold, config.safemode_extension, now),
            journal: None,
            cluster_id,
            config,
        }
    }

    /// Applies `op` and buffers it in the edit log; returns its txid.
    pub fn log_edit(&mut self, op: pb::edit_log_record::Op) -> Result<u64> {
        self.apply(&op)?;
        match &self.journal {
            Some(journal) => Ok(journal.log(op)),
            None => Err(NamenodeError::Internal("the edit log is not open".into())),
        }
    }

    /// Refuses a mutation in safe mode with HDFS's message and tip. `what`
    /// is only formatted when refusing: this runs under the write lock on
    /// every mutation.
    pub fn check_safe_mode(&self, what: impl FnOnce() -> String) -> Result<()> {
        if !self.safemode.is_on() {
            return Ok(());
        }
        let (safe, total) = self.blocks.map.safe_counts();
        Err(NamenodeError::SafeMode(format!(
            "Cannot {}. Name node is in safe mode.\n{}",
            what(),
            self.safemode.status(safe, total, Instant::now())
        )))
    }

    /// Re-evaluates safe mode after reports (and periodically).
    pub fn update_safe_mode(&mut self) {
        let (safe, total) = self.blocks.map.safe_counts();
        self.safemode.check(safe, total, Instant::now());
    }

    pub fn checker(&self, user: &str) -> PermissionChecker {
        PermissionChecker::new(user, &self.config)
    }

    /// Resolves and checks permissions in one go.
    pub fn resolve_checked(
        &self,
        pc: &PermissionChecker,
        path: &str,
        access: Access,
    ) -> Result<InodesInPath> {
        let iip = self.dir.resolve(path)?;
        pc.check(&self.dir, &iip, access)?;
        Ok(iip)
    }

    /// The file at `iip`, or NOT_FOUND / IS_A_DIRECTORY naming the path.
    pub fn file_at(&self, iip: &InodesInPath) -> Result<(InodeId, &FileInode)> {
        let id = iip
            .last()
            .ok_or_else(|| NamenodeError::NotFound(format!("File does not exist: {}", iip.path)))?;
        let inode = self.dir.inode(id)?;
        match inode.as_file() {
            Some(f) => Ok((id, f)),
            None if inode.is_dir() => Err(NamenodeError::IsADirectory(format!(
                "Path is not a file: {}",
                iip.path
            ))),
            None => Err(NamenodeError::NotFound(format!(
                "Path is not a file: {} (a symlink)",
                iip.path
            ))),
        }
    }

    pub fn file(&self, id: InodeId) -> Result<&FileInode> {
        self.dir
            .inode(id)?
            .as_file()
            .ok_or_else(|| NamenodeError::Internal(format!("inode {id} is not a file")))
    }

    pub fn file_mut(&mut self, id: InodeId) -> Result<&mut FileInode> {
        self.dir
            .inode_mut(id)?
            .as_file_mut()
            .ok_or_else(|| NamenodeError::Internal(format!("inode {id} is not a file")))
    }

    /// The blocks of file `id` as the edit log records them (id, stamp,
    /// length), in order.
    pub fn file_blocks(&self, id: InodeId) -> Result<Vec<pb::Block>> {
        Ok(self
            .file(id)?
            .blocks
            .iter()
            .filter_map(|&b| self.blocks.map.get(b).map(|info| info.to_pb(b)))
            .collect())
    }

    /// Sum of the block lengths (the last block's as last recorded).
    pub fn file_length(&self, file: &FileInode) -> u64 {
        // Lengths come from clients; a lie must not overflow.
        file.blocks
            .iter()
            .filter_map(|b| self.blocks.map.get(*b))
            .fold(0u64, |sum, b| sum.saturating_add(b.num_bytes))
    }

    /// The owner and group of a new inode under `parent`: the caller, and
    /// the parent's group (HDFS's BSD rule).
    pub fn new_owner(&self, user: &str, parent: InodeId) -> Result<(String, String)> {
        let group = self
            .dir
            .names
            .name(self.dir.inode(parent)?.group)
            .to_string();
        Ok((user.to_string(), group))
    }

    pub fn inode(&self, id: InodeId) -> Result<&Inode> {
        self.dir.inode(id)
    }
}
