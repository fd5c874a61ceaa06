//! fsck's text for fixed trees: healthy, under-replicated and missing
//! blocks, and its command line.

use super::namenode_fsck::{Checker, ClusterFacts, FsckOptions};
use super::*;
use crate::shell::fake_fs::FakeFs;

fn facts() -> ClusterFacts {
    ClusterFacts {
        datanodes: 3,
        racks: 1,
        default_replication: 3,
        block_pool: "CID-test".into(),
    }
}

async fn check(fs: &FakeFs, path: &str, options: FsckOptions) -> (String, bool) {
    let status = fs.get_file_info(path).await.unwrap().unwrap();
    let mut checker = Checker::new(fs, options, facts());
    checker.check(path, &status).await.unwrap();
    (report_text(&checker, path), checker.result.is_healthy())
}

fn file_tree() -> FakeFs {
    let fs = FakeFs::new("alice");
    fs.put("/data/big.bin", &vec![1u8; 300]);
    fs.edit("/data/big.bin", |s| s.block_size = 128);
    fs.mkdir_p("/data/empty");
    fs
}

#[tokio::test]
async fn golden_healthy_report_with_blocks_and_locations() {
    let fs = file_tree();
    let options = FsckOptions {
        show_files: true,
        show_blocks: true,
        show_locations: true,
        ..Default::default()
    };
    let (text, healthy) = check(&fs, "/data", options).await;
    assert!(healthy);
    let locations = "[DatanodeInfoWithStorage[127.0.0.1:9866,DS-dn-0,DISK], \
DatanodeInfoWithStorage[127.0.0.1:9867,DS-dn-1,DISK], \
DatanodeInfoWithStorage[127.0.0.1:9868,DS-dn-2,DISK]]";
    let expected = format!(
        "/data <dir>
/data/big.bin 300 bytes, replicated: replication=3, 3 block(s):  OK
0. blk_1073741825_1001 len=128 Live_repl=3 {locations}
1. blk_1073741826_1002 len=128 Live_repl=3 {locations}
2. blk_1073741827_1003 len=44 Live_repl=3 {locations}

/data/empty <dir>

Status: HEALTHY
 Number of data-nodes:\t3
 Number of racks:\t\t1
 Total dirs:\t\t\t2
 Total symlinks:\t\t0

Replicated Blocks:
 Total size:\t300 B
 Total files:\t1
 Total blocks (validated):\t3 (avg. block size 100 B)
 Minimally replicated blocks:\t3 (100.0 %)
 Over-replicated blocks:\t0 (0.0 %)
 Under-replicated blocks:\t0 (0.0 %)
 Mis-replicated blocks:\t\t0 (0.0 %)
 Default replication factor:\t3
 Average block replication:\t3.0
 Missing blocks:\t\t0
 Corrupt blocks:\t\t0
 Missing replicas:\t\t0 (0.0 %)


The filesystem under path '/data' is HEALTHY
"
    );
    assert_eq!(text, expected);
}

#[tokio::test]
async fn golden_racks_view() {
    let fs = file_tree();
    let options = FsckOptions {
        show_files: true,
        show_blocks: true,
        show_racks: true,
        ..Default::default()
    };
    let (text, _) = check(&fs, "/data/big.bin", options).await;
    assert!(text.contains(
        "0. blk_1073741825_1001 len=128 Live_repl=3 [/default-rack/127.0.0.1:9866, /default-rack/127.0.0.1:9867, /default-rack/127.0.0.1:9868]\n"
    ), "{text}");
}

#[tokio::test]
async fn golden_under_replicated_summary() {
    let fs = file_tree();
    fs.set_live_replicas(2);
    let (text, healthy) = check(&fs, "/data/big.bin", FsckOptions::default()).await;
    assert!(healthy, "under-replication is not corruption");
    assert!(text.starts_with(
        "\n/data/big.bin:  Under replicated blk_1073741825_1001. Target Replicas is 3 but found 2 live replica(s), 0 decommissioned replica(s), 0 decommissioning replica(s).\n"
    ), "{text}");
    assert!(
        text.contains(" Under-replicated blocks:\t3 (100.0 %)\n"),
        "{text}"
    );
    assert!(
        text.contains(" Average block replication:\t2.0\n"),
        "{text}"
    );
    assert!(
        text.contains(" Missing replicas:\t\t3 (33.333332 %)\n"),
        "{text}"
    );
    assert!(text.ends_with("is HEALTHY\n"));
}

