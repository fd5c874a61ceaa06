//! One file per namespace operation (HDFS's FSDir*Op classes), each an
//! `impl Namesystem` block: check, build the edit-log op, apply and log it.

pub mod add_block;
pub mod complete;
pub mod concat;
pub mod create;
pub mod delete;
pub mod listing;
pub mod mkdir;
pub mod rename;
pub mod set_attr;
pub mod symlink;
pub mod truncate;
pub mod xattr;
