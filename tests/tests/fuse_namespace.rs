//! Everyday file system operations on a real FUSE mount, each checked
//! through the mount and through `cairn dfs`: rename, rm -r, mkdir -p,
//! chmod, chown, ln -s, touch -d, truncate, append, an editor's save, a
//! write into the middle (refused), another user's EACCES (and the write a
//! supplementary group allows), and git.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use cairn_tests::fuse::{mounted_cluster, mounted_cluster_with, sh, sh_ok as ok};
use cairn_tests::{ClusterOptions, MiniCluster, fuse_available, superuser, text};

/// `cairn dfs ARGS` as the superuser; its stdout.
fn dfs(cluster: &MiniCluster, args: &[&str]) -> String {
    let out = cluster.dfs(&superuser(), args);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "dfs {args:?}\n{stdout}\n{stderr}");
    stdout
}

/// The inode number of the ".." entry as `readdir` gives it (`ls -i`
/// would stat "..", which the kernel resolves itself).
fn dotdot_inode(dir: &str) -> u64 {
    use nix::fcntl::OFlag;
    use nix::sys::stat::Mode;
    let mut dir =
        nix::dir::Dir::open(dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
    dir.iter()
        .map(Result::unwrap)
        .find(|entry| entry.file_name().to_bytes() == b"..")
        .unwrap()
        .ino()
}

fn dfs_fails(cluster: &MiniCluster, args: &[&str]) -> bool {
    !cluster.dfs(&superuser(), args).status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_operations_show_through_mount_and_cli() {
    if !fuse_available("namespace_operations_show_through_mount_and_cli") {
        return;
    }
    let (cluster, work, mount) = mounted_cluster(1, &[]).await.unwrap();
    let m = mount.path().display().to_string();

    // mkdir -p, and the inode number is the namenode's inode id.
    ok(&format!("mkdir -p {m}/a/b/c"));
    assert!(Path::new(&format!("{m}/a/b/c")).is_dir());
    dfs(&cluster, &["-test", "-d", "/a/b/c"]);
    // readdir's ".." is the parent's inode.
    let dotdot = |dir: &str| dotdot_inode(&format!("{m}/{dir}"));
    let ino = |path: &str| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("{m}/{path}")).unwrap().ino()
    };
    assert_eq!(dotdot("a/b"), ino("a"));
    assert_eq!(dotdot("a"), ino(""));

    // rename of a file, of a directory, and over an existing file.
    ok(&format!("echo one > {m}/a/f1 && mv {m}/a/f1 {m}/a/b/f2"));
    assert_eq!(dfs(&cluster, &["-cat", "/a/b/f2"]), "one\n");
    assert!(dfs_fails(&cluster, &["-test", "-e", "/a/f1"]));
    ok(&format!("mv {m}/a/b {m}/a/moved"));
    assert_eq!(ok(&format!("cat {m}/a/moved/f2")), "one\n");
    dfs(&cluster, &["-test", "-d", "/a/moved/c"]);
    ok(&format!("mv {m}/a/moved/c {m}/c"));
    assert_eq!(dotdot("c"), ino(""));
    ok(&format!("mv {m}/c {m}/a/moved/c"));
    assert_eq!(dotdot("a/moved/c"), ino("a/moved"));
    ok(&format!(
        "echo two > {m}/a/g && mv -f {m}/a/g {m}/a/moved/f2"
    ));
    assert_eq!(ok(&format!("cat {m}/a/moved/f2")), "two\n");
    assert_eq!(dfs(&cluster, &["-cat", "/a/moved/f2"]), "two\n");

    // chmod and chown (the test runs as root: the namenode's superuser).
    ok(&format!("chmod 640 {m}/a/moved/f2"));
    assert_eq!(ok(&format!("stat -c %a {m}/a/moved/f2")).trim(), "640");
    assert_eq!(dfs(&cluster, &["-stat", "%a", "/a/moved/f2"]).trim(), "640");
    ok(&format!("chown nobody:nogroup {m}/a/moved/f2"));
    assert_eq!(
        ok(&format!("stat -c %U:%G {m}/a/moved/f2")).trim(),
        "nobody:nogroup"
    );
    assert_eq!(
        dfs(&cluster, &["-stat", "%u:%g", "/a/moved/f2"]).trim(),
        "nobody:nogroup"
    );

    // ln -s and readlink.
    ok(&format!("ln -s moved/f2 {m}/a/link"));
    assert_eq!(ok(&format!("readlink {m}/a/link")).trim(), "moved/f2");
    assert_eq!(ok(&format!("cat {m}/a/link")), "two\n");
    // The namenode holds a symlink (dfs -stat would follow it).
    let client = cluster.client(&superuser()).await.unwrap();
    let link = client.get_file_link_info("/a/link").await.unwrap().unwrap();
    assert_eq!(link.symlink_target, "moved/f2");

    // touch -d sets the modification time.
    ok(&format!(
        "touch -d '2001-02-03 04:05:06 UTC' {m}/a/moved/f2"
    ));
    assert_eq!(
        ok(&format!("stat -c %Y {m}/a/moved/f2")).trim(),
        "981173106"
    );
    assert_eq!(
        dfs(&cluster, &["-stat", "%y", "/a/moved/f2"]).trim(),
        "2001-02-03 04:05:06"
    );

    // echo >> appends; truncate -s 0 empties; O_TRUNC rewrites.
    ok(&format!(
        "echo a > {m}/log && echo b >> {m}/log && echo c >> {m}/log"
    ));
    assert_eq!(ok(&format!("cat {m}/log")), "a\nb\nc\n");
    assert_eq!(dfs(&cluster, &["-cat", "/log"]), "a\nb\nc\n");
    ok(&format!("truncate -s 0 {m}/log"));
    assert_eq!(ok(&format!("stat -c %s {m}/log")).trim(), "0");
    assert_eq!(dfs(&cluster, &["-stat", "%b", "/log"]).trim(), "0");
    ok(&format!(
        "echo fresh >> {m}/log && echo rewritten > {m}/log"
    ));
    assert_eq!(dfs(&cluster, &["-cat", "/log"]), "rewritten\n");
    // A shrinking truncate inside a block, then a write at the new end.
    ok(&format!(
        "printf 0123456789 > {m}/t && truncate -s 4 {m}/t && printf xy >> {m}/t"
    ));
    assert_eq!(ok(&format!("cat {m}/t")), "0123xy");
    assert_eq!(dfs(&cluster, &["-cat", "/t"]), "0123xy");

    // An editor's save: write a temporary file, rename it over the original.
    ok(&format!(
        "echo draft > {m}/doc.txt && echo final > {m}/.doc.txt.swp && mv {m}/.doc.txt.swp {m}/doc.txt"
    ));
    assert_eq!(ok(&format!("cat {m}/doc.txt")), "final\n");
    assert_eq!(dfs(&cluster, &["-cat", "/doc.txt"]), "final\n");

    // A write into the middle of written data is refused and changes nothing.
    let out = sh(&format!(
        "printf XX | dd of={m}/doc.txt bs=1 seek=1 conv=notrunc status=none"
    ));
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("Operation not supported"),
        "{:?}",
        text(&out)
    );
    assert_eq!(dfs(&cluster, &["-cat", "/doc.txt"]), "final\n");

    // Close-to-open with the kernel's page cache: a file read again,
    // unchanged, keeps its cached pages; a change by another client shows
    // at the next open, also one that leaves the length as it was.
    let numbers = ok("seq 1 2000");
    ok(&format!("seq 1 2000 > {m}/cached"));
    let reads = |want: &str| {
        for _ in 0..2 {
            let got = ok(&format!("cat {m}/cached"));
            assert!(
                got == want,
                "read {} bytes ending {:?}, expected {} ending {:?}",
                got.len(),
                &got[got.len().saturating_sub(12)..],
                want.len(),
                &want[want.len().saturating_sub(12)..]
            );
        }
    };
    reads(&numbers);
    let more = work.path().join("more.txt");
    std::fs::write(&more, "more\n").unwrap();
    dfs(
        &cluster,
        &["-appendToFile", more.to_str().unwrap(), "/cached"],
    );
    reads(&format!("{numbers}more\n"));
    let cut = (numbers.len()).to_string();
    dfs(&cluster, &["-truncate", "-w", &cut, "/cached"]);
    std::fs::write(&more, "MORE\n").unwrap();
    dfs(
        &cluster,
        &["-appendToFile", more.to_str().unwrap(), "/cached"],
    );
    reads(&format!("{numbers}MORE\n"));

    // rm -r, and rmdir/unlink errors.
    let out = sh(&format!("rmdir {m}/a"));
    assert!(
        text(&out).1.contains("Directory not empty"),
        "{:?}",
        text(&out)
    );
    ok(&format!("rm -r {m}/a"));
    assert!(!Path::new(&format!("{m}/a")).exists());
    assert!(dfs_fails(&cluster, &["-test", "-e", "/a"]));

    // xattrs through the mount, seen by the namenode.
    ok(&format!("setfattr -n user.colour -v blue {m}/doc.txt"));
    assert!(ok(&format!("getfattr -d {m}/doc.txt")).contains("user.colour=\"blue\""));

    // df shows the cluster's capacity.
    let df = ok(&format!("df -P {m} | tail -1"));
    let blocks: u64 = df.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(blocks > 0, "{df}");

    // Hard links are not in the namespace.
    let out = sh(&format!("ln {m}/doc.txt {m}/hard"));
    assert!(
        text(&out).1.contains("Operation not permitted"),
        "{:?}",
        text(&out)
    );
    mount.unmount().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_local_user_without_write_permission_gets_eacces() {
    if !fuse_available("another_local_user_without_write_permission_gets_eacces") {
        return;
    }
    let (cluster, _work, mount) = mounted_cluster(1, &["-o", "allow_other"]).await.unwrap();
    let m = mount.path().display().to_string();
    ok(&format!(
        "mkdir {m}/private && echo secret > {m}/private/f && chmod 755 {m}/private"
    ));
    // The temp dir above the mount point must be passable for nobody.
    ok(&format!(
        "chmod o+x {}",
        mount.path().parent().unwrap().display()
    ));
    // Reading is allowed (mode 755 / 644) ...
    let read = as_nobody("-", &format!("cat {m}/private/f"));
    assert!(read.status.success(), "{:?}", text(&read));
    assert_eq!(text(&read).0, "secret\n");
    // ... writing is not.
    for cmd in [
        format!("touch {m}/private/new"),
        format!("echo x >> {m}/private/f"),
        format!("mkdir {m}/private/d"),
        format!("rm {m}/private/f"),
    ] {
        let out = as_nobody("-", &cmd);
        assert!(!out.status.success(), "{cmd} succeeded");
        assert!(
            text(&out).1.contains("Permission denied"),
            "{cmd}: {:?}",
            text(&out)
        );
    }
    assert_eq!(dfs(&cluster, &["-cat", "/private/f"]), "secret\n");
    assert!(dfs_fails(&cluster, &["-test", "-e", "/private/new"]));
    mount.unmount().unwrap();
}

