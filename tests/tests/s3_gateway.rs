//! The S3 gateway end to end: a MiniCluster, a `cairn s3` process, and a
//! real S3 client (boto3, run by the scripts in tests/s3/) — plus
//! `cairn dfs` on the other side of the same namespace.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use cairn_tests::fuse::{fuse_available, sh_ok};
use cairn_tests::{
    ClusterOptions, MiniCluster, S3Gateway, S3Key, random_bytes, sha256, superuser, text,
};

const MIB: usize = 1024 * 1024;
/// Blocks of 8 MiB keep a "large object across two blocks" fast.
const BLOCK_SIZE: usize = 8 * MIB;

async fn cluster(datanodes: usize) -> MiniCluster {
    MiniCluster::start(ClusterOptions {
        datanodes,
        namenode_toml: format!("default-block-size = {BLOCK_SIZE}\n"),
        ..ClusterOptions::default()
    })
    .await
    .unwrap()
}

fn admin_key() -> S3Key {
    S3Key::new("AKIACAIRNADMIN", "admin-secret-0123456789", &superuser())
}

/// Runs a script and fails with its output and the gateway's log.
fn run(gateway: &S3Gateway, script: &str, args: &[&str]) -> String {
    let output = gateway.python(script, args);
    let (out, err) = text(&output);
    assert!(
        output.status.success(),
        "{script} failed\n--- stdout ---\n{out}\n--- stderr ---\n{err}\n--- gateway ---\n{}",
        gateway.logs()
    );
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_and_multipart_through_boto3() {
    let cluster = cluster(3).await;
    let gateway = cluster.start_s3(&[admin_key()]).unwrap();
    // 1.5 blocks: the object spans a block boundary.
    let big = (BLOCK_SIZE + BLOCK_SIZE / 2).to_string();
    run(&gateway, "objects.py", &[&big, &BLOCK_SIZE.to_string()]);
    run(&gateway, "multipart.py", &[]);
    run(&gateway, "part_number.py", &[]);

    // The objects are files of the namespace.
    let cat = cluster.dfs(&superuser(), &["-cat", "/data/docs/hello.txt"]);
    assert_eq!(text(&cat).0, "hello, cairn\n", "{:?}", text(&cat));
    let stat = cluster.dfs(&superuser(), &["-stat", "%b", "/parts/joined.bin"]);
    assert_eq!(text(&stat).0.trim(), (11 * MIB).to_string());
    // Completed and aborted uploads leave nothing in the staging area.
    let staged = cluster.dfs(&superuser(), &["-ls", "-R", "/.cairn-s3"]);
    let (listing, _) = text(&staged);
    assert!(
        !listing.contains("part-") && !listing.contains("put-"),
        "left behind:\n{listing}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_thousands_of_keys_in_s3_order() {
    let cluster = cluster(1).await;
    let gateway = cluster.start_s3(&[admin_key()]).unwrap();
    run(&gateway, "listing.py", &["3000"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_presigned_urls_and_permissions() {
    let cluster = cluster(1).await;
    let bob = S3Key::new("AKIABOB", "bob-secret-0123456789", "bob");
    let gateway = cluster.start_s3(&[admin_key(), bob]).unwrap();
    run(&gateway, "auth.py", &[]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_s3_errors() {
    let cluster = cluster(1).await;
    let gateway = cluster.start_s3(&[admin_key()]).unwrap();
    run(&gateway, "bad_input.py", &[]);
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_and_cairn_dfs_see_the_same_files() {
    let cluster = cluster(3).await;
    let gateway = cluster.start_s3(&[admin_key()]).unwrap();
    let user = superuser();

    // Put through S3, read through `cairn dfs -cat`.
    let size = (3 * MIB + 123).to_string();
    let sha = run(
        &gateway,
        "interop.py",
        &["put", "shared", "from-s3/data.bin", &size, "7"],
    );
    let cat = cluster.dfs(&user, &["-cat", "/shared/from-s3/data.bin"]);
    assert!(cat.status.success(), "{:?}", text(&cat));
    assert_eq!(sha256(&cat.stdout), sha.trim());

    // Put through `cairn dfs -put`, listed and read through S3 with its
    // size and an ETag that stays the same (computed once, then cached).
    let data = random_bytes(2 * MIB + 77, 42);
    let local = cluster.dir().join("local.bin");
    std::fs::write(&local, &data).unwrap();
    let put = cluster.dfs(
        &user,
        &["-put", local.to_str().unwrap(), "/shared/from-cli.bin"],
    );
    assert!(put.status.success(), "{:?}", text(&put));
    let want = [sha256(&data), data.len().to_string()];
    let args = ["check", "shared", "from-cli.bin", &want[0], &want[1]];
    let first = run(&gateway, "interop.py", &args);
    let second = run(&gateway, "interop.py", &args);
    assert_eq!(first, second, "the ETag changed between reads");
    let md5 = format!("\"{}\"", hex_md5(&data));
    assert_eq!(first.trim(), md5);

    // An append through the CLI changes the file: the S3 view follows.
    let more = cluster.dir().join("more.bin");
    std::fs::write(&more, b"appended").unwrap();
    let append = cluster.dfs(
        &user,
        &[
            "-appendToFile",
            more.to_str().unwrap(),
            "/shared/from-cli.bin",
        ],
    );
    assert!(append.status.success(), "{:?}", text(&append));
    let mut longer = data.clone();
    longer.extend_from_slice(b"appended");
    let want = [sha256(&longer), longer.len().to_string()];
    let third = run(
        &gateway,
        "interop.py",
        &["check", "shared", "from-cli.bin", &want[0], &want[1]],
    );
    assert_eq!(third.trim(), format!("\"{}\"", hex_md5(&longer)));
}

/// Parts of an upload in progress live in the gateway's staging folder
/// `/.cairn-s3`, which no listing shows: not `cairn dfs -ls /`, not a mount
/// of `/`, not S3 — while its own path still reaches it, as HDFS's
/// `/.reserved` does.
#[tokio::test(flavor = "multi_thread")]
async fn uploads_in_progress_are_invisible() {
    let cluster = cluster(1).await;
    let gateway = cluster.start_s3(&[admin_key()]).unwrap();
    let user = superuser();
    let upload = run(&gateway, "interop.py", &["begin", "staged", "big.bin"]);
    let upload = upload.trim();

    let root = cluster.dfs(&user, &["-ls", "/"]);
    let (root, _) = text(&root);
    assert!(root.contains("/staged"), "{root}");
    assert!(!root.contains(".cairn-s3"), "{root}");
    let recursive = cluster.dfs(&user, &["-ls", "-R", "/"]);
    let (recursive, _) = text(&recursive);
    assert!(!recursive.contains(".cairn-s3"), "{recursive}");
    run(
        &gateway,
        "interop.py",
        &["unlisted", "staged", "big.bin", upload],
    );
    // The gateway (and an administrator who names it) still finds the part.
    let staged = cluster.dfs(&user, &["-ls", "-R", "/.cairn-s3/uploads"]);
    let (staged, _) = text(&staged);
    assert!(
        staged.contains(upload) && staged.contains("part-"),
        "{staged}"
    );

    if fuse_available("uploads_in_progress_are_invisible (mount)") {
        let work = tempfile::tempdir().unwrap();
        let mnt = work.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let mount = cluster.mount(&mnt).unwrap();
        let listed = sh_ok(&format!("ls -A {}", mount.path().display()));
        assert_eq!(listed.trim(), "staged", "a mount of / lists {listed:?}");
        mount.unmount().unwrap();
    }
}

fn hex_md5(data: &[u8]) -> String {
    let output = std::process::Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(data)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// `cairn bench s3-large` and `s3-small` run end to end at their quick
/// size and report the gateway beside the direct client. Only that they
/// work is checked: the figures are for people (BENCHMARKS.md).
#[test]
fn s3_benchmarks_report_gateway_and_direct_figures() {
    for (bench, unit) in [("s3-large", "MB/s"), ("s3-small", "ops/s")] {
        let dir = tempfile::tempdir().unwrap();
        let (report, out) = cairn_tests::quick_bench(dir.path(), &[bench]);
        let rows = report["rows"].as_array().unwrap();
        for op in ["PUT", "GET"] {
            let row = rows
                .iter()
                .find(|r| r["bench"] == bench && r["measure"].as_str().unwrap().starts_with(op))
                .unwrap_or_else(|| panic!("no {bench} {op} row in {out}"));
            assert_eq!(row["unit"], unit, "{row}");
            assert!(row["value"].as_f64().unwrap() > 0.0, "{row}");
            assert!(row["baseline_value"].as_f64().unwrap() > 0.0, "{row}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn virtual_hosted_style_addressing() {
    let cluster = cluster(1).await;
    let gateway = cluster.start_s3(&[admin_key()]).unwrap();
    run(&gateway, "vhost.py", &[]);
}
