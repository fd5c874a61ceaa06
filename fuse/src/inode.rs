//! Inodes: FUSE inode numbers are the namenode's inode ids (the root's id
//! is 1, which is also FUSE's root), so no table is kept. An inode is
//! addressed on the namenode by its reserved path `/.reserved/.inodes/<id>`,
//! which stays right across renames; attributes come from its
//! [`FileStatus`].

use std::collections::HashMap;
use std::ffi::OsStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_client::{FileStatus, FileType as CairnFileType};
use fuser::{Errno, FileAttr, FileType, INodeNo};
use parking_lot::Mutex;

use crate::users::UserMap;

/// The namenode's root inode id, which FUSE calls `FUSE_ROOT_ID`.
pub const ROOT: u64 = 1;

/// `st_blksize`: tools size their buffers by it (cp reads and writes in
/// pieces this big), and 1 MiB is the mount's largest write.
pub const BLOCK_SIZE: u32 = 1024 * 1024;

/// The parent of each directory the kernel has looked up, made or moved
/// through this mount, for the inode of ".." in `readdir`. The kernel
/// looks a directory up before it opens it, so the parent is known by
/// then; the namenode's inode paths have no ".." to ask it.
#[derive(Default)]
pub struct Parents {
    by_dir: Mutex<HashMap<u64, u64>>,
}

impl Parents {
    /// Notes that the inode of `status` is in directory `parent`.
    pub fn note(&self, parent: u64, status: &FileStatus) {
        if status.file_type() == CairnFileType::Directory && status.inode_id != ROOT {
            self.by_dir.lock().insert(status.inode_id, parent);
        }
    }

    /// The parent of directory `dir`: the root is its own parent, and a
    /// directory not seen yet shows itself.
    pub fn of(&self, dir: u64) -> u64 {
        self.by_dir.lock().get(&dir).copied().unwrap_or(dir)
    }
}

/// The namenode path of inode `ino`.
pub fn inode_path(ino: INodeNo) -> String {
    if ino.0 == ROOT {
        "/".to_string()
    } else {
        format!("/.reserved/.inodes/{}", ino.0)
    }
}

/// The namenode path of `name` in directory `parent`. Names that are not
/// UTF-8 cannot be Cairn paths.
pub fn child_path(parent: INodeNo, name: &OsStr) -> Result<String, Errno> {
    let name = name.to_str().ok_or(Errno::EINVAL)?;
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(Errno::EINVAL);
    }
    if parent.0 == ROOT {
        Ok(format!("/{name}"))
    } else {
        Ok(format!("/.reserved/.inodes/{}/{name}", parent.0))
    }
}

pub fn file_type(status: &FileStatus) -> FileType {
    match status.file_type() {
        CairnFileType::Directory => FileType::Directory,
        CairnFileType::Symlink => FileType::Symlink,
        _ => FileType::RegularFile,
    }
}

fn time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// The attributes of `status`; `size` replaces the namenode's length while
/// this mount has the file open for writing (the namenode learns the
/// length only at flush and close).
pub fn attr(status: &FileStatus, users: &UserMap, size: Option<u64>) -> FileAttr {
    let kind = file_type(status);
    let size = match kind {
        FileType::Directory => 4096,
        FileType::Symlink => status.symlink_target.len() as u64,
        _ => size.unwrap_or(status.length).max(status.length),
    };
    let mtime = time(status.modification_time_ms);
    FileAttr {
        ino: INodeNo(status.inode_id),
        size,
        blocks: size.div_ceil(512),
        atime: time(status.access_time_ms.max(1)),
        mtime,
        ctime: mtime,
        crtime: mtime,
        kind,
        perm: (status.permission & 0o7777) as u16,
        nlink: if kind == FileType::Directory { 2 } else { 1 },
        uid: users.uid(&status.owner),
        gid: users.gid(&status.group),
        rdev: 0,
        blksize: BLOCK_SIZE,
        flags: 0,
    }
}

/// Milliseconds since the epoch of a time given by a caller (`touch -d`).
pub fn to_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_children_have_namenode_paths() {
        assert_eq!(inode_path(INodeNo(1)), "/");
        assert_eq!(inode_path(INodeNo(16390)), "/.reserved/.inodes/16390");
        assert_eq!(child_path(INodeNo(1), OsStr::new("a")).unwrap(), "/a");
        assert_eq!(
            child_path(INodeNo(16390), OsStr::new("b c")).unwrap(),
            "/.reserved/.inodes/16390/b c"
        );
        assert_eq!(child_path(INodeNo(1), OsStr::new("..")), Err(Errno::EINVAL));
    }

    #[test]
    fn parents_of_directories_only() {
        let parents = Parents::default();
        let dir = |id| FileStatus {
            inode_id: id,
            file_type: CairnFileType::Directory as i32,
            ..Default::default()
        };
        let file = FileStatus {
            inode_id: 30,
            file_type: CairnFileType::File as i32,
            ..Default::default()
        };
        parents.note(ROOT, &dir(20));
        parents.note(20, &dir(21));
        parents.note(20, &file);
        parents.note(21, &dir(ROOT));
        assert_eq!(parents.of(21), 20);
        assert_eq!(parents.of(20), ROOT);
        assert_eq!(parents.of(ROOT), ROOT);
        assert_eq!(parents.of(30), 30);
        // Moved: the latest parent wins.
        parents.note(ROOT, &dir(21));
        assert_eq!(parents.of(21), ROOT);
    }

    #[test]
    fn attributes_follow_the_status() {
        let users = UserMap::new(65534, 65534);
        let status = FileStatus {
            inode_id: 16400,
            file_type: CairnFileType::File as i32,
            length: 1000,
            permission: 0o1644,
            owner: "root".into(),
            group: "no-such-group-here".into(),
            modification_time_ms: 1_500,
            ..Default::default()
        };
        let attr = attr(&status, &users, None);
        assert_eq!(attr.ino, INodeNo(16400));
        assert_eq!(attr.size, 1000);
        assert_eq!(attr.blocks, 2);
        assert_eq!(attr.perm, 0o1644);
        assert_eq!((attr.uid, attr.gid), (0, 65534));
        assert_eq!(attr.mtime, UNIX_EPOCH + Duration::from_millis(1_500));
        assert_eq!(super::attr(&status, &users, Some(5000)).size, 5000);
    }
}
