//! Mounting and unmounting: checks before the mount (the mount point, the
//! namenode), the fuser session on its own thread, and an unmount that
//! closes every file still open for writing first, so nothing written
//! through the mount is left half-done.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cairn_client::DfsClient;
use fuser::{Config, MountOption, Session, SessionACL};
use tokio::sync::{oneshot, watch};

use crate::error::FuseError;
use crate::filesystem::{CairnFs, MountState};
use crate::options::MountOptions;

/// How long the namenode check before mounting may take.
const NAMENODE_CHECK: Duration = Duration::from_secs(15);
/// How long an unmount waits for the session thread; it outlives the
/// unmount only while a process still holds a file of the mount open.
const SESSION_END_WAIT: Duration = Duration::from_secs(5);

/// The read-ahead window asked of the kernel, in KiB.
const READ_AHEAD_KB: u32 = 8 * 1024;

/// A mounted Cairn file system.
pub struct Mount {
    mountpoint: PathBuf,
    state: Arc<MountState>,
    /// Answered when the session thread ends.
    session_done: oneshot::Receiver<std::io::Result<()>>,
    ended: watch::Receiver<bool>,
}

/// Refuses a mount point that is missing, not a directory or not empty.
pub fn check_mountpoint(path: &Path) -> Result<(), FuseError> {
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(FuseError::MountPointMissing(path.to_path_buf()));
        }
        Err(source) => {
            return Err(FuseError::MountPointUnreadable {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if !metadata.is_dir() {
        return Err(FuseError::MountPointNotADirectory(path.to_path_buf()));
    }
    let mut entries =
        std::fs::read_dir(path).map_err(|source| FuseError::MountPointUnreadable {
            path: path.to_path_buf(),
            source,
        })?;
    if entries.next().is_some() {
        return Err(FuseError::MountPointNotEmpty(path.to_path_buf()));
    }
    Ok(())
}

/// Asks the namenode for the root, so that a namenode that is down is a
/// clear error now rather than a mount whose every call fails.
pub async fn check_namenode(client: &DfsClient) -> Result<(), FuseError> {
    match tokio::time::timeout(NAMENODE_CHECK, client.get_file_info("/")).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(FuseError::Namenode(err)),
        Err(_) => Err(FuseError::NamenodeTimedOut(
            client.config().namenode.clone(),
            NAMENODE_CHECK.as_secs(),
        )),
    }
}

impl Mount {
    /// Mounts the cluster of `client` on `mountpoint` after checking both.
    /// Must be called inside a tokio runtime, which serves the requests.
    pub async fn start(
        client: DfsClient,
        mountpoint: &Path,
        options: MountOptions,
    ) -> Result<Mount, FuseError> {
        check_mountpoint(mountpoint)?;
        check_namenode(&client).await?;
        let mut mount_options = vec![
            MountOption::FSName(format!("cairn://{}", client.config().namenode)),
            MountOption::Subtype("cairn".to_string()),
            MountOption::NoDev,
            MountOption::NoSuid,
        ];
        if options.read_only {
            mount_options.push(MountOption::RO);
        }
        let mut config = Config::default();
        config.mount_options = mount_options;
        config.acl = if options.allow_other {
            SessionACL::All
        } else {
            SessionACL::Owner
        };
        let state = Arc::new(MountState::new(
            tokio::runtime::Handle::current(),
            client,
            options,
        ));
        let (ended_tx, ended) = watch::channel(false);
        let fs = CairnFs::new(Arc::clone(&state), ended_tx);
        let path = mountpoint.to_path_buf();
        // Mounting blocks until the kernel's INIT is answered.
        let mut session = tokio::task::spawn_blocking(move || Session::new(fs, &path, &config))
            .await
            .map_err(|e| FuseError::Mount {
                path: mountpoint.to_path_buf(),
                source: std::io::Error::other(e),
            })?
            .map_err(|source| FuseError::Mount {
                path: mountpoint.to_path_buf(),
                source,
            })?;
        state.set_unmounter(session.unmount_callable());
        state.set_notifier(session.notifier());
        let (done_tx, session_done) = oneshot::channel();
        // A plain thread, not the runtime's blocking pool: if a process
        // still holds a file of the mount open after the unmount, the
        // session lives on until this process exits, and nothing waits for it.
        std::thread::Builder::new()
            .name("cairn-fuse".to_string())
            .spawn(move || {
                let _ = done_tx.send(session.run());
            })
            .map_err(|source| FuseError::Mount {
                path: mountpoint.to_path_buf(),
                source,
            })?;
        raise_read_ahead(mountpoint).await;
        tracing::info!(mountpoint = %mountpoint.display(), "mounted");
        Ok(Mount {
            mountpoint: mountpoint.to_path_buf(),
            state,
            session_done,
            ended,
        })
    }

    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Resolves when the mount was taken down from outside (`umount`,
    /// `fusermount3 -u`).
    pub async fn ended(&mut self) {
        while !*self.ended.borrow() {
            if self.ended.changed().await.is_err() {
                return;
            }
        }
    }

    /// Closes every file still open for writing, then unmounts (if no one
    /// else did) and waits briefly for the session to end.
    pub async fn unmount(mut self) -> Result<(), FuseError> {
        self.state.handles.close_writers().await;
        if !*self.ended.borrow() {
            detach(&self.mountpoint).map_err(|source| FuseError::Unmount {
                path: self.mountpoint.clone(),
                source,
            })?;
        }
        self.state.forget_mount();
        match tokio::time::timeout(SESSION_END_WAIT, &mut self.session_done).await {
            Ok(Ok(Err(err))) => {
                tracing::warn!(error = %err, "the FUSE session ended with an error")
            }
            Ok(_) => {}
            Err(_) => tracing::info!(
                "files of the mount are still open; they close when this process exits"
            ),
        }
        tracing::info!(mountpoint = %self.mountpoint.display(), "unmounted");
        Ok(())
    }
}

/// Unmounts lazily: a process that still has a file of the mount open
/// keeps it (its calls fail once this process exits), and the mount point
/// is free at once. Root unmounts itself; others ask fusermount3.
fn detach(mountpoint: &Path) -> std::io::Result<()> {
    use nix::errno::Errno;
    use nix::mount::{MntFlags, umount2};
    match umount2(mountpoint, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) => Ok(()),
        Err(Errno::EPERM) => {
            let status = std::process::Command::new("fusermount3")
                .arg("-u")
                .arg("-z")
                .arg(mountpoint)
                .status()?;
            if status.success() {
                Ok(())
            } else {
                Err(std::io::Error::other(format!("fusermount3 -u -z {status}")))
            }
        }
        Err(errno) => Err(errno.into()),
    }
}

/// Widens the kernel's read-ahead window for the mount. The kernel sizes it
/// from the mount's backing device (128 KiB by default) and will not offer
/// more at INIT, so a sequential reader's requests would arrive 128 KiB at
/// a time; through sysfs (root only, as other FUSE daemons do) the window
/// grows to [`READ_AHEAD_KB`], which the kernel sends as several requests
/// of up to 1 MiB in flight at once. Failing costs only speed.
async fn raise_read_ahead(mountpoint: &Path) {
    let path = mountpoint.to_path_buf();
    let result = tokio::task::spawn_blocking(move || -> std::io::Result<PathBuf> {
        use std::os::unix::fs::MetadataExt;
        // Answered by the session thread, which runs already.
        let dev = std::fs::metadata(&path)?.dev();
        let knob = PathBuf::from(format!(
            "/sys/class/bdi/{}:{}/read_ahead_kb",
            libc::major(dev),
            libc::minor(dev)
        ));
        std::fs::write(&knob, READ_AHEAD_KB.to_string())?;
        Ok(knob)
    })
    .await;
    match result {
        Ok(Ok(knob)) => {
            tracing::debug!(knob = %knob.display(), kib = READ_AHEAD_KB, "read-ahead raised")
        }
        Ok(Err(err)) => {
            tracing::info!(error = %err, "kept the kernel's read-ahead window (needs root)")
        }
        Err(err) => tracing::info!(error = %err, "kept the kernel's read-ahead window"),
    }
}
