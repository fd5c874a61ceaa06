//! FUSE mounts for the end-to-end tests: `MiniCluster::mount` runs a real
//! `cairn mount` process, and a few helpers run shell commands on it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::{ClusterOptions, Daemon, MiniCluster, START_TIMEOUT, text};

impl MiniCluster {
    /// Mounts the cluster on `dir` with `cairn mount` (as the user running
    /// the tests) and returns once the kernel shows the mount.
    pub fn mount(&self, dir: &Path) -> Result<Mount> {
        self.mount_with(dir, &[])
    }

    /// [`MiniCluster::mount`] with extra `cairn mount` arguments (`-o ro`).
    pub fn mount_with(&self, dir: &Path, extra: &[&str]) -> Result<Mount> {
        let name = format!(
            "mount-{}",
            dir.file_name().unwrap_or_default().to_string_lossy()
        );
        let dir_arg = dir.to_string_lossy().into_owned();
        let mut args = vec!["mount", dir_arg.as_str()];
        args.extend_from_slice(extra);
        let mut daemon = self.spawn(&name, &args)?;
        let target = dir.canonicalize()?;
        let deadline = Instant::now() + START_TIMEOUT;
        while !is_mounted(&target) {
            if let Some(status) = daemon.child.try_wait()? {
                bail!("cairn mount exited ({status})\n{}", daemon.logs());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} was not mounted within {START_TIMEOUT:?}\n{}",
                    dir.display(),
                    daemon.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Mount {
            daemon: Some(daemon),
            dir: target,
        })
    }
}

/// A `cairn mount` process; dropping it unmounts (SIGTERM, as Ctrl-C).
pub struct Mount {
    daemon: Option<Daemon>,
    dir: PathBuf,
}

impl Mount {
    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(|d| d.child.id())
    }

    /// Sends SIGTERM and waits for `cairn mount` to exit; its output if it
    /// failed or left the mount behind.
    pub fn unmount(mut self) -> Result<()> {
        self.stop()
    }

    /// Waits for the `cairn mount` process to exit by itself (after an
    /// unmount from outside).
    pub fn wait_exit(mut self) -> Result<()> {
        let Some(mut daemon) = self.daemon.take() else {
            return Ok(());
        };
        Self::wait(&mut daemon)
    }

    pub fn logs(&self) -> String {
        self.daemon.as_ref().map(Daemon::logs).unwrap_or_default()
    }

    fn stop(&mut self) -> Result<()> {
        let Some(mut daemon) = self.daemon.take() else {
            return Ok(());
        };
        let pid = nix::unistd::Pid::from_raw(daemon.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        Self::wait(&mut daemon)
    }

    fn wait(daemon: &mut Daemon) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = daemon.child.try_wait()? {
                if !status.success() {
                    bail!("cairn mount exited with {status}\n{}", daemon.logs());
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                daemon.kill();
                bail!(
                    "cairn mount did not exit within {START_TIMEOUT:?}\n{}",
                    daemon.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            eprintln!("{err:#}");
        }
        if is_mounted(&self.dir) {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// Whether a file system is mounted at `path` (/proc/self/mountinfo's
/// fifth field; paths with spaces are not used by the tests).
pub fn is_mounted(path: &Path) -> bool {
    let wanted = path.to_string_lossy();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .any(|point| point == wanted)
}

/// Whether FUSE tests can run here; says loudly why not when they cannot.
/// Only a missing /dev/fuse skips: a missing `fusermount3` fails.
pub fn fuse_available(test: &str) -> bool {
    if !Path::new("/dev/fuse").exists() {
        eprintln!("SKIPPED {test}: /dev/fuse does not exist on this machine");
        return false;
    }
    assert!(
        Command::new("fusermount3")
            .arg("--version")
            .output()
            .is_ok(),
        "fusermount3 is missing: run scripts/install-test-deps (Debian package fuse3)"
    );
    true
}

/// Runs `script` with `bash -ec`.
pub fn sh(script: &str) -> Output {
    Command::new("bash")
        .arg("-ec")
        .arg(script)
        .output()
        .expect("bash runs")
}

/// Runs `script` and returns its stdout; panics with both outputs if it fails.
pub fn sh_ok(script: &str) -> String {
    let out = sh(script);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{script}\n{stdout}\n{stderr}");
    stdout
}

/// A cluster of `datanodes` datanodes mounted on `<tempdir>/mnt` with
/// `cairn mount <dir> <extra...>`.
pub async fn mounted_cluster(
    datanodes: usize,
    extra: &[&str],
) -> Result<(MiniCluster, tempfile::TempDir, Mount)> {
    mounted_cluster_with(
        ClusterOptions {
            datanodes,
            ..Default::default()
        },
        extra,
    )
    .await
}

/// [`mounted_cluster`] with the cluster's options (a namenode setting).
pub async fn mounted_cluster_with(
    options: ClusterOptions,
    extra: &[&str],
) -> Result<(MiniCluster, tempfile::TempDir, Mount)> {
    let cluster = MiniCluster::start(options).await?;
    let work = tempfile::tempdir()?;
    let mnt = work.path().join("mnt");
    fs::create_dir(&mnt)?;
    let mount = cluster.mount_with(&mnt, extra)?;
    Ok((cluster, work, mount))
}
