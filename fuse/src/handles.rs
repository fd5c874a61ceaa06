//! Open file and directory handles: the numbers FUSE hands back on every
//! read, write and readdir, and what each stands for.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_client::DfsClient;
use fuser::Errno;
use parking_lot::Mutex;
use tokio::sync::OnceCell;

use crate::dir::DirListing;
use crate::error::to_errno;
use crate::read_ahead::ReadAhead;
use crate::writer::WriteQueue;

/// One open file: its path, the client of the user who opened it, a reader
/// made at the first read, and the write queue of a handle opened for
/// writing.
pub struct OpenFile {
    pub client: DfsClient,
    pub path: String,
    reader: OnceCell<ReadAhead>,
    pub writes: Option<WriteQueue>,
}

impl OpenFile {
    pub fn new(client: DfsClient, path: String, writes: Option<WriteQueue>) -> Self {
        Self {
            client,
            path,
            reader: OnceCell::new(),
            writes,
        }
    }

    pub async fn reader(&self) -> Result<&ReadAhead, Errno> {
        self.reader
            .get_or_try_init(|| async {
                let reader = self.client.open(&self.path).await?;
                Ok(ReadAhead::new(reader, &self.path))
            })
            .await
            .map_err(|e| to_errno("open", e))
    }
}

#[derive(Default)]
pub struct HandleTable {
    next: AtomicU64,
    files: Mutex<HashMap<u64, Arc<OpenFile>>>,
    dirs: Mutex<HashMap<u64, Arc<DirListing>>>,
}

impl HandleTable {
    fn next(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn add_file(&self, file: OpenFile) -> u64 {
        let fh = self.next();
        self.files.lock().insert(fh, Arc::new(file));
        fh
    }

    pub fn file(&self, fh: u64) -> Result<Arc<OpenFile>, Errno> {
        self.files.lock().get(&fh).cloned().ok_or(Errno::EBADF)
    }

    pub fn remove_file(&self, fh: u64) -> Option<Arc<OpenFile>> {
        self.files.lock().remove(&fh)
    }

    pub fn add_dir(&self, dir: DirListing) -> u64 {
        let fh = self.next();
        self.dirs.lock().insert(fh, Arc::new(dir));
        fh
    }

    pub fn dir(&self, fh: u64) -> Result<Arc<DirListing>, Errno> {
        self.dirs.lock().get(&fh).cloned().ok_or(Errno::EBADF)
    }

    pub fn remove_dir(&self, fh: u64) {
        self.dirs.lock().remove(&fh);
    }

    /// Closes every file still open for writing (the mount is going away):
    /// what was written becomes a complete file. The handles stay, so the
    /// kernel's later releases find them.
    pub async fn close_writers(&self) {
        let queues: Vec<(String, WriteQueue)> = self
            .files
            .lock()
            .values()
            .filter_map(|f| f.writes.clone().map(|w| (f.path.clone(), w)))
            .collect();
        for (path, queue) in queues {
            match queue.release().await {
                Ok(()) => tracing::info!(%path, "closed a file open for writing"),
                Err(errno) => {
                    tracing::warn!(%path, ?errno, "could not close a file open for writing")
                }
            }
        }
    }
}
