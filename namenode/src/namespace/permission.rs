//! FSPermissionChecker: POSIX owner/group/other bits, the sticky bit, and a
//! superuser who bypasses all of it. Messages are HDFS's, word for word, so
//! scripts and people that know HDFS recognise them.

use crate::config::NamenodeConfig;
use crate::error::{NamenodeError, Result};
use crate::namespace::directory::{FsDirectory, InodesInPath};
use crate::namespace::inode::{Inode, InodeId, mode_string};

/// HDFS's FsAction: a set of rwx bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsAction(pub u16);

impl FsAction {
    pub const EXECUTE: Self = Self(1);
    pub const WRITE: Self = Self(2);
    pub const READ: Self = Self(4);
    pub const READ_EXECUTE: Self = Self(5);
    pub const WRITE_EXECUTE: Self = Self(3);
    pub const ALL: Self = Self(7);

    /// HDFS's enum name, as it appears in "access=WRITE".
    pub fn name(self) -> &'static str {
        match self.0 & 7 {
            0 => "NONE",
            1 => "EXECUTE",
            2 => "WRITE",
            3 => "WRITE_EXECUTE",
            4 => "READ",
            5 => "READ_EXECUTE",
            6 => "READ_WRITE",
            _ => "ALL",
        }
    }
}

/// What one request may do: its user, that user's groups, and whether it
/// is a superuser (the configured one, or a member of the supergroup).
#[derive(Debug, Clone)]
pub struct PermissionChecker {
    pub user: String,
    pub groups: Vec<String>,
    superuser: bool,
}

impl PermissionChecker {
    pub fn new(user: &str, config: &NamenodeConfig) -> Self {
        let groups = config.groups_of(user);
        let superuser = user == config.superuser || groups.contains(&config.supergroup);
        Self {
            user: user.to_string(),
            groups,
            superuser,
        }
    }

    pub fn is_superuser(&self) -> bool {
        self.superuser
    }

