//! When the kernel may keep a file's cached pages at open
//! (`FOPEN_KEEP_CACHE`): a file read again, unchanged, is then served from
//! the page cache without a request to the mount, at memory speed.
//!
//! Close-to-open consistency stays whole. The mount remembers, per inode,
//! the version (modification time and length) that the kernel's cached
//! pages hold: the one the namenode reported at an open for reading that
//! found no other handle of the file open, so every page read since came
//! from that version. An open keeps the pages only when the namenode
//! reports that very version again. Any other open lets the kernel drop
//! them (its default), and the mount drops the kernel's cached attributes
//! too, so a file changed by any client since, or being written now, is
//! read afresh, to its new length. Every change a writer makes ends with a
//! close, which sets the modification time; an append or truncate changes
//! the length too.

use std::collections::HashMap;

use cairn_client::FileStatus;
use parking_lot::Mutex;

/// What a file's cached pages hold.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Version {
    modified_ms: u64,
    length: u64,
}

/// One inode's cached version and its open handles.
#[derive(Default)]
struct Entry {
    /// `None` while pages of an unknown version may be cached: a handle
    /// opened before the file changed may still be reading.
    version: Option<Version>,
    open: u32,
}

/// The version of each inode whose pages the kernel may hold.
#[derive(Default)]
pub struct CachedVersions {
    entries: Mutex<HashMap<u64, Entry>>,
}

impl CachedVersions {
    /// At an open for reading of the file `status` describes (as the
    /// namenode gave it at this open): whether the kernel may keep the
    /// pages it holds. `written_here` is set while this mount writes the
    /// file (its length is not final). Each call is matched by a
    /// [`close`](Self::close) when the handle is released.
    pub fn open_for_read(&self, status: &FileStatus, written_here: bool) -> bool {
        let mut entries = self.entries.lock();
        let entry = entries.entry(status.inode_id).or_default();
        let now = (!status.under_construction && !written_here).then_some(Version {
            modified_ms: status.modification_time_ms,
            length: status.length,
        });
        let keep = now.is_some() && entry.version == now;
        if !keep {
            entry.version = if entry.open == 0 { now } else { None };
        }
        entry.open += 1;
        keep
    }

    /// At an open for writing: the file is about to change. Matched by a
    /// [`close`](Self::close).
    pub fn open_for_write(&self, ino: u64) {
        let mut entries = self.entries.lock();
        let entry = entries.entry(ino).or_default();
        entry.version = None;
        entry.open += 1;
    }

    /// A handle of `ino` was released.
    pub fn close(&self, ino: u64) {
        let mut entries = self.entries.lock();
        if let Some(entry) = entries.get_mut(&ino) {
            entry.open = entry.open.saturating_sub(1);
            if entry.open == 0 && entry.version.is_none() {
                entries.remove(&ino);
            }
        }
    }

    /// The kernel dropped the inode, and its cached pages with it.
    pub fn forget(&self, ino: u64) {
        let mut entries = self.entries.lock();
        if entries.get(&ino).is_some_and(|entry| entry.open == 0) {
            entries.remove(&ino);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(ino: u64, modified_ms: u64, length: u64) -> FileStatus {
        FileStatus {
            inode_id: ino,
            modification_time_ms: modified_ms,
            length,
            ..FileStatus::default()
        }
    }

    /// Opens and releases at once.
    fn read(cache: &CachedVersions, status: &FileStatus) -> bool {
        let keep = cache.open_for_read(status, false);
        cache.close(status.inode_id);
        keep
    }

    #[test]
    fn pages_are_kept_only_for_the_version_read_before() {
        let cache = CachedVersions::default();
        assert!(!read(&cache, &status(7, 100, 10)));
        assert!(read(&cache, &status(7, 100, 10)));
        // Appended (longer), or rewritten (newer): read afresh, and the new
        // version is the one kept next time.
        assert!(!read(&cache, &status(7, 100, 20)));
        assert!(!read(&cache, &status(7, 200, 20)));
        assert!(read(&cache, &status(7, 200, 20)));
        // Another inode has its own version.
        assert!(!read(&cache, &status(8, 200, 20)));
    }

    #[test]
    fn a_file_being_written_is_always_read_afresh() {
        let cache = CachedVersions::default();
        assert!(!read(&cache, &status(7, 100, 10)));
        let mut writing = status(7, 100, 10);
        writing.under_construction = true;
        assert!(!read(&cache, &writing));
        assert!(!read(&cache, &status(7, 100, 10)));
        assert!(!cache.open_for_read(&status(7, 100, 10), true));
        cache.close(7);
        assert!(!read(&cache, &status(7, 100, 10)));
        cache.open_for_write(7);
        assert!(!read(&cache, &status(7, 100, 10)));
        cache.close(7);
        assert!(!read(&cache, &status(7, 100, 10)));
        assert!(read(&cache, &status(7, 100, 10)));
    }

    #[test]
    fn a_handle_of_an_older_version_still_open_spoils_the_cache() {
        let cache = CachedVersions::default();
        // A reader of version 100 stays open while the file changes.
        assert!(!cache.open_for_read(&status(7, 100, 10), false));
        assert!(!read(&cache, &status(7, 200, 20)));
        // It may have cached pages of version 100 meanwhile.
        assert!(!read(&cache, &status(7, 200, 20)));
        cache.close(7);
        assert!(!read(&cache, &status(7, 200, 20)));
        assert!(read(&cache, &status(7, 200, 20)));
    }

    #[test]
    fn a_forgotten_inode_is_read_afresh() {
        let cache = CachedVersions::default();
        read(&cache, &status(7, 100, 10));
        cache.forget(7);
        assert!(!read(&cache, &status(7, 100, 10)));
    }
}
