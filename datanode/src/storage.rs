//! DataStorage: the on-disk identity of each volume.
//!
//! Every data directory holds a `VERSION` file (text `key=value` lines, as in
//! HDFS) naming the cluster it belongs to, its own storage id, and the
//! datanode uuid shared by all volumes of this datanode, beside `current/`
//! with `rbw/` and `finalized/`. A fresh directory is formatted with the
//! namenode's cluster id; one formatted for another cluster is refused.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use tracing::info;

use crate::error::{DatanodeError, Result};

/// Layout version written into new VERSION files (HDFS's datanode layout
/// numbering; negative and decreasing with each change).
pub const LAYOUT_VERSION: i32 = -57;

const VERSION_FILE: &str = "VERSION";

/// One formatted data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageDirectory {
    pub root: PathBuf,
    pub cluster_id: String,
    pub storage_id: String,
    pub datanode_uuid: String,
}

impl StorageDirectory {
    /// `<root>/current`, holding `rbw/` and `finalized/`.
    pub fn current(&self) -> PathBuf {
        self.root.join("current")
    }
}

/// A random id in the usual 8-4-4-4-12 hex form.
pub fn random_uuid() -> String {
    let v: u128 = rand::random();
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Loads every data directory, formatting fresh ones for `cluster_id`.
/// All volumes share one datanode uuid: the one already on disk, or a new
/// one when every volume is fresh.
pub fn load_or_format(dirs: &[PathBuf], cluster_id: &str) -> Result<Vec<StorageDirectory>> {
    let mut loaded: Vec<Option<StorageDirectory>> = Vec::with_capacity(dirs.len());
    for dir in dirs {
        loaded.push(load(dir, cluster_id)?);
    }
    let mut uuid: Option<String> = None;
    for sd in loaded.iter().flatten() {
        match &uuid {
            None => uuid = Some(sd.datanode_uuid.clone()),
            Some(u) if *u != sd.datanode_uuid => {
                return Err(DatanodeError::InconsistentStorage {
                    path: sd.root.clone(),
                    reason: format!(
                        "datanodeUuid {} differs from {u} of the other volumes",
                        sd.datanode_uuid
                    ),
                });
            }
            Some(_) => {}
        }
    }
    let uuid = uuid.unwrap_or_else(random_uuid);
    let mut storages = Vec::with_capacity(dirs.len());
    for (dir, sd) in dirs.iter().zip(loaded) {
        let sd = match sd {
            Some(sd) => sd,
            None => format(dir, cluster_id, &uuid)?,
        };
        check_writable(&sd)?;
        storages.push(sd);
    }
    Ok(storages)
}

/// Reads `dir`'s VERSION; `None` when the directory is fresh.
fn load(dir: &Path, cluster_id: &str) -> Result<Option<StorageDirectory>> {
    let version_path = dir.join(VERSION_FILE);
    let text = match fs::read_to_string(&version_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if holds_files(dir)? {
                return Err(DatanodeError::InconsistentStorage {
                    path: dir.to_path_buf(),
                    reason: "the directory holds files but no VERSION; refusing to format it"
                        .into(),
                });
            }
            return Ok(None);
        }
        Err(e) => {
            return Err(DatanodeError::VolumeFailed {
                path: dir.to_path_buf(),
                reason: format!("cannot read {}: {e}", version_path.display()),
            });
        }
    };
    let props = parse_properties(&text);
    let get = |key: &str| {
        props
            .get(key)
            .filter(|v| !v.is_empty())
            .cloned()
            .ok_or_else(|| DatanodeError::InconsistentStorage {
                path: version_path.clone(),
                reason: format!("no {key} in VERSION"),
            })
    };
    let sd = StorageDirectory {
        root: dir.to_path_buf(),
        cluster_id: get("clusterID")?,
        storage_id: get("storageID")?,
        datanode_uuid: get("datanodeUuid")?,
    };
    if sd.cluster_id != cluster_id {
        return Err(DatanodeError::IncompatibleClusterIds {
            dir: dir.to_path_buf(),
            namenode: cluster_id.to_string(),
            datanode: sd.cluster_id,
        });
    }
    Ok(Some(sd))
}

