//! The namespace: the inode tree (FSDirectory), path syntax, permission
//! checks, and one file per namespace operation under `ops/`.

pub mod directory;
pub mod id_map;
pub mod inode;
pub mod ops;
pub mod path;
pub mod permission;
