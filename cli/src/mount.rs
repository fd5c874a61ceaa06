//! `cairn mount MOUNTPOINT`: the cluster as an ordinary file system (the
//! `cairn-fuse` crate). Foreground by default, as daemons here are;
//! `--background` returns once the mount is up. Ctrl-C, SIGTERM,
//! `fusermount3 -u` and `umount` all unmount cleanly: files still open for
//! writing are closed first, so what was written is complete.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use cairn_client::DfsClient;
use cairn_fuse::{Mount, MountOptions};
use clap::Args;

use crate::config::Settings;
use crate::daemon::shutdown_signal;

#[derive(Args, Debug)]
pub struct MountArgs {
    /// An empty directory to mount the cluster's root on.
    pub mountpoint: PathBuf,
    /// The namenode. Default: $CAIRN_NAMENODE, else the config file's
    /// `client.namenode`, else 127.0.0.1:8020.
    #[arg(long, value_name = "HOST:PORT")]
    pub namenode: Option<String>,
    /// Return once mounted and serve the mount from a background process
    /// (its log goes to MOUNTPOINT's parent as .cairn-mount-NAME.log).
    #[arg(long)]
    pub background: bool,
    /// Mount options, comma separated (repeatable): ro, rw, allow_other,
    /// attr_timeout=SECONDS, entry_timeout=SECONDS (kernel cache times,
    /// default 1), nobody_uid=UID, nobody_gid=GID (shown for Cairn owners
    /// and groups with no local account, default 65534).
    #[arg(short = 'o', value_name = "OPTIONS")]
    pub options: Vec<String>,
}

pub async fn run(settings: Settings, args: MountArgs) -> anyhow::Result<()> {
    let mut options = MountOptions::default();
    for list in &args.options {
        options.apply(list).map_err(anyhow::Error::msg)?;
    }
    let mut config = settings.client_config();
    if let Some(namenode) = &args.namenode {
        config.namenode = namenode.clone();
    }
    if args.background {
        return run_in_background(&args.mountpoint).await;
    }
    let namenode = config.namenode.clone();
    let client = DfsClient::connect(config).await?;
    let mut mount = Mount::start(client, &args.mountpoint, options).await?;
    println!(
        "Mounted cairn://{namenode} on {}. Ctrl-C or `fusermount3 -u {}` unmounts.",
        args.mountpoint.display(),
        args.mountpoint.display()
    );
    tokio::select! {
        result = shutdown_signal() => result?,
        () = mount.ended() => tracing::info!("unmounted from outside"),
    }
    mount.unmount().await?;
    println!("Unmounted {}.", args.mountpoint.display());
    Ok(())
}

/// Starts this same command without `--background` in a new session, and
/// returns once the mount is up, or with the child's own error if it gave
/// up first.
async fn run_in_background(mountpoint: &Path) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    // The same checks the child makes, so a bad mount point fails here
    // with its message rather than in a log.
    cairn_fuse::check_mountpoint(mountpoint)?;
    let name = mountpoint
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".to_string());
    let parent = mountpoint
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(std::env::temp_dir);
    let log_path = parent.join(format!(".cairn-mount-{name}.log"));
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create the mount's log {}", log_path.display()))?;
    let exe = std::env::current_exe().context("cannot find the cairn binary to run")?;
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--background")
        .collect();
    let mut child = std::process::Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("cannot start the background mount")?;
    let target = mountpoint.canonicalize()?;
    loop {
        if let Some(status) = child.try_wait()? {
            let output = std::fs::read_to_string(&log_path).unwrap_or_default();
            eprint!("{output}");
            anyhow::bail!("the background mount exited ({status})");
        }
        if is_mounted(&target) {
            println!(
                "Mounted on {} (process {}, log in {}).",
                mountpoint.display(),
                child.id(),
                log_path.display()
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether a file system is mounted exactly at `path` (from
/// /proc/self/mountinfo, whose fifth field is the mount point with
/// spaces and the like written as octal escapes).
pub fn is_mounted(path: &Path) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let wanted = path.to_string_lossy();
    table
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .any(|point| unescape_mount_point(point) == wanted)
}

fn unescape_mount_point(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match (bytes.get(i), octal) {
            (Some(b'\\'), Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (Some(byte), _) => {
                out.push(*byte);
                i += 1;
            }
            (None, _) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mount_point("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_mount_point("/plain"), "/plain");
        assert!(is_mounted(Path::new("/proc")));
        assert!(!is_mounted(Path::new("/surely/not/a/mount/point")));
    }
}