/// Whether `dir` (missing counts as empty) holds any non-directory entry,
/// at any depth. A directory with only empty subdirectories is what an
/// interrupted format leaves, and is formatted again.
fn holds_files(dir: &Path) -> Result<bool> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(DatanodeError::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| DatanodeError::io(dir, e))?;
        let kind = entry
            .file_type()
            .map_err(|e| DatanodeError::io(entry.path(), e))?;
        if !kind.is_dir() || holds_files(&entry.path())? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn parse_properties(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Creates `current/{rbw,finalized}` and writes VERSION last (through a
/// temporary file, fsynced and renamed), so a crash leaves either a fresh
/// directory or a formatted one.
fn format(dir: &Path, cluster_id: &str, datanode_uuid: &str) -> Result<StorageDirectory> {
    let sd = StorageDirectory {
        root: dir.to_path_buf(),
        cluster_id: cluster_id.to_string(),
        storage_id: format!("DS-{}", random_uuid()),
        datanode_uuid: datanode_uuid.to_string(),
    };
    for sub in ["rbw", "finalized"] {
        let path = sd.current().join(sub);
        fs::create_dir_all(&path).map_err(|e| DatanodeError::VolumeFailed {
            path: dir.to_path_buf(),
            reason: format!("cannot create {}: {e}", path.display()),
        })?;
    }
    let c_time = 0;
    let text = format!(
        "#Cairn datanode storage\nclusterID={}\nstorageID={}\ndatanodeUuid={}\nlayoutVersion={LAYOUT_VERSION}\ncTime={c_time}\nstorageType=DATA_NODE\n",
        sd.cluster_id, sd.storage_id, sd.datanode_uuid
    );
    let tmp = dir.join("VERSION.tmp");
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, dir.join(VERSION_FILE))?;
        fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| DatanodeError::VolumeFailed {
        path: dir.to_path_buf(),
        reason: format!("cannot write VERSION: {e}"),
    })?;
    info!(dir = %dir.display(), storage_id = %sd.storage_id, cluster_id, "formatted volume");
    Ok(sd)
}

/// A volume we cannot write to is a failed volume: refuse to start with it
/// rather than fail every write later.
fn check_writable(sd: &StorageDirectory) -> Result<()> {
    let probe = sd.current().join(".cairn-write-probe");
    let result = (|| -> std::io::Result<()> {
        for sub in ["rbw", "finalized"] {
            fs::create_dir_all(sd.current().join(sub))?;
        }
        let mut file = fs::File::create(&probe)?;
        file.write_all(b"probe")?;
        file.sync_all()?;
        fs::remove_file(&probe)
    })();
    result.map_err(|e| DatanodeError::VolumeFailed {
        path: sd.root.clone(),
        reason: format!("not writable: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_then_reloads_with_the_same_ids() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = vec![tmp.path().join("d1"), tmp.path().join("d2")];
        let first = load_or_format(&dirs, "CID-a").unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].datanode_uuid, first[1].datanode_uuid);
        assert_ne!(first[0].storage_id, first[1].storage_id);
        assert!(first[0].storage_id.starts_with("DS-"));
        assert!(dirs[0].join("current/rbw").is_dir());
        assert!(dirs[1].join("current/finalized").is_dir());
        let text = fs::read_to_string(dirs[0].join("VERSION")).unwrap();
        assert!(text.contains("clusterID=CID-a"));
        assert!(text.contains("layoutVersion=-57"));
        assert!(text.contains("cTime=0"));
        let again = load_or_format(&dirs, "CID-a").unwrap();
        assert_eq!(first, again);
    }

    #[test]
    fn a_new_volume_joins_with_the_existing_uuid() {
        let tmp = tempfile::tempdir().unwrap();
        let d1 = tmp.path().join("d1");
        let first = load_or_format(std::slice::from_ref(&d1), "CID-a").unwrap();
        let both = load_or_format(&[d1, tmp.path().join("d2")], "CID-a").unwrap();
        assert_eq!(both[1].datanode_uuid, first[0].datanode_uuid);
    }

    #[test]
    fn refuses_another_cluster() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("dn1");
        load_or_format(std::slice::from_ref(&dir), "CID-a").unwrap();
        let err = load_or_format(std::slice::from_ref(&dir), "CID-b").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Incompatible clusterIDs in {}: namenode clusterID = CID-b; datanode clusterID = CID-a",
                dir.display()
            )
        );
    }

    #[test]
    fn refuses_a_directory_with_foreign_files() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("precious.txt"), b"x").unwrap();
        let err = load_or_format(&[tmp.path().to_path_buf()], "CID-a").unwrap_err();
        assert!(err.to_string().contains("no VERSION"), "{err}");
        // An interrupted format (only empty directories) is formatted again.
        let fresh = tmp.path().join("fresh");
        fs::create_dir_all(fresh.join("current/rbw")).unwrap();
        load_or_format(&[fresh], "CID-a").unwrap();
    }

    #[test]
    fn a_volume_that_is_a_file_is_a_failed_volume() {
        let tmp = tempfile::tempdir().unwrap();
        let not_a_dir = tmp.path().join("plain-file");
        fs::write(&not_a_dir, b"x").unwrap();
        let err = load_or_format(std::slice::from_ref(&not_a_dir), "CID-a").unwrap_err();
        assert!(matches!(err, DatanodeError::VolumeFailed { .. }), "{err}");
        assert!(err.to_string().contains(&not_a_dir.display().to_string()));
    }

    #[test]
    fn uuid_shape() {
        let u = random_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(u.matches('-').count(), 4);
    }
}
