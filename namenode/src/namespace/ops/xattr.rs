//! FSDirXAttrOp: extended attributes. Names carry a namespace prefix;
//! `user.` attributes follow the file's permission bits, the `trusted.`,
//! `system.` and `security.` namespaces are the superuser's.

use cairn_proto::pb;
use pb::edit_log_record::Op;

use crate::error::{NamenodeError, Result};
use crate::namespace::directory::InodesInPath;
use crate::namespace::inode::InodeId;
use crate::namespace::permission::{Access, FsAction, PermissionChecker};
use crate::namesystem::Namesystem;

/// Largest value (HDFS's dfs.namenode.fs-limits.max-xattr-size).
pub const MAX_XATTR_VALUE: usize = 16 * 1024;
/// Attributes per inode (HDFS's dfs.namenode.fs-limits.max-xattrs-per-inode).
pub const MAX_XATTRS_PER_INODE: usize = 32;

const NAMESPACES: [&str; 4] = ["user.", "trusted.", "system.", "security."];

fn check_name(name: &str) -> Result<()> {
    match NAMESPACES.iter().find(|p| name.starts_with(*p)) {
        Some(prefix) if name.len() > prefix.len() => Ok(()),
        _ => Err(NamenodeError::InvalidArgument(format!(
            "An XAttr name must be prefixed with user/trusted/security/system, followed by a '.' and a name: {name:?}"
        ))),
    }
}

fn is_user(name: &str) -> bool {
    name.starts_with("user.")
}

impl Namesystem {
    fn xattr_target(&self, iip: &InodesInPath) -> Result<InodeId> {
        iip.last()
            .ok_or_else(|| NamenodeError::NotFound(format!("File does not exist: {}", iip.path)))
    }

    fn check_xattr_access(
        &self,
        pc: &PermissionChecker,
        iip: &InodesInPath,
        name: &str,
        action: FsAction,
    ) -> Result<()> {
        if is_user(name) {
            pc.check(&self.dir, iip, Access::on_inode(action))
        } else if pc.is_superuser() {
            Ok(())
        } else {
            Err(NamenodeError::PermissionDenied(format!(
                "User {} cannot access the XAttr {name} of {}: only a superuser may use that namespace",
                pc.user, iip.path
            )))
        }
    }

    pub fn set_xattr(&mut self, pc: &PermissionChecker, req: &pb::SetXAttrRequest) -> Result<u64> {
        let iip = self.dir.resolve(&req.path)?;
        self.check_safe_mode(|| format!("set XAttr on {}", iip.path))?;
        let xattr = req
            .xattr
            .as_ref()
            .ok_or_else(|| NamenodeError::InvalidArgument("setXAttr without an XAttr".into()))?;
        check_name(&xattr.name)?;
        if xattr.value.len() > MAX_XATTR_VALUE {
            return Err(NamenodeError::InvalidArgument(format!(
                "The XAttr is too big. The maximum size of the value is {MAX_XATTR_VALUE}, but the value is {} bytes.",
                xattr.value.len()
            )));
        }
        let id = self.xattr_target(&iip)?;
        self.check_xattr_access(pc, &iip, &xattr.name, FsAction::WRITE)?;
        let list = self.dir.inode(id)?.xattr_list();
        let exists = list.iter().any(|a| *a.name == *xattr.name);
        let flag =
            pb::XAttrSetFlag::try_from(req.flag).unwrap_or(pb::XAttrSetFlag::XattrCreateOrReplace);
        match flag {
            pb::XAttrSetFlag::XattrCreate if exists => {
                return Err(NamenodeError::AlreadyExists(format!(
                    "XAttr: {} already exists. The REPLACE flag must be specified.",
                    xattr.name
                )));
            }
            pb::XAttrSetFlag::XattrReplace if !exists => {
                return Err(NamenodeError::XAttrNotFound(format!(
                    "XAttr: {} does not exist. The CREATE flag must be specified.",
                    xattr.name
                )));
            }
            _ => {}
        }
        if !exists && list.len() >= MAX_XATTRS_PER_INODE {
            return Err(NamenodeError::InvalidArgument(format!(
                "Cannot add additional XAttr to inode {}, would exceed limit of {MAX_XATTRS_PER_INODE}",
                iip.path
            )));
        }
        self.log_edit(Op::SetXattr(pb::SetXAttrOp {
            inode_id: id,
            name: xattr.name.clone(),
            value: xattr.value.clone(),
        }))
    }

    pub fn get_xattrs(
        &self,
        pc: &PermissionChecker,
        req: &pb::GetXAttrsRequest,
    ) -> Result<Vec<pb::XAttr>> {
        let iip = self.dir.resolve(&req.path)?;
        let id = self.xattr_target(&iip)?;
        pc.check(&self.dir, &iip, Access::traverse())?;
        let list = self.dir.inode(id)?.xattr_list();
        if req.names.is_empty() {
            let mut out = Vec::new();
            for a in list {
                if self
                    .check_xattr_access(pc, &iip, &a.name, FsAction::READ)
                    .is_ok()
                {
                    out.push(pb::XAttr {
                        name: a.name.to_string(),
                        value: a.value.clone(),
                    });
                }
            }
            return Ok(out);
        }
        let mut out = Vec::with_capacity(req.names.len());
        for name in &req.names {
            check_name(name)?;
            self.check_xattr_access(pc, &iip, name, FsAction::READ)?;
            let found = list.iter().find(|a| *a.name == **name).ok_or_else(|| {
                NamenodeError::XAttrNotFound(format!(
                    "At least one of the attributes provided was not found: {name} on {}",
                    iip.path
                ))
            })?;
            out.push(pb::XAttr {
                name: found.name.to_string(),
                value: found.value.clone(),
            });
        }
        Ok(out)
    }

    pub fn list_xattrs(
        &self,
        pc: &PermissionChecker,
        req: &pb::ListXAttrsRequest,
    ) -> Result<Vec<String>> {
        let iip = self.dir.resolve(&req.path)?;
        let id = self.xattr_target(&iip)?;
        pc.check(&self.dir, &iip, Access::traverse())?;
        Ok(self
            .dir
            .inode(id)?
            .xattr_list()
            .iter()
            .filter(|a| is_user(&a.name) || pc.is_superuser())
            .map(|a| a.name.to_string())
            .collect())
    }

    pub fn remove_xattr(
        &mut self,
        pc: &PermissionChecker,
        req: &pb::RemoveXAttrRequest,
    ) -> Result<u64> {
        let iip = self.dir.resolve(&req.path)?;
        self.check_safe_mode(|| format!("remove XAttr from {}", iip.path))?;
        check_name(&req.name)?;
        let id = self.xattr_target(&iip)?;
        self.check_xattr_access(pc, &iip, &req.name, FsAction::WRITE)?;
        if !self
            .dir
            .inode(id)?
            .xattr_list()
            .iter()
            .any(|a| *a.name == *req.name)
        {
            return Err(NamenodeError::XAttrNotFound(format!(
                "No matching attributes found for remove operation: {} on {}",
                req.name, iip.path
            )));
        }
        self.log_edit(Op::RemoveXattr(pb::RemoveXAttrOp {
            inode_id: id,
            name: req.name.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_need_a_namespace() {
        assert!(check_name("user.etag").is_ok());
        assert!(check_name("trusted.x").is_ok());
        assert!(check_name("user.").is_err());
        assert!(check_name("etag").is_err());
        assert!(check_name("other.x").is_err());
    }
}
