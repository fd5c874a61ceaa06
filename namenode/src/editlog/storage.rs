//! NNStorage: the layout of `name_dir/current/` — VERSION, seen_txid,
//! fsimage_<txid>, edits_inprogress_<start> and edits_<start>-<end> — and
//! the fsync discipline that makes renames durable.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{NamenodeError, Result};

/// Version of the on-disk layout; bumped when it changes incompatibly.
pub const LAYOUT_VERSION: u32 = 1;

/// The files of one name directory.
#[derive(Debug, Clone)]
pub struct NnStorage {
    current: PathBuf,
}

/// An edit log segment found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFile {
    pub path: PathBuf,
    pub start_txid: u64,
    /// None while in progress.
    pub end_txid: Option<u64>,
}

impl NnStorage {
    pub fn new(name_dir: &Path) -> Self {
        Self {
            current: name_dir.join("current"),
        }
    }

    pub fn current(&self) -> &Path {
        &self.current
    }

    pub fn version_path(&self) -> PathBuf {
        self.current.join("VERSION")
    }

    pub fn image_path(&self, txid: u64) -> PathBuf {
        self.current.join(format!("fsimage_{txid:019}"))
    }

    pub fn in_progress_path(&self, start: u64) -> PathBuf {
        self.current.join(format!("edits_inprogress_{start:019}"))
    }

    pub fn finalized_path(&self, start: u64, end: u64) -> PathBuf {
        self.current.join(format!("edits_{start:019}-{end:019}"))
    }

    pub fn is_formatted(&self) -> bool {
        self.version_path().is_file()
    }

    /// Writes VERSION (cluster id, layout) durably.
    pub fn write_version(&self, cluster_id: &str) -> Result<()> {
        let text = format!(
            "#Cairn namenode storage\nclusterID={cluster_id}\nlayoutVersion={LAYOUT_VERSION}\nstorageType=NAME_NODE\n"
        );
        write_atomically(&self.version_path(), text.as_bytes())
    }

    /// Reads VERSION and returns the cluster id.
    pub fn read_version(&self) -> Result<String> {
        let path = self.version_path();
        let text = fs::read_to_string(&path)
            .map_err(|e| NamenodeError::io(format!("cannot read {}", path.display()), e))?;
        let mut cluster_id = None;
        let mut layout = None;
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("clusterID=") {
                cluster_id = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("layoutVersion=") {
                layout = v.trim().parse::<u32>().ok();
            }
        }
        let corrupt = |detail: &str| NamenodeError::CorruptStorage {
            path: path.clone(),
            detail: detail.to_string(),
        };
        let cluster_id = cluster_id
            .filter(|c| !c.is_empty())
            .ok_or_else(|| corrupt("no clusterID line"))?;
        match layout {
            Some(LAYOUT_VERSION) => Ok(cluster_id),
            Some(other) => Err(corrupt(&format!(
                "layout version {other} is not the one this namenode understands ({LAYOUT_VERSION})"
            ))),
            None => Err(corrupt("no layoutVersion line")),
        }
    }

    pub fn write_seen_txid(&self, txid: u64) -> Result<()> {
        write_atomically(
            &self.current.join("seen_txid"),
            format!("{txid}\n").as_bytes(),
        )
    }

    pub fn read_seen_txid(&self) -> Result<u64> {
        let path = self.current.join("seen_txid");
        match fs::read_to_string(&path) {
            Ok(text) => text
                .trim()
                .parse()
                .map_err(|_| NamenodeError::CorruptStorage {
                    path,
                    detail: format!("expected a transaction id, found {:?}", text.trim()),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(NamenodeError::io(
                format!("cannot read {}", path.display()),
                e,
            )),
        }
    }

    /// Checkpoints on disk as (txid, path), newest first.
    pub fn images(&self) -> Result<Vec<(u64, PathBuf)>> {
        let mut out = Vec::new();
        for name in self.list()? {
            if let Some(txid) = name
                .strip_prefix("fsimage_")
                .and_then(|t| t.parse::<u64>().ok())
                && name.len() == "fsimage_".len() + 19
            {
                out.push((txid, self.current.join(&name)));
            }
        }
        out.sort_by_key(|b| std::cmp::Reverse(b.0));
        Ok(out)
    }

    /// Temporary checkpoint files (`fsimage_*.ckpt`) a crash left behind.
    pub fn leftover_checkpoints(&self) -> Result<Vec<PathBuf>> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|n| n.starts_with("fsimage_") && n.ends_with(".ckpt"))
            .map(|n| self.current.join(n))
            .collect())
    }

    /// Edit log segments on disk, oldest first.
    pub fn segments(&self) -> Result<Vec<SegmentFile>> {
        let mut out = Vec::new();
        for name in self.list()? {
            let path = self.current.join(&name);
            if let Some(start) = name
                .strip_prefix("edits_inprogress_")
                .and_then(|t| t.parse::<u64>().ok())
            {
                out.push(SegmentFile {
                    path,
                    start_txid: start,
                    end_txid: None,
                });
            } else if let Some((s, e)) = name.strip_prefix("edits_").and_then(|t| t.split_once('-'))
                && let (Ok(start), Ok(end)) = (s.parse::<u64>(), e.parse::<u64>())
            {
                out.push(SegmentFile {
                    path,
                    start_txid: start,
                    end_txid: Some(end),
                });
            }
        }
        out.sort_by_key(|s| (s.start_txid, s.end_txid.is_none()));
        Ok(out)
    }

    fn list(&self) -> Result<Vec<String>> {
        let entries = fs::read_dir(&self.current)
            .map_err(|e| NamenodeError::io(format!("cannot list {}", self.current.display()), e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| {
                NamenodeError::io(format!("cannot list {}", self.current.display()), e)
            })?;
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    pub fn sync_dir(&self) -> Result<()> {
        sync_dir(&self.current)
    }
}

/// fsync of a directory, so a rename or a new file in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| NamenodeError::io(format!("cannot fsync directory {}", dir.display()), e))
}

