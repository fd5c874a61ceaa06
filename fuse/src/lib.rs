//! cairn-fuse: a Cairn cluster as an ordinary file system (`cairn mount`),
//! over `fuser` and the client library.
//!
//! * `session.rs` — [`Mount`]: checks, mount, unmount (open writers first).
//! * `filesystem.rs` — the `fuser::Filesystem`: each kernel request becomes
//!   a task on the tokio runtime that replies when the cluster answers.
//! * `inode.rs` — inode numbers are namenode inode ids (root = 1), paths
//!   are `/.reserved/.inodes/<id>`, attributes come from `FileStatus`.
//! * `writer.rs` — one ordered write queue per handle open for writing.
//! * `read_ahead.rs` — sequential reads served from chunks fetched ahead.
//! * `page_cache.rs` — a file unchanged since it was last read keeps its
//!   pages in the kernel's cache at open (close-to-open stays whole).
//! * `dir.rs` — directory listings paged from the namenode.
//! * `xattr.rs`, `access.rs`, `users.rs` (uid ↔ Cairn user names),
//!   `options.rs` (`-o ro,allow_other,...`), `error.rs` (errno mapping).
//!
//! Semantics: HDFS files are written once, at their end. Sequential
//! writes, appends (O_APPEND, `>>`), O_TRUNC rewrites and truncation work;
//! a write into the middle of data already written fails with `EOPNOTSUPP`
//! and leaves the file as it was. Every `close(2)` completes the file, so
//! it is whole for every other client at once. Hard links fail with
//! `EPERM` (an inode has one parent).

mod access;
mod dir;
mod error;
mod filesystem;
mod handles;
mod inode;
mod options;
mod page_cache;
mod read_ahead;
mod session;
mod users;
mod writer;
mod xattr;

pub use error::{FuseError, errno_of};
pub use options::MountOptions;
pub use session::{Mount, check_mountpoint, check_namenode};
