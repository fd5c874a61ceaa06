//! `access(2)` and the permission check of an open for writing: POSIX
//! owner/group/other bits against the caller's Cairn name and group.
//! The namenode stays the judge of every change it is asked to make; this
//! only lets `open(O_WRONLY)` and `access(W_OK)` answer up front, as they
//! do on a local file system, instead of at the first write.

use cairn_client::{FileStatus, FileType};

pub const READ: u32 = 4;
pub const WRITE: u32 = 2;
pub const EXECUTE: u32 = 1;

/// Who is asking.
pub struct Caller<'a> {
    pub uid: u32,
    pub user: &'a str,
    pub group: Option<&'a str>,
}

/// Whether `caller` may do `want` (a set of [`READ`], [`WRITE`],
/// [`EXECUTE`]) to the inode of `status`. Local root may do anything but
/// execute a file nobody may execute, as on a local file system.
pub fn permits(status: &FileStatus, caller: &Caller<'_>, want: u32) -> bool {
    let mode = status.permission;
    if caller.uid == 0 {
        let is_dir = status.file_type() == FileType::Directory;
        return want & EXECUTE == 0 || is_dir || mode & 0o111 != 0;
    }
    let bits = if status.owner == caller.user {
        (mode >> 6) & 7
    } else if caller.group == Some(status.group.as_str()) {
        (mode >> 3) & 7
    } else {
        mode & 7
    };
    bits & want == want
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(owner: &str, group: &str, mode: u32) -> FileStatus {
        FileStatus {
            owner: owner.into(),
            group: group.into(),
            permission: mode,
            file_type: FileType::File as i32,
            ..Default::default()
        }
    }

    #[test]
    fn owner_group_other_bits() {
        let bob = Caller {
            uid: 1000,
            user: "bob",
            group: Some("staff"),
        };
        assert!(permits(&status("bob", "x", 0o600), &bob, READ | WRITE));
        assert!(!permits(&status("alice", "x", 0o644), &bob, WRITE));
        assert!(permits(&status("alice", "staff", 0o664), &bob, WRITE));
        assert!(permits(&status("alice", "x", 0o644), &bob, READ));
        let root = Caller {
            uid: 0,
            user: "root",
            group: None,
        };
        assert!(permits(&status("alice", "x", 0o400), &root, WRITE));
        assert!(!permits(&status("alice", "x", 0o644), &root, EXECUTE));
    }
}
