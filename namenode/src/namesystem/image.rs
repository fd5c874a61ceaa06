//! Turning the namespace into checkpoint records and back.

use std::time::Instant;

use cairn_proto::pb;

use crate::blocks::blocks_map::{BlockInfo, BlockState};
use crate::editlog::image::{EncodedImage, ImageSnapshot};
use crate::editlog::storage::LAYOUT_VERSION;
use crate::error::{NamenodeError, Result};
use crate::namespace::inode::{
    DirectoryInode, FileInode, Inode, InodeKind, ROOT_INODE_ID, UnderConstruction, XAttr,
};
use crate::namesystem::Namesystem;

/// The header of an image of this namesystem at `txid`.
fn snapshot_header(ns: &Namesystem, txid: u64) -> pb::ImageHeader {
    pb::ImageHeader {
        layout_version: LAYOUT_VERSION,
        cluster_id: ns.cluster_id.clone(),
        txid,
        last_inode_id: ns.dir.last_inode_id(),
        last_block_id: ns.blocks.last_block_id,
        generation_stamp: ns.blocks.generation_stamp,
    }
}

impl Namesystem {
    /// A consistent copy of the namespace at `txid` (call under the lock),
    /// encoded as it goes (see [`EncodedImage`]).
    pub fn snapshot(&self, txid: u64) -> EncodedImage {
        let order = self.dir.preorder();
        let mut image = EncodedImage::new(snapshot_header(self, txid), order.len());
        for id in order {
            let Some(inode) = self.dir.get(id) else {
                continue;
            };
            image.push_inode(|rec| {
                rec.id = id;
                rec.parent_id = inode.parent;
                rec.name.push_str(inode.name.as_str());
                rec.owner.push_str(self.dir.names.name(inode.owner));
                rec.group.push_str(self.dir.names.name(inode.group));
                rec.mode = u32::from(inode.mode);
                rec.mtime_ms = inode.mtime;
                rec.atime_ms = inode.atime;
                rec.xattrs
                    .extend(inode.xattr_list().iter().map(|x| pb::XAttrRecord {
                        name: x.name.to_string(),
                        value: x.value.clone(),
                    }));
                match &inode.kind {
                    InodeKind::Directory(_) => rec.file_type = pb::FileType::Directory as i32,
                    InodeKind::Symlink(target) => {
                        rec.file_type = pb::FileType::Symlink as i32;
                        rec.symlink_target.push_str(target);
                    }
                    InodeKind::File(f) => {
                        rec.file_type = pb::FileType::File as i32;
                        rec.replication = u32::from(f.replication);
                        rec.preferred_block_size = f.preferred_block_size;
                        rec.blocks.extend(
                            f.blocks
                                .iter()
                                .filter_map(|&b| self.blocks.map.get(b).map(|info| info.to_pb(b))),
                        );
                        if let Some(uc) = &f.under_construction {
                            rec.under_construction = true;
                            rec.client_name.push_str(&uc.client_name);
                            rec.client_machine.push_str(&uc.client_machine);
                        }
                    }
                }
            });
        }
        image
    }

    /// Rebuilds the namespace from an image (into an empty namesystem).
    pub fn load_snapshot(&mut self, image: ImageSnapshot) -> Result<()> {
        let now = Instant::now();
        for rec in image.inodes {
            let owner = self.dir.names.intern(&rec.owner);
            let group = self.dir.names.intern(&rec.group);
            let xattrs = (!rec.xattrs.is_empty()).then(|| {
                Box::new(
                    rec.xattrs
                        .iter()
                        .map(|x| XAttr {
                            name: x.name.as_str().into(),
                            value: x.value.clone(),
                        })
                        .collect::<Vec<_>>(),
                )
            });
            let kind = match pb::FileType::try_from(rec.file_type) {
                Ok(pb::FileType::Directory) => InodeKind::Directory(DirectoryInode::default()),
                Ok(pb::FileType::Symlink) => InodeKind::Symlink(rec.symlink_target.as_str().into()),
                Ok(pb::FileType::File) => {
                    let under_construction = rec.under_construction.then(|| {
                        Box::new(UnderConstruction {
                            client_name: rec.client_name.clone(),
                            client_machine: rec.client_machine.clone(),
                        })
                    });
                    let n = rec.blocks.len();
                    for (i, b) in rec.blocks.iter().enumerate() {
                        let last_open = rec.under_construction && i + 1 == n;
                        self.blocks.add_block(
                            b.id,
                            BlockInfo {
                                generation_stamp: b.generation_stamp,
                                num_bytes: b.num_bytes,
                                inode: rec.id,
                                replication: u16::try_from(rec.replication).unwrap_or(u16::MAX),
                                state: if last_open {
                                    BlockState::UnderConstruction
                                } else {
                                    BlockState::Complete
                                },
                                replicas: Default::default(),
                                expected: None,
                            },
                        );
                    }
                    if rec.under_construction {
                        self.leases.add(&rec.client_name, rec.id, now);
                    }
                    InodeKind::File(FileInode {
                        replication: u16::try_from(rec.replication).unwrap_or(u16::MAX),
                        preferred_block_size: rec.preferred_block_size,
                        blocks: rec.blocks.iter().map(|b| b.id).collect(),
                        under_construction,
                    })
                }
                _ => {
                    return Err(NamenodeError::Internal(format!(
                        "inode {} has an unknown type {}",
                        rec.id, rec.file_type
                    )));
                }
            };
            let inode = Inode {
                parent: rec.parent_id,
                name: rec.name.as_str().into(),
                owner,
                group,
                mode: (rec.mode & 0o1777) as u16,
                mtime: rec.mtime_ms,
                atime: rec.atime_ms,
                xattrs,
                kind,
            };
            if rec.id == ROOT_INODE_ID {
                self.dir.set_root(inode);
            } else {
                self.dir.add_inode(rec.id, inode)?;
            }
        }
        let h = &image.header;
        self.dir.observe_inode_id(h.last_inode_id);
        self.blocks.last_block_id = self.blocks.last_block_id.max(h.last_block_id);
        self.blocks.generation_stamp = self.blocks.generation_stamp.max(h.generation_stamp);
        Ok(())
    }
}
