//! `cairn mount` refuses what it cannot mount with a clear message and a
//! non-zero exit, never a hang; an unmount with a file still open for
//! writing closes the file first.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::process::Command;

use cairn_tests::fuse::mounted_cluster;
use cairn_tests::{ClusterOptions, MiniCluster, fuse_available, is_mounted, superuser, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_mount_points_and_a_namenode_that_is_down() {
    if !fuse_available("bad_mount_points_and_a_namenode_that_is_down") {
        return;
    }
    let mut cluster = MiniCluster::start(ClusterOptions {
        datanodes: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let missing = work.path().join("missing");
    let full = work.path().join("full");
    fs::create_dir(&full).unwrap();
    fs::write(full.join("x"), "x").unwrap();
    let file = work.path().join("file");
    fs::write(&file, "x").unwrap();
    for (dir, expected) in [
        (&missing, "does not exist"),
        (&full, "is not empty"),
        (&file, "is not a directory"),
    ] {
        for background in [false, true] {
            let mut args = vec!["mount", dir.to_str().unwrap()];
            if background {
                args.push("--background");
            }
            let out = cluster.command(&args).output().unwrap();
            let (_, stderr) = text(&out);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
            assert!(stderr.contains(expected), "{args:?}: {stderr}");
        }
    }

    cluster.kill_namenode();
    let empty = work.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let out = cluster
        .command(&["mount", empty.to_str().unwrap()])
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(stderr.contains("is the namenode running?"), "{stderr}");
    assert!(!is_mounted(&empty));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmount_closes_a_file_still_open_for_writing() {
    if !fuse_available("unmount_closes_a_file_still_open_for_writing") {
        return;
    }
    let (cluster, work, mount) = mounted_cluster(1, &[]).await.unwrap();
    let mnt = mount.path().to_path_buf();
    let fifo = work.path().join("go");
    let ready = work.path().join("ready");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // A writer that writes, says so, and keeps the file open until told.
    let mut writer = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "exec 3>{m}/open.txt; printf 'written before unmount' >&3; touch {r}; read _ < {f}; exec 3>&-",
            m = mnt.display(),
            r = ready.display(),
            f = fifo.display()
        ))
        .spawn()
        .unwrap();
    while !ready.exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    mount.unmount().unwrap();
    assert!(!is_mounted(&mnt));
    // Release the writer (its close now fails quietly: the mount is gone).
    fs::write(&fifo, "\n").unwrap();
    let _ = writer.wait();
    let out = cluster.dfs(&superuser(), &["-cat", "/open.txt"]);
    assert_eq!(text(&out).0, "written before unmount", "{:?}", text(&out));
    // The file is closed: it can be appended to.
    let out = cluster.dfs(&superuser(), &["-appendToFile", "-", "/open.txt"]);
    assert!(out.status.success(), "{:?}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fusermount_u_ends_the_mount_process() {
    if !fuse_available("fusermount_u_ends_the_mount_process") {
        return;
    }
    let (cluster, _work, mount) = mounted_cluster(1, &[]).await.unwrap();
    let mnt = mount.path().to_path_buf();
    fs::write(mnt.join("f"), "kept").unwrap();
    let out = Command::new("fusermount3")
        .arg("-u")
        .arg(&mnt)
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    mount.wait_exit().unwrap();
    assert!(!is_mounted(&mnt));
    assert_eq!(text(&cluster.dfs(&superuser(), &["-cat", "/f"])).0, "kept");
}
