//! Bulk data through a real FUSE mount: `cp -r` of a tree of mixed sizes,
//! a `tar` round trip, and a large `cp` during which a datanode of the
//! write pipeline is SIGKILLed; checked with `diff -r`, `cmp` and `cairn dfs
//! -cat`.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cairn_tests::fuse::{mounted_cluster, mounted_cluster_with, sh_ok as ok};
use cairn_tests::replicas::{datanode_index, disk_replicas, wait_exact_replication};
use cairn_tests::{ClusterOptions, MiniCluster, fuse_available, random_bytes, superuser, text};

/// A few hundred files: many small ones (0 B up to a few hundred KiB, some
/// on packet and chunk boundaries) in nested directories, a few of several
/// MiB, and one of 200 MiB.
fn make_tree(root: &Path) -> usize {
    let mut count = 0;
    for d in 0..10 {
        let dir = root.join(format!("dir{d}/sub{}", d % 3));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..30 {
            let len = match f % 6 {
                0 => 0,
                1 => 1,
                2 => 511,
                3 => 65_536,
                4 => 1_000 * (f + d),
                _ => 300_000 + f * 7,
            };
            let seed = (d * 100 + f) as u64;
            fs::write(dir.join(format!("f{f}.bin")), random_bytes(len, seed)).unwrap();
            count += 1;
        }
    }
    for (i, mib) in [3usize, 9, 17].iter().enumerate() {
        fs::write(
            root.join(format!("medium{i}.bin")),
            random_bytes(mib * 1024 * 1024 + i, 7000 + i as u64),
        )
        .unwrap();
        count += 1;
    }
    fs::write(
        root.join("large.bin"),
        random_bytes(200 * 1024 * 1024, 9999),
    )
    .unwrap();
    count + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_r_tree_is_identical_through_the_mount_and_the_cli() {
    if !fuse_available("cp_r_tree_is_identical_through_the_mount_and_the_cli") {
        return;
    }
    let (cluster, work, mount) = mounted_cluster(1, &[]).await.unwrap();
    let src = work.path().join("src");
    let files = make_tree(&src);
    assert!(files > 300, "{files}");
    let mnt = mount.path().to_path_buf();

    let (s, m) = (src.display(), mnt.display());
    ok(&format!("cp -r {s} {m}/tree"));
    ok(&format!("diff -r {s} {m}/tree"));
    let listed = ok(&format!("cd {m}/tree && find . -type f | wc -l"));
    assert_eq!(listed.trim(), files.to_string());

    // The same bytes through the CLI, which never saw the mount.
    let root = superuser();
    for rel in [
        "large.bin",
        "medium1.bin",
        "dir3/sub0/f5.bin",
        "dir0/sub0/f0.bin",
    ] {
        let out = cluster.dfs(&root, &["-cat", &format!("/tree/{rel}")]);
        assert!(out.status.success(), "{rel}: {:?}", text(&out).1);
        let expected = fs::read(src.join(rel)).unwrap();
        assert!(out.stdout == expected, "{rel} differs through dfs -cat");
    }
    // Sizes as the namenode has them, for every file.
    let out = cluster.dfs(&root, &["-count", "/tree"]);
    let (stdout, _) = text(&out);
    let fields: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(fields.get(1), Some(&files.to_string().as_str()), "{stdout}");
    let total: u64 = walk_sizes(&src);
    assert_eq!(fields.get(2), Some(&total.to_string().as_str()), "{stdout}");
    mount.unmount().unwrap();
}

fn walk_sizes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                walk_sizes(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tar_round_trip_gives_the_same_archive() {
    if !fuse_available("tar_round_trip_gives_the_same_archive") {
        return;
    }
    let (_cluster, work, mount) = mounted_cluster(1, &[]).await.unwrap();
    let src = work.path().join("src");
    for d in 0..4 {
        let dir = src.join(format!("d{d}/e"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..10 {
            fs::write(
                dir.join(format!("f{f}")),
                random_bytes(f * 3001 + d, (d * 10 + f) as u64),
            )
            .unwrap();
        }
    }
    fs::write(src.join("big"), random_bytes(5 * 1024 * 1024 + 3, 5)).unwrap();
    std::os::unix::fs::symlink("d0/e/f1", src.join("link")).unwrap();
    let mnt = mount.path().to_path_buf();

    let (w, m) = (work.path().display(), mnt.display());
    // Deterministic archives: names sorted, owners and times fixed.
    let tar_c = "tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf";
    ok(&format!("cd {w}/src && {tar_c} {w}/in.tar ."));
    ok(&format!("mkdir {m}/x && tar -xf {w}/in.tar -C {m}/x"));
    ok(&format!("cd {m}/x && {tar_c} {w}/out.tar ."));
    ok(&format!("cmp {w}/in.tar {w}/out.tar"));
    assert_eq!(ok(&format!("readlink {m}/x/link")).trim(), "d0/e/f1");
    mount.unmount().unwrap();
}

const MIB: usize = 1024 * 1024;

/// Polls until the file at `path` has at least one complete block and the
/// block being written holds bytes on a datanode's disk; returns the
/// cluster index of a datanode of that block's pipeline (the middle one of
/// the namenode's list). Fails if `cp` ends first.
async fn pipeline_datanode_while_writing(
    cluster: &MiniCluster,
    path: &str,
    block: u64,
    cp: &mut std::process::Child,
) -> usize {
    let client = cluster.client(&superuser()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        assert!(
            cp.try_wait().unwrap().is_none(),
            "cp ended before a datanode could be killed"
        );
        assert!(Instant::now() < deadline, "no bytes flowed into {path}");
        if let Ok(located) = client.get_block_locations(path, 0, u64::MAX).await
            && located.file_length >= block
            && let Some(last) = located.last_block
            && let Some(id) = last.block.as_ref().map(|b| b.id)
            && last.locations.len() == 3
        {
            let nodes: Vec<usize> = last
                .locations
                .iter()
                .filter_map(|d| datanode_index(cluster, &d.host, d.xfer_port))
                .collect();
            let flowing = nodes.iter().any(|&i| {
                disk_replicas(&cluster.datanode_dir(i))
                    .iter()
                    .any(|r| r.block_id == id && r.len > 0)
            });
            if flowing && let Some(&victim) = nodes.get(1) {
                return victim;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_survives_a_datanode_killed_in_the_pipeline() {
    if !fuse_available("cp_survives_a_datanode_killed_in_the_pipeline") {
        return;
    }
    // 32 MiB blocks, so the kill falls in the middle of the file.
    let block = 32 * MIB;
    let options = ClusterOptions {
        datanodes: 4,
        namenode_toml: format!("default-block-size = {block}\n"),
        ..Default::default()
    };
    let (mut cluster, work, mount) = mounted_cluster_with(options, &[]).await.unwrap();
    let src = work.path().join("big.bin");
    let data = random_bytes(200 * MIB + 12_345, 4242);
    fs::write(&src, &data).unwrap();
    let dst = mount.path().join("big.bin");

    let mut cp = Command::new("cp").arg(&src).arg(&dst).spawn().unwrap();
    let victim = pipeline_datanode_while_writing(&cluster, "/big.bin", block as u64, &mut cp).await;
    eprintln!("killing datanode {victim} while cp runs");
    cluster.kill_datanode(victim);
    let status = tokio::task::spawn_blocking(move || cp.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "cp failed: {status}\n{}", mount.logs());

    let (s, d) = (src.display(), dst.display());
    ok(&format!("cmp {s} {d}"));
    let out = cluster.dfs(&superuser(), &["-cat", "/big.bin"]);
    assert!(out.status.success(), "{:?}", text(&out).1);
    assert!(out.stdout == data, "/big.bin differs through dfs -cat");

    // The namenode restores three replicas on the three other datanodes.
    let client = cluster.client(&superuser()).await.unwrap();
    let others: Vec<usize> = (0..4).filter(|&i| i != victim).collect();
    let took = wait_exact_replication(
        &client,
        &cluster,
        &["/big.bin".to_string()],
        3,
        (&others, Some(victim)),
    )
    .await
    .unwrap();
    eprintln!("three replicas again {took:?} after cp");
    mount.unmount().unwrap();
}
