//! The FUSE mount the `fuse-*` benchmarks measure: the bench cluster
//! mounted in this process, as `cairn mount` does it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cairn_fuse::{Mount, MountOptions};

use super::cluster::BenchCluster;

/// Says so and returns true where this machine cannot mount (no
/// /dev/fuse): the benchmark is skipped, not failed.
pub fn fuse_missing(bench: &str) -> bool {
    let missing = !Path::new("/dev/fuse").exists();
    if missing {
        eprintln!("{bench}: skipped: no /dev/fuse");
    }
    missing
}

pub struct BenchMount {
    mount: Mount,
    path: PathBuf,
}

impl BenchMount {
    /// Mounts `bench`'s cluster on `dir` (made here).
    pub async fn start(bench: &BenchCluster, dir: &Path) -> anyhow::Result<BenchMount> {
        std::fs::create_dir_all(dir)?;
        let mount = Mount::start(bench.client.clone(), dir, MountOptions::default())
            .await
            .with_context(|| format!("cannot mount the bench cluster on {}", dir.display()))?;
        Ok(BenchMount {
            mount,
            path: dir.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub async fn unmount(self) -> anyhow::Result<()> {
        self.mount.unmount().await?;
        Ok(())
    }
}
