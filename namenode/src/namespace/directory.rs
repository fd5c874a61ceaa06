//! FsDirectory: the in-memory inode tree, and path resolution into
//! [`InodesInPath`]. Pure data structure: no locking, no logging, no
//! permission checks (those are the namesystem's and the checker's).

use crate::error::{NamenodeError, Result};
use crate::namespace::id_map::IdMap;
use crate::namespace::inode::{
    BlockId, DirectoryInode, FIRST_INODE_ID, Inode, InodeId, InodeKind, Name, ROOT_INODE_ID,
    StringTable,
};
use crate::namespace::path::{self, ParsedPath};

/// A resolved path: every component with the inode it names, `None` from the
/// first component that does not exist (HDFS's INodesInPath).
#[derive(Debug, Clone)]
pub struct InodesInPath {
    /// The path as the caller should see it in messages (reserved paths are
    /// turned into the real path).
    pub path: String,
    /// Components below the root.
    pub components: Vec<String>,
    /// `inodes[0]` is the root; `inodes[i]` is `components[i - 1]`.
    pub inodes: Vec<Option<InodeId>>,
}

impl InodesInPath {
    /// The inode the path names, if it exists.
    pub fn last(&self) -> Option<InodeId> {
        self.inodes.last().copied().flatten()
    }

    /// The parent directory of the last component, if it exists.
    pub fn parent(&self) -> Option<InodeId> {
        let n = self.inodes.len();
        if n < 2 {
            return None;
        }
        self.inodes[n - 2]
    }

    /// The last component ("" for the root).
    pub fn last_name(&self) -> &str {
        self.components.last().map(String::as_str).unwrap_or("")
    }

    pub fn is_root(&self) -> bool {
        self.components.is_empty()
    }

    /// The path of the parent ("/" for a top-level entry).
    pub fn parent_path(&self) -> String {
        let n = self.components.len();
        path::join(&self.components[..n.saturating_sub(1)])
    }

    /// Index in `inodes` of the deepest inode that exists.
    pub fn last_existing_index(&self) -> usize {
        self.inodes.iter().rposition(Option::is_some).unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub struct FsDirectory {
    inodes: IdMap<Inode>,
    pub names: StringTable,
    last_inode_id: InodeId,
}

impl FsDirectory {
    /// An empty namespace: only the root, owned by the superuser.
    pub fn new(superuser: &str, supergroup: &str, now: u64) -> Self {
        let mut names = StringTable::default();
        let owner = names.intern(superuser);
        let group = names.intern(supergroup);
        let root = Inode {
            parent: ROOT_INODE_ID,
            name: "".into(),
            owner,
            group,
            mode: 0o755,
            mtime: now,
            atime: now,
            xattrs: None,
            kind: InodeKind::Directory(DirectoryInode::default()),
        };
        let mut inodes = IdMap::default();
        inodes.insert(ROOT_INODE_ID, root);
        Self {
            inodes,
            names,
            last_inode_id: FIRST_INODE_ID - 1,
        }
    }

    pub fn get(&self, id: InodeId) -> Option<&Inode> {
        self.inodes.get(id)
    }

    pub fn get_mut(&mut self, id: InodeId) -> Option<&mut Inode> {
        self.inodes.get_mut(id)
    }

    /// The inode, or an INTERNAL error: for ids the caller just resolved.
    pub fn inode(&self, id: InodeId) -> Result<&Inode> {
        self.inodes
            .get(id)
            .ok_or_else(|| NamenodeError::Internal(format!("inode {id} vanished")))
    }

    pub fn inode_mut(&mut self, id: InodeId) -> Result<&mut Inode> {
        self.inodes
            .get_mut(id)
            .ok_or_else(|| NamenodeError::Internal(format!("inode {id} vanished")))
    }

    /// Number of inodes, the root included.
    pub fn len(&self) -> usize {
        self.inodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inodes.len() <= 1
    }

    pub fn last_inode_id(&self) -> InodeId {
        self.last_inode_id
    }

    /// Keeps the counter ahead of every id seen (replay, image load).
    pub fn observe_inode_id(&mut self, id: InodeId) {
        self.last_inode_id = self.last_inode_id.max(id);
    }

    pub fn allocate_inode_id(&mut self) -> InodeId {
        self.last_inode_id += 1;
        self.last_inode_id
    }

    /// Resolves an absolute path (or a reserved inode path).
    pub fn resolve(&self, raw: &str) -> Result<InodesInPath> {
        let components = match path::parse(raw)? {
            ParsedPath::Plain(c) => c,
            ParsedPath::ById { id, rest } => {
                if !self.inodes.contains_key(id) {
                    return Err(NamenodeError::NotFound(format!(
                        "File does not exist: {raw} (no inode with id {id})"
                    )));
                }
                let mut c = self.components_of(id);
                c.extend(rest);
                c
            }
        };
        let mut inodes = Vec::with_capacity(components.len() + 1);
        inodes.push(Some(ROOT_INODE_ID));
        let mut current = Some(ROOT_INODE_ID);
        for name in &components {
            current = current.and_then(|id| self.child(id, name));
            inodes.push(current);
        }
        Ok(InodesInPath {
            path: path::join(&components),
            components,
            inodes,
        })
    }

    /// Where `name` is, or would be inserted, among the children of `dir`
    /// (binary search by name through the inode map).
    fn child_position(
        &self,
        dir: &DirectoryInode,
        name: &str,
    ) -> std::result::Result<usize, usize> {
        dir.children.binary_search_by(|&c| {
            self.inodes
                .get(c)
                .map(|i| i.name.as_bytes())
                .unwrap_or(&[])
                .cmp(name.as_bytes())
        })
    }

    /// The child of directory `parent` named `name`, if both exist.
    pub fn child(&self, parent: InodeId, name: &str) -> Option<InodeId> {
        let dir = self.inodes.get(parent)?.as_dir()?;
        let at = self.child_position(dir, name).ok()?;
        dir.children.get(at).copied()
    }

    /// The children of `dir` after `start_after` (all for ""), in order.
    pub fn children_after<'a>(&self, dir: &'a DirectoryInode, start_after: &str) -> &'a [InodeId] {
        if start_after.is_empty() {
            return &dir.children;
        }
        let from = match self.child_position(dir, start_after) {
            Ok(at) => at + 1,
            Err(at) => at,
        };
        dir.children.get(from..).unwrap_or(&[])
    }

