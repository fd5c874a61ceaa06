//! Inodes: HDFS's INodeDirectory, INodeFile and INodeSymlink, kept compact
//! because the whole namespace lives in memory (owner and group are interned
//! numbers, optional parts are boxed, names up to 22 bytes are stored in
//! the inode itself, a directory lists its children by id only, and a
//! file's first block id is held inline).

use std::collections::HashMap;
use std::fmt;

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
    /// The only copy of the name: the parent lists children by id.
    pub name: Name,
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
    /// Sorted by the children's names (bytes of UTF-8, str's order), as
    /// listings are; searched by name through the inode map, as HDFS's
    /// INodeDirectory searches its sorted child list. FsDirectory keeps the
    /// order.
    pub children: Vec<InodeId>,
}

#[derive(Debug, Clone)]
pub struct FileInode {
    pub replication: u16,
    pub preferred_block_size: u64,
    /// Most files have one block: it is held without an allocation.
    pub blocks: BlockList,
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

/// A file's block ids in order, 16 bytes: none or one inline (most files),
/// more in a boxed Vec. Reads as a slice; changes as a Vec does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BlockList {
    #[default]
    Empty,
    One(BlockId),
    Many(Box<Vec<BlockId>>),
}

impl BlockList {
    pub fn push(&mut self, id: BlockId) {
        match self {
            Self::Empty => *self = Self::One(id),
            Self::One(first) => *self = Self::Many(Box::new(vec![*first, id])),
            Self::Many(ids) => ids.push(id),
        }
    }

    pub fn pop(&mut self) -> Option<BlockId> {
        self.edit(Vec::pop)
    }

    pub fn truncate(&mut self, len: usize) {
        self.edit(|ids| ids.truncate(len));
    }

    /// Applies a Vec operation, then goes back to the compact form.
    fn edit<R>(&mut self, f: impl FnOnce(&mut Vec<BlockId>) -> R) -> R {
        let mut ids = match std::mem::take(self) {
            Self::Empty => Vec::new(),
            Self::One(id) => vec![id],
            Self::Many(ids) => *ids,
        };
        let out = f(&mut ids);
        *self = ids.into_iter().collect();
        out
    }
}

impl std::ops::Deref for BlockList {
    type Target = [BlockId];

    fn deref(&self) -> &[BlockId] {
        match self {
            Self::Empty => &[],
            Self::One(id) => std::slice::from_ref(id),
            Self::Many(ids) => ids,
        }
    }
}

impl std::ops::DerefMut for BlockList {
    fn deref_mut(&mut self) -> &mut [BlockId] {
        match self {
            Self::Empty => &mut [],
            Self::One(id) => std::slice::from_mut(id),
            Self::Many(ids) => ids,
        }
    }
}

impl FromIterator<BlockId> for BlockList {
    fn from_iter<I: IntoIterator<Item = BlockId>>(iter: I) -> Self {
        let mut iter = iter.into_iter();
        let Some(first) = iter.next() else {
            return Self::Empty;
        };
        match iter.next() {
            None => Self::One(first),
            Some(second) => {
                let mut ids = vec![first, second];
                ids.extend(iter);
                Self::Many(Box::new(ids))
            }
        }
    }
}

impl Extend<BlockId> for BlockList {
    fn extend<I: IntoIterator<Item = BlockId>>(&mut self, iter: I) {
        for id in iter {
            self.push(id);
        }
    }
}

impl IntoIterator for BlockList {
    type Item = BlockId;
    type IntoIter = std::vec::IntoIter<BlockId>;

    fn into_iter(self) -> Self::IntoIter {
        match self {
            Self::Empty => Vec::new().into_iter(),
            Self::One(id) => vec![id].into_iter(),
            Self::Many(ids) => ids.into_iter(),
        }
    }
}

impl<'a> IntoIterator for &'a BlockList {
    type Item = &'a BlockId;
    type IntoIter = std::slice::Iter<'a, BlockId>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Bytes of a name held inside the inode; longer ones go to the heap.
const INLINE_NAME: usize = 22;

/// An inode's name: inline up to [`INLINE_NAME`] bytes (most names), so a
/// file costs no allocation for its name.
#[derive(Clone, PartialEq, Eq)]
pub struct Name(NameRepr);

#[derive(Clone, PartialEq, Eq)]
enum NameRepr {
    Inline { len: u8, bytes: [u8; INLINE_NAME] },
    Heap(Box<str>),
}

impl Name {
    pub fn new(name: &str) -> Self {
        let raw = name.as_bytes();
        match u8::try_from(raw.len()) {
            Ok(len) if raw.len() <= INLINE_NAME => {
                let mut bytes = [0u8; INLINE_NAME];
                bytes[..raw.len()].copy_from_slice(raw);
                Self(NameRepr::Inline { len, bytes })
            }
            _ => Self(NameRepr::Heap(name.into())),
        }
    }

    /// The name's UTF-8 bytes: what children are ordered by.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            NameRepr::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or(&[]),
            NameRepr::Heap(s) => s.as_bytes(),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Built from a &str, so always valid UTF-8.
            NameRepr::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or(""),
            NameRepr::Heap(s) => s,
        }
    }
}

impl From<&str> for Name {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

impl std::ops::Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
        // (issue 7: ≤ 100 bytes per file or block, all costs included).
        assert!(std::mem::size_of::<Option<Inode>>() <= 112);
        assert!(std::mem::size_of::<Option<crate::blocks::blocks_map::BlockInfo>>() <= 56);
    }

    #[test]
    fn block_lists_grow_and_shrink() {
        let mut list = BlockList::default();
        assert!(list.is_empty());
        list.push(7);
        assert_eq!(list, BlockList::One(7));
        list.extend([8, 9]);
        assert_eq!(&*list, &[7, 8, 9]);
        assert_eq!(list.pop(), Some(9));
        list.truncate(1);
        assert_eq!(list, BlockList::One(7));
        assert_eq!(list.clone().into_iter().collect::<Vec<_>>(), vec![7]);
        assert_eq!([1u64, 2].into_iter().collect::<BlockList>().len(), 2);
        assert_eq!(std::mem::size_of::<BlockList>(), 16);
    }

    #[test]
    fn names_inline_and_on_the_heap() {
        for s in [
            "",
            "a",
            "f123456",
            "exactly-22-bytes-long!",
            "twenty-three-bytes-long",
            "é",
        ] {
            let name = Name::new(s);
            assert_eq!(name.as_str(), s);
            assert_eq!(name.as_bytes(), s.as_bytes());
            assert_eq!(name.to_string(), s);
        }
        assert_eq!(std::mem::size_of::<Name>(), 24);
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
