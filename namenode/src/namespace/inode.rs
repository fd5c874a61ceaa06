//! Inodes: HDFS's INodeDirectory, INodeFile and INodeSymlink, kept compact
//! because the whole namespace lives in memory (owner and group are interned
//! numbers, optional parts are boxed, block lists hold ids only).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;

/// Inode ids are stable and never reused.
pub type InodeId = u64;
/// Block ids, shared with the block manager.
pub type BlockId = u64;

/// The root directory (the FUSE mount maps it to inode 1).
pub const ROOT_INODE_ID: InodeId = 1;
/// The first id handed to a new inode, as HDFS (INodeId.LAST_RESERVED_ID + 1).
pub const FIRST_INODE_ID: InodeId = 16386;

/// An extended attribute, with its namespace prefix in the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XAttr {
    pub name: Box<str>,
    pub value: Bytes,
}

#[derive(Debug, Clone)]
pub struct Inode {
    pub parent: InodeId,
    /// Shared with the parent's children map: one allocation per name.
    pub name: Arc<str>,
    /// Interned in [`StringTable`].
    pub owner: u32,
    pub group: u32,
    /// Permission bits with the sticky bit (0o1000).
    pub mode: u16,
    pub mtime: u64,
    pub atime: u64,
    pub xattrs: Option<Box<Vec<XAttr>>>,
    pub kind: InodeKind,
}

#[derive(Debug, Clone)]
pub enum InodeKind {
    Directory(DirectoryInode),
    File(FileInode),
    Symlink(Box<str>),
}

#[derive(Debug, Clone, Default)]
pub struct DirectoryInode {
    /// Sorted by the UTF-8 bytes of the name (str's order), as listings are.
    pub children: BTreeMap<Arc<str>, InodeId>,
}

#[derive(Debug, Clone)]
pub struct FileInode {
    pub replication: u16,
    pub preferred_block_size: u64,
    pub blocks: Vec<BlockId>,
    /// Present while a writer holds the file open.
    pub under_construction: Option<Box<UnderConstruction>>,
}

/// HDFS's FileUnderConstructionFeature: who holds the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnderConstruction {
    pub client_name: String,
    pub client_machine: String,
}

impl Inode {
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, InodeKind::Directory(_))
    }

    pub fn as_dir(&self) -> Option<&DirectoryInode> {
        match &self.kind {
            InodeKind::Directory(d) => Some(d),
            _ => None,
        }
    }

    pub fn as_dir_mut(&mut self) -> Option<&mut DirectoryInode> {
        match &mut self.kind {
            InodeKind::Directory(d) => Some(d),
            _ => None,
        }
    }

    pub fn as_file(&self) -> Option<&FileInode> {
        match &self.kind {
            InodeKind::File(f) => Some(f),
            _ => None,
        }
    }

    pub fn as_file_mut(&mut self) -> Option<&mut FileInode> {
        match &mut self.kind {
            InodeKind::File(f) => Some(f),
            _ => None,
        }
    }

    pub fn xattr_list(&self) -> &[XAttr] {
        self.xattrs.as_deref().map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Interned user and group names (HDFS's SerialNumberManager): millions of
/// inodes share a handful of owners.
#[derive(Debug, Default, Clone)]
pub struct StringTable {
    names: Vec<Box<str>>,
    ids: HashMap<Box<str>, u32>,
}

impl StringTable {
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map(|s| &**s).unwrap_or("")
    }
}

/// `drwxr-xr-x`-style text of a mode, sticky bit as `t`/`T` (HDFS's form).
pub fn mode_string(is_dir: bool, mode: u16) -> String {
    let mut s = String::with_capacity(10);
    s.push(if is_dir { 'd' } else { '-' });
    for shift in [6u16, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        let x = bits & 1 != 0;
        if shift == 0 && mode & 0o1000 != 0 {
            s.push(if x { 't' } else { 'T' });
        } else {
            s.push(if x { 'x' } else { '-' });
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_print_like_hdfs() {
        assert_eq!(mode_string(true, 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(false, 0o644), "-rw-r--r--");
        assert_eq!(mode_string(true, 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(true, 0o1776), "drwxrwxrwT");
    }

    #[test]
    fn records_stay_compact() {
        // The namespace lives in memory: growing these is a decision.
        assert!(std::mem::size_of::<Inode>() <= 112);
        assert!(std::mem::size_of::<crate::blocks::blocks_map::BlockInfo>() <= 64);
    }

    #[test]
    fn string_table_interns() {
        let mut t = StringTable::default();
        let a = t.intern("alice");
        let b = t.intern("bob");
        assert_eq!(t.intern("alice"), a);
        assert_ne!(a, b);
        assert_eq!(t.name(b), "bob");
    }
}