    /// Links `id` (named `name`) into the children of `parent`.
    fn link(&mut self, parent: InodeId, name: &str, id: InodeId) -> Result<()> {
        let not_dir = || NamenodeError::Internal(format!("inode {parent} is not a directory"));
        let dir = self
            .inodes
            .get(parent)
            .and_then(Inode::as_dir)
            .ok_or_else(not_dir)?;
        let at = match self.child_position(dir, name) {
            Ok(_) => {
                return Err(NamenodeError::Internal(format!(
                    "inode {parent} already has a child named {name:?}"
                )));
            }
            Err(at) => at,
        };
        let dir = self
            .inodes
            .get_mut(parent)
            .and_then(Inode::as_dir_mut)
            .ok_or_else(not_dir)?;
        dir.children.insert(at, id);
        Ok(())
    }

    /// Removes `id` (named `name`) from the children of `parent`.
    fn unlink(&mut self, parent: InodeId, name: &str, id: InodeId) {
        let Some(dir) = self.inodes.get(parent).and_then(Inode::as_dir) else {
            return;
        };
        let at = match self.child_position(dir, name) {
            Ok(at) if dir.children.get(at) == Some(&id) => Some(at),
            // Not where its name says: look for it (never expected).
            _ => dir.children.iter().position(|&c| c == id),
        };
        if let (Some(at), Some(dir)) = (at, self.inodes.get_mut(parent).and_then(Inode::as_dir_mut))
        {
            dir.children.remove(at);
        }
    }

    /// The components of an inode's path, root first.
    pub fn components_of(&self, mut id: InodeId) -> Vec<String> {
        let mut out = Vec::new();
        while id != ROOT_INODE_ID {
            let Some(inode) = self.inodes.get(id) else {
                break;
            };
            out.push(inode.name.to_string());
            id = inode.parent;
        }
        out.reverse();
        out
    }

    pub fn full_path(&self, id: InodeId) -> String {
        path::join(&self.components_of(id))
    }

    /// True when `ancestor` is `id` or one of its ancestors.
    pub fn is_ancestor(&self, ancestor: InodeId, mut id: InodeId) -> bool {
        loop {
            if id == ancestor {
                return true;
            }
            if id == ROOT_INODE_ID {
                return false;
            }
            match self.inodes.get(id) {
                Some(inode) => id = inode.parent,
                None => return false,
            }
        }
    }

    /// Inserts a new inode under `parent` (whose children get its name).
    pub fn add_inode(&mut self, id: InodeId, inode: Inode) -> Result<()> {
        let parent = inode.parent;
        if self.inodes.get(parent).and_then(Inode::as_dir).is_none() {
            return Err(NamenodeError::Internal(format!(
                "parent {parent} of new inode {id} is not a directory"
            )));
        }
        let name = inode.name.clone();
        self.inodes.insert(id, inode);
        if let Err(e) = self.link(parent, &name, id) {
            self.inodes.remove(id);
            return Err(e);
        }
        self.observe_inode_id(id);
        Ok(())
    }

