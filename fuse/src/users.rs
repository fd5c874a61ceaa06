//! User mapping: the Cairn user of a request is the local user name of the
//! caller's uid (HDFS simple authentication, as fuse-dfs does), and the
//! owner and group names the namenode reports are shown as the local uid
//! and gid of the same names. Names without a local account are shown as
//! the configured "nobody". Look-ups are cached: passwd and group files are
//! read at most once per id or name for the life of the mount.

use std::collections::HashMap;

use nix::unistd::{Gid, Group, Uid, User};
use parking_lot::Mutex;

/// The Cairn user of a caller whose uid has no local name.
pub const UNKNOWN_USER: &str = "nobody";

pub struct UserMap {
    nobody_uid: u32,
    nobody_gid: u32,
    user_names: Mutex<HashMap<u32, String>>,
    uids: Mutex<HashMap<String, u32>>,
    group_names: Mutex<HashMap<u32, Option<String>>>,
    gids: Mutex<HashMap<String, u32>>,
}

impl UserMap {
    pub fn new(nobody_uid: u32, nobody_gid: u32) -> Self {
        Self {
            nobody_uid,
            nobody_gid,
            user_names: Mutex::default(),
            uids: Mutex::default(),
            group_names: Mutex::default(),
            gids: Mutex::default(),
        }
    }

    /// The Cairn user acting for local `uid`.
    pub fn user_name(&self, uid: u32) -> String {
        self.user_names
            .lock()
            .entry(uid)
            .or_insert_with(|| match User::from_uid(Uid::from_raw(uid)) {
                Ok(Some(user)) => user.name,
                _ => UNKNOWN_USER.to_string(),
            })
            .clone()
    }

    /// The local name of group `gid`, if it has one.
    pub fn group_name(&self, gid: u32) -> Option<String> {
        self.group_names
            .lock()
            .entry(gid)
            .or_insert_with(|| match Group::from_gid(Gid::from_raw(gid)) {
                Ok(Some(group)) => Some(group.name),
                _ => None,
            })
            .clone()
    }

    /// The uid shown for a Cairn owner.
    pub fn uid(&self, name: &str) -> u32 {
        if let Some(uid) = self.uids.lock().get(name) {
            return *uid;
        }
        let uid = match User::from_name(name) {
            Ok(Some(user)) => user.uid.as_raw(),
            _ => self.nobody_uid,
        };
        self.uids.lock().insert(name.to_string(), uid);
        uid
    }

    /// The gid shown for a Cairn group.
    pub fn gid(&self, name: &str) -> u32 {
        if let Some(gid) = self.gids.lock().get(name) {
            return *gid;
        }
        let gid = match Group::from_name(name) {
            Ok(Some(group)) => group.gid.as_raw(),
            _ => self.nobody_gid,
        };
        self.gids.lock().insert(name.to_string(), gid);
        gid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_maps_both_ways_and_strangers_to_nobody() {
        let users = UserMap::new(65534, 65534);
        assert_eq!(users.user_name(0), "root");
        assert_eq!(users.uid("root"), 0);
        assert_eq!(users.gid("root"), 0);
        assert_eq!(users.uid("no-such-user-in-passwd"), 65534);
        assert_eq!(users.gid("supergroup-not-local"), 65534);
        assert_eq!(users.user_name(4_000_000_000), UNKNOWN_USER);
    }
}
