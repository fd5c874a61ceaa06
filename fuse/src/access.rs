//! `access(2)` and the permission check of an open for writing: POSIX
//! owner/group/other bits against the caller's Cairn name and groups (its
//! primary group and its supplementary groups, read from
//! `/proc/<pid>/status` of the requesting process as FUSE daemons do: the
//! kernel sends only the primary gid).
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
    /// The names of the caller's groups that have local names.
    pub groups: &'a [String],
}

/// The supplementary group ids of process `pid` (empty if it is gone).
pub fn supplementary_gids(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|status| parse_groups(&status))
        .unwrap_or_default()
}

/// The ids on the `Groups:` line of a `/proc/<pid>/status` text.
fn parse_groups(status: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Groups:"))
        .map(|ids| {
            ids.split_whitespace()
                .filter_map(|id| id.parse().ok())
                .collect()
        })
        .unwrap_or_default()
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
    } else if caller.groups.contains(&status.group) {
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
        let staff = ["staff".to_string()];
        let bob = Caller {
            uid: 1000,
            user: "bob",
            groups: &staff,
        };
        assert!(permits(&status("bob", "x", 0o600), &bob, READ | WRITE));
        assert!(!permits(&status("alice", "x", 0o644), &bob, WRITE));
        assert!(permits(&status("alice", "staff", 0o664), &bob, WRITE));
        assert!(permits(&status("alice", "x", 0o644), &bob, READ));
        let root = Caller {
            uid: 0,
            user: "root",
            groups: &[],
        };
        assert!(permits(&status("alice", "x", 0o400), &root, WRITE));
        assert!(!permits(&status("alice", "x", 0o644), &root, EXECUTE));
    }

    #[test]
    fn any_of_the_callers_groups_gives_the_group_bits() {
        let groups = ["bob".to_string(), "dev".to_string()];
        let bob = Caller {
            uid: 1000,
            user: "bob",
            groups: &groups,
        };
        assert!(permits(&status("alice", "dev", 0o660), &bob, WRITE));
        assert!(!permits(&status("alice", "ops", 0o660), &bob, WRITE));
    }

    #[test]
    fn groups_line_of_proc_status() {
        let text = "Name:\tbash\nGid:\t100\t100\t100\t100\nGroups:\t4 24 27 \nVmPeak:\t1 kB\n";
        assert_eq!(parse_groups(text), vec![4, 24, 27]);
        assert_eq!(parse_groups("Groups:\n"), Vec::<u32>::new());
        let mut ours = supplementary_gids(std::process::id());
        let mut expected: Vec<u32> = nix::unistd::getgroups()
            .unwrap()
            .iter()
            .map(|g| g.as_raw())
            .collect();
        ours.sort_unstable();
        expected.sort_unstable();
        assert_eq!(ours, expected);
    }
}