/// Runs `cmd` with bash as local user nobody, primary group nogroup, and
/// the supplementary groups `groups` (setpriv's list: "100", or "-" for
/// none).
fn as_nobody(groups: &str, cmd: &str) -> std::process::Output {
    let groups = if groups == "-" {
        "--clear-groups".to_string()
    } else {
        format!("--groups={groups}")
    };
    Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            &groups,
            "bash",
            "-c",
            cmd,
        ])
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supplementary_group_gives_its_write_permission() {
    if !fuse_available("a_supplementary_group_gives_its_write_permission") {
        return;
    }
    // The namenode puts Cairn user nobody in group "users" (gid 100 here),
    // as the local supplementary group below does.
    let options = ClusterOptions {
        datanodes: 1,
        namenode_toml: "groups = { nobody = [\"users\"] }\n".to_string(),
        ..Default::default()
    };
    let (cluster, _work, mount) = mounted_cluster_with(options, &["-o", "allow_other"])
        .await
        .unwrap();
    let m = mount.path().display().to_string();
    ok(&format!(
        "mkdir {m}/shared && echo a > {m}/shared/f && chgrp users {m}/shared/f && chmod 664 {m}/shared/f"
    ));
    ok(&format!(
        "chmod o+x {}",
        mount.path().parent().unwrap().display()
    ));
    // Without the group: other's bits, read only.
    let out = as_nobody("-", &format!("echo c >> {m}/shared/f"));
    assert!(
        text(&out).1.contains("Permission denied"),
        "{:?}",
        text(&out)
    );
    assert!(
        !as_nobody("-", &format!("test -w {m}/shared/f"))
            .status
            .success()
    );
    // With "users" as a supplementary group (not the primary one): group bits.
    let out = as_nobody(
        "100",
        &format!("test -w {m}/shared/f && echo b >> {m}/shared/f"),
    );
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(dfs(&cluster, &["-cat", "/shared/f"]), "a\nb\n");
    mount.unmount().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_init_add_commit_inside_the_mount() {
    if !fuse_available("git_init_add_commit_inside_the_mount") {
        return;
    }
    let (cluster, _work, mount) = mounted_cluster(1, &[]).await.unwrap();
    let m = mount.path().display().to_string();
    ok(&format!(
        "mkdir -p {m}/repo/src && cd {m}/repo && \
         for i in 1 2 3; do echo \"line $i\" > src/file$i.txt; done && \
         git init -q && git add . && \
         git -c user.name=t -c user.email=t@example.com commit -q -m first && \
         echo more >> src/file1.txt && git add . && \
         git -c user.name=t -c user.email=t@example.com commit -q -m second"
    ));
    let log = ok(&format!("cd {m}/repo && git log --format=%s"));
    assert_eq!(log, "second\nfirst\n");
    ok(&format!("cd {m}/repo && git fsck --no-progress --strict"));
    assert_eq!(ok(&format!("cd {m}/repo && git status --porcelain")), "");
    assert_eq!(
        dfs(&cluster, &["-cat", "/repo/src/file1.txt"]),
        "line 1\nmore\n"
    );
    mount.unmount().unwrap();
}