#[tokio::test]
async fn golden_missing_blocks_make_the_path_corrupt() {
    let fs = file_tree();
    fs.set_live_replicas(0);
    let (text, healthy) = check(&fs, "/data", FsckOptions::default()).await;
    assert!(!healthy);
    assert!(
        text.contains("\n/data/big.bin: MISSING 3 blocks of total size 300 B."),
        "{text}"
    );
    assert!(text.contains("\nStatus: CORRUPT\n"));
    assert!(text.contains(
        "  ********************************\n  UNDER MIN REPL'D BLOCKS:\t3 (100.0 %)\n  MINIMAL BLOCK REPLICATION:\t1\n  CORRUPT FILES:\t1\n  MISSING BLOCKS:\t3\n  MISSING SIZE:\t\t300 B\n  ********************************\n"
    ), "{text}");
    assert!(text.contains(" Missing blocks:\t\t3\n"));
    assert!(text.ends_with("\n\nThe filesystem under path '/data' is CORRUPT\n"));

    let options = FsckOptions {
        show_files: true,
        show_blocks: true,
        ..Default::default()
    };
    let (text, _) = check(&fs, "/data/big.bin", options).await;
    assert!(text.starts_with(
        "/data/big.bin 300 bytes, replicated: replication=3, 3 block(s):  MISSING 3 blocks of total size 300 B\n0. blk_"
    ), "{text}");
    assert!(text.contains(" len=44 MISSING!\n"), "{text}");
}

#[tokio::test]
async fn golden_empty_tree_summary() {
    let fs = FakeFs::new("alice");
    let (text, healthy) = check(&fs, "/user", FsckOptions::default()).await;
    assert!(healthy);
    assert_eq!(
        text,
        "
Status: HEALTHY
 Number of data-nodes:\t3
 Number of racks:\t\t1
 Total dirs:\t\t\t2
 Total symlinks:\t\t0

Replicated Blocks:
 Total size:\t0 B
 Total files:\t0
 Total blocks (validated):\t0
 Minimally replicated blocks:\t0
 Over-replicated blocks:\t0
 Under-replicated blocks:\t0
 Mis-replicated blocks:\t\t0
 Default replication factor:\t3
 Average block replication:\t0.0
 Missing blocks:\t\t0
 Corrupt blocks:\t\t0
 Missing replicas:\t\t0


The filesystem under path '/user' is HEALTHY
"
    );
}

#[test]
fn command_line_like_dfsck() {
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let request = parse_args(&args(&["/big.bin", "-files", "-blocks", "-locations"])).unwrap();
    assert_eq!(request.dir, "/big.bin");
    assert!(
        request.options.show_files && request.options.show_blocks && request.options.show_locations
    );
    assert_eq!(parse_args(&args(&["-files"])).unwrap().dir, "/");
    assert_eq!(
        parse_args(&args(&["/a", "/b"])).unwrap_err(),
        "fsck: can only operate on one path at a time '/b'"
    );
    assert_eq!(
        parse_args(&args(&["/a", "-x"])).unwrap_err(),
        "fsck: Illegal option '-x'"
    );
    assert!(
        parse_args(&args(&["-list-corruptfileblocks"]))
            .unwrap()
            .list_corrupt
    );
    assert_eq!(resolve("x/../y", "alice"), "/user/alice/y");
    assert_eq!(resolve("cairn://nn:1/a/", "alice"), "/a");
    assert_eq!(resolve("/", "alice"), "/");
    assert_eq!(encode_path("/a b/c"), "%2Fa+b%2Fc");
}