    pub fn is_member(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// HDFS's checkPermission: EXECUTE on every ancestor directory, then the
    /// optional checks on the deepest existing ancestor, the parent, the
    /// inode itself and every directory below it.
    pub fn check(&self, dir: &FsDirectory, iip: &InodesInPath, want: Access) -> Result<()> {
        if self.superuser {
            return Ok(());
        }
        let n = iip.inodes.len();
        // Traverse: every existing ancestor of the last component (they are
        // a prefix: resolution stops at the first missing one).
        // A file in the middle of a path is not traversed at all: the path
        // simply does not exist below it (callers say so).
        for id in iip.inodes[..n.saturating_sub(1)].iter().flatten() {
            if dir.get(*id).is_some_and(Inode::is_dir) {
                self.check_inode(dir, *id, FsAction::EXECUTE)?;
            }
        }
        if let Some(access) = want.ancestor
            && let Some(id) = iip.inodes[..n.saturating_sub(1).max(1)]
                .iter()
                .rev()
                .flatten()
                .next()
        {
            self.check_inode(dir, *id, access)?;
        }
        if let Some(access) = want.parent
            && let Some(parent) = iip.parent()
        {
            self.check_inode(dir, parent, access)?;
            // Removing or replacing an entry of a sticky directory.
            if access.0 & FsAction::WRITE.0 != 0
                && let Some(id) = iip.last()
            {
                self.check_sticky(dir, parent, id)?;
            }
        }
        if let Some(id) = iip.last() {
            if want.owner {
                self.check_owner(dir, id)?;
            }
            if let Some(access) = want.access {
                self.check_inode(dir, id, access)?;
            }
            if let Some(access) = want.sub_access {
                self.check_subtree(dir, id, access)?;
            }
        }
        Ok(())
    }

    /// Only the owner (or a superuser) may chmod, set times, set xattrs...
    pub fn check_owner(&self, dir: &FsDirectory, id: InodeId) -> Result<()> {
        if self.superuser {
            return Ok(());
        }
        let inode = dir.inode(id)?;
        if dir.names.name(inode.owner) == self.user {
            return Ok(());
        }
        Err(NamenodeError::PermissionDenied(format!(
            "Permission denied. user={} is not the owner of inode={}",
            self.user,
            dir.full_path(id)
        )))
    }

    /// The sticky-bit rule for delete and rename: in a sticky directory only
    /// the owner of the entry or of the directory may remove the entry.
    pub fn check_sticky(&self, dir: &FsDirectory, parent: InodeId, id: InodeId) -> Result<()> {
        if self.superuser {
            return Ok(());
        }
        let p = dir.inode(parent)?;
        if p.mode & 0o1000 == 0 {
            return Ok(());
        }
        let inode = dir.inode(id)?;
        if dir.names.name(p.owner) == self.user || dir.names.name(inode.owner) == self.user {
            return Ok(());
        }
        Err(NamenodeError::PermissionDenied(format!(
            "Permission denied by sticky bit: user={}, path=\"{}\":{}, parent=\"{}\":{}",
            self.user,
            dir.full_path(id),
            describe(dir, inode),
            dir.full_path(parent),
            describe(dir, p)
        )))
    }

    fn check_subtree(&self, dir: &FsDirectory, id: InodeId, access: FsAction) -> Result<()> {
        let mut stack = vec![id];
        while let Some(next) = stack.pop() {
            let inode = dir.inode(next)?;
            if let Some(d) = inode.as_dir() {
                // HDFS ignores empty directories here (they can go anyway).
                if !d.children.is_empty() {
                    self.check_inode(dir, next, access)?;
                }
                stack.extend(d.children.iter().copied());
            }
        }
        Ok(())
    }

    /// The permission bits that apply to this user on `id`.
    pub fn check_inode(&self, dir: &FsDirectory, id: InodeId, access: FsAction) -> Result<()> {
        if self.superuser {
            return Ok(());
        }
        let inode = dir.inode(id)?;
        let mode = inode.mode;
        let bits = if dir.names.name(inode.owner) == self.user {
            mode >> 6
        } else if self.is_member(dir.names.name(inode.group)) {
            mode >> 3
        } else {
            mode
        } & 7;
        if bits & access.0 == access.0 {
            return Ok(());
        }
        Err(NamenodeError::PermissionDenied(format!(
            "Permission denied: user={}, access={}, inode=\"{}\":{}",
            self.user,
            access.name(),
            dir.full_path(id),
            describe(dir, inode)
        )))
    }
}

/// "alice:supergroup:drwxr-xr-x".
fn describe(dir: &FsDirectory, inode: &Inode) -> String {
    format!(
        "{}:{}:{}",
        dir.names.name(inode.owner),
        dir.names.name(inode.group),
        mode_string(inode.is_dir(), inode.mode)
    )
}

/// Which checks an operation needs (HDFS's checkPermission arguments).
#[derive(Debug, Clone, Copy, Default)]
pub struct Access {
    pub owner: bool,
    pub ancestor: Option<FsAction>,
    pub parent: Option<FsAction>,
    pub access: Option<FsAction>,
    pub sub_access: Option<FsAction>,
}

impl Access {
    /// Only traverse (getFileInfo, ...).
    pub fn traverse() -> Self {
        Self::default()
    }
    pub fn parent(action: FsAction) -> Self {
        Self {
            parent: Some(action),
            ..Self::default()
        }
    }
    pub fn ancestor(action: FsAction) -> Self {
        Self {
            ancestor: Some(action),
            ..Self::default()
        }
    }
    pub fn on_inode(action: FsAction) -> Self {
        Self {
            access: Some(action),
            ..Self::default()
        }
    }
    pub fn owner() -> Self {
        Self {
            owner: true,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::namespace::inode::{DirectoryInode, InodeKind, ROOT_INODE_ID};

    fn setup() -> (FsDirectory, NamenodeConfig) {
        let config = NamenodeConfig {
            superuser: "hdfs".into(),
            ..NamenodeConfig::default()
        };
        let mut dir = FsDirectory::new("hdfs", "supergroup", 0);
        let alice = dir.names.intern("alice");
        let group = dir.names.intern("supergroup");
        let id = dir.allocate_inode_id();
        dir.add_inode(
            id,
            Inode {
                parent: ROOT_INODE_ID,
                name: "alice".into(),
                owner: alice,
                group,
                mode: 0o755,
                mtime: 0,
                atime: 0,
                xattrs: None,
                kind: InodeKind::Directory(DirectoryInode::default()),
            },
        )
        .unwrap();
        (dir, config)
    }

    #[test]
    fn denial_message_is_hdfs_form() {
        let (dir, config) = setup();
        let bob = PermissionChecker::new("bob", &config);
        let iip = dir.resolve("/alice/f").unwrap();
        let err = bob
            .check(&dir, &iip, Access::parent(FsAction::WRITE))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Permission denied: user=bob, access=WRITE, inode=\"/alice\":alice:supergroup:drwxr-xr-x"
        );
        let alice = PermissionChecker::new("alice", &config);
        alice
            .check(&dir, &iip, Access::parent(FsAction::WRITE))
            .unwrap();
        let hdfs = PermissionChecker::new("hdfs", &config);
        assert!(hdfs.is_superuser());
    }

    #[test]
    fn owner_check() {
        let (dir, config) = setup();
        let iip = dir.resolve("/alice").unwrap();
        let bob = PermissionChecker::new("bob", &config);
        let err = bob.check(&dir, &iip, Access::owner()).unwrap_err();
        assert!(err.to_string().contains("is not the owner of inode=/alice"));
    }
}