/// Writes `path` through a temporary file, fsync, rename, fsync of the dir.
pub fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let ctx = |what: &str| format!("cannot {what} {}", tmp.display());
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| NamenodeError::io(ctx("create"), e))?;
    file.write_all(data)
        .map_err(|e| NamenodeError::io(ctx("write"), e))?;
    file.sync_all()
        .map_err(|e| NamenodeError::io(ctx("fsync"), e))?;
    fs::rename(&tmp, path).map_err(|e| {
        NamenodeError::io(
            format!("cannot rename {} to {}", tmp.display(), path.display()),
            e,
        )
    })?;
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// A new cluster id, "CID-" and a random uuid-shaped hex string.
pub fn new_cluster_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "CID-{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// HDFS's `namenode -format`.
pub fn format(name_dir: &Path, cluster_id: Option<&str>, force: bool) -> Result<String> {
    let storage = NnStorage::new(name_dir);
    if storage.current().exists() {
        let holds_something = fs::read_dir(storage.current())
            .map(|mut d| d.next().is_some())
            .unwrap_or(true);
        if holds_something && !force {
            return Err(NamenodeError::AlreadyFormatted(name_dir.to_path_buf()));
        }
        fs::remove_dir_all(storage.current()).map_err(|e| {
            NamenodeError::io(format!("cannot clear {}", storage.current().display()), e)
        })?;
    }
    fs::create_dir_all(storage.current()).map_err(|e| {
        NamenodeError::io(format!("cannot create {}", storage.current().display()), e)
    })?;
    let cluster_id = match cluster_id {
        Some(id) if !id.trim().is_empty() => id.trim().to_string(),
        _ => new_cluster_id(),
    };
    if cluster_id.contains(['\n', '\r']) {
        return Err(NamenodeError::InvalidArgument(format!(
            "cluster id {cluster_id:?} must be a single line"
        )));
    }
    storage.write_seen_txid(0)?;
    storage.write_version(&cluster_id)?;
    if let Some(parent) = storage.current().parent() {
        sync_dir(parent)?;
    }
    Ok(cluster_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_writes_version_and_refuses_twice() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("name");
        let id = format(&name, None, false).unwrap();
        assert!(id.starts_with("CID-"));
        assert_eq!(id.len(), 4 + 36);
        let storage = NnStorage::new(&name);
        assert!(storage.is_formatted());
        assert_eq!(storage.read_version().unwrap(), id);
        assert_eq!(storage.read_seen_txid().unwrap(), 0);
        assert!(matches!(
            format(&name, Some("CID-x"), false),
            Err(NamenodeError::AlreadyFormatted(_))
        ));
        assert_eq!(format(&name, Some("CID-x"), true).unwrap(), "CID-x");
        assert_eq!(storage.read_version().unwrap(), "CID-x");
    }

    #[test]
    fn lists_images_and_segments_in_order() {
        let dir = tempfile::tempdir().unwrap();
        format(dir.path(), Some("CID-t"), false).unwrap();
        let s = NnStorage::new(dir.path());
        for p in [
            s.image_path(0),
            s.image_path(12),
            s.finalized_path(1, 12),
            s.in_progress_path(13),
            s.current().join("fsimage_0000000000000000012.tmp"),
        ] {
            fs::write(p, b"").unwrap();
        }
        let images: Vec<u64> = s.images().unwrap().into_iter().map(|(t, _)| t).collect();
        assert_eq!(images, vec![12, 0]);
        let segs = s.segments().unwrap();
        assert_eq!(segs.len(), 2);
        assert_eq!((segs[0].start_txid, segs[0].end_txid), (1, Some(12)));
        assert_eq!((segs[1].start_txid, segs[1].end_txid), (13, None));
    }
}
