//! LeaseManager: one writer per file. A lease belongs to a client name and
//! covers every file that client has open; renewing it renews them all.
//! Leases are not persisted: they are rebuilt from the files under
//! construction when the namespace is loaded (as HDFS).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::namespace::inode::InodeId;

/// Who holds the lease of a file whose writer is gone while its last block
/// is recovered (HDFS's "HDFS_NameNode").
pub const NAMENODE_LEASE_HOLDER: &str = "HDFS_NameNode";

#[derive(Debug, Clone)]
pub struct Lease {
    pub holder: String,
    pub last_renewed: Instant,
    pub files: BTreeSet<InodeId>,
}

impl Lease {
    pub fn expired(&self, now: Instant, limit: Duration) -> bool {
        now.saturating_duration_since(self.last_renewed) > limit
    }
}

#[derive(Debug, Default)]
pub struct LeaseManager {
    leases: HashMap<String, Lease>,
    holder_of: HashMap<InodeId, String>,
}

impl LeaseManager {
    /// Gives `holder` the lease on `file` (and renews it).
    pub fn add(&mut self, holder: &str, file: InodeId, now: Instant) {
        if let Some(old) = self.holder_of.get(&file).cloned()
            && old != holder
        {
            self.remove_file(file);
        }
        let lease = self
            .leases
            .entry(holder.to_string())
            .or_insert_with(|| Lease {
                holder: holder.to_string(),
                last_renewed: now,
                files: BTreeSet::new(),
            });
        lease.last_renewed = now;
        lease.files.insert(file);
        self.holder_of.insert(file, holder.to_string());
    }

    pub fn remove_file(&mut self, file: InodeId) {
        let Some(holder) = self.holder_of.remove(&file) else {
            return;
        };
        if let Some(lease) = self.leases.get_mut(&holder) {
            lease.files.remove(&file);
            if lease.files.is_empty() {
                self.leases.remove(&holder);
            }
        }
    }

    /// Renews every file of `holder`; false when it holds none.
    pub fn renew(&mut self, holder: &str, now: Instant) -> bool {
        match self.leases.get_mut(holder) {
            Some(lease) => {
                lease.last_renewed = now;
                true
            }
            None => false,
        }
    }

    pub fn lease_of(&self, holder: &str) -> Option<&Lease> {
        self.leases.get(holder)
    }

    pub fn holder_of(&self, file: InodeId) -> Option<&str> {
        self.holder_of.get(&file).map(String::as_str)
    }

    /// Files whose lease is older than `limit`.
    pub fn expired_files(&self, now: Instant, limit: Duration) -> Vec<(String, InodeId)> {
        self.leases
            .values()
            .filter(|l| l.expired(now, limit))
            .flat_map(|l| l.files.iter().map(|&f| (l.holder.clone(), f)))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.leases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_cover_files_and_expire() {
        let mut lm = LeaseManager::default();
        let t0 = Instant::now();
        lm.add("c1", 10, t0);
        lm.add("c1", 11, t0);
        lm.add("c2", 12, t0);
        assert_eq!(lm.holder_of(11), Some("c1"));
        let later = t0 + Duration::from_secs(100);
        assert!(lm.renew("c2", later));
        let expired = lm.expired_files(later, Duration::from_secs(60));
        assert_eq!(
            expired,
            vec![("c1".to_string(), 10), ("c1".to_string(), 11)]
        );
        lm.remove_file(10);
        lm.remove_file(11);
        assert!(lm.lease_of("c1").is_none());
        assert!(!lm.renew("c1", later));
        lm.add("c3", 12, later);
        assert_eq!(lm.holder_of(12), Some("c3"));
        assert!(lm.lease_of("c2").is_none());
    }
}
