//! Extended attributes through the mount. `user.` and `trusted.` names go
//! to the namenode. `security.` and `system.` names are answered here: the
//! kernel asks for `security.capability` before every write and for POSIX
//! ACLs (`system.posix_acl_*`) on permission checks, and a namenode round
//! trip for each would cost more than the write. Cairn keeps neither, so
//! they read as absent and cannot be set.

use cairn_client::{DfsClient, XAttrSetFlag};
use fuser::{Errno, ReplyXattr};

use crate::error::to_errno;

/// Whether the namenode keeps xattr `name`. One that it does not is
/// answered at once, on fuser's own thread (no task, no thread hand-off):
/// the kernel's `security.capability` request before every write is a
/// round trip to the mount that the write waits for.
pub fn kept_by_namenode(name: &str) -> bool {
    !(name.starts_with("security.") || name.starts_with("system."))
}

/// Answers a get/list request: the size alone when `size` is 0, else the
/// value if it fits.
fn reply_value(reply: ReplyXattr, size: u32, value: &[u8]) {
    let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
    if size == 0 {
        reply.size(len);
    } else if len > size {
        reply.error(Errno::ERANGE);
    } else {
        reply.data(value);
    }
}

/// Xattr `name`, one the namenode keeps ([`kept_by_namenode`]).
pub async fn get(client: &DfsClient, path: &str, name: &str, size: u32, reply: ReplyXattr) {
    match client.get_xattr(path, name).await {
        Ok(Some(value)) => reply_value(reply, size, &value),
        Ok(None) => reply.error(Errno::NO_XATTR),
        Err(err) => reply.error(to_errno("getxattr", err)),
    }
}

pub async fn list(client: &DfsClient, path: &str, size: u32, reply: ReplyXattr) {
    match client.list_xattrs(path).await {
        Ok(names) => {
            let mut out = Vec::new();
            for name in names {
                out.extend_from_slice(name.as_bytes());
                out.push(0);
            }
            reply_value(reply, size, &out);
        }
        Err(err) => reply.error(to_errno("listxattr", err)),
    }
}

pub async fn set(
    client: &DfsClient,
    path: &str,
    name: &str,
    value: &[u8],
    flags: i32,
) -> Result<(), Errno> {
    if !kept_by_namenode(name) {
        return Err(Errno::ENOTSUP);
    }
    let flag = if flags & libc::XATTR_CREATE != 0 {
        XAttrSetFlag::XattrCreate
    } else if flags & libc::XATTR_REPLACE != 0 {
        XAttrSetFlag::XattrReplace
    } else {
        XAttrSetFlag::XattrCreateOrReplace
    };
    client
        .set_xattr(path, name, value, flag)
        .await
        .map_err(|e| to_errno("setxattr", e))
}

pub async fn remove(client: &DfsClient, path: &str, name: &str) -> Result<(), Errno> {
    if !kept_by_namenode(name) {
        return Err(Errno::NO_XATTR);
    }
    client
        .remove_xattr(path, name)
        .await
        .map_err(|e| to_errno("removexattr", e))
}