    /// Unlinks `id` from its parent, keeping the inode (for rename).
    pub fn detach(&mut self, id: InodeId) -> Result<()> {
        let inode = self.inode(id)?;
        let (parent, name) = (inode.parent, inode.name.clone());
        self.unlink(parent, &name, id);
        Ok(())
    }

    /// Links a detached inode under `parent` as `name`.
    pub fn attach(&mut self, id: InodeId, parent: InodeId, name: &str) -> Result<()> {
        if self.inodes.get(parent).and_then(Inode::as_dir).is_none() {
            return Err(NamenodeError::Internal(format!(
                "inode {parent} is not a directory"
            )));
        }
        let inode = self.inode_mut(id)?;
        inode.parent = parent;
        inode.name = Name::new(name);
        self.link(parent, name, id)
    }

    /// Removes `id` and everything below it; returns the blocks they held
    /// and how many inodes went.
    pub fn remove_subtree(&mut self, id: InodeId) -> Result<(Vec<BlockId>, usize)> {
        self.detach(id)?;
        let mut blocks = Vec::new();
        let mut stack = vec![id];
        let mut removed = 0;
        while let Some(next) = stack.pop() {
            let Some(inode) = self.inodes.remove(next) else {
                continue;
            };
            removed += 1;
            match inode.kind {
                InodeKind::Directory(d) => stack.extend(d.children),
                InodeKind::File(f) => blocks.extend(f.blocks),
                InodeKind::Symlink(_) => {}
            }
        }
        Ok((blocks, removed))
    }

    /// Every inode, parents before children (for the checkpoint).
    pub fn preorder(&self) -> Vec<InodeId> {
        let mut out = Vec::with_capacity(self.inodes.len());
        let mut stack = vec![ROOT_INODE_ID];
        while let Some(id) = stack.pop() {
            out.push(id);
            if let Some(d) = self.inodes.get(id).and_then(Inode::as_dir) {
                stack.extend(d.children.iter().rev().copied());
            }
        }
        out
    }

    /// Replaces the root's attributes (image load).
    pub fn set_root(&mut self, root: Inode) {
        let children = self
            .inodes
            .get(ROOT_INODE_ID)
            .and_then(Inode::as_dir)
            .map(|d| d.children.clone())
            .unwrap_or_default();
        let mut root = root;
        root.kind = InodeKind::Directory(DirectoryInode { children });
        root.parent = ROOT_INODE_ID;
        self.inodes.insert(ROOT_INODE_ID, root);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_inode(dir: &mut FsDirectory, parent: InodeId, name: &str) -> Inode {
        let owner = dir.names.intern("alice");
        Inode {
            parent,
            name: name.into(),
            owner,
            group: owner,
            mode: 0o755,
            mtime: 0,
            atime: 0,
            xattrs: None,
            kind: InodeKind::Directory(DirectoryInode::default()),
        }
    }

    #[test]
    fn resolve_and_reserved_paths() {
        let mut dir = FsDirectory::new("root", "supergroup", 0);
        let a = dir.allocate_inode_id();
        assert_eq!(a, FIRST_INODE_ID);
        let inode = dir_inode(&mut dir, ROOT_INODE_ID, "a");
        dir.add_inode(a, inode).unwrap();
        let b = dir.allocate_inode_id();
        let inode = dir_inode(&mut dir, a, "b");
        dir.add_inode(b, inode).unwrap();

        let iip = dir.resolve("/a/b/c").unwrap();
        assert_eq!(
            iip.inodes,
            vec![Some(ROOT_INODE_ID), Some(a), Some(b), None]
        );
        assert_eq!(iip.parent(), Some(b));
        assert_eq!(iip.last_name(), "c");
        assert_eq!(iip.parent_path(), "/a/b");

        let by_id = dir.resolve(&format!("/.reserved/.inodes/{a}/b")).unwrap();
        assert_eq!(by_id.path, "/a/b");
        assert_eq!(by_id.last(), Some(b));
        assert!(dir.is_ancestor(a, b));
        assert!(!dir.is_ancestor(b, a));
        assert_eq!(dir.preorder(), vec![ROOT_INODE_ID, a, b]);

        let (_, removed) = dir.remove_subtree(a).unwrap();
        assert_eq!(removed, 2);
        assert!(dir.resolve("/a").unwrap().last().is_none());
        assert!(dir.resolve("/.reserved/.inodes/99999").is_err());
    }
}
