//! Directory handles: a listing fetched from the namenode a page at a time
//! as `readdir` walks it, so a directory of a million entries costs one
//! page per kernel buffer, not one huge listing up front.

use cairn_client::DfsClient;
use fuser::{Errno, FileType, INodeNo, ReplyDirectory};
use tokio::sync::Mutex;

use crate::error::to_errno;
use crate::inode::file_type;

struct Entry {
    ino: u64,
    kind: FileType,
    name: String,
}

struct Pages {
    /// Entries fetched so far; offset `i + 3` is entry `i` (1 and 2 are
    /// "." and "..").
    entries: Vec<Entry>,
    /// The last name fetched: the next page starts after it.
    start_after: String,
    more: bool,
}

pub struct DirListing {
    client: DfsClient,
    path: String,
    ino: u64,
    /// The inode shown for "..".
    parent: u64,
    pages: Mutex<Pages>,
}

const DOT_ENTRIES: u64 = 2;

impl DirListing {
    pub fn new(client: DfsClient, path: String, ino: u64, parent: u64) -> Self {
        Self {
            client,
            path,
            ino,
            parent,
            pages: Mutex::new(Pages {
                entries: Vec::new(),
                start_after: String::new(),
                more: true,
            }),
        }
    }

    /// Fills `reply` from `offset` (0 = the start) until the kernel's
    /// buffer is full or the directory ends.
    pub async fn fill(&self, offset: u64, mut reply: ReplyDirectory) {
        let mut pages = self.pages.lock().await;
        let mut next = offset;
        while next < DOT_ENTRIES {
            let (ino, name) = if next == 0 {
                (self.ino, ".")
            } else {
                (self.parent, "..")
            };
            next += 1;
            if reply.add(INodeNo(ino), next, FileType::Directory, name) {
                return reply.ok();
            }
        }
        loop {
            let index = usize::try_from(next - DOT_ENTRIES).unwrap_or(usize::MAX);
            if index >= pages.entries.len() {
                if !pages.more {
                    return reply.ok();
                }
                if let Err(errno) = self.fetch_page(&mut pages).await {
                    return reply.error(errno);
                }
                continue;
            }
            let Some(entry) = pages.entries.get(index) else {
                return reply.ok();
            };
            next += 1;
            if reply.add(INodeNo(entry.ino), next, entry.kind, &entry.name) {
                return reply.ok();
            }
        }
    }

    async fn fetch_page(&self, pages: &mut Pages) -> Result<(), Errno> {
        let (page, remaining) = self
            .client
            .list_page(&self.path, &pages.start_after)
            .await
            .map_err(|e| to_errno("readdir", e))?;
        pages.more = remaining > 0 && !page.is_empty();
        if let Some(last) = page.last() {
            pages.start_after = last.name.clone();
        }
        pages.entries.extend(page.into_iter().map(|status| Entry {
            ino: status.inode_id,
            kind: file_type(&status),
            name: status.name,
        }));
        Ok(())
    }
}
